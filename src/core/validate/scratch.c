/*
 * scratch.c - the index of proto map entries that upstream's Go maps keep
 * (see validate_int.h), on heap scratch when a map is large.
 */
#include <stdlib.h>
#include <string.h>

#include "bbs/xalloc.h"
#include "validate_int.h"

/* ---- map keys ---- */

void bbs_key_refs_init(struct bbs_key_refs *kr, size_t n)
{
    kr->n = n;
    kr->v = n <= sizeof(kr->small) / sizeof(kr->small[0])
                ? kr->small
                : bbs_xrealloc(NULL, n * sizeof(struct bbs_key_ref));
}

void bbs_key_refs_free(struct bbs_key_refs *kr)
{
    if (kr->v != kr->small) {
        free(kr->v);
    }
    kr->v = NULL;
}

void bbs_key_refs_set(struct bbs_key_refs *kr, size_t i, const char *key, const void *val)
{
    kr->v[i].key = key == NULL ? "" : key;
    kr->v[i].pos = i;
    kr->v[i].val = val;
}

static int key_ref_cmp(const void *a, const void *b)
{
    const struct bbs_key_ref *x = a;
    const struct bbs_key_ref *y = b;
    int c = strcmp(x->key, y->key);

    if (c != 0) {
        return c;
    }
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

void bbs_key_refs_sort(struct bbs_key_refs *kr)
{
    if (kr->n > 1) {
        qsort(kr->v, kr->n, sizeof(kr->v[0]), key_ref_cmp);
    }
}

int bbs_key_refs_wins(const struct bbs_key_refs *kr, size_t i)
{
    return i + 1 == kr->n || strcmp(kr->v[i].key, kr->v[i + 1].key) != 0;
}
