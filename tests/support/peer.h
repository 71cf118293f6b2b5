/*
 * peer.h - more bbs servers on the harness's database (leadership tests):
 * started with their own ports and config, controlled by pid.
 */
#ifndef BBS_IT_SUPPORT_PEER_H
#define BBS_IT_SUPPORT_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

struct it_peer {
    pid_t pid;  /* 0 once it exited and was reaped */
    int port;   /* API */
    int health; /* health listener */
    char log[256];
    char config[256];
};

/*
 * Start `BBS_BINARY` with the harness database, free ports, uuid `name`,
 * convergence held off, and `extra` keys (borrowed; NULL = none); waits
 * until its health listener answers (asserts).
 */
void it_peer_start(struct it_peer *p, const char *name, json_t *extra);

/* Wait up to `ms` for it to exit: the waitpid status, or -1 if still running. */
int it_peer_wait(struct it_peer *p, int ms);

/* SIGKILL it if running, remove its log and config. */
void it_peer_cleanup(struct it_peer *p);

/* Print its log on stderr. */
void it_peer_print_log(const struct it_peer *p);

/*
 * POST `path` with `body` to 127.0.0.1:`port` (protobuf content type): the
 * HTTP status, -1 when no connection was made; `*resp_len` (may be NULL)
 * the body length.
 */
long it_post_port(int port, const char *path, const void *body, size_t len, size_t *resp_len);

/* A response body (malloc'd; free `data`). */
struct it_resp_body {
    uint8_t *data;
    size_t len;
};

/* it_post_port keeping the body in `*out`. */
long it_post_port_body(int port, const char *path, const void *body, size_t len,
                       struct it_resp_body *out);

/* GET `path` on 127.0.0.1:`port`: the 200 answer's JSON (new reference), NULL otherwise. */
json_t *it_get_json_port(int port, const char *path);

/* 1 when the API on `port` answers ping true. */
int it_serves(int port);

/* GET /ping on the health `port`: the status, `role` = its X-BBS-Role ("" when none). */
long it_health_role(int port, char role[32]);

/* Of `n` peers, the first that serves within `ms` (NULL if none); `*took_ms` how long. */
struct it_peer *it_first_serving(struct it_peer **ps, int n, int ms, int64_t *took_ms);

#endif /* BBS_IT_SUPPORT_PEER_H */
