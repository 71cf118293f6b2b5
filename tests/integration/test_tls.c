/*
 * test_tls.c - mutual TLS on the API listener and the plain health
 * listener (reference 1.1), against a test CA this test makes with
 * openssl at run time: a CA and a second, unrelated CA; a server
 * certificate for 127.0.0.1; client certificates that are good, from the
 * other CA, expired, or for server use only.
 *
 * Every client the server must refuse is refused in the TLS handshake,
 * with the alert that says why, and no request of it is processed (its
 * unique path never shows up in the server log). A good client reaches
 * every route. Also: TLS 1.0 / 1.1 clients and suites outside the policy
 * are refused, plain HTTP to the TLS port gets Go's plain-text 400, the
 * health listener answers anyone over plain HTTP, and bad TLS settings
 * stop the server at start-up with the config key named.
 */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

static struct it_tls_set tls;
static char path_expired[300], path_server_only[300];

/* ---- the test CA --------------------------------------------------------------------- */

static int make_certs(void)
{
    static const char *const past[] = {"-startdate", "20200101000000Z", "-enddate",
                                       "20200201000000Z", NULL};

    if (it_tls_set_make(&tls, "bbs-it-tls-certs") != 0) {
        return -1;
    }
    it_certs_path(&tls.certs, "expired.pem", path_expired, sizeof(path_expired));
    it_certs_path(&tls.certs, "serveronly.pem", path_server_only, sizeof(path_server_only));
    if (it_certs_issue(&tls.certs, "expired", "client.key", "ca", "client", past) != 0 ||
        it_certs_issue(&tls.certs, "serveronly", "client.key", "ca", "server", NULL) != 0) {
        return -1;
    }
    return 0;
}

/* ---- a client of our own ----------------------------------------------------------------- */

struct attempt {
    const char *cert;    /* NULL: no client certificate */
    long version;        /* CURLOPT_SSLVERSION; 0 = default */
    const char *ciphers; /* CURLOPT_SSL_CIPHER_LIST; NULL = default */
    const char *scheme;  /* "https" unless set */
    const char *path;    /* request path */
    CURLcode rc;         /* out */
    long status;         /* out: HTTP status, 0 when none */
    char error[CURL_ERROR_SIZE];
    char body[256];
    size_t body_len;
};

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
    struct attempt *a = ud;
    size_t k = sz * n;
    size_t room = sizeof(a->body) - 1 - a->body_len;

    memcpy(a->body + a->body_len, p, k < room ? k : room);
    a->body_len += k < room ? k : room;
    a->body[a->body_len] = '\0';
    return k;
}

/* POST `a->path` on a fresh connection with `a`'s TLS settings. */
static void attempt(struct attempt *a)
{
    CURL *h = curl_easy_init();
    char url[256];

    assert_non_null(h);
    snprintf(url, sizeof(url), "%s://127.0.0.1:%d%s", a->scheme ? a->scheme : "https",
             it_server_port(), a->path);
    a->error[0] = '\0';
    a->body_len = 0;
    a->body[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, it_valgrind() ? 60000L : 10000L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, a->error);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(h, CURLOPT_CAINFO, tls.ca);
    if (a->cert != NULL) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, a->cert);
        curl_easy_setopt(h, CURLOPT_SSLKEY, tls.client_key);
    }
    if (a->version != 0) {
        curl_easy_setopt(h, CURLOPT_SSLVERSION, a->version);
    }
    if (a->ciphers != NULL) {
        curl_easy_setopt(h, CURLOPT_SSL_CIPHER_LIST, a->ciphers);
    }
    a->rc = curl_easy_perform(h);
    a->status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
    curl_easy_cleanup(h);
}

/* Has the server logged a request for `path`? */
static int served(const char *path)
{
    char *log = it_server_log();
    char needle[200];
    int found;

    assert_non_null(log);
    snprintf(needle, sizeof(needle), "\"route\":\"%s\"", path);
    found = strstr(log, needle) != NULL;
    free(log);
    return found;
}

/*
 * A client the server must refuse: under TLS 1.2 the handshake itself
 * fails (curl: SSL connect error), under TLS 1.3 the client learns it from
 * the server's alert at its first read; either way the alert text names
 * the reason, and no request is processed.
 */
