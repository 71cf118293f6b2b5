/*
 * config.c - the configuration key table and its JSON loader (config.h).
 *
 * One row per key: name, type, offset into struct bbs_config, default and
 * bounds. Loading walks the JSON object once; every problem names its key.
 */
#include "bbs/config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bbs/log.h"
#include "bbs/xalloc.h"

enum key_type {
    KEY_STRING,
    KEY_INT,
    KEY_INT64,
    KEY_DURATION,
    KEY_BOOL,   /* JSON true/false; stored as int 0/1 */
    KEY_OBJECT, /* a JSON object whose members are the rows named "<key>.<member>" */
    KEY_MAP,    /* JSON object of strings; struct bbs_config_map, default always empty */
};

/* Encryption key labels: 1..127 bytes (reference 8.1). */
#define BBS_CONFIG_LABEL_MAX 127

struct config_key {
    const char *name;
    enum key_type type;
    size_t offset;
    const char *def; /* default, as the string the JSON value would parse from */
    int64_t min;
    int64_t max;
    int (*check)(const char *value, struct bbs_error *err, const char *name);
};

static int check_address(const char *v, struct bbs_error *err, const char *name)
{
    const char *colon = strrchr(v, ':');
    char *end = NULL;
    long port;

    if (colon == NULL) {
        goto bad;
    }
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || port < 0 || port > 65535) {
        goto bad;
    }
    return 0;
bad:
    bbs_error_setf(err, BBS_ERR_INVALID_REQUEST, "config key %s: \"%s\" is not host:port", name, v);
    return -1;
}

static int check_driver(const char *v, struct bbs_error *err, const char *name)
{
    if (strcmp(v, "postgres") == 0) {
        return 0;
    }
    bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                   "config key %s: \"%s\" is not supported (only \"postgres\")", name, v);
    return -1;
}

static int check_log_level(const char *v, struct bbs_error *err, const char *name)
{
    if (bbs_log_parse_level(v) >= 0) {
        return 0;
    }
    bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                   "config key %s: \"%s\" is not one of debug, info, error, fatal", name, v);
    return -1;
}

static int check_http_url(const char *v, struct bbs_error *err, const char *name)
{
    if (v[0] == '\0' || strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0) {
        return 0;
    }
    bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                   "config key %s: \"%s\" must start with http:// or https://", name, v);
    return -1;
}

/* An address that may be left empty (a listener that is off). */
static int check_optional_address(const char *v, struct bbs_error *err, const char *name)
{
    return v[0] == '\0' ? 0 : check_address(v, err, name);
}

#define OFF(f) offsetof(struct bbs_config, f)

