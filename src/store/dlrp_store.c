/*
 * dlrp_store.c - DesiredLRP rows: desire, update, remove, reads, and the
 * scheduling facts an auction request needs (see dlrp_store.h).
 *
 * State changes lock the desired row with SELECT ... FOR UPDATE inside one
 * transaction (6.5); concurrent updates of one process guid queue there,
 * so the modification tag index moves by exactly one per update. Reads
 * return row views over the binary result (owned by the request arena);
 * dlrp_codec encodes them without per-row copies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/dlrp_codec.h"
#include "bbs/dlrp_store.h"
#include "bbs/rep_push.h"
#include "bbs/store.h"
#include "store_int.h"

/* The SELECT list every desired read uses; column numbers below. */
#define DLRP_COLUMNS_HEAD                                                                          \
    "process_guid, domain, log_guid, annotation, instances, memory_mb, disk_mb, max_pids,"         \
    " rootfs, routes, volume_placement, placement_tags, metric_tags, metrics_guid,"                \
    " update_strategy, modification_tag_epoch, modification_tag_index, "
/* Full reads need run_info; scheduling and routing reads leave the bulky
 * blob in the table. */
#define DLRP_COLUMNS_FULL  DLRP_COLUMNS_HEAD "run_info, created_at"
#define DLRP_COLUMNS_SHORT DLRP_COLUMNS_HEAD "''::bytea AS run_info, created_at"

enum {
    C_PROCESS_GUID,
    C_DOMAIN,
    C_LOG_GUID,
    C_ANNOTATION,
    C_INSTANCES,
    C_MEMORY_MB,
    C_DISK_MB,
    C_MAX_PIDS,
    C_ROOTFS,
    C_ROUTES,
    C_VOLUME_PLACEMENT,
    C_PLACEMENT_TAGS,
    C_METRIC_TAGS,
    C_METRICS_GUID,
    C_UPDATE_STRATEGY,
    C_MOD_EPOCH,
    C_MOD_INDEX,
    C_RUN_INFO,
    C_CREATED_AT,
};

static const struct bbs_stmt dlrp_stmts[] = {
    {"dlrp_insert",
     "INSERT INTO desired_lrps (process_guid, domain, log_guid, annotation, instances,"
     " memory_mb, disk_mb, max_pids, rootfs, routes, volume_placement, placement_tags,"
     " metric_tags, metrics_guid, update_strategy, modification_tag_epoch,"
     " modification_tag_index, run_info, created_at)"
     " VALUES ($1::text, $2::text, $3::text, $4::text, $5::int4, $6::int4, $7::int4, $8::int4,"
     " $9::text, $10::bytea, $11::bytea, $12::bytea, $13::bytea, $14::text, $15::int4,"
     " $16::text, $17::int4, $18::bytea, $19::int8)"},
    {"dlrp_get", "SELECT " DLRP_COLUMNS_FULL " FROM desired_lrps WHERE process_guid = $1::text"},
    {"dlrp_get_short",
     "SELECT " DLRP_COLUMNS_SHORT " FROM desired_lrps WHERE process_guid = $1::text"},
    {"dlrp_lock",
     "SELECT " DLRP_COLUMNS_FULL " FROM desired_lrps WHERE process_guid = $1::text FOR UPDATE"},
    {"dlrp_update",
     "UPDATE desired_lrps SET annotation = $2::text, instances = $3::int4, routes = $4::bytea,"
     " metric_tags = $5::bytea, run_info = $6::bytea, modification_tag_index = $7::int4"
     " WHERE process_guid = $1::text"},
    {"dlrp_delete", "DELETE FROM desired_lrps WHERE process_guid = $1::text"},
};
BBS_STORE_STATEMENTS(dlrp, dlrp_stmts);

/* A blob column, opened if sealed; never NULL data, so encoders need no special case. */
static int blob_col(const PGresult *r, int row, int col, enum bbs_sealed_col kind,
                    struct bbs_blob *b)
{
    if (kind == (enum bbs_sealed_col) - 1) {
        *b = bbs_get_blob(r, row, col);
    } else if (bbs_get_sealed(r, row, col, kind, b) != 0) {
        return -1;
    }
    if (b->data == NULL) {
        b->data = (const uint8_t *)"";
        b->len = 0;
    }
    b->present = 1;
    return 0;
}

