/*
 * xfer_format.c - our tables as column lists, rows to and from JSON, the
 * export format reader, upstream's blob encodings, and the small helpers
 * the transfer commands share (progress lines, key flags). No database
 * access here: the fuzz target (tests/fuzz/fuzz_export.c) drives the
 * reader with this file alone.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actual_lrp.pb-c.h"
#include "bbs/pbjson.h"
#include "bbs/pbw.h"
#include "desired_lrp.pb-c.h"
#include "task.pb-c.h"
#include "volume_mount.pb-c.h"
#include "xfer.h"

/* ---- the schema (migrations 0001..0005) ---- */

static const struct xfer_col DOMAIN_COLS[] = {
    {"domain", XFER_TEXT, 0, 0, XFER_B_NONE},
    {"expire_time", XFER_INT, 0, 0, XFER_B_NONE},
};

static const struct xfer_col DESIRED_COLS[] = {
    {"process_guid", XFER_TEXT, 0, 0, XFER_B_NONE},
    {"domain", XFER_TEXT, 0, 0, XFER_B_NONE},
    {"log_guid", XFER_TEXT, 0, 0, XFER_B_NONE},
    {"annotation", XFER_TEXT, 0, 0, XFER_B_NONE},
    {"instances", XFER_INT, 0, 0, XFER_B_NONE},
    {"memory_mb", XFER_INT, 0, 0, XFER_B_NONE},
    {"disk_mb", XFER_INT, 0, 0, XFER_B_NONE},
    {"max_pids", XFER_INT, 0, 0, XFER_B_NONE},
    {"rootfs", XFER_TEXT, 0, 0, XFER_B_NONE},
    {"routes", XFER_BLOB, 0, 1, XFER_B_DLRP_ROUTES},
    {"volume_placement", XFER_BLOB, 0, 1, XFER_B_DLRP_VOLUME},
    {"placement_tags", XFER_BLOB, 0, 0, XFER_B_DLRP_PLACEMENT},
    {"metric_tags", XFER_BLOB, 0, 1, XFER_B_DLRP_TAGS},
    {"metrics_guid", XFER_TEXT, 0, 0, XFER_B_NONE},
    {"update_strategy", XFER_INT, 0, 0, XFER_B_NONE},
    {"modification_tag_epoch", XFER_TEXT, 0, 0, XFER_B_NONE},
    {"modification_tag_index", XFER_INT, 0, 0, XFER_B_NONE},
    {"run_info", XFER_BLOB, 0, 1, XFER_B_DLRP_RUN_INFO},
    {"created_at", XFER_INT, 0, 0, XFER_B_NONE},
};

static const struct xfer_col ACTUAL_COLS[] = {
    {"process_guid", XFER_TEXT, 0, 0, XFER_B_NONE},
    {"instance_index", XFER_INT, 0, 0, XFER_B_NONE},
    {"presence", XFER_INT, 0, 0, XFER_B_NONE},
    {"domain", XFER_TEXT, 0, 0, XFER_B_NONE},
    {"state", XFER_TEXT, 0, 0, XFER_B_NONE},
    {"instance_guid", XFER_TEXT, 0, 0, XFER_B_NONE},
    {"cell_id", XFER_TEXT, 0, 0, XFER_B_NONE},
    {"placement_error", XFER_TEXT, 0, 0, XFER_B_NONE},
    {"since", XFER_INT, 0, 0, XFER_B_NONE},
    {"net_info", XFER_BLOB, 0, 1, XFER_B_NET_INFO},
    {"modification_tag_epoch", XFER_TEXT, 0, 0, XFER_B_NONE},
    {"modification_tag_index", XFER_INT, 0, 0, XFER_B_NONE},
    {"crash_count", XFER_INT, 0, 0, XFER_B_NONE},
    {"crash_reason", XFER_TEXT, 0, 0, XFER_B_NONE},
    {"internal_routes", XFER_BLOB, 1, 1, XFER_B_ALRP_ROUTES},
    {"metric_tags", XFER_BLOB, 1, 1, XFER_B_ALRP_TAGS},
    {"routable", XFER_BOOL, 0, 0, XFER_B_NONE},
    {"availability_zone", XFER_TEXT, 0, 0, XFER_B_NONE},
};

