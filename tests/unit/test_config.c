/*
 * test_config.c - the config key table: defaults, types, ranges, and that
 * every refusal names its key.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "bbs/config.h"

static void test_defaults(void **state)
{
    struct bbs_config cfg;
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(bbs_config_load(&cfg, NULL, &err), 0);
    assert_string_equal(cfg.listen_address, "0.0.0.0:8889");
    assert_string_equal(cfg.health_address, "127.0.0.1:8890");
    assert_string_equal(cfg.database_driver, "postgres");
    assert_string_equal(cfg.database_connection_string, "");
    assert_int_equal(cfg.max_request_body_bytes, 1048576);
    assert_true(cfg.communication_timeout_ns == INT64_C(10000000000));
    assert_string_equal(cfg.log_level, "info");
    assert_int_equal(cfg.http_thread_per_connection, 0);
    assert_int_equal(cfg.http_worker_threads, 0); /* one I/O thread per CPU, resolved at start */
    /* Past the 90 s after which the BBS's Go client closes an idle connection itself. */
    assert_true(cfg.http_idle_timeout_ns == INT64_C(120000000000));
    /* Upstream's code reads an absent max_task_retries as 0 (its suite relies on it). */
    assert_int_equal(cfg.max_task_retries, 0);
    bbs_config_clear(&cfg);
}

/* Task keys (reference part 2, 11.7): the BOSH values by default (q13), durations as Go's. */
static void test_task_keys(void **state)
{
    struct bbs_config cfg;
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(bbs_config_load(&cfg, NULL, &err), 0);
    assert_true(cfg.kick_task_duration_ns == INT64_C(30000000000));
    assert_true(cfg.expire_pending_task_duration_ns == INT64_C(1800000000000));
    assert_true(cfg.expire_completed_task_duration_ns == INT64_C(120000000000));
    assert_int_equal(cfg.task_callback_workers, 1000);
    bbs_config_clear(&cfg);
    assert_int_equal(bbs_config_load_string(&cfg,
                                            "{\"kick_task_duration\":\"2s\","
                                            "\"expire_pending_task_duration\":\"1m\","
                                            "\"expire_completed_task_duration\":\"3s\","
                                            "\"task_callback_workers\":5}",
                                            &err),
                     0);
    assert_true(cfg.kick_task_duration_ns == INT64_C(2000000000));
    assert_true(cfg.expire_pending_task_duration_ns == INT64_C(60000000000));
    assert_true(cfg.expire_completed_task_duration_ns == INT64_C(3000000000));
    assert_int_equal(cfg.task_callback_workers, 5);
    assert_int_equal(bbs_config_key_kind("kick_task_duration"), BBS_CONFIG_KEY_USED);
    assert_int_equal(bbs_config_key_kind("task_callback_workers"), BBS_CONFIG_KEY_USED);
    bbs_config_clear(&cfg);
    assert_int_equal(bbs_config_load_string(&cfg, "{\"task_callback_workers\":0}", &err), -1);
    bbs_config_clear(&cfg);
}

static void test_values_applied(void **state)
{
    struct bbs_config cfg;
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(bbs_config_load_string(&cfg,
                                            "{\"listen_address\":\"127.0.0.1:9000\","
                                            "\"communication_timeout\":\"1m30s\","
                                            "\"max_open_database_connections\":7,"
                                            "\"http_thread_per_connection\":true,"
                                            "\"lock_ttl\":\"15s\",\"something_new\":1}",
                                            &err),
                     0);
    assert_string_equal(cfg.listen_address, "127.0.0.1:9000");
    assert_true(cfg.communication_timeout_ns == INT64_C(90000000000));
    assert_int_equal(cfg.max_open_database_connections, 7);
    assert_int_equal(cfg.http_thread_per_connection, 1);
    bbs_config_clear(&cfg);
}

struct bad_case {
    const char *name;
    const char *json;
    const char *must_mention;
};

