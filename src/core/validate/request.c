/*
 * request.c - the small requests (see validate_request.h): ActualLRP,
 * evacuation and domain requests, and the DesiredLRP requests that carry
 * only a process guid.
 */
#include <stdint.h>

#include "bbs/validate_request.h"
#include "validate_int.h"

static int v_process_guid(const char *process_guid, struct bbs_problems *p)
{
    return empty(process_guid) ? bbs_problems_field(p, "process_guid") : 0;
}

int bbs_validate_remove_desired(const Models__RemoveDesiredLRPRequest *req, struct bbs_problems *p)
{
    return v_process_guid(req == NULL ? NULL : req->process_guid, p);
}

int bbs_validate_desired_by_guid(const Models__DesiredLRPByProcessGuidRequest *req,
                                 struct bbs_problems *p)
{
    return v_process_guid(req == NULL ? NULL : req->process_guid, p);
}

int bbs_validate_upsert_domain(const Models__UpsertDomainRequest *req, struct bbs_problems *p)
{
    return req == NULL || empty(req->domain) ? bbs_problems_field(p, "domain") : 0;
}

/* ---- ActualLRP requests (2.3, 2.4) ---- */

static int v_key(const Models__ActualLRPKey *k, struct bbs_problems *p)
{
    int n = 0;

    if (k == NULL) {
        return bbs_problems_field(p, "actual_lrp_key");
    }
    if (empty(k->process_guid)) {
        n += bbs_problems_field(p, "process_guid");
    }
    if (k->index < 0) {
        n += bbs_problems_field(p, "index");
    }
    if (empty(k->domain)) {
        n += bbs_problems_field(p, "domain");
    }
    return n;
}

static int v_instance_key(const Models__ActualLRPInstanceKey *k, struct bbs_problems *p)
{
    int n = 0;

    if (k == NULL) {
        return bbs_problems_field(p, "actual_lrp_instance_key");
    }
    if (empty(k->cell_id)) {
        n += bbs_problems_field(p, "cell_id");
    }
    if (empty(k->instance_guid)) {
        n += bbs_problems_field(p, "instance_guid");
    }
    return n;
}

static int v_net_info(const Models__ActualLRPNetInfo *ni, struct bbs_problems *p)
{
    if (ni == NULL) {
        return bbs_problems_field(p, "actual_lrp_net_info");
    }
    return empty(ni->address) ? bbs_problems_field(p, "address") : 0;
}

static int v_error_message(const char *msg, struct bbs_problems *p)
{
    return empty(msg) ? bbs_problems_field(p, "error_message") : 0;
}

static int v_index(int32_t index, struct bbs_problems *p)
{
    return index < 0 ? bbs_problems_field(p, "index") : 0;
}

/* A NULL request reads as an empty message: every required part missing. */
int bbs_validate_claim(const Models__ClaimActualLRPRequest *r, struct bbs_problems *p)
{
    int n = 0;

    n += v_process_guid(r == NULL ? NULL : r->process_guid, p);
    n += v_instance_key(r == NULL ? NULL : r->actual_lrp_instance_key, p);
    return n;
}

int bbs_validate_start(const Models__StartActualLRPRequest *r, struct bbs_problems *p)
{
    int n = 0;

    n += v_key(r == NULL ? NULL : r->actual_lrp_key, p);
    n += v_instance_key(r == NULL ? NULL : r->actual_lrp_instance_key, p);
    n += v_net_info(r == NULL ? NULL : r->actual_lrp_net_info, p);
    return n;
}

int bbs_validate_crash(const Models__CrashActualLRPRequest *r, struct bbs_problems *p)
{
    int n = 0;

    n += v_key(r == NULL ? NULL : r->actual_lrp_key, p);
    n += v_instance_key(r == NULL ? NULL : r->actual_lrp_instance_key, p);
    return n;
}

int bbs_validate_fail(const Models__FailActualLRPRequest *r, struct bbs_problems *p)
{
    int n = 0;

    n += v_key(r == NULL ? NULL : r->actual_lrp_key, p);
    n += v_error_message(r == NULL ? NULL : r->error_message, p);
    return n;
}

int bbs_validate_retire(const Models__RetireActualLRPRequest *r, struct bbs_problems *p)
{
    return v_key(r == NULL ? NULL : r->actual_lrp_key, p);
}

int bbs_validate_remove_actual(const Models__RemoveActualLRPRequest *r, struct bbs_problems *p)
{
    int n = 0;

    n += v_process_guid(r == NULL ? NULL : r->process_guid, p);
    n += v_index(r == NULL ? 0 : r->index, p);
    return n;
}

int bbs_validate_by_guids(const Models__ActualLRPsByProcessGuidsRequest *r, struct bbs_problems *p)
{
    if (r == NULL || r->n_process_guids == 0) {
        return bbs_problems_note(p, "process_guids must not be empty");
    }
    return 0;
}

int bbs_validate_groups_by_guid(const Models__ActualLRPGroupsByProcessGuidRequest *r,
                                struct bbs_problems *p)
{
    return v_process_guid(r == NULL ? NULL : r->process_guid, p);
}

int bbs_validate_group_by_guid_index(const Models__ActualLRPGroupByProcessGuidAndIndexRequest *r,
                                     struct bbs_problems *p)
{
    int n = 0;

    n += v_process_guid(r == NULL ? NULL : r->process_guid, p);
    n += v_index(r == NULL ? 0 : r->index, p);
    return n;
}

/* ---- evacuation requests (2.5) ---- */

int bbs_validate_evacuate_claimed(const Models__EvacuateClaimedActualLRPRequest *r,
                                  struct bbs_problems *p)
{
    int n = 0;

    n += v_key(r == NULL ? NULL : r->actual_lrp_key, p);
    n += v_instance_key(r == NULL ? NULL : r->actual_lrp_instance_key, p);
    return n;
}

int bbs_validate_evacuate_crashed(const Models__EvacuateCrashedActualLRPRequest *r,
                                  struct bbs_problems *p)
{
    int n = 0;

    n += v_key(r == NULL ? NULL : r->actual_lrp_key, p);
    n += v_instance_key(r == NULL ? NULL : r->actual_lrp_instance_key, p);
    n += v_error_message(r == NULL ? NULL : r->error_message, p);
    return n;
}

int bbs_validate_evacuate_stopped(const Models__EvacuateStoppedActualLRPRequest *r,
                                  struct bbs_problems *p)
{
    int n = 0;

    n += v_key(r == NULL ? NULL : r->actual_lrp_key, p);
    n += v_instance_key(r == NULL ? NULL : r->actual_lrp_instance_key, p);
    return n;
}

int bbs_validate_evacuate_running(const Models__EvacuateRunningActualLRPRequest *r,
                                  struct bbs_problems *p)
{
    int n = 0;

    n += v_key(r == NULL ? NULL : r->actual_lrp_key, p);
    n += v_instance_key(r == NULL ? NULL : r->actual_lrp_instance_key, p);
    n += v_net_info(r == NULL ? NULL : r->actual_lrp_net_info, p);
    return n;
}

int bbs_validate_remove_evacuating(const Models__RemoveEvacuatingActualLRPRequest *r,
                                   struct bbs_problems *p)
{
    int n = 0;

    n += v_key(r == NULL ? NULL : r->actual_lrp_key, p);
    n += v_instance_key(r == NULL ? NULL : r->actual_lrp_instance_key, p);
    return n;
}
