/*
 * test_api_events.c - the event streams (reference 1.4, 2.10, 3.12) and
 * what this server adds: change-log ids, resume with Last-Event-ID,
 * retention, heartbeats (docs/api.md, "Event streams").
 *
 * Every stream is read with the strict SSE client (support/sse.h): chunked
 * framing, one id/event/data record each, padded base64, and each payload
 * decoded as the message its name says. Each test opens its streams before
 * it changes anything and asserts exactly the events that arrive, in
 * order, then that no other one comes.
 *
 * Two servers: the first with a short heartbeat and a small subscriber
 * queue; the second keeps only 3 change-log entries (retention) and ends
 * with SIGTERM.
 */
#include "harness.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "events.pb-c.h"

#define INSTANCES_R1 "/v1/events/lrp_instances.r1"
#define INSTANCES_V0 "/v1/events/lrp_instances"
#define GROUPS_R1    "/v1/events.r1"
#define TASKS_R1     "/v1/events/tasks.r1"
#define WAIT_MS      (it_valgrind() ? 20000 : 5000)
#define QUEUE_MAX    8

/* ---- helpers ----------------------------------------------------------------------------- */

struct stream {
    struct it_sse *sse;
    int64_t last_id;
};

static void open_stream(struct stream *st, const char *method, const char *path, const char *cell,
                        const char *last_event_id)
{
    st->sse = it_sse_open(method, path, cell, last_event_id);
    st->last_id = -1;
    assert_non_null(st->sse);
    assert_int_equal(it_sse_status(st->sse), 200);
}

static void close_stream(struct stream *st)
{
    it_sse_close(st->sse);
    st->sse = NULL;
}

/* The next event must be `name`; returns it decoded (free with pb_free). Ids increase. */
static ProtobufCMessage *expect(struct stream *st, const char *name)
{
    struct it_sse_event ev;
    ProtobufCMessage *m;
    int r = it_sse_next(st->sse, WAIT_MS, &ev);

    if (r != 1) {
        fail_msg("waiting for %s: %s", name,
                 r == 0    ? "timeout"
                 : r == -1 ? "stream ended"
                           : it_sse_error(st->sse));
    }
    if (strcmp(ev.name, name) != 0) {
        fail_msg("expected %s, got %s (id %lld)", name, ev.name, (long long)ev.id);
    }
    if (ev.id <= st->last_id) {
        fail_msg("%s: id %lld after %lld", name, (long long)ev.id, (long long)st->last_id);
    }
    st->last_id = ev.id;
    m = it_sse_decode(&ev);
    it_sse_event_clear(&ev);
    if (m == NULL) {
        fail_msg("%s: the payload does not decode", name);
    }
    return m;
}

static void pb_free(void *m)
{
    protobuf_c_message_free_unpacked(m, NULL);
}

/* The next events are exactly `names` (NULL-terminated). */
static void expect_names(struct stream *st, const char *const *names)
{
    for (size_t i = 0; names[i] != NULL; i++) {
        pb_free(expect(st, names[i]));
    }
}

static void expect_quiet(struct stream *st)
{
    if (!it_sse_quiet(st->sse, it_quiet_ms())) {
        fail_msg("%s", it_sse_error(st->sse));
    }
}

static void new_guid(char *guid, size_t len, const char *prefix)
{
    it_uniq(guid, len, prefix);
}

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

/*
 * Desire `guid` with `n` instances while `st` (an unfiltered instance
 * stream) watches: its events are consumed, so what follows is exact.
 * (Events are delivered after the commit, asynchronously: a stream opened
 * just after a change may still get that change's events.)
 */
static void desire_seen(struct stream *st, const char *guid, int32_t n)
{
    it_desire(guid, NULL, n);
    pb_free(expect(st, "desired_lrp_created"));
    for (int32_t i = 0; i < n; i++) {
        pb_free(expect(st, "actual_lrp_instance_created"));
    }
}

/* ---- framing ---------------------------------------------------------------------------- */

