/*
 * changelog.c - the change log (changelog.h): the writer that runs inside
 * every state change's transaction, and the hub's mark, reads and pruning.
 *
 * The writer inserts all of a change's events with one statement (arrays
 * unnested server-side), queued with the transaction's COMMIT (pool.c),
 * so the events cost no round trip of their own; each row takes its id
 * from the sequence at insert (migration 0007), and the transaction holds
 * a ticket meanwhile (pool.c) so that the hub knows when every id up to a
 * mark is either committed or never will be. It does not NOTIFY:
 * PostgreSQL serialises the commits of notifying transactions (a global
 * lock held until the commit record is flushed), which would cost every
 * writer the group commit. The transaction helper wakes the hub in the
 * process once the transaction has ended instead (bbs_store_on_commit).
 *
 * Payloads at rest: an event's payload embeds whole LRP and task
 * definitions (environment variables included), so with encryption
 * configured both payload columns are sealed as the other blobs are
 * (crypt.h: the compact envelope of 0x02 0x00 + the payload, under the
 * active key) and opened when read. A row that does not open (its key
 * dropped from encryption_keys, a damaged value) keeps its id but comes
 * back with a NULL payload, which the hub skips; it is logged and counted
 * like any undecryptable value, never fatal. The re-keying pass
 * (sealed.c) leaves this table alone: its rows are pruned after the
 * retention (event_log_retention), while a key is kept until its rows are
 * gone (docs/architecture.md, "Encryption at rest").
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/buf.h"
#include "bbs/changelog.h"
#include "bbs/crypt.h"
#include "bbs/events.h"
#include "bbs/log.h"
#include "bbs/xalloc.h"
#include "store_int.h"

#define TEXT_OID  25
#define INT4_OID  23
#define BYTEA_OID 17

static const struct bbs_stmt changelog_stmts[] = {
    /* `seq` comes from its default (migration 0007: nextval at insert). */
    {"changelog_insert",
     "INSERT INTO event_log (name, streams, cell_id_a, cell_id_b, payload, payload_v0)"
     " SELECT * FROM unnest($1::text[], $2::int4[], $3::text[], $4::text[], $5::bytea[],"
     " $6::bytea[])"},
    /* The largest id handed out, committed or not (a sequence is read
     * outside any snapshot). */
    {"changelog_mark",
     "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM event_log_seq_seq"},
    {"changelog_read",
     "SELECT seq, name, streams, cell_id_a, cell_id_b, payload, payload_v0 FROM event_log"
     " WHERE seq > $1::int8 AND seq <= $2::int8 ORDER BY seq LIMIT $3::int4"},
    /* A resuming subscriber's page: only what its stream and cell filter
     * pass (2.10.3 item 7), so a cell reads its own events only. */
    {"changelog_backlog",
     "SELECT seq, name, streams, cell_id_a, cell_id_b, payload, payload_v0 FROM event_log"
     " WHERE seq > $1::int8 AND seq <= $2::int8 AND (streams & $4::int4) <> 0 AND"
     " ($5::text = '' OR (cell_id_a IS NULL AND cell_id_b IS NULL) OR cell_id_a = $5::text"
     " OR cell_id_b = $5::text) ORDER BY seq LIMIT $3::int4"},
    {"changelog_pruned", "SELECT upto FROM event_log_pruned WHERE id = 1"},
    /* Looks at the oldest `batch` ids only, so a prune with nothing to do
     * reads a few index entries, never the whole table; raises the
     * watermark to the largest id it removed, in the same statement. */
    {"changelog_prune",
     "WITH oldest AS (SELECT id, seq, created_at FROM event_log WHERE seq IS NOT NULL"
     " ORDER BY seq LIMIT $3::int4),"
     " m AS (SELECT coalesce(max(seq), 0) AS last FROM event_log WHERE seq IS NOT NULL),"
     " d AS (DELETE FROM event_log WHERE id IN (SELECT o.id FROM oldest o, m WHERE"
     " o.created_at < now() - ($1::int8 / 1000)::float8 * interval '1 microsecond'"
     " OR o.seq <= m.last - $2::int8) RETURNING seq),"
     " w AS (UPDATE event_log_pruned SET upto = greatest(upto, (SELECT max(seq) FROM d))"
     " WHERE id = 1 AND EXISTS (SELECT 1 FROM d))"
     " SELECT count(*)::int4 FROM d"},
};
BBS_STORE_STATEMENTS(changelog, changelog_stmts);

