/*
 * pgembed.c - a private PostgreSQL cluster (see pgembed.h).
 *
 * Layout under <data_dir>: bbs.lock (see below), postgres/ (the cluster),
 * run/ (its Unix socket; the server has no TCP listener) and postgres.log
 * (output of initdb, pg_ctl and PostgreSQL's own log: none of it reaches
 * our stdout, which carries JSON log lines). The server keeps fsync on:
 * when no database URL is configured this cluster *is* the store. Only the
 * test fixture (tests/fixtures/pg_start.sh) trades durability for speed.
 *
 * One server per data folder. bbs.lock is flock()ed for the server's life
 * (and its pid written into it for the refusal message); the kernel drops
 * the lock when the last holder dies, SIGKILL included. Holding it, the
 * server owns the folder, so a postmaster found running there belongs to
 * a dead server and is stopped before ours starts, and a server only ever
 * stops a cluster it holds the lock for.
 *
 * The postmaster must not outlive its server, even one killed with
 * SIGKILL, which runs no code. So a watchdog process, forked at start-up,
 * waits on a pipe whose only write end the server holds: end-of-file
 * without the "done" byte means the server is gone, and the watchdog runs
 * `pg_ctl stop -m fast`. It shares the lock's open file description, so
 * the folder stays locked until the cluster is down and a new server
 * cannot start beside a postmaster that is still shutting down. (A pipe
 * rather than PR_SET_PDEATHSIG: that fires when the forking *thread*
 * exits, and is cleared across runuser's change of credentials.)
 *
 * The server is a child subreaper (PR_SET_CHILD_SUBREAPER): pg_ctl
 * daemonises the postmaster, which is then re-parented to us rather than
 * to init. Its death is thus a waitpid() away, exact and immune to pid
 * reuse, which bbs_pgembed_check() uses to restart it.
 *
 * Not done here: deciding between an external and the embedded database
 * (main.c), migrations (migrate.c), pooling (the store).
 *
 * Programs run through fork/execv, never through a shell command we build.
 * pg_ctl itself, however, hands -D, -l and -o to /bin/sh inside double
 * quotes, and unix_socket_directories is a comma-separated list, so a
 * data_dir with quote, shell or list characters is refused up front rather
 * than escaped.
 *
 * The socket directory is 0700: the cluster uses trust authentication, so
 * reaching the socket is what grants access (to the owner, and root).
 */
/* realpath() is POSIX but in the XSI option, which _POSIX_C_SOURCE alone hides. */
#define _XOPEN_SOURCE 700

#include "bbs/pgembed.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bbs/log.h"
#include "bbs/xalloc.h"

#define PGEMBED_PORT        "5432"
#define PGEMBED_SOCKET_NAME "/.s.PGSQL." PGEMBED_PORT
/* sizeof(((struct sockaddr_un *)0)->sun_path) - 1 on Linux. */
#define PGEMBED_SUN_PATH_MAX 107
#define PGEMBED_LOG_TAIL     1024
#define PGEMBED_PG_ROOT      "/usr/lib/postgresql"
/* Upper bound on descriptors closed in the child before exec. */
#define PGEMBED_MAX_FD 65536
/* How long a new server waits for a dead server's watchdog to stop its cluster. */
#define PGEMBED_LOCK_WAIT_MS 60000
/* Restarts of a dead postmaster that may fail in a row before check gives up. */
#define PGEMBED_MAX_RESTART_FAILURES 5
/* The byte that tells the watchdog the server stopped the cluster itself. */
#define PGEMBED_WATCHDOG_DONE 'q'

struct bbs_pgembed {
    char *bin_dir;   /* holds initdb and pg_ctl */
    char *data_dir;  /* absolute, resolved */
    char *pgdata;    /* <data_dir>/postgres */
    char *sockdir;   /* <data_dir>/run */
    char *logfile;   /* <data_dir>/postgres.log */
    char *initdb;    /* <bin_dir>/initdb */
    char *pg_ctl;    /* <bin_dir>/pg_ctl */
    int as_postgres; /* euid 0: programs run via `runuser -u postgres --` */
    char *runuser;   /* its absolute path, when as_postgres */
    uid_t pg_uid;
    gid_t pg_gid;
    char *lockfile;       /* <data_dir>/bbs.lock */
    char *pidfile;        /* <pgdata>/postmaster.pid */
    int lock_fd;          /* flock()ed for our life; -1 before */
    pid_t watchdog;       /* 0 when none */
    int watchdog_fd;      /* write end of its pipe; -1 when none */
    pid_t postmaster;     /* the one we started (0: none running) */
    int restart_failures; /* failed restarts in a row */
    int maybe_running;    /* pg_ctl start was run and no stop has succeeded since */
};

/* printf into a fresh heap string; out of memory aborts. */
__attribute__((format(printf, 1, 2))) static char *pgembed_strf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        bbs_out_of_memory((size_t)INT_MAX + 1); /* EOVERFLOW: longer than INT_MAX */
    }
    s = bbs_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void pgembed_free(struct bbs_pgembed *pg)
{
    if (pg == NULL) {
        return;
    }
    free(pg->bin_dir);
    free(pg->data_dir);
    free(pg->pgdata);
    free(pg->sockdir);
    free(pg->logfile);
    free(pg->initdb);
    free(pg->pg_ctl);
    free(pg->runuser);
    free(pg->lockfile);
    free(pg->pidfile);
    free(pg);
}

