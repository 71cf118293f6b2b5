/*
 * test_pgembed.c - the embedded PostgreSQL (no database_connection_string),
 * against the real binary: one server per data_dir, a server killed with
 * SIGKILL takes its postmaster with it, a postmaster left by a dead server is
 * taken over, a postmaster that dies under a server is restarted, and
 * PostgreSQL logs to its own file. Also `bbs -h`.
 *
 * Unlike the other integration tests this one does not use the fixture
 * cluster nor it_server_start(): each server here runs its own PostgreSQL,
 * as a user's would (as root: initdb and postgres run as `postgres` via
 * runuser, done by the server itself). The tests run in order and share one
 * data_dir (initdb takes seconds); each leaves the folder with at most one
 * server running. Never under valgrind: the cases are about timing and
 * process trees.
 */
#include "harness.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* First start runs initdb; a loaded CI machine gets room. */
#define START_TIMEOUT_MS 90000
#define EXIT_TIMEOUT_MS  30000
#define GONE_TIMEOUT_MS  10000
/* Upserted by the first server; every later one must still list it. */
#define KEPT_DOMAIN "pgembed-kept"

struct srv {
    pid_t pid;
    int port;
    int health_port;
    char out[512]; /* stdout: the JSON log */
    char err[512]; /* stderr */
};

static struct {
    char dir[256];  /* private temp dir */
    char data[300]; /* the shared data_dir */
    struct srv cur; /* the server currently running on data_dir (pid 0: none) */
    int domain_n;
} g;

/* ---- helpers ------------------------------------------------------------------------- */

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port = -1;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    assert_true(port > 0);
    return port;
}

/* The whole file, malloc'd and NUL-terminated ("" when missing). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0;
    size_t cap = 0;
    size_t n;

    buf = malloc(1);
    assert_non_null(buf);
    buf[0] = '\0';
    if (f == NULL) {
        return buf;
    }
    for (;;) {
        if (cap - len < 4096) {
            cap = cap * 2 + 4096;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
        n = fread(buf + len, 1, cap - len, f);
        if (n == 0) {
            break;
        }
        len += n;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

static int file_contains(const char *path, const char *needle)
{
    char *s = slurp(path);
    int found = strstr(s, needle) != NULL;

    free(s);
    return found;
}

/*
 * The server may serve again a moment before it has written the line that
 * says so (the watch logs after the restart returned): poll for it.
 */
static int file_gets(const char *path, const char *needle, int64_t timeout_ms)
{
    int64_t deadline = it_mono_ms() + timeout_ms;

    while (!file_contains(path, needle)) {
        if (it_mono_ms() > deadline) {
            return 0;
        }
        it_sleep_ms(20);
    }
    return 1;
}

static void print_file(const char *what, const char *path)
{
    char *s = slurp(path);

    fprintf(stderr, "---- %s (%s) ----\n%s\n", what, path, s);
    free(s);
}

