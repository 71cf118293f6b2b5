/*
 * test_limits.c - what bounds a client's hold on the server: the body cap,
 * the read deadline (a request must arrive completely within
 * http_read_timeout, however its bytes trickle: slowloris), the idle
 * timeout, the connection limit, and malformed HTTP. Over every limit the
 * server answers or closes, and meanwhile keeps serving everybody else.
 *
 * The server here runs with small limits (read 3 s, idle 2 s, 120
 * connections, 4 KiB bodies), under valgrind when the suite uses it: the
 * time bounds asserted (a ping within 1 s while 100 slow clients are
 * connected; closes near the configured timeouts) hold there too, since a
 * slow connection costs the server an epoll wake-up per byte, not a
 * thread.
 */
#include "harness.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#define READ_TIMEOUT_MS 3000
#define IDLE_TIMEOUT_MS 2000
#define MAX_CONNECTIONS 120
#define MAX_BODY        4096
#define SLOW_CLIENTS    100

static const char PING[] = "POST /v1/ping HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n";

/* ---- raw sockets --------------------------------------------------------------------- */

static int dial(void)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)it_server_port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        fail_msg("connect: %s", strerror(errno));
    }
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);

        if (k <= 0) {
            fail_msg("send: %s", k == 0 ? "closed" : strerror(errno));
        }
        c += k;
        n -= (size_t)k;
    }
}

/*
 * Read what arrives on `fd` for up to `ms`, into `buf`. Returns 1 when the
 * server closed the connection (end of file or reset), 0 on timeout.
 */
static int read_until_closed(int fd, int ms, char *buf, size_t cap, size_t *len)
{
    int64_t deadline = it_mono_ms() + ms;
    size_t got = 0;

    for (;;) {
        int64_t left = deadline - it_mono_ms();
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t k;

        if (left <= 0) {
            break;
        }
        if (poll(&p, 1, (int)left) <= 0) {
            continue;
        }
        if (buf != NULL && got < cap) {
            k = recv(fd, buf + got, cap - got, 0);
        } else {
            char sink[256];

            k = recv(fd, sink, sizeof(sink), 0);
        }
        if (k == 0 || (k < 0 && errno == ECONNRESET)) {
            if (len != NULL) {
                *len = got;
            }
            return 1;
        }
        if (k > 0 && buf != NULL && got < cap) {
            got += (size_t)k;
        }
    }
    if (len != NULL) {
        *len = got;
    }
    return 0;
}

/* Read one response to a ping (headers + 2-byte body) within `ms`; 1 if it arrived. */
static int read_ping_answer(int fd, int ms)
{
    char buf[1024];
    size_t got = 0;
    int64_t deadline = it_mono_ms() + ms;

    while (it_mono_ms() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t k;
        const char *end;

        if (poll(&p, 1, (int)(deadline - it_mono_ms())) <= 0) {
            continue;
        }
        k = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (k <= 0) {
            return 0;
        }
        got += (size_t)k;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end != NULL && (size_t)(end + 4 - buf) + 2 <= got) {
            return strncmp(buf, "HTTP/1.1 200", 12) == 0;
        }
    }
    return 0;
}

/* A ping on a fresh connection; returns how long it took (ms). Asserts success. */
static int64_t timed_ping(void)
{
    struct it_client *c = it_client_new();
    struct it_resp r;
    char err[512];
    int64_t t0 = it_mono_ms();
    int64_t took;

    if (it_client_request(c, "POST", "/v1/ping", NULL, 0, NULL, 0, &r, err, sizeof(err)) != 0) {
        it_client_free(c);
        fail_msg("ping: %s", err);
    }
    took = it_mono_ms() - t0;
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 2);
    it_resp_free(&r);
    it_client_free(c);
    return took;
}

/* ---- slow clients ----------------------------------------------------------------------- */

struct slow {
    int fds[SLOW_CLIENTS];
    int64_t closed_at[SLOW_CLIENTS]; /* ms since opened; 0 while open */
    int64_t opened_ms;
    int n;
    int body; /* trickle body bytes (headers complete) instead of header bytes */
    int stop;
    pthread_mutex_t mu;
};

