/*
 * test_api_desired.c - the DesiredLRP routes (reference 2.6-2.8, 5.1-5.8,
 * 9.1, quirks 3, 4, 5, 7, 10, 11, 16, 26): a round trip of every field of
 * seed 001, desire (actual rows and the auction body), validation, routes
 * JSON rewriting, update, remove, the full / scheduling-info / routing-info
 * reads, V3 -> V2 down-conversion, and the two crash paths that read the
 * desired LRP.
 *
 * No cell is registered, so scale-down and remove leave CLAIMED/RUNNING
 * rows exactly as they were (5.6, quirk 26). Request messages are built
 * from parts allocated in a per-test bag that each test's teardown frees;
 * field-by-field comparisons use the harness's descriptor-driven
 * it_pb_diff().
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIFECYCLE    (&models__desired_lrplifecycle_response__descriptor)
#define R_DESIRE     "/v1/desired_lrp/desire.r2"
#define R_UPDATE     "/v1/desired_lrp/update"
#define R_REMOVE     "/v1/desired_lrp/remove"
#define R_LIST_R3    "/v1/desired_lrps/list.r3"
#define R_GET_R3     "/v1/desired_lrps/get_by_process_guid.r3"
#define R_LIST_R2    "/v1/desired_lrps/list.r2"
#define R_GET_R2     "/v1/desired_lrps/get_by_process_guid.r2"
#define R_SCHED_LIST "/v1/desired_lrp_scheduling_infos/list"
#define R_SCHED_GET  "/v1/desired_lrp_scheduling_infos/get_by_process_guid"
#define R_ROUTING    "/v1/desired_lrp_routing_infos/list"
#define IG_A         "ig-a"
#define CELL_A       "cell-a"
#define IG_B         "ig-b"
#define CELL_B       "cell-b"
#define ADDR_A       "10.0.0.1"
#define ADDR_B       "10.0.0.2"

#define E(x) MODELS__ERROR__TYPE__##x

/* Compacted route values (2.6.3: sent compact, read back equal), as in support/dlrp_full.c. */
#define ROUTE_CF  "[{\"hostnames\":[\"a.example.com\"],\"port\":8080}]"
#define ROUTE_TCP "[{\"external_port\":61000,\"container_port\":9090}]"

/* Server-side differences of a read from what was sent (5.3, 2.6.1). */
static const char *const SKIP_SERVER[] = {"modification_tag", "deprecated_start_timeout_s", NULL};

/* ---- a per-test allocation bag ---------------------------------------------------------- */

enum { BAG_MAX = 16384 };

static struct {
    void *p[BAG_MAX];
    size_t n;
} bag;

static void *keep(void *p)
{
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        abort();
    }
    if (bag.n == BAG_MAX) {
        fail_msg("allocation bag full");
    }
    bag.p[bag.n++] = p;
    return p;
}

static int bag_free(void **state)
{
    (void)state;
    for (size_t i = 0; i < bag.n; i++) {
        free(bag.p[i]);
    }
    bag.n = 0;
    return 0;
}

static void *pb_new(const ProtobufCMessageDescriptor *d)
{
    void *m = keep(calloc(1, d->sizeof_message));
    protobuf_c_message_init(d, m);
    return m;
}

#define NEW(T, d) ((T *)pb_new(&(d)))

static void *ptrs(size_t n)
{
    return keep(calloc(n ? n : 1, sizeof(void *)));
}

static char *bstr(const char *s)
{
    return keep(strdup(s));
}

static char *brepeat(char c, size_t n)
{
    char *s = keep(malloc(n + 1));
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---- message builders ------------------------------------------------------------------- */

static Models__Action *wrap(void)
{
    return NEW(Models__Action, models__action__descriptor);
}

static Models__Action *a_run(const char *path, const char *user)
{
    Models__Action *a = wrap();
    Models__RunAction *r = NEW(Models__RunAction, models__run_action__descriptor);
    r->path = (char *)path;
    r->user = (char *)user;
    a->run_action = r;
    return a;
}

static Models__EnvironmentVariable *env_var(const char *name, const char *value)
{
    Models__EnvironmentVariable *e =
        NEW(Models__EnvironmentVariable, models__environment_variable__descriptor);
    e->name = (char *)name;
    e->value = (char *)value;
    return e;
}

static Models__DownloadAction *download(const char *artifact, const char *from, const char *to,
                                        const char *cache_key, const char *user, const char *alg,
                                        const char *value)
{
    Models__DownloadAction *d = NEW(Models__DownloadAction, models__download_action__descriptor);
    d->artifact = (char *)artifact;
    d->from = (char *)from;
    d->to = (char *)to;
    d->cache_key = (char *)cache_key;
    d->user = (char *)user;
    d->checksum_algorithm = (char *)alg;
    d->checksum_value = (char *)value;
    return d;
}

static Models__Action *a_timeout(Models__Action *inner, int64_t ms)
{
    Models__Action *a = wrap();
    Models__TimeoutAction *t = NEW(Models__TimeoutAction, models__timeout_action__descriptor);
    t->action = inner;
    t->timeout_ms = ms;
    a->timeout_action = t;
    return a;
}

static Models__Action *a_try(Models__Action *inner)
{
    Models__Action *a = wrap();
    Models__TryAction *t = NEW(Models__TryAction, models__try_action__descriptor);
    t->action = inner;
    a->try_action = t;
    return a;
}

static Models__Action *a_emit(Models__Action *inner)
{
    Models__Action *a = wrap();
    Models__EmitProgressAction *e =
        NEW(Models__EmitProgressAction, models__emit_progress_action__descriptor);
    e->action = inner;
    a->emit_progress_action = e;
    return a;
}

enum list_kind { K_PARALLEL, K_SERIAL, K_CODEPENDENT };

/* A composite action of `n` children (Models__Action *), with `log_source` (may be NULL). */
static Models__Action *a_list(enum list_kind kind, const char *log_source, size_t n, ...)
{
    Models__Action *a = wrap();
    Models__Action **acts = ptrs(n);
    va_list ap;

    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        acts[i] = va_arg(ap, Models__Action *);
    }
    va_end(ap);
    switch (kind) {
    case K_PARALLEL: {
        Models__ParallelAction *p =
            NEW(Models__ParallelAction, models__parallel_action__descriptor);
        p->n_actions = n;
        p->actions = acts;
        p->log_source = (char *)log_source;
        a->parallel_action = p;
        break;
    }
    case K_SERIAL: {
        Models__SerialAction *s = NEW(Models__SerialAction, models__serial_action__descriptor);
        s->n_actions = n;
        s->actions = acts;
        s->log_source = (char *)log_source;
        a->serial_action = s;
        break;
    }
    case K_CODEPENDENT: {
        Models__CodependentAction *c =
            NEW(Models__CodependentAction, models__codependent_action__descriptor);
        c->n_actions = n;
        c->actions = acts;
        c->log_source = (char *)log_source;
        a->codependent_action = c;
        break;
    }
    }
    return a;
}

static Models__DesiredLRP__MetricTagsEntry *tag_entry(const char *key, const char *stat,
                                                      Models__MetricTagValue__DynamicValue dyn)
{
    Models__DesiredLRP__MetricTagsEntry *e = NEW(
        Models__DesiredLRP__MetricTagsEntry, models__desired_lrp__metric_tags_entry__descriptor);
    Models__MetricTagValue *v = NEW(Models__MetricTagValue, models__metric_tag_value__descriptor);
    v->static_ = (char *)(stat ? stat : "");
    v->dynamic = dyn;
    e->key = (char *)key;
    e->value = v;
    return e;
}

static Models__DesiredLRPUpdate__MetricTagsEntry *
utag_entry(const char *key, const char *stat, Models__MetricTagValue__DynamicValue dyn)
{
    Models__DesiredLRPUpdate__MetricTagsEntry *e =
        NEW(Models__DesiredLRPUpdate__MetricTagsEntry,
            models__desired_lrpupdate__metric_tags_entry__descriptor);
    Models__MetricTagValue *v = NEW(Models__MetricTagValue, models__metric_tag_value__descriptor);
    v->static_ = (char *)(stat ? stat : "");
    v->dynamic = dyn;
    e->key = (char *)key;
    e->value = v;
    return e;
}

#define DYN_NONE  MODELS__METRIC_TAG_VALUE__DYNAMIC_VALUE__DynamicValueInvalid
#define DYN_INDEX MODELS__METRIC_TAG_VALUE__DYNAMIC_VALUE__INDEX
#define DYN_GUID  MODELS__METRIC_TAG_VALUE__DYNAMIC_VALUE__INSTANCE_GUID

/* A ProtoRoutes of `n` (const char *router, const char *json) pairs. */
static Models__ProtoRoutes *routes_of(size_t n, ...)
{
    Models__ProtoRoutes *r = NEW(Models__ProtoRoutes, models__proto_routes__descriptor);
    va_list ap;

    r->n_routes = n;
    r->routes = ptrs(n);
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        Models__ProtoRoutes__RoutesEntry *e =
            NEW(Models__ProtoRoutes__RoutesEntry, models__proto_routes__routes_entry__descriptor);
        const char *v;
        e->key = va_arg(ap, char *);
        v = va_arg(ap, const char *);
        e->value.len = strlen(v);
        e->value.data = (uint8_t *)v;
        r->routes[i] = e;
    }
    va_end(ap);
    return r;
}

static Models__ImageLayer *layer(const char *name, const char *url, const char *dest,
                                 Models__ImageLayer__Type type, Models__ImageLayer__MediaType media,
                                 Models__ImageLayer__DigestAlgorithm alg, const char *digest)
{
    Models__ImageLayer *l = NEW(Models__ImageLayer, models__image_layer__descriptor);
    l->name = (char *)name;
    l->url = (char *)url;
    l->destination_path = (char *)dest;
    l->layer_type = type;
    l->media_type = media;
    l->digest_algorithm = alg;
    l->digest_value = (char *)digest;
    return l;
}

#define L_SHARED    MODELS__IMAGE_LAYER__TYPE__SHARED
#define L_EXCLUSIVE MODELS__IMAGE_LAYER__TYPE__EXCLUSIVE
#define M_TGZ       MODELS__IMAGE_LAYER__MEDIA_TYPE__TGZ
#define M_TAR       MODELS__IMAGE_LAYER__MEDIA_TYPE__TAR
#define M_ZIP       MODELS__IMAGE_LAYER__MEDIA_TYPE__ZIP
#define D_NONE      MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__DigestAlgorithmInvalid
#define D_SHA256    MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA256
#define D_SHA512    MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA512

static Models__CachedDependency *cached_dep(const char *name, const char *from, const char *to,
                                            const char *cache_key, const char *log_source,
                                            const char *alg, const char *value)
{
    Models__CachedDependency *c =
        NEW(Models__CachedDependency, models__cached_dependency__descriptor);
    c->name = (char *)name;
    c->from = (char *)from;
    c->to = (char *)to;
    c->cache_key = (char *)cache_key;
    c->log_source = (char *)log_source;
    c->checksum_algorithm = (char *)alg;
    c->checksum_value = (char *)value;
    return c;
}

static Models__SecurityGroupRule *rule(const char *protocol, const char *dest)
{
    Models__SecurityGroupRule *r =
        NEW(Models__SecurityGroupRule, models__security_group_rule__descriptor);
    r->protocol = (char *)protocol;
    r->n_destinations = 1;
    r->destinations = ptrs(1);
    r->destinations[0] = (char *)dest;
    return r;
}

static Models__VolumeMount *shared_mount(const char *driver, const char *dir, const char *mode,
                                         const char *volume_id, const char *config)
{
    Models__VolumeMount *v = NEW(Models__VolumeMount, models__volume_mount__descriptor);
    Models__SharedDevice *s = NEW(Models__SharedDevice, models__shared_device__descriptor);
    s->volume_id = (char *)volume_id;
    s->mount_config = (char *)config;
    v->driver = (char *)driver;
    v->container_dir = (char *)dir;
    v->mode = (char *)mode;
    v->shared = s;
    return v;
}

static Models__Check *chk_tcp(uint32_t port, uint64_t connect_ms, uint64_t interval_ms)
{
    Models__Check *c = NEW(Models__Check, models__check__descriptor);
    Models__TCPCheck *t = NEW(Models__TCPCheck, models__tcpcheck__descriptor);
    t->port = port;
    t->connect_timeout_ms = connect_ms;
    t->interval_ms = interval_ms;
    c->tcp_check = t;
    return c;
}

/* A valid minimal DesiredLRP (harness defaults) living in the bag. */
static Models__DesiredLRP *min_lrp(const char *guid, int32_t instances)
{
    struct it_dlrp *d = keep(calloc(1, sizeof(*d)));
    it_dlrp_init(d, guid, instances);
    return &d->lrp;
}

/* The bag as a protobuf-c allocator: freed by the test's teardown, never individually. */
static void *bag_alloc(void *data, size_t size)
{
    (void)data;
    return keep(malloc(size));
}

static void bag_nofree(void *data, void *p)
{
    (void)data;
    (void)p;
}

static ProtobufCAllocator bag_allocator = {bag_alloc, bag_nofree, NULL};

/* The DesiredLRP with every field (seed 001, support/dlrp_full.h) in domain IT_DOMAIN. */
static Models__DesiredLRP *full_lrp(const char *guid, int32_t instances)
{
    return it_dlrp_full(&bag_allocator, guid, IT_DOMAIN, instances);
}

/* ---- calls ------------------------------------------------------------------------------ */

static void *desire_call(const Models__DesiredLRP *lrp)
{
    Models__DesireLRPRequest req = MODELS__DESIRE_LRPREQUEST__INIT;
    req.desired_lrp = (Models__DesiredLRP *)lrp;
    return it_call(R_DESIRE, &req.base, LIFECYCLE);
}

