/*
 * alrp_store.c - ActualLRP reads and lifecycle transactions.
 *
 * A lifecycle call is one transaction: lock every row of (guid, index)
 * with one SELECT ... FOR UPDATE (the ordinary row is the one decided on;
 * the suspect and evacuating rows feed the special cases), let the core
 * decide, write the decision. Concurrent calls on one instance queue on
 * the row locks, so two cells claiming one instance get one winner.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/codec.h"
#include "bbs/dlrp_codec.h"
#include "bbs/xalloc.h"
#include "store_int.h"

static const struct bbs_stmt alrp_stmts[] = {
    {"alrp_lock_set", "SELECT " BBS_ALRP_COLUMNS " FROM actual_lrps"
                      " WHERE process_guid = $1::text AND instance_index = $2::int4"
                      " FOR UPDATE"},
    {"alrp_read_set", "SELECT " BBS_ALRP_COLUMNS " FROM actual_lrps"
                      " WHERE process_guid = $1::text AND instance_index = $2::int4"},
    /* Every row of each (guid, index) of two arrays (heartbeats read together; a key
     * given twice gives its rows twice). */
    {"alrp_read_sets", "SELECT " BBS_ALRP_COLUMNS " FROM unnest($1::text[], $2::int4[]) AS k(g, x)"
                       " JOIN actual_lrps ON process_guid = k.g AND instance_index = k.x"},
    {"alrp_update",
     "UPDATE actual_lrps SET domain = $4::text, state = $5::text, instance_guid = $6::text,"
     " cell_id = $7::text, since = $8::int8, crash_count = $9::int4, crash_reason = $10::text,"
     " placement_error = $11::text, net_info = $12::bytea, internal_routes = $13::bytea,"
     " metric_tags = $14::bytea, routable = $15::bool, availability_zone = $16::text,"
     " modification_tag_index = $17::int4"
     " WHERE process_guid = $1::text AND instance_index = $2::int4 AND presence = $3::int4"},
    {"alrp_insert",
     "INSERT INTO actual_lrps (process_guid, instance_index, presence, domain, state,"
     " instance_guid, cell_id, since, crash_count, crash_reason, placement_error, net_info,"
     " internal_routes, metric_tags, routable, availability_zone, modification_tag_index,"
     " modification_tag_epoch)"
     " VALUES ($1::text, $2::int4, $3::int4, $4::text, $5::text, $6::text, $7::text, $8::int8,"
     " $9::int4, $10::text, $11::text, $12::bytea, $13::bytea, $14::bytea, $15::bool,"
     " $16::text, $17::int4, $18::text)"},
    {"alrp_delete", "DELETE FROM actual_lrps WHERE process_guid = $1::text"
                    " AND instance_index = $2::int4 AND presence = $3::int4"},
    {"alrp_insert_unclaimed",
     "INSERT INTO actual_lrps (process_guid, instance_index, presence, domain, state, since,"
     " net_info, internal_routes, metric_tags, routable, modification_tag_epoch,"
     " modification_tag_index)"
     " SELECT $1::text, g, 0, $2::text, 'UNCLAIMED', $5::int8, ''::bytea, ''::bytea,"
     " ''::bytea, false, gen_random_uuid()::text, 0"
     " FROM generate_series($3::int4, $4::int4 - 1) AS g"
     " ON CONFLICT DO NOTHING RETURNING " BBS_ALRP_COLUMNS},
    {"alrp_delete_match", "DELETE FROM actual_lrps WHERE process_guid = $1::text"
                          " AND instance_index = $2::int4 AND presence = $3::int4"
                          " AND instance_guid = $4::text AND cell_id = $5::text"},
    {"alrp_stop_from", "DELETE FROM actual_lrps WHERE process_guid = $1::text"
                       " AND instance_index >= $2::int4 AND presence = 0"
                       " AND state IN ('UNCLAIMED', 'CRASHED') RETURNING " BBS_ALRP_COLUMNS},
    /* The instances a rep runs: ordinary or suspect (not evacuating), claimed or running. */
    {"alrp_running_from", "SELECT " BBS_ALRP_COLUMNS " FROM actual_lrps"
                          " WHERE process_guid = $1::text AND instance_index >= $2::int4"
                          " AND presence IN (0, 2) AND state IN ('CLAIMED', 'RUNNING')"
                          " ORDER BY instance_index, presence"},
};
BBS_STORE_STATEMENTS(alrp, alrp_stmts);

void bbs_alrp_unlock(struct bbs_alrp_lock *ls)
{
    PQclear(ls->res);
    memset(ls, 0, sizeof(*ls));
}

int bbs_alrp_lock(PGconn *conn, const char *guid, int32_t index, struct bbs_alrp_lock *ls,
                  struct bbs_error *err)
{
    return bbs_alrp_read(conn, "alrp_lock_set", guid, index, ls, err);
}

int bbs_alrp_read(PGconn *conn, const char *stmt, const char *guid, int32_t index,
                  struct bbs_alrp_lock *ls, struct bbs_error *err)
{
    struct bbs_params p = {0};
    int n;

