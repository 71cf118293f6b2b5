/*
 * fuzz_presence.c - the CellPresence JSON parser (cell.h) on arbitrary
 * bytes: every presence value in Locket goes through it, and reps are not
 * the only writers of Locket.
 *
 * Properties beyond "no crash, overflow or hang": an accepted value gives
 * a CellPresence whose summary fields are its own, that packs, and whose
 * packed form unpacks and packs again to the same bytes (it can travel in
 * a CellsResponse); a refused one is InvalidJSON with a message.
 */
#include <stdlib.h>
#include <string.h>

#include "bbs/cell.h"
#include "cells.pb-c.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bbs_arena *a = bbs_arena_new();
    struct bbs_cell cell;
    struct bbs_error err = {0};
    const Models__CellPresence *p;
    Models__CellPresence *back = NULL;
    uint8_t *packed = NULL;
    uint8_t *again = NULL;
    size_t n;

    if (bbs_cell_presence_parse(a, (const char *)data, size, &cell, &err) != 0) {
        if (err.type != BBS_ERR_INVALID_JSON || err.message[0] == '\0') {
            abort();
        }
        goto done;
    }
    p = cell.presence;
    if (p == NULL || cell.cell_id != p->cell_id || cell.zone != p->zone ||
        cell.rep_address != p->rep_address || cell.rep_url != p->rep_url) {
        abort();
    }
    n = models__cell_presence__get_packed_size(p);
    packed = malloc(n + 1);
    again = malloc(n + 1);
    if (packed == NULL || again == NULL) {
        abort();
    }
    if (models__cell_presence__pack(p, packed) != n) {
        abort();
    }
    back = models__cell_presence__unpack(NULL, n, packed);
    if (back == NULL || strcmp(back->cell_id, p->cell_id) != 0) {
        abort();
    }
    if (models__cell_presence__get_packed_size(back) != n ||
        models__cell_presence__pack(back, again) != n || memcmp(packed, again, n) != 0) {
        abort();
    }
done:
    models__cell_presence__free_unpacked(back, NULL);
    free(again);
    free(packed);
    bbs_arena_free(a);
    return 0;
}