/* ---- binary arrays (array_recv) of one dimension, NULL elements allowed ---- */

struct array {
    struct bbs_buf b;
    size_t n;
    int has_null;
    uint32_t oid;
};

static void put32(struct bbs_buf *b, uint32_t v)
{
    uint32_t be = htonl(v);

    bbs_buf_append(b, &be, 4);
}

static void array_init(struct array *a, uint32_t oid, size_t n)
{
    memset(a, 0, sizeof(*a));
    a->oid = oid;
    a->n = n;
    put32(&a->b, n > 0 ? 1 : 0);
    put32(&a->b, 0); /* has-nulls flag, patched at the end */
    put32(&a->b, oid);
    if (n > 0) {
        put32(&a->b, (uint32_t)n);
        put32(&a->b, 1);
    }
}

static void array_elem(struct array *a, const void *p, size_t len)
{
    if (p == NULL) {
        put32(&a->b, UINT32_MAX); /* -1: NULL */
        a->has_null = 1;
        return;
    }
    put32(&a->b, (uint32_t)len);
    bbs_buf_append(&a->b, p, len);
}

static void array_int4(struct array *a, int32_t v)
{
    uint32_t be = htonl((uint32_t)v);

    array_elem(a, &be, 4);
}

static void array_param(struct array *a, struct bbs_params *p)
{
    if (a->has_null) {
        uint32_t one = htonl(1);

        memcpy(a->b.data + 4, &one, 4);
    }
    bbs_params_bytes(p, a->b.data, a->b.len);
}

/* Our sealed plaintexts start with upstream's "serialized" prefix (sealed.c). */
static const uint8_t SEALED_PREFIX[2] = {0x02, 0x00};

/*
 * Append payload `p` (n bytes; NULL = SQL NULL) to `a`, sealed under the
 * active key when `c` seals (empty values stay plain: they hide nothing).
 */
static int array_payload(struct array *a, const struct bbs_crypt *c, const uint8_t *p, size_t n,
                         struct bbs_error *err)
{
    struct bbs_buf pt = {0};
    struct bbs_buf sealed = {0};
    int rc = -1;

    if (p == NULL || n == 0 || !bbs_crypt_enabled(c)) {
        array_elem(a, p, n);
        return 0;
    }
    bbs_buf_append(&pt, SEALED_PREFIX, 2);
    bbs_buf_append(&pt, p, n);
    if (bbs_crypt_seal(c, pt.data, pt.len, &sealed, err) == 0) {
        array_elem(a, sealed.data, sealed.len);
        rc = 0;
    }
    bbs_buf_free(&pt);
    bbs_buf_free(&sealed);
    return rc;
}

/*
 * The part of `c` that the current transaction recorded: a store call
 * may run several transactions into one record (desire, then the
 * instances), and each logs only its own events.
 */
static struct bbs_change since_mark(const struct bbs_change *c, const struct bbs_change_mark *m)
{
    struct bbs_change v = *c;

    v.alrps = c->alrps + m->n_alrps;
    v.n_alrps = c->n_alrps - m->n_alrps;
    v.siblings = c->siblings + m->n_siblings;
    v.n_siblings = c->n_siblings - m->n_siblings;
    v.tasks = c->tasks + m->n_tasks;
    v.n_tasks = c->n_tasks - m->n_tasks;
    if (c->dlrp_before == m->dlrp_before && c->dlrp_after == m->dlrp_after) {
        v.dlrp_before = NULL;
        v.dlrp_after = NULL;
    }
    return v;
}

