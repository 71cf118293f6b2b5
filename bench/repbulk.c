/*
 * repbulk.c - the `repbulk` workload: the steady load of a whole Diego.
 *
 * Every cell's rep runs a bulk loop: fetch the ActualLRPs of its cell
 * (`actual_lrps/list` filtered by cell_id), then send a start for each
 * instance it runs. Almost all of those starts repeat what the BBS already
 * has and must be no-ops; a few (transition_pct, default 1%) follow a claim
 * by the same instance key, a real RUNNING -> CLAIMED -> RUNNING round
 * trip. Besides, one client lists every scheduling info once a period, as
 * the auctioneer and convergence do.
 *
 * Cells are spread evenly over the period (cell c's loops start at
 * c * period / cells + i * period) and each loops on its own connection,
 * one request at a time, as a rep does. A tick that finds the cell's
 * previous loop still running is not lost: the next loop starts as soon as
 * the previous one ends (counted as late_loops), and later ticks that find
 * one already waiting are dropped (as Go's time.Ticker drops them). Loops
 * are started for `duration`; those under way then run to completion.
 *
 * One op is one loop; its latency runs from the fetch being sent to the
 * last start being answered. The loops start once the machine has settled
 * after seeding (bench_settle). Every fetch is checked against the fleet
 * layout: exactly the cell's instances, each RUNNING with its instance
 * key, none twice, nothing else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "evwire.h"
#include "report.h"
#include "wire.h"

#define REPBULK_RECV_HINT (1u * 1024 * 1024)

enum cell_phase { CELL_IDLE, CELL_FETCH, CELL_CLAIM, CELL_START };

struct rb;

struct rb_cell {
    struct rb *rb;
    struct bench_conn *conn;
    int idx;
    char id[40];
    int64_t n_inst; /* instances g < n with g % cells == idx */
    int64_t k;      /* the loop is at the cell's k-th instance: g = idx + k * cells */
    enum cell_phase phase;
    int pending;
    int64_t loop_t0;
    uint8_t *seen; /* n_inst flags: fetch verification */
    int claimed;   /* the claim before the current start took effect */
    uint64_t exact_fetches;
};

struct rb {
    struct bench_ctx *ctx;
    const struct bench_repbulk_obs *obs;
    const struct bench_fleet *f;
    int64_t n;
    int cells;
    int64_t period_ns;
    int64_t duration_ns;
    int64_t t_start;
    int64_t tick;       /* the next tick: cell tick % cells at t_start + tick * period / cells */
    uint32_t threshold; /* a start follows a claim when rng() < threshold */
    uint64_t rng;
    struct rb_cell *cell;
    struct bench_lat loop_lat;
    struct bench_lat fetch_lat;
    struct bench_lat req_lat;
    struct bench_lat sched_lat;
    struct bench_errs errs;
    uint64_t loops;
    uint64_t late;
    uint64_t dropped;
    uint64_t fetches;
    uint64_t mismatched;
    uint64_t starts;
    uint64_t claims;
    uint64_t requests;
    struct bench_conn *sched;
    int64_t sched_next; /* -1: no more */
    uint64_t sched_rows;
    uint64_t sched_bytes;
};

/* xorshift64*: cheap and reproducible. */
static uint32_t rb_rand(struct rb *rb)
{
    rb->rng ^= rb->rng >> 12;
    rb->rng ^= rb->rng << 25;
    rb->rng ^= rb->rng >> 27;
    return (uint32_t)((rb->rng * 2685821657736338717ull) >> 32);
}

static void loop_begin(struct rb_cell *cell)
{
    static const Models__ActualLRPsRequest init = MODELS__ACTUAL_LRPS_REQUEST__INIT;
    Models__ActualLRPsRequest req = init;

    req.cell_id = cell->id;
    cell->phase = CELL_FETCH;
    bench_conn_post(cell->conn, "/v1/actual_lrps/list", &req.base);
    cell->loop_t0 = cell->conn->t0_ns;
}

