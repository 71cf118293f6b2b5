/*
 * test_events.c - the events of a change record (events.h): one named
 * test per row of reference 3.12, per group rule (3.11), per evacuation
 * call (4.x), per desired LRP call (5.3-5.5, payloads at V3 and V0), per
 * convergence rule (7.2), the order within a change, cell filter ids and
 * trace ids. Payloads are decoded with protobuf-c and their fields
 * asserted.
 *
 * The table cases describe each change as upstream's event list, one
 * "<streams>:<name>" per event: I = lrp_instances stream, G = deprecated
 * events stream, IG = both.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "bbs/arena.h"
#include "bbs/change.h"
#include "bbs/codec.h"
#include "bbs/dlrp_codec.h"
#include "bbs/events.h"
#include "desired_lrp.pb-c.h"
#include "events.pb-c.h"
#include "support/dlrp_full.h"
#include "task.pb-c.h"

#define NOW_NS INT64_C(1700000000000000000)

enum { ORD = BBS_PRESENCE_ORDINARY, EVAC = BBS_PRESENCE_EVACUATING, SUSP = BBS_PRESENCE_SUSPECT };
enum {
    UNCL = BBS_ALRP_UNCLAIMED,
    CLMD = BBS_ALRP_CLAIMED,
    RUNN = BBS_ALRP_RUNNING,
    CRSH = BBS_ALRP_CRASHED
};

static const uint8_t NET_A[] = {0x0a, 0x03, '1', '.', '2'}; /* ActualLRPNetInfo address "1.2" */

/* A row of process "pg" in domain "d"; an empty guid means no instance key. */
static struct bbs_alrp row(int32_t index, int presence, int state, const char *ig, const char *cell,
                           uint32_t mod_index)
{
    struct bbs_alrp a;

    memset(&a, 0, sizeof(a));
    a.key = (struct bbs_alrp_key){"pg", index, "d"};
    a.instance = (struct bbs_instance_key){ig, cell};
    a.state = (enum bbs_alrp_state)state;
    a.presence = (enum bbs_presence)presence;
    a.since_ns = NOW_NS + mod_index;
    a.crash_reason = "";
    a.placement_error = "";
    a.net_info = (struct bbs_blob){NULL, 0, 1};
    if (state == RUNN) {
        a.net_info = (struct bbs_blob){NET_A, sizeof(NET_A), 1};
    }
    a.routable = 1;
    a.availability_zone = "";
    a.mod_epoch = presence == EVAC ? "epoch-e" : presence == SUSP ? "epoch-s" : "epoch-o";
    a.mod_index = mod_index;
    return a;
}

/* Rows of the cases: instance ig-1 on cell-a, ig-2 on cell-b. */
#define O_UNCL(i)  row(0, ORD, UNCL, "", "", (i))
#define O_CLMD1(i) row(0, ORD, CLMD, "ig-1", "cell-a", (i))
#define O_RUNN1(i) row(0, ORD, RUNN, "ig-1", "cell-a", (i))
#define O_CLMD2(i) row(0, ORD, CLMD, "ig-2", "cell-b", (i))
#define O_RUNN2(i) row(0, ORD, RUNN, "ig-2", "cell-b", (i))
#define E_RUNN1(i) row(0, EVAC, RUNN, "ig-1", "cell-a", (i))
#define S_RUNN1(i) row(0, SUSP, RUNN, "ig-1", "cell-a", (i))

static struct bbs_alrp crashed_row(int state, int32_t count)
{
    struct bbs_alrp a = row(0, ORD, state, "", "", 2);

    a.crash_count = count;
    a.crash_reason = "boom";
    a.since_ns = NOW_NS + 99;
    return a;
}

/* ---- building records ---- */

struct ev_case;

struct fixture {
    struct bbs_arena *arena;
    struct bbs_change ch;
    const struct ev_case *c; /* table tests only */
};

static int setup(void **state)
{
    struct fixture *f = test_malloc(sizeof(*f));

    f->c = NULL;
    f->arena = bbs_arena_new();
    bbs_change_init(&f->ch, f->arena);
    f->ch.committed = 1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    bbs_arena_free(f->arena);
    test_free(f);
    return 0;
}

/* The locked rows: ordinary, evacuating, suspect (any may be NULL). */
static void sib(struct bbs_change *c, const struct bbs_alrp *o, const struct bbs_alrp *e,
                const struct bbs_alrp *s)
{
    struct bbs_alrp_set set = {o, e, s};

    bbs_change_siblings(c, &set);
}

static void chg(struct bbs_change *c, const struct bbs_alrp *before, const struct bbs_alrp *after)
{
    bbs_change_alrp(c, before, after);
}

static const struct bbs_event *events(struct fixture *f, size_t *n)
{
    const struct bbs_event *ev = NULL;
    struct bbs_error err = {0};

    assert_int_equal(bbs_events_of_change(&f->ch, f->arena, &ev, n, &err), 0);
    return ev;
}

/* "I:name G:name ..." of the events of the record. */
static const char *describe(struct fixture *f)
{
    static char out[1024];
    size_t n = 0;
    const struct bbs_event *ev = events(f, &n);
    size_t len = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *s = ev[i].streams == (BBS_EVENT_INSTANCE | BBS_EVENT_GROUP) ? "IG"
                        : ev[i].streams == BBS_EVENT_INSTANCE                   ? "I"
                        : ev[i].streams == BBS_EVENT_GROUP                      ? "G"
                                                                                : "?";

        len +=
            (size_t)snprintf(out + len, sizeof(out) - len, "%s%s:%s", i ? " " : "", s, ev[i].name);
    }
    return out;
}

static ProtobufCMessage *decode(struct fixture *f, const ProtobufCMessageDescriptor *d,
                                const uint8_t *p, size_t n)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(d, bbs_arena_pb_allocator(f->arena), n,
                                                    p != NULL ? p : (const uint8_t *)"");

    assert_non_null(m);
    return m;
}

#define DECODE(f, T, desc, ev) ((T *)decode((f), &(desc), (ev)->payload, (ev)->payload_len))

/* ---- the table: each case builds a record and names its events ---- */

struct ev_case {
    const char *name;
    void (*build)(struct bbs_change *c);
    const char *want;
};

/* 3.12 rows (the lifecycle calls). */

static void b_claim(struct bbs_change *c)
{
    struct bbs_alrp o = O_UNCL(1), o2 = O_CLMD1(2);

    sib(c, &o, NULL, NULL);
    chg(c, &o, &o2);
}

