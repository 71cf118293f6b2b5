/*
 * test_bbsctl.c - bbsctl, the cfdot-compatible CLI, run as a process
 * against the real server over mutual TLS.
 *
 * Every command is run; the output of actual-lrps and desired-lrps is
 * compared with the fixtures in tests/fixtures/bbsctl/ (cfdot's lines,
 * written from upstream's Go models); flags against environment
 * variables; TLS refusals; errors (stderr, cfdot's exit statuses: 3
 * validation, 4 BBS error, 5 other, 255 unknown flag); the event
 * commands; `status` against a stand-in diagnostics endpoint (the real
 * one is another branch's).
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "task_requests.pb-c.h"

#define DOMAIN       "bbsctl-domain"
#define FIXTURE_GUID "bbsctl-fixture"

static struct it_tls_set tls;
static char url[128];

/* ---- running bbsctl ---------------------------------------------------------------------- */

struct run {
    int status; /* exit status; -1 killed */
    char *out;
    char *err;
};

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof(*r));
}

static const char *binary(void)
{
    const char *b = getenv("BBSCTL_BINARY");
    assert_non_null(b);
    return b;
}

/* Child: clear the variables bbsctl reads, set `env`, exec bbsctl with `args`. */
static void child_exec(int out_fd, int err_fd, const char *const *env, const char *const *args)
{
    static const char *const vars[] = {"BBS_URL",         "CA_CERT_FILE",     "CLIENT_CERT_FILE",
                                       "CLIENT_KEY_FILE", "SKIP_CERT_VERIFY", "CFDOT_TIMEOUT"};
    const char *argv[64];
    int n = 0;

    dup2(out_fd, 1);
    dup2(err_fd, 2);
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        unsetenv(vars[i]);
    }
    for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
        const char *eq = strchr(env[i], '=');
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)(eq - env[i]), env[i]);
        setenv(name, eq + 1, 1);
    }
    argv[n++] = binary();
    for (size_t i = 0; args[i] != NULL && n < 63; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    execv(argv[0], (char *const *)argv);
    _exit(127);
}

static pid_t spawn(const char *const *env, const char *const *args, int *out_fd, int *err_fd)
{
    int po[2], pe[2];
    pid_t pid;

    assert_int_equal(pipe(po), 0);
    assert_int_equal(pipe(pe), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(po[0]);
        close(pe[0]);
        child_exec(po[1], pe[1], env, args);
    }
    close(po[1]);
    close(pe[1]);
    *out_fd = po[0];
    *err_fd = pe[0];
    return pid;
}

static void append(char **buf, size_t *len, const char *p, size_t n)
{
    char *nb = realloc(*buf, *len + n + 1);
    assert_non_null(nb);
    memcpy(nb + *len, p, n);
    *len += n;
    nb[*len] = '\0';
    *buf = nb;
}

/* Run bbsctl with exactly `args` and `env`; waits for it (killed after 120 s). */
static void run_raw(struct run *r, const char *const *env, const char *const *args)
{
    int fds[2];
    size_t lens[2] = {0, 0};
    char *bufs[2] = {NULL, NULL};
    int open_n = 2, st = 0;
    int64_t deadline = it_mono_ms() + 120000;
    pid_t pid = spawn(env, args, &fds[0], &fds[1]);

    while (open_n > 0 && it_mono_ms() < deadline) {
        struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
        if (poll(p, 2, 500) < 0 && errno != EINTR) {
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i] >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                char chunk[4096];
                ssize_t k = read(fds[i], chunk, sizeof(chunk));
                if (k <= 0) {
                    close(fds[i]);
                    fds[i] = -1;
                    open_n--;
                } else {
                    append(&bufs[i], &lens[i], chunk, (size_t)k);
                }
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
        if (bufs[i] == NULL) {
            append(&bufs[i], &lens[i], "", 0);
        }
    }
    if (open_n > 0) {
        kill(pid, SIGKILL);
    }
    waitpid(pid, &st, 0);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r->out = bufs[0];
    r->err = bufs[1];
}

/* Run `bbsctl CMD ARGS... --bbsURL .. --caCertFile .. --clientCertFile .. --clientKeyFile ..`. */
static void ctl_v(struct run *r, const char *const *args)
{
    const char *all[64];
    int n = 0;

    for (size_t i = 0; args[i] != NULL && n < 54; i++) {
        all[n++] = args[i];
    }
    all[n++] = "--bbsURL";
    all[n++] = url;
    all[n++] = "--caCertFile";
    all[n++] = tls.ca;
    all[n++] = "--clientCertFile";
    all[n++] = tls.client;
    all[n++] = "--clientKeyFile";
    all[n++] = tls.client_key;
    all[n] = NULL;
    run_raw(r, NULL, all);
}

#define CTL(r, ...)      ctl_v((r), (const char *const[]){__VA_ARGS__, NULL})
#define RAW(r, env, ...) run_raw((r), (env), (const char *const[]){__VA_ARGS__, NULL})

/* Print what bbsctl said when an expectation fails. */
static void expect_status(const struct run *r, int want)
{
    if (r->status != want) {
        fprintf(stderr, "bbsctl exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\n", r->status, want,
                r->out, r->err);
    }
    assert_int_equal(r->status, want);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        n += *s == '\n';
    }
    return n;
}

/* Line `i` of `s` parsed as JSON (asserts it is one JSON value). */
static json_t *json_line(const char *s, size_t i)
{
    json_error_t e;
    for (size_t k = 0; k < i; k++) {
        s = strchr(s, '\n');
        assert_non_null(s);
        s++;
    }
    const char *end = strchr(s, '\n');
    assert_non_null(end);
    json_t *j = json_loadb(s, (size_t)(end - s), 0, &e);
    if (j == NULL) {
        fprintf(stderr, "not JSON (%s): %.*s\n", e.text, (int)(end - s), s);
    }
    assert_non_null(j);
    return j;
}

