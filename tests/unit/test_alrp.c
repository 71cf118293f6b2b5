/*
 * test_alrp.c - the ActualLRP lifecycle core, row by row of reference
 * 3.2 (transition table), 3.3-3.7 (calls), 3.9 (restart policy) and 6.4
 * (truncation).
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "bbs/alrp.h"

#define NOW_NS INT64_C(1700000000000000000)
#define SEC    INT64_C(1000000000)

static const struct bbs_instance_key NOBODY = {"", ""};
static const struct bbs_instance_key CELL_A = {"ig-1", "cell-a"};
static const struct bbs_instance_key CELL_B = {"ig-2", "cell-b"};
static const struct bbs_instance_key CELL_A_OTHER_GUID = {"ig-9", "cell-a"};

static struct bbs_alrp make_row(enum bbs_alrp_state s, const struct bbs_instance_key *owner)
{
    struct bbs_alrp a = {
        .key = {"pg-1", 0, "cf-apps"},
        .instance = *owner,
        .state = s,
        .presence = BBS_PRESENCE_ORDINARY,
        .since_ns = NOW_NS - 10 * SEC,
        .crash_count = 0,
        .crash_reason = "",
        .placement_error = "",
        .net_info = {NULL, 0, 1},
        .internal_routes = {NULL, 0, 1},
        .metric_tags = {NULL, 0, 1},
        .routable = 0,
        .availability_zone = "",
        .mod_epoch = "epoch",
        .mod_index = 7,
    };
    return a;
}

/* ---- 3.2: one row per (from, to, instance key) cell of the table ---- */

struct allow_case {
    const char *name;
    enum bbs_alrp_state from;
    const struct bbs_instance_key *stored;
    const struct bbs_instance_key *req;
    enum bbs_alrp_state to;
    int want;
};

static const struct allow_case allow_cases[] = {
    {"unclaimed_to_unclaimed", BBS_ALRP_UNCLAIMED, &NOBODY, &CELL_A, BBS_ALRP_UNCLAIMED, 1},
    {"unclaimed_to_claimed_any", BBS_ALRP_UNCLAIMED, &NOBODY, &CELL_A, BBS_ALRP_CLAIMED, 1},
    {"unclaimed_to_running_any", BBS_ALRP_UNCLAIMED, &NOBODY, &CELL_B, BBS_ALRP_RUNNING, 1},
    {"unclaimed_to_crashed_no", BBS_ALRP_UNCLAIMED, &NOBODY, &NOBODY, BBS_ALRP_CRASHED, 0},
    {"claimed_to_unclaimed_empty", BBS_ALRP_CLAIMED, &CELL_A, &NOBODY, BBS_ALRP_UNCLAIMED, 1},
    {"claimed_to_unclaimed_key", BBS_ALRP_CLAIMED, &CELL_A, &CELL_A, BBS_ALRP_UNCLAIMED, 0},
    {"claimed_to_claimed_same", BBS_ALRP_CLAIMED, &CELL_A, &CELL_A, BBS_ALRP_CLAIMED, 1},
    {"claimed_to_claimed_other", BBS_ALRP_CLAIMED, &CELL_A, &CELL_B, BBS_ALRP_CLAIMED, 0},
    {"claimed_to_claimed_other_guid", BBS_ALRP_CLAIMED, &CELL_A, &CELL_A_OTHER_GUID,
     BBS_ALRP_CLAIMED, 0},
    {"claimed_to_running_other", BBS_ALRP_CLAIMED, &CELL_A, &CELL_B, BBS_ALRP_RUNNING, 1},
    {"claimed_to_crashed_same", BBS_ALRP_CLAIMED, &CELL_A, &CELL_A, BBS_ALRP_CRASHED, 1},
    {"claimed_to_crashed_other", BBS_ALRP_CLAIMED, &CELL_A, &CELL_B, BBS_ALRP_CRASHED, 0},
    {"running_to_unclaimed_empty", BBS_ALRP_RUNNING, &CELL_A, &NOBODY, BBS_ALRP_UNCLAIMED, 1},
    {"running_to_unclaimed_key", BBS_ALRP_RUNNING, &CELL_A, &CELL_A, BBS_ALRP_UNCLAIMED, 0},
    {"running_to_claimed_same", BBS_ALRP_RUNNING, &CELL_A, &CELL_A, BBS_ALRP_CLAIMED, 1},
    {"running_to_claimed_other", BBS_ALRP_RUNNING, &CELL_A, &CELL_B, BBS_ALRP_CLAIMED, 0},
    {"running_to_running_same", BBS_ALRP_RUNNING, &CELL_A, &CELL_A, BBS_ALRP_RUNNING, 1},
    {"running_to_running_other", BBS_ALRP_RUNNING, &CELL_A, &CELL_B, BBS_ALRP_RUNNING, 0},
    {"running_to_crashed_same", BBS_ALRP_RUNNING, &CELL_A, &CELL_A, BBS_ALRP_CRASHED, 1},
    {"running_to_crashed_other", BBS_ALRP_RUNNING, &CELL_A, &CELL_B, BBS_ALRP_CRASHED, 0},
    {"crashed_to_unclaimed_empty", BBS_ALRP_CRASHED, &NOBODY, &NOBODY, BBS_ALRP_UNCLAIMED, 1},
    {"crashed_to_claimed_any", BBS_ALRP_CRASHED, &NOBODY, &CELL_A, BBS_ALRP_CLAIMED, 0},
    {"crashed_to_running_any", BBS_ALRP_CRASHED, &NOBODY, &CELL_A, BBS_ALRP_RUNNING, 0},
    {"crashed_to_crashed_no", BBS_ALRP_CRASHED, &NOBODY, &NOBODY, BBS_ALRP_CRASHED, 0},
};

