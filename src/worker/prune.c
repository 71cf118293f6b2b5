/*
 * prune.c - the worker job that trims the change log (worker.h): the
 * entries older than the retention age, or beyond the retention count.
 *
 * Small batches, each its own short statement, on old rows nobody writes:
 * writers never wait for it. A resuming client whose id was pruned gets
 * the resync event from the hub (hub.h).
 */
#include "bbs/changelog.h"
#include "bbs/log.h"
#include "bbs/worker.h"

#define PRUNE_BATCH       1000
#define PRUNE_MAX_BATCHES 100

void bbs_worker_prune_events(void *arg)
{
    const struct bbs_prune_events *p = arg;
    struct bbs_error err = {0};
    int64_t deleted = 0;

    if (bbs_store_changelog_prune(p->store, p->max_age_ns, p->keep, PRUNE_BATCH, PRUNE_MAX_BATCHES,
                                  &deleted, &err) != 0) {
        bbs_log(BBS_LOG_ERROR, "events.prune-failed", "{s:s}", "error", err.message);
        return;
    }
    if (deleted > 0) {
        bbs_log(BBS_LOG_DEBUG, "events.pruned", "{s:I}", "deleted", (json_int_t)deleted);
    }
}
