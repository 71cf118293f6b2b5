/*
 * xalloc.h - the one allocation-failure policy: out of memory is fatal.
 *
 * Each function behaves like its libc namesake but never returns NULL:
 * when the system cannot give memory it writes one fatal log line
 * ("bbs.out-of-memory", with the size asked for) and aborts, as h2o does
 * and as PostgreSQL's palloc never returns NULL. Callers therefore carry
 * no untested recovery branches. Memory is released with free().
 */
#ifndef BBS_XALLOC_H
#define BBS_XALLOC_H

#include <stddef.h>

/* malloc(n); a zero-size request returns a unique non-NULL pointer. */
void *bbs_xmalloc(size_t n);

/* calloc(count, size), zeroed; overflow of count * size is fatal too. */
void *bbs_xcalloc(size_t count, size_t size);

/* realloc(p, n); on failure `p` is not freed (the process aborts). */
void *bbs_xrealloc(void *p, size_t n);

/* strdup(s); `s` must not be NULL. */
char *bbs_xstrdup(const char *s);

/* Log the fatal line and abort: for callers with their own allocator. */
_Noreturn void bbs_out_of_memory(size_t n);

#endif /* BBS_XALLOC_H */