static void test_allow_case(void **state)
{
    const struct allow_case *c = *state;
    struct bbs_alrp cur = make_row(c->from, c->stored);

    assert_int_equal(bbs_alrp_allows(&cur, &cur.key, c->req, c->to), c->want);
}

static void test_allow_domain_mismatch(void **state)
{
    struct bbs_alrp cur = make_row(BBS_ALRP_UNCLAIMED, &NOBODY);
    struct bbs_alrp_key other = {"pg-1", 0, "other-domain"};

    (void)state;
    assert_false(bbs_alrp_allows(&cur, &other, &CELL_A, BBS_ALRP_RUNNING));
}

/* ---- claim (3.3) ---- */

struct claim_case {
    const char *name;
    int has_ordinary;
    enum bbs_alrp_state from;
    const struct bbs_instance_key *owner;
    const struct bbs_instance_key *suspect; /* NULL = no suspect row */
    const struct bbs_instance_key *claimer;
    int want_rc;
    enum bbs_error_type want_err;
    enum bbs_alrp_write want_write;
};

static const struct claim_case claim_cases[] = {
    {"claim_unclaimed", 1, BBS_ALRP_UNCLAIMED, &NOBODY, NULL, &CELL_A, 0, 0, BBS_ALRP_WRITE_UPDATE},
    {"claim_idempotent_reclaim", 1, BBS_ALRP_CLAIMED, &CELL_A, NULL, &CELL_A, 0, 0,
     BBS_ALRP_WRITE_NONE},
    {"claim_running_same_key", 1, BBS_ALRP_RUNNING, &CELL_A, NULL, &CELL_A, 0, 0,
     BBS_ALRP_WRITE_UPDATE},
    {"claim_claimed_other_cell", 1, BBS_ALRP_CLAIMED, &CELL_A, NULL, &CELL_B, -1,
     BBS_ERR_ACTUAL_LRP_CANNOT_BE_CLAIMED, BBS_ALRP_WRITE_NONE},
    {"claim_running_other_guid", 1, BBS_ALRP_RUNNING, &CELL_A, NULL, &CELL_A_OTHER_GUID, -1,
     BBS_ERR_ACTUAL_LRP_CANNOT_BE_CLAIMED, BBS_ALRP_WRITE_NONE},
    {"claim_crashed", 1, BBS_ALRP_CRASHED, &NOBODY, NULL, &CELL_A, -1,
     BBS_ERR_ACTUAL_LRP_CANNOT_BE_CLAIMED, BBS_ALRP_WRITE_NONE},
    {"claim_missing", 0, BBS_ALRP_UNCLAIMED, &NOBODY, NULL, &CELL_A, -1, BBS_ERR_RESOURCE_NOT_FOUND,
     BBS_ALRP_WRITE_NONE},
    {"claim_matches_suspect", 1, BBS_ALRP_CLAIMED, &CELL_B, &CELL_A, &CELL_A, 0, 0,
     BBS_ALRP_WRITE_NONE},
};

