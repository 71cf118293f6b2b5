/*
 * test_dlrp_codec.c - DesiredLRP split/compose (dlrp_codec.h): round trip of
 * every field, ports de-dup, routes canonicalisation, the metrics_guid /
 * source_id fill of 5.7, V3 -> V2 (5.8), and the NN fields of scheduling
 * and routing infos.
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
#include "bbs/dlrp_codec.h"
#include "desired_lrp.pb-c.h"
#include "support/dlrp_full.h"

#define NOW_NS INT64_C(1700000000000000000)

/* protobuf-c string fields are `char *`; literals are const under -Wwrite-strings. */
#define S(lit) ((char *)(lit))

/* A zero-initialised message of type T set to its INIT value, in arena `a`. */
#define NEW(a, T, INIT) ((T *)new_msg((a), &(T)INIT, sizeof(T)))

static void *new_msg(struct bbs_arena *a, const void *init, size_t n)
{
    return bbs_arena_memdup(a, init, n);
}

static Models__Action *run_action(struct bbs_arena *a, const char *path)
{
    Models__Action *act = NEW(a, Models__Action, MODELS__ACTION__INIT);

    act->run_action = NEW(a, Models__RunAction, MODELS__RUN_ACTION__INIT);
    act->run_action->path = bbs_arena_strdup(a, path);
    act->run_action->user = S("vcap");
    return act;
}

static Models__DesiredLRP__MetricTagsEntry *tag(struct bbs_arena *a, const char *key,
                                                const char *static_, int dynamic)
{
    Models__DesiredLRP__MetricTagsEntry *e =
        NEW(a, Models__DesiredLRP__MetricTagsEntry, MODELS__DESIRED_LRP__METRIC_TAGS_ENTRY__INIT);

    e->key = bbs_arena_strdup(a, key);
    e->value = NEW(a, Models__MetricTagValue, MODELS__METRIC_TAG_VALUE__INIT);
    e->value->static_ = bbs_arena_strdup(a, static_);
    e->value->dynamic = (Models__MetricTagValue__DynamicValue)dynamic;
    return e;
}

static Models__ProtoRoutes__RoutesEntry *route(struct bbs_arena *a, const char *key,
                                               const char *json)
{
    Models__ProtoRoutes__RoutesEntry *e =
        NEW(a, Models__ProtoRoutes__RoutesEntry, MODELS__PROTO_ROUTES__ROUTES_ENTRY__INIT);

    e->key = bbs_arena_strdup(a, key);
    e->value.data = (uint8_t *)bbs_arena_strdup(a, json);
    e->value.len = strlen(json);
    return e;
}

static Models__ImageLayer *layer(struct bbs_arena *a, const char *name, int type, int alg,
                                 const char *digest)
{
    Models__ImageLayer *l = NEW(a, Models__ImageLayer, MODELS__IMAGE_LAYER__INIT);

    l->name = bbs_arena_strdup(a, name);
    l->url = bbs_arena_printf(a, "https://blobs/%s", name);
    l->destination_path = bbs_arena_printf(a, "/layers/%s", name);
    l->layer_type = (Models__ImageLayer__Type)type;
    l->media_type = MODELS__IMAGE_LAYER__MEDIA_TYPE__TGZ;
    l->digest_algorithm = (Models__ImageLayer__DigestAlgorithm)alg;
    l->digest_value = bbs_arena_strdup(a, digest);
    return l;
}

/* The DesiredLRP with every field (seed 001, support/dlrp_full.h): keys sorted, JSON compact. */
static Models__DesiredLRP *full_lrp(struct bbs_arena *a)
{
    return it_dlrp_full(bbs_arena_pb_allocator(a), "pg-1", "cf-apps", 3);
}

/* A minimal valid-looking LRP carrying only the given metric tags. */
static Models__DesiredLRP *small_lrp(struct bbs_arena *a)
{
    Models__DesiredLRP *d = NEW(a, Models__DesiredLRP, MODELS__DESIRED_LRP__INIT);

    d->process_guid = S("pg-small");
    d->domain = S("d");
    d->root_fs = S("preloaded:x");
    d->action = run_action(a, "/run");
    return d;
}

/* Compose `row` in `view` as field 2 and decode it as the response of that view. */
static uint8_t *compose(struct bbs_arena *a, const struct bbs_dlrp_row *row,
                        enum bbs_dlrp_view view, size_t *len)
{
    struct bbs_buf b = {0};
    uint8_t *out;