static void b_start(struct bbs_change *c)
{
    struct bbs_alrp o = O_CLMD1(2), o2 = O_RUNN1(3);

    sib(c, &o, NULL, NULL);
    chg(c, &o, &o2);
}

static void b_start_new_row(struct bbs_change *c)
{
    struct bbs_alrp o2 = O_RUNN1(0);

    chg(c, NULL, &o2);
}

static void b_fail(struct bbs_change *c)
{
    struct bbs_alrp o = O_UNCL(1), o2 = O_UNCL(2);

    o2.placement_error = "no cells";
    sib(c, &o, NULL, NULL);
    chg(c, &o, &o2);
}

static void b_crash_crashed(struct bbs_change *c)
{
    struct bbs_alrp o = O_RUNN1(1), o2 = crashed_row(CRSH, 3);

    sib(c, &o, NULL, NULL);
    chg(c, &o, &o2);
    c->event_rule = BBS_EVENT_RULE_CRASH;
}

static void b_crash_restart(struct bbs_change *c)
{
    struct bbs_alrp o = O_RUNN1(1), o2 = crashed_row(UNCL, 1);

    sib(c, &o, NULL, NULL);
    chg(c, &o, &o2);
    c->event_rule = BBS_EVENT_RULE_CRASH;
}

static void b_crash_suspect(struct bbs_change *c)
{
    struct bbs_alrp o = O_CLMD2(1), s = S_RUNN1(4);

    sib(c, &o, NULL, &s);
    chg(c, &s, NULL);
}

static void b_remove(struct bbs_change *c)
{
    struct bbs_alrp o = O_RUNN1(1);

    sib(c, &o, NULL, NULL);
    chg(c, &o, NULL);
}

static void b_unclaim(struct bbs_change *c)
{
    struct bbs_alrp o = O_CLMD1(1), o2 = O_UNCL(2);

    sib(c, &o, NULL, NULL);
    chg(c, &o, &o2);
}

static void b_noop(struct bbs_change *c)
{
    struct bbs_alrp o = O_RUNN1(1);

    sib(c, &o, NULL, NULL);
    chg(c, &o, &o);
}

static void b_empty(struct bbs_change *c)
{
    struct bbs_alrp o = O_RUNN1(1);

    sib(c, &o, NULL, NULL); /* rows read, nothing written */
}

/* Group rules (3.11). */

static void b_suspect_replaced(struct bbs_change *c)
{
    /* The replacement (ig-2) starts; the suspect (ig-1) goes. */
    struct bbs_alrp o = O_CLMD2(1), o2 = O_RUNN2(2), s = S_RUNN1(4);

    sib(c, &o, NULL, &s);
    chg(c, &o, &o2);
    chg(c, &s, NULL);
}

static void b_suspect_outranks_claim(struct bbs_change *c)
{
    struct bbs_alrp o = O_UNCL(1), o2 = O_CLMD2(2), s = S_RUNN1(4);

    sib(c, &o, NULL, &s);
    chg(c, &o, &o2);
}

static void b_evac_sibling_untouched(struct bbs_change *c)
{
    struct bbs_alrp o = O_UNCL(1), o2 = O_CLMD2(2), e = E_RUNN1(0);

    sib(c, &o, &e, NULL);
    chg(c, &o, &o2);
}

static void b_start_removes_evacuating(struct bbs_change *c)
{
    struct bbs_alrp o = O_CLMD2(1), o2 = O_RUNN2(2), e = E_RUNN1(0);

    sib(c, &o, &e, NULL);
    chg(c, &o, &o2);
    chg(c, &e, NULL);
}

/* Evacuation (4.x). */

static void b_evac_claimed_ordinary(struct bbs_change *c)
{
    b_unclaim(c);
}

static void b_evac_claimed_evacuating(struct bbs_change *c)
{
    struct bbs_alrp o = O_RUNN2(1), e = E_RUNN1(0);

    sib(c, &o, &e, NULL);
    chg(c, &e, NULL);
}

static void b_evac_crashed_crashed(struct bbs_change *c)
{
    struct bbs_alrp o = O_RUNN1(1), o2 = crashed_row(CRSH, 3);

    sib(c, &o, NULL, NULL);
    chg(c, &o, &o2);
}

static void b_evac_crashed_restart(struct bbs_change *c)
{
    struct bbs_alrp o = O_RUNN1(1), o2 = crashed_row(UNCL, 1);

    sib(c, &o, NULL, NULL);
    chg(c, &o, &o2);
}

static void b_evac_stopped(struct bbs_change *c)
{
    b_remove(c);
}

static void b_evac_running_dance(struct bbs_change *c)
{
    /* As evac_store records it: the new EVACUATING row, then the unclaim. */
    struct bbs_alrp o = O_RUNN1(1), e = E_RUNN1(0), o2 = O_UNCL(2);

    sib(c, &o, NULL, NULL);
    chg(c, NULL, &e);
    chg(c, &o, &o2);
}

static void b_evac_running_dance_suspect(struct bbs_change *c)
{
    struct bbs_alrp o = O_UNCL(1), s = S_RUNN1(4), e = E_RUNN1(0);

    sib(c, &o, NULL, &s);
    chg(c, &s, NULL);
    chg(c, NULL, &e);
}

static void b_evac_running_create(struct bbs_change *c)
{
    struct bbs_alrp o = O_UNCL(1), e = E_RUNN1(0);

    sib(c, &o, NULL, NULL);
    chg(c, NULL, &e);
}

static void b_evac_running_update(struct bbs_change *c)
{
    struct bbs_alrp o = O_UNCL(1), e = E_RUNN1(0), e2 = E_RUNN1(1);

    e2.net_info = (struct bbs_blob){NULL, 0, 1};
    sib(c, &o, &e, NULL);
    chg(c, &e, &e2);
}

static void b_evac_running_replacement_runs(struct bbs_change *c)
{
    struct bbs_alrp o = O_RUNN2(3), e = E_RUNN1(0);

    sib(c, &o, &e, NULL);
    chg(c, &e, NULL);
}

static void b_remove_evacuating(struct bbs_change *c)
{
    b_evac_claimed_evacuating(c);
}

/* Convergence (7.2). */

static void b_conv_promote(struct bbs_change *c)
{
    struct bbs_alrp o = O_UNCL(1), s = S_RUNN1(4), s2 = O_RUNN1(5);

    chg(c, &o, NULL);
    chg(c, &s, &s2);
    c->event_rule = BBS_EVENT_RULE_ROWS;
}

