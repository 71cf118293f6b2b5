/*
 * test_convergence.c - the LRP convergence loop (reference 7) against the
 * binary, with a short converge_repeat_interval. No Locket is configured
 * here, so the cell set is unknown: the cell steps (2, 4, 9) are skipped
 * and everything else runs (docs/architecture.md, Convergence). States no
 * API call can reach (old `since`, wrong indices, orphans, evacuating
 * rows) are set up with SQL; results are observed through the API and the
 * stub auctioneer.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRESH   "conv-fresh"
#define STALE   "conv-stale" /* never upserted: not fresh */
#define WAIT_MS 20000

static int upsert_domain(const char *domain)
{
    Models__UpsertDomainRequest req = MODELS__UPSERT_DOMAIN_REQUEST__INIT;

    req.domain = (char *)domain;
    req.ttl = 0; /* never expires */
    return it_call_err("/v1/domains/upsert", &req.base,
                       &models__upsert_domain_response__descriptor);
}

/* Completed convergence runs so far, counted in the server log. */
static int runs(void)
{
    char *log = it_server_log();
    int n = 0;

    for (const char *p = log; p != NULL && (p = strstr(p, "converge.run\"")) != NULL; p++) {
        n++;
    }
    free(log);
    return n;
}

/* Wait until `k` more runs completed (so a repair that did not happen will not). */
static void wait_runs(int k)
{
    int until = runs() + k;
    int64_t t0 = it_mono_ms();

    while (runs() < until) {
        if (it_mono_ms() - t0 > WAIT_MS) {
            fail_msg("no convergence run within %d ms", WAIT_MS);
        }
        it_sleep_ms(50);
    }
}

static void sql(const char *stmt, int n, const char *const *params)
{
    if (it_db_exec(stmt, n, params) < 0) {
        fail_msg("sql failed: %s", stmt);
    }
}

/* Wait until the ORDINARY row (guid, index) exists (want = 1) or not (want = 0). */
static void wait_row(const char *guid, int32_t index, int want, struct it_alrp *out)
{
    int64_t t0 = it_mono_ms();

    while (it_actual(guid, index, out) != want) {
        if (it_mono_ms() - t0 > WAIT_MS) {
            fail_msg("%s/%d: row %s after %d ms", guid, index, want ? "missing" : "still there",
                     WAIT_MS);
        }
        it_sleep_ms(50);
    }
}

static void wait_state(const char *guid, int32_t index, const char *state, struct it_alrp *out)
{
    int64_t t0 = it_mono_ms();

    while (!it_actual(guid, index, out) || strcmp(out->state, state) != 0) {
        if (it_mono_ms() - t0 > WAIT_MS) {
            fail_msg("%s/%d: not %s after %d ms", guid, index, state, WAIT_MS);
        }
        it_sleep_ms(50);
    }
}

static void new_lrp(char *guid, size_t len, const char *prefix, const char *domain,
                    int32_t instances)
{
    json_t *a;

    it_uniq(guid, len, prefix);
    it_desire(guid, domain, instances);
    a = it_auction_wait(guid, 1, 5000);
    assert_int_equal(json_array_size(a), 1);
    json_decref(a);
}

/* Insert a row straight into the table (states only convergence or cells make). */
static void insert_row(const char *guid, int32_t index, int presence, const char *domain,
                       const char *state, const char *cell)
{
    char idx[16];
    char pres[16];
    const char *p[7];

    snprintf(idx, sizeof(idx), "%d", (int)index);
    snprintf(pres, sizeof(pres), "%d", presence);
    p[0] = guid;
    p[1] = idx;
    p[2] = pres;
    p[3] = domain;
    p[4] = state;
    p[5] = cell;
    p[6] = cell[0] != '\0' ? "ig-sql" : "";
    sql("INSERT INTO actual_lrps (process_guid, instance_index, presence, domain, state,"
        " cell_id, instance_guid, since, modification_tag_epoch)"
        " VALUES ($1, $2::int4, $3::int4, $4, $5, $6, $7, 1, 'epoch')",
        7, p);
}

