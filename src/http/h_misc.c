/*
 * h_misc.c - ping and domains (reference 2.9).
 */
#include "bbs/codec.h"
#include "bbs/store.h"
#include "domains.pb-c.h"
#include "handlers.h"
#include "ping.pb-c.h"

int bbs_h_ping(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
               struct bbs_error *err)
{
    Models__PingResponse *pong = bbs_arena_zalloc(req->arena, sizeof(*pong));

    (void)msg;
    (void)err;
    models__ping_response__init(pong);
    pong->available = 1;
    resp->msg = &pong->base;
    return 0;
}

int bbs_h_domains_upsert(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                         struct bbs_error *err)
{
    const Models__UpsertDomainRequest *m = (const Models__UpsertDomainRequest *)msg;

    (void)resp;
    return bbs_store_domain_upsert(req->ctx->store, m->domain, m->ttl, bbs_now_ns(), err);
}

int bbs_h_domains_list(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                       struct bbs_error *err)
{
    const char *const *domains;
    size_t n;

    (void)msg;
    if (bbs_store_domains_list(req->ctx->store, req->arena, bbs_now_ns(), &domains, &n, err) != 0) {
        return -1;
    }
    bbs_codec_put_strings(&resp->body, 2, domains, n);
    return 0;
}
