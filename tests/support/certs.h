/*
 * certs.h - a throwaway certificate authority for the TLS tests, made with
 * openssl at run time in a private temp folder: CAs, RSA keys, and
 * certificates signed with a server or a client profile.
 *
 * Files are named inside the folder; it_certs_path() gives the full path.
 * Every function prints what went wrong on stderr and returns -1; none
 * asserts, so they can run in a cmocka group setup.
 */
#ifndef BBS_IT_SUPPORT_CERTS_H
#define BBS_IT_SUPPORT_CERTS_H

#include <stddef.h>

struct it_certs {
    char dir[256]; /* "" until it_certs_init succeeded */
    char log[300]; /* openssl's output, for a failing call */
};

/*
 * Make /tmp/<prefix>-XXXXXX with the CA database (its config has the
 * extension sections "server": serverAuth for 127.0.0.1 and localhost,
 * "metron": serverAuth for the name metron (the loggregator agent), and
 * "client": clientAuth).
 */
int it_certs_init(struct it_certs *c, const char *prefix);

/* A self-signed CA, <name>.pem and <name>.key, subject CN=bbs-it-<name>, valid 2 days. */
int it_certs_make_ca(struct it_certs *c, const char *name);

/* A 2048-bit RSA key in the file `file`. */
int it_certs_make_key(struct it_certs *c, const char *file);

/*
 * <name>.pem, subject CN=<name>, for the key file `key`, signed by the CA
 * `ca` (made by it_certs_make_ca) with the extension section `ext`.
 * `dates` are openssl ca arguments (NULL-terminated); NULL = "-days 2".
 */
int it_certs_issue(struct it_certs *c, const char *name, const char *key, const char *ca,
                   const char *ext, const char *const *dates);

/* "<dir>/<file>" into `out`. */
void it_certs_path(const struct it_certs *c, const char *file, char *out, size_t size);

/* Remove the folder and everything in it (nothing when init did not run). */
void it_certs_remove(struct it_certs *c);

/*
 * The server's mutual-TLS set (test_tls.c, test_bbsctl.c): in
 * /tmp/<prefix>-XXXXXX the CAs "ca" and "otherca", server.pem ("server"
 * profile) and client.pem by ca, and other.pem by otherca; every client
 * certificate is for client.key, so a case differs from the good one only
 * in its certificate. The full paths in the fields.
 */
struct it_tls_set {
    struct it_certs certs;
    char ca[300], server[300], server_key[300], client[300], client_key[300], other_ca[300],
        other[300];
};

/* Make the set. 0 or -1. */
int it_tls_set_make(struct it_tls_set *t, const char *prefix);

/*
 * Start the server `name` with require_ssl on the set's server certificate
 * and CA, the harness's clients presenting client.pem (it_tls_client).
 * it_server_start's result.
 */
int it_tls_set_server_start(const struct it_tls_set *t, const char *name);

/* Stop the server, forget the client certificate, remove the set. it_server_stop's result. */
int it_tls_set_server_stop(struct it_tls_set *t);

#endif /* BBS_IT_SUPPORT_CERTS_H */
