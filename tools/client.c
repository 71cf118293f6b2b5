/*
 * client.c - bbsctl's BBS client over libcurl (see client.h).
 *
 * Answers are read as upstream's Go client reads them (reference 1.3): a
 * protobuf content type is decoded whatever the status, a non-protobuf
 * answer is InvalidResponse with its status, X-Cf-Routererror is a
 * RouterError, a transport timeout is a Timeout. cfdot asks for one
 * attempt (Retries: 1), so nothing is retried here.
 */
#include "client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "error.pb-c.h"

#define PROTO_CTYPE "application/x-protobuf"

/* ---- failures ---------------------------------------------------------------------------- */

int bbsctl_failure_exit(const struct bbsctl_failure *f)
{
    return f->bbs ? 4 : 5;
}

static const char *type_name(int type)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&models__error__type__descriptor, type);

    return v != NULL ? v->name : "UnknownError";
}

void bbsctl_failure_print(const struct bbsctl_failure *f)
{
    if (f->bbs) {
        fprintf(stderr, "Error: BBS error\nType %d: %s\nMessage: %s\n", f->type, type_name(f->type),
                f->message);
    } else {
        fprintf(stderr, "Error: %s\n", f->message);
    }
}

void bbsctl_failure_bbs(struct bbsctl_failure *f, int type, const char *fmt, ...)
{
    va_list ap;

    f->bbs = 1;
    f->type = type;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof(f->message), fmt, ap);
    va_end(ap);
}

static void failure_other(struct bbsctl_failure *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void failure_other(struct bbsctl_failure *f, const char *fmt, ...)
{
    va_list ap;

    f->bbs = 0;
    f->type = 0;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof(f->message), fmt, ap);
    va_end(ap);
}

/* ---- one request ------------------------------------------------------------------------- */

struct body {
    char *p;
    size_t len, cap;
};

static void body_append(struct body *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        char *np = realloc(b->p, cap);
        if (np == NULL) {
            fputs("bbsctl: out of memory\n", stderr);
            abort();
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    body_append(ud, p, sz * n);
    return sz * n;
}

struct hdrs {
    char ctype[128];
    char router_error[512];
    int router_error_set;
};

/* Copy header `name`'s value (trimmed) into `out` when `line` is that header. */
static int header_value(const char *line, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);

    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':') {
        return 0;
    }
    const char *v = line + nl + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) {
        end--;
    }
    size_t k = (size_t)(end - v) < cap - 1 ? (size_t)(end - v) : cap - 1;
    memcpy(out, v, k);
    out[k] = '\0';
    return 1;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct hdrs *h = ud;
    size_t len = sz * n;

    header_value(p, len, "Content-Type", h->ctype, sizeof(h->ctype));
    if (header_value(p, len, "X-Cf-Routererror", h->router_error, sizeof(h->router_error))) {
        h->router_error_set = 1;
    }
    return len;
}

/* A new easy handle for `t` + `path`, with TLS and timeout set. */
static CURL *easy_for(const struct bbsctl_target *t, const char *path, char *url, size_t urlcap,
                      char *errbuf)
{
    CURL *h = curl_easy_init();
    size_t ul = strlen(t->url);

    if (h == NULL) {
        return NULL;
    }
    if (ul > 0 && t->url[ul - 1] == '/') {
        ul--;
    }
    snprintf(url, urlcap, "%.*s%s", (int)ul, t->url, path);
    errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    if (t->timeout_s > 0) {
        curl_easy_setopt(h, CURLOPT_TIMEOUT, t->timeout_s);
    }
    if (strncmp(url, "https:", 6) == 0) {
        if (t->skip_verify) {
            curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        if (t->ca_file != NULL && t->ca_file[0] != '\0') {
            curl_easy_setopt(h, CURLOPT_CAINFO, t->ca_file);
        }
        if (t->cert_file != NULL && t->cert_file[0] != '\0') {
            curl_easy_setopt(h, CURLOPT_SSLCERT, t->cert_file);
        }
        if (t->key_file != NULL && t->key_file[0] != '\0') {
            curl_easy_setopt(h, CURLOPT_SSLKEY, t->key_file);
        }
    }
    return h;
}

/* A transport failure as the Go client reports it. */
static void transport_failure(struct bbsctl_failure *f, CURLcode rc, const char *method,
                              const char *url, const char *errbuf)
{
    const char *why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);

    if (rc == CURLE_OPERATION_TIMEDOUT) {
        bbsctl_failure_bbs(f, MODELS__ERROR__TYPE__Timeout, "%s \"%s\": %s", method, url, why);
    } else {
        failure_other(f, "%s \"%s\": %s", method, url, why);
    }
}

