/*
 * test_auction_body.c - the JSON the auctioneer receives (reference 9.1,
 * and 11.5.2 for tasks).
 *
 * Exact strings: key order and spelling ("process_guid" next to
 * "PlacementTags") are what upstream's encoder produces, and null vs []
 * matters to a Go decoder. Each row is its own named test.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/auction.h"

static const int32_t INDICES_012[] = {0, 1, 2};
static const int32_t INDEX_4[] = {4};
static const char *const TAGS[] = {"tag-a", "tag-b"};
static const char *const DRIVERS[] = {"nfs"};

static const struct bbs_auction_start START_FULL = {
    .process_guid = "pg-1",
    .domain = "cf-apps",
    .indices = INDICES_012,
    .n_indices = 3,
    .placement_tags = TAGS,
    .n_placement_tags = 2,
    .volume_drivers = DRIVERS,
    .n_volume_drivers = 1,
    .root_fs = "preloaded:cflinuxfs4",
    .memory_mb = 256,
    .disk_mb = 1024,
    .max_pids = 0,
};

static const struct bbs_auction_start START_NULLS = {
    .process_guid = "pg-2",
    .domain = "d",
    .indices = INDEX_4,
    .n_indices = 1,
    .placement_tags = NULL,
    .volume_drivers = NULL,
    .root_fs = "docker:///busybox",
    .memory_mb = 128,
    .disk_mb = 512,
    .max_pids = 1024,
};

/* Present but empty arrays stay [] (a non-nil empty Go slice). */
static const struct bbs_auction_start START_EMPTY = {
    .process_guid = "pg-3",
    .domain = "d",
    .indices = INDEX_4,
    .n_indices = 1,
    .placement_tags = TAGS,
    .n_placement_tags = 0,
    .volume_drivers = DRIVERS,
    .n_volume_drivers = 0,
    .root_fs = "r",
    .memory_mb = 1,
    .disk_mb = 2,
    .max_pids = 3,
};

static const struct bbs_auction_start TWO_STARTS[] = {
    {.process_guid = "pg-1",
     .domain = "d",
     .indices = INDICES_012,
     .n_indices = 1,
     .root_fs = "r",
     .memory_mb = 1,
     .disk_mb = 2,
     .max_pids = 3},
    {.process_guid = "pg-1",
     .domain = "d",
     .indices = INDICES_012 + 1,
     .n_indices = 1,
     .root_fs = "r",
     .memory_mb = 1,
     .disk_mb = 2,
     .max_pids = 3},
};

struct body_case {
    const char *name;
    const struct bbs_auction_start *starts;
    size_t n;
    const char *want;
};

static const struct body_case body_cases[] = {
    {"one_start_three_indices_tags_drivers", &START_FULL, 1,
     "[{\"process_guid\":\"pg-1\",\"domain\":\"cf-apps\",\"indices\":[0,1,2],"
     "\"PlacementTags\":[\"tag-a\",\"tag-b\"],\"VolumeDrivers\":[\"nfs\"],"
     "\"RootFs\":\"preloaded:cflinuxfs4\",\"MemoryMB\":256,\"DiskMB\":1024,\"MaxPids\":0}]"},
    {"null_tags_and_drivers", &START_NULLS, 1,
     "[{\"process_guid\":\"pg-2\",\"domain\":\"d\",\"indices\":[4],"
     "\"PlacementTags\":null,\"VolumeDrivers\":null,"
     "\"RootFs\":\"docker:///busybox\",\"MemoryMB\":128,\"DiskMB\":512,\"MaxPids\":1024}]"},
    {"empty_tags_and_drivers", &START_EMPTY, 1,
     "[{\"process_guid\":\"pg-3\",\"domain\":\"d\",\"indices\":[4],"
     "\"PlacementTags\":[],\"VolumeDrivers\":[],"
     "\"RootFs\":\"r\",\"MemoryMB\":1,\"DiskMB\":2,\"MaxPids\":3}]"},
    {"one_element_per_index", TWO_STARTS, 2,
     "[{\"process_guid\":\"pg-1\",\"domain\":\"d\",\"indices\":[0],"
     "\"PlacementTags\":null,\"VolumeDrivers\":null,"
     "\"RootFs\":\"r\",\"MemoryMB\":1,\"DiskMB\":2,\"MaxPids\":3},"
     "{\"process_guid\":\"pg-1\",\"domain\":\"d\",\"indices\":[1],"
     "\"PlacementTags\":null,\"VolumeDrivers\":null,"
     "\"RootFs\":\"r\",\"MemoryMB\":1,\"DiskMB\":2,\"MaxPids\":3}]"},
    {"no_starts", NULL, 0, "[]"},
};

static void test_body_case(void **state)
{
    const struct body_case *c = *state;
    char *body = bbs_auction_body(c->starts, c->n);
    char got[1024];

    /* Copy and free before asserting: a failed assert longjmps past free. */
    assert_non_null(body);
    snprintf(got, sizeof(got), "%s", body);
    free(body);
    assert_string_equal(got, c->want);
}

/* A Go decoder would reject invalid UTF-8; the encoder refuses it instead. */
static void test_invalid_utf8_is_refused(void **state)
{
    struct bbs_auction_start s = START_NULLS;

    (void)state;
    s.process_guid = "pg-\xff";
    assert_null(bbs_auction_body(&s, 1));
}

/* ---- task auctions (11.5.2): Go's encoding/json of []auctioneer.TaskStartRequest ---- */

static const struct bbs_task_start TASK_PLAIN = {
    .task_guid = "t-1",
    .domain = "cf-apps",
    .placement_tags = NULL,
    .volume_drivers = NULL,
    .root_fs = "preloaded:cflinuxfs4",
    .memory_mb = 256,
    .disk_mb = 1024,
    .max_pids = 0,
};