/* Row `i` of `r` (selected with DLRP_COLUMNS_*), borrowed from `r`; -1
 * when a sealed value does not open (the row is skipped or refused). */
static int row_from_result(const PGresult *r, int i, struct bbs_dlrp_row *row)
{
    row->process_guid = bbs_get_text(r, i, C_PROCESS_GUID);
    row->domain = bbs_get_text(r, i, C_DOMAIN);
    row->log_guid = bbs_get_text(r, i, C_LOG_GUID);
    row->annotation = bbs_get_text(r, i, C_ANNOTATION);
    row->instances = bbs_get_int4(r, i, C_INSTANCES);
    row->memory_mb = bbs_get_int4(r, i, C_MEMORY_MB);
    row->disk_mb = bbs_get_int4(r, i, C_DISK_MB);
    row->max_pids = bbs_get_int4(r, i, C_MAX_PIDS);
    row->rootfs = bbs_get_text(r, i, C_ROOTFS);
    row->metrics_guid = bbs_get_text(r, i, C_METRICS_GUID);
    row->update_strategy = bbs_get_int4(r, i, C_UPDATE_STRATEGY);
    row->mod_epoch = bbs_get_text(r, i, C_MOD_EPOCH);
    row->mod_index = (uint32_t)bbs_get_int4(r, i, C_MOD_INDEX);
    row->created_at_ns = bbs_get_int8(r, i, C_CREATED_AT);
    return blob_col(r, i, C_ROUTES, BBS_SEALED_DLRP_ROUTES, &row->routes) != 0 ||
                   blob_col(r, i, C_VOLUME_PLACEMENT, BBS_SEALED_DLRP_VOLUME_PLACEMENT,
                            &row->volume_placement) != 0 ||
                   blob_col(r, i, C_PLACEMENT_TAGS, (enum bbs_sealed_col) - 1,
                            &row->placement_tags) != 0 ||
                   blob_col(r, i, C_METRIC_TAGS, BBS_SEALED_DLRP_METRIC_TAGS, &row->metric_tags) !=
                       0 ||
                   blob_col(r, i, C_RUN_INFO, BBS_SEALED_DLRP_RUN_INFO, &row->run_info) != 0
               ? -1
               : 0;
}

/* A NOT NULL blob column as a parameter, sealed when encryption is on. */
static int param_sealed(struct bbs_params *p, PGconn *conn, const struct bbs_blob *b,
                        struct bbs_error *err)
{
    struct bbs_blob v = *b;

    v.present = 1;
    if (v.data == NULL) {
        v.data = (const uint8_t *)"";
        v.len = 0;
    }
    return bbs_params_sealed(p, conn, &v, err);
}

/* A desired row that cannot be read whole is refused, never rewritten. */
static void undecryptable(struct bbs_error *err, const char *guid)
{
    bbs_error_setf(err, BBS_ERR_DESERIALIZE, "desired LRP %s: a stored value cannot be decrypted",
                   guid);
}

static struct bbs_blob blob_dup(struct bbs_arena *arena, const struct bbs_blob *b)
{
    struct bbs_blob c = {(const uint8_t *)"", 0, 1};

    if (b->len > 0) {
        c.data = bbs_arena_memdup(arena, b->data, b->len);
        c.len = b->len;
    }
    return c;
}

/* A copy of `in` that outlives its PGresult. */
static void row_copy(struct bbs_arena *arena, const struct bbs_dlrp_row *in,
                     struct bbs_dlrp_row *out)
{
    *out = *in;
    out->process_guid = bbs_arena_strdup(arena, in->process_guid);
    out->domain = bbs_arena_strdup(arena, in->domain);
    out->log_guid = bbs_arena_strdup(arena, in->log_guid);
    out->annotation = bbs_arena_strdup(arena, in->annotation);
    out->rootfs = bbs_arena_strdup(arena, in->rootfs);
    out->routes = blob_dup(arena, &in->routes);
    out->volume_placement = blob_dup(arena, &in->volume_placement);
    out->placement_tags = blob_dup(arena, &in->placement_tags);
    out->metric_tags = blob_dup(arena, &in->metric_tags);
    out->metrics_guid = bbs_arena_strdup(arena, in->metrics_guid);
    out->mod_epoch = bbs_arena_strdup(arena, in->mod_epoch);
    out->run_info = blob_dup(arena, &in->run_info);
}

