/*
 * test_validate.c - request validation (reference 2.1.3, 2.3-2.8, 5.1, 5.2).
 *
 * Most tables start from one valid DesiredLRP with every field set (as in
 * seed 001) and break one rule per row, asserting the exact message. Rows
 * that take a full tree (actions, updates) build it in a test pool that is
 * emptied around every test. The action, egress and rootfs tables run a
 * second time through the shared validators alone (validate_action.h,
 * validate_egress.h, validate_lex.h), and the parts table calls the other
 * shared validators on the LRP's own parts: a TaskDefinition will use
 * them directly.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/validate.h"

/* ---- test pool: every message a test builds, freed between tests ---- */

static void **pool;
static size_t pool_n;
static size_t pool_cap;

/* `n` zeroed bytes owned by the pool. */
static void *pool_alloc(size_t n)
{
    void *p = calloc(1, n == 0 ? 1 : n);

    assert_non_null(p);
    if (pool_n == pool_cap) {
        pool_cap = pool_cap == 0 ? 64 : pool_cap * 2;
        pool = realloc(pool, pool_cap * sizeof(*pool));
        assert_non_null(pool);
    }
    pool[pool_n++] = p;
    return p;
}

static void *pool_dup(const void *init, size_t n)
{
    void *p = pool_alloc(n);

    memcpy(p, init, n);
    return p;
}

static void pool_free(void)
{
    for (size_t i = 0; i < pool_n; i++) {
        free(pool[i]);
    }
    pool_n = 0;
}

/* A pooled copy of a protobuf-c INIT value. */
#define NEW(type, init) ((type *)pool_dup(&(type)init, sizeof(type)))

/* Generated structs hold `char *`; the validators only read them. */
static char *S(const char *s)
{
    return (char *)s;
}

/* A pooled array of `n` pointers. */
static void *ptrs(size_t n, ...)
{
    void **v = pool_alloc(n * sizeof(void *));
    va_list ap;

    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        v[i] = va_arg(ap, void *);
    }
    va_end(ap);
    return v;
}

/* A pooled NUL-terminated string of `n` copies of 'a'. */
static char *big_string(size_t n)
{
    char *s = pool_alloc(n + 1);

    memset(s, 'a', n);
    return s;
}

/* ---- action constructors ---- */

static Models__Action *act_run(const char *path, const char *user)
{
    Models__Action *a = NEW(Models__Action, MODELS__ACTION__INIT);
    Models__RunAction *r = NEW(Models__RunAction, MODELS__RUN_ACTION__INIT);

    r->path = S(path);
    r->user = S(user);
    r->args = ptrs(2, S("-l"), S("-a"));
    r->n_args = 2;
    r->resource_limits = NEW(Models__ResourceLimits, MODELS__RESOURCE_LIMITS__INIT);
    r->resource_limits->optional_nofile_case = MODELS__RESOURCE_LIMITS__OPTIONAL_NOFILE_NOFILE;
    r->resource_limits->nofile = 1024;
    a->run_action = r;
    return a;
}

static Models__Action *act_download(const char *from, const char *to, const char *user,
                                    const char *algorithm, const char *value)
{
    Models__Action *a = NEW(Models__Action, MODELS__ACTION__INIT);
    Models__DownloadAction *d = NEW(Models__DownloadAction, MODELS__DOWNLOAD_ACTION__INIT);

    d->artifact = S("app bits");
    d->from = S(from);
    d->to = S(to);
    d->user = S(user);
    d->cache_key = S("cache-key");
    d->checksum_algorithm = S(algorithm);
    d->checksum_value = S(value);
    a->download_action = d;
    return a;
}

static Models__Action *act_upload(const char *from, const char *to, const char *user)
{
    Models__Action *a = NEW(Models__Action, MODELS__ACTION__INIT);
    Models__UploadAction *u = NEW(Models__UploadAction, MODELS__UPLOAD_ACTION__INIT);

    u->from = S(from);
    u->to = S(to);
    u->user = S(user);
    a->upload_action = u;
    return a;
}

static Models__Action *act_timeout(Models__Action *child, int64_t timeout_ms)
{
    Models__Action *a = NEW(Models__Action, MODELS__ACTION__INIT);
    Models__TimeoutAction *t = NEW(Models__TimeoutAction, MODELS__TIMEOUT_ACTION__INIT);

    t->action = child;
    t->timeout_ms = timeout_ms;
    a->timeout_action = t;
    return a;
}

static Models__Action *act_try(Models__Action *child)
{
    Models__Action *a = NEW(Models__Action, MODELS__ACTION__INIT);
    Models__TryAction *t = NEW(Models__TryAction, MODELS__TRY_ACTION__INIT);

    t->action = child;
    a->try_action = t;
    return a;
}

static Models__Action *act_emit(Models__Action *child)
{
    Models__Action *a = NEW(Models__Action, MODELS__ACTION__INIT);
    Models__EmitProgressAction *e =
        NEW(Models__EmitProgressAction, MODELS__EMIT_PROGRESS_ACTION__INIT);

    e->action = child;
    e->start_message = S("start-message");
    e->success_message = S("success-message");
    e->failure_message_prefix = S("failure-message");
    a->emit_progress_action = e;
    return a;
}

enum list_kind { PARALLEL, SERIAL, CODEPENDENT };

/* A composite of `n` children (the varargs), which may be NULL elements. */
static Models__Action *act_list(enum list_kind kind, size_t n, ...)
{
    Models__Action *a = NEW(Models__Action, MODELS__ACTION__INIT);
    Models__Action **children = pool_alloc(n * sizeof(*children));
    va_list ap;

    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        children[i] = va_arg(ap, Models__Action *);
    }
    va_end(ap);
    if (kind == PARALLEL) {
        a->parallel_action = NEW(Models__ParallelAction, MODELS__PARALLEL_ACTION__INIT);
        a->parallel_action->actions = children;
        a->parallel_action->n_actions = n;
    } else if (kind == SERIAL) {
        a->serial_action = NEW(Models__SerialAction, MODELS__SERIAL_ACTION__INIT);
        a->serial_action->actions = children;
        a->serial_action->n_actions = n;
    } else {
        a->codependent_action = NEW(Models__CodependentAction, MODELS__CODEPENDENT_ACTION__INIT);
        a->codependent_action->actions = children;
        a->codependent_action->n_actions = n;
    }
    return a;
}

static Models__Action *act_empty(void)
{
    return NEW(Models__Action, MODELS__ACTION__INIT);
}

/* ---- the full, valid DesiredLRP (seed 001) ---- */

static Models__DesiredLRP__MetricTagsEntry *tag(const char *key, const char *static_,
                                                Models__MetricTagValue__DynamicValue dynamic)
{
    Models__DesiredLRP__MetricTagsEntry *e =
        NEW(Models__DesiredLRP__MetricTagsEntry, MODELS__DESIRED_LRP__METRIC_TAGS_ENTRY__INIT);

    e->key = S(key);
    e->value = NEW(Models__MetricTagValue, MODELS__METRIC_TAG_VALUE__INIT);
    e->value->static_ = S(static_);
    e->value->dynamic = dynamic;
    return e;
}

static Models__ProtoRoutes__RoutesEntry *route(const char *key, const void *value, size_t len)
{
    Models__ProtoRoutes__RoutesEntry *e =
        NEW(Models__ProtoRoutes__RoutesEntry, MODELS__PROTO_ROUTES__ROUTES_ENTRY__INIT);

    e->key = S(key);
    e->value.data = (uint8_t *)value;
    e->value.len = len;
    return e;
}

static Models__Check *tcp_check(uint32_t port)
{
    Models__Check *c = NEW(Models__Check, MODELS__CHECK__INIT);

    c->tcp_check = NEW(Models__TCPCheck, MODELS__TCPCHECK__INIT);
    c->tcp_check->port = port;
    c->tcp_check->connect_timeout_ms = 100;
    c->tcp_check->interval_ms = 500;
    return c;
}

static Models__Check *http_check(uint32_t port)
{
    Models__Check *c = NEW(Models__Check, MODELS__CHECK__INIT);

    c->http_check = NEW(Models__HTTPCheck, MODELS__HTTPCHECK__INIT);
    c->http_check->port = port;
    c->http_check->path = S("/some/path");
    c->http_check->request_timeout_ms = 100;
    c->http_check->interval_ms = 500;
    return c;
}

static Models__CachedDependency *cached_dep(const char *from, const char *to, const char *algorithm,
                                            const char *value)
{
    Models__CachedDependency *c = NEW(Models__CachedDependency, MODELS__CACHED_DEPENDENCY__INIT);

    c->name = S("app bits");
    c->from = S(from);
    c->to = S(to);
    c->cache_key = S("cache-key");
    c->log_source = S("log-source");
    c->checksum_algorithm = S(algorithm);
    c->checksum_value = S(value);
    return c;
}

static Models__ImageLayer *image_layer(Models__ImageLayer__Type type)
{
    Models__ImageLayer *l = NEW(Models__ImageLayer, MODELS__IMAGE_LAYER__INIT);

    l->url = S("https://blobstore.com/bits/other-bits");
    l->destination_path = S("/usr/local/app/other");
    l->digest_value = S("some digest");
    l->digest_algorithm = MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA256;
    l->media_type = MODELS__IMAGE_LAYER__MEDIA_TYPE__TGZ;
    l->layer_type = type;
    return l;
}

static Models__SecurityGroupRule *tcp_rule(void)
{
    Models__SecurityGroupRule *r =
        NEW(Models__SecurityGroupRule, MODELS__SECURITY_GROUP_RULE__INIT);

    r->protocol = S("tcp");
    r->destinations = ptrs(2, S("1.1.1.1/32"), S("2.2.2.2/32"));
    r->n_destinations = 2;
    r->port_range = NEW(Models__PortRange, MODELS__PORT_RANGE__INIT);
    r->port_range->start = 10;
    r->port_range->end = 16000;
    r->annotations = ptrs(1, S("security_group_id:abc"));
    r->n_annotations = 1;
    return r;
}