static void test_headers_and_framing(void **state)
{
    struct stream st;
    char guid[64];
    Models__DesiredLRPCreatedEvent *dc;
    Models__ActualLRPInstanceCreatedEvent *ic;

    (void)state;
    open_stream(&st, "POST", INSTANCES_R1, NULL, NULL);
    assert_string_equal(it_sse_header(st.sse, "Content-Type"), "text/event-stream; charset=utf-8");
    assert_string_equal(it_sse_header(st.sse, "Cache-Control"),
                        "no-cache, no-store, must-revalidate");
    /* No "Connection: keep-alive": libmicrohttpd leaves out what HTTP/1.1 implies. */
    assert_string_equal(it_sse_header(st.sse, "Transfer-Encoding"), "chunked");
    new_guid(guid, sizeof(guid), "frame");
    it_desire(guid, NULL, 1);
    dc = (Models__DesiredLRPCreatedEvent *)expect(&st, "desired_lrp_created");
    assert_string_equal(dc->desired_lrp->process_guid, guid);
    assert_int_equal(dc->desired_lrp->instances, 1);
    pb_free(dc);
    ic = (Models__ActualLRPInstanceCreatedEvent *)expect(&st, "actual_lrp_instance_created");
    assert_string_equal(ic->actual_lrp->actual_lrp_key->process_guid, guid);
    assert_int_equal(ic->actual_lrp->actual_lrp_key->index, 0);
    assert_string_equal(ic->actual_lrp->state, "UNCLAIMED");
    pb_free(ic);
    expect_quiet(&st);
    /* One record per HTTP chunk (heartbeats are records too). */
    assert_int_equal(it_sse_chunks(st.sse), it_sse_records(st.sse));
    close_stream(&st);
}

static void test_bad_body_is_500_empty(void **state)
{
    static const uint8_t junk[] = {0x0a, 0xff, 0xff};
    struct it_sse *s = it_sse_open_raw("POST", INSTANCES_R1, junk, sizeof(junk), NULL);

    (void)state;
    assert_non_null(s);
    assert_int_equal(it_sse_status(s), 500);
    assert_string_equal(it_sse_header(s, "Content-Length"), "0");
    it_sse_close(s);
}

