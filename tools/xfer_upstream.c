/*
 * xfer_upstream.c - `bbsctl migrate-from-upstream`: an upstream BBS
 * PostgreSQL database (reference 6.1 tables, 6.3 blobs) into ours, in one
 * transaction (xfer_writer.c).
 *
 * The source is opened read-only (default_transaction_read_only=on, and
 * one READ ONLY REPEATABLE READ transaction: a consistent snapshot of a
 * foundation that may still be running) and read through cursors. Columns
 * that older upstream versions lack are read as NULL and get upstream's
 * defaults (presence from `evacuating` before 1529530809, a desired LRP's
 * metric tags from its run info before 1722634733).
 *
 * Per row: domains and tasks copy over (a task definition is upstream's
 * serialized TaskDefinition, our bytes after the 0x02 0x00 prefix); an
 * actual LRP's net info likewise, its internal routes and metric tags are
 * JSON turned into our bytes; a desired LRP is rebuilt as the DesiredLRP
 * upstream would serve (columns + DesiredLRPRunInfo + JSON routes, tags
 * and placement tags) and split into our columns by the server's own
 * bbs_dlrp_split, keeping upstream's modification tag and creation time.
 *
 * A row that cannot be decoded is reported on stderr with the reason; by
 * default the migration then fails and writes nothing, `--skip-bad`
 * migrates the others.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "actual_lrp.pb-c.h"
#include "bbs/arena.h"
#include "bbs/dlrp_codec.h"
#include "bbs/log.h"
#include "task.pb-c.h"
#include "xfer.h"

#ifndef BBS_MIGRATIONS_DIR
#define BBS_MIGRATIONS_DIR "migrations"
#endif

#define FETCH_SQL "FETCH FORWARD 500 FROM xfer_src"

/* Upstream's columns we read, per table (reference 6.1). */
static const char *const UP_DOMAINS[] = {"domain", "expire_time", NULL};
static const char *const UP_DESIRED[] = {"process_guid",
                                         "domain",
                                         "log_guid",
                                         "annotation",
                                         "instances",
                                         "memory_mb",
                                         "disk_mb",
                                         "rootfs",
                                         "routes",
                                         "modification_tag_epoch",
                                         "modification_tag_index",
                                         "run_info",
                                         "placement_tags",
                                         "max_pids",
                                         "metric_tags",
                                         "update_strategy",
                                         NULL};
static const char *const UP_ACTUAL[] = {"process_guid",
                                        "instance_index",
                                        "presence",
                                        "evacuating",
                                        "domain",
                                        "state",
                                        "instance_guid",
                                        "cell_id",
                                        "placement_error",
                                        "since",
                                        "net_info",
                                        "modification_tag_epoch",
                                        "modification_tag_index",
                                        "crash_count",
                                        "crash_reason",
                                        "internal_routes",
                                        "metric_tags",
                                        "routable",
                                        "availability_zone",
                                        NULL};
static const char *const UP_TASKS[] = {"guid",
                                       "domain",
                                       "updated_at",
                                       "created_at",
                                       "first_completed_at",
                                       "state",
                                       "cell_id",
                                       "result",
                                       "failed",
                                       "failure_reason",
                                       "task_definition",
                                       "rejection_count",
                                       "rejection_reason",
                                       NULL};

static const char *const *const UP_COLS[XFER_NTABLES] = {UP_DOMAINS, UP_DESIRED, UP_ACTUAL,
                                                         UP_TASKS};

struct migrator {
    PGconn *src;
    const struct bbs_crypt *keys;
    struct xfer_writer *w;
    int skip_bad;
    uint64_t read[XFER_NTABLES];
    uint64_t bad;
    struct xfer_progress progress;
    struct xfer_row row;
    struct bbs_buf pt;
    /* the source's columns: "table.column" entries */
    char **have;
    int n_have;
};

static int pq_error(PGconn *conn, PGresult *res, const char *what)
{
    fprintf(stderr, "migrate-from-upstream: %s: %s", what,
            res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(conn));
    PQclear(res);
    return -1;
}

static int exec_ok(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        return pq_error(conn, res, sql);
    }
    PQclear(res);
    return 0;
}