static void desire_ok(const Models__DesiredLRP *lrp)
{
    void *resp = desire_call(lrp);
    if (it_err_type(resp) != IT_OK) {
        fail_msg("desire %s: error %d \"%s\"", lrp->process_guid, it_err_type(resp),
                 it_err_msg(resp));
    }
    it_free(resp);
}

static void *get_call(const char *route, const char *guid)
{
    Models__DesiredLRPByProcessGuidRequest req = MODELS__DESIRED_LRPBY_PROCESS_GUID_REQUEST__INIT;
    const ProtobufCMessageDescriptor *d =
        strcmp(route, R_SCHED_GET) == 0
            ? &models__desired_lrpscheduling_info_by_process_guid_response__descriptor
            : &models__desired_lrpresponse__descriptor;
    req.process_guid = (char *)guid;
    return it_call(route, &req.base, d);
}

/* get_by_process_guid (.r3 or .r2); asserts success. Free with it_free(). */
static Models__DesiredLRPResponse *get_ok(const char *route, const char *guid)
{
    Models__DesiredLRPResponse *r = get_call(route, guid);
    if (it_err_type(r) != IT_OK) {
        fail_msg("%s %s: error %d \"%s\"", route, guid, it_err_type(r), it_err_msg(r));
    }
    if (r->desired_lrp == NULL) {
        fail_msg("%s %s: no desired_lrp in the answer", route, guid);
    }
    return r;
}

static Models__DesiredLRPSchedulingInfoByProcessGuidResponse *sched_get_ok(const char *guid)
{
    Models__DesiredLRPSchedulingInfoByProcessGuidResponse *r = get_call(R_SCHED_GET, guid);
    if (it_err_type(r) != IT_OK) {
        fail_msg("scheduling info %s: error %d \"%s\"", guid, it_err_type(r), it_err_msg(r));
    }
    if (r->desired_lrp_scheduling_info == NULL) {
        fail_msg("scheduling info %s: absent", guid);
    }
    return r;
}

static void assert_not_found_resp(void *r, const char *what)
{
    if (it_err_type(r) != E(ResourceNotFound)) {
        fail_msg("%s: expected ResourceNotFound, got %d \"%s\"", what, it_err_type(r),
                 it_err_msg(r));
    }
    assert_string_equal(it_err_msg(r), IT_MSG_NOT_FOUND);
}

/* get.r3 and the scheduling-info get both answer ResourceNotFound. */
static void assert_not_stored(const char *guid)
{
    void *r = get_call(R_GET_R3, guid);
    assert_not_found_resp(r, "get_by_process_guid.r3");
    it_free(r);
    r = get_call(R_SCHED_GET, guid);
    assert_not_found_resp(r, "scheduling_infos/get_by_process_guid");
    it_free(r);
}

/* A DesiredLRPsRequest on `route`; lists are NULL-terminated (or NULL). */
static void *list_call(const char *route, const char *domain, const char *const *pgs,
                       const char *const *apps)
{
    Models__DesiredLRPsRequest req = MODELS__DESIRED_LRPS_REQUEST__INIT;
    const ProtobufCMessageDescriptor *d =
        strcmp(route, R_SCHED_LIST) == 0 ? &models__desired_lrpscheduling_infos_response__descriptor
                                         : &models__desired_lrps_response__descriptor;
    char *pg[16], *ap[16];
    size_t np = 0, na = 0;
    void *resp;

    while (pgs != NULL && pgs[np] != NULL && np < 16) {
        pg[np] = (char *)pgs[np];
        np++;
    }
    while (apps != NULL && apps[na] != NULL && na < 16) {
        ap[na] = (char *)apps[na];
        na++;
    }
    if (domain != NULL) {
        req.domain = (char *)domain;
    }
    req.n_process_guids = np;
    req.process_guids = pg;
    req.n_app_guids = na;
    req.app_guids = ap;
    resp = it_call(route, &req.base, d);
    if (it_err_type(resp) != IT_OK) {
        fail_msg("%s: error %d \"%s\"", route, it_err_type(resp), it_err_msg(resp));
    }
    return resp;
}

/* The only DesiredLRP of `route` (list.r3 / list.r2 / routing infos) filtered by `guid`. */
static Models__DesiredLRPsResponse *list_one(const char *route, const char *guid)
{
    const char *const pgs[] = {guid, NULL};
    Models__DesiredLRPsResponse *r = list_call(route, NULL, pgs, NULL);
    if (r->n_desired_lrps != 1) {
        fail_msg("%s for %s: %zu results, expected 1", route, guid, r->n_desired_lrps);
    }
    return r;
}

static size_t total_lrps(void)
{
    Models__DesiredLRPsResponse *r = list_call(R_LIST_R3, NULL, NULL, NULL);
    size_t n = r->n_desired_lrps;
    it_free(r);
    return n;
}

struct upd {
    Models__UpdateDesiredLRPRequest req;
    Models__DesiredLRPUpdate up;
};

static void upd_init(struct upd *u, const char *guid)
{
    static const Models__UpdateDesiredLRPRequest req_init = MODELS__UPDATE_DESIRED_LRPREQUEST__INIT;
    static const Models__DesiredLRPUpdate up_init = MODELS__DESIRED_LRPUPDATE__INIT;

    u->req = req_init;
    u->up = up_init;
    u->req.process_guid = (char *)guid;
    u->req.update = &u->up;
}

static void upd_instances(struct upd *u, int32_t n)
{
    u->up.optional_instances_case = MODELS__DESIRED_LRPUPDATE__OPTIONAL_INSTANCES_INSTANCES;
    u->up.instances = n;
}

static void upd_annotation(struct upd *u, const char *s)
{
    u->up.optional_annotation_case = MODELS__DESIRED_LRPUPDATE__OPTIONAL_ANNOTATION_ANNOTATION;
    u->up.annotation = (char *)s;
}

static void *upd_call(const struct upd *u)
{
    return it_call(R_UPDATE, &u->req.base, LIFECYCLE);
}

static void upd_ok(const struct upd *u)
{
    void *r = upd_call(u);
    if (it_err_type(r) != IT_OK) {
        fail_msg("update %s: error %d \"%s\"", u->req.process_guid, it_err_type(r), it_err_msg(r));
    }
    it_free(r);
}

static void remove_call_expect(const char *guid, int want)
{
    Models__RemoveDesiredLRPRequest req = MODELS__REMOVE_DESIRED_LRPREQUEST__INIT;
    void *r;
    req.process_guid = (char *)guid;
    r = it_call(R_REMOVE, &req.base, LIFECYCLE);
    if (it_err_type(r) != want) {
        fail_msg("remove %s: error %d \"%s\", expected %d", guid, it_err_type(r), it_err_msg(r),
                 want);
    }
    if (want == E(ResourceNotFound)) {
        assert_string_equal(it_err_msg(r), IT_MSG_NOT_FOUND);
    }
    it_free(r);
}

/* ---- assertions ------------------------------------------------------------------------- */

static void assert_same_msg(const ProtobufCMessage *want, const ProtobufCMessage *got,
                            const char *const *skip, const char *what)
{
    char diff[1024];
    if (it_pb_diff(want, got, skip, diff, sizeof(diff)) != 0) {
        fail_msg("%s differs from what was expected: %s (expected vs read)", what, diff);
    }
}

/* The modification tag of `guid` (epoch copied into `epoch`, 64 bytes). */
static uint32_t mod_tag(const char *guid, char *epoch)
{
    Models__DesiredLRPResponse *r = get_ok(R_GET_R3, guid);
    const Models__ModificationTag *t = r->desired_lrp->modification_tag;
    uint32_t idx;
    if (t == NULL) {
        fail_msg("%s: no modification tag", guid);
    }
    snprintf(epoch, 64, "%s", t->epoch ? t->epoch : "");
    idx = t->index;
    it_free(r);
    return idx;
}

static const Models__MetricTagValue *find_tag(const Models__DesiredLRP *l, const char *key)
{
    for (size_t i = 0; i < l->n_metric_tags; i++) {
        if (l->metric_tags[i]->key != NULL && strcmp(l->metric_tags[i]->key, key) == 0) {
            return l->metric_tags[i]->value;
        }
    }
    return NULL;
}

static void assert_tag(const Models__DesiredLRP *l, const char *key, const char *stat, int dyn)
{
    const Models__MetricTagValue *v = find_tag(l, key);
    if (v == NULL) {
        fail_msg("metric tag %s missing", key);
    }
    assert_string_equal(v->static_ ? v->static_ : "", stat ? stat : "");
    assert_int_equal(v->dynamic, dyn);
}

/* `r` holds exactly the `n` (router, json) pairs given. */
static void assert_routes(const Models__ProtoRoutes *r, const char *what, size_t n, ...)
{
    va_list ap;

    if (r == NULL) {
        fail_msg("%s: routes field absent", what);
    }
    if (r->n_routes != n) {
        fail_msg("%s: %zu routes, expected %zu", what, r->n_routes, n);
    }
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        const char *key = va_arg(ap, const char *);
        const char *val = va_arg(ap, const char *);
        size_t j;
        for (j = 0; j < r->n_routes; j++) {
            if (r->routes[j]->key != NULL && strcmp(r->routes[j]->key, key) == 0) {
                break;
            }
        }
        if (j == r->n_routes) {
            va_end(ap);
            fail_msg("%s: router %s missing", what, key);
        }
        if (r->routes[j]->value.len != strlen(val) ||
            memcmp(r->routes[j]->value.data, val, strlen(val)) != 0) {
            va_end(ap);
            fail_msg("%s: router %s is '%.*s', expected '%s'", what, key,
                     (int)(r->routes[j]->value.len > 300 ? 300 : r->routes[j]->value.len),
                     (const char *)r->routes[j]->value.data, val);
        }
    }
    va_end(ap);
}

static void assert_fresh_unclaimed(const char *guid, int32_t idx, const char *domain, int64_t t0,
                                   int64_t t1)
{
    struct it_alrp a;
    it_assert_state(guid, idx, "UNCLAIMED", &a);
    assert_string_equal(a.domain, domain);
    assert_string_equal(a.instance_guid, "");
    assert_string_equal(a.cell_id, "");
    assert_int_equal(a.crash_count, 0);
    assert_int_equal(a.mod_index, 0);
    assert_true(it_is_uuid_v4(a.epoch));
    if (a.since < t0 || a.since > t1) {
        fail_msg("%s/%d: since %lld outside [%lld, %lld]", guid, idx, (long long)a.since,
                 (long long)t0, (long long)t1);
    }
}

/* Everything a call that must not touch a row would have changed. */
static void assert_same_row(const struct it_alrp *a, const struct it_alrp *b)
{
    assert_string_equal(a->state, b->state);
    assert_string_equal(a->instance_guid, b->instance_guid);
    assert_string_equal(a->cell_id, b->cell_id);
    assert_string_equal(a->address, b->address);
    assert_int_equal(a->crash_count, b->crash_count);
    assert_string_equal(a->crash_reason, b->crash_reason);
    assert_int_equal(a->since, b->since);
    assert_string_equal(a->epoch, b->epoch);
    assert_int_equal(a->mod_index, b->mod_index);
}

static void row(const char *guid, int32_t idx, struct it_alrp *out)
{
    if (!it_actual(guid, idx, out)) {
        fail_msg("no ordinary actual LRP %s/%d", guid, idx);
    }
}

static void assert_no_row(const char *guid, int32_t idx)
{
    struct it_alrp a;
    if (it_actual(guid, idx, &a)) {
        fail_msg("actual LRP %s/%d still exists (%s)", guid, idx, a.state);
    }
}

/* Bring (guid, idx) from UNCLAIMED to CRASHED (three start+crash cycles, 3.9). */
static void make_crashed(const char *guid, int32_t idx)
{
    struct it_alrp a;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(it_start(guid, idx, NULL, IG_A, CELL_A, ADDR_A), IT_OK);
        assert_int_equal(it_crash(guid, idx, NULL, IG_A, CELL_A, "boom"), IT_OK);
    }
    it_assert_state(guid, idx, "CRASHED", &a);
    assert_int_equal(a.crash_count, 3);
}

/* ---- auctions ----------------------------------------------------------------------------- */

static size_t auction_count(const char *guid)
{
    json_t *a = it_auction_starts(guid);
    size_t n = json_array_size(a);
    json_decref(a);
    return n;
}

/* Wait until `n` elements arrived for `guid`, then make sure no more come. */
static json_t *expect_auctions(const char *guid, size_t n)
{
    json_t *a = it_auction_wait(guid, n, it_valgrind() ? 20000 : 5000);
    if (json_array_size(a) < n) {
        fail_msg("%s: %zu auction elements, expected %zu", guid, json_array_size(a), n);
    }
    json_decref(a);
    it_sleep_ms(it_quiet_ms());
    a = it_auction_starts(guid);
    if (json_array_size(a) != n) {
        fail_msg("%s: %zu auction elements, expected exactly %zu", guid, json_array_size(a), n);
    }
    return a;
}

static const char *jstr(const json_t *el, const char *key)
{
    const json_t *v = json_object_get(el, key);
    if (!json_is_string(v)) {
        fail_msg("auction element: %s is not a string", key);
    }
    return json_string_value(v);
}

static json_int_t jint(const json_t *el, const char *key)
{
    const json_t *v = json_object_get(el, key);
    if (!json_is_integer(v)) {
        fail_msg("auction element: %s is not an integer", key);
    }
    return json_integer_value(v);
}

/* A JSON string list equal to `want` (null or [] when n is 0). */
static void assert_json_strs(const json_t *v, char *const *want, size_t n, const char *what)
{
    if (n == 0) {
        if (!json_is_null(v) && !(json_is_array(v) && json_array_size(v) == 0)) {
            fail_msg("auction element: %s should be null or empty", what);
        }
        return;
    }
    if (!json_is_array(v) || json_array_size(v) != n) {
        fail_msg("auction element: %s is not an array of %zu", what, n);
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get(v, i);
        if (!json_is_string(s) || strcmp(json_string_value(s), want[i]) != 0) {
            fail_msg("auction element: %s[%zu] is not \"%s\"", what, i, want[i]);
        }
    }
}

