/*
 * sse.c - the strict SSE client of the integration tests (sse.h).
 */
#include "support/sse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "events.pb-c.h"
#include "support/server.h"
#include "support/util.h"

#define MAX_HEADERS 32

struct it_sse {
    int fd;
    uint8_t *in; /* raw bytes read, not yet parsed */
    size_t in_len;
    size_t in_cap;
    uint8_t *sse; /* de-chunked body bytes, not yet parsed into records */
    size_t sse_len;
    size_t sse_cap;
    int status;
    char names[MAX_HEADERS][64];
    char values[MAX_HEADERS][256];
    int n_headers;
    int ended;
    int heartbeats;
    int records;
    int chunks;
    char error[256];
};

static void append(uint8_t **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *buf = realloc(*buf, *cap);
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = 0;
}

static void consume(uint8_t *buf, size_t *len, size_t n)
{
    memmove(buf, buf + n, *len - n);
    *len -= n;
    buf[*len] = 0;
}

/* Read what the socket has within `timeout_ms`: 1 read, 0 timeout, -1 closed or error. */
static int fill(struct it_sse *s, int timeout_ms)
{
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    uint8_t tmp[16384];
    ssize_t n;
    int r = poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms);

    if (r == 0) {
        return 0;
    }
    if (r < 0) {
        return -1;
    }
    n = read(s->fd, tmp, sizeof(tmp));
    if (n <= 0) {
        return -1;
    }
    append(&s->in, &s->in_len, &s->in_cap, tmp, (size_t)n);
    return 1;
}

static int fail(struct it_sse *s, const char *what)
{
    snprintf(s->error, sizeof(s->error), "%s", what);
    return -2;
}

static int read_head(struct it_sse *s)
{
    int64_t deadline = it_mono_ms() + 10000;
    char *end;
    char *line;
    char *save = NULL;

    while ((end = strstr((char *)s->in, "\r\n\r\n")) == NULL) {
        int r = fill(s, (int)(deadline - it_mono_ms()));

        if (r < 0 || (r == 0 && it_mono_ms() >= deadline)) {
            return fail(s, "no response headers");
        }
    }
    *end = 0;
    line = strtok_r((char *)s->in, "\r\n", &save);
    if (line == NULL || sscanf(line, "HTTP/1.1 %d", &s->status) != 1) {
        return fail(s, "bad status line");
    }
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL && s->n_headers < MAX_HEADERS) {
        char *colon = strchr(line, ':');

        if (colon == NULL) {
            return fail(s, "bad header line");
        }
        *colon = 0;
        snprintf(s->names[s->n_headers], sizeof(s->names[0]), "%s", line);
        colon++;
        while (*colon == ' ') {
            colon++;
        }
        snprintf(s->values[s->n_headers], sizeof(s->values[0]), "%s", colon);
        s->n_headers++;
    }
    consume(s->in, &s->in_len, (size_t)(end + 4 - (char *)s->in));
    return 0;
}

static void put_varint(uint8_t *out, size_t *n, size_t v)
{
    while (v >= 0x80) {
        out[(*n)++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[(*n)++] = (uint8_t)v;
}

struct it_sse *it_sse_open_raw(const char *method, const char *path, const void *body, size_t len,
                               const char *last_event_id)
{
    struct it_sse *s = calloc(1, sizeof(*s));
    struct sockaddr_in a = {0};
    char head[1024];
    int n;

    /* Both buffers always hold a NUL-terminated string (strstr on them). */
    append(&s->in, &s->in_len, &s->in_cap, "", 0);
    append(&s->sse, &s->sse_len, &s->sse_cap, "", 0);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)it_server_port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        it_sse_close(s);
        return NULL;
    }
    n = snprintf(head, sizeof(head),
                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n"
                 "Content-Length: %zu\r\n%s%s%s\r\n",
                 method, path, len, last_event_id ? "Last-Event-ID: " : "",
                 last_event_id ? last_event_id : "", last_event_id ? "\r\n" : "");
    if (write(s->fd, head, (size_t)n) != n ||
        (len > 0 && write(s->fd, body, len) != (ssize_t)len)) {
        it_sse_close(s);
        return NULL;
    }
    if (read_head(s) != 0) {
        s->status = -1;
    }
    return s;
}

