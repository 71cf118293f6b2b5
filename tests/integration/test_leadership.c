/*
 * test_leadership.c - several servers on one database (lead.h, lease mode):
 * exactly one serves the API, the others are standbys (API port refused,
 * health 200 with X-BBS-Role: standby); SIGKILL and SIGTERM of the leader
 * hand over; a paused leader whose lease was taken cannot commit and exits.
 *
 * The harness starts the first server (the leader); the others are started
 * here with the same database and their own ports. Figures (take-over
 * times) are printed, never asserted beyond a generous bound the scenario
 * needs to go on.
 */
#include "harness.h"
#include "support/peer.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define TTL "2s"

static int64_t db_term(void)
{
    PGconn *c = PQconnectdb(it_db_conninfo());
    PGresult *r = PQexec(c, "SELECT term FROM bbs_leader WHERE id = 1");
    int64_t t = -1;

    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        t = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    }
    PQclear(r);
    PQfinish(c);
    return t;
}

/* ---- claim/start load that follows the leader ------------------------------------------- */

#define LOAD_GUID      "lead-load"
#define LOAD_INSTANCES 3000
#define LOAD_WORKERS   4

struct load {
    int ports[3];                /* candidate servers; a refused one is skipped */
    int claimed[LOAD_INSTANCES]; /* acknowledged claims */
    int started[LOAD_INSTANCES]; /* acknowledged starts */
    int failed[LOAD_INSTANCES];  /* an answer carrying an error */
    atomic_int done;             /* instances finished (either way) */
};

/* POST `msg` to the first candidate that answers: 1 acknowledged, 0 error answer, -1 none. */
static int load_call(struct load *ld, int *cur, const char *path, const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(len + 1);
    int64_t deadline = it_mono_ms() + 20000;
    int rc = -1;

    protobuf_c_message_pack(msg, buf);
    while (it_mono_ms() < deadline) {
        struct it_resp_body b = {0};
        long st = it_post_port_body(ld->ports[*cur], path, buf, len, &b);

        if (st == 200) {
            Models__ActualLRPLifecycleResponse *r =
                models__actual_lrplifecycle_response__unpack(NULL, b.len, b.data);

            rc = r != NULL && r->error == NULL ? 1 : 0;
            if (r != NULL) {
                models__actual_lrplifecycle_response__free_unpacked(r, NULL);
            }
            free(b.data);
            break;
        }
        free(b.data);
        *cur = (*cur + 1) % 3; /* refused, reset or not serving: the next candidate */
        it_sleep_ms(10);
    }
    free(buf);
    return rc;
}

static void *load_worker(void *arg)
{
    struct load *ld = ((struct load **)arg)[0];
    int w = (int)(intptr_t)((void **)arg)[1];
    int cur = 0;

    for (int i = w; i < LOAD_INSTANCES; i += LOAD_WORKERS) {
        Models__ClaimActualLRPRequest claim = MODELS__CLAIM_ACTUAL_LRPREQUEST__INIT;
        Models__StartActualLRPRequest start = MODELS__START_ACTUAL_LRPREQUEST__INIT;
        Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;
        Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;
        Models__ActualLRPNetInfo ni = MODELS__ACTUAL_LRPNET_INFO__INIT;
        char ig[32];
        int r;

        snprintf(ig, sizeof(ig), "ig-%d", i);
        ik.instance_guid = ig;
        ik.cell_id = (char *)"cell-load";
        claim.process_guid = (char *)LOAD_GUID;
        claim.index = i;
        claim.actual_lrp_instance_key = &ik;
        r = load_call(ld, &cur, "/v1/actual_lrps/claim", &claim.base);
        if (r != 1) {
            ld->failed[i] = 1;
            atomic_fetch_add(&ld->done, 1);
            continue;
        }
        ld->claimed[i] = 1;
        key.process_guid = (char *)LOAD_GUID;
        key.index = i;
        key.domain = (char *)IT_DOMAIN;
        ni.address = (char *)"10.0.0.1";
        start.actual_lrp_key = &key;
        start.actual_lrp_instance_key = &ik;
        start.actual_lrp_net_info = &ni;
        r = load_call(ld, &cur, "/v1/actual_lrps/start.r1", &start.base);
        if (r == 1) {
            ld->started[i] = 1;
        } else {
            ld->failed[i] = 1;
        }
        atomic_fetch_add(&ld->done, 1);
    }
    return NULL;
}

