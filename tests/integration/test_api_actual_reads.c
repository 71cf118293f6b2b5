/*
 * test_api_actual_reads.c - ActualLRP reads (reference 3.11): actual_lrps/list
 * and its filters (index as a presence-tracked oneof), list_by_process_guids,
 * and the deprecated group reads with their folding.
 *
 * Only ORDINARY rows can be produced through the routes in scope (no
 * evacuation, no convergence), so the group priority rules are exercised for
 * ordinary rows: one group per (guid, index), `instance` = the ordinary row,
 * `evacuating` absent.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#define LIST_RESP   (&models__actual_lrps_response__descriptor)
#define GUIDS_RESP  (&models__actual_lrps_by_process_guids_response__descriptor)
#define GROUPS_RESP (&models__actual_lrpgroups_response__descriptor)
#define GROUP_RESP  (&models__actual_lrpgroup_response__descriptor)
#define E(x)        MODELS__ERROR__TYPE__##x

/* Bitmask of the indices of `guid`'s rows in a list (all presences). */
static unsigned index_mask(Models__ActualLRP *const *rows, size_t n, const char *guid)
{
    unsigned mask = 0;
    for (size_t i = 0; i < n; i++) {
        const Models__ActualLRP *a = rows[i];
        assert_non_null(a->actual_lrp_key);
        if (strcmp(a->actual_lrp_key->process_guid, guid) == 0) {
            unsigned bit = 1u << a->actual_lrp_key->index;
            if (mask & bit) {
                fail_msg("%s/%d listed twice", guid, a->actual_lrp_key->index);
            }
            mask |= bit;
        }
    }
    return mask;
}

static Models__ActualLRPsResponse *list(const char *domain, const char *cell, const char *guid,
                                        int index_set, int32_t index)
{
    Models__ActualLRPsRequest req = MODELS__ACTUAL_LRPS_REQUEST__INIT;
    Models__ActualLRPsResponse *r;

    if (domain != NULL) {
        req.domain = (char *)domain;
    }
    if (cell != NULL) {
        req.cell_id = (char *)cell;
    }
    if (guid != NULL) {
        req.process_guid = (char *)guid;
    }
    if (index_set) {
        req.optional_index_case = MODELS__ACTUAL_LRPS_REQUEST__OPTIONAL_INDEX_INDEX;
        req.index = index;
    }
    r = it_call("/v1/actual_lrps/list", &req.base, LIST_RESP);
    assert_int_equal(it_err_type(r), IT_OK);
    return r;
}

/* Every row of `r` satisfies the filters. */
static void assert_rows_match(const Models__ActualLRPsResponse *r, const char *domain,
                              const char *cell, const char *guid, int index_set, int32_t index)
{
    for (size_t i = 0; i < r->n_actual_lrps; i++) {
        const Models__ActualLRP *a = r->actual_lrps[i];
        if (domain != NULL) {
            assert_string_equal(a->actual_lrp_key->domain, domain);
        }
        if (cell != NULL) {
            assert_string_equal(a->actual_lrp_instance_key->cell_id, cell);
        }
        if (guid != NULL) {
            assert_string_equal(a->actual_lrp_key->process_guid, guid);
        }
        if (index_set) {
            assert_int_equal(a->actual_lrp_key->index, index);
        }
    }
}

/* ---- actual_lrps/list ------------------------------------------------------------------ */

