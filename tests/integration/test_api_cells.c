/*
 * test_api_cells.c - /v1/cells/list.r1 and the Locket client (reference
 * 2.9, 12): cells registered in a Locket stand-in (support/locket.h,
 * gRPC over HTTP/2 with mutual TLS) come back with every field; Locket
 * failures answer upstream's UnknownError with the gRPC error text; a
 * client certificate Locket does not trust is such a failure; without
 * Locket configured the list is empty; an incomplete set of locket_* keys
 * stops the server at start-up (exit 2).
 *
 * Three servers in turn (one cmocka group each) and the start-up checks,
 * which run the binary directly.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cells.pb-c.h"

#define CELLS_RESP (&models__cells_response__descriptor)

/* cells/list.r1 with an empty body (upstream's client sends none). */
static Models__CellsResponse *cells_list(void)
{
    Models__CellsResponse *r = it_call("/v1/cells/list.r1", NULL, CELLS_RESP);

    assert_non_null(r);
    return r;
}

/* The answer carries no error (else fail with its message). */
static void assert_no_error(const Models__CellsResponse *r)
{
    if (it_err_type(r) != IT_OK) {
        fail_msg("cells/list.r1 error %d: %s", it_err_type(r), it_err_msg(r));
    }
}

static const Models__CellPresence *find_cell(const Models__CellsResponse *r, const char *id)
{
    for (size_t i = 0; i < r->n_cells; i++) {
        if (strcmp(r->cells[i]->cell_id, id) == 0) {
            return r->cells[i];
        }
    }
    return NULL;
}

/* ---- groups ------------------------------------------------------------------------------- */

/* The stand-in, and a server using it with `client`/`client_key` (NULL: the trusted pair). */
static int start_with_locket(const char *name, const char *client, const char *client_key)
{
    json_t *extra;
    int rc;

    if (it_locket_start() != 0) {
        return -1;
    }
    extra = it_locket_server_config();
    /* Under valgrind the server's first TLS handshake with Locket alone can take seconds. */
    if (getenv("BBS_VALGRIND") != NULL && strcmp(getenv("BBS_VALGRIND"), "1") == 0) {
        json_object_set_new(extra, "communication_timeout", json_string("60s"));
    }
    if (client != NULL) {
        json_object_set_new(extra, "locket_client_cert_file",
                            json_string(it_locket_cert_path(client)));
        json_object_set_new(extra, "locket_client_key_file",
                            json_string(it_locket_cert_path(client_key)));
    }
    it_server_config(extra);
    rc = it_server_start(name, NULL);
    it_server_config(NULL);
    json_decref(extra);
    return rc;
}

static int setup_locket(void **state)
{
    (void)state;
    return start_with_locket("cells", NULL, NULL);
}

static int setup_none(void **state)
{
    (void)state;
    return it_server_start("cells_none", NULL);
}

static int stop(void **state)
{
    int rc;

    (void)state;
    rc = it_server_stop();
    it_locket_stop();
    return rc;
}

/* ---- with Locket ------------------------------------------------------------------------- */

static void test_no_cells_registered_is_empty_list(void **state)
{
    Models__CellsResponse *r;

    (void)state;
    r = cells_list();
    assert_no_error(r);
    assert_int_equal(r->n_cells, 0);
    it_free(r);
    /* The call went to Locket (FetchAll), it did not just answer nothing. */
    assert_true(it_locket_calls("FetchAll") >= 1);
}

