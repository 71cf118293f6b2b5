/*
 * hub.c - the event hub (hub.h): change log -> bounded subscriber queues.
 *
 * Locks: the hub's `mu` guards the subscriber list and `last`; sinks are
 * called under it (they take only their own lock and never call back), so
 * a record is offered to every subscriber in id order and a subscriber
 * that is registering sees each id exactly once: either in the backlog it
 * reads from the log (ids up to the `last` it saw when it registered) or
 * live (ids after it), which it holds until its backlog is out.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bbs/hub.h"
#include "bbs/log.h"
#include "bbs/xalloc.h"

/* One formatted SSE record, shared by every subscriber it goes to. */
struct rec {
    atomic_int refs;
    size_t len;
    uint8_t data[];
};

struct sub {
    struct bbs_hub_sink sink;
    unsigned streams;
    int v0;
    char *cell_id;
    int holding;   /* resuming: live records wait in `held` until the backlog is out */
    int overflow;  /* more than queue_max records had to be held: cut once resumed */
    int64_t floor; /* a new (not resuming) subscriber: ids up to this committed before it came */
    struct rec **held;
    size_t n_held;
    struct sub *prev;
    struct sub *next;
};

struct bbs_hub {
    struct bbs_store *st;
    struct bbs_hub_config cfg;
    pthread_mutex_t mu; /* guards everything below but the thread's fields */
    struct sub *head;
    atomic_size_t n_subs; /* changed under `mu`; the commit hook reads it without */
    int64_t last;         /* the last id delivered */

    /* The thread's own (no lock): marks not yet settled, oldest first, and
     * the newest id settled (delivered up to it unless a read failed). */
    struct bbs_hub_marks marks;
    int64_t settled;

    pthread_t thread;
    int started;
    int wake[2];                 /* poke -> thread; non-blocking both ends */
    atomic_int poked;            /* a byte is in the pipe or the thread is about to read the log */
    atomic_uint_least64_t reads; /* steps that read the log (bbs_hub_log_reads) */
    atomic_int stopping;
};

static const char HEARTBEAT[] = ":\n\n";

static void poke(void *arg);

/* The shortest time between two reads of the log (see thread_main). */
#define STEP_MIN_NS INT64_C(5000000)

static struct rec *rec_new(const struct bbs_buf *b)
{
    struct rec *r = bbs_xmalloc(sizeof(*r) + b->len);

    atomic_init(&r->refs, 1);
    r->len = b->len;
    memcpy(r->data, b->data, b->len);
    return r;
}

static void rec_unref(struct rec *r)
{
    if (r != NULL && atomic_fetch_sub(&r->refs, 1) == 1) {
        free(r);
    }
}

static struct rec *rec_of(int64_t id, const char *name, const uint8_t *p, size_t n)
{
    struct bbs_buf b = {0};
    struct rec *r;

    bbs_sse_record(&b, id, name, p, n);
    r = rec_new(&b);
    bbs_buf_free(&b);
    return r;
}

struct bbs_hub *bbs_hub_new(struct bbs_store *st, const struct bbs_hub_config *cfg)
{
    struct bbs_hub *hub = bbs_xcalloc(1, sizeof(*hub));

    hub->st = st;
    hub->cfg = *cfg;
    if (hub->cfg.batch <= 0) {
        hub->cfg.batch = 1000;
    }
    pthread_mutex_init(&hub->mu, NULL);
    hub->wake[0] = hub->wake[1] = -1;
    atomic_init(&hub->stopping, 0);
    atomic_init(&hub->poked, 0);
    atomic_init(&hub->n_subs, 0);
    atomic_init(&hub->reads, 0);
    return hub;
}

/* Under hub->mu: unlink `s`; the caller ends and releases it. */
static void unlink_sub(struct bbs_hub *hub, struct sub *s)
{
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        hub->head = s->next;
    }
    if (s->next != NULL) {
        s->next->prev = s->prev;
    }
    atomic_fetch_sub(&hub->n_subs, 1);
}

