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
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bbs/auction.h"
#include "bbs/callback.h"
#include "bbs/config.h"
#include "bbs/converger.h"
#include "bbs/crypt.h"
#include "bbs/effects.h"
#include "bbs/http.h"
#include "bbs/hub.h"
#include "bbs/lead.h"
#include "bbs/locket.h"
#include "bbs/log.h"
#include "bbs/loggregator.h"
#include "bbs/metrics.h"
#include "bbs/outbox.h"
#include "bbs/pgembed.h"
#include "bbs/rep.h"
#include "bbs/store.h"
#include "bbs/taskcb.h"
#include "bbs/worker.h"

/* The worker's jobs and their periods. */
#define EXIT_CHECK_PERIOD_NS INT64_C(100000000)  /* can the server still serve? */
#define REAP_PERIOD_NS       INT64_C(100000000)  /* connections past http_read_timeout */
#define PG_WATCH_PERIOD_NS   INT64_C(1000000000) /* the embedded PostgreSQL is alive */
#define PRUNE_PERIOD_NS      INT64_C(1000000000) /* trim the change log to its retention */
#define HUB_POLL_NS          INT64_C(1000000000) /* read the change log without a poke */

/* Upstream's fixed metric periods (reference-2 13.2). */
#define METRICS_LRP_NS INT64_C(15000000000) /* convergence, LRP, task gauges */
#define METRICS_DB_NS  INT64_C(60000000000) /* database pool gauges */

static volatile sig_atomic_t stop_signal;

/* Leadership (lead.h): the signal handler wakes a standby waiting for it. */
static struct bbs_lead *lead;

/* /v1/diagnostics' "leader" check (bbs_ctx.leader_held). */
static int lead_held(void *arg, char *reason, size_t len)
{
    const struct bbs_lead *l = arg;
    bool held = bbs_lead_is_leader(l);

    if (held) {
        snprintf(reason, len, "this server leads (term %lld)", (long long)bbs_lead_term(l));
    } else {
        snprintf(reason, len, "this server does not hold the leadership");
    }
    return held ? 1 : 0;
}

/* Rows re-sealed per transaction by the start-up re-keying pass. */
#define REKEY_BATCH 200

/* The key ring of encryption_keys / active_key_label (an empty one when none). */
static struct bbs_crypt *crypt_from_config(const struct bbs_config *cfg, struct bbs_error *err)
{
    size_t n = cfg->encryption_keys.n;
    struct bbs_crypt_key_cfg *keys = calloc(n > 0 ? n : 1, sizeof(*keys));
    struct bbs_crypt *c;

    if (keys == NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        keys[i].label = cfg->encryption_keys.names[i];
        keys[i].passphrase = cfg->encryption_keys.values[i];
    }
    c = bbs_crypt_new(keys, n, cfg->active_key_label, err);
    free(keys);
    return c;
}

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
    bbs_lead_stop(lead);
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

/* Leadership lost, or a write fenced out (store.h): exit non-zero, as upstream on a lost lock. */
static void lead_lost(void *arg)
{
    (void)arg;
    request_exit();
}

/* Worker job: wake main once the HTTP server reports it cannot go on. */
static void exit_check(void *arg)
{
    if (bbs_http_unrecoverable(arg)) {
        request_exit();
    }
}

/* Worker job: close connections whose request is late (slowloris). */
static void reap(void *arg)
{
    bbs_http_reap(arg);
}

/*
 * Worker job: a dead embedded postmaster is restarted (pgembed.h); when it
 * cannot be, the server exits 1 so a supervisor starts it afresh. A restart
 * blocks the ticker for a few seconds, which only delays the other jobs.
 */
