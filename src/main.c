/*
 * main.c - argv, config, wiring, signals and shutdown order; nothing else.
 *
 *   bbs [-config FILE]
 *
 * Without a database_connection_string the server runs its own PostgreSQL
 * cluster under data_dir and stops it on exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bbs/auction.h"
#include "bbs/config.h"
#include "bbs/http.h"
#include "bbs/log.h"
#include "bbs/outbox.h"
#include "bbs/pgembed.h"
#include "bbs/store.h"
#include "bbs/worker.h"

/* How often the worker checks whether the server can no longer serve. */
#define EXIT_CHECK_PERIOD_NS INT64_C(100000000)

static volatile sig_atomic_t stop_signal;

/* Set by a worker job when the server must exit non-zero (see request_exit). */
static atomic_int exit_requested;

/*
 * Self-pipe: main sleeps in read() on wake_fds[0]; the signal handler and
 * the worker's exit check write one byte to wake it. No signal mask is
 * changed, so the processes the server starts (PostgreSQL) inherit none.
 */
static int wake_fds[2] = {-1, -1};

static void wake_main(void)
{
    char c = 1;
    int saved = errno; /* also called from a signal handler */

    if (write(wake_fds[1], &c, 1) < 0) {
        /* Full pipe: main is already due to wake up. */
    }
    errno = saved;
}

static void on_signal(int sig)
{
    stop_signal = sig;
    wake_main();
}

/*
 * For worker jobs that find the server cannot go on (e.g. a watch on the
 * embedded PostgreSQL): main wakes, shuts down in order and exits 1.
 */
static void request_exit(void)
{
    atomic_store(&exit_requested, 1);
    wake_main();
}

/* Worker job: wake main once the HTTP server reports it cannot go on. */
static void exit_check(void *arg)
{
    if (bbs_http_unrecoverable(arg)) {
        request_exit();
    }
}

static int wake_pipe_open(void)
{
    if (pipe(wake_fds) != 0) {
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        if (fcntl(wake_fds[i], F_SETFD, FD_CLOEXEC) != 0) {
            return -1;
        }
    }
    /* Non-blocking write: the handler must never block on a full pipe. */
    return fcntl(wake_fds[1], F_SETFL, O_NONBLOCK);
}

