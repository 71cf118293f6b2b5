/*
 * gojson.c - Go encoding/json string escaping (see gojson.h).
 */
#include "bbs/gojson.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Length of the valid UTF-8 sequence at `p` (1..4), or 0 when invalid, by
 * the rules of Go's utf8.DecodeRune: no overlong forms, no surrogates,
 * nothing above U+10FFFF. `*cp` receives the code point.
 */
static size_t utf8_seq(const unsigned char *p, uint32_t *cp)
{
    unsigned char c = p[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        if ((p[1] & 0xc0) != 0x80) {
            return 0;
        }
        *cp = ((uint32_t)(c & 0x1f) << 6) | (p[1] & 0x3f);
        return 2;
    }
    if (c >= 0xe0 && c <= 0xef) {
        unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;
        unsigned char hi = c == 0xed ? 0x9f : 0xbf;

        if (p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80) {
            return 0;
        }
        *cp = ((uint32_t)(c & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned char lo = c == 0xf0 ? 0x90 : 0x80;
        unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;

        if (p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80) {
            return 0;
        }
        *cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(p[1] & 0x3f) << 12) |
              ((uint32_t)(p[2] & 0x3f) << 6) | (p[3] & 0x3f);
        return 4;
    }
    return 0;
}

void bbs_gojson_string(struct bbs_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");

    bbs_buf_putc(b, '"');
    while (*p != '\0') {
        uint32_t cp = 0;
        size_t n = utf8_seq(p, &cp);

        if (n == 0) {
            bbs_buf_append(b, "\\ufffd", 6);
            p++;
            continue;
        }
        switch (cp) {
        case '"':
            bbs_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            bbs_buf_append(b, "\\\\", 2);
            break;
        case '\n':
            bbs_buf_append(b, "\\n", 2);
            break;
        case '\r':
            bbs_buf_append(b, "\\r", 2);
            break;
        case '\t':
            bbs_buf_append(b, "\\t", 2);
            break;
        case '\b':
            bbs_buf_append(b, "\\b", 2);
            break;
        case '\f':
            bbs_buf_append(b, "\\f", 2);
            break;
        case 0x2028:
            bbs_buf_append(b, "\\u2028", 6);
            break;
        case 0x2029:
            bbs_buf_append(b, "\\u2029", 6);
            break;
        default:
            if (cp < 0x20 || cp == '<' || cp == '>' || cp == '&') {
                char esc[6] = {'\\', 'u', '0', '0', hex[cp >> 4], hex[cp & 0xf]};

                bbs_buf_append(b, esc, 6);
            } else {
                bbs_buf_append(b, p, n);
            }
        }
        p += n;
    }
    bbs_buf_putc(b, '"');
}
