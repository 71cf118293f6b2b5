/*
 * test_encryption.c - encryption at rest (reference 6.3, docs/operations.md).
 *
 * The tests run in order on one server and one database, changing its keys
 * between them: values on disk are sealed (read from the tables directly:
 * what is asserted is what an attacker with the database would see),
 * values upstream's sqldb sealed read back, an undecryptable row is kept
 * and reported, re-keying moves every row to the active key so the old
 * key can be dropped, and start-up refuses a missing or wrong key naming
 * the label.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <libpq-fe.h>

#include "bbs/crypt.h"
#include "events.pb-c.h"
#include "harness.h"
#include "task_it.h"

/* Known vectors made with python3-cryptography (see tests/unit/test_crypt.c)
 * under label "upstream-key", passphrase "correct horse battery staple":
 * a serialized ActualLRPNetInfo {address "1.2.3.4"} and upstream's JSON of
 * internal routes [{"hostname": "a.apps.internal"}] and metric tags
 * {"source_id": "sid", "zone": "z1"}, exactly as upstream's sqldb stores them. */
static const char UP_NET_INFO[] =
    "02DHVwc3RyZWFtLWtleQABAgMEBQYHCAkKCxXN1lRdg9DE+LqMsWIQbyGYp2oGLuWqmOtifg==";
static const char UP_ROUTES[] = "02DHVwc3RyZWFtLWtleQwNDg8QERITFBUWF/DzKjY/AHopNkqCyfAWbkGAkQlQSw+"
                                "xNyHUsoRJAD2WNiZ00GPlfBMsOT/WCyNikg==";
static const char UP_TAGS[] = "02DHVwc3RyZWFtLWtleRgZGhscHR4fICEiI24q4ZmrCJfUH328xb7UjvGpx7t7L3jgkP"
                              "xfPxc5+bPbD89vY6GXE3KP5Y5716AT";

static char guid_a[64];     /* desired + running through the API */
static char guid_up[64];    /* a row written by upstream's sqldb */
static char guid_bad[64];   /* a row sealed with a key nobody has */
static char guid_plain[64]; /* a row written before encryption */

static json_t *keys_config(const char *active, ...)
{
    json_t *extra = json_object();
    json_t *keys = json_object();
    va_list ap;
    const char *label;

    va_start(ap, active);
    while ((label = va_arg(ap, const char *)) != NULL) {
        json_object_set_new(keys, label, json_string(va_arg(ap, const char *)));
    }
    va_end(ap);
    json_object_set_new(extra, "encryption_keys", keys);
    json_object_set_new(extra, "active_key_label", json_string(active));
    return extra;
}

/* One column of one row as raw bytes (malloc'd, NUL-terminated), NULL when NULL. */
static char *db_value(const char *sql, const char *guid, size_t *len)
{
    PGconn *conn = PQconnectdb(it_db_conninfo());
    const char *params[1] = {guid};
    PGresult *res;
    char *out = NULL;

    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 1);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(res), 1);
    if (!PQgetisnull(res, 0, 0)) {
        *len = (size_t)PQgetlength(res, 0, 0);
        out = malloc(*len + 1);
        assert_non_null(out);
        memcpy(out, PQgetvalue(res, 0, 0), *len);
        out[*len] = '\0';
    }
    PQclear(res);
    PQfinish(conn);
    return out;
}

static int db_count(const char *sql)
{
    PGconn *conn = PQconnectdb(it_db_conninfo());
    PGresult *res;
    int n;

    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    res = PQexec(conn, sql);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    n = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(conn);
    return n;
}

/* `pt` sealed under `c` as the text of a bytea parameter: the compact form
 * as hex ("\\x..."), or upstream's form ("02" + base64, its own text). */
static void seal_text(const struct bbs_crypt *c, const void *pt, size_t n, int upstream,
                      struct bbs_buf *out)
{
    struct bbs_buf compact = {0};
    struct bbs_error err = {0};
    static const char hex[] = "0123456789abcdef";

