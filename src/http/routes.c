/*
 * routes.c - the route table (reference 1.4) and the front end every
 * route goes through (routes.h): decode, validate, call the handler.
 *
 * Validators keep their typed signatures (validate.h); VALIDATOR() makes
 * the generic wrapper a row holds, so no function pointer is ever cast.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "actual_lrp_requests.pb-c.h"
#include "bbs/codec.h"
#include "bbs/validate.h"
#include "bbs/validate_task.h"
#include "cells.pb-c.h"
#include "desired_lrp.pb-c.h"
#include "domains.pb-c.h"
#include "evacuation.pb-c.h"
#include "events.pb-c.h"
#include "handlers.h"
#include "ping.pb-c.h"
#include "task_requests.pb-c.h"

/* v_<fn>: bbs_validate_<fn> over a decoded message of request type `type`. */
#define VALIDATOR(fn, type)                                                                        \
    static int v_##fn(const ProtobufCMessage *msg, struct bbs_problems *p)                         \
    {                                                                                              \
        return bbs_validate_##fn((const type *)msg, p);                                            \
    }

VALIDATOR(upsert_domain, Models__UpsertDomainRequest)
VALIDATOR(by_guids, Models__ActualLRPsByProcessGuidsRequest)
VALIDATOR(groups_by_guid, Models__ActualLRPGroupsByProcessGuidRequest)
VALIDATOR(group_by_guid_index, Models__ActualLRPGroupByProcessGuidAndIndexRequest)
VALIDATOR(claim, Models__ClaimActualLRPRequest)
VALIDATOR(start, Models__StartActualLRPRequest)
VALIDATOR(crash, Models__CrashActualLRPRequest)
VALIDATOR(fail, Models__FailActualLRPRequest)
VALIDATOR(remove_actual, Models__RemoveActualLRPRequest)
VALIDATOR(retire, Models__RetireActualLRPRequest)
VALIDATOR(evacuate_claimed, Models__EvacuateClaimedActualLRPRequest)
VALIDATOR(evacuate_crashed, Models__EvacuateCrashedActualLRPRequest)
VALIDATOR(evacuate_stopped, Models__EvacuateStoppedActualLRPRequest)
VALIDATOR(evacuate_running, Models__EvacuateRunningActualLRPRequest)
VALIDATOR(remove_evacuating, Models__RemoveEvacuatingActualLRPRequest)
VALIDATOR(desire, Models__DesireLRPRequest)
VALIDATOR(update, Models__UpdateDesiredLRPRequest)
VALIDATOR(remove_desired, Models__RemoveDesiredLRPRequest)
VALIDATOR(desired_by_guid, Models__DesiredLRPByProcessGuidRequest)
VALIDATOR(desire_task, Models__DesireTaskRequest)
VALIDATOR(start_task, Models__StartTaskRequest)
VALIDATOR(complete_task, Models__CompleteTaskRequest)
VALIDATOR(fail_task, Models__FailTaskRequest)
VALIDATOR(reject_task, Models__RejectTaskRequest)
VALIDATOR(task_guid, Models__TaskGuidRequest)
VALIDATOR(task_by_guid, Models__TaskByGuidRequest)

/* A unary POST route: path, request, response (descriptor names without models__ / __descriptor),
 * validator (NULL or v_<fn>), handler, flags. */
#define POST(path, req, resp, validate, handler, flags)                                            \
    {                                                                                              \
        path, "POST", BBS_ROUTE_UNARY, req, &models__##resp##__descriptor, validate, handler,      \
            flags                                                                                  \
    }
#define REQ(name) (&models__##name##__descriptor)
/* An event stream route (server-sent events): no response message. */
#define STREAM(path, method, req, handler)                                                         \
    {                                                                                              \
        path, method, BBS_ROUTE_STREAM, req, NULL, NULL, handler, 0                                \
    }

