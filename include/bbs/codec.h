/*
 * codec.h - protobuf encode/decode between wire messages and our rows.
 *
 * Encoders write straight into a bbs_buf from core structs whose blobs are
 * already protobuf bytes, so list responses are built without building
 * protobuf-c structs per row: the list encoders walk a row view (group.h)
 * and encode each row from where it lives. Decoders unpack into the
 * request arena. Pure: no I/O or logging.
 */
#ifndef BBS_CODEC_H
#define BBS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "actual_lrp.pb-c.h"
#include "bbs/alrp.h"
#include "bbs/arena.h"
#include "bbs/buf.h"
#include "bbs/error.h"
#include "bbs/group.h"

/* Append `a` as ActualLRP submessage `field`. */
void bbs_codec_put_alrp(struct bbs_buf *b, uint32_t field, const struct bbs_alrp *a);

/* Rows a list encoder left out because they could not be read. */
struct bbs_codec_skipped {
    size_t n;
    struct bbs_alrp_key first; /* the first one (n > 0), borrowed from the rows */
};

/*
 * Append every readable row of `rows` as ActualLRP field `field`
 * (ActualLRPsResponse.actual_lrps). Unreadable rows are left out and
 * counted in `*skipped` (zeroed first), for the caller to log.
 */
void bbs_codec_put_alrps(struct bbs_buf *b, uint32_t field, const struct bbs_alrp_rows *rows,
                         struct bbs_codec_skipped *skipped);

/*
 * Fold `rows` (ordered by guid, index) into ActualLRPGroups (group.h)
 * appended as field `field`, each {1 instance, 2 evacuating}; returns how
 * many groups were written. Unreadable rows as for bbs_codec_put_alrps.
 */
size_t bbs_codec_put_groups(struct bbs_buf *b, uint32_t field, const struct bbs_alrp_rows *rows,
                            struct bbs_codec_skipped *skipped);

/* Append each of `n` strings as string field `field`, empty ones too. */
void bbs_codec_put_strings(struct bbs_buf *b, uint32_t field, const char *const *strs, size_t n);

/* Append an Error submessage as field 1 (the `error` of every response). */
void bbs_codec_put_error(struct bbs_buf *b, const struct bbs_error *err);

/*
 * Unpack `len` bytes as message `d` into `arena`. NULL when the bytes are
 * not a valid encoding (err: InvalidRequest, canonical message). Unknown
 * fields are dropped, so nothing a client invents is ever stored.
 */
ProtobufCMessage *bbs_codec_decode(struct bbs_arena *arena, const ProtobufCMessageDescriptor *d,
                                   const uint8_t *data, size_t len, struct bbs_error *err);

/* Drop unknown fields recursively (protobuf-c keeps them for re-encoding). */
void bbs_codec_strip_unknown(ProtobufCMessage *m);

/* Pack `m` into arena memory; `*len` gets the size. */
uint8_t *bbs_codec_pack(struct bbs_arena *arena, const ProtobufCMessage *m, size_t *len);

/* Encode a request's net info as stored (an absent one encodes as empty). */
struct bbs_blob bbs_codec_net_info(struct bbs_arena *arena, const Models__ActualLRPNetInfo *n);

/*
 * Encode internal routes as ActualLRP field-11 entries. `present` is the
 * stored presence: 0 (NULL column) or 1 (a list, maybe empty).
 */
struct bbs_blob bbs_codec_internal_routes(struct bbs_arena *arena,
                                          Models__ActualLRPInternalRoute *const *routes, size_t n,
                                          int present);

/*
 * Encode a string map as ActualLRP field-12 entries, sorted by key with
 * the last duplicate winning (so equal maps give equal bytes). Sorts
 * `entries` in place.
 */
struct bbs_kv {
    const char *key;
    const char *value;
};
struct bbs_blob bbs_codec_string_map(struct bbs_arena *arena, struct bbs_kv *entries, size_t n,
                                     int present);

#endif /* BBS_CODEC_H */
