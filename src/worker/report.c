/*
 * report.c - the metric reports on the ticker (worker.h, reference-2 13.2):
 * take the values, keep them in the metrics object for /metrics, and send
 * them to loggregator when it is configured, with upstream's names, units
 * and kinds.
 *
 * Counters are sent as deltas: each job remembers the total it sent last
 * (`sent`), so the metrics object never resets a cumulative value and the
 * Prometheus page and loggregator agree. A failure to read a value (the
 * database down) is logged and that value skipped; sending never blocks
 * (the emitter queues).
 *
 * LockHeld follows leadership (lead.h; 1 without it); BBSMasterElected
 * is sent once, by bbs_worker_report_started after the server leads.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bbs/arena.h"
#include "bbs/converger.h"
#include "bbs/lead.h"
#include "bbs/log.h"
#include "bbs/loggregator.h"
#include "bbs/metrics.h"
#include "bbs/store.h"
#include "bbs/worker.h"

_Static_assert(BBS_METRIC_COUNT <= 64, "struct bbs_report.sent holds 64 metrics");

/* Send the table metric `id` with its current value: a gauge, or a counter's delta. */
static void send_metric(struct bbs_report *r, enum bbs_metric id)
{
    const struct bbs_metric_info *t = bbs_metric_info(id);
    int64_t v = bbs_metrics_get(r->metrics, id);

    if (r->lg == NULL || t->name == NULL) {
        return;
    }
    switch (t->kind) {
    case BBS_METRIC_GAUGE:
        bbs_loggregator_gauge(r->lg, t->name, (double)v, t->unit, NULL, NULL);
        break;
    case BBS_METRIC_COUNTER:
        /* Upstream sends the convergence run counters only when they moved. */
        if (v > r->sent[id]) {
            bbs_loggregator_counter(r->lg, t->name, (uint64_t)(v - r->sent[id]));
        }
        r->sent[id] = v;
        break;
    }
}

void bbs_worker_report_requests(void *arg)
{
    struct bbs_report *r = arg;
    uint64_t total = bbs_metrics_requests(r->metrics);
    int64_t latency = bbs_metrics_take_max_latency(r->metrics);
    int64_t fds = bbs_metrics_open_fds();

    int held = r->lead == NULL || bbs_lead_is_leader(r->lead);

    bbs_metrics_set(r->metrics, BBS_METRIC_LOCK_HELD, held);
    if (r->lg != NULL) {
        /* Sent every tick, 0 included, as upstream does (a standby: not at all). */
        if (held) {
            bbs_loggregator_counter(r->lg, "RequestCount", total - r->requests_sent);
        }
        if (held && latency > 0) {
            bbs_loggregator_gauge(r->lg, "RequestLatency", (double)latency, "nanos", NULL, NULL);
        }
        if (fds >= 0) {
            bbs_loggregator_gauge(r->lg, "OpenFileDescriptors", (double)fds, "Metric", NULL, NULL);
        }
        send_metric(r, BBS_METRIC_LOCK_HELD);
    }
    r->requests_sent = total;
    if (!r->encryption_sent && bbs_store_rekey_duration_ns(r->rekey) > 0) {
        bbs_metrics_set(r->metrics, BBS_METRIC_ENCRYPTION_DURATION,
                        bbs_store_rekey_duration_ns(r->rekey));
        send_metric(r, BBS_METRIC_ENCRYPTION_DURATION);
        r->encryption_sent = 1;
    }
    if (r->lg != NULL) {
        struct bbs_loggregator_stats ls;

        bbs_loggregator_stats(r->lg, &ls);
        bbs_metrics_set(r->metrics, BBS_METRIC_EMIT_FAILURES, (int64_t)ls.dropped);
    }
}

static void send_domain(void *ctx, const char *domain)
{
    struct bbs_report *r = ctx;
    char name[300];

    snprintf(name, sizeof(name), "Domain.%s", domain);
    bbs_loggregator_gauge(r->lg, name, 1, "Metric", NULL, NULL);
}

static void send_cell(void *ctx, const char *cell_id, uint64_t started, uint64_t succeeded,
                      uint64_t failed)
{
    struct bbs_report *r = ctx;

    bbs_loggregator_gauge(r->lg, "TasksStarted", (double)started, "Metric", "cell-id", cell_id);
    bbs_loggregator_gauge(r->lg, "TasksSucceeded", (double)succeeded, "Metric", "cell-id", cell_id);
    bbs_loggregator_gauge(r->lg, "TasksFailed", (double)failed, "Metric", "cell-id", cell_id);
}

