/*
 * test_hub.c - the event hub's fan-out (hub.h) without a database: rows are
 * handed to bbs_hub_deliver as the hub's thread would, and subscribers are
 * fake sinks that record what they get and can be made full or gone. Also
 * the SSE record framing, base64 and the cell filter.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bbs/events.h"
#include "bbs/hub.h"

/* ---- a recording sink ---- */

struct fake {
    struct bbs_buf got; /* everything appended */
    int records;        /* records appended */
    int unread;         /* records "the client" has not taken */
    int full_at;        /* unread records at which send says full (0: never) */
    int gone;           /* send says the client left */
    int ended;
    int released;
};

static int fake_send(void *ctx, const void *p, size_t n, size_t max)
{
    struct fake *f = ctx;

    if (f->gone || f->ended) {
        return -1;
    }
    if ((size_t)f->unread >= max) {
        return 1;
    }
    bbs_buf_append(&f->got, p, n);
    f->records++;
    f->unread++;
    return 0;
}

static void fake_end(void *ctx)
{
    ((struct fake *)ctx)->ended = 1;
}

static void fake_release(void *ctx)
{
    ((struct fake *)ctx)->released++;
}

static struct bbs_hub *hub_new(size_t queue_max)
{
    struct bbs_hub_config cfg = {queue_max, INT64_C(15000000000), INT64_C(1000000000), 100};

    return bbs_hub_new(NULL, &cfg);
}

static void subscribe(struct bbs_hub *hub, struct fake *f, unsigned streams, int v0,
                      const char *cell)
{
    struct bbs_hub_sink sink = {fake_send, fake_end, fake_release, f};
    struct bbs_hub_sub_opts o = {streams, v0, cell, 0, 0};
    struct bbs_error err = {0};

    assert_int_equal(bbs_hub_subscribe(hub, &sink, &o, &err), 0);
}

static const uint8_t V3[] = {0x0a, 0x03, 'v', '3', '!'};
static const uint8_t V0[] = {0x0a, 0x02, 'v', '0'};

static struct bbs_changelog_row row(int64_t seq, const char *name, unsigned streams,
                                    const char *cell_a, const char *cell_b, int with_v0)
{
    struct bbs_changelog_row r = {0};

    r.seq = seq;
    r.name = name;
    r.streams = streams;
    r.cell_ids[0] = cell_a;
    r.cell_ids[1] = cell_b;
    r.payload = V3;
    r.payload_len = sizeof(V3);
    if (with_v0) {
        r.payload_v0 = V0;
        r.payload_v0_len = sizeof(V0);
    }
    return r;
}

static void got_is(struct fake *f, const char *want)
{
    bbs_buf_putc(&f->got, 0);
    f->got.len--;
    assert_string_equal((const char *)f->got.data, want);
}

/* ---- framing ---- */

static void test_base64_padding(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {{"", ""},
                 {"f", "Zg=="},
                 {"fo", "Zm8="},
                 {"foo", "Zm9v"},
                 {"foob", "Zm9vYg=="},
                 {"fooba", "Zm9vYmE="},
                 {"foobar", "Zm9vYmFy"},
                 {"\xff\xfe\xfd", "//79"}};

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bbs_buf b = {0};

        bbs_base64(&b, (const uint8_t *)cases[i].in, strlen(cases[i].in));
        bbs_buf_putc(&b, 0);
        assert_string_equal((const char *)b.data, cases[i].out);
        bbs_buf_free(&b);
    }
}

static void test_record_framing(void **state)
{
    struct bbs_buf b = {0};

    (void)state;
    bbs_sse_record(&b, 42, "actual_lrp_instance_changed", V3, sizeof(V3));
    bbs_buf_putc(&b, 0);
    assert_string_equal((const char *)b.data,
                        "id: 42\nevent: actual_lrp_instance_changed\ndata: CgN2MyE=\n\n");
    bbs_buf_free(&b);
}

static void test_cell_filter(void **state)
{
    const char *none[2] = {NULL, NULL};
    const char *one[2] = {"cell-a", NULL};
    const char *two[2] = {"cell-a", "cell-b"};

    (void)state;
    assert_true(bbs_sse_cell_passes("", one));
    assert_true(bbs_sse_cell_passes(NULL, one));
    assert_true(bbs_sse_cell_passes("cell-z", none)); /* desired LRP events pass every filter */
    assert_true(bbs_sse_cell_passes("cell-a", one));
    assert_false(bbs_sse_cell_passes("cell-b", one));
    assert_true(bbs_sse_cell_passes("cell-b", two));
    assert_false(bbs_sse_cell_passes("cell-c", two));
}