/* One start request (9.1) carrying exactly `lrp`'s scheduling facts and `want` indices. */
static void assert_auction_element(const json_t *el, const Models__DesiredLRP *lrp,
                                   const int32_t *want, size_t n)
{
    static const char *const keys[] = {"process_guid",  "domain",        "indices",
                                       "PlacementTags", "VolumeDrivers", "RootFs",
                                       "MemoryMB",      "DiskMB",        "MaxPids"};
    int32_t got[64];
    char *drivers[16];
    size_t ng;

    if (!json_is_object(el)) {
        fail_msg("auction element is not an object");
    }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (json_object_get(el, keys[i]) == NULL) {
            fail_msg("auction element has no \"%s\": %s", keys[i], json_dumps(el, JSON_COMPACT));
        }
    }
    if (json_object_size(el) != sizeof(keys) / sizeof(keys[0])) {
        fail_msg("auction element has extra keys: %s", json_dumps(el, JSON_COMPACT));
    }
    assert_string_equal(jstr(el, "process_guid"), lrp->process_guid);
    assert_string_equal(jstr(el, "domain"), lrp->domain);
    assert_string_equal(jstr(el, "RootFs"), lrp->root_fs);
    assert_int_equal(jint(el, "MemoryMB"), lrp->memory_mb);
    assert_int_equal(jint(el, "DiskMB"), lrp->disk_mb);
    assert_int_equal(jint(el, "MaxPids"), lrp->max_pids);
    ng = it_auction_indices(el, got, 64);
    if (ng != n) {
        fail_msg("auction element: %zu indices, expected %zu (%s)", ng, n,
                 json_dumps(el, JSON_COMPACT));
    }
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got[i], want[i]);
    }
    assert_json_strs(json_object_get(el, "PlacementTags"), lrp->placementtags, lrp->n_placementtags,
                     "PlacementTags");
    assert_true(lrp->n_volume_mounts <= 16);
    for (size_t i = 0; i < lrp->n_volume_mounts; i++) {
        drivers[i] = lrp->volume_mounts[i]->driver;
    }
    assert_json_strs(json_object_get(el, "VolumeDrivers"), drivers, lrp->n_volume_mounts,
                     "VolumeDrivers");
}

/* ---- 1. round trip of every field (2.6.1, seed 001) ------------------------------------- */

/* Every top-level field of `m` carries a non-default value (so "every field" is checked). */
static void assert_every_field_set(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;

    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *p = (const char *)m + f->offset;
        int set;

        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            set = *(const size_t *)((const char *)m + f->quantifier_offset) > 0;
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            set = *(void *const *)p != NULL;
        } else if (f->type == PROTOBUF_C_TYPE_STRING) {
            const char *s = *(char *const *)p;
            set = s != NULL && s[0] != '\0';
        } else if (f->type == PROTOBUF_C_TYPE_BOOL) {
            set = *(const protobuf_c_boolean *)p != 0;
        } else if (f->type == PROTOBUF_C_TYPE_INT64 || f->type == PROTOBUF_C_TYPE_UINT64 ||
                   f->type == PROTOBUF_C_TYPE_SINT64 || f->type == PROTOBUF_C_TYPE_SFIXED64 ||
                   f->type == PROTOBUF_C_TYPE_FIXED64 || f->type == PROTOBUF_C_TYPE_DOUBLE) {
            set = *(const uint64_t *)p != 0;
        } else {
            set = *(const uint32_t *)p != 0;
        }
        if (!set) {
            fail_msg("field %s (#%u) is not set in the full DesiredLRP", f->name, f->id);
        }
    }
    assert_int_equal(d->n_fields, 39);
}

static void test_roundtrip_every_field(void **state)
{
    char guid[64];
    char diff[1024];
    Models__DesiredLRP *sent;
    Models__DesiredLRPResponse *got;
    Models__DesiredLRPsResponse *list;
    const Models__ModificationTag *tag;
    (void)state;

    it_uniq(guid, sizeof(guid), "rt-full");
    sent = full_lrp(guid, 2);
    assert_every_field_set(&sent->base);
    desire_ok(sent);

    got = get_ok(R_GET_R3, guid);
    assert_same_msg(&sent->base, &got->desired_lrp->base, SKIP_SERVER, "get_by_process_guid.r3");
    tag = got->desired_lrp->modification_tag;
    if (tag == NULL) {
        fail_msg("no modification tag on read");
    }
    assert_true(it_is_uuid_v4(tag->epoch));
    assert_int_equal(tag->index, 0);
    assert_int_equal(got->desired_lrp->deprecated_start_timeout_s, 0); /* not stored */

    list = list_one(R_LIST_R3, guid);
    assert_same_msg(&sent->base, &list->desired_lrps[0]->base, SKIP_SERVER, "list.r3");
    if (list->desired_lrps[0]->modification_tag == NULL) {
        fail_msg("list.r3: no modification tag");
    }
    assert_same_msg(&tag->base, &list->desired_lrps[0]->modification_tag->base, NULL,
                    "list.r3 modification_tag");

    /* the comparer is not vacuous: a change deep in the monitor tree is reported */
    sent->monitor->emit_progress_action->action->timeout_action->action->try_action->action
        ->run_action->path = IT_S("/bin/other");
    assert_int_equal(
        it_pb_diff(&sent->base, &got->desired_lrp->base, SKIP_SERVER, diff, sizeof(diff)), 1);
    assert_non_null(strstr(diff, "monitor.emit_progress_action.action.timeout_action"));

    it_free(list);
    it_free(got);
}

/* ---- 2. desire (5.3, 9.1) ------------------------------------------------------------------ */

static void test_desire_creates_unclaimed_rows_and_one_auction(void **state)
{
    static const int32_t want[] = {0, 1, 2};
    char guid[64];
    Models__DesiredLRP *l;
    int64_t t0, t1;
    json_t *a;
    (void)state;

    it_uniq(guid, sizeof(guid), "desire-rows");
    l = min_lrp(guid, 3);
    l->n_placementtags = 1;
    l->placementtags = ptrs(1);
    l->placementtags[0] = IT_S("pt-a");
    l->max_pids = 64;
    t0 = it_now_ns();
    desire_ok(l);
    t1 = it_now_ns();

    assert_int_equal(it_actual_count(guid), 3);
    for (int32_t i = 0; i < 3; i++) {
        assert_fresh_unclaimed(guid, i, IT_DOMAIN, t0, t1);
    }
    assert_no_row(guid, 3);
    a = expect_auctions(guid, 1);
    assert_auction_element(json_array_get(a, 0), l, want, 3);
    assert_int_equal(it_auction_posts_for(guid), 1);
    json_decref(a);
}

static void test_desire_auction_body_full_lrp(void **state)
{
    static const int32_t want[] = {0, 1};
    char guid[64];
    Models__DesiredLRP *l;
    int64_t t0, t1;
    json_t *a;
    (void)state;

    it_uniq(guid, sizeof(guid), "desire-auction-full");
    l = full_lrp(guid, 2);
    t0 = it_now_ns();
    desire_ok(l);
    t1 = it_now_ns();
    a = expect_auctions(guid, 1);
    /* PlacementTags [example-tag, example-tag-2], VolumeDrivers [my-driver, other-driver] */
    assert_auction_element(json_array_get(a, 0), l, want, 2);
    assert_int_equal(it_auction_posts_for(guid), 1);
    json_decref(a);
    assert_int_equal(it_actual_count(guid), 2);
    assert_fresh_unclaimed(guid, 0, IT_DOMAIN, t0, t1);
    assert_fresh_unclaimed(guid, 1, IT_DOMAIN, t0, t1);
}

/* A JSON value that is exactly [] (a non-nil empty Go slice), not null. */
static void assert_empty_array(const json_t *el, const char *key)
{
    const json_t *v = json_object_get(el, key);

    if (!json_is_array(v) || json_array_size(v) != 0) {
        fail_msg("auction element: %s should be [], got %s", key, json_dumps(el, JSON_COMPACT));
    }
}

/*
 * 9.1: desire and scale-up build the request from the desired LRP as
 * received, so an LRP without volume mounts sends "VolumeDrivers": [];
 * a crash restart builds it from the stored scheduling info: null.
 */
static void test_auction_volume_drivers_empty_on_desire_and_scale_up_null_on_crash(void **state)
{
    char guid[64];
    struct upd u;
    json_t *a;
    (void)state;

    it_uniq(guid, sizeof(guid), "auction-vd");
    desire_ok(min_lrp(guid, 1));
    a = expect_auctions(guid, 1);
    assert_empty_array(json_array_get(a, 0), "VolumeDrivers");
    json_decref(a);

    upd_init(&u, guid);
    upd_instances(&u, 2);
    upd_ok(&u);
    a = expect_auctions(guid, 2);
    assert_empty_array(json_array_get(a, 1), "VolumeDrivers");
    json_decref(a);

    assert_int_equal(it_start(guid, 0, NULL, IG_A, CELL_A, ADDR_A), IT_OK);
    assert_int_equal(it_crash(guid, 0, NULL, IG_A, CELL_A, "boom"), IT_OK);
    a = expect_auctions(guid, 3);
    if (!json_is_null(json_object_get(json_array_get(a, 2), "VolumeDrivers"))) {
        fail_msg("crash restart: VolumeDrivers should be null: %s",
                 json_dumps(json_array_get(a, 2), JSON_COMPACT));
    }
    json_decref(a);
}

/* 9.1: a desire whose indices all had rows already still sends its one element, "indices": []. */
static void test_desire_all_indices_exist_sends_empty_indices(void **state)
{
    char guid[64];
    Models__DesiredLRP *l;
    json_t *a;
    (void)state;

    it_uniq(guid, sizeof(guid), "desire-all-exist");
    assert_int_equal(it_start(guid, 0, NULL, IG_A, CELL_A, ADDR_A), IT_OK);
    assert_int_equal(it_start(guid, 1, NULL, IG_B, CELL_B, ADDR_B), IT_OK);
    l = min_lrp(guid, 2);
    desire_ok(l);
    assert_int_equal(it_actual_count(guid), 2);
    a = expect_auctions(guid, 1);
    assert_auction_element(json_array_get(a, 0), l, NULL, 0);
    assert_empty_array(json_array_get(a, 0), "indices");
    assert_int_equal(it_auction_posts_for(guid), 1);
    json_decref(a);
}

static void test_desire_zero_instances_no_rows_no_auction(void **state)
{
    char guid[64];
    Models__DesiredLRPResponse *r;
    (void)state;

    it_uniq(guid, sizeof(guid), "desire-zero");
    desire_ok(min_lrp(guid, 0));
    r = get_ok(R_GET_R3, guid);
    assert_int_equal(r->desired_lrp->instances, 0);
    it_free(r);
    assert_int_equal(it_actual_count(guid), 0);
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(auction_count(guid), 0);
    assert_int_equal(it_auction_posts_for(guid), 0);
}

static void test_desire_existing_guid_resource_exists(void **state)
{
    char guid[64];
    Models__DesiredLRP *l, *again;
    Models__DesiredLRPResponse *before, *after;
    struct it_alrp r0, r1, x;
    void *resp;
    (void)state;

    it_uniq(guid, sizeof(guid), "desire-again");
    l = min_lrp(guid, 2);
    l->annotation = IT_S("first");
    desire_ok(l);
    json_decref(expect_auctions(guid, 1));
    before = get_ok(R_GET_R3, guid);
    row(guid, 0, &r0);
    row(guid, 1, &r1);

    again = min_lrp(guid, 5);
    again->annotation = IT_S("second");
    again->memory_mb = 999;
    resp = desire_call(again);
    assert_int_equal(it_err_type(resp), E(ResourceExists));
    assert_string_equal(it_err_msg(resp), IT_MSG_EXISTS);
    it_free(resp);

    after = get_ok(R_GET_R3, guid);
    assert_same_msg(&before->desired_lrp->base, &after->desired_lrp->base, NULL,
                    "the desired LRP after a refused re-desire");
    assert_string_equal(after->desired_lrp->annotation, "first");
    assert_int_equal(after->desired_lrp->instances, 2);
    assert_int_equal(it_actual_count(guid), 2);
    row(guid, 0, &x);
    assert_same_row(&r0, &x);
    row(guid, 1, &x);
    assert_same_row(&r1, &x);
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(auction_count(guid), 1);
    it_free(before);
    it_free(after);
}

static void test_desire_after_start_keeps_running_row(void **state)
{
    static const int32_t want[] = {1, 2};
    char guid[64];
    struct it_alrp before, after;
    Models__DesiredLRP *l;
    int64_t t0, t1;
    json_t *a;
    (void)state;

    it_uniq(guid, sizeof(guid), "desire-after-start");
    assert_int_equal(it_start(guid, 0, NULL, IG_B, CELL_B, ADDR_B), IT_OK);
    it_assert_state(guid, 0, "RUNNING", &before);

    l = min_lrp(guid, 3);
    t0 = it_now_ns();
    desire_ok(l);
    t1 = it_now_ns();

    it_assert_state(guid, 0, "RUNNING", &after);
    assert_same_row(&before, &after);
    assert_fresh_unclaimed(guid, 1, IT_DOMAIN, t0, t1);
    assert_fresh_unclaimed(guid, 2, IT_DOMAIN, t0, t1);
    assert_int_equal(it_actual_count(guid), 3);
    a = expect_auctions(guid, 1);
    assert_auction_element(json_array_get(a, 0), l, want, 2);
    json_decref(a);
}