int bbs_changelog_write(PGconn *conn, const struct bbs_change *change,
                        const struct bbs_change_mark *mark, int *wrote, uint64_t *ticket,
                        struct bbs_error *err)
{
    struct bbs_change view = since_mark(change, mark);
    const struct bbs_crypt *crypt = bbs_store_crypt(bbs_store_of_conn(conn));
    struct bbs_arena *arena = NULL;
    const struct bbs_event *evs = NULL;
    struct array cols[6];
    struct bbs_params p = {0};
    size_t n = 0;
    int rc = -1;

    *wrote = 0;
    if (view.n_alrps == 0 && view.n_tasks == 0 && view.dlrp_before == NULL &&
        view.dlrp_after == NULL) {
        return 0;
    }
    arena = bbs_arena_new();
    if (bbs_events_of_change(&view, arena, &evs, &n, err) != 0) {
        goto out_arena;
    }
    if (n == 0) {
        rc = 0;
        goto out_arena;
    }
    array_init(&cols[0], TEXT_OID, n);
    array_init(&cols[1], INT4_OID, n);
    array_init(&cols[2], TEXT_OID, n);
    array_init(&cols[3], TEXT_OID, n);
    array_init(&cols[4], BYTEA_OID, n);
    array_init(&cols[5], BYTEA_OID, n);
    for (size_t i = 0; i < n; i++) {
        const struct bbs_event *e = &evs[i];

        array_elem(&cols[0], e->name, strlen(e->name));
        array_int4(&cols[1], (int32_t)e->streams);
        for (int k = 0; k < 2; k++) {
            const char *cell = e->cell_ids[k];

            array_elem(&cols[2 + k], cell, cell != NULL ? strlen(cell) : 0);
        }
        if (array_payload(&cols[4], crypt, e->payload != NULL ? e->payload : (const uint8_t *)"",
                          e->payload_len, err) != 0 ||
            array_payload(&cols[5], crypt, e->payload_v0, e->payload_v0_len, err) != 0) {
            goto out_cols;
        }
    }
    for (int k = 0; k < 6; k++) {
        array_param(&cols[k], &p);
    }
    /* Before the insert can run (it takes the ids): the hub passes no id
     * of it until this transaction's outcome is known. Held from here
     * whatever happens; the caller gives it back. */
    *ticket = bbs_store_ticket_take(bbs_store_of_conn(conn));
    *wrote = 1;
    rc = bbs_exec_command(conn, "changelog_insert", &p, NULL, err);
out_cols:
    for (int k = 0; k < 6; k++) {
        bbs_buf_free(&cols[k].b);
    }
out_arena:
    bbs_arena_free(arena);
    return rc;
}

/* ---- the hub's mark ---- */

static int mark_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    PGresult *res = bbs_exec(conn, "changelog_mark", NULL, err);

    if (res == NULL) {
        return -1;
    }
    *(int64_t *)arg = bbs_get_int8(res, 0, 0);
    PQclear(res);
    return 0;
}

int bbs_store_changelog_mark(struct bbs_store *st, int64_t *last, uint64_t *ticket,
                             struct bbs_error *err)
{
    *last = 0;
    *ticket = 0;
    /* Fenced like a write (pool.c): a server that no longer leads cannot
     * mark ids the new leader handed out (its tickets are not here); the
     * fence's shared lock keeps a take-over waiting until the read is done,
     * and a deposed leader's mark fails (BB001, the server stops). */
    if (bbs_store_tx(st, mark_tx, last, err) != 0) {
        return -1;
    }
    /* After the read: a writer whose id is at most `*last` took its ticket
     * before its insert ran, so before this number. */
    *ticket = bbs_store_ticket_next(st);
    return 0;
}

