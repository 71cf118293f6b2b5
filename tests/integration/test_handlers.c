/*
 * test_handlers.c - a request blocked in the database holds up no other
 * connection, and a start that changes nothing needs no handler thread
 * (docs/configuration.md, http_handler_threads).
 *
 * The server runs with one I/O thread, so every connection is on it. A
 * desire is held in its transaction by an advisory lock this test owns
 * (a trigger on desired_lrps waits for it); meanwhile requests on another
 * connection, opened before, are answered. Only then is the lock given up
 * and the held desire checked. Handlers run on the I/O thread would answer
 * nothing until the lock is given up (the client's timeout fails the test).
 */
#include "harness.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define LOCK_KEY "70707"
#define HANDLERS 2 /* the server's http_handler_threads */

/* A desire sent on a connection of its own, held in its transaction. */
struct held {
    char guid[64];
    char err[256];
    atomic_int done;
    int failed;
    pthread_t t;
};

/* The lock this test owns, and the desires waiting for it. */
struct hold {
    PGconn *lock;
    int n;
    struct held held[HANDLERS];
};

static void *held_main(void *arg)
{
    struct held *d = arg;

    d->failed = it_desire_own_client(d->guid, d->err, sizeof(d->err)) != 0;
    atomic_store(&d->done, 1);
    return NULL;
}

static void exec_ok(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType s = PQresultStatus(res);

    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    }
    PQclear(res);
}

static int lock_waiters(void)
{
    return it_db_exec("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted", 0,
                      NULL);
}

/*
 * Take the lock, then send `n` desires that wait for it in their
 * transactions (a trigger on desired_lrps), each holding a handler thread;
 * returns when all `n` wait.
 */
static void hold_handlers(struct hold *h, int n)
{
    char prefix[48];
    char sql[1024];
    int64_t deadline;

    it_uniq(prefix, sizeof(prefix), "held");
    snprintf(sql, sizeof(sql),
             "CREATE FUNCTION wait_for_test() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
             " IF NEW.process_guid LIKE '%s-%%' THEN PERFORM pg_advisory_xact_lock(" LOCK_KEY ");"
             " END IF; RETURN NEW; END $$;"
             "CREATE TRIGGER wait_for_test BEFORE INSERT ON desired_lrps"
             " FOR EACH ROW EXECUTE FUNCTION wait_for_test();",
             prefix);
    assert_true(it_db_exec(sql, 0, NULL) >= 0);
    h->lock = PQconnectdb(it_db_conninfo());
    assert_int_equal(PQstatus(h->lock), CONNECTION_OK);
    exec_ok(h->lock, "SELECT pg_advisory_lock(" LOCK_KEY ")");
    h->n = n;
    for (int i = 0; i < n; i++) {
        snprintf(h->held[i].guid, sizeof(h->held[i].guid), "%s-%d", prefix, i);
        assert_int_equal(pthread_create(&h->held[i].t, NULL, held_main, &h->held[i]), 0);
    }
    deadline = it_mono_ms() + 20000;
    while (lock_waiters() < n && it_mono_ms() < deadline) {
        it_sleep_ms(10);
    }
    assert_int_equal(lock_waiters(), n);
}

/* None of the held desires has been answered. */
static void assert_still_held(const struct hold *h)
{
    for (int i = 0; i < h->n; i++) {
        assert_int_equal(atomic_load(&h->held[i].done), 0);
    }
}

/* Give up the lock: every held desire then succeeds. */
static void release_handlers(struct hold *h)
{
    exec_ok(h->lock, "SELECT pg_advisory_unlock(" LOCK_KEY ")");
    for (int i = 0; i < h->n; i++) {
        pthread_join(h->held[i].t, NULL);
    }
    PQfinish(h->lock);
    assert_true(it_db_exec("DROP TRIGGER wait_for_test ON desired_lrps;"
                           "DROP FUNCTION wait_for_test();",
                           0, NULL) >= 0);
    for (int i = 0; i < h->n; i++) {
        if (h->held[i].failed) {
            fail_msg("the held desire %s failed: %s", h->held[i].guid, h->held[i].err);
        }
    }
}

