/*
 * validate_task.h - Task request validation (pure core, reference part 2,
 * 11.3), in upstream's order and with its problem texts.
 *
 * Every validator reads its request (borrowed, never modified), appends
 * its problems to `p` and returns how many (0 = valid), as validate.h
 * describes. The TaskDefinition reuses the DesiredLRP parts (actions,
 * egress rules, cached dependencies, image layers and credentials) with
 * the task's own headers: an invalid egress rule is reported by its header
 * only. Not checked, as upstream: environment variables, volume mounts,
 * metric tags, mounted files, result file, callback URL, network, tags.
 */
#ifndef BBS_VALIDATE_TASK_H
#define BBS_VALIDATE_TASK_H

#include "bbs/validate_problems.h"
#include "task.pb-c.h"
#include "task_requests.pb-c.h"

/* d1..d12 of 11.3. */
int bbs_validate_task_definition(const Models__TaskDefinition *d, struct bbs_problems *p);

/* task_guid (guid pattern), domain, then the definition (absent: "task_definition"). */
int bbs_validate_desire_task(const Models__DesireTaskRequest *r, struct bbs_problems *p);
/* guid pattern, cell_id. */
int bbs_validate_start_task(const Models__StartTaskRequest *r, struct bbs_problems *p);
/* guid pattern, cell_id. */
int bbs_validate_complete_task(const Models__CompleteTaskRequest *r, struct bbs_problems *p);
/* guid pattern, failure_reason. */
int bbs_validate_fail_task(const Models__FailTaskRequest *r, struct bbs_problems *p);
/* guid pattern, rejection_reason reported as "failure_reason" (upstream's text). */
int bbs_validate_reject_task(const Models__RejectTaskRequest *r, struct bbs_problems *p);
/* task_guid non-empty (no charset check): cancel, resolving, delete. */
int bbs_validate_task_guid(const Models__TaskGuidRequest *r, struct bbs_problems *p);
/* task_guid non-empty (no charset check): get_by_task_guid. */
int bbs_validate_task_by_guid(const Models__TaskByGuidRequest *r, struct bbs_problems *p);

#endif /* BBS_VALIDATE_TASK_H */
