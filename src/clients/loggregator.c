/*
 * loggregator.c - the Loggregator v2 emitter (loggregator.h): one
 * long-lived client-streaming gRPC call over HTTP/2 with mutual TLS,
 * driven by a curl multi loop on the emitter's thread.
 *
 * The call is a POST to https://metron:<port>/loggregator.v2.Ingress/
 * BatchSender (the name resolved to 127.0.0.1 with CURLOPT_RESOLVE, so the
 * agent's certificate is checked for "metron") whose body never ends
 * while the server runs: libcurl asks the read callback for body bytes;
 * when none are waiting the callback pauses the upload, and the thread
 * resumes it when a batch arrives. gRPC framing (a 5-byte prefix per
 * message) is locket.h's. The agent answers (grpc-status) only when the
 * stream ends, which is at stop or when it breaks.
 *
 * Thread rules: senders touch only `mu`-guarded queue and the atomics;
 * everything curl is the emitter thread's alone.
 */
#include "bbs/loggregator.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "bbs/buf.h"
#include "bbs/locket.h"
#include "bbs/log.h"
#include "bbs/outbox.h"
#include "bbs/xalloc.h"
#include "loggregator_v2.pb-c.h"

#define LG_DEFAULT_PORT  3458
#define LG_BATCH_DEFAULT 100
#define LG_QUEUE_DEFAULT 10000
#define LG_RETRY_NS      INT64_C(1000000000) /* a broken stream is re-opened at most this often */
#define LG_STOP_NS       INT64_C(1000000000) /* stop: time for the queue to go out */
#define LG_POLL_MS       1000
#define LG_OUT_MAX       ((size_t)4 << 20) /* bytes waiting for a slow agent at most */

struct lg_item {
    uint8_t *data;
    size_t len;
};

struct bbs_loggregator {
    char *url;
    char *resolve; /* "metron:<port>:127.0.0.1" */
    char *ca_file;
    char *cert_file;
    char *key_file;
    char *source_id;
    char *instance_id;
    char *origin;
    size_t batch_max;
    size_t queue_max;

    pthread_mutex_t mu; /* guards q, n_q, cap_q, stopping */
    struct lg_item *q;
    size_t n_q;
    size_t cap_q;
    int stopping;

    CURLM *multi;
    pthread_t thread;
    int started;

    atomic_uint_fast64_t queued;
    atomic_uint_fast64_t written;
    atomic_uint_fast64_t dropped;
    atomic_uint_fast64_t streams;

    /* The emitter thread's own. */
    CURL *easy;
    struct curl_slist *headers;
    struct curl_slist *resolve_list;
    struct bbs_buf out; /* framed batches not yet read by libcurl, from out_off */
    size_t out_off;
    size_t out_envelopes; /* envelopes in `out` (lost if the stream breaks) */
    int active;           /* a call is open */
    int paused;           /* the read callback paused the upload */
    int ending;           /* the body ends once `out` is read */
    int grpc_status;      /* -1 until the answer's grpc-status */
    char grpc_message[256];
    int64_t retry_at;
    int failing; /* the last stream failed: the next success is logged */
};

static int64_t lg_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- envelopes ------------------------------------------------------------------------ */

