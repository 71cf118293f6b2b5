/*
 * main.c - bbs-bench: a load generator for any server speaking the BBS wire
 * contract (docs/performance.md says what each workload measures).
 *
 *   bbs-bench --url http://127.0.0.1:8889 [--server-pid PID --db-pid PID] [options]
 *
 * Prints one JSON object per line on stdout, one per workload
 * configuration, and progress on stderr. Exit status: 0 when every request
 * got through the wire, however slow or whatever BBS errors it answered;
 * 1 when the server is unreachable or a wire error happened (a transfer
 * failed, an answer was not HTTP 200 or not a valid protobuf encoding);
 * 2 on a usage error.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "wire.h"

static const char usage_text[] =
    "usage: bbs-bench [options]\n"
    "  --url URL                BBS base URL (http://127.0.0.1:8889)\n"
    "  --ca-file F              CA bundle for https URLs\n"
    "  --cert-file F --key-file F  client certificate for mutual TLS\n"
    "  --insecure               do not verify the server certificate\n"
    "  --client raw|curl        HTTP client: our own over GnuTLS (raw), or libcurl\n"
    "  --server-pid PID         local bbs process: its CPU time and RSS are reported\n"
    "  --db-pid PID             local PostgreSQL postmaster: its CPU time is reported\n"
    "  --workloads LIST         run these, in order (list,repbulk,claimstart,desire;\n"
    "                           also events, tasks, tasks-callback)\n"
    "  --claimstart-k LIST      concurrent clients (1,4,16,64)\n"
    "  --claimstart-m LIST      single-instance LRPs per K: one value or one per K (10000)\n"
    "  --list-n LIST            RUNNING instances to list (10000,50000,250000)\n"
    "  --list-reps R            timed calls per list (5)\n"
    "  --repbulk-n N            instances for repbulk (250000)\n"
    "  --cells C                simulated cells (1000)\n"
    "  --period S               seconds between a cell's loops (30)\n"
    "  --duration S             seconds during which loops are started (300)\n"
    "  --transition-pct P       starts preceded by a claim, percent (1)\n"
    "  --desire-k LIST          concurrent clients for desire (16)\n"
    "  --desire-seconds S       length of the desire run (10)\n"
    "  --desire-instances I     instances per desired LRP in desire (100)\n"
    "  --per-lrp I              instances per DesiredLRP when seeding list/repbulk (10)\n"
    "  --seed-k K               concurrent clients for seeding (16)\n"
    "  --event-cell-streams N   events: cell-filtered streams, cells 0..N-1 (one per cell)\n"
    "  --event-global-streams N events: unfiltered streams (10, at most 63)\n"
    "  --event-path PATH        events: stream route (/v1/events/lrp_instances.r1)\n"
    "  --events-baseline 0|1    events: run repbulk with no stream open first (1)\n"
    "  --events-drain S         events: give up on missing events after S quiet seconds (10)\n"
    "  --events-rounds R        events: R rounds of (baseline, streams open), interleaved (1)\n"
    "  --tasks-k LIST           concurrent clients for tasks / tasks-callback (16,64)\n"
    "  --tasks-seconds S        measured seconds per tasks configuration (10)\n"
    "  --tasks-warmup S         seconds of cycles before the measurement (2)\n"
    "  --tasks-cb-timeout S     tasks-callback: a callback later than S is missing (30)\n"
    "  --sink HOST:PORT         answer the BBS's auctioneer calls and task callbacks here\n"
    "                           (IPv4; tasks-callback starts one on 127.0.0.1 if not given)\n"
    "  --run-id ID              prefix of every process guid ([a-z0-9], random)\n"
    "  --seeded N               the fleet of --run-id already has N RUNNING instances (an\n"
    "                           earlier run on this server's data): seed only beyond them\n"
    "  --wait S                 retry the first ping for up to S seconds (0)\n"
    "  --quiet                  no progress on stderr\n";

void bench_note(const struct bench_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    if (!ctx->verbose) {
        return;
    }
    fprintf(stderr, "[%7.1fs] ", (double)(bench_now_ns() - ctx->t0_ns) / 1e9);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

double bench_fleet_grow(struct bench_ctx *ctx, int64_t n, double *rate)
{
    struct bench_fleet *f = &ctx->fleet;
    int64_t lrps = (n + f->per_lrp - 1) / f->per_lrp;
    int64_t target = lrps * f->per_lrp;
    struct bench_errs errs;
    int64_t t0 = bench_now_ns();
    int64_t t1;
    int64_t t2;
    uint64_t pairs;

    if (rate != NULL) {
        *rate = 0;
    }
    if (target <= f->running) {
        return 0;
    }
    memset(&errs, 0, sizeof(errs));
    if (lrps > f->desired) {
        bench_note(ctx, "seeding: desiring LRPs %lld..%lld (%d instances each)",
                   (long long)f->desired, (long long)lrps - 1, f->per_lrp);
        bench_fleet_desire(ctx->http, f, f->desired, lrps, ctx->opts.seed_k, &errs);
        f->desired = lrps;
    }
    bench_note(ctx, "seeding: claiming and starting instances %lld..%lld on %d cells",
               (long long)f->running, (long long)target - 1, f->cells);
    t1 = bench_now_ns();
    pairs = bench_fleet_claimstart(ctx->http, f, f->running, target, ctx->opts.seed_k, NULL, &errs,
                                   NULL, NULL, NULL);
    t2 = bench_now_ns();
    f->running = target;
    if (rate != NULL && t2 > t1) {
        *rate = (double)pairs / ((double)(t2 - t1) / 1e9);
    }
    if (errs.bbs + errs.wire > 0) {
        bench_note(ctx, "seeding: %llu errors, the first: %s",
                   (unsigned long long)(errs.bbs + errs.wire), errs.first);
    }
    ctx->wire_errors += errs.wire;
    bench_note(ctx, "seeding: %lld instances RUNNING after %.1f s", (long long)f->running,
               (double)(t2 - t0) / 1e9);
    return (double)(t2 - t0) / 1e9;
}

/* "1,4,16" into out[]; -1 on a malformed list or a value below `min`. */
static int parse_list(const char *s, int64_t *out, size_t *n, int64_t min)
{
    *n = 0;
    while (*s != '\0') {
        char *end;
        long long v = strtoll(s, &end, 10);

        if (end == s || v < min || *n == BENCH_MAX_LIST || (*end != ',' && *end != '\0')) {
            return -1;
        }
        out[(*n)++] = v;
        s = *end == ',' ? end + 1 : end;
    }
    return *n > 0 ? 0 : -1;
}

