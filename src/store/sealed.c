/*
 * sealed.c - encryption at rest in the store: the one read and the one
 * write of every sealed column (store_int.h), the start-up key check and
 * the re-keying pass (store.h). The envelope and the cipher are crypt.c's.
 *
 * Stored forms (docs/architecture.md, "Encryption at rest"):
 *   plain   our column bytes as before encryption (always when it is off;
 *           empty values stay plain, they hide nothing);
 *   sealed  0x00 + envelope (the compact form we write) or "02" +
 *           base64(envelope) (upstream's form, read the same), whose
 *           plaintext is 0x02 0x00 + our column bytes, or, for a value
 *           upstream's own sqldb wrote, upstream's plaintext: 0x02 0x00 +
 *           the same protobuf for net_info (the message is ours too), or
 *           JSON for the actual LRP's internal_routes and metric_tags,
 *           turned into our bytes here.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bbs/crypt.h"
#include "bbs/log.h"
#include "bbs/pbw.h"
#include "store_int.h"

static const char *const COL_NAMES[] = {
    [BBS_SEALED_NET_INFO] = "net_info",
    [BBS_SEALED_ALRP_INTERNAL_ROUTES] = "internal_routes",
    [BBS_SEALED_ALRP_METRIC_TAGS] = "metric_tags",
    [BBS_SEALED_DLRP_ROUTES] = "routes",
    [BBS_SEALED_DLRP_VOLUME_PLACEMENT] = "volume_placement",
    [BBS_SEALED_DLRP_METRIC_TAGS] = "metric_tags",
    [BBS_SEALED_DLRP_RUN_INFO] = "run_info",
    [BBS_SEALED_TASK_DEFINITION] = "task_definition",
};

/* What our own sealed plaintexts start with (upstream's "serialized" prefix). */
static const uint8_t OURS[2] = {0x02, 0x00};

/* ---- upstream's JSON plaintexts ---- */

/* `[{"hostname": "..."}]` -> ActualLRP field-11 entries. */
static int json_internal_routes(json_t *j, struct bbs_buf *out)
{
    size_t i;
    json_t *e;

    if (json_is_null(j)) {
        return 0;
    }
    if (!json_is_array(j)) {
        return -1;
    }
    json_array_foreach(j, i, e)
    {
        json_t *h = json_object_get(e, "hostname");
        size_t mark;

        if (!json_is_object(e) || (h != NULL && !json_is_string(h))) {
            return -1;
        }
        mark = bbs_pbw_open(out, 11);
        bbs_pbw_string(out, 1, h != NULL ? json_string_value(h) : "");
        bbs_pbw_close(out, mark);
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* `{"name": "value"}` -> ActualLRP field-12 map entries sorted by key. */
static int json_metric_tags(json_t *j, struct bbs_buf *out)
{
    const char **keys;
    const char *k;
    json_t *v;
    size_t n = 0;
    int rc = -1;

    if (json_is_null(j)) {
        return 0;
    }
    if (!json_is_object(j)) {
        return -1;
    }
    keys = calloc(json_object_size(j) + 1, sizeof(*keys));
    if (keys == NULL) {
        return -1;
    }
    json_object_foreach(j, k, v)
    {
        if (!json_is_string(v)) {
            goto out;
        }
        keys[n++] = k;
    }
    qsort(keys, n, sizeof(*keys), cmp_str);
    for (size_t i = 0; i < n; i++) {
        size_t mark = bbs_pbw_open(out, 12);

        bbs_pbw_string(out, 1, keys[i]);
        bbs_pbw_string(out, 2, json_string_value(json_object_get(j, keys[i])));
        bbs_pbw_close(out, mark);
    }
    rc = 0;
out:
    free(keys);
    return rc;
}

/* An opened plaintext -> our bytes for column `kind` (into `out`). */
static int plain_of(enum bbs_sealed_col kind, const struct bbs_buf *pt, struct bbs_buf *out,
                    struct bbs_error *err)
{
    json_t *j;
    int rc = -1;

    if (pt->len >= 2 && memcmp(pt->data, OURS, 2) == 0) {
        bbs_buf_append(out, pt->data + 2, pt->len - 2);
        return 0;
    }
    if (kind != BBS_SEALED_ALRP_INTERNAL_ROUTES && kind != BBS_SEALED_ALRP_METRIC_TAGS) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "%s: plaintext is not in a known format",
                       COL_NAMES[kind]);
        return -1;
    }
    j = json_loadb((const char *)pt->data, pt->len, JSON_DECODE_ANY, NULL);
    if (j != NULL) {
        rc = kind == BBS_SEALED_ALRP_INTERNAL_ROUTES ? json_internal_routes(j, out)
                                                     : json_metric_tags(j, out);
        json_decref(j);
    }
    if (rc != 0) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "%s: plaintext JSON does not decode",
                       COL_NAMES[kind]);
    }
    return rc;
}

