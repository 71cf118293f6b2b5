/*
 * test_crypt.c - the key ring and the sealed-value envelope (crypt.h).
 *
 * The known vectors were made once, independently of this code, with
 * python3-cryptography following reference 6.3 (key = SHA-256 of the
 * passphrase, AES-256-GCM, no additional data, envelope
 * [len][label][12-byte nonce][ciphertext||tag], base64, "02" prefix):
 *
 *   key = hashlib.sha256(b"correct horse battery staple").digest()
 *   ct = AESGCM(key).encrypt(bytes(range(12)), b"\x02\x00\x0a\x071.2.3.4", None)
 *   "02" + base64.b64encode(bytes([12]) + b"upstream-key" + bytes(range(12)) + ct)
 *
 * (and the same with nonce bytes(range(36, 48)), label "label",
 * passphrase "key" and plaintext b"{}": the key upstream's own test
 * suite configures).
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "bbs/crypt.h"

static const char VECTOR_NET_INFO[] =
    "02DHVwc3RyZWFtLWtleQABAgMEBQYHCAkKCxXN1lRdg9DE+LqMsWIQbyGYp2oGLuWqmOtifg==";
static const uint8_t VECTOR_NET_INFO_PT[] = {0x02, 0x00, 0x0a, 0x07, '1', '.',
                                             '2',  '.',  '3',  '.',  '4'};
static const char VECTOR_SUITE[] = "02BWxhYmVsJCUmJygpKissLS4v5s9gVbkUe9OLEmGUSPlJJiDI";

static struct bbs_crypt *ring(const char *active)
{
    static const struct bbs_crypt_key_cfg keys[] = {
        {"upstream-key", "correct horse battery staple"},
        {"label", "key"},
        {"other", "another passphrase"},
    };
    struct bbs_error err = {0};
    struct bbs_crypt *c = bbs_crypt_new(keys, 3, active, &err);

    assert_non_null(c);
    return c;
}

static void test_known_vectors_open(void **state)
{
    struct bbs_crypt *c = ring("other");
    struct bbs_buf pt = {0};
    struct bbs_error err = {0};
    char label[BBS_CRYPT_LABEL_MAX + 1];

    (void)state;
    assert_true(bbs_crypt_is_sealed((const uint8_t *)VECTOR_NET_INFO, strlen(VECTOR_NET_INFO)));
    assert_int_equal(bbs_crypt_open(c, (const uint8_t *)VECTOR_NET_INFO, strlen(VECTOR_NET_INFO),
                                    &pt, label, &err),
                     0);
    assert_string_equal(label, "upstream-key");
    assert_int_equal(pt.len, sizeof(VECTOR_NET_INFO_PT));
    assert_memory_equal(pt.data, VECTOR_NET_INFO_PT, pt.len);
    pt.len = 0;
    assert_int_equal(
        bbs_crypt_open(c, (const uint8_t *)VECTOR_SUITE, strlen(VECTOR_SUITE), &pt, label, &err),
        0);
    assert_string_equal(label, "label");
    assert_int_equal(pt.len, 2);
    assert_memory_equal(pt.data, "{}", 2);
    bbs_buf_free(&pt);
    bbs_crypt_free(c);
}

/* The same label with another passphrase: the tag does not verify; the label is named. */
static void test_wrong_key_refused(void **state)
{
    static const struct bbs_crypt_key_cfg keys[] = {{"upstream-key", "not the passphrase"}};
    struct bbs_error err = {0};
    struct bbs_crypt *c = bbs_crypt_new(keys, 1, "upstream-key", &err);
    struct bbs_buf pt = {0};
    char label[BBS_CRYPT_LABEL_MAX + 1];

    (void)state;
    assert_int_equal(bbs_crypt_open(c, (const uint8_t *)VECTOR_NET_INFO, strlen(VECTOR_NET_INFO),
                                    &pt, label, &err),
                     -1);
    assert_int_equal(err.type, BBS_ERR_DESERIALIZE);
    assert_non_null(strstr(err.message, "upstream-key"));
    assert_string_equal(label, "upstream-key");
    assert_int_equal(pt.len, 0);
    bbs_buf_free(&pt);
    bbs_crypt_free(c);
}

static void test_missing_label_refused(void **state)
{
    static const struct bbs_crypt_key_cfg keys[] = {{"other", "x"}};
    struct bbs_error err = {0};
    struct bbs_crypt *c = bbs_crypt_new(keys, 1, "other", &err);
    struct bbs_buf pt = {0};
    char label[BBS_CRYPT_LABEL_MAX + 1];

    (void)state;
    assert_int_equal(bbs_crypt_open(c, (const uint8_t *)VECTOR_NET_INFO, strlen(VECTOR_NET_INFO),
                                    &pt, label, &err),
                     -1);
    assert_non_null(strstr(err.message, "no key labelled \"upstream-key\""));
    assert_string_equal(label, "upstream-key");
    bbs_buf_free(&pt);
    bbs_crypt_free(c);
}

