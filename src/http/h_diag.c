/*
 * h_diag.c - the operator's questions (diag.h; docs/api.md, "Diagnostics"):
 *
 *   GET /v1/discover     what this server is: version, release, the routes
 *                        and protocol revisions it serves;
 *   GET /v1/diagnostics  each dependency checked now, PASS or FAIL with a
 *                        reason; overall PASS only if every check passes;
 *   GET /v1/stats        rows by state, requests served, uptime.
 *
 * The answers are JSON, built here once and served by both listeners: the
 * API listener through three BBS_ROUTE_JSON rows of the route table, the
 * health listener directly (a standby, or a server still migrating,
 * answers too). Always HTTP 200: a FAIL is an answer, not an error.
 *
 * Checks run one after the other on the requesting thread, each bounded
 * (BBS_DIAG_CHECK_TIMEOUT_NS; Locket's communication_timeout), so a
 * diagnostics request costs at most a few seconds and nothing else waits
 * for it. What this module does not do: decide anything, or change state
 * (the database write probe is rolled back).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "bbs/alrp.h"
#include "bbs/arena.h"
#include "bbs/locket.h"
#include "bbs/store.h"
#include "bbs/task.h"
#include "bbs/xalloc.h"
#include "diag.h"
#include "handlers.h"

#ifndef BBS_VERSION_MAJOR_MINOR
#define BBS_VERSION_MAJOR_MINOR "0.0"
#endif
#ifndef BBS_RELEASE
#define BBS_RELEASE "unknown"
#endif

/* ---- helpers ------------------------------------------------------------------------------ */

/* Append the compact JSON text of `v` (taken) and a newline to `out`. */
static void put_json(json_t *v, struct bbs_buf *out)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);

    if (text == NULL) {
        bbs_out_of_memory(0);
    }
    bbs_buf_append(out, text, strlen(text));
    bbs_buf_putc(out, '\n');
    free(text);
    json_decref(v);
}

static const char *route_kind_name(enum bbs_route_kind k)
{
    switch (k) {
    case BBS_ROUTE_UNARY:
        return "protobuf";
    case BBS_ROUTE_STREAM:
        return "events";
    case BBS_ROUTE_JSON:
        return "json";
    }
    return "unknown";
}

/* The revision of `path` (".rN" suffix; 0 without one) and the length of its base. */
static int path_revision(const char *path, size_t *base_len)
{
    const char *dot = strrchr(path, '.');
    char *end = NULL;
    long r;

    *base_len = strlen(path);
    if (dot == NULL || dot[1] != 'r' || dot[2] < '0' || dot[2] > '9') {
        return 0;
    }
    r = strtol(dot + 2, &end, 10);
    if (*end != '\0') {
        return 0;
    }
    *base_len = (size_t)(dot - path);
    return (int)r;
}

/* ---- discover ----------------------------------------------------------------------------- */

void bbs_diag_discover(struct bbs_buf *out)
{
    json_t *routes = json_array();
    json_t *revisions = json_object();
    const struct bbs_route *r;

    for (size_t i = 0; (r = bbs_route_at(i)) != NULL; i++) {
        size_t base_len;
        int rev = path_revision(r->path, &base_len);
        char base[256];
        json_t *list;

        json_array_append_new(routes, json_pack("{s:s, s:s, s:s}", "path", r->path, "method",
                                                r->method, "kind", route_kind_name(r->kind)));
        snprintf(base, sizeof(base), "%.*s", (int)base_len, r->path);
        list = json_object_get(revisions, base);
        if (list == NULL) {
            list = json_array();
            json_object_set_new(revisions, base, list);
        }
        json_array_append_new(list, json_integer(rev));
    }
    put_json(json_pack("{s:s, s:s, s:s, s:o, s:o}", "name", "bbs", "version",
                       BBS_VERSION_MAJOR_MINOR, "release", BBS_RELEASE, "routes", routes,
                       "revisions", revisions),
             out);
}

/* ---- diagnostics -------------------------------------------------------------------------- */

static void check(json_t *checks, int *all_pass, const char *name, int pass, const char *reason)
{
    json_array_append_new(checks, json_pack("{s:s, s:s, s:s}", "name", name, "status",
                                            pass ? "PASS" : "FAIL", "reason", reason));
    if (!pass) {
        *all_pass = 0;
    }
}

