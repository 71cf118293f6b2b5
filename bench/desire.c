/*
 * desire.c - the `desire` workload: how fast DesiredLRPs can be created.
 *
 * K concurrent clients desire new DesiredLRPs of I instances each (100 by
 * default) for a fixed time; each desire stores the DesiredLRP and creates
 * its I UNCLAIMED ActualLRPs (no auctioneer is involved: the bench server
 * runs without one). One op is one successful desire.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "report.h"
#include "wire.h"

struct desire_timed {
    struct bench_fleet f;
    int64_t next;
    int64_t deadline_ns;
    int instances;
    struct bench_lat lat;
    struct bench_errs errs;
    uint64_t ops;
    uint64_t requests;
};

static void desire_post(struct bench_conn *c)
{
    struct desire_timed *r = c->ud;
    struct bench_desire_msg m;

    bench_desire_msg_init(&m, &r->f, r->next++, r->instances);
    bench_conn_post(c, "/v1/desired_lrp/desire.r2", &m.req.base);
}

static void desire_done(struct bench_conn *c)
{
    struct desire_timed *r = c->ud;

    r->requests++;
    if (bench_wire_check(c, "desire", 0, NULL, &r->errs) == 0) {
        r->ops++;
        bench_lat_add(&r->lat, c->latency_ns);
    }
    if (c->t0_ns + c->latency_ns < r->deadline_ns) {
        desire_post(c);
    }
}

void bench_desire(struct bench_ctx *ctx, int k)
{
    struct desire_timed r;
    struct bench_conn **conns = calloc((size_t)k, sizeof(*conns));
    struct bench_phase ph;
    struct bench_json j;
    char name[24];
    double elapsed_s;

    if (conns == NULL) {
        abort();
    }
    memset(&r, 0, sizeof(r));
    memset(&ph, 0, sizeof(ph));
    snprintf(name, sizeof(name), "%sd%d", ctx->run, k);
    bench_fleet_init(&r.f, name, ctx->opts.desire_instances, 1);
    r.instances = ctx->opts.desire_instances;

    bench_note(ctx, "desire k=%d: %.0f s of desires with %d instances each", k, ctx->opts.desire_s,
               r.instances);
    bench_probe_take(&ctx->env, ctx->http, &ph.p0);
    r.deadline_ns = ph.p0.wall_ns + (int64_t)(ctx->opts.desire_s * 1e9);
    for (int i = 0; i < k; i++) {
        conns[i] = bench_conn_new(ctx->http, 0, desire_done, &r);
        desire_post(conns[i]);
    }
    bench_http_run(ctx->http, NULL, NULL);
    bench_probe_take(&ctx->env, ctx->http, &ph.p1);
    for (int i = 0; i < k; i++) {
        bench_conn_free(conns[i]);
    }
    free(conns);
    ctx->wire_errors += r.errs.wire;
    ph.ops = r.ops;
    ph.requests = r.requests;
    ph.lat = &r.lat;
    ph.errs = &r.errs;
    elapsed_s = (double)(ph.p1.wall_ns - ph.p0.wall_ns) / 1e9;

    bench_json_begin(&j, "desire");
    bench_json_int(&j, "k", k);
    bench_json_int(&j, "instances", r.instances);
    bench_json_num(&j, "seconds", ctx->opts.desire_s, 1);
    bench_json_phase(&j, &ctx->env, &ph);
    bench_json_num(&j, "instances_per_s",
                   elapsed_s > 0 ? (double)r.ops * r.instances / elapsed_s : 0, 1);
    bench_json_end(&j);
    bench_lat_free(&r.lat);
}
