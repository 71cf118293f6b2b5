/*
 * stats.c - latency samples, error tallies and /proc probes (see stats.h).
 */
#include "stats.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "http.h"

void bench_lat_add(struct bench_lat *l, int64_t ns)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        int64_t *v = realloc(l->ns, cap * sizeof(*v));

        if (v == NULL) {
            fputs("bbs-bench: out of memory\n", stderr);
            abort();
        }
        l->ns = v;
        l->cap = cap;
    }
    l->ns[l->n++] = ns;
    l->sorted = 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

double bench_lat_ms(struct bench_lat *l, double q)
{
    size_t rank;

    if (l->n == 0) {
        return 0;
    }
    if (!l->sorted) {
        qsort(l->ns, l->n, sizeof(*l->ns), cmp_i64);
        l->sorted = 1;
    }
    /* Nearest rank: the smallest sample with at least q of the samples at or below it. */
    rank = (size_t)(q * (double)l->n + 0.999999);
    if (rank < 1) {
        rank = 1;
    }
    if (rank > l->n) {
        rank = l->n;
    }
    return (double)l->ns[rank - 1] / 1e6;
}

void bench_lat_clear(struct bench_lat *l)
{
    l->n = 0;
    l->sorted = 0;
}

void bench_lat_free(struct bench_lat *l)
{
    free(l->ns);
    memset(l, 0, sizeof(*l));
}

void bench_errs_add(struct bench_errs *dst, const struct bench_errs *src)
{
    dst->bbs += src->bbs;
    dst->wire += src->wire;
    for (size_t i = 0; i < BENCH_ERR_TYPES; i++) {
        dst->by_type[i] += src->by_type[i];
    }
    if (dst->first[0] == '\0') {
        memcpy(dst->first, src->first, sizeof(dst->first));
    }
}

/*
 * Fields of /proc/<pid>/stat after the command name (which may hold spaces
 * and parentheses, hence the search for the last ')'): ppid is field 4,
 * utime/stime 14/15, cutime/cstime 16/17 (1-based, clock ticks).
 */
struct proc_stat {
    long ppid;
    unsigned long long utime, stime;
    long long cutime, cstime;
};

static int read_proc_stat(pid_t pid, struct proc_stat *ps)
{
    char path[64];
    char buf[1024];
    FILE *f;
    size_t n;
    char *p;
    int got;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    if (p == NULL) {
        return -1;
    }
    /* After ')': state(3) ppid(4) pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime(14) ... */
    got = sscanf(p + 1, " %*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld",
                 &ps->ppid, &ps->utime, &ps->stime, &ps->cutime, &ps->cstime);
    return got == 5 ? 0 : -1;
}

static double ticks_to_s(unsigned long long t)
{
    static long hz;

    if (hz == 0) {
        hz = sysconf(_SC_CLK_TCK);
    }
    return (double)t / (double)hz;
}

/* The postmaster's own time, its reaped children's, and its live children's. */
static double cluster_cpu_s(pid_t postmaster)
{
    struct proc_stat ps;
    unsigned long long ticks;
    DIR *d;
    struct dirent *de;

    if (read_proc_stat(postmaster, &ps) != 0) {
        return -1;
    }
    ticks = ps.utime + ps.stime + (unsigned long long)ps.cutime + (unsigned long long)ps.cstime;
    d = opendir("/proc");
    if (d == NULL) {
        return ticks_to_s(ticks);
    }
    while ((de = readdir(d)) != NULL) {
        struct proc_stat child;
        char *end;
        long pid = strtol(de->d_name, &end, 10);

        if (*end != '\0' || pid <= 0 || pid == (long)postmaster) {
            continue;
        }
        if (read_proc_stat((pid_t)pid, &child) == 0 && child.ppid == (long)postmaster) {
            ticks += child.utime + child.stime;
        }
    }
    closedir(d);
    return ticks_to_s(ticks);
}

/* Non-idle CPU time of the whole machine: user nice system idle iowait irq softirq steal. */
static double host_busy_s(void)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    int got;

    if (f == NULL) {
        return -1;
    }
    got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                 &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (got != 8) {
        return -1;
    }
    return ticks_to_s(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
}

double bench_settle(double cores, double max_s)
{
    const struct timespec step = {0, 250 * 1000 * 1000};
    int64_t t0 = bench_now_ns();
    double prev = host_busy_s();
    int quiet = 0;

    if (prev < 0) {
        return 0;
    }
    while (quiet < 2 && (double)(bench_now_ns() - t0) / 1e9 < max_s) {
        double now;

        nanosleep(&step, NULL);
        now = host_busy_s();
        quiet = (now - prev) / 0.25 < cores ? quiet + 1 : 0;
        prev = now;
    }
    return (double)(bench_now_ns() - t0) / 1e9;
}

void bench_probe_take(const struct bench_env *env, const struct bench_http *h,
                      struct bench_probe *p)
{
    struct rusage ru;
    struct proc_stat ps;
    struct bench_http_counters hc = {0};

    p->wall_ns = bench_now_ns();
    getrusage(RUSAGE_SELF, &ru);
    p->client_cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    p->server_cpu_s = -1;
    p->db_cpu_s = -1;
    if (env->server_pid > 0 && read_proc_stat(env->server_pid, &ps) == 0) {
        p->server_cpu_s = ticks_to_s(ps.utime + ps.stime);
    }
    if (env->db_pid > 0) {
        p->db_cpu_s = cluster_cpu_s(env->db_pid);
    }
    p->host_busy_s = host_busy_s();
    if (h != NULL) {
        bench_http_counters(h, &hc);
    }
    p->connects = hc.connects;
}

double bench_proc_mem_mb(pid_t pid, const char *field)
{
    char path[64];
    char line[256];
    size_t flen = strlen(field);
    double mb = -1;
    FILE *f;

    if (pid <= 0) {
        return -1;
    }
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            mb = strtod(line + flen + 1, NULL) / 1024.0; /* the kernel writes kB */
            break;
        }
    }
    fclose(f);
    return mb;
}

int bench_proc_reset_hwm(pid_t pid)
{
    char path[64];
    FILE *f;
    int rc;

    if (pid <= 0) {
        return -1;
    }
    snprintf(path, sizeof(path), "/proc/%ld/clear_refs", (long)pid);
    f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    rc = fputs("5", f) < 0 ? -1 : 0;
    if (fclose(f) != 0) {
        rc = -1;
    }
    return rc;
}
