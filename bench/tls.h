/*
 * tls.h - the load generator's TLS client sessions, over GnuTLS (the
 * library the server is built with): one set of credentials per run, one
 * non-blocking session per socket. Used by the request client (http_raw.c)
 * and the event streams (evstream.c).
 */
#ifndef BENCH_TLS_H
#define BENCH_TLS_H

#include <gnutls/gnutls.h>

/*
 * Credentials from PEM files: `ca_file` the CAs to trust (NULL: the
 * system's), `cert_file` and `key_file` the client certificate for mutual
 * TLS (NULL: none; a NULL key is read from the certificate's file).
 * With `insecure` an unreadable CA file is no error. 0, or -1 after
 * printing why.
 */
int bench_tls_cred_new(const char *ca_file, const char *cert_file, const char *key_file,
                       int insecure, gnutls_certificate_credentials_t *out);

/*
 * A client session on connected socket `fd`, verifying the server's
 * certificate against `host` unless `insecure` (and naming `host` in SNI
 * when it is a DNS name). The handshake is the caller's (non-blocking).
 * 0, or -1 when GnuTLS cannot set the session up.
 */
int bench_tls_session_new(gnutls_session_t *out, gnutls_certificate_credentials_t cred,
                          const char *host, int insecure, int fd);

#endif /* BENCH_TLS_H */
