/*
 * test_api_actual_lifecycle.c - the ActualLRP state machine through its
 * routes (reference 3.2-3.9, 6.4, 6.6): every row of the transition table
 * 3.2 through claim/start/crash, then the steps, errors and idempotency of
 * claim, start.r1/start, crash, fail, remove and retire.
 *
 * No cell is registered (no Locket), so retire of a CLAIMED/RUNNING row
 * deletes it (3.8, cell unknown). The 5-minute crash-count reset (3.5 step
 * 5) cannot be waited for and is not tested here.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#define LIFECYCLE (&models__actual_lrplifecycle_response__descriptor)
#define IG_A      "ig-a"
#define CELL_A    "cell-a"
#define IG_B      "ig-b"
#define CELL_B    "cell-b"
#define ADDR_A    "10.0.0.1"
#define ADDR_B    "10.0.0.2"

/* ---- helpers ----------------------------------------------------------------------------- */

static void new_lrp(char *guid, size_t len, const char *prefix, int32_t instances)
{
    it_uniq(guid, len, prefix);
    it_desire(guid, NULL, instances);
    /* let the desire's auction arrive so later counts are exact */
    json_t *a = it_auction_wait(guid, 1, 5000);
    if (instances > 0 && json_array_size(a) != 1) {
        fail_msg("desire %s: %zu auction elements, expected 1", guid, json_array_size(a));
    }
    json_decref(a);
}

static size_t auctions(const char *guid)
{
    json_t *a = it_auction_starts(guid);
    size_t n = json_array_size(a);
    json_decref(a);
    return n;
}

/* Wait until `n` elements arrived for `guid`, then make sure no more come. */
static json_t *expect_auctions(const char *guid, size_t n)
{
    json_t *a = it_auction_wait(guid, n, 5000);
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

/* Bring (guid, index) of a fresh desire into `state`, owned by (IG_A, CELL_A). */
static void make_state(const char *guid, int32_t index, const char *state)
{
    if (strcmp(state, "UNCLAIMED") == 0) {
        it_assert_state(guid, index, "UNCLAIMED", NULL);
    } else if (strcmp(state, "CLAIMED") == 0) {
        assert_int_equal(it_claim(guid, index, IG_A, CELL_A), IT_OK);
        it_assert_state(guid, index, "CLAIMED", NULL);
    } else if (strcmp(state, "RUNNING") == 0) {
        assert_int_equal(it_start(guid, index, NULL, IG_A, CELL_A, ADDR_A), IT_OK);
        it_assert_state(guid, index, "RUNNING", NULL);
    } else if (strcmp(state, "CRASHED") == 0) {
        struct it_alrp a;
        for (int i = 0; i < 3; i++) {
            assert_int_equal(it_start(guid, index, NULL, IG_A, CELL_A, ADDR_A), IT_OK);
            assert_int_equal(it_crash(guid, index, NULL, IG_A, CELL_A, "boom"), IT_OK);
        }
        it_assert_state(guid, index, "CRASHED", &a);
        assert_int_equal(a.crash_count, 3);
    } else {
        fail_msg("unknown state %s", state);
    }
}

/* Everything a failed call must leave alone. */
static void assert_same_row(const struct it_alrp *a, const struct it_alrp *b)
{
    assert_string_equal(a->state, b->state);
    assert_string_equal(a->instance_guid, b->instance_guid);
    assert_string_equal(a->cell_id, b->cell_id);
    assert_string_equal(a->address, b->address);
    assert_int_equal(a->crash_count, b->crash_count);
    assert_string_equal(a->crash_reason, b->crash_reason);
    assert_string_equal(a->placement_error, b->placement_error);
    assert_int_equal(a->since, b->since);
    assert_string_equal(a->epoch, b->epoch);
    assert_int_equal(a->mod_index, b->mod_index);
}

/* A start request whose parts live inside the struct. */
struct start_req {
    Models__StartActualLRPRequest req;
    Models__ActualLRPKey key;
    Models__ActualLRPInstanceKey ik;
    Models__ActualLRPNetInfo ni;
    Models__PortMapping pm;
    Models__PortMapping *pms[1];
    Models__ActualLRPInternalRoute routes[2];
    Models__ActualLRPInternalRoute *route_ptrs[2];
    Models__StartActualLRPRequest__MetricTagsEntry tags[2];
    Models__StartActualLRPRequest__MetricTagsEntry *tag_ptrs[2];
};

static void start_init(struct start_req *s, const char *guid, int32_t index, const char *ig,
                       const char *cell, const char *address)
{
    static const Models__StartActualLRPRequest req_init = MODELS__START_ACTUAL_LRPREQUEST__INIT;
    static const Models__ActualLRPKey key_init = MODELS__ACTUAL_LRPKEY__INIT;
    static const Models__ActualLRPInstanceKey ik_init = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;
    static const Models__ActualLRPNetInfo ni_init = MODELS__ACTUAL_LRPNET_INFO__INIT;
    static const Models__PortMapping pm_init = MODELS__PORT_MAPPING__INIT;
    static const Models__ActualLRPInternalRoute route_init = MODELS__ACTUAL_LRPINTERNAL_ROUTE__INIT;
    static const Models__StartActualLRPRequest__MetricTagsEntry tag_init =
        MODELS__START_ACTUAL_LRPREQUEST__METRIC_TAGS_ENTRY__INIT;

    memset(s, 0, sizeof(*s));
    s->req = req_init;
    s->key = key_init;
    s->ik = ik_init;
    s->ni = ni_init;
    s->pm = pm_init;
    s->key.process_guid = (char *)guid;
    s->key.index = index;
    s->key.domain = IT_S(IT_DOMAIN);
    s->ik.instance_guid = (char *)ig;
    s->ik.cell_id = (char *)cell;
    s->ni.address = (char *)address;
    s->ni.instance_address = IT_S("172.16.0.9");
    s->ni.preferred_address = MODELS__ACTUAL_LRPNET_INFO__PREFERRED_ADDRESS__HOST;
    s->pm.container_port = 8080;
    s->pm.host_port = 61000;
    s->pms[0] = &s->pm;
    s->ni.n_ports = 1;
    s->ni.ports = s->pms;
    for (int i = 0; i < 2; i++) {
        s->routes[i] = route_init;
        s->route_ptrs[i] = &s->routes[i];
        s->tags[i] = tag_init;
        s->tag_ptrs[i] = &s->tags[i];
    }
    s->routes[0].hostname = IT_S("a.apps.internal");
    s->routes[1].hostname = IT_S("b.apps.internal");
    s->tags[0].key = IT_S("app_name");
    s->tags[0].value = IT_S("demo");
    s->tags[1].key = IT_S("instance_index");
    s->tags[1].value = IT_S("0");
    s->req.actual_lrp_key = &s->key;
    s->req.actual_lrp_instance_key = &s->ik;
    s->req.actual_lrp_net_info = &s->ni;
}

static void start_with_routes_and_tags(struct start_req *s)
{
    s->req.n_actual_lrp_internal_routes = 2;
    s->req.actual_lrp_internal_routes = s->route_ptrs;
    s->req.n_metric_tags = 2;
    s->req.metric_tags = s->tag_ptrs;
}

static int start_send(const char *path, const struct start_req *s)
{
    return it_call_err(path, &s->req.base, LIFECYCLE);
}

/* ---- transition table 3.2 ------------------------------------------------------------- */

enum op { OP_CLAIM, OP_START, OP_CRASH };

struct tcase {
    const char *name;
    const char *from;
    enum op op;
    int other_key;          /* 0: the owner's key (A); 1: another key (B) */
    int want;               /* IT_OK or the error type */
    const char *want_state; /* state after the call */
    int want_tag_delta;     /* modification index change on success */
};

#define E(x) MODELS__ERROR__TYPE__##x

static const struct tcase tcases[] = {
    {"t32_unclaimed_to_claimed_any_key", "UNCLAIMED", OP_CLAIM, 1, IT_OK, "CLAIMED", 1},
    {"t32_unclaimed_to_running_any_key", "UNCLAIMED", OP_START, 1, IT_OK, "RUNNING", 1},
    {"t32_unclaimed_to_crashed_refused", "UNCLAIMED", OP_CRASH, 1, E(ActualLRPCannotBeCrashed),
     "UNCLAIMED", 0},
    {"t32_claimed_to_claimed_same_key_noop", "CLAIMED", OP_CLAIM, 0, IT_OK, "CLAIMED", 0},
    {"t32_claimed_to_claimed_other_key_refused", "CLAIMED", OP_CLAIM, 1,
     E(ActualLRPCannotBeClaimed), "CLAIMED", 0},
    {"t32_claimed_to_running_same_key", "CLAIMED", OP_START, 0, IT_OK, "RUNNING", 1},
    {"t32_claimed_to_running_other_key", "CLAIMED", OP_START, 1, IT_OK, "RUNNING", 1},
    {"t32_claimed_to_crashed_same_key", "CLAIMED", OP_CRASH, 0, IT_OK, "UNCLAIMED", 1},
    {"t32_claimed_to_crashed_other_key_refused", "CLAIMED", OP_CRASH, 1,
     E(ActualLRPCannotBeCrashed), "CLAIMED", 0},
    {"t32_running_to_claimed_same_key", "RUNNING", OP_CLAIM, 0, IT_OK, "CLAIMED", 1},
    {"t32_running_to_claimed_other_key_refused", "RUNNING", OP_CLAIM, 1,
     E(ActualLRPCannotBeClaimed), "RUNNING", 0},
    {"t32_running_to_running_same_key", "RUNNING", OP_START, 0, IT_OK, "RUNNING", 1},
    {"t32_running_to_running_other_key_refused", "RUNNING", OP_START, 1,
     E(ActualLRPCannotBeStarted), "RUNNING", 0},
    {"t32_running_to_crashed_same_key", "RUNNING", OP_CRASH, 0, IT_OK, "UNCLAIMED", 1},
    {"t32_running_to_crashed_other_key_refused", "RUNNING", OP_CRASH, 1,
     E(ActualLRPCannotBeCrashed), "RUNNING", 0},
    {"t32_crashed_to_claimed_refused", "CRASHED", OP_CLAIM, 1, E(ActualLRPCannotBeClaimed),
     "CRASHED", 0},
    {"t32_crashed_to_claimed_previous_owner_refused", "CRASHED", OP_CLAIM, 0,
     E(ActualLRPCannotBeClaimed), "CRASHED", 0},
    {"t32_crashed_to_running_refused", "CRASHED", OP_START, 1, E(ActualLRPCannotBeStarted),
     "CRASHED", 0},
    {"t32_crashed_to_running_previous_owner_refused", "CRASHED", OP_START, 0,
     E(ActualLRPCannotBeStarted), "CRASHED", 0},
    {"t32_crashed_to_crashed_refused", "CRASHED", OP_CRASH, 0, E(ActualLRPCannotBeCrashed),
     "CRASHED", 0},
};

static void test_transition(void **state)
{
    const struct tcase *c = *state;
    const char *ig = c->other_key ? IG_B : IG_A;
    const char *cell = c->other_key ? CELL_B : CELL_A;
    struct it_alrp before, after;
    char guid[96];
    int64_t t0, t1;
    int got = IT_OK;

    it_uniq(guid, sizeof(guid), c->name + 4);
    it_desire(guid, NULL, 1);
    make_state(guid, 0, c->from);
    it_actual(guid, 0, &before);

    t0 = it_now_ns();
    switch (c->op) {
    case OP_CLAIM:
        got = it_claim(guid, 0, ig, cell);
        break;
    case OP_START:
        /* a different address, so an allowed same-key start is a real change */
        got = it_start(guid, 0, NULL, ig, cell, ADDR_B);
        break;
    case OP_CRASH:
        got = it_crash(guid, 0, NULL, ig, cell, "table crash");
        break;
    }
    t1 = it_now_ns();
    assert_int_equal(got, c->want);
    it_assert_state(guid, 0, c->want_state, &after);

    if (c->want != IT_OK || c->want_tag_delta == 0) {
        assert_same_row(&before, &after);
        return;
    }
    assert_string_equal(after.epoch, before.epoch);
    assert_int_equal(after.mod_index, before.mod_index + (uint32_t)c->want_tag_delta);
    assert_true(after.since >= t0 && after.since <= t1);
    if (strcmp(c->want_state, "UNCLAIMED") == 0) { /* crash with immediate restart */
        assert_string_equal(after.instance_guid, "");
        assert_string_equal(after.cell_id, "");
        assert_string_equal(after.address, "");
        assert_int_equal(after.crash_count, before.crash_count + 1);
        assert_string_equal(after.crash_reason, "table crash");
    } else {
        assert_string_equal(after.instance_guid, ig);
        assert_string_equal(after.cell_id, cell);
        assert_string_equal(after.address, strcmp(c->want_state, "RUNNING") == 0 ? ADDR_B : "");
    }
}

/* ---- claim 3.3 ----------------------------------------------------------------------- */

static void test_claim_sets_fields(void **state)
{
    struct it_alrp before, a;
    char guid[64];
    int64_t t0, t1;
    (void)state;

    new_lrp(guid, sizeof(guid), "claim-fields", 2);
    assert_int_equal(it_fail(guid, 1, NULL, "no capacity"), IT_OK);
    it_assert_state(guid, 1, "UNCLAIMED", &before);
    assert_string_equal(before.placement_error, "no capacity");
    assert_true(it_is_uuid_v4(before.epoch));

    t0 = it_now_ns();
    assert_int_equal(it_claim(guid, 1, IG_A, CELL_A), IT_OK);
    t1 = it_now_ns();
    it_assert_state(guid, 1, "CLAIMED", &a);
    assert_string_equal(a.instance_guid, IG_A);
    assert_string_equal(a.cell_id, CELL_A);
    assert_string_equal(a.placement_error, "");
    assert_string_equal(a.address, "");
    assert_int_equal(a.n_ports, 0);
    assert_int_equal(a.crash_count, 0);
    assert_true(a.since >= t0 && a.since <= t1);
    assert_string_equal(a.epoch, before.epoch);
    assert_int_equal(a.mod_index, before.mod_index + 1);
    /* the other index is untouched */
    it_assert_state(guid, 0, "UNCLAIMED", &a);
    assert_int_equal(a.mod_index, 0);
}

static void test_claim_idempotent_reclaim(void **state)
{
    struct it_alrp a, b;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "claim-again", 1);
    assert_int_equal(it_claim(guid, 0, IG_A, CELL_A), IT_OK);
    it_actual(guid, 0, &a);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(it_claim(guid, 0, IG_A, CELL_A), IT_OK);
    }
    it_assert_state(guid, 0, "CLAIMED", &b);
    assert_same_row(&a, &b);
    assert_int_equal(b.mod_index, 1);
}