static Models__DesiredLRP *full_lrp(void)
{
    Models__DesiredLRP *d = NEW(Models__DesiredLRP, MODELS__DESIRED_LRP__INIT);
    Models__EnvironmentVariable *env =
        NEW(Models__EnvironmentVariable, MODELS__ENVIRONMENT_VARIABLE__INIT);
    Models__VolumeMount *vm = NEW(Models__VolumeMount, MODELS__VOLUME_MOUNT__INIT);
    Models__Network__PropertiesEntry *prop =
        NEW(Models__Network__PropertiesEntry, MODELS__NETWORK__PROPERTIES_ENTRY__INIT);
    Models__Sidecar *sidecar = NEW(Models__Sidecar, MODELS__SIDECAR__INIT);
    Models__File *file = NEW(Models__File, MODELS__FILE__INIT);
    static const uint32_t ports[] = {8080, 9090};
    static const char route_json[] = "{\"foo\":\"bar\"}";

    d->process_guid = S("some-guid");
    d->domain = S("some-domain");
    d->root_fs = S("docker:///docker-user/docker-image#docker-tag");
    d->instances = 1;

    env->name = S("FOO");
    env->value = S("bar");
    d->environment_variables = ptrs(1, env);
    d->n_environment_variables = 1;

    /* Every action type appears once, all valid. */
    d->setup = act_list(
        SERIAL, 3,
        act_download("blobstore.com/bits/app-bits", "/usr/local/app", "name", "md5", "checksum"),
        act_list(PARALLEL, 2, act_upload("/tmp/out", "blobstore.com/up", "name"),
                 act_run("ls", "name")),
        act_list(CODEPENDENT, 1, act_try(act_run("ls", "name"))));
    d->action = act_run("ls", "name");
    d->monitor = act_emit(act_timeout(act_run("ls", "name"), 10000));
    d->deprecated_start_timeout_s = 15;

    d->disk_mb = 512;
    d->memory_mb = 1024;
    d->cpu_weight = 42;
    d->privileged = 1;
    d->ports = (uint32_t *)ports;
    d->n_ports = 2;

    d->routes = NEW(Models__ProtoRoutes, MODELS__PROTO_ROUTES__INIT);
    d->routes->routes = ptrs(1, route("my-router", route_json, strlen(route_json)));
    d->routes->n_routes = 1;

    d->log_source = S("some-log-source");
    d->log_guid = S("some-log-guid");
    d->metrics_guid = S("some-source-id");
    d->annotation = S("some-annotation");

    d->egress_rules = ptrs(1, tcp_rule());
    d->n_egress_rules = 1;

    d->modification_tag = NEW(Models__ModificationTag, MODELS__MODIFICATION_TAG__INIT);
    d->modification_tag->epoch = S("epoch");

    d->cached_dependencies =
        ptrs(2, cached_dep("blobstore.com/bits/app-bits", "/usr/local/app", "", ""),
             cached_dep("blobstore.com/bits/app-bits-checksum", "/usr/local/app-checksum", "md5",
                        "checksum-value"));
    d->n_cached_dependencies = 2;

    d->legacy_download_user = S("legacy-dan");
    d->trusted_system_certificates_path = S("/etc/somepath");

    vm->driver = S("my-driver");
    vm->container_dir = S("/mnt/mypath");
    vm->mode = S("r");
    vm->shared = NEW(Models__SharedDevice, MODELS__SHARED_DEVICE__INIT);
    vm->shared->volume_id = S("my-volume");
    d->volume_mounts = ptrs(1, vm);
    d->n_volume_mounts = 1;

    prop->key = S("some-key");
    prop->value = S("some-value");
    d->network = NEW(Models__Network, MODELS__NETWORK__INIT);
    d->network->properties = ptrs(1, prop);
    d->network->n_properties = 1;

    d->start_timeout_ms = 15000;
    d->placementtags = ptrs(2, S("example-tag"), S("example-tag-2"));
    d->n_placementtags = 2;
    d->max_pids = 1024;

    d->certificate_properties =
        NEW(Models__CertificateProperties, MODELS__CERTIFICATE_PROPERTIES__INIT);
    d->certificate_properties->organizational_unit = ptrs(1, S("app:some-guid"));
    d->certificate_properties->n_organizational_unit = 1;

    d->image_username = S("image-user");
    d->image_password = S("image-password");

    d->check_definition = NEW(Models__CheckDefinition, MODELS__CHECK_DEFINITION__INIT);
    d->check_definition->checks = ptrs(1, tcp_check(54321));
    d->check_definition->n_checks = 1;
    d->check_definition->log_source = S("health-check");
    d->check_definition->readiness_checks = ptrs(1, http_check(12345));
    d->check_definition->n_readiness_checks = 1;

    d->image_layers = ptrs(1, image_layer(MODELS__IMAGE_LAYER__TYPE__EXCLUSIVE));
    d->n_image_layers = 1;

    d->metric_tags =
        ptrs(2, tag("source_id", "some-source-id", 0),
             tag("instance_index", "", MODELS__METRIC_TAG_VALUE__DYNAMIC_VALUE__INDEX));
    d->n_metric_tags = 2;

    sidecar->action = act_run("sidecar", "name");
    sidecar->disk_mb = 10;
    sidecar->memory_mb = 20;
    d->sidecars = ptrs(1, sidecar);
    d->n_sidecars = 1;

    d->log_rate_limit = NEW(Models__LogRateLimit, MODELS__LOG_RATE_LIMIT__INIT);
    d->log_rate_limit->bytes_per_second = 1024;

    file->path = S("/etc/config.json");
    file->content = S("{}");
    d->volume_mounted_files = ptrs(1, file);
    d->n_volume_mounted_files = 1;

    d->update_strategy = MODELS__UPDATE_STRATEGY__RECREATE;
    return d;
}

/* Validate `d` as a desire request and compare the whole message. */
static void assert_desire(Models__DesiredLRP *d, const char *want, int want_n)
{
    Models__DesireLRPRequest req = MODELS__DESIRE_LRPREQUEST__INIT;
    struct bbs_problems p = {0};
    int rc;

    req.desired_lrp = d;
    rc = bbs_validate_desire(&req, &p);
    assert_string_equal(p.text, want);
    assert_int_equal(p.len, strlen(want));
    assert_int_equal(rc, want_n);
    assert_int_equal(p.count, want_n);
}

/* ---- 5.1: one row per rule, applied to the full LRP ---- */

struct lrp_case {
    const char *name;
    void (*mutate)(Models__DesiredLRP *d);
    const char *want;
    int want_n;
};

static void m_none(Models__DesiredLRP *d)
{
    (void)d;
}

static void m_volume_files_big(Models__DesiredLRP *d)
{
    Models__File *f2 = NEW(Models__File, MODELS__FILE__INIT);

    f2->content = big_string(1024 * 1024 - 1); /* + "{}" = 1 MiB + 1 */
    d->volume_mounted_files = ptrs(2, d->volume_mounted_files[0], f2);
    d->n_volume_mounted_files = 2;
}

static void m_volume_files_at_limit(Models__DesiredLRP *d)
{
    d->volume_mounted_files[0]->content = big_string(1024 * 1024);
}

static void m_domain_empty(Models__DesiredLRP *d)
{
    d->domain = S("");
}

static void m_rootfs_empty(Models__DesiredLRP *d)
{
    d->root_fs = S("");
}

static void m_rootfs_no_scheme(Models__DesiredLRP *d)
{
    d->root_fs = S("some-rootfs");
}

static void m_instances_negative(Models__DesiredLRP *d)
{
    d->instances = -1;
}

static void m_instances_zero(Models__DesiredLRP *d)
{
    d->instances = 0;
}

static void m_memory_negative(Models__DesiredLRP *d)
{
    d->memory_mb = -1;
}

static void m_disk_negative(Models__DesiredLRP *d)
{
    d->disk_mb = -1;
}

static void m_log_rate_minus_two(Models__DesiredLRP *d)
{
    d->log_rate_limit->bytes_per_second = -2;
}

static void m_log_rate_minus_one(Models__DesiredLRP *d)
{
    d->log_rate_limit->bytes_per_second = -1;
}

static void m_log_rate_absent(Models__DesiredLRP *d)
{
    d->log_rate_limit = NULL;
}

static void m_annotation_long(Models__DesiredLRP *d)
{
    d->annotation = big_string(10 * 1024 + 1);
}

static void m_annotation_at_limit(Models__DesiredLRP *d)
{
    d->annotation = big_string(10 * 1024);
}

static void m_max_pids_negative(Models__DesiredLRP *d)
{
    d->max_pids = -1;
}

static const uint8_t route_bytes[128 * 1024 + 1];

static void m_routes_big(Models__DesiredLRP *d)
{
    d->routes->routes = ptrs(2, route("cf-router", route_bytes, 100 * 1024),
                             route("tcp-router", route_bytes, 28 * 1024 + 1));
    d->routes->n_routes = 2;
}

static void m_routes_at_limit(Models__DesiredLRP *d)
{
    d->routes->routes = ptrs(2, route("cf-router", route_bytes, 100 * 1024),
                             route("tcp-router", route_bytes, 28 * 1024));
    d->routes->n_routes = 2;
}

/* The same key twice: upstream keeps the last, so only it counts. */
static void m_routes_duplicate_key(Models__DesiredLRP *d)
{
    d->routes->routes = ptrs(2, route("cf-router", route_bytes, 100 * 1024),
                             route("cf-router", route_bytes, 100 * 1024));
    d->routes->n_routes = 2;
}

static void m_routes_empty_map(Models__DesiredLRP *d)
{
    d->routes->n_routes = 0;
}

static void m_metric_tags_none(Models__DesiredLRP *d)
{
    d->n_metric_tags = 0;
}

static void m_metric_tag_both(Models__DesiredLRP *d)
{
    d->metric_tags[1]->value->static_ = S("x");
}

static void m_metric_tag_neither(Models__DesiredLRP *d)
{
    d->metric_tags[1]->value->dynamic = 0;
}

static void m_metric_tag_unknown_dynamic(Models__DesiredLRP *d)
{
    d->metric_tags[1]->value->dynamic = 7;
}

static void m_metric_tag_two_bad(Models__DesiredLRP *d)
{
    d->metric_tags[1]->value->dynamic = 0;
    d->metric_tags = ptrs(3, d->metric_tags[0], d->metric_tags[1], tag("other", "", 0));
    d->n_metric_tags = 3;
}

static void m_metric_tag_no_value(Models__DesiredLRP *d)
{
    d->metric_tags[1]->value = NULL;
}

static void m_source_id_mismatch(Models__DesiredLRP *d)
{
    d->metrics_guid = S("other-guid");
}

static void m_source_id_missing(Models__DesiredLRP *d)
{
    d->metric_tags[0]->key = S("not_source_id");
}

static void m_no_metrics_guid(Models__DesiredLRP *d)
{
    d->metrics_guid = S("");
    d->metric_tags[0]->key = S("not_source_id");
}

static void m_metric_tag_bad_and_mismatch(Models__DesiredLRP *d)
{
    d->metric_tags[1]->value->dynamic = 0;
    d->metrics_guid = S("other-guid");
}

/* Duplicated key: an invalid value followed by a valid one is valid. */
static void m_metric_tag_duplicate_last_wins(Models__DesiredLRP *d)
{
    d->metric_tags = ptrs(3, tag("instance_index", "", 0), d->metric_tags[0], d->metric_tags[1]);
    d->n_metric_tags = 3;
}

static void m_metric_tag_duplicate_last_bad(Models__DesiredLRP *d)
{
    d->metric_tags = ptrs(3, d->metric_tags[0], d->metric_tags[1], tag("instance_index", "", 0));
    d->n_metric_tags = 3;
}

static void m_process_guid_bad_char(Models__DesiredLRP *d)
{
    d->process_guid = S("some guid");
}

static void m_process_guid_empty(Models__DesiredLRP *d)
{
    d->process_guid = S("");
}

static void m_process_guid_newline(Models__DesiredLRP *d)
{
    d->process_guid = S("guid\n");
}

static void m_process_guid_all_chars(Models__DesiredLRP *d)
{
    d->process_guid = S("azAZ09_-");
}

static void m_setup_invalid(Models__DesiredLRP *d)
{
    d->setup = act_run("", "name");
}

static void m_setup_absent(Models__DesiredLRP *d)
{
    d->setup = NULL;
}

static void m_action_absent(Models__DesiredLRP *d)
{
    d->action = NULL;
}

static void m_action_empty_wrapper(Models__DesiredLRP *d)
{
    d->action = act_empty();
}

static void m_monitor_invalid(Models__DesiredLRP *d)
{
    d->monitor = act_timeout(act_run("ls", "name"), 0);
}

static void m_monitor_absent(Models__DesiredLRP *d)
{
    d->monitor = NULL;
}

static void m_env_blank_name(Models__DesiredLRP *d)
{
    Models__EnvironmentVariable *e =
        NEW(Models__EnvironmentVariable, MODELS__ENVIRONMENT_VARIABLE__INIT);

    e->value = S("x");
    d->environment_variables = ptrs(3, e, d->environment_variables[0], e);
    d->n_environment_variables = 3;
}

static void m_egress_bad_protocol(Models__DesiredLRP *d)
{
    d->egress_rules[0]->protocol = S("TCP");
}

static void m_egress_two_bad(Models__DesiredLRP *d)
{
    Models__SecurityGroupRule *r = tcp_rule();

    r->protocol = S("icmp");
    d->egress_rules[0]->port_range->start = 0;
    d->egress_rules = ptrs(2, d->egress_rules[0], r);
    d->n_egress_rules = 2;
}

static void m_cpu_weight_101(Models__DesiredLRP *d)
{
    d->cpu_weight = 101;
}

static void m_cpu_weight_100(Models__DesiredLRP *d)
{
    d->cpu_weight = 100;
}

static void m_cached_dep_no_from(Models__DesiredLRP *d)
{
    d->cached_dependencies[0]->from = S("");
}

static void m_cached_dep_all_bad(Models__DesiredLRP *d)
{
    d->cached_dependencies[0]->from = S("");
    d->cached_dependencies[0]->to = S("");
    d->cached_dependencies[0]->checksum_value = S("abc");
    d->cached_dependencies[1]->checksum_value = S("");
}

static void m_cached_dep_bad_algorithm(Models__DesiredLRP *d)
{
    d->cached_dependencies[1]->checksum_algorithm = S("crc32");
}

static void m_cached_dep_upper_algorithm(Models__DesiredLRP *d)
{
    d->cached_dependencies[1]->checksum_algorithm = S("SHA256");
}

static void m_image_layer_no_url(Models__DesiredLRP *d)
{
    d->image_layers[0]->url = S("");
}

static void m_image_layer_everything(Models__DesiredLRP *d)
{
    Models__ImageLayer *l = NEW(Models__ImageLayer, MODELS__IMAGE_LAYER__INIT);

    l->layer_type = 9;
    l->media_type = 4;
    l->digest_algorithm = 3;
    l->digest_value = S("v");
    d->image_layers = ptrs(2, d->image_layers[0], l);
    d->n_image_layers = 2;
}