static void expect_refused(const char *cert, const char *path12, const char *path13,
                           const char *alert)
{
    struct attempt a = {.cert = cert, .version = CURL_SSLVERSION_MAX_TLSv1_2, .path = path12};

    attempt(&a);
    if (a.rc != CURLE_SSL_CONNECT_ERROR && a.rc != CURLE_PEER_FAILED_VERIFICATION) {
        fail_msg("TLS 1.2, cert %s: curl %d (%s), HTTP %ld: expected a handshake failure",
                 cert ? cert : "none", (int)a.rc, a.error, a.status);
    }
    assert_int_equal(a.status, 0);
    memset(&a, 0, sizeof(a));
    a.cert = cert;
    a.version = CURL_SSLVERSION_TLSv1_3;
    a.path = path13;
    attempt(&a);
    if (a.rc == CURLE_OK || a.status != 0 || strstr(a.error, alert) == NULL) {
        fail_msg("TLS 1.3, cert %s: curl %d (%s), HTTP %ld: expected alert \"%s\"",
                 cert ? cert : "none", (int)a.rc, a.error, a.status, alert);
    }
    assert_false(served(path12));
    assert_false(served(path13));
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_good_client_reaches_every_route(void **state)
{
    static const char *const routes[] = {
        "/v1/ping",
        "/v1/domains/list",
        "/v1/domains/upsert",
        "/v1/actual_lrps/list",
        "/v1/actual_lrps/list_by_process_guids",
        "/v1/actual_lrp_groups/list",
        "/v1/actual_lrp_groups/list_by_process_guid",
        "/v1/actual_lrp_groups/get_by_process_guid_and_index",
        "/v1/actual_lrps/claim",
        "/v1/actual_lrps/start.r1",
        "/v1/actual_lrps/start",
        "/v1/actual_lrps/crash",
        "/v1/actual_lrps/fail",
        "/v1/actual_lrps/remove",
        "/v1/actual_lrps/retire",
        "/v1/actual_lrps/evacuate_claimed",
        "/v1/actual_lrps/evacuate_crashed",
        "/v1/actual_lrps/evacuate_stopped",
        "/v1/actual_lrps/evacuate_running.r1",
        "/v1/actual_lrps/evacuate_running",
        "/v1/actual_lrps/remove_evacuating",
        "/v1/desired_lrp/desire.r2",
        "/v1/desired_lrp/update",
        "/v1/desired_lrp/remove",
        "/v1/desired_lrps/list.r3",
        "/v1/desired_lrps/list.r2",
        "/v1/desired_lrps/get_by_process_guid.r3",
        "/v1/desired_lrps/get_by_process_guid.r2",
        "/v1/desired_lrp_scheduling_infos/list",
        "/v1/desired_lrp_scheduling_infos/get_by_process_guid",
        "/v1/desired_lrp_routing_infos/list",
    };
    char guid[64];
    struct it_alrp a;
    (void)state;

    /* Each route answers protobuf (an empty body is a request too). */
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        struct it_resp r;

        it_post_raw(routes[i], NULL, 0, &r);
        if (r.status != 200 || strcmp(r.content_type, IT_PROTOBUF_CTYPE) != 0) {
            fail_msg("%s over mutual TLS: HTTP %ld, %s", routes[i], r.status, r.content_type);
        }
        it_resp_free(&r);
    }
    /* And a real lifecycle, end to end over TLS. */
    it_uniq(guid, sizeof(guid), "tls");
    it_desire(guid, NULL, 1);
    assert_int_equal(it_claim(guid, 0, "ig-1", "cell-1"), IT_OK);
    assert_int_equal(it_start(guid, 0, NULL, "ig-1", "cell-1", "10.0.0.1"), IT_OK);
    it_assert_state(guid, 0, "RUNNING", &a);
    assert_string_equal(a.cell_id, "cell-1");
}

static void test_policy_suites_and_versions_accepted(void **state)
{
    static const char *const good12[] = {"ECDHE-RSA-AES128-GCM-SHA256",
                                         "ECDHE-RSA-AES256-GCM-SHA384"};
    (void)state;

    for (size_t i = 0; i < 2; i++) {
        struct attempt a = {.cert = tls.client,
                            .version = CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2,
                            .ciphers = good12[i],
                            .path = "/v1/ping"};

        attempt(&a);
        if (a.rc != CURLE_OK || a.status != 200) {
            fail_msg("TLS 1.2 %s: curl %d (%s) HTTP %ld", good12[i], (int)a.rc, a.error, a.status);
        }
    }
    {
        struct attempt a = {
            .cert = tls.client, .version = CURL_SSLVERSION_TLSv1_3, .path = "/v1/ping"};

        attempt(&a);
        if (a.rc != CURLE_OK || a.status != 200) {
            fail_msg("TLS 1.3: curl %d (%s) HTTP %ld", (int)a.rc, a.error, a.status);
        }
    }
}

