/*
 * metrics.c - lock-free metric values and their Prometheus text (metrics.h).
 *
 * Every value is an atomic updated with relaxed ordering: a reader may see
 * one counter a request ahead of another, which no metric reader can tell
 * from a request arriving a microsecond later. The only lock guards the
 * list of fresh domains, written every 15 s by the reporter and read by
 * the page; requests never touch it.
 */
#include "bbs/metrics.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bbs/xalloc.h"

/* Seconds; chosen around a BBS's usual answers (1-100 ms) and its slow ones (a large
 * desired_lrps list, a database failover). */
const double bbs_metrics_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                      0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const size_t bbs_metrics_n_buckets = sizeof(bbs_metrics_buckets) / sizeof(bbs_metrics_buckets[0]);

#define N_BUCKETS (sizeof(bbs_metrics_buckets) / sizeof(bbs_metrics_buckets[0]))

static const struct bbs_metric_info table[BBS_METRIC_COUNT] = {
    [BBS_METRIC_LOCK_HELD] = {"LockHeld", "bbs_lock_held", "Metric", BBS_METRIC_GAUGE,
                              "1 when this server holds the bbs lock (no lock is taken yet: "
                              "always 1)"},
    [BBS_METRIC_MASTER_ELECTED] = {"BBSMasterElected", "bbs_master_elected", "Metric",
                                   BBS_METRIC_GAUGE, "1 once this server became the active BBS"},
    [BBS_METRIC_MIGRATION_DURATION] = {"MigrationDuration", "bbs_migration_duration_seconds",
                                       "nanos", BBS_METRIC_GAUGE,
                                       "Time the schema migrations took at start-up"},
    [BBS_METRIC_CONVERGENCE_LRP_RUNS] = {"ConvergenceLRPRuns", "bbs_convergence_lrp_runs_total",
                                         "Metric", BBS_METRIC_COUNTER,
                                         "LRP convergence runs completed"},
    [BBS_METRIC_CONVERGENCE_LRP_DURATION] = {"ConvergenceLRPDuration",
                                             "bbs_convergence_lrp_duration_seconds", "nanos",
                                             BBS_METRIC_GAUGE,
                                             "Duration of the last LRP convergence run"},
    [BBS_METRIC_LRPS_UNCLAIMED] = {"LRPsUnclaimed", "bbs_lrps_unclaimed", "Metric",
                                   BBS_METRIC_GAUGE, "Ordinary actual LRPs UNCLAIMED"},
    [BBS_METRIC_LRPS_CLAIMED] = {"LRPsClaimed", "bbs_lrps_claimed", "Metric", BBS_METRIC_GAUGE,
                                 "Ordinary actual LRPs CLAIMED"},
    [BBS_METRIC_LRPS_RUNNING] = {"LRPsRunning", "bbs_lrps_running", "Metric", BBS_METRIC_GAUGE,
                                 "Ordinary actual LRPs RUNNING"},
    [BBS_METRIC_CRASHED_ACTUAL_LRPS] = {"CrashedActualLRPs", "bbs_crashed_actual_lrps", "Metric",
                                        BBS_METRIC_GAUGE, "Ordinary actual LRPs CRASHED"},
    [BBS_METRIC_CRASHING_DESIRED_LRPS] = {"CrashingDesiredLRPs", "bbs_crashing_desired_lrps",
                                          "Metric", BBS_METRIC_GAUGE,
                                          "Desired LRPs with at least one CRASHED instance"},
    [BBS_METRIC_LRPS_MISSING] = {"LRPsMissing", "bbs_lrps_missing", "Metric", BBS_METRIC_GAUGE,
                                 "Instances the last convergence run found missing"},
    [BBS_METRIC_LRPS_EXTRA] = {"LRPsExtra", "bbs_lrps_extra", "Metric", BBS_METRIC_GAUGE,
                               "Instances the last convergence run retired as extra"},
    [BBS_METRIC_SUSPECT_RUNNING_LRPS] = {"SuspectRunningActualLRPs",
                                         "bbs_suspect_running_actual_lrps", "Metric",
                                         BBS_METRIC_GAUGE, "Suspect actual LRPs RUNNING"},
    [BBS_METRIC_SUSPECT_CLAIMED_LRPS] = {"SuspectClaimedActualLRPs",
                                         "bbs_suspect_claimed_actual_lrps", "Metric",
                                         BBS_METRIC_GAUGE, "Suspect actual LRPs CLAIMED"},
    [BBS_METRIC_LRPS_DESIRED] = {"LRPsDesired", "bbs_lrps_desired", "Metric", BBS_METRIC_GAUGE,
                                 "Sum of the desired LRPs' instances"},
    [BBS_METRIC_PRESENT_CELLS] = {"PresentCells", "bbs_present_cells", "Metric", BBS_METRIC_GAUGE,
                                  "Cells in the last convergence run's set"},
    [BBS_METRIC_SUSPECT_CELLS] = {"SuspectCells", "bbs_suspect_cells", "Metric", BBS_METRIC_GAUGE,
                                  "Cells the last convergence run found missing"},
    [BBS_METRIC_CONVERGENCE_TASK_RUNS] = {"ConvergenceTaskRuns", "bbs_convergence_task_runs_total",
                                          "Metric", BBS_METRIC_COUNTER,
                                          "Task convergence runs completed"},
    [BBS_METRIC_CONVERGENCE_TASK_DURATION] = {"ConvergenceTaskDuration",
                                              "bbs_convergence_task_duration_seconds", "nanos",
                                              BBS_METRIC_GAUGE,
                                              "Duration of the last task convergence run"},
    [BBS_METRIC_TASKS_PENDING] = {"TasksPending", "bbs_tasks_pending", "Metric", BBS_METRIC_GAUGE,
                                  "Tasks PENDING"},
    [BBS_METRIC_TASKS_RUNNING] = {"TasksRunning", "bbs_tasks_running", "Metric", BBS_METRIC_GAUGE,
                                  "Tasks RUNNING"},
    [BBS_METRIC_TASKS_COMPLETED] = {"TasksCompleted", "bbs_tasks_completed", "Metric",
                                    BBS_METRIC_GAUGE, "Tasks COMPLETED"},
    [BBS_METRIC_TASKS_RESOLVING] = {"TasksResolving", "bbs_tasks_resolving", "Metric",
                                    BBS_METRIC_GAUGE, "Tasks RESOLVING"},
    [BBS_METRIC_CONVERGENCE_TASKS_KICKED] = {"ConvergenceTasksKicked",
                                             "bbs_convergence_tasks_kicked_total", "Metric",
                                             BBS_METRIC_COUNTER,
                                             "Tasks task convergence kicked since start"},
    [BBS_METRIC_CONVERGENCE_TASKS_PRUNED] = {"ConvergenceTasksPruned",
                                             "bbs_convergence_tasks_pruned_total", "Metric",
                                             BBS_METRIC_COUNTER,
                                             "Tasks task convergence pruned since start"},
    [BBS_METRIC_DB_OPEN_CONNECTIONS] = {"DBOpenConnections", "bbs_db_open_connections", "Metric",
                                        BBS_METRIC_GAUGE, "Open database connections"},
    [BBS_METRIC_DB_WAIT_DURATION] = {"DBWaitDuration", "bbs_db_wait_duration_seconds_total",
                                     "nanos", BBS_METRIC_COUNTER,
                                     "Time spent waiting for a free database connection"},
    [BBS_METRIC_DB_WAIT_COUNT] = {"DBWaitCount", "bbs_db_waits_total", "Metric", BBS_METRIC_COUNTER,
                                  "Waits for a free database connection"},
    [BBS_METRIC_DB_QUERIES_TOTAL] = {"DBQueriesTotal", "bbs_db_queries_total", "Metric",
                                     BBS_METRIC_COUNTER, "SQL statements run"},
    [BBS_METRIC_DB_QUERIES_SUCCEEDED] = {"DBQueriesSucceeded", "bbs_db_queries_succeeded_total",
                                         "Metric", BBS_METRIC_COUNTER,
                                         "SQL statements that succeeded"},
    [BBS_METRIC_DB_QUERIES_FAILED] = {"DBQueriesFailed", "bbs_db_queries_failed_total", "Metric",
                                      BBS_METRIC_COUNTER, "SQL statements that failed"},
    [BBS_METRIC_DB_QUERIES_IN_FLIGHT] = {"DBQueriesInFlight", "bbs_db_queries_in_flight_max",
                                         "Metric", BBS_METRIC_GAUGE,
                                         "Most SQL statements running at once since the last "
                                         "60 s report"},
    [BBS_METRIC_DB_QUERY_DURATION_MAX] = {"DBQueryDurationMax", "bbs_db_query_duration_max_seconds",
                                          "nanos", BBS_METRIC_GAUGE,
                                          "Longest SQL statement since the last 60 s report"},
    [BBS_METRIC_EMIT_FAILURES] = {NULL, "bbs_loggregator_envelopes_failed_total", "Metric",
                                  BBS_METRIC_COUNTER,
                                  "Metric envelopes that could not be delivered to the "
                                  "loggregator agent (dropped or lost with a broken stream)"},
    [BBS_METRIC_ENCRYPTION_DURATION] = {"EncryptionDuration", "bbs_encryption_duration_seconds",
                                        "nanos", BBS_METRIC_GAUGE,
                                        "Time the start-up re-keying pass took (encryption on; 0 "
                                        "until it finished)"},
};

