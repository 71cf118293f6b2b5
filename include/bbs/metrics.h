/*
 * metrics.h - the server's metrics (reference-2 section 13): request
 * counts and latencies, gauges set by the modules that know them, and
 * their Prometheus text (exposition format 0.0.4).
 *
 * One `struct bbs_metrics` per process, made by main.c and handed to
 * whoever records (the HTTP front end through bbs_ctx, the periodic
 * reporter, the task code). Recording never takes a lock: every value is
 * a C11 atomic, so the request path pays a few relaxed atomic adds.
 *
 * Two readers share the values: the Prometheus page (cumulative totals)
 * and the loggregator reporter (worker/report.c), which sends upstream's
 * deltas by remembering what it sent last. Neither resets a counter,
 * except the request latency maximum, which is "since the last report"
 * by upstream's definition (bbs_metrics_take_max_latency).
 *
 * Not done here: sending (clients/loggregator.c), deciding when values
 * are taken (worker/report.c), serving the page (http/health.c).
 */
#ifndef BBS_METRICS_H
#define BBS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/buf.h"

/*
 * Every scalar metric, one row of the table in metrics.c (upstream name,
 * Prometheus name, unit, kind). Setters below take these ids.
 */
enum bbs_metric {
    BBS_METRIC_LOCK_HELD,                 /* LockHeld */
    BBS_METRIC_MASTER_ELECTED,            /* BBSMasterElected */
    BBS_METRIC_MIGRATION_DURATION,        /* MigrationDuration (ns) */
    BBS_METRIC_CONVERGENCE_LRP_RUNS,      /* ConvergenceLRPRuns (cumulative) */
    BBS_METRIC_CONVERGENCE_LRP_DURATION,  /* ConvergenceLRPDuration (ns, last run) */
    BBS_METRIC_LRPS_UNCLAIMED,            /* LRPsUnclaimed */
    BBS_METRIC_LRPS_CLAIMED,              /* LRPsClaimed */
    BBS_METRIC_LRPS_RUNNING,              /* LRPsRunning */
    BBS_METRIC_CRASHED_ACTUAL_LRPS,       /* CrashedActualLRPs */
    BBS_METRIC_CRASHING_DESIRED_LRPS,     /* CrashingDesiredLRPs */
    BBS_METRIC_LRPS_MISSING,              /* LRPsMissing (last run) */
    BBS_METRIC_LRPS_EXTRA,                /* LRPsExtra (last run) */
    BBS_METRIC_SUSPECT_RUNNING_LRPS,      /* SuspectRunningActualLRPs */
    BBS_METRIC_SUSPECT_CLAIMED_LRPS,      /* SuspectClaimedActualLRPs */
    BBS_METRIC_LRPS_DESIRED,              /* LRPsDesired */
    BBS_METRIC_PRESENT_CELLS,             /* PresentCells (last run) */
    BBS_METRIC_SUSPECT_CELLS,             /* SuspectCells (last run) */
    BBS_METRIC_CONVERGENCE_TASK_RUNS,     /* ConvergenceTaskRuns (cumulative) */
    BBS_METRIC_CONVERGENCE_TASK_DURATION, /* ConvergenceTaskDuration (ns, last run) */
    BBS_METRIC_TASKS_PENDING,             /* TasksPending */
    BBS_METRIC_TASKS_RUNNING,             /* TasksRunning */
    BBS_METRIC_TASKS_COMPLETED,           /* TasksCompleted */
    BBS_METRIC_TASKS_RESOLVING,           /* TasksResolving */
    BBS_METRIC_CONVERGENCE_TASKS_KICKED,  /* ConvergenceTasksKicked (cumulative; q8) */
    BBS_METRIC_CONVERGENCE_TASKS_PRUNED,  /* ConvergenceTasksPruned (cumulative; q8) */
    BBS_METRIC_DB_OPEN_CONNECTIONS,       /* DBOpenConnections */
    BBS_METRIC_DB_WAIT_DURATION,          /* DBWaitDuration (ns, cumulative) */
    BBS_METRIC_DB_WAIT_COUNT,             /* DBWaitCount (cumulative) */
    BBS_METRIC_DB_QUERIES_TOTAL,          /* DBQueriesTotal (cumulative) */
    BBS_METRIC_DB_QUERIES_SUCCEEDED,      /* DBQueriesSucceeded (cumulative) */
    BBS_METRIC_DB_QUERIES_FAILED,         /* DBQueriesFailed (cumulative) */
    BBS_METRIC_DB_QUERIES_IN_FLIGHT,      /* DBQueriesInFlight (peak since the last 60 s tick) */
    BBS_METRIC_DB_QUERY_DURATION_MAX,     /* DBQueryDurationMax (ns, since the last 60 s tick) */
    BBS_METRIC_EMIT_FAILURES,             /* ours: envelopes not delivered to loggregator */
    BBS_METRIC_ENCRYPTION_DURATION,       /* EncryptionDuration (ns): the start-up re-keying pass */
    BBS_METRIC_COUNT
};

