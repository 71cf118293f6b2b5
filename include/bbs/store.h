/*
 * store.h - persistence over PostgreSQL (libpq): connection pool,
 * migrations, and one function per state change, each one transaction.
 *
 * Every function that changes state runs in a single transaction that
 * locks the rows it decides on (SELECT ... FOR UPDATE) and lets the pure
 * core decide. Serialization failures, deadlocks and lost connections are
 * retried as a whole (database_retries attempts), then answered with
 * Deadlock (or the connection error as UnknownError). SQLSTATE mapping at
 * this boundary: 23505 -> ResourceExists, 22001 -> InvalidRequest,
 * 42P01 -> Unrecoverable, others -> UnknownError.
 *
 * Reads return what they read (row views, group.h) and the codec encodes
 * them; calls that change state fill one change record (change.h). The
 * store never logs what it returns.
 */
#ifndef BBS_STORE_H
#define BBS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/alrp.h"
#include "bbs/arena.h"
#include "bbs/buf.h"
#include "bbs/change.h"
#include "bbs/error.h"
#include "bbs/group.h"

struct bbs_store;

/*
 * Open a pool of up to `max_conns` connections to `conninfo` (one is
 * opened now to fail early). `retries` = attempts per transaction.
 */
struct bbs_store *bbs_store_new(const char *conninfo, int max_conns, int retries,
                                struct bbs_error *err);
void bbs_store_free(struct bbs_store *st);

/* The pool's numbers for the DB metrics (reference-2 13.2). */
struct bbs_store_stats {
    int64_t open_connections;
    uint64_t wait_count;    /* borrowers that waited for a free connection (cumulative) */
    int64_t wait_ns;        /* time they waited (cumulative) */
    uint64_t queries_total; /* statements, BEGIN/COMMIT/ROLLBACK included (cumulative) */
    uint64_t queries_succeeded;
    uint64_t queries_failed;
    int64_t in_flight_max;         /* most statements at once since the last reset */
    int64_t query_duration_max_ns; /* longest statement since the last reset */
};

/* Read the numbers; with `reset` the two maxima start over (the 60 s report does). */
void bbs_store_stats(struct bbs_store *st, int reset, struct bbs_store_stats *out);

/*
 * Apply migrations/NNNN_*.sql from `dir` not yet recorded in
 * schema_migrations, in order, each in its own transaction, all under a
 * session advisory lock so concurrent servers apply each file once.
 */
BBS_MUST_CHECK int bbs_store_migrate(struct bbs_store *st, const char *dir, struct bbs_error *err);

/*
 * Encryption at rest (crypt.h, docs/architecture.md): the key ring that
 * seals the blob columns on write and opens them on read. Borrowed; set
 * before the first query; NULL (the default) = values written plain.
 */
struct bbs_crypt;
void bbs_store_set_crypt(struct bbs_store *st, const struct bbs_crypt *crypt);
/* Stored values that could not be opened since start (their rows are skipped). */
uint64_t bbs_store_undecryptable(struct bbs_store *st);

/*
 * Key rotation (sealed.c): check that every key label the database uses
 * has a configured key that opens its check value, before anything is
 * served; InvalidRequest naming the label otherwise. With encryption on,
 * records the active key's check value.
 */
BBS_MUST_CHECK int bbs_store_crypt_check(struct bbs_store *st, struct bbs_error *err);

/*
 * Re-seal every row whose sealed columns are plain or under another label
 * with the active key, `batch` rows per transaction, logging progress;
 * rows that do not open are left as they are, listed in
 * encryption_undecryptable and logged. Resumable: a rerun skips rows
 * already under the active key. Then forgets labels no row uses.
 * Safe while the API serves. `*rewritten` (may be NULL) gets the count.
 */
BBS_MUST_CHECK int bbs_store_rekey(struct bbs_store *st, int batch, uint64_t *rewritten,
                                   struct bbs_error *err);

/* bbs_store_rekey() on its own thread, started when encryption is on
 * (NULL otherwise); stop asks it to end after the batch in flight (a
 * later start resumes) and joins it. Accepts NULL. */
