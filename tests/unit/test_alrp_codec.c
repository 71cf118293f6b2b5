/*
 * test_alrp_codec.c - the ActualLRP encoders write exactly what
 * protobuf-c packs for the same message (ActualLRPsResponse,
 * ActualLRPGroupsResponse). Each row of the table is one ActualLRP,
 * built once as a protobuf-c struct and once as a struct bbs_alrp with
 * the stored blobs; each is its own named test.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actual_lrp_requests.pb-c.h"
#include "bbs/codec.h"
#include "bbs/group.h"

struct lrp_case {
    const char *name;
    const char *guid;
    int32_t index;
    const char *domain;
    const char *instance_guid;
    const char *cell_id;
    enum bbs_alrp_state state;
    enum bbs_presence presence;
    int64_t since_ns;
    int32_t crash_count;
    const char *crash_reason;
    const char *placement_error;
    const char *address; /* NULL: no net info in the request (stored empty) */
    uint32_t port;
    const char *route; /* NULL: no internal routes */
    const char *tag_key;
    const char *tag_value; /* NULL: no metric tags */
    int routable;
    const char *zone;
    const char *epoch;
    uint32_t mod_index;
};

static const struct lrp_case cases[] = {
    {"unclaimed_minimal",
     "pg-1",
     0,
     "cf-apps",
     "",
     "",
     BBS_ALRP_UNCLAIMED,
     BBS_PRESENCE_ORDINARY,
     1,
     0,
     "",
     "",
     NULL,
     0,
     NULL,
     NULL,
     NULL,
     0,
     "",
     "e-1",
     0},
    {"running_every_field",
     "pg-2",
     7,
     "cf-apps",
     "ig-1",
     "cell-a",
     BBS_ALRP_RUNNING,
     BBS_PRESENCE_ORDINARY,
     INT64_C(1700000000123456789),
     2,
     "",
     "",
     "10.0.0.1",
     8080,
     "a.internal",
     "app",
     "web",
     1,
     "z1",
     "0b9c1a52-8f1e-4c7e-9a8e-1f0d2c3b4a59",
     42},
    {"crashed_with_reason",
     "pg-3",
     1,
     "d",
     "",
     "",
     BBS_ALRP_CRASHED,
     BBS_PRESENCE_ORDINARY,
     5,
     3,
     "exit status 1",
     "",
     NULL,
     0,
     NULL,
     NULL,
     NULL,
     0,
     "",
     "e",
     3},
    {"unclaimed_placement_error",
     "pg-4",
     2,
     "d",
     "",
     "",
     BBS_ALRP_UNCLAIMED,
     BBS_PRESENCE_ORDINARY,
     9,
     0,
     "",
     "found no compatible cell",
     NULL,
     0,
     NULL,
     NULL,
     NULL,
     1,
     "",
     "e",
     1},
    {"evacuating_running",
     "pg-5",
     0,
     "d",
     "ig-2",
     "cell-b",
     BBS_ALRP_RUNNING,
     BBS_PRESENCE_EVACUATING,
     11,
     0,
     "",
     "",
     "10.0.0.2",
     61000,
     NULL,
     NULL,
     NULL,
     1,
     "z2",
     "e",
     0},
    {"suspect_claimed",
     "pg-6",
     3,
     "d",
     "ig-3",
     "cell-c",
     BBS_ALRP_CLAIMED,
     BBS_PRESENCE_SUSPECT,
     12,
     0,
     "",
     "",
     NULL,
     0,
     NULL,
     NULL,
     NULL,
     0,
     "",
     "e",
     5},
};

/* Both forms of one case; everything lives in `arena`. */
struct both {
    Models__ActualLRP *pb;
    struct bbs_alrp row;
};

