/*
 * test_pbjson.c - the generic protobuf-c <-> JSON codec (pbjson.h): the
 * shapes upstream's Go models print (flattened keys, renamed fields,
 * omitempty or not, enums by name, oneof wrappers, routes as raw JSON,
 * sorted maps, base64), round trips through JSON of every DesiredLRP
 * field, and the errors of bad JSON (with its position) and wrong types
 * (with the field path).
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "actions.pb-c.h"
#include "actual_lrp.pb-c.h"
#include "actual_lrp_requests.pb-c.h"
#include "bbs/arena.h"
#include "bbs/pbjson.h"
#include "cells.pb-c.h"
#include "desired_lrp.pb-c.h"
#include "error.pb-c.h"
#include "support/dlrp_full.h"
#include "task.pb-c.h"

#define S(lit) ((char *)(lit))

/* `m` encodes to exactly the JSON `want` (key order aside). */
static void assert_json(const ProtobufCMessage *m, const char *want)
{
    json_error_t jerr;
    json_t *w = json_loads(want, 0, &jerr);
    json_t *got = bbs_pbjson_encode(m);

    if (w == NULL) {
        fail_msg("bad expectation: %s", jerr.text);
    }
    if (!json_equal(got, w)) {
        char *g = json_dumps(got, JSON_SORT_KEYS);
        char *e = json_dumps(w, JSON_SORT_KEYS);

        print_error("got  %s\nwant %s\n", g, e);
        free(g);
        free(e);
        fail();
    }
    json_decref(w);
    json_decref(got);
}

static void test_actual_lrp_unclaimed_flattened(void **state)
{
    Models__ActualLRP lrp = MODELS__ACTUAL_LRP__INIT;
    Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;

    (void)state;
    key.process_guid = S("pg-1");
    key.index = 0;
    key.domain = S("cf-apps");
    lrp.actual_lrp_key = &key;
    lrp.state = S("UNCLAIMED");
    lrp.since = INT64_C(1700000000000000001);
    /* Absent instance key, net info and modification tag are Go zero structs (value types);
     * ports is null (nil slice, no omitempty); crash_reason, placement_error, internal routes
     * and metric tags are omitted; the oneof wrapper is null. */
    assert_json(&lrp.base,
                "{\"process_guid\":\"pg-1\",\"index\":0,\"domain\":\"cf-apps\","
                "\"instance_guid\":\"\",\"cell_id\":\"\",\"address\":\"\",\"ports\":null,"
                "\"preferred_address\":\"UNKNOWN\",\"crash_count\":0,\"state\":\"UNCLAIMED\","
                "\"since\":1700000000000000001,\"modification_tag\":{\"epoch\":\"\",\"index\":0},"
                "\"presence\":\"ORDINARY\",\"OptionalRoutable\":null,\"availability_zone\":\"\"}");
}