static void test_claim_other_key_refused_variants(void **state)
{
    struct it_alrp a, b;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "claim-other", 1);
    assert_int_equal(it_claim(guid, 0, IG_A, CELL_A), IT_OK);
    it_actual(guid, 0, &a);
    assert_int_equal(it_claim(guid, 0, IG_B, CELL_B), E(ActualLRPCannotBeClaimed));
    assert_int_equal(it_claim(guid, 0, IG_A, CELL_B), E(ActualLRPCannotBeClaimed));
    assert_int_equal(it_claim(guid, 0, IG_B, CELL_A), E(ActualLRPCannotBeClaimed));
    it_actual(guid, 0, &b);
    assert_same_row(&a, &b);

    /* the same for a RUNNING row */
    assert_int_equal(it_start(guid, 0, NULL, IG_A, CELL_A, ADDR_A), IT_OK);
    it_actual(guid, 0, &a);
    assert_int_equal(it_claim(guid, 0, IG_A, CELL_B), E(ActualLRPCannotBeClaimed));
    assert_int_equal(it_claim(guid, 0, IG_B, CELL_A), E(ActualLRPCannotBeClaimed));
    it_actual(guid, 0, &b);
    assert_same_row(&a, &b);
}

static void test_claim_error_message(void **state)
{
    Models__ClaimActualLRPRequest req = MODELS__CLAIM_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;
    Models__ActualLRPLifecycleResponse *r;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "claim-msg", 1);
    assert_int_equal(it_claim(guid, 0, IG_A, CELL_A), IT_OK);
    ik.instance_guid = IT_S(IG_B);
    ik.cell_id = IT_S(CELL_B);
    req.process_guid = guid;
    req.actual_lrp_instance_key = &ik;
    r = it_call("/v1/actual_lrps/claim", &req.base, LIFECYCLE);
    assert_int_equal(it_err_type(r), E(ActualLRPCannotBeClaimed));
    assert_string_equal(it_err_msg(r), IT_MSG_NO_CLAIM);
    it_free(r);
}

