/*
 * test_rep_push.c - what a DesiredLRP update pushes to reps (rep_push.h,
 * reference 5.4 step 5): when the internal-router routes and the metric
 * tags count as changed, the hostnames as Go decodes them, and the tags
 * resolved per instance. Each table row is its own named test.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "bbs/rep_push.h"

/* ---- building messages ------------------------------------------------------------------ */

struct routes {
    Models__ProtoRoutes msg;
    Models__ProtoRoutes__RoutesEntry e[3];
    Models__ProtoRoutes__RoutesEntry *p[3];
};

/* Routes with up to three (key, JSON value) entries; key NULL ends the list. */
static Models__ProtoRoutes *make_routes(struct routes *r, const char *const kv[6])
{
    models__proto_routes__init(&r->msg);
    for (size_t i = 0; i < 3 && kv[2 * i] != NULL; i++) {
        models__proto_routes__routes_entry__init(&r->e[i]);
        r->e[i].key = (char *)kv[2 * i];
        r->e[i].value.data = (uint8_t *)kv[2 * i + 1];
        r->e[i].value.len = strlen(kv[2 * i + 1]);
        r->p[i] = &r->e[i];
        r->msg.n_routes = i + 1;
    }
    r->msg.routes = r->p;
    return &r->msg;
}

struct tags {
    Models__DesiredLRPUpdate__MetricTagsEntry e[3];
    Models__MetricTagValue v[3];
    Models__DesiredLRPUpdate__MetricTagsEntry *p[3];
    size_t n;
};

/* Tags from (key, static, dynamic) triples; key NULL ends the list. */
struct tag_def {
    const char *key;
    const char *static_;
    int dynamic;
};

static void make_tags(struct tags *t, const struct tag_def *d)
{
    t->n = 0;
    for (size_t i = 0; i < 3 && d[i].key != NULL; i++) {
        models__desired_lrpupdate__metric_tags_entry__init(&t->e[i]);
        models__metric_tag_value__init(&t->v[i]);
        t->v[i].static_ = (char *)d[i].static_;
        t->v[i].dynamic = (Models__MetricTagValue__DynamicValue)d[i].dynamic;
        t->e[i].key = (char *)d[i].key;
        t->e[i].value = &t->v[i];
        t->p[i] = &t->e[i];
        t->n = i + 1;
    }
}

/* ---- internal-router changed ----------------------------------------------------------- */

#define IR BBS_INTERNAL_ROUTER
#define H1 "[{\"hostname\":\"a.apps.internal\"}]"
#define H2 "[{\"hostname\":\"b.apps.internal\"}]"

struct routes_case {
    const char *name;
    int old_present;
    const char *old[6];
    int update_has_routes;
    const char *upd[6];
    int want;
};

static const struct routes_case routes_cases[] = {
    {"routes_absent_from_update", 1, {IR, H1, NULL}, 0, {NULL}, 0},
    {"routes_same_bytes", 1, {IR, H1, "cf-router", "[]", NULL}, 1, {IR, H1, NULL}, 0},
    {"routes_other_bytes", 1, {IR, H1, NULL}, 1, {IR, H2, NULL}, 1},
    {"routes_added", 1, {"cf-router", "[]", NULL}, 1, {IR, H1, NULL}, 1},
    {"routes_removed", 1, {IR, H1, NULL}, 1, {"cf-router", "[]", NULL}, 1},
    {"routes_neither_has_it", 1, {"cf-router", "[]", NULL}, 1, {"cf-router", "[1]", NULL}, 1},
    {"routes_old_absent", 0, {NULL}, 1, {IR, H1, NULL}, 1},
    {"routes_whitespace_differs", 1, {IR, H1, NULL}, 1, {IR, " " H1, NULL}, 1},
};

static void test_routes_case(void **state)
{
    const struct routes_case *c = *state;
    struct routes old;
    struct routes upd;
    Models__DesiredLRPUpdate u = MODELS__DESIRED_LRPUPDATE__INIT;
    Models__ProtoRoutes *o = make_routes(&old, c->old);

    if (c->update_has_routes) {
        u.routes = make_routes(&upd, c->upd);
    }
    assert_int_equal(bbs_rep_push_routes_changed(c->old_present ? o : NULL, &u), c->want);
}

/* ---- metric tags changed ----------------------------------------------------------------- */

struct tags_case {
    const char *name;
    struct tag_def old[4];
    struct tag_def upd[4];
    int want;
};

static const struct tags_case tags_cases[] = {
    {"tags_absent_from_update", {{"app", "a", 0}, {NULL}}, {{NULL}}, 0},
    {"tags_same",
     {{"app", "a", 0}, {"i", "", 1}, {NULL}},
     {{"i", "", 1}, {"app", "a", 0}, {NULL}},
     0},
    {"tags_static_differs", {{"app", "a", 0}, {NULL}}, {{"app", "b", 0}, {NULL}}, 1},
    {"tags_dynamic_differs", {{"i", "", 1}, {NULL}}, {{"i", "", 2}, {NULL}}, 1},
    {"tags_count_differs", {{"app", "a", 0}, {NULL}}, {{"app", "a", 0}, {"x", "y", 0}, {NULL}}, 1},
    {"tags_key_differs", {{"app", "a", 0}, {NULL}}, {{"apq", "a", 0}, {NULL}}, 1},
    {"tags_duplicate_in_update_counts_once",
     {{"app", "a", 0}, {NULL}},
     {{"app", "z", 0}, {"app", "a", 0}, {NULL}},
     0},
};

