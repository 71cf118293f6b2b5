/*
 * test_trace.c - X-Vcap-Request-Id to trace id (trace.h), row by row as
 * upstream's lager and zipkin's TraceIDFromHex / String read them.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "bbs/trace.h"

struct row {
    const char *header;
    const char *want; /* NULL: no trace id */
};

static const struct row rows[] = {
    /* A UUID (what the CC and the cfdot send): dashes out, lower case, 128 bits. */
    {"3F1C2D4E-5B6A-4C7D-8E9F-0A1B2C3D4E5F", "3f1c2d4e5b6a4c7d8e9f0a1b2c3d4e5f"},
    /* 64-bit ids are zero-padded to 16 digits. */
    {"abc", "0000000000000abc"},
    {"0123456789abcdef", "0123456789abcdef"},
    /* 17 digits: a high part of one digit, padded to 16. */
    {"10123456789abcdef", "00000000000000010123456789abcdef"},
    /* A zero high half prints as the low 16 digits only. */
    {"00000000000000000000000000000001", "0000000000000001"},
    {"0-0-1", "0000000000000001"},
    /* Not a trace id: empty, only dashes, non-hex, too long, a 0x prefix. */
    {"", NULL},
    {"----", NULL},
    {"not-a-trace-id", NULL},
    {"123456789012345678901234567890123", NULL},
    {"0x1f", NULL},
    {"12 34", NULL},
};

static void test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[BBS_TRACE_ID_MAX] = "x";
        int rc = bbs_trace_id(rows[i].header, strlen(rows[i].header), out);

        if (rows[i].want == NULL) {
            if (rc != -1 || out[0] != '\0') {
                fail_msg("row %zu \"%s\": accepted as \"%s\"", i, rows[i].header, out);
            }
        } else if (rc != 0 || strcmp(out, rows[i].want) != 0) {
            fail_msg("row %zu \"%s\": got %d \"%s\", want \"%s\"", i, rows[i].header, rc, out,
                     rows[i].want);
        }
    }
}

/* The header is read for `n` bytes only (libmicrohttpd hands NUL-terminated values; the fuzz
 * driver does not). */
static void test_length_bounds_the_read(void **state)
{
    char out[BBS_TRACE_ID_MAX];
    (void)state;

    assert_int_equal(bbs_trace_id("abcZZZ", 3, out), 0);
    assert_string_equal(out, "0000000000000abc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_length_bounds_the_read),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