struct route_stats {
    atomic_uint_fast64_t count;    /* requests, streams included */
    atomic_uint_fast64_t observed; /* of which with a latency */
    atomic_uint_fast64_t sum_ns;
    atomic_uint_fast64_t buckets[N_BUCKETS]; /* non-cumulative; +Inf = observed - sum */
};

struct cell_slot {
    _Atomic(char *) cell_id; /* NULL = free; set once with CAS */
    atomic_uint_fast64_t n[3];
};

struct bbs_metrics {
    const char **routes;
    size_t n_routes;
    struct route_stats *per_route;
    atomic_uint_fast64_t requests;
    atomic_int_fast64_t max_latency_ns;
    atomic_int_fast64_t values[BBS_METRIC_COUNT];
    struct cell_slot cells[BBS_METRICS_MAX_CELLS];
    struct cell_slot other_cells; /* past the table */

    pthread_mutex_t domains_mu; /* guards domains, n_domains */
    char **domains;
    size_t n_domains;

    int64_t started_mono_ns; /* CLOCK_MONOTONIC at bbs_metrics_new: uptime */
    int64_t started_wall_ns; /* CLOCK_REALTIME then: bbs_process_start_time_seconds */
};

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t bbs_metrics_uptime_ns(const struct bbs_metrics *m)
{
    return clock_ns(CLOCK_MONOTONIC) - m->started_mono_ns;
}

