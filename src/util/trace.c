/*
 * trace.c - X-Vcap-Request-Id to trace id (trace.h).
 *
 * Upstream strips every '-' and parses what is left as zipkin's 128-bit
 * trace id: more than 16 digits splits into a high part (all but the last
 * 16) and the low 16; each must parse as a 64-bit hex number, so 33 digits
 * or more, an empty value, or any non-hex character is no trace id. It
 * prints 16 digits, or 32 when the high part is non-zero.
 */
#include "bbs/trace.h"

#include <string.h>

static int hex_digit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int bbs_trace_id(const char *header, size_t n, char *out)
{
    char hex[32];
    size_t len = 0;
    size_t hi;
    int hi_zero = 1;

    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char c = header[i];

        if (c == '-') {
            continue;
        }
        if (len == sizeof(hex) || !hex_digit(c)) {
            return -1;
        }
        hex[len++] = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
    }
    if (len == 0) {
        return -1;
    }
    hi = len > 16 ? len - 16 : 0;
    for (size_t i = 0; i < hi; i++) {
        hi_zero &= hex[i] == '0';
    }
    if (!hi_zero) {
        /* High 16 digits (zero-padded), then the low 16. */
        memset(out, '0', 16 - hi);
        memcpy(out + (16 - hi), hex, hi);
        memcpy(out + 16, hex + hi, 16);
        out[32] = '\0';
        return 0;
    }
    memset(out, '0', 16 - (len - hi));
    memcpy(out + (16 - (len - hi)), hex + hi, len - hi);
    out[16] = '\0';
    return 0;
}
