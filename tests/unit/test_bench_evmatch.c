/*
 * test_bench_evmatch.c - the events workload's verdicts (bench/evmatch.c):
 * delivered, missing, duplicate, out of order, unexpected, filter errors
 * and the delay samples, one named test per situation.
 *
 * Layout in every test: 8 instances on 4 cells (g lives on cell g % 4),
 * cell streams 0-3, global streams 4 and 5. States are evwire.h's values.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "evmatch.h"
#include "evwire.h"

#define C BENCH_ST_CLAIMED
#define R BENCH_ST_RUNNING

static uint8_t all_cells[4] = {1, 1, 1, 1};

static struct bench_ev_streams layout(const uint8_t *cell_open, uint64_t global_open)
{
    struct bench_ev_streams s = {
        .n_inst = 8,
        .cells = 4,
        .n_cell = 4,
        .n_global = 2,
        .cell_open = cell_open,
        .global_open = global_open,
    };
    return s;
}

/* g = 1 goes CLAIMED (answered at 100) then RUNNING (answered at 200); requests sent 10 earlier. */
static const struct bench_ev_expect claim_start[] = {
    {90, 100, 1, C},
    {190, 200, 1, R},
};

static struct bench_ev_arrival at(int64_t t, uint32_t g, uint16_t stream, uint8_t state)
{
    struct bench_ev_arrival a = {.t_ns = t, .g = g, .stream = stream, .state = state, .ok = 1};
    return a;
}

static void test_all_delivered_in_order(void **state)
{
    struct bench_ev_streams s = layout(all_cells, 3);
    struct bench_ev_arrival arr[] = {
        at(150, 1, 1, C), at(151, 1, 4, C), at(152, 1, 5, C),
        at(250, 1, 1, R), at(260, 1, 4, R), at(270, 1, 5, R),
    };
    struct bench_ev_result r;

    (void)state;
    bench_ev_match(&s, claim_start, 2, arr, 6, &r);
    assert_int_equal(r.expected, 6);
    assert_int_equal(r.delivered, 6);
    assert_int_equal(r.missing, 0);
    assert_int_equal(r.duplicates, 0);
    assert_int_equal(r.out_of_order, 0);
    assert_int_equal(r.unexpected, 0);
    assert_int_equal(r.early, 0);
    assert_int_equal(r.n_delay, 6);
    assert_int_equal(r.delay_ns[0], 50);
    assert_int_equal(r.delay_ns[5], 70);
    assert_int_equal(r.send_delay_ns[0], 60);
    bench_ev_result_free(&r);
}

static void test_missing_on_one_stream(void **state)
{
    struct bench_ev_streams s = layout(all_cells, 3);
    struct bench_ev_arrival arr[] = {
        at(150, 1, 1, C), at(151, 1, 4, C), at(152, 1, 5, C), at(250, 1, 1, R), at(260, 1, 4, R),
    };
    struct bench_ev_result r;

    (void)state;
    bench_ev_match(&s, claim_start, 2, arr, 5, &r);
    assert_int_equal(r.delivered, 5);
    assert_int_equal(r.missing, 1);
    assert_int_equal(r.unexpected, 0);
    bench_ev_result_free(&r);
}

static void test_duplicate(void **state)
{
    struct bench_ev_streams s = layout(all_cells, 0);
    struct bench_ev_arrival arr[] = {at(150, 1, 1, C), at(160, 1, 1, C), at(250, 1, 1, R)};
    struct bench_ev_result r;

    (void)state;
    bench_ev_match(&s, claim_start, 2, arr, 3, &r);
    assert_int_equal(r.expected, 2);
    assert_int_equal(r.delivered, 2);
    assert_int_equal(r.duplicates, 1);
    assert_int_equal(r.missing, 0);
    bench_ev_result_free(&r);
}

static void test_out_of_order(void **state)
{
    struct bench_ev_streams s = layout(all_cells, 1);
    struct bench_ev_arrival arr[] = {
        at(150, 1, 1, C), at(250, 1, 1, R), /* the cell stream: in order */
        at(250, 1, 4, R), at(260, 1, 4, C), /* the global one: RUNNING before CLAIMED */
    };
    struct bench_ev_result r;

    (void)state;
    bench_ev_match(&s, claim_start, 2, arr, 4, &r);
    assert_int_equal(r.delivered, 4);
    assert_int_equal(r.out_of_order, 1);
    assert_int_equal(r.missing, 0);
    bench_ev_result_free(&r);
}

