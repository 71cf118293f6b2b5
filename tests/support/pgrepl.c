/*
 * pgrepl.c - see pgrepl.h: a primary and a synchronous streaming standby.
 *
 * Layout of the directory (/tmp/bbs-it-pgrepl-XXXXXX, under /tmp so the
 * postgres user can reach it):
 *   node0/, node0.log   the first primary (its log)
 *   node1/, node1.log   the standby, promoted by it_pgrepl_promote
 *   setup.log           initdb, pg_basebackup and pg_ctl output
 *   conninfo            both hosts, target_session_attrs=read-write
 *
 * Durability: fsync is off on both nodes (throwaway data; the processes
 * are killed, never the machine, so the page cache keeps what was
 * written); synchronous replication is what the test is about and stays on
 * (synchronous_commit = on: a COMMIT returns once the standby has it).
 */
#include "support/pgrepl.h"

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "support/internal.h"
#include "support/server.h"
#include "support/util.h"

struct it_pgrepl {
    char dir[64];
    char bin[256];
    int port[2];
    int promoted;
};

/* The newest /usr/lib/postgresql/<v>/bin with pg_ctl, or $PG_BIN (as pg_start.sh). */
static int find_bin(char *out, size_t size)
{
    const char *env = getenv("PG_BIN");
    DIR *d;
    struct dirent *e;
    int best = -1;

    if (env != NULL && env[0] != '\0') {
        snprintf(out, size, "%s", env);
        return 0;
    }
    d = opendir("/usr/lib/postgresql");
    if (d == NULL) {
        fprintf(stderr, "pgrepl: no /usr/lib/postgresql (install postgresql, or set PG_BIN)\n");
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        char path[512];
        int v = atoi(e->d_name);

        snprintf(path, sizeof(path), "/usr/lib/postgresql/%s/bin/pg_ctl", e->d_name);
        if (v > best && access(path, X_OK) == 0) {
            best = v;
        }
    }
    closedir(d);
    if (best < 0) {
        fprintf(stderr, "pgrepl: no pg_ctl under /usr/lib/postgresql/<version>/bin\n");
        return -1;
    }
    snprintf(out, size, "/usr/lib/postgresql/%d/bin", best);
    return 0;
}

/* Run PostgreSQL tool `tool` of our bin dir with `args` (NULL-terminated, at most 16), as
 * postgres when root; output to setup.log. 0 when it exits 0. */
static int pg_tool(const struct it_pgrepl *r, const char *tool, const char *const *args)
{
    const char *argv[24];
    char path[512];
    char log[128];
    int n = 0;

    snprintf(path, sizeof(path), "%s/%s", r->bin, tool);
    snprintf(log, sizeof(log), "%s/setup.log", r->dir);
    if (geteuid() == 0) {
        argv[n++] = "/usr/sbin/runuser";
        argv[n++] = "-u";
        argv[n++] = "postgres";
        argv[n++] = "--";
    }
    argv[n++] = path;
    for (int i = 0; args[i] != NULL && n < 23; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    if (it_run(argv, log) != 0) {
        fprintf(stderr, "pgrepl: %s failed; see %s\n", tool, log);
        return -1;
    }
    return 0;
}

static int append_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "a");
    int rc;

    if (f == NULL) {
        fprintf(stderr, "pgrepl: %s: %s\n", path, strerror(errno));
        return -1;
    }
    rc = fputs(text, f) < 0 ? -1 : 0;
    if (fclose(f) != 0) {
        rc = -1;
    }
    return rc;
}

static int node_start(const struct it_pgrepl *r, int node)
{
    char data[128];
    char log[128];
    const char *args[] = {"-D", data, "-l", log, "-w", "-t", "60", "start", NULL};

    snprintf(data, sizeof(data), "%s/node%d", r->dir, node);
    snprintf(log, sizeof(log), "%s/node%d.log", r->dir, node);
    return pg_tool(r, "pg_ctl", args);
}

/* Node `node`'s settings, after initdb or pg_basebackup copied the primary's. */
static int node_conf(const struct it_pgrepl *r, int node)
{
    char path[160];
    char text[512];

    snprintf(path, sizeof(path), "%s/node%d/postgresql.conf", r->dir, node);
    snprintf(text, sizeof(text),
             "\n# pgrepl.c\nlisten_addresses = '127.0.0.1'\nport = %d\n"
             "unix_socket_directories = ''\nfsync = off\nshared_buffers = 16MB\n"
             "max_connections = 100\nmax_wal_senders = 4\nwal_level = replica\n"
             "hot_standby = on\nwal_sender_timeout = 5s\nwal_receiver_timeout = 5s\n",
             r->port[node]);
    return append_file(path, text);
}