static void test_claim_case(void **state)
{
    const struct claim_case *c = *state;
    struct bbs_alrp cur = make_row(c->from, c->owner);
    struct bbs_alrp sus = make_row(BBS_ALRP_RUNNING, c->suspect ? c->suspect : &NOBODY);
    struct bbs_alrp_set set = {c->has_ordinary ? &cur : NULL, NULL, c->suspect ? &sus : NULL};
    struct bbs_alrp next = {0};
    struct bbs_error err = {0};
    enum bbs_alrp_write w = BBS_ALRP_WRITE_DELETE;
    int rc;

    sus.presence = BBS_PRESENCE_SUSPECT;
    rc = bbs_alrp_claim(&set, c->claimer, NOW_NS, &next, &w, &err);
    assert_int_equal(rc, c->want_rc);
    assert_int_equal(cur.mod_index, 7); /* input untouched */
    if (rc != 0) {
        assert_int_equal(err.type, c->want_err);
        return;
    }
    assert_int_equal(w, c->want_write);
    if (w == BBS_ALRP_WRITE_UPDATE) {
        assert_int_equal(next.state, BBS_ALRP_CLAIMED);
        assert_string_equal(next.instance.cell_id, c->claimer->cell_id);
        assert_string_equal(next.instance.instance_guid, c->claimer->instance_guid);
        assert_int_equal(next.mod_index, 8);
        assert_true(next.since_ns == NOW_NS);
        assert_string_equal(next.placement_error, "");
        assert_int_equal(next.net_info.len, 0);
    }
}

/* ---- start (3.4) ---- */

static const uint8_t NET_A[] = {0x0a, 0x07, '1', '.', '2', '.', '3', '.', '4'};

static struct bbs_start_input start_input(const struct bbs_instance_key *k)
{
    struct bbs_start_input in = {
        .key = {"pg-1", 0, "cf-apps"},
        .instance = *k,
        .net_info = {NET_A, sizeof(NET_A), 1},
        .internal_routes = {NULL, 0, 0},
        .metric_tags = {NULL, 0, 0},
        .routable = 1,
        .availability_zone = "z1",
    };
    return in;
}

static void test_start_missing_inserts_running(void **state)
{
    struct bbs_alrp_set set = {NULL, NULL, NULL};
    struct bbs_start_input in = start_input(&CELL_A);
    struct bbs_alrp next;
    struct bbs_error err = {0};
    enum bbs_alrp_write w;

    (void)state;
    assert_int_equal(bbs_alrp_start(&set, &in, NOW_NS, &next, &w, &err), 0);
    assert_int_equal(w, BBS_ALRP_WRITE_INSERT);
    assert_int_equal(next.state, BBS_ALRP_RUNNING);
    assert_int_equal(next.crash_count, 0);
    assert_int_equal(next.mod_index, 0);
    assert_true(next.since_ns == NOW_NS);
    assert_string_equal(next.instance.cell_id, "cell-a");
}

static void test_start_identical_is_noop(void **state)
{
    struct bbs_start_input in = start_input(&CELL_A);
    struct bbs_alrp cur = make_row(BBS_ALRP_RUNNING, &CELL_A);
    struct bbs_alrp_set set = {&cur, NULL, NULL};
    struct bbs_alrp next;
    struct bbs_error err = {0};
    enum bbs_alrp_write w;

    (void)state;
    cur.net_info = in.net_info;
    cur.internal_routes = in.internal_routes;
    cur.metric_tags = in.metric_tags;
    cur.routable = 1;
    cur.availability_zone = "z1";
    assert_int_equal(bbs_alrp_start(&set, &in, NOW_NS, &next, &w, &err), 0);
    assert_int_equal(w, BBS_ALRP_WRITE_NONE);

    /* the deprecated route's empty list differs from an absent one */
    in.internal_routes.present = 1;
    assert_int_equal(bbs_alrp_start(&set, &in, NOW_NS, &next, &w, &err), 0);
    assert_int_equal(w, BBS_ALRP_WRITE_UPDATE);
    assert_int_equal(next.mod_index, 8);
}