struct bbs_rekey;
struct bbs_rekey *bbs_store_rekey_start(struct bbs_store *st, int batch);
void bbs_store_rekey_stop(struct bbs_rekey *rk);

/* How long the pass took (ns, > 0) once it finished; -1 while it runs, after it failed or was
 * stopped, and for NULL. Lock-free (the EncryptionDuration metric). */
int64_t bbs_store_rekey_duration_ns(const struct bbs_rekey *rk);
/*
 * Fencing (lead.h): from now on every transaction first checks that the
 * database's leadership term is `term` (0 = no check, the default). A
 * transaction fenced out fails with UnknownError, is not retried, and
 * `on_fenced` (may be NULL) runs on the failing thread.
 */
#define BBS_FENCED_SQLSTATE "BB001"
void bbs_store_set_fence(struct bbs_store *st, int64_t term, void (*on_fenced)(void *ctx),
                         void *ctx);

/* ---- domains (reference 2.9) ---- */
BBS_MUST_CHECK int bbs_store_domain_upsert(struct bbs_store *st, const char *domain, uint32_t ttl,
                                           int64_t now_ns, struct bbs_error *err);
/* The fresh domains: `*out` gets `*n` strings living in `arena`. */
BBS_MUST_CHECK int bbs_store_domains_list(struct bbs_store *st, struct bbs_arena *arena,
                                          int64_t now_ns, const char *const **out, size_t *n,
                                          struct bbs_error *err);

/* ---- ActualLRP reads (3.11) ---- */
struct bbs_alrp_filter {
    const char *domain;       /* "" = any */
    const char *cell_id;      /* "" = any */
    const char *process_guid; /* "" = any */
    int has_index;
    int32_t index;
    const char *const *process_guids; /* non-NULL: process_guid IN (...) */
    size_t n_process_guids;
};

/*
 * Every matching row (all presences), in no particular order, as a view
 * (group.h) whose rows borrow from a result that `arena` owns (released
 * with it). Errors: database errors only.
 */
BBS_MUST_CHECK int bbs_store_alrp_list(struct bbs_store *st, struct bbs_arena *arena,
                                       const struct bbs_alrp_filter *f, struct bbs_alrp_rows *out,
                                       struct bbs_error *err);

/* The same ordered by (process guid, index, presence), ready to fold into groups. */
BBS_MUST_CHECK int bbs_store_alrp_list_ordered(struct bbs_store *st, struct bbs_arena *arena,
                                               const struct bbs_alrp_filter *f,
                                               struct bbs_alrp_rows *out, struct bbs_error *err);

/*
 * Streamed reads (cursor.c): the rows of a list handed out one at a time
 * as the database sends them, on a connection the cursor holds until
 * closed, so a list of any size is never whole in memory. Opening waits
 * for the first row, so the statement's own errors (and a lost
 * connection, retried) come back from the open; a failure after that
 * comes back from the row call. Close every cursor opened (it may be
 * closed before its end: the connection is then closed, not pooled).
 */
struct bbs_cursor;
void bbs_store_cursor_close(struct bbs_cursor *c);

/* The rows of bbs_store_alrp_list(), streamed. `arena` is used only while opening. */
BBS_MUST_CHECK int bbs_store_alrp_open(struct bbs_store *st, struct bbs_arena *arena,
                                       const struct bbs_alrp_filter *f, struct bbs_cursor **out,
                                       struct bbs_error *err);
/*
 * The next ActualLRP: 1 with `*out` (borrowing from the cursor until the
 * next call), 2 for a row that cannot be read (undecryptable or a state
 * it does not know; only `out->key` is filled; skip it), 0 at the end,
 * -1 with `err` when the database failed mid-way.
 */
BBS_MUST_CHECK int bbs_store_alrp_next(struct bbs_cursor *c, struct bbs_alrp *out,
                                       struct bbs_error *err);

/*
 * ---- ActualLRP lifecycle (3.3-3.8) ----
 *
 * Each call fills `change` (change.h; initialised by the caller, its
 * arena is where the recorded rows live) with the rows it created,
 * changed or removed and what must be sent out after the commit. On -1
 * nothing was committed and `change` is as it was, except where a call
 * says otherwise.
 */
