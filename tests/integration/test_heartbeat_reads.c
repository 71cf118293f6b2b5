/*
 * test_heartbeat_reads.c - concurrent heartbeat starts share one read
 * (bbs_store_alrp_start_peek_queue, alrp_store.c): the store is called
 * in-process against the group's database, on ActualLRPs the server made.
 * Checked: a start that finds no read in flight reads itself and is
 * answered directly; while its read is in flight (held up by a table lock
 * of the test's), the starts that arrive are queued (the call returns at
 * once) and are answered by ONE more read, by callback from the store's
 * reader thread, each with its own decision (a heartbeat, a changed zone,
 * a duplicate key, an instance with no row); with the reader thread
 * stopped, the thread whose read was in flight answers them. The first
 * start of an instance the store claimed is answered "a change" without
 * any read (through either entry), the next one is read; another
 * instance's start, or a failed claim, marks nothing. Through the
 * server, starts arriving while a read is held up (queued, their
 * connections suspended) are answered each as it should be: heartbeats
 * change nothing, changed addresses are written; and a server stopped
 * while starts are queued answers them all before it exits (status 0).
 */
#include "harness.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "bbs/changelog.h"
#include "store_int.h"

#define GUID       "hb-reads"
#define GUID_Q     "hb-queued"
#define GUID_HTTP  "hb-http"
#define GUID_STOP  "hb-stop"
#define GUID_CLAIM "hb-claim"
#define INSTANCES  7 /* indices 0..6; index 7 has no row */

static struct bbs_store *g_store;

static int setup(void **state)
{
    struct bbs_error err = {0};

    if (it_group_setup(state) != 0) {
        return -1;
    }
    g_store = bbs_store_new(it_db_conninfo(), 4, 3, &err);
    if (g_store == NULL) {
        fprintf(stderr, "store: %s\n", err.message);
        return -1;
    }
    bbs_store_warm(g_store, 2); /* a read runs only on a connection idle at that moment */
    return 0;
}

static int teardown(void **state)
{
    bbs_store_free(g_store);
    return it_group_teardown(state);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* The stored ordinary rows of `guid`, by index (they live in `arena`). */
static void stored_rows(struct bbs_arena *arena, const char *guid, struct bbs_alrp rows[INSTANCES])
{
    struct bbs_alrp_filter f = {.process_guid = guid};
    struct bbs_alrp_rows view;
    struct bbs_error err = {0};
    int seen = 0;

    assert_int_equal(bbs_store_alrp_list(g_store, arena, &f, &view, &err), 0);
    for (size_t i = 0; i < view.n; i++) {
        struct bbs_alrp a;

        assert_int_equal(view.get(view.src, i, &a), 0);
        assert_int_equal(a.presence, BBS_PRESENCE_ORDINARY);
        assert_true(a.key.index >= 0 && a.key.index < INSTANCES);
        rows[a.key.index] = a;
        seen++;
    }
    assert_int_equal(seen, INSTANCES);
}

/* A start repeating what is stored for `a` (a heartbeat). */
static struct bbs_start_input same_as(const struct bbs_alrp *a)
{
    struct bbs_start_input in = {0};

    in.key = a->key;
    in.instance = a->instance;
    in.net_info = a->net_info;
    in.internal_routes = a->internal_routes;
    in.metric_tags = a->metric_tags;
    in.routable = a->routable;
    in.availability_zone = a->availability_zone;
    return in;
}

/* INSTANCES running instances of `guid` on cell-hb, address 10.0.0.9, instance guids ig-N. */
static void running_fleet(const char *guid)
{
    it_desire(guid, IT_DOMAIN, INSTANCES);
    for (int i = 0; i < INSTANCES; i++) {
        char ig[32];

        snprintf(ig, sizeof(ig), "ig-%d", i);
        assert_int_equal(it_claim(guid, i, ig, "cell-hb"), IT_OK);
        assert_int_equal(it_start(guid, i, NULL, ig, "cell-hb", "10.0.0.9"), IT_OK);
    }
}

/* Hold every read of actual_lrps in flight (a plain SELECT waits behind ACCESS EXCLUSIVE). */
static PGconn *lock_rows(void)
{
    PGconn *lock = PQconnectdb(it_db_conninfo());
    PGresult *res;

    assert_int_equal(PQstatus(lock), CONNECTION_OK);
    res = PQexec(lock, "BEGIN; LOCK TABLE actual_lrps IN ACCESS EXCLUSIVE MODE");
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    return lock;
}

static void unlock_rows(PGconn *lock)
{
    PGresult *res = PQexec(lock, "COMMIT");

    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    PQfinish(lock);
}

/* What the callbacks were told, and on which thread. */
struct answers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n; /* callbacks called, all starts together */
};

