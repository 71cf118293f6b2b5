/*
 * pool.c - the connection pool, the transaction helper with retries,
 * statement execution and binary result readers (store_int.h).
 *
 * A connection is prepared with every registered statement table
 * (BBS_STORE_STATEMENTS in store_int.h) when it is opened. A
 * connection that comes back broken, or not idle, is closed; the next
 * borrower opens a fresh one, so a database restart heals without
 * restarting the server. So is one whose server said it is going away or
 * only reads (bbs_store_map_error marks it): after a failover the fresh
 * connection lands on the new primary (libpq's multi-host connection
 * strings with target_session_attrs=read-write; docs/operations.md,
 * "Database failover").
 */
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-events.h>
#include <uuid/uuid.h>

#include "bbs/changelog.h"
#include "bbs/log.h"
#include "bbs/xalloc.h"
#include "store_int.h"

/* A change-log ticket held: until given back (until_ns 0) or a grace's end. */
struct ticket {
    uint64_t n;
    int64_t until_ns;
};

struct bbs_store {
    char *conninfo;
    int max_conns;
    int retries;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    PGconn **idle;
    int n_idle;
    int n_open;
    void (*on_commit)(void *ctx); /* after a COMMIT that wrote change-log entries */
    void *on_commit_ctx;
    uint64_t wait_count; /* under mu: borrowers that waited for a free connection */
    int64_t wait_ns;     /* under mu: how long they waited in all */
    /* encryption at rest (sealed.c); NULL = off. Atomic: set after leadership while a
     * standby's diagnostics may already read it (health listener thread). */
    const struct bbs_crypt *_Atomic crypt;
    atomic_ullong undecryptable;  /* values that did not open since start */
    atomic_llong fence_term;      /* leadership term every transaction checks; 0 = none */
    void (*on_fenced)(void *ctx); /* a transaction was fenced out (lead.h) */
    void *on_fenced_ctx;
    /* Change-log tickets (changelog.h), under tk_mu: the next number, and
     * the ones held. */
    pthread_mutex_t tk_mu;
    uint64_t tk_next;
    struct ticket *tk_held;
    size_t tk_n;
    size_t tk_cap;
    struct bbs_peek_queue peeks; /* heartbeat reads gathered (alrp_store.c) */
};

/*
 * Statement counters for the DB metrics (bbs_store_stats). Statements run
 * on a PGconn, which does not lead back to its pool, so these count for
 * the process (one pool per process; tests with several pools see the sum).
 */
static atomic_uint_fast64_t q_total;
static atomic_uint_fast64_t q_failed;
static atomic_int_fast64_t q_in_flight;
static atomic_int_fast64_t q_in_flight_max;
static atomic_int_fast64_t q_duration_max_ns;

static int64_t pool_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void atomic_raise(atomic_int_fast64_t *a, int64_t v)
{
    int_fast64_t cur = atomic_load(a);

    while (v > cur && !atomic_compare_exchange_weak(a, &cur, v)) {
    }
}

/* A statement starts: its start time. */
static int64_t q_begin(void)
{
    atomic_raise(&q_in_flight_max, atomic_fetch_add(&q_in_flight, 1) + 1);
    return pool_now_ns();
}

/* It ended (`ok` = its status was a success). */
static void q_end(int64_t t0, int ok)
{
    atomic_fetch_sub(&q_in_flight, 1);
    atomic_fetch_add(&q_total, 1);
    if (!ok) {
        atomic_fetch_add(&q_failed, 1);
    }
    atomic_raise(&q_duration_max_ns, pool_now_ns() - t0);
}

void bbs_store_stats(struct bbs_store *st, int reset, struct bbs_store_stats *out)
{
    pthread_mutex_lock(&st->mu);
    out->open_connections = st->n_open;
    out->wait_count = st->wait_count;
    out->wait_ns = st->wait_ns;
    pthread_mutex_unlock(&st->mu);
    out->queries_total = atomic_load(&q_total);
    out->queries_failed = atomic_load(&q_failed);
    out->queries_succeeded = out->queries_total - out->queries_failed;
    if (reset) {
        out->in_flight_max = atomic_exchange(&q_in_flight_max, atomic_load(&q_in_flight));
        out->query_duration_max_ns = atomic_exchange(&q_duration_max_ns, 0);
    } else {
        out->in_flight_max = atomic_load(&q_in_flight_max);
        out->query_duration_max_ns = atomic_load(&q_duration_max_ns);
    }
}

/*
 * Every connection carries its store, so the row readers and writers of
 * sealed columns (sealed.c) reach the key ring from the PGconn or the
 * PGresult they already hold: libpq's event procedure registered on the
 * connection with the store as pass-through data, copied onto each result
 * as it is created.
 */
static int store_event(PGEventId id, void *info, void *pass_through)
{
    if (id == PGEVT_RESULTCREATE) {
        PGEventResultCreate *rc = info;

        PQresultSetInstanceData(rc->result, store_event, pass_through);
    }
    if (id == PGEVT_RESULTCOPY) {
        /* Single-row mode (cursor.c) hands out each row as a copy. */
        PGEventResultCopy *rc = info;

        PQresultSetInstanceData(rc->dest, store_event, pass_through);
    }
    return 1;
}

struct bbs_store *bbs_store_of_conn(const PGconn *conn)
{
    return PQinstanceData(conn, store_event);
}

struct bbs_store *bbs_store_of_result(const PGresult *res)
{
    return PQresultInstanceData(res, store_event);
}