const struct bbs_metric_info *bbs_metric_info(enum bbs_metric id)
{
    return &table[id];
}

struct bbs_metrics *bbs_metrics_new(const char *const *routes, size_t n)
{
    struct bbs_metrics *m = bbs_xcalloc(1, sizeof(*m));

    m->routes = bbs_xcalloc(n > 0 ? n : 1, sizeof(*m->routes));
    for (size_t i = 0; i < n; i++) {
        m->routes[i] = routes[i];
    }
    m->n_routes = n;
    m->per_route = bbs_xcalloc(n > 0 ? n : 1, sizeof(*m->per_route));
    pthread_mutex_init(&m->domains_mu, NULL);
    m->started_mono_ns = clock_ns(CLOCK_MONOTONIC);
    m->started_wall_ns = clock_ns(CLOCK_REALTIME);
    return m;
}

static void free_domains(struct bbs_metrics *m)
{
    for (size_t i = 0; i < m->n_domains; i++) {
        free(m->domains[i]);
    }
    free(m->domains);
    m->domains = NULL;
    m->n_domains = 0;
}

void bbs_metrics_free(struct bbs_metrics *m)
{
    if (m == NULL) {
        return;
    }
    for (size_t i = 0; i < BBS_METRICS_MAX_CELLS; i++) {
        free(atomic_load(&m->cells[i].cell_id));
    }
    free_domains(m);
    pthread_mutex_destroy(&m->domains_mu);
    free(m->per_route);
    free(m->routes);
    free(m);
}

