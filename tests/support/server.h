/*
 * server.h - the bbs binary under test: start and stop it (with its database and
 * the stub auctioneer), its config file, its log, and process control.
 *
 * One server per test executable; state is process-wide.
 */
#ifndef BBS_IT_SUPPORT_SERVER_H
#define BBS_IT_SUPPORT_SERVER_H

#include <stdint.h>

#include <jansson.h>

struct it_server_opts {
    int64_t max_request_body_bytes; /* 0 = leave the server default (1048576) */
};

/*
 * Start the stub auctioneer, a database and the server for test group
 * `name` (lower-case letters, digits, '_'). Returns 0 or -1 (after printing
 * why and the server log). Usable from a cmocka group setup.
 */
int it_server_start(const char *name, const struct it_server_opts *opts);

/*
 * SIGTERM the server, wait for it, check exit status 0, stop the auctioneer,
 * drop the database. Returns 0 or -1 (after printing why and the server log).
 */
int it_server_stop(void);

/* cmocka group fixtures with default options; the name comes from it_set_name(). */
void it_set_name(const char *name);
int it_group_setup(void **state);
int it_group_teardown(void **state);

/*
 * Call last in main(): `rc` is cmocka's result. Prints the server log when
 * anything failed (including setup/teardown), removes the temp dir
 * otherwise, and returns the process exit status.
 */
int it_main_exit(int rc);

/* Base URL "http://127.0.0.1:PORT". */
const char *it_base_url(void);

/* 1 when running the server under valgrind. */
int it_valgrind(void);

/* How long to wait before concluding "nothing more will arrive" (auctions). */
int it_quiet_ms(void);

/* ---- variants and process control ---- */

/*
 * Extra top-level keys for the config file of the next it_server_start (a
 * JSON object; its keys replace those the harness writes). Borrowed until
 * it_server_config(NULL). Default none.
 */
void it_server_config(json_t *extra);

/* Run the next server without valgrind even under BBS_VALGRIND=1 (timing-bound tests). */
void it_server_no_valgrind(int on);

/* API and health ports of the running server (0 when none). */
int it_server_port(void);
int it_health_port(void);

/* Process id of the running server (0 when none), e.g. to signal it. */
int it_server_pid(void);

/*
 * Wait up to `timeout_ms` for the server to exit (after the test signalled
 * it). On exit returns 0 with the waitpid status in `*status`, and the
 * harness forgets the process (it_server_stop then only cleans up); -1 if
 * it is still running. Never asserts.
 */
int it_server_wait_exit(int timeout_ms, int *status);

/* The server log so far: malloc'd, NUL-terminated (free it); NULL when none. */
char *it_server_log(void);

/*
 * Run `argv` (argv[0] searched in PATH) with stdout and stderr appended to
 * `log_path` (NULL: /dev/null); returns its exit status, or -1 if it could
 * not be run or was killed. For test set-up (openssl, pg_ctl scripts).
 */
int it_run(const char *const *argv, const char *log_path);

/*
 * Stop the server with SIGTERM (it must exit 0) and start it again with the
 * same config, port and database. 0, or -1 (the test fails).
 */
int it_server_restart(void);

/*
 * Stop the server (it must exit 0; nothing when none runs), rewrite its
 * config with `extra` as the extra keys (as it_server_config; same ports
 * and database) and start it again. 0, or -1 (the test fails).
 */
int it_server_restart_config(json_t *extra);

/*
 * The same, for a config the server must refuse: start it and wait up to
 * `timeout_ms` for it to exit; 0 with the waitpid status in `*status`, -1
 * if it was still running (then killed). No server runs afterwards.
 */
int it_server_try_config(json_t *extra, int timeout_ms, int *status);

#endif /* BBS_IT_SUPPORT_SERVER_H */
