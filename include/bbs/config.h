/*
 * config.h - the server's configuration: one JSON file read with jansson.
 *
 * Key names follow upstream BBS where upstream has the key. Every key has
 * a row in one table (name, type, offset, default, validator) in config.c.
 * A value of the wrong type or out of range is refused with the key named;
 * keys upstream has that we do not use are accepted and logged; unknown
 * keys are logged as warnings (upstream ignores them too).
 */
#ifndef BBS_CONFIG_H
#define BBS_CONFIG_H

#include <stdint.h>

#include "bbs/error.h"

/* A JSON object of strings (name -> value), in file order. */
struct bbs_config_map {
    size_t n;
    char **names;
    char **values;
};

struct bbs_config {
    char *listen_address;             /* "host:port" of the API listener */
    char *health_address;             /* "host:port" of the plain-HTTP health listener */
    char *database_driver;            /* only "postgres" */
    char *database_connection_string; /* libpq conninfo; "" = embedded cluster */
    int max_open_database_connections;
    char *auctioneer_address; /* "http://host:port"; "" = no auction requests */
    int64_t communication_timeout_ns;
    char *log_level;
    int http_worker_threads;        /* I/O threads when not thread-per-connection (0: per CPU) */
    int http_handler_threads;       /* handlers' threads in the pool mode; 0: on the I/O threads */
    int http_thread_per_connection; /* one thread per connection (requests block in the DB) */
    int64_t max_request_body_bytes;
    int64_t http_idle_timeout_ns;
    int64_t http_read_timeout_ns;
    int max_connections;
    char *data_dir;         /* embedded PostgreSQL; "" = /var/lib/bbs as root, else ./bbs-data */
    char *postgres_bin_dir; /* "" = find initdb/pg_ctl under /usr/lib/postgresql */
    char *migrations_dir;
    int database_retries; /* attempts for a transaction hitting 40001/40P01/lost connection */
    int64_t database_connect_timeout_ns; /* libpq connect_timeout unless the conninfo sets one */
    int require_ssl;                     /* mutual TLS on the API listener (upstream key) */
    char *ca_file;   /* PEM CA(s) client certificates must chain to; "" unless require_ssl */
    char *cert_file; /* PEM server certificate (chain), RSA key */
    char *key_file;  /* PEM private key of cert_file */
    int64_t http_shutdown_timeout_ns; /* SIGTERM: how long requests in flight may take to finish */
    char *auctioneer_ca_cert;         /* PEM CA(s) the auctioneer's certificate must chain to */
    char *auctioneer_client_cert;     /* PEM client certificate presented to the auctioneer */
    char *auctioneer_client_key;      /* its private key; the three are all set or all "" */
    int auctioneer_require_tls;       /* no plain-HTTP retry after a failed TLS attempt */
    int outbox_queue_max;             /* outbound calls queued at most; more are dropped */
    char *locket_address;             /* "host:port" of Locket's gRPC API; "" = no Locket */
    char *locket_ca_cert_file;        /* PEM CA(s) Locket's certificate must chain to */
    char *locket_client_cert_file;    /* PEM client certificate presented to Locket */
    char *locket_client_key_file;     /* its key; the four locket keys are all set or all "" */
    char *rep_ca_cert;                /* PEM CA(s) reps' certificates must chain to */
    char *rep_client_cert;            /* PEM client certificate presented to reps */
    char *rep_client_key;             /* its key; the three rep files are all set or all "" */
    int rep_require_tls;              /* call reps only at an https rep_url (rep/client.go) */
    int64_t converge_repeat_interval_ns; /* LRP convergence period (upstream key) */
    int convergence_workers;             /* convergence batches applied at once (upstream key) */
    int event_subscriber_queue; /* event records a stream may lag behind before it is cut */
    int64_t event_heartbeat_interval_ns; /* an SSE comment on every stream this often */
    int64_t event_retention_age_ns;      /* change-log entries kept this long for resuming ... */
    int64_t event_retention_count;       /* ... and at most this many */
    int max_task_retries; /* rejects a task survives; the next one fails it (11.4.1) */

