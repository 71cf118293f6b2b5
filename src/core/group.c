/*
 * group.c - ActualLRP row views and group folding (see group.h).
 */
#include "bbs/group.h"

#include <string.h>

static int array_get(const void *src, size_t i, struct bbs_alrp *out)
{
    *out = ((const struct bbs_alrp *)src)[i];
    return 0;
}

struct bbs_alrp_rows bbs_alrp_rows_of(const struct bbs_alrp *rows, size_t n)
{
    struct bbs_alrp_rows v = {n, rows, array_get};

    return v;
}

int bbs_group_instance_rank(const struct bbs_alrp *a)
{
    if (a->presence == BBS_PRESENCE_ORDINARY && a->state == BBS_ALRP_RUNNING) {
        return 4;
    }
    if (a->presence == BBS_PRESENCE_SUSPECT && a->state == BBS_ALRP_RUNNING) {
        return 3;
    }
    if (a->presence == BBS_PRESENCE_SUSPECT && a->state == BBS_ALRP_CLAIMED) {
        return 2;
    }
    if (a->presence == BBS_PRESENCE_ORDINARY && a->state == BBS_ALRP_CLAIMED) {
        return 1;
    }
    return 0;
}

void bbs_group_fold_init(struct bbs_group_fold *g)
{
    memset(g, 0, sizeof(*g));
}

/* Move the group being built to `done` and start empty. */
static int hand_out(struct bbs_group_fold *g, struct bbs_alrp_group *done)
{
    if (!g->has[0] && !g->has[1]) {
        return 0;
    }
    g->done[0] = g->cur[0];
    g->done[1] = g->cur[1];
    done->instance = g->has[0] ? &g->done[0] : NULL;
    done->evacuating = g->has[1] ? &g->done[1] : NULL;
    g->has[0] = 0;
    g->has[1] = 0;
    return 1;
}

int bbs_group_fold_add(struct bbs_group_fold *g, const struct bbs_alrp *row,
                       struct bbs_alrp_group *done)
{
    int handed = 0;

    if (g->has[0] || g->has[1]) {
        const struct bbs_alrp *prev = g->has[0] ? &g->cur[0] : &g->cur[1];

        if (prev->key.index != row->key.index ||
            strcmp(prev->key.process_guid, row->key.process_guid) != 0) {
            handed = hand_out(g, done);
        }
    }
    if (row->presence == BBS_PRESENCE_EVACUATING) {
        g->cur[1] = *row;
        g->has[1] = 1;
    } else if (!g->has[0] || bbs_group_instance_rank(row) > bbs_group_instance_rank(&g->cur[0])) {
        g->cur[0] = *row;
        g->has[0] = 1;
    }
    return handed;
}

int bbs_group_fold_finish(struct bbs_group_fold *g, struct bbs_alrp_group *done)
{
    return hand_out(g, done);
}
