/*
 * dlrp_full.c - see dlrp_full.h. The field comments number the fields of
 * reference 2.6.1.
 */
#include "support/dlrp_full.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* protobuf-c string fields are `char *`; literals are const under -Wwrite-strings. */
#define S(lit) ((char *)(lit))

/* Compacted route values (2.6.3: sent compact, read back equal). */
#define ROUTE_CF  "[{\"hostnames\":[\"a.example.com\"],\"port\":8080}]"
#define ROUTE_TCP "[{\"external_port\":61000,\"container_port\":9090}]"

/* The builder's allocator, so the helpers below need not pass it around. */
struct b {
    ProtobufCAllocator *alloc;
};

static void *zalloc(struct b *b, size_t n)
{
    void *p = b->alloc->alloc(b->alloc->allocator_data, n ? n : 1);

    if (p == NULL) {
        fprintf(stderr, "dlrp_full: out of memory\n");
        abort();
    }
    memset(p, 0, n ? n : 1);
    return p;
}

static void *msg(struct b *b, const ProtobufCMessageDescriptor *d)
{
    void *m = zalloc(b, d->sizeof_message);

    protobuf_c_message_init(d, m);
    return m;
}

#define NEW(b, T, d) ((T *)msg((b), &(d)))

static void *ptrs(struct b *b, size_t n)
{
    return zalloc(b, n * sizeof(void *));
}

static char *copy(struct b *b, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = zalloc(b, n);

    memcpy(p, s, n);
    return p;
}

static Models__Action *wrap(struct b *b)
{
    return NEW(b, Models__Action, models__action__descriptor);
}

static Models__Action *a_run(struct b *b, const char *path, const char *user)
{
    Models__Action *a = wrap(b);
    Models__RunAction *r = NEW(b, Models__RunAction, models__run_action__descriptor);

    r->path = S(path);
    r->user = S(user);
    a->run_action = r;
    return a;
}

static Models__EnvironmentVariable *env_var(struct b *b, const char *name, const char *value)
{
    Models__EnvironmentVariable *e =
        NEW(b, Models__EnvironmentVariable, models__environment_variable__descriptor);

    e->name = S(name);
    e->value = S(value);
    return e;
}

static Models__File *file_of(struct b *b, const char *path, const char *content)
{
    Models__File *f = NEW(b, Models__File, models__file__descriptor);

    f->path = S(path);
    f->content = S(content);
    return f;
}

/* A RunAction with every field set. */
static Models__Action *a_run_full(struct b *b)
{
    Models__Action *a = a_run(b, "/bin/setup", "root");
    Models__RunAction *r = a->run_action;
    Models__ResourceLimits *rl =
        NEW(b, Models__ResourceLimits, models__resource_limits__descriptor);

    r->n_args = 2;
    r->args = ptrs(b, 2);
    r->args[0] = S("-c");
    r->args[1] = S("echo hi");
    r->dir = S("/home/vcap");
    r->n_env = 1;
    r->env = ptrs(b, 1);
    r->env[0] = env_var(b, "RUN_ENV", "1");
    rl->optional_nofile_case = MODELS__RESOURCE_LIMITS__OPTIONAL_NOFILE_NOFILE;
    rl->nofile = 1024;
    rl->optional_nproc_case = MODELS__RESOURCE_LIMITS__OPTIONAL_NPROC_NPROC;
    rl->nproc = 512;
    r->resource_limits = rl;
    r->log_source = S("SETUP");
    r->suppress_log_output = 1;
    r->n_volume_mounted_files = 1;
    r->volume_mounted_files = ptrs(b, 1);
    r->volume_mounted_files[0] = file_of(b, "/etc/run.conf", "x=1");
    return a;
}

static Models__Action *a_download_full(struct b *b)
{
    Models__Action *a = wrap(b);
    Models__DownloadAction *d = NEW(b, Models__DownloadAction, models__download_action__descriptor);

    d->artifact = S("droplet");
    d->from = S("https://blobstore.example.com/droplet.tgz");
    d->to = S("/home/vcap");
    d->cache_key = S("droplet-cache");
    d->user = S("vcap");
    d->checksum_algorithm = S("sha256");
    d->checksum_value = S("0123abcd");
    d->log_source = S("DL");
    a->download_action = d;
    return a;
}

