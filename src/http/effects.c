/*
 * effects.c - handlers' after-commit step (see effects.h): the record
 * goes to the server's effects (src/clients/effects.c).
 */
#include "effects.h"

int bbs_effects_after(struct bbs_req *req, const struct bbs_change *change, int rc)
{
    bbs_effects_apply(req->ctx->effects, change, req->trace_id);
    return rc;
}