static void b_conv_missing_cell(struct bbs_change *c)
{
    struct bbs_alrp o = O_RUNN1(1), s = S_RUNN1(1), n = O_UNCL(0);

    chg(c, &o, &s);
    chg(c, NULL, &n);
    c->event_rule = BBS_EVENT_RULE_INSTANCE_ONLY;
}

static void b_conv_stale_unclaim(struct bbs_change *c)
{
    struct bbs_alrp o = crashed_row(CRSH, 5), o2 = crashed_row(UNCL, 5);

    o2.mod_index = 9;
    chg(c, &o, &o2);
    c->event_rule = BBS_EVENT_RULE_ROWS;
}

static void b_conv_missing_index(struct bbs_change *c)
{
    struct bbs_alrp n = O_UNCL(0);

    chg(c, NULL, &n);
    c->event_rule = BBS_EVENT_RULE_ROWS;
}

static void b_conv_retire_suspect(struct bbs_change *c)
{
    struct bbs_alrp s = S_RUNN1(4);

    chg(c, &s, NULL);
    c->event_rule = BBS_EVENT_RULE_ROWS;
}

#define I_CREATED "I:actual_lrp_instance_created"
#define I_CHANGED "I:actual_lrp_instance_changed"
#define I_REMOVED "I:actual_lrp_instance_removed"
#define G_CREATED "G:actual_lrp_created"
#define G_CHANGED "G:actual_lrp_changed"
#define G_REMOVED "G:actual_lrp_removed"
#define CRASHED   "IG:actual_lrp_crashed"

static const struct ev_case cases[] = {
    /* 3.12 */
    {"claim_unclaimed_to_claimed", b_claim, I_CHANGED " " G_CHANGED},
    {"start_claimed_to_running", b_start, I_CHANGED " " G_CHANGED},
    {"start_without_row_creates", b_start_new_row, I_CREATED " " G_CREATED},
    {"fail_unclaimed_to_unclaimed", b_fail, I_CHANGED " " G_CHANGED},
    {"crash_to_crashed", b_crash_crashed, CRASHED " " I_CHANGED " " G_CHANGED},
    {"crash_restart_now", b_crash_restart, CRASHED " " I_CREATED " " I_REMOVED " " G_CHANGED},
    {"crash_of_suspect_removes_it", b_crash_suspect, I_REMOVED " " G_CREATED " " G_REMOVED},
    {"remove", b_remove, I_REMOVED " " G_REMOVED},
    {"unclaim_is_created_and_removed", b_unclaim, I_CREATED " " I_REMOVED " " G_CHANGED},
    {"nothing_changed_no_event", b_noop, ""},
    {"rows_read_nothing_written_no_event", b_empty, ""},
    /* 3.11 group rules */
    {"group_suspect_replaced_by_ordinary", b_suspect_replaced,
     I_CHANGED " " G_CREATED " " I_REMOVED " " G_REMOVED},
    {"group_suspect_outranks_claim", b_suspect_outranks_claim, I_CHANGED},
    {"group_evacuating_sibling_untouched", b_evac_sibling_untouched, I_CHANGED " " G_CHANGED},
    {"group_start_removes_evacuating", b_start_removes_evacuating,
     I_CHANGED " " G_CHANGED " " I_REMOVED " " G_REMOVED},
    /* 4.x */
    {"evacuate_claimed_ordinary", b_evac_claimed_ordinary, I_CREATED " " I_REMOVED " " G_CHANGED},
    {"evacuate_claimed_evacuating", b_evac_claimed_evacuating, I_REMOVED " " G_REMOVED},
    {"evacuate_crashed_to_crashed", b_evac_crashed_crashed, CRASHED " " I_CHANGED " " G_CHANGED},
    {"evacuate_crashed_restart_no_crash_event", b_evac_crashed_restart,
     I_CREATED " " I_REMOVED " " G_CHANGED},
    {"evacuate_stopped", b_evac_stopped, I_REMOVED " " G_REMOVED},
    {"evacuate_running_dance", b_evac_running_dance,
     I_CHANGED " " G_CREATED " " I_CREATED " " G_CHANGED},
    {"evacuate_running_dance_from_suspect", b_evac_running_dance_suspect,
     I_CHANGED " " G_CREATED " " G_CHANGED},
    {"evacuate_running_creates_evacuating", b_evac_running_create, I_CREATED " " G_CREATED},
    {"evacuate_running_updates_evacuating", b_evac_running_update, I_CHANGED " " G_CHANGED},
    {"evacuate_running_replacement_runs", b_evac_running_replacement_runs, I_REMOVED " " G_REMOVED},
    {"remove_evacuating", b_remove_evacuating, I_REMOVED " " G_REMOVED},
    /* 7.2 */
    {"converge_promote_suspect", b_conv_promote, I_CHANGED " " I_REMOVED " " G_REMOVED},
    {"converge_missing_cell_instance_only", b_conv_missing_cell, I_CHANGED " " I_CREATED},
    {"converge_stale_unclaim", b_conv_stale_unclaim, I_CREATED " " I_REMOVED " " G_CHANGED},
    {"converge_missing_index", b_conv_missing_index, I_CREATED " " G_CREATED},
    {"converge_retire_suspect", b_conv_retire_suspect, I_REMOVED " " G_REMOVED},
};

static void test_case(void **state)
{
    struct fixture *f = *state;
    const struct ev_case *c = f->c;

    c->build(&f->ch);
    assert_string_equal(describe(f), c->want);
}

/* ---- payloads ---- */

static const struct bbs_event *find(struct fixture *f, const char *name, unsigned streams,
                                    size_t *at)
{
    size_t n = 0;
    const struct bbs_event *ev = events(f, &n);

    for (size_t i = 0; i < n; i++) {
        if (strcmp(ev[i].name, name) == 0 && (ev[i].streams & streams) == streams) {
            if (at != NULL) {
                *at = i;
            }
            return &ev[i];
        }
    }
    fail_msg("no %s event", name);
    return NULL;
}