static const struct bad_case bad_cases[] = {
    {"listen_address_not_string", "{\"listen_address\": 8889}", "listen_address"},
    {"listen_address_no_port", "{\"listen_address\": \"localhost\"}", "listen_address"},
    {"driver_mysql", "{\"database_driver\": \"mysql\"}", "database_driver"},
    {"connections_zero", "{\"max_open_database_connections\": 0}", "max_open_database_connections"},
    {"connections_string", "{\"max_open_database_connections\": \"5\"}",
     "max_open_database_connections"},
    {"bad_duration", "{\"communication_timeout\": \"ten seconds\"}", "communication_timeout"},
    {"bad_log_level", "{\"log_level\": \"loud\"}", "log_level"},
    {"auctioneer_no_scheme", "{\"auctioneer_address\": \"auctioneer:9016\"}", "auctioneer_address"},
    {"body_cap_negative", "{\"max_request_body_bytes\": -1}", "max_request_body_bytes"},
    {"thread_per_connection_not_bool", "{\"http_thread_per_connection\": 1}",
     "http_thread_per_connection"},
    {"not_an_object", "[1, 2]", "object"},
    {"not_json", "{\"listen_address\": ", "line"},
    {"duplicate_key", "{\"log_level\":\"info\",\"log_level\":\"debug\"}", "duplicate"},
    /* Mutual TLS to the auctioneer: any of the three files needs the other two. */
    {"auctioneer_tls_no_client_cert",
     "{\"auctioneer_ca_cert\":\"ca.crt\",\"auctioneer_client_key\":\"c.key\"}",
     "config key auctioneer_client_cert: required when"},
    {"auctioneer_tls_only_cert", "{\"auctioneer_client_cert\":\"c.crt\"}",
     "config key auctioneer_ca_cert: required when auctioneer_client_cert is set"},
    {"auctioneer_tls_no_key",
     "{\"auctioneer_ca_cert\":\"ca.crt\",\"auctioneer_client_cert\":\"c.crt\"}",
     "config key auctioneer_client_key: required when"},
    {"auctioneer_require_tls_not_bool", "{\"auctioneer_require_tls\": \"yes\"}",
     "auctioneer_require_tls"},
    {"outbox_queue_max_zero", "{\"outbox_queue_max\": 0}", "outbox_queue_max"},
    {"http_worker_threads_negative", "{\"http_worker_threads\": -1}", "http_worker_threads"},
    /* Locket: the four keys all set or none (presence_test.go: no address = exit). */
    {"locket_tls_without_address",
     "{\"locket_ca_cert_file\":\"ca.crt\",\"locket_client_cert_file\":\"c.crt\","
     "\"locket_client_key_file\":\"c.key\"}",
     "config key locket_address: required when"},
    {"locket_address_without_tls", "{\"locket_address\":\"locket:8891\"}",
     "config key locket_ca_cert_file: required when locket_address is set"},
    {"locket_no_key",
     "{\"locket_address\":\"locket:8891\",\"locket_ca_cert_file\":\"ca.crt\","
     "\"locket_client_cert_file\":\"c.crt\"}",
     "config key locket_client_key_file: required when"},
    {"locket_address_no_port",
     "{\"locket_address\":\"locket\",\"locket_ca_cert_file\":\"ca.crt\","
     "\"locket_client_cert_file\":\"c.crt\",\"locket_client_key_file\":\"c.key\"}",
     "config key locket_address: \"locket\" is not host:port"},
    {"locket_address_not_string", "{\"locket_address\": 8891}", "locket_address"},
    /* The client identity for reps: all three files or none. */
    {"rep_tls_only_cert", "{\"rep_client_cert\":\"c.crt\"}",
     "config key rep_ca_cert: required when rep_client_cert is set"},
    {"rep_tls_no_key", "{\"rep_ca_cert\":\"ca.crt\",\"rep_client_cert\":\"c.crt\"}",
     "config key rep_client_key: required when"},
    {"rep_require_tls_not_bool", "{\"rep_require_tls\": 1}", "rep_require_tls"},
};

/* http_worker_threads 0 (the default): one I/O thread per online CPU, 2 to 1,024. */
static void test_io_threads(void **state)
{
    (void)state;
    assert_int_equal(bbs_config_io_threads(0, 2), 2);
    assert_int_equal(bbs_config_io_threads(0, 16), 16);
    assert_int_equal(bbs_config_io_threads(0, 1), 2);
    assert_int_equal(bbs_config_io_threads(0, -1), 2); /* sysconf could not tell */
    assert_int_equal(bbs_config_io_threads(0, 4096), 1024);
    assert_int_equal(bbs_config_io_threads(8, 2), 8); /* set: as set */
    assert_int_equal(bbs_config_io_threads(1, 64), 1);
}

static void test_bad_case(void **state)
{
    const struct bad_case *c = *state;
    struct bbs_config cfg;
    struct bbs_error err = {0};

    assert_int_equal(bbs_config_load_string(&cfg, c->json, &err), -1);
    assert_non_null(strstr(err.message, c->must_mention));
}

