/*
 * test_debug.c - the debug server's /log-level bodies (http.h,
 * reference-2 13.3): exactly upstream's words, letters and digits.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "bbs/http.h"
#include "bbs/log.h"

static int level(const char *body)
{
    return bbs_debug_log_level(body, strlen(body));
}

static void test_levels(void **state)
{
    static const struct {
        const char *body;
        int want;
    } cases[] = {
        {"debug", BBS_LOG_DEBUG},
        {"DEBUG", BBS_LOG_DEBUG},
        {"d", BBS_LOG_DEBUG},
        {"0", BBS_LOG_DEBUG},
        {"info", BBS_LOG_INFO},
        {"INFO", BBS_LOG_INFO},
        {"i", BBS_LOG_INFO},
        {"1", BBS_LOG_INFO},
        {"error", BBS_LOG_ERROR},
        {"ERROR", BBS_LOG_ERROR},
        {"e", BBS_LOG_ERROR},
        {"2", BBS_LOG_ERROR},
        {"fatal", BBS_LOG_FATAL},
        {"FATAL", BBS_LOG_FATAL},
        {"f", BBS_LOG_FATAL},
        {"3", BBS_LOG_FATAL},
        /* Anything else changes nothing: other cases, spaces, a newline, prefixes. */
        {"Debug", -1},
        {"debug\n", -1},
        {" info", -1},
        {"", -1},
        {"4", -1},
        {"inf", -1},
        {"errors", -1},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (level(cases[i].body) != cases[i].want) {
            fail_msg("body \"%s\": %d, want %d", cases[i].body, level(cases[i].body),
                     cases[i].want);
        }
    }
    /* The length counts, not a terminating NUL. */
    assert_int_equal(bbs_debug_log_level("infox", 4), BBS_LOG_INFO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
