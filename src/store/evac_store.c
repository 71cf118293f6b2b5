/*
 * evac_store.c - evacuation calls as single transactions (reference 4).
 *
 * Every row of (guid, index) is locked with one SELECT ... FOR UPDATE; for
 * evacuate_running the desired LRP row is locked too (so RECREATE hands
 * back one instance at a time even when cells race) and its RUNNING
 * ordinary rows are counted. The core (evac.c) decides; this file writes.
 */
#include <stdlib.h>
#include <string.h>

#include "bbs/evac.h"
#include "bbs/xalloc.h"
#include "store_int.h"

static const struct bbs_stmt evac_stmts[] = {
    {"evac_lock_desired", "SELECT update_strategy, instances FROM desired_lrps"
                          " WHERE process_guid = $1::text FOR UPDATE"},
    {"evac_count_running", "SELECT count(*)::int4 FROM actual_lrps WHERE process_guid = $1::text"
                           " AND presence = 0 AND state = 'RUNNING'"},
};
BBS_STORE_STATEMENTS(evac, evac_stmts);

struct evac_ctx {
    const struct bbs_evac_request *req;
    int64_t now_ns;
    struct bbs_change *change;
    struct bbs_change_mark mark;
    int swallow; /* the failure is answered as success (keep = false) */
    int keep;
    int auction;
    char trunc[BBS_REASON_MAX + 1];
};

static int load_desired(PGconn *conn, const char *guid, struct bbs_evac_desired *out,
                        struct bbs_error *err)
{
    struct bbs_params p = {0};
    PGresult *res;

    memset(out, 0, sizeof(*out));
    bbs_params_text(&p, guid);
    res = bbs_exec(conn, "evac_lock_desired", &p, err);
    if (res == NULL) {
        return -1;
    }
    if (PQntuples(res) == 1) {
        out->found = 1;
        out->recreate = bbs_get_int4(res, 0, 0) == 1;
        out->instances = bbs_get_int4(res, 0, 1);
    }
    PQclear(res);
    if (!out->found || !out->recreate) {
        return 0;
    }
    res = bbs_exec(conn, "evac_count_running", &p, err);
    if (res == NULL) {
        return -1;
    }
    out->running = bbs_get_int4(res, 0, 0);
    PQclear(res);
    return 0;
}

static int decide(struct evac_ctx *c, const struct bbs_alrp_set *set,
                  const struct bbs_evac_desired *desired, struct bbs_evac_decision *d,
                  struct bbs_error *err)
{
    const struct bbs_evac_request *r = c->req;

    switch (r->call) {
    case BBS_EVAC_CALL_CLAIMED:
        return bbs_evac_claimed(set, &r->in.instance, c->now_ns, d, err);
    case BBS_EVAC_CALL_CRASHED:
        return bbs_evac_crashed(set, &r->in.instance, r->reason, c->trunc, c->now_ns, d, err);
    case BBS_EVAC_CALL_STOPPED:
        return bbs_evac_stopped(set, &r->in.instance, d, err);
    case BBS_EVAC_CALL_RUNNING:
        return bbs_evac_running(set, &r->in, desired, c->now_ns, d, err);
    case BBS_EVAC_CALL_REMOVE:
        return bbs_evac_remove(set, &r->in.instance, d, err);
    }
    bbs_error_setf(err, BBS_ERR_UNKNOWN, "unknown evacuation call");
    return -1;
}

/* Which write of a decision failed: the answer depends on it (4.1-4.4). */
enum evac_step {
    STEP_NONE,
    STEP_DELETE_EVACUATING,
    STEP_DELETE_SUSPECT,
    STEP_OTHER, /* the ordinary row, or the evacuating row's insert/update */
};

/* Apply `d`, recording each row written in `ch`. Each step's writes are
 * read back before the next (bbs_store_sync): the answer depends on
 * which step failed (failed_write). */
static int apply(PGconn *conn, const struct bbs_alrp_set *set, struct bbs_evac_decision *d,
                 struct bbs_change *ch, enum evac_step *failed, struct bbs_error *err)
{
    char epoch[37];