static const struct config_key config_keys[] = {
    {"listen_address", KEY_STRING, OFF(listen_address), "0.0.0.0:8889", 0, 0, check_address},
    {"health_address", KEY_STRING, OFF(health_address), "127.0.0.1:8890", 0, 0, check_address},
    {"database_driver", KEY_STRING, OFF(database_driver), "postgres", 0, 0, check_driver},
    {"database_connection_string", KEY_STRING, OFF(database_connection_string), "", 0, 0, NULL},
    {"max_open_database_connections", KEY_INT, OFF(max_open_database_connections), "32", 1, 1000,
     NULL},
    {"auctioneer_address", KEY_STRING, OFF(auctioneer_address), "", 0, 0, check_http_url},
    {"communication_timeout", KEY_DURATION, OFF(communication_timeout_ns), "10s", 1, INT64_MAX,
     NULL},
    {"log_level", KEY_STRING, OFF(log_level), "info", 0, 0, check_log_level},
    /* 0: one per online CPU, at least 2 (bbs_config_io_threads, resolved at start-up). */
    {"http_worker_threads", KEY_INT, OFF(http_worker_threads), "0", 0, 1024, NULL},
    {"http_handler_threads", KEY_INT, OFF(http_handler_threads), "8", 0, 1024, NULL},
    {"http_thread_per_connection", KEY_BOOL, OFF(http_thread_per_connection), "false", 0, 1, NULL},
    {"max_request_body_bytes", KEY_INT64, OFF(max_request_body_bytes), "1048576", 1,
     INT64_C(1) << 32, NULL},
    /* Longer than the clients keep an idle connection (Go's cfhttp, the BBS client: 90 s;
     * libcurl: 118 s), so the client closes first: a server that closes first races the
     * client's next request on that connection (a broken pipe). */
    {"http_idle_timeout", KEY_DURATION, OFF(http_idle_timeout_ns), "120s", 1000000000, INT64_MAX,
     NULL},
    {"http_read_timeout", KEY_DURATION, OFF(http_read_timeout_ns), "30s", 1000000, INT64_MAX, NULL},
    {"max_connections", KEY_INT, OFF(max_connections), "1024", 1, 1000000, NULL},
    {"data_dir", KEY_STRING, OFF(data_dir), "", 0, 0, NULL},
    {"postgres_bin_dir", KEY_STRING, OFF(postgres_bin_dir), "", 0, 0, NULL},
    {"migrations_dir", KEY_STRING, OFF(migrations_dir), BBS_MIGRATIONS_DIR, 0, 0, NULL},
    {"database_retries", KEY_INT, OFF(database_retries), "3", 1, 100, NULL},
    {"database_connect_timeout", KEY_DURATION, OFF(database_connect_timeout_ns), "5s", 1000000000,
     INT64_C(3600) * 1000000000, NULL},
    {"require_ssl", KEY_BOOL, OFF(require_ssl), "false", 0, 1, NULL},
    {"ca_file", KEY_STRING, OFF(ca_file), "", 0, 0, NULL},
    {"cert_file", KEY_STRING, OFF(cert_file), "", 0, 0, NULL},
    {"key_file", KEY_STRING, OFF(key_file), "", 0, 0, NULL},
    {"http_shutdown_timeout", KEY_DURATION, OFF(http_shutdown_timeout_ns), "10s", 0,
     INT64_C(3600) * 1000000000, NULL},
    {"auctioneer_ca_cert", KEY_STRING, OFF(auctioneer_ca_cert), "", 0, 0, NULL},
    {"auctioneer_client_cert", KEY_STRING, OFF(auctioneer_client_cert), "", 0, 0, NULL},
    {"auctioneer_client_key", KEY_STRING, OFF(auctioneer_client_key), "", 0, 0, NULL},
    {"auctioneer_require_tls", KEY_BOOL, OFF(auctioneer_require_tls), "false", 0, 1, NULL},
    {"outbox_queue_max", KEY_INT, OFF(outbox_queue_max), "10000", 1, 1000000, NULL},
    {"converge_repeat_interval", KEY_DURATION, OFF(converge_repeat_interval_ns), "30s", 1000000,
     INT64_MAX, NULL},
    {"convergence_workers", KEY_INT, OFF(convergence_workers), "20", 1, 1000, NULL},
    {"locket_address", KEY_STRING, OFF(locket_address), "", 0, 0, NULL},
    {"locket_ca_cert_file", KEY_STRING, OFF(locket_ca_cert_file), "", 0, 0, NULL},
    {"locket_client_cert_file", KEY_STRING, OFF(locket_client_cert_file), "", 0, 0, NULL},
    {"locket_client_key_file", KEY_STRING, OFF(locket_client_key_file), "", 0, 0, NULL},
    {"rep_ca_cert", KEY_STRING, OFF(rep_ca_cert), "", 0, 0, NULL},
    {"rep_client_cert", KEY_STRING, OFF(rep_client_cert), "", 0, 0, NULL},
    {"rep_client_key", KEY_STRING, OFF(rep_client_key), "", 0, 0, NULL},
    {"rep_require_tls", KEY_BOOL, OFF(rep_require_tls), "false", 0, 1, NULL},
    {"event_subscriber_queue", KEY_INT, OFF(event_subscriber_queue), "1024", 1, 1000000, NULL},
    {"event_heartbeat_interval", KEY_DURATION, OFF(event_heartbeat_interval_ns), "15s", 1000000,
     INT64_MAX, NULL},
    {"event_retention_age", KEY_DURATION, OFF(event_retention_age_ns), "10m", 0, INT64_MAX, NULL},
    {"event_retention_count", KEY_INT64, OFF(event_retention_count), "1000000", 1, INT64_MAX, NULL},
    {"max_task_retries", KEY_INT, OFF(max_task_retries), "0", 0, INT32_MAX, NULL},
    {"kick_task_duration", KEY_DURATION, OFF(kick_task_duration_ns), "30s", 0, INT64_MAX, NULL},
    {"expire_pending_task_duration", KEY_DURATION, OFF(expire_pending_task_duration_ns), "30m", 0,
     INT64_MAX, NULL},
    {"expire_completed_task_duration", KEY_DURATION, OFF(expire_completed_task_duration_ns), "2m",
     0, INT64_MAX, NULL},
    {"task_callback_workers", KEY_INT, OFF(task_callback_workers), "1000", 1, 1000000, NULL},
    {"report_interval", KEY_DURATION, OFF(report_interval_ns), "1m", 1000000, INT64_MAX, NULL},
    {"loggregator", KEY_OBJECT, 0, "", 0, 0, NULL},
    {"loggregator.loggregator_use_v2_api", KEY_BOOL, OFF(loggregator_use_v2_api), "false", 0, 1,
     NULL},
    {"loggregator.loggregator_api_port", KEY_INT, OFF(loggregator_api_port), "3458", 0, 65535,
     NULL},
    {"loggregator.loggregator_ca_path", KEY_STRING, OFF(loggregator_ca_path), "", 0, 0, NULL},
    {"loggregator.loggregator_cert_path", KEY_STRING, OFF(loggregator_cert_path), "", 0, 0, NULL},
    {"loggregator.loggregator_key_path", KEY_STRING, OFF(loggregator_key_path), "", 0, 0, NULL},
    {"loggregator.loggregator_source_id", KEY_STRING, OFF(loggregator_source_id), "", 0, 0, NULL},
    {"loggregator.loggregator_instance_id", KEY_STRING, OFF(loggregator_instance_id), "", 0, 0,
     NULL},
    {"loggregator.loggregator_job_origin", KEY_STRING, OFF(loggregator_job_origin), "", 0, 0, NULL},
    {"loggregator.loggregator_job_deployment", KEY_STRING, OFF(loggregator_job_deployment), "", 0,
     0, NULL},
    {"loggregator.loggregator_job_name", KEY_STRING, OFF(loggregator_job_name), "", 0, 0, NULL},
    {"loggregator.loggregator_job_index", KEY_STRING, OFF(loggregator_job_index), "", 0, 0, NULL},
    {"loggregator.loggregator_job_ip", KEY_STRING, OFF(loggregator_job_ip), "", 0, 0, NULL},
    {"loggregator.loggregator_batch_max_size", KEY_INT, OFF(loggregator_batch_max_size), "0", 0,
     1000000, NULL},
    {"loggregator.BatchFlushInterval", KEY_DURATION, OFF(loggregator_batch_flush_interval_ns), "0",
     0, INT64_MAX, NULL},
    {"loggregator.loggregator_dial_timeout", KEY_DURATION, OFF(loggregator_dial_timeout_ns), "1s",
     1000000, INT64_C(600000000000), NULL},
    {"debug_address", KEY_STRING, OFF(debug_address), "", 0, 0, check_optional_address},
    {"encryption_keys", KEY_MAP, OFF(encryption_keys), "", 1, BBS_CONFIG_LABEL_MAX, NULL},
    {"active_key_label", KEY_STRING, OFF(active_key_label), "", 0, 0, NULL},
    {"uuid", KEY_STRING, OFF(uuid), "", 0, 0, NULL},
    {"lock_ttl", KEY_DURATION, OFF(lock_ttl_ns), "15s", 1000000000, INT64_C(3600) * 1000000000,
     NULL},
    {"lock_retry_interval", KEY_DURATION, OFF(lock_retry_interval_ns), "5s", 100000000,
     INT64_C(3600) * 1000000000, NULL},
    {"enable_db_health_check", KEY_BOOL, OFF(enable_db_health_check), "false", 0, 1, NULL},
    {"health_check_interval", KEY_DURATION, OFF(health_check_interval_ns), "10s", 1000000,
     INT64_MAX, NULL},
    {"health_check_timeout", KEY_DURATION, OFF(health_check_timeout_ns), "5s", 1000000, INT64_MAX,
     NULL},
    {"health_check_failure_threshold", KEY_INT, OFF(health_check_failure_threshold), "3", 1, 1000,
     NULL},
};

