/*
 * routes.h - private to the HTTP target: the route table and the contract
 * between the front end and a route's handler.
 *
 * A route is one row of the table in routes.c: path, method, kind, request
 * and response message descriptors, validator, handler, flags. For every
 * route the front end (bbs_route_run, then bbs_respond_encode) decodes the
 * body into the request arena (invalid encoding: InvalidRequest), runs the
 * validator (problems: InvalidRequest with the problems joined, as
 * upstream), calls the handler with the decoded message, and encodes the
 * answer, writing the response's `error` and `keep_container` fields
 * itself. A handler is only the decision. A new route is one row plus its
 * handler.
 */
#ifndef BBS_HTTP_ROUTES_H
#define BBS_HTTP_ROUTES_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "bbs/arena.h"
#include "bbs/buf.h"
#include "bbs/error.h"
#include "bbs/http.h"
#include "bbs/validate.h"

struct bbs_stream;

enum bbs_route_kind {
    BBS_ROUTE_UNARY,  /* protobuf request, one protobuf answer (HTTP 200, error inside) */
    BBS_ROUTE_STREAM, /* a long-lived answer (server-sent events): see stream.h */
    BBS_ROUTE_JSON,   /* operator JSON (GET, no body): the handler writes JSON text into
                         resp->body; answered 200 application/json (h_diag.c) */
};

enum bbs_route_flags {
    /* A decode or validation failure answers keep_container = true (evacuate_claimed and
     * evacuate_running: a cell must not drop a container it may still be asked to keep). */
    BBS_ROUTE_KEEP_ON_ERROR = 1,
    /* With handler threads (http_handler_threads > 0) the connection's I/O thread runs the
     * handler first with req->quick set (server.c): it answers what needs no wait (the start
     * that repeats what is stored), returns BBS_ROUTE_WAIT while its read waits behind
     * another, and BBS_ROUTE_HAND_OVER for the rest. */
    BBS_ROUTE_QUICK_FIRST = 2,
};

/*
 * A handler's return with req->quick set when it cannot answer without a
 * wait (a lock, a write, no idle database connection): it has done
 * nothing that shows, and the request goes to a handler thread, which
 * runs it again from the start with req->quick clear.
 */
#define BBS_ROUTE_HAND_OVER 1
/*
 * A handler's return with req->quick set when it has queued a read that
 * will answer through req->wait_done, from another thread: it has done
 * nothing that shows; the connection waits without holding its I/O
 * thread, and the handler is run again with req->waited set and the
 * read's answer in req->wait_answer.
 */
#define BBS_ROUTE_WAIT 2

/* What a handler gets about its request; everything borrowed for the request's life. */
struct bbs_req {
    struct bbs_arena *arena;
    const uint8_t *body;
    size_t len;
    const char *trace_id;      /* X-Vcap-Request-Id, "" when absent */
    const char *last_event_id; /* Last-Event-ID (stream routes), NULL when absent */
    struct bbs_ctx *ctx;
    /* BBS_ROUTE_STREAM only: the stream to register with a producer (stream.h); the
     * handler borrows it and takes a reference (bbs_stream_ref) to keep it. NULL otherwise. */
    struct bbs_stream *stream;
    /* BBS_ROUTE_QUICK_FIRST only: run on the I/O thread; answer only what needs no wait. */
    int quick;
    /* Set by a quick run that handed over after reading that the request changes state;
     * the handed-over run sees it (and need not read that again). */
    int known_change;
    /* BBS_ROUTE_QUICK_FIRST only: the callback that ends a BBS_ROUTE_WAIT (any thread), and
     * in the run after it, `waited` set with the answer it was given. */
    void (*wait_done)(void *ud, int answer);
    void *wait_ud;
    int waited;
    int wait_answer;
};

/*
 * A handler's answer, zeroed by the front end (keep_container preset from
 * the route's flags). On success a handler fills at most one of:
 *   msg  - a message of the route's response type (arena memory), packed
 *          by the front end;
 *   body - the encoded message without its error field, written by the
 *          codec straight from the store's row views (lists).
 * With neither, the answer is the empty response message. keep_container
 * is written (success or error) when the response type has that field.
 * On error msg and body are ignored.
 */
/*
 * A list answer written as it is produced (respond.c, bbs_respond_stream):
 * `fill` appends the next bytes of the encoded message (without its error
 * field) to `out`, a few tens of KB at a time; returns 1 while more may
 * come, 0 after the last bytes (possibly none), -1 with `err` when the
 * answer cannot be completed. `close` (always called once, also when the
 * client left early) releases `ctx`. Neither may use the request's arena:
 * they run after the handler returned, up to when the answer is sent.
 */
struct bbs_resp_stream {
    int (*fill)(void *ctx, struct bbs_buf *out, struct bbs_error *err);
    void (*close)(void *ctx);
    void *ctx;
};

struct bbs_resp {
    ProtobufCMessage *msg;
    struct bbs_buf body;
    int keep_container;
    struct bbs_resp_stream stream; /* fill != NULL: the answer instead of msg and body */
};

/*
 * The decision for one request: `msg` is the decoded, validated request
 * (NULL for routes without a request descriptor). Returns 0 with `resp`
 * filled, or -1 with `err` (the front end answers the route's response
 * message with it).
 */
typedef int (*bbs_route_handler)(struct bbs_req *req, const ProtobufCMessage *msg,
                                 struct bbs_resp *resp, struct bbs_error *err);

/* Append the problems of `msg` to `p`; returns how many (validate.h's contract). */
typedef int (*bbs_route_validator)(const ProtobufCMessage *msg, struct bbs_problems *p);

struct bbs_route {
    const char *path;
    const char *method; /* "POST"; "GET" for the deprecated event routes */
    enum bbs_route_kind kind;
    const ProtobufCMessageDescriptor *request;  /* NULL: the body is not read */
    const ProtobufCMessageDescriptor *response; /* its `error` and `keep_container` fields are
                                                   written by the front end */
    bbs_route_validator validate;               /* NULL: no checks */
    bbs_route_handler handler;
    unsigned flags; /* enum bbs_route_flags */
};

/*
 * The row for `path` and `method`, or NULL. When NULL, `allow` (of `len`
 * bytes) holds the methods the table has for `path`, joined with ", "
 * ("" = the path is not routed: 404; otherwise 405 with Allow: `allow`).
 */
const struct bbs_route *bbs_route_find(const char *path, const char *method, char *allow,
                                       size_t len);

/* Row `i` of the table, or NULL past its end (discover lists them). */
const struct bbs_route *bbs_route_at(size_t i);

/* The row number of `route` (a row of the table) in the table: its metrics series. */
size_t bbs_route_index(const struct bbs_route *route);

/* 1 when the table has a route of `kind`. */
int bbs_route_any(enum bbs_route_kind kind);

/*
 * The front end for one request: decode req->body as route->request,
 * validate, call the handler. Returns 0 with `resp` filled, or -1 with
 * `err` (InvalidRequest for decoding and validation, else the handler's).
 * resp->keep_container is preset from BBS_ROUTE_KEEP_ON_ERROR.
 */
int bbs_route_run(const struct bbs_route *route, struct bbs_req *req, struct bbs_resp *resp,
                  struct bbs_error *err);

#endif /* BBS_HTTP_ROUTES_H */