void bbs_store_set_crypt(struct bbs_store *st, const struct bbs_crypt *crypt)
{
    atomic_store(&st->crypt, crypt);
}

const struct bbs_crypt *bbs_store_crypt(const struct bbs_store *st)
{
    return st != NULL ? atomic_load(&st->crypt) : NULL;
}

uint64_t bbs_store_count_undecryptable(struct bbs_store *st)
{
    return st != NULL ? (uint64_t)atomic_fetch_add(&st->undecryptable, 1) + 1 : 0;
}

uint64_t bbs_store_undecryptable(struct bbs_store *st)
{
    return (uint64_t)atomic_load(&st->undecryptable);
}

static int prepare_all(PGconn *conn, const struct bbs_stmt *stmts, size_t n, struct bbs_error *err)
{
    for (size_t i = 0; i < n; i++) {
        PGresult *res = PQprepare(conn, stmts[i].name, stmts[i].sql, 0, NULL);

        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            bbs_error_setf(err, BBS_ERR_UNKNOWN, "preparing %s: %s", stmts[i].name,
                           PQresultErrorMessage(res));
            PQclear(res);
            return -1;
        }
        PQclear(res);
    }
    return 0;
}

/*
 * libpq hands notices, and an error the server sends while the connection
 * is idle (the "FATAL: terminating connection ..." of a shutdown or a
 * crashed backend), to its notice processor, whose default prints them on
 * stderr outside the JSON log. Ours logs each as one JSON line instead.
 */
static void conn_notice(void *arg, const char *message)
{
    size_t n = strlen(message);

    (void)arg;
    while (n > 0 && message[n - 1] == '\n') {
        n--;
    }
    bbs_log(BBS_LOG_INFO, "database.notice", "{s:s%}", "message", message, n);
}

const char *bbs_store_conninfo(const struct bbs_store *st)
{
    return st->conninfo;
}

/*
 * A connection whose server said it is going away (SQLSTATE class 08,
 * 57P01..57P03) or that it only reads (25006: a standby, or a primary
 * demoted under us) is of no more use to the pool, although libpq may
 * still call it CONNECTION_OK: bbs_store_map_error marks it through this
 * event procedure's instance data, and the pool closes it instead of
 * taking it back, so the next borrower connects again and libpq picks
 * the host that now takes writes (target_session_attrs=read-write).
 */
static int discard_event(PGEventId id, void *info, void *pass_through)
{
    (void)id;
    (void)info;
    (void)pass_through;
    return 1;
}

static const char DISCARD_MARK = 1;

/* The connection's pipe (instance data) while run() has one open: see pipe_send. */
static int pipe_event(PGEventId id, void *info, void *pass_through)
{
    (void)id;
    (void)info;
    (void)pass_through;
    return 1;
}

static int conn_discarded(const PGconn *conn)
{
    return PQinstanceData(conn, discard_event) != NULL;
}

/*
 * Defaults for what the connection string does not say (its own values
 * win: libpq lets later keywords override earlier ones, and the string is
 * expanded last). Without them a database host that vanishes without a
 * reset (a crashed machine, a partition) holds a request on a silent TCP
 * connection until the kernel gives up, which takes minutes: keepalives
 * notice a silent peer in about 5 + 3 * 2 = 11 s, and tcp_user_timeout
 * fails a write that the peer does not acknowledge within 10 s. Both are
 * ignored on Unix sockets.
 */
static const char *const CONN_KEYS[] = {"keepalives",
                                        "keepalives_idle",
                                        "keepalives_interval",
                                        "keepalives_count",
                                        "tcp_user_timeout",
                                        "dbname",
                                        NULL};

PGconn *bbs_store_conn_open(struct bbs_store *st, struct bbs_error *err)
{
    const char *const values[] = {"1", "5", "2", "3", "10000", st->conninfo, NULL};
    PGconn *conn = PQconnectdbParams(CONN_KEYS, values, 1);

    PQsetNoticeProcessor(conn, conn_notice, NULL); /* NULL conn: does nothing */
    if (PQstatus(conn) != CONNECTION_OK) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "database connection failed: %s",
                       PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    if (!PQregisterEventProc(conn, store_event, "bbs_store", st) ||
        !PQsetInstanceData(conn, store_event, st) ||
        !PQregisterEventProc(conn, discard_event, "bbs_discard", NULL) ||
        !PQregisterEventProc(conn, pipe_event, "bbs_pipe", NULL)) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "database connection: registering the store failed");
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* The bounds of the "bbs_stmts" section (see BBS_STORE_STATEMENTS). */
extern const struct bbs_stmt_table *const __start_bbs_stmts[];
extern const struct bbs_stmt_table *const __stop_bbs_stmts[];

const struct bbs_stmt_table *const *bbs_store_stmt_tables(size_t *n)
{
    *n = (size_t)(__stop_bbs_stmts - __start_bbs_stmts);
    return __start_bbs_stmts;
}

/* Statements exist only once migrations created the tables. */
static int conn_prepare(PGconn *conn, struct bbs_error *err)
{
    size_t n;
    const struct bbs_stmt_table *const *tables = bbs_store_stmt_tables(&n);

    for (size_t i = 0; i < n; i++) {
        if (prepare_all(conn, tables[i]->stmts, tables[i]->n, err) != 0) {
            return -1;
        }
    }
    return 0;
}

struct bbs_store *bbs_store_new(const char *conninfo, int max_conns, int retries,
                                struct bbs_error *err)
{
    struct bbs_store *st = bbs_xcalloc(1, sizeof(*st));
    PGconn *probe;