static void sub_free(struct sub *s)
{
    for (size_t i = 0; i < s->n_held; i++) {
        rec_unref(s->held[i]);
    }
    free(s->held);
    s->sink.release(s->sink.ctx);
    free(s->cell_id);
    free(s);
}

/* Under hub->mu: drop `s`; `slow` says why (full queue: end it so the client can resume). */
static void drop(struct bbs_hub *hub, struct sub *s, int slow)
{
    unlink_sub(hub, s);
    if (slow) {
        bbs_log(BBS_LOG_INFO, "events.subscriber-slow", "{s:I, s:s}", "queue_max",
                (json_int_t)hub->cfg.queue_max, "cell_id", s->cell_id);
    } else {
        bbs_log(BBS_LOG_INFO, "events.subscriber-gone", "{s:s}", "cell_id", s->cell_id);
    }
    s->sink.end(s->sink.ctx);
    sub_free(s);
}

/* Under hub->mu: give `r` to `s`. Returns 0, or -1 when `s` was dropped. */
static int offer(struct bbs_hub *hub, struct sub *s, const uint8_t *p, size_t n, struct rec *r)
{
    int rc;

    if (s->holding) {
        if (r == NULL) {
            return 0; /* a heartbeat is not worth holding */
        }
        if (s->n_held >= hub->cfg.queue_max) {
            s->overflow = 1;
            return 0;
        }
        if (s->n_held == 0) {
            s->held = bbs_xcalloc(hub->cfg.queue_max, sizeof(*s->held));
        }
        atomic_fetch_add(&r->refs, 1);
        s->held[s->n_held++] = r;
        return 0;
    }
    rc = s->sink.send(s->sink.ctx, p, n, hub->cfg.queue_max);
    if (rc != 0) {
        drop(hub, s, rc > 0);
        return -1;
    }
    return 0;
}

void bbs_hub_deliver(struct bbs_hub *hub, const struct bbs_changelog_row *rows, size_t n)
{
    pthread_mutex_lock(&hub->mu);
    for (size_t i = 0; i < n; i++) {
        const struct bbs_changelog_row *row = &rows[i];
        struct rec *v3 = NULL;
        struct rec *v0 = NULL;
        struct sub *next;

        if (row->payload == NULL) { /* undecryptable (changelog.c logged it) */
            hub->last = row->seq;
            continue;
        }
        for (struct sub *s = hub->head; s != NULL; s = next) {
            struct rec **r;

            next = s->next;
            if (row->seq <= s->floor || (row->streams & s->streams) == 0 ||
                !bbs_sse_cell_passes(s->cell_id, row->cell_ids)) {
                continue;
            }
            /* Formatted once per variant, on first need. */
            if (s->v0 && row->payload_v0 != NULL) {
                r = &v0;
                if (*r == NULL) {
                    *r = rec_of(row->seq, row->name, row->payload_v0, row->payload_v0_len);
                }
            } else {
                r = &v3;
                if (*r == NULL) {
                    *r = rec_of(row->seq, row->name, row->payload, row->payload_len);
                }
            }
            (void)offer(hub, s, (*r)->data, (*r)->len, *r);
        }
        rec_unref(v3);
        rec_unref(v0);
        hub->last = row->seq;
    }
    pthread_mutex_unlock(&hub->mu);
}

void bbs_hub_heartbeat(struct bbs_hub *hub)
{
    struct sub *next;

    pthread_mutex_lock(&hub->mu);
    for (struct sub *s = hub->head; s != NULL; s = next) {
        next = s->next;
        (void)offer(hub, s, (const uint8_t *)HEARTBEAT, sizeof(HEARTBEAT) - 1, NULL);
    }
    pthread_mutex_unlock(&hub->mu);
}