struct answer {
    struct answers *all;
    int got;
    int calls;
    pthread_t thread;
};

static void on_answer(void *ud, int got)
{
    struct answer *a = ud;

    pthread_mutex_lock(&a->all->mu);
    a->got = got;
    a->calls++;
    a->thread = pthread_self();
    a->all->n++;
    pthread_cond_signal(&a->all->cv);
    pthread_mutex_unlock(&a->all->mu);
}

static int answered(struct answers *all)
{
    int n;

    pthread_mutex_lock(&all->mu);
    n = all->n;
    pthread_mutex_unlock(&all->mu);
    return n;
}

/* Wait until `n` callbacks were called in all (10 s at most). */
static void wait_answered(struct answers *all, int n)
{
    pthread_mutex_lock(&all->mu);
    for (int i = 0; i < 1000 && all->n < n; i++) {
        struct timespec until;

        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 10000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&all->cv, &all->mu, &until);
    }
    pthread_mutex_unlock(&all->mu);
    assert_int_equal(answered(all), n);
}

/* The start that finds no read in flight, on a thread of its own: it reads itself. */
struct caller {
    pthread_t thread;
    struct bbs_start_input in;
    struct answer answer; /* never called: this start is not queued */
    int got;
};

static void *call_peek(void *arg)
{
    struct caller *c = arg;

    c->got = bbs_store_alrp_start_peek_queue(g_store, &c->in, it_now_ns(), on_answer, &c->answer);
    return NULL;
}

/* Poll the queue's counters until `reads` were sent and `waiting` are queued (10 s at most). */
static void wait_for(uint64_t reads, size_t waiting)
{
    for (int i = 0; i < 1000; i++) {
        uint64_t r;
        uint64_t n;
        size_t w;

        bbs_store_peek_stats(g_store, &r, &n, &w);
        if (r == reads && w == waiting) {
            return;
        }
        sleep_ms(10);
    }
    fail_msg("the heartbeat queue never reached %llu reads with %zu waiting",
             (unsigned long long)reads, waiting);
}

/*
 * Start `first` on a thread of its own with the reads held up, and wait
 * until its read is in flight; then queue `n` starts from this thread,
 * each returning BBS_PEEK_QUEUED at once. The caller unlocks `*lock`.
 */
static void queue_behind_a_read(struct caller *first, struct bbs_start_input *in,
                                struct answer *answers, struct answers *all, int n, PGconn **lock,
                                uint64_t *reads0, uint64_t *items0)
{
    size_t waiting;

    bbs_store_peek_stats(g_store, reads0, items0, &waiting);
    assert_int_equal(waiting, 0);
    *lock = lock_rows();
    first->answer = (struct answer){all, -9, 0, pthread_self()};
    assert_int_equal(pthread_create(&first->thread, NULL, call_peek, first), 0);
    wait_for(*reads0 + 1, 0);
    for (int i = 0; i < n; i++) {
        answers[i] = (struct answer){all, -9, 0, pthread_self()};
        assert_int_equal(
            bbs_store_alrp_start_peek_queue(g_store, &in[i], it_now_ns(), on_answer, &answers[i]),
            BBS_PEEK_QUEUED);
    }
    wait_for(*reads0 + 1, (size_t)n);
}

