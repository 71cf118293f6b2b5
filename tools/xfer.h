/*
 * xfer.h - the pieces behind `bbsctl export`, `import` and
 * `migrate-from-upstream` (xfer_cmds.c): our tables as column lists, a
 * row as column values, the export format (JSON document or JSON lines)
 * and its reader, the writer that loads rows into an empty database in one
 * transaction, and upstream's blob encodings (reference 6.3).
 *
 * A row is carried as the values of our own columns (the files of migrations/),
 * with every blob in its plain form (our column bytes, never sealed): the
 * export opens sealed values with the given keys, the writer seals them
 * with the target's active key. So an export reproduces every column of
 * every row, including those no protobuf object carries (modification
 * tags, creation times, presence, rejection counts).
 *
 * What this does not cover: the event log (event_log rows are transient
 * and pruned; a new server starts a new stream), the encryption
 * bookkeeping tables (the server rebuilds them at start) and columns that
 * later migrations add (the column lists below are the schema up to 0005).
 */
#ifndef BBSCTL_XFER_H
#define BBSCTL_XFER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "bbs/buf.h"
#include "bbs/crypt.h"
#include "bbs/error.h"

/* Column types as the export writes them: TEXT a JSON string, INT a JSON
 * integer (int or bigint), BOOL true/false, BLOB see xfer_blob_to_json. */
enum xfer_type { XFER_TEXT, XFER_INT, XFER_BOOL, XFER_BLOB };

/* How a blob column's plain bytes are laid out (migrations/0001_init.sql,
 * 0004_tasks.sql); also which upstream JSON encoding maps onto it. */
enum xfer_blob_kind {
    XFER_B_NONE,
    XFER_B_NET_INFO,        /* ActualLRPNetInfo */
    XFER_B_ALRP_ROUTES,     /* ActualLRP field 11 entries */
    XFER_B_ALRP_TAGS,       /* ActualLRP field 12 entries */
    XFER_B_DLRP_ROUTES,     /* ProtoRoutes */
    XFER_B_DLRP_VOLUME,     /* VolumePlacement */
    XFER_B_DLRP_PLACEMENT,  /* repeated string field 1 */
    XFER_B_DLRP_TAGS,       /* map entries as field 1 */
    XFER_B_DLRP_RUN_INFO,   /* DesiredLRP with the immutable fields */
    XFER_B_TASK_DEFINITION, /* TaskDefinition */
};

struct xfer_col {
    const char *name;
    enum xfer_type type;
    int nullable;
    int sealed; /* stored sealed when encryption is on (sealed.c) */
    enum xfer_blob_kind blob;
};

#define XFER_MAX_COLS 24

struct xfer_table {
    const char *name;
    const char *order_by; /* its primary key, the export's order */
    const struct xfer_col *cols;
    size_t ncols;
};

enum { XFER_DOMAINS, XFER_DESIRED, XFER_ACTUAL, XFER_TASKS, XFER_NTABLES };

/* Our four tables, in the order they are exported and loaded. */
extern const struct xfer_table xfer_tables[XFER_NTABLES];

/* One value: `null`, or the bytes in `b` (TEXT: the text; INT: decimal
 * digits; BOOL: "t" or "f"; BLOB: the plain bytes). `b` is always
 * NUL-terminated past its length. */
struct xfer_val {
    int null;
    struct bbs_buf b;
};

struct xfer_row {
    int table; /* index into xfer_tables */
    struct xfer_val v[XFER_MAX_COLS];
};

/* Empty every value of `r` for `table` (buffers are kept for reuse). */
void xfer_row_reset(struct xfer_row *r, int table);
void xfer_row_free(struct xfer_row *r);
/* Set a value to `n` bytes of `p` (not null). */
void xfer_val_set(struct xfer_val *v, const void *p, size_t n);
void xfer_val_setstr(struct xfer_val *v, const char *s);
void xfer_val_setint(struct xfer_val *v, int64_t n);
/* Column `name` of table `t` (its index), or -1. */
int xfer_col_index(int table, const char *name);

/*
 * The JSON of a blob column's plain bytes, and back: the one place that
 * chooses how objects appear in an export. A column holding one whole
 * message (net_info, routes, volume_placement, run_info as a DesiredLRP,
 * task_definition) is that message as upstream's models print it
 * (pbjson.h), when it packs back to exactly the same bytes; anything else
 * (the partial-message columns, empty values, non-canonical bytes) is the
 * standard base64 of the bytes, a JSON string. xfer_blob_from_json takes
 * either; -1 with InvalidJSON naming the column otherwise.
 */
