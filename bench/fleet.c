/*
 * fleet.c - fleet layout, request builders and the seeding runners (see fleet.h).
 */
#include "fleet.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* The version half of a process guid (upstream: <app guid>-<version guid>). */
#define GUID_TAIL "8d1f4c2e-7b3a-4e5f-9a6b-0c1d2e3f4a5b"

/* protobuf-c string fields are `char *`; literals are const under -Wwrite-strings. */
#define S(lit) ((char *)(lit))

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s != '\0'; s++) {
        h = (h ^ (uint8_t)*s) * 16777619u;
    }
    return h;
}

void bench_fleet_init(struct bench_fleet *f, const char *name, int per_lrp, int cells)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->hash = fnv1a(f->name);
    f->per_lrp = per_lrp > 0 ? per_lrp : 1;
    f->cells = cells > 0 ? cells : 1;
}

void bench_fleet_guid(const struct bench_fleet *f, int64_t j, char *buf, size_t len)
{
    snprintf(buf, len, "%s-%012" PRId64 "-" GUID_TAIL, f->name, j);
}

void bench_fleet_cell(const struct bench_fleet *f, int c, char *buf, size_t len)
{
    snprintf(buf, len, "cell-%08" PRIx32 "-%05d", f->hash, c);
}

void bench_fleet_inst(const struct bench_fleet *f, int64_t g, struct bench_inst *in)
{
    int64_t j = g / f->per_lrp;
    int c = (int)(g % f->cells);

    bench_fleet_guid(f, j, in->guid, sizeof(in->guid));
    in->index = (int32_t)(g % f->per_lrp);
    snprintf(in->ig, sizeof(in->ig), "%08" PRIx32 "-0000-4000-8000-%012" PRIx64, f->hash, g);
    bench_fleet_cell(f, c, in->cell, sizeof(in->cell));
    snprintf(in->addr, sizeof(in->addr), "10.%d.%d.%d", (c >> 16) & 255, (c >> 8) & 255, c & 255);
    snprintf(in->iaddr, sizeof(in->iaddr), "10.255.%d.%d", (int)((g >> 8) & 255), (int)(g & 255));
    snprintf(in->route, sizeof(in->route), "app-%" PRId64 "-%s.apps.internal", j, f->name);
    snprintf(in->index_str, sizeof(in->index_str), "%d", (int)in->index);
    in->host_port = 61000 + (uint32_t)(g % 2000) * 2;
}

int64_t bench_fleet_parse(const struct bench_fleet *f, const char *guid, int32_t index)
{
    size_t nl = strlen(f->name);
    char *end;
    long long j;

    if (guid == NULL || strncmp(guid, f->name, nl) != 0 || guid[nl] != '-') {
        return -1;
    }
    j = strtoll(guid + nl + 1, &end, 10);
    if (end != guid + nl + 13 || strcmp(end, "-" GUID_TAIL) != 0 || j < 0 || index < 0 ||
        index >= f->per_lrp) {
        return -1;
    }
    return (int64_t)j * f->per_lrp + index;
}

