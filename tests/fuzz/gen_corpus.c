/*
 * gen_corpus.c - write the fuzz seed corpus: valid requests for every
 * route (fuzz_decode), real-world route JSON values (fuzz_routejson),
 * the blobs the store keeps for such requests (fuzz_rows), cell
 * presence values as Locket holds them (fuzz_presence) and event
 * streams as the server sends them (fuzz_sse).
 *
 *   fuzz_gen_corpus DIR      writes DIR/fuzz_decode/..., DIR/fuzz_routejson/..., DIR/fuzz_rows/...
 *
 * Output is deterministic; tests/fuzz/corpus/ holds what it wrote, so
 * rerun it after changing a request shape and commit the difference.
 * fuzz_decode seeds are "<route byte><protobuf body>"; the route byte
 * indexes the table in fuzz_decode.c, whose order this file follows.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "actual_lrp_requests.pb-c.h"
#include "bbs/arena.h"
#include "bbs/codec.h"
#include "bbs/dlrp_codec.h"
#include "desired_lrp.pb-c.h"
#include "domains.pb-c.h"
#include "evacuation.pb-c.h"
#include "events.pb-c.h"
#include "support/dlrp_full.h"
#include "task.pb-c.h"

#define S(lit)          ((char *)(lit))
#define NEW(a, T, INIT) ((T *)bbs_arena_memdup((a), &(T)INIT, sizeof(T)))

static const char *out_dir;
static int failed;

static void write_file(const char *target, const char *name, const uint8_t *p, size_t n)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", out_dir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        failed = 1;
        return;
    }
    snprintf(path, sizeof(path), "%s/%s/%s", out_dir, target, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        failed = 1;
    }
}

/* A fuzz_decode seed: route byte (with `variant` in the high bits) + packed message. */
static void seed(struct bbs_arena *a, const char *name, unsigned route, unsigned variant,
                 const ProtobufCMessage *m)
{
    size_t n = 0;
    uint8_t *body = m != NULL ? bbs_codec_pack(a, m, &n) : NULL;
    uint8_t *buf = malloc(n + 1);

    if (buf == NULL) {
        abort();
    }
    buf[0] = (uint8_t)((variant << 5) | route);
    if (n > 0) {
        memcpy(buf + 1, body, n);
    }
    write_file("fuzz_decode", name, buf, n + 1);
    free(buf);
}

static Models__ActualLRPKey *akey(struct bbs_arena *a)
{
    Models__ActualLRPKey *k = NEW(a, Models__ActualLRPKey, MODELS__ACTUAL_LRPKEY__INIT);

    k->process_guid = S("pg-1");
    k->index = 0;
    k->domain = S("cf-apps");
    return k;
}

static Models__ActualLRPInstanceKey *ikey(struct bbs_arena *a)
{
    Models__ActualLRPInstanceKey *k =
        NEW(a, Models__ActualLRPInstanceKey, MODELS__ACTUAL_LRPINSTANCE_KEY__INIT);

    k->instance_guid = S("ig-1");
    k->cell_id = S("cell-1");
    return k;
}

static Models__ActualLRPNetInfo *net(struct bbs_arena *a)
{
    Models__ActualLRPNetInfo *n =
        NEW(a, Models__ActualLRPNetInfo, MODELS__ACTUAL_LRPNET_INFO__INIT);
    Models__PortMapping *pm = NEW(a, Models__PortMapping, MODELS__PORT_MAPPING__INIT);

    n->address = S("10.0.0.1");
    n->instance_address = S("10.255.0.9");
    pm->container_port = 8080;
    pm->host_port = 61000;
    pm->container_tls_proxy_port = 61443;
    pm->host_tls_proxy_port = 61001;
    n->n_ports = 1;
    n->ports = bbs_arena_memdup(a, &pm, sizeof(pm));
    n->preferred_address = MODELS__ACTUAL_LRPNET_INFO__PREFERRED_ADDRESS__INSTANCE;
    return n;
}

