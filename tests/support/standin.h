/*
 * standin.h - what the Python stand-ins (support/locket.c, ingress.c)
 * share: their certificate set, the child process on a pair of pipes, and
 * one JSON line per command in each direction.
 *
 * The script is started with Debian's /usr/bin/python3 as
 *     <script> --proto-dir <proto/> --ca <ca> --cert <cert> --key <key>
 * and first prints {"port": N}; then every command line gets one answer
 * line with "ok" (and "error" when not ok). Every function prints what went
 * wrong on stderr, prefixed with `name`; none asserts.
 */
#ifndef BBS_IT_SUPPORT_STANDIN_H
#define BBS_IT_SUPPORT_STANDIN_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "support/certs.h"

struct it_standin {
    const char *name; /* "locket stand-in", for messages */
    pid_t pid;
    FILE *to;   /* its stdin */
    int from;   /* its stdout; -1 when not running (set before the first start) */
    char *line; /* `cap` bytes, the answers read so far */
    size_t cap;
    size_t have; /* bytes buffered in line */
    struct it_certs certs;
    char ca[300], cert[300], key[300], client[300], client_key[300], untrusted[300],
        untrusted_key[300];
};

/*
 * The certificates in /tmp/bbs-it-<svc>-XXXXXX: the CA <svc>-ca, the
 * stand-in's <svc>.pem signed with the extension section `ext`, the
 * server's client certificate bbs-<svc>-client.pem, and untrusted-client.pem
 * from another CA; their paths in the struct's fields. 0 or -1.
 */
int it_standin_certs(struct it_standin *s, const char *svc, const char *ext);

/*
 * Run BBS_IT_SUPPORT_DIR/<script> with the certificates made above and an
 * answer buffer of `line_max` bytes; the port it listens on in `*port`.
 * 0, or -1 after it_standin_stop.
 */
int it_standin_start(struct it_standin *s, const char *script, size_t line_max, int *port);

/* Send `cmd` (stolen), read the answer; the answer (new reference) when ok, else NULL. */
json_t *it_standin_cmd(struct it_standin *s, json_t *cmd);

/* Tell it to quit (killed after 5 s), close the pipes, remove the certificates. */
void it_standin_stop(struct it_standin *s);

#endif /* BBS_IT_SUPPORT_STANDIN_H */
