/*
 * api_cmds.c - the commands that talk to a BBS over its API: cfdot's (same
 * names, flags, arguments, messages, output and exit statuses; each one
 * calls the route upstream's Go client calls for it) and `status`.
 *
 * cfdot's commands are rows of one table (`specs`): name, help, flags,
 * argument check, request builder, route(s), answer printer. One runner
 * does what each did: api_parse (flags, --help, BBS URL and TLS checks),
 * the row's argument checks (cfdot's messages, exit 3), the call(s), then
 * one JSON value per line on stdout. The event commands live in
 * api_events.c; `status` reads JSON, not protobuf, and is its own function.
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
#define MAX_FLAGS 4

/* Unpacked answers are freed through their base. */
static void free_msg(void *m)
{
    if (m != NULL) {
        protobuf_c_message_free_unpacked(m, NULL);
    }
}

/* ---- the request a row builds --------------------------------------------------------------- */

struct api_req {
    union {
        Models__ActualLRPsRequest actual_lrps;
        Models__RetireActualLRPRequest retire;
        Models__DesiredLRPsRequest desired_lrps;
        Models__DesiredLRPByProcessGuidRequest by_guid;
        Models__DesireLRPRequest desire;
        Models__UpdateDesiredLRPRequest update;
        Models__RemoveDesiredLRPRequest remove;
        Models__UpsertDomainRequest upsert;
        Models__TasksRequest tasks;
        Models__TaskByGuidRequest task;
        Models__DesireTaskRequest desire_task;
        Models__TaskGuidRequest task_guid;
    } u;
    Models__ActualLRPKey key;
    ProtobufCMessage *msg; /* what is sent (NULL: an empty body) */
    ProtobufCMessage *own; /* freed after the call (a spec read, an earlier answer) */
};

/* One of cfdot's commands. */
struct api_spec {
    const char *name;
    const char *use;
    const char *long_desc;
    const struct api_flag *flags; /* templates, copied for parsing */
    size_t nflags;
    /* The argument checks after api_parse: 0, or the exit status (printed). */
    int (*check)(const struct api_cmd *c);
    /* Fill r->msg (and r->own); 0, or the exit status (printed). NULL: no body. */
    int (*build)(struct api_cmd *c, struct api_req *r);
    const char *route;
    const char *then; /* called with the same request after `route` succeeded, or NULL */
    const ProtobufCMessageDescriptor *resp;
    /* Print the answer; 0 or the exit status. NULL: nothing printed. */
    int (*print)(const struct api_cmd *c, const ProtobufCMessage *resp);
};

/* ---- argument checks ------------------------------------------------------------------------ */

static int no_args(const struct api_cmd *c)
{
    return c->nargs > 0 ? api_invalid(c, ERR_EXTRA_ARGS) : 0;
}

/* cfdot's ValidateDesiredLRPArguments and friends: exactly one non-empty argument. */
static int one_arg(const struct api_cmd *c, const char *empty_msg)
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

static int one_process_guid(const struct api_cmd *c)
{
    return one_arg(c, ERR_PROCESS_GUID);
}

static int domain_flag_once(const struct api_cmd *c)
{
    int rc = api_conflicting(c, "-d", "--domain");

    return rc != 0 ? rc : no_args(c);
}

static int task_filters_once(const struct api_cmd *c)
{
    int rc = api_conflicting(c, "-d", "--domain");

    if (rc == 0) {
        rc = api_conflicting(c, "-c", "--cell-id");
    }
    return rc != 0 ? rc : no_args(c);
}

/* cfdot's ValidateTaskArgs: a missing or empty guid is "Missing arguments". */
static int one_task_guid(const struct api_cmd *c)
{
    if (c->nargs == 0 || c->args[0][0] == '\0') {
        return api_invalid(c, ERR_MISSING_ARGS);
    }
    if (c->nargs > 1) {
        return api_invalid(c, ERR_EXTRA_ARGS);
    }
    return 0;
}

static int one_cell_id(const struct api_cmd *c)
{
    if (c->nargs != 1) {
        return api_invalid(c, c->nargs > 1 ? ERR_EXTRA_ARGS : ERR_MISSING_ARGS);
    }
    return 0;
}

