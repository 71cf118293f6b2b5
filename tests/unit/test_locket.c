/*
 * test_locket.c - the Locket client's pure pieces (locket.h): gRPC framing
 * (the exact bodies of reference-2 12.6), the status names and the HTTP
 * status mapping, grpc-message decoding, and a client's configuration
 * checks. No network: calls against a server are in
 * tests/integration/test_locket_client.c.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "bbs/locket.h"
#include "locket.pb-c.h"

static void assert_frame(const ProtobufCMessage *m, const uint8_t *want, size_t n)
{
    struct bbs_buf b = {0};
    const uint8_t *msg = NULL;
    size_t len = 0;
    struct bbs_error err = {0};

    bbs_grpc_frame(m, &b);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, want, n);
    /* And back: the frame holds exactly the packed message. */
    assert_int_equal(bbs_grpc_unframe(b.data, b.len, &msg, &len, &err), 0);
    assert_ptr_equal(msg, b.data + 5);
    assert_int_equal(len, n - 5);
    bbs_buf_free(&b);
}

static void test_frame_fetch_all_presence(void **state)
{
    static const uint8_t want[] = {0,   0,   0,   0,   0x0c, 0x0a, 0x08, 'p', 'r',
                                   'e', 's', 'e', 'n', 'c',  'e',  0x10, 0x02};
    Models__FetchAllRequest req = MODELS__FETCH_ALL_REQUEST__INIT;

    (void)state;
    req.type = (char *)"presence";
    req.type_code = MODELS__TYPE_CODE__PRESENCE;
    assert_frame(&req.base, want, sizeof(want));
}

static void test_frame_fetch_cell(void **state)
{
    static const uint8_t want[] = {0, 0, 0, 0, 0x08, 0x0a, 0x06, 'c', 'e', 'l', 'l', '-', '1'};
    Models__FetchRequest req = MODELS__FETCH_REQUEST__INIT;

    (void)state;
    req.key = (char *)"cell-1";
    assert_frame(&req.base, want, sizeof(want));
}

static void test_frame_lock(void **state)
{
    static const char owner[] = "0123456789abcdef0123456789abcdef0123"; /* 36 characters */
    uint8_t want[5 + 0x37];
    Models__Resource res = MODELS__RESOURCE__INIT;
    Models__LockRequest req = MODELS__LOCK_REQUEST__INIT;
    size_t n = 0;

    (void)state;
    memcpy(want,
           "\x00\x00\x00\x00\x37\x0a\x33\x0a\x03"
           "bbs\x12\x24",
           14);
    n = 14;
    memcpy(want + n, owner, 36);
    n += 36;
    memcpy(want + n, "\x22\x04lock\x28\x01\x10\x0f", 10);
    n += 10;
    assert_int_equal(n, sizeof(want));
    res.key = (char *)"bbs";
    res.owner = (char *)owner;
    res.type = (char *)"lock";
    res.type_code = MODELS__TYPE_CODE__LOCK;
    req.resource = &res;
    req.ttl_in_seconds = 15;
    assert_frame(&req.base, want, sizeof(want));
}

static void test_frame_empty_message(void **state)
{
    static const uint8_t want[] = {0, 0, 0, 0, 0};
    Models__LockResponse resp = MODELS__LOCK_RESPONSE__INIT;

    (void)state;
    assert_frame(&resp.base, want, sizeof(want));
}

struct unframe_case {
    const char *name;
    const uint8_t *body;
    size_t len;
    const char *must_mention;
};

static const struct unframe_case bad_frames[] = {
    {"empty", (const uint8_t *)"", 0, "no message"},
    {"short_prefix", (const uint8_t *)"\x00\x00\x00", 3, "no message"},
    {"compressed", (const uint8_t *)"\x01\x00\x00\x00\x00", 5, "compressed"},
    {"longer_than_body", (const uint8_t *)"\x00\x00\x00\x00\x02\x08", 6, "announces 2"},
    {"two_messages", (const uint8_t *)"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 10,
     "announces 0"},
    {"huge_length", (const uint8_t *)"\x00\xff\xff\xff\xff", 5, "announces"},
};

static void test_unframe_refused(void **state)
{
    const struct unframe_case *c = *state;
    struct bbs_error err = {0};
    const uint8_t *msg = NULL;
    size_t len = 0;

    assert_int_equal(bbs_grpc_unframe(c->body, c->len, &msg, &len, &err), -1);
    assert_int_equal(err.type, BBS_ERR_UNKNOWN);
    assert_non_null(strstr(err.message, c->must_mention));
}

static void test_code_names(void **state)
{
    (void)state;
    assert_string_equal(bbs_grpc_code_name(BBS_GRPC_OK), "OK");
    assert_string_equal(bbs_grpc_code_name(BBS_GRPC_CANCELLED), "Canceled");
    assert_string_equal(bbs_grpc_code_name(BBS_GRPC_NOT_FOUND), "NotFound");
    assert_string_equal(bbs_grpc_code_name(BBS_GRPC_ALREADY_EXISTS), "AlreadyExists");
    assert_string_equal(bbs_grpc_code_name(BBS_GRPC_DEADLINE_EXCEEDED), "DeadlineExceeded");
    assert_string_equal(bbs_grpc_code_name(BBS_GRPC_UNAVAILABLE), "Unavailable");
    assert_string_equal(bbs_grpc_code_name(BBS_GRPC_UNAUTHENTICATED), "Unauthenticated");
    assert_string_equal(bbs_grpc_code_name(17), "Unknown");
    assert_string_equal(bbs_grpc_code_name(-1), "Unknown");
}