/* ---- reads ---- */

struct read_ctx {
    struct bbs_arena *arena;
    int64_t after;
    int64_t upto;
    int limit;
    unsigned streams;    /* backlog only */
    const char *cell_id; /* backlog only */
    int64_t pruned;      /* backlog only */
    struct bbs_changelog_row *rows;
    size_t n;
};

static const char *opt_text(struct bbs_arena *a, const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : bbs_arena_strdup(a, PQgetvalue(r, row, col));
}

/* payload_of's sealed case, apart so that the plain case does not zero
 * this frame's 4 KB of error and label buffers for every row. */
static int open_payload(struct read_ctx *c, const PGresult *res, int row, int col,
                        struct bbs_blob b, const uint8_t **out, size_t *len)
{
    struct bbs_store *st;
    struct bbs_buf pt = {0};
    struct bbs_error err = {0};
    char label[BBS_CRYPT_LABEL_MAX + 1] = "";
    int rc = -1;

    st = bbs_store_of_result(res);
    if (bbs_crypt_open(bbs_store_crypt(st), b.data, b.len, &pt, label, &err) == 0) {
        if (pt.len >= 2 && memcmp(pt.data, SEALED_PREFIX, 2) == 0) {
            *out = bbs_arena_memdup(c->arena, pt.data + 2, pt.len - 2);
            *len = pt.len - 2;
            rc = 0;
        } else {
            bbs_error_setf(&err, BBS_ERR_DESERIALIZE, "plaintext is not in a known format");
        }
    }
    bbs_buf_free(&pt);
    if (rc != 0) {
        uint64_t total = bbs_store_count_undecryptable(st);

        bbs_log(BBS_LOG_ERROR, "crypt.undecryptable-event", "{s:I, s:s, s:s, s:s, s:I}", "seq",
                (json_int_t)bbs_get_int8(res, row, 0), "column",
                col == 5 ? "payload" : "payload_v0", "key_label", label, "error", err.message,
                "undecryptable_total", (json_int_t)total);
    }
    return rc;
}

/*
 * Copy stored payload `b` into the arena (`*out`, `*len`), opened if it is
 * sealed. -1 when a sealed one does not open: logged and counted here (the
 * hub skips the row, so nothing else would tell).
 */
static int payload_of(struct read_ctx *c, const PGresult *res, int row, int col,
                      const uint8_t **out, size_t *len)
{
    struct bbs_blob b = bbs_get_blob(res, row, col);

    if (!bbs_crypt_is_sealed(b.data, b.len)) {
        *out = bbs_arena_memdup(c->arena, b.data != NULL ? b.data : (const uint8_t *)"", b.len);
        *len = b.len;
        return 0;
    }
    return open_payload(c, res, row, col, b, out, len);
}

/* Copy the rows of `res` (changelog_read's columns) into c->rows. */
static void rows_of(struct read_ctx *c, const PGresult *res)
{
    int n = PQntuples(res);

    c->rows = bbs_arena_zalloc(c->arena, sizeof(*c->rows) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) {
        struct bbs_changelog_row *r = &c->rows[i];

        r->seq = bbs_get_int8(res, i, 0);
        r->name = bbs_arena_strdup(c->arena, bbs_get_text(res, i, 1));
        r->streams = (unsigned)bbs_get_int4(res, i, 2);
        r->cell_ids[0] = opt_text(c->arena, res, i, 3);
        r->cell_ids[1] = opt_text(c->arena, res, i, 4);
        if (payload_of(c, res, i, 5, &r->payload, &r->payload_len) != 0 ||
            (!PQgetisnull(res, i, 6) &&
             payload_of(c, res, i, 6, &r->payload_v0, &r->payload_v0_len) != 0)) {
            /* Undecryptable: kept in sequence, delivered to nobody. */
            r->payload = NULL;
            r->payload_len = 0;
            r->payload_v0 = NULL;
            r->payload_v0_len = 0;
        }
    }
    c->n = (size_t)n;
}