uint8_t *bbs_loggregator_pack(int64_t ts_ns, const char *source_id, const char *instance_id,
                              const char *origin, const char *name, double value, uint64_t delta,
                              const char *unit, const char *tag_key, const char *tag_value,
                              size_t *len)
{
    Loggregator__V2__Envelope env = LOGGREGATOR__V2__ENVELOPE__INIT;
    Loggregator__V2__Envelope__TagsEntry tags[2] = {LOGGREGATOR__V2__ENVELOPE__TAGS_ENTRY__INIT,
                                                    LOGGREGATOR__V2__ENVELOPE__TAGS_ENTRY__INIT};
    Loggregator__V2__Envelope__TagsEntry *tag_ptrs[2];
    Loggregator__V2__Counter counter = LOGGREGATOR__V2__COUNTER__INIT;
    Loggregator__V2__Gauge gauge = LOGGREGATOR__V2__GAUGE__INIT;
    Loggregator__V2__Gauge__MetricsEntry entry = LOGGREGATOR__V2__GAUGE__METRICS_ENTRY__INIT;
    Loggregator__V2__Gauge__MetricsEntry *entries[1] = {&entry};
    Loggregator__V2__GaugeValue gv = LOGGREGATOR__V2__GAUGE_VALUE__INIT;
    uint8_t *buf;

    env.timestamp = ts_ns;
    env.source_id = (char *)source_id;
    env.instance_id = (char *)instance_id;
    if (origin != NULL && origin[0] != '\0') {
        tags[env.n_tags].key = (char *)"origin";
        tags[env.n_tags].value = (char *)origin;
        tag_ptrs[env.n_tags] = &tags[env.n_tags];
        env.n_tags++;
    }
    if (tag_key != NULL) {
        tags[env.n_tags].key = (char *)tag_key;
        tags[env.n_tags].value = (char *)(tag_value != NULL ? tag_value : "");
        tag_ptrs[env.n_tags] = &tags[env.n_tags];
        env.n_tags++;
    }
    env.tags = env.n_tags > 0 ? tag_ptrs : NULL;
    if (unit == NULL) {
        counter.name = (char *)name;
        counter.delta = delta;
        env.message_case = LOGGREGATOR__V2__ENVELOPE__MESSAGE_COUNTER;
        env.counter = &counter;
    } else {
        gv.unit = (char *)unit;
        gv.value = value;
        entry.key = (char *)name;
        entry.value = &gv;
        gauge.n_metrics = 1;
        gauge.metrics = entries;
        env.message_case = LOGGREGATOR__V2__ENVELOPE__MESSAGE_GAUGE;
        env.gauge = &gauge;
    }
    *len = protobuf_c_message_get_packed_size(&env.base);
    buf = bbs_xmalloc(*len > 0 ? *len : 1);
    protobuf_c_message_pack(&env.base, buf);
    return buf;
}

static void lg_queue(struct bbs_loggregator *lg, uint8_t *data, size_t len)
{
    int full;

    pthread_mutex_lock(&lg->mu);
    full = lg->stopping || lg->n_q >= lg->queue_max;
    if (!full) {
        if (lg->n_q == lg->cap_q) {
            lg->cap_q = lg->cap_q > 0 ? lg->cap_q * 2 : 64;
            lg->q = bbs_xrealloc(lg->q, lg->cap_q * sizeof(*lg->q));
        }
        lg->q[lg->n_q++] = (struct lg_item){data, len};
        data = NULL;
    }
    pthread_mutex_unlock(&lg->mu);
    if (full) {
        free(data);
        atomic_fetch_add(&lg->dropped, 1);
        return;
    }
    atomic_fetch_add(&lg->queued, 1);
    curl_multi_wakeup(lg->multi);
}

static int64_t lg_wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void bbs_loggregator_gauge(struct bbs_loggregator *lg, const char *name, double value,
                           const char *unit, const char *tag_key, const char *tag_value)
{
    size_t len = 0;
    uint8_t *data;

    if (lg == NULL) {
        return;
    }
    data = bbs_loggregator_pack(lg_wall_ns(), lg->source_id, lg->instance_id, lg->origin, name,
                                value, 0, unit != NULL ? unit : "Metric", tag_key, tag_value, &len);
    lg_queue(lg, data, len);
}

void bbs_loggregator_counter(struct bbs_loggregator *lg, const char *name, uint64_t delta)
{
    size_t len = 0;
    uint8_t *data;

    if (lg == NULL) {
        return;
    }
    data = bbs_loggregator_pack(lg_wall_ns(), lg->source_id, lg->instance_id, lg->origin, name, 0,
                                delta, NULL, NULL, NULL, &len);
    lg_queue(lg, data, len);
}

void bbs_loggregator_stats(const struct bbs_loggregator *lg, struct bbs_loggregator_stats *out)
{
    struct bbs_loggregator *l = (struct bbs_loggregator *)lg;

    out->queued = atomic_load(&l->queued);
    out->written = atomic_load(&l->written);
    out->dropped = atomic_load(&l->dropped);
    out->streams = atomic_load(&l->streams);
}

/* ---- the stream (emitter thread only) ------------------------------------------------- */

static size_t lg_on_read(char *buf, size_t size, size_t nitems, void *arg)
{
    struct bbs_loggregator *lg = arg;
    size_t room = size * nitems;
    size_t avail = lg->out.len - lg->out_off;

    if (avail == 0) {
        if (lg->ending) {
            return 0; /* end of stream: the agent answers */
        }
        lg->paused = 1;
        return CURL_READFUNC_PAUSE;
    }
    if (avail > room) {
        avail = room;
    }
    memcpy(buf, lg->out.data + lg->out_off, avail);
    lg->out_off += avail;
    if (lg->out_off == lg->out.len) {
        lg->out.len = 0;
        lg->out_off = 0;
        lg->out_envelopes = 0; /* handed to the connection */
    }
    return avail;
}