/* Exactly this cell's instances, each RUNNING under its instance key, each once? */
static int verify(struct rb_cell *cell, const Models__ActualLRPsResponse *resp)
{
    struct rb *rb = cell->rb;
    struct bench_inst in;
    int64_t found = 0;

    memset(cell->seen, 0, (size_t)cell->n_inst);
    for (size_t i = 0; i < resp->n_actual_lrps; i++) {
        const Models__ActualLRP *a = resp->actual_lrps[i];
        int64_t g;
        int64_t k;

        if (a->actual_lrp_key == NULL || a->actual_lrp_instance_key == NULL || a->state == NULL ||
            strcmp(a->state, "RUNNING") != 0 ||
            a->presence != MODELS__ACTUAL_LRP__PRESENCE__ORDINARY) {
            return 0;
        }
        g = bench_fleet_parse(rb->f, a->actual_lrp_key->process_guid, a->actual_lrp_key->index);
        if (g < 0 || g >= rb->n || g % rb->cells != cell->idx) {
            return 0;
        }
        k = g / rb->cells;
        bench_fleet_inst(rb->f, g, &in);
        if (cell->seen[k] || a->actual_lrp_instance_key->cell_id == NULL ||
            strcmp(a->actual_lrp_instance_key->cell_id, cell->id) != 0 ||
            a->actual_lrp_instance_key->instance_guid == NULL ||
            strcmp(a->actual_lrp_instance_key->instance_guid, in.ig) != 0) {
            return 0;
        }
        cell->seen[k] = 1;
        found++;
    }
    return found == cell->n_inst;
}

static void next_step(struct rb_cell *cell, int64_t now_ns)
{
    struct rb *rb = cell->rb;
    struct bench_inst in;

    if (cell->k >= cell->n_inst) {
        bench_lat_add(&rb->loop_lat, now_ns - cell->loop_t0);
        rb->loops++;
        cell->phase = CELL_IDLE;
        if (cell->pending) {
            cell->pending = 0;
            rb->late++;
            loop_begin(cell);
        }
        return;
    }
    bench_fleet_inst(rb->f, cell->idx + cell->k * rb->cells, &in);
    if (rb_rand(rb) < rb->threshold) {
        struct bench_claim_msg m;

        bench_claim_msg_init(&m, &in);
        cell->phase = CELL_CLAIM;
        rb->claims++;
        bench_conn_post(cell->conn, "/v1/actual_lrps/claim", &m.req.base);
    } else {
        struct bench_start_msg m;

        bench_start_msg_init(&m, &in);
        cell->phase = CELL_START;
        rb->starts++;
        bench_conn_post(cell->conn, "/v1/actual_lrps/start.r1", &m.req.base);
    }
}

static void on_fetch(struct rb_cell *cell, struct bench_conn *c)
{
    struct rb *rb = cell->rb;
    Models__ActualLRPsResponse *resp = NULL;
    int exact = 0;

    rb->fetches++;
    bench_lat_add(&rb->fetch_lat, c->latency_ns);
    if (bench_wire_check(c, "fetch by cell", 0, NULL, &rb->errs) == 0) {
        resp = models__actual_lrps_response__unpack(NULL, c->resp_len, c->resp);
        if (resp == NULL) {
            rb->errs.wire++;
        } else {
            exact = verify(cell, resp);
            models__actual_lrps_response__free_unpacked(resp, NULL);
        }
    }
    if (exact) {
        cell->exact_fetches++;
    } else {
        rb->mismatched++;
    }
    cell->k = 0;
    next_step(cell, c->t0_ns + c->latency_ns);
}

static void cell_done(struct bench_conn *c)
{
    struct rb_cell *cell = c->ud;
    struct rb *rb = cell->rb;
    struct bench_inst in;
    struct bench_start_msg m;

    rb->requests++;
    switch (cell->phase) {
    case CELL_FETCH:
        on_fetch(cell, c);
        return;
    case CELL_CLAIM:
        bench_lat_add(&rb->req_lat, c->latency_ns);
        cell->claimed = bench_wire_check(c, "claim", 0, NULL, &rb->errs) == 0;
        if (cell->claimed && rb->obs != NULL && rb->obs->changed != NULL) {
            rb->obs->changed(rb->obs->ud, cell->idx + cell->k * rb->cells, BENCH_ST_CLAIMED,
                             c->t0_ns, c->t0_ns + c->latency_ns);
        }
        /* Then the start that makes it RUNNING again, whatever the claim answered. */
        bench_fleet_inst(rb->f, cell->idx + cell->k * rb->cells, &in);
        bench_start_msg_init(&m, &in);
        cell->phase = CELL_START;
        rb->starts++;
        bench_conn_post(c, "/v1/actual_lrps/start.r1", &m.req.base);
        return;
    case CELL_START:
        bench_lat_add(&rb->req_lat, c->latency_ns);
        if (bench_wire_check(c, "start", 0, NULL, &rb->errs) == 0 && cell->claimed &&
            rb->obs != NULL && rb->obs->changed != NULL) {
            rb->obs->changed(rb->obs->ud, cell->idx + cell->k * rb->cells, BENCH_ST_RUNNING,
                             c->t0_ns, c->t0_ns + c->latency_ns);
        }
        cell->claimed = 0;
        cell->k++;
        next_step(cell, c->t0_ns + c->latency_ns);
        return;
    case CELL_IDLE:
        break;
    }
}