static void pg_watch(void *arg)
{
    struct bbs_error err = {0};

    if (atomic_load(&exit_requested)) {
        return;
    }
    if (bbs_pgembed_check(arg, &err) != 0) {
        bbs_log(BBS_LOG_FATAL, "embedded-postgres.lost", "{s:s}", "error", err.message);
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

/* The converger's cell source: Locket's presence set (locket.h). */
static int locket_cells(void *arg, struct bbs_arena *arena, struct bbs_cell **out, size_t *n,
                        struct bbs_error *err)
{
    return bbs_locket_cells(arg, arena, out, n, err);
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    struct bbs_config cfg = {0};
    struct bbs_error err = {0};
    struct bbs_pgembed *pg = NULL;
    struct bbs_store *store = NULL;
    struct bbs_crypt *crypt = NULL;
    struct bbs_rekey *rekey = NULL;
    struct bbs_outbox *outbox = NULL;
    struct bbs_outbox_config ocfg = {0};
    struct bbs_auction *auction = NULL;
    struct bbs_rep *rep = NULL;
    struct bbs_effects fx = {0};
    struct bbs_locket *locket = NULL;
    struct bbs_worker *worker = NULL;
    struct bbs_worker *standby_worker = NULL; /* jobs that run before leading too */
    struct bbs_lead_config leadcfg = {0};
    struct bbs_locket *lock_locket = NULL;
    struct bbs_dbcheck *dbcheck = NULL;
    struct bbs_converger *converger = NULL;
    struct bbs_converger_config ccfg = {0};
    struct bbs_conv_cell_source csrc = {0};
    struct bbs_callback *callback = NULL;
    struct bbs_taskcb *taskcb = NULL;
    struct bbs_taskcb_config tcfg = {0};
    struct bbs_converger_tasks ctasks = {0};
    struct bbs_http *http = NULL;
    struct bbs_http_tls *tls = NULL;
    struct bbs_health *health = NULL;
    struct bbs_debug *debug = NULL;
    int debug_fd = -1;
    struct bbs_hub *hub = NULL;
    struct bbs_hub_config hcfg = {0};
    struct bbs_prune_events prune = {0};
    struct bbs_metrics *metrics = NULL;
    struct bbs_loggregator *lg = NULL;
    struct bbs_report report = {0};
    struct timespec mig_t0;
    struct timespec mig_t1;
    struct bbs_ctx ctx = {0};
    struct sigaction sa;
    char conninfo[1024];
    char seconds[32];
    int api_fd = -1;
    int health_fd = -1;
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
    cfg.http_worker_threads =
        bbs_config_io_threads(cfg.http_worker_threads, sysconf(_SC_NPROCESSORS_ONLN));

    /*
     * The auctioneer's client identity is config too: checked (files load,
     * certificate matches key) before anything starts, exit status 2.
     */
    ocfg.queue_max = (size_t)cfg.outbox_queue_max;
    ocfg.default_timeout_ns = cfg.communication_timeout_ns;
    ocfg.tls[BBS_OUTBOX_AUCTIONEER] =
        (struct bbs_outbox_tls){cfg.auctioneer_ca_cert, cfg.auctioneer_client_cert,
                                cfg.auctioneer_client_key, cfg.auctioneer_require_tls};
    ocfg.tls[BBS_OUTBOX_REP] = (struct bbs_outbox_tls){cfg.rep_ca_cert, cfg.rep_client_cert,
                                                       cfg.rep_client_key, cfg.rep_require_tls};
    /* Completion callbacks present the server's own identity (11.6). */
    if (cfg.ca_file[0] != '\0' && cfg.cert_file[0] != '\0' && cfg.key_file[0] != '\0') {
        ocfg.tls[BBS_OUTBOX_CALLBACK] =
            (struct bbs_outbox_tls){cfg.ca_file, cfg.cert_file, cfg.key_file, 0};
    }
    outbox = bbs_outbox_new(&ocfg, &err);
    if (outbox == NULL) {
        bbs_log(BBS_LOG_FATAL, "config.invalid", "{s:s}", "error", err.message);
        bbs_http_tls_free(tls);
        bbs_config_clear(&cfg);
        return 2;
    }

    /* Locket's address and client identity are config too: exit status 2. */
    if (cfg.locket_address[0] != '\0') {
        struct bbs_locket_config lcfg = {.address = cfg.locket_address,
                                         .ca_file = cfg.locket_ca_cert_file,
                                         .cert_file = cfg.locket_client_cert_file,
                                         .key_file = cfg.locket_client_key_file,
                                         .timeout_ns = cfg.communication_timeout_ns};

        locket = bbs_locket_new(&lcfg, &err);
        /* The lock's owner (upstream exits with "invalid-uuid" too). */
        if (locket != NULL && cfg.uuid[0] == '\0') {
            bbs_error_setf(&err, BBS_ERR_INVALID_REQUEST,
                           "config key uuid: required when locket_address is set (the owner of "
                           "Locket's lock \"bbs\")");
            bbs_locket_free(locket);
            locket = NULL;
        }
        if (locket == NULL) {
            bbs_log(BBS_LOG_FATAL, "config.invalid", "{s:s}", "error", err.message);
            bbs_outbox_free(outbox);
            bbs_http_tls_free(tls);
            bbs_config_clear(&cfg);
            return 2;
        }
    }

    /* The loggregator client identity is config too: exit status 2. */
    if (cfg.loggregator_use_v2_api) {
        struct bbs_loggregator_config gcfg = {
            .port = cfg.loggregator_api_port,
            .ca_file = cfg.loggregator_ca_path,
            .cert_file = cfg.loggregator_cert_path,
            .key_file = cfg.loggregator_key_path,
            .source_id = cfg.loggregator_source_id,
            .instance_id = cfg.loggregator_instance_id,
            .origin = cfg.loggregator_job_origin,
            .batch_max = (size_t)cfg.loggregator_batch_max_size,
        };

        lg = bbs_loggregator_new(&gcfg, &err);
        if (lg == NULL) {
            bbs_log(BBS_LOG_FATAL, "config.invalid", "{s:s}", "error", err.message);
            bbs_locket_free(locket);
            bbs_outbox_free(outbox);
            bbs_http_tls_free(tls);
            bbs_config_clear(&cfg);
            return 2;
        }
        /* Upstream's start-up dial (loggregator.h): an agent that is not up is exit status 1,
         * before anything starts, as upstream's failed-to-initialize-metron-client. */
        if (bbs_loggregator_dial(lg, cfg.loggregator_dial_timeout_ns, &err) != 0) {
            bbs_log(BBS_LOG_FATAL, "failed-to-initialize-metron-client", "{s:s}", "error",
                    err.message);
            bbs_loggregator_free(lg);
            bbs_locket_free(locket);
            bbs_outbox_free(outbox);
            bbs_http_tls_free(tls);
            bbs_config_clear(&cfg);
            return 1;
        }
    }
    metrics = bbs_http_metrics_new();

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

    /* Both ports before anything slow (initdb, migrations): one in use stops us first.
     * The API port is opened for good only once leading (a standby does not listen on
     * it: reference 1.1). */
    if ((api_fd = bbs_http_listen("listen_address", cfg.listen_address, &err)) < 0 ||
        (health_fd = bbs_http_listen("health_address", cfg.health_address, &err)) < 0) {
        bbs_log(BBS_LOG_FATAL, "listen.failed", "{s:s}", "error", err.message);
        goto out;
    }
    if (cfg.debug_address[0] != '\0' &&
        (debug_fd = bbs_http_listen("debug_address", cfg.debug_address, &err)) < 0) {
        bbs_log(BBS_LOG_FATAL, "listen.failed", "{s:s}", "error", err.message);
        goto out;
    }
    if (debug_fd >= 0) {
        /* Before anything slow, like the health listener: a standby serves it too. */
        debug = bbs_debug_start(&cfg, debug_fd, &err);
        debug_fd = -1; /* taken */
        if (debug == NULL) {
            bbs_log(BBS_LOG_FATAL, "listen.failed", "{s:s}", "error", err.message);
            goto out;
        }
    }
    /* The API port was only checked (one in use stops us first): closed until leading. */
    close(api_fd);
    api_fd = -1;
    /* Up first and down last: monitors see the process alive throughout. */
    health = bbs_health_start(&cfg, health_fd, metrics, &err);
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
    clock_gettime(CLOCK_MONOTONIC, &mig_t0);
    if (bbs_store_migrate(store, cfg.migrations_dir, &err) != 0) {
        bbs_log(BBS_LOG_FATAL, "migrate.failed", "{s:s}", "error", err.message);
        goto out;
    }
    /* Upstream's line for "the schema is current" (its test runner waits for it). */
    bbs_log(BBS_LOG_INFO, "migration-manager.finished-migrations", NULL);
    clock_gettime(CLOCK_MONOTONIC, &mig_t1);
    if (lg != NULL && bbs_loggregator_start(lg, &err) != 0) {
        bbs_log(BBS_LOG_FATAL, "loggregator.failed", "{s:s}", "error", err.message);
        goto out;
    }

    /*
     * Leadership (docs/operations.md): migrations ran first because the
     * lease and the term live in the schema (0006). A standby stays here,
     * health listener up, sending only OpenFileDescriptors and LockHeld 0.
     */
    report.metrics = metrics;
    report.lg = lg;
    if (locket != NULL) {
        struct bbs_locket_config llc = {
            .address = cfg.locket_address,
            .ca_file = cfg.locket_ca_cert_file,
            .cert_file = cfg.locket_client_cert_file,
            .key_file = cfg.locket_client_key_file,
            .timeout_ns = cfg.lock_ttl_ns / 3 > 1000000000 ? cfg.lock_ttl_ns / 3 : 1000000000};

        /* Its own deadline per call: a third of the lock's TTL, 1 s at least. */
        lock_locket = bbs_locket_new(&llc, &err);
        if (lock_locket == NULL) {
            bbs_log(BBS_LOG_FATAL, "config.invalid", "{s:s}", "error", err.message);
            goto out;
        }
    }
    leadcfg.conninfo = conninfo;
    leadcfg.owner = cfg.uuid;
    leadcfg.ttl_ns = cfg.lock_ttl_ns;
    leadcfg.retry_ns = cfg.lock_retry_interval_ns;
    leadcfg.locket = lock_locket;
    leadcfg.on_lost = lead_lost;
    lead = bbs_lead_new(&leadcfg);
    report.lead = lead;
    standby_worker = bbs_worker_new(NULL);
    if (bbs_worker_add(standby_worker, "metrics-requests", cfg.report_interval_ns,
                       bbs_worker_report_requests, &report, &err) != 0 ||
        bbs_worker_start(standby_worker, &err) != 0) {
        bbs_log(BBS_LOG_FATAL, "worker.failed", "{s:s}", "error", err.message);
        goto out;
    }
    /* The health listener's /v1/diagnostics and /v1/stats check with it from now on, on a
     * standby too (its "leader" check fails); the API routes get it when this server leads. */
    ctx.store = store;
    ctx.cfg = &cfg;
    ctx.locket = locket;
    ctx.metrics = metrics;
    ctx.leader_held = lead_held;
    ctx.leader_arg = lead;
    bbs_health_set_ctx(health, &ctx);
    if (stop_signal || bbs_lead_acquire(lead, &err) != 0) {
        if (stop_signal) {
            rc = 0; /* a standby asked to stop */
            goto out;
        }
        bbs_log(BBS_LOG_FATAL, "lead.failed", "{s:s}", "error", err.message);
        goto out;
    }
    bbs_store_set_fence(store, bbs_lead_term(lead), lead_lost, NULL);
    bbs_health_set_leader(health, 1);
    /* Upstream's DB health check: the leader's, after migrations; failures -> exit 1. */
    if (cfg.enable_db_health_check) {
        struct bbs_dbcheck_config dcfg = {.conninfo = conninfo,
                                          .interval_ns = cfg.health_check_interval_ns,
                                          .timeout_ns = cfg.health_check_timeout_ns,
                                          .threshold = cfg.health_check_failure_threshold,
                                          .on_failed = lead_lost};

        dbcheck = bbs_dbcheck_start(&dcfg, &err);
        if (dbcheck == NULL) {
            bbs_log(BBS_LOG_FATAL, "db-healthcheck.failed", "{s:s}", "error", err.message);
            goto out;
        }
    }
    /* Encryption at rest: the keys, checked against the labels in use before serving. */
    crypt = crypt_from_config(&cfg, &err);
    if (crypt == NULL) {
        bbs_log(BBS_LOG_FATAL, "encryption.failed", "{s:s}", "error", err.message);
        goto out;
    }
    bbs_store_set_crypt(store, crypt);
    if (bbs_store_crypt_check(store, &err) != 0) {
        bbs_log(BBS_LOG_FATAL, "encryption.failed", "{s:s}", "error", err.message);
        goto out;
    }
    if (bbs_crypt_enabled(crypt)) {
        bbs_log(BBS_LOG_INFO, "encryption.enabled", "{s:s, s:i}", "active_key_label",
                bbs_crypt_active_label(crypt), "keys", (int)cfg.encryption_keys.n);
    } else {
        bbs_log(BBS_LOG_ERROR, "encryption.disabled", "{s:s}", "warning",
                "encryption_keys is empty: LRP and task blobs are stored unencrypted");
    }
    rekey = bbs_store_rekey_start(store, REKEY_BATCH);
    if (cfg.auctioneer_address[0] == '\0') {
        bbs_log(BBS_LOG_INFO, "auctioneer.disabled", "{s:s}", "reason",
                "auctioneer_address is empty: no placement requests are sent");
    }
    auction = bbs_auction_new(outbox, cfg.auctioneer_address, cfg.communication_timeout_ns);
    rep = bbs_rep_new(outbox, cfg.communication_timeout_ns);
    bbs_rep_set_tls(rep, cfg.rep_require_tls, cfg.rep_client_cert[0] != '\0');
    fx.auction = auction;
    fx.rep = rep;
    fx.locket = locket;
    /* Task completion callbacks: store calls on the worker's own threads,
     * the POSTs on the outbox (docs/architecture.md). */
    callback = bbs_callback_new(outbox, cfg.communication_timeout_ns);
    tcfg.workers = cfg.task_callback_workers;
    taskcb = bbs_taskcb_new(&tcfg, store, callback);
    if (bbs_taskcb_start(taskcb, &err) != 0) {
        bbs_log(BBS_LOG_FATAL, "task-callback.failed", "{s:s}", "error", err.message);
        goto out;
    }
    fx.task_callback = bbs_taskcb_submit;
    fx.task_callback_ctx = taskcb;
    /* The hub before the listener: a stream opened at once has its producer. */
    hcfg.queue_max = (size_t)cfg.event_subscriber_queue;
    hcfg.heartbeat_ns = cfg.event_heartbeat_interval_ns;
    hcfg.poll_ns = HUB_POLL_NS;
    hcfg.batch = 1000;
    hub = bbs_hub_new(store, &hcfg);
    if (bbs_hub_start(hub, &err) != 0) {
        bbs_log(BBS_LOG_FATAL, "events.hub-failed", "{s:s}", "error", err.message);
        goto out;
    }
    ctx.hub = hub;
    ctx.effects = &fx;
    if (locket == NULL) {
        bbs_log(BBS_LOG_INFO, "locket.disabled", "{s:s}", "reason",
                "locket_address is empty: no cells are known (cells/list.r1 answers none)");
    } else {
        bbs_log(BBS_LOG_INFO, "locket.configured", "{s:s}", "locket_address", cfg.locket_address);
    }
    ccfg.interval_ns = cfg.converge_repeat_interval_ns;
    ccfg.workers = cfg.convergence_workers;
    ccfg.cell_poll_ns = INT64_C(1000000000);
    csrc.cells = locket_cells;
    csrc.ctx = locket;
    converger = bbs_converger_new(&ccfg, store, auction, rep, locket != NULL ? &csrc : NULL);
    ctasks.kick_ns = cfg.kick_task_duration_ns;
    ctasks.expire_pending_ns = cfg.expire_pending_task_duration_ns;
    ctasks.expire_completed_ns = cfg.expire_completed_task_duration_ns;
    ctasks.submit = bbs_taskcb_submit;
    ctasks.submit_ctx = taskcb;
    bbs_converger_set_tasks(converger, &ctasks);
    /*
     * Convergence before the API listener (leader order: lock, migrate,
     * converge, listen). LRP convergence on its own thread (a run can take seconds). Cells
     * come from Locket; without it the cell steps are skipped
     * (docs/architecture.md, Convergence). Rep stops and updates go
     * through the rep client (the outbox).
     */
    if (bbs_converger_start(converger, &err) != 0) {
        bbs_log(BBS_LOG_FATAL, "converge.failed", "{s:s}", "error", err.message);
        goto out;
    }
    /* Said before the listener opens, so it is in the log before any client is served. */
    if (tls == NULL) {
        bbs_log(BBS_LOG_ERROR, "tls.disabled", "{s:s, s:s}", "listen_address", cfg.listen_address,
                "warning",
                "require_ssl is false: the API is served over plain HTTP to any client; set "
                "require_ssl, ca_file, cert_file and key_file for mutual TLS");
    }
    if ((api_fd = bbs_http_listen("listen_address", cfg.listen_address, &err)) < 0) {
        bbs_log(BBS_LOG_FATAL, "listen.failed", "{s:s}", "error", err.message);
        goto out;
    }
    http = bbs_http_start(&cfg, &ctx, tls, api_fd, &err);
    api_fd = -1; /* taken */
    if (http == NULL) {
        bbs_log(BBS_LOG_FATAL, "listen.failed", "{s:s}", "error", err.message);
        goto out;
    }
    bbs_log(BBS_LOG_INFO, "started", "{s:s, s:s, s:b}", "listen_address", cfg.listen_address,
            "health_address", cfg.health_address, "tls", tls != NULL);

    /* Metrics: kept for /metrics, sent to loggregator when configured (reference-2 13.2). */
    report.store = store;
    report.converger = converger;
    report.rekey = rekey;
    bbs_worker_report_started(&report, (int64_t)(mig_t1.tv_sec - mig_t0.tv_sec) * 1000000000 +
                                           (mig_t1.tv_nsec - mig_t0.tv_nsec));

    /* Every periodic job runs on the worker's one ticker thread. */
    prune.store = store;
    prune.max_age_ns = cfg.event_retention_age_ns;
    prune.keep = cfg.event_retention_count;
    worker = bbs_worker_new(NULL);
    if (bbs_worker_add(worker, "exit-check", EXIT_CHECK_PERIOD_NS, exit_check, http, &err) != 0 ||
        bbs_worker_add(worker, "http-reap", REAP_PERIOD_NS, reap, http, &err) != 0 ||
        (pg != NULL && bbs_worker_add(worker, "embedded-postgres-watch", PG_WATCH_PERIOD_NS,
                                      pg_watch, pg, &err) != 0) ||
        bbs_worker_add(worker, "events-prune", PRUNE_PERIOD_NS, bbs_worker_prune_events, &prune,
                       &err) != 0 ||
        bbs_worker_add(worker, "metrics-lrps", METRICS_LRP_NS, bbs_worker_report_lrps, &report,
                       &err) != 0 ||
        bbs_worker_add(worker, "metrics-db", METRICS_DB_NS, bbs_worker_report_db, &report, &err) !=
            0 ||
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
    /* Before anything ctx points to is freed (waits for a diagnostics answer in progress). */
    bbs_health_set_ctx(health, NULL);
    /* Jobs use the server, the store and the converger (metrics): the ticker stops first. */
    bbs_worker_free(worker);
    bbs_worker_free(standby_worker);
    bbs_dbcheck_stop(dbcheck);
    bbs_converger_free(converger);
    /* After the jobs that send: what is queued goes out (bounded). */
    bbs_loggregator_free(lg);
    if (api_fd >= 0) {
        close(api_fd);
    }
    if (health_fd >= 0) {
        close(health_fd);
    }
    bbs_http_stop(http);
    /* After the listener: every stream has ended; the hub lets go of them. */
    bbs_hub_free(hub);
    bbs_auction_free(auction);
    bbs_locket_free(locket);
    /* Before the outbox drains: callbacks it finishes then are dropped (they stay
     * Resolving; convergence resubmits them), none starts a store call. */
    bbs_taskcb_stop(taskcb);
    /* No more writes: release the lock or lease, so a standby takes over now. */
    {
        struct bbs_lead *held = lead;

        lead = NULL; /* the signal handler no longer reaches it */
        bbs_lead_free(held);
    }
    bbs_locket_free(lock_locket);
    if (outbox != NULL) {
        struct bbs_outbox_stats st;
        struct bbs_effects_stats es;

        bbs_outbox_stop(outbox); /* queued calls get their bounded time to go out */
        bbs_outbox_stats(outbox, &st);
        bbs_log(BBS_LOG_INFO, "outbox.stats", "{s:I, s:I, s:I, s:I, s:I, s:I}", "queued",
                (json_int_t)st.queued, "sent", (json_int_t)st.sent, "failed", (json_int_t)st.failed,
                "dropped_full", (json_int_t)st.dropped_full, "dropped", (json_int_t)st.dropped,
                "retried", (json_int_t)st.retried);
        bbs_effects_stats(&fx, &es);
        bbs_log(BBS_LOG_INFO, "effects.stats", "{s:I, s:I, s:I}", "rep_calls",
                (json_int_t)es.rep_calls, "rep_cell_unknown", (json_int_t)es.rep_cell_unknown,
                "rep_lookup_failed", (json_int_t)es.rep_lookup_failed);
        bbs_log(BBS_LOG_INFO, "effects.task-stats", "{s:I, s:I}", "task_cancels",
                (json_int_t)es.task_cancels, "task_cancel_failures",
                (json_int_t)es.task_cancel_failures);
        bbs_outbox_free(outbox);
    }
    /* After the outbox: a rep call's completion (an update's v1 retry, a
     * retire's next attempt) uses the rep client during the drain. */
    bbs_rep_free(rep);
    if (taskcb != NULL) {
        struct bbs_taskcb_stats ts;

        bbs_taskcb_stats(taskcb, &ts);
        bbs_log(BBS_LOG_INFO, "task-callback.stats", "{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                "submitted", (json_int_t)ts.submitted, "skipped", (json_int_t)ts.skipped, "dropped",
                (json_int_t)ts.dropped, "resolve_failed", (json_int_t)ts.resolve_failed, "deleted",
                (json_int_t)ts.deleted, "delete_failed", (json_int_t)ts.delete_failed,
                "kept_resolving", (json_int_t)ts.kept_resolving);
    }
    bbs_taskcb_free(taskcb);
    bbs_callback_free(callback);
    bbs_store_rekey_stop(rekey);
    bbs_store_free(store);
    bbs_crypt_free(crypt);
    bbs_pgembed_stop(pg);
    bbs_health_stop(health);
    bbs_debug_stop(debug);
    if (debug_fd >= 0) {
        close(debug_fd);
    }
    bbs_metrics_free(metrics);
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
