/*
 * routejson.c - validate and compact one JSON value the way Go's
 * encoding/json does when it marshals a json.RawMessage (see routejson.h).
 *
 * A single forward pass: a small parser driven by an explicit container
 * stack (one bit per level: object or array), copying significant bytes
 * to the output and escaping the HTML-sensitive ones inside strings. Those
 * bytes cannot appear outside a string in valid JSON, so escaping only
 * there is the same as Go escaping them wherever they occur.
 */
#include "bbs/routejson.h"

#include <string.h>

struct jc {
    const uint8_t *in;
    size_t len;
    size_t i;
    uint8_t *out;
    size_t o;
    size_t depth;
    uint8_t is_object[BBS_JSON_MAX_DEPTH / 8 + 1]; /* bit per level */
};

static const char hex_digits[] = "0123456789abcdef";

static int is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(uint8_t c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static void skip_space(struct jc *j)
{
    while (j->i < j->len && is_space(j->in[j->i])) {
        j->i++;
    }
}

static void emit(struct jc *j, uint8_t c)
{
    j->out[j->o++] = c;
}

/* Byte at the cursor, or -1 at the end. */
static int peek(const struct jc *j)
{
    return j->i < j->len ? j->in[j->i] : -1;
}

static int push(struct jc *j, int object)
{
    size_t d = j->depth;

    if (d >= BBS_JSON_MAX_DEPTH) {
        return -1;
    }
    if (object) {
        j->is_object[d / 8] |= (uint8_t)(1u << (d % 8));
    } else {
        j->is_object[d / 8] &= (uint8_t) ~(1u << (d % 8));
    }
    j->depth++;
    return 0;
}

static int top_is_object(const struct jc *j)
{
    size_t d = j->depth - 1;

    return (j->is_object[d / 8] >> (d % 8)) & 1u;
}

/* A string starting at the cursor ('"'), copied with the HTML escapes. */
static int string(struct jc *j)
{
    emit(j, '"');
    j->i++;
    while (j->i < j->len) {
        uint8_t c = j->in[j->i];

        if (c == '"') {
            emit(j, c);
            j->i++;
            return 0;
        }
        if (c < 0x20) {
            return -1;
        }
        if (c == '\\') {
            uint8_t e;

            if (j->i + 1 >= j->len) {
                return -1;
            }
            e = j->in[j->i + 1];
            if (e == 'u') {
                if (j->len - j->i < 6) {
                    return -1;
                }
                for (size_t k = 2; k < 6; k++) {
                    if (!is_hex(j->in[j->i + k])) {
                        return -1;
                    }
                }
                memcpy(j->out + j->o, j->in + j->i, 6);
                j->o += 6;
                j->i += 6;
                continue;
            }
            if (strchr("\"\\/bfnrt", e) == NULL || e == '\0') {
                return -1;
            }
            emit(j, c);
            emit(j, e);
            j->i += 2;
            continue;
        }
        if (c == '<' || c == '>' || c == '&') {
            memcpy(j->out + j->o, "\\u00", 4);
            j->o += 4;
            emit(j, (uint8_t)hex_digits[c >> 4]);
            emit(j, (uint8_t)hex_digits[c & 0xf]);
            j->i++;
            continue;
        }
        /* U+2028 / U+2029 break JavaScript string literals. */
        if (c == 0xe2 && j->len - j->i > 2 && j->in[j->i + 1] == 0x80 &&
            (j->in[j->i + 2] == 0xa8 || j->in[j->i + 2] == 0xa9)) {
            memcpy(j->out + j->o, "\\u202", 5);
            j->o += 5;
            emit(j, (uint8_t)hex_digits[j->in[j->i + 2] & 0xf]);
            j->i += 3;
            continue;
        }
        emit(j, c); /* anything else >= 0x20, valid UTF-8 or not */
        j->i++;
    }
    return -1;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, copied as spelled. */
static int number(struct jc *j)
{
    size_t start = j->i;

    if (peek(j) == '-') {
        j->i++;
    }
    if (peek(j) == '0') {
        j->i++;
    } else if (peek(j) >= '1' && peek(j) <= '9') {
        while (j->i < j->len && is_digit(j->in[j->i])) {
            j->i++;
        }
    } else {
        return -1;
    }
    if (peek(j) == '.') {
        j->i++;
        if (j->i >= j->len || !is_digit(j->in[j->i])) {
            return -1;
        }
        while (j->i < j->len && is_digit(j->in[j->i])) {
            j->i++;
        }
    }
    if (peek(j) == 'e' || peek(j) == 'E') {
        j->i++;
        if (peek(j) == '+' || peek(j) == '-') {
            j->i++;
        }
        if (j->i >= j->len || !is_digit(j->in[j->i])) {
            return -1;
        }
        while (j->i < j->len && is_digit(j->in[j->i])) {
            j->i++;
        }
    }
    memcpy(j->out + j->o, j->in + start, j->i - start);
    j->o += j->i - start;
    return 0;
}

static int literal(struct jc *j, const char *word)
{
    size_t n = strlen(word);

    if (j->len - j->i < n || memcmp(j->in + j->i, word, n) != 0) {
        return -1;
    }
    memcpy(j->out + j->o, word, n);
    j->o += n;
    j->i += n;
    return 0;
}

/* An object key and its ':' (the cursor is past any whitespace). */
static int key(struct jc *j)
{
    if (peek(j) != '"' || string(j) != 0) {
        return -1;
    }
    skip_space(j);
    if (peek(j) != ':') {
        return -1;
    }
    emit(j, ':');
    j->i++;
    return 0;
}

/*
 * The loop alternates between "a value is expected" and "a value just
 * ended". Opening a container either closes it at once (empty) or goes
 * back to expecting its first member; after a value, ',' expects the
 * next member and a matching bracket ends the container, which is itself
 * a value that just ended.
 */
static int compact(struct jc *j)
{
    int c;

    for (;;) {
        /* A value is expected. */
        skip_space(j);
        c = peek(j);
        if (c == '{' || c == '[') {
            int object = c == '{';

            if (push(j, object) != 0) {
                return -1;
            }
            emit(j, (uint8_t)c);
            j->i++;
            skip_space(j);
            if (peek(j) == (object ? '}' : ']')) {
                emit(j, (uint8_t)peek(j));
                j->i++;
                j->depth--;
            } else {
                if (object && key(j) != 0) {
                    return -1;
                }
                continue;
            }
        } else if (c == '"') {
            if (string(j) != 0) {
                return -1;
            }
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            if (number(j) != 0) {
                return -1;
            }
        } else if (c == 't' || c == 'f' || c == 'n') {
            if (literal(j, c == 't' ? "true" : c == 'f' ? "false" : "null") != 0) {
                return -1;
            }
        } else {
            return -1;
        }

        /* A value just ended: close containers until another member starts. */
        for (;;) {
            skip_space(j);
            c = peek(j);
            if (j->depth == 0) {
                return c == -1 ? 0 : -1;
            }
            if (c == ',') {
                emit(j, ',');
                j->i++;
                if (top_is_object(j)) {
                    skip_space(j);
                    if (key(j) != 0) {
                        return -1;
                    }
                }
                break;
            }
            if (c != (top_is_object(j) ? '}' : ']')) {
                return -1;
            }
            emit(j, (uint8_t)c);
            j->i++;
            j->depth--;
        }
    }
}

int bbs_json_compact(const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
    struct jc j;

    j.in = in;
    j.len = len;
    j.i = 0;
    j.out = out;
    j.o = 0;
    j.depth = 0;
    if (compact(&j) != 0) {
        return -1;
    }
    out[j.o] = '\0';
    *out_len = j.o;
    return 0;
}