static void test_list_fresh_row_fields(void **state)
{
    Models__ActualLRPsResponse *r;
    const Models__ActualLRP *a;
    char guid[64];
    int64_t t0, t1;
    (void)state;

    it_uniq(guid, sizeof(guid), "reads-fresh");
    t0 = it_now_ns();
    it_desire(guid, NULL, 1);
    t1 = it_now_ns();
    r = list(NULL, NULL, guid, 0, 0);
    assert_int_equal(r->n_actual_lrps, 1);
    a = r->actual_lrps[0];
    assert_string_equal(a->actual_lrp_key->process_guid, guid);
    assert_int_equal(a->actual_lrp_key->index, 0);
    assert_string_equal(a->actual_lrp_key->domain, IT_DOMAIN);
    /* non-nullable submessages are always emitted (2.0) */
    assert_non_null(a->actual_lrp_instance_key);
    assert_string_equal(a->actual_lrp_instance_key->instance_guid, "");
    assert_string_equal(a->actual_lrp_instance_key->cell_id, "");
    assert_non_null(a->actual_lrp_net_info);
    assert_string_equal(a->actual_lrp_net_info->address, "");
    assert_int_equal(a->actual_lrp_net_info->n_ports, 0);
    assert_non_null(a->modification_tag);
    assert_true(it_is_uuid_v4(a->modification_tag->epoch));
    assert_int_equal(a->modification_tag->index, 0);
    assert_string_equal(a->state, "UNCLAIMED");
    assert_int_equal(a->crash_count, 0);
    assert_string_equal(a->crash_reason, "");
    assert_string_equal(a->placement_error, "");
    assert_true(a->since >= t0 && a->since <= t1);
    assert_int_equal(a->presence, MODELS__ACTUAL_LRP__PRESENCE__ORDINARY);
    assert_int_equal(a->n_actual_lrp_internal_routes, 0);
    assert_int_equal(a->n_metric_tags, 0);
    /* routable is always set on returned LRPs; a new unclaimed row is not routable */
    assert_int_equal(a->optional_routable_case, MODELS__ACTUAL_LRP__OPTIONAL_ROUTABLE_ROUTABLE);
    assert_false(a->routable);
    assert_string_equal(a->availability_zone, "");
    it_free(r);
}

static void test_list_without_filter_returns_everything(void **state)
{
    Models__ActualLRPsResponse *r;
    char g1[64], g2[64];
    (void)state;

    it_uniq(g1, sizeof(g1), "reads-all-a");
    it_uniq(g2, sizeof(g2), "reads-all-b");
    it_desire(g1, NULL, 2);
    it_desire(g2, "reads-other-domain", 3);
    r = it_call("/v1/actual_lrps/list", NULL, LIST_RESP);
    assert_int_equal(it_err_type(r), IT_OK);
    assert_int_equal(index_mask(r->actual_lrps, r->n_actual_lrps, g1), 0x3);
    assert_int_equal(index_mask(r->actual_lrps, r->n_actual_lrps, g2), 0x7);
    it_free(r);
}

static void test_list_filter_process_guid(void **state)
{
    Models__ActualLRPsResponse *r;
    char g1[64], g2[64];
    (void)state;

    it_uniq(g1, sizeof(g1), "reads-guid-a");
    it_uniq(g2, sizeof(g2), "reads-guid-b");
    it_desire(g1, NULL, 3);
    it_desire(g2, NULL, 2);
    r = list(NULL, NULL, g1, 0, 0);
    assert_int_equal(r->n_actual_lrps, 3);
    assert_rows_match(r, NULL, NULL, g1, 0, 0);
    assert_int_equal(index_mask(r->actual_lrps, r->n_actual_lrps, g1), 0x7);
    it_free(r);
    r = list(NULL, NULL, "reads-no-such-guid", 0, 0);
    assert_int_equal(r->n_actual_lrps, 0);
    it_free(r);
}

static void test_list_filter_domain(void **state)
{
    Models__ActualLRPsResponse *r;
    char g1[64], g2[64], d1[64], d2[64];
    (void)state;

    it_uniq(g1, sizeof(g1), "reads-dom-a");
    it_uniq(g2, sizeof(g2), "reads-dom-b");
    it_uniq(d1, sizeof(d1), "reads-domain");
    it_uniq(d2, sizeof(d2), "reads-domain");
    it_desire(g1, d1, 2);
    it_desire(g2, d2, 1);
    r = list(d1, NULL, NULL, 0, 0);
    assert_int_equal(r->n_actual_lrps, 2);
    assert_rows_match(r, d1, NULL, g1, 0, 0);
    it_free(r);
    /* AND-ed with the guid filter */
    r = list(d2, NULL, g1, 0, 0);
    assert_int_equal(r->n_actual_lrps, 0);
    it_free(r);
    r = list(d2, NULL, g2, 0, 0);
    assert_int_equal(r->n_actual_lrps, 1);
    it_free(r);
}

