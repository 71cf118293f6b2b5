/*
 * test_auction_tls.c - mutual TLS to the auctioneer (auctioneer_ca_cert,
 * auctioneer_client_cert, auctioneer_client_key, auctioneer_require_tls),
 * as upstream's cmd/bbs and auctioneer/client.go behave:
 *
 *  - with the three files, auction requests reach an auctioneer that
 *    requires a client certificate, presenting the configured one;
 *  - an incomplete set, or a certificate that does not match its key,
 *    stops the server at start-up (exit 2, the key or file named);
 *  - an https:// attempt that fails at transport level is repeated once
 *    over http:// unless auctioneer_require_tls is set.
 *
 * Three servers in turn (one cmocka group each). The stub auctioneers are
 * written here (libmicrohttpd, with MHD_USE_TLS for the TLS one): the
 * harness's stub speaks plain HTTP only. The certificates come from the
 * harness's throwaway CA (support/certs.h).
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

static struct it_certs certs;
static char path_ca[300], path_server[300], path_server_key[300], path_client[300],
    path_client_key[300];

/* ---- certificates (openssl at run time) ------------------------------------------------ */

static int make_certs(void)
{
    if (it_certs_init(&certs, "bbs-it-auction-tls") != 0) {
        return -1;
    }
    it_certs_path(&certs, "auctioneer-ca.pem", path_ca, sizeof(path_ca));
    it_certs_path(&certs, "auctioneer.pem", path_server, sizeof(path_server));
    it_certs_path(&certs, "auctioneer.key", path_server_key, sizeof(path_server_key));
    it_certs_path(&certs, "bbs-client.pem", path_client, sizeof(path_client));
    it_certs_path(&certs, "bbs-client.key", path_client_key, sizeof(path_client_key));
    if (it_certs_make_ca(&certs, "auctioneer-ca") != 0 ||
        it_certs_make_key(&certs, "auctioneer.key") != 0 ||
        it_certs_make_key(&certs, "bbs-client.key") != 0 ||
        it_certs_issue(&certs, "auctioneer", "auctioneer.key", "auctioneer-ca", "server", NULL) !=
            0 ||
        it_certs_issue(&certs, "bbs-client", "bbs-client.key", "auctioneer-ca", "client", NULL) !=
            0) {
        return -1;
    }
    return 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *text = calloc(1, 65536);
    size_t n;

    assert_non_null(f);
    assert_non_null(text);
    n = fread(text, 1, 65535, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* ---- the stub auctioneer --------------------------------------------------------------- */

/* One request the stub saw: path, body, and the client certificate's CN ("" = none). */
struct seen {
    char path[64];
    char cn[64];
    int verified; /* the client certificate chains to the CA */
    int tls;
    char *body;
};

static struct {
    struct MHD_Daemon *d;
    int port;
    int tls;
    pthread_mutex_t mu;
    struct seen seen[64];
    size_t n_seen;
    char *pem_cert, *pem_key, *pem_ca;
} stub = {.mu = PTHREAD_MUTEX_INITIALIZER};

struct stub_conn {
    char *body;
    size_t len;
};

/* CN of the verified client certificate of `conn`'s TLS session, "" when none. */
static void client_identity(struct MHD_Connection *conn, struct seen *s)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t session;
    const gnutls_datum_t *chain;
    unsigned int n = 0, status = 1;
    gnutls_x509_crt_t crt;
    size_t len = sizeof(s->cn);

    if (ci == NULL || ci->tls_session == NULL) {
        return;
    }
    s->tls = 1;
    session = (gnutls_session_t)ci->tls_session;
    chain = gnutls_certificate_get_peers(session, &n);
    if (chain == NULL || n == 0) {
        return;
    }
    s->verified = gnutls_certificate_verify_peers2(session, &status) == 0 && status == 0;
    if (gnutls_x509_crt_init(&crt) != 0) {
        return;
    }
    if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) == 0) {
        gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, s->cn, &len);
    }
    gnutls_x509_crt_deinit(crt);
}

static enum MHD_Result stub_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls)
{
    struct stub_conn *c = *con_cls;
    struct MHD_Response *r;
    struct seen s = {0};
    unsigned int status;
    enum MHD_Result ret;

    (void)cls;
    (void)method;
    (void)version;
    if (c == NULL) {
        c = calloc(1, sizeof(*c));
        *con_cls = c;
        return c != NULL ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size > 0) {
        c->body = realloc(c->body, c->len + *upload_data_size + 1);
        assert_non_null(c->body);
        memcpy(c->body + c->len, upload_data, *upload_data_size);
        c->len += *upload_data_size;
        c->body[c->len] = '\0';
        *upload_data_size = 0;
        return MHD_YES;
    }
    snprintf(s.path, sizeof(s.path), "%s", url);
    client_identity(conn, &s);
    s.body = c->body != NULL ? strdup(c->body) : strdup("");
    pthread_mutex_lock(&stub.mu);
    if (stub.n_seen < sizeof(stub.seen) / sizeof(stub.seen[0])) {
        stub.seen[stub.n_seen++] = s;
        s.body = NULL;
    }
    pthread_mutex_unlock(&stub.mu);
    free(s.body);
    /* Like an auctioneer requiring client certificates: none or unverified = refused. */
    status = stub.tls && !s.verified ? MHD_HTTP_FORBIDDEN : MHD_HTTP_ACCEPTED;
    r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void stub_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
    struct stub_conn *c = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (c != NULL) {
        free(c->body);
        free(c);
        *con_cls = NULL;
    }
}