size_t bbs_hub_subscribers(struct bbs_hub *hub)
{
    return atomic_load(&hub->n_subs);
}

int bbs_hub_pass(struct bbs_hub *hub, int64_t upto)
{
    int passed = 0;

    pthread_mutex_lock(&hub->mu);
    if (atomic_load(&hub->n_subs) == 0) { /* under `mu`: no subscriber is registering */
        if (upto > hub->last) {
            hub->last = upto;
        }
        passed = 1;
    }
    pthread_mutex_unlock(&hub->mu);
    return passed;
}

uint64_t bbs_hub_log_reads(struct bbs_hub *hub)
{
    return atomic_load(&hub->reads);
}

int64_t bbs_hub_last_id(struct bbs_hub *hub)
{
    int64_t last;

    pthread_mutex_lock(&hub->mu);
    last = hub->last;
    pthread_mutex_unlock(&hub->mu);
    return last;
}

/* ---- subscribing and resuming ---- */

/* Unbounded: the backlog goes out before the client reads anything. -1: the sink ended. */
static int send_all(struct sub *s, const uint8_t *p, size_t n)
{
    return s->sink.send(s->sink.ctx, p, n, SIZE_MAX) == 0 ? 0 : -1;
}

static int send_resync(struct sub *s, int64_t id)
{
    struct rec *r = rec_of(id, BBS_EVENT_RESYNC, (const uint8_t *)"", 0);
    int rc = send_all(s, r->data, r->len);

    rec_unref(r);
    return rc;
}

/*
 * Send `s` the retained events with last_id < id <= upto that it carries.
 * Pruning removes the oldest ids and keeps the largest it removed, so a
 * watermark above the last one sent (in any page's snapshot) means events
 * the client has not had are gone: one resync event instead of the rest.
 * Returns 0, 1 when the sink ended, -1 with err on a database error.
 */
static int backlog(struct bbs_hub *hub, struct sub *s, int64_t last_id, int64_t upto,
                   struct bbs_error *err)
{
    int64_t after = last_id;

    if (last_id > upto) {
        return send_resync(s, upto) == 0 ? 0 : 1; /* an id from another log */
    }
    while (after < upto) {
        struct bbs_arena *arena = bbs_arena_new();
        struct bbs_changelog_row *rows = NULL;
        size_t n = 0;
        int64_t pruned = 0;
        int rc = 0;

        if (bbs_store_changelog_backlog(hub->st, arena, after, upto, hub->cfg.batch, s->streams,
                                        s->cell_id, &pruned, &rows, &n, err) != 0) {
            bbs_arena_free(arena);
            return -1;
        }
        if (pruned > after) {
            bbs_arena_free(arena);
            return send_resync(s, upto) == 0 ? 0 : 1;
        }
        for (size_t i = 0; i < n && rc == 0; i++) {
            const struct bbs_changelog_row *row = &rows[i];
            const uint8_t *p = row->payload;
            size_t len = row->payload_len;
            struct bbs_buf b = {0};

            if (p == NULL) { /* undecryptable (changelog.c logged it) */
                continue;
            }
            if (s->v0 && row->payload_v0 != NULL) {
                p = row->payload_v0;
                len = row->payload_v0_len;
            }
            bbs_sse_record(&b, row->seq, row->name, p, len);
            rc = send_all(s, b.data, b.len);
            bbs_buf_free(&b);
        }
        if (n > 0) {
            after = rows[n - 1].seq;
        }
        bbs_arena_free(arena);
        if (rc != 0) {
            return 1;
        }
        if (n < (size_t)hub->cfg.batch) {
            break;
        }
    }
    return 0;
}

