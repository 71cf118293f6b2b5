/*
 * taskcb.c - the task completion callback worker (see taskcb.h).
 *
 * One FIFO of jobs guarded by a mutex, a few threads popping it. A job is
 * one callback; it visits the queue twice: first to resolve (then its
 * POST goes to the outbox and the job waits there, off the queue), then,
 * if the callback was answered, to delete. `busy` counts jobs from
 * submission to their end, and bounds them by `workers`.
 */
#include "bbs/taskcb.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bbs/arena.h"
#include "bbs/change.h"
#include "bbs/log.h"
#include "bbs/task_store.h"
#include "bbs/xalloc.h"

#define DEFAULT_THREADS 4
#define MAX_THREADS     64

enum job_step {
    JOB_RESOLVE,
    JOB_DELETE,
};

struct job {
    struct job *next;
    struct bbs_taskcb *tc;
    enum job_step step;
    char *guid;
    char *url;
    char *failure_reason;
    char *result;
    char *annotation;
    int failed;
    int64_t created_at;
};

struct bbs_taskcb {
    struct bbs_taskcb_config cfg;
    struct bbs_store *store;
    struct bbs_callback *callback;
    pthread_mutex_t mu; /* guards the queue, stopping, started */
    pthread_cond_t cv;
    struct job *head;
    struct job *tail;
    int stopping;
    int started;
    pthread_t threads[MAX_THREADS];
    int n_threads;
    atomic_size_t busy;
    atomic_uint_least64_t submitted;
    atomic_uint_least64_t skipped;
    atomic_uint_least64_t dropped;
    atomic_uint_least64_t resolve_failed;
    atomic_uint_least64_t deleted;
    atomic_uint_least64_t delete_failed;
    atomic_uint_least64_t kept_resolving;
};

static int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

static char *dup_or_empty(const char *s)
{
    return bbs_xstrdup(s != NULL ? s : "");
}

/* The end of a job, whichever step it reached. */
static void job_end(struct job *j)
{
    struct bbs_taskcb *tc = j->tc;

    free(j->guid);
    free(j->url);
    free(j->failure_reason);
    free(j->result);
    free(j->annotation);
    free(j);
    atomic_fetch_sub(&tc->busy, 1);
}

/* Queue `j`; 0, or -1 (job ended) when stopping. */
static int job_push(struct bbs_taskcb *tc, struct job *j)
{
    int stopping;

    pthread_mutex_lock(&tc->mu);
    stopping = tc->stopping;
    if (!stopping) {
        j->next = NULL;
        if (tc->tail != NULL) {
            tc->tail->next = j;
        } else {
            tc->head = j;
        }
        tc->tail = j;
        pthread_cond_signal(&tc->cv);
    }
    pthread_mutex_unlock(&tc->mu);
    if (stopping) {
        atomic_fetch_add(&tc->dropped, 1);
        bbs_log(BBS_LOG_INFO, "task-callback.dropped", "{s:s, s:s}", "task_guid", j->guid, "reason",
                "shutting down");
        job_end(j);
        return -1;
    }
    return 0;
}

struct bbs_taskcb *bbs_taskcb_new(const struct bbs_taskcb_config *cfg, struct bbs_store *store,
                                  struct bbs_callback *callback)
{
    struct bbs_taskcb *tc = bbs_xcalloc(1, sizeof(*tc));

    tc->cfg = *cfg;
    if (tc->cfg.workers < 1) {
        tc->cfg.workers = 1;
    }
    if (tc->cfg.threads <= 0) {
        tc->cfg.threads = DEFAULT_THREADS;
    }
    if (tc->cfg.threads > MAX_THREADS) {
        tc->cfg.threads = MAX_THREADS;
    }
    tc->store = store;
    tc->callback = callback;
    if (pthread_mutex_init(&tc->mu, NULL) != 0 || pthread_cond_init(&tc->cv, NULL) != 0) {
        bbs_log_fatal("task-callback.init-failed", NULL);
    }
    return tc;
}

/* On the outbox thread: never blocks (a queue push). */
static void job_answered(void *arg, int yes, long status)
{
    struct job *j = arg;
    struct bbs_taskcb *tc = j->tc;

    if (!yes) {
        /* 503/504 or a timeout three times, another transport error, or dropped. */
        atomic_fetch_add(&tc->kept_resolving, 1);
        bbs_log(BBS_LOG_INFO, "task-callback.callback-failed", "{s:s, s:s, s:i}", "task_guid",
                j->guid, "callback_url", j->url, "status_code", (int)status);
        job_end(j);
        return;
    }
    j->step = JOB_DELETE;
    (void)job_push(tc, j);
}

static void job_resolve(struct bbs_taskcb *tc, struct job *j)
{
    struct bbs_arena *arena = bbs_arena_new();
    struct bbs_change change;
    struct bbs_error err = {0};
    struct bbs_task_callback body;

    bbs_change_init(&change, arena);
    if (bbs_store_task_resolving(tc->store, j->guid, wall_ns(), &change, &err) != 0) {
        atomic_fetch_add(&tc->resolve_failed, 1);
        bbs_log(BBS_LOG_ERROR, "task-callback.marking-task-as-resolving-failed", "{s:s, s:s}",
                "task_guid", j->guid, "error", err.message);
        bbs_arena_free(arena);
        job_end(j);
        return;
    }
    bbs_arena_free(arena);
    /* The task as submitted (Completed), as upstream builds the body. */
    body.task_guid = j->guid;
    body.failed = j->failed;
    body.failure_reason = j->failure_reason;
    body.result = j->result;
    body.annotation = j->annotation;
    body.created_at = j->created_at;
    bbs_callback_send(tc->callback, j->url, &body, job_answered, j);
}