/* "application/x-protobuf; charset=..." -> 1 */
static int is_media(const char *ctype, const char *media)
{
    size_t ml = strlen(media);

    while (*ctype == ' ') {
        ctype++;
    }
    return strncasecmp(ctype, media, ml) == 0 &&
           (ctype[ml] == '\0' || ctype[ml] == ';' || ctype[ml] == ' ');
}

/* The message-typed field named "error" of `m`, or NULL. */
static const Models__Error *error_field(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, "error");

    if (fd == NULL || fd->type != PROTOBUF_C_TYPE_MESSAGE ||
        fd->descriptor != &models__error__descriptor) {
        return NULL;
    }
    return *(const Models__Error *const *)((const char *)m + fd->offset);
}

int bbsctl_call(const struct bbsctl_target *t, const char *path, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                struct bbsctl_failure *f)
{
    char url[2048], errbuf[CURL_ERROR_SIZE];
    struct body in = {0};
    struct hdrs hd = {0};
    uint8_t *out = NULL;
    size_t out_len = 0;
    struct curl_slist *headers = NULL;
    ProtobufCMessage *m = NULL;
    long status = 0;
    int rc = -1;
    CURL *h = easy_for(t, path, url, sizeof(url), errbuf);

    *resp = NULL;
    if (h == NULL) {
        failure_other(f, "cannot start a request");
        goto out;
    }
    if (req != NULL) {
        out_len = protobuf_c_message_get_packed_size(req);
        out = malloc(out_len ? out_len : 1);
        if (out == NULL) {
            abort();
        }
        protobuf_c_message_pack(req, out);
    }
    headers = curl_slist_append(headers, "Content-Type: " PROTO_CTYPE);
    headers = curl_slist_append(headers, "Accept: " PROTO_CTYPE);
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, out != NULL ? (const char *)out : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)out_len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &in);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &hd);

    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        transport_failure(f, cc, "Post", url, errbuf);
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (hd.router_error_set) {
        bbsctl_failure_bbs(f, MODELS__ERROR__TYPE__RouterError, "%s", hd.router_error);
        goto out;
    }
    if (!is_media(hd.ctype, PROTO_CTYPE)) {
        bbsctl_failure_bbs(f, MODELS__ERROR__TYPE__InvalidResponse,
                           "Invalid Response with status code: %ld", status);
        goto out;
    }
    m = protobuf_c_message_unpack(resp_desc, NULL, in.len, (const uint8_t *)in.p);
    if (m == NULL) {
        bbsctl_failure_bbs(f, MODELS__ERROR__TYPE__InvalidProtobufMessage,
                           "failed to unmarshal proto: the answer is not a %s", resp_desc->name);
        goto out;
    }
    const Models__Error *e = error_field(m);
    if (e != NULL) {
        bbsctl_failure_bbs(f, e->type, "%s", e->message != NULL ? e->message : "");
        goto out;
    }
    *resp = m;
    m = NULL;
    rc = 0;

out:
    if (m != NULL) {
        protobuf_c_message_free_unpacked(m, NULL);
    }
    curl_slist_free_all(headers);
    if (h != NULL) {
        curl_easy_cleanup(h);
    }
    free(out);
    free(in.p);
    return rc;
}

int bbsctl_get(const struct bbsctl_target *t, const char *path, char **body, size_t *len,
               struct bbsctl_failure *f)
{
    char url[2048], errbuf[CURL_ERROR_SIZE];
    struct body in = {0};
    struct curl_slist *headers = NULL;
    long status = 0;
    int rc = -1;
    CURL *h = easy_for(t, path, url, sizeof(url), errbuf);

    *body = NULL;
    *len = 0;
    if (h == NULL) {
        failure_other(f, "cannot start a request");
        goto out;
    }
    headers = curl_slist_append(headers, "Accept: application/json");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &in);

    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        transport_failure(f, cc, "Get", url, errbuf);
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        bbsctl_failure_bbs(f, MODELS__ERROR__TYPE__InvalidResponse,
                           "Invalid Response with status code: %ld", status);
        goto out;
    }
    if (in.p == NULL) {
        body_append(&in, "", 0);
    }
    *body = in.p;
    *len = in.len;
    in.p = NULL;
    rc = 0;