static Models__ActualLRPInternalRoute **iroutes(struct bbs_arena *a)
{
    Models__ActualLRPInternalRoute *r =
        NEW(a, Models__ActualLRPInternalRoute, MODELS__ACTUAL_LRPINTERNAL_ROUTE__INIT);

    r->hostname = S("app.apps.internal");
    return bbs_arena_memdup(a, &r, sizeof(r));
}

static Models__ProtoRoutes *proto_routes(struct bbs_arena *a)
{
    static const char *const keys[] = {"cf-router", "tcp-router", "internal-router"};
    static const char *const values[] = {
        "[{\"hostnames\":[\"a.example.com\"],\"port\":8080,\"route_service_url\":null}]",
        "[{\"external_port\":1024,\"container_port\":5222,\"router_group_guid\":\"rg\"}]",
        "[{\"hostname\":\"app.apps.internal\"}]",
    };
    Models__ProtoRoutes *r = NEW(a, Models__ProtoRoutes, MODELS__PROTO_ROUTES__INIT);

    r->n_routes = 3;
    r->routes = bbs_arena_alloc(a, 3 * sizeof(*r->routes));
    for (size_t i = 0; i < 3; i++) {
        r->routes[i] =
            NEW(a, Models__ProtoRoutes__RoutesEntry, MODELS__PROTO_ROUTES__ROUTES_ENTRY__INIT);
        r->routes[i]->key = S(keys[i]);
        r->routes[i]->value.data = (uint8_t *)S(values[i]);
        r->routes[i]->value.len = strlen(values[i]);
    }
    return r;
}

/* The DesiredLRP with every field (seed 001, support/dlrp_full.h). */
static Models__DesiredLRP *desired_lrp(struct bbs_arena *a)
{
    return it_dlrp_full(bbs_arena_pb_allocator(a), "pg-1", "cf-apps", 2);
}