/*
 * The last PGEMBED_LOG_TAIL bytes of postgres.log, starting at a line
 * boundary, with anything but printable ASCII and newlines replaced so the
 * text is always valid UTF-8 for the JSON log line. "" if unreadable.
 */
static void pgembed_log_tail(const struct bbs_pgembed *pg, char *buf, size_t size)
{
    struct stat st;
    ssize_t n = 0;
    off_t start = 0;
    char *p;
    int fd;

    buf[0] = '\0';
    fd = open(pg->logfile, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    if (fstat(fd, &st) == 0 && st.st_size > (off_t)(size - 1)) {
        start = st.st_size - (off_t)(size - 1);
    }
    if (lseek(fd, start, SEEK_SET) == start) {
        n = read(fd, buf, size - 1);
    }
    close(fd);
    if (n <= 0) {
        return;
    }
    buf[n] = '\0';
    p = buf;
    if (start > 0 && (p = strchr(buf, '\n')) != NULL) {
        p++; /* drop the partial first line */
        memmove(buf, p, strlen(p) + 1);
    }
    for (p = buf; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c != '\n' && (c < 0x20 || c > 0x7e)) {
            *p = '?';
        }
    }
}

/* Room for runuser's four words, a program's arguments and the NULL. */
#define PGEMBED_ARGV_MAX 24

/*
 * What a child needs to exec one program the way pgembed_run() does,
 * prepared before fork(): between fork and exec only async-signal-safe
 * calls are allowed, since other threads may hold the malloc lock.
 */
struct pgembed_exec {
    const char *argv[PGEMBED_ARGV_MAX];
    int null_fd;
    int log_fd;
    long max_fd;
    const char *dir;
};

static void pgembed_exec_close(struct pgembed_exec *x)
{
    if (x->null_fd >= 0) {
        close(x->null_fd);
    }
    if (x->log_fd >= 0) {
        close(x->log_fd);
    }
    x->null_fd = -1;
    x->log_fd = -1;
}

/* Prefix `argv` with runuser when root, open /dev/null and postgres.log. */
static int pgembed_exec_prepare(const struct bbs_pgembed *pg, const char *const *argv,
                                struct pgembed_exec *x, struct bbs_error *err)
{
    size_t n = 0;

    if (pg->as_postgres) {
        x->argv[n++] = pg->runuser;
        x->argv[n++] = "-u";
        x->argv[n++] = "postgres";
        x->argv[n++] = "--";
    }
    for (size_t i = 0; argv[i] != NULL && n < PGEMBED_ARGV_MAX - 1; i++) {
        x->argv[n++] = argv[i];
    }
    x->argv[n] = NULL;
    x->max_fd = sysconf(_SC_OPEN_MAX);
    if (x->max_fd < 0 || x->max_fd > PGEMBED_MAX_FD) {
        x->max_fd = PGEMBED_MAX_FD;
    }
    x->dir = pg->data_dir;
    x->null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    x->log_fd = open(pg->logfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (x->null_fd < 0 || x->log_fd < 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "embedded postgres: cannot open %s: %s",
                       x->null_fd < 0 ? "/dev/null" : pg->logfile, strerror(errno));
        pgembed_exec_close(x);
        return -1;
    }
    return 0;
}

/* Close every descriptor from 3 up, except those in keep[0..n). Async-signal-safe. */
static void pgembed_close_fds(long max_fd, const int *keep, size_t n)
{
    for (long fd = 3; fd < max_fd; fd++) {
        int kept = 0;
        for (size_t i = 0; i < n; i++) {
            kept |= keep[i] == (int)fd;
        }
        if (!kept) {
            close((int)fd);
        }
    }
}

/*
 * In a freshly forked child: exec x->argv with stdin from /dev/null and
 * stdout and stderr to postgres.log, in data_dir. Async-signal-safe.
 */
__attribute__((noreturn)) static void pgembed_exec_child(const struct pgembed_exec *x)
{
    sigset_t none;

    /*
     * A server may block or ignore signals before we get here; the
     * postmaster must not inherit that, nor our sockets and files.
     */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    if (dup2(x->null_fd, 0) < 0 || dup2(x->log_fd, 1) < 0 || dup2(x->log_fd, 2) < 0) {
        _exit(127);
    }
    pgembed_close_fds(x->max_fd, NULL, 0);
    /* The caller's cwd may be unreadable for postgres (e.g. /root). */
    if (chdir(x->dir) != 0) {
        _exit(127);
    }
    execv(x->argv[0], (char *const *)x->argv);
    _exit(127);
}

/*
 * Run `argv` (argv[0] an absolute path) to completion: as the postgres
 * user when root, in data_dir, with stdin from /dev/null and stdout and
 * stderr appended to postgres.log (our stdout carries JSON log lines).
 * Returns the exit status, or -1 with `err` set if it could not be started
 * or died of a signal.
 */
static int pgembed_run(const struct bbs_pgembed *pg, const char *const *argv, struct bbs_error *err)
{
    struct pgembed_exec x = {.null_fd = -1, .log_fd = -1};
    pid_t pid;
    int status;
    int rc = -1;

    if (pgembed_exec_prepare(pg, argv, &x, err) != 0) {
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "embedded postgres: fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        pgembed_exec_child(&x);
    }

    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            bbs_error_setf(err, BBS_ERR_UNKNOWN, "embedded postgres: waitpid %s: %s", argv[0],
                           strerror(errno));
            goto out;
        }
    }
    if (WIFEXITED(status)) {
        rc = WEXITSTATUS(status);
    } else {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "embedded postgres: %s killed by signal %d", argv[0],
                       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }

