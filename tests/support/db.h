/*
 * db.h - the group's own database on the fixture cluster (created and dropped
 * by server.c) and direct SQL on it for test set-up.
 */
#ifndef BBS_IT_SUPPORT_DB_H
#define BBS_IT_SUPPORT_DB_H

/*
 * The conninfo (key=value text) of this group's own database, or NULL while
 * no server runs. Only for setting up states that no API call can reach
 * (e.g. SUSPECT rows, which only convergence creates, or fault-injection
 * triggers); results are still observed through the API.
 */
const char *it_db_conninfo(void);

/*
 * Run `sql` on the group's database over a fresh connection. With n > 0 it
 * is one statement with text parameters $1..$n; with n == 0 it may be
 * several statements (PQexec). Returns the number of rows affected or
 * returned by the (last) statement, or -1 after printing the error. Never
 * asserts; safe in worker threads.
 */
int it_db_exec(const char *sql, int n, const char *const *params);

/*
 * A private PostgreSQL cluster, for a group that stops and starts the
 * database under the server (test_faults.c, test_api_diag.c): made in
 * /tmp/bbs-it-<name>pg-XXXXXX by fixtures/pg_start.sh, its output in
 * <dir>.log, and named by BBS_TEST_PGDIR (so the next it_server_start
 * uses it) until it_pg_private_end. Each returns 0 or -1 after printing why.
 */
int it_pg_private_begin(const char *name);

/* Stop or start it again (fixtures/pg_stop.sh, pg_start.sh). */
int it_pg_private_stop(void);
int it_pg_private_start(void);

/*
 * The group's teardown: start the cluster if a test left it down (so the
 * database can be dropped), it_server_stop, stop the cluster for good and
 * remove it (its log too when all went well), and point BBS_TEST_PGDIR back
 * at the fixture's cluster. it_server_stop's result, -1 if pg_stop failed.
 */
int it_pg_private_end(void);

#endif /* BBS_IT_SUPPORT_DB_H */
