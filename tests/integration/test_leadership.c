/*
 * test_leadership.c - several servers on one database (lead.h, lease mode):
 * exactly one serves the API, the others are standbys (API port refused,
 * health 200 with X-BBS-Role: standby); SIGKILL and SIGTERM of the leader
 * hand over; a paused leader whose lease was taken cannot commit and exits.
 *
 * The harness starts the first server (the leader); the others are started
 * here with the same database and their own ports. Figures (take-over
 * times) are printed, never asserted beyond a generous bound the scenario
 * needs to go on.
 */
#include "harness.h"
#include "support/internal.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

extern char **environ;

#define TTL "2s"

struct peer {
    pid_t pid;
    int port;
    int health;
    char log[256];
    char config[256];
};

static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port;

    assert_true(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

struct body {
    size_t len;
};

static size_t count_body(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    ((struct body *)u)->len += s * n;
    return s * n;
}

static size_t role_header(char *p, size_t s, size_t n, void *u)
{
    char *role = u;
    size_t len = s * n;

    if (len > 12 && strncasecmp(p, "X-BBS-Role: ", 12) == 0) {
        size_t m = len - 12;

        while (m > 0 && (p[12 + m - 1] == '\r' || p[12 + m - 1] == '\n')) {
            m--;
        }
        snprintf(role, 32, "%.*s", (int)m, p + 12);
    }
    return len;
}

/*
 * POST `path` with `body` to 127.0.0.1:port: the HTTP status and body
 * length; -1 when no connection could be made (refused).
 */
static long post(int port, const char *path, const void *body, size_t len, size_t *resp_len)
{
    CURL *c = curl_easy_init();
    char url[128];
    struct body b = {0};
    long status = -1;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/x-protobuf");

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, count_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (resp_len != NULL) {
        *resp_len = b.len;
    }
    return status;
}

/* 1 when the API on `port` answers ping true. */
static int serves(int port)
{
    size_t n = 0;

    return post(port, "/v1/ping", "", 0, &n) == 200 && n == 2;
}

/* The health listener's status and X-BBS-Role ("" when none). */
static long health(int port, char role[32])
{
    CURL *c = curl_easy_init();
    char url[128];
    long status = -1;

    role[0] = '\0';
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ping", port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, role_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, role);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_easy_cleanup(c);
    return status;
}

static void peer_start(struct peer *p, const char *name)
{
    json_t *cfg = json_object();
    const char *bin = getenv("BBS_BINARY");
    const char *mig = getenv("BBS_MIGRATIONS_DIR");
    posix_spawn_file_actions_t fa;
    char addr[64];
    const char *argv[4];
    char role[32];
    int64_t deadline;

    p->port = free_port();
    p->health = free_port();
    snprintf(p->log, sizeof(p->log), "/tmp/bbs-it-lead-%d-%s.log", (int)getpid(), name);
    snprintf(p->config, sizeof(p->config), "/tmp/bbs-it-lead-%d-%s.json", (int)getpid(), name);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", p->port);
    json_object_set_new(cfg, "listen_address", json_string(addr));
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", p->health);
    json_object_set_new(cfg, "health_address", json_string(addr));
    json_object_set_new(cfg, "database_connection_string", json_string(it_db_conninfo()));
    json_object_set_new(cfg, "converge_repeat_interval", json_string("24h"));
    json_object_set_new(cfg, "lock_ttl", json_string(TTL));
    json_object_set_new(cfg, "lock_retry_interval", json_string("1s"));
    json_object_set_new(cfg, "uuid", json_string(name));
    if (mig != NULL && mig[0] != '\0') {
        json_object_set_new(cfg, "migrations_dir", json_string(mig));
    }
    assert_int_equal(json_dump_file(cfg, p->config, JSON_INDENT(2)), 0);
    json_decref(cfg);
    argv[0] = bin;
    argv[1] = "-config";
    argv[2] = p->config;
    argv[3] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, p->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    assert_int_equal(posix_spawn(&p->pid, bin, &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    /* Up as a standby: health answers. */
    deadline = it_mono_ms() + 15000;
    while (health(p->health, role) != 200 && it_mono_ms() < deadline) {
        it_sleep_ms(50);
    }
    assert_int_equal(health(p->health, role), 200);
}

/* Wait up to `ms` for the peer to exit: its wait status, or -1. */
static int peer_wait(struct peer *p, int ms)
{
    int64_t deadline = it_mono_ms() + ms;
    int status;

    while (it_mono_ms() < deadline) {
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            p->pid = 0;
            return status;
        }
        it_sleep_ms(20);
    }
    return -1;
}

static void peer_cleanup(struct peer *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
    unlink(p->log);
    unlink(p->config);
}

/* Of `n` peers, the one that serves within `ms` (NULL if none); `*took_ms` how long. */
static struct peer *first_serving(struct peer **ps, int n, int ms, int64_t *took_ms)
{
    int64_t t0 = it_mono_ms();

    while (it_mono_ms() - t0 < ms) {
        for (int i = 0; i < n; i++) {
            if (ps[i]->pid > 0 && serves(ps[i]->port)) {
                *took_ms = it_mono_ms() - t0;
                return ps[i];
            }
        }
        it_sleep_ms(20);
    }
    return NULL;
}

static int64_t db_term(void)
{
    PGconn *c = PQconnectdb(it_db_conninfo());
    PGresult *r = PQexec(c, "SELECT term FROM bbs_leader WHERE id = 1");
    int64_t t = -1;

    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        t = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    }
    PQclear(r);
    PQfinish(c);
    return t;
}

static void print_log(const struct peer *p)
{
    size_t len = 0;
    char *log = it_read_file(p->log, &len);

    if (log != NULL) {
        fprintf(stderr, "---- %s ----\n%s\n", p->log, log);
        free(log);
    }
}

static void test_one_leader_and_hand_overs(void **state)
{
    struct peer b = {0}, c = {0}, d = {0};
    struct peer *standbys[2] = {&b, &c};
    struct peer *next, *other;
    struct peer leader_a = {0};
    char role[32];
    int64_t took = 0, term0, term1;
    int status;
    size_t n = 0;
    /* UpsertDomainRequest {domain: "fenced", ttl: 60} */
    static const uint8_t upsert[] = {0x0a, 6, 'f', 'e', 'n', 'c', 'e', 'd', 0x10, 60};
    const char *params[1] = {"fenced"};
    (void)state;

    leader_a.pid = it_server_pid();
    leader_a.port = it_server_port();
    leader_a.health = it_health_port();
    assert_true(serves(leader_a.port));
    assert_int_equal(health(leader_a.health, role), 200);
    assert_string_equal(role, "leader");
    term0 = db_term();
    assert_true(term0 > 0);

    /* Two more on the same database: standbys, their API port refused. */
    peer_start(&b, "b");
    peer_start(&c, "c");
    it_sleep_ms(1500); /* more than a lease poll: they have looked at the lease */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(health(standbys[i]->health, role), 200);
        assert_string_equal(role, "standby");
        assert_int_equal(post(standbys[i]->port, "/v1/ping", "", 0, NULL), -1);
    }
    assert_true(serves(leader_a.port));

    /* SIGKILL the leader: one standby serves, the other stays standby. */
    kill(leader_a.pid, SIGKILL);
    assert_int_equal(it_server_wait_exit(5000, &status), 0);
    next = first_serving(standbys, 2, 10000, &took);
    if (next == NULL) {
        print_log(&b);
        print_log(&c);
    }
    assert_non_null(next);
    fprintf(stderr, "figure: take-over after SIGKILL of the leader: %lld ms\n", (long long)took);
    other = next == &b ? &c : &b;
    it_sleep_ms(1500);
    assert_int_equal(post(other->port, "/v1/ping", "", 0, NULL), -1);
    term1 = db_term();
    assert_true(term1 > term0);

    /* SIGTERM hand-over: the leader releases, exits 0, the other serves. */
    kill(next->pid, SIGTERM);
    {
        struct peer *one[1] = {other};
        struct peer *srv = first_serving(one, 1, 10000, &took);

        assert_non_null(srv);
        fprintf(stderr, "figure: take-over after SIGTERM of the leader: %lld ms\n",
                (long long)took);
    }
    status = peer_wait(next, 15000);
    assert_true(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(db_term() > term1);

    /* A paused leader loses its lease; resumed, it cannot commit and exits non-zero. */
    peer_start(&d, "d");
    it_sleep_ms(1500);
    assert_int_equal(post(d.port, "/v1/ping", "", 0, NULL), -1);
    kill(other->pid, SIGSTOP);
    {
        struct peer *one[1] = {&d};

        assert_non_null(first_serving(one, 1, 20000, &took));
        fprintf(stderr, "figure: take-over from a paused leader (lock_ttl %s): %lld ms\n", TTL,
                (long long)took);
    }
    kill(other->pid, SIGCONT);
    {
        long st = post(other->port, "/v1/domains/upsert", upsert, sizeof(upsert), &n);

        /* Not accepted: no connection, or an answer carrying an error. */
        assert_false(st == 200 && n == 0);
    }
    status = peer_wait(other, 15000);
    assert_true(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0);
    assert_int_equal(it_db_exec("SELECT 1 FROM domains WHERE domain = $1", 1, params), 0);
    /* The new leader writes. */
    assert_int_equal(post(d.port, "/v1/domains/upsert", upsert, sizeof(upsert), &n), 200);
    assert_int_equal(n, 0);
    assert_int_equal(it_db_exec("SELECT 1 FROM domains WHERE domain = $1", 1, params), 1);

    kill(d.pid, SIGTERM);
    status = peer_wait(&d, 15000);
    assert_true(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    peer_cleanup(&b);
    peer_cleanup(&c);
    peer_cleanup(&d);
}

static int setup(void **state)
{
    json_t *extra =
        json_pack("{s:s, s:s, s:s}", "lock_ttl", TTL, "lock_retry_interval", "1s", "uuid", "a");

    (void)state;
    it_server_no_valgrind(1); /* take-over times are part of the scenario */
    it_server_config(extra);
    if (it_server_start("leadership", NULL) != 0) {
        json_decref(extra);
        return -1;
    }
    it_server_config(NULL);
    json_decref(extra);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return it_server_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_leader_and_hand_overs),
    };

    return it_main_exit(cmocka_run_group_tests(tests, setup, teardown));
}
