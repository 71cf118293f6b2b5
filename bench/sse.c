/*
 * sse.c - HTTP head, chunked body and SSE records, strictly (see sse.h).
 *
 * Three layers, each a small state machine over the bytes handed down by
 * the one above: the head is collected whole (it is small), chunk framing
 * is parsed byte by byte except for the data, whose spans go to the SSE
 * layer, which collects one line at a time and acts on it at its "\n".
 */
#include "sse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    ST_HEAD,
    ST_CK_SIZE,
    ST_CK_DATA,
    ST_CK_CR,
    ST_CK_LF,
    ST_TRAILER,
    ST_END,
    ST_ERROR,
};

__attribute__((format(printf, 2, 3))) static int fail(struct bench_sse *p, const char *fmt, ...)
{
    va_list ap;
    int n;

    n = snprintf(p->err, sizeof(p->err), "at byte %llu: ", (unsigned long long)p->offset);
    va_start(ap, fmt);
    vsnprintf(p->err + n, sizeof(p->err) - (size_t)n, fmt, ap);
    va_end(ap);
    p->state = ST_ERROR;
    return -1;
}

static void *xrealloc(void *q, size_t n)
{
    void *r = realloc(q, n);

    if (r == NULL) {
        fputs("bbs-bench: out of memory\n", stderr);
        abort();
    }
    return r;
}

void bench_sse_init(struct bench_sse *p, bench_sse_cb cb, void *ud)
{
    memset(p, 0, sizeof(*p));
    p->cb = cb;
    p->ud = ud;
    p->state = ST_HEAD;
}

void bench_sse_free(struct bench_sse *p)
{
    free(p->head);
    free(p->line);
    free(p->data);
    p->head = NULL;
    p->line = NULL;
    p->data = NULL;
}

const char *bench_sse_error(const struct bench_sse *p)
{
    return p->err;
}

int bench_sse_opened(const struct bench_sse *p)
{
    return p->state != ST_HEAD && p->state != ST_ERROR;
}

long bench_sse_status(const struct bench_sse *p)
{
    return p->status;
}

/* ---- base64 ---------------------------------------------------------------------------- */

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

long bench_base64_decode(const char *in, size_t len, uint8_t *out)
{
    size_t o = 0;

    if (len % 4 != 0) {
        return -1;
    }
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        int last = i + 4 == len;

        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)in[i + (size_t)k];

            if (c == '=') {
                /* Only in the last quantum, only in its last two places, only at its end. */
                if (!last || k < 2) {
                    return -1;
                }
                pad++;
                v[k] = 0;
                continue;
            }
            if (pad > 0) {
                return -1;
            }
            v[k] = b64_value(c);
            if (v[k] < 0) {
                return -1;
            }
        }
        out[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
        if (pad == 2) {
            if ((v[1] & 0x0f) != 0) {
                return -1; /* non-canonical: unused bits set */
            }
            break;
        }
        out[o++] = (uint8_t)((v[1] & 0x0f) << 4 | v[2] >> 2);
        if (pad == 1) {
            if ((v[2] & 0x03) != 0) {
                return -1;
            }
            break;
        }
        out[o++] = (uint8_t)((v[2] & 0x03) << 6 | v[3]);
    }
    return (long)o;
}

/* ---- the head -------------------------------------------------------------------------- */