/* One byte per connection every 100 ms, until the server closes it. */
static void *trickle(void *arg)
{
    struct slow *s = arg;
    static const char header_bytes[] = "X-Slow: 1\r\n";
    size_t k = 0;

    for (;;) {
        int open = 0;

        pthread_mutex_lock(&s->mu);
        if (s->stop) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        for (int i = 0; i < s->n; i++) {
            char c = s->body ? 'x' : header_bytes[k % (sizeof(header_bytes) - 1)];
            char sink[512];
            ssize_t r;

            if (s->closed_at[i] != 0) {
                continue;
            }
            r = recv(s->fds[i], sink, sizeof(sink), MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) ||
                send(s->fds[i], &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
                s->closed_at[i] = it_mono_ms() - s->opened_ms;
                continue;
            }
            open++;
        }
        k++;
        pthread_mutex_unlock(&s->mu);
        if (open == 0) {
            break;
        }
        it_sleep_ms(100);
    }
    return NULL;
}

static void slow_open(struct slow *s, int n, int body)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    s->n = n;
    s->body = body;
    s->opened_ms = it_mono_ms();
    for (int i = 0; i < n; i++) {
        s->fds[i] = dial();
        if (body) {
            static const char head[] = "POST /v1/domains/upsert HTTP/1.1\r\nHost: t\r\n"
                                       "Content-Length: 1000\r\n\r\n";
            send_all(s->fds[i], head, sizeof(head) - 1);
        } else {
            static const char start[] = "POST /v1/ping HTTP/1.1\r\nHost: t\r\n";
            send_all(s->fds[i], start, sizeof(start) - 1);
        }
    }
}

static int slow_open_count(struct slow *s)
{
    int open = 0;

    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n; i++) {
        open += s->closed_at[i] == 0;
    }
    pthread_mutex_unlock(&s->mu);
    return open;
}

static void slow_close(struct slow *s)
{
    for (int i = 0; i < s->n; i++) {
        close(s->fds[i]);
    }
    pthread_mutex_destroy(&s->mu);
}

/*
 * Every slow connection is closed by the server once its request has not
 * arrived within the read timeout (not before it, and well within a
 * second or two after it), although each one keeps sending bytes.
 */
static void assert_reaped(struct slow *s, pthread_t t)
{
    int64_t deadline = it_mono_ms() + READ_TIMEOUT_MS + 5000;

    while (slow_open_count(s) > 0 && it_mono_ms() < deadline) {
        it_sleep_ms(50);
    }
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_mutex_unlock(&s->mu);
    pthread_join(t, NULL);
    for (int i = 0; i < s->n; i++) {
        if (s->closed_at[i] == 0) {
            fail_msg("slow connection %d still open %d ms after its read deadline", i, 5000);
        }
        if (s->closed_at[i] < READ_TIMEOUT_MS - 500 || s->closed_at[i] > READ_TIMEOUT_MS + 2500) {
            fail_msg("slow connection %d closed after %lld ms (read timeout %d ms)", i,
                     (long long)s->closed_at[i], READ_TIMEOUT_MS);
        }
    }
}

static void test_slowloris_does_not_hold_the_server(void **state)
{
    struct slow s;
    pthread_t t;
    int64_t worst = 0;
    (void)state;

    slow_open(&s, SLOW_CLIENTS, 0);
    assert_int_equal(pthread_create(&t, NULL, trickle, &s), 0);
    it_sleep_ms(200);
    /* While all 100 are connected and trickling, others are served at once. */
    for (int i = 0; i < 10; i++) {
        int64_t took = timed_ping();

        if (took > worst) {
            worst = took;
        }
        assert_int_equal(slow_open_count(&s), SLOW_CLIENTS);
        it_sleep_ms(100);
    }
    print_message("slowloris: %d slow connections open, slowest of 10 pings %lld ms\n",
                  SLOW_CLIENTS, (long long)worst);
    if (worst >= 1000) {
        fail_msg("a ping took %lld ms while %d slow clients were connected", (long long)worst,
                 SLOW_CLIENTS);
    }
    assert_reaped(&s, t);
    slow_close(&s);
    assert_true(timed_ping() < 1000);
}