static int load_columns(struct migrator *m)
{
    PGresult *res =
        PQexec(m->src, "SELECT table_name || '.' || column_name FROM information_schema.columns "
                       "WHERE table_schema = current_schema()");

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        return pq_error(m->src, res, "reading the source's columns");
    }
    m->n_have = PQntuples(res);
    m->have = calloc((size_t)m->n_have + 1, sizeof(*m->have));
    if (m->have == NULL) {
        abort();
    }
    for (int i = 0; i < m->n_have; i++) {
        m->have[i] = strdup(PQgetvalue(res, i, 0));
    }
    PQclear(res);
    return 0;
}

static int has_column(const struct migrator *m, const char *table, const char *col)
{
    size_t tl = strlen(table);

    for (int i = 0; i < m->n_have; i++) {
        if (strncmp(m->have[i], table, tl) == 0 && m->have[i][tl] == '.' &&
            strcmp(m->have[i] + tl + 1, col) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- reading one source row ---- */

struct src_row {
    const PGresult *res;
    int i;
    const char *const *cols;
};

static int col_of(const struct src_row *s, const char *name)
{
    for (int c = 0; s->cols[c] != NULL; c++) {
        if (strcmp(s->cols[c], name) == 0) {
            return c;
        }
    }
    abort(); /* a name not in the UP_* lists is a programming error */
}

static const char *get(const struct src_row *s, const char *name)
{
    int c = col_of(s, name);

    return PQgetisnull(s->res, s->i, c) ? NULL : PQgetvalue(s->res, s->i, c);
}

/* Copy a source column into our column of the same name: NULL gives
 * `dflt` (NULL: stays NULL). */
static void copy(struct xfer_row *r, const struct src_row *s, const char *name, const char *dflt)
{
    const char *v = get(s, name);
    int c = xfer_col_index(r->table, name);

    if (v == NULL) {
        v = dflt;
    }
    if (v != NULL) {
        xfer_val_setstr(&r->v[c], v);
    } else {
        r->v[c].null = 1;
    }
}

/* An encoded (6.3) column's plaintext into m->pt; NULL column: 1. */
static int open_col(struct migrator *m, const struct src_row *s, const char *name,
                    struct bbs_error *err)
{
    const char *v = get(s, name);

    m->pt.len = 0;
    if (v == NULL) {
        return 1;
    }
    if (xfer_open(m->keys, (const uint8_t *)v, strlen(v), &m->pt, NULL, err) != 0) {
        char msg[BBS_ERROR_MESSAGE_MAX / 2];

        snprintf(msg, sizeof(msg), "%.2000s", err->message);
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "%s: %s", name, msg);
        return -1;
    }
    return 0;
}

/* A serialized (6.3) column: our bytes into column `ours`, checked to
 * decode as `desc`. */
static int serialized_col(struct migrator *m, struct xfer_row *r, const struct src_row *s,
                          const char *name, const char *ours,
                          const ProtobufCMessageDescriptor *desc, struct bbs_error *err)
{
    struct xfer_val *v = &r->v[xfer_col_index(r->table, ours)];
    ProtobufCMessage *msg;
    int rc = open_col(m, s, name, err);

    if (rc < 0) {
        return -1;
    }
    if (rc > 0 || m->pt.len < 2 || m->pt.data[0] != 0x02 || m->pt.data[1] != 0x00) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "%s: %s", name,
                       rc > 0 ? "NULL" : "not in the serialized format (0x02 0x00 + protobuf)");
        return -1;
    }
    msg = protobuf_c_message_unpack(desc, NULL, m->pt.len - 2, m->pt.data + 2);
    if (msg == NULL) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "%s: not a %s", name, desc->name);
        return -1;
    }
    protobuf_c_message_free_unpacked(msg, NULL);
    xfer_val_set(v, m->pt.data + 2, m->pt.len - 2);
    return 0;
}

/* An encoded JSON column of an actual LRP into our bytes; JSON null or a
 * NULL column is our NULL (absent). */