    assert_int_equal(bbs_crypt_seal(c, pt, n, &compact, &err), 0);
    assert_int_equal(compact.data[0], BBS_CRYPT_COMPACT);
    out->len = 0;
    if (upstream) {
        bbs_buf_append(out, "02", 2);
        bbs_crypt_b64_encode(out, compact.data + 1, compact.len - 1);
    } else {
        bbs_buf_append(out, "\\x", 2);
        for (size_t i = 0; i < compact.len; i++) {
            bbs_buf_putc(out, hex[compact.data[i] >> 4]);
            bbs_buf_putc(out, hex[compact.data[i] & 15]);
        }
    }
    bbs_buf_putc(out, '\0');
    bbs_buf_free(&compact);
}

/* Assert the stored value is sealed under `label` and its plaintext lacks `secret`. */
static void assert_sealed(const char *sql, const char *guid, const char *label, const char *secret)
{
    size_t len = 0;
    char *v = db_value(sql, guid, &len);
    struct bbs_buf scratch = {0};
    struct bbs_crypt_envelope env;
    struct bbs_error err = {0};

    assert_non_null(v);
    assert_true(bbs_crypt_is_sealed((const uint8_t *)v, len));
    assert_int_equal(bbs_crypt_parse((const uint8_t *)v, len, &scratch, &env, &err), 0);
    assert_int_equal(env.label_len, strlen(label));
    assert_memory_equal(env.label, label, env.label_len);
    if (secret != NULL) {
        assert_null(memmem(v, len, secret, strlen(secret)));
        assert_null(memmem(scratch.data, scratch.len, secret, strlen(secret)));
    }
    bbs_buf_free(&scratch);
    free(v);
}

static void insert_actual(const char *guid, const char *net_info, const char *routes,
                          const char *tags)
{
    const char *p[4] = {guid, net_info, routes, tags};

    assert_int_equal(it_db_exec("INSERT INTO actual_lrps (process_guid, instance_index, presence,"
                                " domain, state, instance_guid, cell_id, since, net_info,"
                                " modification_tag_epoch, internal_routes, metric_tags, routable)"
                                " VALUES ($1, 0, 0, 'it-domain', 'RUNNING', 'ig-up', 'cell-up', 1,"
                                " $2::bytea, 'epoch-up', $3::bytea, $4::bytea, true)",
                                4, p),
                     1);
}

/* How many times the server logged `what` so far. */
static int log_count(const char *what)
{
    char *log = it_server_log();
    int n = 0;

    for (const char *at = log; at != NULL && (at = strstr(at, what)) != NULL; at++) {
        n++;
    }
    free(log);
    return n;
}

/* Wait for one more re-keying pass to finish than `before`. */
static void wait_rekeyed(int before)
{
    int64_t deadline = it_mono_ms() + (it_valgrind() ? 120000 : 30000);

    while (log_count("crypt.rekey-finished") <= before) {
        assert_true(it_mono_ms() < deadline);
        it_sleep_ms(50);
    }
}

