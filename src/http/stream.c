/*
 * stream.c - long-lived responses and their registry (stream.h).
 *
 * Locks: the registry's `mu` is taken before a stream's own `mu`, never
 * after. libmicrohttpd's suspend and resume are
 * called under the stream's `mu`, so `suspended` always says whether the
 * connection is suspended by us and a resume never misses a suspend.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/buf.h"
#include "bbs/log.h"
#include "bbs/xalloc.h"
#include "conn.h"
#include "stream.h"

struct bbs_streams {
    pthread_mutex_t mu; /* guards head and closed */
    struct bbs_stream *head;
    int closed;      /* bbs_streams_end_all ran: new streams end at birth */
    atomic_int refs; /* the server's, plus one per stream */
};

struct bbs_stream {
    struct bbs_streams *reg;
    struct MHD_Connection *conn;
    int fd; /* the connection's socket, for bbs_streams_end_gone; -1 unknown */
    atomic_int refs;
    int blocking; /* thread per connection: the reader waits on `cv` instead of suspending */

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;
    struct bbs_buf pending; /* bytes not yet handed to libmicrohttpd, from `off` */
    size_t off;
    /* Where each record sent with bbs_stream_send_bounded ends in `pending`
     * (ends[ends_head..n_ends)): the records waiting for the client, each
     * handed over as one chunk. */
    size_t *ends;
    size_t ends_head;
    size_t n_ends;
    size_t cap_ends;
    int ended;     /* no more bytes: the body ends once `pending` is out */
    int gone;      /* libmicrohttpd freed the response: nobody reads any more */
    int suspended; /* the reader suspended the connection waiting for bytes */

    struct bbs_stream *prev; /* the registry, under reg->mu */
    struct bbs_stream *next;
};

/* Under s->mu: let a waiting reader run again. */
static void wake(struct bbs_stream *s)
{
    if (s->suspended) {
        s->suspended = 0;
        MHD_resume_connection(s->conn);
    }
    pthread_cond_broadcast(&s->cv);
}

struct bbs_streams *bbs_streams_new(void)
{
    struct bbs_streams *reg = bbs_xcalloc(1, sizeof(*reg));

    pthread_mutex_init(&reg->mu, NULL);
    atomic_init(&reg->refs, 1);
    return reg;
}

void bbs_streams_release(struct bbs_streams *reg)
{
    if (reg == NULL || atomic_fetch_sub(&reg->refs, 1) != 1) {
        return;
    }
    pthread_mutex_destroy(&reg->mu);
    free(reg);
}

struct bbs_stream *bbs_stream_new(struct bbs_streams *reg, struct MHD_Connection *conn,
                                  int thread_per_connection)
{
    struct bbs_stream *s = bbs_xcalloc(1, sizeof(*s));

    s->reg = reg;
    s->conn = conn;
    s->fd = -1; /* known once queued */
    atomic_init(&s->refs, 1);
    s->blocking = thread_per_connection;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    atomic_fetch_add(&reg->refs, 1);
    pthread_mutex_lock(&reg->mu);
    s->ended = reg->closed; /* the server is stopping: ended at birth */
    s->next = reg->head;
    if (reg->head != NULL) {
        reg->head->prev = s;
    }
    reg->head = s;
    pthread_mutex_unlock(&reg->mu);
    return s;
}

void bbs_stream_ref(struct bbs_stream *s)
{
    if (s != NULL) {
        atomic_fetch_add(&s->refs, 1);
    }
}

void bbs_stream_unref(struct bbs_stream *s)
{
    struct bbs_streams *reg;

    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1) {
        return;
    }
    reg = s->reg;
    pthread_mutex_lock(&reg->mu);
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        reg->head = s->next;
    }
    if (s->next != NULL) {
        s->next->prev = s->prev;
    }
    pthread_mutex_unlock(&reg->mu);
    bbs_buf_free(&s->pending);
    free(s->ends);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
    bbs_streams_release(reg);
}