    /* Task convergence (reference part 2, 11.7) and completion callbacks (11.6). */
    int64_t kick_task_duration_ns;             /* task convergence: resubmit/demote after */
    int64_t expire_pending_task_duration_ns;   /* task convergence: fail Pending tasks older */
    int64_t expire_completed_task_duration_ns; /* task convergence: delete Completed after */
    int task_callback_workers;                 /* completion callbacks in progress at most */
    /* Metrics (reference-2 13; upstream keys). report_interval paces RequestCount,
     * RequestLatency, OpenFileDescriptors and LockHeld. */
    int64_t report_interval_ns;
    /* "loggregator": {...}, diego-logging-client's keys (JSON tags as upstream). */
    int loggregator_use_v2_api;       /* emit to the agent's v2 gRPC ingress; false = no emission */
    int loggregator_api_port;         /* the agent on 127.0.0.1:<port> */
    char *loggregator_ca_path;        /* PEM CA(s) the agent's certificate ("metron") chains to */
    char *loggregator_cert_path;      /* PEM client certificate presented to the agent */
    char *loggregator_key_path;       /* its key */
    char *loggregator_source_id;      /* envelope source_id; "" = "bbs" */
    char *loggregator_instance_id;    /* envelope instance_id */
    char *loggregator_job_origin;     /* tag "origin" on every envelope when set */
    char *loggregator_job_deployment; /* accepted, unused: the agent adds these tags itself */
    char *loggregator_job_name;
    char *loggregator_job_index;
    char *loggregator_job_ip;
    int loggregator_batch_max_size; /* envelopes per batch; 0 = 100 */
    /* BatchFlushInterval: accepted; batches are written as soon as they are made. */
    int64_t loggregator_batch_flush_interval_ns;
    int64_t loggregator_dial_timeout_ns; /* ours: the start-up dial of the agent (upstream: 1 s) */
    char *debug_address; /* "host:port" of the debug server (/log-level); "" = none */

    /* Encryption at rest (upstream keys): label -> passphrase, none = off. */
    struct bbs_config_map encryption_keys;
    char *active_key_label; /* the label new values are sealed with */

    /* Leadership (upstream keys; docs/operations.md, Leadership). */
    char *uuid;                     /* lock/lease owner; required with locket_address */
    int64_t lock_ttl_ns;            /* Locket lock TTL (whole seconds) / lease TTL */
    int64_t lock_retry_interval_ns; /* a standby tries again this often (lease: 1 s at most) */
    /* The database health check (upstream keys; operations.md, Leadership). */
    int enable_db_health_check;
    int64_t health_check_interval_ns;   /* a check this often */
    int64_t health_check_timeout_ns;    /* each attempt's deadline */
    int health_check_failure_threshold; /* attempts in a row before exiting */
};

/* What the loader does with a top-level key (bbs_config_key_kind). */
enum bbs_config_key_kind {
    BBS_CONFIG_KEY_USED,    /* a row of the key table */
    BBS_CONFIG_KEY_IGNORED, /* upstream's key we do not use: accepted, debug log line */
    BBS_CONFIG_KEY_UNKNOWN, /* neither: accepted with an error log line */
};

/*
 * Fill `cfg` with the defaults, then, if `path` is non-NULL, apply the
 * JSON object in that file. On failure returns -1 and `err` names the
 * offending key (or the file/parse problem). Free with bbs_config_clear().
 */
BBS_MUST_CHECK int bbs_config_load(struct bbs_config *cfg, const char *path, struct bbs_error *err);

/* Same, from a JSON text (used by tests). */
BBS_MUST_CHECK int bbs_config_load_string(struct bbs_config *cfg, const char *json,
                                          struct bbs_error *err);

/* Release the strings a loaded config owns. Accepts a zeroed config. */
void bbs_config_clear(struct bbs_config *cfg);

/* How the loader treats the key `name`. */
enum bbs_config_key_kind bbs_config_key_kind(const char *name);

/* The i-th accepted-and-ignored upstream key (sorted), NULL past the end. */
const char *bbs_config_ignored_key(size_t i);

/*
 * The I/O threads to start: `configured` (http_worker_threads) when set,
 * else one per online CPU (`online_cpus`, sysconf's answer; < 1 when it
 * has none), at least 2 and at most 1024.
 */
int bbs_config_io_threads(int configured, long online_cpus);

/* Parse a Go duration ("10s", "1m30s", "500ms", "2h"); -1 on error. */
int bbs_config_parse_duration(const char *s, int64_t *out_ns);

#endif /* BBS_CONFIG_H */
