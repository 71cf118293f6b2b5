/*
 * test_api_transport.c - the HTTP/protobuf pipeline shared by every route
 * (reference 1.2, 1.3, 2.0): routing (404/405), body decoding (empty,
 * garbage, truncated, over-long varint, field 0, wrong wire types, unknown
 * fields, merging), the body size limit (413), keep-alive, response headers
 * and exact response bytes.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIFECYCLE   (&models__actual_lrplifecycle_response__descriptor)
#define DLIFECYCLE  (&models__desired_lrplifecycle_response__descriptor)
#define MAX_BODY    1048576
#define TEXT_PLAIN  "text/plain; charset=utf-8"
#define NOT_FOUND   "404 page not found\n"
#define NOT_ALLOWED "Method Not Allowed\n"

/* ---- raw protobuf writer ---------------------------------------------------------------- */

struct raw {
    uint8_t b[8192];
    size_t n;
};

static void put_byte(struct raw *r, uint8_t c)
{
    assert_true(r->n < sizeof(r->b));
    r->b[r->n++] = c;
}

static void put_varint(struct raw *r, uint64_t v)
{
    while (v >= 0x80) {
        put_byte(r, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    put_byte(r, (uint8_t)v);
}

static void put_tag(struct raw *r, uint32_t field, unsigned wire_type)
{
    put_varint(r, ((uint64_t)field << 3) | wire_type);
}

static void put_bytes(struct raw *r, uint32_t field, const void *p, size_t len)
{
    put_tag(r, field, 2);
    put_varint(r, len);
    assert_true(r->n + len <= sizeof(r->b));
    memcpy(r->b + r->n, p, len);
    r->n += len;
}

static void put_str(struct raw *r, uint32_t field, const char *s)
{
    put_bytes(r, field, s, strlen(s));
}

/* A ClaimActualLRPRequest for (guid, index) by (ig, cell), hand-encoded. */
static void raw_claim(struct raw *r, const char *guid, int32_t index, const char *ig,
                      const char *cell)
{
    struct raw ik = {.n = 0};
    put_str(&ik, 1, ig);
    put_str(&ik, 2, cell);
    put_str(r, 1, guid);
    put_tag(r, 2, 0);
    put_varint(r, (uint64_t)(int64_t)index);
    put_bytes(r, 3, ik.b, ik.n);
}

/* POST raw bytes, assert 200 + protobuf, return the decoded response. */
static void *post_raw_msg(const char *path, const void *body, size_t len,
                          const ProtobufCMessageDescriptor *desc)
{
    struct it_resp r;
    void *msg;

    it_post_raw(path, body, len, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, IT_PROTOBUF_CTYPE);
    assert_int_equal(r.content_length, (int64_t)r.len);
    msg = it_unpack(desc, r.body, r.len);
    if (msg == NULL) {
        fail_msg("%s: response is not a valid %s", path, desc->name);
    }
    it_resp_free(&r);
    return msg;
}

static void expect_raw_invalid(const char *path, const void *body, size_t len,
                               const ProtobufCMessageDescriptor *desc, const char *message)
{
    void *msg = post_raw_msg(path, body, len, desc);
    it_assert_invalid(msg, message);
    it_free(msg);
}

/* The instance is still the untouched UNCLAIMED row of a fresh desire. */
static void assert_untouched(const char *guid, int32_t index)
{
    struct it_alrp a;
    it_assert_state(guid, index, "UNCLAIMED", &a);
    assert_int_equal(a.mod_index, 0);
    assert_string_equal(a.instance_guid, "");
}

/* ---- routing --------------------------------------------------------------------------- */

static void assert_404(const char *method, const char *path)
{
    struct it_resp r;
    it_request(method, path, NULL, 0, NULL, &r);
    if (r.status != 404) {
        fail_msg("%s %s: HTTP %ld, expected 404", method, path, r.status);
    }
    assert_string_equal(r.content_type, TEXT_PLAIN);
    assert_string_equal((const char *)r.body, NOT_FOUND);
    it_resp_free(&r);
}

static void test_unknown_path_is_404(void **state)
{
    (void)state;
    assert_404("POST", "/v1/nope");
    assert_404("GET", "/v1/nope");
    assert_404("POST", "/");
    assert_404("POST", "/v1/ping/");
    assert_404("POST", "/v1/actual_lrps/claim/extra");
    assert_404("POST", "/v2/ping");
    /* out of scope or not routed any more (reference 1.4) */
    assert_404("POST", "/v1/desired_lrps/list");
    assert_404("POST", "/v1/desired_lrps/list.r1");
    assert_404("POST", "/v1/desired_lrps/get_by_process_guid");
    assert_404("POST", "/v1/desired_lrps/get_by_process_guid.r1");
    assert_404("POST", "/v1/desired_lrp/desire");
}

static void assert_405(const char *method, const char *path)
{
    struct it_resp r;
    it_request(method, path, NULL, 0, NULL, &r);
    if (r.status != 405) {
        fail_msg("%s %s: HTTP %ld, expected 405", method, path, r.status);
    }
    assert_string_equal(r.allow, "POST");
    assert_string_equal(r.content_type, TEXT_PLAIN);
    assert_string_equal((const char *)r.body, NOT_ALLOWED);
    it_resp_free(&r);
}

static void test_wrong_method_is_405_with_allow(void **state)
{
    static const char *const paths[] = {
        "/v1/ping",
        "/v1/domains/list",
        "/v1/domains/upsert",
        "/v1/actual_lrps/list",
        "/v1/actual_lrps/claim",
        "/v1/actual_lrps/start.r1",
        "/v1/actual_lrps/start",
        "/v1/actual_lrps/crash",
        "/v1/actual_lrps/fail",
        "/v1/actual_lrps/remove",
        "/v1/actual_lrps/retire",
        "/v1/actual_lrps/list_by_process_guids",
        "/v1/actual_lrp_groups/list",
        "/v1/actual_lrp_groups/list_by_process_guid",
        "/v1/actual_lrp_groups/get_by_process_guid_and_index",
        "/v1/desired_lrp/desire.r2",
        "/v1/desired_lrp/update",
        "/v1/desired_lrp/remove",
        "/v1/desired_lrps/list.r3",
        "/v1/desired_lrps/get_by_process_guid.r3",
        "/v1/desired_lrps/list.r2",
        "/v1/desired_lrps/get_by_process_guid.r2",
        "/v1/desired_lrp_scheduling_infos/list",
        "/v1/desired_lrp_scheduling_infos/get_by_process_guid",
        "/v1/desired_lrp_routing_infos/list",
    };
    (void)state;

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        assert_405("GET", paths[i]);
    }
    assert_405("PUT", "/v1/actual_lrps/claim");
    assert_405("DELETE", "/v1/desired_lrp/remove");
    assert_405("PATCH", "/v1/ping");
}

/* ---- body decoding --------------------------------------------------------------------- */

static void test_empty_body_is_default_message(void **state)
{
    Models__ActualLRPsResponse *list;
    Models__DesiredLRPsResponse *dlist;
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "tr-empty");
    it_desire(guid, NULL, 1);

    /* validation sees every field at its default */
    expect_raw_invalid("/v1/actual_lrps/claim", "", 0, LIFECYCLE,
                       "Invalid field: process_guid, Invalid field: actual_lrp_instance_key");
    expect_raw_invalid("/v1/desired_lrp/update", "", 0, DLIFECYCLE, "Invalid field: process_guid");
    expect_raw_invalid("/v1/desired_lrp/remove", "", 0, DLIFECYCLE, "Invalid field: process_guid");
    expect_raw_invalid("/v1/desired_lrps/get_by_process_guid.r3", "", 0,
                       &models__desired_lrpresponse__descriptor, "Invalid field: process_guid");
    expect_raw_invalid("/v1/actual_lrps/list_by_process_guids", "", 0,
                       &models__actual_lrps_by_process_guids_response__descriptor,
                       "process_guids must not be empty");

    /* requests without validation: an empty filter lists everything */
    list = post_raw_msg("/v1/actual_lrps/list", "", 0, &models__actual_lrps_response__descriptor);
    assert_int_equal(it_err_type(list), IT_OK);
    assert_true(list->n_actual_lrps >= 1);
    int seen = 0;
    for (size_t i = 0; i < list->n_actual_lrps; i++) {
        seen += strcmp(list->actual_lrps[i]->actual_lrp_key->process_guid, guid) == 0;
    }
    assert_int_equal(seen, 1);
    it_free(list);

    dlist =
        post_raw_msg("/v1/desired_lrps/list.r3", "", 0, &models__desired_lrps_response__descriptor);
    assert_int_equal(it_err_type(dlist), IT_OK);
    seen = 0;
    for (size_t i = 0; i < dlist->n_desired_lrps; i++) {
        seen += strcmp(dlist->desired_lrps[i]->process_guid, guid) == 0;
    }
    assert_int_equal(seen, 1);
    it_free(dlist);
    assert_untouched(guid, 0);
}

