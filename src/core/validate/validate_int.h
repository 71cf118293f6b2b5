/*
 * validate_int.h - what the validator files share; private to
 * src/core/validate/ (the public side is include/bbs/validate*.h).
 *
 * Upstream collects problems into a flat list in which a nested
 * validator's problems are spliced in place, often preceded by a header
 * such as "Invalid field: setup". A header is only written when the
 * nested part has problems, so validators take a NULL sink meaning "only
 * count": the caller counts first, then writes header and problems.
 * Every validator returns how many problems it appended (or would append,
 * for a NULL sink).
 */
#ifndef BBS_VALIDATE_INT_H
#define BBS_VALIDATE_INT_H

#include <stddef.h>
#include <string.h>

#include "bbs/validate_problems.h"

/* Limits shared by DesiredLRP and its update (and, next, TaskDefinition). */
#define BBS_VALIDATE_ANNOTATION_MAX (10 * 1024)
#define BBS_VALIDATE_ROUTES_MAX     (128 * 1024)

/* ---- writing problems (problems.c) ---- */

/* A free-sentence problem. `p` may be NULL (count only). Returns 1. */
int bbs_problems_note(struct bbs_problems *p, const char *problem);

/* "Invalid field: <name>". `p` may be NULL (count only). Returns 1. */
int bbs_problems_field(struct bbs_problems *p, const char *name);

/*
 * Pieces of one problem, for problems composed of parts (egress
 * destinations): begin counts it and writes the separator, put/puts
 * append text. `p` must not be NULL.
 */
void bbs_problems_begin(struct bbs_problems *p);
void bbs_problems_put(struct bbs_problems *p, const char *s, size_t n);
void bbs_problems_puts(struct bbs_problems *p, const char *s);

/* ---- proto map keys (scratch.c); scratch memory is bbs_xrealloc's (xalloc.h) ---- */

/*
 * protobuf-c keeps every entry of a proto map as sent, duplicates
 * included, while upstream decodes into a Go map where the last entry
 * with a given key wins. To judge what upstream judges, the entries are
 * sorted by (key, position) and only the last of each key is looked at.
 * Upstream walks its maps in random order; that never shows, because the
 * only per-entry problems (metric tags) all have the same text and the
 * routes size check is a sum.
 *
 * Use: init with the entry count, set every entry, sort, walk the entries
 * for which wins() is true, free.
 */
struct bbs_key_ref {
    const char *key;
    size_t pos;
    const void *val;
};

struct bbs_key_refs {
    struct bbs_key_ref small[16];
    struct bbs_key_ref *v;
    size_t n;
};

void bbs_key_refs_init(struct bbs_key_refs *kr, size_t n);
void bbs_key_refs_free(struct bbs_key_refs *kr);
/* Entry `i` (0 <= i < n); `key` NULL reads as "". Both are borrowed. */
void bbs_key_refs_set(struct bbs_key_refs *kr, size_t i, const char *key, const void *val);
void bbs_key_refs_sort(struct bbs_key_refs *kr);
/* After sorting: is entry i the one upstream keeps for its key? */
int bbs_key_refs_wins(const struct bbs_key_refs *kr, size_t i);

/* ---- checksums (action.c): shared by DownloadAction and CachedDependency ---- */

int bbs_validate_checksum(const char *algorithm, const char *value, struct bbs_problems *p);

/* ---- small helpers ---- */

/* protobuf-c never leaves a string NULL, but hand-built messages may. */
static inline int empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

static inline size_t slen(const char *s)
{
    return s == NULL ? 0 : strlen(s);
}

static inline int streq(const char *a, const char *b)
{
    return strcmp(a == NULL ? "" : a, b == NULL ? "" : b) == 0;
}

static inline int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

#endif /* BBS_VALIDATE_INT_H */