static int parse_int_list(const char *s, int *out, size_t *n, int min)
{
    int64_t v[BENCH_MAX_LIST];

    if (parse_list(s, v, n, min) != 0) {
        return -1;
    }
    for (size_t i = 0; i < *n; i++) {
        if (v[i] > 100000) {
            return -1;
        }
        out[i] = (int)v[i];
    }
    return 0;
}

static int parse_num(const char *s, double *out, double min)
{
    char *end;
    double v = strtod(s, &end);

    if (end == s || *end != '\0' || !(v >= min)) {
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_int(const char *s, int64_t *out, int64_t min)
{
    size_t n;

    return parse_list(s, out, &n, min) == 0 && n == 1 ? 0 : -1;
}

static int valid_run_id(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 12) {
        return 0;
    }
    for (; *s != '\0'; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9'))) {
            return 0;
        }
    }
    return 1;
}

struct cli {
    const char *url;
    struct bench_http_opts http;
    const char *workloads;
    const char *run_id;
    double wait_s;
    int64_t seeded;
};

static int parse_args(int argc, char **argv, struct cli *cli, struct bench_ctx *ctx)
{
    struct bench_opts *o = &ctx->opts;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t n = 0;
        int bad = 0;

        if (strcmp(a, "--insecure") == 0) {
            cli->http.insecure = 1;
            continue;
        }
        if (strcmp(a, "--quiet") == 0) {
            ctx->verbose = 0;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            exit(0);
        }
        if (v == NULL) {
            fprintf(stderr, "bbs-bench: %s: missing value or unknown option\n", a);
            return -1;
        }
        i++;
        if (strcmp(a, "--url") == 0) {
            cli->http.url = v;
        } else if (strcmp(a, "--ca-file") == 0) {
            cli->http.ca_file = v;
        } else if (strcmp(a, "--cert-file") == 0) {
            cli->http.cert_file = v;
        } else if (strcmp(a, "--key-file") == 0) {
            cli->http.key_file = v;
        } else if (strcmp(a, "--client") == 0) {
            bad = strcmp(v, "raw") != 0 && strcmp(v, "curl") != 0;
            cli->http.use_curl = strcmp(v, "curl") == 0;
        } else if (strcmp(a, "--server-pid") == 0) {
            bad = parse_int(v, &n, 0);
            ctx->env.server_pid = (pid_t)n;
        } else if (strcmp(a, "--db-pid") == 0) {
            bad = parse_int(v, &n, 0);
            ctx->env.db_pid = (pid_t)n;
        } else if (strcmp(a, "--workloads") == 0) {
            cli->workloads = v;
        } else if (strcmp(a, "--claimstart-k") == 0) {
            bad = parse_int_list(v, o->claimstart_k, &o->n_claimstart_k, 1);
        } else if (strcmp(a, "--claimstart-m") == 0) {
            bad = parse_list(v, o->claimstart_m, &o->n_claimstart_m, 1);
        } else if (strcmp(a, "--list-n") == 0) {
            bad = parse_list(v, o->list_n, &o->n_list_n, 1);
        } else if (strcmp(a, "--list-reps") == 0) {
            bad = parse_int(v, &n, 1);
            o->list_reps = (int)n;
        } else if (strcmp(a, "--repbulk-n") == 0) {
            bad = parse_int(v, &o->repbulk_n, 1);
        } else if (strcmp(a, "--cells") == 0) {
            bad = parse_int(v, &n, 1) || n > 100000;
            o->cells = (int)n;
        } else if (strcmp(a, "--period") == 0) {
            bad = parse_num(v, &o->period_s, 0.001);
        } else if (strcmp(a, "--duration") == 0) {
            bad = parse_num(v, &o->duration_s, 0.001);
        } else if (strcmp(a, "--transition-pct") == 0) {
            bad = parse_num(v, &o->transition_pct, 0) || o->transition_pct > 100;
        } else if (strcmp(a, "--desire-k") == 0) {
            bad = parse_int_list(v, o->desire_k, &o->n_desire_k, 1);
        } else if (strcmp(a, "--desire-seconds") == 0) {
            bad = parse_num(v, &o->desire_s, 0.001);
        } else if (strcmp(a, "--desire-instances") == 0) {
            bad = parse_int(v, &n, 0) || n > 100000;
            o->desire_instances = (int)n;
        } else if (strcmp(a, "--per-lrp") == 0) {
            bad = parse_int(v, &n, 1) || n > 100000;
            o->per_lrp = (int)n;
        } else if (strcmp(a, "--seed-k") == 0) {
            bad = parse_int(v, &n, 1) || n > 1024;
            o->seed_k = (int)n;
        } else if (strcmp(a, "--event-cell-streams") == 0) {
            bad = parse_int(v, &n, 0) || n > 100000;
            o->event_cell_streams = (int)n;
        } else if (strcmp(a, "--event-global-streams") == 0) {
            bad = parse_int(v, &n, 0) || n > 63;
            o->event_global_streams = (int)n;
        } else if (strcmp(a, "--event-path") == 0) {
            bad = v[0] != '/' || strpbrk(v, " \r\n") != NULL;
            o->event_path = v;
        } else if (strcmp(a, "--events-baseline") == 0) {
            bad = parse_int(v, &n, 0) || n > 1;
            o->events_baseline = (int)n;
        } else if (strcmp(a, "--events-rounds") == 0) {
            bad = parse_int(v, &n, 1) || n > 100;
            o->events_rounds = (int)n;
        } else if (strcmp(a, "--events-drain") == 0) {
            bad = parse_num(v, &o->events_drain_s, 0.001);
        } else if (strcmp(a, "--tasks-k") == 0) {
            bad = parse_int_list(v, o->tasks_k, &o->n_tasks_k, 1);
            for (size_t t = 0; t < o->n_tasks_k; t++) {
                bad |= o->tasks_k[t] > 4096;
            }
        } else if (strcmp(a, "--tasks-seconds") == 0) {
            bad = parse_num(v, &o->tasks_s, 0.001);
        } else if (strcmp(a, "--tasks-warmup") == 0) {
            bad = parse_num(v, &o->tasks_warmup_s, 0);
        } else if (strcmp(a, "--tasks-cb-timeout") == 0) {
            bad = parse_num(v, &o->tasks_cb_timeout_s, 0.001);
        } else if (strcmp(a, "--sink") == 0) {
            o->sink_addr = v;
        } else if (strcmp(a, "--wait") == 0) {
            bad = parse_num(v, &cli->wait_s, 0);
        } else if (strcmp(a, "--seeded") == 0) {
            bad = parse_int(v, &cli->seeded, 0);
        } else if (strcmp(a, "--run-id") == 0) {
            cli->run_id = v;
            bad = !valid_run_id(v);
        } else {
            fprintf(stderr, "bbs-bench: unknown option %s\n", a);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "bbs-bench: %s: invalid value \"%s\"\n", a, v);
            return -1;
        }
    }
    if (o->n_claimstart_m != 1 && o->n_claimstart_m != o->n_claimstart_k) {
        fputs("bbs-bench: --claimstart-m takes one value or one per --claimstart-k\n", stderr);
        return -1;
    }
    return 0;
}