static const struct xfer_col TASK_COLS[] = {
    {"guid", XFER_TEXT, 0, 0, XFER_B_NONE},
    {"domain", XFER_TEXT, 0, 0, XFER_B_NONE},
    {"updated_at", XFER_INT, 1, 0, XFER_B_NONE},
    {"created_at", XFER_INT, 1, 0, XFER_B_NONE},
    {"first_completed_at", XFER_INT, 1, 0, XFER_B_NONE},
    {"state", XFER_INT, 1, 0, XFER_B_NONE},
    {"cell_id", XFER_TEXT, 0, 0, XFER_B_NONE},
    {"result", XFER_TEXT, 1, 0, XFER_B_NONE},
    {"failed", XFER_BOOL, 1, 0, XFER_B_NONE},
    {"failure_reason", XFER_TEXT, 0, 0, XFER_B_NONE},
    {"task_definition", XFER_BLOB, 0, 1, XFER_B_TASK_DEFINITION},
    {"rejection_count", XFER_INT, 0, 0, XFER_B_NONE},
    {"rejection_reason", XFER_TEXT, 0, 0, XFER_B_NONE},
};

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

const struct xfer_table xfer_tables[XFER_NTABLES] = {
    [XFER_DOMAINS] = {"domains", "domain", DOMAIN_COLS, NCOLS(DOMAIN_COLS)},
    [XFER_DESIRED] = {"desired_lrps", "process_guid", DESIRED_COLS, NCOLS(DESIRED_COLS)},
    [XFER_ACTUAL] = {"actual_lrps", "process_guid, instance_index, presence", ACTUAL_COLS,
                     NCOLS(ACTUAL_COLS)},
    [XFER_TASKS] = {"tasks", "guid", TASK_COLS, NCOLS(TASK_COLS)},
};

