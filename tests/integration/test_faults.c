/*
 * test_faults.c - the server under faults: PostgreSQL restarted in the
 * middle of a concurrent claim/start load, and SIGTERM with a request in
 * flight.
 *
 * This test runs its own PostgreSQL cluster (tests/fixtures/pg_start.sh on
 * a private directory), so stopping it never disturbs another test; the
 * group teardown stops and removes it whatever happened.
 *
 * Database restart. Eight clients claim and then start fresh instances,
 * each on its own connection, while the cluster is stopped (fast shutdown:
 * sessions killed mid-transaction) and started again. Every answer is
 * recorded. Afterwards, through the API: every acknowledged transition (a
 * 200 without an error) is there; an unacknowledged one may or may not
 * have happened, but nothing else did (no other state, instance key or
 * row; instances nobody touched and a control set of LRPs are exactly as
 * before). During the outage every request is answered, with UnknownError,
 * in bounded time, and the server serves again within seconds of the
 * database being back, without a restart.
 *
 * SIGTERM. A claim is held inside its transaction by a table lock taken
 * from the test; SIGTERM arrives; the server stops accepting connections
 * but waits; once the lock is released the claim is answered (and
 * committed), and the server exits 0.
 */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>

#define LIFECYCLE (&models__actual_lrplifecycle_response__descriptor)

#define WORKERS      8
#define LRPS         60
#define PER_LRP      20
#define INSTANCES    (LRPS * PER_LRP)
#define CONTROLS     4
#define OUTAGE_MS    2000
#define ANSWER_BOUND 8000 /* ms: no request may take longer, outage or not */

static char guids[LRPS][64];
static char controls[CONTROLS][64];

/* ---- requests on a worker's own client ------------------------------------------------- */

enum outcome {
    ACK_OK,    /* 200 without error: committed */
    ACK_ERROR, /* 200 with an error: may or may not be committed */
    NO_ANSWER, /* transport failure */
};

static enum outcome call(struct it_client *c, const char *path, const ProtobufCMessage *req,
                         int *err_type, int64_t *took_ms)
{
    char err[512];
    int64_t t0 = it_mono_ms();
    void *resp = it_client_call(c, path, req, LIFECYCLE, err, sizeof(err));
    enum outcome o;

    *took_ms = it_mono_ms() - t0;
    if (resp == NULL) {
        fprintf(stderr, "test_faults: %s: %s\n", path, err);
        *err_type = -2;
        return NO_ANSWER;
    }
    *err_type = it_err_type(resp);
    o = *err_type == IT_OK ? ACK_OK : ACK_ERROR;
    it_free(resp);
    return o;
}

static enum outcome claim(struct it_client *c, const char *guid, int32_t index, const char *ig,
                          const char *cell, int *err_type, int64_t *took)
{
    Models__ClaimActualLRPRequest req = MODELS__CLAIM_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;

    ik.instance_guid = (char *)ig;
    ik.cell_id = (char *)cell;
    req.process_guid = (char *)guid;
    req.index = index;
    req.actual_lrp_instance_key = &ik;
    return call(c, "/v1/actual_lrps/claim", &req.base, err_type, took);
}

static enum outcome start(struct it_client *c, const char *guid, int32_t index, const char *ig,
                          const char *cell, int *err_type, int64_t *took)
{
    Models__StartActualLRPRequest req = MODELS__START_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;
    Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;
    Models__ActualLRPNetInfo ni = MODELS__ACTUAL_LRPNET_INFO__INIT;

    key.process_guid = (char *)guid;
    key.index = index;
    key.domain = (char *)IT_DOMAIN;
    ik.instance_guid = (char *)ig;
    ik.cell_id = (char *)cell;
    ni.address = (char *)"10.0.0.1";
    req.actual_lrp_key = &key;
    req.actual_lrp_instance_key = &ik;
    req.actual_lrp_net_info = &ni;
    return call(c, "/v1/actual_lrps/start.r1", &req.base, err_type, took);
}

/* ---- the load ----------------------------------------------------------------------------- */

struct record {
    int attempted;
    enum outcome claimed;
    enum outcome started; /* only when claimed == ACK_OK */
    int started_tried;
    char ig[32];
    char cell[32];
};

