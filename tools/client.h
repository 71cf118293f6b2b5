/*
 * client.h - bbsctl's BBS client: protobuf calls, the JSON diagnostics GET
 * and server-sent event streams over libcurl, with mutual TLS.
 *
 * What it does not do: flags, environment and output (api_flags.c,
 * api_out.c). Every call is one HTTP request on a fresh easy handle; the
 * process runs one command and exits, so no connection is kept.
 */
#ifndef BBSCTL_CLIENT_H
#define BBSCTL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Where and how to connect. Strings are borrowed (argv, environment). */
struct bbsctl_target {
    const char *url;       /* "https://host:port" (a trailing '/' is tolerated) */
    const char *ca_file;   /* NULL or "": none (only with skip_verify) */
    const char *cert_file; /* client certificate, PEM */
    const char *key_file;  /* its key, PEM */
    int skip_verify;
    long timeout_s; /* whole request; 0 = none (cfdot's default) */
};

/*
 * Why a call failed, as cfdot tells it: `bbs` = 1 for an error of the BBS
 * (its Error message, or one the Go client makes: InvalidResponse for a
 * non-protobuf answer, Timeout): exit 4; `bbs` = 0 for anything else (the
 * connection failed): exit 5.
 */
struct bbsctl_failure {
    int bbs;
    int type; /* Error.Type when bbs = 1 */
    char message[1024];
};

/* The exit status cfdot uses for `f` (4 or 5). */
int bbsctl_failure_exit(const struct bbsctl_failure *f);

/* Write `f` to stderr as cfdot does ("Error: BBS error\nType ...", or "Error: ..."). */
void bbsctl_failure_print(const struct bbsctl_failure *f);

/* Fill `f` as a BBS error of `type` (its name comes from the Error.Type enum). */
void bbsctl_failure_bbs(struct bbsctl_failure *f, int type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * POST `req` (NULL: empty body) to `path` and unpack the answer as
 * `resp_desc`. On success returns 0 and `*resp` (free with
 * protobuf_c_message_free_unpacked(*resp, NULL)); a response whose `error`
 * field is set is a failure (the message is freed). Returns -1 and fills
 * `f` otherwise.
 */
int bbsctl_call(const struct bbsctl_target *t, const char *path, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                struct bbsctl_failure *f);

/*
 * GET `path` and return the body (malloc'd, NUL-terminated, `*len` bytes)
 * when the status is 200; -1 and `f` otherwise.
 */
int bbsctl_get(const struct bbsctl_target *t, const char *path, char **body, size_t *len,
               struct bbsctl_failure *f);

/* ---- event streams ---- */

/* One event: `name` as sent (`event:`), `data` the decoded base64 (borrowed for the call). */
typedef void (*bbsctl_event_fn)(void *ud, int stream, const char *name, const uint8_t *data,
                                size_t len);

struct bbsctl_stream_spec {
    const char *method; /* "POST" or "GET" */
    const char *path;
    const ProtobufCMessage *body; /* NULL: none */
};

/*
 * Open every stream in `specs` at once and call `fn` for each event, with
 * the stream's index, until all of them ended. Returns 0 when every stream
 * ended cleanly (the server closed it), -1 and `f` when one could not be
 * opened (transport or non-200 status: a BBS UnknownError, as cfdot's
 * ConvertError makes it) or broke off (bad framing, transport error).
 * Never returns while a stream is open and healthy: the caller ends the
 * process with a signal, as cfdot's user does.
 */
int bbsctl_streams_run(const struct bbsctl_target *t, const struct bbsctl_stream_spec *specs, int n,
                       bbsctl_event_fn fn, void *ud, struct bbsctl_failure *f);

/*
 * Feed `len` bytes of an event stream body into the SSE parser `p`
 * (initialised to zero; free its buffers with bbsctl_sse_clear). Each
 * complete record with an `event:` calls `fn`. Returns 0, or -1 with a
 * reason in `why` when the record is not valid SSE for a BBS stream (data
 * not base64). Exposed for the fuzz driver.
 */
struct bbsctl_sse {
    char *line;
    size_t line_len, line_cap;
    char name[128];
    char *data;
    size_t data_len, data_cap;
    int stream;
};

int bbsctl_sse_feed(struct bbsctl_sse *p, const char *buf, size_t len, bbsctl_event_fn fn, void *ud,
                    char *why, size_t whylen);
void bbsctl_sse_clear(struct bbsctl_sse *p);

/* Standard base64 with padding; returns the decoded length or -1. `out` holds len*3/4+3. */
long bbsctl_base64_decode(const char *in, size_t len, uint8_t *out);

#endif
