/*
 * test_evac.c - the evacuation decision tables of reference section 4, one
 * named test per row: situation x call -> row changes, auction,
 * keep_container, error.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "bbs/evac.h"

#define NOW_NS INT64_C(1700000000000000000)

enum call { CLAIMED, CRASHED, STOPPED, RUNNING, REMOVE };

/* Who holds a row: nobody (no row), the calling cell A, or another cell B. */
enum who { NONE, A, B, EMPTY };

static const struct bbs_instance_key KEY_A = {"ig-a", "cell-a"};
static const struct bbs_instance_key KEY_B = {"ig-b", "cell-b"};
static const struct bbs_instance_key KEY_EMPTY = {"", ""};

static const uint8_t NET_A[] = {0x0a, 0x03, '1', '.', '1'};
static const uint8_t NET_STORED[] = {0x0a, 0x03, '9', '.', '9'};

struct evac_case {
    const char *name;
    enum call call;
    enum bbs_alrp_state ord_state;
    enum who ord; /* NONE = no ordinary row */
    enum who evac;
    enum who suspect;
    enum bbs_alrp_state suspect_state;
    int desired_found;
    int recreate;
    int32_t instances;
    int32_t running;
    /* expected */
    enum bbs_error_type want_err; /* 0 = success */
    int keep;
    int del_evac;
    int del_suspect;
    int del_ordinary;
    enum bbs_alrp_write evac_write;
    enum bbs_alrp_write ord_write;
    enum bbs_alrp_state ord_next; /* when ord_write */
    int auction;
};

#define U  BBS_ALRP_UNCLAIMED
#define C  BBS_ALRP_CLAIMED
#define R  BBS_ALRP_RUNNING
#define X  BBS_ALRP_CRASHED
#define WN BBS_ALRP_WRITE_NONE
#define WI BBS_ALRP_WRITE_INSERT
#define WU BBS_ALRP_WRITE_UPDATE
#define NF BBS_ERR_RESOURCE_NOT_FOUND