static void sched_done(struct bench_conn *c)
{
    struct rb *rb = c->ud;
    size_t rows = 0;

    rb->requests++;
    bench_lat_add(&rb->sched_lat, c->latency_ns);
    if (bench_wire_check(c, "scheduling infos", 2, &rows, &rb->errs) == 0) {
        rb->sched_rows = rows;
        rb->sched_bytes = c->resp_len;
    }
}

static int64_t rb_tick(void *ud, int64_t now)
{
    struct rb *rb = ud;
    int64_t next = -1;

    for (;;) {
        int64_t at = rb->tick * rb->period_ns / rb->cells;
        struct rb_cell *cell;

        if (at >= rb->duration_ns) {
            break;
        }
        if (rb->t_start + at > now) {
            next = rb->t_start + at;
            break;
        }
        cell = &rb->cell[rb->tick % rb->cells];
        rb->tick++;
        if (cell->n_inst == 0) {
            continue;
        }
        if (cell->phase == CELL_IDLE) {
            loop_begin(cell);
        } else if (!cell->pending) {
            cell->pending = 1;
        } else {
            rb->dropped++;
        }
    }
    if (rb->sched_next >= 0) {
        if (now >= rb->sched_next) {
            if (!bench_conn_busy(rb->sched)) {
                bench_conn_post(rb->sched, "/v1/desired_lrp_scheduling_infos/list", NULL);
            }
            rb->sched_next += rb->period_ns;
            if (rb->sched_next - rb->t_start >= rb->duration_ns) {
                rb->sched_next = -1;
            }
        }
        if (rb->sched_next >= 0 && (next < 0 || rb->sched_next < next)) {
            next = rb->sched_next;
        }
    }
    return next;
}

void bench_repbulk(struct bench_ctx *ctx)
{
    bench_repbulk_run(ctx, NULL, NULL);
}

void bench_repbulk_run(struct bench_ctx *ctx, const struct bench_repbulk_obs *obs,
                       struct bench_repbulk_sum *sum)
{
    const struct bench_opts *o = &ctx->opts;
    struct rb rb;
    struct bench_phase ph;
    struct bench_json j;
    int cells_exact = 1;
    int64_t expected_loops;
    double elapsed_s;
    double settle_s;