static int alrp_json_col(struct migrator *m, struct xfer_row *r, const struct src_row *s,
                         const char *name, struct bbs_error *err)
{
    struct xfer_val *v = &r->v[xfer_col_index(r->table, name)];
    struct bbs_buf b = {0};
    json_t *j;
    int rc = open_col(m, s, name, err);

    if (rc != 0) {
        return rc < 0 ? -1 : 0; /* NULL column: stays NULL */
    }
    j = json_loadb((const char *)m->pt.data, m->pt.len, JSON_DECODE_ANY, NULL);
    if (j == NULL) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "%s: plaintext is not JSON", name);
        return -1;
    }
    if (!json_is_null(j)) {
        rc = strcmp(name, "internal_routes") == 0 ? xfer_json_alrp_routes(j, &b, err)
                                                  : xfer_json_alrp_tags(j, &b, err);
        if (rc == 0) {
            xfer_val_set(v, b.data, b.len);
        }
    }
    json_decref(j);
    bbs_buf_free(&b);
    return rc;
}

static int conv_domain(struct migrator *m, struct xfer_row *r, const struct src_row *s,
                       struct bbs_error *err)
{
    (void)m;
    (void)err;
    copy(r, s, "domain", "");
    copy(r, s, "expire_time", "0");
    return 0;
}

static int conv_actual(struct migrator *m, struct xfer_row *r, const struct src_row *s,
                       struct bbs_error *err)
{
    const char *presence = get(s, "presence");
    const char *evacuating = get(s, "evacuating");

    copy(r, s, "process_guid", "");
    copy(r, s, "instance_index", "0");
    /* Before presence existed, an evacuating row was marked by the flag. */
    xfer_val_setstr(&r->v[xfer_col_index(r->table, "presence")],
                    presence != NULL                             ? presence
                    : evacuating != NULL && evacuating[0] == 't' ? "1"
                                                                 : "0");
    copy(r, s, "domain", "");
    copy(r, s, "state", "");
    copy(r, s, "instance_guid", "");
    copy(r, s, "cell_id", "");
    copy(r, s, "placement_error", "");
    copy(r, s, "since", "0");
    copy(r, s, "modification_tag_epoch", "");
    copy(r, s, "modification_tag_index", "0");
    copy(r, s, "crash_count", "0");
    copy(r, s, "crash_reason", "");
    copy(r, s, "routable", "f");
    copy(r, s, "availability_zone", "");
    if (serialized_col(m, r, s, "net_info", "net_info", &models__actual_lrpnet_info__descriptor,
                       err) != 0 ||
        alrp_json_col(m, r, s, "internal_routes", err) != 0 ||
        alrp_json_col(m, r, s, "metric_tags", err) != 0) {
        return -1;
    }
    return 0;
}

static int conv_task(struct migrator *m, struct xfer_row *r, const struct src_row *s,
                     struct bbs_error *err)
{
    static const char *const plain[] = {
        "guid",  "domain", "updated_at", "created_at", "first_completed_at",
        "state", "result", "failed"};

    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        copy(r, s, plain[i], NULL);
    }
    copy(r, s, "cell_id", "");
    copy(r, s, "failure_reason", "");
    copy(r, s, "rejection_count", "0");
    copy(r, s, "rejection_reason", "");
    if (r->v[0].null || r->v[1].null) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "guid or domain is NULL");
        return -1;
    }
    return serialized_col(m, r, s, "task_definition", "task_definition",
                          &models__task_definition__descriptor, err);
}

/* ---- desired LRPs ---- */

/* Upstream's metric tag value {"static": "..."} / {"dynamic": "INDEX" or 1}. */
static int tag_value(struct bbs_arena *a, json_t *v, Models__MetricTagValue **out)
{
    Models__MetricTagValue *t = bbs_arena_zalloc(a, sizeof(*t));
    json_t *st = json_object_get(v, "static");
    json_t *dy = json_object_get(v, "dynamic");

    models__metric_tag_value__init(t);
    if (!json_is_object(v) || (st != NULL && !json_is_string(st))) {
        return -1;
    }
    if (st != NULL) {
        t->static_ = bbs_arena_strdup(a, json_string_value(st));
    }
    if (json_is_string(dy)) {
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(
            &models__metric_tag_value__dynamic_value__descriptor, json_string_value(dy));

        if (ev == NULL) {
            return -1;
        }
        t->dynamic = (Models__MetricTagValue__DynamicValue)ev->value;
    } else if (json_is_integer(dy)) {
        t->dynamic = (Models__MetricTagValue__DynamicValue)json_integer_value(dy);
    } else if (dy != NULL && !json_is_null(dy)) {
        return -1;
    }
    *out = t;
    return 0;
}