static int table_index(const char *name)
{
    for (int i = 0; i < XFER_NTABLES; i++) {
        if (strcmp(xfer_tables[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

int xfer_col_index(int table, const char *name)
{
    const struct xfer_table *t = &xfer_tables[table];

    for (size_t i = 0; i < t->ncols; i++) {
        if (strcmp(t->cols[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* ---- rows ---- */

void xfer_row_reset(struct xfer_row *r, int table)
{
    r->table = table;
    for (size_t i = 0; i < XFER_MAX_COLS; i++) {
        r->v[i].null = 1;
        r->v[i].b.len = 0;
    }
}

void xfer_row_free(struct xfer_row *r)
{
    for (size_t i = 0; i < XFER_MAX_COLS; i++) {
        bbs_buf_free(&r->v[i].b);
    }
}

void xfer_val_set(struct xfer_val *v, const void *p, size_t n)
{
    v->null = 0;
    v->b.len = 0;
    bbs_buf_reserve(&v->b, n + 1);
    if (n > 0) {
        memcpy(v->b.data, p, n);
    }
    v->b.len = n;
    v->b.data[n] = '\0';
}

void xfer_val_setstr(struct xfer_val *v, const char *s)
{
    xfer_val_set(v, s, strlen(s));
}

void xfer_val_setint(struct xfer_val *v, int64_t n)
{
    char tmp[32];

    snprintf(tmp, sizeof(tmp), "%lld", (long long)n);
    xfer_val_setstr(v, tmp);
}

/* The message a blob column holds whole (NULL: a part of one, kept as base64). */
static const ProtobufCMessageDescriptor *blob_message(enum xfer_blob_kind kind)
{
    switch (kind) {
    case XFER_B_NET_INFO:
        return &models__actual_lrpnet_info__descriptor;
    case XFER_B_DLRP_ROUTES:
        return &models__proto_routes__descriptor;
    case XFER_B_DLRP_VOLUME:
        return &models__volume_placement__descriptor;
    case XFER_B_DLRP_RUN_INFO:
        return &models__desired_lrp__descriptor;
    case XFER_B_TASK_DEFINITION:
        return &models__task_definition__descriptor;
    default:
        return NULL;
    }
}

/* JSON text -> our bytes through pbjson; 0 or -1 with `err`. */
static int object_to_pb(const ProtobufCMessageDescriptor *d, json_t *j, struct bbs_buf *out,
                        struct bbs_error *err)
{
    char *text = json_dumps(j, JSON_COMPACT);
    struct bbs_buf raw = {0};
    int rc;

    if (text == NULL) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON, "not a JSON object");
        return -1;
    }
    rc = bbs_pbjson_to_pb(d, text, strlen(text), &raw, err);
    free(text);
    /* pbjson writes the zero values the JSON spells out; protobuf-c's
     * packing (what our writers produce) leaves them out. */
    if (rc == 0) {
        ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, raw.len, raw.data);

        if (m == NULL) {
            bbs_error_setf(err, BBS_ERR_INVALID_JSON, "does not make a %s", d->name);
            rc = -1;
        } else {
            size_t n = protobuf_c_message_get_packed_size(m);

            if (n > 0) { /* an empty message packs to nothing: out may have no buffer yet */
                bbs_buf_reserve(out, n);
                out->len += protobuf_c_message_pack(m, out->data + out->len);
            }
            protobuf_c_message_free_unpacked(m, NULL);
        }
    }
    bbs_buf_free(&raw);
    return rc;
}

json_t *xfer_blob_to_json(const struct xfer_col *c, const uint8_t *p, size_t n)
{
    const ProtobufCMessageDescriptor *d = blob_message(c->blob);
    struct bbs_buf b = {0}, again = {0};
    struct bbs_error err = {0};
    json_t *j = NULL;

    /* The object as upstream's models print it (pbjson), only when it packs
     * back to exactly these bytes: an import must reproduce the row, and
     * bytes that are not protobuf-c's canonical packing stay base64. */
    if (d != NULL && n > 0 && bbs_pbjson_from_pb(d, p, n, &b, &err) == 0) {
        j = json_loadb((const char *)b.data, b.len, 0, NULL);
        if (j != NULL && (object_to_pb(d, j, &again, &err) != 0 || again.len != n ||
                          memcmp(again.data, p, n) != 0)) {
            json_decref(j);
            j = NULL;
        }
    }
    if (j == NULL) {
        b.len = 0;
        bbs_crypt_b64_encode(&b, p, n);
        j = json_stringn(b.len > 0 ? (const char *)b.data : "", b.len);
    }
    bbs_buf_free(&b);
    bbs_buf_free(&again);
    return j;
}

int xfer_blob_from_json(const struct xfer_col *c, json_t *j, struct xfer_val *out,
                        struct bbs_error *err)
{
    const ProtobufCMessageDescriptor *d = blob_message(c->blob);
    struct bbs_buf b = {0};
    int rc = -1;

    if (json_is_object(j) && d != NULL) {
        if (object_to_pb(d, j, &b, err) != 0) {
            char msg[BBS_ERROR_MESSAGE_MAX / 2];

            snprintf(msg, sizeof(msg), "%.2000s", err->message);
            bbs_error_setf(err, BBS_ERR_INVALID_JSON, "%s: %s", c->name, msg);
            goto out;
        }
    } else if (!json_is_string(j)) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON, "%s: expected %s", c->name,
                       d != NULL ? "a JSON object or a base64 string" : "a base64 string");
        goto out;
    } else if (bbs_crypt_b64_decode(&b, (const uint8_t *)json_string_value(j),
                                    json_string_length(j)) != 0) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON, "%s: not standard base64", c->name);
        goto out;
    }
    xfer_val_set(out, b.data, b.len);
    rc = 0;
out:
    bbs_buf_free(&b);
    return rc;
}

json_t *xfer_row_to_json(const struct xfer_row *r)
{
    const struct xfer_table *t = &xfer_tables[r->table];
    json_t *o = json_object();

    for (size_t i = 0; i < t->ncols; i++) {
        const struct xfer_col *c = &t->cols[i];
        const struct xfer_val *v = &r->v[i];
        const char *s = v->b.len > 0 ? (const char *)v->b.data : "";
        json_t *j = NULL;

        if (v->null) {
            j = json_null();
        } else if (c->type == XFER_TEXT) {
            j = json_stringn(s, v->b.len);
        } else if (c->type == XFER_INT) {
            j = json_integer(strtoll(s, NULL, 10));
        } else if (c->type == XFER_BOOL) {
            j = json_boolean(s[0] == 't');
        } else {
            j = xfer_blob_to_json(c, v->b.data, v->b.len);
        }
        if (j == NULL) { /* text that is not UTF-8: PostgreSQL's UTF8 databases never hold it */
            j = json_null();
        }
        json_object_set_new(o, c->name, j);
    }
    return o;
}

int xfer_row_from_json(struct xfer_row *r, int table, json_t *j, struct bbs_error *err)
{
    const struct xfer_table *t = &xfer_tables[table];
    const char *key;
    json_t *val;

    xfer_row_reset(r, table);
    if (!json_is_object(j)) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON, "%s: a row must be a JSON object", t->name);
        return -1;
    }
    json_object_foreach(j, key, val)
    {
        if (xfer_col_index(table, key) < 0) {
            bbs_error_setf(err, BBS_ERR_INVALID_JSON, "%s: unknown column \"%s\"", t->name, key);
            return -1;
        }
    }
    for (size_t i = 0; i < t->ncols; i++) {
        const struct xfer_col *c = &t->cols[i];
        struct xfer_val *v = &r->v[i];
        json_t *x = json_object_get(j, c->name);

        if (x == NULL) {
            bbs_error_setf(err, BBS_ERR_INVALID_JSON, "%s: column \"%s\" missing", t->name,
                           c->name);
            return -1;
        }
        if (json_is_null(x)) {
            if (!c->nullable) {
                bbs_error_setf(err, BBS_ERR_INVALID_JSON, "%s: column \"%s\" may not be null",
                               t->name, c->name);
                return -1;
            }
            continue;
        }
        if (c->type == XFER_TEXT && json_is_string(x)) {
            xfer_val_set(v, json_string_value(x), json_string_length(x));
        } else if (c->type == XFER_INT && json_is_integer(x)) {
            xfer_val_setint(v, json_integer_value(x));
        } else if (c->type == XFER_BOOL && json_is_boolean(x)) {
            xfer_val_setstr(v, json_is_true(x) ? "t" : "f");
        } else if (c->type == XFER_BLOB) {
            if (xfer_blob_from_json(c, x, v, err) != 0) {
                char col[BBS_ERROR_MESSAGE_MAX / 2];

                snprintf(col, sizeof(col), "%.2000s", err->message);
                bbs_error_setf(err, BBS_ERR_INVALID_JSON, "%s: %s", t->name, col);
                return -1;
            }
        } else {
            static const char *const NAMES[] = {"a string", "an integer", "a boolean", "a blob"};

            bbs_error_setf(err, BBS_ERR_INVALID_JSON, "%s: column \"%s\" must be %s", t->name,
                           c->name, NAMES[c->type]);
            return -1;
        }
    }
    return 0;
}

/* ---- the reader ---- */

struct reader {
    xfer_row_fn fn;
    void *ctx;
    uint64_t *counts;
    struct xfer_row row;
};

static int read_row(struct reader *rd, int table, json_t *j, struct bbs_error *err)
{
    if (xfer_row_from_json(&rd->row, table, j, err) != 0) {
        return -1;
    }
    rd->counts[table]++;
    return rd->fn(rd->ctx, &rd->row, err);
}

/* The "end" member: counts equal to what was read. */
static int check_end(const struct reader *rd, json_t *end, struct bbs_error *err)
{
    if (!json_is_object(end) || json_object_size(end) != XFER_NTABLES) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON,
                       "\"end\" must be an object with the row count of each table");
        return -1;
    }
    for (int i = 0; i < XFER_NTABLES; i++) {
        json_t *n = json_object_get(end, xfer_tables[i].name);

        if (!json_is_integer(n) || json_integer_value(n) < 0 ||
            (uint64_t)json_integer_value(n) != rd->counts[i]) {
            bbs_error_setf(err, BBS_ERR_INVALID_JSON,
                           "\"end\" says %s has %lld rows, %llu were read (a cut export?)",
                           xfer_tables[i].name, n != NULL ? (long long)json_integer_value(n) : -1LL,
                           (unsigned long long)rd->counts[i]);
            return -1;
        }
    }
    return 0;
}