static void test_desire_ignores_client_modification_tag(void **state)
{
    char guid[64], epoch[64];
    Models__DesiredLRP *l;
    Models__ModificationTag *mt =
        NEW(Models__ModificationTag, models__modification_tag__descriptor);
    (void)state;

    it_uniq(guid, sizeof(guid), "desire-tag");
    l = min_lrp(guid, 0);
    mt->epoch = IT_S("client-epoch");
    mt->index = 7;
    l->modification_tag = mt;
    desire_ok(l);
    assert_int_equal(mod_tag(guid, epoch), 0);
    assert_true(it_is_uuid_v4(epoch));
    assert_string_not_equal(epoch, "client-epoch");
}

/* ---- 3. validation (5.1) ---------------------------------------------------------------- */

struct vcase {
    const char *name;
    void (*mutate)(Models__DesiredLRP *l);
    const char *message;
};

static void m_empty_domain(Models__DesiredLRP *l)
{
    l->domain = IT_S("");
}

static void m_log_rate_minus2(Models__DesiredLRP *l)
{
    l->log_rate_limit = NEW(Models__LogRateLimit, models__log_rate_limit__descriptor);
    l->log_rate_limit->bytes_per_second = -2;
}

static void m_cpu_weight_101(Models__DesiredLRP *l)
{
    l->cpu_weight = 101;
}

static void m_no_metric_tags(Models__DesiredLRP *l)
{
    l->n_metric_tags = 0;
}

static void m_bad_guid_chars(Models__DesiredLRP *l)
{
    char buf[300];
    snprintf(buf, sizeof(buf), "%s/bad guid!", l->process_guid);
    l->process_guid = bstr(buf);
}

static void m_negative_instances(Models__DesiredLRP *l)
{
    l->instances = -1;
}

static void m_negative_memory(Models__DesiredLRP *l)
{
    l->memory_mb = -1;
}

static void m_rootfs_no_scheme(Models__DesiredLRP *l)
{
    l->root_fs = IT_S("cflinuxfs4");
}

static void m_missing_action(Models__DesiredLRP *l)
{
    l->action = NULL;
}

static void m_empty_action(Models__DesiredLRP *l)
{
    l->action = wrap();
}

static void m_timeout_empty_child(Models__DesiredLRP *l)
{
    l->action = a_timeout(wrap(), 1000);
}

static void m_timeout_zero(Models__DesiredLRP *l)
{
    l->action = a_timeout(a_run("/bin/app", "vcap"), 0);
}

static void m_try_empty_child(Models__DesiredLRP *l)
{
    l->action = a_try(wrap());
}

static void m_emit_empty_child(Models__DesiredLRP *l)
{
    l->action = a_emit(wrap());
}

static void m_parallel_empty_child(Models__DesiredLRP *l)
{
    l->action = a_list(K_PARALLEL, NULL, 1, wrap());
}

static void m_serial_empty_child(Models__DesiredLRP *l)
{
    l->action = a_list(K_SERIAL, NULL, 2, a_run("/bin/a", "vcap"), wrap());
}

static void m_codependent_empty_child(Models__DesiredLRP *l)
{
    l->action = a_list(K_CODEPENDENT, NULL, 1, wrap());
}

static void m_setup_empty_child(Models__DesiredLRP *l)
{
    l->setup = a_list(K_SERIAL, NULL, 1, wrap());
}

static void m_monitor_empty_child(Models__DesiredLRP *l)
{
    l->monitor = a_try(wrap());
}

static void m_image_user_only(Models__DesiredLRP *l)
{
    l->image_username = IT_S("user");
}

static void m_image_password_only(Models__DesiredLRP *l)
{
    l->image_password = IT_S("secret");
}

static void m_tag_value_invalid(Models__DesiredLRP *l)
{
    Models__DesiredLRP__MetricTagsEntry **tags = ptrs(2);
    tags[0] = l->metric_tags[0];
    tags[1] = tag_entry("bad", "", DYN_NONE);
    l->n_metric_tags = 2;
    l->metric_tags = tags;
}

static void m_metrics_guid_mismatch(Models__DesiredLRP *l)
{
    l->metrics_guid = IT_S("some-other-metrics-guid");
}

static void m_env_blank_name(Models__DesiredLRP *l)
{
    l->n_environment_variables = 1;
    l->environment_variables = ptrs(1);
    l->environment_variables[0] = env_var("", "value");
}

static void m_annotation_too_long(Models__DesiredLRP *l)
{
    l->annotation = brepeat('a', 10241);
}

static void m_routes_too_long(Models__DesiredLRP *l)
{
    char *big = brepeat('a', 131073); /* a JSON string of 131 073 bytes */
    big[0] = '"';
    big[131072] = '"';
    l->routes = routes_of(1, "cf-router", big);
}

static void m_sidecar_no_action(Models__DesiredLRP *l)
{
    Models__Sidecar *sc = NEW(Models__Sidecar, models__sidecar__descriptor);
    sc->memory_mb = 16;
    l->n_sidecars = 1;
    l->sidecars = ptrs(1);
    l->sidecars[0] = sc;
}

static void m_exclusive_no_user(Models__DesiredLRP *l)
{
    l->n_image_layers = 1;
    l->image_layers = ptrs(1);
    l->image_layers[0] =
        layer("e", "https://l/e.tgz", "/e", L_EXCLUSIVE, M_TGZ, D_SHA256, "0123456789abcdef");
}

static void m_check_port_zero(Models__DesiredLRP *l)
{
    Models__CheckDefinition *cd =
        NEW(Models__CheckDefinition, models__check_definition__descriptor);
    cd->n_checks = 1;
    cd->checks = ptrs(1);
    cd->checks[0] = chk_tcp(0, 100, 500);
    l->check_definition = cd;
}

static void m_egress_bad_protocol(Models__DesiredLRP *l)
{
    l->n_egress_rules = 1;
    l->egress_rules = ptrs(1);
    l->egress_rules[0] = rule("sctp", "1.2.3.4");
}

#define INNER(top) "Invalid field: " top ", Invalid field: inner-action"

static const struct vcase vcases[] = {
    {"validation_empty_domain", m_empty_domain, "Invalid field: domain, Invalid field: domain"},
    {"validation_log_rate_limit_minus_2", m_log_rate_minus2,
     "Invalid field: log_rate_limit_bytes_per_second, Invalid field: log_rate_limit"},
    {"validation_cpu_weight_101", m_cpu_weight_101, "Invalid field: cpu_weight"},
    {"validation_missing_metric_tags", m_no_metric_tags, "Invalid field: metric_tags"},
    {"validation_process_guid_bad_chars", m_bad_guid_chars, "Invalid field: process_guid"},
    {"validation_negative_instances", m_negative_instances, "Invalid field: instances"},
    {"validation_negative_memory", m_negative_memory, "Invalid field: memory_mb"},
    {"validation_rootfs_without_scheme", m_rootfs_no_scheme, "Invalid field: rootfs"},
    {"validation_missing_action", m_missing_action, "invalid action type"},
    {"validation_empty_action_wrapper", m_empty_action, INNER("action")},
    {"validation_q11_timeout_empty_child", m_timeout_empty_child, INNER("action")},
    {"validation_q11_try_empty_child", m_try_empty_child, INNER("action")},
    {"validation_q11_emit_progress_empty_child", m_emit_empty_child, INNER("action")},
    {"validation_q11_parallel_empty_child", m_parallel_empty_child, INNER("action")},
    {"validation_q11_serial_empty_child", m_serial_empty_child, INNER("action")},
    {"validation_q11_codependent_empty_child", m_codependent_empty_child, INNER("action")},
    {"validation_q11_setup_empty_child", m_setup_empty_child, INNER("setup")},
    {"validation_q11_monitor_empty_child", m_monitor_empty_child, INNER("monitor")},
    {"validation_timeout_ms_zero", m_timeout_zero,
     "Invalid field: action, Invalid field: timeout_ms"},
    {"validation_image_username_without_password", m_image_user_only,
     "Invalid field: image_password"},
    {"validation_image_password_without_username", m_image_password_only,
     "Invalid field: image_username"},
    {"validation_metric_tag_value_invalid", m_tag_value_invalid,
     "Invalid field: metric_tags, Invalid field: static, Invalid field: dynamic"},
    {"validation_metrics_guid_mismatch", m_metrics_guid_mismatch,
     "Invalid field: metric_tags, Invalid field: source_id should match metrics_guid"},
    {"validation_env_blank_name", m_env_blank_name, "invalid field: name cannot be blank"},
    {"validation_annotation_10241_bytes", m_annotation_too_long, "Invalid field: annotation"},
    {"validation_routes_over_131072_bytes", m_routes_too_long, "Invalid field: routes"},
    {"validation_sidecar_without_action", m_sidecar_no_action,
     "Invalid field: sidecars, invalid action type"},
    {"validation_exclusive_layer_without_download_user", m_exclusive_no_user,
     "Invalid field: legacy_download_user"},
    {"validation_check_port_zero", m_check_port_zero,
     "Invalid field: check_definition, Invalid field: port"},
    {"validation_egress_bad_protocol", m_egress_bad_protocol,
     "Invalid field: egress_rules, Invalid field: protocol"},
};

static void test_validation_case(void **state)
{
    const struct vcase *c = *state;
    char guid[64];
    Models__DesiredLRP *l;
    void *resp;

    it_uniq(guid, sizeof(guid), "val");
    l = min_lrp(guid, 2);
    c->mutate(l);
    resp = desire_call(l); /* an answer, never a dropped connection (quirk 11) */
    it_assert_invalid(resp, c->message);
    it_free(resp);
    assert_not_stored(l->process_guid);
    assert_int_equal(it_actual_count(l->process_guid), 0);
    assert_int_equal(auction_count(l->process_guid), 0);
}

static void test_validation_missing_desired_lrp(void **state)
{
    size_t before = total_lrps();
    void *resp;
    (void)state;

    resp = it_call(R_DESIRE, NULL, LIFECYCLE); /* empty body: no field 1 */
    it_assert_invalid(resp, "Invalid field: desired_lrp");
    it_free(resp);
    assert_int_equal(total_lrps(), before);
}

static void test_validation_empty_desired_lrp(void **state)
{
    Models__DesiredLRP empty = MODELS__DESIRED_LRP__INIT;
    size_t before = total_lrps();
    void *resp;
    (void)state;

    resp = desire_call(&empty);
    it_assert_invalid(resp, "Invalid field: domain, Invalid field: rootfs, Invalid field: rootfs, "
                            "Invalid field: metric_tags, Invalid field: domain, Invalid field: "
                            "process_guid, invalid action type");
    it_free(resp);
    assert_int_equal(total_lrps(), before);
}

static void test_validation_oversized_process_guid(void **state)
{
    char prefix[64];
    char *big = brepeat('g', 300);
    Models__DesiredLRP *l;
    void *resp;
    (void)state;

    it_uniq(prefix, sizeof(prefix), "big");
    memcpy(big, prefix, strlen(prefix));
    l = min_lrp(prefix, 1);
    l->process_guid = big;
    resp = desire_call(l);
    it_assert_invalid(resp, IT_MSG_INVALID); /* PG 22001 value too long (5.1, 6.5) */
    it_free(resp);
    assert_not_stored(big);
    assert_int_equal(it_actual_count(big), 0);
}

static void test_validation_boundaries_accepted(void **state)
{
    char guid[64];
    char *big = brepeat('a', 131072);
    Models__DesiredLRP *l;
    Models__DesiredLRPResponse *r;
    (void)state;

    it_uniq(guid, sizeof(guid), "val-ok");
    l = min_lrp(guid, 0);
    l->cpu_weight = 100;
    l->annotation = brepeat('n', 10240);
    l->log_rate_limit = NEW(Models__LogRateLimit, models__log_rate_limit__descriptor);
    l->log_rate_limit->bytes_per_second = -1;
    big[0] = '"';
    big[131071] = '"';
    l->routes = routes_of(1, "big-router", big);
    desire_ok(l);
    r = get_ok(R_GET_R3, guid);
    assert_int_equal(r->desired_lrp->cpu_weight, 100);
    assert_int_equal(strlen(r->desired_lrp->annotation), 10240);
    assert_non_null(r->desired_lrp->log_rate_limit);
    assert_int_equal(r->desired_lrp->log_rate_limit->bytes_per_second, -1);
    assert_routes(r->desired_lrp->routes, "get.r3", 1, "big-router", big);
    it_free(r);
}

static void test_validation_reported_before_route_json(void **state)
{
    char guid[64];
    Models__DesiredLRP *l;
    void *resp;
    (void)state;

    it_uniq(guid, sizeof(guid), "val-order");
    l = min_lrp(guid, 1);
    l->domain = IT_S("");
    l->routes = routes_of(1, "cf-router", "{");
    resp = desire_call(l);
    it_assert_invalid(resp, "Invalid field: domain, Invalid field: domain");
    it_free(resp);
    assert_not_stored(guid);
}

/* ---- 4. routes JSON (2.6.3, quirk 16) ------------------------------------------------------ */

#define RW_IN_1  "[ { \"hostnames\" : [ \"a.example.com\" ] , \"port\" : 8080 } ]"
#define RW_OUT_1 "[{\"hostnames\":[\"a.example.com\"],\"port\":8080}]"
#define RW_IN_2  " 42 "
#define RW_OUT_2 "42"
#define RW_IN_3  "{\"x\": \"<b>&amp;</b>\"}"
#define RW_OUT_3 "{\"x\":\"\\u003cb\\u003e\\u0026amp;\\u003c/b\\u003e\"}"
/* key order, duplicate keys, number spelling and existing escapes are kept */
#define RW_IN_4  "{ \"b\" : 1, \"a\": 2, \"a\" :3.50 , \"e\":1E3, \"u\":\"\\u00e9\\n\\u003c\" }"
#define RW_OUT_4 "{\"b\":1,\"a\":2,\"a\":3.50,\"e\":1E3,\"u\":\"\\u00e9\\n\\u003c\"}"
/* raw U+2028 / U+2029 inside a string come back escaped */
#define RW_IN_5                                                                                    \
    "[\"a\xe2\x80\xa8"                                                                             \
    "b\xe2\x80\xa9\"]"
