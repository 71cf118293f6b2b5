/*
 * auction.h - asks the auctioneer to place LRP instances (reference 9.1).
 *
 * Requests are queued and sent by one background thread with libcurl, so
 * no API request waits on the auctioneer. Failures are logged, never
 * returned: the caller's state change is already committed and convergence
 * re-auctions what was not placed.
 */
#ifndef BBS_AUCTION_H
#define BBS_AUCTION_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/change.h"

/* struct bbs_auction_start: one element of the POSTed array (change.h). */

struct bbs_auction;

/*
 * A client for `address` ("http://host:port"; "" = disabled: requests are
 * dropped with a debug log line). `timeout_ns` bounds each POST.
 */
struct bbs_auction *bbs_auction_new(const char *address, int64_t timeout_ns);

/*
 * Queue one POST with `n` start requests (copied; nothing is borrowed after
 * return). `trace_id` (may be NULL) becomes X-Vcap-Request-Id.
 */
void bbs_auction_request(struct bbs_auction *a, const struct bbs_auction_start *starts, size_t n,
                         const char *trace_id);

/* Build the JSON body for `starts` (malloc'd, NUL-terminated; caller frees). */
char *bbs_auction_body(const struct bbs_auction_start *starts, size_t n);

/* Send what is queued (bounded wait), stop the thread and free. Accepts NULL. */
void bbs_auction_free(struct bbs_auction *a);

#endif /* BBS_AUCTION_H */