void bench_start_msg_init(struct bench_start_msg *m, const struct bench_inst *in)
{
    static const Models__StartActualLRPRequest req_init = MODELS__START_ACTUAL_LRPREQUEST__INIT;
    static const Models__ActualLRPKey key_init = MODELS__ACTUAL_LRPKEY__INIT;
    static const Models__ActualLRPInstanceKey ik_init = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;
    static const Models__ActualLRPNetInfo net_init = MODELS__ACTUAL_LRPNET_INFO__INIT;
    static const Models__PortMapping port_init = MODELS__PORT_MAPPING__INIT;
    static const Models__ActualLRPInternalRoute route_init = MODELS__ACTUAL_LRPINTERNAL_ROUTE__INIT;
    static const Models__StartActualLRPRequest__MetricTagsEntry tag_init =
        MODELS__START_ACTUAL_LRPREQUEST__METRIC_TAGS_ENTRY__INIT;

    m->req = req_init;
    m->key = key_init;
    m->ik = ik_init;
    m->net = net_init;
    m->route = route_init;

    m->key.process_guid = (char *)in->guid;
    m->key.index = in->index;
    m->key.domain = S(BENCH_DOMAIN);
    m->ik.instance_guid = (char *)in->ig;
    m->ik.cell_id = (char *)in->cell;

    /* The app port and the ssh port, each behind the cell's TLS proxy, as a CF cell reports. */
    for (int i = 0; i < 2; i++) {
        m->port[i] = port_init;
        m->port[i].container_port = i == 0 ? 8080 : 2222;
        m->port[i].host_port = in->host_port + (uint32_t)i;
        m->port[i].container_tls_proxy_port = i == 0 ? 61001 : 61002;
        m->port[i].host_tls_proxy_port = in->host_port + 4000 + (uint32_t)i;
        m->ports[i] = &m->port[i];
    }
    m->net.address = (char *)in->addr;
    m->net.n_ports = 2;
    m->net.ports = m->ports;
    m->net.instance_address = (char *)in->iaddr;
    m->net.preferred_address = MODELS__ACTUAL_LRPNET_INFO__PREFERRED_ADDRESS__HOST;

    m->route.hostname = (char *)in->route;
    m->routes[0] = &m->route;

    for (int i = 0; i < 3; i++) {
        m->tag[i] = tag_init;
        m->tags[i] = &m->tag[i];
    }
    m->tag[0].key = S("source_id");
    m->tag[0].value = (char *)in->guid;
    m->tag[1].key = S("instance_id");
    m->tag[1].value = (char *)in->index_str;
    m->tag[2].key = S("process_instance_id");
    m->tag[2].value = (char *)in->ig;

    m->req.actual_lrp_key = &m->key;
    m->req.actual_lrp_instance_key = &m->ik;
    m->req.actual_lrp_net_info = &m->net;
    m->req.n_actual_lrp_internal_routes = 1;
    m->req.actual_lrp_internal_routes = m->routes;
    m->req.n_metric_tags = 3;
    m->req.metric_tags = m->tags;
    m->req.availability_zone = S("z1");
    m->req.optional_routable_case = MODELS__START_ACTUAL_LRPREQUEST__OPTIONAL_ROUTABLE_ROUTABLE;
    m->req.routable = 1;
}

void bench_claim_msg_init(struct bench_claim_msg *m, const struct bench_inst *in)
{
    static const Models__ClaimActualLRPRequest req_init = MODELS__CLAIM_ACTUAL_LRPREQUEST__INIT;
    static const Models__ActualLRPInstanceKey ik_init = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;

    m->req = req_init;
    m->ik = ik_init;
    m->ik.instance_guid = (char *)in->ig;
    m->ik.cell_id = (char *)in->cell;
    m->req.process_guid = (char *)in->guid;
    m->req.index = in->index;
    m->req.actual_lrp_instance_key = &m->ik;
}

