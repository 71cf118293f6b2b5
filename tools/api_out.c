/*
 * api_out.c - bbsctl's output and spec input: the models as JSON through
 * the generic protobuf <-> JSON codec (bbs/pbjson.h), written as Go's
 * json.Encoder writes them (compact, keys in the codec's order, strings
 * HTML-safe as Go escapes them, one value per line).
 *
 * This file only serialises the jansson tree the codec builds; it knows
 * no model.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "bbs/buf.h"
#include "bbs/gojson.h"
#include "bbs/pbjson.h"

/* Go's strconv.FormatFloat(f, 'g'-ish) as encoding/json: shortest repr, no exponent in range. */
static void put_real(struct bbs_buf *b, double v)
{
    char tmp[64];

    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v) {
            break;
        }
    }
    /* encoding/json switches to exponent form only below 1e-6 or from 1e21. */
    if (strchr(tmp, 'e') != NULL && v != 0 &&
        (v >= 1e21 || v <= -1e21 || (v < 1e-6 && v > -1e-6))) {
        bbs_buf_printf(b, "%s", tmp);
    } else if (strchr(tmp, 'e') != NULL) {
        bbs_buf_printf(b, "%.0f", v);
    } else {
        bbs_buf_printf(b, "%s", tmp);
    }
}

static void put(struct bbs_buf *b, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        int first = 1;
        bbs_buf_putc(b, '{');
        json_object_foreach((json_t *)v, k, x)
        {
            if (!first) {
                bbs_buf_putc(b, ',');
            }
            first = 0;
            bbs_gojson_string(b, k);
            bbs_buf_putc(b, ':');
            put(b, x);
        }
        bbs_buf_putc(b, '}');
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *x;
        bbs_buf_putc(b, '[');
        json_array_foreach((json_t *)v, i, x)
        {
            if (i > 0) {
                bbs_buf_putc(b, ',');
            }
            put(b, x);
        }
        bbs_buf_putc(b, ']');
        break;
    }
    case JSON_STRING:
        bbs_gojson_string(b, json_string_value(v));
        break;
    case JSON_INTEGER:
        bbs_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        put_real(b, json_real_value(v));
        break;
    case JSON_TRUE:
        bbs_buf_append(b, "true", 4);
        break;
    case JSON_FALSE:
        bbs_buf_append(b, "false", 5);
        break;
    case JSON_NULL:
        bbs_buf_append(b, "null", 4);
        break;
    }
}

static int emit(const json_t *v)
{
    struct bbs_buf b = {0};
    int rc = 0;

    put(&b, v);
    bbs_buf_putc(&b, '\n');
    if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout) != 0) {
        rc = -1;
    }
    bbs_buf_free(&b);
    return rc;
}

int api_print(const ProtobufCMessage *m)
{
    json_t *j = bbs_pbjson_encode(m);
    int rc = emit(j);

    json_decref(j);
    return rc;
}

int api_print_event(const char *type, const ProtobufCMessage *m)
{
    json_t *j = json_object();
    int rc;

    json_object_set_new(j, "type", json_string(type));
    json_object_set_new(j, "data", bbs_pbjson_encode(m));
    rc = emit(j);
    json_decref(j);
    return rc;
}

/* The whole of `path` (malloc'd, `*len` bytes), or NULL with Go's os error text in `why`. */
static char *read_file(const char *path, size_t *len, char *why, size_t whylen)
{
    FILE *fp = fopen(path, "rb");
    struct bbs_buf b = {0};
    char chunk[8192];
    size_t n;

    if (fp == NULL) {
        char msg[128];
        snprintf(msg, sizeof(msg), "%s", strerror(errno));
        if (msg[0] >= 'A' && msg[0] <= 'Z') {
            msg[0] = (char)(msg[0] - 'A' + 'a');
        }
        /* os.Stat's error, as cfdot returns it */
        snprintf(why, whylen, "stat %s: %s", path, msg);
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
        bbs_buf_append(&b, chunk, n);
    }
    fclose(fp);
    bbs_buf_putc(&b, '\0');
    return (char *)bbs_buf_take(&b, len);
}

ProtobufCMessage *api_read_spec(const ProtobufCMessageDescriptor *desc, const char *arg, char *why,
                                size_t whylen)
{
    struct bbs_error err = {0};
    ProtobufCMessage *m = NULL;
    char *file = NULL;
    const char *text = arg;
    size_t len = strlen(arg);

    if (arg[0] == '@') {
        file = read_file(arg + 1, &len, why, whylen);
        if (file == NULL) {
            return NULL;
        }
        len--; /* the NUL read_file appended */
        text = file;
    }
    m = bbs_pbjson_decode(desc, text, len, NULL, &err);
    if (m == NULL) {
        snprintf(why, whylen, "Invalid JSON: %s", err.message);
    }
    free(file);
    return m;
}
