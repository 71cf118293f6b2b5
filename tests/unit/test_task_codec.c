/*
 * test_task_codec.c - Task rows as wire messages (task_codec.h): V3 with
 * the definition spliced, V2 down-conversion (11.2.5), the auction request
 * fields (11.5.2) and the callback fields (11.6) of a definition.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "bbs/arena.h"
#include "bbs/buf.h"
#include "bbs/codec.h"
#include "bbs/pbw.h"
#include "bbs/task_codec.h"
#include "task.pb-c.h"

#define S(lit)          ((char *)(lit))
#define NEW(a, T, INIT) ((T *)bbs_arena_memdup((a), &(T)INIT, sizeof(T)))

static Models__Action *run_action(struct bbs_arena *a, const char *path)
{
    Models__Action *act = NEW(a, Models__Action, MODELS__ACTION__INIT);

    act->run_action = NEW(a, Models__RunAction, MODELS__RUN_ACTION__INIT);
    act->run_action->path = bbs_arena_strdup(a, path);
    act->run_action->user = S("vcap");
    return act;
}

static Models__ImageLayer *layer(struct bbs_arena *a, const char *name, int exclusive,
                                 const char *digest)
{
    Models__ImageLayer *l = NEW(a, Models__ImageLayer, MODELS__IMAGE_LAYER__INIT);

    l->name = bbs_arena_strdup(a, name);
    l->url = bbs_arena_printf(a, "https://example.com/%s", name);
    l->destination_path = bbs_arena_printf(a, "/dst/%s", name);
    l->layer_type =
        exclusive ? MODELS__IMAGE_LAYER__TYPE__EXCLUSIVE : MODELS__IMAGE_LAYER__TYPE__SHARED;
    l->media_type = MODELS__IMAGE_LAYER__MEDIA_TYPE__TGZ;
    if (digest != NULL) {
        l->digest_algorithm = MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA256;
        l->digest_value = bbs_arena_strdup(a, digest);
    }
    return l;
}

static Models__TaskDefinition *definition(struct bbs_arena *a)
{
    Models__TaskDefinition *d = NEW(a, Models__TaskDefinition, MODELS__TASK_DEFINITION__INIT);

    d->root_fs = S("preloaded:cflinuxfs4");
    d->action = run_action(a, "/bin/true");
    d->memory_mb = 256;
    d->disk_mb = 1024;
    d->max_pids = 7;
    d->completion_callback_url = S("http://cc/callback");
    d->annotation = S("note");
    return d;
}

static struct bbs_task row(struct bbs_arena *a, const Models__TaskDefinition *d)
{
    struct bbs_task t = {0};

    t.guid = "t-1";
    t.domain = "d";
    t.created_at = 11;
    t.updated_at = 12;
    t.first_completed_at = 13;
    t.state = BBS_TASK_COMPLETED;
    t.cell_id = "cell-1";
    t.result = "res";
    t.failed = 1;
    t.failure_reason = "boom";
    t.rejection_count = 2;
    t.rejection_reason = "full";
    t.definition = bbs_task_encode_definition(a, d);
    return t;
}

/* Encode `t` at `view` as field 2 and decode that field as a Task. */
static Models__Task *round_trip(struct bbs_arena *a, const struct bbs_task *t,
                                enum bbs_task_view view)
{
    struct bbs_buf b = {0};
    const uint8_t *body;
    size_t len;
    size_t pos = 0;
    uint32_t field;
    Models__Task *out;

    assert_int_equal(bbs_task_put(&b, 2, a, t, view), 0);
    assert_int_equal(bbs_pbr_next_len(b.data, b.len, &pos, &field, &body, &len), 1);
    assert_int_equal(field, 2);
    out = (Models__Task *)protobuf_c_message_unpack(&models__task__descriptor,
                                                    bbs_arena_pb_allocator(a), len, body);
    bbs_buf_free(&b);
    assert_non_null(out);
    return out;
}

static void v3_writes_every_column_and_the_definition(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_task t = row(a, definition(a));
    Models__Task *m = round_trip(a, &t, BBS_TASK_VIEW_V3);

    (void)state;
    assert_string_equal(m->task_guid, "t-1");
    assert_string_equal(m->domain, "d");
    assert_int_equal(m->created_at, 11);
    assert_int_equal(m->updated_at, 12);
    assert_int_equal(m->first_completed_at, 13);
    assert_int_equal(m->state, MODELS__TASK__STATE__Completed);
    assert_string_equal(m->cell_id, "cell-1");
    assert_string_equal(m->result, "res");
    assert_true(m->failed);
    assert_string_equal(m->failure_reason, "boom");
    assert_int_equal(m->rejection_count, 2);
    assert_string_equal(m->rejection_reason, "full");
    assert_non_null(m->task_definition);
    assert_string_equal(m->task_definition->root_fs, "preloaded:cflinuxfs4");
    assert_string_equal(m->task_definition->action->run_action->path, "/bin/true");
    assert_string_equal(m->task_definition->completion_callback_url, "http://cc/callback");
    bbs_arena_free(a);
}

