/*
 * alrp_codec.c - ActualLRP encoders and the generic decode helpers.
 */
#include <stdlib.h>
#include <string.h>

#include "bbs/codec.h"
#include "bbs/pbw.h"

void bbs_codec_put_alrp(struct bbs_buf *b, uint32_t field, const struct bbs_alrp *a)
{
    size_t lrp = bbs_pbw_open(b, field);
    size_t sub;

    sub = bbs_pbw_open(b, 1); /* ActualLRPKey */
    bbs_pbw_string(b, 1, a->key.process_guid);
    bbs_pbw_int64(b, 2, a->key.index);
    bbs_pbw_string(b, 3, a->key.domain);
    bbs_pbw_close(b, sub);

    sub = bbs_pbw_open(b, 2); /* ActualLRPInstanceKey */
    bbs_pbw_string(b, 1, a->instance.instance_guid);
    bbs_pbw_string(b, 2, a->instance.cell_id);
    bbs_pbw_close(b, sub);

    bbs_pbw_bytes_always(b, 3, a->net_info.data, a->net_info.len);
    bbs_pbw_int64(b, 4, a->crash_count);
    bbs_pbw_string(b, 5, a->crash_reason);
    bbs_pbw_string(b, 6, bbs_alrp_state_name(a->state));
    bbs_pbw_string(b, 7, a->placement_error);
    bbs_pbw_int64(b, 8, a->since_ns);

    sub = bbs_pbw_open(b, 9); /* ModificationTag */
    bbs_pbw_string(b, 1, a->mod_epoch);
    bbs_pbw_uint64(b, 2, a->mod_index);
    bbs_pbw_close(b, sub);

    bbs_pbw_int64(b, 10, a->presence);
    if (a->internal_routes.present) {
        bbs_pbw_raw(b, a->internal_routes.data, a->internal_routes.len);
    }
    if (a->metric_tags.present) {
        bbs_pbw_raw(b, a->metric_tags.data, a->metric_tags.len);
    }
    bbs_pbw_int64_always(b, 13, a->routable ? 1 : 0); /* upstream always sets it */
    bbs_pbw_string(b, 14, a->availability_zone);
    bbs_pbw_close(b, lrp);
}

static void skip(struct bbs_codec_skipped *skipped, const struct bbs_alrp *a)
{
    if (skipped->n++ == 0) {
        skipped->first = a->key;
    }
}

void bbs_codec_put_alrps(struct bbs_buf *b, uint32_t field, const struct bbs_alrp_rows *rows,
                         struct bbs_codec_skipped *skipped)
{
    memset(skipped, 0, sizeof(*skipped));
    /* A RUNNING row encodes to roughly 200 bytes: reserve once. */
    bbs_buf_reserve(b, rows->n * 192);
    for (size_t i = 0; i < rows->n; i++) {
        struct bbs_alrp a; /* the getter fills at least the key */

        if (rows->get(rows->src, i, &a) != 0) {
            skip(skipped, &a);
            continue;
        }
        bbs_codec_put_alrp(b, field, &a);
    }
}

static void put_group(struct bbs_buf *b, uint32_t field, const struct bbs_alrp_group *g)
{
    size_t mark = bbs_pbw_open(b, field);

    if (g->instance != NULL) {
        bbs_codec_put_alrp(b, 1, g->instance);
    }
    if (g->evacuating != NULL) {
        bbs_codec_put_alrp(b, 2, g->evacuating);
    }
    bbs_pbw_close(b, mark);
}

size_t bbs_codec_put_groups(struct bbs_buf *b, uint32_t field, const struct bbs_alrp_rows *rows,
                            struct bbs_codec_skipped *skipped)
{
    struct bbs_group_fold fold;
    struct bbs_alrp_group done;
    size_t n = 0;

    memset(skipped, 0, sizeof(*skipped));
    bbs_group_fold_init(&fold);
    for (size_t i = 0; i < rows->n; i++) {
        struct bbs_alrp a;

        if (rows->get(rows->src, i, &a) != 0) {
            skip(skipped, &a);
            continue;
        }
        if (bbs_group_fold_add(&fold, &a, &done)) {
            put_group(b, field, &done);
            n++;
        }
    }
    if (bbs_group_fold_finish(&fold, &done)) {
        put_group(b, field, &done);
        n++;
    }
    return n;
}

void bbs_codec_put_strings(struct bbs_buf *b, uint32_t field, const char *const *strs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bbs_pbw_bytes_always(b, field, strs[i], strlen(strs[i]));
    }
}