/* ---- step 3: a lost auction ------------------------------------------------------------- */

static void test_stale_unclaimed_is_auctioned_again(void **state)
{
    char guid[64];
    const char *p[1];
    struct it_alrp a;
    json_t *starts;
    int32_t idx[4];

    (void)state;
    new_lrp(guid, sizeof(guid), "stale", FRESH, 1);
    p[0] = guid;
    /* The auctioneer lost it: 60 s ago and nobody claimed it. */
    sql("UPDATE actual_lrps SET since = since - 60000000000 WHERE process_guid = $1", 1, p);
    starts = it_auction_wait(guid, 2, WAIT_MS);
    assert_true(json_array_size(starts) >= 2);
    assert_int_equal(it_auction_indices(json_array_get(starts, 1), idx, 4), 1);
    assert_int_equal(idx[0], 0);
    json_decref(starts);
    it_assert_state(guid, 0, "UNCLAIMED", &a); /* nothing written: still stale */
}

/* ---- step 5 / B: missing and extra instances ------------------------------------------- */

static void test_missing_instance_created_and_auctioned(void **state)
{
    char guid[64];
    const char *p[1];
    struct it_alrp a;
    json_t *starts;
    int32_t idx[4];

    (void)state;
    new_lrp(guid, sizeof(guid), "missing", FRESH, 2);
    p[0] = guid;
    sql("DELETE FROM actual_lrps WHERE process_guid = $1 AND instance_index = 1", 1, p);
    wait_row(guid, 1, 1, &a);
    assert_string_equal(a.state, "UNCLAIMED");
    starts = it_auction_wait(guid, 2, WAIT_MS);
    assert_int_equal(json_array_size(starts), 2);
    assert_int_equal(it_auction_indices(json_array_get(starts, 1), idx, 4), 1);
    assert_int_equal(idx[0], 1);
    json_decref(starts);
}

static void test_index_sets_not_counts(void **state)
{
    char guid[64];
    const char *p[1];
    struct it_alrp a;

    (void)state;
    new_lrp(guid, sizeof(guid), "indexset", FRESH, 3);
    p[0] = guid;
    /* Rows 0, 1, 5: the right count, the wrong indices. */
    sql("UPDATE actual_lrps SET instance_index = 5 WHERE process_guid = $1 AND instance_index = 2",
        1, p);
    wait_row(guid, 2, 1, &a);
    wait_row(guid, 5, 0, &a);
    assert_int_equal(it_actual_count(guid), 3);
}

static void test_extra_retired_only_in_fresh_domain(void **state)
{
    char fresh[64];
    char stale[64];
    struct it_alrp a;

    (void)state;
    new_lrp(fresh, sizeof(fresh), "extra", FRESH, 1);
    new_lrp(stale, sizeof(stale), "extrastale", STALE, 1);
    insert_row(fresh, 3, 0, FRESH, "RUNNING", "cell-x");
    insert_row(stale, 3, 0, STALE, "RUNNING", "cell-x");
    /* No Locket: every cell is unknown and the row is deleted (3.8). */
    wait_row(fresh, 3, 0, &a);
    wait_runs(2);
    assert_int_equal(it_actual(stale, 3, &a), 1);
    assert_string_equal(a.state, "RUNNING");
}

/* ---- step 6: orphans ------------------------------------------------------------------- */

static void test_orphans_retired_only_in_fresh_domain(void **state)
{
    char gone[64];
    char kept[64];
    struct it_alrp a;

    (void)state;
    it_uniq(gone, sizeof(gone), "orphan");
    it_uniq(kept, sizeof(kept), "orphankept");
    insert_row(gone, 0, 0, FRESH, "UNCLAIMED", "");
    insert_row(kept, 0, 0, STALE, "UNCLAIMED", "");
    wait_row(gone, 0, 0, &a);
    wait_runs(2);
    assert_int_equal(it_actual(kept, 0, &a), 1);
    assert_int_equal(it_auction_posts_for(gone), 0); /* orphans are never auctioned */
}

