/*
 * test_stream.c - the long-lived response mechanism of src/http/stream.c
 * (stream.h), without a network: stream.c is compiled into this test and
 * the few libmicrohttpd and conn.c functions it calls are replaced by
 * recorders below. libmicrohttpd's side is played by the test: it calls
 * the content reader as libmicrohttpd would, and the response's free
 * callback when libmicrohttpd would be done with it.
 *
 * What this does not show: that libmicrohttpd resumes a suspended
 * connection and carries the bytes to a client. That end-to-end test
 * comes with the first stream route (the event routes).
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "../../src/http/stream.c"

/* ---- stand-ins for libmicrohttpd and conn.c ---------------------------------------------- */

static struct {
    int suspends;
    int resumes;
    int suspended; /* suspends - resumes, as libmicrohttpd would track it */
    MHD_ContentReaderCallback reader;
    void *cls;
    MHD_ContentReaderFreeCallback free_cb;
    int queued;
    int untimed; /* bbs_http_untime calls */
} mhd;

static char fake_connection;
static char fake_response;
#define CONN ((struct MHD_Connection *)(void *)&fake_connection)

void MHD_suspend_connection(struct MHD_Connection *connection)
{
    assert_ptr_equal(connection, CONN);
    assert_int_equal(mhd.suspended, 0);
    mhd.suspends++;
    mhd.suspended = 1;
}

void MHD_resume_connection(struct MHD_Connection *connection)
{
    assert_ptr_equal(connection, CONN);
    assert_int_equal(mhd.suspended, 1); /* resuming a connection not suspended is undefined */
    mhd.resumes++;
    mhd.suspended = 0;
}

/* server.c's: a stream is not closed for being idle. */
void bbs_http_untime(struct MHD_Connection *conn)
{
    assert_ptr_equal(conn, CONN);
    mhd.untimed++;
}

struct MHD_Response *MHD_create_response_from_callback(uint64_t size, size_t block_size,
                                                       MHD_ContentReaderCallback crc, void *crc_cls,
                                                       MHD_ContentReaderFreeCallback crfc)
{
    assert_true(size == MHD_SIZE_UNKNOWN);
    assert_true(block_size > 0);
    mhd.reader = crc;
    mhd.cls = crc_cls;
    mhd.free_cb = crfc;
    return (struct MHD_Response *)(void *)&fake_response;
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *response, const char *header,
                                        const char *content)
{
    (void)response;
    (void)header;
    (void)content;
    return MHD_YES;
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *connection, unsigned int status_code,
                                   struct MHD_Response *response)
{
    (void)response;
    assert_ptr_equal(connection, CONN);
    assert_int_equal(status_code, MHD_HTTP_OK);
    mhd.queued++;
    return MHD_YES;
}

/* libmicrohttpd keeps the response while it sends it: the test calls free_cb when it is done. */
void MHD_destroy_response(struct MHD_Response *response)
{
    (void)response;
}

/* server.c's: queue and drop the caller's reference (no handler threads here). */
enum MHD_Result bbs_http_answer(struct MHD_Connection *conn, unsigned status,
                                struct MHD_Response *resp)
{
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);

    MHD_destroy_response(resp);
    return ret;
}

struct bbs_conn *bbs_conn_of(struct MHD_Connection *mc)
{
    (void)mc;
    return NULL;
}

void bbs_conn_set_deadline(struct bbs_conn *c, int64_t deadline_ns)
{
    (void)c;
    (void)deadline_ns;
}

/* ---- helpers -------------------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    memset(&mhd, 0, sizeof(mhd));
    return 0;
}

/* One reader call as libmicrohttpd makes it; returns what it returned, bytes in `buf`. */
static ssize_t read_body(char *buf, size_t max)
{
    return mhd.reader(mhd.cls, 0, buf, max);
}

/* A queued stream with one producer reference (returned); the response holds the other. */
static struct bbs_stream *open_stream(struct bbs_streams *reg, int blocking)
{
    struct bbs_stream *s = bbs_stream_new(reg, CONN, blocking);

    bbs_stream_ref(s); /* the producer's */
    assert_int_equal(bbs_stream_queue(CONN, s, "text/event-stream"), MHD_YES);
    assert_int_equal(mhd.queued, 1);
    assert_int_equal(mhd.untimed, 1);
    return s;
}

/* ---- tests ------------------------------------------------------------------------------------
 */

