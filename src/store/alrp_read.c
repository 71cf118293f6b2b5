/*
 * alrp_read.c - ActualLRP list and group reads (reference 3.11).
 *
 * The filter set varies per request, so the SQL is built per call (only
 * the filters given appear, letting the planner use the indexes) and run
 * with binary parameters and results. Each row is encoded into the
 * response straight from the result: no per-row structs are allocated.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/buf.h"
#include "bbs/codec.h"
#include "bbs/log.h"
#include "bbs/pbw.h"
#include "store_int.h"

struct read_ctx {
    const struct bbs_alrp_filter *f;
    int order; /* 1: ORDER BY guid, index (groups fold adjacent rows) */
    PGresult *res;
};

static int read_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct read_ctx *c = arg;
    const struct bbs_alrp_filter *f = c->f;
    struct bbs_params p = {0};
    struct bbs_arena *scratch = NULL;
    struct bbs_buf sql = {0};
    const char *glue = " WHERE ";

    bbs_buf_printf(&sql, "SELECT " BBS_ALRP_COLUMNS " FROM actual_lrps");
    if (f->domain != NULL && f->domain[0] != '\0') {
        bbs_buf_printf(&sql, "%sdomain = $%d::text", glue, bbs_params_text(&p, f->domain));
        glue = " AND ";
    }
    if (f->cell_id != NULL && f->cell_id[0] != '\0') {
        bbs_buf_printf(&sql, "%scell_id = $%d::text", glue, bbs_params_text(&p, f->cell_id));
        glue = " AND ";
    }
    if (f->process_guid != NULL && f->process_guid[0] != '\0') {
        bbs_buf_printf(&sql, "%sprocess_guid = $%d::text", glue,
                       bbs_params_text(&p, f->process_guid));
        glue = " AND ";
    }
    if (f->has_index) {
        bbs_buf_printf(&sql, "%sinstance_index = $%d::int4", glue, bbs_params_int4(&p, f->index));
        glue = " AND ";
    }
    if (f->process_guids != NULL) {
        scratch = bbs_arena_new();
        bbs_buf_printf(&sql, "%sprocess_guid = ANY($%d::text[])", glue,
                       bbs_params_text_array(&p, scratch, f->process_guids, f->n_process_guids));
    }
    if (c->order) {
        bbs_buf_printf(&sql, " ORDER BY process_guid, instance_index, presence");
    }
    bbs_buf_putc(&sql, 0);
    c->res = bbs_exec_sql(conn, (const char *)sql.data, &p, err);
    bbs_buf_free(&sql);
    bbs_arena_free(scratch);
    return c->res == NULL ? -1 : 0;
}

int bbs_store_alrp_list(struct bbs_store *st, const struct bbs_alrp_filter *f, uint32_t field,
                        struct bbs_buf *out, struct bbs_error *err)
{
    struct read_ctx c = {f, 0, NULL};
    int n;

    if (bbs_store_run(st, read_tx, &c, err) != 0) {
        return -1;
    }
    n = PQntuples(c.res);
    /* A RUNNING row encodes to roughly 200 bytes: reserve once. */
    bbs_buf_reserve(out, (size_t)n * 192);
    for (int i = 0; i < n; i++) {
        struct bbs_alrp a;

        if (bbs_alrp_from_row(c.res, i, &a) != 0) {
            bbs_log(BBS_LOG_ERROR, "actual-lrps.unreadable-row", "{s:s, s:i}", "process_guid",
                    bbs_get_text(c.res, i, 0), "index", bbs_get_int4(c.res, i, 1));
            continue;
        }
        bbs_codec_put_alrp(out, field, &a);
    }
    PQclear(c.res);
    return 0;
}

/* Group slot priority for the `instance` member (3.11). */
static int instance_rank(const struct bbs_alrp *a)
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

static void put_group(struct bbs_buf *out, uint32_t field, const struct bbs_alrp *instance,
                      const struct bbs_alrp *evacuating)
{
    size_t g = bbs_pbw_open(out, field);

    if (instance != NULL) {
        bbs_codec_put_alrp(out, 1, instance);
    }
    if (evacuating != NULL) {
        bbs_codec_put_alrp(out, 2, evacuating);
    }
    bbs_pbw_close(out, g);
}

int bbs_store_alrp_groups(struct bbs_store *st, const struct bbs_alrp_filter *f, uint32_t field,
                          struct bbs_buf *out, size_t *n_groups, struct bbs_error *err)
{
    struct read_ctx c = {f, 1, NULL};
    struct bbs_alrp rows[2];
    const struct bbs_alrp *instance = NULL;
    const struct bbs_alrp *evacuating = NULL;
    struct bbs_alrp cur;
    int n;

    *n_groups = 0;
    if (bbs_store_run(st, read_tx, &c, err) != 0) {
        return -1;
    }
    n = PQntuples(c.res);
    for (int i = 0; i < n; i++) {
        if (bbs_alrp_from_row(c.res, i, &cur) != 0) {
            continue;
        }
        if ((instance != NULL || evacuating != NULL)) {
            const struct bbs_alrp *prev = instance ? instance : evacuating;

            if (strcmp(prev->key.process_guid, cur.key.process_guid) != 0 ||
                prev->key.index != cur.key.index) {
                put_group(out, field, instance, evacuating);
                (*n_groups)++;
                instance = NULL;
                evacuating = NULL;
            }
        }
        if (cur.presence == BBS_PRESENCE_EVACUATING) {
            rows[1] = cur;
            evacuating = &rows[1];
        } else if (instance == NULL || instance_rank(&cur) > instance_rank(instance)) {
            rows[0] = cur;
            instance = &rows[0];
        }
    }
    if (instance != NULL || evacuating != NULL) {
        put_group(out, field, instance, evacuating);
        (*n_groups)++;
    }
    PQclear(c.res);
    return 0;
}
