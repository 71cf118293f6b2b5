/*
 * dlrp_codec.c - DesiredLRP split into columns + run_info, and the read
 * encoders (see dlrp_codec.h).
 *
 * Reads are written field by field with the wire writer straight from the
 * row: column fields first, then the run_info bytes verbatim. Proto field
 * order is not significant to decoders and the two field sets are
 * disjoint, so the concatenation is one valid DesiredLRP. Only the V2 view
 * unpacks (protobuf-c, into the arena) to rewrite image layers.
 */
#include "bbs/dlrp_codec.h"

#include <stdlib.h>
#include <string.h>

#include "bbs/codec.h"
#include "bbs/pbw.h"
#include "bbs/routejson.h"

/* DesiredLRP field numbers the column part of a read uses. */
enum {
    F_PROCESS_GUID = 1,
    F_DOMAIN = 2,
    F_ROOT_FS = 3,
    F_INSTANCES = 4,
    F_DISK_MB = 10,
    F_MEMORY_MB = 11,
    F_ROUTES = 15,
    F_LOG_GUID = 17,
    F_METRICS_GUID = 18,
    F_ANNOTATION = 19,
    F_MODIFICATION_TAG = 21,
    F_PLACEMENT_TAGS = 28,
    F_MAX_PIDS = 29,
    F_METRIC_TAGS = 35,
    F_UPDATE_STRATEGY = 39,
};

static const char SOURCE_ID[] = "source_id";

static const char *str(const char *s)
{
    return s != NULL ? s : "";
}

/* Copy `buf` into the arena as a present blob and release `buf`. */
static struct bbs_blob take_blob(struct bbs_arena *arena, struct bbs_buf *buf)
{
    struct bbs_blob b = {(const uint8_t *)"", 0, 1};

    if (buf->len > 0) {
        b.data = bbs_arena_memdup(arena, buf->data, buf->len);
        b.len = buf->len;
    }
    bbs_buf_free(buf);
    return b;
}

/* Is `p`/`n` a well-formed sequence of protobuf fields? */
static int wire_ok(const uint8_t *p, size_t n)
{
    size_t pos = 0;
    uint32_t f;
    const uint8_t *d;
    size_t len;
    int rc;

    while ((rc = bbs_pbr_next_len(p, n, &pos, &f, &d, &len)) == 1) {
    }
    return rc == 0;
}

/*
 * Sort `order` (indices into a keyed list) by key, ties by position, so
 * that the last of each run of equal keys is the one a proto map keeps.
 */
struct keyed {
    const char *key;
    size_t pos;
};

static int keyed_cmp(const void *x, const void *y)
{
    const struct keyed *a = x;
    const struct keyed *b = y;
    int c = strcmp(a->key, b->key);

    if (c != 0) {
        return c;
    }
    return (a->pos > b->pos) - (a->pos < b->pos);
}

/* ---- routes ---- */

int bbs_dlrp_encode_routes(struct bbs_arena *arena, const Models__ProtoRoutes *routes,
                           struct bbs_blob *out, struct bbs_error *err)
{
    size_t n = routes != NULL ? routes->n_routes : 0;
    struct keyed *order = NULL;
    struct bbs_buf buf = {0};
    struct bbs_buf scratch = {0};
    int rc = -1;

    if (n > 0) {
        order = bbs_arena_alloc(arena, n * sizeof(*order));
    }
    for (size_t i = 0; i < n; i++) {
        order[i].key = str(routes->routes[i]->key);
        order[i].pos = i;
    }
    if (n > 1) {
        qsort(order, n, sizeof(*order), keyed_cmp);
    }
    for (size_t i = 0; i < n; i++) {
        const ProtobufCBinaryData *v = &routes->routes[order[i].pos]->value;
        size_t clen = 0;
        size_t mark;

        if (i + 1 < n && strcmp(order[i].key, order[i + 1].key) == 0) {
            continue; /* a later duplicate wins */
        }
        /* Upstream re-encodes every value as JSON before storing it: a value
         * that is not JSON fails the whole request, and the others come
         * back compacted and HTML-escaped (2.6.3, quirk 16). */
        scratch.len = 0;
        bbs_buf_reserve(&scratch, 6 * v->len + 1);
        if (bbs_json_compact(v->data != NULL ? v->data : (const uint8_t *)"", v->len, scratch.data,
                             &clen) != 0) {
            bbs_error_set(err, BBS_ERR_INVALID_REQUEST);
            goto out;
        }
        mark = bbs_pbw_open(&buf, 1);
        bbs_pbw_bytes_always(&buf, 1, order[i].key, strlen(order[i].key));
        bbs_pbw_bytes_always(&buf, 2, scratch.data, clen);
        bbs_pbw_close(&buf, mark);
    }
    *out = take_blob(arena, &buf);
    rc = 0;
out:
    bbs_buf_free(&buf);
    bbs_buf_free(&scratch);
    return rc;
}

/* ---- metric tags ---- */

