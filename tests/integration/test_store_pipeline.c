/*
 * test_store_pipeline.c - a write transaction in two round trips (pool.c):
 * the store is called in-process against the group's database with
 * transaction bodies of the test's own, on a scratch table the server
 * never touches. Checked: a read and two queued writes commit in two
 * answers from PostgreSQL (libpq's protocol trace counts them); a queued
 * write's error fails the transaction with its mapped error and nothing
 * is written; bbs_store_sync tells which write failed; more writes than
 * the pipeline holds at once all commit; a body that only queued, on a
 * connection that died unseen, is retried rather than answered "outcome
 * unknown"; a held change-log ticket holds the hub's mark until given
 * back (or its grace ends), a change whose connection broke keeps its
 * ticket for the grace, and the mark is fenced; the event hub reads no
 * change-log rows while nobody subscribes, and a subscriber still gets
 * every event after it (live, or resumed from an earlier id). The statements are
 * the test's, registered as the store's own modules register theirs.
 */
#include "harness.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bbs/arena.h"
#include "bbs/change.h"
#include "bbs/changelog.h"
#include "bbs/events.h"
#include "bbs/hub.h"
#include "store_int.h"

static const struct bbs_stmt it_pipe_stmts[] = {
    {"it_pipe_insert", "INSERT INTO it_pipe (k, v) VALUES ($1::int4, $2::text)"},
};
BBS_STORE_STATEMENTS(it_pipe, it_pipe_stmts);

static struct bbs_store *g_store;

static int insert(PGconn *conn, int k, struct bbs_error *err)
{
    struct bbs_params p = {0};

    bbs_params_int4(&p, k);
    bbs_params_text(&p, "v");
    return bbs_exec_command(conn, "it_pipe_insert", &p, NULL, err);
}

/* Rows with key k (it_db_exec counts the rows a SELECT returns). */
static int rows_with(int k)
{
    char sql[80];

    snprintf(sql, sizeof(sql), "SELECT 1 FROM it_pipe WHERE k = %d", k);
    return it_db_exec(sql, 0, NULL);
}

static int count_lines(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int n = 0;

    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        n += strstr(line, needle) != NULL;
    }
    fclose(f);
    return n;
}

struct traced {
    FILE *trace;
    int k;
};

static int traced_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct traced *t = arg;
    PGresult *res;

    PQsetTraceFlags(conn, PQTRACE_SUPPRESS_TIMESTAMPS);
    PQtrace(conn, t->trace);
    res = bbs_exec_sql(conn, "SELECT count(*) FROM it_pipe", NULL, err); /* as a lock would */
    if (res == NULL) {
        return -1;
    }
    PQclear(res);
    return insert(conn, t->k, err) != 0 || insert(conn, t->k + 1, err) != 0 ? -1 : 0;
}

static int untrace_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    (void)arg;
    (void)err;
    PQuntrace(conn);
    return 0;
}

/* BEGIN and the read in one answer, the writes and COMMIT in the next:
 * two ReadyForQuery where one per statement made four after BEGIN. */
static void test_read_and_queued_writes_commit_in_two_round_trips(void **state)
{
    struct bbs_error err = {0};
    struct bbs_store *st = bbs_store_new(it_db_conninfo(), 1, 3, &err);
    char path[] = "/tmp/bbs-it-pipe-trace-XXXXXX";
    int fd = mkstemp(path);
    struct traced t = {fdopen(fd, "w"), 100};

    (void)state;
    assert_non_null(st);
    assert_non_null(t.trace);
    assert_int_equal(bbs_store_tx(st, traced_tx, &t, &err), 0);
    assert_int_equal(bbs_store_tx_read(st, untrace_tx, NULL, &err),
                     0); /* the pool's one connection */
    fclose(t.trace);
    assert_int_equal(rows_with(100), 1);
    assert_int_equal(rows_with(101), 1);
    assert_int_equal(count_lines(path, "\tReadyForQuery"), 2);
    assert_int_equal(count_lines(path, "\tSync"), 2);
    assert_int_equal(count_lines(path, "\tQuery\t"), 0); /* no simple-protocol round trip */
    unlink(path);
    bbs_store_free(st);
}