/* Open sealed value `v` into our bytes (`out`); `label` gets its key label. */
static int open_value(const struct bbs_crypt *c, enum bbs_sealed_col kind, const uint8_t *v,
                      size_t n, struct bbs_buf *out, char *label, struct bbs_error *err)
{
    struct bbs_buf pt = {0};
    int rc = -1;

    if (bbs_crypt_open(c, v, n, &pt, label, err) == 0 && plain_of(kind, &pt, out, err) == 0) {
        rc = 0;
    }
    bbs_buf_free(&pt);
    return rc;
}

/* Where an opened value goes, and what names its row in a report. */
struct opener {
    struct bbs_store *st;
    const char *key;                     /* the row's first column */
    void *(*alloc)(void *ctx, size_t n); /* memory as long-lived as the row */
    void *ctx;
};

/* The sealed case of bbs_get_sealed and bbs_row_sealed. Apart so that the
 * plain case, three times per row of a list, does not zero this frame's
 * error and label buffers (4 KB: 5% of a 50k-row list's server CPU in a
 * profile). */
static int open_sealed(const struct opener *o, enum bbs_sealed_col kind, struct bbs_blob b,
                       struct bbs_blob *out)
{
    struct bbs_store *st = o->st;
    struct bbs_buf json = {0};
    struct bbs_error err = {0};
    char label[BBS_CRYPT_LABEL_MAX + 1] = "";
    uint8_t *pt;
    size_t cap;
    size_t len = 0;

    /* Opened straight into memory of the row: it lives as long as the
     * borrowed bytes it replaces, and our own values need no copy. */
    cap = bbs_crypt_open_len(b.data, b.len) + 1; /* exact: rows hold many values */
    pt = o->alloc(o->ctx, cap);
    if (pt == NULL) {
        bbs_error_setf(&err, BBS_ERR_UNKNOWN, "out of memory");
        goto fail;
    }
    if (bbs_crypt_open_to(bbs_store_crypt(st), b.data, b.len, pt, &len, label, &err) != 0) {
        goto fail;
    }
    if (len >= 2 && memcmp(pt, OURS, 2) == 0) {
        out->data = pt + 2;
        out->len = len - 2;
        out->present = 1;
        return 0;
    }
    {
        struct bbs_buf opened = {pt, len, len};

        if (plain_of(kind, &opened, &json, &err) != 0) {
            goto fail;
        }
    }
    /* Upstream's JSON, now our bytes (rare: no copy saved). */
    if (json.len > cap && (pt = o->alloc(o->ctx, json.len)) == NULL) {
        bbs_error_setf(&err, BBS_ERR_UNKNOWN, "out of memory");
        goto fail;
    }
    if (json.len > 0) {
        memcpy(pt, json.data, json.len);
    }
    out->data = pt;
    out->len = json.len;
    out->present = 1;
    bbs_buf_free(&json);
    return 0;
fail:
    bbs_buf_free(&json);
    {
        uint64_t total = bbs_store_count_undecryptable(st);

        /* Reads skip the row without an error to return: this line (and
         * the counter) is how the skip is seen. */
        bbs_log(BBS_LOG_ERROR, "crypt.undecryptable-value", "{s:s, s:s, s:s, s:s, s:I}", "row",
                o->key, "column", COL_NAMES[kind], "key_label", label, "error", err.message,
                "undecryptable_total", (json_int_t)total);
    }
    return -1;
}

