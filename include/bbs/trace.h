/*
 * trace.h - the trace id of a request, as upstream's lager derives it from
 * the X-Vcap-Request-Id header (Logger.WithTraceInfo, zipkin's
 * TraceIDFromHex and TraceID.String). Pure: no allocation, no I/O.
 */
#ifndef BBS_TRACE_H
#define BBS_TRACE_H

#include <stddef.h>

/* Room for the longest trace id and its NUL. */
#define BBS_TRACE_ID_MAX 33

/*
 * `header` (n bytes, not necessarily NUL-terminated) without its '-' must be
 * 1..32 hex digits (a UUID qualifies). Writes the trace id to `out`
 * (BBS_TRACE_ID_MAX bytes, NUL-terminated): lower case, the low 64 bits as
 * 16 digits zero-padded, preceded by the high 64 bits as 16 more when they
 * are non-zero. Returns 0, or -1 for any other value (upstream then logs
 * no trace id) with `out` set to "".
 */
int bbs_trace_id(const char *header, size_t n, char *out);

#endif /* BBS_TRACE_H */