static void test_values_on_disk_are_ciphertext(void **state)
{
    struct it_alrp a;
    Models__DesiredLRPResponse *d;

    (void)state;
    it_uniq(guid_a, sizeof(guid_a), "enc-a");
    it_desire(guid_a, NULL, 1);
    assert_int_equal(it_claim(guid_a, 0, "ig-a", "cell-a"), IT_OK);
    assert_int_equal(it_start(guid_a, 0, NULL, "ig-a", "cell-a", "10.77.0.7"), IT_OK);
    it_assert_state(guid_a, 0, "RUNNING", &a);
    assert_string_equal(a.address, "10.77.0.7");
    d = it_get_desired(guid_a);
    assert_null(d->error);
    assert_non_null(d->desired_lrp);
    assert_string_equal(d->desired_lrp->action->run_action->path, "/bin/app");
    it_free(d);

    assert_sealed("SELECT net_info FROM actual_lrps WHERE process_guid = $1", guid_a, "k1",
                  "10.77.0.7");
    assert_sealed("SELECT run_info FROM desired_lrps WHERE process_guid = $1", guid_a, "k1",
                  "/bin/app");
    assert_sealed("SELECT metric_tags FROM desired_lrps WHERE process_guid = $1", guid_a, "k1",
                  "source_id");
    /* An empty value (no volume mounts here) hides nothing and stays empty. */
    assert_int_equal(db_count("SELECT count(*) FROM desired_lrps WHERE length(volume_placement) > 0"
                              " AND NOT " SEALED_SQL("volume_placement")),
                     0);
    /* Not a column upstream seals: stays plain. */
    assert_int_equal(
        db_count("SELECT count(*) FROM desired_lrps WHERE " SEALED_SQL("placement_tags")), 0);
}

static void test_upstream_sealed_values_read(void **state)
{
    Models__ActualLRPsResponse *r;
    const Models__ActualLRP *lrp;

    (void)state;
    it_uniq(guid_up, sizeof(guid_up), "enc-up");
    insert_actual(guid_up, UP_NET_INFO, UP_ROUTES, UP_TAGS);
    r = it_list_actuals(guid_up);
    lrp = it_find_actual(r, 0, 0);
    assert_non_null(lrp);
    assert_string_equal(lrp->state, "RUNNING");
    assert_string_equal(lrp->actual_lrp_net_info->address, "1.2.3.4");
    assert_int_equal(lrp->n_actual_lrp_internal_routes, 1);
    assert_string_equal(lrp->actual_lrp_internal_routes[0]->hostname, "a.apps.internal");
    assert_int_equal(lrp->n_metric_tags, 2);
    assert_string_equal(
        it_map_str((void *const *)lrp->metric_tags, lrp->n_metric_tags, "source_id"), "sid");
    assert_string_equal(it_map_str((void *const *)lrp->metric_tags, lrp->n_metric_tags, "zone"),
                        "z1");
    it_free(r);
}

static void test_undecryptable_row_kept_and_reported(void **state)
{
    static const struct bbs_crypt_key_cfg gone[] = {{"gone", "a key nobody configured"}};
    struct bbs_error err = {0};
    struct bbs_crypt *c = bbs_crypt_new(gone, 1, "gone", &err);
    struct bbs_buf sealed = {0};
    static const uint8_t pt[] = {0x02, 0x00, 0x0a, 0x03, 'x', '.', 'y'};
    Models__ActualLRPsResponse *r;

    (void)state;
    assert_non_null(c);
    seal_text(c, pt, sizeof(pt), 0, &sealed);
    it_uniq(guid_bad, sizeof(guid_bad), "enc-bad");
    insert_actual(guid_bad, (const char *)sealed.data, NULL, NULL);

    /* Skipped by reads (which still answer), logged, never deleted. */
    r = it_list_actuals(guid_bad);
    assert_null(r->error);
    assert_int_equal(r->n_actual_lrps, 0);
    it_free(r);
    r = it_list_actuals(guid_up);
    assert_int_equal(r->n_actual_lrps, 1);
    it_free(r);
    assert_true(log_count("crypt.undecryptable-value") >= 1);
    assert_true(log_count(guid_bad) >= 1);
    /* A change to it is refused rather than made over what cannot be read. */
    assert_int_not_equal(it_crash(guid_bad, 0, NULL, "ig-up", "cell-up", "boom"), IT_OK);
    assert_int_not_equal(it_remove_actual(guid_bad, 0, "ig-up", "cell-up"), IT_OK);
    {
        char sql[256];

        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM actual_lrps WHERE process_guid = '%s' AND"
                 " state = 'RUNNING'",
                 guid_bad);
        assert_int_equal(db_count(sql), 1);
    }
    bbs_buf_free(&sealed);
    bbs_crypt_free(c);
}

