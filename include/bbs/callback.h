/*
 * callback.h - task completion callbacks (reference 11.6): POST the
 * TaskCallbackResponse JSON to a task's completion_callback_url through
 * the outbox, with upstream's retries (taskworkpool/taskcallback.go: up to
 * 3 attempts while an attempt times out, loses its connection, or is
 * answered 503/504; redirects followed). No trace header. For https URLs
 * the outbox's BBS_OUTBOX_CALLBACK identity is presented (upstream: the
 * server's own cert_file/key_file, trusting ca_file).
 */
#ifndef BBS_CALLBACK_H
#define BBS_CALLBACK_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/outbox.h"

/* models.TaskCallbackResponse. Strings borrowed. */
struct bbs_task_callback {
    const char *task_guid;
    int failed;
    const char *failure_reason;
    const char *result;
    const char *annotation; /* omitted when "" */
    int64_t created_at;
};

struct bbs_callback;

/* A client sending through `outbox` (borrowed, must outlive it); `timeout_ns` per attempt. */
struct bbs_callback *bbs_callback_new(struct bbs_outbox *outbox, int64_t timeout_ns);

/*
 * Queue the callback for `t` to `url`. `resolved(arg, yes, status)` is
 * called once on the outbox thread: yes = 1 when an answer other than
 * 503/504 arrived (the task is to be deleted), 0 otherwise (it stays
 * Resolving; also when dropped). `resolved` may be NULL.
 */
void bbs_callback_send(struct bbs_callback *cb, const char *url, const struct bbs_task_callback *t,
                       void (*resolved)(void *arg, int yes, long status), void *arg);

/* Go's encoding/json of `t`, keys in upstream's order. Malloc'd; `*len` its length. */
char *bbs_callback_body(const struct bbs_task_callback *t, size_t *len);

/* Accepts NULL. */
void bbs_callback_free(struct bbs_callback *cb);

#endif /* BBS_CALLBACK_H */
