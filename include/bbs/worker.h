/*
 * worker.h - one ticker thread that hosts every periodic job.
 *
 * Jobs are registered before start with a name, a period and a function;
 * they all run on the one ticker thread, in registration order when several
 * are due at once, so a job never runs concurrently with itself or another
 * job. A job that takes longer than its period is logged and its missed
 * ticks are skipped, never stacked: the next run is one period after the
 * late one ended. Hosts the connection reaper, the embedded-PostgreSQL
 * watch, the "server must exit" check and, next, convergence, lease
 * renewals and domain pruning.
 *
 * Not done here: anything that needs its own thread (a job that blocks for
 * long delays every other job; give it a short timeout or its own module).
 */
#ifndef BBS_WORKER_H
#define BBS_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/error.h"

#define BBS_WORKER_MAX_JOBS 16

/* The ticker's clock; tests pass a fake one. NULL everywhere = CLOCK_MONOTONIC. */
struct bbs_worker_clock {
    int64_t (*now_ns)(void *ctx);
    void *ctx;
};

struct bbs_worker;

/* A ticker using `clock` (copied; NULL = CLOCK_MONOTONIC). Never NULL (OOM aborts). */
struct bbs_worker *bbs_worker_new(const struct bbs_worker_clock *clock);

/*
 * Register `fn(arg)` to run every `period_ns` (> 0), first one period after
 * the first tick. `name` is borrowed and must outlive the worker (a string
 * literal); it names the job in log lines and in bbs_worker_runs(). Only
 * before bbs_worker_start(). Returns -1 with InvalidRequest when the table
 * is full, the period is not positive or the worker has started.
 */
BBS_MUST_CHECK int bbs_worker_add(struct bbs_worker *w, const char *name, int64_t period_ns,
                                  void (*fn)(void *arg), void *arg, struct bbs_error *err);

/*
 * One tick: run, in order, every job whose time has come, and return the
 * time (on the worker's clock) of the next due job. The ticker thread is a
 * loop around this; tests call it directly with a fake clock.
 */
int64_t bbs_worker_tick(struct bbs_worker *w);

/* Start the ticker thread. -1 with UnknownError if the thread cannot start. */
BBS_MUST_CHECK int bbs_worker_start(struct bbs_worker *w, struct bbs_error *err);

/*
 * Stop the ticker: a job in progress finishes, no other starts. Returns once
 * the thread has ended. Safe when never started; idempotent.
 */
void bbs_worker_stop(struct bbs_worker *w);

/* Stop if running, then free. Accepts NULL. */
void bbs_worker_free(struct bbs_worker *w);

/* How many times the job `name` ran / overran its period (0 for an unknown name). */
uint64_t bbs_worker_runs(const struct bbs_worker *w, const char *name);
uint64_t bbs_worker_overruns(const struct bbs_worker *w, const char *name);

/* ---- jobs (one file each) ---- */

struct bbs_store;

/* prune.c: trim the change log (changelog.h) to `max_age_ns` and `keep` entries. */
struct bbs_prune_events {
    struct bbs_store *store;
    int64_t max_age_ns;
    int64_t keep;
};

/* A job: `arg` is a struct bbs_prune_events (borrowed). Logs its failures. */
void bbs_worker_prune_events(void *arg);

/*
 * report.c: metrics taken on the ticker (reference-2 13.2) into the metrics
 * object (for /metrics) and, when `lg` is non-NULL, sent to loggregator.
 * Register bbs_worker_report_requests every report_interval,
 * bbs_worker_report_lrps every 15 s and bbs_worker_report_db every 60 s
 * with the same struct bbs_report (borrowed; zero it, then fill the
 * pointers). The jobs remember what they sent (counter deltas), so one
 * struct serves exactly one set of jobs.
 */
struct bbs_metrics;
struct bbs_loggregator;
struct bbs_converger;
struct bbs_lead;

struct bbs_report {
    struct bbs_metrics *metrics;
    struct bbs_loggregator *lg;      /* NULL = not sent (the values are still kept) */
    struct bbs_store *store;         /* DB numbers and fresh domains */
    struct bbs_converger *converger; /* the last LRP convergence run; NULL = none */
    /* The jobs' own. */
    uint64_t requests_sent;
    int64_t sent[64];        /* per enum bbs_metric: the COUNTER totals sent so far */
    struct bbs_rekey *rekey; /* the start-up re-keying pass (store.h); NULL = none */
    int encryption_sent;     /* EncryptionDuration taken (once, as upstream's encryptor) */
    /* Leadership (lead.h): LockHeld follows it, and a standby sends only
     * OpenFileDescriptors and LockHeld 0. NULL = LockHeld 1. */
    const struct bbs_lead *lead;
};

/* RequestCount, RequestLatency (when > 0), OpenFileDescriptors, LockHeld; EncryptionDuration
 * once, at the first tick after the re-keying pass finished. */
void bbs_worker_report_requests(void *arg);

/* Convergence, LRP, cell, domain and task metrics (every 15 s). */
void bbs_worker_report_lrps(void *arg);

/* DB pool metrics (every 60 s). */
void bbs_worker_report_db(void *arg);

/* Once at start-up, after migrations: MigrationDuration and BBSMasterElected. */
void bbs_worker_report_started(struct bbs_report *r, int64_t migration_ns);

#endif /* BBS_WORKER_H */