int bbs_stream_send(struct bbs_stream *s, const void *p, size_t n)
{
    int rc = -1;

    pthread_mutex_lock(&s->mu);
    if (!s->ended && !s->gone) {
        bbs_buf_append(&s->pending, p, n);
        wake(s);
        rc = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int bbs_stream_send_bounded(struct bbs_stream *s, const void *p, size_t n, size_t max)
{
    int rc = -1;

    pthread_mutex_lock(&s->mu);
    if (s->ended || s->gone) {
        goto out;
    }
    if (s->n_ends - s->ends_head >= max) {
        rc = 1;
        goto out;
    }
    if (s->ends_head > 0 && s->ends_head == s->n_ends) {
        s->ends_head = s->n_ends = 0;
    }
    if (s->n_ends == s->cap_ends) {
        /* Slide the live part down before growing. */
        if (s->ends_head > 0) {
            memmove(s->ends, s->ends + s->ends_head, (s->n_ends - s->ends_head) * sizeof(size_t));
            s->n_ends -= s->ends_head;
            s->ends_head = 0;
        }
        if (s->n_ends == s->cap_ends) {
            s->cap_ends = s->cap_ends ? s->cap_ends * 2 : 16;
            s->ends = bbs_xrealloc(s->ends, s->cap_ends * sizeof(size_t));
        }
    }
    bbs_buf_append(&s->pending, p, n);
    s->ends[s->n_ends++] = s->pending.len;
    wake(s);
    rc = 0;
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void bbs_stream_end(struct bbs_stream *s)
{
    pthread_mutex_lock(&s->mu);
    s->ended = 1;
    wake(s);
    pthread_mutex_unlock(&s->mu);
}

void bbs_streams_end_all(struct bbs_streams *reg)
{
    int n = 0;

    pthread_mutex_lock(&reg->mu);
    reg->closed = 1;
    for (struct bbs_stream *s = reg->head; s != NULL; s = s->next) {
        bbs_stream_end(s);
        n++;
    }
    pthread_mutex_unlock(&reg->mu);
    if (n > 0) {
        bbs_log(BBS_LOG_INFO, "http.streams-ended", "{s:i}", "streams", n);
    }
}

void bbs_streams_end_gone(struct bbs_streams *reg)
{
    struct pollfd *fds = NULL;
    struct bbs_stream **ss = NULL;
    size_t n = 0;
    size_t cap = 0;

    pthread_mutex_lock(&reg->mu);
    for (struct bbs_stream *s = reg->head; s != NULL; s = s->next) {
        int live;

        pthread_mutex_lock(&s->mu);
        live = !s->ended && !s->gone && s->fd >= 0;
        pthread_mutex_unlock(&s->mu);
        if (!live) {
            continue;
        }
        if (n == cap) {
            cap = cap > 0 ? cap * 2 : 16;
            fds = bbs_xrealloc(fds, cap * sizeof(*fds));
            ss = bbs_xrealloc(ss, cap * sizeof(*ss));
        }
        fds[n] = (struct pollfd){s->fd, POLLIN, 0};
        ss[n] = s;
        bbs_stream_ref(s); /* kept past the registry lock */
        n++;
    }
    pthread_mutex_unlock(&reg->mu);
    /* A socket closed and reused since is harmless: ending an ended or gone stream does
     * nothing, and a live stream's socket cannot have been reused. */
    if (n > 0 && poll(fds, (nfds_t)n, 0) > 0) {
        for (size_t i = 0; i < n; i++) {
            if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                bbs_stream_end(ss[i]);
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        bbs_stream_unref(ss[i]);
    }
    free(fds);
    free(ss);
}

/*
 * libmicrohttpd asks for more of the body (on the connection's thread).
 * Hands over what is pending; at the end of a stream, ends the body;
 * otherwise waits for the producer without holding the thread: suspends
 * the connection (returning 0, as libmicrohttpd allows together with a
 * suspend) or, with a thread per connection, blocks.
 */
static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct bbs_stream *s = cls;
    ssize_t rc;

    (void)pos;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        size_t left = s->pending.len - s->off;

        if (left > 0) {
            size_t n = left < max ? left : max;

            /* One record per chunk, as upstream writes them. */
            if (s->ends_head < s->n_ends && s->ends[s->ends_head] - s->off < n) {
                n = s->ends[s->ends_head] - s->off;
            }
            memcpy(buf, s->pending.data + s->off, n);
            s->off += n;
            while (s->ends_head < s->n_ends && s->ends[s->ends_head] <= s->off) {
                s->ends_head++;
            }
            if (s->off == s->pending.len) {
                s->pending.len = 0;
                s->off = 0;
                s->ends_head = s->n_ends = 0;
            } else if (s->off >= 65536 && s->off * 2 >= s->pending.len) {
                /* A client that never quite catches up: keep the buffer from growing. */
                memmove(s->pending.data, s->pending.data + s->off, s->pending.len - s->off);
                s->pending.len -= s->off;
                for (size_t i = s->ends_head; i < s->n_ends; i++) {
                    s->ends[i] -= s->off;
                }
                s->off = 0;
            }
            rc = (ssize_t)n;
            break;
        }
        if (s->ended) {
            rc = MHD_CONTENT_READER_END_OF_STREAM;
            break;
        }
        if (!s->blocking) {
            s->suspended = 1;
            MHD_suspend_connection(s->conn);
            rc = 0;
            break;
        }
        pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* libmicrohttpd is done with the response (body ended, or the connection closed). */
static void reader_free(void *cls)
{
    struct bbs_stream *s = cls;

    pthread_mutex_lock(&s->mu);
    s->gone = 1;
    s->suspended = 0; /* the connection is finished with: never resume it */
    pthread_mutex_unlock(&s->mu);
    bbs_stream_unref(s);
}

enum MHD_Result bbs_stream_queue(struct MHD_Connection *conn, struct bbs_stream *s,
                                 const char *type)
{
    struct bbs_conn *c = bbs_conn_of(conn);
    struct MHD_Response *resp;

    /* Streamed: neither the read deadline nor the idle timeout applies. */
    bbs_conn_set_deadline(c, 0);
    pthread_mutex_lock(&s->mu);
    s->fd = c != NULL ? c->fd : -1; /* watched by bbs_streams_end_gone */
    pthread_mutex_unlock(&s->mu);
    bbs_http_untime(conn);
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, reader, s, reader_free);
    if (resp == NULL) {
        bbs_stream_unref(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                            "no-cache, no-store, must-revalidate");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "keep-alive");
    return bbs_http_answer(conn, MHD_HTTP_OK, resp);
}