static void test_registered_cells_listed_with_every_field(void **state)
{
    json_t *extra = json_pack(
        "{s:[s,s], s:[s], s:{s:s, s:s}, s:[{s:s, s:[s,s]}, {s:s, s:[s]}, {s:s}, {s:s}]}",
        "placement_tags", "tag-a", "tag-b", "optional_placement_tags", "opt-1", "annotations", "k1",
        "v1", "k2", "v2", "rootfs_provider_list", "name", "preloaded", "properties",
        "cflinuxfs4@1.2.3", "cflinuxfs3", "name", "preloaded+layer", "properties",
        "cflinuxfs4@1.2.3", "name", "extra", "name", "docker");
    Models__CellsResponse *r;
    const Models__CellPresence *a;
    const Models__CellPresence *b;

    (void)state;
    assert_int_equal(it_locket_register_cell("cell-full", "z1", extra), 0);
    assert_int_equal(it_locket_register_cell("cell-plain", "z2", NULL), 0);
    json_decref(extra);

    r = cells_list();
    assert_no_error(r);
    assert_int_equal(r->n_cells, 2);
    a = find_cell(r, "cell-full");
    b = find_cell(r, "cell-plain");
    assert_non_null(a);
    assert_non_null(b);

    assert_string_equal(a->rep_address, "http://cell-full.example:1800");
    assert_string_equal(a->rep_url, "https://cell-full.example:1801");
    assert_string_equal(a->zone, "z1");
    assert_non_null(a->capacity);
    assert_int_equal(a->capacity->memory_mb, 1024);
    assert_int_equal(a->capacity->disk_mb, 2048);
    assert_int_equal(a->capacity->containers, 10);
    assert_int_equal(a->n_rootfs_providers, 4);
    assert_string_equal(a->rootfs_providers[0]->name, "preloaded");
    assert_int_equal(a->rootfs_providers[0]->n_properties, 2);
    assert_string_equal(a->rootfs_providers[0]->properties[0], "cflinuxfs4@1.2.3");
    assert_string_equal(a->rootfs_providers[0]->properties[1], "cflinuxfs3");
    assert_string_equal(a->rootfs_providers[1]->name, "preloaded+layer");
    assert_int_equal(a->rootfs_providers[1]->n_properties, 1);
    assert_string_equal(a->rootfs_providers[2]->name, "extra");
    assert_int_equal(a->rootfs_providers[2]->n_properties, 0);
    assert_string_equal(a->rootfs_providers[3]->name, "docker");
    assert_int_equal(a->n_placement_tags, 2);
    assert_string_equal(a->placement_tags[0], "tag-a");
    assert_string_equal(a->placement_tags[1], "tag-b");
    assert_int_equal(a->n_optional_placement_tags, 1);
    assert_string_equal(a->optional_placement_tags[0], "opt-1");
    assert_int_equal(a->n_annotations, 2);
    assert_string_equal(it_map_str((void *const *)a->annotations, a->n_annotations, "k1"), "v1");
    assert_string_equal(it_map_str((void *const *)a->annotations, a->n_annotations, "k2"), "v2");

    assert_string_equal(b->zone, "z2");
    assert_int_equal(b->n_placement_tags, 0);
    assert_int_equal(b->n_optional_placement_tags, 0);
    assert_int_equal(b->n_annotations, 0);
    assert_int_equal(b->n_rootfs_providers, 2);
    it_free(r);

    /* A cell that leaves Locket leaves the list. */
    assert_int_equal(it_locket_remove("cell-full"), 0);
    r = cells_list();
    assert_no_error(r);
    assert_int_equal(r->n_cells, 1);
    assert_string_equal(r->cells[0]->cell_id, "cell-plain");
    it_free(r);
    assert_int_equal(it_locket_remove("cell-plain"), 0);
}

/* presence_test.go "returns cell presence": the upstream test's presence, exactly. */
static void test_upstream_presence_round_trip(void **state)
{
    static const char value[] =
        "{\"cell_id\":\"cell-locket\",\"rep_address\":\"cell-locket-address\",\"zone\":"
        "\"locket-zone\",\"capacity\":{\"memory_mb\":4,\"disk_mb\":5,\"containers\":6},"
        "\"rep_url\":\"https://cell-locket-url\"}";
    Models__CellPresence want = MODELS__CELL_PRESENCE__INIT;
    Models__CellCapacity cap = MODELS__CELL_CAPACITY__INIT;
    Models__CellsResponse *r;
    char diff[512] = "";

    (void)state;
    cap.memory_mb = 4;
    cap.disk_mb = 5;
    cap.containers = 6;
    want.cell_id = IT_S("cell-locket");
    want.rep_address = IT_S("cell-locket-address");
    want.zone = IT_S("locket-zone");
    want.capacity = &cap;
    want.rep_url = IT_S("https://cell-locket-url");
    assert_int_equal(it_locket_set_presence("cell-locket", value, 15), 0);
    r = cells_list();
    assert_no_error(r);
    assert_int_equal(r->n_cells, 1);
    if (it_pb_diff(&want.base, &r->cells[0]->base, NULL, diff, sizeof(diff)) != 0) {
        fail_msg("cell differs: %s", diff);
    }
    it_free(r);
    assert_int_equal(it_locket_remove("cell-locket"), 0);
}