    bbs_alrp_unlock(ls);
    bbs_params_text(&p, guid);
    bbs_params_int4(&p, index);
    ls->res = bbs_exec(conn, stmt, &p, err);
    if (ls->res == NULL) {
        return -1;
    }
    n = PQntuples(ls->res);
    for (int i = 0; i < n && i < 3; i++) {
        struct bbs_alrp *a = &ls->rows[i];
        int got = bbs_alrp_from_result(ls->res, i, a);

        if (got == BBS_ALRP_ROW_UNDECRYPTABLE) {
            /* Not absent (a write would replace what we cannot read): refused. */
            bbs_error_setf(err, BBS_ERR_DESERIALIZE,
                           "actual LRP %s index %d: a stored value cannot be decrypted", guid,
                           (int)index);
            return -1;
        }
        if (got != 0) {
            continue; /* an unreadable row is treated as absent */
        }
        switch (a->presence) {
        case BBS_PRESENCE_ORDINARY:
            ls->set.ordinary = a;
            break;
        case BBS_PRESENCE_EVACUATING:
            ls->set.evacuating = a;
            break;
        case BBS_PRESENCE_SUSPECT:
            ls->set.suspect = a;
            break;
        }
    }
    return 0;
}

static int params_row(struct bbs_params *p, PGconn *conn, const struct bbs_alrp *a,
                      struct bbs_error *err)
{
    struct bbs_blob net_info = a->net_info;

    bbs_params_text(p, a->key.process_guid);
    bbs_params_int4(p, a->key.index);
    bbs_params_int4(p, (int32_t)a->presence);
    bbs_params_text(p, a->key.domain);
    bbs_params_text(p, bbs_alrp_state_name(a->state));
    bbs_params_text(p, a->instance.instance_guid);
    bbs_params_text(p, a->instance.cell_id);
    bbs_params_int8(p, a->since_ns);
    bbs_params_int4(p, a->crash_count);
    bbs_params_text(p, a->crash_reason);
    bbs_params_text(p, a->placement_error);
    net_info.present = 1;
    if (bbs_params_sealed(p, conn, &net_info, err) != 0 ||
        bbs_params_sealed(p, conn, &a->internal_routes, err) != 0 ||
        bbs_params_sealed(p, conn, &a->metric_tags, err) != 0) {
        return -1;
    }
    bbs_params_bool(p, a->routable);
    bbs_params_text(p, a->availability_zone);
    bbs_params_int4(p, (int32_t)a->mod_index);
    return 0;
}

int bbs_alrp_write_update(PGconn *conn, const struct bbs_alrp *a, struct bbs_error *err)
{
    struct bbs_params p = {0};
    int rc = -1;

    if (params_row(&p, conn, a, err) == 0) {
        rc = bbs_exec_command(conn, "alrp_update", &p, NULL, err);
    }
    bbs_params_release(&p);
    return rc;
}

int bbs_alrp_write_insert(PGconn *conn, struct bbs_alrp *a, char *epoch, struct bbs_error *err)
{
    struct bbs_params p = {0};
    int rc = -1;

    bbs_new_epoch(epoch);
    a->mod_epoch = epoch;
    if (params_row(&p, conn, a, err) == 0) {
        bbs_params_text(&p, epoch);
        rc = bbs_exec_command(conn, "alrp_insert", &p, NULL, err);
    }
    bbs_params_release(&p);
    return rc;
}

int bbs_alrp_write_delete(PGconn *conn, const struct bbs_alrp *a, int *affected,
                          struct bbs_error *err)
{
    struct bbs_params p = {0};

    bbs_params_text(&p, a->key.process_guid);
    bbs_params_int4(&p, a->key.index);
    bbs_params_int4(&p, (int32_t)a->presence);
    return bbs_exec_command(conn, "alrp_delete", &p, affected, err);
}

/* ---- claim ---- */

struct claim_ctx {
    const char *guid;
    int32_t index;
    const struct bbs_instance_key *claimer;
    int64_t now_ns;
    struct bbs_change *change;
    struct bbs_change_mark mark;
};

static int claim_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct claim_ctx *c = arg;
    struct bbs_alrp_lock ls = {0};
    struct bbs_alrp next;
    enum bbs_alrp_write w;
    int rc = -1;

    bbs_change_rewind(c->change, &c->mark);
    if (bbs_alrp_lock(conn, c->guid, c->index, &ls, err) != 0) {
        goto out;
    }
    bbs_change_siblings(c->change, &ls.set);
    if (bbs_alrp_claim(&ls.set, c->claimer, c->now_ns, &next, &w, err) != 0) {
        goto out;
    }
    if (w == BBS_ALRP_WRITE_UPDATE) {
        if (bbs_alrp_write_update(conn, &next, err) != 0) {
            goto out;
        }
        bbs_change_alrp(c->change, ls.set.ordinary, &next);
    }
    rc = 0;
out:
    bbs_alrp_unlock(&ls);
    return rc;
}

