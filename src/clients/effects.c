/*
 * effects.c - after-commit effects of one change record (see effects.h).
 */
#include "bbs/effects.h"

#include <string.h>

#include "bbs/auction.h"
#include "bbs/log.h"
#include "bbs/rep.h"

/*
 * The address to call for an instance on `cell_id`: the record's own
 * (`rep_url`, looked up before the commit) or Locket's. 0 and `*url`, or
 * -1 after logging and counting why not (the row stays as it is, 5.6).
 */
static int effects_rep_url(struct bbs_effects *fx, struct bbs_arena *arena, const char *what,
                           const struct bbs_alrp_key *key, const struct bbs_instance_key *inst,
                           const char *rep_url, const char **url)
{
    if (rep_url != NULL) {
        *url = rep_url;
        return 0;
    }
    (void)arena;
    /* No Locket client yet: every cell is unknown (its lookup comes with the client). */
    atomic_fetch_add(&fx->rep_cell_unknown, 1);
    bbs_log(BBS_LOG_ERROR, "rep.cell-not-found", "{s:s, s:s, s:i, s:s, s:s}", "call", what,
            "process_guid", key->process_guid, "index", (int)key->index, "instance_guid",
            inst->instance_guid, "cell_id", inst->cell_id);
    return -1;
}

static void effects_rep(struct bbs_effects *fx, const struct bbs_change *change,
                        const char *trace_id)
{
    if (change->n_rep_stops + change->n_rep_updates > 0 && fx->rep == NULL) {
        bbs_log(BBS_LOG_ERROR, "rep.disabled", "{s:I}", "calls",
                (json_int_t)(change->n_rep_stops + change->n_rep_updates));
        return;
    }
    for (size_t i = 0; i < change->n_rep_stops; i++) {
        const struct bbs_rep_stop *s = &change->rep_stops[i];
        const char *url = NULL;

        if (effects_rep_url(fx, change->arena, "stop-lrp", &s->key, &s->instance, s->rep_url,
                            &url) != 0) {
            continue;
        }
        atomic_fetch_add(&fx->rep_calls, 1);
        bbs_rep_stop_lrp_retry(fx->rep, url, s->key.process_guid, s->instance.instance_guid,
                               trace_id, s->attempts > 0 ? s->attempts : 1);
    }
    for (size_t i = 0; i < change->n_rep_updates; i++) {
        const struct bbs_rep_update *u = &change->rep_updates[i];
        struct bbs_rep_lrp_update lu = {
            u->instance.instance_guid,
            u->key.process_guid,
            u->key.index,
            u->key.domain,
            u->internal_routes,
            u->n_internal_routes,
            u->metric_tag_names,
            u->metric_tag_values,
            u->n_metric_tags,
        };
        const char *url = NULL;

        if (effects_rep_url(fx, change->arena, "update-lrp", &u->key, &u->instance, u->rep_url,
                            &url) != 0) {
            continue;
        }
        atomic_fetch_add(&fx->rep_calls, 1);
        bbs_rep_update_lrp(fx->rep, url, &lu, trace_id);
    }
}

void bbs_effects_apply_some(struct bbs_effects *fx, const struct bbs_change *change,
                            const char *trace_id, unsigned parts)
{
    if (!change->committed) {
        return;
    }
    if (parts & BBS_EFFECTS_NOTES) {
        for (size_t i = 0; i < change->n_notes; i++) {
            const struct bbs_change_note *n = &change->notes[i];

            bbs_log(BBS_LOG_ERROR, n->what, "{s:s, s:i, s:s}", "process_guid", n->process_guid,
                    "index", (int)n->index, "error", n->err.message);
        }
    }
    /* One POST per start request, as upstream sends them. */
    if (parts & BBS_EFFECTS_AUCTIONS) {
        for (size_t i = 0; i < change->n_auctions; i++) {
            bbs_auction_request(fx->auction, &change->auctions[i], 1, trace_id);
        }
    }
    if (parts & BBS_EFFECTS_REP) {
        effects_rep(fx, change, trace_id);
    }
}

void bbs_effects_apply(struct bbs_effects *fx, const struct bbs_change *change,
                       const char *trace_id)
{
    bbs_effects_apply_some(fx, change, trace_id, BBS_EFFECTS_ALL);
}

void bbs_effects_stats(struct bbs_effects *fx, struct bbs_effects_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->rep_cell_unknown = atomic_load(&fx->rep_cell_unknown);
    out->rep_lookup_failed = atomic_load(&fx->rep_lookup_failed);
    out->rep_calls = atomic_load(&fx->rep_calls);
}
