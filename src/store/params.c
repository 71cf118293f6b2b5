/*
 * params.c - binary query parameters (see struct bbs_params in
 * store_int.h): the one builder every statement uses.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/log.h"
#include "store_int.h"

/* PostgreSQL's type OIDs for text and int4, the element types of our arrays. */
#define TEXT_OID 25
#define INT4_OID 23

static uint64_t hton64(uint64_t v)
{
    return ((uint64_t)htonl((uint32_t)v) << 32) | htonl((uint32_t)(v >> 32));
}

static int param(struct bbs_params *p, const void *v, int len)
{
    if (p->n >= BBS_MAX_PARAMS) { /* a statement with more parameters is a programming error */
        bbs_log_fatal("store.too-many-parameters", "{s:i}", "max", BBS_MAX_PARAMS);
    }
    p->values[p->n] = v;
    p->lengths[p->n] = len;
    p->formats[p->n] = 1;
    return ++p->n;
}

int bbs_params_text(struct bbs_params *p, const char *s)
{
    return param(p, s, (int)strlen(s));
}

int bbs_params_bytes(struct bbs_params *p, const void *d, size_t n)
{
    /* libpq wants a non-NULL pointer for a non-NULL zero-length value. */
    return param(p, d != NULL ? d : (const void *)"", (int)n);
}

int bbs_params_null(struct bbs_params *p)
{
    return param(p, NULL, 0);
}

int bbs_params_int4(struct bbs_params *p, int32_t v)
{
    uint32_t be = htonl((uint32_t)v);

    memcpy(&p->ints[p->n], &be, 4);
    return param(p, &p->ints[p->n], 4);
}

int bbs_params_int8(struct bbs_params *p, int64_t v)
{
    uint64_t be = hton64((uint64_t)v);

    memcpy(&p->ints[p->n], &be, 8);
    return param(p, &p->ints[p->n], 8);
}

int bbs_params_bool(struct bbs_params *p, int v)
{
    unsigned char b = v ? 1 : 0;

    memcpy(&p->ints[p->n], &b, 1);
    return param(p, &p->ints[p->n], 1);
}

int bbs_params_blob(struct bbs_params *p, const struct bbs_blob *blob)
{
    if (!blob->present) {
        return bbs_params_null(p);
    }
    return bbs_params_bytes(p, blob->data, blob->len);
}

static unsigned char *put_be32(unsigned char *at, uint32_t v)
{
    uint32_t be = htonl(v);

    memcpy(at, &be, 4);
    return at + 4;
}

/*
 * The binary array format (array_recv): ndim, has-nulls flag, element
 * OID, then per dimension its length and lower bound, then each element
 * as a length and its bytes. The empty array has no dimensions.
 */
int bbs_params_text_array(struct bbs_params *p, struct bbs_arena *arena, const char *const *strs,
                          size_t n)
{
    size_t size = 12 + (n > 0 ? 8 : 0);
    unsigned char *data;
    unsigned char *at;

    for (size_t i = 0; i < n; i++) {
        size += 4 + strlen(strs[i]);
    }
    data = bbs_arena_alloc(arena, size);
    at = put_be32(data, n > 0 ? 1 : 0);
    at = put_be32(at, 0);
    at = put_be32(at, TEXT_OID);
    if (n > 0) {
        at = put_be32(at, (uint32_t)n);
        at = put_be32(at, 1);
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(strs[i]);

        at = put_be32(at, (uint32_t)len);
        memcpy(at, strs[i], len);
        at += len;
    }
    return param(p, data, (int)size);
}

int bbs_params_int4_array(struct bbs_params *p, struct bbs_arena *arena, const int32_t *v, size_t n)
{
    size_t size = 12 + (n > 0 ? 8 : 0) + n * 8;
    unsigned char *data = bbs_arena_alloc(arena, size);
    unsigned char *at;

    at = put_be32(data, n > 0 ? 1 : 0);
    at = put_be32(at, 0);
    at = put_be32(at, INT4_OID);
    if (n > 0) {
        at = put_be32(at, (uint32_t)n);
        at = put_be32(at, 1);
    }
    for (size_t i = 0; i < n; i++) {
        at = put_be32(at, 4);
        at = put_be32(at, (uint32_t)v[i]);
    }
    return param(p, data, (int)size);
}
