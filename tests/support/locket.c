/*
 * locket.c - see locket.h: spawns tests/support/locket_standin.py with
 * pipes on its stdin and stdout and exchanges one JSON line per command.
 */
#include "support/locket.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/certs.h"
#include "support/util.h"

#ifndef BBS_IT_SUPPORT_DIR
#error "BBS_IT_SUPPORT_DIR must name tests/support (set by tests/CMakeLists.txt)"
#endif
#ifndef BBS_PROTO_DIR
#error "BBS_PROTO_DIR must name proto/ (set by tests/CMakeLists.txt)"
#endif

#define LOCKET_REPLY_MS 20000 /* python start-up and protoc included */

static struct {
    pid_t pid;
    FILE *to; /* its stdin */
    int from; /* its stdout */
    char line[65536];
    size_t have; /* bytes buffered in line */
    char address[64];
    struct it_certs certs;
    char ca[300], cert[300], key[300], client[300], client_key[300], untrusted[300],
        untrusted_key[300];
} lk = {.from = -1};

static int locket_certs(void)
{
    struct it_certs *c = &lk.certs;

    if (it_certs_init(c, "bbs-it-locket") != 0) {
        return -1;
    }
    it_certs_path(c, "locket-ca.pem", lk.ca, sizeof(lk.ca));
    it_certs_path(c, "locket.pem", lk.cert, sizeof(lk.cert));
    it_certs_path(c, "locket.key", lk.key, sizeof(lk.key));
    it_certs_path(c, "bbs-locket-client.pem", lk.client, sizeof(lk.client));
    it_certs_path(c, "bbs-locket-client.key", lk.client_key, sizeof(lk.client_key));
    it_certs_path(c, "untrusted-client.pem", lk.untrusted, sizeof(lk.untrusted));
    it_certs_path(c, "untrusted-client.key", lk.untrusted_key, sizeof(lk.untrusted_key));
    if (it_certs_make_ca(c, "locket-ca") != 0 || it_certs_make_ca(c, "other-ca") != 0 ||
        it_certs_make_key(c, "locket.key") != 0 ||
        it_certs_make_key(c, "bbs-locket-client.key") != 0 ||
        it_certs_make_key(c, "untrusted-client.key") != 0 ||
        it_certs_issue(c, "locket", "locket.key", "locket-ca", "server", NULL) != 0 ||
        it_certs_issue(c, "bbs-locket-client", "bbs-locket-client.key", "locket-ca", "client",
                       NULL) != 0 ||
        it_certs_issue(c, "untrusted-client", "untrusted-client.key", "other-ca", "client", NULL) !=
            0) {
        return -1;
    }
    return 0;
}

/* One line from the stand-in (without its newline), waiting up to `ms`; NULL on EOF/timeout. */
static json_t *locket_read(int ms)
{
    for (;;) {
        char *nl = memchr(lk.line, '\n', lk.have);
        struct pollfd p = {lk.from, POLLIN, 0};
        ssize_t n;

        if (nl != NULL) {
            json_error_t jerr;
            size_t len = (size_t)(nl - lk.line);
            json_t *j = json_loadb(lk.line, len, 0, &jerr);

            if (j == NULL) {
                fprintf(stderr, "locket stand-in: unreadable answer: %.*s\n", (int)len, lk.line);
            }
            memmove(lk.line, nl + 1, lk.have - len - 1);
            lk.have -= len + 1;
            return j;
        }
        if (lk.have == sizeof(lk.line)) {
            fprintf(stderr, "locket stand-in: answer too long\n");
            return NULL;
        }
        if (poll(&p, 1, ms) <= 0) {
            fprintf(stderr, "locket stand-in: no answer within %d ms\n", ms);
            return NULL;
        }
        n = read(lk.from, lk.line + lk.have, sizeof(lk.line) - lk.have);
        if (n <= 0) {
            fprintf(stderr, "locket stand-in: exited (read: %s)\n",
                    n < 0 ? strerror(errno) : "EOF");
            return NULL;
        }
        lk.have += (size_t)n;
    }
}