static void set_defaults(struct cli *cli, struct bench_ctx *ctx)
{
    struct bench_opts *o = &ctx->opts;
    static const int ks[] = {1, 4, 16, 64};
    static const int64_t ns[] = {10000, 50000, 250000};

    cli->http.url = "http://127.0.0.1:8889";
    cli->workloads = "list,repbulk,claimstart,desire";
    memcpy(o->claimstart_k, ks, sizeof(ks));
    o->n_claimstart_k = 4;
    o->claimstart_m[0] = 10000;
    o->n_claimstart_m = 1;
    memcpy(o->list_n, ns, sizeof(ns));
    o->n_list_n = 3;
    o->list_reps = 5;
    o->repbulk_n = 250000;
    o->cells = 1000;
    o->period_s = 30;
    o->duration_s = 300;
    o->transition_pct = 1;
    o->desire_k[0] = 16;
    o->n_desire_k = 1;
    o->desire_s = 10;
    o->desire_instances = 100;
    o->per_lrp = 10;
    o->seed_k = 16;
    o->event_cell_streams = -1;
    o->event_global_streams = 10;
    o->event_path = "/v1/events/lrp_instances.r1";
    o->events_baseline = 1;
    o->events_drain_s = 10;
    o->events_rounds = 1;
    o->tasks_k[0] = 16;
    o->tasks_k[1] = 64;
    o->n_tasks_k = 2;
    o->tasks_s = 10;
    o->tasks_warmup_s = 2;
    o->tasks_cb_timeout_s = 30;
    ctx->verbose = 1;
}