static void test_instance_changed_payload(void **state)
{
    struct fixture *f = *state;
    const struct bbs_event *e;
    Models__ActualLRPInstanceChangedEvent *m;

    b_start(&f->ch);
    e = find(f, "actual_lrp_instance_changed", BBS_EVENT_INSTANCE, NULL);
    assert_null(e->payload_v0);
    m = DECODE(f, Models__ActualLRPInstanceChangedEvent,
               models__actual_lrpinstance_changed_event__descriptor, e);
    assert_string_equal(m->actual_lrp_key->process_guid, "pg");
    assert_string_equal(m->actual_lrp_key->domain, "d");
    assert_string_equal(m->actual_lrp_instance_key->instance_guid, "ig-1");
    assert_string_equal(m->actual_lrp_instance_key->cell_id, "cell-a");
    assert_string_equal(m->before->state, "CLAIMED");
    assert_string_equal(m->after->state, "RUNNING");
    assert_int_equal(m->after->modification_tag->index, 3);
    assert_string_equal(m->after->modification_tag->epoch, "epoch-o");
    assert_int_equal(m->after->actual_lrp_net_info->address[0], '1');
    assert_int_equal(m->after->optional_routable_case,
                     MODELS__ACTUAL_LRPINFO__OPTIONAL_ROUTABLE_ROUTABLE);
    assert_true(m->after->routable);
    assert_int_equal(m->after->since, NOW_NS + 3);
    assert_string_equal(m->trace_id, "");
}

static void test_instance_changed_key_falls_back_to_before(void **state)
{
    struct fixture *f = *state;
    const struct bbs_event *e;
    Models__ActualLRPInstanceChangedEvent *m;

    b_crash_crashed(&f->ch); /* the CRASHED row has no instance key */
    e = find(f, "actual_lrp_instance_changed", BBS_EVENT_INSTANCE, NULL);
    m = DECODE(f, Models__ActualLRPInstanceChangedEvent,
               models__actual_lrpinstance_changed_event__descriptor, e);
    assert_string_equal(m->actual_lrp_instance_key->instance_guid, "ig-1");
    assert_string_equal(m->after->state, "CRASHED");
    assert_int_equal(m->after->crash_count, 3);
    assert_string_equal(m->after->crash_reason, "boom");
    assert_string_equal(e->cell_ids[0], "cell-a");
}

static void test_crashed_payload(void **state)
{
    struct fixture *f = *state;
    const struct bbs_event *e;
    Models__ActualLRPCrashedEvent *m;
    size_t at = 99;

    b_crash_restart(&f->ch);
    e = find(f, "actual_lrp_crashed", BBS_EVENT_INSTANCE | BBS_EVENT_GROUP, &at);
    assert_int_equal(at, 0); /* crash events first */
    m = DECODE(f, Models__ActualLRPCrashedEvent, models__actual_lrpcrashed_event__descriptor, e);
    assert_string_equal(m->actual_lrp_key->process_guid, "pg");
    assert_string_equal(m->actual_lrp_instance_key->instance_guid, "ig-1"); /* the old key */
    assert_string_equal(m->actual_lrp_instance_key->cell_id, "cell-a");
    assert_int_equal(m->crash_count, 1);
    assert_string_equal(m->crash_reason, "boom");
    assert_int_equal(m->since, NOW_NS + 99);
    assert_string_equal(e->cell_ids[0], "cell-a");
}

static void test_crash_group_changed_carries_whole_groups(void **state)
{
    struct fixture *f = *state;
    struct bbs_alrp o = O_RUNN2(1), o2 = crashed_row(CRSH, 3), e = E_RUNN1(0);
    const struct bbs_event *ev;
    Models__ActualLRPChangedEvent *m;

    o2.key = o.key;
    sib(&f->ch, &o, &e, NULL);
    chg(&f->ch, &o, &o2);
    f->ch.event_rule = BBS_EVENT_RULE_CRASH;
    ev = find(f, "actual_lrp_changed", BBS_EVENT_GROUP, NULL);
    m = DECODE(f, Models__ActualLRPChangedEvent, models__actual_lrpchanged_event__descriptor, ev);
    assert_string_equal(m->before->instance->state, "RUNNING");
    assert_non_null(m->before->evacuating);
    assert_string_equal(m->after->instance->state, "CRASHED");
    assert_non_null(m->after->evacuating);
    assert_string_equal(m->after->evacuating->actual_lrp_instance_key->instance_guid, "ig-1");
}

static void test_lifecycle_group_changed_is_single_row(void **state)
{
    struct fixture *f = *state;
    const struct bbs_event *ev;
    Models__ActualLRPChangedEvent *m;

    b_evac_sibling_untouched(&f->ch);
    ev = find(f, "actual_lrp_changed", BBS_EVENT_GROUP, NULL);
    m = DECODE(f, Models__ActualLRPChangedEvent, models__actual_lrpchanged_event__descriptor, ev);
    assert_string_equal(m->before->instance->state, "UNCLAIMED");
    assert_null(m->before->evacuating);
    assert_string_equal(m->after->instance->state, "CLAIMED");
    assert_null(m->after->evacuating);
    /* Group changed passes the filter of the cell before or after. */
    assert_string_equal(ev->cell_ids[0], "");
    assert_string_equal(ev->cell_ids[1], "cell-b");
}

static void test_instance_created_and_group_created_payloads(void **state)
{
    struct fixture *f = *state;
    const struct bbs_event *ev;
    Models__ActualLRPInstanceCreatedEvent *ic;
    Models__ActualLRPCreatedEvent *gc;

    b_evac_running_create(&f->ch);
    ev = find(f, "actual_lrp_instance_created", BBS_EVENT_INSTANCE, NULL);
    ic = DECODE(f, Models__ActualLRPInstanceCreatedEvent,
                models__actual_lrpinstance_created_event__descriptor, ev);
    assert_int_equal(ic->actual_lrp->presence, MODELS__ACTUAL_LRP__PRESENCE__EVACUATING);
    assert_string_equal(ic->actual_lrp->state, "RUNNING");
    assert_string_equal(ev->cell_ids[0], "cell-a");
    assert_null(ev->cell_ids[1]);
    ev = find(f, "actual_lrp_created", BBS_EVENT_GROUP, NULL);
    gc = DECODE(f, Models__ActualLRPCreatedEvent, models__actual_lrpcreated_event__descriptor, ev);
    assert_null(gc->actual_lrp_group->instance); /* the evacuating slot */
    assert_string_equal(gc->actual_lrp_group->evacuating->actual_lrp_instance_key->cell_id,
                        "cell-a");
}

