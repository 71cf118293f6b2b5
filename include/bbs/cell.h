/*
 * cell.h - cell presences (reference 2.9, 12.5), pure core: the value a
 * rep keeps in Locket (CellPresence JSON) parsed into models.CellPresence.
 * No I/O: the Locket client (locket.h) fetches the values.
 */
#ifndef BBS_CELL_H
#define BBS_CELL_H

#include <stddef.h>

#include "bbs/arena.h"
#include "bbs/error.h"

/* One cell presence, strings living in the caller's arena. */
struct bbs_cell {
    const char *cell_id;
    const char *rep_address;
    const char *rep_url; /* "" for an old rep without one */
    const char *zone;
    /* The decoded models.CellPresence (Models__CellPresence *), for /v1/cells/list.r1. */
    void *presence;
};

/*
 * Parse `len` bytes of a presence value (CellPresence JSON, reference
 * 12.5) as Go's encoding/json fills models.CellPresence: keys matched
 * exactly or else ASCII case-insensitively, unknown keys ignored, null
 * leaves a field empty (a JSON null as the whole value is an empty
 * presence, as in Go), a value of the wrong type or a number that is not
 * an int32 fails the whole entry. 0 with `*out` (strings and the
 * Models__CellPresence in `arena`); -1 with err (InvalidJSON) otherwise.
 */
BBS_MUST_CHECK int bbs_cell_presence_parse(struct bbs_arena *arena, const char *json, size_t len,
                                           struct bbs_cell *out, struct bbs_error *err);

#endif /* BBS_CELL_H */