static Models__Action *a_upload_full(struct b *b)
{
    Models__Action *a = wrap(b);
    Models__UploadAction *u = NEW(b, Models__UploadAction, models__upload_action__descriptor);

    u->artifact = S("logs");
    u->from = S("/tmp/out");
    u->to = S("https://uploads.example.com/x");
    u->log_source = S("UL");
    u->user = S("vcap");
    a->upload_action = u;
    return a;
}

static Models__Action *a_timeout(struct b *b, Models__Action *inner, int64_t ms)
{
    Models__Action *a = wrap(b);
    Models__TimeoutAction *t = NEW(b, Models__TimeoutAction, models__timeout_action__descriptor);

    t->action = inner;
    t->timeout_ms = ms;
    a->timeout_action = t;
    return a;
}

static Models__Action *a_try(struct b *b, Models__Action *inner)
{
    Models__Action *a = wrap(b);
    Models__TryAction *t = NEW(b, Models__TryAction, models__try_action__descriptor);

    t->action = inner;
    a->try_action = t;
    return a;
}

static Models__Action *a_emit(struct b *b, Models__Action *inner)
{
    Models__Action *a = wrap(b);
    Models__EmitProgressAction *e =
        NEW(b, Models__EmitProgressAction, models__emit_progress_action__descriptor);

    e->action = inner;
    a->emit_progress_action = e;
    return a;
}

enum list_kind { K_PARALLEL, K_SERIAL, K_CODEPENDENT };

/* A composite action of `n` children (Models__Action *) with `log_source`. */
static Models__Action *a_list(struct b *b, enum list_kind kind, const char *log_source, size_t n,
                              ...)
{
    Models__Action *a = wrap(b);
    Models__Action **acts = ptrs(b, n);
    va_list ap;

    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        acts[i] = va_arg(ap, Models__Action *);
    }
    va_end(ap);
    switch (kind) {
    case K_PARALLEL: {
        Models__ParallelAction *p =
            NEW(b, Models__ParallelAction, models__parallel_action__descriptor);
        p->n_actions = n;
        p->actions = acts;
        p->log_source = S(log_source);
        a->parallel_action = p;
        break;
    }
    case K_SERIAL: {
        Models__SerialAction *s = NEW(b, Models__SerialAction, models__serial_action__descriptor);
        s->n_actions = n;
        s->actions = acts;
        s->log_source = S(log_source);
        a->serial_action = s;
        break;
    }
    case K_CODEPENDENT: {
        Models__CodependentAction *c =
            NEW(b, Models__CodependentAction, models__codependent_action__descriptor);
        c->n_actions = n;
        c->actions = acts;
        c->log_source = S(log_source);
        a->codependent_action = c;
        break;
    }
    }
    return a;
}

static Models__DesiredLRP__MetricTagsEntry *
tag_entry(struct b *b, const char *key, const char *stat, Models__MetricTagValue__DynamicValue dyn)
{
    Models__DesiredLRP__MetricTagsEntry *e = NEW(
        b, Models__DesiredLRP__MetricTagsEntry, models__desired_lrp__metric_tags_entry__descriptor);
    Models__MetricTagValue *v =
        NEW(b, Models__MetricTagValue, models__metric_tag_value__descriptor);

    v->static_ = S(stat);
    v->dynamic = dyn;
    e->key = S(key);
    e->value = v;
    return e;
}

static Models__ProtoRoutes__RoutesEntry *route(struct b *b, const char *key, const char *json)
{
    Models__ProtoRoutes__RoutesEntry *e =
        NEW(b, Models__ProtoRoutes__RoutesEntry, models__proto_routes__routes_entry__descriptor);

    e->key = S(key);
    e->value.len = strlen(json);
    e->value.data = (uint8_t *)S(json);
    return e;
}

static Models__ImageLayer *layer(struct b *b, const char *name, const char *url, const char *dest,
                                 Models__ImageLayer__Type type, Models__ImageLayer__MediaType media,
                                 const char *digest)
{
    Models__ImageLayer *l = NEW(b, Models__ImageLayer, models__image_layer__descriptor);

    l->name = S(name);
    l->url = S(url);
    l->destination_path = S(dest);
    l->layer_type = type;
    l->media_type = media;
    l->digest_algorithm = MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA256;
    l->digest_value = S(digest);
    return l;
}