void bbs_worker_report_lrps(void *arg)
{
    static const enum bbs_metric lrp_metrics[] = {
        BBS_METRIC_CONVERGENCE_LRP_RUNS, BBS_METRIC_CONVERGENCE_LRP_DURATION,
        BBS_METRIC_LRPS_UNCLAIMED,       BBS_METRIC_LRPS_CLAIMED,
        BBS_METRIC_LRPS_RUNNING,         BBS_METRIC_CRASHED_ACTUAL_LRPS,
        BBS_METRIC_LRPS_MISSING,         BBS_METRIC_LRPS_EXTRA,
        BBS_METRIC_SUSPECT_RUNNING_LRPS, BBS_METRIC_SUSPECT_CLAIMED_LRPS,
        BBS_METRIC_LRPS_DESIRED,         BBS_METRIC_CRASHING_DESIRED_LRPS,
        BBS_METRIC_PRESENT_CELLS,        BBS_METRIC_SUSPECT_CELLS,
    };
    static const enum bbs_metric task_metrics[] = {
        BBS_METRIC_CONVERGENCE_TASK_RUNS,
        BBS_METRIC_CONVERGENCE_TASK_DURATION,
        BBS_METRIC_TASKS_PENDING,
        BBS_METRIC_TASKS_RUNNING,
        BBS_METRIC_TASKS_COMPLETED,
        BBS_METRIC_TASKS_RESOLVING,
        BBS_METRIC_CONVERGENCE_TASKS_KICKED,
        BBS_METRIC_CONVERGENCE_TASKS_PRUNED,
    };
    struct bbs_report *r = arg;
    struct bbs_conv_run run;
    struct bbs_arena *arena = bbs_arena_new();
    const char *const *domains = NULL;
    struct timespec now;
    size_t n = 0;
    struct bbs_error err = {0};

    memset(&run, 0, sizeof(run));
    if (r->converger != NULL) {
        bbs_converger_last(r->converger, &run);
    }
    /* Upstream's values are those of the last completed run (0 before the first). */
    bbs_metrics_set(r->metrics, BBS_METRIC_CONVERGENCE_LRP_RUNS, (int64_t)run.runs);
    bbs_metrics_set(r->metrics, BBS_METRIC_CONVERGENCE_LRP_DURATION, run.duration_ns);
    bbs_metrics_set(r->metrics, BBS_METRIC_LRPS_UNCLAIMED, run.counts.unclaimed);
    bbs_metrics_set(r->metrics, BBS_METRIC_LRPS_CLAIMED, run.counts.claimed);
    bbs_metrics_set(r->metrics, BBS_METRIC_LRPS_RUNNING, run.counts.running);
    bbs_metrics_set(r->metrics, BBS_METRIC_CRASHED_ACTUAL_LRPS, run.counts.crashed);
    bbs_metrics_set(r->metrics, BBS_METRIC_CRASHING_DESIRED_LRPS, run.counts.crashing_desired);
    bbs_metrics_set(r->metrics, BBS_METRIC_LRPS_MISSING, run.counts.missing);
    bbs_metrics_set(r->metrics, BBS_METRIC_LRPS_EXTRA, run.counts.extra);
    bbs_metrics_set(r->metrics, BBS_METRIC_SUSPECT_RUNNING_LRPS, run.counts.suspect_running);
    bbs_metrics_set(r->metrics, BBS_METRIC_SUSPECT_CLAIMED_LRPS, run.counts.suspect_claimed);
    bbs_metrics_set(r->metrics, BBS_METRIC_LRPS_DESIRED, run.counts.desired_instances);
    bbs_metrics_set(r->metrics, BBS_METRIC_PRESENT_CELLS, run.counts.present_cells);
    bbs_metrics_set(r->metrics, BBS_METRIC_SUSPECT_CELLS, run.counts.suspect_cells);
    bbs_metrics_set(r->metrics, BBS_METRIC_CONVERGENCE_TASK_RUNS, (int64_t)run.task_runs);
    bbs_metrics_set(r->metrics, BBS_METRIC_CONVERGENCE_TASKS_KICKED,
                    (int64_t)run.tasks_kicked_total);
    bbs_metrics_set(r->metrics, BBS_METRIC_CONVERGENCE_TASKS_PRUNED,
                    (int64_t)run.tasks_pruned_total);
    if (run.tasks_ran) {
        bbs_metrics_set(r->metrics, BBS_METRIC_CONVERGENCE_TASK_DURATION, run.tasks_duration_ns);
        bbs_metrics_set(r->metrics, BBS_METRIC_TASKS_PENDING, run.tasks.pending);
        bbs_metrics_set(r->metrics, BBS_METRIC_TASKS_RUNNING, run.tasks.running);
        bbs_metrics_set(r->metrics, BBS_METRIC_TASKS_COMPLETED, run.tasks.completed);
        bbs_metrics_set(r->metrics, BBS_METRIC_TASKS_RESOLVING, run.tasks.resolving);
    }
    if (r->store != NULL) {
        clock_gettime(CLOCK_REALTIME, &now); /* domains expire on the wall clock */
        if (bbs_store_domains_list(r->store, arena, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec,
                                   &domains, &n, &err) == 0) {
            bbs_metrics_set_domains(r->metrics, domains, n);
        } else {
            bbs_log(BBS_LOG_ERROR, "metrics.domains-failed", "{s:s}", "error", err.message);
        }
    }
    for (size_t i = 0; i < sizeof(lrp_metrics) / sizeof(lrp_metrics[0]); i++) {
        send_metric(r, lrp_metrics[i]);
    }
    for (size_t i = 0; i < sizeof(task_metrics) / sizeof(task_metrics[0]); i++) {
        send_metric(r, task_metrics[i]);
    }
    if (r->lg != NULL) {
        bbs_metrics_domains(r->metrics, send_domain, r);
        bbs_metrics_task_cells(r->metrics, send_cell, r);
    }
    bbs_arena_free(arena);
}

