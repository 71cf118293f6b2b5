/*
 * listen.c - the listening sockets (bbs_http_listen in http.h), opened by
 * main.c before anything else starts so that a port in use is refused
 * before the embedded PostgreSQL's initdb and the migrations run, with the
 * OS error in the message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bbs/http.h"

static int parse_listen(const char *key, const char *addr, struct sockaddr_in *sa,
                        struct bbs_error *err)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    size_t hl;

    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    if (colon == NULL || (hl = (size_t)(colon - addr)) >= sizeof(host)) {
        goto bad;
    }
    memcpy(host, addr, hl);
    host[hl] = '\0';
    sa->sin_port = htons((uint16_t)atoi(colon + 1));
    if (hl == 0) {
        sa->sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (strcmp(host, "localhost") == 0) {
        sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
        goto bad;
    }
    return 0;
bad:
    bbs_error_setf(err, BBS_ERR_UNKNOWN, "%s \"%s\" is not an IPv4 host:port", key, addr);
    return -1;
}

int bbs_http_listen(const char *key, const char *addr, struct bbs_error *err)
{
    struct sockaddr_in sa;
    int one = 1;
    int fd;

    if (parse_listen(key, addr, &sa, err) != 0) {
        return -1;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "cannot listen on %s: %s", addr, strerror(errno));
        return -1;
    }
    /* SO_REUSEADDR only (fast restarts); never SO_REUSEPORT, which would let
     * a second server share the port silently. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, SOMAXCONN) != 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "cannot listen on %s: %s", addr, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}
