/*
 * task_converge_store.c - one task convergence run in one transaction
 * (see task_converge_store.h; reference part 2, 11.7).
 *
 * Upstream runs each rule as a SELECT and then an autocommit UPDATE or
 * DELETE. Here the candidate rows are read once and locked, so the
 * "before" of every event is exactly the row the write changed, and a
 * concurrent lifecycle call on one of these tasks waits for the run
 * instead of racing it. Candidates are every Pending task (rules 1 and
 * 2), the Running tasks off the cell set (rule 3, only when the set is
 * believable), the Resolving tasks older than the kick (rule 4) and the
 * Completed tasks older than the kick or the expiry (rules 5 and 6).
 */
#include <stdlib.h>
#include <string.h>

#include "bbs/task_codec.h"
#include "bbs/task_converge_store.h"
#include "bbs/xalloc.h"
#include "store_int.h"

static const struct bbs_stmt tconv_stmts[] = {
    {"tconv_counts",
     "SELECT count(*) FILTER (WHERE state = 1)::int8, count(*) FILTER (WHERE state = 2)::int8,"
     " count(*) FILTER (WHERE state = 3)::int8, count(*) FILTER (WHERE state = 4)::int8"
     " FROM tasks"},
    /* Ordered as strcmp orders (the C collation), so rows are found by bsearch. */
    {"tconv_candidates",
     "SELECT " BBS_TASK_COLUMNS " FROM tasks WHERE state = 1"
     " OR (state = 2 AND $1::bool AND NOT (cell_id = ANY($2::text[])))"
     " OR (state = 4 AND updated_at < $3::int8)"
     " OR (state = 3 AND (updated_at < $3::int8 OR first_completed_at < $4::int8))"
     " ORDER BY guid COLLATE \"C\" FOR UPDATE"},
    {"tconv_prune", "DELETE FROM tasks WHERE guid = ANY($1::text[])"},
    {"tconv_fail",
     "UPDATE tasks SET state = 3, failed = true, failure_reason = $3::text, result = '',"
     " first_completed_at = $4::int8, updated_at = $4::int8"
     " WHERE guid = ANY($1::text[]) AND state = $2::int4 RETURNING guid"},
    {"tconv_demote",
     "UPDATE tasks SET state = 3 WHERE guid = ANY($1::text[]) AND state = 4 RETURNING guid"},
    {"tconv_delete", "DELETE FROM tasks WHERE guid = ANY($1::text[]) AND state = 3 RETURNING guid"},
};

BBS_STORE_STATEMENTS(task_converge, tconv_stmts);

/* One candidate row: as read (copied into the record's arena) and as it is now. */
struct item {
    struct bbs_task *row; /* before any write of this run */
    struct bbs_task *now; /* after the writes so far (== row until one applied) */
    Models__TaskDefinition *def;
    unsigned action;
    int pruned;
};

struct tconv_ctx {
    const struct bbs_task_conv_input *in;
    struct bbs_change *change;
    struct bbs_change_mark mark;
    struct bbs_task_conv_result r;
    struct item *items; /* malloc'd; by guid (strcmp) */
    size_t n;
};

static int cmp_item_guid(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const struct item *)elem)->row->guid);
}

static struct item *find(struct tconv_ctx *c, const char *guid)
{
    return bsearch(guid, c->items, c->n, sizeof(*c->items), cmp_item_guid);
}

static int read_counts(PGconn *conn, struct tconv_ctx *c, struct bbs_error *err)
{
    struct bbs_params p = {0};
    PGresult *res = bbs_exec(conn, "tconv_counts", &p, err);

    if (res == NULL) {
        return -1;
    }
    c->r.pending = bbs_get_int8(res, 0, 0);
    c->r.running = bbs_get_int8(res, 0, 1);
    c->r.completed = bbs_get_int8(res, 0, 2);
    c->r.resolving = bbs_get_int8(res, 0, 3);
    PQclear(res);
    return 0;
}

static int read_candidates(PGconn *conn, struct tconv_ctx *c, struct bbs_error *err)
{
    const struct bbs_task_conv_input *in = c->in;
    struct bbs_arena *arena = c->change->arena;
    struct bbs_params p = {0};
    PGresult *res;
    int n;

    bbs_params_bool(&p, in->cells_believable);
    bbs_params_text_array(&p, arena, in->cells, in->n_cells);
    bbs_params_int8(&p, in->now_ns - in->kick_ns);
    bbs_params_int8(&p, in->now_ns - in->expire_completed_ns);
    res = bbs_exec(conn, "tconv_candidates", &p, err);
    if (res == NULL) {
        return -1;
    }
    n = PQntuples(res);
    c->items = bbs_xcalloc((size_t)n + 1, sizeof(*c->items));
    c->n = (size_t)n;
    for (int i = 0; i < n; i++) {
        struct item *it = &c->items[i];
        struct bbs_task t;
        struct bbs_error derr = {0};

        if (bbs_task_from_row(res, i, &t) != 0) {
            memset(&t.definition, 0, sizeof(t.definition));
            /* Undecryptable: left alone (never pruned, never changed), as
             * encryption at rest promises; it still counts by state. */
            it->row = bbs_task_copy(arena, &t);
            it->now = it->row;
            it->action = 0;
            continue;
        }
        it->row = bbs_task_copy(arena, &t);
        it->now = it->row;
        it->def = bbs_task_decode_definition(arena, &it->row->definition, &derr);
        if (it->def == NULL) {
            it->pruned = 1; /* deleted below, no event (11.7, 11.9 q5) */
            continue;
        }
        it->action = bbs_task_conv_decide(it->row, in);
    }
    PQclear(res);
    return 0;
}