static void test_dance_changed_moves_instance_to_evacuating(void **state)
{
    struct fixture *f = *state;
    const struct bbs_event *ev;
    Models__ActualLRPInstanceChangedEvent *m;
    Models__ActualLRPInstanceCreatedEvent *c;

    b_evac_running_dance(&f->ch);
    ev = find(f, "actual_lrp_instance_changed", BBS_EVENT_INSTANCE, NULL);
    m = DECODE(f, Models__ActualLRPInstanceChangedEvent,
               models__actual_lrpinstance_changed_event__descriptor, ev);
    assert_int_equal(m->before->presence, MODELS__ACTUAL_LRP__PRESENCE__ORDINARY);
    assert_int_equal(m->after->presence, MODELS__ACTUAL_LRP__PRESENCE__EVACUATING);
    assert_string_equal(m->actual_lrp_instance_key->instance_guid, "ig-1");
    ev = find(f, "actual_lrp_instance_created", BBS_EVENT_INSTANCE, NULL);
    c = DECODE(f, Models__ActualLRPInstanceCreatedEvent,
               models__actual_lrpinstance_created_event__descriptor, ev);
    assert_string_equal(c->actual_lrp->state, "UNCLAIMED");
    assert_string_equal(ev->cell_ids[0], ""); /* an unclaimed row is on no cell */
}

static void test_removed_payload_and_cell(void **state)
{
    struct fixture *f = *state;
    const struct bbs_event *ev;
    Models__ActualLRPInstanceRemovedEvent *m;
    Models__ActualLRPRemovedEvent *g;

    b_remove(&f->ch);
    ev = find(f, "actual_lrp_instance_removed", BBS_EVENT_INSTANCE, NULL);
    m = DECODE(f, Models__ActualLRPInstanceRemovedEvent,
               models__actual_lrpinstance_removed_event__descriptor, ev);
    assert_string_equal(m->actual_lrp->actual_lrp_instance_key->instance_guid, "ig-1");
    assert_string_equal(ev->cell_ids[0], "cell-a");
    ev = find(f, "actual_lrp_removed", BBS_EVENT_GROUP, NULL);
    g = DECODE(f, Models__ActualLRPRemovedEvent, models__actual_lrpremoved_event__descriptor, ev);
    assert_string_equal(g->actual_lrp_group->instance->state, "RUNNING");
    assert_string_equal(ev->cell_ids[0], "cell-a");
}

static void test_trace_id_in_instance_events(void **state)
{
    struct fixture *f = *state;
    const struct bbs_event *ev;
    Models__ActualLRPInstanceRemovedEvent *m;

    b_remove(&f->ch);
    f->ch.trace_id = "req-42"; /* retire sets it */
    ev = find(f, "actual_lrp_instance_removed", BBS_EVENT_INSTANCE, NULL);
    m = DECODE(f, Models__ActualLRPInstanceRemovedEvent,
               models__actual_lrpinstance_removed_event__descriptor, ev);
    assert_string_equal(m->trace_id, "req-42");
}

/* ---- desired LRPs ---- */

static struct bbs_dlrp_row *dlrp(struct fixture *f, int32_t instances, const char *metrics_guid)
{
    Models__DesiredLRP *d = it_dlrp_full(bbs_arena_pb_allocator(f->arena), "pg", "d", instances);
    struct bbs_dlrp_row *r = bbs_arena_zalloc(f->arena, sizeof(*r));
    struct bbs_error err = {0};

    d->metrics_guid = (char *)metrics_guid;
    assert_int_equal(bbs_dlrp_split(f->arena, d, NOW_NS, r, &err), 0);
    r->mod_epoch = "epoch-d";
    r->mod_index = (uint32_t)instances;
    return r;
}

static void test_desired_created(void **state)
{
    struct fixture *f = *state;
    struct bbs_alrp a0 = O_UNCL(0), a1 = row(1, ORD, UNCL, "", "", 0);
    size_t n = 0;
    const struct bbs_event *ev;
    Models__DesiredLRPCreatedEvent *m;

    f->ch.dlrp_after = dlrp(f, 2, "");
    f->ch.trace_id = "req-1";
    chg(&f->ch, NULL, &a0);
    chg(&f->ch, NULL, &a1);
    assert_string_equal(describe(f), "IG:desired_lrp_created " I_CREATED " " I_CREATED " " G_CREATED
                                     " " G_CREATED);
    ev = events(f, &n);
    assert_null(ev[0].cell_ids[0]); /* passes every cell filter */
    assert_null(ev[0].cell_ids[1]);
    m = DECODE(f, Models__DesiredLRPCreatedEvent, models__desired_lrpcreated_event__descriptor,
               &ev[0]);
    assert_string_equal(m->desired_lrp->process_guid, "pg");
    assert_int_equal(m->desired_lrp->instances, 2);
    assert_string_equal(m->trace_id, "req-1");
    assert_true(m->desired_lrp->n_image_layers > 0); /* V3 */
    /* As stored: no metrics_guid filled in from the source_id tag. */
    assert_string_equal(m->desired_lrp->metrics_guid, "");
    /* Actual LRP events of the same change carry the trace id too. */
    assert_string_equal(DECODE(f, Models__ActualLRPInstanceCreatedEvent,
                               models__actual_lrpinstance_created_event__descriptor, &ev[1])
                            ->trace_id,
                        "req-1");
}

/* The first TimeoutAction found walking `a`, or NULL. */
static const Models__TimeoutAction *find_timeout(const Models__Action *a)
{
    const Models__TimeoutAction *t = NULL;
    Models__Action **list = NULL;
    size_t n = 0;

    if (a == NULL) {
        return NULL;
    }
    if (a->timeout_action != NULL) {
        return a->timeout_action;
    }
    if (a->serial_action != NULL) {
        list = a->serial_action->actions;
        n = a->serial_action->n_actions;
    } else if (a->parallel_action != NULL) {
        list = a->parallel_action->actions;
        n = a->parallel_action->n_actions;
    } else if (a->codependent_action != NULL) {
        list = a->codependent_action->actions;
        n = a->codependent_action->n_actions;
    }
    for (size_t i = 0; i < n && t == NULL; i++) {
        t = find_timeout(list[i]);
    }
    return t;
}

static int has_wrappers(const Models__Action *a)
{
    Models__Action **list = NULL;
    size_t n = 0;

    if (a == NULL) {
        return 0;
    }
    if (a->emit_progress_action != NULL || a->try_action != NULL) {
        return 1;
    }
    if (a->serial_action != NULL) {
        list = a->serial_action->actions;
        n = a->serial_action->n_actions;
    } else if (a->parallel_action != NULL) {
        list = a->parallel_action->actions;
        n = a->parallel_action->n_actions;
    } else if (a->codependent_action != NULL) {
        list = a->codependent_action->actions;
        n = a->codependent_action->n_actions;
    }
    for (size_t i = 0; i < n; i++) {
        if (has_wrappers(list[i])) {
            return 1;
        }
    }
    return 0;
}

