/*
 * test_task_store.c - what the task store records in the change record
 * (task_store.h, reference part 2, 11.5, 11.6): the store is called
 * in-process against the group's database, and each call's record is
 * checked: the rows before/after, the auction of a desire, the rep cancel
 * of a task that had a cell, the callback (only with a URL), a reject past
 * the limit as one change whose `before` counts the rejection, nothing for
 * the repeated start, nothing for a refused call.
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

#include "bbs/arena.h"
#include "bbs/change.h"
#include "bbs/changelog.h"
#include "bbs/store.h"
#include "bbs/task_codec.h"
#include "bbs/task_store.h"
#include "task.pb-c.h"

#define NOW INT64_C(1700000000000000000)

static struct bbs_store *g_store;

struct rec {
    struct bbs_arena *arena;
    struct bbs_change ch;
};

static void rec_init(struct rec *r)
{
    r->arena = bbs_arena_new();
    bbs_change_init(&r->ch, r->arena);
}

static void rec_free(struct rec *r)
{
    bbs_arena_free(r->arena);
}

/* Desire `guid` with a callback URL (or none when `url` is NULL). */
static void desire(const char *guid, const char *url)
{
    Models__TaskDefinition d = MODELS__TASK_DEFINITION__INIT;
    Models__RunAction run = MODELS__RUN_ACTION__INIT;
    Models__Action act = MODELS__ACTION__INIT;
    Models__VolumeMount vm = MODELS__VOLUME_MOUNT__INIT;
    Models__VolumeMount *vms[1] = {&vm};
    struct bbs_task t = {0};
    struct bbs_task_start start;
    struct bbs_error err = {0};
    struct rec r;

    run.path = IT_S("/bin/true");
    run.user = IT_S("vcap");
    act.run_action = &run;
    d.root_fs = IT_S("preloaded:cflinuxfs4");
    d.action = &act;
    d.memory_mb = 128;
    d.disk_mb = 512;
    d.max_pids = 9;
    d.completion_callback_url = (char *)url;
    d.annotation = IT_S("note");
    vm.driver = IT_S("nfs");
    d.volume_mounts = vms;
    d.n_volume_mounts = 1;
    rec_init(&r);
    t.guid = guid;
    t.domain = "d";
    t.definition = bbs_task_encode_definition(r.arena, &d);
    bbs_task_start_of(r.arena, guid, "d", &d, &start);
    assert_int_equal(bbs_store_task_desire(g_store, &t, &start, NOW, &r.ch, &err), 0);
    assert_true(r.ch.committed);
    assert_int_equal(r.ch.n_tasks, 1);
    assert_null(r.ch.tasks[0].before);
    assert_int_equal(r.ch.tasks[0].after->state, BBS_TASK_PENDING);
    assert_int_equal(r.ch.tasks[0].after->created_at, NOW);
    assert_int_equal(r.ch.tasks[0].after->updated_at, NOW);
    assert_int_equal(r.ch.n_task_auctions, 1);
    assert_string_equal(r.ch.task_auctions[0].task_guid, guid);
    assert_string_equal(r.ch.task_auctions[0].root_fs, "preloaded:cflinuxfs4");
    assert_int_equal(r.ch.task_auctions[0].memory_mb, 128);
    assert_int_equal(r.ch.task_auctions[0].disk_mb, 512);
    assert_int_equal(r.ch.task_auctions[0].max_pids, 9);
    assert_int_equal(r.ch.task_auctions[0].n_volume_drivers, 1);
    assert_string_equal(r.ch.task_auctions[0].volume_drivers[0], "nfs");
    assert_null(r.ch.task_auctions[0].placement_tags);
    assert_int_equal(r.ch.n_task_callbacks, 0);
    rec_free(&r);
}

