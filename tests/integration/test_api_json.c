/*
 * test_api_json.c - JSON on every unary route (docs/api.md, "JSON").
 *
 * The walk: for every row of the server's route table (routes.c, read at
 * run time so a new route without a row here fails the test), the same
 * request is sent in protobuf and in JSON and the decoded answers are
 * compared. Reads are sent twice against the same state and must answer
 * the same message. Writes run against two identical set-ups (guids "ja…"
 * and "jb…" of the same length): the answers and the state left behind
 * must match once the guid is swapped back and the fields a clock or a
 * random generator fills (since, epoch, created_at, ...) are set aside.
 *
 * Also: the JSON shapes a client sees on the wire (flattened ActualLRP,
 * errors as {"error": {"type": ..., "message": ...}}), Accept-only JSON,
 * bad JSON answered InvalidRequest with its line and column, a wrong type
 * with its field, and protobuf unchanged by all this.
 */
#include "harness.h"
#include "task_it.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bbs/arena.h"
#include "bbs/pbjson.h"
#include "cells.pb-c.h"
#include "evacuation.pb-c.h"
#include "task_requests.pb-c.h"

#define JSON_CTYPE "application/json"

static const char *const json_headers[] = {"Content-Type: application/json", NULL};

enum setup {
    S_NONE,
    S_DESIRED, /* a desired LRP (domain = guid) with one unclaimed instance */
    S_CLAIMED, /* ... claimed by instance ig-<guid> on cell-<guid> */
    S_RUNNING, /* ... running there */
    S_TASK,    /* a pending task (domain = guid) */
    S_TASK_RUNNING,
    S_TASK_COMPLETED,
    S_TASK_RESOLVING,
};

struct route_case {
    const char *path;
    const ProtobufCMessageDescriptor *resp;
    enum setup setup;
    int write;
    /* The request as JSON with %G for the guid; NULL: no body; "FULL": the DesiredLRP with
     * every field (dlrp_full.h), built in protobuf. */
    const char *request;
};

#define KEY  "\"actual_lrp_key\":{\"process_guid\":\"%G\",\"index\":0,\"domain\":\"%G\"}"
#define IKEY "\"actual_lrp_instance_key\":{\"instance_guid\":\"ig-%G\",\"cell_id\":\"cell-%G\"}"
#define NET                                                                                        \
    "\"actual_lrp_net_info\":{\"address\":\"10.0.0.9\",\"ports\":[{\"container_port\":8080,"       \
    "\"host_port\":61001}],\"preferred_address\":\"HOST\"}"
#define R(name) (&models__##name##__descriptor)