/* FNV-1a over a claim's identity (never 0: 0 marks an empty slot of struct bbs_peek_queue). */
static uint64_t claim_hash(const char *guid, int32_t index, const struct bbs_instance_key *inst)
{
    const char *parts[3] = {guid, inst->instance_guid, inst->cell_id};
    uint64_t h = 14695981039346656037ULL;

    for (int p = 0; p < 3; p++) {
        for (const unsigned char *c = (const unsigned char *)(parts[p] != NULL ? parts[p] : "");
             *c != '\0'; c++) {
            h = (h ^ *c) * 1099511628211ULL;
        }
        h = (h ^ 0x100) * 1099511628211ULL; /* the end of a part: "ab"+"c" is not "a"+"bc" */
    }
    h = (h ^ (uint32_t)index) * 1099511628211ULL;
    return h != 0 ? h : 1;
}

int bbs_store_alrp_claim(struct bbs_store *st, const char *guid, int32_t index,
                         const struct bbs_instance_key *claimer, int64_t now_ns,
                         struct bbs_change *change, struct bbs_error *err)
{
    struct claim_ctx c = {guid, index, claimer, now_ns, change, bbs_change_mark(change)};
    int rc = bbs_store_tx_change(st, claim_tx, &c, change, &c.mark, err);

    if (rc == 0) {
        struct bbs_peek_queue *q = bbs_store_peeks(st);
        uint64_t h = claim_hash(guid, index, claimer);

        pthread_mutex_lock(&q->mu);
        q->claimed[h % BBS_PEEK_CLAIMED] = h;
        pthread_mutex_unlock(&q->mu);
    }
    return rc;
}

/* The hash claimed_take looks for: a start's key and instance key, as its claim's. */
static uint64_t start_claim_hash(const struct bbs_start_input *in)
{
    return claim_hash(in->key.process_guid, in->key.index, &in->instance);
}

/*
 * 1 when the start hashed `h` (start_claim_hash, computed before taking
 * the lock: every heartbeat passes here) is the first start of an instance
 * this store claimed: it changes its row, so the unlocked read that looks
 * for a heartbeat is not made (its mark is taken). Under the queue's mu.
 */
static int claimed_take(struct bbs_peek_queue *q, uint64_t h)
{
    if (q->claimed[h % BBS_PEEK_CLAIMED] != h) {
        return 0;
    }
    q->claimed[h % BBS_PEEK_CLAIMED] = 0;
    q->known++;
    return 1;
}

/* ---- start ---- */

struct start_ctx {
    const struct bbs_start_input *in;
    int64_t now_ns;
    struct bbs_change *change;
    struct bbs_change_mark mark;
    /* The evacuating and suspect copies seen, to delete after the commit
     * (deep copies in the change's arena). */
    const struct bbs_alrp *copies[2];
};

static int start_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct start_ctx *c = arg;
    struct bbs_alrp_lock ls = {0};
    struct bbs_alrp next;
    char epoch[37];
    enum bbs_alrp_write w;
    int rc = -1;

    bbs_change_rewind(c->change, &c->mark);
    c->copies[0] = NULL;
    c->copies[1] = NULL;
    if (bbs_alrp_lock(conn, c->in->key.process_guid, c->in->key.index, &ls, err) != 0) {
        goto out;
    }
    bbs_change_siblings(c->change, &ls.set);
    if (bbs_alrp_start(&ls.set, c->in, c->now_ns, &next, &w, err) != 0) {
        goto out;
    }
    if (w == BBS_ALRP_WRITE_UPDATE && bbs_alrp_write_update(conn, &next, err) != 0) {
        goto out;
    }
    if (w == BBS_ALRP_WRITE_INSERT && bbs_alrp_write_insert(conn, &next, epoch, err) != 0) {
        goto out;
    }
    if (w == BBS_ALRP_WRITE_UPDATE) {
        bbs_change_alrp(c->change, ls.set.ordinary, &next);
    } else if (w == BBS_ALRP_WRITE_INSERT) {
        bbs_change_alrp(c->change, NULL, &next);
    }
    /* After a real start (not a suspect match) the evacuating and suspect
     * copies go, once this commit is done (3.4 step 5). */
    if (!bbs_alrp_start_matches_suspect(&ls.set, &c->in->instance)) {
        for (int i = 0; i < 2; i++) {
            const struct bbs_alrp *row = i == 0 ? ls.set.evacuating : ls.set.suspect;

            c->copies[i] = row != NULL ? bbs_alrp_copy(c->change->arena, row) : NULL;
        }
    }
    rc = 0;
out:
    bbs_alrp_unlock(&ls);
    return rc;
}

struct copy_delete_ctx {
    const struct bbs_alrp *copy;
    int affected;
};

static int copy_delete_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct copy_delete_ctx *c = arg;
    const struct bbs_alrp *copy = c->copy;
    struct bbs_params p = {0};

    bbs_params_text(&p, copy->key.process_guid);
    bbs_params_int4(&p, copy->key.index);
    bbs_params_int4(&p, (int32_t)copy->presence);
    bbs_params_text(&p, copy->instance.instance_guid);
    bbs_params_text(&p, copy->instance.cell_id);
    return bbs_exec_command(conn, "alrp_delete_match", &p, &c->affected, err);
}

/*
 * The heartbeat fast path: most starts repeat what is stored (a cell
 * reports every instance every 30 s). Read the rows without a lock or
 * transaction id; if the core decides "no change" and there is no copy to
 * delete, answer at once, as if the heartbeat had come just before any
 * concurrent change. Otherwise the locked transaction decides again.
 */