/* A flipped ciphertext bit fails; so does a flipped label byte (another key). */
static void test_tamper_refused(void **state)
{
    struct bbs_crypt *c = ring("upstream-key");
    struct bbs_buf sealed = {0};
    struct bbs_buf pt = {0};
    struct bbs_error err = {0};
    char v[sizeof(VECTOR_NET_INFO)];

    (void)state;
    memcpy(v, VECTOR_NET_INFO, sizeof(v));
    v[40] = v[40] == 'A' ? 'B' : 'A';
    assert_int_equal(bbs_crypt_open(c, (const uint8_t *)v, strlen(v), &pt, NULL, &err), -1);
    assert_int_equal(err.type, BBS_ERR_DESERIALIZE);
    bbs_buf_free(&sealed);
    bbs_buf_free(&pt);
    bbs_crypt_free(c);
}

/* Seal: the envelope of 6.3 under the active label, a fresh nonce each time. */
static void test_seal_round_trip(void **state)
{
    struct bbs_crypt *c = ring("upstream-key");
    struct bbs_buf a = {0};
    struct bbs_buf b = {0};
    struct bbs_buf scratch = {0};
    struct bbs_buf pt = {0};
    struct bbs_crypt_envelope env;
    struct bbs_error err = {0};
    static const uint8_t msg[] = "some plaintext";

    (void)state;
    assert_true(bbs_crypt_enabled(c));
    assert_string_equal(bbs_crypt_active_label(c), "upstream-key");
    assert_int_equal(bbs_crypt_seal(c, msg, sizeof(msg), &a, &err), 0);
    assert_int_equal(bbs_crypt_seal(c, msg, sizeof(msg), &b, &err), 0);
    assert_true(a.len == b.len);
    assert_true(memcmp(a.data, b.data, a.len) != 0); /* random nonce */
    /* The compact form: 0x00, then the envelope as is, nothing encoded. */
    assert_int_equal(a.data[0], BBS_CRYPT_COMPACT);
    assert_int_equal(a.data[1], 12);
    assert_memory_equal(a.data + 2, "upstream-key", 12);
    assert_int_equal(a.len, 2 + 12 + 12 + sizeof(msg) + 16);
    assert_true(bbs_crypt_is_sealed(a.data, a.len));
    assert_int_equal(bbs_crypt_parse(a.data, a.len, &scratch, &env, &err), 0);
    assert_int_equal(scratch.len, 0);
    assert_int_equal(env.label_len, 12);
    assert_ptr_equal(env.label, a.data + 2);
    assert_ptr_equal(env.nonce, a.data + 14);
    assert_int_equal(env.ct_len, sizeof(msg) + BBS_CRYPT_TAG_LEN);
    assert_int_equal(bbs_crypt_open_len(a.data, a.len), sizeof(msg));
    assert_int_equal(bbs_crypt_open(c, a.data, a.len, &pt, NULL, &err), 0);
    assert_int_equal(pt.len, sizeof(msg));
    assert_memory_equal(pt.data, msg, sizeof(msg));
    /* The same envelope in upstream's form ("02" + base64) opens the same. */
    b.len = 0;
    bbs_buf_append(&b, "02", 2);
    bbs_crypt_b64_encode(&b, a.data + 1, a.len - 1);
    assert_true(bbs_crypt_is_sealed(b.data, b.len));
    assert_int_equal(bbs_crypt_open_len(b.data, b.len), sizeof(msg));
    pt.len = 0;
    assert_int_equal(bbs_crypt_open(c, b.data, b.len, &pt, NULL, &err), 0);
    assert_int_equal(pt.len, sizeof(msg));
    assert_memory_equal(pt.data, msg, sizeof(msg));
    /* A flipped ciphertext bit in the compact form does not open. */
    a.data[a.len - 20] ^= 1;
    pt.len = 0;
    assert_int_not_equal(bbs_crypt_open(c, a.data, a.len, &pt, NULL, &err), 0);
    /* The empty plaintext is a full envelope too. */
    a.len = 0;
    pt.len = 0;
    assert_int_equal(bbs_crypt_seal(c, msg, 0, &a, &err), 0);
    assert_int_equal(bbs_crypt_open(c, a.data, a.len, &pt, NULL, &err), 0);
    assert_int_equal(pt.len, 0);
    bbs_buf_free(&a);
    bbs_buf_free(&b);
    bbs_buf_free(&scratch);
    bbs_buf_free(&pt);
    bbs_crypt_free(c);
}