static void put_tag_value(struct bbs_buf *b, uint32_t field, const char *static_, int dynamic)
{
    size_t mark = bbs_pbw_open(b, field);

    bbs_pbw_string(b, 1, static_);
    bbs_pbw_int64(b, 2, dynamic);
    bbs_pbw_close(b, mark);
}

struct bbs_blob bbs_dlrp_encode_metric_tags(struct bbs_arena *arena,
                                            const struct bbs_dlrp_tag *tags, size_t n)
{
    struct keyed *order = NULL;
    struct bbs_buf buf = {0};

    if (n > 0) {
        order = bbs_arena_alloc(arena, n * sizeof(*order));
    }
    for (size_t i = 0; i < n; i++) {
        order[i].key = str(tags[i].key);
        order[i].pos = i;
    }
    if (n > 1) {
        qsort(order, n, sizeof(*order), keyed_cmp);
    }
    for (size_t i = 0; i < n; i++) {
        const Models__MetricTagValue *v = tags[order[i].pos].value;
        size_t mark;

        if (i + 1 < n && strcmp(order[i].key, order[i + 1].key) == 0) {
            continue;
        }
        mark = bbs_pbw_open(&buf, 1);
        bbs_pbw_bytes_always(&buf, 1, order[i].key, strlen(order[i].key));
        put_tag_value(&buf, 2, v != NULL ? v->static_ : NULL, v != NULL ? (int)v->dynamic : 0);
        bbs_pbw_close(&buf, mark);
    }
    return take_blob(arena, &buf);
}

/* Key and value of one stored map entry (either may be absent: empty). */
static int entry_parts(const uint8_t *e, size_t n, const uint8_t **key, size_t *klen,
                       const uint8_t **val, size_t *vlen)
{
    size_t pos = 0;
    uint32_t f;
    const uint8_t *d;
    size_t len;
    int rc;

    *key = (const uint8_t *)"";
    *klen = 0;
    *val = (const uint8_t *)"";
    *vlen = 0;
    while ((rc = bbs_pbr_next_len(e, n, &pos, &f, &d, &len)) == 1) {
        if (f == 1) {
            *key = d;
            *klen = len;
        } else if (f == 2) {
            *val = d;
            *vlen = len;
        }
    }
    return rc;
}

/* strcmp of a stored key against a C string. */
static int key_cmp(const uint8_t *k, size_t klen, const char *s)
{
    size_t slen = strlen(s);
    int c = memcmp(k, s, klen < slen ? klen : slen);

    if (c != 0) {
        return c;
    }
    return (klen > slen) - (klen < slen);
}

/*
 * Find the `source_id` tag in stored metric tags: sets `*found` and its
 * static value. -1 if the blob is malformed.
 */
static int find_source_id(const struct bbs_blob *tags, int *found, const uint8_t **static_,
                          size_t *slen)
{
    size_t pos = 0;
    uint32_t f;
    const uint8_t *e;
    size_t elen;
    int rc;

    *found = 0;
    while ((rc = bbs_pbr_next_len(tags->data, tags->len, &pos, &f, &e, &elen)) == 1) {
        const uint8_t *k;
        const uint8_t *v;
        size_t klen;
        size_t vlen;
        size_t vpos = 0;
        uint32_t vf;
        const uint8_t *d;
        size_t dlen;
        int vrc;

        if (entry_parts(e, elen, &k, &klen, &v, &vlen) != 0) {
            return -1;
        }
        if (key_cmp(k, klen, SOURCE_ID) != 0) {
            continue;
        }
        *found = 1;
        *static_ = (const uint8_t *)"";
        *slen = 0;
        while ((vrc = bbs_pbr_next_len(v, vlen, &vpos, &vf, &d, &dlen)) == 1) {
            if (vf == 1) {
                *static_ = d;
                *slen = dlen;
            }
        }
        if (vrc != 0) {
            return -1;
        }
    }
    return rc;
}

/*
 * Write stored metric tags as map field `field`; with `add_source` a
 * `source_id = {static: metrics_guid}` entry is merged in at its sorted
 * place (5.7).
 */
static int put_metric_tags(struct bbs_buf *b, uint32_t field, const struct bbs_blob *tags,
                           int add_source, const char *metrics_guid)
{
    size_t pos = 0;
    uint32_t f;
    const uint8_t *e;
    size_t elen;
    int rc;

    while ((rc = bbs_pbr_next_len(tags->data, tags->len, &pos, &f, &e, &elen)) == 1) {
        const uint8_t *k;
        const uint8_t *v;
        size_t klen;
        size_t vlen;

        if (add_source) {
            if (entry_parts(e, elen, &k, &klen, &v, &vlen) != 0) {
                return -1;
            }
            if (key_cmp(k, klen, SOURCE_ID) > 0) {
                size_t mark = bbs_pbw_open(b, field);

                bbs_pbw_string(b, 1, SOURCE_ID);
                put_tag_value(b, 2, metrics_guid, 0);
                bbs_pbw_close(b, mark);
                add_source = 0;
            }
        }
        bbs_pbw_bytes_always(b, field, e, elen);
    }
    if (rc == 0 && add_source) {
        size_t mark = bbs_pbw_open(b, field);

        bbs_pbw_string(b, 1, SOURCE_ID);
        put_tag_value(b, 2, metrics_guid, 0);
        bbs_pbw_close(b, mark);
    }
    return rc;
}

