/*
 * rep_push.h - what a DesiredLRP update pushes to the reps of its running
 * instances (reference 5.4 step 5; upstream DesiredLRPUpdate's
 * IsRoutesGroupUpdated / IsMetricTagsUpdated, InternalRoutesFromRoutingInfo,
 * ConvertMetricTags). Pure core: no I/O, clock, globals or logging; the
 * store decodes the stored blobs (dlrp_codec.h) and records the rep updates
 * this decides in the change record.
 */
#ifndef BBS_REP_PUSH_H
#define BBS_REP_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/arena.h"
#include "desired_lrp.pb-c.h"

/* The routes key whose value lists the internal routes. */
#define BBS_INTERNAL_ROUTER "internal-router"

/*
 * 1 when the update carries routes and the internal-router entry changed:
 * `old` (the routes before; NULL = none) and the update's disagree on
 * whether the key is there, or both have it with different bytes, or
 * neither has it (an upstream oddity: an empty internal-route update).
 */
int bbs_rep_push_routes_changed(const Models__ProtoRoutes *old, const Models__DesiredLRPUpdate *u);

/*
 * 1 when the update carries metric tags (non-empty) that differ from
 * `old` (n_old entries): another count, a key missing from the update,
 * or a value with another static or dynamic part.
 */
int bbs_rep_push_tags_changed(Models__DesiredLRPUpdate__MetricTagsEntry *const *old, size_t n_old,
                              const Models__DesiredLRPUpdate *u);

/*
 * The hostnames of the internal-router entry of `routes`, as Go decodes
 * it into [{"hostname": ...}] (keys matched without case, other keys
 * ignored, a null element is ""). No entry, or the JSON null: 0 with
 * `*out` NULL (JSON null). A value that does not decode so: -1 (upstream
 * then skips the rep update of every instance). Strings in `arena`.
 */
int bbs_rep_push_internal_routes(struct bbs_arena *arena, const Models__ProtoRoutes *routes,
                                 const char *const **out, size_t *n);

/*
 * The update's metric tags resolved for one instance (INDEX: its index in
 * decimal; INSTANCE_GUID: its instance guid; otherwise the static value):
 * `n` names and values, in `arena`, in the update's order (duplicates:
 * the last one wins, as a Go map).
 */
void bbs_rep_push_tags_for(struct bbs_arena *arena, const Models__DesiredLRPUpdate *u,
                           int32_t index, const char *instance_guid, const char *const **names,
                           const char *const **values, size_t *n);

#endif /* BBS_REP_PUSH_H */