int bbs_hub_subscribe(struct bbs_hub *hub, const struct bbs_hub_sink *sink,
                      const struct bbs_hub_sub_opts *o, struct bbs_error *err)
{
    struct sub *s = bbs_xcalloc(1, sizeof(*s));
    int64_t upto;
    int rc = 0;

    s->sink = *sink;
    s->streams = o->streams;
    s->v0 = o->v0;
    s->cell_id = bbs_xstrdup(o->cell_id != NULL ? o->cell_id : "");
    s->holding = o->resume;
    if (!o->resume && hub->st != NULL) {
        /*
         * Upstream's subscriber sees only what commits after it subscribed.
         * Rows already inserted may not be delivered yet: skip every id
         * handed out so far (a change whose COMMIT is in flight right now
         * counts as before). A database error leaves no floor (such rows
         * may then reach it, as before).
         */
        uint64_t ticket;
        struct bbs_error e = {0};

        if (bbs_store_changelog_mark(hub->st, &s->floor, &ticket, &e) != 0) {
            s->floor = 0;
        }
    }
    pthread_mutex_lock(&hub->mu);
    s->next = hub->head;
    if (hub->head != NULL) {
        hub->head->prev = s;
    }
    hub->head = s;
    atomic_fetch_add(&hub->n_subs, 1);
    upto = hub->last;
    pthread_mutex_unlock(&hub->mu);
    /* With nobody listening the thread read nothing and may not have
     * stepped for up to a poll interval: wake it, so what committed
     * meanwhile (after `upto`) comes now, not with the next write. */
    poke(hub);
    if (!o->resume) {
        return 0;
    }

    /* Live events queue up in `held` meanwhile; the backlog ends at `upto`. */
    rc = o->last_id == upto ? 0 : backlog(hub, s, o->last_id, upto, err);

    pthread_mutex_lock(&hub->mu);
    for (size_t i = 0; i < s->n_held; i++) {
        if (rc == 0 && send_all(s, s->held[i]->data, s->held[i]->len) != 0) {
            rc = 1;
        }
    }
    s->holding = 0;
    if (rc != 0 || s->overflow) {
        /* Gone, or too slow to catch up: cut (it may resume from what it got). */
        drop(hub, s, rc == 0);
    }
    pthread_mutex_unlock(&hub->mu);
    return rc < 0 ? -1 : 0;
}

/* ---- marks (pure) ---- */

void bbs_hub_marks_push(struct bbs_hub_marks *m, int64_t last, uint64_t ticket)
{
    if (m->n > 0 && m->last[m->n - 1] == last) {
        return; /* nothing handed out since: the older mark settles first */
    }
    if (m->n == BBS_HUB_MARKS) {
        /* Full (a ticket held long): the oldest goes; a newer mark
         * settles no earlier, so nothing is passed too soon. */
        memmove(&m->last[0], &m->last[1], (BBS_HUB_MARKS - 1) * sizeof(m->last[0]));
        memmove(&m->ticket[0], &m->ticket[1], (BBS_HUB_MARKS - 1) * sizeof(m->ticket[0]));
        m->n--;
    }
    m->last[m->n] = last;
    m->ticket[m->n] = ticket;
    m->n++;
}

int64_t bbs_hub_marks_settle(struct bbs_hub_marks *m, uint64_t oldest_held)
{
    int64_t upto = -1;
    int k = 0;

    /* Tickets only grow, so the settled marks are the oldest ones. */
    while (k < m->n && m->ticket[k] <= oldest_held) {
        upto = m->last[k];
        k++;
    }
    if (k > 0) {
        memmove(&m->last[0], &m->last[k], (size_t)(m->n - k) * sizeof(m->last[0]));
        memmove(&m->ticket[0], &m->ticket[k], (size_t)(m->n - k) * sizeof(m->ticket[0]));
        m->n -= k;
    }
    return upto;
}

/* ---- the thread ---- */

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Under nothing: every id up to `upto` is settled and what it had is out. */
static void advance(struct bbs_hub *hub, int64_t upto)
{
    pthread_mutex_lock(&hub->mu);
    if (upto > hub->last) {
        hub->last = upto;
    }
    pthread_mutex_unlock(&hub->mu);
}