/* ---- split ---- */

struct port_pos {
    uint32_t port;
    size_t pos;
};

static int port_cmp(const void *x, const void *y)
{
    const struct port_pos *a = x;
    const struct port_pos *b = y;

    if (a->port != b->port) {
        return (a->port > b->port) - (a->port < b->port);
    }
    return (a->pos > b->pos) - (a->pos < b->pos);
}

/* Ports in order, each kept at its first occurrence. */
static uint32_t *dedup_ports(struct bbs_arena *arena, const uint32_t *ports, size_t n,
                             size_t *n_out)
{
    struct port_pos *sorted;
    unsigned char *keep;
    uint32_t *out;
    size_t k = 0;

    *n_out = 0;
    if (n == 0) {
        return NULL;
    }
    sorted = bbs_arena_alloc(arena, n * sizeof(*sorted));
    keep = bbs_arena_zalloc(arena, n);
    out = bbs_arena_alloc(arena, n * sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        sorted[i].port = ports[i];
        sorted[i].pos = i;
    }
    qsort(sorted, n, sizeof(*sorted), port_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || sorted[i].port != sorted[i - 1].port) {
            keep[sorted[i].pos] = 1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (keep[i]) {
            out[k++] = ports[i];
        }
    }
    *n_out = k;
    return out;
}

int bbs_dlrp_split(struct bbs_arena *arena, const Models__DesiredLRP *lrp, int64_t now_ns,
                   struct bbs_dlrp_row *out, struct bbs_error *err)
{
    Models__DesiredLRP ri = MODELS__DESIRED_LRP__INIT;
    struct bbs_buf buf = {0};
    struct bbs_dlrp_tag *tags = NULL;

    memset(out, 0, sizeof(*out));
    if (bbs_dlrp_encode_routes(arena, lrp->routes, &out->routes, err) != 0) {
        return -1;
    }
    out->process_guid = str(lrp->process_guid);
    out->domain = str(lrp->domain);
    out->log_guid = str(lrp->log_guid);
    out->annotation = str(lrp->annotation);
    out->instances = lrp->instances;
    out->memory_mb = lrp->memory_mb;
    out->disk_mb = lrp->disk_mb;
    out->max_pids = lrp->max_pids;
    out->rootfs = str(lrp->root_fs);
    out->metrics_guid = str(lrp->metrics_guid);
    out->update_strategy = (int32_t)lrp->update_strategy;
    out->mod_epoch = "";
    out->mod_index = 0;
    out->created_at_ns = now_ns;

    for (size_t i = 0; i < lrp->n_volume_mounts; i++) {
        const char *d = lrp->volume_mounts[i] != NULL ? str(lrp->volume_mounts[i]->driver) : "";

        bbs_pbw_bytes_always(&buf, 1, d, strlen(d));
    }
    out->volume_placement = take_blob(arena, &buf);

    for (size_t i = 0; i < lrp->n_placementtags; i++) {
        const char *t = str(lrp->placementtags[i]);

        bbs_pbw_bytes_always(&buf, 1, t, strlen(t));
    }
    out->placement_tags = take_blob(arena, &buf);

    if (lrp->n_metric_tags > 0) {
        tags = bbs_arena_alloc(arena, lrp->n_metric_tags * sizeof(*tags));
    }
    for (size_t i = 0; i < lrp->n_metric_tags; i++) {
        tags[i].key = lrp->metric_tags[i]->key;
        tags[i].value = lrp->metric_tags[i]->value;
    }
    out->metric_tags = bbs_dlrp_encode_metric_tags(arena, tags, lrp->n_metric_tags);