static const struct evac_case cases[] = {
    /* 4.1 evacuate_claimed */
    {"claimed_no_target", CLAIMED, C, B, NONE, NONE, R, 1, 0, 1, 0, NF, 0, 0, 0, 0, WN, WN, U, 0},
    {"claimed_no_rows", CLAIMED, C, NONE, NONE, NONE, R, 1, 0, 1, 0, NF, 0, 0, 0, 0, WN, WN, U, 0},
    {"claimed_target_evacuating",
     CLAIMED,
     U,
     EMPTY,
     A,
     NONE,
     R,
     1,
     0,
     1,
     0,
     0,
     0,
     1,
     0,
     0,
     WN,
     WN,
     U,
     0},
    {"claimed_target_suspect",
     CLAIMED,
     U,
     EMPTY,
     NONE,
     A,
     R,
     1,
     0,
     1,
     0,
     0,
     0,
     0,
     1,
     0,
     WN,
     WN,
     U,
     0},
    {"claimed_ordinary_claimed_unclaims",
     CLAIMED,
     C,
     A,
     NONE,
     NONE,
     R,
     1,
     0,
     1,
     0,
     0,
     0,
     0,
     0,
     0,
     WN,
     WU,
     U,
     1},
    {"claimed_ordinary_running_unclaims",
     CLAIMED,
     R,
     A,
     NONE,
     NONE,
     R,
     1,
     0,
     1,
     0,
     0,
     0,
     0,
     0,
     0,
     WN,
     WU,
     U,
     1},
    /* 4.2 evacuate_crashed */
    {"crashed_no_target", CRASHED, R, B, NONE, NONE, R, 1, 0, 1, 0, NF, 0, 0, 0, 0, WN, WN, U, 0},
    {"crashed_target_evacuating",
     CRASHED,
     R,
     B,
     A,
     NONE,
     R,
     1,
     0,
     1,
     0,
     0,
     0,
     1,
     0,
     0,
     WN,
     WN,
     U,
     0},
    {"crashed_target_suspect",
     CRASHED,
     U,
     EMPTY,
     NONE,
     A,
     R,
     1,
     0,
     1,
     0,
     0,
     0,
     0,
     1,
     0,
     WN,
     WN,
     U,
     0},
    {"crashed_ordinary_running_restarts_no_auction",
     CRASHED,
     R,
     A,
     NONE,
     NONE,
     R,
     1,
     0,
     1,
     0,
     0,
     0,
     0,
     0,
     0,
     WN,
     WU,
     U,
     0},
    {"crashed_ordinary_claimed",
     CRASHED,
     C,
     A,
     NONE,
     NONE,
     R,
     1,
     0,
     1,
     0,
     0,
     0,
     0,
     0,
     0,
     WN,
     WU,
     U,
     0},
    /* 4.2 evacuate_stopped */
    {"stopped_no_target", STOPPED, R, B, NONE, NONE, R, 1, 0, 1, 0, NF, 0, 0, 0, 0, WN, WN, U, 0},
    {"stopped_target_evacuating",
     STOPPED,
     R,
     B,
     A,
     NONE,
     R,
     1,
     0,
     1,
     0,
     0,
     0,
     1,
     0,
     0,
     WN,
     WN,
     U,
     0},
    {"stopped_target_suspect",
     STOPPED,
     U,
     EMPTY,
     NONE,
     A,
     R,
     1,
     0,
     1,
     0,
     0,
     0,
     0,
     1,
     0,
     WN,
     WN,
     U,
     0},
    {"stopped_ordinary_deleted",
     STOPPED,
     R,
     A,
     NONE,
     NONE,
     R,
     1,
     0,
     1,
     0,
     0,
     0,
     0,
     0,
     1,
     WN,
     WN,
     U,
     0},
    /* 4.3 evacuate_running: common steps */
    {"running_no_rows", RUNNING, R, NONE, NONE, NONE, R, 1, 0, 1, 0, 0, 0, 0, 0, 0, WN, WN, U, 0},
    {"running_no_ordinary_removes_our_evacuating",
     RUNNING,
     R,
     NONE,
     A,
     NONE,
     R,
     1,
     0,
     1,
     0,
     0,
     0,
     1,
     0,
     0,
     WN,
     WN,
     U,
     0},
    {"running_replacement_running_removes_evacuating",
     RUNNING,
     R,
     B,
     A,
     NONE,
     R,
     1,
     0,
     1,
     0,
     0,
     0,
     1,
     0,
     0,
     WN,
     WN,
     U,
     0},
    {"running_replacement_crashed_removes_evacuating",
     RUNNING,
     X,
     EMPTY,
     A,
     NONE,
     R,
     1,
     0,
     1,
     0,
     0,
     0,
     1,
     0,
     0,
     WN,
     WN,
     U,
     0},
    {"running_desired_missing_removes_evacuating",
     RUNNING,
     U,
     EMPTY,
     A,
     NONE,
     R,
     0,
     0,
     0,
     0,
     0,
     0,
     1,
     0,
     0,
     WN,
     WN,
     U,
     0},
    {"running_replacement_running_suspect_target_left",
     RUNNING,
     R,
     B,
     NONE,
     A,
     R,
     1,
     0,
     1,
     0,
     0,
     0,
     0,
     0,
     0,
     WN,
     WN,
     U,
     0},
    /* 4.3 ROLLING */
    {"running_rolling_unknown_instance_creates_evacuating",
     RUNNING,
     U,
     EMPTY,
     NONE,
     NONE,
     R,
     1,
     0,
     1,
     0,
     0,
     1,
     0,
     0,
     0,
     WI,
     WN,
     U,
     0},
    {"running_rolling_claimed_by_other_creates_evacuating",
     RUNNING,
     C,
     B,
     NONE,
     NONE,
     R,
     1,
     0,
     1,
     0,
     0,
     1,
     0,
     0,
     0,
     WI,
     WN,
     U,
     0},
    {"running_rolling_other_cell_evacuating",
     RUNNING,
     U,
     EMPTY,
     B,
     NONE,
     R,
     1,
     0,
     1,
     0,
     0,
     0,
     0,
     0,
     0,
     WN,
     WN,
     U,
     0},
    {"running_rolling_our_evacuating_identical",
     RUNNING,
     U,
     EMPTY,
     A,
     NONE,
     R,
     1,
     0,
     1,
     0,
     0,
     1,
     0,
     0,
     0,
     WN,
     WN,
     U,
     0},
    {"running_rolling_dance_running",
     RUNNING,
     R,
     A,
     NONE,
     NONE,
     R,
     1,
     0,
     1,
     1,
     0,
     1,
     0,
     0,
     0,
     WI,
     WU,
     U,
     1},
    {"running_rolling_dance_claimed",
     RUNNING,
     C,
     A,
     NONE,
     NONE,
     R,
     1,
     0,
     1,
     0,
     0,
     1,
     0,
     0,
     0,
     WI,
     WU,
     U,
     1},
    {"running_rolling_dance_over_other_evacuating",
     RUNNING,
     R,
     A,
     B,
     NONE,
     R,
     1,
     0,
     1,
     1,
     0,
     1,
     0,
     0,
     0,
     WU,
     WU,
     U,
     1},
    {"running_rolling_dance_suspect",
     RUNNING,
     U,
     EMPTY,
     NONE,
     A,
     R,
     1,
     0,
     1,
     0,
     0,
     1,
     0,
     1,
     0,
     WI,
     WN,
     U,
     0},
    {"running_rolling_suspect_claimed_dance",
     RUNNING,
     C,
     B,
     NONE,
     A,
     C,
     1,
     0,
     1,
     0,
     0,
     1,
     0,
     1,
     0,
     WI,
     WN,
     U,
     0},
    /* 4.3 RECREATE */
    {"running_recreate_no_target",
     RUNNING,
     C,
     B,
     NONE,
     NONE,
     R,
     1,
     1,
     1,
     0,
     0,
     0,
     0,
     0,
     0,
     WN,
     WN,
     U,
     0},
    {"running_recreate_target_evacuating",
     RUNNING,
     U,
     EMPTY,
     A,
     NONE,
     R,
     1,
     1,
     1,
     0,
     0,
     0,
     1,
     0,
     0,
     WN,
     WN,
     U,
     0},
    {"running_recreate_target_suspect",
     RUNNING,
     U,
     EMPTY,
     NONE,
     A,
     R,
     1,
     1,
     1,
     0,
     0,
     0,
     0,
     1,
     0,
     WN,
     WN,
     U,
     0},
    {"running_recreate_all_running_unclaims",
     RUNNING,
     R,
     A,
     NONE,
     NONE,
     R,
     1,
     1,
     3,
     3,
     0,
     0,
     0,
     0,
     0,
     WN,
     WU,
     U,
     1},
    {"running_recreate_not_all_running_keeps",
     RUNNING,
     R,
     A,
     NONE,
     NONE,
     R,
     1,
     1,
     3,
     2,
     0,
     1,
     0,
     0,
     0,
     WN,
     WN,
     U,
     0},
    {"running_recreate_claimed_all_running",
     RUNNING,
     C,
     A,
     NONE,
     NONE,
     R,
     1,
     1,
     0,
     0,
     0,
     0,
     0,
     0,
     0,
     WN,
     WU,
     U,
     1},
    /* 4.4 remove_evacuating */
    {"remove_no_target", REMOVE, R, B, NONE, NONE, R, 1, 0, 1, 0, NF, 0, 0, 0, 0, WN, WN, U, 0},
    {"remove_target_not_evacuating",
     REMOVE,
     R,
     A,
     NONE,
     NONE,
     R,
     1,
     0,
     1,
     0,
     NF,
     0,
     0,
     0,
     0,
     WN,
     WN,
     U,
     0},
    {"remove_target_evacuating", REMOVE, R, B, A, NONE, R, 1, 0, 1, 0, 0, 0, 1, 0, 0, WN, WN, U, 0},
};