    assert_int_equal(bbs_dlrp_put(&b, 2, a, row, view), 0);
    *len = b.len;
    out = bbs_arena_memdup(a, b.data, b.len);
    bbs_buf_free(&b);
    return out;
}

static Models__DesiredLRP *read_full(struct bbs_arena *a, const struct bbs_dlrp_row *row,
                                     enum bbs_dlrp_view view)
{
    size_t len;
    uint8_t *bytes = compose(a, row, view, &len);
    Models__DesiredLRPResponse *r = (Models__DesiredLRPResponse *)protobuf_c_message_unpack(
        &models__desired_lrpresponse__descriptor, bbs_arena_pb_allocator(a), len, bytes);

    assert_non_null(r);
    assert_non_null(r->desired_lrp);
    return r->desired_lrp;
}

static struct bbs_dlrp_row split_ok(struct bbs_arena *a, const Models__DesiredLRP *d)
{
    struct bbs_dlrp_row row;
    struct bbs_error err = {0};

    assert_int_equal(bbs_dlrp_split(a, d, NOW_NS, &row, &err), 0);
    row.mod_epoch = "epoch-1";
    row.mod_index = 3;
    return row;
}

static void assert_same_message(struct bbs_arena *a, const ProtobufCMessage *want,
                                const ProtobufCMessage *got)
{
    size_t wl;
    size_t gl;
    uint8_t *w = bbs_codec_pack(a, want, &wl);
    uint8_t *g = bbs_codec_pack(a, got, &gl);

    assert_int_equal(wl, gl);
    assert_memory_equal(w, g, wl);
}

static const char *tag_static(const Models__DesiredLRP *d, const char *key)
{
    for (size_t i = 0; i < d->n_metric_tags; i++) {
        if (strcmp(d->metric_tags[i]->key, key) == 0) {
            return d->metric_tags[i]->value != NULL ? d->metric_tags[i]->value->static_ : "";
        }
    }
    return NULL;
}

/* ---- round trip ---- */

static void test_round_trip_every_field(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__DesiredLRP *in = full_lrp(a);
    struct bbs_dlrp_row row = split_ok(a, in);
    Models__DesiredLRP *got = read_full(a, &row, BBS_DLRP_VIEW_V3);
    Models__ModificationTag tag_want = MODELS__MODIFICATION_TAG__INIT;
    Models__DesiredLRP *ri;

    (void)state;
    assert_int_equal(row.created_at_ns, NOW_NS);
    assert_string_equal(row.process_guid, "pg-1");
    assert_int_equal(row.update_strategy, 1);
    /* run_info holds none of the column fields (so concatenation is valid). */
    ri = (Models__DesiredLRP *)protobuf_c_message_unpack(&models__desired_lrp__descriptor,
                                                         bbs_arena_pb_allocator(a),
                                                         row.run_info.len, row.run_info.data);
    assert_non_null(ri);
    assert_string_equal(ri->process_guid, "");
    assert_string_equal(ri->domain, "");
    assert_string_equal(ri->root_fs, "");
    assert_string_equal(ri->log_guid, "");
    assert_string_equal(ri->metrics_guid, "");
    assert_string_equal(ri->annotation, "");
    assert_int_equal(ri->instances, 0);
    assert_int_equal(ri->memory_mb, 0);
    assert_int_equal(ri->disk_mb, 0);
    assert_int_equal(ri->max_pids, 0);
    assert_null(ri->routes);
    assert_null(ri->modification_tag);
    assert_int_equal(ri->n_placementtags, 0);
    assert_int_equal(ri->n_metric_tags, 0);
    assert_int_equal(ri->update_strategy, 0);
    assert_int_equal(ri->deprecated_start_timeout_s, 0);
    assert_string_equal(ri->image_password, "docker-pass");
    /* What a read returns: the server's tag, no deprecated start timeout. */
    tag_want.epoch = S("epoch-1");
    tag_want.index = 3;
    in->modification_tag = &tag_want;
    in->deprecated_start_timeout_s = 0;
    assert_same_message(a, &in->base, &got->base);
    bbs_arena_free(a);
}

static void test_deprecated_start_timeout_not_stored(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__DesiredLRP *in = small_lrp(a);
    struct bbs_dlrp_row row;
    Models__DesiredLRP *got;

    (void)state;
    in->deprecated_start_timeout_s = 77;
    row = split_ok(a, in);
    got = read_full(a, &row, BBS_DLRP_VIEW_V3);
    assert_int_equal(got->deprecated_start_timeout_s, 0);
    bbs_arena_free(a);
}

