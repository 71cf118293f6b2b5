/*
 * test_locket_client.c - the BBS's Locket client (include/bbs/locket.h)
 * against the Locket stand-in (support/locket.h) over gRPC with mutual
 * TLS: Fetch of one cell (found, NotFound, unparsable, failing), FetchAll,
 * the generic unary call with Locket's Lock/Release rules (what the
 * leadership work will use), and calls from many threads at once sharing
 * the client's connection pool.
 *
 * No BBS server: the client is linked into this test.
 */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/locket.h"
#include "cells.pb-c.h"
#include "locket.pb-c.h"

static struct bbs_locket *client;

static int setup(void **state)
{
    struct bbs_locket_config cfg = {0};
    struct bbs_error err = {0};

    (void)state;
    if (it_locket_start() != 0) {
        return -1;
    }
    cfg.address = it_locket_address();
    cfg.ca_file = it_locket_cert_path("ca");
    cfg.cert_file = it_locket_cert_path("client");
    cfg.key_file = it_locket_cert_path("client_key");
    cfg.timeout_ns = INT64_C(10000000000);
    cfg.max_response_bytes = (size_t)1 << 20; /* small, so the oversized test stays quick */
    client = bbs_locket_new(&cfg, &err);
    if (client == NULL) {
        fprintf(stderr, "bbs_locket_new: %s\n", err.message);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bbs_locket_free(client);
    client = NULL;
    it_locket_stop();
    return 0;
}

static void test_fetch_found(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_cell cell;
    struct bbs_error err = {0};
    const Models__CellPresence *p;

    (void)state;
    assert_int_equal(it_locket_register_cell("fetch-1", "z3", NULL), 0);
    assert_int_equal(bbs_locket_cell(client, a, "fetch-1", &cell, &err), 0);
    assert_string_equal(cell.cell_id, "fetch-1");
    assert_string_equal(cell.rep_address, "http://fetch-1.example:1800");
    assert_string_equal(cell.rep_url, "https://fetch-1.example:1801");
    assert_string_equal(cell.zone, "z3");
    p = cell.presence;
    assert_non_null(p);
    assert_int_equal(p->capacity->containers, 10);
    assert_int_equal(it_locket_remove("fetch-1"), 0);
    bbs_arena_free(a);
}

static void test_fetch_not_found_and_unparsable(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_cell cell;
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(bbs_locket_cell(client, a, "no-such-cell", &cell, &err), 1);
    assert_null(cell.cell_id);
    assert_int_equal(it_locket_set_presence("fetch-bad", "{\"cell_id\":1}", 0), 0);
    assert_int_equal(bbs_locket_cell(client, a, "fetch-bad", &cell, &err), 1);
    assert_null(cell.presence);
    assert_int_equal(it_locket_remove("fetch-bad"), 0);
    bbs_arena_free(a);
}

static void test_fetch_error(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_cell cell;
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(it_locket_register_cell("fetch-err", "z1", NULL), 0);
    assert_int_equal(it_locket_fail("UNAVAILABLE", "going away"), 0);
    assert_int_equal(bbs_locket_cell(client, a, "fetch-err", &cell, &err), -1);
    assert_int_equal(err.type, BBS_ERR_UNKNOWN);
    assert_string_equal(err.message, "rpc error: code = Unavailable desc = going away");
    assert_int_equal(it_locket_fail("OK", NULL), 0);
    assert_int_equal(bbs_locket_cell(client, a, "fetch-err", &cell, &err), 0);
    assert_int_equal(it_locket_remove("fetch-err"), 0);
    bbs_arena_free(a);
}

static void test_fetch_all_keeps_last_per_cell_id(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_cell *cells = NULL;
    size_t n = 0;
    struct bbs_error err = {0};

    (void)state;
    /* Two resources naming the same cell_id: one cell, as upstream's CellSet keeps. */
    assert_int_equal(it_locket_set_presence("key-a", "{\"cell_id\":\"dup\",\"zone\":\"first\"}", 0),
                     0);
    assert_int_equal(
        it_locket_set_presence("key-b", "{\"cell_id\":\"dup\",\"zone\":\"second\"}", 0), 0);
    assert_int_equal(it_locket_register_cell("other", "z1", NULL), 0);
    assert_int_equal(bbs_locket_cells(client, a, &cells, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(cells[0].cell_id, "dup");
    assert_string_equal(cells[0].zone, "second");
    assert_string_equal(cells[1].cell_id, "other");
    assert_int_equal(it_locket_remove("key-a"), 0);
    assert_int_equal(it_locket_remove("key-b"), 0);
    assert_int_equal(it_locket_remove("other"), 0);
    bbs_arena_free(a);
}

static int lock_call(const char *method, const char *owner, int64_t ttl, struct bbs_error *err)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__Resource res = MODELS__RESOURCE__INIT;
    Models__LockRequest lock = MODELS__LOCK_REQUEST__INIT;
    Models__ReleaseRequest release = MODELS__RELEASE_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    int status = -1;
    int rc;

    res.key = IT_S("bbs");
    res.owner = (char *)owner;
    res.type = IT_S("lock");
    res.type_code = MODELS__TYPE_CODE__LOCK;
    lock.resource = &res;
    lock.ttl_in_seconds = ttl;
    release.resource = &res;
    if (strcmp(method, "Lock") == 0) {
        rc = bbs_locket_unary(client, "Lock", &lock.base, &models__lock_response__descriptor, a,
                              &resp, &status, err);
    } else {
        rc = bbs_locket_unary(client, "Release", &release.base,
                              &models__release_response__descriptor, a, &resp, &status, err);
    }
    assert_true(rc == 0 ? resp != NULL && status == 0 : resp == NULL && status > 0);
    bbs_arena_free(a);
    return rc == 0 ? 0 : status;
}

static void test_unary_lock_and_release(void **state)
{
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(lock_call("Lock", "owner-a", 15, &err), 0);
    assert_int_equal(lock_call("Lock", "owner-a", 15, &err), 0); /* renewal */
    assert_int_equal(lock_call("Lock", "owner-b", 15, &err), BBS_GRPC_ALREADY_EXISTS);
    assert_string_equal(err.message, "rpc error: code = AlreadyExists desc = lock-collision");
    assert_int_equal(lock_call("Lock", "owner-b", 0, &err), BBS_GRPC_INVALID_ARGUMENT);
    assert_string_equal(err.message, "rpc error: code = InvalidArgument desc = invalid-ttl");
    assert_int_equal(lock_call("Release", "owner-b", 15, &err), BBS_GRPC_ALREADY_EXISTS);
    assert_int_equal(lock_call("Release", "owner-a", 15, &err), 0);
    assert_int_equal(lock_call("Lock", "owner-b", 15, &err), 0);
    assert_int_equal(lock_call("Release", "owner-b", 15, &err), 0);
}

/*
 * An unknown method fails the call with a gRPC error. Which one depends on
 * timing: the server answers Unimplemented before it has read the request,
 * and may reset the stream before libcurl has read that answer
 * (Unavailable); both are errors, which is all a caller needs.
 */
static void test_unknown_method_fails(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    Models__FetchRequest req = MODELS__FETCH_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    struct bbs_error err = {0};
    int status = 0;

    (void)state;
    req.key = IT_S("x");
    assert_int_equal(bbs_locket_unary(client, "Frobnicate", &req.base,
                                      &models__fetch_response__descriptor, a, &resp, &status, &err),
                     -1);
    assert_null(resp);
    if (status != BBS_GRPC_UNIMPLEMENTED && status != BBS_GRPC_UNAVAILABLE) {
        fail_msg("status %d: %s", status, err.message);
    }
    assert_int_equal(err.type, BBS_ERR_UNKNOWN);
    assert_non_null(strstr(err.message, "rpc error: code = "));
    bbs_arena_free(a);
}

/* The stand-in's TTL (12.4): a presence not renewed goes away by itself. */
static void test_presence_expires_without_renewal(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_cell cell;
    struct bbs_error err = {0};
    int64_t deadline = it_mono_ms() + 20000;
    int rc;

    (void)state;
    assert_int_equal(it_locket_set_presence("short-lived", "{\"cell_id\":\"short-lived\"}", 1), 0);
    assert_int_equal(it_locket_register_cell("long-lived", "z1", NULL), 0);
    while ((rc = bbs_locket_cell(client, a, "short-lived", &cell, &err)) == 0 &&
           it_mono_ms() < deadline) {
        it_sleep_ms(200);
    }
    assert_int_equal(rc, 1);
    assert_int_equal(bbs_locket_cell(client, a, "long-lived", &cell, &err), 0);
    assert_int_equal(it_locket_remove("long-lived"), 0);
    bbs_arena_free(a);
}

/* An answer over the cap is refused (ResourceExhausted), not buffered without end. */
static void test_oversized_answer_refused(void **state)
{
    size_t n = (size_t)2 << 20;
    char *value = malloc(n + 1);
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_cell *cells = NULL;
    size_t count = 0;
    struct bbs_error err = {0};

    (void)state;
    assert_non_null(value);
    memset(value, 'x', n);
    value[n] = '\0';
    assert_int_equal(it_locket_set_presence("huge", value, 0), 0);
    free(value);
    assert_int_equal(bbs_locket_cells(client, a, &cells, &count, &err), -1);
    assert_string_equal(err.message, "rpc error: code = ResourceExhausted desc = grpc: received "
                                     "message larger than max (1048576 bytes)");
    assert_int_equal(it_locket_remove("huge"), 0);
    assert_int_equal(bbs_locket_cells(client, a, &cells, &count, &err), 0);
    bbs_arena_free(a);
}

#define THREADS 6
#define CALLS   25

static void *fetch_many(void *arg)
{
    long *failures = arg;

    for (int i = 0; i < CALLS; i++) {
        struct bbs_arena *a = bbs_arena_new();
        struct bbs_cell cell;
        struct bbs_error err = {0};

        if (bbs_locket_cell(client, a, "shared", &cell, &err) != 0 ||
            strcmp(cell.zone, "zz") != 0) {
            (*failures)++;
        }
        bbs_arena_free(a);
    }
    return NULL;
}

static void test_calls_from_many_threads(void **state)
{
    pthread_t t[THREADS];
    long failures[THREADS] = {0};
    long before;
    long after;

    (void)state;
    assert_int_equal(it_locket_register_cell("shared", "zz", NULL), 0);
    before = it_locket_calls("Fetch");
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, fetch_many, &failures[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(failures[i], 0);
    }
    after = it_locket_calls("Fetch");
    assert_int_equal(after - before, THREADS * CALLS);
    assert_int_equal(it_locket_remove("shared"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_found),
        cmocka_unit_test(test_fetch_not_found_and_unparsable),
        cmocka_unit_test(test_fetch_error),
        cmocka_unit_test(test_fetch_all_keeps_last_per_cell_id),
        cmocka_unit_test(test_unary_lock_and_release),
        cmocka_unit_test(test_unknown_method_fails),
        cmocka_unit_test(test_calls_from_many_threads),
        cmocka_unit_test(test_presence_expires_without_renewal),
        cmocka_unit_test(test_oversized_answer_refused),
    };

    return it_main_exit(cmocka_run_group_tests_name("locket_client", tests, setup, teardown));
}