/* Task definitions are sealed too; an undecryptable task is skipped by reads, refused for
 * changes and kept (reference 6.3, 11.8). */
static void test_tasks_sealed_and_undecryptable_kept(void **state)
{
    static const struct bbs_crypt_key_cfg gone[] = {{"gone", "a key nobody configured"}};
    struct bbs_error err = {0};
    struct bbs_crypt *c = bbs_crypt_new(gone, 1, "gone", &err);
    struct bbs_buf sealed = {0};
    static const uint8_t pt[] = {0x02, 0x00, 0x0a, 0x03, 'x', ':', 'y'};
    char ok[64];
    char bad[64];
    char sql[256];
    const char *p[2];
    Models__TaskResponse *tr = NULL;
    Models__Task *t;
    Models__TasksRequest lreq = MODELS__TASKS_REQUEST__INIT;
    Models__TasksResponse *lr;

    (void)state;
    it_uniq(ok, sizeof(ok), "enc-task");
    it_uniq(bad, sizeof(bad), "enc-task-bad");
    assert_int_equal(task_desire(ok, "enc-tasks", NULL, NULL, NULL, 0), IT_OK);
    assert_sealed("SELECT task_definition FROM tasks WHERE guid = $1", ok, "k1",
                  "preloaded:cflinuxfs4");
    t = task_get(ok, &tr);
    assert_non_null(t);
    assert_string_equal(t->task_definition->root_fs, "preloaded:cflinuxfs4");
    assert_string_equal(t->task_definition->action->run_action->path, "/bin/true");
    it_free(tr);

    assert_non_null(c);
    seal_text(c, pt, sizeof(pt), 1, &sealed);
    p[0] = bad;
    p[1] = (const char *)sealed.data;
    assert_int_equal(it_db_exec("INSERT INTO tasks (guid, domain, state, created_at, updated_at,"
                                " task_definition) VALUES ($1, 'enc-tasks', 1, 1, 1, $2::bytea)",
                                2, p),
                     1);
    lreq.domain = (char *)"enc-tasks";
    lr = it_call("/v1/tasks/list.r3", &lreq.base, &models__tasks_response__descriptor);
    assert_null(lr->error);
    assert_int_equal(lr->n_tasks, 1);
    assert_string_equal(lr->tasks[0]->task_guid, ok);
    it_free(lr);
    assert_int_equal(task_get(bad, &tr) == NULL, 1);
    assert_int_equal(it_err_type(tr), MODELS__ERROR__TYPE__Deserialize);
    it_free(tr);
    assert_int_equal(task_guid_call("/v1/tasks/cancel", bad), MODELS__ERROR__TYPE__Deserialize);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM tasks WHERE guid = '%s' AND state = 1", bad);
    assert_int_equal(db_count(sql), 1);
    bbs_buf_free(&sealed);
    bbs_crypt_free(c);
}

