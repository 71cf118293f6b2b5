/*
 * rep.c - the rep client (see rep.h; reference 9.2, rep/client.go).
 */
#include "bbs/rep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bbs/buf.h"
#include "bbs/gojson.h"
#include "bbs/xalloc.h"

struct bbs_rep {
    struct bbs_outbox *outbox; /* borrowed */
    int64_t timeout_ns;
    int require_tls;
    int has_identity;
};

/* A stop sent again on failure (owned by the request in flight). */
struct rep_stop_ctx {
    struct bbs_rep *rep;
    char *url;
    char *trace_id;
    int left; /* attempts still allowed after this one */
};

/* What an update's completion needs for the v1 fallback (owned by the request). */
struct rep_update_ctx {
    struct bbs_rep *rep;
    char *v1_url;
    char *v1_body; /* NULL: no internal routes, no fallback */
    size_t v1_len;
    char *trace_id;
};

struct bbs_rep *bbs_rep_new(struct bbs_outbox *outbox, int64_t timeout_ns)
{
    struct bbs_rep *r = bbs_xcalloc(1, sizeof(*r));

    r->outbox = outbox;
    r->timeout_ns = timeout_ns;
    return r;
}

void bbs_rep_free(struct bbs_rep *r)
{
    free(r);
}

/* Path segment: unreserved characters as they are, everything else %XX (url.PathEscape). */
static void rep_escape(struct bbs_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s != NULL ? s : ""); *p != '\0'; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            bbs_buf_putc(b, *p);
        } else {
            bbs_buf_printf(b, "%%%02X", *p);
        }
    }
}

/* "{rep_url}{p1}{a}{p2}{b}{p3}" with a and b escaped; b may be NULL. Malloc'd. */
static char *rep_make_url(const char *base, const char *p1, const char *a, const char *p2,
                          const char *b, const char *p3)
{
    struct bbs_buf buf = {0};
    size_t n = strlen(base);

    while (n > 0 && base[n - 1] == '/') {
        n--;
    }
    bbs_buf_append(&buf, base, n);
    bbs_buf_printf(&buf, "%s", p1);
    rep_escape(&buf, a);
    if (b != NULL) {
        bbs_buf_printf(&buf, "%s", p2);
        rep_escape(&buf, b);
    }
    bbs_buf_printf(&buf, "%s", p3);
    bbs_buf_putc(&buf, '\0');
    return (char *)bbs_buf_take(&buf, &n);
}

/* Go's map[string]string keys are written sorted. */
static int rep_cmp_tag(const void *x, const void *y, void *names)
{
    const char *const *n = names;

    return strcmp(n[*(const size_t *)x], n[*(const size_t *)y]);
}

char *bbs_rep_update_body(const struct bbs_rep_lrp_update *u, int v1, size_t *len)
{
    struct bbs_buf b = {0};
    size_t *order = NULL;

    bbs_buf_printf(&b, "{\"instance_guid\":");
    bbs_gojson_string(&b, u->instance_guid);
    bbs_buf_printf(&b, ",\"process_guid\":");
    bbs_gojson_string(&b, u->process_guid);
    bbs_buf_printf(&b, ",\"index\":%d,\"domain\":", (int)u->index);
    bbs_gojson_string(&b, u->domain);
    bbs_buf_printf(&b, ",\"internal_routes\":");
    if (u->internal_routes == NULL) {
        bbs_buf_printf(&b, "null");
    } else {
        bbs_buf_putc(&b, '[');
        for (size_t i = 0; i < u->n_internal_routes; i++) {
            bbs_buf_printf(&b, "%s{\"hostname\":", i > 0 ? "," : "");
            bbs_gojson_string(&b, u->internal_routes[i]);
            bbs_buf_putc(&b, '}');
        }
        bbs_buf_putc(&b, ']');
    }
    bbs_buf_printf(&b, ",\"metric_tags\":");
    if (v1 || u->metric_tag_names == NULL) {
        bbs_buf_printf(&b, "null");
    } else {
        order = bbs_xcalloc(u->n_metric_tags + 1, sizeof(*order));
        for (size_t i = 0; i < u->n_metric_tags; i++) {
            order[i] = i;
        }
        /* Insertion sort: a handful of tags, and qsort has no context argument in C11. */
        for (size_t i = 1; i < u->n_metric_tags; i++) {
            for (size_t j = i;
                 j > 0 && rep_cmp_tag(&order[j - 1], &order[j], (void *)u->metric_tag_names) > 0;
                 j--) {
                size_t t = order[j];

                order[j] = order[j - 1];
                order[j - 1] = t;
            }
        }
        bbs_buf_putc(&b, '{');
        for (size_t i = 0; i < u->n_metric_tags; i++) {
            if (i > 0) {
                bbs_buf_putc(&b, ',');
            }
            bbs_gojson_string(&b, u->metric_tag_names[order[i]]);
            bbs_buf_putc(&b, ':');
            bbs_gojson_string(&b, u->metric_tag_values[order[i]]);
        }
        bbs_buf_putc(&b, '}');
        free(order);
    }
    bbs_buf_putc(&b, '}');
    size_t with_nul;

    *len = b.len;
    bbs_buf_putc(&b, '\0');
    return (char *)bbs_buf_take(&b, &with_nul);
}