/* Raise `*a` to `v` if larger, without a lock. */
static void atomic_max64(atomic_int_fast64_t *a, int64_t v)
{
    int_fast64_t cur = atomic_load_explicit(a, memory_order_relaxed);

    while (v > cur && !atomic_compare_exchange_weak_explicit(a, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed)) {
    }
}

void bbs_metrics_request(struct bbs_metrics *m, size_t route, int64_t latency_ns)
{
    struct route_stats *r;
    size_t b = 0;

    if (m == NULL) {
        return;
    }
    atomic_fetch_add_explicit(&m->requests, 1, memory_order_relaxed);
    if (route >= m->n_routes) {
        return;
    }
    r = &m->per_route[route];
    atomic_fetch_add_explicit(&r->count, 1, memory_order_relaxed);
    if (latency_ns < 0) {
        return;
    }
    atomic_max64(&m->max_latency_ns, latency_ns);
    while (b < N_BUCKETS && (double)latency_ns > bbs_metrics_buckets[b] * 1e9) {
        b++;
    }
    if (b < N_BUCKETS) {
        atomic_fetch_add_explicit(&r->buckets[b], 1, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&r->sum_ns, (uint64_t)latency_ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->observed, 1, memory_order_relaxed);
}

uint64_t bbs_metrics_requests(const struct bbs_metrics *m)
{
    return atomic_load(&((struct bbs_metrics *)m)->requests);
}

int64_t bbs_metrics_take_max_latency(struct bbs_metrics *m)
{
    return atomic_exchange(&m->max_latency_ns, 0);
}

void bbs_metrics_set(struct bbs_metrics *m, enum bbs_metric id, int64_t value)
{
    if (m != NULL && id < BBS_METRIC_COUNT) {
        atomic_store_explicit(&m->values[id], value, memory_order_relaxed);
    }
}

void bbs_metrics_add(struct bbs_metrics *m, enum bbs_metric id, int64_t delta)
{
    if (m != NULL && id < BBS_METRIC_COUNT) {
        atomic_fetch_add_explicit(&m->values[id], delta, memory_order_relaxed);
    }
}

void bbs_metrics_max(struct bbs_metrics *m, enum bbs_metric id, int64_t value)
{
    if (m != NULL && id < BBS_METRIC_COUNT) {
        atomic_max64(&m->values[id], value);
    }
}

int64_t bbs_metrics_get(const struct bbs_metrics *m, enum bbs_metric id)
{
    if (m == NULL || id >= BBS_METRIC_COUNT) {
        return 0;
    }
    return atomic_load_explicit(&((struct bbs_metrics *)m)->values[id], memory_order_relaxed);
}

/* FNV-1a: where a cell's probe starts. */
static size_t cell_hash(const char *s)
{
    uint64_t h = UINT64_C(14695981039346656037);

    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
    }
    return (size_t)h;
}

void bbs_metrics_task_event(struct bbs_metrics *m, const char *cell_id,
                            enum bbs_metric_task_event ev)
{
    struct cell_slot *slot = NULL;
    size_t start;
    char *mine = NULL;

    if (m == NULL || cell_id == NULL || (unsigned)ev > BBS_METRIC_TASK_FAILED) {
        return;
    }
    slot = &m->other_cells;
    start = cell_hash(cell_id) % BBS_METRICS_MAX_CELLS;
    for (size_t i = 0; i < BBS_METRICS_MAX_CELLS; i++) {
        struct cell_slot *s = &m->cells[(start + i) % BBS_METRICS_MAX_CELLS];
        char *cur = atomic_load(&s->cell_id);

        if (cur == NULL) {
            /* Claim the free slot; if another thread won it, look at what it wrote. */
            if (mine == NULL) {
                mine = bbs_xstrdup(cell_id);
            }
            if (atomic_compare_exchange_strong(&s->cell_id, &cur, mine)) {
                mine = NULL;
                slot = s;
                break;
            }
        }
        if (strcmp(cur, cell_id) == 0) {
            slot = s;
            break;
        }
    }
    free(mine);
    atomic_fetch_add_explicit(&slot->n[ev], 1, memory_order_relaxed);
}

