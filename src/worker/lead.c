/*
 * lead.c - leadership (lead.h): Locket's lock "bbs", or a lease row in the
 * BBS database, and the term every write transaction is fenced with.
 *
 * bbs_lead_acquire() polls until it leads, on the calling thread (main),
 * woken early by bbs_lead_stop() through a pipe. Then a keeper thread
 * renews every min(lock_retry_interval, lock_ttl / 3) (Locket) or
 * min(1 s, lock_ttl / 3) (lease). The lock or lease is lost when another
 * owner or term has it, or when no renewal succeeded for a whole lock_ttl
 * (Locket or the database unreachable: it may have expired and a standby
 * may lead by then). Upstream gives the lock up at the first failed
 * renewal; a blip shorter than the TTL does not cost leadership here
 * (diego-release#627), and fencing keeps a deposed leader from writing.
 */
#include "bbs/lead.h"

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

#include "bbs/arena.h"
#include "bbs/locket.h"
#include "bbs/log.h"
#include "bbs/xalloc.h"
#include "locket.pb-c.h"

#define LEASE_POLL_MAX_NS INT64_C(1000000000) /* a standby looks at the lease every 1 s at most */
#define BUSY_RETRY_MS     100                 /* old writes were ended: look again soon */

struct bbs_lead {
    char *conninfo;
    char *owner;
    int64_t ttl_ns;
    int64_t retry_ns;
    struct bbs_locket *locket;
    void (*on_lost)(void *ctx);
    void *on_lost_ctx;
    PGconn *conn; /* lease mode: the lease connection (its backend pid is in the row) */
    atomic_int leader;
    atomic_llong term;
    atomic_int stopping;
    int64_t acquired_ns; /* when the call that won the lock or lease started */
    int wake[2];
    pthread_t keeper;
    int keeper_started;
};

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Sleep up to `ns`, or less when woken: 1 when asked to stop. */
static int nap(struct bbs_lead *l, int64_t ns)
{
    struct pollfd p = {.fd = l->wake[0], .events = POLLIN};
    int ms = (int)((ns + 999999) / 1000000);

    if (atomic_load(&l->stopping)) {
        return 1;
    }
    if (poll(&p, 1, ms) < 0 && errno != EINTR) {
        return 1;
    }
    return atomic_load(&l->stopping);
}

struct bbs_lead *bbs_lead_new(const struct bbs_lead_config *cfg)
{
    struct bbs_lead *l = bbs_xcalloc(1, sizeof(*l));

    l->conninfo = bbs_xstrdup(cfg->conninfo);
    l->owner = bbs_xstrdup(cfg->owner != NULL ? cfg->owner : "");
    l->ttl_ns = cfg->ttl_ns > 0 ? cfg->ttl_ns : INT64_C(15000000000);
    l->retry_ns = cfg->retry_ns > 0 ? cfg->retry_ns : INT64_C(5000000000);
    l->locket = cfg->locket;
    l->on_lost = cfg->on_lost;
    l->on_lost_ctx = cfg->on_lost_ctx;
    l->wake[0] = l->wake[1] = -1;
    if (pipe(l->wake) == 0) {
        for (int i = 0; i < 2; i++) {
            fcntl(l->wake[i], F_SETFD, FD_CLOEXEC);
            fcntl(l->wake[i], F_SETFL, O_NONBLOCK);
        }
    }
    return l;
}

void bbs_lead_stop(struct bbs_lead *l)
{
    char c = 1;
    int saved = errno; /* called from a signal handler */

    if (l == NULL) {
        return;
    }
    atomic_store(&l->stopping, 1);
    if (l->wake[1] >= 0 && write(l->wake[1], &c, 1) < 0) {
        /* full: already woken */
    }
    errno = saved;
}

bool bbs_lead_is_leader(const struct bbs_lead *l)
{
    return l != NULL && atomic_load(&((struct bbs_lead *)l)->leader) != 0;
}

int64_t bbs_lead_term(const struct bbs_lead *l)
{
    return l != NULL ? (int64_t)atomic_load(&((struct bbs_lead *)l)->term) : 0;
}

