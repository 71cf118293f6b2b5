/*
 * tasks.c - the `tasks` and `tasks-callback` workloads: how fast the BBS
 * takes tasks through their life, as Cloud Foundry stages apps.
 *
 * K clients, each on its own connection, loop over their own tasks, one at
 * a time. `tasks`: desire.r2 (a staging definition, no callback) -> start
 * (the client's cell, "cell-<client>") -> complete (with a result) ->
 * resolving -> delete; one op is that whole cycle, its latency runs from
 * the desire sent to the delete answered. `tasks-callback`: the definition
 * carries a completion_callback_url pointing at the sink (sink.h), so after
 * complete the BBS resolves the task, POSTs the callback and deletes the
 * task itself; the cycle is desire -> start -> complete -> callback
 * received (its body checked), and the run ends by checking that the BBS
 * deleted every task it called back about.
 *
 * Every answer is checked: no `error` field, and start's should_start
 * true. A cycle with a failed call is abandoned (counted; its task stays
 * behind) and the client begins the next one. Cycles and calls are measured
 * in a window: after --tasks-warmup seconds, for --tasks-seconds; calls
 * that end outside it are not counted, and cycles still running when it
 * closes are finished but not counted either.
 *
 * Callbacks arrive on the sink's thread, which stamps them; the load
 * generator's loop looks for them every millisecond (the cycle's latency
 * uses the stamp, so only the next cycle's start waits for the look).
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "report.h"
#include "taskwire.h"
#include "wire.h"

enum {
    CALL_DESIRE,
    CALL_START,
    CALL_COMPLETE,
    CALL_RESOLVING,
    CALL_DELETE,
    CALL_CALLBACK, /* tasks-callback: complete answered -> callback received */
    N_CALLS
};

static const char *const call_name[N_CALLS] = {"desire",    "start",  "complete",
                                               "resolving", "delete", "callback"};
static const char *const call_path[CALL_CALLBACK] = {"/v1/tasks/desire.r2", "/v1/tasks/start",
                                                     "/v1/tasks/complete", "/v1/tasks/resolving",
                                                     "/v1/tasks/delete"};

#define POLL_NS 1000000 /* how often waiting clients look for their callback */

/* Written by the sink's thread, read by the loop: `seq` is stored last (release). */
struct cb_slot {
    _Atomic int64_t seq; /* the last task of this client whose callback arrived; -1: none */
    int64_t t_ns;
    int ok;
};

struct task_run;

struct task_client {
    struct task_run *r;
    struct bench_conn *c;
    int idx;
    int64_t seq; /* the client's current task */
    int step;    /* the call in flight, or CALL_CALLBACK while waiting */
    int idle;    /* no more cycles (the window closed) */
    int64_t t0_ns;
    int64_t t_completed_ns;
    int64_t wait_deadline_ns;
    char guid[40];
    char cell[16];
};

struct task_run {
    struct bench_ctx *ctx;
    int k;
    int callback;
    uint32_t hash;
    char domain[40]; /* this configuration's domain, also the tag of its callback paths */
    struct task_client *cl;
    struct cb_slot *slots;
    int64_t t_warm_ns;
    int64_t t_end_ns;
    int measuring; /* the window is open */
    int ended;     /* and closed */
    int idle;      /* clients done for good */
    struct bench_phase ph;
    struct bench_lat cycle;
    struct bench_lat call[N_CALLS];
    struct bench_errs errs;
    uint64_t cycles;
    uint64_t requests; /* in the window */
    uint64_t requests_all;
    uint64_t abandoned;
    uint64_t not_started; /* start answered without error but should_start false */
    uint64_t cb_missing;  /* no callback within --tasks-cb-timeout */
    uint64_t cb_bad;      /* a callback whose body did not say what the cycle did */
    _Atomic uint64_t cb_dup;
    _Atomic uint64_t cb_stray; /* a callback path of this workload that names no live task */
};

static int in_window(const struct task_run *r)
{
    return r->measuring && !r->ended;
}

static void note_first(struct task_run *r, const char *what)
{
    if (r->errs.first[0] == '\0') {
        snprintf(r->errs.first, sizeof(r->errs.first), "%s", what);
    }
}

