/*
 * test_copyrow.c - a binary COPY message read as a row (row.h): the file
 * header, values in place and NUL-terminated, NULLs, the end-of-data
 * marker, every malformed shape refused, and the row readers.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "row.h"

/* A message being written; one spare byte past `len` as libpq leaves. */
struct msg {
    char b[512];
    size_t len;
};

static void put(struct msg *m, const void *p, size_t n)
{
    assert_true(m->len + n < sizeof(m->b));
    memcpy(m->b + m->len, p, n);
    m->len += n;
    m->b[m->len] = '\0';
}

static void put16(struct msg *m, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

    put(m, b, 2);
}

static void put32(struct msg *m, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    put(m, b, 4);
}

static void header(struct msg *m, uint32_t flags, uint32_t ext)
{
    put(m, "PGCOPY\n\377\r\n\0", 11);
    put32(m, flags);
    put32(m, ext);
    for (uint32_t i = 0; i < ext; i++) {
        put(m, "x", 1);
    }
}

static void field(struct msg *m, const void *p, uint32_t n)
{
    put32(m, n);
    put(m, p, n);
}

static int parse(struct msg *m, int *started, struct bbs_row *row)
{
    memset(row, 0, sizeof(*row));
    return bbs_row_parse_copy(m->b, m->len, started, row);
}

/* The first message: header, then a row of text, NULL, int4, int8, bool, text. */
static void test_first_message_row(void **state)
{
    struct msg m = {{0}, 0};
    struct bbs_row row;
    int started = 0;
    const uint8_t i4[4] = {0xff, 0xff, 0xff, 0xfe};       /* -2 */
    const uint8_t i8[8] = {0, 0, 0x01, 0, 0, 0, 0, 0x2a}; /* 2^40 + 42 */
    const uint8_t yes = 1;

    (void)state;
    header(&m, 0, 0);
    put16(&m, 6);
    field(&m, "ab", 2);
    put32(&m, 0xffffffffu);
    field(&m, i4, 4);
    field(&m, i8, 8);
    field(&m, &yes, 1);
    field(&m, "cd", 2);
    assert_int_equal(parse(&m, &started, &row), 1);
    assert_int_equal(started, 1);
    assert_int_equal(row.n, 6);
    /* Each value ends with a NUL written over the next length, or past the end. */
    assert_string_equal(bbs_row_text(&row, 0), "ab");
    assert_null(row.v[1]);
    assert_string_equal(bbs_row_text(&row, 1), "");
    assert_false(bbs_row_blob(&row, 1).present);
    assert_int_equal(bbs_row_int4(&row, 2), -2);
    assert_int_equal(bbs_row_int8(&row, 3), (INT64_C(1) << 40) + 42);
    assert_true(bbs_row_bool(&row, 4));
    assert_string_equal(bbs_row_text(&row, 5), "cd");
    assert_int_equal(bbs_row_blob(&row, 5).len, 2);
    assert_true(bbs_row_blob(&row, 5).present);
    /* A reader never goes past the row, nor trusts a value of the wrong size. */
    assert_string_equal(bbs_row_text(&row, 6), "");
    assert_int_equal(bbs_row_int4(&row, -1), 0);
    assert_int_equal(bbs_row_int4(&row, 3), 0);
    assert_int_equal(bbs_row_int8(&row, 2), 0);
    assert_false(bbs_row_bool(&row, 0));
}

/* Later messages have no header; an extension area in the header is skipped. */
static void test_later_message_and_header_extension(void **state)
{
    struct msg m = {{0}, 0};
    struct msg m2 = {{0}, 0};
    struct bbs_row row;
    int started = 0;

    (void)state;
    header(&m, 0, 3);
    put16(&m, 1);
    field(&m, "first", 5);
    assert_int_equal(parse(&m, &started, &row), 1);
    assert_string_equal(bbs_row_text(&row, 0), "first");
    put16(&m2, 2);
    field(&m2, "", 0);
    field(&m2, "second", 6);
    assert_int_equal(parse(&m2, &started, &row), 1);
    assert_int_equal(row.n, 2);
    assert_true(bbs_row_blob(&row, 0).present);
    assert_int_equal(bbs_row_blob(&row, 0).len, 0);
    assert_string_equal(bbs_row_text(&row, 1), "second");
}

