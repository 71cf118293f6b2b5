/*
 * test_db_failover.c - the server across a database failover: a primary
 * and a synchronous streaming standby (support/pgrepl.c, both started by
 * this test on loopback ports), the server given both hosts in one URL
 * with target_session_attrs=read-write.
 *
 * Under a load of claims (of instances desired before) and desires (of new
 * LRPs), every answer recorded, the primary is killed with SIGKILL (with
 * every process it had started, as a crashed host leaves them), the test
 * waits a moment, and promotes the standby. Then:
 *   - every request was answered (no transport failure), within a bound,
 *     and the only error was UnknownError: between the kill and the
 *     promotion requests fail fast, they do not hang;
 *   - the server serves writes again soon after the promotion, without a
 *     restart (its pool drops the dead connections and libpq finds the
 *     host that now takes writes);
 *   - every acknowledged change is in the new primary (synchronous
 *     replication: a COMMIT answered is on the standby): through the API,
 *     which now reads the only node alive, and counted directly in the
 *     new primary; unacknowledged ones may or may not be there.
 */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "support/pgrepl.h"

#define LIFECYCLE  (&models__actual_lrplifecycle_response__descriptor)
#define DLIFECYCLE (&models__desired_lrplifecycle_response__descriptor)

#define WORKERS   4
#define LRPS      20
#define PER_LRP   10
#define INSTANCES (LRPS * PER_LRP)
#define DESIRES   2000 /* upper bound: new LRPs desired by the load */
#define GAP_MS    1500 /* between the kill and the promotion */

static struct it_pgrepl *repl;
static char guids[LRPS][64];
static char prefix[64];

enum outcome {
    ACK_OK,    /* 200 without error: committed */
    ACK_ERROR, /* 200 with an error: may or may not be committed */
    NO_ANSWER, /* transport failure */
};

static struct {
    enum outcome claimed[INSTANCES];
    int claim_tried[INSTANCES];
    enum outcome desired[DESIRES];
    int desire_tried[DESIRES];
    atomic_int next_claim;
    atomic_int next_desire;
    atomic_int stop;
    pthread_mutex_t mu;
    int64_t max_took;
    int errors_unknown;
    int errors_other;
    int no_answer;
    int ops;
} load = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int answer_bound_ms(void)
{
    /* connect_timeout=2 per host, 3 attempts: far below; valgrind is slow. */
    return it_valgrind() ? 30000 : 8000;
}

static enum outcome call(struct it_client *c, const char *path, const ProtobufCMessage *req,
                         const ProtobufCMessageDescriptor *desc)
{
    char err[512];
    int64_t t0 = it_mono_ms();
    void *resp = it_client_call(c, path, req, desc, err, sizeof(err));
    int64_t took = it_mono_ms() - t0;
    int type = resp != NULL ? it_err_type(resp) : -2;
    enum outcome o = resp == NULL ? NO_ANSWER : type == IT_OK ? ACK_OK : ACK_ERROR;

    it_free(resp);
    pthread_mutex_lock(&load.mu);
    load.ops++;
    if (took > load.max_took) {
        load.max_took = took;
    }
    if (o == NO_ANSWER) {
        load.no_answer++;
        fprintf(stderr, "test_db_failover: %s: no answer: %s\n", path, err);
    } else if (o == ACK_ERROR && type == MODELS__ERROR__TYPE__UnknownError) {
        load.errors_unknown++;
    } else if (o == ACK_ERROR) {
        load.errors_other++;
        fprintf(stderr, "test_db_failover: %s: unexpected error type %d\n", path, type);
    }
    pthread_mutex_unlock(&load.mu);
    return o;
}

static enum outcome claim(struct it_client *c, int i, int w)
{
    Models__ClaimActualLRPRequest req = MODELS__CLAIM_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;
    char ig[32];
    char cell[32];

    snprintf(ig, sizeof(ig), "ig-%d", i);
    snprintf(cell, sizeof(cell), "cell-%d", w);
    ik.instance_guid = ig;
    ik.cell_id = cell;
    req.process_guid = guids[i / PER_LRP];
    req.index = i % PER_LRP;
    req.actual_lrp_instance_key = &ik;
    return call(c, "/v1/actual_lrps/claim", &req.base, LIFECYCLE);
}

