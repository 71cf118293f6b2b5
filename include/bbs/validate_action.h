/*
 * validate_action.h - action trees and cached dependencies (pure core),
 * as a DesiredLRP, its sidecars and a TaskDefinition validate them
 * (reference 2.7, 2.8).
 *
 * Every function reads its input (borrowed, never modified), appends its
 * problems to `p` in upstream order and returns how many it appended.
 * `p` may be NULL: then nothing is written and the return value says how
 * many problems there would be (callers use this to decide whether to
 * write a header such as "Invalid field: setup" first).
 */
#ifndef BBS_VALIDATE_ACTION_H
#define BBS_VALIDATE_ACTION_H

#include <stddef.h>

#include "actions.pb-c.h"
#include "bbs/validate_problems.h"
#include "cached_dependency.pb-c.h"

/*
 * The problems of one action tree, without a header: upstream's
 * Action.Validate(). Only the first present field of each Action is
 * looked at; an Action with none is "Invalid field: inner-action". The
 * tree is walked without recursion, so any depth is fine; scratch memory
 * for deep or wide trees comes from the heap and is released before
 * returning.
 */
int bbs_validate_action(const Models__Action *a, struct bbs_problems *p);

/*
 * A present top-level action called `name` ("setup", "action",
 * "monitor"): when the tree has problems, "Invalid field: <name>" and then
 * its problems; the count includes the header. `a` must not be NULL (an
 * absent action is the caller's rule: "invalid action type" or nothing).
 */
int bbs_validate_named_action(const char *name, const Models__Action *a, struct bbs_problems *p);

/* One CachedDependency: from, to, then the checksum pair. */
int bbs_validate_cached_dependency(const Models__CachedDependency *c, struct bbs_problems *p);

/*
 * A list of cached dependencies: for each with problems,
 * "Invalid field: cached_dependency" and then its problems. NULL elements
 * are skipped.
 */
int bbs_validate_cached_dependencies(Models__CachedDependency *const *deps, size_t n,
                                     struct bbs_problems *p);

#endif /* BBS_VALIDATE_ACTION_H */
