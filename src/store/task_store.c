/*
 * task_store.c - the tasks table (see task_store.h, reference part 2,
 * 11.4, 11.8).
 *
 * Every lifecycle call is one transaction: lock the row (SELECT ... FOR
 * UPDATE), check that its definition decodes (upstream decodes the row it
 * locks and answers Deserialize otherwise), let the core decide
 * (task_rules.h), write every mutable column with one UPDATE (or DELETE),
 * and record what it did in the change record before COMMIT, so the change
 * log gets the task events in the same transaction. Concurrent calls on
 * one task queue on the row lock: of many concurrent starts exactly one
 * sees Pending.
 *
 * Reads are single statements; their rows borrow from the result, which
 * the caller's arena owns.
 */
#include <stdlib.h>
#include <string.h>

#include "bbs/buf.h"
#include "bbs/task_codec.h"
#include "bbs/task_rules.h"
#include "bbs/task_store.h"
#include "store_int.h"

enum {
    C_GUID,
    C_DOMAIN,
    C_CREATED_AT,
    C_UPDATED_AT,
    C_FIRST_COMPLETED_AT,
    C_STATE,
    C_CELL_ID,
    C_RESULT,
    C_FAILED,
    C_FAILURE_REASON,
    C_REJECTION_COUNT,
    C_REJECTION_REASON,
    C_DEFINITION,
};

static const struct bbs_stmt task_stmts[] = {
    {"task_insert",
     "INSERT INTO tasks (guid, domain, created_at, updated_at, first_completed_at, state,"
     " cell_id, failed, failure_reason, task_definition, rejection_count, rejection_reason)"
     " VALUES ($1::text, $2::text, $3::int8, $3::int8, 0, $4::int4, '', false, '', $5::bytea, 0,"
     " '')"},
    {"task_get", "SELECT " BBS_TASK_COLUMNS " FROM tasks WHERE guid = $1::text"},
    {"task_lock", "SELECT " BBS_TASK_COLUMNS " FROM tasks WHERE guid = $1::text FOR UPDATE"},
    /* result is written only by the transitions that set it ($10): it stays
     * NULL until the task completes, as upstream's column does. */
    {"task_update",
     "UPDATE tasks SET state = $2::int4, cell_id = $3::text, updated_at = $4::int8,"
     " first_completed_at = $5::int8, failed = $6::bool, failure_reason = $7::text,"
     " rejection_count = $8::int4, rejection_reason = $9::text,"
     " result = CASE WHEN $10::bool THEN $11::text ELSE result END WHERE guid = $1::text"},
    {"task_delete", "DELETE FROM tasks WHERE guid = $1::text"},
};
BBS_STORE_STATEMENTS(task, task_stmts);

/*
 * Row `i` of `r` (selected with BBS_TASK_COLUMNS), borrowed from `r`. -1 when
 * its definition is sealed with a key this server cannot open (counted
 * and logged by bbs_get_sealed): reads skip the row, changes refuse it,
 * nothing deletes it (docs/architecture.md, Encryption at rest).
 */
int bbs_task_from_row(const PGresult *r, int i, struct bbs_task *t)
{
    t->guid = bbs_get_text(r, i, C_GUID);
    t->domain = bbs_get_text(r, i, C_DOMAIN);
    t->created_at = bbs_get_int8(r, i, C_CREATED_AT);
    t->updated_at = bbs_get_int8(r, i, C_UPDATED_AT);
    t->first_completed_at = bbs_get_int8(r, i, C_FIRST_COMPLETED_AT);
    t->state = (enum bbs_task_state)bbs_get_int4(r, i, C_STATE);
    t->cell_id = bbs_get_text(r, i, C_CELL_ID);
    t->result = bbs_get_text(r, i, C_RESULT);
    t->failed = bbs_get_bool(r, i, C_FAILED);
    t->failure_reason = bbs_get_text(r, i, C_FAILURE_REASON);
    t->rejection_count = bbs_get_int4(r, i, C_REJECTION_COUNT);
    t->rejection_reason = bbs_get_text(r, i, C_REJECTION_REASON);
    if (bbs_get_sealed(r, i, C_DEFINITION, BBS_SEALED_TASK_DEFINITION, &t->definition) != 0) {
        return -1;
    }
    if (t->definition.data == NULL) {
        t->definition.data = (const uint8_t *)"";
        t->definition.len = 0;
    }
    t->definition.present = 1;
    return 0;
}

static void result_free(void *res)
{
    PQclear(res);
}

/* ---- reads ---- */

struct list_ctx {
    const struct bbs_task_filter *f;
    PGresult *res;
};