static const struct route_case cases[] = {
    {"/v1/ping", R(ping_response), S_NONE, 0, NULL},
    {"/v1/domains/list", R(domains_response), S_NONE, 0, NULL},
    {"/v1/domains/upsert", R(upsert_domain_response), S_NONE, 1, "{\"domain\":\"%G\",\"ttl\":600}"},

    {"/v1/actual_lrps/list", R(actual_lrps_response), S_RUNNING, 0,
     "{\"domain\":\"%G\",\"process_guid\":\"%G\",\"index\":0}"},
    {"/v1/actual_lrps/list_by_process_guids", R(actual_lrps_by_process_guids_response), S_RUNNING,
     0, "{\"process_guids\":[\"%G\"]}"},
    {"/v1/actual_lrp_groups/list", R(actual_lrpgroups_response), S_RUNNING, 0,
     "{\"domain\":\"%G\"}"},
    {"/v1/actual_lrp_groups/list_by_process_guid", R(actual_lrpgroups_response), S_CLAIMED, 0,
     "{\"process_guid\":\"%G\"}"},
    {"/v1/actual_lrp_groups/get_by_process_guid_and_index", R(actual_lrpgroup_response), S_RUNNING,
     0, "{\"process_guid\":\"%G\",\"index\":0}"},

    {"/v1/actual_lrps/claim", R(actual_lrplifecycle_response), S_DESIRED, 1,
     "{\"process_guid\":\"%G\",\"index\":0," IKEY "}"},
    {"/v1/actual_lrps/start.r1", R(actual_lrplifecycle_response), S_CLAIMED, 1,
     "{" KEY "," IKEY "," NET ",\"Routable\":true,\"availability_zone\":\"z1\"}"},
    {"/v1/actual_lrps/start", R(actual_lrplifecycle_response), S_CLAIMED, 1,
     "{" KEY "," IKEY "," NET "}"},
    {"/v1/actual_lrps/crash", R(actual_lrplifecycle_response), S_RUNNING, 1,
     "{" KEY "," IKEY ",\"error_message\":\"boom\"}"},
    {"/v1/actual_lrps/fail", R(actual_lrplifecycle_response), S_DESIRED, 1,
     "{" KEY ",\"error_message\":\"no cell\"}"},
    {"/v1/actual_lrps/remove", R(actual_lrplifecycle_response), S_CLAIMED, 1,
     "{\"process_guid\":\"%G\",\"index\":0," IKEY "}"},
    {"/v1/actual_lrps/retire", R(actual_lrplifecycle_response), S_RUNNING, 1, "{" KEY "}"},

    {"/v1/actual_lrps/evacuate_claimed", R(evacuation_response), S_CLAIMED, 1,
     "{" KEY "," IKEY "}"},
    {"/v1/actual_lrps/evacuate_crashed", R(evacuation_response), S_RUNNING, 1,
     "{" KEY "," IKEY ",\"error_message\":\"oom\"}"},
    {"/v1/actual_lrps/evacuate_stopped", R(evacuation_response), S_RUNNING, 1,
     "{" KEY "," IKEY "}"},
    {"/v1/actual_lrps/evacuate_running.r1", R(evacuation_response), S_RUNNING, 1,
     "{" KEY "," IKEY "," NET ",\"Routable\":true}"},
    {"/v1/actual_lrps/evacuate_running", R(evacuation_response), S_RUNNING, 1,
     "{" KEY "," IKEY "," NET "}"},
    {"/v1/actual_lrps/remove_evacuating", R(remove_evacuating_actual_lrpresponse), S_RUNNING, 1,
     "{" KEY "," IKEY "}"},

    {"/v1/desired_lrp/desire.r2", R(desired_lrplifecycle_response), S_NONE, 1, "FULL"},
    {"/v1/desired_lrp/update", R(desired_lrplifecycle_response), S_DESIRED, 1,
     "{\"process_guid\":\"%G\",\"update\":{\"instances\":2,\"annotation\":\"json\","
     "\"routes\":{\"cf-router\":[{\"hostnames\":[\"%G.example.com\"],\"port\":8080}]}}}"},
    {"/v1/desired_lrp/remove", R(desired_lrplifecycle_response), S_DESIRED, 1,
     "{\"process_guid\":\"%G\"}"},
    {"/v1/desired_lrps/list.r3", R(desired_lrps_response), S_DESIRED, 0, "{\"domain\":\"%G\"}"},
    {"/v1/desired_lrps/list.r2", R(desired_lrps_response), S_DESIRED, 0, "{\"domain\":\"%G\"}"},
    {"/v1/desired_lrps/get_by_process_guid.r3", R(desired_lrpresponse), S_DESIRED, 0,
     "{\"process_guid\":\"%G\"}"},
    {"/v1/desired_lrps/get_by_process_guid.r2", R(desired_lrpresponse), S_DESIRED, 0,
     "{\"process_guid\":\"%G\"}"},
    {"/v1/desired_lrp_scheduling_infos/list", R(desired_lrpscheduling_infos_response), S_DESIRED, 0,
     "{\"domain\":\"%G\"}"},
    {"/v1/desired_lrp_scheduling_infos/get_by_process_guid",
     R(desired_lrpscheduling_info_by_process_guid_response), S_DESIRED, 0,
     "{\"process_guid\":\"%G\"}"},
    {"/v1/desired_lrp_routing_infos/list", R(desired_lrps_response), S_DESIRED, 0,
     "{\"process_guids\":[\"%G\"]}"},

    {"/v1/cells/list.r1", R(cells_response), S_NONE, 0, NULL},

    {"/v1/tasks/list.r3", R(tasks_response), S_TASK, 0, "{\"domain\":\"%G\"}"},
    {"/v1/tasks/get_by_task_guid.r3", R(task_response), S_TASK_RUNNING, 0,
     "{\"task_guid\":\"%G\"}"},
    {"/v1/tasks/list.r2", R(tasks_response), S_TASK_COMPLETED, 0, "{\"domain\":\"%G\"}"},
    {"/v1/tasks/get_by_task_guid.r2", R(task_response), S_TASK, 0, "{\"task_guid\":\"%G\"}"},
    {"/v1/tasks/desire.r2", R(task_lifecycle_response), S_NONE, 1,
     "{\"task_guid\":\"%G\",\"domain\":\"%G\",\"task_definition\":{\"rootfs\":"
     "\"preloaded:cflinuxfs4\",\"memory_mb\":128,\"disk_mb\":256,\"env\":[{\"name\":\"A\","
     "\"value\":\"1\"}],\"action\":{\"serial\":{\"actions\":[{\"run\":{\"path\":\"/bin/true\","
     "\"user\":\"vcap\",\"resource_limits\":{\"nofile\":1024}}}]}},\"annotation\":\"%G\"}}"},
    {"/v1/tasks/start", R(start_task_response), S_TASK, 1,
     "{\"task_guid\":\"%G\",\"cell_id\":\"cell-%G\"}"},
    {"/v1/tasks/cancel", R(task_lifecycle_response), S_TASK_RUNNING, 1, "{\"task_guid\":\"%G\"}"},
    {"/v1/tasks/fail", R(task_lifecycle_response), S_TASK_RUNNING, 1,
     "{\"task_guid\":\"%G\",\"failure_reason\":\"no\"}"},
    {"/v1/tasks/reject", R(task_lifecycle_response), S_TASK_RUNNING, 1,
     "{\"task_guid\":\"%G\",\"rejection_reason\":\"full\"}"},
    {"/v1/tasks/complete", R(task_lifecycle_response), S_TASK_RUNNING, 1,
     "{\"task_guid\":\"%G\",\"cell_id\":\"cell-%G\",\"failed\":false,\"result\":\"ok\"}"},
    {"/v1/tasks/resolving", R(task_lifecycle_response), S_TASK_COMPLETED, 1,
     "{\"task_guid\":\"%G\"}"},
    {"/v1/tasks/delete", R(task_lifecycle_response), S_TASK_RESOLVING, 1, "{\"task_guid\":\"%G\"}"},
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

/* ---- helpers ------------------------------------------------------------------------------ */

/* `tmpl` with every %G replaced by `g` (malloc'd). */
static char *fill(const char *tmpl, const char *g)
{
    size_t cap = strlen(tmpl) * (strlen(g) + 1) + 1;
    char *out = malloc(cap);
    size_t o = 0;

    assert_non_null(out);
    for (const char *p = tmpl; *p != '\0'; p++) {
        if (p[0] == '%' && p[1] == 'G') {
            memcpy(out + o, g, strlen(g));
            o += strlen(g);
            p++;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
    return out;
}

/* `s` with every `from` replaced by `to` (same length), in place. */
static void swap_guid(char *s, const char *from, const char *to)
{
    size_t n = strlen(from);

    assert_int_equal(strlen(to), n);
    for (char *p = strstr(s, from); p != NULL; p = strstr(p + n, from)) {
        memcpy(p, to, n);
    }
}

static void set_up(enum setup s, const char *g)
{
    char ig[128], cell[128];

    snprintf(ig, sizeof(ig), "ig-%s", g);
    snprintf(cell, sizeof(cell), "cell-%s", g);
    switch (s) {
    case S_NONE:
        return;
    case S_DESIRED:
    case S_CLAIMED:
    case S_RUNNING:
        it_desire(g, g, 1);
        if (s >= S_CLAIMED) {
            assert_int_equal(it_claim(g, 0, ig, cell), IT_OK);
        }
        if (s == S_RUNNING) {
            assert_int_equal(it_start(g, 0, g, ig, cell, "10.0.0.1"), IT_OK);
        }
        return;
    case S_TASK:
    case S_TASK_RUNNING:
    case S_TASK_COMPLETED:
    case S_TASK_RESOLVING:
        assert_int_equal(task_desire(g, g, NULL, NULL, NULL, 0), IT_OK);
        if (s >= S_TASK_RUNNING) {
            assert_int_equal(task_start(g, cell, NULL), IT_OK);
        }
        if (s >= S_TASK_COMPLETED) {
            assert_int_equal(task_complete(g, cell, 0, "", "done"), IT_OK);
        }
        if (s == S_TASK_RESOLVING) {
            assert_int_equal(task_guid_call("/v1/tasks/resolving", g), IT_OK);
        }
        return;
    }
}

/* The request of `c` for guid `g` as a message (malloc'd through protobuf-c; NULL: no body). */
static ProtobufCMessage *request_msg(const struct route_case *c, const char *g,
                                     const ProtobufCMessageDescriptor *d)
{
    struct bbs_error err = {0};
    ProtobufCMessage *m;
    char *text;

    if (c->request == NULL) {
        return NULL;
    }
    if (strcmp(c->request, "FULL") == 0) {
        /* Built natively in protobuf, then repacked so it frees like any unpacked message. */
        struct bbs_arena *a = bbs_arena_new();
        Models__DesireLRPRequest req = MODELS__DESIRE_LRPREQUEST__INIT;
        size_t len;
        uint8_t *packed;

        req.desired_lrp = it_dlrp_full(bbs_arena_pb_allocator(a), g, g, 1);
        packed = it_pack(&req.base, &len);
        m = it_unpack(d, packed, len);
        free(packed);
        bbs_arena_free(a);
        assert_non_null(m);
        return m;
    }
    text = fill(c->request, g);
    m = bbs_pbjson_decode(d, text, strlen(text), NULL, &err);
    if (m == NULL) {
        fail_msg("%s: the test's request does not decode: %s", c->path, err.message);
    }
    free(text);
    return m;
}

/* POST `m` in protobuf; returns the answer's bytes (malloc'd) after checking the transport. */
static void post_pb(const char *path, const ProtobufCMessage *m, struct it_resp *r)
{
    uint8_t *body = NULL;
    size_t len = 0;

    if (m != NULL) {
        body = it_pack(m, &len);
    }
    it_request("POST", path, body, len, NULL, r);
    free(body);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->content_type, IT_PROTOBUF_CTYPE);
}

/* POST `m` as JSON text (as pbjson writes it); the answer must be JSON. */
static void post_json(const char *path, const ProtobufCMessage *m, struct it_resp *r)
{
    char *text = NULL;

    if (m != NULL) {
        json_t *j = bbs_pbjson_encode(m);

        text = json_dumps(j, JSON_COMPACT);
        json_decref(j);
    }
    it_request("POST", path, text, text != NULL ? strlen(text) : 0, json_headers, r);
    free(text);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->content_type, JSON_CTYPE);
}

/* A protobuf answer of type `d` as JSON text (malloc'd), as pbjson prints it. */
static char *pb_to_json(const ProtobufCMessageDescriptor *d, const struct it_resp *r)
{
    struct bbs_buf out = {0};
    struct bbs_error err = {0};
    char *s;

    if (bbs_pbjson_from_pb(d, r->body, r->len, &out, &err) != 0) {
        fail_msg("protobuf answer does not decode as %s", d->name);
    }
    s = malloc(out.len + 1);
    memcpy(s, out.data, out.len);
    s[out.len] = '\0';
    bbs_buf_free(&out);
    return s;
}

/* Repacked bytes of a JSON answer decoded as `d` (canonical field order). */
static uint8_t *json_answer_packed(const ProtobufCMessageDescriptor *d, const char *text,
                                   size_t *len)
{
    struct bbs_error err = {0};
    ProtobufCMessage *m = bbs_pbjson_decode(d, text, strlen(text), NULL, &err);
    uint8_t *p;

    if (m == NULL) {
        fail_msg("JSON answer does not decode as %s: %s\n%s", d->name, err.message, text);
    }
    p = it_pack(m, len);
    protobuf_c_message_free_unpacked(m, NULL);
    return p;
}

static uint8_t *pb_answer_packed(const ProtobufCMessageDescriptor *d, const struct it_resp *r,
                                 size_t *len)
{
    ProtobufCMessage *m = it_unpack(d, r->body, r->len);
    uint8_t *p;

    assert_non_null(m);
    p = it_pack(m, len);
    protobuf_c_message_free_unpacked(m, NULL);
    return p;
}

/* Drop what a clock or a random generator fills, at any depth. */
static void strip_volatile(json_t *v)
{
    static const char *const keys[] = {"since", "epoch", "created_at", "updated_at",
                                       "first_completed_at"};
    size_t i;
    json_t *el;
    const char *k;
    void *tmp;

    if (json_is_array(v)) {
        json_array_foreach(v, i, el)
        {
            strip_volatile(el);
        }
    } else if (json_is_object(v)) {
        for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            json_object_del(v, keys[i]);
        }
        json_object_foreach_safe(v, tmp, k, el)
        {
            strip_volatile(el);
        }
    }
}