static void test_desired_created_v0(void **state)
{
    struct fixture *f = *state;
    size_t n = 0;
    const struct bbs_event *ev;
    Models__DesiredLRPCreatedEvent *v3;
    Models__DesiredLRPCreatedEvent *v0;
    const Models__TimeoutAction *t;

    f->ch.dlrp_after = dlrp(f, 0, "");
    f->ch.trace_id = "req-1";
    ev = events(f, &n);
    assert_int_equal(n, 1);
    assert_non_null(ev[0].payload_v0);
    v3 = DECODE(f, Models__DesiredLRPCreatedEvent, models__desired_lrpcreated_event__descriptor,
                &ev[0]);
    v0 = (Models__DesiredLRPCreatedEvent *)decode(f, &models__desired_lrpcreated_event__descriptor,
                                                  ev[0].payload_v0, ev[0].payload_v0_len);
    assert_string_equal(v0->trace_id, "req-1");
    assert_string_equal(v0->desired_lrp->process_guid, "pg");
    assert_int_equal(v0->desired_lrp->n_image_layers, 0);
    assert_int_equal(v0->desired_lrp->n_cached_dependencies, 0);
    assert_int_equal(v0->desired_lrp->deprecated_start_timeout_s,
                     (uint32_t)v3->desired_lrp->start_timeout_ms / 1000);
    /* Cached dependencies (and SHARED layers) run first in setup. */
    assert_non_null(v0->desired_lrp->setup->serial_action);
    assert_non_null(v0->desired_lrp->setup->serial_action->actions[0]->parallel_action);
    assert_non_null(v0->desired_lrp->setup->serial_action->actions[0]
                        ->parallel_action->actions[0]
                        ->download_action);
    /* The monitor emit_progress(timeout(try(run))): the wrapper goes, the
     * timeout gets its deprecated nanoseconds, its inner action is left
     * as it was (upstream does not walk below a timeout). */
    t = v0->desired_lrp->monitor->timeout_action;
    assert_non_null(t);
    assert_int_equal(t->timeout_ms, 10000);
    assert_int_equal(t->deprecated_timeout_ns, INT64_C(10000) * 1000000);
    assert_non_null(t->action->try_action);
    assert_null(find_timeout(v0->desired_lrp->action));
    /* Try and emit-progress wrappers in the action tree are replaced by their inner action. */
    assert_true(has_wrappers(v3->desired_lrp->action));
    assert_false(has_wrappers(v0->desired_lrp->action));
}

static void test_desired_changed_last_with_both(void **state)
{
    struct fixture *f = *state;
    struct bbs_alrp a2 = row(2, ORD, UNCL, "", "", 0);
    size_t n = 0;
    const struct bbs_event *ev;
    Models__DesiredLRPChangedEvent *m;
    Models__DesiredLRPChangedEvent *v0;

    f->ch.dlrp_before = dlrp(f, 2, "");
    f->ch.dlrp_after = dlrp(f, 3, "");
    f->ch.trace_id = "req-2";
    chg(&f->ch, NULL, &a2);
    assert_string_equal(describe(f), I_CREATED " " G_CREATED " IG:desired_lrp_changed");
    ev = events(f, &n);
    m = DECODE(f, Models__DesiredLRPChangedEvent, models__desired_lrpchanged_event__descriptor,
               &ev[2]);
    assert_int_equal(m->before->instances, 2);
    assert_int_equal(m->after->instances, 3);
    assert_int_equal(m->after->modification_tag->index, 3);
    assert_string_equal(m->trace_id, "req-2");
    v0 = (Models__DesiredLRPChangedEvent *)decode(f, &models__desired_lrpchanged_event__descriptor,
                                                  ev[2].payload_v0, ev[2].payload_v0_len);
    assert_int_equal(v0->after->instances, 3);
    assert_int_equal(v0->after->n_image_layers, 0);
    assert_string_equal(v0->trace_id, "req-2");
}

static void test_desired_removed_first(void **state)
{
    struct fixture *f = *state;
    struct bbs_alrp a0 = O_UNCL(1);
    size_t n = 0;
    const struct bbs_event *ev;
    Models__DesiredLRPRemovedEvent *m;

    f->ch.dlrp_before = dlrp(f, 1, "");
    f->ch.trace_id = "req-3";
    chg(&f->ch, &a0, NULL);
    assert_string_equal(describe(f), "IG:desired_lrp_removed " I_REMOVED " " G_REMOVED);
    ev = events(f, &n);
    m = DECODE(f, Models__DesiredLRPRemovedEvent, models__desired_lrpremoved_event__descriptor,
               &ev[0]);
    assert_string_equal(m->desired_lrp->process_guid, "pg");
    assert_string_equal(m->trace_id, "req-3");
}

static void test_desired_bad_blob_is_deserialize(void **state)
{
    struct fixture *f = *state;
    struct bbs_dlrp_row *r = dlrp(f, 1, "");
    const struct bbs_event *ev = NULL;
    size_t n = 0;
    struct bbs_error err = {0};

    r->run_info = (struct bbs_blob){(const uint8_t *)"\x0a\xff", 2, 1};
    f->ch.dlrp_before = r;
    assert_int_equal(bbs_events_of_change(&f->ch, f->arena, &ev, &n, &err), -1);
    assert_int_equal(err.type, BBS_ERR_DESERIALIZE);
}

/* ---- order and rules around the record ---- */

static void test_order_crash_running_rest(void **state)
{
    struct fixture *f = *state;
    size_t n = 0;
    const struct bbs_event *ev;
    const struct bbs_event_plan *plans = NULL;

    /* Two indices in one change: index 0 removed, index 1 crashed, index 2
     * started. Crash first, then RUNNING, then the rest, stable within. */
    struct bbs_alrp r0 = O_RUNN1(1);
    struct bbs_alrp c1 = row(1, ORD, RUNN, "ig-3", "cell-c", 1);
    struct bbs_alrp c1b = row(1, ORD, CRSH, "", "", 2);
    struct bbs_alrp s2 = row(2, ORD, CLMD, "ig-4", "cell-d", 1);
    struct bbs_alrp s2b = row(2, ORD, RUNN, "ig-4", "cell-d", 2);

    chg(&f->ch, &r0, NULL);
    chg(&f->ch, &c1, &c1b);
    chg(&f->ch, &s2, &s2b);
    assert_string_equal(describe(f), CRASHED " " I_CHANGED " " G_CHANGED " " I_REMOVED " " I_CHANGED
                                             " " G_REMOVED " " G_CHANGED);
    ev = events(f, &n);
    /* The RUNNING change is index 2; the CRASHED change comes with the rest. */
    bbs_events_plan(&f->ch, f->arena, &plans, &n);
    assert_int_equal(plans[1].after->key.index, 2);
    assert_int_equal(plans[4].after->key.index, 1);
    (void)ev;
}

