/*
 * task.h - a Task as the core sees it (reference part 2, 11): the stored
 * row, its states, and what the change record carries for it.
 *
 * The definition stays the protobuf bytes of a TaskDefinition as stored
 * (tasks.task_definition), so reads splice it without decoding; the codec
 * (task_codec.h) encodes and decodes, the core decides on the scalar
 * columns only.
 */
#ifndef BBS_TASK_H
#define BBS_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/alrp.h" /* struct bbs_blob */

/* Task.State numbers (11.2.1), as stored in tasks.state. */
enum bbs_task_state {
    BBS_TASK_INVALID = 0,
    BBS_TASK_PENDING = 1,
    BBS_TASK_RUNNING = 2,
    BBS_TASK_COMPLETED = 3,
    BBS_TASK_RESOLVING = 4,
};

/* One tasks row (11.8). Strings are never NULL ("" for SQL NULL result). */
struct bbs_task {
    const char *guid;
    const char *domain;
    int64_t created_at; /* ns */
    int64_t updated_at;
    int64_t first_completed_at;
    enum bbs_task_state state;
    const char *cell_id;
    const char *result;
    int failed;
    const char *failure_reason;
    int32_t rejection_count;
    const char *rejection_reason;
    struct bbs_blob definition; /* TaskDefinition protobuf bytes */
};

/* "Pending", "Running", ...: upstream's names, used in error messages. */
const char *bbs_task_state_name(enum bbs_task_state s);

/*
 * One element of the JSON array POSTed to {auctioneer}/v1/tasks (11.5.2).
 * Strings and arrays are borrowed (the change record's arena).
 */
struct bbs_task_start {
    const char *task_guid;
    const char *domain;
    const char *const *placement_tags; /* NULL = JSON null */
    size_t n_placement_tags;
    const char *const *volume_drivers; /* never JSON null: NULL = [] */
    size_t n_volume_drivers;
    const char *root_fs;
    int32_t memory_mb;
    int32_t disk_mb;
    int32_t max_pids;
};

/* Ask the rep on `cell_id` to cancel `task_guid` (11.5.3); strings borrowed. */
struct bbs_task_cancel {
    const char *task_guid;
    const char *cell_id;
};

/*
 * A completion callback to run (11.6): resolve the task, POST to `url`,
 * delete it unless the answer was 503/504. The task is the row as it was
 * committed (Completed); `url` and `annotation` come from its definition.
 * Strings borrowed. Convergence's kick (11.7 rule 6) records one for
 * every old Completed task; the worker skips those whose url is "".
 */
struct bbs_task_callback_due {
    const struct bbs_task *task;
    const char *url;
    const char *annotation;
};

#endif /* BBS_TASK_H */
