/*
 * api_cmds.c - the commands that talk to a BBS over its API: cfdot's (same
 * names, flags, arguments, messages, output and exit statuses; each one
 * calls the route upstream's Go client calls for it) and `status`.
 *
 * Each command: api_parse (flags, --help, BBS URL and TLS checks), its own
 * argument checks (cfdot's messages, exit 3), the call(s), then one JSON
 * value per line on stdout. The event commands live in api_events.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "actual_lrp_requests.pb-c.h"
#include "cells.pb-c.h"
#include "desired_lrp.pb-c.h"
#include "domains.pb-c.h"
#include "task_requests.pb-c.h"

#include "api.h"
#include "bbs/buf.h"
#include "bbs/gojson.h"
#include "bbsctl.h"

#define ERR_MISSING_ARGS "Missing arguments"
#define ERR_EXTRA_ARGS   "Too many arguments specified"
#define ERR_PROCESS_GUID "Process guid should be non empty string"
#define ERR_INDEX        "Index must be a non-negative integer"

#define NFLAGS(a) (sizeof(a) / sizeof((a)[0]))

/* Unpacked answers are freed through their base. */
static void free_msg(void *m)
{
    if (m != NULL) {
        protobuf_c_message_free_unpacked(m, NULL);
    }
}

/* Print every message of a repeated field; 0 or 1 (an output error). */
static int print_all(void *const *items, size_t n)
{
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        if (api_print(items[i]) != 0) {
            rc = 1;
        }
    }
    return rc;
}

/* A call with no output; 0 or the failure's exit status. */
static int call_only(const struct api_cmd *c, const char *path, const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *resp_desc)
{
    struct bbsctl_failure f;
    ProtobufCMessage *resp = NULL;

    if (bbsctl_call(&c->target, path, req, resp_desc, &resp, &f) != 0) {
        return api_fail(&f);
    }
    free_msg(resp);
    return 0;
}

/* cfdot's ValidateDesiredLRPArguments and friends: exactly one non-empty guid. */
static int one_guid(const struct api_cmd *c, const char *empty_msg)
{
    if (c->nargs == 0) {
        return api_invalid(c, ERR_MISSING_ARGS);
    }
    if (c->nargs > 1) {
        return api_invalid(c, ERR_EXTRA_ARGS);
    }
    if (c->args[0][0] == '\0') {
        return api_invalid(c, "%s", empty_msg);
    }
    return 0;
}

static int no_args(const struct api_cmd *c)
{
    return c->nargs > 0 ? api_invalid(c, ERR_EXTRA_ARGS) : 0;
}

/* ---- actual LRPs ------------------------------------------------------------------------- */

static int cmd_actual_lrps(int argc, char **argv)
{
    struct api_flag flags[] = {
        API_FLAG_DEF("domain", 'd', API_FLAG_STRING,
                     "retrieve only actual lrps for the given domain"),
        API_FLAG_DEF("cell-id", 'c', API_FLAG_STRING,
                     "retrieve only actual lrps for the given cell id"),
        API_FLAG_DEF("process-guid", 'p', API_FLAG_STRING,
                     "retrieve only actual lrps for the given process guid"),
        API_FLAG_DEF("index", 'i', API_FLAG_INT32, "retrieve only actual lrps for the given index"),
    };
    struct api_cmd c = API_CMD_FLAGS("actual-lrps", "actual-lrps", "List actual LRPs from the BBS",
                                     API_COMMON_BBS_TIMEOUT, flags, NFLAGS(flags));
    Models__ActualLRPsRequest req = MODELS__ACTUAL_LRPS_REQUEST__INIT;
    Models__ActualLRPsResponse *resp = NULL;
    struct bbsctl_failure f;
    int rc = api_parse(&c, argc, argv);

    if (rc >= 0 || (rc = no_args(&c)) != 0) {
        goto out;
    }
    req.domain = (char *)(flags[0].s ? flags[0].s : "");
    req.cell_id = (char *)(flags[1].s ? flags[1].s : "");
    req.process_guid = (char *)(flags[2].s ? flags[2].s : "");
    if (flags[3].changed) {
        req.optional_index_case = MODELS__ACTUAL_LRPS_REQUEST__OPTIONAL_INDEX_INDEX;
        req.index = (int32_t)flags[3].i;
    }
    if (bbsctl_call(&c.target, "/v1/actual_lrps/list", &req.base,
                    &models__actual_lrps_response__descriptor, (ProtobufCMessage **)&resp,
                    &f) != 0) {
        rc = api_fail(&f);
        goto out;
    }
    rc = print_all((void *const *)resp->actual_lrps, resp->n_actual_lrps);

out:
    free_msg(resp);
    api_done(&c);
    return rc < 0 ? 0 : rc;
}

