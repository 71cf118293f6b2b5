/*
 * effects.h - private to the HTTP target: what happens after a state
 * change committed, in one place.
 *
 * Handlers hand the change record (change.h) their store call filled to
 * bbs_effects_apply() and never send anything themselves: today that is
 * the auction start requests and the log lines of after-commit steps
 * that failed; events, metrics and rep calls hang off the same record
 * next.
 */
#ifndef BBS_EFFECTS_H
#define BBS_EFFECTS_H

#include "bbs/change.h"
#include "handlers.h"

/*
 * Send what `change` asks for (one auctioneer POST per start request,
 * queued: never blocks) and log its notes. `trace_id` (may be NULL)
 * becomes X-Vcap-Request-Id. Does nothing for an uncommitted record.
 */
void bbs_effects_apply(struct bbs_ctx *ctx, const struct bbs_change *change, const char *trace_id);

/*
 * For handlers: apply `change` (bbs_effects_apply, with the request's
 * trace id) and return `rc`, the store call's result. A call that failed
 * after its commit (crash restart without a desired LRP) still has its
 * committed record applied.
 */
int bbs_effects_after(struct bbs_req *req, const struct bbs_change *change, int rc);

#endif /* BBS_EFFECTS_H */