/* The SELECT for `f` into `sql` (NUL-terminated), its parameters into `p`. */
static void list_sql(const struct bbs_task_filter *f, struct bbs_buf *sql, struct bbs_params *p)
{
    const char *glue = " WHERE ";

    bbs_buf_printf(sql, "SELECT " BBS_TASK_COLUMNS " FROM tasks");
    if (f != NULL && f->domain != NULL && f->domain[0] != '\0') {
        bbs_buf_printf(sql, "%sdomain = $%d::text", glue, bbs_params_text(p, f->domain));
        glue = " AND ";
    }
    if (f != NULL && f->cell_id != NULL && f->cell_id[0] != '\0') {
        bbs_buf_printf(sql, "%scell_id = $%d::text", glue, bbs_params_text(p, f->cell_id));
    }
    bbs_buf_putc(sql, 0);
}

static int list_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct list_ctx *c = arg;
    struct bbs_params p = {0};
    struct bbs_buf sql = {0};

    list_sql(c->f, &sql, &p);
    c->res = bbs_exec_sql(conn, (const char *)sql.data, &p, err);
    bbs_buf_free(&sql);
    return c->res == NULL ? -1 : 0;
}

int bbs_store_task_list(struct bbs_store *st, struct bbs_arena *arena,
                        const struct bbs_task_filter *f, struct bbs_task_rows *out,
                        struct bbs_error *err)
{
    struct list_ctx c = {f, NULL};
    int n;

    memset(out, 0, sizeof(*out));
    if (bbs_store_run(st, list_tx, &c, err) != 0) {
        return -1;
    }
    bbs_arena_defer(arena, result_free, c.res);
    n = PQntuples(c.res);
    if (n > 0) {
        out->rows = bbs_arena_alloc(arena, (size_t)n * sizeof(*out->rows));
        for (int i = 0; i < n; i++) {
            if (bbs_task_from_row(c.res, i, &out->rows[out->n]) == 0) {
                out->n++;
            }
        }
    }
    return 0;
}

int bbs_store_task_open(struct bbs_store *st, const struct bbs_task_filter *f,
                        struct bbs_cursor **out, struct bbs_error *err)
{
    struct bbs_params p = {0};
    struct bbs_buf sql = {0};

    list_sql(f, &sql, &p);
    *out = bbs_cursor_open(st, (const char *)sql.data, &p, err);
    bbs_buf_free(&sql);
    return *out == NULL ? -1 : 0;
}

int bbs_store_task_next(struct bbs_cursor *c, struct bbs_task *out, struct bbs_error *err)
{
    const PGresult *row;
    int rc = bbs_cursor_row(c, &row, err);

    if (rc <= 0) {
        return rc;
    }
    return bbs_task_from_row(row, 0, out) == 0 ? 1 : 2;
}

struct get_ctx {
    const char *guid;
    PGresult *res;
};

static int get_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct get_ctx *c = arg;
    struct bbs_params p = {0};

    bbs_params_text(&p, c->guid);
    c->res = bbs_exec(conn, "task_get", &p, err);
    return c->res == NULL ? -1 : 0;
}

int bbs_store_task_get(struct bbs_store *st, struct bbs_arena *arena, const char *guid,
                       struct bbs_task *out, struct bbs_error *err)
{
    struct get_ctx c = {guid, NULL};

    if (bbs_store_run(st, get_tx, &c, err) != 0) {
        return -1;
    }
    bbs_arena_defer(arena, result_free, c.res);
    if (PQntuples(c.res) == 0) {
        bbs_error_set(err, BBS_ERR_RESOURCE_NOT_FOUND);
        return -1;
    }
    if (bbs_task_from_row(c.res, 0, out) != 0) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE,
                       "task %s cannot be decrypted with the configured keys", guid);
        return -1;
    }
    return 0;
}

/* ---- desire ---- */

struct desire_ctx {
    const struct bbs_task *t;
    const struct bbs_task_start *start;
    int64_t now_ns;
    struct bbs_change *change;
    struct bbs_change_mark mark;
};

static int desire_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct desire_ctx *c = arg;
    struct bbs_params p = {0};
    struct bbs_task row = *c->t;
    int rc;

    bbs_change_rewind(c->change, &c->mark);
    bbs_params_text(&p, row.guid);
    bbs_params_text(&p, row.domain);
    bbs_params_int8(&p, c->now_ns);
    bbs_params_int4(&p, BBS_TASK_PENDING);
    if (bbs_params_sealed(&p, conn, &row.definition, err) != 0) {
        bbs_params_release(&p);
        return -1;
    }
    /* The primary key turns a second desire of the guid into 23505 ->
     * ResourceExists; a guid or domain over 255 characters is 22001 ->
     * InvalidRequest (11.3). */
    rc = bbs_exec_command(conn, "task_insert", &p, NULL, err);
    bbs_params_release(&p); /* the sealed definition, if encryption is on */
    if (rc != 0) {
        return -1;
    }
    row.state = BBS_TASK_PENDING;
    row.created_at = c->now_ns;
    row.updated_at = c->now_ns;
    row.first_completed_at = 0;
    row.cell_id = "";
    row.result = "";
    row.failed = 0;
    row.failure_reason = "";
    row.rejection_count = 0;
    row.rejection_reason = "";
    bbs_change_task(c->change, NULL, &row);
    if (c->start != NULL) {
        bbs_change_task_auction(c->change, c->start);
    }
    return 0;
}

