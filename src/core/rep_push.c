/*
 * rep_push.c - what an update pushes to the reps (see rep_push.h).
 */
#include "bbs/rep_push.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

/* The internal-router value of `r`, the last entry winning as in a protobuf map; NULL if none. */
static const ProtobufCBinaryData *internal_router(const Models__ProtoRoutes *r)
{
    if (r == NULL) {
        return NULL;
    }
    for (size_t i = r->n_routes; i > 0; i--) {
        const Models__ProtoRoutes__RoutesEntry *e = r->routes[i - 1];

        if (e != NULL && e->key != NULL && strcmp(e->key, BBS_INTERNAL_ROUTER) == 0) {
            return &e->value;
        }
    }
    return NULL;
}

int bbs_rep_push_routes_changed(const Models__ProtoRoutes *old, const Models__DesiredLRPUpdate *u)
{
    const ProtobufCBinaryData *a;
    const ProtobufCBinaryData *b;

    if (u->routes == NULL) {
        return 0;
    }
    a = internal_router(u->routes);
    b = internal_router(old);
    /* Only "both there with the same bytes" is unchanged; neither there counts as changed. */
    if (a != NULL && b != NULL) {
        return a->len != b->len || (a->len > 0 && memcmp(a->data, b->data, a->len) != 0);
    }
    return 1;
}

/* The update's value for `key` (last duplicate wins); NULL if absent. */
static const Models__MetricTagValue *update_tag(const Models__DesiredLRPUpdate *u, const char *key,
                                                int *found)
{
    for (size_t i = u->n_metric_tags; i > 0; i--) {
        const Models__DesiredLRPUpdate__MetricTagsEntry *e = u->metric_tags[i - 1];

        if (e != NULL && strcmp(e->key != NULL ? e->key : "", key) == 0) {
            *found = 1;
            return e->value;
        }
    }
    *found = 0;
    return NULL;
}

/* Distinct keys of the update's tags (a Go map has no duplicates). */
static size_t update_tag_count(const Models__DesiredLRPUpdate *u)
{
    size_t n = 0;

    for (size_t i = 0; i < u->n_metric_tags; i++) {
        const char *k = u->metric_tags[i]->key != NULL ? u->metric_tags[i]->key : "";
        size_t j = i + 1;

        while (j < u->n_metric_tags &&
               strcmp(u->metric_tags[j]->key != NULL ? u->metric_tags[j]->key : "", k) != 0) {
            j++;
        }
        n += j == u->n_metric_tags; /* count the last occurrence only */
    }
    return n;
}

int bbs_rep_push_tags_changed(Models__DesiredLRPUpdate__MetricTagsEntry *const *old, size_t n_old,
                              const Models__DesiredLRPUpdate *u)
{
    if (u->n_metric_tags == 0) {
        return 0;
    }
    if (update_tag_count(u) != n_old) {
        return 1;
    }
    for (size_t i = 0; i < n_old; i++) {
        const Models__MetricTagValue *ov = old[i]->value;
        int found = 0;
        const Models__MetricTagValue *nv =
            update_tag(u, old[i]->key != NULL ? old[i]->key : "", &found);
        const char *os = ov != NULL && ov->static_ != NULL ? ov->static_ : "";
        const char *ns = nv != NULL && nv->static_ != NULL ? nv->static_ : "";
        int od = ov != NULL ? (int)ov->dynamic : 0;
        int nd = nv != NULL ? (int)nv->dynamic : 0;

        if (!found || strcmp(os, ns) != 0 || od != nd) {
            return 1;
        }
    }
    return 0;
}

int bbs_rep_push_internal_routes(struct bbs_arena *arena, const Models__ProtoRoutes *routes,
                                 const char *const **out, size_t *n)
{
    const ProtobufCBinaryData *v = internal_router(routes);
    const char **hosts = NULL;
    json_t *doc = NULL;
    int rc = -1;

    *out = NULL;
    *n = 0;
    if (v == NULL) {
        return 0;
    }
    doc = json_loadb((const char *)v->data, v->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (doc == NULL) {
        goto out;
    }
    if (json_is_null(doc)) {
        rc = 0;
        goto out;
    }
    if (!json_is_array(doc)) {
        goto out;
    }
    /* Never NULL, even when empty: an empty list is [] on the wire, not null. */
    hosts = bbs_arena_alloc(arena, (json_array_size(doc) + 1) * sizeof(*hosts));
    for (size_t i = 0; i < json_array_size(doc); i++) {
        json_t *el = json_array_get(doc, i);
        const char *key;
        json_t *val;

        hosts[i] = "";
        if (json_is_null(el)) {
            continue;
        }
        if (!json_is_object(el)) {
            goto out;
        }
        /* Go matches field names without case; the last matching key wins. */
        json_object_foreach(el, key, val)
        {
            if (strcasecmp(key, "hostname") != 0 || json_is_null(val)) {
                continue;
            }
            if (!json_is_string(val)) {
                goto out;
            }
            hosts[i] = bbs_arena_strdup(arena, json_string_value(val));
        }
    }
    *out = hosts;
    *n = json_array_size(doc);
    rc = 0;
out:
    json_decref(doc);
    return rc;
}

void bbs_rep_push_tags_for(struct bbs_arena *arena, const Models__DesiredLRPUpdate *u,
                           int32_t index, const char *instance_guid, const char *const **names,
                           const char *const **values, size_t *n)
{
    const char **k = bbs_arena_alloc(arena, (u->n_metric_tags + 1) * sizeof(*k));
    const char **v = bbs_arena_alloc(arena, (u->n_metric_tags + 1) * sizeof(*v));
    size_t m = 0;

    for (size_t i = 0; i < u->n_metric_tags; i++) {
        const Models__DesiredLRPUpdate__MetricTagsEntry *e = u->metric_tags[i];
        const char *key = e->key != NULL ? e->key : "";
        const Models__MetricTagValue *tv = e->value;
        size_t later = i + 1;
        char num[16];

        /* A later duplicate wins: keep only the last occurrence of a key. */
        while (later < u->n_metric_tags &&
               strcmp(u->metric_tags[later]->key != NULL ? u->metric_tags[later]->key : "", key) !=
                   0) {
            later++;
        }
        /* Go's ConvertMetricTags leaves out a dynamic value it does not know. */
        if (later < u->n_metric_tags ||
            (tv != NULL &&
             (int)tv->dynamic > MODELS__METRIC_TAG_VALUE__DYNAMIC_VALUE__INSTANCE_GUID)) {
            continue;
        }
        k[m] = bbs_arena_strdup(arena, key);
        if (tv != NULL && tv->dynamic == MODELS__METRIC_TAG_VALUE__DYNAMIC_VALUE__INDEX) {
            snprintf(num, sizeof(num), "%d", (int)index);
            v[m] = bbs_arena_strdup(arena, num);
        } else if (tv != NULL &&
                   tv->dynamic == MODELS__METRIC_TAG_VALUE__DYNAMIC_VALUE__INSTANCE_GUID) {
            v[m] = bbs_arena_strdup(arena, instance_guid != NULL ? instance_guid : "");
        } else {
            v[m] = bbs_arena_strdup(arena, tv != NULL && tv->static_ != NULL ? tv->static_ : "");
        }
        m++;
    }
    *names = k;
    *values = v;
    *n = m;
}
