/*
 * test_arena.c - the request arena (arena.h): alignment for any type,
 * allocations bigger than a block beside small ones, the string and
 * memory copies, printf, the protobuf-c allocator, bytes held, and free
 * of NULL. Contents are checked after later allocations, so a block
 * handed out twice or too short shows (and ASan/valgrind see overruns).
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "actual_lrp.pb-c.h"
#include "bbs/arena.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int aligned(const void *p)
{
    return ((uintptr_t)p % alignof(max_align_t)) == 0;
}

/* Fill `n` bytes of `p` with a pattern derived from `seed`; check it later with filled(). */
static void fill(void *p, size_t n, unsigned seed)
{
    unsigned char *c = p;

    for (size_t i = 0; i < n; i++) {
        c[i] = (unsigned char)(seed * 31 + i);
    }
}

static int filled(const void *p, size_t n, unsigned seed)
{
    const unsigned char *c = p;

    for (size_t i = 0; i < n; i++) {
        if (c[i] != (unsigned char)(seed * 31 + i)) {
            return 0;
        }
    }
    return 1;
}

/* ---- alignment and sizes: one row per size, allocated among other sizes ---- */

struct size_case {
    const char *name;
    size_t n;
};

static const struct size_case size_cases[] = {
    {"size_0", 0},
    {"size_1", 1},
    {"size_3", 3},
    {"size_8", 8},
    {"size_15", 15},
    {"size_16", 16},
    {"size_17", 17},
    {"size_100", 100},
    {"size_4095", 4095},
    {"size_block_minus_1", 16383},
    {"size_block", 16384},
    {"size_block_plus_1", 16385},
    {"size_1_mib", (size_t)1 << 20},
};

static void test_size_case(void **state)
{
    const struct size_case *c = *state;
    struct bbs_arena *a = bbs_arena_new();
    void *small[64];
    void *p;
    void *after;

    for (unsigned i = 0; i < N(small); i++) {
        small[i] = bbs_arena_alloc(a, i % 24 + 1);
        assert_true(aligned(small[i]));
        fill(small[i], i % 24 + 1, i);
    }
    p = bbs_arena_alloc(a, c->n);
    assert_non_null(p);
    assert_true(aligned(p));
    fill(p, c->n, 999);
    after = bbs_arena_alloc(a, 40); /* the head block still serves small ones */
    assert_true(aligned(after));
    fill(after, 40, 1000);
    assert_true(bbs_arena_used(a) >= c->n);
    for (unsigned i = 0; i < N(small); i++) {
        assert_true(filled(small[i], i % 24 + 1, i));
    }
    assert_true(filled(p, c->n, 999));
    assert_true(filled(after, 40, 1000));
    bbs_arena_free(a);
}

/* Big and small allocations interleaved: every one keeps its contents. */
static void test_big_and_small_interleaved(void **state)
{
    enum { K = 200 };
    struct bbs_arena *a = bbs_arena_new();
    void *p[K];
    size_t n[K];
    (void)state;

    for (unsigned i = 0; i < K; i++) {
        n[i] = i % 10 == 0 ? 20000 + (size_t)i * 100 : (size_t)(i % 50) + 1;
        p[i] = bbs_arena_alloc(a, n[i]);
        assert_true(aligned(p[i]));
        fill(p[i], n[i], i);
    }
    for (unsigned i = 0; i < K; i++) {
        assert_true(filled(p[i], n[i], i));
        for (unsigned j = 0; j < i; j++) { /* no two overlap */
            const char *x = p[i];
            const char *y = p[j];
            assert_true(x + n[i] <= y || y + n[j] <= x);
        }
    }
    bbs_arena_free(a);
}

/* Typed objects of every alignment need: doubles, 64-bit ints and pointers. */
static void test_any_type_fits(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    (void)state;

    for (int i = 0; i < 100; i++) {
        char *c = bbs_arena_alloc(a, 1);
        long double *ld = bbs_arena_alloc(a, sizeof(*ld));
        int64_t *q = bbs_arena_alloc(a, 3 * sizeof(*q));
        void **pp = bbs_arena_alloc(a, sizeof(*pp));

        *c = 'x';
        *ld = 1.5L * i;
        q[0] = q[1] = q[2] = INT64_C(-1) * i;
        *pp = c;
        assert_true((uintptr_t)ld % alignof(long double) == 0);
        assert_true((uintptr_t)q % alignof(int64_t) == 0);
        assert_true(*ld == 1.5L * i);
        assert_ptr_equal(*pp, c);
    }
    bbs_arena_free(a);
}

static void test_zalloc_is_zeroed(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    (void)state;

    for (size_t n = 1; n < 40000; n = n * 3 + 1) {
        unsigned char *p = bbs_arena_zalloc(a, n);

        assert_true(aligned(p));
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(p[i], 0);
        }
        memset(p, 0xab, n); /* dirty it: later zallocs must not see this */
    }
    bbs_arena_free(a);
}

/* ---- copies and printf ---- */

static void test_strdup_and_strndup(void **state)
{
    static const char text[] = "hello, arena";
    struct bbs_arena *a = bbs_arena_new();
    char *s;
    (void)state;

    s = bbs_arena_strdup(a, text);
    assert_ptr_not_equal(s, text);
    assert_string_equal(s, text);
    s = bbs_arena_strdup(a, "");
    assert_string_equal(s, "");
    s = bbs_arena_strndup(a, text, 5);
    assert_string_equal(s, "hello"); /* NUL-terminated at n */
    s = bbs_arena_strndup(a, text, 0);
    assert_string_equal(s, "");
    s = bbs_arena_strndup(a, "a\0b", 3); /* copies n bytes, embedded NUL included */
    assert_memory_equal(s, "a\0b", 4);
    bbs_arena_free(a);
}

