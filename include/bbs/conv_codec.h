/*
 * conv_codec.h - decoding the stored blobs convergence compares (7.2
 * steps 12, 13): a desired LRP's routes (only the "internal-router"
 * hostnames) and metric tags, an actual row's internal routes and metric
 * tags (encodings in migrations/0001_init.sql). Malformed input decodes
 * as far as it is well-formed; nothing fails. Everything decoded lives in
 * `arena`; the blobs are borrowed only during the call.
 */
#ifndef BBS_CONV_CODEC_H
#define BBS_CONV_CODEC_H

#include "bbs/alrp.h"
#include "bbs/arena.h"
#include "bbs/converge.h"

/* Fill d->hostnames and d->tags from the stored routes and metric tags. */
void bbs_conv_decode_desired(struct bbs_arena *arena, const struct bbs_blob *routes,
                             const struct bbs_blob *tags, struct bbs_conv_desired *d);

/* Fill a->hostnames, a->tags_present and the tag arrays from the stored
 * blobs. `prev` (may be NULL): a row decoded before, whose strings (and
 * hostname array) are shared where equal at the same position instead of
 * copied: an LRP's instances differ in a tag value or two. */
void bbs_conv_decode_actual(struct bbs_arena *arena, const struct bbs_blob *routes,
                            const struct bbs_blob *tags, const struct bbs_conv_actual *prev,
                            struct bbs_conv_actual *a);

#endif /* BBS_CONV_CODEC_H */