static void post_call(struct task_client *cl)
{
    struct bench_conn *c = cl->c;

    switch (cl->step) {
    case CALL_DESIRE: {
        struct bench_task_desire_msg *m = malloc(sizeof(*m));
        char url[160];

        if (m == NULL) {
            abort();
        }
        url[0] = '\0';
        if (cl->r->callback) {
            int n = snprintf(url, sizeof(url), "%s", bench_sink_url(cl->r->ctx->sink));

            bench_task_cb_path(url + n, sizeof(url) - (size_t)n, cl->r->domain, cl->idx, cl->seq);
        }
        bench_task_desire_msg_init(m, cl->guid, cl->r->domain, url);
        bench_conn_post(c, call_path[CALL_DESIRE], &m->req.base);
        free(m);
        cl->t0_ns = c->t0_ns;
        return;
    }
    case CALL_START: {
        Models__StartTaskRequest m = MODELS__START_TASK_REQUEST__INIT;

        m.task_guid = cl->guid;
        m.cell_id = cl->cell;
        bench_conn_post(c, call_path[CALL_START], &m.base);
        return;
    }
    case CALL_COMPLETE: {
        Models__CompleteTaskRequest m = MODELS__COMPLETE_TASK_REQUEST__INIT;

        m.task_guid = cl->guid;
        m.cell_id = cl->cell;
        m.result = (char *)bench_task_result;
        bench_conn_post(c, call_path[CALL_COMPLETE], &m.base);
        return;
    }
    default: {
        Models__TaskGuidRequest m = MODELS__TASK_GUID_REQUEST__INIT;

        m.task_guid = cl->guid;
        bench_conn_post(c, call_path[cl->step], &m.base);
        return;
    }
    }
}

static void cycle_begin(struct task_client *cl)
{
    struct task_run *r = cl->r;

    if (r->ended) {
        if (!cl->idle) {
            cl->idle = 1;
            r->idle++;
        }
        return;
    }
    cl->seq++;
    bench_task_guid(cl->guid, sizeof(cl->guid), r->hash, r->k, cl->idx, cl->seq);
    cl->step = CALL_DESIRE;
    post_call(cl);
}

static void cycle_end(struct task_client *cl, int64_t t_ns)
{
    struct task_run *r = cl->r;

    if (in_window(r)) {
        r->cycles++;
        bench_lat_add(&r->cycle, t_ns - cl->t0_ns);
    }
    cycle_begin(cl);
}

static void abandon(struct task_client *cl)
{
    cl->r->abandoned++;
    cycle_begin(cl);
}

static void call_done(struct bench_conn *c)
{
    struct task_client *cl = c->ud;
    struct task_run *r = cl->r;
    int rc;

    r->requests_all++;
    if (in_window(r)) {
        r->requests++;
    }
    rc = bench_wire_check(c, call_name[cl->step], 0, NULL, &r->errs);
    if (rc == 0 && cl->step == CALL_START) {
        uint64_t v = 0;

        if (bench_wire_varint(c->resp, c->resp_len, 2, &v) < 0 || v == 0) {
            r->not_started++;
            note_first(r, "start: answered should_start false");
            rc = 1;
        }
    }
    if (rc != 0) {
        abandon(cl);
        return;
    }
    if (in_window(r)) {
        bench_lat_add(&r->call[cl->step], c->latency_ns);
    }
    if (cl->step == CALL_DELETE) {
        cycle_end(cl, c->t0_ns + c->latency_ns);
        return;
    }
    if (cl->step == CALL_COMPLETE && r->callback) {
        cl->step = CALL_CALLBACK;
        cl->t_completed_ns = c->t0_ns + c->latency_ns;
        cl->wait_deadline_ns =
            cl->t_completed_ns + (int64_t)(r->ctx->opts.tasks_cb_timeout_s * 1e9);
        return;
    }
    cl->step++;
    post_call(cl);
}

/* Clients waiting for their callback: has it come, or is it too late? */
static void look_for_callbacks(struct task_run *r, int64_t now)
{
    for (int i = 0; i < r->k; i++) {
        struct task_client *cl = &r->cl[i];
        struct cb_slot *s = &r->slots[i];

        if (cl->step != CALL_CALLBACK || cl->idle) {
            continue;
        }
        if (atomic_load_explicit(&s->seq, memory_order_acquire) == cl->seq) {
            if (!s->ok) {
                r->cb_bad++;
                note_first(r, "callback: the body does not match the completed task");
                abandon(cl);
                continue;
            }
            if (in_window(r)) {
                bench_lat_add(&r->call[CALL_CALLBACK], s->t_ns - cl->t_completed_ns);
            }
            cycle_end(cl, s->t_ns);
        } else if (now > cl->wait_deadline_ns) {
            r->cb_missing++;
            note_first(r, "callback: none arrived in time");
            abandon(cl);
        }
    }
}