/* ---- desire ---- */

struct desire_ctx {
    const struct bbs_dlrp_row *row;
    char epoch[37]; /* the epoch of the attempt that committed */
    struct bbs_change *change;
};

static int desire_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct desire_ctx *c = arg;
    const struct bbs_dlrp_row *row = c->row;
    struct bbs_params p = {0};
    const char *epoch = c->epoch;
    struct bbs_dlrp_row *kept;

    /* A fresh epoch per attempt: a retried insert is a new row. */
    bbs_new_epoch(c->epoch);
    bbs_params_text(&p, row->process_guid);
    bbs_params_text(&p, row->domain);
    bbs_params_text(&p, row->log_guid);
    bbs_params_text(&p, row->annotation);
    bbs_params_int4(&p, row->instances);
    bbs_params_int4(&p, row->memory_mb);
    bbs_params_int4(&p, row->disk_mb);
    bbs_params_int4(&p, row->max_pids);
    bbs_params_text(&p, row->rootfs);
    if (param_sealed(&p, conn, &row->routes, err) != 0 ||
        param_sealed(&p, conn, &row->volume_placement, err) != 0) {
        goto fail;
    }
    bbs_params_bytes(&p, row->placement_tags.data, row->placement_tags.len);
    if (param_sealed(&p, conn, &row->metric_tags, err) != 0) {
        goto fail;
    }
    bbs_params_text(&p, row->metrics_guid);
    bbs_params_int4(&p, row->update_strategy);
    bbs_params_text(&p, epoch);
    bbs_params_int4(&p, 0);
    if (param_sealed(&p, conn, &row->run_info, err) != 0) {
        goto fail;
    }
    bbs_params_int8(&p, row->created_at_ns);
    if (bbs_exec_command(conn, "dlrp_insert", &p, NULL, err) != 0) {
        goto fail;
    }
    bbs_params_release(&p);
    /* Recorded before COMMIT: the change log is written in this transaction. The
     * record keeps its own copy (`row` is the caller's, often on its stack), with
     * the modification tag as stored. */
    kept = bbs_arena_zalloc(c->change->arena, sizeof(*kept));
    row_copy(c->change->arena, row, kept);
    kept->mod_epoch = bbs_arena_strdup(c->change->arena, c->epoch);
    kept->mod_index = 0;
    c->change->dlrp_before = NULL;
    c->change->dlrp_after = kept;
    return 0;
fail:
    bbs_params_release(&p);
    return -1;
}

/* Create instances [from, to) of `desired`; a failure is a note only. */
static void create_instances(struct bbs_store *st, const struct bbs_dlrp_row *desired, int32_t from,
                             int32_t to, int64_t now_ns, enum bbs_create_auction auction,
                             struct bbs_change *change)
{
    struct bbs_error e = {0};

    if (bbs_store_alrp_create_unclaimed(st, desired, from, to, now_ns, auction, change, &e) != 0) {
        bbs_change_note(change, "desired-lrp.create-actual-lrps-failed", desired->process_guid,
                        from, &e);
    }
}

/* Stop instances from index `from` (5.6); a failure is a note only. */
static void stop_instances(struct bbs_store *st, const char *guid, int32_t from,
                           struct bbs_change *change)
{
    struct bbs_error e = {0};

    if (bbs_store_alrp_stop_from(st, guid, from, change, &e) != 0) {
        bbs_change_note(change, "desired-lrp.stop-instances-failed", guid, from, &e);
    }
}

