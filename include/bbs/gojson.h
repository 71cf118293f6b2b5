/*
 * gojson.h - JSON text exactly as Go's encoding/json writes it, for the
 * bodies of outbound calls whose receivers are Go programs built against
 * upstream's structs (rep updates, task callbacks).
 *
 * Only what those bodies need: strings (HTML-safe escaping, invalid UTF-8
 * replaced) and the punctuation around them. Auction bodies keep jansson
 * (auction.h), whose output the reference states byte for byte.
 */
#ifndef BBS_GOJSON_H
#define BBS_GOJSON_H

#include "bbs/buf.h"

/*
 * Append `s` as a JSON string, quotes included, as Go's encoding/json
 * does: `"` and `\` escaped, \n \r \t \b \f short forms, other control
 * characters and `<` `>` `&` U+2028 U+2029 as \u00XX / \u20XX, each byte
 * of invalid UTF-8 as \ufffd. NULL is written as "".
 */
void bbs_gojson_string(struct bbs_buf *b, const char *s);

#endif /* BBS_GOJSON_H */
