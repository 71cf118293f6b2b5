/*
 * alrp.h - ActualLRP lifecycle rules (pure core).
 *
 * Given the stored rows of one (process_guid, index) and a cell's request,
 * decide the new row or the upstream error (reference section 3). No I/O,
 * clock or allocation: the store locks and loads the rows, passes `now_ns`,
 * and persists what the core decided. All strings and byte blobs are
 * borrowed; a decided row borrows from the stored row and the request.
 */
#ifndef BBS_ALRP_H
#define BBS_ALRP_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/error.h"

enum bbs_alrp_state {
    BBS_ALRP_UNCLAIMED,
    BBS_ALRP_CLAIMED,
    BBS_ALRP_RUNNING,
    BBS_ALRP_CRASHED,
};

enum bbs_presence {
    BBS_PRESENCE_ORDINARY = 0,
    BBS_PRESENCE_EVACUATING = 1,
    BBS_PRESENCE_SUSPECT = 2,
};

/* Crash restart policy constants (reference 3.9). */
#define BBS_CRASH_IMMEDIATE_RESTARTS   3
#define BBS_CRASH_MAX_RESTART_ATTEMPTS 200
#define BBS_CRASH_MIN_BACKOFF_NS       (INT64_C(30) * 1000000000)
#define BBS_CRASH_MAX_BACKOFF_NS       (INT64_C(16) * 60 * 1000000000)
#define BBS_CRASH_MAX_BACKOFF_EXPONENT 5
#define BBS_CRASH_RESET_WINDOW_NS      (INT64_C(5) * 60 * 1000000000)

/* crash_reason and placement_error storage limit (reference 6.4). */
#define BBS_REASON_MAX 1024

struct bbs_alrp_key {
    const char *process_guid;
    int32_t index;
    const char *domain;
};

/* Both fields are "" (never NULL) while UNCLAIMED or CRASHED. */
struct bbs_instance_key {
    const char *instance_guid;
    const char *cell_id;
};

/*
 * A pre-encoded protobuf blob. `present` distinguishes an absent list or
 * map (NULL in the database) from an empty one; for net info it is always 1.
 */
struct bbs_blob {
    const uint8_t *data;
    size_t len;
    int present;
};

struct bbs_alrp {
    struct bbs_alrp_key key;
    struct bbs_instance_key instance;
    enum bbs_alrp_state state;
    enum bbs_presence presence;
    int64_t since_ns;
    int32_t crash_count;
    const char *crash_reason;
    const char *placement_error;
    struct bbs_blob net_info;        /* encoded ActualLRPNetInfo */
    struct bbs_blob internal_routes; /* encoded field-11 entries of ActualLRP */
    struct bbs_blob metric_tags;     /* encoded field-12 entries, sorted by key */
    int routable;
    const char *availability_zone;
    const char *mod_epoch;
    uint32_t mod_index;
};

/* The rows of one (guid, index), at most one per presence; NULL = none. */
struct bbs_alrp_set {
    const struct bbs_alrp *ordinary;
    const struct bbs_alrp *evacuating;
    const struct bbs_alrp *suspect;
};

/* What a start request carries besides key and instance key. */
struct bbs_start_input {
    struct bbs_alrp_key key;
    struct bbs_instance_key instance;
    struct bbs_blob net_info;
    struct bbs_blob internal_routes;
    struct bbs_blob metric_tags;
    int routable;
    const char *availability_zone;
};

/* How the store must persist a decision. */
enum bbs_alrp_write {
    BBS_ALRP_WRITE_NONE,   /* idempotent no-op: answer success, write nothing */
    BBS_ALRP_WRITE_UPDATE, /* update the locked row with `next` */
    BBS_ALRP_WRITE_INSERT, /* insert `next` as a new row (fresh epoch, index 0) */
    BBS_ALRP_WRITE_DELETE, /* delete the row */
};

/* Upper-case wire name of a state ("UNCLAIMED", ...). */
const char *bbs_alrp_state_name(enum bbs_alrp_state s);

/* Parse a wire state name; -1 if unknown. */
int bbs_alrp_state_parse(const char *s, size_t len);

int bbs_instance_key_equal(const struct bbs_instance_key *a, const struct bbs_instance_key *b);
int bbs_instance_key_empty(const struct bbs_instance_key *k);
int bbs_blob_equal(const struct bbs_blob *a, const struct bbs_blob *b);

/*
 * May `cur` move to state `to` given request key `key` (compared in full,
 * domain included) and instance key `inst`? Reference 3.2.
 */
int bbs_alrp_allows(const struct bbs_alrp *cur, const struct bbs_alrp_key *key,
                    const struct bbs_instance_key *inst, enum bbs_alrp_state to);

