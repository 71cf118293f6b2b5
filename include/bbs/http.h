/*
 * http.h - the API listener (libmicrohttpd, HTTP/1.1 keep-alive, a thread
 * pool) and the context every handler gets.
 *
 * Transport rules follow upstream (reference 1.2-1.3): every route is
 * POST; the protobuf answer is HTTP 200 with the Error inside; 404 for an
 * unknown path; 405 with Allow: POST for another method. Beyond upstream:
 * a request body cap (413 with the route's response message carrying
 * InvalidRequest), a read timeout for the body and an idle timeout.
 */
#ifndef BBS_HTTP_H
#define BBS_HTTP_H

#include "bbs/auction.h"
#include "bbs/config.h"
#include "bbs/error.h"
#include "bbs/store.h"

/* What handlers share; borrowed by the server for its whole life. */
struct bbs_ctx {
    struct bbs_store *store;
    struct bbs_auction *auction;
    const struct bbs_config *cfg;
};

struct bbs_http;

/* Listen on cfg->listen_address and serve. */
struct bbs_http *bbs_http_start(const struct bbs_config *cfg, struct bbs_ctx *ctx,
                                struct bbs_error *err);

/*
 * Stop accepting connections, let requests in flight finish, close. Accepts
 * NULL.
 */
void bbs_http_stop(struct bbs_http *h);

/* Set once a handler met an Unrecoverable error (the process should exit). */
int bbs_http_unrecoverable(const struct bbs_http *h);

#endif /* BBS_HTTP_H */
