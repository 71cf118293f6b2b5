/*
 * fuzz_crypt.c - the sealed-value envelope (crypt.h) on arbitrary bytes:
 * every blob column read goes through bbs_crypt_is_sealed, and a value
 * that looks sealed through bbs_crypt_parse and bbs_crypt_open, in either
 * stored form (compact, 0x00 + envelope; upstream's, "02" + base64).
 *
 * Properties beyond "no crash, overflow or hang": a parsed envelope lies
 * inside the value (compact) or the decoded bytes with a 1..127-byte label
 * and room for nonce and tag; base64 that decodes re-encodes to the same text (the decoder
 * is strict); opening with a key ring that has the input's label never
 * succeeds on bytes no one sealed (GCM tags do not verify by chance);
 * sealing then opening any input gives it back; bbs_crypt_open_len
 * (the read path's allocation) is the opened length exactly, for every
 * envelope that parses.
 */
#include <stdlib.h>
#include <string.h>

#include "bbs/crypt.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct bbs_crypt_key_cfg keys[] = {{"k", "fuzz"}};
    struct bbs_crypt *c = bbs_crypt_new(keys, 1, "k", NULL);
    struct bbs_buf scratch = {0};
    struct bbs_buf again = {0};
    struct bbs_buf sealed = {0};
    struct bbs_buf pt = {0};
    struct bbs_crypt_envelope env;
    struct bbs_error err = {0};

    if (c == NULL) {
        abort();
    }
    (void)bbs_crypt_is_sealed(data, size);
    if (bbs_crypt_parse(data, size, &scratch, &env, &err) == 0) {
        int compact = data[0] == BBS_CRYPT_COMPACT;
        const uint8_t *start = compact ? data + 2 : scratch.data + 1;
        const uint8_t *end = compact ? data + size : scratch.data + scratch.len;

        if (!bbs_crypt_is_sealed(data, size) || env.label_len < 1 ||
            env.label_len > BBS_CRYPT_LABEL_MAX || env.label != start ||
            env.nonce != env.label + env.label_len || env.nonce + BBS_CRYPT_NONCE_LEN > end ||
            env.ct_len < BBS_CRYPT_TAG_LEN || env.ct + env.ct_len != end ||
            bbs_crypt_open_len(data, size) != env.ct_len - BBS_CRYPT_TAG_LEN ||
            (compact && scratch.len != 0)) {
            abort();
        }
        if (!compact) {
            bbs_crypt_b64_encode(&again, scratch.data, scratch.len);
            if (again.len != size - 2 || memcmp(again.data, data + 2, again.len) != 0) {
                abort(); /* strict base64: one text per byte string */
            }
        }
        if (bbs_crypt_open(c, data, size, &pt, NULL, &err) == 0) {
            abort();
        }
    }
    pt.len = 0;
    if (bbs_crypt_seal(c, data, size, &sealed, &err) != 0 ||
        !bbs_crypt_is_sealed(sealed.data, sealed.len) ||
        bbs_crypt_open(c, sealed.data, sealed.len, &pt, NULL, &err) != 0 || pt.len != size ||
        bbs_crypt_open_len(sealed.data, sealed.len) != size ||
        (size > 0 && memcmp(pt.data, data, size) != 0)) {
        abort();
    }
    bbs_buf_free(&scratch);
    bbs_buf_free(&again);
    bbs_buf_free(&sealed);
    bbs_buf_free(&pt);
    bbs_crypt_free(c);
    return 0;
}