void bench_desire_msg_init(struct bench_desire_msg *m, const struct bench_fleet *f, int64_t j,
                           int32_t instances)
{
    static const Models__DesireLRPRequest req_init = MODELS__DESIRE_LRPREQUEST__INIT;
    static const Models__DesiredLRP lrp_init = MODELS__DESIRED_LRP__INIT;
    static const Models__Action action_init = MODELS__ACTION__INIT;
    static const Models__RunAction run_init = MODELS__RUN_ACTION__INIT;
    static const Models__EnvironmentVariable env_init = MODELS__ENVIRONMENT_VARIABLE__INIT;
    static const Models__DesiredLRP__MetricTagsEntry tag_init =
        MODELS__DESIRED_LRP__METRIC_TAGS_ENTRY__INIT;
    static const Models__MetricTagValue value_init = MODELS__METRIC_TAG_VALUE__INIT;
    static const Models__ProtoRoutes routes_init = MODELS__PROTO_ROUTES__INIT;
    static const Models__ProtoRoutes__RoutesEntry entry_init =
        MODELS__PROTO_ROUTES__ROUTES_ENTRY__INIT;
    int n;

    m->req = req_init;
    m->lrp = lrp_init;
    m->action = action_init;
    m->run = run_init;
    m->tag = tag_init;
    m->tag_value = value_init;
    m->routes = routes_init;
    m->route = entry_init;

    bench_fleet_guid(f, j, m->guid, sizeof(m->guid));
    snprintf(m->log_guid, sizeof(m->log_guid), "%08" PRIx32 "-0000-4000-9000-%012" PRIx64, f->hash,
             j);
    n = snprintf(m->route_json, sizeof(m->route_json),
                 "[{\"hostnames\":[\"app-%" PRId64 "-%s.example.com\"],\"port\":8080}]", j,
                 f->name);

    m->args[0] = S("app");
    m->args[1] = S("bundle exec rackup config.ru -p $PORT");
    m->args[2] = S("{}");
    for (int i = 0; i < 2; i++) {
        m->env[i] = env_init;
        m->envp[i] = &m->env[i];
    }
    m->env[0].name = S("LANG");
    m->env[0].value = S("en_US.UTF-8");
    m->env[1].name = S("PORT");
    m->env[1].value = S("8080");
    m->run.path = S("/tmp/lifecycle/launcher");
    m->run.n_args = 3;
    m->run.args = m->args;
    m->run.n_env = 2;
    m->run.env = m->envp;
    m->run.user = S("vcap");
    m->run.log_source = S("APP/PROC/WEB");
    m->action.run_action = &m->run;

    m->tag_value.static_ = m->guid;
    m->tag.key = S("source_id");
    m->tag.value = &m->tag_value;
    m->tags[0] = &m->tag;

    m->route.key = S("cf-router");
    m->route.value.data = (uint8_t *)m->route_json;
    m->route.value.len = n > 0 ? (size_t)n : 0;
    m->route_entries[0] = &m->route;
    m->routes.n_routes = 1;
    m->routes.routes = m->route_entries;
    m->ports[0] = 8080;

    m->lrp.process_guid = m->guid;
    m->lrp.domain = S(BENCH_DOMAIN);
    m->lrp.root_fs = S("preloaded:cflinuxfs4");
    m->lrp.instances = instances;
    m->lrp.action = &m->action;
    m->lrp.memory_mb = 256;
    m->lrp.disk_mb = 1024;
    m->lrp.max_pids = 1024;
    m->lrp.cpu_weight = 10;
    m->lrp.n_ports = 1;
    m->lrp.ports = m->ports;
    m->lrp.routes = &m->routes;
    m->lrp.log_guid = m->log_guid;
    m->lrp.log_source = S("CELL");
    m->lrp.start_timeout_ms = 60000;
    m->lrp.n_metric_tags = 1;
    m->lrp.metric_tags = m->tags;
    m->req.desired_lrp = &m->lrp;
}

/* ---- runners ------------------------------------------------------------------------- */

struct desire_run {
    const struct bench_fleet *f;
    int64_t next;
    int64_t to;
    struct bench_errs *errs;
    uint64_t requests;
};

static void desire_next(struct bench_conn *c)
{
    struct desire_run *r = c->ud;
    struct bench_desire_msg m;

    if (r->next >= r->to) {
        return;
    }
    bench_desire_msg_init(&m, r->f, r->next++, r->f->per_lrp);
    bench_conn_post(c, "/v1/desired_lrp/desire.r2", &m.req.base);
}

static void desire_done(struct bench_conn *c)
{
    struct desire_run *r = c->ud;

    r->requests++;
    (void)bench_wire_check(c, "desire", 0, NULL, r->errs);
    desire_next(c);
}