static int stub_start(int tls)
{
    struct sockaddr_in a = {0};
    const union MHD_DaemonInfo *info;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    stub.tls = tls;
    stub.n_seen = 0;
    if (tls) {
        stub.pem_cert = slurp(path_server);
        stub.pem_key = slurp(path_server_key);
        stub.pem_ca = slurp(path_ca);
        /* With a trust list libmicrohttpd asks every client for its certificate. */
        stub.d = MHD_start_daemon(
            flags | MHD_USE_TLS, 0, NULL, NULL, stub_handler, NULL, MHD_OPTION_SOCK_ADDR,
            (struct sockaddr *)&a, MHD_OPTION_NOTIFY_COMPLETED, stub_completed, NULL,
            MHD_OPTION_HTTPS_MEM_CERT, stub.pem_cert, MHD_OPTION_HTTPS_MEM_KEY, stub.pem_key,
            MHD_OPTION_HTTPS_MEM_TRUST, stub.pem_ca, MHD_OPTION_END);
    } else {
        stub.d = MHD_start_daemon(flags, 0, NULL, NULL, stub_handler, NULL, MHD_OPTION_SOCK_ADDR,
                                  (struct sockaddr *)&a, MHD_OPTION_NOTIFY_COMPLETED,
                                  stub_completed, NULL, MHD_OPTION_END);
    }
    if (stub.d == NULL) {
        fprintf(stderr, "test_auction_tls: cannot start the stub auctioneer\n");
        return -1;
    }
    info = MHD_get_daemon_info(stub.d, MHD_DAEMON_INFO_BIND_PORT);
    stub.port = info != NULL ? info->port : 0;
    return stub.port > 0 ? 0 : -1;
}

static void stub_stop(void)
{
    if (stub.d != NULL) {
        MHD_stop_daemon(stub.d);
        stub.d = NULL;
    }
    for (size_t i = 0; i < stub.n_seen; i++) {
        free(stub.seen[i].body);
    }
    stub.n_seen = 0;
    free(stub.pem_cert);
    free(stub.pem_key);
    free(stub.pem_ca);
    stub.pem_cert = stub.pem_key = stub.pem_ca = NULL;
}

/* Wait up to `ms` for a request whose body names `guid`; copies it to `out`. */
static int stub_wait(const char *guid, int ms, struct seen *out)
{
    int64_t until = it_mono_ms() + ms;

    do {
        pthread_mutex_lock(&stub.mu);
        for (size_t i = 0; i < stub.n_seen; i++) {
            if (strstr(stub.seen[i].body, guid) != NULL) {
                *out = stub.seen[i];
                out->body = NULL;
                pthread_mutex_unlock(&stub.mu);
                return 0;
            }
        }
        pthread_mutex_unlock(&stub.mu);
        sleep_ms(10);
    } while (it_mono_ms() < until);
    return -1;
}

/* ---- server groups ------------------------------------------------------------------------ */

/* Start a stub (`tls`) and a server whose auctioneer is `scheme`://stub with the client files. */
static int start(const char *name, int tls, const char *scheme, int require_tls)
{
    char addr[64];
    json_t *extra;
    int rc;

    if (stub_start(tls) != 0) {
        return -1;
    }
    snprintf(addr, sizeof(addr), "%s://127.0.0.1:%d", scheme, stub.port);
    extra = json_pack("{s:s, s:s, s:s, s:s, s:b}", "auctioneer_address", addr, "auctioneer_ca_cert",
                      path_ca, "auctioneer_client_cert", path_client, "auctioneer_client_key",
                      path_client_key, "auctioneer_require_tls", require_tls);
    it_server_config(extra);
    rc = it_server_start(name, NULL);
    it_server_config(NULL);
    json_decref(extra);
    return rc;
}

static int stop(void **state)
{
    int rc;

    (void)state;
    rc = it_server_stop();
    stub_stop();
    return rc;
}

static int setup_tls(void **state)
{
    (void)state;
    return start("auction_tls", 1, "https", 1);
}

static int setup_fallback(void **state)
{
    (void)state;
    return start("auction_fallback", 0, "https", 0);
}

