/*
 * events.c - the `events` workload: the event streams under repbulk's load.
 *
 * With the fleet seeded (as for repbulk), it runs repbulk once with no
 * stream open (the baseline; --events-baseline 0 skips it), then opens one
 * cell-filtered stream per cell (--event-cell-streams) and a few
 * unfiltered ones (--event-global-streams) on the instance stream route,
 * runs repbulk again with the same parameters and, once its loops are
 * over, waits for the last events (--events-drain seconds without one at
 * most). Each repbulk run prints its usual line (with "event_streams"),
 * then this workload prints one line comparing them and judging delivery.
 *
 * What repbulk changes: its transitions (a claim making an instance
 * CLAIMED, the start making it RUNNING again) each emit one
 * actual_lrp_instance_changed that belongs to the instance's cell stream
 * and to every global stream; its no-op starts emit nothing. The stream
 * reader (evstream.c) records what arrives; evmatch.c compares. The delay
 * of a delivery runs from the moment the request's answer was read (the
 * change was committed before that) to the moment the event's bytes were
 * read; one that arrives before its answer counts 0 (and as `early`).
 * `send_p99_ms` measures from the request sent instead, an upper bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "evmatch.h"
#include "evstream.h"
#include "report.h"

struct ev_log {
    struct bench_ev_expect *ex;
    size_t n;
    size_t cap;
};

static void on_changed(void *ud, int64_t g, int state, int64_t t_sent_ns, int64_t t_resp_ns)
{
    struct ev_log *log = ud;

    if (log->n == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 4096;
        struct bench_ev_expect *p = realloc(log->ex, cap * sizeof(*p));

        if (p == NULL) {
            fputs("bbs-bench: out of memory\n", stderr);
            abort();
        }
        log->ex = p;
        log->cap = cap;
    }
    log->ex[log->n].t_sent = t_sent_ns;
    log->ex[log->n].t_resp = t_resp_ns;
    log->ex[log->n].g = (uint32_t)g;
    log->ex[log->n].state = (uint8_t)state;
    log->n++;
}

/*
 * Wait until `want` fleet events have arrived, then 200 ms more for
 * duplicates; give up after `drain_s` seconds without a new one.
 */
static void drain(struct bench_ctx *ctx, struct bench_evs *evs, uint64_t want, double drain_s)
{
    uint64_t last = bench_evs_arrived(evs);
    int64_t last_t = bench_now_ns();
    int64_t full_t = -1;

    for (;;) {
        uint64_t now_n = bench_evs_arrived(evs);
        int64_t now = bench_now_ns();

        if (now_n != last) {
            last = now_n;
            last_t = now;
        }
        if (now_n >= want && full_t < 0) {
            full_t = now;
        }
        if (full_t >= 0 && now - full_t >= 200 * 1000000LL) {
            break;
        }
        if ((double)(now - last_t) / 1e9 >= drain_s) {
            bench_note(ctx, "events: gave up waiting: %llu of %llu deliveries after %.0f s quiet",
                       (unsigned long long)now_n, (unsigned long long)want, drain_s);
            break;
        }
        {
            struct timespec ts = {0, 10 * 1000000L};

            nanosleep(&ts, NULL);
        }
    }
}

/* A CPU figure that is -1 when the server is not local: null then. */
static void cpu_num(struct bench_json *j, const char *key, double v)
{
    if (v < 0) {
        bench_json_null(j, key);
    } else {
        bench_json_num(j, key, v, 1);
    }
}

static double change_pct(double before, double after)
{
    return before > 0 ? (after / before - 1) * 100 : 0;
}

