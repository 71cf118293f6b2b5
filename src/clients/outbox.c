/*
 * outbox.c - bounded queue of outbound HTTP calls over curl multi (outbox.h).
 *
 * Producers (API handlers, later convergence) push onto an intrusive
 * multi-producer single-consumer list (Vyukov's: one atomic exchange per
 * push, no lock) and wake the outbox thread with curl_multi_wakeup(). The
 * bound is an atomic count taken before the push. The outbox thread alone
 * pops, owns the curl multi handle and every easy handle, and so needs no
 * lock either; counters are atomics read by bbs_outbox_stats().
 */
#include "bbs/outbox.h"

#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bbs/log.h"
#include "bbs/xalloc.h"

#define OUTBOX_QUEUE_MAX      10000
#define OUTBOX_IN_FLIGHT      64
#define OUTBOX_TIMEOUT_NS     INT64_C(10000000000)
#define OUTBOX_DRAIN_NS       INT64_C(2000000000)
#define OUTBOX_CALLBACK_TRIES 3 /* upstream's MAX_CB_RETRIES */
#define OUTBOX_TRACE_MAX      256

struct outbox_job {
    _Atomic(struct outbox_job *) next; /* queue link */
    enum bbs_outbox_kind kind;
    char *method;
    char *url; /* the next attempt's URL (rewritten to http:// by the fallback) */
    char *body;
    size_t body_len;
    struct curl_slist *headers;
    long timeout_ms;
    long expect_status;
    enum bbs_outbox_retry retry;
    int follow_redirects;
    char *log_name;
    char *trace_id;
    size_t items;
    void (*done)(void *arg, const struct bbs_outbox_result *r);
    void *done_arg;
    /* Owned by the outbox thread while in flight. */
    CURL *easy;
    int attempts;
    size_t slot; /* index in ob->active */
    char errbuf[CURL_ERROR_SIZE];
};

struct outbox_tls {
    char *ca_file;
    char *cert_file;
    char *key_file;
    int require_tls;
};

struct bbs_outbox {
    size_t queue_max;
    size_t max_in_flight;
    long default_timeout_ms;
    int64_t drain_ns;
    struct outbox_tls tls[BBS_OUTBOX_KINDS];
    CURLM *multi;
    pthread_t thread;
    struct outbox_job **active; /* in flight (max_in_flight slots); outbox thread only */
    size_t n_active;
    /* Vyukov MPSC list: producers exchange `head`, the thread pops at `tail`. */
    _Atomic(struct outbox_job *) head;
    struct outbox_job *tail;
    struct outbox_job stub;
    _Atomic size_t len;
    _Atomic int stopping;
    int stopped; /* thread joined (bbs_outbox_stop, caller's thread only) */
    _Atomic int64_t deadline_ns;
    _Atomic uint64_t n_queued;
    _Atomic uint64_t n_sent;
    _Atomic uint64_t n_failed;
    _Atomic uint64_t n_dropped_full;
    _Atomic uint64_t n_dropped;
    _Atomic uint64_t n_retried;
};

static pthread_once_t outbox_once = PTHREAD_ONCE_INIT;

/* A NULL string is copied as "". */
static char *outbox_strdup(const char *s)
{
    return bbs_xstrdup(s != NULL ? s : "");
}

static int64_t outbox_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

/* curl_global_init is not thread-safe: exactly once, before any handle. */
static void outbox_global_init(void)
{
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

    if (rc != CURLE_OK) {
        bbs_log(BBS_LOG_ERROR, "outbox.curl-init-failed", "{s:s}", "error", curl_easy_strerror(rc));
    }
}

static long outbox_ms(int64_t ns)
{
    /* Round up: a sub-millisecond timeout must not become 0 (= none). */
    return (long)((ns + 999999) / 1000000);
}

static void outbox_job_free(struct outbox_job *job)
{
    if (job == NULL) {
        return;
    }
    if (job->easy != NULL) {
        curl_easy_cleanup(job->easy);
    }
    free(job->method);
    free(job->url);
    free(job->body);
    curl_slist_free_all(job->headers);
    free(job->log_name);
    free(job->trace_id);
    free(job);
}