out:
    curl_slist_free_all(headers);
    if (h != NULL) {
        curl_easy_cleanup(h);
    }
    free(in.p);
    return rc;
}

/* ---- server-sent events ------------------------------------------------------------------ */

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

long bbsctl_base64_decode(const char *in, size_t len, uint8_t *out)
{
    size_t o = 0;

    if (len % 4 != 0) {
        return -1;
    }
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)in[i + k];
            if (c == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad > 0) {
                return -1; /* data after padding */
            } else {
                v[k] = b64_value(c);
                if (v[k] < 0) {
                    return -1;
                }
            }
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[o++] = (uint8_t)(w >> 16);
        if (pad < 2) {
            out[o++] = (uint8_t)(w >> 8);
        }
        if (pad < 1) {
            out[o++] = (uint8_t)w;
        }
    }
    return (long)o;
}

static void grow(char **p, size_t *cap, size_t need)
{
    if (need <= *cap) {
        return;
    }
    size_t c = *cap ? *cap : 256;
    while (c < need) {
        c *= 2;
    }
    char *np = realloc(*p, c);
    if (np == NULL) {
        fputs("bbsctl: out of memory\n", stderr);
        abort();
    }
    *p = np;
    *cap = c;
}

/* One complete line (without its end of line). Blank: dispatch the record. */
static int sse_line(struct bbsctl_sse *p, const char *line, size_t len, bbsctl_event_fn fn,
                    void *ud, char *why, size_t whylen)
{
    if (len == 0) {
        int rc = 0;
        if (p->name[0] != '\0') {
            uint8_t *bin = malloc(p->data_len / 4 * 3 + 3);
            if (bin == NULL) {
                abort();
            }
            long n = bbsctl_base64_decode(p->data != NULL ? p->data : "", p->data_len, bin);
            if (n < 0) {
                snprintf(why, whylen, "event %s: data is not base64", p->name);
                rc = -1;
            } else {
                fn(ud, p->stream, p->name, bin, (size_t)n);
            }
            free(bin);
        }
        p->name[0] = '\0';
        p->data_len = 0;
        return rc;
    }
    if (line[0] == ':') {
        return 0; /* comment (heartbeat) */
    }
    const char *colon = memchr(line, ':', len);
    size_t fl = colon != NULL ? (size_t)(colon - line) : len;
    const char *v = colon != NULL ? colon + 1 : line + len;
    size_t vl = len - (size_t)(v - line);
    if (vl > 0 && *v == ' ') {
        v++;
        vl--;
    }
    if (fl == 5 && memcmp(line, "event", 5) == 0) {
        size_t k = vl < sizeof(p->name) - 1 ? vl : sizeof(p->name) - 1;
        memcpy(p->name, v, k);
        p->name[k] = '\0';
    } else if (fl == 4 && memcmp(line, "data", 4) == 0) {
        grow(&p->data, &p->data_cap, p->data_len + vl + 1);
        memcpy(p->data + p->data_len, v, vl);
        p->data_len += vl;
        p->data[p->data_len] = '\0';
    }
    /* id:, retry: and unknown fields are ignored, as SSE says. */
    return 0;
}

int bbsctl_sse_feed(struct bbsctl_sse *p, const char *buf, size_t len, bbsctl_event_fn fn, void *ud,
                    char *why, size_t whylen)
{
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (c == '\n') {
            size_t ll = p->line_len;
            if (ll > 0 && p->line[ll - 1] == '\r') {
                ll--;
            }
            p->line_len = 0;
            if (sse_line(p, p->line != NULL ? p->line : "", ll, fn, ud, why, whylen) != 0) {
                return -1;
            }
            continue;
        }
        grow(&p->line, &p->line_cap, p->line_len + 2);
        p->line[p->line_len++] = c;
        p->line[p->line_len] = '\0';
    }
    return 0;
}

void bbsctl_sse_clear(struct bbsctl_sse *p)
{
    free(p->line);
    free(p->data);
    memset(p, 0, sizeof(*p));
}

struct stream {
    CURL *h;
    struct curl_slist *headers;
    uint8_t *body;
    struct bbsctl_sse sse;
    struct hdrs hd;
    bbsctl_event_fn fn;
    void *ud;
    int broken;
    char why[256];
    char url[2048];
    char errbuf[CURL_ERROR_SIZE];
};