static struct {
    struct record rec[INSTANCES];
    atomic_int next;
    atomic_int stop;
    pthread_mutex_t mu;
    int64_t max_took;
    int errors_ok;    /* acknowledged errors of type UnknownError */
    int errors_other; /* acknowledged errors of any other type */
    int no_answer;
    int ops;
} load = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void note(enum outcome o, int err_type, int64_t took)
{
    pthread_mutex_lock(&load.mu);
    load.ops++;
    if (took > load.max_took) {
        load.max_took = took;
    }
    if (o == NO_ANSWER) {
        load.no_answer++;
    } else if (o == ACK_ERROR && err_type == MODELS__ERROR__TYPE__UnknownError) {
        load.errors_ok++;
    } else if (o == ACK_ERROR) {
        load.errors_other++;
        fprintf(stderr, "test_faults: unexpected error type %d\n", err_type);
    }
    pthread_mutex_unlock(&load.mu);
}

static void *worker(void *arg)
{
    int w = (int)(intptr_t)arg;
    struct it_client *c = it_client_new();

    while (!atomic_load(&load.stop)) {
        int i = atomic_fetch_add(&load.next, 1);
        struct record *r;
        int err_type;
        int64_t took;

        if (i >= INSTANCES) {
            break;
        }
        r = &load.rec[i];
        snprintf(r->ig, sizeof(r->ig), "ig-%d", i);
        snprintf(r->cell, sizeof(r->cell), "cell-%d", w);
        r->attempted = 1;
        r->claimed = claim(c, guids[i / PER_LRP], i % PER_LRP, r->ig, r->cell, &err_type, &took);
        note(r->claimed, err_type, took);
        if (r->claimed == ACK_OK) {
            r->started_tried = 1;
            r->started =
                start(c, guids[i / PER_LRP], i % PER_LRP, r->ig, r->cell, &err_type, &took);
            note(r->started, err_type, took);
        }
        it_sleep_ms(40);
    }
    it_client_free(c);
    return NULL;
}

/* First moment a database-backed read succeeds again (fresh client each time). */
static int64_t wait_serving(int64_t limit_ms)
{
    int64_t t0 = it_mono_ms();

    while (it_mono_ms() - t0 < limit_ms) {
        struct it_client *c = it_client_new();
        Models__ActualLRPsRequest req = MODELS__ACTUAL_LRPS_REQUEST__INIT;
        char err[512];
        void *resp;

        req.process_guid = guids[0];
        resp = it_client_call(c, "/v1/actual_lrps/list", &req.base,
                              &models__actual_lrps_response__descriptor, err, sizeof(err));
        it_client_free(c);
        if (resp != NULL && it_err_type(resp) == IT_OK) {
            it_free(resp);
            return it_mono_ms() - t0;
        }
        it_free(resp);
        it_sleep_ms(100);
    }
    return -1;
}

static void check_instance(const struct record *r, const Models__ActualLRP *a, int i)
{
    const char *state;
    const char *ig;
    const char *cell;

    if (a == NULL) {
        fail_msg("instance %d (%s/%d) has no ordinary row", i, guids[i / PER_LRP], i % PER_LRP);
    }
    state = a->state;
    ig = a->actual_lrp_instance_key ? a->actual_lrp_instance_key->instance_guid : "";
    cell = a->actual_lrp_instance_key ? a->actual_lrp_instance_key->cell_id : "";
    if (!r->attempted) {
        if (strcmp(state, "UNCLAIMED") != 0 || a->modification_tag->index != 0) {
            fail_msg("instance %d was never touched but is %s (index %u)", i, state,
                     a->modification_tag->index);
        }
        return;
    }
    if (strcmp(state, "UNCLAIMED") == 0) {
        /* Only if the claim was not acknowledged. */
        if (r->claimed == ACK_OK) {
            fail_msg("instance %d: acknowledged claim lost (UNCLAIMED)", i);
        }
        if (a->modification_tag->index != 0) {
            fail_msg("instance %d: UNCLAIMED with modification index %u", i,
                     a->modification_tag->index);
        }
        return;
    }
    /* CLAIMED or RUNNING, and then by exactly our instance key. */
    if (strcmp(ig, r->ig) != 0 || strcmp(cell, r->cell) != 0) {
        fail_msg("instance %d: %s by %s/%s, expected %s/%s", i, state, ig, cell, r->ig, r->cell);
    }
    if (strcmp(state, "CLAIMED") == 0) {
        if (r->started_tried && r->started == ACK_OK) {
            fail_msg("instance %d: acknowledged start lost (CLAIMED)", i);
        }
        return;
    }
    if (strcmp(state, "RUNNING") == 0) {
        if (!r->started_tried) {
            fail_msg("instance %d: RUNNING although start was never sent", i);
        }
        return;
    }
    fail_msg("instance %d: unexpected state %s", i, state);
}

