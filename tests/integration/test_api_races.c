/*
 * test_api_races.c - concurrent lifecycle calls on one row (reference 3.2,
 * 6.5: every decision is made under SELECT ... FOR UPDATE of the row). Each
 * worker thread has its own curl handle (and so its own connection), warms
 * it up with a ping, then waits on a barrier so the calls really overlap.
 * Workers never assert; the main thread checks the collected results and
 * the rows read back.
 */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIFECYCLE        (&models__actual_lrplifecycle_response__descriptor)
#define DLIFECYCLE       (&models__desired_lrplifecycle_response__descriptor)
#define E(x)             MODELS__ERROR__TYPE__##x
#define MAX_WORKERS      64
#define TRANSPORT_FAILED (-2)

enum race_op { RACE_CLAIM, RACE_START, RACE_CRASH, RACE_DESIRE };

struct worker {
    pthread_t thread;
    pthread_barrier_t *barrier;
    enum race_op op;
    const char *guid;
    int32_t index;
    char ig[64];
    char cell[64];
    int result;
    char err[512];
};

static int worker_call(struct it_client *c, struct worker *w)
{
    const ProtobufCMessage *req = NULL;
    const ProtobufCMessageDescriptor *desc = LIFECYCLE;
    const char *path = NULL;
    Models__ClaimActualLRPRequest claim = MODELS__CLAIM_ACTUAL_LRPREQUEST__INIT;
    Models__StartActualLRPRequest start = MODELS__START_ACTUAL_LRPREQUEST__INIT;
    Models__CrashActualLRPRequest crash = MODELS__CRASH_ACTUAL_LRPREQUEST__INIT;
    Models__DesireLRPRequest desire = MODELS__DESIRE_LRPREQUEST__INIT;
    Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;
    Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;
    Models__ActualLRPNetInfo ni = MODELS__ACTUAL_LRPNET_INFO__INIT;
    struct it_dlrp d;
    void *resp;
    int t;

    key.process_guid = (char *)w->guid;
    key.index = w->index;
    key.domain = IT_S(IT_DOMAIN);
    ik.instance_guid = w->ig;
    ik.cell_id = w->cell;
    ni.address = IT_S("10.9.9.9");
    switch (w->op) {
    case RACE_CLAIM:
        claim.process_guid = (char *)w->guid;
        claim.index = w->index;
        claim.actual_lrp_instance_key = &ik;
        req = &claim.base;
        path = "/v1/actual_lrps/claim";
        break;
    case RACE_START:
        start.actual_lrp_key = &key;
        start.actual_lrp_instance_key = &ik;
        start.actual_lrp_net_info = &ni;
        req = &start.base;
        path = "/v1/actual_lrps/start.r1";
        break;
    case RACE_CRASH:
        crash.actual_lrp_key = &key;
        crash.actual_lrp_instance_key = &ik;
        crash.error_message = w->cell;
        req = &crash.base;
        path = "/v1/actual_lrps/crash";
        break;
    case RACE_DESIRE:
        it_dlrp_init(&d, w->guid, 3);
        desire.desired_lrp = &d.lrp;
        req = &desire.base;
        path = "/v1/desired_lrp/desire.r2";
        desc = DLIFECYCLE;
        break;
    }
    resp = it_client_call(c, path, req, desc, w->err, sizeof(w->err));
    if (resp == NULL) {
        return TRANSPORT_FAILED;
    }
    t = it_err_type(resp);
    it_free(resp);
    return t;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct it_client *c = it_client_new();
    struct it_resp r;

    /* open the connection before the barrier so the calls overlap */
    if (it_client_request(c, "POST", "/v1/ping", NULL, 0, NULL, 0, &r, w->err, sizeof(w->err)) ==
        0) {
        it_resp_free(&r);
    }
    pthread_barrier_wait(w->barrier);
    w->result = worker_call(c, w);
    it_client_free(c);
    return NULL;
}