    /* run_info: exactly the fields no update can change. Column fields,
     * the client's modification tag (ignored) and the deprecated start
     * timeout (not stored) stay at their defaults, so they are not
     * written. */
    ri.n_environment_variables = lrp->n_environment_variables;
    ri.environment_variables = lrp->environment_variables;
    ri.setup = lrp->setup;
    ri.action = lrp->action;
    ri.monitor = lrp->monitor;
    ri.cpu_weight = lrp->cpu_weight;
    ri.privileged = lrp->privileged;
    ri.ports = dedup_ports(arena, lrp->ports, lrp->n_ports, &ri.n_ports);
    ri.log_source = (char *)str(lrp->log_source);
    ri.n_egress_rules = lrp->n_egress_rules;
    ri.egress_rules = lrp->egress_rules;
    ri.n_cached_dependencies = lrp->n_cached_dependencies;
    ri.cached_dependencies = lrp->cached_dependencies;
    ri.legacy_download_user = (char *)str(lrp->legacy_download_user);
    ri.trusted_system_certificates_path = (char *)str(lrp->trusted_system_certificates_path);
    ri.n_volume_mounts = lrp->n_volume_mounts;
    ri.volume_mounts = lrp->volume_mounts;
    ri.network = lrp->network;
    ri.start_timeout_ms = lrp->start_timeout_ms;
    ri.certificate_properties = lrp->certificate_properties;
    ri.image_username = (char *)str(lrp->image_username);
    ri.image_password = (char *)str(lrp->image_password);
    ri.check_definition = lrp->check_definition;
    ri.n_image_layers = lrp->n_image_layers;
    ri.image_layers = lrp->image_layers;
    ri.n_sidecars = lrp->n_sidecars;
    ri.sidecars = lrp->sidecars;
    ri.log_rate_limit = lrp->log_rate_limit;
    ri.n_volume_mounted_files = lrp->n_volume_mounted_files;
    ri.volume_mounted_files = lrp->volume_mounted_files;
    out->run_info.data = bbs_codec_pack(arena, &ri.base, &out->run_info.len);
    out->run_info.present = 1;
    return 0;
}

int bbs_dlrp_set_image_credentials(struct bbs_arena *arena, const struct bbs_blob *run_info,
                                   const Models__DesiredLRPUpdate *u, struct bbs_blob *out,
                                   struct bbs_error *err)
{
    Models__DesiredLRP *ri = (Models__DesiredLRP *)protobuf_c_message_unpack(
        &models__desired_lrp__descriptor, bbs_arena_pb_allocator(arena), run_info->len,
        run_info->data);

    if (ri == NULL) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "stored run info does not decode");
        return -1;
    }
    if (u->optional_image_username_case ==
        MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_USERNAME_IMAGE_USERNAME) {
        ri->image_username = (char *)str(u->image_username);
    }
    if (u->optional_image_password_case ==
        MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_PASSWORD_IMAGE_PASSWORD) {
        ri->image_password = (char *)str(u->image_password);
    }
    out->data = bbs_codec_pack(arena, &ri->base, &out->len);
    out->present = 1;
    return 0;
}

/* An update's metric tag entries as bbs_dlrp_encode_metric_tags() takes them. */
static struct bbs_blob update_metric_tags(struct bbs_arena *arena,
                                          Models__DesiredLRPUpdate__MetricTagsEntry *const *entries,
                                          size_t n)
{
    struct bbs_dlrp_tag *tags = bbs_arena_alloc(arena, n * sizeof(*tags));

    for (size_t i = 0; i < n; i++) {
        tags[i].key = entries[i]->key;
        tags[i].value = entries[i]->value;
    }
    return bbs_dlrp_encode_metric_tags(arena, tags, n);
}

const struct bbs_dlrp_update_codec bbs_dlrp_update_codec = {
    .encode_routes = bbs_dlrp_encode_routes,
    .encode_metric_tags = update_metric_tags,
    .set_image_credentials = bbs_dlrp_set_image_credentials,
};

/* ---- reads ---- */

static void put_mod_tag(struct bbs_buf *b, uint32_t field, const struct bbs_dlrp_row *row)
{
    size_t mark = bbs_pbw_open(b, field);

    bbs_pbw_string(b, 1, row->mod_epoch);
    bbs_pbw_uint64(b, 2, row->mod_index);
    bbs_pbw_close(b, mark);
}

/* The body of a full DesiredLRP (V3). */
static int put_full_body(struct bbs_buf *b, const struct bbs_dlrp_row *row, int fill)
{
    const uint8_t *mg = (const uint8_t *)row->metrics_guid;
    size_t mg_len = strlen(row->metrics_guid);
    const uint8_t *source = NULL;
    size_t source_len = 0;
    int found = 0;
    int add_source = 0;

    if (!wire_ok(row->run_info.data, row->run_info.len) ||
        !wire_ok(row->routes.data, row->routes.len) ||
        find_source_id(&row->metric_tags, &found, &source, &source_len) != 0) {
        return -1;
    }
    /* PopulateMetricsGuid (5.7): the deprecated metrics_guid and the
     * source_id tag stand in for each other when only one exists. */
    if (fill && found && mg_len == 0) {
        mg = source;
        mg_len = source_len;
    } else if (fill && !found && mg_len > 0) {
        add_source = 1;
    }

    bbs_pbw_string(b, F_PROCESS_GUID, row->process_guid);
    bbs_pbw_string(b, F_DOMAIN, row->domain);
    bbs_pbw_string(b, F_ROOT_FS, row->rootfs);
    bbs_pbw_int64(b, F_INSTANCES, row->instances);
    bbs_pbw_int64(b, F_DISK_MB, row->disk_mb);
    bbs_pbw_int64(b, F_MEMORY_MB, row->memory_mb);
    /* Upstream reads always produce a routes value, so field 15 is always
     * on the wire (2.6.3). */
    bbs_pbw_bytes_always(b, F_ROUTES, row->routes.data, row->routes.len);
    bbs_pbw_string(b, F_LOG_GUID, row->log_guid);
    bbs_pbw_bytes(b, F_METRICS_GUID, mg, mg_len);
    bbs_pbw_string(b, F_ANNOTATION, row->annotation);
    put_mod_tag(b, F_MODIFICATION_TAG, row);
    if (bbs_pbw_retag(b, F_PLACEMENT_TAGS, row->placement_tags.data, row->placement_tags.len) !=
        0) {
        return -1;
    }
    bbs_pbw_int64(b, F_MAX_PIDS, row->max_pids);
    if (put_metric_tags(b, F_METRIC_TAGS, &row->metric_tags, add_source, row->metrics_guid) != 0) {
        return -1;
    }
    bbs_pbw_int64(b, F_UPDATE_STRATEGY, row->update_strategy);
    bbs_pbw_raw(b, row->run_info.data, row->run_info.len);
    return 0;
}