/* JSON texts `a` and `b` are equal but for volatile fields. */
static void assert_same_json(const char *what, const char *a, const char *b)
{
    json_t *ja = json_loads(a, 0, NULL);
    json_t *jb = json_loads(b, 0, NULL);

    assert_non_null(ja);
    assert_non_null(jb);
    strip_volatile(ja);
    strip_volatile(jb);
    if (!json_equal(ja, jb)) {
        fail_msg("%s differs:\n  protobuf: %s\n  json:     %s", what, a, b);
    }
    json_decref(ja);
    json_decref(jb);
}

static const ProtobufCMessageDescriptor *request_type(const char *path);

/* The state a write left for guid `g`, as JSON text (malloc'd), read in protobuf. */
static char *state_of(int task, const char *g)
{
    static const struct route_case lrp_reads[] = {
        {"/v1/actual_lrps/list", R(actual_lrps_response), S_NONE, 0, "{\"process_guid\":\"%G\"}"},
        {"/v1/desired_lrps/get_by_process_guid.r3", R(desired_lrpresponse), S_NONE, 0,
         "{\"process_guid\":\"%G\"}"},
    };
    static const struct route_case task_reads[] = {
        {"/v1/tasks/get_by_task_guid.r3", R(task_response), S_NONE, 0, "{\"task_guid\":\"%G\"}"},
    };
    const struct route_case *reads = task ? task_reads : lrp_reads;
    size_t n = task ? 1 : 2;
    json_t *all = json_array();
    char *out;

    for (size_t i = 0; i < n; i++) {
        ProtobufCMessage *m = request_msg(&reads[i], g, request_type(reads[i].path));
        struct it_resp r;
        char *text;

        post_pb(reads[i].path, m, &r);
        text = pb_to_json(reads[i].resp, &r);
        json_array_append_new(all, json_loads(text, 0, NULL));
        free(text);
        it_resp_free(&r);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    out = json_dumps(all, JSON_COMPACT);
    json_decref(all);
    return out;
}

/* The request descriptor of each route, by the response and path (the table's REQ column). */
static const ProtobufCMessageDescriptor *request_type(const char *path)
{
    static const struct {
        const char *path;
        const ProtobufCMessageDescriptor *d;
    } types[] = {
        {"/v1/domains/upsert", R(upsert_domain_request)},
        {"/v1/actual_lrps/list", R(actual_lrps_request)},
        {"/v1/actual_lrps/list_by_process_guids", R(actual_lrps_by_process_guids_request)},
        {"/v1/actual_lrp_groups/list", R(actual_lrpgroups_request)},
        {"/v1/actual_lrp_groups/list_by_process_guid", R(actual_lrpgroups_by_process_guid_request)},
        {"/v1/actual_lrp_groups/get_by_process_guid_and_index",
         R(actual_lrpgroup_by_process_guid_and_index_request)},
        {"/v1/actual_lrps/claim", R(claim_actual_lrprequest)},
        {"/v1/actual_lrps/start.r1", R(start_actual_lrprequest)},
        {"/v1/actual_lrps/start", R(start_actual_lrprequest)},
        {"/v1/actual_lrps/crash", R(crash_actual_lrprequest)},
        {"/v1/actual_lrps/fail", R(fail_actual_lrprequest)},
        {"/v1/actual_lrps/remove", R(remove_actual_lrprequest)},
        {"/v1/actual_lrps/retire", R(retire_actual_lrprequest)},
        {"/v1/actual_lrps/evacuate_claimed", R(evacuate_claimed_actual_lrprequest)},
        {"/v1/actual_lrps/evacuate_crashed", R(evacuate_crashed_actual_lrprequest)},
        {"/v1/actual_lrps/evacuate_stopped", R(evacuate_stopped_actual_lrprequest)},
        {"/v1/actual_lrps/evacuate_running.r1", R(evacuate_running_actual_lrprequest)},
        {"/v1/actual_lrps/evacuate_running", R(evacuate_running_actual_lrprequest)},
        {"/v1/actual_lrps/remove_evacuating", R(remove_evacuating_actual_lrprequest)},
        {"/v1/desired_lrp/desire.r2", R(desire_lrprequest)},
        {"/v1/desired_lrp/update", R(update_desired_lrprequest)},
        {"/v1/desired_lrp/remove", R(remove_desired_lrprequest)},
        {"/v1/desired_lrps/list.r3", R(desired_lrps_request)},
        {"/v1/desired_lrps/list.r2", R(desired_lrps_request)},
        {"/v1/desired_lrps/get_by_process_guid.r3", R(desired_lrpby_process_guid_request)},
        {"/v1/desired_lrps/get_by_process_guid.r2", R(desired_lrpby_process_guid_request)},
        {"/v1/desired_lrp_scheduling_infos/list", R(desired_lrps_request)},
        {"/v1/desired_lrp_scheduling_infos/get_by_process_guid",
         R(desired_lrpby_process_guid_request)},
        {"/v1/desired_lrp_routing_infos/list", R(desired_lrps_request)},
        {"/v1/tasks/list.r3", R(tasks_request)},
        {"/v1/tasks/get_by_task_guid.r3", R(task_by_guid_request)},
        {"/v1/tasks/list.r2", R(tasks_request)},
        {"/v1/tasks/get_by_task_guid.r2", R(task_by_guid_request)},
        {"/v1/tasks/desire.r2", R(desire_task_request)},
        {"/v1/tasks/start", R(start_task_request)},
        {"/v1/tasks/cancel", R(task_guid_request)},
        {"/v1/tasks/fail", R(fail_task_request)},
        {"/v1/tasks/reject", R(reject_task_request)},
        {"/v1/tasks/complete", R(complete_task_request)},
        {"/v1/tasks/resolving", R(task_guid_request)},
        {"/v1/tasks/delete", R(task_guid_request)},
    };

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(types[i].path, path) == 0) {
            return types[i].d;
        }
    }
    return NULL;
}