static void m_image_layer_exclusive_no_digest(Models__DesiredLRP *d)
{
    d->image_layers[0]->digest_value = S("");
    d->image_layers[0]->digest_algorithm = 0;
}

static void m_image_layer_shared_algorithm_no_value(Models__DesiredLRP *d)
{
    d->image_layers[0]->layer_type = MODELS__IMAGE_LAYER__TYPE__SHARED;
    d->image_layers[0]->digest_value = S("");
}

static void m_image_layer_shared_no_digest(Models__DesiredLRP *d)
{
    d->image_layers[0]->layer_type = MODELS__IMAGE_LAYER__TYPE__SHARED;
    d->image_layers[0]->digest_value = S("");
    d->image_layers[0]->digest_algorithm = 0;
    d->legacy_download_user = S("");
}

static void m_legacy_download_user_missing(Models__DesiredLRP *d)
{
    d->legacy_download_user = S("");
}

static void m_sidecar_no_action(Models__DesiredLRP *d)
{
    d->sidecars[0]->action = NULL;
}

static void m_sidecar_everything(Models__DesiredLRP *d)
{
    Models__Sidecar *s = NEW(Models__Sidecar, MODELS__SIDECAR__INIT);

    s->action = act_run("ok", "name");
    s->memory_mb = -1;
    d->sidecars[0]->action = act_upload("", "", "");
    d->sidecars[0]->memory_mb = -1;
    d->sidecars[0]->disk_mb = -1;
    d->sidecars = ptrs(2, d->sidecars[0], s);
    d->n_sidecars = 2;
}

static void m_volume_mount_no_driver(Models__DesiredLRP *d)
{
    d->volume_mounts[0]->driver = S("");
}

static void m_volume_mount_bad_mode(Models__DesiredLRP *d)
{
    d->volume_mounts[0]->mode = S("ro");
}

static void m_volume_mount_everything(Models__DesiredLRP *d)
{
    Models__VolumeMount *v = d->volume_mounts[0];

    v->driver = S("");
    v->mode = S("");
    v->shared->volume_id = S("");
    v->dedicated = NEW(Models__DedicatedDevice, MODELS__DEDICATED_DEVICE__INIT);
}

static void m_volume_mount_rw_dedicated(Models__DesiredLRP *d)
{
    Models__VolumeMount *v = d->volume_mounts[0];

    v->mode = S("rw");
    v->shared = NULL;
    v->dedicated = NEW(Models__DedicatedDevice, MODELS__DEDICATED_DEVICE__INIT);
    v->dedicated->mounter_id = S("mounter");
}

static void m_image_password_only(Models__DesiredLRP *d)
{
    d->image_username = S("");
}

static void m_image_username_only(Models__DesiredLRP *d)
{
    d->image_password = S("");
}

static void m_image_credentials_none(Models__DesiredLRP *d)
{
    d->image_username = S("");
    d->image_password = S("");
}

static void m_check_both(Models__DesiredLRP *d)
{
    d->check_definition->checks[0]->http_check = http_check(8080)->http_check;
}

/* Quirk 23: neither is a TCP check on port 0. */
static void m_check_neither(Models__DesiredLRP *d)
{
    d->check_definition->checks[0]->tcp_check = NULL;
}

static void m_check_ports(Models__DesiredLRP *d)
{
    d->check_definition->checks = ptrs(2, tcp_check(0), tcp_check(65535));
    d->check_definition->n_checks = 2;
    d->check_definition->readiness_checks = ptrs(2, http_check(65536), http_check(1));
    d->check_definition->n_readiness_checks = 2;
}

static void m_check_definition_empty(Models__DesiredLRP *d)
{
    d->check_definition->n_checks = 0;
    d->check_definition->n_readiness_checks = 0;
}

/* Every row at once: the order of 5.1 end to end. */
static void m_everything(Models__DesiredLRP *d)
{
    m_volume_files_big(d);
    m_domain_empty(d);
    m_rootfs_empty(d);
    m_instances_negative(d);
    m_memory_negative(d);
    m_disk_negative(d);
    m_log_rate_minus_two(d);
    m_annotation_long(d);
    m_max_pids_negative(d);
    m_routes_big(d);
    m_metric_tag_bad_and_mismatch(d);
    m_process_guid_bad_char(d);
    m_setup_invalid(d);
    m_action_absent(d);
    m_monitor_invalid(d);
    m_env_blank_name(d);
    m_egress_bad_protocol(d);
    m_cpu_weight_101(d);
    m_cached_dep_no_from(d);
    m_image_layer_no_url(d);
    m_legacy_download_user_missing(d);
    d->sidecars[0]->memory_mb = -1;
    m_volume_mount_no_driver(d);
    m_image_username_only(d);
    m_check_neither(d);
}

#define INV "Invalid field: "

static const struct lrp_case lrp_cases[] = {
    {"full_lrp_is_valid", m_none, "", 0},
    {"r01_volume_mounted_files_over_1mib", m_volume_files_big,
     INV "volumeMountedFiles, " INV "volumeMountedFiles", 2},
    {"r01_volume_mounted_files_at_1mib", m_volume_files_at_limit, "", 0},
    {"r02_domain_empty", m_domain_empty, INV "domain, " INV "domain", 2},
    {"r03_rootfs_empty", m_rootfs_empty, INV "rootfs, " INV "rootfs", 2},
    {"r04_rootfs_without_scheme", m_rootfs_no_scheme, INV "rootfs", 1},
    {"r05_instances_negative", m_instances_negative, INV "instances", 1},
    {"r05_instances_zero", m_instances_zero, "", 0},
    {"r06_memory_negative", m_memory_negative, INV "memory_mb", 1},
    {"r07_disk_negative", m_disk_negative, INV "disk_mb", 1},
    {"r08_r28_log_rate_limit_minus_two", m_log_rate_minus_two,
     INV "log_rate_limit_bytes_per_second, " INV "log_rate_limit", 2},
    {"r08_log_rate_limit_minus_one", m_log_rate_minus_one, "", 0},
    {"r08_log_rate_limit_absent", m_log_rate_absent, "", 0},
    {"r09_annotation_too_long", m_annotation_long, INV "annotation", 1},
    {"r09_annotation_at_limit", m_annotation_at_limit, "", 0},
    {"r10_max_pids_negative", m_max_pids_negative, INV "max_pids", 1},
    {"r11_routes_over_limit", m_routes_big, INV "routes", 1},
    {"r11_routes_at_limit", m_routes_at_limit, "", 0},
    {"r11_routes_duplicate_key_counted_once", m_routes_duplicate_key, "", 0},
    {"r11_routes_present_but_empty", m_routes_empty_map, "", 0},
    {"r12_metric_tags_none", m_metric_tags_none, INV "metric_tags", 1},
    {"r12_metric_tag_static_and_dynamic", m_metric_tag_both,
     INV "metric_tags, " INV "static, " INV "dynamic", 3},
    {"r12_metric_tag_neither", m_metric_tag_neither,
     INV "metric_tags, " INV "static, " INV "dynamic", 3},
    {"r12_metric_tag_unknown_dynamic", m_metric_tag_unknown_dynamic,
     INV "metric_tags, " INV "static, " INV "dynamic", 3},
    {"r12_metric_tag_two_bad_values", m_metric_tag_two_bad,
     INV "metric_tags, " INV "static, " INV "dynamic, " INV "static, " INV "dynamic", 5},
    {"r12_metric_tag_without_value", m_metric_tag_no_value,
     INV "metric_tags, " INV "static, " INV "dynamic", 3},
    {"r12_source_id_mismatch", m_source_id_mismatch,
     INV "metric_tags, " INV "source_id should match metrics_guid", 2},
    {"r12_source_id_missing", m_source_id_missing,
     INV "metric_tags, " INV "source_id should match metrics_guid", 2},
    {"r12_no_metrics_guid_no_source_id_rule", m_no_metrics_guid, "", 0},
    {"r12_bad_value_then_source_id", m_metric_tag_bad_and_mismatch,
     INV "metric_tags, " INV "static, " INV "dynamic, " INV "source_id should match metrics_guid",
     4},
    {"r12_duplicate_key_last_valid_wins", m_metric_tag_duplicate_last_wins, "", 0},
    {"r12_duplicate_key_last_invalid_wins", m_metric_tag_duplicate_last_bad,
     INV "metric_tags, " INV "static, " INV "dynamic", 3},
    {"r14_process_guid_bad_char", m_process_guid_bad_char, INV "process_guid", 1},
    {"r14_process_guid_empty", m_process_guid_empty, INV "process_guid", 1},
    {"r14_process_guid_trailing_newline", m_process_guid_newline, INV "process_guid", 1},
    {"r14_process_guid_every_allowed_char", m_process_guid_all_chars, "", 0},
    {"r16_setup_invalid", m_setup_invalid, INV "setup, " INV "path", 2},
    {"r16_setup_absent", m_setup_absent, "", 0},
    {"r17_action_absent", m_action_absent, "invalid action type", 1},
    {"r17_action_empty_wrapper", m_action_empty_wrapper, INV "action, " INV "inner-action", 2},
    {"r18_monitor_invalid", m_monitor_invalid, INV "monitor, " INV "timeout_ms", 2},
    {"r18_monitor_absent", m_monitor_absent, "", 0},
    {"r19_env_blank_names", m_env_blank_name,
     "invalid field: name cannot be blank, invalid field: name cannot be blank", 2},
    {"r20_egress_bad_protocol", m_egress_bad_protocol, INV "egress_rules, " INV "protocol", 2},
    {"r20_egress_two_bad_rules", m_egress_two_bad,
     INV "egress_rules, " INV "port_range, " INV "egress_rules, " INV "port_range, " INV
         "icmp_info",
     5},
    {"r20p_cpu_weight_101", m_cpu_weight_101, INV "cpu_weight", 1},
    {"r20p_cpu_weight_100", m_cpu_weight_100, "", 0},
    {"r21_cached_dependency_no_from", m_cached_dep_no_from, INV "cached_dependency, " INV "from",
     2},
    {"r21_cached_dependency_every_problem", m_cached_dep_all_bad,
     INV "cached_dependency, " INV "from, " INV "to, " INV "checksum algorithm, " INV
         "cached_dependency, " INV "checksum value",
     6},
    {"r21_cached_dependency_bad_algorithm", m_cached_dep_bad_algorithm,
     INV "cached_dependency, " INV "invalid algorithm", 2},
    {"r21_cached_dependency_upper_case_algorithm", m_cached_dep_upper_algorithm, "", 0},
    {"r22_image_layer_no_url", m_image_layer_no_url, INV "image_layer, " INV "url", 2},
    {"r22_image_layer_every_problem", m_image_layer_everything,
     INV "image_layer, " INV "url, " INV "destination_path, " INV "layer_type, " INV
         "media_type, " INV "digest_algorithm",
     6},
    {"r22_image_layer_exclusive_without_digest", m_image_layer_exclusive_no_digest,
     INV "image_layer, " INV "digest_algorithm, " INV "digest_value", 3},
    {"r22_image_layer_algorithm_without_value", m_image_layer_shared_algorithm_no_value,
     INV "image_layer, " INV "digest_value", 2},
    {"r22_image_layer_shared_without_digest", m_image_layer_shared_no_digest, "", 0},
    {"r22_legacy_download_user_missing", m_legacy_download_user_missing, INV "legacy_download_user",
     1},
    {"r23_sidecar_without_action", m_sidecar_no_action, INV "sidecars, invalid action type", 2},
    {"r23_sidecars_every_problem", m_sidecar_everything,
     INV "sidecars, " INV "action, " INV "to, " INV "from, " INV "user, " INV "memory_mb, " INV
         "disk_mb, " INV "memory_mb",
     8},
    {"r24_volume_mount_no_driver", m_volume_mount_no_driver, "invalid volume_mount driver", 1},
    {"r24_volume_mount_bad_mode", m_volume_mount_bad_mode, "invalid volume_mount mode", 1},
    {"r24_volume_mount_every_problem", m_volume_mount_everything,
     "invalid volume_mount driver, invalid volume_mount mode, invalid volume_mount volume id, "
     "invalid volume_mount mounter id",
     4},
    {"r24_volume_mount_rw_dedicated", m_volume_mount_rw_dedicated, "", 0},
    {"r25_image_password_without_username", m_image_password_only, INV "image_username", 1},
    {"r26_image_username_without_password", m_image_username_only, INV "image_password", 1},
    {"r25_r26_no_image_credentials", m_image_credentials_none, "", 0},
    {"r27_check_tcp_and_http", m_check_both, INV "check_definition, " INV "check", 2},
    {"r27_check_neither_reports_port", m_check_neither, INV "check_definition, " INV "port", 2},
    {"r27_check_port_range", m_check_ports, INV "check_definition, " INV "port, " INV "port", 3},
    {"r27_check_definition_empty", m_check_definition_empty, "", 0},
    {"every_rule_in_order", m_everything,
     INV
     "volumeMountedFiles, " INV "domain, " INV "rootfs, " INV "rootfs, " INV "instances, " INV
     "memory_mb, " INV "disk_mb, " INV "log_rate_limit_bytes_per_second, " INV "annotation, " INV
     "max_pids, " INV "routes, " INV "metric_tags, " INV "static, " INV "dynamic, " INV
     "source_id should match metrics_guid, " INV "domain, " INV "process_guid, " INV
     "volumeMountedFiles, " INV "setup, " INV "path, invalid action type, " INV "monitor, " INV
     "timeout_ms, invalid field: name cannot be blank, invalid field: name cannot be blank, " INV
     "egress_rules, " INV "protocol, " INV "cpu_weight, " INV "cached_dependency, " INV "from, " INV
     "image_layer, " INV "url, " INV "legacy_download_user, " INV "sidecars, " INV
     "memory_mb, invalid volume_mount driver, " INV "image_password, " INV "check_definition, " INV
     "port, " INV "log_rate_limit",
     40},
};

