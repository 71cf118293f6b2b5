/*
 * task_codec.h - Task rows as wire messages (reference part 2, 11.2), and
 * what the handlers, the store and the effects read from a stored
 * TaskDefinition.
 *
 * A task row keeps its definition as the TaskDefinition's protobuf bytes
 * (task.h). A V3 Task is written field by field from the columns with the
 * definition bytes spliced in as field 1, so reads never decode it; the V2
 * view (11.2.5) decodes the definition, turns image layers into cached
 * dependencies and download actions, and packs it again.
 *
 * Pure apart from arena allocation: no I/O, clock or logging. What this
 * module does not do: validate (validate_task.h) or decide transitions
 * (task.h).
 */
#ifndef BBS_TASK_CODEC_H
#define BBS_TASK_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/arena.h"
#include "bbs/buf.h"
#include "bbs/error.h"
#include "bbs/task.h"
#include "task.pb-c.h"

/* The revision a Task is written at. */
enum bbs_task_view {
    BBS_TASK_VIEW_V3, /* as stored (list.r3, get.r3, tasks.r1 events) */
    BBS_TASK_VIEW_V2, /* down-converted (11.2.5: list.r2, get.r2, the deprecated stream) */
};

/*
 * Append `t` as length-delimited Task field `field` of the message being
 * built in `b` (field 0: write the bare Task body, no tag or length, for a
 * top-level message such as an event payload). The definition is always
 * written (field 1, even when empty). V2 decodes the definition; when it
 * does not decode, returns -1 with `b` unchanged (V3 never fails: the
 * bytes are spliced as stored; use bbs_task_definition_ok to check them).
 * `arena` is scratch for V2 (may be NULL for V3).
 */
BBS_MUST_CHECK int bbs_task_put(struct bbs_buf *b, uint32_t field, struct bbs_arena *arena,
                                const struct bbs_task *t, enum bbs_task_view view);

/* 1 when `def` decodes as a TaskDefinition (reads answer Deserialize otherwise, 11.9 q5). */
int bbs_task_definition_ok(const struct bbs_blob *def);

/*
 * Decode a stored definition into `arena`. NULL with Deserialize
 * ("could not deserialize" style message) when the bytes do not decode.
 */
Models__TaskDefinition *bbs_task_decode_definition(struct bbs_arena *arena,
                                                   const struct bbs_blob *def,
                                                   struct bbs_error *err);

/* Pack a definition as stored (`def` NULL packs an empty one); bytes in `arena`. */
struct bbs_blob bbs_task_encode_definition(struct bbs_arena *arena,
                                           const Models__TaskDefinition *def);

/*
 * V3 -> V2 in place (11.2.5): SHARED layers become cached dependencies
 * (prepended), EXCLUSIVE ones download actions run in parallel before
 * `action` (serial), image_layers cleared. New nodes come from `arena`.
 */
void bbs_task_definition_to_v2(struct bbs_arena *arena, Models__TaskDefinition *def);

/*
 * The auction request for a task (11.5.2) from its decoded definition:
 * placement tags NULL when there are none (JSON null), volume drivers the
 * driver of each volume mount (NULL = []). Strings and arrays are
 * borrowed from `def`, `guid`, `domain`, or allocated in `arena`.
 */
void bbs_task_start_of(struct bbs_arena *arena, const char *guid, const char *domain,
                       const Models__TaskDefinition *def, struct bbs_task_start *out);

/*
 * What a callback needs from a stored task (11.6): its url and annotation
 * ("" when unset), and `t` itself. -1 with Deserialize when the definition
 * does not decode. Strings in `arena`.
 */
BBS_MUST_CHECK int bbs_task_callback_of(struct bbs_arena *arena, const struct bbs_task *t,
                                        struct bbs_task_callback_due *out, struct bbs_error *err);

#endif /* BBS_TASK_CODEC_H */
