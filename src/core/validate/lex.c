/*
 * lex.c - the text checks several validators share (see validate_lex.h):
 * rootfs URLs as Go's url.Parse judges them, and the guid pattern.
 */
#include <string.h>

#include "bbs/validate_lex.h"
#include "validate_int.h"

static int is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned hex_val(unsigned char c)
{
    if (is_digit(c)) {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10u;
    }
    return c - 'A' + 10u;
}

/*
 * ---- rootfs URL (5.1 #4) ----
 *
 * Upstream accepts root_fs when Go's url.Parse succeeds and yields a
 * non-empty scheme. With a scheme present, Parse can still fail on: a
 * control byte (< 0x20 or 0x7f) before the '#'; a malformed %-escape in
 * the path or fragment; and, after "//", a malformed authority (bad
 * userinfo bytes, a port that is not digits, a byte a host may not hold,
 * a %-escape of an ASCII byte in the host). The query and an opaque
 * remainder ("preloaded:x") are never checked.
 */
enum url_mode { URL_PATH, URL_FRAGMENT, URL_USERINFO, URL_HOST, URL_ZONE };

/* Go's shouldEscape for host and zone: which ASCII bytes a host may not hold. */
static int host_byte_bad(unsigned char c)
{
    if (is_alpha(c) || is_digit(c)) {
        return 0;
    }
    return strchr("!$&'()*+,;=:[]<>\"-_.~", c) == NULL || c == '\0';
}

/* Go's unescape() error cases for `mode`: 1 = acceptable. */
static int url_unescape_ok(const char *s, size_t n, enum url_mode mode)
{
    int hostish = mode == URL_HOST || mode == URL_ZONE;

    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];

        if (c == '%') {
            if (i + 2 >= n || !is_hex((unsigned char)s[i + 1]) ||
                !is_hex((unsigned char)s[i + 2])) {
                return 0;
            }
            int pct25 = s[i + 1] == '2' && s[i + 2] == '5';
            unsigned v = hex_val((unsigned char)s[i + 1]) << 4 | hex_val((unsigned char)s[i + 2]);
            /* A host may %-escape only non-ASCII bytes (and %25 before a zone). */
            if (mode == URL_HOST && hex_val((unsigned char)s[i + 1]) < 8 && !pct25) {
                return 0;
            }
            /* A zone may %-escape a space, or a byte it could hold as is. */
            if (mode == URL_ZONE && !pct25 && v != ' ' &&
                (v >= 0x80 || host_byte_bad((unsigned char)v))) {
                return 0;
            }
            i += 3;
            continue;
        }
        if (hostish && c < 0x80 && host_byte_bad(c)) {
            return 0;
        }
        i++;
    }
    return 1;
}

/* "" or ":" followed by digits only. */
static int url_port_ok(const char *s, size_t n)
{
    if (n == 0) {
        return 1;
    }
    if (s[0] != ':') {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if (!is_digit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

static const char *mem_rchr(const char *s, size_t n, char c)
{
    for (size_t i = n; i > 0; i--) {
        if (s[i - 1] == c) {
            return s + i - 1;
        }
    }
    return NULL;
}

static const char *mem_find(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);

    for (size_t i = 0; i + k <= n; i++) {
        if (memcmp(s + i, needle, k) == 0) {
            return s + i;
        }
    }
    return NULL;
}

static int url_host_ok(const char *h, size_t n)
{
    if (n > 0 && h[0] == '[') {
        const char *rb = mem_rchr(h, n, ']');
        size_t i;
        const char *zone;

        if (rb == NULL) {
            return 0;
        }
        i = (size_t)(rb - h);
        if (!url_port_ok(rb + 1, n - i - 1)) {
            return 0;
        }
        zone = mem_find(h, i, "%25");
        if (zone != NULL) {
            size_t z = (size_t)(zone - h);
            return url_unescape_ok(h, z, URL_HOST) && url_unescape_ok(h + z, i - z, URL_ZONE) &&
                   url_unescape_ok(h + i, n - i, URL_HOST);
        }
    } else {
        const char *colon = mem_rchr(h, n, ':');
        if (colon != NULL && !url_port_ok(colon, n - (size_t)(colon - h))) {
            return 0;
        }
    }
    return url_unescape_ok(h, n, URL_HOST);
}

/* Go's validUserinfo: ASCII only, from a fixed set. */
static int url_userinfo_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_alpha(c) || is_digit(c)) {
            continue;
        }
        if (c == '\0' || strchr("-._:~!$&'()*+,;=%@", c) == NULL) {
            return 0;
        }
    }
    return url_unescape_ok(s, n, URL_USERINFO);
}

static int url_authority_ok(const char *a, size_t n)
{
    const char *at = mem_rchr(a, n, '@');

    if (at == NULL) {
        return url_host_ok(a, n);
    }
    return url_host_ok(at + 1, n - (size_t)(at - a) - 1) && url_userinfo_ok(a, (size_t)(at - a));
}

int bbs_validate_rootfs_url_ok(const char *s)
{
    size_t len = slen(s);
    const char *hash = s == NULL ? NULL : memchr(s, '#', len);
    size_t ulen = hash == NULL ? len : (size_t)(hash - s);
    size_t i;
    const char *rest;
    size_t rlen;
    const char *q;

    for (i = 0; i < ulen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return 0;
        }
    }
    /* Scheme: a letter, then letters, digits, '+', '-', '.', up to ':'. */
    for (i = 0; i < ulen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_alpha(c)) {
            continue;
        }
        if (i > 0 && (is_digit(c) || c == '+' || c == '-' || c == '.')) {
            continue;
        }
        break;
    }
    if (i == 0 || i == ulen || s[i] != ':') {
        return 0;
    }
    rest = s + i + 1;
    rlen = ulen - i - 1;
    q = memchr(rest, '?', rlen);
    if (q != NULL) {
        rlen = (size_t)(q - rest);
    }
    if (rlen > 0 && rest[0] == '/') {
        if (rlen > 1 && rest[1] == '/') {
            const char *auth = rest + 2;
            const char *slash = memchr(auth, '/', rlen - 2);
            size_t alen = slash == NULL ? rlen - 2 : (size_t)(slash - auth);

            if (!url_authority_ok(auth, alen)) {
                return 0;
            }
            rlen -= 2 + alen;
            rest = auth + alen;
        }
        if (!url_unescape_ok(rest, rlen, URL_PATH)) {
            return 0;
        }
    }
    if (hash != NULL && !url_unescape_ok(hash + 1, len - ulen - 1, URL_FRAGMENT)) {
        return 0;
    }
    return 1;
}

/* ^[a-zA-Z0-9_-]+$ */
int bbs_validate_guid_ok(const char *s)
{
    if (empty(s)) {
        return 0;
    }
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (!is_alpha(c) && !is_digit(c) && c != '_' && c != '-') {
            return 0;
        }
    }
    return 1;
}
