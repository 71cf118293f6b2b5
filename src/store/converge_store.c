/*
 * converge_store.c - the database side of LRP convergence (reference 7):
 * the snapshot the planner reads (a handful of set queries, only the
 * columns it needs), domain pruning, and the work items that write.
 *
 * Work items are applied a batch at a time, each batch one transaction:
 * one statement locks every row of the batch's (guid, index) pairs, each
 * item is then checked against the row as the snapshot saw it (state,
 * instance guid, cell) and skipped when the row moved on since, and the
 * rows written are recorded in the batch's change record. Creating
 * instances is one INSERT for the whole batch.
 *
 * Not done here: deciding (converge.c), rep calls and auctions (the
 * worker does them after the commit).
 */
#include <stdlib.h>
#include <string.h>

#include "bbs/conv_codec.h"
#include "bbs/converge.h"
#include "bbs/store.h"
#include "bbs/xalloc.h"
#include "store_int.h"

/* The two snapshot reads, streamed (cursor.c). Routes are compared only
 * for their internal-router entry: the (often long) routes of every other
 * LRP stay in the database. */
static const char CONV_DESIRED[] =
    "SELECT process_guid, domain, instances,"
    " CASE WHEN position('internal-router'::bytea IN routes) > 0"
    " OR substring(routes FROM 1 FOR 1) = '\\x00'::bytea" /* sealed */
    " OR substring(routes FROM 1 FOR 2) = '02'::bytea"
    " THEN routes ELSE ''::bytea END, metric_tags"
    " FROM desired_lrps";
static const char CONV_ACTUAL[] = "SELECT process_guid, instance_index, presence, state, domain,"
                                  " cell_id, instance_guid, since, crash_count, internal_routes,"
                                  " metric_tags FROM actual_lrps";

static const struct bbs_stmt conv_stmts[] = {
    {"conv_prune_domains", "DELETE FROM domains WHERE expire_time <= $1::int8"},
    {"conv_lock", "SELECT " BBS_ALRP_COLUMNS " FROM actual_lrps"
                  " WHERE (process_guid, instance_index) IN"
                  " (SELECT g, i::int4 FROM unnest($1::text[], $2::text[]) AS u(g, i))"
                  " ORDER BY process_guid COLLATE \"C\", instance_index, presence FOR UPDATE"},
    {"conv_set_presence", "UPDATE actual_lrps SET presence = $4::int4 WHERE process_guid = $1::text"
                          " AND instance_index = $2::int4 AND presence = $3::int4"},
    {"conv_insert_unclaimed",
     "INSERT INTO actual_lrps (process_guid, instance_index, presence, domain, state, since,"
     " net_info, internal_routes, metric_tags, routable, modification_tag_epoch,"
     " modification_tag_index)"
     " SELECT u.g, u.i::int4, 0, u.d, 'UNCLAIMED', $4::int8, ''::bytea, ''::bytea, ''::bytea,"
     " false, gen_random_uuid()::text, 0"
     " FROM unnest($1::text[], $2::text[], $3::text[]) AS u(g, i, d)"
     " ON CONFLICT DO NOTHING RETURNING " BBS_ALRP_COLUMNS},
};
BBS_STORE_STATEMENTS(converge, conv_stmts);

/* ---- step 1 ---- */

struct prune_ctx {
    int64_t now_ns;
    int n;
};

static int prune_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct prune_ctx *c = arg;
    struct bbs_params p = {0};

    bbs_params_int8(&p, c->now_ns);
    return bbs_exec_command(conn, "conv_prune_domains", &p, &c->n, err);
}

int bbs_store_conv_prune_domains(struct bbs_store *st, int64_t now_ns, int *n,
                                 struct bbs_error *err)
{
    /* As the fresh-domain read: now rounded to the nearest second. */
    struct prune_ctx c = {(now_ns + 500000000) / 1000000000 * 1000000000, 0};
    int rc = bbs_store_tx(st, prune_tx, &c, err);

    *n = c.n;
    return rc;
}

/* ---- the snapshot ---- */

/* Rows of one kind, collected as they stream in (malloc'd, doubling). */
struct rows {
    void *v;
    size_t n;
    size_t cap;
    size_t size;
};

static void *rows_add(struct rows *r)
{
    void *p;

    if (r->n == r->cap) {
        r->cap = r->cap != 0 ? r->cap * 2 : 256;
        r->v = bbs_xrealloc(r->v, r->cap * r->size);
    }
    p = (char *)r->v + r->n * r->size;
    memset(p, 0, r->size);
    r->n++;
    return p;
}