static void test_waits_by_suspending_and_sends_in_order(void **state)
{
    struct bbs_streams *reg = bbs_streams_new();
    struct bbs_stream *s = open_stream(reg, 0);
    char buf[8];
    (void)state;

    /* Nothing yet: the reader suspends the connection rather than spin. */
    assert_int_equal(read_body(buf, sizeof(buf)), 0);
    assert_int_equal(mhd.suspended, 1);
    assert_int_equal(bbs_stream_send(s, "hello world", 11), 0);
    assert_int_equal(mhd.resumes, 1);
    /* Handed over in pieces of at most `max`, in order. */
    assert_int_equal(read_body(buf, sizeof(buf)), 8);
    assert_memory_equal(buf, "hello wo", 8);
    assert_int_equal(read_body(buf, sizeof(buf)), 3);
    assert_memory_equal(buf, "rld", 3);
    assert_int_equal(read_body(buf, sizeof(buf)), 0);
    assert_int_equal(mhd.suspends, 2);
    /* The producer ends it: what was sent first is still delivered. */
    assert_int_equal(bbs_stream_send(s, "!", 1), 0);
    bbs_stream_end(s);
    assert_int_equal(read_body(buf, sizeof(buf)), 1);
    assert_int_equal(read_body(buf, sizeof(buf)), MHD_CONTENT_READER_END_OF_STREAM);
    assert_int_equal(bbs_stream_send(s, "late", 4), -1);
    mhd.free_cb(mhd.cls);
    bbs_stream_unref(s);
    bbs_streams_release(reg);
}

static void test_client_gone_fails_the_producer(void **state)
{
    struct bbs_streams *reg = bbs_streams_new();
    struct bbs_stream *s = open_stream(reg, 0);
    (void)state;

    mhd.free_cb(mhd.cls); /* libmicrohttpd closed the connection */
    assert_int_equal(bbs_stream_send(s, "x", 1), -1);
    assert_int_equal(mhd.resumes, 0);
    bbs_stream_unref(s);
    bbs_streams_release(reg);
}

static void test_stop_ends_open_streams_and_new_ones(void **state)
{
    struct bbs_streams *reg = bbs_streams_new();
    struct bbs_stream *s = open_stream(reg, 0);
    struct bbs_stream *late;
    char buf[8];
    (void)state;

    assert_int_equal(read_body(buf, sizeof(buf)), 0);
    assert_int_equal(mhd.suspended, 1);
    bbs_streams_end_all(reg);
    /* Resumed at once (libmicrohttpd must not be stopped with it suspended), and ended. */
    assert_int_equal(mhd.suspended, 0);
    assert_int_equal(read_body(buf, sizeof(buf)), MHD_CONTENT_READER_END_OF_STREAM);
    assert_int_equal(bbs_stream_send(s, "x", 1), -1);
    mhd.free_cb(mhd.cls);
    bbs_stream_unref(s);

    /* A stream opened while the server stops ends at birth. */
    memset(&mhd, 0, sizeof(mhd));
    late = open_stream(reg, 0);
    assert_int_equal(read_body(buf, sizeof(buf)), MHD_CONTENT_READER_END_OF_STREAM);
    assert_int_equal(mhd.suspends, 0);
    mhd.free_cb(mhd.cls);
    bbs_stream_unref(late);
    bbs_streams_release(reg);
}

static void test_registry_outlives_the_server(void **state)
{
    struct bbs_streams *reg = bbs_streams_new();
    struct bbs_stream *s = open_stream(reg, 0);
    (void)state;

    bbs_streams_end_all(reg);
    mhd.free_cb(mhd.cls);
    bbs_streams_release(reg); /* the server is gone; the producer still holds s */
    assert_int_equal(bbs_stream_send(s, "x", 1), -1);
    bbs_stream_unref(s); /* frees s, then the registry (ASan/valgrind see any misuse) */
}

struct blocked_read {
    char buf[16];
    ssize_t first;
    ssize_t second;
};

static void *reader_thread(void *arg)
{
    struct blocked_read *b = arg;

    b->first = read_body(b->buf, sizeof(b->buf));
    b->second = read_body(b->buf + 8, sizeof(b->buf) - 8);
    return NULL;
}

/* Thread per connection: the reader blocks (no suspend) until bytes or the end arrive. */
static void test_thread_per_connection_reader_blocks(void **state)
{
    struct bbs_streams *reg = bbs_streams_new();
    struct bbs_stream *s = open_stream(reg, 1);
    struct blocked_read b = {{0}, -2, -2};
    struct timespec ms20 = {0, 20 * 1000000L};
    pthread_t t;
    (void)state;

    assert_int_equal(pthread_create(&t, NULL, reader_thread, &b), 0);
    nanosleep(&ms20, NULL);
    assert_int_equal(bbs_stream_send(s, "event", 5), 0);
    nanosleep(&ms20, NULL);
    bbs_streams_end_all(reg);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(b.first, 5);
    assert_memory_equal(b.buf, "event", 5);
    assert_int_equal(b.second, MHD_CONTENT_READER_END_OF_STREAM);
    assert_int_equal(mhd.suspends, 0);
    mhd.free_cb(mhd.cls);
    bbs_stream_unref(s);
    bbs_streams_release(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_waits_by_suspending_and_sends_in_order, setup),
        cmocka_unit_test_setup(test_client_gone_fails_the_producer, setup),
        cmocka_unit_test_setup(test_stop_ends_open_streams_and_new_ones, setup),
        cmocka_unit_test_setup(test_registry_outlives_the_server, setup),
        cmocka_unit_test_setup(test_thread_per_connection_reader_blocks, setup),
    };

    return cmocka_run_group_tests_name("stream", tests, NULL, NULL);
}
