/*
 * test_buf.c - the growable byte buffer (buf.h): append, putc, printf,
 * reserve, take and free, across growth of the storage.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bbs/buf.h"

static void assert_buf(const struct bbs_buf *b, const void *want, size_t n)
{
    assert_int_equal(b->len, n);
    assert_true(b->cap >= b->len);
    if (n > 0) {
        assert_memory_equal(b->data, want, n);
    }
}

static void test_append_to_empty(void **state)
{
    struct bbs_buf b = {0};
    (void)state;

    bbs_buf_append(&b, "abc", 3);
    assert_buf(&b, "abc", 3);
    bbs_buf_append(&b, "", 0); /* nothing appended */
    assert_buf(&b, "abc", 3);
    bbs_buf_append(&b, "\0d", 2); /* bytes, not a string */
    assert_buf(&b, "abc\0d", 5);
    bbs_buf_free(&b);
}

/* Appends of every size across many doublings keep every byte. */
static void test_append_grows(void **state)
{
    enum { TOTAL = 300000 };
    uint8_t *want = malloc(TOTAL);
    struct bbs_buf b = {0};
    size_t off = 0;
    size_t step = 1;
    (void)state;

    assert_non_null(want);
    for (size_t i = 0; i < TOTAL; i++) {
        want[i] = (uint8_t)(i * 13 + 5);
    }
    while (off < TOTAL) {
        size_t n = step < TOTAL - off ? step : TOTAL - off;

        bbs_buf_append(&b, want + off, n);
        off += n;
        step = step * 2 + 1;
        assert_buf(&b, want, off);
    }
    bbs_buf_free(&b);
    free(want);
}

static void test_putc(void **state)
{
    struct bbs_buf b = {0};
    (void)state;

    for (int i = 0; i < 1000; i++) {
        bbs_buf_putc(&b, (uint8_t)i);
    }
    assert_int_equal(b.len, 1000);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(b.data[i], (uint8_t)i);
    }
    bbs_buf_free(&b);
}

static void test_printf(void **state)
{
    struct bbs_buf b = {0};
    char big[1001];
    (void)state;

    bbs_buf_printf(&b, "%s=%d", "n", 42);
    assert_buf(&b, "n=42", 4); /* len excludes the terminator */
    bbs_buf_printf(&b, ",%03u", 7u);
    assert_buf(&b, "n=42,007", 8);
    bbs_buf_printf(&b, "%s", ""); /* nothing appended */
    assert_buf(&b, "n=42,007", 8);
    memset(big, 'q', 1000);
    big[1000] = '\0';
    bbs_buf_printf(&b, "[%s]", big); /* grows past the first storage */
    assert_int_equal(b.len, 8 + 1002);
    assert_memory_equal(b.data, "n=42,007[", 9);
    assert_memory_equal(b.data + 9, big, 1000);
    assert_int_equal(b.data[1009], ']');
    bbs_buf_free(&b);
}

static void test_reserve(void **state)
{
    struct bbs_buf b = {0};
    uint8_t *before;
    (void)state;

    bbs_buf_reserve(&b, 0);
    assert_int_equal(b.len, 0);
    bbs_buf_reserve(&b, 10);
    assert_non_null(b.data);
    assert_true(b.cap - b.len >= 10);
    assert_int_equal(b.len, 0);
    bbs_buf_append(&b, "xyz", 3);
    bbs_buf_reserve(&b, 100000); /* room for more; contents and length kept */
    assert_true(b.cap - b.len >= 100000);
    assert_buf(&b, "xyz", 3);
    /* with room reserved, appends up to it do not move the storage */
    before = b.data;
    for (int i = 0; i < 100000; i++) {
        bbs_buf_putc(&b, 'a');
    }
    assert_ptr_equal(b.data, before);
    assert_int_equal(b.len, 100003);
    bbs_buf_reserve(&b, 1); /* already enough? either way the contents stay */
    assert_memory_equal(b.data, "xyza", 4);
    bbs_buf_free(&b);
}

static void test_take(void **state)
{
    struct bbs_buf b = {0};
    uint8_t *p;
    size_t len = 99;
    (void)state;

    bbs_buf_append(&b, "owned", 5);
    p = bbs_buf_take(&b, &len);
    assert_non_null(p);
    assert_int_equal(len, 5);
    assert_memory_equal(p, "owned", 5);
    /* the buffer is empty and reusable; the bytes are the caller's */
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    bbs_buf_append(&b, "again", 5);
    assert_buf(&b, "again", 5);
    assert_memory_equal(p, "owned", 5);
    free(p);
    bbs_buf_free(&b);
    p = bbs_buf_take(&b, &len); /* an empty buffer hands over nothing */
    assert_int_equal(len, 0);
    free(p);
}

static void test_free_and_reuse(void **state)
{
    struct bbs_buf b = {0};
    (void)state;

    bbs_buf_free(&b); /* a zero buffer may be freed */
    bbs_buf_append(&b, "x", 1);
    bbs_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    bbs_buf_free(&b);            /* twice */
    bbs_buf_printf(&b, "%d", 5); /* reusable */
    assert_buf(&b, "5", 1);
    bbs_buf_free(&b);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_to_empty),
        cmocka_unit_test(test_append_grows),
        cmocka_unit_test(test_putc),
        cmocka_unit_test(test_printf),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_take),
        cmocka_unit_test(test_free_and_reuse),
    };

    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