int bbs_get_sealed(const PGresult *r, int row, int col, enum bbs_sealed_col kind,
                   struct bbs_blob *out)
{
    struct bbs_blob b = bbs_get_blob(r, row, col);

    if (!b.present || !bbs_crypt_is_sealed(b.data, b.len)) {
        *out = b;
        return 0;
    }
    {
        struct opener o = {bbs_store_of_result(r), bbs_get_text(r, row, 0), bbs_result_alloc,
                           (void *)r};

        return open_sealed(&o, kind, b, out);
    }
}

int bbs_row_sealed(const struct bbs_row *r, int col, enum bbs_sealed_col kind, struct bbs_blob *out)
{
    struct bbs_blob b = bbs_row_blob(r, col);

    if (!b.present || !bbs_crypt_is_sealed(b.data, b.len)) {
        *out = b;
        return 0;
    }
    {
        struct opener o = {r->st, bbs_row_text(r, 0), r->alloc, r->alloc_ctx};

        return open_sealed(&o, kind, b, out);
    }
}

/* Seal `n` bytes of ours into a buffer the caller frees. */
static uint8_t *seal_ours(const struct bbs_crypt *c, const uint8_t *p, size_t n, size_t *len,
                          struct bbs_error *err)
{
    struct bbs_buf pt = {0};
    struct bbs_buf sealed = {0};
    uint8_t *res = NULL;

    bbs_buf_append(&pt, OURS, 2);
    bbs_buf_append(&pt, p, n);
    if (bbs_crypt_seal(c, pt.data, pt.len, &sealed, err) == 0) {
        res = bbs_buf_take(&sealed, len);
    }
    bbs_buf_free(&pt);
    bbs_buf_free(&sealed);
    return res;
}

int bbs_params_sealed(struct bbs_params *p, PGconn *conn, const struct bbs_blob *b,
                      struct bbs_error *err)
{
    const struct bbs_crypt *c = bbs_store_crypt(bbs_store_of_conn(conn));
    uint8_t *sealed;
    size_t len = 0;

    if (!b->present) {
        return bbs_params_null(p) > 0 ? 0 : -1;
    }
    if (!bbs_crypt_enabled(c) || b->len == 0) {
        return bbs_params_bytes(p, b->data, b->len) > 0 ? 0 : -1;
    }
    sealed = seal_ours(c, b->data, b->len, &len, err);
    if (sealed == NULL) {
        return -1;
    }
    p->owned[p->n_owned++] = sealed;
    return bbs_params_bytes(p, sealed, len) > 0 ? 0 : -1;
}

void bbs_params_release(struct bbs_params *p)
{
    for (int i = 0; i < p->n_owned; i++) {
        free(p->owned[i]);
        p->owned[i] = NULL;
    }
    p->n_owned = 0;
}

/* ---- start-up check ---- */

static const char CHECK_PLAINTEXT[] = "bbs encryption key check";

struct check_ctx {
    const struct bbs_crypt *c;
};

