/*
 * http.h - the API listener (libmicrohttpd, HTTP/1.1 keep-alive, a thread
 * pool, mutual TLS when configured), the health listener, and the context
 * every handler gets.
 *
 * Transport rules follow upstream (reference 1.1-1.3): every route is
 * POST today (the route table, src/http/routes.c, names each route's
 * method); the protobuf answer is HTTP 200 with the Error inside; 404 for
 * an unknown path; 405 for another method, with Allow listing the table's
 * methods for the path; with require_ssl
 * a client without a certificate from ca_file is refused in the TLS
 * handshake (TLS 1.2 with ECDHE-RSA AES-GCM, or TLS 1.3). Beyond upstream:
 * a request body cap (413 with the route's response message carrying
 * InvalidRequest), a deadline for a request to arrive completely
 * (http_read_timeout, also against clients that trickle bytes), an idle
 * timeout, a connection limit, a plain-text 400 for plain HTTP sent to the
 * TLS port, and a drain on stop that ends streams at once.
 */
#ifndef BBS_HTTP_H
#define BBS_HTTP_H

#include "bbs/auction.h"
#include "bbs/config.h"
#include "bbs/effects.h"
#include "bbs/error.h"
#include "bbs/metrics.h"
#include "bbs/store.h"

/* What handlers share; borrowed by the server for its whole life. */
struct bbs_hub; /* hub.h */

struct bbs_ctx {
    struct bbs_store *store;
    struct bbs_effects *effects; /* after-commit consumer of change records (effects.h) */
    const struct bbs_config *cfg;
    struct bbs_locket *locket;   /* cells (locket.h); NULL when no locket_address */
    struct bbs_hub *hub;         /* the event streams' producer */
    struct bbs_metrics *metrics; /* request counts and latencies (metrics.h); NULL = none */
    /*
     * The "leader" check of GET /v1/diagnostics: 1 when this server holds
     * leadership now (0 otherwise), with a reason in `reason` (len bytes).
     * NULL: a single server without leader election, reported as leader.
     * Leadership fills it (leader_arg is its argument).
     */
    int (*leader_held)(void *leader_arg, char *reason, size_t len);
    void *leader_arg;
};

struct bbs_http;

/* A metrics object whose per-route series are this server's routes (metrics.h). */
struct bbs_metrics *bbs_http_metrics_new(void);

/* The TLS files of a config, read and checked. */
struct bbs_http_tls;

/*
 * With cfg->require_ssl, read cert_file, key_file and ca_file and check
 * them (PEM certificates parse, the server key is RSA and matches
 * cert_file): returns 0 and a new `*out`. Without require_ssl returns 0
 * and `*out` = NULL (plain HTTP). On failure returns -1 and err
 * (InvalidRequest) names the config key. Free with bbs_http_tls_free().
 */
BBS_MUST_CHECK int bbs_http_tls_load(const struct bbs_config *cfg, struct bbs_http_tls **out,
                                     struct bbs_error *err);

/* Accepts NULL; clears the key from memory first. */
void bbs_http_tls_free(struct bbs_http_tls *tls);

/*
 * Open a listening TCP socket on `addr` (IPv4 "host:port"; host empty =
 * any, "localhost" = loopback), with SO_REUSEADDR and without
 * SO_REUSEPORT. Returns the socket, or -1 with err: `key` named for an
 * address that does not parse, else "cannot listen on <addr>: <OS error>"
 * (e.g. "Address already in use"). Open both listeners before any slow
 * start-up work so that a port in use stops the server first. The socket
 * is the caller's until handed to bbs_http_start / bbs_health_start.
 */
BBS_MUST_CHECK int bbs_http_listen(const char *key, const char *addr, struct bbs_error *err);

/*
 * Serve on `listen_fd` (from bbs_http_listen(cfg->listen_address)), with
 * mutual TLS when `tls` is non-NULL. Takes `listen_fd`, on failure too
 * (libmicrohttpd closes it at stop; after a failed start the process is
 * expected to exit). `cfg`, `ctx` and `tls` are borrowed until
 * bbs_http_stop(). NULL with err set on failure.
 */
struct bbs_http *bbs_http_start(const struct bbs_config *cfg, struct bbs_ctx *ctx,
                                const struct bbs_http_tls *tls, int listen_fd,
                                struct bbs_error *err);

/*
 * Stop accepting connections; end every open stream (long-lived response)
 * at once; let every unary request whose headers have arrived finish and
 * be answered (with Connection: close) for up to
 * cfg->http_shutdown_timeout; close the rest; free. Accepts NULL.
 */
void bbs_http_stop(struct bbs_http *h);

/*
 * Close every connection whose request has not arrived completely within
 * http_read_timeout (slowloris: libmicrohttpd's own timeout only measures
 * inactivity). Call periodically (every 50-100 ms) from one thread; cheap
 * when nothing is due. Accepts NULL.
 */
void bbs_http_reap(struct bbs_http *h);

/* Set once a handler met an Unrecoverable error (the process should exit). */
int bbs_http_unrecoverable(const struct bbs_http *h);

struct bbs_health;

/*
 * The health listener on `listen_fd` (from
 * bbs_http_listen(cfg->health_address)): plain HTTP, a thread per
 * connection (at most 64), 200 with an empty body for any path and method
 * (reference 1.1), so process monitors need no certificate; with `metrics`
 * (borrowed until stop; NULL = none) GET /metrics answers its Prometheus
 * text (format 0.0.4); GET /v1/discover, /v1/diagnostics and /v1/stats the
 * operator JSON (bbs_health_set_ctx). Takes
 * `listen_fd` as bbs_http_start does. NULL with err set on failure.
 */
struct bbs_health *bbs_health_start(const struct bbs_config *cfg, int listen_fd,
                                    struct bbs_metrics *metrics, struct bbs_error *err);

/*
 * Give the health listener the context its /v1/diagnostics and /v1/stats
 * check with (diag: docs/api.md), once start-up has made it; NULL takes it
 * back (before what it points to is freed). Waits for a diagnostics
 * answer in progress. Until set, they answer "starting" (FAIL / no
 * counts); /v1/discover needs none.
 */
void bbs_health_set_ctx(struct bbs_health *h, struct bbs_ctx *ctx);

/* Accepts NULL. */
void bbs_health_stop(struct bbs_health *h);

/*
 * Leadership as the health listener reports it: every answer stays 200
 * with an empty body (reference 1.1) and carries the header
 * "X-BBS-Role: leader" or "X-BBS-Role: standby" (the default until set).
 */
void bbs_health_set_leader(struct bbs_health *h, int leader);

struct bbs_debug;

/*
 * The debug server on `listen_fd` (from bbs_http_listen("debug_address",
 * ...)): plain HTTP, one thread; /log-level sets the log level at run time
 * (reference-2 13.3), every other path is 404. Takes `listen_fd` as
 * bbs_http_start does. NULL with err set on failure.
 */
struct bbs_debug *bbs_debug_start(const struct bbs_config *cfg, int listen_fd,
                                  struct bbs_error *err);

/* Accepts NULL. */
void bbs_debug_stop(struct bbs_debug *d);

/* The level a /log-level body names (enum bbs_log_level), or -1 for any other body. */
int bbs_debug_log_level(const char *body, size_t len);

#endif /* BBS_HTTP_H */