static const struct bbs_instance_key *key_of(enum who w)
{
    switch (w) {
    case A:
        return &KEY_A;
    case B:
        return &KEY_B;
    default:
        return &KEY_EMPTY;
    }
}

static struct bbs_alrp row(enum bbs_alrp_state s, enum who w, enum bbs_presence p)
{
    struct bbs_alrp a = {
        .key = {"pg-1", 0, "cf-apps"},
        .instance = *key_of(w),
        .state = s,
        .presence = p,
        .since_ns = NOW_NS - 1000,
        .crash_reason = "",
        .placement_error = "",
        .net_info = {NET_STORED, sizeof(NET_STORED), 1},
        .internal_routes = {NULL, 0, 0},
        .metric_tags = {NULL, 0, 0},
        .availability_zone = "",
        .mod_epoch = "e",
        .mod_index = 4,
    };
    if (s == BBS_ALRP_UNCLAIMED || s == BBS_ALRP_CRASHED) {
        a.net_info.len = 0;
    }
    return a;
}

static void test_case(void **state)
{
    const struct evac_case *c = *state;
    struct bbs_alrp ord = row(c->ord_state, c->ord, BBS_PRESENCE_ORDINARY);
    struct bbs_alrp evac = row(BBS_ALRP_RUNNING, c->evac, BBS_PRESENCE_EVACUATING);
    struct bbs_alrp sus = row(c->suspect_state, c->suspect, BBS_PRESENCE_SUSPECT);
    struct bbs_alrp_set set = {c->ord != NONE ? &ord : NULL, c->evac != NONE ? &evac : NULL,
                               c->suspect != NONE ? &sus : NULL};
    struct bbs_start_input in = {
        .key = {"pg-1", 0, "cf-apps"},
        .instance = KEY_A,
        .net_info = {NET_A, sizeof(NET_A), 1},
        .internal_routes = {NULL, 0, 0},
        .metric_tags = {NULL, 0, 0},
        .routable = 1,
        .availability_zone = "z1",
    };
    struct bbs_evac_desired desired = {c->desired_found, c->recreate, c->instances, c->running};
    struct bbs_evac_decision d;
    struct bbs_error err = {0};
    char trunc[BBS_REASON_MAX + 1];
    int rc = -2;

    /* "our evacuating row identical": the stored copy matches the request */
    if (c->evac == A) {
        evac.net_info = in.net_info;
    }
    switch (c->call) {
    case CLAIMED:
        rc = bbs_evac_claimed(&set, &KEY_A, NOW_NS, &d, &err);
        break;
    case CRASHED:
        rc = bbs_evac_crashed(&set, &KEY_A, "boom", trunc, NOW_NS, &d, &err);
        break;
    case STOPPED:
        rc = bbs_evac_stopped(&set, &KEY_A, &d, &err);
        break;
    case RUNNING:
        rc = bbs_evac_running(&set, &in, &desired, NOW_NS, &d, &err);
        break;
    case REMOVE:
        rc = bbs_evac_remove(&set, &KEY_A, &d, &err);
        break;
    }
    if (c->want_err != 0) {
        assert_int_equal(rc, -1);
        assert_int_equal(err.type, c->want_err);
    } else {
        assert_int_equal(rc, 0);
    }
    assert_int_equal(d.keep, c->keep);
    assert_int_equal(d.delete_evacuating, c->del_evac);
    assert_int_equal(d.delete_suspect, c->del_suspect);
    assert_int_equal(d.delete_ordinary, c->del_ordinary);
    assert_int_equal(d.evac_write, c->evac_write);
    assert_int_equal(d.ordinary_write, c->ord_write);
    assert_int_equal(d.auction, c->auction);
    if (c->ord_write != WN) {
        assert_int_equal(d.ordinary.state, c->ord_next);
        assert_int_equal(d.ordinary.mod_index, 5);
        assert_true(bbs_instance_key_empty(&d.ordinary.instance));
    }
    if (c->evac_write != WN) {
        assert_int_equal(d.evac.presence, BBS_PRESENCE_EVACUATING);
        assert_int_equal(d.evac.state, BBS_ALRP_RUNNING);
        assert_true(d.evac.since_ns == NOW_NS);
        assert_int_equal(d.evac.mod_index, c->evac_write == WI ? 0 : 5);
    }
}