/*
 * Keys upstream's BBS reads that this server accepts and does not use
 * (yet): every json tag of upstream's cmd/bbs/config BBSConfig, with the
 * structs it embeds (lagerflags, debugserver, encryption, locket client),
 * plus the keys diego-release's bbs job writes that BBSConfig does not
 * declare (Go's decoder skips them; so do we, quietly). Sorted; a unit
 * test checks the order and that no key is both here and in config_keys.
 */
static const char *const upstream_keys[] = {
    "access_log_path",
    "advanced_metrics",
    "advertise_url",
    "cell_registrations_locket_enabled",
    "db_connection_timeout",
    "db_read_timeout",
    "db_write_timeout",
    "debug_lrp_start_heartbeats",
    "desired_lrp_creation_timeout",
    "locket_client_keepalive_time",
    "locket_client_keepalive_timeout",
    "locks_locket_enabled",
    "max_data_string_length",
    "max_database_connection_lifetime",
    "max_idle_database_connections",
    "redact_secrets",
    "rep_client_session_cache_size",
    "session_name",
    "sql_ca_cert_file",
    "sql_enable_identity_verification",
    "time_format",
    "update_workers",
};

int bbs_config_parse_duration(const char *s, int64_t *out_ns)
{
    static const struct {
        const char *unit;
        int64_t ns;
    } units[] = {
        {"ns", 1},
        {"us", 1000},
        {"µs", 1000},
        {"ms", 1000000},
        {"s", 1000000000},
        {"m", INT64_C(60) * 1000000000},
        {"h", INT64_C(3600) * 1000000000},
    };
    int64_t total = 0;
    const char *p = s;

    if (*p == '\0') {
        return -1;
    }
    if (strcmp(p, "0") == 0) {
        *out_ns = 0;
        return 0;
    }
    while (*p != '\0') {
        double v;
        char *end;
        size_t best = 0;
        int found = -1;

        if (!isdigit((unsigned char)*p) && *p != '.') {
            return -1;
        }
        errno = 0;
        v = strtod(p, &end);
        if (errno != 0 || end == p) {
            return -1;
        }
        p = end;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t n = strlen(units[i].unit);

            if (strncmp(p, units[i].unit, n) == 0 && n > best) {
                best = n;
                found = (int)i;
            }
        }
        if (found < 0) {
            return -1;
        }
        p += best;
        if (v * (double)units[found].ns > 9.2e18) {
            return -1;
        }
        total += (int64_t)(v * (double)units[found].ns);
    }
    *out_ns = total;
    return 0;
}