static Models__CachedDependency *cached_dep(struct b *b, const char *name, const char *from,
                                            const char *to, const char *alg, const char *value)
{
    Models__CachedDependency *c =
        NEW(b, Models__CachedDependency, models__cached_dependency__descriptor);

    c->name = S(name);
    c->from = S(from);
    c->to = S(to);
    c->cache_key = S("cache-key");
    c->log_source = S("log-source");
    c->checksum_algorithm = S(alg);
    c->checksum_value = S(value);
    return c;
}

static Models__SecurityGroupRule *rule(struct b *b, const char *protocol, const char *dest)
{
    Models__SecurityGroupRule *r =
        NEW(b, Models__SecurityGroupRule, models__security_group_rule__descriptor);

    r->protocol = S(protocol);
    r->n_destinations = 1;
    r->destinations = ptrs(b, 1);
    r->destinations[0] = S(dest);
    return r;
}

static Models__VolumeMount *shared_mount(struct b *b, const char *driver, const char *dir,
                                         const char *mode, const char *volume_id,
                                         const char *config)
{
    Models__VolumeMount *v = NEW(b, Models__VolumeMount, models__volume_mount__descriptor);
    Models__SharedDevice *s = NEW(b, Models__SharedDevice, models__shared_device__descriptor);

    s->volume_id = S(volume_id);
    s->mount_config = S(config);
    v->driver = S(driver);
    v->container_dir = S(dir);
    v->mode = S(mode);
    v->shared = s;
    return v;
}

static Models__Check *chk_tcp(struct b *b, uint32_t port, uint64_t connect_ms, uint64_t interval_ms)
{
    Models__Check *c = NEW(b, Models__Check, models__check__descriptor);
    Models__TCPCheck *t = NEW(b, Models__TCPCheck, models__tcpcheck__descriptor);

    t->port = port;
    t->connect_timeout_ms = connect_ms;
    t->interval_ms = interval_ms;
    c->tcp_check = t;
    return c;
}

static Models__Check *chk_http(struct b *b, uint32_t port, uint64_t timeout_ms, const char *path,
                               uint64_t interval_ms)
{
    Models__Check *c = NEW(b, Models__Check, models__check__descriptor);
    Models__HTTPCheck *h = NEW(b, Models__HTTPCheck, models__httpcheck__descriptor);

    h->port = port;
    h->request_timeout_ms = timeout_ms;
    h->path = S(path);
    h->interval_ms = interval_ms;
    c->http_check = h;
    return c;
}

static Models__SecurityGroupRule **egress_rules(struct b *b)
{
    Models__SecurityGroupRule **rules = ptrs(b, 4);
    Models__SecurityGroupRule *tcp = rule(b, "tcp", "1.1.1.1/32");
    Models__SecurityGroupRule *udp = rule(b, "udp", "10.0.0.1-10.0.0.9");
    Models__SecurityGroupRule *icmp = rule(b, "icmp", "0.0.0.0/0");

    tcp->n_destinations = 2;
    tcp->destinations = ptrs(b, 2);
    tcp->destinations[0] = S("1.1.1.1/32");
    tcp->destinations[1] = S("2.2.2.2/32");
    tcp->port_range = NEW(b, Models__PortRange, models__port_range__descriptor);
    tcp->port_range->start = 10;
    tcp->port_range->end = 16000;
    tcp->log = 1;
    tcp->n_annotations = 1;
    tcp->annotations = ptrs(b, 1);
    tcp->annotations[0] = S("security_group_id:sg-1");
    udp->n_ports = 2;
    udp->ports = zalloc(b, 2 * sizeof(uint32_t));
    udp->ports[0] = 53;
    udp->ports[1] = 123;
    icmp->icmp_info = NEW(b, Models__ICMPInfo, models__icmpinfo__descriptor);
    icmp->icmp_info->type = 3;
    icmp->icmp_info->code = 1;
    rules[0] = tcp;
    rules[1] = udp;
    rules[2] = icmp;
    rules[3] = rule(b, "all", "192.168.0.0/16,10.1.1.1");
    return rules;
}

static Models__CheckDefinition *check_definition(struct b *b)
{
    Models__CheckDefinition *cd =
        NEW(b, Models__CheckDefinition, models__check_definition__descriptor);

    cd->n_checks = 2;
    cd->checks = ptrs(b, 2);
    cd->checks[0] = chk_tcp(b, 54321, 100, 500);
    cd->checks[1] = chk_http(b, 8080, 200, "/healthz", 1000);
    cd->log_source = S("health-check");
    cd->n_readiness_checks = 2;
    cd->readiness_checks = ptrs(b, 2);
    cd->readiness_checks[0] = chk_http(b, 12345, 100, "/some/path", 500);
    cd->readiness_checks[1] = chk_tcp(b, 9090, 50, 250);
    return cd;
}

