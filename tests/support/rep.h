/*
 * rep.h - a recording stand-in rep for integration tests: a libmicrohttpd
 * server inside the test process serving HTTPS with mutual TLS (a client
 * certificate from its own throwaway CA is required), recording every
 * request the BBS makes to it (method, path, headers, body, whether the
 * client certificate verified) and answering each with a settable status
 * (202 by default).
 *
 * Usage, in a group setup before it_server_start:
 *
 *     if (it_rep_start() != 0) return -1;
 *     json_t *cfg = it_rep_server_config();   // rep_ca_cert, rep_client_cert, rep_client_key
 *     ... merge into the server's config, it_server_start(...) ...
 *     register a cell whose rep_url is it_rep_url() (support/locket.h)
 *
 * and it_rep_stop() in the teardown. One stand-in per test process.
 * Functions never assert (they print why on stderr and return -1).
 */
#ifndef BBS_IT_SUPPORT_REP_H
#define BBS_IT_SUPPORT_REP_H

#include <stddef.h>

#include <jansson.h>

/* One request the stand-in received. */
struct it_rep_call {
    char method[16];
    char path[512];
    char trace_id[128];     /* X-Vcap-Request-Id, "" when absent */
    char content_type[128]; /* "" when absent */
    int has_content_length;
    long content_length;
    int verified; /* the client certificate chains to the stand-in's CA */
    char cn[128]; /* its common name */
    char body[4096];
};

/* Make the certificates, start on a free loopback port. 0 or -1. */
int it_rep_start(void);

/* Stop and remove the certificates. Safe when not started. */
void it_rep_stop(void);

/* "https://127.0.0.1:PORT" of the running stand-in. */
const char *it_rep_url(void);

/*
 * The BBS config keys for this stand-in, a new object (json_decref it):
 * rep_ca_cert, rep_client_cert, rep_client_key, rep_require_tls true.
 */
json_t *it_rep_server_config(void);

/* The status every later request is answered with (default 202). */
void it_rep_set_status(unsigned status);

/* Requests whose path starts with `prefix`, so far. */
size_t it_rep_count(const char *prefix);

/*
 * Wait up to `timeout_ms` until `n` requests whose path starts with
 * `prefix` arrived; copies up to `cap` of them, in arrival order, to
 * `out`. Returns how many matched (may be fewer than `n` on timeout).
 */
size_t it_rep_wait(const char *prefix, size_t n, int timeout_ms, struct it_rep_call *out,
                   size_t cap);

#endif /* BBS_IT_SUPPORT_REP_H */
