/*
 * test_convergence_cells.c - the cell steps of convergence (reference 7.2
 * steps 2, 4, 9 and work items D, E; the cell-set safety rule) with a cell
 * set the test controls.
 *
 * Until the Locket client is wired into the binary, the converger runs in
 * this process over the group's database (its own store, outbox and
 * auction client aimed at the stub auctioneer), with a cell source that
 * answers what the test says (or fails, as a Locket that is down). The
 * server runs too, for the API the cells call, with its own convergence
 * held off (1 h interval). Each run is triggered by the test, so nothing
 * waits on a timer.
 */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/converger.h"
#include "support/internal.h"

#define DOMAIN "cells-fresh"
#define SUSP   MODELS__ACTUAL_LRP__PRESENCE__SUSPECT
#define ORDY   MODELS__ACTUAL_LRP__PRESENCE__ORDINARY
#define EVAC   MODELS__ACTUAL_LRP__PRESENCE__EVACUATING

/* The cell set the stand-in answers (read by the loop thread of one test too). */
static pthread_mutex_t g_cells_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    const char *ids[4];
    size_t n;
    int down;
} g_cells;

static struct bbs_store *g_store;
static struct bbs_outbox *g_outbox;
static struct bbs_auction *g_auction;
static struct bbs_converger *g_conv;

static int fake_cells(void *ctx, struct bbs_arena *arena, struct bbs_cell **out, size_t *n,
                      struct bbs_error *err)
{
    struct bbs_cell *cells;

    (void)ctx;
    pthread_mutex_lock(&g_cells_mu);
    if (g_cells.down) {
        pthread_mutex_unlock(&g_cells_mu);
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "locket: connection refused");
        return -1;
    }
    cells = bbs_arena_zalloc(arena, (g_cells.n + 1) * sizeof(*cells));
    for (size_t i = 0; i < g_cells.n; i++) {
        cells[i].cell_id = bbs_arena_strdup(arena, g_cells.ids[i]);
        cells[i].rep_address = "";
        cells[i].rep_url = "";
        cells[i].zone = "z1";
    }
    *out = cells;
    *n = g_cells.n;
    pthread_mutex_unlock(&g_cells_mu);
    return 0;
}

static void set_cells(const char *a, const char *b)
{
    pthread_mutex_lock(&g_cells_mu);
    g_cells.down = 0;
    g_cells.n = 0;
    if (a != NULL) {
        g_cells.ids[g_cells.n++] = a;
    }
    if (b != NULL) {
        g_cells.ids[g_cells.n++] = b;
    }
    pthread_mutex_unlock(&g_cells_mu);
}

static struct bbs_conv_run converge(void)
{
    struct bbs_conv_run r;

    bbs_converger_run(g_conv, &r);
    assert_int_equal(r.failed, 0);
    assert_int_equal(r.failed_batches, 0);
    return r;
}

static void new_running(char *guid, size_t len, const char *prefix, const char *cell)
{
    json_t *a;

    it_uniq(guid, len, prefix);
    it_desire(guid, DOMAIN, 1);
    a = it_auction_wait(guid, 1, 5000);
    assert_int_equal(json_array_size(a), 1);
    json_decref(a);
    assert_int_equal(it_start(guid, 0, DOMAIN, "ig-first", cell, "10.0.0.1"), IT_OK);
}

/* The row (guid, 0, presence) as listed, copied: state and cell, "" when absent. */
static int row(const char *guid, int presence, char *state, char *cell)
{
    Models__ActualLRPsResponse *r = it_list_actuals(guid);
    const Models__ActualLRP *a = it_find_actual(r, 0, presence);
    int found = a != NULL;

    state[0] = cell[0] = '\0';
    if (a != NULL) {
        snprintf(state, 32, "%s", a->state);
        snprintf(cell, 64, "%s",
                 a->actual_lrp_instance_key ? a->actual_lrp_instance_key->cell_id : "");
    }
    it_free(r);
    return found;
}

static size_t auctions(const char *guid)
{
    json_t *a = it_auction_starts(guid);
    size_t n = json_array_size(a);

    json_decref(a);
    return n;
}