/* ---- the walk ----------------------------------------------------------------------------- */

static unsigned run_id;

static void test_route_case(void **state)
{
    const struct route_case *c = *state;
    const ProtobufCMessageDescriptor *rd = request_type(c->path);
    char ga[64], gb[64];
    ProtobufCMessage *ma = NULL, *mb = NULL;
    struct it_resp pa, jb;
    char *ta = NULL;
    size_t la, lb;
    uint8_t *pka, *pkb;

    if (c->request != NULL && rd == NULL) {
        fail_msg("%s: no request type in the test", c->path);
    }
    run_id++;
    snprintf(ga, sizeof(ga), "ja%04u-%d", run_id, (int)getpid() % 100000);
    snprintf(gb, sizeof(gb), "jb%04u-%d", run_id, (int)getpid() % 100000);
    set_up(c->setup, ga);
    ma = request_msg(c, ga, rd);
    if (c->write) {
        set_up(c->setup, gb);
        mb = request_msg(c, gb, rd);
    } else {
        mb = request_msg(c, ga, rd);
    }

    post_pb(c->path, ma, &pa);
    post_json(c->path, mb, &jb);

    if (!c->write) {
        /* The same state read twice: the same message, field for field. */
        pka = pb_answer_packed(c->resp, &pa, &la);
        pkb = json_answer_packed(c->resp, (const char *)jb.body, &lb);
        if (la != lb || memcmp(pka, pkb, la) != 0) {
            ta = pb_to_json(c->resp, &pa);
            fail_msg("%s: answers differ\n  protobuf: %s\n  json:     %s", c->path, ta,
                     (const char *)jb.body);
        }
        free(pka);
        free(pkb);
    } else {
        char *sa, *sb;

        /* Two identical worlds: the same answer and the same state, guids swapped back. */
        ta = pb_to_json(c->resp, &pa);
        swap_guid((char *)jb.body, gb, ga);
        assert_same_json(c->path, ta, (const char *)jb.body);
        if (c->setup != S_NONE || strcmp(c->request, "FULL") == 0 ||
            strstr(c->path, "/tasks/") != NULL) {
            int task = strstr(c->path, "/tasks/") != NULL;

            sa = state_of(task, ga);
            sb = state_of(task, gb);
            swap_guid(sb, gb, ga);
            assert_same_json(c->path, sa, sb);
            free(sa);
            free(sb);
        }
    }
    free(ta);
    it_resp_free(&pa);
    it_resp_free(&jb);
    if (ma != NULL) {
        protobuf_c_message_free_unpacked(ma, NULL);
    }
    if (mb != NULL) {
        protobuf_c_message_free_unpacked(mb, NULL);
    }
}

