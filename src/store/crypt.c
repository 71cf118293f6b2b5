/*
 * crypt.c - the key ring and the sealed-value envelope (crypt.h).
 *
 * AES-256-GCM comes from Nettle (GnuTLS's own cipher library), through its
 * low-level GCM interface: each key's AES schedule and GCM hash table are
 * expanded once, when the ring is built, and are read-only from then on;
 * the per-message state is a small struct on the caller's stack. So a
 * value is opened or sealed with no lock, no allocation and no key
 * schedule, from any number of threads. SHA-256 and the random nonces
 * come from GnuTLS.
 */
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nettle/aes.h>
#include <nettle/gcm.h>
#include <nettle/memops.h>

#include "bbs/crypt.h"
#include "bbs/xalloc.h"

struct crypt_key {
    char label[BBS_CRYPT_LABEL_MAX + 1];
    size_t label_len;
    struct aes256_ctx aes; /* the expanded key: read-only once built */
    struct gcm_key gcm;    /* GCM's hash table for it: read-only too */
};

struct bbs_crypt {
    struct crypt_key *keys;
    size_t n;
    const struct crypt_key *active; /* NULL: encryption off */
};

struct bbs_crypt *bbs_crypt_new(const struct bbs_crypt_key_cfg *keys, size_t n, const char *active,
                                struct bbs_error *err)
{
    struct bbs_crypt *c = bbs_xcalloc(1, sizeof(*c));
    uint8_t key[32];

    c->keys = bbs_xcalloc(n > 0 ? n : 1, sizeof(*c->keys));
    for (size_t i = 0; i < n; i++) {
        struct crypt_key *k = &c->keys[i];
        size_t len = strlen(keys[i].label);

        if (len < 1 || len > BBS_CRYPT_LABEL_MAX) {
            bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                           "encryption key label \"%.40s\": must be 1 to %d bytes long",
                           keys[i].label, BBS_CRYPT_LABEL_MAX);
            goto fail;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(c->keys[j].label, keys[i].label) == 0) {
                bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                               "encryption key label \"%s\": listed twice", keys[i].label);
                goto fail;
            }
        }
        memcpy(k->label, keys[i].label, len + 1);
        k->label_len = len;
        if (gnutls_hash_fast(GNUTLS_DIG_SHA256, keys[i].passphrase, strlen(keys[i].passphrase),
                             key) != 0) {
            bbs_error_setf(err, BBS_ERR_UNKNOWN, "encryption key \"%s\": SHA-256 failed", k->label);
            goto fail;
        }
        aes256_set_encrypt_key(&k->aes, key);
        gcm_set_key(&k->gcm, &k->aes, (nettle_cipher_func *)aes256_encrypt);
        c->n++;
    }
    if (active != NULL && active[0] != '\0') {
        for (size_t i = 0; i < c->n; i++) {
            if (strcmp(c->keys[i].label, active) == 0) {
                c->active = &c->keys[i];
            }
        }
        if (c->active == NULL) {
            bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                           "active_key_label \"%s\": not among encryption_keys", active);
            goto fail;
        }
    } else if (n > 0) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                       "active_key_label: required when encryption_keys is set");
        goto fail;
    }
    gnutls_memset(key, 0, sizeof(key));
    return c;
fail:
    gnutls_memset(key, 0, sizeof(key));
    bbs_crypt_free(c);
    return NULL;
}

void bbs_crypt_free(struct bbs_crypt *c)
{
    if (c == NULL) {
        return;
    }
    if (c->keys != NULL) {
        gnutls_memset(c->keys, 0, (c->n > 0 ? c->n : 1) * sizeof(*c->keys));
    }
    free(c->keys);
    free(c);
}

int bbs_crypt_enabled(const struct bbs_crypt *c)
{
    return c != NULL && c->active != NULL;
}

const char *bbs_crypt_active_label(const struct bbs_crypt *c)
{
    return bbs_crypt_enabled(c) ? c->active->label : "";
}