static void test_lrp_case(void **state)
{
    const struct lrp_case *c = *state;
    Models__DesiredLRP *d;

    pool_free();
    d = full_lrp();
    c->mutate(d);
    assert_desire(d, c->want, c->want_n);
    pool_free();
}

/* ---- 5.1: the desire request itself ---- */

static void test_desire_missing_lrp(void **state)
{
    Models__DesireLRPRequest req = MODELS__DESIRE_LRPREQUEST__INIT;
    struct bbs_problems p = {0};

    (void)state;
    assert_int_equal(bbs_validate_desire(&req, &p), 1);
    assert_string_equal(p.text, INV "desired_lrp");
}

/* The worked example of 5.1: a present but empty desired_lrp. */
static void test_desire_empty_lrp(void **state)
{
    Models__DesiredLRP d = MODELS__DESIRED_LRP__INIT;

    (void)state;
    assert_desire(&d,
                  INV "domain, " INV "rootfs, " INV "rootfs, " INV "metric_tags, " INV
                      "domain, " INV "process_guid, invalid action type",
                  7);
}

/* Problems already in the list are kept and joined. */
static void test_desire_appends(void **state)
{
    Models__DesireLRPRequest req = MODELS__DESIRE_LRPREQUEST__INIT;
    struct bbs_problems p = {0};

    (void)state;
    bbs_problems_add(&p, "earlier");
    assert_int_equal(bbs_validate_desire(&req, &p), 1);
    assert_string_equal(p.text, "earlier, " INV "desired_lrp");
    assert_int_equal(p.count, 2);
}

/* ---- 5.1 #4: root_fs as Go's url.Parse sees it ---- */

struct rootfs_case {
    const char *name;
    const char *root_fs;
    int valid;
};

static const struct rootfs_case rootfs_cases[] = {
    {"preloaded", "preloaded:cflinuxfs4", 1},
    {"docker_default_registry", "docker:///docker-user/docker-image#docker-tag", 1},
    {"docker_own_registry", "docker://index.myregistry.gov/docker-user/docker-image#docker-tag", 1},
    {"registry_with_port", "docker://registry.example.com:5000/user/image", 1},
    {"registry_with_empty_port", "docker://registry.example.com:/image", 1},
    {"registry_with_userinfo", "docker://user:p%40ss@registry.example.com/image", 1},
    {"registry_ipv6", "docker://[::1]:5000/image", 1},
    {"registry_ipv6_zone", "docker://[fe80::1%25en0]/image", 1},
    {"host_escaped_non_ascii", "docker://h%C3%A9st/image", 1},
    {"host_raw_non_ascii", "docker://h\xc3\xa9st/image", 1},
    {"scheme_chars", "a1+b-c.d:x", 1},
    {"scheme_upper_case", "DOCKER:x", 1},
    {"single_slash_path", "docker:/image", 1},
    {"scheme_only", "preloaded:", 1},
    {"opaque_not_unescaped", "preloaded:%zz", 1},
    {"query_not_checked", "docker:///image?%zz", 1},
    {"space_in_path", "docker:///my image", 1},
    {"control_char_in_fragment", "docker:///image#tag\x01", 1},
    {"empty_fragment", "docker:///image#", 1},
    {"path_escape_ok", "docker:///my%20image", 1},
    {"no_scheme", "some-rootfs", 0},
    {"empty", "", 0},
    {"leading_colon", ":cflinuxfs4", 0},
    {"scheme_starts_with_digit", "1docker:///image", 0},
    {"scheme_with_underscore", "my_scheme:x", 0},
    {"relative_path", "/var/vcap/rootfs", 0},
    {"control_char_newline", "docker:///image\n", 0},
    {"control_char_del", "docker:///image\x7f", 0},
    {"control_char_in_opaque", "preloaded:cf\tlinux", 0},
    {"bad_escape_in_path", "docker:///image%zz", 0},
    {"truncated_escape_in_path", "docker:///image%4", 0},
    {"bad_escape_in_fragment", "docker:///image#tag%g0", 0},
    {"bad_escape_in_opaque_fragment", "preloaded:x#%", 0},
    {"port_not_digits", "docker://registry:abc/image", 0},
    {"space_in_host", "docker://my registry/image", 0},
    {"ascii_escape_in_host", "docker://h%41st/image", 0},
    {"curly_brace_in_host", "docker://{host}/image", 0},
    {"ipv6_missing_bracket", "docker://[::1/image", 0},
    {"ipv6_bad_port", "docker://[::1]x/image", 0},
    {"ipv6_bad_zone_escape", "docker://[fe80::1%25%2F]/image", 0},
    {"userinfo_bad_escape", "docker://user:p%zz@host/image", 0},
    {"userinfo_non_ascii", "docker://us\xc3\xa9r@host/image", 0},
    {"userinfo_bad_char", "docker://us er@host/image", 0},
};

static void test_rootfs_case(void **state)
{
    const struct rootfs_case *c = *state;
    Models__DesiredLRP *d;

    pool_free();
    d = full_lrp();
    d->root_fs = S(c->root_fs);
    if (c->valid) {
        assert_desire(d, "", 0);
    } else if (c->root_fs[0] == '\0') {
        assert_desire(d, INV "rootfs, " INV "rootfs", 2);
    } else {
        assert_desire(d, INV "rootfs", 1);
    }
    pool_free();
}

/* The same rows through the lexer alone (validate_lex.h). */
static void test_rootfs_standalone_case(void **state)
{
    const struct rootfs_case *c = *state;

    assert_int_equal(bbs_validate_rootfs_url_ok(c->root_fs), c->valid);
}

static void test_lex_null_and_guid(void **state)
{
    (void)state;
    assert_int_equal(bbs_validate_rootfs_url_ok(NULL), 0);
    assert_int_equal(bbs_validate_guid_ok(NULL), 0);
    assert_int_equal(bbs_validate_guid_ok(""), 0);
    assert_int_equal(bbs_validate_guid_ok("some-guid"), 1);
    assert_int_equal(bbs_validate_guid_ok("azAZ09_-"), 1);
    assert_int_equal(bbs_validate_guid_ok("some-guid\n"), 0);
    assert_int_equal(bbs_validate_guid_ok("some.guid"), 0);
}

/*
 * ---- 2.8: the parts a TaskDefinition shares, called on their own ----
 *
 * Each row takes the full LRP, breaks it as an LRP row does (or not at
 * all), and runs one shared validator on the LRP's part; the message is
 * the one the desire request gives for that part.
 */
enum part_fn {
    PART_CACHED_DEPS,
    PART_CACHED_DEP_1, /* cached_dependencies[1] alone */
    PART_IMAGE_LAYERS,
    PART_IMAGE_LAYER_LAST, /* the last image layer alone */
    PART_VOLUME_MOUNTS,
    PART_VOLUME_MOUNT_0, /* volume_mounts[0] alone */
    PART_CREDENTIALS,
};

struct part_case {
    const char *name;
    void (*mutate)(Models__DesiredLRP *d);
    enum part_fn fn;
    const char *want;
    int want_n;
};

/* A NULL element in every list: skipped. */
static void m_null_elements(Models__DesiredLRP *d)
{
    d->cached_dependencies = ptrs(2, NULL, d->cached_dependencies[0]);
    d->image_layers = ptrs(2, NULL, d->image_layers[0]);
    d->n_image_layers = 2;
    d->volume_mounts = ptrs(2, NULL, d->volume_mounts[0]);
    d->n_volume_mounts = 2;
}

static const struct part_case part_cases[] = {
    {"cached_dependencies_valid", m_none, PART_CACHED_DEPS, "", 0},
    {"cached_dependencies_no_from", m_cached_dep_no_from, PART_CACHED_DEPS,
     INV "cached_dependency, " INV "from", 2},
    {"cached_dependencies_every_problem", m_cached_dep_all_bad, PART_CACHED_DEPS,
     INV "cached_dependency, " INV "from, " INV "to, " INV "checksum algorithm, " INV
         "cached_dependency, " INV "checksum value",
     6},
    {"cached_dependency_alone_no_header", m_cached_dep_all_bad, PART_CACHED_DEP_1,
     INV "checksum value", 1},
    {"cached_dependency_alone_bad_algorithm", m_cached_dep_bad_algorithm, PART_CACHED_DEP_1,
     INV "invalid algorithm", 1},
    {"image_layers_valid", m_none, PART_IMAGE_LAYERS, "", 0},
    {"image_layers_no_url", m_image_layer_no_url, PART_IMAGE_LAYERS, INV "image_layer, " INV "url",
     2},
    {"image_layers_legacy_download_user_missing", m_legacy_download_user_missing, PART_IMAGE_LAYERS,
     INV "legacy_download_user", 1},
    {"image_layers_shared_without_digest", m_image_layer_shared_no_digest, PART_IMAGE_LAYERS, "",
     0},
    {"image_layer_alone_every_problem", m_image_layer_everything, PART_IMAGE_LAYER_LAST,
     INV "url, " INV "destination_path, " INV "layer_type, " INV "media_type, " INV
         "digest_algorithm",
     5},
    {"volume_mounts_valid", m_none, PART_VOLUME_MOUNTS, "", 0},
    {"volume_mounts_no_driver", m_volume_mount_no_driver, PART_VOLUME_MOUNTS,
     "invalid volume_mount driver", 1},
    {"volume_mount_alone_every_problem", m_volume_mount_everything, PART_VOLUME_MOUNT_0,
     "invalid volume_mount driver, invalid volume_mount mode, invalid volume_mount volume id, "
     "invalid volume_mount mounter id",
     4},
    {"credentials_both", m_none, PART_CREDENTIALS, "", 0},
    {"credentials_none", m_image_credentials_none, PART_CREDENTIALS, "", 0},
    {"credentials_password_only", m_image_password_only, PART_CREDENTIALS, INV "image_username", 1},
    {"credentials_username_only", m_image_username_only, PART_CREDENTIALS, INV "image_password", 1},
    {"lists_skip_null_cached_dependency", m_null_elements, PART_CACHED_DEPS, "", 0},
    {"lists_skip_null_image_layer", m_null_elements, PART_IMAGE_LAYERS, "", 0},
    {"lists_skip_null_volume_mount", m_null_elements, PART_VOLUME_MOUNTS, "", 0},
};

static int run_part(const struct part_case *c, const Models__DesiredLRP *d, struct bbs_problems *p)
{
    switch (c->fn) {
    case PART_CACHED_DEPS:
        return bbs_validate_cached_dependencies(d->cached_dependencies, d->n_cached_dependencies,
                                                p);
    case PART_CACHED_DEP_1:
        return bbs_validate_cached_dependency(d->cached_dependencies[1], p);
    case PART_IMAGE_LAYERS:
        return bbs_validate_image_layers(d->image_layers, d->n_image_layers,
                                         d->legacy_download_user, p);
    case PART_IMAGE_LAYER_LAST:
        return bbs_validate_image_layer(d->image_layers[d->n_image_layers - 1], p);
    case PART_VOLUME_MOUNTS:
        return bbs_validate_volume_mounts(d->volume_mounts, d->n_volume_mounts, p);
    case PART_VOLUME_MOUNT_0:
        return bbs_validate_volume_mount(d->volume_mounts[0], p);
    case PART_CREDENTIALS:
        return bbs_validate_image_credentials(d->image_username, d->image_password, p);
    }
    fail_msg("unknown part %d", (int)c->fn);
    return -1;
}