static json_t *fixture(const char *name)
{
    const char *dir = getenv("BBS_FIXTURES_DIR");
    char path[512];
    json_error_t e;

    assert_non_null(dir);
    snprintf(path, sizeof(path), "%s/bbsctl/%s", dir, name);
    json_t *j = json_load_file(path, 0, &e);
    if (j == NULL) {
        fprintf(stderr, "%s: %s\n", path, e.text);
    }
    assert_non_null(j);
    return j;
}

static void fixture_path(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/bbsctl/%s", getenv("BBS_FIXTURES_DIR"), name);
}

/* Equal as JSON values (key order aside); prints both when not. */
static void assert_json_equal(json_t *want, json_t *got)
{
    if (!json_equal(want, got)) {
        char *a = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
        char *b = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
        fprintf(stderr, "want: %s\ngot:  %s\n", a, b);
        free(a);
        free(b);
    }
    assert_true(json_equal(want, got));
}

/* ---- help and usage ---------------------------------------------------------------------- */

static const char *const commands[] = {
    "actual-lrps",
    "cancel-task",
    "cell",
    "cells",
    "create-desired-lrp",
    "create-task",
    "delete-desired-lrp",
    "delete-task",
    "desired-lrp",
    "desired-lrp-scheduling-infos",
    "desired-lrps",
    "domains",
    "lrp-events",
    "retire-actual-lrp",
    "set-domain",
    "status",
    "task",
    "task-events",
    "tasks",
    "update-desired-lrp",
};

static void test_help_for_every_command(void **state)
{
    struct run r;
    (void)state;

    RAW(&r, NULL, "--help");
    expect_status(&r, 0);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        char want[128];
        snprintf(want, sizeof(want), "  %s ", commands[i]);
        assert_non_null(strstr(r.out, want));
    }
    run_free(&r);

    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        char want[128];
        RAW(&r, NULL, commands[i], "--help");
        expect_status(&r, 0);
        snprintf(want, sizeof(want), "Usage:\n  bbsctl %s", commands[i]);
        assert_non_null(strstr(r.out, want));
        assert_non_null(strstr(r.out, "  -h, --help "));
        assert_non_null(strstr(r.out, "--bbsURL string"));
        assert_string_equal(r.err, "");
        run_free(&r);
    }
    /* `bbsctl help CMD` is `bbsctl CMD --help`; an unknown one exits 2 with the usage */
    RAW(&r, NULL, "help", "cells");
    expect_status(&r, 0);
    assert_non_null(strstr(r.out, "Usage:\n  bbsctl cells"));
    run_free(&r);
    RAW(&r, NULL, "help", "no-such-command");
    expect_status(&r, 2);
    assert_non_null(strstr(r.err, "unknown command \"no-such-command\""));
    run_free(&r);
    /* -h too, and the timeout flag only where cfdot has it */
    RAW(&r, NULL, "actual-lrps", "-h");
    expect_status(&r, 0);
    assert_non_null(strstr(r.out, "-i, --index int32"));
    assert_non_null(strstr(r.out, "--timeout int"));
    run_free(&r);
    RAW(&r, NULL, "lrp-events", "-h");
    assert_null(strstr(r.out, "--timeout"));
    assert_non_null(strstr(r.out, "-x, --exclude-actual-lrp-groups"));
    run_free(&r);

    RAW(&r, NULL, "no-such-command");
    assert_int_not_equal(r.status, 0);
    assert_non_null(strstr(r.err, "unknown command \"no-such-command\""));
    run_free(&r);
}

static void test_flag_errors(void **state)
{
    struct run r;
    (void)state;

    CTL(&r, "actual-lrps", "--bogus");
    expect_status(&r, 255);
    assert_true(strncmp(r.err, "Error: unknown flag: --bogus\nUsage:\n  bbsctl actual-lrps", 55) ==
                0);
    assert_string_equal(r.out, "");
    run_free(&r);

    CTL(&r, "actual-lrps", "-i", "abc");
    expect_status(&r, 3);
    assert_non_null(strstr(r.err, "Error: invalid argument \"abc\" for \"-i, --index\" flag: "
                                  "strconv.ParseInt: parsing \"abc\": invalid syntax\n"));
    run_free(&r);

    CTL(&r, "actual-lrps", "-d");
    /* "-d" takes the next word as its value: here "--bbsURL", leaving the URL positional */
    assert_int_not_equal(r.status, 0);
    run_free(&r);

    CTL(&r, "desired-lrps", "-d", "a", "--domain", "b");
    expect_status(&r, 3);
    assert_non_null(strstr(r.err, "Error: Only one of -d and --domain should be passed\n"));
    run_free(&r);

    CTL(&r, "tasks", "-c", "a", "--cell-id", "b");
    expect_status(&r, 3);
    assert_non_null(strstr(r.err, "Error: Only one of -c and --cell-id should be passed\n"));
    run_free(&r);

    CTL(&r, "domains", "extra");
    expect_status(&r, 3);
    assert_non_null(strstr(r.err, "Error: Too many arguments specified\n"));
    run_free(&r);

    CTL(&r, "desired-lrp");
    expect_status(&r, 3);
    assert_non_null(strstr(r.err, "Error: Missing arguments\n"));
    run_free(&r);

    CTL(&r, "desired-lrp", "");
    expect_status(&r, 3);
    assert_non_null(strstr(r.err, "Error: Process guid should be non empty string\n"));
    run_free(&r);

    CTL(&r, "retire-actual-lrp", "g", "-1x");
    expect_status(&r, 255); /* "-1x": an unknown shorthand, as pflag reads it */
    run_free(&r);

    CTL(&r, "retire-actual-lrp", "g", "x");
    expect_status(&r, 3);
    assert_non_null(strstr(r.err, "Error: Index must be a non-negative integer\n"));
    run_free(&r);

    CTL(&r, "create-desired-lrp");
    expect_status(&r, 3);
    assert_non_null(strstr(r.err, "Error: missing spec argument\n"));
    run_free(&r);

    CTL(&r, "create-desired-lrp", "{\"process_guid\": ");
    expect_status(&r, 3);
    assert_non_null(strstr(r.err, "Error: Invalid JSON: "));
    run_free(&r);

    CTL(&r, "create-task", "@/nonexistent/spec.json");
    expect_status(&r, 3);
    assert_non_null(
        strstr(r.err, "Error: stat /nonexistent/spec.json: no such file or directory\n"));
    run_free(&r);

    CTL(&r, "set-domain", "d", "-t", "-5s");
    expect_status(&r, 3);
    assert_non_null(strstr(r.err, "Error: ttl is negative\n"));
    run_free(&r);

    CTL(&r, "set-domain", "d", "-t", "5");
    expect_status(&r, 3);
    assert_non_null(strstr(r.err, "time: missing unit in duration \"5\""));
    run_free(&r);

    CTL(&r, "set-domain");
    expect_status(&r, 3);
    assert_non_null(strstr(r.err, "Error: Missing arguments\n"));
    run_free(&r);
}