static void decode_seeds(struct bbs_arena *a)
{
    Models__ActualLRPsRequest list = MODELS__ACTUAL_LRPS_REQUEST__INIT;
    Models__ActualLRPsByProcessGuidsRequest by_guids =
        MODELS__ACTUAL_LRPS_BY_PROCESS_GUIDS_REQUEST__INIT;
    Models__ActualLRPGroupsRequest groups = MODELS__ACTUAL_LRPGROUPS_REQUEST__INIT;
    Models__ActualLRPGroupsByProcessGuidRequest groups_guid =
        MODELS__ACTUAL_LRPGROUPS_BY_PROCESS_GUID_REQUEST__INIT;
    Models__ActualLRPGroupByProcessGuidAndIndexRequest group_index =
        MODELS__ACTUAL_LRPGROUP_BY_PROCESS_GUID_AND_INDEX_REQUEST__INIT;
    Models__ClaimActualLRPRequest claim = MODELS__CLAIM_ACTUAL_LRPREQUEST__INIT;
    Models__StartActualLRPRequest start = MODELS__START_ACTUAL_LRPREQUEST__INIT;
    Models__StartActualLRPRequest__MetricTagsEntry stag =
        MODELS__START_ACTUAL_LRPREQUEST__METRIC_TAGS_ENTRY__INIT;
    Models__StartActualLRPRequest__MetricTagsEntry *stags[1] = {&stag};
    Models__CrashActualLRPRequest crash = MODELS__CRASH_ACTUAL_LRPREQUEST__INIT;
    Models__FailActualLRPRequest fail = MODELS__FAIL_ACTUAL_LRPREQUEST__INIT;
    Models__RemoveActualLRPRequest remove = MODELS__REMOVE_ACTUAL_LRPREQUEST__INIT;
    Models__RetireActualLRPRequest retire = MODELS__RETIRE_ACTUAL_LRPREQUEST__INIT;
    Models__EvacuateClaimedActualLRPRequest ev_claimed =
        MODELS__EVACUATE_CLAIMED_ACTUAL_LRPREQUEST__INIT;
    Models__EvacuateCrashedActualLRPRequest ev_crashed =
        MODELS__EVACUATE_CRASHED_ACTUAL_LRPREQUEST__INIT;
    Models__EvacuateStoppedActualLRPRequest ev_stopped =
        MODELS__EVACUATE_STOPPED_ACTUAL_LRPREQUEST__INIT;
    Models__EvacuateRunningActualLRPRequest ev_running =
        MODELS__EVACUATE_RUNNING_ACTUAL_LRPREQUEST__INIT;
    Models__EvacuateRunningActualLRPRequest__MetricTagsEntry etag =
        MODELS__EVACUATE_RUNNING_ACTUAL_LRPREQUEST__METRIC_TAGS_ENTRY__INIT;
    Models__EvacuateRunningActualLRPRequest__MetricTagsEntry *etags[1] = {&etag};
    Models__RemoveEvacuatingActualLRPRequest ev_remove =
        MODELS__REMOVE_EVACUATING_ACTUAL_LRPREQUEST__INIT;
    Models__DesireLRPRequest desire = MODELS__DESIRE_LRPREQUEST__INIT;
    Models__UpdateDesiredLRPRequest update = MODELS__UPDATE_DESIRED_LRPREQUEST__INIT;
    Models__DesiredLRPUpdate upd = MODELS__DESIRED_LRPUPDATE__INIT;
    Models__DesiredLRPUpdate__MetricTagsEntry utag =
        MODELS__DESIRED_LRPUPDATE__METRIC_TAGS_ENTRY__INIT;
    Models__DesiredLRPUpdate__MetricTagsEntry *utags[1] = {&utag};
    Models__MetricTagValue uval = MODELS__METRIC_TAG_VALUE__INIT;
    Models__RemoveDesiredLRPRequest remove_dlrp = MODELS__REMOVE_DESIRED_LRPREQUEST__INIT;
    Models__DesiredLRPsRequest dlist = MODELS__DESIRED_LRPS_REQUEST__INIT;
    Models__DesiredLRPByProcessGuidRequest dget = MODELS__DESIRED_LRPBY_PROCESS_GUID_REQUEST__INIT;
    Models__UpsertDomainRequest domain = MODELS__UPSERT_DOMAIN_REQUEST__INIT;
    static const char *const guids[] = {"pg-1", "pg-2"};

    list.domain = S("cf-apps");
    list.cell_id = S("cell-1");
    list.process_guid = S("pg-1");
    list.optional_index_case = MODELS__ACTUAL_LRPS_REQUEST__OPTIONAL_INDEX_INDEX;
    list.index = 1;
    seed(a, "00-actual-list", 0, 0, &list.base);
    by_guids.n_process_guids = 2;
    by_guids.process_guids = (char **)guids;
    seed(a, "01-actual-by-guids", 1, 0, &by_guids.base);
    groups.domain = S("cf-apps");
    seed(a, "02-groups-list", 2, 0, &groups.base);
    groups_guid.process_guid = S("pg-1");
    seed(a, "03-groups-by-guid", 3, 0, &groups_guid.base);
    group_index.process_guid = S("pg-1");
    group_index.index = 2;
    seed(a, "04-group-by-index", 4, 0, &group_index.base);

    claim.process_guid = S("pg-1");
    claim.actual_lrp_instance_key = ikey(a);
    seed(a, "05-claim", 5, 0, &claim.base);

    start.actual_lrp_key = akey(a);
    start.actual_lrp_instance_key = ikey(a);
    start.actual_lrp_net_info = net(a);
    start.n_actual_lrp_internal_routes = 1;
    start.actual_lrp_internal_routes = iroutes(a);
    stag.key = S("source_id");
    stag.value = S("app-guid");
    start.n_metric_tags = 1;
    start.metric_tags = stags;
    start.availability_zone = S("z1");
    start.optional_routable_case = MODELS__START_ACTUAL_LRPREQUEST__OPTIONAL_ROUTABLE_ROUTABLE;
    start.routable = 1;
    seed(a, "06-start-r1", 6, 0, &start.base);
    seed(a, "07-start", 7, 0, &start.base);

    crash.actual_lrp_key = akey(a);
    crash.actual_lrp_instance_key = ikey(a);
    crash.error_message = S("Exited with status 1 (out of memory)");
    seed(a, "08-crash", 8, 0, &crash.base);
    seed(a, "08-crash-count3", 8, 3, &crash.base);
    seed(a, "08-crash-count200", 8, 6, &crash.base);
    fail.actual_lrp_key = akey(a);
    fail.error_message = S("found no compatible cell");
    seed(a, "09-fail", 9, 0, &fail.base);
    remove.process_guid = S("pg-1");
    remove.actual_lrp_instance_key = ikey(a);
    seed(a, "10-remove", 10, 0, &remove.base);
    remove.actual_lrp_instance_key = NULL;
    seed(a, "10-remove-any", 10, 0, &remove.base);
    retire.actual_lrp_key = akey(a);
    seed(a, "11-retire", 11, 0, &retire.base);

    ev_claimed.actual_lrp_key = akey(a);
    ev_claimed.actual_lrp_instance_key = ikey(a);
    seed(a, "12-evacuate-claimed", 12, 0, &ev_claimed.base);
    ev_crashed.actual_lrp_key = akey(a);
    ev_crashed.actual_lrp_instance_key = ikey(a);
    ev_crashed.error_message = S("crashed while draining");
    seed(a, "13-evacuate-crashed", 13, 0, &ev_crashed.base);
    ev_stopped.actual_lrp_key = akey(a);
    ev_stopped.actual_lrp_instance_key = ikey(a);
    seed(a, "14-evacuate-stopped", 14, 0, &ev_stopped.base);
    ev_running.actual_lrp_key = akey(a);
    ev_running.actual_lrp_instance_key = ikey(a);
    ev_running.actual_lrp_net_info = net(a);
    ev_running.n_actual_lrp_internal_routes = 1;
    ev_running.actual_lrp_internal_routes = iroutes(a);
    etag.key = S("source_id");
    etag.value = S("app-guid");
    ev_running.n_metric_tags = 1;
    ev_running.metric_tags = etags;
    ev_running.availability_zone = S("z1");
    seed(a, "15-evacuate-running-r1", 15, 0, &ev_running.base);
    seed(a, "16-evacuate-running", 16, 0, &ev_running.base);
    ev_remove.actual_lrp_key = akey(a);
    ev_remove.actual_lrp_instance_key = ikey(a);
    seed(a, "17-remove-evacuating", 17, 0, &ev_remove.base);

    desire.desired_lrp = desired_lrp(a);
    seed(a, "18-desire", 18, 0, &desire.base);
    update.process_guid = S("pg-1");
    update.update = &upd;
    upd.routes = proto_routes(a);
    upd.optional_instances_case = MODELS__DESIRED_LRPUPDATE__OPTIONAL_INSTANCES_INSTANCES;
    upd.instances = 3;
    upd.optional_annotation_case = MODELS__DESIRED_LRPUPDATE__OPTIONAL_ANNOTATION_ANNOTATION;
    upd.annotation = S("new note");
    upd.optional_image_username_case =
        MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_USERNAME_IMAGE_USERNAME;
    upd.image_username = S("user2");
    upd.optional_image_password_case =
        MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_PASSWORD_IMAGE_PASSWORD;
    upd.image_password = S("secret2");
    uval.static_ = S("mg2");
    utag.key = S("source_id");
    utag.value = &uval;
    upd.n_metric_tags = 1;
    upd.metric_tags = utags;
    seed(a, "19-update", 19, 0, &update.base);
    remove_dlrp.process_guid = S("pg-1");
    seed(a, "20-remove-desired", 20, 0, &remove_dlrp.base);
    dlist.domain = S("cf-apps");
    dlist.n_process_guids = 2;
    dlist.process_guids = (char **)guids;
    seed(a, "21-desired-list", 21, 0, &dlist.base);
    dget.process_guid = S("pg-1");
    seed(a, "22-desired-get", 22, 0, &dget.base);
    domain.domain = S("cf-apps");
    domain.ttl = 120;
    seed(a, "23-domains-upsert", 23, 0, &domain.base);
    seed(a, "24-empty-claim", 5, 0, NULL);
}

