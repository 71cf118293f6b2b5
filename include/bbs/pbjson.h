/*
 * pbjson.h - protobuf-c messages <-> JSON as upstream's Go models print
 * them (encoding/json over the gogo-generated structs, what cfdot shows).
 *
 * One generic codec driven by ProtobufCMessageDescriptors, no code per
 * message. The rules (docs/api.md, section 7 "JSON"):
 *   - keys are the proto field names, except where upstream's json tag
 *     renames a field (a table in pbjson.c: "rootfs", "env", "download"...);
 *   - a field is left out when it is at its zero value ("", 0, false, no
 *     elements, absent message), unless upstream's tag has no omitempty:
 *     then it is always written, an absent message, an empty list or map
 *     and empty bytes as null (Go's nil), as cfdot prints them;
 *   - embedded keys are flattened into the enclosing object where the Go
 *     model embeds them (ActualLRP: its key, instance key and net info;
 *     DesiredLRPSchedulingInfo, DesiredLRPRunInfo, Task's definition...);
 *   - enums by name (Go's String()), except models.UpdateStrategy, which
 *     upstream prints as a number; numbers are accepted on decode too;
 *   - int64 and uint64 as JSON numbers (uint64 above 2^63-1 as a real:
 *     jansson has no larger integers); bytes as standard base64;
 *   - maps as objects with their keys sorted (as Go writes them);
 *   - routes (a models.ProtoRoutes field) as an object whose values are
 *     the stored raw JSON values ({} when empty; Go prints null);
 *   - keys in upstream's declaration order (field-number order but for
 *     DesiredLRP.start_timeout_ms, written after action);
 *   - a oneof member under the Go wrapper key where the Go model has one
 *     ("OptionalRoutable": {"routable": true}, null when unset), and under
 *     its own key, only when set, where upstream's model marshals it so
 *     (ActualLRPsRequest.index, DesiredLRPUpdate, ResourceLimits).
 * Decoding is the inverse and lenient where Go is: unknown keys and null
 * values are ignored; a oneof member is accepted both wrapped and under
 * its own key; an empty text is the empty message.
 */
#ifndef BBS_PBJSON_H
#define BBS_PBJSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "bbs/buf.h"
#include "bbs/error.h"

/*
 * The JSON object for `m` (borrowed). Returns a new reference the caller
 * releases with json_decref(); never NULL (out of memory aborts).
 */
json_t *bbs_pbjson_encode(const ProtobufCMessage *m);

/*
 * Parse `len` bytes of `text` (need not be NUL-terminated) as JSON for a
 * message of type `d` and return it unpacked with `alloc` (NULL: malloc);
 * free it with protobuf_c_message_free_unpacked(m, alloc). On bad input
 * returns NULL with err->type InvalidRequest and a message that says where:
 * "line L, column C" for malformed JSON, the field path for a value of the
 * wrong type or range ("desired_lrp.instances: ...").
 */
BBS_MUST_CHECK ProtobufCMessage *bbs_pbjson_decode(const ProtobufCMessageDescriptor *d,
                                                   const char *text, size_t len,
                                                   ProtobufCAllocator *alloc,
                                                   struct bbs_error *err);

/*
 * As bbs_pbjson_decode, but append the protobuf encoding of the message
 * to `out` instead of unpacking it (the HTTP front end hands these bytes
 * to the route's protobuf path). Returns 0, or -1 with `err` (`out` may
 * then hold partial bytes).
 */
BBS_MUST_CHECK int bbs_pbjson_to_pb(const ProtobufCMessageDescriptor *d, const char *text,
                                    size_t len, struct bbs_buf *out, struct bbs_error *err);

/*
 * Unpack `len` bytes of protobuf as message `d` and append its JSON text
 * (compact, one line, no trailing newline) to `out`. Returns 0, or -1 with
 * err InvalidProtobufMessage when the bytes do not decode.
 */
BBS_MUST_CHECK int bbs_pbjson_from_pb(const ProtobufCMessageDescriptor *d, const uint8_t *data,
                                      size_t len, struct bbs_buf *out, struct bbs_error *err);

#endif /* BBS_PBJSON_H */