/*
 * Mark what has been handed out, then deliver every id after `last` up to
 * the newest settled mark: one whose rows are all committed or never will
 * be (no ticket older than it is held). Under a steady load the newest
 * mark settles at the next step, a few milliseconds later.
 */
static int step(struct bbs_hub *hub, struct bbs_error *err)
{
    int64_t mark;
    int64_t upto;
    int64_t after;
    uint64_t ticket;

    if (bbs_store_changelog_mark(hub->st, &mark, &ticket, err) != 0) {
        return -1;
    }
    bbs_hub_marks_push(&hub->marks, mark, ticket);
    upto = bbs_hub_marks_settle(&hub->marks, bbs_store_ticket_oldest(hub->st));
    if (upto > hub->settled) {
        hub->settled = upto;
    }
    upto = hub->settled;
    /* Only this thread moves `last`: reading it unlocked is safe here. */
    after = hub->last;
    if (upto <= after || bbs_hub_pass(hub, upto)) {
        return 0; /* nothing new, or nobody to give it to */
    }
    atomic_fetch_add(&hub->reads, 1);
    for (;;) {
        struct bbs_arena *arena = bbs_arena_new();
        struct bbs_changelog_row *rows = NULL;
        size_t n = 0;

        if (bbs_store_changelog_read(hub->st, arena, after, upto, hub->cfg.batch, &rows, &n, err) !=
            0) {
            bbs_arena_free(arena);
            return -1;
        }
        bbs_hub_deliver(hub, rows, n);
        if (n > 0) {
            after = rows[n - 1].seq;
        }
        bbs_arena_free(arena);
        if (n < (size_t)hub->cfg.batch || atomic_load(&hub->stopping)) {
            break;
        }
    }
    if (!atomic_load(&hub->stopping)) {
        advance(hub, upto); /* past the holes (rolled-back inserts) too */
    }
    return 0;
}

/* Wait up to `ns` for a poke or a stop; read what the pipe holds. */
static void wait_poke(struct bbs_hub *hub, int64_t ns)
{
    struct pollfd pfd = {.fd = hub->wake[0], .events = POLLIN};
    char buf[64];

    if (poll(&pfd, 1, (int)((ns + 999999) / 1000000)) > 0) {
        while (read(hub->wake[0], buf, sizeof(buf)) == (ssize_t)sizeof(buf)) {
        }
    }
}

/*
 * The store's commit hook (bbs_store_on_commit), on the writer's thread:
 * one byte per burst of commits, never a wait (the pipe is non-blocking).
 * Nothing while nobody listens: the thread then only marks at its poll
 * interval and passes what settled without reading it (bbs_hub_pass); a
 * subscriber pokes when it comes.
 */
static void poke(void *arg)
{
    struct bbs_hub *hub = arg;
    char c = 1;

    if (atomic_load(&hub->n_subs) == 0 || hub->wake[1] < 0) {
        return; /* nobody listens, or no thread (a hub never started) */
    }
    if (!atomic_exchange(&hub->poked, 1) && write(hub->wake[1], &c, 1) < 0) {
        /* full pipe: the thread is due to wake anyway */
    }
}

