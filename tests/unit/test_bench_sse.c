/*
 * test_bench_sse.c - the load generator's strict event-stream parser
 * (bench/sse.c) and event payload reader (bench/evwire.c).
 *
 * Every valid stream is parsed three ways (whole, one byte at a time, and
 * split at every offset into two feeds) and must give the same records;
 * every invalid one must fail with the named reason.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.pb-c.h"
#include "evwire.h"
#include "sse.h"

#define HEAD                                                                                       \
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"                        \
    "Cache-Control: no-cache, no-store, must-revalidate\r\nConnection: keep-alive\r\n"             \
    "Transfer-Encoding: chunked\r\n\r\n"

/* What the records of one parse were, as one string: "id/event/hex(data);..." */
struct seen {
    char text[4096];
    size_t len;
    int refuse_at; /* refuse the n-th record (1-based); 0: never */
    int count;
};

static int collect(void *ud, const struct bench_sse_record *r)
{
    struct seen *s = ud;

    s->count++;
    if (s->refuse_at == s->count) {
        return -1;
    }
    s->len += (size_t)snprintf(s->text + s->len, sizeof(s->text) - s->len, "%llu/%s/",
                               (unsigned long long)r->id, r->event);
    for (size_t i = 0; i < r->data_len; i++) {
        s->len += (size_t)snprintf(s->text + s->len, sizeof(s->text) - s->len, "%02x", r->data[i]);
    }
    s->len += (size_t)snprintf(s->text + s->len, sizeof(s->text) - s->len, ";");
    return 0;
}

/* Parse `in` in pieces: split points at `cuts` (ascending). Returns the last feed's result. */
static int parse_cut(const char *in, size_t n, const size_t *cuts, size_t n_cuts, struct seen *s,
                     char *err, size_t errlen)
{
    struct bench_sse p;
    size_t from = 0;
    int rc = BENCH_SSE_MORE;

    bench_sse_init(&p, collect, s);
    for (size_t i = 0; i <= n_cuts && rc != BENCH_SSE_ERROR; i++) {
        size_t to = i < n_cuts ? cuts[i] : n;

        rc = bench_sse_feed(&p, (const uint8_t *)in + from, to - from);
        from = to;
    }
    snprintf(err, errlen, "%s", bench_sse_error(&p));
    bench_sse_free(&p);
    return rc;
}

struct sse_case {
    const char *name;
    const char *head; /* NULL: HEAD */
    const char *sse;  /* SSE text, sent as chunks of `ck` bytes (0: one chunk); NULL: none */
    size_t ck;
    const char *raw; /* then these bytes as they are (chunk framing) */
    size_t raw_len;  /* 0: strlen(raw) */
    int want_rc;
    const char *want; /* records (valid) or an error substring (invalid) */
};

#define OK(name, sse, ck, raw, rc, want)                                                           \
    {                                                                                              \
        name, NULL, sse, ck, raw, 0, rc, want                                                      \
    }
#define BAD_SSE(name, sse, want)                                                                   \
    {                                                                                              \
        name, NULL, sse, 0, "", 0, BENCH_SSE_ERROR, want                                           \
    }
#define BAD_RAW(name, raw, want)                                                                   \
    {                                                                                              \
        name, NULL, NULL, 0, raw, 0, BENCH_SSE_ERROR, want                                         \
    }
#define BAD_HEAD(name, head, want)                                                                 \
    {                                                                                              \
        name, head, NULL, 0, "", 0, BENCH_SSE_ERROR, want                                          \
    }