/* How a metric is sent to loggregator and shown to Prometheus. */
enum bbs_metric_kind {
    BBS_METRIC_GAUGE,   /* a value; loggregator gauge, Prometheus gauge */
    BBS_METRIC_COUNTER, /* a cumulative total; loggregator counter of the delta since the last
                           send, Prometheus counter */
};

struct bbs_metric_info {
    const char *name; /* upstream's name ("LRPsRunning"); NULL = ours, not sent to loggregator */
    const char *prom; /* Prometheus name ("bbs_lrps_running") */
    const char *unit; /* loggregator unit: "Metric" or "nanos" */
    enum bbs_metric_kind kind;
    const char *help; /* Prometheus HELP text */
};

/* The table row of `id` (id < BBS_METRIC_COUNT). */
const struct bbs_metric_info *bbs_metric_info(enum bbs_metric id);

/* Per-cell task counters (TasksStarted/Succeeded/Failed, tag cell-id). */
enum bbs_metric_task_event {
    BBS_METRIC_TASK_STARTED,
    BBS_METRIC_TASK_SUCCEEDED,
    BBS_METRIC_TASK_FAILED,
};

struct bbs_metrics;

/*
 * Metrics for a server whose routes are `routes` (n of them, labels such
 * as "/v1/ping"; the array is copied, the strings are borrowed and must
 * outlive the object). Never NULL (OOM aborts). Every value starts at 0.
 */
struct bbs_metrics *bbs_metrics_new(const char *const *routes, size_t n);

/* Accepts NULL. */
void bbs_metrics_free(struct bbs_metrics *m);

/* Time since bbs_metrics_new (made at process start): the server's uptime. */
int64_t bbs_metrics_uptime_ns(const struct bbs_metrics *m);

/*
 * One request finished on route number `route` (< n; others ignored):
 * counted, and unless `latency_ns` < 0 (a stream, whose time is not a
 * latency) its handler time goes into the route's histogram and the
 * maximum since the last take. Lock-free. `m` NULL: nothing.
 */
void bbs_metrics_request(struct bbs_metrics *m, size_t route, int64_t latency_ns);

/* Requests counted since start. */
uint64_t bbs_metrics_requests(const struct bbs_metrics *m);

/* The longest latency recorded since the last call (0 if none), and reset it. */
int64_t bbs_metrics_take_max_latency(struct bbs_metrics *m);

/* Set a gauge (or a COUNTER's current total). `m` NULL: nothing. Lock-free. */
void bbs_metrics_set(struct bbs_metrics *m, enum bbs_metric id, int64_t value);

/* Add to a COUNTER (or a gauge). Lock-free. */
void bbs_metrics_add(struct bbs_metrics *m, enum bbs_metric id, int64_t delta);

/* Raise a gauge to `value` if it is larger (a maximum since the last reset). Lock-free. */
void bbs_metrics_max(struct bbs_metrics *m, enum bbs_metric id, int64_t value);

/* The current value. */
int64_t bbs_metrics_get(const struct bbs_metrics *m, enum bbs_metric id);

/*
 * A task of cell `cell_id` started / succeeded / failed (upstream's
 * TasksStarted, TasksSucceeded, TasksFailed: cumulative per cell). Lock-free
 * (cells are slots claimed with compare-and-swap, never removed; past
 * BBS_METRICS_MAX_CELLS distinct cells the counts go to cell "other").
 */
#define BBS_METRICS_MAX_CELLS 1024
void bbs_metrics_task_event(struct bbs_metrics *m, const char *cell_id,
                            enum bbs_metric_task_event ev);

/*
 * Walk the per-cell task counters: `fn` gets each cell seen so far with its
 * started, succeeded and failed totals.
 */
void bbs_metrics_task_cells(const struct bbs_metrics *m,
                            void (*fn)(void *ctx, const char *cell_id, uint64_t started,
                                       uint64_t succeeded, uint64_t failed),
                            void *ctx);

/*
 * Replace the list of fresh domains (Domain.<domain> gauges; copied, each
 * name kept once). Not
 * on the request path: takes the object's domain lock.
 */
void bbs_metrics_set_domains(struct bbs_metrics *m, const char *const *domains, size_t n);

/* Walk the fresh domains under the domain lock. */
void bbs_metrics_domains(struct bbs_metrics *m, void (*fn)(void *ctx, const char *domain),
                         void *ctx);

/* Entries in /proc/self/fd (upstream's OpenFileDescriptors); -1 if unreadable. */
int64_t bbs_metrics_open_fds(void);

/*
 * Append the Prometheus text exposition (format 0.0.4) of every metric to
 * `out`: requests, per-route latency histograms, the table's metrics,
 * domains, per-cell task counters and open file descriptors.
 */
void bbs_metrics_prometheus(struct bbs_metrics *m, struct bbs_buf *out);

/* The latency histogram's bucket upper bounds in seconds (for tests and docs). */
extern const double bbs_metrics_buckets[];
extern const size_t bbs_metrics_n_buckets;

#endif /* BBS_METRICS_H */
