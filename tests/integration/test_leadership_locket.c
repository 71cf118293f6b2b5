/*
 * test_leadership_locket.c - leadership with Locket (lead.h, reference-2
 * 12.5) against the stand-in: the server holds lock "bbs" with owner =
 * uuid and renews it; a second server is a standby while the lock is held
 * (API port refused) and takes over when the holder releases it on
 * SIGTERM; a server whose Locket becomes unreachable exits non-zero with
 * upstream's "lost-lock" line.
 */
#include "harness.h"
#include "support/internal.h"
#include "support/peer.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static json_t *extra;

static void test_owner_standby_release_and_lost_lock(void **state)
{
    struct it_peer peer = {0};
    char owner[128], role[32];
    int64_t took = 0;
    int status;
    long locks;
    (void)state;

    /* The harness's server leads: the lock is its uuid's, and it renews it. */
    assert_true(it_serves(it_server_port()));
    assert_int_equal(it_locket_owner("bbs", owner, sizeof(owner)), 0);
    assert_string_equal(owner, "bbs-it-uuid");
    assert_int_equal(it_health_role(it_health_port(), role), 200);
    assert_string_equal(role, "leader");
    locks = it_locket_calls("Lock");
    it_sleep_ms(2500); /* more than a renewal period (min(retry 1 s, ttl 3 s / 3)) */
    assert_true(it_locket_calls("Lock") > locks);
    assert_int_equal(it_locket_owner("bbs", owner, sizeof(owner)), 0);
    assert_string_equal(owner, "bbs-it-uuid");

    /* A second server with another uuid: standby, its API port refused. */
    json_object_set_new(extra, "uuid", json_string("peer-uuid"));
    it_peer_start(&peer, "locket-peer", extra);
    it_sleep_ms(1500);
    assert_int_equal(it_health_role(peer.health, role), 200);
    assert_string_equal(role, "standby");
    assert_int_equal(it_post_port(peer.port, "/v1/ping", "", 0, NULL), -1);

    /* SIGTERM: the holder releases the lock, exits 0; the standby takes over. */
    kill(it_server_pid(), SIGTERM);
    assert_int_equal(it_server_wait_exit(15000, &status), 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    {
        struct it_peer *one[1] = {&peer};

        assert_non_null(it_first_serving(one, 1, 10000, &took));
        fprintf(stderr, "figure: Locket take-over after SIGTERM of the holder: %lld ms\n",
                (long long)took);
    }
    assert_int_equal(it_locket_owner("bbs", owner, sizeof(owner)), 0);
    assert_string_equal(owner, "peer-uuid");

    /* Locket unreachable while holding: lost lock, exit 1. */
    assert_int_equal(it_locket_down(), 0);
    status = it_peer_wait(&peer, 15000);
    if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 1) {
        it_peer_print_log(&peer);
    }
    assert_true(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1);
    {
        size_t len = 0;
        char *log = it_read_file(peer.log, &len);

        assert_non_null(log);
        assert_non_null(strstr(log, "bbs.locket-lock.lost-lock"));
        free(log);
    }
    assert_int_equal(it_locket_up(), 0);
    it_peer_cleanup(&peer);
}

/* A lock held by someone else: the server waits as a standby, then leads once it is free. */
static void test_waits_for_a_held_lock(void **state)
{
    struct it_peer peer = {0};
    char role[32];
    int64_t took = 0;
    int status;
    (void)state;

    assert_int_equal(it_locket_set_lock("bbs", "Your worst enemy.", 0), 0);
    json_object_set_new(extra, "uuid", json_string("waiting-uuid"));
    it_peer_start(&peer, "locket-waiter", extra);
    it_sleep_ms(2500);
    assert_int_equal(it_health_role(peer.health, role), 200);
    assert_string_equal(role, "standby");
    assert_int_equal(it_post_port(peer.port, "/v1/ping", "", 0, NULL), -1);
    assert_int_equal(it_locket_remove("bbs"), 0);
    {
        struct it_peer *one[1] = {&peer};

        assert_non_null(it_first_serving(one, 1, 10000, &took));
        fprintf(stderr, "figure: lock free -> serving: %lld ms\n", (long long)took);
    }
    kill(peer.pid, SIGTERM);
    status = it_peer_wait(&peer, 15000);
    assert_true(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    it_peer_cleanup(&peer);
}

/* Locket refuses the server's client certificate: it never gets the lock, never serves. */
static void test_untrusted_certificate_stays_standby(void **state)
{
    struct it_peer peer = {0};
    json_t *cfg = json_deep_copy(extra);
    char role[32];
    char *log;
    size_t len = 0;
    int status;
    (void)state;

    json_object_set_new(cfg, "uuid", json_string("untrusted-uuid"));
    json_object_set_new(cfg, "locket_client_cert_file",
                        json_string(it_locket_cert_path("untrusted")));
    json_object_set_new(cfg, "locket_client_key_file",
                        json_string(it_locket_cert_path("untrusted_key")));
    it_peer_start(&peer, "locket-untrusted", cfg);
    json_decref(cfg);
    it_sleep_ms(2500);
    assert_int_equal(it_health_role(peer.health, role), 200);
    assert_string_equal(role, "standby");
    assert_int_equal(it_post_port(peer.port, "/v1/ping", "", 0, NULL), -1);
    log = it_read_file(peer.log, &len);
    assert_non_null(log);
    assert_non_null(strstr(log, "bbs.locket-lock.failed-to-acquire-lock"));
    free(log);
    kill(peer.pid, SIGTERM);
    status = it_peer_wait(&peer, 15000);
    assert_true(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    it_peer_cleanup(&peer);
}

static int setup(void **state)
{
    (void)state;
    if (it_locket_start() != 0) {
        return -1;
    }
    extra = it_locket_server_config();
    json_object_set_new(extra, "lock_ttl", json_string("3s"));
    json_object_set_new(extra, "lock_retry_interval", json_string("1s"));
    it_server_no_valgrind(1); /* the scenario waits on renewals and take-overs */
    it_server_config(extra);
    if (it_server_start("leadership_locket", NULL) != 0) {
        return -1;
    }
    it_server_config(NULL);
    return 0;
}

static int teardown(void **state)
{
    int rc;
    (void)state;

    rc = it_server_stop();
    json_decref(extra);
    it_locket_stop();
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_owner_standby_release_and_lost_lock),
        cmocka_unit_test(test_waits_for_a_held_lock),
        cmocka_unit_test(test_untrusted_certificate_stays_standby),
    };

    return it_main_exit(cmocka_run_group_tests(tests, setup, teardown));
}