static void test_ring_validation(void **state)
{
    struct bbs_crypt_key_cfg keys[2] = {{"a", "p"}, {"a", "q"}};
    struct bbs_error err = {0};
    char long_label[129];
    struct bbs_crypt *off;
    struct bbs_buf out = {0};

    (void)state;
    assert_null(bbs_crypt_new(keys, 2, "a", &err));
    assert_non_null(strstr(err.message, "listed twice"));
    assert_null(bbs_crypt_new(keys, 1, "b", &err));
    assert_non_null(strstr(err.message, "\"b\""));
    assert_null(bbs_crypt_new(keys, 1, "", &err));
    memset(long_label, 'x', 128);
    long_label[128] = '\0';
    keys[0].label = long_label;
    assert_null(bbs_crypt_new(keys, 1, long_label, &err));
    long_label[127] = '\0';
    off = bbs_crypt_new(keys, 1, long_label, &err);
    assert_non_null(off);
    bbs_crypt_free(off);
    keys[0].label = "";
    assert_null(bbs_crypt_new(keys, 1, "", &err));
    /* No keys: a ring that seals nothing. */
    off = bbs_crypt_new(NULL, 0, NULL, &err);
    assert_non_null(off);
    assert_false(bbs_crypt_enabled(off));
    assert_string_equal(bbs_crypt_active_label(off), "");
    assert_int_equal(bbs_crypt_seal(off, (const uint8_t *)"x", 1, &out, &err), -1);
    bbs_crypt_free(off);
    bbs_crypt_free(NULL);
}

/* What a plain stored value looks like is never taken for a sealed one. */
static void test_is_sealed(void **state)
{
    static const uint8_t net_info[] = {0x0a, 0x07, '1', '.', '2', '.', '3', '.', '4'};
    static const uint8_t routes[] = {0x5a, 0x03, 0x0a, 0x01, 'h'};

    (void)state;
    assert_false(bbs_crypt_is_sealed(net_info, sizeof(net_info)));
    assert_false(bbs_crypt_is_sealed(routes, sizeof(routes)));
    assert_false(bbs_crypt_is_sealed((const uint8_t *)"", 0));
    assert_false(bbs_crypt_is_sealed((const uint8_t *)"02", 2));
    assert_false(bbs_crypt_is_sealed((const uint8_t *)"02abc", 5));
    assert_false(bbs_crypt_is_sealed((const uint8_t *)"02ab\ncd", 7));
    assert_false(bbs_crypt_is_sealed((const uint8_t *)"01AAAA", 6));
    assert_true(bbs_crypt_is_sealed((const uint8_t *)"02AA==", 6));
    /* Upstream's plain JSON starts with a character, never with 0x00. */
    assert_false(bbs_crypt_is_sealed((const uint8_t *)"{\"h\":[]}", 8));
    assert_false(bbs_crypt_is_sealed((const uint8_t *)"\0", 1));
    assert_true(bbs_crypt_is_sealed((const uint8_t *)"\0\1k", 3));
}

/* A compact value too short for its label, nonce and tag does not parse. */
static void test_compact_truncated(void **state)
{
    uint8_t v[2 + 3 + BBS_CRYPT_NONCE_LEN + BBS_CRYPT_TAG_LEN] = {BBS_CRYPT_COMPACT, 3, 'a', 'b',
                                                                  'c'};
    struct bbs_buf scratch = {0};
    struct bbs_crypt_envelope env;
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(bbs_crypt_parse(v, sizeof(v), &scratch, &env, &err), 0);
    assert_int_equal(env.ct_len, BBS_CRYPT_TAG_LEN);
    assert_int_not_equal(bbs_crypt_parse(v, sizeof(v) - 1, &scratch, &env, &err), 0);
    assert_int_equal(bbs_crypt_open_len(v, sizeof(v) - 1), 0);
    v[1] = 0; /* no label */
    assert_int_not_equal(bbs_crypt_parse(v, sizeof(v), &scratch, &env, &err), 0);
    v[1] = 200; /* longer than any label */
    assert_int_not_equal(bbs_crypt_parse(v, sizeof(v), &scratch, &env, &err), 0);
    bbs_buf_free(&scratch);
}