static int peek_decide(const struct bbs_alrp_set *set, const struct bbs_start_input *in,
                       int64_t now_ns)
{
    struct bbs_alrp next;
    struct bbs_error ignored; /* only ever written (4 kB: not zeroed for every start) */
    enum bbs_alrp_write w;

    return bbs_alrp_start(set, in, now_ns, &next, &w, &ignored) == 0 && w == BBS_ALRP_WRITE_NONE &&
           (bbs_alrp_start_matches_suspect(set, &in->instance) ||
            (set->evacuating == NULL && set->suspect == NULL));
}

struct start_peek_ctx {
    const struct bbs_start_input *in;
    int64_t now_ns;
    int noop;
};

static int start_peek(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct start_peek_ctx *c = arg;
    struct bbs_alrp_lock ls = {0};
    int rc;

    rc = bbs_alrp_read(conn, "alrp_read_set", c->in->key.process_guid, c->in->key.index, &ls, err);
    c->noop = rc == 0 && peek_decide(&ls.set, c->in, c->now_ns);
    bbs_alrp_unlock(&ls);
    return rc;
}

/*
 * Concurrent heartbeats share one read (struct bbs_peek_queue): a start
 * that finds no read in flight reads for itself, on its own thread; one
 * that finds a read in flight is queued, and the queued starts are read
 * together (up to PEEK_BATCH, one statement over the arrays of their keys)
 * by the store's reader thread, as soon as the read in flight ends. Each
 * start decides on its own rows as above. A queued start is answered
 * through its callback, so that an I/O thread need not hold itself for
 * the read.
 */
#define PEEK_BATCH 64

struct bbs_peek {
    const struct bbs_start_input *in;
    struct bbs_start_input own; /* a queued start's copy of *in (`in` points here) */
    int64_t now_ns;
    int result; /* the answer: -1 until read */
    /* A queued start's callback (malloc'd by the store, freed after the
     * call); NULL for the start whose own thread reads (on its stack). */
    bbs_peek_done_fn done;
    void *ud;
    struct bbs_peek *next;
};

struct peek_batch {
    struct bbs_peek **items;
    size_t n;
};

static int peek_batch_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct peek_batch *b = arg;
    struct bbs_arena *arena;
    const char **guids;
    int32_t *indices;
    struct bbs_alrp *rows;
    int *got;
    struct bbs_params p = {0};
    PGresult *res;
    int n;

    if (b->n == 1) {
        struct start_peek_ctx one = {b->items[0]->in, b->items[0]->now_ns, 0};

        if (start_peek(conn, &one, err) != 0) {
            return -1;
        }
        b->items[0]->result = one.noop;
        return 0;
    }
    arena = bbs_arena_new();
    guids = bbs_arena_alloc(arena, b->n * sizeof(*guids));
    indices = bbs_arena_alloc(arena, b->n * sizeof(*indices));
    for (size_t i = 0; i < b->n; i++) {
        guids[i] = b->items[i]->in->key.process_guid;
        indices[i] = b->items[i]->in->key.index;
    }
    bbs_params_text_array(&p, arena, guids, b->n);
    bbs_params_int4_array(&p, arena, indices, b->n);
    res = bbs_exec(conn, "alrp_read_sets", &p, err);
    if (res == NULL) {
        bbs_arena_free(arena);
        return -1;
    }
    n = PQntuples(res);
    rows = bbs_arena_alloc(arena, ((size_t)n + 1) * sizeof(*rows));
    got = bbs_arena_alloc(arena, ((size_t)n + 1) * sizeof(*got));
    for (int r = 0; r < n; r++) {
        got[r] = bbs_alrp_from_result(res, r, &rows[r]);
    }
    for (size_t i = 0; i < b->n; i++) {
        const struct bbs_alrp_key *key = &b->items[i]->in->key;
        struct bbs_alrp_set set = {0};
        int unreadable = 0;

        /* As bbs_alrp_read: a row that cannot be decrypted is not absent
         * (the locked path answers it); any other unreadable row is. */
        for (int r = 0; r < n; r++) {
            if (rows[r].key.index != key->index ||
                strcmp(rows[r].key.process_guid, key->process_guid) != 0) {
                continue;
            }
            if (got[r] == BBS_ALRP_ROW_UNDECRYPTABLE) {
                unreadable = 1;
            } else if (got[r] == 0 && rows[r].presence == BBS_PRESENCE_ORDINARY) {
                set.ordinary = &rows[r];
            } else if (got[r] == 0 && rows[r].presence == BBS_PRESENCE_EVACUATING) {
                set.evacuating = &rows[r];
            } else if (got[r] == 0 && rows[r].presence == BBS_PRESENCE_SUSPECT) {
                set.suspect = &rows[r];
            }
        }
        b->items[i]->result =
            unreadable ? -1 : peek_decide(&set, b->items[i]->in, b->items[i]->now_ns);
    }
    PQclear(res);
    bbs_arena_free(arena);
    return 0;
}

static void *peek_reader_main(void *arg);