static void test_claim_missing_is_not_found(void **state)
{
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "claim-missing", 1);
    assert_int_equal(it_claim(guid, 1, IG_A, CELL_A), E(ResourceNotFound));
    assert_int_equal(it_claim("claim-no-such-guid", 0, IG_A, CELL_A), E(ResourceNotFound));
    /* quirk 24: claim does not validate the index, the lookup just finds nothing */
    assert_int_equal(it_claim(guid, -1, IG_A, CELL_A), E(ResourceNotFound));
    assert_int_equal(it_actual_count("claim-no-such-guid"), 0);
    assert_int_equal(it_actual_count(guid), 1);
}

static void test_claim_validation(void **state)
{
    Models__ClaimActualLRPRequest req = MODELS__CLAIM_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "claim-valid", 1);
    it_expect_invalid("/v1/actual_lrps/claim", &req.base, LIFECYCLE,
                      "Invalid field: process_guid, Invalid field: actual_lrp_instance_key");
    req.process_guid = guid;
    it_expect_invalid("/v1/actual_lrps/claim", &req.base, LIFECYCLE,
                      "Invalid field: actual_lrp_instance_key");
    req.actual_lrp_instance_key = &ik; /* present but empty */
    it_expect_invalid("/v1/actual_lrps/claim", &req.base, LIFECYCLE,
                      "Invalid field: cell_id, Invalid field: instance_guid");
    ik.cell_id = IT_S(CELL_A);
    it_expect_invalid("/v1/actual_lrps/claim", &req.base, LIFECYCLE,
                      "Invalid field: instance_guid");
    ik.cell_id = IT_S("");
    ik.instance_guid = IT_S(IG_A);
    it_expect_invalid("/v1/actual_lrps/claim", &req.base, LIFECYCLE, "Invalid field: cell_id");
    ik.cell_id = IT_S(CELL_A);
    req.process_guid = IT_S("");
    it_expect_invalid("/v1/actual_lrps/claim", &req.base, LIFECYCLE, "Invalid field: process_guid");
    make_state(guid, 0, "UNCLAIMED");
    struct it_alrp a;
    it_actual(guid, 0, &a);
    assert_int_equal(a.mod_index, 0);
}

static void test_claim_keeps_crash_count_and_reason(void **state)
{
    struct it_alrp a;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "claim-keeps", 1);
    assert_int_equal(it_start(guid, 0, NULL, IG_A, CELL_A, ADDR_A), IT_OK);
    assert_int_equal(it_crash(guid, 0, NULL, IG_A, CELL_A, "exit 1"), IT_OK);
    assert_int_equal(it_claim(guid, 0, IG_B, CELL_B), IT_OK);
    it_assert_state(guid, 0, "CLAIMED", &a);
    assert_int_equal(a.crash_count, 1);
    assert_string_equal(a.crash_reason, "exit 1");
    assert_int_equal(it_start(guid, 0, NULL, IG_B, CELL_B, ADDR_B), IT_OK);
    it_assert_state(guid, 0, "RUNNING", &a);
    assert_int_equal(a.crash_count, 1);
    assert_string_equal(a.crash_reason, "exit 1");
}

/* ---- start 3.4 ----------------------------------------------------------------------- */

static void test_start_sets_fields(void **state)
{
    Models__ActualLRPsResponse *r;
    const Models__ActualLRP *row;
    struct start_req s;
    struct it_alrp before;
    char guid[64];
    int64_t t0, t1;
    (void)state;

    new_lrp(guid, sizeof(guid), "start-fields", 1);
    assert_int_equal(it_fail(guid, 0, NULL, "placement failed"), IT_OK);
    it_actual(guid, 0, &before);

    start_init(&s, guid, 0, IG_A, CELL_A, ADDR_A);
    start_with_routes_and_tags(&s);
    s.req.availability_zone = IT_S("z1");
    t0 = it_now_ns();
    assert_int_equal(start_send("/v1/actual_lrps/start.r1", &s), IT_OK);
    t1 = it_now_ns();

    r = it_list_actuals(guid);
    row = it_find_actual(r, 0, MODELS__ACTUAL_LRP__PRESENCE__ORDINARY);
    assert_non_null(row);
    assert_string_equal(row->state, "RUNNING");
    assert_string_equal(row->actual_lrp_key->process_guid, guid);
    assert_string_equal(row->actual_lrp_key->domain, IT_DOMAIN);
    assert_string_equal(row->actual_lrp_instance_key->instance_guid, IG_A);
    assert_string_equal(row->actual_lrp_instance_key->cell_id, CELL_A);
    assert_string_equal(row->actual_lrp_net_info->address, ADDR_A);
    assert_string_equal(row->actual_lrp_net_info->instance_address, "172.16.0.9");
    assert_int_equal(row->actual_lrp_net_info->preferred_address,
                     MODELS__ACTUAL_LRPNET_INFO__PREFERRED_ADDRESS__HOST);
    assert_int_equal(row->actual_lrp_net_info->n_ports, 1);
    assert_int_equal(row->actual_lrp_net_info->ports[0]->container_port, 8080);
    assert_int_equal(row->actual_lrp_net_info->ports[0]->host_port, 61000);
    assert_int_equal(row->n_actual_lrp_internal_routes, 2);
    assert_string_equal(row->actual_lrp_internal_routes[0]->hostname, "a.apps.internal");
    assert_string_equal(row->actual_lrp_internal_routes[1]->hostname, "b.apps.internal");
    assert_int_equal(row->n_metric_tags, 2);
    assert_string_equal(it_map_str((void *const *)row->metric_tags, row->n_metric_tags, "app_name"),
                        "demo");
    assert_string_equal(
        it_map_str((void *const *)row->metric_tags, row->n_metric_tags, "instance_index"), "0");
    /* Routable unset in the request means true (quirk 2) */
    assert_int_equal(row->optional_routable_case, MODELS__ACTUAL_LRP__OPTIONAL_ROUTABLE_ROUTABLE);
    assert_true(row->routable);
    assert_string_equal(row->availability_zone, "z1");
    assert_string_equal(row->placement_error, "");
    assert_int_equal(row->crash_count, 0);
    assert_int_equal(row->presence, MODELS__ACTUAL_LRP__PRESENCE__ORDINARY);
    assert_true(row->since >= t0 && row->since <= t1);
    assert_string_equal(row->modification_tag->epoch, before.epoch);
    assert_int_equal(row->modification_tag->index, before.mod_index + 1);
    it_free(r);
}

static void test_start_identical_is_heartbeat_noop(void **state)
{
    struct start_req s;
    struct it_alrp a, b;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "start-again", 1);
    start_init(&s, guid, 0, IG_A, CELL_A, ADDR_A);
    start_with_routes_and_tags(&s);
    s.req.availability_zone = IT_S("z1");
    assert_int_equal(start_send("/v1/actual_lrps/start.r1", &s), IT_OK);
    it_actual(guid, 0, &a);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(start_send("/v1/actual_lrps/start.r1", &s), IT_OK);
    }
    it_assert_state(guid, 0, "RUNNING", &b);
    assert_same_row(&a, &b);
    assert_int_equal(b.mod_index, 1);
}