static void start(const char *guid, const char *cell)
{
    struct bbs_error err = {0};
    struct rec r;
    int should = 0;

    rec_init(&r);
    assert_int_equal(bbs_store_task_start(g_store, guid, cell, NOW + 1, &should, &r.ch, &err), 0);
    assert_true(should);
    assert_int_equal(r.ch.n_tasks, 1);
    assert_int_equal(r.ch.tasks[0].before->state, BBS_TASK_PENDING);
    assert_int_equal(r.ch.tasks[0].after->state, BBS_TASK_RUNNING);
    assert_string_equal(r.ch.tasks[0].after->cell_id, cell);
    rec_free(&r);
}

static void test_desire_records_created_and_auction(void **state)
{
    char guid[64];

    (void)state;
    it_uniq(guid, sizeof(guid), "st");
    desire(guid, "http://cb");
}

static void test_repeated_start_records_nothing(void **state)
{
    char guid[64];
    struct bbs_error err = {0};
    struct rec r;
    int should = 1;

    (void)state;
    it_uniq(guid, sizeof(guid), "st");
    desire(guid, NULL);
    start(guid, "cell-a");
    rec_init(&r);
    assert_int_equal(bbs_store_task_start(g_store, guid, "cell-a", NOW + 2, &should, &r.ch, &err),
                     0);
    assert_false(should);
    assert_int_equal(r.ch.n_tasks, 0);
    rec_free(&r);
}

static void test_refused_call_records_nothing(void **state)
{
    char guid[64];
    struct bbs_error err = {0};
    struct rec r;
    int should = 1;

    (void)state;
    it_uniq(guid, sizeof(guid), "st");
    desire(guid, "http://cb");
    start(guid, "cell-a");
    rec_init(&r);
    assert_int_equal(bbs_store_task_start(g_store, guid, "cell-b", NOW + 2, &should, &r.ch, &err),
                     -1);
    assert_int_equal(err.type, BBS_ERR_INVALID_STATE_TRANSITION);
    assert_false(r.ch.committed);
    assert_int_equal(r.ch.n_tasks, 0);
    assert_int_equal(
        bbs_store_task_complete(g_store, guid, "cell-b", 0, "", "", NOW + 3, &r.ch, &err), -1);
    assert_int_equal(err.type, BBS_ERR_RUNNING_ON_DIFFERENT_CELL);
    assert_int_equal(r.ch.n_tasks, 0);
    assert_int_equal(r.ch.n_task_callbacks, 0);
    rec_free(&r);
}

static void test_cancel_pending_has_no_rep_cancel(void **state)
{
    char guid[64];
    struct bbs_error err = {0};
    struct rec r;

    (void)state;
    it_uniq(guid, sizeof(guid), "st");
    desire(guid, NULL);
    rec_init(&r);
    assert_int_equal(bbs_store_task_cancel(g_store, guid, NOW + 2, &r.ch, &err), 0);
    assert_int_equal(r.ch.n_tasks, 1);
    assert_int_equal(r.ch.tasks[0].after->state, BBS_TASK_COMPLETED);
    assert_int_equal(r.ch.n_task_cancels, 0);
    assert_int_equal(r.ch.n_task_callbacks, 0); /* no URL */
    rec_free(&r);
}

static void test_cancel_running_records_rep_cancel_and_callback(void **state)
{
    char guid[64];
    struct bbs_error err = {0};
    struct rec r;

    (void)state;
    it_uniq(guid, sizeof(guid), "st");
    desire(guid, "http://cb/done");
    start(guid, "cell-a");
    rec_init(&r);
    assert_int_equal(bbs_store_task_cancel(g_store, guid, NOW + 2, &r.ch, &err), 0);
    assert_int_equal(r.ch.n_tasks, 1);
    assert_string_equal(r.ch.tasks[0].before->cell_id, "cell-a");
    assert_string_equal(r.ch.tasks[0].after->cell_id, "");
    assert_string_equal(r.ch.tasks[0].after->failure_reason, "task was cancelled");
    assert_int_equal(r.ch.n_task_cancels, 1);
    assert_string_equal(r.ch.task_cancels[0].task_guid, guid);
    assert_string_equal(r.ch.task_cancels[0].cell_id, "cell-a");
    assert_int_equal(r.ch.n_task_callbacks, 1);
    assert_string_equal(r.ch.task_callbacks[0].url, "http://cb/done");
    assert_string_equal(r.ch.task_callbacks[0].annotation, "note");
    assert_ptr_equal(r.ch.task_callbacks[0].task, r.ch.tasks[0].after);
    rec_free(&r);
}