    st->conninfo = bbs_xstrdup(conninfo);
    st->max_conns = max_conns;
    st->retries = retries;
    st->idle = bbs_xcalloc((size_t)max_conns, sizeof(PGconn *));
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    pthread_mutex_init(&st->tk_mu, NULL);
    pthread_mutex_init(&st->peeks.mu, NULL);
    pthread_cond_init(&st->peeks.cv, NULL);
    probe = bbs_store_conn_open(st, err);
    if (probe == NULL) {
        bbs_store_free(st);
        return NULL;
    }
    PQfinish(probe); /* not prepared: migrations may not have run yet */
    return st;
}

void bbs_store_free(struct bbs_store *st)
{
    if (st == NULL) {
        return;
    }
    bbs_store_peeks_stop(st);
    for (int i = 0; i < st->n_idle; i++) {
        PQfinish(st->idle[i]);
    }
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->tk_mu);
    pthread_mutex_destroy(&st->peeks.mu);
    pthread_cond_destroy(&st->peeks.cv);
    free(st->tk_held);
    free(st->idle);
    free(st->conninfo);
    free(st);
}

/* Open and prepare a connection for a slot already counted in n_open;
 * NULL (the slot given back) if either fails. */
static PGconn *conn_new(struct bbs_store *st, struct bbs_error *err)
{
    PGconn *conn = bbs_store_conn_open(st, err);

    if (conn != NULL && conn_prepare(conn, err) != 0) {
        PQfinish(conn);
        conn = NULL;
    }
    if (conn == NULL) {
        pthread_mutex_lock(&st->mu);
        st->n_open--;
        pthread_cond_signal(&st->cv);
        pthread_mutex_unlock(&st->mu);
    }
    return conn;
}

/*
 * An idle connection may have died with its server (a restart). Nothing
 * to read (one poll, the usual case): usable. Otherwise read what is
 * pending without blocking, parse it (its goodbye, "FATAL: terminating
 * connection ...", goes to conn_notice: the first statement of a pipeline
 * would take it as its own error), read again for the end of the stream,
 * and drop it if the server said goodbye, rather than spending a retry on
 * it. Called without the pool's lock.
 */
static int idle_usable(PGconn *conn)
{
    struct pollfd p = {.fd = PQsocket(conn), .events = POLLIN};

    if (p.fd >= 0 && poll(&p, 1, 0) == 0) {
        return PQstatus(conn) == CONNECTION_OK;
    }
    return PQconsumeInput(conn) != 0 && !PQisBusy(conn) && PQconsumeInput(conn) != 0 &&
           PQstatus(conn) == CONNECTION_OK;
}

/* Borrow a prepared connection, opening one if the pool is not full. */
static PGconn *conn_get(struct bbs_store *st, struct bbs_error *err)
{
    PGconn *conn = NULL;

    pthread_mutex_lock(&st->mu);
    if (st->n_idle == 0 && st->n_open >= st->max_conns) {
        int64_t t0 = pool_now_ns();

        while (st->n_idle == 0 && st->n_open >= st->max_conns) {
            pthread_cond_wait(&st->cv, &st->mu);
        }
        st->wait_count++;
        st->wait_ns += pool_now_ns() - t0;
    }
    while (st->n_idle > 0) {
        conn = st->idle[--st->n_idle];
        pthread_mutex_unlock(&st->mu);
        if (idle_usable(conn)) {
            return conn;
        }
        PQfinish(conn);
        conn = NULL;
        pthread_mutex_lock(&st->mu);
        st->n_open--;
    }
    st->n_open++;
    pthread_mutex_unlock(&st->mu);
    return conn_new(st, err);
}