out:
    pgembed_exec_close(&x);
    return rc;
}

/* Set `err` for a program that exited with `status`, quoting postgres.log. */
static void pgembed_fail(const struct bbs_pgembed *pg, const char *what, int status,
                         struct bbs_error *err)
{
    char tail[PGEMBED_LOG_TAIL + 1];

    pgembed_log_tail(pg, tail, sizeof(tail));
    bbs_error_setf(err, BBS_ERR_UNKNOWN,
                   "embedded postgres: %s failed (exit status %d%s); see %s. Last log lines:\n%s",
                   what, status, status == 127 ? ": could not execute it" : "", pg->logfile, tail);
}

/*
 * Parse a /usr/lib/postgresql/<v> directory name ("15", "9.6") into a
 * comparable number; -1 if it is not a version.
 */
static long pgembed_version(const char *name)
{
    char *end = NULL;
    long major;
    long minor = 0;

    if (name[0] < '0' || name[0] > '9') {
        return -1;
    }
    major = strtol(name, &end, 10);
    if (*end == '.') {
        minor = strtol(end + 1, &end, 10);
    }
    if (*end != '\0' || major > 100000 || minor > 99) {
        return -1;
    }
    return major * 100 + minor;
}

/*
 * runuser lives in /usr/sbin on Debian, which a root PATH may lack (cron,
 * `su` without -l). Resolved here because execvp is not async-signal-safe
 * and so cannot be used between fork and exec.
 */
static int pgembed_find_runuser(struct bbs_pgembed *pg, struct bbs_error *err)
{
    static const char *const dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
    const char *path = getenv("PATH");
    char *copy = NULL;
    char *save = NULL;

    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && pg->runuser == NULL; i++) {
        char *cand = pgembed_strf("%s/runuser", dirs[i]);
        if (access(cand, X_OK) == 0) {
            pg->runuser = cand;
        } else {
            free(cand);
        }
    }
    copy = pgembed_strf("%s", path != NULL ? path : "");
    for (char *d = strtok_r(copy, ":", &save); d != NULL && pg->runuser == NULL;
         d = strtok_r(NULL, ":", &save)) {
        char *cand = pgembed_strf("%s/runuser", d);
        if (d[0] == '/' && access(cand, X_OK) == 0) {
            pg->runuser = cand;
        } else {
            free(cand);
        }
    }
    free(copy);
    if (pg->runuser == NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN,
                       "embedded postgres: running as root needs runuser (Debian package "
                       "util-linux) to run PostgreSQL as user postgres, and it was not found");
        return -1;
    }
    return 0;
}

/* Resolve bin_dir ("" = newest /usr/lib/postgresql/<v>/bin with pg_ctl). */
static int pgembed_find_bin(struct bbs_pgembed *pg, const char *bin_dir, struct bbs_error *err)
{
    DIR *d = NULL;
    struct dirent *e;
    long best = -1;
    int rc = -1;

    if (bin_dir != NULL && bin_dir[0] != '\0') {
        pg->bin_dir = pgembed_strf("%s", bin_dir);
    } else {
        d = opendir(PGEMBED_PG_ROOT);
        while (d != NULL && (e = readdir(d)) != NULL) {
            long v = pgembed_version(e->d_name);
            char *cand;

            if (v <= best) {
                continue;
            }
            cand = pgembed_strf("%s/%s/bin", PGEMBED_PG_ROOT, e->d_name);
            char *ctl = pgembed_strf("%s/pg_ctl", cand);
            if (access(ctl, X_OK) == 0) {
                best = v;
                free(pg->bin_dir);
                pg->bin_dir = cand;
                cand = NULL;
            }
            free(ctl);
            free(cand);
        }
        if (pg->bin_dir == NULL) {
            bbs_error_setf(err, BBS_ERR_UNKNOWN,
                           "embedded postgres: no PostgreSQL server found under %s/<version>/bin "
                           "(install the Debian package `postgresql`, or set the PostgreSQL "
                           "binary directory in the config)",
                           PGEMBED_PG_ROOT);
            goto out;
        }
    }
    pg->initdb = pgembed_strf("%s/initdb", pg->bin_dir);
    pg->pg_ctl = pgembed_strf("%s/pg_ctl", pg->bin_dir);
    if (access(pg->initdb, X_OK) != 0 || access(pg->pg_ctl, X_OK) != 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN,
                       "embedded postgres: %s does not hold executable initdb and pg_ctl",
                       pg->bin_dir);
        goto out;
    }
    rc = 0;

out:
    if (d != NULL) {
        closedir(d);
    }
    return rc;
}

/*
 * mkdir -p. Directories we create get exactly `mode` (umask would
 * otherwise strip the bits postgres needs to traverse them); existing ones
 * are left alone.
 */
static int pgembed_mkdir_p(const char *path, mode_t mode, struct bbs_error *err)
{
    char *p = pgembed_strf("%s", path);
    struct stat st;
    int rc = -1;

    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') {
            continue;
        }
        char saved = *s;
        *s = '\0';
        if (mkdir(p, mode) == 0) {
            if (chmod(p, mode) != 0) {
                bbs_error_setf(err, BBS_ERR_UNKNOWN, "embedded postgres: chmod %s: %s", p,
                               strerror(errno));
                goto out;
            }
        } else if (errno != EEXIST || stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
            bbs_error_setf(err, BBS_ERR_UNKNOWN,
                           "embedded postgres: cannot create directory %s: %s", p,
                           errno == EEXIST ? "exists and is not a directory" : strerror(errno));
            goto out;
        }
        *s = saved;
        if (saved == '\0') {
            break;
        }
    }
    rc = 0;

