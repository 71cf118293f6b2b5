/*
 * fuzz_internal_routes.c - the internal-router hostnames parser
 * (rep_push.h) on arbitrary bytes: the value of a route a client sends
 * is decoded here before the reps are told.
 *
 * Properties beyond "no crash, overflow or leak": on success every
 * hostname is a string, the list is NULL only with no hostnames, and
 * parsing again gives the same list.
 */
#include <stdlib.h>
#include <string.h>

#include "bbs/rep_push.h"
#include "fuzz.h"

static int parse(struct bbs_arena *arena, const uint8_t *data, size_t size, const char *const **out,
                 size_t *n)
{
    Models__ProtoRoutes routes = MODELS__PROTO_ROUTES__INIT;
    Models__ProtoRoutes__RoutesEntry e = MODELS__PROTO_ROUTES__ROUTES_ENTRY__INIT;
    Models__ProtoRoutes__RoutesEntry *ep[1] = {&e};

    e.key = (char *)BBS_INTERNAL_ROUTER;
    e.value.data = (uint8_t *)data;
    e.value.len = size;
    routes.n_routes = 1;
    routes.routes = ep;
    return bbs_rep_push_internal_routes(arena, &routes, out, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bbs_arena *arena = bbs_arena_new();
    const char *const *a = NULL;
    const char *const *b = NULL;
    size_t na = 0;
    size_t nb = 0;

    if (parse(arena, data, size, &a, &na) == 0) {
        if (a == NULL && na != 0) {
            abort();
        }
        for (size_t i = 0; i < na; i++) {
            if (a[i] == NULL) {
                abort();
            }
        }
        if (parse(arena, data, size, &b, &nb) != 0 || nb != na) {
            abort();
        }
        for (size_t i = 0; i < na; i++) {
            if (strcmp(a[i], b[i]) != 0) {
                abort();
            }
        }
    }
    bbs_arena_free(arena);
    return 0;
}