static const struct bbs_route routes[] = {
    /* The bodies of ping and domains/list are not read, as upstream does. */
    POST("/v1/ping", NULL, ping_response, NULL, bbs_h_ping, 0),
    POST("/v1/domains/list", NULL, domains_response, NULL, bbs_h_domains_list, 0),
    POST("/v1/domains/upsert", REQ(upsert_domain_request), upsert_domain_response, v_upsert_domain,
         bbs_h_domains_upsert, 0),

    POST("/v1/actual_lrps/list", REQ(actual_lrps_request), actual_lrps_response, NULL,
         bbs_h_alrp_list, 0),
    POST("/v1/actual_lrps/list_by_process_guids", REQ(actual_lrps_by_process_guids_request),
         actual_lrps_by_process_guids_response, v_by_guids, bbs_h_alrp_list_by_guids, 0),
    POST("/v1/actual_lrp_groups/list", REQ(actual_lrpgroups_request), actual_lrpgroups_response,
         NULL, bbs_h_groups_list, 0),
    POST("/v1/actual_lrp_groups/list_by_process_guid",
         REQ(actual_lrpgroups_by_process_guid_request), actual_lrpgroups_response, v_groups_by_guid,
         bbs_h_groups_by_guid, 0),
    POST("/v1/actual_lrp_groups/get_by_process_guid_and_index",
         REQ(actual_lrpgroup_by_process_guid_and_index_request), actual_lrpgroup_response,
         v_group_by_guid_index, bbs_h_group_by_guid_index, 0),

    POST("/v1/actual_lrps/claim", REQ(claim_actual_lrprequest), actual_lrplifecycle_response,
         v_claim, bbs_h_claim, 0),
    POST("/v1/actual_lrps/start.r1", REQ(start_actual_lrprequest), actual_lrplifecycle_response,
         v_start, bbs_h_start_r1, BBS_ROUTE_QUICK_FIRST),
    POST("/v1/actual_lrps/start", REQ(start_actual_lrprequest), actual_lrplifecycle_response,
         v_start, bbs_h_start_r0, BBS_ROUTE_QUICK_FIRST),
    POST("/v1/actual_lrps/crash", REQ(crash_actual_lrprequest), actual_lrplifecycle_response,
         v_crash, bbs_h_crash, 0),
    POST("/v1/actual_lrps/fail", REQ(fail_actual_lrprequest), actual_lrplifecycle_response, v_fail,
         bbs_h_fail, 0),
    POST("/v1/actual_lrps/remove", REQ(remove_actual_lrprequest), actual_lrplifecycle_response,
         v_remove_actual, bbs_h_remove, 0),
    POST("/v1/actual_lrps/retire", REQ(retire_actual_lrprequest), actual_lrplifecycle_response,
         v_retire, bbs_h_retire, 0),

    POST("/v1/actual_lrps/evacuate_claimed", REQ(evacuate_claimed_actual_lrprequest),
         evacuation_response, v_evacuate_claimed, bbs_h_evacuate_claimed, BBS_ROUTE_KEEP_ON_ERROR),
    POST("/v1/actual_lrps/evacuate_crashed", REQ(evacuate_crashed_actual_lrprequest),
         evacuation_response, v_evacuate_crashed, bbs_h_evacuate_crashed, 0),
    POST("/v1/actual_lrps/evacuate_stopped", REQ(evacuate_stopped_actual_lrprequest),
         evacuation_response, v_evacuate_stopped, bbs_h_evacuate_stopped, 0),
    POST("/v1/actual_lrps/evacuate_running.r1", REQ(evacuate_running_actual_lrprequest),
         evacuation_response, v_evacuate_running, bbs_h_evacuate_running_r1,
         BBS_ROUTE_KEEP_ON_ERROR),
    POST("/v1/actual_lrps/evacuate_running", REQ(evacuate_running_actual_lrprequest),
         evacuation_response, v_evacuate_running, bbs_h_evacuate_running_r0,
         BBS_ROUTE_KEEP_ON_ERROR),
    POST("/v1/actual_lrps/remove_evacuating", REQ(remove_evacuating_actual_lrprequest),
         remove_evacuating_actual_lrpresponse, v_remove_evacuating, bbs_h_remove_evacuating, 0),

    POST("/v1/desired_lrp/desire.r2", REQ(desire_lrprequest), desired_lrplifecycle_response,
         v_desire, bbs_h_desire, 0),
    POST("/v1/desired_lrp/update", REQ(update_desired_lrprequest), desired_lrplifecycle_response,
         v_update, bbs_h_update_desired, 0),
    POST("/v1/desired_lrp/remove", REQ(remove_desired_lrprequest), desired_lrplifecycle_response,
         v_remove_desired, bbs_h_remove_desired, 0),
    POST("/v1/desired_lrps/list.r3", REQ(desired_lrps_request), desired_lrps_response, NULL,
         bbs_h_desired_list_r3, 0),
    POST("/v1/desired_lrps/list.r2", REQ(desired_lrps_request), desired_lrps_response, NULL,
         bbs_h_desired_list_r2, 0),
    POST("/v1/desired_lrps/get_by_process_guid.r3", REQ(desired_lrpby_process_guid_request),
         desired_lrpresponse, v_desired_by_guid, bbs_h_desired_get_r3, 0),
    POST("/v1/desired_lrps/get_by_process_guid.r2", REQ(desired_lrpby_process_guid_request),
         desired_lrpresponse, v_desired_by_guid, bbs_h_desired_get_r2, 0),
    POST("/v1/desired_lrp_scheduling_infos/list", REQ(desired_lrps_request),
         desired_lrpscheduling_infos_response, NULL, bbs_h_sched_list, 0),
    POST("/v1/desired_lrp_scheduling_infos/get_by_process_guid",
         REQ(desired_lrpby_process_guid_request),
         desired_lrpscheduling_info_by_process_guid_response, v_desired_by_guid, bbs_h_sched_get,
         0),
    POST("/v1/desired_lrp_routing_infos/list", REQ(desired_lrps_request), desired_lrps_response,
         NULL, bbs_h_routing_list, 0),

    /* The body of cells/list.r1 is not read, as upstream does. */
    POST("/v1/cells/list.r1", NULL, cells_response, NULL, bbs_h_cells_list, 0),
    /* The body of the task streams is not read, as upstream does. */
    STREAM("/v1/events/lrp_instances.r1", "POST", REQ(events_by_cell_id),
           bbs_h_events_instances_r1),
    STREAM("/v1/events/lrp_instances", "POST", REQ(events_by_cell_id), bbs_h_events_instances),
    STREAM("/v1/events.r1", "GET", REQ(events_by_cell_id), bbs_h_events_groups_r1),
    STREAM("/v1/events", "GET", REQ(events_by_cell_id), bbs_h_events_groups),
    STREAM("/v1/events/tasks.r1", "POST", NULL, bbs_h_events_tasks_r1),
    STREAM("/v1/events/tasks", "POST", NULL, bbs_h_events_tasks),

    /* Tasks (reference part 2, 11.1); any other /v1/tasks/... path is 404. */
    POST("/v1/tasks/list.r3", REQ(tasks_request), tasks_response, NULL, bbs_h_tasks_list_r3, 0),
    POST("/v1/tasks/get_by_task_guid.r3", REQ(task_by_guid_request), task_response, v_task_by_guid,
         bbs_h_task_get_r3, 0),
    POST("/v1/tasks/list.r2", REQ(tasks_request), tasks_response, NULL, bbs_h_tasks_list_r2, 0),
    POST("/v1/tasks/get_by_task_guid.r2", REQ(task_by_guid_request), task_response, v_task_by_guid,
         bbs_h_task_get_r2, 0),
    POST("/v1/tasks/desire.r2", REQ(desire_task_request), task_lifecycle_response, v_desire_task,
         bbs_h_task_desire, 0),
    POST("/v1/tasks/start", REQ(start_task_request), start_task_response, v_start_task,
         bbs_h_task_start, 0),
    POST("/v1/tasks/cancel", REQ(task_guid_request), task_lifecycle_response, v_task_guid,
         bbs_h_task_cancel, 0),
    POST("/v1/tasks/fail", REQ(fail_task_request), task_lifecycle_response, v_fail_task,
         bbs_h_task_fail, 0),
    POST("/v1/tasks/reject", REQ(reject_task_request), task_lifecycle_response, v_reject_task,
         bbs_h_task_reject, 0),
    POST("/v1/tasks/complete", REQ(complete_task_request), task_lifecycle_response, v_complete_task,
         bbs_h_task_complete, 0),
    POST("/v1/tasks/resolving", REQ(task_guid_request), task_lifecycle_response, v_task_guid,
         bbs_h_task_resolving, 0),
    POST("/v1/tasks/delete", REQ(task_guid_request), task_lifecycle_response, v_task_guid,
         bbs_h_task_delete, 0),

    /* Operator JSON (h_diag.c); the health listener answers the same paths. */
    {"/v1/discover", "GET", BBS_ROUTE_JSON, NULL, NULL, NULL, bbs_h_discover, 0},
    {"/v1/diagnostics", "GET", BBS_ROUTE_JSON, NULL, NULL, NULL, bbs_h_diagnostics, 0},
    {"/v1/stats", "GET", BBS_ROUTE_JSON, NULL, NULL, NULL, bbs_h_stats, 0},
};

