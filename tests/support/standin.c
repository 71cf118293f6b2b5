/*
 * standin.c - see standin.h: the Python stand-ins' process, pipes and
 * certificates.
 */
#include "support/standin.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/util.h"

#ifndef BBS_IT_SUPPORT_DIR
#error "BBS_IT_SUPPORT_DIR must name tests/support (set by tests/CMakeLists.txt)"
#endif
#ifndef BBS_PROTO_DIR
#error "BBS_PROTO_DIR must name proto/ (set by tests/CMakeLists.txt)"
#endif

#define STANDIN_REPLY_MS 20000 /* python start-up and protoc included */

int it_standin_certs(struct it_standin *s, const char *svc, const char *ext)
{
    struct it_certs *c = &s->certs;
    char prefix[64], ca[64], srv[64], srv_key[64], client[64], client_key[64], f[80];

    snprintf(prefix, sizeof(prefix), "bbs-it-%s", svc);
    snprintf(ca, sizeof(ca), "%s-ca", svc);
    snprintf(srv, sizeof(srv), "%s", svc);
    snprintf(srv_key, sizeof(srv_key), "%s.key", svc);
    snprintf(client, sizeof(client), "bbs-%s-client", svc);
    snprintf(client_key, sizeof(client_key), "bbs-%s-client.key", svc);
    if (it_certs_init(c, prefix) != 0) {
        return -1;
    }
    snprintf(f, sizeof(f), "%s.pem", ca);
    it_certs_path(c, f, s->ca, sizeof(s->ca));
    snprintf(f, sizeof(f), "%s.pem", srv);
    it_certs_path(c, f, s->cert, sizeof(s->cert));
    it_certs_path(c, srv_key, s->key, sizeof(s->key));
    snprintf(f, sizeof(f), "%s.pem", client);
    it_certs_path(c, f, s->client, sizeof(s->client));
    it_certs_path(c, client_key, s->client_key, sizeof(s->client_key));
    it_certs_path(c, "untrusted-client.pem", s->untrusted, sizeof(s->untrusted));
    it_certs_path(c, "untrusted-client.key", s->untrusted_key, sizeof(s->untrusted_key));
    if (it_certs_make_ca(c, ca) != 0 || it_certs_make_ca(c, "other-ca") != 0 ||
        it_certs_make_key(c, srv_key) != 0 || it_certs_make_key(c, client_key) != 0 ||
        it_certs_make_key(c, "untrusted-client.key") != 0 ||
        it_certs_issue(c, srv, srv_key, ca, ext, NULL) != 0 ||
        it_certs_issue(c, client, client_key, ca, "client", NULL) != 0 ||
        it_certs_issue(c, "untrusted-client", "untrusted-client.key", "other-ca", "client", NULL) !=
            0) {
        return -1;
    }
    return 0;
}

/* One line from the stand-in (without its newline), waiting up to `ms`; NULL on EOF/timeout. */
static json_t *standin_read(struct it_standin *s, int ms)
{
    for (;;) {
        char *nl = memchr(s->line, '\n', s->have);
        struct pollfd p = {s->from, POLLIN, 0};
        ssize_t n;

        if (nl != NULL) {
            json_error_t jerr;
            size_t len = (size_t)(nl - s->line);
            json_t *j = json_loadb(s->line, len, 0, &jerr);

            if (j == NULL) {
                fprintf(stderr, "%s: unreadable answer: %.*s\n", s->name, (int)len, s->line);
            }
            memmove(s->line, nl + 1, s->have - len - 1);
            s->have -= len + 1;
            return j;
        }
        if (s->have == s->cap) {
            fprintf(stderr, "%s: answer too long\n", s->name);
            return NULL;
        }
        if (poll(&p, 1, ms) <= 0) {
            fprintf(stderr, "%s: no answer within %d ms\n", s->name, ms);
            return NULL;
        }
        n = read(s->from, s->line + s->have, s->cap - s->have);
        if (n <= 0) {
            fprintf(stderr, "%s: exited (read: %s)\n", s->name, n < 0 ? strerror(errno) : "EOF");
            return NULL;
        }
        s->have += (size_t)n;
    }
}