static void test_ports_dedup_keeps_first(void **state)
{
    static const uint32_t ports[] = {8080, 9090, 8080, 7070, 9090, 7070, 1};
    static const uint32_t want[] = {8080, 9090, 7070, 1};
    struct bbs_arena *a = bbs_arena_new();
    Models__DesiredLRP *in = small_lrp(a);
    struct bbs_dlrp_row row;
    Models__DesiredLRP *got;

    (void)state;
    in->n_ports = sizeof(ports) / sizeof(ports[0]);
    in->ports = bbs_arena_memdup(a, ports, sizeof(ports));
    row = split_ok(a, in);
    got = read_full(a, &row, BBS_DLRP_VIEW_V3);
    assert_int_equal(got->n_ports, 4);
    assert_memory_equal(got->ports, want, sizeof(want));
    bbs_arena_free(a);
}

/* ---- routes ---- */

static void test_routes_canonicalised(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__DesiredLRP *in = small_lrp(a);
    struct bbs_dlrp_row row;
    Models__DesiredLRP *got;

    (void)state;
    in->routes = NEW(a, Models__ProtoRoutes, MODELS__PROTO_ROUTES__INIT);
    in->routes->n_routes = 4;
    in->routes->routes = bbs_arena_alloc(a, 4 * sizeof(*in->routes->routes));
    in->routes->routes[0] = route(a, "z", " 42 ");
    in->routes->routes[1] = route(a, "a", "[ { \"hostnames\" : [ \"a.example.com\" ] } ]");
    in->routes->routes[2] = route(a, "z", "{\"x\": \"<b>&amp;</b>\"}"); /* later z wins */
    in->routes->routes[3] = route(a, "m", "true");
    row = split_ok(a, in);
    got = read_full(a, &row, BBS_DLRP_VIEW_V3);
    assert_non_null(got->routes);
    assert_int_equal(got->routes->n_routes, 3);
    assert_string_equal(got->routes->routes[0]->key, "a");
    assert_int_equal(got->routes->routes[0]->value.len,
                     strlen("[{\"hostnames\":[\"a.example.com\"]}]"));
    assert_memory_equal(got->routes->routes[0]->value.data, "[{\"hostnames\":[\"a.example.com\"]}]",
                        got->routes->routes[0]->value.len);
    assert_string_equal(got->routes->routes[1]->key, "m");
    assert_string_equal(got->routes->routes[2]->key, "z");
    assert_int_equal(got->routes->routes[2]->value.len,
                     strlen("{\"x\":\"\\u003cb\\u003e\\u0026amp;\\u003c/b\\u003e\"}"));
    assert_memory_equal(got->routes->routes[2]->value.data,
                        "{\"x\":\"\\u003cb\\u003e\\u0026amp;\\u003c/b\\u003e\"}",
                        got->routes->routes[2]->value.len);
    bbs_arena_free(a);
}

static void test_routes_invalid_json(void **state)
{
    static const char *const bad[] = {"", "{", "[1,]", "nul", "{\"a\" 1}"};
    struct bbs_arena *a = bbs_arena_new();

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        Models__DesiredLRP *in = small_lrp(a);
        struct bbs_dlrp_row row;
        struct bbs_error err = {0};

        in->routes = NEW(a, Models__ProtoRoutes, MODELS__PROTO_ROUTES__INIT);
        in->routes->n_routes = 2;
        in->routes->routes = bbs_arena_alloc(a, 2 * sizeof(*in->routes->routes));
        in->routes->routes[0] = route(a, "ok", "[]");
        in->routes->routes[1] = route(a, "bad", bad[i]);
        assert_int_equal(bbs_dlrp_split(a, in, NOW_NS, &row, &err), -1);
        assert_int_equal(err.type, BBS_ERR_INVALID_REQUEST);
        assert_string_equal(err.message, "the request received is invalid");
    }
    bbs_arena_free(a);
}

static void test_routes_absent_read_as_empty(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__DesiredLRP *in = small_lrp(a);
    struct bbs_dlrp_row row = split_ok(a, in);
    Models__DesiredLRP *got = read_full(a, &row, BBS_DLRP_VIEW_V3);

    (void)state;
    assert_non_null(got->routes); /* field 15 always on the wire */
    assert_int_equal(got->routes->n_routes, 0);
    assert_non_null(got->modification_tag);
    assert_string_equal(got->modification_tag->epoch, "epoch-1");
    assert_int_equal(got->modification_tag->index, 3);
    bbs_arena_free(a);
}

/* ---- metric tags and the metrics_guid fill (5.7) ---- */

