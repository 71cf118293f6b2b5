/*
 * pb.c - see pb.h.
 */
#include "support/pb.h"

#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.pb-c.h"

uint8_t *it_pack(const ProtobufCMessage *msg, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n + 1);
    if (buf == NULL) {
        abort();
    }
    *len = protobuf_c_message_pack(msg, buf);
    return buf;
}

ProtobufCMessage *it_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *body, size_t len)
{
    static const uint8_t empty[1] = {0};
    return protobuf_c_message_unpack(desc, NULL, len, len ? body : empty);
}

void *it_client_call(struct it_client *c, const char *path, const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *desc, char *errbuf, size_t errlen)
{
    struct it_resp r;
    uint8_t *body = NULL;
    size_t len = 0;
    ProtobufCMessage *msg = NULL;

    if (req != NULL) {
        body = it_pack(req, &len);
    }
    if (it_client_request(c, "POST", path, body ? body : (const uint8_t *)"", len, NULL, 0, &r,
                          errbuf, errlen) != 0) {
        free(body);
        return NULL;
    }
    free(body);
    if (r.status != 200) {
        snprintf(errbuf, errlen, "POST %s: HTTP %ld, body \"%.200s\"", path, r.status,
                 (const char *)r.body);
    } else if (strcmp(r.content_type, IT_PROTOBUF_CTYPE) != 0) {
        snprintf(errbuf, errlen, "POST %s: Content-Type \"%s\"", path, r.content_type);
    } else if (r.content_length != -1 /* chunked: a streamed list */ &&
               r.content_length != (int64_t)r.len) {
        snprintf(errbuf, errlen, "POST %s: Content-Length %lld but %zu bytes", path,
                 (long long)r.content_length, r.len);
    } else {
        msg = it_unpack(desc, r.body, r.len);
        if (msg == NULL) {
            snprintf(errbuf, errlen, "POST %s: response (%zu bytes) is not a valid %s", path, r.len,
                     desc->name);
        }
    }
    it_resp_free(&r);
    return msg;
}

void *it_call(const char *path, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *desc)
{
    char err[1024] = "";
    void *msg = it_client_call(it_main_client(), path, req, desc, err, sizeof(err));
    if (msg == NULL) {
        fail_msg("%s", err);
    }
    return msg;
}

void it_free(void *msg)
{
    if (msg != NULL) {
        protobuf_c_message_free_unpacked(msg, NULL);
    }
}

static const Models__Error *resp_error(const void *resp)
{
    const ProtobufCMessage *m = resp;
    const ProtobufCFieldDescriptor *f;

    if (m == NULL) {
        return NULL;
    }
    f = protobuf_c_message_descriptor_get_field(m->descriptor, 1);
    if (f == NULL || f->type != PROTOBUF_C_TYPE_MESSAGE ||
        f->descriptor != &models__error__descriptor) {
        return NULL;
    }
    return *(Models__Error *const *)((const char *)m + f->offset);
}

int it_err_type(const void *resp)
{
    const Models__Error *e = resp_error(resp);
    return e == NULL ? IT_OK : (int)e->type;
}

const char *it_err_msg(const void *resp)
{
    const Models__Error *e = resp_error(resp);
    return e == NULL || e->message == NULL ? "" : e->message;
}

int it_call_err(const char *path, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *desc)
{
    void *resp = it_call(path, req, desc);
    int t = it_err_type(resp);
    it_free(resp);
    return t;
}

void it_assert_invalid(const void *resp, const char *message)
{
    if (it_err_type(resp) != MODELS__ERROR__TYPE__InvalidRequest) {
        fail_msg("expected InvalidRequest \"%s\", got error type %d \"%s\"", message,
                 it_err_type(resp), it_err_msg(resp));
    }
    assert_string_equal(it_err_msg(resp), message);
}

void it_expect_invalid(const char *path, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *desc, const char *message)
{
    void *resp = it_call(path, req, desc);
    it_assert_invalid(resp, message);
    it_free(resp);
}

/* ---- deep comparison ----------------------------------------------------------------- */

static int diff_msg(const ProtobufCMessage *a, const ProtobufCMessage *b, const char *const *skip,
                    char *path, size_t pathlen, char *diff, size_t difflen);