static void test_garbage_body_is_invalid(void **state)
{
    static const uint8_t garbage1[] = {0xff, 0xff, 0xff, 0xff};
    static const uint8_t garbage2[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    static const char json[] = "{\"process_guid\":\"x\",\"index\":0}";
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "tr-garbage");
    it_desire(guid, NULL, 1);

    expect_raw_invalid("/v1/actual_lrps/claim", garbage1, sizeof(garbage1), LIFECYCLE,
                       IT_MSG_INVALID);
    expect_raw_invalid("/v1/actual_lrps/claim", garbage2, sizeof(garbage2), LIFECYCLE,
                       IT_MSG_INVALID);
    expect_raw_invalid("/v1/actual_lrps/claim", json, strlen(json), LIFECYCLE, IT_MSG_INVALID);
    expect_raw_invalid("/v1/actual_lrps/start.r1", garbage1, sizeof(garbage1), LIFECYCLE,
                       IT_MSG_INVALID);
    expect_raw_invalid("/v1/desired_lrp/desire.r2", json, strlen(json), DLIFECYCLE, IT_MSG_INVALID);
    expect_raw_invalid("/v1/desired_lrps/list.r3", garbage1, sizeof(garbage1),
                       &models__desired_lrps_response__descriptor, IT_MSG_INVALID);
    expect_raw_invalid("/v1/actual_lrps/list", garbage1, sizeof(garbage1),
                       &models__actual_lrps_response__descriptor, IT_MSG_INVALID);
    expect_raw_invalid("/v1/actual_lrp_groups/list", garbage1, sizeof(garbage1),
                       &models__actual_lrpgroups_response__descriptor, IT_MSG_INVALID);
    expect_raw_invalid("/v1/desired_lrp_scheduling_infos/list", garbage1, sizeof(garbage1),
                       &models__desired_lrpscheduling_infos_response__descriptor, IT_MSG_INVALID);
    assert_untouched(guid, 0);
}

