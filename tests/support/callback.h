/*
 * callback.h - a recording stand-in for a task's completion_callback_url
 * (reference part 2, 11.6): a libmicrohttpd server inside the test process,
 * plain HTTP or HTTPS with mutual TLS (a client certificate from its own
 * throwaway CA is required), recording every request (method, path,
 * headers, body, the client certificate) and answering a scripted status:
 * the next statuses queued by it_cb_script, then the default (200). It can
 * stall the next requests (answer only after a delay) to make the BBS's
 * attempt time out. One thread per connection, so a stalled request
 * blocks no other.
 *
 * Up to two stand-ins per test process (e.g. one plain, one TLS). For
 * the TLS one, it_cb_server_config() gives the BBS config keys that make
 * the BBS present a certificate the stand-in trusts and trust the
 * stand-in. Functions never assert.
 */
#ifndef BBS_IT_SUPPORT_CALLBACK_H
#define BBS_IT_SUPPORT_CALLBACK_H

#include <stddef.h>

#include <jansson.h>

struct it_cb_call {
    char method[16];
    char path[512];
    char content_type[128]; /* "" when absent */
    int has_trace;          /* an X-Vcap-Request-Id header was sent */
    int verified;           /* TLS: the client certificate chains to the stand-in's CA */
    char cn[128];           /* its common name */
    char body[8192];
    size_t body_len;
};

struct it_cb;

/* Start on a free loopback port; `tls`: HTTPS with mutual TLS. NULL on failure. */
struct it_cb *it_cb_start(int tls);

/* Stop (waits for stalled requests) and free. Accepts NULL. */
void it_cb_stop(struct it_cb *cb);

/* "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT". */
const char *it_cb_url(const struct it_cb *cb);

/*
 * TLS only: {require_ssl, ca_file, cert_file, key_file} for the BBS config,
 * a new object: the BBS serves mutual TLS with a certificate of the
 * stand-in's CA, which it also presents to the stand-in (upstream uses the
 * server's identity for callbacks). The test client then needs
 * it_cb_tls_client().
 */
json_t *it_cb_server_config(const struct it_cb *cb);

/* TLS only: make the test's HTTP client talk mutual TLS to that BBS (it_tls_client). */
void it_cb_tls_client(const struct it_cb *cb);

/* Answer the next `n` requests with `statuses` in order, then the default. */
void it_cb_script(struct it_cb *cb, const unsigned *statuses, size_t n);

/* The status answered when no scripted one is left (default 200). */
void it_cb_set_status(struct it_cb *cb, unsigned status);

/* The next `count` requests are answered only after `ms` milliseconds. */
void it_cb_stall(struct it_cb *cb, int ms, size_t count);

/* Requests whose path starts with `prefix`, so far. */
size_t it_cb_count(struct it_cb *cb, const char *prefix);

/*
 * Wait up to `timeout_ms` until `n` requests whose path starts with
 * `prefix` arrived; copies up to `cap` of them (arrival order) to `out`.
 * Returns how many matched.
 */
size_t it_cb_wait(struct it_cb *cb, const char *prefix, size_t n, int timeout_ms,
                  struct it_cb_call *out, size_t cap);

#endif /* BBS_IT_SUPPORT_CALLBACK_H */
