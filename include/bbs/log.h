/*
 * log.h - one JSON object per line on stdout, with lager's field names:
 * {"timestamp":"...","level":"info","source":"bbs","message":"bbs.x","log_level":1,"data":{...}}
 *
 * Thread-safe; each line is written with a single write(2). The core never
 * logs; handlers and loops do.
 */
#ifndef BBS_LOG_H
#define BBS_LOG_H

#include <jansson.h>

enum bbs_log_level {
    BBS_LOG_DEBUG = 0,
    BBS_LOG_INFO = 1,
    BBS_LOG_ERROR = 2,
    BBS_LOG_FATAL = 3,
};

/* Set the minimum level written (default info). Safe at any time (atomic). */
void bbs_log_set_level(enum bbs_log_level level);

/* Parse "debug", "info", "error", "fatal"; -1 if unknown. */
int bbs_log_parse_level(const char *s);

/* Is `level` written at all? Lets callers skip building data. */
int bbs_log_enabled(enum bbs_log_level level);

/*
 * Write one line. `message` is appended to "bbs." as lager does for
 * sessions. Takes ownership of `data` (a JSON object, or NULL).
 */
void bbs_log_take(enum bbs_log_level level, const char *message, json_t *data);

/* Shorthand: log with data built by json_pack(fmt, ...); fmt NULL for none. */
void bbs_log(enum bbs_log_level level, const char *message, const char *fmt, ...);

/*
 * For a state the process cannot go on from (a thread that cannot be
 * created, a programming error): log at fatal level as bbs_log() does,
 * then abort(). Out of memory has its own line (xalloc.h).
 */
_Noreturn void bbs_log_fatal(const char *message, const char *fmt, ...);

#endif /* BBS_LOG_H */
