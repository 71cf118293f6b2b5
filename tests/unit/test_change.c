/*
 * test_change.c - the change record's helpers (change.h).
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "bbs/change.h"

static struct bbs_alrp row(char *guid, int32_t index, enum bbs_alrp_state state)
{
    static const uint8_t net[] = {0x0a, 0x01, 'x'};
    struct bbs_alrp a = {
        .key = {guid, index, "d"},
        .instance = {"ig", "cell"},
        .state = state,
        .presence = BBS_PRESENCE_ORDINARY,
        .crash_reason = "",
        .placement_error = "",
        .net_info = {net, sizeof(net), 1},
        .internal_routes = {NULL, 0, 0},
        .metric_tags = {NULL, 0, 1},
        .availability_zone = "z",
        .mod_epoch = "e",
    };

    return a;
}

static int setup(void **state)
{
    *state = bbs_arena_new();
    return 0;
}

static int teardown(void **state)
{
    bbs_arena_free(*state);
    return 0;
}

static void test_new_record_is_empty(void **state)
{
    struct bbs_change c;

    bbs_change_init(&c, *state);
    assert_ptr_equal(c.arena, *state);
    assert_int_equal(c.committed, 0);
    assert_int_equal(c.n_alrps, 0);
    assert_int_equal(c.n_auctions, 0);
    assert_int_equal(c.n_rep_stops, 0);
    assert_int_equal(c.n_notes, 0);
    assert_null(c.dlrp_before);
    assert_null(c.dlrp_after);
}

static void test_kinds_created_changed_removed(void **state)
{
    char guid[] = "pg";
    struct bbs_alrp before = row(guid, 0, BBS_ALRP_UNCLAIMED);
    struct bbs_alrp after = row(guid, 0, BBS_ALRP_CLAIMED);
    struct bbs_change c;

    bbs_change_init(&c, *state);
    assert_int_equal(bbs_alrp_change_kind(bbs_change_alrp(&c, NULL, &after)), BBS_CHANGE_CREATED);
    assert_int_equal(bbs_alrp_change_kind(bbs_change_alrp(&c, &before, &after)),
                     BBS_CHANGE_CHANGED);
    assert_int_equal(bbs_alrp_change_kind(bbs_change_alrp(&c, &before, NULL)), BBS_CHANGE_REMOVED);
    assert_int_equal(c.n_alrps, 3);
    assert_null(c.alrps[0].before);
    assert_int_equal(c.alrps[1].before->state, BBS_ALRP_UNCLAIMED);
    assert_int_equal(c.alrps[1].after->state, BBS_ALRP_CLAIMED);
    assert_null(c.alrps[2].after);
}

/* The rows are copied: the record outlives the result they came from. */
static void test_rows_are_deep_copies(void **state)
{
    char guid[] = "pg-1";
    struct bbs_alrp a = row(guid, 4, BBS_ALRP_RUNNING);
    struct bbs_change c;
    const struct bbs_alrp_change *e;

    bbs_change_init(&c, *state);
    e = bbs_change_alrp(&c, NULL, &a);
    guid[3] = '9';
    assert_string_equal(e->after->key.process_guid, "pg-1");
    assert_ptr_not_equal(e->after->net_info.data, a.net_info.data);
    assert_int_equal(e->after->net_info.len, 3);
    assert_memory_equal(e->after->net_info.data, a.net_info.data, 3);
    assert_int_equal(e->after->metric_tags.present, 1);
    assert_int_equal(e->after->internal_routes.present, 0);
    assert_int_equal(e->after->key.index, 4);
}

/* A retried transaction rewinds to its mark: nothing of the failed
 * attempt remains, and what came before the mark stays. */
static void test_rewind_resets_a_retry(void **state)
{
    char guid[] = "pg";
    struct bbs_alrp a = row(guid, 0, BBS_ALRP_UNCLAIMED);
    int32_t idx = 0;
    struct bbs_auction_start s = {.process_guid = "pg", .indices = &idx, .n_indices = 1};
    struct bbs_error err = {0};
    struct bbs_change c;
    struct bbs_change_mark m;

    bbs_change_init(&c, *state);
    bbs_change_alrp(&c, NULL, &a);
    m = bbs_change_mark(&c);
    bbs_change_alrp(&c, &a, NULL);
    bbs_change_auction(&c, &s);
    bbs_change_note(&c, "x", "pg", 0, &err);
    c.committed = 1;
    c.dlrp_after = (const struct bbs_dlrp_row *)&a;
    bbs_change_rewind(&c, &m);
    assert_int_equal(c.n_alrps, 1);
    assert_null(c.alrps[0].before);
    assert_int_equal(c.n_auctions, 0);
    assert_int_equal(c.n_notes, 0);
    assert_int_equal(c.committed, 0);
    assert_null(c.dlrp_after);
}

