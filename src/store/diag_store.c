/*
 * diag_store.c - what GET /v1/diagnostics and GET /v1/stats ask of the
 * database (store.h, "Diagnostics"): is it reachable and writable now, are
 * the migrations current, how many rows of each state, does each
 * encryption key seal and open.
 *
 * Every check opens its own connection rather than borrowing the pool's:
 * the question is "can the server reach the database now", which a pooled
 * connection opened an hour ago does not answer, and a diagnostics request
 * must never wait behind the pool or be retried by it. The whole exchange
 * runs on libpq's non-blocking calls against one deadline, so a database
 * that stopped answering (not only one that refuses connections) costs the
 * caller at most the timeout.
 *
 * The write probe inserts a domain row in a transaction that is always
 * rolled back: it needs a primary that accepts writes (a hot standby or a
 * full disk fails it), takes no lock any request path waits for (the row
 * key is ours alone), and leaves nothing behind.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bbs/crypt.h"
#include "bbs/xalloc.h"
#include "store_int.h"

/* The probe row's key: no real domain is named so (domains are at most 255 chars of the
 * client's choosing; this one is reserved by being rolled back every time). */
#define PROBE_DOMAIN "bbs-diagnostics-write-probe"

static int64_t probe_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Wait until `conn`'s socket is readable (`out` 0) or writable (`out` 1), or the deadline. */
static int probe_wait(PGconn *conn, int out, int64_t deadline, char *reason, size_t len)
{
    struct pollfd p = {.fd = PQsocket(conn), .events = out ? POLLOUT : POLLIN};
    int64_t left = deadline - probe_now_ns();
    int rc;

    if (p.fd < 0) {
        snprintf(reason, len, "no socket: %s", PQerrorMessage(conn));
        return -1;
    }
    if (left <= 0) {
        snprintf(reason, len, "no answer within the timeout");
        return -1;
    }
    do {
        rc = poll(&p, 1, (int)((left + 999999) / 1000000));
    } while (rc < 0 && errno == EINTR);
    if (rc <= 0) {
        snprintf(reason, len, "no answer within the timeout");
        return -1;
    }
    return 0;
}

/* Strip libpq's trailing newline from a message copied into `reason`. */
static void probe_reason(char *reason, size_t len, const char *prefix, const char *msg)
{
    size_t n;

    snprintf(reason, len, "%s%s", prefix, msg);
    n = strlen(reason);
    while (n > 0 && (reason[n - 1] == '\n' || reason[n - 1] == ' ')) {
        reason[--n] = '\0';
    }
}