static int check_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct check_ctx *cx = arg;
    struct bbs_params p = {0};
    PGresult *res;
    int rc = -1;

    /* No rows that could be sealed: no key is needed for anything, and
     * the labels recorded are stale (the tables were emptied, as
     * upstream's test suite does between specs with TRUNCATE). */
    res = bbs_exec_sql(conn,
                       "SELECT EXISTS (SELECT 1 FROM actual_lrps) OR EXISTS (SELECT 1 FROM"
                       " desired_lrps) OR EXISTS (SELECT 1 FROM tasks)",
                       &p, err);
    if (res == NULL) {
        return -1;
    }
    if (!bbs_get_bool(res, 0, 0)) {
        PQclear(res);
        res = bbs_exec_sql(conn, "DELETE FROM encryption_keys_in_use", &p, err);
        if (res == NULL) {
            return -1;
        }
        PQclear(res);
        res = bbs_exec_sql(conn, "DELETE FROM configurations WHERE id = 'encryption_key_label'", &p,
                           err);
        if (res == NULL) {
            return -1;
        }
    }
    PQclear(res);
    res = bbs_exec_sql(conn, "SELECT label, check_value FROM encryption_keys_in_use ORDER BY label",
                       &p, err);
    if (res == NULL) {
        return -1;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        const char *label = bbs_get_text(res, i, 0);
        struct bbs_blob v = bbs_get_blob(res, i, 1);
        struct bbs_buf pt = {0};
        struct bbs_error e = {0};
        int ok;

        if (!bbs_crypt_has_label(cx->c, label, strlen(label))) {
            bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                           "encryption: the database holds values sealed with key label \"%s\", "
                           "which encryption_keys does not list",
                           label);
            goto out;
        }
        ok = bbs_crypt_open(cx->c, v.data, v.len, &pt, NULL, &e) == 0 &&
             pt.len == sizeof(CHECK_PLAINTEXT) - 1 && memcmp(pt.data, CHECK_PLAINTEXT, pt.len) == 0;
        bbs_buf_free(&pt);
        if (!ok) {
            bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                           "encryption: the passphrase configured for key label \"%s\" is not "
                           "the one the database's values were sealed with",
                           label);
            goto out;
        }
    }
    PQclear(res);
    /* Upstream's own record of the active label (a database it shared). */
    res = bbs_exec_sql(conn, "SELECT value FROM configurations WHERE id = 'encryption_key_label'",
                       &p, err);
    if (res == NULL) {
        return -1;
    }
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
        const char *label = bbs_get_text(res, 0, 0);

        if (label[0] != '\0' && !bbs_crypt_has_label(cx->c, label, strlen(label))) {
            bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                           "encryption: the database's key label \"%s\" is not among "
                           "encryption_keys",
                           label);
            goto out;
        }
    }
    if (bbs_crypt_enabled(cx->c)) {
        struct bbs_buf sealed = {0};
        struct bbs_params q = {0};

        if (bbs_crypt_seal(cx->c, (const uint8_t *)CHECK_PLAINTEXT, sizeof(CHECK_PLAINTEXT) - 1,
                           &sealed, err) != 0) {
            goto out;
        }
        bbs_params_text(&q, bbs_crypt_active_label(cx->c));
        bbs_params_bytes(&q, sealed.data, sealed.len);
        PQclear(res);
        res = bbs_exec_sql(conn,
                           "INSERT INTO encryption_keys_in_use (label, check_value)"
                           " VALUES ($1::text, $2::bytea) ON CONFLICT DO NOTHING",
                           &q, err);
        bbs_buf_free(&sealed);
        if (res == NULL) {
            return -1;
        }
    }
    rc = 0;
out:
    PQclear(res);
    return rc;
}

int bbs_store_crypt_check(struct bbs_store *st, struct bbs_error *err)
{
    struct check_ctx cx = {bbs_store_crypt(st)};

    return bbs_store_tx(st, check_tx, &cx, err);
}

/* ---- re-keying ---- */

struct sealed_table {
    const char *name;
    int n_keys;        /* key columns, read as text */
    const char *first; /* the cursor before the first row, one text per key */
    const char *select;
    const char *update; /* keys $1.., then the columns */
    int n_cols;
    enum bbs_sealed_col cols[4];
};

