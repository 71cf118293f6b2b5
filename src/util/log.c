/*
 * log.c - lager-style JSON lines (see log.h).
 *
 * The line is built in memory and written with one write(2) so lines from
 * different threads never interleave.
 */
#include "bbs/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Atomic: the debug server (POST /log-level) changes it while threads log. */
static atomic_int min_level = BBS_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "error", "fatal"};

void bbs_log_set_level(enum bbs_log_level level)
{
    atomic_store(&min_level, (int)level);
}

int bbs_log_parse_level(const char *s)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

int bbs_log_enabled(enum bbs_log_level level)
{
    return (int)level >= atomic_load(&min_level);
}

void bbs_log_take(enum bbs_log_level level, const char *message, json_t *data)
{
    struct timespec ts;
    struct tm tm;
    char stamp[64];
    char name[256];
    json_t *line;
    char *text;
    size_t len;

    if (!bbs_log_enabled(level)) {
        json_decref(data);
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
    snprintf(name, sizeof(name), "bbs.%s", message);
    if (data == NULL) {
        data = json_object();
    }
    line =
        json_pack("{s:s, s:s, s:s, s:s, s:i, s:o}", "timestamp", stamp, "level", level_names[level],
                  "source", "bbs", "message", name, "log_level", (int)level, "data", data);
    if (line == NULL) {
        return;
    }
    text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(line);
    if (text == NULL) {
        return;
    }
    len = strlen(text);
    text[len] = '\n'; /* replace the NUL: one write, one line */
    if (write(STDOUT_FILENO, text, len + 1) < 0) {
        /* nowhere left to report it */
    }
    free(text);
}

void bbs_log(enum bbs_log_level level, const char *message, const char *fmt, ...)
{
    json_t *data = NULL;
    va_list ap;

    if (!bbs_log_enabled(level)) {
        return;
    }
    if (fmt != NULL) {
        va_start(ap, fmt);
        data = json_vpack_ex(NULL, 0, fmt, ap);
        va_end(ap);
    }
    bbs_log_take(level, message, data);
}

void bbs_log_fatal(const char *message, const char *fmt, ...)
{
    json_t *data = NULL;
    va_list ap;

    if (fmt != NULL) {
        va_start(ap, fmt);
        data = json_vpack_ex(NULL, 0, fmt, ap);
        va_end(ap);
    }
    bbs_log_take(BBS_LOG_FATAL, message, data);
    abort();
}
