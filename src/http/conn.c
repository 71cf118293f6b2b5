/*
 * conn.c - accepted connections, their read deadlines and the reaper
 * (conn.h, bbs_http_reap in http.h).
 *
 * A connection's deadline is when its current request must have arrived
 * completely: http_read_timeout after it was accepted, or after
 * http_idle_timeout + http_read_timeout once a request completed (a
 * keep-alive connection may idle, then its next request must arrive in
 * time). The request state machine clears the deadline once a request has
 * arrived, so a slow handler (a database outage) is never reaped under.
 *
 * What this module does not do: decide TLS (tls.c sets the session up) or
 * time requests out itself; the reaper runs when someone calls
 * bbs_http_reap().
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "bbs/log.h"
#include "bbs/xalloc.h"
#include "conn.h"
#include "stream.h"
#include "tls.h"

struct bbs_conn *bbs_conn_of(struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return info != NULL ? info->socket_context : NULL;
}

void bbs_conn_set_deadline(struct bbs_conn *c, int64_t deadline_ns)
{
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&c->h->mu);
    c->deadline_ns = deadline_ns;
    pthread_mutex_unlock(&c->h->mu);
}

static void peer_text(struct MHD_Connection *mc, char *out, size_t len)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr_in *sin;
    char ip[INET_ADDRSTRLEN] = "?";

    snprintf(out, len, "?");
    if (info == NULL || info->client_addr == NULL || info->client_addr->sa_family != AF_INET) {
        return;
    }
    sin = (const struct sockaddr_in *)(const void *)info->client_addr;
    inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
    snprintf(out, len, "%s:%u", ip, (unsigned)ntohs(sin->sin_port));
}

/*
 * A new connection must deliver its first request within
 * http_read_timeout; CLOSED unlinks it. Runs on the connection's worker
 * thread, before any byte is read.
 */
void bbs_conn_notify(void *cls, struct MHD_Connection *mc, void **socket_context,
                     enum MHD_ConnectionNotificationCode code)
{
    struct bbs_http *h = cls;
    struct bbs_conn *c = *socket_context;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);

        c = bbs_xcalloc(1, sizeof(*c));
        c->h = h;
        c->fd = fd != NULL ? fd->connect_fd : -1;
        peer_text(mc, c->peer, sizeof(c->peer));
        c->deadline_ns = bbs_http_mono_ns() + h->cfg->http_read_timeout_ns;
        if (h->tls) {
            bbs_tls_session_setup(mc, c);
        }
        pthread_mutex_lock(&h->mu);
        c->next = h->conns;
        if (h->conns != NULL) {
            h->conns->prev = c;
        }
        h->conns = c;
        pthread_mutex_unlock(&h->mu);
        *socket_context = c;
        return;
    }
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&h->mu);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        h->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    pthread_mutex_unlock(&h->mu);
    free(c);
    *socket_context = NULL;
}

/*
 * Shut down every connection past its deadline. shutdown() wakes the
 * connection's worker, whose next read sees end-of-file and closes it
 * through libmicrohttpd's normal path (CLOSED included), so the entry is
 * never freed here. Cheap when nothing is due: one pass over the list
 * under the mutex.
 */
void bbs_http_reap(struct bbs_http *h)
{
    int64_t now;
    int reaped = 0;

    if (h == NULL) {
        return;
    }
    now = bbs_http_mono_ns();
    pthread_mutex_lock(&h->mu);
    for (struct bbs_conn *c = h->conns; c != NULL; c = c->next) {
        if (c->deadline_ns != 0 && now > c->deadline_ns && c->fd >= 0) {
            shutdown(c->fd, SHUT_RDWR);
            c->deadline_ns = 0;
            reaped++;
        }
    }
    pthread_mutex_unlock(&h->mu);
    bbs_streams_end_gone(h->streams); /* clients that closed their event stream */
    if (reaped > 0) {
        bbs_log(BBS_LOG_INFO, "http.read-deadline", "{s:i, s:s}", "connections", reaped, "reason",
                "request not complete within http_read_timeout: closed");
    }
}
