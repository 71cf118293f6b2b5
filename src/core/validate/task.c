/*
 * task.c - Task request validation (see validate_task.h, reference part 2,
 * 11.3). The definition's rules are weaker than a DesiredLRP's; the
 * shared parts come from the DesiredLRP validators.
 */
#include <stdint.h>

#include "bbs/validate_action.h"
#include "bbs/validate_egress.h"
#include "bbs/validate_image.h"
#include "bbs/validate_lex.h"
#include "bbs/validate_task.h"
#include "validate_int.h"

#define CPU_WEIGHT_MAX 100

int bbs_validate_task_definition(const Models__TaskDefinition *d, struct bbs_problems *p)
{
    int n = 0;

    /* d1: an empty rootfs is one problem, the URL check only runs on a value. */
    if (empty(d->root_fs) || !bbs_validate_rootfs_url_ok(d->root_fs)) {
        n += bbs_problems_field(p, "rootfs");
    }
    if (d->action == NULL) { /* d2 */
        n += bbs_problems_note(p, "invalid action type");
    } else {
        n += bbs_validate_named_action("action", d->action, p);
    }
    if (d->cpu_weight > CPU_WEIGHT_MAX) { /* d2'' (upstream v2.82.0) */
        n += bbs_problems_field(p, "cpu_weight");
    }
    if (d->memory_mb < 0) {
        n += bbs_problems_field(p, "memory_mb");
    }
    if (d->disk_mb < 0) {
        n += bbs_problems_field(p, "disk_mb");
    }
    if (d->log_rate_limit != NULL && d->log_rate_limit->bytes_per_second < -1) {
        n += bbs_problems_field(p, "log_rate_limit");
    }
    if (d->max_pids < 0) {
        n += bbs_problems_field(p, "max_pids");
    }
    if (slen(d->annotation) > BBS_VALIDATE_ANNOTATION_MAX) {
        n += bbs_problems_field(p, "annotation");
    }
    for (size_t i = 0; i < d->n_egress_rules; i++) { /* d8: the header only */
        const Models__SecurityGroupRule *r = d->egress_rules[i];

        if (r != NULL && bbs_validate_egress_rule(r, NULL) > 0) {
            n += bbs_problems_field(p, "egress_rules");
        }
    }
    n += bbs_validate_image_credentials(d->image_username, d->image_password, p);
    n += bbs_validate_cached_dependencies(d->cached_dependencies, d->n_cached_dependencies, p);
    n += bbs_validate_image_layers(d->image_layers, d->n_image_layers, d->legacy_download_user, p);
    return n;
}

/* The guid pattern check of the lifecycle requests. */
static int guid(const char *g, struct bbs_problems *p)
{
    return bbs_validate_guid_ok(g) ? 0 : bbs_problems_field(p, "task_guid");
}

int bbs_validate_desire_task(const Models__DesireTaskRequest *r, struct bbs_problems *p)
{
    int n = guid(r->task_guid, p);

    if (empty(r->domain)) {
        n += bbs_problems_field(p, "domain");
    }
    if (r->task_definition == NULL) {
        n += bbs_problems_field(p, "task_definition");
    } else {
        n += bbs_validate_task_definition(r->task_definition, p);
    }
    return n;
}

int bbs_validate_start_task(const Models__StartTaskRequest *r, struct bbs_problems *p)
{
    int n = guid(r->task_guid, p);

    if (empty(r->cell_id)) {
        n += bbs_problems_field(p, "cell_id");
    }
    return n;
}

int bbs_validate_complete_task(const Models__CompleteTaskRequest *r, struct bbs_problems *p)
{
    int n = guid(r->task_guid, p);

    if (empty(r->cell_id)) {
        n += bbs_problems_field(p, "cell_id");
    }
    return n;
}

int bbs_validate_fail_task(const Models__FailTaskRequest *r, struct bbs_problems *p)
{
    int n = guid(r->task_guid, p);

    if (empty(r->failure_reason)) {
        n += bbs_problems_field(p, "failure_reason");
    }
    return n;
}

int bbs_validate_reject_task(const Models__RejectTaskRequest *r, struct bbs_problems *p)
{
    int n = guid(r->task_guid, p);

    if (empty(r->rejection_reason)) {
        n += bbs_problems_field(p, "failure_reason"); /* sic: upstream names the wrong field */
    }
    return n;
}

int bbs_validate_task_guid(const Models__TaskGuidRequest *r, struct bbs_problems *p)
{
    return empty(r->task_guid) ? bbs_problems_field(p, "task_guid") : 0;
}

int bbs_validate_task_by_guid(const Models__TaskByGuidRequest *r, struct bbs_problems *p)
{
    return empty(r->task_guid) ? bbs_problems_field(p, "task_guid") : 0;
}
