/*
 * tls.h - private to the HTTP target: the TLS files as libmicrohttpd takes
 * them, and the per-connection GnuTLS set-up (client verification in the
 * handshake, plain HTTP on the TLS port answered 400).
 */
#ifndef BBS_HTTP_TLS_H
#define BBS_HTTP_TLS_H

#include <microhttpd.h>

#include "conn.h"

/*
 * Upstream's policy for TLS 1.2 (ECDHE-RSA with AES-GCM, reference 1.1),
 * plus TLS 1.3 with its AES-GCM suites. SECURE128 supplies the groups and
 * signature algorithms; everything older than 1.2 is off.
 */
#define BBS_TLS_PRIORITIES                                                                         \
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:"         \
    "-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-RSA:%SERVER_PRECEDENCE"

struct bbs_http_tls {
    char *cert; /* PEM text, NUL-terminated (libmicrohttpd takes C strings) */
    char *key;
    char *ca;
};

/*
 * Take over the GnuTLS session of the new connection `mc` before its
 * handshake: transport through `c` (which the session borrows for its
 * life), client certificate requested and verified against ca_file
 * (c->verified is set when it passes), old ClientHellos refused with an
 * alert. Without a session c->verified stays 0 and every request on the
 * connection is refused.
 */
void bbs_tls_session_setup(struct MHD_Connection *mc, struct bbs_conn *c);

#endif /* BBS_HTTP_TLS_H */
