/*
 * recv.c - see recv.h: the recording HTTP stand-ins' daemon, bodies and
 * client certificates.
 */
#include "support/recv.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

struct MHD_Daemon *it_recv_start(unsigned flags, MHD_AccessHandlerCallback h, void *cls,
                                 const char *cert, const char *key, const char *ca, int *port)
{
    struct sockaddr_in a = {0};
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;

    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (cert != NULL) {
        /* With a trust list libmicrohttpd asks every client for its certificate. */
        d = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, h, cls, MHD_OPTION_SOCK_ADDR,
                             (struct sockaddr *)&a, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                             MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
                             MHD_OPTION_HTTPS_MEM_TRUST, ca, MHD_OPTION_END);
    } else {
        d = MHD_start_daemon(flags, 0, NULL, NULL, h, cls, MHD_OPTION_SOCK_ADDR,
                             (struct sockaddr *)&a, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                             MHD_OPTION_END);
    }
    if (d == NULL) {
        return NULL;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    *port = info != NULL ? info->port : 0;
    return d;
}

int it_recv_gather(void **con_cls, const char *upload_data, size_t *upload_data_size)
{
    struct it_recv_conn *rc = *con_cls;

    if (rc == NULL) {
        rc = calloc(1, sizeof(*rc));
        *con_cls = rc;
        return rc != NULL ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size > 0) {
        size_t room = sizeof(rc->body) - 1 - rc->len;
        size_t n = *upload_data_size < room ? *upload_data_size : room;

        memcpy(rc->body + rc->len, upload_data, n);
        rc->len += n;
        *upload_data_size = 0;
        return MHD_YES;
    }
    return -1;
}

void it_recv_peer(struct MHD_Connection *conn, int *verified, char *cn, size_t cn_size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    const gnutls_datum_t *chain;
    unsigned int n = 0, status = 1;
    gnutls_x509_crt_t crt;
    size_t len = cn_size;

    if (ci == NULL || ci->tls_session == NULL) {
        return;
    }
    chain = gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n);
    if (chain == NULL || n == 0) {
        return;
    }
    *verified = gnutls_certificate_verify_peers2((gnutls_session_t)ci->tls_session, &status) == 0 &&
                status == 0;
    if (gnutls_x509_crt_init(&crt) != 0) {
        return;
    }
    if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) == 0) {
        gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &len);
    }
    gnutls_x509_crt_deinit(crt);
}

enum MHD_Result it_recv_answer(struct MHD_Connection *conn, unsigned status)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);

    MHD_destroy_response(r);
    return ret;
}
