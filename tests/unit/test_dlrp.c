/*
 * test_dlrp.c - the rules of a DesiredLRP update (dlrp.h; reference 5.4
 * step 2, 2.6.4), one named row per rule.
 *
 * The encoders are fakes that write readable text ("routes:cf-router"),
 * so each row states exactly which blob was re-encoded from what; the real
 * encoders have their own tests (test_dlrp_codec.c). Every row also checks
 * that the fields no update may touch are as before, that the input row is
 * untouched, and how many encoders ran.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "bbs/arena.h"
#include "bbs/dlrp.h"
#include "desired_lrp.pb-c.h"

/* protobuf-c string fields are `char *`; literals are const under -Wwrite-strings. */
#define S(lit) ((char *)(lit))

#define NEW(a, T, INIT) ((T *)bbs_arena_memdup((a), &(T)INIT, sizeof(T)))

/* ---- fake encoders ---- */

static int encoder_calls;

static struct bbs_blob text_blob(struct bbs_arena *a, const char *s)
{
    struct bbs_blob b = {(const uint8_t *)bbs_arena_strdup(a, s), strlen(s), 1};

    return b;
}

/* "routes:" and the keys in order; a value "not json" fails as the codec does. */
static int fake_routes(struct bbs_arena *arena, const Models__ProtoRoutes *routes,
                       struct bbs_blob *out, struct bbs_error *err)
{
    char text[256] = "routes:";

    encoder_calls++;
    for (size_t i = 0; i < routes->n_routes; i++) {
        const ProtobufCBinaryData *v = &routes->routes[i]->value;
        if (v->len == 8 && memcmp(v->data, "not json", 8) == 0) {
            bbs_error_set(err, BBS_ERR_INVALID_REQUEST);
            return -1;
        }
        if (i > 0) {
            strcat(text, ",");
        }
        strcat(text, routes->routes[i]->key);
    }
    *out = text_blob(arena, text);
    return 0;
}

/* "tags:" and the keys in order. */
static struct bbs_blob fake_tags(struct bbs_arena *arena,
                                 Models__DesiredLRPUpdate__MetricTagsEntry *const *tags, size_t n)
{
    char text[256] = "tags:";

    encoder_calls++;
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            strcat(text, ",");
        }
        strcat(text, tags[i]->key);
    }
    return text_blob(arena, text);
}

/* The old run_info text, then the credentials the update sets ("-": not set). */
static int fake_credentials(struct bbs_arena *arena, const struct bbs_blob *run_info,
                            const Models__DesiredLRPUpdate *u, struct bbs_blob *out,
                            struct bbs_error *err)
{
    int user = u->optional_image_username_case ==
               MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_USERNAME_IMAGE_USERNAME;
    int password = u->optional_image_password_case ==
                   MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_PASSWORD_IMAGE_PASSWORD;

    encoder_calls++;
    if (run_info->len == 11 && memcmp(run_info->data, "undecodable", 11) == 0) {
        bbs_error_set(err, BBS_ERR_DESERIALIZE);
        return -1;
    }
    *out = text_blob(arena,
                     bbs_arena_printf(arena, "%.*s|user=%s|password=%s", (int)run_info->len,
                                      (const char *)run_info->data, user ? u->image_username : "-",
                                      password ? u->image_password : "-"));
    return 0;
}

static const struct bbs_dlrp_update_codec fake_codec = {
    .encode_routes = fake_routes,
    .encode_metric_tags = fake_tags,
    .set_image_credentials = fake_credentials,
};

/* ---- update builders ---- */

static void u_nothing(struct bbs_arena *a, Models__DesiredLRPUpdate *u)
{
    (void)a;
    (void)u;
}

static void set_instances(Models__DesiredLRPUpdate *u, int32_t n)
{
    u->optional_instances_case = MODELS__DESIRED_LRPUPDATE__OPTIONAL_INSTANCES_INSTANCES;
    u->instances = n;
}

static void u_instances_5(struct bbs_arena *a, Models__DesiredLRPUpdate *u)
{
    (void)a;
    set_instances(u, 5);
}

static void u_instances_0(struct bbs_arena *a, Models__DesiredLRPUpdate *u)
{
    (void)a;
    set_instances(u, 0);
}

/* A value in the union without its case set is not there. */
static void u_instances_unset(struct bbs_arena *a, Models__DesiredLRPUpdate *u)
{
    (void)a;
    u->instances = 9;
}

static void set_annotation(Models__DesiredLRPUpdate *u, const char *s)
{
    u->optional_annotation_case = MODELS__DESIRED_LRPUPDATE__OPTIONAL_ANNOTATION_ANNOTATION;
    u->annotation = S(s);
}