static void test_memdup(void **state)
{
    static const uint8_t bytes[] = {0, 1, 2, 0xff, 0};
    struct bbs_arena *a = bbs_arena_new();
    uint8_t *p;
    (void)state;

    p = bbs_arena_memdup(a, bytes, sizeof(bytes));
    assert_ptr_not_equal(p, bytes);
    assert_memory_equal(p, bytes, sizeof(bytes));
    assert_true(aligned(p));
    assert_non_null(bbs_arena_memdup(a, bytes, 0)); /* never NULL, even for 0 bytes */
    bbs_arena_free(a);
}

static void test_printf(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    char *big = malloc(50001);
    char *s;
    (void)state;

    assert_non_null(big);
    s = bbs_arena_printf(a, "%s-%d-%05.1f", "pg", -7, 2.25);
    assert_string_equal(s, "pg--7-002.2");
    s = bbs_arena_printf(a, "%s", "");
    assert_string_equal(s, "");
    memset(big, 'z', 50000);
    big[50000] = '\0';
    s = bbs_arena_printf(a, "<%s>", big); /* longer than a block */
    assert_int_equal(strlen(s), 50002);
    assert_int_equal(s[0], '<');
    assert_int_equal(s[50001], '>');
    assert_memory_equal(s + 1, big, 50000);
    free(big);
    bbs_arena_free(a);
}

/* ---- protobuf-c allocator ---- */

static void test_pb_allocator_unpacks_into_the_arena(void **state)
{
    Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;
    struct bbs_arena *a = bbs_arena_new();
    ProtobufCAllocator *pa = bbs_arena_pb_allocator(a);
    Models__ActualLRPKey *got;
    uint8_t buf[64];
    size_t n;
    size_t used;
    void *p;
    (void)state;

    assert_ptr_equal(bbs_arena_pb_allocator(a), pa); /* one allocator per arena */
    key.process_guid = (char *)"pg-1";
    key.index = 3;
    key.domain = (char *)"cf-apps";
    n = protobuf_c_message_pack(&key.base, buf);
    used = bbs_arena_used(a);
    got = models__actual_lrpkey__unpack(pa, n, buf);
    assert_non_null(got);
    assert_string_equal(got->process_guid, "pg-1");
    assert_int_equal(got->index, 3);
    assert_string_equal(got->domain, "cf-apps");
    assert_true(bbs_arena_used(a) > used); /* it came from the arena */
    /* free is a no-op: the arena releases everything, and the data stays valid until then */
    models__actual_lrpkey__free_unpacked(got, pa);
    p = pa->alloc(pa->allocator_data, 24);
    assert_true(aligned(p));
    pa->free(pa->allocator_data, p);
    pa->free(pa->allocator_data, NULL);
    bbs_arena_free(a);
}

/* ---- lifetime ---- */

static void test_new_arena_holds_nothing(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    size_t used;
    (void)state;

    assert_int_equal(bbs_arena_used(a), 0);
    (void)bbs_arena_alloc(a, 10);
    used = bbs_arena_used(a);
    assert_true(used >= 10);
    (void)bbs_arena_alloc(a, 10);
    assert_true(bbs_arena_used(a) >= used); /* never shrinks */
    (void)bbs_arena_alloc(a, 100000);
    assert_true(bbs_arena_used(a) >= used + 100000);
    bbs_arena_free(a);
}

static void count_call(void *p)
{
    (*(int *)p)++;
}

/* Deferred actions run once, latest first, at free; a released one runs at once and never again. */
static void test_defer_and_release(void **state)
{
    struct bbs_arena *a = bbs_arena_new();
    int first = 0;
    int second = 0;
    int unrelated = 0;

    (void)state;
    bbs_arena_defer(a, count_call, &first);
    bbs_arena_defer(a, count_call, &second);
    bbs_arena_release(a, &second);
    assert_int_equal(second, 1);
    assert_int_equal(first, 0);
    bbs_arena_release(a, &second);    /* released already: nothing */
    bbs_arena_release(a, &unrelated); /* never deferred: nothing */
    assert_int_equal(second, 1);
    assert_int_equal(unrelated, 0);
    bbs_arena_free(a);
    assert_int_equal(first, 1);
    assert_int_equal(second, 1);
}

static void test_free_null_and_empty(void **state)
{
    (void)state;
    bbs_arena_free(NULL);
    bbs_arena_free(bbs_arena_new());
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_big_and_small_interleaved),
        cmocka_unit_test(test_any_type_fits),
        cmocka_unit_test(test_zalloc_is_zeroed),
        cmocka_unit_test(test_strdup_and_strndup),
        cmocka_unit_test(test_memdup),
        cmocka_unit_test(test_printf),
        cmocka_unit_test(test_pb_allocator_unpacks_into_the_arena),
        cmocka_unit_test(test_new_arena_holds_nothing),
        cmocka_unit_test(test_defer_and_release),
        cmocka_unit_test(test_free_null_and_empty),
    };
    struct CMUnitTest tests[N(size_cases) + N(fixed)];
    size_t k = 0;

    for (size_t i = 0; i < N(size_cases); i++) {
        tests[k++] = (struct CMUnitTest){
            .name = size_cases[i].name,
            .test_func = test_size_case,
            .initial_state = (void *)&size_cases[i],
        };
    }
    for (size_t i = 0; i < N(fixed); i++) {
        tests[k++] = fixed[i];
    }
    return cmocka_run_group_tests_name("arena", tests, NULL, NULL);
}
