/*
 * claimstart.c - the `claimstart` workload: how fast cells can take new
 * instances.
 *
 * Desire M single-instance DesiredLRPs (seeding, not measured), then K
 * concurrent clients each take the next UNCLAIMED instance, claim it and
 * start it, as a cell does for a freshly auctioned instance. One op is one
 * successful claim+start pair; its latency runs from the claim being sent
 * to the start being answered. A cell's connection is open long before it
 * takes an instance, so the K connections are opened (one ping each, all at
 * once) before the timed phase; `open_ms` reports how long that took. Before
 * that the machine is left to settle (bench_settle, `settle_s`): desiring
 * the M LRPs sends M auction requests, and an auctioneer on this machine
 * may still be taking them.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "report.h"

struct claimstart_ready {
    struct bench_ctx *ctx;
    struct bench_phase *ph;
    int64_t t_open;
    double open_ms;
};

/* The connections are open: the timed phase starts here. */
static void claimstart_ready(void *ud)
{
    struct claimstart_ready *r = ud;

    r->open_ms = (double)(bench_now_ns() - r->t_open) / 1e6;
    bench_probe_take(&r->ctx->env, r->ctx->http, &r->ph->p0);
}

void bench_claimstart(struct bench_ctx *ctx, int k, int64_t m)
{
    struct bench_fleet f;
    struct bench_errs seed_errs;
    struct bench_errs errs;
    struct bench_lat lat = {0};
    struct bench_phase ph;
    struct bench_json j;
    char name[24];
    int64_t t0;
    double seed_s;
    double settle_s;

    memset(&seed_errs, 0, sizeof(seed_errs));
    memset(&errs, 0, sizeof(errs));
    memset(&ph, 0, sizeof(ph));
    snprintf(name, sizeof(name), "%sk%d", ctx->run, k);
    /* One cell per client: a client's instances need not be on its own cell, as in an auction. */
    bench_fleet_init(&f, name, 1, k);

    bench_note(ctx, "claimstart k=%d: desiring %lld single-instance LRPs", k, (long long)m);
    t0 = bench_now_ns();
    bench_fleet_desire(ctx->http, &f, 0, m, ctx->opts.seed_k, &seed_errs);
    seed_s = (double)(bench_now_ns() - t0) / 1e9;
    ctx->wire_errors += seed_errs.wire;

    /* The desires' auction requests are still being taken; let them finish first. */
    settle_s = bench_settle(BENCH_SETTLE_CORES, BENCH_SETTLE_MAX_S);
    bench_note(ctx, "claimstart k=%d: claiming and starting %lld instances", k, (long long)m);
    struct claimstart_ready ready = {.ctx = ctx, .ph = &ph, .t_open = bench_now_ns()};
    ph.ops = bench_fleet_claimstart(ctx->http, &f, 0, m, k, &lat, &errs, &ph.requests,
                                    claimstart_ready, &ready);
    bench_probe_take(&ctx->env, ctx->http, &ph.p1);
    ctx->wire_errors += errs.wire;
    ph.lat = &lat;
    ph.errs = &errs;

    bench_json_begin(&j, "claimstart");
    bench_json_int(&j, "k", k);
    bench_json_int(&j, "m", m);
    bench_json_str(&j, "unit", "claim+start pair");
    bench_json_phase(&j, &ctx->env, &ph);
    bench_json_num(&j, "seed_s", seed_s, 2);
    bench_json_num(&j, "settle_s", settle_s, 2);
    bench_json_num(&j, "open_ms", ready.open_ms, 1);
    bench_json_int(&j, "seed_errors", (int64_t)(seed_errs.bbs + seed_errs.wire));
    bench_json_end(&j);
    bench_lat_free(&lat);
}
