/*
 * crypt.c - the key ring and the sealed-value envelope (crypt.h).
 *
 * AES-256-GCM and SHA-256 come from GnuTLS. A cipher handle carries
 * per-message state, so one is never used by two threads at once: each
 * key keeps a small pool of handles (taken under a mutex, made on demand,
 * as many as threads ever sealed or opened at the same time), so the key
 * schedule is computed once per handle, not once per value.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "bbs/crypt.h"
#include "bbs/xalloc.h"

struct crypt_key {
    char label[BBS_CRYPT_LABEL_MAX + 1];
    size_t label_len;
    uint8_t key[32];
    pthread_mutex_t mu; /* guards the pool below */
    gnutls_aead_cipher_hd_t *pool;
    size_t n_pool;
    size_t cap_pool;
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
        pthread_mutex_init(&k->mu, NULL);
        if (gnutls_hash_fast(GNUTLS_DIG_SHA256, keys[i].passphrase, strlen(keys[i].passphrase),
                             k->key) != 0) {
            bbs_error_setf(err, BBS_ERR_UNKNOWN, "encryption key \"%s\": SHA-256 failed", k->label);
            goto fail;
        }
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
    return c;
fail:
    bbs_crypt_free(c);
    return NULL;
}

void bbs_crypt_free(struct bbs_crypt *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->n; i++) {
        for (size_t j = 0; j < c->keys[i].n_pool; j++) {
            gnutls_aead_cipher_deinit(c->keys[i].pool[j]);
        }
        free(c->keys[i].pool);
        pthread_mutex_destroy(&c->keys[i].mu);
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

int bbs_crypt_is_sealed(const uint8_t *v, size_t n)
{
    /* The prefix and the shape of padded base64 only: no plain value of
     * ours starts with "02" (docs/architecture.md), and opening checks
     * every character anyway. Reads call this on every blob. */
    return n >= 6 && v[0] == '0' && v[1] == '2' && (n - 2) % 4 == 0 && b64_value(v[2]) >= 0;
}

int bbs_crypt_parse(const uint8_t *v, size_t n, struct bbs_buf *scratch,
                    struct bbs_crypt_envelope *env, struct bbs_error *err)
{
    const uint8_t *d;
    size_t len;
    size_t l;

    scratch->len = 0;
    if (n < 2 || v[0] != '0' || v[1] != '2') {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "encrypted value: no \"02\" prefix");
        return -1;
    }
    if (bbs_crypt_b64_decode(scratch, v + 2, n - 2) != 0) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "encrypted value: not base64");
        return -1;
    }
    d = scratch->data;
    len = scratch->len;
    if (len < 1) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "encrypted value: empty");
        return -1;
    }
    l = d[0];
    if (l < 1 || l > BBS_CRYPT_LABEL_MAX || len < 1 + l + BBS_CRYPT_NONCE_LEN + BBS_CRYPT_TAG_LEN) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "encrypted value: truncated envelope");
        return -1;
    }
    env->label = d + 1;
    env->label_len = l;
    env->nonce = d + 1 + l;
    env->ct = env->nonce + BBS_CRYPT_NONCE_LEN;
    env->ct_len = len - 1 - l - BBS_CRYPT_NONCE_LEN;
    return 0;
}

/* A cipher handle for `k`: from its pool, or a new one. */
static int cipher_take(struct crypt_key *k, gnutls_aead_cipher_hd_t *hd)
{
    gnutls_datum_t key = {k->key, sizeof(k->key)};

    pthread_mutex_lock(&k->mu);
    if (k->n_pool > 0) {
        *hd = k->pool[--k->n_pool];
        pthread_mutex_unlock(&k->mu);
        return 0;
    }
    pthread_mutex_unlock(&k->mu);
    return gnutls_aead_cipher_init(hd, GNUTLS_CIPHER_AES_256_GCM, &key);
}