static const struct sse_case cases[] = {
    /* Upstream's framing: one record per chunk, lower-case hex, an empty extension. */
    OK("one_record", "id: 0\nevent: x\ndata: AQI=\n\n", 0, "", BENCH_SSE_MORE, "0/x/0102;"),
    OK("two_records_one_chunk", "id: 7\nevent: a_b\ndata: Zg==\n\nid: 8\nevent: c\ndata: \n\n", 0,
       "", BENCH_SSE_MORE, "7/a_b/66;8/c/;"),
    OK("records_across_5_byte_chunks", "id: 1\nevent: e\ndata: Zm9v\n\nid: 2\nevent: e\ndata: \n\n",
       5, "", BENCH_SSE_MORE, "1/e/666f6f;2/e/;"),
    OK("records_across_1_byte_chunks", "id: 1\nevent: e\ndata: Zm9v\n\n", 1, "", BENCH_SSE_MORE,
       "1/e/666f6f;"),
    OK("heartbeat_comments", ":\n\n: keep-alive\n\nid: 2\nevent: e\ndata: \n\n", 0, "",
       BENCH_SSE_MORE, "2/e/;"),
    OK("retry_field_ignored", "retry: 100\nid: 3\nevent: e\ndata: \n\n", 0, "", BENCH_SSE_MORE,
       "3/e/;"),
    OK("end_of_stream", "id: 4\nevent: e\ndata: \n\n", 0, "0\r\n\r\n", BENCH_SSE_END, "4/e/;"),
    OK("end_with_trailer", NULL, 0, "0\r\nX-Why: shutdown\r\n\r\n", BENCH_SSE_END, ""),
    OK("upper_case_hex_no_extension", NULL, 0, "1B\r\nid: 0\nevent: x\ndata: AQI=\n\n\r\n",
       BENCH_SSE_MORE, "0/x/0102;"),
    OK("big_id", "id: 18446744073709551615\nevent: e\ndata: \n\n", 0, "", BENCH_SSE_MORE,
       "18446744073709551615/e/;"),

    BAD_HEAD("status_not_200", "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
             "HTTP status 500"),
    BAD_HEAD("not_http11", "HTTP/1.0 200 OK\r\n\r\n", "not an HTTP/1.1 status line"),
    BAD_HEAD("not_chunked",
             "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n",
             "not chunked"),
    BAD_HEAD("content_length",
             "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 5\r\n"
             "Transfer-Encoding: chunked\r\n\r\n",
             "Content-Length"),
    BAD_HEAD("wrong_content_type",
             "HTTP/1.1 200 OK\r\nContent-Type: text/event-streamer\r\n"
             "Transfer-Encoding: chunked\r\n\r\n",
             "not text/event-stream"),
    BAD_HEAD("header_without_colon", "HTTP/1.1 200 OK\r\nContent-Type text/event-stream\r\n\r\n",
             "malformed header line"),
    BAD_RAW("chunk_size_not_hex", "zz\r\n", "not hex"),
    BAD_RAW("chunk_size_junk", "5 x\r\n", "junk after the chunk size"),
    BAD_RAW("chunk_lf_only", "5\n", "LF without CR"),
    BAD_RAW("chunk_data_no_crlf", "1\r\n:X", "not followed by CRLF"),
    BAD_RAW("bytes_after_end", "0\r\n\r\nX", "after the end"),
    {"nul_in_stream", NULL, NULL, 0, "2\r\n:\0\r\n", 7, BENCH_SSE_ERROR, "NUL"},
    BAD_SSE("sse_crlf_line", "id: 1\r\n", "CR in an SSE line"),
    BAD_SSE("sse_no_space", "id:12\n", "without \": \""),
    BAD_SSE("sse_unknown_field", "foo: x\n", "unknown SSE field"),
    BAD_SSE("sse_line_without_colon", "abc\n", "without a field name"),
    BAD_SSE("record_without_id", "event: e\ndata: \n\n", "record without id"),
    BAD_SSE("record_without_data", "id: 1\nevent: e\n\n", "record without data"),
    BAD_SSE("two_data_lines", "id: 1\nevent: e\ndata: \ndata: \n", "two data lines"),
    BAD_SSE("two_ids", "id: 1\nid: 2\n\n", "two id lines"),
    BAD_SSE("id_leading_zero", "id: 01\n", "bad id"),
    BAD_SSE("id_not_decimal", "id: -1\n", "bad id"),
    BAD_SSE("id_overflow", "id: 18446744073709551616\n", "bad id"),
    BAD_SSE("event_upper_case", "event: E\n", "bad character in event name"),
    BAD_SSE("data_not_base64", "data: ab*=\n", "base64"),
    BAD_SSE("data_unpadded", "data: Zg\n", "base64"),
    BAD_SSE("data_non_canonical", "data: Zh==\n", "base64"),
    BAD_SSE("data_pad_inside", "data: Zg==Zm9v\n", "base64"),
    {"ends_inside_record", NULL, "id: 1\n", 0, "0\r\n\r\n", 0, BENCH_SSE_ERROR,
     "ended inside a record"},
    {"ends_inside_line", NULL, "id", 0, "0\r\n\r\n", 0, BENCH_SSE_ERROR, "ended inside a record"},
};