static void test_list_filter_cell_id(void **state)
{
    Models__ActualLRPsResponse *r;
    char guid[64], cell[64], other[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "reads-cell");
    it_uniq(cell, sizeof(cell), "reads-cell-x");
    it_uniq(other, sizeof(other), "reads-cell-y");
    it_desire(guid, NULL, 4);
    assert_int_equal(it_claim(guid, 0, "ig-0", cell), IT_OK);
    assert_int_equal(it_start(guid, 1, NULL, "ig-1", cell, "10.1.1.1"), IT_OK);
    assert_int_equal(it_start(guid, 2, NULL, "ig-2", other, "10.1.1.2"), IT_OK);

    r = list(NULL, cell, NULL, 0, 0);
    assert_int_equal(r->n_actual_lrps, 2);
    assert_rows_match(r, NULL, cell, guid, 0, 0);
    assert_int_equal(index_mask(r->actual_lrps, r->n_actual_lrps, guid), 0x3);
    it_free(r);
    /* with all filters AND-ed */
    r = list(IT_DOMAIN, cell, guid, 1, 1);
    assert_int_equal(r->n_actual_lrps, 1);
    assert_rows_match(r, IT_DOMAIN, cell, guid, 1, 1);
    it_free(r);
    r = list("reads-wrong-domain", cell, guid, 0, 0);
    assert_int_equal(r->n_actual_lrps, 0);
    it_free(r);
    /* an UNCLAIMED row has no cell: not matched by any cell filter */
    r = list(NULL, other, guid, 0, 0);
    assert_int_equal(r->n_actual_lrps, 1);
    assert_int_equal(r->actual_lrps[0]->actual_lrp_key->index, 2);
    it_free(r);
}

static void test_list_filter_index_oneof(void **state)
{
    Models__ActualLRPsResponse *r;
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "reads-index");
    it_desire(guid, NULL, 3);

    /* index 0 set explicitly is a filter */
    r = list(NULL, NULL, guid, 1, 0);
    assert_int_equal(r->n_actual_lrps, 1);
    assert_rows_match(r, NULL, NULL, guid, 1, 0);
    it_free(r);
    /* index 0 without the guid: only index-0 rows, ours among them */
    r = list(NULL, NULL, NULL, 1, 0);
    assert_rows_match(r, NULL, NULL, NULL, 1, 0);
    assert_int_equal(index_mask(r->actual_lrps, r->n_actual_lrps, guid), 0x1);
    it_free(r);
    r = list(NULL, NULL, guid, 1, 2);
    assert_int_equal(r->n_actual_lrps, 1);
    assert_rows_match(r, NULL, NULL, guid, 1, 2);
    it_free(r);
    r = list(NULL, NULL, guid, 1, 9);
    assert_int_equal(r->n_actual_lrps, 0);
    it_free(r);
    /* unset: no index filter */
    r = list(NULL, NULL, guid, 0, 0);
    assert_int_equal(r->n_actual_lrps, 3);
    it_free(r);
}

static void test_list_reflects_state_changes(void **state)
{
    Models__ActualLRPsResponse *r;
    const Models__ActualLRP *a;
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "reads-changes");
    it_desire(guid, NULL, 3);
    assert_int_equal(it_claim(guid, 0, "ig-0", "cell-r"), IT_OK);
    assert_int_equal(it_start(guid, 1, NULL, "ig-1", "cell-r", "10.2.2.2"), IT_OK);
    assert_int_equal(it_retire(guid, 2, NULL), IT_OK);
    r = list(NULL, NULL, guid, 0, 0);
    assert_int_equal(r->n_actual_lrps, 2);
    a = it_find_actual(r, 0, MODELS__ACTUAL_LRP__PRESENCE__ORDINARY);
    assert_non_null(a);
    assert_string_equal(a->state, "CLAIMED");
    assert_string_equal(a->actual_lrp_instance_key->instance_guid, "ig-0");
    a = it_find_actual(r, 1, MODELS__ACTUAL_LRP__PRESENCE__ORDINARY);
    assert_non_null(a);
    assert_string_equal(a->state, "RUNNING");
    assert_string_equal(a->actual_lrp_net_info->address, "10.2.2.2");
    assert_null(it_find_actual(r, 2, MODELS__ACTUAL_LRP__PRESENCE__ORDINARY));
    it_free(r);
}