static int is_map_entry(const ProtobufCMessageDescriptor *d)
{
    size_t nl = strlen(d->name);
    return d->n_fields == 2 && nl > 5 && strcmp(d->name + nl - 5, "Entry") == 0 &&
           strcmp(d->fields[0].name, "key") == 0 && strcmp(d->fields[1].name, "value") == 0;
}

static const char *str_or_empty(const char *s)
{
    return s == NULL ? "" : s;
}

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

static void scalar_text(const ProtobufCFieldDescriptor *f, const void *p, char *out, size_t len)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        snprintf(out, len, "%d", *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        snprintf(out, len, "%u", *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(out, len, "%lld", (long long)*(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(out, len, "%llu", (unsigned long long)*(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        snprintf(out, len, "%d", (int)*(const protobuf_c_boolean *)p);
        break;
    case PROTOBUF_C_TYPE_STRING:
        snprintf(out, len, "\"%.120s\"", str_or_empty(*(char *const *)p));
        break;
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bd = p;
        snprintf(out, len, "bytes[%zu] \"%.*s\"", bd->len, (int)(bd->len > 120 ? 120 : bd->len),
                 bd->data ? (const char *)bd->data : "");
        break;
    }
    default:
        snprintf(out, len, "?");
        break;
    }
}

/* Compare one value (not repeated) at `pa`/`pb`. */
static int diff_value(const ProtobufCFieldDescriptor *f, const void *pa, const void *pb, char *path,
                      size_t pathlen, char *diff, size_t difflen)
{
    char ta[200], tb[200];

    switch (f->type) {
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *ma = *(ProtobufCMessage *const *)pa;
        const ProtobufCMessage *mb = *(ProtobufCMessage *const *)pb;
        if (ma == NULL && mb == NULL) {
            return 0;
        }
        if ((ma == NULL) != (mb == NULL)) {
            snprintf(diff, difflen, "%s: %s vs %s", path, ma ? "present" : "absent",
                     mb ? "present" : "absent");
            return 1;
        }
        return diff_msg(ma, mb, NULL, path, pathlen, diff, difflen);
    }
    case PROTOBUF_C_TYPE_STRING:
        if (strcmp(str_or_empty(*(char *const *)pa), str_or_empty(*(char *const *)pb)) == 0) {
            return 0;
        }
        break;
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *a = pa, *b = pb;
        if (a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0)) {
            return 0;
        }
        break;
    }
    default:
        if (memcmp(pa, pb, elem_size(f->type)) == 0) {
            return 0;
        }
        break;
    }
    scalar_text(f, pa, ta, sizeof(ta));
    scalar_text(f, pb, tb, sizeof(tb));
    snprintf(diff, difflen, "%s: %s vs %s", path, ta, tb);
    return 1;
}

/* Maps: same size and every key of `a` present in `b` with an equal value. */
static int diff_map(const ProtobufCFieldDescriptor *f, ProtobufCMessage *const *ea, size_t na,
                    ProtobufCMessage *const *eb, size_t nb, char *path, size_t pathlen, char *diff,
                    size_t difflen)
{
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &ed->fields[0];
    const ProtobufCFieldDescriptor *vf = &ed->fields[1];
    size_t base = strlen(path);

    if (na != nb) {
        snprintf(diff, difflen, "%s: map with %zu vs %zu entries", path, na, nb);
        return 1;
    }
    for (size_t i = 0; i < na; i++) {
        const char *ka = str_or_empty(*(char *const *)((const char *)ea[i] + kf->offset));
        size_t j;
        for (j = 0; j < nb; j++) {
            const char *kb = str_or_empty(*(char *const *)((const char *)eb[j] + kf->offset));
            if (strcmp(ka, kb) == 0) {
                break;
            }
        }
        snprintf(path + base, pathlen - base, "[\"%s\"]", ka);
        if (j == nb) {
            snprintf(diff, difflen, "%s: key missing from the second message", path);
            return 1;
        }
        if (diff_value(vf, (const char *)ea[i] + vf->offset, (const char *)eb[j] + vf->offset, path,
                       pathlen, diff, difflen)) {
            return 1;
        }
        path[base] = '\0';
    }
    return 0;
}

