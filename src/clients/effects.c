/*
 * effects.c - after-commit effects of one change record (see effects.h).
 */
#include "bbs/effects.h"

#include <string.h>

#include "bbs/auction.h"
#include "bbs/locket.h"
#include "bbs/log.h"
#include "bbs/rep.h"

/* As bbs_effects_cell_url; `*locket_failed` says whether a -1 came from Locket itself. */
static int cell_url(struct bbs_effects *fx, struct bbs_arena *arena, const char *cell_id,
                    const char **rep_url, struct bbs_error *err, int *locket_failed)
{
    struct bbs_cell cell;
    int rc;

    *locket_failed = 0;
    memset(&cell, 0, sizeof(cell));
    rc = bbs_locket_cell(fx->locket, arena, cell_id, &cell, err);
    if (rc != 0) {
        *locket_failed = rc < 0;
        return rc; /* 1: unknown cell; -1: Locket failed */
    }
    if (fx->rep == NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "no rep client");
        return -1;
    }
    return bbs_rep_url(fx->rep, cell.rep_address, cell.rep_url, rep_url, err);
}

int bbs_effects_cell_url(void *fx, struct bbs_arena *arena, const char *cell_id,
                         const char **rep_url, struct bbs_error *err)
{
    int locket_failed;

    return cell_url(fx, arena, cell_id, rep_url, err, &locket_failed);
}

/* Lookups already made for one record: a scale-down asks Locket once per cell. */
#define LOOKUP_CACHE 32

struct lookup_cache {
    struct {
        const char *cell_id;
        const char *url;
        int rc;
        const char *error; /* rc < 0: the message (arena) */
    } e[LOOKUP_CACHE];
    size_t n;
    const char *locket_error; /* once Locket failed, the record's other lookups fail so */
};

static int cached_cell_url(struct bbs_effects *fx, struct lookup_cache *lc, struct bbs_arena *arena,
                           const char *cell_id, const char **url, struct bbs_error *err)
{
    int locket_failed = 0;
    int rc;

    for (size_t i = 0; i < lc->n; i++) {
        if (strcmp(lc->e[i].cell_id, cell_id) == 0) {
            *url = lc->e[i].url;
            if (lc->e[i].rc < 0) {
                bbs_error_setf(err, BBS_ERR_UNKNOWN, "%s", lc->e[i].error);
            }
            return lc->e[i].rc;
        }
    }
    if (lc->locket_error != NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "%s", lc->locket_error);
        return -1;
    }
    rc = cell_url(fx, arena, cell_id, url, err, &locket_failed);
    /* A record with many cells must not wait out Locket's timeout once per cell. */
    if (locket_failed) {
        lc->locket_error = bbs_arena_strdup(arena, err->message);
    }
    if (lc->n < LOOKUP_CACHE) {
        lc->e[lc->n].cell_id = cell_id;
        lc->e[lc->n].url = rc == 0 ? *url : NULL;
        lc->e[lc->n].rc = rc;
        lc->e[lc->n].error = rc < 0 ? bbs_arena_strdup(arena, err->message) : NULL;
        lc->n++;
    }
    return rc;
}

/*
 * The address to call for an instance on `inst->cell_id`: the record's
 * own (`rep_url`, looked up before the commit) or Locket's now. 0 and
 * `*url`, or -1 after logging and counting why not (the row stays as it
 * is, 5.6).
 */
static int effects_rep_url(struct bbs_effects *fx, struct lookup_cache *lc, struct bbs_arena *arena,
                           const char *what, const struct bbs_alrp_key *key,
                           const struct bbs_instance_key *inst, const char *rep_url,
                           const char **url)
{
    struct bbs_error err = {0};
    int rc;

    if (rep_url != NULL) {
        *url = rep_url;
        return 0;
    }
    rc = cached_cell_url(fx, lc, arena, inst->cell_id, url, &err);
    if (rc == 0) {
        return 0;
    }
    if (rc > 0) {
        atomic_fetch_add(&fx->rep_cell_unknown, 1);
        bbs_log(BBS_LOG_ERROR, "rep.cell-not-found", "{s:s, s:s, s:i, s:s, s:s}", "call", what,
                "process_guid", key->process_guid, "index", (int)key->index, "instance_guid",
                inst->instance_guid, "cell_id", inst->cell_id);
    } else {
        atomic_fetch_add(&fx->rep_lookup_failed, 1);
        bbs_log(BBS_LOG_ERROR, "rep.cell-lookup-failed", "{s:s, s:s, s:i, s:s, s:s, s:s}", "call",
                what, "process_guid", key->process_guid, "index", (int)key->index, "instance_guid",
                inst->instance_guid, "cell_id", inst->cell_id, "error", err.message);
    }
    return -1;
}