static int64_t tick(void *ud, int64_t now)
{
    struct task_run *r = ud;
    int64_t next;

    if (!r->measuring && now >= r->t_warm_ns) {
        bench_probe_take(&r->ctx->env, r->ctx->http, &r->ph.p0);
        r->measuring = 1;
    }
    if (r->measuring && !r->ended && now >= r->t_end_ns) {
        bench_probe_take(&r->ctx->env, r->ctx->http, &r->ph.p1);
        r->ended = 1;
    }
    if (r->callback) {
        look_for_callbacks(r, now);
    }
    if (r->ended) {
        /* Clients still in a call end on their own; waiting ones need looking after. */
        for (int i = 0; i < r->k; i++) {
            if (!r->cl[i].idle && !bench_conn_busy(r->cl[i].c)) {
                if (r->cl[i].step != CALL_CALLBACK) {
                    r->cl[i].idle = 1;
                    r->idle++;
                }
            }
        }
        return r->idle < r->k ? now + POLL_NS : -1;
    }
    next = r->measuring ? r->t_end_ns : r->t_warm_ns;
    if (r->callback && next > now + POLL_NS) {
        next = now + POLL_NS;
    }
    return next;
}

/* On the sink's thread: a callback for one of this configuration's tasks. */
static int on_callback(void *ud, const struct bench_sink_req *req, int64_t t_ns)
{
    struct task_run *r = ud;
    char guid[40];
    int client;
    int64_t seq;
    struct cb_slot *s;

    if (bench_task_cb_parse(req->path, req->path_len, r->domain, &client, &seq) != 0 ||
        client >= r->k) {
        atomic_fetch_add(&r->cb_stray, 1);
        return 404;
    }
    s = &r->slots[client];
    if (atomic_load_explicit(&s->seq, memory_order_relaxed) >= seq) {
        atomic_fetch_add(&r->cb_dup, 1);
        return 200;
    }
    bench_task_guid(guid, sizeof(guid), r->hash, r->k, client, seq);
    s->t_ns = t_ns;
    s->ok = bench_task_callback_ok(req->body, req->body_len, guid);
    atomic_store_explicit(&s->seq, seq, memory_order_release);
    return 200;
}

/*
 * Tasks of this configuration still stored: with callbacks the BBS deletes
 * each after the receiver answered, a moment after the cycle ended, so wait
 * (up to 10 s) until the count stops falling.
 */
static int64_t tasks_left(struct task_run *r)
{
    struct bench_conn *c = bench_conn_new(r->ctx->http, 0, NULL, NULL);
    Models__TasksRequest m = MODELS__TASKS_REQUEST__INIT;
    int64_t left = -1;
    int same = 0;

    m.domain = r->domain;
    for (int i = 0; i < 50; i++) {
        size_t n = 0;
        int type = -1;
        struct timespec ts = {0, 200 * 1000000L};

        if (!bench_http_call(c, "/v1/tasks/list.r3", &m.base) ||
            bench_wire_scan(c->resp, c->resp_len, 2, &n, &type, NULL, 0) != 0 || type >= 0) {
            r->errs.wire += !c->ok;
            note_first(r, "list: the final list of the domain failed");
            left = -1;
            break;
        }
        same = left == (int64_t)n ? same + 1 : 0;
        left = (int64_t)n;
        if (!r->callback || left <= (int64_t)(r->abandoned) || same >= 5) {
            break;
        }
        nanosleep(&ts, NULL);
    }
    bench_conn_free(c);
    return left;
}