static void test_actual_lrp_running_full(void **state)
{
    Models__ActualLRP lrp = MODELS__ACTUAL_LRP__INIT;
    Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;
    Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;
    Models__ActualLRPNetInfo net = MODELS__ACTUAL_LRPNET_INFO__INIT;
    Models__PortMapping pm = MODELS__PORT_MAPPING__INIT;
    Models__PortMapping *ports[] = {&pm};
    Models__ModificationTag tag = MODELS__MODIFICATION_TAG__INIT;
    Models__ActualLRP__MetricTagsEntry t1 = MODELS__ACTUAL_LRP__METRIC_TAGS_ENTRY__INIT;
    Models__ActualLRP__MetricTagsEntry t2 = MODELS__ACTUAL_LRP__METRIC_TAGS_ENTRY__INIT;
    Models__ActualLRP__MetricTagsEntry *tags[] = {&t1, &t2};
    char *dumped;

    (void)state;
    key.process_guid = S("pg-1");
    key.index = 2;
    key.domain = S("cf-apps");
    ik.instance_guid = S("ig-1");
    ik.cell_id = S("cell-a");
    net.address = S("10.0.0.1");
    pm.container_port = 8080;
    pm.host_port = 61000;
    net.n_ports = 1;
    net.ports = ports;
    net.instance_address = S("10.255.0.9");
    net.preferred_address = MODELS__ACTUAL_LRPNET_INFO__PREFERRED_ADDRESS__HOST;
    tag.epoch = S("ep");
    tag.index = 3;
    t1.key = S("zone");
    t1.value = S("z1");
    t2.key = S("app");
    t2.value = S("a<b");
    lrp.actual_lrp_key = &key;
    lrp.actual_lrp_instance_key = &ik;
    lrp.actual_lrp_net_info = &net;
    lrp.crash_count = 1;
    lrp.crash_reason = S("boom");
    lrp.state = S("RUNNING");
    lrp.since = 5;
    lrp.modification_tag = &tag;
    lrp.presence = MODELS__ACTUAL_LRP__PRESENCE__EVACUATING;
    lrp.n_metric_tags = 2;
    lrp.metric_tags = tags;
    lrp.optional_routable_case = MODELS__ACTUAL_LRP__OPTIONAL_ROUTABLE_ROUTABLE;
    lrp.routable = 1;
    lrp.availability_zone = S("z1");
    assert_json(&lrp.base,
                "{\"process_guid\":\"pg-1\",\"index\":2,\"domain\":\"cf-apps\","
                "\"instance_guid\":\"ig-1\",\"cell_id\":\"cell-a\",\"address\":\"10.0.0.1\","
                "\"ports\":[{\"container_port\":8080,\"host_port\":61000,"
                "\"container_tls_proxy_port\":0,\"host_tls_proxy_port\":0}],"
                "\"instance_address\":\"10.255.0.9\",\"preferred_address\":\"HOST\","
                "\"crash_count\":1,\"crash_reason\":\"boom\",\"state\":\"RUNNING\",\"since\":5,"
                "\"modification_tag\":{\"epoch\":\"ep\",\"index\":3},\"presence\":\"EVACUATING\","
                "\"metric_tags\":{\"app\":\"a<b\",\"zone\":\"z1\"},"
                "\"OptionalRoutable\":{\"routable\":true},\"availability_zone\":\"z1\"}");

    /* Maps are written with their keys sorted, as Go does. */
    {
        json_t *j = bbs_pbjson_encode(&lrp.base);

        dumped = json_dumps(json_object_get(j, "metric_tags"), JSON_COMPACT);
        assert_string_equal(dumped, "{\"app\":\"a<b\",\"zone\":\"z1\"}");
        free(dumped);
        json_decref(j);
    }
}

static void test_error_type_by_name(void **state)
{
    Models__Error e = MODELS__ERROR__INIT;

    (void)state;
    e.type = MODELS__ERROR__TYPE__ResourceNotFound;
    e.message = S("the requested resource could not be found");
    assert_json(&e.base, "{\"type\":\"ResourceNotFound\","
                         "\"message\":\"the requested resource could not be found\"}");
}

static void test_task_definition_embedded(void **state)
{
    Models__Task t = MODELS__TASK__INIT;
    Models__TaskDefinition def = MODELS__TASK_DEFINITION__INIT;
    json_t *j;

    (void)state;
    t.task_guid = S("tg");
    t.domain = S("d");
    t.state = MODELS__TASK__STATE__Running;
    /* Without a definition (an embedded pointer) nothing of it appears. */
    j = bbs_pbjson_encode(&t.base);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "Running");
    assert_null(json_object_get(j, "rootfs"));
    assert_null(json_object_get(j, "task_definition"));
    json_decref(j);

    def.root_fs = S("docker:///busybox");
    def.memory_mb = 64;
    t.task_definition = &def;
    j = bbs_pbjson_encode(&t.base);
    assert_string_equal(json_string_value(json_object_get(j, "rootfs")), "docker:///busybox");
    assert_int_equal(json_integer_value(json_object_get(j, "memory_mb")), 64);
    assert_null(json_object_get(j, "env")); /* "env,omitempty" */
    assert_null(json_object_get(j, "task_definition"));
    json_decref(j);
}