static int diff_msg(const ProtobufCMessage *a, const ProtobufCMessage *b, const char *const *skip,
                    char *path, size_t pathlen, char *diff, size_t difflen)
{
    const ProtobufCMessageDescriptor *d = a->descriptor;
    size_t base = strlen(path);

    if (a->descriptor != b->descriptor) {
        snprintf(diff, difflen, "%s: different message types", path);
        return 1;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *pa = (const char *)a + f->offset;
        const char *pb = (const char *)b + f->offset;
        int skipped = 0;

        for (size_t s = 0; skip != NULL && skip[s] != NULL; s++) {
            skipped |= strcmp(skip[s], f->name) == 0;
        }
        if (skipped) {
            continue;
        }
        snprintf(path + base, pathlen - base, "%s%s", base ? "." : "", f->name);

        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t na = *(const size_t *)((const char *)a + f->quantifier_offset);
            size_t nb = *(const size_t *)((const char *)b + f->quantifier_offset);
            const char *arr_a = *(char *const *)pa;
            const char *arr_b = *(char *const *)pb;
            size_t es = elem_size(f->type);

            if (f->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(f->descriptor)) {
                if (diff_map(f, (ProtobufCMessage *const *)arr_a, na,
                             (ProtobufCMessage *const *)arr_b, nb, path, pathlen, diff, difflen)) {
                    return 1;
                }
                path[base] = '\0';
                continue;
            }
            if (na != nb) {
                snprintf(diff, difflen, "%s: %zu vs %zu elements", path, na, nb);
                return 1;
            }
            size_t fl = strlen(path);
            for (size_t k = 0; k < na; k++) {
                snprintf(path + fl, pathlen - fl, "[%zu]", k);
                if (diff_value(f, arr_a + k * es, arr_b + k * es, path, pathlen, diff, difflen)) {
                    return 1;
                }
            }
            path[base] = '\0';
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t ca = *(const uint32_t *)((const char *)a + f->quantifier_offset);
            uint32_t cb = *(const uint32_t *)((const char *)b + f->quantifier_offset);
            int sa = ca == f->id, sb = cb == f->id;
            if (sa != sb) {
                snprintf(diff, difflen, "%s: oneof %s vs %s", path, sa ? "set" : "unset",
                         sb ? "set" : "unset");
                return 1;
            }
            if (!sa) {
                path[base] = '\0';
                continue;
            }
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
                   f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
            protobuf_c_boolean ha =
                *(const protobuf_c_boolean *)((const char *)a + f->quantifier_offset);
            protobuf_c_boolean hb =
                *(const protobuf_c_boolean *)((const char *)b + f->quantifier_offset);
            if (ha != hb) {
                snprintf(diff, difflen, "%s: has %d vs %d", path, ha, hb);
                return 1;
            }
        }
        if (diff_value(f, pa, pb, path, pathlen, diff, difflen)) {
            return 1;
        }
        path[base] = '\0';
    }
    return 0;
}

int it_pb_diff(const ProtobufCMessage *a, const ProtobufCMessage *b, const char *const *skip,
               char *diff, size_t difflen)
{
    char path[1024] = "";
    diff[0] = '\0';
    if (a == NULL || b == NULL) {
        snprintf(diff, difflen, "(root): %s vs %s", a ? "present" : "absent",
                 b ? "present" : "absent");
        return a != b;
    }
    return diff_msg(a, b, skip, path, sizeof(path), diff, difflen);
}

const char *it_map_str(void *const *entries, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        const ProtobufCMessage *e = entries[i];
        const ProtobufCFieldDescriptor *kf =
            protobuf_c_message_descriptor_get_field_by_name(e->descriptor, "key");
        const ProtobufCFieldDescriptor *vf =
            protobuf_c_message_descriptor_get_field_by_name(e->descriptor, "value");
        const char *k = *(char *const *)((const char *)e + kf->offset);
        if (strcmp(str_or_empty(k), key) == 0) {
            return str_or_empty(*(char *const *)((const char *)e + vf->offset));
        }
    }
    return NULL;
}