static const struct crypt_key *find_key(const struct bbs_crypt *c, const uint8_t *label, size_t len)
{
    for (size_t i = 0; c != NULL && i < c->n; i++) {
        if (c->keys[i].label_len == len && memcmp(c->keys[i].label, label, len) == 0) {
            return &c->keys[i];
        }
    }
    return NULL;
}

int bbs_crypt_has_label(const struct bbs_crypt *c, const char *label, size_t len)
{
    return find_key(c, (const uint8_t *)label, len) != NULL;
}

/* ---- base64 (RFC 4648, standard alphabet, padded) ---- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Character -> 6-bit value, -1 for anything outside the alphabet. */
static const int8_t B64_VALUE[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1, -1, 0,  1,  2,  3,  4,  5,  6,
    7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48,
    49, 50, 51, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

static int b64_value(uint8_t ch)
{
    return B64_VALUE[ch];
}

void bbs_crypt_b64_encode(struct bbs_buf *out, const uint8_t *p, size_t n)
{
    uint8_t *o;

    if (n == 0) {
        return;
    }
    bbs_buf_reserve(out, (n + 2) / 3 * 4);
    o = out->data + out->len;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        size_t left = n - i;

        if (left > 1) {
            v |= (uint32_t)p[i + 1] << 8;
        }
        if (left > 2) {
            v |= p[i + 2];
        }
        *o++ = (uint8_t)B64[(v >> 18) & 63];
        *o++ = (uint8_t)B64[(v >> 12) & 63];
        *o++ = left > 1 ? (uint8_t)B64[(v >> 6) & 63] : '=';
        *o++ = left > 2 ? (uint8_t)B64[v & 63] : '=';
    }
    out->len = (size_t)(o - out->data);
}

int bbs_crypt_b64_decode(struct bbs_buf *out, const uint8_t *p, size_t n)
{
    uint8_t *o;
    size_t i = 0;

    if (n % 4 != 0) {
        return -1;
    }
    if (n == 0) {
        return 0;
    }
    bbs_buf_reserve(out, n / 4 * 3);
    o = out->data + out->len;
    /* Every group but the last has no padding. */
    for (; n >= 4 && i < n - 4; i += 4) {
        int a = B64_VALUE[p[i]], b = B64_VALUE[p[i + 1]], c = B64_VALUE[p[i + 2]],
            d = B64_VALUE[p[i + 3]];
        uint32_t v;

        if ((a | b | c | d) < 0) {
            return -1;
        }
        v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        o[0] = (uint8_t)(v >> 16);
        o[1] = (uint8_t)(v >> 8);
        o[2] = (uint8_t)v;
        o += 3;
    }
    if (i < n) {
        int pad = p[i + 3] != '=' ? 0 : p[i + 2] == '=' ? 2 : 1;
        int v[4];

        for (int j = 0; j < 4; j++) {
            v[j] = B64_VALUE[p[i + (size_t)j]];
        }
        if (pad >= 1) {
            v[3] = 0;
        }
        if (pad == 2) {
            v[2] = 0;
        }
        if ((v[0] | v[1] | v[2] | v[3]) < 0) {
            return -1;
        }
        /* Canonical padding only: the bits padding drops must be zero. */
        if ((pad == 2 && (v[1] & 15) != 0) || (pad == 1 && (v[2] & 3) != 0)) {
            return -1;
        }
        *o++ = (uint8_t)(v[0] << 2 | v[1] >> 4);
        if (pad < 2) {
            *o++ = (uint8_t)((v[1] & 15) << 4 | v[2] >> 2);
        }
        if (pad < 1) {
            *o++ = (uint8_t)((v[2] & 3) << 6 | v[3]);
        }
    }
    out->len = (size_t)(o - out->data);
    return 0;
}

/* ---- the envelope ---- */

/* Split envelope bytes [L][label][nonce][ct||tag] (pointing into `d`). */
static int envelope_split(const uint8_t *d, size_t len, struct bbs_crypt_envelope *env)
{
    size_t l;

    if (len < 1) {
        return -1;
    }
    l = d[0];
    if (l < 1 || l > BBS_CRYPT_LABEL_MAX || len < 1 + l + BBS_CRYPT_NONCE_LEN + BBS_CRYPT_TAG_LEN) {
        return -1;
    }
    env->label = d + 1;
    env->label_len = l;
    env->nonce = d + 1 + l;
    env->ct = env->nonce + BBS_CRYPT_NONCE_LEN;
    env->ct_len = len - 1 - l - BBS_CRYPT_NONCE_LEN;
    return 0;
}

