/*
 * tls.c - TLS credentials and client sessions for the load generator (see
 * tls.h).
 */
#include <stdio.h>
#include <string.h>

#include "tls.h"

int bench_tls_cred_new(const char *ca_file, const char *cert_file, const char *key_file,
                       int insecure, gnutls_certificate_credentials_t *out)
{
    gnutls_certificate_credentials_t cred;
    int rc;

    *out = NULL;
    if (gnutls_certificate_allocate_credentials(&cred) < 0) {
        fputs("bbs-bench: gnutls: cannot allocate credentials\n", stderr);
        return -1;
    }
    rc = ca_file != NULL
             ? gnutls_certificate_set_x509_trust_file(cred, ca_file, GNUTLS_X509_FMT_PEM)
             : gnutls_certificate_set_x509_system_trust(cred);
    if (rc < 0 && !insecure) {
        fprintf(stderr, "bbs-bench: %s: %s\n", ca_file != NULL ? ca_file : "system CAs",
                gnutls_strerror(rc));
        gnutls_certificate_free_credentials(cred);
        return -1;
    }
    if (cert_file != NULL) {
        rc = gnutls_certificate_set_x509_key_file(
            cred, cert_file, key_file != NULL ? key_file : cert_file, GNUTLS_X509_FMT_PEM);
        if (rc < 0) {
            fprintf(stderr, "bbs-bench: %s: %s\n", cert_file, gnutls_strerror(rc));
            gnutls_certificate_free_credentials(cred);
            return -1;
        }
    }
    *out = cred;
    return 0;
}

int bench_tls_session_new(gnutls_session_t *out, gnutls_certificate_credentials_t cred,
                          const char *host, int insecure, int fd)
{
    gnutls_session_t s;

    *out = NULL;
    if (gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NONBLOCK) < 0) {
        return -1;
    }
    if (gnutls_set_default_priority(s) < 0 ||
        gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred) < 0) {
        gnutls_deinit(s);
        return -1;
    }
    if (!insecure) {
        gnutls_session_set_verify_cert(s, host, 0);
    }
    if (strspn(host, "0123456789.") != strlen(host) && strchr(host, ':') == NULL) {
        gnutls_server_name_set(s, GNUTLS_NAME_DNS, host, strlen(host));
    }
    gnutls_transport_set_int(s, fd);
    *out = s;
    return 0;
}