static void test_start_running_changes_are_updates(void **state)
{
    struct start_req s;
    struct it_alrp a, b;
    char guid[64];
    int64_t t0;
    (void)state;

    new_lrp(guid, sizeof(guid), "start-change", 1);
    start_init(&s, guid, 0, IG_A, CELL_A, ADDR_A);
    assert_int_equal(start_send("/v1/actual_lrps/start.r1", &s), IT_OK);
    it_actual(guid, 0, &a);
    assert_true(a.routable_set && a.routable);

    /* readiness: routable false is a real change */
    s.req.optional_routable_case = MODELS__START_ACTUAL_LRPREQUEST__OPTIONAL_ROUTABLE_ROUTABLE;
    s.req.routable = 0;
    t0 = it_now_ns();
    assert_int_equal(start_send("/v1/actual_lrps/start.r1", &s), IT_OK);
    it_assert_state(guid, 0, "RUNNING", &b);
    assert_true(b.routable_set);
    assert_false(b.routable);
    assert_int_equal(b.mod_index, a.mod_index + 1);
    assert_true(b.since >= t0);
    /* repeated: no-op */
    assert_int_equal(start_send("/v1/actual_lrps/start.r1", &s), IT_OK);
    it_actual(guid, 0, &a);
    assert_same_row(&b, &a);
    /* routable true explicitly */
    s.req.routable = 1;
    assert_int_equal(start_send("/v1/actual_lrps/start.r1", &s), IT_OK);
    it_actual(guid, 0, &b);
    assert_true(b.routable);
    assert_int_equal(b.mod_index, a.mod_index + 1);
    /* availability zone */
    s.req.availability_zone = IT_S("z2");
    assert_int_equal(start_send("/v1/actual_lrps/start.r1", &s), IT_OK);
    it_actual(guid, 0, &a);
    assert_string_equal(a.availability_zone, "z2");
    assert_int_equal(a.mod_index, b.mod_index + 1);
    /* internal routes and metric tags */
    start_with_routes_and_tags(&s);
    assert_int_equal(start_send("/v1/actual_lrps/start.r1", &s), IT_OK);
    it_actual(guid, 0, &b);
    assert_int_equal(b.n_internal_routes, 2);
    assert_int_equal(b.n_metric_tags, 2);
    assert_int_equal(b.mod_index, a.mod_index + 1);
    /* net info */
    s.ni.address = IT_S(ADDR_B);
    assert_int_equal(start_send("/v1/actual_lrps/start.r1", &s), IT_OK);
    it_actual(guid, 0, &a);
    assert_string_equal(a.address, ADDR_B);
    assert_int_equal(a.mod_index, b.mod_index + 1);
    assert_string_equal(a.epoch, b.epoch);
}

static void test_start_missing_instance_creates_running(void **state)
{
    Models__DesiredLRPResponse *d;
    struct start_req s;
    struct it_alrp a;
    char guid[64];
    int64_t t0, t1;
    (void)state;

    it_uniq(guid, sizeof(guid), "start-missing");
    start_init(&s, guid, 3, IG_A, CELL_A, ADDR_A);
    start_with_routes_and_tags(&s);
    s.req.availability_zone = IT_S("z3");
    t0 = it_now_ns();
    assert_int_equal(start_send("/v1/actual_lrps/start.r1", &s), IT_OK);
    t1 = it_now_ns();
    it_assert_state(guid, 3, "RUNNING", &a);
    assert_string_equal(a.domain, IT_DOMAIN);
    assert_string_equal(a.instance_guid, IG_A);
    assert_string_equal(a.cell_id, CELL_A);
    assert_string_equal(a.address, ADDR_A);
    assert_int_equal(a.crash_count, 0);
    assert_int_equal(a.mod_index, 0);
    assert_true(it_is_uuid_v4(a.epoch));
    assert_true(a.since >= t0 && a.since <= t1);
    assert_true(a.routable_set && a.routable);
    assert_string_equal(a.availability_zone, "z3");
    assert_int_equal(a.n_internal_routes, 2);
    assert_int_equal(a.n_metric_tags, 2);
    assert_int_equal(it_actual_count(guid), 1);
    /* no desired LRP was created, and nothing is auctioned */
    d = it_get_desired(guid);
    assert_int_equal(it_err_type(d), E(ResourceNotFound));
    it_free(d);
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(auctions(guid), 0);
    /* the created row is idempotent like any other */
    assert_int_equal(start_send("/v1/actual_lrps/start.r1", &s), IT_OK);
    it_actual(guid, 3, &a);
    assert_int_equal(a.mod_index, 0);
}

static void test_start_missing_index_of_desired(void **state)
{
    struct it_alrp a;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "start-extra", 1);
    assert_int_equal(it_start(guid, 4, NULL, IG_B, CELL_B, ADDR_B), IT_OK);
    it_assert_state(guid, 4, "RUNNING", &a);
    assert_int_equal(a.mod_index, 0);
    assert_int_equal(it_actual_count(guid), 2);
    it_assert_state(guid, 0, "UNCLAIMED", NULL);
}

static void test_start_domain_mismatch_refused(void **state)
{
    struct it_alrp a, b;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "start-domain", 1);
    it_actual(guid, 0, &a);
    assert_int_equal(it_start(guid, 0, "other-domain", IG_A, CELL_A, ADDR_A),
                     E(ActualLRPCannotBeStarted));
    it_assert_state(guid, 0, "UNCLAIMED", &b);
    assert_same_row(&a, &b);
    /* also for a claimed row with the owner's key */
    assert_int_equal(it_claim(guid, 0, IG_A, CELL_A), IT_OK);
    it_actual(guid, 0, &a);
    assert_int_equal(it_start(guid, 0, "other-domain", IG_A, CELL_A, ADDR_A),
                     E(ActualLRPCannotBeStarted));
    it_actual(guid, 0, &b);
    assert_same_row(&a, &b);
}

static void test_start_error_message(void **state)
{
    struct start_req s;
    Models__ActualLRPLifecycleResponse *r;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "start-msg", 1);
    assert_int_equal(it_start(guid, 0, NULL, IG_A, CELL_A, ADDR_A), IT_OK);
    start_init(&s, guid, 0, IG_B, CELL_B, ADDR_B);
    r = it_call("/v1/actual_lrps/start.r1", &s.req.base, LIFECYCLE);
    assert_int_equal(it_err_type(r), E(ActualLRPCannotBeStarted));
    assert_string_equal(it_err_msg(r), IT_MSG_NO_START);
    it_free(r);
}

static void test_start_clears_placement_error_keeps_crash_info(void **state)
{
    struct it_alrp a;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "start-keeps", 1);
    assert_int_equal(it_start(guid, 0, NULL, IG_A, CELL_A, ADDR_A), IT_OK);
    assert_int_equal(it_crash(guid, 0, NULL, IG_A, CELL_A, "oom"), IT_OK);
    assert_int_equal(it_fail(guid, 0, NULL, "insufficient resources"), IT_OK);
    it_assert_state(guid, 0, "UNCLAIMED", &a);
    assert_string_equal(a.placement_error, "insufficient resources");
    assert_int_equal(it_start(guid, 0, NULL, IG_B, CELL_B, ADDR_B), IT_OK);
    it_assert_state(guid, 0, "RUNNING", &a);
    assert_string_equal(a.placement_error, "");
    assert_int_equal(a.crash_count, 1);
    assert_string_equal(a.crash_reason, "oom");
}

static void test_start_deprecated_ignores_routes_and_tags(void **state)
{
    struct start_req s;
    struct it_alrp a;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "start-old", 2);
    start_init(&s, guid, 0, IG_A, CELL_A, ADDR_A);
    start_with_routes_and_tags(&s);
    s.req.availability_zone = IT_S("z1");
    assert_int_equal(start_send("/v1/actual_lrps/start", &s), IT_OK);
    it_assert_state(guid, 0, "RUNNING", &a);
    assert_int_equal(a.n_internal_routes, 0);
    assert_int_equal(a.n_metric_tags, 0);
    assert_string_equal(a.address, ADDR_A);
    assert_string_equal(a.availability_zone, "z1");
    assert_true(a.routable_set && a.routable);
    assert_int_equal(a.mod_index, 1);

    /* start.r1 with the same request stores them */
    start_init(&s, guid, 1, IG_A, CELL_A, ADDR_A);
    start_with_routes_and_tags(&s);
    assert_int_equal(start_send("/v1/actual_lrps/start.r1", &s), IT_OK);
    it_assert_state(guid, 1, "RUNNING", &a);
    assert_int_equal(a.n_internal_routes, 2);
    assert_int_equal(a.n_metric_tags, 2);
}

/*
 * 3.4: an identical repeat through the same route is a no-op, through the
 * other route it is a change (deprecated start stores "no routes" as an
 * empty list, start.r1 keeps the list absent).
 */
static void test_start_identical_repeat_per_route(void **state)
{
    struct start_req s;
    struct it_alrp a, b;
    char guid[64];
    int64_t t0;
    (void)state;

    new_lrp(guid, sizeof(guid), "start-routes", 1);
    start_init(&s, guid, 0, IG_A, CELL_A, ADDR_A);

    assert_int_equal(start_send("/v1/actual_lrps/start.r1", &s), IT_OK);
    it_actual(guid, 0, &a);
    assert_int_equal(a.mod_index, 1);
    assert_int_equal(start_send("/v1/actual_lrps/start.r1", &s), IT_OK);
    it_actual(guid, 0, &b);
    assert_same_row(&a, &b);

    t0 = it_now_ns();
    assert_int_equal(start_send("/v1/actual_lrps/start", &s), IT_OK);
    it_actual(guid, 0, &b);
    assert_int_equal(b.mod_index, 2);
    assert_true(b.since >= t0);
    assert_int_equal(start_send("/v1/actual_lrps/start", &s), IT_OK);
    it_actual(guid, 0, &a);
    assert_same_row(&b, &a);

    t0 = it_now_ns();
    assert_int_equal(start_send("/v1/actual_lrps/start.r1", &s), IT_OK);
    it_actual(guid, 0, &b);
    assert_int_equal(b.mod_index, 3);
    assert_true(b.since >= t0);
    assert_int_equal(start_send("/v1/actual_lrps/start.r1", &s), IT_OK);
    it_actual(guid, 0, &a);
    assert_same_row(&b, &a);
}