/* ---- environment, flags and TLS ---------------------------------------------------------- */

static void test_env_and_flags(void **state)
{
    char e_url[200], e_bad_url[200], e_ca[400], e_cert[400], e_key[400], e_missing_ca[400];
    struct run r;
    (void)state;

    snprintf(e_url, sizeof(e_url), "BBS_URL=%s", url);
    snprintf(e_bad_url, sizeof(e_bad_url), "BBS_URL=https://127.0.0.1:1");
    snprintf(e_ca, sizeof(e_ca), "CA_CERT_FILE=%s", tls.ca);
    snprintf(e_cert, sizeof(e_cert), "CLIENT_CERT_FILE=%s", tls.client);
    snprintf(e_key, sizeof(e_key), "CLIENT_KEY_FILE=%s", tls.client_key);
    snprintf(e_missing_ca, sizeof(e_missing_ca), "CA_CERT_FILE=/nonexistent/ca.pem");

    /* everything from the environment */
    RAW(&r, ((const char *const[]){e_url, e_ca, e_cert, e_key, NULL}), "domains");
    expect_status(&r, 0);
    run_free(&r);

    /* no URL anywhere */
    RAW(&r, ((const char *const[]){e_ca, e_cert, e_key, NULL}), "domains");
    expect_status(&r, 3);
    assert_non_null(strstr(r.err, "Error: BBS URL not set. Please specify one with the '--bbsURL' "
                                  "flag or the 'BBS_URL' environment variable.\nUsage:\n"));
    run_free(&r);

    /* the flag wins over the environment */
    RAW(&r, ((const char *const[]){e_bad_url, e_ca, e_cert, e_key, NULL}), "domains", "--bbsURL",
        url);
    expect_status(&r, 0);
    run_free(&r);
    RAW(&r, ((const char *const[]){e_url, e_missing_ca, e_cert, e_key, NULL}), "domains",
        "--caCertFile", tls.ca);
    expect_status(&r, 0);
    run_free(&r);

    /* a scheme that is neither https nor http */
    RAW(&r, ((const char *const[]){e_ca, e_cert, e_key, NULL}), "domains", "--bbsURL",
        "ftp://127.0.0.1");
    expect_status(&r, 3);
    assert_non_null(strstr(r.err, "Error: The URL 'ftp://127.0.0.1' does not have an 'https' "
                                  "scheme. Please specify one with the '--bbsURL' flag or the "
                                  "'BBS_URL' environment variable.\n"));
    run_free(&r);

    /* unreadable CA file from the environment */
    RAW(&r, ((const char *const[]){e_url, e_missing_ca, e_cert, e_key, NULL}), "domains");
    expect_status(&r, 3);
    assert_non_null(strstr(r.err, "Error: CA cert file '/nonexistent/ca.pem' doesn't exist or is "
                                  "not readable: open /nonexistent/ca.pem: no such file or "
                                  "directory\n"));
    run_free(&r);

    /* no CA and no skip */
    RAW(&r, ((const char *const[]){e_url, e_cert, e_key, NULL}), "domains");
    expect_status(&r, 3);
    assert_non_null(strstr(r.err, "Error: --caCertFile must be specified if using HTTPS and "
                                  "--skipCertVerify is not set\n"));
    run_free(&r);

    /* SKIP_CERT_VERIFY=true needs no CA; the flag set to false wins over it */
    RAW(&r, ((const char *const[]){e_url, e_cert, e_key, "SKIP_CERT_VERIFY=true", NULL}),
        "domains");
    expect_status(&r, 0);
    run_free(&r);
    RAW(&r, ((const char *const[]){e_url, e_cert, e_key, "SKIP_CERT_VERIFY=true", NULL}), "domains",
        "--skipCertVerify=false");
    expect_status(&r, 3);
    assert_non_null(strstr(r.err, "--caCertFile must be specified"));
    run_free(&r);
    RAW(&r, ((const char *const[]){e_url, e_cert, e_key, NULL}), "domains", "--skipCertVerify");
    expect_status(&r, 0);
    run_free(&r);

    RAW(&r, ((const char *const[]){e_url, e_ca, e_cert, e_key, "SKIP_CERT_VERIFY=maybe", NULL}),
        "domains");
    expect_status(&r, 3);
    assert_non_null(strstr(r.err, "Error: The value 'maybe' is not a valid value for "
                                  "SKIP_CERT_VERIFY. Please specify one of the following valid "
                                  "boolean values: 1, t, T, TRUE, true, True, 0, f, F, FALSE, "
                                  "false, False\n"));
    run_free(&r);

    /* client certificate without its key */
    RAW(&r, ((const char *const[]){e_url, e_ca, e_cert, NULL}), "domains");
    expect_status(&r, 3);
    assert_non_null(strstr(r.err, "Error: --clientCertFile and --clientKeyFile must both be "
                                  "specified for TLS connections.\n"));
    run_free(&r);

    /* CFDOT_TIMEOUT: read when --timeout is not given; garbage is strconv's error */
    RAW(&r, ((const char *const[]){e_url, e_ca, e_cert, e_key, "CFDOT_TIMEOUT=abc", NULL}),
        "domains");
    expect_status(&r, 255);
    assert_non_null(strstr(r.err, "Error: strconv.ParseInt: parsing \"abc\": invalid syntax\n"));
    run_free(&r);
    RAW(&r, ((const char *const[]){e_url, e_ca, e_cert, e_key, "CFDOT_TIMEOUT=abc", NULL}),
        "domains", "--timeout", "5");
    expect_status(&r, 0);
    run_free(&r);
    RAW(&r, ((const char *const[]){e_url, e_ca, e_cert, e_key, "CFDOT_TIMEOUT=30", NULL}),
        "domains");
    expect_status(&r, 0);
    run_free(&r);
}