static int one_spec(const struct api_cmd *c)
{
    return c->nargs != 1 ? api_invalid(c, "missing spec argument") : 0;
}

static int guid_and_spec(const struct api_cmd *c)
{
    return c->nargs != 2 ? api_invalid(c, ERR_MISSING_ARGS) : 0;
}

static int guid_and_index(const struct api_cmd *c)
{
    char *end = NULL;
    long index;

    if (c->nargs < 2) {
        return api_invalid(c, ERR_MISSING_ARGS);
    }
    if (c->nargs > 2) {
        return api_invalid(c, ERR_EXTRA_ARGS);
    }
    if (c->args[0][0] == '\0') {
        return api_invalid(c, ERR_PROCESS_GUID);
    }
    index = strtol(c->args[1], &end, 10);
    if (c->args[1][0] == '\0' || *end != '\0' || index < 0 || index > INT32_MAX) {
        return api_invalid(c, ERR_INDEX);
    }
    return 0;
}

static int domain_and_ttl(const struct api_cmd *c)
{
    int rc = one_arg(c, "No domain given");

    if (rc == 0 && c->flags[0].i < 0) {
        rc = api_invalid(c, "ttl is negative");
    }
    return rc;
}

/* ---- request builders ----------------------------------------------------------------------- */

static char *flag_str(struct api_cmd *c, const char *name)
{
    const char *s = api_flag(c, name)->s;

    return (char *)(s != NULL ? s : "");
}

static int build_actual_lrps(struct api_cmd *c, struct api_req *r)
{
    Models__ActualLRPsRequest *q = &r->u.actual_lrps;
    const struct api_flag *index = api_flag(c, "index");

    models__actual_lrps_request__init(q);
    q->domain = flag_str(c, "domain");
    q->cell_id = flag_str(c, "cell-id");
    q->process_guid = flag_str(c, "process-guid");
    if (index->changed) {
        q->optional_index_case = MODELS__ACTUAL_LRPS_REQUEST__OPTIONAL_INDEX_INDEX;
        q->index = (int32_t)index->i;
    }
    r->msg = &q->base;
    return 0;
}

/* As cfdot: the key's domain comes from the desired LRP, asked for first. */
static int build_retire(struct api_cmd *c, struct api_req *r)
{
    Models__DesiredLRPByProcessGuidRequest get = MODELS__DESIRED_LRPBY_PROCESS_GUID_REQUEST__INIT;
    Models__DesiredLRPResponse *dlrp = NULL;
    struct bbsctl_failure f;

    get.process_guid = c->args[0];
    if (bbsctl_call(&c->target, "/v1/desired_lrps/get_by_process_guid.r3", &get.base,
                    &models__desired_lrpresponse__descriptor, (ProtobufCMessage **)&dlrp,
                    &f) != 0) {
        return api_fail(&f);
    }
    r->own = &dlrp->base;
    models__actual_lrpkey__init(&r->key);
    r->key.process_guid = c->args[0];
    r->key.index = (int32_t)strtol(c->args[1], NULL, 10);
    r->key.domain = dlrp->desired_lrp != NULL ? dlrp->desired_lrp->domain : (char *)"";
    models__retire_actual_lrprequest__init(&r->u.retire);
    r->u.retire.actual_lrp_key = &r->key;
    r->msg = &r->u.retire.base;
    return 0;
}

static int build_desired_lrps(struct api_cmd *c, struct api_req *r)
{
    models__desired_lrps_request__init(&r->u.desired_lrps);
    r->u.desired_lrps.domain = flag_str(c, "domain");
    r->msg = &r->u.desired_lrps.base;
    return 0;
}

static int build_by_process_guid(struct api_cmd *c, struct api_req *r)
{
    models__desired_lrpby_process_guid_request__init(&r->u.by_guid);
    r->u.by_guid.process_guid = c->args[0];
    r->msg = &r->u.by_guid.base;
    return 0;
}

