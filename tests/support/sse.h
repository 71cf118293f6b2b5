/*
 * sse.h - a strict server-sent-events client for the event stream routes
 * (reference 2.10.3): one raw HTTP/1.1 connection to the test server,
 * chunked transfer decoding, `id:`/`event:`/`data:` records, standard
 * base64 with padding, comment heartbeats, and protobuf decoding of each
 * event by its name. Anything off the framing fails the read with a
 * message (it_sse_error).
 */
#ifndef BBS_IT_SUPPORT_SSE_H
#define BBS_IT_SUPPORT_SSE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

struct it_sse;

struct it_sse_event {
    int64_t id;
    char name[64];
    uint8_t *data; /* decoded base64, malloc'd (it_sse_event_clear) */
    size_t len;
};

/*
 * Open `method` `path` with an EventsByCellId body for `cell_id` (NULL: no
 * body) and, when `last_event_id` is not NULL, a Last-Event-ID header.
 * Reads the status line and headers. Returns NULL only if the connection
 * fails; check it_sse_status.
 */
struct it_sse *it_sse_open(const char *method, const char *path, const char *cell_id,
                           const char *last_event_id);

/* The same with `body` sent as is (a raw request body). */
struct it_sse *it_sse_open_raw(const char *method, const char *path, const void *body, size_t len,
                               const char *last_event_id);

int it_sse_status(const struct it_sse *s);
/* A response header's value ("" when absent), case-insensitive name. */
const char *it_sse_header(const struct it_sse *s, const char *name);

/*
 * The next event within `timeout_ms`: 1 and `*ev` filled, 0 timeout, -1
 * the stream ended (terminating chunk, connection closed), -2 a framing
 * error (it_sse_error says which).
 */
int it_sse_next(struct it_sse *s, int timeout_ms, struct it_sse_event *ev);

/* Events that must not come: 1 when none arrives within `ms`. */
int it_sse_quiet(struct it_sse *s, int ms);

int it_sse_heartbeats(const struct it_sse *s);
/* Records seen (events and heartbeats) and HTTP chunks seen. */
int it_sse_records(const struct it_sse *s);
int it_sse_chunks(const struct it_sse *s);
const char *it_sse_error(const struct it_sse *s);

void it_sse_event_clear(struct it_sse_event *ev);

/* Close the connection (the client goes away). Accepts NULL. */
void it_sse_close(struct it_sse *s);

/* The event message for `name` (2.10.2), unpacked; NULL if the name is unknown or it does not
 * decode. Free with protobuf_c_message_free_unpacked(m, NULL). */
ProtobufCMessage *it_sse_decode(const struct it_sse_event *ev);

#endif /* BBS_IT_SUPPORT_SSE_H */