/* The guids of the items whose action has `bit` (or pruned ones when bit is 0). */
static const char **guids_with(struct tconv_ctx *c, unsigned bit, size_t *n)
{
    const char **v = bbs_arena_alloc(c->change->arena, (c->n + 1) * sizeof(*v));

    *n = 0;
    for (size_t i = 0; i < c->n; i++) {
        const struct item *it = &c->items[i];

        if (bit == 0 ? it->pruned : (!it->pruned && (it->action & bit))) {
            v[(*n)++] = it->row->guid;
        }
    }
    return v;
}

/*
 * Run one rule's write over its guids and record, for every row the
 * statement reports changed, the row before and after (after NULL: deleted).
 */
static int apply_rule(PGconn *conn, struct tconv_ctx *c, unsigned bit, int64_t *count,
                      struct bbs_error *err)
{
    struct bbs_arena *arena = c->change->arena;
    struct bbs_params p = {0};
    const char **guids;
    const char *stmt;
    PGresult *res;
    size_t n;

    guids = guids_with(c, bit, &n);
    if (n == 0) {
        return 0;
    }
    bbs_params_text_array(&p, arena, guids, n);
    switch (bit) {
    case BBS_TASK_CONV_EXPIRE_PENDING:
    case BBS_TASK_CONV_CELL_GONE:
        bbs_params_int4(&p,
                        bit == BBS_TASK_CONV_EXPIRE_PENDING ? BBS_TASK_PENDING : BBS_TASK_RUNNING);
        bbs_params_text(&p, bit == BBS_TASK_CONV_EXPIRE_PENDING ? BBS_TASK_CONV_REASON_EXPIRED
                                                                : BBS_TASK_CONV_REASON_CELL_GONE);
        bbs_params_int8(&p, c->in->now_ns);
        stmt = "tconv_fail";
        break;
    case BBS_TASK_CONV_DEMOTE:
        stmt = "tconv_demote";
        break;
    default:
        stmt = "tconv_delete";
        break;
    }
    res = bbs_exec(conn, stmt, &p, err);
    if (res == NULL) {
        return -1;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        struct item *it = find(c, bbs_get_text(res, i, 0));
        struct bbs_task after;

        if (it == NULL) {
            continue; /* cannot happen: every guid came from the items */
        }
        (*count)++;
        if (bit == BBS_TASK_CONV_DELETE) {
            bbs_change_task(c->change, it->now, NULL);
            it->now = NULL;
            continue;
        }
        if (bbs_task_conv_after(it->now, bit, c->in->now_ns, &after) == 0) {
            bbs_change_task(c->change, it->now, &after);
            it->now = bbs_task_copy(arena, &after);
        }
    }
    PQclear(res);
    return 0;
}

static int tconv_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct tconv_ctx *c = arg;
    struct bbs_params p = {0};
    const char **pruned;
    size_t n_pruned;
    int affected = 0;

    bbs_change_rewind(c->change, &c->mark);
    memset(&c->r, 0, sizeof(c->r));
    free(c->items);
    c->items = NULL;
    c->n = 0;
    if (read_counts(conn, c, err) != 0 || read_candidates(conn, c, err) != 0) {
        return -1;
    }
    pruned = guids_with(c, 0, &n_pruned);
    if (n_pruned > 0) {
        bbs_params_text_array(&p, c->change->arena, pruned, n_pruned);
        if (bbs_exec_command(conn, "tconv_prune", &p, &affected, err) != 0) {
            return -1;
        }
        c->r.pruned = affected;
    }
    /* Upstream's order: 1, (2 reads), 3, 4, 5, (6 reads). */
    if (apply_rule(conn, c, BBS_TASK_CONV_EXPIRE_PENDING, &c->r.expired_pending, err) != 0 ||
        apply_rule(conn, c, BBS_TASK_CONV_CELL_GONE, &c->r.cell_gone, err) != 0 ||
        apply_rule(conn, c, BBS_TASK_CONV_DEMOTE, &c->r.demoted, err) != 0 ||
        apply_rule(conn, c, BBS_TASK_CONV_DELETE, &c->r.deleted, err) != 0) {
        return -1;
    }
    for (size_t i = 0; i < c->n; i++) {
        struct item *it = &c->items[i];

        if (it->pruned) {
            continue;
        }
        if (it->action & BBS_TASK_CONV_AUCTION) {
            struct bbs_task_start s;

            bbs_task_start_of(c->change->arena, it->row->guid, it->row->domain, it->def, &s);
            bbs_change_task_auction(c->change, &s);
            c->r.auctioned++;
        }
        /* Kicked only as the Completed row it now is (demoted by rule 4 if it was Resolving). */
        if ((it->action & BBS_TASK_CONV_KICK) && it->now != NULL &&
            it->now->state == BBS_TASK_COMPLETED) {
            struct bbs_task_callback_due d;
            struct bbs_error derr = {0};

            if (bbs_task_callback_of(c->change->arena, it->now, &d, &derr) == 0) {
                bbs_change_task_callback(c->change, &d);
                c->r.kicked++;
            }
        }
    }
    return 0;
}

int bbs_store_task_converge(struct bbs_store *st, const struct bbs_task_conv_input *in,
                            struct bbs_change *change, struct bbs_task_conv_result *out,
                            struct bbs_error *err)
{
    struct tconv_ctx c;
    int rc;

    memset(&c, 0, sizeof(c));
    c.in = in;
    c.change = change;
    c.mark = bbs_change_mark(change);
    rc = bbs_store_tx_change(st, tconv_tx, &c, change, &c.mark, err);
    free(c.items);
    if (rc == 0) {
        *out = c.r;
    } else {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}
