/*
 * dlrp.h - the DesiredLRP row and the rules of an update (pure core,
 * reference 5.4 step 2, 2.6.4).
 *
 * The store locks the row and persists the result; this module decides
 * what the row becomes. Re-encoding a blob (routes, metric tags, the
 * credentials inside run_info) is the codec's job, and the core does not
 * link the codec, so the caller passes the encoders in
 * (struct bbs_dlrp_update_codec; the store and the fuzz driver pass
 * dlrp_codec.h's bbs_dlrp_update_codec).
 *
 * No I/O, clock, globals or logging. What this module does not do:
 * validate the update (validate_lrp.h), look the row up, or create and
 * stop actual LRPs after an instance change: the store does that once the
 * update committed, recording the auction start requests in the change
 * record (change.h) that the HTTP layer hands to the auctioneer client
 * (effects.c).
 */
#ifndef BBS_DLRP_H
#define BBS_DLRP_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/alrp.h"
#include "bbs/arena.h"
#include "bbs/error.h"
#include "desired_lrp.pb-c.h"

/*
 * One desired_lrps row; the blob encodings are in dlrp_codec.h. Strings
 * are never NULL; every blob is present (an empty blob is an empty list,
 * map or message). Everything is borrowed (from a request arena or a
 * PGresult).
 */
struct bbs_dlrp_row {
    const char *process_guid;
    const char *domain;
    const char *log_guid;
    const char *annotation;
    int32_t instances;
    int32_t memory_mb;
    int32_t disk_mb;
    int32_t max_pids;
    const char *rootfs;
    struct bbs_blob routes;
    struct bbs_blob volume_placement;
    struct bbs_blob placement_tags;
    struct bbs_blob metric_tags;
    const char *metrics_guid;
    int32_t update_strategy;
    const char *mod_epoch;
    uint32_t mod_index;
    struct bbs_blob run_info;
    int64_t created_at_ns;
};

/*
 * The encoders an update needs. Each writes its result into `arena` and
 * borrows its inputs.
 */
struct bbs_dlrp_update_codec {
    /* The stored form of a routes map; a value that is not JSON: -1, InvalidRequest. */
    int (*encode_routes)(struct bbs_arena *arena, const Models__ProtoRoutes *routes,
                         struct bbs_blob *out, struct bbs_error *err);
    /* The stored form of `n` (> 0) metric tag entries, last duplicate winning. */
    struct bbs_blob (*encode_metric_tags)(struct bbs_arena *arena,
                                          Models__DesiredLRPUpdate__MetricTagsEntry *const *tags,
                                          size_t n);
    /* `run_info` with the credentials `u` sets replaced; undecodable: -1, Deserialize. */
    int (*set_image_credentials)(struct bbs_arena *arena, const struct bbs_blob *run_info,
                                 const Models__DesiredLRPUpdate *u, struct bbs_blob *out,
                                 struct bbs_error *err);
};

/*
 * Apply the validated update `u` to `before` (the row as locked) and write
 * the new row to `after`:
 *   - the modification tag index moves by one, always, even when `u` sets
 *     nothing;
 *   - instances and annotation when their oneof is set (a NULL annotation
 *     reads as "");
 *   - routes when present (an empty ProtoRoutes clears them);
 *   - metric tags when non-empty (an empty map cannot be told from an
 *     absent one: tags can be replaced, never cleared);
 *   - run_info rewritten when the image username or password oneof is
 *     set.
 * Nothing else changes. `after` borrows from `before`, `u` and `arena`;
 * `before` and `u` are never modified. Returns 0, or -1 with `err` from
 * the failing encoder (InvalidRequest for a route value that is not JSON,
 * Deserialize for a stored run_info that does not decode); `after` is
 * then unspecified and nothing must be written.
 */
BBS_MUST_CHECK int bbs_dlrp_apply_update(struct bbs_arena *arena, const struct bbs_dlrp_row *before,
                                         const Models__DesiredLRPUpdate *u,
                                         const struct bbs_dlrp_update_codec *codec,
                                         struct bbs_dlrp_row *after, struct bbs_error *err);

#endif /* BBS_DLRP_H */