/* The dance copies the STORED instance (net info included), not the request's. */
static void test_dance_copies_stored_row(void **state)
{
    struct bbs_alrp ord = row(BBS_ALRP_RUNNING, A, BBS_PRESENCE_ORDINARY);
    struct bbs_alrp_set set = {&ord, NULL, NULL};
    struct bbs_start_input in = {
        .key = {"pg-1", 0, "cf-apps"},
        .instance = KEY_A,
        .net_info = {NET_A, sizeof(NET_A), 1},
        .internal_routes = {NULL, 0, 0},
        .metric_tags = {NULL, 0, 0},
        .routable = 0,
        .availability_zone = "z-request",
    };
    struct bbs_evac_desired desired = {1, 0, 1, 1};
    struct bbs_evac_decision d;
    struct bbs_error err = {0};

    (void)state;
    ord.routable = 1;
    ord.availability_zone = "z-stored";
    ord.crash_count = 3;
    assert_int_equal(bbs_evac_running(&set, &in, &desired, NOW_NS, &d, &err), 0);
    assert_int_equal(d.evac_write, BBS_ALRP_WRITE_INSERT);
    assert_memory_equal(d.evac.net_info.data, NET_STORED, sizeof(NET_STORED));
    assert_string_equal(d.evac.availability_zone, "z-stored");
    assert_int_equal(d.evac.routable, 1);
    assert_string_equal(d.evac.instance.cell_id, "cell-a");
    assert_int_equal(d.ordinary.crash_count, 3);
    assert_int_equal(d.ordinary.state, BBS_ALRP_UNCLAIMED);
}