static int desired_tags(struct bbs_arena *a, json_t *j, Models__DesiredLRP *lrp)
{
    const char *k;
    json_t *v;
    size_t n = 0;

    if (json_is_null(j)) {
        return 0;
    }
    if (!json_is_object(j)) {
        return -1;
    }
    lrp->metric_tags = bbs_arena_zalloc(a, (json_object_size(j) + 1) * sizeof(*lrp->metric_tags));
    json_object_foreach(j, k, v)
    {
        Models__DesiredLRP__MetricTagsEntry *e = bbs_arena_zalloc(a, sizeof(*e));

        models__desired_lrp__metric_tags_entry__init(e);
        e->key = bbs_arena_strdup(a, k);
        if (tag_value(a, v, &e->value) != 0) {
            return -1;
        }
        lrp->metric_tags[n++] = e;
    }
    lrp->n_metric_tags = n;
    return 0;
}

static int desired_routes(struct bbs_arena *a, json_t *j, Models__DesiredLRP *lrp)
{
    Models__ProtoRoutes *pr;
    const char *k;
    json_t *v;
    size_t n = 0;

    if (json_is_null(j)) {
        return 0;
    }
    if (!json_is_object(j)) {
        return -1;
    }
    pr = bbs_arena_zalloc(a, sizeof(*pr));
    models__proto_routes__init(pr);
    pr->routes = bbs_arena_zalloc(a, (json_object_size(j) + 1) * sizeof(*pr->routes));
    json_object_foreach(j, k, v)
    {
        Models__ProtoRoutes__RoutesEntry *e = bbs_arena_zalloc(a, sizeof(*e));
        char *raw = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

        if (raw == NULL) {
            return -1;
        }
        models__proto_routes__routes_entry__init(e);
        e->key = bbs_arena_strdup(a, k);
        e->value.len = strlen(raw);
        e->value.data = bbs_arena_memdup(a, raw, e->value.len);
        free(raw);
        pr->routes[n++] = e;
    }
    pr->n_routes = n;
    lrp->routes = pr;
    return 0;
}

static int placement_tags(struct bbs_arena *a, const char *text, Models__DesiredLRP *lrp)
{
    json_t *j;
    json_t *e;
    size_t i;
    int rc = -1;

    if (text == NULL) {
        return 0;
    }
    j = json_loads(text, JSON_DECODE_ANY, NULL);
    if (j == NULL || (!json_is_null(j) && !json_is_array(j))) {
        goto out;
    }
    if (json_is_array(j)) {
        lrp->placementtags = bbs_arena_zalloc(a, (json_array_size(j) + 1) * sizeof(char *));
        json_array_foreach(j, i, e)
        {
            if (!json_is_string(e)) {
                goto out;
            }
            lrp->placementtags[lrp->n_placementtags++] = bbs_arena_strdup(a, json_string_value(e));
        }
    }
    rc = 0;
out:
    json_decref(j);
    return rc;
}

/* The run info's fields onto the DesiredLRP (shallow: both borrow `ri`). */
static void from_run_info(Models__DesiredLRP *l, const Models__DesiredLRPRunInfo *ri)
{
    l->n_environment_variables = ri->n_environment_variables;
    l->environment_variables = ri->environment_variables;
    l->setup = ri->setup;
    l->action = ri->action;
    l->monitor = ri->monitor;
    l->deprecated_start_timeout_s = ri->deprecated_start_timeout_s;
    l->privileged = ri->privileged;
    l->cpu_weight = ri->cpu_weight;
    l->n_ports = ri->n_ports;
    l->ports = ri->ports;
    l->n_egress_rules = ri->n_egress_rules;
    l->egress_rules = ri->egress_rules;
    l->log_source = ri->log_source;
    l->metrics_guid = ri->metrics_guid;
    l->n_cached_dependencies = ri->n_cached_dependencies;
    l->cached_dependencies = ri->cached_dependencies;
    l->legacy_download_user = ri->legacy_download_user;
    l->trusted_system_certificates_path = ri->trusted_system_certificates_path;
    l->n_volume_mounts = ri->n_volume_mounts;
    l->volume_mounts = ri->volume_mounts;
    l->network = ri->network;
    l->start_timeout_ms = ri->start_timeout_ms;
    l->certificate_properties = ri->certificate_properties;
    l->image_username = ri->image_username;
    l->image_password = ri->image_password;
    l->check_definition = ri->check_definition;
    l->n_image_layers = ri->n_image_layers;
    l->image_layers = ri->image_layers;
    l->n_sidecars = ri->n_sidecars;
    l->sidecars = ri->sidecars;
    l->log_rate_limit = ri->log_rate_limit;
    l->n_volume_mounted_files = ri->n_volume_mounted_files;
    l->volume_mounted_files = ri->volume_mounted_files;
    /* Before 1722634733 the tags lived in the run info. */
    if (l->n_metric_tags == 0 && ri->n_metric_tags > 0) {
        l->n_metric_tags = ri->n_metric_tags;
        l->metric_tags = (Models__DesiredLRP__MetricTagsEntry **)ri->metric_tags;
    }
}