static size_t lg_on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    (void)p;
    (void)arg;
    return size * nmemb; /* BatchSenderResponse is empty: nothing to keep */
}

/* grpc-status / grpc-message among the headers or the trailers. */
static size_t lg_on_header(char *p, size_t size, size_t nmemb, void *arg)
{
    struct bbs_loggregator *lg = arg;
    size_t n = size * nmemb;
    char line[300];
    size_t k = n < sizeof(line) - 1 ? n : sizeof(line) - 1;

    memcpy(line, p, k);
    line[k] = '\0';
    while (k > 0 && (line[k - 1] == '\r' || line[k - 1] == '\n')) {
        line[--k] = '\0';
    }
    if (strncasecmp(line, "grpc-status:", 12) == 0) {
        lg->grpc_status = atoi(line + 12);
    } else if (strncasecmp(line, "grpc-message:", 13) == 0) {
        const char *v = line + 13;

        while (*v == ' ') {
            v++;
        }
        bbs_grpc_message_decode(v, lg->grpc_message, sizeof(lg->grpc_message));
    }
    return n;
}

static void lg_open(struct bbs_loggregator *lg)
{
    CURL *h = lg->easy;

    curl_easy_reset(h); /* keeps the connection cache */
    curl_easy_setopt(h, CURLOPT_URL, lg->url);
    curl_easy_setopt(h, CURLOPT_RESOLVE, lg->resolve_list);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, lg_on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, lg);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, lg->headers);
    curl_easy_setopt(h, CURLOPT_SSLCERT, lg->cert_file);
    curl_easy_setopt(h, CURLOPT_SSLKEY, lg->key_file);
    curl_easy_setopt(h, CURLOPT_CAINFO, lg->ca_file);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, lg_on_body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, lg_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, lg);
    lg->grpc_status = -1;
    lg->grpc_message[0] = '\0';
    lg->paused = 0;
    lg->active = 1;
    atomic_fetch_add(&lg->streams, 1);
    curl_multi_add_handle(lg->multi, h);
}

/* The call ended (the agent answered, or the transfer failed). */
static void lg_ended(struct bbs_loggregator *lg, CURLcode rc)
{
    long http_status = 0;
    uint64_t lost = lg->out_envelopes;

    curl_easy_getinfo(lg->easy, CURLINFO_RESPONSE_CODE, &http_status);
    curl_multi_remove_handle(lg->multi, lg->easy);
    lg->active = 0;
    lg->paused = 0;
    lg->out.len = 0;
    lg->out_off = 0;
    lg->out_envelopes = 0;
    atomic_fetch_add(&lg->dropped, lost);
    if (lg->ending && rc == CURLE_OK && lg->grpc_status <= 0) {
        return; /* our own end of stream, answered */
    }
    lg->retry_at = lg_now_ns() + LG_RETRY_NS;
    lg->failing = 1;
    bbs_log(BBS_LOG_ERROR, "loggregator.stream-ended", "{s:s, s:i, s:l, s:s, s:I}", "error",
            rc != CURLE_OK ? curl_easy_strerror(rc) : "the agent ended the stream", "grpc_status",
            lg->grpc_status, "http_status", http_status, "grpc_message", lg->grpc_message,
            "envelopes_lost", (json_int_t)lost);
}

static size_t lg_varint_size(size_t v)
{
    size_t n = 1;

    while (v > 0x7f) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Append `items` as EnvelopeBatch messages of at most batch_max envelopes. */
static void lg_write(struct bbs_loggregator *lg, struct lg_item *items, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = n - i < lg->batch_max ? n - i : lg->batch_max;
        size_t body = 0;
        uint8_t prefix[5];

        /* EnvelopeBatch = repeated field 1: tag 0x0a, varint length, the envelope. */
        for (size_t j = i; j < i + k; j++) {
            body += 1 + lg_varint_size(items[j].len) + items[j].len;
        }
        prefix[0] = 0;
        prefix[1] = (uint8_t)(body >> 24);
        prefix[2] = (uint8_t)(body >> 16);
        prefix[3] = (uint8_t)(body >> 8);
        prefix[4] = (uint8_t)body;
        bbs_buf_append(&lg->out, prefix, 5);
        for (size_t j = i; j < i + k; j++) {
            uint8_t hdr[11];
            size_t h = 0;
            size_t v = items[j].len;

            hdr[h++] = 0x0a;
            do {
                hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
                v >>= 7;
            } while (v > 0);
            bbs_buf_append(&lg->out, hdr, h);
            bbs_buf_append(&lg->out, items[j].data, items[j].len);
        }
        i += k;
    }
    lg->out_envelopes += n;
}