static void test_parse_last_event_id(void **state)
{
    static const struct {
        const char *in;
        int ok;
        int64_t id;
    } cases[] = {
        {"0", 1, 0},
        {"4211", 1, 4211},
        {"9223372036854775807", 1, INT64_MAX},
        {"9223372036854775808", 0, 0}, /* overflow */
        {"", 0, 0},
        {"-1", 0, 0},
        {"+1", 0, 0},
        {" 1", 0, 0},
        {"1 ", 0, 0},
        {"12a", 0, 0},
        {"0x10", 0, 0},
    };

    (void)state;
    assert_int_equal(bbs_sse_parse_last_id(NULL, NULL), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t id = -7;

        assert_int_equal(bbs_sse_parse_last_id(cases[i].in, &id), cases[i].ok);
        assert_int_equal(id, cases[i].ok ? cases[i].id : -7);
    }
}

/* ---- fan-out ---- */

static void test_streams_and_variants(void **state)
{
    struct bbs_hub *hub = hub_new(16);
    struct fake inst_r1 = {0};
    struct fake inst_v0 = {0};
    struct fake group = {0};
    struct fake tasks = {0};
    struct bbs_changelog_row rows[] = {
        row(7, "desired_lrp_created", BBS_EVENT_INSTANCE | BBS_EVENT_GROUP, NULL, NULL, 1),
        row(8, "actual_lrp_instance_created", BBS_EVENT_INSTANCE, "cell-a", NULL, 0),
        row(9, "actual_lrp_created", BBS_EVENT_GROUP, "cell-a", NULL, 0),
    };

    (void)state;
    subscribe(hub, &inst_r1, BBS_EVENT_INSTANCE, 0, "");
    subscribe(hub, &inst_v0, BBS_EVENT_INSTANCE, 1, "");
    subscribe(hub, &group, BBS_EVENT_GROUP, 0, "");
    subscribe(hub, &tasks, BBS_EVENT_TASK, 0, "");
    bbs_hub_deliver(hub, rows, 3);
    got_is(&inst_r1, "id: 7\nevent: desired_lrp_created\ndata: CgN2MyE=\n\n"
                     "id: 8\nevent: actual_lrp_instance_created\ndata: CgN2MyE=\n\n");
    got_is(&inst_v0, "id: 7\nevent: desired_lrp_created\ndata: CgJ2MA==\n\n"
                     "id: 8\nevent: actual_lrp_instance_created\ndata: CgN2MyE=\n\n");
    got_is(&group, "id: 7\nevent: desired_lrp_created\ndata: CgN2MyE=\n\n"
                   "id: 9\nevent: actual_lrp_created\ndata: CgN2MyE=\n\n");
    assert_int_equal(tasks.records, 0);
    assert_int_equal(bbs_hub_last_id(hub), 9);
    assert_int_equal(bbs_hub_subscribers(hub), 4);
    bbs_hub_free(hub);
    /* Freeing the hub ends and releases every subscriber exactly once. */
    assert_int_equal(inst_r1.ended + inst_v0.ended + group.ended + tasks.ended, 4);
    assert_int_equal(inst_r1.released + inst_v0.released + group.released + tasks.released, 4);
    bbs_buf_free(&inst_r1.got);
    bbs_buf_free(&inst_v0.got);
    bbs_buf_free(&group.got);
}

static void test_cell_filtered_subscriber(void **state)
{
    struct bbs_hub *hub = hub_new(16);
    struct fake a = {0};
    struct fake b = {0};
    struct bbs_changelog_row rows[] = {
        row(1, "actual_lrp_instance_created", BBS_EVENT_INSTANCE, "cell-a", NULL, 0),
        row(2, "actual_lrp_instance_changed", BBS_EVENT_INSTANCE, "cell-b", NULL, 0),
        row(3, "desired_lrp_removed", BBS_EVENT_INSTANCE, NULL, NULL, 0),
    };

    (void)state;
    subscribe(hub, &a, BBS_EVENT_INSTANCE, 0, "cell-a");
    subscribe(hub, &b, BBS_EVENT_INSTANCE, 0, "cell-b");
    bbs_hub_deliver(hub, rows, 3);
    got_is(&a, "id: 1\nevent: actual_lrp_instance_created\ndata: CgN2MyE=\n\n"
               "id: 3\nevent: desired_lrp_removed\ndata: CgN2MyE=\n\n");
    got_is(&b, "id: 2\nevent: actual_lrp_instance_changed\ndata: CgN2MyE=\n\n"
               "id: 3\nevent: desired_lrp_removed\ndata: CgN2MyE=\n\n");
    bbs_hub_free(hub);
    bbs_buf_free(&a.got);
    bbs_buf_free(&b.got);
}