static void test_truncated_body_is_invalid(void **state)
{
    struct raw r = {.n = 0};
    struct raw tag_only = {.n = 0};
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "tr-trunc");
    it_desire(guid, NULL, 1);
    raw_claim(&r, guid, 0, "ig-trunc", "cell-trunc");

    /* cut inside the nested instance key's cell_id string */
    expect_raw_invalid("/v1/actual_lrps/claim", r.b, r.n - 1, LIFECYCLE, IT_MSG_INVALID);
    /* cut inside the process_guid string */
    expect_raw_invalid("/v1/actual_lrps/claim", r.b, 4, LIFECYCLE, IT_MSG_INVALID);
    /* a tag with no value */
    tag_only = r;
    tag_only.n = 0;
    put_str(&tag_only, 1, guid);
    put_tag(&tag_only, 2, 0);
    expect_raw_invalid("/v1/actual_lrps/claim", tag_only.b, tag_only.n, LIFECYCLE, IT_MSG_INVALID);
    /* a varint cut in the middle (continuation bit set on the last byte) */
    tag_only.n = 0;
    put_str(&tag_only, 1, guid);
    put_tag(&tag_only, 2, 0);
    put_byte(&tag_only, 0x80);
    expect_raw_invalid("/v1/actual_lrps/claim", tag_only.b, tag_only.n, LIFECYCLE, IT_MSG_INVALID);
    assert_untouched(guid, 0);

    /* the complete encoding works: the cut was the only problem */
    void *ok = post_raw_msg("/v1/actual_lrps/claim", r.b, r.n, LIFECYCLE);
    assert_int_equal(it_err_type(ok), IT_OK);
    it_free(ok);
    it_assert_state(guid, 0, "CLAIMED", NULL);
}

