/*
 * report.c - JSON lines (see report.h).
 */
#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 2, 3))) static void put(struct bench_json *j, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (j->len >= sizeof(j->buf)) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(j->buf + j->len, sizeof(j->buf) - j->len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        j->len += (size_t)n;
        if (j->len > sizeof(j->buf) - 1) {
            j->len = sizeof(j->buf) - 1; /* truncated: the line stays one line */
        }
    }
}

static void put_escaped(struct bench_json *j, const char *s)
{
    put(j, "\"");
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\') {
            put(j, "\\%c", ch);
        } else if (ch < 0x20) {
            put(j, "\\u%04x", ch);
        } else {
            put(j, "%c", ch);
        }
    }
    put(j, "\"");
}

static void key(struct bench_json *j, const char *k)
{
    put(j, "%s", j->fields++ ? "," : "");
    put_escaped(j, k);
    put(j, ":");
}

void bench_json_begin(struct bench_json *j, const char *workload)
{
    j->len = 0;
    j->fields = 0;
    put(j, "{");
    bench_json_str(j, "workload", workload);
}

void bench_json_str(struct bench_json *j, const char *k, const char *val)
{
    key(j, k);
    put_escaped(j, val);
}

void bench_json_int(struct bench_json *j, const char *k, int64_t val)
{
    key(j, k);
    put(j, "%lld", (long long)val);
}

void bench_json_num(struct bench_json *j, const char *k, double val, int decimals)
{
    key(j, k);
    put(j, "%.*f", decimals, val);
}

void bench_json_bool(struct bench_json *j, const char *k, int val)
{
    key(j, k);
    put(j, "%s", val ? "true" : "false");
}

void bench_json_null(struct bench_json *j, const char *k)
{
    key(j, k);
    put(j, "null");
}

void bench_json_end(struct bench_json *j)
{
    put(j, "}");
    fwrite(j->buf, 1, j->len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

/* CPU seconds spent between two readings; -1 when either is unknown. */
static double spent(double a, double b)
{
    return (a < 0 || b < 0) ? -1 : b - a;
}

static void cpu_fields(struct bench_json *j, const char *who, double s, uint64_t requests,
                       double elapsed_s)
{
    char k[48];

    snprintf(k, sizeof(k), "%s_cpu_s", who);
    if (s < 0) {
        bench_json_null(j, k);
        return;
    }
    bench_json_num(j, k, s, 3);
    snprintf(k, sizeof(k), "%s_cpu_us_per_req", who);
    if (requests > 0) {
        bench_json_num(j, k, s * 1e6 / (double)requests, 1);
    } else {
        bench_json_null(j, k);
    }
    snprintf(k, sizeof(k), "%s_cpu_util", who); /* cores busy on average */
    bench_json_num(j, k, elapsed_s > 0 ? s / elapsed_s : 0, 2);
}

void bench_json_phase(struct bench_json *j, const struct bench_env *env,
                      const struct bench_phase *ph)
{
    double elapsed_s = (double)(ph->p1.wall_ns - ph->p0.wall_ns) / 1e9;
    double rss = bench_proc_mem_mb(env->server_pid, "VmRSS");
    double hwm = bench_proc_mem_mb(env->server_pid, "VmHWM");
    double client = spent(ph->p0.client_cpu_s, ph->p1.client_cpu_s);
    double server = spent(ph->p0.server_cpu_s, ph->p1.server_cpu_s);
    double db = spent(ph->p0.db_cpu_s, ph->p1.db_cpu_s);
    double host = spent(ph->p0.host_busy_s, ph->p1.host_busy_s);
    int any = 0;

    bench_json_int(j, "ops", (int64_t)ph->ops);
    bench_json_num(j, "elapsed_s", elapsed_s, 3);
    bench_json_num(j, "ops_per_s", elapsed_s > 0 ? (double)ph->ops / elapsed_s : 0, 1);
    bench_json_num(j, "p50_ms", bench_lat_ms(ph->lat, 0.50), 3);
    bench_json_num(j, "p90_ms", bench_lat_ms(ph->lat, 0.90), 3);
    bench_json_num(j, "p99_ms", bench_lat_ms(ph->lat, 0.99), 3);
    bench_json_num(j, "max_ms", bench_lat_ms(ph->lat, 1.0), 3);
    bench_json_int(j, "errors", (int64_t)(ph->errs->bbs + ph->errs->wire));
    bench_json_int(j, "wire_errors", (int64_t)ph->errs->wire);
    if (ph->errs->bbs > 0) {
        /* {"<Error.type>": count, ...} and the first message, to tell what went wrong. */
        key(j, "error_types");
        put(j, "{");
        for (int t = 0; t < BENCH_ERR_TYPES; t++) {
            if (ph->errs->by_type[t] > 0) {
                put(j, "%s\"%d\":%llu", any++ ? "," : "", t,
                    (unsigned long long)ph->errs->by_type[t]);
            }
        }
        put(j, "}");
    }
    if (ph->errs->first[0] != '\0') {
        bench_json_str(j, "first_error", ph->errs->first);
    }
    bench_json_int(j, "requests", (int64_t)ph->requests);
    /* Sockets opened during the phase: one per concurrent client when keep-alive holds. */
    bench_json_int(j, "connections", (int64_t)(ph->p1.connects - ph->p0.connects));
    cpu_fields(j, "client", client, ph->requests, elapsed_s);
    cpu_fields(j, "server", server, ph->requests, elapsed_s);
    cpu_fields(j, "db", db, ph->requests, elapsed_s);
    if (server >= 0 && db >= 0 && ph->ops > 0) {
        /* What one op cost the three processes: steadier than ops_per_s on a shared machine. */
        bench_json_num(j, "cpu_us_per_op", (client + server + db) * 1e6 / (double)ph->ops, 1);
    }
    if (host >= 0 && elapsed_s > 0) {
        /* Cores busy machine-wide, and with anything but these three processes. */
        bench_json_num(j, "host_cpu_util", host / elapsed_s, 2);
        if (server >= 0 && db >= 0) {
            double other = host - client - server - db;

            bench_json_num(j, "other_cpu_util", other > 0 ? other / elapsed_s : 0, 2);
        }
    }
    if (rss < 0) {
        bench_json_null(j, "server_rss_mb");
        bench_json_null(j, "server_hwm_mb");
    } else {
        bench_json_num(j, "server_rss_mb", rss, 1);
        bench_json_num(j, "server_hwm_mb", hwm, 1);
    }
}