static void test_auctioneer_tls_keys(void **state)
{
    struct bbs_config cfg;
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(bbs_config_load_string(&cfg,
                                            "{\"auctioneer_ca_cert\":\"/c/ca.crt\","
                                            "\"auctioneer_client_cert\":\"/c/client.crt\","
                                            "\"auctioneer_client_key\":\"/c/client.key\","
                                            "\"auctioneer_require_tls\":true}",
                                            &err),
                     0);
    assert_string_equal(cfg.auctioneer_ca_cert, "/c/ca.crt");
    assert_string_equal(cfg.auctioneer_client_cert, "/c/client.crt");
    assert_string_equal(cfg.auctioneer_client_key, "/c/client.key");
    assert_int_equal(cfg.auctioneer_require_tls, 1);
    bbs_config_clear(&cfg);

    /* require_tls without the files is accepted and changes nothing, as upstream. */
    assert_int_equal(bbs_config_load_string(&cfg, "{\"auctioneer_require_tls\":true}", &err), 0);
    assert_string_equal(cfg.auctioneer_ca_cert, "");
    bbs_config_clear(&cfg);
}

/* Leadership keys (lead.h): upstream's defaults, durations parsed, a TTL under 1 s refused. */
static void test_leadership_keys(void **state)
{
    struct bbs_config cfg;
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(bbs_config_load_string(&cfg, "{}", &err), 0);
    assert_string_equal(cfg.uuid, "");
    assert_int_equal(cfg.lock_ttl_ns, INT64_C(15000000000));
    assert_int_equal(cfg.lock_retry_interval_ns, INT64_C(5000000000));
    assert_int_equal(cfg.enable_db_health_check, 0);
    assert_int_equal(cfg.health_check_interval_ns, INT64_C(10000000000));
    assert_int_equal(cfg.health_check_timeout_ns, INT64_C(5000000000));
    assert_int_equal(cfg.health_check_failure_threshold, 3);
    bbs_config_clear(&cfg);
    assert_int_equal(
        bbs_config_load_string(
            &cfg, "{\"uuid\":\"bbs-0\",\"lock_ttl\":\"2s\",\"lock_retry_interval\":\"1s\"}", &err),
        0);
    assert_string_equal(cfg.uuid, "bbs-0");
    assert_int_equal(cfg.lock_ttl_ns, INT64_C(2000000000));
    assert_int_equal(cfg.lock_retry_interval_ns, INT64_C(1000000000));
    bbs_config_clear(&cfg);
    assert_int_equal(bbs_config_load_string(&cfg, "{\"lock_ttl\":\"500ms\"}", &err), -1);
    assert_non_null(strstr(err.message, "lock_ttl"));
}

static void test_rep_tls_keys(void **state)
{
    struct bbs_config cfg;
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(bbs_config_load_string(&cfg, "{}", &err), 0);
    assert_string_equal(cfg.rep_client_cert, "");
    assert_int_equal(cfg.rep_require_tls, 0);
    bbs_config_clear(&cfg);
    assert_int_equal(bbs_config_load_string(&cfg,
                                            "{\"rep_ca_cert\":\"/c/ca.crt\","
                                            "\"rep_client_cert\":\"/c/client.crt\","
                                            "\"rep_client_key\":\"/c/client.key\","
                                            "\"rep_require_tls\":true}",
                                            &err),
                     0);
    assert_string_equal(cfg.rep_ca_cert, "/c/ca.crt");
    assert_string_equal(cfg.rep_client_cert, "/c/client.crt");
    assert_string_equal(cfg.rep_client_key, "/c/client.key");
    assert_int_equal(cfg.rep_require_tls, 1);
    bbs_config_clear(&cfg);
}