/* ---- the database side: the lease and the term ---------------------------------------- */

static int conn_ensure(struct bbs_lead *l, char *why, size_t why_len)
{
    if (l->conn != NULL && PQstatus(l->conn) == CONNECTION_OK) {
        return 0;
    }
    PQfinish(l->conn);
    l->conn = PQconnectdb(l->conninfo);
    if (PQstatus(l->conn) != CONNECTION_OK) {
        snprintf(why, why_len, "%s", PQerrorMessage(l->conn));
        PQfinish(l->conn);
        l->conn = NULL;
        return -1;
    }
    return 0;
}

/*
 * One call of a lease function with (int8/text/bool) text parameters: its
 * single value in `out` ("" for NULL). 0, or -1 with `why`.
 */
static int lease_call(struct bbs_lead *l, const char *sql, int n, const char *const *params,
                      char *out, size_t out_len, char *why, size_t why_len)
{
    PGresult *res;
    int rc = -1;

    if (conn_ensure(l, why, why_len) != 0) {
        return -1;
    }
    res = PQexecParams(l->conn, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        snprintf(out, out_len, "%s", PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0));
        rc = 0;
    } else {
        snprintf(why, why_len, "%s", PQresultErrorMessage(res));
    }
    PQclear(res);
    return rc;
}

/* bbs_lead_try: the new term (> 0), 0 (held by another), -1 (busy), -2 (error, `why`). */
static int64_t lease_try(struct bbs_lead *l, int force, char *why, size_t why_len)
{
    char ttl[32], out[32];
    const char *p[3] = {l->owner, ttl, force ? "true" : "false"};

    snprintf(ttl, sizeof(ttl), "%" PRId64, l->ttl_ns / 1000000);
    if (lease_call(l, "SELECT bbs_lead_try($1::text, $2::int8, $3::bool)", 3, p, out, sizeof(out),
                   why, why_len) != 0) {
        return -2;
    }
    return strtoll(out, NULL, 10);
}

/* 1 renewed, 0 another term leads, -1 error (`why`). */
static int lease_renew(struct bbs_lead *l, char *why, size_t why_len)
{
    char ttl[32], term[32], out[8];
    const char *p[2] = {term, ttl};

    snprintf(term, sizeof(term), "%lld", (long long)atomic_load(&l->term));
    snprintf(ttl, sizeof(ttl), "%" PRId64, l->ttl_ns / 1000000);
    if (lease_call(l, "SELECT bbs_lead_renew($1::int8, $2::int8)", 2, p, out, sizeof(out), why,
                   why_len) != 0) {
        return -1;
    }
    return out[0] == 't' ? 1 : 0;
}

static void lease_release(struct bbs_lead *l)
{
    char term[32], out[8], why[256];
    const char *p[1] = {term};

    snprintf(term, sizeof(term), "%lld", (long long)atomic_load(&l->term));
    if (lease_call(l, "SELECT bbs_lead_release($1::int8)", 1, p, out, sizeof(out), why,
                   sizeof(why)) != 0) {
        bbs_log(BBS_LOG_ERROR, "sql-lease.failed-to-release", "{s:s}", "error", why);
    } else {
        bbs_log(BBS_LOG_INFO, "sql-lease.released", "{s:I}", "term",
                (json_int_t)atomic_load(&l->term));
    }
}

/* ---- Locket ------------------------------------------------------------------------------ */

static void locket_resource(struct bbs_lead *l, Models__Resource *r)
{
    models__resource__init(r);
    r->key = (char *)"bbs";
    r->owner = l->owner;
    r->value = (char *)"";
    r->type = (char *)"lock";
    r->type_code = MODELS__TYPE_CODE__LOCK;
}

/* Lock once: 0, or -1 with the gRPC `*code` and `err`. */
static int locket_lock(struct bbs_lead *l, int *code, struct bbs_error *err)
{
    Models__Resource r;
    Models__LockRequest req;
    struct bbs_arena *a = bbs_arena_new();
    ProtobufCMessage *resp = NULL;
    int rc;

    locket_resource(l, &r);
    models__lock_request__init(&req);
    req.resource = &r;
    req.ttl_in_seconds = (l->ttl_ns + 999999999) / 1000000000;
    *code = 0;
    rc = bbs_locket_unary(l->locket, "Lock", &req.base, &models__lock_response__descriptor, a,
                          &resp, code, err);
    bbs_arena_free(a);
    return rc;
}

