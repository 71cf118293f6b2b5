/*
 * problems.c - the problem list (see validate_problems.h) and the writers
 * the validators share (validate_int.h).
 */
#include <string.h>

#include "bbs/validate_problems.h"
#include "validate_int.h"

/*
 * Append `n` bytes of `s` to the text. When they do not fit, keep what
 * fits and end the text with "..."; once full, every later call only
 * rewrites that marker.
 */
void bbs_problems_put(struct bbs_problems *p, const char *s, size_t n)
{
    size_t cap = sizeof(p->text) - 1;
    size_t room = cap - p->len;

    if (n <= room) {
        memcpy(p->text + p->len, s, n);
        p->len += n;
        p->text[p->len] = '\0';
        return;
    }
    memcpy(p->text + p->len, s, room);
    p->len = cap;
    memcpy(p->text + cap - 3, "...", 3);
    p->text[cap] = '\0';
}

void bbs_problems_puts(struct bbs_problems *p, const char *s)
{
    bbs_problems_put(p, s, strlen(s));
}

/* Start a new problem: count it and write the separator. */
void bbs_problems_begin(struct bbs_problems *p)
{
    if (p->count > 0) {
        bbs_problems_put(p, ", ", 2);
    }
    p->count++;
}

void bbs_problems_add(struct bbs_problems *p, const char *problem)
{
    bbs_problems_begin(p);
    bbs_problems_puts(p, problem);
}

/* A free-sentence problem. `p` may be NULL (count only). */
int bbs_problems_note(struct bbs_problems *p, const char *problem)
{
    if (p != NULL) {
        bbs_problems_add(p, problem);
    }
    return 1;
}

/* "Invalid field: <name>". `p` may be NULL (count only). */
int bbs_problems_field(struct bbs_problems *p, const char *name)
{
    if (p != NULL) {
        bbs_problems_begin(p);
        bbs_problems_puts(p, "Invalid field: ");
        bbs_problems_puts(p, name);
    }
    return 1;
}