static void test_queued_starts_share_one_read_each_deciding_alone(void **state)
{
    enum { QUEUED = 7 };
    struct bbs_arena *arena = bbs_arena_new();
    struct bbs_alrp rows[INSTANCES];
    struct caller first;
    struct bbs_start_input in[QUEUED];
    struct answer answers[QUEUED];
    int expect[QUEUED];
    struct answers all = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    uint64_t reads0;
    uint64_t items0;
    uint64_t reads;
    uint64_t items;
    size_t waiting;
    PGconn *lock;

    (void)state;
    running_fleet(GUID);
    stored_rows(arena, GUID, rows);

    /* The first start reads; the others arrive while its read is held up. */
    first.in = same_as(&rows[0]);
    in[0] = same_as(&rows[0]); /* the same key, a changed zone */
    in[0].availability_zone = "z-other";
    expect[0] = 0;
    in[1] = same_as(&rows[1]);
    expect[1] = 1;
    in[2] = same_as(&rows[4]);
    in[2].availability_zone = "z-other";
    expect[2] = 0;
    in[3] = same_as(&rows[2]);
    expect[3] = 1;
    in[4] = same_as(&rows[6]);
    in[4].key.index = INSTANCES; /* no row: the start would create it */
    expect[4] = 0;
    in[5] = same_as(&rows[5]);
    expect[5] = 1;
    in[6] = same_as(&rows[3]);
    in[6].availability_zone = "z-other";
    expect[6] = 0;

    queue_behind_a_read(&first, in, answers, &all, QUEUED, &lock, &reads0, &items0);
    /* The start queued is the store's copy: changing the caller's does nothing. */
    in[1].availability_zone = "z-changed-after-queueing";
    /* Nothing is answered while the read in flight is held up. */
    sleep_ms(50);
    assert_int_equal(answered(&all), 0);

    unlock_rows(lock);
    assert_int_equal(pthread_join(first.thread, NULL), 0);
    assert_int_equal(first.got, 1); /* answered directly, not by callback */
    wait_answered(&all, QUEUED);
    assert_int_equal(first.answer.calls, 0);
    for (int i = 0; i < QUEUED; i++) {
        if (answers[i].got != expect[i] || answers[i].calls != 1) {
            fail_msg("queued start %d (index %d): answered %d (%d calls), expected %d", i,
                     (int)in[i].key.index, answers[i].got, answers[i].calls, expect[i]);
        }
        /* From the store's reader thread, not the caller's nor the first reader's. */
        assert_false(pthread_equal(answers[i].thread, pthread_self()));
        assert_false(pthread_equal(answers[i].thread, first.thread));
    }
    /* Two reads in all: the first start's own, then one for the seven queued. */
    bbs_store_peek_stats(g_store, &reads, &items, &waiting);
    assert_int_equal(reads - reads0, 2);
    assert_int_equal(items - items0, 1 + QUEUED);
    assert_int_equal(waiting, 0);

    /* Alone, a start reads alone and is answered directly: no callback. */
    in[0] = same_as(&rows[6]);
    assert_int_equal(
        bbs_store_alrp_start_peek_queue(g_store, &in[0], it_now_ns(), on_answer, &answers[0]), 1);
    sleep_ms(50);
    assert_int_equal(answered(&all), QUEUED);
    bbs_store_peek_stats(g_store, &reads, &items, &waiting);
    assert_int_equal(reads - reads0, 3);
    assert_int_equal(items - items0, QUEUED + 2);
    bbs_arena_free(arena);
}