/* The spec argument `arg` (JSON or @FILE) as `d` into r->own; 0 or 3 (printed). */
static int read_spec(struct api_cmd *c, struct api_req *r, const ProtobufCMessageDescriptor *d,
                     const char *arg)
{
    char why[1024];

    r->own = api_read_spec(d, arg, why, sizeof(why));
    return r->own != NULL ? 0 : api_invalid(c, "%s", why);
}

static int build_desire(struct api_cmd *c, struct api_req *r)
{
    int rc = read_spec(c, r, &models__desired_lrp__descriptor, c->args[0]);

    models__desire_lrprequest__init(&r->u.desire);
    r->u.desire.desired_lrp = (Models__DesiredLRP *)r->own;
    r->msg = &r->u.desire.base;
    return rc;
}

static int build_update(struct api_cmd *c, struct api_req *r)
{
    int rc = read_spec(c, r, &models__desired_lrpupdate__descriptor, c->args[1]);

    models__update_desired_lrprequest__init(&r->u.update);
    r->u.update.process_guid = c->args[0];
    r->u.update.update = (Models__DesiredLRPUpdate *)r->own;
    r->msg = &r->u.update.base;
    return rc;
}

static int build_remove(struct api_cmd *c, struct api_req *r)
{
    models__remove_desired_lrprequest__init(&r->u.remove);
    r->u.remove.process_guid = c->args[0];
    r->msg = &r->u.remove.base;
    return 0;
}

static int build_upsert(struct api_cmd *c, struct api_req *r)
{
    models__upsert_domain_request__init(&r->u.upsert);
    r->u.upsert.domain = c->args[0];
    /* The Go client sends uint32(ttl.Seconds()): whole seconds, the fraction dropped. */
    r->u.upsert.ttl = (uint32_t)(api_flag(c, "ttl")->i / 1000000000);
    r->msg = &r->u.upsert.base;
    return 0;
}

static int build_tasks(struct api_cmd *c, struct api_req *r)
{
    models__tasks_request__init(&r->u.tasks);
    r->u.tasks.domain = flag_str(c, "domain");
    r->u.tasks.cell_id = flag_str(c, "cell-id");
    r->msg = &r->u.tasks.base;
    return 0;
}

static int build_task(struct api_cmd *c, struct api_req *r)
{
    models__task_by_guid_request__init(&r->u.task);
    r->u.task.task_guid = c->args[0];
    r->msg = &r->u.task.base;
    return 0;
}

/* As cfdot: only the guid, domain and definition of the spec are sent. */
static int build_desire_task(struct api_cmd *c, struct api_req *r)
{
    int rc = read_spec(c, r, &models__task__descriptor, c->args[0]);
    const Models__Task *task = (const Models__Task *)r->own;

    models__desire_task_request__init(&r->u.desire_task);
    if (task != NULL) {
        r->u.desire_task.task_guid = task->task_guid;
        r->u.desire_task.domain = task->domain;
        r->u.desire_task.task_definition = task->task_definition;
    }
    r->msg = &r->u.desire_task.base;
    return rc;
}

static int build_task_guid(struct api_cmd *c, struct api_req *r)
{
    models__task_guid_request__init(&r->u.task_guid);
    r->u.task_guid.task_guid = c->args[0];
    r->msg = &r->u.task_guid.base;
    return 0;
}

/* ---- answer printers ------------------------------------------------------------------------ */

/* The answer's first field that is a message (repeated or not) other than `error`. */
static const ProtobufCFieldDescriptor *payload(const ProtobufCMessage *resp, int repeated)
{
    const ProtobufCMessageDescriptor *d = resp->descriptor;

    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];

        if (f->type == PROTOBUF_C_TYPE_MESSAGE && strcmp(f->name, "error") != 0 &&
            (f->label == PROTOBUF_C_LABEL_REPEATED) == (repeated != 0)) {
            return f;
        }
    }
    return NULL;
}

/* Every message of the answer's list, one a line; 0 or 1 (an output error). */
static int print_list(const struct api_cmd *c, const ProtobufCMessage *resp)
{
    const ProtobufCFieldDescriptor *f = payload(resp, 1);
    size_t n = *(const size_t *)(const void *)((const char *)resp + f->quantifier_offset);
    ProtobufCMessage *const *items =
        *(ProtobufCMessage *const *const *)(const void *)((const char *)resp + f->offset);
    int rc = 0;

    (void)c;
    for (size_t i = 0; i < n; i++) {
        if (api_print(items[i]) != 0) {
            rc = 1;
        }
    }
    return rc;
}