/* The rows, handed to the arena (freed with it). */
static void *rows_keep(struct bbs_arena *arena, struct rows *r, size_t *n)
{
    *n = r->n;
    if (r->v != NULL) {
        bbs_arena_defer(arena, free, r->v);
    }
    return r->v;
}

/*
 * Text column `col` of the current row, in the arena; `*last` is the
 * previous row's copy and is reused when equal: an LRP's instances, its
 * domain and its cell come in runs (rows in insertion order), so 50k
 * instances of a few hundred LRPs hold a few hundred copies, not 50k.
 */
static const char *text_run(struct bbs_arena *arena, const struct bbs_row *r, int col,
                            const char **last)
{
    const char *s = bbs_row_text(r, col);

    if (*last == NULL || strcmp(*last, s) != 0) {
        *last = bbs_arena_strdup(arena, s);
    }
    return *last;
}

static int read_desired(struct bbs_cursor *cur, struct bbs_arena *arena, struct rows *out,
                        struct bbs_error *err)
{
    const char *last_domain = NULL;
    struct bbs_row row;
    const struct bbs_row *r = &row;
    int rc;

    while ((rc = bbs_cursor_next(cur, &row, err)) == 1) {
        struct bbs_conv_desired *d = rows_add(out);
        struct bbs_blob routes;
        struct bbs_blob tags;

        d->process_guid = bbs_arena_strdup(arena, bbs_row_text(r, 0));
        d->domain = text_run(arena, r, 1, &last_domain);
        d->instances = bbs_row_int4(r, 2);
        /* Undecryptable blobs: the LRP still counts (its instances are
         * neither extra nor missing); only its drift is not compared. */
        if (bbs_row_sealed(r, 3, BBS_SEALED_DLRP_ROUTES, &routes) != 0 ||
            bbs_row_sealed(r, 4, BBS_SEALED_DLRP_METRIC_TAGS, &tags) != 0) {
            d->opaque = 1;
            continue;
        }
        bbs_conv_decode_desired(arena, &routes, &tags, d); /* copies into the arena */
    }
    return rc;
}

/* Text column `col` in the arena, or the row's equal tag value (its
 * instance guid is also its process_instance_id tag, in Diego). */
static const char *own_text(struct bbs_arena *arena, const struct bbs_row *r, int col,
                            const struct bbs_conv_actual *x)
{
    const char *s = bbs_row_text(r, col);

    for (size_t i = 0; i < x->n_tags; i++) {
        if (strcmp(x->tag_values[i], s) == 0) {
            return x->tag_values[i];
        }
    }
    return bbs_arena_strdup(arena, s);
}

static int read_actual(struct bbs_cursor *cur, struct bbs_arena *arena, struct rows *out,
                       struct bbs_error *err)
{
    struct bbs_conv_actual decoded = {0}; /* the last decoded row (rows move as they grow) */
    const struct bbs_conv_actual *prev = NULL;
    const char *last_guid = NULL;
    const char *last_domain = NULL;
    const char *last_cell = NULL;
    struct bbs_row row;
    const struct bbs_row *r = &row;
    int rc;

    while ((rc = bbs_cursor_next(cur, &row, err)) == 1) {
        const char *state = bbs_row_text(r, 3);
        int s = bbs_alrp_state_parse(state, strlen(state));
        struct bbs_conv_actual *x;

        if (s < 0) {
            continue; /* not a state we know: left alone */
        }
        x = rows_add(out);
        x->process_guid = text_run(arena, r, 0, &last_guid);
        x->index = bbs_row_int4(r, 1);
        x->presence = (enum bbs_presence)bbs_row_int4(r, 2);
        x->state = (enum bbs_alrp_state)s;
        x->domain = text_run(arena, r, 4, &last_domain);
        x->cell_id = text_run(arena, r, 5, &last_cell);
        x->since_ns = bbs_row_int8(r, 7);
        x->crash_count = bbs_row_int4(r, 8);
        /* Only running ordinary rows are compared for drift (steps 12, 13). */
        if (x->presence == BBS_PRESENCE_ORDINARY && x->state == BBS_ALRP_RUNNING) {
            struct bbs_blob routes;
            struct bbs_blob tags;

            if (bbs_row_sealed(r, 9, BBS_SEALED_ALRP_INTERNAL_ROUTES, &routes) != 0 ||
                bbs_row_sealed(r, 10, BBS_SEALED_ALRP_METRIC_TAGS, &tags) != 0) {
                x->opaque = 1;
            } else {
                bbs_conv_decode_actual(arena, &routes, &tags, prev, x); /* shares with prev */
                decoded = *x;
                prev = &decoded;
            }
        }
        x->instance_guid = own_text(arena, r, 6, x);
    }
    return rc;
}