/* Claim index `index` of `guid` as ig-`index` on cell-hb through the test's store. */
static int store_claim(const char *guid, int index)
{
    struct bbs_arena *arena = bbs_arena_new();
    struct bbs_change ch;
    struct bbs_error err = {0};
    char ig[32];
    struct bbs_instance_key inst = {ig, "cell-hb"};
    int rc;

    snprintf(ig, sizeof(ig), "ig-%d", index);
    bbs_change_init(&ch, arena);
    rc = bbs_store_alrp_claim(g_store, guid, index, &inst, it_now_ns(), &ch, &err);
    bbs_arena_free(arena);
    return rc;
}

/* A start of `guid`/`index` by `ig` on cell-hb at 10.0.0.9, as a cell sends it. */
static struct bbs_start_input start_of(const char *guid, int index, const char *ig)
{
    struct bbs_start_input in = {0};

    in.key.process_guid = guid;
    in.key.index = index;
    in.key.domain = IT_DOMAIN;
    in.instance.instance_guid = ig;
    in.instance.cell_id = "cell-hb";
    in.availability_zone = "";
    in.routable = 1;
    return in;
}

static uint64_t peek_reads(void)
{
    uint64_t reads;
    uint64_t items;
    size_t waiting;

    bbs_store_peek_stats(g_store, &reads, &items, &waiting);
    return reads;
}

static void test_the_first_start_after_a_claim_is_a_change_without_a_read(void **state)
{
    struct bbs_arena *arena = bbs_arena_new();
    struct bbs_alrp rows[INSTANCES];
    struct bbs_alrp after[INSTANCES];
    struct bbs_start_input in;
    struct bbs_change ch;
    struct bbs_error err = {0};
    uint64_t reads;
    uint64_t known;

    (void)state;
    it_desire(GUID_CLAIM, IT_DOMAIN, INSTANCES);
    assert_int_equal(store_claim(GUID_CLAIM, 0), 0);
    assert_int_equal(store_claim(GUID_CLAIM, 1), 0);
    assert_int_equal(store_claim(GUID_CLAIM, 2), 0);
    reads = peek_reads();
    known = bbs_store_peek_known(g_store);

    /* Its first start needs the locked transaction: answered 0, nothing read. */
    in = start_of(GUID_CLAIM, 0, "ig-0");
    assert_int_equal(bbs_store_alrp_start_peek_queue(g_store, &in, it_now_ns(), NULL, NULL), 0);
    assert_int_equal(peek_reads(), reads);
    assert_int_equal(bbs_store_peek_known(g_store), known + 1);
    bbs_change_init(&ch, arena);
    assert_int_equal(bbs_store_alrp_start(g_store, &in, it_now_ns(), 1, &ch, &err), 0);
    stored_rows(arena, GUID_CLAIM, rows);
    assert_int_equal(rows[0].state, BBS_ALRP_RUNNING);
    assert_int_equal(rows[1].state, BBS_ALRP_CLAIMED);
    /* The next start of the same instance is read: here a heartbeat. */
    in = same_as(&rows[0]);
    assert_int_equal(bbs_store_alrp_start_peek_queue(g_store, &in, it_now_ns(), NULL, NULL), 1);
    assert_int_equal(peek_reads(), reads + 1);

    /* Another instance's start on a claimed index is read, and leaves the claim's mark. */
    in = start_of(GUID_CLAIM, 1, "ig-other");
    assert_int_equal(bbs_store_alrp_start_peek_queue(g_store, &in, it_now_ns(), NULL, NULL), 0);
    assert_int_equal(peek_reads(), reads + 2);
    in = start_of(GUID_CLAIM, 1, "ig-1");
    assert_int_equal(bbs_store_alrp_start_peek_queue(g_store, &in, it_now_ns(), NULL, NULL), 0);
    assert_int_equal(peek_reads(), reads + 2);

    /* A claim that failed marks nothing: the start is read. */
    assert_int_not_equal(store_claim("hb-no-such-lrp", 0), 0);
    in = start_of("hb-no-such-lrp", 0, "ig-0");
    assert_int_equal(bbs_store_alrp_start_peek_queue(g_store, &in, it_now_ns(), NULL, NULL), 0);
    assert_int_equal(peek_reads(), reads + 3);
    assert_int_equal(bbs_store_peek_known(g_store), known + 2);

    /* Without the I/O thread's read first (handlers on the I/O threads):
     * the start's own unlocked read is skipped the same way, the start is
     * written; the next one is read again, and changes nothing. */
    in = start_of(GUID_CLAIM, 2, "ig-2");
    bbs_change_init(&ch, arena);
    assert_int_equal(bbs_store_alrp_start(g_store, &in, it_now_ns(), 0, &ch, &err), 0);
    assert_int_equal(bbs_store_peek_known(g_store), known + 3);
    stored_rows(arena, GUID_CLAIM, rows);
    assert_int_equal(rows[2].state, BBS_ALRP_RUNNING);
    in = same_as(&rows[2]);
    bbs_change_init(&ch, arena);
    assert_int_equal(bbs_store_alrp_start(g_store, &in, it_now_ns(), 0, &ch, &err), 0);
    assert_int_equal(bbs_store_peek_known(g_store), known + 3);
    stored_rows(arena, GUID_CLAIM, after);
    assert_int_equal(after[2].mod_index, rows[2].mod_index);
    bbs_arena_free(arena);
}