static void test_tls_refusals(void **state)
{
    struct run r;
    (void)state;

    /* a CA that did not sign the server: the handshake fails, exit 5 */
    RAW(&r, NULL, "domains", "--bbsURL", url, "--caCertFile", tls.other_ca, "--clientCertFile",
        tls.client, "--clientKeyFile", tls.client_key);
    expect_status(&r, 5);
    assert_true(strncmp(r.err, "Error: Post \"", 13) == 0);
    assert_string_equal(r.out, "");
    run_free(&r);

    /* a client certificate the server does not trust */
    RAW(&r, NULL, "domains", "--bbsURL", url, "--caCertFile", tls.ca, "--clientCertFile", tls.other,
        "--clientKeyFile", tls.client_key);
    expect_status(&r, 5);
    run_free(&r);

    /* nothing listening */
    RAW(&r, NULL, "domains", "--bbsURL", "https://127.0.0.1:1", "--caCertFile", tls.ca,
        "--clientCertFile", tls.client, "--clientKeyFile", tls.client_key);
    expect_status(&r, 5);
    assert_non_null(strstr(r.err, "Error: Post \"https://127.0.0.1:1/v1/domains/list\": "));
    run_free(&r);
}

/* A server that accepts the connection (the kernel does) and never answers. */
static void test_timeout_flag_and_env(void **state)
{
    struct sockaddr_in a = {0};
    socklen_t al = sizeof(a);
    char silent[64], env_url[96];
    struct run r;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    (void)state;

    assert_true(fd >= 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    snprintf(silent, sizeof(silent), "http://127.0.0.1:%d", ntohs(a.sin_port));
    snprintf(env_url, sizeof(env_url), "BBS_URL=%s", silent);

    /* the Go client makes a timeout a models.Error: exit 4, Type 31 */
    RAW(&r, NULL, "domains", "--bbsURL", silent, "--timeout", "1");
    expect_status(&r, 4);
    assert_non_null(strstr(r.err, "Error: BBS error\nType 31: Timeout\nMessage: "));
    run_free(&r);
    RAW(&r, ((const char *const[]){env_url, "CFDOT_TIMEOUT=1", NULL}), "domains");
    expect_status(&r, 4);
    assert_non_null(strstr(r.err, "Type 31: Timeout"));
    run_free(&r);
    close(fd);
}

/* ---- LRPs -------------------------------------------------------------------------------- */

/* Replace `key` in `want` with `got`'s value (server-chosen values). */
static void take(json_t *want, json_t *got, const char *key)
{
    json_t *v = json_object_get(got, key);
    assert_non_null(v);
    json_object_set(want, key, v);
}

static void test_desired_and_actual_lrps_as_cfdot_prints_them(void **state)
{
    char spec[512];
    struct run r;
    (void)state;

    fixture_path("desired_lrp_spec.json", spec, sizeof(spec));
    char arg[600];
    snprintf(arg, sizeof(arg), "@%s", spec);
    CTL(&r, "create-desired-lrp", arg);
    expect_status(&r, 0);
    assert_string_equal(r.out, "");
    run_free(&r);

    /* desired-lrps -d and desired-lrp GUID print the same line, cfdot's */
    json_t *want = fixture("desired_lrp.json");
    CTL(&r, "desired-lrps", "-d", DOMAIN);
    expect_status(&r, 0);
    assert_int_equal(count_lines(r.out), 1);
    json_t *got = json_line(r.out, 0);
    json_t *wtag = json_object_get(want, "modification_tag");
    json_t *gtag = json_object_get(got, "modification_tag");
    assert_non_null(gtag);
    take(wtag, gtag, "epoch");
    assert_json_equal(want, got);
    /* Byte for byte too: Go's key order (struct order: start_timeout_ms after action). */
    char *text = json_dumps(want, JSON_COMPACT);
    size_t tl = strlen(text);
    assert_true(strncmp(r.out, text, tl) == 0 && strcmp(r.out + tl, "\n") == 0);
    free(text);
    json_decref(got);
    run_free(&r);

    CTL(&r, "desired-lrp", FIXTURE_GUID);
    expect_status(&r, 0);
    assert_int_equal(count_lines(r.out), 1);
    got = json_line(r.out, 0);
    assert_json_equal(want, got);
    json_decref(got);
    json_decref(want);
    run_free(&r);

    /* another domain: nothing */
    CTL(&r, "desired-lrps", "--domain", "bbsctl-no-such-domain");
    expect_status(&r, 0);
    assert_string_equal(r.out, "");
    run_free(&r);

    CTL(&r, "desired-lrp-scheduling-infos", "-d", DOMAIN);
    expect_status(&r, 0);
    assert_int_equal(count_lines(r.out), 1);
    got = json_line(r.out, 0);
    assert_string_equal(json_string_value(json_object_get(got, "process_guid")), FIXTURE_GUID);
    assert_int_equal(json_integer_value(json_object_get(got, "instances")), 2);
    json_decref(got);
    run_free(&r);

    /* index 0 running, index 1 left unclaimed */
    assert_int_equal(it_claim(FIXTURE_GUID, 0, "ig-fixture", "cell-fixture"), IT_OK);
    assert_int_equal(it_start(FIXTURE_GUID, 0, DOMAIN, "ig-fixture", "cell-fixture", "10.0.0.1"),
                     IT_OK);

    want = fixture("actual_lrp.json");
    CTL(&r, "actual-lrps", "-p", FIXTURE_GUID, "-i", "0");
    expect_status(&r, 0);
    assert_int_equal(count_lines(r.out), 1);
    got = json_line(r.out, 0);
    take(want, got, "since");
    take(json_object_get(want, "modification_tag"), json_object_get(got, "modification_tag"),
         "epoch");
    assert_json_equal(want, got);
    /* Byte for byte too: Go's key order (struct order, embedded keys first), compact. */
    text = json_dumps(want, JSON_COMPACT);
    tl = strlen(text);
    assert_true(strncmp(r.out, text, tl) == 0 && strcmp(r.out + tl, "\n") == 0);
    free(text);
    json_decref(got);
    json_decref(want);
    run_free(&r);

    CTL(&r, "actual-lrps", "--process-guid", FIXTURE_GUID);
    expect_status(&r, 0);
    assert_int_equal(count_lines(r.out), 2);
    run_free(&r);
    CTL(&r, "actual-lrps", "-c", "cell-fixture");
    expect_status(&r, 0);
    assert_int_equal(count_lines(r.out), 1);
    run_free(&r);
    CTL(&r, "actual-lrps", "-d", DOMAIN, "-i", "1");
    expect_status(&r, 0);
    assert_int_equal(count_lines(r.out), 1);
    got = json_line(r.out, 0);
    assert_string_equal(json_string_value(json_object_get(got, "state")), "UNCLAIMED");
    json_decref(got);
    run_free(&r);
    CTL(&r, "actual-lrps", "-d", "bbsctl-no-such-domain");
    expect_status(&r, 0);
    assert_string_equal(r.out, "");
    run_free(&r);
}

static void test_update_retire_delete_desired(void **state)
{
    char guid[64];
    struct run r;
    (void)state;

    it_uniq(guid, sizeof(guid), "bbsctl-upd");
    it_desire(guid, NULL, 2);

    CTL(&r, "update-desired-lrp", guid, "{\"instances\":3,\"annotation\":\"from bbsctl\"}");
    expect_status(&r, 0);
    run_free(&r);
    CTL(&r, "desired-lrp", guid);
    expect_status(&r, 0);
    json_t *got = json_line(r.out, 0);
    assert_int_equal(json_integer_value(json_object_get(got, "instances")), 3);
    assert_string_equal(json_string_value(json_object_get(got, "annotation")), "from bbsctl");
    json_decref(got);
    run_free(&r);

    /* retire an unclaimed instance: it goes (reference 3.8) */
    size_t before = it_actual_count(guid);
    CTL(&r, "retire-actual-lrp", guid, "2");
    expect_status(&r, 0);
    run_free(&r);
    assert_int_equal(it_actual_count(guid), before - 1);

    CTL(&r, "delete-desired-lrp", guid);
    expect_status(&r, 0);
    run_free(&r);
    CTL(&r, "desired-lrp", guid);
    expect_status(&r, 4);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "Error: BBS error\nType 13: ResourceNotFound\nMessage: the "
                               "requested resource could not be found\n");
    run_free(&r);
}