/* The answer's one message (desired_lrp, task), when there is one. */
static int print_one(const struct api_cmd *c, const ProtobufCMessage *resp)
{
    const ProtobufCFieldDescriptor *f = payload(resp, 0);
    const ProtobufCMessage *m =
        *(ProtobufCMessage *const *)(const void *)((const char *)resp + f->offset);

    (void)c;
    return m != NULL ? api_print(m) != 0 : 0;
}

/* A domain is a Go string: encoding/json writes it as a JSON string. */
static int print_domains(const struct api_cmd *c, const ProtobufCMessage *resp)
{
    const Models__DomainsResponse *r = (const Models__DomainsResponse *)resp;

    (void)c;
    for (size_t i = 0; i < r->n_domains; i++) {
        struct bbs_buf b = {0};
        bbs_gojson_string(&b, r->domains[i]);
        bbs_buf_putc(&b, '\n');
        fwrite(b.data, 1, b.len, stdout);
        bbs_buf_free(&b);
    }
    return 0;
}

static int print_cell(const struct api_cmd *c, const ProtobufCMessage *resp)
{
    const Models__CellsResponse *r = (const Models__CellsResponse *)resp;

    for (size_t i = 0; i < r->n_cells; i++) {
        if (strcmp(r->cells[i]->cell_id, c->args[0]) == 0) {
            return api_print(&r->cells[i]->base) != 0;
        }
    }
    /* cfdot: a plain error (not the BBS's), so exit 5. */
    fputs("Error: Cell not found\n", stderr);
    return 5;
}

/* ---- the rows ------------------------------------------------------------------------------- */

static const struct api_flag actual_lrps_flags[] = {
    API_FLAG_DEF("domain", 'd', API_FLAG_STRING, "retrieve only actual lrps for the given domain"),
    API_FLAG_DEF("cell-id", 'c', API_FLAG_STRING,
                 "retrieve only actual lrps for the given cell id"),
    API_FLAG_DEF("process-guid", 'p', API_FLAG_STRING,
                 "retrieve only actual lrps for the given process guid"),
    API_FLAG_DEF("index", 'i', API_FLAG_INT32, "retrieve only actual lrps for the given index"),
};
static const struct api_flag desired_lrps_flags[] = {
    API_FLAG_DEF("domain", 'd', API_FLAG_STRING, "retrieve only desired lrps for the given domain"),
};
static const struct api_flag scheduling_infos_flags[] = {
    API_FLAG_DEF("domain", 'd', API_FLAG_STRING,
                 "retrieve only scheduling infos for the given domain"),
};
static const struct api_flag set_domain_flags[] = {
    API_FLAG_DEF("ttl", 't', API_FLAG_DURATION, "ttl of domain"),
};
static const struct api_flag tasks_flags[] = {
    API_FLAG_DEF("domain", 'd', API_FLAG_STRING, "retrieve only tasks for the given domain"),
    API_FLAG_DEF("cell-id", 'c', API_FLAG_STRING, "retrieve only tasks for the given cell-id"),
};

#define FLAGS(a) (a), NFLAGS(a)

