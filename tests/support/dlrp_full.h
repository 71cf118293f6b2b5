/*
 * dlrp_full.h - the DesiredLRP with every field set (seed 001), built in
 * one place for the unit tests, the integration tests and the fuzz corpus
 * generator. Needs only protobuf-c and the generated models: no cmocka,
 * no server, no src/ code.
 */
#ifndef BBS_IT_SUPPORT_DLRP_FULL_H
#define BBS_IT_SUPPORT_DLRP_FULL_H

#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "desired_lrp.pb-c.h"

/*
 * Every one of the 39 fields of reference 2.6.1 set to a non-default value,
 * after seed 001's example: nested timeout / emit_progress / try / parallel /
 * serial / codependent actions, SHARED and EXCLUSIVE image layers, every
 * egress protocol shape, shared volume mounts, tcp + http checks and
 * readiness checks, static + dynamic metric tags. Routes are sent already
 * compact and map keys (routes, metric tags, network properties) are in
 * sorted order, so a store-and-read round trip gives the same bytes.
 * metrics_guid equals the source_id tag. Deterministic: building it twice
 * gives equal messages.
 *
 * Every message, array and the copies of `guid` and `domain` come from
 * `alloc` (e.g. an arena's allocator, which then frees them all); other
 * strings point to static literals, so never free the result with
 * protobuf_c_message_free_unpacked(). Aborts if `alloc` returns NULL.
 */
Models__DesiredLRP *it_dlrp_full(ProtobufCAllocator *alloc, const char *guid, const char *domain,
                                 int32_t instances);

#endif /* BBS_IT_SUPPORT_DLRP_FULL_H */
