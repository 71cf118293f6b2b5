/*
 * dbcheck.c - the database health check (lead.h, bbs_dbcheck_*), upstream's
 * DBHealthCheckRunner: a thread that every interval runs up to `threshold`
 * timed attempts of an upsert and read-back of bbs_health_check row 1.
 * Each attempt has one deadline for connecting and answering (libpq in
 * non-blocking use, polled); a timed-out connection is dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "bbs/lead.h"
#include "bbs/log.h"
#include "bbs/xalloc.h"

struct bbs_dbcheck {
    struct bbs_dbcheck_config cfg;
    char *conninfo;
    PGconn *conn;
    atomic_int stopping;
    int wake[2];
    pthread_t thread;
};

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Wait for `events` on the connection's socket until `deadline`: 0 ready, -1 timed out. */
static int wait_sock(PGconn *conn, short events, int64_t deadline)
{
    struct pollfd p = {.fd = PQsocket(conn), .events = events};
    int64_t left = deadline - mono_ns();

    if (left <= 0) {
        return -1;
    }
    return poll(&p, 1, (int)((left + 999999) / 1000000)) > 0 ? 0 : -1;
}

static int connect_by(struct bbs_dbcheck *c, int64_t deadline, char *why, size_t why_len)
{
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;

    c->conn = PQconnectStart(c->conninfo);
    if (c->conn == NULL || PQstatus(c->conn) == CONNECTION_BAD) {
        snprintf(why, why_len, "%s", c->conn ? PQerrorMessage(c->conn) : "out of memory");
        goto fail;
    }
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED) {
            snprintf(why, why_len, "%s", PQerrorMessage(c->conn));
            goto fail;
        }
        if (wait_sock(c->conn, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline) != 0) {
            snprintf(why, why_len, "connecting timed out");
            goto fail;
        }
        st = PQconnectPoll(c->conn);
    }
    return 0;
fail:
    PQfinish(c->conn);
    c->conn = NULL;
    return -1;
}

/* One attempt: 0, or -1 with `why`. */
static int attempt(struct bbs_dbcheck *c, char *why, size_t why_len)
{
    int64_t deadline = mono_ns() + c->cfg.timeout_ns;
    char now[32];
    const char *params[1] = {now};
    PGresult *res, *last = NULL;
    int ok = 0;

    if (c->conn == NULL && connect_by(c, deadline, why, why_len) != 0) {
        return -1;
    }
    snprintf(now, sizeof(now), "%" PRId64, wall_ns());
    if (!PQsendQueryParams(c->conn,
                           "INSERT INTO bbs_health_check (id, time) VALUES (1, $1::int8) "
                           "ON CONFLICT (id) DO UPDATE SET time = EXCLUDED.time RETURNING time",
                           1, NULL, params, NULL, NULL, 0)) {
        snprintf(why, why_len, "%s", PQerrorMessage(c->conn));
        goto drop;
    }
    for (;;) {
        while (PQisBusy(c->conn)) {
            if (wait_sock(c->conn, POLLIN, deadline) != 0) {
                snprintf(why, why_len,
                         "timed out after %" PRId64 " ms while executing DB health check",
                         c->cfg.timeout_ns / 1000000);
                goto drop;
            }
            if (!PQconsumeInput(c->conn)) {
                snprintf(why, why_len, "%s", PQerrorMessage(c->conn));
                goto drop;
            }
        }
        res = PQgetResult(c->conn);
        if (res == NULL) {
            break;
        }
        PQclear(last);
        last = res;
    }
    if (PQresultStatus(last) == PGRES_TUPLES_OK && PQntuples(last) == 1 &&
        strcmp(PQgetvalue(last, 0, 0), now) == 0) {
        ok = 1;
    } else {
        snprintf(why, why_len, "%s",
                 last != NULL ? PQresultErrorMessage(last) : "no answer to the health check");
    }
    PQclear(last);
    last = NULL;
    if (ok) {
        return 0;
    }
    if (PQstatus(c->conn) == CONNECTION_OK) {
        return -1;
    }
drop:
    PQclear(last);
    PQfinish(c->conn);
    c->conn = NULL;
    return -1;
}

/* Sleep `ns` unless stopped: 1 when stopping. */
static int nap(struct bbs_dbcheck *c, int64_t ns)
{
    struct pollfd p = {.fd = c->wake[0], .events = POLLIN};

    if (atomic_load(&c->stopping)) {
        return 1;
    }
    if (poll(&p, 1, (int)((ns + 999999) / 1000000)) < 0 && errno != EINTR) {
        return 1;
    }
    return atomic_load(&c->stopping);
}

static void *run(void *arg)
{
    struct bbs_dbcheck *c = arg;

    bbs_log(BBS_LOG_INFO, "db-healthcheck.starting", "{s:I, s:I, s:i}", "interval_ms",
            (json_int_t)(c->cfg.interval_ns / 1000000), "timeout_ms",
            (json_int_t)(c->cfg.timeout_ns / 1000000), "failure_threshold", c->cfg.threshold);
    while (!nap(c, c->cfg.interval_ns)) {
        char why[512] = "";
        int ok = 0;

        for (int i = 1; i <= c->cfg.threshold && !atomic_load(&c->stopping); i++) {
            if (attempt(c, why, sizeof(why)) == 0) {
                ok = 1;
                break;
            }
            bbs_log(BBS_LOG_ERROR, "db-healthcheck.failed-health-check", "{s:i, s:s}", "attempt", i,
                    "error", why);
        }
        if (!ok && !atomic_load(&c->stopping)) {
            bbs_log(BBS_LOG_ERROR, "db-healthcheck.database-failure-detected-restarting-bbs",
                    "{s:s, s:i}", "error", why, "max-attempts", c->cfg.threshold);
            if (c->cfg.on_failed != NULL) {
                c->cfg.on_failed(c->cfg.on_failed_ctx);
            }
            break;
        }
    }
    return NULL;
}

struct bbs_dbcheck *bbs_dbcheck_start(const struct bbs_dbcheck_config *cfg, struct bbs_error *err)
{
    struct bbs_dbcheck *c = bbs_xcalloc(1, sizeof(*c));

    c->cfg = *cfg;
    c->conninfo = bbs_xstrdup(cfg->conninfo);
    c->cfg.conninfo = c->conninfo;
    if (pipe(c->wake) != 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "db health check: cannot make a pipe");
        free(c->conninfo);
        free(c);
        return NULL;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(c->wake[i], F_SETFD, FD_CLOEXEC);
    }
    if (pthread_create(&c->thread, NULL, run, c) != 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "db health check: cannot start its thread");
        close(c->wake[0]);
        close(c->wake[1]);
        free(c->conninfo);
        free(c);
        return NULL;
    }
    return c;
}

void bbs_dbcheck_stop(struct bbs_dbcheck *c)
{
    char b = 1;

    if (c == NULL) {
        return;
    }
    atomic_store(&c->stopping, 1);
    if (write(c->wake[1], &b, 1) < 0) {
        /* the thread sees `stopping` at its next look */
    }
    pthread_join(c->thread, NULL);
    PQfinish(c->conn);
    close(c->wake[0]);
    close(c->wake[1]);
    free(c->conninfo);
    free(c);
}
