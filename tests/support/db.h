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

#endif /* BBS_IT_SUPPORT_DB_H */