void bbs_metrics_task_cells(const struct bbs_metrics *m,
                            void (*fn)(void *ctx, const char *cell_id, uint64_t started,
                                       uint64_t succeeded, uint64_t failed),
                            void *ctx)
{
    struct bbs_metrics *mm = (struct bbs_metrics *)m;

    for (size_t i = 0; i < BBS_METRICS_MAX_CELLS; i++) {
        struct cell_slot *s = &mm->cells[i];
        char *id = atomic_load(&s->cell_id);

        if (id != NULL) {
            fn(ctx, id, atomic_load(&s->n[0]), atomic_load(&s->n[1]), atomic_load(&s->n[2]));
        }
    }
    if (atomic_load(&mm->other_cells.n[0]) + atomic_load(&mm->other_cells.n[1]) +
            atomic_load(&mm->other_cells.n[2]) >
        0) {
        fn(ctx, "other", atomic_load(&mm->other_cells.n[0]), atomic_load(&mm->other_cells.n[1]),
           atomic_load(&mm->other_cells.n[2]));
    }
}

void bbs_metrics_set_domains(struct bbs_metrics *m, const char *const *domains, size_t n)
{
    char **copy = n > 0 ? bbs_xcalloc(n, sizeof(*copy)) : NULL;
    size_t k = 0;

    /* Once each: a series may appear only once on the page (the few domains make
     * the quadratic check cheap). */
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;

        while (j < k && strcmp(copy[j], domains[i]) != 0) {
            j++;
        }
        if (j == k) {
            copy[k++] = bbs_xstrdup(domains[i]);
        }
    }
    pthread_mutex_lock(&m->domains_mu);
    free_domains(m);
    m->domains = copy;
    m->n_domains = k;
    pthread_mutex_unlock(&m->domains_mu);
}

void bbs_metrics_domains(struct bbs_metrics *m, void (*fn)(void *ctx, const char *domain),
                         void *ctx)
{
    pthread_mutex_lock(&m->domains_mu);
    for (size_t i = 0; i < m->n_domains; i++) {
        fn(ctx, m->domains[i]);
    }
    pthread_mutex_unlock(&m->domains_mu);
}

int64_t bbs_metrics_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int64_t n = 0;

    if (d == NULL) {
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n - 1; /* the directory stream's own descriptor */
}

/* ---- Prometheus text ----------------------------------------------------------------- */

/* A label value with \, " and newline escaped (exposition format 0.0.4). */
static void prom_label(struct bbs_buf *out, const char *v)
{
    for (; *v != '\0'; v++) {
        if (*v == '\\' || *v == '"') {
            bbs_buf_putc(out, '\\');
            bbs_buf_putc(out, (uint8_t)*v);
        } else if (*v == '\n') {
            bbs_buf_append(out, "\\n", 2);
        } else {
            bbs_buf_putc(out, (uint8_t)*v);
        }
    }
}