static int cmd_retire_actual_lrp(int argc, char **argv)
{
    struct api_cmd c =
        API_CMD("retire-actual-lrp", "retire-actual-lrp PROCESS_GUID INDEX",
                "Retire actual LRP by index and process guid", API_COMMON_BBS_TIMEOUT);
    Models__DesiredLRPByProcessGuidRequest get = MODELS__DESIRED_LRPBY_PROCESS_GUID_REQUEST__INIT;
    Models__DesiredLRPResponse *dlrp = NULL;
    Models__RetireActualLRPRequest req = MODELS__RETIRE_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;
    struct bbsctl_failure f;
    int rc = api_parse(&c, argc, argv);
    char *end = NULL;
    long index;

    if (rc >= 0) {
        goto out;
    }
    if (c.nargs < 2) {
        rc = api_invalid(&c, ERR_MISSING_ARGS);
        goto out;
    }
    if (c.nargs > 2) {
        rc = api_invalid(&c, ERR_EXTRA_ARGS);
        goto out;
    }
    if (c.args[0][0] == '\0') {
        rc = api_invalid(&c, ERR_PROCESS_GUID);
        goto out;
    }
    index = strtol(c.args[1], &end, 10);
    if (c.args[1][0] == '\0' || *end != '\0' || index < 0 || index > INT32_MAX) {
        rc = api_invalid(&c, ERR_INDEX);
        goto out;
    }
    /* As cfdot: the key's domain comes from the desired LRP. */
    get.process_guid = c.args[0];
    if (bbsctl_call(&c.target, "/v1/desired_lrps/get_by_process_guid.r3", &get.base,
                    &models__desired_lrpresponse__descriptor, (ProtobufCMessage **)&dlrp,
                    &f) != 0) {
        rc = api_fail(&f);
        goto out;
    }
    key.process_guid = c.args[0];
    key.index = (int32_t)index;
    key.domain = dlrp->desired_lrp != NULL ? dlrp->desired_lrp->domain : (char *)"";
    req.actual_lrp_key = &key;
    rc = call_only(&c, "/v1/actual_lrps/retire", &req.base,
                   &models__actual_lrplifecycle_response__descriptor);

out:
    free_msg(dlrp);
    api_done(&c);
    return rc < 0 ? 0 : rc;
}

/* ---- desired LRPs ------------------------------------------------------------------------ */

/* desired-lrps and desired-lrp-scheduling-infos: the same filter, different routes. */
static int list_desired(int argc, char **argv, int scheduling)
{
    struct api_flag flags[] = {
        API_FLAG_DEF("domain", 'd', API_FLAG_STRING,
                     scheduling ? "retrieve only scheduling infos for the given domain"
                                : "retrieve only desired lrps for the given domain"),
    };
    struct api_cmd c = API_CMD_FLAGS(scheduling ? "desired-lrp-scheduling-infos" : "desired-lrps",
                                     scheduling ? "desired-lrp-scheduling-infos" : "desired-lrps",
                                     scheduling ? "List desired LRP scheduling infos from the BBS"
                                                : "List desired LRPs from the BBS",
                                     API_COMMON_BBS_TIMEOUT, flags, NFLAGS(flags));
    Models__DesiredLRPsRequest req = MODELS__DESIRED_LRPS_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    struct bbsctl_failure f;
    int rc = api_parse(&c, argc, argv);

    if (rc >= 0 || (rc = api_conflicting(&c, "-d", "--domain")) != 0 || (rc = no_args(&c)) != 0) {
        goto out;
    }
    req.domain = (char *)(flags[0].s ? flags[0].s : "");
    if (scheduling) {
        if (bbsctl_call(&c.target, "/v1/desired_lrp_scheduling_infos/list", &req.base,
                        &models__desired_lrpscheduling_infos_response__descriptor, &resp,
                        &f) != 0) {
            rc = api_fail(&f);
            goto out;
        }
        const Models__DesiredLRPSchedulingInfosResponse *r = (const void *)resp;
        rc = print_all((void *const *)r->desired_lrp_scheduling_infos,
                       r->n_desired_lrp_scheduling_infos);
    } else {
        if (bbsctl_call(&c.target, "/v1/desired_lrps/list.r3", &req.base,
                        &models__desired_lrps_response__descriptor, &resp, &f) != 0) {
            rc = api_fail(&f);
            goto out;
        }
        const Models__DesiredLRPsResponse *r = (const void *)resp;
        rc = print_all((void *const *)r->desired_lrps, r->n_desired_lrps);
    }

out:
    free_msg(resp);
    api_done(&c);
    return rc < 0 ? 0 : rc;
}