static void test_part_case(void **state)
{
    const struct part_case *c = *state;
    Models__DesiredLRP *d;
    struct bbs_problems p = {0};

    pool_free();
    d = full_lrp();
    c->mutate(d);
    assert_int_equal(run_part(c, d, NULL), c->want_n);
    assert_int_equal(run_part(c, d, &p), c->want_n);
    assert_string_equal(p.text, c->want);
    assert_int_equal(p.count, c->want_n);
    pool_free();
}

/* NULL and "" are the same to the credentials rule. */
static void test_credentials_null(void **state)
{
    struct bbs_problems p = {0};

    (void)state;
    assert_int_equal(bbs_validate_image_credentials(NULL, NULL, &p), 0);
    assert_int_equal(bbs_validate_image_credentials(NULL, "secret", &p), 1);
    assert_int_equal(bbs_validate_image_credentials("user", NULL, &p), 1);
    assert_string_equal(p.text, INV "image_username, " INV "image_password");
}

/* ---- 2.7: action trees (as the LRP's action) ---- */

struct action_case {
    const char *name;
    Models__Action *(*build)(void);
    const char *want; /* the problems after "Invalid field: action" */
    int want_n;       /* including that header */
};

static Models__Action *a_download_empty(void)
{
    return act_download("", "", "", "", "");
}

static Models__Action *a_download_value_only(void)
{
    return act_download("f", "t", "u", "", "abc");
}

static Models__Action *a_download_algorithm_only(void)
{
    return act_download("f", "t", "u", "md5", "");
}

static Models__Action *a_download_bad_algorithm(void)
{
    return act_download("f", "t", "u", "crc32", "abc");
}

static Models__Action *a_download_mixed_case_algorithm(void)
{
    return act_download("f", "t", "u", "Sha1", "abc");
}

static Models__Action *a_upload_empty(void)
{
    return act_upload("", "", "");
}

static Models__Action *a_run_empty(void)
{
    return act_run("", "");
}

static Models__Action *a_timeout_nothing(void)
{
    return act_timeout(NULL, 0);
}

static Models__Action *a_timeout_child_first(void)
{
    return act_timeout(act_run("", ""), -5);
}

static Models__Action *a_timeout_empty_child(void)
{
    return act_timeout(act_empty(), 1000);
}

static Models__Action *a_try_nothing(void)
{
    return act_try(NULL);
}

static Models__Action *a_try_empty_child(void)
{
    return act_try(act_empty());
}

static Models__Action *a_emit_nothing(void)
{
    return act_emit(NULL);
}

static Models__Action *a_emit_empty_child(void)
{
    return act_emit(act_empty());
}

static Models__Action *a_parallel_empty(void)
{
    return act_list(PARALLEL, 0);
}

static Models__Action *a_serial_empty(void)
{
    return act_list(SERIAL, 0);
}

static Models__Action *a_codependent_empty(void)
{
    return act_list(CODEPENDENT, 0);
}

static Models__Action *a_serial_children_in_order(void)
{
    return act_list(SERIAL, 4, act_run("", "u"), act_empty(), act_run("p", "u"),
                    act_upload("", "t", "u"));
}

static Models__Action *a_parallel_null_element(void)
{
    return act_list(PARALLEL, 2, act_run("p", "u"), NULL);
}

static Models__Action *a_codependent_nested(void)
{
    return act_list(CODEPENDENT, 2, act_list(SERIAL, 0),
                    act_emit(act_timeout(act_try(act_empty()), 0)));
}

/* Only the first present field is looked at: the broken run is ignored. */
static Models__Action *a_first_present_wins(void)
{
    Models__Action *a = act_download("f", "t", "", "", "");

    a->run_action = act_run("", "")->run_action;
    return a;
}

static Models__Action *a_first_present_empty_download(void)
{
    Models__Action *a = act_run("p", "u");

    a->download_action = NEW(Models__DownloadAction, MODELS__DOWNLOAD_ACTION__INIT);
    return a;
}

/* 100 000 nested try actions: validated without recursion. */
static Models__Action *a_very_deep(void)
{
    Models__Action *a = act_empty();

    for (int i = 0; i < 100000; i++) {
        a = act_try(a);
    }
    return a;
}

static Models__Action *a_very_wide(void)
{
    Models__Action *a = act_list(SERIAL, 0);
    Models__Action **children = pool_alloc(20000 * sizeof(*children));

    for (size_t i = 0; i < 20000; i++) {
        children[i] = act_timeout(act_run("p", "u"), 1);
    }
    a->serial_action->actions = children;
    a->serial_action->n_actions = 20000;
    return a;
}

static const struct action_case action_cases[] = {
    {"download_every_required_field", a_download_empty, INV "from, " INV "to, " INV "user", 4},
    {"download_checksum_value_without_algorithm", a_download_value_only, INV "checksum algorithm",
     2},
    {"download_checksum_algorithm_without_value", a_download_algorithm_only, INV "checksum value",
     2},
    {"download_unknown_algorithm", a_download_bad_algorithm, INV "invalid algorithm", 2},
    {"download_algorithm_case_insensitive", a_download_mixed_case_algorithm, NULL, 0},
    {"upload_order_to_from_user", a_upload_empty, INV "to, " INV "from, " INV "user", 4},
    {"run_path_user", a_run_empty, INV "path, " INV "user", 3},
    {"timeout_missing_action_and_timeout", a_timeout_nothing, INV "action, " INV "timeout_ms", 3},
    {"timeout_child_problems_first", a_timeout_child_first,
     INV "path, " INV "user, " INV "timeout_ms", 4},
    {"timeout_empty_child_quirk11", a_timeout_empty_child, INV "inner-action", 2},
    {"try_missing_action", a_try_nothing, INV "action", 2},
    {"try_empty_child_quirk11", a_try_empty_child, INV "inner-action", 2},
    {"emit_progress_missing_action", a_emit_nothing, INV "action", 2},
    {"emit_progress_empty_child_quirk11", a_emit_empty_child, INV "inner-action", 2},
    {"parallel_empty", a_parallel_empty, INV "actions", 2},
    {"serial_empty", a_serial_empty, INV "actions", 2},
    {"codependent_empty", a_codependent_empty, INV "actions", 2},
    {"serial_children_in_order", a_serial_children_in_order,
     INV "path, " INV "inner-action, " INV "from", 4},
    {"parallel_null_element", a_parallel_null_element, INV "action at index 1", 2},
    {"codependent_nested", a_codependent_nested,
     INV "actions, " INV "inner-action, " INV "timeout_ms", 4},
    {"first_present_field_wins", a_first_present_wins, INV "user", 2},
    {"first_present_empty_download", a_first_present_empty_download,
     INV "from, " INV "to, " INV "user", 4},
    {"very_deep_tree", a_very_deep, INV "inner-action", 2},
    {"very_wide_tree", a_very_wide, NULL, 0},
};

static void test_action_case(void **state)
{
    const struct action_case *c = *state;
    Models__DesiredLRP *d;
    char want[512];

    pool_free();
    d = full_lrp();
    d->action = c->build();
    if (c->want == NULL) {
        assert_desire(d, "", 0);
    } else {
        snprintf(want, sizeof(want), INV "action, %s", c->want);
        assert_desire(d, want, c->want_n);
    }
    pool_free();
}

/* The same rows through the action validators alone (validate_action.h). */
static void test_action_standalone_case(void **state)
{
    const struct action_case *c = *state;
    Models__Action *a;
    struct bbs_problems bare = {0};
    struct bbs_problems named = {0};
    char want[512];

    pool_free();
    a = c->build();
    if (c->want == NULL) {
        assert_int_equal(bbs_validate_action(a, NULL), 0);
        assert_int_equal(bbs_validate_action(a, &bare), 0);
        assert_int_equal(bbs_validate_named_action("action", a, &named), 0);
        assert_string_equal(bare.text, "");
        assert_string_equal(named.text, "");
    } else {
        assert_int_equal(bbs_validate_action(a, NULL), c->want_n - 1);
        assert_int_equal(bbs_validate_action(a, &bare), c->want_n - 1);
        assert_string_equal(bare.text, c->want);
        assert_int_equal(bare.count, c->want_n - 1);
        snprintf(want, sizeof(want), INV "action, %s", c->want);
        assert_int_equal(bbs_validate_named_action("action", a, NULL), c->want_n);
        assert_int_equal(bbs_validate_named_action("action", a, &named), c->want_n);
        assert_string_equal(named.text, want);
        assert_int_equal(named.count, c->want_n);
    }
    pool_free();
}

/* ---- 2.8: egress rules (as the LRP's only rule) ---- */

struct egress_case {
    const char *name;
    const char *protocol;
    const char *destinations[4]; /* up to the first NULL */
    uint32_t ports[3];
    size_t n_ports;
    int has_range;
    uint32_t start;
    uint32_t end;
    int has_icmp;
    const char *want; /* after "Invalid field: egress_rules, "; NULL = valid */
    int want_n;       /* including that header */
};

