/*
 * test_handlers.c - a request blocked in the database holds up no other
 * connection (docs/configuration.md, http_handler_threads).
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

struct held {
    char guid[64];
    char err[256];
    atomic_int done;
    int failed;
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

static void test_blocked_handler_holds_up_no_connection(void **state)
{
    struct held held = {0};
    char other[64];
    char sql[1024];
    PGconn *lock;
    pthread_t t;
    int64_t deadline;
    struct it_resp r;

    (void)state;
    it_uniq(held.guid, sizeof(held.guid), "held");
    it_uniq(other, sizeof(other), "other");
    snprintf(sql, sizeof(sql),
             "CREATE FUNCTION wait_for_test() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
             " IF NEW.process_guid = '%s' THEN PERFORM pg_advisory_xact_lock(" LOCK_KEY ");"
             " END IF; RETURN NEW; END $$;"
             "CREATE TRIGGER wait_for_test BEFORE INSERT ON desired_lrps"
             " FOR EACH ROW EXECUTE FUNCTION wait_for_test();",
             held.guid);
    assert_true(it_db_exec(sql, 0, NULL) >= 0);
    lock = PQconnectdb(it_db_conninfo());
    assert_int_equal(PQstatus(lock), CONNECTION_OK);
    exec_ok(lock, "SELECT pg_advisory_lock(" LOCK_KEY ")");

    /* The main client's connection exists before the held request's (one I/O thread: both on
     * it). */
    it_request("POST", "/v1/ping", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
    assert_int_equal(pthread_create(&t, NULL, held_main, &held), 0);
    deadline = it_mono_ms() + 20000;
    while (it_db_exec("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted", 0,
                      NULL) < 1 &&
           it_mono_ms() < deadline) {
        it_sleep_ms(10);
    }
    assert_true(it_db_exec("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted", 0,
                           NULL) == 1);

    /* The held desire waits in its transaction; the other connection is answered. */
    it_request("POST", "/v1/ping", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
    it_desire(other, NULL, 1);
    assert_int_equal(atomic_load(&held.done), 0);

    exec_ok(lock, "SELECT pg_advisory_unlock(" LOCK_KEY ")");
    pthread_join(t, NULL);
    PQfinish(lock);
    assert_true(it_db_exec("DROP TRIGGER wait_for_test ON desired_lrps;"
                           "DROP FUNCTION wait_for_test();",
                           0, NULL) >= 0);
    if (held.failed) {
        fail_msg("the held desire failed: %s", held.err);
    }
}

static json_t *one_io_thread;

static int setup(void **state)
{
    (void)state;
    one_io_thread = json_pack("{s:i}", "http_worker_threads", 1);
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
    };

    it_set_name("handlers");
    return it_main_exit(cmocka_run_group_tests_name("handlers", tests, setup, teardown));
}