/* DesiredLRPSchedulingInfo: NN submessages always written (2.6.2). */
static int put_sched_body(struct bbs_buf *b, const struct bbs_dlrp_row *row)
{
    size_t mark;

    if (!wire_ok(row->routes.data, row->routes.len) ||
        !wire_ok(row->volume_placement.data, row->volume_placement.len)) {
        return -1;
    }
    mark = bbs_pbw_open(b, 1); /* DesiredLRPKey */
    bbs_pbw_string(b, 1, row->process_guid);
    bbs_pbw_string(b, 2, row->domain);
    bbs_pbw_string(b, 3, row->log_guid);
    bbs_pbw_close(b, mark);
    bbs_pbw_string(b, 2, row->annotation);
    bbs_pbw_int64(b, 3, row->instances);
    mark = bbs_pbw_open(b, 4); /* DesiredLRPResource */
    bbs_pbw_int64(b, 1, row->memory_mb);
    bbs_pbw_int64(b, 2, row->disk_mb);
    bbs_pbw_string(b, 3, row->rootfs);
    bbs_pbw_int64(b, 4, row->max_pids);
    bbs_pbw_close(b, mark);
    bbs_pbw_bytes_always(b, 5, row->routes.data, row->routes.len);
    put_mod_tag(b, 6, row);
    bbs_pbw_bytes_always(b, 7, row->volume_placement.data, row->volume_placement.len);
    return bbs_pbw_retag(b, 8, row->placement_tags.data, row->placement_tags.len) == 0 ? 0 : -1;
}

/* Routing info: a DesiredLRP with only the fields routers read (5.7). */
static int put_routing_body(struct bbs_buf *b, const struct bbs_dlrp_row *row)
{
    if (!wire_ok(row->routes.data, row->routes.len)) {
        return -1;
    }
    bbs_pbw_string(b, F_PROCESS_GUID, row->process_guid);
    bbs_pbw_string(b, F_DOMAIN, row->domain);
    bbs_pbw_int64(b, F_INSTANCES, row->instances);
    bbs_pbw_bytes_always(b, F_ROUTES, row->routes.data, row->routes.len);
    bbs_pbw_string(b, F_LOG_GUID, row->log_guid);
    put_mod_tag(b, F_MODIFICATION_TAG, row);
    return bbs_pbw_retag(b, F_METRIC_TAGS, row->metric_tags.data, row->metric_tags.len) == 0 ? 0
                                                                                             : -1;
}

static int put_v2(struct bbs_buf *b, uint32_t field, struct bbs_arena *arena,
                  const struct bbs_dlrp_row *row, enum bbs_dlrp_view view)
{
    struct bbs_buf v3 = {0};
    Models__DesiredLRP *lrp = NULL;
    const uint8_t *packed;
    size_t len;
    int rc = -1;

    if (put_full_body(&v3, row, view == BBS_DLRP_VIEW_V2) != 0) {
        goto out;
    }
    lrp = (Models__DesiredLRP *)protobuf_c_message_unpack(
        &models__desired_lrp__descriptor, bbs_arena_pb_allocator(arena), v3.len,
        v3.data != NULL ? v3.data : (const uint8_t *)"");
    if (lrp == NULL) {
        goto out;
    }
    bbs_dlrp_to_v2(arena, lrp);
    if (view == BBS_DLRP_VIEW_EVENT_V0) {
        bbs_dlrp_to_v0(arena, lrp);
    }
    packed = bbs_codec_pack(arena, &lrp->base, &len);
    bbs_pbw_bytes_always(b, field, packed, len);
    rc = 0;
out:
    bbs_buf_free(&v3);
    return rc;
}