static void test_cell_vanishes_suspect_and_replacement(void **state)
{
    char guid[64];
    char st[32];
    char cell[64];
    struct bbs_conv_run r;
    json_t *a;

    (void)state;
    set_cells("vanish-a", "vanish-b");
    new_running(guid, sizeof(guid), "vanish", "vanish-a");
    converge();
    assert_int_equal(row(guid, SUSP, st, cell), 0);

    set_cells("vanish-b", NULL); /* vanish-a is gone */
    r = converge();
    assert_int_equal(r.verdict, BBS_CONV_CELLS_OK);
    assert_true(r.suspects_marked >= 1);
    assert_true(r.counts.suspect_cells >= 1);
    assert_int_equal(row(guid, SUSP, st, cell), 1);
    assert_string_equal(st, "RUNNING");
    assert_string_equal(cell, "vanish-a"); /* still routable while the replacement starts */
    assert_int_equal(row(guid, ORDY, st, cell), 1);
    assert_string_equal(st, "UNCLAIMED");
    a = it_auction_wait(guid, 2, 5000); /* the replacement is auctioned */
    assert_int_equal(json_array_size(a), 2);
    json_decref(a);

    /* The replacement starts on another cell: the suspect goes (3.4). */
    assert_int_equal(it_start(guid, 0, DOMAIN, "ig-second", "vanish-b", "10.0.0.2"), IT_OK);
    assert_int_equal(row(guid, SUSP, st, cell), 0);
    assert_int_equal(row(guid, ORDY, st, cell), 1);
    assert_string_equal(cell, "vanish-b");
    converge();
    assert_int_equal(it_actual_count(guid), 1);
}

static void test_cell_returns_suspect_promoted(void **state)
{
    char guid[64];
    char st[32];
    char cell[64];
    struct bbs_conv_run r;

    (void)state;
    set_cells("back-a", "back-b");
    new_running(guid, sizeof(guid), "back", "back-a");
    set_cells("back-b", NULL);
    converge();
    assert_int_equal(row(guid, SUSP, st, cell), 1);

    set_cells("back-a", "back-b"); /* back before the replacement started */
    r = converge();
    assert_true(r.promoted >= 1);
    assert_int_equal(row(guid, SUSP, st, cell), 0);
    assert_int_equal(row(guid, ORDY, st, cell), 1);
    assert_string_equal(st, "RUNNING");
    assert_string_equal(cell, "back-a");
    assert_int_equal(it_actual_count(guid), 1);
}

static void test_replacement_on_vanished_cell_unclaimed(void **state)
{
    char guid[64];
    char st[32];
    char cell[64];
    size_t n_auctions;
    struct bbs_conv_run r;

    (void)state;
    set_cells("repl-a", "repl-c");
    new_running(guid, sizeof(guid), "repl", "repl-a");
    set_cells("repl-c", NULL);
    converge(); /* suspect on repl-a, replacement auctioned */
    assert_int_equal(it_claim(guid, 0, "ig-repl", "repl-c"), IT_OK);
    it_sleep_ms(it_quiet_ms());
    n_auctions = auctions(guid);

    set_cells("repl-z", NULL); /* repl-c is gone too */
    r = converge();
    assert_true(r.replacements_unclaimed >= 1);
    assert_int_equal(row(guid, ORDY, st, cell), 1);
    assert_string_equal(st, "UNCLAIMED");
    assert_int_equal(row(guid, SUSP, st, cell), 1); /* the suspect stays */
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(auctions(guid), n_auctions); /* no start request (7.2 D) */
}

static void test_evacuating_on_vanished_cell_pruned(void **state)
{
    char guid[64];
    char st[32];
    char cell[64];
    const char *p[1];

    (void)state;
    set_cells("evac-a", "evac-b");
    new_running(guid, sizeof(guid), "evac", "evac-a");
    p[0] = guid;
    assert_true(it_db_exec("INSERT INTO actual_lrps (process_guid, instance_index, presence,"
                           " domain, state, cell_id, instance_guid, since,"
                           " modification_tag_epoch) VALUES ($1, 0, 1, 'cells-fresh', 'RUNNING',"
                           " 'evac-gone', 'ig-evac', 1, 'e')",
                           1, p) == 1);
    converge();
    assert_int_equal(row(guid, EVAC, st, cell), 0);
    assert_int_equal(row(guid, ORDY, st, cell), 1);
    assert_string_equal(cell, "evac-a");
}

