/*
 * arena.c - per-request bump allocator (see arena.h).
 *
 * Blocks are chained; a request that needs more than a block's worth gets
 * a block of its own size. Freeing the arena frees every block.
 */
#include "bbs/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/xalloc.h"

#define ARENA_BLOCK 16384
#define ARENA_ALIGN 16

struct arena_block {
    struct arena_block *next;
    size_t cap;
    size_t used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

struct arena_defer {
    struct arena_defer *next;
    void (*fn)(void *);
    void *p;
};

struct bbs_arena {
    struct arena_block *head;
    struct arena_defer *defers;
    size_t total;
    ProtobufCAllocator pb;
};

static void *pb_alloc(void *ctx, size_t n)
{
    return bbs_arena_alloc(ctx, n);
}

static void pb_free(void *ctx, void *p)
{
    (void)ctx;
    (void)p;
}

struct bbs_arena *bbs_arena_new(void)
{
    struct bbs_arena *a = bbs_xcalloc(1, sizeof(*a));

    a->pb.alloc = pb_alloc;
    a->pb.free = pb_free;
    a->pb.allocator_data = a;
    return a;
}

void bbs_arena_free(struct bbs_arena *a)
{
    struct arena_block *b;

    if (a == NULL) {
        return;
    }
    /* The records live in the blocks: run them all before any goes. */
    for (struct arena_defer *d = a->defers; d != NULL; d = d->next) {
        if (d->fn != NULL) {
            d->fn(d->p);
        }
    }
    while ((b = a->head) != NULL) {
        a->head = b->next;
        free(b);
    }
    free(a);
}

void *bbs_arena_alloc(struct bbs_arena *a, size_t n)
{
    struct arena_block *b = a->head;
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    void *p;

    if (need == 0) {
        need = ARENA_ALIGN;
    }
    if (b == NULL || b->cap - b->used < need) {
        size_t cap = need > ARENA_BLOCK ? need : ARENA_BLOCK;

        b = bbs_xmalloc(sizeof(*b) + cap);
        b->cap = cap;
        b->used = 0;
        /* A big one-off block goes behind the head so the head keeps its
         * free space for the small allocations that follow. */
        if (a->head != NULL && cap > ARENA_BLOCK) {
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
        a->total += cap;
    }
    p = b->data + b->used;
    b->used += need;
    return p;
}

void *bbs_arena_zalloc(struct bbs_arena *a, size_t n)
{
    void *p = bbs_arena_alloc(a, n);

    memset(p, 0, n);
    return p;
}

char *bbs_arena_strndup(struct bbs_arena *a, const char *s, size_t n)
{
    char *p = bbs_arena_alloc(a, n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *bbs_arena_strdup(struct bbs_arena *a, const char *s)
{
    return bbs_arena_strndup(a, s, strlen(s));
}

void bbs_arena_defer(struct bbs_arena *a, void (*fn)(void *), void *p)
{
    struct arena_defer *d = bbs_arena_alloc(a, sizeof(*d));

    d->fn = fn;
    d->p = p;
    d->next = a->defers;
    a->defers = d;
}

void bbs_arena_release(struct bbs_arena *a, const void *p)
{
    for (struct arena_defer *d = a->defers; d != NULL; d = d->next) {
        if (d->p == p && d->fn != NULL) {
            d->fn(d->p);
            d->fn = NULL;
            return;
        }
    }
}

void *bbs_arena_memdup(struct bbs_arena *a, const void *p, size_t n)
{
    void *q = bbs_arena_alloc(a, n);

    if (n > 0) {
        memcpy(q, p, n);
    }
    return q;
}

char *bbs_arena_printf(struct bbs_arena *a, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return bbs_arena_strdup(a, "");
    }
    p = bbs_arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

ProtobufCAllocator *bbs_arena_pb_allocator(struct bbs_arena *a)
{
    return &a->pb;
}

size_t bbs_arena_used(const struct bbs_arena *a)
{
    return a->total;
}