/* Write a config for `s` on the shared data_dir and spawn the server. */
static void srv_spawn(struct srv *s, const char *name)
{
    const char *mig = getenv("BBS_MIGRATIONS_DIR");
    const char *bin = getenv("BBS_BINARY");
    char cfg[512];
    posix_spawn_file_actions_t fa;
    FILE *f;

    assert_non_null(bin);
    memset(s, 0, sizeof(*s));
    s->port = free_port();
    s->health_port = free_port();
    snprintf(cfg, sizeof(cfg), "%s/%s.json", g.dir, name);
    snprintf(s->out, sizeof(s->out), "%s/%s.out", g.dir, name);
    snprintf(s->err, sizeof(s->err), "%s/%s.err", g.dir, name);
    f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"data_dir\": \"%s\", \"listen_address\": \"127.0.0.1:%d\", "
            "\"health_address\": \"127.0.0.1:%d\"",
            g.data, s->port, s->health_port);
    if (mig != NULL && mig[0] != '\0') {
        fprintf(f, ", \"migrations_dir\": \"%s\"", mig);
    }
    fprintf(f, "}\n");
    fclose(f);

    const char *argv[] = {bin, "-config", cfg, NULL};
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, s->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, s->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(posix_spawn(&s->pid, bin, &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
}

/* Wait up to `ms` for `s` to exit; 0 with the wait status, -1 if still running. */
static int srv_wait(struct srv *s, int ms, int *status)
{
    int64_t deadline = it_mono_ms() + ms;

    for (;;) {
        pid_t r = waitpid(s->pid, status, WNOHANG);
        if (r == s->pid) {
            s->pid = 0;
            return 0;
        }
        if (it_mono_ms() >= deadline) {
            return -1;
        }
        it_sleep_ms(20);
    }
}

struct body {
    uint8_t *p;
    size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t n, void *ud)
{
    struct body *b = ud;
    uint8_t *p = realloc(b->p, b->len + size * n + 1);

    if (p == NULL) {
        return 0;
    }
    memcpy(p + b->len, ptr, size * n);
    b->p = p;
    b->len += size * n;
    return size * n;
}

/* POST a protobuf body; 0 and the response body on HTTP 200, else -1. */
static int post(int port, const char *path, const uint8_t *req, size_t len, struct body *out)
{
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/x-protobuf");
    CURL *c = curl_easy_init();
    char url[256];
    long status = 0;
    CURLcode rc;

    memset(out, 0, sizeof(*out));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, len > 0 ? (const char *)req : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (rc != CURLE_OK || status != 200) {
        free(out->p);
        out->p = NULL;
        return -1;
    }
    return 0;
}

/* Upsert `domain` through `port`; 1 if answered without an error. */
static int upsert_ok(int port, const char *domain)
{
    Models__UpsertDomainRequest req = MODELS__UPSERT_DOMAIN_REQUEST__INIT;
    Models__UpsertDomainResponse *resp;
    uint8_t buf[256];
    struct body b;
    int ok;

    req.domain = (char *)domain;
    req.ttl = 3600; /* seconds; listed until then */
    if (post(port, "/v1/domains/upsert", buf, models__upsert_domain_request__pack(&req, buf), &b) !=
        0) {
        return 0;
    }
    resp = models__upsert_domain_response__unpack(NULL, b.len, b.p != NULL ? b.p : buf);
    ok = resp != NULL && resp->error == NULL;
    models__upsert_domain_response__free_unpacked(resp, NULL);
    free(b.p);
    return ok;
}

/* Is `domain` listed by domains/list through `port` (answered without error)? */
static int listed(int port, const char *domain)
{
    static const uint8_t empty[1];
    Models__DomainsResponse *resp;
    struct body b;
    int found = 0;

    if (post(port, "/v1/domains/list", NULL, 0, &b) != 0) {
        return 0;
    }
    resp = models__domains_response__unpack(NULL, b.len, b.p != NULL ? b.p : empty);
    for (size_t i = 0; resp != NULL && resp->error == NULL && i < resp->n_domains; i++) {
        found |= strcmp(resp->domains[i], domain) == 0;
    }
    models__domains_response__free_unpacked(resp, NULL);
    free(b.p);
    return found;
}

/* A database round trip: upsert a fresh domain and see it listed. */
static int db_serves(int port, char *domain, size_t size)
{
    snprintf(domain, size, "pgembed-%d", ++g.domain_n);
    return upsert_ok(port, domain) && listed(port, domain);
}

/* Wait up to `ms` for `s` to serve a database route; asserts it does. */
static void srv_wait_serving(struct srv *s, int ms)
{
    int64_t deadline = it_mono_ms() + ms;
    char domain[64];
    int status;

    while (!db_serves(s->port, domain, sizeof(domain))) {
        if (srv_wait(s, 0, &status) == 0 || it_mono_ms() >= deadline) {
            print_file("server stdout", s->out);
            print_file("server stderr", s->err);
            fail_msg("server on port %d does not serve the database", s->port);
        }
        it_sleep_ms(100);
    }
}

/* The postmaster pid in the shared cluster's postmaster.pid (0: none). */
static pid_t postmaster_pid(void)
{
    char path[400];
    FILE *f;
    long pid = 0;

    snprintf(path, sizeof(path), "%s/postgres/postmaster.pid", g.data);
    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    if (fscanf(f, "%ld", &pid) != 1) {
        pid = 0;
    }
    fclose(f);
    return (pid_t)pid;
}

/* Field `field` (1-based: 3 state, 4 ppid) of /proc/<pid>/stat; "" if gone. */
static void proc_stat(pid_t pid, int field, char *out, size_t size)
{
    char path[64];
    char buf[512];
    char *p;
    size_t n;
    FILE *f;

    out[0] = '\0';
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* comm may contain spaces */
    if (p == NULL) {
        return;
    }
    p++;
    for (int i = 3; i <= field && p != NULL; i++) {
        while (*p == ' ') {
            p++;
        }
        if (i == field) {
            snprintf(out, size, "%.*s", (int)strcspn(p, " "), p);
            return;
        }
        p = strchr(p, ' ');
    }
}

/* Gone, or a zombie waiting for a slow pid 1 to reap it. */
static int proc_gone(pid_t pid)
{
    char state[8];

    if (kill(pid, 0) != 0 && errno == ESRCH) {
        return 1;
    }
    proc_stat(pid, 3, state, sizeof(state));
    return state[0] == '\0' || state[0] == 'Z' || state[0] == 'X';
}

static int wait_gone(pid_t pid, int ms)
{
    int64_t deadline = it_mono_ms() + ms;

    while (!proc_gone(pid)) {
        if (it_mono_ms() >= deadline) {
            return 0;
        }
        it_sleep_ms(50);
    }
    return 1;
}

/* The server's watchdog: its child that is a fork of bbs, not a postgres. */
static pid_t watchdog_of(pid_t server)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = 0;
    char ppid[32];
    char comm[64];
    char path[300];

    assert_non_null(d);
    while ((e = readdir(d)) != NULL && found == 0) {
        pid_t pid = (pid_t)atol(e->d_name);
        FILE *f;

        if (pid <= 0) {
            continue;
        }
        proc_stat(pid, 4, ppid, sizeof(ppid));
        if (atol(ppid) != (long)server) {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
        f = fopen(path, "r");
        if (f != NULL && fgets(comm, sizeof(comm), f) != NULL && strncmp(comm, "bbs", 3) == 0) {
            found = pid;
        }
        if (f != NULL) {
            fclose(f);
        }
    }
    closedir(d);
    return found;
}

/* How many zombie children `parent` has (exited, never waited for). */
static int zombies_of(pid_t parent)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;
    char ppid[32];
    char st[8];

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        pid_t pid = (pid_t)atol(e->d_name);

        if (pid <= 0) {
            continue;
        }
        proc_stat(pid, 4, ppid, sizeof(ppid));
        if (atol(ppid) != (long)parent) {
            continue;
        }
        proc_stat(pid, 3, st, sizeof(st));
        n += st[0] == 'Z';
    }
    closedir(d);
    return n;
}

