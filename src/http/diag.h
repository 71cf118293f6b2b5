/*
 * diag.h - private to the HTTP target: the operator answers of
 * GET /v1/discover, /v1/diagnostics and /v1/stats (h_diag.c), as JSON
 * text, served by the API listener (route kind BBS_ROUTE_JSON) and by the
 * health listener alike (health.c), so a standby answers them too.
 */
#ifndef BBS_HTTP_DIAG_H
#define BBS_HTTP_DIAG_H

#include "bbs/buf.h"
#include "bbs/http.h"

/* Each check of /v1/diagnostics gives up after this long (Locket: communication_timeout). */
#define BBS_DIAG_CHECK_TIMEOUT_NS INT64_C(2000000000)

/* Version, release, routes and revisions served (docs/api.md, "Diagnostics"). */
void bbs_diag_discover(struct bbs_buf *out);

/*
 * Every dependency checked now. `ctx` NULL: the server is still starting
 * (nothing to check yet): overall FAIL with one "server" check saying so.
 */
void bbs_diag_diagnostics(const struct bbs_ctx *ctx, struct bbs_buf *out);

/* Counts by state, requests served, uptime. `ctx` NULL: starting (no counts). */
void bbs_diag_stats(const struct bbs_ctx *ctx, struct bbs_buf *out);

/*
 * The answer for `path` (one of the three; GET), appended to `out`: 1 when
 * `path` is one of them, 0 otherwise (nothing appended).
 */
int bbs_diag_answer(const char *path, const struct bbs_ctx *ctx, struct bbs_buf *out);

#endif /* BBS_HTTP_DIAG_H */