static void test_desired_lrp_renames_routes_enum_number(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__DesiredLRP *d = it_dlrp_full(bbs_arena_pb_allocator(a), "pg-1", "cf-apps", 3);
    json_t *j = bbs_pbjson_encode(&d->base);
    json_t *routes = json_object_get(j, "routes");

    (void)state;
    assert_non_null(json_object_get(j, "rootfs"));
    assert_null(json_object_get(j, "root_fs"));
    assert_true(json_is_array(json_object_get(j, "env")));
    assert_non_null(json_object_get(j, "placement_tags"));
    assert_null(json_object_get(j, "PlacementTags"));
    assert_non_null(json_object_get(j, "deprecated_timeout_ns"));
    /* Routes are the raw JSON values, not base64 strings. */
    assert_true(json_is_object(routes));
    assert_true(json_object_size(routes) > 0);
    {
        const char *k;
        json_t *v;

        json_object_foreach(routes, k, v)
        {
            assert_false(json_is_string(v));
        }
    }
    /* UpdateStrategy has no MarshalJSON upstream: a number. */
    assert_true(json_is_integer(json_object_get(j, "update_strategy")));
    /* Actions under their json tags. */
    assert_non_null(json_object_get(json_object_get(j, "setup"), "serial"));
    json_decref(j);
    bbs_arena_free(a);
}

/* Keys come out in upstream's declaration order: start_timeout_ms right after action. */
static void test_desired_lrp_key_order(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__DesiredLRP *d = it_dlrp_full(bbs_arena_pb_allocator(a), "pg-1", "cf-apps", 3);
    json_t *j = bbs_pbjson_encode(&d->base);
    const char *prev = NULL;
    int seen = 0;
    void *it;

    (void)state;
    for (it = json_object_iter(j); it != NULL; it = json_object_iter_next(j, it)) {
        const char *k = json_object_iter_key(it);

        if (strcmp(k, "start_timeout_ms") == 0) {
            assert_non_null(prev);
            assert_string_equal(prev, "action");
            seen = 1;
        }
        prev = k;
    }
    assert_true(seen);
    assert_string_equal(json_object_iter_key(json_object_iter(j)), "process_guid");
    json_decref(j);
    bbs_arena_free(a);
}

static void test_scheduling_info_embeds_and_null_routes(void **state)
{
    Models__DesiredLRPSchedulingInfo si = MODELS__DESIRED_LRPSCHEDULING_INFO__INIT;

    (void)state;
    si.instances = 2;
    assert_json(&si.base, "{\"process_guid\":\"\",\"domain\":\"\",\"log_guid\":\"\","
                          "\"annotation\":\"\",\"instances\":2,\"memory_mb\":0,\"disk_mb\":0,"
                          "\"rootfs\":\"\",\"max_pids\":0,\"routes\":null,\"epoch\":\"\","
                          "\"index\":0}");
}

static void test_flat_oneof_request(void **state)
{
    Models__ActualLRPsRequest r = MODELS__ACTUAL_LRPS_REQUEST__INIT;

    (void)state;
    assert_json(&r.base, "{\"domain\":\"\",\"cell_id\":\"\",\"process_guid\":\"\"}");
    r.optional_index_case = MODELS__ACTUAL_LRPS_REQUEST__OPTIONAL_INDEX_INDEX;
    r.index = 0;
    assert_json(&r.base, "{\"domain\":\"\",\"cell_id\":\"\",\"process_guid\":\"\",\"index\":0}");
}

static void test_cell_annotations_empty_object(void **state)
{
    Models__CellPresence c = MODELS__CELL_PRESENCE__INIT;
    json_t *j;

    (void)state;
    c.cell_id = S("cell-a");
    j = bbs_pbjson_encode(&c.base);
    assert_true(json_is_object(json_object_get(j, "annotations")));
    assert_int_equal(json_object_size(json_object_get(j, "annotations")), 0);
    json_decref(j);
}