    memset(&rb, 0, sizeof(rb));
    memset(&ph, 0, sizeof(ph));
    bench_fleet_grow(ctx, o->repbulk_n, NULL);
    settle_s = bench_settle(BENCH_SETTLE_CORES, BENCH_SETTLE_MAX_S);
    rb.ctx = ctx;
    rb.obs = obs;
    rb.f = &ctx->fleet;
    rb.n = ctx->fleet.running;
    rb.cells = ctx->fleet.cells;
    rb.period_ns = (int64_t)(o->period_s * 1e9);
    rb.duration_ns = (int64_t)(o->duration_s * 1e9);
    rb.threshold = (uint32_t)(o->transition_pct / 100.0 * 4294967295.0);
    rb.rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)ctx->fleet.hash;
    rb.cell = calloc((size_t)rb.cells, sizeof(*rb.cell));
    if (rb.cell == NULL) {
        abort();
    }
    for (int c = 0; c < rb.cells; c++) {
        struct rb_cell *cell = &rb.cell[c];

        cell->rb = &rb;
        cell->idx = c;
        bench_fleet_cell(&ctx->fleet, c, cell->id, sizeof(cell->id));
        cell->n_inst = c < rb.n ? (rb.n - c + rb.cells - 1) / rb.cells : 0;
        cell->seen = calloc((size_t)cell->n_inst + 1, 1);
        if (cell->seen == NULL) {
            abort();
        }
        cell->conn = bench_conn_new(ctx->http, 0, cell_done, cell);
    }
    rb.sched = bench_conn_new(ctx->http, REPBULK_RECV_HINT, sched_done, &rb);
    expected_loops = 0;
    for (int64_t t = 0; t * rb.period_ns / rb.cells < rb.duration_ns; t++) {
        expected_loops += rb.cell[t % rb.cells].n_inst > 0;
    }

    bench_note(ctx, "repbulk: %lld instances on %d cells, a loop every %.0f s for %.0f s",
               (long long)rb.n, rb.cells, o->period_s, o->duration_s);
    bench_probe_take(&ctx->env, ctx->http, &ph.p0);
    rb.t_start = ph.p0.wall_ns;
    rb.sched_next = rb.t_start + rb.period_ns / 2;
    bench_http_run(ctx->http, rb_tick, &rb);
    bench_probe_take(&ctx->env, ctx->http, &ph.p1);
    ctx->wire_errors += rb.errs.wire;

    for (int c = 0; c < rb.cells; c++) {
        if (rb.cell[c].n_inst > 0 && rb.cell[c].exact_fetches == 0) {
            cells_exact = 0; /* a cell that never fetched saw nothing at all */
        }
        bench_conn_free(rb.cell[c].conn);
        free(rb.cell[c].seen);
    }
    bench_conn_free(rb.sched);
    free(rb.cell);

    ph.ops = rb.loops;
    ph.requests = rb.requests;
    ph.lat = &rb.loop_lat;
    ph.errs = &rb.errs;
    elapsed_s = (double)(ph.p1.wall_ns - ph.p0.wall_ns) / 1e9;

    bench_json_begin(&j, "repbulk");
    bench_json_int(&j, "n", rb.n);
    bench_json_int(&j, "cells", rb.cells);
    bench_json_int(&j, "per_lrp", ctx->fleet.per_lrp);
    bench_json_num(&j, "period_s", o->period_s, 1);
    bench_json_num(&j, "duration_s", o->duration_s, 1);
    bench_json_num(&j, "transition_pct", o->transition_pct, 2);
    bench_json_num(&j, "settle_s", settle_s, 2);
    if (obs != NULL && obs->event_streams >= 0) {
        bench_json_int(&j, "event_streams", obs->event_streams);
    }
    bench_json_str(&j, "unit", "cell loop");
    bench_json_phase(&j, &ctx->env, &ph);
    bench_json_num(&j, "req_per_s", elapsed_s > 0 ? (double)rb.requests / elapsed_s : 0, 1);
    bench_json_int(&j, "loops_expected", expected_loops);
    bench_json_int(&j, "late_loops", (int64_t)rb.late);
    bench_json_int(&j, "dropped_ticks", (int64_t)rb.dropped);
    bench_json_int(&j, "fetches", (int64_t)rb.fetches);
    bench_json_int(&j, "mismatched_fetches", (int64_t)rb.mismatched);
    bench_json_bool(&j, "cells_exact", cells_exact && rb.mismatched == 0);
    bench_json_int(&j, "starts", (int64_t)rb.starts);
    bench_json_int(&j, "transitions", (int64_t)rb.claims);
    bench_json_num(&j, "fetch_p50_ms", bench_lat_ms(&rb.fetch_lat, 0.5), 3);
    bench_json_num(&j, "fetch_p99_ms", bench_lat_ms(&rb.fetch_lat, 0.99), 3);
    bench_json_num(&j, "req_p50_ms", bench_lat_ms(&rb.req_lat, 0.5), 3);
    bench_json_num(&j, "req_p99_ms", bench_lat_ms(&rb.req_lat, 0.99), 3);
    bench_json_int(&j, "sched_fetches", (int64_t)rb.sched_lat.n);
    bench_json_int(&j, "sched_rows", (int64_t)rb.sched_rows);
    bench_json_num(&j, "sched_p50_ms", bench_lat_ms(&rb.sched_lat, 0.5), 3);
    bench_json_num(&j, "sched_max_ms", bench_lat_ms(&rb.sched_lat, 1.0), 3);
    bench_json_end(&j);
    if (sum != NULL) {
        memset(sum, 0, sizeof(*sum));
        sum->elapsed_s = elapsed_s;
        sum->req_per_s = elapsed_s > 0 ? (double)rb.requests / elapsed_s : 0;
        sum->req_p50_ms = bench_lat_ms(&rb.req_lat, 0.5);
        sum->req_p99_ms = bench_lat_ms(&rb.req_lat, 0.99);
        sum->loop_p50_ms = bench_lat_ms(&rb.loop_lat, 0.5);
        sum->loop_p99_ms = bench_lat_ms(&rb.loop_lat, 0.99);
        sum->server_cpu_us_per_req =
            ph.p0.server_cpu_s >= 0 && ph.p1.server_cpu_s >= 0 && rb.requests > 0
                ? (ph.p1.server_cpu_s - ph.p0.server_cpu_s) * 1e6 / (double)rb.requests
                : -1;
        sum->db_cpu_us_per_req = ph.p0.db_cpu_s >= 0 && ph.p1.db_cpu_s >= 0 && rb.requests > 0
                                     ? (ph.p1.db_cpu_s - ph.p0.db_cpu_s) * 1e6 / (double)rb.requests
                                     : -1;
        sum->requests = rb.requests;
        sum->transitions = rb.claims;
        sum->errors = rb.errs.bbs + rb.errs.wire;
        sum->cells_exact = cells_exact && rb.mismatched == 0;
    }
    bench_lat_free(&rb.loop_lat);
    bench_lat_free(&rb.fetch_lat);
    bench_lat_free(&rb.req_lat);
    bench_lat_free(&rb.sched_lat);
}