static int usage(void)
{
    fputs("usage: bbs [-config FILE]\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    struct bbs_config cfg = {0};
    struct bbs_error err = {0};
    struct bbs_pgembed *pg = NULL;
    struct bbs_store *store = NULL;
    struct bbs_outbox *outbox = NULL;
    struct bbs_outbox_config ocfg = {0};
    struct bbs_auction *auction = NULL;
    struct bbs_worker *worker = NULL;
    struct bbs_http *http = NULL;
    struct bbs_http_tls *tls = NULL;
    struct bbs_health *health = NULL;
    struct bbs_ctx ctx;
    struct sigaction sa;
    char conninfo[1024];
    char seconds[32];
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-config") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            config_path = argv[++i];
        } else {
            return usage();
        }
    }
    if (bbs_config_load(&cfg, config_path, &err) != 0) {
        bbs_log(BBS_LOG_FATAL, "config.invalid", "{s:s}", "error", err.message);
        return 2;
    }
    /* The TLS files are part of the config: a bad one is exit status 2 too. */
    if (bbs_http_tls_load(&cfg, &tls, &err) != 0) {
        bbs_log(BBS_LOG_FATAL, "config.invalid", "{s:s}", "error", err.message);
        bbs_config_clear(&cfg);
        return 2;
    }
    bbs_log_set_level((enum bbs_log_level)bbs_log_parse_level(cfg.log_level));

    /*
     * The auctioneer's client identity is config too: checked (files load,
     * certificate matches key) before anything starts, exit status 2.
     */
    ocfg.queue_max = (size_t)cfg.outbox_queue_max;
    ocfg.default_timeout_ns = cfg.communication_timeout_ns;
    ocfg.tls[BBS_OUTBOX_AUCTIONEER] =
        (struct bbs_outbox_tls){cfg.auctioneer_ca_cert, cfg.auctioneer_client_cert,
                                cfg.auctioneer_client_key, cfg.auctioneer_require_tls};
    outbox = bbs_outbox_new(&ocfg, &err);
    if (outbox == NULL) {
        bbs_log(BBS_LOG_FATAL, "config.invalid", "{s:s}", "error", err.message);
        bbs_http_tls_free(tls);
        bbs_config_clear(&cfg);
        return 2;
    }

    if (wake_pipe_open() != 0) {
        bbs_log(BBS_LOG_FATAL, "wake-pipe.failed", "{s:s}", "error", strerror(errno));
        goto out;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* libpq reads PGCONNECT_TIMEOUT for every connection whose conninfo
     * sets no connect_timeout: an unreachable database fails a request
     * instead of holding it (set before any thread starts). */
    snprintf(seconds, sizeof(seconds), "%lld",
             (long long)((cfg.database_connect_timeout_ns + 999999999) / 1000000000));
    setenv("PGCONNECT_TIMEOUT", seconds, 1);

    /* Up first and down last: monitors see the process alive throughout. */
    health = bbs_health_start(&cfg, &err);
    if (health == NULL) {
        bbs_log(BBS_LOG_FATAL, "listen.failed", "{s:s}", "error", err.message);
        goto out;
    }

    if (cfg.database_connection_string[0] == '\0') {
        if (bbs_pgembed_start(cfg.data_dir, cfg.postgres_bin_dir, &pg, conninfo, sizeof(conninfo),
                              &err) != 0) {
            bbs_log(BBS_LOG_FATAL, "embedded-postgres.failed", "{s:s}", "error", err.message);
            goto out;
        }
        bbs_log(BBS_LOG_INFO, "embedded-postgres.started", "{s:s}", "conninfo", conninfo);
    } else {
        snprintf(conninfo, sizeof(conninfo), "%s", cfg.database_connection_string);
    }
    store = bbs_store_new(conninfo, cfg.max_open_database_connections, cfg.database_retries, &err);
    if (store == NULL) {
        bbs_log(BBS_LOG_FATAL, "database.connect-failed", "{s:s}", "error", err.message);
        goto out;
    }
    if (bbs_store_migrate(store, cfg.migrations_dir, &err) != 0) {
        bbs_log(BBS_LOG_FATAL, "migrate.failed", "{s:s}", "error", err.message);
        goto out;
    }
    if (cfg.auctioneer_address[0] == '\0') {
        bbs_log(BBS_LOG_INFO, "auctioneer.disabled", "{s:s}", "reason",
                "auctioneer_address is empty: no placement requests are sent");
    }
    auction = bbs_auction_new(outbox, cfg.auctioneer_address, cfg.communication_timeout_ns);
    ctx.store = store;
    ctx.auction = auction;
    ctx.cfg = &cfg;
    /* Said before the listener opens, so it is in the log before any client is served. */
    if (tls == NULL) {
        bbs_log(BBS_LOG_ERROR, "tls.disabled", "{s:s, s:s}", "listen_address", cfg.listen_address,
                "warning",
                "require_ssl is false: the API is served over plain HTTP to any client; set "
                "require_ssl, ca_file, cert_file and key_file for mutual TLS");
    }
    http = bbs_http_start(&cfg, &ctx, tls, &err);
    if (http == NULL) {
        bbs_log(BBS_LOG_FATAL, "listen.failed", "{s:s}", "error", err.message);
        goto out;
    }
    bbs_log(BBS_LOG_INFO, "started", "{s:s, s:s, s:b}", "listen_address", cfg.listen_address,
            "health_address", cfg.health_address, "tls", tls != NULL);

    /* Every periodic job runs on the worker's one ticker thread. */
    worker = bbs_worker_new(NULL);
    if (bbs_worker_add(worker, "exit-check", EXIT_CHECK_PERIOD_NS, exit_check, http, &err) != 0 ||
        bbs_worker_start(worker, &err) != 0) {
        bbs_log(BBS_LOG_FATAL, "worker.failed", "{s:s}", "error", err.message);
        goto out;
    }

    while (!stop_signal && !atomic_load(&exit_requested)) {
        char buf[16];

        /* Blocks until a signal or the exit check writes; EINTR just loops. */
        if (read(wake_fds[0], buf, sizeof(buf)) < 0 && errno != EINTR) {
            bbs_log(BBS_LOG_FATAL, "wake-pipe.failed", "{s:s}", "error", strerror(errno));
            break;
        }
    }
    rc = atomic_load(&exit_requested) || !stop_signal ? 1 : 0;
    bbs_log(BBS_LOG_INFO, "stopping", "{s:i, s:b}", "signal", (int)stop_signal, "unrecoverable",
            rc != 0);
out:
    /* Jobs use the server and the store: the ticker stops before them. */
    bbs_worker_free(worker);
    bbs_http_stop(http);
    bbs_auction_free(auction);
    if (outbox != NULL) {
        struct bbs_outbox_stats st;

        bbs_outbox_stop(outbox); /* queued calls get their bounded time to go out */
        bbs_outbox_stats(outbox, &st);
        bbs_log(BBS_LOG_INFO, "outbox.stats", "{s:I, s:I, s:I, s:I, s:I, s:I}", "queued",
                (json_int_t)st.queued, "sent", (json_int_t)st.sent, "failed", (json_int_t)st.failed,
                "dropped_full", (json_int_t)st.dropped_full, "dropped", (json_int_t)st.dropped,
                "retried", (json_int_t)st.retried);
        bbs_outbox_free(outbox);
    }
    bbs_store_free(store);
    bbs_pgembed_stop(pg);
    bbs_health_stop(health);
    bbs_http_tls_free(tls);
    bbs_config_clear(&cfg);
    for (int i = 0; i < 2; i++) {
        if (wake_fds[i] >= 0) {
            close(wake_fds[i]);
        }
    }
    if (rc == 0) {
        bbs_log(BBS_LOG_INFO, "exited", NULL);
    }
    return rc;
}
