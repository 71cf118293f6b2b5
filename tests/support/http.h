/*
 * http.h - the libcurl HTTP client the tests talk to the server with.
 *
 * The it_client_* functions never assert and are safe in worker threads
 * (one client per thread); it_request and it_post_raw use the main-thread
 * client and assert that the transport worked.
 */
#ifndef BBS_IT_SUPPORT_HTTP_H
#define BBS_IT_SUPPORT_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define IT_PROTOBUF_CTYPE "application/x-protobuf"

struct it_resp {
    long status;
    char content_type[128];
    char allow[128];
    int64_t content_length; /* -1 when the response had none */
    long new_connections;   /* connections opened for this request (0 = reused) */
    uint8_t *body;          /* malloc'd, NUL-terminated for convenience */
    size_t len;
};

void it_resp_free(struct it_resp *r);

struct it_client;

/* A client with its own curl easy handle (keep-alive across its requests). */
struct it_client *it_client_new(void);
void it_client_free(struct it_client *c);

/*
 * Perform one request. `method` is "POST", "GET", ...; `body` may be NULL.
 * `headers` is a NULL-terminated list of extra "Name: value" lines (may be
 * NULL); unless the list names a Content-Type, POSTs carry
 * Content-Type: application/x-protobuf. `chunked` sends the body with
 * chunked transfer encoding instead of Content-Length. Returns 0, or -1 with
 * a transport error text in `errbuf` (never asserts).
 */
int it_client_request(struct it_client *c, const char *method, const char *path, const void *body,
                      size_t len, const char *const *headers, int chunked, struct it_resp *out,
                      char *errbuf, size_t errlen);

/* The main-thread client (created by it_server_start). */
struct it_client *it_main_client(void);

/* POST raw bytes with the main client; asserts the transport worked. */
void it_post_raw(const char *path, const void *body, size_t len, struct it_resp *out);

/* Any method with the main client; asserts the transport worked. */
void it_request(const char *method, const char *path, const void *body, size_t len,
                const char *const *headers, struct it_resp *out);

/*
 * Talk TLS to the next server: the base URL becomes https://127.0.0.1:PORT,
 * every it_client (and the start-up readiness check) verifies the server
 * against `ca_file` and presents `cert_file` / `key_file` (both NULL: no
 * client certificate). Paths are copied. it_tls_client(NULL, NULL, NULL)
 * goes back to plain HTTP.
 */
void it_tls_client(const char *ca_file, const char *cert_file, const char *key_file);

#endif /* BBS_IT_SUPPORT_HTTP_H */
