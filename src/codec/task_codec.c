/*
 * task_codec.c - Task rows as wire messages (see task_codec.h).
 *
 * V3 is written straight from the row: the definition bytes verbatim as
 * field 1, then the columns. Only V2 unpacks the definition (protobuf-c,
 * into the arena); its layer rules are those of the DesiredLRP conversion
 * (5.8) with `action` in the place of `setup`, so the conversion borrows
 * bbs_dlrp_to_v2 on a DesiredLRP that carries just those four fields.
 */
#include "bbs/task_codec.h"

#include <string.h>

#include "bbs/codec.h"
#include "bbs/dlrp_codec.h"
#include "bbs/pbw.h"
#include "desired_lrp.pb-c.h"

/* Task field numbers (11.2.2). */
enum {
    F_TASK_DEFINITION = 1,
    F_TASK_GUID = 2,
    F_DOMAIN = 3,
    F_CREATED_AT = 4,
    F_UPDATED_AT = 5,
    F_FIRST_COMPLETED_AT = 6,
    F_STATE = 7,
    F_CELL_ID = 8,
    F_RESULT = 9,
    F_FAILED = 10,
    F_FAILURE_REASON = 11,
    F_REJECTION_COUNT = 12,
    F_REJECTION_REASON = 13,
};

static const char *str(const char *s)
{
    return s != NULL ? s : "";
}

static const uint8_t *bytes_of(const struct bbs_blob *b)
{
    return b->data != NULL ? b->data : (const uint8_t *)"";
}

/* The Task body with `def`/`def_len` as its definition. */
static void put_body(struct bbs_buf *b, const struct bbs_task *t, const uint8_t *def,
                     size_t def_len)
{
    bbs_pbw_bytes_always(b, F_TASK_DEFINITION, def, def_len);
    bbs_pbw_string(b, F_TASK_GUID, str(t->guid));
    bbs_pbw_string(b, F_DOMAIN, str(t->domain));
    bbs_pbw_int64(b, F_CREATED_AT, t->created_at);
    bbs_pbw_int64(b, F_UPDATED_AT, t->updated_at);
    bbs_pbw_int64(b, F_FIRST_COMPLETED_AT, t->first_completed_at);
    bbs_pbw_int64(b, F_STATE, (int64_t)t->state);
    bbs_pbw_string(b, F_CELL_ID, str(t->cell_id));
    bbs_pbw_string(b, F_RESULT, str(t->result));
    bbs_pbw_int64(b, F_FAILED, t->failed ? 1 : 0);
    bbs_pbw_string(b, F_FAILURE_REASON, str(t->failure_reason));
    bbs_pbw_int64(b, F_REJECTION_COUNT, t->rejection_count);
    bbs_pbw_string(b, F_REJECTION_REASON, str(t->rejection_reason));
}

static void put_task(struct bbs_buf *b, uint32_t field, const struct bbs_task *t,
                     const uint8_t *def, size_t def_len)
{
    size_t mark;

    if (field == 0) {
        put_body(b, t, def, def_len);
        return;
    }
    mark = bbs_pbw_open(b, field);
    put_body(b, t, def, def_len);
    bbs_pbw_close(b, mark);
}

int bbs_task_put(struct bbs_buf *b, uint32_t field, struct bbs_arena *arena,
                 const struct bbs_task *t, enum bbs_task_view view)
{
    Models__TaskDefinition *def;
    struct bbs_blob v2;
    struct bbs_error e;

    if (view == BBS_TASK_VIEW_V3) {
        put_task(b, field, t, bytes_of(&t->definition), t->definition.len);
        return 0;
    }
    /* Not `= {0}`: that zeroes 4 KB per task of a list; the decoder sets
     * it only on failure, which is not read here. */
    e.type = BBS_ERR_UNKNOWN;
    e.message[0] = '\0';
    def = bbs_task_decode_definition(arena, &t->definition, &e);
    if (def == NULL) {
        return -1;
    }
    if (def->n_image_layers == 0) { /* nothing to convert: the stored bytes are V2 already */
        put_task(b, field, t, bytes_of(&t->definition), t->definition.len);
        return 0;
    }
    bbs_task_definition_to_v2(arena, def);
    v2 = bbs_task_encode_definition(arena, def);
    put_task(b, field, t, bytes_of(&v2), v2.len);
    return 0;
}