/* Any HTTP answer from `url` within the timeout counts: the auctioneer has no health route. */
static int http_answers(const char *url, const struct bbs_config *cfg, char *reason, size_t len)
{
    CURL *h = curl_easy_init();
    char errbuf[CURL_ERROR_SIZE] = "";
    long status = 0;
    CURLcode rc;

    if (h == NULL) {
        snprintf(reason, len, "cannot make an HTTP client");
        return -1;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(BBS_DIAG_CHECK_TIMEOUT_NS / 1000000));
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (cfg->auctioneer_ca_cert[0] != '\0') {
        curl_easy_setopt(h, CURLOPT_CAINFO, cfg->auctioneer_ca_cert);
        curl_easy_setopt(h, CURLOPT_SSLCERT, cfg->auctioneer_client_cert);
        curl_easy_setopt(h, CURLOPT_SSLKEY, cfg->auctioneer_client_key);
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    }
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK || status == 0) {
        snprintf(reason, len, "%s: %s", url, errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
        return -1;
    }
    snprintf(reason, len, "%s answered HTTP %ld", url, status);
    return 0;
}

static void check_auctioneer(const struct bbs_config *cfg, json_t *checks, int *all_pass)
{
    char reason[512];
    char url[512];
    int ok;

    snprintf(url, sizeof(url), "%s/", cfg->auctioneer_address);
    ok = http_answers(url, cfg, reason, sizeof(reason)) == 0;
    /* As the auction client does (auctioneer/client.go): a failed https:// is tried once over
     * http:// unless auctioneer_require_tls. */
    if (!ok && !cfg->auctioneer_require_tls && strncmp(url, "https://", 8) == 0) {
        char plain[512];
        char why[512];

        snprintf(plain, sizeof(plain), "http://%s", url + 8);
        ok = http_answers(plain, cfg, why, sizeof(why)) == 0;
        if (ok) {
            snprintf(reason, sizeof(reason), "%s", why);
        }
    }
    check(checks, all_pass, "auctioneer", ok, reason);
}

static void check_locket(struct bbs_locket *locket, json_t *checks, int *all_pass)
{
    struct bbs_arena *arena = bbs_arena_new();
    struct bbs_error err = {0};
    struct bbs_cell *cells = NULL;
    size_t n = 0;
    char reason[300];
    int ok = bbs_locket_cells(locket, arena, &cells, &n, &err) == 0;

    if (ok) {
        snprintf(reason, sizeof(reason), "presences fetched: %zu cells", n);
    } else {
        snprintf(reason, sizeof(reason), "%.250s", err.message);
    }
    bbs_arena_free(arena);
    check(checks, all_pass, "locket", ok, reason);
}

void bbs_diag_diagnostics(const struct bbs_ctx *ctx, struct bbs_buf *out)
{
    json_t *checks = json_array();
    int all_pass = 1;
    char reason[512];

    if (ctx == NULL || ctx->store == NULL) {
        check(checks, &all_pass, "server", 0,
              "starting: the database and its dependents are not checked until start-up is done");
        goto out;
    }
    {
        const struct bbs_config *cfg = ctx->cfg;
        struct bbs_store_probe p;

        bbs_store_probe(ctx->store, cfg->migrations_dir, BBS_DIAG_CHECK_TIMEOUT_NS, &p);
        if (p.writable) {
            snprintf(reason, sizeof(reason),
                     "reachable; wrote a row in a transaction and rolled it back");
        } else {
            snprintf(reason, sizeof(reason), "%s: %s",
                     p.reachable ? "reachable but not writable" : "unreachable", p.db_reason);
        }
        check(checks, &all_pass, "database", p.writable, reason);

        if (p.schema_version < 0 || p.files_version < 0) {
            snprintf(reason, sizeof(reason), "cannot tell: %s",
                     p.migrations_reason[0] != '\0' ? p.migrations_reason : p.db_reason);
            check(checks, &all_pass, "migrations", 0, reason);
        } else {
            snprintf(reason, sizeof(reason), "schema version %ld, newest migration %ld%s",
                     p.schema_version, p.files_version,
                     p.schema_version == p.files_version ? "" : ": not current");
            check(checks, &all_pass, "migrations", p.schema_version == p.files_version, reason);
        }

        if (ctx->leader_held != NULL) {
            int held = ctx->leader_held(ctx->leader_arg, reason, sizeof(reason));

            check(checks, &all_pass, "leader", held, reason);
        } else {
            check(checks, &all_pass, "leader", 1,
                  "single server: no leader election configured, this server acts as leader");
        }

        if (cfg->auctioneer_address[0] != '\0') {
            check_auctioneer(cfg, checks, &all_pass);
        }
        if (ctx->locket != NULL) {
            check_locket(ctx->locket, checks, &all_pass);
        }
        for (size_t i = 0; i < cfg->encryption_keys.n; i++) {
            char name[160];
            int ok =
                bbs_store_probe_key(ctx->store, cfg->encryption_keys.names[i],
                                    cfg->encryption_keys.values[i], reason, sizeof(reason)) == 0;

            snprintf(name, sizeof(name), "encryption_key:%s", cfg->encryption_keys.names[i]);
            check(checks, &all_pass, name, ok, reason);
        }
    }
out:
    put_json(json_pack("{s:s, s:o}", "status", all_pass ? "PASS" : "FAIL", "checks", checks), out);
}

