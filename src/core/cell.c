/*
 * cell.c - the CellPresence JSON a rep keeps in Locket, parsed the way
 * upstream's Go encoding/json fills models.CellPresence (cell.h).
 *
 * Go's decoder walks the object key by key: a key equal to a field's json
 * tag wins, else one equal ignoring case; other keys are skipped. A null
 * leaves the field at its zero value. A value of another JSON type than
 * the field's, or a number that is not an integral int32, is an error, and
 * upstream then drops the whole presence, so one bad field here fails the
 * entry too. Tags (cells.pb.go): cell_id, rep_address, zone, capacity
 * {memory_mb, disk_mb, containers}, rootfs_provider_list [{name,
 * properties}], placement_tags, optional_placement_tags, rep_url, and
 * annotations (a later upstream field; v2.82.0 skips it as unknown).
 */
#include "bbs/cell.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "cells.pb-c.h"

/*
 * Whether the JSON key `key` names the field tagged `want`. Go prefers an
 * exact match over a case-insensitive one, which only matters when two
 * tags differ by case; ours never do, so ignoring case is the same.
 */
static int cell_key_is(const char *key, const char *want)
{
    return strcasecmp(key, want) == 0;
}

static int cell_string(struct bbs_arena *a, json_t *v, char **dst, const char *what,
                       struct bbs_error *err)
{
    if (json_is_null(v)) {
        return 0; /* Go leaves the field as it was */
    }
    if (!json_is_string(v)) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON,
                       "json: cannot unmarshal into field %s of type string", what);
        return -1;
    }
    *dst = bbs_arena_strndup(a, json_string_value(v), json_string_length(v));
    return 0;
}

static int cell_int32(json_t *v, int32_t *dst, const char *what, struct bbs_error *err)
{
    json_int_t n;

    if (json_is_null(v)) {
        return 0;
    }
    if (!json_is_integer(v)) {
        goto bad;
    }
    n = json_integer_value(v);
    if (n < INT32_MIN || n > INT32_MAX) {
        goto bad;
    }
    *dst = (int32_t)n;
    return 0;
bad:
    bbs_error_setf(err, BBS_ERR_INVALID_JSON, "json: cannot unmarshal into field %s of type int32",
                   what);
    return -1;
}

/* A JSON array of strings (null elements are ""); null = no slice. */
static int cell_strings(struct bbs_arena *a, json_t *v, size_t *n, char ***dst, const char *what,
                        struct bbs_error *err)
{
    size_t i;
    json_t *e;

    if (json_is_null(v)) {
        *n = 0;
        *dst = NULL;
        return 0;
    }
    if (!json_is_array(v)) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON,
                       "json: cannot unmarshal into field %s of type []string", what);
        return -1;
    }
    *n = json_array_size(v);
    *dst = *n > 0 ? bbs_arena_zalloc(a, *n * sizeof(**dst)) : NULL;
    json_array_foreach(v, i, e)
    {
        (*dst)[i] = (char *)"";
        if (cell_string(a, e, &(*dst)[i], what, err) != 0) {
            return -1;
        }
    }
    return 0;
}

static int cell_capacity(struct bbs_arena *a, json_t *v, Models__CellCapacity **dst,
                         struct bbs_error *err)
{
    const char *key;
    json_t *f;

    if (json_is_null(v)) {
        *dst = NULL;
        return 0;
    }
    if (!json_is_object(v)) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON,
                       "json: cannot unmarshal into field capacity of type models.CellCapacity");
        return -1;
    }
    if (*dst == NULL) {
        *dst = bbs_arena_zalloc(a, sizeof(**dst));
        models__cell_capacity__init(*dst);
    }
    json_object_foreach(v, key, f)
    {
        int rc = 0;

        if (cell_key_is(key, "memory_mb")) {
            rc = cell_int32(f, &(*dst)->memory_mb, "capacity.memory_mb", err);
        } else if (cell_key_is(key, "disk_mb")) {
            rc = cell_int32(f, &(*dst)->disk_mb, "capacity.disk_mb", err);
        } else if (cell_key_is(key, "containers")) {
            rc = cell_int32(f, &(*dst)->containers, "capacity.containers", err);
        }
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}

static int cell_provider(struct bbs_arena *a, json_t *v, Models__Provider **dst,
                         struct bbs_error *err)
{
    const char *key;
    json_t *f;

    *dst = bbs_arena_zalloc(a, sizeof(**dst));
    models__provider__init(*dst);
    if (json_is_null(v)) {
        return 0; /* Go keeps a nil element; it travels as an empty Provider */
    }
    if (!json_is_object(v)) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON,
                       "json: cannot unmarshal into field rootfs_provider_list of type "
                       "models.Provider");
        return -1;
    }
    json_object_foreach(v, key, f)
    {
        int rc = 0;

        if (cell_key_is(key, "name")) {
            rc = cell_string(a, f, &(*dst)->name, "rootfs_provider_list.name", err);
        } else if (cell_key_is(key, "properties")) {
            rc = cell_strings(a, f, &(*dst)->n_properties, &(*dst)->properties,
                              "rootfs_provider_list.properties", err);
        }
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}