static void test_unknown_guids_are_errors(void **state)
{
    struct run r;
    (void)state;

    CTL(&r, "desired-lrp", "bbsctl-nope");
    expect_status(&r, 4);
    assert_non_null(strstr(r.err, "Type 13: ResourceNotFound"));
    run_free(&r);
    CTL(&r, "update-desired-lrp", "bbsctl-nope", "{\"instances\":1}");
    expect_status(&r, 4);
    assert_non_null(strstr(r.err, "Type 13: ResourceNotFound"));
    run_free(&r);
    CTL(&r, "delete-desired-lrp", "bbsctl-nope");
    expect_status(&r, 4);
    run_free(&r);
    CTL(&r, "retire-actual-lrp", "bbsctl-nope", "0");
    expect_status(&r, 4);
    assert_non_null(strstr(r.err, "Type 13: ResourceNotFound"));
    run_free(&r);
    CTL(&r, "task", "bbsctl-nope");
    expect_status(&r, 4);
    assert_non_null(strstr(r.err, "Type 13: ResourceNotFound"));
    assert_string_equal(r.out, "");
    run_free(&r);
    CTL(&r, "cancel-task", "bbsctl-nope");
    expect_status(&r, 4);
    run_free(&r);
    CTL(&r, "delete-task", "bbsctl-nope");
    expect_status(&r, 4);
    run_free(&r);
    /* a bad spec the server refuses: its validation message */
    CTL(&r, "create-desired-lrp", "{\"process_guid\":\"bbsctl-bad\"}");
    expect_status(&r, 4);
    assert_non_null(strstr(r.err, "Type 4: InvalidRequest"));
    run_free(&r);
}