static void test_complete_records_callback_only_with_url(void **state)
{
    char with[64], without[64];
    struct bbs_error err = {0};
    struct rec r;

    (void)state;
    it_uniq(with, sizeof(with), "st");
    it_uniq(without, sizeof(without), "st");
    desire(with, "http://cb");
    desire(without, NULL);
    start(with, "cell-a");
    start(without, "cell-a");
    rec_init(&r);
    assert_int_equal(
        bbs_store_task_complete(g_store, with, "cell-a", 1, "oom", "res", NOW + 2, &r.ch, &err), 0);
    assert_int_equal(r.ch.n_tasks, 1);
    assert_int_equal(r.ch.tasks[0].after->state, BBS_TASK_COMPLETED);
    assert_string_equal(r.ch.tasks[0].after->result, "res");
    assert_int_equal(r.ch.tasks[0].after->first_completed_at, NOW + 2);
    assert_int_equal(r.ch.n_task_callbacks, 1);
    assert_int_equal(r.ch.task_callbacks[0].task->state, BBS_TASK_COMPLETED);
    assert_int_equal(r.ch.n_task_cancels, 0);
    rec_free(&r);
    rec_init(&r);
    assert_int_equal(
        bbs_store_task_complete(g_store, without, "cell-a", 0, "", "", NOW + 2, &r.ch, &err), 0);
    assert_int_equal(r.ch.n_tasks, 1);
    assert_int_equal(r.ch.n_task_callbacks, 0);
    rec_free(&r);
}

static void test_fail_records_callback(void **state)
{
    char guid[64];
    struct bbs_error err = {0};
    struct rec r;

    (void)state;
    it_uniq(guid, sizeof(guid), "st");
    desire(guid, "http://cb");
    rec_init(&r);
    assert_int_equal(bbs_store_task_fail(g_store, guid, "nope", NOW + 2, &r.ch, &err), 0);
    assert_int_equal(r.ch.n_tasks, 1);
    assert_string_equal(r.ch.tasks[0].after->failure_reason, "nope");
    assert_int_equal(r.ch.n_task_callbacks, 1);
    assert_int_equal(r.ch.n_task_cancels, 0);
    rec_free(&r);
}

static void test_reject_below_and_past_the_limit(void **state)
{
    char guid[64];
    struct bbs_error err = {0};
    struct rec r;

    (void)state;
    it_uniq(guid, sizeof(guid), "st");
    desire(guid, "http://cb");
    start(guid, "cell-a");
    rec_init(&r);
    assert_int_equal(bbs_store_task_reject(g_store, guid, "full", 1, NOW + 2, &r.ch, &err), 0);
    assert_int_equal(r.ch.n_tasks, 1);
    assert_int_equal(r.ch.tasks[0].before->state, BBS_TASK_RUNNING);
    assert_int_equal(r.ch.tasks[0].after->state, BBS_TASK_PENDING);
    assert_int_equal(r.ch.tasks[0].after->rejection_count, 1);
    assert_int_equal(r.ch.n_task_callbacks, 0);
    rec_free(&r);

    /* count 1 >= max 1: one change, the fail step's (11.5.1, 11.10) */
    rec_init(&r);
    assert_int_equal(bbs_store_task_reject(g_store, guid, "still", 1, NOW + 3, &r.ch, &err), 0);
    assert_int_equal(r.ch.n_tasks, 1);
    assert_int_equal(r.ch.tasks[0].before->state, BBS_TASK_PENDING);
    assert_int_equal(r.ch.tasks[0].before->rejection_count, 2);
    assert_string_equal(r.ch.tasks[0].before->rejection_reason, "still");
    assert_int_equal(r.ch.tasks[0].after->state, BBS_TASK_COMPLETED);
    assert_true(r.ch.tasks[0].after->failed);
    assert_string_equal(r.ch.tasks[0].after->failure_reason, "still");
    assert_int_equal(r.ch.n_task_callbacks, 1);
    rec_free(&r);
}