/* ---- stats -------------------------------------------------------------------------------- */

void bbs_diag_stats(const struct bbs_ctx *ctx, struct bbs_buf *out)
{
    json_t *o = json_object();
    struct bbs_metrics *m = ctx != NULL ? ctx->metrics : NULL;
    struct bbs_store_counts c;
    struct bbs_error err = {0};

    json_object_set_new(o, "uptime_seconds",
                        json_real(m != NULL ? (double)bbs_metrics_uptime_ns(m) / 1e9 : 0.0));
    json_object_set_new(o, "requests_served",
                        json_integer(m != NULL ? (json_int_t)bbs_metrics_requests(m) : 0));
    if (ctx == NULL || ctx->store == NULL) {
        json_object_set_new(o, "counts_error", json_string("starting: no database yet"));
    } else if (bbs_store_counts(ctx->store, BBS_DIAG_CHECK_TIMEOUT_NS, &c, &err) != 0) {
        json_object_set_new(o, "counts_error", json_string(err.message));
    } else {
        json_t *alrps = json_object();
        json_t *tasks = json_object();

        for (int s = 0; s < BBS_STORE_ALRP_STATES; s++) {
            json_object_set_new(alrps, bbs_alrp_state_name((enum bbs_alrp_state)s),
                                json_integer((json_int_t)c.actual_lrps[s]));
        }
        for (int s = BBS_TASK_PENDING; s < BBS_STORE_TASK_STATES; s++) {
            json_object_set_new(tasks, bbs_task_state_name((enum bbs_task_state)s),
                                json_integer((json_int_t)c.tasks[s]));
        }
        json_object_set_new(o, "domains", json_integer((json_int_t)c.domains));
        json_object_set_new(o, "desired_lrps", json_integer((json_int_t)c.desired_lrps));
        json_object_set_new(o, "actual_lrps", alrps);
        json_object_set_new(o, "evacuating_actual_lrps",
                            json_integer((json_int_t)c.evacuating_lrps));
        json_object_set_new(o, "suspect_actual_lrps", json_integer((json_int_t)c.suspect_lrps));
        json_object_set_new(o, "tasks", tasks);
    }
    put_json(o, out);
}

int bbs_diag_answer(const char *path, const struct bbs_ctx *ctx, struct bbs_buf *out)
{
    if (strcmp(path, "/v1/discover") == 0) {
        bbs_diag_discover(out);
    } else if (strcmp(path, "/v1/diagnostics") == 0) {
        bbs_diag_diagnostics(ctx, out);
    } else if (strcmp(path, "/v1/stats") == 0) {
        bbs_diag_stats(ctx, out);
    } else {
        return 0;
    }
    return 1;
}

/* ---- the API listener's routes (BBS_ROUTE_JSON: resp->body is the JSON text) ------------- */

int bbs_h_discover(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                   struct bbs_error *err)
{
    (void)req;
    (void)msg;
    (void)err;
    bbs_diag_discover(&resp->body);
    return 0;
}

int bbs_h_diagnostics(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                      struct bbs_error *err)
{
    (void)msg;
    (void)err;
    bbs_diag_diagnostics(req->ctx, &resp->body);
    return 0;
}

int bbs_h_stats(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                struct bbs_error *err)
{
    (void)msg;
    (void)err;
    bbs_diag_stats(req->ctx, &resp->body);
    return 0;
}