static void test_overlong_varint_is_invalid(void **state)
{
    struct raw r = {.n = 0};
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "tr-varint");
    it_desire(guid, NULL, 1);
    put_str(&r, 1, guid);
    put_tag(&r, 2, 0);
    for (int i = 0; i < 10; i++) {
        put_byte(&r, 0x80);
    }
    put_byte(&r, 0x00); /* 11 bytes */
    {
        struct raw ik = {.n = 0};
        put_str(&ik, 1, "ig");
        put_str(&ik, 2, "cell");
        put_bytes(&r, 3, ik.b, ik.n);
    }
    expect_raw_invalid("/v1/actual_lrps/claim", r.b, r.n, LIFECYCLE, IT_MSG_INVALID);

    /* an over-long length prefix too */
    r.n = 0;
    put_tag(&r, 1, 2);
    for (int i = 0; i < 11; i++) {
        put_byte(&r, 0xff);
    }
    put_byte(&r, 0x01);
    expect_raw_invalid("/v1/actual_lrps/claim", r.b, r.n, LIFECYCLE, IT_MSG_INVALID);
    assert_untouched(guid, 0);
}

static void test_bad_wire_encodings_are_invalid(void **state)
{
    struct raw good = {.n = 0};
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "tr-wire");
    it_desire(guid, NULL, 1);
    raw_claim(&good, guid, 0, "ig-wire", "cell-wire");

    struct {
        const char *name;
        uint8_t bytes[16];
        size_t len;
    } cases[] = {
        {"field number 0, varint", {0x00, 0x00}, 2},
        {"field number 0, bytes", {0x02, 0x01, 'a'}, 3},
        {"stray end-group marker", {0x0c}, 1},
        {"wire type 6", {0x0e, 0x00}, 2},
        {"wire type 7", {0x0f, 0x00}, 2},
        {"fixed32 for a string field", {0x0d, 0x00, 0x00, 0x00, 0x00}, 5},
        {"varint for a message field", {0x18, 0x01}, 2},
        {"length beyond the body", {0x0a, 0x05, 'a'}, 3},
        {"fixed64 cut short", {0x49, 0x00, 0x00}, 3},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct raw r = good; /* a valid prefix, then the bad bytes */
        memcpy(r.b + r.n, cases[i].bytes, cases[i].len);
        r.n += cases[i].len;
        void *msg = post_raw_msg("/v1/actual_lrps/claim", r.b, r.n, LIFECYCLE);
        if (it_err_type(msg) != MODELS__ERROR__TYPE__InvalidRequest ||
            strcmp(it_err_msg(msg), IT_MSG_INVALID) != 0) {
            fail_msg("%s: error %d \"%s\"", cases[i].name, it_err_type(msg), it_err_msg(msg));
        }
        it_free(msg);
    }
    assert_untouched(guid, 0);
}

static void test_unknown_fields_are_ignored(void **state)
{
    struct raw r = {.n = 0};
    struct raw ik = {.n = 0};
    struct it_alrp a;
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "tr-unknown");
    it_desire(guid, NULL, 1);

    /* unknown fields of every wire type, at the top level and inside the instance key */
    put_tag(&r, 100, 0);
    put_varint(&r, 12345);
    put_tag(&r, 101, 1);
    for (int i = 0; i < 8; i++) {
        put_byte(&r, (uint8_t)i);
    }
    put_str(&r, 102, "unknown bytes");
    put_tag(&r, 103, 5);
    for (int i = 0; i < 4; i++) {
        put_byte(&r, (uint8_t)i);
    }
    put_str(&ik, 1, "ig-unknown");
    put_tag(&ik, 9, 0);
    put_varint(&ik, 1);
    put_str(&ik, 2, "cell-unknown");
    put_str(&r, 1, guid);
    put_tag(&r, 2, 0);
    put_varint(&r, 0);
    put_bytes(&r, 3, ik.b, ik.n);
    put_str(&r, 200, "trailing unknown");

    void *msg = post_raw_msg("/v1/actual_lrps/claim", r.b, r.n, LIFECYCLE);
    assert_int_equal(it_err_type(msg), IT_OK);
    it_free(msg);
    it_assert_state(guid, 0, "CLAIMED", &a);
    assert_string_equal(a.instance_guid, "ig-unknown");
    assert_string_equal(a.cell_id, "cell-unknown");
}