/* A row whose sealed payload did not open (payload NULL): nobody gets it, its id is passed. */
static void test_undecryptable_row_skipped(void **state)
{
    struct bbs_hub *hub = hub_new(16);
    struct fake a = {0};
    struct bbs_changelog_row rows[] = {
        row(4, "desired_lrp_created", BBS_EVENT_INSTANCE, NULL, NULL, 0),
        row(5, "desired_lrp_changed", BBS_EVENT_INSTANCE, NULL, NULL, 0),
        row(6, "desired_lrp_removed", BBS_EVENT_INSTANCE, NULL, NULL, 0),
    };

    (void)state;
    rows[1].payload = NULL;
    rows[1].payload_len = 0;
    rows[2].payload = NULL;
    rows[2].payload_len = 0;
    subscribe(hub, &a, BBS_EVENT_INSTANCE, 0, "");
    bbs_hub_deliver(hub, rows, 3);
    got_is(&a, "id: 4\nevent: desired_lrp_created\ndata: CgN2MyE=\n\n");
    assert_int_equal(bbs_hub_last_id(hub), 6);
    bbs_hub_free(hub);
    bbs_buf_free(&a.got);
}

static void test_slow_subscriber_cut_others_keep(void **state)
{
    struct bbs_hub *hub = hub_new(2);
    struct fake slow = {0};
    struct fake fast = {0};

    (void)state;
    subscribe(hub, &slow, BBS_EVENT_INSTANCE, 0, "");
    subscribe(hub, &fast, BBS_EVENT_INSTANCE, 0, "");
    for (int64_t i = 1; i <= 5; i++) {
        struct bbs_changelog_row r =
            row(i, "actual_lrp_instance_changed", BBS_EVENT_INSTANCE, "cell-a", NULL, 0);

        bbs_hub_deliver(hub, &r, 1);
        fast.unread = 0; /* the fast client takes everything at once */
    }
    /* The slow one got what fit in its queue, was ended and dropped at once. */
    assert_int_equal(slow.records, 2);
    assert_int_equal(slow.ended, 1);
    assert_int_equal(slow.released, 1);
    assert_int_equal(fast.records, 5);
    assert_int_equal(fast.ended, 0);
    assert_int_equal(bbs_hub_subscribers(hub), 1);
    bbs_hub_free(hub);
    bbs_buf_free(&slow.got);
    bbs_buf_free(&fast.got);
}

static void test_gone_subscriber_freed_on_heartbeat(void **state)
{
    struct bbs_hub *hub = hub_new(4);
    struct fake live = {0};
    struct fake left = {0};

    (void)state;
    subscribe(hub, &live, BBS_EVENT_GROUP, 0, "");
    subscribe(hub, &left, BBS_EVENT_GROUP, 0, "");
    left.gone = 1;
    bbs_hub_heartbeat(hub);
    assert_int_equal(left.released, 1);
    assert_int_equal(bbs_hub_subscribers(hub), 1);
    got_is(&live, ":\n\n");
    bbs_hub_free(hub);
    assert_int_equal(left.released, 1); /* not released twice */
    bbs_buf_free(&live.got);
}

static void test_heartbeat_counts_against_queue(void **state)
{
    struct bbs_hub *hub = hub_new(1);
    struct fake f = {0};

    (void)state;
    subscribe(hub, &f, BBS_EVENT_INSTANCE, 0, "");
    bbs_hub_heartbeat(hub);
    bbs_hub_heartbeat(hub); /* the first is still unread: full, cut */
    assert_int_equal(f.records, 1);
    assert_int_equal(f.ended, 1);
    assert_int_equal(bbs_hub_subscribers(hub), 0);
    bbs_hub_free(hub);
    bbs_buf_free(&f.got);
}

