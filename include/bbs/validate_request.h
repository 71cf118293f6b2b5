/*
 * validate_request.h - the small requests: a guid, an index, the ActualLRP
 * keys, net info or an error message (pure core, reference 2.3-2.5, 5.2).
 *
 * A NULL request reads as an empty message: every required part missing.
 * What this does not do: consult stored state (claim's negative index is
 * a lookup miss, not a validation problem; reference quirk 24).
 */
#ifndef BBS_VALIDATE_REQUEST_H
#define BBS_VALIDATE_REQUEST_H

#include "actual_lrp_requests.pb-c.h"
#include "bbs/validate_problems.h"
#include "desired_lrp.pb-c.h"
#include "domains.pb-c.h"
#include "evacuation.pb-c.h"

/* DesiredLRP and domain requests (5.2). */
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

#endif /* BBS_VALIDATE_REQUEST_H */