static int duplicate_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    (void)arg;
    /* Both only queued: the second one's 23505 comes with COMMIT. */
    return insert(conn, 200, err) != 0 || insert(conn, 200, err) != 0 ? -1 : 0;
}

static int one_row_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    return insert(conn, *(int *)arg, err);
}

static void test_queued_write_error_fails_the_transaction_and_writes_nothing(void **state)
{
    struct bbs_error err = {0};
    int k = 201;

    (void)state;
    assert_int_equal(bbs_store_tx(g_store, duplicate_tx, NULL, &err), -1);
    assert_int_equal(err.type, BBS_ERR_RESOURCE_EXISTS);
    assert_int_equal(rows_with(200), 0);
    /* The connections are fit for the next transaction. */
    memset(&err, 0, sizeof(err));
    assert_int_equal(bbs_store_tx(g_store, one_row_tx, &k, &err), 0);
    assert_int_equal(rows_with(201), 1);
}

struct step_ctx {
    int failed_step;
};

static int stepwise_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct step_ctx *c = arg;

    c->failed_step = 1;
    if (insert(conn, 300, err) != 0 || bbs_store_sync(conn, err) != 0) {
        return -1;
    }
    c->failed_step = 2;
    if (insert(conn, 300, err) != 0 || bbs_store_sync(conn, err) != 0) {
        return -1;
    }
    c->failed_step = 0;
    return 0;
}

static int read_after_failed_write_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    PGresult *res;

    (void)arg;
    if (insert(conn, 400, err) != 0 || insert(conn, 400, err) != 0) {
        return -1;
    }
    res = bbs_exec_sql(conn, "SELECT 1", NULL, err); /* answers with the write's error */
    PQclear(res);
    return res == NULL ? -1 : 0;
}

static void test_sync_and_reads_report_the_write_that_failed(void **state)
{
    struct bbs_error err = {0};
    struct step_ctx c = {0};

    (void)state;
    assert_int_equal(bbs_store_tx(g_store, stepwise_tx, &c, &err), -1);
    assert_int_equal(c.failed_step, 2);
    assert_int_equal(err.type, BBS_ERR_RESOURCE_EXISTS);
    assert_int_equal(rows_with(300), 0);
    memset(&err, 0, sizeof(err));
    assert_int_equal(bbs_store_tx(g_store, read_after_failed_write_tx, NULL, &err), -1);
    assert_int_equal(err.type, BBS_ERR_RESOURCE_EXISTS);
    assert_int_equal(rows_with(400), 0);
}

static int many_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    (void)arg;
    for (int k = 1000; k < 1200; k++) {
        if (insert(conn, k, err) != 0) {
            return -1;
        }
    }
    return 0;
}

/* More queued writes than the pipeline holds at once (PIPE_MAX): synced
 * on the way, every one committed. */
static void test_many_queued_writes_all_commit(void **state)
{
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(bbs_store_tx(g_store, many_tx, NULL, &err), 0);
    assert_int_equal(it_db_exec("SELECT 1 FROM it_pipe WHERE k >= 1000 AND k < 1200", 0, NULL),
                     200);
}

struct die_ctx {
    int calls;
};

/* Only queues (as a desire does); on the first attempt the connection
 * dies under it without a word from the server (its socket shut). */
static int die_once_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct die_ctx *c = arg;

    if (insert(conn, 500, err) != 0) {
        return -1;
    }
    if (c->calls++ == 0) {
        shutdown(PQsocket(conn), SHUT_RDWR);
    }
    return 0;
}

/* Nothing was answered before COMMIT would leave: the transaction is
 * heard first, fails surely uncommitted and runs again on a new
 * connection, where sending COMMIT with it would have left the outcome
 * unknown. */
static void test_write_only_body_on_a_dead_connection_is_retried(void **state)
{
    struct bbs_error err = {0};
    struct die_ctx c = {0};

    (void)state;
    assert_int_equal(bbs_store_tx(g_store, die_once_tx, &c, &err), 0);
    assert_int_equal(c.calls, 2);
    assert_int_equal(rows_with(500), 1);
}

/* ---- change-log tickets and the hub's mark (changelog.h) ---- */

