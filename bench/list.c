/*
 * list.c - the `list` workload: what a full read of a big deployment costs.
 *
 * Grow the shared fleet to N RUNNING instances, then time R list-all calls
 * of ActualLRPs (`/v1/actual_lrps/list`, no filter) and R of DesiredLRP
 * scheduling infos (`/v1/desired_lrp_scheduling_infos/list`), one after the
 * other on one connection, as convergence, the route emitter and the
 * auctioneer do. One line per call kind: median (p50) and spread of the
 * R timings, rows and bytes of the answer, and the server's RSS right
 * after. The calls start once the machine has settled after seeding
 * (bench_settle), on a connection opened before.
 *
 * The rows are counted by walking the answer (wire.h), never unpacked: at
 * 250k rows unpacking would cost the load generator more than the server.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "report.h"
#include "wire.h"

#define LIST_RECV_HINT (64u * 1024 * 1024)

struct list_target {
    const char *what;
    const char *path;
};

static const struct list_target targets[] = {
    {"actual_lrps", "/v1/actual_lrps/list"},
    {"scheduling_infos", "/v1/desired_lrp_scheduling_infos/list"},
};

void bench_list(struct bench_ctx *ctx, int64_t n)
{
    struct bench_conn *c = NULL;
    struct bench_lat lat = {0};
    double seed_rate = 0;
    double seed_s;
    double settle_s;

    seed_s = bench_fleet_grow(ctx, n, &seed_rate);
    /* What seeding left behind (auction requests, PostgreSQL writing) stays out of the timing. */
    settle_s = bench_settle(BENCH_SETTLE_CORES, BENCH_SETTLE_MAX_S);
    c = bench_conn_new(ctx->http, LIST_RECV_HINT, NULL, NULL);
    (void)bench_conns_open(&c, 1); /* a failure shows in the first timed call */
    for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
        struct bench_errs errs;
        struct bench_phase ph;
        struct bench_json j;
        size_t rows = 0;
        size_t bytes = 0;
        double rss_before;
        int hwm_reset;

        memset(&errs, 0, sizeof(errs));
        memset(&ph, 0, sizeof(ph));
        bench_lat_clear(&lat);
        bench_note(ctx, "list n=%lld: %d x %s", (long long)ctx->fleet.running, ctx->opts.list_reps,
                   targets[t].what);
        /* The list's own peak: VmHWM restarts from the RSS seeding left. */
        rss_before = bench_proc_mem_mb(ctx->env.server_pid, "VmRSS");
        hwm_reset = bench_proc_reset_hwm(ctx->env.server_pid) == 0;
        bench_probe_take(&ctx->env, ctx->http, &ph.p0);
        for (int r = 0; r < ctx->opts.list_reps; r++) {
            size_t count = 0;

            bench_http_call(c, targets[t].path, NULL);
            ph.requests++;
            if (bench_wire_check(c, targets[t].what, 2, &count, &errs) == 0) {
                ph.ops++;
                bench_lat_add(&lat, c->latency_ns);
                rows = count;
                bytes = c->resp_len;
            }
        }
        bench_probe_take(&ctx->env, ctx->http, &ph.p1);
        ctx->wire_errors += errs.wire;
        ph.lat = &lat;
        ph.errs = &errs;

        bench_json_begin(&j, "list");
        bench_json_str(&j, "what", targets[t].what);
        bench_json_int(&j, "n", ctx->fleet.running);
        bench_json_int(&j, "desired_lrps", ctx->fleet.desired);
        bench_json_int(&j, "per_lrp", ctx->fleet.per_lrp);
        bench_json_int(&j, "reps", ctx->opts.list_reps);
        bench_json_int(&j, "rows", (int64_t)rows);
        bench_json_int(&j, "bytes", (int64_t)bytes);
        bench_json_phase(&j, &ctx->env, &ph);
        if (rss_before >= 0) {
            bench_json_num(&j, "server_rss_before_mb", rss_before, 1);
        }
        if (hwm_reset) {
            bench_json_num(&j, "server_list_hwm_mb",
                           bench_proc_mem_mb(ctx->env.server_pid, "VmHWM"), 1);
        }
        if (t == 0 && seed_s > 0) {
            bench_json_num(&j, "seed_s", seed_s, 2);
            bench_json_num(&j, "seed_pairs_per_s", seed_rate, 1);
        }
        if (t == 0) {
            bench_json_num(&j, "settle_s", settle_s, 2);
        }
        bench_json_end(&j);
    }
    bench_conn_free(c);
    bench_lat_free(&lat);
}
