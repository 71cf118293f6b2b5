/*
 * action.c - action trees and cached dependencies (see validate_action.h),
 * and the checksum rule both download kinds share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/validate_action.h"
#include "bbs/xalloc.h"
#include "validate_int.h"

/* md5 / sha1 / sha256 in any ASCII case (Go lower-cases, then compares). */
static int checksum_algorithm_known(const char *s)
{
    static const char *const known[] = {"md5", "sha1", "sha256"};

    for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
        const char *a = s;
        const char *b = known[k];
        while (*a != '\0' && *b != '\0') {
            unsigned char c = (unsigned char)*a;
            if (c >= 'A' && c <= 'Z') {
                c = (unsigned char)(c - 'A' + 'a');
            }
            if (c != (unsigned char)*b) {
                break;
            }
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0') {
            return 1;
        }
    }
    return 0;
}

/* Shared by DownloadAction and CachedDependency (validate_int.h). */
int bbs_validate_checksum(const char *algorithm, const char *value, struct bbs_problems *p)
{
    int n = 0;

    if (!empty(value) && empty(algorithm)) {
        n += bbs_problems_field(p, "checksum algorithm");
    }
    if (empty(value) && !empty(algorithm)) {
        n += bbs_problems_field(p, "checksum value");
    }
    if (!empty(value) && !empty(algorithm) && !checksum_algorithm_known(algorithm)) {
        n += bbs_problems_field(p, "invalid algorithm");
    }
    return n;
}

static int v_download(const Models__DownloadAction *a, struct bbs_problems *p)
{
    int n = 0;

    if (empty(a->from)) {
        n += bbs_problems_field(p, "from");
    }
    if (empty(a->to)) {
        n += bbs_problems_field(p, "to");
    }
    if (empty(a->user)) {
        n += bbs_problems_field(p, "user");
    }
    n += bbs_validate_checksum(a->checksum_algorithm, a->checksum_value, p);
    return n;
}

static int v_upload(const Models__UploadAction *a, struct bbs_problems *p)
{
    int n = 0;

    if (empty(a->to)) {
        n += bbs_problems_field(p, "to");
    }
    if (empty(a->from)) {
        n += bbs_problems_field(p, "from");
    }
    if (empty(a->user)) {
        n += bbs_problems_field(p, "user");
    }
    return n;
}

static int v_run(const Models__RunAction *a, struct bbs_problems *p)
{
    int n = 0;

    if (empty(a->path)) {
        n += bbs_problems_field(p, "path");
    }
    if (empty(a->user)) {
        n += bbs_problems_field(p, "user");
    }
    return n;
}

/*
 * The action tree is walked with an explicit stack, not recursion: its
 * depth is whatever the client sent. A timeout's own check comes after
 * its child's problems, so it is pushed below the child as a separate
 * step; a composite is one step that hands out its children in order.
 */
enum act_step {
    ACT_VISIT,      /* an Action wrapper */
    ACT_TIMEOUT_MS, /* the timeout_ms check of a TimeoutAction */
    ACT_LIST,       /* the remaining children of a composite */
};

struct act_item {
    enum act_step step;
    const void *node;
    Models__Action *const *list;
    size_t len;
    size_t next;
};

struct act_stack {
    struct act_item small[32];
    struct act_item *v;
    size_t n;
    size_t cap;
};

static void act_push(struct act_stack *st, struct act_item it)
{
    if (st->n == st->cap) {
        size_t cap = st->cap * 2;
        struct act_item *v = bbs_xrealloc(st->v == st->small ? NULL : st->v, cap * sizeof(*v));
        if (st->v == st->small) {
            memcpy(v, st->small, sizeof(st->small));
        }
        st->v = v;
        st->cap = cap;
    }
    st->v[st->n++] = it;
}

static void act_push_visit(struct act_stack *st, const Models__Action *a)
{
    act_push(st, (struct act_item){.step = ACT_VISIT, .node = a});
}

static void act_push_list(struct act_stack *st, Models__Action *const *list, size_t len)
{
    act_push(st, (struct act_item){.step = ACT_LIST, .list = list, .len = len});
}

/*
 * timeout / try / emit_progress: a missing child is "action"; an empty
 * child wrapper crashes upstream (quirk 11) and is "inner-action" here,
 * which the ACT_VISIT step reports.
 */