uint64_t bench_fleet_desire(struct bench_http *h, const struct bench_fleet *f, int64_t from,
                            int64_t to, int k, struct bench_errs *errs)
{
    struct desire_run r = {.f = f, .next = from, .to = to, .errs = errs};
    struct bench_conn **conns = calloc((size_t)k, sizeof(*conns));

    if (conns == NULL) {
        abort();
    }
    for (int i = 0; i < k; i++) {
        conns[i] = bench_conn_new(h, 0, desire_done, &r);
        desire_next(conns[i]);
    }
    bench_http_run(h, NULL, NULL);
    for (int i = 0; i < k; i++) {
        bench_conn_free(conns[i]);
    }
    free(conns);
    return r.requests;
}

enum pair_phase { PAIR_CLAIM, PAIR_START };

struct pair_run {
    const struct bench_fleet *f;
    int64_t next;
    int64_t to;
    struct bench_lat *lat;
    struct bench_errs *errs;
    uint64_t pairs;
    uint64_t requests;
};

/* One client: its current instance (conn->tag), phase and the pair's start time. */
struct pair_slot {
    struct pair_run *run;
    enum pair_phase phase;
    int64_t t0_ns;
};

static void pair_next(struct bench_conn *c)
{
    struct pair_slot *s = c->ud;
    struct bench_inst in;
    struct bench_claim_msg m;

    if (s->run->next >= s->run->to) {
        return;
    }
    c->tag = s->run->next++;
    bench_fleet_inst(s->run->f, c->tag, &in);
    bench_claim_msg_init(&m, &in);
    s->phase = PAIR_CLAIM;
    bench_conn_post(c, "/v1/actual_lrps/claim", &m.req.base);
    s->t0_ns = c->t0_ns;
}

static void pair_done(struct bench_conn *c)
{
    struct pair_slot *s = c->ud;
    struct pair_run *r = s->run;

    r->requests++;
    if (s->phase == PAIR_CLAIM) {
        if (bench_wire_check(c, "claim", 0, NULL, r->errs) == 0) {
            struct bench_inst in;
            struct bench_start_msg m;

            bench_fleet_inst(r->f, c->tag, &in);
            bench_start_msg_init(&m, &in);
            s->phase = PAIR_START;
            bench_conn_post(c, "/v1/actual_lrps/start.r1", &m.req.base);
            return;
        }
    } else if (bench_wire_check(c, "start", 0, NULL, r->errs) == 0) {
        r->pairs++;
        if (r->lat != NULL) {
            bench_lat_add(r->lat, c->t0_ns + c->latency_ns - s->t0_ns);
        }
    }
    pair_next(c);
}

uint64_t bench_fleet_claimstart(struct bench_http *h, const struct bench_fleet *f, int64_t from,
                                int64_t to, int k, struct bench_lat *lat, struct bench_errs *errs,
                                uint64_t *requests, void (*ready)(void *ud), void *ready_ud)
{
    struct pair_run r = {.f = f, .next = from, .to = to, .lat = lat, .errs = errs};
    struct pair_slot *slots = calloc((size_t)k, sizeof(*slots));
    struct bench_conn **conns = calloc((size_t)k, sizeof(*conns));

    if (slots == NULL || conns == NULL) {
        abort();
    }
    for (int i = 0; i < k; i++) {
        slots[i].run = &r;
        conns[i] = bench_conn_new(h, 0, pair_done, &slots[i]);
    }
    if (ready != NULL) {
        int failed = bench_conns_open(conns, k);

        if (failed > 0) {
            errs->wire += (uint64_t)failed;
            if (errs->first[0] == '\0') {
                snprintf(errs->first, sizeof(errs->first), "opening %d of %d connections failed",
                         failed, k);
            }
        }
        ready(ready_ud);
    }
    for (int i = 0; i < k; i++) {
        pair_next(conns[i]);
    }
    bench_http_run(h, NULL, NULL);
    for (int i = 0; i < k; i++) {
        bench_conn_free(conns[i]);
    }
    free(conns);
    free(slots);
    if (requests != NULL) {
        *requests = r.requests;
    }
    return r.pairs;
}