static void test_arrays_grow_past_capacity(void **state)
{
    char guid[] = "pg";
    struct bbs_change c;

    bbs_change_init(&c, *state);
    for (int32_t i = 0; i < 100; i++) {
        struct bbs_alrp a = row(guid, i, BBS_ALRP_UNCLAIMED);

        bbs_change_alrp(&c, NULL, &a);
    }
    assert_int_equal(c.n_alrps, 100);
    for (int32_t i = 0; i < 100; i++) {
        assert_int_equal(c.alrps[i].after->key.index, i);
    }
}

/* The index list is copied; an empty one stays a non-NULL [] (9.1). */
static void test_auction_copies_indices(void **state)
{
    int32_t idx[2] = {3, 4};
    struct bbs_auction_start s = {
        .process_guid = "pg", .domain = "d", .indices = idx, .n_indices = 2, .memory_mb = 256};
    struct bbs_auction_start none = {.process_guid = "pg", .indices = NULL, .n_indices = 0};
    struct bbs_change c;

    bbs_change_init(&c, *state);
    bbs_change_auction(&c, &s);
    bbs_change_auction(&c, &none);
    idx[0] = 9;
    assert_int_equal(c.n_auctions, 2);
    assert_int_equal(c.auctions[0].indices[0], 3);
    assert_int_equal(c.auctions[0].indices[1], 4);
    assert_int_equal(c.auctions[0].memory_mb, 256);
    assert_non_null(c.auctions[1].indices);
    assert_int_equal(c.auctions[1].n_indices, 0);
}

static void test_rep_stops_and_notes(void **state)
{
    struct bbs_rep_stop stop = {{"pg", 1, "d"}, {"ig", "cell"}, NULL, 0};
    struct bbs_error err = {0};
    char what[] = "start.remove-copy-failed";
    struct bbs_change c;

    bbs_change_init(&c, *state);
    bbs_change_rep_stop(&c, &stop);
    bbs_error_setf(&err, BBS_ERR_UNKNOWN, "boom");
    bbs_change_note(&c, what, "pg", 2, &err);
    what[0] = 'X';
    assert_int_equal(c.n_rep_stops, 1);
    assert_string_equal(c.rep_stops[0].instance.cell_id, "cell");
    assert_int_equal(c.n_notes, 1);
    assert_string_equal(c.notes[0].what, "start.remove-copy-failed");
    assert_int_equal(c.notes[0].index, 2);
    assert_string_equal(c.notes[0].err.message, "boom");
}

static void test_rep_updates_rewind(void **state)
{
    static const char *const hosts[] = {"a.apps.internal"};
    struct bbs_rep_update u = {{"pg", 0, "d"}, {"ig", "cell"}, hosts, 1, NULL, NULL, 0, NULL};
    struct bbs_change c;
    struct bbs_change_mark m;

    bbs_change_init(&c, *state);
    m = bbs_change_mark(&c);
    for (int i = 0; i < 9; i++) {
        u.key.index = i;
        bbs_change_rep_update(&c, &u);
    }
    assert_int_equal(c.n_rep_updates, 9);
    assert_int_equal(c.rep_updates[8].key.index, 8);
    assert_string_equal(c.rep_updates[8].internal_routes[0], "a.apps.internal");
    assert_null(c.rep_updates[8].metric_tag_names);
    bbs_change_rewind(&c, &m);
    assert_int_equal(c.n_rep_updates, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_record_is_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kinds_created_changed_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_are_deep_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewind_resets_a_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arrays_grow_past_capacity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auction_copies_indices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rep_stops_and_notes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rep_updates_rewind, setup, teardown),
    };

    return cmocka_run_group_tests_name("change", tests, NULL, NULL);
}