static void test_tls12_suites_outside_policy_refused(void **state)
{
    /* CBC, ChaCha20, RSA key exchange, DHE: all outside ECDHE-RSA + AES-GCM. */
    static const char *const bad[] = {"ECDHE-RSA-AES128-SHA256", "ECDHE-RSA-CHACHA20-POLY1305",
                                      "AES128-GCM-SHA256", "DHE-RSA-AES128-GCM-SHA256"};
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct attempt a = {.cert = tls.client,
                            .version = CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2,
                            .ciphers = bad[i],
                            .path = "/v1/refused-suite"};

        attempt(&a);
        if (a.rc == CURLE_OK || a.status != 0) {
            fail_msg("TLS 1.2 %s was accepted (HTTP %ld)", bad[i], a.status);
        }
    }
    assert_false(served("/v1/refused-suite"));
}

static void test_tls11_and_tls10_clients_refused(void **state)
{
    static const long versions[] = {CURL_SSLVERSION_TLSv1_1 | CURL_SSLVERSION_MAX_TLSv1_1,
                                    CURL_SSLVERSION_TLSv1_0 | CURL_SSLVERSION_MAX_TLSv1_0};
    (void)state;

    for (size_t i = 0; i < 2; i++) {
        /* SECLEVEL=0 lets this OpenSSL offer TLS < 1.2 at all, so the
         * refusal is the server's: its protocol_version alert proves it
         * received the old ClientHello. */
        struct attempt a = {.cert = tls.client,
                            .version = versions[i],
                            .ciphers = "DEFAULT@SECLEVEL=0",
                            .path = "/v1/refused-old-tls"};

        attempt(&a);
        if (a.rc != CURLE_SSL_CONNECT_ERROR || strstr(a.error, "protocol version") == NULL) {
            fail_msg("TLS 1.%zu client: curl %d (%s), HTTP %ld: expected a protocol_version "
                     "alert",
                     1 - i, (int)a.rc, a.error, a.status);
        }
    }
    assert_false(served("/v1/refused-old-tls"));
}

static void test_client_without_certificate_refused(void **state)
{
    (void)state;
    expect_refused(NULL, "/v1/refused-nocert-12", "/v1/refused-nocert-13",
                   "alert certificate required");
}

static void test_client_from_other_ca_refused(void **state)
{
    (void)state;
    expect_refused(tls.other, "/v1/refused-otherca-12", "/v1/refused-otherca-13",
                   "alert unknown ca");
}

static void test_expired_client_certificate_refused(void **state)
{
    (void)state;
    expect_refused(path_expired, "/v1/refused-expired-12", "/v1/refused-expired-13",
                   "alert certificate expired");
}

static void test_server_only_certificate_refused(void **state)
{
    (void)state;
    /* Signed by the right CA, but its extended key usage is serverAuth only. */
    expect_refused(path_server_only, "/v1/refused-eku-12", "/v1/refused-eku-13",
                   "alert unsupported certificate");
}

static void test_plain_http_to_tls_port_gets_clear_answer(void **state)
{
    struct attempt a = {.scheme = "http", .path = "/v1/ping"};
    (void)state;

    attempt(&a);
    if (a.rc != CURLE_OK) {
        fail_msg("plain HTTP: curl %d (%s)", (int)a.rc, a.error);
    }
    assert_int_equal(a.status, 400);
    assert_string_equal(a.body, "Client sent an HTTP request to an HTTPS server.\n");
}

static void health_request(const char *method, const char *path)
{
    CURL *h = curl_easy_init();
    struct attempt a = {.path = path};
    char url[256];
    CURLcode rc;
    long status = 0;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", it_health_port(), path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, it_valgrind() ? 60000L : 10000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK || status != 200 || a.body_len != 0) {
        fail_msg("health %s %s: curl %d, HTTP %ld, %zu body bytes", method, path, (int)rc, status,
                 a.body_len);
    }
}

static void test_health_listener_plain_any_path(void **state)
{
    (void)state;
    health_request("GET", "/ping");
    health_request("POST", "/ping");
    health_request("GET", "/");
    health_request("DELETE", "/anything/at/all");
    health_request("PUT", "/v1/ping");
}