/* `typed`: with Content-Type: application/json (every call but cancel, 11.10). */
static void rep_send_typed(struct bbs_rep *r, int typed, const char *method, const char *url,
                           const char *body, size_t len, const char *log_name, const char *trace_id,
                           void (*done)(void *, const struct bbs_outbox_result *), void *arg)
{
    char trace[320];
    /* "Content-Type:" removes the header curl would add to a POST. */
    const char *headers[2] = {typed ? "Content-Type: application/json" : "Content-Type:", trace};
    struct bbs_outbox_request req = {0};

    /* Upstream sets only Content-Type; the trace id goes along when known (reference 9.2). */
    snprintf(trace, sizeof(trace), "X-Vcap-Request-Id: %s", trace_id != NULL ? trace_id : "");
    req.kind = BBS_OUTBOX_REP;
    req.method = method;
    req.url = url;
    req.body = body;
    req.body_len = len;
    req.headers = headers;
    req.n_headers = trace_id != NULL && trace_id[0] != '\0' && strlen(trace_id) < 256 &&
                            strpbrk(trace_id, "\r\n") == NULL
                        ? 2
                        : 1;
    req.timeout_ns = r->timeout_ns;
    req.expect_status = 202;
    req.retry = BBS_OUTBOX_RETRY_NONE;
    req.log_name = log_name;
    req.items = 1;
    req.trace_id = trace_id;
    req.done = done;
    req.done_arg = arg;
    (void)bbs_outbox_send(r->outbox, &req); /* a drop is logged and counted there */
}

static void rep_send(struct bbs_rep *r, const char *method, const char *url, const char *body,
                     size_t len, const char *log_name, const char *trace_id,
                     void (*done)(void *, const struct bbs_outbox_result *), void *arg)
{
    rep_send_typed(r, 1, method, url, body, len, log_name, trace_id, done, arg);
}

void bbs_rep_stop_lrp(struct bbs_rep *r, const char *rep_url, const char *process_guid,
                      const char *instance_guid, const char *trace_id)
{
    char *url =
        rep_make_url(rep_url, "/v1/lrps/", process_guid, "/instances/", instance_guid, "/stop");

    rep_send(r, "POST", url, NULL, 0, "rep.stop-lrp", trace_id, NULL, NULL);
    free(url);
}

static void rep_stop_done(void *arg, const struct bbs_outbox_result *res)
{
    struct rep_stop_ctx *c = arg;

    /* attempts 0: dropped (queue full, shutting down): not sent again. */
    if (!res->ok && res->attempts > 0 && c->left > 0) {
        c->left--;
        rep_send(c->rep, "POST", c->url, NULL, 0, "rep.stop-lrp", c->trace_id, rep_stop_done, c);
        return;
    }
    free(c->url);
    free(c->trace_id);
    free(c);
}

