/*
 * peer.c - see peer.h.
 */
#include "support/peer.h"

#include <arpa/inet.h>
#include <fcntl.h>
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

#include "harness.h"
#include "support/internal.h"

extern char **environ;

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
long it_post_port(int port, const char *path, const void *body, size_t len, size_t *resp_len)
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
int it_serves(int port)
{
    size_t n = 0;

    return it_post_port(port, "/v1/ping", "", 0, &n) == 200 && n == 2;
}

/* The health listener's status and X-BBS-Role ("" when none). */
long it_health_role(int port, char role[32])
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

void it_peer_start(struct it_peer *p, const char *name, json_t *extra)
{
    json_t *cfg = json_object();
    const char *bin = getenv("BBS_BINARY");
    const char *mig = getenv("BBS_MIGRATIONS_DIR");
    posix_spawn_file_actions_t fa;
    char addr[64];
    const char *argv[4];
    char role[32];
    int64_t deadline;

    p->port = it_free_port();
    p->health = it_free_port();
    snprintf(p->log, sizeof(p->log), "/tmp/bbs-it-lead-%d-%s.log", (int)getpid(), name);
    snprintf(p->config, sizeof(p->config), "/tmp/bbs-it-lead-%d-%s.json", (int)getpid(), name);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", p->port);
    json_object_set_new(cfg, "listen_address", json_string(addr));
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", p->health);
    json_object_set_new(cfg, "health_address", json_string(addr));
    json_object_set_new(cfg, "database_connection_string", json_string(it_db_conninfo()));
    json_object_set_new(cfg, "converge_repeat_interval", json_string("24h"));
    json_object_set_new(cfg, "uuid", json_string(name));
    if (mig != NULL && mig[0] != '\0') {
        json_object_set_new(cfg, "migrations_dir", json_string(mig));
    }
    if (extra != NULL) {
        json_object_update(cfg, extra);
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
    while (it_health_role(p->health, role) != 200 && it_mono_ms() < deadline) {
        it_sleep_ms(50);
    }
    assert_int_equal(it_health_role(p->health, role), 200);
}

/* Wait up to `ms` for the peer to exit: its wait status, or -1. */
int it_peer_wait(struct it_peer *p, int ms)
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

void it_peer_cleanup(struct it_peer *p)
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
struct it_peer *it_first_serving(struct it_peer **ps, int n, int ms, int64_t *took_ms)
{
    int64_t t0 = it_mono_ms();

    while (it_mono_ms() - t0 < ms) {
        for (int i = 0; i < n; i++) {
            if (ps[i]->pid > 0 && it_serves(ps[i]->port)) {
                *took_ms = it_mono_ms() - t0;
                return ps[i];
            }
        }
        it_sleep_ms(20);
    }
    return NULL;
}

void it_peer_print_log(const struct it_peer *p)
{
    size_t len = 0;
    char *log = it_read_file(p->log, &len);

    if (log != NULL) {
        fprintf(stderr, "---- %s ----\n%s\n", p->log, log);
        free(log);
    }
}

static size_t keep_body(char *p, size_t s, size_t n, void *u)
{
    struct it_resp_body *b = u;
    uint8_t *grown = realloc(b->data, b->len + s * n + 1);

    if (grown == NULL) {
        return 0;
    }
    memcpy(grown + b->len, p, s * n);
    b->data = grown;
    b->len += s * n;
    return s * n;
}

long it_post_port_body(int port, const char *path, const void *body, size_t len,
                       struct it_resp_body *out)
{
    CURL *c = curl_easy_init();
    char url[128];
    long status = -1;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/x-protobuf");

    out->data = NULL;
    out->len = 0;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

json_t *it_get_json_port(int port, const char *path)
{
    CURL *c = curl_easy_init();
    struct it_resp_body b = {0};
    char url[160];
    long status = -1;
    json_t *j = NULL;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_easy_cleanup(c);
    if (status == 200 && b.data != NULL) {
        j = json_loadb((const char *)b.data, b.len, 0, NULL);
    }
    free(b.data);
    return j;
}
