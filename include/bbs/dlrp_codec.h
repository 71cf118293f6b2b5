/*
 * dlrp_codec.h - DesiredLRP rows: split a request into column values, and
 * build read responses (full V3 / V2, scheduling info, routing info) from
 * them.
 *
 * A desired_lrps row keeps what an update may change, and what reads filter
 * or schedule on, in columns; everything else is one pre-encoded
 * `run_info` blob: a DesiredLRP message holding only the immutable fields.
 * Column fields and run-info fields are disjoint, so a full DesiredLRP is
 * the column fields written with the wire writer followed by the run_info
 * bytes verbatim. Blob encodings (migrations/0001_init.sql):
 *   routes            ProtoRoutes message, each JSON value canonicalised
 *                     (routejson.h), entries sorted by key, last duplicate
 *                     winning
 *   volume_placement  VolumePlacement message (driver of each volume mount)
 *   placement_tags    repeated string field 1
 *   metric_tags       map entries {1 key, 2 MetricTagValue} as field 1,
 *                     sorted by key, last duplicate winning
 *
 * Pure apart from arena allocation: no I/O, clock or logging. What this
 * module does not do: validate (validate.h), choose the modification tag
 * epoch or the creation time (the store and the handler do).
 */
#ifndef BBS_DLRP_CODEC_H
#define BBS_DLRP_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/alrp.h"
#include "bbs/arena.h"
#include "bbs/buf.h"
#include "bbs/change.h"
#include "bbs/dlrp.h"
#include "bbs/error.h"
#include "desired_lrp.pb-c.h"

/* What a read returns for each row. */
enum bbs_dlrp_view {
    BBS_DLRP_VIEW_V3,      /* DesiredLRP as stored (list.r3, get.r3) */
    BBS_DLRP_VIEW_V2,      /* DesiredLRP down-converted to V2 (5.8) */
    BBS_DLRP_VIEW_SCHED,   /* DesiredLRPSchedulingInfo */
    BBS_DLRP_VIEW_ROUTING, /* DesiredLRP with the routing fields only (5.7) */
    /* Events (2.10): as stored, without the metrics_guid / source_id fill
     * of 5.7 (upstream's events carry the database's DesiredLRP). */
    BBS_DLRP_VIEW_EVENT_V3,
    BBS_DLRP_VIEW_EVENT_V0, /* the same down-converted to V0 (5.8) */
};

/*
 * Split a validated DesiredLRP into `out`, with modification tag index 0,
 * an empty epoch (the store picks it) and created_at = `now_ns`. `lrp` is
 * borrowed; strings of `out` point into it, blobs into `arena`. Ports are
 * de-duplicated keeping the first occurrence. A route value that is not
 * valid JSON gives -1 with InvalidRequest (canonical message).
 */
BBS_MUST_CHECK int bbs_dlrp_split(struct bbs_arena *arena, const Models__DesiredLRP *lrp,
                                  int64_t now_ns, struct bbs_dlrp_row *out, struct bbs_error *err);

/*
 * The stored form of a routes map (see the file comment). `routes` NULL
 * encodes as the empty map. Invalid JSON in any value: -1, InvalidRequest.
 */
BBS_MUST_CHECK int bbs_dlrp_encode_routes(struct bbs_arena *arena,
                                          const Models__ProtoRoutes *routes, struct bbs_blob *out,
                                          struct bbs_error *err);

/* One metric tag; `value` NULL encodes as an empty MetricTagValue. */
struct bbs_dlrp_tag {
    const char *key;
    const Models__MetricTagValue *value;
};

/* The stored form of a metric tag map (sorted, last duplicate wins). */
struct bbs_blob bbs_dlrp_encode_metric_tags(struct bbs_arena *arena,
                                            const struct bbs_dlrp_tag *tags, size_t n);

/*
 * Return `run_info` with image_username / image_password replaced by the
 * update's values where its oneofs are set (5.4). -1 with Deserialize if
 * the stored blob does not decode.
 */
BBS_MUST_CHECK int bbs_dlrp_set_image_credentials(struct bbs_arena *arena,
                                                  const struct bbs_blob *run_info,
                                                  const Models__DesiredLRPUpdate *u,
                                                  struct bbs_blob *out, struct bbs_error *err);

/*
 * The three encoders above as the core's update rules take them
 * (bbs_dlrp_apply_update in dlrp.h): whoever applies an update, the store
 * or a test, passes this table.
 */
extern const struct bbs_dlrp_update_codec bbs_dlrp_update_codec;

/*
 * Append `row` in `view` as length-delimited field `field` of the message
 * being built in `b`. Full views (V3, V2) apply the metrics_guid /
 * source_id fill of 5.7. Returns -1 (with `b` unchanged) when a stored
 * blob is malformed; the caller skips the row. `arena` is scratch for V2.
 */
BBS_MUST_CHECK int bbs_dlrp_put(struct bbs_buf *b, uint32_t field, struct bbs_arena *arena,
                                const struct bbs_dlrp_row *row, enum bbs_dlrp_view view);

/*
 * A read's DesiredLRP rows as a view: `get` decodes row i (< n) into
 * `out`, borrowing from wherever the rows live (a database result the
 * request owns), so a list encodes without copying rows.
 */
struct bbs_dlrp_rows {
    size_t n;
    const void *src;
    void (*get)(const void *src, size_t i, struct bbs_dlrp_row *out);
};

/*
 * bbs_dlrp_put() for every row of `rows`; returns how many were written.
 * A row whose blobs are malformed is left out; `*n_skipped` counts them
 * and `*first_skipped` (may be NULL) names the first one's process guid,
 * for the caller to log.
 */
size_t bbs_dlrp_put_rows(struct bbs_buf *b, uint32_t field, struct bbs_arena *arena,
                         const struct bbs_dlrp_rows *rows, enum bbs_dlrp_view view,
                         size_t *n_skipped, const char **first_skipped);

/*
 * V3 -> V2 in place (5.8): SHARED image layers become cached dependencies
 * (prepended), EXCLUSIVE ones download actions run before `setup`;
 * image_layers is cleared. New nodes come from `arena`.
 */
void bbs_dlrp_to_v2(struct bbs_arena *arena, Models__DesiredLRP *lrp);

/*
 * V2 -> V0 in place (5.8): TimeoutActions of action, setup and monitor get
 * deprecated_timeout_ns (EmitProgress and Try wrappers are dropped, as
 * upstream's walk does), deprecated_start_timeout_s is set, cached
 * dependencies become download actions run before `setup`. New nodes
 * come from `arena`.
 */
void bbs_dlrp_to_v0(struct bbs_arena *arena, Models__DesiredLRP *lrp);

/*
 * Fill everything of `*out` except indices/n_indices from `row` (9.1).
 * Placement tags and volume drivers are NULL when there are none (JSON
 * null); strings are borrowed from `row` and `arena`. -1 when a stored
 * blob is malformed.
 */
BBS_MUST_CHECK int bbs_dlrp_auction_start(struct bbs_arena *arena, const struct bbs_dlrp_row *row,
                                          struct bbs_auction_start *out);

#endif /* BBS_DLRP_CODEC_H */