static const struct config_key *find_key(const char *name);
static int set_value(struct bbs_config *cfg, const struct config_key *k, const char *text,
                     json_t *json, struct bbs_error *err);

/* A KEY_OBJECT: each member is the row "<key>.<member>"; unknown members are logged. */
static int set_object(struct bbs_config *cfg, const struct config_key *k, json_t *json,
                      struct bbs_error *err)
{
    const char *member;
    json_t *value;

    if (json == NULL) {
        return 0; /* the members have their own defaults */
    }
    if (!json_is_object(json)) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST, "config key %s: must be an object", k->name);
        return -1;
    }
    json_object_foreach(json, member, value)
    {
        char name[256];
        const struct config_key *sub;

        snprintf(name, sizeof(name), "%s.%s", k->name, member);
        sub = find_key(name);
        if (sub == NULL) {
            bbs_log(BBS_LOG_ERROR, "config.unknown-key", "{s:s}", "key", name);
            continue;
        }
        if (set_value(cfg, sub, NULL, value, err) != 0) {
            return -1;
        }
    }
    return 0;
}

static void map_clear(struct bbs_config_map *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->names[i]);
        free(m->values[i]);
    }
    free(m->names);
    free(m->values);
    memset(m, 0, sizeof(*m));
}

/* A JSON object of strings whose names are min..max bytes long. */
static int set_map(struct bbs_config_map *m, const struct config_key *k, json_t *json,
                   struct bbs_error *err)
{
    const char *name;
    json_t *v;
    size_t i = 0;

    map_clear(m);
    if (json == NULL) {
        return 0;
    }
    if (!json_is_object(json)) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                       "config key %s: must be an object of names to strings", k->name);
        return -1;
    }
    m->names = bbs_xcalloc(json_object_size(json) + 1, sizeof(char *));
    m->values = bbs_xcalloc(json_object_size(json) + 1, sizeof(char *));
    json_object_foreach(json, name, v)
    {
        size_t len = strlen(name);

        if (!json_is_string(v)) {
            bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                           "config key %s: \"%.40s\" must be a string", k->name, name);
            return -1;
        }
        if ((int64_t)len < k->min || (int64_t)len > k->max) {
            bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                           "config key %s: name \"%.40s\" must be %lld to %lld bytes long", k->name,
                           name, (long long)k->min, (long long)k->max);
            return -1;
        }
        m->names[i] = bbs_xstrdup(name);
        m->values[i] = bbs_xstrdup(json_string_value(v));
        m->n = ++i;
    }
    return 0;
}

