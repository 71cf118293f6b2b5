/*
 * crypt.h - encryption at rest (reference 6.3): the key ring and the
 * envelope of an encrypted column value.
 *
 * A sealed value holds [1 byte L][L bytes key label][12 bytes nonce]
 * [AES-256-GCM ciphertext || 16-byte tag], key = SHA-256(passphrase of
 * that label), a random nonce per value and no additional data, in one of
 * two stored forms:
 *   compact   the byte 0x00, then the envelope as is: what we write;
 *   upstream  the two ASCII characters "02", then the standard base64
 *             (with padding) of the envelope: what upstream writes, read
 *             and opened the same way.
 * Anything else stored in a sealed column is a plain value (written before
 * encryption was configured): no plain value of ours or upstream's starts
 * with 0x00 (protobuf has no field 0; JSON starts with a character). Our
 * own sealed plaintexts start with 0x02 0x00 (upstream's "serialized"
 * format prefix) followed by our column bytes; a plaintext starting with
 * anything else is upstream's JSON (its "encoded" columns), see
 * docs/architecture.md "Encryption at rest".
 *
 * The cipher is Nettle's, GnuTLS's own (no hand-written crypto here); a key ring is
 * immutable once built and safe to share between threads.
 */
#ifndef BBS_CRYPT_H
#define BBS_CRYPT_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/buf.h"
#include "bbs/error.h"

#define BBS_CRYPT_LABEL_MAX 127
#define BBS_CRYPT_NONCE_LEN 12
#define BBS_CRYPT_TAG_LEN   16
/* The first byte of the compact form. */
#define BBS_CRYPT_COMPACT 0x00

struct bbs_crypt;

/* One configured key: label (1..127 bytes) and passphrase. */
struct bbs_crypt_key_cfg {
    const char *label;
    const char *passphrase;
};

/*
 * A key ring of `n` keys, `active` (a label among them) used for new
 * values. n == 0 with active NULL or "" builds a ring that seals nothing
 * (encryption off) and opens nothing. InvalidRequest naming the label on
 * a bad label, a duplicate, or an active label not among the keys.
 */
struct bbs_crypt *bbs_crypt_new(const struct bbs_crypt_key_cfg *keys, size_t n, const char *active,
                                struct bbs_error *err);
void bbs_crypt_free(struct bbs_crypt *c);

/* Sealing on? (a key ring with an active key) */
int bbs_crypt_enabled(const struct bbs_crypt *c);
/* The active label ("" when off). */
const char *bbs_crypt_active_label(const struct bbs_crypt *c);
/* Is `label` (len bytes) a configured key? */
int bbs_crypt_has_label(const struct bbs_crypt *c, const char *label, size_t len);

/* Does a stored value look sealed (0x00 and a second byte, or "02", then
 * padded-base64 length and a base64 character)? Cheap: reads ask it of
 * every blob. */
int bbs_crypt_is_sealed(const uint8_t *v, size_t n);

/*
 * Append to `out` the sealed form of `pt` (n bytes) under the active key,
 * in the compact form.
 * -1 (Unknown) if the cipher fails or encryption is off.
 */
BBS_MUST_CHECK int bbs_crypt_seal(const struct bbs_crypt *c, const uint8_t *pt, size_t n,
                                  struct bbs_buf *out, struct bbs_error *err);

/*
 * Append to `out` the plaintext of sealed value `v` (n bytes). `label`
 * (may be NULL) gets the value's key label, NUL-terminated (128 bytes),
 * whenever the envelope parses, even if opening then fails. -1 with
 * Deserialize when the envelope is malformed, its label is not a
 * configured key, or the tag does not verify (a wrong key).
 */
BBS_MUST_CHECK int bbs_crypt_open(const struct bbs_crypt *c, const uint8_t *v, size_t n,
                                  struct bbs_buf *out, char *label, struct bbs_error *err);

/*
 * The same into `out`, which has room for bbs_crypt_open_max(n) bytes;
 * `*out_len` gets the plaintext's length. No allocation (the read path's
 * form), but for upstream-form values over about 2.7 KB.
 */
size_t bbs_crypt_open_max(size_t n);
/* The exact plaintext length of a sealed value that opens (read from its
 * length, padding and label length, nothing decoded); 0 if it cannot be
 * told, and never more than bbs_crypt_open_max(n). */
size_t bbs_crypt_open_len(const uint8_t *v, size_t n);
BBS_MUST_CHECK int bbs_crypt_open_to(const struct bbs_crypt *c, const uint8_t *v, size_t n,
                                     uint8_t *out, size_t *out_len, char *label,
                                     struct bbs_error *err);

/* The parsed parts of a decoded envelope (borrowed from its bytes). */
struct bbs_crypt_envelope {
    const uint8_t *label;
    size_t label_len;
    const uint8_t *nonce; /* BBS_CRYPT_NONCE_LEN bytes */
    const uint8_t *ct;    /* ciphertext || tag */
    size_t ct_len;        /* >= BBS_CRYPT_TAG_LEN */
};

/*
 * Parse a sealed value into `env`: the compact form in place (`env` points
 * into `v`, `scratch` left empty); the upstream form by stripping "02" and
 * decoding the base64 into `scratch` (reset first; `env` points into it).
 * -1 with Deserialize on any malformation. Pure; the fuzz target's entry.
 */
BBS_MUST_CHECK int bbs_crypt_parse(const uint8_t *v, size_t n, struct bbs_buf *scratch,
                                   struct bbs_crypt_envelope *env, struct bbs_error *err);

/* Standard base64 with padding: append to `out`; decode is strict. */
void bbs_crypt_b64_encode(struct bbs_buf *out, const uint8_t *p, size_t n);
BBS_MUST_CHECK int bbs_crypt_b64_decode(struct bbs_buf *out, const uint8_t *p, size_t n);

#endif /* BBS_CRYPT_H */