int bbs_task_definition_ok(const struct bbs_blob *def)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(&models__task_definition__descriptor, NULL,
                                                    def->len, bytes_of(def));

    if (m == NULL) {
        return 0;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return 1;
}

Models__TaskDefinition *bbs_task_decode_definition(struct bbs_arena *arena,
                                                   const struct bbs_blob *def,
                                                   struct bbs_error *err)
{
    Models__TaskDefinition *d = (Models__TaskDefinition *)protobuf_c_message_unpack(
        &models__task_definition__descriptor, bbs_arena_pb_allocator(arena), def->len,
        bytes_of(def));

    if (d == NULL) {
        bbs_error_set(err, BBS_ERR_DESERIALIZE);
        return NULL;
    }
    /* protobuf-c keeps unknown fields and packs them again; one it parsed
     * (field number 0, say) may not parse a second time. */
    bbs_codec_strip_unknown(&d->base);
    return d;
}

struct bbs_blob bbs_task_encode_definition(struct bbs_arena *arena,
                                           const Models__TaskDefinition *def)
{
    static const Models__TaskDefinition empty = MODELS__TASK_DEFINITION__INIT;
    struct bbs_blob out = {(const uint8_t *)"", 0, 1};
    size_t len = 0;
    uint8_t *p = bbs_codec_pack(arena, &(def != NULL ? def : &empty)->base, &len);

    if (len > 0) {
        out.data = p;
        out.len = len;
    }
    return out;
}

void bbs_task_definition_to_v2(struct bbs_arena *arena, Models__TaskDefinition *def)
{
    Models__DesiredLRP lrp = MODELS__DESIRED_LRP__INIT;

    /* The DesiredLRP rule rewrites setup; a task's `action` plays its part. */
    lrp.n_image_layers = def->n_image_layers;
    lrp.image_layers = def->image_layers;
    lrp.n_cached_dependencies = def->n_cached_dependencies;
    lrp.cached_dependencies = def->cached_dependencies;
    lrp.legacy_download_user = def->legacy_download_user;
    lrp.setup = def->action;
    bbs_dlrp_to_v2(arena, &lrp);
    def->n_image_layers = lrp.n_image_layers;
    def->image_layers = lrp.image_layers;
    def->n_cached_dependencies = lrp.n_cached_dependencies;
    def->cached_dependencies = lrp.cached_dependencies;
    def->action = lrp.setup;
}

void bbs_task_start_of(struct bbs_arena *arena, const char *guid, const char *domain,
                       const Models__TaskDefinition *def, struct bbs_task_start *out)
{
    memset(out, 0, sizeof(*out));
    out->task_guid = str(guid);
    out->domain = str(domain);
    if (def == NULL) {
        out->root_fs = "";
        return;
    }
    out->root_fs = str(def->root_fs);
    out->memory_mb = def->memory_mb;
    out->disk_mb = def->disk_mb;
    out->max_pids = def->max_pids;
    if (def->n_placement_tags > 0) {
        out->placement_tags = (const char *const *)def->placement_tags;
        out->n_placement_tags = def->n_placement_tags;
    }
    if (def->n_volume_mounts > 0) {
        const char **drivers = bbs_arena_alloc(arena, def->n_volume_mounts * sizeof(*drivers));

        for (size_t i = 0; i < def->n_volume_mounts; i++) {
            drivers[i] = def->volume_mounts[i] != NULL ? str(def->volume_mounts[i]->driver) : "";
        }
        out->volume_drivers = drivers;
        out->n_volume_drivers = def->n_volume_mounts;
    }
}

int bbs_task_callback_of(struct bbs_arena *arena, const struct bbs_task *t,
                         struct bbs_task_callback_due *out, struct bbs_error *err)
{
    Models__TaskDefinition *def = bbs_task_decode_definition(arena, &t->definition, err);

    if (def == NULL) {
        return -1;
    }
    out->task = t;
    out->url = str(def->completion_callback_url);
    out->annotation = str(def->annotation);
    return 0;
}
