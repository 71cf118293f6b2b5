/*
 * pb.h - protobuf helpers: pack/unpack, POST a message and decode the
 * answer, the Error in field 1 of any response, and a descriptor-driven
 * deep comparison of two messages.
 */
#ifndef BBS_IT_SUPPORT_PB_H
#define BBS_IT_SUPPORT_PB_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "support/http.h"

/* protobuf-c string fields are `char *`; literals are const under -Wwrite-strings. */
#define IT_S(lit) ((char *)(lit))

/* "No error field in the response" (0 is UnknownError, so it cannot mean success). */
#define IT_OK (-1)

/* Canonical messages (reference 2.1.2). */
#define IT_MSG_INVALID   "the request received is invalid"
#define IT_MSG_NOT_FOUND "the requested resource could not be found"
#define IT_MSG_EXISTS    "the requested resource already exists"
#define IT_MSG_NO_CLAIM  "cannot claim actual LRP"
#define IT_MSG_NO_START  "cannot start actual LRP"
#define IT_MSG_NO_CRASH  "cannot crash actual LRP"
#define IT_MSG_NO_FAIL   "cannot fail actual LRP"

/* Pack `msg` (malloc'd buffer, caller frees); `*len` receives the size. */
uint8_t *it_pack(const ProtobufCMessage *msg, size_t *len);

/*
 * Unpack a response body as `desc`; NULL if it is not a valid encoding.
 * Free with protobuf_c_message_free_unpacked(msg, NULL).
 */
ProtobufCMessage *it_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *body,
                            size_t len);

/*
 * POST `req` (NULL = empty body) to `path` and unpack the answer as `desc`.
 * Asserts: HTTP 200, Content-Type application/x-protobuf, Content-Length
 * equal to the body length, a valid encoding. Caller frees the result with
 * it_free().
 */
void *it_call(const char *path, const ProtobufCMessage *req,
              const ProtobufCMessageDescriptor *desc);

/* Same with an explicit client; never asserts; NULL on failure with `errbuf` set. */
void *it_client_call(struct it_client *c, const char *path, const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *desc, char *errbuf, size_t errlen);

/* Free what it_call returned (accepts NULL). */
void it_free(void *msg);

/*
 * The Error in field 1 of any response message: its type, or IT_OK when the
 * field is absent. it_err_msg returns "" when absent.
 */
int it_err_type(const void *resp);
const char *it_err_msg(const void *resp);

/* POST `req` and return the response's error type (IT_OK = success); asserts transport. */
int it_call_err(const char *path, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *desc);

/* Assert a response carries InvalidRequest with exactly `message`. */
void it_assert_invalid(const void *resp, const char *message);

/* Same, calling the route; `desc` is the response type. */
void it_expect_invalid(const char *path, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *desc, const char *message);

/*
 * Deep comparison of two messages of the same type, field by field, driven
 * by the descriptor: scalars, strings, bytes, enums, nested messages (NULL
 * and present differ), repeated fields in order, maps as unordered sets.
 * Top-level fields named in `skip` (NULL-terminated, may be NULL) are
 * ignored. Returns 0 when equal; otherwise 1 and a description of the first
 * difference (a field path) in `diff`.
 */
int it_pb_diff(const ProtobufCMessage *a, const ProtobufCMessage *b, const char *const *skip,
               char *diff, size_t difflen);

/* Find a string map entry value in a generated map array (entries with char *key). */
const char *it_map_str(void *const *entries, size_t n, const char *key);

#endif /* BBS_IT_SUPPORT_PB_H */
