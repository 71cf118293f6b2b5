/*
 * certs.c - see certs.h.
 */
#include "support/certs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/http.h"
#include "support/server.h"

static const char ca_cnf[] = "[ca]\n"
                             "default_ca = ca_sect\n"
                             "[ca_sect]\n"
                             "dir = .\n"
                             "database = index.txt\n"
                             "serial = serial\n"
                             "new_certs_dir = .\n"
                             "default_md = sha256\n"
                             "policy = any\n"
                             "unique_subject = no\n"
                             "[any]\n"
                             "commonName = supplied\n"
                             "[server]\n"
                             "subjectAltName = IP:127.0.0.1,DNS:localhost\n"
                             "extendedKeyUsage = serverAuth\n"
                             "keyUsage = digitalSignature,keyEncipherment\n"
                             "[client]\n"
                             "extendedKeyUsage = clientAuth\n"
                             "keyUsage = digitalSignature,keyEncipherment\n"
                             /* The loggregator agent: clients verify the name "metron". */
                             "[metron]\n"
                             "subjectAltName = DNS:metron\n"
                             "extendedKeyUsage = serverAuth\n"
                             "keyUsage = digitalSignature,keyEncipherment\n";

static int write_text(const struct it_certs *c, const char *name, const char *text)
{
    char p[300];
    FILE *f;

    it_certs_path(c, name, p, sizeof(p));
    f = fopen(p, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "certs: cannot write %s\n", p);
        return -1;
    }
    return 0;
}

/* openssl with cwd = the folder (its CA database is relative). */
static int openssl(const struct it_certs *c, const char *const *args)
{
    const char *argv[40];
    int n = 0;

    argv[n++] = "sh";
    argv[n++] = "-c";
    argv[n++] = "cd \"$0\" && exec openssl \"$@\"";
    argv[n++] = c->dir;
    for (int i = 0; args[i] != NULL && n < 39; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    if (it_run(argv, c->log) != 0) {
        fprintf(stderr, "certs: openssl %s failed; see %s\n", args[0], c->log);
        return -1;
    }
    return 0;
}

int it_certs_init(struct it_certs *c, const char *prefix)
{
    char tmpl[256];

    memset(c, 0, sizeof(*c));
    snprintf(tmpl, sizeof(tmpl), "/tmp/%s-XXXXXX", prefix);
    if (mkdtemp(tmpl) == NULL) {
        fprintf(stderr, "certs: mkdtemp %s: %s\n", tmpl, strerror(errno));
        return -1;
    }
    snprintf(c->dir, sizeof(c->dir), "%s", tmpl);
    it_certs_path(c, "openssl.log", c->log, sizeof(c->log));
    if (write_text(c, "ca.cnf", ca_cnf) != 0 || write_text(c, "index.txt", "") != 0 ||
        write_text(c, "serial", "01\n") != 0) {
        return -1;
    }
    return 0;
}

int it_certs_make_ca(struct it_certs *c, const char *name)
{
    char key[64], pem[64], subj[80];
    const char *args[] = {"req",
                          "-x509",
                          "-newkey",
                          "rsa:2048",
                          "-nodes",
                          "-keyout",
                          key,
                          "-out",
                          pem,
                          "-days",
                          "2",
                          "-subj",
                          subj,
                          "-addext",
                          "basicConstraints=critical,CA:TRUE",
                          "-addext",
                          "keyUsage=critical,keyCertSign,cRLSign",
                          NULL};

    snprintf(key, sizeof(key), "%s.key", name);
    snprintf(pem, sizeof(pem), "%s.pem", name);
    snprintf(subj, sizeof(subj), "/CN=bbs-it-%s", name);
    return openssl(c, args);
}

int it_certs_make_key(struct it_certs *c, const char *file)
{
    const char *args[] = {"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                          "-out",    file,         NULL};

    return openssl(c, args);
}

int it_certs_issue(struct it_certs *c, const char *name, const char *key, const char *ca,
                   const char *ext, const char *const *dates)
{
    static const char *const two_days[] = {"-days", "2", NULL};
    char csr[64], out[64], ca_pem[64], ca_key[64], subj[80];
    const char *req[] = {"req", "-new", "-key", key, "-out", csr, "-subj", subj, NULL};
    const char *sign[20] = {"ca",   "-batch",   "-config",     "ca.cnf", "-cert",
                            ca_pem, "-keyfile", ca_key,        "-in",    csr,
                            "-out", out,        "-extensions", ext,      NULL};
    int n = 14;

    snprintf(csr, sizeof(csr), "%s.csr", name);
    snprintf(out, sizeof(out), "%s.pem", name);
    snprintf(ca_pem, sizeof(ca_pem), "%s.pem", ca);
    snprintf(ca_key, sizeof(ca_key), "%s.key", ca);
    snprintf(subj, sizeof(subj), "/CN=%s", name);
    if (dates == NULL) {
        dates = two_days;
    }
    for (int i = 0; dates[i] != NULL && n < 19; i++) {
        sign[n++] = dates[i];
    }
    sign[n] = NULL;
    return openssl(c, req) == 0 && openssl(c, sign) == 0 ? 0 : -1;
}

void it_certs_path(const struct it_certs *c, const char *file, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", c->dir, file);
}

void it_certs_remove(struct it_certs *c)
{
    const char *argv[] = {"rm", "-rf", c->dir, NULL};

    if (c->dir[0] != '\0') {
        it_run(argv, NULL);
        c->dir[0] = '\0';
    }
}

int it_tls_set_make(struct it_tls_set *t, const char *prefix)
{
    struct it_certs *c = &t->certs;

    if (it_certs_init(c, prefix) != 0) {
        return -1;
    }
    it_certs_path(c, "ca.pem", t->ca, sizeof(t->ca));
    it_certs_path(c, "server.pem", t->server, sizeof(t->server));
    it_certs_path(c, "server.key", t->server_key, sizeof(t->server_key));
    it_certs_path(c, "client.pem", t->client, sizeof(t->client));
    it_certs_path(c, "client.key", t->client_key, sizeof(t->client_key));
    it_certs_path(c, "otherca.pem", t->other_ca, sizeof(t->other_ca));
    it_certs_path(c, "other.pem", t->other, sizeof(t->other));
    if (it_certs_make_ca(c, "ca") != 0 || it_certs_make_ca(c, "otherca") != 0 ||
        it_certs_make_key(c, "server.key") != 0 || it_certs_make_key(c, "client.key") != 0 ||
        it_certs_issue(c, "server", "server.key", "ca", "server", NULL) != 0 ||
        it_certs_issue(c, "client", "client.key", "ca", "client", NULL) != 0 ||
        it_certs_issue(c, "other", "client.key", "otherca", "client", NULL) != 0) {
        return -1;
    }
    return 0;
}

int it_tls_set_server_start(const struct it_tls_set *t, const char *name)
{
    json_t *extra = json_pack("{s:b, s:s, s:s, s:s}", "require_ssl", 1, "ca_file", t->ca,
                              "cert_file", t->server, "key_file", t->server_key);
    int rc;

    it_server_config(extra);
    it_tls_client(t->ca, t->client, t->client_key);
    rc = it_server_start(name, NULL);
    it_server_config(NULL);
    json_decref(extra);
    return rc;
}

int it_tls_set_server_stop(struct it_tls_set *t)
{
    int rc = it_server_stop();

    it_tls_client(NULL, NULL, NULL);
    it_certs_remove(&t->certs);
    return rc;
}