static void test_postgres_restart_under_load(void **state)
{
    pthread_t threads[WORKERS];
    struct it_alrp before[CONTROLS][2];
    int64_t t_stop, t_down, t_up, back_ms;
    int acked_claims = 0, acked_starts = 0, attempted = 0;
    (void)state;

    /* The control set: desired LRPs in known states that the load never touches. */
    for (int k = 0; k < CONTROLS; k++) {
        it_uniq(controls[k], sizeof(controls[k]), "control");
        it_desire(controls[k], NULL, 2);
        assert_int_equal(it_claim(controls[k], 0, "ctl-ig", "ctl-cell"), IT_OK);
        assert_int_equal(it_claim(controls[k], 1, "ctl-ig1", "ctl-cell"), IT_OK);
        assert_int_equal(it_start(controls[k], 1, NULL, "ctl-ig1", "ctl-cell", "10.1.1.1"), IT_OK);
        it_assert_state(controls[k], 0, "CLAIMED", &before[k][0]);
        it_assert_state(controls[k], 1, "RUNNING", &before[k][1]);
    }
    for (int k = 0; k < LRPS; k++) {
        it_uniq(guids[k], sizeof(guids[k]), "load");
        it_desire(guids[k], NULL, PER_LRP);
    }

    for (int w = 0; w < WORKERS; w++) {
        assert_int_equal(pthread_create(&threads[w], NULL, worker, (void *)(intptr_t)w), 0);
    }
    it_sleep_ms(it_valgrind() ? 3000 : 1500);
    t_stop = it_mono_ms();
    assert_int_equal(it_pg_private_stop(), 0);
    t_down = it_mono_ms();
    it_sleep_ms(OUTAGE_MS);
    assert_int_equal(it_pg_private_start(), 0);
    t_up = it_mono_ms();
    back_ms = wait_serving(15000);
    it_sleep_ms(1000); /* some load after the recovery too */
    atomic_store(&load.stop, 1);
    for (int w = 0; w < WORKERS; w++) {
        pthread_join(threads[w], NULL);
    }
    print_message("restart: stop took %lld ms, down %lld ms, start took %lld ms; serving again "
                  "%lld ms after start; %d ops, %d answered UnknownError, slowest %lld ms\n",
                  (long long)(t_down - t_stop), (long long)OUTAGE_MS,
                  (long long)(t_up - t_down - OUTAGE_MS), (long long)back_ms, load.ops,
                  load.errors_ok, (long long)load.max_took);

    /* Answers: all of them, in time, and only UnknownError as a failure. */
    assert_int_equal(load.no_answer, 0);
    assert_int_equal(load.errors_other, 0);
    assert_true(load.errors_ok > 0); /* the outage really was seen by requests */
    assert_true(load.max_took < ANSWER_BOUND);
    if (back_ms < 0 || back_ms > 10000) {
        fail_msg("not serving 10 s after PostgreSQL came back (%lld)", (long long)back_ms);
    }

    /* State: every acknowledged transition is present, nothing else changed. */
    for (int k = 0; k < LRPS; k++) {
        Models__ActualLRPsResponse *list = it_list_actuals(guids[k]);
        Models__DesiredLRPResponse *d = it_get_desired(guids[k]);

        assert_int_equal(list->n_actual_lrps, PER_LRP);
        assert_int_equal(it_err_type(d), IT_OK);
        assert_int_equal(d->desired_lrp->instances, PER_LRP);
        for (int x = 0; x < PER_LRP; x++) {
            int i = k * PER_LRP + x;
            const struct record *r = &load.rec[i];

            check_instance(r, it_find_actual(list, x, 0), i);
            attempted += r->attempted;
            acked_claims += r->claimed == ACK_OK && r->attempted;
            acked_starts += r->started_tried && r->started == ACK_OK;
        }
        it_free(list);
        it_free(d);
    }
    for (int k = 0; k < CONTROLS; k++) {
        for (int x = 0; x < 2; x++) {
            struct it_alrp after;

            it_assert_state(controls[k], x, before[k][x].state, &after);
            assert_string_equal(after.instance_guid, before[k][x].instance_guid);
            assert_string_equal(after.cell_id, before[k][x].cell_id);
            assert_int_equal(after.mod_index, before[k][x].mod_index);
            assert_string_equal(after.epoch, before[k][x].epoch);
            assert_true(after.since == before[k][x].since);
        }
        assert_int_equal(it_actual_count(controls[k]), 2);
    }
    print_message("restart: %d instances attempted, %d claims and %d starts acknowledged, all "
                  "present\n",
                  attempted, acked_claims, acked_starts);
}