int bbs_dlrp_put(struct bbs_buf *b, uint32_t field, struct bbs_arena *arena,
                 const struct bbs_dlrp_row *row, enum bbs_dlrp_view view)
{
    size_t start = b->len;
    size_t mark;
    int rc = -1;

    if (view == BBS_DLRP_VIEW_V2 || view == BBS_DLRP_VIEW_EVENT_V0) {
        return put_v2(b, field, arena, row, view);
    }
    mark = bbs_pbw_open(b, field);
    switch (view) {
    case BBS_DLRP_VIEW_V3:
    case BBS_DLRP_VIEW_EVENT_V3:
        rc = put_full_body(b, row, view == BBS_DLRP_VIEW_V3);
        break;
    case BBS_DLRP_VIEW_SCHED:
        rc = put_sched_body(b, row);
        break;
    case BBS_DLRP_VIEW_ROUTING:
        rc = put_routing_body(b, row);
        break;
    case BBS_DLRP_VIEW_V2:
    case BBS_DLRP_VIEW_EVENT_V0:
        break;
    }
    if (rc != 0) {
        b->len = start;
        return -1;
    }
    bbs_pbw_close(b, mark);
    return 0;
}

size_t bbs_dlrp_put_rows(struct bbs_buf *b, uint32_t field, struct bbs_arena *arena,
                         const struct bbs_dlrp_rows *rows, enum bbs_dlrp_view view,
                         size_t *n_skipped, const char **first_skipped)
{
    size_t n = 0;

    *n_skipped = 0;
    *first_skipped = NULL;
    for (size_t i = 0; i < rows->n; i++) {
        struct bbs_dlrp_row row;

        rows->get(rows->src, i, &row);
        if (bbs_dlrp_put(b, field, arena, &row, view) != 0) {
            if ((*n_skipped)++ == 0) {
                *first_skipped = row.process_guid;
            }
            continue;
        }
        n++;
    }
    return n;
}

/* ---- V3 -> V2 (5.8) ---- */

/* Lower-case digest algorithm name; "" when unset or unknown. */
static const char *digest_name(Models__ImageLayer__DigestAlgorithm a)
{
    switch (a) {
    case MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA256:
        return "sha256";
    case MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA512:
        return "sha512";
    default:
        return "";
    }
}

static Models__Action *new_action(struct bbs_arena *arena)
{
    Models__Action *a = bbs_arena_alloc(arena, sizeof(*a));

    *a = (Models__Action)MODELS__ACTION__INIT;
    return a;
}

/*
 * Upstream rebuilds the old setup with WrapAction(UnwrapAction(setup)),
 * which keeps only its first present member.
 */
static Models__Action *rewrap(struct bbs_arena *arena, const Models__Action *in)
{
    Models__Action *a = new_action(arena);

    if (in->download_action != NULL) {
        a->download_action = in->download_action;
    } else if (in->upload_action != NULL) {
        a->upload_action = in->upload_action;
    } else if (in->run_action != NULL) {
        a->run_action = in->run_action;
    } else if (in->timeout_action != NULL) {
        a->timeout_action = in->timeout_action;
    } else if (in->emit_progress_action != NULL) {
        a->emit_progress_action = in->emit_progress_action;
    } else if (in->try_action != NULL) {
        a->try_action = in->try_action;
    } else if (in->parallel_action != NULL) {
        a->parallel_action = in->parallel_action;
    } else if (in->serial_action != NULL) {
        a->serial_action = in->serial_action;
    } else if (in->codependent_action != NULL) {
        a->codependent_action = in->codependent_action;
    }
    return a;
}

static Models__CachedDependency *layer_to_dependency(struct bbs_arena *arena,
                                                     const Models__ImageLayer *l)
{
    Models__CachedDependency *c = bbs_arena_alloc(arena, sizeof(*c));
    const char *alg = digest_name(l->digest_algorithm);

    *c = (Models__CachedDependency)MODELS__CACHED_DEPENDENCY__INIT;
    c->name = (char *)str(l->name);
    c->from = (char *)str(l->url);
    c->to = (char *)str(l->destination_path);
    c->checksum_algorithm = (char *)alg;
    c->checksum_value = (char *)str(l->digest_value);
    if (str(l->digest_value)[0] == '\0') {
        c->cache_key = (char *)str(l->url);
    } else {
        c->cache_key = bbs_arena_printf(arena, "%s:%s", alg, l->digest_value);
    }
    return c;
}

static Models__Action *layer_to_download(struct bbs_arena *arena, const Models__ImageLayer *l,
                                         const char *user)
{
    Models__DownloadAction *d = bbs_arena_alloc(arena, sizeof(*d));
    Models__Action *a = new_action(arena);
    const char *alg = digest_name(l->digest_algorithm);

    *d = (Models__DownloadAction)MODELS__DOWNLOAD_ACTION__INIT;
    d->artifact = (char *)str(l->name);
    d->from = (char *)str(l->url);
    d->to = (char *)str(l->destination_path);
    d->cache_key = bbs_arena_printf(arena, "%s:%s", alg, str(l->digest_value));
    d->user = (char *)user;
    d->checksum_algorithm = (char *)alg;
    d->checksum_value = (char *)str(l->digest_value);
    a->download_action = d;
    return a;
}