/* Updating an existing evacuating row ignores routable and zone (quirk 27). */
static void test_update_keeps_routable_and_zone(void **state)
{
    struct bbs_alrp ord = row(BBS_ALRP_UNCLAIMED, EMPTY, BBS_PRESENCE_ORDINARY);
    struct bbs_alrp evac = row(BBS_ALRP_RUNNING, A, BBS_PRESENCE_EVACUATING);
    struct bbs_alrp_set set = {&ord, &evac, NULL};
    struct bbs_start_input in = {
        .key = {"pg-1", 0, "cf-apps"},
        .instance = KEY_A,
        .net_info = {NET_A, sizeof(NET_A), 1},
        .internal_routes = {NULL, 0, 0},
        .metric_tags = {NULL, 0, 0},
        .routable = 0,
        .availability_zone = "z-new",
    };
    struct bbs_evac_desired desired = {1, 0, 1, 0};
    struct bbs_evac_decision d;
    struct bbs_error err = {0};

    (void)state;
    evac.routable = 1;
    evac.availability_zone = "z-old";
    assert_int_equal(bbs_evac_running(&set, &in, &desired, NOW_NS, &d, &err), 0);
    assert_int_equal(d.evac_write, BBS_ALRP_WRITE_UPDATE);
    assert_int_equal(d.keep, 1);
    assert_int_equal(d.evac.routable, 1);
    assert_string_equal(d.evac.availability_zone, "z-old");
    assert_memory_equal(d.evac.net_info.data, NET_A, sizeof(NET_A));
}

/* evacuate_claimed on an UNCLAIMED ordinary: unclaim refused, keep (4.1 4b). */
static void test_claimed_unclaim_refused_keeps(void **state)
{
    struct bbs_alrp ord = row(BBS_ALRP_UNCLAIMED, EMPTY, BBS_PRESENCE_ORDINARY);
    struct bbs_alrp_set set = {&ord, NULL, NULL};
    struct bbs_evac_decision d;
    struct bbs_error err = {0};

    (void)state;
    /* the key is empty, so the ordinary row is the target */
    assert_int_equal(bbs_evac_claimed(&set, &KEY_EMPTY, NOW_NS, &d, &err), -1);
    assert_int_equal(err.type, BBS_ERR_ACTUAL_LRP_CANNOT_BE_UNCLAIMED);
    assert_int_equal(d.keep, 1);
}

int main(void)
{
    struct CMUnitTest tests[64];
    size_t n = 0;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tests[n++] = (struct CMUnitTest){
            .name = cases[i].name, .test_func = test_case, .initial_state = (void *)&cases[i]};
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_dance_copies_stored_row);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_update_keeps_routable_and_zone);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_claimed_unclaim_refused_keeps);
    return _cmocka_run_group_tests("evac", tests, n, NULL, NULL);
}