struct it_sse *it_sse_open(const char *method, const char *path, const char *cell_id,
                           const char *last_event_id)
{
    uint8_t body[300];
    size_t n = 0;

    if (cell_id != NULL && cell_id[0] != '\0') {
        body[n++] = 0x0a; /* field 1, length-delimited */
        put_varint(body, &n, strlen(cell_id));
        memcpy(body + n, cell_id, strlen(cell_id));
        n += strlen(cell_id);
    }
    return it_sse_open_raw(method, path, body, n, last_event_id);
}

int it_sse_status(const struct it_sse *s)
{
    return s->status;
}

const char *it_sse_header(const struct it_sse *s, const char *name)
{
    for (int i = 0; i < s->n_headers; i++) {
        if (strcasecmp(s->names[i], name) == 0) {
            return s->values[i];
        }
    }
    return "";
}

/* One chunk from `in` into `sse`: 1 done, 0 need more, -2 framing error. */
static int dechunk(struct it_sse *s)
{
    char *crlf = strstr((char *)s->in, "\r\n");
    char *end = NULL;
    unsigned long size;
    size_t head;

    if (crlf == NULL) {
        return s->in_len > 64 ? fail(s, "chunk header too long") : 0;
    }
    if (!isxdigit(s->in[0])) {
        return fail(s, "chunk size is not hex");
    }
    size = strtoul((char *)s->in, &end, 16);
    if (end != crlf && *end != ';') {
        return fail(s, "junk after the chunk size");
    }
    head = (size_t)(crlf + 2 - (char *)s->in);
    if (s->in_len < head + size + 2) {
        return 0;
    }
    if (s->in[head + size] != '\r' || s->in[head + size + 1] != '\n') {
        return fail(s, "chunk data not followed by CRLF");
    }
    if (size == 0) {
        s->ended = 1;
    } else {
        append(&s->sse, &s->sse_len, &s->sse_cap, s->in + head, size);
        s->chunks++;
    }
    consume(s->in, &s->in_len, head + size + 2);
    return 1;
}

static int b64val(int c)
{
    const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c != 0 ? strchr(t, c) : NULL;

    return p ? (int)(p - t) : -1;
}

/* Strict standard base64 with padding. */
static int b64decode(const char *in, size_t n, uint8_t **out, size_t *len)
{
    uint8_t *o;
    size_t k = 0;

    if (n % 4 != 0) {
        return -1;
    }
    o = malloc(n / 4 * 3 + 1);
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;

        for (int j = 0; j < 4; j++) {
            if (in[i + j] == '=' && i + 4 == n && j >= 2) {
                v[j] = 0;
                pad++;
            } else if (pad > 0 || (v[j] = b64val(in[i + j])) < 0) {
                free(o);
                return -1;
            }
        }
        o[k++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
        if (pad < 2) {
            o[k++] = (uint8_t)(v[1] << 4 | v[2] >> 2);
        }
        if (pad < 1) {
            o[k++] = (uint8_t)(v[2] << 6 | v[3]);
        }
    }
    *out = o;
    *len = k;
    return 0;
}

/* One record from `sse`: 1 event, 2 heartbeat, 0 need more, -2 error. */
static int record(struct it_sse *s, struct it_sse_event *ev)
{
    char *end = strstr((char *)s->sse, "\n\n");
    char *p = (char *)s->sse;
    char *nl;
    long long id;
    size_t used;

    if (end == NULL) {
        return 0;
    }
    used = (size_t)(end + 2 - p);
    s->records++;
    if (p[0] == ':') {
        if (strchr(p, '\n') != end) {
            return fail(s, "a comment record with more than one line");
        }
        consume(s->sse, &s->sse_len, used);
        s->heartbeats++;
        return 2;
    }
    memset(ev, 0, sizeof(*ev));
    if (strncmp(p, "id: ", 4) != 0 || sscanf(p + 4, "%lld", &id) != 1) {
        return fail(s, "record does not start with an id line");
    }
    ev->id = id;
    p = strchr(p, '\n') + 1;
    if (strncmp(p, "event: ", 7) != 0 || (nl = strchr(p, '\n')) == NULL ||
        (size_t)(nl - p - 7) >= sizeof(ev->name)) {
        return fail(s, "second line is not an event line");
    }
    memcpy(ev->name, p + 7, (size_t)(nl - p - 7));
    p = nl + 1;
    if (strncmp(p, "data: ", 6) != 0 || (nl = strchr(p, '\n')) != end) {
        return fail(s, "third line is not the one data line");
    }
    if (b64decode(p + 6, (size_t)(nl - p - 6), &ev->data, &ev->len) != 0) {
        return fail(s, "data is not standard padded base64");
    }
    consume(s->sse, &s->sse_len, used);
    return 1;
}

