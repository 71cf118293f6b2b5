/*
 * main.c - bbs-bench-converge: how long one LRP convergence run takes.
 *
 *   bbs-bench-converge --conninfo 'host=/tmp/pg dbname=bench' [--lrps N] [--cells C]
 *                      [--repair-pct P] [--workers W] [--migrations DIR]
 *
 * Convergence has no route, so unlike bbs-bench this is not a client: it
 * runs the server's own converger (worker/converge.c, the same code the
 * bbs binary runs) in this process against the database given, with a
 * cell set of C cells it answers itself. It seeds N single-instance LRPs
 * straight into the tables (one INSERT ... SELECT generate_series per
 * table: seeding 250k through the API would take longer than everything
 * it measures), every instance RUNNING on one of the cells, then times:
 *   1. a run with nothing to repair (after one warm-up run),
 *   2. a run after P percent of the cells vanished: their instances are
 *      marked SUSPECT, replacements created and auctioned (the auctioneer
 *      address is empty, so the one auction request is built and dropped).
 * Prints one JSON line. The database must be empty or hold an earlier
 * run's tables (they are emptied first).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "bbs/converger.h"
#include "bbs/log.h"

static struct {
    const char **ids;
    size_t n;
} g_cells;

static int bench_cells(void *ctx, struct bbs_arena *arena, struct bbs_cell **out, size_t *n,
                       struct bbs_error *err)
{
    struct bbs_cell *cells = bbs_arena_zalloc(arena, (g_cells.n + 1) * sizeof(*cells));

    (void)ctx;
    (void)err;
    for (size_t i = 0; i < g_cells.n; i++) {
        cells[i].cell_id = g_cells.ids[i];
        cells[i].rep_address = "";
        cells[i].rep_url = "";
        cells[i].zone = "z1";
    }
    *out = cells;
    *n = g_cells.n;
    return 0;
}

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

static int64_t cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

static int exec_sql(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

    if (!ok) {
        fprintf(stderr, "bbs-bench-converge: %s: %s", sql, PQerrorMessage(conn));
    }
    PQclear(res);
    return ok ? 0 : -1;
}

static int seed(const char *conninfo, long lrps, long cells)
{
    PGconn *conn = PQconnectdb(conninfo);
    char sql[2048];
    int rc = -1;

    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "bbs-bench-converge: %s", PQerrorMessage(conn));
        goto out;
    }
    if (exec_sql(conn, "TRUNCATE actual_lrps, desired_lrps, domains") != 0 ||
        exec_sql(conn, "INSERT INTO domains VALUES ('bench', 9223372036854775807)") != 0) {
        goto out;
    }
    snprintf(sql, sizeof(sql),
             "INSERT INTO desired_lrps (process_guid, domain, log_guid, instances, memory_mb,"
             " disk_mb, rootfs, routes, volume_placement, placement_tags, metric_tags,"
             " modification_tag_epoch, run_info, created_at)"
             " SELECT 'bench-' || g, 'bench', 'log', 1, 128, 256, 'docker:///bench',"
             " ''::bytea, ''::bytea, ''::bytea, ''::bytea, 'epoch', ''::bytea, 0"
             " FROM generate_series(1, %ld) AS g",
             lrps);
    if (exec_sql(conn, sql) != 0) {
        goto out;
    }
    snprintf(sql, sizeof(sql),
             "INSERT INTO actual_lrps (process_guid, instance_index, presence, domain, state,"
             " instance_guid, cell_id, since, net_info, internal_routes, metric_tags, routable,"
             " modification_tag_epoch)"
             " SELECT 'bench-' || g, 0, 0, 'bench', 'RUNNING', 'ig-' || g,"
             " 'cell-' || (g %% %ld), %" PRId64 ", ''::bytea, ''::bytea, ''::bytea, true, 'epoch'"
             " FROM generate_series(1, %ld) AS g",
             cells, (int64_t)time(NULL) * INT64_C(1000000000), lrps);
    if (exec_sql(conn, sql) != 0 || exec_sql(conn, "VACUUM ANALYZE") != 0) {
        goto out;
    }
    rc = 0;
out:
    PQfinish(conn);
    return rc;
}

int main(int argc, char **argv)
{
    const char *conninfo = NULL;
    const char *migrations = NULL;
    long lrps = 50000;
    long cells = 1000;
    double repair_pct = 1.0;
    int workers = 20;
    struct bbs_error err = {0};
    struct bbs_store *store = NULL;
    struct bbs_outbox *outbox = NULL;
    struct bbs_outbox_config ocfg;
    struct bbs_auction *auction = NULL;
    struct bbs_converger *conv = NULL;
    struct bbs_conv_cell_source src = {bench_cells, NULL};
    struct bbs_converger_config ccfg;
    struct bbs_conv_run quiet;
    struct bbs_conv_run repair;
    char **names = NULL;
    long gone;
    int64_t t0;
    int64_t quiet_wall;
    int64_t repair_wall;
    int64_t c0;
    int64_t quiet_cpu;
    int64_t repair_cpu;
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (v != NULL && strcmp(argv[i], "--conninfo") == 0) {
            conninfo = v;
        } else if (v != NULL && strcmp(argv[i], "--migrations") == 0) {
            migrations = v;
        } else if (v != NULL && strcmp(argv[i], "--lrps") == 0) {
            lrps = strtol(v, NULL, 10);
        } else if (v != NULL && strcmp(argv[i], "--cells") == 0) {
            cells = strtol(v, NULL, 10);
        } else if (v != NULL && strcmp(argv[i], "--repair-pct") == 0) {
            repair_pct = strtod(v, NULL);
        } else if (v != NULL && strcmp(argv[i], "--workers") == 0) {
            workers = (int)strtol(v, NULL, 10);
        } else {
            fprintf(stderr, "usage: bbs-bench-converge --conninfo C [--lrps N] [--cells C]"
                            " [--repair-pct P] [--workers W] [--migrations DIR]\n");
            return 2;
        }
        i++;
    }
    if (conninfo == NULL || lrps < 1 || cells < 1 || repair_pct < 0 || repair_pct > 100) {
        fprintf(stderr, "bbs-bench-converge: --conninfo is required; counts must be positive\n");
        return 2;
    }
    bbs_log_set_level(BBS_LOG_ERROR); /* the run lines would drown the result */
    store = bbs_store_new(conninfo, 32, 3, &err);
    if (store == NULL || (migrations != NULL && bbs_store_migrate(store, migrations, &err) != 0)) {
        fprintf(stderr, "bbs-bench-converge: %s\n", err.message);
        goto out;
    }
    fprintf(stderr, "seeding %ld LRPs on %ld cells\n", lrps, cells);
    if (seed(conninfo, lrps, cells) != 0) {
        goto out;
    }
    names = calloc((size_t)cells, sizeof(*names));
    g_cells.ids = calloc((size_t)cells, sizeof(*g_cells.ids));
    for (long i = 0; i < cells; i++) {
        names[i] = malloc(32);
        snprintf(names[i], 32, "cell-%ld", i);
        g_cells.ids[i] = names[i];
    }
    g_cells.n = (size_t)cells;
    memset(&ocfg, 0, sizeof(ocfg));
    outbox = bbs_outbox_new(&ocfg, &err);
    if (outbox == NULL) {
        fprintf(stderr, "bbs-bench-converge: %s\n", err.message);
        goto out;
    }
    auction = bbs_auction_new(outbox, "", 0);
    memset(&ccfg, 0, sizeof(ccfg));
    ccfg.interval_ns = INT64_C(3600000000000);
    ccfg.workers = workers;
    conv = bbs_converger_new(&ccfg, store, auction, NULL, &src);

    bbs_converger_run(conv, NULL); /* warm-up: connections, caches */
    t0 = mono_ns();
    c0 = cpu_ns();
    bbs_converger_run(conv, &quiet);
    quiet_cpu = cpu_ns() - c0;
    quiet_wall = mono_ns() - t0;

    gone = (long)((double)cells * repair_pct / 100.0 + 0.5);
    g_cells.ids += gone; /* the first `gone` cells vanish */
    g_cells.n -= (size_t)gone;
    t0 = mono_ns();
    c0 = cpu_ns();
    bbs_converger_run(conv, &repair);
    repair_cpu = cpu_ns() - c0;
    repair_wall = mono_ns() - t0;
    g_cells.ids -= gone;

    printf(
        "{\"workload\":\"converge\",\"lrps\":%ld,\"cells\":%ld,\"workers\":%d,"
        "\"quiet_run_s\":%.3f,\"quiet_read_s\":%.3f,\"quiet_plan_s\":%.3f,\"quiet_wall_s\":%.3f,"
        "\"quiet_cpu_s\":%.3f,"
        "\"repair_pct\":%.2f,"
        "\"cells_vanished\":%ld,\"repair_run_s\":%.3f,\"repair_wall_s\":%.3f,\"repair_cpu_s\":%.3f,"
        "\"suspects_marked\":%" PRId64 ",\"created\":%" PRId64 ",\"auctioned\":%" PRId64
        ",\"failed_batches\":%" PRId64 "}\n",
        lrps, cells, workers, (double)quiet.duration_ns / 1e9, (double)quiet.read_ns / 1e9,
        (double)quiet.plan_ns / 1e9, (double)quiet_wall / 1e9, (double)quiet_cpu / 1e9, repair_pct,
        gone, (double)repair.duration_ns / 1e9, (double)repair_wall / 1e9, (double)repair_cpu / 1e9,
        repair.suspects_marked, repair.created, repair.auctioned,
        quiet.failed_batches + repair.failed_batches);
    rc = quiet.failed || repair.failed ? 1 : 0;
out:
    bbs_converger_free(conv);
    bbs_auction_free(auction);
    if (outbox != NULL) {
        bbs_outbox_stop(outbox);
        bbs_outbox_free(outbox);
    }
    bbs_store_free(store);
    for (long i = 0; names != NULL && i < cells; i++) {
        free(names[i]);
    }
    free(names);
    free(g_cells.ids);
    return rc;
}