static void test_locket_keys(void **state)
{
    struct bbs_config cfg;
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(bbs_config_load_string(&cfg,
                                            "{\"locket_address\":\"locket.service:8891\","
                                            "\"locket_ca_cert_file\":\"/c/ca.crt\","
                                            "\"locket_client_cert_file\":\"/c/client.crt\","
                                            "\"locket_client_key_file\":\"/c/client.key\"}",
                                            &err),
                     0);
    assert_string_equal(cfg.locket_address, "locket.service:8891");
    assert_string_equal(cfg.locket_ca_cert_file, "/c/ca.crt");
    assert_string_equal(cfg.locket_client_cert_file, "/c/client.crt");
    assert_string_equal(cfg.locket_client_key_file, "/c/client.key");
    bbs_config_clear(&cfg);

    /* None at all: no Locket (the default). */
    assert_int_equal(bbs_config_load(&cfg, NULL, &err), 0);
    assert_string_equal(cfg.locket_address, "");
    assert_string_equal(cfg.locket_ca_cert_file, "");
    bbs_config_clear(&cfg);
    assert_int_equal(bbs_config_key_kind("locket_address"), BBS_CONFIG_KEY_USED);
    assert_int_equal(bbs_config_key_kind("locket_client_key_file"), BBS_CONFIG_KEY_USED);
}

/* The metrics keys: report_interval and the loggregator object (diego-logging-client's tags). */
static void test_metrics_keys(void **state)
{
    struct bbs_config cfg;
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(bbs_config_load(&cfg, NULL, &err), 0);
    assert_true(cfg.report_interval_ns == INT64_C(60000000000)); /* upstream's 1 minute */
    assert_int_equal(cfg.loggregator_use_v2_api, 0);
    assert_int_equal(cfg.loggregator_api_port, 3458);
    assert_string_equal(cfg.loggregator_ca_path, "");
    assert_true(cfg.loggregator_dial_timeout_ns == INT64_C(1000000000)); /* upstream's 1 s */
    bbs_config_clear(&cfg);

    /* Ours: the start-up dial's timeout. */
    assert_int_equal(bbs_config_load_string(
                         &cfg, "{\"loggregator\":{\"loggregator_dial_timeout\":\"30s\"}}", &err),
                     0);
    assert_true(cfg.loggregator_dial_timeout_ns == INT64_C(30000000000));
    bbs_config_clear(&cfg);

    /* As upstream's test suite writes it (BatchFlushInterval is integer nanoseconds). */
    assert_int_equal(bbs_config_load_string(&cfg,
                                            "{\"report_interval\":\"500ms\","
                                            "\"loggregator\":{\"loggregator_use_v2_api\":true,"
                                            "\"loggregator_api_port\":4567,"
                                            "\"loggregator_ca_path\":\"/m/CA.crt\","
                                            "\"loggregator_cert_path\":\"/m/client.crt\","
                                            "\"loggregator_key_path\":\"/m/client.key\","
                                            "\"loggregator_job_origin\":\"bbs\","
                                            "\"loggregator_source_id\":\"\","
                                            "\"loggregator_batch_max_size\":1,"
                                            "\"BatchFlushInterval\":10000000,"
                                            "\"not_a_member\":1}}",
                                            &err),
                     0);
    assert_true(cfg.report_interval_ns == 500000000);
    assert_int_equal(cfg.loggregator_use_v2_api, 1);
    assert_int_equal(cfg.loggregator_api_port, 4567);
    assert_string_equal(cfg.loggregator_ca_path, "/m/CA.crt");
    assert_string_equal(cfg.loggregator_cert_path, "/m/client.crt");
    assert_string_equal(cfg.loggregator_key_path, "/m/client.key");
    assert_string_equal(cfg.loggregator_job_origin, "bbs");
    assert_int_equal(cfg.loggregator_batch_max_size, 1);
    assert_true(cfg.loggregator_batch_flush_interval_ns == 10000000);
    bbs_config_clear(&cfg);

    /* Wrong shapes name the key. */
    assert_int_equal(bbs_config_load_string(&cfg, "{\"loggregator\":true}", &err), -1);
    assert_non_null(strstr(err.message, "loggregator"));
    assert_int_equal(
        bbs_config_load_string(&cfg, "{\"loggregator\":{\"loggregator_api_port\":\"x\"}}", &err),
        -1);
    assert_non_null(strstr(err.message, "loggregator.loggregator_api_port"));
    assert_int_equal(bbs_config_load_string(&cfg, "{\"report_interval\":\"soon\"}", &err), -1);
    assert_non_null(strstr(err.message, "report_interval"));
    /* A member is not a top-level key. */
    assert_int_equal(bbs_config_key_kind("loggregator"), BBS_CONFIG_KEY_USED);
    assert_int_equal(bbs_config_key_kind("report_interval"), BBS_CONFIG_KEY_USED);
    assert_int_equal(bbs_config_load_string(&cfg, "{\"loggregator.loggregator_api_port\":1}", &err),
                     0);
    assert_int_equal(cfg.loggregator_api_port, 3458);
    bbs_config_clear(&cfg);
}

