/*
 * http.c - see http.h. One curl easy handle per client, reset before each
 * request; TLS settings (it_tls_client) apply to every client.
 */
#include "support/http.h"

#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "support/internal.h"
#include "support/server.h"

static struct {
    int tls;
    char ca_file[512];
    char cert_file[512];
    char key_file[512];
} tls;

static struct it_client *main_client;

struct it_client {
    CURL *h;
};

struct it_client *it_client_new(void)
{
    struct it_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        abort();
    }
    c->h = curl_easy_init();
    if (c->h == NULL) {
        abort();
    }
    return c;
}

void it_client_free(struct it_client *c)
{
    if (c == NULL) {
        return;
    }
    curl_easy_cleanup(c->h);
    free(c);
}

struct it_client *it_main_client(void)
{
    return main_client;
}

void it_http_main_open(void)
{
    main_client = it_client_new();
}

void it_http_main_close(void)
{
    it_client_free(main_client);
    main_client = NULL;
}

void it_resp_free(struct it_resp *r)
{
    if (r == NULL) {
        return;
    }
    free(r->body);
    memset(r, 0, sizeof(*r));
}

struct xfer {
    struct it_buf body;
    struct it_resp *out;
    const uint8_t *up;
    size_t up_len;
    size_t up_off;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct xfer *x = ud;
    it_buf_append(&x->body, p, sz * n);
    return sz * n;
}

static void header_value(const char *line, size_t len, const char *name, char *dst, size_t dstlen)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':') {
        return;
    }
    const char *v = line + nl + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) {
        end--;
    }
    size_t vl = (size_t)(end - v);
    if (vl >= dstlen) {
        vl = dstlen - 1;
    }
    memcpy(dst, v, vl);
    dst[vl] = '\0';
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = sz * n;

    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* a new response (e.g. after 100 Continue): forget earlier headers */
        x->out->content_type[0] = '\0';
        x->out->allow[0] = '\0';
    }
    header_value(p, len, "Content-Type", x->out->content_type, sizeof(x->out->content_type));
    header_value(p, len, "Allow", x->out->allow, sizeof(x->out->allow));
    return len;
}

static size_t on_read(char *p, size_t sz, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t room = sz * n;
    size_t left = x->up_len - x->up_off;
    size_t k = left < room ? left : room;
    /* small pieces, so a chunked upload really is several chunks */
    if (k > 16384) {
        k = 16384;
    }
    if (k > 0) {
        memcpy(p, x->up + x->up_off, k);
    }
    x->up_off += k;
    return k;
}

static int has_header(const char *const *headers, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        if (strncasecmp(headers[i], name, nl) == 0 && headers[i][nl] == ':') {
            return 1;
        }
    }
    return 0;
}

int it_client_request(struct it_client *c, const char *method, const char *path, const void *body,
                      size_t len, const char *const *headers, int chunked, struct it_resp *out,
                      char *errbuf, size_t errlen)
{
    static const uint8_t empty[1] = {0};
    char url[1024];
    char cerr[CURL_ERROR_SIZE] = "";
    struct curl_slist *hl = NULL;
    struct xfer x;
    curl_off_t clen = -1;
    CURLcode rc;
    int ret = -1;

    memset(out, 0, sizeof(*out));
    memset(&x, 0, sizeof(x));
    x.out = out;
    x.up = body ? body : empty;
    x.up_len = body ? len : 0;

    snprintf(url, sizeof(url), "%s%s", it_base_url(), path);
    curl_easy_reset(c->h);
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, it_valgrind() ? 180000L : 30000L);
    curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, cerr);
    if (tls.tls) {
        curl_easy_setopt(c->h, CURLOPT_CAINFO, tls.ca_file);
        if (tls.cert_file[0] != '\0') {
            curl_easy_setopt(c->h, CURLOPT_SSLCERT, tls.cert_file);
            curl_easy_setopt(c->h, CURLOPT_SSLKEY, tls.key_file);
        }
    }
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->h, CURLOPT_HEADERDATA, &x);

    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c->h, CURLOPT_POST, 1L);
        if (!has_header(headers, "Content-Type")) {
            hl = curl_slist_append(hl, "Content-Type: " IT_PROTOBUF_CTYPE);
        }
    } else if (strcmp(method, "GET") == 0 && body == NULL) {
        curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c->h, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
        if (body != NULL) {
            curl_easy_setopt(c->h, CURLOPT_POST, 1L);
        }
    }
    if (strcmp(method, "POST") == 0 || body != NULL) {
        if (chunked) {
            curl_easy_setopt(c->h, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(c->h, CURLOPT_READDATA, &x);
            hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
        } else {
            curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, (const char *)x.up);
            curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x.up_len);
        }
    }
    if (!has_header(headers, "Expect")) {
        hl = curl_slist_append(hl, "Expect:");
    }
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        hl = curl_slist_append(hl, headers[i]);
    }
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hl);

    rc = curl_easy_perform(c->h);
    if (rc != CURLE_OK) {
        snprintf(errbuf, errlen, "%s %s: %s (%s)", method, path, curl_easy_strerror(rc), cerr);
        goto out;
    }
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(c->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
    curl_easy_getinfo(c->h, CURLINFO_NUM_CONNECTS, &out->new_connections);
    out->content_length = (int64_t)clen;
    if (x.body.data == NULL) {
        it_buf_append(&x.body, "", 0);
    }
    out->body = x.body.data;
    out->len = x.body.len;
    x.body.data = NULL;
    ret = 0;
out:
    free(x.body.data);
    curl_slist_free_all(hl);
    return ret;
}

void it_request(const char *method, const char *path, const void *body, size_t len,
                const char *const *headers, struct it_resp *out)
{
    char err[512];
    if (it_client_request(main_client, method, path, body, len, headers, 0, out, err,
                          sizeof(err)) != 0) {
        fail_msg("transport failure: %s", err);
    }
}

void it_post_raw(const char *path, const void *body, size_t len, struct it_resp *out)
{
    it_request("POST", path, body, len, NULL, out);
}

void it_tls_client(const char *ca_file, const char *cert_file, const char *key_file)
{
    tls.tls = ca_file != NULL;
    snprintf(tls.ca_file, sizeof(tls.ca_file), "%s", ca_file != NULL ? ca_file : "");
    snprintf(tls.cert_file, sizeof(tls.cert_file), "%s", cert_file != NULL ? cert_file : "");
    snprintf(tls.key_file, sizeof(tls.key_file), "%s", key_file != NULL ? key_file : "");
}

int it_http_tls(void)
{
    return tls.tls;
}