static int cmd_desired_lrps(int argc, char **argv)
{
    return list_desired(argc, argv, 0);
}

static int cmd_desired_lrp_scheduling_infos(int argc, char **argv)
{
    return list_desired(argc, argv, 1);
}

static int cmd_desired_lrp(int argc, char **argv)
{
    struct api_cmd c =
        API_CMD("desired-lrp", "desired-lrp PROCESS_GUID",
                "Show the desired LRP specified by the given process GUID", API_COMMON_BBS_TIMEOUT);
    Models__DesiredLRPByProcessGuidRequest req = MODELS__DESIRED_LRPBY_PROCESS_GUID_REQUEST__INIT;
    Models__DesiredLRPResponse *resp = NULL;
    struct bbsctl_failure f;
    int rc = api_parse(&c, argc, argv);

    if (rc >= 0 || (rc = one_guid(&c, ERR_PROCESS_GUID)) != 0) {
        goto out;
    }
    req.process_guid = c.args[0];
    if (bbsctl_call(&c.target, "/v1/desired_lrps/get_by_process_guid.r3", &req.base,
                    &models__desired_lrpresponse__descriptor, (ProtobufCMessage **)&resp,
                    &f) != 0) {
        rc = api_fail(&f);
        goto out;
    }
    if (resp->desired_lrp != NULL) {
        rc = api_print(&resp->desired_lrp->base) != 0;
    }

out:
    free_msg(resp);
    api_done(&c);
    return rc < 0 ? 0 : rc;
}

static int cmd_create_desired_lrp(int argc, char **argv)
{
    struct api_cmd c =
        API_CMD("create-desired-lrp", "create-desired-lrp (SPEC|@FILE)",
                "Create a desired LRP from the given spec. Spec can either be json "
                "encoded desired-lrp, e.g. '{\"process_guid\":\"some-guid\"}' or a file "
                "containing json encoded desired-lrp, e.g. @/path/to/spec/file",
                API_COMMON_BBS_TIMEOUT);
    Models__DesireLRPRequest req = MODELS__DESIRE_LRPREQUEST__INIT;
    ProtobufCMessage *spec = NULL;
    char why[1024];
    int rc = api_parse(&c, argc, argv);

    if (rc >= 0) {
        goto out;
    }
    if (c.nargs != 1) {
        rc = api_invalid(&c, "missing spec argument");
        goto out;
    }
    spec = api_read_spec(&models__desired_lrp__descriptor, c.args[0], why, sizeof(why));
    if (spec == NULL) {
        rc = api_invalid(&c, "%s", why);
        goto out;
    }
    req.desired_lrp = (Models__DesiredLRP *)spec;
    rc = call_only(&c, "/v1/desired_lrp/desire.r2", &req.base,
                   &models__desired_lrplifecycle_response__descriptor);

out:
    free_msg(spec);
    api_done(&c);
    return rc < 0 ? 0 : rc;
}