/* ---- domains, cells, tasks ----------------------------------------------------------------- */

static void test_domains(void **state)
{
    struct run r;
    (void)state;

    CTL(&r, "set-domain", "bbsctl-d1");
    expect_status(&r, 0);
    run_free(&r);
    CTL(&r, "set-domain", "bbsctl-d2", "--ttl", "1h30m");
    expect_status(&r, 0);
    run_free(&r);
    CTL(&r, "set-domain", "bbsctl-<&>", "-t=2m");
    expect_status(&r, 0);
    run_free(&r);

    CTL(&r, "domains");
    expect_status(&r, 0);
    /* one JSON string per line, HTML-safe as Go writes it */
    assert_non_null(strstr(r.out, "\"bbsctl-d1\"\n"));
    assert_non_null(strstr(r.out, "\"bbsctl-d2\"\n"));
    assert_non_null(strstr(r.out, "\"bbsctl-\\u003c\\u0026\\u003e\"\n"));
    run_free(&r);
}

static void test_cells(void **state)
{
    struct run r;
    (void)state;

    /* No Locket is configured for this server: no cells. */
    CTL(&r, "cells");
    expect_status(&r, 0);
    assert_string_equal(r.out, "");
    run_free(&r);
    CTL(&r, "cell", "cell-nope");
    expect_status(&r, 5);
    assert_string_equal(r.err, "Error: Cell not found\n");
    run_free(&r);
    CTL(&r, "cell");
    expect_status(&r, 3);
    assert_non_null(strstr(r.err, "Error: Missing arguments\n"));
    run_free(&r);
}

static void test_tasks(void **state)
{
    char guid[64], spec[512];
    struct run r;
    (void)state;

    it_uniq(guid, sizeof(guid), "bbsctl-task");
    snprintf(spec, sizeof(spec),
             "{\"task_guid\":\"%s\",\"domain\":\"bbsctl-tasks\",\"rootfs\":\"preloaded:"
             "cflinuxfs4\",\"action\":{\"run\":{\"path\":\"/bin/true\",\"user\":\"vcap\"}},"
             "\"memory_mb\":256,\"disk_mb\":1024}",
             guid);
    CTL(&r, "create-task", spec);
    expect_status(&r, 0);
    run_free(&r);

    CTL(&r, "tasks", "-d", "bbsctl-tasks");
    expect_status(&r, 0);
    assert_int_equal(count_lines(r.out), 1);
    json_t *got = json_line(r.out, 0);
    assert_string_equal(json_string_value(json_object_get(got, "task_guid")), guid);
    /* the definition is flattened into the task, as Go embeds it */
    assert_string_equal(json_string_value(json_object_get(got, "rootfs")), "preloaded:cflinuxfs4");
    assert_string_equal(json_string_value(json_object_get(got, "state")), "Pending");
    json_decref(got);
    run_free(&r);

    CTL(&r, "tasks", "--cell-id", "bbsctl-no-cell");
    expect_status(&r, 0);
    assert_string_equal(r.out, "");
    run_free(&r);

    CTL(&r, "task", guid);
    expect_status(&r, 0);
    assert_int_equal(count_lines(r.out), 1);
    run_free(&r);

    CTL(&r, "create-task", spec);
    expect_status(&r, 4);
    assert_non_null(strstr(r.err, "Type 12: ResourceExists"));
    run_free(&r);

    CTL(&r, "cancel-task", guid);
    expect_status(&r, 0);
    run_free(&r);
    CTL(&r, "task", guid);
    expect_status(&r, 0);
    got = json_line(r.out, 0);
    assert_string_equal(json_string_value(json_object_get(got, "state")), "Completed");
    assert_true(json_is_true(json_object_get(got, "failed")));
    json_decref(got);
    run_free(&r);

    CTL(&r, "delete-task", guid);
    expect_status(&r, 0);
    run_free(&r);
    CTL(&r, "task", guid);
    expect_status(&r, 4);
    run_free(&r);
}

/* ---- events -------------------------------------------------------------------------------- */

struct bg {
    pid_t pid;
    int out_fd, err_fd;
    char buf[65536];
    size_t len;
};

static void bg_start(struct bg *b, const char *const *args)
{
    const char *all[32];
    int n = 0;

    for (size_t i = 0; args[i] != NULL; i++) {
        all[n++] = args[i];
    }
    all[n++] = "--bbsURL";
    all[n++] = url;
    all[n++] = "--caCertFile";
    all[n++] = tls.ca;
    all[n++] = "--clientCertFile";
    all[n++] = tls.client;
    all[n++] = "--clientKeyFile";
    all[n++] = tls.client_key;
    all[n] = NULL;
    b->len = 0;
    b->pid = spawn(NULL, all, &b->out_fd, &b->err_fd);
}

