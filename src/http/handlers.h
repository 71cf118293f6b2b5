/*
 * handlers.h - private to the HTTP target: the handler contract and the
 * route table.
 *
 * A handler decodes req->body (bbs_codec_decode into req->arena),
 * validates, calls the store, and either appends the whole success
 * response message to `out` and returns 0, or returns -1 with `err` set;
 * the server then answers the route's response message with only the
 * error (field 1, plus keep_container for evacuation routes). A handler
 * that must answer an error together with other fields writes them all to
 * `out` itself and returns 0.
 */
#ifndef BBS_HANDLERS_H
#define BBS_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/arena.h"
#include "bbs/buf.h"
#include "bbs/error.h"
#include "bbs/http.h"

struct bbs_req {
    struct bbs_arena *arena;
    const uint8_t *body;
    size_t len;
    const char *trace_id; /* X-Vcap-Request-Id, "" when absent */
    struct bbs_ctx *ctx;
};

typedef int (*bbs_handler)(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);

enum bbs_route_flags {
    BBS_ROUTE_KEEP_ON_ERROR = 1, /* evacuation routes answering keep_container = true */
};

struct bbs_route {
    const char *path;
    bbs_handler handler;
    unsigned flags;
};

/* Exact-path lookup; NULL if the path is not routed. */
const struct bbs_route *bbs_route_find(const char *path);

/* Wall clock in ns since the epoch (handlers pass it to the store/core). */
int64_t bbs_now_ns(void);

/* Format a validation failure: InvalidRequest with the joined problems. */
void bbs_invalid(struct bbs_error *err, const char *problems);

/* ping, domains */
int bbs_h_ping(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_domains_upsert(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_domains_list(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);

/* actual LRP reads and lifecycle */
int bbs_h_alrp_list(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_alrp_list_by_guids(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_groups_list(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_groups_by_guid(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_group_by_guid_index(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_claim(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_start_r1(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_start_r0(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_crash(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_fail(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_remove(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_retire(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);

/* evacuation (h_evac.c) */
int bbs_h_evacuate_claimed(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_evacuate_crashed(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_evacuate_stopped(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_evacuate_running_r1(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_evacuate_running_r0(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_remove_evacuating(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);

/* desired LRPs (h_desired.c) */
int bbs_h_desire(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_update_desired(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_remove_desired(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_desired_list_r3(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_desired_list_r2(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_desired_get_r3(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_desired_get_r2(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_sched_list(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_sched_get(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);
int bbs_h_routing_list(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err);

#endif /* BBS_HANDLERS_H */