static void test_resume_at_current_id_gets_live_only(void **state)
{
    struct bbs_hub *hub = hub_new(4);
    struct fake f = {0};
    struct bbs_hub_sink sink = {fake_send, fake_end, fake_release, &f};
    struct bbs_changelog_row r1 = row(1, "desired_lrp_created", BBS_EVENT_INSTANCE, NULL, NULL, 0);
    struct bbs_changelog_row r2 = row(2, "desired_lrp_removed", BBS_EVENT_INSTANCE, NULL, NULL, 0);
    struct bbs_hub_sub_opts o = {BBS_EVENT_INSTANCE, 0, "", 1, 1};
    struct bbs_error err = {0};

    (void)state;
    bbs_hub_deliver(hub, &r1, 1);
    /* Resuming from the id the hub is at needs no backlog (no database here). */
    assert_int_equal(bbs_hub_subscribe(hub, &sink, &o, &err), 0);
    bbs_hub_deliver(hub, &r2, 1);
    got_is(&f, "id: 2\nevent: desired_lrp_removed\ndata: CgN2MyE=\n\n");
    bbs_hub_free(hub);
    bbs_buf_free(&f.got);
}

static void test_resume_from_future_id_resyncs(void **state)
{
    struct bbs_hub *hub = hub_new(4);
    struct fake f = {0};
    struct bbs_hub_sink sink = {fake_send, fake_end, fake_release, &f};
    struct bbs_changelog_row r1 = row(5, "desired_lrp_created", BBS_EVENT_INSTANCE, NULL, NULL, 0);
    struct bbs_hub_sub_opts o = {BBS_EVENT_INSTANCE, 0, "", 1, 99};
    struct bbs_error err = {0};

    (void)state;
    bbs_hub_deliver(hub, &r1, 1);
    /* An id this log never gave (another database): re-list, then live from here. */
    assert_int_equal(bbs_hub_subscribe(hub, &sink, &o, &err), 0);
    got_is(&f, "id: 5\nevent: resync_required\ndata: \n\n");
    bbs_hub_free(hub);
    bbs_buf_free(&f.got);
}

/*
 * Nobody subscribed: the step passes a settled id without reading (the
 * rows would go to nobody), and a subscriber that resumes from it needs no
 * backlog. With a subscriber nothing is passed: the rows are read and
 * delivered.
 */
static void test_pass_only_while_nobody_listens(void **state)
{
    struct bbs_hub *hub = hub_new(4);
    struct fake f = {0};
    struct fake g = {0};
    struct bbs_hub_sink sink = {fake_send, fake_end, fake_release, &g};
    struct bbs_hub_sub_opts o = {BBS_EVENT_INSTANCE, 0, "", 1, 7};
    struct bbs_changelog_row r8 = row(8, "desired_lrp_created", BBS_EVENT_INSTANCE, NULL, NULL, 0);
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(bbs_hub_pass(hub, 7), 1);
    assert_int_equal(bbs_hub_last_id(hub), 7);
    assert_int_equal(bbs_hub_pass(hub, 3), 1); /* never backwards */
    assert_int_equal(bbs_hub_last_id(hub), 7);
    subscribe(hub, &f, BBS_EVENT_INSTANCE, 0, "");
    assert_int_equal(bbs_hub_pass(hub, 9), 0);
    assert_int_equal(bbs_hub_last_id(hub), 7);
    /* Resuming from the passed id: no backlog to read (no database here). */
    assert_int_equal(bbs_hub_subscribe(hub, &sink, &o, &err), 0);
    bbs_hub_deliver(hub, &r8, 1);
    got_is(&f, "id: 8\nevent: desired_lrp_created\ndata: CgN2MyE=\n\n");
    got_is(&g, "id: 8\nevent: desired_lrp_created\ndata: CgN2MyE=\n\n");
    assert_int_equal(bbs_hub_log_reads(hub), 0); /* no thread here: rows were handed in */
    bbs_hub_free(hub);
    bbs_buf_free(&f.got);
    bbs_buf_free(&g.got);
}

/* ---- marks: when the hub may pass an id ---- */