/* Upstream's real names (cmd/bbs/config, reference 8.3) are ignored quietly. */
static const char *const upstream_names[] = {
    "max_database_connection_lifetime",
    "db_read_timeout",
    "db_write_timeout",
    "db_connection_timeout",
    "advanced_metrics",
    "debug_lrp_start_heartbeats",
    "redact_secrets",
    "locket_client_keepalive_time",
};

/* Names upstream does not have; the old list accepted some of them. */
static const char *const not_upstream_names[] = {
    "db_health_check_enabled",
    "database_connection_max_lifetime",
    "db_health_check_interval",
    "max_open_database_connections_per_host",
    "lager_config",
    "something_new",
};

static void test_key_kinds(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(upstream_names) / sizeof(upstream_names[0]); i++) {
        assert_int_equal(bbs_config_key_kind(upstream_names[i]), BBS_CONFIG_KEY_IGNORED);
    }
    for (size_t i = 0; i < sizeof(not_upstream_names) / sizeof(not_upstream_names[0]); i++) {
        assert_int_equal(bbs_config_key_kind(not_upstream_names[i]), BBS_CONFIG_KEY_UNKNOWN);
    }
    assert_int_equal(bbs_config_key_kind("auctioneer_ca_cert"), BBS_CONFIG_KEY_USED);
    assert_int_equal(bbs_config_key_kind("auctioneer_require_tls"), BBS_CONFIG_KEY_USED);
    assert_int_equal(bbs_config_key_kind("listen_address"), BBS_CONFIG_KEY_USED);
    /* Leadership keys are used (lead.h). */
    assert_int_equal(bbs_config_key_kind("uuid"), BBS_CONFIG_KEY_USED);
    assert_int_equal(bbs_config_key_kind("lock_ttl"), BBS_CONFIG_KEY_USED);
    assert_int_equal(bbs_config_key_kind("lock_retry_interval"), BBS_CONFIG_KEY_USED);
    assert_int_equal(bbs_config_key_kind("enable_db_health_check"), BBS_CONFIG_KEY_USED);
    assert_int_equal(bbs_config_key_kind("health_check_failure_threshold"), BBS_CONFIG_KEY_USED);
    assert_int_equal(bbs_config_key_kind("converge_repeat_interval"), BBS_CONFIG_KEY_USED);
    assert_int_equal(bbs_config_key_kind("convergence_workers"), BBS_CONFIG_KEY_USED);
}

/* The ignored list is sorted and never shadows a key we use. */
static void test_ignored_list_shape(void **state)
{
    const char *prev = NULL;
    const char *k;

    (void)state;
    for (size_t i = 0; (k = bbs_config_ignored_key(i)) != NULL; i++) {
        if (prev != NULL) {
            assert_true(strcmp(prev, k) < 0);
        }
        assert_int_equal(bbs_config_key_kind(k), BBS_CONFIG_KEY_IGNORED);
        prev = k;
    }
    assert_non_null(prev);
}

static void test_missing_file(void **state)
{
    struct bbs_config cfg;
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(bbs_config_load(&cfg, "/nonexistent/bbs.json", &err), -1);
    assert_non_null(strstr(err.message, "/nonexistent/bbs.json"));
    assert_non_null(strstr(err.message, "No such file or directory"));
    assert_null(strstr(err.message, "line -1"));
    assert_null(strstr(err.message, "column -1"));
}

struct duration_case {
    const char *name;
    const char *text;
    int64_t want; /* -1 = refused */
};

static const struct duration_case duration_cases[] = {
    {"seconds", "10s", INT64_C(10000000000)},
    {"millis", "500ms", INT64_C(500000000)},
    {"compound", "1h2m3s", INT64_C(3723000000000)},
    {"fraction", "1.5s", INT64_C(1500000000)},
    {"zero", "0", 0},
    {"no_unit", "15", -1},
    {"empty", "", -1},
    {"negative", "-1s", -1},
};

static void test_duration_case(void **state)
{
    const struct duration_case *c = *state;
    int64_t out = -2;
    int rc = bbs_config_parse_duration(c->text, &out);

    if (c->want < 0) {
        assert_int_equal(rc, -1);
    } else {
        assert_int_equal(rc, 0);
        assert_true(out == c->want);
    }
}