/* Our compact form's envelope inside `v`, or -1 (no copy, no decoding). */
static int compact_split(const uint8_t *v, size_t n, struct bbs_crypt_envelope *env)
{
    if (n < 1 || v[0] != BBS_CRYPT_COMPACT) {
        return -1;
    }
    return envelope_split(v + 1, n - 1, env);
}

int bbs_crypt_is_sealed(const uint8_t *v, size_t n)
{
    /* The compact form's first byte, or upstream's prefix and the shape of
     * padded base64: no plain value of ours starts with either
     * (docs/architecture.md), and opening checks the rest anyway. Reads
     * call this on every blob. */
    if (n >= 2 && v[0] == BBS_CRYPT_COMPACT) {
        return 1;
    }
    return n >= 6 && v[0] == '0' && v[1] == '2' && (n - 2) % 4 == 0 && b64_value(v[2]) >= 0;
}

int bbs_crypt_parse(const uint8_t *v, size_t n, struct bbs_buf *scratch,
                    struct bbs_crypt_envelope *env, struct bbs_error *err)
{
    scratch->len = 0;
    if (n >= 1 && v[0] == BBS_CRYPT_COMPACT) {
        if (compact_split(v, n, env) != 0) {
            bbs_error_setf(err, BBS_ERR_DESERIALIZE, "encrypted value: truncated envelope");
            return -1;
        }
        return 0;
    }
    if (n < 2 || v[0] != '0' || v[1] != '2') {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "encrypted value: no \"02\" prefix");
        return -1;
    }
    if (bbs_crypt_b64_decode(scratch, v + 2, n - 2) != 0) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "encrypted value: not base64");
        return -1;
    }
    if (envelope_split(scratch->data, scratch->len, env) != 0) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "encrypted value: truncated envelope");
        return -1;
    }
    return 0;
}

/* AES-256-GCM with a 12-byte nonce, no additional data (upstream's use). */
static void gcm_seal(const struct crypt_key *k, const uint8_t *nonce, const uint8_t *pt, size_t n,
                     uint8_t *ct_tag)
{
    struct gcm_ctx g;

    gcm_set_iv(&g, &k->gcm, BBS_CRYPT_NONCE_LEN, nonce);
    gcm_encrypt(&g, &k->gcm, &k->aes, (nettle_cipher_func *)aes256_encrypt, n, ct_tag, pt);
    gcm_digest(&g, &k->gcm, &k->aes, (nettle_cipher_func *)aes256_encrypt, BBS_CRYPT_TAG_LEN,
               ct_tag + n);
}

/* Decrypt `ct_len` bytes (ciphertext || tag) into `out`; -1 if the tag
 * does not verify (`out` is then wiped). `out` may equal `ct`. */
static int gcm_open(const struct crypt_key *k, const uint8_t *nonce, const uint8_t *ct,
                    size_t ct_len, uint8_t *out)
{
    struct gcm_ctx g;
    uint8_t tag[BBS_CRYPT_TAG_LEN];
    size_t n = ct_len - BBS_CRYPT_TAG_LEN;

    gcm_set_iv(&g, &k->gcm, BBS_CRYPT_NONCE_LEN, nonce);
    gcm_decrypt(&g, &k->gcm, &k->aes, (nettle_cipher_func *)aes256_encrypt, n, out, ct);
    gcm_digest(&g, &k->gcm, &k->aes, (nettle_cipher_func *)aes256_encrypt, BBS_CRYPT_TAG_LEN, tag);
    if (!memeql_sec(tag, ct + n, BBS_CRYPT_TAG_LEN)) {
        gnutls_memset(out, 0, n);
        return -1;
    }
    return 0;
}