static void test_blocked_handler_holds_up_no_connection(void **state)
{
    struct hold h = {0};
    char other[64];
    struct it_resp r;

    (void)state;
    it_uniq(other, sizeof(other), "other");
    /* The main client's connection exists before the held request's (one I/O thread: both on
     * it). */
    it_request("POST", "/v1/ping", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
    hold_handlers(&h, 1);

    /* The held desire waits in its transaction; the other connection is answered. */
    it_request("POST", "/v1/ping", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
    it_desire(other, NULL, 1);
    assert_still_held(&h);
    release_handlers(&h);
}

/* A start that changes a row, sent on a connection of its own. */
struct changing_start {
    const char *guid;
    char err[256];
    atomic_int done;
    int rc;
};

static void *changing_start_main(void *arg)
{
    struct changing_start *s = arg;

    s->rc = it_start_own_client(s->guid, 1, "ig-1", "cell-q", "10.0.0.2", s->err, sizeof(s->err));
    atomic_store(&s->done, 1);
    return NULL;
}

/*
 * A start that repeats what is stored (a cell's heartbeat) is answered by
 * the I/O thread even while every handler thread waits; a start that
 * changes the row is handed over and waits for a handler thread, then
 * takes effect.
 */
static void test_heartbeat_start_needs_no_handler_thread(void **state)
{
    struct hold h = {0};
    struct changing_start s = {0};
    char guid[64];
    pthread_t t;
    struct it_alrp a;

    (void)state;
    it_uniq(guid, sizeof(guid), "quick");
    it_desire(guid, NULL, 2);
    assert_int_equal(it_claim(guid, 0, "ig-0", "cell-q"), IT_OK);
    assert_int_equal(it_start(guid, 0, NULL, "ig-0", "cell-q", "10.0.0.1"), IT_OK);
    assert_int_equal(it_claim(guid, 1, "ig-1", "cell-q"), IT_OK);
    it_assert_state(guid, 0, "RUNNING", &a);
    hold_handlers(&h, HANDLERS);

    s.guid = guid;
    assert_int_equal(pthread_create(&t, NULL, changing_start_main, &s), 0);
    /* Index 0's start again, as the cell's bulk loop sends it: answered now. */
    assert_int_equal(it_start(guid, 0, NULL, "ig-0", "cell-q", "10.0.0.1"), IT_OK);
    assert_int_equal(it_start(guid, 0, NULL, "ig-0", "cell-q", "10.0.0.1"), IT_OK);
    it_sleep_ms(300);
    assert_int_equal(atomic_load(&s.done), 0); /* index 1's start waits for a handler thread */
    assert_still_held(&h);

    release_handlers(&h);
    pthread_join(t, NULL);
    if (s.rc != IT_OK) {
        fail_msg("the handed-over start failed: %s", s.err);
    }
    it_assert_state(guid, 1, "RUNNING", &a);
    assert_string_equal(a.address, "10.0.0.2");
    it_assert_state(guid, 0, "RUNNING", &a);
    assert_string_equal(a.address, "10.0.0.1");
}

static json_t *one_io_thread;

static int setup(void **state)
{
    (void)state;
    one_io_thread =
        json_pack("{s:i, s:i}", "http_worker_threads", 1, "http_handler_threads", HANDLERS);
    it_server_config(one_io_thread);
    return it_server_start("handlers", NULL);
}

static int teardown(void **state)
{
    int rc = it_group_teardown(state);

    it_server_config(NULL);
    json_decref(one_io_thread);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocked_handler_holds_up_no_connection),
        cmocka_unit_test(test_heartbeat_start_needs_no_handler_thread),
    };

    it_set_name("handlers");
    return it_main_exit(cmocka_run_group_tests_name("handlers", tests, setup, teardown));
}
