/*
 * http_int.h - what http.c shares with its two transports.
 *
 * http_raw.c speaks HTTP/1.1 itself over non-blocking keep-alive sockets
 * and epoll, with GnuTLS for https (tls.h): one send and usually one recv
 * per request, so the load generator spends little CPU per request.
 * http_curl.c drives libcurl's multi interface instead, as a second
 * opinion (--client curl). Both keep one socket per busy connection,
 * reused across requests.
 *
 * A transport calls http_complete() exactly once per posted request.
 */
#ifndef BENCH_HTTP_INT_H
#define BENCH_HTTP_INT_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>

#include "http.h"

struct bench_http {
    int use_curl;
    char *base; /* URL without a trailing slash */
    size_t inflight;
    uint64_t posted; /* requests posted so far: tells the loop a callback posted */
    struct bench_http_counters counters;

    /* http_curl.c */
    void *multi;   /* CURLM * */
    void *headers; /* struct curl_slist * */
    char *ca_file;
    char *cert_file;
    char *key_file;
    int insecure;
    size_t max_conns;

    /* http_raw.c */
    int epfd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char host[256]; /* without brackets or port: what the certificate must name */
    char host_header[320];
    int tls; /* https: every socket carries a TLS session */
    gnutls_certificate_credentials_t cred;
};

struct conn_impl {
    struct bench_conn pub; /* first: a `struct bench_conn *` converts back */
    const char *path;
    uint8_t *req; /* packed request body */
    size_t req_len;
    size_t req_cap;
    uint8_t *buf; /* bytes received */
    size_t len;
    size_t cap;
    size_t recv_hint;
    int busy;
    char errbuf[256];

    /* http_curl.c */
    void *easy; /* CURL * */
    const char *last_path;

    /* http_raw.c */
    int fd;
    gnutls_session_t tls;
    int state;
    int reused;  /* the request went out on a socket that had served before */
    int retried; /* and was sent again on a new one after that socket closed */
    uint32_t events;
    char *out;
    size_t out_len;
    size_t out_off;
    size_t out_cap;
    size_t scan;
    size_t hdr_end;
    long status;
    int64_t clen;
    int chunked;
    int close_after;
    int ck_state;
    int64_t ck_left;
    size_t ck_in;
    size_t ck_out;
};

__attribute__((noreturn)) void http_oom(void);
void *http_realloc(void *p, size_t n);

/* Make room for `more` bytes after ci->len in ci->buf. */
void http_reserve(struct conn_impl *ci, size_t more);

/*
 * Finish the request in flight on `ci`: `status` 0 means the transport
 * failed (`error` says why). Updates counters and calls the owner's `done`.
 */
void http_complete(struct conn_impl *ci, long status, const uint8_t *body, size_t len,
                   const char *error);

int http_curl_init(struct bench_http *h);
void http_curl_free(struct bench_http *h);
void http_curl_conn_init(struct conn_impl *ci);
void http_curl_conn_free(struct conn_impl *ci);
void http_curl_post(struct conn_impl *ci);
/* Process I/O, waiting up to `timeout_ms` for some when nothing is ready. */
void http_curl_turn(struct bench_http *h, int timeout_ms);

int http_raw_init(struct bench_http *h);
void http_raw_free(struct bench_http *h);
void http_raw_conn_init(struct conn_impl *ci);
void http_raw_conn_free(struct conn_impl *ci);
void http_raw_post(struct conn_impl *ci);
void http_raw_turn(struct bench_http *h, int timeout_ms);

#endif /* BENCH_HTTP_INT_H */