static void desired_guid(char *out, size_t size, int k)
{
    snprintf(out, size, "%s-new-%d", prefix, k);
}

static enum outcome desire(struct it_client *c, int k)
{
    struct it_dlrp d;
    Models__DesireLRPRequest req = MODELS__DESIRE_LRPREQUEST__INIT;
    char guid[96];

    desired_guid(guid, sizeof(guid), k);
    it_dlrp_init(&d, guid, 1);
    req.desired_lrp = &d.lrp;
    return call(c, "/v1/desired_lrp/desire.r2", &req.base, DLIFECYCLE);
}

static void *worker(void *arg)
{
    int w = (int)(intptr_t)arg;
    struct it_client *c = it_client_new();

    while (!atomic_load(&load.stop)) {
        int i = atomic_fetch_add(&load.next_claim, 1);
        int k = atomic_fetch_add(&load.next_desire, 1);

        if (i < INSTANCES) {
            load.claim_tried[i] = 1;
            load.claimed[i] = claim(c, i, w);
        }
        if (k < DESIRES) {
            load.desire_tried[k] = 1;
            load.desired[k] = desire(c, k);
        }
        it_sleep_ms(20);
    }
    it_client_free(c);
    return NULL;
}

/* First moment a write succeeds again (a fresh client and LRP each time). */
static int64_t wait_serving(int64_t limit_ms)
{
    int64_t t0 = it_mono_ms();

    for (int n = 0; it_mono_ms() - t0 < limit_ms; n++) {
        struct it_dlrp d;
        char guid[96];
        int type;

        snprintf(guid, sizeof(guid), "%s-probe-%d", prefix, n);
        it_dlrp_init(&d, guid, 0);
        type = it_desire_lrp(&d.lrp);
        if (type == IT_OK) {
            return it_mono_ms() - t0;
        }
        it_sleep_ms(100);
    }
    return -1;
}

/* Rows of `sql` ($1 = the load's LIKE pattern) in the new primary, straight from it. */
static int count_in_new_primary(const char *sql)
{
    char ci[200];
    char pattern[96];
    const char *params[1] = {pattern};
    PGconn *c;
    PGresult *res;
    int n = -1;

    snprintf(ci, sizeof(ci), "host=127.0.0.1 port=%d user=postgres dbname=bbs_it_failover_%ld",
             it_pgrepl_port(repl, 1), (long)getpid());
    snprintf(pattern, sizeof(pattern), "%s-new-%%", prefix);
    c = PQconnectdb(ci);
    if (PQstatus(c) == CONNECTION_OK) {
        res = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK) {
            n = atoi(PQgetvalue(res, 0, 0));
        } else {
            fprintf(stderr, "test_db_failover: %s: %s", sql, PQerrorMessage(c));
        }
        PQclear(res);
    } else {
        fprintf(stderr, "test_db_failover: %s", PQerrorMessage(c));
    }
    PQfinish(c);
    return n;
}