/* ---- list_by_process_guids ----------------------------------------------------------- */

static Models__ActualLRPsByProcessGuidsResponse *by_guids(const char **guids, size_t n)
{
    Models__ActualLRPsByProcessGuidsRequest req =
        MODELS__ACTUAL_LRPS_BY_PROCESS_GUIDS_REQUEST__INIT;
    req.n_process_guids = n;
    req.process_guids = (char **)guids;
    return it_call("/v1/actual_lrps/list_by_process_guids", &req.base, GUIDS_RESP);
}

static void test_list_by_process_guids(void **state)
{
    Models__ActualLRPsByProcessGuidsResponse *r;
    char g1[64], g2[64], g3[64];
    const char *guids[3];
    (void)state;

    it_uniq(g1, sizeof(g1), "reads-guids-a");
    it_uniq(g2, sizeof(g2), "reads-guids-b");
    it_uniq(g3, sizeof(g3), "reads-guids-c");
    it_desire(g1, NULL, 2);
    it_desire(g2, "reads-guids-domain", 1);
    it_desire(g3, NULL, 1);
    assert_int_equal(it_start(g2, 0, "reads-guids-domain", "ig", "cell", "10.3.3.3"), IT_OK);

    guids[0] = g1;
    guids[1] = g2;
    guids[2] = "reads-guids-unknown";
    r = by_guids(guids, 3);
    assert_int_equal(it_err_type(r), IT_OK);
    assert_int_equal(r->n_actual_lrps, 3);
    assert_int_equal(index_mask(r->actual_lrps, r->n_actual_lrps, g1), 0x3);
    assert_int_equal(index_mask(r->actual_lrps, r->n_actual_lrps, g2), 0x1);
    assert_int_equal(index_mask(r->actual_lrps, r->n_actual_lrps, g3), 0x0);
    for (size_t i = 0; i < r->n_actual_lrps; i++) {
        if (strcmp(r->actual_lrps[i]->actual_lrp_key->process_guid, g2) == 0) {
            assert_string_equal(r->actual_lrps[i]->state, "RUNNING");
        }
    }
    it_free(r);

    guids[0] = "reads-guids-unknown";
    r = by_guids(guids, 1);
    assert_int_equal(it_err_type(r), IT_OK);
    assert_int_equal(r->n_actual_lrps, 0);
    it_free(r);
}

static void test_list_by_process_guids_empty_invalid(void **state)
{
    Models__ActualLRPsByProcessGuidsResponse *r;
    (void)state;

    r = by_guids(NULL, 0);
    it_assert_invalid(r, "process_guids must not be empty");
    assert_int_equal(r->n_actual_lrps, 0);
    it_free(r);
}

/* ---- deprecated group reads ---------------------------------------------------------- */

static void assert_groups_fold(const Models__ActualLRPGroupsResponse *r, const char *guid,
                               unsigned want_mask)
{
    unsigned mask = 0;
    for (size_t i = 0; i < r->n_actual_lrp_groups; i++) {
        const Models__ActualLRPGroup *g = r->actual_lrp_groups[i];
        assert_non_null(g->instance);
        if (strcmp(g->instance->actual_lrp_key->process_guid, guid) != 0) {
            continue;
        }
        unsigned bit = 1u << g->instance->actual_lrp_key->index;
        if (mask & bit) {
            fail_msg("%s/%d has two groups", guid, g->instance->actual_lrp_key->index);
        }
        mask |= bit;
        assert_null(g->evacuating);
        assert_int_equal(g->instance->presence, MODELS__ACTUAL_LRP__PRESENCE__ORDINARY);
    }
    assert_int_equal(mask, want_mask);
}