static void test_slow_body_closed_at_read_deadline(void **state)
{
    struct slow s;
    pthread_t t;
    (void)state;

    slow_open(&s, 10, 1);
    assert_int_equal(pthread_create(&t, NULL, trickle, &s), 0);
    it_sleep_ms(200);
    assert_true(timed_ping() < 1000);
    assert_reaped(&s, t);
    slow_close(&s);
    assert_true(timed_ping() < 1000);
}

static void test_idle_keepalive_connection_closed(void **state)
{
    int fd;
    int64_t t0;
    int64_t took;
    (void)state;

    fd = dial();
    send_all(fd, PING, sizeof(PING) - 1);
    assert_true(read_ping_answer(fd, 5000));
    t0 = it_mono_ms();
    assert_true(read_until_closed(fd, IDLE_TIMEOUT_MS + 4000, NULL, 0, NULL));
    took = it_mono_ms() - t0;
    close(fd);
    if (took < IDLE_TIMEOUT_MS - 500 || took > IDLE_TIMEOUT_MS + 2000) {
        fail_msg("idle connection closed after %lld ms (idle timeout %d ms)", (long long)took,
                 IDLE_TIMEOUT_MS);
    }
}

static void test_connection_limit(void **state)
{
    enum { EXTRA = 5, N = MAX_CONNECTIONS + EXTRA };
    int fds[N];
    int answered[N];
    int n_answered = 0;
    int n_late = 0;
    (void)state;

    /* Ask on every connection at once, then see who is answered. */
    for (int i = 0; i < N; i++) {
        fds[i] = dial();
        send_all(fds[i], PING, sizeof(PING) - 1);
    }
    for (int i = 0; i < N; i++) {
        answered[i] = read_ping_answer(fds[i], i == 0 ? 1000 : 50);
        n_answered += answered[i];
    }
    /* At most the limit are served; the rest wait in the listen backlog.
     * (The harness's own client may hold a slot too.) */
    print_message("connection limit %d: %d of %d answered\n", MAX_CONNECTIONS, n_answered, N);
    assert_true(n_answered <= MAX_CONNECTIONS);
    assert_true(n_answered >= MAX_CONNECTIONS - (it_valgrind() ? 10 : 2));
    /* Free the slots: the waiting ones are served promptly. */
    for (int i = 0; i < N; i++) {
        if (answered[i]) {
            close(fds[i]);
        }
    }
    for (int i = 0; i < N; i++) {
        if (!answered[i]) {
            n_late += read_ping_answer(fds[i], 1500);
            close(fds[i]);
        }
    }
    assert_int_equal(n_late, N - n_answered);
    assert_true(timed_ping() < 1000);
}

static void test_body_cap(void **state)
{
    uint8_t *big = calloc(1, MAX_BODY + 1);
    struct it_resp r;
    char err[512];
    void *msg;
    (void)state;

    assert_non_null(big);
    /* Over the cap: read, thrown away, 413 at its end, connection kept. */
    it_post_raw("/v1/domains/upsert", big, MAX_BODY + 1, &r);
    assert_int_equal(r.status, 413);
    msg = it_unpack(&models__upsert_domain_response__descriptor, r.body, r.len);
    assert_non_null(msg);
    assert_int_equal(it_err_type(msg), MODELS__ERROR__TYPE__InvalidRequest);
    it_free(msg);
    it_resp_free(&r);
    it_post_raw("/v1/ping", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.new_connections, 0);
    it_resp_free(&r);
    /* Announced as far over the cap: refused before a byte of it is sent. */
    {
        char head[256];
        char answer[512];
        size_t len = 0;
        int fd = dial();

        snprintf(head, sizeof(head),
                 "POST /v1/domains/upsert HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n",
                 100 * MAX_BODY);
        send_all(fd, head, strlen(head));
        assert_true(read_until_closed(fd, 5000, answer, sizeof(answer) - 1, &len));
        answer[len] = '\0';
        if (strncmp(answer, "HTTP/1.1 413", 12) != 0) {
            fail_msg("huge Content-Length: answer %.80s", answer);
        }
        close(fd);
    }
    /* Chunked, so only found out while arriving: 413 at its end. */
    assert_int_equal(it_client_request(it_main_client(), "POST", "/v1/domains/upsert", big,
                                       MAX_BODY + 1, NULL, 1, &r, err, sizeof(err)),
                     0);
    assert_int_equal(r.status, 413);
    it_resp_free(&r);
    /* At the cap: decoded normally (zeros are not a valid message). */
    it_post_raw("/v1/domains/upsert", big, MAX_BODY, &r);
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
    free(big);
    assert_true(timed_ping() < 1000);
}