static void test_http_status_mapping(void **state)
{
    (void)state;
    assert_int_equal(bbs_grpc_code_from_http(400), BBS_GRPC_INTERNAL);
    assert_int_equal(bbs_grpc_code_from_http(401), BBS_GRPC_UNAUTHENTICATED);
    assert_int_equal(bbs_grpc_code_from_http(403), BBS_GRPC_PERMISSION_DENIED);
    assert_int_equal(bbs_grpc_code_from_http(404), BBS_GRPC_UNIMPLEMENTED);
    assert_int_equal(bbs_grpc_code_from_http(429), BBS_GRPC_UNAVAILABLE);
    assert_int_equal(bbs_grpc_code_from_http(502), BBS_GRPC_UNAVAILABLE);
    assert_int_equal(bbs_grpc_code_from_http(503), BBS_GRPC_UNAVAILABLE);
    assert_int_equal(bbs_grpc_code_from_http(504), BBS_GRPC_UNAVAILABLE);
    assert_int_equal(bbs_grpc_code_from_http(415), BBS_GRPC_UNKNOWN);
    assert_int_equal(bbs_grpc_code_from_http(500), BBS_GRPC_UNKNOWN);
}

static void test_message_decode(void **state)
{
    char out[64];
    char small[4];

    (void)state;
    bbs_grpc_message_decode("resource-not-found", out, sizeof(out));
    assert_string_equal(out, "resource-not-found");
    bbs_grpc_message_decode("100%25 sure%2C%0Areally", out, sizeof(out));
    assert_string_equal(out, "100% sure,\nreally");
    bbs_grpc_message_decode("caf%C3%A9", out, sizeof(out));
    assert_string_equal(out, "caf\xc3\xa9");
    /* A '%' without two hex digits stays as it is. */
    bbs_grpc_message_decode("50% off %zz %4", out, sizeof(out));
    assert_string_equal(out, "50% off %zz %4");
    bbs_grpc_message_decode("truncated", small, sizeof(small));
    assert_string_equal(small, "tru");
}

static void test_timeout_header(void **state)
{
    char h[64];

    (void)state;
    bbs_grpc_timeout_header(10000, h, sizeof(h));
    assert_string_equal(h, "grpc-timeout: 10000m");
    bbs_grpc_timeout_header(99999999L, h, sizeof(h));
    assert_string_equal(h, "grpc-timeout: 99999999m");
    bbs_grpc_timeout_header(100000000L, h, sizeof(h));
    assert_string_equal(h, "grpc-timeout: 100000S");
    bbs_grpc_timeout_header(100000001L, h, sizeof(h));
    assert_string_equal(h, "grpc-timeout: 100001S");
    bbs_grpc_timeout_header(999999999999L, h, sizeof(h));
    assert_string_equal(h, "grpc-timeout: 99999999S");
}

struct new_case {
    const char *name;
    struct bbs_locket_config cfg;
    const char *must_mention;
};

static const struct new_case bad_configs[] = {
    {"no_address",
     {.address = "", .ca_file = "ca", .cert_file = "c", .key_file = "k"},
     "no address"},
    {"no_ca",
     {.address = "127.0.0.1:1", .ca_file = "", .cert_file = "c", .key_file = "k"},
     "CA, certificate and key"},
    {"no_key",
     {.address = "127.0.0.1:1", .ca_file = "ca", .cert_file = "c"},
     "CA, certificate and key"},
    {"missing_files",
     {.address = "127.0.0.1:1",
      .ca_file = "/nonexistent/ca.pem",
      .cert_file = "/nonexistent/c.pem",
      .key_file = "/nonexistent/c.key"},
     "locket client TLS: cannot load certificate"},
};

static void test_new_refused(void **state)
{
    const struct new_case *c = *state;
    struct bbs_error err = {0};

    assert_null(bbs_locket_new(&c->cfg, &err));
    assert_int_equal(err.type, BBS_ERR_INVALID_REQUEST);
    assert_non_null(strstr(err.message, c->must_mention));
}

/* A NULL client knows no cells: Fetch answers "unknown", FetchAll an error. */
static void test_null_client(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_cell cell;
    struct bbs_cell *cells = (struct bbs_cell *)1;
    size_t n = 7;
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(bbs_locket_cell(NULL, a, "cell-1", &cell, &err), 1);
    assert_null(cell.cell_id);
    assert_int_equal(bbs_locket_cells(NULL, a, &cells, &n, &err), -1);
    assert_null(cells);
    assert_int_equal(n, 0);
    assert_int_equal(err.type, BBS_ERR_UNKNOWN);
    assert_string_equal(err.message, "locket not configured");
    bbs_locket_free(NULL);
    bbs_arena_free(a);
}

int main(void)
{
    struct CMUnitTest tests[32];
    size_t n = 0;

    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_frame_fetch_all_presence);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_frame_fetch_cell);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_frame_lock);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_frame_empty_message);
    for (size_t i = 0; i < sizeof(bad_frames) / sizeof(bad_frames[0]); i++) {
        tests[n++] = (struct CMUnitTest){.name = bad_frames[i].name,
                                         .test_func = test_unframe_refused,
                                         .initial_state = (void *)&bad_frames[i]};
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_code_names);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_http_status_mapping);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_message_decode);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_timeout_header);
    for (size_t i = 0; i < sizeof(bad_configs) / sizeof(bad_configs[0]); i++) {
        tests[n++] = (struct CMUnitTest){.name = bad_configs[i].name,
                                         .test_func = test_new_refused,
                                         .initial_state = (void *)&bad_configs[i]};
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_null_client);
    return _cmocka_run_group_tests("locket", tests, n, NULL, NULL);
}
