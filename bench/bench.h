/*
 * bench.h - what main.c hands to the workloads.
 *
 * Each workload runs one configuration to completion and prints one JSON
 * line per configuration (report.h). Workloads never fail on time: errors
 * and slowness are printed; only wire errors (transport failures, answers
 * other than 200, undecodable bodies) are added to ctx->wire_errors, which
 * decides the exit status.
 */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <stdint.h>

#include "fleet.h"
#include "http.h"
#include "sink.h"
#include "stats.h"

#define BENCH_MAX_LIST 16

/* bench_settle before a timed phase: under 0.3 busy cores (as compare.sh), 30 s at most. */
#define BENCH_SETTLE_CORES 0.3
#define BENCH_SETTLE_MAX_S 30.0

struct bench_opts {
    int claimstart_k[BENCH_MAX_LIST];
    size_t n_claimstart_k;
    int64_t claimstart_m[BENCH_MAX_LIST]; /* one value for every K, or one per K */
    size_t n_claimstart_m;
    int64_t list_n[BENCH_MAX_LIST];
    size_t n_list_n;
    int list_reps;
    int64_t repbulk_n;
    int cells;
    double period_s;
    double duration_s;
    double transition_pct;
    int desire_k[BENCH_MAX_LIST];
    size_t n_desire_k;
    double desire_s;
    int desire_instances;
    int per_lrp;
    int seed_k;
    int event_cell_streams; /* -1: one per cell */
    int event_global_streams;
    const char *event_path;
    int events_baseline; /* 1: a repbulk run with no stream open first */
    double events_drain_s;
    int events_rounds; /* closed/open pairs, one after the other */
    int tasks_k[BENCH_MAX_LIST];
    size_t n_tasks_k;
    double tasks_s;            /* measured seconds per configuration */
    double tasks_warmup_s;     /* cycles before this are not measured */
    double tasks_cb_timeout_s; /* tasks-callback: a callback later than this is missing */
    const char *sink_addr;     /* --sink HOST:PORT, or NULL */
};

struct bench_ctx {
    struct bench_http *http;
    struct bench_http_opts http_opts; /* what `http` was made from (the event streams reuse it) */
    struct bench_env env;
    struct bench_opts opts;
    struct bench_fleet fleet; /* shared by list and repbulk */
    struct bench_sink *sink;  /* the stand-in auctioneer / callback receiver, when started */
    char run[16];             /* names everything this run creates */
    int verbose;
    uint64_t wire_errors;
    int64_t t0_ns;
};

/* Progress on stderr (stdout carries only JSON lines), unless --quiet. */
__attribute__((format(printf, 2, 3))) void bench_note(const struct bench_ctx *ctx, const char *fmt,
                                                      ...);

/*
 * Grow the shared fleet to at least `n` RUNNING instances (seeding; not
 * measured). Returns the seconds it took, 0 when nothing was needed;
 * `*rate` receives claim+start pairs per second.
 */
double bench_fleet_grow(struct bench_ctx *ctx, int64_t n, double *rate);

void bench_claimstart(struct bench_ctx *ctx, int k, int64_t m);
void bench_list(struct bench_ctx *ctx, int64_t n);
void bench_repbulk(struct bench_ctx *ctx);
void bench_desire(struct bench_ctx *ctx, int k);
void bench_events(struct bench_ctx *ctx);
/* `callback`: 0 = the `tasks` workload, 1 = `tasks-callback` (tasks.c). */
void bench_tasks(struct bench_ctx *ctx, int k, int callback);

/*
 * Who watches a repbulk run: `changed` is called for every transition that
 * took effect, i.e. a claim answered without error (instance g is then
 * CLAIMED) and the start that follows it (RUNNING again), with the times
 * the request was posted and its answer read. No-op starts change nothing
 * and are not reported. `event_streams` >= 0 adds that field to the line.
 */
struct bench_repbulk_obs {
    void (*changed)(void *ud, int64_t g, int state, int64_t t_sent_ns, int64_t t_resp_ns);
    void *ud;
    int event_streams;
};

/* The figures of a repbulk run another workload compares. */
struct bench_repbulk_sum {
    double elapsed_s;
    double req_per_s;
    double req_p50_ms;
    double req_p99_ms;
    double loop_p50_ms;
    double loop_p99_ms;
    double server_cpu_us_per_req; /* -1 when unknown */
    double db_cpu_us_per_req;     /* -1 when unknown */
    uint64_t requests;
    uint64_t transitions;
    uint64_t errors;
    int cells_exact;
};

/* bench_repbulk() with an observer (may be NULL) and a summary (may be NULL). */
void bench_repbulk_run(struct bench_ctx *ctx, const struct bench_repbulk_obs *obs,
                       struct bench_repbulk_sum *sum);

#endif /* BENCH_BENCH_H */