void bench_tasks(struct bench_ctx *ctx, int k, int callback)
{
    const char *name = callback ? "tasks-callback" : "tasks";
    struct task_run *r = calloc(1, sizeof(*r));
    struct bench_sink_counters s0 = {0};
    struct bench_sink_counters s1 = {0};
    struct bench_json j;
    int64_t left;
    uint32_t h = 2166136261u;

    if (r == NULL) {
        abort();
    }
    r->ctx = ctx;
    r->k = k;
    r->callback = callback;
    snprintf(r->domain, sizeof(r->domain), "%s-%s-k%d", ctx->run, callback ? "cb" : "t", k);
    for (const char *p = r->domain; *p != '\0'; p++) {
        h = (h ^ (uint8_t)*p) * 16777619u;
    }
    r->hash = h;
    r->cl = calloc((size_t)k, sizeof(*r->cl));
    r->slots = calloc((size_t)k, sizeof(*r->slots));
    if (r->cl == NULL || r->slots == NULL) {
        abort();
    }
    if (callback && ctx->sink == NULL) {
        char err[160];

        ctx->sink = bench_sink_start("127.0.0.1:0", err, sizeof(err));
        if (ctx->sink == NULL) {
            fprintf(stderr, "bbs-bench: %s\n", err);
            ctx->wire_errors++;
            goto out;
        }
    }
    for (int i = 0; i < k; i++) {
        atomic_store(&r->slots[i].seq, -1);
    }
    if (callback) {
        bench_sink_set_handler(ctx->sink, on_callback, r);
    }
    if (ctx->sink != NULL) {
        bench_sink_counters(ctx->sink, &s0);
    }

    bench_note(ctx, "%s k=%d: %.0f s warm-up, then %.0f s of cycles%s", name, k,
               ctx->opts.tasks_warmup_s, ctx->opts.tasks_s,
               ctx->sink != NULL ? " (auctioneer: the sink)" : "");
    r->t_warm_ns = bench_now_ns() + (int64_t)(ctx->opts.tasks_warmup_s * 1e9);
    r->t_end_ns = r->t_warm_ns + (int64_t)(ctx->opts.tasks_s * 1e9);
    for (int i = 0; i < k; i++) {
        struct task_client *cl = &r->cl[i];

        cl->r = r;
        cl->idx = i;
        cl->seq = -1;
        snprintf(cl->cell, sizeof(cl->cell), "cell-%d", i);
        cl->c = bench_conn_new(ctx->http, 0, call_done, cl);
        cycle_begin(cl);
    }
    bench_http_run(ctx->http, tick, r);
    if (!r->ended) { /* every client gave up before the window closed (cannot happen today) */
        bench_probe_take(&ctx->env, ctx->http, &r->ph.p1);
    }
    for (int i = 0; i < k; i++) {
        bench_conn_free(r->cl[i].c);
    }
    if (callback) {
        bench_sink_set_handler(ctx->sink, NULL, NULL);
    }
    left = tasks_left(r);
    if (ctx->sink != NULL) {
        bench_sink_counters(ctx->sink, &s1);
    }
    ctx->wire_errors += r->errs.wire;

    r->ph.ops = r->cycles;
    r->ph.requests = r->requests;
    r->ph.lat = &r->cycle;
    r->ph.errs = &r->errs;
    bench_json_begin(&j, name);
    bench_json_int(&j, "k", k);
    bench_json_num(&j, "seconds", ctx->opts.tasks_s, 1);
    bench_json_num(&j, "warmup_s", ctx->opts.tasks_warmup_s, 1);
    bench_json_str(&j, "unit",
                   callback ? "desire+start+complete+callback cycle"
                            : "desire+start+complete+resolving+delete cycle");
    bench_json_phase(&j, &ctx->env, &r->ph);
    for (int c = 0; c < N_CALLS; c++) {
        char key[40];

        if (callback ? (c == CALL_RESOLVING || c == CALL_DELETE) : c == CALL_CALLBACK) {
            continue;
        }
        snprintf(key, sizeof(key), "%s_p50_ms", call_name[c]);
        bench_json_num(&j, key, bench_lat_ms(&r->call[c], 0.50), 3);
        snprintf(key, sizeof(key), "%s_p99_ms", call_name[c]);
        bench_json_num(&j, key, bench_lat_ms(&r->call[c], 0.99), 3);
    }
    bench_json_int(&j, "requests_all", (int64_t)r->requests_all);
    bench_json_int(&j, "abandoned", (int64_t)r->abandoned);
    bench_json_int(&j, "not_started", (int64_t)r->not_started);
    if (callback) {
        bench_json_int(&j, "bad_callbacks", (int64_t)r->cb_bad);
        bench_json_int(&j, "missing_callbacks", (int64_t)r->cb_missing);
        bench_json_int(&j, "duplicate_callbacks", (int64_t)atomic_load(&r->cb_dup));
        bench_json_int(&j, "stray_callbacks", (int64_t)atomic_load(&r->cb_stray));
    }
    if (ctx->sink != NULL) {
        bench_json_int(&j, "auction_posts", (int64_t)(s1.task_auctions - s0.task_auctions));
        bench_json_int(&j, "auctioned_tasks",
                       (int64_t)(s1.task_auction_tasks - s0.task_auction_tasks));
    } else {
        bench_json_null(&j, "auction_posts");
    }
    if (left >= 0) {
        bench_json_int(&j, "tasks_left", left);
    } else {
        bench_json_null(&j, "tasks_left");
    }
    bench_json_end(&j);
out:
    for (int c = 0; c < N_CALLS; c++) {
        bench_lat_free(&r->call[c]);
    }
    bench_lat_free(&r->cycle);
    free(r->slots);
    free(r->cl);
    free(r);
}
