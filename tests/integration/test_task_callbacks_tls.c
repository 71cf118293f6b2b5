/*
 * test_task_callbacks_tls.c - a completion callback to an https URL
 * (reference part 2, 11.6): the BBS presents its own server identity
 * (cert_file / key_file) and trusts only ca_file; the stand-in
 * (support/callback.h) requires a client certificate of its CA.
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

#include "support/callback.h"
#include "task_it.h"

#define DOMAIN  "cb-tls"
#define WAIT_MS 20000

static struct it_cb *secure;

static void test_mutual_tls_callback(void **state)
{
    char guid[64], path[128], url[256];
    struct it_cb_call call;
    int should = 0;

    (void)state;
    it_uniq(guid, sizeof(guid), "cbtls");
    snprintf(path, sizeof(path), "/cb/%s", guid);
    snprintf(url, sizeof(url), "%s%s", it_cb_url(secure), path);
    assert_int_equal(task_desire(guid, DOMAIN, url, NULL, NULL, 0), IT_OK);
    assert_int_equal(task_start(guid, "cell-tls", &should), IT_OK);
    assert_true(should);
    assert_int_equal(task_complete(guid, "cell-tls", 0, "", "ok"), IT_OK);
    assert_int_equal(it_cb_wait(secure, path, 1, WAIT_MS, &call, 1), 1);
    assert_true(call.verified);
    assert_string_equal(call.cn, "bbs");
    assert_string_equal(call.content_type, "application/json");
    assert_int_equal(task_wait_state(guid, -1, WAIT_MS), -1);
}

static int setup(void **state)
{
    json_t *extra;
    int rc;

    (void)state;
    secure = it_cb_start(1);
    if (secure == NULL) {
        return -1;
    }
    extra = it_cb_server_config(secure);
    it_cb_tls_client(secure);
    it_server_config(extra);
    rc = it_server_start("task_callbacks_tls", NULL);
    it_server_config(NULL);
    json_decref(extra);
    return rc;
}

static int teardown(void **state)
{
    int rc = it_group_teardown(state);

    it_tls_client(NULL, NULL, NULL);
    it_cb_stop(secure);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutual_tls_callback),
    };

    it_set_name("task_callbacks_tls");
    return it_main_exit(cmocka_run_group_tests_name("task_callbacks_tls", tests, setup, teardown));
}