/*
 * Ping: is anything speaking the BBS contract at the URL? With `wait_s`,
 * retry every 100 ms for that long (a server still starting), giving up
 * early when the local server process has exited.
 */
static int ping(struct bench_ctx *ctx, const char *url, double wait_s)
{
    struct bench_conn *c = bench_conn_new(ctx->http, 0, NULL, NULL);
    int64_t deadline = bench_now_ns() + (int64_t)(wait_s * 1e9);
    int rc = -1;

    for (;;) {
        struct timespec ts = {0, 100 * 1000000L};

        bench_http_call(c, "/v1/ping", NULL);
        if (c->ok || bench_now_ns() >= deadline ||
            (ctx->env.server_pid > 0 && kill(ctx->env.server_pid, 0) != 0)) {
            break;
        }
        nanosleep(&ts, NULL);
    }
    if (!c->ok) {
        fprintf(stderr, "bbs-bench: no BBS at %s: %s\n", url, c->error);
    } else if (c->resp_len != 2 || c->resp[0] != 0x08 || c->resp[1] != 0x01) {
        fprintf(stderr, "bbs-bench: %s/v1/ping did not answer available = true\n", url);
    } else {
        rc = 0;
    }
    bench_conn_free(c);
    return rc;
}

static int run_workload(struct bench_ctx *ctx, const char *name, size_t len)
{
    const struct bench_opts *o = &ctx->opts;

    if (len == 10 && strncmp(name, "claimstart", len) == 0) {
        for (size_t i = 0; i < o->n_claimstart_k; i++) {
            bench_claimstart(ctx, o->claimstart_k[i],
                             o->claimstart_m[o->n_claimstart_m == 1 ? 0 : i]);
        }
    } else if (len == 4 && strncmp(name, "list", len) == 0) {
        for (size_t i = 0; i < o->n_list_n; i++) {
            bench_list(ctx, o->list_n[i]);
        }
    } else if (len == 7 && strncmp(name, "repbulk", len) == 0) {
        bench_repbulk(ctx);
    } else if (len == 6 && strncmp(name, "events", len) == 0) {
        bench_events(ctx);
    } else if (len == 5 && strncmp(name, "tasks", len) == 0) {
        for (size_t i = 0; i < o->n_tasks_k; i++) {
            bench_tasks(ctx, o->tasks_k[i], 0);
        }
    } else if (len == 14 && strncmp(name, "tasks-callback", len) == 0) {
        for (size_t i = 0; i < o->n_tasks_k; i++) {
            bench_tasks(ctx, o->tasks_k[i], 1);
        }
    } else if (len == 6 && strncmp(name, "desire", len) == 0) {
        for (size_t i = 0; i < o->n_desire_k; i++) {
            bench_desire(ctx, o->desire_k[i]);
        }
    } else {
        fprintf(stderr, "bbs-bench: unknown workload \"%.*s\"\n", (int)len, name);
        return -1;
    }
    return 0;
}