/* One round: a repbulk run with no stream open (unless --events-baseline 0), then one with. */
static void events_round(struct bench_ctx *ctx, int round)
{
    const struct bench_opts *o = &ctx->opts;
    struct bench_repbulk_obs closed_obs = {NULL, NULL, 0};
    struct bench_repbulk_obs open_obs;
    struct bench_repbulk_sum closed;
    struct bench_repbulk_sum open;
    struct bench_evs_opts eo;
    struct bench_evs *evs = NULL;
    struct bench_evs_stats st;
    struct bench_ev_streams layout;
    struct bench_ev_result res;
    const struct bench_ev_arrival *arr;
    size_t n_arr;
    struct ev_log log;
    struct bench_lat delay;
    struct bench_lat send_delay;
    struct bench_errs errs;
    struct bench_phase ph;
    struct bench_json j;
    uint64_t want;
    int n_cell;
    int opened;

    memset(&closed, 0, sizeof(closed));
    memset(&open, 0, sizeof(open));
    memset(&log, 0, sizeof(log));
    memset(&delay, 0, sizeof(delay));
    memset(&send_delay, 0, sizeof(send_delay));
    memset(&errs, 0, sizeof(errs));
    memset(&ph, 0, sizeof(ph));

    n_cell = o->event_cell_streams < 0 || o->event_cell_streams > ctx->fleet.cells
                 ? ctx->fleet.cells
                 : o->event_cell_streams;
    if (o->events_baseline) {
        bench_note(ctx, "events: repbulk with no stream open (baseline)");
        bench_repbulk_run(ctx, &closed_obs, &closed);
    }

    memset(&eo, 0, sizeof(eo));
    eo.http = &ctx->http_opts;
    eo.fleet = &ctx->fleet;
    eo.n_inst = (uint32_t)ctx->fleet.running;
    eo.n_cell = n_cell;
    eo.n_global = o->event_global_streams;
    eo.path = o->event_path;
    bench_note(ctx, "events: opening %d cell streams and %d global ones on %s", n_cell,
               o->event_global_streams, o->event_path);
    evs = bench_evs_start(&eo);
    if (evs == NULL) {
        ctx->wire_errors++;
        return;
    }
    opened = bench_evs_wait_open(evs, 120);
    bench_note(ctx, "events: %d of %d streams open", opened, n_cell + o->event_global_streams);

    open_obs.changed = on_changed;
    open_obs.ud = &log;
    open_obs.event_streams = opened;
    bench_probe_take(&ctx->env, ctx->http, &ph.p0);
    bench_repbulk_run(ctx, &open_obs, &open);
    bench_note(ctx, "events: repbulk done; %zu transitions, waiting for their events", log.n);
    want = 0;
    for (size_t i = 0; opened > 0 && i < log.n; i++) {
        /* Every global stream, and the instance's cell stream if it has one. */
        want += (uint64_t)o->event_global_streams +
                (log.ex[i].g % (uint32_t)ctx->fleet.cells < (uint32_t)n_cell);
    }
    drain(ctx, evs, want, o->events_drain_s);
    bench_probe_take(&ctx->env, ctx->http, &ph.p1);
    bench_evs_stop(evs);

    bench_evs_stats(evs, &st);
    bench_evs_layout(evs, &layout);
    arr = bench_evs_arrivals(evs, &n_arr);
    bench_ev_match(&layout, log.ex, log.n, arr, n_arr, &res);
    for (size_t i = 0; i < res.n_delay; i++) {
        bench_lat_add(&delay, res.delay_ns[i]);
        bench_lat_add(&send_delay, res.send_delay_ns[i]);
    }
    /* A stream that did not open or broke is a wire error; late or lost events are results. */
    errs.wire = (uint64_t)st.failed + st.parse_errors + st.bad_payloads;
    if (st.first_error[0] != '\0') {
        snprintf(errs.first, sizeof(errs.first), "%.159s", st.first_error);
    }
    ctx->wire_errors += errs.wire;

    ph.ops = res.delivered;
    ph.requests = open.requests;
    ph.lat = &delay;
    ph.errs = &errs;
    bench_json_begin(&j, "events");
    bench_json_int(&j, "round", round);
    bench_json_str(&j, "path", o->event_path);
    bench_json_int(&j, "n", (int64_t)ctx->fleet.running);
    bench_json_int(&j, "cells", ctx->fleet.cells);
    bench_json_int(&j, "per_lrp", ctx->fleet.per_lrp);
    bench_json_num(&j, "period_s", o->period_s, 1);
    bench_json_num(&j, "duration_s", o->duration_s, 1);
    bench_json_num(&j, "transition_pct", o->transition_pct, 2);
    bench_json_int(&j, "cell_streams", n_cell);
    bench_json_int(&j, "global_streams", o->event_global_streams);
    bench_json_str(&j, "unit", "event delivery");
    bench_json_phase(&j, &ctx->env, &ph);
    bench_json_int(&j, "streams_opened", st.opened);
    bench_json_int(&j, "streams_failed", st.failed);
    bench_json_int(&j, "streams_ended", st.ended);
    bench_json_int(&j, "transitions", (int64_t)log.n);
    bench_json_int(&j, "expected", (int64_t)res.expected);
    bench_json_int(&j, "delivered", (int64_t)res.delivered);
    bench_json_int(&j, "missing", (int64_t)res.missing);
    bench_json_int(&j, "duplicates", (int64_t)res.duplicates);
    bench_json_int(&j, "out_of_order", (int64_t)res.out_of_order);
    bench_json_int(&j, "unexpected", (int64_t)res.unexpected);
    bench_json_int(&j, "filter_errors", (int64_t)res.filter_errors);
    bench_json_int(&j, "seq_errors", (int64_t)st.seq_errors);
    bench_json_int(&j, "parse_errors", (int64_t)st.parse_errors);
    bench_json_int(&j, "bad_payloads", (int64_t)st.bad_payloads);
    bench_json_bool(&j, "exact",
                    res.missing == 0 && res.duplicates == 0 && res.out_of_order == 0 &&
                        res.unexpected == 0 && st.seq_errors == 0 && st.failed == 0 &&
                        st.ended == 0 && res.expected > 0);
    bench_json_int(&j, "early", (int64_t)res.early);
    bench_json_num(&j, "send_p50_ms", bench_lat_ms(&send_delay, 0.5), 3);
    bench_json_num(&j, "send_p99_ms", bench_lat_ms(&send_delay, 0.99), 3);
    bench_json_num(&j, "send_max_ms", bench_lat_ms(&send_delay, 1.0), 3);
    bench_json_int(&j, "records", (int64_t)st.records);
    bench_json_int(&j, "foreign_events", (int64_t)st.foreign);
    bench_json_int(&j, "unknown_events", (int64_t)st.unknown);
    bench_json_int(&j, "heartbeats", (int64_t)st.comments);
    bench_json_int(&j, "stream_bytes", (int64_t)st.bytes);
    bench_json_num(&j, "req_per_s_open", open.req_per_s, 1);
    bench_json_num(&j, "req_p50_ms_open", open.req_p50_ms, 3);
    bench_json_num(&j, "req_p99_ms_open", open.req_p99_ms, 3);
    bench_json_num(&j, "loop_p99_ms_open", open.loop_p99_ms, 3);
    cpu_num(&j, "server_cpu_us_per_req_open", open.server_cpu_us_per_req);
    cpu_num(&j, "db_cpu_us_per_req_open", open.db_cpu_us_per_req);
    if (o->events_baseline) {
        bench_json_num(&j, "req_per_s_closed", closed.req_per_s, 1);
        bench_json_num(&j, "req_p50_ms_closed", closed.req_p50_ms, 3);
        bench_json_num(&j, "req_p99_ms_closed", closed.req_p99_ms, 3);
        bench_json_num(&j, "loop_p99_ms_closed", closed.loop_p99_ms, 3);
        cpu_num(&j, "server_cpu_us_per_req_closed", closed.server_cpu_us_per_req);
        cpu_num(&j, "db_cpu_us_per_req_closed", closed.db_cpu_us_per_req);
        /* Positive: slower (fewer requests per second, longer requests) with the streams open. */
        bench_json_num(&j, "rate_slowdown_pct", -change_pct(closed.req_per_s, open.req_per_s), 1);
        bench_json_num(&j, "req_p50_slowdown_pct", change_pct(closed.req_p50_ms, open.req_p50_ms),
                       1);
        bench_json_num(&j, "req_p99_slowdown_pct", change_pct(closed.req_p99_ms, open.req_p99_ms),
                       1);
    }
    bench_json_end(&j);

    bench_ev_result_free(&res);
    bench_lat_free(&delay);
    bench_lat_free(&send_delay);
    free(log.ex);
    bench_evs_free(evs);
}

void bench_events(struct bench_ctx *ctx)
{
    bench_fleet_grow(ctx, ctx->opts.repbulk_n, NULL);
    for (int r = 0; r < ctx->opts.events_rounds; r++) {
        events_round(ctx, r);
    }
}
