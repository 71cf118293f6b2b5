/*
 * test_convergence_locket.c - convergence in the binary with its cells
 * read from Locket (the stand-in of support/locket.h): a cell that leaves
 * Locket has its instances made SUSPECT and replaced by the next run
 * (test_convergence_cells shows the poll starting one at once), and the
 * replacement started elsewhere removes the suspect; a cell that comes back
 * first has its suspect promoted back and the replacement deleted; a
 * Locket that fails destroys nothing (the cell-set safety rule,
 * docs/architecture.md). With a cell whose rep is the recording stand-in
 * (support/rep.h, mutual TLS): internal-route drift of a running instance
 * is pushed to its rep, and an extra index is stopped through its rep.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/locket.h"
#include "support/rep.h"

#define DOMAIN   "locket-fresh"
#define WAIT_MS  30000
#define REP_CELL "lk-cell-rep"

static int row(const char *guid, int presence, char *state, char *cell)
{
    Models__ActualLRPsResponse *r = it_list_actuals(guid);
    const Models__ActualLRP *a = it_find_actual(r, 0, presence);
    int found = a != NULL;

    state[0] = cell[0] = '\0';
    if (a != NULL) {
        snprintf(state, 32, "%s", a->state);
        snprintf(cell, 64, "%s",
                 a->actual_lrp_instance_key ? a->actual_lrp_instance_key->cell_id : "");
    }
    it_free(r);
    return found;
}

static int log_count(const char *needle)
{
    char *log = it_server_log();
    int n = 0;

    for (const char *p = log; p != NULL && (p = strstr(p, needle)) != NULL; p++) {
        n++;
    }
    free(log);
    return n;
}

static void wait_runs(int k)
{
    int until = log_count("converge.run\"") + k;
    int64_t t0 = it_mono_ms();

    while (log_count("converge.run\"") < until) {
        if (it_mono_ms() - t0 > WAIT_MS) {
            fail_msg("no convergence run within %d ms", WAIT_MS);
        }
        it_sleep_ms(50);
    }
}

static void new_running(char *guid, size_t len, const char *prefix, const char *cell)
{
    json_t *a;

    it_uniq(guid, len, prefix);
    it_desire(guid, DOMAIN, 1);
    a = it_auction_wait(guid, 1, 5000);
    assert_int_equal(json_array_size(a), 1);
    json_decref(a);
    assert_int_equal(it_start(guid, 0, DOMAIN, "ig-1", cell, "10.0.0.1"), IT_OK);
}

static void test_cell_leaves_locket_suspect_and_replacement(void **state)
{
    char guid[64];
    char st[32];
    char cell[64];
    json_t *a;
    int64_t t0;

    (void)state;
    assert_int_equal(it_locket_register_cell("lk-cell-a", "z1", NULL), 0);
    assert_int_equal(it_locket_register_cell("lk-cell-b", "z1", NULL), 0);
    new_running(guid, sizeof(guid), "lkvanish", "lk-cell-a");
    wait_runs(1); /* both cells seen */
    assert_int_equal(row(guid, MODELS__ACTUAL_LRP__PRESENCE__SUSPECT, st, cell), 0);

    assert_int_equal(it_locket_remove("lk-cell-a"), 0);
    t0 = it_mono_ms();
    while (!row(guid, MODELS__ACTUAL_LRP__PRESENCE__SUSPECT, st, cell)) {
        if (it_mono_ms() - t0 > WAIT_MS) {
            fail_msg("%s: no suspect after %d ms", guid, WAIT_MS);
        }
        it_sleep_ms(50);
    }
    assert_string_equal(st, "RUNNING");
    assert_string_equal(cell, "lk-cell-a");
    assert_int_equal(row(guid, MODELS__ACTUAL_LRP__PRESENCE__ORDINARY, st, cell), 1);
    a = it_auction_wait(guid, 2, WAIT_MS);
    assert_int_equal(json_array_size(a), 2);
    json_decref(a);

    /* The replacement is placed on the other cell: its start removes the suspect. */
    assert_int_equal(row(guid, MODELS__ACTUAL_LRP__PRESENCE__ORDINARY, st, cell), 1);
    assert_string_equal(st, "UNCLAIMED");
    assert_int_equal(it_claim(guid, 0, "ig-2", "lk-cell-b"), IT_OK);
    assert_int_equal(it_start(guid, 0, DOMAIN, "ig-2", "lk-cell-b", "10.0.0.2"), IT_OK);
    assert_int_equal(row(guid, MODELS__ACTUAL_LRP__PRESENCE__SUSPECT, st, cell), 0);
    assert_int_equal(row(guid, MODELS__ACTUAL_LRP__PRESENCE__ORDINARY, st, cell), 1);
    assert_string_equal(st, "RUNNING");
    assert_string_equal(cell, "lk-cell-b");
    assert_int_equal(it_actual_count(guid), 1);
    wait_runs(1); /* and a run keeps it so */
    assert_int_equal(it_actual_count(guid), 1);
    assert_int_equal(row(guid, MODELS__ACTUAL_LRP__PRESENCE__ORDINARY, st, cell), 1);
    assert_string_equal(st, "RUNNING");
    assert_string_equal(cell, "lk-cell-b");
}