struct fill_case {
    const char *name;
    const char *metrics_guid;
    const char *const *keys; /* NULL-terminated, with statics alongside */
    const char *const *statics;
    const char *want_metrics_guid;
    const char *const *want_keys;   /* NULL-terminated, in read order */
    const char *want_source_static; /* NULL = no source_id tag */
};

static const char *const K_SOURCE[] = {"source_id", NULL};
static const char *const V_MG[] = {"mg"};
static const char *const V_OTHER[] = {"other"};
static const char *const K_X[] = {"x", NULL};
static const char *const V_Y[] = {"y"};
static const char *const K_A[] = {"a", NULL};
static const char *const K_SOURCE_X[] = {"source_id", "x", NULL};
static const char *const K_A_SOURCE[] = {"a", "source_id", NULL};

static const struct fill_case fill_cases[] = {
    {"tags_fill_metrics_guid", "", K_SOURCE, V_MG, "mg", K_SOURCE, "mg"},
    {"metrics_guid_fills_tag_before", "mg", K_X, V_Y, "mg", K_SOURCE_X, "mg"},
    {"metrics_guid_fills_tag_after", "mg", K_A, V_Y, "mg", K_A_SOURCE, "mg"},
    {"both_kept_when_different", "mg", K_SOURCE, V_OTHER, "mg", K_SOURCE, "other"},
    {"neither_no_fill", "", K_X, V_Y, "", K_X, NULL},
};

static Models__DesiredLRP *lrp_with_tags(struct bbs_arena *a, const struct fill_case *c)
{
    Models__DesiredLRP *in = small_lrp(a);
    size_t n = 0;

    while (c->keys[n] != NULL) {
        n++;
    }
    in->metrics_guid = S(c->metrics_guid);
    in->n_metric_tags = n;
    in->metric_tags = bbs_arena_alloc(a, n * sizeof(*in->metric_tags));
    for (size_t i = 0; i < n; i++) {
        in->metric_tags[i] = tag(a, c->keys[i], c->statics[i], 0);
    }
    return in;
}

static void test_fill_case(void **state)
{
    const struct fill_case *c = *state;
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_dlrp_row row = split_ok(a, lrp_with_tags(a, c));
    Models__DesiredLRP *got;
    size_t n_want = 0;

    while (c->want_keys[n_want] != NULL) {
        n_want++;
    }
    for (int v = 0; v < 2; v++) { /* full reads at either revision */
        got = read_full(a, &row, v == 0 ? BBS_DLRP_VIEW_V3 : BBS_DLRP_VIEW_V2);
        assert_string_equal(got->metrics_guid, c->want_metrics_guid);
        assert_int_equal(got->n_metric_tags, n_want);
        for (size_t i = 0; i < n_want; i++) {
            assert_string_equal(got->metric_tags[i]->key, c->want_keys[i]);
        }
        if (c->want_source_static == NULL) {
            assert_null(tag_static(got, "source_id"));
        } else {
            assert_string_equal(tag_static(got, "source_id"), c->want_source_static);
        }
    }
    /* Not applied to routing infos: the tags come back as stored. */
    got = read_full(a, &row, BBS_DLRP_VIEW_ROUTING);
    assert_string_equal(got->metrics_guid, "");
    assert_int_equal(got->n_metric_tags, (size_t)(c->keys[1] != NULL ? 2 : 1));
    bbs_arena_free(a);
}

static void test_metric_tags_sorted_last_wins(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__DesiredLRP *in = small_lrp(a);
    struct bbs_dlrp_row row;
    Models__DesiredLRP *got;

    (void)state;
    in->n_metric_tags = 4;
    in->metric_tags = bbs_arena_alloc(a, 4 * sizeof(*in->metric_tags));
    in->metric_tags[0] = tag(a, "source_id", "first", 0);
    in->metric_tags[1] = tag(a, "b", "", MODELS__METRIC_TAG_VALUE__DYNAMIC_VALUE__INSTANCE_GUID);
    in->metric_tags[2] = tag(a, "source_id", "second", 0);
    in->metric_tags[3] = tag(a, "a", "x", 0);
    row = split_ok(a, in);
    got = read_full(a, &row, BBS_DLRP_VIEW_V3);
    assert_int_equal(got->n_metric_tags, 3);
    assert_string_equal(got->metric_tags[0]->key, "a");
    assert_string_equal(got->metric_tags[1]->key, "b");
    assert_int_equal(got->metric_tags[1]->value->dynamic,
                     MODELS__METRIC_TAG_VALUE__DYNAMIC_VALUE__INSTANCE_GUID);
    assert_string_equal(got->metric_tags[2]->key, "source_id");
    assert_string_equal(got->metric_tags[2]->value->static_, "second");
    assert_string_equal(got->metrics_guid, "second");
    bbs_arena_free(a);
}