/* Rows written before encryption are read, then re-sealed by the re-keying pass. */
static void test_rotation_reseals_every_row(void **state)
{
    int before = log_count("crypt.rekey-finished");
    json_t *cfg;
    struct it_alrp a;
    char sql[512];

    (void)state;
    it_uniq(guid_plain, sizeof(guid_plain), "enc-plain");
    /* ActualLRPNetInfo {address "5.6.7.8"} as the server stored it before encryption. */
    insert_actual(guid_plain, "\\x0a07352e362e372e38", NULL, NULL);
    it_assert_state(guid_plain, 0, "RUNNING", &a);
    assert_string_equal(a.address, "5.6.7.8");

    cfg = keys_config("k2", "k1", "pass-1", "k2", "pass-2", "upstream-key",
                      "correct horse battery staple", NULL);
    assert_int_equal(it_server_restart_config(cfg), 0);
    wait_rekeyed(before);
    json_decref(cfg);

    assert_sealed("SELECT net_info FROM actual_lrps WHERE process_guid = $1", guid_a, "k2",
                  "10.77.0.7");
    assert_sealed("SELECT run_info FROM desired_lrps WHERE process_guid = $1", guid_a, "k2", NULL);
    assert_sealed("SELECT net_info FROM actual_lrps WHERE process_guid = $1", guid_up, "k2", NULL);
    assert_sealed("SELECT internal_routes FROM actual_lrps WHERE process_guid = $1", guid_up, "k2",
                  "a.apps.internal");
    assert_sealed("SELECT net_info FROM actual_lrps WHERE process_guid = $1", guid_plain, "k2",
                  "5.6.7.8");
    /* Only the undecryptable row keeps its label, and it is listed. */
    snprintf(
        sql, sizeof(sql),
        "SELECT count(*) FROM actual_lrps WHERE process_guid <> '%s' AND"
        " ((length(net_info) > 0 AND NOT " SEALED_SQL(
            "net_info") ") OR"
                        " (length(internal_routes) > 0 AND NOT " SEALED_SQL("internal_routes") "))",
        guid_bad);
    assert_int_equal(db_count(sql), 0);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM encryption_undecryptable WHERE table_name = 'actual_lrps'"
             " AND row_key = '%s/0/0' AND column_name = 'net_info' AND label = 'gone'",
             guid_bad);
    assert_int_equal(db_count(sql), 1);
    assert_int_equal(db_count("SELECT count(*) FROM encryption_keys_in_use WHERE label = 'k1'"), 0);
    assert_int_equal(db_count("SELECT count(*) FROM configurations WHERE id ="
                              " 'encryption_key_label' AND value = 'k2'"),
                     1);

    /* The old keys dropped: everything still reads. */
    before = log_count("crypt.rekey-finished");
    cfg = keys_config("k2", "k2", "pass-2", NULL);
    assert_int_equal(it_server_restart_config(cfg), 0);
    wait_rekeyed(before);
    json_decref(cfg);
    it_assert_state(guid_a, 0, "RUNNING", &a);
    assert_string_equal(a.address, "10.77.0.7");
    it_assert_state(guid_up, 0, "RUNNING", &a);
    assert_string_equal(a.address, "1.2.3.4");
    assert_int_equal(a.n_internal_routes, 1);
    it_assert_state(guid_plain, 0, "RUNNING", &a);
    assert_string_equal(a.address, "5.6.7.8");
    {
        Models__DesiredLRPResponse *d = it_get_desired(guid_a);

        assert_null(d->error);
        assert_string_equal(d->desired_lrp->action->run_action->path, "/bin/app");
        it_free(d);
    }
}

/* A label in use without its key, or with another passphrase, stops the start. */
static void test_startup_refusals(void **state)
{
    static const struct {
        const char *active;
        const char *label;
        const char *pass;
        const char *want;
    } cases[] = {
        {"k3", "k3", "pass-3", "key label \\\"k2\\\", which encryption_keys does not list"},
        {"k2", "k2", "not pass-2", "passphrase configured for key label \\\"k2\\\" is not"},
        {"", NULL, NULL, "key label \\\"k2\\\", which encryption_keys does not list"},
    };
    json_t *cfg;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int status = 0;
        int before = log_count(cases[i].want);

        cfg = cases[i].label != NULL
                  ? keys_config(cases[i].active, cases[i].label, cases[i].pass, NULL)
                  : json_object();
        assert_int_equal(it_server_try_config(cfg, it_valgrind() ? 120000 : 30000, &status), 0);
        json_decref(cfg);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
        assert_int_equal(log_count(cases[i].want), before + 1);
    }
    cfg = keys_config("k2", "k2", "pass-2", NULL);
    assert_int_equal(it_server_restart_config(cfg), 0);
    json_decref(cfg);

    /* Emptied tables need no key (upstream's suite truncates them between specs). */
    assert_true(it_db_exec("TRUNCATE actual_lrps, desired_lrps, tasks", 0, NULL) >= 0);
    cfg = keys_config("k9", "k9", "pass-9", NULL);
    assert_int_equal(it_server_restart_config(cfg), 0);
    json_decref(cfg);
    assert_int_equal(db_count("SELECT count(*) FROM encryption_keys_in_use WHERE label = 'k2'"), 0);
    assert_int_equal(db_count("SELECT count(*) FROM encryption_keys_in_use WHERE label = 'k9'"), 1);
    it_desire(guid_a, NULL, 1);
    assert_sealed("SELECT run_info FROM desired_lrps WHERE process_guid = $1", guid_a, "k9",
                  "/bin/app");
    it_server_config(NULL);
}