/* Does the comma-separated header value `v` name `token` (case-insensitive)? */
static int has_token(const char *v, size_t n, const char *token)
{
    size_t tl = strlen(token);
    size_t i = 0;

    while (i < n) {
        size_t s;
        size_t e;

        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
            i++;
        }
        s = i;
        while (i < n && v[i] != ',') {
            i++;
        }
        e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) {
            e--;
        }
        if (e - s == tl && strncasecmp(v + s, token, tl) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The whole head is in p->head (ending "\r\n\r\n"). */
static int parse_head(struct bench_sse *p)
{
    char *h = p->head;
    char *end = h + p->head_len - 2; /* the final empty line's CRLF */
    char *line;
    char *eol;
    int chunked = 0;
    int sse = 0;

    eol = strstr(h, "\r\n");
    if (eol - h < 12 || strncmp(h, "HTTP/1.1 ", 9) != 0 || h[12] != ' ' ||
        !(h[9] >= '1' && h[9] <= '5' && h[10] >= '0' && h[10] <= '9' && h[11] >= '0' &&
          h[11] <= '9')) {
        return fail(p, "not an HTTP/1.1 status line");
    }
    p->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    if (p->status != 200) {
        return fail(p, "HTTP status %ld", p->status);
    }
    for (line = eol + 2; line < end; line = eol + 2) {
        char *colon;
        char *v;
        size_t vn;

        eol = strstr(line, "\r\n");
        colon = memchr(line, ':', (size_t)(eol - line));
        if (colon == NULL || colon == line) {
            return fail(p, "malformed header line");
        }
        for (char *q = line; q < colon; q++) {
            if (*q == ' ' || *q == '\t' || (unsigned char)*q < 33 || (unsigned char)*q > 126) {
                return fail(p, "malformed header name");
            }
        }
        v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t')) {
            v++;
        }
        vn = (size_t)(eol - v);
        if ((size_t)(colon - line) == 17 && strncasecmp(line, "transfer-encoding", 17) == 0) {
            chunked = has_token(v, vn, "chunked");
        } else if ((size_t)(colon - line) == 14 && strncasecmp(line, "content-length", 14) == 0) {
            return fail(p, "a stream with Content-Length");
        } else if ((size_t)(colon - line) == 12 && strncasecmp(line, "content-type", 12) == 0) {
            sse = vn >= 17 && strncasecmp(v, "text/event-stream", 17) == 0 &&
                  (vn == 17 || v[17] == ';');
        }
    }
    if (!sse) {
        return fail(p, "Content-Type is not text/event-stream");
    }
    if (!chunked) {
        return fail(p, "Transfer-Encoding is not chunked");
    }
    return 0;
}

/* Collect head bytes; returns how many of buf it took, or -1. Moves to ST_CK_SIZE at its end. */
static long feed_head(struct bench_sse *p, const uint8_t *buf, size_t len)
{
    size_t take = 0;

    if (p->head == NULL) {
        p->head = xrealloc(NULL, BENCH_SSE_MAX_HEAD + 1);
    }
    while (take < len) {
        char c = (char)buf[take++];

        if (c == '\0') {
            return fail(p, "NUL in the response head");
        }
        if (p->head_len == BENCH_SSE_MAX_HEAD) {
            return fail(p, "response head over %d bytes", BENCH_SSE_MAX_HEAD);
        }
        p->head[p->head_len++] = c;
        if (p->head_len >= 4 && memcmp(p->head + p->head_len - 4, "\r\n\r\n", 4) == 0) {
            p->head[p->head_len] = '\0';
            p->offset += take;
            if (parse_head(p) != 0) {
                return -1;
            }
            p->state = ST_CK_SIZE;
            return (long)take;
        }
    }
    p->offset += take;
    return (long)take;
}

/* ---- SSE records ----------------------------------------------------------------------- */

static int dispatch(struct bench_sse *p)
{
    struct bench_sse_record r;
    int rc = 0;

    if (!p->has_id && !p->has_event && !p->has_data) {
        /* An empty line after comments (a heartbeat) or alone: nothing to deliver. */
        p->pending_comment = 0;
        return 0;
    }
    if (!p->has_id || !p->has_event || !p->has_data) {
        return fail(p, "record without %s", !p->has_id ? "id" : !p->has_event ? "event" : "data");
    }
    r.id = p->id;
    r.event = p->event;
    r.data = p->data != NULL ? p->data : (const uint8_t *)"";
    r.data_len = p->data_len;
    p->records++;
    if (p->cb != NULL && p->cb(p->ud, &r) != 0) {
        rc = fail(p, "record %llu refused by its reader", (unsigned long long)p->id);
    }
    p->has_id = 0;
    p->has_event = 0;
    p->has_data = 0;
    p->data_len = 0;
    p->pending_comment = 0;
    return rc;
}

static int field_id(struct bench_sse *p, const char *v, size_t n)
{
    uint64_t id = 0;

    if (p->has_id) {
        return fail(p, "two id lines in one record");
    }
    if (n == 0 || n > 20 || (v[0] == '0' && n > 1)) {
        return fail(p, "bad id \"%.*s\"", (int)(n < 40 ? n : 40), v);
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9' || id > (UINT64_MAX - (uint64_t)(v[i] - '0')) / 10) {
            return fail(p, "bad id \"%.*s\"", (int)(n < 40 ? n : 40), v);
        }
        id = id * 10 + (uint64_t)(v[i] - '0');
    }
    p->has_id = 1;
    p->id = id;
    return 0;
}