static int cell_providers(struct bbs_arena *a, json_t *v, Models__CellPresence *p,
                          struct bbs_error *err)
{
    size_t i;
    json_t *e;

    if (json_is_null(v)) {
        p->n_rootfs_providers = 0;
        p->rootfs_providers = NULL;
        return 0;
    }
    if (!json_is_array(v)) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON,
                       "json: cannot unmarshal into field rootfs_provider_list of type "
                       "[]*models.Provider");
        return -1;
    }
    p->n_rootfs_providers = json_array_size(v);
    p->rootfs_providers = p->n_rootfs_providers > 0
                              ? bbs_arena_zalloc(a, p->n_rootfs_providers * sizeof(void *))
                              : NULL;
    json_array_foreach(v, i, e)
    {
        if (cell_provider(a, e, &p->rootfs_providers[i], err) != 0) {
            return -1;
        }
    }
    return 0;
}

static int cell_annotations(struct bbs_arena *a, json_t *v, Models__CellPresence *p,
                            struct bbs_error *err)
{
    const char *key;
    json_t *f;
    size_t i = 0;

    if (json_is_null(v)) {
        p->n_annotations = 0;
        p->annotations = NULL;
        return 0;
    }
    if (!json_is_object(v)) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON,
                       "json: cannot unmarshal into field annotations of type map[string]string");
        return -1;
    }
    p->n_annotations = json_object_size(v);
    p->annotations =
        p->n_annotations > 0 ? bbs_arena_zalloc(a, p->n_annotations * sizeof(void *)) : NULL;
    json_object_foreach(v, key, f)
    {
        Models__CellPresence__AnnotationsEntry *e = bbs_arena_zalloc(a, sizeof(*e));

        models__cell_presence__annotations_entry__init(e);
        e->key = bbs_arena_strdup(a, key);
        if (cell_string(a, f, &e->value, "annotations", err) != 0) {
            return -1;
        }
        p->annotations[i++] = e;
    }
    return 0;
}

static int cell_field(struct bbs_arena *a, const char *key, json_t *v, Models__CellPresence *p,
                      struct bbs_error *err)
{
    if (cell_key_is(key, "cell_id")) {
        return cell_string(a, v, &p->cell_id, "cell_id", err);
    }
    if (cell_key_is(key, "rep_address")) {
        return cell_string(a, v, &p->rep_address, "rep_address", err);
    }
    if (cell_key_is(key, "zone")) {
        return cell_string(a, v, &p->zone, "zone", err);
    }
    if (cell_key_is(key, "rep_url")) {
        return cell_string(a, v, &p->rep_url, "rep_url", err);
    }
    if (cell_key_is(key, "capacity")) {
        return cell_capacity(a, v, &p->capacity, err);
    }
    if (cell_key_is(key, "rootfs_provider_list")) {
        return cell_providers(a, v, p, err);
    }
    if (cell_key_is(key, "placement_tags")) {
        return cell_strings(a, v, &p->n_placement_tags, &p->placement_tags, "placement_tags", err);
    }
    if (cell_key_is(key, "optional_placement_tags")) {
        return cell_strings(a, v, &p->n_optional_placement_tags, &p->optional_placement_tags,
                            "optional_placement_tags", err);
    }
    if (cell_key_is(key, "annotations")) {
        return cell_annotations(a, v, p, err);
    }
    return 0; /* unknown keys are skipped, as Go does */
}

int bbs_cell_presence_parse(struct bbs_arena *arena, const char *json, size_t len,
                            struct bbs_cell *out, struct bbs_error *err)
{
    json_error_t jerr;
    json_t *root = NULL;
    Models__CellPresence *p = NULL;
    const char *key;
    json_t *v;
    int rc = -1;

    /* DECODE_ANY: a bare null is a valid document (an empty presence in Go). */
    root = json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (root == NULL) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON, "invalid presence JSON: %s", jerr.text);
        goto out;
    }
    if (!json_is_object(root) && !json_is_null(root)) {
        bbs_error_setf(err, BBS_ERR_INVALID_JSON,
                       "json: cannot unmarshal a non-object into models.CellPresence");
        goto out;
    }
    p = bbs_arena_zalloc(arena, sizeof(*p));
    models__cell_presence__init(p);
    json_object_foreach(root, key, v)
    {
        if (cell_field(arena, key, v, p, err) != 0) {
            goto out;
        }
    }
    out->cell_id = p->cell_id;
    out->rep_address = p->rep_address;
    out->rep_url = p->rep_url;
    out->zone = p->zone;
    out->presence = p;
    rc = 0;
out:
    json_decref(root);
    return rc;
}
