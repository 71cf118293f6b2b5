/*
 * xalloc.c - allocation that never returns NULL (see xalloc.h).
 */
#include "bbs/xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/log.h"

void bbs_out_of_memory(size_t n)
{
    bbs_log_fatal("out-of-memory", "{s:I}", "size", (json_int_t)n);
}

void *bbs_xmalloc(size_t n)
{
    void *p = malloc(n != 0 ? n : 1);

    if (p == NULL) {
        bbs_out_of_memory(n);
    }
    return p;
}

void *bbs_xcalloc(size_t count, size_t size)
{
    void *p;

    if (count == 0 || size == 0) {
        count = 1;
        size = 1;
    }
    if (count > SIZE_MAX / size) {
        bbs_out_of_memory(SIZE_MAX);
    }
    p = calloc(count, size);
    if (p == NULL) {
        bbs_out_of_memory(count * size);
    }
    return p;
}

void *bbs_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n != 0 ? n : 1);

    if (q == NULL) {
        bbs_out_of_memory(n);
    }
    return q;
}

char *bbs_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = bbs_xmalloc(n);

    memcpy(p, s, n);
    return p;
}