/*
 * The two big reads stream in (cursor.c, binary COPY): only the
 * compact facts the planner compares are kept, never a whole result, so
 * a pass over 50k instances holds a few megabytes where one PGresult of
 * every row held tens. Both statements run at once on two connections
 * (each sees its own snapshot at READ COMMITTED, as two reads on one
 * connection would; nothing is lost): the actual rows wait in their
 * socket while the desired ones are read. The planner copes with rows
 * that moved in between: every write is checked against the row again
 * under its lock.
 */
int bbs_store_conv_snapshot(struct bbs_store *st, struct bbs_arena *arena, int64_t now_ns,
                            struct bbs_conv_snapshot *snap, struct bbs_error *err)
{
    struct rows d = {NULL, 0, 0, sizeof(struct bbs_conv_desired)};
    struct rows a = {NULL, 0, 0, sizeof(struct bbs_conv_actual)};
    struct bbs_cursor *ac = NULL;
    struct bbs_cursor *dc = NULL;
    int rc = -1;

    memset(snap, 0, sizeof(*snap));
    snap->now_ns = now_ns;
    if (bbs_store_domains_list(st, arena, now_ns, &snap->fresh_domains, &snap->n_fresh_domains,
                               err) != 0) {
        return -1;
    }
    ac = bbs_cursor_open_copy_of(st, CONV_ACTUAL, err);
    if (ac == NULL) {
        return -1;
    }
    dc = bbs_cursor_open_copy_of(st, CONV_DESIRED, err);
    if (dc == NULL || read_desired(dc, arena, &d, err) != 0 ||
        read_actual(ac, arena, &a, err) != 0) {
        free(d.v);
        free(a.v);
        goto out;
    }
    snap->desired = rows_keep(arena, &d, &snap->n_desired);
    snap->actual = rows_keep(arena, &a, &snap->n_actual);
    rc = 0;
out:
    bbs_store_cursor_close(dc);
    bbs_store_cursor_close(ac);
    return rc;
}

/* ---- work items ---- */

struct apply_ctx {
    enum bbs_conv_work kind;
    const struct bbs_conv_item *items;
    size_t n;
    int64_t now_ns;
    struct bbs_change *change;
    struct bbs_change_mark mark;
    size_t applied;
};

static int cmp_alrp(const void *x, const void *y)
{
    const struct bbs_alrp *a = x;
    const struct bbs_alrp *b = y;
    int c = strcmp(a->key.process_guid, b->key.process_guid);

    if (c != 0) {
        return c;
    }
    if (a->key.index != b->key.index) {
        return a->key.index < b->key.index ? -1 : 1;
    }
    return (int)a->presence - (int)b->presence;
}

static const struct bbs_alrp *find_row(const struct bbs_alrp *rows, size_t n, const char *guid,
                                       int32_t index, enum bbs_presence presence)
{
    struct bbs_alrp key;

    memset(&key, 0, sizeof(key));
    key.key.process_guid = guid;
    key.key.index = index;
    key.presence = presence;
    return n > 0 ? bsearch(&key, rows, n, sizeof(*rows), cmp_alrp) : NULL;
}

/* Is the locked row still the one the snapshot saw? */
static int as_seen(const struct bbs_alrp *row, const struct bbs_conv_actual *seen)
{
    return row != NULL && row->state == seen->state &&
           strcmp(row->instance.instance_guid, seen->instance_guid) == 0 &&
           strcmp(row->instance.cell_id, seen->cell_id) == 0;
}

static const char *item_guid(const struct bbs_conv_item *it)
{
    return it->actual != NULL ? it->actual->process_guid : it->desired->process_guid;
}

/* Index numbers as text for the `::text[]` parameters (cast to int4 in SQL). */
static const char **index_strings(struct bbs_arena *arena, const int32_t *idx, size_t n)
{
    const char **v = bbs_arena_alloc(arena, (n > 0 ? n : 1) * sizeof(*v));

    for (size_t i = 0; i < n; i++) {
        v[i] = bbs_arena_printf(arena, "%d", (int)idx[i]);
    }
    return v;
}

/* One INSERT of ORDINARY UNCLAIMED rows (existing rows skipped), recorded as created. */
static int insert_unclaimed(PGconn *conn, struct apply_ctx *c, const char *const *guids,
                            const int32_t *idx, const char *const *domains, size_t n,
                            struct bbs_error *err)
{
    struct bbs_arena *arena = c->change->arena;
    struct bbs_params p = {0};
    PGresult *res;

