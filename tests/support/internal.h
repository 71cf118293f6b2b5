/*
 * internal.h - what the tests/support modules share among themselves and
 * test files do not use: a growable byte buffer, file helpers, and the
 * hooks by which server.c starts and stops the database and the stub
 * auctioneer and asks the HTTP client which scheme to use.
 */
#ifndef BBS_IT_SUPPORT_INTERNAL_H
#define BBS_IT_SUPPORT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* A malloc'd, always NUL-terminated byte buffer (data NULL until the first append). */
struct it_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

/* Append `n` bytes (aborts on out-of-memory); keeps data[len] == '\0'. */
void it_buf_append(struct it_buf *b, const void *p, size_t n);

/* The whole file, malloc'd and NUL-terminated (`*len_out` may be NULL); NULL if unreadable. */
char *it_read_file(const char *path, size_t *len_out);

/* Remove `path` and, for a directory, everything below it; errors are ignored. */
void it_rm_rf(const char *path);

/* A free loopback TCP port (bind port 0, read it back, close), or -1. */
int it_free_port(void);

/* ---- db.c ---- */

/*
 * Create the group's database bbs_it_<name>_<pid> on the fixture cluster
 * (BBS_TEST_PGDIR/conninfo), dropping a leftover first. Returns 0 or -1
 * after printing why.
 */
int it_db_create(const char *name);

/* Drop the database (if created) and forget its conninfo. Returns 0 or -1. */
int it_db_drop(void);

/* ---- auctioneer.c ---- */

/* Start the stub auctioneer on a free loopback port (clears what it recorded). 0 or -1. */
int it_auct_start(void);

/* Stop it and forget what it recorded (safe when not started). */
void it_auct_stop(void);

/* Its port while running. */
int it_auct_port(void);

/* ---- http.c ---- */

/* 1 when it_tls_client() named a CA: clients speak https. */
int it_http_tls(void);

/* Create / free the main-thread client that it_main_client() returns. */
void it_http_main_open(void);
void it_http_main_close(void);

#endif /* BBS_IT_SUPPORT_INTERNAL_H */
