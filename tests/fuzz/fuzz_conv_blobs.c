/*
 * fuzz_conv_blobs.c - the stored-blob decoders of convergence
 * (conv_codec.h) and the drift comparisons of the planner on what they
 * decode.
 *
 * Input: byte 0 splits the rest into the routes blob (first part) and the
 * metric tags blob (second part), each decoded both as a desired LRP's and
 * as an actual row's. The decoded desired LRP and actual row are then
 * planned together (one RUNNING instance on a present cell), which
 * compares their hostnames and resolved tags.
 *
 * Properties beyond "no crash, leak, UB or hang": no more hostnames or
 * tags than the blob has bytes, and a plan has at most one route and one
 * tag update.
 */
#include <stdlib.h>
#include <string.h>

#include "bbs/arena.h"
#include "bbs/conv_codec.h"
#include "bbs/converge.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const cells[] = {"cell"};
    static const char *const fresh[] = {"d"};
    struct bbs_arena *arena;
    struct bbs_blob routes;
    struct bbs_blob tags;
    struct bbs_conv_desired d;
    struct bbs_conv_actual a;
    struct bbs_conv_snapshot snap;
    struct bbs_conv_plan plan;
    size_t split;

    if (size < 1) {
        return 0;
    }
    split = size > 1 ? data[0] % size : 0;
    data++;
    size--;
    if (split > size) {
        split = size;
    }
    arena = bbs_arena_new();
    routes = (struct bbs_blob){data, split, 1};
    tags = (struct bbs_blob){data + split, size - split, 1};
    memset(&d, 0, sizeof(d));
    memset(&a, 0, sizeof(a));
    d.process_guid = "pg";
    d.domain = "d";
    d.instances = 1;
    bbs_conv_decode_desired(arena, &routes, &tags, &d);
    a.process_guid = "pg";
    a.domain = "d";
    a.state = BBS_ALRP_RUNNING;
    a.presence = BBS_PRESENCE_ORDINARY;
    a.cell_id = "cell";
    a.instance_guid = "ig";
    bbs_conv_decode_actual(arena, &routes, &tags, NULL, &a);
    {
        /* Decoded again after itself: shares every string, same values. */
        struct bbs_conv_actual b = a;

        bbs_conv_decode_actual(arena, &routes, &tags, &a, &b);
        if (b.n_hostnames != a.n_hostnames || b.n_tags != a.n_tags ||
            (a.n_hostnames > 0 && b.hostnames != a.hostnames)) {
            abort();
        }
        for (size_t i = 0; i < b.n_tags; i++) {
            if (b.tag_names[i] != a.tag_names[i] || b.tag_values[i] != a.tag_values[i]) {
                abort();
            }
        }
    }
    if (!(d.n_hostnames <= size && a.n_hostnames <= size)) {
        abort();
    }
    if (!(d.n_tags <= size && a.n_tags <= size)) {
        abort();
    }

    memset(&snap, 0, sizeof(snap));
    snap.desired = &d;
    snap.n_desired = 1;
    snap.actual = &a;
    snap.n_actual = 1;
    snap.cells_state = BBS_CONV_CELLS_KNOWN;
    snap.cells = cells;
    snap.n_cells = 1;
    snap.prev_cells = BBS_CONV_PREV_CELLS;
    snap.fresh_domains = fresh;
    snap.n_fresh_domains = 1;
    snap.now_ns = 1;
    bbs_conv_plan(&snap, &plan);
    if (!(plan.route_update.n <= 1 && plan.tag_update.n <= 1)) {
        abort();
    }
    if (!(plan.missing.n == 0 && plan.retire.n == 0)) {
        abort();
    }
    bbs_conv_plan_free(&plan);
    bbs_arena_free(arena);
    return 0;
}