static void conn_put(struct bbs_store *st, PGconn *conn)
{
    int healthy;

    if (conn == NULL) {
        return;
    }
    healthy = PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE &&
              PQpipelineStatus(conn) == PQ_PIPELINE_OFF && !conn_discarded(conn);
    if (!healthy) {
        PQfinish(conn);
    }
    pthread_mutex_lock(&st->mu);
    if (healthy) {
        st->idle[st->n_idle++] = conn;
    } else {
        st->n_open--;
    }
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

void bbs_store_warm(struct bbs_store *st, int n)
{
    for (;;) {
        struct bbs_error err = {0};
        PGconn *conn;

        pthread_mutex_lock(&st->mu);
        if (st->n_idle >= n || st->n_open >= st->max_conns) {
            pthread_mutex_unlock(&st->mu);
            return;
        }
        st->n_open++;
        pthread_mutex_unlock(&st->mu);
        conn = conn_new(st, &err);
        if (conn == NULL) {
            return;
        }
        conn_put(st, conn);
    }
}

void bbs_store_set_fence(struct bbs_store *st, int64_t term, void (*on_fenced)(void *ctx),
                         void *ctx)
{
    st->on_fenced = on_fenced;
    st->on_fenced_ctx = ctx;
    atomic_store(&st->fence_term, term);
}

/*
 * A write transaction in two round trips. run() keeps the connection in
 * libpq's pipeline mode for the whole transaction: BEGIN and the fence
 * are sent, not waited for; a statement whose answer the body reads
 * (bbs_exec, bbs_exec_sql, bbs_exec_command with a count) goes out with
 * everything queued before it and a sync, and its answer is read with
 * theirs; a command whose count nobody reads (bbs_exec_command with NULL)
 * is only queued, its answer read at the next sync, at the latest with
 * COMMIT. A claim is then [BEGIN, fence, lock] and [update, change log,
 * COMMIT] where it was five round trips. The statements run in the order
 * sent, in the one transaction, so what commits is what committed before;
 * a queued command's error only surfaces at the next sync, where the
 * transaction fails with it as it would have (any error ends a
 * PostgreSQL transaction). A body whose answer depends on which command
 * failed reads each one back with bbs_store_sync (evac_store.c).
 */
#define PIPE_MAX 64 /* answers queued at most; the next statement syncs first */

/* Prepared like any other statement: parsed once per connection, not per
 * transaction (bbs_fence exists from migration 0006 on, before any pool
 * connection is prepared). */
static const struct bbs_stmt tx_stmts[] = {
    {"tx_begin", "BEGIN"},
    {"tx_begin_read", "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"},
    {"tx_fence", "SELECT bbs_fence($1::int8)"},
    {"tx_commit", "COMMIT"},
};
BBS_STORE_STATEMENTS(tx, tx_stmts);

struct pipe {
    int n;                /* statements sent whose answers are not read */
    int answered;         /* a sync of this transaction came back whole */
    int64_t t0[PIPE_MAX]; /* when each was sent (statement stats) */
};

static struct pipe *pipe_of(const PGconn *conn)
{
    return PQinstanceData(conn, pipe_event);
}

/* bbs_store_map_error, and a fenced-out transaction (SQLSTATE BB001, from
 * bbs_fence) told to the server through on_fenced. */
static void map_tx_error(PGconn *conn, const PGresult *res, struct bbs_error *err)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    struct bbs_store *st = bbs_store_of_conn(conn);

    bbs_store_map_error(conn, res, err);
    if (state != NULL && strcmp(state, BBS_FENCED_SQLSTATE) == 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "%s",
                       PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        bbs_log(BBS_LOG_ERROR, "fenced-out", "{s:s}", "error", err->message);
        if (st != NULL && st->on_fenced != NULL) {
            st->on_fenced(st->on_fenced_ctx);
        }
    }
}

static int pipe_sync(PGconn *conn, struct pipe *pp, PGresult **last, int *failed_at, int *by_server,
                     struct bbs_error *err);

/* Queue one statement: the prepared `name`, or `sql` when name is NULL. */
static int pipe_send(PGconn *conn, struct pipe *pp, const char *name, const char *sql,
                     const struct bbs_params *p, struct bbs_error *err)
{
    int n = p != NULL ? p->n : 0;
    const char *const *values = p != NULL ? p->values : NULL;
    const int *lengths = p != NULL ? p->lengths : NULL;
    const int *formats = p != NULL ? p->formats : NULL;
    int ok;

    if (pp->n == PIPE_MAX && pipe_sync(conn, pp, NULL, NULL, NULL, err) != 0) {
        return -1;
    }
    ok = name != NULL ? PQsendQueryPrepared(conn, name, n, values, lengths, formats, 1)
                      : PQsendQueryParams(conn, sql, n, NULL, values, lengths, formats, 1);
    if (!ok) {
        bbs_store_map_error(conn, NULL, err);
        return -1;
    }
    pp->t0[pp->n++] = q_begin();
    return 0;
}

/*
 * Sync, and read the answer of every statement queued. The first failure
 * goes into err: *failed_at (may be NULL) is its index (-1: none), and
 * *by_server whether PostgreSQL itself answered it with an error (then
 * nothing after it ran), rather than the connection failing before an
 * answer came. `last` (may be NULL): the last statement's result, for
 * the caller to PQclear, when all succeeded. 0 when all did.
 */
static int pipe_sync(PGconn *conn, struct pipe *pp, PGresult **last, int *failed_at, int *by_server,
                     struct bbs_error *err)
{
    int n = pp->n;
    int bad = -1;
    int server = 0;
    int lost = !PQpipelineSync(conn);

    pp->n = 0;
    if (last != NULL) {
        *last = NULL;
    }
    for (int i = 0; i < n; i++) {
        PGresult *res = lost ? NULL : PQgetResult(conn);
        ExecStatusType s = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        int ok = s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK;

        q_end(pp->t0[i], ok);
        if (!ok && bad < 0) {
            bad = i;
            server = res != NULL && PQresultErrorField(res, PG_DIAG_SQLSTATE) != NULL;
            map_tx_error(conn, res, err);
        }
        if (res == NULL || PQstatus(conn) != CONNECTION_OK) {
            lost = 1;
        }
        if (ok && last != NULL && i == n - 1) {
            *last = res;
        } else {
            PQclear(res);
        }
        /* Each statement's answer ends with a NULL. */
        while (!lost && (res = PQgetResult(conn)) != NULL) {
            PQclear(res);
        }
    }
    if (!lost) {
        PGresult *res = PQgetResult(conn);

        if (PQresultStatus(res) != PGRES_PIPELINE_SYNC && bad < 0) {
            bad = n;
            bbs_store_map_error(conn, res, err);
        }
        PQclear(res);
    }
    if (bad >= 0 && last != NULL) {
        PQclear(*last);
        *last = NULL;
    }
    if (failed_at != NULL) {
        *failed_at = bad;
    }
    if (by_server != NULL) {
        *by_server = server;
    }
    if (bad < 0) {
        pp->answered = 1;
    }
    return bad < 0 ? 0 : -1;
}