/* Every unary route of the server's table (routes.c's POST rows) has a row here. */
static void test_every_route_walked(void **state)
{
    FILE *f = fopen(BBS_ROUTES_C, "r");
    char line[512];
    int seen = 0;

    (void)state;
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        const char *p = strstr(line, "POST(\"");
        char path[256];
        size_t n;
        int found = 0;

        if (p == NULL || strstr(line, "#define") != NULL) {
            continue;
        }
        p += strlen("POST(\"");
        n = strcspn(p, "\"");
        assert_true(n < sizeof(path));
        memcpy(path, p, n);
        path[n] = '\0';
        for (size_t i = 0; i < N_CASES; i++) {
            found |= strcmp(cases[i].path, path) == 0;
        }
        if (!found) {
            fail_msg("route %s has no JSON row in test_api_json.c", path);
        }
        seen++;
    }
    fclose(f);
    assert_int_equal(seen, N_CASES);
}

/* ---- the shapes and the errors ------------------------------------------------------------ */

static json_t *post_json_text(const char *path, const char *text, const char *const *headers)
{
    struct it_resp r;
    json_error_t jerr;
    json_t *j;

    it_request("POST", path, text, text != NULL ? strlen(text) : 0,
               headers != NULL ? headers : json_headers, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, JSON_CTYPE);
    j = json_loadb((const char *)r.body, r.len, 0, &jerr);
    if (j == NULL) {
        fail_msg("answer is not JSON: %s", (const char *)r.body);
    }
    it_resp_free(&r);
    return j;
}