json_t *xfer_blob_to_json(const struct xfer_col *c, const uint8_t *p, size_t n);
BBS_MUST_CHECK int xfer_blob_from_json(const struct xfer_col *c, json_t *j, struct xfer_val *out,
                                       struct bbs_error *err);

/* A row as a JSON object (one member per column; new reference). */
json_t *xfer_row_to_json(const struct xfer_row *r);
/*
 * A JSON object into `r` for `table`: every column present, nothing else,
 * each of its type, null only where the column is nullable. -1 with
 * InvalidJSON naming the table and column otherwise.
 */
BBS_MUST_CHECK int xfer_row_from_json(struct xfer_row *r, int table, json_t *j,
                                      struct bbs_error *err);

/*
 * ---- the export format ----
 *
 * Document:  {"bbs_export":1,"tables":{"domains":[ROW...],"desired_lrps":[...],
 *             "actual_lrps":[...],"tasks":[...]},"end":{"domains":N,...}}
 * JSON lines: {"bbs_export":1}
 *             {"table":"domains","row":ROW}     (any number, any order)
 *             {"end":{"domains":N,"desired_lrps":N,"actual_lrps":N,"tasks":N}}
 * The counts of "end" must match the rows read (a cut file is refused).
 */
#define XFER_FORMAT_VERSION 1

/* Called with each row read; its non-zero return stops the read (its
 * error in `err`). The row is reused after the call. */
typedef int (*xfer_row_fn)(void *ctx, const struct xfer_row *r, struct bbs_error *err);

/*
 * Read an export from `in` (either form, told apart by its first line),
 * calling `fn` for each row; JSON lines are read a line at a time, so a
 * big export never sits in memory whole. `counts` (XFER_NTABLES) gets the
 * rows per table. -1 with InvalidJSON and the line (or the position in a
 * document) on any malformation, or `fn`'s error.
 */
BBS_MUST_CHECK int xfer_read(FILE *in, xfer_row_fn fn, void *ctx, uint64_t *counts,
                             struct bbs_error *err);

/* ---- upstream's blob encodings (reference 6.3) ---- */

/*
 * A stored value of a sealed column into its plaintext: a sealed value
 * (either stored form, crypt.h) is opened with `keys` (NULL: refused, naming
 * the label); anything else is taken as the plaintext itself. `label`
 * (128 bytes, may be NULL) gets the key label of a sealed value.
 */
BBS_MUST_CHECK int xfer_open(const struct bbs_crypt *keys, const uint8_t *v, size_t n,
                             struct bbs_buf *out, char *label, struct bbs_error *err);

/*
 * An opened plaintext of column kind `kind` into our plain bytes: 0x02
 * 0x00 + bytes (the serialized form, ours and upstream's for the same
 * messages) gives the bytes; otherwise the plaintext is upstream's JSON of
 * the actual LRP's internal_routes or metric_tags and is converted. -1
 * with Deserialize otherwise.
 */
BBS_MUST_CHECK int xfer_plain_of(enum xfer_blob_kind kind, const uint8_t *pt, size_t n,
                                 struct bbs_buf *out, struct bbs_error *err);

/* Upstream's JSON forms into our bytes: `[{"hostname": ...}]` (null = absent)
 * and `{"name": "value"}`. -1 with Deserialize when `j` is another shape. */
BBS_MUST_CHECK int xfer_json_alrp_routes(json_t *j, struct bbs_buf *out, struct bbs_error *err);
BBS_MUST_CHECK int xfer_json_alrp_tags(json_t *j, struct bbs_buf *out, struct bbs_error *err);

/* ---- the writer: one transaction into an empty database ---- */

struct xfer_writer;

/*
 * Connect to `url`, apply the migrations of `migrations_dir`, begin the
 * transaction and lock our four tables. A table with rows: -1 with
 * ResourceExists, unless `force`, which deletes them in the same
 * transaction. `seal` (borrowed, may be NULL or off) seals the blobs.
 */
BBS_MUST_CHECK int xfer_writer_open(const char *url, const char *migrations_dir, int force,
                                    const struct bbs_crypt *seal, struct xfer_writer **out,
                                    struct bbs_error *err);
