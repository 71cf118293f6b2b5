/*
 * rep.h - calls to a cell's rep (reference 9.2): stop an LRP instance,
 * update one (internal routes, metric tags), cancel a task. Each is queued
 * on the outbox (outbox.h) as one request; failures are logged and counted
 * there. As upstream's rep client (rep/client.go) there are no retries,
 * except that an update answered 404 (an old rep) is sent again on the v1
 * route with the internal routes only, when it has internal routes, and
 * that retire's stop is sent up to 5 times (bbs_rep_stop_lrp_retry), as
 * upstream's retire loop does. Which of a cell's addresses is called is
 * bbs_rep_pick_url's rule.
 */
#ifndef BBS_REP_H
#define BBS_REP_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/error.h"
#include "bbs/outbox.h"

/* rep.LRPUpdate. Strings borrowed; NULL arrays are JSON null. */
struct bbs_rep_lrp_update {
    const char *instance_guid;
    const char *process_guid;
    int32_t index;
    const char *domain;
    const char *const *internal_routes; /* hostnames */
    size_t n_internal_routes;
    const char *const *metric_tag_names; /* with metric_tag_values */
    const char *const *metric_tag_values;
    size_t n_metric_tags;
};

struct bbs_rep;

/* A client sending through `outbox` (borrowed, must outlive it); `timeout_ns` per call. */
struct bbs_rep *bbs_rep_new(struct bbs_outbox *outbox, int64_t timeout_ns);

/* POST {rep_url}/v1/lrps/{process_guid}/instances/{instance_guid}/stop, no body; 202. */
void bbs_rep_stop_lrp(struct bbs_rep *r, const char *rep_url, const char *process_guid,
                      const char *instance_guid, const char *trace_id);

/* PUT {rep_url}/v2/lrps/{process_guid}/instances/{instance_guid}; 202 (404: v1 once, above). */
void bbs_rep_update_lrp(struct bbs_rep *r, const char *rep_url, const struct bbs_rep_lrp_update *u,
                        const char *trace_id);

/* POST {rep_url}/v1/tasks/{task_guid}/cancel, no body; 202. */
void bbs_rep_cancel_task(struct bbs_rep *r, const char *rep_url, const char *task_guid,
                         const char *trace_id);

/*
 * The update body as Go marshals rep.LRPUpdate: instance_guid,
 * process_guid, index, domain, internal_routes ([{"hostname":...}] or
 * null), metric_tags (keys sorted, or null). `v1` writes metric_tags null
 * (the old route's form). Malloc'd, NUL-terminated; `*len` its length.
 */
char *bbs_rep_update_body(const struct bbs_rep_lrp_update *u, int v1, size_t *len);

/*
 * The rep's address rule (rep/client.go pickURL), given whether TLS is
 * required (rep_require_tls) and whether the BBS has a client identity for
 * reps (rep_ca_cert, rep_client_cert, rep_client_key all set):
 *  - neither: rep_url when set, else rep_address; an https rep_url is
 *    refused ("https scheme not supported since certificates aren't
 *    provided");
 *  - identity, not required: rep_url when set, else rep_address;
 *  - required: rep_url, which must be https ("https scheme is required but
 *    none of the addresses support it").
 * 0 and `*out` = one of the two (borrowed), or -1 with UnknownError.
 */
BBS_MUST_CHECK int bbs_rep_pick_url(int require_tls, int has_identity, const char *rep_address,
                                    const char *rep_url, const char **out, struct bbs_error *err);

/* The choice bbs_rep_url() makes for this client (default: neither). Before use only. */
void bbs_rep_set_tls(struct bbs_rep *r, int require_tls, int has_identity);

/* bbs_rep_pick_url with the client's choice. */
BBS_MUST_CHECK int bbs_rep_url(const struct bbs_rep *r, const char *rep_address,
                               const char *rep_url, const char **out, struct bbs_error *err);

/*
 * bbs_rep_stop_lrp, sent again after a failed attempt (transport error or
 * an answer other than 202) until `attempts` (>= 1) have been made, as
 * upstream's retire does (3.8). Each failure is logged and counted.
 */
void bbs_rep_stop_lrp_retry(struct bbs_rep *r, const char *rep_url, const char *process_guid,
                            const char *instance_guid, const char *trace_id, int attempts);

/* Free the client (queued calls stay with the outbox). Accepts NULL. */
void bbs_rep_free(struct bbs_rep *r);

#endif /* BBS_REP_H */