/* The `key` number in the last bbs.converge.run line of the log (-1 when none). */
static long last_run_value(const char *key)
{
    char *log = it_server_log();
    char pat[64];
    const char *line = NULL;
    const char *at;
    long v = -1;

    for (at = log; at != NULL && (at = strstr(at, "bbs.converge.run\"")) != NULL; at++) {
        line = at;
    }
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    if (line != NULL && (at = strstr(line, pat)) != NULL) {
        v = strtol(at + strlen(pat), NULL, 10);
    }
    free(log);
    return v;
}

/*
 * Convergence counts an undecryptable LRP's instances as they are: its
 * desired row does not turn its actual rows into extras (retired in a
 * fresh domain), and an undecryptable actual row does not make its
 * instance missing.
 */
static void test_convergence_keeps_undecryptable(void **state)
{
    static const struct bbs_crypt_key_cfg gone[] = {{"gone", "a key nobody configured"}};
    struct bbs_error err = {0};
    struct bbs_crypt *c = bbs_crypt_new(gone, 1, "gone", &err);
    struct bbs_buf tags = {0};
    struct bbs_buf routes = {0};
    static const uint8_t tags_pt[] = {0x02, 0x00};
    static const uint8_t routes_pt[] = {0x02, 0x00, 0x5a, 0x03, 0x0a, 0x01, 'h'};
    Models__UpsertDomainRequest up = MODELS__UPSERT_DOMAIN_REQUEST__INIT;
    char desired_bad[64];
    char actual_bad[64];
    char sql[512];
    json_t *cfg;
    int before;

    (void)state;
    assert_non_null(c);
    seal_text(c, tags_pt, sizeof(tags_pt), 0, &tags);
    seal_text(c, routes_pt, sizeof(routes_pt), 1, &routes);
    up.domain = (char *)"enc-fresh";
    up.ttl = 0;
    assert_int_equal(
        it_call_err("/v1/domains/upsert", &up.base, &models__upsert_domain_response__descriptor),
        IT_OK);
    it_uniq(desired_bad, sizeof(desired_bad), "enc-cd");
    it_uniq(actual_bad, sizeof(actual_bad), "enc-ca");
    it_desire(desired_bad, "enc-fresh", 2);
    it_desire(actual_bad, "enc-fresh", 1);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(it_claim(desired_bad, i, "ig-d", "cell-d"), IT_OK);
        assert_int_equal(it_start(desired_bad, i, "enc-fresh", "ig-d", "cell-d", "10.0.0.1"),
                         IT_OK);
    }
    assert_int_equal(it_claim(actual_bad, 0, "ig-a", "cell-a"), IT_OK);
    assert_int_equal(it_start(actual_bad, 0, "enc-fresh", "ig-a", "cell-a", "10.0.0.2"), IT_OK);
    {
        const char *p[2] = {(const char *)tags.data, desired_bad};
        const char *q[2] = {(const char *)routes.data, actual_bad};

        assert_int_equal(it_db_exec("UPDATE desired_lrps SET metric_tags = $1::bytea"
                                    " WHERE process_guid = $2",
                                    2, p),
                         1);
        assert_int_equal(it_db_exec("UPDATE actual_lrps SET internal_routes = $1::bytea"
                                    " WHERE process_guid = $2",
                                    2, q),
                         1);
    }

    before = log_count("bbs.converge.run\"");
    cfg = keys_config("k9", "k9", "pass-9", NULL);
    json_object_set_new(cfg, "converge_repeat_interval", json_string("200ms"));
    assert_int_equal(it_server_restart_config(cfg), 0);
    {
        int64_t deadline = it_mono_ms() + (it_valgrind() ? 120000 : 30000);

        while (log_count("bbs.converge.run\"") < before + 3) {
            assert_true(it_mono_ms() < deadline);
            it_sleep_ms(50);
        }
    }
    assert_int_equal(last_run_value("LRPsMissing"), 0);
    assert_int_equal(last_run_value("LRPsExtra"), 0);
    assert_int_equal(last_run_value("retired"), 0);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM actual_lrps WHERE process_guid IN ('%s', '%s')"
             " AND state = 'RUNNING'",
             desired_bad, actual_bad);
    assert_int_equal(db_count(sql), 3);
    /* The desired LRP reads as undecryptable, never as gone. */
    {
        Models__DesiredLRPResponse *d = it_get_desired(desired_bad);

        assert_non_null(d->error);
        assert_int_equal(d->error->type, BBS_ERR_DESERIALIZE);
        it_free(d);
    }
    cfg = keys_config("k9", "k9", "pass-9", NULL);
    assert_int_equal(it_server_restart_config(cfg), 0);
    json_decref(cfg);
    it_server_config(NULL);
    bbs_buf_free(&tags);
    bbs_buf_free(&routes);
    bbs_crypt_free(c);
}