static void u_annotation(struct bbs_arena *a, Models__DesiredLRPUpdate *u)
{
    (void)a;
    set_annotation(u, "new-annotation");
}

static void u_annotation_empty(struct bbs_arena *a, Models__DesiredLRPUpdate *u)
{
    (void)a;
    set_annotation(u, "");
}

static void u_annotation_null(struct bbs_arena *a, Models__DesiredLRPUpdate *u)
{
    (void)a;
    set_annotation(u, NULL);
}

static void u_annotation_unset(struct bbs_arena *a, Models__DesiredLRPUpdate *u)
{
    (void)a;
    u->annotation = S("ignored");
}

/* Routes with `n` entries: keys and values from the arrays. */
static void set_routes(struct bbs_arena *a, Models__DesiredLRPUpdate *u, size_t n,
                       const char *const *keys, const char *const *values)
{
    u->routes = NEW(a, Models__ProtoRoutes, MODELS__PROTO_ROUTES__INIT);
    u->routes->n_routes = n;
    u->routes->routes = bbs_arena_alloc(a, (n + 1) * sizeof(*u->routes->routes));
    for (size_t i = 0; i < n; i++) {
        Models__ProtoRoutes__RoutesEntry *e =
            NEW(a, Models__ProtoRoutes__RoutesEntry, MODELS__PROTO_ROUTES__ROUTES_ENTRY__INIT);
        e->key = S(keys[i]);
        e->value.data = (uint8_t *)values[i];
        e->value.len = strlen(values[i]);
        u->routes->routes[i] = e;
    }
}

static void u_routes(struct bbs_arena *a, Models__DesiredLRPUpdate *u)
{
    static const char *const keys[] = {"cf-router", "tcp-router"};
    static const char *const values[] = {"[]", "[{\"port\":80}]"};

    set_routes(a, u, 2, keys, values);
}

static void u_routes_empty(struct bbs_arena *a, Models__DesiredLRPUpdate *u)
{
    set_routes(a, u, 0, NULL, NULL);
}

static void u_routes_not_json(struct bbs_arena *a, Models__DesiredLRPUpdate *u)
{
    static const char *const keys[] = {"cf-router", "tcp-router"};
    static const char *const values[] = {"[]", "not json"};

    set_instances(u, 5);
    set_annotation(u, "new-annotation");
    set_routes(a, u, 2, keys, values);
}

static void set_tags(struct bbs_arena *a, Models__DesiredLRPUpdate *u, size_t n,
                     const char *const *keys)
{
    u->n_metric_tags = n;
    u->metric_tags = bbs_arena_alloc(a, (n + 1) * sizeof(*u->metric_tags));
    for (size_t i = 0; i < n; i++) {
        Models__DesiredLRPUpdate__MetricTagsEntry *e =
            NEW(a, Models__DesiredLRPUpdate__MetricTagsEntry,
                MODELS__DESIRED_LRPUPDATE__METRIC_TAGS_ENTRY__INIT);
        e->key = S(keys[i]);
        e->value = NEW(a, Models__MetricTagValue, MODELS__METRIC_TAG_VALUE__INIT);
        e->value->static_ = S("v");
        u->metric_tags[i] = e;
    }
}

static void u_metric_tags(struct bbs_arena *a, Models__DesiredLRPUpdate *u)
{
    static const char *const keys[] = {"source_id", "zone"};

    set_tags(a, u, 2, keys);
}

/* An empty map cannot be told from an absent one: unchanged. */
static void u_metric_tags_empty(struct bbs_arena *a, Models__DesiredLRPUpdate *u)
{
    set_tags(a, u, 0, NULL);
}

static void set_username(Models__DesiredLRPUpdate *u, const char *s)
{
    u->optional_image_username_case =
        MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_USERNAME_IMAGE_USERNAME;
    u->image_username = S(s);
}

static void set_password(Models__DesiredLRPUpdate *u, const char *s)
{
    u->optional_image_password_case =
        MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_PASSWORD_IMAGE_PASSWORD;
    u->image_password = S(s);
}

static void u_credentials(struct bbs_arena *a, Models__DesiredLRPUpdate *u)
{
    (void)a;
    set_username(u, "user");
    set_password(u, "secret");
}

static void u_username_only(struct bbs_arena *a, Models__DesiredLRPUpdate *u)
{
    (void)a;
    set_username(u, "user");
}

static void u_password_only(struct bbs_arena *a, Models__DesiredLRPUpdate *u)
{
    (void)a;
    set_password(u, "secret");
}

/* Setting them to "" is setting them: run_info is rewritten. */
static void u_credentials_empty(struct bbs_arena *a, Models__DesiredLRPUpdate *u)
{
    (void)a;
    set_username(u, "");
    set_password(u, "");
}