static void test_start_routable_change_is_update(void **state)
{
    struct bbs_start_input in = start_input(&CELL_A);
    struct bbs_alrp cur = make_row(BBS_ALRP_RUNNING, &CELL_A);
    struct bbs_alrp_set set = {&cur, NULL, NULL};
    struct bbs_alrp next;
    struct bbs_error err = {0};
    enum bbs_alrp_write w;

    (void)state;
    cur.net_info = in.net_info;
    cur.internal_routes = in.internal_routes;
    cur.metric_tags = in.metric_tags;
    cur.availability_zone = "z1";
    cur.routable = 0;
    cur.crash_count = 2;
    cur.crash_reason = "boom";
    assert_int_equal(bbs_alrp_start(&set, &in, NOW_NS, &next, &w, &err), 0);
    assert_int_equal(w, BBS_ALRP_WRITE_UPDATE);
    assert_int_equal(next.routable, 1);
    assert_int_equal(next.crash_count, 2); /* kept */
    assert_string_equal(next.crash_reason, "boom");
}

static void test_start_claimed_by_other_wins(void **state)
{
    struct bbs_start_input in = start_input(&CELL_B);
    struct bbs_alrp cur = make_row(BBS_ALRP_CLAIMED, &CELL_A);
    struct bbs_alrp_set set = {&cur, NULL, NULL};
    struct bbs_alrp next;
    struct bbs_error err = {0};
    enum bbs_alrp_write w;

    (void)state;
    assert_int_equal(bbs_alrp_start(&set, &in, NOW_NS, &next, &w, &err), 0);
    assert_int_equal(w, BBS_ALRP_WRITE_UPDATE);
    assert_string_equal(next.instance.cell_id, "cell-b");
    assert_int_equal(next.state, BBS_ALRP_RUNNING);
}

static void test_start_refused(void **state)
{
    struct bbs_start_input in = start_input(&CELL_B);
    struct bbs_alrp running = make_row(BBS_ALRP_RUNNING, &CELL_A);
    struct bbs_alrp crashed = make_row(BBS_ALRP_CRASHED, &NOBODY);
    struct bbs_alrp_set set = {&running, NULL, NULL};
    struct bbs_alrp next;
    struct bbs_error err = {0};
    enum bbs_alrp_write w;

    (void)state;
    assert_int_equal(bbs_alrp_start(&set, &in, NOW_NS, &next, &w, &err), -1);
    assert_int_equal(err.type, BBS_ERR_ACTUAL_LRP_CANNOT_BE_STARTED);
    set.ordinary = &crashed;
    assert_int_equal(bbs_alrp_start(&set, &in, NOW_NS, &next, &w, &err), -1);
    assert_int_equal(err.type, BBS_ERR_ACTUAL_LRP_CANNOT_BE_STARTED);
    /* domain mismatch */
    in = start_input(&CELL_A);
    in.key.domain = "other";
    set.ordinary = &running;
    assert_int_equal(bbs_alrp_start(&set, &in, NOW_NS, &next, &w, &err), -1);
    assert_int_equal(err.type, BBS_ERR_ACTUAL_LRP_CANNOT_BE_STARTED);
}

/* ---- crash (3.5, 3.9) ---- */

struct crash_case {
    const char *name;
    enum bbs_alrp_state from;
    int32_t stored_count;
    int64_t since_age_ns;
    int32_t want_count;
    enum bbs_alrp_state want_state;
    int want_restart;
};

static const struct crash_case crash_cases[] = {
    {"first_crash_restarts_now", BBS_ALRP_RUNNING, 0, 10 * SEC, 1, BBS_ALRP_UNCLAIMED, 1},
    {"second_crash_restarts_now", BBS_ALRP_RUNNING, 1, 10 * SEC, 2, BBS_ALRP_UNCLAIMED, 1},
    {"third_crash_waits", BBS_ALRP_RUNNING, 2, 10 * SEC, 3, BBS_ALRP_CRASHED, 0},
    {"claimed_crash_counts", BBS_ALRP_CLAIMED, 5, 600 * SEC, 6, BBS_ALRP_CRASHED, 0},
    {"long_running_resets_count", BBS_ALRP_RUNNING, 7, 301 * SEC, 1, BBS_ALRP_UNCLAIMED, 1},
    {"exactly_five_minutes_no_reset", BBS_ALRP_RUNNING, 7, 300 * SEC, 8, BBS_ALRP_CRASHED, 0},
    {"two_hundredth_crash", BBS_ALRP_RUNNING, 199, 10 * SEC, 200, BBS_ALRP_CRASHED, 0},
};

