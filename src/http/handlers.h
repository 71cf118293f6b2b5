/*
 * handlers.h - private to the HTTP target: the handlers of the route
 * table (routes.c), under the contract of routes.h: each gets the decoded
 * and validated request and only decides (calls the store, fills the
 * answer or returns -1 with err).
 */
#ifndef BBS_HANDLERS_H
#define BBS_HANDLERS_H

#include <stdint.h>

#include "routes.h"

/* Wall clock in ns since the epoch (handlers pass it to the store/core). */
int64_t bbs_now_ns(void);

/* Format a validation failure: InvalidRequest with the joined problems. */
void bbs_invalid(struct bbs_error *err, const char *problems);

/* Declares one handler with the bbs_route_handler signature. */
#define BBS_HANDLER(name)                                                                          \
    int name(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,              \
             struct bbs_error *err)

/* ping, domains (h_misc.c) */
BBS_HANDLER(bbs_h_ping);
BBS_HANDLER(bbs_h_domains_upsert);
BBS_HANDLER(bbs_h_domains_list);

/* actual LRP reads and lifecycle (h_actual.c) */
BBS_HANDLER(bbs_h_alrp_list);
BBS_HANDLER(bbs_h_alrp_list_by_guids);
BBS_HANDLER(bbs_h_groups_list);
BBS_HANDLER(bbs_h_groups_by_guid);
BBS_HANDLER(bbs_h_group_by_guid_index);
BBS_HANDLER(bbs_h_claim);
BBS_HANDLER(bbs_h_start_r1);
BBS_HANDLER(bbs_h_start_r0);
BBS_HANDLER(bbs_h_crash);
BBS_HANDLER(bbs_h_fail);
BBS_HANDLER(bbs_h_remove);
BBS_HANDLER(bbs_h_retire);

/* evacuation (h_evac.c) */
BBS_HANDLER(bbs_h_evacuate_claimed);
BBS_HANDLER(bbs_h_evacuate_crashed);
BBS_HANDLER(bbs_h_evacuate_stopped);
BBS_HANDLER(bbs_h_evacuate_running_r1);
BBS_HANDLER(bbs_h_evacuate_running_r0);
BBS_HANDLER(bbs_h_remove_evacuating);

/* desired LRPs (h_desired.c) */
BBS_HANDLER(bbs_h_desire);
BBS_HANDLER(bbs_h_update_desired);
BBS_HANDLER(bbs_h_remove_desired);
BBS_HANDLER(bbs_h_desired_list_r3);
BBS_HANDLER(bbs_h_desired_list_r2);
BBS_HANDLER(bbs_h_desired_get_r3);
BBS_HANDLER(bbs_h_desired_get_r2);
BBS_HANDLER(bbs_h_sched_list);
BBS_HANDLER(bbs_h_sched_get);
BBS_HANDLER(bbs_h_routing_list);

/* cells (h_cell.c) */
BBS_HANDLER(bbs_h_cells_list);

/* event streams (h_events.c) */
BBS_HANDLER(bbs_h_events_instances_r1);
BBS_HANDLER(bbs_h_events_instances);
BBS_HANDLER(bbs_h_events_groups_r1);
BBS_HANDLER(bbs_h_events_groups);
BBS_HANDLER(bbs_h_events_tasks_r1);
BBS_HANDLER(bbs_h_events_tasks);

/* tasks (h_task.c) */
BBS_HANDLER(bbs_h_tasks_list_r3);
BBS_HANDLER(bbs_h_tasks_list_r2);
BBS_HANDLER(bbs_h_task_get_r3);
BBS_HANDLER(bbs_h_task_get_r2);
BBS_HANDLER(bbs_h_task_desire);
BBS_HANDLER(bbs_h_task_start);
BBS_HANDLER(bbs_h_task_cancel);
BBS_HANDLER(bbs_h_task_fail);
BBS_HANDLER(bbs_h_task_reject);
BBS_HANDLER(bbs_h_task_complete);
BBS_HANDLER(bbs_h_task_resolving);
BBS_HANDLER(bbs_h_task_delete);

/* operator JSON: discover, diagnostics, stats (h_diag.c; resp->body is the JSON text) */
BBS_HANDLER(bbs_h_discover);
BBS_HANDLER(bbs_h_diagnostics);
BBS_HANDLER(bbs_h_stats);

#endif /* BBS_HANDLERS_H */