static int set_value(struct bbs_config *cfg, const struct config_key *k, const char *text,
                     json_t *json, struct bbs_error *err)
{
    char *base = (char *)cfg;
    int64_t n = 0;

    switch (k->type) {
    case KEY_OBJECT:
        return set_object(cfg, k, json, err);
    case KEY_MAP:
        return set_map((struct bbs_config_map *)(base + k->offset), k, json, err);
    case KEY_STRING: {
        char **dst = (char **)(base + k->offset);
        const char *v = text;

        if (json != NULL) {
            if (!json_is_string(json)) {
                bbs_error_setf(err, BBS_ERR_INVALID_REQUEST, "config key %s: must be a string",
                               k->name);
                return -1;
            }
            v = json_string_value(json);
        }
        if (k->check != NULL && !(v[0] == '\0' && k->check != check_address &&
                                  k->check != check_driver && k->check != check_log_level)) {
            if (k->check(v, err, k->name) != 0) {
                return -1;
            }
        }
        free(*dst);
        *dst = bbs_xstrdup(v);
        return 0;
    }
    case KEY_INT:
    case KEY_INT64:
        if (json != NULL) {
            if (!json_is_integer(json)) {
                bbs_error_setf(err, BBS_ERR_INVALID_REQUEST, "config key %s: must be an integer",
                               k->name);
                return -1;
            }
            n = json_integer_value(json);
        } else {
            n = strtoll(text, NULL, 10);
        }
        break;
    case KEY_BOOL:
        if (json != NULL) {
            if (!json_is_boolean(json)) {
                bbs_error_setf(err, BBS_ERR_INVALID_REQUEST, "config key %s: must be true or false",
                               k->name);
                return -1;
            }
            n = json_is_true(json);
        } else {
            n = strcmp(text, "true") == 0;
        }
        break;
    case KEY_DURATION:
        if (json != NULL && json_is_integer(json)) {
            n = json_integer_value(json); /* Go encodes durations as integer ns too */
        } else if (json != NULL && !json_is_string(json)) {
            bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                           "config key %s: must be a duration such as \"10s\"", k->name);
            return -1;
        } else if (bbs_config_parse_duration(json ? json_string_value(json) : text, &n) != 0) {
            bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                           "config key %s: \"%s\" is not a duration such as \"10s\"", k->name,
                           json ? json_string_value(json) : text);
            return -1;
        }
        break;
    }
    if (n < k->min || n > k->max) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                       "config key %s: %lld is out of range [%lld, %lld]", k->name, (long long)n,
                       (long long)k->min, (long long)k->max);
        return -1;
    }
    if (k->type == KEY_INT || k->type == KEY_BOOL) {
        *(int *)(base + k->offset) = (int)n;
    } else {
        *(int64_t *)(base + k->offset) = n;
    }
    return 0;
}

static int apply_defaults(struct bbs_config *cfg, struct bbs_error *err)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
        if (set_value(cfg, &config_keys[i], config_keys[i].def, NULL, err) != 0) {
            return -1;
        }
    }
    return 0;
}

static const struct config_key *find_key(const char *name)
{
    for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
        if (strcmp(config_keys[i].name, name) == 0) {
            return &config_keys[i];
        }
    }
    return NULL;
}

enum bbs_config_key_kind bbs_config_key_kind(const char *name)
{
    if (find_key(name) != NULL) {
        return BBS_CONFIG_KEY_USED;
    }
    for (size_t i = 0; i < sizeof(upstream_keys) / sizeof(upstream_keys[0]); i++) {
        if (strcmp(upstream_keys[i], name) == 0) {
            return BBS_CONFIG_KEY_IGNORED;
        }
    }
    return BBS_CONFIG_KEY_UNKNOWN;
}

const char *bbs_config_ignored_key(size_t i)
{
    return i < sizeof(upstream_keys) / sizeof(upstream_keys[0]) ? upstream_keys[i] : NULL;
}

