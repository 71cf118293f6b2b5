/*
 * wire.h - reading answers without decoding them.
 *
 * Every BBS response message carries `Error error = 1`, absent on success
 * (docs/api.md 1.1), and list answers repeat their rows as field 2. A walk
 * over the top-level fields of the encoding tells both, and whether the
 * body is well-formed, for a fraction of the cost of unpacking 250 000 rows:
 * the load generator must not become the bottleneck it measures.
 *
 * Not done here: building requests (fleet.h), full decoding (the workloads
 * that need rows unpack them with the generated protobuf-c code).
 */
#ifndef BENCH_WIRE_H
#define BENCH_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "stats.h"

/*
 * Walk the top-level fields of `p[0..n)`. Returns 0 when the bytes are a
 * well-formed protobuf encoding, -1 otherwise. `*err_type` receives the
 * `error.type` when field 1 is present (0 when the type is absent, that is
 * UnknownError), else -1; `msg` its message (may be NULL). When
 * `count_field` is non-zero, `*count` receives how many times it occurs.
 */
int bench_wire_scan(const uint8_t *p, size_t n, unsigned count_field, size_t *count, int *err_type,
                    char *msg, size_t msglen);

/*
 * The value of varint field `field` at the top level of `p[0..n)` (the
 * last occurrence wins, as in protobuf). Returns 1 and sets `*out` when
 * the field is present, 0 when absent (proto3: the value is then 0), -1
 * when the bytes are not a well-formed encoding. A bool such as
 * StartTaskResponse.should_start (field 2) is read this way.
 */
int bench_wire_varint(const uint8_t *p, size_t n, unsigned field, uint64_t *out);

/*
 * Judge the answer of a finished request on `c`: 0 = success (200, no
 * error field); 1 = the BBS answered an error (tallied by type in `errs`);
 * -1 = wire error (transport, status or encoding; tallied). `what` names
 * the call in `errs->first`. `count`, when not NULL, receives the count of
 * `count_field` as in bench_wire_scan().
 */
int bench_wire_check(const struct bench_conn *c, const char *what, unsigned count_field,
                     size_t *count, struct bench_errs *errs);

#endif /* BENCH_WIRE_H */