int bbs_store_dlrp_desire(struct bbs_store *st, const struct bbs_dlrp_row *row, int64_t now_ns,
                          struct bbs_change *change, struct bbs_error *err)
{
    struct bbs_change_mark mark = bbs_change_mark(change);
    struct desire_ctx c = {row, "", change};
    const struct bbs_dlrp_row *kept;

    /* One INSERT is its own transaction; the primary key turns a second
     * desire of the same guid into 23505 -> ResourceExists. */
    if (bbs_store_tx_change(st, desire_tx, &c, change, &mark, err) != 0) {
        return -1;
    }
    kept = change->dlrp_after;
    create_instances(st, kept, 0, kept->instances, now_ns, BBS_CREATE_AUCTION_ALWAYS, change);
    return 0;
}

/* ---- reads ---- */

static int full_columns(enum bbs_dlrp_view view)
{
    return view == BBS_DLRP_VIEW_V3 || view == BBS_DLRP_VIEW_V2;
}

/* The readable rows of a list, opened once (an undecryptable row is left out). */
struct dlrp_view {
    struct bbs_dlrp_row *rows;
};

static void view_get(const void *src, size_t i, struct bbs_dlrp_row *out)
{
    const struct dlrp_view *v = src;

    *out = v->rows[i];
}

static void result_free(void *res)
{
    PQclear(res);
}

struct list_ctx {
    struct bbs_arena *arena;
    const struct bbs_dlrp_filter *f;
    enum bbs_dlrp_view view;
    PGresult *res;
};

/* The SELECT for `f` in `view` into `sql` (NUL-terminated), its parameters into `p`. */
static void list_sql(struct bbs_arena *arena, const struct bbs_dlrp_filter *f,
                     enum bbs_dlrp_view view, struct bbs_buf *sql, struct bbs_params *p)
{
    const char *glue = " WHERE ";

    /* The filter set varies per request: only the filters given appear. */
    bbs_buf_printf(sql, "SELECT %s FROM desired_lrps",
                   full_columns(view) ? DLRP_COLUMNS_FULL : DLRP_COLUMNS_SHORT);
    if (f->domain != NULL && f->domain[0] != '\0') {
        bbs_buf_printf(sql, "%sdomain = $%d::text", glue, bbs_params_text(p, f->domain));
        glue = " AND ";
    }
    if (f->n_process_guids > 0) {
        bbs_buf_printf(sql, "%sprocess_guid = ANY($%d::text[])", glue,
                       bbs_params_text_array(p, arena, f->process_guids, f->n_process_guids));
        glue = " AND ";
    }
    if (f->n_app_guids > 0) {
        bbs_buf_printf(sql,
                       "%sEXISTS (SELECT 1 FROM unnest($%d::text[]) AS a(guid)"
                       " WHERE starts_with(process_guid, a.guid))",
                       glue, bbs_params_text_array(p, arena, f->app_guids, f->n_app_guids));
    }
    bbs_buf_putc(sql, 0);
}

static int list_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct list_ctx *c = arg;
    struct bbs_params p = {0};
    struct bbs_buf sql = {0};

    list_sql(c->arena, c->f, c->view, &sql, &p);
    c->res = bbs_exec_sql(conn, (const char *)sql.data, &p, err);
    bbs_buf_free(&sql);
    return c->res == NULL ? -1 : 0;
}

int bbs_store_dlrp_list(struct bbs_store *st, struct bbs_arena *arena,
                        const struct bbs_dlrp_filter *f, enum bbs_dlrp_view view,
                        struct bbs_dlrp_rows *out, struct bbs_error *err)
{
    struct list_ctx c = {arena, f, view, NULL};
    struct dlrp_view *v;
    size_t n;

    memset(out, 0, sizeof(*out));
    if (bbs_store_run(st, list_tx, &c, err) != 0) {
        return -1;
    }
    bbs_arena_defer(arena, result_free, c.res);
    n = (size_t)PQntuples(c.res);
    v = bbs_arena_zalloc(arena, sizeof(*v));
    v->rows = bbs_arena_alloc(arena, (n > 0 ? n : 1) * sizeof(*v->rows));
    for (size_t i = 0; i < n; i++) {
        if (row_from_result(c.res, (int)i, &v->rows[out->n]) == 0) {
            out->n++;
        }
    }
    out->src = v;
    out->get = view_get;
    return 0;
}

