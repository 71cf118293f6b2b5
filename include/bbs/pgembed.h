/*
 * pgembed.h - a private PostgreSQL cluster for when no database URL is given.
 *
 * Creates (initdb) a cluster under <data_dir>/postgres on first use, starts
 * it with pg_ctl listening only on a Unix socket inside <data_dir>, and
 * stops it again on bbs_pgembed_stop(). When running as root, initdb and
 * the server run as the `postgres` user (runuser), since PostgreSQL
 * refuses to run as root. PostgreSQL logs to <data_dir>/postgres.log.
 *
 * One server per data_dir: <data_dir>/bbs.lock is held for the server's
 * life. A watchdog process stops the cluster if the server dies without
 * doing so (SIGKILL), and a postmaster left running by a dead server is
 * stopped before ours starts. So the cluster a server talks to is always
 * one it started, and it stops only that one.
 *
 * The process becomes a child subreaper (prctl PR_SET_CHILD_SUBREAPER) so
 * that the postmaster is its child; nothing else in the server may reap
 * children it did not fork (no waitpid(-1, ...)).
 */
#ifndef BBS_PGEMBED_H
#define BBS_PGEMBED_H

#include <stddef.h>

#include "bbs/error.h"

struct bbs_pgembed;

/*
 * Start (creating if needed) the cluster under `data_dir` ("" = the
 * default: /var/lib/bbs as root, ./bbs-data otherwise). `bin_dir` is where
 * initdb/pg_ctl live, or "" to search /usr/lib/postgresql/<v>/bin. On
 * success `*out` is the running cluster and `conninfo` (of `size` bytes) a
 * libpq connection string for database "bbs", created if missing.
 * Fails (err->message says why) if another live server holds data_dir;
 * waits up to a minute if a dead server's watchdog is still stopping its
 * cluster there. Call during start-up, from one thread.
 */
BBS_MUST_CHECK int bbs_pgembed_start(const char *data_dir, const char *bin_dir,
                                     struct bbs_pgembed **out, char *conninfo, size_t size,
                                     struct bbs_error *err);

/*
 * Notice a postmaster that died under us (killed, crashed, stopped by
 * hand) and start it again, and a watchdog that died, and respawn it.
 * Cheap when all is well (a waitpid with WNOHANG): meant to run about once
 * a second. While the postmaster restarts (a few seconds) the call blocks.
 * Returns 0, also after a failed restart attempt (logged, retried on the
 * next call); -1 with `err` set after several failed attempts in a row, or
 * if the watchdog cannot be respawned: the caller should then exit
 * non-zero so that a supervisor restarts the whole server. Not thread-safe:
 * call from one thread, and not after (or during) bbs_pgembed_stop().
 * `pg` NULL (external database) is a no-op returning 0.
 */
BBS_MUST_CHECK int bbs_pgembed_check(struct bbs_pgembed *pg, struct bbs_error *err);

/*
 * Stop the cluster (fast shutdown), dismiss the watchdog, release the
 * data_dir lock and free `pg`. Accepts NULL.
 */
void bbs_pgembed_stop(struct bbs_pgembed *pg);

#endif /* BBS_PGEMBED_H */
