/*
 * test_cell.c - the CellPresence JSON parser (cell.h) against what Go's
 * encoding/json does with upstream's models.CellPresence: every field,
 * omitted and null fields, unknown and differently-cased keys, and the
 * values that make upstream skip the whole presence.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "bbs/cell.h"
#include "cells.pb-c.h"

static const Models__CellPresence *parse_ok(struct bbs_arena *a, const char *json,
                                            struct bbs_cell *cell)
{
    struct bbs_error err = {0};

    if (bbs_cell_presence_parse(a, json, strlen(json), cell, &err) != 0) {
        fail_msg("refused %s: %s", json, err.message);
    }
    assert_non_null(cell->presence);
    return cell->presence;
}

/* The example of reference-2 12.5, as a rep writes it. */
static void test_rep_presence(void **state)
{
    static const char json[] =
        "{\"cell_id\":\"cell_z1-0\",\"rep_address\":\"http://10.0.16.5:1800\",\"zone\":\"z1\","
        "\"capacity\":{\"memory_mb\":16384,\"disk_mb\":65536,\"containers\":250},"
        "\"rootfs_provider_list\":[{\"name\":\"preloaded\",\"properties\":[\"cflinuxfs4@1.2.3\"]},"
        "{\"name\":\"preloaded+layer\",\"properties\":[\"cflinuxfs4@1.2.3\"]},{\"name\":\"extra\"},"
        "{\"name\":\"docker\"}],\"placement_tags\":[\"a\",\"b\"],"
        "\"optional_placement_tags\":[\"o\"],"
        "\"rep_url\":\"https://cell-z1-0.cell.service.cf.internal:1801\","
        "\"annotations\":{\"k\":\"v\"}}";
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_cell cell;
    const Models__CellPresence *p;

    (void)state;
    p = parse_ok(a, json, &cell);
    assert_string_equal(cell.cell_id, "cell_z1-0");
    assert_string_equal(cell.rep_address, "http://10.0.16.5:1800");
    assert_string_equal(cell.rep_url, "https://cell-z1-0.cell.service.cf.internal:1801");
    assert_string_equal(cell.zone, "z1");
    assert_string_equal(p->cell_id, "cell_z1-0");
    assert_non_null(p->capacity);
    assert_int_equal(p->capacity->memory_mb, 16384);
    assert_int_equal(p->capacity->disk_mb, 65536);
    assert_int_equal(p->capacity->containers, 250);
    assert_int_equal(p->n_rootfs_providers, 4);
    assert_string_equal(p->rootfs_providers[0]->name, "preloaded");
    assert_int_equal(p->rootfs_providers[0]->n_properties, 1);
    assert_string_equal(p->rootfs_providers[0]->properties[0], "cflinuxfs4@1.2.3");
    assert_string_equal(p->rootfs_providers[1]->name, "preloaded+layer");
    assert_string_equal(p->rootfs_providers[2]->name, "extra");
    assert_int_equal(p->rootfs_providers[2]->n_properties, 0);
    assert_string_equal(p->rootfs_providers[3]->name, "docker");
    assert_int_equal(p->n_placement_tags, 2);
    assert_string_equal(p->placement_tags[1], "b");
    assert_int_equal(p->n_optional_placement_tags, 1);
    assert_string_equal(p->optional_placement_tags[0], "o");
    assert_int_equal(p->n_annotations, 1);
    assert_string_equal(p->annotations[0]->key, "k");
    assert_string_equal(p->annotations[0]->value, "v");
    bbs_arena_free(a);
}

/* An old rep: no rep_url, no capacity, nothing optional. */
static void test_minimal_presence(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_cell cell;
    const Models__CellPresence *p;

    (void)state;
    p = parse_ok(a, "{\"cell_id\":\"c\",\"rep_address\":\"http://c:1800\",\"zone\":\"z\"}", &cell);
    assert_string_equal(cell.rep_url, "");
    assert_null(p->capacity);
    assert_int_equal(p->n_rootfs_providers, 0);
    assert_int_equal(p->n_placement_tags, 0);
    assert_int_equal(p->n_annotations, 0);
    bbs_arena_free(a);
}

/* Go ignores unknown keys and matches keys ignoring case. */
static void test_unknown_and_cased_keys(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_cell cell;
    const Models__CellPresence *p;

    (void)state;
    p = parse_ok(a,
                 "{\"CELL_ID\":\"c\",\"Zone\":\"z\",\"future\":{\"x\":[1,2]},\"Capacity\":"
                 "{\"Memory_MB\":5,\"other\":true},\"Rootfs_Provider_List\":[{\"NAME\":\"n\"}]}",
                 &cell);
    assert_string_equal(cell.cell_id, "c");
    assert_string_equal(cell.zone, "z");
    assert_int_equal(p->capacity->memory_mb, 5);
    assert_int_equal(p->capacity->disk_mb, 0);
    assert_string_equal(p->rootfs_providers[0]->name, "n");
    bbs_arena_free(a);
}

