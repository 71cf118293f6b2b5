/*
 * stats.h - latency samples, error tallies and resource probes.
 *
 * Latencies are kept as every sample (a benchmark run holds at most a few
 * million), so percentiles are exact: nearest rank over the sorted samples.
 * A probe reads the CPU time of the load generator (getrusage), of the
 * server process and of the PostgreSQL cluster (/proc, when their pids are
 * known), so a workload can report what each side spent on the same work.
 *
 * Not done here: printing (report.h).
 */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct bench_lat {
    int64_t *ns;
    size_t n;
    size_t cap;
    int sorted;
};

void bench_lat_add(struct bench_lat *l, int64_t ns);

/* Nearest-rank quantile `q` (0..1) in milliseconds; 0 when there are no samples. */
double bench_lat_ms(struct bench_lat *l, double q);

/* Forget the samples, keep the memory. */
void bench_lat_clear(struct bench_lat *l);
void bench_lat_free(struct bench_lat *l);

#define BENCH_ERR_TYPES 64

/*
 * Failed requests: `bbs` counts answers carrying an `error` field, by
 * Error.type; `wire` counts transport failures, non-200 answers and bodies
 * that are not a valid encoding of the response message.
 */
struct bench_errs {
    uint64_t bbs;
    uint64_t wire;
    uint64_t by_type[BENCH_ERR_TYPES];
    char first[160]; /* the first failure, for people */
};

void bench_errs_add(struct bench_errs *dst, const struct bench_errs *src);

/* Who to measure besides ourselves; 0 = unknown (remote server). */
struct bench_env {
    pid_t server_pid; /* the bbs process */
    pid_t db_pid;     /* the PostgreSQL postmaster; its backends are summed in */
};

struct bench_probe {
    int64_t wall_ns;
    double client_cpu_s; /* this process, user + system */
    double server_cpu_s; /* -1 when unknown */
    double db_cpu_s;     /* postmaster + backends (live and reaped); -1 when unknown */
    double host_busy_s;  /* all CPUs of the machine, non-idle time (/proc/stat); -1 when unknown */
    uint64_t connects;   /* TCP connections the load generator has opened so far */
};

struct bench_http;

/* Read everything now; `h` (may be NULL) gives the connection count. */
void bench_probe_take(const struct bench_env *env, const struct bench_http *h,
                      struct bench_probe *p);

/*
 * Wait until the machine is quiet: under `cores` busy cores (all CPUs,
 * /proc/stat) over two 250 ms samples in a row, or `max_s` seconds have
 * passed. Returns the seconds waited. Work that an earlier phase left
 * behind on the machine (an auctioneer still taking the auction requests of
 * the LRPs just desired, PostgreSQL writing them out) then stays out of the
 * timed phase that follows.
 */
double bench_settle(double cores, double max_s);

/* A "Vm...:" line of /proc/<pid>/status in MiB (field "VmRSS" or "VmHWM"); -1 when unknown. */
double bench_proc_mem_mb(pid_t pid, const char *field);

/* Reset the process's VmHWM to its current VmRSS (writes "5" to
 * /proc/<pid>/clear_refs: same user or root); 0, or -1 when it could not. */
int bench_proc_reset_hwm(pid_t pid);

#endif /* BENCH_STATS_H */