static const struct egress_case egress_cases[] = {
    {"tcp_range_valid", "tcp", {"1.1.1.1"}, {0}, 0, 1, 1, 65535, 0, NULL, 0},
    {"udp_ports_valid", "udp", {"1.1.1.1"}, {53, 5353}, 2, 0, 0, 0, 0, NULL, 0},
    {"tcp_neither_ports_nor_range",
     "tcp",
     {"1.1.1.1"},
     {0},
     0,
     0,
     0,
     0,
     0,
     "Missing required field: ports or port_range",
     2},
    {"tcp_ports_and_range",
     "tcp",
     {"1.1.1.1"},
     {80},
     1,
     1,
     1,
     2,
     0,
     "Invalid: ports and port_range provided",
     2},
    {"tcp_neither_with_icmp",
     "tcp",
     {"1.1.1.1"},
     {0},
     0,
     0,
     0,
     0,
     1,
     "Missing required field: ports or port_range, " INV "icmp_info",
     3},
    {"tcp_range_start_zero", "tcp", {"1.1.1.1"}, {0}, 0, 1, 0, 10, 0, INV "port_range", 2},
    {"tcp_range_both_zero",
     "tcp",
     {"1.1.1.1"},
     {0},
     0,
     1,
     0,
     0,
     0,
     INV "port_range, " INV "port_range",
     3},
    {"tcp_range_reversed", "tcp", {"1.1.1.1"}, {0}, 0, 1, 20, 10, 0, INV "port_range", 2},
    {"udp_zero_ports", "udp", {"1.1.1.1"}, {0, 80, 0}, 3, 0, 0, 0, 0, INV "ports, " INV "ports", 3},
    {"tcp_with_icmp_info", "tcp", {"1.1.1.1"}, {80}, 1, 0, 0, 0, 1, INV "icmp_info", 2},
    {"icmp_valid", "icmp", {"1.1.1.1"}, {0}, 0, 0, 0, 0, 1, NULL, 0},
    {"icmp_everything_wrong",
     "icmp",
     {"1.1.1.1"},
     {80},
     1,
     1,
     1,
     2,
     0,
     INV "port_range, " INV "ports, " INV "icmp_info",
     4},
    {"icmpv6_valid", "icmpv6", {"::1"}, {0}, 0, 0, 0, 0, 1, NULL, 0},
    {"icmpv6_without_info", "icmpv6", {"::1"}, {0}, 0, 0, 0, 0, 0, INV "icmpv6_info", 2},
    {"all_valid", "all", {"0.0.0.0-255.255.255.255"}, {0}, 0, 0, 0, 0, 0, NULL, 0},
    {"all_everything_set",
     "all",
     {"1.1.1.1"},
     {80},
     1,
     1,
     1,
     2,
     1,
     INV "port_range, " INV "ports, " INV "icmp_info",
     4},
    {"unknown_protocol", "TCP", {"1.1.1.1"}, {80}, 1, 0, 0, 0, 0, INV "protocol", 2},
    {"empty_protocol", "", {"1.1.1.1"}, {0}, 0, 0, 0, 0, 0, INV "protocol", 2},
    {"no_destinations",
     "tcp",
     {NULL},
     {80},
     1,
     0,
     0,
     0,
     0,
     INV "destinations [ Must have at least 1 destination ]",
     2},
    {"bad_protocol_and_no_destinations",
     "x",
     {NULL},
     {0},
     0,
     0,
     0,
     0,
     0,
     INV "protocol, " INV "destinations [ Must have at least 1 destination ]",
     3},
    {"ip_three_octets",
     "tcp",
     {"1.2.3"},
     {80},
     1,
     0,
     0,
     0,
     0,
     INV "destinations [ Invalid IP ]",
     2},
    {"ip_leading_zero",
     "tcp",
     {"01.2.3.4"},
     {80},
     1,
     0,
     0,
     0,
     0,
     INV "destinations [ Invalid IP ]",
     2},
    {"ip_hostname",
     "tcp",
     {"example.com"},
     {80},
     1,
     0,
     0,
     0,
     0,
     INV "destinations [ Invalid IP ]",
     2},
    {"ip_with_zone",
     "tcp",
     {"fe80::1%eth0"},
     {80},
     1,
     0,
     0,
     0,
     0,
     INV "destinations [ Invalid IP ]",
     2},
    {"ipv6_and_mapped_valid",
     "tcp",
     {"2001:db8::1", "::ffff:1.2.3.4", "::"},
     {80},
     1,
     0,
     0,
     0,
     0,
     NULL,
     0},
    {"cidr_valid",
     "tcp",
     {"10.0.0.0/8", "2001:db8::/32", "::ffff:0:0/96", "1.2.3.4/0"},
     {80},
     1,
     0,
     0,
     0,
     0,
     NULL,
     0},
    {"cidr_prefix_leading_zeros", "tcp", {"10.0.0.0/008"}, {80}, 1, 0, 0, 0, 0, NULL, 0},
    {"cidr_prefix_too_long_v4",
     "tcp",
     {"10.0.0.0/33"},
     {80},
     1,
     0,
     0,
     0,
     0,
     INV "destinations [ invalid CIDR address: 10.0.0.0/33 ]",
     2},
    {"cidr_prefix_too_long_v6",
     "tcp",
     {"2001:db8::/129"},
     {80},
     1,
     0,
     0,
     0,
     0,
     INV "destinations [ invalid CIDR address: 2001:db8::/129 ]",
     2},
    {"cidr_mapped_takes_128", "tcp", {"::ffff:1.2.3.4/128"}, {80}, 1, 0, 0, 0, 0, NULL, 0},
    {"cidr_empty_prefix",
     "tcp",
     {"10.0.0.0/"},
     {80},
     1,
     0,
     0,
     0,
     0,
     INV "destinations [ invalid CIDR address: 10.0.0.0/ ]",
     2},
    {"cidr_bad_address",
     "tcp",
     {"10.0.0/8"},
     {80},
     1,
     0,
     0,
     0,
     0,
     INV "destinations [ invalid CIDR address: 10.0.0/8 ]",
     2},
    {"cidr_two_slashes",
     "tcp",
     {"10.0.0.0/8/8"},
     {80},
     1,
     0,
     0,
     0,
     0,
     INV "destinations [ invalid CIDR address: 10.0.0.0/8/8 ]",
     2},
    {"cidr_signed_prefix",
     "tcp",
     {"10.0.0.0/+8"},
     {80},
     1,
     0,
     0,
     0,
     0,
     INV "destinations [ invalid CIDR address: 10.0.0.0/+8 ]",
     2},
    {"comma_separated_items",
     "tcp",
     {"1.1.1.1,bogus,10.0.0.0/99", "2.2.2.2"},
     {80},
     1,
     0,
     0,
     0,
     0,
     INV "destinations [ Invalid IP, invalid CIDR address: 10.0.0.0/99 ]",
     2},
    {"trailing_comma_is_empty_item",
     "tcp",
     {"1.1.1.1,"},
     {80},
     1,
     0,
     0,
     0,
     0,
     INV "destinations [ Invalid IP ]",
     2},
    {"empty_destination", "tcp", {""}, {80}, 1, 0, 0, 0, 0, INV "destinations [ Invalid IP ]", 2},
    {"range_valid",
     "tcp",
     {"10.0.0.1-10.0.0.9", "10.0.0.1-10.0.0.1"},
     {80},
     1,
     0,
     0,
     0,
     0,
     NULL,
     0},
    {"range_reversed",
     "tcp",
     {"10.0.0.9-10.0.0.1"},
     {80},
     1,
     0,
     0,
     0,
     0,
     INV "destinations [ Invalid IP ]",
     2},
    {"range_reversed_reported_per_byte",
     "tcp",
     {"10.9.9.9-10.1.1.1"},
     {80},
     1,
     0,
     0,
     0,
     0,
     INV "destinations [ Invalid IP, Invalid IP, Invalid IP ]",
     2},
    {"range_stops_at_first_smaller_byte",
     "tcp",
     {"10.9.0.9-10.1.1.1"},
     {80},
     1,
     0,
     0,
     0,
     0,
     INV "destinations [ Invalid IP ]",
     2},
    {"range_bad_end",
     "tcp",
     {"10.0.0.1-x"},
     {80},
     1,
     0,
     0,
     0,
     0,
     INV "destinations [ Invalid IP ]",
     2},
    {"range_with_cidr_end",
     "tcp",
     {"10.0.0.1-10.0.0.2/24"},
     {80},
     1,
     0,
     0,
     0,
     0,
     INV "destinations [ Invalid IP ]",
     2},
    {"range_v4_to_v6_compares_mapped_bytes",
     "tcp",
     {"10.0.0.1-::1"},
     {80},
     1,
     0,
     0,
     0,
     0,
     INV "destinations [ Invalid IP, Invalid IP, Invalid IP ]",
     2},
    {"range_v6_valid", "tcp", {"2001:db8::1-2001:db8::ff"}, {80}, 1, 0, 0, 0, 0, NULL, 0},
};

/* The full LRP's rule, changed as the row says. */
static Models__SecurityGroupRule *egress_rule(const struct egress_case *c)
{
    Models__SecurityGroupRule *r = tcp_rule();

    r->protocol = S(c->protocol);
    r->n_destinations = 0;
    while (r->n_destinations < 4 && c->destinations[r->n_destinations] != NULL) {
        r->n_destinations++;
    }
    r->destinations = (char **)c->destinations;
    r->ports = (uint32_t *)c->ports;
    r->n_ports = c->n_ports;
    if (c->has_range) {
        r->port_range->start = c->start;
        r->port_range->end = c->end;
    } else {
        r->port_range = NULL;
    }
    if (c->has_icmp) {
        r->icmp_info = NEW(Models__ICMPInfo, MODELS__ICMPINFO__INIT);
    }
    return r;
}

static void test_egress_case(void **state)
{
    const struct egress_case *c = *state;
    Models__DesiredLRP *d;
    char want[512];

    pool_free();
    d = full_lrp();
    d->egress_rules[0] = egress_rule(c);
    if (c->want == NULL) {
        assert_desire(d, "", 0);
    } else {
        snprintf(want, sizeof(want), INV "egress_rules, %s", c->want);
        assert_desire(d, want, c->want_n);
    }
    pool_free();
}

/* The same rows through bbs_validate_egress_rule alone: no header. */
static void test_egress_standalone_case(void **state)
{
    const struct egress_case *c = *state;
    Models__SecurityGroupRule *r;
    struct bbs_problems p = {0};
    int want_n = c->want == NULL ? 0 : c->want_n - 1;

    pool_free();
    r = egress_rule(c);
    assert_int_equal(bbs_validate_egress_rule(r, NULL), want_n);
    assert_int_equal(bbs_validate_egress_rule(r, &p), want_n);
    assert_string_equal(p.text, c->want == NULL ? "" : c->want);
    assert_int_equal(p.count, want_n);
    pool_free();
}

/* ---- 5.2: update and the other DesiredLRP requests ---- */

struct update_case {
    const char *name;
    const char *process_guid;
    void (*build)(Models__UpdateDesiredLRPRequest *req);
    const char *want;
    int want_n;
};

static Models__DesiredLRPUpdate *new_update(Models__UpdateDesiredLRPRequest *req)
{
    req->update = NEW(Models__DesiredLRPUpdate, MODELS__DESIRED_LRPUPDATE__INIT);
    return req->update;
}

static Models__DesiredLRPUpdate__MetricTagsEntry *
update_tag(const char *key, const char *static_, Models__MetricTagValue__DynamicValue dynamic)
{
    Models__DesiredLRPUpdate__MetricTagsEntry *e =
        NEW(Models__DesiredLRPUpdate__MetricTagsEntry,
            MODELS__DESIRED_LRPUPDATE__METRIC_TAGS_ENTRY__INIT);

    e->key = S(key);
    e->value = NEW(Models__MetricTagValue, MODELS__METRIC_TAG_VALUE__INIT);
    e->value->static_ = S(static_);
    e->value->dynamic = dynamic;
    return e;
}

static void u_absent(Models__UpdateDesiredLRPRequest *req)
{
    (void)req;
}

static void u_empty(Models__UpdateDesiredLRPRequest *req)
{
    new_update(req);
}

static void u_full(Models__UpdateDesiredLRPRequest *req)
{
    Models__DesiredLRPUpdate *u = new_update(req);
    static const char json[] = "[{\"hostnames\":[\"a.example.com\"],\"port\":8080}]";

    u->optional_instances_case = MODELS__DESIRED_LRPUPDATE__OPTIONAL_INSTANCES_INSTANCES;
    u->instances = 0;
    u->optional_annotation_case = MODELS__DESIRED_LRPUPDATE__OPTIONAL_ANNOTATION_ANNOTATION;
    u->annotation = big_string(10 * 1024);
    u->routes = NEW(Models__ProtoRoutes, MODELS__PROTO_ROUTES__INIT);
    u->routes->routes = ptrs(1, route("cf-router", json, strlen(json)));
    u->routes->n_routes = 1;
    u->metric_tags = ptrs(1, update_tag("source_id", "abc", 0));
    u->n_metric_tags = 1;
    u->optional_image_username_case =
        MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_USERNAME_IMAGE_USERNAME;
    u->image_username = S("");
    u->optional_image_password_case =
        MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_PASSWORD_IMAGE_PASSWORD;
    u->image_password = S("");
}

static void u_instances_negative(Models__UpdateDesiredLRPRequest *req)
{
    Models__DesiredLRPUpdate *u = new_update(req);

    u->optional_instances_case = MODELS__DESIRED_LRPUPDATE__OPTIONAL_INSTANCES_INSTANCES;
    u->instances = -1;
}

/* A value in the union without its case set is not there. */
static void u_instances_negative_unset(Models__UpdateDesiredLRPRequest *req)
{
    new_update(req)->instances = -1;
}

static void u_annotation_long(Models__UpdateDesiredLRPRequest *req)
{
    Models__DesiredLRPUpdate *u = new_update(req);

    u->optional_annotation_case = MODELS__DESIRED_LRPUPDATE__OPTIONAL_ANNOTATION_ANNOTATION;
    u->annotation = big_string(10 * 1024 + 1);
}

static void u_routes_big(Models__UpdateDesiredLRPRequest *req)
{
    Models__DesiredLRPUpdate *u = new_update(req);

    u->routes = NEW(Models__ProtoRoutes, MODELS__PROTO_ROUTES__INIT);
    u->routes->routes = ptrs(1, route("cf-router", route_bytes, sizeof(route_bytes)));
    u->routes->n_routes = 1;
}

static void u_routes_empty(Models__UpdateDesiredLRPRequest *req)
{
    new_update(req)->routes = NEW(Models__ProtoRoutes, MODELS__PROTO_ROUTES__INIT);
}

static void u_metric_tag_bad(Models__UpdateDesiredLRPRequest *req)
{
    Models__DesiredLRPUpdate *u = new_update(req);

    u->metric_tags = ptrs(2, update_tag("a", "x", 1), update_tag("b", "", 0));
    u->n_metric_tags = 2;
}

static void u_username_only(Models__UpdateDesiredLRPRequest *req)
{
    Models__DesiredLRPUpdate *u = new_update(req);

    u->optional_image_username_case =
        MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_USERNAME_IMAGE_USERNAME;
    u->image_username = S("user");
}

static void u_password_only(Models__UpdateDesiredLRPRequest *req)
{
    Models__DesiredLRPUpdate *u = new_update(req);

    u->optional_image_password_case =
        MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_PASSWORD_IMAGE_PASSWORD;
    u->image_password = S("secret");
}

static void u_everything(Models__UpdateDesiredLRPRequest *req)
{
    u_annotation_long(req);
    req->update->optional_instances_case = MODELS__DESIRED_LRPUPDATE__OPTIONAL_INSTANCES_INSTANCES;
    req->update->instances = -3;
    req->update->routes = NEW(Models__ProtoRoutes, MODELS__PROTO_ROUTES__INIT);
    req->update->routes->routes = ptrs(1, route("cf-router", route_bytes, sizeof(route_bytes)));
    req->update->routes->n_routes = 1;
    req->update->metric_tags = ptrs(1, update_tag("a", "", 0));
    req->update->n_metric_tags = 1;
    req->update->optional_image_password_case =
        MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_PASSWORD_IMAGE_PASSWORD;
}