static int cmd_update_desired_lrp(int argc, char **argv)
{
    struct api_cmd c =
        API_CMD("update-desired-lrp", "update-desired-lrp process-guid (SPEC|@FILE)",
                "Update a desired LRP for a process-guid with the given spec. Spec can "
                "either be json encoded update to a desired-lrp, e.g. "
                "'{\"instances\":\"4\"}', or a file containing json encoded update to a "
                "desired-lrp, e.g. @/path/to/spec/file",
                API_COMMON_BBS_TIMEOUT);
    Models__UpdateDesiredLRPRequest req = MODELS__UPDATE_DESIRED_LRPREQUEST__INIT;
    ProtobufCMessage *spec = NULL;
    char why[1024];
    int rc = api_parse(&c, argc, argv);

    if (rc >= 0) {
        goto out;
    }
    if (c.nargs != 2) {
        rc = api_invalid(&c, ERR_MISSING_ARGS);
        goto out;
    }
    spec = api_read_spec(&models__desired_lrpupdate__descriptor, c.args[1], why, sizeof(why));
    if (spec == NULL) {
        rc = api_invalid(&c, "%s", why);
        goto out;
    }
    req.process_guid = c.args[0];
    req.update = (Models__DesiredLRPUpdate *)spec;
    rc = call_only(&c, "/v1/desired_lrp/update", &req.base,
                   &models__desired_lrplifecycle_response__descriptor);

out:
    free_msg(spec);
    api_done(&c);
    return rc < 0 ? 0 : rc;
}

static int cmd_delete_desired_lrp(int argc, char **argv)
{
    struct api_cmd c =
        API_CMD("delete-desired-lrp", "delete-desired-lrp PROCESS_GUID",
                "Delete a desired LRP with the given process guid.", API_COMMON_BBS_TIMEOUT);
    Models__RemoveDesiredLRPRequest req = MODELS__REMOVE_DESIRED_LRPREQUEST__INIT;
    int rc = api_parse(&c, argc, argv);

    if (rc >= 0 || (rc = one_guid(&c, ERR_PROCESS_GUID)) != 0) {
        goto out;
    }
    req.process_guid = c.args[0];
    rc = call_only(&c, "/v1/desired_lrp/remove", &req.base,
                   &models__desired_lrplifecycle_response__descriptor);

out:
    api_done(&c);
    return rc < 0 ? 0 : rc;
}

/* ---- domains ----------------------------------------------------------------------------- */

static int cmd_domains(int argc, char **argv)
{
    struct api_cmd c =
        API_CMD("domains", "domains", "List fresh domains from the BBS", API_COMMON_BBS_TIMEOUT);
    Models__DomainsResponse *resp = NULL;
    struct bbsctl_failure f;
    int rc = api_parse(&c, argc, argv);

    if (rc >= 0 || (rc = no_args(&c)) != 0) {
        goto out;
    }
    if (bbsctl_call(&c.target, "/v1/domains/list", NULL, &models__domains_response__descriptor,
                    (ProtobufCMessage **)&resp, &f) != 0) {
        rc = api_fail(&f);
        goto out;
    }
    /* A domain is a Go string: encoding/json writes it as a JSON string. */
    for (size_t i = 0; i < resp->n_domains; i++) {
        struct bbs_buf b = {0};
        bbs_gojson_string(&b, resp->domains[i]);
        bbs_buf_putc(&b, '\n');
        fwrite(b.data, 1, b.len, stdout);
        bbs_buf_free(&b);
    }
    rc = 0;

out:
    free_msg(resp);
    api_done(&c);
    return rc < 0 ? 0 : rc;
}

static int cmd_set_domain(int argc, char **argv)
{
    struct api_flag flags[] = {
        API_FLAG_DEF("ttl", 't', API_FLAG_DURATION, "ttl of domain"),
    };
    struct api_cmd c =
        API_CMD_FLAGS("set-domain", "set-domain DOMAIN",
                      "Mark a domain as fresh for ttl seconds, where 0 or non-specified means "
                      "keep fresh permanently",
                      API_COMMON_BBS_TIMEOUT, flags, NFLAGS(flags));
    Models__UpsertDomainRequest req = MODELS__UPSERT_DOMAIN_REQUEST__INIT;
    int rc = api_parse(&c, argc, argv);

    if (rc >= 0 || (rc = one_guid(&c, "No domain given")) != 0) {
        goto out;
    }
    if (flags[0].i < 0) {
        rc = api_invalid(&c, "ttl is negative");
        goto out;
    }
    req.domain = c.args[0];
    /* The Go client sends uint32(ttl.Seconds()): whole seconds, the fraction dropped. */
    req.ttl = (uint32_t)(flags[0].i / 1000000000);
    rc =
        call_only(&c, "/v1/domains/upsert", &req.base, &models__upsert_domain_response__descriptor);

out:
    api_done(&c);
    return rc < 0 ? 0 : rc;
}

