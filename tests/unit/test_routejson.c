/*
 * test_routejson.c - bbs_json_compact: the stored form of route values
 * (reference 2.6.3). The first rows are the examples observed on
 * upstream; the rest pin down Go's encoding/json scanner rules.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bbs/routejson.h"

struct compact_case {
    const char *name;
    const char *in;
    size_t in_len;    /* 0 = strlen(in) */
    const char *want; /* NULL = invalid JSON */
};

static const struct compact_case compact_cases[] = {
    /* Reference 2.6.3, observed on upstream. */
    {"ref_array_of_objects", "[ { \"hostnames\" : [ \"a.example.com\" ] , \"port\" : 8080 } ]", 0,
     "[{\"hostnames\":[\"a.example.com\"],\"port\":8080}]"},
    {"ref_number_with_spaces", " 42 ", 0, "42"},
    {"ref_html_escaped", "{\"x\": \"<b>&amp;</b>\"}", 0,
     "{\"x\":\"\\u003cb\\u003e\\u0026amp;\\u003c/b\\u003e\"}"},
    {"ref_cf_router_value", "[{\"hostnames\":[\"a.example.com\"],\"port\":8080}]", 0,
     "[{\"hostnames\":[\"a.example.com\"],\"port\":8080}]"},

    /* Whitespace: the four JSON spaces go, wherever they are insignificant. */
    {"all_whitespace_kinds", "\t\r\n {\n\t\"a\"\r:\n[ 1 ,\t2 ]\r\n}\n", 0, "{\"a\":[1,2]}"},
    {"space_inside_string_kept", "\"a b\\t c\"", 0, "\"a b\\t c\""},
    {"empty_object", "{ }", 0, "{}"},
    {"empty_array", "[ ]", 0, "[]"},
    {"nested_empties", "[{},[],{\"a\":{}}]", 0, "[{},[],{\"a\":{}}]"},

    /* Nothing else is rewritten. */
    {"key_order_kept", "{\"b\":1,\"a\":2}", 0, "{\"b\":1,\"a\":2}"},
    {"duplicate_keys_kept", "{\"a\":1,\"a\":2}", 0, "{\"a\":1,\"a\":2}"},
    {"number_spelling_kept", "[1.50,1E+2,-0,0.0e-0,12345678901234567890123]", 0,
     "[1.50,1E+2,-0,0.0e-0,12345678901234567890123]"},
    {"escapes_kept", "\"\\u003C\\n\\/\\\\\\\"\\ud83d\\ude00\\u00e9\"", 0,
     "\"\\u003C\\n\\/\\\\\\\"\\ud83d\\ude00\\u00e9\""},
    {"literals", "[true,false,null]", 0, "[true,false,null]"},
    {"utf8_kept", "\"caf\xc3\xa9 \xe2\x82\xac\"", 0, "\"caf\xc3\xa9 \xe2\x82\xac\""},
    {"invalid_utf8_passed_through", "\"\xff\xfe\xc3\"", 0, "\"\xff\xfe\xc3\""},
    {"del_byte_accepted", "\"\x7f\"", 0, "\"\x7f\""},

    /* The HTML-sensitive characters, everywhere inside strings (keys too). */
    {"html_in_key", "{\"<&>\":0}", 0, "{\"\\u003c\\u0026\\u003e\":0}"},
    {"u2028_escaped", "\"a\xe2\x80\xa8z\"", 0, "\"a\\u2028z\""},
    {"u2029_escaped", "\"\xe2\x80\xa9\"", 0, "\"\\u2029\""},
    {"u202a_untouched", "\"\xe2\x80\xaa\"", 0, "\"\xe2\x80\xaa\""},
    {"truncated_e2_at_end", "\"\xe2\x80\"", 0, "\"\xe2\x80\""},

    /* Invalid: as Go's scanner. */
    {"empty_input_invalid", "", 0, NULL},
    {"only_spaces_invalid", " \n\t ", 0, NULL},
    {"two_values_invalid", "1 2", 0, NULL},
    {"trailing_garbage_invalid", "{}x", 0, NULL},
    {"trailing_comma_array_invalid", "[1,]", 0, NULL},
    {"trailing_comma_object_invalid", "{\"a\":1,}", 0, NULL},
    {"missing_colon_invalid", "{\"a\" 1}", 0, NULL},
    {"non_string_key_invalid", "{1:2}", 0, NULL},
    {"unclosed_array_invalid", "[1", 0, NULL},
    {"unclosed_string_invalid", "\"abc", 0, NULL},
    {"mismatched_bracket_invalid", "[1}", 0, NULL},
    {"extra_close_invalid", "[]]", 0, NULL},
    {"leading_zero_invalid", "01", 0, NULL},
    {"plus_sign_invalid", "+1", 0, NULL},
    {"bare_minus_invalid", "-", 0, NULL},
    {"dot_without_digits_invalid", "1.", 0, NULL},
    {"leading_dot_invalid", ".5", 0, NULL},
    {"exponent_without_digits_invalid", "1e+", 0, NULL},
    {"hex_number_invalid", "0x10", 0, NULL},
    {"capital_literal_invalid", "True", 0, NULL},
    {"truncated_literal_invalid", "nul", 0, NULL},
    {"literal_with_suffix_invalid", "nullx", 0, NULL},
    {"control_char_in_string_invalid", "\"a\nb\"", 0, NULL},
    {"nul_in_string_invalid", "\"a\0b\"", 5, NULL},
    {"bad_escape_invalid", "\"\\x\"", 0, NULL},
    {"short_unicode_escape_invalid", "\"\\u12\"", 0, NULL},
    {"non_hex_unicode_escape_invalid", "\"\\u12g4\"", 0, NULL},
    {"single_quotes_invalid", "'a'", 0, NULL},
    {"html_outside_string_invalid", "<", 0, NULL},
    {"u2028_outside_string_invalid", "\xe2\x80\xa8", 0, NULL},
    {"nbsp_is_not_space_invalid",
     "\xc2\xa0"
     "1",
     0, NULL},
    {"vertical_tab_is_not_space_invalid", "\v1", 0, NULL},
    {"nul_after_value_invalid", "1\0", 2, NULL},
};