static void test_crash_case(void **state)
{
    const struct crash_case *c = *state;
    struct bbs_alrp cur = make_row(c->from, &CELL_A);
    struct bbs_alrp_set set = {&cur, NULL, NULL};
    struct bbs_alrp next;
    struct bbs_error err = {0};
    enum bbs_alrp_write w;
    enum bbs_presence target;
    char buf[BBS_REASON_MAX + 1];
    int restart = -1;

    cur.crash_count = c->stored_count;
    cur.since_ns = NOW_NS - c->since_age_ns;
    cur.placement_error = "kept";
    assert_int_equal(bbs_alrp_crash(&set, &cur.key, &CELL_A, "oom", buf, NOW_NS, &next, &w, &target,
                                    &restart, &err),
                     0);
    assert_int_equal(w, BBS_ALRP_WRITE_UPDATE);
    assert_int_equal(target, BBS_PRESENCE_ORDINARY);
    assert_int_equal(next.crash_count, c->want_count);
    assert_int_equal(next.state, c->want_state);
    assert_int_equal(restart, c->want_restart);
    assert_string_equal(next.crash_reason, "oom");
    assert_string_equal(next.placement_error, "kept");
    assert_true(bbs_instance_key_empty(&next.instance));
    assert_int_equal(next.net_info.len, 0);
    assert_int_equal(next.mod_index, 8);
    assert_true(next.since_ns == NOW_NS);
}

static void test_crash_refusals(void **state)
{
    struct bbs_alrp cur = make_row(BBS_ALRP_RUNNING, &CELL_A);
    struct bbs_alrp_set set = {&cur, NULL, NULL};
    struct bbs_alrp next;
    struct bbs_error err = {0};
    enum bbs_alrp_write w;
    enum bbs_presence target;
    char buf[BBS_REASON_MAX + 1];
    int restart;

    (void)state;
    assert_int_equal(bbs_alrp_crash(&set, &cur.key, &CELL_B, "", buf, NOW_NS, &next, &w, &target,
                                    &restart, &err),
                     -1);
    assert_int_equal(err.type, BBS_ERR_ACTUAL_LRP_CANNOT_BE_CRASHED);
    cur = make_row(BBS_ALRP_UNCLAIMED, &NOBODY);
    assert_int_equal(bbs_alrp_crash(&set, &cur.key, &CELL_A, "", buf, NOW_NS, &next, &w, &target,
                                    &restart, &err),
                     -1);
    assert_int_equal(err.type, BBS_ERR_ACTUAL_LRP_CANNOT_BE_CRASHED);
    set.ordinary = NULL;
    assert_int_equal(bbs_alrp_crash(&set, &cur.key, &CELL_A, "", buf, NOW_NS, &next, &w, &target,
                                    &restart, &err),
                     -1);
    assert_int_equal(err.type, BBS_ERR_RESOURCE_NOT_FOUND);
}

static void test_crash_suspect_deletes_it(void **state)
{
    struct bbs_alrp cur = make_row(BBS_ALRP_UNCLAIMED, &NOBODY);
    struct bbs_alrp sus = make_row(BBS_ALRP_RUNNING, &CELL_A);
    struct bbs_alrp_set set = {&cur, NULL, &sus};
    struct bbs_alrp next;
    struct bbs_error err = {0};
    enum bbs_alrp_write w;
    enum bbs_presence target;
    char buf[BBS_REASON_MAX + 1];
    int restart;

    (void)state;
    sus.presence = BBS_PRESENCE_SUSPECT;
    assert_int_equal(bbs_alrp_crash(&set, &cur.key, &CELL_A, "", buf, NOW_NS, &next, &w, &target,
                                    &restart, &err),
                     0);
    assert_int_equal(w, BBS_ALRP_WRITE_DELETE);
    assert_int_equal(target, BBS_PRESENCE_SUSPECT);
    assert_int_equal(restart, 0);
}

/* ---- fail (3.6), remove (3.7), unclaim (3.10) ---- */

