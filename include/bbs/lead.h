/*
 * lead.h - leadership: one active server among several sharing a
 * database (docs/operations.md, Leadership).
 *
 * Two modes. With a Locket client the server holds Locket's lock "bbs"
 * (owner = config uuid, ttl = lock_ttl, retried every
 * lock_retry_interval), as upstream. Without one it holds a lease row in
 * the BBS database (table bbs_leader, migration 0006). Either way, on
 * taking over it increments the term in bbs_leader, and every write
 * transaction calls bbs_fence(term) first (pool.c), so a deposed leader
 * cannot commit.
 *
 * bbs_lead_acquire() blocks until this server leads (0), or until
 * bbs_lead_stop() / a fatal error (-1). From then on a thread keeps the
 * lock or lease; when it is lost, the `on_lost` callback runs once (the
 * server exits non-zero). bbs_lead_free() releases what is held.
 */
#ifndef BBS_LEAD_H
#define BBS_LEAD_H

#include <stdbool.h>
#include <stdint.h>

#include "bbs/error.h"

struct bbs_locket;
struct bbs_store;

struct bbs_lead_config {
    const char *conninfo;      /* the BBS database (lease mode and the term) */
    const char *owner;         /* config uuid */
    int64_t ttl_ns;            /* lock_ttl */
    int64_t retry_ns;          /* lock_retry_interval */
    struct bbs_locket *locket; /* NULL = PostgreSQL lease mode */
    void (*on_lost)(void *ctx);
    void *on_lost_ctx;
};

struct bbs_lead;

struct bbs_lead *bbs_lead_new(const struct bbs_lead_config *cfg);

/* Block until this server leads: 0, with the term; -1 when stopped or on a fatal error. */
int bbs_lead_acquire(struct bbs_lead *l, struct bbs_error *err);

/* Ask a blocked bbs_lead_acquire() to return -1 (signal-safe: writes a pipe). */
void bbs_lead_stop(struct bbs_lead *l);

/* True while this server holds the lock or lease. Safe from any thread; NULL = false. */
bool bbs_lead_is_leader(const struct bbs_lead *l);

/* The term taken over (0 before leading). */
int64_t bbs_lead_term(const struct bbs_lead *l);

/* Stop the keeper, release the lock or lease if held, free. Accepts NULL. */
void bbs_lead_free(struct bbs_lead *l);

/*
 * The database health check (enable_db_health_check, as upstream's
 * DBHealthCheckRunner): every `interval_ns`, up to `threshold` attempts of
 * "upsert row 1 of bbs_health_check with the time, read it back", each
 * within `timeout_ns` on a connection of its own; when every attempt
 * failed, `on_failed` runs once (the server exits 1) and the thread ends.
 */
struct bbs_dbcheck_config {
    const char *conninfo;
    int64_t interval_ns;
    int64_t timeout_ns;
    int threshold;
    void (*on_failed)(void *ctx);
    void *on_failed_ctx;
};

struct bbs_dbcheck;

/* Start the checker thread; NULL with err if it cannot start. */
struct bbs_dbcheck *bbs_dbcheck_start(const struct bbs_dbcheck_config *cfg, struct bbs_error *err);

/* Stop and join it (an attempt in flight ends within its timeout). Accepts NULL. */
void bbs_dbcheck_stop(struct bbs_dbcheck *c);

#endif /* BBS_LEAD_H */