/* Every acknowledged claim and start is in the database. */
static void load_check(const struct load *ld, int *n_started, int *n_failed)
{
    *n_started = 0;
    *n_failed = 0;
    for (int i = 0; i < LOAD_INSTANCES; i++) {
        char idx[16], ig[32];
        const char *p[3] = {LOAD_GUID, idx, ig};

        snprintf(idx, sizeof(idx), "%d", i);
        snprintf(ig, sizeof(ig), "ig-%d", i);
        *n_failed += ld->failed[i];
        if (ld->started[i]) {
            (*n_started)++;
            assert_int_equal(it_db_exec("SELECT 1 FROM actual_lrps WHERE process_guid = $1 AND "
                                        "instance_index = $2::int4 AND presence = 0 AND state = "
                                        "'RUNNING' AND instance_guid = $3",
                                        3, p),
                             1);
        } else if (ld->claimed[i]) {
            assert_int_equal(it_db_exec("SELECT 1 FROM actual_lrps WHERE process_guid = $1 AND "
                                        "instance_index = $2::int4 AND presence = 0 AND state IN "
                                        "('CLAIMED', 'RUNNING') AND instance_guid = $3",
                                        3, p),
                             1);
        }
    }
}

/* The status of the check `name` in a /v1/diagnostics answer ("" when absent). */
static const char *diag_check(json_t *diag, const char *name)
{
    size_t i;
    json_t *c;

    json_array_foreach(json_object_get(diag, "checks"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0) {
            return json_string_value(json_object_get(c, "status"));
        }
    }
    return "";
}