int it_sse_next(struct it_sse *s, int timeout_ms, struct it_sse_event *ev)
{
    int64_t deadline = it_mono_ms() + timeout_ms;

    for (;;) {
        int r;

        if (s->sse != NULL && (r = record(s, ev)) != 0) {
            if (r == 2) {
                continue;
            }
            return r;
        }
        if (s->in != NULL && s->in_len > 0 && (r = dechunk(s)) != 0) {
            if (r < 0) {
                return r;
            }
            continue;
        }
        if (s->ended) {
            return -1;
        }
        r = fill(s, (int)(deadline - it_mono_ms()));
        if (r < 0) {
            return -1;
        }
        if (r == 0 && it_mono_ms() >= deadline) {
            return 0;
        }
    }
}

int it_sse_quiet(struct it_sse *s, int ms)
{
    struct it_sse_event ev;
    int r = it_sse_next(s, ms, &ev);

    if (r == 1) {
        snprintf(s->error, sizeof(s->error), "unexpected event %s id %lld", ev.name,
                 (long long)ev.id);
        it_sse_event_clear(&ev);
    }
    return r == 0;
}

int it_sse_heartbeats(const struct it_sse *s)
{
    return s->heartbeats;
}

int it_sse_records(const struct it_sse *s)
{
    return s->records;
}

int it_sse_chunks(const struct it_sse *s)
{
    return s->chunks;
}

const char *it_sse_error(const struct it_sse *s)
{
    return s->error;
}

void it_sse_event_clear(struct it_sse_event *ev)
{
    free(ev->data);
    ev->data = NULL;
}

void it_sse_close(struct it_sse *s)
{
    if (s == NULL) {
        return;
    }
    if (s->fd >= 0) {
        close(s->fd);
    }
    free(s->in);
    free(s->sse);
    free(s);
}

ProtobufCMessage *it_sse_decode(const struct it_sse_event *ev)
{
    static const struct {
        const char *name;
        const ProtobufCMessageDescriptor *d;
    } map[] = {
        {"desired_lrp_created", &models__desired_lrpcreated_event__descriptor},
        {"desired_lrp_changed", &models__desired_lrpchanged_event__descriptor},
        {"desired_lrp_removed", &models__desired_lrpremoved_event__descriptor},
        {"actual_lrp_instance_created", &models__actual_lrpinstance_created_event__descriptor},
        {"actual_lrp_instance_changed", &models__actual_lrpinstance_changed_event__descriptor},
        {"actual_lrp_instance_removed", &models__actual_lrpinstance_removed_event__descriptor},
        {"actual_lrp_crashed", &models__actual_lrpcrashed_event__descriptor},
        {"actual_lrp_created", &models__actual_lrpcreated_event__descriptor},
        {"actual_lrp_changed", &models__actual_lrpchanged_event__descriptor},
        {"actual_lrp_removed", &models__actual_lrpremoved_event__descriptor},
        {"task_created", &models__task_created_event__descriptor},
        {"task_changed", &models__task_changed_event__descriptor},
        {"task_removed", &models__task_removed_event__descriptor},
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(map[i].name, ev->name) == 0) {
            return protobuf_c_message_unpack(map[i].d, NULL, ev->len, ev->data);
        }
    }
    return NULL;
}