static void prom_head(struct bbs_buf *out, const char *name, const char *type, const char *help)
{
    bbs_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_domain(void *ctx, const char *domain)
{
    struct bbs_buf *out = ctx;

    bbs_buf_append(out, "bbs_domain_fresh{domain=\"", 25);
    prom_label(out, domain);
    bbs_buf_append(out, "\"} 1\n", 5);
}

struct prom_cells {
    struct bbs_buf *out;
    int which;
};

static void prom_cell(void *ctx, const char *cell_id, uint64_t started, uint64_t succeeded,
                      uint64_t failed)
{
    struct prom_cells *pc = ctx;
    static const char *const names[] = {"bbs_tasks_started_total", "bbs_tasks_succeeded_total",
                                        "bbs_tasks_failed_total"};
    uint64_t v[] = {started, succeeded, failed};

    bbs_buf_printf(pc->out, "%s{cell_id=\"", names[pc->which]);
    prom_label(pc->out, cell_id);
    bbs_buf_printf(pc->out, "\"} %llu\n", (unsigned long long)v[pc->which]);
}

void bbs_metrics_prometheus(struct bbs_metrics *m, struct bbs_buf *out)
{
    static const char *const task_help[] = {"Tasks started, by the cell of the request",
                                            "Tasks completed successfully, by cell",
                                            "Tasks completed as failed, by cell"};
    static const char *const task_names[] = {"bbs_tasks_started_total", "bbs_tasks_succeeded_total",
                                             "bbs_tasks_failed_total"};
    int64_t fds = bbs_metrics_open_fds();

    prom_head(out, "bbs_requests_total", "counter",
              "Requests served (protobuf routes and event streams; 404 and 405 not counted)");
    bbs_buf_printf(out, "bbs_requests_total %llu\n", (unsigned long long)atomic_load(&m->requests));
    prom_head(out, "bbs_process_start_time_seconds", "gauge",
              "When the server started, seconds since the epoch (uptime: time() minus this)");
    bbs_buf_printf(out, "bbs_process_start_time_seconds %.3f\n", (double)m->started_wall_ns / 1e9);
    prom_head(out, "bbs_route_requests_total", "counter", "Requests served, by route");
    for (size_t i = 0; i < m->n_routes; i++) {
        bbs_buf_append(out, "bbs_route_requests_total{route=\"", 32);
        prom_label(out, m->routes[i]);
        bbs_buf_printf(out, "\"} %llu\n", (unsigned long long)atomic_load(&m->per_route[i].count));
    }
    prom_head(out, "bbs_request_duration_seconds", "histogram",
              "Handler time of unary requests, by route (streams excluded)");
    for (size_t i = 0; i < m->n_routes; i++) {
        struct route_stats *r = &m->per_route[i];
        uint64_t cum = 0;
        uint64_t observed = atomic_load(&r->observed);

        for (size_t b = 0; b < N_BUCKETS; b++) {
            cum += atomic_load(&r->buckets[b]);
            bbs_buf_append(out, "bbs_request_duration_seconds_bucket{route=\"", 43);
            prom_label(out, m->routes[i]);
            bbs_buf_printf(out, "\",le=\"%g\"} %llu\n", bbs_metrics_buckets[b],
                           (unsigned long long)cum);
        }
        /* Read apart from the buckets: +Inf must not be below the last bucket. */
        if (observed < cum) {
            observed = cum;
        }
        bbs_buf_append(out, "bbs_request_duration_seconds_bucket{route=\"", 43);
        prom_label(out, m->routes[i]);
        bbs_buf_printf(out, "\",le=\"+Inf\"} %llu\n", (unsigned long long)observed);
        bbs_buf_append(out, "bbs_request_duration_seconds_sum{route=\"", 40);
        prom_label(out, m->routes[i]);
        bbs_buf_printf(out, "\"} %.9f\n", (double)atomic_load(&r->sum_ns) / 1e9);
        bbs_buf_append(out, "bbs_request_duration_seconds_count{route=\"", 42);
        prom_label(out, m->routes[i]);
        bbs_buf_printf(out, "\"} %llu\n", (unsigned long long)observed);
    }
    for (size_t i = 0; i < BBS_METRIC_COUNT; i++) {
        const struct bbs_metric_info *t = &table[i];
        int64_t v = atomic_load(&m->values[i]);

        prom_head(out, t->prom, t->kind == BBS_METRIC_COUNTER ? "counter" : "gauge", t->help);
        if (strcmp(t->unit, "nanos") == 0) {
            bbs_buf_printf(out, "%s %.9f\n", t->prom, (double)v / 1e9);
        } else {
            bbs_buf_printf(out, "%s %lld\n", t->prom, (long long)v);
        }
    }
    prom_head(out, "bbs_domain_fresh", "gauge", "1 for each fresh domain");
    bbs_metrics_domains(m, prom_domain, out);
    for (int w = 0; w < 3; w++) {
        struct prom_cells pc = {out, w};

        prom_head(out, task_names[w], "counter", task_help[w]);
        bbs_metrics_task_cells(m, prom_cell, &pc);
    }
    prom_head(out, "bbs_open_file_descriptors", "gauge", "Open file descriptors of the process");
    bbs_buf_printf(out, "bbs_open_file_descriptors %lld\n", (long long)(fds < 0 ? 0 : fds));
}