static void locket_release(struct bbs_lead *l)
{
    Models__Resource r;
    Models__ReleaseRequest req;
    struct bbs_arena *a = bbs_arena_new();
    ProtobufCMessage *resp = NULL;
    struct bbs_error err = {0};
    int code = 0;

    locket_resource(l, &r);
    models__release_request__init(&req);
    req.resource = &r;
    if (bbs_locket_unary(l->locket, "Release", &req.base, &models__release_response__descriptor, a,
                         &resp, &code, &err) != 0) {
        bbs_log(BBS_LOG_ERROR, "locket-lock.failed-to-release-lock", "{s:s}", "error", err.message);
    } else {
        bbs_log(BBS_LOG_INFO, "locket-lock.released-lock", NULL);
    }
    bbs_arena_free(a);
}

/* ---- acquire and keep -------------------------------------------------------------------- */

/* The term, once the lock or lease is ours: 0 when stopped, -1 on a fatal error. */
static int take_term(struct bbs_lead *l, int force, int64_t *term, struct bbs_error *err)
{
    char why[512];

    for (;;) {
        int64_t t = lease_try(l, force, why, sizeof(why));

        if (t > 0) {
            *term = t;
            return 0;
        }
        if (t == -2) {
            bbs_log(BBS_LOG_ERROR,
                    force ? "locket-lock.failed-to-take-term" : "sql-lease.failed-to-acquire",
                    "{s:s}", "error", why);
            if (force) {
                bbs_error_setf(err, BBS_ERR_UNKNOWN, "taking the term: %s", why);
                return -1;
            }
        }
        if (t == 0) {
            return 1; /* lease mode: another server leads */
        }
        if (nap(l, t == -1 ? BUSY_RETRY_MS * INT64_C(1000000) : LEASE_POLL_MAX_NS)) {
            bbs_error_setf(err, BBS_ERR_UNKNOWN, "stopped before leading");
            return -1;
        }
    }
}

static void lost(struct bbs_lead *l, const char *message, const char *why)
{
    atomic_store(&l->leader, 0);
    bbs_log(BBS_LOG_ERROR, message, "{s:s, s:I}", "error", why, "term",
            (json_int_t)atomic_load(&l->term));
    if (l->on_lost != NULL) {
        l->on_lost(l->on_lost_ctx);
    }
}

static void *keeper(void *arg)
{
    struct bbs_lead *l = arg;

    if (l->locket != NULL) {
        int64_t period = min64(l->retry_ns, l->ttl_ns / 3);
        int64_t last_ok = l->acquired_ns; /* start of the last Lock that succeeded */

        while (!nap(l, period)) {
            struct bbs_error err = {0};
            int64_t t0 = now_ns();
            int code = 0;

            if (locket_lock(l, &code, &err) == 0) {
                last_ok = t0;
            } else if (code == BBS_GRPC_ALREADY_EXISTS || now_ns() - last_ok >= l->ttl_ns) {
                /* Another owner has it, or Locket may have let it expire by now. */
                lost(l, "locket-lock.lost-lock", err.message);
                return NULL;
            } else {
                bbs_log(BBS_LOG_ERROR, "locket-lock.renew-failed", "{s:s}", "error", err.message);
            }
        }
    } else {
        int64_t period = min64(LEASE_POLL_MAX_NS, l->ttl_ns / 3);
        int64_t last_ok = now_ns();

        while (!nap(l, period)) {
            char why[512];
            int r = lease_renew(l, why, sizeof(why));

            if (r == 1) {
                last_ok = now_ns();
            } else if (r == 0) {
                lost(l, "sql-lease.lost-lease", "another server took the lease");
                return NULL;
            } else if (now_ns() - last_ok >= l->ttl_ns) {
                lost(l, "sql-lease.lost-lease", why);
                return NULL;
            } else {
                bbs_log(BBS_LOG_ERROR, "sql-lease.renew-failed", "{s:s}", "error", why);
            }
        }
    }
    return NULL;
}