/* Run `n` workers and wait for them all. */
static void run_workers(struct worker *ws, size_t n)
{
    pthread_barrier_t barrier;

    assert_true(n <= MAX_WORKERS);
    assert_int_equal(pthread_barrier_init(&barrier, NULL, (unsigned)n), 0);
    for (size_t i = 0; i < n; i++) {
        ws[i].barrier = &barrier;
        assert_int_equal(pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]), 0);
    }
    for (size_t i = 0; i < n; i++) {
        pthread_join(ws[i].thread, NULL);
    }
    pthread_barrier_destroy(&barrier);
    for (size_t i = 0; i < n; i++) {
        if (ws[i].result == TRANSPORT_FAILED) {
            fail_msg("worker %zu: %s", i, ws[i].err);
        }
    }
}

static void init_workers(struct worker *ws, size_t n, enum race_op op, const char *guid,
                         int distinct_keys)
{
    memset(ws, 0, n * sizeof(*ws));
    for (size_t i = 0; i < n; i++) {
        ws[i].op = op;
        ws[i].guid = guid;
        ws[i].index = 0;
        snprintf(ws[i].ig, sizeof(ws[i].ig), "ig-%zu", distinct_keys ? i : 0);
        snprintf(ws[i].cell, sizeof(ws[i].cell), "cell-%zu", distinct_keys ? i : 0);
    }
}

/* The index of the single worker that succeeded; fails unless exactly one did. */
static size_t one_winner(const struct worker *ws, size_t n, int loser_error)
{
    size_t winner = n, wins = 0;
    for (size_t i = 0; i < n; i++) {
        if (ws[i].result == IT_OK) {
            winner = i;
            wins++;
        } else if (ws[i].result != loser_error) {
            fail_msg("worker %zu: error %d, expected %d", i, ws[i].result, loser_error);
        }
    }
    if (wins != 1) {
        fail_msg("%zu workers succeeded, expected exactly 1", wins);
    }
    return winner;
}

static void test_claim_race_exactly_one_wins(void **state)
{
    struct worker ws[32];
    struct it_alrp a;
    char guid[64];
    size_t w;
    (void)state;

    it_uniq(guid, sizeof(guid), "race-claim");
    it_desire(guid, NULL, 1);
    init_workers(ws, 32, RACE_CLAIM, guid, 1);
    run_workers(ws, 32);
    w = one_winner(ws, 32, E(ActualLRPCannotBeClaimed));
    it_assert_state(guid, 0, "CLAIMED", &a);
    assert_string_equal(a.instance_guid, ws[w].ig);
    assert_string_equal(a.cell_id, ws[w].cell);
    assert_int_equal(a.mod_index, 1);
    assert_int_equal(it_actual_count(guid), 1);
}

static void test_claim_race_same_key_all_succeed(void **state)
{
    struct worker ws[32];
    struct it_alrp a;
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "race-reclaim");
    it_desire(guid, NULL, 1);
    init_workers(ws, 32, RACE_CLAIM, guid, 0);
    run_workers(ws, 32);
    for (size_t i = 0; i < 32; i++) {
        assert_int_equal(ws[i].result, IT_OK);
    }
    it_assert_state(guid, 0, "CLAIMED", &a);
    assert_string_equal(a.instance_guid, "ig-0");
    assert_int_equal(a.mod_index, 1); /* one change, then idempotent re-claims */
}

static void test_claim_race_distinct_indices_all_succeed(void **state)
{
    struct worker ws[32];
    Models__ActualLRPsResponse *r;
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "race-indices");
    it_desire(guid, NULL, 32);
    init_workers(ws, 32, RACE_CLAIM, guid, 1);
    for (size_t i = 0; i < 32; i++) {
        ws[i].index = (int32_t)i;
    }
    run_workers(ws, 32);
    r = it_list_actuals(guid);
    assert_int_equal(r->n_actual_lrps, 32);
    for (size_t i = 0; i < 32; i++) {
        const Models__ActualLRP *a = it_find_actual(r, (int32_t)i, 0);
        assert_int_equal(ws[i].result, IT_OK);
        assert_non_null(a);
        assert_string_equal(a->state, "CLAIMED");
        assert_string_equal(a->actual_lrp_instance_key->instance_guid, ws[i].ig);
        assert_int_equal(a->modification_tag->index, 1);
    }
    it_free(r);
}