static PGconn *connect_node(const struct it_pgrepl *r, int node)
{
    char ci[160];
    PGconn *c;

    snprintf(ci, sizeof(ci),
             "host=127.0.0.1 port=%d user=postgres dbname=postgres connect_timeout=5",
             r->port[node]);
    c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pgrepl: node %d: %s", node, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Run `sql` on `c`: 1 when its first value is "t" (or it returns no rows and succeeds: 0). */
static int query_true(PGconn *c, const char *sql)
{
    PGresult *res = PQexec(c, sql);
    ExecStatusType s = PQresultStatus(res);
    int rc = -1;

    if (s == PGRES_TUPLES_OK) {
        rc = PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    } else if (s == PGRES_COMMAND_OK) {
        rc = 0;
    } else {
        fprintf(stderr, "pgrepl: %s: %s", sql, PQerrorMessage(c));
    }
    PQclear(res);
    return rc;
}

/* Poll `sql` on `node` until it returns true, up to `ms`. */
static int wait_true(const struct it_pgrepl *r, int node, const char *sql, int ms)
{
    int64_t deadline = it_mono_ms() + ms;

    while (it_mono_ms() < deadline) {
        PGconn *c = connect_node(r, node);
        int v = c != NULL ? query_true(c, sql) : 0;

        PQfinish(c);
        if (v == 1) {
            return 0;
        }
        it_sleep_ms(100);
    }
    fprintf(stderr, "pgrepl: node %d: still not true after %d ms: %s\n", node, ms, sql);
    return -1;
}

static int make_sync(const struct it_pgrepl *r)
{
    PGconn *c = connect_node(r, 0);
    int rc = -1;

    if (c == NULL) {
        return -1;
    }
    if (query_true(c, "ALTER SYSTEM SET synchronous_standby_names = '*'") == 0 &&
        query_true(c, "SELECT pg_reload_conf()") >= 0) {
        rc = 0;
    }
    PQfinish(c);
    if (rc != 0) {
        return -1;
    }
    return wait_true(r, 0,
                     "SELECT count(*) = 1 FROM pg_stat_replication WHERE sync_state = 'sync'"
                     " AND state = 'streaming'",
                     30000);
}

static int write_conninfo(const struct it_pgrepl *r)
{
    char path[128];
    char text[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/conninfo", r->dir);
    snprintf(text, sizeof(text),
             "host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres"
             " target_session_attrs=read-write connect_timeout=2\n",
             r->port[0], r->port[1]);
    f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0) {
        fprintf(stderr, "pgrepl: %s: %s\n", path, strerror(errno));
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

struct it_pgrepl *it_pgrepl_start(void)
{
    return it_pgrepl_start_on(NULL);
}

int it_pgrepl_exec(const struct it_pgrepl *r, int node, const char *dbname, const char *sql)
{
    char ci[200];
    PGconn *c;
    PGresult *res;
    int rc = -1;

    snprintf(ci, sizeof(ci), "host=127.0.0.1 port=%d user=postgres dbname=%s connect_timeout=5",
             r->port[node], dbname);
    c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pgrepl: node %d: %s", node, PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    res = PQexec(c, sql);
    if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK) {
        rc = 0;
    } else {
        fprintf(stderr, "pgrepl: node %d: %s: %s", node, sql, PQerrorMessage(c));
    }
    PQclear(res);
    PQfinish(c);
    return rc;
}

struct it_pgrepl *it_pgrepl_start_on(const int ports[2])
{
    struct it_pgrepl *r = calloc(1, sizeof(*r));
    char data0[128];
    char data1[128];
    char port0[16];
    const char *initdb[] = {"-D",        data0, "-A",   "trust",      "-U", "postgres",
                            "--no-sync", "-E",  "UTF8", "--locale=C", NULL};
    const char *basebackup[] = {"-h",       "127.0.0.1", "-p",  port0,  "-U",
                                "postgres", "-D",        data1, "-R",   "-X",
                                "stream",   "--no-sync", "-c",  "fast", NULL};

    if (r == NULL) {
        return NULL;
    }
    snprintf(r->dir, sizeof(r->dir), "/tmp/bbs-it-pgrepl-XXXXXX");
    if (find_bin(r->bin, sizeof(r->bin)) != 0 || mkdtemp(r->dir) == NULL ||
        chmod(r->dir, 0755) != 0) {
        fprintf(stderr, "pgrepl: cannot make %s: %s\n", r->dir, strerror(errno));
        free(r);
        return NULL;
    }
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");

        if (pw == NULL || chown(r->dir, pw->pw_uid, pw->pw_gid) != 0) {
            fprintf(stderr, "pgrepl: running as root but cannot give %s to postgres\n", r->dir);
            it_pgrepl_free(r);
            return NULL;
        }
    }
    if (ports != NULL) {
        r->port[0] = ports[0];
        r->port[1] = ports[1];
    } else {
        r->port[0] = it_free_port();
        r->port[1] = it_free_port();
        while (r->port[1] == r->port[0]) {
            r->port[1] = it_free_port();
        }
    }
    snprintf(data0, sizeof(data0), "%s/node0", r->dir);
    snprintf(data1, sizeof(data1), "%s/node1", r->dir);
    snprintf(port0, sizeof(port0), "%d", r->port[0]);
    /* Synchronous only once the standby streams: before that every
     * commit on the primary would wait for it. */
    if (pg_tool(r, "initdb", initdb) != 0 || node_conf(r, 0) != 0 || node_start(r, 0) != 0 ||
        pg_tool(r, "pg_basebackup", basebackup) != 0 || node_conf(r, 1) != 0 ||
        node_start(r, 1) != 0 || make_sync(r) != 0 || write_conninfo(r) != 0) {
        char path[128];
        char *text;

        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof(path), "%s/%s", r->dir,
                     i == 0   ? "setup.log"
                     : i == 1 ? "node0.log"
                              : "node1.log");
            text = it_read_file(path, NULL);
            fprintf(stderr, "pgrepl: --- %s ---\n%s\n", path, text != NULL ? text : "(none)");
            free(text);
        }
        it_pgrepl_free(r);
        return NULL;
    }
    return r;
}