static int field_event(struct bench_sse *p, const char *v, size_t n)
{
    if (p->has_event) {
        return fail(p, "two event lines in one record");
    }
    if (n == 0 || n > BENCH_SSE_MAX_EVENT) {
        return fail(p, "bad event name length %zu", n);
    }
    for (size_t i = 0; i < n; i++) {
        if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '_')) {
            return fail(p, "bad character in event name");
        }
    }
    memcpy(p->event, v, n);
    p->event[n] = '\0';
    p->has_event = 1;
    return 0;
}

static int field_data(struct bench_sse *p, const char *v, size_t n)
{
    long got;

    if (p->has_data) {
        return fail(p, "two data lines in one record");
    }
    if (n / 4 * 3 > p->data_cap) {
        p->data_cap = n / 4 * 3;
        p->data = xrealloc(p->data, p->data_cap);
    }
    got = bench_base64_decode(v, n, p->data);
    if (got < 0) {
        return fail(p, "data is not canonical padded base64");
    }
    p->data_len = (size_t)got;
    p->has_data = 1;
    return 0;
}

/* One complete line (without its "\n"). */
static int sse_line(struct bench_sse *p, const char *l, size_t n)
{
    const char *colon;
    size_t name_len;
    const char *v;
    size_t vn;

    if (n == 0) {
        return dispatch(p);
    }
    if (memchr(l, '\r', n) != NULL) {
        return fail(p, "CR in an SSE line");
    }
    if (l[0] == ':') {
        p->comments++;
        p->pending_comment = 1;
        return 0;
    }
    colon = memchr(l, ':', n);
    if (colon == NULL) {
        return fail(p, "SSE line without a field name");
    }
    name_len = (size_t)(colon - l);
    if ((size_t)(colon - l) + 1 >= n || colon[1] != ' ') {
        return fail(p, "SSE field without \": \"");
    }
    v = colon + 2;
    vn = n - name_len - 2;
    if (name_len == 2 && memcmp(l, "id", 2) == 0) {
        return field_id(p, v, vn);
    }
    if (name_len == 5 && memcmp(l, "event", 5) == 0) {
        return field_event(p, v, vn);
    }
    if (name_len == 4 && memcmp(l, "data", 4) == 0) {
        return field_data(p, v, vn);
    }
    if (name_len == 5 && memcmp(l, "retry", 5) == 0) {
        for (size_t i = 0; i < vn; i++) {
            if (v[i] < '0' || v[i] > '9') {
                return fail(p, "bad retry value");
            }
        }
        return vn > 0 ? 0 : fail(p, "bad retry value");
    }
    return fail(p, "unknown SSE field \"%.*s\"", (int)(name_len < 32 ? name_len : 32), l);
}

/* Chunk data bytes: split into lines. */
static int sse_text(struct bench_sse *p, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        const uint8_t *nl = memchr(buf, '\n', len);
        size_t take = nl != NULL ? (size_t)(nl - buf) : len;

        if (memchr(buf, '\0', take) != NULL) {
            return fail(p, "NUL in the event stream");
        }
        if (nl != NULL && p->line_len == 0) {
            /* The whole line is in this span: no copy. */
            if (sse_line(p, (const char *)buf, take) != 0) {
                return -1;
            }
        } else {
            if (p->line_len + take > BENCH_SSE_MAX_LINE) {
                return fail(p, "SSE line over %d bytes", BENCH_SSE_MAX_LINE);
            }
            if (p->line_len + take > p->line_cap) {
                size_t cap = p->line_cap ? p->line_cap : 1024;

                while (cap < p->line_len + take) {
                    cap *= 2;
                }
                p->line = xrealloc(p->line, cap);
                p->line_cap = cap;
            }
            memcpy(p->line + p->line_len, buf, take);
            p->line_len += take;
            if (nl != NULL) {
                size_t n = p->line_len;

                p->line_len = 0;
                if (sse_line(p, p->line, n) != 0) {
                    return -1;
                }
            }
        }
        if (nl == NULL) {
            break;
        }
        buf += take + 1;
        len -= take + 1;
    }
    return 0;
}

/* ---- chunks ---------------------------------------------------------------------------- */