static int json_col(struct migrator *m, const struct src_row *s, const char *name, json_t **out,
                    struct bbs_error *err)
{
    int rc = open_col(m, s, name, err);

    *out = NULL;
    if (rc != 0) {
        return rc < 0 ? -1 : 0;
    }
    *out = json_loadb((const char *)m->pt.data, m->pt.len, JSON_DECODE_ANY, NULL);
    if (*out == NULL) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "%s: plaintext is not JSON", name);
        return -1;
    }
    return 0;
}

static void set_blob(struct xfer_row *r, const char *name, const struct bbs_blob *b)
{
    xfer_val_set(&r->v[xfer_col_index(r->table, name)], b->data, b->len);
}

static int conv_desired(struct migrator *m, struct xfer_row *r, const struct src_row *s,
                        struct bbs_error *err)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__DesiredLRP lrp = MODELS__DESIRED_LRP__INIT;
    Models__DesiredLRPRunInfo *ri = NULL;
    struct bbs_dlrp_row d;
    json_t *routes = NULL, *tags = NULL;
    const char *v;
    int rc = -1;

    if (open_col(m, s, "run_info", err) != 0) {
        if (err->message[0] == '\0') {
            bbs_error_setf(err, BBS_ERR_DESERIALIZE, "run_info: NULL");
        }
        goto out;
    }
    if (m->pt.len < 2 || m->pt.data[0] != 0x02 || m->pt.data[1] != 0x00 ||
        (ri = models__desired_lrprun_info__unpack(bbs_arena_pb_allocator(a), m->pt.len - 2,
                                                  m->pt.data + 2)) == NULL) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "run_info: not a serialized DesiredLRPRunInfo");
        goto out;
    }
    if (json_col(m, s, "routes", &routes, err) != 0 ||
        json_col(m, s, "metric_tags", &tags, err) != 0) {
        goto out;
    }
    if (routes != NULL && desired_routes(a, routes, &lrp) != 0) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "routes: not a JSON object");
        goto out;
    }
    if (tags != NULL && desired_tags(a, tags, &lrp) != 0) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "metric_tags: not {name: {static|dynamic}}");
        goto out;
    }
    if (placement_tags(a, get(s, "placement_tags"), &lrp) != 0) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "placement_tags: not a JSON array of strings");
        goto out;
    }
    if (get(s, "process_guid") == NULL || get(s, "domain") == NULL) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "process_guid or domain is NULL");
        goto out;
    }
    lrp.process_guid = (char *)get(s, "process_guid");
    lrp.domain = (char *)get(s, "domain");
    lrp.log_guid = (char *)((v = get(s, "log_guid")) != NULL ? v : "");
    lrp.annotation = (char *)((v = get(s, "annotation")) != NULL ? v : "");
    lrp.root_fs = (char *)((v = get(s, "rootfs")) != NULL ? v : "");
    lrp.instances = (v = get(s, "instances")) != NULL ? atoi(v) : 0;
    lrp.memory_mb = (v = get(s, "memory_mb")) != NULL ? atoi(v) : 0;
    lrp.disk_mb = (v = get(s, "disk_mb")) != NULL ? atoi(v) : 0;
    lrp.max_pids = (v = get(s, "max_pids")) != NULL ? atoi(v) : 0;
    lrp.update_strategy =
        (Models__UpdateStrategy)((v = get(s, "update_strategy")) != NULL ? atoi(v) : 0);
    from_run_info(&lrp, ri);
    if (bbs_dlrp_split(a, &lrp, ri->created_at, &d, err) != 0) {
        goto out;
    }
    copy(r, s, "process_guid", "");
    copy(r, s, "domain", "");
    copy(r, s, "log_guid", "");
    copy(r, s, "annotation", "");
    copy(r, s, "instances", "0");
    copy(r, s, "memory_mb", "0");
    copy(r, s, "disk_mb", "0");
    copy(r, s, "max_pids", "0");
    copy(r, s, "rootfs", "");
    copy(r, s, "update_strategy", "0");
    copy(r, s, "modification_tag_epoch", "");
    copy(r, s, "modification_tag_index", "0");
    set_blob(r, "routes", &d.routes);
    set_blob(r, "volume_placement", &d.volume_placement);
    set_blob(r, "placement_tags", &d.placement_tags);
    set_blob(r, "metric_tags", &d.metric_tags);
    set_blob(r, "run_info", &d.run_info);
    xfer_val_setstr(&r->v[xfer_col_index(r->table, "metrics_guid")],
                    d.metrics_guid != NULL ? d.metrics_guid : "");
    xfer_val_setint(&r->v[xfer_col_index(r->table, "created_at")], d.created_at_ns);
    rc = 0;