static const struct api_spec specs[] = {
    {"actual-lrps", "actual-lrps", "List actual LRPs from the BBS", FLAGS(actual_lrps_flags),
     no_args, build_actual_lrps, "/v1/actual_lrps/list", NULL,
     &models__actual_lrps_response__descriptor, print_list},
    {"retire-actual-lrp", "retire-actual-lrp PROCESS_GUID INDEX",
     "Retire actual LRP by index and process guid", NULL, 0, guid_and_index, build_retire,
     "/v1/actual_lrps/retire", NULL, &models__actual_lrplifecycle_response__descriptor, NULL},
    {"desired-lrps", "desired-lrps", "List desired LRPs from the BBS", FLAGS(desired_lrps_flags),
     domain_flag_once, build_desired_lrps, "/v1/desired_lrps/list.r3", NULL,
     &models__desired_lrps_response__descriptor, print_list},
    {"desired-lrp-scheduling-infos", "desired-lrp-scheduling-infos",
     "List desired LRP scheduling infos from the BBS", FLAGS(scheduling_infos_flags),
     domain_flag_once, build_desired_lrps, "/v1/desired_lrp_scheduling_infos/list", NULL,
     &models__desired_lrpscheduling_infos_response__descriptor, print_list},
    {"desired-lrp", "desired-lrp PROCESS_GUID",
     "Show the desired LRP specified by the given process GUID", NULL, 0, one_process_guid,
     build_by_process_guid, "/v1/desired_lrps/get_by_process_guid.r3", NULL,
     &models__desired_lrpresponse__descriptor, print_one},
    {"create-desired-lrp", "create-desired-lrp (SPEC|@FILE)",
     "Create a desired LRP from the given spec. Spec can either be json "
     "encoded desired-lrp, e.g. '{\"process_guid\":\"some-guid\"}' or a file "
     "containing json encoded desired-lrp, e.g. @/path/to/spec/file",
     NULL, 0, one_spec, build_desire, "/v1/desired_lrp/desire.r2", NULL,
     &models__desired_lrplifecycle_response__descriptor, NULL},
    {"update-desired-lrp", "update-desired-lrp process-guid (SPEC|@FILE)",
     "Update a desired LRP for a process-guid with the given spec. Spec can "
     "either be json encoded update to a desired-lrp, e.g. "
     "'{\"instances\":\"4\"}', or a file containing json encoded update to a "
     "desired-lrp, e.g. @/path/to/spec/file",
     NULL, 0, guid_and_spec, build_update, "/v1/desired_lrp/update", NULL,
     &models__desired_lrplifecycle_response__descriptor, NULL},
    {"delete-desired-lrp", "delete-desired-lrp PROCESS_GUID",
     "Delete a desired LRP with the given process guid.", NULL, 0, one_process_guid, build_remove,
     "/v1/desired_lrp/remove", NULL, &models__desired_lrplifecycle_response__descriptor, NULL},
    {"domains", "domains", "List fresh domains from the BBS", NULL, 0, no_args, NULL,
     "/v1/domains/list", NULL, &models__domains_response__descriptor, print_domains},
    {"set-domain", "set-domain DOMAIN",
     "Mark a domain as fresh for ttl seconds, where 0 or non-specified means "
     "keep fresh permanently",
     FLAGS(set_domain_flags), domain_and_ttl, build_upsert, "/v1/domains/upsert", NULL,
     &models__upsert_domain_response__descriptor, NULL},
    {"cells", "cells", "List registered cell presences from the BBS", NULL, 0, no_args, NULL,
     "/v1/cells/list.r1", NULL, &models__cells_response__descriptor, print_list},
    {"cell", "cell CELL_ID", "Show the cell presence specified by the given cell id", NULL, 0,
     one_cell_id, NULL, "/v1/cells/list.r1", NULL, &models__cells_response__descriptor, print_cell},
    {"tasks", "tasks", "List all tasks in BBS", FLAGS(tasks_flags), task_filters_once, build_tasks,
     "/v1/tasks/list.r3", NULL, &models__tasks_response__descriptor, print_list},
    {"task", "task TASK_GUID", "Retrieve the specified task", NULL, 0, one_task_guid, build_task,
     "/v1/tasks/get_by_task_guid.r3", NULL, &models__task_response__descriptor, print_one},
    {"create-task", "create-task (SPEC|@FILE)",
     "Create a Task from the given spec. Spec can either be json encoded task, "
     "e.g. '{\"task_guid\":\"some-guid\"}' or a file containing json encoded "
     "task, e.g. @/path/to/spec/file",
     NULL, 0, one_spec, build_desire_task, "/v1/tasks/desire.r2", NULL,
     &models__task_lifecycle_response__descriptor, NULL},
    {"cancel-task", "cancel-task TASK_GUID", "Cancel the specified task", NULL, 0, one_task_guid,
     build_task_guid, "/v1/tasks/cancel", NULL, &models__task_lifecycle_response__descriptor, NULL},
    /* As cfdot: resolving first, then delete (a completed task must be resolving to go);
     * an empty guid gets the process guid message, as cfdot's. */
    {"delete-task", "delete-task TASK_GUID", "Delete a Task with the given task guid.", NULL, 0,
     one_process_guid, build_task_guid, "/v1/tasks/resolving", "/v1/tasks/delete",
     &models__task_lifecycle_response__descriptor, NULL},
};