static void v3_writes_an_empty_definition(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_task t = row(a, NULL);
    Models__Task *m = round_trip(a, &t, BBS_TASK_VIEW_V3);

    (void)state;
    assert_non_null(m->task_definition);
    bbs_arena_free(a);
}

static void field_zero_writes_a_bare_task(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_task t = row(a, definition(a));
    struct bbs_buf b = {0};
    Models__Task *m;

    (void)state;
    assert_int_equal(bbs_task_put(&b, 0, a, &t, BBS_TASK_VIEW_V3), 0);
    m = (Models__Task *)protobuf_c_message_unpack(&models__task__descriptor,
                                                  bbs_arena_pb_allocator(a), b.len, b.data);
    assert_non_null(m);
    assert_string_equal(m->task_guid, "t-1");
    bbs_buf_free(&b);
    bbs_arena_free(a);
}

static void v2_without_layers_is_the_stored_definition(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_task t = row(a, definition(a));
    Models__Task *m = round_trip(a, &t, BBS_TASK_VIEW_V2);

    (void)state;
    assert_string_equal(m->task_definition->action->run_action->path, "/bin/true");
    assert_int_equal(m->task_definition->n_cached_dependencies, 0);
    bbs_arena_free(a);
}

static void v2_shared_layers_become_prepended_cached_dependencies(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__TaskDefinition *d = definition(a);
    Models__CachedDependency *old =
        NEW(a, Models__CachedDependency, MODELS__CACHED_DEPENDENCY__INIT);
    Models__ImageLayer *layers[2];
    Models__CachedDependency *deps[1] = {old};
    struct bbs_task t;
    Models__Task *m;
    Models__TaskDefinition *v2;

    (void)state;
    old->name = S("old");
    old->from = S("http://old");
    old->to = S("/old");
    layers[0] = layer(a, "s1", 0, "abc");
    layers[1] = layer(a, "s2", 0, NULL);
    d->image_layers = layers;
    d->n_image_layers = 2;
    d->cached_dependencies = deps;
    d->n_cached_dependencies = 1;
    t = row(a, d);
    m = round_trip(a, &t, BBS_TASK_VIEW_V2);
    v2 = m->task_definition;
    assert_int_equal(v2->n_image_layers, 0);
    assert_int_equal(v2->n_cached_dependencies, 3);
    assert_string_equal(v2->cached_dependencies[0]->name, "s1");
    assert_string_equal(v2->cached_dependencies[0]->from, "https://example.com/s1");
    assert_string_equal(v2->cached_dependencies[0]->to, "/dst/s1");
    assert_string_equal(v2->cached_dependencies[0]->checksum_algorithm, "sha256");
    assert_string_equal(v2->cached_dependencies[0]->checksum_value, "abc");
    assert_string_equal(v2->cached_dependencies[0]->cache_key, "sha256:abc");
    assert_string_equal(v2->cached_dependencies[1]->cache_key, "https://example.com/s2");
    assert_string_equal(v2->cached_dependencies[2]->name, "old");
    /* the action is untouched when there is no exclusive layer */
    assert_string_equal(v2->action->run_action->path, "/bin/true");
    bbs_arena_free(a);
}

static void v2_exclusive_layers_download_before_the_action(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__TaskDefinition *d = definition(a);
    Models__ImageLayer *layers[1];
    struct bbs_task t;
    Models__Task *m;
    Models__Action *act;
    Models__DownloadAction *dl;

    (void)state;
    layers[0] = layer(a, "x1", 1, "def");
    d->image_layers = layers;
    d->n_image_layers = 1;
    d->legacy_download_user = S("root");
    t = row(a, d);
    m = round_trip(a, &t, BBS_TASK_VIEW_V2);
    act = m->task_definition->action;
    assert_int_equal(m->task_definition->n_image_layers, 0);
    assert_non_null(act->serial_action);
    assert_int_equal(act->serial_action->n_actions, 2);
    assert_non_null(act->serial_action->actions[0]->parallel_action);
    assert_int_equal(act->serial_action->actions[0]->parallel_action->n_actions, 1);
    dl = act->serial_action->actions[0]->parallel_action->actions[0]->download_action;
    assert_non_null(dl);
    assert_string_equal(dl->artifact, "x1");
    assert_string_equal(dl->from, "https://example.com/x1");
    assert_string_equal(dl->to, "/dst/x1");
    assert_string_equal(dl->cache_key, "sha256:def");
    assert_string_equal(dl->user, "root");
    assert_string_equal(dl->checksum_algorithm, "sha256");
    assert_string_equal(dl->checksum_value, "def");
    assert_string_equal(act->serial_action->actions[1]->run_action->path, "/bin/true");
    bbs_arena_free(a);
}

static void v2_exclusive_layers_without_action_are_the_action(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__TaskDefinition *d = definition(a);
    Models__ImageLayer *layers[1];
    struct bbs_task t;
    Models__Task *m;

    (void)state;
    layers[0] = layer(a, "x1", 1, "def");
    d->image_layers = layers;
    d->n_image_layers = 1;
    d->action = NULL;
    t = row(a, d);
    m = round_trip(a, &t, BBS_TASK_VIEW_V2);
    assert_non_null(m->task_definition->action->parallel_action);
    assert_int_equal(m->task_definition->action->parallel_action->n_actions, 1);
    bbs_arena_free(a);
}