static void test_repeated_transitions_match_in_turn(void **state)
{
    static const struct bench_ev_expect twice[] = {
        {90, 100, 1, C}, {190, 200, 1, R}, {290, 300, 1, C}, {390, 400, 1, R}};
    struct bench_ev_streams s = layout(all_cells, 0);
    struct bench_ev_arrival arr[] = {at(150, 1, 1, C), at(250, 1, 1, R), at(350, 1, 1, C),
                                     at(450, 1, 1, R)};
    struct bench_ev_result r;

    (void)state;
    bench_ev_match(&s, twice, 4, arr, 4, &r);
    assert_int_equal(r.delivered, 4);
    assert_int_equal(r.out_of_order, 0);
    assert_int_equal(r.missing, 0);
    /* Each delivery is timed against its own change, not the first one of the instance. */
    assert_int_equal(r.delay_ns[2], 50);
    assert_int_equal(r.delay_ns[3], 50);
    bench_ev_result_free(&r);
}

static void test_unexpected(void **state)
{
    struct bench_ev_streams s = layout(all_cells, 1);
    struct bench_ev_arrival not_changed = at(150, 1, 4, C);
    struct bench_ev_arrival arr[] = {
        at(150, 1, 4, BENCH_ST_UNCLAIMED), /* a state nothing went to */
        at(150, 5, 1, C),                  /* instance 5 (cell 1) was not touched */
        at(150, 9, 4, C),                  /* outside the fleet */
        at(150, 1, 9, C),                  /* no such stream */
        not_changed,
    };
    struct bench_ev_result r;

    (void)state;
    arr[4].ok = 0; /* e.g. actual_lrp_instance_created, or a wrong instance key */
    bench_ev_match(&s, claim_start, 2, arr, 5, &r);
    assert_int_equal(r.unexpected, 5);
    assert_int_equal(r.delivered, 0);
    assert_int_equal(r.missing, 4);
    assert_int_equal(r.filter_errors, 0);
    bench_ev_result_free(&r);
}

static void test_cell_stream_gets_other_cells_event(void **state)
{
    struct bench_ev_streams s = layout(all_cells, 0);
    struct bench_ev_arrival arr[] = {at(150, 1, 2, C), at(150, 1, 1, C)};
    struct bench_ev_result r;

    (void)state;
    bench_ev_match(&s, claim_start, 2, arr, 2, &r);
    assert_int_equal(r.filter_errors, 1);
    assert_int_equal(r.unexpected, 1);
    assert_int_equal(r.delivered, 1);
    bench_ev_result_free(&r);
}

static void test_early_delivery_counts_zero(void **state)
{
    struct bench_ev_streams s = layout(all_cells, 0);
    struct bench_ev_arrival arr[] = {at(95, 1, 1, C)};
    struct bench_ev_result r;

    (void)state;
    bench_ev_match(&s, claim_start, 1, arr, 1, &r);
    assert_int_equal(r.early, 1);
    assert_int_equal(r.delay_ns[0], 0);
    assert_int_equal(r.send_delay_ns[0], 5);
    bench_ev_result_free(&r);
}

static void test_streams_that_never_opened(void **state)
{
    static const uint8_t cells_but_1[4] = {1, 0, 1, 1};
    struct bench_ev_streams s = layout(cells_but_1, 2); /* global 4 failed, 5 opened */
    struct bench_ev_arrival arr[] = {at(150, 1, 5, C), at(250, 1, 5, R), at(150, 1, 1, C)};
    struct bench_ev_result r;

    (void)state;
    bench_ev_match(&s, claim_start, 2, arr, 3, &r);
    assert_int_equal(r.expected, 2);
    assert_int_equal(r.delivered, 2);
    assert_int_equal(r.missing, 0);
    assert_int_equal(r.unexpected, 1); /* a stream that never opened cannot receive */
    bench_ev_result_free(&r);
}

static void test_nothing_expected_nothing_arrived(void **state)
{
    struct bench_ev_streams s = layout(all_cells, 3);
    struct bench_ev_result r;

    (void)state;
    bench_ev_match(&s, NULL, 0, NULL, 0, &r);
    assert_int_equal(r.expected, 0);
    assert_int_equal(r.delivered, 0);
    assert_int_equal(r.missing, 0);
    bench_ev_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_delivered_in_order),
        cmocka_unit_test(test_missing_on_one_stream),
        cmocka_unit_test(test_duplicate),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_repeated_transitions_match_in_turn),
        cmocka_unit_test(test_unexpected),
        cmocka_unit_test(test_cell_stream_gets_other_cells_event),
        cmocka_unit_test(test_early_delivery_counts_zero),
        cmocka_unit_test(test_streams_that_never_opened),
        cmocka_unit_test(test_nothing_expected_nothing_arrived),
    };
    return cmocka_run_group_tests_name("bench_evmatch", tests, NULL, NULL);
}
