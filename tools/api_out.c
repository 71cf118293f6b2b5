/*
 * api_out.c - bbsctl's output and spec input: the models as JSON through
 * the generic protobuf <-> JSON codec (bbs/pbjson.h), written as Go's
 * json.Encoder writes them (compact, keys in the codec's order, strings
 * HTML-safe as Go escapes them, one value per line).
 *
 * The text is the codec's (bbs_pbjson_dump, the same as the API's JSON
 * answers); this file knows no model.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "bbs/buf.h"
#include "bbs/pbjson.h"

static int emit(const json_t *v)
{
    struct bbs_buf b = {0};
    int rc = 0;

    bbs_pbjson_dump(v, &b);
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
