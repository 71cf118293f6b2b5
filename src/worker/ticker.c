/*
 * ticker.c - the one thread that runs every periodic job (see worker.h).
 *
 * The thread sleeps on a condition variable until the next job is due, so
 * bbs_worker_stop() wakes it at once instead of waiting out a period. Job
 * bookkeeping (next due time) belongs to the ticker thread alone; only the
 * run counters are read from other threads, through atomics.
 */
#include "bbs/worker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bbs/log.h"
#include "bbs/xalloc.h"

struct worker_job {
    const char *name;
    int64_t period_ns;
    void (*fn)(void *arg);
    void *arg;
    int64_t next_ns; /* 0 = not scheduled yet (before the first tick) */
    _Atomic uint64_t runs;
    _Atomic uint64_t overruns;
};

struct bbs_worker {
    struct bbs_worker_clock clock;
    struct worker_job jobs[BBS_WORKER_MAX_JOBS];
    size_t n_jobs;
    pthread_mutex_t mu; /* guards stopping; cv waits on it */
    pthread_cond_t cv;  /* CLOCK_MONOTONIC; signalled by stop */
    int stopping;
    int started;
    pthread_t thread;
};

static int64_t worker_monotonic_ns(void *ctx)
{
    struct timespec ts;

    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

struct bbs_worker *bbs_worker_new(const struct bbs_worker_clock *clock)
{
    struct bbs_worker *w = bbs_xcalloc(1, sizeof(*w));
    pthread_condattr_t attr;

    w->clock.now_ns = worker_monotonic_ns;
    if (clock != NULL && clock->now_ns != NULL) {
        w->clock = *clock;
    }
    /* These fail only for want of memory or other system resources. */
    if (pthread_mutex_init(&w->mu, NULL) != 0 || pthread_condattr_init(&attr) != 0) {
        bbs_log_fatal("worker.init-failed", NULL);
    }
    /* Waits are measured on the monotonic clock: a wall-clock step must not stall jobs. */
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (pthread_cond_init(&w->cv, &attr) != 0) {
        bbs_log_fatal("worker.init-failed", NULL);
    }
    pthread_condattr_destroy(&attr);
    return w;
}

int bbs_worker_add(struct bbs_worker *w, const char *name, int64_t period_ns, void (*fn)(void *arg),
                   void *arg, struct bbs_error *err)
{
    struct worker_job *job;

    if (w->started || w->n_jobs >= BBS_WORKER_MAX_JOBS || period_ns <= 0 || fn == NULL) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                       "worker: cannot add job %s (started, table full or bad period)", name);
        return -1;
    }
    job = &w->jobs[w->n_jobs++];
    job->name = name;
    job->period_ns = period_ns;
    job->fn = fn;
    job->arg = arg;
    return 0;
}

int64_t bbs_worker_tick(struct bbs_worker *w)
{
    int64_t now = w->clock.now_ns(w->clock.ctx);
    int64_t next = INT64_MAX;

    for (size_t i = 0; i < w->n_jobs; i++) {
        struct worker_job *job = &w->jobs[i];

        if (job->next_ns == 0) {
            job->next_ns = now + job->period_ns;
        } else if (now >= job->next_ns) {
            int64_t started = now;

            job->fn(job->arg);
            atomic_fetch_add(&job->runs, 1);
            now = w->clock.now_ns(w->clock.ctx);
            if (now - started > job->period_ns) {
                atomic_fetch_add(&job->overruns, 1);
                bbs_log(BBS_LOG_ERROR, "worker.job-overran", "{s:s, s:I, s:I}", "job", job->name,
                        "period_ns", (json_int_t)job->period_ns, "took_ns",
                        (json_int_t)(now - started));
            }
            /*
             * Keep the cadence when on time; after a late run (the job or
             * another one overran) start afresh from now: missed ticks are
             * skipped, not run back to back.
             */
            job->next_ns += job->period_ns;
            if (job->next_ns <= now) {
                job->next_ns = now + job->period_ns;
            }
        }
        if (job->next_ns < next) {
            next = job->next_ns;
        }
    }
    return next;
}

static void *worker_main(void *arg)
{
    struct bbs_worker *w = arg;

    for (;;) {
        int64_t next = bbs_worker_tick(w);
        int64_t now = w->clock.now_ns(w->clock.ctx);
        int stop;

        pthread_mutex_lock(&w->mu);
        if (!w->stopping && next > now) {
            /* The wait uses the real monotonic clock; an injected clock only shifts it. */
            int64_t wait_ns = next - now;
            int64_t until = worker_monotonic_ns(NULL) +
                            (wait_ns > INT64_C(3600000000000) ? INT64_C(3600000000000) : wait_ns);
            struct timespec ts = {(time_t)(until / 1000000000), (long)(until % 1000000000)};

            pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        }
        stop = w->stopping;
        pthread_mutex_unlock(&w->mu);
        if (stop) {
            break;
        }
    }
    return NULL;
}

int bbs_worker_start(struct bbs_worker *w, struct bbs_error *err)
{
    int rc;

    if (w->started) {
        return 0;
    }
    rc = pthread_create(&w->thread, NULL, worker_main, w);
    if (rc != 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "worker: cannot start the ticker thread: %s",
                       strerror(rc));
        return -1;
    }
    w->started = 1;
    return 0;
}

void bbs_worker_stop(struct bbs_worker *w)
{
    if (w == NULL || !w->started) {
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->started = 0;
}

void bbs_worker_free(struct bbs_worker *w)
{
    if (w == NULL) {
        return;
    }
    bbs_worker_stop(w);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

static const struct worker_job *worker_find(const struct bbs_worker *w, const char *name)
{
    for (size_t i = 0; i < w->n_jobs; i++) {
        if (strcmp(w->jobs[i].name, name) == 0) {
            return &w->jobs[i];
        }
    }
    return NULL;
}

uint64_t bbs_worker_runs(const struct bbs_worker *w, const char *name)
{
    const struct worker_job *job = worker_find(w, name);

    return job != NULL ? atomic_load(&job->runs) : 0;
}

uint64_t bbs_worker_overruns(const struct bbs_worker *w, const char *name)
{
    const struct worker_job *job = worker_find(w, name);

    return job != NULL ? atomic_load(&job->overruns) : 0;
}