/* After this the store has no reader thread (the server tests below do not use it). */
static void test_without_a_reader_thread_the_reading_thread_answers_the_queue(void **state)
{
    enum { QUEUED = 3 };
    struct bbs_arena *arena = bbs_arena_new();
    struct bbs_alrp rows[INSTANCES];
    struct caller first;
    struct bbs_start_input in[QUEUED];
    struct answer answers[QUEUED];
    const int expect[QUEUED] = {1, 0, 1};
    struct answers all = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    uint64_t reads0;
    uint64_t items0;
    uint64_t reads;
    uint64_t items;
    size_t waiting;
    PGconn *lock;

    (void)state;
    running_fleet(GUID_Q);
    stored_rows(arena, GUID_Q, rows);
    bbs_store_peeks_stop(g_store); /* as the HTTP listener's stop does */

    first.in = same_as(&rows[0]);
    for (int i = 0; i < QUEUED; i++) {
        in[i] = same_as(&rows[i + 1]);
        if (expect[i] == 0) {
            in[i].availability_zone = "z-other";
        }
    }
    queue_behind_a_read(&first, in, answers, &all, QUEUED, &lock, &reads0, &items0);
    unlock_rows(lock);
    assert_int_equal(pthread_join(first.thread, NULL), 0);
    assert_int_equal(first.got, 1);
    /* Answered before the first start's call returned, on its thread. */
    assert_int_equal(answered(&all), QUEUED);
    for (int i = 0; i < QUEUED; i++) {
        assert_int_equal(answers[i].got, expect[i]);
        assert_int_equal(answers[i].calls, 1);
        assert_true(pthread_equal(answers[i].thread, first.thread));
    }
    bbs_store_peek_stats(g_store, &reads, &items, &waiting);
    assert_int_equal(reads - reads0, 2);
    assert_int_equal(items - items0, 1 + QUEUED);
    assert_int_equal(waiting, 0);
    bbs_arena_free(arena);
}

struct http_caller {
    pthread_t thread;
    const char *guid;
    int index;
    const char *address;
    int got;
    char err[256];
};

static void *call_start(void *arg)
{
    struct http_caller *c = arg;
    char ig[32];

    snprintf(ig, sizeof(ig), "ig-%d", c->index);
    c->got =
        it_start_own_client(c->guid, c->index, ig, "cell-hb", c->address, c->err, sizeof(c->err));
    return NULL;
}