/*
 * Open the transaction: BEGIN, and for a write with a term set the fence
 * (migration 0006: bbs_fence), queued. A deposed leader's transaction
 * fails at the fence (SQLSTATE BB001) and never commits.
 */
static int pipe_begin(struct bbs_store *st, PGconn *conn, struct pipe *pp, int read_only,
                      struct bbs_error *err)
{
    int64_t term = atomic_load(&st->fence_term);
    struct bbs_params p = {0};

    pp->n = 0;
    pp->answered = 0;
    if (!PQenterPipelineMode(conn) || !PQsetInstanceData(conn, pipe_event, pp)) {
        bbs_store_map_error(conn, NULL, err);
        return -1;
    }
    if (pipe_send(conn, pp, read_only ? "tx_begin_read" : "tx_begin", NULL, NULL, err) != 0) {
        return -1;
    }
    if (read_only || term == 0) {
        return 0; /* a snapshot that writes nothing needs no fence */
    }
    bbs_params_int8(&p, term);
    return pipe_send(conn, pp, "tx_fence", NULL, &p, err);
}

/* Out of pipeline mode; answers still pending are read and dropped. */
static void pipe_end(PGconn *conn, struct pipe *pp)
{
    if (pp->n > 0) {
        struct bbs_error dropped = {0};

        (void)pipe_sync(conn, pp, NULL, NULL, NULL, &dropped);
    }
    PQsetInstanceData(conn, pipe_event, NULL);
    if (PQpipelineStatus(conn) != PQ_PIPELINE_OFF && !PQexitPipelineMode(conn)) {
        /* Something still pending: of no more use to the pool. */
        PQsetInstanceData(conn, discard_event, (void *)&DISCARD_MARK);
    }
}

/* Worth running the whole transaction again? */
static int retryable(PGconn *conn, const struct bbs_error *err, int sqlstate_retry)
{
    return sqlstate_retry || conn == NULL || PQstatus(conn) != CONNECTION_OK ||
           conn_discarded(conn) || err->type == BBS_ERR_DEADLOCK;
}

/*
 * COMMIT sent and the connection lost (or its server going away) before
 * the answer: the transaction may have committed, on this server and, with
 * synchronous replication, on the standby about to be promoted. Running it
 * again could apply the change twice, so the caller gets an error that
 * says so, and the client's answer is an error (as for any request whose
 * outcome is unknown).
 */
static int commit_unknown(PGconn *conn)
{
    return PQstatus(conn) != CONNECTION_OK || conn_discarded(conn);
}

/*
 * COMMIT the pipelined transaction: 0 committed; -1 not committed (`err`;
 * run() retries as for any failure); 1 the outcome is unknown (`err` says
 * so), decided from what PostgreSQL answered: its error before COMMIT
 * (nothing after it ran), or COMMIT's own error on a connection still fit,
 * is "not committed"; no answer, or the connection going away with
 * COMMIT's answer, is "unknown"; past COMMIT's "OK" only the sync failed:
 * committed. A read-only transaction is never "unknown".
 */
static int pipe_commit(PGconn *conn, struct pipe *pp, int read_only, struct bbs_error *err)
{
    int failed_at;
    int by_server;
    int commit;
    char why[sizeof(err->message)];

    /* A body that only queued (a desire: one INSERT) has not heard from
     * the server yet: hear it before COMMIT leaves, so a pooled connection
     * that died unseen fails here, surely uncommitted, and is retried. */
    if (!pp->answered && bbs_store_sync(conn, err) != 0) {
        return -1;
    }
    if (pipe_send(conn, pp, "tx_commit", NULL, NULL, err) != 0) {
        return -1; /* COMMIT never left */
    }
    commit = pp->n - 1;
    if (pipe_sync(conn, pp, NULL, &failed_at, &by_server, err) == 0 || failed_at > commit) {
        return 0;
    }
    if (read_only || (by_server && (failed_at < commit || !commit_unknown(conn)))) {
        return -1;
    }
    snprintf(why, sizeof(why), "%s", err->message);
    bbs_error_setf(err, BBS_ERR_UNKNOWN, "outcome unknown, the change may have been committed: %s",
                   why);
    return 1;
}

/* ---- change-log tickets (changelog.h) ---- */

/* Taken before a transaction queues its change-log insert. */
uint64_t bbs_store_ticket_take(struct bbs_store *st)
{
    uint64_t n;

    pthread_mutex_lock(&st->tk_mu);
    n = st->tk_next++;
    if (st->tk_n == st->tk_cap) {
        st->tk_cap = st->tk_cap > 0 ? 2 * st->tk_cap : 16;
        st->tk_held = bbs_xrealloc(st->tk_held, st->tk_cap * sizeof(*st->tk_held));
    }
    st->tk_held[st->tk_n].n = n;
    st->tk_held[st->tk_n].until_ns = 0;
    st->tk_n++;
    pthread_mutex_unlock(&st->tk_mu);
    return n;
}

/* The outcome is known (committed, or surely not): given back now. The
 * outcome is unknown: kept until `grace_ns` from now. */
void bbs_store_ticket_give_back(struct bbs_store *st, uint64_t n, int64_t grace_ns)
{
    pthread_mutex_lock(&st->tk_mu);
    for (size_t i = 0; i < st->tk_n; i++) {
        if (st->tk_held[i].n != n) {
            continue;
        }
        if (grace_ns > 0) {
            st->tk_held[i].until_ns = pool_now_ns() + grace_ns;
        } else {
            st->tk_held[i] = st->tk_held[--st->tk_n];
        }
        break;
    }
    pthread_mutex_unlock(&st->tk_mu);
}