/* ---- V3 -> V2 (5.8) ---- */

static Models__DesiredLRP *with_layers(struct bbs_arena *a, int with_setup, size_t n,
                                       Models__ImageLayer **layers)
{
    Models__DesiredLRP *d = small_lrp(a);
    Models__CachedDependency *dep =
        NEW(a, Models__CachedDependency, MODELS__CACHED_DEPENDENCY__INIT);

    dep->name = S("existing");
    d->n_cached_dependencies = 1;
    d->cached_dependencies = bbs_arena_memdup(a, &dep, sizeof(dep));
    d->legacy_download_user = S("legacy");
    if (with_setup) {
        d->setup = run_action(a, "/setup");
    }
    d->n_image_layers = n;
    d->image_layers = layers;
    return d;
}

static void test_v2_shared_layers_become_dependencies(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__ImageLayer **layers = bbs_arena_alloc(a, 3 * sizeof(*layers));
    Models__DesiredLRP *d;

    (void)state;
    layers[0] = layer(a, "l1", MODELS__IMAGE_LAYER__TYPE__SHARED,
                      MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA256, "abc");
    layers[1] = layer(a, "l2", MODELS__IMAGE_LAYER__TYPE__SHARED,
                      MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__DigestAlgorithmInvalid, "");
    layers[2] = layer(a, "l3", MODELS__IMAGE_LAYER__TYPE__SHARED,
                      MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA512, "def");
    d = with_layers(a, 1, 3, layers);
    bbs_dlrp_to_v2(a, d);
    assert_int_equal(d->n_image_layers, 0);
    assert_int_equal(d->n_cached_dependencies, 4);
    assert_string_equal(d->cached_dependencies[0]->name, "l1");
    assert_string_equal(d->cached_dependencies[0]->from, "https://blobs/l1");
    assert_string_equal(d->cached_dependencies[0]->to, "/layers/l1");
    assert_string_equal(d->cached_dependencies[0]->checksum_algorithm, "sha256");
    assert_string_equal(d->cached_dependencies[0]->checksum_value, "abc");
    assert_string_equal(d->cached_dependencies[0]->cache_key, "sha256:abc");
    assert_string_equal(d->cached_dependencies[1]->checksum_algorithm, "");
    assert_string_equal(d->cached_dependencies[1]->cache_key, "https://blobs/l2");
    assert_string_equal(d->cached_dependencies[2]->cache_key, "sha512:def");
    assert_string_equal(d->cached_dependencies[3]->name, "existing");
    /* No exclusive layer: setup untouched. */
    assert_non_null(d->setup->run_action);
    assert_string_equal(d->setup->run_action->path, "/setup");
    bbs_arena_free(a);
}

static void assert_download(const Models__Action *act, const char *name, const char *cache_key)
{
    assert_non_null(act->download_action);
    assert_string_equal(act->download_action->artifact, name);
    assert_string_equal(act->download_action->cache_key, cache_key);
    assert_string_equal(act->download_action->user, "legacy");
}

static void test_v2_exclusive_with_setup(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__ImageLayer **layers = bbs_arena_alloc(a, 3 * sizeof(*layers));
    Models__DesiredLRP *d;
    Models__SerialAction *ser;
    Models__ParallelAction *par;

    (void)state;
    layers[0] = layer(a, "e1", MODELS__IMAGE_LAYER__TYPE__EXCLUSIVE,
                      MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA256, "aaa");
    layers[1] = layer(a, "s1", MODELS__IMAGE_LAYER__TYPE__SHARED,
                      MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA256, "bbb");
    layers[2] = layer(a, "e2", MODELS__IMAGE_LAYER__TYPE__EXCLUSIVE,
                      MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA512, "ccc");
    d = with_layers(a, 1, 3, layers);
    bbs_dlrp_to_v2(a, d);
    assert_int_equal(d->n_image_layers, 0);
    assert_int_equal(d->n_cached_dependencies, 2);
    assert_string_equal(d->cached_dependencies[0]->name, "s1");
    ser = d->setup->serial_action;
    assert_non_null(ser);
    assert_int_equal(ser->n_actions, 2);
    par = ser->actions[0]->parallel_action;
    assert_non_null(par);
    assert_int_equal(par->n_actions, 2);
    assert_download(par->actions[0], "e1", "sha256:aaa");
    assert_string_equal(par->actions[0]->download_action->from, "https://blobs/e1");
    assert_string_equal(par->actions[0]->download_action->to, "/layers/e1");
    assert_string_equal(par->actions[0]->download_action->checksum_algorithm, "sha256");
    assert_string_equal(par->actions[0]->download_action->checksum_value, "aaa");
    assert_download(par->actions[1], "e2", "sha512:ccc");
    assert_non_null(ser->actions[1]->run_action);
    assert_string_equal(ser->actions[1]->run_action->path, "/setup");
    bbs_arena_free(a);
}