/* The reader thread, started on first need: 0, or -1 when it cannot be (under mu). */
static int peek_reader(struct bbs_store *st, struct bbs_peek_queue *q)
{
    if (!q->reader_started && !q->stopping &&
        pthread_create(&q->reader, NULL, peek_reader_main, st) == 0) {
        q->reader_started = 1;
    }
    return q->reader_started && !q->stopping ? 0 : -1;
}

/*
 * Read for `first` (NULL for none) and the starts queued, up to
 * PEEK_BATCH, and answer them; then hand on: to the reader thread when
 * more are queued, or mark the queue idle (before the callbacks are
 * called: an answered start's next one may come at once). With no reader
 * thread to hand to, the calling thread reads on until the queue is
 * empty. Called with the read in flight (`busy`) being the caller's,
 * under mu; returns under mu.
 */
static void peek_rounds(struct bbs_store *st, struct bbs_peek_queue *q, struct bbs_peek *first)
{
    for (;;) {
        struct bbs_peek *items[PEEK_BATCH];
        struct bbs_peek *called[PEEK_BATCH]; /* those answered by callback */
        struct peek_batch b = {items, 0};
        struct bbs_error ignored; /* the full path reads again, and answers its own error */
        size_t n_called = 0;
        int again = 0;

        if (first != NULL) {
            items[b.n++] = first;
        }
        while (q->head != NULL && b.n < PEEK_BATCH) {
            items[b.n++] = q->head;
            q->head = q->head->next;
            q->waiting--;
        }
        if (q->head == NULL) {
            q->tail = NULL;
        }
        q->reads++;
        q->items += b.n;
        pthread_mutex_unlock(&q->mu);

        if (bbs_store_run_idle(st, peek_batch_tx, &b, &ignored) != 0) {
            for (size_t i = 0; i < b.n; i++) {
                items[i]->result = -1; /* no idle connection, or the read failed */
            }
        }

        pthread_mutex_lock(&q->mu);
        for (size_t i = 0; i < b.n; i++) {
            if (items[i]->done != NULL) {
                called[n_called++] = items[i];
            }
        }
        if (q->head == NULL) {
            q->busy = 0;
        } else if (first != NULL && peek_reader(st, q) == 0) {
            q->reader_turn = 1; /* the caller's own answer is ready: it goes */
            pthread_cond_signal(&q->cv);
        } else {
            again = 1; /* the reader thread, or no reader thread */
        }
        pthread_mutex_unlock(&q->mu);
        for (size_t i = 0; i < n_called; i++) {
            called[i]->done(called[i]->ud, called[i]->result);
            free(called[i]);
        }
        pthread_mutex_lock(&q->mu);
        if (!again) {
            return;
        }
        first = NULL;
    }
}

/* The store's reader thread: reads for the queued starts each time a read in flight hands on. */
static void *peek_reader_main(void *arg)
{
    struct bbs_store *st = arg;
    struct bbs_peek_queue *q = bbs_store_peeks(st);

    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->reader_turn && !q->stopping) {
            pthread_cond_wait(&q->cv, &q->mu);
        }
        if (!q->reader_turn) {
            break; /* stopping, and nothing was handed on */
        }
        q->reader_turn = 0;
        peek_rounds(st, q, NULL);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

void bbs_store_peeks_stop(struct bbs_store *st)
{
    struct bbs_peek_queue *q = bbs_store_peeks(st);
    int started;

    pthread_mutex_lock(&q->mu);
    q->stopping = 1;
    started = q->reader_started;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    if (started) {
        pthread_join(q->reader, NULL); /* after answering what was handed to it */
        pthread_mutex_lock(&q->mu);
        q->reader_started = 0;
        pthread_mutex_unlock(&q->mu);
    }
}

int bbs_store_alrp_start_peek_queue(struct bbs_store *st, const struct bbs_start_input *in,
                                    int64_t now_ns, bbs_peek_done_fn done, void *ud)
{
    struct bbs_peek_queue *q = bbs_store_peeks(st);
    struct bbs_peek me = {.in = in, .now_ns = now_ns, .result = -1};
    uint64_t h = start_claim_hash(in);

    pthread_mutex_lock(&q->mu);
    if (claimed_take(q, h)) {
        pthread_mutex_unlock(&q->mu);
        return 0;
    }
    if (q->busy) {
        struct bbs_peek *p = bbs_xcalloc(1, sizeof(*p));

        p->own = *in;
        p->in = &p->own;
        p->now_ns = now_ns;
        p->result = -1;
        p->done = done;
        p->ud = ud;
        if (q->tail != NULL) {
            q->tail->next = p;
        } else {
            q->head = p;
        }
        q->tail = p;
        q->waiting++;
        pthread_mutex_unlock(&q->mu);
        return BBS_PEEK_QUEUED;
    }
    q->busy = 1;
    peek_rounds(st, q, &me);
    pthread_mutex_unlock(&q->mu);
    return me.result;
}

