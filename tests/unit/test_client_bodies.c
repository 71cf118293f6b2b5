/*
 * test_client_bodies.c - the JSON the rep and task-callback clients send,
 * byte for byte as Go's encoding/json writes upstream's structs
 * (rep.LRPUpdate, models.TaskCallbackResponse), and the Go string escaping
 * under them. Each table row is its own named test.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/callback.h"
#include "bbs/gojson.h"
#include "bbs/rep.h"

struct escape_case {
    const char *name;
    const char *in;
    const char *want;
};

static const struct escape_case escape_cases[] = {
    {"plain", "abc", "\"abc\""},
    {"null_is_empty", NULL, "\"\""},
    {"quote_backslash", "a\"b\\c", "\"a\\\"b\\\\c\""},
    {"short_controls", "\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\""},
    {"other_controls", "\x01\x1f", "\"\\u0001\\u001f\""},
    {"html_escaped", "<a>&", "\"\\u003ca\\u003e\\u0026\""},
    {"line_separators", "\xe2\x80\xa8\xe2\x80\xa9", "\"\\u2028\\u2029\""},
    {"utf8_kept", "caf\xc3\xa9 \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\""},
    {"invalid_byte",
     "a\xff"
     "b",
     "\"a\\ufffdb\""},
    {"truncated_sequence", "a\xe2\x80", "\"a\\ufffd\\ufffd\""},
    {"overlong", "\xc0\xaf", "\"\\ufffd\\ufffd\""},
    {"surrogate", "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},
    {"slash_kept", "a/b", "\"a/b\""},
};

static void test_escape_case(void **state)
{
    const struct escape_case *c = *state;
    struct bbs_buf b = {0};

    bbs_gojson_string(&b, c->in);
    bbs_buf_putc(&b, '\0');
    assert_string_equal((const char *)b.data, c->want);
    bbs_buf_free(&b);
}

static void test_rep_update_body(void **state)
{
    static const char *const routes[] = {"a.apps.internal", "b<x>"};
    static const char *const names[] = {"space", "app", "org"};
    static const char *const values[] = {"s", "a", "o"};
    struct bbs_rep_lrp_update u = {"ig-1", "pg-1", 2, "cf-apps", routes, 2, names, values, 3};
    size_t len = 0;
    char *body;

    (void)state;
    body = bbs_rep_update_body(&u, 0, &len);
    assert_string_equal(body, "{\"instance_guid\":\"ig-1\",\"process_guid\":\"pg-1\",\"index\":2,"
                              "\"domain\":\"cf-apps\",\"internal_routes\":[{\"hostname\":"
                              "\"a.apps.internal\"},{\"hostname\":\"b\\u003cx\\u003e\"}],"
                              "\"metric_tags\":{\"app\":\"a\",\"org\":\"o\",\"space\":\"s\"}}");
    assert_int_equal(len, strlen(body));
    free(body);

    /* The v1 route's form: metric tags left out (nil). */
    body = bbs_rep_update_body(&u, 1, &len);
    assert_non_null(strstr(body, ",\"metric_tags\":null}"));
    free(body);

    /* Nil slices and maps are null; empty ones are [] and {}. */
    u.internal_routes = NULL;
    u.metric_tag_names = NULL;
    body = bbs_rep_update_body(&u, 0, &len);
    assert_non_null(strstr(body, "\"internal_routes\":null,\"metric_tags\":null}"));
    free(body);
    u.internal_routes = routes;
    u.n_internal_routes = 0;
    u.metric_tag_names = names;
    u.n_metric_tags = 0;
    body = bbs_rep_update_body(&u, 0, &len);
    assert_non_null(strstr(body, "\"internal_routes\":[],\"metric_tags\":{}}"));
    free(body);
}