static void test_resolving_and_delete_record_the_rows(void **state)
{
    char guid[64];
    struct bbs_error err = {0};
    struct rec r;

    (void)state;
    it_uniq(guid, sizeof(guid), "st");
    desire(guid, "http://cb");
    rec_init(&r);
    assert_int_equal(bbs_store_task_fail(g_store, guid, "x", NOW + 2, &r.ch, &err), 0);
    rec_free(&r);
    rec_init(&r);
    assert_int_equal(bbs_store_task_resolving(g_store, guid, NOW + 3, &r.ch, &err), 0);
    assert_int_equal(r.ch.n_tasks, 1);
    assert_int_equal(r.ch.tasks[0].before->state, BBS_TASK_COMPLETED);
    assert_int_equal(r.ch.tasks[0].after->state, BBS_TASK_RESOLVING);
    assert_int_equal(r.ch.tasks[0].after->updated_at, NOW + 3);
    assert_int_equal(r.ch.n_task_callbacks, 0);
    rec_free(&r);
    rec_init(&r);
    assert_int_equal(bbs_store_task_delete(g_store, guid, &r.ch, &err), 0);
    assert_int_equal(r.ch.n_tasks, 1);
    assert_int_equal(r.ch.tasks[0].before->state, BBS_TASK_RESOLVING);
    assert_null(r.ch.tasks[0].after);
    rec_free(&r);
}

/* Warming the pool opens idle connections up to `n`, never past the
 * pool's maximum and without waiting (the event hub warms it at start). */
static void test_warm_opens_idle_connections_up_to_the_maximum(void **state)
{
    struct bbs_error err = {0};
    struct bbs_store *st = bbs_store_new(it_db_conninfo(), 3, 3, &err);
    struct bbs_store_stats before;
    struct bbs_store_stats after;

    (void)state;
    assert_non_null(st);
    bbs_store_stats(st, 0, &before);
    assert_true(before.open_connections <= 1);
    bbs_store_warm(st, 2);
    bbs_store_stats(st, 0, &after);
    assert_int_equal(after.open_connections, 2);
    bbs_store_warm(st, 2); /* already warm: nothing more */
    bbs_store_stats(st, 0, &after);
    assert_int_equal(after.open_connections, 2);
    bbs_store_warm(st, 10); /* capped at the maximum, returns at once */
    bbs_store_stats(st, 0, &after);
    assert_int_equal(after.open_connections, 3);
    assert_int_equal(after.wait_count, 0);
    bbs_store_free(st);
}

static int setup(void **state)
{
    struct bbs_error err = {0};

    if (it_group_setup(state) != 0) {
        return -1;
    }
    g_store = bbs_store_new(it_db_conninfo(), 4, 3, &err);
    if (g_store == NULL) {
        fprintf(stderr, "store: %s\n", err.message);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    bbs_store_free(g_store);
    return it_group_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_desire_records_created_and_auction),
        cmocka_unit_test(test_repeated_start_records_nothing),
        cmocka_unit_test(test_refused_call_records_nothing),
        cmocka_unit_test(test_cancel_pending_has_no_rep_cancel),
        cmocka_unit_test(test_cancel_running_records_rep_cancel_and_callback),
        cmocka_unit_test(test_complete_records_callback_only_with_url),
        cmocka_unit_test(test_fail_records_callback),
        cmocka_unit_test(test_reject_below_and_past_the_limit),
        cmocka_unit_test(test_resolving_and_delete_record_the_rows),
        cmocka_unit_test(test_warm_opens_idle_connections_up_to_the_maximum),
    };

    it_set_name("task_store");
    return it_main_exit(cmocka_run_group_tests_name("task_store", tests, setup, teardown));
}
