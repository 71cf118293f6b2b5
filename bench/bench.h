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
#include "stats.h"

#define BENCH_MAX_LIST 16

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
};

struct bench_ctx {
    struct bench_http *http;
    struct bench_env env;
    struct bench_opts opts;
    struct bench_fleet fleet; /* shared by list and repbulk */
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

#endif /* BENCH_BENCH_H */