/* No ticket held: the mark settles at once. */
static void test_mark_settles_when_no_ticket_is_held(void **state)
{
    struct bbs_hub_marks m = {0};
    (void)state;

    bbs_hub_marks_push(&m, 40, 7);
    assert_int_equal(bbs_hub_marks_settle(&m, 7), 40);
    assert_int_equal(m.n, 0);
    assert_int_equal(bbs_hub_marks_settle(&m, 7), -1);
}

/*
 * A transaction that took ticket 5 (its insert may hold an id up to 40)
 * is still open: neither mark settles, even once later tickets are back;
 * when it ends, the newest mark whose tickets are all back settles.
 */
static void test_open_transaction_holds_every_later_mark(void **state)
{
    struct bbs_hub_marks m = {0};
    (void)state;

    bbs_hub_marks_push(&m, 40, 7);
    assert_int_equal(bbs_hub_marks_settle(&m, 5), -1);
    bbs_hub_marks_push(&m, 52, 11);
    assert_int_equal(bbs_hub_marks_settle(&m, 5), -1);
    assert_int_equal(m.n, 2);
    /* 5 back, 9 still held: the first mark only. */
    assert_int_equal(bbs_hub_marks_settle(&m, 9), 40);
    assert_int_equal(m.n, 1);
    assert_int_equal(bbs_hub_marks_settle(&m, 11), 52);
    assert_int_equal(m.n, 0);
}

/* Several settled at once: the newest of them counts. */
static void test_newest_settled_mark_counts(void **state)
{
    struct bbs_hub_marks m = {0};
    (void)state;

    bbs_hub_marks_push(&m, 10, 1);
    bbs_hub_marks_push(&m, 20, 2);
    bbs_hub_marks_push(&m, 30, 9);
    assert_int_equal(bbs_hub_marks_settle(&m, 3), 20);
    assert_int_equal(m.n, 1);
    assert_int_equal(m.last[0], 30);
}

/* A mark with the same last id as the newest adds nothing (its ticket is
 * later: it would settle no earlier). */
static void test_same_last_id_not_marked_twice(void **state)
{
    struct bbs_hub_marks m = {0};
    (void)state;

    bbs_hub_marks_push(&m, 10, 1);
    bbs_hub_marks_push(&m, 10, 4);
    assert_int_equal(m.n, 1);
    assert_int_equal(bbs_hub_marks_settle(&m, 1), 10);
}

/* Full: the oldest mark goes, never a newer one, so nothing is passed
 * before every ticket below the mark used is back. */
static void test_full_marks_drop_the_oldest(void **state)
{
    struct bbs_hub_marks m = {0};
    (void)state;

    for (int i = 0; i < BBS_HUB_MARKS + 3; i++) {
        bbs_hub_marks_push(&m, 100 + i, (uint64_t)(10 + i));
    }
    assert_int_equal(m.n, BBS_HUB_MARKS);
    assert_int_equal(m.last[0], 103);
    assert_int_equal(bbs_hub_marks_settle(&m, 12), -1);
    assert_int_equal(bbs_hub_marks_settle(&m, 13), 103);
    assert_int_equal(bbs_hub_marks_settle(&m, 1000), 100 + BBS_HUB_MARKS + 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_padding),
        cmocka_unit_test(test_record_framing),
        cmocka_unit_test(test_cell_filter),
        cmocka_unit_test(test_parse_last_event_id),
        cmocka_unit_test(test_streams_and_variants),
        cmocka_unit_test(test_cell_filtered_subscriber),
        cmocka_unit_test(test_slow_subscriber_cut_others_keep),
        cmocka_unit_test(test_undecryptable_row_skipped),
        cmocka_unit_test(test_gone_subscriber_freed_on_heartbeat),
        cmocka_unit_test(test_heartbeat_counts_against_queue),
        cmocka_unit_test(test_resume_at_current_id_gets_live_only),
        cmocka_unit_test(test_resume_from_future_id_resyncs),
        cmocka_unit_test(test_pass_only_while_nobody_listens),
        cmocka_unit_test(test_mark_settles_when_no_ticket_is_held),
        cmocka_unit_test(test_open_transaction_holds_every_later_mark),
        cmocka_unit_test(test_newest_settled_mark_counts),
        cmocka_unit_test(test_same_last_id_not_marked_twice),
        cmocka_unit_test(test_full_marks_drop_the_oldest),
    };

    return cmocka_run_group_tests_name("hub", tests, NULL, NULL);
}
