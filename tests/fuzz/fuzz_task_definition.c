/*
 * fuzz_task_definition.c - a stored TaskDefinition as the task codec reads
 * it (task_codec.h): decode, V3 and V2 encodes of a task carrying it, the
 * auction and callback fields.
 *
 * Input: the definition bytes as stored. Properties beyond "no crash,
 * leak, UB or hang": bbs_task_definition_ok agrees with the decoder; V3
 * always succeeds; V2 succeeds exactly when the definition decodes, and
 * what it writes decodes as a Task whose definition has no image layers.
 */
#include <stdlib.h>

#include "bbs/arena.h"
#include "bbs/buf.h"
#include "bbs/pbw.h"
#include "bbs/task_codec.h"
#include "fuzz.h"
#include "task.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bbs_arena *arena = bbs_arena_new();
    struct bbs_task t = {0};
    struct bbs_buf b = {0};
    struct bbs_error e = {0};
    Models__TaskDefinition *def;
    int ok;

    t.guid = "t";
    t.domain = "d";
    t.state = BBS_TASK_PENDING;
    t.cell_id = "";
    t.result = "";
    t.failure_reason = "";
    t.rejection_reason = "";
    t.definition = (struct bbs_blob){data, size, 1};
    ok = bbs_task_definition_ok(&t.definition);
    def = bbs_task_decode_definition(arena, &t.definition, &e);
    if ((def != NULL) != ok) {
        abort();
    }
    if (bbs_task_put(&b, 2, arena, &t, BBS_TASK_VIEW_V3) != 0) {
        abort();
    }
    b.len = 0;
    if ((bbs_task_put(&b, 2, arena, &t, BBS_TASK_VIEW_V2) == 0) != ok) {
        abort();
    }
    if (ok) {
        struct bbs_task_start s;
        struct bbs_task_callback_due due;
        size_t pos = 0;
        uint32_t field;
        const uint8_t *body;
        size_t len;
        Models__Task *m;

        if (bbs_pbr_next_len(b.data, b.len, &pos, &field, &body, &len) != 1) {
            abort();
        }
        m = (Models__Task *)protobuf_c_message_unpack(&models__task__descriptor,
                                                      bbs_arena_pb_allocator(arena), len, body);
        if (m == NULL || m->task_definition == NULL || m->task_definition->n_image_layers != 0) {
            abort();
        }
        bbs_task_start_of(arena, t.guid, t.domain, def, &s);
        if (bbs_task_callback_of(arena, &t, &due, &e) != 0) {
            abort();
        }
    }
    bbs_buf_free(&b);
    bbs_arena_free(arena);
    return 0;
}