static size_t on_stream(char *p, size_t sz, size_t n, void *ud)
{
    struct stream *s = ud;
    long status = 0;

    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        return sz * n; /* an error page: judged when the transfer ends */
    }
    if (bbsctl_sse_feed(&s->sse, p, sz * n, s->fn, s->ud, s->why, sizeof(s->why)) != 0) {
        s->broken = 1;
        return 0; /* aborts the transfer */
    }
    fflush(stdout);
    return sz * n;
}

int bbsctl_streams_run(const struct bbsctl_target *t, const struct bbsctl_stream_spec *specs, int n,
                       bbsctl_event_fn fn, void *ud, struct bbsctl_failure *f)
{
    struct stream *ss = calloc((size_t)n, sizeof(*ss));
    CURLM *multi = curl_multi_init();
    int rc = -1, running = 0, failed = 0;

    if (ss == NULL || multi == NULL) {
        abort();
    }
    for (int i = 0; i < n; i++) {
        struct stream *s = &ss[i];
        size_t len = 0;
        s->fn = fn;
        s->ud = ud;
        s->sse.stream = i;
        s->h = easy_for(t, specs[i].path, s->url, sizeof(s->url), s->errbuf);
        if (s->h == NULL) {
            abort();
        }
        /* A stream lasts as long as the user wants: no whole-request timeout. */
        curl_easy_setopt(s->h, CURLOPT_TIMEOUT, 0L);
        if (specs[i].body != NULL) {
            len = protobuf_c_message_get_packed_size(specs[i].body);
            s->body = malloc(len ? len : 1);
            if (s->body == NULL) {
                abort();
            }
            protobuf_c_message_pack(specs[i].body, s->body);
        }
        s->headers = curl_slist_append(s->headers, "Content-Type: " PROTO_CTYPE);
        s->headers = curl_slist_append(s->headers, "Accept: text/event-stream");
        s->headers = curl_slist_append(s->headers, "Expect:");
        curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->headers);
        /* A GET with a body, as upstream's client sends on /v1/events.r1. */
        curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, s->body != NULL ? (const char *)s->body : "");
        curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE, (long)len);
        curl_easy_setopt(s->h, CURLOPT_CUSTOMREQUEST, specs[i].method);
        curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_stream);
        curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
        curl_easy_setopt(s->h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(s->h, CURLOPT_HEADERDATA, &s->hd);
        curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
        curl_multi_add_handle(multi, s->h);
    }

    do {
        CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK) {
            failure_other(f, "event stream: %s", curl_multi_strerror(mc));
            failed = 1;
            break;
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE) {
                continue;
            }
            struct stream *s = NULL;
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            if (failed) {
                continue;
            }
            if (s->broken) {
                failure_other(f, "event stream %s: %s", s->url, s->why);
                failed = 1;
            } else if (msg->data.result != CURLE_OK && status != 200) {
                /* Could not subscribe: cfdot's ConvertError makes it an UnknownError. */
                const char *why = s->errbuf[0] ? s->errbuf : curl_easy_strerror(msg->data.result);
                bbsctl_failure_bbs(f, MODELS__ERROR__TYPE__UnknownError, "%s \"%s\": %s",
                                   specs[s - ss].method[0] == 'G' ? "Get" : "Post", s->url, why);
                failed = 1;
            } else if (status != 200) {
                bbsctl_failure_bbs(f, MODELS__ERROR__TYPE__UnknownError, "bad response code: %ld",
                                   status);
                failed = 1;
            } else if (msg->data.result != CURLE_OK) {
                failure_other(f, "event stream %s: %s", s->url,
                              s->errbuf[0] ? s->errbuf : curl_easy_strerror(msg->data.result));
                failed = 1;
            }
        }
        if (failed || running == 0) {
            break;
        }
        mc = curl_multi_poll(multi, NULL, 0, 1000, NULL);
        if (mc != CURLM_OK) {
            failure_other(f, "event stream: %s", curl_multi_strerror(mc));
            failed = 1;
            break;
        }
    } while (running > 0);
    rc = failed ? -1 : 0;

    for (int i = 0; i < n; i++) {
        curl_multi_remove_handle(multi, ss[i].h);
        curl_easy_cleanup(ss[i].h);
        curl_slist_free_all(ss[i].headers);
        free(ss[i].body);
        bbsctl_sse_clear(&ss[i].sse);
    }
    curl_multi_cleanup(multi);
    free(ss);
    return rc;
}