static void build(const struct lrp_case *c, struct bbs_arena *arena, struct both *out)
{
    Models__ActualLRP *l = bbs_arena_zalloc(arena, sizeof(*l));
    Models__ActualLRPKey *k = bbs_arena_zalloc(arena, sizeof(*k));
    Models__ActualLRPInstanceKey *ik = bbs_arena_zalloc(arena, sizeof(*ik));
    Models__ActualLRPNetInfo *ni = bbs_arena_zalloc(arena, sizeof(*ni));
    Models__ModificationTag *mt = bbs_arena_zalloc(arena, sizeof(*mt));
    struct bbs_alrp *a = &out->row;

    models__actual_lrp__init(l);
    models__actual_lrpkey__init(k);
    models__actual_lrpinstance_key__init(ik);
    models__actual_lrpnet_info__init(ni);
    models__modification_tag__init(mt);
    k->process_guid = (char *)c->guid;
    k->index = c->index;
    k->domain = (char *)c->domain;
    ik->instance_guid = (char *)c->instance_guid;
    ik->cell_id = (char *)c->cell_id;
    if (c->address != NULL) {
        Models__PortMapping *pm = bbs_arena_zalloc(arena, sizeof(*pm));

        models__port_mapping__init(pm);
        pm->container_port = 8080;
        pm->host_port = c->port;
        ni->address = (char *)c->address;
        ni->instance_address = (char *)"172.16.0.2";
        ni->n_ports = 1;
        ni->ports = bbs_arena_alloc(arena, sizeof(*ni->ports));
        ni->ports[0] = pm;
    }
    mt->epoch = (char *)c->epoch;
    mt->index = c->mod_index;
    l->actual_lrp_key = k;
    l->actual_lrp_instance_key = ik;
    l->actual_lrp_net_info = ni;
    l->crash_count = c->crash_count;
    l->crash_reason = (char *)c->crash_reason;
    l->state = (char *)bbs_alrp_state_name(c->state);
    l->placement_error = (char *)c->placement_error;
    l->since = c->since_ns;
    l->modification_tag = mt;
    l->presence = (Models__ActualLRP__Presence)c->presence;
    l->availability_zone = (char *)c->zone;
    l->optional_routable_case = MODELS__ACTUAL_LRP__OPTIONAL_ROUTABLE_ROUTABLE;
    l->routable = c->routable;

    memset(a, 0, sizeof(*a));
    a->key = (struct bbs_alrp_key){c->guid, c->index, c->domain};
    a->instance = (struct bbs_instance_key){c->instance_guid, c->cell_id};
    a->state = c->state;
    a->presence = c->presence;
    a->since_ns = c->since_ns;
    a->crash_count = c->crash_count;
    a->crash_reason = c->crash_reason;
    a->placement_error = c->placement_error;
    a->net_info = bbs_codec_net_info(arena, ni);
    a->routable = c->routable;
    a->availability_zone = c->zone;
    a->mod_epoch = c->epoch;
    a->mod_index = c->mod_index;
    if (c->route != NULL) {
        Models__ActualLRPInternalRoute *r = bbs_arena_zalloc(arena, sizeof(*r));

        models__actual_lrpinternal_route__init(r);
        r->hostname = (char *)c->route;
        l->n_actual_lrp_internal_routes = 1;
        l->actual_lrp_internal_routes = bbs_arena_alloc(arena, sizeof(r));
        l->actual_lrp_internal_routes[0] = r;
        a->internal_routes = bbs_codec_internal_routes(arena, l->actual_lrp_internal_routes, 1, 1);
    }
    if (c->tag_value != NULL) {
        Models__ActualLRP__MetricTagsEntry *e = bbs_arena_zalloc(arena, sizeof(*e));
        struct bbs_kv kv = {c->tag_key, c->tag_value};

        models__actual_lrp__metric_tags_entry__init(e);
        e->key = (char *)c->tag_key;
        e->value = (char *)c->tag_value;
        l->n_metric_tags = 1;
        l->metric_tags = bbs_arena_alloc(arena, sizeof(e));
        l->metric_tags[0] = e;
        a->metric_tags = bbs_codec_string_map(arena, &kv, 1, 1);
    }
    out->pb = l;
}

static void assert_same_bytes(const struct bbs_buf *got, const uint8_t *want, size_t n)
{
    assert_int_equal(got->len, n);
    assert_memory_equal(got->data, want, n);
}

/* ActualLRPsResponse{actual_lrps: [lrp]} */
static void test_list_case(void **state)
{
    const struct lrp_case *c = *state;
    struct bbs_arena *arena = bbs_arena_new();
    Models__ActualLRPsResponse resp = MODELS__ACTUAL_LRPS_RESPONSE__INIT;
    struct bbs_codec_skipped skipped;
    struct bbs_alrp_rows rows;
    struct bbs_buf got = {0};
    struct both b;
    uint8_t *want;
    size_t n;

    build(c, arena, &b);
    resp.n_actual_lrps = 1;
    resp.actual_lrps = &b.pb;
    want = bbs_codec_pack(arena, &resp.base, &n);
    rows = bbs_alrp_rows_of(&b.row, 1);
    bbs_codec_put_alrps(&got, 2, &rows, &skipped);
    assert_int_equal(skipped.n, 0);
    assert_same_bytes(&got, want, n);
    bbs_buf_free(&got);
    bbs_arena_free(arena);
}