static void test_actual_lrp_shape(void **state)
{
    char g[64], cell[80], body[256];
    json_t *j, *lrp;

    (void)state;
    it_uniq(g, sizeof(g), "json-shape");
    snprintf(cell, sizeof(cell), "cell-%s", g);
    set_up(S_RUNNING, g);
    snprintf(body, sizeof(body), "{\"process_guid\":\"%s\"}", g);
    j = post_json_text("/v1/actual_lrps/list", body, NULL);
    assert_null(json_object_get(j, "error"));
    assert_int_equal(json_array_size(json_object_get(j, "actual_lrps")), 1);
    lrp = json_array_get(json_object_get(j, "actual_lrps"), 0);
    /* cfdot's shape: key, instance key and net info flattened; enums by name. */
    assert_string_equal(json_string_value(json_object_get(lrp, "process_guid")), g);
    assert_int_equal(json_integer_value(json_object_get(lrp, "index")), 0);
    assert_string_equal(json_string_value(json_object_get(lrp, "cell_id")), cell);
    assert_string_equal(json_string_value(json_object_get(lrp, "address")), "10.0.0.1");
    assert_string_equal(json_string_value(json_object_get(lrp, "state")), "RUNNING");
    assert_string_equal(json_string_value(json_object_get(lrp, "presence")), "ORDINARY");
    assert_true(json_is_integer(json_object_get(lrp, "since")));
    assert_true(json_is_array(json_object_get(lrp, "ports")));
    assert_null(json_object_get(lrp, "actual_lrp_key"));
    assert_null(json_object_get(lrp, "actual_lrp_net_info"));
    json_decref(j);
}