int bbs_store_alrp_start(struct bbs_store *st, const struct bbs_start_input *in, int64_t now_ns,
                         int peeked, struct bbs_change *change, struct bbs_error *err)
{
    struct start_peek_ctx peek = {in, now_ns, 0};
    struct start_ctx c = {in, now_ns, change, bbs_change_mark(change), {NULL, NULL}};
    int rc;

    if (!peeked) {
        struct bbs_peek_queue *q = bbs_store_peeks(st);
        uint64_t h = start_claim_hash(in);

        pthread_mutex_lock(&q->mu);
        peeked = claimed_take(q, h);
        pthread_mutex_unlock(&q->mu);
    }
    if (!peeked && bbs_store_run(st, start_peek, &peek, err) == 0 && peek.noop) {
        return 0; /* nothing changed: an empty record */
    }
    rc = bbs_store_tx_change(st, start_tx, &c, change, &c.mark, err);
    for (int i = 0; rc == 0 && i < 2; i++) {
        struct copy_delete_ctx d = {c.copies[i], 0};
        struct bbs_error derr = {0};

        if (d.copy == NULL) {
            continue;
        }
        /* Matching the copy's own instance key; a failure leaves a note:
         * the start itself is committed (upstream does the same). */
        if (bbs_store_tx(st, copy_delete_tx, &d, &derr) != 0) {
            bbs_change_note(change, "start.remove-copy-failed", in->key.process_guid, in->key.index,
                            &derr);
        } else if (d.affected > 0) {
            bbs_change_alrp(change, d.copy, NULL);
        }
    }
    return rc;
}

/* ---- crash ---- */

struct crash_ctx {
    const struct bbs_alrp_key *key;
    const struct bbs_instance_key *inst;
    const char *reason;
    int64_t now_ns;
    struct bbs_change *change;
    struct bbs_change_mark mark;
    int restart_now;
    char trunc[BBS_REASON_MAX + 1];
};

static int crash_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct crash_ctx *c = arg;
    struct bbs_alrp_lock ls = {0};
    struct bbs_alrp next;
    enum bbs_alrp_write w;
    enum bbs_presence target;
    int rc = -1;

    bbs_change_rewind(c->change, &c->mark);
    c->restart_now = 0;
    if (bbs_alrp_lock(conn, c->key->process_guid, c->key->index, &ls, err) != 0) {
        goto out;
    }
    bbs_change_siblings(c->change, &ls.set);
    if (bbs_alrp_crash(&ls.set, c->key, c->inst, c->reason, c->trunc, c->now_ns, &next, &w, &target,
                       &c->restart_now, err) != 0) {
        goto out;
    }
    if (w == BBS_ALRP_WRITE_DELETE) {
        if (bbs_alrp_write_delete(conn, ls.set.suspect, NULL, err) != 0) {
            goto out;
        }
        bbs_change_alrp(c->change, ls.set.suspect, NULL);
    }
    if (w == BBS_ALRP_WRITE_UPDATE) {
        if (bbs_alrp_write_update(conn, &next, err) != 0) {
            goto out;
        }
        bbs_change_alrp(c->change, ls.set.ordinary, &next);
        /* Upstream announces a crash of the ordinary row its own way. */
        c->change->event_rule = BBS_EVENT_RULE_CRASH;
    }
    rc = 0;
out:
    bbs_alrp_unlock(&ls);
    return rc;
}

int bbs_store_alrp_crash(struct bbs_store *st, const struct bbs_alrp_key *key,
                         const struct bbs_instance_key *inst, const char *reason, int64_t now_ns,
                         struct bbs_change *change, struct bbs_error *err)
{
    struct crash_ctx *c = bbs_xcalloc(1, sizeof(*c));
    int rc;

    c->key = key;
    c->inst = inst;
    c->reason = reason;
    c->now_ns = now_ns;
    c->change = change;
    c->mark = bbs_change_mark(change);
    rc = bbs_store_tx_change(st, crash_tx, c, change, &c->mark, err);
    /* Restart at once: a placement of this one index. If the desired LRP
     * is gone the crash stays committed and the caller hears
     * ResourceNotFound, as upstream answers (quirk 7). */
    if (rc == 0 && c->restart_now) {
        rc = bbs_dlrp_auction_for(st, change, key->process_guid, &key->index, 1, err);
    }
    free(c);
    return rc;
}

/* ---- fail ---- */

struct fail_ctx {
    const struct bbs_alrp_key *key;
    const char *message;
    int64_t now_ns;
    struct bbs_change *change;
    struct bbs_change_mark mark;
    char trunc[BBS_REASON_MAX + 1];
};

static int fail_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct fail_ctx *c = arg;
    struct bbs_alrp_lock ls = {0};
    struct bbs_alrp next;
    enum bbs_alrp_write w;
    int rc = -1;

    bbs_change_rewind(c->change, &c->mark);
    if (bbs_alrp_lock(conn, c->key->process_guid, c->key->index, &ls, err) != 0) {
        goto out;
    }
    bbs_change_siblings(c->change, &ls.set);
    if (bbs_alrp_fail(&ls.set, c->message, c->trunc, c->now_ns, &next, &w, err) != 0) {
        goto out;
    }
    if (w == BBS_ALRP_WRITE_UPDATE) {
        if (bbs_alrp_write_update(conn, &next, err) != 0) {
            goto out;
        }
        bbs_change_alrp(c->change, ls.set.ordinary, &next);
    }
    rc = 0;