/* Insert one row (its values borrowed for the call). */
BBS_MUST_CHECK int xfer_writer_put(struct xfer_writer *w, const struct xfer_row *r,
                                   struct bbs_error *err);
/* Commit. Until then nothing is visible; free without commit rolls back. */
BBS_MUST_CHECK int xfer_writer_commit(struct xfer_writer *w, struct bbs_error *err);
void xfer_writer_free(struct xfer_writer *w);
/* Rows inserted per table. */
const uint64_t *xfer_writer_counts(const struct xfer_writer *w);

/* ---- shared by the commands ---- */

/* A progress line on stderr at most once a second, from the first second on. */
struct xfer_progress {
    const char *what;
    int64_t start_ms;
    int64_t last_ms;
};
void xfer_progress_start(struct xfer_progress *p, const char *what);
void xfer_progress_tick(struct xfer_progress *p, const uint64_t *counts);
/* "domains 1, desired_lrps 2, actual_lrps 3, tasks 4" for `counts`. */
void xfer_counts_print(FILE *f, const char *what, const uint64_t *counts);

/*
 * libpq for the commands; every message starts with the command's name
 * (`cmd`: "export", "migrate-from-upstream"). xfer_pq_error prints
 * "<cmd>: <what>: <libpq's message>" (res's, else conn's), clears `res`
 * and returns -1. xfer_exec_ok runs `sql`, a command with no rows: 0, or
 * -1 printed.
 */
int xfer_pq_error(const char *cmd, PGconn *conn, PGresult *res, const char *what);
int xfer_exec_ok(const char *cmd, PGconn *conn, const char *sql);

/*
 * Read `select` (a SELECT statement) through a cursor, FETCH_ROWS rows at a
 * time, calling row(ctx, res, i) for each row; 0, or -1 when a statement
 * fails (printed) or row() returns non-zero (it printed why).
 */
int xfer_cursor_each(const char *cmd, PGconn *conn, const char *select,
                     int (*row)(void *ctx, const PGresult *res, int i), void *ctx);

/*
 * The options the commands share, for their getopt_long loop: 'k'
 * (--encryption-key, into `keys`), 'a' (--active-key-label), 'm'
 * (--migrations-dir, into `*migrations`), 'h' (--help: usage on stdout)
 * and an unknown one (usage on stderr). Returns XFER_OPT_OWN when `c` is
 * none of these (the command's own), XFER_OPT_NEXT when handled, else the
 * exit status to return at once (0 after --help, 2).
 */
/* Their getopt_long rows, then the end of the table (needs <getopt.h>). */
#define XFER_COMMON_OPTIONS                                                                        \
    {"encryption-key", required_argument, NULL, 'k'},                                              \
        {"active-key-label", required_argument, NULL, 'a'},                                        \
        {"migrations-dir", required_argument, NULL, 'm'}, {"help", no_argument, NULL, 'h'},        \
    {                                                                                              \
        NULL, 0, NULL, 0                                                                           \
    }
#define XFER_OPT_OWN  (-1)
#define XFER_OPT_NEXT (-2)
struct xfer_keys;
int xfer_common_opt(int c, const char *arg, struct xfer_keys *keys, const char **migrations,
                    void (*usage)(FILE *));

/* The commands (xfer_export.c, xfer_import.c, xfer_upstream.c). */
int xfer_cmd_export(int argc, char **argv);
int xfer_cmd_import(int argc, char **argv);
int xfer_cmd_migrate(int argc, char **argv);

/*
 * Key ring flags: `--encryption-key label:passphrase` (repeated) and
 * `--active-key-label L` (default: the first key). NULL when no key was
 * given (nothing is sealed; sealed values refuse to open).
 */
struct xfer_keys {
    struct bbs_crypt_key_cfg cfg[16];
    size_t n;
    const char *active;
};
/* Parse one `label:passphrase` into `k` (argv-borrowed, split in place).
 * -1 with a message on stderr. */
int xfer_keys_add(struct xfer_keys *k, char *arg);
/* The ring, or NULL with nothing configured; -1 with a message on stderr. */
int xfer_keys_ring(const struct xfer_keys *k, struct bbs_crypt **out);

#endif /* BBSCTL_XFER_H */