/* An UNCLAIMED instance of `guid`: a change of it logs one event (instance created). */
static void unclaimed(struct bbs_alrp *a, const char *guid)
{
    memset(a, 0, sizeof(*a));
    a->key.process_guid = guid;
    a->key.domain = "pipe";
    a->instance.instance_guid = "";
    a->instance.cell_id = "";
    a->state = BBS_ALRP_UNCLAIMED;
    a->crash_reason = "";
    a->placement_error = "";
    a->availability_zone = "";
    a->mod_epoch = "e";
    a->net_info.present = 1;
}

static int64_t db_term(void)
{
    PGconn *c = PQconnectdb(it_db_conninfo());
    PGresult *r = PQexec(c, "SELECT term FROM bbs_leader WHERE id = 1");
    int64_t term = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
                       ? strtoll(PQgetvalue(r, 0, 0), NULL, 10)
                       : -1;

    PQclear(r);
    PQfinish(c);
    return term;
}

static int fenced_calls;

static void on_fenced(void *ctx)
{
    (void)ctx;
    fenced_calls++;
}

/*
 * The oldest ticket held is what a mark waits for: none held, it is the
 * next number; a held one holds it until given back; one given back with
 * a grace (COMMIT's outcome unknown) only once the grace is over.
 */
static void test_tickets_hold_the_mark_until_given_back(void **state)
{
    struct bbs_error err = {0};
    int64_t last;
    uint64_t ticket;
    uint64_t a;
    uint64_t b;
    (void)state;

    a = bbs_store_ticket_take(g_store);
    b = bbs_store_ticket_take(g_store);
    assert_true(b > a);
    assert_int_equal(bbs_store_changelog_mark(g_store, &last, &ticket, &err), 0);
    assert_true(ticket > b);
    assert_true(bbs_store_ticket_oldest(g_store) == a);
    bbs_store_ticket_give_back(g_store, a, 0);
    assert_true(bbs_store_ticket_oldest(g_store) == b);
    bbs_store_ticket_give_back(g_store, b, 300 * INT64_C(1000000));
    assert_true(bbs_store_ticket_oldest(g_store) == b); /* in its grace */
    it_sleep_ms(400);
    assert_true(bbs_store_ticket_oldest(g_store) == bbs_store_ticket_next(g_store));
}

/* On the first attempt the connection dies under the body (nothing
 * queued yet): the change log's insert is queued on a dead socket. */
static int die_before_log_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct die_ctx *c = arg;

    (void)err;
    if (c->calls++ == 0) {
        shutdown(PQsocket(conn), SHUT_RDWR);
    }
    return 0;
}

/*
 * A change whose connection broke after its change-log insert was queued
 * may have delivered COMMIT after all: its ticket stays held for the
 * grace, not given back at once; the retry on a new connection commits
 * and gives its own back.
 */
static void test_broken_connection_keeps_its_ticket_for_the_grace(void **state)
{
    struct bbs_error err = {0};
    struct die_ctx c = {0};
    struct bbs_arena *arena = bbs_arena_new();
    struct bbs_change change;
    struct bbs_change_mark mark;
    struct bbs_alrp a = {0};
    uint64_t first = bbs_store_ticket_next(g_store);
    (void)state;

    unclaimed(&a, "pipe-ticket");
    bbs_change_init(&change, arena);
    mark = bbs_change_mark(&change);
    (void)bbs_change_alrp(&change, NULL, &a); /* one event: instance created */
    assert_int_equal(bbs_store_tx_change(g_store, die_before_log_tx, &c, &change, &mark, &err), 0);
    assert_int_equal(c.calls, 2);
    assert_true(bbs_store_ticket_oldest(g_store) == first);
    assert_true(bbs_store_ticket_next(g_store) == first + 2);
    bbs_arena_free(arena);
}

/*
 * The mark is read in a fenced transaction: with the database's term it
 * reads; with another (a server that lost leadership and does not know
 * yet) it fails as fenced out and says so, so such a server cannot mark
 * ids the new leader handed out.
 */
