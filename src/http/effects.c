/*
 * effects.c - after-commit effects of one change record (see effects.h).
 */
#include "effects.h"

#include "bbs/auction.h"
#include "bbs/log.h"

void bbs_effects_apply(struct bbs_ctx *ctx, const struct bbs_change *change, const char *trace_id)
{
    if (!change->committed) {
        return;
    }
    for (size_t i = 0; i < change->n_notes; i++) {
        const struct bbs_change_note *n = &change->notes[i];

        bbs_log(BBS_LOG_ERROR, n->what, "{s:s, s:i, s:s}", "process_guid", n->process_guid, "index",
                (int)n->index, "error", n->err.message);
    }
    /* One POST per start request, as upstream sends them. */
    for (size_t i = 0; i < change->n_auctions; i++) {
        bbs_auction_request(ctx->auction, &change->auctions[i], 1, trace_id);
    }
    /* change->rep_stops stays empty until cells are registered. */
}

int bbs_effects_after(struct bbs_req *req, const struct bbs_change *change, int rc)
{
    bbs_effects_apply(req->ctx, change, req->trace_id);
    return rc;
}
