/*
 * test_api_task_events.c - task events on the task streams (reference
 * part 2, 11.5.1, 11.1): task_created / task_changed / task_removed for
 * desire, start, cancel, resolving and delete, at V3 on
 * /v1/events/tasks.r1 and converted to V2 (11.2.5: an EXCLUSIVE image
 * layer becomes a download before the action) on the deprecated
 * /v1/events/tasks; none on the LRP streams. And the desire's auction
 * request: upstream's exact body, an empty X-Vcap-Request-Id, sent before
 * desire answers (11.5.2).
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

#include "events.pb-c.h"
#include "task_it.h"

#define DOMAIN  "ev-tasks"
#define WAIT_MS 15000

/* Desire a task with one EXCLUSIVE image layer (legacy_download_user set, as 11.3 d12 wants). */
static void desire_with_layer(const char *guid)
{
    Models__DesireTaskRequest req = MODELS__DESIRE_TASK_REQUEST__INIT;
    Models__TaskDefinition def = MODELS__TASK_DEFINITION__INIT;
    Models__Action action = MODELS__ACTION__INIT;
    Models__RunAction run = MODELS__RUN_ACTION__INIT;
    Models__ImageLayer layer = MODELS__IMAGE_LAYER__INIT;
    Models__ImageLayer *layers[1] = {&layer};

    run.path = (char *)"/bin/true";
    run.user = (char *)"vcap";
    action.run_action = &run;
    layer.name = (char *)"app";
    layer.url = (char *)"http://example.com/app.tgz";
    layer.destination_path = (char *)"/home/vcap";
    layer.layer_type = MODELS__IMAGE_LAYER__TYPE__EXCLUSIVE;
    layer.media_type = MODELS__IMAGE_LAYER__MEDIA_TYPE__TGZ;
    layer.digest_algorithm = MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA256;
    layer.digest_value = (char *)"0123abcd";
    def.root_fs = (char *)"preloaded:cflinuxfs4";
    def.action = &action;
    def.legacy_download_user = (char *)"vcap";
    def.n_image_layers = 1;
    def.image_layers = layers;
    req.task_guid = (char *)guid;
    req.domain = (char *)DOMAIN;
    req.task_definition = &def;
    assert_int_equal(
        it_call_err("/v1/tasks/desire.r2", &req.base, &models__task_lifecycle_response__descriptor),
        IT_OK);
}

static struct it_sse *open_stream(const char *path)
{
    struct it_sse *s = it_sse_open("POST", path, NULL, NULL);

    assert_non_null(s);
    assert_int_equal(it_sse_status(s), 200);
    return s;
}

static void test_lifecycle_events_on_both_streams(void **state)
{
    struct it_sse *r1 = open_stream("/v1/events/tasks.r1");
    struct it_sse *v2 = open_stream("/v1/events/tasks");
    struct it_sse *lrp = open_stream("/v1/events/lrp_instances.r1");
    char guid[64], name[64];
    ProtobufCMessage *m;
    Models__TaskCreatedEvent *c;
    Models__TaskChangedEvent *ch;
    Models__TaskRemovedEvent *rm;
    int should = 0;

    (void)state;
    it_uniq(guid, sizeof(guid), "evtask");
    desire_with_layer(guid);
    assert_int_equal(task_start(guid, "ev-cell", &should), IT_OK);
    assert_true(should);
    assert_int_equal(task_guid_call("/v1/tasks/cancel", guid), IT_OK);
    assert_int_equal(task_guid_call("/v1/tasks/resolving", guid), IT_OK);
    assert_int_equal(task_guid_call("/v1/tasks/delete", guid), IT_OK);

    /* tasks.r1: V3, the layer as sent. */
    m = task_next_event(r1, guid, WAIT_MS, name, sizeof(name));
    assert_string_equal(name, "task_created");
    c = (Models__TaskCreatedEvent *)m;
    assert_int_equal(c->task->state, MODELS__TASK__STATE__Pending);
    assert_string_equal(c->task->domain, DOMAIN);
    assert_int_equal(c->task->created_at, c->task->updated_at);
    assert_int_equal(c->task->task_definition->n_image_layers, 1);
    assert_non_null(c->task->task_definition->action->run_action);
    protobuf_c_message_free_unpacked(m, NULL);

    m = task_next_event(r1, guid, WAIT_MS, name, sizeof(name));
    assert_string_equal(name, "task_changed");
    ch = (Models__TaskChangedEvent *)m;
    assert_int_equal(ch->before->state, MODELS__TASK__STATE__Pending);
    assert_int_equal(ch->after->state, MODELS__TASK__STATE__Running);
    assert_string_equal(ch->after->cell_id, "ev-cell");
    protobuf_c_message_free_unpacked(m, NULL);

    m = task_next_event(r1, guid, WAIT_MS, name, sizeof(name));
    assert_string_equal(name, "task_changed");
    ch = (Models__TaskChangedEvent *)m;
    assert_int_equal(ch->before->state, MODELS__TASK__STATE__Running);
    assert_int_equal(ch->after->state, MODELS__TASK__STATE__Completed);
    assert_true(ch->after->failed);
    assert_string_equal(ch->after->failure_reason, "task was cancelled");
    assert_string_equal(ch->after->cell_id, "");
    protobuf_c_message_free_unpacked(m, NULL);

    m = task_next_event(r1, guid, WAIT_MS, name, sizeof(name));
    assert_string_equal(name, "task_changed");
    ch = (Models__TaskChangedEvent *)m;
    assert_int_equal(ch->before->state, MODELS__TASK__STATE__Completed);
    assert_int_equal(ch->after->state, MODELS__TASK__STATE__Resolving);
    protobuf_c_message_free_unpacked(m, NULL);

    m = task_next_event(r1, guid, WAIT_MS, name, sizeof(name));
    assert_string_equal(name, "task_removed");
    rm = (Models__TaskRemovedEvent *)m;
    assert_int_equal(rm->task->state, MODELS__TASK__STATE__Resolving);
    protobuf_c_message_free_unpacked(m, NULL);

    /* The deprecated stream: the same five, at V2. */
    m = task_next_event(v2, guid, WAIT_MS, name, sizeof(name));
    assert_string_equal(name, "task_created");
    c = (Models__TaskCreatedEvent *)m;
    assert_int_equal(c->task->task_definition->n_image_layers, 0);
    assert_non_null(c->task->task_definition->action->serial_action);
    protobuf_c_message_free_unpacked(m, NULL);
    m = task_next_event(v2, guid, WAIT_MS, name, sizeof(name));
    assert_string_equal(name, "task_changed");
    ch = (Models__TaskChangedEvent *)m;
    assert_int_equal(ch->before->task_definition->n_image_layers, 0);
    assert_int_equal(ch->after->task_definition->n_image_layers, 0);
    assert_int_equal(ch->after->state, MODELS__TASK__STATE__Running);
    protobuf_c_message_free_unpacked(m, NULL);
    m = task_next_event(v2, guid, WAIT_MS, name, sizeof(name));
    assert_string_equal(name, "task_changed");
    protobuf_c_message_free_unpacked(m, NULL);
    m = task_next_event(v2, guid, WAIT_MS, name, sizeof(name));
    assert_string_equal(name, "task_changed");
    protobuf_c_message_free_unpacked(m, NULL);
    m = task_next_event(v2, guid, WAIT_MS, name, sizeof(name));
    assert_string_equal(name, "task_removed");
    assert_non_null(((Models__TaskRemovedEvent *)m)->task->task_definition->action->serial_action);
    protobuf_c_message_free_unpacked(m, NULL);

    /* Nothing on the LRP stream. */
    assert_true(it_sse_quiet(lrp, it_quiet_ms()));
    it_sse_close(lrp);
    it_sse_close(v2);
    it_sse_close(r1);
}