static void test_rewind_drops_siblings_and_rule(void **state)
{
    struct fixture *f = *state;
    struct bbs_alrp o = O_RUNN1(1), o2 = crashed_row(CRSH, 3);
    struct bbs_change_mark m = bbs_change_mark(&f->ch);

    sib(&f->ch, &o, NULL, NULL);
    chg(&f->ch, &o, &o2);
    f->ch.event_rule = BBS_EVENT_RULE_CRASH;
    bbs_change_rewind(&f->ch, &m);
    assert_int_equal(f->ch.n_siblings, 0);
    assert_int_equal(f->ch.event_rule, BBS_EVENT_RULE_LIFECYCLE);
    assert_string_equal(describe(f), "");
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(bbs_event_name(BBS_EVENT_DESIRED_CREATED), "desired_lrp_created");
    assert_string_equal(bbs_event_name(BBS_EVENT_DESIRED_CHANGED), "desired_lrp_changed");
    assert_string_equal(bbs_event_name(BBS_EVENT_DESIRED_REMOVED), "desired_lrp_removed");
    assert_string_equal(bbs_event_name(BBS_EVENT_CRASHED), "actual_lrp_crashed");
    assert_string_equal(bbs_event_name(BBS_EVENT_GROUP_REMOVED), "actual_lrp_removed");
}

/* ---- task events (11.5.1) ---- */

/* A definition with one EXCLUSIVE image layer (so V2 differs from V3), packed into the arena. */
static struct bbs_blob task_def(struct fixture *f, int with_layer)
{
    Models__TaskDefinition d = MODELS__TASK_DEFINITION__INIT;
    Models__ImageLayer layer = MODELS__IMAGE_LAYER__INIT;
    Models__ImageLayer *layers[1] = {&layer};
    Models__Action action = MODELS__ACTION__INIT;
    Models__RunAction run = MODELS__RUN_ACTION__INIT;
    size_t len;
    uint8_t *buf;

    run.path = (char *)"/bin/true";
    run.user = (char *)"vcap";
    action.run_action = &run;
    d.root_fs = (char *)"preloaded:cflinuxfs4";
    d.action = &action;
    d.legacy_download_user = (char *)"vcap";
    d.annotation = (char *)"note";
    if (with_layer) {
        layer.name = (char *)"layer";
        layer.url = (char *)"http://example.com/l.tgz";
        layer.destination_path = (char *)"/tmp/l";
        layer.layer_type = MODELS__IMAGE_LAYER__TYPE__EXCLUSIVE;
        layer.media_type = MODELS__IMAGE_LAYER__MEDIA_TYPE__TGZ;
        layer.digest_algorithm = MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA256;
        layer.digest_value = (char *)"abc";
        d.n_image_layers = 1;
        d.image_layers = layers;
    }
    len = models__task_definition__get_packed_size(&d);
    buf = bbs_arena_alloc(f->arena, len ? len : 1);
    models__task_definition__pack(&d, buf);
    return (struct bbs_blob){buf, len, 1};
}

static struct bbs_task task_row(struct fixture *f, const char *guid, enum bbs_task_state st,
                                int with_layer)
{
    struct bbs_task t = {
        .guid = guid,
        .domain = "d",
        .created_at = NOW_NS - 10,
        .updated_at = NOW_NS - 5,
        .first_completed_at = 0,
        .state = st,
        .cell_id = st == BBS_TASK_RUNNING ? "cell-a" : "",
        .result = "",
        .failed = 0,
        .failure_reason = "",
        .rejection_count = 0,
        .rejection_reason = "",
        .definition = task_def(f, with_layer),
    };
    return t;
}

static const char *task_names(struct fixture *f)
{
    static char out[512];
    size_t n = 0;
    const struct bbs_event *ev = events(f, &n);
    size_t len = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ev[i].streams, BBS_EVENT_TASK);
        assert_null(ev[i].cell_ids[0]);
        assert_null(ev[i].cell_ids[1]);
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i ? " " : "", ev[i].name);
    }
    return out;
}

static void test_task_created_payload(void **state)
{
    struct fixture *f = *state;
    struct bbs_task t = task_row(f, "t-1", BBS_TASK_PENDING, 0);
    const struct bbs_event *ev;
    Models__TaskCreatedEvent *m;
    size_t n = 0;

    bbs_change_task(&f->ch, NULL, &t);
    assert_string_equal(task_names(f), "task_created");
    ev = events(f, &n);
    m = DECODE(f, Models__TaskCreatedEvent, models__task_created_event__descriptor, &ev[0]);
    assert_non_null(m->task);
    assert_string_equal(m->task->task_guid, "t-1");
    assert_string_equal(m->task->domain, "d");
    assert_int_equal(m->task->state, MODELS__TASK__STATE__Pending);
    assert_int_equal(m->task->created_at, NOW_NS - 10);
    assert_non_null(m->task->task_definition);
    assert_string_equal(m->task->task_definition->root_fs, "preloaded:cflinuxfs4");
    assert_string_equal(m->task->task_definition->annotation, "note");
    /* No layers: V2 is the same message. */
    assert_non_null(ev[0].payload_v0);
    assert_memory_equal(ev[0].payload_v0, ev[0].payload, ev[0].payload_len);
}

static void test_task_changed_payload(void **state)
{
    struct fixture *f = *state;
    struct bbs_task b = task_row(f, "t-1", BBS_TASK_PENDING, 0);
    struct bbs_task a = task_row(f, "t-1", BBS_TASK_RUNNING, 0);
    const struct bbs_event *ev;
    Models__TaskChangedEvent *m;
    size_t n = 0;

    a.updated_at = NOW_NS;
    bbs_change_task(&f->ch, &b, &a);
    assert_string_equal(task_names(f), "task_changed");
    ev = events(f, &n);
    m = DECODE(f, Models__TaskChangedEvent, models__task_changed_event__descriptor, &ev[0]);
    assert_int_equal(m->before->state, MODELS__TASK__STATE__Pending);
    assert_string_equal(m->before->cell_id, "");
    assert_int_equal(m->after->state, MODELS__TASK__STATE__Running);
    assert_string_equal(m->after->cell_id, "cell-a");
    assert_int_equal(m->after->updated_at, NOW_NS);
}