static void test_v2_exclusive_without_setup(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__ImageLayer **layers = bbs_arena_alloc(a, sizeof(*layers));
    Models__DesiredLRP *d;

    (void)state;
    layers[0] = layer(a, "e1", MODELS__IMAGE_LAYER__TYPE__EXCLUSIVE,
                      MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA256, "aaa");
    d = with_layers(a, 0, 1, layers);
    bbs_dlrp_to_v2(a, d);
    assert_null(d->setup->serial_action);
    assert_non_null(d->setup->parallel_action);
    assert_int_equal(d->setup->parallel_action->n_actions, 1);
    assert_download(d->setup->parallel_action->actions[0], "e1", "sha256:aaa");
    assert_int_equal(d->n_cached_dependencies, 1);
    bbs_arena_free(a);
}

static void test_v2_no_layers_unchanged(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__DesiredLRP *d = with_layers(a, 1, 0, NULL);
    Models__Action *setup = d->setup;

    (void)state;
    bbs_dlrp_to_v2(a, d);
    assert_ptr_equal(d->setup, setup);
    assert_int_equal(d->n_cached_dependencies, 1);
    bbs_arena_free(a);
}

/* The V2 read path: compose, unpack, convert, pack. */
static void test_v2_read_of_full_lrp(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__DesiredLRP *in = full_lrp(a);
    struct bbs_dlrp_row row = split_ok(a, in);
    Models__DesiredLRP *got = read_full(a, &row, BBS_DLRP_VIEW_V2);
    const Models__Action *dl;

    (void)state;
    assert_int_equal(got->n_image_layers, 0);
    assert_int_equal(got->n_cached_dependencies, 3);
    assert_string_equal(got->cached_dependencies[0]->cache_key, "sha256:abc123");
    assert_string_equal(got->cached_dependencies[1]->name, "app bits");
    assert_non_null(got->setup->serial_action);
    dl = got->setup->serial_action->actions[0]->parallel_action->actions[0];
    assert_non_null(dl->download_action);
    assert_string_equal(dl->download_action->artifact, "exclusive-layer");
    assert_string_equal(dl->download_action->cache_key, "sha256:def456");
    assert_string_equal(dl->download_action->user, "legacy-dan");
    /* the stored setup (a serial action itself) comes second */
    assert_string_equal(got->setup->serial_action->actions[1]->serial_action->log_source,
                        "setup-serial");
    /* Everything else as in V3. */
    assert_string_equal(got->process_guid, "pg-1");
    assert_int_equal(got->n_ports, 2);
    assert_non_null(got->routes);
    assert_int_equal(got->routes->n_routes, 2);
    assert_string_equal(got->modification_tag->epoch, "epoch-1");
    assert_int_equal(got->update_strategy, MODELS__UPDATE_STRATEGY__RECREATE);
    bbs_arena_free(a);
}

/* ---- scheduling and routing infos ---- */

static struct bbs_dlrp_row empty_row(void)
{
    struct bbs_blob none = {(const uint8_t *)"", 0, 1};
    struct bbs_dlrp_row row = {
        .process_guid = "",
        .domain = "",
        .log_guid = "",
        .annotation = "",
        .rootfs = "",
        .routes = none,
        .volume_placement = none,
        .placement_tags = none,
        .metric_tags = none,
        .metrics_guid = "",
        .mod_epoch = "e",
        .run_info = none,
    };

    return row;
}

struct bytes_case {
    const char *name;
    enum bbs_dlrp_view view;
    const char *want; /* hex */
};

static const struct bytes_case bytes_cases[] = {
    /* key, resource, routes, modification tag and volume placement always present */
    {"sched_nn_fields_always", BBS_DLRP_VIEW_SCHED, "120d0a0022002a0032030a01653a00"},
    /* routes (15) and modification tag (21) always present */
    {"full_routes_and_tag_always", BBS_DLRP_VIEW_V3, "12087a00aa01030a0165"},
    {"routing_routes_and_tag_always", BBS_DLRP_VIEW_ROUTING, "12087a00aa01030a0165"},
};