/*
 * Claim (3.3). `set` is every row of (guid, index). On success sets
 * `*write` and, for an update, `next`; returns 0. Errors: ResourceNotFound
 * (no ordinary row), ActualLRPCannotBeClaimed.
 */
BBS_MUST_CHECK int bbs_alrp_claim(const struct bbs_alrp_set *set,
                                  const struct bbs_instance_key *claimer, int64_t now_ns,
                                  struct bbs_alrp *next, enum bbs_alrp_write *write,
                                  struct bbs_error *err);

/*
 * Start (3.4). Insert when there is no ordinary row; no-op when identical;
 * update otherwise. Error: ActualLRPCannotBeStarted. After a successful
 * write the store removes `set->evacuating` and `set->suspect` (step 5);
 * not after a suspect match (no-op).
 */
BBS_MUST_CHECK int bbs_alrp_start(const struct bbs_alrp_set *set, const struct bbs_start_input *in,
                                  int64_t now_ns, struct bbs_alrp *next, enum bbs_alrp_write *write,
                                  struct bbs_error *err);

/* Did start match a SUSPECT row (so nothing may be written or removed)? */
int bbs_alrp_start_matches_suspect(const struct bbs_alrp_set *set,
                                   const struct bbs_instance_key *inst);

/*
 * Crash (3.5). A SUSPECT row with the request's instance key is deleted
 * (`*write` = DELETE of the suspect, `*target` = SUSPECT). Otherwise the
 * ordinary row is updated and `*restart_now` says whether it went straight
 * to UNCLAIMED (an auction is due). `crash_reason` is stored truncated by
 * the caller's storage; `next->crash_reason` borrows `reason` already
 * truncated into `trunc_buf` (BBS_REASON_MAX + 1 bytes).
 * Errors: ResourceNotFound, ActualLRPCannotBeCrashed.
 */
BBS_MUST_CHECK int bbs_alrp_crash(const struct bbs_alrp_set *set, const struct bbs_alrp_key *key,
                                  const struct bbs_instance_key *inst, const char *reason,
                                  char *trunc_buf, int64_t now_ns, struct bbs_alrp *next,
                                  enum bbs_alrp_write *write, enum bbs_presence *target,
                                  int *restart_now, struct bbs_error *err);

/*
 * Fail (3.6). No ordinary row: success with WRITE_NONE. Not UNCLAIMED:
 * ActualLRPCannotBeFailed. `message` is truncated into `trunc_buf`.
 */
BBS_MUST_CHECK int bbs_alrp_fail(const struct bbs_alrp_set *set, const char *message,
                                 char *trunc_buf, int64_t now_ns, struct bbs_alrp *next,
                                 enum bbs_alrp_write *write, struct bbs_error *err);

/*
 * Unclaim (3.10). `stale` is the convergence variant that refuses CLAIMED.
 * Errors: ResourceNotFound (no ordinary row), ActualLRPCannotBeUnclaimed.
 */
BBS_MUST_CHECK int bbs_alrp_unclaim(const struct bbs_alrp *cur, int stale, int64_t now_ns,
                                    struct bbs_alrp *next, struct bbs_error *err);

/*
 * Remove (3.7): may the ordinary row be deleted? `inst` NULL = any row.
 * Error: ResourceNotFound.
 */
BBS_MUST_CHECK int bbs_alrp_remove(const struct bbs_alrp_set *set,
                                   const struct bbs_instance_key *inst, struct bbs_error *err);

/* What retire (3.8) and "stop instances" (5.6) do with a row. */
enum bbs_retire_action {
    BBS_RETIRE_DELETE,   /* UNCLAIMED or CRASHED: delete the row */
    BBS_RETIRE_STOP_REP, /* CLAIMED or RUNNING: look up the cell, ask its rep to stop */
};
enum bbs_retire_action bbs_alrp_retire_action(const struct bbs_alrp *cur);

/*
 * should_restart(now, crashed_at, count) of reference 3.9: restart now,
 * after the backoff, or never.
 */
int bbs_crash_should_restart(int64_t now_ns, int64_t crashed_at_ns, int32_t count);

/* The backoff before restart number `count` (count >= 3). */
int64_t bbs_crash_backoff_ns(int32_t count);

/*
 * Truncate `s` for storage (6.4, quirk 14 changed): an input of >= 1024
 * bytes becomes its first bytes up to a UTF-8 character boundary at or
 * before 1013 followed by "(truncated)". Returns `s` itself when short
 * enough, else `buf` (BBS_REASON_MAX + 1 bytes) holding the result.
 */
const char *bbs_reason_truncate(const char *s, char *buf);

#endif /* BBS_ALRP_H */