/*
 * The tables with sealed columns (reference 6.3). The batch query walks
 * the primary key; its FOR UPDATE keeps writers off the batch's rows for
 * the length of one short transaction.
 */
static const struct sealed_table TABLES[] = {
    {"actual_lrps",
     3,
     "\0-2147483648\0-2147483648",
     "SELECT process_guid, instance_index::text, presence::text, net_info, internal_routes,"
     " metric_tags FROM actual_lrps"
     " WHERE (process_guid, instance_index, presence) > ($1::text, $2::text::int4, $3::text::int4)"
     " ORDER BY process_guid, instance_index, presence LIMIT $4::int4 FOR UPDATE",
     "UPDATE actual_lrps SET net_info = $4::bytea, internal_routes = $5::bytea,"
     " metric_tags = $6::bytea WHERE process_guid = $1::text AND instance_index = $2::text::int4"
     " AND presence = $3::text::int4",
     3,
     {BBS_SEALED_NET_INFO, BBS_SEALED_ALRP_INTERNAL_ROUTES, BBS_SEALED_ALRP_METRIC_TAGS}},
    {"desired_lrps",
     1,
     "",
     "SELECT process_guid, routes, volume_placement, metric_tags, run_info FROM desired_lrps"
     " WHERE process_guid > $1::text ORDER BY process_guid LIMIT $2::int4 FOR UPDATE",
     "UPDATE desired_lrps SET routes = $2::bytea, volume_placement = $3::bytea,"
     " metric_tags = $4::bytea, run_info = $5::bytea WHERE process_guid = $1::text",
     4,
     {BBS_SEALED_DLRP_ROUTES, BBS_SEALED_DLRP_VOLUME_PLACEMENT, BBS_SEALED_DLRP_METRIC_TAGS,
      BBS_SEALED_DLRP_RUN_INFO}},
    /* Needs the task store to read task_definition through bbs_get_sealed. */
    {"tasks",
     1,
     "",
     "SELECT guid, task_definition FROM tasks WHERE guid > $1::text ORDER BY guid"
     " LIMIT $2::int4 FOR UPDATE",
     "UPDATE tasks SET task_definition = $2::bytea WHERE guid = $1::text",
     1,
     {BBS_SEALED_TASK_DEFINITION}},
};

struct rekey_ctx {
    const atomic_int *stop; /* may be NULL */
    const struct sealed_table *t;
    const struct bbs_crypt *c;
    int batch;
    char *cursor[3]; /* the last row done (committed) */
    char *next[3];   /* the last row of the batch in flight */
    int rows;        /* rows in this batch */
    uint64_t rewritten;
    uint64_t undecryptable;
    uint64_t base_rewritten; /* the counts before the batch in flight */
    uint64_t base_undecryptable;
};

/* Does stored value `b` need sealing again under the active key? */
static int needs_rekey(const struct bbs_crypt *c, const struct bbs_blob *b)
{
    struct bbs_buf scratch = {0};
    struct bbs_crypt_envelope env;
    struct bbs_error e = {0};
    const char *active = bbs_crypt_active_label(c);
    int res = 1;

    if (!b->present || b->len == 0) {
        return 0;
    }
    if (!bbs_crypt_is_sealed(b->data, b->len)) {
        return 1;
    }
    if (bbs_crypt_parse(b->data, b->len, &scratch, &env, &e) == 0 &&
        env.label_len == strlen(active) && memcmp(env.label, active, env.label_len) == 0) {
        res = 0;
    }
    bbs_buf_free(&scratch);
    return res;
}

static char *row_key(const PGresult *res, int row, int n_keys)
{
    struct bbs_buf b = {0};
    size_t len;

    for (int k = 0; k < n_keys; k++) {
        bbs_buf_printf(&b, "%s%s", k > 0 ? "/" : "", bbs_get_text(res, row, k));
    }
    bbs_buf_putc(&b, '\0');
    return (char *)bbs_buf_take(&b, &len);
}