out:
    free(p);
    return rc;
}

/* pg_ctl builds a sh command line; see the file comment. */
static int pgembed_check_chars(const char *path, struct bbs_error *err)
{
    for (const char *p = path; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f || strchr("\"'\\$`,", c) != NULL) {
            bbs_error_setf(err, BBS_ERR_UNKNOWN,
                           "embedded postgres: data_dir %s contains a character pg_ctl cannot pass "
                           "safely (one of \" ' \\ $ ` , or a control character); choose another "
                           "data_dir",
                           path);
            return -1;
        }
    }
    return 0;
}

static int pgembed_in_group(gid_t gid, const char *user)
{
    /* Only called during single-threaded start-up, so getgrgid is fine. */
    struct group *gr = getgrgid(gid);

    for (size_t i = 0; gr != NULL && gr->gr_mem[i] != NULL; i++) {
        if (strcmp(gr->gr_mem[i], user) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * As root the server runs as postgres, which must be able to search every
 * directory from / down to data_dir. A data_dir under /root (0700) is the
 * usual way to get this wrong.
 */
static int pgembed_check_reach(const struct bbs_pgembed *pg, struct bbs_error *err)
{
    char *p = pgembed_strf("%s", pg->data_dir);
    struct stat st;
    int rc = -1;

    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') {
            continue;
        }
        char saved = *s;
        *s = '\0';
        if (stat(p, &st) != 0) {
            bbs_error_setf(err, BBS_ERR_UNKNOWN, "embedded postgres: stat %s: %s", p,
                           strerror(errno));
            goto out;
        }
        mode_t bit = S_IXOTH;
        if (st.st_uid == pg->pg_uid) {
            bit = S_IXUSR;
        } else if (st.st_gid == pg->pg_gid || pgembed_in_group(st.st_gid, "postgres")) {
            bit = S_IXGRP;
        }
        if ((st.st_mode & bit) == 0) {
            bbs_error_setf(err, BBS_ERR_UNKNOWN,
                           "embedded postgres: running as root, the server runs as user postgres, "
                           "which cannot reach %s: directory %s is not searchable by it (mode "
                           "%04o). Choose a data_dir under /var/lib or /tmp (e.g. /var/lib/bbs), "
                           "or chmod o+x %s",
                           pg->data_dir, p, (unsigned)(st.st_mode & 07777), p);
            goto out;
        }
        *s = saved;
        if (saved == '\0') {
            break;
        }
    }
    rc = 0;

out:
    free(p);
    return rc;
}

/*
 * Create postgres/ and run/ (0700) and postgres.log, owned by postgres
 * when root. Only these are handed over: data_dir itself stays the
 * caller's.
 */
static int pgembed_prepare(struct bbs_pgembed *pg, struct bbs_error *err)
{
    const char *dirs[] = {pg->pgdata, pg->sockdir};
    int fd;

    for (size_t i = 0; i < 2; i++) {
        if (pgembed_mkdir_p(dirs[i], 0700, err) != 0) {
            return -1;
        }
        /* postgres refuses a group- or world-accessible data directory. */
        if ((pg->as_postgres && chown(dirs[i], pg->pg_uid, pg->pg_gid) != 0) ||
            chmod(dirs[i], 0700) != 0) {
            bbs_error_setf(err, BBS_ERR_UNKNOWN, "embedded postgres: cannot hand %s to %s: %s",
                           dirs[i], pg->as_postgres ? "user postgres" : "this user",
                           strerror(errno));
            return -1;
        }
    }
    fd = open(pg->logfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || (pg->as_postgres && fchown(fd, pg->pg_uid, pg->pg_gid) != 0)) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "embedded postgres: cannot create %s: %s", pg->logfile,
                       strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    close(fd);
    return 0;
}

/*
 * initdb once. A failing initdb removes what it created, so PG_VERSION
 * means a cluster; only a killed initdb leaves a half-made one, which
 * pg_ctl start then rejects with a log line saying so.
 */
static int pgembed_initdb(struct bbs_pgembed *pg, struct bbs_error *err)
{
    char *version = pgembed_strf("%s/PG_VERSION", pg->pgdata);
    int exists = access(version, F_OK) == 0;
    int status;

    free(version);
    if (exists) {
        return 0;
    }
    bbs_log(BBS_LOG_INFO, "pgembed.initdb", "{s:s}", "pgdata", pg->pgdata);
    const char *argv[] = {pg->initdb, "-D",        pg->pgdata, "-A",   "trust",      "-U",
                          "postgres", "--no-sync", "-E",       "UTF8", "--locale=C", NULL};
    status = pgembed_run(pg, argv, err);
    if (status < 0) {
        return -1;
    }
    if (status != 0) {
        pgembed_fail(pg, "initdb", status, err);
        return -1;
    }
    return 0;
}

static void pgembed_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int64_t pgembed_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first line of `path` as a pid; 0 if absent or not a number. */
static pid_t pgembed_read_pid(const char *path)
{
    char buf[32];
    char *end = NULL;
    ssize_t n;
    long v;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    v = strtol(buf, &end, 10);
    if (end == buf || (*end != '\n' && *end != '\0') || v <= 0 || v > INT32_MAX) {
        return 0;
    }
    return (pid_t)v;
}

/*
 * Is there a live process `pid` (one we may not signal counts)? A zombie
 * does not: a server killed with SIGKILL stays one until its parent (a
 * supervisor, a shell) reaps it.
 */
static int pgembed_alive(pid_t pid)
{
    char path[64];
    char buf[256];
    char *paren;
    ssize_t n;
    int fd;

    if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM)) {
        return 0;
    }
    /* /proc/<pid>/stat is "pid (comm) S ...": the state follows the last ')'. */
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 1; /* no /proc: trust kill() */
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 1;
    }
    buf[n] = '\0';
    paren = strrchr(buf, ')');
    return paren == NULL || paren[1] != ' ' || (paren[2] != 'Z' && paren[2] != 'X');
}

