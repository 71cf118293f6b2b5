/*
 * conn.h - private to the HTTP target: accepted connections and their
 * read deadlines.
 *
 * Every connection of the API listener is kept in a list (struct bbs_http's
 * `conns`, under its mutex) with a deadline for its current request to have
 * arrived completely. bbs_http_reap() (http.h) shuts down those past it,
 * because libmicrohttpd's own timeout only measures inactivity and a client
 * trickling a byte at a time would never meet it (slowloris).
 */
#ifndef BBS_HTTP_CONN_H
#define BBS_HTTP_CONN_H

#include <stdint.h>

#include <microhttpd.h>

#include "server.h"

/*
 * One accepted connection (libmicrohttpd's socket context). Created in
 * the STARTED notification, unlinked and freed in CLOSED, which
 * libmicrohttpd sends before it closes the socket: while the entry is in
 * the list (under h->mu) `fd` is this connection's socket and no other's.
 */
struct bbs_conn {
    struct bbs_http *h;
    int fd;
    int64_t deadline_ns; /* CLOCK_MONOTONIC; 0 = none (a request is being answered) */
    int sniffed;         /* TLS: the first bytes were looked at */
    int verified;        /* TLS: the client certificate passed verification */
    char peer[64];
    struct bbs_conn *prev;
    struct bbs_conn *next;
};

/* The connection of `mc`, or NULL (not yet notified). Borrowed. */
struct bbs_conn *bbs_conn_of(struct MHD_Connection *mc);

/* Set `c`'s deadline (CLOCK_MONOTONIC ns; 0 = none). Accepts NULL. */
void bbs_conn_set_deadline(struct bbs_conn *c, int64_t deadline_ns);

/*
 * MHD_OPTION_NOTIFY_CONNECTION (cls = the struct bbs_http): STARTED links
 * a new connection with a first-request deadline of http_read_timeout
 * (and, under TLS, takes over its session before the handshake); CLOSED
 * unlinks and frees it.
 */
void bbs_conn_notify(void *cls, struct MHD_Connection *mc, void **socket_context,
                     enum MHD_ConnectionNotificationCode code);

#endif /* BBS_HTTP_CONN_H */