#define RW_OUT_5 "[\"a\\u2028b\\u2029\"]"

#define ASSERT_REWRITTEN(r, what)                                                                  \
    assert_routes((r), (what), 5, "r1", RW_OUT_1, "r2", RW_OUT_2, "r3", RW_OUT_3, "r4", RW_OUT_4,  \
                  "r5", RW_OUT_5)

static void test_routes_rewriting_examples(void **state)
{
    char guid[64];
    const char *const pgs[2] = {guid, NULL};
    Models__DesiredLRP *l;
    Models__DesiredLRPResponse *g;
    Models__DesiredLRPsResponse *list;
    Models__DesiredLRPSchedulingInfoByProcessGuidResponse *s;
    Models__DesiredLRPSchedulingInfosResponse *sl;
    (void)state;

    it_uniq(guid, sizeof(guid), "routes-rw");
    l = min_lrp(guid, 0);
    l->routes =
        routes_of(5, "r1", RW_IN_1, "r2", RW_IN_2, "r3", RW_IN_3, "r4", RW_IN_4, "r5", RW_IN_5);
    desire_ok(l);

    g = get_ok(R_GET_R3, guid);
    ASSERT_REWRITTEN(g->desired_lrp->routes, "get_by_process_guid.r3");
    it_free(g);
    g = get_ok(R_GET_R2, guid);
    ASSERT_REWRITTEN(g->desired_lrp->routes, "get_by_process_guid.r2");
    it_free(g);
    list = list_one(R_LIST_R3, guid);
    ASSERT_REWRITTEN(list->desired_lrps[0]->routes, "list.r3");
    it_free(list);
    s = sched_get_ok(guid);
    ASSERT_REWRITTEN(s->desired_lrp_scheduling_info->routes, "scheduling info get");
    it_free(s);
    sl = list_call(R_SCHED_LIST, NULL, pgs, NULL);
    assert_int_equal(sl->n_desired_lrp_scheduling_infos, 1);
    ASSERT_REWRITTEN(sl->desired_lrp_scheduling_infos[0]->routes, "scheduling info list");
    it_free(sl);
    list = list_one(R_ROUTING, guid);
    ASSERT_REWRITTEN(list->desired_lrps[0]->routes, "routing info list");
    it_free(list);
}

static void test_routes_invalid_json_nothing_stored(void **state)
{
    static const char *const bad[] = {"{", "", "[1,]", "[1] x", "nul"};
    enum { N = sizeof(bad) / sizeof(bad[0]) };
    char guids[N][64];
    (void)state;

    for (size_t i = 0; i < N; i++) {
        Models__DesiredLRP *l;
        void *resp;

        it_uniq(guids[i], sizeof(guids[i]), "routes-bad");
        l = min_lrp(guids[i], 2);
        l->routes = routes_of(2, "cf-router", ROUTE_CF, "bad-router", bad[i]);
        resp = desire_call(l);
        if (it_err_type(resp) != E(InvalidRequest)) {
            fail_msg("route value '%s': error %d \"%s\", expected InvalidRequest", bad[i],
                     it_err_type(resp), it_err_msg(resp));
        }
        assert_string_equal(it_err_msg(resp), IT_MSG_INVALID);
        it_free(resp);
        assert_not_stored(guids[i]);
        assert_int_equal(it_actual_count(guids[i]), 0);
    }
    it_sleep_ms(it_quiet_ms());
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(auction_count(guids[i]), 0);
    }
}

static void test_routes_absent_read_as_present_empty(void **state)
{
    char guid[64];
    const char *const pgs[2] = {guid, NULL};
    Models__DesiredLRPResponse *g;
    Models__DesiredLRPsResponse *list;
    Models__DesiredLRPSchedulingInfoByProcessGuidResponse *s;
    Models__DesiredLRPSchedulingInfosResponse *sl;
    (void)state;

    it_uniq(guid, sizeof(guid), "routes-none");
    desire_ok(min_lrp(guid, 0)); /* no field 15 */

    g = get_ok(R_GET_R3, guid);
    assert_routes(g->desired_lrp->routes, "get_by_process_guid.r3", 0);
    it_free(g);
    g = get_ok(R_GET_R2, guid);
    assert_routes(g->desired_lrp->routes, "get_by_process_guid.r2", 0);
    it_free(g);
    list = list_one(R_LIST_R3, guid);
    assert_routes(list->desired_lrps[0]->routes, "list.r3", 0);
    it_free(list);
    s = sched_get_ok(guid);
    assert_routes(s->desired_lrp_scheduling_info->routes, "scheduling info get", 0);
    it_free(s);
    sl = list_call(R_SCHED_LIST, NULL, pgs, NULL);
    assert_int_equal(sl->n_desired_lrp_scheduling_infos, 1);
    assert_routes(sl->desired_lrp_scheduling_infos[0]->routes, "scheduling info list", 0);
    it_free(sl);
    list = list_one(R_ROUTING, guid);
    assert_routes(list->desired_lrps[0]->routes, "routing info list", 0);
    it_free(list);
}

/* ---- 5. update (5.2, 5.4) ------------------------------------------------------------------ */

static const char *const SKIP_TAG[] = {"modification_tag", NULL};

static void test_update_missing_guid_not_found(void **state)
{
    char guid[64];
    struct upd u;
    void *r;
    (void)state;

    it_uniq(guid, sizeof(guid), "upd-missing");
    upd_init(&u, guid);
    upd_instances(&u, 3);
    r = upd_call(&u);
    assert_not_found_resp(r, "update of a missing guid");
    it_free(r);

    upd_init(&u, guid); /* an empty update */
    r = upd_call(&u);
    assert_not_found_resp(r, "empty update of a missing guid");
    it_free(r);

    upd_init(&u, guid);
    upd_annotation(&u, "x");
    u.up.routes = routes_of(1, "cf-router", ROUTE_CF);
    r = upd_call(&u);
    assert_not_found_resp(r, "annotation+routes update of a missing guid");
    it_free(r);

    assert_not_stored(guid);
    assert_int_equal(it_actual_count(guid), 0);
}

static void test_update_tag_index_every_update(void **state)
{
    char guid[64], epoch0[64], epoch[64];
    Models__DesiredLRPResponse *before, *after;
    struct it_alrp r0, x;
    struct upd u;
    (void)state;

    it_uniq(guid, sizeof(guid), "upd-tag");
    desire_ok(min_lrp(guid, 1));
    json_decref(expect_auctions(guid, 1));
    assert_int_equal(mod_tag(guid, epoch0), 0);
    before = get_ok(R_GET_R3, guid);
    row(guid, 0, &r0);

    upd_init(&u, guid); /* sets nothing */
    upd_ok(&u);
    assert_int_equal(mod_tag(guid, epoch), 1);
    assert_string_equal(epoch, epoch0);
    after = get_ok(R_GET_R3, guid);
    assert_same_msg(&before->desired_lrp->base, &after->desired_lrp->base, SKIP_TAG,
                    "LRP after an empty update");
    it_free(after);

    upd_init(&u, guid);
    upd_annotation(&u, "a1");
    upd_ok(&u);
    assert_int_equal(mod_tag(guid, epoch), 2);

    upd_init(&u, guid);
    upd_instances(&u, 1); /* same count: only the tag moves */
    upd_ok(&u);
    assert_int_equal(mod_tag(guid, epoch), 3);
    assert_int_equal(it_actual_count(guid), 1);
    row(guid, 0, &x);
    assert_same_row(&r0, &x);

    upd_init(&u, guid);
    u.up.routes = routes_of(1, "cf-router", ROUTE_CF);
    upd_ok(&u);
    assert_int_equal(mod_tag(guid, epoch), 4);

    upd_init(&u, guid);
    u.up.n_metric_tags = 1;
    u.up.metric_tags = ptrs(1);
    u.up.metric_tags[0] = utag_entry("source_id", guid, DYN_NONE);
    upd_ok(&u);
    assert_int_equal(mod_tag(guid, epoch), 5);
    assert_string_equal(epoch, epoch0);
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(auction_count(guid), 1);
    it_free(before);
}

static void test_update_annotation_empty_and_back(void **state)
{
    char guid[64];
    Models__DesiredLRP *l;
    Models__DesiredLRPResponse *r;
    struct upd u;
    (void)state;

    it_uniq(guid, sizeof(guid), "upd-annotation");
    l = min_lrp(guid, 0);
    l->annotation = IT_S("start");
    desire_ok(l);

    upd_init(&u, guid);
    upd_annotation(&u, ""); /* set to "" (oneof present) */
    upd_ok(&u);
    r = get_ok(R_GET_R3, guid);
    assert_string_equal(r->desired_lrp->annotation, "");
    it_free(r);

    upd_init(&u, guid);
    upd_annotation(&u, "back");
    upd_ok(&u);
    r = get_ok(R_GET_R3, guid);
    assert_string_equal(r->desired_lrp->annotation, "back");
    it_free(r);

    upd_init(&u, guid); /* oneof unset: unchanged */
    upd_instances(&u, 0);
    upd_ok(&u);
    r = get_ok(R_GET_R3, guid);
    assert_string_equal(r->desired_lrp->annotation, "back");
    assert_int_equal(r->desired_lrp->modification_tag->index, 3);
    it_free(r);
}

static void test_update_scale_up_3_to_5(void **state)
{
    static const int32_t want[] = {3, 4};
    char guid[64];
    Models__DesiredLRP *l;
    Models__DesiredLRPResponse *r;
    struct it_alrp before[3], x;
    struct upd u;
    int64_t t0, t1;
    json_t *a;
    (void)state;

    it_uniq(guid, sizeof(guid), "upd-up");
    l = min_lrp(guid, 3);
    l->n_placementtags = 1;
    l->placementtags = ptrs(1);
    l->placementtags[0] = IT_S("up-tag");
    l->max_pids = 100;
    desire_ok(l);
    json_decref(expect_auctions(guid, 1));
    for (int32_t i = 0; i < 3; i++) {
        row(guid, i, &before[i]);
    }

    upd_init(&u, guid);
    upd_instances(&u, 5);
    t0 = it_now_ns();
    upd_ok(&u);
    t1 = it_now_ns();

    r = get_ok(R_GET_R3, guid);
    assert_int_equal(r->desired_lrp->instances, 5);
    it_free(r);
    for (int32_t i = 0; i < 3; i++) {
        row(guid, i, &x);
        assert_same_row(&before[i], &x);
    }
    assert_fresh_unclaimed(guid, 3, IT_DOMAIN, t0, t1);
    assert_fresh_unclaimed(guid, 4, IT_DOMAIN, t0, t1);
    assert_int_equal(it_actual_count(guid), 5);
    a = expect_auctions(guid, 2);
    assert_auction_element(json_array_get(a, 1), l, want, 2);
    assert_int_equal(it_auction_posts_for(guid), 2);
    json_decref(a);
}

static void test_update_scale_down_5_to_2(void **state)
{
    char guid[64];
    Models__DesiredLRPResponse *r;
    struct it_alrp r0, r1, x;
    struct upd u;
    (void)state;

    it_uniq(guid, sizeof(guid), "upd-down");
    desire_ok(min_lrp(guid, 5));
    json_decref(expect_auctions(guid, 1));
    row(guid, 0, &r0);
    row(guid, 1, &r1);

    upd_init(&u, guid);
    upd_instances(&u, 2);
    upd_ok(&u);

    r = get_ok(R_GET_R3, guid);
    assert_int_equal(r->desired_lrp->instances, 2);
    it_free(r);
    row(guid, 0, &x);
    assert_same_row(&r0, &x);
    row(guid, 1, &x);
    assert_same_row(&r1, &x);
    assert_no_row(guid, 2);
    assert_no_row(guid, 3);
    assert_no_row(guid, 4);
    assert_int_equal(it_actual_count(guid), 2);
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(auction_count(guid), 1);
}

static void test_update_scale_down_leaves_claimed_and_running(void **state)
{
    char guid[64];
    struct it_alrp keep_rows[4], x;
    static const int32_t kept[] = {0, 1, 3, 4};
    struct upd u;
    (void)state;

    it_uniq(guid, sizeof(guid), "upd-down-busy");
    desire_ok(min_lrp(guid, 6));
    json_decref(expect_auctions(guid, 1));
    assert_int_equal(it_claim(guid, 3, IG_A, CELL_A), IT_OK);
    assert_int_equal(it_start(guid, 4, NULL, IG_B, CELL_B, ADDR_B), IT_OK);
    make_crashed(guid, 5); /* two immediate restarts: two more auctions */
    json_decref(expect_auctions(guid, 3));
    for (size_t i = 0; i < 4; i++) {
        row(guid, kept[i], &keep_rows[i]);
    }
    assert_string_equal(keep_rows[2].state, "CLAIMED");
    assert_string_equal(keep_rows[3].state, "RUNNING");

    upd_init(&u, guid);
    upd_instances(&u, 2);
    upd_ok(&u);

    assert_no_row(guid, 2); /* UNCLAIMED: deleted */
    assert_no_row(guid, 5); /* CRASHED: deleted */
    for (size_t i = 0; i < 4; i++) {
        row(guid, kept[i], &x); /* CLAIMED / RUNNING on unknown cells: untouched (quirk 26) */
        assert_same_row(&keep_rows[i], &x);
    }
    assert_int_equal(it_actual_count(guid), 4);
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(auction_count(guid), 3);
}

