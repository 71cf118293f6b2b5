/*
 * fuzz_routejson.c - the route JSON canonicaliser (routejson.h) on
 * arbitrary bytes: every DesiredLRP route value a client sends goes
 * through it before it is stored.
 *
 * Properties beyond "no crash, overflow or hang": the output fits the
 * documented bound (6 * len + 1), is NUL-terminated, and compacting it
 * again gives the same bytes (canonical form is a fixed point).
 */
#include <stdlib.h>
#include <string.h>

#include "bbs/routejson.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cap = 6 * size + 1;
    uint8_t *out = malloc(cap);
    uint8_t *again = NULL;
    size_t out_len = 0;
    size_t again_len = 0;

    if (out == NULL) {
        abort();
    }
    if (bbs_json_compact(data, size, out, &out_len) != 0) {
        goto done;
    }
    if (out_len >= cap || out[out_len] != '\0') {
        abort();
    }
    again = malloc(6 * out_len + 1);
    if (again == NULL) {
        abort();
    }
    if (bbs_json_compact(out, out_len, again, &again_len) != 0) {
        abort(); /* the canonical form of valid JSON is valid JSON */
    }
    if (again_len != out_len || memcmp(again, out, out_len) != 0) {
        abort(); /* and compacting it again changes nothing */
    }
done:
    free(again);
    free(out);
    return 0;
}