static void test_groups_list_filters(void **state)
{
    Models__ActualLRPGroupsRequest req = MODELS__ACTUAL_LRPGROUPS_REQUEST__INIT;
    Models__ActualLRPGroupsResponse *r;
    char guid[64], dom[64], cell[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "reads-groups");
    it_uniq(dom, sizeof(dom), "reads-groups-domain");
    it_uniq(cell, sizeof(cell), "reads-groups-cell");
    it_desire(guid, dom, 3);
    assert_int_equal(it_claim(guid, 1, "ig-1", cell), IT_OK);
    assert_int_equal(it_start(guid, 2, dom, "ig-2", cell, "10.4.4.4"), IT_OK);

    r = it_call("/v1/actual_lrp_groups/list", NULL, GROUPS_RESP);
    assert_int_equal(it_err_type(r), IT_OK);
    assert_groups_fold(r, guid, 0x7);
    it_free(r);

    req.domain = dom;
    r = it_call("/v1/actual_lrp_groups/list", &req.base, GROUPS_RESP);
    assert_int_equal(it_err_type(r), IT_OK);
    assert_int_equal(r->n_actual_lrp_groups, 3);
    assert_groups_fold(r, guid, 0x7);
    it_free(r);

    req.cell_id = cell;
    r = it_call("/v1/actual_lrp_groups/list", &req.base, GROUPS_RESP);
    assert_int_equal(it_err_type(r), IT_OK);
    assert_int_equal(r->n_actual_lrp_groups, 2);
    assert_groups_fold(r, guid, 0x6);
    for (size_t i = 0; i < r->n_actual_lrp_groups; i++) {
        const Models__ActualLRP *a = r->actual_lrp_groups[i]->instance;
        assert_string_equal(a->state, a->actual_lrp_key->index == 1 ? "CLAIMED" : "RUNNING");
        assert_string_equal(a->actual_lrp_instance_key->cell_id, cell);
    }
    it_free(r);

    req.domain = IT_S("reads-groups-no-domain");
    r = it_call("/v1/actual_lrp_groups/list", &req.base, GROUPS_RESP);
    assert_int_equal(it_err_type(r), IT_OK);
    assert_int_equal(r->n_actual_lrp_groups, 0);
    it_free(r);
}

static void test_groups_list_by_process_guid(void **state)
{
    Models__ActualLRPGroupsByProcessGuidRequest req =
        MODELS__ACTUAL_LRPGROUPS_BY_PROCESS_GUID_REQUEST__INIT;
    Models__ActualLRPGroupsResponse *r;
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "reads-groups-guid");
    it_desire(guid, NULL, 2);
    assert_int_equal(it_start(guid, 1, NULL, "ig-1", "cell-g", "10.5.5.5"), IT_OK);

    req.process_guid = guid;
    r = it_call("/v1/actual_lrp_groups/list_by_process_guid", &req.base, GROUPS_RESP);
    assert_int_equal(it_err_type(r), IT_OK);
    assert_int_equal(r->n_actual_lrp_groups, 2);
    assert_groups_fold(r, guid, 0x3);
    it_free(r);

    req.process_guid = IT_S("reads-groups-unknown");
    r = it_call("/v1/actual_lrp_groups/list_by_process_guid", &req.base, GROUPS_RESP);
    assert_int_equal(it_err_type(r), IT_OK);
    assert_int_equal(r->n_actual_lrp_groups, 0);
    it_free(r);

    req.process_guid = IT_S("");
    it_expect_invalid("/v1/actual_lrp_groups/list_by_process_guid", &req.base, GROUPS_RESP,
                      "Invalid field: process_guid");
}