static void test_bytes_base64(void **state)
{
    Models__ProtoRoutes pr = MODELS__PROTO_ROUTES__INIT;
    Models__ProtoRoutes__RoutesEntry e = MODELS__PROTO_ROUTES__ROUTES_ENTRY__INIT;
    Models__ProtoRoutes__RoutesEntry *es[] = {&e};
    static const uint8_t raw[] = {0x00, 0xff, 'a', 'b'};
    Models__ProtoRoutes *back;
    struct bbs_error err = {0};
    json_t *j;
    char *text;

    (void)state;
    e.key = S("k");
    e.value.data = (uint8_t *)raw;
    e.value.len = sizeof(raw);
    pr.n_routes = 1;
    pr.routes = es;
    /* A ProtoRoutes on its own is a map<string, bytes>: base64, standard alphabet. */
    assert_json(&pr.base, "{\"routes\":{\"k\":\"AP9hYg==\"}}");

    j = bbs_pbjson_encode(&pr.base);
    text = json_dumps(j, JSON_COMPACT);
    back = (Models__ProtoRoutes *)bbs_pbjson_decode(&models__proto_routes__descriptor, text,
                                                    strlen(text), NULL, &err);
    assert_non_null(back);
    assert_int_equal(back->n_routes, 1);
    assert_int_equal(back->routes[0]->value.len, sizeof(raw));
    assert_memory_equal(back->routes[0]->value.data, raw, sizeof(raw));
    protobuf_c_message_free_unpacked(&back->base, NULL);
    free(text);
    json_decref(j);
}

static void test_scalar_edges(void **state)
{
    Models__ResourceLimits rl = MODELS__RESOURCE_LIMITS__INIT;
    Models__ActualLRP lrp = MODELS__ACTUAL_LRP__INIT;
    static const char text[] =
        "{\"presence\": 2, \"state\": null, \"ports\": null, \"metric_tags\": null}";
    struct bbs_error err = {0};
    json_t *j;
    Models__ActualLRP *back;

    (void)state;
    /* A uint64 past int64's range: a JSON real (jansson has no larger integers). */
    rl.optional_nofile_case = MODELS__RESOURCE_LIMITS__OPTIONAL_NOFILE_NOFILE;
    rl.nofile = UINT64_MAX;
    j = bbs_pbjson_encode(&rl.base);
    assert_true(json_is_real(json_object_get(j, "nofile")));
    assert_null(json_object_get(j, "nproc")); /* unset oneof: left out */
    json_decref(j);

    /* An enum value without a name: its number as a string, as Go's String() gives it. */
    lrp.presence = (Models__ActualLRP__Presence)7;
    j = bbs_pbjson_encode(&lrp.base);
    assert_string_equal(json_string_value(json_object_get(j, "presence")), "7");
    json_decref(j);
    /* ... and that string reads back as the number (what the encoder writes, it reads). */
    back = (Models__ActualLRP *)bbs_pbjson_decode(&models__actual_lrp__descriptor,
                                                  "{\"presence\": \"7\"}", 17, NULL, &err);
    assert_non_null(back);
    assert_int_equal(back->presence, 7);
    protobuf_c_message_free_unpacked(&back->base, NULL);

    /* Enum numbers are accepted; null is the zero value; an empty list is null too. */
    back = (Models__ActualLRP *)bbs_pbjson_decode(&models__actual_lrp__descriptor, text,
                                                  strlen(text), NULL, &err);
    assert_non_null(back);
    assert_int_equal(back->presence, MODELS__ACTUAL_LRP__PRESENCE__SUSPECT);
    assert_string_equal(back->state, "");
    protobuf_c_message_free_unpacked(&back->base, NULL);
}

static void test_invalid_utf8_replaced(void **state)
{
    Models__Error e = MODELS__ERROR__INIT;
    json_t *j;

    (void)state;
    e.message = S("a\xff"
                  "b");
    j = bbs_pbjson_encode(&e.base);
    assert_string_equal(json_string_value(json_object_get(j, "message")), "a\xef\xbf\xbd"
                                                                          "b");
    json_decref(j);
}