static void test_start_race_on_claimed_one_wins(void **state)
{
    struct worker ws[16];
    struct it_alrp a;
    char guid[64];
    size_t w;
    (void)state;

    it_uniq(guid, sizeof(guid), "race-start");
    it_desire(guid, NULL, 1);
    assert_int_equal(it_claim(guid, 0, "ig-owner", "cell-owner"), IT_OK);
    /* CLAIMED -> RUNNING is allowed for any key, RUNNING -> RUNNING only for the same one */
    init_workers(ws, 16, RACE_START, guid, 1);
    run_workers(ws, 16);
    w = one_winner(ws, 16, E(ActualLRPCannotBeStarted));
    it_assert_state(guid, 0, "RUNNING", &a);
    assert_string_equal(a.instance_guid, ws[w].ig);
    assert_string_equal(a.cell_id, ws[w].cell);
    assert_int_equal(a.mod_index, 2);
}

static void test_crash_race_counts_once(void **state)
{
    struct worker ws[16];
    struct it_alrp a;
    json_t *els;
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "race-crash");
    it_desire(guid, NULL, 1);
    json_decref(it_auction_wait(guid, 1, 5000));
    assert_int_equal(it_start(guid, 0, NULL, "ig-0", "cell-0", "10.9.9.8"), IT_OK);
    init_workers(ws, 16, RACE_CRASH, guid, 0);
    run_workers(ws, 16);
    one_winner(ws, 16, E(ActualLRPCannotBeCrashed));
    it_assert_state(guid, 0, "UNCLAIMED", &a);
    assert_int_equal(a.crash_count, 1);
    assert_int_equal(a.mod_index, 2);
    /* exactly one restart auction besides the desire's */
    els = it_auction_wait(guid, 2, 5000);
    json_decref(els);
    it_sleep_ms(it_quiet_ms());
    els = it_auction_starts(guid);
    assert_int_equal(json_array_size(els), 2);
    json_decref(els);
}

static void test_desire_race_exactly_one_wins(void **state)
{
    struct worker ws[16];
    Models__ActualLRPsResponse *r;
    json_t *els;
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "race-desire");
    init_workers(ws, 16, RACE_DESIRE, guid, 1);
    run_workers(ws, 16);
    one_winner(ws, 16, E(ResourceExists));
    r = it_list_actuals(guid);
    assert_int_equal(r->n_actual_lrps, 3);
    for (int32_t i = 0; i < 3; i++) {
        const Models__ActualLRP *a = it_find_actual(r, i, 0);
        assert_non_null(a);
        assert_string_equal(a->state, "UNCLAIMED");
        assert_int_equal(a->modification_tag->index, 0);
    }
    it_free(r);
    els = it_auction_wait(guid, 1, 5000);
    json_decref(els);
    it_sleep_ms(it_quiet_ms());
    els = it_auction_starts(guid);
    assert_int_equal(json_array_size(els), 1);
    json_decref(els);
}

/* The same races with one thread per connection (http_thread_per_connection). */
static int setup_thread_per_connection(void **state)
{
    json_t *extra = json_pack("{s:b}", "http_thread_per_connection", 1);
    int rc;

    (void)state;
    it_server_config(extra);
    rc = it_server_start("races_tpc", NULL);
    it_server_config(NULL);
    json_decref(extra);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claim_race_exactly_one_wins),
        cmocka_unit_test(test_claim_race_same_key_all_succeed),
        cmocka_unit_test(test_claim_race_distinct_indices_all_succeed),
        cmocka_unit_test(test_start_race_on_claimed_one_wins),
        cmocka_unit_test(test_crash_race_counts_once),
        cmocka_unit_test(test_desire_race_exactly_one_wins),
    };
    int rc;

    it_set_name("races");
    rc = cmocka_run_group_tests_name("api_races", tests, it_group_setup, it_group_teardown);
    if (rc == 0) {
        rc = cmocka_run_group_tests_name("api_races_thread_per_connection", tests,
                                         setup_thread_per_connection, it_group_teardown);
    }
    return it_main_exit(rc);
}