BBS_MUST_CHECK int bbs_store_alrp_claim(struct bbs_store *st, const char *guid, int32_t index,
                                        const struct bbs_instance_key *claimer, int64_t now_ns,
                                        struct bbs_change *change, struct bbs_error *err);
/*
 * A copy that could not be removed after the start (3.4 step 5) is a
 * note. `peeked`: bbs_store_alrp_start_peek_queue has just answered 0, so the
 * unlocked read that answers a start changing nothing is not made again.
 * Nor is it for the first start of an instance this store claimed (that
 * start changes its row); bbs_store_alrp_start_peek_queue answers such a
 * start 0 without a read as well.
 */
BBS_MUST_CHECK int bbs_store_alrp_start(struct bbs_store *st, const struct bbs_start_input *in,
                                        int64_t now_ns, int peeked, struct bbs_change *change,
                                        struct bbs_error *err);
/*
 * Read the rows of a start without a lock, on a pooled connection idle
 * now. The answer: 1 when the start changes nothing (a cell's heartbeat
 * repeating what is stored); 0 when it needs the locked transaction (a
 * change, or a copy to delete); -1 when it could not tell (no idle
 * connection, a failed read). With no read in flight the calling thread
 * reads at once and returns the answer. Otherwise the start is queued and
 * the call returns BBS_PEEK_QUEUED at once; the starts queued are read
 * together (one statement for all of them) when the read in flight ends,
 * and `done(ud, answer)` is called once for each, from the store's reader
 * thread (after bbs_store_peeks_stop, from the thread whose read was in
 * flight). What `in` points to must live until then (`in` itself is
 * copied).
 */
#define BBS_PEEK_QUEUED 2
typedef void (*bbs_peek_done_fn)(void *ud, int answer);
int bbs_store_alrp_start_peek_queue(struct bbs_store *st, const struct bbs_start_input *in,
                                    int64_t now_ns, bbs_peek_done_fn done, void *ud);
/*
 * End the reader thread once it has answered what was handed to it (the
 * HTTP listener's stop, before its connections go; bbs_store_free does it
 * too). A start queued after this is read by the thread whose read was in
 * flight.
 */
void bbs_store_peeks_stop(struct bbs_store *st);
/*
 * A crash that leaves the row UNCLAIMED records an auction start for the
 * index, from the stored desired LRP read after the commit. When that
 * read fails (ResourceNotFound if the desired LRP is gone, quirk 7) the
 * crash stays committed: -1 with change->committed set and the rows
 * recorded.
 */
BBS_MUST_CHECK int bbs_store_alrp_crash(struct bbs_store *st, const struct bbs_alrp_key *key,
                                        const struct bbs_instance_key *inst, const char *reason,
                                        int64_t now_ns, struct bbs_change *change,
                                        struct bbs_error *err);
BBS_MUST_CHECK int bbs_store_alrp_fail(struct bbs_store *st, const struct bbs_alrp_key *key,
                                       const char *message, int64_t now_ns,
                                       struct bbs_change *change, struct bbs_error *err);
/* `inst` NULL = match any instance key. */
BBS_MUST_CHECK int bbs_store_alrp_remove(struct bbs_store *st, const char *guid, int32_t index,
                                         const struct bbs_instance_key *inst,
                                         struct bbs_change *change, struct bbs_error *err);
/*
 * Where the rep of a cell is, for calls that decide on it (retire): `fn`
 * looks `cell_id` up (Locket) and picks the address to call. Returns 0
 * with `*rep_url` (in `arena`), 1 when the cell is unknown, -1 with `err`
 * on any other failure. Called with no database connection held.
 * effects.h's bbs_effects_cell_url fits.
 */
struct bbs_cell_lookup {
    int (*fn)(void *ctx, struct bbs_arena *arena, const char *cell_id, const char **rep_url,
              struct bbs_error *err);
    void *ctx;
};