out:
    json_decref(routes);
    json_decref(tags);
    bbs_arena_free(a);
    return rc;
}

typedef int (*conv_fn)(struct migrator *m, struct xfer_row *r, const struct src_row *s,
                       struct bbs_error *err);
static const conv_fn CONV[XFER_NTABLES] = {conv_domain, conv_desired, conv_actual, conv_task};

static int migrate_table(struct migrator *m, int t)
{
    const char *const *cols = UP_COLS[t];
    const char *name = xfer_tables[t].name;
    struct bbs_buf sql = {0};
    int rc = -1;

    bbs_buf_printf(&sql, "DECLARE xfer_src NO SCROLL CURSOR FOR SELECT ");
    for (int c = 0; cols[c] != NULL; c++) {
        bbs_buf_printf(&sql, "%s%s", c > 0 ? ", " : "",
                       has_column(m, name, cols[c]) ? cols[c] : "NULL");
    }
    bbs_buf_printf(&sql, " FROM %s ORDER BY %s", name, cols[0]);
    bbs_buf_putc(&sql, '\0');
    if (exec_ok(m->src, (const char *)sql.data) != 0) {
        goto out;
    }
    for (;;) {
        PGresult *res = PQexec(m->src, FETCH_SQL);
        int n;

        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            pq_error(m->src, res, "fetch");
            goto out;
        }
        n = PQntuples(res);
        for (int i = 0; i < n; i++) {
            struct src_row s = {res, i, cols};
            struct bbs_error err = {0};

            m->read[t]++;
            xfer_row_reset(&m->row, t);
            if (CONV[t](m, &m->row, &s, &err) != 0) {
                fprintf(stderr, "migrate-from-upstream: %s %s: cannot decode: %s\n", name,
                        PQgetisnull(res, i, 0) ? "(null)" : PQgetvalue(res, i, 0), err.message);
                m->bad++;
                continue;
            }
            if (xfer_writer_put(m->w, &m->row, &err) != 0) {
                fprintf(stderr, "migrate-from-upstream: %s\n", err.message);
                PQclear(res);
                goto out;
            }
            xfer_progress_tick(&m->progress, m->read);
        }
        PQclear(res);
        if (n == 0) {
            break;
        }
    }
    rc = exec_ok(m->src, "CLOSE xfer_src");
out:
    bbs_buf_free(&sql);
    return rc;
}