int bbs_store_dlrp_open(struct bbs_store *st, struct bbs_arena *arena,
                        const struct bbs_dlrp_filter *f, enum bbs_dlrp_view view,
                        struct bbs_cursor **out, struct bbs_error *err)
{
    struct bbs_params p = {0};
    struct bbs_buf sql = {0};

    list_sql(arena, f, view, &sql, &p);
    *out = bbs_cursor_open(st, (const char *)sql.data, &p, err);
    bbs_buf_free(&sql);
    return *out == NULL ? -1 : 0;
}

int bbs_store_dlrp_next(struct bbs_cursor *c, struct bbs_dlrp_row *out, struct bbs_error *err)
{
    const PGresult *row;
    int rc = bbs_cursor_row(c, &row, err);

    if (rc <= 0) {
        return rc;
    }
    return row_from_result(row, 0, out) == 0 ? 1 : 2;
}

struct get_ctx {
    const char *guid;
    enum bbs_dlrp_view view;
    PGresult *res;
};

static int get_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct get_ctx *c = arg;
    struct bbs_params p = {0};

    bbs_params_text(&p, c->guid);
    c->res = bbs_exec(conn, full_columns(c->view) ? "dlrp_get" : "dlrp_get_short", &p, err);
    return c->res == NULL ? -1 : 0;
}

int bbs_store_dlrp_get(struct bbs_store *st, struct bbs_arena *arena, const char *guid,
                       enum bbs_dlrp_view view, struct bbs_dlrp_row *out, struct bbs_error *err)
{
    struct get_ctx c = {guid, view, NULL};

    if (bbs_store_run(st, get_tx, &c, err) != 0) {
        return -1;
    }
    bbs_arena_defer(arena, result_free, c.res);
    if (PQntuples(c.res) == 0) {
        bbs_error_set(err, BBS_ERR_RESOURCE_NOT_FOUND);
        return -1;
    }
    if (row_from_result(c.res, 0, out) != 0) {
        undecryptable(err, guid);
        return -1;
    }
    return 0;
}

/* ---- update ---- */

struct update_ctx {
    struct bbs_arena *arena;
    const char *guid;
    const Models__DesiredLRPUpdate *u;
    struct bbs_dlrp_updated *out;
    struct bbs_change *change;
};

/*
 * Read the row of `guid` with statement `stmt` (taking $1 = guid) and copy
 * it into `arena`; no row: ResourceNotFound.
 */
static int read_row(PGconn *conn, const char *stmt, struct bbs_arena *arena, const char *guid,
                    struct bbs_dlrp_row *row, struct bbs_error *err)
{
    struct bbs_params p = {0};
    struct bbs_dlrp_row cur;
    PGresult *res;
    int rc = -1;

    bbs_params_text(&p, guid);
    res = bbs_exec(conn, stmt, &p, err);
    if (res == NULL) {
        return -1;
    }
    if (PQntuples(res) == 0) {
        bbs_error_set(err, BBS_ERR_RESOURCE_NOT_FOUND);
        goto out;
    }
    if (row_from_result(res, 0, &cur) != 0) {
        undecryptable(err, guid);
        goto out;
    }
    row_copy(arena, &cur, row);
    rc = 0;
out:
    PQclear(res);
    return rc;
}

/* SELECT ... FOR UPDATE the row of `guid` and copy it into `arena`. */
static int lock_row(PGconn *conn, struct bbs_arena *arena, const char *guid,
                    struct bbs_dlrp_row *row, struct bbs_error *err)
{
    return read_row(conn, "dlrp_lock", arena, guid, row, err);
}