json_t *it_standin_cmd(struct it_standin *s, json_t *cmd)
{
    char *text = json_dumps(cmd, JSON_COMPACT);
    json_t *answer = NULL;

    json_decref(cmd);
    if (s->to == NULL || text == NULL) {
        fprintf(stderr, "%s: not running\n", s->name);
        free(text);
        return NULL;
    }
    if (fprintf(s->to, "%s\n", text) < 0 || fflush(s->to) != 0) {
        fprintf(stderr, "%s: cannot send %s\n", s->name, text);
        free(text);
        return NULL;
    }
    answer = standin_read(s, STANDIN_REPLY_MS);
    if (answer != NULL && !json_is_true(json_object_get(answer, "ok"))) {
        fprintf(stderr, "%s: %s failed: %s\n", s->name, text,
                json_string_value(json_object_get(answer, "error")));
        json_decref(answer);
        answer = NULL;
    }
    free(text);
    return answer;
}

int it_standin_start(struct it_standin *s, const char *script, size_t line_max, int *port)
{
    int in[2] = {-1, -1};
    int out[2] = {-1, -1};
    char script_path[512];
    json_t *ready = NULL;
    int rc = -1;

    snprintf(script_path, sizeof(script_path), "%s/%s", BBS_IT_SUPPORT_DIR, script);
    s->line = malloc(line_max);
    s->cap = line_max;
    s->have = 0;
    if (s->line == NULL) {
        goto out;
    }
    if (pipe(in) != 0 || pipe(out) != 0) {
        fprintf(stderr, "%s: pipe: %s\n", s->name, strerror(errno));
        goto out;
    }
    s->pid = fork();
    if (s->pid < 0) {
        fprintf(stderr, "%s: fork: %s\n", s->name, strerror(errno));
        goto out;
    }
    if (s->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        /* Only stdio: a pipe of the harness held open here would hide an exit from it. */
        for (int fd = 3; fd < 1024; fd++) {
            close(fd);
        }
        /* Debian's python3 (python3-grpcio lives in its dist-packages), not one in PATH. */
        /* -B: the shared standin_common.py leaves no __pycache__ in the source tree. */
        execl("/usr/bin/python3", "python3", "-B", script_path, "--proto-dir", BBS_PROTO_DIR,
              "--ca", s->ca, "--cert", s->cert, "--key", s->key, (char *)NULL);
        fprintf(stderr, "%s: exec /usr/bin/python3: %s\n", s->name, strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    in[0] = out[1] = -1;
    s->to = fdopen(in[1], "w");
    in[1] = -1;
    s->from = out[0];
    out[0] = -1;
    ready = standin_read(s, STANDIN_REPLY_MS);
    if (ready == NULL || !json_is_integer(json_object_get(ready, "port"))) {
        fprintf(stderr, "%s: did not start\n", s->name);
        goto out;
    }
    *port = (int)json_integer_value(json_object_get(ready, "port"));
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
        it_standin_stop(s);
    }
    return rc;
}

void it_standin_stop(struct it_standin *s)
{
    if (s->to != NULL && s->pid > 0) {
        json_decref(it_standin_cmd(s, json_pack("{s:s}", "op", "quit")));
    }
    if (s->to != NULL) {
        fclose(s->to);
        s->to = NULL;
    }
    if (s->pid > 0) {
        int status;

        /* It quits on the command or on EOF; a stuck one is killed after 5 s. */
        for (int i = 0; i < 50 && waitpid(s->pid, &status, WNOHANG) == 0; i++) {
            it_sleep_ms(100);
            if (i == 49) {
                kill(s->pid, SIGKILL);
                waitpid(s->pid, &status, 0);
            }
        }
        s->pid = 0;
    }
    if (s->from >= 0) {
        close(s->from);
        s->from = -1;
    }
    free(s->line);
    s->line = NULL;
    s->cap = 0;
    s->have = 0;
    it_certs_remove(&s->certs);
}