static void *thread_main(void *arg)
{
    struct bbs_hub *hub = arg;
    int64_t next_beat = mono_ns() + hub->cfg.heartbeat_ns;
    int64_t last_step = 0;
    int failing = 0;

    while (!atomic_load(&hub->stopping)) {
        struct bbs_error err = {0};
        int64_t now = mono_ns();
        int64_t wait_ns = hub->cfg.poll_ns;

        if (next_beat - now < wait_ns) {
            wait_ns = next_beat - now > 0 ? next_beat - now : 0;
        }
        wait_poke(hub, wait_ns);
        if (atomic_load(&hub->stopping)) {
            break;
        }
        /* A step is a fenced mark and a read: at most one per STEP_MIN_NS,
         * so a burst of commits shares one (the pokes that arrive meanwhile
         * stay in the pipe and are read next time). */
        now = mono_ns();
        if (now - last_step < STEP_MIN_NS) {
            struct timespec ts = {0, (long)(STEP_MIN_NS - (now - last_step))};

            nanosleep(&ts, NULL);
        }
        last_step = mono_ns();
        /* Cleared before reading: a commit after this point pokes again. */
        atomic_store(&hub->poked, 0);
        if (step(hub, &err) != 0) {
            /* Said once per outage, not once per poll. */
            if (!failing) {
                bbs_log(BBS_LOG_ERROR, "events.hub-read-failed", "{s:s}", "error", err.message);
            }
            failing = 1;
        } else if (failing) {
            bbs_log(BBS_LOG_INFO, "events.hub-read-recovered", NULL);
            failing = 0;
        }
        now = mono_ns();
        if (now >= next_beat) {
            bbs_hub_heartbeat(hub);
            next_beat = now + hub->cfg.heartbeat_ns;
        }
    }
    return NULL;
}

int bbs_hub_start(struct bbs_hub *hub, struct bbs_error *err)
{
    int64_t last;
    uint64_t ticket;
    int64_t give_up;

    if (bbs_store_changelog_mark(hub->st, &last, &ticket, err) != 0) {
        return -1;
    }
    /* Start after the newest id, once nothing below it may still commit.
     * Normally at once: the hub starts before this process's workers and
     * listener, and the previous leader's writes ended before this server
     * could lead. */
    give_up = mono_ns() + BBS_TICKET_GRACE_NS;
    while (bbs_store_ticket_oldest(hub->st) < ticket) {
        struct timespec ts = {0, 1000000};

        if (mono_ns() >= give_up) {
            /* Not expected (no writer runs yet): a change still open then
             * may have its events left out of the streams. */
            bbs_log(BBS_LOG_ERROR, "events.hub-start-unsettled", "{s:I}", "last_id",
                    (json_int_t)last);
            break;
        }
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&hub->mu);
    hub->last = last;
    pthread_mutex_unlock(&hub->mu);
    hub->settled = last;
    if (pipe(hub->wake) != 0 || fcntl(hub->wake[0], F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(hub->wake[1], F_SETFL, O_NONBLOCK) != 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "event hub: pipe: %s", strerror(errno));
        return -1;
    }
    bbs_store_on_commit(hub->st, poke, hub);
    /* Its own reads plus one writer: neither opens a connection for the
     * first change (bbs_store_warm). */
    bbs_store_warm(hub->st, 2);
    if (pthread_create(&hub->thread, NULL, thread_main, hub) != 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "event hub: cannot start its thread");
        return -1;
    }
    hub->started = 1;
    return 0;
}

void bbs_hub_free(struct bbs_hub *hub)
{
    struct sub *next;

    if (hub == NULL) {
        return;
    }
    if (hub->started) {
        char c = 1;

        /* Every writer has stopped by now (main stops the hub last). */
        bbs_store_on_commit(hub->st, NULL, NULL);
        atomic_store(&hub->stopping, 1);
        if (write(hub->wake[1], &c, 1) < 0) {
            /* the thread still sees `stopping` at its next poll */
        }
        pthread_join(hub->thread, NULL);
    }
    for (int i = 0; i < 2; i++) {
        if (hub->wake[i] >= 0) {
            close(hub->wake[i]);
        }
    }
    pthread_mutex_lock(&hub->mu);
    for (struct sub *s = hub->head; s != NULL; s = next) {
        next = s->next;
        s->sink.end(s->sink.ctx);
        sub_free(s);
    }
    hub->head = NULL;
    pthread_mutex_unlock(&hub->mu);
    pthread_mutex_destroy(&hub->mu);
    free(hub);
}
