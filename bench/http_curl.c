/*
 * http_curl.c - the libcurl transport (see http_int.h): https URLs, and
 * plain http with --client curl.
 *
 * One multi handle; a connection is an easy handle added to it for the
 * length of one request. The multi's connection cache keeps the sockets
 * alive between requests (HTTP/1.1, no pipelining), sized so that no busy
 * client's socket is ever evicted. The URL is set again only when the path
 * changes, and no request carries `Expect: 100-continue`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "http_int.h"

#define CURL_CONNECT_TIMEOUT 10L
#define CURL_URL_MAX         1024

int http_curl_init(struct bench_http *h)
{
    struct curl_slist *hd = NULL;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs("bbs-bench: curl_global_init failed\n", stderr);
        return -1;
    }
    h->multi = curl_multi_init();
    if (h->multi == NULL) {
        fputs("bbs-bench: curl_multi_init failed\n", stderr);
        return -1;
    }
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)(h->max_conns + 4));
    hd = curl_slist_append(hd, "Content-Type: application/x-protobuf");
    hd = curl_slist_append(hd, "Accept: application/x-protobuf");
    hd = curl_slist_append(hd, "Expect:");
    if (hd == NULL) {
        http_oom();
    }
    h->headers = hd;
    return 0;
}

void http_curl_free(struct bench_http *h)
{
    if (h->multi != NULL) {
        curl_multi_cleanup(h->multi);
        h->multi = NULL;
    }
    curl_slist_free_all(h->headers);
    h->headers = NULL;
    curl_global_cleanup();
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct conn_impl *ci = ud;
    size_t n = size * nmemb;

    http_reserve(ci, n);
    memcpy(ci->buf + ci->len, data, n);
    ci->len += n;
    return n;
}

void http_curl_conn_init(struct conn_impl *ci)
{
    struct bench_http *h = ci->pub.http;
    CURL *e = curl_easy_init();

    if (e == NULL) {
        http_oom();
    }
    ci->easy = e;
    curl_easy_setopt(e, CURLOPT_PRIVATE, ci);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, (struct curl_slist *)h->headers);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, ci);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ci->errbuf);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, CURL_CONNECT_TIMEOUT);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    if (ci->recv_hint > 65536) {
        /* Fewer, larger reads for list answers of many megabytes. */
        curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 512L * 1024);
    }
    if (h->ca_file != NULL) {
        curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
    }
    if (h->cert_file != NULL) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, h->cert_file);
    }
    if (h->key_file != NULL) {
        curl_easy_setopt(e, CURLOPT_SSLKEY, h->key_file);
    }
    if (h->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

void http_curl_conn_free(struct conn_impl *ci)
{
    curl_easy_cleanup(ci->easy);
    ci->easy = NULL;
}

void http_curl_post(struct conn_impl *ci)
{
    struct bench_http *h = ci->pub.http;

    if (ci->path != ci->last_path) {
        char url[CURL_URL_MAX];

        snprintf(url, sizeof(url), "%s%s", h->base, ci->path);
        curl_easy_setopt(ci->easy, CURLOPT_URL, url);
        ci->last_path = ci->path;
    }
    /* Never NULL: a NULL body would make libcurl read the request from stdin. */
    curl_easy_setopt(ci->easy, CURLOPT_POSTFIELDS, (const char *)ci->req);
    curl_easy_setopt(ci->easy, CURLOPT_POSTFIELDSIZE, (long)ci->req_len);
    if (curl_multi_add_handle(h->multi, ci->easy) != CURLM_OK) {
        fputs("bbs-bench: curl_multi_add_handle failed\n", stderr);
        abort();
    }
}

/* Hand every finished transfer to its owner. */
static void drain(struct bench_http *h)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
        CURL *e = m->easy_handle;
        CURLcode rc = m->data.result;
        struct conn_impl *ci = NULL;
        long status = 0;
        long connects = 0;

        if (m->msg != CURLMSG_DONE) {
            continue;
        }
        /* `m` dies with the removal below: everything needed is copied first. */
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&ci);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
        curl_multi_remove_handle(h->multi, e);
        h->counters.connects += (uint64_t)connects;
        if (rc != CURLE_OK) {
            http_complete(ci, 0, ci->buf, ci->len,
                          ci->errbuf[0] != '\0' ? ci->errbuf : curl_easy_strerror(rc));
        } else {
            http_complete(ci, status, ci->buf, ci->len, NULL);
        }
    }
}

void http_curl_turn(struct bench_http *h, int timeout_ms)
{
    int running = 0;

    if (timeout_ms > 0) {
        curl_multi_poll(h->multi, NULL, 0, timeout_ms, NULL);
    }
    curl_multi_perform(h->multi, &running);
    drain(h);
}