static void test_changelog_mark_is_fenced(void **state)
{
    struct bbs_error err = {0};
    int64_t term = db_term();
    int64_t last = -1;
    uint64_t ticket;
    (void)state;

    assert_true(term > 0);
    fenced_calls = 0;
    bbs_store_set_fence(g_store, term, on_fenced, NULL);
    assert_int_equal(bbs_store_changelog_mark(g_store, &last, &ticket, &err), 0);
    assert_true(last >= 0);
    assert_int_equal(fenced_calls, 0);
    bbs_store_set_fence(g_store, term + 1000, on_fenced, NULL);
    assert_int_not_equal(bbs_store_changelog_mark(g_store, &last, &ticket, &err), 0);
    assert_int_equal(fenced_calls, 1);
    assert_non_null(strstr(err.message, "fenced out"));
    bbs_store_set_fence(g_store, 0, NULL, NULL);
}

/* ---- the event hub with nobody listening (hub.h) ---- */

static int noop_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    (void)conn;
    (void)arg;
    (void)err;
    return 0;
}

/* Commit one change: an ActualLRP created, one change-log row. */
static void write_change(const char *guid)
{
    struct bbs_error err = {0};
    struct bbs_arena *arena = bbs_arena_new();
    struct bbs_change change;
    struct bbs_change_mark mark;
    struct bbs_alrp a = {0};

    unclaimed(&a, guid);
    bbs_change_init(&change, arena);
    mark = bbs_change_mark(&change);
    (void)bbs_change_alrp(&change, NULL, &a);
    assert_int_equal(bbs_store_tx_change(g_store, noop_tx, NULL, &change, &mark, &err), 0);
    bbs_arena_free(arena);
}

/* A sink that keeps the ids of the records it is given (the hub calls it under its lock). */
struct id_sink {
    pthread_mutex_t mu;
    int64_t ids[16];
    int n;
};

static int id_sink_send(void *ctx, const void *p, size_t n, size_t max)
{
    struct id_sink *k = ctx;
    char line[32] = {0};

    (void)max;
    memcpy(line, p, n < sizeof(line) - 1 ? n : sizeof(line) - 1);
    pthread_mutex_lock(&k->mu);
    if (strncmp(line, "id: ", 4) == 0 && k->n < 16) {
        k->ids[k->n++] = strtoll(line + 4, NULL, 10);
    }
    pthread_mutex_unlock(&k->mu);
    return 0;
}

static void id_sink_nothing(void *ctx)
{
    (void)ctx;
}

static int id_sink_count(struct id_sink *k)
{
    int n;

    pthread_mutex_lock(&k->mu);
    n = k->n;
    pthread_mutex_unlock(&k->mu);
    return n;
}

/* Up to 5 s for `k` to hold `n` records. */
static int id_sink_wait(struct id_sink *k, int n)
{
    for (int i = 0; i < 500 && id_sink_count(k) < n; i++) {
        it_sleep_ms(10);
    }
    return id_sink_count(k);
}

/*
 * Nobody subscribed: writes do not make the hub read the log; it passes
 * what settled at its poll interval. A subscriber that comes then gets
 * what commits after it (the hub reads again), and one resuming from an
 * id before the passed writes gets them from its backlog: nothing lost.
 */
static void test_hub_reads_nothing_while_nobody_listens(void **state)
{
    struct bbs_hub_config cfg = {64, INT64_C(60000000000), INT64_C(50000000), 100};
    struct bbs_hub *hub = bbs_hub_new(g_store, &cfg);
    struct id_sink live = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct id_sink resumed = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct bbs_hub_sink live_sink = {id_sink_send, id_sink_nothing, id_sink_nothing, &live};
    struct bbs_hub_sink resumed_sink = {id_sink_send, id_sink_nothing, id_sink_nothing, &resumed};
    struct bbs_hub_sub_opts live_o = {BBS_EVENT_INSTANCE, 0, "", 0, 0};
    struct bbs_hub_sub_opts resumed_o = {BBS_EVENT_INSTANCE, 0, "", 1, 0};
    struct bbs_error err = {0};
    int64_t before;
    int64_t passed;
    uint64_t ticket;
    (void)state;

    assert_int_equal(bbs_hub_start(hub, &err), 0);
    assert_int_equal(bbs_store_changelog_mark(g_store, &before, &ticket, &err), 0);
    write_change("hub-quiet-1");
    write_change("hub-quiet-2");
    write_change("hub-quiet-3");
    assert_int_equal(bbs_store_changelog_mark(g_store, &passed, &ticket, &err), 0);
    assert_true(passed >= before + 3);
    for (int i = 0; i < 500 && bbs_hub_last_id(hub) < passed; i++) {
        it_sleep_ms(10);
    }
    assert_true(bbs_hub_last_id(hub) >= passed); /* passed at the poll interval */
    assert_int_equal(bbs_hub_log_reads(hub), 0);

    assert_int_equal(bbs_hub_subscribe(hub, &live_sink, &live_o, &err), 0);
    write_change("hub-heard-1");
    assert_int_equal(id_sink_wait(&live, 1), 1);
    assert_true(live.ids[0] > passed);
    assert_true(bbs_hub_log_reads(hub) >= 1);

    resumed_o.last_id = before;
    assert_int_equal(bbs_hub_subscribe(hub, &resumed_sink, &resumed_o, &err), 0);
    assert_int_equal(id_sink_wait(&resumed, 4), 4);
    for (int i = 0; i < 3; i++) {
        assert_true(resumed.ids[i] > before && resumed.ids[i] <= passed);
        assert_true(i == 0 || resumed.ids[i] > resumed.ids[i - 1]);
    }
    assert_true(resumed.ids[3] == live.ids[0]);
    bbs_hub_free(hub);
}

