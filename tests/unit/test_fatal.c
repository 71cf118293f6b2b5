/*
 * test_fatal.c - the two ways the process stops on purpose: bbs_log_fatal
 * (log.h) and out of memory (xalloc.h). Each case runs in a child whose
 * stdout is a pipe; the child must die of SIGABRT after writing exactly
 * one JSON line at fatal level.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bbs/log.h"
#include "bbs/xalloc.h"

/* Run `fn` in a child; return what it wrote on stdout (caller frees) and its wait status. */
static char *run_child(void (*fn)(void), int *status)
{
    int fds[2];
    pid_t pid;
    char *out = calloc(1, 65536);
    size_t len = 0;
    ssize_t n;

    assert_non_null(out);
    assert_int_equal(pipe(fds), 0);
    fflush(stdout); /* nothing of ours buffered twice */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[1]);
        fn();
        _exit(0); /* not reached when fn stops the process */
    }
    close(fds[1]);
    while (len < 65535 && (n = read(fds[0], out + len, 65535 - len)) > 0) {
        len += (size_t)n;
    }
    close(fds[0]);
    assert_int_equal(waitpid(pid, status, 0), pid);
    return out;
}

/* One line, a fatal one named `message`; returns its data object (caller decrefs the line). */
static json_t *one_fatal_line(const char *out, const char *message, json_t **line)
{
    json_error_t jerr;
    const char *nl = strchr(out, '\n');

    assert_non_null(nl);
    assert_int_equal(nl[1], '\0'); /* exactly one line */
    *line = json_loadb(out, (size_t)(nl - out), 0, &jerr);
    assert_non_null(*line);
    assert_string_equal(json_string_value(json_object_get(*line, "message")), message);
    assert_string_equal(json_string_value(json_object_get(*line, "level")), "fatal");
    assert_int_equal(json_integer_value(json_object_get(*line, "log_level")), BBS_LOG_FATAL);
    return json_object_get(*line, "data");
}

static void assert_aborted(int status)
{
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void log_fatal_child(void)
{
    bbs_log_fatal("test.cannot-go-on", "{s:s, s:i}", "error", "why", "n", 7);
}

static void test_log_fatal_logs_one_line_and_aborts(void **state)
{
    int status = 0;
    char *out = run_child(log_fatal_child, &status);
    json_t *line = NULL;
    json_t *data;
    (void)state;

    assert_aborted(status);
    data = one_fatal_line(out, "bbs.test.cannot-go-on", &line);
    assert_string_equal(json_string_value(json_object_get(data, "error")), "why");
    assert_int_equal(json_integer_value(json_object_get(data, "n")), 7);
    json_decref(line);
    free(out);
}

static void log_fatal_min_level_child(void)
{
    /* A fatal line is written whatever the minimum level. */
    bbs_log_set_level(BBS_LOG_FATAL);
    bbs_log_fatal("test.quiet", NULL);
}

static void test_log_fatal_without_data(void **state)
{
    int status = 0;
    char *out = run_child(log_fatal_min_level_child, &status);
    json_t *line = NULL;
    json_t *data;
    (void)state;

    assert_aborted(status);
    data = one_fatal_line(out, "bbs.test.quiet", &line);
    assert_true(json_is_object(data));
    assert_int_equal(json_object_size(data), 0);
    json_decref(line);
    free(out);
}

static void out_of_memory_child(void)
{
    bbs_out_of_memory(12345);
}

static void test_out_of_memory_names_the_size(void **state)
{
    int status = 0;
    char *out = run_child(out_of_memory_child, &status);
    json_t *line = NULL;
    json_t *data;
    (void)state;

    assert_aborted(status);
    data = one_fatal_line(out, "bbs.out-of-memory", &line);
    assert_int_equal(json_integer_value(json_object_get(data, "size")), 12345);
    json_decref(line);
    free(out);
}

static void xcalloc_overflow_child(void)
{
    void *p = bbs_xcalloc(SIZE_MAX / 2, 3); /* count * size overflows */

    free(p);
}

static void test_xcalloc_overflow_is_out_of_memory(void **state)
{
    int status = 0;
    char *out = run_child(xcalloc_overflow_child, &status);
    json_t *line = NULL;
    (void)state;

    assert_aborted(status);
    (void)one_fatal_line(out, "bbs.out-of-memory", &line);
    json_decref(line);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_fatal_logs_one_line_and_aborts),
        cmocka_unit_test(test_log_fatal_without_data),
        cmocka_unit_test(test_out_of_memory_names_the_size),
        cmocka_unit_test(test_xcalloc_overflow_is_out_of_memory),
    };

    return cmocka_run_group_tests_name("fatal", tests, NULL, NULL);
}