static int list_undecryptable(PGconn *conn, const struct rekey_ctx *cx, const char *key,
                              enum bbs_sealed_col kind, const char *label, const char *why,
                              struct bbs_error *err)
{
    struct bbs_params p = {0};
    struct timespec now;
    PGresult *res;

    clock_gettime(CLOCK_REALTIME, &now);
    bbs_params_text(&p, cx->t->name);
    bbs_params_text(&p, key);
    bbs_params_text(&p, COL_NAMES[kind]);
    bbs_params_text(&p, label);
    bbs_params_text(&p, why);
    bbs_params_int8(&p, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
    res =
        bbs_exec_sql(conn,
                     "INSERT INTO encryption_undecryptable"
                     " (table_name, row_key, column_name, label, error, seen_at)"
                     " VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::int8)"
                     " ON CONFLICT (table_name, row_key, column_name) DO UPDATE SET"
                     " label = EXCLUDED.label, error = EXCLUDED.error, seen_at = EXCLUDED.seen_at",
                     &p, err);
    PQclear(res);
    return res == NULL ? -1 : 0;
}

/* Re-seal row `i` of `res` if any of its columns needs it. */
static int rekey_row(PGconn *conn, struct rekey_ctx *cx, const PGresult *res, int i,
                     struct bbs_error *err)
{
    const struct sealed_table *t = cx->t;
    struct bbs_params p = {0};
    char *key = NULL;
    int any = 0;
    int rc = -1;
    PGresult *up;

    for (int c = 0; c < t->n_cols; c++) {
        struct bbs_blob b = bbs_get_blob(res, i, t->n_keys + c);

        any |= needs_rekey(cx->c, &b);
    }
    if (!any) {
        return 0;
    }
    key = row_key(res, i, t->n_keys);
    for (int k = 0; k < t->n_keys; k++) {
        bbs_params_text(&p, bbs_get_text(res, i, k));
    }
    for (int c = 0; c < t->n_cols; c++) {
        struct bbs_blob b = bbs_get_blob(res, i, t->n_keys + c);
        struct bbs_buf plain = {0};
        struct bbs_error e = {0};
        char label[BBS_CRYPT_LABEL_MAX + 1] = "";
        uint8_t *sealed;
        size_t len = 0;

        if (!needs_rekey(cx->c, &b)) {
            if (bbs_params_blob(&p, &b) <= 0) {
                goto out;
            }
            continue;
        }
        if (bbs_crypt_is_sealed(b.data, b.len) &&
            open_value(cx->c, t->cols[c], b.data, b.len, &plain, label, &e) != 0) {
            /* Kept as it is, listed and logged; never deleted. */
            bbs_log(BBS_LOG_ERROR, "crypt.rekey-undecryptable-row", "{s:s, s:s, s:s, s:s, s:s}",
                    "table", t->name, "row", key, "column", COL_NAMES[t->cols[c]], "key_label",
                    label, "error", e.message);
            cx->undecryptable++;
            bbs_buf_free(&plain);
            rc = list_undecryptable(conn, cx, key, t->cols[c], label, e.message, err);
            goto out;
        }
        if (!bbs_crypt_is_sealed(b.data, b.len)) {
            bbs_buf_append(&plain, b.data, b.len);
        }
        sealed = seal_ours(cx->c, plain.data, plain.len, &len, err);
        bbs_buf_free(&plain);
        if (sealed == NULL) {
            goto out;
        }
        p.owned[p.n_owned++] = sealed;
        bbs_params_bytes(&p, sealed, len);
    }
    up = bbs_exec_sql(conn, t->update, &p, err);
    if (up == NULL) {
        goto out;
    }
    PQclear(up);
    cx->rewritten++;
    rc = 0;
out:
    bbs_params_release(&p);
    free(key);
    return rc;
}

static int rekey_batch_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct rekey_ctx *cx = arg;
    const struct sealed_table *t = cx->t;
    struct bbs_params p = {0};
    PGresult *res;
    int rc = -1;
    int n;

