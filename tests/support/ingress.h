/*
 * ingress.h - the Loggregator agent stand-in for integration tests: a gRPC
 * server of loggregator.v2.Ingress/BatchSender over mutual TLS that records
 * every envelope (tests/support/ingress_standin.py, Debian's python3-grpcio),
 * run as a child process and driven from the test.
 *
 * Usage, in a group setup before it_server_start:
 *
 *     if (it_ingress_start() != 0) return -1;
 *     json_t *cfg = it_ingress_server_config();  // {"loggregator": {...}}
 *     ... merge, it_server_config(cfg), it_server_start(...) ...
 *
 * and it_ingress_stop() in the teardown. One stand-in per test process.
 * Functions print why on stderr and return -1 / NULL on failure; none
 * asserts, so they can run in a cmocka setup.
 */
#ifndef BBS_IT_SUPPORT_INGRESS_H
#define BBS_IT_SUPPORT_INGRESS_H

#include <jansson.h>

/*
 * Make throwaway certificates (a CA, the agent's server certificate for the
 * name "metron", a client certificate for the BBS and one from another CA),
 * start the stand-in on a free loopback port and wait until it listens.
 */
int it_ingress_start(void);

/* Quit the stand-in and remove its certificates. Safe when not started. */
void it_ingress_stop(void);

/* Its port (0 when not running). */
int it_ingress_port(void);

/*
 * The BBS config for this stand-in, a new object: {"loggregator": {
 * loggregator_use_v2_api, loggregator_api_port, loggregator_ca_path,
 * loggregator_cert_path, loggregator_key_path}}. With `untrusted` the
 * client identity is one the stand-in refuses (another CA).
 */
json_t *it_ingress_server_config(int untrusted);

/* Every envelope received so far (a new array; see ingress_standin.py), NULL on error. */
json_t *it_ingress_envelopes(void);

/* BatchSender calls seen so far; -1 on error. */
long it_ingress_streams(void);

/* Sum of the deltas of counter `name` over `envelopes`. */
unsigned long long it_ingress_counter_sum(json_t *envelopes, const char *name);

/* Gauges named `name` in `envelopes`: how many, and the last value in *last (if non-NULL). */
int it_ingress_gauge_count(json_t *envelopes, const char *name, double *last);

/* The last gauge envelope named `name` (borrowed from `envelopes`), NULL if none. */
json_t *it_ingress_last_gauge(json_t *envelopes, const char *name);

#endif /* BBS_IT_SUPPORT_INGRESS_H */
