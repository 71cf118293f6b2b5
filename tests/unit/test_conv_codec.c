/*
 * test_conv_codec.c - decoding the actual rows' blobs for convergence
 * (conv_codec.h): the values, and what a row decoded after another shares
 * with it (the same strings at the same positions, the whole hostname
 * array when every hostname is the same) while its own values stay its own.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "bbs/arena.h"
#include "bbs/conv_codec.h"

/* Length-delimited field `field` holding `n` bytes of `data` (lengths < 128). */
static size_t put(uint8_t *out, uint32_t field, const void *data, size_t n)
{
    out[0] = (uint8_t)(field << 3 | 2);
    out[1] = (uint8_t)n;
    memcpy(out + 2, data, n);
    return n + 2;
}

/* Internal routes: field-11 entries with the hostname in field 1. */
static size_t routes(uint8_t *out, const char *const *hosts, size_t n)
{
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        uint8_t inner[64];
        size_t k = put(inner, 1, hosts[i], strlen(hosts[i]));

        len += put(out + len, 11, inner, k);
    }
    return len;
}

/* Metric tags: field-12 entries of (1: name, 2: value). */
static size_t tags(uint8_t *out, const char *const *kv, size_t n)
{
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        uint8_t inner[128];
        size_t k = put(inner, 1, kv[2 * i], strlen(kv[2 * i]));

        k += put(inner + k, 2, kv[2 * i + 1], strlen(kv[2 * i + 1]));
        len += put(out + len, 12, inner, k);
    }
    return len;
}

static void test_second_instance_shares_what_it_has_in_common(void **state)
{
    static const char *const hosts[] = {"app.apps.internal", "api.apps.internal"};
    static const char *const kv0[] = {"source_id",           "pg-1", "instance_id", "0",
                                      "process_instance_id", "ig-0"};
    static const char *const kv1[] = {"source_id",           "pg-1", "instance_id", "1",
                                      "process_instance_id", "ig-1"};
    struct bbs_arena *arena = bbs_arena_new();
    uint8_t rb[256];
    uint8_t t0[256];
    uint8_t t1[256];
    struct bbs_blob r = {rb, routes(rb, hosts, 2), 1};
    struct bbs_blob g0 = {t0, tags(t0, kv0, 3), 1};
    struct bbs_blob g1 = {t1, tags(t1, kv1, 3), 1};
    struct bbs_conv_actual a = {0};
    struct bbs_conv_actual b = {0};
    (void)state;

    bbs_conv_decode_actual(arena, &r, &g0, NULL, &a);
    bbs_conv_decode_actual(arena, &r, &g1, &a, &b);
    assert_int_equal(a.n_hostnames, 2);
    assert_string_equal(a.hostnames[0], "app.apps.internal");
    assert_string_equal(a.hostnames[1], "api.apps.internal");
    assert_int_equal(b.n_hostnames, 2);
    assert_ptr_equal(b.hostnames, a.hostnames); /* the same routes: one array */
    assert_true(b.tags_present);
    assert_int_equal(b.n_tags, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(a.tag_names[i], kv0[2 * i]);
        assert_string_equal(a.tag_values[i], kv0[2 * i + 1]);
        assert_string_equal(b.tag_names[i], kv1[2 * i]);
        assert_string_equal(b.tag_values[i], kv1[2 * i + 1]);
        assert_ptr_equal(b.tag_names[i], a.tag_names[i]);
    }
    assert_ptr_equal(b.tag_names, a.tag_names); /* the same names: one array */
    assert_ptr_not_equal(b.tag_values, a.tag_values);
    assert_ptr_equal(b.tag_values[0], a.tag_values[0]);     /* source_id: the same */
    assert_ptr_not_equal(b.tag_values[1], a.tag_values[1]); /* its own index */
    assert_ptr_not_equal(b.tag_values[2], a.tag_values[2]); /* its own instance guid */
    bbs_arena_free(arena);
}

static void test_different_routes_are_not_shared(void **state)
{
    static const char *const h0[] = {"a.apps.internal"};
    static const char *const h1[] = {"a.apps.internal", "b.apps.internal"};
    static const char *const h2[] = {"a.apps.internal.x"};
    struct bbs_arena *arena = bbs_arena_new();
    uint8_t b0[128];
    uint8_t b1[128];
    uint8_t b2[128];
    struct bbs_blob r0 = {b0, routes(b0, h0, 1), 1};
    struct bbs_blob r1 = {b1, routes(b1, h1, 2), 1};
    struct bbs_blob r2 = {b2, routes(b2, h2, 1), 1};
    struct bbs_blob none = {NULL, 0, 0};
    struct bbs_conv_actual a = {0};
    struct bbs_conv_actual b = {0};
    struct bbs_conv_actual c = {0};
    (void)state;

    bbs_conv_decode_actual(arena, &r0, &none, NULL, &a);
    bbs_conv_decode_actual(arena, &r1, &none, &a, &b);
    bbs_conv_decode_actual(arena, &r2, &none, &b, &c);
    assert_int_equal(b.n_hostnames, 2);
    assert_ptr_not_equal(b.hostnames, a.hostnames);
    assert_ptr_equal(b.hostnames[0], a.hostnames[0]);
    assert_string_equal(b.hostnames[1], "b.apps.internal");
    assert_int_equal(c.n_hostnames, 1);
    assert_string_equal(c.hostnames[0], "a.apps.internal.x"); /* a longer one is its own */
    assert_false(c.tags_present);
    assert_int_equal(c.n_tags, 0);
    bbs_arena_free(arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_instance_shares_what_it_has_in_common),
        cmocka_unit_test(test_different_routes_are_not_shared),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
