/*
 * pgembed.h - a private PostgreSQL cluster for when no database URL is given.
 *
 * Creates (initdb) a cluster under <data_dir>/postgres on first use, starts
 * it with pg_ctl listening only on a Unix socket inside <data_dir>, and
 * stops it again on bbs_pgembed_stop(). When running as root, initdb and
 * the server run as the `postgres` user (runuser), since PostgreSQL
 * refuses to run as root.
 */
#ifndef BBS_PGEMBED_H
#define BBS_PGEMBED_H

#include "bbs/error.h"

struct bbs_pgembed;

/*
 * Start (creating if needed) the cluster under `data_dir`. `bin_dir` is
 * where initdb/pg_ctl live, or "" to search /usr/lib/postgresql/<v>/bin.
 * On success `*out` is the running cluster and `conninfo` (of `size`
 * bytes) a libpq connection string for database "bbs", created if missing.
 */
BBS_MUST_CHECK int bbs_pgembed_start(const char *data_dir, const char *bin_dir,
                                     struct bbs_pgembed **out, char *conninfo, size_t size,
                                     struct bbs_error *err);

/* Stop the cluster (fast shutdown) and free `pg`. Accepts NULL. */
void bbs_pgembed_stop(struct bbs_pgembed *pg);

#endif /* BBS_PGEMBED_H */