/* ---- cells ------------------------------------------------------------------------------- */

static int cmd_cells(int argc, char **argv)
{
    struct api_cmd c = API_CMD("cells", "cells", "List registered cell presences from the BBS",
                               API_COMMON_BBS_TIMEOUT);
    Models__CellsResponse *resp = NULL;
    struct bbsctl_failure f;
    int rc = api_parse(&c, argc, argv);

    if (rc >= 0 || (rc = no_args(&c)) != 0) {
        goto out;
    }
    if (bbsctl_call(&c.target, "/v1/cells/list.r1", NULL, &models__cells_response__descriptor,
                    (ProtobufCMessage **)&resp, &f) != 0) {
        rc = api_fail(&f);
        goto out;
    }
    rc = print_all((void *const *)resp->cells, resp->n_cells);

out:
    free_msg(resp);
    api_done(&c);
    return rc < 0 ? 0 : rc;
}

static int cmd_cell(int argc, char **argv)
{
    struct api_cmd c =
        API_CMD("cell", "cell CELL_ID", "Show the cell presence specified by the given cell id",
                API_COMMON_BBS_TIMEOUT);
    Models__CellsResponse *resp = NULL;
    struct bbsctl_failure f;
    int rc = api_parse(&c, argc, argv);

    if (rc >= 0) {
        goto out;
    }
    if (c.nargs != 1) {
        rc = api_invalid(&c, c.nargs > 1 ? ERR_EXTRA_ARGS : ERR_MISSING_ARGS);
        goto out;
    }
    if (bbsctl_call(&c.target, "/v1/cells/list.r1", NULL, &models__cells_response__descriptor,
                    (ProtobufCMessage **)&resp, &f) != 0) {
        rc = api_fail(&f);
        goto out;
    }
    for (size_t i = 0; i < resp->n_cells; i++) {
        if (strcmp(resp->cells[i]->cell_id, c.args[0]) == 0) {
            rc = api_print(&resp->cells[i]->base) != 0;
            goto out;
        }
    }
    /* cfdot: a plain error (not the BBS's), so exit 5. */
    fputs("Error: Cell not found\n", stderr);
    rc = 5;

out:
    free_msg(resp);
    api_done(&c);
    return rc < 0 ? 0 : rc;
}

/* ---- tasks ------------------------------------------------------------------------------- */

static int cmd_tasks(int argc, char **argv)
{
    struct api_flag flags[] = {
        API_FLAG_DEF("domain", 'd', API_FLAG_STRING, "retrieve only tasks for the given domain"),
        API_FLAG_DEF("cell-id", 'c', API_FLAG_STRING, "retrieve only tasks for the given cell-id"),
    };
    struct api_cmd c = API_CMD_FLAGS("tasks", "tasks", "List all tasks in BBS",
                                     API_COMMON_BBS_TIMEOUT, flags, NFLAGS(flags));
    Models__TasksRequest req = MODELS__TASKS_REQUEST__INIT;
    Models__TasksResponse *resp = NULL;
    struct bbsctl_failure f;
    int rc = api_parse(&c, argc, argv);

    if (rc >= 0 || (rc = api_conflicting(&c, "-d", "--domain")) != 0 ||
        (rc = api_conflicting(&c, "-c", "--cell-id")) != 0 || (rc = no_args(&c)) != 0) {
        goto out;
    }
    req.domain = (char *)(flags[0].s ? flags[0].s : "");
    req.cell_id = (char *)(flags[1].s ? flags[1].s : "");
    if (bbsctl_call(&c.target, "/v1/tasks/list.r3", &req.base, &models__tasks_response__descriptor,
                    (ProtobufCMessage **)&resp, &f) != 0) {
        rc = api_fail(&f);
        goto out;
    }
    rc = print_all((void *const *)resp->tasks, resp->n_tasks);

out:
    free_msg(resp);
    api_done(&c);
    return rc < 0 ? 0 : rc;
}