static void test_bytes_case(void **state)
{
    const struct bytes_case *c = *state;
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_dlrp_row row = empty_row();
    size_t len;
    uint8_t *got = compose(a, &row, c->view, &len);
    char *hex = bbs_arena_alloc(a, 2 * len + 1);

    for (size_t i = 0; i < len; i++) {
        static const char digits[] = "0123456789abcdef";

        hex[2 * i] = digits[got[i] >> 4];
        hex[2 * i + 1] = digits[got[i] & 15];
    }
    hex[2 * len] = '\0';
    assert_string_equal(hex, c->want);
    bbs_arena_free(a);
}

static void test_sched_info_fields(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__DesiredLRP *in = full_lrp(a);
    struct bbs_dlrp_row row = split_ok(a, in);
    size_t len;
    uint8_t *bytes = compose(a, &row, BBS_DLRP_VIEW_SCHED, &len);
    Models__DesiredLRPSchedulingInfoByProcessGuidResponse *r =
        (Models__DesiredLRPSchedulingInfoByProcessGuidResponse *)protobuf_c_message_unpack(
            &models__desired_lrpscheduling_info_by_process_guid_response__descriptor,
            bbs_arena_pb_allocator(a), len, bytes);
    Models__DesiredLRPSchedulingInfo *s;

    (void)state;
    assert_non_null(r);
    s = r->desired_lrp_scheduling_info;
    assert_non_null(s);
    assert_string_equal(s->desired_lrp_key->process_guid, "pg-1");
    assert_string_equal(s->desired_lrp_key->domain, "cf-apps");
    assert_string_equal(s->desired_lrp_key->log_guid, "some-log-guid");
    assert_string_equal(s->annotation, "some-annotation");
    assert_int_equal(s->instances, 3);
    assert_int_equal(s->desired_lrp_resource->memory_mb, 1024);
    assert_int_equal(s->desired_lrp_resource->disk_mb, 512);
    assert_string_equal(s->desired_lrp_resource->root_fs,
                        "docker:///docker-user/docker-image#docker-tag");
    assert_int_equal(s->desired_lrp_resource->max_pids, 1024);
    assert_int_equal(s->routes->n_routes, 2);
    assert_string_equal(s->modification_tag->epoch, "epoch-1");
    assert_int_equal(s->modification_tag->index, 3);
    assert_int_equal(s->volume_placement->n_driver_names, 2);
    assert_string_equal(s->volume_placement->driver_names[0], "my-driver");
    assert_int_equal(s->n_placementtags, 2);
    assert_string_equal(s->placementtags[1], "example-tag-2");
    bbs_arena_free(a);
}

static void test_routing_info_fields(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__DesiredLRP *in = full_lrp(a);
    struct bbs_dlrp_row row = split_ok(a, in);
    Models__DesiredLRP *got = read_full(a, &row, BBS_DLRP_VIEW_ROUTING);

    (void)state;
    assert_string_equal(got->process_guid, "pg-1");
    assert_string_equal(got->domain, "cf-apps");
    assert_string_equal(got->log_guid, "some-log-guid");
    assert_int_equal(got->instances, 3);
    assert_int_equal(got->routes->n_routes, 2);
    assert_int_equal(got->modification_tag->index, 3);
    assert_int_equal(got->n_metric_tags, 3);
    /* Nothing else. */
    assert_string_equal(got->root_fs, "");
    assert_string_equal(got->annotation, "");
    assert_null(got->action);
    assert_int_equal(got->n_placementtags, 0);
    assert_int_equal(got->memory_mb, 0);
    bbs_arena_free(a);
}

/* ---- image credentials, auction facts, malformed rows ---- */

static void test_image_credentials_rewrite(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_dlrp_row row = split_ok(a, full_lrp(a));
    Models__DesiredLRPUpdate u = MODELS__DESIRED_LRPUPDATE__INIT;
    struct bbs_error err = {0};
    struct bbs_blob ri;
    Models__DesiredLRP *got;

    (void)state;
    u.optional_image_username_case =
        MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_USERNAME_IMAGE_USERNAME;
    u.image_username = S("new-user");
    u.optional_image_password_case =
        MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_PASSWORD_IMAGE_PASSWORD;
    u.image_password = S("new-secret");
    assert_int_equal(bbs_dlrp_set_image_credentials(a, &row.run_info, &u, &ri, &err), 0);
    row.run_info = ri;
    got = read_full(a, &row, BBS_DLRP_VIEW_V3);
    assert_string_equal(got->image_username, "new-user");
    assert_string_equal(got->image_password, "new-secret");
    assert_int_equal(got->start_timeout_ms, 15000);
    assert_string_equal(got->action->codependent_action->actions[0]->run_action->path,
                        "/app/start");
    bbs_arena_free(a);
}