static int update_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct update_ctx *c = arg;
    const Models__DesiredLRPUpdate *u = c->u;
    struct bbs_dlrp_row *before = &c->out->before;
    struct bbs_dlrp_row *after = &c->out->after;
    struct bbs_params p = {0};

    /* Not found wins over everything the update carries (5.4 step 2). */
    if (lock_row(conn, c->arena, c->guid, before, err) != 0) {
        return -1;
    }
    if (bbs_dlrp_apply_update(c->arena, before, u, &bbs_dlrp_update_codec, after, err) != 0) {
        return -1;
    }
    bbs_params_text(&p, c->guid);
    bbs_params_text(&p, after->annotation);
    bbs_params_int4(&p, after->instances);
    if (param_sealed(&p, conn, &after->routes, err) != 0 ||
        param_sealed(&p, conn, &after->metric_tags, err) != 0 ||
        param_sealed(&p, conn, &after->run_info, err) != 0) {
        bbs_params_release(&p);
        return -1;
    }
    bbs_params_int4(&p, (int32_t)after->mod_index);
    if (bbs_exec_command(conn, "dlrp_update", &p, NULL, err) != 0) {
        bbs_params_release(&p);
        return -1;
    }
    bbs_params_release(&p);
    /* Recorded before COMMIT: the change log is written in this transaction. */
    c->change->dlrp_before = before;
    c->change->dlrp_after = after;
    return 0;
}

struct running_ctx {
    struct bbs_arena *arena;
    const char *guid;
    struct bbs_alrp *rows;
    size_t n;
};

static int running_read(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct running_ctx *c = arg;

    return bbs_alrp_running_from(conn, c->arena, c->guid, 0, &c->rows, &c->n, err);
}

/*
 * 5.4 step 5, after the commit: when the internal-router routes or the
 * metric tags changed, record a rep update for every instance a rep runs
 * (its cell is looked up when the record is applied). The rows are not
 * touched: the cell reports the new values in its next heartbeat. A
 * failure here is a note only.
 */
static void push_to_reps(struct bbs_store *st, const char *guid, const Models__DesiredLRPUpdate *u,
                         const struct bbs_dlrp_row *before, struct bbs_change *change)
{
    struct bbs_arena *arena = change->arena;
    Models__ProtoRoutes *old_routes = NULL;
    Models__DesiredLRPUpdate__MetricTagsEntry **old_tags = NULL;
    size_t n_old_tags = 0;
    const char *const *hosts = NULL;
    size_t n_hosts = 0;
    int routes = 0;
    int tags = 0;
    struct running_ctx rc = {arena, guid, NULL, 0};
    struct bbs_error e = {0};

    if (u->routes == NULL && u->n_metric_tags == 0) {
        return;
    }
    if (u->routes != NULL) {
        if (bbs_dlrp_decode_routes(arena, &before->routes, &old_routes, &e) != 0) {
            goto failed;
        }
        routes = bbs_rep_push_routes_changed(old_routes, u);
    }
    if (u->n_metric_tags > 0) {
        if (bbs_dlrp_decode_metric_tags(arena, &before->metric_tags, &old_tags, &n_old_tags, &e) !=
            0) {
            goto failed;
        }
        tags = bbs_rep_push_tags_changed(old_tags, n_old_tags, u);
    }
    if (!routes && !tags) {
        return;
    }
    /* Upstream skips every instance's update when the new value does not decode. */
    if (routes && bbs_rep_push_internal_routes(arena, u->routes, &hosts, &n_hosts) != 0) {
        bbs_error_setf(&e, BBS_ERR_INVALID_REQUEST, "internal routes do not decode");
        goto failed;
    }
    if (bbs_store_run(st, running_read, &rc, &e) != 0) {
        goto failed;
    }
    for (size_t i = 0; i < rc.n; i++) {
        const struct bbs_alrp *a = &rc.rows[i];
        struct bbs_rep_update ru = {a->key, a->instance, NULL, 0, NULL, NULL, 0, NULL};

        if (routes) {
            ru.internal_routes = hosts;
            ru.n_internal_routes = n_hosts;
        }
        if (tags) {
            bbs_rep_push_tags_for(arena, u, a->key.index, a->instance.instance_guid,
                                  &ru.metric_tag_names, &ru.metric_tag_values, &ru.n_metric_tags);
        }
        bbs_change_rep_update(change, &ru);
    }
    return;
failed:
    bbs_change_note(change, "desired-lrp.update-instances-failed", guid, 0, &e);
}

