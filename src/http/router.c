/*
 * router.c - the static route table (reference 1.4).
 */
#include <string.h>
#include <time.h>

#include "handlers.h"

static const struct bbs_route routes[] = {
    {"/v1/ping", bbs_h_ping, 0},
    {"/v1/domains/list", bbs_h_domains_list, 0},
    {"/v1/domains/upsert", bbs_h_domains_upsert, 0},

    {"/v1/actual_lrps/list", bbs_h_alrp_list, 0},
    {"/v1/actual_lrps/list_by_process_guids", bbs_h_alrp_list_by_guids, 0},
    {"/v1/actual_lrp_groups/list", bbs_h_groups_list, 0},
    {"/v1/actual_lrp_groups/list_by_process_guid", bbs_h_groups_by_guid, 0},
    {"/v1/actual_lrp_groups/get_by_process_guid_and_index", bbs_h_group_by_guid_index, 0},

    {"/v1/actual_lrps/claim", bbs_h_claim, 0},
    {"/v1/actual_lrps/start.r1", bbs_h_start_r1, 0},
    {"/v1/actual_lrps/start", bbs_h_start_r0, 0},
    {"/v1/actual_lrps/crash", bbs_h_crash, 0},
    {"/v1/actual_lrps/fail", bbs_h_fail, 0},
    {"/v1/actual_lrps/remove", bbs_h_remove, 0},
    {"/v1/actual_lrps/retire", bbs_h_retire, 0},

    {"/v1/actual_lrps/evacuate_claimed", bbs_h_evacuate_claimed, BBS_ROUTE_KEEP_ON_ERROR},
    {"/v1/actual_lrps/evacuate_crashed", bbs_h_evacuate_crashed, 0},
    {"/v1/actual_lrps/evacuate_stopped", bbs_h_evacuate_stopped, 0},
    {"/v1/actual_lrps/evacuate_running.r1", bbs_h_evacuate_running_r1, BBS_ROUTE_KEEP_ON_ERROR},
    {"/v1/actual_lrps/evacuate_running", bbs_h_evacuate_running_r0, BBS_ROUTE_KEEP_ON_ERROR},
    {"/v1/actual_lrps/remove_evacuating", bbs_h_remove_evacuating, 0},

    {"/v1/desired_lrp/desire.r2", bbs_h_desire, 0},
    {"/v1/desired_lrp/update", bbs_h_update_desired, 0},
    {"/v1/desired_lrp/remove", bbs_h_remove_desired, 0},
    {"/v1/desired_lrps/list.r3", bbs_h_desired_list_r3, 0},
    {"/v1/desired_lrps/list.r2", bbs_h_desired_list_r2, 0},
    {"/v1/desired_lrps/get_by_process_guid.r3", bbs_h_desired_get_r3, 0},
    {"/v1/desired_lrps/get_by_process_guid.r2", bbs_h_desired_get_r2, 0},
    {"/v1/desired_lrp_scheduling_infos/list", bbs_h_sched_list, 0},
    {"/v1/desired_lrp_scheduling_infos/get_by_process_guid", bbs_h_sched_get, 0},
    {"/v1/desired_lrp_routing_infos/list", bbs_h_routing_list, 0},
};

const struct bbs_route *bbs_route_find(const char *path)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(routes[i].path, path) == 0) {
            return &routes[i];
        }
    }
    return NULL;
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
