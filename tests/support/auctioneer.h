/*
 * auctioneer.h - the stub auctioneer: a libmicrohttpd server inside the test process
 * that records every JSON array POSTed to /v1/lrps (and, apart, to /v1/tasks),
 * for the tests to read.
 */
#ifndef BBS_IT_SUPPORT_AUCTIONEER_H
#define BBS_IT_SUPPORT_AUCTIONEER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/*
 * Every element (JSON object) POSTed to /v1/lrps whose process_guid is
 * `guid`, in arrival order. A new reference (json_decref it).
 */
json_t *it_auction_starts(const char *guid);

/* Wait up to `timeout_ms` until at least `n` elements for `guid` arrived; returns them. */
json_t *it_auction_wait(const char *guid, size_t n, int timeout_ms);

/* Number of POSTs that carried at least one element for `guid`. */
size_t it_auction_posts_for(const char *guid);

/* Requests the stub refused: wrong path/method/content type, or not a JSON array. */
size_t it_auction_bad_requests(void);

/* Sorted indices of an element's "indices" array into `out` (max `cap`); returns count. */
size_t it_auction_indices(const json_t *start, int32_t *out, size_t cap);

/*
 * Task auctions (POST /v1/tasks, reference part 2, 11.5.2): every POST
 * with an element whose TaskGuid is `guid`, in arrival order, each as
 * {"body": the raw text, "starts": the parsed array, "trace": the
 * X-Vcap-Request-Id header, null when not sent}. A new reference.
 */
json_t *it_auction_task_posts(const char *guid);

/* Wait up to `timeout_ms` until at least `n` such POSTs arrived; returns them. */
json_t *it_auction_task_wait(const char *guid, size_t n, int timeout_ms);

#endif /* BBS_IT_SUPPORT_AUCTIONEER_H */