/* ---- step 7: orphaned suspects --------------------------------------------------------- */

static void test_orphaned_suspect_removed(void **state)
{
    char gone[64];

    (void)state;
    it_uniq(gone, sizeof(gone), "orphansusp");
    insert_row(gone, 0, 2, FRESH, "RUNNING", "cell-x");
    assert_int_equal(it_actual_count(gone), 1);
    wait_runs(2);
    assert_int_equal(it_actual_count(gone), 0);
}

/* ---- step 8: extra suspects ------------------------------------------------------------ */

static void test_extra_suspect_removed_when_replacement_runs(void **state)
{
    char guid[64];
    struct it_alrp a;

    (void)state;
    new_lrp(guid, sizeof(guid), "extrasusp", FRESH, 1);
    assert_int_equal(it_start(guid, 0, FRESH, "ig-new", "cell-new", "10.0.0.9"), IT_OK);
    insert_row(guid, 0, 2, FRESH, "RUNNING", "cell-old");
    assert_int_equal(it_actual_count(guid), 2);
    wait_runs(2);
    assert_int_equal(it_actual_count(guid), 1);
    it_assert_state(guid, 0, "RUNNING", &a);
    assert_string_equal(a.instance_guid, "ig-new");
}

/* ---- step 11 / C: crash back-off (3.9) ------------------------------------------------- */

static void crash_three_times(const char *guid)
{
    for (int i = 0; i < 3; i++) {
        assert_int_equal(it_claim(guid, 0, "ig-c", "cell-c"), IT_OK);
        assert_int_equal(it_start(guid, 0, FRESH, "ig-c", "cell-c", "10.0.0.3"), IT_OK);
        assert_int_equal(it_crash(guid, 0, FRESH, "ig-c", "cell-c", "boom"), IT_OK);
    }
}

static void test_third_crash_restarts_after_backoff(void **state)
{
    char guid[64];
    const char *p[1];
    struct it_alrp a;
    json_t *starts;
    size_t before;

    (void)state;
    new_lrp(guid, sizeof(guid), "crash", FRESH, 1);
    crash_three_times(guid);
    it_assert_state(guid, 0, "CRASHED", &a);
    assert_int_equal(a.crash_count, 3);
    starts = it_auction_starts(guid);
    before = json_array_size(starts); /* the desire and two immediate restarts */
    json_decref(starts);
    assert_int_equal(before, 3);
    wait_runs(2);
    it_assert_state(guid, 0, "CRASHED", &a); /* 30 s have not passed */

    p[0] = guid;
    sql("UPDATE actual_lrps SET since = since - 31000000000 WHERE process_guid = $1", 1, p);
    wait_state(guid, 0, "UNCLAIMED", &a);
    assert_int_equal(a.crash_count, 3); /* kept across the restart */
    starts = it_auction_wait(guid, before + 1, WAIT_MS);
    assert_int_equal(json_array_size(starts), before + 1);
    json_decref(starts);
}

static void test_fourth_crash_waits_longer(void **state)
{
    char guid[64];
    const char *p[1];
    struct it_alrp a;

    (void)state;
    new_lrp(guid, sizeof(guid), "crash4", FRESH, 1);
    crash_three_times(guid);
    p[0] = guid;
    /* Count 4 needs 60 s; 31 s have passed. */
    sql("UPDATE actual_lrps SET crash_count = 4, since = since - 31000000000"
        " WHERE process_guid = $1",
        1, p);
    wait_runs(2);
    it_assert_state(guid, 0, "CRASHED", &a);
    sql("UPDATE actual_lrps SET since = since - 30000000000 WHERE process_guid = $1", 1, p);
    wait_state(guid, 0, "UNCLAIMED", &a);
}