static int read_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct read_ctx *c = arg;
    struct bbs_params p = {0};
    PGresult *res;

    bbs_params_int8(&p, c->after);
    bbs_params_int8(&p, c->upto);
    bbs_params_int4(&p, c->limit);
    res = bbs_exec(conn, "changelog_read", &p, err);
    if (res == NULL) {
        return -1;
    }
    rows_of(c, res);
    PQclear(res);
    return 0;
}

/* The pruning watermark and a filtered page, from one snapshot. */
static int backlog_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct read_ctx *c = arg;
    struct bbs_params p = {0};
    PGresult *res;

    res = bbs_exec(conn, "changelog_pruned", NULL, err);
    if (res == NULL) {
        return -1;
    }
    c->pruned = PQntuples(res) > 0 ? bbs_get_int8(res, 0, 0) : 0;
    PQclear(res);
    bbs_params_int8(&p, c->after);
    bbs_params_int8(&p, c->upto);
    bbs_params_int4(&p, c->limit);
    bbs_params_int4(&p, (int32_t)c->streams);
    bbs_params_text(&p, c->cell_id != NULL ? c->cell_id : "");
    res = bbs_exec(conn, "changelog_backlog", &p, err);
    if (res == NULL) {
        return -1;
    }
    rows_of(c, res);
    PQclear(res);
    return 0;
}

int bbs_store_changelog_backlog(struct bbs_store *st, struct bbs_arena *arena, int64_t after,
                                int64_t upto, int limit, unsigned streams, const char *cell_id,
                                int64_t *pruned, struct bbs_changelog_row **out, size_t *n,
                                struct bbs_error *err)
{
    struct read_ctx c = {arena, after, upto, limit, streams, cell_id, 0, NULL, 0};
    int rc = bbs_store_tx_read(st, backlog_tx, &c, err); /* one snapshot */

    *pruned = c.pruned;
    *out = c.rows;
    *n = c.n;
    return rc;
}

int bbs_store_changelog_read(struct bbs_store *st, struct bbs_arena *arena, int64_t after,
                             int64_t upto, int limit, struct bbs_changelog_row **out, size_t *n,
                             struct bbs_error *err)
{
    struct read_ctx c = {arena, after, upto, limit, 0, NULL, 0, NULL, 0};
    int rc = bbs_store_run(st, read_tx, &c, err);

    *out = c.rows;
    *n = c.n;
    return rc;
}

/* ---- pruning ---- */

struct prune_ctx {
    int64_t max_age_ns;
    int64_t keep;
    int batch;
    int affected;
};

static int prune_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct prune_ctx *c = arg;
    struct bbs_params p = {0};
    PGresult *res;

    bbs_params_int8(&p, c->max_age_ns);
    bbs_params_int8(&p, c->keep);
    bbs_params_int4(&p, c->batch);
    res = bbs_exec(conn, "changelog_prune", &p, err);
    if (res == NULL) {
        return -1;
    }
    c->affected = bbs_get_int4(res, 0, 0);
    PQclear(res);
    return 0;
}

int bbs_store_changelog_prune(struct bbs_store *st, int64_t max_age_ns, int64_t keep, int batch,
                              int max_batches, int64_t *deleted, struct bbs_error *err)
{
    struct prune_ctx c = {max_age_ns, keep, batch, 0};

    *deleted = 0;
    for (int i = 0; i < max_batches; i++) {
        /* One autocommitted statement per batch (the DELETE and the
         * watermark): short row locks on old rows that nobody else writes. */
        if (bbs_store_run(st, prune_tx, &c, err) != 0) {
            return -1;
        }
        *deleted += c.affected;
        if (c.affected < batch) {
            break;
        }
    }
    return 0;
}