static void routejson_seeds(void)
{
    static const char *const values[] = {
        ("[{\"hostnames\":[\"a.example.com\",\"b.example.com\"],\"port\":8080,"
         "\"route_service_url\":null,\"isolation_segment\":\"\"}]"),
        "[{\"external_port\":1024,\"container_port\":5222,\"router_group_guid\":\"rg\"}]",
        " { \"a\" : [ 1 , -2.5e+10 , true , false , null , \"<&>\" ] } ",
        "\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t\"",
        "\"\xe2\x80\xa8\xe2\x80\xa9\"",
        "[[[[[[[[[[]]]]]]]]]]",
        "{\"dup\":1,\"dup\":2}",
        "0",
    };

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char name[32];

        snprintf(name, sizeof(name), "route-%02zu", i);
        write_file("fuzz_routejson", name, (const uint8_t *)values[i], strlen(values[i]));
    }
}

/* fuzz_presence seeds: presences as reps write them, and the edges of Go's decoder. */
static void presence_seeds(void)
{
    static const char *const values[] = {
        ("{\"cell_id\":\"cell_z1-0\",\"rep_address\":\"http://10.0.16.5:1800\",\"zone\":\"z1\","
         "\"capacity\":{\"memory_mb\":16384,\"disk_mb\":65536,\"containers\":250},"
         "\"rootfs_provider_list\":[{\"name\":\"preloaded\",\"properties\":"
         "[\"cflinuxfs4@1.2.3\"]},{\"name\":\"extra\"},{\"name\":\"docker\"}],"
         "\"placement_tags\":[\"a\"],\"optional_placement_tags\":[\"b\"],"
         "\"rep_url\":\"https://cell-z1-0.cell.service.cf.internal:1801\",\"annotations\":{}}"),
        "{\"cell_id\":\"c\",\"rep_address\":\"a\",\"zone\":\"z\"}",
        "{\"CELL_ID\":\"c\",\"Capacity\":{\"Memory_MB\":1},\"x\":[{}]}",
        "{\"cell_id\":null,\"placement_tags\":[null],\"rootfs_provider_list\":[null]}",
        "{\"capacity\":{\"memory_mb\":2147483648}}",
        "{\"annotations\":{\"k\":\"v\",\"k\":\"w\"}}",
        "null",
        "{\"cell_id\":\"a\\u0000b\"}",
    };

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char name[32];

        snprintf(name, sizeof(name), "presence-%02zu", i);
        write_file("fuzz_presence", name, (const uint8_t *)values[i], strlen(values[i]));
    }
}

