/*
 * store_int.h - private to the store: pool, transactions, binary params.
 *
 * Queries use the extended protocol with every parameter and result in
 * binary format: strings and bytea travel as raw bytes, integers in
 * network order, so rows are read without parsing or unescaping.
 */
#ifndef BBS_STORE_INT_H
#define BBS_STORE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "bbs/alrp.h"
#include "bbs/arena.h"
#include "bbs/change.h"
#include "bbs/error.h"
#include "bbs/store.h"
#include "row.h"

/* A transaction body: runs between BEGIN and COMMIT on `conn`. Must be
 * safe to run again from the start (it is retried on serialization
 * failures, deadlocks and lost connections). */
typedef int (*bbs_tx_fn)(PGconn *conn, void *ctx, struct bbs_error *err);

/*
 * Run `fn` in one transaction with retries. Returns 0 after COMMIT, or -1
 * with `err` set (the transaction rolled back).
 */
BBS_MUST_CHECK int bbs_store_tx(struct bbs_store *st, bbs_tx_fn fn, void *ctx,
                                struct bbs_error *err);
/* A read-only REPEATABLE READ snapshot transaction (no fence: it writes nothing). */
BBS_MUST_CHECK int bbs_store_tx_read(struct bbs_store *st, bbs_tx_fn fn, void *ctx,
                                     struct bbs_error *err);

/* Run `fn` on a pooled connection outside a transaction block (reads). */
BBS_MUST_CHECK int bbs_store_run(struct bbs_store *st, bbs_tx_fn fn, void *ctx,
                                 struct bbs_error *err);

/*
 * bbs_store_run without waiting for a connection: `fn` runs once, on a
 * pooled connection that is idle now (no retry, no new connection).
 * Returns 0, -1 with `err` set, or 1 when no connection was idle.
 */
BBS_MUST_CHECK int bbs_store_run_idle(struct bbs_store *st, bbs_tx_fn fn, void *ctx,
                                      struct bbs_error *err);

/*
 * Heartbeat reads gathered (bbs_store_alrp_start_peek_queue, alrp_store.c): while
 * one read is in flight, the starts that arrive are queued here, and the
 * next read, by the store's reader thread, answers all of them with one
 * statement. Owned by the store (pool.c); the fields are under `mu`.
 */
struct bbs_peek;
#define BBS_PEEK_CLAIMED 4096
struct bbs_peek_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;            /* the reader thread's: its turn, or stopping */
    int busy;                     /* a read is in flight */
    int reader_turn;              /* ... handed on to the reader thread, to read next */
    int reader_started, stopping; /* the reader thread (`reader`) */
    pthread_t reader;
    struct bbs_peek *head, *tail; /* starts queued for the next read, oldest first */
    size_t waiting;
    uint64_t reads; /* statements sent since start */
    uint64_t items; /* starts they answered */
    /* The instances this store claimed whose start has not come yet: a
     * hash of each claim (key and instance key) in the slot it selects,
     * 0 for none. Their first start changes its row whatever it carries
     * (CLAIMED to RUNNING), so it is answered 0 without a read. A hash
     * overwritten or seen by chance costs only a read, or a locked
     * transaction that changes nothing. */
    uint64_t claimed[BBS_PEEK_CLAIMED];
    uint64_t known; /* starts answered from it */
};
struct bbs_peek_queue *bbs_store_peeks(struct bbs_store *st);
/* The counters, for tests. */
void bbs_store_peek_stats(struct bbs_store *st, uint64_t *reads, uint64_t *items, size_t *waiting);
uint64_t bbs_store_peek_known(struct bbs_store *st);

/*
 * bbs_store_tx / bbs_store_run for a state change recorded in `change`:
 * `fn` rewinds `change` to `*mark` first thing (it may run more than once),
 * and on failure the record is rewound again (nothing was committed); on
 * success change->committed is set.
 */
BBS_MUST_CHECK int bbs_store_tx_change(struct bbs_store *st, bbs_tx_fn fn, void *ctx,
                                       struct bbs_change *change,
                                       const struct bbs_change_mark *mark, struct bbs_error *err);
