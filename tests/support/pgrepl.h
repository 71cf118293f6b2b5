/*
 * pgrepl.h - a PostgreSQL primary and a synchronous streaming standby for
 * the database failover test, in a private directory on loopback TCP
 * ports, run as `postgres` (runuser) when the test runs as root.
 *
 * Not shared with the pg fixture: killing this primary disturbs no other
 * test. The directory also gets a `conninfo` file naming both hosts with
 * target_session_attrs=read-write, so pointing BBS_TEST_PGDIR at it makes
 * the harness create (and drop) the group's database on whichever node is
 * the primary at the time (support/db.c).
 */
#ifndef BBS_IT_SUPPORT_PGREPL_H
#define BBS_IT_SUPPORT_PGREPL_H

struct it_pgrepl;

/*
 * initdb a primary, start it, pg_basebackup -R a standby from it, start
 * that, make it synchronous (synchronous_standby_names = '*') and wait
 * until the primary reports it as `sync`. NULL after printing why (and
 * with nothing left running or on disk).
 */
struct it_pgrepl *it_pgrepl_start(void);

/* The same on the given ports (node 0, node 1): a new pair where an old one was. */
struct it_pgrepl *it_pgrepl_start_on(const int ports[2]);

/* Run `sql` on node `node`'s database `dbname` (autocommit). 0 or -1 after printing why. */
int it_pgrepl_exec(const struct it_pgrepl *r, int node, const char *dbname, const char *sql);

/* The directory (its `conninfo` file: see above). */
const char *it_pgrepl_dir(const struct it_pgrepl *r);

/* TCP port of node 0 (the first primary) or 1 (the standby). */
int it_pgrepl_port(const struct it_pgrepl *r, int node);

/*
 * SIGKILL the primary's postmaster and every process it had started, as
 * a crashed host would leave them, and wait until the postmaster is gone.
 * 0 or -1.
 */
int it_pgrepl_kill_primary(struct it_pgrepl *r);

/* pg_ctl promote the standby and wait until it accepts writes. 0 or -1. */
int it_pgrepl_promote(struct it_pgrepl *r);

/* Stop both nodes (immediate), remove the directory, free. NULL is a no-op. */
void it_pgrepl_free(struct it_pgrepl *r);

#endif /* BBS_IT_SUPPORT_PGREPL_H */
