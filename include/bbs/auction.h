/*
 * auction.h - asks the auctioneer to place LRP instances and tasks
 * (reference 9.1, 11.5.2).
 *
 * The client builds the JSON bodies and queues them on the outbox
 * (outbox.h), so no API request waits on the auctioneer. Failures are
 * logged and counted there, never returned: the caller's state change is
 * already committed and convergence re-auctions what was not placed.
 */
#ifndef BBS_AUCTION_H
#define BBS_AUCTION_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/change.h"
#include "bbs/outbox.h"

/* struct bbs_auction_start: one element of the POSTed array (change.h). */

struct bbs_auction;

/*
 * A client for `address` ("http://host:port" or "https://host:port"; "" =
 * disabled: requests are dropped with a debug log line) sending through
 * `outbox` (borrowed; must outlive the client; NULL = disabled).
 * `timeout_ns` bounds each POST (0 = the outbox default). The client TLS
 * identity and require_tls are the outbox's BBS_OUTBOX_AUCTIONEER ones.
 */
struct bbs_auction *bbs_auction_new(struct bbs_outbox *outbox, const char *address,
                                    int64_t timeout_ns);

/*
 * Queue one POST with `n` start requests (copied; nothing is borrowed after
 * return). `trace_id` (may be NULL) becomes X-Vcap-Request-Id.
 */
void bbs_auction_request(struct bbs_auction *a, const struct bbs_auction_start *starts, size_t n,
                         const char *trace_id);

/*
 * As bbs_auction_request, and return only once the POST has finished
 * (answered, failed after its attempts, or dropped): the evacuation calls
 * request their auction inline, as upstream's evacuation controller does,
 * so the auctioneer has the request when the cell gets its answer. Each
 * attempt is bounded by the client's timeout; the outcome is logged and
 * counted by the outbox, never returned.
 */
void bbs_auction_request_wait(struct bbs_auction *a, const struct bbs_auction_start *starts,
                              size_t n, const char *trace_id);

/*
 * Queue one POST to {auctioneer}/v1/tasks with `body`, a JSON array of `n`
 * TaskStartRequests already encoded by the caller (copied). The task body
 * builder comes with the Task models.
 */
void bbs_auction_request_tasks(struct bbs_auction *a, const char *body, size_t n,
                               const char *trace_id);

/*
 * The body of a task auction (11.5.2): a JSON array of upstream's
 * TaskStartRequest as Go's encoding/json writes it (keys "TaskGuid",
 * "Domain", "PlacementTags", "VolumeDrivers", "RootFs", "MemoryMB",
 * "DiskMB", "MaxPids", "state", "failed" in this order; PlacementTags
 * null when there are none, VolumeDrivers [] when none; "state" always
 * "Invalid", "failed" false; strings escaped Go-style, gojson.h).
 * Malloc'd, NUL-terminated; `*len` its length (may be NULL).
 */
char *bbs_auction_task_body(const struct bbs_task_start *starts, size_t n, size_t *len);

/*
 * One POST to {auctioneer}/v1/tasks with the `n` task start requests
 * (encoded at once; nothing borrowed after return), X-Vcap-Request-Id
 * `trace_id` (NULL or "": the header is sent empty, as upstream does for
 * tasks). `wait`: return only once the POST finished (desire answers
 * after its auction, as upstream's task controller does).
 */
void bbs_auction_request_task_starts(struct bbs_auction *a, const struct bbs_task_start *starts,
                                     size_t n, const char *trace_id, int wait);

/* Build the JSON body for `starts` (malloc'd, NUL-terminated; caller frees). */
char *bbs_auction_body(const struct bbs_auction_start *starts, size_t n);

/* Free the client (queued POSTs stay with the outbox). Accepts NULL. */
void bbs_auction_free(struct bbs_auction *a);

#endif /* BBS_AUCTION_H */