/* Every line of `path` is a JSON object. */
static void assert_json_lines(const char *path)
{
    char *s = slurp(path);
    char *save = NULL;

    for (char *line = strtok_r(s, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        if (!json_is_object(j)) {
            fail_msg("not a JSON log line in %s: %s", path, line);
        }
        json_decref(j);
    }
    free(s);
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_help_prints_usage_and_exits_0(void **state)
{
    static const char *const flags[] = {"-h", "--help"};
    const char *bin = getenv("BBS_BINARY");
    char out[512];
    char *text;
    (void)state;

    snprintf(out, sizeof(out), "%s/help.out", g.dir);
    for (size_t i = 0; i < 2; i++) {
        const char *argv[] = {bin, flags[i], NULL};
        unlink(out);
        assert_int_equal(it_run(argv, out), 0);
        text = slurp(out);
        assert_non_null(strstr(text, "usage: bbs [-config FILE]"));
        assert_non_null(strstr(text, "-h, --help"));
        assert_non_null(strstr(text, "docs/configuration.md"));
        free(text);
    }

    /* Unknown options still print the usage, and exit 2. */
    const char *bad[] = {bin, "--no-such-option", NULL};
    unlink(out);
    assert_int_equal(it_run(bad, out), 2);
    assert_true(file_contains(out, "usage: bbs [-config FILE]"));
}

static void test_first_server_initdb_and_serves(void **state)
{
    char path[400];
    (void)state;

    srv_spawn(&g.cur, "first");
    srv_wait_serving(&g.cur, START_TIMEOUT_MS);
    assert_true(upsert_ok(g.cur.port, KEPT_DOMAIN));
    snprintf(path, sizeof(path), "%s/bbs.lock", g.data);
    assert_true(access(path, F_OK) == 0);
    assert_true(postmaster_pid() > 0);
}

static void test_second_server_on_same_data_dir_is_refused(void **state)
{
    struct srv second;
    pid_t pm = postmaster_pid();
    char domain[64];
    int status = 0;
    (void)state;

    srv_spawn(&second, "second");
    if (srv_wait(&second, EXIT_TIMEOUT_MS, &status) != 0) {
        kill(second.pid, SIGKILL);
        srv_wait(&second, EXIT_TIMEOUT_MS, &status);
        fail_msg("a second server on the same data_dir kept running");
    }
    assert_true(WIFEXITED(status));
    assert_int_not_equal(WEXITSTATUS(status), 0);
    assert_true(file_contains(second.out, "is in use by another bbs server"));
    assert_true(file_contains(second.out, g.data));

    /* The first server kept its PostgreSQL: same postmaster, database routes work. */
    assert_int_equal(postmaster_pid(), pm);
    assert_false(proc_gone(pm));
    assert_true(db_serves(g.cur.port, domain, sizeof(domain)));
}

static void test_postmaster_killed_under_server_is_restarted(void **state)
{
    pid_t pm = postmaster_pid();
    int status;
    (void)state;

    assert_true(pm > 0);
    assert_int_equal(kill(pm, SIGKILL), 0);
    assert_true(wait_gone(pm, GONE_TIMEOUT_MS));
    srv_wait_serving(&g.cur, START_TIMEOUT_MS);
    assert_int_equal(srv_wait(&g.cur, 0, &status), -1); /* still the same server */
    assert_true(postmaster_pid() > 0);
    assert_int_not_equal(postmaster_pid(), pm);
    assert_true(file_gets(g.cur.out, "bbs.pgembed.postmaster-exited", GONE_TIMEOUT_MS));
    assert_true(file_gets(g.cur.out, "bbs.pgembed.restarted", GONE_TIMEOUT_MS));
    /* The dead postmaster's backends were re-parented to the server (a
     * subreaper) as they exited: it reaps them, no zombie stays. */
    {
        int64_t deadline = it_mono_ms() + GONE_TIMEOUT_MS;

        while (zombies_of(g.cur.pid) > 0 && it_mono_ms() < deadline) {
            it_sleep_ms(100);
        }
        assert_int_equal(zombies_of(g.cur.pid), 0);
    }
}

static void test_postgres_logs_to_its_own_file(void **state)
{
    char path[400];
    (void)state;

    /* PostgreSQL's own lines (start, crash recovery after the kill above) are in the file... */
    snprintf(path, sizeof(path), "%s/postgres.log", g.data);
    assert_true(file_contains(path, "database system is ready to accept connections"));
    assert_true(file_contains(path, "automatic recovery in progress"));
    /* ...and the server's stdout carries only its JSON lines. */
    assert_json_lines(g.cur.out);
    assert_false(file_contains(g.cur.out, "database system is ready"));
    /* The killed postmaster's backends said "FATAL: terminating connection
     * ..." to the pooled connections: libpq's default notice processor would
     * print that on stderr; the pool's logs it as a JSON line. */
    assert_false(file_contains(g.cur.err, "FATAL"));
    assert_true(file_contains(g.cur.out, "\"bbs.database.notice\""));
}

static void test_killed_watchdog_is_respawned(void **state)
{
    pid_t dog = watchdog_of(g.cur.pid);
    int64_t deadline;
    pid_t next = 0;
    (void)state;

    assert_true(dog > 0);
    assert_int_equal(kill(dog, SIGKILL), 0);
    deadline = it_mono_ms() + GONE_TIMEOUT_MS;
    while ((next = watchdog_of(g.cur.pid)) == 0 || next == dog) {
        if (it_mono_ms() >= deadline) {
            fail_msg("no new watchdog 10 s after the old one was killed");
        }
        it_sleep_ms(50);
    }
    assert_true(file_contains(g.cur.out, "bbs.pgembed.watchdog-exited"));
    /* The next test kills the server: this watchdog is the one that must act. */
}

static void test_sigkilled_server_takes_its_postmaster_along(void **state)
{
    pid_t pm = postmaster_pid();
    int status;
    (void)state;

    assert_true(pm > 0);
    assert_false(proc_gone(pm)); /* else the test below proves nothing */
    assert_int_equal(kill(g.cur.pid, SIGKILL), 0);
    assert_int_equal(srv_wait(&g.cur, EXIT_TIMEOUT_MS, &status), 0);
    if (!wait_gone(pm, GONE_TIMEOUT_MS)) {
        fail_msg("postmaster %ld still runs 10 s after its server was killed", (long)pm);
    }

    /* The next start on the folder serves, with the data kept. */
    srv_spawn(&g.cur, "after-kill");
    srv_wait_serving(&g.cur, START_TIMEOUT_MS);
    assert_true(listed(g.cur.port, KEPT_DOMAIN));
}

static void test_stale_postmaster_of_dead_server_is_taken_over(void **state)
{
    pid_t pm = postmaster_pid();
    pid_t dog = watchdog_of(g.cur.pid);
    int status;
    (void)state;

    /*
     * A server and its watchdog both gone (e.g. the whole group killed):
     * stop the watchdog first so that it cannot act on its server's death,
     * then kill both. The postmaster keeps running.
     */
    assert_true(pm > 0);
    assert_true(dog > 0);
    assert_int_equal(kill(dog, SIGSTOP), 0);
    assert_int_equal(kill(g.cur.pid, SIGKILL), 0);
    assert_int_equal(srv_wait(&g.cur, EXIT_TIMEOUT_MS, &status), 0);
    assert_int_equal(kill(dog, SIGKILL), 0);
    assert_true(wait_gone(dog, GONE_TIMEOUT_MS));
    it_sleep_ms(500);
    assert_false(proc_gone(pm));

    srv_spawn(&g.cur, "takeover");
    srv_wait_serving(&g.cur, START_TIMEOUT_MS);
    assert_true(wait_gone(pm, GONE_TIMEOUT_MS));
    assert_int_not_equal(postmaster_pid(), pm);
    assert_true(file_contains(g.cur.out, "bbs.pgembed.stopping-stale-postmaster"));
    assert_true(listed(g.cur.port, KEPT_DOMAIN));
}

static void test_sigterm_stops_cluster_and_releases_folder(void **state)
{
    pid_t pm = postmaster_pid();
    pid_t dog = watchdog_of(g.cur.pid);
    char lock[400];
    int status = 0;
    int fd;
    (void)state;

    assert_true(pm > 0);
    assert_true(dog > 0);
    assert_int_equal(kill(g.cur.pid, SIGTERM), 0);
    assert_int_equal(srv_wait(&g.cur, EXIT_TIMEOUT_MS, &status), 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(proc_gone(pm));
    assert_true(proc_gone(dog));
    assert_int_equal(postmaster_pid(), 0);

    snprintf(lock, sizeof(lock), "%s/bbs.lock", g.data);
    fd = open(lock, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    close(fd);
}

/* ---- fixtures ------------------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    snprintf(g.dir, sizeof(g.dir), "/tmp/bbs-it-pgembed-XXXXXX");
    if (mkdtemp(g.dir) == NULL || chmod(g.dir, 0755) != 0) {
        perror("mkdtemp");
        return -1;
    }
    /* The server creates it: as root, postgres must be able to reach it (0755 /tmp/...). */
    snprintf(g.data, sizeof(g.data), "%s/data", g.dir);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

/* Whatever a failed test left running on the folder goes. */
static int group_teardown(void **state)
{
    pid_t pm;
    int status;
    (void)state;

    if (g.cur.pid > 0) {
        pid_t dog = watchdog_of(g.cur.pid);
        kill(g.cur.pid, SIGTERM);
        if (srv_wait(&g.cur, EXIT_TIMEOUT_MS, &status) != 0) {
            kill(g.cur.pid, SIGKILL);
            srv_wait(&g.cur, EXIT_TIMEOUT_MS, &status);
        }
        if (dog > 0) {
            wait_gone(dog, EXIT_TIMEOUT_MS);
        }
    }
    pm = postmaster_pid();
    if (pm > 0 && !proc_gone(pm)) {
        kill(pm, SIGQUIT); /* immediate shutdown */
        wait_gone(pm, GONE_TIMEOUT_MS);
    }
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_prints_usage_and_exits_0),
        cmocka_unit_test(test_first_server_initdb_and_serves),
        cmocka_unit_test(test_second_server_on_same_data_dir_is_refused),
        cmocka_unit_test(test_postmaster_killed_under_server_is_restarted),
        cmocka_unit_test(test_postgres_logs_to_its_own_file),
        cmocka_unit_test(test_killed_watchdog_is_respawned),
        cmocka_unit_test(test_sigkilled_server_takes_its_postmaster_along),
        cmocka_unit_test(test_stale_postmaster_of_dead_server_is_taken_over),
        cmocka_unit_test(test_sigterm_stops_cluster_and_releases_folder),
    };
    int rc = cmocka_run_group_tests_name("pgembed", tests, group_setup, group_teardown);

    if (rc == 0) {
        const char *rm[] = {"rm", "-rf", g.dir, NULL};
        it_run(rm, NULL);
    } else {
        fprintf(stderr, "kept %s for inspection (server logs *.out/*.err, data/postgres.log)\n",
                g.dir);
    }
    return rc;
}