static void test_groups_get_by_process_guid_and_index(void **state)
{
    Models__ActualLRPGroupByProcessGuidAndIndexRequest req =
        MODELS__ACTUAL_LRPGROUP_BY_PROCESS_GUID_AND_INDEX_REQUEST__INIT;
    Models__ActualLRPGroupResponse *r;
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "reads-group-get");
    it_desire(guid, NULL, 2);
    assert_int_equal(it_start(guid, 1, NULL, "ig-1", "cell-h", "10.6.6.6"), IT_OK);

    req.process_guid = guid;
    req.index = 1;
    r = it_call("/v1/actual_lrp_groups/get_by_process_guid_and_index", &req.base, GROUP_RESP);
    assert_int_equal(it_err_type(r), IT_OK);
    assert_non_null(r->actual_lrp_group);
    assert_non_null(r->actual_lrp_group->instance);
    assert_null(r->actual_lrp_group->evacuating);
    assert_string_equal(r->actual_lrp_group->instance->actual_lrp_key->process_guid, guid);
    assert_int_equal(r->actual_lrp_group->instance->actual_lrp_key->index, 1);
    assert_string_equal(r->actual_lrp_group->instance->state, "RUNNING");
    assert_string_equal(r->actual_lrp_group->instance->actual_lrp_net_info->address, "10.6.6.6");
    it_free(r);

    req.index = 0;
    r = it_call("/v1/actual_lrp_groups/get_by_process_guid_and_index", &req.base, GROUP_RESP);
    assert_int_equal(it_err_type(r), IT_OK);
    assert_string_equal(r->actual_lrp_group->instance->state, "UNCLAIMED");
    it_free(r);

    /* no row: ResourceNotFound */
    req.index = 2;
    r = it_call("/v1/actual_lrp_groups/get_by_process_guid_and_index", &req.base, GROUP_RESP);
    assert_int_equal(it_err_type(r), E(ResourceNotFound));
    assert_string_equal(it_err_msg(r), IT_MSG_NOT_FOUND);
    it_free(r);
    req.process_guid = IT_S("reads-group-unknown");
    req.index = 0;
    r = it_call("/v1/actual_lrp_groups/get_by_process_guid_and_index", &req.base, GROUP_RESP);
    assert_int_equal(it_err_type(r), E(ResourceNotFound));
    it_free(r);
    /* after the row is retired */
    assert_int_equal(it_retire(guid, 0, NULL), IT_OK);
    req.process_guid = guid;
    r = it_call("/v1/actual_lrp_groups/get_by_process_guid_and_index", &req.base, GROUP_RESP);
    assert_int_equal(it_err_type(r), E(ResourceNotFound));
    it_free(r);

    /* validation */
    req.process_guid = IT_S("");
    it_expect_invalid("/v1/actual_lrp_groups/get_by_process_guid_and_index", &req.base, GROUP_RESP,
                      "Invalid field: process_guid");
    req.process_guid = guid;
    req.index = -1;
    it_expect_invalid("/v1/actual_lrp_groups/get_by_process_guid_and_index", &req.base, GROUP_RESP,
                      "Invalid field: index");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_fresh_row_fields),
        cmocka_unit_test(test_list_without_filter_returns_everything),
        cmocka_unit_test(test_list_filter_process_guid),
        cmocka_unit_test(test_list_filter_domain),
        cmocka_unit_test(test_list_filter_cell_id),
        cmocka_unit_test(test_list_filter_index_oneof),
        cmocka_unit_test(test_list_reflects_state_changes),
        cmocka_unit_test(test_list_by_process_guids),
        cmocka_unit_test(test_list_by_process_guids_empty_invalid),
        cmocka_unit_test(test_groups_list_filters),
        cmocka_unit_test(test_groups_list_by_process_guid),
        cmocka_unit_test(test_groups_get_by_process_guid_and_index),
    };

    it_set_name("reads");
    return it_main_exit(
        cmocka_run_group_tests_name("api_actual_reads", tests, it_group_setup, it_group_teardown));
}
