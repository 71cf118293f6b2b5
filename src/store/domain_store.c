/*
 * domain_store.c - domains with a time to live (reference 2.9).
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static const struct bbs_stmt domain_stmts[] = {
    {"domain_upsert", "INSERT INTO domains (domain, expire_time) VALUES ($1::text, $2::int8)"
                      " ON CONFLICT (domain) DO UPDATE SET expire_time = EXCLUDED.expire_time"},
    {"domain_list", "SELECT domain FROM domains WHERE expire_time > $1::int8"},
};
BBS_STORE_STATEMENTS(domain, domain_stmts);

struct upsert_ctx {
    const char *domain;
    int64_t expire;
};

static int upsert_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct upsert_ctx *c = arg;
    struct bbs_params p = {0};
    PGresult *res;

    bbs_params_text(&p, c->domain);
    bbs_params_int8(&p, c->expire);
    res = bbs_exec(conn, "domain_upsert", &p, err);
    PQclear(res);
    return res == NULL ? -1 : 0;
}

int bbs_store_domain_upsert(struct bbs_store *st, const char *domain, uint32_t ttl, int64_t now_ns,
                            struct bbs_error *err)
{
    struct upsert_ctx c = {domain, INT64_MAX};

    if (ttl != 0) {
        c.expire = now_ns + (int64_t)ttl * 1000000000;
    }
    return bbs_store_tx(st, upsert_tx, &c, err); /* a transaction: fenced (lead.h) */
}

struct list_ctx {
    int64_t now;
    struct bbs_arena *arena;
    const char **domains;
    size_t n;
};

static int list_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct list_ctx *c = arg;
    struct bbs_params p = {0};
    PGresult *res;

    bbs_params_int8(&p, c->now);
    res = bbs_exec(conn, "domain_list", &p, err);
    if (res == NULL) {
        return -1;
    }
    c->n = (size_t)PQntuples(res);
    c->domains = bbs_arena_alloc(c->arena, (c->n > 0 ? c->n : 1) * sizeof(char *));
    for (size_t i = 0; i < c->n; i++) {
        c->domains[i] = bbs_arena_strdup(c->arena, bbs_get_text(res, (int)i, 0));
    }
    PQclear(res);
    return 0;
}

int bbs_store_domains_list(struct bbs_store *st, struct bbs_arena *arena, int64_t now_ns,
                           const char *const **out, size_t *n, struct bbs_error *err)
{
    /* Upstream compares with now rounded to the nearest second. */
    int64_t now = (now_ns + 500000000) / 1000000000 * 1000000000;
    struct list_ctx c = {now, arena, NULL, 0};

    *out = NULL;
    *n = 0;
    if (bbs_store_run(st, list_tx, &c, err) != 0) {
        return -1;
    }
    *out = c.domains;
    *n = c.n;
    return 0;
}