/* Values in the union without their cases set are not there. */
static void u_credentials_unset(struct bbs_arena *a, Models__DesiredLRPUpdate *u)
{
    (void)a;
    u->image_username = S("user");
    u->image_password = S("secret");
}

static void u_everything(struct bbs_arena *a, Models__DesiredLRPUpdate *u)
{
    u_instances_5(a, u);
    u_annotation(a, u);
    u_routes(a, u);
    u_metric_tags(a, u);
    u_credentials(a, u);
}

/* ---- the table ---- */

struct rule_case {
    const char *name;
    void (*build)(struct bbs_arena *a, Models__DesiredLRPUpdate *u);
    const char *run_info_before; /* NULL: "old-run-info" */
    int want_rc;
    enum bbs_error_type want_err; /* read only when want_rc is -1 */
    /* The row after; NULL blob texts mean "as before". */
    int32_t instances;
    const char *annotation;
    const char *routes;
    const char *metric_tags;
    const char *run_info;
};

#define OLD_INSTANCES  3
#define OLD_ANNOTATION "old-annotation"

static const struct rule_case rule_cases[] = {
    {"noop_update_moves_only_the_tag_index", u_nothing, NULL, 0, 0, OLD_INSTANCES, OLD_ANNOTATION,
     NULL, NULL, NULL},
    {"instances_set", u_instances_5, NULL, 0, 0, 5, OLD_ANNOTATION, NULL, NULL, NULL},
    {"instances_set_to_zero", u_instances_0, NULL, 0, 0, 0, OLD_ANNOTATION, NULL, NULL, NULL},
    {"instances_value_without_oneof_ignored", u_instances_unset, NULL, 0, 0, OLD_INSTANCES,
     OLD_ANNOTATION, NULL, NULL, NULL},
    {"annotation_set", u_annotation, NULL, 0, 0, OLD_INSTANCES, "new-annotation", NULL, NULL, NULL},
    {"annotation_set_to_empty", u_annotation_empty, NULL, 0, 0, OLD_INSTANCES, "", NULL, NULL,
     NULL},
    {"annotation_null_reads_empty", u_annotation_null, NULL, 0, 0, OLD_INSTANCES, "", NULL, NULL,
     NULL},
    {"annotation_value_without_oneof_ignored", u_annotation_unset, NULL, 0, 0, OLD_INSTANCES,
     OLD_ANNOTATION, NULL, NULL, NULL},
    {"routes_present_replace_the_map", u_routes, NULL, 0, 0, OLD_INSTANCES, OLD_ANNOTATION,
     "routes:cf-router,tcp-router", NULL, NULL},
    {"routes_present_but_empty_clear_the_map", u_routes_empty, NULL, 0, 0, OLD_INSTANCES,
     OLD_ANNOTATION, "routes:", NULL, NULL},
    {"routes_not_json_fail_the_update", u_routes_not_json, NULL, -1, BBS_ERR_INVALID_REQUEST, 0,
     NULL, NULL, NULL, NULL},
    {"metric_tags_non_empty_replace_the_map", u_metric_tags, NULL, 0, 0, OLD_INSTANCES,
     OLD_ANNOTATION, NULL, "tags:source_id,zone", NULL},
    {"metric_tags_empty_leave_the_map", u_metric_tags_empty, NULL, 0, 0, OLD_INSTANCES,
     OLD_ANNOTATION, NULL, NULL, NULL},
    {"image_credentials_rewrite_run_info", u_credentials, NULL, 0, 0, OLD_INSTANCES, OLD_ANNOTATION,
     NULL, NULL, "old-run-info|user=user|password=secret"},
    {"image_username_alone_rewrites_run_info", u_username_only, NULL, 0, 0, OLD_INSTANCES,
     OLD_ANNOTATION, NULL, NULL, "old-run-info|user=user|password=-"},
    {"image_password_alone_rewrites_run_info", u_password_only, NULL, 0, 0, OLD_INSTANCES,
     OLD_ANNOTATION, NULL, NULL, "old-run-info|user=-|password=secret"},
    {"image_credentials_set_to_empty_rewrite_run_info", u_credentials_empty, NULL, 0, 0,
     OLD_INSTANCES, OLD_ANNOTATION, NULL, NULL, "old-run-info|user=|password="},
    {"image_credentials_without_oneof_ignored", u_credentials_unset, NULL, 0, 0, OLD_INSTANCES,
     OLD_ANNOTATION, NULL, NULL, NULL},
    {"image_credentials_stored_run_info_undecodable", u_credentials, "undecodable", -1,
     BBS_ERR_DESERIALIZE, 0, NULL, NULL, NULL, NULL},
    {"every_rule_at_once", u_everything, NULL, 0, 0, 5, "new-annotation",
     "routes:cf-router,tcp-router", "tags:source_id,zone",
     "old-run-info|user=user|password=secret"},
};