Models__DesiredLRP *it_dlrp_full(ProtobufCAllocator *alloc, const char *guid, const char *domain,
                                 int32_t instances)
{
    struct b bb = {alloc};
    struct b *b = &bb;
    Models__DesiredLRP *l = NEW(b, Models__DesiredLRP, models__desired_lrp__descriptor);
    Models__Action *monitor_run = a_run(b, "/bin/healthcheck", "vcap");
    Models__Action *monitor_timeout = a_timeout(b, a_try(b, monitor_run), 10000);
    Models__Network *net = NEW(b, Models__Network, models__network__descriptor);
    Models__CertificateProperties *cp =
        NEW(b, Models__CertificateProperties, models__certificate_properties__descriptor);
    Models__Sidecar *sc = NEW(b, Models__Sidecar, models__sidecar__descriptor);
    Models__LogRateLimit *lr = NEW(b, Models__LogRateLimit, models__log_rate_limit__descriptor);
    Models__ModificationTag *mt =
        NEW(b, Models__ModificationTag, models__modification_tag__descriptor);

    l->process_guid = copy(b, guid);                                 /* 1 */
    l->domain = copy(b, domain);                                     /* 2 */
    l->root_fs = S("docker:///docker-user/docker-image#docker-tag"); /* 3 */
    l->instances = instances;                                        /* 4 */
    l->n_environment_variables = 2;                                  /* 5 */
    l->environment_variables = ptrs(b, 2);
    l->environment_variables[0] = env_var(b, "FOO", "bar");
    l->environment_variables[1] = env_var(b, "EMPTY_VALUE", "");
    l->setup = a_list(b, K_SERIAL, "setup-serial", 3, a_download_full(b), a_run_full(b), /* 6 */
                      a_upload_full(b));
    l->action = a_list(b, K_CODEPENDENT, "main", 2, a_run(b, "/app/start", "vcap"), /* 7 */
                       a_list(b, K_PARALLEL, "par", 2, a_run(b, "/app/helper", "vcap"),
                              a_try(b, a_run(b, "/app/optional", "vcap"))));
    l->action->codependent_action->actions[1]->parallel_action->actions[1]->try_action->log_source =
        S("try-src");
    l->deprecated_start_timeout_s = 15; /* 8: accepted, not stored */
    monitor_timeout->timeout_action->deprecated_timeout_ns = 10000000000; /* quirk 28 */
    monitor_timeout->timeout_action->log_source = S("timeout-src");
    monitor_timeout->timeout_action->action->try_action->log_source = S("monitor-try");
    l->monitor = a_emit(b, monitor_timeout); /* 9 */
    l->monitor->emit_progress_action->start_message = S("start-message");
    l->monitor->emit_progress_action->success_message = S("success-message");
    l->monitor->emit_progress_action->failure_message_prefix = S("failure-message");
    l->monitor->emit_progress_action->log_source = S("emit-src");
    l->disk_mb = 512;    /* 10 */
    l->memory_mb = 1024; /* 11 */
    l->cpu_weight = 42;  /* 12 */
    l->privileged = 1;   /* 13 */
    l->n_ports = 2;      /* 14 */
    l->ports = zalloc(b, 2 * sizeof(uint32_t));
    l->ports[0] = 8080;
    l->ports[1] = 9090;
    l->routes = NEW(b, Models__ProtoRoutes, models__proto_routes__descriptor); /* 15 */
    l->routes->n_routes = 2;
    l->routes->routes = ptrs(b, 2);
    l->routes->routes[0] = route(b, "cf-router", ROUTE_CF);
    l->routes->routes[1] = route(b, "tcp-router", ROUTE_TCP);
    l->log_source = S("some-log-source");  /* 16 */
    l->log_guid = S("some-log-guid");      /* 17 */
    l->metrics_guid = S("some-source-id"); /* 18: equal to the source_id tag */
    l->annotation = S("some-annotation");  /* 19 */
    l->n_egress_rules = 4;                 /* 20 */
    l->egress_rules = egress_rules(b);
    mt->epoch = S("client-epoch"); /* 21: ignored by the server */
    mt->index = 99;
    l->modification_tag = mt;
    l->n_cached_dependencies = 2; /* 22 */
    l->cached_dependencies = ptrs(b, 2);
    l->cached_dependencies[0] =
        cached_dep(b, "app bits", "blobstore.com/bits/app-bits", "/usr/local/app", NULL, NULL);
    l->cached_dependencies[1] =
        cached_dep(b, "app bits with checksum", "blobstore.com/bits/app-bits-checksum",
                   "/usr/local/app-checksum", "md5", "checksum-value");
    l->legacy_download_user = S("legacy-dan");                /* 23 */
    l->trusted_system_certificates_path = S("/etc/somepath"); /* 24 */
    l->n_volume_mounts = 2;                                   /* 25 */
    l->volume_mounts = ptrs(b, 2);
    l->volume_mounts[0] =
        shared_mount(b, "my-driver", "/mnt/mypath", "r", "my-volume", "{\"uid\":\"1000\"}");
    l->volume_mounts[1] = shared_mount(b, "other-driver", "/mnt/other", "rw", "other-volume", NULL);
    net->n_properties = 2; /* 26 */
    net->properties = ptrs(b, 2);
    for (int i = 0; i < 2; i++) {
        Models__Network__PropertiesEntry *e =
            NEW(b, Models__Network__PropertiesEntry, models__network__properties_entry__descriptor);
        e->key = S(i == 0 ? "some-key" : "some-other-key");
        e->value = S(i == 0 ? "some-value" : "some-other-value");
        net->properties[i] = e;
    }
    l->network = net;
    l->start_timeout_ms = 15000; /* 27 */
    l->n_placementtags = 2;      /* 28 */
    l->placementtags = ptrs(b, 2);
    l->placementtags[0] = S("example-tag");
    l->placementtags[1] = S("example-tag-2");
    l->max_pids = 1024;            /* 29 */
    cp->n_organizational_unit = 2; /* 30 */
    cp->organizational_unit = ptrs(b, 2);
    cp->organizational_unit[0] = S("app:some-app");
    cp->organizational_unit[1] = S("space:some-space");
    l->certificate_properties = cp;
    l->image_username = S("docker-user");      /* 31 */
    l->image_password = S("docker-pass");      /* 32 */
    l->check_definition = check_definition(b); /* 33 */
    l->n_image_layers = 2;                     /* 34 */
    l->image_layers = ptrs(b, 2);
    l->image_layers[0] =
        layer(b, "shared-layer", "https://blobstore.example.com/shared.tgz", "/usr/local/shared",
              MODELS__IMAGE_LAYER__TYPE__SHARED, MODELS__IMAGE_LAYER__MEDIA_TYPE__TGZ, "abc123");
    l->image_layers[1] =
        layer(b, "exclusive-layer", "https://blobstore.example.com/bits/other-bits",
              "/usr/local/app/other", MODELS__IMAGE_LAYER__TYPE__EXCLUSIVE,
              MODELS__IMAGE_LAYER__MEDIA_TYPE__TAR, "def456");
    l->n_metric_tags = 3; /* 35, keys sorted */
    l->metric_tags = ptrs(b, 3);
    l->metric_tags[0] =
        tag_entry(b, "instance_guid", "", MODELS__METRIC_TAG_VALUE__DYNAMIC_VALUE__INSTANCE_GUID);
    l->metric_tags[1] =
        tag_entry(b, "instance_index", "", MODELS__METRIC_TAG_VALUE__DYNAMIC_VALUE__INDEX);
    l->metric_tags[2] = tag_entry(b, "source_id", "some-source-id",
                                  MODELS__METRIC_TAG_VALUE__DYNAMIC_VALUE__DynamicValueInvalid);
    sc->action = a_run(b, "/bin/sidecar", "vcap"); /* 36 */
    sc->disk_mb = 64;
    sc->memory_mb = 128;
    l->n_sidecars = 1;
    l->sidecars = ptrs(b, 1);
    l->sidecars[0] = sc;
    lr->bytes_per_second = 2048; /* 37 */
    l->log_rate_limit = lr;
    l->n_volume_mounted_files = 1; /* 38 */
    l->volume_mounted_files = ptrs(b, 1);
    l->volume_mounted_files[0] = file_of(b, "/etc/config/app.yml", "key: value\n");
    l->update_strategy = MODELS__UPDATE_STRATEGY__RECREATE; /* 39 */
    return l;
}