static void test_compact_case(void **state)
{
    const struct compact_case *c = *state;
    size_t len = c->in_len != 0 ? c->in_len : strlen(c->in);
    uint8_t *out = malloc(6 * len + 1);
    size_t out_len = 12345;
    int rc;

    assert_non_null(out);
    rc = bbs_json_compact((const uint8_t *)c->in, len, out, &out_len);
    if (c->want == NULL) {
        assert_int_equal(rc, -1);
        assert_int_equal(out_len, 12345); /* untouched on failure */
    } else {
        assert_int_equal(rc, 0);
        assert_int_equal(out_len, strlen(c->want));
        assert_memory_equal(out, c->want, out_len);
        assert_int_equal(out[out_len], '\0');
    }
    free(out);
}

/* Nesting: Go accepts 10000 levels and refuses 10001; nothing may recurse. */
struct depth_case {
    const char *name;
    size_t depth;
    int close; /* 1 = balanced brackets, 0 = only the openings */
    char open; /* '[' or '{' (objects nest as {"a":{"a":...}}) */
    int want_rc;
};

static const struct depth_case depth_cases[] = {
    {"arrays_at_max_depth", BBS_JSON_MAX_DEPTH, 1, '[', 0},
    {"arrays_over_max_depth", BBS_JSON_MAX_DEPTH + 1, 1, '[', -1},
    {"objects_at_max_depth", BBS_JSON_MAX_DEPTH, 1, '{', 0},
    {"objects_over_max_depth", BBS_JSON_MAX_DEPTH + 1, 1, '{', -1},
    {"million_unclosed_arrays", 1000000, 0, '[', -1},
    {"million_balanced_arrays", 1000000, 1, '[', -1},
};

static void test_depth_case(void **state)
{
    const struct depth_case *c = *state;
    size_t per = c->open == '[' ? 1 : 5; /* '[' or '{"a":' */
    size_t cap = c->depth * (per + 1) + 2;
    char *in = malloc(cap);
    uint8_t *out = malloc(6 * cap + 1);
    size_t len = 0;
    size_t out_len = 0;
    int rc;

    assert_non_null(in);
    assert_non_null(out);
    for (size_t i = 0; i < c->depth; i++) {
        if (c->open == '[') {
            in[len++] = '[';
        } else {
            memcpy(in + len, "{\"a\":", 5);
            len += 5;
        }
    }
    if (c->open == '{') {
        in[len++] = '1';
    }
    for (size_t i = 0; c->close && i < c->depth; i++) {
        in[len++] = c->open == '[' ? ']' : '}';
    }
    rc = bbs_json_compact((const uint8_t *)in, len, out, &out_len);
    assert_int_equal(rc, c->want_rc);
    if (rc == 0) {
        assert_int_equal(out_len, len); /* already compact */
        assert_memory_equal(out, in, len);
    }
    free(in);
    free(out);
}

/* The worst-case output size: every byte escaped to six. */
static void test_output_bound(void **state)
{
    enum { N = 1000 };
    char in[N + 2];
    uint8_t out[6 * (N + 2) + 1];
    size_t out_len = 0;

    (void)state;
    in[0] = '"';
    memset(in + 1, '<', N);
    in[N + 1] = '"';
    assert_int_equal(bbs_json_compact((const uint8_t *)in, sizeof(in), out, &out_len), 0);
    assert_int_equal(out_len, 2 + 6 * N);
    assert_memory_equal(out + 1, "\\u003c\\u003c", 12);
}

static int run_rows(const char *group, const void *rows, size_t row_size, size_t n,
                    CMUnitTestFunction fn)
{
    struct CMUnitTest *tests = calloc(n, sizeof(*tests));
    int failed;

    assert_non_null(tests);
    for (size_t i = 0; i < n; i++) {
        const void *row = (const char *)rows + i * row_size;
        tests[i] = (struct CMUnitTest){
            .name = *(const char *const *)row, /* every row starts with its name */
            .test_func = fn,
            .initial_state = (void *)row,
        };
    }
    failed = _cmocka_run_group_tests(group, tests, n, NULL, NULL);
    free(tests);
    return failed;
}

int main(void)
{
    const struct CMUnitTest misc[] = {
        cmocka_unit_test(test_output_bound),
    };
    int failed = 0;

    failed += run_rows("json_compact", compact_cases, sizeof(compact_cases[0]),
                       sizeof(compact_cases) / sizeof(compact_cases[0]), test_compact_case);
    failed += run_rows("json_depth", depth_cases, sizeof(depth_cases[0]),
                       sizeof(depth_cases) / sizeof(depth_cases[0]), test_depth_case);
    failed += cmocka_run_group_tests_name("json_misc", misc, NULL, NULL);
    return failed;
}
