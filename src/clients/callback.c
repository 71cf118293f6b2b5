/*
 * callback.c - task completion callbacks (see callback.h; reference 11.6).
 */
#include "bbs/callback.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/buf.h"
#include "bbs/gojson.h"
#include "bbs/xalloc.h"

struct bbs_callback {
    struct bbs_outbox *outbox; /* borrowed */
    int64_t timeout_ns;
};

struct callback_ctx {
    void (*resolved)(void *arg, int yes, long status);
    void *arg;
};

struct bbs_callback *bbs_callback_new(struct bbs_outbox *outbox, int64_t timeout_ns)
{
    struct bbs_callback *cb = bbs_xcalloc(1, sizeof(*cb));

    cb->outbox = outbox;
    cb->timeout_ns = timeout_ns;
    return cb;
}

void bbs_callback_free(struct bbs_callback *cb)
{
    free(cb);
}

char *bbs_callback_body(const struct bbs_task_callback *t, size_t *len)
{
    struct bbs_buf b = {0};

    bbs_buf_printf(&b, "{\"task_guid\":");
    bbs_gojson_string(&b, t->task_guid);
    bbs_buf_printf(&b, ",\"failed\":%s,\"failure_reason\":", t->failed ? "true" : "false");
    bbs_gojson_string(&b, t->failure_reason);
    bbs_buf_printf(&b, ",\"result\":");
    bbs_gojson_string(&b, t->result);
    if (t->annotation != NULL && t->annotation[0] != '\0') {
        bbs_buf_printf(&b, ",\"annotation\":");
        bbs_gojson_string(&b, t->annotation);
    }
    bbs_buf_printf(&b, ",\"created_at\":%" PRId64 "}", t->created_at);
    size_t with_nul;

    *len = b.len;
    bbs_buf_putc(&b, '\0');
    return (char *)bbs_buf_take(&b, &with_nul);
}

static void callback_done(void *arg, const struct bbs_outbox_result *r)
{
    struct callback_ctx *c = arg;

    if (c->resolved != NULL) {
        c->resolved(c->arg, r->ok, r->status);
    }
    free(c);
}

void bbs_callback_send(struct bbs_callback *cb, const char *url, const struct bbs_task_callback *t,
                       void (*resolved)(void *arg, int yes, long status), void *arg)
{
    static const char *const headers[] = {"Content-Type: application/json", "Expect:"};
    struct bbs_outbox_request req = {0};
    struct callback_ctx *c = bbs_xcalloc(1, sizeof(*c));
    size_t len = 0;
    char *body = bbs_callback_body(t, &len);

    c->resolved = resolved;
    c->arg = arg;
    req.kind = BBS_OUTBOX_CALLBACK;
    req.method = "POST";
    req.url = url;
    req.body = body;
    req.body_len = len;
    req.headers = headers;
    req.n_headers = 2;
    req.timeout_ns = cb->timeout_ns;
    req.retry = BBS_OUTBOX_RETRY_CALLBACK;
    req.follow_redirects = 1;
    req.log_name = "task-callback";
    req.items = 1;
    req.done = callback_done;
    req.done_arg = c;
    (void)bbs_outbox_send(cb->outbox, &req); /* calls callback_done even when dropped */
    free(body);
}
