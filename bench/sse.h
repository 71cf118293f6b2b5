/*
 * sse.h - a strict parser for one BBS event stream as it comes off the
 * socket: the HTTP/1.1 response head, the chunked body and the
 * server-sent-events records inside it (reference 2.10.3).
 *
 * Pure: bytes in, records out through a callback; no I/O, clock or
 * allocation beyond the parser's own buffers. Bytes may arrive split
 * anywhere (a record across chunks, a chunk across reads): the result does
 * not depend on where.
 *
 * Strict means upstream's framing and nothing looser:
 *   - status 200, `Content-Type: text/event-stream...` and
 *     `Transfer-Encoding: chunked`;
 *   - chunk sizes in hex (either case), an optional `;extension`, CRLF
 *     after the size and after the data, trailers after the last chunk and
 *     nothing after them;
 *   - SSE lines end with "\n" alone; fields are `id: `, `event: `, `data: `
 *     and `retry: ` with exactly one space; `:` starts a comment (a
 *     heartbeat); an empty line ends a record;
 *   - a record has exactly one id (decimal, no sign or leading zero), one
 *     event name ([a-z0-9_]) and one data line of standard base64 with
 *     padding (canonical: unused bits zero);
 *   - the stream may end (last chunk) only between records.
 * Anything else stops the parser with a message saying what and where.
 *
 * Not done here: what a record means (evwire.h), sockets (evstream.c).
 */
#ifndef BENCH_SSE_H
#define BENCH_SSE_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_SSE_MAX_HEAD   16384             /* response head */
#define BENCH_SSE_MAX_LINE   (4 * 1024 * 1024) /* one SSE line (a base64 event) */
#define BENCH_SSE_MAX_EVENT  64                /* event name */
#define BENCH_SSE_MAX_CKLINE 256               /* chunk size line, trailer line */

/* One record; everything is borrowed and valid only inside the callback. */
struct bench_sse_record {
    uint64_t id;
    const char *event;   /* NUL-terminated */
    const uint8_t *data; /* base64-decoded */
    size_t data_len;
};

/* Return 0 to go on, -1 to stop the parser (bench_sse_feed then returns -1). */
typedef int (*bench_sse_cb)(void *ud, const struct bench_sse_record *r);

enum bench_sse_result {
    BENCH_SSE_MORE = 0, /* everything consumed, waiting for more */
    BENCH_SSE_END = 1,  /* the last chunk and its trailers are in: the server ended the stream */
    BENCH_SSE_ERROR = -1,
};

struct bench_sse {
    bench_sse_cb cb;
    void *ud;
    int state;
    char err[160];
    uint64_t offset; /* bytes consumed so far, for messages */

    /* head, chunk size and trailer lines */
    char *head;
    size_t head_len;
    long status;
    char ckline[BENCH_SSE_MAX_CKLINE];
    size_t ckline_len;
    uint64_t ck_left;

    /* the SSE line being read and the record being built */
    char *line;
    size_t line_len;
    size_t line_cap;
    int has_id;
    uint64_t id;
    int has_event;
    char event[BENCH_SSE_MAX_EVENT + 1];
    int has_data;
    uint8_t *data;
    size_t data_len;
    size_t data_cap;
    int pending_comment; /* comment lines since the last empty line */

    /* counters */
    uint64_t records;
    uint64_t comments; /* comment lines (heartbeats) */
    uint64_t chunks;
};

/* Ready to read a response head. `cb` is called once per record. */
void bench_sse_init(struct bench_sse *p, bench_sse_cb cb, void *ud);

/* Free the buffers; `p` may then be initialised again. */
void bench_sse_free(struct bench_sse *p);

/*
 * Consume `buf[0..len)`. Returns BENCH_SSE_MORE, BENCH_SSE_END (no bytes
 * may follow) or BENCH_SSE_ERROR (bench_sse_error() says why; the parser
 * stays failed). Feeding after END or ERROR returns ERROR.
 */
int bench_sse_feed(struct bench_sse *p, const uint8_t *buf, size_t len);

/* Why the parser failed ("" when it did not). */
const char *bench_sse_error(const struct bench_sse *p);

/* 1 once a 200 event-stream head has been accepted (records may follow). */
int bench_sse_opened(const struct bench_sse *p);

/* The HTTP status of the head, once read (0 before). */
long bench_sse_status(const struct bench_sse *p);

/*
 * Decode standard base64 with padding, strictly: length a multiple of 4,
 * '=' only as the last one or two characters, unused bits zero. `out`
 * needs 3 * len / 4 bytes. Returns the decoded length, or -1.
 */
long bench_base64_decode(const char *in, size_t len, uint8_t *out);

#endif /* BENCH_SSE_H */