static int check_header(json_t *j, struct bbs_error *err)
{
    json_t *v = json_object_get(j, "bbs_export");

    if (!json_is_integer(v)) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON, "not a bbsctl export (no \"bbs_export\")");
        return -1;
    }
    if (json_integer_value(v) != XFER_FORMAT_VERSION) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON, "export format %lld, this bbsctl reads %d",
                       (long long)json_integer_value(v), XFER_FORMAT_VERSION);
        return -1;
    }
    return 0;
}

static int read_document(struct reader *rd, json_t *doc, struct bbs_error *err)
{
    json_t *tables = json_object_get(doc, "tables");
    const char *key;
    json_t *val;

    if (check_header(doc, err) != 0) {
        return -1;
    }
    json_object_foreach(doc, key, val)
    {
        if (strcmp(key, "bbs_export") != 0 && strcmp(key, "tables") != 0 &&
            strcmp(key, "end") != 0) {
            bbs_error_setf(err, BBS_ERR_INVALID_JSON, "unknown member \"%s\"", key);
            return -1;
        }
    }
    if (!json_is_object(tables)) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON, "\"tables\" must be an object");
        return -1;
    }
    json_object_foreach(tables, key, val)
    {
        if (table_index(key) < 0) {
            bbs_error_setf(err, BBS_ERR_INVALID_JSON, "unknown table \"%s\"", key);
            return -1;
        }
    }
    /* In table order, so a loader meets domains before the rest. */
    for (int t = 0; t < XFER_NTABLES; t++) {
        json_t *rows = json_object_get(tables, xfer_tables[t].name);
        size_t i;
        json_t *row;

        if (rows == NULL) {
            continue;
        }
        if (!json_is_array(rows)) {
            bbs_error_setf(err, BBS_ERR_INVALID_JSON, "\"%s\" must be an array",
                           xfer_tables[t].name);
            return -1;
        }
        json_array_foreach(rows, i, row)
        {
            if (read_row(rd, t, row, err) != 0) {
                return -1;
            }
        }
    }
    return check_end(rd, json_object_get(doc, "end"), err);
}