static void test_fail_rules(void **state)
{
    struct bbs_alrp cur = make_row(BBS_ALRP_UNCLAIMED, &NOBODY);
    struct bbs_alrp_set set = {&cur, NULL, NULL};
    struct bbs_alrp next;
    struct bbs_error err = {0};
    enum bbs_alrp_write w;
    char buf[BBS_REASON_MAX + 1];

    (void)state;
    assert_int_equal(bbs_alrp_fail(&set, "no cells", buf, NOW_NS, &next, &w, &err), 0);
    assert_int_equal(w, BBS_ALRP_WRITE_UPDATE);
    assert_string_equal(next.placement_error, "no cells");
    assert_int_equal(next.state, BBS_ALRP_UNCLAIMED);
    assert_int_equal(next.mod_index, 8);
    assert_true(next.since_ns == NOW_NS);

    cur = make_row(BBS_ALRP_CLAIMED, &CELL_A);
    assert_int_equal(bbs_alrp_fail(&set, "x", buf, NOW_NS, &next, &w, &err), -1);
    assert_int_equal(err.type, BBS_ERR_ACTUAL_LRP_CANNOT_BE_FAILED);

    set.ordinary = NULL; /* a missing instance: success, nothing written */
    assert_int_equal(bbs_alrp_fail(&set, "x", buf, NOW_NS, &next, &w, &err), 0);
    assert_int_equal(w, BBS_ALRP_WRITE_NONE);
}

static void test_remove_rules(void **state)
{
    struct bbs_alrp cur = make_row(BBS_ALRP_RUNNING, &CELL_A);
    struct bbs_alrp_set set = {&cur, NULL, NULL};
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(bbs_alrp_remove(&set, NULL, &err), 0);
    assert_int_equal(bbs_alrp_remove(&set, &CELL_A, &err), 0);
    assert_int_equal(bbs_alrp_remove(&set, &CELL_B, &err), -1);
    assert_int_equal(err.type, BBS_ERR_RESOURCE_NOT_FOUND);
    assert_int_equal(bbs_alrp_remove(&set, &NOBODY, &err), -1);
    set.ordinary = NULL;
    assert_int_equal(bbs_alrp_remove(&set, NULL, &err), -1);
    assert_int_equal(err.type, BBS_ERR_RESOURCE_NOT_FOUND);
}

static void test_unclaim_rules(void **state)
{
    struct bbs_alrp cur = make_row(BBS_ALRP_RUNNING, &CELL_A);
    struct bbs_alrp next;
    struct bbs_error err = {0};

    (void)state;
    cur.crash_count = 4;
    assert_int_equal(bbs_alrp_unclaim(&cur, 0, NOW_NS, &next, &err), 0);
    assert_int_equal(next.state, BBS_ALRP_UNCLAIMED);
    assert_true(bbs_instance_key_empty(&next.instance));
    assert_int_equal(next.crash_count, 4);
    cur = make_row(BBS_ALRP_CLAIMED, &CELL_A);
    assert_int_equal(bbs_alrp_unclaim(&cur, 1, NOW_NS, &next, &err), -1);
    assert_int_equal(err.type, BBS_ERR_ACTUAL_LRP_CANNOT_BE_UNCLAIMED);
    cur = make_row(BBS_ALRP_UNCLAIMED, &NOBODY);
    assert_int_equal(bbs_alrp_unclaim(&cur, 0, NOW_NS, &next, &err), -1);
    assert_int_equal(err.type, BBS_ERR_ACTUAL_LRP_CANNOT_BE_UNCLAIMED);
}

/* ---- 3.9: restart policy table ---- */

struct restart_case {
    const char *name;
    int32_t count;
    int64_t age_ns;
    int want;
};

static const struct restart_case restart_cases[] = {
    {"count_1_now", 1, 0, 1},
    {"count_2_now", 2, 0, 1},
    {"count_3_before_30s", 3, 29 * SEC, 0},
    {"count_3_at_30s", 3, 30 * SEC, 1},
    {"count_4_before_60s", 4, 59 * SEC, 0},
    {"count_4_at_60s", 4, 60 * SEC, 1},
    {"count_5_at_2m", 5, 120 * SEC, 1},
    {"count_6_before_4m", 6, 239 * SEC, 0},
    {"count_7_at_8m", 7, 480 * SEC, 1},
    {"count_8_before_16m", 8, 959 * SEC, 0},
    {"count_8_at_16m", 8, 960 * SEC, 1},
    {"count_199_capped_16m", 199, 960 * SEC, 1},
    {"count_200_never", 200, 100000 * SEC, 0},
};