static void test_one_leader_and_hand_overs(void **state)
{
    struct it_peer b = {0}, c = {0}, d = {0};
    struct it_peer *standbys[2] = {&b, &c};
    struct it_peer *next, *other;
    struct it_peer leader_a = {0};
    struct load *load;
    int done_at_kill;
    pthread_t workers[LOAD_WORKERS];
    void *args[LOAD_WORKERS][2];
    char role[32];
    int64_t took = 0, term0, term1;
    int status;
    size_t n = 0;
    /* UpsertDomainRequest {domain: "fenced", ttl: 60} */
    static const uint8_t upsert[] = {0x0a, 6, 'f', 'e', 'n', 'c', 'e', 'd', 0x10, 60};
    const char *params[1] = {"fenced"};
    json_t *lease = json_pack("{s:s, s:s}", "lock_ttl", TTL, "lock_retry_interval", "1s");
    (void)state;

    leader_a.pid = it_server_pid();
    leader_a.port = it_server_port();
    leader_a.health = it_health_port();
    assert_true(it_serves(leader_a.port));
    assert_int_equal(it_health_role(leader_a.health, role), 200);
    assert_string_equal(role, "leader");
    term0 = db_term();
    assert_true(term0 > 0);

    /* Two more on the same database: standbys, their API port refused. */
    it_peer_start(&b, "b", lease);
    it_peer_start(&c, "c", lease);
    it_sleep_ms(1500); /* more than a lease poll: they have looked at the lease */
    for (int i = 0; i < 2; i++) {
        json_t *diag;

        assert_int_equal(it_health_role(standbys[i]->health, role), 200);
        assert_string_equal(role, "standby");
        assert_int_equal(it_post_port(standbys[i]->port, "/v1/ping", "", 0, NULL), -1);
        /* A standby runs the diagnostics too: the database is fine, it does not lead. */
        diag = it_get_json_port(standbys[i]->health, "/v1/diagnostics");
        assert_non_null(diag);
        assert_string_equal(json_string_value(json_object_get(diag, "status")), "FAIL");
        assert_string_equal(diag_check(diag, "database"), "PASS");
        assert_string_equal(diag_check(diag, "leader"), "FAIL");
        json_decref(diag);
    }
    {
        json_t *diag = it_get_json_port(leader_a.health, "/v1/diagnostics");

        assert_non_null(diag);
        assert_string_equal(diag_check(diag, "leader"), "PASS");
        json_decref(diag);
    }
    assert_true(it_serves(leader_a.port));

    /* SIGKILL the leader under a claim/start load that follows whoever serves. */
    it_desire(LOAD_GUID, NULL, LOAD_INSTANCES);
    load = calloc(1, sizeof(*load));
    load->ports[0] = leader_a.port;
    load->ports[1] = b.port;
    load->ports[2] = c.port;
    for (int i = 0; i < LOAD_WORKERS; i++) {
        args[i][0] = load;
        args[i][1] = (void *)(intptr_t)i;
        assert_int_equal(pthread_create(&workers[i], NULL, load_worker, args[i]), 0);
    }
    while (atomic_load(&load->done) < LOAD_INSTANCES / 10) {
        it_sleep_ms(5);
    }
    kill(leader_a.pid, SIGKILL);
    done_at_kill = atomic_load(&load->done);
    assert_int_equal(it_server_wait_exit(5000, &status), 0);
    next = it_first_serving(standbys, 2, 10000, &took);
    if (next == NULL) {
        it_peer_print_log(&b);
        it_peer_print_log(&c);
    }
    assert_non_null(next);
    fprintf(stderr, "figure: take-over after SIGKILL of the leader: %lld ms\n", (long long)took);
    other = next == &b ? &c : &b;
    for (int i = 0; i < LOAD_WORKERS; i++) {
        pthread_join(workers[i], NULL);
    }
    {
        int n_started, n_failed;

        load_check(load, &n_started, &n_failed);
        fprintf(stderr,
                "figure: claim/start load across the SIGKILL: %d of %d started (%d done at the "
                "kill), %d answered an error\n",
                n_started, LOAD_INSTANCES, done_at_kill, n_failed);
        /* The kill fell in the middle of the load (a condition of the scenario). */
        assert_true(done_at_kill < LOAD_INSTANCES);
        assert_true(n_started > done_at_kill);
    }
    free(load);
    it_sleep_ms(1500);
    assert_int_equal(it_post_port(other->port, "/v1/ping", "", 0, NULL), -1);
    term1 = db_term();
    assert_true(term1 > term0);

    /* SIGTERM hand-over: the leader releases, exits 0, the other serves. */
    kill(next->pid, SIGTERM);
    {
        struct it_peer *one[1] = {other};
        struct it_peer *srv = it_first_serving(one, 1, 10000, &took);

        assert_non_null(srv);
        fprintf(stderr, "figure: take-over after SIGTERM of the leader: %lld ms\n",
                (long long)took);
    }
    status = it_peer_wait(next, 15000);
    assert_true(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(db_term() > term1);

    /* A paused leader loses its lease; resumed, it cannot commit and exits non-zero. */
    it_peer_start(&d, "d", lease);
    it_sleep_ms(1500);
    assert_int_equal(it_post_port(d.port, "/v1/ping", "", 0, NULL), -1);
    kill(other->pid, SIGSTOP);
    {
        struct it_peer *one[1] = {&d};

        assert_non_null(it_first_serving(one, 1, 20000, &took));
        fprintf(stderr, "figure: take-over from a paused leader (lock_ttl %s): %lld ms\n", TTL,
                (long long)took);
    }
    kill(other->pid, SIGCONT);
    {
        long st = it_post_port(other->port, "/v1/domains/upsert", upsert, sizeof(upsert), &n);

        /* Not accepted: no connection, or an answer carrying an error. */
        assert_false(st == 200 && n == 0);
    }
    status = it_peer_wait(other, 15000);
    assert_true(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0);
    assert_int_equal(it_db_exec("SELECT 1 FROM domains WHERE domain = $1", 1, params), 0);
    /* The new leader writes. */
    assert_int_equal(it_post_port(d.port, "/v1/domains/upsert", upsert, sizeof(upsert), &n), 200);
    assert_int_equal(n, 0);
    assert_int_equal(it_db_exec("SELECT 1 FROM domains WHERE domain = $1", 1, params), 1);

    kill(d.pid, SIGTERM);
    status = it_peer_wait(&d, 15000);
    assert_true(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    it_peer_cleanup(&b);
    it_peer_cleanup(&c);
    it_peer_cleanup(&d);
    json_decref(lease);
}

/* enable_db_health_check: a health check that keeps failing makes the leader exit 1. */
static void test_db_health_check_failure_exits(void **state)
{
    json_t *extra =
        json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:i}", "lock_ttl", TTL, "lock_retry_interval",
                  "1s", "uuid", "a", "enable_db_health_check", 1, "health_check_interval", "200ms",
                  "health_check_timeout", "1s", "health_check_failure_threshold", 2);
    char *log;
    int status;
    (void)state;

    assert_int_equal(it_server_restart_config(extra), 0);
    json_decref(extra);
    it_sleep_ms(1000); /* several checks pass */
    assert_int_equal(it_server_wait_exit(0, &status), -1);
    log = it_server_log();
    assert_non_null(strstr(log, "bbs.db-healthcheck.starting"));
    assert_null(strstr(log, "bbs.db-healthcheck.failed-health-check"));
    free(log);
    assert_true(
        it_db_exec("ALTER TABLE bbs_health_check RENAME TO bbs_health_check_gone", 0, NULL) >= 0);
    status = 0;
    assert_int_equal(it_server_wait_exit(10000, &status), 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    log = it_server_log();
    assert_non_null(strstr(log, "bbs.db-healthcheck.database-failure-detected-restarting-bbs"));
    free(log);
    assert_true(
        it_db_exec("ALTER TABLE bbs_health_check_gone RENAME TO bbs_health_check", 0, NULL) >= 0);
}

static int setup(void **state)
{
    json_t *extra =
        json_pack("{s:s, s:s, s:s}", "lock_ttl", TTL, "lock_retry_interval", "1s", "uuid", "a");

    (void)state;
    it_server_no_valgrind(1); /* take-over times are part of the scenario */
    it_server_config(extra);
    if (it_server_start("leadership", NULL) != 0) {
        json_decref(extra);
        return -1;
    }
    it_server_config(NULL);
    json_decref(extra);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return it_server_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_leader_and_hand_overs),
        cmocka_unit_test(test_db_health_check_failure_exits),
    };

    return it_main_exit(cmocka_run_group_tests(tests, setup, teardown));
}