static void test_int32_five_byte_negative(void **state)
{
    static const uint8_t five[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    static const uint8_t ten[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    struct raw r = {.n = 0};
    (void)state;

    /* index -1 in the 5-byte form decodes as -1 (2.0), so remove validation refuses it */
    put_str(&r, 1, "tr-neg");
    put_tag(&r, 2, 0);
    memcpy(r.b + r.n, five, sizeof(five));
    r.n += sizeof(five);
    expect_raw_invalid("/v1/actual_lrps/remove", r.b, r.n, LIFECYCLE, "Invalid field: index");

    r.n = 0;
    put_str(&r, 1, "tr-neg");
    put_tag(&r, 2, 0);
    memcpy(r.b + r.n, ten, sizeof(ten));
    r.n += sizeof(ten);
    expect_raw_invalid("/v1/actual_lrps/remove", r.b, r.n, LIFECYCLE, "Invalid field: index");
}

static void test_repeated_fields_merge(void **state)
{
    struct raw r = {.n = 0};
    struct raw ik1 = {.n = 0}, ik2 = {.n = 0};
    struct it_alrp a;
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "tr-merge");
    it_desire(guid, NULL, 1);

    /* scalar: the last process_guid wins; message: the two halves of the key merge */
    put_str(&r, 1, "no-such-guid");
    put_str(&ik1, 1, "ig-merged");
    put_bytes(&r, 3, ik1.b, ik1.n);
    put_str(&r, 1, guid);
    put_tag(&r, 2, 0);
    put_varint(&r, 0);
    put_str(&ik2, 2, "cell-merged");
    put_bytes(&r, 3, ik2.b, ik2.n);

    void *msg = post_raw_msg("/v1/actual_lrps/claim", r.b, r.n, LIFECYCLE);
    assert_int_equal(it_err_type(msg), IT_OK);
    it_free(msg);
    it_assert_state(guid, 0, "CLAIMED", &a);
    assert_string_equal(a.instance_guid, "ig-merged");
    assert_string_equal(a.cell_id, "cell-merged");
}

static void test_request_content_type_not_checked(void **state)
{
    static const char *const text[] = {"Content-Type: text/plain", NULL};
    static const char *const none[] = {"Content-Type:", NULL};
    struct raw r = {.n = 0};
    struct it_resp resp;
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "tr-ctype");
    it_desire(guid, NULL, 1);
    raw_claim(&r, guid, 0, "ig-ctype", "cell-ctype");

    it_request("POST", "/v1/actual_lrps/claim", r.b, r.n, text, &resp);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.content_type, IT_PROTOBUF_CTYPE);
    assert_int_equal(resp.len, 0);
    it_resp_free(&resp);
    it_assert_state(guid, 0, "CLAIMED", NULL);

    /* the same claim again (idempotent) with no Content-Type at all */
    it_request("POST", "/v1/actual_lrps/claim", r.b, r.n, none, &resp);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.len, 0);
    it_resp_free(&resp);
}

/* ---- responses ------------------------------------------------------------------------- */

static void test_ping_bytes(void **state)
{
    struct it_resp r;
    (void)state;

    it_post_raw("/v1/ping", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, IT_PROTOBUF_CTYPE);
    assert_int_equal(r.content_length, 2);
    assert_int_equal(r.len, 2);
    assert_memory_equal(r.body, "\x08\x01", 2);
    it_resp_free(&r);
}

static void test_successful_lifecycle_bodies_are_empty(void **state)
{
    struct raw r = {.n = 0};
    struct it_resp resp;
    struct it_dlrp d;
    Models__DesireLRPRequest dreq = MODELS__DESIRE_LRPREQUEST__INIT;
    Models__RemoveDesiredLRPRequest rreq = MODELS__REMOVE_DESIRED_LRPREQUEST__INIT;
    uint8_t *body;
    size_t len;
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "tr-zero");
    it_dlrp_init(&d, guid, 1);
    dreq.desired_lrp = &d.lrp;
    body = it_pack(&dreq.base, &len);
    it_post_raw("/v1/desired_lrp/desire.r2", body, len, &resp);
    free(body);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.content_type, IT_PROTOBUF_CTYPE);
    assert_int_equal(resp.content_length, 0);
    assert_int_equal(resp.len, 0);
    it_resp_free(&resp);

    raw_claim(&r, guid, 0, "ig-zero", "cell-zero");
    it_post_raw("/v1/actual_lrps/claim", r.b, r.n, &resp);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.content_type, IT_PROTOBUF_CTYPE);
    assert_int_equal(resp.content_length, 0);
    assert_int_equal(resp.len, 0);
    it_resp_free(&resp);
    it_assert_state(guid, 0, "CLAIMED", NULL);

    rreq.process_guid = guid;
    body = it_pack(&rreq.base, &len);
    it_post_raw("/v1/desired_lrp/remove", body, len, &resp);
    free(body);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.content_length, 0);
    assert_int_equal(resp.len, 0);
    it_resp_free(&resp);
}