static int act_child(struct act_stack *st, const Models__Action *child, struct bbs_problems *p)
{
    if (child == NULL) {
        return bbs_problems_field(p, "action");
    }
    act_push_visit(st, child);
    return 0;
}

/* Upstream looks only at the first present field, in field order. */
static int act_visit(struct act_stack *st, const Models__Action *a, struct bbs_problems *p)
{
    if (a->download_action != NULL) {
        return v_download(a->download_action, p);
    }
    if (a->upload_action != NULL) {
        return v_upload(a->upload_action, p);
    }
    if (a->run_action != NULL) {
        return v_run(a->run_action, p);
    }
    if (a->timeout_action != NULL) {
        act_push(st, (struct act_item){.step = ACT_TIMEOUT_MS, .node = a->timeout_action});
        return act_child(st, a->timeout_action->action, p);
    }
    if (a->emit_progress_action != NULL) {
        return act_child(st, a->emit_progress_action->action, p);
    }
    if (a->try_action != NULL) {
        return act_child(st, a->try_action->action, p);
    }
    if (a->parallel_action != NULL || a->serial_action != NULL || a->codependent_action != NULL) {
        Models__Action *const *list;
        size_t len;

        if (a->parallel_action != NULL) {
            list = a->parallel_action->actions;
            len = a->parallel_action->n_actions;
        } else if (a->serial_action != NULL) {
            list = a->serial_action->actions;
            len = a->serial_action->n_actions;
        } else {
            list = a->codependent_action->actions;
            len = a->codependent_action->n_actions;
        }
        if (len == 0) {
            return bbs_problems_field(p, "actions");
        }
        act_push_list(st, list, len);
        return 0;
    }
    return bbs_problems_field(p, "inner-action");
}

int bbs_validate_action(const Models__Action *root, struct bbs_problems *p)
{
    struct act_stack st;
    struct act_item it;
    int n = 0;

    st.v = st.small;
    st.n = 0;
    st.cap = sizeof(st.small) / sizeof(st.small[0]);
    act_push_visit(&st, root);
    while (st.n > 0) {
        it = st.v[--st.n];
        switch (it.step) {
        case ACT_VISIT:
            n += act_visit(&st, it.node, p);
            break;
        case ACT_TIMEOUT_MS:
            if (((const Models__TimeoutAction *)it.node)->timeout_ms <= 0) {
                n += bbs_problems_field(p, "timeout_ms");
            }
            break;
        case ACT_LIST:
            if (it.next + 1 < it.len) {
                struct act_item rest = it;
                rest.next++;
                act_push(&st, rest);
            }
            if (it.list[it.next] == NULL) {
                /* Cannot come off the wire; upstream's text for a nil element. */
                char msg[64];
                snprintf(msg, sizeof(msg), "action at index %zu", it.next);
                n += bbs_problems_field(p, msg);
            } else {
                act_push_visit(&st, it.list[it.next]);
            }
            break;
        }
    }
    if (st.v != st.small) {
        free(st.v);
    }
    return n;
}

/* A present top-level action: "Invalid field: <name>" then its problems. */
int bbs_validate_named_action(const char *name, const Models__Action *a, struct bbs_problems *p)
{
    int k = bbs_validate_action(a, NULL);

    if (k == 0) {
        return 0;
    }
    if (p != NULL) {
        bbs_problems_field(p, name);
        bbs_validate_action(a, p);
    }
    return k + 1;
}

/* ---- cached dependencies (2.8) ---- */

int bbs_validate_cached_dependency(const Models__CachedDependency *c, struct bbs_problems *p)
{
    int n = 0;

    if (empty(c->from)) {
        n += bbs_problems_field(p, "from");
    }
    if (empty(c->to)) {
        n += bbs_problems_field(p, "to");
    }
    n += bbs_validate_checksum(c->checksum_algorithm, c->checksum_value, p);
    return n;
}

int bbs_validate_cached_dependencies(Models__CachedDependency *const *deps, size_t n,
                                     struct bbs_problems *p)
{
    int k = 0;

    for (size_t i = 0; i < n; i++) {
        const Models__CachedDependency *c = deps[i];
        if (c != NULL && bbs_validate_cached_dependency(c, NULL) > 0) {
            k += bbs_problems_field(p, "cached_dependency");
            k += bbs_validate_cached_dependency(c, p);
        }
    }
    return k;
}