static void test_failover_under_load(void **state)
{
    pthread_t threads[WORKERS];
    int64_t t_kill, t_promoted, back_ms;
    int acked_claims = 0, acked_desires = 0, tried_desires = 0;
    int errors_before;
    (void)state;

    it_uniq(prefix, sizeof(prefix), "fo");
    for (int k = 0; k < LRPS; k++) {
        it_uniq(guids[k], sizeof(guids[k]), "load");
        it_desire(guids[k], NULL, PER_LRP);
    }
    for (int w = 0; w < WORKERS; w++) {
        assert_int_equal(pthread_create(&threads[w], NULL, worker, (void *)(intptr_t)w), 0);
    }
    it_sleep_ms(it_valgrind() ? 3000 : 1000);
    pthread_mutex_lock(&load.mu);
    errors_before = load.errors_unknown + load.errors_other + load.no_answer;
    pthread_mutex_unlock(&load.mu);

    t_kill = it_mono_ms();
    assert_int_equal(it_pgrepl_kill_primary(repl), 0);
    it_sleep_ms(GAP_MS);
    assert_int_equal(it_pgrepl_promote(repl), 0);
    t_promoted = it_mono_ms();
    back_ms = wait_serving(it_valgrind() ? 60000 : 15000);
    it_sleep_ms(1000); /* some load against the new primary too */
    atomic_store(&load.stop, 1);
    for (int w = 0; w < WORKERS; w++) {
        pthread_join(threads[w], NULL);
    }
    print_message("failover: promoted %lld ms after the kill, serving writes %lld ms after the "
                  "promotion; %d ops, %d answered UnknownError, slowest %lld ms\n",
                  (long long)(t_promoted - t_kill), (long long)back_ms, load.ops,
                  load.errors_unknown, (long long)load.max_took);

    /* Answers: all, in bounded time, only UnknownError, and none before the kill. */
    assert_int_equal(errors_before, 0);
    assert_int_equal(load.no_answer, 0);
    assert_int_equal(load.errors_other, 0);
    assert_true(load.errors_unknown > 0); /* requests really met the dead primary */
    if (load.max_took >= answer_bound_ms()) {
        fail_msg("a request took %lld ms (bound %d)", (long long)load.max_took, answer_bound_ms());
    }
    if (back_ms < 0 || back_ms > (it_valgrind() ? 60000 : 10000)) {
        fail_msg("not serving writes after the promotion (%lld ms)", (long long)back_ms);
    }

    /* Every acknowledged claim, through the API (the new primary is all there is). */
    for (int k = 0; k < LRPS; k++) {
        Models__ActualLRPsResponse *list = it_list_actuals(guids[k]);

        assert_int_equal(list->n_actual_lrps, PER_LRP);
        for (int x = 0; x < PER_LRP; x++) {
            int i = k * PER_LRP + x;
            const Models__ActualLRP *a = it_find_actual(list, x, 0);
            char ig[32];

            assert_non_null(a);
            snprintf(ig, sizeof(ig), "ig-%d", i);
            if (load.claim_tried[i] && load.claimed[i] == ACK_OK) {
                acked_claims++;
                if (strcmp(a->state, "CLAIMED") != 0 ||
                    strcmp(a->actual_lrp_instance_key->instance_guid, ig) != 0) {
                    fail_msg("instance %d: acknowledged claim lost (%s)", i, a->state);
                }
            } else if (!load.claim_tried[i] && strcmp(a->state, "UNCLAIMED") != 0) {
                fail_msg("instance %d: never claimed but %s", i, a->state);
            }
        }
        it_free(list);
    }
    /* Every acknowledged desire, through the API and in the new primary's table. */
    for (int k = 0; k < DESIRES; k++) {
        char guid[96];
        Models__DesiredLRPResponse *d;

        if (!load.desire_tried[k]) {
            continue;
        }
        tried_desires++;
        if (load.desired[k] != ACK_OK) {
            continue;
        }
        acked_desires++;
        desired_guid(guid, sizeof(guid), k);
        d = it_get_desired(guid);
        if (it_err_type(d) != IT_OK) {
            fail_msg("acknowledged desire %s lost", guid);
        }
        it_free(d);
    }
    {
        int rows =
            count_in_new_primary("SELECT count(*) FROM desired_lrps WHERE process_guid LIKE $1");

        assert_true(rows >= acked_desires);
        assert_true(rows <= tried_desires);
    }
    print_message("failover: %d claims and %d desires acknowledged, all in the new primary\n",
                  acked_claims, acked_desires);
    assert_true(acked_claims > 0);
    assert_true(acked_desires > 0);
}

/*
 * A primary demoted while it stays up: it turns read-only
 * (default_transaction_read_only, as a managed service or a fencing
 * script does; existing sessions take it on reload) and the standby is
 * promoted. The pooled connections to the old primary still look healthy
 * to libpq; every write on them fails with 25006. The pool must drop them
 * (not take them back) so that new connections find the writable host;
 * otherwise the server answers errors for as long as they live.
 */