/* One line of the JSON lines form after the header; `*ended` once "end" was read. */
static int read_line(struct reader *rd, json_t *j, int *ended, struct bbs_error *err)
{
    json_t *table = json_object_get(j, "table");
    json_t *end = json_object_get(j, "end");
    int t;

    if (!json_is_object(j)) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON, "a line must be a JSON object");
        return -1;
    }
    if (*ended) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON, "data after \"end\"");
        return -1;
    }
    if (end != NULL && json_object_size(j) == 1) {
        *ended = 1;
        return check_end(rd, end, err);
    }
    if (!json_is_string(table) || json_object_size(j) != 2 || json_object_get(j, "row") == NULL) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON,
                       "a line must be {\"table\": NAME, \"row\": {...}} or {\"end\": {...}}");
        return -1;
    }
    t = table_index(json_string_value(table));
    if (t < 0) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON, "unknown table \"%s\"", json_string_value(table));
        return -1;
    }
    return read_row(rd, t, json_object_get(j, "row"), err);
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
            return 0;
        }
    }
    return 1;
}

/* Prefix err's message with "line N: ". */
static void at_line(struct bbs_error *err, size_t line)
{
    char msg[BBS_ERROR_MESSAGE_MAX / 2];

    snprintf(msg, sizeof(msg), "%.2000s", err->message);
    bbs_error_setf(err, err->type, "line %zu: %s", line, msg);
}