static void test_base64(void **state)
{
    struct bbs_buf b = {0};
    struct bbs_buf d = {0};
    static const struct {
        const char *plain;
        const char *coded;
    } cases[] = {{"", ""},
                 {"f", "Zg=="},
                 {"fo", "Zm8="},
                 {"foo", "Zm9v"},
                 {"foob", "Zm9vYg=="},
                 {"fooba", "Zm9vYmE="},
                 {"foobar", "Zm9vYmFy"}};

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].plain);

        b.len = 0;
        d.len = 0;
        bbs_crypt_b64_encode(&b, (const uint8_t *)cases[i].plain, n);
        assert_int_equal(b.len, strlen(cases[i].coded));
        if (n > 0) {
            assert_memory_equal(b.data, cases[i].coded, b.len);
        }
        assert_int_equal(
            bbs_crypt_b64_decode(&d, (const uint8_t *)cases[i].coded, strlen(cases[i].coded)), 0);
        assert_int_equal(d.len, n);
        if (n > 0) {
            assert_memory_equal(d.data, cases[i].plain, n);
        }
    }
    assert_int_equal(bbs_crypt_b64_decode(&d, (const uint8_t *)"Zg=", 3), -1);
    assert_int_equal(bbs_crypt_b64_decode(&d, (const uint8_t *)"Zh==", 4), -1); /* stray bits */
    assert_int_equal(bbs_crypt_b64_decode(&d, (const uint8_t *)"Z===", 4), -1);
    assert_int_equal(bbs_crypt_b64_decode(&d, (const uint8_t *)"Zg==Zg==", 8), -1);
    assert_int_equal(bbs_crypt_b64_decode(&d, (const uint8_t *)"Z-9v", 4), -1);
    bbs_buf_free(&b);
    bbs_buf_free(&d);
}

static void test_parse_malformed(void **state)
{
    struct bbs_buf s = {0};
    struct bbs_crypt_envelope env;
    struct bbs_error err = {0};
    static const char *const bad[] = {
        "",
        "0",
        "03AA",
        "02",
        "02AA==",         /* label length 0 */
        "02BWxhYmVsJCUm", /* too short for nonce and tag */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(bbs_crypt_parse((const uint8_t *)bad[i], strlen(bad[i]), &s, &env, &err),
                         -1);
        assert_int_equal(err.type, BBS_ERR_DESERIALIZE);
    }
    bbs_buf_free(&s);
}

/* The read path allocates bbs_crypt_open_len bytes per value: exact. */
static void test_open_len(void **state)
{
    struct bbs_crypt *c = ring("label");
    struct bbs_buf sealed = {0};
    struct bbs_buf pt = {0};
    struct bbs_error err = {0};
    uint8_t msg[64];

    (void)state;
    assert_int_equal(bbs_crypt_open_len((const uint8_t *)VECTOR_NET_INFO, strlen(VECTOR_NET_INFO)),
                     sizeof(VECTOR_NET_INFO_PT));
    assert_int_equal(bbs_crypt_open_len((const uint8_t *)VECTOR_SUITE, strlen(VECTOR_SUITE)), 2);
    memset(msg, 0xab, sizeof(msg));
    /* Every padding (0, 1, 2 '=') and the empty plaintext. */
    for (size_t n = 0; n <= sizeof(msg); n++) {
        sealed.len = 0;
        pt.len = 0;
        assert_int_equal(bbs_crypt_seal(c, msg, n, &sealed, &err), 0);
        assert_int_equal(bbs_crypt_open_len(sealed.data, sealed.len), n);
        assert_true(bbs_crypt_open_len(sealed.data, sealed.len) <= bbs_crypt_open_max(sealed.len));
        assert_int_equal(bbs_crypt_open(c, sealed.data, sealed.len, &pt, NULL, &err), 0);
        assert_int_equal(pt.len, n);
    }
    /* Not sealed, or too short to hold a label, nonce and tag: 0. */
    assert_int_equal(bbs_crypt_open_len((const uint8_t *)"\x0a\x07", 2), 0);
    assert_int_equal(bbs_crypt_open_len((const uint8_t *)"02AA==", 6), 0);
    assert_int_equal(bbs_crypt_open_len((const uint8_t *)"02DHVw", 6), 0);
    bbs_buf_free(&sealed);
    bbs_buf_free(&pt);
    bbs_crypt_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors_open),
        cmocka_unit_test(test_wrong_key_refused),
        cmocka_unit_test(test_missing_label_refused),
        cmocka_unit_test(test_tamper_refused),
        cmocka_unit_test(test_seal_round_trip),
        cmocka_unit_test(test_ring_validation),
        cmocka_unit_test(test_is_sealed),
        cmocka_unit_test(test_compact_truncated),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_open_len),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