/* Every workload name known? (Checked before anything is sent.) */
static int check_workloads(const char *list)
{
    static const char *const known[] = {"claimstart", "list",  "repbulk",       "desire",
                                        "events",     "tasks", "tasks-callback"};

    for (const char *p = list; *p != '\0';) {
        size_t len = strcspn(p, ",");
        int ok = 0;

        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
            ok |= strlen(known[i]) == len && strncmp(p, known[i], len) == 0;
        }
        if (!ok) {
            fprintf(stderr, "bbs-bench: unknown workload \"%.*s\"\n", (int)len, p);
            return -1;
        }
        p += len + (p[len] == ',');
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct bench_ctx ctx;
    struct cli cli;
    size_t max_conns;
    int rc = 1;

    memset(&ctx, 0, sizeof(ctx));
    memset(&cli, 0, sizeof(cli));
    set_defaults(&cli, &ctx);
    if (parse_args(argc, argv, &cli, &ctx) != 0 || check_workloads(cli.workloads) != 0 ||
        (cli.seeded > 0 && cli.run_id == NULL)) {
        fputs(usage_text, stderr);
        return 2;
    }
    ctx.t0_ns = bench_now_ns();
    if (cli.run_id != NULL) {
        snprintf(ctx.run, sizeof(ctx.run), "%s", cli.run_id);
    } else {
        uint64_t seed =
            (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid() * 40503u ^ (uint64_t)ctx.t0_ns;

        snprintf(ctx.run, sizeof(ctx.run), "b%07" PRIx64, seed & 0xfffffff);
    }
    bench_fleet_init(&ctx.fleet, ctx.run, ctx.opts.per_lrp, ctx.opts.cells);
    if (cli.seeded > 0) {
        /* Whole DesiredLRPs only, as bench_fleet_grow() makes them. */
        ctx.fleet.desired = cli.seeded / ctx.fleet.per_lrp;
        ctx.fleet.running = ctx.fleet.desired * ctx.fleet.per_lrp;
    }

    max_conns = (size_t)ctx.opts.cells + 2;
    for (size_t i = 0; i < ctx.opts.n_claimstart_k; i++) {
        max_conns = (size_t)ctx.opts.claimstart_k[i] > max_conns ? (size_t)ctx.opts.claimstart_k[i]
                                                                 : max_conns;
    }
    for (size_t i = 0; i < ctx.opts.n_tasks_k; i++) {
        max_conns =
            (size_t)ctx.opts.tasks_k[i] > max_conns ? (size_t)ctx.opts.tasks_k[i] : max_conns;
    }
    ctx.http_opts = cli.http;
    ctx.http = bench_http_new(&cli.http, max_conns + (size_t)ctx.opts.seed_k + 64);
    if (ctx.http == NULL) {
        return 1;
    }
    if (ping(&ctx, cli.http.url, cli.wait_s) != 0) {
        goto out;
    }
    if (ctx.opts.sink_addr != NULL) {
        char err[160];

        ctx.sink = bench_sink_start(ctx.opts.sink_addr, err, sizeof(err));
        if (ctx.sink == NULL) {
            fprintf(stderr, "bbs-bench: %s\n", err);
            goto out;
        }
    }
    bench_note(&ctx, "run %s against %s (%s client)%s%s", ctx.run, cli.http.url,
               bench_http_transport(ctx.http), ctx.sink != NULL ? "; sink at " : "",
               ctx.sink != NULL ? bench_sink_url(ctx.sink) : "");
    for (const char *p = cli.workloads; *p != '\0';) {
        size_t len = strcspn(p, ",");

        if (run_workload(&ctx, p, len) != 0) {
            goto out;
        }
        p += len + (p[len] == ',');
    }
    if (ctx.wire_errors > 0) {
        fprintf(stderr, "bbs-bench: %llu wire errors (see the JSON lines)\n",
                (unsigned long long)ctx.wire_errors);
        goto out;
    }
    rc = 0;
out:
    bench_sink_stop(ctx.sink);
    bench_http_free(ctx.http);
    return rc;
}