static void test_auction_start(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_dlrp_row row = split_ok(a, full_lrp(a));
    struct bbs_dlrp_row small = split_ok(a, small_lrp(a));
    struct bbs_auction_start s;

    (void)state;
    assert_int_equal(bbs_dlrp_auction_start(a, &row, &s), 0);
    assert_string_equal(s.process_guid, "pg-1");
    assert_string_equal(s.domain, "cf-apps");
    assert_string_equal(s.root_fs, "docker:///docker-user/docker-image#docker-tag");
    assert_int_equal(s.memory_mb, 1024);
    assert_int_equal(s.disk_mb, 512);
    assert_int_equal(s.max_pids, 1024);
    assert_int_equal(s.n_placement_tags, 2);
    assert_string_equal(s.placement_tags[0], "example-tag");
    assert_int_equal(s.n_volume_drivers, 2);
    assert_string_equal(s.volume_drivers[0], "my-driver");
    assert_string_equal(s.volume_drivers[1], "other-driver");
    assert_null(s.indices);
    assert_int_equal(bbs_dlrp_auction_start(a, &small, &s), 0);
    assert_null(s.placement_tags); /* JSON null */
    assert_null(s.volume_drivers);
    bbs_arena_free(a);
}

static void test_malformed_blob_leaves_buffer(void **state)
{
    static const uint8_t bad[] = {0x0a, 0x05, 0x01}; /* length runs past the end */
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_dlrp_row row = split_ok(a, small_lrp(a));
    struct bbs_buf b = {0};

    (void)state;
    bbs_buf_append(&b, "xy", 2);
    /* Every view reads one of these. */
    row.metric_tags = (struct bbs_blob){bad, sizeof(bad), 1};
    row.placement_tags = (struct bbs_blob){bad, sizeof(bad), 1};
    for (int v = BBS_DLRP_VIEW_V3; v <= BBS_DLRP_VIEW_ROUTING; v++) {
        assert_int_equal(bbs_dlrp_put(&b, 2, a, &row, (enum bbs_dlrp_view)v), -1);
        assert_int_equal(b.len, 2);
    }
    bbs_buf_free(&b);
    bbs_arena_free(a);
}

int main(void)
{
    enum { N_FILL = sizeof(fill_cases) / sizeof(fill_cases[0]) };
    enum { N_BYTES = sizeof(bytes_cases) / sizeof(bytes_cases[0]) };
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_round_trip_every_field),
        cmocka_unit_test(test_deprecated_start_timeout_not_stored),
        cmocka_unit_test(test_ports_dedup_keeps_first),
        cmocka_unit_test(test_routes_canonicalised),
        cmocka_unit_test(test_routes_invalid_json),
        cmocka_unit_test(test_routes_absent_read_as_empty),
        cmocka_unit_test(test_metric_tags_sorted_last_wins),
        cmocka_unit_test(test_v2_shared_layers_become_dependencies),
        cmocka_unit_test(test_v2_exclusive_with_setup),
        cmocka_unit_test(test_v2_exclusive_without_setup),
        cmocka_unit_test(test_v2_no_layers_unchanged),
        cmocka_unit_test(test_v2_read_of_full_lrp),
        cmocka_unit_test(test_sched_info_fields),
        cmocka_unit_test(test_routing_info_fields),
        cmocka_unit_test(test_image_credentials_rewrite),
        cmocka_unit_test(test_auction_start),
        cmocka_unit_test(test_malformed_blob_leaves_buffer),
    };
    enum { N_FIXED = sizeof(fixed) / sizeof(fixed[0]) };
    struct CMUnitTest tests[N_FIXED + N_FILL + N_BYTES];
    size_t k = 0;

    for (size_t i = 0; i < N_FIXED; i++) {
        tests[k++] = fixed[i];
    }
    for (size_t i = 0; i < N_FILL; i++) {
        tests[k++] = (struct CMUnitTest){
            .name = fill_cases[i].name,
            .test_func = test_fill_case,
            .initial_state = (void *)&fill_cases[i],
        };
    }
    for (size_t i = 0; i < N_BYTES; i++) {
        tests[k++] = (struct CMUnitTest){
            .name = bytes_cases[i].name,
            .test_func = test_bytes_case,
            .initial_state = (void *)&bytes_cases[i],
        };
    }
    return cmocka_run_group_tests_name("dlrp_codec", tests, NULL, NULL);
}
