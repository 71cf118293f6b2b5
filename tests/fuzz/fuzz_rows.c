/*
 * fuzz_rows.c - composing responses from stored blobs (codec.h,
 * dlrp_codec.h, pbw.h) when the blobs are arbitrary bytes.
 *
 * The server stores pre-encoded protobuf blobs (net info, routes, tags,
 * run info) and splices them into responses without re-parsing the whole
 * message. A row damaged in the database, or written by a buggy older
 * version, must make a request fail (or be skipped), never crash the
 * server. Input: byte 0 picks which blob field the rest fills; the rest
 * is split at 0xFF 0xFF into up to four blobs.
 */
#include <stdlib.h>
#include <string.h>

#include "bbs/alrp.h"
#include "bbs/arena.h"
#include "bbs/buf.h"
#include "bbs/codec.h"
#include "bbs/dlrp_codec.h"
#include "bbs/pbw.h"
#include "fuzz.h"

#define NOW_NS INT64_C(1700000000000000000)

struct pieces {
    struct bbs_blob b[4];
    size_t n;
};

static void split(const uint8_t *p, size_t n, struct pieces *out)
{
    size_t start = 0;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i + 1 < n && out->n < 3; i++) {
        if (p[i] == 0xff && p[i + 1] == 0xff) {
            out->b[out->n++] = (struct bbs_blob){p + start, i - start, 1};
            start = i + 2;
            i++;
        }
    }
    out->b[out->n++] = (struct bbs_blob){p + start, n - start, 1};
}

static void walk(const struct bbs_blob *b)
{
    struct bbs_buf out = {0};
    size_t pos = 0;
    uint32_t field;
    const uint8_t *d;
    size_t len;
    size_t total = 0;
    int rc;

    while ((rc = bbs_pbr_next_len(b->data, b->len, &pos, &field, &d, &len)) == 1) {
        if (d < b->data || d + len > b->data + b->len || pos > b->len) {
            abort();
        }
        total += len;
    }
    if (pos > b->len || total > b->len) {
        abort();
    }
    if (bbs_pbw_retag(&out, 3, b->data, b->len) != rc) {
        abort(); /* retag accepts exactly what the iterator accepts */
    }
    bbs_buf_free(&out);
}

static void actual(struct bbs_arena *arena, const struct pieces *pc, unsigned sel)
{
    struct bbs_alrp a;
    struct bbs_buf out = {0};
    struct bbs_error err = {0};

    memset(&a, 0, sizeof(a));
    a.key = (struct bbs_alrp_key){"guid", 1, "domain"};
    a.instance = (struct bbs_instance_key){"ig", "cell"};
    a.state = (enum bbs_alrp_state)(sel % 4);
    a.presence = (enum bbs_presence)((sel >> 2) % 3);
    a.crash_reason = "";
    a.placement_error = "";
    a.availability_zone = "";
    a.mod_epoch = "e";
    a.net_info = pc->b[0];
    a.internal_routes = pc->n > 1 ? pc->b[1] : (struct bbs_blob){NULL, 0, 0};
    a.metric_tags = pc->n > 2 ? pc->b[2] : (struct bbs_blob){NULL, 0, 0};
    bbs_codec_put_alrp(&out, 2, &a);
    /* Whatever was spliced in, the wrapper itself must be well formed. */
    {
        size_t pos = 0;
        uint32_t field;
        const uint8_t *d;
        size_t len;

        if (bbs_pbr_next_len(out.data, out.len, &pos, &field, &d, &len) != 1 || field != 2 ||
            pos != out.len) {
            abort();
        }
    }
    (void)bbs_codec_decode(arena, &models__actual_lrp__descriptor, out.data, out.len, &err);
    bbs_buf_free(&out);
}

static void desired(struct bbs_arena *arena, const struct pieces *pc, unsigned sel)
{
    static const enum bbs_dlrp_view views[] = {BBS_DLRP_VIEW_V3, BBS_DLRP_VIEW_V2,
                                               BBS_DLRP_VIEW_SCHED, BBS_DLRP_VIEW_ROUTING};
    struct bbs_dlrp_row r;
    struct bbs_blob *slots[5];
    struct bbs_auction_start start;
    Models__DesiredLRPUpdate u = MODELS__DESIRED_LRPUPDATE__INIT;
    struct bbs_blob creds;
    struct bbs_error err = {0};

    memset(&r, 0, sizeof(r));
    r.process_guid = "guid";
    r.domain = "d";
    r.log_guid = "";
    r.annotation = "";
    r.rootfs = "preloaded:x";
    r.metrics_guid = "";
    r.mod_epoch = "e";
    r.instances = 2;
    slots[0] = &r.run_info;
    slots[1] = &r.routes;
    slots[2] = &r.metric_tags;
    slots[3] = &r.placement_tags;
    slots[4] = &r.volume_placement;
    for (size_t i = 0; i < pc->n; i++) {
        *slots[(sel + i) % 5] = pc->b[i];
    }
    for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
        struct bbs_buf out = {0};

        /* A damaged blob may fail the compose; it must not do more. */
        if (bbs_dlrp_put(&out, 2, arena, &r, views[i]) != 0) {
            out.len = 0;
        }
        bbs_buf_free(&out);
    }
    if (bbs_dlrp_auction_start(arena, &r, &start) != 0) {
        memset(&start, 0, sizeof(start));
    }
    u.optional_image_username_case =
        MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_USERNAME_IMAGE_USERNAME;
    u.image_username = (char *)"user";
    if (bbs_dlrp_set_image_credentials(arena, &r.run_info, &u, &creds, &err) != 0) {
        memset(&creds, 0, sizeof(creds));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bbs_arena *arena;
    struct pieces pc;

    if (size < 1) {
        return 0;
    }
    arena = bbs_arena_new();
    split(data + 1, size - 1, &pc);
    for (size_t i = 0; i < pc.n; i++) {
        walk(&pc.b[i]);
    }
    actual(arena, &pc, data[0]);
    desired(arena, &pc, data[0]);
    bbs_arena_free(arena);
    return 0;
}