/*
 * The next event on `s` named `name` for process guid `guid` (desired LRP
 * events), skipping others; fails on a timeout or on an event with id
 * `never`. Returns its id.
 */
static int64_t next_desired_event(struct it_sse *s, const char *name, const char *guid,
                                  int64_t never, const char *path)
{
    int64_t deadline = it_mono_ms() + (it_valgrind() ? 30000 : 5000);

    for (;;) {
        struct it_sse_event ev;
        ProtobufCMessage *m;
        int r = it_sse_next(s, (int)(deadline - it_mono_ms()), &ev);
        int64_t id;
        int match = 0;

        if (r != 1) {
            fail_msg("waiting for %s of %s: %s", name, guid, r == 0 ? "timeout" : it_sse_error(s));
        }
        id = ev.id;
        if (id == never) {
            fail_msg("event %lld (%s) delivered although it does not decrypt", (long long)id,
                     ev.name);
        }
        m = strcmp(ev.name, name) == 0 ? it_sse_decode(&ev) : NULL;
        it_sse_event_clear(&ev);
        if (m != NULL) {
            Models__DesiredLRP *d = ((Models__DesiredLRPCreatedEvent *)m)->desired_lrp;

            match = d != NULL && strcmp(d->process_guid, guid) == 0;
            if (match && path != NULL) {
                assert_string_equal(d->action->run_action->path, path);
            }
            protobuf_c_message_free_unpacked(m, NULL);
        }
        if (match) {
            return id;
        }
    }
}

/*
 * Event payloads (which embed whole definitions) are sealed in event_log
 * too; live and resumed streams deliver them opened; a row that does not
 * open is skipped and logged, the stream goes on.
 */