/* The next stdout line containing `needle` within `ms` (malloc'd), or NULL. */
static char *bg_wait_line(struct bg *b, const char *needle, int ms)
{
    int64_t deadline = it_mono_ms() + ms;

    for (;;) {
        char *nl;
        char *start = b->buf;
        while ((nl = memchr(start, '\n', b->len - (size_t)(start - b->buf))) != NULL) {
            *nl = '\0';
            if (strstr(start, needle) != NULL) {
                char *line = strdup(start);
                size_t used = (size_t)(nl + 1 - b->buf);
                memmove(b->buf, nl + 1, b->len - used);
                b->len -= used;
                return line;
            }
            start = nl + 1;
        }
        /* drop the lines that did not match */
        size_t used = (size_t)(start - b->buf);
        memmove(b->buf, start, b->len - used);
        b->len -= used;
        int left = (int)(deadline - it_mono_ms());
        if (left <= 0) {
            return NULL;
        }
        struct pollfd p = {b->out_fd, POLLIN, 0};
        if (poll(&p, 1, left) <= 0) {
            continue;
        }
        ssize_t k = read(b->out_fd, b->buf + b->len, sizeof(b->buf) - 1 - b->len);
        if (k <= 0) {
            return NULL;
        }
        b->len += (size_t)k;
    }
}

/* Stop it; returns what it wrote on stderr (malloc'd). */
static char *bg_stop(struct bg *b)
{
    char *err = NULL;
    size_t len = 0;
    char chunk[4096];
    ssize_t k;

    kill(b->pid, SIGTERM);
    waitpid(b->pid, NULL, 0);
    fcntl(b->err_fd, F_SETFL, O_NONBLOCK);
    while ((k = read(b->err_fd, chunk, sizeof(chunk))) > 0) {
        append(&err, &len, chunk, (size_t)k);
    }
    if (err == NULL) {
        append(&err, &len, "", 0);
    }
    close(b->out_fd);
    close(b->err_fd);
    return err;
}

/*
 * The hub gives a subscriber only what commits after it subscribed, and
 * nothing tells the test when bbsctl has: desire a new LRP each second
 * until one shows up. Returns the line of the first that did. Without -x
 * bbsctl reads two streams at once, so the group stream's line for the
 * new LRP's instance may be printed before the desired event: lines for
 * the LRP that are not `event` are passed over.
 */
static char *desire_until_seen(struct bg *b, const char *prefix, const char *event, char *guid,
                               size_t cap, int *saw_group_created)
{
    for (int i = 0; i < 30; i++) {
        char needle[256];
        int64_t until = it_mono_ms() + (it_valgrind() ? 3000 : 1000);
        char *line;

        if (saw_group_created != NULL) {
            *saw_group_created = 0; /* for this iteration's LRP only */
        }
        it_uniq(guid, cap, prefix);
        it_desire(guid, DOMAIN, 1);
        snprintf(needle, sizeof(needle), "\"process_guid\":\"%s\"", guid);
        while ((line = bg_wait_line(b, needle, (int)(until - it_mono_ms()))) != NULL) {
            if (strstr(line, event) != NULL) {
                return line;
            }
            if (saw_group_created != NULL && strstr(line, "\"type\":\"actual_lrp_created\"")) {
                *saw_group_created = 1;
            }
            free(line);
        }
    }
    return NULL;
}

static void test_lrp_events(void **state)
{
    struct bg b;
    char guid[64], needle[256];
    (void)state;

    bg_start(&b, (const char *const[]){"lrp-events", "-x", NULL});
    char *line =
        desire_until_seen(&b, "bbsctl-ev", "desired_lrp_created", guid, sizeof(guid), NULL);
    assert_non_null(line);
    /* cfdot's shape: {"type":..,"data":<the event message as Go prints it>} */
    json_error_t e;
    json_t *j = json_loads(line, 0, &e);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "desired_lrp_created");
    json_t *d = json_object_get(json_object_get(j, "data"), "desired_lrp");
    assert_string_equal(json_string_value(json_object_get(d, "process_guid")), guid);
    json_decref(j);
    free(line);

    /* the instance stream: the claim of the new LRP's instance */
    assert_int_equal(it_claim(guid, 0, "ig-ev", "cell-ev"), IT_OK);
    snprintf(needle, sizeof(needle), "\"type\":\"actual_lrp_instance_changed\"");
    line = bg_wait_line(&b, needle, 10000);
    assert_non_null(line);
    assert_non_null(strstr(line, guid));
    assert_non_null(strstr(line, "\"state\":\"CLAIMED\""));
    free(line);
    char *err = bg_stop(&b);
    assert_null(strstr(err, "deprecated")); /* -x: no warning */
    free(err);

    /* without -x: the warning, and the group events too */
    bg_start(&b, (const char *const[]){"lrp-events", NULL});
    int saw_group_created = 0;
    line = desire_until_seen(&b, "bbsctl-ev2", "desired_lrp_created", guid, sizeof(guid),
                             &saw_group_created);
    assert_non_null(line);
    free(line);
    /* desired events come once (the group stream's copy is dropped, as cfdot does); the
     * group stream's actual_lrp_created may have been printed before the desired event */
    if (!saw_group_created) {
        snprintf(needle, sizeof(needle), "\"type\":\"actual_lrp_created\"");
        line = bg_wait_line(&b, needle, 10000);
        /* the instance of an LRP desired earlier may come first: look for ours */
        while (line != NULL && strstr(line, guid) == NULL) {
            free(line);
            line = bg_wait_line(&b, needle, 10000);
        }
        assert_non_null(line);
        free(line);
    }
    err = bg_stop(&b);
    assert_non_null(strstr(err, "Event types \"actual_lrp_created\", \"actual_lrp_changed\" and "
                                "\"actual_lrp_removed\" are deprecated. Use "
                                "\"--exclude-actual-lrp-groups\" flag to exclude them.\n"));
    free(err);
}