const struct bbs_route *bbs_route_find(const char *path, const char *method, char *allow,
                                       size_t len)
{
    size_t used = 0;

    allow[0] = '\0';
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int n;

        if (strcmp(routes[i].path, path) != 0) {
            continue;
        }
        if (strcmp(routes[i].method, method) == 0) {
            return &routes[i];
        }
        n = snprintf(allow + used, len - used, "%s%s", used > 0 ? ", " : "", routes[i].method);
        if (n > 0 && (size_t)n < len - used) {
            used += (size_t)n;
        }
    }
    return NULL;
}

const struct bbs_route *bbs_route_at(size_t i)
{
    return i < sizeof(routes) / sizeof(routes[0]) ? &routes[i] : NULL;
}

size_t bbs_route_index(const struct bbs_route *route)
{
    return (size_t)(route - routes);
}

struct bbs_metrics *bbs_http_metrics_new(void)
{
    const char *paths[sizeof(routes) / sizeof(routes[0])];

    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        paths[i] = routes[i].path;
    }
    return bbs_metrics_new(paths, sizeof(routes) / sizeof(routes[0]));
}

int bbs_route_any(enum bbs_route_kind kind)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (routes[i].kind == kind) {
            return 1;
        }
    }
    return 0;
}

int bbs_route_run(const struct bbs_route *route, struct bbs_req *req, struct bbs_resp *resp,
                  struct bbs_error *err)
{
    const ProtobufCMessage *msg = NULL;
    struct bbs_problems p = {0};

    resp->keep_container = (route->flags & BBS_ROUTE_KEEP_ON_ERROR) != 0;
    if (route->request != NULL) {
        msg = bbs_codec_decode(req->arena, route->request, req->body, req->len, err);
        if (msg == NULL) {
            return -1;
        }
    }
    if (route->validate != NULL && route->validate(msg, &p) > 0) {
        bbs_invalid(err, p.text);
        return -1;
    }
    return route->handler(req, msg, resp, err);
}

int64_t bbs_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void bbs_invalid(struct bbs_error *err, const char *problems)
{
    bbs_error_setf(err, BBS_ERR_INVALID_REQUEST, "%s", problems);
}