static int setup_required(void **state)
{
    (void)state;
    return start("auction_required", 0, "https", 1);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_auction_request_arrives_with_client_certificate(void **state)
{
    char guid[64];
    struct seen s;

    (void)state;
    it_uniq(guid, sizeof(guid), "tls");
    it_desire(guid, NULL, 2);
    assert_int_equal(stub_wait(guid, 10000, &s), 0);
    assert_string_equal(s.path, "/v1/lrps");
    assert_int_equal(s.tls, 1);
    assert_int_equal(s.verified, 1);
    assert_string_equal(s.cn, "bbs-client");
}

/* Run the binary on `cfg`; expect exit 2 with `needle` in the config.invalid line. */
static void expect_refused(json_t *cfg, const char *needle)
{
    char cfg_path[300], log_path[300];
    const char *argv[] = {getenv("BBS_BINARY"), "-config", cfg_path, NULL};
    char *log;
    int rc;

    it_certs_path(&certs, "bad.json", cfg_path, sizeof(cfg_path));
    it_certs_path(&certs, "bad.log", log_path, sizeof(log_path));
    unlink(log_path);
    /* Ports no one listens on: a refusal must come before any listener. */
    json_object_set_new(cfg, "listen_address", json_string("127.0.0.1:1"));
    json_object_set_new(cfg, "health_address", json_string("127.0.0.1:1"));
    assert_int_equal(json_dump_file(cfg, cfg_path, 0), 0);
    rc = it_run(argv, log_path);
    log = slurp(log_path);
    if (rc != 2 || strstr(log, "bbs.config.invalid") == NULL || strstr(log, needle) == NULL) {
        fail_msg("expected exit 2 with \"%s\"; got %d, log:\n%s", needle, rc, log);
    }
    free(log);
}

static void test_incomplete_key_set_refused_at_startup(void **state)
{
    json_t *c;

    (void)state;
    /* secure_test.go: the auctioneer client configured without its certificate. */
    c = json_pack("{s:s, s:s, s:s}", "auctioneer_address", "https://127.0.0.1:9016",
                  "auctioneer_ca_cert", path_ca, "auctioneer_client_key", path_client_key);
    expect_refused(c, "config key auctioneer_client_cert: required when");
    json_decref(c);

    c = json_pack("{s:s}", "auctioneer_client_key", path_client_key);
    expect_refused(c, "config key auctioneer_ca_cert: required when auctioneer_client_key is set");
    json_decref(c);

    /* All three, but the key is not the certificate's. */
    c = json_pack("{s:s, s:s, s:s}", "auctioneer_ca_cert", path_ca, "auctioneer_client_cert",
                  path_client, "auctioneer_client_key", path_server_key);
    expect_refused(c, "auctioneer client TLS: cannot load certificate");
    json_decref(c);

    c = json_pack("{s:s, s:s, s:s}", "auctioneer_ca_cert", path_client_key,
                  "auctioneer_client_cert", path_client, "auctioneer_client_key", path_client_key);
    expect_refused(c, "auctioneer client TLS: cannot load CA file");
    json_decref(c);
}

/* auctioneer/client.go: TLS failed at transport level, TLS not required: once more over http. */
static void test_falls_back_to_http_when_tls_not_required(void **state)
{
    char guid[64];
    struct seen s;
    char *log;

    (void)state;
    it_uniq(guid, sizeof(guid), "fb");
    it_desire(guid, NULL, 1);
    assert_int_equal(stub_wait(guid, 10000, &s), 0);
    assert_string_equal(s.path, "/v1/lrps");
    assert_int_equal(s.tls, 0);
    log = it_server_log();
    assert_non_null(log);
    assert_non_null(strstr(log, "bbs.auction.retrying-on-http"));
    free(log);
}

static void test_no_fallback_when_tls_required(void **state)
{
    char guid[64];
    struct seen s;
    int64_t until;
    char *log = NULL;

    (void)state;
    it_uniq(guid, sizeof(guid), "req");
    it_desire(guid, NULL, 1);
    /* The failure is logged; nothing ever reaches the plain-HTTP stub. */
    until = it_mono_ms() + 10000;
    while (it_mono_ms() < until) {
        free(log);
        log = it_server_log();
        if (log != NULL && strstr(log, "bbs.auction.request-failed") != NULL) {
            break;
        }
        sleep_ms(20);
    }
    assert_non_null(log);
    assert_non_null(strstr(log, "bbs.auction.request-failed"));
    assert_null(strstr(log, "bbs.auction.retrying-on-http"));
    free(log);
    assert_int_equal(stub_wait(guid, it_quiet_ms(), &s), -1);
}

int main(void)
{
    const struct CMUnitTest tls_tests[] = {
        cmocka_unit_test(test_auction_request_arrives_with_client_certificate),
        cmocka_unit_test(test_incomplete_key_set_refused_at_startup),
    };
    const struct CMUnitTest fallback_tests[] = {
        cmocka_unit_test(test_falls_back_to_http_when_tls_not_required),
    };
    const struct CMUnitTest required_tests[] = {
        cmocka_unit_test(test_no_fallback_when_tls_required),
    };
    int rc;

    if (make_certs() != 0) {
        return 1;
    }
    rc = cmocka_run_group_tests_name("auction_tls", tls_tests, setup_tls, stop);
    rc |= cmocka_run_group_tests_name("auction_fallback", fallback_tests, setup_fallback, stop);
    rc |= cmocka_run_group_tests_name("auction_required", required_tests, setup_required, stop);
    it_certs_remove(&certs);
    return it_main_exit(rc);
}