/* ---- the lock-free queue ------------------------------------------------------------- */

static void outbox_push(struct bbs_outbox *ob, struct outbox_job *job)
{
    struct outbox_job *prev;

    atomic_store(&job->next, NULL);
    prev = atomic_exchange(&ob->head, job);
    atomic_store(&prev->next, job);
}

/*
 * Pop the oldest job, or NULL when empty or when a producer is between its
 * exchange and its link (it wakes the thread after linking, so the job is
 * seen on the next round).
 */
static struct outbox_job *outbox_pop(struct bbs_outbox *ob)
{
    struct outbox_job *tail = ob->tail;
    struct outbox_job *next = atomic_load(&tail->next);

    if (tail == &ob->stub) {
        if (next == NULL) {
            return NULL;
        }
        ob->tail = next;
        tail = next;
        next = atomic_load(&next->next);
    }
    if (next != NULL) {
        ob->tail = next;
        return tail;
    }
    if (tail != atomic_load(&ob->head)) {
        return NULL;
    }
    outbox_push(ob, &ob->stub);
    next = atomic_load(&tail->next);
    if (next != NULL) {
        ob->tail = next;
        return tail;
    }
    return NULL;
}

/* ---- TLS identities ------------------------------------------------------------------ */

static int outbox_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

int bbs_outbox_tls_check(const struct bbs_outbox_tls *tls, const char *what, struct bbs_error *err)
{
    gnutls_certificate_credentials_t cred = NULL;
    int n_set = outbox_set(tls->ca_file) + outbox_set(tls->cert_file) + outbox_set(tls->key_file);
    int rc = -1;
    int g;

    if (n_set == 0) {
        return 0;
    }
    if (n_set != 3) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                       "%s client TLS: the CA, certificate and key files are all required", what);
        return -1;
    }
    if (gnutls_certificate_allocate_credentials(&cred) != GNUTLS_E_SUCCESS) {
        bbs_out_of_memory(0); /* its only failure; the size is GnuTLS's own */
    }
    g = gnutls_certificate_set_x509_key_file(cred, tls->cert_file, tls->key_file,
                                             GNUTLS_X509_FMT_PEM);
    if (g < 0) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                       "%s client TLS: cannot load certificate %s with key %s: %s", what,
                       tls->cert_file, tls->key_file, gnutls_strerror(g));
        goto out;
    }
    g = gnutls_certificate_set_x509_trust_file(cred, tls->ca_file, GNUTLS_X509_FMT_PEM);
    if (g <= 0) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST, "%s client TLS: cannot load CA file %s: %s",
                       what, tls->ca_file, g < 0 ? gnutls_strerror(g) : "no certificate in it");
        goto out;
    }
    rc = 0;
out:
    gnutls_certificate_free_credentials(cred);
    return rc;
}

/* ---- transfers ----------------------------------------------------------------------- */

static size_t outbox_discard(char *data, size_t size, size_t nmemb, void *user)
{
    (void)data;
    (void)user;
    return size * nmemb;
}