static void test_body_over_limit_is_413(void **state)
{
    size_t len = 1048577; /* the default max_request_body_bytes + 1 */
    uint8_t *big = calloc(1, len);
    struct it_resp r;

    (void)state;
    it_request("POST", INSTANCES_R1, big, len, NULL, &r);
    assert_int_equal(r.status, 413);
    it_resp_free(&r);
    free(big);
    /* and the server goes on */
    it_request("POST", "/v1/ping", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
}

/* ---- 3.12: every transition's instance events ---------------------------------------------- */

static void test_claim_start_are_changes(void **state)
{
    struct stream st;
    char guid[64];
    Models__ActualLRPInstanceChangedEvent *c;

    (void)state;
    new_guid(guid, sizeof(guid), "claim");
    open_stream(&st, "POST", INSTANCES_R1, NULL, NULL);
    desire_seen(&st, guid, 1);
    assert_int_equal(it_claim(guid, 0, "ig-a", "cell-a"), IT_OK);
    c = (Models__ActualLRPInstanceChangedEvent *)expect(&st, "actual_lrp_instance_changed");
    assert_string_equal(c->actual_lrp_key->process_guid, guid);
    assert_string_equal(c->actual_lrp_instance_key->cell_id, "cell-a");
    assert_string_equal(c->before->state, "UNCLAIMED");
    assert_string_equal(c->after->state, "CLAIMED");
    pb_free(c);
    assert_int_equal(it_start(guid, 0, NULL, "ig-a", "cell-a", "10.0.0.1"), IT_OK);
    c = (Models__ActualLRPInstanceChangedEvent *)expect(&st, "actual_lrp_instance_changed");
    assert_string_equal(c->before->state, "CLAIMED");
    assert_string_equal(c->after->state, "RUNNING");
    assert_string_equal(c->after->actual_lrp_net_info->address, "10.0.0.1");
    pb_free(c);
    /* The same start again changes nothing: no event. */
    assert_int_equal(it_start(guid, 0, NULL, "ig-a", "cell-a", "10.0.0.1"), IT_OK);
    expect_quiet(&st);
    close_stream(&st);
}

static void test_crash_restart_then_crashed(void **state)
{
    struct stream st;
    char guid[64];
    Models__ActualLRPCrashedEvent *cr;
    Models__ActualLRPInstanceChangedEvent *c;

    (void)state;
    new_guid(guid, sizeof(guid), "crash");
    open_stream(&st, "POST", INSTANCES_R1, NULL, NULL);
    desire_seen(&st, guid, 1);
    /* Crashes 1 and 2 restart at once: crashed, then a new instance and the old one gone. */
    for (int i = 1; i <= 2; i++) {
        assert_int_equal(it_start(guid, 0, NULL, "ig-a", "cell-a", "10.0.0.1"), IT_OK);
        pb_free(expect(&st, "actual_lrp_instance_changed"));
        assert_int_equal(it_crash(guid, 0, NULL, "ig-a", "cell-a", "boom"), IT_OK);
        cr = (Models__ActualLRPCrashedEvent *)expect(&st, "actual_lrp_crashed");
        assert_int_equal(cr->crash_count, i);
        assert_string_equal(cr->crash_reason, "boom");
        assert_string_equal(cr->actual_lrp_instance_key->cell_id, "cell-a");
        pb_free(cr);
        expect_names(&st, NAMES("actual_lrp_instance_created", "actual_lrp_instance_removed"));
    }
    /* The third stays CRASHED: crashed + changed. */
    assert_int_equal(it_start(guid, 0, NULL, "ig-a", "cell-a", "10.0.0.1"), IT_OK);
    pb_free(expect(&st, "actual_lrp_instance_changed"));
    assert_int_equal(it_crash(guid, 0, NULL, "ig-a", "cell-a", "boom"), IT_OK);
    cr = (Models__ActualLRPCrashedEvent *)expect(&st, "actual_lrp_crashed");
    assert_int_equal(cr->crash_count, 3);
    pb_free(cr);
    c = (Models__ActualLRPInstanceChangedEvent *)expect(&st, "actual_lrp_instance_changed");
    assert_string_equal(c->after->state, "CRASHED");
    pb_free(c);
    expect_quiet(&st);
    close_stream(&st);
}

static void test_fail_remove_retire(void **state)
{
    struct stream st;
    char guid[64];
    Models__ActualLRPInstanceChangedEvent *c;
    Models__ActualLRPInstanceRemovedEvent *r;

    (void)state;
    new_guid(guid, sizeof(guid), "fail");
    open_stream(&st, "POST", INSTANCES_R1, NULL, NULL);
    desire_seen(&st, guid, 2);
    /* fail: UNCLAIMED -> UNCLAIMED with a placement error is a change */
    assert_int_equal(it_fail(guid, 0, NULL, "no room"), IT_OK);
    c = (Models__ActualLRPInstanceChangedEvent *)expect(&st, "actual_lrp_instance_changed");
    assert_string_equal(c->after->placement_error, "no room");
    pb_free(c);
    assert_int_equal(it_claim(guid, 1, "ig-b", "cell-b"), IT_OK);
    pb_free(expect(&st, "actual_lrp_instance_changed"));
    assert_int_equal(it_remove_actual(guid, 1, "ig-b", "cell-b"), IT_OK);
    r = (Models__ActualLRPInstanceRemovedEvent *)expect(&st, "actual_lrp_instance_removed");
    assert_int_equal(r->actual_lrp->actual_lrp_key->index, 1);
    pb_free(r);
    assert_int_equal(it_retire(guid, 0, NULL), IT_OK);
    r = (Models__ActualLRPInstanceRemovedEvent *)expect(&st, "actual_lrp_instance_removed");
    assert_int_equal(r->actual_lrp->actual_lrp_key->index, 0);
    pb_free(r);
    expect_quiet(&st);
    close_stream(&st);
}

static void test_desired_update_scale_remove(void **state)
{
    struct stream st;
    char guid[64];
    Models__DesiredLRPChangedEvent *dc;
    Models__DesiredLRPRemovedEvent *dr;

    (void)state;
    new_guid(guid, sizeof(guid), "scale");
    open_stream(&st, "POST", INSTANCES_R1, NULL, NULL);
    desire_seen(&st, guid, 1);
    /* The update commits first, the new instance in its own transaction after it. */
    assert_int_equal(it_update_instances(guid, 2), IT_OK);
    dc = (Models__DesiredLRPChangedEvent *)expect(&st, "desired_lrp_changed");
    assert_int_equal(dc->before->instances, 1);
    assert_int_equal(dc->after->instances, 2);
    pb_free(dc);
    expect_names(&st, NAMES("actual_lrp_instance_created"));
    assert_int_equal(it_update_instances(guid, 1), IT_OK);
    expect_names(&st, NAMES("desired_lrp_changed", "actual_lrp_instance_removed"));
    assert_int_equal(it_remove_desired(guid), IT_OK);
    dr = (Models__DesiredLRPRemovedEvent *)expect(&st, "desired_lrp_removed");
    assert_string_equal(dr->desired_lrp->process_guid, guid);
    pb_free(dr);
    expect_names(&st, NAMES("actual_lrp_instance_removed"));
    expect_quiet(&st);
    close_stream(&st);
}

static void test_refused_call_emits_nothing(void **state)
{
    struct stream st;
    char guid[64];

    (void)state;
    new_guid(guid, sizeof(guid), "noop");
    open_stream(&st, "POST", INSTANCES_R1, NULL, NULL);
    desire_seen(&st, guid, 1);
    assert_int_equal(it_claim(guid, 0, "ig-a", "cell-a"), IT_OK);
    pb_free(expect(&st, "actual_lrp_instance_changed"));
    /* another cell's claim is refused; the owner's reclaim changes nothing */
    assert_int_not_equal(it_claim(guid, 0, "ig-b", "cell-b"), IT_OK);
    assert_int_equal(it_claim(guid, 0, "ig-a", "cell-a"), IT_OK);
    assert_int_not_equal(it_remove_desired("no-such-guid"), IT_OK);
    expect_quiet(&st);
    close_stream(&st);
}

/* ---- filters, variants, the other streams ------------------------------------------------- */

static void test_cell_filter(void **state)
{
    struct stream a;
    struct stream b;
    char guid[64];

    (void)state;
    new_guid(guid, sizeof(guid), "cells");
    open_stream(&a, "POST", INSTANCES_R1, "cell-a", NULL);
    open_stream(&b, "POST", INSTANCES_R1, "cell-b", NULL);
    it_desire(guid, NULL, 1);
    /* desired LRP events pass every filter; an unclaimed instance is on no cell */
    expect_names(&a, NAMES("desired_lrp_created"));
    expect_names(&b, NAMES("desired_lrp_created"));
    assert_int_equal(it_claim(guid, 0, "ig-a", "cell-a"), IT_OK);
    expect_names(&a, NAMES("actual_lrp_instance_changed"));
    assert_int_equal(it_remove_actual(guid, 0, "ig-a", "cell-a"), IT_OK);
    expect_names(&a, NAMES("actual_lrp_instance_removed"));
    expect_quiet(&b);
    expect_quiet(&a);
    close_stream(&a);
    close_stream(&b);
}

static void test_group_stream(void **state)
{
    struct stream g;
    char guid[64];
    Models__ActualLRPChangedEvent *c;

    (void)state;
    new_guid(guid, sizeof(guid), "group");
    open_stream(&g, "GET", GROUPS_R1, NULL, NULL);
    it_desire(guid, NULL, 1);
    expect_names(&g, NAMES("desired_lrp_created", "actual_lrp_created"));
    assert_int_equal(it_claim(guid, 0, "ig-a", "cell-a"), IT_OK);
    c = (Models__ActualLRPChangedEvent *)expect(&g, "actual_lrp_changed");
    assert_string_equal(c->before->instance->state, "UNCLAIMED");
    assert_string_equal(c->after->instance->state, "CLAIMED");
    pb_free(c);
    assert_int_equal(it_remove_actual(guid, 0, "ig-a", "cell-a"), IT_OK);
    expect_names(&g, NAMES("actual_lrp_removed"));
    expect_quiet(&g);
    close_stream(&g);
}

static void test_v0_and_v3_payloads(void **state)
{
    struct stream v3;
    struct stream v0;
    struct it_dlrp d;
    char guid[64];
    Models__DesiredLRPCreatedEvent *e3;
    Models__DesiredLRPCreatedEvent *e0;

    (void)state;
    new_guid(guid, sizeof(guid), "v0");
    it_dlrp_init(&d, guid, 0);
    d.lrp.start_timeout_ms = 7000;
    open_stream(&v3, "POST", INSTANCES_R1, NULL, NULL);
    open_stream(&v0, "POST", INSTANCES_V0, NULL, NULL);
    assert_int_equal(it_desire_lrp(&d.lrp), IT_OK);
    e3 = (Models__DesiredLRPCreatedEvent *)expect(&v3, "desired_lrp_created");
    e0 = (Models__DesiredLRPCreatedEvent *)expect(&v0, "desired_lrp_created");
    /* The same event (same id), the desired LRP down-converted on the V0 route (5.8). */
    assert_int_equal(v3.last_id, v0.last_id);
    assert_int_equal(e3->desired_lrp->start_timeout_ms, 7000);
    assert_int_equal(e3->desired_lrp->deprecated_start_timeout_s, 0);
    assert_int_equal(e0->desired_lrp->deprecated_start_timeout_s, 7);
    pb_free(e3);
    pb_free(e0);
    close_stream(&v3);
    close_stream(&v0);
}

static void test_task_stream_heartbeats_only(void **state)
{
    struct stream t;
    char guid[64];

    (void)state;
    open_stream(&t, "POST", TASKS_R1, NULL, NULL);
    new_guid(guid, sizeof(guid), "tasks");
    it_desire(guid, NULL, 1);
    expect_quiet(&t);
    /* The server runs with a short heartbeat: an idle stream gets comments. */
    while (it_sse_heartbeats(t.sse) == 0) {
        struct it_sse_event ev;
        int r = it_sse_next(t.sse, WAIT_MS, &ev);

        if (r != 0) {
            fail_msg("idle task stream: %d %s", r, it_sse_error(t.sse));
        }
    }
    close_stream(&t);
}

/* ---- subscribers: disconnect, slow ---------------------------------------------------------- */

static int log_count(const char *what)
{
    char *log = it_server_log();
    int n = 0;

    for (const char *p = log; p != NULL && (p = strstr(p, what)) != NULL; p++) {
        n++;
    }
    free(log);
    return n;
}

static void test_disconnect_frees_subscriber(void **state)
{
    struct stream st;
    int before;
    int64_t deadline;

    (void)state;
    /* Streams the earlier tests closed are found gone within a heartbeat or two. */
    it_sleep_ms(it_quiet_ms());
    before = log_count("events.subscriber-gone");
    open_stream(&st, "POST", INSTANCES_R1, NULL, NULL);
    close_stream(&st);
    /* Found at the next write (a heartbeat here): dropped, its stream freed. */
    deadline = it_mono_ms() + WAIT_MS;
    while (log_count("events.subscriber-gone") == before && it_mono_ms() < deadline) {
        it_sleep_ms(50);
    }
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(log_count("events.subscriber-gone"), before + 1);
}

/* Update `guid`'s annotation; `st` must carry the change next. */
static void annotate(const char *guid, char *annotation, struct stream *st)
{
    Models__UpdateDesiredLRPRequest req = MODELS__UPDATE_DESIRED_LRPREQUEST__INIT;
    Models__DesiredLRPUpdate u = MODELS__DESIRED_LRPUPDATE__INIT;

    u.optional_annotation_case = MODELS__DESIRED_LRPUPDATE__OPTIONAL_ANNOTATION_ANNOTATION;
    u.annotation = annotation;
    req.process_guid = (char *)guid;
    req.update = &u;
    assert_int_equal(it_call_err("/v1/desired_lrp/update", &req.base,
                                 &models__desired_lrplifecycle_response__descriptor),
                     IT_OK);
    pb_free(expect(st, "desired_lrp_changed"));
}

static void test_slow_subscriber_cut_others_keep(void **state)
{
    struct stream slow;
    struct stream fast;
    char guid[64];
    char annotation[10001];
    int n_updates = 0;
    int got_slow = 0;
    int cut = log_count("events.subscriber-slow");

    (void)state;
    new_guid(guid, sizeof(guid), "slow");
    memset(annotation, 'x', sizeof(annotation) - 1);
    annotation[sizeof(annotation) - 1] = 0;
    open_stream(&slow, "POST", INSTANCES_R1, NULL, NULL);
    open_stream(&fast, "POST", INSTANCES_R1, NULL, NULL);
    desire_seen(&fast, guid, 0);
    /* Big events (two 10 kB annotations each) fill the socket buffers of a client that does
     * not read, then its queue of QUEUE_MAX records: it is cut. */
    while (log_count("events.subscriber-slow") == cut && n_updates < 400) {
        annotation[0] = (char)('a' + n_updates % 26);
        annotate(guid, annotation, &fast);
        n_updates++;
    }
    assert_true(log_count("events.subscriber-slow") > cut);
    /* What comes after the cut never reaches it (the record that did not fit may have been a
     * heartbeat, all updates before it queued). */
    annotation[0] = 'A';
    annotate(guid, annotation, &fast);
    n_updates++;
    /* The slow client gets what was queued for it, in order, then the end of the stream. */
    for (;;) {
        struct it_sse_event ev;
        int r = it_sse_next(slow.sse, WAIT_MS, &ev);

        if (r == -1) {
            break;
        }
        assert_int_equal(r, 1);
        assert_string_equal(ev.name, got_slow == 0 ? "desired_lrp_created" : "desired_lrp_changed");
        it_sse_event_clear(&ev);
        got_slow++;
    }
    assert_true(got_slow - 1 < n_updates);
    /* The fast one keeps receiving. */
    assert_int_equal(it_update_instances(guid, 1), IT_OK);
    expect_names(&fast, NAMES("desired_lrp_changed", "actual_lrp_instance_created"));
    close_stream(&slow);
    close_stream(&fast);
}

/* ---- resume ------------------------------------------------------------------------------- */

static void resume_after(int restart)
{
    struct stream st;
    char guid[64];
    char id[32];

    new_guid(guid, sizeof(guid), restart ? "resume-restart" : "resume");
    open_stream(&st, "POST", INSTANCES_R1, NULL, NULL);
    it_desire(guid, NULL, 1);
    expect_names(&st, NAMES("desired_lrp_created", "actual_lrp_instance_created"));
    snprintf(id, sizeof(id), "%lld", (long long)st.last_id);
    close_stream(&st);

    /* Missed while away: */
    assert_int_equal(it_claim(guid, 0, "ig-a", "cell-a"), IT_OK);
    assert_int_equal(it_start(guid, 0, NULL, "ig-a", "cell-a", "10.0.0.1"), IT_OK);
    if (restart) {
        assert_int_equal(it_server_restart(), 0);
    }
    open_stream(&st, "POST", INSTANCES_R1, NULL, id);
    st.last_id = strtoll(id, NULL, 10);
    expect_names(&st, NAMES("actual_lrp_instance_changed", "actual_lrp_instance_changed"));
    /* then live, without a gap or a repeat */
    assert_int_equal(it_retire(guid, 0, NULL), IT_OK);
    expect_names(&st, NAMES("actual_lrp_instance_removed"));
    expect_quiet(&st);
    close_stream(&st);
}

static void test_resume_after_disconnect(void **state)
{
    (void)state;
    resume_after(0);
}

static void test_resume_after_restart(void **state)
{
    (void)state;
    resume_after(1);
}

static void test_resume_filters_backlog(void **state)
{
    struct stream st;
    char guid[64];
    char id[32];

    (void)state;
    new_guid(guid, sizeof(guid), "resume-cell");
    open_stream(&st, "POST", INSTANCES_R1, NULL, NULL);
    it_desire(guid, NULL, 2);
    expect_names(&st, NAMES("desired_lrp_created", "actual_lrp_instance_created",
                            "actual_lrp_instance_created"));
    snprintf(id, sizeof(id), "%lld", (long long)st.last_id);
    close_stream(&st);
    assert_int_equal(it_claim(guid, 0, "ig-a", "cell-a"), IT_OK);
    assert_int_equal(it_claim(guid, 1, "ig-b", "cell-b"), IT_OK);
    /* The backlog passes the same cell filter as live events. */
    open_stream(&st, "POST", INSTANCES_R1, "cell-b", id);
    expect_names(&st, NAMES("actual_lrp_instance_changed"));
    expect_quiet(&st);
    close_stream(&st);
}

/* ---- ids taken at insert, delivered once settled ------------------------------------------- */

/* A desire on a connection of its own. */
struct late_desire {
    char guid[64];
    char err[256];
    int failed;
};

static void *late_desire_main(void *arg)
{
    struct late_desire *d = arg;

    d->failed = it_desire_own_client(d->guid, d->err, sizeof(d->err)) != 0;
    return NULL;
}

/* The next event must be `name` for `guid`'s desired or actual LRP. */
static void expect_for(struct stream *st, const char *name, const char *guid)
{
    ProtobufCMessage *m = expect(st, name);
    const char *got = "";

    if (strcmp(name, "desired_lrp_created") == 0) {
        got = ((Models__DesiredLRPCreatedEvent *)m)->desired_lrp->process_guid;
    } else if (strcmp(name, "actual_lrp_instance_created") == 0) {
        got =
            ((Models__ActualLRPInstanceCreatedEvent *)m)->actual_lrp->actual_lrp_key->process_guid;
    }
    if (strcmp(got, guid) != 0) {
        fail_msg("%s: for %s, expected %s", name, got, guid);
    }
    pb_free(m);
}

/*
 * An event's id is taken when its row is inserted, so a transaction that
 * inserted first may commit last. A deferred trigger holds the COMMIT of
 * one desire (the "late" guid) for 1.5 s after its insert; another desire
 * commits meanwhile with larger ids. The stream must carry the late
 * desire's event first, then the other's, then the late one's instance:
 * in id order, nothing passed over while the late COMMIT was in flight
 * (passing it would lose the event for good: the hub never reads below
 * what it delivered).
 */
static void test_late_commit_keeps_id_order(void **state)
{
    struct stream st;
    struct late_desire late;
    struct late_desire early;
    pthread_t t;
    char sql[1024];
    int64_t deadline;

    (void)state;
    new_guid(late.guid, sizeof(late.guid), "late");
    new_guid(early.guid, sizeof(early.guid), "early");
    late.failed = 0;
    late.err[0] = '\0';
    early.failed = 0;
    early.err[0] = '\0';
    snprintf(sql, sizeof(sql),
             "CREATE FUNCTION late_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
             " IF NEW.name = 'desired_lrp_created' AND"
             " position(convert_to('%s', 'UTF8') IN NEW.payload) > 0 THEN PERFORM pg_sleep(1.5);"
             " END IF; RETURN NULL; END $$;"
             "CREATE CONSTRAINT TRIGGER late_commit AFTER INSERT ON event_log DEFERRABLE"
             " INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION late_commit();",
             late.guid);
    assert_true(it_db_exec(sql, 0, NULL) >= 0);
    open_stream(&st, "POST", INSTANCES_R1, NULL, NULL);
    assert_int_equal(pthread_create(&t, NULL, late_desire_main, &late), 0);
    /* Its insert has run once its COMMIT waits in the trigger. */
    deadline = it_mono_ms() + WAIT_MS;
    while (it_db_exec("SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = "
                      "current_database()",
                      0, NULL) < 1 &&
           it_mono_ms() < deadline) {
        it_sleep_ms(10);
    }
    /* On a new connection: with handlers on the I/O threads (http_handler_threads: 0), one kept
     * alive may be bound to the thread that waits in the late COMMIT, and wait with it. */
    late_desire_main(&early);
    pthread_join(t, NULL);
    assert_true(it_db_exec("DROP TRIGGER late_commit ON event_log;"
                           "DROP FUNCTION late_commit();",
                           0, NULL) >= 0);
    if (late.failed || early.failed) {
        fail_msg("a desire failed: %s%s", late.err, early.err);
    }
    expect_for(&st, "desired_lrp_created", late.guid);
    expect_for(&st, "desired_lrp_created", early.guid);
    expect_for(&st, "actual_lrp_instance_created", early.guid);
    expect_for(&st, "actual_lrp_instance_created", late.guid);
    expect_quiet(&st);
    close_stream(&st);
}

/*
 * Ids are not dense (a transaction that rolls back has taken its ids
 * anyway), so a resume compares with the pruning watermark, not with
 * "the oldest retained id is last + 1": a hole right after the resume
 * point loses nothing, and a log pruned up to exactly the resume point
 * lacks nothing the client has not had. One id earlier, it does.
 */
static void test_resume_across_hole_and_prune_boundary(void **state)
{
    struct stream st;
    struct it_sse_event ev;
    char guid[64];
    char id[32];
    char before[32];
    char sql[256];

    (void)state;
    new_guid(guid, sizeof(guid), "resume-hole");
    open_stream(&st, "POST", INSTANCES_R1, NULL, NULL);
    it_desire(guid, NULL, 1);
    expect_names(&st, NAMES("desired_lrp_created", "actual_lrp_instance_created"));
    snprintf(id, sizeof(id), "%lld", (long long)st.last_id);
    snprintf(before, sizeof(before), "%lld", (long long)st.last_id - 1);
    close_stream(&st);

    /* Ids taken by transactions that never committed, right after the resume point. */
    assert_int_equal(
        it_db_exec("SELECT nextval('event_log_seq_seq') FROM generate_series(1, 5)", 0, NULL), 5);
    assert_int_equal(it_claim(guid, 0, "ig-a", "cell-a"), IT_OK);
    open_stream(&st, "POST", INSTANCES_R1, NULL, id);
    st.last_id = strtoll(id, NULL, 10);
    expect_names(&st, NAMES("actual_lrp_instance_changed"));
    expect_quiet(&st);
    close_stream(&st);

    /* Pruned up to the resume point, as the prune job does it (the rows and the watermark). */
    snprintf(sql, sizeof(sql),
             "DELETE FROM event_log WHERE seq <= %s;"
             "UPDATE event_log_pruned SET upto = greatest(upto, %s);",
             id, id);
    assert_true(it_db_exec(sql, 0, NULL) >= 0);
    open_stream(&st, "POST", INSTANCES_R1, NULL, id);
    st.last_id = strtoll(id, NULL, 10);
    expect_names(&st, NAMES("actual_lrp_instance_changed"));
    expect_quiet(&st);
    close_stream(&st);

    st.sse = it_sse_open("POST", INSTANCES_R1, NULL, before);
    assert_non_null(st.sse);
    assert_int_equal(it_sse_next(st.sse, WAIT_MS, &ev), 1);
    assert_string_equal(ev.name, "resync_required");
    it_sse_event_clear(&ev);
    close_stream(&st);
}

/* ---- the second server: retention, SIGTERM ------------------------------------------------ */

static void test_id_past_retention_resyncs(void **state)
{
    struct stream st;
    char guid[64];
    int64_t deadline;
    int64_t seen;
    struct it_sse_event ev;
    int r;

    (void)state;
    new_guid(guid, sizeof(guid), "retention");
    open_stream(&st, "POST", INSTANCES_R1, NULL, NULL);
    it_desire(guid, NULL, 4); /* 9 entries (group events too); the server keeps 3 */
    expect_names(&st, NAMES("desired_lrp_created", "actual_lrp_instance_created",
                            "actual_lrp_instance_created", "actual_lrp_instance_created",
                            "actual_lrp_instance_created"));
    seen = st.last_id;
    close_stream(&st);
    /* Id 1 goes once the prune job ran; until then it still resumes. */
    deadline = it_mono_ms() + WAIT_MS;
    for (;;) {
        st.sse = it_sse_open("POST", INSTANCES_R1, NULL, "1");
        assert_non_null(st.sse);
        r = it_sse_next(st.sse, WAIT_MS, &ev);
        assert_int_equal(r, 1);
        if (strcmp(ev.name, "resync_required") == 0 || it_mono_ms() >= deadline) {
            break;
        }
        it_sse_event_clear(&ev);
        close_stream(&st);
        it_sleep_ms(100);
    }
    assert_string_equal(ev.name, "resync_required");
    /* The id to resume from once re-listed: the newest (the group events come last). */
    assert_true(ev.id >= seen);
    assert_int_equal(ev.len, 0);
    st.last_id = ev.id;
    it_sse_event_clear(&ev);
    /* then live */
    assert_int_equal(it_update_instances(guid, 5), IT_OK);
    expect_names(&st, NAMES("desired_lrp_changed", "actual_lrp_instance_created"));
    close_stream(&st);
}

static void test_sigterm_ends_streams(void **state)
{
    struct stream st;
    struct it_sse_event ev;
    int status = 0;

    (void)state;
    open_stream(&st, "POST", INSTANCES_R1, NULL, NULL);
    kill(it_server_pid(), SIGTERM);
    /* The stream ends (terminating chunk) without waiting for the client to go. */
    assert_int_equal(it_sse_next(st.sse, WAIT_MS, &ev), -1);
    assert_int_equal(it_server_wait_exit(WAIT_MS * 6, &status), 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close_stream(&st);
}

/* ---- groups ------------------------------------------------------------------------------- */

static int main_setup(void **state)
{
    it_server_config(json_pack("{s:i, s:s}", "event_subscriber_queue", QUEUE_MAX,
                               "event_heartbeat_interval", "300ms"));
    return it_group_setup(state);
}

static int retention_setup(void **state)
{
    (void)state;
    it_server_config(json_pack("{s:i}", "event_retention_count", 3));
    return it_server_start("events_retention", NULL);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers_and_framing),
        cmocka_unit_test(test_bad_body_is_500_empty),
        cmocka_unit_test(test_body_over_limit_is_413),
        cmocka_unit_test(test_claim_start_are_changes),
        cmocka_unit_test(test_crash_restart_then_crashed),
        cmocka_unit_test(test_fail_remove_retire),
        cmocka_unit_test(test_desired_update_scale_remove),
        cmocka_unit_test(test_refused_call_emits_nothing),
        cmocka_unit_test(test_cell_filter),
        cmocka_unit_test(test_group_stream),
        cmocka_unit_test(test_v0_and_v3_payloads),
        cmocka_unit_test(test_task_stream_heartbeats_only),
        cmocka_unit_test(test_disconnect_frees_subscriber),
        cmocka_unit_test(test_slow_subscriber_cut_others_keep),
        cmocka_unit_test(test_resume_after_disconnect),
        cmocka_unit_test(test_resume_after_restart),
        cmocka_unit_test(test_resume_filters_backlog),
        cmocka_unit_test(test_late_commit_keeps_id_order),
        cmocka_unit_test(test_resume_across_hole_and_prune_boundary),
    };
    static const struct CMUnitTest retention[] = {
        cmocka_unit_test(test_id_past_retention_resyncs),
        cmocka_unit_test(test_sigterm_ends_streams),
    };
    int rc;

    it_set_name("events");
    rc = cmocka_run_group_tests_name("api_events", tests, main_setup, it_group_teardown);
    if (rc == 0) {
        rc = cmocka_run_group_tests_name("api_events_retention", retention, retention_setup,
                                         it_group_teardown);
    }
    return it_main_exit(rc);
}