/* Pack `m`, go through JSON text and back, pack again: the same bytes. */
static void round_trip(const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *want = malloc(n + 1);
    struct bbs_buf text = {0};
    struct bbs_buf got = {0};
    struct bbs_error err = {0};

    protobuf_c_message_pack(m, want);
    assert_int_equal(bbs_pbjson_from_pb(m->descriptor, want, n, &text, &err), 0);
    assert_int_equal(bbs_pbjson_to_pb(m->descriptor, (const char *)text.data, text.len, &got, &err),
                     0);
    {
        /* Compare unpacked-then-repacked bytes: JSON writes zero values protobuf omits. */
        ProtobufCMessage *u = protobuf_c_message_unpack(m->descriptor, NULL, got.len, got.data);
        size_t n2;
        uint8_t *again;

        assert_non_null(u);
        n2 = protobuf_c_message_get_packed_size(u);
        again = malloc(n2 + 1);
        protobuf_c_message_pack(u, again);
        assert_int_equal(n2, n);
        assert_memory_equal(again, want, n);
        free(again);
        protobuf_c_message_free_unpacked(u, NULL);
    }
    bbs_buf_free(&text);
    bbs_buf_free(&got);
    free(want);
}

static void test_round_trip_desired_lrp_every_field(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__DesiredLRP *d = it_dlrp_full(bbs_arena_pb_allocator(a), "pg-1", "cf-apps", 3);

    (void)state;
    round_trip(&d->base);
    bbs_arena_free(a);
}

static void test_round_trip_actual_lrp(void **state)
{
    Models__ActualLRP lrp = MODELS__ACTUAL_LRP__INIT;
    Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;
    Models__ActualLRP__MetricTagsEntry t1 = MODELS__ACTUAL_LRP__METRIC_TAGS_ENTRY__INIT;
    Models__ActualLRP__MetricTagsEntry *tags[] = {&t1};
    Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;
    Models__ActualLRPNetInfo net = MODELS__ACTUAL_LRPNET_INFO__INIT;
    Models__ModificationTag tag = MODELS__MODIFICATION_TAG__INIT;

    (void)state;
    key.process_guid = S("pg");
    key.index = -1;
    /* The value-typed parts are always on the wire, as upstream (and this server) send them:
     * JSON cannot tell an absent one from an empty one. */
    lrp.actual_lrp_key = &key;
    lrp.actual_lrp_instance_key = &ik;
    lrp.actual_lrp_net_info = &net;
    lrp.modification_tag = &tag;
    lrp.since = INT64_MIN;
    lrp.crash_count = INT32_MAX;
    t1.key = S("k");
    t1.value = S("v");
    lrp.n_metric_tags = 1;
    lrp.metric_tags = tags;
    /* routable = false is still "set": the oneof carries presence. */
    lrp.optional_routable_case = MODELS__ACTUAL_LRP__OPTIONAL_ROUTABLE_ROUTABLE;
    lrp.routable = 0;
    lrp.presence = MODELS__ACTUAL_LRP__PRESENCE__SUSPECT;
    round_trip(&lrp.base);
}

static void test_round_trip_update_request(void **state)
{
    Models__UpdateDesiredLRPRequest req = MODELS__UPDATE_DESIRED_LRPREQUEST__INIT;
    Models__DesiredLRPUpdate up = MODELS__DESIRED_LRPUPDATE__INIT;

    (void)state;
    req.process_guid = S("pg");
    up.optional_instances_case = MODELS__DESIRED_LRPUPDATE__OPTIONAL_INSTANCES_INSTANCES;
    up.instances = 0;
    up.optional_annotation_case = MODELS__DESIRED_LRPUPDATE__OPTIONAL_ANNOTATION_ANNOTATION;
    up.annotation = S("");
    req.update = &up;
    round_trip(&req.base);
    assert_json(&req.base, "{\"process_guid\":\"pg\",\"update\":{\"instances\":0,"
                           "\"annotation\":\"\"}}");
}