int xfer_read(FILE *in, xfer_row_fn fn, void *ctx, uint64_t *counts, struct bbs_error *err)
{
    struct reader rd = {.fn = fn, .ctx = ctx, .counts = counts};
    struct bbs_buf all = {0};
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    json_t *j = NULL;
    json_error_t je;
    int rc = -1, ended = 0;

    memset(counts, 0, sizeof(*counts) * XFER_NTABLES);
    /* The first line that is not blank tells the form apart: a complete
     * object with "tables" is a document on one line, one without is the
     * header of JSON lines; anything else starts a multi-line document. */
    while ((n = getline(&line, &cap, in)) > 0 && blank(line, (size_t)n)) {
        lineno++;
    }
    lineno++;
    if (n <= 0) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON, "empty input: not a bbsctl export");
        goto out;
    }
    j = json_loadb(line, (size_t)n, 0, &je);
    if (j != NULL && json_object_get(j, "tables") == NULL) {
        if (check_header(j, err) != 0 || json_object_size(j) != 1) {
            if (json_object_size(j) != 1) {
                bbs_error_setf(err, BBS_ERR_INVALID_JSON, "the header line has extra members");
            }
            at_line(err, lineno);
            goto out;
        }
        while ((n = getline(&line, &cap, in)) > 0) {
            lineno++;
            if (blank(line, (size_t)n)) {
                continue;
            }
            json_decref(j);
            j = json_loadb(line, (size_t)n, 0, &je);
            if (j == NULL) {
                bbs_error_setf(err, BBS_ERR_INVALID_JSON, "line %zu, column %d: %s", lineno,
                               je.column, je.text);
                goto out;
            }
            if (read_line(&rd, j, &ended, err) != 0) {
                at_line(err, lineno);
                goto out;
            }
        }
        if (!ended) {
            bbs_error_setf(err, BBS_ERR_INVALID_JSON, "no \"end\" line (a cut export?)");
            goto out;
        }
        rc = 0;
        goto out;
    }
    if (j == NULL) {
        bbs_buf_append(&all, line, (size_t)n);
        while ((n = getline(&line, &cap, in)) > 0) {
            bbs_buf_append(&all, line, (size_t)n);
        }
        j = json_loadb((const char *)all.data, all.len, 0, &je);
        if (j == NULL) {
            bbs_error_setf(err, BBS_ERR_INVALID_JSON, "line %d, column %d: %s", je.line, je.column,
                           je.text);
            goto out;
        }
    } else {
        /* One-line document: nothing may follow it. */
        while ((n = getline(&line, &cap, in)) > 0) {
            if (!blank(line, (size_t)n)) {
                bbs_error_setf(err, BBS_ERR_INVALID_JSON, "data after the document");
                goto out;
            }
        }
    }
    if (!json_is_object(j)) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON, "not a bbsctl export (not a JSON object)");
        goto out;
    }
    rc = read_document(&rd, j, err);
out:
    json_decref(j);
    free(line);
    bbs_buf_free(&all);
    xfer_row_free(&rd.row);
    return rc;
}

/* ---- upstream's encodings ---- */

static const uint8_t SERIALIZED[2] = {0x02, 0x00};

int xfer_open(const struct bbs_crypt *keys, const uint8_t *v, size_t n, struct bbs_buf *out,
              char *label, struct bbs_error *err)
{
    if (!bbs_crypt_is_sealed(v, n)) {
        bbs_buf_append(out, v, n);
        return 0;
    }
    if (keys == NULL) {
        struct bbs_buf scratch = {0};
        struct bbs_crypt_envelope env;
        int ok = bbs_crypt_parse(v, n, &scratch, &env, err) == 0;

        if (ok) {
            bbs_error_setf(err, BBS_ERR_DESERIALIZE,
                           "value sealed with key label \"%.*s\": pass --encryption-key %.*s:...",
                           (int)env.label_len, (const char *)env.label, (int)env.label_len,
                           (const char *)env.label);
        }
        bbs_buf_free(&scratch);
        return -1;
    }
    return bbs_crypt_open(keys, v, n, out, label, err);
}