static void test_start_validation(void **state)
{
    static const char *const paths[] = {"/v1/actual_lrps/start.r1", "/v1/actual_lrps/start"};
    Models__StartActualLRPRequest empty = MODELS__START_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPKey empty_key = MODELS__ACTUAL_LRPKEY__INIT;
    struct start_req s;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "start-valid", 1);
    for (int p = 0; p < 2; p++) {
        it_expect_invalid(paths[p], &empty.base, LIFECYCLE,
                          "Invalid field: actual_lrp_key, Invalid field: actual_lrp_instance_key, "
                          "Invalid field: actual_lrp_net_info");
        /* the example of reference 2.1.3 */
        start_init(&s, guid, 0, IG_A, CELL_A, ADDR_A);
        s.req.actual_lrp_key = &empty_key;
        s.req.actual_lrp_instance_key = NULL;
        it_expect_invalid(paths[p], &s.req.base, LIFECYCLE,
                          "Invalid field: process_guid, Invalid field: domain, "
                          "Invalid field: actual_lrp_instance_key");
        start_init(&s, guid, 0, IG_A, CELL_A, "");
        it_expect_invalid(paths[p], &s.req.base, LIFECYCLE, "Invalid field: address");
        start_init(&s, guid, 0, IG_A, CELL_A, ADDR_A);
        s.req.actual_lrp_net_info = NULL;
        it_expect_invalid(paths[p], &s.req.base, LIFECYCLE, "Invalid field: actual_lrp_net_info");
        start_init(&s, guid, -1, IG_A, CELL_A, ADDR_A);
        it_expect_invalid(paths[p], &s.req.base, LIFECYCLE, "Invalid field: index");
        start_init(&s, guid, 0, IG_A, CELL_A, ADDR_A);
        s.key.domain = IT_S("");
        it_expect_invalid(paths[p], &s.req.base, LIFECYCLE, "Invalid field: domain");
        start_init(&s, guid, 0, IG_A, "", ADDR_A);
        it_expect_invalid(paths[p], &s.req.base, LIFECYCLE, "Invalid field: cell_id");
        start_init(&s, guid, 0, "", CELL_A, ADDR_A);
        it_expect_invalid(paths[p], &s.req.base, LIFECYCLE, "Invalid field: instance_guid");
    }
    struct it_alrp a;
    it_assert_state(guid, 0, "UNCLAIMED", &a);
    assert_int_equal(a.mod_index, 0);
}

/* ---- crash 3.5 and restart policy 3.9 --------------------------------------------------- */

static void assert_auction_element(const json_t *el, const char *guid, int32_t index)
{
    int32_t idx[8];
    const json_t *tags = json_object_get(el, "PlacementTags");
    const json_t *drivers = json_object_get(el, "VolumeDrivers");

    assert_string_equal(json_string_value(json_object_get(el, "process_guid")), guid);
    assert_string_equal(json_string_value(json_object_get(el, "domain")), IT_DOMAIN);
    assert_int_equal(it_auction_indices(el, idx, 8), 1);
    assert_int_equal(idx[0], index);
    assert_string_equal(json_string_value(json_object_get(el, "RootFs")), IT_ROOTFS);
    assert_int_equal(json_integer_value(json_object_get(el, "MemoryMB")), 256);
    assert_int_equal(json_integer_value(json_object_get(el, "DiskMB")), 1024);
    assert_true(json_is_integer(json_object_get(el, "MaxPids")));
    assert_int_equal(json_integer_value(json_object_get(el, "MaxPids")), 0);
    assert_true(json_is_null(tags) || (json_is_array(tags) && json_array_size(tags) == 0));
    assert_true(json_is_null(drivers) || (json_is_array(drivers) && json_array_size(drivers) == 0));
}

static void test_crash_running_restarts_immediately(void **state)
{
    struct start_req s;
    struct it_alrp before, a;
    json_t *els;
    char guid[64];
    int64_t t0, t1;
    (void)state;

    new_lrp(guid, sizeof(guid), "crash-running", 3);
    start_init(&s, guid, 2, IG_A, CELL_A, ADDR_A);
    start_with_routes_and_tags(&s);
    s.req.availability_zone = IT_S("z1");
    s.req.optional_routable_case = MODELS__START_ACTUAL_LRPREQUEST__OPTIONAL_ROUTABLE_ROUTABLE;
    s.req.routable = 1;
    assert_int_equal(start_send("/v1/actual_lrps/start.r1", &s), IT_OK);
    it_actual(guid, 2, &before);

    t0 = it_now_ns();
    assert_int_equal(it_crash(guid, 2, NULL, IG_A, CELL_A, "exited with status 137"), IT_OK);
    t1 = it_now_ns();
    it_assert_state(guid, 2, "UNCLAIMED", &a);
    assert_string_equal(a.instance_guid, "");
    assert_string_equal(a.cell_id, "");
    assert_string_equal(a.address, "");
    assert_int_equal(a.n_ports, 0);
    assert_int_equal(a.crash_count, 1);
    assert_string_equal(a.crash_reason, "exited with status 137");
    assert_true(a.since >= t0 && a.since <= t1);
    assert_string_equal(a.epoch, before.epoch);
    assert_int_equal(a.mod_index, before.mod_index + 1);
    /* not touched by a crash: routable, internal routes, metric tags, zone */
    assert_true(a.routable_set && a.routable);
    assert_int_equal(a.n_internal_routes, 2);
    assert_int_equal(a.n_metric_tags, 2);
    assert_string_equal(a.availability_zone, "z1");

    /* one more element: this index alone */
    els = expect_auctions(guid, 2);
    assert_auction_element(json_array_get(els, 1), guid, 2);
    json_decref(els);
}

static void test_crash_claimed_counts(void **state)
{
    struct it_alrp a;
    json_t *els;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "crash-claimed", 1);
    assert_int_equal(it_claim(guid, 0, IG_A, CELL_A), IT_OK);
    assert_int_equal(it_crash(guid, 0, NULL, IG_A, CELL_A, "failed to create container"), IT_OK);
    it_assert_state(guid, 0, "UNCLAIMED", &a);
    assert_int_equal(a.crash_count, 1);
    assert_string_equal(a.crash_reason, "failed to create container");
    els = expect_auctions(guid, 2);
    assert_auction_element(json_array_get(els, 1), guid, 0);
    json_decref(els);
}

/* 3.9: counts 1 and 2 restart at once (UNCLAIMED + auction), 3 waits (CRASHED, no auction). */
static void test_crash_count_policy_boundaries(void **state)
{
    struct it_alrp a;
    json_t *els;
    char guid[64];
    char reason[32];
    (void)state;

    new_lrp(guid, sizeof(guid), "crash-policy", 1);
    for (int n = 1; n <= 3; n++) {
        struct it_alrp before;
        assert_int_equal(it_start(guid, 0, NULL, IG_A, CELL_A, ADDR_A), IT_OK);
        it_actual(guid, 0, &before);
        assert_int_equal(before.crash_count, n - 1);
        snprintf(reason, sizeof(reason), "crash %d", n);
        assert_int_equal(it_crash(guid, 0, NULL, IG_A, CELL_A, reason), IT_OK);
        it_actual(guid, 0, &a);
        assert_int_equal(a.crash_count, n);
        assert_string_equal(a.crash_reason, reason);
        assert_string_equal(a.instance_guid, "");
        assert_string_equal(a.cell_id, "");
        assert_string_equal(a.address, "");
        assert_int_equal(a.mod_index, before.mod_index + 1);
        if (n < 3) {
            assert_string_equal(a.state, "UNCLAIMED");
            els = expect_auctions(guid, 1 + (size_t)n);
            assert_auction_element(json_array_get(els, (size_t)n), guid, 0);
            json_decref(els);
        } else {
            assert_string_equal(a.state, "CRASHED");
            json_decref(expect_auctions(guid, 3)); /* nothing new */
        }
    }
    /* a CRASHED row can be neither claimed, started nor crashed */
    assert_int_equal(it_claim(guid, 0, IG_A, CELL_A), E(ActualLRPCannotBeClaimed));
    assert_int_equal(it_start(guid, 0, NULL, IG_A, CELL_A, ADDR_A), E(ActualLRPCannotBeStarted));
    assert_int_equal(it_crash(guid, 0, NULL, IG_A, CELL_A, "again"), E(ActualLRPCannotBeCrashed));
    it_assert_state(guid, 0, "CRASHED", &a);
    assert_int_equal(a.crash_count, 3);
}