    *failed = STEP_DELETE_EVACUATING;
    if (d->delete_evacuating && set->evacuating != NULL) {
        if (bbs_alrp_write_delete(conn, set->evacuating, NULL, err) != 0 ||
            bbs_store_sync(conn, err) != 0) {
            return -1;
        }
        bbs_change_alrp(ch, set->evacuating, NULL);
    }
    *failed = STEP_DELETE_SUSPECT;
    if (d->delete_suspect && set->suspect != NULL) {
        if (bbs_alrp_write_delete(conn, set->suspect, NULL, err) != 0 ||
            bbs_store_sync(conn, err) != 0) {
            return -1;
        }
        bbs_change_alrp(ch, set->suspect, NULL);
    }
    *failed = STEP_OTHER;
    if (d->delete_ordinary && set->ordinary != NULL) {
        int affected = 0;

        if (bbs_alrp_write_delete(conn, set->ordinary, &affected, err) != 0) {
            return -1;
        }
        if (affected == 0) {
            bbs_error_set(err, BBS_ERR_RESOURCE_NOT_FOUND);
            return -1;
        }
        bbs_change_alrp(ch, set->ordinary, NULL);
    }
    if (d->evac_write == BBS_ALRP_WRITE_INSERT) {
        if (bbs_alrp_write_insert(conn, &d->evac, epoch, err) != 0) {
            return -1;
        }
        bbs_change_alrp(ch, NULL, &d->evac);
    }
    if (d->evac_write == BBS_ALRP_WRITE_UPDATE) {
        if (bbs_alrp_write_update(conn, &d->evac, err) != 0) {
            return -1;
        }
        bbs_change_alrp(ch, set->evacuating, &d->evac);
    }
    if (d->ordinary_write == BBS_ALRP_WRITE_UPDATE) {
        if (bbs_alrp_write_update(conn, &d->ordinary, err) != 0) {
            return -1;
        }
        bbs_change_alrp(ch, set->ordinary, &d->ordinary);
    }
    if (bbs_store_sync(conn, err) != 0) {
        return -1;
    }
    *failed = STEP_NONE;
    return 0;
}

/*
 * The answer to a write that failed. Removing an evacuating row reports
 * any failure as ActualLRPCannotBeRemoved, which evacuate_running turns
 * into "drop the container" (`*swallow`). Otherwise the container is kept
 * when evacuate_running failed, or evacuate_claimed failed to unclaim.
 */
static void failed_write(const struct evac_ctx *c, enum evac_step step, int *keep, int *swallow,
                         struct bbs_error *err)
{
    enum bbs_evac_call call = c->req->call;

    *swallow = 0;
    if (step == STEP_DELETE_EVACUATING) {
        bbs_error_set(err, BBS_ERR_ACTUAL_LRP_CANNOT_BE_REMOVED);
        *keep = 0;
        *swallow = call == BBS_EVAC_CALL_RUNNING;
        return;
    }
    if (step == STEP_DELETE_SUSPECT) {
        *keep = call == BBS_EVAC_CALL_RUNNING;
        return;
    }
    *keep = call == BBS_EVAC_CALL_RUNNING || call == BBS_EVAC_CALL_CLAIMED;
}

/* keep_container when reading the rows fails: only evacuate_running keeps. */
static int keep_on_read_error(const struct evac_ctx *c)
{
    return c->req->call == BBS_EVAC_CALL_RUNNING;
}

static int evac_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct evac_ctx *c = arg;
    struct bbs_alrp_lock lk = {0};
    struct bbs_evac_desired desired = {0};
    struct bbs_evac_decision d;
    enum evac_step step;
    int rc = -1;

    bbs_change_rewind(c->change, &c->mark);
    c->keep = keep_on_read_error(c);
    c->auction = 0;
    c->swallow = 0;
    if (bbs_alrp_lock(conn, c->req->in.key.process_guid, c->req->in.key.index, &lk, err) != 0) {
        goto out;
    }
    bbs_change_siblings(c->change, &lk.set);
    if (c->req->call == BBS_EVAC_CALL_RUNNING &&
        load_desired(conn, c->req->in.key.process_guid, &desired, err) != 0) {
        goto out;
    }
    if (decide(c, &lk.set, &desired, &d, err) != 0) {
        c->keep = d.keep;
        goto out;
    }
    if (apply(conn, &lk.set, &d, c->change, &step, err) != 0) {
        failed_write(c, step, &c->keep, &c->swallow, err);
        goto out;
    }
    c->keep = d.keep;
    c->auction = d.auction;
    rc = 0;
out:
    bbs_alrp_unlock(&lk);
    return rc;
}

int bbs_store_evacuate(struct bbs_store *st, const struct bbs_evac_request *req, int64_t now_ns,
                       int *keep, struct bbs_change *change, struct bbs_error *err)
{
    struct evac_ctx *c = bbs_xcalloc(1, sizeof(*c));
    int rc;

    c->req = req;
    c->now_ns = now_ns;
    c->change = change;
    c->mark = bbs_change_mark(change);
    c->keep = keep_on_read_error(c);
    rc = bbs_store_tx_change(st, evac_tx, c, change, &c->mark, err);
    if (rc != 0 && c->swallow) {
        rc = 0; /* the transaction rolled back; nothing changed */
    }
    *keep = c->keep;
    if (rc == 0 && c->auction) {
        struct bbs_error aerr = {0};

        /* The evacuation stands whatever this lookup says. */
        if (bbs_dlrp_auction_for(st, change, req->in.key.process_guid, &req->in.key.index, 1,
                                 &aerr) != 0) {
            bbs_change_note(change, "evacuation.auction-lookup-failed", req->in.key.process_guid,
                            req->in.key.index, &aerr);
        }
    }
    free(c);
    return rc;
}
