/*
 * h_cell.c - /v1/cells/list.r1 (reference 2.9, 12.5): the cell presences
 * Locket holds, as upstream's cell handler answers them.
 *
 * Every presence whose value parses, one per cell_id, in Locket's order
 * (upstream's order is a Go map's, i.e. unspecified). A Locket failure is
 * UnknownError with the gRPC error text and no cells, as upstream
 * (models.ConvertError of the gRPC error). Without Locket configured the
 * answer is an empty list and no error: no cells are known, which is what
 * the server runs with (upstream cannot start without Locket).
 */
#include "bbs/locket.h"
#include "cells.pb-c.h"
#include "handlers.h"

int bbs_h_cells_list(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                     struct bbs_error *err)
{
    Models__CellsResponse *out = bbs_arena_zalloc(req->arena, sizeof(*out));
    struct bbs_cell *cells = NULL;
    size_t n = 0;

    (void)msg;
    models__cells_response__init(out);
    if (req->ctx->locket != NULL &&
        bbs_locket_cells(req->ctx->locket, req->arena, &cells, &n, err) != 0) {
        return -1;
    }
    if (n > 0) {
        out->cells = bbs_arena_zalloc(req->arena, n * sizeof(*out->cells));
    }
    for (size_t i = 0; i < n; i++) {
        out->cells[i] = cells[i].presence;
    }
    out->n_cells = n;
    resp->msg = &out->base;
    return 0;
}
