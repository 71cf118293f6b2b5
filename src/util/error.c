/*
 * error.c - canonical upstream error texts and wire names (reference 2.1).
 */
#include "bbs/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct error_row {
    enum bbs_error_type type;
    const char *name;
    const char *canonical;
};

static const struct error_row error_rows[] = {
    {BBS_ERR_UNKNOWN, "UnknownError", "the request failed for an unknown reason"},
    {BBS_ERR_INVALID_RECORD, "InvalidRecord", ""},
    {BBS_ERR_INVALID_REQUEST, "InvalidRequest", "the request received is invalid"},
    {BBS_ERR_INVALID_RESPONSE, "InvalidResponse", ""},
    {BBS_ERR_INVALID_PROTOBUF_MESSAGE, "InvalidProtobufMessage", ""},
    {BBS_ERR_INVALID_JSON, "InvalidJSON", ""},
    {BBS_ERR_FAILED_TO_OPEN_ENVELOPE, "FailedToOpenEnvelope", ""},
    {BBS_ERR_INVALID_STATE_TRANSITION, "InvalidStateTransition", ""},
    {BBS_ERR_RESOURCE_CONFLICT, "ResourceConflict",
     "the requested resource is in a conflicting state"},
    {BBS_ERR_RESOURCE_EXISTS, "ResourceExists", "the requested resource already exists"},
    {BBS_ERR_RESOURCE_NOT_FOUND, "ResourceNotFound", "the requested resource could not be found"},
    {BBS_ERR_ROUTER_ERROR, "RouterError", ""},
    {BBS_ERR_ACTUAL_LRP_CANNOT_BE_CLAIMED, "ActualLRPCannotBeClaimed", "cannot claim actual LRP"},
    {BBS_ERR_ACTUAL_LRP_CANNOT_BE_STARTED, "ActualLRPCannotBeStarted", "cannot start actual LRP"},
    {BBS_ERR_ACTUAL_LRP_CANNOT_BE_CRASHED, "ActualLRPCannotBeCrashed", "cannot crash actual LRP"},
    {BBS_ERR_ACTUAL_LRP_CANNOT_BE_FAILED, "ActualLRPCannotBeFailed", "cannot fail actual LRP"},
    {BBS_ERR_ACTUAL_LRP_CANNOT_BE_REMOVED, "ActualLRPCannotBeRemoved", "cannot remove actual LRP"},
    {BBS_ERR_ACTUAL_LRP_CANNOT_BE_UNCLAIMED, "ActualLRPCannotBeUnclaimed",
     "cannot unclaim actual LRP"},
    {BBS_ERR_RUNNING_ON_DIFFERENT_CELL, "RunningOnDifferentCell", ""},
    {BBS_ERR_GUID_GENERATION, "GUIDGeneration", "cannot generate random guid"},
    {BBS_ERR_DESERIALIZE, "Deserialize", "could not deserialize record"},
    {BBS_ERR_DEADLOCK, "Deadlock", "the request failed due to deadlock"},
    {BBS_ERR_UNRECOVERABLE, "Unrecoverable", "Unrecoverable Error: "},
    {BBS_ERR_LOCK_COLLISION, "LockCollision", ""},
    {BBS_ERR_TIMEOUT, "Timeout", ""},
};

static const struct error_row *error_row(enum bbs_error_type type)
{
    for (size_t i = 0; i < sizeof(error_rows) / sizeof(error_rows[0]); i++) {
        if (error_rows[i].type == type) {
            return &error_rows[i];
        }
    }
    return &error_rows[0];
}

const char *bbs_error_canonical(enum bbs_error_type type)
{
    return error_row(type)->canonical;
}

const char *bbs_error_name(enum bbs_error_type type)
{
    return error_row(type)->name;
}

void bbs_error_set(struct bbs_error *err, enum bbs_error_type type)
{
    err->type = type;
    snprintf(err->message, sizeof(err->message), "%s", bbs_error_canonical(type));
}

void bbs_error_setf(struct bbs_error *err, enum bbs_error_type type, const char *fmt, ...)
{
    va_list ap;

    err->type = type;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}
