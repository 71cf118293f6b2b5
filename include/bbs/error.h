/*
 * error.h - the error value every fallible function fills.
 *
 * `type` uses the wire Error.Type numbers, so the HTTP layer copies it
 * straight into the response message. The message is a fixed buffer: no
 * allocation on error paths.
 */
#ifndef BBS_ERROR_H
#define BBS_ERROR_H

#include <stddef.h>

#define BBS_MUST_CHECK __attribute__((warn_unused_result))

enum bbs_error_type {
    BBS_ERR_UNKNOWN = 0,
    BBS_ERR_INVALID_RECORD = 3,
    BBS_ERR_INVALID_REQUEST = 4,
    BBS_ERR_INVALID_RESPONSE = 5,
    BBS_ERR_INVALID_PROTOBUF_MESSAGE = 6,
    BBS_ERR_INVALID_JSON = 7,
    BBS_ERR_FAILED_TO_OPEN_ENVELOPE = 8,
    BBS_ERR_INVALID_STATE_TRANSITION = 9,
    BBS_ERR_RESOURCE_CONFLICT = 11,
    BBS_ERR_RESOURCE_EXISTS = 12,
    BBS_ERR_RESOURCE_NOT_FOUND = 13,
    BBS_ERR_ROUTER_ERROR = 14,
    BBS_ERR_ACTUAL_LRP_CANNOT_BE_CLAIMED = 15,
    BBS_ERR_ACTUAL_LRP_CANNOT_BE_STARTED = 16,
    BBS_ERR_ACTUAL_LRP_CANNOT_BE_CRASHED = 17,
    BBS_ERR_ACTUAL_LRP_CANNOT_BE_FAILED = 18,
    BBS_ERR_ACTUAL_LRP_CANNOT_BE_REMOVED = 19,
    BBS_ERR_ACTUAL_LRP_CANNOT_BE_UNCLAIMED = 21,
    BBS_ERR_RUNNING_ON_DIFFERENT_CELL = 24,
    BBS_ERR_GUID_GENERATION = 26,
    BBS_ERR_DESERIALIZE = 27,
    BBS_ERR_DEADLOCK = 28,
    BBS_ERR_UNRECOVERABLE = 29,
    BBS_ERR_LOCK_COLLISION = 30,
    BBS_ERR_TIMEOUT = 31,
};

#define BBS_ERROR_MESSAGE_MAX 4096

struct bbs_error {
    enum bbs_error_type type;
    char message[BBS_ERROR_MESSAGE_MAX];
};

/* Set `err` to `type` with its canonical upstream message (reference 2.1.2). */
void bbs_error_set(struct bbs_error *err, enum bbs_error_type type);

/* Set `err` to `type` with a printf-style message (truncated to fit). */
void bbs_error_setf(struct bbs_error *err, enum bbs_error_type type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The canonical upstream message for `type` ("" when it has none). */
const char *bbs_error_canonical(enum bbs_error_type type);

/* The wire name of `type` ("ResourceNotFound", ...), for logs. */
const char *bbs_error_name(enum bbs_error_type type);

#endif /* BBS_ERROR_H */