static void test_update_routes_replace_clear_keep(void **state)
{
    char guid[64];
    Models__DesiredLRP *l;
    Models__DesiredLRPResponse *r;
    Models__DesiredLRPSchedulingInfoByProcessGuidResponse *s;
    struct upd u;
    (void)state;

    it_uniq(guid, sizeof(guid), "upd-routes");
    l = min_lrp(guid, 0);
    l->routes = routes_of(1, "cf-router", ROUTE_CF);
    desire_ok(l);

    upd_init(&u, guid); /* replace the whole map (values rewritten as on desire) */
    u.up.routes = routes_of(2, "tcp-router", ROUTE_TCP, "other-router", RW_IN_1);
    upd_ok(&u);
    r = get_ok(R_GET_R3, guid);
    assert_routes(r->desired_lrp->routes, "after replace", 2, "tcp-router", ROUTE_TCP,
                  "other-router", RW_OUT_1);
    it_free(r);

    upd_init(&u, guid); /* routes absent: unchanged */
    upd_annotation(&u, "no routes here");
    upd_ok(&u);
    r = get_ok(R_GET_R3, guid);
    assert_routes(r->desired_lrp->routes, "after an update without routes", 2, "tcp-router",
                  ROUTE_TCP, "other-router", RW_OUT_1);
    it_free(r);
    s = sched_get_ok(guid);
    assert_routes(s->desired_lrp_scheduling_info->routes, "scheduling info", 2, "tcp-router",
                  ROUTE_TCP, "other-router", RW_OUT_1);
    it_free(s);

    upd_init(&u, guid); /* present but empty: cleared */
    u.up.routes = routes_of(0);
    upd_ok(&u);
    r = get_ok(R_GET_R3, guid);
    assert_routes(r->desired_lrp->routes, "after clearing", 0);
    assert_int_equal(r->desired_lrp->modification_tag->index, 3);
    it_free(r);
    s = sched_get_ok(guid);
    assert_routes(s->desired_lrp_scheduling_info->routes, "scheduling info after clearing", 0);
    it_free(s);
}

static void test_update_invalid_route_json_changes_nothing(void **state)
{
    static const char *const bad[] = {"{", ""};
    char guid[64];
    Models__DesiredLRP *l;
    Models__DesiredLRPResponse *before, *after;
    struct it_alrp r0, r1, x;
    (void)state;

    it_uniq(guid, sizeof(guid), "upd-routes-bad");
    l = min_lrp(guid, 2);
    l->annotation = IT_S("orig");
    l->routes = routes_of(1, "cf-router", ROUTE_CF);
    desire_ok(l);
    json_decref(expect_auctions(guid, 1));
    before = get_ok(R_GET_R3, guid);
    row(guid, 0, &r0);
    row(guid, 1, &r1);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct upd u;
        void *resp;

        upd_init(&u, guid);
        upd_instances(&u, 4);
        upd_annotation(&u, "changed");
        u.up.routes = routes_of(2, "cf-router", ROUTE_TCP, "bad-router", bad[i]);
        u.up.n_metric_tags = 1;
        u.up.metric_tags = ptrs(1);
        u.up.metric_tags[0] = utag_entry("x", "y", DYN_NONE);
        resp = upd_call(&u);
        it_assert_invalid(resp, IT_MSG_INVALID);
        it_free(resp);

        after = get_ok(R_GET_R3, guid); /* not even the tag index moved */
        assert_same_msg(&before->desired_lrp->base, &after->desired_lrp->base, NULL,
                        "LRP after an update with invalid route JSON");
        it_free(after);
    }
    assert_int_equal(it_actual_count(guid), 2);
    row(guid, 0, &x);
    assert_same_row(&r0, &x);
    row(guid, 1, &x);
    assert_same_row(&r1, &x);
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(auction_count(guid), 1);
    it_free(before);
}

static void test_update_metric_tags_replace_or_keep(void **state)
{
    char guid[64], epoch[64];
    Models__DesiredLRPResponse *r;
    struct upd u;
    void *resp;
    (void)state;

    it_uniq(guid, sizeof(guid), "upd-tags");
    desire_ok(min_lrp(guid, 0));

    upd_init(&u, guid);
    u.up.n_metric_tags = 2;
    u.up.metric_tags = ptrs(2);
    u.up.metric_tags[0] = utag_entry("source_id", "new-src", DYN_NONE);
    u.up.metric_tags[1] = utag_entry("idx", NULL, DYN_INDEX);
    upd_ok(&u);
    r = get_ok(R_GET_R3, guid);
    assert_int_equal(r->desired_lrp->n_metric_tags, 2);
    assert_tag(r->desired_lrp, "source_id", "new-src", DYN_NONE);
    assert_tag(r->desired_lrp, "idx", "", DYN_INDEX);
    it_free(r);

    upd_init(&u, guid); /* no tags: unchanged (cannot clear) */
    upd_annotation(&u, "tags stay");
    upd_ok(&u);
    r = get_ok(R_GET_R3, guid);
    assert_int_equal(r->desired_lrp->n_metric_tags, 2);
    assert_tag(r->desired_lrp, "source_id", "new-src", DYN_NONE);
    assert_tag(r->desired_lrp, "idx", "", DYN_INDEX);
    it_free(r);

    upd_init(&u, guid); /* an invalid value: refused, nothing changes */
    u.up.n_metric_tags = 1;
    u.up.metric_tags = ptrs(1);
    u.up.metric_tags[0] = utag_entry("bad", "", DYN_NONE);
    resp = upd_call(&u);
    it_assert_invalid(resp, "Invalid field: metric_tags, Invalid field: static, Invalid field: "
                            "dynamic");
    it_free(resp);
    assert_int_equal(mod_tag(guid, epoch), 2);
    r = get_ok(R_GET_R3, guid);
    assert_int_equal(r->desired_lrp->n_metric_tags, 2);
    it_free(r);
}

static void test_update_image_credentials(void **state)
{
    static const char *const skip[] = {"modification_tag", "image_username", "image_password",
                                       NULL};
    char guid[64], epoch[64];
    Models__DesiredLRPResponse *before, *after;
    struct upd u;
    void *resp;
    (void)state;

    it_uniq(guid, sizeof(guid), "upd-image");
    desire_ok(full_lrp(guid, 0));
    before = get_ok(R_GET_R3, guid);

    upd_init(&u, guid);
    u.up.optional_image_username_case =
        MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_USERNAME_IMAGE_USERNAME;
    u.up.image_username = IT_S("new-user");
    resp = upd_call(&u);
    it_assert_invalid(resp, "Invalid field: image_password");
    it_free(resp);

    upd_init(&u, guid);
    u.up.optional_image_password_case =
        MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_PASSWORD_IMAGE_PASSWORD;
    u.up.image_password = IT_S("new-pass");
    resp = upd_call(&u);
    it_assert_invalid(resp, "Invalid field: image_username");
    it_free(resp);
    assert_int_equal(mod_tag(guid, epoch), 0);

    upd_init(&u, guid);
    u.up.optional_image_username_case =
        MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_USERNAME_IMAGE_USERNAME;
    u.up.image_username = IT_S("new-user");
    u.up.optional_image_password_case =
        MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_PASSWORD_IMAGE_PASSWORD;
    u.up.image_password = IT_S("new-pass");
    upd_ok(&u);
    after = get_ok(R_GET_R3, guid);
    assert_string_equal(after->desired_lrp->image_username, "new-user");
    assert_string_equal(after->desired_lrp->image_password, "new-pass");
    assert_int_equal(after->desired_lrp->modification_tag->index, 1);
    /* the rewritten run info keeps every other field */
    assert_same_msg(&before->desired_lrp->base, &after->desired_lrp->base, skip,
                    "LRP after a credentials update");
    it_free(after);

    upd_init(&u, guid); /* both set to "": presence counts, so this clears them */
    u.up.optional_image_username_case =
        MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_USERNAME_IMAGE_USERNAME;
    u.up.image_username = IT_S("");
    u.up.optional_image_password_case =
        MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_PASSWORD_IMAGE_PASSWORD;
    u.up.image_password = IT_S("");
    upd_ok(&u);
    after = get_ok(R_GET_R3, guid);
    assert_string_equal(after->desired_lrp->image_username, "");
    assert_string_equal(after->desired_lrp->image_password, "");
    assert_same_msg(&before->desired_lrp->base, &after->desired_lrp->base, skip,
                    "LRP after clearing the credentials");
    it_free(after);
    it_free(before);
}

static void test_update_missing_update_field(void **state)
{
    Models__UpdateDesiredLRPRequest req = MODELS__UPDATE_DESIRED_LRPREQUEST__INIT;
    char guid[64], epoch[64];
    Models__DesiredLRPResponse *r;
    void *resp;
    (void)state;

    it_uniq(guid, sizeof(guid), "upd-no-update");
    desire_ok(min_lrp(guid, 1));
    req.process_guid = guid;
    resp = it_call(R_UPDATE, &req.base, LIFECYCLE);
    it_assert_invalid(resp, "Invalid field: update"); /* quirk 10 */
    it_free(resp);
    assert_int_equal(mod_tag(guid, epoch), 0);
    r = get_ok(R_GET_R3, guid);
    assert_int_equal(r->desired_lrp->instances, 1);
    it_free(r);
    assert_int_equal(it_actual_count(guid), 1);
}

static void test_update_empty_body(void **state)
{
    void *resp;
    (void)state;

    resp = it_call(R_UPDATE, NULL, LIFECYCLE);
    it_assert_invalid(resp, "Invalid field: process_guid");
    it_free(resp);
}

static void test_update_validation_changes_nothing(void **state)
{
    char guid[64], epoch[64];
    struct upd u;
    void *resp;
    (void)state;

    it_uniq(guid, sizeof(guid), "upd-invalid");
    desire_ok(min_lrp(guid, 1));

    upd_init(&u, guid);
    upd_instances(&u, -1);
    resp = upd_call(&u);
    assert_int_equal(it_err_type(resp), E(InvalidRequest));
    assert_non_null(strstr(it_err_msg(resp), "instances"));
    it_free(resp);

    upd_init(&u, guid);
    upd_annotation(&u, brepeat('a', 10241));
    resp = upd_call(&u);
    assert_int_equal(it_err_type(resp), E(InvalidRequest));
    assert_non_null(strstr(it_err_msg(resp), "annotation"));
    it_free(resp);

    assert_int_equal(mod_tag(guid, epoch), 0);
    assert_int_equal(it_actual_count(guid), 1);
}

/* ---- 6. remove (5.5, 5.6) -------------------------------------------------------------------- */

static void test_remove_missing_not_found(void **state)
{
    Models__RemoveDesiredLRPRequest req = MODELS__REMOVE_DESIRED_LRPREQUEST__INIT;
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "rm-missing");
    remove_call_expect(guid, E(ResourceNotFound));
    it_expect_invalid(R_REMOVE, &req.base, LIFECYCLE, "Invalid field: process_guid");
}

static void test_remove_deletes_lrp_and_idle_rows(void **state)
{
    char guid[64];
    struct it_alrp claimed, running, x;
    (void)state;

    it_uniq(guid, sizeof(guid), "rm-rows");
    desire_ok(min_lrp(guid, 4));
    json_decref(expect_auctions(guid, 1));
    assert_int_equal(it_claim(guid, 1, IG_A, CELL_A), IT_OK);
    assert_int_equal(it_start(guid, 2, NULL, IG_B, CELL_B, ADDR_B), IT_OK);
    make_crashed(guid, 3);
    json_decref(expect_auctions(guid, 3));
    it_assert_state(guid, 0, "UNCLAIMED", NULL);
    it_assert_state(guid, 1, "CLAIMED", &claimed);
    it_assert_state(guid, 2, "RUNNING", &running);

    remove_call_expect(guid, IT_OK);
    assert_not_stored(guid);
    assert_no_row(guid, 0); /* UNCLAIMED: deleted */
    assert_no_row(guid, 3); /* CRASHED: deleted */
    row(guid, 1, &x);       /* cells unknown: left exactly as they were */
    assert_same_row(&claimed, &x);
    row(guid, 2, &x);
    assert_same_row(&running, &x);
    assert_int_equal(it_actual_count(guid), 2);

    remove_call_expect(guid, E(ResourceNotFound));
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(auction_count(guid), 3);
}

/* ---- 7. reads (5.7) -------------------------------------------------------------------------- */

struct three {
    char app1[80], app2[80];
    char d1[80], d2[80];
    char a1[112], a2[112], b1[112];
};

/* a1 (app1, d1), a2 (app1, d2), b1 (app2, d1); app guids end in 'x' so no other guid shares them
 * as a prefix. */
static void make_three(struct three *t, const char *prefix)
{
    char tmp[64];
    Models__DesiredLRP *l;

    it_uniq(tmp, sizeof(tmp), prefix);
    snprintf(t->app1, sizeof(t->app1), "%s-onex", tmp);
    snprintf(t->app2, sizeof(t->app2), "%s-twox", tmp);
    snprintf(t->d1, sizeof(t->d1), "%s-dom1", tmp);
    snprintf(t->d2, sizeof(t->d2), "%s-dom2", tmp);
    snprintf(t->a1, sizeof(t->a1), "%s-web", t->app1);
    snprintf(t->a2, sizeof(t->a2), "%s-worker", t->app1);
    snprintf(t->b1, sizeof(t->b1), "%s-web", t->app2);
    l = min_lrp(t->a1, 0);
    l->domain = t->d1;
    desire_ok(l);
    l = min_lrp(t->a2, 0);
    l->domain = t->d2;
    desire_ok(l);
    l = min_lrp(t->b1, 0);
    l->domain = t->d1;
    desire_ok(l);
}

/* Each guid of `want` appears exactly once in `got`; with `exact`, nothing else does. */
static void assert_guids(const char *what, const char *const *got, size_t n,
                         const char *const *want, int exact)
{
    size_t nw;
    for (nw = 0; want[nw] != NULL; nw++) {
        size_t hits = 0;
        for (size_t i = 0; i < n; i++) {
            hits += strcmp(got[i], want[nw]) == 0;
        }
        if (hits != 1) {
            fail_msg("%s: %s appears %zu times", what, want[nw], hits);
        }
    }
    if (exact && n != nw) {
        fail_msg("%s: %zu results, expected exactly %zu", what, n, nw);
    }
}

