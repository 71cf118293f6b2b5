/*
 * report.h - one JSON object per line on stdout, one line per workload
 * configuration.
 *
 * A line is built field by field (keys and string values are ASCII we
 * chose; strings are escaped anyway), then closed with the fields every
 * workload shares: throughput, latency percentiles, errors, and the CPU
 * spent by the load generator, the server and the database between two
 * probes, and the server's memory.
 */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stdint.h>

#include "stats.h"

struct bench_json {
    char buf[8192];
    size_t len;
    int fields;
};

void bench_json_begin(struct bench_json *j, const char *workload);
void bench_json_str(struct bench_json *j, const char *key, const char *val);
void bench_json_int(struct bench_json *j, const char *key, int64_t val);
/* A number with `decimals` digits after the point. */
void bench_json_num(struct bench_json *j, const char *key, double val, int decimals);
void bench_json_bool(struct bench_json *j, const char *key, int val);
void bench_json_null(struct bench_json *j, const char *key);

/* Write the line (adding the closing brace) to stdout and flush it. */
void bench_json_end(struct bench_json *j);

/*
 * What a measured phase did. `ops` is the workload's unit (a claim+start
 * pair, a list call, a cell loop, a desire); `requests` counts HTTP
 * requests, the unit of the per-request CPU figures.
 */
struct bench_phase {
    uint64_t ops;
    uint64_t requests;
    struct bench_lat *lat; /* one sample per op */
    const struct bench_errs *errs;
    struct bench_probe p0; /* taken before the phase */
    struct bench_probe p1; /* and after */
};

/*
 * Append ops, elapsed_s, ops_per_s, p50/p90/p99/max_ms, errors (BBS error
 * answers + wire errors), wire_errors, error_types and first_error (when
 * any), requests, the CPU figures (client_*, server_*, db_*: seconds, per
 * request, cores busy; null when unknown), cpu_us_per_op, host_cpu_util and
 * other_cpu_util (the machine's busy cores, and those busy with anything
 * else), and the server's VmRSS / VmHWM (null when the server is not local).
 */
void bench_json_phase(struct bench_json *j, const struct bench_env *env,
                      const struct bench_phase *ph);

#endif /* BENCH_REPORT_H */