/*
 * Retire (3.8), by guid and index only. No ordinary row: ResourceNotFound.
 * UNCLAIMED or CRASHED: the ordinary row is deleted (recorded as removed).
 * CLAIMED or RUNNING: the cell is looked up through `cells` (NULL: every
 * cell is unknown) with no connection held; unknown: the row is deleted
 * as above; another lookup failure: that error at once; found: a rep stop
 * with the found address (5 attempts) is recorded and the row is kept:
 * the record is committed with no row changed (no event, quirk 9). A
 * failed delete is tried again, up to 5 attempts, on the state first read;
 * the last failure is returned.
 */
BBS_MUST_CHECK int bbs_store_alrp_retire(struct bbs_store *st, const char *guid, int32_t index,
                                         const struct bbs_cell_lookup *cells,
                                         struct bbs_change *change, struct bbs_error *err);

struct bbs_dlrp_row; /* dlrp.h */

/* When create_unclaimed records an auction start. */
enum bbs_create_auction {
    BBS_CREATE_AUCTION_IF_CREATED, /* scale-up: only when an index was created */
    BBS_CREATE_AUCTION_ALWAYS,     /* desire: even with "indices": [] (9.1) */
};

/*
 * Insert ORDINARY UNCLAIMED rows for indices [from, to) of `desired`
 * (one statement; an index that already has a row is skipped), record
 * them as created, and record one auction start with the created indices
 * in ascending order, built from `desired` as received (a row living in
 * change->arena). Nothing when to <= from.
 */
BBS_MUST_CHECK int bbs_store_alrp_create_unclaimed(struct bbs_store *st,
                                                   const struct bbs_dlrp_row *desired, int32_t from,
                                                   int32_t to, int64_t now_ns,
                                                   enum bbs_create_auction auction,
                                                   struct bbs_change *change,
                                                   struct bbs_error *err);

/*
 * "Stop instances from index `from`" (5.6), one transaction: delete
 * UNCLAIMED/CRASHED ordinary rows with index >= from (recorded as
 * removed); for every CLAIMED/RUNNING ordinary or suspect row with index
 * >= from record a rep stop (no rep_url: its cell is looked up after the
 * commit, effects.h) and leave the row as it is. Evacuating rows are left
 * alone.
 */
BBS_MUST_CHECK int bbs_store_alrp_stop_from(struct bbs_store *st, const char *guid, int32_t from,
                                            struct bbs_change *change, struct bbs_error *err);

/* ---- evacuation (reference 4) ---- */
enum bbs_evac_call {
    BBS_EVAC_CALL_CLAIMED,
    BBS_EVAC_CALL_CRASHED,
    BBS_EVAC_CALL_STOPPED,
    BBS_EVAC_CALL_RUNNING,
    BBS_EVAC_CALL_REMOVE,
};

struct bbs_evac_request {
    enum bbs_evac_call call;
    struct bbs_start_input in; /* key and instance key always; the rest for RUNNING */
    const char *reason;        /* CRASHED */
};

/*
 * Run one evacuation call as one transaction: lock every row of the index
 * (and, for RUNNING, the desired LRP), let the core decide (evac.h), apply
 * the row changes, recorded in `change`. `*keep` is the keep_container
 * answer (set on failure too). When a placement is due for the index the
 * auction start is recorded, from the desired LRP read after the commit;
 * if that read fails the evacuation stands and the failure is a note
 * ("evacuation.auction-lookup-failed").
 */
BBS_MUST_CHECK int bbs_store_evacuate(struct bbs_store *st, const struct bbs_evac_request *req,
                                      int64_t now_ns, int *keep, struct bbs_change *change,
                                      struct bbs_error *err);

/* ---- convergence (reference 7; converge.h plans, the worker applies) ---- */
struct bbs_conv_snapshot; /* converge.h */
struct bbs_conv_item;

/* Step 1: delete the domains expired at `now_ns` (rounded to the second); `*n` of them. */
BBS_MUST_CHECK int bbs_store_conv_prune_domains(struct bbs_store *st, int64_t now_ns, int *n,
                                                struct bbs_error *err);

/*
 * Read what the planner needs (desired LRPs, actual rows, fresh domains)
 * into `snap`, every string and row living in `arena`; the cell fields are
 * the caller's. Three statements, no query per LRP. Database errors only.
 */
BBS_MUST_CHECK int bbs_store_conv_snapshot(struct bbs_store *st, struct bbs_arena *arena,
                                           int64_t now_ns, struct bbs_conv_snapshot *snap,
                                           struct bbs_error *err);