static void test_event_log_payloads_sealed(void **state)
{
    static const struct bbs_crypt_key_cfg gone[] = {{"gone", "a key nobody configured"}};
    static const uint8_t pt[] = {0x02, 0x00, 0x0a, 0x00};
    struct bbs_error err = {0};
    struct bbs_crypt *c = bbs_crypt_new(gone, 1, "gone", &err);
    struct bbs_buf sealed = {0};
    char guid1[64];
    char guid2[64];
    char secret[128];
    char id_text[32];
    char after[32];
    struct it_dlrp d;
    struct it_sse *live;
    struct it_sse *resumed;
    int64_t id1;
    int64_t id2;
    int logged;

    (void)state;
    assert_non_null(c);
    it_uniq(guid1, sizeof(guid1), "enc-ev1");
    it_uniq(guid2, sizeof(guid2), "enc-ev2");
    snprintf(secret, sizeof(secret), "/bin/secret-%s", guid1);
    live = it_sse_open("GET", "/v1/events.r1", NULL, NULL);
    assert_non_null(live);
    assert_int_equal(it_sse_status(live), 200);
    it_dlrp_init(&d, guid1, 1);
    d.run.path = secret;
    assert_int_equal(it_desire_lrp(&d.lrp), IT_OK);
    id1 = next_desired_event(live, "desired_lrp_created", guid1, -1, secret);
    it_desire(guid2, NULL, 1);
    id2 = next_desired_event(live, "desired_lrp_created", guid2, -1, "/bin/app");
    it_sse_close(live);

    /* On disk: the event's payload is ciphertext under the active key, and no row is plain. */
    snprintf(id_text, sizeof(id_text), "%lld", (long long)id1);
    assert_sealed("SELECT payload FROM event_log WHERE seq = $1::int8", id_text, "k9", secret);
    assert_int_equal(
        db_count("SELECT count(*) FROM event_log WHERE"
                 " (length(payload) > 0 AND NOT " SEALED_SQL(
                     "payload") ") OR"
                                " (length(payload_v0) > 0 AND NOT " SEALED_SQL("payload_v0") ")"),
        0);

    /* Resumed from before the first: read back from the table, opened, the same events. */
    snprintf(after, sizeof(after), "%lld", (long long)(id1 - 1));
    resumed = it_sse_open("GET", "/v1/events.r1", NULL, after);
    assert_non_null(resumed);
    assert_int_equal(it_sse_status(resumed), 200);
    assert_int_equal(next_desired_event(resumed, "desired_lrp_created", guid1, -1, secret), id1);
    assert_int_equal(next_desired_event(resumed, "desired_lrp_created", guid2, -1, "/bin/app"),
                     id2);
    it_sse_close(resumed);

    /* The first one sealed with a key nobody has: skipped and logged, the rest delivered. */
    seal_text(c, pt, sizeof(pt), 0, &sealed);
    {
        const char *p[2] = {(const char *)sealed.data, id_text};

        assert_int_equal(
            it_db_exec("UPDATE event_log SET payload = $1::bytea WHERE seq = $2::int8", 2, p), 1);
    }
    logged = log_count("crypt.undecryptable-event");
    resumed = it_sse_open("GET", "/v1/events.r1", NULL, after);
    assert_non_null(resumed);
    assert_int_equal(it_sse_status(resumed), 200);
    assert_int_equal(next_desired_event(resumed, "desired_lrp_created", guid2, id1, "/bin/app"),
                     id2);
    it_sse_close(resumed);
    assert_true(log_count("crypt.undecryptable-event") > logged);
    bbs_buf_free(&sealed);
    bbs_crypt_free(c);
}

static int setup(void **state)
{
    static json_t *cfg;

    cfg = keys_config("k1", "k1", "pass-1", "upstream-key", "correct horse battery staple", NULL);
    it_server_config(cfg);
    return it_group_setup(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_on_disk_are_ciphertext),
        cmocka_unit_test(test_upstream_sealed_values_read),
        cmocka_unit_test(test_undecryptable_row_kept_and_reported),
        cmocka_unit_test(test_tasks_sealed_and_undecryptable_kept),
        cmocka_unit_test(test_rotation_reseals_every_row),
        cmocka_unit_test(test_startup_refusals),
        cmocka_unit_test(test_convergence_keeps_undecryptable),
        cmocka_unit_test(test_event_log_payloads_sealed),
    };

    it_set_name("encryption");
    return it_main_exit(cmocka_run_group_tests_name("encryption", tests, setup, it_group_teardown));
}