void bbs_worker_report_db(void *arg)
{
    static const enum bbs_metric db_metrics[] = {
        BBS_METRIC_DB_OPEN_CONNECTIONS,  BBS_METRIC_DB_WAIT_DURATION,
        BBS_METRIC_DB_WAIT_COUNT,        BBS_METRIC_DB_QUERIES_TOTAL,
        BBS_METRIC_DB_QUERIES_SUCCEEDED, BBS_METRIC_DB_QUERIES_FAILED,
        BBS_METRIC_DB_QUERIES_IN_FLIGHT, BBS_METRIC_DB_QUERY_DURATION_MAX,
    };
    struct bbs_report *r = arg;
    struct bbs_store_stats st;

    if (r->store == NULL) {
        return;
    }
    bbs_store_stats(r->store, 1, &st);
    bbs_metrics_set(r->metrics, BBS_METRIC_DB_OPEN_CONNECTIONS, st.open_connections);
    bbs_metrics_set(r->metrics, BBS_METRIC_DB_WAIT_DURATION, st.wait_ns);
    bbs_metrics_set(r->metrics, BBS_METRIC_DB_WAIT_COUNT, (int64_t)st.wait_count);
    bbs_metrics_set(r->metrics, BBS_METRIC_DB_QUERIES_TOTAL, (int64_t)st.queries_total);
    bbs_metrics_set(r->metrics, BBS_METRIC_DB_QUERIES_SUCCEEDED, (int64_t)st.queries_succeeded);
    bbs_metrics_set(r->metrics, BBS_METRIC_DB_QUERIES_FAILED, (int64_t)st.queries_failed);
    bbs_metrics_set(r->metrics, BBS_METRIC_DB_QUERIES_IN_FLIGHT, st.in_flight_max);
    bbs_metrics_set(r->metrics, BBS_METRIC_DB_QUERY_DURATION_MAX, st.query_duration_max_ns);
    if (r->lg == NULL) {
        return;
    }
    /* Upstream sends these cumulative values as gauges: the same here. */
    for (size_t i = 0; i < sizeof(db_metrics) / sizeof(db_metrics[0]); i++) {
        const struct bbs_metric_info *t = bbs_metric_info(db_metrics[i]);

        bbs_loggregator_gauge(r->lg, t->name, (double)bbs_metrics_get(r->metrics, db_metrics[i]),
                              t->unit, NULL, NULL);
    }
}

void bbs_worker_report_started(struct bbs_report *r, int64_t migration_ns)
{
    bbs_metrics_set(r->metrics, BBS_METRIC_MIGRATION_DURATION, migration_ns);
    bbs_metrics_set(r->metrics, BBS_METRIC_MASTER_ELECTED, 1);
    bbs_metrics_set(r->metrics, BBS_METRIC_LOCK_HELD, 1);
    send_metric(r, BBS_METRIC_MIGRATION_DURATION);
    send_metric(r, BBS_METRIC_MASTER_ELECTED);
}