/*
 * Take <data_dir>/bbs.lock for the server's life. If another live server
 * holds it, refuse. If it is held but the pid written in it is gone, the
 * holder is a dead server's watchdog stopping that server's cluster: wait
 * for it (up to PGEMBED_LOCK_WAIT_MS), so a supervisor restarting a killed
 * server gets the folder as soon as it is clean.
 */
static int pgembed_lock(struct bbs_pgembed *pg, struct bbs_error *err)
{
    int64_t deadline = pgembed_mono_ms() + PGEMBED_LOCK_WAIT_MS;
    int waited = 0;
    char line[32];
    int fd;
    int n;

    fd = open(pg->lockfile, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "embedded postgres: cannot open %s: %s", pg->lockfile,
                       strerror(errno));
        return -1;
    }
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        pid_t owner;

        if (errno == EINTR) {
            continue;
        }
        if (errno != EWOULDBLOCK) {
            bbs_error_setf(err, BBS_ERR_UNKNOWN, "embedded postgres: cannot lock %s: %s",
                           pg->lockfile, strerror(errno));
            close(fd);
            return -1;
        }
        owner = pgembed_read_pid(pg->lockfile);
        if (owner > 0 && !pgembed_alive(owner) && pgembed_mono_ms() < deadline) {
            if (!waited) {
                bbs_log(BBS_LOG_INFO, "pgembed.waiting-for-previous-server", "{s:s, s:i}",
                        "data_dir", pg->data_dir, "previous_pid", (int)owner);
                waited = 1;
            }
            pgembed_sleep_ms(100);
            continue;
        }
        if (owner > 0 && !pgembed_alive(owner)) {
            bbs_error_setf(err, BBS_ERR_UNKNOWN,
                           "data_dir %s is still locked (%s) %d s after its server, pid %ld, "
                           "exited: that server's watchdog has not managed to stop its "
                           "PostgreSQL; see %s",
                           pg->data_dir, pg->lockfile, PGEMBED_LOCK_WAIT_MS / 1000, (long)owner,
                           pg->logfile);
        } else {
            bbs_error_setf(err, BBS_ERR_UNKNOWN,
                           "data_dir %s is in use by another bbs server (pid %ld holds %s): each "
                           "server needs its own data_dir (or a shared "
                           "database_connection_string)",
                           pg->data_dir, (long)owner, pg->lockfile);
        }
        close(fd);
        return -1;
    }
    /* For the message above, in the next server that finds the folder taken. */
    n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "embedded postgres: cannot write %s: %s", pg->lockfile,
                       strerror(errno));
        close(fd);
        return -1;
    }
    pg->lock_fd = fd;
    return 0;
}

/*
 * Fork the watchdog (see the file comment). It keeps the pipe's read end,
 * the lock and what pg_ctl stop needs, closes everything else (above all
 * our listening sockets, which must die with us), ignores the signals a
 * terminal or a supervisor sends to the whole process group, and waits.
 * Only async-signal-safe calls after fork().
 */
static int pgembed_watchdog_start(struct bbs_pgembed *pg, struct bbs_error *err)
{
    const char *argv[] = {pg->pg_ctl, "-D", pg->pgdata, "-m",   "fast",
                          "-w",       "-t", "60",       "stop", NULL};
    struct pgembed_exec x = {.null_fd = -1, .log_fd = -1};
    int fds[2] = {-1, -1};
    pid_t pid;
    int rc = -1;

    if (pgembed_exec_prepare(pg, argv, &x, err) != 0) {
        return -1;
    }
    /* Close-on-exec at once: no other thread forks (only this module does, from one thread). */
    if (pipe(fds) != 0 || fcntl(fds[0], F_SETFD, FD_CLOEXEC) != 0 ||
        fcntl(fds[1], F_SETFD, FD_CLOEXEC) != 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "embedded postgres: pipe: %s", strerror(errno));
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "embedded postgres: fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        const int keep[] = {fds[0], pg->lock_fd, x.null_fd, x.log_fd};
        sigset_t none;
        char c = 0;
        ssize_t n;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGQUIT, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        signal(SIGCHLD, SIG_DFL);
        setsid();
        pgembed_close_fds(x.max_fd, keep, sizeof(keep) / sizeof(keep[0]));
        while ((n = read(fds[0], &c, 1)) < 0 && errno == EINTR) {
        }
        if (n == 1 && c == PGEMBED_WATCHDOG_DONE) {
            _exit(0);
        }
        pid = fork();
        if (pid == 0) {
            pgembed_exec_child(&x);
        }
        while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        _exit(0);
    }
    pg->watchdog = pid;
    pg->watchdog_fd = fds[1];
    fds[1] = -1;
    rc = 0;