static void test_crash_refusals(void **state)
{
    Models__ActualLRPLifecycleResponse *r;
    Models__CrashActualLRPRequest req = MODELS__CRASH_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;
    Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;
    struct it_alrp a, b;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "crash-refused", 2);
    /* UNCLAIMED: nothing to crash */
    it_actual(guid, 0, &a);
    assert_int_equal(it_crash(guid, 0, NULL, IG_A, CELL_A, "x"), E(ActualLRPCannotBeCrashed));
    it_actual(guid, 0, &b);
    assert_same_row(&a, &b);
    /* RUNNING on A, crash from B (either half differing) */
    assert_int_equal(it_start(guid, 1, NULL, IG_A, CELL_A, ADDR_A), IT_OK);
    it_actual(guid, 1, &a);
    assert_int_equal(it_crash(guid, 1, NULL, IG_A, CELL_B, "x"), E(ActualLRPCannotBeCrashed));
    assert_int_equal(it_crash(guid, 1, NULL, IG_B, CELL_A, "x"), E(ActualLRPCannotBeCrashed));
    key.process_guid = guid;
    key.index = 1;
    key.domain = IT_S(IT_DOMAIN);
    ik.instance_guid = IT_S(IG_B);
    ik.cell_id = IT_S(CELL_B);
    req.actual_lrp_key = &key;
    req.actual_lrp_instance_key = &ik;
    req.error_message = IT_S("x");
    r = it_call("/v1/actual_lrps/crash", &req.base, LIFECYCLE);
    assert_int_equal(it_err_type(r), E(ActualLRPCannotBeCrashed));
    assert_string_equal(it_err_msg(r), IT_MSG_NO_CRASH);
    it_free(r);
    it_actual(guid, 1, &b);
    assert_same_row(&a, &b);
    /* no row */
    assert_int_equal(it_crash(guid, 7, NULL, IG_A, CELL_A, "x"), E(ResourceNotFound));
    assert_int_equal(it_crash("crash-no-such-guid", 0, NULL, IG_A, CELL_A, "x"),
                     E(ResourceNotFound));
    assert_int_equal(it_actual_count("crash-no-such-guid"), 0);
    /* no auction for any of these */
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(auctions(guid), 1);
}

static void test_crash_validation(void **state)
{
    Models__CrashActualLRPRequest req = MODELS__CRASH_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;
    Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;
    struct it_alrp a;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "crash-valid", 1);
    assert_int_equal(it_start(guid, 0, NULL, IG_A, CELL_A, ADDR_A), IT_OK);
    it_expect_invalid("/v1/actual_lrps/crash", &req.base, LIFECYCLE,
                      "Invalid field: actual_lrp_key, Invalid field: actual_lrp_instance_key");
    req.actual_lrp_key = &key;
    req.actual_lrp_instance_key = &ik;
    it_expect_invalid("/v1/actual_lrps/crash", &req.base, LIFECYCLE,
                      "Invalid field: process_guid, Invalid field: domain, Invalid field: "
                      "cell_id, Invalid field: instance_guid");
    key.process_guid = guid;
    key.domain = IT_S(IT_DOMAIN);
    key.index = -1;
    ik.instance_guid = IT_S(IG_A);
    ik.cell_id = IT_S(CELL_A);
    it_expect_invalid("/v1/actual_lrps/crash", &req.base, LIFECYCLE, "Invalid field: index");
    key.index = 0;
    req.actual_lrp_instance_key = NULL;
    it_expect_invalid("/v1/actual_lrps/crash", &req.base, LIFECYCLE,
                      "Invalid field: actual_lrp_instance_key");
    it_assert_state(guid, 0, "RUNNING", &a);
    assert_int_equal(a.crash_count, 0);
}

static void test_crash_empty_reason_allowed(void **state)
{
    struct it_alrp a;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "crash-empty", 1);
    assert_int_equal(it_start(guid, 0, NULL, IG_A, CELL_A, ADDR_A), IT_OK);
    assert_int_equal(it_crash(guid, 0, NULL, IG_A, CELL_A, ""), IT_OK);
    it_assert_state(guid, 0, "UNCLAIMED", &a);
    assert_int_equal(a.crash_count, 1);
    assert_string_equal(a.crash_reason, "");
}

/* Quirk 7: the crash is committed, then the missing desired LRP is reported. */
static void test_crash_after_desired_removed(void **state)
{
    struct it_alrp a;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "crash-orphan", 1);
    assert_int_equal(it_start(guid, 0, NULL, IG_A, CELL_A, ADDR_A), IT_OK);
    assert_int_equal(it_remove_desired(guid), IT_OK);
    it_assert_state(guid, 0, "RUNNING", NULL); /* 5.6: running rows are left alone */
    assert_int_equal(it_crash(guid, 0, NULL, IG_A, CELL_A, "gone"), E(ResourceNotFound));
    it_assert_state(guid, 0, "UNCLAIMED", &a);
    assert_int_equal(a.crash_count, 1);
    assert_string_equal(a.crash_reason, "gone");
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(auctions(guid), 1);
}

/* ---- truncation 6.4 --------------------------------------------------------------------- */

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void assert_truncated(const char *stored, const char *input)
{
    size_t n = strlen(stored);
    assert_int_equal(n, 1024);
    assert_string_equal(stored + 1013, "(truncated)");
    assert_memory_equal(stored, input, 1013);
}

static void test_crash_reason_truncation(void **state)
{
    static const size_t lens[] = {1023, 1024, 1025, 3000, 5000};
    enum { N = sizeof(lens) / sizeof(lens[0]) };
    struct it_alrp a;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "crash-trunc", N + 1);
    for (size_t i = 0; i < N; i++) {
        char *msg = repeat((char)('a' + i), lens[i]);
        msg[0] = 'X'; /* mark the start */
        assert_int_equal(it_start(guid, (int32_t)i, NULL, IG_A, CELL_A, ADDR_A), IT_OK);
        assert_int_equal(it_crash(guid, (int32_t)i, NULL, IG_A, CELL_A, msg), IT_OK);
        it_assert_state(guid, (int32_t)i, "UNCLAIMED", &a);
        if (lens[i] < 1024) {
            assert_string_equal(a.crash_reason, msg);
        } else {
            assert_truncated(a.crash_reason, msg);
        }
        free(msg);
    }

    /* quirk 14 (changed): the cut never splits a UTF-8 character */
    {
        char *msg = repeat('u', 1200);
        size_t n;
        memcpy(msg + 1012, "\xc3\xa9", 2); /* bytes 1012-1013: cutting at 1013 would split it */
        assert_int_equal(it_start(guid, N, NULL, IG_A, CELL_A, ADDR_A), IT_OK);
        assert_int_equal(it_crash(guid, N, NULL, IG_A, CELL_A, msg), IT_OK);
        it_assert_state(guid, N, "UNCLAIMED", &a);
        n = strlen(a.crash_reason);
        assert_true(n <= 1024 && n >= 1010 + 11);
        assert_string_equal(a.crash_reason + n - 11, "(truncated)");
        assert_memory_equal(a.crash_reason, msg, n - 11);
        assert_true(it_utf8_valid(a.crash_reason, n));
        free(msg);
    }
}

static void test_placement_error_truncation(void **state)
{
    static const size_t lens[] = {1023, 1024, 1025, 3000, 5000};
    enum { N = sizeof(lens) / sizeof(lens[0]) };
    struct it_alrp a;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "fail-trunc", N);
    for (size_t i = 0; i < N; i++) {
        char *msg = repeat((char)('k' + i), lens[i]);
        msg[0] = 'Y';
        assert_int_equal(it_fail(guid, (int32_t)i, NULL, msg), IT_OK);
        it_assert_state(guid, (int32_t)i, "UNCLAIMED", &a);
        if (lens[i] < 1024) {
            assert_string_equal(a.placement_error, msg);
        } else {
            assert_truncated(a.placement_error, msg);
        }
        free(msg);
    }
}