/* Head, the SSE text as chunks in upstream's framing, then the raw bytes. */
static char *whole(const struct sse_case *c, size_t *n)
{
    const char *head = c->head != NULL ? c->head : HEAD;
    size_t sl = c->sse != NULL ? strlen(c->sse) : 0;
    size_t rl = c->raw_len > 0 ? c->raw_len : strlen(c->raw);
    char *in = malloc(strlen(head) + sl * 16 + rl + 64);
    size_t len;

    assert_non_null(in);
    len = (size_t)sprintf(in, "%s", head);
    for (size_t off = 0; off < sl;) {
        size_t take = c->ck == 0 || c->ck > sl - off ? sl - off : c->ck;

        len += (size_t)sprintf(in + len, "%zx;\r\n", take);
        memcpy(in + len, c->sse + off, take);
        len += take;
        memcpy(in + len, "\r\n", 2);
        len += 2;
        off += take;
    }
    memcpy(in + len, c->raw, rl);
    *n = len + rl;
    return in;
}

static void check(const struct sse_case *c, int rc, const struct seen *s, const char *err,
                  const char *how)
{
    if (rc != c->want_rc) {
        fail_msg("%s (%s): rc %d, want %d; error \"%s\"", c->name, how, rc, c->want_rc, err);
    }
    if (c->want_rc == BENCH_SSE_ERROR) {
        if (strstr(err, c->want) == NULL) {
            fail_msg("%s (%s): error \"%s\" does not say \"%s\"", c->name, how, err, c->want);
        }
    } else {
        assert_string_equal(err, "");
        if (strcmp(s->text, c->want) != 0) {
            fail_msg("%s (%s): records \"%s\", want \"%s\"", c->name, how, s->text, c->want);
        }
    }
}

static void test_case(void **state)
{
    const struct sse_case *c = *state;
    size_t n;
    char *in = whole(c, &n);
    size_t *cuts = calloc(n + 1, sizeof(*cuts));
    char err[256];

    assert_non_null(cuts);
    {
        struct seen s = {0};
        int rc = parse_cut(in, n, NULL, 0, &s, err, sizeof(err));

        check(c, rc, &s, err, "whole");
    }
    {
        struct seen s = {0};
        int rc;

        for (size_t i = 0; i < n; i++) {
            cuts[i] = i + 1;
        }
        rc = parse_cut(in, n, cuts, n > 0 ? n - 1 : 0, &s, err, sizeof(err));
        check(c, rc, &s, err, "byte by byte");
    }
    for (size_t at = 1; at < n; at++) {
        struct seen s = {0};
        char how[32];
        int rc;

        cuts[0] = at;
        rc = parse_cut(in, n, cuts, 1, &s, err, sizeof(err));
        snprintf(how, sizeof(how), "split at %zu", at);
        check(c, rc, &s, err, how);
    }
    free(cuts);
    free(in);
}

static void test_feed_after_error_fails(void **state)
{
    struct bench_sse p;
    static const char bad[] = "HTTP/1.1 404 Not Found\r\n\r\n";

    (void)state;
    bench_sse_init(&p, NULL, NULL);
    assert_int_equal(bench_sse_feed(&p, (const uint8_t *)bad, strlen(bad)), BENCH_SSE_ERROR);
    assert_int_equal(bench_sse_status(&p), 404);
    assert_int_equal(bench_sse_opened(&p), 0);
    assert_int_equal(bench_sse_feed(&p, (const uint8_t *)"x", 1), BENCH_SSE_ERROR);
    bench_sse_free(&p);
}