/*
 * A write nobody heard (no poke, and the poll interval a minute away)
 * reaches a subscriber that comes afterwards and resumes from before it:
 * its backlog ends at the hub's last id, the rest comes live, so the
 * subscriber wakes the hub rather than wait for the next write or poll.
 */
static void test_subscriber_wakes_the_hub(void **state)
{
    struct bbs_hub_config cfg = {64, INT64_C(60000000000), INT64_C(60000000000), 100};
    struct bbs_hub *hub = bbs_hub_new(g_store, &cfg);
    struct id_sink k = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct bbs_hub_sink sink = {id_sink_send, id_sink_nothing, id_sink_nothing, &k};
    struct bbs_hub_sub_opts o = {BBS_EVENT_INSTANCE, 0, "", 1, 0};
    struct bbs_error err = {0};
    int64_t written;
    uint64_t ticket;
    (void)state;

    assert_int_equal(bbs_hub_start(hub, &err), 0);
    o.last_id = bbs_hub_last_id(hub);
    write_change("hub-unheard-1");
    assert_int_equal(bbs_store_changelog_mark(g_store, &written, &ticket, &err), 0);
    assert_true(bbs_hub_last_id(hub) < written); /* nobody woke it */
    assert_int_equal(bbs_hub_subscribe(hub, &sink, &o, &err), 0);
    assert_int_equal(id_sink_wait(&k, 1), 1);
    assert_true(k.ids[0] > o.last_id && k.ids[0] <= written);
    bbs_hub_free(hub);
}

static int setup(void **state)
{
    struct bbs_error err = {0};

    if (it_group_setup(state) != 0 ||
        it_db_exec("CREATE TABLE it_pipe (k INTEGER PRIMARY KEY, v TEXT NOT NULL)", 0, NULL) < 0) {
        return -1;
    }
    g_store = bbs_store_new(it_db_conninfo(), 2, 3, &err);
    if (g_store == NULL) {
        fprintf(stderr, "store: %s\n", err.message);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    bbs_store_free(g_store);
    return it_group_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_and_queued_writes_commit_in_two_round_trips),
        cmocka_unit_test(test_queued_write_error_fails_the_transaction_and_writes_nothing),
        cmocka_unit_test(test_sync_and_reads_report_the_write_that_failed),
        cmocka_unit_test(test_many_queued_writes_all_commit),
        cmocka_unit_test(test_write_only_body_on_a_dead_connection_is_retried),
        cmocka_unit_test(test_tickets_hold_the_mark_until_given_back),
        cmocka_unit_test(test_broken_connection_keeps_its_ticket_for_the_grace),
        cmocka_unit_test(test_changelog_mark_is_fenced),
        cmocka_unit_test(test_hub_reads_nothing_while_nobody_listens),
        cmocka_unit_test(test_subscriber_wakes_the_hub),
    };

    it_set_name("store_pipeline");
    return it_main_exit(cmocka_run_group_tests(tests, setup, teardown));
}