/* The work items that write (7.2), one list of a plan each. */
enum bbs_conv_work {
    BBS_CONV_WORK_PRUNE_EVACUATING,     /* step 2: delete the evacuating row */
    BBS_CONV_WORK_MISSING,              /* B: insert UNCLAIMED rows */
    BBS_CONV_WORK_CRASHED,              /* C: unclaim a CRASHED row (stale unclaim) */
    BBS_CONV_WORK_MISSING_CELL,         /* D: mark suspect, insert the replacement */
    BBS_CONV_WORK_MISSING_CELL_UNCLAIM, /* D: unclaim the replacement */
    BBS_CONV_WORK_RETIRE_DELETE,        /* A: delete the ordinary row */
    BBS_CONV_WORK_PROMOTE,              /* E: delete the ordinary, suspect becomes ordinary */
    BBS_CONV_WORK_RETIRE_SUSPECT,       /* F: delete the suspect row */
};

/*
 * Apply `n` items of one list in one transaction (B: one INSERT). Rows
 * are locked first and an item whose row is no longer in the state, with
 * the instance key, the snapshot saw (for C also the same crash) is
 * skipped. Every row written is recorded in `change`; `*applied` counts
 * the items that wrote. Database errors only (nothing committed then).
 */
BBS_MUST_CHECK int bbs_store_conv_apply(struct bbs_store *st, enum bbs_conv_work kind,
                                        const struct bbs_conv_item *items, size_t n, int64_t now_ns,
                                        struct bbs_change *change, size_t *applied,
                                        struct bbs_error *err);

/* ---- diagnostics (diag_store.c): checks on their own connection, under one deadline ---- */

struct bbs_store_probe {
    int reachable;               /* connected (its own connection, not the pool's) */
    int writable;                /* a row inserted in a transaction then rolled back */
    char db_reason[256];         /* why not, when either is 0 */
    long schema_version;         /* newest version in schema_migrations; -1 unread */
    long files_version;          /* newest migrations/NNNN_*.sql; -1 unread */
    char migrations_reason[256]; /* why a version is unread */
};

/*
 * Check the database now: connect, write in a rolled-back transaction, read
 * the schema version; and read the newest migration file in
 * `migrations_dir`. Everything within `timeout_ns` (a database that stops
 * answering costs at most that). Never fails: `out` says what worked.
 */
void bbs_store_probe(struct bbs_store *st, const char *migrations_dir, int64_t timeout_ns,
                     struct bbs_store_probe *out);

#define BBS_STORE_ALRP_STATES 4 /* enum bbs_alrp_state */
#define BBS_STORE_TASK_STATES 5 /* enum bbs_task_state, INVALID included */

/* Rows by kind and state, read in one statement (one snapshot). */
struct bbs_store_counts {
    int64_t desired_lrps;
    int64_t domains;
    int64_t actual_lrps[BBS_STORE_ALRP_STATES]; /* ordinary rows by enum bbs_alrp_state */
    int64_t evacuating_lrps;
    int64_t suspect_lrps;
    int64_t tasks[BBS_STORE_TASK_STATES]; /* by enum bbs_task_state */
};

/* Count now on its own connection within `timeout_ns`; -1 with UnknownError and the reason. */
BBS_MUST_CHECK int bbs_store_counts(struct bbs_store *st, int64_t timeout_ns,
                                    struct bbs_store_counts *out, struct bbs_error *err);

/*
 * Seal a probe with the key `label`/`passphrase` alone and open it with the
 * key ring the store reads with (bbs_store_set_crypt): 0 when the probe
 * comes back intact, -1 otherwise; `reason` (len bytes) says which.
 */
int bbs_store_probe_key(struct bbs_store *st, const char *label, const char *passphrase,
                        char *reason, size_t len);

/* The newest NNNN of `dir`'s NNNN_*.sql files (0 when none); -1 with err if unreadable. */
BBS_MUST_CHECK int bbs_store_migrations_newest(const char *dir, long *version,
                                               struct bbs_error *err);

#endif /* BBS_STORE_H */