static void test_malformed_http_answered_or_closed(void **state)
{
    static const char *const junk[] = {
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", /* a TLS hello to the plain port */
        "GARBAGE\r\n\r\n",
        "POST /v1/ping HTTP/9.9\r\n\r\n",
        "POST /v1/ping HTTP/1.1\r\nNo colon here\r\n\r\n",
        "POST /v1/ping HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n",
        "POST /v1/ping HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "POST /v1/ping HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "\r\n\r\n\r\n",
    };
    char *huge;
    char buf[2048];
    size_t len;
    (void)state;

    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        int fd = dial();

        send_all(fd, junk[i], strlen(junk[i]));
        shutdown(fd, SHUT_WR);
        /* An answer (if any) and then the close, well within the timeouts. */
        if (!read_until_closed(fd, READ_TIMEOUT_MS + 3000, buf, sizeof(buf) - 1, &len)) {
            fail_msg("junk %zu: connection neither answered nor closed", i);
        }
        buf[len] = '\0';
        if (len > 0 && strncmp(buf, "HTTP/1.", 7) != 0) {
            fail_msg("junk %zu: answer is not HTTP: %.80s", i, buf);
        }
        close(fd);
    }
    /* A header section larger than the connection's memory. */
    huge = malloc(200000);
    assert_non_null(huge);
    memset(huge, 'a', 200000);
    memcpy(huge, "POST /v1/ping HTTP/1.1\r\nX-Big: ", 31);
    {
        int fd = dial();
        size_t sent = 0;

        while (sent < 200000) {
            ssize_t k = send(fd, huge + sent, 200000 - sent, MSG_NOSIGNAL);

            if (k <= 0) {
                break; /* the server may close mid-way: that is a fine answer */
            }
            sent += (size_t)k;
        }
        assert_true(read_until_closed(fd, READ_TIMEOUT_MS + 3000, buf, sizeof(buf) - 1, &len));
        buf[len] = '\0';
        if (len > 0 && strncmp(buf, "HTTP/1.1 4", 10) != 0) {
            fail_msg("huge header: answer %.80s", buf);
        }
        close(fd);
    }
    free(huge);
    assert_true(timed_ping() < 1000);
}

static void test_plain_http_is_warned_about(void **state)
{
    char *log = it_server_log();
    (void)state;

    assert_non_null(log);
    if (strstr(log, "\"message\":\"bbs.tls.disabled\"") == NULL ||
        strstr(log, "\"log_level\":2") == NULL) {
        free(log);
        fail_msg("no error-level bbs.tls.disabled line for a plain-HTTP listener");
    }
    free(log);
}

static int setup(void **state)
{
    struct it_server_opts opts = {.max_request_body_bytes = MAX_BODY};
    json_t *extra =
        json_pack("{s:s, s:s, s:i, s:i}", "http_read_timeout", "3s", "http_idle_timeout", "2s",
                  "max_connections", MAX_CONNECTIONS, "http_worker_threads", 4);
    int rc;

    (void)state;
    it_server_config(extra);
    rc = it_server_start("limits", &opts);
    it_server_config(NULL);
    json_decref(extra);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    return it_server_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_http_is_warned_about),
        cmocka_unit_test(test_body_cap),
        cmocka_unit_test(test_slowloris_does_not_hold_the_server),
        cmocka_unit_test(test_slow_body_closed_at_read_deadline),
        cmocka_unit_test(test_idle_keepalive_connection_closed),
        cmocka_unit_test(test_connection_limit),
        cmocka_unit_test(test_malformed_http_answered_or_closed),
    };

    return it_main_exit(cmocka_run_group_tests_name("limits", tests, setup, teardown));
}