static void test_decode_request(void **state)
{
    static const char text[] =
        "{\"desired_lrp\":{\"process_guid\":\"pg-1\",\"domain\":\"d\",\"rootfs\":\"r\","
        "\"instances\":2,\"env\":[{\"name\":\"A\",\"value\":\"1\"}],"
        "\"routes\":{\"cf-router\":[{\"hostnames\":[\"a.example.com\"],\"port\":8080}]},"
        "\"update_strategy\":1,\"action\":{\"run\":{\"path\":\"/bin/true\",\"user\":\"vcap\"}},"
        "\"unknown_key\":{\"ignored\":true},\"annotation\":null}}";
    struct bbs_error err = {0};
    Models__DesireLRPRequest *r = (Models__DesireLRPRequest *)bbs_pbjson_decode(
        &models__desire_lrprequest__descriptor, text, sizeof(text) - 1, NULL, &err);

    (void)state;
    assert_non_null(r);
    assert_string_equal(r->desired_lrp->process_guid, "pg-1");
    assert_string_equal(r->desired_lrp->root_fs, "r");
    assert_int_equal(r->desired_lrp->instances, 2);
    assert_int_equal(r->desired_lrp->n_environment_variables, 1);
    assert_string_equal(r->desired_lrp->environment_variables[0]->value, "1");
    assert_int_equal(r->desired_lrp->update_strategy, 1);
    assert_string_equal(r->desired_lrp->action->run_action->path, "/bin/true");
    assert_int_equal(r->desired_lrp->routes->n_routes, 1);
    assert_string_equal(r->desired_lrp->routes->routes[0]->key, "cf-router");
    assert_int_equal(r->desired_lrp->routes->routes[0]->value.len,
                     strlen("[{\"hostnames\":[\"a.example.com\"],\"port\":8080}]"));
    assert_memory_equal(r->desired_lrp->routes->routes[0]->value.data,
                        "[{\"hostnames\":[\"a.example.com\"],\"port\":8080}]",
                        r->desired_lrp->routes->routes[0]->value.len);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void test_decode_flattened_and_oneof_forms(void **state)
{
    static const char wrapped[] = "{\"process_guid\":\"pg\",\"index\":3,\"instance_guid\":\"ig\","
                                  "\"state\":\"RUNNING\",\"presence\":\"SUSPECT\","
                                  "\"OptionalRoutable\":{\"routable\":false}}";
    static const char plain[] = "{\"routable\":true}";
    struct bbs_error err = {0};
    Models__ActualLRP *lrp = (Models__ActualLRP *)bbs_pbjson_decode(
        &models__actual_lrp__descriptor, wrapped, sizeof(wrapped) - 1, NULL, &err);

    (void)state;
    assert_non_null(lrp);
    assert_string_equal(lrp->actual_lrp_key->process_guid, "pg");
    assert_int_equal(lrp->actual_lrp_key->index, 3);
    assert_string_equal(lrp->actual_lrp_instance_key->instance_guid, "ig");
    assert_int_equal(lrp->presence, MODELS__ACTUAL_LRP__PRESENCE__SUSPECT);
    assert_int_equal(lrp->optional_routable_case, MODELS__ACTUAL_LRP__OPTIONAL_ROUTABLE_ROUTABLE);
    assert_false(lrp->routable);
    protobuf_c_message_free_unpacked(&lrp->base, NULL);

    lrp = (Models__ActualLRP *)bbs_pbjson_decode(&models__actual_lrp__descriptor, plain,
                                                 sizeof(plain) - 1, NULL, &err);
    assert_non_null(lrp);
    assert_int_equal(lrp->optional_routable_case, MODELS__ACTUAL_LRP__OPTIONAL_ROUTABLE_ROUTABLE);
    assert_true(lrp->routable);
    protobuf_c_message_free_unpacked(&lrp->base, NULL);
}

static void test_decode_empty_is_empty_message(void **state)
{
    struct bbs_error err = {0};
    Models__ActualLRPsRequest *r = (Models__ActualLRPsRequest *)bbs_pbjson_decode(
        &models__actual_lrps_request__descriptor, " \n", 2, NULL, &err);

    (void)state;
    assert_non_null(r);
    assert_int_equal(r->optional_index_case, MODELS__ACTUAL_LRPS_REQUEST__OPTIONAL_INDEX__NOT_SET);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

struct bad_case {
    const char *name;
    const char *text;
    const char *want; /* a substring of the error message */
};

static const struct bad_case bad_cases[] = {
    {"syntax_error_position", "{\n  \"process_guid\": \"pg\",\n  \"index\": ]\n}",
     "line 3, column"},
    {"truncated", "{\"process_guid\": \"pg\"", "invalid JSON at line 1"},
    {"not_an_object", "[1,2]", "cannot unmarshal array"},
    {"string_for_int", "{\"index\": \"3\"}", "field index of type int32"},
    {"int32_range", "{\"index\": 4294967296}", "number 4294967296 into field index"},
    {"real_for_int", "{\"index\": 1.5}", "cannot unmarshal number into field index"},
    {"int_for_string", "{\"process_guid\": 7}", "field process_guid of type string"},
    {"unknown_enum", "{\"presence\": \"GONE\"}", "invalid models.ActualLRP.Presence value"},
    {"nested_path", "{\"ports\": [{\"host_port\": -1}]}", "field ports.0.host_port"},
    {"oneof_wrapper_type", "{\"OptionalRoutable\": true}", "field OptionalRoutable"},
    {"map_value_type", "{\"metric_tags\": {\"a\": 1}}", "field metric_tags.a of type string"},
};

static void test_bad_case(void **state)
{
    const struct bad_case *c = *state;
    struct bbs_error err = {0};
    ProtobufCMessage *m =
        bbs_pbjson_decode(&models__actual_lrp__descriptor, c->text, strlen(c->text), NULL, &err);

    assert_null(m);
    assert_int_equal(err.type, BBS_ERR_INVALID_REQUEST);
    if (strstr(err.message, c->want) == NULL) {
        fail_msg("message \"%s\" lacks \"%s\"", err.message, c->want);
    }
}

static void test_bad_base64(void **state)
{
    static const char text[] = "{\"routes\":{\"k\":\"not base64!\"}}";
    struct bbs_error err = {0};

    (void)state;
    assert_null(
        bbs_pbjson_decode(&models__proto_routes__descriptor, text, sizeof(text) - 1, NULL, &err));
    assert_int_equal(err.type, BBS_ERR_INVALID_REQUEST);
    assert_non_null(strstr(err.message, "routes.k is not valid base64"));
}

static void test_from_pb_rejects_garbage(void **state)
{
    static const uint8_t junk[] = {0x0a, 0x7f};
    struct bbs_buf out = {0};
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(
        bbs_pbjson_from_pb(&models__actual_lrp__descriptor, junk, sizeof(junk), &out, &err), -1);
    assert_int_equal(err.type, BBS_ERR_INVALID_PROTOBUF_MESSAGE);
    bbs_buf_free(&out);
}

int main(void)
{
    enum { NB = sizeof(bad_cases) / sizeof(bad_cases[0]) };
    const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_actual_lrp_unclaimed_flattened),
        cmocka_unit_test(test_actual_lrp_running_full),
        cmocka_unit_test(test_error_type_by_name),
        cmocka_unit_test(test_task_definition_embedded),
        cmocka_unit_test(test_desired_lrp_renames_routes_enum_number),
        cmocka_unit_test(test_desired_lrp_key_order),
        cmocka_unit_test(test_scheduling_info_embeds_and_null_routes),
        cmocka_unit_test(test_flat_oneof_request),
        cmocka_unit_test(test_cell_annotations_empty_object),
        cmocka_unit_test(test_bytes_base64),
        cmocka_unit_test(test_scalar_edges),
        cmocka_unit_test(test_invalid_utf8_replaced),
        cmocka_unit_test(test_round_trip_desired_lrp_every_field),
        cmocka_unit_test(test_round_trip_actual_lrp),
        cmocka_unit_test(test_round_trip_update_request),
        cmocka_unit_test(test_decode_request),
        cmocka_unit_test(test_decode_flattened_and_oneof_forms),
        cmocka_unit_test(test_decode_empty_is_empty_message),
        cmocka_unit_test(test_bad_base64),
        cmocka_unit_test(test_from_pb_rejects_garbage),
    };
    enum { NF = sizeof(fixed) / sizeof(fixed[0]) };
    struct CMUnitTest tests[NF + NB];

    for (size_t i = 0; i < NF; i++) {
        tests[i] = fixed[i];
    }
    for (size_t i = 0; i < NB; i++) {
        tests[NF + i] = (struct CMUnitTest){
            .name = bad_cases[i].name,
            .test_func = test_bad_case,
            .initial_state = (void *)&bad_cases[i],
        };
    }
    return cmocka_run_group_tests_name("pbjson", tests, NULL, NULL);
}
