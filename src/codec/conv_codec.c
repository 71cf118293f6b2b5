/*
 * conv_codec.c - the stored blobs convergence compares (see conv_codec.h).
 *
 * A small reader of its own (varint and length-delimited fields) because
 * MetricTagValue.dynamic is a varint, which bbs_pbr_next_len skips. Every
 * length is checked against what is left, so any bytes are safe to give.
 */
#include "bbs/conv_codec.h"

#include <string.h>

#include <jansson.h>

/* One protobuf field of any wire type we meet (varint or length-delimited). */
struct pb_field {
    uint32_t field;
    uint64_t varint;
    const uint8_t *data;
    size_t len;
};

static int pb_varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;

    for (int shift = 0; shift < 64 && *pos < n; shift += 7) {
        uint8_t b = p[(*pos)++];

        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* 1 and `*f` filled; 0 at the end; -1 malformed or a wire type we do not read. */
static int pb_next(const uint8_t *p, size_t n, size_t *pos, struct pb_field *f)
{
    uint64_t key;
    uint64_t len;

    if (*pos >= n) {
        return 0;
    }
    if (pb_varint(p, n, pos, &key) != 0) {
        return -1;
    }
    f->field = (uint32_t)(key >> 3);
    f->data = NULL;
    f->len = 0;
    switch (key & 7) {
    case 0:
        return pb_varint(p, n, pos, &f->varint) == 0 ? 1 : -1;
    case 2:
        if (pb_varint(p, n, pos, &len) != 0 || len > n - *pos) {
            return -1;
        }
        f->data = p + *pos;
        f->len = (size_t)len;
        *pos += (size_t)len;
        return 1;
    default:
        return -1;
    }
}

/*
 * String `p`/`len` in the arena, or prev[i] itself when it is the same
 * string: rows decoded one after the other (an LRP's instances) share
 * what they have in common instead of holding a copy each.
 */
static const char *share(struct bbs_arena *arena, const uint8_t *p, size_t len,
                         const char *const *prev, size_t n_prev, size_t i)
{
    size_t n = strnlen((const char *)p, len); /* what a copy would hold */

    if (prev != NULL && i < n_prev && strlen(prev[i]) == n && memcmp(prev[i], p, n) == 0) {
        return prev[i];
    }
    return bbs_arena_strndup(arena, (const char *)p, len);
}

/* Strings of field `sub` inside each field-`outer` entry of `blob`
 * (internal routes); shared with `prev` (n_prev of them, may be NULL)
 * where equal, the whole array when every one is. */
static size_t decode_hostnames(struct bbs_arena *arena, const struct bbs_blob *blob, uint32_t outer,
                               const char *const *prev, size_t n_prev, const char *const **out)
{
    const char **v = NULL;
    size_t n = 0;
    size_t cap = 0;
    size_t pos = 0;
    struct pb_field e;

    *out = NULL;
    while (blob->present && pb_next(blob->data, blob->len, &pos, &e) == 1) {
        size_t ipos = 0;
        struct pb_field h;

        if (e.field != outer || e.data == NULL) {
            continue;
        }
        while (pb_next(e.data, e.len, &ipos, &h) == 1) {
            if (h.field == 1 && h.data != NULL) {
                if (n == cap) {
                    const char **nv;

                    cap = cap == 0 ? 4 : cap * 2;
                    nv = bbs_arena_alloc(arena, cap * sizeof(*nv));
                    if (n > 0) {
                        memcpy(nv, v, n * sizeof(*nv));
                    }
                    v = nv;
                }
                v[n] = share(arena, h.data, h.len, prev, n_prev, n);
                n++;
            }
        }
    }
    if (prev != NULL && n == n_prev && n > 0 && memcmp(v, prev, n * sizeof(*v)) == 0) {
        *out = prev;
        return n;
    }
    *out = v;
    return n;
}

/* The stored actual metric tags (field-12 map entries of strings). */
static void decode_actual_tags(struct bbs_arena *arena, const struct bbs_blob *blob,
                               const struct bbs_conv_actual *prev, struct bbs_conv_actual *a)
{
    const char *const *pn = prev != NULL ? prev->tag_names : NULL;
    const char *const *pv = prev != NULL ? prev->tag_values : NULL;
    size_t np = prev != NULL ? prev->n_tags : 0;
    size_t pos = 0;
    size_t cap = 0;
    struct pb_field e;
    const char **names = NULL;
    const char **values = NULL;

    a->tags_present = blob->present;
    while (blob->present && pb_next(blob->data, blob->len, &pos, &e) == 1) {
        size_t ipos = 0;
        struct pb_field kv;
        const char *k = "";
        const char *v = "";

        if (e.field != 12 || e.data == NULL) {
            continue;
        }
        while (pb_next(e.data, e.len, &ipos, &kv) == 1) {
            if (kv.data == NULL) {
                continue;
            }
            if (kv.field == 1) {
                k = share(arena, kv.data, kv.len, pn, np, a->n_tags);
            } else if (kv.field == 2) {
                v = share(arena, kv.data, kv.len, pv, np, a->n_tags);
            }
        }
        if (a->n_tags == cap) {
            const char **nn;
            const char **nv;

            cap = cap == 0 ? 4 : cap * 2;
            nn = bbs_arena_alloc(arena, cap * sizeof(*nn));
            nv = bbs_arena_alloc(arena, cap * sizeof(*nv));
            if (a->n_tags > 0) {
                memcpy(nn, names, a->n_tags * sizeof(*nn));
                memcpy(nv, values, a->n_tags * sizeof(*nv));
            }
            names = nn;
            values = nv;
        }
        names[a->n_tags] = k;
        values[a->n_tags] = v;
        a->n_tags++;
    }
    a->tag_names = names;
    a->tag_values = values;
    /* The same names as the row before (an LRP's instances): one array. */
    if (pn != NULL && a->n_tags == np && np > 0 && memcmp(names, pn, np * sizeof(*pn)) == 0) {
        a->tag_names = pn;
    }
}

/* The desired metric tags: field-1 entries (name, MetricTagValue{static 1, dynamic 2}). */
static void decode_desired_tags(struct bbs_arena *arena, const struct bbs_blob *blob,
                                struct bbs_conv_desired *d)
{
    size_t pos = 0;
    size_t n = 0;
    struct pb_field e;
    struct bbs_conv_tag *tags;

    while (blob->present && pb_next(blob->data, blob->len, &pos, &e) == 1) {
        n += e.field == 1;
    }
    d->n_tags = 0;
    if (n == 0) {
        return;
    }
    tags = bbs_arena_zalloc(arena, n * sizeof(*tags));
    pos = 0;
    while (pb_next(blob->data, blob->len, &pos, &e) == 1 && d->n_tags < n) {
        struct bbs_conv_tag *t = &tags[d->n_tags];
        size_t ipos = 0;
        struct pb_field kv;

        if (e.field != 1 || e.data == NULL) {
            continue;
        }
        t->name = "";
        t->kind = BBS_CONV_TAG_STATIC;
        t->value = "";
        while (pb_next(e.data, e.len, &ipos, &kv) == 1) {
            if (kv.field == 1 && kv.data != NULL) {
                t->name = bbs_arena_strndup(arena, (const char *)kv.data, kv.len);
            } else if (kv.field == 2 && kv.data != NULL) {
                size_t vpos = 0;
                struct pb_field v;

                while (pb_next(kv.data, kv.len, &vpos, &v) == 1) {
                    if (v.field == 1 && v.data != NULL) {
                        t->value = bbs_arena_strndup(arena, (const char *)v.data, v.len);
                    } else if (v.field == 2 && v.data == NULL && v.varint != 0) {
                        t->kind = v.varint == 1   ? BBS_CONV_TAG_INDEX
                                  : v.varint == 2 ? BBS_CONV_TAG_INSTANCE_GUID
                                                  : BBS_CONV_TAG_INVALID;
                    }
                }
            }
        }
        d->n_tags++;
    }
    d->tags = tags;
}

static int contains(const uint8_t *hay, size_t n, const char *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++) {
        if (hay[i] == (uint8_t)needle[0] && memcmp(hay + i, needle, m) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The "internal-router" hostnames of a stored routes map (ProtoRoutes). */
static void decode_internal_router(struct bbs_arena *arena, const struct bbs_blob *blob,
                                   struct bbs_conv_desired *d)
{
    static const char key[] = "internal-router";
    size_t pos = 0;
    struct pb_field e;

    d->hostnames = NULL;
    d->n_hostnames = 0;
    /* Most LRPs have no internal routes: look before decoding anything. */
    if (!blob->present || blob->len < sizeof(key) - 1 ||
        !contains(blob->data, blob->len, key, sizeof(key) - 1)) {
        return;
    }
    while (pb_next(blob->data, blob->len, &pos, &e) == 1) {
        size_t ipos = 0;
        struct pb_field kv;
        const uint8_t *value = NULL;
        size_t value_len = 0;
        int match = 0;

        if (e.field != 1 || e.data == NULL) {
            continue;
        }
        while (pb_next(e.data, e.len, &ipos, &kv) == 1) {
            if (kv.field == 1 && kv.data != NULL) {
                match = kv.len == sizeof(key) - 1 && memcmp(kv.data, key, kv.len) == 0;
            } else if (kv.field == 2 && kv.data != NULL) {
                value = kv.data;
                value_len = kv.len;
            }
        }
        if (match && value != NULL) {
            json_t *arr = json_loadb((const char *)value, value_len, 0, NULL);
            size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
            const char **v = n > 0 ? bbs_arena_alloc(arena, n * sizeof(*v)) : NULL;

            d->n_hostnames = 0; /* a later entry for the key replaces an earlier one, as in a map */
            for (size_t i = 0; i < n; i++) {
                const char *h =
                    json_string_value(json_object_get(json_array_get(arr, i), "hostname"));

                if (h != NULL) {
                    v[d->n_hostnames++] = bbs_arena_strdup(arena, h);
                }
            }
            d->hostnames = v;
            json_decref(arr);
        }
    }
}

void bbs_conv_decode_desired(struct bbs_arena *arena, const struct bbs_blob *routes,
                             const struct bbs_blob *tags, struct bbs_conv_desired *d)
{
    decode_internal_router(arena, routes, d);
    decode_desired_tags(arena, tags, d);
}

void bbs_conv_decode_actual(struct bbs_arena *arena, const struct bbs_blob *routes,
                            const struct bbs_blob *tags, const struct bbs_conv_actual *prev,
                            struct bbs_conv_actual *a)
{
    a->n_hostnames = decode_hostnames(arena, routes, 11, prev != NULL ? prev->hostnames : NULL,
                                      prev != NULL ? prev->n_hostnames : 0, &a->hostnames);
    a->n_tags = 0;
    decode_actual_tags(arena, tags, prev, a);
}