void bbs_rep_stop_lrp_retry(struct bbs_rep *r, const char *rep_url, const char *process_guid,
                            const char *instance_guid, const char *trace_id, int attempts)
{
    struct rep_stop_ctx *c = bbs_xcalloc(1, sizeof(*c));

    c->rep = r;
    c->url =
        rep_make_url(rep_url, "/v1/lrps/", process_guid, "/instances/", instance_guid, "/stop");
    c->trace_id = bbs_xstrdup(trace_id != NULL ? trace_id : "");
    c->left = attempts > 1 ? attempts - 1 : 0;
    rep_send(r, "POST", c->url, NULL, 0, "rep.stop-lrp", c->trace_id, rep_stop_done, c);
}

int bbs_rep_pick_url(int require_tls, int has_identity, const char *rep_address,
                     const char *rep_url, const char **out, struct bbs_error *err)
{
    int has_url = rep_url != NULL && rep_url[0] != '\0';
    /* Go's url.Parse lower-cases the scheme: "HTTPS://" is https too. */
    int secure = has_url && strncasecmp(rep_url, "https://", 8) == 0;

    if (!require_tls && !has_identity && secure) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN,
                       "https scheme not supported since certificates aren't provided");
        return -1;
    }
    if (require_tls && !secure) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN,
                       "https scheme is required but none of the addresses support it");
        return -1;
    }
    *out = has_url ? rep_url : (rep_address != NULL ? rep_address : "");
    return 0;
}

void bbs_rep_set_tls(struct bbs_rep *r, int require_tls, int has_identity)
{
    r->require_tls = require_tls;
    r->has_identity = has_identity;
}

int bbs_rep_url(const struct bbs_rep *r, const char *rep_address, const char *rep_url,
                const char **out, struct bbs_error *err)
{
    return bbs_rep_pick_url(r->require_tls, r->has_identity, rep_address, rep_url, out, err);
}

void bbs_rep_cancel_task(struct bbs_rep *r, const char *rep_url, const char *task_guid,
                         const char *trace_id)
{
    char *url = rep_make_url(rep_url, "/v1/tasks/", task_guid, NULL, NULL, "/cancel");

    /* Upstream's cancel request has no Content-Type (11.10). */
    rep_send_typed(r, 0, "POST", url, NULL, 0, "rep.cancel-task", trace_id, NULL, NULL);
    free(url);
}

static void rep_update_ctx_free(struct rep_update_ctx *c)
{
    if (c == NULL) {
        return;
    }
    free(c->v1_url);
    free(c->v1_body);
    free(c->trace_id);
    free(c);
}

/* On the outbox thread: an old rep (404) gets the v1 form, once. */
static void rep_update_done(void *arg, const struct bbs_outbox_result *res)
{
    struct rep_update_ctx *c = arg;

    if (res->status == 404 && c->v1_body != NULL) {
        rep_send(c->rep, "PUT", c->v1_url, c->v1_body, c->v1_len, "rep.update-lrp-r0", c->trace_id,
                 NULL, NULL);
    }
    rep_update_ctx_free(c);
}

void bbs_rep_update_lrp(struct bbs_rep *r, const char *rep_url, const struct bbs_rep_lrp_update *u,
                        const char *trace_id)
{
    struct rep_update_ctx *c = bbs_xcalloc(1, sizeof(*c));
    char *url =
        rep_make_url(rep_url, "/v2/lrps/", u->process_guid, "/instances/", u->instance_guid, "");
    size_t len = 0;
    char *body = bbs_rep_update_body(u, 0, &len);

    c->rep = r;
    c->trace_id = bbs_xstrdup(trace_id != NULL ? trace_id : "");
    c->v1_url =
        rep_make_url(rep_url, "/v1/lrps/", u->process_guid, "/instances/", u->instance_guid, "");
    if (u->internal_routes != NULL) {
        c->v1_body = bbs_rep_update_body(u, 1, &c->v1_len);
    }
    rep_send(r, "PUT", url, body, len, "rep.update-lrp", trace_id, rep_update_done, c);
    free(url);
    free(body);
}