static void test_demoted_primary_read_only(void **state)
{
    int ports[2];
    char dbname[64];
    char guid[64];
    char create[128];
    int64_t t0;
    int64_t back_ms;
    int type;
    (void)state;

    /* A new pair on the same ports, so the server's config and the harness's database stay. */
    ports[0] = it_pgrepl_port(repl, 0);
    ports[1] = it_pgrepl_port(repl, 1);
    it_pgrepl_free(repl);
    repl = it_pgrepl_start_on(ports);
    assert_non_null(repl);
    snprintf(dbname, sizeof(dbname), "bbs_it_failover_%ld", (long)getpid());
    snprintf(create, sizeof(create), "CREATE DATABASE %s", dbname);
    assert_int_equal(it_pgrepl_exec(repl, 0, "postgres", create), 0);
    assert_int_equal(it_server_restart(), 0);

    /* Warm the pool: several connections to the primary. */
    for (int i = 0; i < 8; i++) {
        it_uniq(guid, sizeof(guid), "demote-warm");
        it_desire(guid, NULL, 1);
    }
    assert_int_equal(
        it_pgrepl_exec(repl, 0, "postgres", "ALTER SYSTEM SET default_transaction_read_only = on"),
        0);
    assert_int_equal(it_pgrepl_exec(repl, 0, "postgres", "SELECT pg_reload_conf()"), 0);
    it_sleep_ms(500);
    /* Nowhere to write: an error, quickly. */
    it_uniq(guid, sizeof(guid), "demote-none");
    {
        struct it_dlrp d;
        int64_t t = it_mono_ms();

        it_dlrp_init(&d, guid, 1);
        type = it_desire_lrp(&d.lrp);
        assert_int_equal(type, MODELS__ERROR__TYPE__UnknownError);
        assert_true(it_mono_ms() - t < answer_bound_ms());
    }
    assert_int_equal(it_pgrepl_promote(repl), 0);
    t0 = it_mono_ms();
    back_ms = wait_serving(it_valgrind() ? 60000 : 10000);
    print_message("demotion: serving writes %lld ms after the promotion\n", (long long)back_ms);
    if (back_ms < 0) {
        fail_msg("still failing %lld ms after the promotion: connections to the read-only old "
                 "primary kept",
                 (long long)(it_mono_ms() - t0));
    }
    /* And it stays on the new primary: a claim of a fresh LRP's instance. */
    it_uniq(guid, sizeof(guid), "demote-after");
    it_desire(guid, NULL, 1);
    assert_int_equal(it_claim(guid, 0, "ig-d", "cell-d"), IT_OK);
}

static int setup(void **state)
{
    char url[300];
    json_t *extra;
    int rc;

    (void)state;
    repl = it_pgrepl_start();
    if (repl == NULL) {
        return -1;
    }
    /* The group's database is made on this pair (pgrepl.h), named as db.c names it. */
    setenv("BBS_TEST_PGDIR", it_pgrepl_dir(repl), 1);
    snprintf(url, sizeof(url),
             "postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/bbs_it_failover_%ld"
             "?target_session_attrs=read-write&connect_timeout=%d",
             it_pgrepl_port(repl, 0), it_pgrepl_port(repl, 1), (long)getpid(),
             it_valgrind() ? 10 : 2); /* a connection under valgrind may take more than 2 s */
    extra = json_pack("{s:s, s:i}", "database_connection_string", url, "http_worker_threads",
                      WORKERS + 2);
    it_server_config(extra);
    rc = it_server_start("failover", NULL);
    it_server_config(NULL);
    json_decref(extra);
    if (rc != 0) { /* no teardown after a failed setup */
        it_pgrepl_free(repl);
        repl = NULL;
    }
    return rc;
}

static int teardown(void **state)
{
    int rc;

    (void)state;
    rc = it_server_stop();
    it_pgrepl_free(repl);
    repl = NULL;
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failover_under_load),
        cmocka_unit_test(test_demoted_primary_read_only), /* replaces the pair */
    };

    return it_main_exit(cmocka_run_group_tests(tests, setup, teardown));
}