static void *lg_thread(void *arg)
{
    struct bbs_loggregator *lg = arg;
    int64_t stop_deadline = 0;

    for (;;) {
        struct lg_item *items = NULL;
        size_t n = 0;
        int stopping;
        int running = 0;
        CURLMsg *msg;
        int left;

        pthread_mutex_lock(&lg->mu);
        if (lg->n_q > 0) {
            items = lg->q;
            n = lg->n_q;
            lg->q = NULL;
            lg->n_q = lg->cap_q = 0;
        }
        stopping = lg->stopping;
        pthread_mutex_unlock(&lg->mu);
        if (n > 0) {
            if (!lg->active && lg_now_ns() >= lg->retry_at) {
                lg_open(lg);
            }
            if (lg->active && lg->out.len - lg->out_off > LG_OUT_MAX) {
                /* The agent does not read (HTTP/2 flow control): drop, do not grow. */
                atomic_fetch_add(&lg->dropped, n);
            } else if (lg->active) {
                lg_write(lg, items, n);
                atomic_fetch_add(&lg->written, n);
                if (lg->paused) {
                    lg->paused = 0;
                    curl_easy_pause(lg->easy, CURLPAUSE_CONT);
                }
            } else {
                atomic_fetch_add(&lg->dropped, n);
            }
            for (size_t i = 0; i < n; i++) {
                free(items[i].data);
            }
            free(items);
        }
        if (stopping && !lg->ending) {
            lg->ending = 1;
            stop_deadline = lg_now_ns() + LG_STOP_NS;
            if (lg->paused) {
                lg->paused = 0;
                curl_easy_pause(lg->easy, CURLPAUSE_CONT);
            }
        }
        curl_multi_perform(lg->multi, &running);
        while ((msg = curl_multi_info_read(lg->multi, &left)) != NULL) {
            if (msg->msg == CURLMSG_DONE) {
                lg_ended(lg, msg->data.result);
            }
        }
        if (stopping && (!lg->active || lg_now_ns() >= stop_deadline)) {
            break;
        }
        curl_multi_poll(lg->multi, NULL, 0, stopping ? 50 : LG_POLL_MS, NULL);
    }
    if (lg->active) {
        /* The agent did not answer in time (a holding test agent never does): reset. */
        curl_multi_remove_handle(lg->multi, lg->easy);
        atomic_fetch_add(&lg->dropped, lg->out_envelopes);
        lg->active = 0;
    }
    return NULL;
}

/* ---- life cycle ----------------------------------------------------------------------- */

static pthread_once_t lg_curl_once = PTHREAD_ONCE_INIT;

static void lg_curl_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        bbs_log(BBS_LOG_ERROR, "loggregator.curl-init-failed", NULL);
    }
}

static int lg_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

struct bbs_loggregator *bbs_loggregator_new(const struct bbs_loggregator_config *cfg,
                                            struct bbs_error *err)
{
    struct bbs_loggregator *lg = NULL;
    struct bbs_outbox_tls tls = {cfg->ca_file, cfg->cert_file, cfg->key_file, 1};
    const char *server = lg_set(cfg->server_name) ? cfg->server_name : "metron";
    int port = cfg->port > 0 ? cfg->port : LG_DEFAULT_PORT;
    char buf[512];

    if (!lg_set(cfg->ca_file) || !lg_set(cfg->cert_file) || !lg_set(cfg->key_file)) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                       "loggregator: the v2 API needs loggregator_ca_path, loggregator_cert_path "
                       "and loggregator_key_path");
        return NULL;
    }
    if (bbs_outbox_tls_check(&tls, "loggregator", err) != 0) {
        return NULL;
    }
    pthread_once(&lg_curl_once, lg_curl_init);
    lg = bbs_xcalloc(1, sizeof(*lg));
    snprintf(buf, sizeof(buf), "https://%s:%d/loggregator.v2.Ingress/BatchSender", server, port);
    lg->url = bbs_xstrdup(buf);
    snprintf(buf, sizeof(buf), "%s:%d:127.0.0.1", server, port);
    lg->resolve = bbs_xstrdup(buf);
    lg->ca_file = bbs_xstrdup(cfg->ca_file);
    lg->cert_file = bbs_xstrdup(cfg->cert_file);
    lg->key_file = bbs_xstrdup(cfg->key_file);
    lg->source_id = bbs_xstrdup(lg_set(cfg->source_id) ? cfg->source_id : "bbs");
    lg->instance_id = bbs_xstrdup(cfg->instance_id != NULL ? cfg->instance_id : "");
    lg->origin = bbs_xstrdup(cfg->origin != NULL ? cfg->origin : "");
    lg->batch_max = cfg->batch_max > 0 ? cfg->batch_max : LG_BATCH_DEFAULT;
    lg->queue_max = cfg->queue_max > 0 ? cfg->queue_max : LG_QUEUE_DEFAULT;
    pthread_mutex_init(&lg->mu, NULL);
    lg->multi = curl_multi_init();
    lg->easy = curl_easy_init();
    lg->headers = curl_slist_append(lg->headers, "Content-Type: application/grpc");
    lg->headers = curl_slist_append(lg->headers, "TE: trailers");
    lg->headers = curl_slist_append(lg->headers, "Expect:");
    lg->headers = curl_slist_append(lg->headers, "Accept:");
    lg->resolve_list = curl_slist_append(NULL, lg->resolve);
    if (lg->multi == NULL || lg->easy == NULL || lg->headers == NULL || lg->resolve_list == NULL) {
        bbs_out_of_memory(0);
    }
    return lg;
}

