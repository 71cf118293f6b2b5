/*
 * validate.h - request validation (pure core).
 *
 * One function per request type, each reproducing upstream's checks in
 * upstream's order (reference 2.1.3, 2.3-2.8, 5.1, 5.2). Problems are
 * collected, not first-fail, into a flat list that renders exactly as
 * upstream's message: every problem joined with ", ". The HTTP layer turns
 * a non-zero count into InvalidRequest with `p->text` as its message.
 *
 * What this module does not do: decode protobuf, check that route values
 * are valid JSON (that runs after validation, see routejson.h), or
 * consult stored state (claim's negative index is a lookup miss, not a
 * validation problem; reference quirk 24).
 *
 * No I/O, clock, globals or logging. The request is only read. Scratch
 * memory is taken from the heap for de-duplicating map keys and for the
 * action-tree walk, and released before returning; out of memory aborts.
 *
 * "Present" for a submessage means its pointer is non-NULL, matching the
 * wire (an empty submessage sent by the client is present). String fields
 * may be NULL (read as "") so hand-built messages need not fill them.
 */
#ifndef BBS_VALIDATE_H
#define BBS_VALIDATE_H

#include <stddef.h>

#include "actual_lrp_requests.pb-c.h"
#include "bbs/error.h"
#include "desired_lrp.pb-c.h"
#include "domains.pb-c.h"
#include "evacuation.pb-c.h"

/*
 * A flat list of validation problems, rendered as upstream does: joined
 * with ", " (reference 2.1.3). Zero-initialise before the first use
 * (`struct bbs_problems p = {0};`). `text` is always NUL-terminated and
 * `len` is strlen(text); `count` counts every problem added, including
 * those that no longer fitted in `text`.
 */
struct bbs_problems {
    char text[BBS_ERROR_MESSAGE_MAX];
    size_t len;
    int count;
};

/*
 * Append ", " (unless it is the first problem) and `problem`. When the
 * text would not fit, as much as fits is kept and the text ends in "...";
 * later problems are then only counted. `problem` is borrowed.
 */
void bbs_problems_add(struct bbs_problems *p, const char *problem);

/*
 * Every validator below reads `req`/`r` (borrowed, never modified),
 * appends its problems to `p` in upstream order and returns how many it
 * appended (0 = valid). `p` may already hold problems; they are kept.
 */

/* 5.1. A missing desired_lrp gives "Invalid field: desired_lrp". */
int bbs_validate_desire(const Models__DesireLRPRequest *req, struct bbs_problems *p);

/*
 * 5.2. A missing `update` passes upstream and then crashes its handler
 * (quirk 10); here it gives "Invalid field: update", but only when
 * process_guid is non-empty so that an empty body still answers exactly
 * "Invalid field: process_guid".
 */
int bbs_validate_update(const Models__UpdateDesiredLRPRequest *req, struct bbs_problems *p);

int bbs_validate_remove_desired(const Models__RemoveDesiredLRPRequest *req, struct bbs_problems *p);
int bbs_validate_desired_by_guid(const Models__DesiredLRPByProcessGuidRequest *req,
                                 struct bbs_problems *p);
int bbs_validate_upsert_domain(const Models__UpsertDomainRequest *req, struct bbs_problems *p);

/* ActualLRP requests (2.4). */
int bbs_validate_claim(const Models__ClaimActualLRPRequest *r, struct bbs_problems *p);
int bbs_validate_start(const Models__StartActualLRPRequest *r, struct bbs_problems *p);
int bbs_validate_crash(const Models__CrashActualLRPRequest *r, struct bbs_problems *p);
int bbs_validate_fail(const Models__FailActualLRPRequest *r, struct bbs_problems *p);
int bbs_validate_retire(const Models__RetireActualLRPRequest *r, struct bbs_problems *p);
int bbs_validate_remove_actual(const Models__RemoveActualLRPRequest *r, struct bbs_problems *p);
/* Not an "Invalid field" list: the one problem is "process_guids must not be empty". */
int bbs_validate_by_guids(const Models__ActualLRPsByProcessGuidsRequest *r, struct bbs_problems *p);
int bbs_validate_groups_by_guid(const Models__ActualLRPGroupsByProcessGuidRequest *r,
                                struct bbs_problems *p);
int bbs_validate_group_by_guid_index(const Models__ActualLRPGroupByProcessGuidAndIndexRequest *r,
                                     struct bbs_problems *p);

/* Evacuation requests (2.5). */
int bbs_validate_evacuate_claimed(const Models__EvacuateClaimedActualLRPRequest *r,
                                  struct bbs_problems *p);
int bbs_validate_evacuate_crashed(const Models__EvacuateCrashedActualLRPRequest *r,
                                  struct bbs_problems *p);
int bbs_validate_evacuate_stopped(const Models__EvacuateStoppedActualLRPRequest *r,
                                  struct bbs_problems *p);
int bbs_validate_evacuate_running(const Models__EvacuateRunningActualLRPRequest *r,
                                  struct bbs_problems *p);
int bbs_validate_remove_evacuating(const Models__RemoveEvacuatingActualLRPRequest *r,
                                   struct bbs_problems *p);

#endif /* BBS_VALIDATE_H */