void bbs_dlrp_to_v2(struct bbs_arena *arena, Models__DesiredLRP *lrp)
{
    size_t n_shared = 0;
    size_t n_excl = 0;
    Models__CachedDependency **deps;
    Models__Action **downloads;
    size_t k;

    for (size_t i = 0; i < lrp->n_image_layers; i++) {
        if (lrp->image_layers[i]->layer_type == MODELS__IMAGE_LAYER__TYPE__SHARED) {
            n_shared++;
        } else if (lrp->image_layers[i]->layer_type == MODELS__IMAGE_LAYER__TYPE__EXCLUSIVE) {
            n_excl++;
        }
    }
    if (n_shared > 0) {
        deps = bbs_arena_alloc(arena, (n_shared + lrp->n_cached_dependencies) * sizeof(*deps));
        k = 0;
        for (size_t i = 0; i < lrp->n_image_layers; i++) {
            if (lrp->image_layers[i]->layer_type == MODELS__IMAGE_LAYER__TYPE__SHARED) {
                deps[k++] = layer_to_dependency(arena, lrp->image_layers[i]);
            }
        }
        for (size_t i = 0; i < lrp->n_cached_dependencies; i++) {
            deps[k++] = lrp->cached_dependencies[i];
        }
        lrp->cached_dependencies = deps;
        lrp->n_cached_dependencies = k;
    }
    if (n_excl > 0) {
        Models__ParallelAction *par = bbs_arena_alloc(arena, sizeof(*par));
        Models__Action *par_action = new_action(arena);
        const char *user = str(lrp->legacy_download_user);

        downloads = bbs_arena_alloc(arena, n_excl * sizeof(*downloads));
        k = 0;
        for (size_t i = 0; i < lrp->n_image_layers; i++) {
            if (lrp->image_layers[i]->layer_type == MODELS__IMAGE_LAYER__TYPE__EXCLUSIVE) {
                downloads[k++] = layer_to_download(arena, lrp->image_layers[i], user);
            }
        }
        *par = (Models__ParallelAction)MODELS__PARALLEL_ACTION__INIT;
        par->n_actions = k;
        par->actions = downloads;
        par_action->parallel_action = par;
        if (lrp->setup != NULL) {
            Models__SerialAction *ser = bbs_arena_alloc(arena, sizeof(*ser));
            Models__Action **pair = bbs_arena_alloc(arena, 2 * sizeof(*pair));
            Models__Action *ser_action = new_action(arena);

            pair[0] = par_action;
            pair[1] = rewrap(arena, lrp->setup);
            *ser = (Models__SerialAction)MODELS__SERIAL_ACTION__INIT;
            ser->n_actions = 2;
            ser->actions = pair;
            ser_action->serial_action = ser;
            lrp->setup = ser_action;
        } else {
            lrp->setup = par_action;
        }
    }
    lrp->n_image_layers = 0;
    lrp->image_layers = NULL;
}

/* ---- V2 -> V0 (5.8) ---- */

static Models__Action *wrap_list(struct bbs_arena *arena, Models__Action **actions, size_t n,
                                 int serial)
{
    Models__Action *a = new_action(arena);

    if (serial) {
        Models__SerialAction *s = bbs_arena_alloc(arena, sizeof(*s));

        *s = (Models__SerialAction)MODELS__SERIAL_ACTION__INIT;
        s->n_actions = n;
        s->actions = actions;
        a->serial_action = s;
    } else {
        Models__ParallelAction *p = bbs_arena_alloc(arena, sizeof(*p));

        *p = (Models__ParallelAction)MODELS__PARALLEL_ACTION__INIT;
        p->n_actions = n;
        p->actions = actions;
        a->parallel_action = p;
    }
    return a;
}

static Models__Action *v0_action(struct bbs_arena *arena, Models__Action *in);

/* Each member walked; one that walks to nothing stays an empty Action. */
static Models__Action **v0_list(struct bbs_arena *arena, Models__Action **in, size_t n)
{
    Models__Action **out = bbs_arena_alloc(arena, (n ? n : 1) * sizeof(*out));

    for (size_t i = 0; i < n; i++) {
        out[i] = v0_action(arena, in[i]);
        if (out[i] == NULL) {
            out[i] = new_action(arena);
        }
    }
    return out;
}

/*
 * Upstream's SetDeprecatedTimeoutNs: the first member present decides
 * (download, upload, run: kept as is; timeout: a copy with the deprecated
 * field, its inner action not walked; emit-progress and try: replaced by
 * their walked inner action; parallel, serial, codependent: members
 * walked, the rest of the Action dropped).
 */
