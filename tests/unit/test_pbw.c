/*
 * test_pbw.c - the protobuf wire writer and reader (pbw.h): varints at
 * every length boundary, tags, the proto3 skipping of default scalars and
 * the _always forms, nested submessages whose lengths cross 127 and 16383
 * (the one-byte length guess widened in place), retagging, and
 * bbs_pbr_next_len on good and malformed input. Where protobuf-c can pack
 * the same message, its bytes are the expected ones.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actual_lrp.pb-c.h"
#include "bbs/buf.h"
#include "bbs/pbw.h"

#define S(lit) ((char *)(lit))
#define N(a)   (sizeof(a) / sizeof((a)[0]))

/* Lower-case hex of `n` bytes into a static buffer (long enough for the tables). */
static const char *hex(const uint8_t *p, size_t n)
{
    static char out[2 * 64 + 1];
    static const char digits[] = "0123456789abcdef";

    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}

/* Bytes of a hex string (`out` holds at least strlen(h) / 2). */
static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = strlen(h) / 2;

    for (size_t i = 0; i < n; i++) {
        unsigned v;

        assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

/* protobuf-c's packing of `m` (malloc'd; caller frees). */
static uint8_t *pc_pack(const ProtobufCMessage *m, size_t *len)
{
    uint8_t *p = malloc(protobuf_c_message_get_packed_size(m) + 1);

    assert_non_null(p);
    *len = protobuf_c_message_pack(m, p);
    return p;
}

static void assert_same_bytes(const struct bbs_buf *b, const uint8_t *want, size_t n)
{
    assert_int_equal(b->len, n);
    if (n > 0) {
        assert_memory_equal(b->data, want, n);
    }
}

/* ---- varints and tags ---- */

struct varint_case {
    const char *name;
    uint64_t v;
    const char *want;
};

static const struct varint_case varint_cases[] = {
    {"varint_0", 0, "00"},
    {"varint_1", 1, "01"},
    {"varint_127_last_1_byte", 127, "7f"},
    {"varint_128_first_2_bytes", 128, "8001"},
    {"varint_300", 300, "ac02"},
    {"varint_16383_last_2_bytes", 16383, "ff7f"},
    {"varint_16384_first_3_bytes", 16384, "808001"},
    {"varint_2p21_minus_1", (UINT64_C(1) << 21) - 1, "ffff7f"},
    {"varint_2p21", UINT64_C(1) << 21, "80808001"},
    {"varint_2p28", UINT64_C(1) << 28, "8080808001"},
    {"varint_uint32_max", UINT32_MAX, "ffffffff0f"},
    {"varint_2p35", UINT64_C(1) << 35, "808080808001"},
    {"varint_2p63", UINT64_C(1) << 63, "80808080808080808001"},
    {"varint_uint64_max_10_bytes", UINT64_MAX, "ffffffffffffffffff01"},
};

static void test_varint_case(void **state)
{
    const struct varint_case *c = *state;
    struct bbs_buf b = {0};

    bbs_buf_append(&b, "x", 1); /* appends after what is there */
    bbs_pbw_varint(&b, c->v);
    assert_int_equal(b.data[0], 'x');
    assert_string_equal(hex(b.data + 1, b.len - 1), c->want);
    bbs_buf_free(&b);
}

struct tag_case {
    const char *name;
    uint32_t field;
    enum bbs_pb_wire wt;
    const char *want;
};

static const struct tag_case tag_cases[] = {
    {"tag_1_varint", 1, BBS_PB_VARINT, "08"},
    {"tag_1_i64", 1, BBS_PB_I64, "09"},
    {"tag_1_i32", 1, BBS_PB_I32, "0d"},
    {"tag_2_len", 2, BBS_PB_LEN, "12"},
    {"tag_15_len_last_1_byte", 15, BBS_PB_LEN, "7a"},
    {"tag_16_varint_first_2_bytes", 16, BBS_PB_VARINT, "8001"},
    {"tag_21_len", 21, BBS_PB_LEN, "aa01"},
    {"tag_2047_len_last_2_bytes", 2047, BBS_PB_LEN, "fa7f"},
    {"tag_2048_varint_first_3_bytes", 2048, BBS_PB_VARINT, "808001"},
    {"tag_max_field_number", 536870911, BBS_PB_LEN, "faffffff0f"},
};

static void test_tag_case(void **state)
{
    const struct tag_case *c = *state;
    struct bbs_buf b = {0};

    bbs_pbw_tag(&b, c->field, c->wt);
    assert_string_equal(hex(b.data, b.len), c->want);
    bbs_buf_free(&b);
}

/* ---- scalars: skipped defaults and the _always forms ---- */

/* One writer call on an empty buffer; the bytes it must leave ("" = nothing). */
struct scalar_case {
    const char *name;
    void (*write)(struct bbs_buf *b);
    const char *want;
};

static void w_int64_zero(struct bbs_buf *b)
{
    bbs_pbw_int64(b, 4, 0);
}
static void w_int64_always_zero(struct bbs_buf *b)
{
    bbs_pbw_int64_always(b, 4, 0);
}
static void w_int64_one(struct bbs_buf *b)
{
    bbs_pbw_int64(b, 4, 1);
}
static void w_int64_minus_one(struct bbs_buf *b)
{
    bbs_pbw_int64(b, 4, -1);
}
static void w_int64_int32_min(struct bbs_buf *b)
{
    bbs_pbw_int64(b, 2, INT32_MIN);
}
static void w_uint64_zero(struct bbs_buf *b)
{
    bbs_pbw_uint64(b, 2, 0);
}
static void w_uint64_max(struct bbs_buf *b)
{
    bbs_pbw_uint64(b, 2, UINT64_MAX);
}
static void w_string_empty(struct bbs_buf *b)
{
    bbs_pbw_string(b, 1, "");
}
static void w_string_null(struct bbs_buf *b)
{
    bbs_pbw_string(b, 1, NULL);
}
static void w_string_abc(struct bbs_buf *b)
{
    bbs_pbw_string(b, 1, "abc");
}
static void w_bytes_empty(struct bbs_buf *b)
{
    bbs_pbw_bytes(b, 3, "", 0);
}
static void w_bytes_always_empty(struct bbs_buf *b)
{
    bbs_pbw_bytes_always(b, 3, "", 0);
}
static void w_bytes_with_nul(struct bbs_buf *b)
{
    bbs_pbw_bytes(b, 3, "a\0b", 3);
}
static void w_raw(struct bbs_buf *b)
{
    bbs_pbw_raw(b, "\x0a\x01z", 3);
}
static void w_raw_empty(struct bbs_buf *b)
{
    bbs_pbw_raw(b, "", 0);
}

static const struct scalar_case scalar_cases[] = {
    {"int64_zero_skipped", w_int64_zero, ""},
    {"int64_always_zero_written", w_int64_always_zero, "2000"},
    {"int64_one", w_int64_one, "2001"},
    {"int64_minus_one_10_bytes", w_int64_minus_one, "20ffffffffffffffffff01"},
    {"int64_int32_min_sign_extended", w_int64_int32_min, "1080808080f8ffffffff01"},
    {"uint64_zero_skipped", w_uint64_zero, ""},
    {"uint64_max", w_uint64_max, "10ffffffffffffffffff01"},
    {"string_empty_skipped", w_string_empty, ""},
    {"string_null_skipped", w_string_null, ""},
    {"string_abc", w_string_abc, "0a03616263"},
    {"bytes_empty_skipped", w_bytes_empty, ""},
    {"bytes_always_empty_written", w_bytes_always_empty, "1a00"},
    {"bytes_keep_nul", w_bytes_with_nul, "1a03610062"},
    {"raw_copied_as_is", w_raw, "0a017a"},
    {"raw_empty", w_raw_empty, ""},
};

static void test_scalar_case(void **state)
{
    const struct scalar_case *c = *state;
    struct bbs_buf b = {0};

    c->write(&b);
    assert_string_equal(hex(b.data, b.len), c->want);
    bbs_buf_free(&b);
}

/* The writer and protobuf-c agree on a flat message (proto3 defaults skipped alike). */
static void test_flat_message_matches_protobuf_c(void **state)
{
    static const int32_t indices[] = {0, 1, -1, 127, 128, INT32_MAX, INT32_MIN};
    (void)state;

    for (size_t i = 0; i < N(indices); i++) {
        Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;
        struct bbs_buf b = {0};
        uint8_t *want;
        size_t n;

        key.process_guid = S(i == 0 ? "" : "pg-1");
        key.index = indices[i];
        key.domain = S("cf-apps");
        want = pc_pack(&key.base, &n);
        bbs_pbw_string(&b, 1, key.process_guid);
        bbs_pbw_int64(&b, 2, key.index);
        bbs_pbw_string(&b, 3, key.domain);
        assert_same_bytes(&b, want, n);
        free(want);
        bbs_buf_free(&b);
    }
}

/* ---- submessages ---- */

struct sub_case {
    const char *name;
    size_t body; /* bytes written between open and close */
    size_t len_bytes;
};

static const struct sub_case sub_cases[] = {
    {"sub_empty_always_written", 0, 1},
    {"sub_1", 1, 1},
    {"sub_127_last_1_byte_length", 127, 1},
    {"sub_128_widened_to_2", 128, 2},
    {"sub_300", 300, 2},
    {"sub_16383_last_2_byte_length", 16383, 2},
    {"sub_16384_widened_to_3", 16384, 3},
    {"sub_2p21_widened_to_4", (size_t)1 << 21, 4},
};

/*
 * open / `body` raw bytes / close equals bytes_always of the same bytes,
 * with something before and after so the move of the body is visible.
 */
static void test_sub_case(void **state)
{
    const struct sub_case *c = *state;
    uint8_t *body = malloc(c->body + 1);
    struct bbs_buf got = {0};
    struct bbs_buf want = {0};
    size_t mark;

    assert_non_null(body);
    for (size_t i = 0; i < c->body; i++) {
        body[i] = (uint8_t)(i * 7 + 3);
    }
    bbs_pbw_string(&got, 1, "before");
    mark = bbs_pbw_open(&got, 21);
    bbs_pbw_raw(&got, body, c->body);
    bbs_pbw_close(&got, mark);
    bbs_pbw_string(&got, 2, "after");

    bbs_pbw_string(&want, 1, "before");
    bbs_pbw_bytes_always(&want, 21, body, c->body);
    bbs_pbw_string(&want, 2, "after");
    assert_same_bytes(&got, want.data, want.len);
    /* "before" (8 bytes), tag aa01, then the length in `len_bytes` bytes */
    assert_int_equal(got.len, 8 + 2 + c->len_bytes + c->body + 7);
    free(body);
    bbs_buf_free(&got);
    bbs_buf_free(&want);
}

/*
 * Two levels of nesting against protobuf-c: ActualLRP { key, net_info {
 * address, ports [ {container_port, host_port} ] } }, with an address long
 * enough that the inner and then the outer length cross 127 or 16383.
 */
static void test_nested_matches_protobuf_c(void **state)
{
    static const size_t address_lens[] = {0, 10, 100, 120, 127, 200, 16370, 16400, 20000};
    (void)state;

    for (size_t i = 0; i < N(address_lens); i++) {
        Models__ActualLRP lrp = MODELS__ACTUAL_LRP__INIT;
        Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;
        Models__ActualLRPNetInfo ni = MODELS__ACTUAL_LRPNET_INFO__INIT;
        Models__PortMapping pm = MODELS__PORT_MAPPING__INIT;
        Models__PortMapping *pms[1] = {&pm};
        char *address = malloc(address_lens[i] + 1);
        struct bbs_buf b = {0};
        size_t outer, inner;
        uint8_t *want;
        size_t n;

        assert_non_null(address);
        memset(address, 'a', address_lens[i]);
        address[address_lens[i]] = '\0';
        key.process_guid = S("pg");
        key.domain = S("d");
        ni.address = address;
        pm.container_port = 8080;
        pm.host_port = 61000;
        ni.n_ports = 1;
        ni.ports = pms;
        lrp.actual_lrp_key = &key;
        lrp.actual_lrp_net_info = &ni;
        lrp.since = 1700000000000000000;
        want = pc_pack(&lrp.base, &n);

        outer = bbs_pbw_open(&b, 1);
        bbs_pbw_string(&b, 1, "pg");
        bbs_pbw_string(&b, 3, "d");
        bbs_pbw_close(&b, outer);
        outer = bbs_pbw_open(&b, 3);
        bbs_pbw_string(&b, 1, address);
        inner = bbs_pbw_open(&b, 2); /* one PortMapping */
        bbs_pbw_uint64(&b, 1, 8080);
        bbs_pbw_uint64(&b, 2, 61000);
        bbs_pbw_close(&b, inner);
        bbs_pbw_close(&b, outer);
        bbs_pbw_int64(&b, 8, lrp.since);
        assert_same_bytes(&b, want, n);
        free(want);
        free(address);
        bbs_buf_free(&b);
    }
}

/* ---- reading and retagging ---- */

/*
 * Fields 1 "a", 2 varint 300, 3 "bc", 4 fixed64, 5 fixed32, 6 "" and,
 * past field 15, 16 "xyz": the length-delimited ones are 1, 3, 6 and 16.
 */
static const char GOOD[] = "0a0161"
                           "10ac02"
                           "1a026263"
                           "210102030405060708"
                           "2d01020304"
                           "3200"
                           "8201"
                           "0378797a";

static void test_next_len_walks_length_delimited_fields(void **state)
{
    static const struct {
        uint32_t field;
        const char *data;
    } want[] = {{1, "a"}, {3, "bc"}, {6, ""}, {16, "xyz"}};
    uint8_t p[64];
    size_t n = unhex(GOOD, p);
    size_t pos = 0;
    uint32_t field = 0;
    const uint8_t *data = NULL;
    size_t len = 0;
    (void)state;

    for (size_t i = 0; i < N(want); i++) {
        assert_int_equal(bbs_pbr_next_len(p, n, &pos, &field, &data, &len), 1);
        assert_int_equal(field, want[i].field);
        assert_int_equal(len, strlen(want[i].data));
        assert_memory_equal(data, want[i].data, len);
        assert_true(data >= p && data + len <= p + n); /* points into the input */
    }
    assert_int_equal(bbs_pbr_next_len(p, n, &pos, &field, &data, &len), 0);
    assert_int_equal(pos, n);
    assert_int_equal(bbs_pbr_next_len(p, n, &pos, &field, &data, &len), 0); /* stays at the end */
}

static void test_next_len_empty_input(void **state)
{
    size_t pos = 0;
    uint32_t field;
    const uint8_t *data;
    size_t len;
    (void)state;

    assert_int_equal(bbs_pbr_next_len((const uint8_t *)"", 0, &pos, &field, &data, &len), 0);
}

/* Input whose first length-delimited field (if any) is followed by a malformed one. */
struct bad_case {
    const char *name;
    const char *input; /* hex */
    int good_first;    /* one good field "0a0161" precedes the bad part */
};

static const struct bad_case bad_cases[] = {
    {"bad_truncated_key", "80", 0},
    {"bad_field_zero", "0200", 0},
    {"bad_wire_type_3_group", "0b", 0},
    {"bad_wire_type_4_group_end", "0c", 0},
    {"bad_wire_type_6", "0e", 0},
    {"bad_wire_type_7", "0f", 0},
    {"bad_length_past_end", "0a0501", 0},
    {"bad_length_one_past_end", "0a02aa", 0},
    {"bad_truncated_length", "0a80", 0},
    {"bad_huge_length", "0affffffffffffffffff01", 0},
    {"bad_truncated_varint_value", "0880", 0},
    {"bad_varint_11_bytes", "08ffffffffffffffffffff01", 0},
    {"bad_truncated_fixed64", "09010203", 0},
    {"bad_truncated_fixed32", "0d0102", 0},
    {"bad_field_above_uint32", "828080808001", 0},
    {"bad_after_a_good_field",
     "0a0161"
     "0a0501",
     1},
    {"bad_varint_after_a_good_field",
     "0a0161"
     "1080",
     1},
};

static void test_bad_case(void **state)
{
    const struct bad_case *c = *state;
    uint8_t p[64];
    size_t n = unhex(c->input, p);
    size_t pos = 0;
    uint32_t field = 0;
    const uint8_t *data = NULL;
    size_t len = 0;
    struct bbs_buf b = {0};

    if (c->good_first) {
        assert_int_equal(bbs_pbr_next_len(p, n, &pos, &field, &data, &len), 1);
        assert_int_equal(field, 1);
        assert_int_equal(len, 1);
    }
    assert_int_equal(bbs_pbr_next_len(p, n, &pos, &field, &data, &len), -1);
    assert_true(pos <= n); /* never reads past the end */
    assert_int_equal(bbs_pbw_retag(&b, 9, p, n), -1);
    bbs_buf_free(&b);
}

static void test_retag_moves_length_delimited_fields(void **state)
{
    uint8_t p[64];
    size_t n = unhex(GOOD, p);
    struct bbs_buf b = {0};
    (void)state;

    bbs_buf_append(&b, "\x08\x01", 2);
    assert_int_equal(bbs_pbw_retag(&b, 7, p, n), 0);
    /* 7:"a", 7:"bc", 7:"" (an empty one is kept), 7:"xyz"; the rest dropped */
    assert_string_equal(hex(b.data, b.len), "0801"
                                            "3a0161"
                                            "3a026263"
                                            "3a00"
                                            "3a0378797a");
    bbs_buf_free(&b);
}

static void test_retag_empty_and_to_two_byte_tag(void **state)
{
    uint8_t p[8];
    size_t n = unhex("0a0161", p);
    struct bbs_buf b = {0};
    (void)state;

    assert_int_equal(bbs_pbw_retag(&b, 7, p, 0), 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(bbs_pbw_retag(&b, 21, p, n), 0);
    assert_string_equal(hex(b.data, b.len), "aa010161");
    bbs_buf_free(&b);
}

/* Retagging what protobuf-c packed for a repeated message field gives protobuf-c's bytes. */
static void test_retag_matches_protobuf_c(void **state)
{
    Models__ActualLRPNetInfo from = MODELS__ACTUAL_LRPNET_INFO__INIT;
    Models__ActualLRPNetInfo to = MODELS__ACTUAL_LRPNET_INFO__INIT;
    Models__PortMapping pm[3] = {MODELS__PORT_MAPPING__INIT, MODELS__PORT_MAPPING__INIT,
                                 MODELS__PORT_MAPPING__INIT};
    Models__PortMapping *pms[3] = {&pm[0], &pm[1], &pm[2]};
    struct bbs_buf b = {0};
    uint8_t *src;
    uint8_t *want;
    size_t sn;
    size_t wn;
    (void)state;

    for (int i = 0; i < 3; i++) {
        pm[i].container_port = (uint32_t)(8080 + i);
        pm[i].host_port = (uint32_t)(i == 1 ? 0 : 61000 + i); /* one has an empty field */
    }
    /* the ports as a stored list under field 2 ... */
    from.n_ports = 3;
    from.ports = pms;
    src = pc_pack(&from.base, &sn);
    /* ... moved under field 2 of a message with an address first */
    to.address = S("10.0.0.1");
    to.n_ports = 3;
    to.ports = pms;
    want = pc_pack(&to.base, &wn);
    bbs_pbw_string(&b, 1, "10.0.0.1");
    assert_int_equal(bbs_pbw_retag(&b, 2, src, sn), 0);
    assert_same_bytes(&b, want, wn);
    free(src);
    free(want);
    bbs_buf_free(&b);
}

#define ADD_TABLE(tests, k, cases, fn)                                                             \
    for (size_t i_ = 0; i_ < N(cases); i_++) {                                                     \
        (tests)[(k)++] = (struct CMUnitTest){                                                      \
            .name = (cases)[i_].name,                                                              \
            .test_func = (fn),                                                                     \
            .initial_state = (void *)&(cases)[i_],                                                 \
        };                                                                                         \
    }

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_flat_message_matches_protobuf_c),
        cmocka_unit_test(test_nested_matches_protobuf_c),
        cmocka_unit_test(test_next_len_walks_length_delimited_fields),
        cmocka_unit_test(test_next_len_empty_input),
        cmocka_unit_test(test_retag_moves_length_delimited_fields),
        cmocka_unit_test(test_retag_empty_and_to_two_byte_tag),
        cmocka_unit_test(test_retag_matches_protobuf_c),
    };
    struct CMUnitTest tests[N(varint_cases) + N(tag_cases) + N(scalar_cases) + N(sub_cases) +
                            N(bad_cases) + N(fixed)];
    size_t k = 0;

    ADD_TABLE(tests, k, varint_cases, test_varint_case);
    ADD_TABLE(tests, k, tag_cases, test_tag_case);
    ADD_TABLE(tests, k, scalar_cases, test_scalar_case);
    ADD_TABLE(tests, k, sub_cases, test_sub_case);
    ADD_TABLE(tests, k, bad_cases, test_bad_case);
    for (size_t i = 0; i < N(fixed); i++) {
        tests[k++] = fixed[i];
    }
    if (k != N(tests)) {
        return 1;
    }
    return cmocka_run_group_tests_name("pbw", tests, NULL, NULL);
}