/* A refused transition changes nothing and emits nothing. */
static void test_refused_transition_emits_nothing(void **state)
{
    struct it_sse *r1 = open_stream("/v1/events/tasks.r1");
    char guid[64], name[64];
    ProtobufCMessage *m;

    (void)state;
    it_uniq(guid, sizeof(guid), "evnone");
    assert_int_equal(task_desire(guid, DOMAIN, NULL, NULL, NULL, 0), IT_OK);
    m = task_next_event(r1, guid, WAIT_MS, name, sizeof(name));
    assert_string_equal(name, "task_created");
    protobuf_c_message_free_unpacked(m, NULL);
    assert_int_equal(task_guid_call("/v1/tasks/resolving", guid),
                     MODELS__ERROR__TYPE__InvalidStateTransition);
    assert_int_equal(task_complete(guid, "c", 0, "", ""),
                     MODELS__ERROR__TYPE__InvalidStateTransition);
    assert_true(it_sse_quiet(r1, it_quiet_ms()));
    it_sse_close(r1);
}

/* 11.5.2: one POST with upstream's exact body, empty trace id, before desire answers. */
static void test_desire_auction_body_sent_before_the_answer(void **state)
{
    static const char *const tags[] = {"tag-a", "tag-b"};
    char guid[64], want[512];
    json_t *posts;
    json_t *post;

    (void)state;
    it_uniq(guid, sizeof(guid), "evauct");
    assert_int_equal(task_desire(guid, DOMAIN, NULL, NULL, tags, 2), IT_OK);
    /* No waiting: the auctioneer had it when desire answered. */
    posts = it_auction_task_posts(guid);
    assert_int_equal(json_array_size(posts), 1);
    post = json_array_get(posts, 0);
    snprintf(want, sizeof(want),
             "[{\"TaskGuid\":\"%s\",\"Domain\":\"%s\",\"PlacementTags\":[\"tag-a\",\"tag-b\"],"
             "\"VolumeDrivers\":[],\"RootFs\":\"preloaded:cflinuxfs4\",\"MemoryMB\":256,"
             "\"DiskMB\":1024,\"MaxPids\":0,\"state\":\"Invalid\",\"failed\":false}]",
             guid, DOMAIN);
    assert_string_equal(json_string_value(json_object_get(post, "body")), want);
    /* The header is sent, empty. */
    assert_string_equal(json_string_value(json_object_get(post, "trace")), "");
    json_decref(posts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle_events_on_both_streams),
        cmocka_unit_test(test_refused_transition_emits_nothing),
        cmocka_unit_test(test_desire_auction_body_sent_before_the_answer),
    };

    it_set_name("api_task_events");
    return it_main_exit(
        cmocka_run_group_tests_name("api_task_events", tests, it_group_setup, it_group_teardown));
}