/* cfdot's ValidateTaskArgs: a missing or empty guid is "Missing arguments". */
static int task_guid_arg(const struct api_cmd *c)
{
    if (c->nargs == 0 || c->args[0][0] == '\0') {
        return api_invalid(c, ERR_MISSING_ARGS);
    }
    if (c->nargs > 1) {
        return api_invalid(c, ERR_EXTRA_ARGS);
    }
    return 0;
}

static int cmd_task(int argc, char **argv)
{
    struct api_cmd c =
        API_CMD("task", "task TASK_GUID", "Retrieve the specified task", API_COMMON_BBS_TIMEOUT);
    Models__TaskByGuidRequest req = MODELS__TASK_BY_GUID_REQUEST__INIT;
    Models__TaskResponse *resp = NULL;
    struct bbsctl_failure f;
    int rc = api_parse(&c, argc, argv);

    if (rc >= 0 || (rc = task_guid_arg(&c)) != 0) {
        goto out;
    }
    req.task_guid = c.args[0];
    if (bbsctl_call(&c.target, "/v1/tasks/get_by_task_guid.r3", &req.base,
                    &models__task_response__descriptor, (ProtobufCMessage **)&resp, &f) != 0) {
        rc = api_fail(&f);
        goto out;
    }
    if (resp->task != NULL) {
        rc = api_print(&resp->task->base) != 0;
    }

out:
    free_msg(resp);
    api_done(&c);
    return rc < 0 ? 0 : rc;
}

static int cmd_create_task(int argc, char **argv)
{
    struct api_cmd c =
        API_CMD("create-task", "create-task (SPEC|@FILE)",
                "Create a Task from the given spec. Spec can either be json encoded task, "
                "e.g. '{\"task_guid\":\"some-guid\"}' or a file containing json encoded "
                "task, e.g. @/path/to/spec/file",
                API_COMMON_BBS_TIMEOUT);
    Models__DesireTaskRequest req = MODELS__DESIRE_TASK_REQUEST__INIT;
    Models__Task *task = NULL;
    char why[1024];
    int rc = api_parse(&c, argc, argv);

    if (rc >= 0) {
        goto out;
    }
    if (c.nargs != 1) {
        rc = api_invalid(&c, "missing spec argument");
        goto out;
    }
    task = (Models__Task *)api_read_spec(&models__task__descriptor, c.args[0], why, sizeof(why));
    if (task == NULL) {
        rc = api_invalid(&c, "%s", why);
        goto out;
    }
    /* As cfdot: only the guid, domain and definition of the spec are sent. */
    req.task_guid = task->task_guid;
    req.domain = task->domain;
    req.task_definition = task->task_definition;
    rc = call_only(&c, "/v1/tasks/desire.r2", &req.base,
                   &models__task_lifecycle_response__descriptor);

out:
    free_msg(task);
    api_done(&c);
    return rc < 0 ? 0 : rc;
}

static int cmd_cancel_task(int argc, char **argv)
{
    struct api_cmd c = API_CMD("cancel-task", "cancel-task TASK_GUID", "Cancel the specified task",
                               API_COMMON_BBS_TIMEOUT);
    Models__TaskGuidRequest req = MODELS__TASK_GUID_REQUEST__INIT;
    int rc = api_parse(&c, argc, argv);

    if (rc >= 0 || (rc = task_guid_arg(&c)) != 0) {
        goto out;
    }
    req.task_guid = c.args[0];
    rc = call_only(&c, "/v1/tasks/cancel", &req.base, &models__task_lifecycle_response__descriptor);

out:
    api_done(&c);
    return rc < 0 ? 0 : rc;
}

static int cmd_delete_task(int argc, char **argv)
{
    struct api_cmd c = API_CMD("delete-task", "delete-task TASK_GUID",
                               "Delete a Task with the given task guid.", API_COMMON_BBS_TIMEOUT);
    Models__TaskGuidRequest req = MODELS__TASK_GUID_REQUEST__INIT;
    int rc = api_parse(&c, argc, argv);

    if (rc >= 0 || (rc = one_guid(&c, ERR_PROCESS_GUID)) != 0) {
        goto out;
    }
    /* As cfdot: resolving first, then delete (a completed task must be resolving to go). */
    req.task_guid = c.args[0];
    rc = call_only(&c, "/v1/tasks/resolving", &req.base,
                   &models__task_lifecycle_response__descriptor);
    if (rc == 0) {
        rc = call_only(&c, "/v1/tasks/delete", &req.base,
                       &models__task_lifecycle_response__descriptor);
    }

out:
    api_done(&c);
    return rc < 0 ? 0 : rc;
}

