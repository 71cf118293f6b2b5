/*
 * harness.h - integration test harness: the real bbs binary against a real
 * PostgreSQL, driven over HTTP with libcurl.
 *
 * One server per test executable: the cmocka group setup creates a private
 * database (bbs_it_<name>_<pid>) on the fixture cluster named by
 * BBS_TEST_PGDIR, starts a stub auctioneer inside the test process, writes a
 * config file into a private temp dir and starts $BBS_BINARY on free
 * loopback ports (under valgrind when BBS_VALGRIND=1). The group teardown
 * sends SIGTERM, asserts exit status 0, and drops the database. Tests in one
 * file share the server, so every test uses its own process guids
 * (it_uniq()).
 *
 * What this harness does not do: it never reads the database directly
 * (every state is observed through the API, as a client would), and it
 * never touches src/.
 *
 * Assertions: functions documented "asserts" use cmocka assertions and must
 * only be called from the test's main thread. The it_client_* functions
 * never assert and are safe in worker threads (one client per thread).
 */
#ifndef BBS_IT_HARNESS_H
#define BBS_IT_HARNESS_H

#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "actual_lrp.pb-c.h"
#include "actual_lrp_requests.pb-c.h"
#include "desired_lrp.pb-c.h"
#include "domains.pb-c.h"
#include "error.pb-c.h"
#include "ping.pb-c.h"

/* protobuf-c string fields are `char *`; literals are const under -Wwrite-strings. */
#define IT_S(lit) ((char *)(lit))

/* "No error field in the response" (0 is UnknownError, so it cannot mean success). */
#define IT_OK (-1)

/* Canonical messages (reference 2.1.2). */
#define IT_MSG_INVALID    "the request received is invalid"
#define IT_MSG_NOT_FOUND  "the requested resource could not be found"
#define IT_MSG_EXISTS     "the requested resource already exists"
#define IT_MSG_NO_CLAIM   "cannot claim actual LRP"
#define IT_MSG_NO_START   "cannot start actual LRP"
#define IT_MSG_NO_CRASH   "cannot crash actual LRP"
#define IT_MSG_NO_FAIL    "cannot fail actual LRP"
#define IT_DOMAIN         "it-domain"
#define IT_ROOTFS         "preloaded:cflinuxfs4"
#define IT_PROTOBUF_CTYPE "application/x-protobuf"

/* ---- server lifecycle ---------------------------------------------------------------- */

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

/* ---- HTTP ------------------------------------------------------------------------------ */

struct it_resp {
    long status;
    char content_type[128];
    char allow[128];
    int64_t content_length; /* -1 when the response had none */
    long new_connections;   /* connections opened for this request (0 = reused) */
    uint8_t *body;          /* malloc'd, NUL-terminated for convenience */
    size_t len;
};

void it_resp_free(struct it_resp *r);

struct it_client;

/* A client with its own curl easy handle (keep-alive across its requests). */
struct it_client *it_client_new(void);
void it_client_free(struct it_client *c);

/*
 * Perform one request. `method` is "POST", "GET", ...; `body` may be NULL.
 * `headers` is a NULL-terminated list of extra "Name: value" lines (may be
 * NULL); unless the list names a Content-Type, POSTs carry
 * Content-Type: application/x-protobuf. `chunked` sends the body with
 * chunked transfer encoding instead of Content-Length. Returns 0, or -1 with
 * a transport error text in `errbuf` (never asserts).
 */
int it_client_request(struct it_client *c, const char *method, const char *path, const void *body,
                      size_t len, const char *const *headers, int chunked, struct it_resp *out,
                      char *errbuf, size_t errlen);

/* The main-thread client (created by it_server_start). */
struct it_client *it_main_client(void);

/* POST raw bytes with the main client; asserts the transport worked. */
void it_post_raw(const char *path, const void *body, size_t len, struct it_resp *out);

/* Any method with the main client; asserts the transport worked. */
void it_request(const char *method, const char *path, const void *body, size_t len,
                const char *const *headers, struct it_resp *out);

/* Pack `msg` (malloc'd buffer, caller frees); `*len` receives the size. */
uint8_t *it_pack(const ProtobufCMessage *msg, size_t *len);

/*
 * Unpack a response body as `desc`; NULL if it is not a valid encoding.
 * Free with protobuf_c_message_free_unpacked(msg, NULL).
 */
