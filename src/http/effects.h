/*
 * effects.h - private to the HTTP target: handlers hand the change record
 * (change.h) their store call filled to the server's effects
 * (bbs/effects.h, shared with the worker) and never send anything
 * themselves.
 */
#ifndef BBS_HTTP_EFFECTS_H
#define BBS_HTTP_EFFECTS_H

#include "bbs/change.h"
#include "bbs/effects.h"
#include "handlers.h"

/*
 * For handlers: apply `change` (bbs_effects_apply with the server's
 * effects and the request's trace id) and return `rc`, the store call's
 * result. A call that failed after its commit (crash restart without a
 * desired LRP) still has its committed record applied.
 */
int bbs_effects_after(struct bbs_req *req, const struct bbs_change *change, int rc);

#endif /* BBS_HTTP_EFFECTS_H */