static void test_error_response_exact_bytes(void **state)
{
    static const uint8_t want[] = "\x0a\x1b\x08\x0f\x12\x17"
                                  "cannot claim actual LRP";
    struct raw r = {.n = 0};
    struct it_resp resp;
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "tr-bytes");
    it_desire(guid, NULL, 1);
    assert_int_equal(it_claim(guid, 0, "ig-a", "cell-a"), IT_OK);
    raw_claim(&r, guid, 0, "ig-b", "cell-b");
    it_post_raw("/v1/actual_lrps/claim", r.b, r.n, &resp);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.content_type, IT_PROTOBUF_CTYPE);
    assert_int_equal(resp.content_length, (int64_t)sizeof(want) - 1);
    assert_int_equal(resp.len, sizeof(want) - 1);
    assert_memory_equal(resp.body, want, sizeof(want) - 1);
    it_resp_free(&resp);
}

static void test_keep_alive_reuses_connection(void **state)
{
    struct it_client *c = it_client_new();
    struct it_resp r;
    struct raw claim = {.n = 0};
    char err[512];
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "tr-keepalive");
    it_desire(guid, NULL, 1);
    raw_claim(&claim, guid, 5, "ig", "cell"); /* index 5 does not exist: an API error */

    assert_int_equal(
        it_client_request(c, "POST", "/v1/ping", NULL, 0, NULL, 0, &r, err, sizeof(err)), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.new_connections, 1);
    it_resp_free(&r);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(
            it_client_request(c, "POST", "/v1/ping", NULL, 0, NULL, 0, &r, err, sizeof(err)), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.new_connections, 0);
        it_resp_free(&r);
    }
    /* an API error is an ordinary 200: the connection stays open */
    assert_int_equal(it_client_request(c, "POST", "/v1/actual_lrps/claim", claim.b, claim.n, NULL,
                                       0, &r, err, sizeof(err)),
                     0);
    assert_int_equal(r.status, 200);
    assert_true(r.len > 0);
    assert_int_equal(r.new_connections, 0);
    it_resp_free(&r);
    assert_int_equal(it_client_request(c, "POST", "/v1/actual_lrps/list", NULL, 0, NULL, 0, &r, err,
                                       sizeof(err)),
                     0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.new_connections, 0);
    it_resp_free(&r);
    it_client_free(c);
}

/* ---- body size limit ------------------------------------------------------------------- */

/*
 * A DesireLRPRequest for `guid` padded with an unknown field 100 so that the
 * whole body is exactly `total` bytes (total > 2 MiB not supported).
 */
static uint8_t *padded_desire(const char *guid, size_t total)
{
    struct it_dlrp d;
    Models__DesireLRPRequest req = MODELS__DESIRE_LRPREQUEST__INIT;
    size_t base_len, pad, off;
    uint8_t *base, *body;

    it_dlrp_init(&d, guid, 0);
    req.desired_lrp = &d.lrp;
    base = it_pack(&req.base, &base_len);
    /* tag 100/2 is two bytes (a2 06); a length below 2^21 is three */
    assert_true(total > base_len + 5 + 16384 && total - base_len - 5 < (1u << 21));
    pad = total - base_len - 5;
    body = malloc(total);
    assert_non_null(body);
    memcpy(body, base, base_len);
    off = base_len;
    body[off++] = 0xa2;
    body[off++] = 0x06;
    body[off++] = (uint8_t)(pad | 0x80);
    body[off++] = (uint8_t)((pad >> 7) | 0x80);
    body[off++] = (uint8_t)(pad >> 14);
    memset(body + off, 'p', pad);
    assert_int_equal(off + pad, total);
    free(base);
    return body;
}

static void assert_desired_exists(const char *guid, int exists)
{
    Models__DesiredLRPResponse *r = it_get_desired(guid);
    if (exists) {
        assert_int_equal(it_err_type(r), IT_OK);
        assert_non_null(r->desired_lrp);
        assert_string_equal(r->desired_lrp->process_guid, guid);
    } else {
        assert_int_equal(it_err_type(r), MODELS__ERROR__TYPE__ResourceNotFound);
    }
    it_free(r);
}

