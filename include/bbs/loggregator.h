/*
 * loggregator.h - metrics to the local Loggregator agent over its v2 gRPC
 * ingress (reference-2 13.1): HTTP/2 with mutual TLS, made with libcurl.
 *
 * Like upstream's client (go-loggregator through diego-logging-client) it
 * keeps ONE client-streaming call of loggregator.v2.Ingress/BatchSender
 * open and writes each batch of envelopes to it as one length-prefixed
 * EnvelopeBatch message; the agent answers only when the stream ends. The
 * call runs on the emitter's own thread (a curl multi loop); senders only
 * queue packed envelopes under a short lock and wake it, so a slow or
 * absent agent never blocks anyone. When the stream breaks it is
 * re-opened on the next send (at most once a second); envelopes queued
 * past `queue_max`, or queued while the agent is unreachable, are dropped
 * and counted (stats), and the first failure of a series is logged.
 *
 * The agent's certificate is verified against `ca_file` for the name
 * "metron" (as go-loggregator does), dialling 127.0.0.1:<port>.
 *
 * Not done here: which metrics are sent when (worker/report.c).
 */
#ifndef BBS_LOGGREGATOR_H
#define BBS_LOGGREGATOR_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/error.h"

struct bbs_loggregator_config {
    int port;                /* loggregator_api_port; 0 = 3458 (the agent's default) */
    const char *ca_file;     /* loggregator_ca_path */
    const char *cert_file;   /* loggregator_cert_path */
    const char *key_file;    /* loggregator_key_path */
    const char *source_id;   /* loggregator_source_id; NULL or "" = "bbs" */
    const char *instance_id; /* loggregator_instance_id; may be "" */
    const char *origin;      /* loggregator_job_origin: tag "origin" on every envelope; "" none */
    const char *server_name; /* name the agent's certificate must have; NULL = "metron" */
    size_t batch_max;        /* envelopes per EnvelopeBatch; 0 = 100 */
    size_t queue_max;        /* envelopes waiting at most; 0 = 10000 */
};

struct bbs_loggregator_stats {
    uint64_t queued;  /* envelopes accepted */
    uint64_t written; /* envelopes handed to an open stream */
    uint64_t dropped; /* envelopes not delivered: queue full, agent unreachable, stream broke */
    uint64_t streams; /* BatchSender calls opened */
};

struct bbs_loggregator;

/*
 * An emitter for `cfg` (copied). The CA, certificate and key files are
 * required and must load (certificate matching its key); NULL with err
 * (InvalidRequest naming the problem) otherwise. Nothing is dialled yet.
 */
struct bbs_loggregator *bbs_loggregator_new(const struct bbs_loggregator_config *cfg,
                                            struct bbs_error *err);

/*
 * Reach the agent now, as upstream does once at start-up before anything
 * else (diego-logging-client dials with grpc.WithBlock and a one-second
 * timeout; failing, the BBS logs failed-to-initialize-metron-client and
 * exits 1): within `timeout_ns`, connect to 127.0.0.1:<port>, complete the
 * mutual-TLS handshake and get an HTTP/2 answer (a call of
 * /bbs.StartupProbe/Dial, a method no agent has: gRPC answers
 * Unimplemented without running any handler; any status counts, the point
 * is the connection). -1 with UnknownError naming what failed.
 */
BBS_MUST_CHECK int bbs_loggregator_dial(struct bbs_loggregator *lg, int64_t timeout_ns,
                                        struct bbs_error *err);

/* Start the emitter thread. -1 with UnknownError if it cannot start. */
BBS_MUST_CHECK int bbs_loggregator_start(struct bbs_loggregator *lg, struct bbs_error *err);

/*
 * Queue a gauge envelope with one value `name` = `value` in `unit`
 * ("nanos", "Metric"), plus the tag `tag_key`=`tag_value` when tag_key is
 * non-NULL. Strings are copied. Never blocks. `lg` NULL: nothing.
 */
void bbs_loggregator_gauge(struct bbs_loggregator *lg, const char *name, double value,
                           const char *unit, const char *tag_key, const char *tag_value);

/* Queue a counter envelope adding `delta` to `name`. Never blocks. `lg` NULL: nothing. */
void bbs_loggregator_counter(struct bbs_loggregator *lg, const char *name, uint64_t delta);

/* The counters (lock-free). */
void bbs_loggregator_stats(const struct bbs_loggregator *lg, struct bbs_loggregator_stats *out);

/*
 * Stop: what is queued is written, the stream is ended and its answer
 * awaited, all within about a second; then free. Accepts NULL.
 */
void bbs_loggregator_free(struct bbs_loggregator *lg);

/* ---- exposed for the unit tests ---- */

/*
 * Pack one envelope (timestamp `ts_ns`, source and instance ids, the
 * origin tag when non-empty, the extra tag when `tag_key` is non-NULL) as
 * a counter (`unit` NULL: `name` and `delta`) or a gauge (`name`, `value`,
 * `unit`). Returns the bytes (malloc'd; *len set).
 */
uint8_t *bbs_loggregator_pack(int64_t ts_ns, const char *source_id, const char *instance_id,
                              const char *origin, const char *name, double value, uint64_t delta,
                              const char *unit, const char *tag_key, const char *tag_value,
                              size_t *len);

#endif /* BBS_LOGGREGATOR_H */