int bbs_store_dlrp_update(struct bbs_store *st, const char *guid, const Models__DesiredLRPUpdate *u,
                          int64_t now_ns, struct bbs_change *change, struct bbs_error *err)
{
    struct bbs_dlrp_updated *out = bbs_arena_zalloc(change->arena, sizeof(*out));
    struct update_ctx c = {change->arena, guid, u, out, change};
    struct bbs_change_mark mark = bbs_change_mark(change);

    if (bbs_store_tx_change(st, update_tx, &c, change, &mark, err) != 0) {
        return -1;
    }
    if (u->optional_instances_case == MODELS__DESIRED_LRPUPDATE__OPTIONAL_INSTANCES_INSTANCES) {
        if (out->after.instances > out->before.instances) {
            create_instances(st, &out->after, out->before.instances, out->after.instances, now_ns,
                             BBS_CREATE_AUCTION_IF_CREATED, change);
        } else if (out->after.instances < out->before.instances) {
            stop_instances(st, guid, out->after.instances, change);
        }
    }
    push_to_reps(st, guid, u, &out->before, change);
    return 0;
}

/* ---- remove ---- */

struct remove_ctx {
    struct bbs_arena *arena;
    const char *guid;
    struct bbs_dlrp_row row;
    struct bbs_change *change;
};

static int remove_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct remove_ctx *c = arg;
    struct bbs_params p = {0};

    if (lock_row(conn, c->arena, c->guid, &c->row, err) != 0) {
        return -1;
    }
    bbs_params_text(&p, c->guid);
    if (bbs_exec_command(conn, "dlrp_delete", &p, NULL, err) != 0) {
        return -1;
    }
    /* Recorded before COMMIT: the change log is written in this transaction. */
    c->change->dlrp_before = &c->row;
    c->change->dlrp_after = NULL;
    return 0;
}

int bbs_store_dlrp_remove(struct bbs_store *st, const char *guid, struct bbs_change *change,
                          struct bbs_error *err)
{
    struct remove_ctx *c = bbs_arena_zalloc(change->arena, sizeof(*c));
    struct bbs_change_mark mark = bbs_change_mark(change);

    c->arena = change->arena;
    c->guid = guid;
    c->change = change;
    if (bbs_store_tx_change(st, remove_tx, c, change, &mark, err) != 0) {
        return -1;
    }
    stop_instances(st, guid, 0, change);
    return 0;
}

/* ---- auction facts ---- */

struct start_ctx {
    struct bbs_arena *arena;
    const char *guid;
    struct bbs_dlrp_row row;
};

static int start_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct start_ctx *c = arg;

    return read_row(conn, "dlrp_get_short", c->arena, c->guid, &c->row, err);
}

int bbs_dlrp_auction_of(struct bbs_change *change, const struct bbs_dlrp_row *desired,
                        const int32_t *indices, size_t n, int as_received, struct bbs_error *err)
{
    static const char *const no_drivers[1] = {NULL};
    struct bbs_auction_start start;

    if (bbs_dlrp_auction_start(change->arena, desired, &start) != 0) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "stored desired LRP %s does not decode",
                       desired->process_guid);
        return -1;
    }
    /* 9.1: built from the desired LRP as received, no volume mounts is
     * an empty list; from the stored scheduling info it is null. */
    if (as_received && start.volume_drivers == NULL) {
        start.volume_drivers = no_drivers;
        start.n_volume_drivers = 0;
    }
    start.indices = indices;
    start.n_indices = n;
    bbs_change_auction(change, &start);
    return 0;
}

int bbs_dlrp_auction_for(struct bbs_store *st, struct bbs_change *change, const char *guid,
                         const int32_t *indices, size_t n, struct bbs_error *err)
{
    struct start_ctx c = {change->arena, guid, {0}};

    if (bbs_store_run(st, start_tx, &c, err) != 0) {
        return -1;
    }
    return bbs_dlrp_auction_of(change, &c.row, indices, n, 0, err);
}