    if (n == 0) {
        return 0;
    }
    bbs_params_text_array(&p, arena, guids, n);
    bbs_params_text_array(&p, arena, index_strings(arena, idx, n), n);
    bbs_params_text_array(&p, arena, domains, n);
    bbs_params_int8(&p, c->now_ns);
    res = bbs_exec(conn, "conv_insert_unclaimed", &p, err);
    if (res == NULL) {
        return -1;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        struct bbs_alrp a;

        if (bbs_alrp_from_result(res, i, &a) == 0) {
            bbs_change_alrp(c->change, NULL, &a);
            c->applied++;
        }
    }
    PQclear(res);
    return 0;
}

static int set_presence(PGconn *conn, const struct bbs_alrp *row, enum bbs_presence to,
                        struct bbs_error *err)
{
    struct bbs_params p = {0};

    bbs_params_text(&p, row->key.process_guid);
    bbs_params_int4(&p, row->key.index);
    bbs_params_int4(&p, (int32_t)row->presence);
    bbs_params_int4(&p, (int32_t)to);
    return bbs_exec_command(conn, "conv_set_presence", &p, NULL, err);
}

static int apply_missing_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct apply_ctx *c = arg;
    struct bbs_arena *arena = c->change->arena;
    const char **guids = bbs_arena_alloc(arena, c->n * sizeof(*guids));
    const char **domains = bbs_arena_alloc(arena, c->n * sizeof(*domains));
    int32_t *idx = bbs_arena_alloc(arena, c->n * sizeof(*idx));

    bbs_change_rewind(c->change, &c->mark);
    c->applied = 0;
    for (size_t i = 0; i < c->n; i++) {
        guids[i] = c->items[i].desired->process_guid;
        domains[i] = c->items[i].desired->domain;
        idx[i] = c->items[i].index;
    }
    return insert_unclaimed(conn, c, guids, idx, domains, c->n, err);
}

/* One item on the locked rows; 1 when it wrote. */
static int apply_one(PGconn *conn, struct apply_ctx *c, const struct bbs_conv_item *it,
                     const struct bbs_alrp *rows, size_t n_rows, struct bbs_error *err)
{
    const char *guid = item_guid(it);
    const struct bbs_alrp *o = find_row(rows, n_rows, guid, it->index, BBS_PRESENCE_ORDINARY);
    const struct bbs_alrp *s = find_row(rows, n_rows, guid, it->index, BBS_PRESENCE_SUSPECT);
    const struct bbs_alrp *e = find_row(rows, n_rows, guid, it->index, BBS_PRESENCE_EVACUATING);
    struct bbs_alrp next;

    switch (c->kind) {
    case BBS_CONV_WORK_PRUNE_EVACUATING:
        if (!as_seen(e, it->actual)) {
            return 0;
        }
        if (bbs_alrp_write_delete(conn, e, NULL, err) != 0) {
            return -1;
        }
        bbs_change_alrp(c->change, e, NULL);
        return 1;
    case BBS_CONV_WORK_RETIRE_DELETE:
        if (!as_seen(o, it->actual)) {
            return 0;
        }
        if (bbs_alrp_write_delete(conn, o, NULL, err) != 0) {
            return -1;
        }
        bbs_change_alrp(c->change, o, NULL);
        return 1;
    case BBS_CONV_WORK_RETIRE_SUSPECT:
        if (!as_seen(s, it->actual)) {
            return 0;
        }
        if (bbs_alrp_write_delete(conn, s, NULL, err) != 0) {
            return -1;
        }
        bbs_change_alrp(c->change, s, NULL);
        return 1;
    case BBS_CONV_WORK_CRASHED:
    case BBS_CONV_WORK_MISSING_CELL_UNCLAIM: {
        struct bbs_error uerr = {0};

        /* A crash: still the one the snapshot saw (same time, same count). */
        if (c->kind == BBS_CONV_WORK_CRASHED &&
            (o->since_ns != it->actual->since_ns || o->crash_count != it->actual->crash_count)) {
            return 0;
        }
        if (!as_seen(o, it->actual) ||
            bbs_alrp_unclaim(o, c->kind == BBS_CONV_WORK_CRASHED, c->now_ns, &next, &uerr) != 0) {
            return 0;
        }
        if (bbs_alrp_write_update(conn, &next, err) != 0) {
            return -1;
        }
        bbs_change_alrp(c->change, o, &next);
        return 1;
    }
    case BBS_CONV_WORK_MISSING_CELL:
        /* A suspect appeared since the snapshot: leave it to the next run. */
        if (!as_seen(o, it->actual) || s != NULL) {
            return 0;
        }
        if (set_presence(conn, o, BBS_PRESENCE_SUSPECT, err) != 0) {
            return -1;
        }
        next = *o;
        next.presence = BBS_PRESENCE_SUSPECT; /* no tag change (3.2) */
        bbs_change_alrp(c->change, o, &next);
        return 1;
    case BBS_CONV_WORK_PROMOTE:
        if (!as_seen(s, it->actual)) {
            return 0;
        }
        if (o != NULL) {
            if (bbs_alrp_write_delete(conn, o, NULL, err) != 0) {
                return -1;
            }
            bbs_change_alrp(c->change, o, NULL);
        }
        if (set_presence(conn, s, BBS_PRESENCE_ORDINARY, err) != 0) {
            return -1;
        }
        next = *s;
        next.presence = BBS_PRESENCE_ORDINARY;
        bbs_change_alrp(c->change, s, &next);
        return 1;
    case BBS_CONV_WORK_MISSING:
        break;
    }
    return 0;
}