static const struct update_case update_cases[] = {
    {"empty_body_only_process_guid", "", u_absent, INV "process_guid", 1},
    {"missing_update_quirk10", "pg-1", u_absent, INV "update", 1},
    {"empty_update_valid", "pg-1", u_empty, "", 0},
    {"full_update_valid", "pg-1", u_full, "", 0},
    {"process_guid_empty_with_update", "", u_empty, INV "process_guid", 1},
    {"instances_negative", "pg-1", u_instances_negative, INV "instances", 1},
    {"instances_negative_but_unset", "pg-1", u_instances_negative_unset, "", 0},
    {"annotation_too_long", "pg-1", u_annotation_long, INV "annotation", 1},
    {"routes_too_big", "pg-1", u_routes_big, INV "routes", 1},
    {"routes_present_empty", "pg-1", u_routes_empty, "", 0},
    {"metric_tags_bad_values", "pg-1", u_metric_tag_bad,
     INV "metric_tags, " INV "static, " INV "dynamic, " INV "static, " INV "dynamic", 5},
    {"image_username_without_password", "pg-1", u_username_only, INV "image_password", 1},
    {"image_password_without_username", "pg-1", u_password_only, INV "image_username", 1},
    {"every_rule_in_order", "", u_everything,
     INV "process_guid, " INV "instances, " INV "annotation, " INV "routes, " INV
         "metric_tags, " INV "static, " INV "dynamic, " INV "image_username",
     8},
};

static void test_update_case(void **state)
{
    const struct update_case *c = *state;
    Models__UpdateDesiredLRPRequest req = MODELS__UPDATE_DESIRED_LRPREQUEST__INIT;
    struct bbs_problems p = {0};
    int rc;

    pool_free();
    req.process_guid = S(c->process_guid);
    c->build(&req);
    rc = bbs_validate_update(&req, &p);
    assert_string_equal(p.text, c->want);
    assert_int_equal(rc, c->want_n);
    assert_int_equal(p.count, c->want_n);
    pool_free();
}

/* ---- 2.4, 2.5, 5.2: the small requests ---- */

enum req_kind {
    REQ_CLAIM,
    REQ_START,
    REQ_CRASH,
    REQ_FAIL,
    REQ_RETIRE,
    REQ_REMOVE_ACTUAL,
    REQ_BY_GUIDS,
    REQ_GROUPS_BY_GUID,
    REQ_GROUP_BY_GUID_INDEX,
    REQ_EVAC_CLAIMED,
    REQ_EVAC_CRASHED,
    REQ_EVAC_STOPPED,
    REQ_EVAC_RUNNING,
    REQ_REMOVE_EVACUATING,
    REQ_REMOVE_DESIRED,
    REQ_DESIRED_BY_GUID,
    REQ_UPSERT_DOMAIN,
};

/* How a submessage is sent. */
enum part {
    P_ABSENT,
    P_EMPTY, /* present, all defaults */
    P_VALID,
    P_PARTIAL, /* key: negative index; instance key: cell only; net info: ports only */
};

struct req_case {
    const char *name;
    enum req_kind kind;
    enum part key;
    enum part instance_key;
    enum part net_info;
    const char *str; /* process_guid, error_message or domain, as the request has */
    int32_t index;
    size_t n_guids;
    const char *want;
    int want_n;
};

static const struct req_case req_cases[] = {
    /* Reference 2.1.3: empty key, no instance key, valid net info. */
    {"start_ref_example", REQ_START, P_EMPTY, P_ABSENT, P_VALID, NULL, 0, 0,
     INV "process_guid, " INV "domain, " INV "actual_lrp_instance_key", 3},
    {"start_valid", REQ_START, P_VALID, P_VALID, P_VALID, NULL, 0, 0, "", 0},
    {"start_all_absent", REQ_START, P_ABSENT, P_ABSENT, P_ABSENT, NULL, 0, 0,
     INV "actual_lrp_key, " INV "actual_lrp_instance_key, " INV "actual_lrp_net_info", 3},
    {"start_all_empty", REQ_START, P_EMPTY, P_EMPTY, P_EMPTY, NULL, 0, 0,
     INV "process_guid, " INV "domain, " INV "cell_id, " INV "instance_guid, " INV "address", 5},
    {"start_partial", REQ_START, P_PARTIAL, P_PARTIAL, P_PARTIAL, NULL, 0, 0,
     INV "index, " INV "instance_guid, " INV "address", 3},
    {"claim_valid", REQ_CLAIM, P_ABSENT, P_VALID, P_ABSENT, "pg-1", 0, 0, "", 0},
    {"claim_negative_index_not_checked", REQ_CLAIM, P_ABSENT, P_VALID, P_ABSENT, "pg-1", -1, 0, "",
     0},
    {"claim_empty", REQ_CLAIM, P_ABSENT, P_ABSENT, P_ABSENT, "", 0, 0,
     INV "process_guid, " INV "actual_lrp_instance_key", 2},
    {"claim_empty_instance_key", REQ_CLAIM, P_ABSENT, P_EMPTY, P_ABSENT, "pg-1", 0, 0,
     INV "cell_id, " INV "instance_guid", 2},
    {"crash_valid_empty_message", REQ_CRASH, P_VALID, P_VALID, P_ABSENT, "", 0, 0, "", 0},
    {"crash_absent", REQ_CRASH, P_ABSENT, P_ABSENT, P_ABSENT, NULL, 0, 0,
     INV "actual_lrp_key, " INV "actual_lrp_instance_key", 2},
    {"crash_partial", REQ_CRASH, P_PARTIAL, P_PARTIAL, P_ABSENT, NULL, 0, 0,
     INV "index, " INV "instance_guid", 2},
    {"fail_valid", REQ_FAIL, P_VALID, P_ABSENT, P_ABSENT, "no cells", 0, 0, "", 0},
    {"fail_no_message", REQ_FAIL, P_VALID, P_ABSENT, P_ABSENT, "", 0, 0, INV "error_message", 1},
    {"fail_absent", REQ_FAIL, P_ABSENT, P_ABSENT, P_ABSENT, "", 0, 0,
     INV "actual_lrp_key, " INV "error_message", 2},
    {"retire_valid", REQ_RETIRE, P_VALID, P_ABSENT, P_ABSENT, NULL, 0, 0, "", 0},
    {"retire_absent", REQ_RETIRE, P_ABSENT, P_ABSENT, P_ABSENT, NULL, 0, 0, INV "actual_lrp_key",
     1},
    {"retire_empty_key", REQ_RETIRE, P_EMPTY, P_ABSENT, P_ABSENT, NULL, 0, 0,
     INV "process_guid, " INV "domain", 2},
    {"remove_actual_valid_any_instance", REQ_REMOVE_ACTUAL, P_ABSENT, P_ABSENT, P_ABSENT, "pg-1", 0,
     0, "", 0},
    {"remove_actual_instance_key_unchecked", REQ_REMOVE_ACTUAL, P_ABSENT, P_EMPTY, P_ABSENT, "pg-1",
     3, 0, "", 0},
    {"remove_actual_invalid", REQ_REMOVE_ACTUAL, P_ABSENT, P_ABSENT, P_ABSENT, "", -1, 0,
     INV "process_guid, " INV "index", 2},
    {"by_guids_valid", REQ_BY_GUIDS, P_ABSENT, P_ABSENT, P_ABSENT, NULL, 0, 2, "", 0},
    {"by_guids_empty", REQ_BY_GUIDS, P_ABSENT, P_ABSENT, P_ABSENT, NULL, 0, 0,
     "process_guids must not be empty", 1},
    {"groups_by_guid_valid", REQ_GROUPS_BY_GUID, P_ABSENT, P_ABSENT, P_ABSENT, "pg-1", 0, 0, "", 0},
    {"groups_by_guid_empty", REQ_GROUPS_BY_GUID, P_ABSENT, P_ABSENT, P_ABSENT, "", 0, 0,
     INV "process_guid", 1},
    {"group_by_guid_index_valid", REQ_GROUP_BY_GUID_INDEX, P_ABSENT, P_ABSENT, P_ABSENT, "pg-1", 2,
     0, "", 0},
    {"group_by_guid_index_invalid", REQ_GROUP_BY_GUID_INDEX, P_ABSENT, P_ABSENT, P_ABSENT, "", -1,
     0, INV "process_guid, " INV "index", 2},
    {"evacuate_claimed_valid", REQ_EVAC_CLAIMED, P_VALID, P_VALID, P_ABSENT, NULL, 0, 0, "", 0},
    {"evacuate_claimed_absent", REQ_EVAC_CLAIMED, P_ABSENT, P_ABSENT, P_ABSENT, NULL, 0, 0,
     INV "actual_lrp_key, " INV "actual_lrp_instance_key", 2},
    {"evacuate_crashed_valid", REQ_EVAC_CRASHED, P_VALID, P_VALID, P_ABSENT, "oom", 0, 0, "", 0},
    {"evacuate_crashed_no_message", REQ_EVAC_CRASHED, P_EMPTY, P_PARTIAL, P_ABSENT, "", 0, 0,
     INV "process_guid, " INV "domain, " INV "instance_guid, " INV "error_message", 4},
    {"evacuate_stopped_valid", REQ_EVAC_STOPPED, P_VALID, P_VALID, P_ABSENT, NULL, 0, 0, "", 0},
    {"evacuate_stopped_invalid", REQ_EVAC_STOPPED, P_PARTIAL, P_ABSENT, P_ABSENT, NULL, 0, 0,
     INV "index, " INV "actual_lrp_instance_key", 2},
    {"evacuate_running_valid", REQ_EVAC_RUNNING, P_VALID, P_VALID, P_VALID, NULL, 0, 0, "", 0},
    {"evacuate_running_no_net_info", REQ_EVAC_RUNNING, P_VALID, P_VALID, P_ABSENT, NULL, 0, 0,
     INV "actual_lrp_net_info", 1},
    {"evacuate_running_empty_net_info", REQ_EVAC_RUNNING, P_VALID, P_EMPTY, P_EMPTY, NULL, 0, 0,
     INV "cell_id, " INV "instance_guid, " INV "address", 3},
    {"remove_evacuating_valid", REQ_REMOVE_EVACUATING, P_VALID, P_VALID, P_ABSENT, NULL, 0, 0, "",
     0},
    {"remove_evacuating_invalid", REQ_REMOVE_EVACUATING, P_EMPTY, P_ABSENT, P_ABSENT, NULL, 0, 0,
     INV "process_guid, " INV "domain, " INV "actual_lrp_instance_key", 3},
    {"remove_desired_valid", REQ_REMOVE_DESIRED, P_ABSENT, P_ABSENT, P_ABSENT, "pg-1", 0, 0, "", 0},
    {"remove_desired_empty", REQ_REMOVE_DESIRED, P_ABSENT, P_ABSENT, P_ABSENT, "", 0, 0,
     INV "process_guid", 1},
    {"desired_by_guid_valid", REQ_DESIRED_BY_GUID, P_ABSENT, P_ABSENT, P_ABSENT, "pg-1", 0, 0, "",
     0},
    {"desired_by_guid_empty", REQ_DESIRED_BY_GUID, P_ABSENT, P_ABSENT, P_ABSENT, "", 0, 0,
     INV "process_guid", 1},
    {"upsert_domain_valid", REQ_UPSERT_DOMAIN, P_ABSENT, P_ABSENT, P_ABSENT, "cf-apps", 0, 0, "",
     0},
    {"upsert_domain_empty", REQ_UPSERT_DOMAIN, P_ABSENT, P_ABSENT, P_ABSENT, "", 0, 0, INV "domain",
     1},
};

static Models__ActualLRPKey *make_key(enum part how)
{
    Models__ActualLRPKey *k;

    if (how == P_ABSENT) {
        return NULL;
    }
    k = NEW(Models__ActualLRPKey, MODELS__ACTUAL_LRPKEY__INIT);
    if (how != P_EMPTY) {
        k->process_guid = S("pg-1");
        k->domain = S("cf-apps");
        k->index = how == P_PARTIAL ? -1 : 1;
    }
    return k;
}

static Models__ActualLRPInstanceKey *make_instance_key(enum part how)
{
    Models__ActualLRPInstanceKey *k;

    if (how == P_ABSENT) {
        return NULL;
    }
    k = NEW(Models__ActualLRPInstanceKey, MODELS__ACTUAL_LRPINSTANCE_KEY__INIT);
    if (how != P_EMPTY) {
        k->cell_id = S("cell-1");
        k->instance_guid = how == P_PARTIAL ? S("") : S("ig-1");
    }
    return k;
}