static void test_reader_refusal_stops(void **state)
{
    static const char in[] = HEAD "34\r\nid: 7\nevent: a_b\ndata: Zg==\n\nid: 8\nevent: c\ndata: "
                                  "\n\n\r\n";
    struct seen s = {0};
    struct bench_sse p;

    (void)state;
    s.refuse_at = 2;
    bench_sse_init(&p, collect, &s);
    assert_int_equal(bench_sse_feed(&p, (const uint8_t *)in, strlen(in)), BENCH_SSE_ERROR);
    assert_non_null(strstr(bench_sse_error(&p), "refused"));
    assert_string_equal(s.text, "7/a_b/66;");
    bench_sse_free(&p);
}

static void test_counters(void **state)
{
    static const char in[] = HEAD "3\r\n:\n\n\r\n17\r\nid: 2\nevent: e\ndata: \n\n\r\n";
    struct bench_sse p;

    (void)state;
    bench_sse_init(&p, NULL, NULL);
    assert_int_equal(bench_sse_feed(&p, (const uint8_t *)in, strlen(in)), BENCH_SSE_MORE);
    assert_int_equal(bench_sse_opened(&p), 1);
    assert_int_equal(p.records, 1);
    assert_int_equal(p.comments, 1);
    assert_int_equal(p.chunks, 2);
    bench_sse_free(&p);
}

static void test_head_too_big(void **state)
{
    char *in = malloc(BENCH_SSE_MAX_HEAD + 64);
    struct bench_sse p;
    size_t n;

    (void)state;
    assert_non_null(in);
    n = (size_t)snprintf(in, 64, "HTTP/1.1 200 OK\r\nX: ");
    memset(in + n, 'a', BENCH_SSE_MAX_HEAD);
    bench_sse_init(&p, NULL, NULL);
    assert_int_equal(bench_sse_feed(&p, (const uint8_t *)in, n + BENCH_SSE_MAX_HEAD),
                     BENCH_SSE_ERROR);
    assert_non_null(strstr(bench_sse_error(&p), "head over"));
    bench_sse_free(&p);
    free(in);
}

/* ---- base64 ---------------------------------------------------------------------------- */

struct b64_case {
    const char *in;
    long want_len; /* -1: invalid */
    const char *want;
};

static const struct b64_case b64_cases[] = {
    {"", 0, ""},
    {"Zg==", 1, "f"},
    {"Zm8=", 2, "fo"},
    {"Zm9v", 3, "foo"},
    {"Zm9vYmFy", 6, "foobar"},
    {"+/+/", 3, "\xfb\xff\xbf"},
    {"Zg=", -1, NULL},
    {"Z===", -1, NULL},
    {"=Zg=", -1, NULL},
    {"Zh==", -1, NULL},
    {"Zm9=", -1, NULL},
    {"Zm9v\n", -1, NULL},
    {"Zg==Zg==", -1, NULL},
    {"Zm-v", -1, NULL},
    {"Zm_v", -1, NULL},
};

static void test_base64(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
        const struct b64_case *c = &b64_cases[i];
        uint8_t out[16];
        long n = bench_base64_decode(c->in, strlen(c->in), out);

        if (n != c->want_len) {
            fail_msg("base64 \"%s\": %ld bytes, want %ld", c->in, n, c->want_len);
        }
        if (n > 0) {
            assert_memory_equal(out, c->want, (size_t)n);
        }
    }
}

/* ---- evwire ---------------------------------------------------------------------------- */