void bbs_codec_put_error(struct bbs_buf *b, const struct bbs_error *err)
{
    size_t e = bbs_pbw_open(b, 1);

    bbs_pbw_int64(b, 1, err->type);
    bbs_pbw_string(b, 2, err->message);
    bbs_pbw_close(b, e);
}

void bbs_codec_strip_unknown(ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d;

    if (m == NULL) {
        return;
    }
    d = m->descriptor;
    m->n_unknown_fields = 0;
    m->unknown_fields = NULL;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        char *base = (char *)m;

        if (f->type != PROTOBUF_C_TYPE_MESSAGE) {
            continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(size_t *)(base + f->quantifier_offset);
            ProtobufCMessage **arr = *(ProtobufCMessage ***)(base + f->offset);

            for (size_t j = 0; j < n; j++) {
                bbs_codec_strip_unknown(arr[j]);
            }
        } else {
            /* In a oneof, only the member the case names is live. */
            if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                *(uint32_t *)(base + f->quantifier_offset) != f->id) {
                continue;
            }
            bbs_codec_strip_unknown(*(ProtobufCMessage **)(base + f->offset));
        }
    }
}

ProtobufCMessage *bbs_codec_decode(struct bbs_arena *arena, const ProtobufCMessageDescriptor *d,
                                   const uint8_t *data, size_t len, struct bbs_error *err)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(d, bbs_arena_pb_allocator(arena), len, data);

    if (m == NULL) {
        bbs_error_set(err, BBS_ERR_INVALID_REQUEST);
        return NULL;
    }
    bbs_codec_strip_unknown(m);
    return m;
}

uint8_t *bbs_codec_pack(struct bbs_arena *arena, const ProtobufCMessage *m, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *p = bbs_arena_alloc(arena, n > 0 ? n : 1);

    *len = protobuf_c_message_pack(m, p);
    return p;
}

struct bbs_blob bbs_codec_net_info(struct bbs_arena *arena, const Models__ActualLRPNetInfo *n)
{
    struct bbs_blob b = {NULL, 0, 1};

    if (n != NULL) {
        b.data = bbs_codec_pack(arena, &n->base, &b.len);
    }
    return b;
}

struct bbs_blob bbs_codec_internal_routes(struct bbs_arena *arena,
                                          Models__ActualLRPInternalRoute *const *routes, size_t n,
                                          int present)
{
    struct bbs_buf buf = {0};
    struct bbs_blob b = {NULL, 0, present || n > 0};

    for (size_t i = 0; i < n; i++) {
        size_t mark = bbs_pbw_open(&buf, 11);

        bbs_pbw_string(&buf, 1, routes[i]->hostname);
        bbs_pbw_close(&buf, mark);
    }
    if (buf.len > 0) {
        b.data = bbs_arena_memdup(arena, buf.data, buf.len);
        b.len = buf.len;
    }
    bbs_buf_free(&buf);
    return b;
}

static int kv_before(const struct bbs_kv *a, const struct bbs_kv *b)
{
    return strcmp(a->key, b->key) > 0;
}

struct bbs_blob bbs_codec_string_map(struct bbs_arena *arena, struct bbs_kv *entries, size_t n,
                                     int present)
{
    struct bbs_buf buf = {0};
    struct bbs_blob b = {NULL, 0, present || n > 0};

    if (n == 0) {
        return b;
    }
    /* Stable insertion sort (maps are small): equal keys keep their input
     * order, so the last of a run is the occurrence that wins. */
    for (size_t i = 1; i < n; i++) {
        struct bbs_kv e = entries[i];
        size_t j = i;

        while (j > 0 && kv_before(&entries[j - 1], &e)) {
            entries[j] = entries[j - 1];
            j--;
        }
        entries[j] = e;
    }
    for (size_t i = 0; i < n; i++) {
        size_t mark;

        if (i + 1 < n && strcmp(entries[i].key, entries[i + 1].key) == 0) {
            continue;
        }
        mark = bbs_pbw_open(&buf, 12);
        bbs_pbw_string(&buf, 1, entries[i].key);
        bbs_pbw_string(&buf, 2, entries[i].value);
        bbs_pbw_close(&buf, mark);
    }
    b.data = bbs_arena_memdup(arena, buf.data, buf.len);
    b.len = buf.len;
    bbs_buf_free(&buf);
    return b;
}