static const struct bbs_task_start TASK_FULL = {
    .task_guid = "t-2",
    .domain = "d",
    .placement_tags = TAGS,
    .n_placement_tags = 2,
    .volume_drivers = DRIVERS,
    .n_volume_drivers = 1,
    .root_fs = "docker:///busybox",
    .memory_mb = 1,
    .disk_mb = 2,
    .max_pids = 3,
};

/* An empty tag list decodes as a nil slice: null, whatever the pointer. */
static const struct bbs_task_start TASK_EMPTY_TAGS = {
    .task_guid = "t-3",
    .domain = "d",
    .placement_tags = TAGS,
    .n_placement_tags = 0,
    .volume_drivers = DRIVERS,
    .n_volume_drivers = 0,
    .root_fs = "r",
};

/* Go escapes <, >, & and replaces invalid UTF-8 (the LRP body refuses it instead). */
static const struct bbs_task_start TASK_ESCAPES = {
    .task_guid = "t-4",
    .domain = "a<b>&\"c\"\xff",
    .root_fs = "r\n",
};

static const struct bbs_task_start TWO_TASKS[] = {
    {.task_guid = "t-1", .domain = "d", .root_fs = "r", .memory_mb = 1},
    {.task_guid = "t-2", .domain = "d", .root_fs = "r", .disk_mb = 2},
};

struct task_body_case {
    const char *name;
    const struct bbs_task_start *starts;
    size_t n;
    const char *want;
};

static const struct task_body_case task_body_cases[] = {
    {"task_reference_example", &TASK_PLAIN, 1,
     "[{\"TaskGuid\":\"t-1\",\"Domain\":\"cf-apps\",\"PlacementTags\":null,\"VolumeDrivers\":[],"
     "\"RootFs\":\"preloaded:cflinuxfs4\",\"MemoryMB\":256,\"DiskMB\":1024,\"MaxPids\":0,"
     "\"state\":\"Invalid\",\"failed\":false}]"},
    {"task_tags_and_drivers", &TASK_FULL, 1,
     "[{\"TaskGuid\":\"t-2\",\"Domain\":\"d\",\"PlacementTags\":[\"tag-a\",\"tag-b\"],"
     "\"VolumeDrivers\":[\"nfs\"],\"RootFs\":\"docker:///busybox\",\"MemoryMB\":1,\"DiskMB\":2,"
     "\"MaxPids\":3,\"state\":\"Invalid\",\"failed\":false}]"},
    {"task_empty_tags_null_empty_drivers_array", &TASK_EMPTY_TAGS, 1,
     "[{\"TaskGuid\":\"t-3\",\"Domain\":\"d\",\"PlacementTags\":null,\"VolumeDrivers\":[],"
     "\"RootFs\":\"r\",\"MemoryMB\":0,\"DiskMB\":0,\"MaxPids\":0,"
     "\"state\":\"Invalid\",\"failed\":false}]"},
    {"task_go_escaping", &TASK_ESCAPES, 1,
     "[{\"TaskGuid\":\"t-4\",\"Domain\":\"a\\u003cb\\u003e\\u0026\\\"c\\\"\\ufffd\","
     "\"PlacementTags\":null,\"VolumeDrivers\":[],\"RootFs\":\"r\\n\",\"MemoryMB\":0,"
     "\"DiskMB\":0,\"MaxPids\":0,\"state\":\"Invalid\",\"failed\":false}]"},
    {"task_two_in_one_array", TWO_TASKS, 2,
     "[{\"TaskGuid\":\"t-1\",\"Domain\":\"d\",\"PlacementTags\":null,\"VolumeDrivers\":[],"
     "\"RootFs\":\"r\",\"MemoryMB\":1,\"DiskMB\":0,\"MaxPids\":0,\"state\":\"Invalid\","
     "\"failed\":false},"
     "{\"TaskGuid\":\"t-2\",\"Domain\":\"d\",\"PlacementTags\":null,\"VolumeDrivers\":[],"
     "\"RootFs\":\"r\",\"MemoryMB\":0,\"DiskMB\":2,\"MaxPids\":0,\"state\":\"Invalid\","
     "\"failed\":false}]"},
    {"task_none", NULL, 0, "[]"},
};

static void test_task_body_case(void **state)
{
    const struct task_body_case *c = *state;
    size_t len = 0;
    char *body = bbs_auction_task_body(c->starts, c->n, &len);
    char got[1024];
    size_t n;

    assert_non_null(body);
    n = strlen(body);
    snprintf(got, sizeof(got), "%s", body);
    free(body);
    assert_int_equal(len, n);
    assert_string_equal(got, c->want);
}

int main(void)
{
    enum { N = sizeof(body_cases) / sizeof(body_cases[0]) };
    enum { NT = sizeof(task_body_cases) / sizeof(task_body_cases[0]) };
    struct CMUnitTest tests[N + 1 + NT];

    for (size_t i = 0; i < N; i++) {
        tests[i] = (struct CMUnitTest){
            .name = body_cases[i].name,
            .test_func = test_body_case,
            .initial_state = (void *)&body_cases[i],
        };
    }
    tests[N] = (struct CMUnitTest)cmocka_unit_test(test_invalid_utf8_is_refused);
    for (size_t i = 0; i < NT; i++) {
        tests[N + 1 + i] = (struct CMUnitTest){
            .name = task_body_cases[i].name,
            .test_func = test_task_body_case,
            .initial_state = (void *)&task_body_cases[i],
        };
    }
    return cmocka_run_group_tests_name("auction_body", tests, NULL, NULL);
}