static void outbox_start(struct bbs_outbox *ob, struct outbox_job *job)
{
    const struct outbox_tls *tls = &ob->tls[job->kind];

    if (job->easy == NULL) {
        job->easy = curl_easy_init();
        if (job->easy == NULL) {
            bbs_out_of_memory(0); /* curl's only reason for NULL once global init ran */
        }
    } else {
        curl_easy_reset(job->easy);
    }
    job->attempts++;
    job->errbuf[0] = '\0';
    curl_easy_setopt(job->easy, CURLOPT_PRIVATE, job);
    curl_easy_setopt(job->easy, CURLOPT_URL, job->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(job->easy, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(job->easy, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM in a threaded server */
    /* POST and GET are curl's own (POSTFIELDS makes a POST), so a followed
     * 301/302/303 turns a POST into a GET as Go's client does; a custom
     * verb would be kept on every hop. */
    if (strcmp(job->method, "POST") != 0 && strcmp(job->method, "GET") != 0) {
        curl_easy_setopt(job->easy, CURLOPT_CUSTOMREQUEST, job->method);
    }
    if (job->body != NULL) {
        curl_easy_setopt(job->easy, CURLOPT_POSTFIELDS, job->body);
        curl_easy_setopt(job->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)job->body_len);
    } else if (strcmp(job->method, "GET") != 0) {
        curl_easy_setopt(job->easy, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(job->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    curl_easy_setopt(job->easy, CURLOPT_HTTPHEADER, job->headers);
    curl_easy_setopt(job->easy, CURLOPT_TIMEOUT_MS, job->timeout_ms);
    curl_easy_setopt(job->easy, CURLOPT_WRITEFUNCTION, outbox_discard);
    curl_easy_setopt(job->easy, CURLOPT_ERRORBUFFER, job->errbuf);
    if (job->follow_redirects) {
        /* As Go's client: up to 10, a 301/302/303 turns the POST into a GET. */
        curl_easy_setopt(job->easy, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(job->easy, CURLOPT_MAXREDIRS, 10L);
    }
    if (tls->cert_file != NULL) {
        curl_easy_setopt(job->easy, CURLOPT_CAINFO, tls->ca_file);
        curl_easy_setopt(job->easy, CURLOPT_SSLCERT, tls->cert_file);
        curl_easy_setopt(job->easy, CURLOPT_SSLKEY, tls->key_file);
        curl_easy_setopt(job->easy, CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (curl_multi_add_handle(ob->multi, job->easy) != CURLM_OK) {
        bbs_out_of_memory(0); /* a fresh easy handle on our own multi: only memory can fail */
    }
}

static void outbox_finish(struct bbs_outbox *ob, struct outbox_job *job,
                          const struct bbs_outbox_result *r, int dropped)
{
    const char *name = job->log_name;
    char msg[96];

    if (r->ok) {
        atomic_fetch_add(&ob->n_sent, 1);
        snprintf(msg, sizeof(msg), "%s.requested", name);
        bbs_log(BBS_LOG_DEBUG, msg, "{s:s, s:I, s:s, s:i}", "url", job->url, "items",
                (json_int_t)job->items, "trace_id", job->trace_id, "attempts", r->attempts);
    } else if (dropped) {
        atomic_fetch_add(&ob->n_dropped, 1);
    } else {
        atomic_fetch_add(&ob->n_failed, 1);
        snprintf(msg, sizeof(msg), "%s.request-failed", name);
        if (r->error != NULL) {
            bbs_log(BBS_LOG_ERROR, msg, "{s:s, s:I, s:s, s:s, s:i}", "url", job->url, "items",
                    (json_int_t)job->items, "trace_id", job->trace_id, "error", r->error,
                    "attempts", r->attempts);
        } else {
            bbs_log(BBS_LOG_ERROR, msg, "{s:s, s:I, s:s, s:I, s:i}", "url", job->url, "items",
                    (json_int_t)job->items, "trace_id", job->trace_id, "status",
                    (json_int_t)r->status, "attempts", r->attempts);
        }
    }
    if (job->done != NULL) {
        job->done(job->done_arg, r);
    }
    outbox_job_free(job);
}

/* Upstream retries a callback on "Client.Timeout" or "use of closed network connection". */
static int outbox_callback_retriable(CURLcode rc, long status)
{
    if (rc == CURLE_OK) {
        return status == 503 || status == 504;
    }
    return rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR ||
           rc == CURLE_SEND_ERROR;
}

/* The in-flight table: job->slot indexes ob->active; removal swaps in the last one. */
static void outbox_active_add(struct bbs_outbox *ob, struct outbox_job *job)
{
    job->slot = ob->n_active;
    ob->active[ob->n_active++] = job;
}

static void outbox_active_remove(struct bbs_outbox *ob, struct outbox_job *job)
{
    struct outbox_job *last = ob->active[--ob->n_active];

    ob->active[job->slot] = last;
    last->slot = job->slot;
}

/* A finished transfer: start its next attempt, or finish it (and leave the table). */
static void outbox_done(struct bbs_outbox *ob, struct outbox_job *job, CURLcode rc)
{
    struct bbs_outbox_result r = {0};
    int retry = 0;

    curl_multi_remove_handle(ob->multi, job->easy);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(job->easy, CURLINFO_RESPONSE_CODE, &r.status);
    }
    r.attempts = job->attempts;
    r.error =
        rc == CURLE_OK ? NULL : (job->errbuf[0] != '\0' ? job->errbuf : curl_easy_strerror(rc));
    r.ok = rc == CURLE_OK && (job->expect_status != 0 ? r.status == job->expect_status
                                                      : r.status >= 200 && r.status < 300);
    if (job->retry == BBS_OUTBOX_RETRY_CALLBACK) {
        /* taskcallback.go: any final answer but 503/504 resolves the task, 500 included. */
        r.ok = rc == CURLE_OK && r.status != 503 && r.status != 504;
    }

    switch (job->retry) {
    case BBS_OUTBOX_RETRY_NONE:
        break;
    case BBS_OUTBOX_RETRY_HTTP_FALLBACK:
        /* auctioneer/client.go: transport error over TLS, TLS not required: try http://. */
        retry = rc != CURLE_OK && job->attempts == 1 && ob->tls[job->kind].cert_file != NULL &&
                !ob->tls[job->kind].require_tls && strncmp(job->url, "https://", 8) == 0;
        if (retry) {
            char msg[96];
            size_t n = strlen(job->url);

            snprintf(msg, sizeof(msg), "%s.retrying-on-http", job->log_name);
            bbs_log(BBS_LOG_ERROR, msg, "{s:s, s:s}", "url", job->url, "error", r.error);
            memmove(job->url + 4, job->url + 5, n - 4); /* "https://x" -> "http://x" */
        }
        break;
    case BBS_OUTBOX_RETRY_CALLBACK:
        retry = !r.ok && job->attempts < OUTBOX_CALLBACK_TRIES &&
                outbox_callback_retriable(rc, r.status);
        break;
    }
    if (retry && !atomic_load(&ob->stopping)) {
        atomic_fetch_add(&ob->n_retried, 1);
        outbox_start(ob, job);
        return;
    }
    outbox_active_remove(ob, job);
    outbox_finish(ob, job, &r, 0);
}

static void outbox_drop(struct bbs_outbox *ob, struct outbox_job *job, const char *why)
{
    struct bbs_outbox_result r = {0, 0, job->attempts, why};

    outbox_finish(ob, job, &r, 1);
}

/* Drain time over: abort what is in flight, drop what waits, say so once. */
static void outbox_abandon(struct bbs_outbox *ob)
{
    struct outbox_job *job;
    size_t n = 0;
    size_t items = 0;

    while (ob->n_active > 0) {
        job = ob->active[ob->n_active - 1];
        curl_multi_remove_handle(ob->multi, job->easy);
        outbox_active_remove(ob, job);
        n++;
        items += job->items;
        outbox_drop(ob, job, "shutdown drain time over");
    }
    while ((job = outbox_pop(ob)) != NULL) {
        atomic_fetch_sub(&ob->len, 1);
        n++;
        items += job->items;
        outbox_drop(ob, job, "shutdown drain time over");
    }
    if (n > 0) {
        /* One line, not one per request: a full queue would be 10000 lines. */
        bbs_log(BBS_LOG_ERROR, "outbox.dropped", "{s:I, s:I, s:s}", "requests", (json_int_t)n,
                "items", (json_int_t)items, "reason", "shutdown drain time over");
    }
}

static void *outbox_main(void *arg)
{
    struct bbs_outbox *ob = arg;
    int running = 0;

    for (;;) {
        struct outbox_job *job;
        CURLMsg *m;
        int left;
        int stopping = atomic_load(&ob->stopping);

        if (stopping && outbox_now_ns() >= atomic_load(&ob->deadline_ns)) {
            outbox_abandon(ob);
            break;
        }
        while (ob->n_active < ob->max_in_flight && (job = outbox_pop(ob)) != NULL) {
            atomic_fetch_sub(&ob->len, 1);
            outbox_active_add(ob, job);
            outbox_start(ob, job);
        }
        if (stopping && ob->n_active == 0 && atomic_load(&ob->len) == 0) {
            break;
        }
        curl_multi_perform(ob->multi, &running);
        while ((m = curl_multi_info_read(ob->multi, &left)) != NULL) {
            char *priv = NULL;

            if (m->msg != CURLMSG_DONE) {
                continue;
            }
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
            outbox_done(ob, (struct outbox_job *)(void *)priv, m->data.result);
        }
        /* Woken early by bbs_outbox_send/free (curl_multi_wakeup) or by socket activity. */
        curl_multi_poll(ob->multi, NULL, 0, stopping ? 20 : 1000, NULL);
    }
    return NULL;
}

static void outbox_copy_tls(struct outbox_tls *dst, const struct bbs_outbox_tls *src)
{
    dst->require_tls = src->require_tls;
    if (outbox_set(src->cert_file)) {
        dst->ca_file = outbox_strdup(src->ca_file);
        dst->cert_file = outbox_strdup(src->cert_file);
        dst->key_file = outbox_strdup(src->key_file);
    }
}

struct bbs_outbox *bbs_outbox_new(const struct bbs_outbox_config *cfg, struct bbs_error *err)
{
    static const char *const what[BBS_OUTBOX_KINDS] = {"auctioneer", "rep", "task callback"};
    struct bbs_outbox *ob = NULL;
    int rc;

    for (int k = 0; k < BBS_OUTBOX_KINDS; k++) {
        if (bbs_outbox_tls_check(&cfg->tls[k], what[k], err) != 0) {
            return NULL;
        }
    }
    ob = bbs_xcalloc(1, sizeof(*ob));
    ob->queue_max = cfg->queue_max > 0 ? cfg->queue_max : OUTBOX_QUEUE_MAX;
    ob->max_in_flight = cfg->max_in_flight > 0 ? cfg->max_in_flight : OUTBOX_IN_FLIGHT;
    ob->default_timeout_ms =
        outbox_ms(cfg->default_timeout_ns > 0 ? cfg->default_timeout_ns : OUTBOX_TIMEOUT_NS);
    ob->drain_ns = cfg->drain_ns > 0 ? cfg->drain_ns : OUTBOX_DRAIN_NS;
    for (int k = 0; k < BBS_OUTBOX_KINDS; k++) {
        outbox_copy_tls(&ob->tls[k], &cfg->tls[k]);
    }
    ob->active = bbs_xcalloc(ob->max_in_flight, sizeof(*ob->active));
    atomic_store(&ob->head, &ob->stub);
    ob->tail = &ob->stub;

    pthread_once(&outbox_once, outbox_global_init);
    ob->multi = curl_multi_init();
    if (ob->multi == NULL) {
        bbs_out_of_memory(0); /* curl's only reason for NULL */
    }
    /* Like out of memory: the process cannot do its job without the thread. */
    rc = pthread_create(&ob->thread, NULL, outbox_main, ob);
    if (rc != 0) {
        bbs_log_fatal("outbox.thread-create-failed", "{s:s}", "error", strerror(rc));
    }
    return ob;
}

/* A trace id becomes a header line: anything that could end it makes it "". */
static const char *outbox_clean_trace(const char *t)
{
    size_t i;

    if (t == NULL) {
        return "";
    }
    for (i = 0; t[i] != '\0' && i < OUTBOX_TRACE_MAX; i++) {
        unsigned char c = (unsigned char)t[i];

        if (c < 0x20 || c == 0x7f) {
            return "";
        }
    }
    return t[i] == '\0' ? t : "";
}

int bbs_outbox_send(struct bbs_outbox *ob, const struct bbs_outbox_request *req)
{
    struct outbox_job *job = NULL;
    const char *why = NULL;
    char msg[96];

    if (atomic_load(&ob->stopping)) {
        why = "shutting down";
    } else if (atomic_fetch_add(&ob->len, 1) >= ob->queue_max) {
        atomic_fetch_sub(&ob->len, 1);
        atomic_fetch_add(&ob->n_dropped_full, 1);
        why = "queue full";
    }
    if (why != NULL) {
        struct bbs_outbox_result r = {0, 0, 0, why};

        snprintf(msg, sizeof(msg), "%s.request-dropped",
                 req->log_name != NULL ? req->log_name : "outbox");
        bbs_log(BBS_LOG_ERROR, msg, "{s:s, s:s, s:I, s:s}", "reason", why, "url", req->url, "items",
                (json_int_t)req->items, "trace_id", outbox_clean_trace(req->trace_id));
        if (req->done != NULL) {
            req->done(req->done_arg, &r);
        }
        return -1;
    }

    job = bbs_xcalloc(1, sizeof(*job));
    job->kind = req->kind;
    job->method = outbox_strdup(req->method != NULL ? req->method : "POST");
    job->url = outbox_strdup(req->url);
    if (req->body != NULL) {
        job->body = bbs_xmalloc(req->body_len + 1);
        memcpy(job->body, req->body, req->body_len);
        job->body[req->body_len] = '\0';
        job->body_len = req->body_len;
    }
    for (size_t i = 0; i < req->n_headers; i++) {
        struct curl_slist *h = curl_slist_append(job->headers, req->headers[i]);

        if (h == NULL) {
            bbs_out_of_memory(strlen(req->headers[i]) + 1); /* curl's only reason for NULL */
        }
        job->headers = h;
    }
    job->timeout_ms = req->timeout_ns > 0 ? outbox_ms(req->timeout_ns) : ob->default_timeout_ms;
    job->expect_status = req->expect_status;
    job->retry = req->retry;
    job->follow_redirects = req->follow_redirects;
    job->log_name = outbox_strdup(req->log_name != NULL ? req->log_name : "outbox");
    job->trace_id = outbox_strdup(outbox_clean_trace(req->trace_id));
    job->items = req->items;
    job->done = req->done;
    job->done_arg = req->done_arg;

    outbox_push(ob, job);
    atomic_fetch_add(&ob->n_queued, 1);
    curl_multi_wakeup(ob->multi);
    return 0;
}

void bbs_outbox_stats(const struct bbs_outbox *ob, struct bbs_outbox_stats *out)
{
    out->queued = atomic_load(&ob->n_queued);
    out->sent = atomic_load(&ob->n_sent);
    out->failed = atomic_load(&ob->n_failed);
    out->dropped_full = atomic_load(&ob->n_dropped_full);
    out->dropped = atomic_load(&ob->n_dropped);
    out->retried = atomic_load(&ob->n_retried);
}

void bbs_outbox_stop(struct bbs_outbox *ob)
{
    struct outbox_job *job;

    if (ob == NULL || ob->stopped) {
        return;
    }
    atomic_store(&ob->deadline_ns, outbox_now_ns() + ob->drain_ns);
    atomic_store(&ob->stopping, 1);
    curl_multi_wakeup(ob->multi);
    /*
     * Bounded: the thread polls at least every 20 ms while stopping, and
     * past the deadline aborts what is in flight and drops what is queued.
     */
    pthread_join(ob->thread, NULL);
    ob->stopped = 1;
    /* A send that passed its stopping check just before the thread ended. */
    while ((job = outbox_pop(ob)) != NULL) {
        atomic_fetch_sub(&ob->len, 1);
        outbox_drop(ob, job, "shutting down");
    }
}

void bbs_outbox_free(struct bbs_outbox *ob)
{
    if (ob == NULL) {
        return;
    }
    bbs_outbox_stop(ob);
    curl_multi_cleanup(ob->multi);
    for (int k = 0; k < BBS_OUTBOX_KINDS; k++) {
        free(ob->tls[k].ca_file);
        free(ob->tls[k].cert_file);
        free(ob->tls[k].key_file);
    }
    free(ob->active);
    free(ob);
}