/* ---- status (bbsctl's own) --------------------------------------------------------------- */

static const char *json_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

static int cmd_status(int argc, char **argv)
{
    struct api_cmd c =
        API_CMD("status", "status",
                "Show the server's diagnostics (GET /v1/diagnostics): each dependency "
                "checked now, PASS or FAIL with the reason, as a table. Exits 0 when "
                "the overall status is PASS, 1 when it is FAIL.",
                API_COMMON_BBS_TIMEOUT);
    struct bbsctl_failure f;
    json_error_t jerr;
    json_t *doc = NULL;
    char *body = NULL;
    size_t len = 0;
    int rc = api_parse(&c, argc, argv);

    if (rc >= 0 || (rc = no_args(&c)) != 0) {
        goto out;
    }
    if (bbsctl_get(&c.target, "/v1/diagnostics", &body, &len, &f) != 0) {
        rc = api_fail(&f);
        goto out;
    }
    doc = json_loadb(body, len, 0, &jerr);
    json_t *checks = json_object_get(doc, "checks");
    const char *overall = json_string_value(json_object_get(doc, "status"));
    if (doc == NULL || !json_is_array(checks) || overall == NULL) {
        fprintf(stderr,
                "Error: the diagnostics answer is not {\"status\":..,\"checks\":[..]}%s%s\n",
                doc == NULL ? ": " : "", doc == NULL ? jerr.text : "");
        rc = 5;
        goto out;
    }
    size_t w = strlen("CHECK");
    size_t i;
    json_t *ck;
    json_array_foreach(checks, i, ck)
    {
        size_t l = strlen(json_str(ck, "name"));
        w = l > w ? l : w;
    }
    printf("%-*s  %-6s  %s\n", (int)w, "CHECK", "STATUS", "REASON");
    json_array_foreach(checks, i, ck)
    {
        printf("%-*s  %-6s  %s\n", (int)w, json_str(ck, "name"), json_str(ck, "status"),
               json_str(ck, "reason"));
    }
    printf("%-*s  %-6s\n", (int)w, "overall", overall);
    rc = strcmp(overall, "PASS") == 0 ? 0 : 1;

out:
    json_decref(doc);
    free(body);
    api_done(&c);
    return rc < 0 ? 0 : rc;
}

/* ---- the table ----------------------------------------------------------------------------- */

const struct bbsctl_cmd bbsctl_api_cmds[] = {
    {"actual-lrps", "List actual LRPs", cmd_actual_lrps},
    {"cancel-task", "Cancel task", cmd_cancel_task},
    {"cell", "Show the specified cell presence", cmd_cell},
    {"cells", "List registered cell presences", cmd_cells},
    {"create-desired-lrp", "Create a desired LRP", cmd_create_desired_lrp},
    {"create-task", "Create a Task", cmd_create_task},
    {"delete-desired-lrp", "Delete a desired LRP", cmd_delete_desired_lrp},
    {"delete-task", "Delete a Task", cmd_delete_task},
    {"desired-lrp", "Show the specified desired LRP", cmd_desired_lrp},
    {"desired-lrp-scheduling-infos", "List desired LRP scheduling infos",
     cmd_desired_lrp_scheduling_infos},
    {"desired-lrps", "List desired LRPs", cmd_desired_lrps},
    {"domains", "List domains", cmd_domains},
    {"lrp-events", "Subscribe to BBS LRP events", bbsctl_cmd_lrp_events},
    {"retire-actual-lrp", "Retire actual LRP by index and process guid", cmd_retire_actual_lrp},
    {"set-domain", "Set domain", cmd_set_domain},
    {"status", "Show the server's diagnostics as a table", cmd_status},
    {"task", "Display task", cmd_task},
    {"task-events", "Subscribe to BBS Task events", bbsctl_cmd_task_events},
    {"tasks", "List tasks in BBS", cmd_tasks},
    {"update-desired-lrp", "Update a desired LRP", cmd_update_desired_lrp},
};
const size_t bbsctl_api_ncmds = sizeof(bbsctl_api_cmds) / sizeof(bbsctl_api_cmds[0]);
