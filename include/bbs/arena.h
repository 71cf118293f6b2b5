/*
 * arena.h - per-request bump allocator.
 *
 * Everything a request allocates (unpacked protobuf, copies of row data,
 * response bytes) comes from its arena and is released at once when the
 * request completes. Allocation never fails: out of memory aborts with a
 * log line, as h2o and PostgreSQL's palloc do.
 */
#ifndef BBS_ARENA_H
#define BBS_ARENA_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

struct bbs_arena;

/* A new empty arena; free it with bbs_arena_free(). */
struct bbs_arena *bbs_arena_new(void);

/* Release the arena and everything allocated from it. Accepts NULL. */
void bbs_arena_free(struct bbs_arena *a);

/* `n` bytes aligned for any type; never NULL. */
void *bbs_arena_alloc(struct bbs_arena *a, size_t n);

/* Zeroed `n` bytes; never NULL. */
void *bbs_arena_zalloc(struct bbs_arena *a, size_t n);

/* A NUL-terminated copy of `s` (of `n` bytes for the _n form). */
char *bbs_arena_strdup(struct bbs_arena *a, const char *s);
char *bbs_arena_strndup(struct bbs_arena *a, const char *s, size_t n);

/*
 * Hand `p` to the arena: `fn(p)` runs when the arena is freed (latest
 * first). Lets a request own what is not arena memory, such as the
 * database result its rows borrow from.
 */
void bbs_arena_defer(struct bbs_arena *a, void (*fn)(void *), void *p);

/*
 * Run the deferred `fn(p)` of `p` now instead of when the arena is freed
 * (no-op if `p` was not deferred or was released already). A big list
 * gives its database result back as soon as the answer is encoded, not
 * after the answer has gone out.
 */
void bbs_arena_release(struct bbs_arena *a, const void *p);

/* A copy of `n` bytes of `p`. */
void *bbs_arena_memdup(struct bbs_arena *a, const void *p, size_t n);

/* printf into the arena. */
char *bbs_arena_printf(struct bbs_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * A ProtobufCAllocator whose alloc draws from `a` and whose free does
 * nothing; the arena releases everything. The returned allocator lives
 * inside the arena.
 */
ProtobufCAllocator *bbs_arena_pb_allocator(struct bbs_arena *a);

/* Bytes currently held (for metrics and tests). */
size_t bbs_arena_used(const struct bbs_arena *a);

#endif /* BBS_ARENA_H */
