/*
 * ingress.c - see ingress.h: spawns tests/support/ingress_standin.py with
 * pipes on its stdin and stdout and exchanges one JSON line per command
 * (the same scheme as the Locket stand-in, support/locket.c).
 */
#include "support/ingress.h"

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

#define INGRESS_REPLY_MS 20000     /* python start-up and protoc included */
#define INGRESS_LINE_MAX (8 << 20) /* every envelope of a test in one answer */

static struct {
    pid_t pid;
    FILE *to;
    int from;
    char *line;
    size_t have;
    int port;
    struct it_certs certs;
    char ca[300], cert[300], key[300], client[300], client_key[300], untrusted[300],
        untrusted_key[300];
} ig = {.from = -1};

static int ingress_certs(void)
{
    struct it_certs *c = &ig.certs;

    if (it_certs_init(c, "bbs-it-ingress") != 0) {
        return -1;
    }
    it_certs_path(c, "metron-ca.pem", ig.ca, sizeof(ig.ca));
    it_certs_path(c, "metron.pem", ig.cert, sizeof(ig.cert));
    it_certs_path(c, "metron.key", ig.key, sizeof(ig.key));
    it_certs_path(c, "bbs-metron-client.pem", ig.client, sizeof(ig.client));
    it_certs_path(c, "bbs-metron-client.key", ig.client_key, sizeof(ig.client_key));
    it_certs_path(c, "untrusted-client.pem", ig.untrusted, sizeof(ig.untrusted));
    it_certs_path(c, "untrusted-client.key", ig.untrusted_key, sizeof(ig.untrusted_key));
    if (it_certs_make_ca(c, "metron-ca") != 0 || it_certs_make_ca(c, "other-ca") != 0 ||
        it_certs_make_key(c, "metron.key") != 0 ||
        it_certs_make_key(c, "bbs-metron-client.key") != 0 ||
        it_certs_make_key(c, "untrusted-client.key") != 0 ||
        it_certs_issue(c, "metron", "metron.key", "metron-ca", "metron", NULL) != 0 ||
        it_certs_issue(c, "bbs-metron-client", "bbs-metron-client.key", "metron-ca", "client",
                       NULL) != 0 ||
        it_certs_issue(c, "untrusted-client", "untrusted-client.key", "other-ca", "client", NULL) !=
            0) {
        return -1;
    }
    return 0;
}

static json_t *ingress_read(int ms)
{
    for (;;) {
        char *nl = memchr(ig.line, '\n', ig.have);
        struct pollfd p = {ig.from, POLLIN, 0};
        ssize_t n;

        if (nl != NULL) {
            json_error_t jerr;
            size_t len = (size_t)(nl - ig.line);
            json_t *j = json_loadb(ig.line, len, 0, &jerr);

            if (j == NULL) {
                fprintf(stderr, "ingress stand-in: unreadable answer: %.*s\n", (int)len, ig.line);
            }
            memmove(ig.line, nl + 1, ig.have - len - 1);
            ig.have -= len + 1;
            return j;
        }
        if (ig.have == INGRESS_LINE_MAX) {
            fprintf(stderr, "ingress stand-in: answer too long\n");
            return NULL;
        }
        if (poll(&p, 1, ms) <= 0) {
            fprintf(stderr, "ingress stand-in: no answer within %d ms\n", ms);
            return NULL;
        }
        n = read(ig.from, ig.line + ig.have, INGRESS_LINE_MAX - ig.have);
        if (n <= 0) {
            fprintf(stderr, "ingress stand-in: exited (read: %s)\n",
                    n < 0 ? strerror(errno) : "EOF");
            return NULL;
        }
        ig.have += (size_t)n;
    }
}

static json_t *ingress_cmd(json_t *cmd)
{
    char *text = json_dumps(cmd, JSON_COMPACT);
    json_t *answer = NULL;

    json_decref(cmd);
    if (ig.to == NULL || text == NULL) {
        fprintf(stderr, "ingress stand-in: not running\n");
        free(text);
        return NULL;
    }
    if (fprintf(ig.to, "%s\n", text) < 0 || fflush(ig.to) != 0) {
        fprintf(stderr, "ingress stand-in: cannot send %s\n", text);
        free(text);
        return NULL;
    }
    answer = ingress_read(INGRESS_REPLY_MS);
    if (answer != NULL && !json_is_true(json_object_get(answer, "ok"))) {
        fprintf(stderr, "ingress stand-in: %s failed: %s\n", text,
                json_string_value(json_object_get(answer, "error")));
        json_decref(answer);
        answer = NULL;
    }
    free(text);
    return answer;
}