int xfer_json_alrp_routes(json_t *j, struct bbs_buf *out, struct bbs_error *err)
{
    size_t i;
    json_t *e;

    if (json_is_null(j)) {
        return 0;
    }
    if (!json_is_array(j)) {
        goto bad;
    }
    json_array_foreach(j, i, e)
    {
        json_t *h = json_object_get(e, "hostname");
        size_t mark;

        if (!json_is_object(e) || (h != NULL && !json_is_string(h))) {
            goto bad;
        }
        mark = bbs_pbw_open(out, 11);
        bbs_pbw_string(out, 1, h != NULL ? json_string_value(h) : "");
        bbs_pbw_close(out, mark);
    }
    return 0;
bad:
    bbs_error_setf(err, BBS_ERR_DESERIALIZE,
                   "internal_routes: expected [{\"hostname\": ...}] or null");
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int xfer_json_alrp_tags(json_t *j, struct bbs_buf *out, struct bbs_error *err)
{
    const char **keys = NULL;
    const char *k;
    json_t *v;
    size_t n = 0;

    if (json_is_null(j)) {
        return 0;
    }
    if (!json_is_object(j)) {
        goto bad;
    }
    keys = calloc(json_object_size(j) + 1, sizeof(*keys));
    if (keys == NULL) {
        abort();
    }
    json_object_foreach(j, k, v)
    {
        if (!json_is_string(v)) {
            goto bad;
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
    free(keys);
    return 0;
bad:
    free(keys);
    bbs_error_setf(err, BBS_ERR_DESERIALIZE, "metric_tags: expected {\"name\": \"value\"} or null");
    return -1;
}

int xfer_plain_of(enum xfer_blob_kind kind, const uint8_t *pt, size_t n, struct bbs_buf *out,
                  struct bbs_error *err)
{
    json_t *j;
    int rc;

    if (n >= 2 && memcmp(pt, SERIALIZED, 2) == 0) {
        bbs_buf_append(out, pt + 2, n - 2);
        return 0;
    }
    if (kind != XFER_B_ALRP_ROUTES && kind != XFER_B_ALRP_TAGS) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "plaintext is not in a known format");
        return -1;
    }
    j = json_loadb((const char *)pt, n, JSON_DECODE_ANY, NULL);
    if (j == NULL) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "plaintext is neither serialized nor JSON");
        return -1;
    }
    rc = kind == XFER_B_ALRP_ROUTES ? xfer_json_alrp_routes(j, out, err)
                                    : xfer_json_alrp_tags(j, out, err);
    json_decref(j);
    return rc;
}

/* ---- progress and keys ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void xfer_counts_print(FILE *f, const char *what, const uint64_t *counts)
{
    fprintf(f, "%s:", what);
    for (int i = 0; i < XFER_NTABLES; i++) {
        fprintf(f, "%s %s %llu", i > 0 ? "," : "", xfer_tables[i].name,
                (unsigned long long)counts[i]);
    }
    fputc('\n', f);
}

void xfer_progress_start(struct xfer_progress *p, const char *what)
{
    p->what = what;
    p->start_ms = mono_ms();
    p->last_ms = p->start_ms;
}

void xfer_progress_tick(struct xfer_progress *p, const uint64_t *counts)
{
    int64_t now = mono_ms();
    char what[128];

    if (now - p->last_ms < 1000) {
        return;
    }
    p->last_ms = now;
    snprintf(what, sizeof(what), "%s (%llds)", p->what, (long long)((now - p->start_ms) / 1000));
    xfer_counts_print(stderr, what, counts);
}

int xfer_keys_add(struct xfer_keys *k, char *arg)
{
    char *colon = strchr(arg, ':');

    if (colon == NULL || colon == arg) {
        fprintf(stderr, "--encryption-key: expected label:passphrase\n");
        return -1;
    }
    if (k->n == sizeof(k->cfg) / sizeof(k->cfg[0])) {
        fprintf(stderr, "--encryption-key: at most %zu keys\n", k->n);
        return -1;
    }
    *colon = '\0';
    k->cfg[k->n].label = arg;
    k->cfg[k->n].passphrase = colon + 1;
    k->n++;
    return 0;
}

int xfer_keys_ring(const struct xfer_keys *k, struct bbs_crypt **out)
{
    struct bbs_error err = {0};

    *out = NULL;
    if (k->n == 0 && k->active == NULL) {
        return 0;
    }
    *out = bbs_crypt_new(k->cfg, k->n, k->active != NULL ? k->active : k->cfg[0].label, &err);
    if (*out == NULL) {
        fprintf(stderr, "encryption keys: %s\n", err.message);
        return -1;
    }
    return 0;
}
