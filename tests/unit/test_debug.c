/*
 * test_debug.c - the debug server's /log-level bodies (http.h,
 * reference-2 13.3): exactly upstream's words, letters and digits.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bbs/config.h"
#include "bbs/error.h"
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

/*
 * bbs_debug_start takes its socket on failure too (http.h): a descriptor
 * libmicrohttpd refuses (a regular file: epoll will not watch it) is
 * closed, not leaked.
 */
static void test_failed_start_closes_the_socket(void **state)
{
    char path[] = "/tmp/bbs-test-debug-XXXXXX";
    struct bbs_config cfg;
    struct bbs_error err = {0};
    int fd = mkstemp(path);
    (void)state;

    assert_true(fd >= 0);
    unlink(path);
    memset(&cfg, 0, sizeof(cfg));
    cfg.debug_address = (char *)"127.0.0.1:0";
    assert_null(bbs_debug_start(&cfg, fd, &err));
    assert_string_equal(err.message, "cannot listen on debug_address 127.0.0.1:0");
    errno = 0;
    assert_int_equal(fcntl(fd, F_GETFD), -1);
    assert_int_equal(errno, EBADF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_failed_start_closes_the_socket),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