/* ActualLRPGroupsResponse: the case as `instance`, or as `evacuating`. */
static void test_group_case(void **state)
{
    const struct lrp_case *c = *state;
    struct bbs_arena *arena = bbs_arena_new();
    Models__ActualLRPGroupsResponse resp = MODELS__ACTUAL_LRPGROUPS_RESPONSE__INIT;
    Models__ActualLRPGroup g = MODELS__ACTUAL_LRPGROUP__INIT;
    Models__ActualLRPGroup *gp = &g;
    struct bbs_codec_skipped skipped;
    struct bbs_alrp_rows rows;
    struct bbs_buf got = {0};
    struct both b;
    uint8_t *want;
    size_t n;

    build(c, arena, &b);
    if (c->presence == BBS_PRESENCE_EVACUATING) {
        g.evacuating = b.pb;
    } else {
        g.instance = b.pb;
    }
    resp.n_actual_lrp_groups = 1;
    resp.actual_lrp_groups = &gp;
    want = bbs_codec_pack(arena, &resp.base, &n);
    rows = bbs_alrp_rows_of(&b.row, 1);
    assert_int_equal(bbs_codec_put_groups(&got, 2, &rows, &skipped), 1);
    assert_same_bytes(&got, want, n);
    bbs_buf_free(&got);
    bbs_arena_free(arena);
}

/* Two rows of one index fold into one group with both slots. */
static void test_group_with_both_slots(void **state)
{
    struct bbs_arena *arena = bbs_arena_new();
    Models__ActualLRPGroupsResponse resp = MODELS__ACTUAL_LRPGROUPS_RESPONSE__INIT;
    Models__ActualLRPGroup g = MODELS__ACTUAL_LRPGROUP__INIT;
    Models__ActualLRPGroup *gp = &g;
    struct lrp_case ord = cases[1];
    struct lrp_case evac = cases[4];
    struct bbs_codec_skipped skipped;
    struct bbs_alrp rows[2];
    struct bbs_alrp_rows view;
    struct bbs_buf got = {0};
    struct both b0, b1;
    uint8_t *want;
    size_t n;

    (void)state;
    evac.guid = ord.guid;
    evac.index = ord.index;
    build(&ord, arena, &b0);
    build(&evac, arena, &b1);
    g.instance = b0.pb;
    g.evacuating = b1.pb;
    resp.n_actual_lrp_groups = 1;
    resp.actual_lrp_groups = &gp;
    want = bbs_codec_pack(arena, &resp.base, &n);
    rows[0] = b0.row;
    rows[1] = b1.row;
    view = bbs_alrp_rows_of(rows, 2);
    assert_int_equal(bbs_codec_put_groups(&got, 2, &view, &skipped), 1);
    assert_same_bytes(&got, want, n);
    bbs_buf_free(&got);
    bbs_arena_free(arena);
}

static int bad_get(const void *src, size_t i, struct bbs_alrp *out)
{
    const struct bbs_alrp *rows = src;

    *out = rows[i];
    return i == 0 ? -1 : 0;
}

/* An unreadable row is left out and named in the report. */
static void test_unreadable_row_skipped(void **state)
{
    struct bbs_arena *arena = bbs_arena_new();
    struct bbs_codec_skipped skipped;
    struct bbs_alrp rows[2];
    struct bbs_alrp_rows view;
    struct bbs_buf got = {0};
    struct bbs_buf one = {0};
    struct both b0, b1;

    (void)state;
    build(&cases[0], arena, &b0);
    build(&cases[1], arena, &b1);
    rows[0] = b0.row;
    rows[1] = b1.row;
    view = (struct bbs_alrp_rows){2, rows, bad_get};
    bbs_codec_put_alrps(&got, 2, &view, &skipped);
    bbs_codec_put_alrp(&one, 2, &b1.row);
    assert_int_equal(skipped.n, 1);
    assert_string_equal(skipped.first.process_guid, "pg-1");
    assert_int_equal(got.len, one.len);
    assert_memory_equal(got.data, one.data, one.len);
    bbs_buf_free(&got);
    bbs_buf_free(&one);
    bbs_arena_free(arena);
}