static size_t lg_discard(char *p, size_t size, size_t nmemb, void *arg)
{
    (void)p;
    (void)arg;
    return size * nmemb;
}

int bbs_loggregator_dial(struct bbs_loggregator *lg, int64_t timeout_ns, struct bbs_error *err)
{
    /* An empty message, gRPC-framed: not compressed, length 0. */
    static const char empty_batch[5] = {0, 0, 0, 0, 0};
    char url[600];
    char errbuf[CURL_ERROR_SIZE] = "";
    long status = 0;
    long version = 0;
    CURLcode rc;
    CURL *h = curl_easy_init();
    const char *path = strstr(lg->url + 8, "/");

    if (h == NULL) {
        bbs_out_of_memory(0);
    }
    /*
     * A method no agent serves: gRPC answers Unimplemented itself, before any
     * handler, so the dial calls none of the agent's code (a real Send would:
     * upstream's test agent panics on it). The answer proves what upstream's
     * blocking dial waits for: TCP, the TLS handshake, HTTP/2.
     */
    snprintf(url, sizeof(url), "%.*s/bbs.StartupProbe/Dial", (int)(path - lg->url), lg->url);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_RESOLVE, lg->resolve_list);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, empty_batch);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)sizeof(empty_batch));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, lg->headers);
    curl_easy_setopt(h, CURLOPT_SSLCERT, lg->cert_file);
    curl_easy_setopt(h, CURLOPT_SSLKEY, lg->key_file);
    curl_easy_setopt(h, CURLOPT_CAINFO, lg->ca_file);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(timeout_ns / 1000000));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, lg_discard);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &version);
    curl_easy_cleanup(h);
    /*
     * A stream-level HTTP/2 error is an answer too: the server reset our
     * stream (grpc-go does after its Unimplemented status, while our request
     * is still open), which only a peer past TLS and the HTTP/2 preface can.
     */
    if (rc == CURLE_HTTP2_STREAM) {
        return 0;
    }
    if (rc == CURLE_OK && status != 0 && version != CURL_HTTP_VERSION_2_0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "loggregator agent at %s answered without HTTP/2",
                       lg->resolve);
        return -1;
    }
    if (rc != CURLE_OK || status == 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "loggregator agent at %s unreachable: %s", lg->resolve,
                       errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

int bbs_loggregator_start(struct bbs_loggregator *lg, struct bbs_error *err)
{
    if (pthread_create(&lg->thread, NULL, lg_thread, lg) != 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "loggregator: cannot start the emitter thread");
        return -1;
    }
    lg->started = 1;
    return 0;
}

void bbs_loggregator_free(struct bbs_loggregator *lg)
{
    if (lg == NULL) {
        return;
    }
    if (lg->started) {
        pthread_mutex_lock(&lg->mu);
        lg->stopping = 1;
        pthread_mutex_unlock(&lg->mu);
        curl_multi_wakeup(lg->multi);
        pthread_join(lg->thread, NULL);
    }
    for (size_t i = 0; i < lg->n_q; i++) {
        free(lg->q[i].data);
    }
    free(lg->q);
    curl_easy_cleanup(lg->easy);
    curl_multi_cleanup(lg->multi);
    curl_slist_free_all(lg->headers);
    curl_slist_free_all(lg->resolve_list);
    bbs_buf_free(&lg->out);
    pthread_mutex_destroy(&lg->mu);
    free(lg->url);
    free(lg->resolve);
    free(lg->ca_file);
    free(lg->cert_file);
    free(lg->key_file);
    free(lg->source_id);
    free(lg->instance_id);
    free(lg->origin);
    free(lg);
}