BBS_MUST_CHECK int bbs_store_run_change(struct bbs_store *st, bbs_tx_fn fn, void *ctx,
                                        struct bbs_change *change,
                                        const struct bbs_change_mark *mark, struct bbs_error *err);

/*
 * Record in `change` the auction start request for `indices` (n of them;
 * copied) of `desired`, a row that lives in change->arena. `as_received`
 * (desire and scale-up, 9.1): no volume mounts is "VolumeDrivers": [],
 * not null. -1 with Deserialize when a stored blob does not decode.
 */
BBS_MUST_CHECK int bbs_dlrp_auction_of(struct bbs_change *change,
                                       const struct bbs_dlrp_row *desired, const int32_t *indices,
                                       size_t n, int as_received, struct bbs_error *err);

/*
 * The same from the stored desired row of `guid`, read now (crash
 * restarts and evacuation: "VolumeDrivers": null when none).
 * ResourceNotFound when there is no such row.
 */
BBS_MUST_CHECK int bbs_dlrp_auction_for(struct bbs_store *st, struct bbs_change *change,
                                        const char *guid, const int32_t *indices, size_t n,
                                        struct bbs_error *err);

/*
 * The CLAIMED/RUNNING ordinary and suspect rows of `guid` with index >=
 * `from` (the instances reps run), copied into `arena`, by index.
 */
BBS_MUST_CHECK int bbs_alrp_running_from(PGconn *conn, struct bbs_arena *arena, const char *guid,
                                         int32_t from, struct bbs_alrp **rows, size_t *n,
                                         struct bbs_error *err);

/*
 * The one way to build query parameters (params.c): every value binary,
 * up to BBS_MAX_PARAMS of them per statement (more is a programming
 * error and aborts). A list of any length is ONE parameter, a binary
 * text[] (bbs_params_text_array), used as `col = ANY($n::text[])`: the
 * statement text does not grow with the list, and the planner treats it
 * exactly as it treats `col IN (...)`. Each adder returns the 1-based
 * number of the parameter it added, for statements built per call:
 *     bbs_buf_printf(&sql, "domain = $%d::text", bbs_params_text(&p, d));
 * Values are borrowed until the statement ran; integers are copied into
 * the struct, arrays into `arena`. A zeroed struct is empty.
 */
#define BBS_MAX_PARAMS 20
struct bbs_params {
    int n;
    const char *values[BBS_MAX_PARAMS];
    int lengths[BBS_MAX_PARAMS];
    int formats[BBS_MAX_PARAMS];
    uint64_t ints[BBS_MAX_PARAMS];  /* storage for network-order integers */
    uint8_t *owned[BBS_MAX_PARAMS]; /* sealed values (bbs_params_sealed) */
    int n_owned;
};

int bbs_params_text(struct bbs_params *p, const char *s); /* text/varchar, NUL-terminated */
int bbs_params_bytes(struct bbs_params *p, const void *d, size_t n); /* bytea */
int bbs_params_null(struct bbs_params *p);
int bbs_params_int4(struct bbs_params *p, int32_t v);
int bbs_params_int8(struct bbs_params *p, int64_t v);
int bbs_params_bool(struct bbs_params *p, int v);
/* bytea or NULL when !blob->present */
int bbs_params_blob(struct bbs_params *p, const struct bbs_blob *blob);
/* text[] of `n` strings (n may be 0: the empty array), encoded into `arena`. */
int bbs_params_text_array(struct bbs_params *p, struct bbs_arena *arena, const char *const *strs,
                          size_t n);
/* int4[] of `n` integers, the same way. */
int bbs_params_int4_array(struct bbs_params *p, struct bbs_arena *arena, const int32_t *v,
                          size_t n);

/*
 * Execute prepared statement `name` (see statements in pool.c) with
 * binary results. On error returns NULL with `err` mapped from SQLSTATE
 * (the PGresult is cleared); otherwise the caller PQclear()s the result.
 */
PGresult *bbs_exec(PGconn *conn, const char *name, const struct bbs_params *p,
                   struct bbs_error *err);

/* The same for an unprepared statement built per call (filters vary). */
PGresult *bbs_exec_sql(PGconn *conn, const char *sql, const struct bbs_params *p,
                       struct bbs_error *err);