/* Domains: repeated string field 2, empty strings written too. */
static void test_put_strings(void **state)
{
    static const char *const doms[] = {"cf-apps", "d"};
    static const uint8_t want[] = {0x12, 7, 'c', 'f', '-', 'a', 'p', 'p', 's', 0x12, 1, 'd'};
    struct bbs_buf got = {0};

    (void)state;
    bbs_codec_put_strings(&got, 2, doms, 2);
    assert_same_bytes(&got, want, sizeof(want));
    bbs_buf_free(&got);
}

/* Walk the top-level fields of one encoded ActualLRP: a bit per field number seen. */
static uint32_t fields_of(const uint8_t *p, size_t n)
{
    uint32_t seen = 0;
    size_t at = 0;

    while (at < n) {
        uint32_t tag = p[at++]; /* every ActualLRP field number fits one byte */
        uint64_t v = 0;
        int shift = 0;

        do {
            v |= (uint64_t)(p[at] & 0x7f) << shift;
            shift += 7;
        } while (p[at++] & 0x80);
        if ((tag & 7) == 2) {
            at += v;
        } else {
            assert_int_equal(tag & 7, 0);
        }
        seen |= 1u << (tag >> 3);
    }
    assert_int_equal(at, n);
    return seen;
}

/*
 * Issue 14's 4 bytes per ActualLRP: upstream v2.82.0's ActualLRP has
 * fields 1-13 only; availability_zone (14) came later upstream. A row
 * with no zone writes nothing of field 14, so a v2.82.0 reader and a
 * newer one read the same; a zone of "z1" (what the load generator's
 * starts carry, which v2.82.0 drops) is exactly the 4 bytes 0x72 0x02 'z'
 * '1', kept because a reader that knows field 14 can tell.
 */
static void test_zone_is_the_only_field_past_v2_82(void **state)
{
    struct bbs_alrp a = {0};
    struct bbs_buf with = {0};
    struct bbs_buf without = {0};
    static const uint8_t net[] = {0x0a, 3, '1', '.', '2'};
    static const uint8_t zone[] = {0x72, 2, 'z', '1'};
    uint32_t seen;

    (void)state;
    a.key = (struct bbs_alrp_key){"pg-zone", 3, "cf-apps"};
    a.instance = (struct bbs_instance_key){"ig", "cell-1"};
    a.state = BBS_ALRP_RUNNING;
    a.since_ns = 42;
    a.crash_reason = "";
    a.placement_error = "";
    a.net_info = (struct bbs_blob){net, sizeof(net), 1};
    a.routable = 1;
    a.mod_epoch = "e";
    a.mod_index = 1;
    a.availability_zone = "";
    bbs_codec_put_alrp(&without, 1, &a);
    a.availability_zone = "z1";
    bbs_codec_put_alrp(&with, 1, &a);
    /* Skip the wrapper's tag and length (one byte each here). */
    assert_true(without.len > 2 && without.data[1] < 0x80);
    seen = fields_of(without.data + 2, without.len - 2);
    assert_int_equal(seen & ~0x3ffeu, 0);          /* nothing past field 13 */
    assert_int_equal(seen & (1u << 13), 1u << 13); /* routable: upstream always sets it */
    assert_int_equal(with.len, without.len + sizeof(zone));
    assert_memory_equal(with.data + 2, without.data + 2, without.len - 2);
    assert_memory_equal(with.data + without.len, zone, sizeof(zone));
    bbs_buf_free(&with);
    bbs_buf_free(&without);
}

int main(void)
{
    enum { N = sizeof(cases) / sizeof(cases[0]) };
    struct CMUnitTest tests[2 * N + 4];
    char names[2 * N][96];

    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "list_%s", cases[i].name);
        snprintf(names[N + i], sizeof(names[N + i]), "group_%s", cases[i].name);
        tests[i] = (struct CMUnitTest){
            .name = names[i],
            .test_func = test_list_case,
            .initial_state = (void *)&cases[i],
        };
        tests[N + i] = (struct CMUnitTest){
            .name = names[N + i],
            .test_func = test_group_case,
            .initial_state = (void *)&cases[i],
        };
    }
    tests[2 * N] = (struct CMUnitTest)cmocka_unit_test(test_group_with_both_slots);
    tests[2 * N + 1] = (struct CMUnitTest)cmocka_unit_test(test_unreadable_row_skipped);
    tests[2 * N + 2] = (struct CMUnitTest)cmocka_unit_test(test_put_strings);
    tests[2 * N + 3] = (struct CMUnitTest)cmocka_unit_test(test_zone_is_the_only_field_past_v2_82);
    return cmocka_run_group_tests_name("alrp_codec", tests, NULL, NULL);
}