static void test_locket_down_nothing_destroyed(void **state)
{
    char guid[64];
    char st[32];
    char cell[64];
    struct bbs_conv_run r;

    (void)state;
    set_cells("down-a", NULL);
    new_running(guid, sizeof(guid), "down", "down-a");
    converge();
    pthread_mutex_lock(&g_cells_mu);
    g_cells.down = 1;
    pthread_mutex_unlock(&g_cells_mu);
    r = converge();
    assert_int_equal(r.verdict, BBS_CONV_CELLS_LOCKET_FAILED);
    assert_int_equal(r.counts.cell_steps_skipped, 1);
    assert_int_equal(r.suspects_marked + r.evacuating_pruned + r.promoted, 0);
    assert_int_equal(row(guid, SUSP, st, cell), 0);
    assert_int_equal(row(guid, ORDY, st, cell), 1);
    assert_string_equal(st, "RUNNING");
    assert_string_equal(cell, "down-a");
}

static void test_empty_cell_set_after_cells_distrusted(void **state)
{
    char guid[64];
    char st[32];
    char cell[64];
    struct bbs_conv_run r;

    (void)state;
    set_cells("empty-a", NULL);
    new_running(guid, sizeof(guid), "empty", "empty-a");
    r = converge();
    assert_int_equal(r.verdict, BBS_CONV_CELLS_OK);
    set_cells(NULL, NULL); /* Locket answers no cells at all */
    for (int i = 0; i < 2; i++) {
        uint64_t skipped = r.cell_skipped_runs;

        r = converge();
        assert_int_equal(r.verdict, BBS_CONV_CELLS_EMPTY_DISTRUSTED);
        assert_int_equal(r.suspects_marked, 0);
        assert_int_equal(r.cell_skipped_runs, skipped + 1); /* counted */
    }
    assert_int_equal(row(guid, SUSP, st, cell), 0);
    assert_int_equal(row(guid, ORDY, st, cell), 1);
    assert_string_equal(st, "RUNNING");
    /* Believable again: converges normally. */
    set_cells("empty-a", NULL);
    r = converge();
    assert_int_equal(r.verdict, BBS_CONV_CELLS_OK);
    assert_int_equal(row(guid, SUSP, st, cell), 0);
}

static void test_internal_route_drift_found(void **state)
{
    static const char hosts[] = "[{\"hostname\":\"drift.apps.internal\"}]";
    struct it_dlrp d;
    Models__ProtoRoutes routes = MODELS__PROTO_ROUTES__INIT;
    Models__ProtoRoutes__RoutesEntry entry = MODELS__PROTO_ROUTES__ROUTES_ENTRY__INIT;
    Models__ProtoRoutes__RoutesEntry *entries[1] = {&entry};
    struct bbs_conv_run r;
    char guid[64];
    json_t *a;

    (void)state;
    set_cells("drift-a", NULL);
    it_uniq(guid, sizeof(guid), "drift");
    it_dlrp_init(&d, guid, 1);
    d.lrp.domain = (char *)DOMAIN;
    entry.key = (char *)"internal-router";
    entry.value.data = (uint8_t *)hosts;
    entry.value.len = sizeof(hosts) - 1;
    routes.routes = entries;
    routes.n_routes = 1;
    d.lrp.routes = &routes;
    assert_int_equal(it_desire_lrp(&d.lrp), IT_OK);
    a = it_auction_wait(guid, 1, 5000);
    json_decref(a);
    /* Started without internal routes: the desired one must be pushed to the rep. */
    assert_int_equal(it_start(guid, 0, DOMAIN, "ig-drift", "drift-a", "10.0.0.7"), IT_OK);
    r = converge();
    assert_int_equal(r.route_updates, 0); /* no rep client here: counted as skipped */
    assert_int_equal(r.rep_skipped, 1);
    assert_int_equal(r.tag_updates, 0);
}