int bbs_store_task_desire(struct bbs_store *st, const struct bbs_task *t,
                          const struct bbs_task_start *start, int64_t now_ns,
                          struct bbs_change *change, struct bbs_error *err)
{
    struct desire_ctx c = {t, start, now_ns, change, bbs_change_mark(change)};

    return bbs_store_tx_change(st, desire_tx, &c, change, &c.mark, err);
}

/* ---- lifecycle ---- */

enum task_op {
    OP_START,
    OP_CANCEL,
    OP_FAIL,
    OP_REJECT,
    OP_COMPLETE,
    OP_RESOLVING,
    OP_DELETE,
};

struct life_ctx {
    enum task_op op;
    const char *guid;
    const char *cell_id;
    const char *reason;
    const char *result;
    int failed;
    int32_t max_retries;
    int64_t now_ns;
    struct bbs_change *change;
    struct bbs_change_mark mark;
    int should_start; /* OP_START: the outcome of the attempt that committed */
};

static int write_row(PGconn *conn, const struct bbs_task *t, int set_result, struct bbs_error *err)
{
    struct bbs_params p = {0};

    bbs_params_text(&p, t->guid);
    bbs_params_int4(&p, (int32_t)t->state);
    bbs_params_text(&p, t->cell_id);
    bbs_params_int8(&p, t->updated_at);
    bbs_params_int8(&p, t->first_completed_at);
    bbs_params_bool(&p, t->failed);
    bbs_params_text(&p, t->failure_reason);
    bbs_params_int4(&p, t->rejection_count);
    bbs_params_text(&p, t->rejection_reason);
    bbs_params_bool(&p, set_result);
    bbs_params_text(&p, t->result);
    return bbs_exec_command(conn, "task_update", &p, NULL, err);
}

/*
 * Record the callback due for a task that just completed (11.6 a): only
 * when its definition names a URL. The entry borrows the recorded row.
 */
static int record_callback(struct bbs_change *change, const struct bbs_task *after,
                           struct bbs_error *err)
{
    struct bbs_task_callback_due due;

    if (bbs_task_callback_of(change->arena, after, &due, err) != 0) {
        return -1;
    }
    if (due.url[0] != '\0') {
        bbs_change_task_callback(change, &due);
    }
    return 0;
}

/* Decide on the locked row `cur`, write and record; `cur` borrows from the lock's result. */
static int decide(PGconn *conn, struct life_ctx *c, const struct bbs_task *cur,
                  struct bbs_error *err)
{
    char trunc_buf[BBS_REASON_MAX + 1];
    struct bbs_task rejected;
    struct bbs_task next;
    const struct bbs_task_change *ch;
    int completes = 0;
    int rc = -1;

    switch (c->op) {
    case OP_START:
        rc = bbs_task_on_start(cur, c->cell_id, c->now_ns, &next, &c->should_start, err);
        if (rc == 0 && !c->should_start) {
            return 0; /* the running cell asks again: nothing written or recorded */
        }
        break;
    case OP_CANCEL:
        rc = bbs_task_on_cancel(cur, c->now_ns, &next, err);
        completes = 1;
        break;
    case OP_FAIL:
        rc = bbs_task_on_fail(cur, c->reason, c->now_ns, trunc_buf, &next, err);
        completes = 1;
        break;
    case OP_REJECT:
        rc = bbs_task_on_reject_max(cur, c->reason, c->max_retries, c->now_ns, trunc_buf, &rejected,
                                    &next, &completes, err);
        break;
    case OP_COMPLETE:
        rc = bbs_task_on_complete(cur, c->cell_id, c->failed, c->reason, c->result, c->now_ns,
                                  trunc_buf, &next, err);
        completes = 1;
        break;
    case OP_RESOLVING:
        rc = bbs_task_on_resolving(cur, c->now_ns, &next, err);
        break;
    case OP_DELETE:
        rc = bbs_task_on_delete(cur, err);
        if (rc == 0) {
            struct bbs_params p = {0};

            bbs_params_text(&p, cur->guid);
            if (bbs_exec_command(conn, "task_delete", &p, NULL, err) != 0) {
                return -1;
            }
            bbs_change_task(c->change, cur, NULL);
        }
        return rc;
    }
    if (rc != 0) {
        return -1;
    }
    if (write_row(conn, &next, completes, err) != 0) {
        return -1;
    }
    /* A reject past the limit is one change: the fail step's, whose before
     * shows the rejection already counted (11.5.1, 11.10). */
    ch = bbs_change_task(c->change, c->op == OP_REJECT && completes ? &rejected : cur, &next);
    if (c->op == OP_CANCEL && cur->cell_id[0] != '\0') {
        struct bbs_task_cancel k = {ch->after->guid, ch->before->cell_id};

        bbs_change_task_cancel(c->change, &k);
    }
    if (completes && record_callback(c->change, ch->after, err) != 0) {
        return -1;
    }
    return 0;
}