/* encryption_keys / active_key_label: upstream's shape, checked as upstream's Parse. */
static void test_encryption_keys(void **state)
{
    struct bbs_config cfg;
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(bbs_config_load(&cfg, NULL, &err), 0);
    assert_int_equal(cfg.encryption_keys.n, 0);
    assert_string_equal(cfg.active_key_label, "");
    bbs_config_clear(&cfg);

    assert_int_equal(bbs_config_key_kind("encryption_keys"), BBS_CONFIG_KEY_USED);
    assert_int_equal(bbs_config_key_kind("active_key_label"), BBS_CONFIG_KEY_USED);
    assert_int_equal(bbs_config_load_string(&cfg,
                                            "{\"encryption_keys\":{\"old\":\"p1\",\"new\":\"p2\"},"
                                            "\"active_key_label\":\"new\"}",
                                            &err),
                     0);
    assert_int_equal(cfg.encryption_keys.n, 2);
    assert_string_equal(cfg.encryption_keys.names[0], "old");
    assert_string_equal(cfg.encryption_keys.values[0], "p1");
    assert_string_equal(cfg.encryption_keys.names[1], "new");
    assert_string_equal(cfg.encryption_keys.values[1], "p2");
    assert_string_equal(cfg.active_key_label, "new");
    bbs_config_clear(&cfg);

    /* The active label must be a key; keys need an active label; labels 1..127 bytes. */
    assert_int_equal(bbs_config_load_string(&cfg,
                                            "{\"encryption_keys\":{\"a\":\"p\"},"
                                            "\"active_key_label\":\"b\"}",
                                            &err),
                     -1);
    assert_non_null(strstr(err.message, "active_key_label"));
    assert_non_null(strstr(err.message, "\"b\""));
    assert_int_equal(bbs_config_load_string(&cfg, "{\"encryption_keys\":{\"a\":\"p\"}}", &err), -1);
    assert_non_null(strstr(err.message, "active_key_label"));
    assert_int_equal(bbs_config_load_string(&cfg, "{\"active_key_label\":\"a\"}", &err), -1);
    assert_non_null(strstr(err.message, "encryption_keys"));
    assert_int_equal(bbs_config_load_string(&cfg,
                                            "{\"encryption_keys\":{\"\":\"p\"},"
                                            "\"active_key_label\":\"\"}",
                                            &err),
                     -1);
    assert_non_null(strstr(err.message, "encryption_keys"));
    {
        char json[512];
        char label[129];

        memset(label, 'x', 128);
        label[128] = '\0';
        snprintf(json, sizeof(json),
                 "{\"encryption_keys\":{\"%s\":\"p\"},\"active_key_label\":\"%s\"}", label, label);
        assert_int_equal(bbs_config_load_string(&cfg, json, &err), -1);
        assert_non_null(strstr(err.message, "1 to 127"));
        label[127] = '\0';
        snprintf(json, sizeof(json),
                 "{\"encryption_keys\":{\"%s\":\"p\"},\"active_key_label\":\"%s\"}", label, label);
        assert_int_equal(bbs_config_load_string(&cfg, json, &err), 0);
        bbs_config_clear(&cfg);
    }
    assert_int_equal(bbs_config_load_string(&cfg,
                                            "{\"encryption_keys\":{\"a\":1},"
                                            "\"active_key_label\":\"a\"}",
                                            &err),
                     -1);
    assert_int_equal(bbs_config_load_string(&cfg, "{\"encryption_keys\":[]}", &err), -1);
}

int main(void)
{
    struct CMUnitTest tests[96];
    size_t n = 0;

    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_defaults);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_io_threads);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_task_keys);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_values_applied);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_auctioneer_tls_keys);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_rep_tls_keys);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_leadership_keys);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_key_kinds);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_ignored_list_shape);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_missing_file);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_locket_keys);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_metrics_keys);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_encryption_keys);
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        tests[n++] = (struct CMUnitTest){.name = bad_cases[i].name,
                                         .test_func = test_bad_case,
                                         .initial_state = (void *)&bad_cases[i]};
    }
    for (size_t i = 0; i < sizeof(duration_cases) / sizeof(duration_cases[0]); i++) {
        tests[n++] = (struct CMUnitTest){.name = duration_cases[i].name,
                                         .test_func = test_duration_case,
                                         .initial_state = (void *)&duration_cases[i]};
    }
    return _cmocka_run_group_tests("config", tests, n, NULL, NULL);
}