/* ---- fail 3.6 ------------------------------------------------------------------------- */

static void test_fail_unclaimed_sets_placement_error(void **state)
{
    struct it_alrp before, a;
    char guid[64];
    int64_t t0, t1;
    (void)state;

    new_lrp(guid, sizeof(guid), "fail-ok", 1);
    it_actual(guid, 0, &before);
    t0 = it_now_ns();
    assert_int_equal(it_fail(guid, 0, NULL, "found no compatible cell"), IT_OK);
    t1 = it_now_ns();
    it_assert_state(guid, 0, "UNCLAIMED", &a);
    assert_string_equal(a.placement_error, "found no compatible cell");
    assert_true(a.since >= t0 && a.since <= t1);
    assert_int_equal(a.mod_index, before.mod_index + 1);
    assert_string_equal(a.epoch, before.epoch);
    assert_string_equal(a.instance_guid, "");
    /* every fail is a change, even with the same message */
    assert_int_equal(it_fail(guid, 0, NULL, "found no compatible cell"), IT_OK);
    it_actual(guid, 0, &before);
    assert_int_equal(before.mod_index, a.mod_index + 1);
    /* 3.6 step 7: no new auction */
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(auctions(guid), 1);
}

static void test_fail_non_unclaimed_refused(void **state)
{
    static const char *const states[] = {"CLAIMED", "RUNNING", "CRASHED"};
    struct it_alrp a, b;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "fail-refused", 3);
    for (int i = 0; i < 3; i++) {
        Models__FailActualLRPRequest req = MODELS__FAIL_ACTUAL_LRPREQUEST__INIT;
        Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;
        Models__ActualLRPLifecycleResponse *r;

        make_state(guid, i, states[i]);
        it_actual(guid, i, &a);
        key.process_guid = guid;
        key.index = i;
        key.domain = IT_S(IT_DOMAIN);
        req.actual_lrp_key = &key;
        req.error_message = IT_S("cannot place");
        r = it_call("/v1/actual_lrps/fail", &req.base, LIFECYCLE);
        assert_int_equal(it_err_type(r), E(ActualLRPCannotBeFailed));
        assert_string_equal(it_err_msg(r), IT_MSG_NO_FAIL);
        it_free(r);
        it_actual(guid, i, &b);
        assert_same_row(&a, &b);
    }
}

static void test_fail_missing_succeeds(void **state)
{
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "fail-missing", 1);
    /* quirk 6: ResourceNotFound is swallowed, nothing is created */
    assert_int_equal(it_fail(guid, 5, NULL, "no cell"), IT_OK);
    assert_int_equal(it_fail("fail-no-such-guid", 0, NULL, "no cell"), IT_OK);
    assert_int_equal(it_actual_count(guid), 1);
    assert_int_equal(it_actual_count("fail-no-such-guid"), 0);
}

static void test_fail_validation(void **state)
{
    Models__FailActualLRPRequest req = MODELS__FAIL_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;
    struct it_alrp a;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "fail-valid", 1);
    it_expect_invalid("/v1/actual_lrps/fail", &req.base, LIFECYCLE,
                      "Invalid field: actual_lrp_key, Invalid field: error_message");
    key.process_guid = guid;
    key.domain = IT_S(IT_DOMAIN);
    req.actual_lrp_key = &key;
    it_expect_invalid("/v1/actual_lrps/fail", &req.base, LIFECYCLE, "Invalid field: error_message");
    req.error_message = IT_S("msg");
    key.index = -1;
    it_expect_invalid("/v1/actual_lrps/fail", &req.base, LIFECYCLE, "Invalid field: index");
    key.index = 0;
    key.domain = IT_S("");
    it_expect_invalid("/v1/actual_lrps/fail", &req.base, LIFECYCLE, "Invalid field: domain");
    it_assert_state(guid, 0, "UNCLAIMED", &a);
    assert_string_equal(a.placement_error, "");
    assert_int_equal(a.mod_index, 0);
}

/* ---- remove 3.7 ----------------------------------------------------------------------- */

static void test_remove_with_matching_key(void **state)
{
    struct it_alrp a;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "remove-match", 2);
    make_state(guid, 0, "CLAIMED");
    make_state(guid, 1, "RUNNING");
    assert_int_equal(it_remove_actual(guid, 0, IG_A, CELL_A), IT_OK);
    assert_int_equal(it_remove_actual(guid, 1, IG_A, CELL_A), IT_OK);
    assert_false(it_actual(guid, 0, &a));
    assert_false(it_actual(guid, 1, &a));
    assert_int_equal(it_actual_count(guid), 0);
    /* removing does not start a replacement */
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(auctions(guid), 1);
}

static void test_remove_mismatched_key_not_found(void **state)
{
    struct it_alrp a, b;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "remove-mismatch", 2);
    make_state(guid, 0, "RUNNING");
    make_state(guid, 1, "CLAIMED");
    for (int i = 0; i < 2; i++) {
        it_actual(guid, i, &a);
        assert_int_equal(it_remove_actual(guid, i, IG_B, CELL_B), E(ResourceNotFound));
        assert_int_equal(it_remove_actual(guid, i, IG_A, CELL_B), E(ResourceNotFound));
        assert_int_equal(it_remove_actual(guid, i, IG_B, CELL_A), E(ResourceNotFound));
        /* an explicitly empty key only matches UNCLAIMED/CRASHED rows */
        assert_int_equal(it_remove_actual(guid, i, "", ""), E(ResourceNotFound));
        it_actual(guid, i, &b);
        assert_same_row(&a, &b);
    }
}

static void test_remove_without_key_any_state(void **state)
{
    static const char *const states[] = {"UNCLAIMED", "CLAIMED", "RUNNING", "CRASHED"};
    struct it_alrp a;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "remove-any", 4);
    for (int i = 0; i < 4; i++) {
        make_state(guid, i, states[i]);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(it_remove_actual(guid, i, NULL, NULL), IT_OK);
        assert_false(it_actual(guid, i, &a));
    }
    assert_int_equal(it_actual_count(guid), 0);
}

static void test_remove_empty_key_unclaimed_or_crashed(void **state)
{
    struct it_alrp a;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "remove-empty", 2);
    make_state(guid, 1, "CRASHED");
    assert_int_equal(it_remove_actual(guid, 0, "", ""), IT_OK);
    assert_int_equal(it_remove_actual(guid, 1, "", ""), IT_OK);
    assert_false(it_actual(guid, 0, &a));
    assert_false(it_actual(guid, 1, &a));
}

static void test_remove_missing_and_validation(void **state)
{
    Models__RemoveActualLRPRequest req = MODELS__REMOVE_ACTUAL_LRPREQUEST__INIT;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "remove-valid", 1);
    assert_int_equal(it_remove_actual(guid, 3, NULL, NULL), E(ResourceNotFound));
    assert_int_equal(it_remove_actual("remove-no-such-guid", 0, NULL, NULL), E(ResourceNotFound));
    it_expect_invalid("/v1/actual_lrps/remove", &req.base, LIFECYCLE,
                      "Invalid field: process_guid");
    req.process_guid = guid;
    req.index = -1;
    it_expect_invalid("/v1/actual_lrps/remove", &req.base, LIFECYCLE, "Invalid field: index");
    /* a second remove of the same row: gone */
    assert_int_equal(it_remove_actual(guid, 0, NULL, NULL), IT_OK);
    assert_int_equal(it_remove_actual(guid, 0, NULL, NULL), E(ResourceNotFound));
}

/* 6.6: a re-created row gets a fresh epoch and index 0. */
static void test_recreated_row_has_new_epoch(void **state)
{
    struct it_alrp a, b;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "epoch-new", 1);
    make_state(guid, 0, "RUNNING");
    it_actual(guid, 0, &a);
    assert_int_equal(it_remove_actual(guid, 0, IG_A, CELL_A), IT_OK);
    assert_int_equal(it_start(guid, 0, NULL, IG_B, CELL_B, ADDR_B), IT_OK);
    it_assert_state(guid, 0, "RUNNING", &b);
    assert_true(it_is_uuid_v4(b.epoch));
    assert_string_not_equal(a.epoch, b.epoch);
    assert_int_equal(b.mod_index, 0);
}