static void test_error_shape(void **state)
{
    json_t *j;
    json_t *e;

    (void)state;
    j = post_json_text("/v1/desired_lrps/get_by_process_guid.r3",
                       "{\"process_guid\":\"json-missing\"}", NULL);
    e = json_object_get(j, "error");
    assert_string_equal(json_string_value(json_object_get(e, "type")), "ResourceNotFound");
    assert_string_equal(json_string_value(json_object_get(e, "message")), IT_MSG_NOT_FOUND);
    assert_int_equal(json_object_size(j), 1); /* nothing but the error */
    json_decref(j);

    /* A validation failure: InvalidRequest with upstream's problem text. */
    j = post_json_text("/v1/domains/upsert", "{\"domain\":\"\"}", NULL);
    e = json_object_get(j, "error");
    assert_string_equal(json_string_value(json_object_get(e, "type")), "InvalidRequest");
    json_decref(j);

    /* keep_container rides along where the response has it. */
    j = post_json_text("/v1/actual_lrps/evacuate_claimed", "{}", NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "type")),
                        "InvalidRequest");
    assert_true(json_is_true(json_object_get(j, "keep_container")));
    json_decref(j);
}

static void test_bad_json_position(void **state)
{
    json_t *j, *e;
    const char *msg;

    (void)state;
    j = post_json_text("/v1/desired_lrps/get_by_process_guid.r3",
                       "{\n  \"process_guid\": \"pg\",\n  \"x\": ]\n}", NULL);
    e = json_object_get(j, "error");
    assert_string_equal(json_string_value(json_object_get(e, "type")), "InvalidRequest");
    msg = json_string_value(json_object_get(e, "message"));
    assert_non_null(strstr(msg, "line 3, column"));
    json_decref(j);

    j = post_json_text("/v1/actual_lrps/claim", "{\"process_guid\":\"pg\",\"index\":\"zero\"}",
                       NULL);
    e = json_object_get(j, "error");
    assert_string_equal(json_string_value(json_object_get(e, "type")), "InvalidRequest");
    assert_non_null(strstr(json_string_value(json_object_get(e, "message")), "field index"));
    json_decref(j);

    /* Bad JSON changes nothing: the domain is not created. */
    j = post_json_text("/v1/domains/upsert", "{\"domain\":\"json-never\",\"ttl\":-1}", NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "type")),
                        "InvalidRequest");
    json_decref(j);
    j = post_json_text("/v1/domains/list", NULL, NULL);
    {
        size_t i;
        json_t *d;

        json_array_foreach(json_object_get(j, "domains"), i, d)
        {
            assert_string_not_equal(json_string_value(d), "json-never");
        }
    }
    json_decref(j);
}