static void effects_rep(struct bbs_effects *fx, const struct bbs_change *change,
                        const char *trace_id)
{
    struct lookup_cache *lc = NULL;

    if (change->n_rep_stops + change->n_rep_updates > 0 && fx->rep == NULL) {
        bbs_log(BBS_LOG_ERROR, "rep.disabled", "{s:I}", "calls",
                (json_int_t)(change->n_rep_stops + change->n_rep_updates));
        return;
    }
    if (change->n_rep_stops + change->n_rep_updates == 0) {
        return;
    }
    lc = bbs_arena_zalloc(change->arena, sizeof(*lc));
    for (size_t i = 0; i < change->n_rep_stops; i++) {
        const struct bbs_rep_stop *s = &change->rep_stops[i];
        const char *url = NULL;

        if (effects_rep_url(fx, lc, change->arena, "stop-lrp", &s->key, &s->instance, s->rep_url,
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

        if (effects_rep_url(fx, lc, change->arena, "update-lrp", &u->key, &u->instance, u->rep_url,
                            &url) != 0) {
            continue;
        }
        atomic_fetch_add(&fx->rep_calls, 1);
        bbs_rep_update_lrp(fx->rep, url, &lu, trace_id);
    }
}

/*
 * Rep cancels (11.5.3, with quirk q4 changed): the cell's address from
 * Locket, then one POST queued on the outbox with the caller's trace id.
 * Every failure is logged and counted; the cancel is committed and the
 * caller is answered success whatever happens here.
 */
static void effects_task_cancels(struct bbs_effects *fx, const struct bbs_change *change,
                                 const char *trace_id)
{
    struct lookup_cache *lc = NULL;

    if (change->n_task_cancels == 0) {
        return;
    }
    lc = bbs_arena_zalloc(change->arena, sizeof(*lc));
    for (size_t i = 0; i < change->n_task_cancels; i++) {
        const struct bbs_task_cancel *k = &change->task_cancels[i];
        struct bbs_error err = {0};
        const char *url = NULL;
        int rc;

        if (fx->rep == NULL) {
            atomic_fetch_add(&fx->task_cancel_failures, 1);
            bbs_log(BBS_LOG_ERROR, "task.cancel.rep-disabled", "{s:s, s:s}", "task_guid",
                    k->task_guid, "cell_id", k->cell_id);
            continue;
        }
        rc = cached_cell_url(fx, lc, change->arena, k->cell_id, &url, &err);
        if (rc != 0) {
            atomic_fetch_add(&fx->task_cancel_failures, 1);
            bbs_log(BBS_LOG_ERROR,
                    rc > 0 ? "task.cancel.cell-not-found" : "task.cancel.cell-lookup-failed",
                    "{s:s, s:s, s:s}", "task_guid", k->task_guid, "cell_id", k->cell_id, "error",
                    rc > 0 ? "cell not registered in Locket" : err.message);
            continue;
        }
        atomic_fetch_add(&fx->task_cancels, 1);
        bbs_rep_cancel_task(fx->rep, url, k->task_guid, trace_id);
    }
}

static void effects_task_callbacks(struct bbs_effects *fx, const struct bbs_change *change)
{
    for (size_t i = 0; i < change->n_task_callbacks; i++) {
        const struct bbs_task_callback_due *d = &change->task_callbacks[i];

        if (fx->task_callback == NULL) {
            bbs_log(BBS_LOG_ERROR, "task-callback.disabled", "{s:s}", "task_guid",
                    d->task != NULL ? d->task->guid : "");
            continue;
        }
        fx->task_callback(fx->task_callback_ctx, d);
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
            if (parts & BBS_EFFECTS_AUCTIONS_WAIT) {
                bbs_auction_request_wait(fx->auction, &change->auctions[i], 1, trace_id);
            } else {
                bbs_auction_request(fx->auction, &change->auctions[i], 1, trace_id);
            }
        }
    }
    /*
     * Task auctions: one POST with every start of the record, before the
     * caller answers (upstream's desire waits for it; its outcome never
     * reaches the caller), and without the caller's trace id (11.5.2).
     */
    if ((parts & BBS_EFFECTS_AUCTIONS) && change->n_task_auctions > 0) {
        bbs_auction_request_task_starts(fx->auction, change->task_auctions, change->n_task_auctions,
                                        NULL, 1);
    }
    if (parts & BBS_EFFECTS_REP) {
        effects_rep(fx, change, trace_id);
        effects_task_cancels(fx, change, trace_id);
    }
    if (parts & BBS_EFFECTS_TASK_CALLBACKS) {
        effects_task_callbacks(fx, change);
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
    out->task_cancels = atomic_load(&fx->task_cancels);
    out->task_cancel_failures = atomic_load(&fx->task_cancel_failures);
}