static void test_unparsable_presences_skipped(void **state)
{
    Models__CellsResponse *r;

    (void)state;
    assert_int_equal(it_locket_set_presence("cell-garbage", "{not json", 0), 0);
    assert_int_equal(it_locket_set_presence("cell-wrong-type", "{\"cell_id\":\"x\",\"zone\":7}", 0),
                     0);
    assert_int_equal(it_locket_register_cell("cell-good", "z1", NULL), 0);
    r = cells_list();
    assert_no_error(r);
    assert_int_equal(r->n_cells, 1);
    assert_string_equal(r->cells[0]->cell_id, "cell-good");
    it_free(r);
    assert_int_equal(it_locket_remove("cell-garbage"), 0);
    assert_int_equal(it_locket_remove("cell-wrong-type"), 0);
    assert_int_equal(it_locket_remove("cell-good"), 0);
}

static void test_locket_error_is_unknown_error(void **state)
{
    Models__CellsResponse *r;

    (void)state;
    assert_int_equal(it_locket_register_cell("cell-err", "z1", NULL), 0);
    assert_int_equal(it_locket_fail("INTERNAL", "sql-unknown, error code: 57P01"), 0);
    r = cells_list();
    assert_int_equal(it_err_type(r), MODELS__ERROR__TYPE__UnknownError);
    assert_string_equal(it_err_msg(r),
                        "rpc error: code = Internal desc = sql-unknown, error code: 57P01");
    assert_int_equal(r->n_cells, 0);
    it_free(r);

    /* Locket's "resource-not-found" from FetchAll would mean no cells (12.7 n2). */
    assert_int_equal(it_locket_fail("NOT_FOUND", "resource-not-found"), 0);
    r = cells_list();
    assert_no_error(r);
    assert_int_equal(r->n_cells, 0);
    it_free(r);

    assert_int_equal(it_locket_fail("OK", NULL), 0);
    r = cells_list();
    assert_no_error(r);
    assert_int_equal(r->n_cells, 1);
    it_free(r);
    assert_int_equal(it_locket_remove("cell-err"), 0);
}

static void test_locket_down_then_back(void **state)
{
    Models__CellsResponse *r;

    (void)state;
    assert_int_equal(it_locket_register_cell("cell-back", "z1", NULL), 0);
    assert_int_equal(it_locket_down(), 0);
    r = cells_list();
    assert_int_equal(it_err_type(r), MODELS__ERROR__TYPE__UnknownError);
    if (strncmp(it_err_msg(r), "rpc error: code = Unavailable desc = ", 37) != 0) {
        fail_msg("unexpected error message: %s", it_err_msg(r));
    }
    assert_int_equal(r->n_cells, 0);
    it_free(r);

    /* The next call dials again: no restart of the BBS needed. */
    assert_int_equal(it_locket_up(), 0);
    r = cells_list();
    assert_no_error(r);
    assert_int_equal(r->n_cells, 1);
    assert_string_equal(r->cells[0]->cell_id, "cell-back");
    it_free(r);
    assert_int_equal(it_locket_remove("cell-back"), 0);
}

/* An untrusted client certificate: such a server never gets Locket's lock "bbs", so it
 * never serves (test_leadership_locket.c checks it stays a standby). */

/* ---- no Locket ---------------------------------------------------------------------------- */

static void test_no_locket_is_empty_list_and_said_once(void **state)
{
    Models__CellsResponse *r;
    char *log;
    const char *first;

    (void)state;
    r = cells_list();
    assert_no_error(r);
    assert_int_equal(r->n_cells, 0);
    it_free(r);
    log = it_server_log();
    assert_non_null(log);
    first = strstr(log, "\"bbs.locket.disabled\"");
    assert_non_null(first);
    assert_null(strstr(first + 1, "\"bbs.locket.disabled\""));
    /* Upstream's test runner (WaitForMigration, presence_test.go) waits for this line. */
    assert_non_null(strstr(log, "\"bbs.migration-manager.finished-migrations\""));
    free(log);
}

/* ---- start-up refusals -------------------------------------------------------------------- */

static char refuse_dir[256];

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *text = calloc(1, 65536);
    size_t n = 0;

    assert_non_null(text);
    if (f != NULL) {
        n = fread(text, 1, 65535, f);
        fclose(f);
    }
    text[n] = '\0';
    return text;
}