static void assert_413(struct it_resp *r, const ProtobufCMessageDescriptor *desc)
{
    void *msg;

    assert_int_equal(r->status, 413);
    assert_string_equal(r->content_type, IT_PROTOBUF_CTYPE);
    msg = it_unpack(desc, r->body, r->len);
    assert_non_null(msg);
    assert_int_equal(it_err_type(msg), MODELS__ERROR__TYPE__InvalidRequest);
    if (strstr(it_err_msg(msg), "1048576") == NULL) {
        fail_msg("413 message does not mention the limit: \"%s\"", it_err_msg(msg));
    }
    it_free(msg);
}

static void assert_still_serving(void)
{
    struct it_resp r;
    char guid[64];

    it_post_raw("/v1/ping", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 2);
    assert_memory_equal(r.body, "\x08\x01", 2);
    it_resp_free(&r);
    it_uniq(guid, sizeof(guid), "tr-after-413");
    it_desire(guid, NULL, 1);
    assert_int_equal(it_claim(guid, 0, "ig", "cell"), IT_OK);
    it_assert_state(guid, 0, "CLAIMED", NULL);
}

static void test_body_at_limit_is_accepted(void **state)
{
    struct it_resp r;
    uint8_t *body;
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "tr-at-limit");
    body = padded_desire(guid, MAX_BODY);
    it_post_raw("/v1/desired_lrp/desire.r2", body, MAX_BODY, &r);
    free(body);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, IT_PROTOBUF_CTYPE);
    assert_int_equal(r.len, 0);
    it_resp_free(&r);
    assert_desired_exists(guid, 1);
}

static void test_oversized_body_is_413(void **state)
{
    struct it_resp r;
    uint8_t *body;
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "tr-over");
    body = padded_desire(guid, MAX_BODY + 1);
    it_post_raw("/v1/desired_lrp/desire.r2", body, MAX_BODY + 1, &r);
    free(body);
    assert_413(&r, DLIFECYCLE);
    it_resp_free(&r);
    assert_desired_exists(guid, 0);
    assert_still_serving();

    /* another route answers with its own response message */
    body = calloc(1, 2 * MAX_BODY);
    assert_non_null(body);
    it_post_raw("/v1/actual_lrps/list", body, 2 * MAX_BODY, &r);
    free(body);
    assert_413(&r, &models__actual_lrps_response__descriptor);
    it_resp_free(&r);
    assert_still_serving();
}

/*
 * The exact bytes of a 413, written by the front end from each route's
 * response type: the Error as field 1, then keep_container = true (field 2)
 * for evacuate_claimed, nothing more for evacuate_crashed. PingResponse has
 * no error field; it still gets the Error as field 1, as before the route
 * table.
 */
static void test_413_bytes_follow_the_response_type(void **state)
{
    static const char msg[] = "request body exceeds the limit of 1048576 bytes";
    static const struct {
        const char *path;
        int keep;
    } cases[] = {
        {"/v1/ping", 0},
        {"/v1/actual_lrps/evacuate_claimed", 1},
        {"/v1/actual_lrps/evacuate_crashed", 0},
    };
    uint8_t want[128];
    size_t n = 0;
    uint8_t *body = calloc(1, MAX_BODY + 1);
    (void)state;

    assert_non_null(body);
    want[n++] = 0x0a;
    want[n++] = (uint8_t)(4 + sizeof(msg) - 1);
    want[n++] = 0x08;
    want[n++] = 0x04; /* InvalidRequest */
    want[n++] = 0x12;
    want[n++] = (uint8_t)(sizeof(msg) - 1);
    memcpy(want + n, msg, sizeof(msg) - 1);
    n += sizeof(msg) - 1;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct it_resp r;
        size_t len = n;

        if (cases[i].keep) {
            want[n] = 0x10;
            want[n + 1] = 0x01;
            len += 2;
        }
        it_post_raw(cases[i].path, body, MAX_BODY + 1, &r);
        assert_int_equal(r.status, 413);
        if (r.len != len || memcmp(r.body, want, len) != 0) {
            fail_msg("%s: 413 body of %zu bytes differs from the expected %zu", cases[i].path,
                     r.len, len);
        }
        it_resp_free(&r);
    }
    free(body);
    assert_still_serving();
}