static void check_list(const char *route, const char *domain, const char *const *pgs,
                       const char *const *apps, const char *const *want, int exact)
{
    void *resp = list_call(route, domain, pgs, apps);
    const char **got;
    size_t n;
    char what[512];

    if (strcmp(route, R_SCHED_LIST) == 0) {
        const Models__DesiredLRPSchedulingInfosResponse *r = resp;
        n = r->n_desired_lrp_scheduling_infos;
        got = ptrs(n);
        for (size_t i = 0; i < n; i++) {
            const Models__DesiredLRPKey *k = r->desired_lrp_scheduling_infos[i]->desired_lrp_key;
            got[i] = k != NULL && k->process_guid != NULL ? k->process_guid : "";
        }
    } else {
        const Models__DesiredLRPsResponse *r = resp;
        n = r->n_desired_lrps;
        got = ptrs(n);
        for (size_t i = 0; i < n; i++) {
            const char *g = r->desired_lrps[i]->process_guid;
            got[i] = g != NULL ? g : "";
        }
    }
    snprintf(what, sizeof(what), "%s domain=\"%s\" process_guids=%s... app_guids=%s...", route,
             domain ? domain : "", pgs && pgs[0] ? pgs[0] : "-", apps && apps[0] ? apps[0] : "-");
    assert_guids(what, got, n, want, exact);
    it_free(resp);
}

static void test_list_r3_filters(void **state)
{
    struct three t;
    char nodom[112];
    (void)state;

    make_three(&t, "list");
    snprintf(nodom, sizeof(nodom), "%s-none", t.d1);
    {
        const char *const w_d1[] = {t.a1, t.b1, NULL};
        const char *const w_d2[] = {t.a2, NULL};
        const char *const w_a1[] = {t.a1, NULL};
        const char *const w_b1[] = {t.b1, NULL};
        const char *const w_app1[] = {t.a1, t.a2, NULL};
        const char *const w_all[] = {t.a1, t.a2, t.b1, NULL};
        const char *const w_none[] = {NULL};
        const char *const p_a1b1[] = {t.a1, t.b1, NULL};
        const char *const p_a1missing[] = {t.a1, "no-such-process-guid", NULL};
        const char *const p_a1a2[] = {t.a1, t.a2, NULL};
        const char *const ap_1[] = {t.app1, NULL};
        const char *const ap_12[] = {t.app1, t.app2, NULL};
        const char *const ap_2[] = {t.app2, NULL};

        check_list(R_LIST_R3, t.d1, NULL, NULL, w_d1, 1);
        check_list(R_LIST_R3, t.d2, NULL, NULL, w_d2, 1);
        check_list(R_LIST_R3, nodom, NULL, NULL, w_none, 1);
        check_list(R_LIST_R3, NULL, p_a1b1, NULL, p_a1b1, 1);
        check_list(R_LIST_R3, NULL, p_a1missing, NULL, w_a1, 1);
        check_list(R_LIST_R3, NULL, NULL, ap_1, w_app1, 1);
        check_list(R_LIST_R3, NULL, NULL, ap_12, w_all, 1);
        check_list(R_LIST_R3, t.d1, NULL, ap_1, w_a1, 1);   /* domain AND app */
        check_list(R_LIST_R3, t.d2, p_a1a2, NULL, w_d2, 1); /* domain AND guids */
        check_list(R_LIST_R3, NULL, p_a1b1, ap_2, w_b1, 1); /* guids AND app */
        check_list(R_LIST_R3, t.d1, p_a1a2, ap_1, w_a1, 1); /* all three */
        check_list(R_LIST_R3, NULL, NULL, NULL, w_all, 0);  /* empty filter: all */
        check_list(R_LIST_R2, t.d1, NULL, ap_1, w_a1, 1);   /* same filters at V2 */
    }
}

static void test_scheduling_infos_list_filters(void **state)
{
    struct three t;
    (void)state;

    make_three(&t, "sched");
    {
        const char *const w_d1[] = {t.a1, t.b1, NULL};
        const char *const w_a2[] = {t.a2, NULL};
        const char *const w_all[] = {t.a1, t.a2, t.b1, NULL};
        const char *const p_a2[] = {t.a2, NULL};
        const char *const p_a1b1[] = {t.a1, t.b1, NULL};
        const char *const p_a1a2[] = {t.a1, t.a2, NULL};
        const char *const ap_1[] = {t.app1, NULL};

        check_list(R_SCHED_LIST, t.d1, NULL, NULL, w_d1, 1);
        check_list(R_SCHED_LIST, NULL, p_a2, NULL, w_a2, 1);
        check_list(R_SCHED_LIST, t.d2, p_a1a2, NULL, w_a2, 1);
        check_list(R_SCHED_LIST, NULL, p_a1b1, ap_1, p_a1b1, 1); /* app_guids ignored */
        check_list(R_SCHED_LIST, NULL, NULL, ap_1, w_all, 0);    /* ignored: everything */
        check_list(R_SCHED_LIST, NULL, NULL, NULL, w_all, 0);
    }
}

/* What a scheduling info of `l` must hold (2.6.2); `tag` is the stored tag. */
static Models__DesiredLRPSchedulingInfo *sched_expected(const Models__DesiredLRP *l,
                                                        const Models__ModificationTag *tag)
{
    Models__DesiredLRPSchedulingInfo *si =
        NEW(Models__DesiredLRPSchedulingInfo, models__desired_lrpscheduling_info__descriptor);
    Models__DesiredLRPKey *k = NEW(Models__DesiredLRPKey, models__desired_lrpkey__descriptor);
    Models__DesiredLRPResource *res =
        NEW(Models__DesiredLRPResource, models__desired_lrpresource__descriptor);
    Models__VolumePlacement *vp =
        NEW(Models__VolumePlacement, models__volume_placement__descriptor);

    k->process_guid = l->process_guid;
    k->domain = l->domain;
    k->log_guid = l->log_guid;
    res->memory_mb = l->memory_mb;
    res->disk_mb = l->disk_mb;
    res->root_fs = l->root_fs;
    res->max_pids = l->max_pids;
    vp->n_driver_names = l->n_volume_mounts;
    vp->driver_names = ptrs(l->n_volume_mounts);
    for (size_t i = 0; i < l->n_volume_mounts; i++) {
        vp->driver_names[i] = l->volume_mounts[i]->driver;
    }
    si->desired_lrp_key = k;
    si->annotation = l->annotation;
    si->instances = l->instances;
    si->desired_lrp_resource = res;
    si->routes = l->routes != NULL ? l->routes : routes_of(0);
    si->modification_tag = (Models__ModificationTag *)tag;
    si->volume_placement = vp;
    si->n_placementtags = l->n_placementtags;
    si->placementtags = l->placementtags;
    return si;
}

static void test_scheduling_info_get_fields(void **state)
{
    char g_full[64], g_min[64], missing[64];
    const char *const pgs[2] = {g_full, NULL};
    Models__DesiredLRP *full, *mini;
    Models__DesiredLRPResponse *r;
    Models__DesiredLRPSchedulingInfoByProcessGuidResponse *s;
    Models__DesiredLRPSchedulingInfosResponse *sl;
    void *resp;
    (void)state;

    it_uniq(g_full, sizeof(g_full), "sched-full");
    it_uniq(g_min, sizeof(g_min), "sched-min");
    it_uniq(missing, sizeof(missing), "sched-missing");
    full = full_lrp(g_full, 3);
    desire_ok(full);
    mini = min_lrp(g_min, 0);
    desire_ok(mini);

    r = get_ok(R_GET_R3, g_full);
    s = sched_get_ok(g_full);
    assert_same_msg(&sched_expected(full, r->desired_lrp->modification_tag)->base,
                    &s->desired_lrp_scheduling_info->base, NULL, "scheduling info (full LRP)");
    it_free(s);
    sl = list_call(R_SCHED_LIST, NULL, pgs, NULL);
    assert_int_equal(sl->n_desired_lrp_scheduling_infos, 1);
    assert_same_msg(&sched_expected(full, r->desired_lrp->modification_tag)->base,
                    &sl->desired_lrp_scheduling_infos[0]->base, NULL,
                    "scheduling info list (full LRP)");
    it_free(sl);
    it_free(r);

    /* minimal: routes present and empty, volume placement present without drivers */
    r = get_ok(R_GET_R3, g_min);
    s = sched_get_ok(g_min);
    assert_same_msg(&sched_expected(mini, r->desired_lrp->modification_tag)->base,
                    &s->desired_lrp_scheduling_info->base, NULL, "scheduling info (minimal LRP)");
    it_free(s);
    it_free(r);

    resp = get_call(R_SCHED_GET, missing);
    assert_not_found_resp(resp, "scheduling info of a missing guid");
    it_free(resp);
}

/* What a routing info of `l` must hold: only the seven fields of 5.7. */
static Models__DesiredLRP *routing_expected(const Models__DesiredLRP *l,
                                            const Models__ModificationTag *tag)
{
    Models__DesiredLRP *e = NEW(Models__DesiredLRP, models__desired_lrp__descriptor);
    e->process_guid = l->process_guid;
    e->domain = l->domain;
    e->log_guid = l->log_guid;
    e->instances = l->instances;
    e->routes = l->routes != NULL ? l->routes : routes_of(0);
    e->modification_tag = (Models__ModificationTag *)tag;
    e->n_metric_tags = l->n_metric_tags;
    e->metric_tags = l->metric_tags;
    return e;
}

static const Models__DesiredLRP *find_lrp(const Models__DesiredLRPsResponse *r, const char *guid)
{
    for (size_t i = 0; i < r->n_desired_lrps; i++) {
        if (r->desired_lrps[i]->process_guid != NULL &&
            strcmp(r->desired_lrps[i]->process_guid, guid) == 0) {
            return r->desired_lrps[i];
        }
    }
    fail_msg("%s missing from the list", guid);
    return NULL;
}

static void test_routing_infos_list(void **state)
{
    char g_full[64], g_min[64], dom[80];
    const char *const both[3] = {g_full, g_min, NULL};
    const char *const only_full[2] = {g_full, NULL};
    Models__DesiredLRP *full, *mini;
    Models__DesiredLRPResponse *rf, *rm;
    Models__DesiredLRPsResponse *list;
    (void)state;

    it_uniq(g_full, sizeof(g_full), "routing-full");
    it_uniq(g_min, sizeof(g_min), "routing-min");
    snprintf(dom, sizeof(dom), "%s-domain", g_min);
    full = full_lrp(g_full, 0);
    desire_ok(full);
    mini = min_lrp(g_min, 0);
    mini->domain = dom;
    desire_ok(mini);
    rf = get_ok(R_GET_R3, g_full);
    rm = get_ok(R_GET_R3, g_min);

    /* domain is ignored: both come back although neither is in "no-such-domain" */
    list = list_call(R_ROUTING, "no-such-domain", both, NULL);
    assert_int_equal(list->n_desired_lrps, 2);
    assert_same_msg(&routing_expected(full, rf->desired_lrp->modification_tag)->base,
                    &find_lrp(list, g_full)->base, NULL, "routing info (full LRP)");
    assert_same_msg(&routing_expected(mini, rm->desired_lrp->modification_tag)->base,
                    &find_lrp(list, g_min)->base, NULL, "routing info (minimal LRP)");
    it_free(list);

    check_list(R_ROUTING, NULL, only_full, NULL, only_full, 1);
    check_list(R_ROUTING, NULL, NULL, NULL, both, 0);
    it_free(rf);
    it_free(rm);
}

static void test_metrics_guid_filled_from_source_id(void **state)
{
    static const char *const routes[] = {R_GET_R3, R_GET_R2};
    static const char *const lists[] = {R_LIST_R3, R_LIST_R2};
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "mg-fill");
    desire_ok(min_lrp(guid, 0)); /* source_id = guid, metrics_guid empty */
    for (size_t i = 0; i < 2; i++) {
        Models__DesiredLRPResponse *r = get_ok(routes[i], guid);
        Models__DesiredLRPsResponse *l = list_one(lists[i], guid);
        assert_string_equal(r->desired_lrp->metrics_guid, guid);
        assert_int_equal(r->desired_lrp->n_metric_tags, 1);
        assert_tag(r->desired_lrp, "source_id", guid, DYN_NONE);
        assert_string_equal(l->desired_lrps[0]->metrics_guid, guid);
        it_free(r);
        it_free(l);
    }
}

static void test_metrics_guid_kept_when_tags_updated(void **state)
{
    char g1[64], g2[64], mg[64];
    Models__DesiredLRP *l;
    Models__DesiredLRPResponse *r;
    Models__DesiredLRPsResponse *ri;
    struct upd u;
    (void)state;

    it_uniq(g1, sizeof(g1), "mg-keep");
    it_uniq(g2, sizeof(g2), "mg-other");
    it_uniq(mg, sizeof(mg), "mg");
    l = min_lrp(g1, 0);
    l->metrics_guid = mg;
    l->metric_tags[0]->value->static_ = mg;
    desire_ok(l);
    l = min_lrp(g2, 0);
    l->metrics_guid = mg;
    l->metric_tags[0]->value->static_ = mg;
    desire_ok(l);

    /* tags {x: y}: source_id = metrics_guid is added back on full reads */
    upd_init(&u, g1);
    u.up.n_metric_tags = 1;
    u.up.metric_tags = ptrs(1);
    u.up.metric_tags[0] = utag_entry("x", "y", DYN_NONE);
    upd_ok(&u);
    r = get_ok(R_GET_R3, g1);
    assert_string_equal(r->desired_lrp->metrics_guid, mg);
    assert_int_equal(r->desired_lrp->n_metric_tags, 2);
    assert_tag(r->desired_lrp, "source_id", mg, DYN_NONE);
    assert_tag(r->desired_lrp, "x", "y", DYN_NONE);
    it_free(r);
    ri = list_one(R_ROUTING, g1); /* not applied to routing infos */
    assert_int_equal(ri->desired_lrps[0]->n_metric_tags, 1);
    assert_tag(ri->desired_lrps[0], "x", "y", DYN_NONE);
    it_free(ri);

    /* tags {source_id: other}: both returned as stored although they differ */
    upd_init(&u, g2);
    u.up.n_metric_tags = 1;
    u.up.metric_tags = ptrs(1);
    u.up.metric_tags[0] = utag_entry("source_id", "other", DYN_NONE);
    upd_ok(&u);
    r = get_ok(R_GET_R3, g2);
    assert_string_equal(r->desired_lrp->metrics_guid, mg);
    assert_int_equal(r->desired_lrp->n_metric_tags, 1);
    assert_tag(r->desired_lrp, "source_id", "other", DYN_NONE);
    it_free(r);
}