static void cipher_give(struct crypt_key *k, gnutls_aead_cipher_hd_t hd)
{
    if (hd == NULL) {
        return;
    }
    pthread_mutex_lock(&k->mu);
    if (k->n_pool == k->cap_pool) {
        size_t cap = k->cap_pool > 0 ? 2 * k->cap_pool : 8;
        gnutls_aead_cipher_hd_t *p = realloc(k->pool, cap * sizeof(*p));

        if (p == NULL) {
            pthread_mutex_unlock(&k->mu);
            gnutls_aead_cipher_deinit(hd);
            return;
        }
        k->pool = p;
        k->cap_pool = cap;
    }
    k->pool[k->n_pool++] = hd;
    pthread_mutex_unlock(&k->mu);
}

int bbs_crypt_seal(const struct bbs_crypt *c, const uint8_t *pt, size_t n, struct bbs_buf *out,
                   struct bbs_error *err)
{
    struct crypt_key *k = bbs_crypt_enabled(c) ? (struct crypt_key *)c->active : NULL;
    gnutls_aead_cipher_hd_t hd = NULL;
    struct bbs_buf env = {0};
    size_t ct_len = n + BBS_CRYPT_TAG_LEN;
    size_t head;
    int rc = -1;

    if (k == NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "encryption: no active key");
        return -1;
    }
    head = 1 + k->label_len + BBS_CRYPT_NONCE_LEN;
    bbs_buf_reserve(&env, head + ct_len);
    env.data[0] = (uint8_t)k->label_len;
    memcpy(env.data + 1, k->label, k->label_len);
    if (gnutls_rnd(GNUTLS_RND_NONCE, env.data + 1 + k->label_len, BBS_CRYPT_NONCE_LEN) != 0 ||
        cipher_take(k, &hd) != 0 ||
        gnutls_aead_cipher_encrypt(hd, env.data + 1 + k->label_len, BBS_CRYPT_NONCE_LEN, NULL, 0,
                                   BBS_CRYPT_TAG_LEN, pt, n, env.data + head, &ct_len) != 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "encryption: AES-256-GCM failed");
        goto out;
    }
    env.len = head + ct_len;
    bbs_buf_append(out, "02", 2);
    bbs_crypt_b64_encode(out, env.data, env.len);
    rc = 0;
out:
    if (rc == 0) {
        cipher_give(k, hd);
    } else if (hd != NULL) {
        gnutls_aead_cipher_deinit(hd);
    }
    bbs_buf_free(&env);
    return rc;
}

size_t bbs_crypt_open_max(size_t n)
{
    return n > 2 ? (n - 2) / 4 * 3 : 0;
}

int bbs_crypt_open_to(const struct bbs_crypt *c, const uint8_t *v, size_t n, uint8_t *out,
                      size_t *out_len, char *label, struct bbs_error *err)
{
    uint8_t stack[2048];
    struct bbs_buf scratch = {0};
    struct bbs_crypt_envelope env;
    gnutls_aead_cipher_hd_t hd = NULL;
    struct crypt_key *k = NULL;
    size_t pt_len;
    int rc = -1;

    if (label != NULL) {
        label[0] = '\0';
    }
    /* Most values are small: decode them on the stack. */
    if (bbs_crypt_open_max(n) <= sizeof(stack)) {
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
    k = (struct crypt_key *)find_key(c, env.label, env.label_len);
    if (k == NULL) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE, "encrypted value: no key labelled \"%.*s\"",
                       (int)env.label_len, (const char *)env.label);
        goto out;
    }
    pt_len = env.ct_len - BBS_CRYPT_TAG_LEN;
    if (cipher_take(k, &hd) != 0 ||
        gnutls_aead_cipher_decrypt(hd, env.nonce, BBS_CRYPT_NONCE_LEN, NULL, 0, BBS_CRYPT_TAG_LEN,
                                   env.ct, env.ct_len, out, &pt_len) != 0) {
        bbs_error_setf(err, BBS_ERR_DESERIALIZE,
                       "encrypted value: does not decrypt with the key labelled \"%s\"", k->label);
        goto out;
    }
    *out_len = pt_len;
    rc = 0;
out:
    if (hd != NULL) {
        /* A tag that did not verify leaves the handle reusable (a fresh nonce each call). */
        cipher_give(k, hd);
    }
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