static void test_oversized_chunked_body_is_413(void **state)
{
    struct it_client *c = it_client_new();
    struct it_resp r;
    uint8_t *body;
    char err[512];
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "tr-over-chunked");
    body = padded_desire(guid, MAX_BODY + 4096);
    if (it_client_request(c, "POST", "/v1/desired_lrp/desire.r2", body, MAX_BODY + 4096, NULL, 1,
                          &r, err, sizeof(err)) != 0) {
        fail_msg("chunked oversized body: %s", err);
    }
    free(body);
    assert_413(&r, DLIFECYCLE);
    it_resp_free(&r);
    it_client_free(c);
    assert_desired_exists(guid, 0);
    assert_still_serving();
}

static void test_oversized_body_with_expect_continue_is_413(void **state)
{
    static const char *const expect[] = {"Expect: 100-continue", NULL};
    struct it_client *c = it_client_new();
    struct it_resp r;
    uint8_t *body;
    char err[512];
    char guid[64];
    (void)state;

    it_uniq(guid, sizeof(guid), "tr-over-expect");
    body = padded_desire(guid, MAX_BODY + 100);
    if (it_client_request(c, "POST", "/v1/desired_lrp/desire.r2", body, MAX_BODY + 100, expect, 0,
                          &r, err, sizeof(err)) != 0) {
        fail_msg("oversized body with Expect: %s", err);
    }
    free(body);
    assert_413(&r, DLIFECYCLE);
    it_resp_free(&r);
    it_client_free(c);
    assert_desired_exists(guid, 0);
    assert_still_serving();
}

/*
 * A second server told to listen on a port already served refuses to start
 * (exit 1, "bbs.listen.failed") instead of silently sharing the port, and
 * the first one keeps serving.
 */
static void test_second_server_on_same_port_refused(void **state)
{
    char path[] = "/tmp/bbs-it-second-XXXXXX";
    const char *argv[4];
    json_t *cfg;
    char listen[64];
    int fd;
    int rc;

    (void)state;
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", it_server_port());
    cfg = json_pack("{s:s, s:s, s:s, s:s, s:s}", "listen_address", listen, "health_address",
                    "127.0.0.1:0", "database_connection_string", it_db_conninfo(), "migrations_dir",
                    getenv("BBS_MIGRATIONS_DIR"), "log_level", "error");
    assert_non_null(cfg);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(json_dump_file(cfg, path, 0), 0);
    argv[0] = getenv("BBS_BINARY");
    argv[1] = "-config";
    argv[2] = path;
    argv[3] = NULL;
    rc = it_run(argv, NULL);
    unlink(path);
    json_decref(cfg);
    assert_int_equal(rc, 1);
    {
        struct it_resp r = {0};

        it_post_raw("/v1/ping", "", 0, &r);
        assert_int_equal(r.status, 200);
        it_resp_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_path_is_404),
        cmocka_unit_test(test_wrong_method_is_405_with_allow),
        cmocka_unit_test(test_empty_body_is_default_message),
        cmocka_unit_test(test_garbage_body_is_invalid),
        cmocka_unit_test(test_truncated_body_is_invalid),
        cmocka_unit_test(test_overlong_varint_is_invalid),
        cmocka_unit_test(test_bad_wire_encodings_are_invalid),
        cmocka_unit_test(test_unknown_fields_are_ignored),
        cmocka_unit_test(test_int32_five_byte_negative),
        cmocka_unit_test(test_repeated_fields_merge),
        cmocka_unit_test(test_request_content_type_not_checked),
        cmocka_unit_test(test_ping_bytes),
        cmocka_unit_test(test_successful_lifecycle_bodies_are_empty),
        cmocka_unit_test(test_error_response_exact_bytes),
        cmocka_unit_test(test_keep_alive_reuses_connection),
        cmocka_unit_test(test_second_server_on_same_port_refused),
        cmocka_unit_test(test_body_at_limit_is_accepted),
        cmocka_unit_test(test_oversized_body_is_413),
        cmocka_unit_test(test_413_bytes_follow_the_response_type),
        cmocka_unit_test(test_oversized_chunked_body_is_413),
        cmocka_unit_test(test_oversized_body_with_expect_continue_is_413),
    };

    it_set_name("transport");
    return it_main_exit(
        cmocka_run_group_tests_name("api_transport", tests, it_group_setup, it_group_teardown));
}