/* ---- retire 3.8 ----------------------------------------------------------------------- */

static void test_retire_each_state_deletes(void **state)
{
    static const char *const states[] = {"UNCLAIMED", "CLAIMED", "RUNNING", "CRASHED"};
    Models__DesiredLRPResponse *d;
    struct it_alrp a;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "retire-states", 4);
    for (int i = 0; i < 4; i++) {
        make_state(guid, i, states[i]);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(it_retire(guid, i, NULL), IT_OK);
        assert_false(it_actual(guid, i, &a));
    }
    assert_int_equal(it_actual_count(guid), 0);
    /* the desired state is unchanged and nothing is re-auctioned */
    d = it_get_desired(guid);
    assert_int_equal(it_err_type(d), IT_OK);
    assert_int_equal(d->desired_lrp->instances, 4);
    it_free(d);
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(auctions(guid), 3); /* the desire and the two immediate restarts */
}

static void test_retire_ignores_domain(void **state)
{
    struct it_alrp a;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "retire-domain", 2);
    make_state(guid, 1, "RUNNING");
    assert_int_equal(it_retire(guid, 0, "some-other-domain"), IT_OK);
    assert_int_equal(it_retire(guid, 1, "some-other-domain"), IT_OK);
    assert_false(it_actual(guid, 0, &a));
    assert_false(it_actual(guid, 1, &a));
}

static void test_retire_missing_and_validation(void **state)
{
    Models__RetireActualLRPRequest req = MODELS__RETIRE_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;
    char guid[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "retire-valid", 1);
    assert_int_equal(it_retire(guid, 2, NULL), E(ResourceNotFound));
    assert_int_equal(it_retire("retire-no-such-guid", 0, NULL), E(ResourceNotFound));
    it_expect_invalid("/v1/actual_lrps/retire", &req.base, LIFECYCLE,
                      "Invalid field: actual_lrp_key");
    req.actual_lrp_key = &key;
    it_expect_invalid("/v1/actual_lrps/retire", &req.base, LIFECYCLE,
                      "Invalid field: process_guid, Invalid field: domain");
    key.process_guid = guid;
    key.domain = IT_S(IT_DOMAIN);
    key.index = -1;
    it_expect_invalid("/v1/actual_lrps/retire", &req.base, LIFECYCLE, "Invalid field: index");
    key.index = 0;
    key.domain = IT_S("");
    it_expect_invalid("/v1/actual_lrps/retire", &req.base, LIFECYCLE, "Invalid field: domain");
    it_assert_state(guid, 0, "UNCLAIMED", NULL);
    assert_int_equal(it_retire(guid, 0, NULL), IT_OK);
    assert_int_equal(it_retire(guid, 0, NULL), E(ResourceNotFound));
}

/* ---- modification tag 3.2 / 6.6 ---------------------------------------------------------- */

static void test_modification_tag_sequence(void **state)
{
    struct it_alrp a, prev;
    char guid[64];
    char epoch[64];
    (void)state;

    new_lrp(guid, sizeof(guid), "modtag", 1);
    it_actual(guid, 0, &a);
    assert_int_equal(a.mod_index, 0);
    assert_true(it_is_uuid_v4(a.epoch));
    snprintf(epoch, sizeof(epoch), "%s", a.epoch);

    struct {
        const char *what;
        int change;
    } steps[] = {
        {"fail", 1},    {"claim", 1}, {"reclaim", 0}, {"start", 1},
        {"restart", 0}, {"crash", 1}, {"fail2", 1},   {"claim2", 1},
    };
    prev = a;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        const char *w = steps[i].what;
        if (strcmp(w, "fail") == 0 || strcmp(w, "fail2") == 0) {
            assert_int_equal(it_fail(guid, 0, NULL, "p"), IT_OK);
        } else if (strcmp(w, "claim") == 0 || strcmp(w, "reclaim") == 0) {
            assert_int_equal(it_claim(guid, 0, IG_A, CELL_A), IT_OK);
        } else if (strcmp(w, "claim2") == 0) {
            assert_int_equal(it_claim(guid, 0, IG_B, CELL_B), IT_OK);
        } else if (strcmp(w, "start") == 0 || strcmp(w, "restart") == 0) {
            assert_int_equal(it_start(guid, 0, NULL, IG_A, CELL_A, ADDR_A), IT_OK);
        } else if (strcmp(w, "crash") == 0) {
            assert_int_equal(it_crash(guid, 0, NULL, IG_A, CELL_A, "c"), IT_OK);
        }
        it_actual(guid, 0, &a);
        if (a.mod_index != prev.mod_index + (uint32_t)steps[i].change) {
            fail_msg("after %s: modification index %u, expected %u", w, a.mod_index,
                     prev.mod_index + (uint32_t)steps[i].change);
        }
        if (steps[i].change) {
            assert_true(a.since > prev.since);
        } else {
            assert_int_equal(a.since, prev.since);
        }
        assert_string_equal(a.epoch, epoch);
        prev = a;
    }
    assert_int_equal(a.mod_index, 6);
}

int main(void)
{
    enum { N_T = sizeof(tcases) / sizeof(tcases[0]) };
    static const struct CMUnitTest named[] = {
        cmocka_unit_test(test_claim_sets_fields),
        cmocka_unit_test(test_claim_idempotent_reclaim),
        cmocka_unit_test(test_claim_other_key_refused_variants),
        cmocka_unit_test(test_claim_error_message),
        cmocka_unit_test(test_claim_missing_is_not_found),
        cmocka_unit_test(test_claim_validation),
        cmocka_unit_test(test_claim_keeps_crash_count_and_reason),
        cmocka_unit_test(test_start_sets_fields),
        cmocka_unit_test(test_start_identical_is_heartbeat_noop),
        cmocka_unit_test(test_start_running_changes_are_updates),
        cmocka_unit_test(test_start_missing_instance_creates_running),
        cmocka_unit_test(test_start_missing_index_of_desired),
        cmocka_unit_test(test_start_domain_mismatch_refused),
        cmocka_unit_test(test_start_error_message),
        cmocka_unit_test(test_start_clears_placement_error_keeps_crash_info),
        cmocka_unit_test(test_start_deprecated_ignores_routes_and_tags),
        cmocka_unit_test(test_start_identical_repeat_per_route),
        cmocka_unit_test(test_start_validation),
        cmocka_unit_test(test_crash_running_restarts_immediately),
        cmocka_unit_test(test_crash_claimed_counts),
        cmocka_unit_test(test_crash_count_policy_boundaries),
        cmocka_unit_test(test_crash_refusals),
        cmocka_unit_test(test_crash_validation),
        cmocka_unit_test(test_crash_empty_reason_allowed),
        cmocka_unit_test(test_crash_after_desired_removed),
        cmocka_unit_test(test_crash_reason_truncation),
        cmocka_unit_test(test_placement_error_truncation),
        cmocka_unit_test(test_fail_unclaimed_sets_placement_error),
        cmocka_unit_test(test_fail_non_unclaimed_refused),
        cmocka_unit_test(test_fail_missing_succeeds),
        cmocka_unit_test(test_fail_validation),
        cmocka_unit_test(test_remove_with_matching_key),
        cmocka_unit_test(test_remove_mismatched_key_not_found),
        cmocka_unit_test(test_remove_without_key_any_state),
        cmocka_unit_test(test_remove_empty_key_unclaimed_or_crashed),
        cmocka_unit_test(test_remove_missing_and_validation),
        cmocka_unit_test(test_recreated_row_has_new_epoch),
        cmocka_unit_test(test_retire_each_state_deletes),
        cmocka_unit_test(test_retire_ignores_domain),
        cmocka_unit_test(test_retire_missing_and_validation),
        cmocka_unit_test(test_modification_tag_sequence),
    };
    enum { N_NAMED = sizeof(named) / sizeof(named[0]) };
    struct CMUnitTest tests[N_T + N_NAMED];

    for (size_t i = 0; i < N_T; i++) {
        tests[i] = (struct CMUnitTest){
            .name = tcases[i].name,
            .test_func = test_transition,
            .initial_state = (void *)&tcases[i],
        };
    }
    for (size_t i = 0; i < N_NAMED; i++) {
        tests[N_T + i] = named[i];
    }
    it_set_name("lifecycle");
    return it_main_exit(cmocka_run_group_tests_name("api_actual_lifecycle", tests, it_group_setup,
                                                    it_group_teardown));
}
