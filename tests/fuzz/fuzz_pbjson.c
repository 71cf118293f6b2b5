/*
 * fuzz_pbjson.c - the JSON decoder (pbjson.h) on arbitrary bytes: every
 * request a client sends with Content-Type: application/json goes
 * through it.
 *
 * Input: "<type byte><JSON text>"; the type byte picks the message type
 * (modulo the table below, request types first). Properties beyond "no
 * crash, overflow or hang": a decoded message encodes back to JSON, and
 * from the second round on JSON -> message -> JSON is a fixed point
 * (the first round may add the value-typed parts Go always writes).
 */
#include <stdlib.h>
#include <string.h>

#include "actual_lrp_requests.pb-c.h"
#include "bbs/pbjson.h"
#include "cells.pb-c.h"
#include "desired_lrp.pb-c.h"
#include "domains.pb-c.h"
#include "evacuation.pb-c.h"
#include "fuzz.h"
#include "task_requests.pb-c.h"

static const ProtobufCMessageDescriptor *const types[] = {
    &models__desire_lrprequest__descriptor,
    &models__update_desired_lrprequest__descriptor,
    &models__desire_task_request__descriptor,
    &models__actual_lrps_request__descriptor,
    &models__start_actual_lrprequest__descriptor,
    &models__evacuate_running_actual_lrprequest__descriptor,
    &models__upsert_domain_request__descriptor,
    &models__actual_lrp__descriptor,
    &models__desired_lrpscheduling_info__descriptor,
    &models__cell_presence__descriptor,
    &models__proto_routes__descriptor,
};

/* Decode `text` as `d`, then encode the result: its packed bytes and its JSON text. */
static int cycle(const ProtobufCMessageDescriptor *d, const char *text, size_t len,
                 struct bbs_buf *packed, char **json)
{
    struct bbs_error err;
    ProtobufCMessage *m = NULL;
    json_t *j = NULL;

    if (bbs_pbjson_to_pb(d, text, len, packed, &err) != 0) {
        return -1;
    }
    m = protobuf_c_message_unpack(d, NULL, packed->len,
                                  packed->data != NULL ? packed->data : (const uint8_t *)"");
    if (m == NULL) {
        return -1;
    }
    j = bbs_pbjson_encode(m);
    *json = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    protobuf_c_message_free_unpacked(m, NULL);
    if (*json == NULL) {
        abort(); /* every encoded message dumps */
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ProtobufCMessageDescriptor *d;
    struct bbs_buf p1 = {0}, p2 = {0}, p3 = {0};
    char *j1 = NULL, *j2 = NULL, *j3 = NULL;

    if (size == 0) {
        return 0;
    }
    d = types[data[0] % (sizeof(types) / sizeof(types[0]))];
    if (cycle(d, (const char *)data + 1, size - 1, &p1, &j1) != 0) {
        goto done;
    }
    if (cycle(d, j1, strlen(j1), &p2, &j2) != 0) {
        abort(); /* what the encoder writes, the decoder reads */
    }
    if (cycle(d, j2, strlen(j2), &p3, &j3) != 0) {
        abort();
    }
    if (strcmp(j2, j3) != 0) {
        abort(); /* a fixed point from the second round on */
    }
done:
    free(j1);
    free(j2);
    free(j3);
    bbs_buf_free(&p1);
    bbs_buf_free(&p2);
    bbs_buf_free(&p3);
    return 0;
}