static int check_source(struct migrator *m)
{
    for (int t = 0; t < XFER_NTABLES; t++) {
        if (!has_column(m, xfer_tables[t].name, UP_COLS[t][0])) {
            fprintf(stderr,
                    "migrate-from-upstream: the source has no table %s: not an upstream BBS "
                    "database\n",
                    xfer_tables[t].name);
            return -1;
        }
    }
    if (has_column(m, "schema_migrations", "version")) {
        fprintf(stderr, "migrate-from-upstream: the source has schema_migrations: it is one of "
                        "ours (use export and import)\n");
        return -1;
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bbsctl migrate-from-upstream --source URL --database-url URL\n"
               "         [--encryption-key label:passphrase ...] [--active-key-label L]\n"
               "         [--skip-bad] [--migrations-dir DIR]\n"
               "Reads an upstream BBS PostgreSQL database (read-only) and writes its domains,\n"
               "LRPs and tasks into ours in one transaction. The keys open upstream's values;\n"
               "ours are sealed with the active one (default: the first). A target with rows\n"
               "is refused. A row that does not decode fails the migration (nothing written)\n"
               "unless --skip-bad, which reports it and migrates the rest.\n");
}

int xfer_cmd_migrate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"source", required_argument, NULL, 's'},
        {"database-url", required_argument, NULL, 'd'},
        {"encryption-key", required_argument, NULL, 'k'},
        {"active-key-label", required_argument, NULL, 'a'},
        {"skip-bad", no_argument, NULL, 'b'},
        {"migrations-dir", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct migrator m = {0};
    struct xfer_keys keys = {0};
    struct bbs_crypt *ring = NULL;
    struct bbs_error err = {0};
    const char *source = NULL, *url = NULL, *migrations = BBS_MIGRATIONS_DIR;
    int c, rc = 1;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            source = optarg;
            break;
        case 'd':
            url = optarg;
            break;
        case 'k':
            if (xfer_keys_add(&keys, optarg) != 0) {
                return 2;
            }
            break;
        case 'a':
            keys.active = optarg;
            break;
        case 'b':
            m.skip_bad = 1;
            break;
        case 'm':
            migrations = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (source == NULL || url == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (xfer_keys_ring(&keys, &ring) != 0) {
        return 2;
    }
    m.keys = ring;
    bbs_log_set_level(BBS_LOG_ERROR); /* the store's info lines would go to stdout */
    m.src = PQconnectdb(source);
    if (PQstatus(m.src) != CONNECTION_OK) {
        pq_error(m.src, NULL, "connect to the source");
        goto out;
    }
    /* Read-only for the whole session: nothing here can change the source. */
    if (exec_ok(m.src, "SET default_transaction_read_only = on") != 0 ||
        exec_ok(m.src, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0 ||
        load_columns(&m) != 0 || check_source(&m) != 0) {
        goto out;
    }
    if (xfer_writer_open(url, migrations, 0, ring, &m.w, &err) != 0) {
        fprintf(stderr, "migrate-from-upstream: %s: %s\n", bbs_error_name(err.type), err.message);
        goto out;
    }
    xfer_progress_start(&m.progress, "migrate-from-upstream");
    for (int t = 0; t < XFER_NTABLES; t++) {
        if (migrate_table(&m, t) != 0) {
            goto out;
        }
    }
    if (m.bad > 0 && !m.skip_bad) {
        fprintf(stderr,
                "migrate-from-upstream: %llu rows could not be decoded (above): nothing "
                "written (--skip-bad migrates the others)\n",
                (unsigned long long)m.bad);
        goto out;
    }
    if (xfer_writer_commit(m.w, &err) != 0) {
        fprintf(stderr, "migrate-from-upstream: %s: %s\n", bbs_error_name(err.type), err.message);
        goto out;
    }
    xfer_counts_print(stderr, "read from upstream", m.read);
    xfer_counts_print(stderr, "migrated", xfer_writer_counts(m.w));
    if (m.bad > 0) {
        fprintf(stderr, "migrate-from-upstream: skipped %llu rows that could not be decoded\n",
                (unsigned long long)m.bad);
    }
    rc = 0;
out:
    xfer_writer_free(m.w);
    if (m.src != NULL) {
        PQfinish(m.src);
    }
    for (int i = 0; i < m.n_have; i++) {
        free(m.have[i]);
    }
    free(m.have);
    xfer_row_free(&m.row);
    bbs_buf_free(&m.pt);
    bbs_crypt_free(ring);
    return rc;
}