static Models__Action *v0_action(struct bbs_arena *arena, Models__Action *in)
{
    Models__Action *a;

    if (in == NULL || in->download_action != NULL || in->upload_action != NULL ||
        in->run_action != NULL) {
        return in;
    }
    if (in->timeout_action != NULL) {
        Models__TimeoutAction *t = bbs_arena_alloc(arena, sizeof(*t));

        *t = *in->timeout_action;
        t->deprecated_timeout_ns = t->timeout_ms * INT64_C(1000000);
        a = new_action(arena);
        a->timeout_action = t;
        return a;
    }
    if (in->emit_progress_action != NULL) {
        return v0_action(arena, in->emit_progress_action->action);
    }
    if (in->try_action != NULL) {
        return v0_action(arena, in->try_action->action);
    }
    if (in->parallel_action != NULL) {
        return wrap_list(
            arena, v0_list(arena, in->parallel_action->actions, in->parallel_action->n_actions),
            in->parallel_action->n_actions, 0);
    }
    if (in->serial_action != NULL) {
        return wrap_list(arena,
                         v0_list(arena, in->serial_action->actions, in->serial_action->n_actions),
                         in->serial_action->n_actions, 1);
    }
    if (in->codependent_action != NULL) {
        Models__CodependentAction *c = bbs_arena_alloc(arena, sizeof(*c));

        *c = *in->codependent_action;
        c->actions = v0_list(arena, c->actions, c->n_actions);
        a = new_action(arena);
        a->codependent_action = c;
        return a;
    }
    return in;
}

void bbs_dlrp_to_v0(struct bbs_arena *arena, Models__DesiredLRP *lrp)
{
    lrp->action = v0_action(arena, lrp->action);
    lrp->setup = v0_action(arena, lrp->setup);
    lrp->monitor = v0_action(arena, lrp->monitor);
    lrp->deprecated_start_timeout_s = (uint32_t)lrp->start_timeout_ms / 1000;
    if (lrp->n_cached_dependencies > 0) {
        size_t n = lrp->n_cached_dependencies;
        Models__Action **downloads = bbs_arena_alloc(arena, n * sizeof(*downloads));
        Models__Action **steps = bbs_arena_alloc(arena, 2 * sizeof(*steps));
        const char *user = str(lrp->legacy_download_user);

        for (size_t i = 0; i < n; i++) {
            const Models__CachedDependency *c = lrp->cached_dependencies[i];
            Models__DownloadAction *d = bbs_arena_alloc(arena, sizeof(*d));

            *d = (Models__DownloadAction)MODELS__DOWNLOAD_ACTION__INIT;
            d->artifact = (char *)str(c->name);
            d->from = (char *)str(c->from);
            d->to = (char *)str(c->to);
            d->cache_key = (char *)str(c->cache_key);
            d->log_source = (char *)str(c->log_source);
            d->user = (char *)user;
            downloads[i] = new_action(arena);
            downloads[i]->download_action = d;
        }
        steps[0] = wrap_list(arena, downloads, n, 0);
        if (lrp->setup != NULL) {
            steps[1] = rewrap(arena, lrp->setup);
        }
        lrp->setup = wrap_list(arena, steps, lrp->setup != NULL ? 2 : 1, 1);
        lrp->n_cached_dependencies = 0;
        lrp->cached_dependencies = NULL;
    }
}

/* ---- auction ---- */

/* The field-1 strings of `blob` as an arena array; NULL when none. */
static int strings_of(struct bbs_arena *arena, const struct bbs_blob *blob, const char *const **out,
                      size_t *n_out)
{
    size_t pos = 0;
    uint32_t f;
    const uint8_t *d;
    size_t len;
    size_t n = 0;
    const char **arr;
    int rc;

    *out = NULL;
    *n_out = 0;
    while ((rc = bbs_pbr_next_len(blob->data, blob->len, &pos, &f, &d, &len)) == 1) {
        n += f == 1;
    }
    if (rc != 0) {
        return -1;
    }
    if (n == 0) {
        return 0;
    }
    arr = bbs_arena_alloc(arena, n * sizeof(*arr));
    pos = 0;
    n = 0;
    while (bbs_pbr_next_len(blob->data, blob->len, &pos, &f, &d, &len) == 1) {
        if (f == 1) {
            arr[n++] = bbs_arena_strndup(arena, (const char *)d, len);
        }
    }
    *out = arr;
    *n_out = n;
    return 0;
}

int bbs_dlrp_auction_start(struct bbs_arena *arena, const struct bbs_dlrp_row *row,
                           struct bbs_auction_start *out)
{
    memset(out, 0, sizeof(*out));
    out->process_guid = row->process_guid;
    out->domain = row->domain;
    out->root_fs = row->rootfs;
    out->memory_mb = row->memory_mb;
    out->disk_mb = row->disk_mb;
    out->max_pids = row->max_pids;
    if (strings_of(arena, &row->placement_tags, &out->placement_tags, &out->n_placement_tags) !=
            0 ||
        strings_of(arena, &row->volume_placement, &out->volume_drivers, &out->n_volume_drivers) !=
            0) {
        return -1;
    }
    return 0;
}
