/*
 * stream.h - private to the HTTP target: long-lived responses for
 * BBS_ROUTE_STREAM routes (server-sent events).
 *
 * A stream is an HTTP 200 whose body is written later, by a producer on
 * another thread (the event hub), until the producer ends it, the client
 * goes away, or the server stops. For a stream route the front end
 * creates the stream, hands it to the handler in req->stream (the handler
 * takes a reference for its producer with bbs_stream_ref), and, when the
 * handler succeeds, queues a libmicrohttpd response that reads from it.
 *
 * Streams live beside the shutdown drain: bbs_http_stop ends every open
 * stream at once (what was already sent is flushed, then the body ends)
 * and waits only for unary requests. A stream request does not count as
 * in flight once its response is queued, and a stream opened while the
 * server stops is ended at birth.
 *
 * How the body waits for data: in the thread pool (epoll) the reader
 * suspends the connection and the producer resumes it; with
 * http_thread_per_connection the reader blocks on the stream's condition
 * variable (libmicrohttpd allows both). A stream connection has no idle
 * timeout: the producer keeps it alive (heartbeats) and learns that the
 * client left when bbs_stream_send fails.
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef BBS_HTTP_STREAM_H
#define BBS_HTTP_STREAM_H

#include <stddef.h>

#include <microhttpd.h>

#include "bbs/error.h"

struct bbs_stream;

/*
 * Append `n` bytes to the body. Returns 0, or -1 when the stream has ended
 * (producer ended it, client gone, server stopping): the producer then
 * drops it (bbs_stream_unref). Copies `p`.
 */
BBS_MUST_CHECK int bbs_stream_send(struct bbs_stream *s, const void *p, size_t n);

/*
 * Append one record of `n` bytes (copied) unless `max` records appended by
 * this function are still waiting for the client (each goes out as one
 * HTTP chunk). Returns 0 appended, 1 full (nothing appended: the client is
 * too slow), -1 the stream has ended.
 */
BBS_MUST_CHECK int bbs_stream_send_bounded(struct bbs_stream *s, const void *p, size_t n,
                                           size_t max);

/* End the body after what was sent (idempotent). */
void bbs_stream_end(struct bbs_stream *s);

/* Take / drop a reference; the last drop frees the stream. Both accept NULL. */
void bbs_stream_ref(struct bbs_stream *s);
void bbs_stream_unref(struct bbs_stream *s);

/*
 * The registry of a server's open streams. It outlives the server as long
 * as a stream does (a producer may drop its last reference after
 * bbs_http_stop returned), so each stream holds a reference to it.
 */
struct bbs_streams;

struct bbs_streams *bbs_streams_new(void);

/* Drop the server's reference. Accepts NULL. */
void bbs_streams_release(struct bbs_streams *reg);

/* End every open stream now and every stream opened from now on (bbs_http_stop). */
void bbs_streams_end_all(struct bbs_streams *reg);

/*
 * End every stream whose client has gone away: its socket reads EOF, an
 * error, or anything at all (a stream's client only reads, so a TLS
 * close_notify or a stray byte also means it is done). One poll(2) over
 * the streams' sockets; called by the reaper (bbs_http_reap), so a closed
 * stream ends, and is counted (metrics), within a reaper period rather than
 * at its next heartbeat.
 */
void bbs_streams_end_gone(struct bbs_streams *reg);

/*
 * Front end: a new stream for the request on `conn`, registered in `reg`;
 * one reference. `thread_per_connection`: the reader blocks rather than
 * suspending the connection.
 */
struct bbs_stream *bbs_stream_new(struct bbs_streams *reg, struct MHD_Connection *conn,
                                  int thread_per_connection);

/*
 * Front end: queue HTTP 200 with Content-Type `type` whose body is `s`.
 * Takes the caller's reference (the response holds it until libmicrohttpd
 * frees the response), on failure too.
 */
enum MHD_Result bbs_stream_queue(struct MHD_Connection *conn, struct bbs_stream *s,
                                 const char *type);

#endif /* BBS_HTTP_STREAM_H */