static void test_decode_instance_changed(void **state)
{
    Models__ActualLRPInstanceChangedEvent e = MODELS__ACTUAL_LRPINSTANCE_CHANGED_EVENT__INIT;
    Models__ActualLRPKey k = MODELS__ACTUAL_LRPKEY__INIT;
    Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;
    Models__ActualLRPInfo before = MODELS__ACTUAL_LRPINFO__INIT;
    Models__ActualLRPInfo after = MODELS__ACTUAL_LRPINFO__INIT;
    uint8_t buf[512];
    size_t n;
    struct bench_ev_info info;

    (void)state;
    k.process_guid = (char *)"pg-1";
    k.index = 3;
    k.domain = (char *)"cf-apps";
    ik.instance_guid = (char *)"ig-1";
    ik.cell_id = (char *)"cell-7";
    before.state = (char *)"RUNNING";
    after.state = (char *)"CLAIMED";
    e.actual_lrp_key = &k;
    e.actual_lrp_instance_key = &ik;
    e.before = &before;
    e.after = &after;
    n = models__actual_lrpinstance_changed_event__pack(&e, buf);

    assert_int_equal(bench_ev_decode("actual_lrp_instance_changed", buf, n, &info), 0);
    assert_int_equal(info.kind, BENCH_EV_INSTANCE_CHANGED);
    assert_string_equal(info.guid, "pg-1");
    assert_int_equal(info.index, 3);
    assert_string_equal(info.cell, "cell-7");
    assert_int_equal(info.before, BENCH_ST_RUNNING);
    assert_int_equal(info.after, BENCH_ST_CLAIMED);

    /* The keys are always emitted: a payload without them is refused. */
    e.actual_lrp_instance_key = NULL;
    n = models__actual_lrpinstance_changed_event__pack(&e, buf);
    assert_int_equal(bench_ev_decode("actual_lrp_instance_changed", buf, n, &info), -1);
    /* Bytes that are not a protobuf encoding. */
    assert_int_equal(
        bench_ev_decode("actual_lrp_instance_changed", (const uint8_t *)"\xff", 1, &info), -1);
}

static void test_decode_other_names(void **state)
{
    Models__ActualLRPInstanceRemovedEvent e = MODELS__ACTUAL_LRPINSTANCE_REMOVED_EVENT__INIT;
    Models__ActualLRP a = MODELS__ACTUAL_LRP__INIT;
    Models__ActualLRPKey k = MODELS__ACTUAL_LRPKEY__INIT;
    Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;
    uint8_t buf[512];
    size_t n;
    struct bench_ev_info info;

    (void)state;
    k.process_guid = (char *)"pg-2";
    k.index = 1;
    ik.cell_id = (char *)"cell-1";
    a.actual_lrp_key = &k;
    a.actual_lrp_instance_key = &ik;
    a.state = (char *)"UNCLAIMED";
    e.actual_lrp = &a;
    n = models__actual_lrpinstance_removed_event__pack(&e, buf);
    assert_int_equal(bench_ev_decode("actual_lrp_instance_removed", buf, n, &info), 0);
    assert_int_equal(info.kind, BENCH_EV_INSTANCE_REMOVED);
    assert_string_equal(info.guid, "pg-2");
    assert_int_equal(info.after, BENCH_ST_UNCLAIMED);

    /* Unknown names are skipped without reading the payload (clients skip them, 2.10.2). */
    assert_int_equal(bench_ev_decode("relist_required", (const uint8_t *)"\xff", 1, &info), 0);
    assert_int_equal(info.kind, BENCH_EV_UNKNOWN);
    assert_int_equal(bench_ev_kind_of("actual_lrp_changed"), BENCH_EV_UNKNOWN);
    assert_int_equal(bench_ev_kind_of("desired_lrp_removed"), BENCH_EV_DESIRED);
}

int main(void)
{
    enum { N = sizeof(cases) / sizeof(cases[0]) };
    struct CMUnitTest tests[N + 7];
    size_t n = 0;

    for (size_t i = 0; i < N; i++) {
        tests[n++] = (struct CMUnitTest){
            .name = cases[i].name,
            .test_func = test_case,
            .initial_state = (void *)&cases[i],
        };
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_feed_after_error_fails);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_reader_refusal_stops);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_counters);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_head_too_big);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_base64);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_decode_instance_changed);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_decode_other_names);
    return _cmocka_run_group_tests("bench_sse", tests, n, NULL, NULL);
}