/* Run the binary on `cfg` (stolen); expect exit 2 with `needle` in the config.invalid line. */
static void expect_refused(json_t *cfg, const char *needle)
{
    char cfg_path[300], log_path[300];
    const char *argv[] = {getenv("BBS_BINARY"), "-config", cfg_path, NULL};
    char *log;
    int rc;

    snprintf(cfg_path, sizeof(cfg_path), "%s/bad.json", refuse_dir);
    snprintf(log_path, sizeof(log_path), "%s/bad.log", refuse_dir);
    unlink(log_path);
    /* Ports no one listens on: a refusal must come before any listener. */
    json_object_set_new(cfg, "listen_address", json_string("127.0.0.1:1"));
    json_object_set_new(cfg, "health_address", json_string("127.0.0.1:1"));
    assert_int_equal(json_dump_file(cfg, cfg_path, 0), 0);
    json_decref(cfg);
    rc = it_run(argv, log_path);
    log = slurp(log_path);
    if (rc != 2 || strstr(log, "bbs.config.invalid") == NULL || strstr(log, needle) == NULL) {
        fail_msg("expected exit 2 with \"%s\"; got %d, log:\n%s", needle, rc, log);
    }
    free(log);
}

static int setup_refusals(void **state)
{
    (void)state;
    snprintf(refuse_dir, sizeof(refuse_dir), "/tmp/bbs-it-cells-XXXXXX");
    if (mkdtemp(refuse_dir) == NULL) {
        return -1;
    }
    /* Only for its certificate files: nothing connects. */
    return it_locket_start();
}

static int teardown_refusals(void **state)
{
    char bad_cfg[300], bad_log[300];

    (void)state;
    snprintf(bad_cfg, sizeof(bad_cfg), "%s/bad.json", refuse_dir);
    snprintf(bad_log, sizeof(bad_log), "%s/bad.log", refuse_dir);
    unlink(bad_cfg);
    unlink(bad_log);
    rmdir(refuse_dir);
    it_locket_stop();
    return 0;
}

/* presence_test.go "exits with an error when locket api location is not provided". */
static void test_tls_files_without_address_refused(void **state)
{
    json_t *c = it_locket_server_config();

    (void)state;
    json_object_set_new(c, "locket_address", json_string(""));
    expect_refused(c, "config key locket_address: required when");
}

static void test_address_without_tls_files_refused(void **state)
{
    (void)state;
    expect_refused(json_pack("{s:s}", "locket_address", it_locket_address()),
                   "config key locket_ca_cert_file: required when locket_address is set");
    expect_refused(json_pack("{s:s, s:s, s:s}", "locket_address", it_locket_address(),
                             "locket_ca_cert_file", it_locket_cert_path("ca"),
                             "locket_client_cert_file", it_locket_cert_path("client")),
                   "config key locket_client_key_file: required when");
}

static void test_bad_address_or_mismatched_key_refused(void **state)
{
    json_t *c = it_locket_server_config();

    (void)state;
    json_object_set_new(c, "locket_address", json_string("no-port"));
    expect_refused(c, "config key locket_address: \\\"no-port\\\" is not host:port");

    c = it_locket_server_config();
    json_object_set_new(c, "locket_client_key_file",
                        json_string(it_locket_cert_path("untrusted_key")));
    expect_refused(c, "locket client TLS: cannot load certificate");
}

int main(void)
{
    const struct CMUnitTest locket_tests[] = {
        cmocka_unit_test(test_no_cells_registered_is_empty_list),
        cmocka_unit_test(test_registered_cells_listed_with_every_field),
        cmocka_unit_test(test_upstream_presence_round_trip),
        cmocka_unit_test(test_unparsable_presences_skipped),
        cmocka_unit_test(test_locket_error_is_unknown_error),
        cmocka_unit_test(test_locket_down_then_back),
    };
    const struct CMUnitTest none_tests[] = {
        cmocka_unit_test(test_no_locket_is_empty_list_and_said_once),
    };
    const struct CMUnitTest refusal_tests[] = {
        cmocka_unit_test(test_tls_files_without_address_refused),
        cmocka_unit_test(test_address_without_tls_files_refused),
        cmocka_unit_test(test_bad_address_or_mismatched_key_refused),
    };
    int rc;

    rc = cmocka_run_group_tests_name("cells_locket", locket_tests, setup_locket, stop);
    rc |= cmocka_run_group_tests_name("cells_none", none_tests, setup_none, stop);
    rc |= cmocka_run_group_tests_name("cells_refusals", refusal_tests, setup_refusals,
                                      teardown_refusals);
    return it_main_exit(rc);
}