int bbs_crypt_seal(const struct bbs_crypt *c, const uint8_t *pt, size_t n, struct bbs_buf *out,
                   struct bbs_error *err)
{
    const struct crypt_key *k = bbs_crypt_enabled(c) ? c->active : NULL;
    size_t head;
    uint8_t *o;

    if (k == NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "encryption: no active key");
        return -1;
    }
    /* The compact form, written in place: 0x00, then the envelope. */
    head = 2 + k->label_len + BBS_CRYPT_NONCE_LEN;
    bbs_buf_reserve(out, head + n + BBS_CRYPT_TAG_LEN);
    o = out->data + out->len;
    o[0] = BBS_CRYPT_COMPACT;
    o[1] = (uint8_t)k->label_len;
    memcpy(o + 2, k->label, k->label_len);
    if (gnutls_rnd(GNUTLS_RND_NONCE, o + 2 + k->label_len, BBS_CRYPT_NONCE_LEN) != 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "encryption: no random nonce");
        return -1;
    }
    gcm_seal(k, o + 2 + k->label_len, pt, n, o + head);
    out->len += head + n + BBS_CRYPT_TAG_LEN;
    return 0;
}

size_t bbs_crypt_open_max(size_t n)
{
    /* Either form's plaintext is shorter than the stored value. */
    return n;
}

size_t bbs_crypt_open_len(const uint8_t *v, size_t n)
{
    struct bbs_crypt_envelope env;
    size_t len;
    size_t head;
    int hi;
    int lo;

    if (compact_split(v, n, &env) == 0) {
        return env.ct_len - BBS_CRYPT_TAG_LEN;
    }
    if (!bbs_crypt_is_sealed(v, n) || v[0] != '0') {
        return 0;
    }
    /* The envelope's first byte (the label's length) is the top 6 bits of
     * the first base64 character and the top 2 of the second. */
    hi = b64_value(v[2]);
    lo = b64_value(v[3]);
    if (hi < 0 || lo < 0) {
        return 0;
    }
    len = (n - 2) / 4 * 3 - (v[n - 1] == '=') - (v[n - 2] == '=');
    head = 1 + (size_t)(hi << 2 | lo >> 4) + BBS_CRYPT_NONCE_LEN + BBS_CRYPT_TAG_LEN;
    return len > head ? len - head : 0;
}

int bbs_crypt_open_to(const struct bbs_crypt *c, const uint8_t *v, size_t n, uint8_t *out,
                      size_t *out_len, char *label, struct bbs_error *err)
{
    uint8_t stack[2048];
    struct bbs_buf scratch = {0};
    struct bbs_crypt_envelope env;
    const struct crypt_key *k;
    int rc = -1;

    if (label != NULL) {
        label[0] = '\0';
    }
    /* Most base64 values are small: decode them on the stack. */
    if (n / 4 * 3 <= sizeof(stack)) {
        scratch.data = stack;
        scratch.cap = sizeof(stack);
    }
    if (bbs_crypt_parse(v, n, &scratch, &env, err) != 0) {
        goto out;
    }
    if (label != NULL) {
        memcpy(label, env.label, env.label_len);
        label[env.label_len] = '\0';
    }
    k = find_key(c, env.label, env.label_len);
    if (k == NULL) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "encrypted value: no key labelled \"%.*s\"",
                       (int)env.label_len, (const char *)env.label);
        goto out;
    }
    if (gcm_open(k, env.nonce, env.ct, env.ct_len, out) != 0) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE,
                       "encrypted value: does not decrypt with the key labelled \"%s\"", k->label);
        goto out;
    }
    *out_len = env.ct_len - BBS_CRYPT_TAG_LEN;
    rc = 0;
out:
    if (scratch.data != stack) {
        bbs_buf_free(&scratch);
    }
    return rc;
}

int bbs_crypt_open(const struct bbs_crypt *c, const uint8_t *v, size_t n, struct bbs_buf *out,
                   char *label, struct bbs_error *err)
{
    size_t len = 0;

    bbs_buf_reserve(out, bbs_crypt_open_max(n) + 1);
    if (bbs_crypt_open_to(c, v, n, out->data + out->len, &len, label, err) != 0) {
        return -1;
    }
    out->len += len;
    return 0;
}