static void test_accept_json_and_protobuf_default(void **state)
{
    static const char *const accept[] = {"Accept: text/plain, application/json;q=0.9", NULL};
    struct it_resp r;
    json_t *j;

    (void)state;
    /* Accept alone: the body (none here) stays protobuf, the answer is JSON. */
    j = post_json_text("/v1/ping", NULL, accept);
    assert_true(json_is_true(json_object_get(j, "available")));
    json_decref(j);

    /* Media type names are case-insensitive and may carry parameters. */
    {
        static const char *const ctype[] = {"Content-Type: Application/JSON; charset=utf-8", NULL};

        j = post_json_text("/v1/desired_lrps/get_by_process_guid.r3",
                           "{\"process_guid\":\"json-missing\"}", ctype);
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "type")),
                            "ResourceNotFound");
        json_decref(j);
    }

    /* No JSON header: protobuf, byte for byte as before. */
    it_post_raw("/v1/ping", NULL, 0, &r);
    assert_string_equal(r.content_type, IT_PROTOBUF_CTYPE);
    assert_int_equal(r.len, 2);
    assert_memory_equal(r.body, "\x08\x01", 2);
    it_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_every_route_walked),
        cmocka_unit_test(test_actual_lrp_shape),
        cmocka_unit_test(test_error_shape),
        cmocka_unit_test(test_bad_json_position),
        cmocka_unit_test(test_accept_json_and_protobuf_default),
    };
    enum { NF = sizeof(fixed) / sizeof(fixed[0]) };
    struct CMUnitTest tests[NF + N_CASES];

    for (size_t i = 0; i < NF; i++) {
        tests[i] = fixed[i];
    }
    for (size_t i = 0; i < N_CASES; i++) {
        tests[NF + i] = (struct CMUnitTest){
            .name = cases[i].path,
            .test_func = test_route_case,
            .initial_state = (void *)&cases[i],
        };
    }
    return it_main_exit(
        cmocka_run_group_tests_name("api_json", tests, it_group_setup, it_group_teardown));
}
