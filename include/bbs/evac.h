/*
 * evac.h - evacuation decisions (pure core; reference section 4).
 *
 * A draining cell calls one evacuation route per container. Given every
 * row of (guid, index) as the store locked them, plus, for
 * evacuate_running, the desired LRP's update strategy and counts, each
 * function decides the row changes, whether an auction is due, and the
 * keep_container answer. The store applies the changes in the same
 * transaction. No I/O, clock or allocation; rows borrow their strings.
 */
#ifndef BBS_EVAC_H
#define BBS_EVAC_H

#include "bbs/alrp.h"
#include "bbs/error.h"

/* The row changes of one evacuation call, applied in this order. */
struct bbs_evac_decision {
    int delete_evacuating;          /* delete the EVACUATING row */
    int delete_suspect;             /* delete the SUSPECT row */
    int delete_ordinary;            /* delete the ORDINARY row */
    enum bbs_alrp_write evac_write; /* NONE, INSERT or UPDATE of `evac` */
    struct bbs_alrp evac;
    enum bbs_alrp_write ordinary_write; /* NONE or UPDATE of `ordinary` */
    struct bbs_alrp ordinary;
    int auction;     /* request a placement for this index after commit */
    int restart_now; /* evacuate_crashed: the crash left the row UNCLAIMED */
    int keep;        /* keep_container */
};

/* What evacuate_running needs to know of the desired LRP. */
struct bbs_evac_desired {
    int found;
    int recreate;      /* update_strategy == RECREATE */
    int32_t instances; /* desired instance count */
    int32_t running;   /* ORDINARY rows of the guid in state RUNNING */
};

/*
 * The row of `set` whose instance key equals `inst` (ordinary, then
 * evacuating, then suspect: the primary-key order), or NULL.
 */
const struct bbs_alrp *bbs_evac_target(const struct bbs_alrp_set *set,
                                       const struct bbs_instance_key *inst);

/*
 * Each returns 0 with `d` filled, or -1 with `err` set and d->keep holding
 * the keep_container answer that goes with the error. `d` is zeroed first.
 */
BBS_MUST_CHECK int bbs_evac_claimed(const struct bbs_alrp_set *set,
                                    const struct bbs_instance_key *inst, int64_t now_ns,
                                    struct bbs_evac_decision *d, struct bbs_error *err);

/* `trunc_buf` (BBS_REASON_MAX + 1 bytes) holds a truncated reason. */
BBS_MUST_CHECK int bbs_evac_crashed(const struct bbs_alrp_set *set,
                                    const struct bbs_instance_key *inst, const char *reason,
                                    char *trunc_buf, int64_t now_ns, struct bbs_evac_decision *d,
                                    struct bbs_error *err);

BBS_MUST_CHECK int bbs_evac_stopped(const struct bbs_alrp_set *set,
                                    const struct bbs_instance_key *inst,
                                    struct bbs_evac_decision *d, struct bbs_error *err);

/*
 * evacuate_running(.r1). `in` carries the request (key, instance key, net
 * info, internal routes, metric tags, routable, zone).
 */
BBS_MUST_CHECK int bbs_evac_running(const struct bbs_alrp_set *set,
                                    const struct bbs_start_input *in,
                                    const struct bbs_evac_desired *desired, int64_t now_ns,
                                    struct bbs_evac_decision *d, struct bbs_error *err);

/* remove_evacuating (4.4). */
BBS_MUST_CHECK int bbs_evac_remove(const struct bbs_alrp_set *set,
                                   const struct bbs_instance_key *inst, struct bbs_evac_decision *d,
                                   struct bbs_error *err);

#endif /* BBS_EVAC_H */