/* Execute a statement that returns no rows; `*affected` (when set) gets
 * the number of rows it changed. In a transaction (bbs_store_tx...)
 * without `affected` it is only queued (pool.c, "two round trips"): its
 * error, if any, comes from the next statement read, bbs_store_sync or
 * the commit. */
int bbs_exec_command(PGconn *conn, const char *name, const struct bbs_params *p, int *affected,
                     struct bbs_error *err);

/* Read the answers of every command queued in this transaction: 0 when
 * all succeeded, else the first failure in `err`. For a body whose answer
 * depends on which write failed (evac_store.c). */
BBS_MUST_CHECK int bbs_store_sync(PGconn *conn, struct bbs_error *err);

/*
 * Inside the transaction of a change: derive the events `change` recorded
 * since `mark` (events.h) and insert them into the change log with
 * one statement; nothing when there are none (changelog.c). `*wrote`: the
 * insert was queued, under the change-log ticket `*ticket`, taken just
 * before (changelog.h), which the caller gives back once the
 * transaction's outcome is known (bbs_store_ticket_give_back), failed or
 * not.
 */
BBS_MUST_CHECK int bbs_changelog_write(PGconn *conn, const struct bbs_change *change,
                                       const struct bbs_change_mark *mark, int *wrote,
                                       uint64_t *ticket, struct bbs_error *err);

/* Change-log tickets (pool.c; changelog.h says what they are for). A
 * ticket given back with `grace_ns` > 0 stays held that much longer. */
uint64_t bbs_store_ticket_take(struct bbs_store *st);
void bbs_store_ticket_give_back(struct bbs_store *st, uint64_t n, int64_t grace_ns);

/* Map a failed result or connection to `err`. */
void bbs_store_map_error(PGconn *conn, const PGresult *res, struct bbs_error *err);

/* Binary result readers. */
int32_t bbs_get_int4(const PGresult *r, int row, int col);
int64_t bbs_get_int8(const PGresult *r, int row, int col);
int bbs_get_bool(const PGresult *r, int row, int col);
const char *bbs_get_text(const PGresult *r, int row, int col); /* "" when NULL */
struct bbs_blob bbs_get_blob(const PGresult *r, int row, int col);

/*
 * Sealed columns (encryption at rest, reference 6.3; sealed.c). Each
 * names what the column holds once opened, so upstream-written JSON
 * plaintexts can be turned into our bytes.
 */
enum bbs_sealed_col {
    BBS_SEALED_NET_INFO,
    BBS_SEALED_ALRP_INTERNAL_ROUTES,
    BBS_SEALED_ALRP_METRIC_TAGS,
    BBS_SEALED_DLRP_ROUTES,
    BBS_SEALED_DLRP_VOLUME_PLACEMENT,
    BBS_SEALED_DLRP_METRIC_TAGS,
    BBS_SEALED_DLRP_RUN_INFO,
    BBS_SEALED_TASK_DEFINITION,
};

/* The store a pooled connection, or a result it produced, belongs to. */
struct bbs_store *bbs_store_of_conn(const PGconn *conn);
struct bbs_store *bbs_store_of_result(const PGresult *res);
const struct bbs_crypt *bbs_store_crypt(const struct bbs_store *st);
/* Count one more undecryptable value; returns the new total. */
uint64_t bbs_store_count_undecryptable(struct bbs_store *st);

/*
 * Column `col` of a row as our plain bytes: a plain value as stored, a
 * sealed one opened (the bytes then live in `r`, freed by PQclear). -1
 * when a sealed value does not open or decode: the value is counted and
 * logged (with the row's first column, its key) and the caller skips
 * the row.
 */
BBS_MUST_CHECK int bbs_get_sealed(const PGresult *r, int row, int col, enum bbs_sealed_col kind,
                                  struct bbs_blob *out);

/* The same for column `col` of a row (row.h); opened bytes come from the
 * row's allocator. */
BBS_MUST_CHECK int bbs_row_sealed(const struct bbs_row *r, int col, enum bbs_sealed_col kind,
                                  struct bbs_blob *out);

