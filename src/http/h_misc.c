/*
 * h_misc.c - ping and domains (reference 2.9).
 */
#include "bbs/codec.h"
#include "bbs/pbw.h"
#include "bbs/validate.h"
#include "domains.pb-c.h"
#include "handlers.h"

int bbs_h_ping(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err)
{
    (void)req;
    (void)err;
    bbs_pbw_int64(out, 1, 1); /* available: true; the body is not read */
    return 0;
}

int bbs_h_domains_upsert(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err)
{
    Models__UpsertDomainRequest *m;
    struct bbs_problems p = {0};

    (void)out;
    m = (Models__UpsertDomainRequest *)bbs_codec_decode(
        req->arena, &models__upsert_domain_request__descriptor, req->body, req->len, err);
    if (m == NULL) {
        return -1;
    }
    if (bbs_validate_upsert_domain(m, &p) > 0) {
        bbs_invalid(err, p.text);
        return -1;
    }
    return bbs_store_domain_upsert(req->ctx->store, m->domain, m->ttl, bbs_now_ns(), err);
}

int bbs_h_domains_list(struct bbs_req *req, struct bbs_buf *out, struct bbs_error *err)
{
    const char *const *domains;
    size_t n;

    /* The body is ignored, as upstream does. */
    if (bbs_store_domains_list(req->ctx->store, req->arena, bbs_now_ns(), &domains, &n, err) != 0) {
        return -1;
    }
    bbs_codec_put_strings(out, 2, domains, n);
    return 0;
}