static void test_cell_back_before_replacement_starts_promotes_suspect(void **state)
{
    char guid[64];
    char st[32];
    char cell[64];
    struct it_alrp o;
    json_t *a;
    int64_t t0;

    (void)state;
    assert_int_equal(it_locket_register_cell("lk-cell-d", "z1", NULL), 0);
    new_running(guid, sizeof(guid), "lkback", "lk-cell-d");
    wait_runs(1);
    assert_int_equal(it_locket_remove("lk-cell-d"), 0);
    t0 = it_mono_ms();
    while (!row(guid, MODELS__ACTUAL_LRP__PRESENCE__SUSPECT, st, cell)) {
        if (it_mono_ms() - t0 > WAIT_MS) {
            fail_msg("%s: no suspect after %d ms", guid, WAIT_MS);
        }
        it_sleep_ms(50);
    }
    a = it_auction_wait(guid, 2, WAIT_MS);
    assert_int_equal(json_array_size(a), 2);
    json_decref(a);
    assert_int_equal(row(guid, MODELS__ACTUAL_LRP__PRESENCE__ORDINARY, st, cell), 1);
    assert_string_equal(st, "UNCLAIMED");

    /* The cell is back before anyone claimed the replacement. */
    assert_int_equal(it_locket_register_cell("lk-cell-d", "z1", NULL), 0);
    t0 = it_mono_ms();
    while (row(guid, MODELS__ACTUAL_LRP__PRESENCE__SUSPECT, st, cell)) {
        if (it_mono_ms() - t0 > WAIT_MS) {
            fail_msg("%s: suspect not promoted after %d ms", guid, WAIT_MS);
        }
        it_sleep_ms(50);
    }
    assert_int_equal(it_actual_count(guid), 1);
    it_assert_state(guid, 0, "RUNNING", &o);
    assert_string_equal(o.cell_id, "lk-cell-d");
    assert_string_equal(o.instance_guid, "ig-1");
    assert_string_equal(o.address, "10.0.0.1");
    wait_runs(1);
    assert_int_equal(it_actual_count(guid), 1);
    it_assert_state(guid, 0, "RUNNING", &o);
    assert_string_equal(o.instance_guid, "ig-1");
}

static void test_internal_route_drift_updates_the_rep(void **state)
{
    static const char hosts[] = "[{\"hostname\":\"drift.apps.internal\"},"
                                "{\"hostname\":\"drift-2.apps.internal\"}]";
    Models__ProtoRoutes routes = MODELS__PROTO_ROUTES__INIT;
    Models__ProtoRoutes__RoutesEntry e = MODELS__PROTO_ROUTES__ROUTES_ENTRY__INIT;
    Models__ProtoRoutes__RoutesEntry *ep[1] = {&e};
    struct it_dlrp d;
    struct it_rep_call c;
    struct it_alrp o;
    char guid[64];
    char path[300];
    char want[1024];
    json_t *a;

    (void)state;
    it_uniq(guid, sizeof(guid), "lkdrift");
    it_dlrp_init(&d, guid, 1);
    d.lrp.domain = (char *)DOMAIN;
    e.key = (char *)"internal-router";
    e.value.data = (uint8_t *)hosts;
    e.value.len = strlen(hosts);
    routes.n_routes = 1;
    routes.routes = ep;
    d.lrp.routes = &routes;
    assert_int_equal(it_desire_lrp(&d.lrp), IT_OK);
    a = it_auction_wait(guid, 1, 5000);
    assert_int_equal(json_array_size(a), 1);
    json_decref(a);
    /* Started with no internal routes: the stored set drifts from the desired one. */
    assert_int_equal(it_claim(guid, 0, "ig-drift", REP_CELL), IT_OK);
    assert_int_equal(it_start(guid, 0, DOMAIN, "ig-drift", REP_CELL, "10.0.0.3"), IT_OK);
    it_assert_state(guid, 0, "RUNNING", &o);
    assert_int_equal(o.n_internal_routes, 0);

    snprintf(path, sizeof(path), "/v2/lrps/%s/instances/ig-drift", guid);
    if (it_rep_wait(path, 1, WAIT_MS, &c, 1) != 1) {
        fail_msg("no update call for %s", path);
    }
    assert_string_equal(c.method, "PUT");
    assert_string_equal(c.path, path);
    assert_string_equal(c.content_type, "application/json");
    assert_true(c.verified);
    assert_string_equal(c.cn, "bbs-client");
    snprintf(want, sizeof(want),
             "{\"instance_guid\":\"ig-drift\",\"process_guid\":\"%s\",\"index\":0,"
             "\"domain\":\"%s\",\"internal_routes\":[{\"hostname\":\"drift.apps.internal\"},"
             "{\"hostname\":\"drift-2.apps.internal\"}],\"metric_tags\":null}",
             guid, DOMAIN);
    assert_string_equal(c.body, want);
    /* The rep is only told: the row is unchanged. */
    it_assert_state(guid, 0, "RUNNING", &o);
    assert_string_equal(o.instance_guid, "ig-drift");
    assert_int_equal(o.n_internal_routes, 0);
}

