/*
 * respond.h - private to the HTTP target: queueing answers, error bodies
 * and the request log line.
 */
#ifndef BBS_HTTP_RESPOND_H
#define BBS_HTTP_RESPOND_H

#include <stdint.h>

#include <microhttpd.h>

#include "bbs/arena.h"
#include "bbs/buf.h"
#include "bbs/error.h"
#include "routes.h"
#include "server.h"

#define BBS_PROTOBUF_TYPE "application/x-protobuf"
#define BBS_JSON_TYPE     "application/json"

/*
 * Queue `body` (taken: emptied, its memory handed to libmicrohttpd) with
 * `status`, Content-Type `type` and, when non-NULL, an Allow header. Clears
 * the connection's read deadline; while draining adds Connection: close.
 */
enum MHD_Result bbs_respond_queue(struct bbs_http *h, struct MHD_Connection *conn, unsigned status,
                                  const char *type, struct bbs_buf *body, const char *allow);

/*
 * Streamed list answers (routes.h, struct bbs_resp_stream).
 *
 * bbs_respond_stream_admit: may one more streamed answer start? Each holds
 * a database connection until it is sent, so at most half of
 * max_open_database_connections (at least 1) are streamed at once; past
 * that, answer through bbs_respond_stream_drain. Admitted = counted until
 * the answer's end (bbs_respond_stream queues it, which uncounts it).
 */
int bbs_respond_stream_admit(struct bbs_http *h);

/*
 * Queue `src` (taken) as a 200 answer of type `type` with chunked transfer
 * encoding, written as `src` produces it. When `src` fails after the first
 * byte, or the answer is not sent completely within
 * BBS_LIST_STREAM_MAX_NS, the connection is closed without the last
 * chunk: a reader sees a truncated transfer, never a shorter well-formed
 * list. `path` (static) names the route in the log line of such a cut.
 */
enum MHD_Result bbs_respond_stream(struct bbs_http *h, struct MHD_Connection *conn,
                                   const char *type, const char *path, struct bbs_resp_stream *src,
                                   struct bbs_buf *first);

/*
 * Run `src` until `out` holds at least `limit` bytes or the answer ended.
 * 1: more to come (queue `out` as the first bytes of bbs_respond_stream);
 * 0: the answer is whole in `out` (`src` closed: answer it with a
 * Content-Length, as upstream always does); -1 with `err` (`src` closed,
 * `out` emptied). Small lists thus keep upstream's framing; only answers
 * past `limit` go chunked.
 */
int bbs_respond_stream_prefill(struct bbs_resp_stream *src, struct bbs_buf *out, size_t limit,
                               struct bbs_error *err);
#define BBS_STREAM_PREFILL (256 * 1024)

/* The non-streamed fallback: run `src` (taken, closed) to its end into
 * `out`. -1 with `err` (and `out` emptied) when it failed. */
int bbs_respond_stream_drain(struct bbs_resp_stream *src, struct bbs_buf *out,
                             struct bbs_error *err);

/* How long a streamed answer may take to be sent in full (see above). */
#define BBS_LIST_STREAM_MAX_NS (INT64_C(120) * 1000000000)

/* Queue a plain-text answer (404, 405). */
enum MHD_Result bbs_respond_text(struct bbs_http *h, struct MHD_Connection *conn, unsigned status,
                                 const char *text, const char *allow);

/*
 * Encode the answer of `route` into `out` (emptied first), generically
 * from the route's response descriptor: on success (`err` NULL) the
 * handler's resp->body bytes, or resp->msg, or the empty message, packed
 * with keep_container set when the type has that field; on error the
 * response message with only its `error` field (and keep_container).
 * Fields are written in field-number order, as protobuf-c packs them. A
 * response type without an `error` field (PingResponse, reached only by a
 * 413) gets the Error as field 1, where every other response has it.
 * Takes resp->body; packs into `arena`.
 */
void bbs_respond_encode(const struct bbs_route *route, struct bbs_arena *arena,
                        struct bbs_resp *resp, const struct bbs_error *err, struct bbs_buf *out);

/* The route's response message carrying only `err` (and keep_container from its flags). */
void bbs_respond_error_body(const struct bbs_route *route, struct bbs_arena *arena,
                            const struct bbs_error *err, struct bbs_buf *out);

/*
 * JSON on unary routes (docs/api.md, "JSON"). A request whose
 * Content-Type is application/json has a JSON body (see
 * bbs_respond_json_body); one whose Content-Type or Accept names
 * application/json is answered in JSON. Everything else is protobuf,
 * unchanged.
 */
int bbs_respond_json_body(struct MHD_Connection *conn);
int bbs_respond_json_wanted(struct MHD_Connection *conn);

/*
 * Turn the JSON body of a request for `route` into the protobuf body the
 * route's front end decodes: 0 with *body / *len (arena memory) set, or
 * -1 with err InvalidRequest (bad JSON: its line and column; a wrong
 * type: the field's path). A route without a request message keeps its
 * body unread, as in protobuf.
 */
int bbs_respond_json_request(const struct bbs_route *route, struct bbs_arena *arena,
                             const uint8_t **body, size_t *len, struct bbs_error *err);

/*
 * Re-encode the answer `out` (what bbs_respond_encode wrote) as JSON
 * text, in place: the route's response message as pbjson prints it, so
 * an error answer is {"error": {"type": <name>, "message": ...}} (plus
 * keep_container where the response has it). `err` is the error answered
 * (NULL on success), used only where the response type has no `error`
 * field (PingResponse's 413).
 */
void bbs_respond_to_json(const struct bbs_route *route, const struct bbs_error *err,
                         struct bbs_buf *out);

/*
 * Log one served request (bbs.request.served): route, method, status,
 * duration since `start_ns` (CLOCK_MONOTONIC; in ms, rounded to whole µs), when `err` is
 * non-NULL its type and message, and the request's X-Vcap-Request-Id as
 * upstream's lager logs it (trace.h): field "trace-id", only when the
 * header is a trace id.
 */
void bbs_respond_log(struct MHD_Connection *conn, const char *path, const char *method,
                     unsigned status, int64_t start_ns, const struct bbs_error *err);

#endif /* BBS_HTTP_RESPOND_H */
