/*
 * locket.h - the BBS's client of Locket (reference-2 section 12): cell
 * presences, read over gRPC (HTTP/2, mutual TLS) with libcurl.
 *
 * Calls are synchronous with a timeout (communication_timeout) and safe
 * from any thread. A NULL client (no locket_address configured) is valid
 * everywhere: it knows no cells (see each call).
 */
#ifndef BBS_LOCKET_H
#define BBS_LOCKET_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/arena.h"
#include "bbs/error.h"

struct bbs_locket_config {
    const char *address;     /* "host:port" (upstream locket_address) */
    const char *ca_file;     /* locket_ca_cert_file */
    const char *cert_file;   /* locket_client_cert_file */
    const char *key_file;    /* locket_client_key_file */
    int64_t timeout_ns;      /* per call */
};

/* One cell presence (reference 2.9), strings living in the caller's arena. */
struct bbs_cell {
    const char *cell_id;
    const char *rep_address;
    const char *rep_url; /* "" for an old rep without one */
    const char *zone;
    /* The decoded models.CellPresence (ProtobufCMessage *), for /v1/cells/list.r1. */
    void *presence;
};

struct bbs_locket;

/* A client for `cfg` (copied); NULL with err on bad TLS files. */
struct bbs_locket *bbs_locket_new(const struct bbs_locket_config *cfg, struct bbs_error *err);
void bbs_locket_free(struct bbs_locket *l);

/*
 * FetchAll(type presence): every cell whose value parses as a cell
 * presence (others are skipped). Locket's NotFound = zero cells, 0.
 * Any other failure: -1 (UnknownError). With a NULL client: -1 with
 * UnknownError "locket not configured" (callers that tolerate no Locket
 * check for NULL first).
 */
BBS_MUST_CHECK int bbs_locket_cells(struct bbs_locket *l, struct bbs_arena *arena,
                                    struct bbs_cell **out, size_t *n, struct bbs_error *err);

/*
 * Fetch(key = cell_id): 0 and `*out` filled when found; 1 when Locket
 * answers NotFound (or the value does not parse); -1 on any other error.
 * A NULL client answers 1 (every cell is unknown).
 */
BBS_MUST_CHECK int bbs_locket_cell(struct bbs_locket *l, struct bbs_arena *arena,
                                   const char *cell_id, struct bbs_cell *out,
                                   struct bbs_error *err);

#endif /* BBS_LOCKET_H */
