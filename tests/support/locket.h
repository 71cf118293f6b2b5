/*
 * locket.h - the Locket stand-in for integration tests: a gRPC server
 * speaking Locket's service (models.Locket, mutual TLS) with Locket's
 * rules and TTLs, run as a child process (tests/support/locket_standin.py,
 * Debian's python3-grpcio) and driven from the test.
 *
 * Usage, in a group setup before it_server_start:
 *
 *     if (it_locket_start() != 0) return -1;
 *     json_t *cfg = it_locket_server_config();   // the four locket_* keys
 *     it_server_config(cfg);                      // (merge with your own keys)
 *     ... it_server_start(...) ...
 *     it_locket_register_cell("cell-1", "z1", NULL);
 *
 * and it_locket_stop() in the teardown. One stand-in per test process
 * (state is process-wide, like the stub auctioneer). Functions print why
 * on stderr and return -1 on failure; none asserts, so they can run in a
 * cmocka setup.
 */
#ifndef BBS_IT_SUPPORT_LOCKET_H
#define BBS_IT_SUPPORT_LOCKET_H

#include <jansson.h>

/*
 * Make throwaway certificates (a CA, the stand-in's server certificate for
 * 127.0.0.1, and a client certificate for the BBS), start the stand-in on
 * a free loopback port and wait until it listens. 0 or -1.
 */
int it_locket_start(void);

/* Quit the stand-in and remove its certificates. Safe when not started. */
void it_locket_stop(void);

/* "127.0.0.1:PORT" of the running stand-in ("" when none). */
const char *it_locket_address(void);

/*
 * The BBS config keys for this stand-in, a new object (json_decref it):
 * locket_address, locket_ca_cert_file, locket_client_cert_file,
 * locket_client_key_file, and uuid "bbs-it-uuid" (the lock's owner).
 */
json_t *it_locket_server_config(void);

/*
 * Paths of the stand-in's certificate files, for tests that vary the BBS
 * side: "ca" (the CA both sides trust), "client" / "client_key" (the BBS's
 * identity), "untrusted" / "untrusted_key" (a client identity from another
 * CA, which the stand-in refuses). NULL for another name.
 */
const char *it_locket_cert_path(const char *which);

/*
 * Write a presence with `value` (the CellPresence JSON, any text) under
 * `key` as a rep's Lock would: owner "rep-<key>", type presence, expiring
 * `ttl_s` seconds after this call (0 = never). Replaces an existing one.
 */
int it_locket_set_presence(const char *key, const char *value, int ttl_s);

/*
 * Register cell `cell_id` in `zone` with a typical presence (rep_address
 * http://<cell_id>.example:1800, rep_url https://<cell_id>.example:1801,
 * capacity 1024/2048/10, providers preloaded [cflinuxfs4] and docker).
 * `extra` (NULL = none) is a JSON object whose keys replace or add to the
 * presence; borrowed. Never expires.
 */
int it_locket_register_cell(const char *cell_id, const char *zone, json_t *extra);

/* The presence JSON it_locket_register_cell writes (new reference). */
json_t *it_locket_cell_json(const char *cell_id, const char *zone, json_t *extra);

/* Remove the resource `key` (a cell disappears at once). */
int it_locket_remove(const char *key);

/*
 * From now on every Fetch and FetchAll answers gRPC status `code` (grpc-go's
 * upper-case name, e.g. "UNAVAILABLE", "INTERNAL") with `message`; "OK" (or
 * NULL) restores normal answers. Lock and Release are not affected (the
 * server's leadership lock; it_locket_down cuts everything).
 */
int it_locket_fail(const char *code, const char *message);

/* Close the listener (Locket unreachable; resources kept) / reopen it on the same port. */
int it_locket_down(void);
int it_locket_up(void);

/* How many calls of `method` ("Fetch", "FetchAll", "Lock", "Release") arrived; -1 on error. */
long it_locket_calls(const char *method);

/* The owner of the live resource `key` into `out` ("" when none). 0 or -1. */
int it_locket_owner(const char *key, char *out, size_t len);

/* Write lock `key` held by `owner` (a competing holder), expiring in `ttl_s` s (0 = never). */
int it_locket_set_lock(const char *key, const char *owner, int ttl_s);

#endif /* BBS_IT_SUPPORT_LOCKET_H */