static int apply_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct apply_ctx *c = arg;
    struct bbs_arena *arena = c->change->arena;
    const char **guids = bbs_arena_alloc(arena, c->n * sizeof(*guids));
    int32_t *idx = bbs_arena_alloc(arena, c->n * sizeof(*idx));
    const char **rguids = NULL;
    const char **rdomains = NULL;
    int32_t *ridx = NULL;
    size_t n_repl = 0;
    struct bbs_params p = {0};
    struct bbs_alrp *rows = NULL;
    size_t n_rows = 0;
    PGresult *res;
    int rc = -1;

    bbs_change_rewind(c->change, &c->mark);
    c->applied = 0;
    for (size_t i = 0; i < c->n; i++) {
        guids[i] = item_guid(&c->items[i]);
        idx[i] = c->items[i].index;
    }
    bbs_params_text_array(&p, arena, guids, c->n);
    bbs_params_text_array(&p, arena, index_strings(arena, idx, c->n), c->n);
    res = bbs_exec(conn, "conv_lock", &p, err);
    if (res == NULL) {
        return -1;
    }
    if (PQntuples(res) > 0) {
        rows = bbs_arena_alloc(arena, (size_t)PQntuples(res) * sizeof(*rows));
    }
    for (int i = 0; i < PQntuples(res); i++) {
        if (bbs_alrp_from_result(res, i, &rows[n_rows]) == 0) {
            n_rows++;
        }
    }
    qsort(rows, n_rows, sizeof(*rows), cmp_alrp);
    if (c->kind == BBS_CONV_WORK_MISSING_CELL) {
        rguids = bbs_arena_alloc(arena, c->n * sizeof(*rguids));
        rdomains = bbs_arena_alloc(arena, c->n * sizeof(*rdomains));
        ridx = bbs_arena_alloc(arena, c->n * sizeof(*ridx));
    }
    for (size_t i = 0; i < c->n; i++) {
        int w = apply_one(conn, c, &c->items[i], rows, n_rows, err);

        if (w < 0) {
            goto out;
        }
        if (w > 0 && c->kind == BBS_CONV_WORK_MISSING_CELL) {
            /* The replacement, inserted below with the others of the batch. */
            rguids[n_repl] = c->items[i].actual->process_guid;
            rdomains[n_repl] = c->items[i].actual->domain;
            ridx[n_repl++] = c->items[i].index;
        } else if (w > 0) {
            c->applied++;
        }
    }
    if (n_repl > 0 && insert_unclaimed(conn, c, rguids, ridx, rdomains, n_repl, err) != 0) {
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    return rc;
}

int bbs_store_conv_apply(struct bbs_store *st, enum bbs_conv_work kind,
                         const struct bbs_conv_item *items, size_t n, int64_t now_ns,
                         struct bbs_change *change, size_t *applied, struct bbs_error *err)
{
    struct apply_ctx c = {kind, items, n, now_ns, change, bbs_change_mark(change), 0};
    int rc;

    *applied = 0;
    if (n == 0) {
        return 0;
    }
    if (kind == BBS_CONV_WORK_MISSING) {
        /* A single statement: no lock needed, an existing row is skipped. */
        rc = bbs_store_run_change(st, apply_missing_tx, &c, change, &c.mark, err);
    } else {
        rc = bbs_store_tx_change(st, apply_tx, &c, change, &c.mark, err);
    }
    if (rc == 0) {
        *applied = c.applied;
    }
    return rc;
}