out:
    if (fds[0] >= 0) {
        close(fds[0]);
    }
    if (fds[1] >= 0) {
        close(fds[1]);
    }
    pgembed_exec_close(&x);
    return rc;
}

/*
 * Dismiss the watchdog and wait for it. With `done` it exits at once;
 * without (we could not stop the cluster ourselves) it tries pg_ctl stop
 * before exiting.
 */
static void pgembed_watchdog_stop(struct bbs_pgembed *pg, int done)
{
    const char c = PGEMBED_WATCHDOG_DONE;

    if (pg->watchdog_fd >= 0) {
        if (done && write(pg->watchdog_fd, &c, 1) != 1) {
            /* Then it sees EOF and runs a pg_ctl stop that finds nothing to stop. */
        }
        close(pg->watchdog_fd);
        pg->watchdog_fd = -1;
    }
    while (pg->watchdog > 0 && waitpid(pg->watchdog, NULL, 0) < 0 && errno == EINTR) {
    }
    pg->watchdog = 0;
}

/*
 * Before starting: we hold the lock, so a postmaster running on this
 * cluster was left by a dead server (or by an older bbs without the
 * lock). Stop it, so that the cluster we serve is one we started, with our
 * settings. A postmaster chdirs into its data directory, so
 * /proc/<pid>/cwd tells a postmaster of this cluster from an unrelated
 * process that reused the pid of postmaster.pid (after a reboot, or a
 * container restart, where pids are small): such a pid file is removed,
 * since PostgreSQL would refuse to start over it while that pid lives.
 */
static int pgembed_stop_stale(struct bbs_pgembed *pg, struct bbs_error *err)
{
    const char *argv[] = {pg->pg_ctl, "-D", pg->pgdata, "-m",   "fast",
                          "-w",       "-t", "60",       "stop", NULL};
    char proc[64];
    char cwd[4096];
    pid_t pid;
    ssize_t n;
    int status;

    pid = pgembed_read_pid(pg->pidfile);
    if (pid == 0 || !pgembed_alive(pid)) {
        return 0; /* no pid file, or a stale one: PostgreSQL replaces it */
    }
    snprintf(proc, sizeof(proc), "/proc/%ld/cwd", (long)pid);
    n = readlink(proc, cwd, sizeof(cwd) - 1);
    if (n < 0 || (size_t)n != strlen(pg->pgdata) || memcmp(cwd, pg->pgdata, (size_t)n) != 0) {
        bbs_log(BBS_LOG_INFO, "pgembed.removed-stale-pid-file", "{s:s, s:i}", "pid_file",
                pg->pidfile, "pid", (int)pid);
        if (unlink(pg->pidfile) != 0 && errno != ENOENT) {
            bbs_error_setf(err, BBS_ERR_UNKNOWN, "embedded postgres: cannot remove %s: %s",
                           pg->pidfile, strerror(errno));
            return -1;
        }
        return 0;
    }
    bbs_log(BBS_LOG_INFO, "pgembed.stopping-stale-postmaster", "{s:s, s:i}", "pgdata", pg->pgdata,
            "pid", (int)pid);
    status = pgembed_run(pg, argv, err);
    if (status < 0) {
        return -1;
    }
    if (status != 0) {
        pgembed_fail(pg, "pg_ctl stop (of a postmaster left by a previous server)", status, err);
        return -1;
    }
    return 0;
}

/* pg_ctl start, after stopping whatever a dead server left running. */
static int pgembed_start_server(struct bbs_pgembed *pg, struct bbs_error *err)
{
    char *opts = NULL;
    int status;
    int rc = -1;

    if (pgembed_stop_stale(pg, err) != 0) {
        goto out;
    }

    /*
     * Single quotes keep the socket directory one word for pg_ctl's shell;
     * pgembed_check_chars() ruled out quotes inside it. port is explicit so
     * a PGPORT in our environment cannot move the socket. wal_compression
     * shrinks the full-page images that dominate WAL after a checkpoint
     * (desire writes ~100 rows at once), with no loss of durability.
     */
    opts = pgembed_strf("-c listen_addresses='' -c port=" PGEMBED_PORT
                        " -c unix_socket_directories='%s' -c max_connections=300"
                        " -c wal_compression=lz4",
                        pg->sockdir);
    const char *argv[] = {pg->pg_ctl, "-D",  pg->pgdata, "-l", pg->logfile, "-w",
                          "-t",       "120", "-o",       opts, "start",     NULL};
    status = pgembed_run(pg, argv, err);
    if (status < 0) {
        goto out;
    }
    if (status != 0) {
        pgembed_fail(pg, "pg_ctl start", status, err);
        goto out;
    }
    /* pg_ctl -w returns once postmaster.pid says the server is ready. */
    pg->postmaster = pgembed_read_pid(pg->pidfile);
    if (pg->postmaster == 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "embedded postgres: no pid in %s after pg_ctl start",
                       pg->pidfile);
        goto out;
    }
    bbs_log(BBS_LOG_INFO, "pgembed.started", "{s:s, s:s, s:i}", "pgdata", pg->pgdata, "socket_dir",
            pg->sockdir, "pid", (int)pg->postmaster);
    rc = 0;

out:
    free(opts);
    return rc;
}

/*
 * Has our postmaster exited? Reaps it if so. As a subreaper we are its
 * parent; ECHILD (not re-parented to us after all) falls back to kill(0).
 * With `status` non-NULL it receives the wait status (0 when unknown).
 */
