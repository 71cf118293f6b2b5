/*
 * test_group.c - folding ActualLRP rows into groups (reference 3.11), one
 * named test per rule. Each case lists the rows of one (guid, index) in
 * the store's order (presence ascending) and says which row lands in each
 * slot (-1 = empty).
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bbs/group.h"

struct row_spec {
    enum bbs_presence presence;
    enum bbs_alrp_state state;
};

#define O(s)                                                                                       \
    {                                                                                              \
        BBS_PRESENCE_ORDINARY, BBS_ALRP_##s                                                        \
    }
#define S(s)                                                                                       \
    {                                                                                              \
        BBS_PRESENCE_SUSPECT, BBS_ALRP_##s                                                         \
    }
#define E(s)                                                                                       \
    {                                                                                              \
        BBS_PRESENCE_EVACUATING, BBS_ALRP_##s                                                      \
    }

struct fold_case {
    const char *name;
    size_t n;
    struct row_spec rows[3];
    int want_instance;   /* row number, or -1 */
    int want_evacuating; /* row number, or -1 */
};

static const struct fold_case cases[] = {
    {"evacuating_row_goes_to_evacuating", 2, {O(UNCLAIMED), E(RUNNING)}, 0, 1},
    {"evacuating_alone_leaves_instance_empty", 1, {E(RUNNING)}, -1, 0},
    {"ordinary_alone_is_instance", 1, {O(UNCLAIMED)}, 0, -1},
    {"ordinary_running_beats_suspect_running", 2, {O(RUNNING), S(RUNNING)}, 0, -1},
    {"suspect_running_beats_ordinary_claimed", 2, {O(CLAIMED), S(RUNNING)}, 1, -1},
    {"suspect_running_beats_ordinary_unclaimed", 2, {O(UNCLAIMED), S(RUNNING)}, 1, -1},
    {"suspect_claimed_beats_ordinary_claimed", 2, {O(CLAIMED), S(CLAIMED)}, 1, -1},
    {"ordinary_claimed_beats_suspect_crashed", 2, {O(CLAIMED), S(CRASHED)}, 0, -1},
    {"otherwise_first_row_seen", 2, {O(UNCLAIMED), S(CRASHED)}, 0, -1},
    {"suspect_wins_and_evacuating_kept", 3, {O(UNCLAIMED), E(RUNNING), S(RUNNING)}, 2, 1},
};

static void build(const struct fold_case *c, struct bbs_alrp *rows, const char *guid, int32_t index)
{
    for (size_t i = 0; i < c->n; i++) {
        rows[i] = (struct bbs_alrp){
            .key = {guid, index, "d"},
            .instance = {"", ""},
            .state = c->rows[i].state,
            .presence = c->rows[i].presence,
            .crash_reason = "",
            .placement_error = "",
            .availability_zone = "",
            .mod_epoch = "",
        };
    }
}

static const struct bbs_alrp *want(const struct bbs_alrp *rows, int i)
{
    return i < 0 ? NULL : &rows[i];
}

static void check_slot(const struct bbs_alrp *got, const struct bbs_alrp *expected)
{
    if (expected == NULL) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_int_equal(got->presence, expected->presence);
    assert_int_equal(got->state, expected->state);
}

static void test_fold_case(void **state)
{
    const struct fold_case *c = *state;
    struct bbs_alrp rows[3];
    struct bbs_group_fold fold;
    struct bbs_alrp_group g;

    build(c, rows, "pg", 0);
    bbs_group_fold_init(&fold);
    for (size_t i = 0; i < c->n; i++) {
        assert_int_equal(bbs_group_fold_add(&fold, &rows[i], &g), 0);
    }
    assert_int_equal(bbs_group_fold_finish(&fold, &g), 1);
    check_slot(g.instance, want(rows, c->want_instance));
    check_slot(g.evacuating, want(rows, c->want_evacuating));
    assert_int_equal(bbs_group_fold_finish(&fold, &g), 0); /* nothing left */
}

/* One group per (guid, index): a new index or guid closes the group. */
static void test_one_group_per_guid_and_index(void **state)
{
    struct bbs_alrp rows[4];
    const struct fold_case one = {"", 1, {O(RUNNING)}, 0, -1};
    struct bbs_group_fold fold;
    struct bbs_alrp_group g;
    int handed = 0;

    (void)state;
    build(&one, &rows[0], "a", 0);
    build(&one, &rows[1], "a", 1);
    build(&one, &rows[2], "b", 1);
    build(&one, &rows[3], "b", 1);
    rows[3].presence = BBS_PRESENCE_EVACUATING;
    bbs_group_fold_init(&fold);
    assert_int_equal(bbs_group_fold_add(&fold, &rows[0], &g), 0);
    assert_int_equal(bbs_group_fold_add(&fold, &rows[1], &g), 1);
    assert_string_equal(g.instance->key.process_guid, "a");
    assert_int_equal(g.instance->key.index, 0);
    handed += bbs_group_fold_add(&fold, &rows[2], &g);
    assert_int_equal(g.instance->key.index, 1);
    handed += bbs_group_fold_add(&fold, &rows[3], &g);
    assert_int_equal(handed, 1);
    assert_int_equal(bbs_group_fold_finish(&fold, &g), 1);
    assert_string_equal(g.instance->key.process_guid, "b");
    assert_non_null(g.evacuating);
}

static void test_empty_input_has_no_group(void **state)
{
    struct bbs_group_fold fold;
    struct bbs_alrp_group g;

    (void)state;
    bbs_group_fold_init(&fold);
    assert_int_equal(bbs_group_fold_finish(&fold, &g), 0);
}

static void test_rows_of_array(void **state)
{
    struct bbs_alrp rows[2];
    const struct fold_case two = {"", 2, {O(RUNNING), E(RUNNING)}, 0, 1};
    struct bbs_alrp_rows v;
    struct bbs_alrp got;

    (void)state;
    build(&two, rows, "pg", 3);
    v = bbs_alrp_rows_of(rows, 2);
    assert_int_equal(v.n, 2);
    assert_int_equal(v.get(v.src, 1, &got), 0);
    assert_int_equal(got.presence, BBS_PRESENCE_EVACUATING);
    assert_int_equal(got.key.index, 3);
}

int main(void)
{
    enum { N = sizeof(cases) / sizeof(cases[0]) };
    struct CMUnitTest tests[N + 3];

    for (size_t i = 0; i < N; i++) {
        tests[i] = (struct CMUnitTest){
            .name = cases[i].name,
            .test_func = test_fold_case,
            .initial_state = (void *)&cases[i],
        };
    }
    tests[N] = (struct CMUnitTest)cmocka_unit_test(test_one_group_per_guid_and_index);
    tests[N + 1] = (struct CMUnitTest)cmocka_unit_test(test_empty_input_has_no_group);
    tests[N + 2] = (struct CMUnitTest)cmocka_unit_test(test_rows_of_array);
    return cmocka_run_group_tests_name("group_fold", tests, NULL, NULL);
}