/*
 * Add `b` as a bytea parameter sealed with the active key of the store
 * `conn` belongs to (as is when encryption is off; NULL when absent).
 * The sealed bytes belong to `p` until bbs_params_release().
 */
BBS_MUST_CHECK int bbs_params_sealed(struct bbs_params *p, PGconn *conn, const struct bbs_blob *b,
                                     struct bbs_error *err);
void bbs_params_release(struct bbs_params *p);

/* A new unprepared connection outside the pool (migrations); caller PQfinish()es. */
PGconn *bbs_store_conn_open(struct bbs_store *st, struct bbs_error *err);

/* The conninfo the pool connects with (diag_store.c opens its own connections). */
const char *bbs_store_conninfo(const struct bbs_store *st);

/* Fresh UUID v4 (lowercase canonical) into `out` (37 bytes). */
void bbs_new_epoch(char *out);

/*
 * ActualLRP rows: the SELECT list every query that reads actual rows
 * uses, and the decoder for it (strings borrowed from `r`).
 */
#define BBS_ALRP_COLUMNS                                                                           \
    "process_guid, instance_index, presence, domain, state, instance_guid, cell_id, since, "       \
    "crash_count, crash_reason, placement_error, net_info, internal_routes, metric_tags, "         \
    "routable, availability_zone, modification_tag_epoch, modification_tag_index"
int bbs_alrp_from_row(const struct bbs_row *r, struct bbs_alrp *out);
/* Row `i` of `res` as a bbs_row (values borrowed from `res`; opened
 * sealed values allocated in it). At most BBS_ROW_MAX_COLS columns. */
void bbs_row_of(const PGresult *res, int i, struct bbs_row *out);
/* PQresultAlloc(res, n) as a row allocator (row.h). */
void *bbs_result_alloc(void *res, size_t n);
/* bbs_alrp_from_row() of row `i` of `res`. */
int bbs_alrp_from_result(const PGresult *res, int i, struct bbs_alrp *out);
/* What bbs_alrp_from_row() returns for a row whose sealed values do not
 * open (-1: a state it does not know); either way the row is skipped. */
#define BBS_ALRP_ROW_UNDECRYPTABLE (-2)

/*
 * Task rows: the SELECT list every query that reads tasks uses, and the
 * decoder for it (task_store.c; strings borrowed from `r`). -1 when the
 * definition is sealed with a key this server cannot open (counted and
 * logged): reads skip the row, changes refuse it, nothing deletes it.
 */
#define BBS_TASK_COLUMNS                                                                           \
    "guid, domain, created_at, updated_at, first_completed_at, state, cell_id, result, failed,"    \
    " failure_reason, rejection_count, rejection_reason, task_definition"
struct bbs_task;
int bbs_task_from_row(const PGresult *r, int row, struct bbs_task *out);

/* The locked rows of one (guid, index); the rows borrow from `res`. */
struct bbs_alrp_lock {
    PGresult *res;
    struct bbs_alrp rows[3];
    struct bbs_alrp_set set;
};

/* SELECT ... FOR UPDATE every row of (guid, index) into `ls` (cleared first). */
int bbs_alrp_lock(PGconn *conn, const char *guid, int32_t index, struct bbs_alrp_lock *ls,
                  struct bbs_error *err);
/* The same with statement `stmt` ("alrp_read_set": no lock, no transaction). */
int bbs_alrp_read(PGconn *conn, const char *stmt, const char *guid, int32_t index,
                  struct bbs_alrp_lock *ls, struct bbs_error *err);
/* Release what bbs_alrp_lock() read (the locks last until COMMIT). */
void bbs_alrp_unlock(struct bbs_alrp_lock *ls);

/* Write one row by primary key (guid, index, presence). Insert gives it a
 * fresh epoch, written to `epoch` (37 bytes) and pointed to by
 * a->mod_epoch; delete reports the rows affected when `affected` is set. */
int bbs_alrp_write_update(PGconn *conn, const struct bbs_alrp *a, struct bbs_error *err);
int bbs_alrp_write_insert(PGconn *conn, struct bbs_alrp *a, char *epoch, struct bbs_error *err);
int bbs_alrp_write_delete(PGconn *conn, const struct bbs_alrp *a, int *affected,
                          struct bbs_error *err);