static int pgembed_postmaster_exited(struct bbs_pgembed *pg, int *status)
{
    int st = 0;
    pid_t r;

    if (pg->postmaster <= 0) {
        return 1;
    }
    while ((r = waitpid(pg->postmaster, &st, WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r == 0 || (r < 0 && pgembed_alive(pg->postmaster))) {
        return 0;
    }
    if (status != NULL) {
        *status = r > 0 ? st : 0;
    }
    return 1;
}

static int pgembed_create_db(const struct bbs_pgembed *pg, struct bbs_error *err)
{
    const char *const keys[] = {"host", "port", "user", "dbname", "connect_timeout", NULL};
    const char *const vals[] = {pg->sockdir, PGEMBED_PORT, "postgres", "postgres", "10", NULL};
    PGconn *conn = NULL;
    PGresult *res = NULL;
    int rc = -1;

    conn = PQconnectdbParams(keys, vals, 0);
    if (conn == NULL) {
        bbs_out_of_memory(0); /* libpq's only reason for NULL */
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "embedded postgres: cannot connect via %s: %s",
                       pg->sockdir, PQerrorMessage(conn));
        goto out;
    }
    res = PQexec(conn, "SELECT 1 FROM pg_database WHERE datname = 'bbs'");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "embedded postgres: looking up database bbs: %s",
                       PQerrorMessage(conn));
        goto out;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        res = PQexec(conn, "CREATE DATABASE bbs");
        /* 42P04 duplicate_database: someone else just created it; fine. */
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (PQresultStatus(res) != PGRES_COMMAND_OK &&
            (state == NULL || strcmp(state, "42P04") != 0)) {
            bbs_error_setf(err, BBS_ERR_UNKNOWN, "embedded postgres: CREATE DATABASE bbs: %s",
                           PQerrorMessage(conn));
            goto out;
        }
        bbs_log(BBS_LOG_INFO, "pgembed.created-database", "{s:s}", "database", "bbs");
    }
    rc = 0;

out:
    PQclear(res);
    PQfinish(conn);
    return rc;
}

int bbs_pgembed_start(const char *data_dir, const char *bin_dir, struct bbs_pgembed **out,
                      char *conninfo, size_t size, struct bbs_error *err)
{
    struct bbs_pgembed *pg = NULL;
    struct passwd *pw;
    int n;
    int rc = -1;

    *out = NULL;
    pg = bbs_xcalloc(1, sizeof(*pg));
    pg->lock_fd = -1;
    pg->watchdog_fd = -1;
    pg->as_postgres = geteuid() == 0;
    if (data_dir == NULL || data_dir[0] == '\0') {
        data_dir = pg->as_postgres ? "/var/lib/bbs" : "bbs-data";
    }
    if (pg->as_postgres) {
        /* Single-threaded start-up: getpwnam's static buffer is fine. */
        pw = getpwnam("postgres");
        if (pw == NULL) {
            bbs_error_setf(err, BBS_ERR_UNKNOWN,
                           "embedded postgres: running as root but there is no `postgres` user "
                           "to run the server as (install the Debian package `postgresql`)");
            goto out;
        }
        pg->pg_uid = pw->pw_uid;
        pg->pg_gid = pw->pw_gid;
        if (pgembed_find_runuser(pg, err) != 0) {
            goto out;
        }
    }
    if (pgembed_find_bin(pg, bin_dir, err) != 0) {
        goto out;
    }

    /*
     * Absolute from here on: the socket path and pg_ctl -D must not depend
     * on cwd. The characters are checked before mkdir as well, so a refused
     * path leaves nothing behind in the common case.
     */
    if (pgembed_check_chars(data_dir, err) != 0 || pgembed_mkdir_p(data_dir, 0755, err) != 0) {
        goto out;
    }
    pg->data_dir = realpath(data_dir, NULL);
    if (pg->data_dir == NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "embedded postgres: realpath %s: %s", data_dir,
                       strerror(errno));
        goto out;
    }
    if (pgembed_check_chars(pg->data_dir, err) != 0) {
        goto out;
    }
    pg->pgdata = pgembed_strf("%s/postgres", pg->data_dir);
    pg->sockdir = pgembed_strf("%s/run", pg->data_dir);
    pg->logfile = pgembed_strf("%s/postgres.log", pg->data_dir);
    pg->lockfile = pgembed_strf("%s/bbs.lock", pg->data_dir);
    pg->pidfile = pgembed_strf("%s/postmaster.pid", pg->pgdata);
    if (strlen(pg->sockdir) + strlen(PGEMBED_SOCKET_NAME) > PGEMBED_SUN_PATH_MAX) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN,
                       "embedded postgres: socket path %s" PGEMBED_SOCKET_NAME
                       " is longer than the %d bytes a Unix socket path may have; choose a "
                       "shorter data_dir",
                       pg->sockdir, PGEMBED_SUN_PATH_MAX);
        goto out;
    }
    if (pg->as_postgres && pgembed_check_reach(pg, err) != 0) {
        goto out;
    }
    /* Before anything in the folder is touched: initdb must not race either. */
    if (pgembed_lock(pg, err) != 0 || pgembed_prepare(pg, err) != 0 ||
        pgembed_initdb(pg, err) != 0) {
        goto out;
    }
    /*
     * Adopt the postmaster pg_ctl daemonises (file comment). Should this
     * fail, pgembed_postmaster_exited() falls back to kill(pid, 0).
     */
    (void)prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L);
    if (pgembed_watchdog_start(pg, err) != 0) {
        goto out;
    }
    pg->maybe_running = 1;
    if (pgembed_start_server(pg, err) != 0 || pgembed_create_db(pg, err) != 0) {
        goto out;
    }

    /* A space is the only conninfo metacharacter check_chars lets through. */
    n = snprintf(conninfo, size,
                 strchr(pg->sockdir, ' ') != NULL
                     ? "host='%s' port=" PGEMBED_PORT " user=postgres dbname=bbs"
                     : "host=%s port=" PGEMBED_PORT " user=postgres dbname=bbs",
                 pg->sockdir);
    if (n < 0 || (size_t)n >= size) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN,
                       "embedded postgres: conninfo needs %d bytes, buffer has %zu", n, size);
        goto out;
    }
    *out = pg;
    pg = NULL;
    rc = 0;