static Models__ActualLRPNetInfo *make_net_info(enum part how)
{
    Models__ActualLRPNetInfo *n;

    if (how == P_ABSENT) {
        return NULL;
    }
    n = NEW(Models__ActualLRPNetInfo, MODELS__ACTUAL_LRPNET_INFO__INIT);
    if (how == P_VALID) {
        n->address = S("10.0.0.1");
        n->instance_address = S("10.255.0.1");
    }
    if (how == P_PARTIAL) {
        Models__PortMapping *pm = NEW(Models__PortMapping, MODELS__PORT_MAPPING__INIT);
        pm->container_port = 8080;
        pm->host_port = 61000;
        n->ports = ptrs(1, pm);
        n->n_ports = 1;
    }
    return n;
}

static int run_req(const struct req_case *c, struct bbs_problems *p)
{
    char *str = S(c->str == NULL ? "" : c->str);

    switch (c->kind) {
    case REQ_CLAIM: {
        Models__ClaimActualLRPRequest r = MODELS__CLAIM_ACTUAL_LRPREQUEST__INIT;
        r.process_guid = str;
        r.index = c->index;
        r.actual_lrp_instance_key = make_instance_key(c->instance_key);
        return bbs_validate_claim(&r, p);
    }
    case REQ_START: {
        Models__StartActualLRPRequest r = MODELS__START_ACTUAL_LRPREQUEST__INIT;
        r.actual_lrp_key = make_key(c->key);
        r.actual_lrp_instance_key = make_instance_key(c->instance_key);
        r.actual_lrp_net_info = make_net_info(c->net_info);
        return bbs_validate_start(&r, p);
    }
    case REQ_CRASH: {
        Models__CrashActualLRPRequest r = MODELS__CRASH_ACTUAL_LRPREQUEST__INIT;
        r.actual_lrp_key = make_key(c->key);
        r.actual_lrp_instance_key = make_instance_key(c->instance_key);
        r.error_message = str;
        return bbs_validate_crash(&r, p);
    }
    case REQ_FAIL: {
        Models__FailActualLRPRequest r = MODELS__FAIL_ACTUAL_LRPREQUEST__INIT;
        r.actual_lrp_key = make_key(c->key);
        r.error_message = str;
        return bbs_validate_fail(&r, p);
    }
    case REQ_RETIRE: {
        Models__RetireActualLRPRequest r = MODELS__RETIRE_ACTUAL_LRPREQUEST__INIT;
        r.actual_lrp_key = make_key(c->key);
        return bbs_validate_retire(&r, p);
    }
    case REQ_REMOVE_ACTUAL: {
        Models__RemoveActualLRPRequest r = MODELS__REMOVE_ACTUAL_LRPREQUEST__INIT;
        r.process_guid = str;
        r.index = c->index;
        r.actual_lrp_instance_key = make_instance_key(c->instance_key);
        return bbs_validate_remove_actual(&r, p);
    }
    case REQ_BY_GUIDS: {
        Models__ActualLRPsByProcessGuidsRequest r =
            MODELS__ACTUAL_LRPS_BY_PROCESS_GUIDS_REQUEST__INIT;
        r.process_guids = ptrs(2, S("pg-1"), S("pg-2"));
        r.n_process_guids = c->n_guids;
        return bbs_validate_by_guids(&r, p);
    }
    case REQ_GROUPS_BY_GUID: {
        Models__ActualLRPGroupsByProcessGuidRequest r =
            MODELS__ACTUAL_LRPGROUPS_BY_PROCESS_GUID_REQUEST__INIT;
        r.process_guid = str;
        return bbs_validate_groups_by_guid(&r, p);
    }
    case REQ_GROUP_BY_GUID_INDEX: {
        Models__ActualLRPGroupByProcessGuidAndIndexRequest r =
            MODELS__ACTUAL_LRPGROUP_BY_PROCESS_GUID_AND_INDEX_REQUEST__INIT;
        r.process_guid = str;
        r.index = c->index;
        return bbs_validate_group_by_guid_index(&r, p);
    }
    case REQ_EVAC_CLAIMED: {
        Models__EvacuateClaimedActualLRPRequest r =
            MODELS__EVACUATE_CLAIMED_ACTUAL_LRPREQUEST__INIT;
        r.actual_lrp_key = make_key(c->key);
        r.actual_lrp_instance_key = make_instance_key(c->instance_key);
        return bbs_validate_evacuate_claimed(&r, p);
    }
    case REQ_EVAC_CRASHED: {
        Models__EvacuateCrashedActualLRPRequest r =
            MODELS__EVACUATE_CRASHED_ACTUAL_LRPREQUEST__INIT;
        r.actual_lrp_key = make_key(c->key);
        r.actual_lrp_instance_key = make_instance_key(c->instance_key);
        r.error_message = str;
        return bbs_validate_evacuate_crashed(&r, p);
    }
    case REQ_EVAC_STOPPED: {
        Models__EvacuateStoppedActualLRPRequest r =
            MODELS__EVACUATE_STOPPED_ACTUAL_LRPREQUEST__INIT;
        r.actual_lrp_key = make_key(c->key);
        r.actual_lrp_instance_key = make_instance_key(c->instance_key);
        return bbs_validate_evacuate_stopped(&r, p);
    }
    case REQ_EVAC_RUNNING: {
        Models__EvacuateRunningActualLRPRequest r =
            MODELS__EVACUATE_RUNNING_ACTUAL_LRPREQUEST__INIT;
        r.actual_lrp_key = make_key(c->key);
        r.actual_lrp_instance_key = make_instance_key(c->instance_key);
        r.actual_lrp_net_info = make_net_info(c->net_info);
        return bbs_validate_evacuate_running(&r, p);
    }
    case REQ_REMOVE_EVACUATING: {
        Models__RemoveEvacuatingActualLRPRequest r =
            MODELS__REMOVE_EVACUATING_ACTUAL_LRPREQUEST__INIT;
        r.actual_lrp_key = make_key(c->key);
        r.actual_lrp_instance_key = make_instance_key(c->instance_key);
        return bbs_validate_remove_evacuating(&r, p);
    }
    case REQ_REMOVE_DESIRED: {
        Models__RemoveDesiredLRPRequest r = MODELS__REMOVE_DESIRED_LRPREQUEST__INIT;
        r.process_guid = str;
        return bbs_validate_remove_desired(&r, p);
    }
    case REQ_DESIRED_BY_GUID: {
        Models__DesiredLRPByProcessGuidRequest r = MODELS__DESIRED_LRPBY_PROCESS_GUID_REQUEST__INIT;
        r.process_guid = str;
        return bbs_validate_desired_by_guid(&r, p);
    }
    case REQ_UPSERT_DOMAIN: {
        Models__UpsertDomainRequest r = MODELS__UPSERT_DOMAIN_REQUEST__INIT;
        r.domain = str;
        r.ttl = 120;
        return bbs_validate_upsert_domain(&r, p);
    }
    }
    fail_msg("unknown request kind %d", (int)c->kind);
    return -1;
}

static void test_req_case(void **state)
{
    const struct req_case *c = *state;
    struct bbs_problems p = {0};
    int rc;

    pool_free();
    rc = run_req(c, &p);
    assert_string_equal(p.text, c->want);
    assert_int_equal(rc, c->want_n);
    assert_int_equal(p.count, c->want_n);
    pool_free();
}

/* ---- the problem list itself ---- */

static void test_problems_join(void **state)
{
    struct bbs_problems p = {0};

    (void)state;
    bbs_problems_add(&p, "a");
    bbs_problems_add(&p, "b c");
    assert_string_equal(p.text, "a, b c");
    assert_int_equal(p.len, 6);
    assert_int_equal(p.count, 2);
}

static void test_problems_truncate(void **state)
{
    struct bbs_problems p = {0};

    (void)state;
    for (int i = 0; i < 1000; i++) {
        bbs_problems_add(&p, "Invalid field: something");
    }
    assert_int_equal(p.count, 1000);
    assert_int_equal(p.len, BBS_ERROR_MESSAGE_MAX - 1);
    assert_int_equal(strlen(p.text), BBS_ERROR_MESSAGE_MAX - 1);
    assert_memory_equal(p.text + p.len - 3, "...", 3);
    assert_memory_equal(p.text, "Invalid field: something, Invalid", 33);
}

/* Filling the text exactly is not truncation; the next problem is. */
static void test_problems_exact_fill(void **state)
{
    struct bbs_problems p = {0};
    char fill[BBS_ERROR_MESSAGE_MAX];

    (void)state;
    memset(fill, 'x', sizeof(fill) - 1);
    fill[sizeof(fill) - 1] = '\0';
    bbs_problems_add(&p, fill);
    assert_int_equal(p.len, BBS_ERROR_MESSAGE_MAX - 1);
    assert_int_equal(p.text[p.len - 1], 'x');
    bbs_problems_add(&p, "y");
    assert_int_equal(p.count, 2);
    assert_int_equal(p.len, BBS_ERROR_MESSAGE_MAX - 1);
    assert_memory_equal(p.text + p.len - 3, "...", 3);
}

/* A long desire message truncates instead of overflowing. */
static void test_problems_many_from_validator(void **state)
{
    Models__DesiredLRP *d;
    Models__EnvironmentVariable **envs;
    Models__DesireLRPRequest req = MODELS__DESIRE_LRPREQUEST__INIT;
    struct bbs_problems p = {0};
    Models__EnvironmentVariable blank = MODELS__ENVIRONMENT_VARIABLE__INIT;
    enum { N = 500 };

    (void)state;
    pool_free();
    d = full_lrp();
    envs = pool_alloc(N * sizeof(*envs));
    for (size_t i = 0; i < N; i++) {
        envs[i] = &blank;
    }
    d->environment_variables = envs;
    d->n_environment_variables = N;
    req.desired_lrp = d;
    assert_int_equal(bbs_validate_desire(&req, &p), N);
    assert_int_equal(p.count, N);
    assert_int_equal(p.len, BBS_ERROR_MESSAGE_MAX - 1);
    assert_memory_equal(p.text + p.len - 3, "...", 3);
    pool_free();
}

/* ---- runner ---- */

static int run_rows(const char *group, const void *rows, size_t row_size, size_t n,
                    CMUnitTestFunction fn)
{
    struct CMUnitTest *tests = calloc(n, sizeof(*tests));
    int failed;

    assert_non_null(tests);
    for (size_t i = 0; i < n; i++) {
        const void *row = (const char *)rows + i * row_size;
        tests[i] = (struct CMUnitTest){
            .name = *(const char *const *)row, /* every row starts with its name */
            .test_func = fn,
            .initial_state = (void *)row,
        };
    }
    failed = _cmocka_run_group_tests(group, tests, n, NULL, NULL);
    free(tests);
    return failed;
}

#define ROWS(table) (table), sizeof((table)[0]), sizeof(table) / sizeof((table)[0])

int main(void)
{
    const struct CMUnitTest misc[] = {
        cmocka_unit_test(test_desire_missing_lrp),
        cmocka_unit_test(test_desire_empty_lrp),
        cmocka_unit_test(test_desire_appends),
        cmocka_unit_test(test_problems_join),
        cmocka_unit_test(test_problems_truncate),
        cmocka_unit_test(test_problems_exact_fill),
        cmocka_unit_test(test_problems_many_from_validator),
        cmocka_unit_test(test_lex_null_and_guid),
        cmocka_unit_test(test_credentials_null),
    };
    int failed = 0;

    failed += run_rows("validate_desired_lrp", ROWS(lrp_cases), test_lrp_case);
    failed += run_rows("validate_rootfs", ROWS(rootfs_cases), test_rootfs_case);
    failed +=
        run_rows("validate_rootfs_standalone", ROWS(rootfs_cases), test_rootfs_standalone_case);
    failed += run_rows("validate_actions", ROWS(action_cases), test_action_case);
    failed +=
        run_rows("validate_actions_standalone", ROWS(action_cases), test_action_standalone_case);
    failed += run_rows("validate_egress_rules", ROWS(egress_cases), test_egress_case);
    failed += run_rows("validate_egress_rules_standalone", ROWS(egress_cases),
                       test_egress_standalone_case);
    failed += run_rows("validate_shared_parts", ROWS(part_cases), test_part_case);
    failed += run_rows("validate_update", ROWS(update_cases), test_update_case);
    failed += run_rows("validate_requests", ROWS(req_cases), test_req_case);
    failed += cmocka_run_group_tests_name("validate_misc", misc, NULL, NULL);
    pool_free();
    free(pool);
    return failed;
}