ProtobufCMessage *it_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *body,
                            size_t len);

/*
 * POST `req` (NULL = empty body) to `path` and unpack the answer as `desc`.
 * Asserts: HTTP 200, Content-Type application/x-protobuf, Content-Length
 * equal to the body length, a valid encoding. Caller frees the result with
 * it_free().
 */
void *it_call(const char *path, const ProtobufCMessage *req,
              const ProtobufCMessageDescriptor *desc);

/* Same with an explicit client; never asserts; NULL on failure with `errbuf` set. */
void *it_client_call(struct it_client *c, const char *path, const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *desc, char *errbuf, size_t errlen);

/* Free what it_call returned (accepts NULL). */
void it_free(void *msg);

/*
 * The Error in field 1 of any response message: its type, or IT_OK when the
 * field is absent. it_err_msg returns "" when absent.
 */
int it_err_type(const void *resp);
const char *it_err_msg(const void *resp);

/* POST `req` and return the response's error type (IT_OK = success); asserts transport. */
int it_call_err(const char *path, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *desc);

/* Assert a response carries InvalidRequest with exactly `message`. */
void it_assert_invalid(const void *resp, const char *message);

/* Same, calling the route; `desc` is the response type. */
void it_expect_invalid(const char *path, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *desc, const char *message);

/* ---- stub auctioneer ------------------------------------------------------------------- */

/*
 * Every element (JSON object) POSTed to /v1/lrps whose process_guid is
 * `guid`, in arrival order. A new reference (json_decref it).
 */
json_t *it_auction_starts(const char *guid);

/* Wait up to `timeout_ms` until at least `n` elements for `guid` arrived; returns them. */
json_t *it_auction_wait(const char *guid, size_t n, int timeout_ms);

/* Number of POSTs that carried at least one element for `guid`. */
size_t it_auction_posts_for(const char *guid);

/* Requests the stub refused: wrong path/method/content type, or not a JSON array. */
size_t it_auction_bad_requests(void);

/* Sorted indices of an element's "indices" array into `out` (max `cap`); returns count. */
size_t it_auction_indices(const json_t *start, int32_t *out, size_t cap);

/* ---- DesiredLRP building ------------------------------------------------------------- */

/*
 * A valid minimal DesiredLRP (domain IT_DOMAIN, rootfs IT_ROOTFS, run
 * action {path "/bin/app", user "vcap"}, metric tag source_id static
 * "<guid>", memory 256, disk 1024) whose parts live inside the struct. Tests
 * may change any field of `lrp` before sending it.
 */
struct it_dlrp {
    Models__DesiredLRP lrp;
    Models__Action action;
    Models__RunAction run;
    Models__DesiredLRP__MetricTagsEntry tag;
    Models__DesiredLRP__MetricTagsEntry *tags[1];
    Models__MetricTagValue tag_value;
    char guid[256];
};

void it_dlrp_init(struct it_dlrp *d, const char *guid, int32_t instances);

/* desire.r2 `lrp`; returns the error type (IT_OK = success). */
int it_desire_lrp(const Models__DesiredLRP *lrp);

/* Desire a minimal LRP with `instances` in `domain` (NULL = IT_DOMAIN); asserts success. */
void it_desire(const char *guid, const char *domain, int32_t instances);

/* get_by_process_guid.r3; asserts no transport problem. Free with it_free(). */
Models__DesiredLRPResponse *it_get_desired(const char *guid);

/* Update only the instance count; returns the error type. */
int it_update_instances(const char *guid, int32_t instances);

/* Remove the desired LRP; returns the error type. */
int it_remove_desired(const char *guid);

/* ---- ActualLRP lifecycle helpers (each returns the error type, IT_OK = success) -------- */

int it_claim(const char *guid, int32_t index, const char *instance_guid, const char *cell_id);
/* start.r1 with net info {address, one port mapping 8080->61000}; domain NULL = IT_DOMAIN. */
int it_start(const char *guid, int32_t index, const char *domain, const char *instance_guid,
             const char *cell_id, const char *address);
int it_crash(const char *guid, int32_t index, const char *domain, const char *instance_guid,
             const char *cell_id, const char *message);
int it_fail(const char *guid, int32_t index, const char *domain, const char *message);
/* instance_guid NULL = no instance key in the request (match any). */
int it_remove_actual(const char *guid, int32_t index, const char *instance_guid,
                     const char *cell_id);