out:
    /* Do not leave a server behind that nobody holds a handle to. */
    bbs_pgembed_stop(pg);
    return rc;
}

/*
 * As a child subreaper the server inherits whatever its descendants
 * orphan: when the postmaster dies, its backends and auxiliary processes
 * become our children as they exit. Reap them so they do not stay zombies.
 * The postmaster and the watchdog are only peeked at (WNOWAIT) and left
 * for the checks below, which need their exit status; nothing else in the
 * server waits for children while the worker runs this.
 */
static void pgembed_reap_orphans(const struct bbs_pgembed *pg)
{
    for (;;) {
        siginfo_t info;

        memset(&info, 0, sizeof(info));
        if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) {
            return;
        }
        if (info.si_pid == pg->postmaster || info.si_pid == pg->watchdog) {
            return;
        }
        while (waitpid(info.si_pid, NULL, 0) < 0 && errno == EINTR) {
        }
    }
}

int bbs_pgembed_check(struct bbs_pgembed *pg, struct bbs_error *err)
{
    int status = 0;

    if (pg == NULL) {
        return 0;
    }
    pgembed_reap_orphans(pg);
    /* Someone killed the watchdog: without it a SIGKILL would orphan the cluster. */
    if (pg->watchdog > 0 && waitpid(pg->watchdog, NULL, WNOHANG) == pg->watchdog) {
        bbs_log(BBS_LOG_ERROR, "pgembed.watchdog-exited", "{s:i}", "pid", (int)pg->watchdog);
        pg->watchdog = 0;
        close(pg->watchdog_fd);
        pg->watchdog_fd = -1;
        if (pgembed_watchdog_start(pg, err) != 0) {
            return -1;
        }
    }
    if (pg->postmaster > 0) {
        if (!pgembed_postmaster_exited(pg, &status)) {
            return 0;
        }
        bbs_log(BBS_LOG_ERROR, "pgembed.postmaster-exited", "{s:i, s:i, s:i}", "pid",
                (int)pg->postmaster, "exit_status", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                "signal", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        pg->postmaster = 0;
    }

    /*
     * Restart it here rather than exit for a supervisor to restart us: the
     * cluster is ours alone, so the supervisor could do nothing else, and
     * restarting in place keeps the listeners, TLS and in-flight
     * requests (which meanwhile fail over to the pool's retries). Old
     * backends may still be attached to the shared memory for a moment,
     * which makes PostgreSQL refuse to start: hence a few attempts, one per
     * call, before giving up.
     */
    if (pgembed_start_server(pg, err) != 0) {
        pg->restart_failures++;
        if (pg->restart_failures >= PGEMBED_MAX_RESTART_FAILURES) {
            return -1;
        }
        bbs_log(BBS_LOG_ERROR, "pgembed.restart-failed", "{s:i, s:s}", "attempt",
                pg->restart_failures, "error", err->message);
        return 0;
    }
    pg->restart_failures = 0;
    bbs_log(BBS_LOG_INFO, "pgembed.restarted", "{s:s, s:i}", "pgdata", pg->pgdata, "pid",
            (int)pg->postmaster);
    return 0;
}

void bbs_pgembed_stop(struct bbs_pgembed *pg)
{
    const char *argv[] = {NULL, "-D", NULL, "-m", "fast", "-w", "-t", "60", "stop", NULL};
    struct bbs_error err = {0};
    int status;

    if (pg == NULL) {
        return;
    }
    if (pg->postmaster > 0 && !pgembed_postmaster_exited(pg, NULL)) {
        argv[0] = pg->pg_ctl;
        argv[2] = pg->pgdata;
        status = pgembed_run(pg, argv, &err);
        if (status == 0) {
            /* pg_ctl -w saw postmaster.pid go; the process exits right after. */
            while (waitpid(pg->postmaster, NULL, 0) < 0 && errno == EINTR) {
            }
            pg->maybe_running = 0;
            bbs_log(BBS_LOG_INFO, "pgembed.stopped", "{s:s}", "pgdata", pg->pgdata);
        } else {
            if (status > 0) {
                pgembed_fail(pg, "pg_ctl stop", status, &err);
            }
            bbs_log(BBS_LOG_ERROR, "pgembed.stop-failed", "{s:s}", "error", err.message);
        }
    } else if (pg->postmaster > 0) {
        pg->maybe_running = 0; /* it died under us and was not restarted */
    }
    /*
     * If a pg_ctl start may have left a postmaster we do not know of (it
     * timed out, or a restart failed), or our stop failed, the watchdog
     * tries once more; it holds the lock until then.
     */
    pgembed_watchdog_stop(pg, !pg->maybe_running);
    if (pg->lock_fd >= 0) {
        close(pg->lock_fd);
    }
    pgembed_free(pg);
}