out:
    bbs_alrp_unlock(&ls);
    return rc;
}

int bbs_store_alrp_fail(struct bbs_store *st, const struct bbs_alrp_key *key, const char *message,
                        int64_t now_ns, struct bbs_change *change, struct bbs_error *err)
{
    struct fail_ctx *c = bbs_xcalloc(1, sizeof(*c));
    int rc;

    c->key = key;
    c->message = message;
    c->now_ns = now_ns;
    c->change = change;
    c->mark = bbs_change_mark(change);
    rc = bbs_store_tx_change(st, fail_tx, c, change, &c->mark, err);
    free(c);
    return rc;
}

/* ---- remove and retire ---- */

struct remove_ctx {
    const char *guid;
    int32_t index;
    const struct bbs_instance_key *inst; /* NULL = any (remove); unused by retire */
    int retire;
    struct bbs_change *change;
    struct bbs_change_mark mark;
};

static int remove_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct remove_ctx *c = arg;
    struct bbs_alrp_lock ls = {0};
    int affected = 0;
    int rc = -1;

    bbs_change_rewind(c->change, &c->mark);
    if (bbs_alrp_lock(conn, c->guid, c->index, &ls, err) != 0) {
        goto out;
    }
    bbs_change_siblings(c->change, &ls.set);
    if (c->retire) {
        /* No cell registry yet: every cell is unknown, so CLAIMED/RUNNING
         * rows are deleted directly like UNCLAIMED/CRASHED ones (3.8). */
        if (ls.set.ordinary == NULL) {
            bbs_error_set(err, BBS_ERR_RESOURCE_NOT_FOUND);
            goto out;
        }
    } else if (bbs_alrp_remove(&ls.set, c->inst, err) != 0) {
        goto out;
    }
    if (bbs_alrp_write_delete(conn, ls.set.ordinary, &affected, err) != 0) {
        goto out;
    }
    if (affected == 0) {
        bbs_error_set(err, BBS_ERR_RESOURCE_NOT_FOUND);
        goto out;
    }
    bbs_change_alrp(c->change, ls.set.ordinary, NULL);
    rc = 0;
out:
    bbs_alrp_unlock(&ls);
    return rc;
}

int bbs_store_alrp_remove(struct bbs_store *st, const char *guid, int32_t index,
                          const struct bbs_instance_key *inst, struct bbs_change *change,
                          struct bbs_error *err)
{
    struct remove_ctx c = {guid, index, inst, 0, change, bbs_change_mark(change)};

    return bbs_store_tx_change(st, remove_tx, &c, change, &c.mark, err);
}

/* Upstream's retire makes up to this many attempts at its step (3.8). */
#define RETIRE_ATTEMPTS 5

struct retire_read_ctx {
    struct bbs_arena *arena;
    const char *guid;
    int32_t index;
    struct bbs_alrp *ordinary; /* copied into `arena`; NULL when none */
};

static int retire_read(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct retire_read_ctx *c = arg;
    struct bbs_alrp_lock ls = {0};

    if (bbs_alrp_read(conn, "alrp_read_set", c->guid, c->index, &ls, err) != 0) {
        return -1;
    }
    c->ordinary = ls.set.ordinary != NULL ? bbs_alrp_copy(c->arena, ls.set.ordinary) : NULL;
    bbs_alrp_unlock(&ls);
    return 0;
}

int bbs_store_alrp_retire(struct bbs_store *st, const char *guid, int32_t index,
                          const struct bbs_cell_lookup *cells, struct bbs_change *change,
                          struct bbs_error *err)
{
    struct retire_read_ctx rd = {change->arena, guid, index, NULL};
    struct remove_ctx c = {guid, index, NULL, 1, change, bbs_change_mark(change)};
    const struct bbs_alrp *a;

    /* Step 2: the state decided on is read once, without a lock: the
     * Locket lookup must not hold a connection (or a row lock). */
    if (bbs_store_run(st, retire_read, &rd, err) != 0) {
        return -1;
    }
    a = rd.ordinary;
    if (a == NULL) {
        bbs_error_set(err, BBS_ERR_RESOURCE_NOT_FOUND);
        return -1;
    }
    for (int attempt = 0; attempt < RETIRE_ATTEMPTS; attempt++) {
        if (a->state == BBS_ALRP_CLAIMED || a->state == BBS_ALRP_RUNNING) {
            const char *url = NULL;
            int found = cells != NULL && cells->fn != NULL
                            ? cells->fn(cells->ctx, change->arena, a->instance.cell_id, &url, err)
                            : 1;

            if (found < 0) {
                return -1; /* Locket failed, or no usable address: at once */
            }
            if (found == 0) {
                struct bbs_rep_stop stop = {a->key, a->instance, url, RETIRE_ATTEMPTS};

                /* The rep stops the container and then removes the row
                 * itself; nothing is written now. */
                bbs_change_rep_stop(change, &stop);
                change->committed = 1;
                return 0;
            }
            /* Unknown cell: delete, and that result is the answer (no retry). */
            return bbs_store_tx_change(st, remove_tx, &c, change, &c.mark, err);
        }
        if (bbs_store_tx_change(st, remove_tx, &c, change, &c.mark, err) == 0) {
            return 0;
        }
    }
    return -1;
}