static void job_delete(struct bbs_taskcb *tc, struct job *j)
{
    struct bbs_arena *arena = bbs_arena_new();
    struct bbs_change change;
    struct bbs_error err = {0};

    bbs_change_init(&change, arena);
    if (bbs_store_task_delete(tc->store, j->guid, &change, &err) != 0) {
        atomic_fetch_add(&tc->delete_failed, 1);
        bbs_log(BBS_LOG_ERROR, "task-callback.delete-task-failed", "{s:s, s:s}", "task_guid",
                j->guid, "error", err.message);
    } else {
        atomic_fetch_add(&tc->deleted, 1);
    }
    bbs_arena_free(arena);
    job_end(j);
}

static void *thread_main(void *arg)
{
    struct bbs_taskcb *tc = arg;

    for (;;) {
        struct job *j;

        pthread_mutex_lock(&tc->mu);
        while (!tc->stopping && tc->head == NULL) {
            pthread_cond_wait(&tc->cv, &tc->mu);
        }
        if (tc->stopping) {
            pthread_mutex_unlock(&tc->mu);
            break;
        }
        j = tc->head;
        tc->head = j->next;
        if (tc->head == NULL) {
            tc->tail = NULL;
        }
        pthread_mutex_unlock(&tc->mu);
        if (j->step == JOB_RESOLVE) {
            job_resolve(tc, j);
        } else {
            job_delete(tc, j);
        }
    }
    return NULL;
}

int bbs_taskcb_start(struct bbs_taskcb *tc, struct bbs_error *err)
{
    if (tc->started) {
        return 0;
    }
    for (int i = 0; i < tc->cfg.threads; i++) {
        if (pthread_create(&tc->threads[tc->n_threads], NULL, thread_main, tc) != 0) {
            break;
        }
        tc->n_threads++;
    }
    if (tc->n_threads == 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "task callbacks: cannot start a thread");
        return -1;
    }
    tc->started = 1;
    return 0;
}

void bbs_taskcb_submit(void *arg, const struct bbs_task_callback_due *d)
{
    struct bbs_taskcb *tc = arg;
    struct job *j;
    size_t busy;

    if (d->url == NULL || d->url[0] == '\0' || d->task == NULL) {
        atomic_fetch_add(&tc->skipped, 1);
        return;
    }
    busy = atomic_fetch_add(&tc->busy, 1);
    if (busy >= (size_t)tc->cfg.workers) {
        atomic_fetch_sub(&tc->busy, 1);
        atomic_fetch_add(&tc->dropped, 1);
        bbs_log(BBS_LOG_ERROR, "task-callback.dropped", "{s:s, s:s, s:i}", "task_guid",
                d->task->guid, "reason", "task_callback_workers callbacks in progress", "workers",
                tc->cfg.workers);
        return;
    }
    atomic_fetch_add(&tc->submitted, 1);
    j = bbs_xcalloc(1, sizeof(*j));
    j->tc = tc;
    j->step = JOB_RESOLVE;
    j->guid = dup_or_empty(d->task->guid);
    j->url = dup_or_empty(d->url);
    j->failure_reason = dup_or_empty(d->task->failure_reason);
    j->result = dup_or_empty(d->task->result);
    j->annotation = dup_or_empty(d->annotation);
    j->failed = d->task->failed;
    j->created_at = d->task->created_at;
    (void)job_push(tc, j);
}

void bbs_taskcb_stop(struct bbs_taskcb *tc)
{
    struct job *j;

    if (tc == NULL) {
        return;
    }
    pthread_mutex_lock(&tc->mu);
    tc->stopping = 1;
    j = tc->head;
    tc->head = NULL;
    tc->tail = NULL;
    pthread_cond_broadcast(&tc->cv);
    pthread_mutex_unlock(&tc->mu);
    while (j != NULL) {
        struct job *next = j->next;

        atomic_fetch_add(&tc->dropped, 1);
        job_end(j);
        j = next;
    }
    for (int i = 0; i < tc->n_threads; i++) {
        pthread_join(tc->threads[i], NULL);
    }
    tc->n_threads = 0;
    tc->started = 0;
}

void bbs_taskcb_free(struct bbs_taskcb *tc)
{
    if (tc == NULL) {
        return;
    }
    bbs_taskcb_stop(tc);
    pthread_cond_destroy(&tc->cv);
    pthread_mutex_destroy(&tc->mu);
    free(tc);
}

size_t bbs_taskcb_busy(struct bbs_taskcb *tc)
{
    return atomic_load(&tc->busy);
}

void bbs_taskcb_stats(struct bbs_taskcb *tc, struct bbs_taskcb_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->submitted = atomic_load(&tc->submitted);
    out->skipped = atomic_load(&tc->skipped);
    out->dropped = atomic_load(&tc->dropped);
    out->resolve_failed = atomic_load(&tc->resolve_failed);
    out->deleted = atomic_load(&tc->deleted);
    out->delete_failed = atomic_load(&tc->delete_failed);
    out->kept_resolving = atomic_load(&tc->kept_resolving);
}