/* Send `cmd` (stolen), read the answer; the answer (new reference) when ok, else NULL. */
static json_t *locket_cmd(json_t *cmd)
{
    char *text = json_dumps(cmd, JSON_COMPACT);
    json_t *answer = NULL;

    json_decref(cmd);
    if (lk.to == NULL || text == NULL) {
        fprintf(stderr, "locket stand-in: not running\n");
        free(text);
        return NULL;
    }
    if (fprintf(lk.to, "%s\n", text) < 0 || fflush(lk.to) != 0) {
        fprintf(stderr, "locket stand-in: cannot send %s\n", text);
        free(text);
        return NULL;
    }
    answer = locket_read(LOCKET_REPLY_MS);
    if (answer != NULL && !json_is_true(json_object_get(answer, "ok"))) {
        fprintf(stderr, "locket stand-in: %s failed: %s\n", text,
                json_string_value(json_object_get(answer, "error")));
        json_decref(answer);
        answer = NULL;
    }
    free(text);
    return answer;
}

static int locket_do(json_t *cmd)
{
    json_t *answer = locket_cmd(cmd);

    json_decref(answer);
    return answer != NULL ? 0 : -1;
}

int it_locket_start(void)
{
    int in[2] = {-1, -1};
    int out[2] = {-1, -1};
    json_t *ready = NULL;
    int rc = -1;

    if (locket_certs() != 0) {
        goto out;
    }
    if (pipe(in) != 0 || pipe(out) != 0) {
        fprintf(stderr, "locket stand-in: pipe: %s\n", strerror(errno));
        goto out;
    }
    lk.pid = fork();
    if (lk.pid < 0) {
        fprintf(stderr, "locket stand-in: fork: %s\n", strerror(errno));
        goto out;
    }
    if (lk.pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        /* Only stdio: a pipe of the harness held open here would hide an exit from it. */
        for (int fd = 3; fd < 1024; fd++) {
            close(fd);
        }
        /* Debian's python3 (python3-grpcio lives in its dist-packages), not one in PATH. */
        execl("/usr/bin/python3", "python3", BBS_IT_SUPPORT_DIR "/locket_standin.py", "--proto-dir",
              BBS_PROTO_DIR, "--ca", lk.ca, "--cert", lk.cert, "--key", lk.key, (char *)NULL);
        fprintf(stderr, "locket stand-in: exec /usr/bin/python3: %s\n", strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    in[0] = out[1] = -1;
    lk.to = fdopen(in[1], "w");
    in[1] = -1;
    lk.from = out[0];
    out[0] = -1;
    ready = locket_read(LOCKET_REPLY_MS);
    if (ready == NULL || !json_is_integer(json_object_get(ready, "port"))) {
        fprintf(stderr, "locket stand-in: did not start\n");
        goto out;
    }
    snprintf(lk.address, sizeof(lk.address), "127.0.0.1:%d",
             (int)json_integer_value(json_object_get(ready, "port")));
    rc = 0;
out:
    json_decref(ready);
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0) {
            close(in[i]);
        }
        if (out[i] >= 0) {
            close(out[i]);
        }
    }
    if (rc != 0) {
        it_locket_stop();
    }
    return rc;
}

void it_locket_stop(void)
{
    if (lk.to != NULL && lk.pid > 0) {
        json_decref(locket_cmd(json_pack("{s:s}", "op", "quit")));
    }
    if (lk.to != NULL) {
        fclose(lk.to);
        lk.to = NULL;
    }
    if (lk.pid > 0) {
        int status;

        /* It quits on the command or on EOF; a stuck one is killed after 5 s. */
        for (int i = 0; i < 50 && waitpid(lk.pid, &status, WNOHANG) == 0; i++) {
            it_sleep_ms(100);
            if (i == 49) {
                kill(lk.pid, SIGKILL);
                waitpid(lk.pid, &status, 0);
            }
        }
        lk.pid = 0;
    }
    if (lk.from >= 0) {
        close(lk.from);
        lk.from = -1;
    }
    lk.have = 0;
    lk.address[0] = '\0';
    it_certs_remove(&lk.certs);
}

const char *it_locket_address(void)
{
    return lk.address;
}