static int chunk_size_line(struct bench_sse *p)
{
    const char *s = p->ckline;
    size_t n = p->ckline_len;
    size_t i = 0;
    uint64_t v = 0;

    while (i < n && i < 16) {
        char c = s[i];
        int d;

        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            d = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            d = c - 'A' + 10;
        } else {
            break;
        }
        v = v << 4 | (uint64_t)d;
        i++;
    }
    if (i == 0) {
        return fail(p, "chunk size is not hex");
    }
    if (i < n && s[i] != ';') {
        return fail(p, "junk after the chunk size");
    }
    for (size_t k = i; k < n; k++) {
        if ((unsigned char)s[k] < 32 || (unsigned char)s[k] > 126) {
            return fail(p, "bad chunk extension");
        }
    }
    p->chunks++;
    p->ck_left = v;
    if (v == 0) {
        if (p->line_len != 0 || p->has_id || p->has_event || p->has_data) {
            return fail(p, "the stream ended inside a record");
        }
        p->state = ST_TRAILER;
    } else {
        p->state = ST_CK_DATA;
    }
    return 0;
}

/* A line of chunk framing (size or trailer), CRLF-terminated; 1 when complete. */
static int framing_byte(struct bench_sse *p, char c)
{
    if (p->ckline_len > 0 && p->ckline[p->ckline_len - 1] == '\r') {
        if (c != '\n') {
            return fail(p, "CR without LF in chunk framing");
        }
        p->ckline_len--;
        return 1;
    }
    if (c == '\n') {
        return fail(p, "LF without CR in chunk framing");
    }
    if (p->ckline_len == sizeof(p->ckline)) {
        return fail(p, "chunk framing line over %zu bytes", sizeof(p->ckline));
    }
    p->ckline[p->ckline_len++] = c;
    return 0;
}

int bench_sse_feed(struct bench_sse *p, const uint8_t *buf, size_t len)
{
    size_t i = 0;

    if (p->state == ST_ERROR) {
        return BENCH_SSE_ERROR;
    }
    if (p->state == ST_END && len > 0) {
        fail(p, "bytes after the end of the stream");
        return BENCH_SSE_ERROR;
    }
    while (i < len) {
        int rc;

        switch (p->state) {
        case ST_HEAD: {
            long took = feed_head(p, buf + i, len - i);

            if (took < 0) {
                return BENCH_SSE_ERROR;
            }
            i += (size_t)took;
            continue;
        }
        case ST_CK_SIZE:
        case ST_TRAILER:
            rc = framing_byte(p, (char)buf[i]);
            i++;
            p->offset++;
            if (rc < 0) {
                return BENCH_SSE_ERROR;
            }
            if (rc == 1) {
                if (p->state == ST_CK_SIZE) {
                    rc = chunk_size_line(p);
                } else if (p->ckline_len == 0) {
                    p->state = ST_END;
                } else if (memchr(p->ckline, ':', p->ckline_len) == NULL) {
                    rc = fail(p, "malformed trailer line");
                }
                p->ckline_len = 0;
                if (rc < 0) {
                    return BENCH_SSE_ERROR;
                }
                if (p->state == ST_END && i < len) {
                    fail(p, "bytes after the end of the stream");
                    return BENCH_SSE_ERROR;
                }
            }
            continue;
        case ST_CK_DATA: {
            size_t take = len - i;

            if ((uint64_t)take > p->ck_left) {
                take = (size_t)p->ck_left;
            }
            if (sse_text(p, buf + i, take) != 0) {
                return BENCH_SSE_ERROR;
            }
            i += take;
            p->offset += take;
            p->ck_left -= take;
            if (p->ck_left == 0) {
                p->state = ST_CK_CR;
            }
            continue;
        }
        case ST_CK_CR:
        case ST_CK_LF:
            if (buf[i] != (p->state == ST_CK_CR ? '\r' : '\n')) {
                fail(p, "chunk data not followed by CRLF");
                return BENCH_SSE_ERROR;
            }
            i++;
            p->offset++;
            p->state = p->state == ST_CK_CR ? ST_CK_LF : ST_CK_SIZE;
            continue;
        default:
            return BENCH_SSE_ERROR;
        }
    }
    return p->state == ST_END ? BENCH_SSE_END : BENCH_SSE_MORE;
}
