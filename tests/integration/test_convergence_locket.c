/*
 * test_convergence_locket.c - convergence in the binary with its cells
 * read from Locket (the stand-in of support/locket.h): a cell that leaves
 * Locket has its instances made SUSPECT and replaced by the next run
 * (test_convergence_cells shows the poll starting one at once), and a
 * Locket that fails destroys nothing (the cell-set safety rule,
 * docs/architecture.md).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/locket.h"

#define DOMAIN  "locket-fresh"
#define WAIT_MS 30000

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
    int rc;

    (void)state;
    if (it_locket_start() != 0) {
        return -1;
    }
    extra = it_locket_server_config();
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

    it_locket_stop();
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cell_leaves_locket_suspect_and_replacement),
        cmocka_unit_test(test_locket_failing_destroys_nothing),
    };

    it_set_name("convergence_locket");
    return it_main_exit(cmocka_run_group_tests_name("convergence_locket", tests, setup, teardown));
}