/* null leaves a field empty; a bare null is an empty presence (Go: no error). */
static void test_nulls(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_cell cell;
    const Models__CellPresence *p;

    (void)state;
    p = parse_ok(a,
                 "{\"cell_id\":null,\"zone\":\"z\",\"capacity\":null,\"placement_tags\":[null,"
                 "\"t\"],\"rootfs_provider_list\":[null],\"annotations\":null}",
                 &cell);
    assert_string_equal(cell.cell_id, "");
    assert_null(p->capacity);
    assert_int_equal(p->n_placement_tags, 2);
    assert_string_equal(p->placement_tags[0], "");
    assert_string_equal(p->placement_tags[1], "t");
    assert_int_equal(p->n_rootfs_providers, 1);
    assert_string_equal(p->rootfs_providers[0]->name, "");
    assert_int_equal(p->n_annotations, 0);

    p = parse_ok(a, "null", &cell);
    assert_string_equal(cell.cell_id, "");
    assert_null(p->capacity);
    bbs_arena_free(a);
}

struct bad_case {
    const char *name;
    const char *json;
};

/* Each makes Go's json.Unmarshal fail, so upstream skips the presence. */
static const struct bad_case bad_cases[] = {
    {"empty", ""},
    {"not_json", "{cell_id: c}"},
    {"truncated", "{\"cell_id\":\"c\""},
    {"array", "[{\"cell_id\":\"c\"}]"},
    {"string", "\"cell\""},
    {"number", "42"},
    {"cell_id_number", "{\"cell_id\":7}"},
    {"zone_bool", "{\"zone\":true}"},
    {"rep_url_object", "{\"rep_url\":{}}"},
    {"capacity_string", "{\"capacity\":\"big\"}"},
    {"memory_float", "{\"capacity\":{\"memory_mb\":1.5}}"},
    {"memory_exponent", "{\"capacity\":{\"memory_mb\":1e3}}"},
    {"memory_over_int32", "{\"capacity\":{\"memory_mb\":2147483648}}"},
    {"containers_under_int32", "{\"capacity\":{\"containers\":-2147483649}}"},
    {"disk_string", "{\"capacity\":{\"disk_mb\":\"5\"}}"},
    {"providers_object", "{\"rootfs_provider_list\":{\"name\":\"x\"}}"},
    {"provider_string", "{\"rootfs_provider_list\":[\"preloaded\"]}"},
    {"provider_properties_string", "{\"rootfs_provider_list\":[{\"properties\":\"x\"}]}"},
    {"provider_property_number", "{\"rootfs_provider_list\":[{\"properties\":[1]}]}"},
    {"tags_string", "{\"placement_tags\":\"a\"}"},
    {"tag_number", "{\"optional_placement_tags\":[1]}"},
    {"annotations_array", "{\"annotations\":[]}"},
    {"annotation_number", "{\"annotations\":{\"k\":1}}"},
    {"trailing_garbage", "{\"cell_id\":\"c\"} x"},
};

static void test_bad_case(void **state)
{
    const struct bad_case *c = *state;
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_cell cell = {0};
    struct bbs_error err = {0};

    assert_int_equal(bbs_cell_presence_parse(a, c->json, strlen(c->json), &cell, &err), -1);
    assert_int_equal(err.type, BBS_ERR_INVALID_JSON);
    assert_true(err.message[0] != '\0');
    bbs_arena_free(a);
}

/* The int32 bounds themselves are fine. */
static void test_int32_bounds(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_cell cell;
    const Models__CellPresence *p;

    (void)state;
    p = parse_ok(a,
                 "{\"capacity\":{\"memory_mb\":2147483647,\"disk_mb\":-2147483648,"
                 "\"containers\":0}}",
                 &cell);
    assert_int_equal(p->capacity->memory_mb, INT32_MAX);
    assert_int_equal(p->capacity->disk_mb, INT32_MIN);
    bbs_arena_free(a);
}

int main(void)
{
    struct CMUnitTest tests[64];
    size_t n = 0;

    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_rep_presence);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_minimal_presence);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_unknown_and_cased_keys);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_nulls);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_int32_bounds);
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        tests[n++] = (struct CMUnitTest){.name = bad_cases[i].name,
                                         .test_func = test_bad_case,
                                         .initial_state = (void *)&bad_cases[i]};
    }
    return _cmocka_run_group_tests("cell", tests, n, NULL, NULL);
}