/* Run the binary on `cfg` (under valgrind if the suite does); expect exit 2 naming `key`. */
static void expect_config_refused(json_t *cfg, const char *key, const char *what)
{
    char cfg_path[300], log_path[300], needle[128];
    const char *bin = getenv("BBS_BINARY");
    const char *argv[12];
    char *log;
    size_t n = 0;
    int rc;
    FILE *f;

    it_certs_path(&tls.certs, "bad.json", cfg_path, sizeof(cfg_path));
    it_certs_path(&tls.certs, "bad.log", log_path, sizeof(log_path));
    unlink(log_path);
    assert_int_equal(json_dump_file(cfg, cfg_path, 0), 0);
    if (it_valgrind()) {
        argv[n++] = "valgrind";
        argv[n++] = "--leak-check=full";
        argv[n++] = "--errors-for-leak-kinds=definite";
        argv[n++] = "--error-exitcode=99";
        argv[n++] = "--quiet";
    }
    argv[n++] = bin;
    argv[n++] = "-config";
    argv[n++] = cfg_path;
    argv[n] = NULL;
    rc = it_run(argv, log_path);
    f = fopen(log_path, "r");
    assert_non_null(f);
    log = calloc(1, 65536);
    assert_non_null(log);
    n = fread(log, 1, 65535, f);
    fclose(f);
    snprintf(needle, sizeof(needle), "config key %s", key);
    if (rc != 2 || strstr(log, "bbs.config.invalid") == NULL || strstr(log, needle) == NULL ||
        strstr(log, what) == NULL) {
        fail_msg("expected exit 2 naming %s (%s); got %d, log:\n%s", key, what, rc, log);
    }
    free(log);
}

static void test_bad_tls_settings_stop_startup(void **state)
{
    char missing[300];
    json_t *c;
    (void)state;

    it_certs_path(&tls.certs, "missing.pem", missing, sizeof(missing));
    c = json_pack("{s:b, s:s, s:s}", "require_ssl", 1, "cert_file", tls.server, "key_file",
                  tls.server_key);
    expect_config_refused(c, "ca_file", "required when require_ssl is true");
    json_decref(c);

    c = json_pack("{s:s, s:s, s:s}", "cert_file", tls.server, "key_file", tls.server_key, "ca_file",
                  tls.ca);
    expect_config_refused(c, "require_ssl", "false while");
    json_decref(c);

    c = json_pack("{s:b, s:s, s:s, s:s}", "require_ssl", 1, "cert_file", missing, "key_file",
                  tls.server_key, "ca_file", tls.ca);
    expect_config_refused(c, "cert_file", "cannot read");
    json_decref(c);

    c = json_pack("{s:b, s:s, s:s, s:s}", "require_ssl", 1, "cert_file", tls.server, "key_file",
                  tls.client_key, "ca_file", tls.ca);
    expect_config_refused(c, "key_file", "does not match");
    json_decref(c);

    c = json_pack("{s:b, s:s, s:s, s:s}", "require_ssl", 1, "cert_file", tls.server, "key_file",
                  tls.server_key, "ca_file", tls.server_key);
    expect_config_refused(c, "ca_file", "no readable PEM certificate");
    json_decref(c);

    c = json_pack("{s:s}", "require_ssl", "yes");
    expect_config_refused(c, "require_ssl", "must be true or false");
    json_decref(c);
}

static int setup(void **state)
{
    (void)state;
    if (make_certs() != 0) {
        return -1;
    }
    return it_tls_set_server_start(&tls, "tls");
}

static int teardown(void **state)
{
    (void)state;
    return it_tls_set_server_stop(&tls);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_client_reaches_every_route),
        cmocka_unit_test(test_policy_suites_and_versions_accepted),
        cmocka_unit_test(test_tls12_suites_outside_policy_refused),
        cmocka_unit_test(test_tls11_and_tls10_clients_refused),
        cmocka_unit_test(test_client_without_certificate_refused),
        cmocka_unit_test(test_client_from_other_ca_refused),
        cmocka_unit_test(test_expired_client_certificate_refused),
        cmocka_unit_test(test_server_only_certificate_refused),
        cmocka_unit_test(test_plain_http_to_tls_port_gets_clear_answer),
        cmocka_unit_test(test_health_listener_plain_any_path),
        cmocka_unit_test(test_bad_tls_settings_stop_startup),
    };

    return it_main_exit(cmocka_run_group_tests_name("tls", tests, setup, teardown));
}