int it_ingress_start(void)
{
    int in[2] = {-1, -1};
    int out[2] = {-1, -1};
    json_t *ready = NULL;
    int rc = -1;

    ig.line = malloc(INGRESS_LINE_MAX);
    if (ig.line == NULL || ingress_certs() != 0) {
        goto out;
    }
    if (pipe(in) != 0 || pipe(out) != 0) {
        fprintf(stderr, "ingress stand-in: pipe: %s\n", strerror(errno));
        goto out;
    }
    ig.pid = fork();
    if (ig.pid < 0) {
        fprintf(stderr, "ingress stand-in: fork: %s\n", strerror(errno));
        goto out;
    }
    if (ig.pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        for (int fd = 3; fd < 1024; fd++) {
            close(fd);
        }
        execl("/usr/bin/python3", "python3", BBS_IT_SUPPORT_DIR "/ingress_standin.py",
              "--proto-dir", BBS_PROTO_DIR, "--ca", ig.ca, "--cert", ig.cert, "--key", ig.key,
              (char *)NULL);
        fprintf(stderr, "ingress stand-in: exec /usr/bin/python3: %s\n", strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    in[0] = out[1] = -1;
    ig.to = fdopen(in[1], "w");
    in[1] = -1;
    ig.from = out[0];
    out[0] = -1;
    ready = ingress_read(INGRESS_REPLY_MS);
    if (ready == NULL || !json_is_integer(json_object_get(ready, "port"))) {
        fprintf(stderr, "ingress stand-in: did not start\n");
        goto out;
    }
    ig.port = (int)json_integer_value(json_object_get(ready, "port"));
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
        it_ingress_stop();
    }
    return rc;
}

void it_ingress_stop(void)
{
    if (ig.to != NULL && ig.pid > 0) {
        json_decref(ingress_cmd(json_pack("{s:s}", "op", "quit")));
    }
    if (ig.to != NULL) {
        fclose(ig.to);
        ig.to = NULL;
    }
    if (ig.pid > 0) {
        int status;

        for (int i = 0; i < 50 && waitpid(ig.pid, &status, WNOHANG) == 0; i++) {
            it_sleep_ms(100);
            if (i == 49) {
                kill(ig.pid, SIGKILL);
                waitpid(ig.pid, &status, 0);
            }
        }
        ig.pid = 0;
    }
    if (ig.from >= 0) {
        close(ig.from);
        ig.from = -1;
    }
    free(ig.line);
    ig.line = NULL;
    ig.have = 0;
    ig.port = 0;
    it_certs_remove(&ig.certs);
}

int it_ingress_port(void)
{
    return ig.port;
}

json_t *it_ingress_server_config(int untrusted)
{
    /* The server dials the agent at start-up within loggregator_dial_timeout (upstream's 1 s);
     * under valgrind a TLS handshake alone can take longer. (BBS_VALGRIND is read here: this
     * config is made before the first it_server_start, which sets it_valgrind().) */
    const char *vg = getenv("BBS_VALGRIND");
    int valgrind = vg != NULL && strcmp(vg, "1") == 0;

    return json_pack("{s:{s:b, s:i, s:s, s:s, s:s, s:s}}", "loggregator", "loggregator_use_v2_api",
                     1, "loggregator_api_port", ig.port, "loggregator_ca_path", ig.ca,
                     "loggregator_cert_path", untrusted ? ig.untrusted : ig.client,
                     "loggregator_key_path", untrusted ? ig.untrusted_key : ig.client_key,
                     "loggregator_dial_timeout", valgrind ? "30s" : "1s");
}

json_t *it_ingress_envelopes(void)
{
    json_t *answer = ingress_cmd(json_pack("{s:s}", "op", "envelopes"));
    json_t *list = NULL;

    if (answer != NULL) {
        list = json_incref(json_object_get(answer, "envelopes"));
        json_decref(answer);
    }
    return list;
}

long it_ingress_streams(void)
{
    json_t *answer = ingress_cmd(json_pack("{s:s}", "op", "streams"));
    long n = -1;

    if (answer != NULL) {
        n = (long)json_integer_value(json_object_get(answer, "streams"));
        json_decref(answer);
    }
    return n;
}

unsigned long long it_ingress_counter_sum(json_t *envelopes, const char *name)
{
    unsigned long long sum = 0;
    size_t i;
    json_t *e;

    json_array_foreach(envelopes, i, e)
    {
        json_t *c = json_object_get(e, "counter");

        if (c != NULL && strcmp(json_string_value(json_object_get(c, "name")), name) == 0) {
            sum += (unsigned long long)json_integer_value(json_object_get(c, "delta"));
        }
    }
    return sum;
}

json_t *it_ingress_last_gauge(json_t *envelopes, const char *name)
{
    json_t *last = NULL;
    size_t i;
    json_t *e;

    json_array_foreach(envelopes, i, e)
    {
        if (json_object_get(json_object_get(e, "gauge"), name) != NULL) {
            last = e;
        }
    }
    return last;
}

int it_ingress_gauge_count(json_t *envelopes, const char *name, double *last)
{
    int n = 0;
    size_t i;
    json_t *e;

    json_array_foreach(envelopes, i, e)
    {
        json_t *g = json_object_get(json_object_get(e, "gauge"), name);

        if (g != NULL) {
            n++;
            if (last != NULL) {
                *last = json_number_value(json_object_get(g, "value"));
            }
        }
    }
    return n;
}