static void test_restart_case(void **state)
{
    const struct restart_case *c = *state;

    assert_int_equal(bbs_crash_should_restart(NOW_NS, NOW_NS - c->age_ns, c->count), c->want);
}

/* ---- 6.4: truncation ---- */

static void test_truncate_lengths(void **state)
{
    static char in[5001];
    char buf[BBS_REASON_MAX + 1];
    const size_t lens[] = {1023, 1024, 1025, 3000, 5000};

    (void)state;
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        const char *out;

        memset(in, 'x', lens[i]);
        in[lens[i]] = '\0';
        out = bbs_reason_truncate(in, buf);
        if (lens[i] < 1024) {
            assert_ptr_equal(out, in);
        } else {
            assert_int_equal(strlen(out), 1024);
            assert_string_equal(out + 1013, "(truncated)");
        }
    }
}

/* Clock extremes must not overflow (found by fuzz_decode; UBSan traps). */
static void test_clock_extremes_do_not_overflow(void **state)
{
    struct bbs_alrp cur = make_row(BBS_ALRP_RUNNING, &CELL_A);
    struct bbs_alrp_set set = {&cur, NULL, NULL};
    struct bbs_alrp next;
    struct bbs_error err = {0};
    enum bbs_alrp_write w;
    enum bbs_presence target;
    char buf[BBS_REASON_MAX + 1];
    int restart;

    (void)state;
    assert_int_equal(bbs_crash_should_restart(INT64_MIN, INT64_MAX, 5), 0);
    assert_int_equal(bbs_crash_should_restart(INT64_MAX, INT64_MIN, 5), 1);
    cur.since_ns = INT64_MAX;
    cur.crash_count = 4;
    assert_int_equal(bbs_alrp_crash(&set, &cur.key, &CELL_A, "", buf, INT64_MIN, &next, &w, &target,
                                    &restart, &err),
                     0);
    assert_int_equal(next.crash_count, 5);
    cur.since_ns = INT64_MIN;
    assert_int_equal(bbs_alrp_crash(&set, &cur.key, &CELL_A, "", buf, INT64_MAX, &next, &w, &target,
                                    &restart, &err),
                     0);
    assert_int_equal(next.crash_count, 1);
}

static void test_truncate_utf8_boundary(void **state)
{
    static char in[2000];
    char buf[BBS_REASON_MAX + 1];
    const char *out;

    (void)state;
    /* 1012 ASCII bytes, then 3-byte characters: byte 1013 is mid-character */
    memset(in, 'a', 1012);
    for (size_t i = 1012; i + 3 < 1500; i += 3) {
        memcpy(in + i, "\xe2\x82\xac", 3);
    }
    out = bbs_reason_truncate(in, buf);
    assert_int_equal(strlen(out), 1012 + strlen("(truncated)"));
    assert_string_equal(out + 1012, "(truncated)");
}

/* Every case struct starts with its name: register one test per row. */
static void add_cases(struct CMUnitTest *tests, size_t *n, const void *rows, size_t count,
                      size_t size, CMUnitTestFunction fn)
{
    for (size_t i = 0; i < count; i++) {
        const char *const *row = (const char *const *)((const char *)rows + i * size);

        tests[(*n)++] =
            (struct CMUnitTest){.name = *row, .test_func = fn, .initial_state = (void *)row};
    }
}

#define ROWS(arr) arr, sizeof(arr) / sizeof(arr[0]), sizeof(arr[0])

int main(void)
{
    struct CMUnitTest tests[128];
    size_t n = 0;

    add_cases(tests, &n, ROWS(allow_cases), test_allow_case);
    add_cases(tests, &n, ROWS(claim_cases), test_claim_case);
    add_cases(tests, &n, ROWS(crash_cases), test_crash_case);
    add_cases(tests, &n, ROWS(restart_cases), test_restart_case);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_allow_domain_mismatch);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_start_missing_inserts_running);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_start_identical_is_noop);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_start_routable_change_is_update);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_start_claimed_by_other_wins);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_start_refused);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_crash_refusals);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_crash_suspect_deletes_it);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_fail_rules);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_remove_rules);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_unclaim_rules);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_truncate_lengths);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_truncate_utf8_boundary);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_clock_extremes_do_not_overflow);
    return _cmocka_run_group_tests("alrp", tests, n, NULL, NULL);
}