static void test_tags_case(void **state)
{
    const struct tags_case *c = *state;
    struct tags old;
    struct tags upd;
    Models__DesiredLRPUpdate u = MODELS__DESIRED_LRPUPDATE__INIT;

    make_tags(&old, c->old);
    make_tags(&upd, c->upd);
    u.n_metric_tags = upd.n;
    u.metric_tags = upd.p;
    assert_int_equal(bbs_rep_push_tags_changed(old.p, old.n, &u), c->want);
}

/* ---- hostnames --------------------------------------------------------------------------- */

struct hosts_case {
    const char *name;
    const char *value; /* NULL: no internal-router entry */
    int rc;
    int null; /* *out NULL (JSON null) */
    const char *want[3];
    size_t n;
};

static const struct hosts_case hosts_cases[] = {
    {"hosts_no_entry", NULL, 0, 1, {NULL}, 0},
    {"hosts_json_null", "null", 0, 1, {NULL}, 0},
    {"hosts_empty_list", "[]", 0, 0, {NULL}, 0},
    {"hosts_two",
     "[{\"hostname\":\"a.internal\"},{\"hostname\":\"b.internal\",\"port\":8080}]",
     0,
     0,
     {"a.internal", "b.internal"},
     2},
    {"hosts_key_case_insensitive", "[{\"HostName\":\"a.internal\"}]", 0, 0, {"a.internal"}, 1},
    {"hosts_null_element", "[null,{}]", 0, 0, {"", ""}, 2},
    {"hosts_not_a_list", "{\"hostname\":\"a\"}", -1, 0, {NULL}, 0},
    {"hosts_hostname_not_string", "[{\"hostname\":5}]", -1, 0, {NULL}, 0},
    {"hosts_element_not_object", "[\"a\"]", -1, 0, {NULL}, 0},
};

static void test_hosts_case(void **state)
{
    const struct hosts_case *c = *state;
    struct bbs_arena *arena = bbs_arena_new();
    const char *kv[6] = {c->value != NULL ? IR : "cf-router", c->value != NULL ? c->value : "[]",
                         NULL};
    struct routes r;
    const char *const *out = NULL;
    size_t n = 99;

    assert_int_equal(bbs_rep_push_internal_routes(arena, make_routes(&r, kv), &out, &n), c->rc);
    if (c->rc == 0) {
        assert_int_equal(out == NULL, c->null);
        assert_int_equal(n, c->n);
        for (size_t i = 0; i < c->n; i++) {
            assert_string_equal(out[i], c->want[i]);
        }
    }
    bbs_arena_free(arena);
}

/* ---- tags per instance ------------------------------------------------------------------- */

static void test_tags_for_instance(void **state)
{
    static const struct tag_def defs[] = {
        {"source_id", "app-guid", 0}, {"index", "", 1}, {"instance_id", "", 2}, {NULL}};
    struct bbs_arena *arena = bbs_arena_new();
    struct tags t;
    Models__DesiredLRPUpdate u = MODELS__DESIRED_LRPUPDATE__INIT;
    const char *const *names = NULL;
    const char *const *values = NULL;
    size_t n = 0;

    (void)state;
    make_tags(&t, defs);
    u.n_metric_tags = t.n;
    u.metric_tags = t.p;
    bbs_rep_push_tags_for(arena, &u, 7, "ig-7", &names, &values, &n);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "source_id");
    assert_string_equal(values[0], "app-guid");
    assert_string_equal(names[1], "index");
    assert_string_equal(values[1], "7");
    assert_string_equal(names[2], "instance_id");
    assert_string_equal(values[2], "ig-7");
    bbs_arena_free(arena);
}

static void test_tags_for_last_duplicate_wins(void **state)
{
    static const struct tag_def defs[] = {{"app", "old", 0}, {"app", "new", 0}, {NULL}};
    struct bbs_arena *arena = bbs_arena_new();
    struct tags t;
    Models__DesiredLRPUpdate u = MODELS__DESIRED_LRPUPDATE__INIT;
    const char *const *names = NULL;
    const char *const *values = NULL;
    size_t n = 0;

    (void)state;
    make_tags(&t, defs);
    u.n_metric_tags = t.n;
    u.metric_tags = t.p;
    bbs_rep_push_tags_for(arena, &u, 0, "ig", &names, &values, &n);
    assert_int_equal(n, 1);
    assert_string_equal(values[0], "new");
    bbs_arena_free(arena);
}

#define ROWS(table, fn)                                                                            \
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {                                \
        tests[n++] = (struct CMUnitTest){                                                          \
            .name = table[i].name, .test_func = fn, .initial_state = (void *)&table[i]};           \
    }

int main(void)
{
    struct CMUnitTest tests[64];
    size_t n = 0;

    ROWS(routes_cases, test_routes_case);
    ROWS(tags_cases, test_tags_case);
    ROWS(hosts_cases, test_hosts_case);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_tags_for_instance);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_tags_for_last_duplicate_wins);
    return _cmocka_run_group_tests("rep_push", tests, n, NULL, NULL);
}
