/*
 * routejson.h - the canonical stored form of a DesiredLRP route value.
 *
 * Upstream keeps each route value as opaque JSON but re-encodes the whole
 * routes map with Go's encoding/json before storing it, which validates
 * each value and rewrites it compacted and HTML-escaped (reference
 * 2.6.3, quirk 16). This module reproduces that rewrite for one value so
 * the store can reject what upstream rejects and return what upstream
 * returns.
 *
 * Pure: no I/O, allocation or globals; the nesting stack is a fixed
 * bitmap, so any input is handled in bounded stack space.
 */
#ifndef BBS_ROUTEJSON_H
#define BBS_ROUTEJSON_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/error.h"

/* Deepest nesting of arrays/objects accepted, as Go's scanner. */
#define BBS_JSON_MAX_DEPTH 10000

/*
 * Validate `in` (`len` bytes, borrowed) as one JSON value, as Go's
 * encoding/json scanner does (RFC 8259: leading/trailing whitespace
 * allowed, empty input invalid, bytes >= 0x20 inside strings accepted
 * as-is, invalid UTF-8 passed through, more than BBS_JSON_MAX_DEPTH
 * nested containers invalid), and write its compacted form to `out`:
 * insignificant whitespace removed, '<' '>' '&' written as \u003c \u003e
 * \u0026, U+2028 and U+2029 (E2 80 A8 / E2 80 A9) as \u2028 and \u2029.
 * Nothing else is rewritten: key order, duplicate keys, number spelling
 * and existing escapes are kept.
 *
 * `out` must hold at least 6 * len + 1 bytes; on success it is also
 * NUL-terminated (the NUL is not counted). Returns 0 and sets *out_len,
 * or -1 if `in` is not valid JSON (then `out` holds unspecified bytes and
 * *out_len is untouched).
 */
BBS_MUST_CHECK int bbs_json_compact(const uint8_t *in, size_t len, uint8_t *out, size_t *out_len);

#endif /* BBS_ROUTEJSON_H */