static struct bbs_blob lit_blob(const char *s)
{
    struct bbs_blob b = {(const uint8_t *)s, strlen(s), 1};

    return b;
}

static struct bbs_dlrp_row before_row(const char *run_info)
{
    struct bbs_dlrp_row row = {
        .process_guid = "pg-1",
        .domain = "cf-apps",
        .log_guid = "log-guid",
        .annotation = OLD_ANNOTATION,
        .instances = OLD_INSTANCES,
        .memory_mb = 128,
        .disk_mb = 256,
        .max_pids = 10,
        .rootfs = "preloaded:cflinuxfs4",
        .routes = lit_blob("old-routes"),
        .volume_placement = lit_blob("old-volume-placement"),
        .placement_tags = lit_blob("old-placement-tags"),
        .metric_tags = lit_blob("old-tags"),
        .metrics_guid = "metrics-guid",
        .update_strategy = 1,
        .mod_epoch = "epoch",
        .mod_index = 7,
        .run_info = lit_blob(run_info != NULL ? run_info : "old-run-info"),
        .created_at_ns = INT64_C(1700000000000000000),
    };

    return row;
}

/* `got` is `want` as text, or (want NULL) the very blob of the row before. */
static void assert_blob(struct bbs_blob got, const char *want, struct bbs_blob old)
{
    if (want == NULL) {
        assert_ptr_equal(got.data, old.data);
        assert_int_equal(got.len, old.len);
    } else {
        assert_int_equal(got.len, strlen(want));
        assert_memory_equal(got.data, want, got.len);
    }
    assert_int_equal(got.present, 1);
}

static void test_rule_case(void **state)
{
    const struct rule_case *c = *state;
    struct bbs_arena *a = bbs_arena_new();
    Models__DesiredLRPUpdate *u = NEW(a, Models__DesiredLRPUpdate, MODELS__DESIRED_LRPUPDATE__INIT);
    struct bbs_dlrp_row before = before_row(c->run_info_before);
    struct bbs_dlrp_row copy;
    struct bbs_dlrp_row after;
    struct bbs_error err = {0};
    int want_calls = 0;
    int rc;

    memcpy(&copy, &before, sizeof(copy)); /* padding included: compared bytewise below */
    c->build(a, u);
    encoder_calls = 0;
    memset(&after, 0, sizeof(after));
    rc = bbs_dlrp_apply_update(a, &before, u, &fake_codec, &after, &err);

    assert_int_equal(rc, c->want_rc);
    assert_memory_equal(&before, &copy, sizeof(before)); /* input untouched */
    if (c->want_rc != 0) {
        assert_int_equal(err.type, c->want_err);
        bbs_arena_free(a);
        return;
    }
    /* The tag index moves by one on every update. */
    assert_int_equal(after.mod_index, before.mod_index + 1);
    assert_int_equal(after.instances, c->instances);
    assert_string_equal(after.annotation, c->annotation);
    assert_blob(after.routes, c->routes, before.routes);
    assert_blob(after.metric_tags, c->metric_tags, before.metric_tags);
    assert_blob(after.run_info, c->run_info, before.run_info);
    want_calls = (c->routes != NULL) + (c->metric_tags != NULL) + (c->run_info != NULL);
    assert_int_equal(encoder_calls, want_calls);

    /* Nothing else can change. */
    assert_ptr_equal(after.process_guid, before.process_guid);
    assert_ptr_equal(after.domain, before.domain);
    assert_ptr_equal(after.log_guid, before.log_guid);
    assert_int_equal(after.memory_mb, before.memory_mb);
    assert_int_equal(after.disk_mb, before.disk_mb);
    assert_int_equal(after.max_pids, before.max_pids);
    assert_ptr_equal(after.rootfs, before.rootfs);
    assert_blob(after.volume_placement, NULL, before.volume_placement);
    assert_blob(after.placement_tags, NULL, before.placement_tags);
    assert_ptr_equal(after.metrics_guid, before.metrics_guid);
    assert_int_equal(after.update_strategy, before.update_strategy);
    assert_ptr_equal(after.mod_epoch, before.mod_epoch);
    assert_int_equal(after.created_at_ns, before.created_at_ns);
    bbs_arena_free(a);
}

int main(void)
{
    enum { N = sizeof(rule_cases) / sizeof(rule_cases[0]) };
    struct CMUnitTest tests[N];

    for (size_t i = 0; i < N; i++) {
        tests[i] = (struct CMUnitTest){
            .name = rule_cases[i].name,
            .test_func = test_rule_case,
            .initial_state = (void *)&rule_cases[i],
        };
    }
    return cmocka_run_group_tests_name("dlrp_apply_update", tests, NULL, NULL);
}