static void test_extra_index_stopped_through_the_rep(void **state)
{
    struct it_rep_call c;
    struct it_alrp o;
    char guid[64];
    char path[300];

    (void)state;
    new_running(guid, sizeof(guid), "lkextra", REP_CELL);
    /* Index 1 of a one-instance LRP (start creates the row), on the stand-in rep's cell. */
    assert_int_equal(it_start(guid, 1, DOMAIN, "ig-extra", REP_CELL, "10.0.0.4"), IT_OK);

    snprintf(path, sizeof(path), "/v1/lrps/%s/instances/ig-extra/stop", guid);
    if (it_rep_wait(path, 1, WAIT_MS, &c, 1) != 1) {
        fail_msg("no stop call for %s", path);
    }
    assert_string_equal(c.method, "POST");
    assert_string_equal(c.path, path);
    assert_string_equal(c.body, "");
    assert_true(c.verified);
    assert_string_equal(c.cn, "bbs-client");
    /* Index 0 is wanted: never stopped. */
    snprintf(path, sizeof(path), "/v1/lrps/%s/instances/ig-1/stop", guid);
    assert_int_equal(it_rep_count(path), 0);
    /* The row stays until the rep removes it. */
    it_assert_state(guid, 1, "RUNNING", &o);
    assert_string_equal(o.instance_guid, "ig-extra");
    assert_string_equal(o.cell_id, REP_CELL);
    it_assert_state(guid, 0, "RUNNING", &o);
    assert_string_equal(o.instance_guid, "ig-1");
    assert_int_equal(it_actual_count(guid), 2);
}

static void test_locket_failing_destroys_nothing(void **state)
{
    char guid[64];
    char st[32];
    char cell[64];

    (void)state;
    assert_int_equal(it_locket_register_cell("lk-cell-c", "z1", NULL), 0);
    new_running(guid, sizeof(guid), "lkdown", "lk-cell-c");
    wait_runs(1);
    assert_int_equal(it_locket_fail("UNAVAILABLE", "locket is down"), 0);
    wait_runs(2);
    assert_true(log_count("\"cells\":\"locket-failed\"") >= 1);
    assert_int_equal(row(guid, MODELS__ACTUAL_LRP__PRESENCE__SUSPECT, st, cell), 0);
    assert_int_equal(row(guid, MODELS__ACTUAL_LRP__PRESENCE__ORDINARY, st, cell), 1);
    assert_string_equal(st, "RUNNING");
    assert_string_equal(cell, "lk-cell-c");
    assert_int_equal(it_locket_fail("OK", NULL), 0);
}

static int setup(void **state)
{
    Models__UpsertDomainRequest up = MODELS__UPSERT_DOMAIN_REQUEST__INIT;
    json_t *extra;
    json_t *rep_cfg;
    json_t *over;
    int rc;

    (void)state;
    if (it_locket_start() != 0 || it_rep_start() != 0) {
        return -1;
    }
    extra = it_locket_server_config();
    rep_cfg = it_rep_server_config();
    json_object_update(extra, rep_cfg);
    json_decref(rep_cfg);
    json_object_set_new(extra, "converge_repeat_interval", json_string("500ms"));
    if (getenv("BBS_VALGRIND") != NULL && strcmp(getenv("BBS_VALGRIND"), "1") == 0) {
        json_object_set_new(extra, "communication_timeout", json_string("60s"));
    }
    it_server_config(extra);
    rc = it_server_start("convergence_locket", NULL);
    it_server_config(NULL);
    json_decref(extra);
    if (rc != 0) {
        return -1;
    }
    over = json_pack("{s:s}", "rep_url", it_rep_url());
    rc = it_locket_register_cell(REP_CELL, "z1", over);
    json_decref(over);
    if (rc != 0) {
        return -1;
    }
    up.domain = (char *)DOMAIN;
    up.ttl = 0;
    return it_call_err("/v1/domains/upsert", &up.base,
                       &models__upsert_domain_response__descriptor) == IT_OK
               ? 0
               : -1;
}

static int teardown(void **state)
{
    int rc = it_group_teardown(state);

    it_rep_stop();
    it_locket_stop();
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cell_leaves_locket_suspect_and_replacement),
        cmocka_unit_test(test_cell_back_before_replacement_starts_promotes_suspect),
        cmocka_unit_test(test_internal_route_drift_updates_the_rep),
        cmocka_unit_test(test_extra_index_stopped_through_the_rep),
        cmocka_unit_test(test_locket_failing_destroys_nothing),
    };

    it_set_name("convergence_locket");
    return it_main_exit(cmocka_run_group_tests_name("convergence_locket", tests, setup, teardown));
}
