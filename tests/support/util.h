/*
 * util.h - small helpers for tests: unique names, clocks, sleeping, and
 * checks of UUID and UTF-8 text.
 */
#ifndef BBS_IT_SUPPORT_UTIL_H
#define BBS_IT_SUPPORT_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* "<prefix>-<n>" unique within this process. */
void it_uniq(char *buf, size_t len, const char *prefix);

/* Wall clock in ns since the epoch. */
int64_t it_now_ns(void);

void it_sleep_ms(int ms);

/* Does `s` look like a canonical lower-case UUID v4? */
int it_is_uuid_v4(const char *s);

/* Is `s` (of `len` bytes) valid UTF-8? */
int it_utf8_valid(const char *s, size_t len);

/* Milliseconds on the monotonic clock. */
int64_t it_mono_ms(void);

#endif /* BBS_IT_SUPPORT_UTIL_H */