const char *it_pgrepl_dir(const struct it_pgrepl *r)
{
    return r->dir;
}

int it_pgrepl_port(const struct it_pgrepl *r, int node)
{
    return r->port[node];
}

/* The pid of node `node`'s postmaster (first line of postmaster.pid), or -1. */
static pid_t postmaster_pid(const struct it_pgrepl *r, int node)
{
    char path[160];
    char *text;
    pid_t pid;

    snprintf(path, sizeof(path), "%s/node%d/postmaster.pid", r->dir, node);
    text = it_read_file(path, NULL);
    if (text == NULL) {
        return -1;
    }
    pid = (pid_t)atol(text);
    free(text);
    return pid > 0 ? pid : -1;
}

/* The parent pid in /proc/<pid>/stat, or -1. */
static pid_t parent_of(pid_t pid)
{
    char path[64];
    char *text;
    char *p;
    pid_t ppid = -1;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    text = it_read_file(path, NULL);
    if (text == NULL) {
        return -1;
    }
    /* "pid (comm) state ppid ...": comm may hold spaces and ')'. */
    p = strrchr(text, ')');
    if (p != NULL && p[1] == ' ' && p[2] != '\0' && p[3] == ' ') {
        ppid = (pid_t)atol(p + 4);
    }
    free(text);
    return ppid;
}

int it_pgrepl_kill_primary(struct it_pgrepl *r)
{
    pid_t pm = postmaster_pid(r, 0);
    pid_t children[256];
    size_t n = 0;
    DIR *d;
    struct dirent *e;
    int64_t deadline;

    if (pm <= 0) {
        fprintf(stderr, "pgrepl: the primary has no postmaster.pid\n");
        return -1;
    }
    d = opendir("/proc");
    if (d == NULL) {
        return -1;
    }
    while ((e = readdir(d)) != NULL && n < sizeof(children) / sizeof(children[0])) {
        pid_t pid = (pid_t)atol(e->d_name);

        if (pid > 0 && parent_of(pid) == pm) {
            children[n++] = pid;
        }
    }
    closedir(d);
    if (kill(pm, SIGKILL) != 0) {
        fprintf(stderr, "pgrepl: kill %ld: %s\n", (long)pm, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        kill(children[i], SIGKILL);
    }
    deadline = it_mono_ms() + 10000;
    while (kill(pm, 0) == 0 || (n > 0 && kill(children[n - 1], 0) == 0)) {
        if (it_mono_ms() > deadline) {
            fprintf(stderr, "pgrepl: the primary's processes outlive SIGKILL\n");
            return -1;
        }
        it_sleep_ms(20);
    }
    return 0;
}

int it_pgrepl_promote(struct it_pgrepl *r)
{
    char data[128];
    const char *args[] = {"-D", data, "-w", "-t", "60", "promote", NULL};

    snprintf(data, sizeof(data), "%s/node1", r->dir);
    if (pg_tool(r, "pg_ctl", args) != 0) {
        return -1;
    }
    r->promoted = 1;
    return wait_true(r, 1, "SELECT NOT pg_is_in_recovery()", 30000);
}

void it_pgrepl_free(struct it_pgrepl *r)
{
    const char *rm[] = {"rm", "-rf", NULL, NULL};

    if (r == NULL) {
        return;
    }
    for (int node = 0; node < 2; node++) {
        char data[128];
        const char *args[] = {"-D", data, "-m", "immediate", "-w", "-t", "30", "stop", NULL};

        snprintf(data, sizeof(data), "%s/node%d", r->dir, node);
        pid_t pid = postmaster_pid(r, node);

        if (pid > 0 && kill(pid, 0) == 0) {
            (void)pg_tool(r, "pg_ctl", args); /* a killed node has nothing to stop */
        }
    }
    rm[2] = r->dir;
    it_run(rm, NULL);
    free(r);
}