static int acquire_locket(struct bbs_lead *l, struct bbs_error *err)
{
    int first = 1;

    for (;;) {
        struct bbs_error lerr = {0};
        int code = 0;

        l->acquired_ns = now_ns();
        if (locket_lock(l, &code, &lerr) == 0) {
            int64_t term = 0;
            int rc;

            bbs_log(BBS_LOG_INFO, "locket-lock.acquired-lock", NULL);
            rc = take_term(l, 1, &term, err);
            if (rc != 0) {
                return -1;
            }
            atomic_store(&l->term, term);
            PQfinish(l->conn); /* the term is all Locket mode needs from the database */
            l->conn = NULL;
            return 0;
        }
        if (first || code != BBS_GRPC_ALREADY_EXISTS) {
            bbs_log(BBS_LOG_ERROR, "locket-lock.failed-to-acquire-lock", "{s:s, s:s}", "error",
                    lerr.message, "owner", l->owner);
        }
        first = 0;
        if (nap(l, l->retry_ns)) {
            bbs_error_setf(err, BBS_ERR_UNKNOWN, "stopped before leading");
            return -1;
        }
    }
}

static int acquire_lease(struct bbs_lead *l, struct bbs_error *err)
{
    int64_t poll_ns = min64(LEASE_POLL_MAX_NS, l->retry_ns);
    int said = 0;

    for (;;) {
        int64_t term = 0;
        int rc = take_term(l, 0, &term, err);

        if (rc < 0) {
            return -1;
        }
        if (rc == 0) {
            atomic_store(&l->term, term);
            bbs_log(BBS_LOG_INFO, "sql-lease.acquired-lease", "{s:I, s:s}", "term",
                    (json_int_t)term, "owner", l->owner);
            return 0;
        }
        if (!said) {
            bbs_log(BBS_LOG_INFO, "sql-lease.standby", "{s:s}", "reason",
                    "another server holds the lease");
            said = 1;
        }
        if (nap(l, poll_ns)) {
            bbs_error_setf(err, BBS_ERR_UNKNOWN, "stopped before leading");
            return -1;
        }
    }
}

int bbs_lead_acquire(struct bbs_lead *l, struct bbs_error *err)
{
    int rc;

    if (l->wake[0] < 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "leadership: cannot make a pipe");
        return -1;
    }
    if (l->locket != NULL) {
        bbs_log(BBS_LOG_INFO, "locket-lock.started", "{s:s, s:I}", "owner", l->owner,
                "ttl_in_seconds", (json_int_t)((l->ttl_ns + 999999999) / 1000000000));
        rc = acquire_locket(l, err);
    } else {
        bbs_log(BBS_LOG_INFO, "sql-lease.started", "{s:s, s:I}", "owner", l->owner, "ttl_ms",
                (json_int_t)(l->ttl_ns / 1000000));
        rc = acquire_lease(l, err);
    }
    if (rc != 0) {
        return -1;
    }
    atomic_store(&l->leader, 1);
    if (pthread_create(&l->keeper, NULL, keeper, l) != 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "leadership: cannot start the keeper thread");
        return -1;
    }
    l->keeper_started = 1;
    return 0;
}

void bbs_lead_free(struct bbs_lead *l)
{
    if (l == NULL) {
        return;
    }
    bbs_lead_stop(l);
    if (l->keeper_started) {
        pthread_join(l->keeper, NULL);
    }
    if (atomic_load(&l->leader)) {
        if (l->locket != NULL) {
            locket_release(l);
        } else {
            lease_release(l);
        }
        atomic_store(&l->leader, 0);
    }
    PQfinish(l->conn);
    for (int i = 0; i < 2; i++) {
        if (l->wake[i] >= 0) {
            close(l->wake[i]);
        }
    }
    free(l->conninfo);
    free(l->owner);
    free(l);
}