/* fuzz_rows seeds: the blobs the store keeps for the seed requests, split by FF FF. */
static void rows_seeds(struct bbs_arena *a)
{
    Models__DesiredLRP *d = desired_lrp(a);
    struct bbs_dlrp_row row;
    struct bbs_error err = {0};
    struct bbs_kv kv[2] = {{"source_id", "app"}, {"instance_id", "1"}};
    Models__ActualLRPInternalRoute **ir = iroutes(a);
    struct bbs_blob blobs[3];
    uint8_t buf[65536];
    size_t n;

    if (bbs_dlrp_split(a, d, 1, &row, &err) != 0) {
        fprintf(stderr, "gen_corpus: split: %s\n", err.message);
        failed = 1;
        return;
    }
    for (unsigned sel = 0; sel < 5; sel++) {
        const struct bbs_blob *parts[4] = {&row.run_info, &row.routes, &row.metric_tags,
                                           &row.placement_tags};
        char name[32];

        n = 0;
        buf[n++] = (uint8_t)sel;
        for (size_t i = 0; i < 4; i++) {
            if (i > 0) {
                buf[n++] = 0xff;
                buf[n++] = 0xff;
            }
            if (n + parts[(i + 5 - sel) % 4]->len > sizeof(buf)) {
                abort();
            }
            memcpy(buf + n, parts[(i + 5 - sel) % 4]->data, parts[(i + 5 - sel) % 4]->len);
            n += parts[(i + 5 - sel) % 4]->len;
        }
        snprintf(name, sizeof(name), "desired-%u", sel);
        write_file("fuzz_rows", name, buf, n);
    }
    blobs[0] = bbs_codec_net_info(a, net(a));
    blobs[1] = bbs_codec_internal_routes(a, ir, 1, 1);
    blobs[2] = bbs_codec_string_map(a, kv, 2, 1);
    n = 0;
    buf[n++] = 1;
    for (size_t i = 0; i < 3; i++) {
        if (i > 0) {
            buf[n++] = 0xff;
            buf[n++] = 0xff;
        }
        memcpy(buf + n, blobs[i].data, blobs[i].len);
        n += blobs[i].len;
    }
    write_file("fuzz_rows", "actual-running", buf, n);
}

