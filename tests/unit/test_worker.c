/*
 * test_worker.c - the ticker: periods, order, overruns (with a fake clock,
 * by calling bbs_worker_tick directly), then start/stop of the real thread
 * with millisecond periods.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "bbs/worker.h"

#define MS INT64_C(1000000)
#define T0 (INT64_C(1000) * MS)

struct fake_clock {
    int64_t now;
};

static int64_t fake_now(void *ctx)
{
    return ((struct fake_clock *)ctx)->now;
}

/* A job that records its letter in a shared trace and may move the clock. */
struct probe {
    char letter;
    char *trace; /* 64 bytes */
    struct fake_clock *clock;
    int64_t takes_ns;
};

static void probe_run(void *arg)
{
    struct probe *p = arg;
    size_t n = strlen(p->trace);

    if (n < 63) {
        p->trace[n] = p->letter;
        p->trace[n + 1] = '\0';
    }
    p->clock->now += p->takes_ns;
}

static void test_periods(void **state)
{
    struct fake_clock clk = {T0};
    struct bbs_worker_clock wc = {fake_now, &clk};
    struct bbs_worker *w = bbs_worker_new(&wc);
    char trace[64] = "";
    struct probe a = {'a', trace, &clk, 0};
    struct probe b = {'b', trace, &clk, 0};
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(bbs_worker_add(w, "a", 10 * MS, probe_run, &a, &err), 0);
    assert_int_equal(bbs_worker_add(w, "b", 25 * MS, probe_run, &b, &err), 0);

    /* The first tick only schedules: each job first runs one period later. */
    assert_true(bbs_worker_tick(w) == T0 + 10 * MS);
    assert_string_equal(trace, "");
    clk.now = T0 + 9 * MS;
    assert_true(bbs_worker_tick(w) == T0 + 10 * MS);
    assert_string_equal(trace, "");
    for (int64_t t = 10; t <= 50; t += 5) {
        clk.now = T0 + t * MS;
        (void)bbs_worker_tick(w);
    }
    /* a at 10 20 30 40 50, b at 25 50; same-tick jobs in registration order. */
    assert_string_equal(trace, "aabaaab");
    assert_int_equal(bbs_worker_runs(w, "a"), 5);
    assert_int_equal(bbs_worker_runs(w, "b"), 2);
    assert_int_equal(bbs_worker_runs(w, "nope"), 0);
    assert_int_equal(bbs_worker_overruns(w, "a"), 0);
    bbs_worker_free(w);
}

static void test_order(void **state)
{
    struct fake_clock clk = {T0};
    struct bbs_worker_clock wc = {fake_now, &clk};
    struct bbs_worker *w = bbs_worker_new(&wc);
    char trace[64] = "";
    struct probe p[3] = {{'x', trace, &clk, 0}, {'y', trace, &clk, 0}, {'z', trace, &clk, 0}};
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(bbs_worker_add(w, "x", 5 * MS, probe_run, &p[0], &err), 0);
    assert_int_equal(bbs_worker_add(w, "y", 5 * MS, probe_run, &p[1], &err), 0);
    assert_int_equal(bbs_worker_add(w, "z", 5 * MS, probe_run, &p[2], &err), 0);
    (void)bbs_worker_tick(w);
    clk.now += 5 * MS;
    (void)bbs_worker_tick(w);
    clk.now += 5 * MS;
    (void)bbs_worker_tick(w);
    assert_string_equal(trace, "xyzxyz");
    bbs_worker_free(w);
}

/* A job taking 3.5 periods is counted once and runs next one period after it ended. */
static void test_overrun_not_stacked(void **state)
{
    struct fake_clock clk = {T0};
    struct bbs_worker_clock wc = {fake_now, &clk};
    struct bbs_worker *w = bbs_worker_new(&wc);
    char trace[64] = "";
    struct probe slow = {'s', trace, &clk, 35 * MS};
    struct bbs_error err = {0};
    int64_t next;

    (void)state;
    assert_int_equal(bbs_worker_add(w, "slow", 10 * MS, probe_run, &slow, &err), 0);
    (void)bbs_worker_tick(w);
    clk.now = T0 + 10 * MS;
    next = bbs_worker_tick(w); /* runs; the clock is now T0 + 45 ms */
    assert_true(clk.now == T0 + 45 * MS);
    assert_true(next == T0 + 55 * MS);
    assert_int_equal(bbs_worker_overruns(w, "slow"), 1);
    /* No catch-up for the missed ticks at 20, 30 and 40 ms. */
    assert_true(bbs_worker_tick(w) == T0 + 55 * MS);
    assert_int_equal(bbs_worker_runs(w, "slow"), 1);
    slow.takes_ns = 0;
    clk.now = T0 + 55 * MS;
    assert_true(bbs_worker_tick(w) == T0 + 65 * MS);
    assert_int_equal(bbs_worker_runs(w, "slow"), 2);
    assert_int_equal(bbs_worker_overruns(w, "slow"), 1);
    bbs_worker_free(w);
}

static void test_add_refused(void **state)
{
    struct bbs_worker *w = bbs_worker_new(NULL);
    struct bbs_error err = {0};
    int dummy = 0;

    (void)state;
    assert_int_equal(bbs_worker_add(w, "zero", 0, probe_run, &dummy, &err), -1);
    for (int i = 0; i < BBS_WORKER_MAX_JOBS; i++) {
        assert_int_equal(bbs_worker_add(w, "j", INT64_C(3600) * 1000 * MS, probe_run, &dummy, &err),
                         0);
    }
    assert_int_equal(bbs_worker_add(w, "full", MS, probe_run, &dummy, &err), -1);
    bbs_worker_free(w);
}

static void count_run(void *arg)
{
    atomic_fetch_add((_Atomic int *)arg, 1);
}

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

/* The real thread runs a 1 ms job repeatedly and stops at once, even with an hour-long job. */
static void test_start_stop(void **state)
{
    struct bbs_worker *w = bbs_worker_new(NULL);
    struct bbs_error err = {0};
    _Atomic int fast = 0;
    _Atomic int slow = 0;
    struct timespec ts = {0, 5 * 1000000L};
    int64_t t;
    int seen;

    (void)state;
    assert_int_equal(bbs_worker_add(w, "fast", MS, count_run, (void *)&fast, &err), 0);
    assert_int_equal(
        bbs_worker_add(w, "hourly", INT64_C(3600) * 1000 * MS, count_run, (void *)&slow, &err), 0);
    assert_int_equal(bbs_worker_start(w, &err), 0);
    assert_int_equal(bbs_worker_add(w, "late", MS, count_run, (void *)&fast, &err), -1);
    /* At least three runs; bounded so a loaded machine only makes it slower. */
    t = mono_ns();
    while (atomic_load(&fast) < 3 && mono_ns() - t < 2000 * MS) {
        nanosleep(&ts, NULL);
    }
    t = mono_ns();
    bbs_worker_stop(w);
    assert_true(mono_ns() - t < 500 * MS);
    seen = atomic_load(&fast);
    assert_true(seen >= 3);
    assert_int_equal(atomic_load(&slow), 0);
    nanosleep(&ts, NULL);
    nanosleep(&ts, NULL);
    assert_int_equal(atomic_load(&fast), seen); /* nothing runs after stop */
    bbs_worker_stop(w);                         /* idempotent */
    bbs_worker_free(w);
    bbs_worker_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_periods),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_overrun_not_stacked),
        cmocka_unit_test(test_add_refused),
        cmocka_unit_test(test_start_stop),
    };

    return cmocka_run_group_tests_name("worker", tests, NULL, NULL);
}