static void test_vanished_cell_runs_at_once(void **state)
{
    struct bbs_converger_config cfg = {INT64_C(3600000000000), 2, INT64_C(20000000), 0};
    struct bbs_conv_cell_source src = {fake_cells, NULL};
    struct bbs_converger *loop;
    struct bbs_conv_run last;
    struct bbs_error err = {0};
    char guid[64];
    char st[32];
    char cell[64];
    int64_t t0;

    (void)state;
    set_cells("poll-a", "poll-b");
    new_running(guid, sizeof(guid), "poll", "poll-a");
    /* A loop whose timer never fires within the test: only the poll can start a run. */
    loop = bbs_converger_new(&cfg, g_store, g_auction, NULL, &src);
    assert_int_equal(bbs_converger_start(loop, &err), 0);
    it_sleep_ms(200); /* a few polls see both cells */
    bbs_converger_last(loop, &last);
    assert_int_equal(last.runs, 0);
    set_cells("poll-b", NULL);
    t0 = it_mono_ms();
    do {
        it_sleep_ms(20);
        bbs_converger_last(loop, &last);
    } while (last.runs == 0 && it_mono_ms() - t0 < 10000);
    bbs_converger_free(loop);
    assert_int_equal(last.runs, 1);
    assert_int_equal(row(guid, SUSP, st, cell), 1);
    assert_string_equal(cell, "poll-a");
}

static int setup(void **state)
{
    static json_t *extra;
    struct bbs_outbox_config ocfg;
    struct bbs_converger_config ccfg = {INT64_C(3600000000000), 4, 0, 0};
    struct bbs_conv_cell_source src = {fake_cells, NULL};
    struct bbs_error err = {0};
    Models__UpsertDomainRequest up = MODELS__UPSERT_DOMAIN_REQUEST__INIT;
    char url[64];

    extra = json_pack("{s:s}", "converge_repeat_interval", "1h");
    it_server_config(extra);
    if (it_group_setup(state) != 0) {
        return -1;
    }
    it_server_config(NULL);
    json_decref(extra);
    up.domain = (char *)DOMAIN;
    up.ttl = 0; /* never expires */
    if (it_call_err("/v1/domains/upsert", &up.base, &models__upsert_domain_response__descriptor) !=
        IT_OK) {
        return -1;
    }
    g_store = bbs_store_new(it_db_conninfo(), 8, 3, &err);
    if (g_store == NULL) {
        fprintf(stderr, "store: %s\n", err.message);
        return -1;
    }
    memset(&ocfg, 0, sizeof(ocfg));
    g_outbox = bbs_outbox_new(&ocfg, &err);
    if (g_outbox == NULL) {
        fprintf(stderr, "outbox: %s\n", err.message);
        return -1;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", it_auct_port());
    g_auction = bbs_auction_new(g_outbox, url, 0);
    g_conv = bbs_converger_new(&ccfg, g_store, g_auction, NULL, &src);
    return 0;
}

static int teardown(void **state)
{
    bbs_converger_free(g_conv);
    bbs_auction_free(g_auction);
    bbs_outbox_stop(g_outbox);
    bbs_outbox_free(g_outbox);
    bbs_store_free(g_store);
    return it_group_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cell_vanishes_suspect_and_replacement),
        cmocka_unit_test(test_cell_returns_suspect_promoted),
        cmocka_unit_test(test_replacement_on_vanished_cell_unclaimed),
        cmocka_unit_test(test_evacuating_on_vanished_cell_pruned),
        cmocka_unit_test(test_locket_down_nothing_destroyed),
        cmocka_unit_test(test_empty_cell_set_after_cells_distrusted),
        cmocka_unit_test(test_internal_route_drift_found),
        cmocka_unit_test(test_vanished_cell_runs_at_once),
    };

    it_set_name("convergence_cells");
    return it_main_exit(cmocka_run_group_tests_name("convergence_cells", tests, setup, teardown));
}