static int apply_json(struct bbs_config *cfg, json_t *root, struct bbs_error *err)
{
    const char *name;
    json_t *value;

    if (!json_is_object(root)) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST, "config: the file must hold a JSON object");
        return -1;
    }
    json_object_foreach(root, name, value)
    {
        /* "a.b" rows are members of the object "a", not top-level keys. */
        const struct config_key *k = strchr(name, '.') == NULL ? find_key(name) : NULL;

        if (k == NULL) {
            if (bbs_config_key_kind(name) == BBS_CONFIG_KEY_IGNORED) {
                bbs_log(BBS_LOG_DEBUG, "config.ignored-upstream-key", "{s:s}", "key", name);
            } else {
                bbs_log(BBS_LOG_ERROR, "config.unknown-key", "{s:s}", "key", name);
            }
            continue;
        }
        if (set_value(cfg, k, NULL, value, err) != 0) {
            return -1;
        }
    }
    return 0;
}

/* A config key and its value, for the all-or-none groups below. */
struct named_value {
    const char *name;
    const char *value;
};

/*
 * The `n` keys are all set or none: the first unset one of a group where
 * any is set is refused, naming the last set one, with `why` after.
 */
static int check_all_or_none(const struct named_value *keys, size_t n, const char *why,
                             struct bbs_error *err)
{
    const char *set = NULL;

    for (size_t i = 0; i < n; i++) {
        if (keys[i].value[0] != '\0') {
            set = keys[i].name;
        }
    }
    for (size_t i = 0; set != NULL && i < n; i++) {
        if (keys[i].value[0] == '\0') {
            bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                           "config key %s: required when %s is set (%s)", keys[i].name, set, why);
            return -1;
        }
    }
    return 0;
}

/*
 * Mutual TLS to the auctioneer, as upstream's cmd/bbs decides it: any of
 * the three files set means a TLS client, and building it needs all three
 * (upstream then dies with failed-to-construct-auctioneer-client), so an
 * incomplete set is refused here. auctioneer_require_tls alone, without
 * the files, is accepted and has no effect, as upstream. Whether the
 * files load is checked by the auctioneer client at start-up.
 */
static int check_auctioneer_tls(const struct bbs_config *cfg, struct bbs_error *err)
{
    const struct named_value files[] = {{"auctioneer_ca_cert", cfg->auctioneer_ca_cert},
                                        {"auctioneer_client_cert", cfg->auctioneer_client_cert},
                                        {"auctioneer_client_key", cfg->auctioneer_client_key}};

    return check_all_or_none(files, sizeof(files) / sizeof(files[0]),
                             "mutual TLS to the auctioneer needs auctioneer_ca_cert, "
                             "auctioneer_client_cert and auctioneer_client_key",
                             err);
}

/*
 * The client identity for reps is all three files or none. Upstream
 * quietly presents no certificate when one is missing; a deployment that
 * set some of them meant mutual TLS, so an incomplete set is refused.
 * Whether the files load is checked by the outbox at start-up.
 */
static int check_rep_tls(const struct bbs_config *cfg, struct bbs_error *err)
{
    const struct named_value files[] = {{"rep_ca_cert", cfg->rep_ca_cert},
                                        {"rep_client_cert", cfg->rep_client_cert},
                                        {"rep_client_key", cfg->rep_client_key}};

    return check_all_or_none(
        files, sizeof(files) / sizeof(files[0]),
        "mutual TLS to reps needs rep_ca_cert, rep_client_cert and rep_client_key", err);
}

/*
 * Locket (cells) is all four keys or none. Upstream's BBS cannot build its
 * Locket client without the address or any of the TLS files and exits;
 * in particular TLS files with no locket_address is that error (upstream's
 * presence_test "exits with an error when locket api location is not
 * provided"). None at all runs without Locket: no cells are known. The
 * address must be host:port; whether the files load is checked by the
 * Locket client at start-up.
 */
static int check_locket(const struct bbs_config *cfg, struct bbs_error *err)
{
    const struct named_value keys[] = {{"locket_address", cfg->locket_address},
                                       {"locket_ca_cert_file", cfg->locket_ca_cert_file},
                                       {"locket_client_cert_file", cfg->locket_client_cert_file},
                                       {"locket_client_key_file", cfg->locket_client_key_file}};

    if (check_all_or_none(keys, sizeof(keys) / sizeof(keys[0]),
                          "Locket needs locket_address, locket_ca_cert_file, "
                          "locket_client_cert_file and locket_client_key_file",
                          err) != 0) {
        return -1;
    }
    if (cfg->locket_address[0] != '\0' &&
        check_address(cfg->locket_address, err, "locket_address") != 0) {
        return -1;
    }
    return 0;
}