/*
 * Prepared statements. Each store module lists its statements in one
 * static table and registers it with BBS_STORE_STATEMENTS(name, table) at
 * file scope; every new pooled connection prepares every registered table.
 * Nothing central lists the modules, so a new module is one new file.
 *
 * How: the macro puts a pointer to the table in the linker section
 * "bbs_stmts", and pool.c walks it between __start_bbs_stmts and
 * __stop_bbs_stmts, symbols GNU ld, gold and lld define for any section
 * whose name is a C identifier (the mechanism glibc and the kernel use
 * for their own tables). We prefer it to constructor functions, which
 * would need a mutable global list filled before main() and ordering
 * care; the section is read-only data, complete at link time. A module
 * is in the binary exactly when something calls it (static libraries
 * link an object on demand), so an unused module's statements are not
 * prepared, and nothing could run them anyway.
 */
struct bbs_stmt {
    const char *name;
    const char *sql;
};

struct bbs_stmt_table {
    const char *module;
    const struct bbs_stmt *stmts;
    size_t n;
};

#define BBS_STORE_STATEMENTS(module_, table_)                                                      \
    static const struct bbs_stmt_table bbs_stmt_table_##module_ = {                                \
        #module_, table_, sizeof(table_) / sizeof((table_)[0])};                                   \
    __attribute__((used, section("bbs_stmts"))) static const struct bbs_stmt_table                 \
        *const bbs_stmt_table_ptr_##module_ = &bbs_stmt_table_##module_

/* Every registered table, in link order: `*n` gets the count. */
const struct bbs_stmt_table *const *bbs_store_stmt_tables(size_t *n);

/*
 * A connection held across calls (cursor.c): borrow from the pool and give
 * back (a connection not idle, e.g. with a query still running, is closed
 * rather than pooled). The statement counters of bbs_store_stats.
 */
PGconn *bbs_store_borrow(struct bbs_store *st, struct bbs_error *err);
void bbs_store_give_back(struct bbs_store *st, PGconn *conn);
int bbs_store_retries(const struct bbs_store *st);
int64_t bbs_store_q_begin(void);
void bbs_store_q_end(int64_t t0, int ok);

/*
 * Run `sql` with `p` (binary results) in libpq's single-row mode on a
 * connection borrowed for the cursor's life, and wait for its first row
 * (or its end, or its error), so a failure shows before anything has been
 * answered; failures up to there are retried as bbs_store_run retries.
 * NULL with `err` on failure.
 */
struct bbs_cursor *bbs_cursor_open(struct bbs_store *st, const char *sql,
                                   const struct bbs_params *p, struct bbs_error *err);
/* The next row: 1 with `*row` (a one-row result, row 0, valid until the
 * next call), 0 at the end, -1 with `err` (the database failed mid-way). */
int bbs_cursor_row(struct bbs_cursor *c, const PGresult **row, struct bbs_error *err);

/*
 * The same over `COPY (SELECT ...) TO STDOUT (FORMAT binary)` (cursor.c
 * says why): `build` writes the whole COPY statement, NUL-terminated,
 * for `conn` (values as literals escaped for it; -1 with `err` when one
 * cannot be). Rows come from bbs_cursor_next (1: a row valid until the
 * next call; 0: the end; -1 with `err`), not bbs_cursor_row.
 */
struct bbs_buf;
typedef int (*bbs_copy_sql_fn)(PGconn *conn, void *ctx, struct bbs_buf *sql, struct bbs_error *err);
struct bbs_cursor *bbs_cursor_open_copy(struct bbs_store *st, bbs_copy_sql_fn build, void *ctx,
                                        struct bbs_error *err);
/* bbs_cursor_open_copy of a fixed SELECT with no values to escape. */
struct bbs_cursor *bbs_cursor_open_copy_of(struct bbs_store *st, const char *select,
                                           struct bbs_error *err);
int bbs_cursor_next(struct bbs_cursor *c, struct bbs_row *row, struct bbs_error *err);

#endif /* BBS_STORE_INT_H */
