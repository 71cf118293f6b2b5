/*
 * sinkparse.c - the request parser of the sink (see sink.h). Pure: no I/O,
 * so the unit tests and the fuzz driver compile it alone.
 */
#include <stdint.h>
#include <string.h>

#include "sink.h"

static int ieq(const char *a, size_t n, const char *lit)
{
    size_t m = strlen(lit);

    if (n != m) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = a[i];

        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c != lit[i]) {
            return 0;
        }
    }
    return 1;
}

/* RFC 9110 token characters (header names, methods). */
static int tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The end of the head ("\r\n\r\n" included) within the first `len` bytes, or 0. */
static size_t head_end(const char *buf, size_t len)
{
    for (size_t i = 3; i < len; i++) {
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
            return i + 1;
        }
    }
    return 0;
}

/* "METHOD SP /target SP HTTP/1.x" in line[0..n); sets out->method/path; -1 if not. */
static int request_line(const char *line, size_t n, struct bench_sink_req *out, int *minor)
{
    size_t i = 0;
    size_t t0;

    while (i < n && tchar(line[i])) {
        i++;
    }
    if (i == 0 || i == n || line[i] != ' ') {
        return -1;
    }
    out->method = line;
    out->method_len = i;
    t0 = ++i;
    while (i < n && line[i] > ' ' && line[i] != 0x7f) {
        i++;
    }
    if (i == t0 || line[t0] != '/' || i == n || line[i] != ' ') {
        return -1;
    }
    out->path = line + t0;
    out->path_len = i - t0;
    i++;
    if (n - i != 8 || memcmp(line + i, "HTTP/1.", 7) != 0 ||
        (line[i + 7] != '0' && line[i + 7] != '1')) {
        return -1;
    }
    *minor = line[i + 7] - '0';
    return 0;
}

int bench_sink_parse(const char *buf, size_t len, struct bench_sink_req *out)
{
    size_t end;
    size_t pos;
    size_t eol;
    int minor = 1;
    int64_t clen = -1;
    int keep_alive = -1; /* -1: the version's default */

    memset(out, 0, sizeof(*out));
    end = head_end(buf, len < BENCH_SINK_MAX_HEAD ? len : BENCH_SINK_MAX_HEAD);
    if (end == 0) {
        /* Nothing but CRLF-separated, NUL-free bytes may wait for more. */
        if (memchr(buf, '\0', len) != NULL) {
            return BENCH_SINK_BAD;
        }
        return len >= BENCH_SINK_MAX_HEAD ? BENCH_SINK_BAD : BENCH_SINK_MORE;
    }
    if (memchr(buf, '\0', end) != NULL) {
        return BENCH_SINK_BAD;
    }
    /* Every CR in the head starts a CRLF and every LF ends one. */
    for (size_t i = 0; i < end; i++) {
        if ((buf[i] == '\r' && buf[i + 1] != '\n') ||
            (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))) {
            return BENCH_SINK_BAD;
        }
    }
    eol = (size_t)((const char *)memchr(buf, '\r', end) - buf);
    if (request_line(buf, eol, out, &minor) != 0) {
        return BENCH_SINK_BAD;
    }
    for (pos = eol + 2; pos < end - 2; pos = eol + 2) {
        const char *line = buf + pos;
        size_t n;
        size_t colon = 0;
        const char *v;
        size_t vn;

        eol = (size_t)((const char *)memchr(line, '\r', end - pos) - buf);
        n = eol - pos;
        while (colon < n && tchar(line[colon])) {
            colon++;
        }
        if (colon == 0 || colon == n || line[colon] != ':') {
            return BENCH_SINK_BAD; /* no name, a space before the colon, or obs-fold */
        }
        v = line + colon + 1;
        vn = n - colon - 1;
        while (vn > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            vn--;
        }
        while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t')) {
            vn--;
        }
        if (ieq(line, colon, "content-length")) {
            int64_t c = 0;

            if (vn == 0 || vn > 8) {
                return BENCH_SINK_BAD;
            }
            for (size_t i = 0; i < vn; i++) {
                if (v[i] < '0' || v[i] > '9') {
                    return BENCH_SINK_BAD;
                }
                c = c * 10 + (v[i] - '0');
            }
            if (c > (int64_t)BENCH_SINK_MAX_BODY || (clen >= 0 && c != clen)) {
                return BENCH_SINK_BAD;
            }
            clen = c;
        } else if (ieq(line, colon, "transfer-encoding")) {
            return BENCH_SINK_BAD;
        } else if (ieq(line, colon, "connection")) {
            if (ieq(v, vn, "close")) {
                keep_alive = 0;
            } else if (ieq(v, vn, "keep-alive") && keep_alive != 0) {
                keep_alive = 1;
            }
        } else if (ieq(line, colon, "expect")) {
            out->expect_continue = ieq(v, vn, "100-continue");
        }
    }
    out->head_done = 1;
    out->keep_alive = keep_alive >= 0 ? keep_alive : minor == 1;
    if (clen < 0) {
        clen = 0;
    }
    if (len - end < (size_t)clen) {
        return BENCH_SINK_MORE;
    }
    out->body = buf + end;
    out->body_len = (size_t)clen;
    out->consumed = end + (size_t)clen;
    return BENCH_SINK_DONE;
}