    /* A retried batch starts again from the same cursor and counts. */
    cx->rows = 0;
    cx->rewritten = cx->base_rewritten;
    cx->undecryptable = cx->base_undecryptable;
    for (int k = 0; k < t->n_keys; k++) {
        bbs_params_text(&p, cx->cursor[k]);
    }
    bbs_params_int4(&p, cx->batch);
    res = bbs_exec_sql(conn, t->select, &p, err);
    if (res == NULL) {
        return -1;
    }
    n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        if (rekey_row(conn, cx, res, i, err) != 0) {
            goto out;
        }
    }
    if (n > 0) {
        for (int k = 0; k < t->n_keys; k++) {
            free(cx->next[k]);
            cx->next[k] = strdup(bbs_get_text(res, n - 1, k));
            if (cx->next[k] == NULL) {
                goto out;
            }
        }
    }
    cx->rows = n;
    rc = 0;
out:
    PQclear(res);
    return rc;
}

static int rekey_table(struct bbs_store *st, struct rekey_ctx *cx, struct bbs_error *err)
{
    const char *first = cx->t->first;
    int rc = -1;

    for (int k = 0; k < cx->t->n_keys; k++) {
        cx->cursor[k] = strdup(first);
        if (cx->cursor[k] == NULL) {
            goto out;
        }
        first += strlen(first) + 1;
    }
    do {
        cx->base_rewritten = cx->rewritten;
        cx->base_undecryptable = cx->undecryptable;
        if (bbs_store_tx(st, rekey_batch_tx, cx, err) != 0) {
            goto out;
        }
        for (int k = 0; k < cx->t->n_keys && cx->rows > 0; k++) {
            free(cx->cursor[k]);
            cx->cursor[k] = cx->next[k];
            cx->next[k] = NULL;
        }
        if (cx->rows > 0) {
            bbs_log(BBS_LOG_INFO, "crypt.rekey-progress", "{s:s, s:s, s:I}", "table", cx->t->name,
                    "after", cx->cursor[0], "rewritten", (json_int_t)cx->rewritten);
        }
    } while (cx->rows == cx->batch && !(cx->stop != NULL && atomic_load(cx->stop)));
    rc = 0;
out:
    for (int k = 0; k < 3; k++) {
        free(cx->cursor[k]);
        free(cx->next[k]);
        cx->cursor[k] = NULL;
        cx->next[k] = NULL;
    }
    return rc;
}

static int forget_labels_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    const struct rekey_ctx *cx = arg;
    struct bbs_params p = {0};
    PGresult *res;

    bbs_params_text(&p, bbs_crypt_active_label(cx->c));
    /* Rows that did not open keep their label (and its key) in use. */
    res = bbs_exec_sql(conn,
                       "DELETE FROM encryption_keys_in_use WHERE label <> $1::text"
                       " AND label NOT IN (SELECT label FROM encryption_undecryptable)",
                       &p, err);
    if (res == NULL) {
        return -1;
    }
    PQclear(res);
    res = bbs_exec_sql(conn,
                       "INSERT INTO configurations (id, value) VALUES ('encryption_key_label',"
                       " $1::text) ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value",
                       &p, err);
    if (res == NULL) {
        return -1;
    }
    PQclear(res);
    return 0;
}

static int rekey(struct bbs_store *st, int batch, const atomic_int *stop, uint64_t *rewritten,
                 struct bbs_error *err)
{
    struct rekey_ctx cx = {0};
    struct bbs_params none = {0};
    PGconn *conn;