static void test_task_removed_payload(void **state)
{
    struct fixture *f = *state;
    struct bbs_task t = task_row(f, "t-9", BBS_TASK_RESOLVING, 0);
    const struct bbs_event *ev;
    Models__TaskRemovedEvent *m;
    size_t n = 0;

    t.failed = 1;
    t.failure_reason = "boom";
    bbs_change_task(&f->ch, &t, NULL);
    assert_string_equal(task_names(f), "task_removed");
    ev = events(f, &n);
    m = DECODE(f, Models__TaskRemovedEvent, models__task_removed_event__descriptor, &ev[0]);
    assert_string_equal(m->task->task_guid, "t-9");
    assert_int_equal(m->task->state, MODELS__TASK__STATE__Resolving);
    assert_true(m->task->failed);
    assert_string_equal(m->task->failure_reason, "boom");
}

/* One event per recorded row, in the order recorded (convergence records many). */
static void test_task_events_in_record_order(void **state)
{
    struct fixture *f = *state;
    struct bbs_task p = task_row(f, "t-1", BBS_TASK_PENDING, 0);
    struct bbs_task c = task_row(f, "t-1", BBS_TASK_COMPLETED, 0);
    struct bbs_task r = task_row(f, "t-2", BBS_TASK_RESOLVING, 0);
    struct bbs_task n2 = task_row(f, "t-3", BBS_TASK_PENDING, 0);

    bbs_change_task(&f->ch, &p, &c);
    bbs_change_task(&f->ch, &r, NULL);
    bbs_change_task(&f->ch, NULL, &n2);
    assert_string_equal(task_names(f), "task_changed task_removed task_created");
}

/* The deprecated stream gets V2: the EXCLUSIVE layer becomes a download before the action. */
static void test_task_v2_payload_converts_layers(void **state)
{
    struct fixture *f = *state;
    struct bbs_task t = task_row(f, "t-1", BBS_TASK_PENDING, 1);
    const struct bbs_event *ev;
    Models__TaskCreatedEvent *v3;
    Models__TaskCreatedEvent *v2;
    size_t n = 0;

    bbs_change_task(&f->ch, NULL, &t);
    ev = events(f, &n);
    assert_int_equal(n, 1);
    v3 = DECODE(f, Models__TaskCreatedEvent, models__task_created_event__descriptor, &ev[0]);
    assert_int_equal(v3->task->task_definition->n_image_layers, 1);
    assert_non_null(v3->task->task_definition->action->run_action);
    assert_non_null(ev[0].payload_v0);
    v2 = (Models__TaskCreatedEvent *)decode(f, &models__task_created_event__descriptor,
                                            ev[0].payload_v0, ev[0].payload_v0_len);
    assert_int_equal(v2->task->task_definition->n_image_layers, 0);
    assert_non_null(v2->task->task_definition->action->serial_action);
    assert_string_equal(v2->task->task_guid, "t-1");
}

static void test_task_bad_definition_is_deserialize(void **state)
{
    struct fixture *f = *state;
    struct bbs_task t = task_row(f, "t-1", BBS_TASK_PENDING, 0);
    const struct bbs_event *ev = NULL;
    size_t n = 0;
    struct bbs_error err = {0};

    t.definition = (struct bbs_blob){(const uint8_t *)"\x0a\xff", 2, 1};
    bbs_change_task(&f->ch, NULL, &t);
    assert_int_equal(bbs_events_of_change(&f->ch, f->arena, &ev, &n, &err), -1);
    assert_int_equal(err.type, BBS_ERR_DESERIALIZE);
}

/* A record with LRP rows and tasks: the task events come after the LRP ones. */
static void test_task_events_after_lrp_events(void **state)
{
    struct fixture *f = *state;
    struct bbs_task t = task_row(f, "t-1", BBS_TASK_PENDING, 0);
    struct bbs_alrp r0 = O_RUNN1(1);
    size_t n = 0;
    const struct bbs_event *ev;

    bbs_change_task(&f->ch, NULL, &t);
    chg(&f->ch, &r0, NULL);
    ev = events(f, &n);
    assert_true(n >= 2);
    assert_string_equal(ev[n - 1].name, "task_created");
    assert_string_equal(ev[0].name, "actual_lrp_instance_removed");
}

static void test_task_event_names(void **state)
{
    (void)state;
    assert_string_equal(bbs_event_name(BBS_EVENT_TASK_CREATED), "task_created");
    assert_string_equal(bbs_event_name(BBS_EVENT_TASK_CHANGED), "task_changed");
    assert_string_equal(bbs_event_name(BBS_EVENT_TASK_REMOVED), "task_removed");
}

/* cmocka passes the case as the initial state; keep it in the fixture. */
static int setup_case(void **state)
{
    const struct ev_case *c = *state;

    setup(state);
    ((struct fixture *)*state)->c = c;
    return 0;
}

int main(void)
{
    enum { N_CASES = sizeof(cases) / sizeof(cases[0]) };
    struct CMUnitTest tests[N_CASES + 32];
    size_t n = 0;

    for (size_t i = 0; i < N_CASES; i++) {
        tests[n++] = (struct CMUnitTest){
            .name = cases[i].name,
            .test_func = test_case,
            .setup_func = setup_case,
            .teardown_func = teardown,
            .initial_state = (void *)&cases[i],
        };
    }
#define T(fn) tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(fn, setup, teardown)
    T(test_instance_changed_payload);
    T(test_instance_changed_key_falls_back_to_before);
    T(test_crashed_payload);
    T(test_crash_group_changed_carries_whole_groups);
    T(test_lifecycle_group_changed_is_single_row);
    T(test_instance_created_and_group_created_payloads);
    T(test_dance_changed_moves_instance_to_evacuating);
    T(test_removed_payload_and_cell);
    T(test_trace_id_in_instance_events);
    T(test_desired_created);
    T(test_desired_created_v0);
    T(test_desired_changed_last_with_both);
    T(test_desired_removed_first);
    T(test_desired_bad_blob_is_deserialize);
    T(test_order_crash_running_rest);
    T(test_rewind_drops_siblings_and_rule);
    T(test_names);
    T(test_task_created_payload);
    T(test_task_changed_payload);
    T(test_task_removed_payload);
    T(test_task_events_in_record_order);
    T(test_task_v2_payload_converts_layers);
    T(test_task_bad_definition_is_deserialize);
    T(test_task_events_after_lrp_events);
    T(test_task_event_names);
#undef T
    /* The table and the named tests share one array filled up to `n`. */
    return _cmocka_run_group_tests("events", tests, n, NULL, NULL);
}