/* ---- 8. V2 reads (5.8) ----------------------------------------------------------------------- */

/* What get.r2 must return for full_lrp(): layers turned into a cached dependency and downloads. */
static Models__DesiredLRP *v2_expected_full(const char *guid, int32_t instances)
{
    Models__DesiredLRP *e = full_lrp(guid, instances);
    Models__CachedDependency **cds = ptrs(3);
    Models__Action *dl = wrap();

    cds[0] = cached_dep("shared-layer", "https://blobstore.example.com/shared.tgz",
                        "/usr/local/shared", "sha256:abc123", NULL, "sha256", "abc123");
    cds[1] = e->cached_dependencies[0];
    cds[2] = e->cached_dependencies[1];
    e->n_cached_dependencies = 3;
    e->cached_dependencies = cds;
    dl->download_action =
        download("exclusive-layer", "https://blobstore.example.com/bits/other-bits",
                 "/usr/local/app/other", "sha256:def456", "legacy-dan", "sha256", "def456");
    e->setup = a_list(K_SERIAL, NULL, 2, a_list(K_PARALLEL, NULL, 1, dl), e->setup);
    e->n_image_layers = 0;
    e->image_layers = NULL;
    return e;
}

static void test_v2_full_lrp_down_converted(void **state)
{
    char guid[64];
    Models__DesiredLRP *sent, *exp;
    Models__DesiredLRPResponse *r;
    Models__DesiredLRPsResponse *l;
    (void)state;

    it_uniq(guid, sizeof(guid), "v2-full");
    sent = full_lrp(guid, 0);
    desire_ok(sent);
    exp = v2_expected_full(guid, 0);

    r = get_ok(R_GET_R2, guid);
    assert_int_equal(r->desired_lrp->n_image_layers, 0);
    assert_same_msg(&exp->base, &r->desired_lrp->base, SKIP_SERVER, "get_by_process_guid.r2");
    it_free(r);
    l = list_one(R_LIST_R2, guid);
    assert_same_msg(&exp->base, &l->desired_lrps[0]->base, SKIP_SERVER, "list.r2");
    it_free(l);
    r = get_ok(R_GET_R3, guid); /* the stored V3 form is unchanged */
    assert_same_msg(&sent->base, &r->desired_lrp->base, SKIP_SERVER, "get.r3 after get.r2");
    it_free(r);
}

/*
 * An LRP with five layers (SHARED sha256 / EXCLUSIVE sha512 / SHARED without
 * digest / EXCLUSIVE sha256 / SHARED sha512) and one cached dependency;
 * with a run setup when `with_setup`.
 */
static Models__DesiredLRP *v2_source(const char *guid, int with_setup)
{
    Models__DesiredLRP *l = min_lrp(guid, 0);

    if (with_setup) {
        l->setup = a_run("/bin/setup", "vcap");
    }
    l->legacy_download_user = IT_S("ldu");
    l->n_cached_dependencies = 1;
    l->cached_dependencies = ptrs(1);
    l->cached_dependencies[0] =
        cached_dep("cd0", "https://x.example.com/cd0", "/cd0", "cd0-key", "cd0-src", NULL, NULL);
    l->n_image_layers = 5;
    l->image_layers = ptrs(5);
    l->image_layers[0] =
        layer("s1", "https://l.example.com/s1.tgz", "/s1", L_SHARED, M_TGZ, D_SHA256, "aa11");
    l->image_layers[1] =
        layer("e1", "https://l.example.com/e1.tar", "/e1", L_EXCLUSIVE, M_TAR, D_SHA512, "bb22");
    l->image_layers[2] =
        layer("s2", "https://l.example.com/s2.zip", "/s2", L_SHARED, M_ZIP, D_NONE, NULL);
    l->image_layers[3] =
        layer("e2", "https://l.example.com/e2.tgz", "/e2", L_EXCLUSIVE, M_TGZ, D_SHA256, "cc33");
    l->image_layers[4] =
        layer("s3", "https://l.example.com/s3.tgz", "/s3", L_SHARED, M_TGZ, D_SHA512, "dd44");
    return l;
}

static Models__DesiredLRP *v2_converted(const char *guid, int with_setup)
{
    Models__DesiredLRP *e = v2_source(guid, with_setup);
    Models__CachedDependency **cds = ptrs(4);
    Models__Action *d1 = wrap(), *d2 = wrap(), *par;

    cds[0] = cached_dep("s1", "https://l.example.com/s1.tgz", "/s1", "sha256:aa11", NULL, "sha256",
                        "aa11");
    cds[1] = cached_dep("s2", "https://l.example.com/s2.zip", "/s2", "https://l.example.com/s2.zip",
                        NULL, NULL, NULL); /* no digest: cache key = url */
    cds[2] = cached_dep("s3", "https://l.example.com/s3.tgz", "/s3", "sha512:dd44", NULL, "sha512",
                        "dd44");
    cds[3] = e->cached_dependencies[0];
    e->n_cached_dependencies = 4;
    e->cached_dependencies = cds;
    d1->download_action = download("e1", "https://l.example.com/e1.tar", "/e1", "sha512:bb22",
                                   "ldu", "sha512", "bb22");
    d2->download_action = download("e2", "https://l.example.com/e2.tgz", "/e2", "sha256:cc33",
                                   "ldu", "sha256", "cc33");
    par = a_list(K_PARALLEL, NULL, 2, d1, d2);
    e->setup = with_setup ? a_list(K_SERIAL, NULL, 2, par, e->setup) : par;
    e->n_image_layers = 0;
    e->image_layers = NULL;
    e->routes = routes_of(0);          /* no routes sent: read back present and empty (2.6.3) */
    e->metrics_guid = e->process_guid; /* filled from the source_id tag on full reads (5.7) */
    return e;
}

static void v2_check(const char *guid, int with_setup)
{
    Models__DesiredLRP *exp = v2_converted(guid, with_setup);
    Models__DesiredLRPResponse *r;
    Models__DesiredLRPsResponse *l;

    desire_ok(v2_source(guid, with_setup));
    r = get_ok(R_GET_R2, guid);
    assert_same_msg(&exp->base, &r->desired_lrp->base, SKIP_SERVER, "get_by_process_guid.r2");
    it_free(r);
    l = list_one(R_LIST_R2, guid);
    assert_same_msg(&exp->base, &l->desired_lrps[0]->base, SKIP_SERVER, "list.r2");
    it_free(l);
}

static void test_v2_layers_with_setup(void **state)
{
    char guid[64];
    (void)state;
    it_uniq(guid, sizeof(guid), "v2-setup");
    v2_check(guid, 1);
}

static void test_v2_layers_without_setup(void **state)
{
    char guid[64];
    (void)state;
    it_uniq(guid, sizeof(guid), "v2-nosetup");
    v2_check(guid, 0);
}

static void test_v2_without_layers_equals_v3(void **state)
{
    char guid[64];
    Models__DesiredLRP *l;
    Models__DesiredLRPResponse *r2, *r3;
    (void)state;

    it_uniq(guid, sizeof(guid), "v2-plain");
    l = min_lrp(guid, 0);
    l->setup = a_run("/bin/setup", "vcap");
    l->legacy_download_user = IT_S("ldu");
    desire_ok(l);
    r2 = get_ok(R_GET_R2, guid);
    r3 = get_ok(R_GET_R3, guid);
    assert_same_msg(&r3->desired_lrp->base, &r2->desired_lrp->base, NULL, "get.r2 without layers");
    it_free(r2);
    it_free(r3);
}

/* ---- 9. crash paths that read the desired LRP (3.5 step 9, quirk 7) ----------------------------
 */

static void test_crash_immediate_restart_auction(void **state)
{
    static const int32_t want[] = {1};
    char guid[64];
    Models__DesiredLRP *l;
    struct it_alrp a;
    json_t *au;
    (void)state;

    it_uniq(guid, sizeof(guid), "crash-auction");
    l = min_lrp(guid, 2);
    l->root_fs = IT_S("preloaded:cflinuxfs3");
    l->memory_mb = 300;
    l->disk_mb = 700;
    l->max_pids = 77;
    l->n_placementtags = 1;
    l->placementtags = ptrs(1);
    l->placementtags[0] = IT_S("crash-tag");
    l->n_volume_mounts = 1;
    l->volume_mounts = ptrs(1);
    l->volume_mounts[0] = shared_mount("crash-driver", "/mnt/c", "rw", "vol-c", NULL);
    desire_ok(l);
    json_decref(expect_auctions(guid, 1));

    assert_int_equal(it_start(guid, 1, NULL, IG_A, CELL_A, ADDR_A), IT_OK);
    assert_int_equal(it_crash(guid, 1, NULL, IG_A, CELL_A, "boom"), IT_OK);
    it_assert_state(guid, 1, "UNCLAIMED", &a);
    assert_int_equal(a.crash_count, 1);
    assert_string_equal(a.instance_guid, "");
    au = expect_auctions(guid, 2);
    assert_auction_element(json_array_get(au, 1), l, want, 1);
    assert_int_equal(it_auction_posts_for(guid), 2);
    json_decref(au);
}

static void test_crash_after_desired_removed_quirk7(void **state)
{
    char guid[64];
    struct it_alrp a;
    (void)state;

    it_uniq(guid, sizeof(guid), "crash-orphan");
    desire_ok(min_lrp(guid, 1));
    json_decref(expect_auctions(guid, 1));
    assert_int_equal(it_start(guid, 0, NULL, IG_A, CELL_A, ADDR_A), IT_OK);
    remove_call_expect(guid, IT_OK);
    it_assert_state(guid, 0, "RUNNING", NULL); /* 5.6: the cell is unknown, row left alone */

    assert_int_equal(it_crash(guid, 0, NULL, IG_A, CELL_A, "gone"), E(ResourceNotFound));
    it_assert_state(guid, 0, "UNCLAIMED", &a); /* the crash was committed anyway */
    assert_int_equal(a.crash_count, 1);
    assert_string_equal(a.crash_reason, "gone");
    assert_not_stored(guid);
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(auction_count(guid), 1); /* no auction without scheduling info */
}

/* ---- main ------------------------------------------------------------------------------------ */

#define T(f) cmocka_unit_test_teardown(f, bag_free)

int main(void)
{
    enum { N_V = sizeof(vcases) / sizeof(vcases[0]) };
    static const struct CMUnitTest named[] = {
        T(test_roundtrip_every_field),
        T(test_desire_creates_unclaimed_rows_and_one_auction),
        T(test_desire_auction_body_full_lrp),
        T(test_auction_volume_drivers_empty_on_desire_and_scale_up_null_on_crash),
        T(test_desire_all_indices_exist_sends_empty_indices),
        T(test_desire_zero_instances_no_rows_no_auction),
        T(test_desire_existing_guid_resource_exists),
        T(test_desire_after_start_keeps_running_row),
        T(test_desire_ignores_client_modification_tag),
        T(test_validation_missing_desired_lrp),
        T(test_validation_empty_desired_lrp),
        T(test_validation_oversized_process_guid),
        T(test_validation_boundaries_accepted),
        T(test_validation_reported_before_route_json),
        T(test_routes_rewriting_examples),
        T(test_routes_invalid_json_nothing_stored),
        T(test_routes_absent_read_as_present_empty),
        T(test_update_missing_guid_not_found),
        T(test_update_tag_index_every_update),
        T(test_update_annotation_empty_and_back),
        T(test_update_scale_up_3_to_5),
        T(test_update_scale_down_5_to_2),
        T(test_update_scale_down_leaves_claimed_and_running),
        T(test_update_routes_replace_clear_keep),
        T(test_update_invalid_route_json_changes_nothing),
        T(test_update_metric_tags_replace_or_keep),
        T(test_update_image_credentials),
        T(test_update_missing_update_field),
        T(test_update_empty_body),
        T(test_update_validation_changes_nothing),
        T(test_remove_missing_not_found),
        T(test_remove_deletes_lrp_and_idle_rows),
        T(test_list_r3_filters),
        T(test_scheduling_infos_list_filters),
        T(test_scheduling_info_get_fields),
        T(test_routing_infos_list),
        T(test_metrics_guid_filled_from_source_id),
        T(test_metrics_guid_kept_when_tags_updated),
        T(test_v2_full_lrp_down_converted),
        T(test_v2_layers_with_setup),
        T(test_v2_layers_without_setup),
        T(test_v2_without_layers_equals_v3),
        T(test_crash_immediate_restart_auction),
        T(test_crash_after_desired_removed_quirk7),
    };
    enum { N_NAMED = sizeof(named) / sizeof(named[0]) };
    struct CMUnitTest tests[N_NAMED + N_V];

    for (size_t i = 0; i < N_NAMED; i++) {
        tests[i] = named[i];
    }
    for (size_t i = 0; i < N_V; i++) {
        tests[N_NAMED + i] = (struct CMUnitTest){
            .name = vcases[i].name,
            .test_func = test_validation_case,
            .initial_state = (void *)&vcases[i],
            .teardown_func = bag_free,
        };
    }
    it_set_name("desired");
    return it_main_exit(
        cmocka_run_group_tests_name("api_desired", tests, it_group_setup, it_group_teardown));
}
