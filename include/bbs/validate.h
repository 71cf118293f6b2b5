/*
 * validate.h - request validation (pure core): the umbrella over the
 * validator headers.
 *
 * One function per request type, each reproducing upstream's checks in
 * upstream's order (reference 2.1.3, 2.3-2.8, 5.1, 5.2). Problems are
 * collected, not first-fail, into a flat list (validate_problems.h) that
 * renders exactly as upstream's message. The parts a TaskDefinition
 * shares with a DesiredLRP are callable on their own:
 *
 *   validate_problems.h  the problem list
 *   validate_lex.h       rootfs URL and guid pattern
 *   validate_action.h    action trees, cached dependencies
 *   validate_egress.h    egress rules
 *   validate_volume.h    volume mounts
 *   validate_image.h     image layers, image credentials
 *   validate_lrp.h       DesiredLRP (desire), DesiredLRPUpdate (update)
 *   validate_request.h   ActualLRP, evacuation, domain and small DesiredLRP requests
 *
 * Every validator reads its input (borrowed, never modified), appends its
 * problems to `p` in upstream order and returns how many it appended
 * (0 = valid). `p` may already hold problems; they are kept.
 *
 * What this module does not do: decode protobuf, check that route values
 * are valid JSON (that runs after validation, see routejson.h), or
 * consult stored state (claim's negative index is a lookup miss, not a
 * validation problem; reference quirk 24).
 *
 * No I/O, clock, globals or logging. Scratch memory is taken from the
 * heap for de-duplicating map keys and for the action-tree walk, and
 * released before returning; out of memory aborts.
 *
 * "Present" for a submessage means its pointer is non-NULL, matching the
 * wire (an empty submessage sent by the client is present). String fields
 * may be NULL (read as "") so hand-built messages need not fill them.
 */
#ifndef BBS_VALIDATE_H
#define BBS_VALIDATE_H

#include "bbs/validate_action.h"
#include "bbs/validate_egress.h"
#include "bbs/validate_image.h"
#include "bbs/validate_lex.h"
#include "bbs/validate_lrp.h"
#include "bbs/validate_problems.h"
#include "bbs/validate_request.h"
#include "bbs/validate_volume.h"

#endif /* BBS_VALIDATE_H */