static void test_server_answers_starts_queued_behind_a_read(void **state)
{
    struct bbs_arena *arena = bbs_arena_new();
    struct bbs_alrp before[INSTANCES];
    struct bbs_alrp after[INSTANCES];
    struct http_caller calls[INSTANCES];
    PGconn *lock;

    (void)state;
    running_fleet(GUID_HTTP);
    stored_rows(arena, GUID_HTTP, before);

    /* Every start arrives while the reads are held up: the first one's read
     * holds its I/O thread, those on the other I/O threads are queued. */
    lock = lock_rows();
    for (int i = 0; i < INSTANCES; i++) {
        calls[i].guid = GUID_HTTP;
        calls[i].index = i;
        calls[i].address = i % 2 == 0 ? "10.0.0.7" : "10.0.0.9"; /* even ones move */
        assert_int_equal(pthread_create(&calls[i].thread, NULL, call_start, &calls[i]), 0);
    }
    sleep_ms(300);
    unlock_rows(lock);
    for (int i = 0; i < INSTANCES; i++) {
        assert_int_equal(pthread_join(calls[i].thread, NULL), 0);
        if (calls[i].got != IT_OK) {
            fail_msg("start %d: %d (%s)", i, calls[i].got, calls[i].err);
        }
    }

    stored_rows(arena, GUID_HTTP, after);
    for (int i = 0; i < INSTANCES; i++) {
        assert_string_equal(after[i].instance.instance_guid, before[i].instance.instance_guid);
        assert_int_equal(after[i].state, BBS_ALRP_RUNNING);
        if (i % 2 == 0) {
            /* Written: a new net info, and a newer modification index. */
            assert_true(after[i].net_info.len != before[i].net_info.len ||
                        memcmp(after[i].net_info.data, before[i].net_info.data,
                               after[i].net_info.len) != 0);
            assert_true(after[i].mod_index > before[i].mod_index);
        } else {
            /* A heartbeat: nothing written. */
            assert_int_equal(after[i].net_info.len, before[i].net_info.len);
            assert_memory_equal(after[i].net_info.data, before[i].net_info.data,
                                after[i].net_info.len);
            assert_int_equal(after[i].mod_index, before[i].mod_index);
        }
    }
    bbs_arena_free(arena);
}

/* Last: the server does not run after it. */
static void test_stopped_server_answers_queued_starts_first(void **state)
{
    struct http_caller calls[INSTANCES];
    PGconn *lock;
    int status = -1;

    (void)state;
    running_fleet(GUID_STOP);
    lock = lock_rows();
    for (int i = 0; i < INSTANCES; i++) {
        calls[i].guid = GUID_STOP;
        calls[i].index = i;
        calls[i].address = i % 2 == 0 ? "10.0.0.7" : "10.0.0.9";
        assert_int_equal(pthread_create(&calls[i].thread, NULL, call_start, &calls[i]), 0);
    }
    sleep_ms(300);
    /* Stopping drains what is in flight, the starts waiting on the held-up read included. */
    assert_int_equal(kill(it_server_pid(), SIGTERM), 0);
    sleep_ms(300);
    unlock_rows(lock);
    for (int i = 0; i < INSTANCES; i++) {
        assert_int_equal(pthread_join(calls[i].thread, NULL), 0);
        if (calls[i].got != IT_OK) {
            fail_msg("start %d: %d (%s)", i, calls[i].got, calls[i].err);
        }
    }
    assert_int_equal(it_server_wait_exit(60000, &status), 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queued_starts_share_one_read_each_deciding_alone),
        cmocka_unit_test(test_the_first_start_after_a_claim_is_a_change_without_a_read),
        cmocka_unit_test(test_without_a_reader_thread_the_reading_thread_answers_the_queue),
        cmocka_unit_test(test_server_answers_starts_queued_behind_a_read),
        cmocka_unit_test(test_stopped_server_answers_queued_starts_first),
    };

    it_set_name("heartbeat_reads");
    return it_main_exit(cmocka_run_group_tests(tests, setup, teardown));
}
