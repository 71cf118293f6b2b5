/*
 * pbw.h - a protobuf wire writer for responses built straight from rows.
 *
 * protobuf-c packs whole structs; list responses instead splice bytes we
 * stored pre-encoded (net info, routes, tags) next to column values, so
 * they are written field by field here. Proto3 rules: scalar fields at
 * their default are not written (use the _always forms for oneof-tracked
 * and NN fields).
 */
#ifndef BBS_PBW_H
#define BBS_PBW_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/buf.h"

enum bbs_pb_wire {
    BBS_PB_VARINT = 0,
    BBS_PB_I64 = 1,
    BBS_PB_LEN = 2,
    BBS_PB_I32 = 5,
};

void bbs_pbw_varint(struct bbs_buf *b, uint64_t v);
void bbs_pbw_tag(struct bbs_buf *b, uint32_t field, enum bbs_pb_wire wt);
/* int32/int64/uint32/bool/enum; skipped when 0 (negative int32 takes 10 bytes). */
void bbs_pbw_int64(struct bbs_buf *b, uint32_t field, int64_t v);
void bbs_pbw_uint64(struct bbs_buf *b, uint32_t field, uint64_t v);
/* Always written, even when 0 (presence-tracked oneof scalars). */
void bbs_pbw_int64_always(struct bbs_buf *b, uint32_t field, int64_t v);
/* Length-delimited; `bbs_pbw_string` skips empty strings. */
void bbs_pbw_string(struct bbs_buf *b, uint32_t field, const char *s);
void bbs_pbw_bytes(struct bbs_buf *b, uint32_t field, const void *p, size_t n);
void bbs_pbw_bytes_always(struct bbs_buf *b, uint32_t field, const void *p, size_t n);
/* Pre-encoded fields, copied as they are. */
void bbs_pbw_raw(struct bbs_buf *b, const void *p, size_t n);

/*
 * Open a length-delimited submessage `field`; returns a mark for
 * bbs_pbw_close(), which writes the length and moves the body into place.
 * The submessage is always written (NN semantics), even when empty.
 */
size_t bbs_pbw_open(struct bbs_buf *b, uint32_t field);
void bbs_pbw_close(struct bbs_buf *b, size_t mark);

/*
 * Copy every length-delimited field of the encoded message `p`/`n` under
 * field number `field` instead of its own (used to move a stored list of
 * map entries or strings to the field number of the message being built).
 * Returns -1 if `p` is not a well-formed sequence of length-delimited
 * fields.
 */
int bbs_pbw_retag(struct bbs_buf *b, uint32_t field, const uint8_t *p, size_t n);

/*
 * Iterate the length-delimited fields of `p`/`n`: on each call sets
 * `*field`, `*data`, `*len` and returns 1; 0 at the end; -1 if malformed.
 * Non-length-delimited fields are skipped. `*pos` starts at 0.
 */
int bbs_pbr_next_len(const uint8_t *p, size_t n, size_t *pos, uint32_t *field, const uint8_t **data,
                     size_t *len);

#endif /* BBS_PBW_H */
