/*
 * validate_problems.h - the list of validation problems every validator
 * writes to (pure core).
 *
 * Upstream collects problems into a flat list and renders it as one
 * message: every problem joined with ", " (reference 2.1.3). The HTTP
 * layer turns a non-zero count into InvalidRequest with `text` as its
 * message.
 */
#ifndef BBS_VALIDATE_PROBLEMS_H
#define BBS_VALIDATE_PROBLEMS_H

#include <stddef.h>

#include "bbs/error.h"

/*
 * Zero-initialise before the first use (`struct bbs_problems p = {0};`).
 * `text` is always NUL-terminated and `len` is strlen(text); `count`
 * counts every problem added, including those that no longer fitted in
 * `text`.
 */
struct bbs_problems {
    char text[BBS_ERROR_MESSAGE_MAX];
    size_t len;
    int count;
};

/*
 * Append ", " (unless it is the first problem) and `problem`. When the
 * text would not fit, as much as fits is kept and the text ends in "...";
 * later problems are then only counted. `problem` is borrowed.
 */
void bbs_problems_add(struct bbs_problems *p, const char *problem);

#endif /* BBS_VALIDATE_PROBLEMS_H */