    cx.stop = stop;
    cx.c = bbs_store_crypt(st);
    cx.batch = batch > 0 ? batch : 500;
    if (!bbs_crypt_enabled(cx.c)) {
        return 0;
    }
    /* A pass clears the list it fills again: a row that opens now is off it. */
    conn = bbs_store_conn_open(st, err);
    if (conn == NULL) {
        return -1;
    }
    PQclear(bbs_exec_sql(conn, "DELETE FROM encryption_undecryptable", &none, err));
    PQfinish(conn);
    bbs_log(BBS_LOG_INFO, "crypt.rekey-started", "{s:s}", "active_key_label",
            bbs_crypt_active_label(cx.c));
    for (size_t i = 0; i < sizeof(TABLES) / sizeof(TABLES[0]); i++) {
        cx.t = &TABLES[i];
        if (rekey_table(st, &cx, err) != 0) {
            return -1;
        }
        if (stop != NULL && atomic_load(stop)) {
            bbs_log(BBS_LOG_INFO, "crypt.rekey-interrupted", "{s:I}", "rewritten",
                    (json_int_t)cx.rewritten);
            return 0; /* the next start resumes (rows done are skipped) */
        }
    }
    if (bbs_store_tx(st, forget_labels_tx, &cx, err) != 0) {
        return -1;
    }
    bbs_log(BBS_LOG_INFO, "crypt.rekey-finished", "{s:s, s:I, s:I}", "active_key_label",
            bbs_crypt_active_label(cx.c), "rewritten", (json_int_t)cx.rewritten, "undecryptable",
            (json_int_t)cx.undecryptable);
    if (rewritten != NULL) {
        *rewritten = cx.rewritten;
    }
    return 0;
}

int bbs_store_rekey(struct bbs_store *st, int batch, uint64_t *rewritten, struct bbs_error *err)
{
    return rekey(st, batch, NULL, rewritten, err);
}

struct bbs_rekey {
    struct bbs_store *st;
    int batch;
    atomic_int stop;
    pthread_t thread;
    atomic_int_fast64_t duration_ns; /* -1 until the pass finished */
};

static int64_t rekey_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *rekey_thread(void *arg)
{
    struct bbs_rekey *rk = arg;
    struct bbs_error err = {0};
    int64_t t0 = rekey_mono_ns();

    if (rekey(rk->st, rk->batch, &rk->stop, NULL, &err) != 0) {
        /* Rows stay readable with every configured key; the next start retries. */
        bbs_log(BBS_LOG_ERROR, "crypt.rekey-failed", "{s:s}", "error", err.message);
    } else if (!atomic_load(&rk->stop)) {
        int64_t d = rekey_mono_ns() - t0;

        atomic_store(&rk->duration_ns, d > 0 ? d : 1);
    }
    return NULL;
}

int64_t bbs_store_rekey_duration_ns(const struct bbs_rekey *rk)
{
    return rk != NULL ? atomic_load(&rk->duration_ns) : -1;
}

struct bbs_rekey *bbs_store_rekey_start(struct bbs_store *st, int batch)
{
    struct bbs_rekey *rk;

    if (!bbs_crypt_enabled(bbs_store_crypt(st))) {
        return NULL;
    }
    rk = calloc(1, sizeof(*rk));
    if (rk == NULL) {
        return NULL;
    }
    rk->st = st;
    rk->batch = batch;
    atomic_init(&rk->stop, 0);
    atomic_init(&rk->duration_ns, -1);
    if (pthread_create(&rk->thread, NULL, rekey_thread, rk) != 0) {
        bbs_log(BBS_LOG_ERROR, "crypt.rekey-failed", "{s:s}", "error", "no thread");
        free(rk);
        return NULL;
    }
    return rk;
}

void bbs_store_rekey_stop(struct bbs_rekey *rk)
{
    if (rk == NULL) {
        return;
    }
    atomic_store(&rk->stop, 1);
    pthread_join(rk->thread, NULL);
    free(rk);
}
