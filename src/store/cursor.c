/*
 * cursor.c - reads that hand out their rows as they arrive (store.h,
 * bbs_store_cursor_*): libpq's single-row mode on a connection held until
 * the cursor is closed, so a list of any size is never whole in memory.
 *
 * The statement runs outside a transaction block: one SELECT sees one
 * snapshot. The first row is awaited when the cursor opens, so errors of
 * the statement itself (and a dead connection, retried) show before the
 * caller has answered anything; a failure after that is reported by
 * bbs_cursor_row() and is the caller's to handle (the HTTP layer aborts
 * the connection). Closing a cursor before its end gives back a
 * connection with a statement still running: the pool closes it rather
 * than cancel the statement (a cancel request can race with the next
 * statement on the connection).
 */
#include <stdlib.h>
#include <time.h>

#include "bbs/xalloc.h"
#include "store_int.h"

struct bbs_cursor {
    struct bbs_store *st;
    PGconn *conn;
    PGresult *cur;  /* the row handed out last (freed on the next call) */
    PGresult *next; /* the row awaited at open, not handed out yet */
    int ended;      /* the statement is complete (or failed): conn is idle */
    int64_t t0;     /* for the statement counters */
};

/* Read results until libpq has none left (the connection is then idle). */
static void drain(PGconn *conn)
{
    PGresult *res;

    while ((res = PQgetResult(conn)) != NULL) {
        PQclear(res);
    }
}

/*
 * Await the next result. 1: a row in c->next; 0: the statement ended
 * (connection idle); -1: it failed (`err` set, connection idle or dead).
 */
static int fetch(struct bbs_cursor *c, struct bbs_error *err)
{
    PGresult *res = PQgetResult(c->conn);
    ExecStatusType s = PQresultStatus(res);

    if (s == PGRES_SINGLE_TUPLE) {
        c->next = res;
        return 1;
    }
    c->ended = 1;
    bbs_store_q_end(c->t0, s == PGRES_TUPLES_OK);
    if (s == PGRES_TUPLES_OK) {
        PQclear(res);
        drain(c->conn);
        return 0;
    }
    bbs_store_map_error(c->conn, res, err);
    PQclear(res);
    drain(c->conn);
    return -1;
}

static int start(struct bbs_cursor *c, const char *sql, const struct bbs_params *p,
                 struct bbs_error *err)
{
    c->t0 = bbs_store_q_begin();
    c->ended = 0;
    if (PQsendQueryParams(c->conn, sql, p ? p->n : 0, NULL, p ? p->values : NULL,
                          p ? p->lengths : NULL, p ? p->formats : NULL, 1) != 1) {
        c->ended = 1;
        bbs_store_q_end(c->t0, 0);
        bbs_store_map_error(c->conn, NULL, err);
        return -1;
    }
    /* Cannot fail right after a successful send (if it did, the rows would
     * arrive in one result, handed out as one row: never here). */
    (void)PQsetSingleRowMode(c->conn);
    return fetch(c, err) < 0 ? -1 : 0;
}

struct bbs_cursor *bbs_cursor_open(struct bbs_store *st, const char *sql,
                                   const struct bbs_params *p, struct bbs_error *err)
{
    struct bbs_cursor *c = bbs_xcalloc(1, sizeof(*c));
    int retries = bbs_store_retries(st);

    c->st = st;
    for (int attempt = 0; attempt < retries; attempt++) {
        c->conn = bbs_store_borrow(st, err);
        if (c->conn != NULL && start(c, sql, p, err) == 0) {
            return c;
        }
        if (c->conn != NULL && PQstatus(c->conn) == CONNECTION_OK &&
            err->type != BBS_ERR_DEADLOCK) {
            break; /* the statement itself failed: not worth another go */
        }
        bbs_store_give_back(st, c->conn);
        c->conn = NULL;
        if (attempt + 1 < retries) {
            struct timespec ts = {0, (long)(20 + 40 * attempt) * 1000000L};

            nanosleep(&ts, NULL);
        }
    }
    bbs_store_give_back(st, c->conn);
    free(c);
    return NULL;
}

int bbs_cursor_row(struct bbs_cursor *c, const PGresult **row, struct bbs_error *err)
{
    PQclear(c->cur);
    c->cur = NULL;
    if (c->next == NULL) {
        int rc;

        if (c->ended) {
            return 0;
        }
        rc = fetch(c, err);
        if (rc <= 0) {
            return rc;
        }
    }
    c->cur = c->next;
    c->next = NULL;
    *row = c->cur;
    return 1;
}

void bbs_store_cursor_close(struct bbs_cursor *c)
{
    if (c == NULL) {
        return;
    }
    PQclear(c->cur);
    PQclear(c->next);
    if (!c->ended) {
        bbs_store_q_end(c->t0, 1);
    }
    /* Not ended: the statement still runs, the pool closes the connection. */
    bbs_store_give_back(c->st, c->conn);
    free(c);
}