uint64_t bbs_store_ticket_next(struct bbs_store *st)
{
    uint64_t n;

    pthread_mutex_lock(&st->tk_mu);
    n = st->tk_next;
    pthread_mutex_unlock(&st->tk_mu);
    return n;
}

uint64_t bbs_store_ticket_oldest(struct bbs_store *st)
{
    int64_t now = pool_now_ns();
    uint64_t oldest;

    pthread_mutex_lock(&st->tk_mu);
    oldest = st->tk_next;
    for (size_t i = 0; i < st->tk_n;) {
        if (st->tk_held[i].until_ns != 0 && st->tk_held[i].until_ns <= now) {
            st->tk_held[i] = st->tk_held[--st->tk_n]; /* its grace is over */
            continue;
        }
        if (st->tk_held[i].n < oldest) {
            oldest = st->tk_held[i].n;
        }
        i++;
    }
    pthread_mutex_unlock(&st->tk_mu);
    return oldest;
}

static void backoff(int attempt)
{
    struct timespec ts = {0, (long)(20 + 40 * attempt) * 1000000L};

    nanosleep(&ts, NULL);
}

/*
 * `change` (may be NULL): after the body succeeded and before COMMIT, its
 * events since `mark` go into the change log, in the same transaction.
 */
static int run(struct bbs_store *st, bbs_tx_fn fn, void *ctx, int in_tx, struct bbs_change *change,
               const struct bbs_change_mark *mark, struct bbs_error *err)
{
    int rc = -1;

    for (int attempt = 0; attempt < st->retries; attempt++) {
        PGconn *conn = conn_get(st, err);
        struct pipe pp = {0};
        int logged = 0; /* the change log's insert was queued, under ticket `tk` */
        uint64_t tk = 0;

        if (conn == NULL) {
            rc = -1;
            backoff(attempt);
            continue;
        }
        rc = -1;
        if (in_tx && pipe_begin(st, conn, &pp, in_tx == 2, err) != 0) {
            goto next;
        }
        if (fn(conn, ctx, err) != 0) {
            goto next;
        }
        if (change != NULL && bbs_changelog_write(conn, change, mark, &logged, &tk, err) != 0) {
            goto next;
        }
        if (in_tx) {
            int outcome = pipe_commit(conn, &pp, in_tx == 2, err);

            if (outcome > 0) { /* unknown: never run again */
                if (logged) {  /* a COMMIT that did arrive has time to show */
                    bbs_store_ticket_give_back(st, tk, BBS_TICKET_GRACE_NS);
                }
                pipe_end(conn, &pp);
                conn_put(st, conn);
                return -1;
            }
            if (outcome < 0) {
                goto next;
            }
        }
        rc = 0;
    next:
        if (logged) {
            /* Committed and visible, or never to be: its ids may be passed.
             * The hook wakes the hub either way (a failed change only lets
             * a mark settle). A connection that broke on the way may have
             * delivered COMMIT after all: the grace, as when unknown. */
            int broken = PQstatus(conn) != CONNECTION_OK || conn_discarded(conn);

            bbs_store_ticket_give_back(st, tk, rc != 0 && broken ? BBS_TICKET_GRACE_NS : 0);
            if (st->on_commit != NULL) {
                st->on_commit(st->on_commit_ctx);
            }
        }
        if (in_tx) {
            pipe_end(conn, &pp);
        }
        if (rc != 0 && in_tx && PQstatus(conn) == CONNECTION_OK &&
            PQtransactionStatus(conn) != PQTRANS_IDLE) {
            PGresult *res = PQexec(conn, "ROLLBACK");

            PQclear(res);
        }
        if (rc == 0 || !retryable(conn, err, 0) || attempt + 1 == st->retries) {
            conn_put(st, conn);
            return rc;
        }
        conn_put(st, conn);
        /* A retry is this loop's own news; the final error is returned,
         * never logged here (the caller logs or answers it). */
        bbs_log(BBS_LOG_INFO, "store.retrying", "{s:i, s:s}", "attempt", attempt + 1, "error",
                err->message);
        backoff(attempt);
    }
    return rc;
}

void bbs_store_on_commit(struct bbs_store *st, void (*fn)(void *ctx), void *ctx)
{
    st->on_commit = fn;
    st->on_commit_ctx = ctx;
}

int bbs_store_tx(struct bbs_store *st, bbs_tx_fn fn, void *ctx, struct bbs_error *err)
{
    return run(st, fn, ctx, 1, NULL, NULL, err);
}

int bbs_store_tx_read(struct bbs_store *st, bbs_tx_fn fn, void *ctx, struct bbs_error *err)
{
    return run(st, fn, ctx, 2, NULL, NULL, err);
}

int bbs_store_run(struct bbs_store *st, bbs_tx_fn fn, void *ctx, struct bbs_error *err)
{
    return run(st, fn, ctx, 0, NULL, NULL, err);
}

int bbs_store_run_idle(struct bbs_store *st, bbs_tx_fn fn, void *ctx, struct bbs_error *err)
{
    PGconn *conn = NULL;
    int rc;

    pthread_mutex_lock(&st->mu);
    if (st->n_idle > 0) {
        conn = st->idle[--st->n_idle];
    }
    pthread_mutex_unlock(&st->mu);
    if (conn == NULL) {
        return 1;
    }
    if (!idle_usable(conn)) {
        PQfinish(conn);
        pthread_mutex_lock(&st->mu);
        st->n_open--;
        pthread_cond_signal(&st->cv); /* a slot for a waiter */
        pthread_mutex_unlock(&st->mu);
        return 1;
    }
    rc = fn(conn, ctx, err) != 0 ? -1 : 0;
    conn_put(st, conn);
    return rc;
}