/* ---- bulk creation and scale-down ---- */

struct rows_ctx {
    const char *guid;
    const char *domain;
    int32_t from;
    int32_t to;
    int64_t now_ns;
    struct bbs_change *change;
    struct bbs_change_mark mark;
};

/* Record every row of `res` (BBS_ALRP_COLUMNS) as created or removed. */
static void record_rows(struct bbs_change *change, const PGresult *res, int created)
{
    for (int i = 0; i < PQntuples(res); i++) {
        struct bbs_alrp a;

        if (bbs_alrp_from_result(res, i, &a) == 0) {
            bbs_change_alrp(change, created ? NULL : &a, created ? &a : NULL);
        }
    }
}

static int create_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct rows_ctx *c = arg;
    struct bbs_params p = {0};
    PGresult *res;

    bbs_change_rewind(c->change, &c->mark);
    bbs_params_text(&p, c->guid);
    bbs_params_text(&p, c->domain);
    bbs_params_int4(&p, c->from);
    bbs_params_int4(&p, c->to);
    bbs_params_int8(&p, c->now_ns);
    res = bbs_exec(conn, "alrp_insert_unclaimed", &p, err);
    if (res == NULL) {
        return -1;
    }
    record_rows(c->change, res, 1);
    PQclear(res);
    return 0;
}

static int cmp_int32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a;
    int32_t y = *(const int32_t *)b;

    return (x > y) - (x < y);
}

int bbs_store_alrp_create_unclaimed(struct bbs_store *st, const struct bbs_dlrp_row *desired,
                                    int32_t from, int32_t to, int64_t now_ns,
                                    enum bbs_create_auction auction, struct bbs_change *change,
                                    struct bbs_error *err)
{
    struct rows_ctx c = {desired->process_guid,  desired->domain, from, to, now_ns, change,
                         bbs_change_mark(change)};
    int32_t *created;
    size_t n = 0;

    if (to <= from) {
        return 0;
    }
    /* One statement for all indices: an index that already has an
     * ordinary row (say, started before the desire) is skipped. */
    if (bbs_store_run_change(st, create_tx, &c, change, &c.mark, err) != 0) {
        return -1;
    }
    created = bbs_arena_alloc(change->arena, (size_t)(to - from) * sizeof(*created));
    for (size_t i = c.mark.n_alrps; i < change->n_alrps && n < (size_t)(to - from); i++) {
        created[n++] = change->alrps[i].after->key.index;
    }
    qsort(created, n, sizeof(int32_t), cmp_int32);
    if (n == 0 && auction != BBS_CREATE_AUCTION_ALWAYS) {
        return 0;
    }
    return bbs_dlrp_auction_of(change, desired, created, n, 1, err);
}

int bbs_alrp_running_from(PGconn *conn, struct bbs_arena *arena, const char *guid, int32_t from,
                          struct bbs_alrp **rows, size_t *n, struct bbs_error *err)
{
    struct bbs_params p = {0};
    PGresult *res;

    *rows = NULL;
    *n = 0;
    bbs_params_text(&p, guid);
    bbs_params_int4(&p, from);
    res = bbs_exec(conn, "alrp_running_from", &p, err);
    if (res == NULL) {
        return -1;
    }
    *rows = bbs_arena_alloc(arena, ((size_t)PQntuples(res) + 1) * sizeof(**rows));
    for (int i = 0; i < PQntuples(res); i++) {
        struct bbs_alrp a;

        if (bbs_alrp_from_result(res, i, &a) == 0) {
            (*rows)[(*n)++] = *bbs_alrp_copy(arena, &a);
        }
    }
    PQclear(res);
    return 0;
}

static int stop_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct rows_ctx *c = arg;
    struct bbs_params p = {0};
    struct bbs_alrp *running = NULL;
    size_t n = 0;
    PGresult *res;

    bbs_change_rewind(c->change, &c->mark);
    bbs_params_text(&p, c->guid);
    bbs_params_int4(&p, c->from);
    res = bbs_exec(conn, "alrp_stop_from", &p, err);
    if (res == NULL) {
        return -1;
    }
    record_rows(c->change, res, 0);
    PQclear(res);
    /* Instances on cells: their reps stop them, and the rep's remove call
     * deletes the row later (5.6). Which cell is asked after the commit. */
    if (bbs_alrp_running_from(conn, c->change->arena, c->guid, c->from, &running, &n, err) != 0) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct bbs_rep_stop stop = {running[i].key, running[i].instance, NULL, 1};

        bbs_change_rep_stop(c->change, &stop);
    }
    return 0;
}

int bbs_store_alrp_stop_from(struct bbs_store *st, const char *guid, int32_t from,
                             struct bbs_change *change, struct bbs_error *err)
{
    struct rows_ctx c = {guid, "", from, 0, 0, change, bbs_change_mark(change)};

    /* One transaction: the rows deleted and the rows asked to stop are one snapshot. */
    return bbs_store_tx_change(st, stop_tx, &c, change, &c.mark, err);
}