static void v2_of_an_undecodable_definition_fails_and_writes_nothing(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_task t = row(a, definition(a));
    struct bbs_buf b = {0};
    static const uint8_t junk[] = {0x0a, 0x7f, 0x01};

    (void)state;
    t.definition.data = junk;
    t.definition.len = sizeof(junk);
    bbs_buf_putc(&b, 0x55);
    assert_int_equal(bbs_task_put(&b, 2, a, &t, BBS_TASK_VIEW_V2), -1);
    assert_int_equal(b.len, 1);
    assert_false(bbs_task_definition_ok(&t.definition));
    bbs_buf_free(&b);
    bbs_arena_free(a);
}

static void definition_ok_accepts_empty_and_valid(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_blob empty = {(const uint8_t *)"", 0, 1};
    struct bbs_blob def = bbs_task_encode_definition(a, definition(a));

    (void)state;
    assert_true(bbs_task_definition_ok(&empty));
    assert_true(bbs_task_definition_ok(&def));
    bbs_arena_free(a);
}

static void start_of_copies_the_scheduling_fields(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__TaskDefinition *d = definition(a);
    Models__VolumeMount *mounts[2];
    char *tags[1] = {S("zone-a")};
    struct bbs_task_start s;

    (void)state;
    mounts[0] = NEW(a, Models__VolumeMount, MODELS__VOLUME_MOUNT__INIT);
    mounts[0]->driver = S("nfs");
    mounts[1] = NEW(a, Models__VolumeMount, MODELS__VOLUME_MOUNT__INIT);
    mounts[1]->driver = S("smb");
    d->volume_mounts = mounts;
    d->n_volume_mounts = 2;
    d->placement_tags = tags;
    d->n_placement_tags = 1;
    bbs_task_start_of(a, "t-1", "d", d, &s);
    assert_string_equal(s.task_guid, "t-1");
    assert_string_equal(s.domain, "d");
    assert_string_equal(s.root_fs, "preloaded:cflinuxfs4");
    assert_int_equal(s.memory_mb, 256);
    assert_int_equal(s.disk_mb, 1024);
    assert_int_equal(s.max_pids, 7);
    assert_int_equal(s.n_placement_tags, 1);
    assert_string_equal(s.placement_tags[0], "zone-a");
    assert_int_equal(s.n_volume_drivers, 2);
    assert_string_equal(s.volume_drivers[0], "nfs");
    assert_string_equal(s.volume_drivers[1], "smb");
    bbs_arena_free(a);
}

static void start_of_without_tags_or_mounts_is_null_lists(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_task_start s;

    (void)state;
    bbs_task_start_of(a, "t-1", "d", definition(a), &s);
    assert_null(s.placement_tags);
    assert_int_equal(s.n_placement_tags, 0);
    assert_null(s.volume_drivers);
    assert_int_equal(s.n_volume_drivers, 0);
    bbs_arena_free(a);
}

static void callback_of_reads_url_and_annotation(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_task t = row(a, definition(a));
    struct bbs_task_callback_due due;
    struct bbs_error e = {0};

    (void)state;
    assert_int_equal(bbs_task_callback_of(a, &t, &due, &e), 0);
    assert_ptr_equal(due.task, &t);
    assert_string_equal(due.url, "http://cc/callback");
    assert_string_equal(due.annotation, "note");
    bbs_arena_free(a);
}

static void callback_of_an_undecodable_definition_is_deserialize(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_task t = row(a, definition(a));
    struct bbs_task_callback_due due;
    struct bbs_error e = {0};
    static const uint8_t junk[] = {0xff};

    (void)state;
    t.definition.data = junk;
    t.definition.len = 1;
    assert_int_equal(bbs_task_callback_of(a, &t, &due, &e), -1);
    assert_int_equal(e.type, BBS_ERR_DESERIALIZE);
    bbs_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(v3_writes_every_column_and_the_definition),
        cmocka_unit_test(v3_writes_an_empty_definition),
        cmocka_unit_test(field_zero_writes_a_bare_task),
        cmocka_unit_test(v2_without_layers_is_the_stored_definition),
        cmocka_unit_test(v2_shared_layers_become_prepended_cached_dependencies),
        cmocka_unit_test(v2_exclusive_layers_download_before_the_action),
        cmocka_unit_test(v2_exclusive_layers_without_action_are_the_action),
        cmocka_unit_test(v2_of_an_undecodable_definition_fails_and_writes_nothing),
        cmocka_unit_test(definition_ok_accepts_empty_and_valid),
        cmocka_unit_test(start_of_copies_the_scheduling_fields),
        cmocka_unit_test(start_of_without_tags_or_mounts_is_null_lists),
        cmocka_unit_test(callback_of_reads_url_and_annotation),
        cmocka_unit_test(callback_of_an_undecodable_definition_is_deserialize),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