/*
 * Encryption at rest as upstream's EncryptionConfig.Parse: keys need an
 * active label among them; an active label needs keys. No keys at all:
 * values are stored plain (main.c says so at start-up).
 */
static int check_encryption(const struct bbs_config *cfg, struct bbs_error *err)
{
    const char *active = cfg->active_key_label;

    if (cfg->encryption_keys.n == 0 && active[0] == '\0') {
        return 0;
    }
    if (cfg->encryption_keys.n == 0) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                       "config key encryption_keys: must have at least one key when "
                       "active_key_label is set");
        return -1;
    }
    for (size_t i = 0; i < cfg->encryption_keys.n; i++) {
        if (strcmp(cfg->encryption_keys.names[i], active) == 0) {
            return 0;
        }
    }
    bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                   "config key active_key_label: \"%s\" must be one of the encryption_keys",
                   active);
    return -1;
}

/*
 * Rules that span keys. TLS is all or nothing: require_ssl needs the three
 * files, and TLS files without require_ssl are refused rather than
 * silently serving plain HTTP to a deployment that meant mutual TLS
 * (upstream would ignore them). Whether the files can be read and parsed
 * is checked when the listener loads them (bbs_http_tls_load), still
 * before anything else starts.
 */
static int check_cross(const struct bbs_config *cfg, struct bbs_error *err)
{
    const struct {
        const char *name;
        const char *value;
    } files[] = {
        {"cert_file", cfg->cert_file}, {"key_file", cfg->key_file}, {"ca_file", cfg->ca_file}};

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (cfg->require_ssl && files[i].value[0] == '\0') {
            bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                           "config key %s: required when require_ssl is true", files[i].name);
            return -1;
        }
        if (!cfg->require_ssl && files[i].value[0] != '\0') {
            bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                           "config key require_ssl: false while %s is set; set require_ssl to "
                           "true to serve mutual TLS, or remove the TLS files",
                           files[i].name);
            return -1;
        }
    }
    if (check_auctioneer_tls(cfg, err) != 0) {
        return -1;
    }
    if (check_rep_tls(cfg, err) != 0) {
        return -1;
    }
    if (check_encryption(cfg, err) != 0) {
        return -1;
    }
    return check_locket(cfg, err);
}

static int load(struct bbs_config *cfg, json_t *root, struct bbs_error *err)
{
    int rc = -1;

    if (apply_defaults(cfg, err) != 0) {
        goto out;
    }
    if (root != NULL && apply_json(cfg, root, err) != 0) {
        goto out;
    }
    if (check_cross(cfg, err) != 0) {
        goto out;
    }
    rc = 0;
out:
    if (rc != 0) {
        bbs_config_clear(cfg);
    }
    return rc;
}

int bbs_config_load_string(struct bbs_config *cfg, const char *text, struct bbs_error *err)
{
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    int rc;

    if (root == NULL) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST, "config: line %d column %d: %s", jerr.line,
                       jerr.column, jerr.text);
        return -1;
    }
    rc = load(cfg, root, err);
    json_decref(root);
    return rc;
}

int bbs_config_load(struct bbs_config *cfg, const char *path, struct bbs_error *err)
{
    json_error_t jerr;
    json_t *root;
    int rc;

    if (path == NULL) {
        return load(cfg, NULL, err);
    }
    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL && jerr.line < 0) {
        /* Not parsed at all (jansson says line -1): its text names the file and errno. */
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST, "config: %s", jerr.text);
        return -1;
    }
    if (root == NULL) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST, "config %s: line %d column %d: %s", path,
                       jerr.line, jerr.column, jerr.text);
        return -1;
    }
    rc = load(cfg, root, err);
    json_decref(root);
    return rc;
}

void bbs_config_clear(struct bbs_config *cfg)
{
    char *base = (char *)cfg;

    for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
        if (config_keys[i].type == KEY_STRING) {
            char **p = (char **)(base + config_keys[i].offset);

            free(*p);
            *p = NULL;
        }
        if (config_keys[i].type == KEY_MAP) {
            map_clear((struct bbs_config_map *)(base + config_keys[i].offset));
        }
    }
}

int bbs_config_io_threads(int configured, long online_cpus)
{
    if (configured > 0) {
        return configured;
    }
    if (online_cpus < 2) {
        return 2;
    }
    return online_cpus > 1024 ? 1024 : (int)online_cpus;
}