static PGconn *probe_connect(struct bbs_store *st, int64_t deadline, char *reason, size_t len)
{
    PGconn *conn = PQconnectStart(bbs_store_conninfo(st));
    PostgresPollingStatusType s = PGRES_POLLING_WRITING;

    if (conn == NULL) {
        bbs_out_of_memory(0);
    }
    if (PQstatus(conn) == CONNECTION_BAD) {
        probe_reason(reason, len, "cannot connect: ", PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    while (s != PGRES_POLLING_OK) {
        if (s == PGRES_POLLING_FAILED) {
            probe_reason(reason, len, "cannot connect: ", PQerrorMessage(conn));
            PQfinish(conn);
            return NULL;
        }
        if (probe_wait(conn, s == PGRES_POLLING_WRITING, deadline, reason, len) != 0) {
            PQfinish(conn);
            return NULL;
        }
        s = PQconnectPoll(conn);
    }
    if (PQsetnonblocking(conn, 1) != 0) {
        probe_reason(reason, len, "cannot connect: ", PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/*
 * Run `sql` (one or more statements) before the deadline. Returns the last
 * result (the caller clears it) when every statement succeeded; NULL with
 * `reason` otherwise.
 */
static PGresult *probe_exec(PGconn *conn, const char *sql, int64_t deadline, char *reason,
                            size_t len)
{
    PGresult *last = NULL;
    PGresult *r;
    int flushed;

    if (!PQsendQuery(conn, sql)) {
        probe_reason(reason, len, "", PQerrorMessage(conn));
        return NULL;
    }
    while ((flushed = PQflush(conn)) == 1) {
        if (probe_wait(conn, 1, deadline, reason, len) != 0) {
            return NULL;
        }
    }
    if (flushed < 0) {
        probe_reason(reason, len, "", PQerrorMessage(conn));
        return NULL;
    }
    for (;;) {
        while (PQisBusy(conn)) {
            if (probe_wait(conn, 0, deadline, reason, len) != 0 || !PQconsumeInput(conn)) {
                if (reason[0] == '\0') {
                    probe_reason(reason, len, "", PQerrorMessage(conn));
                }
                PQclear(last);
                return NULL;
            }
        }
        r = PQgetResult(conn);
        if (r == NULL) {
            break;
        }
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
            if (reason[0] == '\0') {
                probe_reason(reason, len, "", PQresultErrorMessage(r));
            }
            PQclear(r);
            PQclear(last);
            last = NULL;
            continue; /* drain the rest of the results */
        }
        if (reason[0] != '\0') {
            PQclear(r);
            continue;
        }
        PQclear(last);
        last = r;
    }
    return last;
}

void bbs_store_probe(struct bbs_store *st, const char *migrations_dir, int64_t timeout_ns,
                     struct bbs_store_probe *out)
{
    int64_t deadline = probe_now_ns() + timeout_ns;
    PGconn *conn = NULL;
    PGresult *r = NULL;
    struct bbs_error err = {0};
    char why[256] = "";

    memset(out, 0, sizeof(*out));
    out->schema_version = -1;
    out->files_version = -1;
    if (bbs_store_migrations_newest(migrations_dir, &out->files_version, &err) != 0) {
        snprintf(out->migrations_reason, sizeof(out->migrations_reason), "%.200s", err.message);
    }
    conn = probe_connect(st, deadline, out->db_reason, sizeof(out->db_reason));
    if (conn == NULL) {
        goto out;
    }
    out->reachable = 1;
    r = probe_exec(conn,
                   "BEGIN; SET LOCAL statement_timeout = '5s';"
                   " INSERT INTO domains (domain, expire_time) VALUES ('" PROBE_DOMAIN "', 0)"
                   " ON CONFLICT (domain) DO UPDATE SET expire_time = 0;"
                   " ROLLBACK",
                   deadline, out->db_reason, sizeof(out->db_reason));
    if (r == NULL) {
        goto out;
    }
    PQclear(r);
    out->writable = 1;
    r = probe_exec(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations", deadline, why,
                   sizeof(why));
    if (r != NULL && PQntuples(r) == 1) {
        out->schema_version = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    } else if (out->migrations_reason[0] == '\0') {
        snprintf(out->migrations_reason, sizeof(out->migrations_reason), "%s", why);
    }
out:
    PQclear(r);
    PQfinish(conn);
}

/* `state` column value -> index for the counts below, or -1. */
static int alrp_state_index(const char *s)
{
    int st = bbs_alrp_state_parse(s, strlen(s));

    return st >= 0 && st < BBS_STORE_ALRP_STATES ? st : -1;
}

int bbs_store_counts(struct bbs_store *st, int64_t timeout_ns, struct bbs_store_counts *out,
                     struct bbs_error *err)
{
    int64_t deadline = probe_now_ns() + timeout_ns;
    char reason[256] = "";
    PGconn *conn = NULL;
    PGresult *r = NULL;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    conn = probe_connect(st, deadline, reason, sizeof(reason));
    if (conn == NULL) {
        goto out;
    }
    /* One statement, one snapshot: the counts agree with each other. */
    r = probe_exec(conn,
                   "SELECT 'd', 0, count(*) FROM desired_lrps"
                   " UNION ALL SELECT 'm', 0, count(*) FROM domains"
                   " UNION ALL SELECT 'a', presence, count(*) FROM actual_lrps GROUP BY presence"
                   " UNION ALL SELECT 's:' || state, presence, count(*) FROM actual_lrps"
                   "   WHERE presence = 0 GROUP BY state, presence"
                   " UNION ALL SELECT 't', coalesce(state, 0), count(*) FROM tasks GROUP BY state",
                   deadline, reason, sizeof(reason));
    if (r == NULL) {
        goto out;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *kind = PQgetvalue(r, i, 0);
        long sub = strtol(PQgetvalue(r, i, 1), NULL, 10);
        int64_t n = strtoll(PQgetvalue(r, i, 2), NULL, 10);

        if (strcmp(kind, "d") == 0) {
            out->desired_lrps = n;
        } else if (strcmp(kind, "m") == 0) {
            out->domains = n;
        } else if (strcmp(kind, "a") == 0) {
            if (sub == BBS_PRESENCE_EVACUATING) {
                out->evacuating_lrps = n;
            } else if (sub == BBS_PRESENCE_SUSPECT) {
                out->suspect_lrps = n;
            }
        } else if (strncmp(kind, "s:", 2) == 0) {
            int idx = alrp_state_index(kind + 2);

            if (idx >= 0) {
                out->actual_lrps[idx] = n;
            }
        } else if (strcmp(kind, "t") == 0 && sub >= 0 && sub < BBS_STORE_TASK_STATES) {
            out->tasks[sub] = n;
        }
    }
    rc = 0;
out:
    if (rc != 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "%s", reason);
    }
    PQclear(r);
    PQfinish(conn);
    return rc;
}

int bbs_store_probe_key(struct bbs_store *st, const char *label, const char *passphrase,
                        char *reason, size_t len)
{
    struct bbs_crypt_key_cfg key = {.label = label, .passphrase = passphrase};
    const struct bbs_crypt *ring = bbs_store_crypt(st);
    struct bbs_crypt *one = NULL;
    struct bbs_buf sealed = {0};
    struct bbs_buf opened = {0};
    struct bbs_error err = {0};
    char seen[128] = "";
    static const char probe[] = "bbs diagnostics probe";
    int rc = -1;

    one = bbs_crypt_new(&key, 1, label, &err);
    if (one == NULL) {
        snprintf(reason, len, "%.200s", err.message);
        goto out;
    }
    if (bbs_crypt_seal(one, (const uint8_t *)probe, sizeof(probe) - 1, &sealed, &err) != 0) {
        snprintf(reason, len, "seal failed: %.200s", err.message);
        goto out;
    }
    /* Opened by the ring the server reads with: the label finds this passphrase's key. */
    if (ring == NULL || bbs_crypt_open(ring, sealed.data, sealed.len, &opened, seen, &err) != 0) {
        snprintf(reason, len, "the server's key ring does not open a value sealed with \"%s\"%s%s",
                 label, ring == NULL ? "" : ": ", ring == NULL ? "" : err.message);
        goto out;
    }
    if (opened.len != sizeof(probe) - 1 || memcmp(opened.data, probe, opened.len) != 0) {
        snprintf(reason, len, "the probe opened to different bytes");
        goto out;
    }
    snprintf(reason, len, "sealed and opened a probe%s",
             strcmp(bbs_crypt_active_label(ring), label) == 0 ? " (active key)" : "");
    rc = 0;
out:
    bbs_buf_free(&sealed);
    bbs_buf_free(&opened);
    bbs_crypt_free(one);
    return rc;
}