static int life_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct life_ctx *c = arg;
    struct bbs_params p = {0};
    struct bbs_task cur;
    PGresult *res;
    int rc = -1;

    bbs_change_rewind(c->change, &c->mark);
    c->should_start = 0;
    bbs_params_text(&p, c->guid);
    res = bbs_exec(conn, "task_lock", &p, err);
    if (res == NULL) {
        return -1;
    }
    if (PQntuples(res) == 0) {
        bbs_error_set(err, BBS_ERR_RESOURCE_NOT_FOUND);
        goto out;
    }
    if (bbs_task_from_row(res, 0, &cur) != 0 || !bbs_task_definition_ok(&cur.definition)) {
        bbs_error_set(err, BBS_ERR_DESERIALIZE);
        goto out;
    }
    rc = decide(conn, c, &cur, err);
out:
    PQclear(res);
    return rc;
}

static int life(struct bbs_store *st, struct life_ctx *c, struct bbs_change *change,
                struct bbs_error *err)
{
    c->change = change;
    c->mark = bbs_change_mark(change);
    return bbs_store_tx_change(st, life_tx, c, change, &c->mark, err);
}

int bbs_store_task_start(struct bbs_store *st, const char *guid, const char *cell_id,
                         int64_t now_ns, int *should_start, struct bbs_change *change,
                         struct bbs_error *err)
{
    struct life_ctx c = {.op = OP_START, .guid = guid, .cell_id = cell_id, .now_ns = now_ns};
    int rc = life(st, &c, change, err);

    *should_start = rc == 0 ? c.should_start : 0;
    return rc;
}

int bbs_store_task_cancel(struct bbs_store *st, const char *guid, int64_t now_ns,
                          struct bbs_change *change, struct bbs_error *err)
{
    struct life_ctx c = {.op = OP_CANCEL, .guid = guid, .now_ns = now_ns};

    return life(st, &c, change, err);
}

int bbs_store_task_fail(struct bbs_store *st, const char *guid, const char *reason, int64_t now_ns,
                        struct bbs_change *change, struct bbs_error *err)
{
    struct life_ctx c = {.op = OP_FAIL, .guid = guid, .reason = reason, .now_ns = now_ns};

    return life(st, &c, change, err);
}

int bbs_store_task_reject(struct bbs_store *st, const char *guid, const char *reason,
                          int32_t max_retries, int64_t now_ns, struct bbs_change *change,
                          struct bbs_error *err)
{
    struct life_ctx c = {.op = OP_REJECT,
                         .guid = guid,
                         .reason = reason,
                         .max_retries = max_retries,
                         .now_ns = now_ns};

    return life(st, &c, change, err);
}

int bbs_store_task_complete(struct bbs_store *st, const char *guid, const char *cell_id, int failed,
                            const char *failure_reason, const char *result, int64_t now_ns,
                            struct bbs_change *change, struct bbs_error *err)
{
    struct life_ctx c = {.op = OP_COMPLETE,
                         .guid = guid,
                         .cell_id = cell_id,
                         .failed = failed,
                         .reason = failure_reason,
                         .result = result,
                         .now_ns = now_ns};

    return life(st, &c, change, err);
}

int bbs_store_task_resolving(struct bbs_store *st, const char *guid, int64_t now_ns,
                             struct bbs_change *change, struct bbs_error *err)
{
    struct life_ctx c = {.op = OP_RESOLVING, .guid = guid, .now_ns = now_ns};

    return life(st, &c, change, err);
}

int bbs_store_task_delete(struct bbs_store *st, const char *guid, struct bbs_change *change,
                          struct bbs_error *err)
{
    struct life_ctx c = {.op = OP_DELETE, .guid = guid};

    return life(st, &c, change, err);
}