static void test_crash_limit_never_restarts(void **state)
{
    char guid[64];
    const char *p[1];
    struct it_alrp a;

    (void)state;
    new_lrp(guid, sizeof(guid), "crash200", FRESH, 1);
    crash_three_times(guid);
    p[0] = guid;
    sql("UPDATE actual_lrps SET crash_count = 200, since = 1 WHERE process_guid = $1", 1, p);
    wait_runs(2);
    it_assert_state(guid, 0, "CRASHED", &a);
}

/* ---- the cell-set rule without Locket -------------------------------------------------- */

static void test_no_locket_skips_cell_steps(void **state)
{
    char guid[64];
    char *log;
    struct it_alrp a;

    (void)state;
    new_lrp(guid, sizeof(guid), "nolocket", FRESH, 1);
    assert_int_equal(it_start(guid, 0, FRESH, "ig-r", "cell-r", "10.0.0.5"), IT_OK);
    /* An evacuating copy on a cell no Locket knows: step 2 would delete it. */
    insert_row(guid, 0, 1, FRESH, "RUNNING", "cell-evac");
    wait_runs(2);
    assert_int_equal(it_actual_count(guid), 2);
    it_assert_state(guid, 0, "RUNNING", &a);
    assert_string_equal(a.cell_id, "cell-r"); /* not made suspect */
    log = it_server_log();
    assert_non_null(strstr(log, "\"cells\":\"no-locket\""));
    free(log);
}

/* ---- the run's log line ---------------------------------------------------------------- */

static void test_run_log_line_has_counts(void **state)
{
    char *log;
    const char *line;
    const char *const keys[] = {"\"duration_ns\"",
                                "\"LRPsDesired\"",
                                "\"LRPsUnclaimed\"",
                                "\"LRPsClaimed\"",
                                "\"LRPsRunning\"",
                                "\"CrashedActualLRPs\"",
                                "\"LRPsMissing\"",
                                "\"LRPsExtra\"",
                                "\"SuspectRunningActualLRPs\"",
                                "\"SuspectClaimedActualLRPs\"",
                                "\"PresentCells\"",
                                "\"SuspectCells\""};

    (void)state;
    wait_runs(1);
    log = it_server_log();
    line = strstr(log, "converge.run\"");
    assert_non_null(line);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *k = strstr(line, keys[i]);
        const char *eol = strchr(line, '\n');

        assert_non_null(k);
        assert_true(eol == NULL || k < eol);
    }
    free(log);
}

static int setup(void **state)
{
    static json_t *extra;

    extra = json_pack("{s:s, s:i}", "converge_repeat_interval", "200ms", "convergence_workers", 4);
    it_server_config(extra);
    if (it_group_setup(state) != 0) {
        return -1;
    }
    it_server_config(NULL);
    json_decref(extra);
    return upsert_domain(FRESH) == IT_OK ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stale_unclaimed_is_auctioned_again),
        cmocka_unit_test(test_missing_instance_created_and_auctioned),
        cmocka_unit_test(test_index_sets_not_counts),
        cmocka_unit_test(test_extra_retired_only_in_fresh_domain),
        cmocka_unit_test(test_orphans_retired_only_in_fresh_domain),
        cmocka_unit_test(test_orphaned_suspect_removed),
        cmocka_unit_test(test_extra_suspect_removed_when_replacement_runs),
        cmocka_unit_test(test_third_crash_restarts_after_backoff),
        cmocka_unit_test(test_fourth_crash_waits_longer),
        cmocka_unit_test(test_crash_limit_never_restarts),
        cmocka_unit_test(test_no_locket_skips_cell_steps),
        cmocka_unit_test(test_run_log_line_has_counts),
    };

    it_set_name("convergence");
    return it_main_exit(
        cmocka_run_group_tests_name("convergence", tests, setup, it_group_teardown));
}