json_t *it_locket_server_config(void)
{
    /* uuid: the owner of Locket's lock "bbs", required with locket_address (leadership). */
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "locket_address", lk.address,
                     "locket_ca_cert_file", lk.ca, "locket_client_cert_file", lk.client,
                     "locket_client_key_file", lk.client_key, "uuid", "bbs-it-uuid");
}

const char *it_locket_cert_path(const char *which)
{
    static const struct {
        const char *name;
        const char *path;
    } paths[] = {{"ca", lk.ca},
                 {"client", lk.client},
                 {"client_key", lk.client_key},
                 {"untrusted", lk.untrusted},
                 {"untrusted_key", lk.untrusted_key}};

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (strcmp(paths[i].name, which) == 0) {
            return paths[i].path;
        }
    }
    return NULL;
}

int it_locket_set_presence(const char *key, const char *value, int ttl_s)
{
    char owner[300];

    snprintf(owner, sizeof(owner), "rep-%s", key);
    return locket_do(json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "op", "set", "key", key, "owner",
                               owner, "value", value, "type_code", 2, "ttl", ttl_s));
}

json_t *it_locket_cell_json(const char *cell_id, const char *zone, json_t *extra)
{
    char rep_address[300];
    char rep_url[300];
    json_t *p;

    snprintf(rep_address, sizeof(rep_address), "http://%s.example:1800", cell_id);
    snprintf(rep_url, sizeof(rep_url), "https://%s.example:1801", cell_id);
    p = json_pack("{s:s, s:s, s:s, s:{s:i, s:i, s:i}, s:[{s:s, s:[s]}, {s:s}], s:s, s:{}}",
                  "cell_id", cell_id, "rep_address", rep_address, "zone", zone, "capacity",
                  "memory_mb", 1024, "disk_mb", 2048, "containers", 10, "rootfs_provider_list",
                  "name", "preloaded", "properties", "cflinuxfs4", "name", "docker", "rep_url",
                  rep_url, "annotations");
    if (p != NULL && extra != NULL) {
        json_object_update(p, extra);
    }
    return p;
}

int it_locket_register_cell(const char *cell_id, const char *zone, json_t *extra)
{
    json_t *p = it_locket_cell_json(cell_id, zone, extra);
    char *value = p != NULL ? json_dumps(p, JSON_COMPACT) : NULL;
    int rc = -1;

    if (value != NULL) {
        rc = it_locket_set_presence(cell_id, value, 0);
    }
    free(value);
    json_decref(p);
    return rc;
}

int it_locket_remove(const char *key)
{
    return locket_do(json_pack("{s:s, s:s}", "op", "del", "key", key));
}

int it_locket_fail(const char *code, const char *message)
{
    return locket_do(json_pack("{s:s, s:s, s:s}", "op", "fail", "code", code ? code : "OK",
                               "message", message ? message : ""));
}

int it_locket_down(void)
{
    return locket_do(json_pack("{s:s}", "op", "down"));
}

int it_locket_up(void)
{
    return locket_do(json_pack("{s:s}", "op", "up"));
}

long it_locket_calls(const char *method)
{
    json_t *answer = locket_cmd(json_pack("{s:s}", "op", "calls"));
    long n = -1;

    if (answer != NULL) {
        json_t *v = json_object_get(json_object_get(answer, "calls"), method);

        n = json_is_integer(v) ? (long)json_integer_value(v) : 0;
        json_decref(answer);
    }
    return n;
}

int it_locket_owner(const char *key, char *out, size_t len)
{
    json_t *answer = locket_cmd(json_pack("{s:s, s:s}", "op", "get", "key", key));
    int rc = -1;

    if (answer != NULL) {
        const char *o = json_string_value(json_object_get(answer, "owner"));

        snprintf(out, len, "%s", o != NULL ? o : "");
        rc = 0;
        json_decref(answer);
    }
    return rc;
}

int it_locket_set_lock(const char *key, const char *owner, int ttl_s)
{
    return locket_do(json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "op", "set", "key", key, "owner",
                               owner, "value", "", "type_code", 1, "ttl", ttl_s));
}