struct bbs_peek_queue *bbs_store_peeks(struct bbs_store *st)
{
    return &st->peeks;
}

void bbs_store_peek_stats(struct bbs_store *st, uint64_t *reads, uint64_t *items, size_t *waiting)
{
    pthread_mutex_lock(&st->peeks.mu);
    *reads = st->peeks.reads;
    *items = st->peeks.items;
    *waiting = st->peeks.waiting;
    pthread_mutex_unlock(&st->peeks.mu);
}

uint64_t bbs_store_peek_known(struct bbs_store *st)
{
    uint64_t known;

    pthread_mutex_lock(&st->peeks.mu);
    known = st->peeks.known;
    pthread_mutex_unlock(&st->peeks.mu);
    return known;
}

int bbs_store_tx_change(struct bbs_store *st, bbs_tx_fn fn, void *ctx, struct bbs_change *change,
                        const struct bbs_change_mark *mark, struct bbs_error *err)
{
    int rc = run(st, fn, ctx, 1, change, mark, err);

    if (rc != 0) {
        bbs_change_rewind(change, mark);
    } else {
        change->committed = 1;
    }
    return rc;
}

int bbs_store_run_change(struct bbs_store *st, bbs_tx_fn fn, void *ctx, struct bbs_change *change,
                         const struct bbs_change_mark *mark, struct bbs_error *err)
{
    /* In a transaction after all: the change's events are logged with it. */
    int rc = run(st, fn, ctx, 1, change, mark, err);

    if (rc != 0) {
        bbs_change_rewind(change, mark);
    } else {
        change->committed = 1;
    }
    return rc;
}

void bbs_store_map_error(PGconn *conn, const PGresult *res, struct bbs_error *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    if (conn != NULL && state != NULL &&
        (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
         strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0 ||
         strcmp(state, "25006") == 0)) {
        /* Not for this pool any more (discard_event); no-op on a
         * connection the pool did not open. */
        PQsetInstanceData(conn, discard_event, (void *)&DISCARD_MARK);
    }
    if (conn != NULL && PQstatus(conn) != CONNECTION_OK) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "database connection lost: %s", PQerrorMessage(conn));
        return;
    }
    if (state == NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "database error: %s",
                       res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
        return;
    }
    if (strcmp(state, "23505") == 0) {
        bbs_error_set(err, BBS_ERR_RESOURCE_EXISTS);
    } else if (strcmp(state, "22001") == 0) {
        bbs_error_set(err, BBS_ERR_INVALID_REQUEST);
    } else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) {
        bbs_error_set(err, BBS_ERR_DEADLOCK);
    } else if (strcmp(state, "42P01") == 0) {
        bbs_error_setf(err, BBS_ERR_UNRECOVERABLE, "Unrecoverable Error: %s",
                       PQresultErrorMessage(res));
    } else if (strcmp(state, "25006") == 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN,
                       "database is read-only (a standby, or a primary demoted by a failover): %s",
                       PQresultErrorMessage(res));
    } else if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "database connection lost: %s",
                       PQresultErrorMessage(res));
    } else {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "sql-unknown, error code: %s, flavor: postgres",
                       state);
    }
}

static PGresult *checked(PGconn *conn, PGresult *res, int64_t t0, struct bbs_error *err)
{
    ExecStatusType s = PQresultStatus(res);

    q_end(t0, s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK);
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
        bbs_store_map_error(conn, res, err);
        PQclear(res);
        return NULL;
    }
    return res;
}

/* A statement in run()'s pipeline: sent with what is queued, its answer read with theirs. */
static PGresult *pipe_exec(PGconn *conn, struct pipe *pp, const char *name, const char *sql,
                           const struct bbs_params *p, struct bbs_error *err)
{
    PGresult *res;

    if (pipe_send(conn, pp, name, sql, p, err) != 0 ||
        pipe_sync(conn, pp, &res, NULL, NULL, err) != 0) {
        return NULL;
    }
    return res;
}

int bbs_store_sync(PGconn *conn, struct bbs_error *err)
{
    struct pipe *pp = pipe_of(conn);

    return pp != NULL && pp->n > 0 ? pipe_sync(conn, pp, NULL, NULL, NULL, err) : 0;
}

PGresult *bbs_exec(PGconn *conn, const char *name, const struct bbs_params *p,
                   struct bbs_error *err)
{
    struct pipe *pp = pipe_of(conn);
    int64_t t0;

    if (pp != NULL) {
        return pipe_exec(conn, pp, name, NULL, p, err);
    }
    t0 = q_begin();
    return checked(conn,
                   PQexecPrepared(conn, name, p ? p->n : 0, p ? p->values : NULL,
                                  p ? p->lengths : NULL, p ? p->formats : NULL, 1),
                   t0, err);
}

PGresult *bbs_exec_sql(PGconn *conn, const char *sql, const struct bbs_params *p,
                       struct bbs_error *err)
{
    struct pipe *pp = pipe_of(conn);
    int64_t t0;