/* ---- the runner ----------------------------------------------------------------------------- */

/* One call of `route`; 0 with *resp, or the failure's exit status (printed). */
static int call(const struct api_cmd *c, const struct api_spec *s, const char *route,
                const struct api_req *r, ProtobufCMessage **resp)
{
    struct bbsctl_failure f;

    if (bbsctl_call(&c->target, route, r->msg, s->resp, resp, &f) != 0) {
        return api_fail(&f);
    }
    return 0;
}

/* Any of the rows: argv[0] names it (the dispatcher's, and `bbsctl help CMD`'s). */
static int run_spec(int argc, char **argv)
{
    const struct api_spec *s = NULL;
    struct api_flag flags[MAX_FLAGS];
    struct api_cmd c;
    struct api_req r = {0};
    ProtobufCMessage *resp = NULL;
    int rc;

    for (size_t i = 0; i < NFLAGS(specs) && s == NULL; i++) {
        if (strcmp(specs[i].name, argv[0]) == 0) {
            s = &specs[i];
        }
    }
    if (s == NULL || s->nflags > MAX_FLAGS) {
        abort(); /* the table below and `specs` disagree */
    }
    if (s->nflags > 0) {
        memcpy(flags, s->flags, s->nflags * sizeof(flags[0]));
        c = (struct api_cmd)API_CMD_FLAGS(s->name, s->use, s->long_desc, API_COMMON_BBS_TIMEOUT,
                                          flags, s->nflags);
    } else {
        c = (struct api_cmd)API_CMD(s->name, s->use, s->long_desc, API_COMMON_BBS_TIMEOUT);
    }
    rc = api_parse(&c, argc, argv);
    if (rc >= 0 || (rc = s->check(&c)) != 0 || (s->build != NULL && (rc = s->build(&c, &r)) != 0) ||
        (rc = call(&c, s, s->route, &r, &resp)) != 0) {
        goto out;
    }
    if (s->then != NULL) {
        free_msg(resp);
        resp = NULL;
        if ((rc = call(&c, s, s->then, &r, &resp)) != 0) {
            goto out;
        }
    }
    rc = s->print != NULL ? s->print(&c, resp) : 0;

out:
    free_msg(resp);
    free_msg(r.own);
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
    {"actual-lrps", "List actual LRPs", run_spec},
    {"cancel-task", "Cancel task", run_spec},
    {"cell", "Show the specified cell presence", run_spec},
    {"cells", "List registered cell presences", run_spec},
    {"create-desired-lrp", "Create a desired LRP", run_spec},
    {"create-task", "Create a Task", run_spec},
    {"delete-desired-lrp", "Delete a desired LRP", run_spec},
    {"delete-task", "Delete a Task", run_spec},
    {"desired-lrp", "Show the specified desired LRP", run_spec},
    {"desired-lrp-scheduling-infos", "List desired LRP scheduling infos", run_spec},
    {"desired-lrps", "List desired LRPs", run_spec},
    {"domains", "List domains", run_spec},
    {"lrp-events", "Subscribe to BBS LRP events", bbsctl_cmd_lrp_events},
    {"retire-actual-lrp", "Retire actual LRP by index and process guid", run_spec},
    {"set-domain", "Set domain", run_spec},
    {"status", "Show the server's diagnostics as a table", cmd_status},
    {"task", "Display task", run_spec},
    {"task-events", "Subscribe to BBS Task events", bbsctl_cmd_task_events},
    {"tasks", "List tasks in BBS", run_spec},
    {"update-desired-lrp", "Update a desired LRP", run_spec},
};
const size_t bbsctl_api_ncmds = sizeof(bbsctl_api_cmds) / sizeof(bbsctl_api_cmds[0]);