/* ---- SIGTERM drain ----------------------------------------------------------------------- */

struct held_claim {
    const char *guid;
    enum outcome outcome;
    int err_type;
    int64_t took;
};

static void *claim_thread(void *arg)
{
    struct held_claim *h = arg;
    struct it_client *c = it_client_new();

    h->outcome = claim(c, h->guid, 0, "ig-drain", "cell-drain", &h->err_type, &h->took);
    it_client_free(c);
    return NULL;
}

static int connect_refused(void)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int refused;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)it_server_port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    refused = connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno == ECONNREFUSED;
    close(fd);
    return refused;
}

static void test_sigterm_drains_request_in_flight(void **state)
{
    char guid[64];
    const char *params[1];
    struct held_claim h = {0};
    pthread_t t;
    PGconn *pg;
    PGresult *res;
    int status = 0;
    int pid = it_server_pid();
    (void)state;

    it_uniq(guid, sizeof(guid), "drain");
    it_desire(guid, NULL, 1);
    h.guid = guid;

    /* Hold the actual LRP table: the claim will wait inside its transaction. */
    pg = PQconnectdb(it_db_conninfo());
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    res = PQexec(pg, "BEGIN; LOCK TABLE actual_lrps IN ACCESS EXCLUSIVE MODE");
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);

    assert_int_equal(pthread_create(&t, NULL, claim_thread, &h), 0);
    it_sleep_ms(it_valgrind() ? 3000 : 500);
    assert_int_equal(kill(pid, SIGTERM), 0);
    it_sleep_ms(it_valgrind() ? 2000 : 500);

    /* Draining: still running, no longer accepting, the claim still waiting. */
    assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
    assert_true(connect_refused());
    res = PQexec(pg, "COMMIT");
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);

    pthread_join(t, NULL);
    if (h.outcome != ACK_OK) {
        fail_msg("the claim in flight at SIGTERM was not answered with success (%d, type %d)",
                 (int)h.outcome, h.err_type);
    }
    if (it_server_wait_exit(it_valgrind() ? 120000 : 20000, &status) != 0) {
        fail_msg("the server did not exit after draining");
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fail_msg("the server exited with status 0x%x after SIGTERM, expected exit 0", status);
    }
    /* Acknowledged, hence committed. */
    params[0] = guid;
    res = PQexecParams(pg,
                       "SELECT 1 FROM actual_lrps WHERE process_guid = $1 AND state = 'CLAIMED' "
                       "AND cell_id = 'cell-drain'",
                       1, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(res), 1);
    PQclear(res);
    PQfinish(pg);
}

/* ---- group -------------------------------------------------------------------------------- */

static int setup(void **state)
{
    json_t *extra;
    int rc;

    (void)state;
    if (it_pg_private_begin("fault") != 0) {
        return -1;
    }
    extra = json_pack("{s:s, s:s, s:i}", "database_connect_timeout", "2s", "http_shutdown_timeout",
                      "60s", "http_worker_threads", WORKERS);
    it_server_config(extra);
    rc = it_server_start("faults", NULL);
    it_server_config(NULL);
    json_decref(extra);
    return rc;
}

/* The cluster may be down if a test failed mid-outage: it_pg_private_end starts it so the
 * database can be dropped, then stops it for good. */
static int teardown(void **state)
{
    (void)state;
    return it_pg_private_end();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postgres_restart_under_load),
        cmocka_unit_test(test_sigterm_drains_request_in_flight), /* last: it stops the server */
    };

    return it_main_exit(cmocka_run_group_tests_name("faults", tests, setup, teardown));
}