static void test_callback_body(void **state)
{
    struct bbs_task_callback t = {"t-1", 1,   "task was cancelled",
                                  "",    "a", INT64_C(1718200000000000000)};
    size_t len = 0;
    char *body;

    (void)state;
    /* Reference 11.6's example, byte for byte. */
    body = bbs_callback_body(&t, &len);
    assert_string_equal(body,
                        "{\"task_guid\":\"t-1\",\"failed\":true,\"failure_reason\":\"task was "
                        "cancelled\",\"result\":\"\",\"annotation\":\"a\",\"created_at\":"
                        "1718200000000000000}");
    assert_int_equal(len, strlen(body));
    free(body);

    /* annotation is omitempty; the others are always there. */
    t.annotation = "";
    t.failed = 0;
    t.failure_reason = "";
    t.result = "<ok>";
    t.created_at = 0;
    body = bbs_callback_body(&t, &len);
    assert_string_equal(body, "{\"task_guid\":\"t-1\",\"failed\":false,\"failure_reason\":\"\","
                              "\"result\":\"\\u003cok\\u003e\",\"created_at\":0}");
    free(body);
}

/* rep/client.go pickURL: which address of a cell the BBS calls. */
struct pick_case {
    const char *name;
    int require_tls;
    int identity;
    const char *address;
    const char *url;
    const char *want; /* NULL: refused with `error` */
    const char *error;
};

#define NO_CERTS  "https scheme not supported since certificates aren't provided"
#define NEEDS_TLS "https scheme is required but none of the addresses support it"

static const struct pick_case pick_cases[] = {
    {"pick_plain_prefers_url", 0, 0, "http://a:1800", "http://u:1801", "http://u:1801", NULL},
    {"pick_plain_address_without_url", 0, 0, "http://a:1800", "", "http://a:1800", NULL},
    {"pick_plain_https_refused", 0, 0, "http://a:1800", "https://u:1801", NULL, NO_CERTS},
    {"pick_identity_prefers_url", 0, 1, "http://a:1800", "https://u:1801", "https://u:1801", NULL},
    {"pick_identity_address_without_url", 0, 1, "http://a:1800", "", "http://a:1800", NULL},
    {"pick_required_https_url", 1, 1, "http://a:1800", "https://u:1801", "https://u:1801", NULL},
    {"pick_required_scheme_case", 1, 0, "http://a:1800", "HTTPS://u:1801", "HTTPS://u:1801", NULL},
    {"pick_required_http_url_refused", 1, 1, "http://a:1800", "http://u:1801", NULL, NEEDS_TLS},
    {"pick_required_no_url_refused", 1, 1, "http://a:1800", "", NULL, NEEDS_TLS},
};

static void test_pick_case(void **state)
{
    const struct pick_case *c = *state;
    struct bbs_error err = {0};
    const char *out = NULL;
    int rc = bbs_rep_pick_url(c->require_tls, c->identity, c->address, c->url, &out, &err);

    if (c->want != NULL) {
        assert_int_equal(rc, 0);
        assert_string_equal(out, c->want);
    } else {
        assert_int_equal(rc, -1);
        assert_int_equal(err.type, BBS_ERR_UNKNOWN);
        assert_string_equal(err.message, c->error);
    }
}

int main(void)
{
    enum { N = sizeof(escape_cases) / sizeof(escape_cases[0]) };
    enum { P = sizeof(pick_cases) / sizeof(pick_cases[0]) };
    struct CMUnitTest tests[N + P + 2];

    for (size_t i = 0; i < N; i++) {
        tests[i] = (struct CMUnitTest){.name = escape_cases[i].name,
                                       .test_func = test_escape_case,
                                       .initial_state = (void *)&escape_cases[i]};
    }
    for (size_t i = 0; i < P; i++) {
        tests[N + 2 + i] = (struct CMUnitTest){.name = pick_cases[i].name,
                                               .test_func = test_pick_case,
                                               .initial_state = (void *)&pick_cases[i]};
    }
    tests[N] = (struct CMUnitTest)cmocka_unit_test(test_rep_update_body);
    tests[N + 1] = (struct CMUnitTest)cmocka_unit_test(test_callback_body);
    return cmocka_run_group_tests_name("client_bodies", tests, NULL, NULL);
}
