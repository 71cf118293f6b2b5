/*
 * locket.h - the BBS's client of Locket (reference-2 section 12): cell
 * presences, read over gRPC (HTTP/2, mutual TLS) with libcurl.
 *
 * Calls are synchronous with a timeout (communication_timeout) and safe
 * from any thread: each call borrows an idle curl handle from a small pool
 * (so its HTTP/2 connection is reused) or makes a new one. A NULL client
 * (no locket_address configured) is valid everywhere: it knows no cells
 * (see each call).
 */
#ifndef BBS_LOCKET_H
#define BBS_LOCKET_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "bbs/arena.h"
#include "bbs/buf.h"
#include "bbs/cell.h"
#include "bbs/error.h"

struct bbs_locket_config {
    const char *address;       /* "host:port" (upstream locket_address) */
    const char *ca_file;       /* locket_ca_cert_file */
    const char *cert_file;     /* locket_client_cert_file */
    const char *key_file;      /* locket_client_key_file */
    int64_t timeout_ns;        /* per call */
    size_t max_response_bytes; /* larger answers fail (ResourceExhausted); 0 = 64 MiB */
};

struct bbs_locket;

/*
 * A client for `cfg` (copied). All four of address, ca_file, cert_file
 * and key_file are required; the files must load (certificate matching
 * its key, a CA). NULL with err (InvalidRequest naming the problem)
 * otherwise. Nothing is dialled here: the first call connects.
 */
struct bbs_locket *bbs_locket_new(const struct bbs_locket_config *cfg, struct bbs_error *err);

/* Close the pooled connections and free. Accepts NULL. */
void bbs_locket_free(struct bbs_locket *l);

/*
 * FetchAll(type presence): every cell whose value parses as a cell
 * presence (others are skipped and logged), one per cell_id (the last
 * resource wins, as upstream's map), in Locket's order. `*out` is an
 * array in `arena` (NULL when n = 0). Locket's NotFound = zero cells, 0.
 * Any other failure: -1 with UnknownError "rpc error: code = <Code> desc
 * = <text>" (the text upstream's handler answers). With a NULL client: -1
 * with UnknownError "locket not configured" (callers that tolerate no
 * Locket check for NULL first).
 */
BBS_MUST_CHECK int bbs_locket_cells(struct bbs_locket *l, struct bbs_arena *arena,
                                    struct bbs_cell **out, size_t *n, struct bbs_error *err);

/*
 * Fetch(key = cell_id): 0 and `*out` filled when found; 1 when Locket
 * answers NotFound (or the value does not parse); -1 on any other error
 * (UnknownError as bbs_locket_cells). A NULL client answers 1 (every cell
 * is unknown).
 */
BBS_MUST_CHECK int bbs_locket_cell(struct bbs_locket *l, struct bbs_arena *arena,
                                   const char *cell_id, struct bbs_cell *out,
                                   struct bbs_error *err);

/*
 * One unary call of `method` ("Lock", "Fetch", "Release", "FetchAll") of
 * models.Locket with request `req`; the answer is unpacked as `resp_desc`
 * into `arena`. Returns 0 with `*resp` on grpc-status 0; otherwise -1,
 * `*status` = the gRPC code (enum bbs_grpc_code: transport failures are
 * Unavailable or DeadlineExceeded, as gRPC reports them; an answer over
 * max_response_bytes is ResourceExhausted, one that does not unpack
 * Internal) and err UnknownError "rpc error: code = <Code> desc =
 * <text>". For the calls this header does not wrap (Lock/Release, the
 * leadership work).
 */
BBS_MUST_CHECK int bbs_locket_unary(struct bbs_locket *l, const char *method,
                                    const ProtobufCMessage *req,
                                    const ProtobufCMessageDescriptor *resp_desc,
                                    struct bbs_arena *arena, ProtobufCMessage **resp, int *status,
                                    struct bbs_error *err);

/* ---- pieces exposed for the unit tests ------------------------------------------------ */

/* gRPC status codes (grpc/codes). */
enum bbs_grpc_code {
    BBS_GRPC_OK = 0,
    BBS_GRPC_CANCELLED = 1,
    BBS_GRPC_UNKNOWN = 2,
    BBS_GRPC_INVALID_ARGUMENT = 3,
    BBS_GRPC_DEADLINE_EXCEEDED = 4,
    BBS_GRPC_NOT_FOUND = 5,
    BBS_GRPC_ALREADY_EXISTS = 6,
    BBS_GRPC_PERMISSION_DENIED = 7,
    BBS_GRPC_RESOURCE_EXHAUSTED = 8,
    BBS_GRPC_FAILED_PRECONDITION = 9,
    BBS_GRPC_ABORTED = 10,
    BBS_GRPC_OUT_OF_RANGE = 11,
    BBS_GRPC_UNIMPLEMENTED = 12,
    BBS_GRPC_INTERNAL = 13,
    BBS_GRPC_UNAVAILABLE = 14,
    BBS_GRPC_DATA_LOSS = 15,
    BBS_GRPC_UNAUTHENTICATED = 16,
};

/* grpc-go's name of `code` ("NotFound", "Unavailable", ...); "Unknown" past the table. */
const char *bbs_grpc_code_name(int code);

/* The code gRPC assigns to an HTTP status other than 200 (400 Internal, 401 Unauthenticated,
 * 403 PermissionDenied, 404 Unimplemented, 429/502/503/504 Unavailable, else Unknown). */
int bbs_grpc_code_from_http(long http_status);

/* Append `msg` packed, behind gRPC's 5-byte prefix (flag 0, big-endian length), to `out`. */
void bbs_grpc_frame(const ProtobufCMessage *msg, struct bbs_buf *out);

/*
 * The one length-prefixed message in `body`: 0 with `*msg`/`*msg_len`
 * pointing into `body`; -1 with err (UnknownError) when the prefix is
 * short, the length disagrees with `len`, or the compressed flag is set.
 */
BBS_MUST_CHECK int bbs_grpc_unframe(const uint8_t *body, size_t len, const uint8_t **msg,
                                    size_t *msg_len, struct bbs_error *err);

/*
 * The grpc-timeout header line for a deadline of `ms` milliseconds: at
 * most 8 digits then a unit (gRPC's limit), so "grpc-timeout: <ms>m" up
 * to 99999999 ms and whole seconds, rounded up, above ("<s>S", capped).
 */
void bbs_grpc_timeout_header(long ms, char *out, size_t size);

/* Undo grpc-message's percent-encoding (%XX) into `out` (`size` > 0; truncated to fit). */
void bbs_grpc_message_decode(const char *in, char *out, size_t size);

#endif /* BBS_LOCKET_H */