    if (pp != NULL) {
        return pipe_exec(conn, pp, NULL, sql, p, err);
    }
    t0 = q_begin();
    return checked(conn,
                   PQexecParams(conn, sql, p ? p->n : 0, NULL, p ? p->values : NULL,
                                p ? p->lengths : NULL, p ? p->formats : NULL, 1),
                   t0, err);
}

int bbs_exec_command(PGconn *conn, const char *name, const struct bbs_params *p, int *affected,
                     struct bbs_error *err)
{
    struct pipe *pp = pipe_of(conn);
    PGresult *res;

    if (pp != NULL && affected == NULL) {
        return pipe_send(conn, pp, name, NULL, p, err); /* answer read at the next sync */
    }
    res = bbs_exec(conn, name, p, err);
    if (res == NULL) {
        return -1;
    }
    if (affected != NULL) {
        *affected = atoi(PQcmdTuples(res));
    }
    PQclear(res);
    return 0;
}

/* ---- binary results ---- */

/* Network order for 64-bit values (htobe64 is not POSIX); its own inverse. */
static uint64_t swap64(uint64_t v)
{
    return ((uint64_t)htonl((uint32_t)v) << 32) | htonl((uint32_t)(v >> 32));
}

int32_t bbs_get_int4(const PGresult *r, int row, int col)
{
    uint32_t v;

    if (PQgetisnull(r, row, col)) {
        return 0;
    }
    memcpy(&v, PQgetvalue(r, row, col), 4);
    return (int32_t)ntohl(v);
}

int64_t bbs_get_int8(const PGresult *r, int row, int col)
{
    uint64_t v;

    if (PQgetisnull(r, row, col)) {
        return 0;
    }
    memcpy(&v, PQgetvalue(r, row, col), 8);
    return (int64_t)swap64(v);
}

int bbs_get_bool(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] != 0;
}

const char *bbs_get_text(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
}

struct bbs_blob bbs_get_blob(const PGresult *r, int row, int col)
{
    struct bbs_blob b = {NULL, 0, 0};

    if (!PQgetisnull(r, row, col)) {
        b.data = (const uint8_t *)PQgetvalue(r, row, col);
        b.len = (size_t)PQgetlength(r, row, col);
        b.present = 1;
    }
    return b;
}

void bbs_new_epoch(char *out)
{
    uuid_t u;

    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
}

void *bbs_result_alloc(void *res, size_t n)
{
    return PQresultAlloc(res, n);
}

void bbs_row_of(const PGresult *res, int i, struct bbs_row *out)
{
    int n = PQnfields(res);

    if (n > BBS_ROW_MAX_COLS) {
        bbs_log_fatal("store.row-too-wide", "{s:i}", "columns", n);
    }
    out->n = n;
    for (int c = 0; c < n; c++) {
        out->v[c] = PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c);
        out->len[c] = PQgetlength(res, i, c);
    }
    out->st = bbs_store_of_result(res);
    out->alloc = bbs_result_alloc;
    out->alloc_ctx = (void *)res;
}

int bbs_alrp_from_row(const struct bbs_row *r, struct bbs_alrp *a)
{
    const char *state = bbs_row_text(r, 4);
    int s = bbs_alrp_state_parse(state, strlen(state));

    /* The key first: it names an unreadable row in the caller's report. */
    a->key.process_guid = bbs_row_text(r, 0);
    a->key.index = bbs_row_int4(r, 1);
    a->presence = (enum bbs_presence)bbs_row_int4(r, 2);
    a->key.domain = bbs_row_text(r, 3);
    if (s < 0) {
        return -1;
    }
    a->state = (enum bbs_alrp_state)s;
    a->instance.instance_guid = bbs_row_text(r, 5);
    a->instance.cell_id = bbs_row_text(r, 6);
    a->since_ns = bbs_row_int8(r, 7);
    a->crash_count = bbs_row_int4(r, 8);
    a->crash_reason = bbs_row_text(r, 9);
    a->placement_error = bbs_row_text(r, 10);
    /* Sealed columns (sealed.c): a value that does not open makes the row unreadable. */
    if (bbs_row_sealed(r, 11, BBS_SEALED_NET_INFO, &a->net_info) != 0 ||
        bbs_row_sealed(r, 12, BBS_SEALED_ALRP_INTERNAL_ROUTES, &a->internal_routes) != 0 ||
        bbs_row_sealed(r, 13, BBS_SEALED_ALRP_METRIC_TAGS, &a->metric_tags) != 0) {
        return BBS_ALRP_ROW_UNDECRYPTABLE;
    }
    a->net_info.present = 1;
    a->routable = bbs_row_bool(r, 14);
    a->availability_zone = bbs_row_text(r, 15);
    a->mod_epoch = bbs_row_text(r, 16);
    a->mod_index = (uint32_t)bbs_row_int4(r, 17);
    return 0;
}

int bbs_alrp_from_result(const PGresult *res, int i, struct bbs_alrp *out)
{
    struct bbs_row r;

    bbs_row_of(res, i, &r);
    return bbs_alrp_from_row(&r, out);
}

/* ---- for cursor.c: a connection held across calls ---- */

PGconn *bbs_store_borrow(struct bbs_store *st, struct bbs_error *err)
{
    return conn_get(st, err);
}

void bbs_store_give_back(struct bbs_store *st, PGconn *conn)
{
    conn_put(st, conn);
}

int bbs_store_retries(const struct bbs_store *st)
{
    return st->retries;
}

int64_t bbs_store_q_begin(void)
{
    return q_begin();
}

void bbs_store_q_end(int64_t t0, int ok)
{
    q_end(t0, ok);
}