int it_retire(const char *guid, int32_t index, const char *domain);

/* ---- ActualLRP reads ------------------------------------------------------------------- */

/* actual_lrps/list filtered by process guid; asserts no error. Free with it_free(). */
Models__ActualLRPsResponse *it_list_actuals(const char *guid);

/* The row with `index` and `presence` in `r`, or NULL. */
const Models__ActualLRP *it_find_actual(const Models__ActualLRPsResponse *r, int32_t index,
                                        int presence);

/* A copy of the interesting fields of one ORDINARY row. */
struct it_alrp {
    int found;
    char state[32];
    char domain[256];
    char instance_guid[256];
    char cell_id[256];
    char address[256];
    int32_t crash_count;
    char crash_reason[8192];
    char placement_error[8192];
    int64_t since;
    char epoch[64];
    uint32_t mod_index;
    int routable_set;
    int routable;
    char availability_zone[256];
    size_t n_internal_routes;
    size_t n_metric_tags;
    size_t n_ports;
};

/* Read the ORDINARY row (guid, index) through actual_lrps/list; returns out->found. */
int it_actual(const char *guid, int32_t index, struct it_alrp *out);

/* Number of rows (all presences) for `guid`. */
size_t it_actual_count(const char *guid);

/* Assert the ORDINARY row (guid, index) has `state` and return it in `out`. */
void it_assert_state(const char *guid, int32_t index, const char *state, struct it_alrp *out);

/* ---- misc -------------------------------------------------------------------------------- */

/* "<prefix>-<n>" unique within this process. */
void it_uniq(char *buf, size_t len, const char *prefix);

/* Wall clock in ns since the epoch. */
int64_t it_now_ns(void);

void it_sleep_ms(int ms);

/* Does `s` look like a canonical lower-case UUID v4? */
int it_is_uuid_v4(const char *s);

/* Is `s` (of `len` bytes) valid UTF-8? */
int it_utf8_valid(const char *s, size_t len);

/*
 * Deep comparison of two messages of the same type, field by field, driven
 * by the descriptor: scalars, strings, bytes, enums, nested messages (NULL
 * and present differ), repeated fields in order, maps as unordered sets.
 * Top-level fields named in `skip` (NULL-terminated, may be NULL) are
 * ignored. Returns 0 when equal; otherwise 1 and a description of the first
 * difference (a field path) in `diff`.
 */
int it_pb_diff(const ProtobufCMessage *a, const ProtobufCMessage *b, const char *const *skip,
               char *diff, size_t difflen);

/* Find a string map entry value in a generated map array (entries with char *key). */
const char *it_map_str(void *const *entries, size_t n, const char *key);

/* ---- direct database access (test set-up only) ------------------------------------------- */

/*
 * The conninfo (key=value text) of this group's own database, or NULL while
 * no server runs. Only for setting up states that no API call can reach
 * (e.g. SUSPECT rows, which only convergence creates, or fault-injection
 * triggers); results are still observed through the API.
 */
const char *it_db_conninfo(void);

/*
 * Run `sql` on the group's database over a fresh connection. With n > 0 it
 * is one statement with text parameters $1..$n; with n == 0 it may be
 * several statements (PQexec). Returns the number of rows affected or
 * returned by the (last) statement, or -1 after printing the error. Never
 * asserts; safe in worker threads.
 */
int it_db_exec(const char *sql, int n, const char *const *params);

/* ---- server variants and process control ---------------------------------------------- */

/*
 * Extra top-level keys for the config file of the next it_server_start (a
 * JSON object; its keys replace those the harness writes). Borrowed until
 * it_server_config(NULL). Default none.
 */
void it_server_config(json_t *extra);

/* Run the next server without valgrind even under BBS_VALGRIND=1 (timing-bound tests). */
void it_server_no_valgrind(int on);

/*
 * Talk TLS to the next server: the base URL becomes https://127.0.0.1:PORT,
 * every it_client (and the start-up readiness check) verifies the server
 * against `ca_file` and presents `cert_file` / `key_file` (both NULL: no
 * client certificate). Paths are copied. it_tls_client(NULL, NULL, NULL)
 * goes back to plain HTTP.
 */
void it_tls_client(const char *ca_file, const char *cert_file, const char *key_file);

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

/* Milliseconds on the monotonic clock. */
int64_t it_mono_ms(void);

#endif /* BBS_IT_HARNESS_H */