static void test_task_events(void **state)
{
    struct bg b;
    char guid[64], spec[512], needle[128];
    char *line = NULL;
    (void)state;

    bg_start(&b, (const char *const[]){"task-events", NULL});
    for (int i = 0; i < 30 && line == NULL; i++) {
        struct run r;
        it_uniq(guid, sizeof(guid), "bbsctl-tev");
        snprintf(spec, sizeof(spec),
                 "{\"task_guid\":\"%s\",\"domain\":\"bbsctl-tasks\",\"rootfs\":\"preloaded:"
                 "cflinuxfs4\",\"action\":{\"run\":{\"path\":\"/bin/true\",\"user\":\"vcap\"}}}",
                 guid);
        CTL(&r, "create-task", spec);
        expect_status(&r, 0);
        run_free(&r);
        snprintf(needle, sizeof(needle), "\"task_guid\":\"%s\"", guid);
        line = bg_wait_line(&b, needle, it_valgrind() ? 3000 : 1000);
    }
    assert_non_null(line);
    json_error_t e;
    json_t *j = json_loads(line, 0, &e);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "task_created");
    json_t *t = json_object_get(json_object_get(j, "data"), "task");
    assert_string_equal(json_string_value(json_object_get(t, "task_guid")), guid);
    json_decref(j);
    free(line);

    struct run r;
    CTL(&r, "cancel-task", guid);
    expect_status(&r, 0);
    run_free(&r);
    line = bg_wait_line(&b, "\"type\":\"task_changed\"", 10000);
    assert_non_null(line);
    assert_non_null(strstr(line, guid));
    free(line);
    free(bg_stop(&b));
}

/* ---- status, against a stand-in /v1/diagnostics ------------------------------------------ */

static const char *diag_body;

static enum MHD_Result diag_answer(void *cls, struct MHD_Connection *conn, const char *path,
                                   const char *method, const char *version, const char *data,
                                   size_t *size, void **ptr)
{
    (void)cls;
    (void)version;
    (void)data;
    (void)size;
    (void)ptr;
    int ok = strcmp(method, "GET") == 0 && strcmp(path, "/v1/diagnostics") == 0;
    const char *body = ok ? diag_body : "404 page not found\n";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", ok ? "application/json" : "text/plain");
    enum MHD_Result rc = MHD_queue_response(conn, ok ? 200 : 404, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void test_status_table(void **state)
{
    struct MHD_Daemon *d;
    char diag_url[64];
    struct run r;
    (void)state;

    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, diag_answer, NULL,
                         MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
    assert_non_null(d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(diag_url, sizeof(diag_url), "http://127.0.0.1:%u", (unsigned)info->port);

    diag_body = "{\"status\":\"PASS\",\"checks\":[{\"name\":\"database\",\"status\":\"PASS\","
                "\"reason\":\"reachable and writable\"},{\"name\":\"locket\",\"status\":"
                "\"PASS\",\"reason\":\"not configured\"}]}";
    RAW(&r, NULL, "status", "--bbsURL", diag_url);
    expect_status(&r, 0);
    assert_string_equal(r.out, "CHECK     STATUS  REASON\n"
                               "database  PASS    reachable and writable\n"
                               "locket    PASS    not configured\n"
                               "overall   PASS  \n");
    run_free(&r);

    diag_body = "{\"status\":\"FAIL\",\"checks\":[{\"name\":\"database\",\"status\":\"FAIL\","
                "\"reason\":\"connection refused\"}]}";
    RAW(&r, NULL, "status", "--bbsURL", diag_url);
    expect_status(&r, 1);
    assert_non_null(strstr(r.out, "database  FAIL    connection refused\n"));
    assert_non_null(strstr(r.out, "overall   FAIL"));
    run_free(&r);

    diag_body = "not json";
    RAW(&r, NULL, "status", "--bbsURL", diag_url);
    expect_status(&r, 5);
    run_free(&r);

    RAW(&r, NULL, "status", "--bbsURL", diag_url, "extra");
    expect_status(&r, 3);
    run_free(&r);
    MHD_stop_daemon(d);

    /* The real server over mutual TLS: every check passes (database, migrations, leader). */
    CTL(&r, "status");
    expect_status(&r, 0);
    assert_true(strncmp(r.out, "CHECK ", 6) == 0);
    assert_non_null(strstr(r.out, "\ndatabase "));
    assert_non_null(strstr(r.out, "\nmigrations "));
    assert_null(strstr(r.out, "FAIL"));
    assert_non_null(strstr(r.out, "\noverall "));
    assert_non_null(strstr(strstr(r.out, "\noverall "), " PASS"));
    run_free(&r);
}

/* ---- set-up ------------------------------------------------------------------------------ */

static int setup(void **state)
{
    int rc;

    (void)state;
    if (it_tls_set_make(&tls, "bbs-it-bbsctl-certs") != 0) {
        return -1;
    }
    rc = it_tls_set_server_start(&tls, "bbsctl");
    snprintf(url, sizeof(url), "https://127.0.0.1:%d", it_server_port());
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    return it_tls_set_server_stop(&tls);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_for_every_command),
        cmocka_unit_test(test_flag_errors),
        cmocka_unit_test(test_env_and_flags),
        cmocka_unit_test(test_tls_refusals),
        cmocka_unit_test(test_timeout_flag_and_env),
        cmocka_unit_test(test_desired_and_actual_lrps_as_cfdot_prints_them),
        cmocka_unit_test(test_update_retire_delete_desired),
        cmocka_unit_test(test_unknown_guids_are_errors),
        cmocka_unit_test(test_domains),
        cmocka_unit_test(test_cells),
        cmocka_unit_test(test_tasks),
        cmocka_unit_test(test_lrp_events),
        cmocka_unit_test(test_task_events),
        cmocka_unit_test(test_status_table),
    };

    signal(SIGPIPE, SIG_IGN);
    return it_main_exit(cmocka_run_group_tests_name("bbsctl", tests, setup, teardown));
}