/* ---- fuzz_sse: "<control byte><stream bytes>", see fuzz_sse.c -------------------------- */

static size_t b64(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);

        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    return o;
}

/* Append one record as one chunk in upstream's framing ("<hex>;\r\n<record>\r\n"). */
static size_t sse_chunk(uint8_t *buf, size_t at, unsigned id, const char *event,
                        const ProtobufCMessage *m)
{
    uint8_t pb[1024];
    char rec[2048];
    size_t pn = m != NULL ? protobuf_c_message_pack(m, pb) : 0;
    int n = snprintf(rec, sizeof(rec), "id: %u\nevent: %s\ndata: ", id, event);

    n += (int)b64(pb, pn, rec + n);
    n += snprintf(rec + n, sizeof(rec) - (size_t)n, "\n\n");
    at += (size_t)sprintf((char *)buf + at, "%x;\r\n", (unsigned)n);
    memcpy(buf + at, rec, (size_t)n);
    at += (size_t)n;
    memcpy(buf + at, "\r\n", 2);
    return at + 2;
}

static void sse_seeds(struct bbs_arena *a)
{
    static const char head[] =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
        "Cache-Control: no-cache, no-store, must-revalidate\r\n"
        "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n";
    Models__ActualLRPInstanceChangedEvent ch = MODELS__ACTUAL_LRPINSTANCE_CHANGED_EVENT__INIT;
    Models__ActualLRPInfo before = MODELS__ACTUAL_LRPINFO__INIT;
    Models__ActualLRPInfo after = MODELS__ACTUAL_LRPINFO__INIT;
    Models__ActualLRPCrashedEvent cr = MODELS__ACTUAL_LRPCRASHED_EVENT__INIT;
    Models__ActualLRPInstanceCreatedEvent cre = MODELS__ACTUAL_LRPINSTANCE_CREATED_EVENT__INIT;
    Models__ActualLRP lrp = MODELS__ACTUAL_LRP__INIT;
    uint8_t buf[8192];
    size_t n;

    before.state = S("RUNNING");
    after.state = S("CLAIMED");
    after.actual_lrp_net_info = net(a);
    ch.actual_lrp_key = akey(a);
    ch.actual_lrp_instance_key = ikey(a);
    ch.before = &before;
    ch.after = &after;
    cr.actual_lrp_key = akey(a);
    cr.actual_lrp_instance_key = ikey(a);
    cr.crash_count = 1;
    cr.crash_reason = S("boom");
    lrp.actual_lrp_key = akey(a);
    lrp.actual_lrp_instance_key = ikey(a);
    lrp.state = S("UNCLAIMED");
    cre.actual_lrp = &lrp;

    /* Bit 0 of the control byte: the driver adds a 200 head itself. */
    buf[0] = 0x01;
    n = sse_chunk(buf, 1, 0, "actual_lrp_instance_changed", &ch.base);
    write_file("fuzz_sse", "00-one-changed", buf, n);

    buf[0] = 0x41;
    n = sse_chunk(buf, 1, 1, "actual_lrp_crashed", &cr.base);
    memcpy(buf + n, "3;\r\n:\n\n\r\n", 10); /* a heartbeat comment */
    n = sse_chunk(buf, n + 10, 2, "actual_lrp_instance_changed", &ch.base);
    n = sse_chunk(buf, n, 3, "actual_lrp_instance_created", &cre.base);
    write_file("fuzz_sse", "01-crash-heartbeat-changed-created", buf, n);

    buf[0] = 0x21;
    n = sse_chunk(buf, 1, 5, "desired_lrp_removed", NULL);
    memcpy(buf + n, "0\r\n\r\n", 5); /* the server ends the stream */
    write_file("fuzz_sse", "02-end", buf, n + 5);

    /* The driver adds no head: the seed carries the server's whole answer. */
    buf[0] = 0x00;
    memcpy(buf + 1, head, sizeof(head) - 1);
    n = sse_chunk(buf, sizeof(head), 0, "actual_lrp_instance_changed", &ch.base);
    write_file("fuzz_sse", "03-full-head", buf, n);

    n = (size_t)snprintf((char *)buf, sizeof(buf), "%c%s", 0x00,
                         "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
    write_file("fuzz_sse", "04-error-status", buf, n);
}

/* fuzz_task_definition: stored TaskDefinitions (plain, with layers of both kinds, broken). */
static void task_seeds(struct bbs_arena *a)
{
    Models__TaskDefinition d = MODELS__TASK_DEFINITION__INIT;
    Models__Action act = MODELS__ACTION__INIT;
    Models__RunAction run = MODELS__RUN_ACTION__INIT;
    Models__ImageLayer shared = MODELS__IMAGE_LAYER__INIT;
    Models__ImageLayer excl = MODELS__IMAGE_LAYER__INIT;
    Models__ImageLayer *layers[2] = {&shared, &excl};
    Models__VolumeMount vm = MODELS__VOLUME_MOUNT__INIT;
    Models__VolumeMount *vms[1] = {&vm};
    char *tags[1] = {(char *)"zone"};
    uint8_t *p;
    size_t n;

    run.path = (char *)"/bin/true";
    run.user = (char *)"vcap";
    act.run_action = &run;
    d.root_fs = (char *)"preloaded:cflinuxfs4";
    d.action = &act;
    d.memory_mb = 256;
    d.disk_mb = 1024;
    d.completion_callback_url = (char *)"http://cc/cb";
    d.annotation = (char *)"note";
    p = bbs_codec_pack(a, &d.base, &n);
    write_file("fuzz_task_definition", "plain", p, n);
    shared.name = (char *)"s";
    shared.url = (char *)"https://l/s";
    shared.destination_path = (char *)"/s";
    shared.layer_type = MODELS__IMAGE_LAYER__TYPE__SHARED;
    excl.name = (char *)"x";
    excl.url = (char *)"https://l/x";
    excl.destination_path = (char *)"/x";
    excl.layer_type = MODELS__IMAGE_LAYER__TYPE__EXCLUSIVE;
    excl.digest_algorithm = MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA256;
    excl.digest_value = (char *)"abc";
    d.image_layers = layers;
    d.n_image_layers = 2;
    d.legacy_download_user = (char *)"root";
    vm.driver = (char *)"nfs";
    d.volume_mounts = vms;
    d.n_volume_mounts = 1;
    d.placement_tags = tags;
    d.n_placement_tags = 1;
    p = bbs_codec_pack(a, &d.base, &n);
    write_file("fuzz_task_definition", "layers", p, n);
    write_file("fuzz_task_definition", "truncated", p, n / 2);
    d.action = NULL;
    p = bbs_codec_pack(a, &d.base, &n);
    write_file("fuzz_task_definition", "layers-no-action", p, n);
    write_file("fuzz_task_definition", "empty", (const uint8_t *)"", 0);
}

/* A fuzz_copyrow seed being written: flag byte, then the message. */
struct copymsg {
    uint8_t b[1024];
    size_t len;
};

static void cm_put(struct copymsg *m, const void *p, size_t n)
{
    if (m->len + n > sizeof(m->b)) {
        abort();
    }
    memcpy(m->b + m->len, p, n);
    m->len += n;
}

static void cm_u32(struct copymsg *m, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    cm_put(m, b, 4);
}

static void cm_text(struct copymsg *m, const char *v)
{
    cm_u32(m, (uint32_t)strlen(v));
    cm_put(m, v, strlen(v));
}

/* An ActualLRP row as the streamed list's COPY sends it (BBS_ALRP_COLUMNS);
 * `nulls`: internal_routes and metric_tags NULL. */
static void cm_alrp_row(struct copymsg *m, int nulls)
{
    static const uint8_t net[] = {0x0a, 0x08, '1',  '0',  '.',  '0',  '.',  '0',  '.',
                                  '1',  0x12, 0x06, 0x08, 0x90, 0x3f, 0x10, 0xe8, 0xdd};
    static const uint8_t tags[] = {0x62, 0x0e, 0x0a, 0x09, 's', 'o',  'u',  'r',
                                   'c',  'e',  '_',  'i',  'd', 0x12, 0x01, 0x0a};

    cm_put(m, "\0\x12", 2); /* 18 columns */
    cm_text(m, "pg-bench-0000001");
    cm_u32(m, 4);
    cm_u32(m, 7);
    cm_u32(m, 4);
    cm_u32(m, 0);
    cm_text(m, "cf-apps");
    cm_text(m, "RUNNING");
    cm_text(m, "ig-0000001-7");
    cm_text(m, "cell-0007");
    cm_u32(m, 8);
    cm_put(m, "\x17\x9a\x3c\x80\x12\x34\x56\x78", 8);
    cm_u32(m, 4);
    cm_u32(m, 0);
    cm_text(m, "");
    cm_text(m, "");
    cm_u32(m, sizeof(net));
    cm_put(m, net, sizeof(net));
    if (nulls) {
        cm_u32(m, 0xffffffffu);
        cm_u32(m, 0xffffffffu);
    } else {
        cm_u32(m, 0);
        cm_u32(m, sizeof(tags));
        cm_put(m, tags, sizeof(tags));
    }
    cm_u32(m, 1);
    cm_put(m, "\x01", 1);
    cm_text(m, "z1");
    cm_text(m, "0b8e2ac6-4bd2-4f31-8d8f-2e7fbd2d6a51");
    cm_u32(m, 4);
    cm_u32(m, 2);
}

static void cm_header(struct copymsg *m, uint32_t ext)
{
    cm_put(m, "PGCOPY\n\377\r\n\0", 11);
    cm_u32(m, 0);
    cm_u32(m, ext);
    for (uint32_t i = 0; i < ext; i++) {
        cm_put(m, "e", 1);
    }
}

/* fuzz_copyrow seeds: the messages of the streamed list's binary COPY. */
static void copyrow_seeds(void)
{
    struct copymsg m;

    m = (struct copymsg){{0}, 0};
    cm_put(&m, "\0", 1);
    cm_header(&m, 0);
    cm_alrp_row(&m, 0);
    write_file("fuzz_copyrow", "first-row", m.b, m.len);
    m = (struct copymsg){{0}, 0};
    cm_put(&m, "\1", 1);
    cm_alrp_row(&m, 0);
    write_file("fuzz_copyrow", "row", m.b, m.len);
    m = (struct copymsg){{0}, 0};
    cm_put(&m, "\1", 1);
    cm_alrp_row(&m, 1);
    write_file("fuzz_copyrow", "row-nulls", m.b, m.len);
    m = (struct copymsg){{0}, 0};
    cm_put(&m, "\1\xff\xff", 3);
    write_file("fuzz_copyrow", "end", m.b, m.len);
    m = (struct copymsg){{0}, 0};
    cm_put(&m, "\0", 1);
    cm_header(&m, 2);
    cm_put(&m, "\xff\xff", 2);
    write_file("fuzz_copyrow", "empty-with-extension", m.b, m.len);
}

int main(int argc, char **argv)
{
    struct bbs_arena *a;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        perror(out_dir);
        return 1;
    }
    a = bbs_arena_new();
    decode_seeds(a);
    routejson_seeds();
    rows_seeds(a);
    presence_seeds();
    sse_seeds(a);
    task_seeds(a);
    copyrow_seeds();
    bbs_arena_free(a);
    return failed;
}
