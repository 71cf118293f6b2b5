/*
 * main.c - argv, config, wiring, signals and shutdown order; nothing else.
 *
 *   bbs [-config FILE]
 *   bbs -h | --help
 *
 * Without a database_connection_string the server runs its own PostgreSQL
 * cluster under data_dir, watches it (restarting it if it dies) and stops
 * it on exit.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bbs/auction.h"
#include "bbs/config.h"
#include "bbs/http.h"
#include "bbs/log.h"
#include "bbs/pgembed.h"
#include "bbs/store.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

/* How often the main loop checks on the embedded PostgreSQL. */
#define PGEMBED_CHECK_INTERVAL_NS 1000000000LL

static void usage(FILE *out)
{
    fputs("usage: bbs [-config FILE]\n"
          "\n"
          "A Diego BBS API server, storing its state in PostgreSQL.\n"
          "\n"
          "options:\n"
          "  -config FILE, --config FILE  read the configuration from FILE, a JSON object;\n"
          "                               without it every key has its default\n"
          "  -h, --help                   print this help and exit\n"
          "\n"
          "The config keys, their types and defaults are documented in docs/configuration.md\n"
          "(running it: docs/operations.md). Without database_connection_string the server\n"
          "runs its own PostgreSQL under data_dir (default /var/lib/bbs as root, ./bbs-data\n"
          "otherwise).\n",
          out);
}

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    struct bbs_config cfg = {0};
    struct bbs_error err = {0};
    struct bbs_pgembed *pg = NULL;
    struct bbs_store *store = NULL;
    struct bbs_auction *auction = NULL;
    struct bbs_http *http = NULL;
    struct bbs_http_tls *tls = NULL;
    struct bbs_health *health = NULL;
    struct bbs_ctx ctx;
    struct sigaction sa;
    char conninfo[1024];
    char seconds[32];
    int api_fd = -1;
    int health_fd = -1;
    int64_t next_check_ns;
    int pg_lost = 0;
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-config") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            config_path = argv[++i];
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0 ||
                   strcmp(argv[i], "-help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
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

    /* Both ports before anything slow (initdb, migrations): one in use stops us first. */
    if ((api_fd = bbs_http_listen("listen_address", cfg.listen_address, &err)) < 0 ||
        (health_fd = bbs_http_listen("health_address", cfg.health_address, &err)) < 0) {
        bbs_log(BBS_LOG_FATAL, "listen.failed", "{s:s}", "error", err.message);
        goto out;
    }
    /* Up first and down last: monitors see the process alive throughout. */
    health = bbs_health_start(&cfg, health_fd, &err);
    health_fd = -1; /* taken */
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
    auction = bbs_auction_new(cfg.auctioneer_address, cfg.communication_timeout_ns);
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
    http = bbs_http_start(&cfg, &ctx, tls, api_fd, &err);
    api_fd = -1; /* taken */
    if (http == NULL) {
        bbs_log(BBS_LOG_FATAL, "listen.failed", "{s:s}", "error", err.message);
        goto out;
    }
    bbs_log(BBS_LOG_INFO, "started", "{s:s, s:s, s:b}", "listen_address", cfg.listen_address,
            "health_address", cfg.health_address, "tls", tls != NULL);

    next_check_ns = mono_ns() + PGEMBED_CHECK_INTERVAL_NS;
    while (!stop_signal && !bbs_http_unrecoverable(http) && !pg_lost) {
        struct timespec ts = {0, 50 * 1000000L};

        nanosleep(&ts, NULL);
        bbs_http_reap(http);
        /* Until the worker module hosts it: a dead postmaster is restarted. */
        if (pg != NULL && mono_ns() >= next_check_ns) {
            if (bbs_pgembed_check(pg, &err) != 0) {
                bbs_log(BBS_LOG_FATAL, "embedded-postgres.lost", "{s:s}", "error", err.message);
                pg_lost = 1;
            }
            next_check_ns = mono_ns() + PGEMBED_CHECK_INTERVAL_NS;
        }
    }
    rc = bbs_http_unrecoverable(http) || pg_lost ? 1 : 0;
    bbs_log(BBS_LOG_INFO, "stopping", "{s:i, s:b}", "signal", (int)stop_signal, "unrecoverable",
            rc != 0);
out:
    if (api_fd >= 0) {
        close(api_fd);
    }
    if (health_fd >= 0) {
        close(health_fd);
    }
    bbs_http_stop(http);
    bbs_auction_free(auction);
    bbs_store_free(store);
    bbs_pgembed_stop(pg);
    bbs_health_stop(health);
    bbs_http_tls_free(tls);
    bbs_config_clear(&cfg);
    if (rc == 0) {
        bbs_log(BBS_LOG_INFO, "exited", NULL);
    }
    return rc;
}