/* The end-of-data marker, alone or (no rows) right after the header. */
static void test_end_of_data(void **state)
{
    struct msg m = {{0}, 0};
    struct msg empty = {{0}, 0};
    struct bbs_row row;
    int started = 1;
    int fresh = 0;

    (void)state;
    put16(&m, 0xffff);
    assert_int_equal(parse(&m, &started, &row), 0);
    header(&empty, 0, 0);
    put16(&empty, 0xffff);
    assert_int_equal(parse(&empty, &fresh, &row), 0);
    assert_int_equal(fresh, 1);
}

/* Every malformed message is refused, not read past its end. */
static void test_malformed_refused(void **state)
{
    struct bbs_row row;
    struct msg m;
    int started;

    (void)state;
    /* a first message without the header */
    m = (struct msg){{0}, 0};
    put16(&m, 1);
    field(&m, "a", 1);
    started = 0;
    assert_int_equal(parse(&m, &started, &row), -1);
    assert_int_equal(started, 0);
    /* a wrong signature */
    m = (struct msg){{0}, 0};
    put(&m, "PGCOPY\n\377\r\n\1", 11);
    put32(&m, 0);
    put32(&m, 0);
    put16(&m, 0xffff);
    started = 0;
    assert_int_equal(parse(&m, &started, &row), -1);
    /* OIDs in the rows (flag bit 16), or the extension area past the end */
    m = (struct msg){{0}, 0};
    header(&m, 1u << 16, 0);
    put16(&m, 0xffff);
    started = 0;
    assert_int_equal(parse(&m, &started, &row), -1);
    m = (struct msg){{0}, 0};
    header(&m, 0, 0);
    m.len -= 4;
    put32(&m, 100);
    started = 0;
    assert_int_equal(parse(&m, &started, &row), -1);
    /* a value longer than the message; a length cut short; a count cut short */
    m = (struct msg){{0}, 0};
    put16(&m, 1);
    put32(&m, 10);
    put(&m, "abc", 3);
    started = 1;
    assert_int_equal(parse(&m, &started, &row), -1);
    m = (struct msg){{0}, 0};
    put16(&m, 1);
    put(&m, "\0\0", 2);
    assert_int_equal(parse(&m, &started, &row), -1);
    m = (struct msg){{0}, 0};
    put(&m, "\0", 1);
    assert_int_equal(parse(&m, &started, &row), -1);
    /* bytes after the last value, or after the end-of-data marker */
    m = (struct msg){{0}, 0};
    put16(&m, 1);
    field(&m, "a", 1);
    put(&m, "z", 1);
    assert_int_equal(parse(&m, &started, &row), -1);
    m = (struct msg){{0}, 0};
    put16(&m, 0xffff);
    put(&m, "z", 1);
    assert_int_equal(parse(&m, &started, &row), -1);
    /* more columns than a row holds; a negative length other than NULL's */
    m = (struct msg){{0}, 0};
    put16(&m, BBS_ROW_MAX_COLS + 1);
    for (int i = 0; i < BBS_ROW_MAX_COLS + 1; i++) {
        put32(&m, 0xffffffffu);
    }
    assert_int_equal(parse(&m, &started, &row), -1);
    m = (struct msg){{0}, 0};
    put16(&m, 1);
    put32(&m, 0xfffffffeu);
    assert_int_equal(parse(&m, &started, &row), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_message_row),
        cmocka_unit_test(test_later_message_and_header_extension),
        cmocka_unit_test(test_end_of_data),
        cmocka_unit_test(test_malformed_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
