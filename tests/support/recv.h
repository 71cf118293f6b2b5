/*
 * recv.h - what the recording HTTP stand-ins (support/rep.c, callback.c)
 * share: a libmicrohttpd daemon on a loopback port, optionally behind
 * mutual TLS, the request body gathered per connection, the client
 * certificate's verdict and common name, and the empty answer.
 */
#ifndef BBS_IT_SUPPORT_RECV_H
#define BBS_IT_SUPPORT_RECV_H

#include <stddef.h>

#include <microhttpd.h>

/*
 * Start `h` (with `cls`) on a free loopback port with `flags` (plus
 * MHD_USE_TLS when `cert` is non-NULL: the PEM texts `cert`, `key` and the
 * trust list `ca`, with which libmicrohttpd asks every client for its
 * certificate). Each connection's *con_cls is freed when it completes.
 * The daemon and its port in `*port`, or NULL.
 */
struct MHD_Daemon *it_recv_start(unsigned flags, MHD_AccessHandlerCallback h, void *cls,
                                 const char *cert, const char *key, const char *ca, int *port);

/* A connection's request body, kept NUL-terminated (what does not fit is dropped). */
struct it_recv_conn {
    char body[8192];
    size_t len;
};

/*
 * The first part of an access handler: makes the connection's
 * struct it_recv_conn in *con_cls and gathers the upload into it. Returns
 * what the handler returns while the request is still arriving (MHD_YES or
 * MHD_NO), or -1 once it is complete.
 */
int it_recv_gather(void **con_cls, const char *upload_data, size_t *upload_data_size);

/* The client certificate of `conn` (TLS): `*verified` and its CN into `cn`; untouched without. */
void it_recv_peer(struct MHD_Connection *conn, int *verified, char *cn, size_t cn_size);

/* Queue an empty answer with `status`. */
enum MHD_Result it_recv_answer(struct MHD_Connection *conn, unsigned status);

#endif /* BBS_IT_SUPPORT_RECV_H */
