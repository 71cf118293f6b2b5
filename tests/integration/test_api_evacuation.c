/*
 * test_api_evacuation.c - the evacuation routes over HTTP against a real
 * PostgreSQL (reference 4, with 3.1-3.4, 3.10, 3.11 and quirks 8, 19, 27).
 *
 * Every row of the tables of 4.1 (evacuate_claimed), 4.2 (evacuate_crashed,
 * evacuate_stopped), 4.3 (evacuate_running(.r1), ROLLING and RECREATE) and
 * 4.4 (remove_evacuating) is a row of a table below (struct evac_case) and
 * its own named test: the ordinary instance UNCLAIMED, CLAIMED, RUNNING or
 * CRASHED on this cell (A) or another (B), an evacuating row held by A or
 * B, a suspect row, no rows, the desired LRP removed, injected failures, and
 * decode failures. One runner (test_case) builds the row's state, makes the
 * call from A and checks the error type, keep_container, every row of
 * every presence of the index afterwards (through /v1/actual_lrps/list),
 * that no other index changed, and the auction requests the stub received.
 * Written out by hand are the step 0 validation tests (each route's request
 * differs) and the cases that are sequences of calls rather than one row:
 * RECREATE one instance at a time, the repeated calls of the ROLLING dance
 * and of an existing evacuating row, the interactions (the start of the
 * replacement removes the evacuating and suspect rows, 3.4 step 5; list
 * filters apply to every presence, 3.11), and a drain of N instances from
 * cell A to cell B.
 *
 * Set-up that no API call can reach is done by SQL on the test's own
 * database (it_db_exec): SUSPECT rows (only convergence makes them; done
 * here exactly as convergence would), a copy of a row as an identical
 * EVACUATING row, switching a RECREATE desired LRP to ROLLING for the
 * dance that makes its evacuating row and back, and fault injection. The fault trigger (installed
 * by the group setup) makes INSERT/UPDATE/DELETE of actual_lrps rows of a given process guid and
 * presence fail ("fail": RAISE, SQLSTATE P0001, which the server reports as UnknownError, 2.1.1) or
 * silently do nothing ("skip": the BEFORE trigger returns NULL, so e.g. a DELETE affects no row).
 * Only the tested guid is affected. Reading the rows cannot be made to fail per guid (the fixture
 * connects as a superuser, which bypasses row security), so the "reading rows fails" rows (4.1-4.4
 * step 1) are not covered.
 *
 * Auctions: the server sends auction requests from one background thread
 * in order (auction.h), so after a call each test desires a "fence" LRP and
 * waits for the fence's auction; every auction the call caused has
 * arrived by then, and "no auction" is checked without a quiet period. The
 * last test re-checks every expected count after it_quiet_ms(), which does
 * not rely on that ordering.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evacuation.pb-c.h"

#define EVAC_RESP   (&models__evacuation_response__descriptor)
#define REMOVE_RESP (&models__remove_evacuating_actual_lrpresponse__descriptor)
#define E(x)        MODELS__ERROR__TYPE__##x

#define P_ORD  MODELS__ACTUAL_LRP__PRESENCE__ORDINARY
#define P_EVAC MODELS__ACTUAL_LRP__PRESENCE__EVACUATING
#define P_SUSP MODELS__ACTUAL_LRP__PRESENCE__SUSPECT

#define IG_A   "ig-a"
#define CELL_A "cell-a"
#define ADDR_A "10.0.0.1"
#define IG_B   "ig-b"
#define CELL_B "cell-b"
#define ADDR_B "10.0.0.2"

#define R_CLAIMED  "/v1/actual_lrps/evacuate_claimed"
#define R_CRASHED  "/v1/actual_lrps/evacuate_crashed"
#define R_STOPPED  "/v1/actual_lrps/evacuate_stopped"
#define R_RUNNING  "/v1/actual_lrps/evacuate_running.r1"
#define R_RUNNING0 "/v1/actual_lrps/evacuate_running"
#define R_REMOVE   "/v1/actual_lrps/remove_evacuating"

enum strategy { ROLLING, RECREATE };

/* ---- fault injection ------------------------------------------------------------------ */

static const char fault_sql[] =
    "CREATE TABLE it_faults (process_guid text NOT NULL, op text NOT NULL,"
    " presence int NOT NULL, action text NOT NULL);"
    "CREATE FUNCTION it_fault() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " DECLARE g text; p int; a text;"
    " BEGIN"
    "  IF TG_OP = 'DELETE' THEN g := OLD.process_guid; p := OLD.presence;"
    "  ELSE g := NEW.process_guid; p := NEW.presence; END IF;"
    "  SELECT f.action INTO a FROM it_faults f"
    "   WHERE f.process_guid = g AND f.op = TG_OP AND f.presence = p LIMIT 1;"
    "  IF a = 'fail' THEN RAISE EXCEPTION 'it: injected % failure', TG_OP; END IF;"
    "  IF a = 'skip' THEN RETURN NULL; END IF;"
    "  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;"
    "  RETURN NEW;"
    " END $f$;"
    "CREATE TRIGGER it_fault BEFORE INSERT OR UPDATE OR DELETE ON actual_lrps"
    " FOR EACH ROW EXECUTE FUNCTION it_fault();";

/* Make `op` ("INSERT", "UPDATE", "DELETE") on rows of `guid` with `presence` "fail" or "skip". */
static void fault(const char *guid, const char *op, int presence, const char *action)
{
    char p[16];
    snprintf(p, sizeof(p), "%d", presence);
    const char *params[4] = {guid, op, p, action};
    assert_int_equal(it_db_exec("INSERT INTO it_faults VALUES ($1, $2, $3::int4, $4)", 4, params),
                     1);
}

static void faults_clear(const char *guid)
{
    const char *params[1] = {guid};
    assert_true(it_db_exec("DELETE FROM it_faults WHERE process_guid = $1", 1, params) >= 0);
}

static int group_setup(void **state)
{
    if (it_group_setup(state) != 0) {
        return -1;
    }
    if (it_db_exec(fault_sql, 0, NULL) < 0) {
        fprintf(stderr, "test_api_evacuation: cannot install the fault trigger\n");
        return -1;
    }
    return 0;
}

/* ---- error names for messages --------------------------------------------------------- */

static const char *err_name(int t)
{
    switch (t) {
    case IT_OK:
        return "none";
    case E(UnknownError):
        return "UnknownError";
    case E(InvalidRequest):
        return "InvalidRequest";
    case E(ResourceExists):
        return "ResourceExists";
    case E(ResourceNotFound):
        return "ResourceNotFound";
    case E(ActualLRPCannotBeRemoved):
        return "ActualLRPCannotBeRemoved";
    case E(ActualLRPCannotBeUnclaimed):
        return "ActualLRPCannotBeUnclaimed";
    case E(ActualLRPCannotBeCrashed):
        return "ActualLRPCannotBeCrashed";
    default:
        return "other";
    }
}

static int wait_ms(void)
{
    return it_valgrind() ? 20000 : 5000;
}

/* ---- expected auctions ---------------------------------------------------------------- */

/* One desired LRP under test and the auction elements expected for it so far. */
struct lrp {
    char guid[64];
    size_t auctions;
};

/* Every guid's expected count, re-checked by the last test after a quiet period. */
static struct {
    char guid[64];
    size_t n;
} g_expect[1024];
static size_t g_n_expect;

static void expect_record(const struct lrp *l)
{
    size_t i;
    for (i = 0; i < g_n_expect; i++) {
        if (strcmp(g_expect[i].guid, l->guid) == 0) {
            break;
        }
    }
    if (i == g_n_expect) {
        assert_true(g_n_expect < sizeof(g_expect) / sizeof(g_expect[0]));
        snprintf(g_expect[i].guid, sizeof(g_expect[i].guid), "%s", l->guid);
        g_n_expect++;
    }
    g_expect[i].n = l->auctions;
}

/* Desire a fresh LRP and wait for its auction: everything queued before has been sent. */
static void fence(void)
{
    char guid[64];
    json_t *a;
    size_t n;

    it_uniq(guid, sizeof(guid), "fence");
    it_desire(guid, NULL, 1);
    a = it_auction_wait(guid, 1, wait_ms());
    n = json_array_size(a);
    json_decref(a);
    if (n != 1) {
        fail_msg("fence %s: %zu auction elements, expected 1", guid, n);
    }
}

/* Assert the stub received exactly l->auctions elements for l's guid. */
static void auctions_settle(struct lrp *l)
{
    json_t *a = it_auction_wait(l->guid, l->auctions, wait_ms());
    size_t n = json_array_size(a);

    json_decref(a);
    if (n < l->auctions) {
        fail_msg("%s: %zu auction elements, expected %zu", l->guid, n, l->auctions);
    }
    fence();
    a = it_auction_starts(l->guid);
    n = json_array_size(a);
    json_decref(a);
    if (n != l->auctions) {
        fail_msg("%s: %zu auction elements, expected exactly %zu", l->guid, n, l->auctions);
    }
    expect_record(l);
}

/* No auction beyond those already expected. */
static void expect_no_auction(struct lrp *l)
{
    auctions_settle(l);
}

/* One more auction element, for `index` only (9.1: evacuation sends one element per index). */
static void expect_auction(struct lrp *l, int32_t index)
{
    json_t *a;
    const json_t *el;
    int32_t idx[8];
    size_t n;

    l->auctions++;
    auctions_settle(l);
    a = it_auction_starts(l->guid);
    el = json_array_get(a, l->auctions - 1);
    n = it_auction_indices(el, idx, 8);
    if (n != 1 || idx[0] != index) {
        fail_msg("%s: last auction element has %zu indices (first %d), expected [%d]", l->guid, n,
                 n ? idx[0] : -1, index);
    }
    assert_string_equal(json_string_value(json_object_get(el, "process_guid")), l->guid);
    assert_string_equal(json_string_value(json_object_get(el, "domain")), IT_DOMAIN);
    assert_string_equal(json_string_value(json_object_get(el, "RootFs")), IT_ROOTFS);
    assert_int_equal(json_integer_value(json_object_get(el, "MemoryMB")), 256);
    assert_int_equal(json_integer_value(json_object_get(el, "DiskMB")), 1024);
    json_decref(a);
}

static void lrp_new(struct lrp *l, const char *prefix, int32_t instances, enum strategy s)
{
    struct it_dlrp d;
    json_t *a;

    it_uniq(l->guid, sizeof(l->guid), prefix);
    it_dlrp_init(&d, l->guid, instances);
    d.lrp.update_strategy =
        s == RECREATE ? MODELS__UPDATE_STRATEGY__RECREATE : MODELS__UPDATE_STRATEGY__ROLLING;
    assert_int_equal(it_desire_lrp(&d.lrp), IT_OK);
    l->auctions = instances > 0 ? 1 : 0;
    a = it_auction_wait(l->guid, l->auctions, wait_ms());
    if (json_array_size(a) != l->auctions) {
        fail_msg("desire %s: %zu auction elements, expected %zu", l->guid, json_array_size(a),
                 l->auctions);
    }
    json_decref(a);
}

/* ---- row snapshots -------------------------------------------------------------------- */

struct row {
    int found;
    char state[32];
    char domain[64];
    char ig[64];
    char cell[64];
    char address[64];
    char instance_address[64];
    size_t n_ports;
    uint32_t host_port;
    int preferred;
    int32_t crash_count;
    char crash_reason[256];
    char placement_error[256];
    int64_t since;
    char epoch[64];
    uint32_t mod_index;
    int routable_set;
    int routable;
    char zone[64];
    size_t n_routes;
    char route0[64];
    char route1[64];
    size_t n_tags;
    char tag_app[64]; /* value of metric tag "app_name"; "" when absent */
};

/* The rows of one (guid, index), by presence; `n` counts them. */
struct rows {
    size_t n;
    struct row p[3];
};

static void cp(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

static void fill_row(const Models__ActualLRP *a, struct row *r)
{
    const Models__ActualLRPNetInfo *ni = a->actual_lrp_net_info;
    const char *tag;

    memset(r, 0, sizeof(*r));
    r->found = 1;
    cp(r->state, sizeof(r->state), a->state);
    if (a->actual_lrp_key != NULL) {
        cp(r->domain, sizeof(r->domain), a->actual_lrp_key->domain);
    }
    if (a->actual_lrp_instance_key != NULL) {
        cp(r->ig, sizeof(r->ig), a->actual_lrp_instance_key->instance_guid);
        cp(r->cell, sizeof(r->cell), a->actual_lrp_instance_key->cell_id);
    }
    if (ni != NULL) {
        cp(r->address, sizeof(r->address), ni->address);
        cp(r->instance_address, sizeof(r->instance_address), ni->instance_address);
        r->n_ports = ni->n_ports;
        r->host_port = ni->n_ports > 0 ? ni->ports[0]->host_port : 0;
        r->preferred = (int)ni->preferred_address;
    }
    r->crash_count = a->crash_count;
    cp(r->crash_reason, sizeof(r->crash_reason), a->crash_reason);
    cp(r->placement_error, sizeof(r->placement_error), a->placement_error);
    r->since = a->since;
    if (a->modification_tag != NULL) {
        cp(r->epoch, sizeof(r->epoch), a->modification_tag->epoch);
        r->mod_index = a->modification_tag->index;
    }
    r->routable_set = a->optional_routable_case == MODELS__ACTUAL_LRP__OPTIONAL_ROUTABLE_ROUTABLE;
    r->routable = r->routable_set && a->routable;
    cp(r->zone, sizeof(r->zone), a->availability_zone);
    r->n_routes = a->n_actual_lrp_internal_routes;
    if (r->n_routes > 0) {
        cp(r->route0, sizeof(r->route0), a->actual_lrp_internal_routes[0]->hostname);
    }
    if (r->n_routes > 1) {
        cp(r->route1, sizeof(r->route1), a->actual_lrp_internal_routes[1]->hostname);
    }
    r->n_tags = a->n_metric_tags;
    tag = it_map_str((void *const *)a->metric_tags, a->n_metric_tags, "app_name");
    cp(r->tag_app, sizeof(r->tag_app), tag);
}

static void snap(const char *guid, int32_t index, struct rows *out)
{
    Models__ActualLRPsResponse *r = it_list_actuals(guid);

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < r->n_actual_lrps; i++) {
        const Models__ActualLRP *a = r->actual_lrps[i];
        int p = (int)a->presence;

        if (a->actual_lrp_key == NULL || a->actual_lrp_key->index != index) {
            continue;
        }
        if (p < 0 || p > 2) {
            fail_msg("%s/%d: row with presence %d", guid, index, p);
        }
        if (out->p[p].found) {
            fail_msg("%s/%d: two rows with presence %d", guid, index, p);
        }
        fill_row(a, &out->p[p]);
        out->n++;
    }
    it_free(r);
}

static const char *presence_name(int p)
{
    return p == P_ORD ? "ORDINARY" : p == P_EVAC ? "EVACUATING" : "SUSPECT";
}

/* Assert exactly the presences in `mask` (bit per presence) exist. */
static void assert_presences(const struct rows *rs, const char *guid, int ord, int evac, int susp)
{
    const int want[3] = {ord, evac, susp};
    for (int p = 0; p < 3; p++) {
        if (rs->p[p].found != want[p]) {
            fail_msg("%s: %s row %s, expected %s", guid, presence_name(p),
                     rs->p[p].found ? "present" : "absent", want[p] ? "present" : "absent");
        }
    }
}

static void same_str(const char *what, const char *field, const char *a, const char *b)
{
    if (strcmp(a, b) != 0) {
        fail_msg("%s: %s \"%s\", expected \"%s\"", what, field, b, a);
    }
}

static void same_int(const char *what, const char *field, long long a, long long b)
{
    if (a != b) {
        fail_msg("%s: %s %lld, expected %lld", what, field, b, a);
    }
}

/* Net info, routes, tags, routable and zone of `b` equal those of `a`. */
static void assert_same_payload(const char *what, const struct row *a, const struct row *b)
{
    same_str(what, "address", a->address, b->address);
    same_str(what, "instance_address", a->instance_address, b->instance_address);
    same_int(what, "ports", (long long)a->n_ports, (long long)b->n_ports);
    same_int(what, "host_port", a->host_port, b->host_port);
    same_int(what, "preferred_address", a->preferred, b->preferred);
    same_int(what, "internal routes", (long long)a->n_routes, (long long)b->n_routes);
    same_str(what, "route[0]", a->route0, b->route0);
    same_str(what, "route[1]", a->route1, b->route1);
    same_int(what, "metric tags", (long long)a->n_tags, (long long)b->n_tags);
    same_str(what, "metric tag app_name", a->tag_app, b->tag_app);
    same_int(what, "routable set", a->routable_set, b->routable_set);
    same_int(what, "routable", a->routable, b->routable);
    same_str(what, "availability_zone", a->zone, b->zone);
}

/* `b` is `a` unchanged. */
static void assert_same_row(const char *what, const struct row *a, const struct row *b)
{
    same_int(what, "found", a->found, b->found);
    same_str(what, "state", a->state, b->state);
    same_str(what, "domain", a->domain, b->domain);
    same_str(what, "instance_guid", a->ig, b->ig);
    same_str(what, "cell_id", a->cell, b->cell);
    same_int(what, "crash_count", a->crash_count, b->crash_count);
    same_str(what, "crash_reason", a->crash_reason, b->crash_reason);
    same_str(what, "placement_error", a->placement_error, b->placement_error);
    same_int(what, "since", a->since, b->since);
    same_str(what, "epoch", a->epoch, b->epoch);
    same_int(what, "modification index", a->mod_index, b->mod_index);
    assert_same_payload(what, a, b);
}

static void assert_same_rows(const char *guid, const struct rows *a, const struct rows *b)
{
    char what[128];
    same_int(guid, "row count", (long long)a->n, (long long)b->n);
    for (int p = 0; p < 3; p++) {
        snprintf(what, sizeof(what), "%s %s row", guid, presence_name(p));
        same_int(what, "found", a->p[p].found, b->p[p].found);
        if (a->p[p].found) {
            assert_same_row(what, &a->p[p], &b->p[p]);
        }
    }
}

static void assert_empty_net(const char *what, const struct row *r)
{
    same_str(what, "address", "", r->address);
    same_str(what, "instance_address", "", r->instance_address);
    same_int(what, "ports", 0, (long long)r->n_ports);
    same_int(what, "preferred_address", 0, r->preferred);
}

static void assert_since_in(const char *what, const struct row *r, int64_t t0, int64_t t1)
{
    if (r->since < t0 || r->since > t1) {
        fail_msg("%s: since %lld not within the call [%lld, %lld]", what, (long long)r->since,
                 (long long)t0, (long long)t1);
    }
}

/* Unclaim (3.10): `after` is `before` made UNCLAIMED during [t0, t1]. */
static void assert_unclaimed_from(const char *what, const struct row *before,
                                  const struct row *after, int64_t t0, int64_t t1)
{
    same_int(what, "found", 1, after->found);
    same_str(what, "state", "UNCLAIMED", after->state);
    same_str(what, "instance_guid", "", after->ig);
    same_str(what, "cell_id", "", after->cell);
    assert_empty_net(what, after);
    assert_since_in(what, after, t0, t1);
    same_str(what, "epoch", before->epoch, after->epoch);
    same_int(what, "modification index", before->mod_index + 1, after->mod_index);
    same_int(what, "crash_count", before->crash_count, after->crash_count);
    same_str(what, "crash_reason", before->crash_reason, after->crash_reason);
    same_str(what, "placement_error", before->placement_error, after->placement_error);
    same_int(what, "internal routes", (long long)before->n_routes, (long long)after->n_routes);
    same_str(what, "route[0]", before->route0, after->route0);
    same_int(what, "metric tags", (long long)before->n_tags, (long long)after->n_tags);
    same_str(what, "metric tag app_name", before->tag_app, after->tag_app);
    same_int(what, "routable", before->routable, after->routable);
    same_str(what, "availability_zone", before->zone, after->zone);
}

/* The dance's evacuating copy of `src` (4.3): a new RUNNING row created during [t0, t1]. */
static void assert_evac_copy(const char *what, const struct row *src, const struct row *evac,
                             int64_t t0, int64_t t1)
{
    same_int(what, "found", 1, evac->found);
    same_str(what, "state", "RUNNING", evac->state);
    same_str(what, "domain", src->domain, evac->domain);
    same_str(what, "instance_guid", src->ig, evac->ig);
    same_str(what, "cell_id", src->cell, evac->cell);
    assert_same_payload(what, src, evac);
    assert_since_in(what, evac, t0, t1);
    if (!it_is_uuid_v4(evac->epoch) || strcmp(evac->epoch, src->epoch) == 0) {
        fail_msg("%s: epoch \"%s\" is not a fresh UUID v4 (source row's is \"%s\")", what,
                 evac->epoch, src->epoch);
    }
    same_int(what, "modification index", 0, evac->mod_index);
}

/* ---- requests ------------------------------------------------------------------------- */

struct answer {
    int err;
    int keep;
    char msg[256];
};

static struct answer ev_send(const char *path, const ProtobufCMessage *req)
{
    struct answer a;
    Models__EvacuationResponse *r = it_call(path, req, EVAC_RESP);

    a.err = it_err_type(r);
    a.keep = r->keep_container ? 1 : 0;
    snprintf(a.msg, sizeof(a.msg), "%s", it_err_msg(r));
    it_free(r);
    return a;
}

static void expect_answer(const char *call, const struct answer *a, int err, int keep)
{
    if (a->err != err || a->keep != keep) {
        fail_msg("%s: answered (error %s \"%s\", keep_container %d), expected (error %s, "
                 "keep_container %d)",
                 call, err_name(a->err), a->msg, a->keep, err_name(err), keep);
    }
}

struct keys {
    Models__ActualLRPKey key;
    Models__ActualLRPInstanceKey ik;
};

static void keys_init(struct keys *k, const char *guid, int32_t index, const char *ig,
                      const char *cell)
{
    static const Models__ActualLRPKey key_init = MODELS__ACTUAL_LRPKEY__INIT;
    static const Models__ActualLRPInstanceKey ik_init = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;

    k->key = key_init;
    k->ik = ik_init;
    k->key.process_guid = (char *)guid;
    k->key.index = index;
    k->key.domain = IT_S(IT_DOMAIN);
    k->ik.instance_guid = (char *)ig;
    k->ik.cell_id = (char *)cell;
}

static struct answer ev_claimed(const char *guid, int32_t index, const char *ig, const char *cell)
{
    Models__EvacuateClaimedActualLRPRequest req = MODELS__EVACUATE_CLAIMED_ACTUAL_LRPREQUEST__INIT;
    struct keys k;

    keys_init(&k, guid, index, ig, cell);
    req.actual_lrp_key = &k.key;
    req.actual_lrp_instance_key = &k.ik;
    return ev_send(R_CLAIMED, &req.base);
}

static struct answer ev_crashed(const char *guid, int32_t index, const char *ig, const char *cell,
                                const char *message)
{
    Models__EvacuateCrashedActualLRPRequest req = MODELS__EVACUATE_CRASHED_ACTUAL_LRPREQUEST__INIT;
    struct keys k;

    keys_init(&k, guid, index, ig, cell);
    req.actual_lrp_key = &k.key;
    req.actual_lrp_instance_key = &k.ik;
    req.error_message = (char *)message;
    return ev_send(R_CRASHED, &req.base);
}

static struct answer ev_stopped(const char *guid, int32_t index, const char *ig, const char *cell)
{
    Models__EvacuateStoppedActualLRPRequest req = MODELS__EVACUATE_STOPPED_ACTUAL_LRPREQUEST__INIT;
    struct keys k;

    keys_init(&k, guid, index, ig, cell);
    req.actual_lrp_key = &k.key;
    req.actual_lrp_instance_key = &k.ik;
    return ev_send(R_STOPPED, &req.base);
}

static int remove_evac(const char *guid, int32_t index, const char *ig, const char *cell)
{
    Models__RemoveEvacuatingActualLRPRequest req =
        MODELS__REMOVE_EVACUATING_ACTUAL_LRPREQUEST__INIT;
    struct keys k;

    keys_init(&k, guid, index, ig, cell);
    req.actual_lrp_key = &k.key;
    req.actual_lrp_instance_key = &k.ik;
    return it_call_err(R_REMOVE, &req.base, REMOVE_RESP);
}

/* An evacuate_running request whose parts live inside the struct. */
struct evrun {
    Models__EvacuateRunningActualLRPRequest req;
    struct keys k;
    Models__ActualLRPNetInfo ni;
    Models__PortMapping pm;
    Models__PortMapping *pms[1];
    Models__ActualLRPInternalRoute route;
    Models__ActualLRPInternalRoute *route_ptrs[1];
    Models__EvacuateRunningActualLRPRequest__MetricTagsEntry tag;
    Models__EvacuateRunningActualLRPRequest__MetricTagsEntry *tag_ptrs[1];
};

/* Net info {address, 8080->61000}, exactly what it_start() sends; nothing else set. */
static void evrun_init(struct evrun *e, const char *guid, int32_t index, const char *ig,
                       const char *cell, const char *address)
{
    static const Models__EvacuateRunningActualLRPRequest req_init =
        MODELS__EVACUATE_RUNNING_ACTUAL_LRPREQUEST__INIT;
    static const Models__ActualLRPNetInfo ni_init = MODELS__ACTUAL_LRPNET_INFO__INIT;
    static const Models__PortMapping pm_init = MODELS__PORT_MAPPING__INIT;
    static const Models__ActualLRPInternalRoute route_init = MODELS__ACTUAL_LRPINTERNAL_ROUTE__INIT;
    static const Models__EvacuateRunningActualLRPRequest__MetricTagsEntry tag_init =
        MODELS__EVACUATE_RUNNING_ACTUAL_LRPREQUEST__METRIC_TAGS_ENTRY__INIT;

    memset(e, 0, sizeof(*e));
    e->req = req_init;
    e->ni = ni_init;
    e->pm = pm_init;
    e->route = route_init;
    e->tag = tag_init;
    keys_init(&e->k, guid, index, ig, cell);
    e->ni.address = (char *)address;
    e->pm.container_port = 8080;
    e->pm.host_port = 61000;
    e->pms[0] = &e->pm;
    e->ni.n_ports = 1;
    e->ni.ports = e->pms;
    e->route_ptrs[0] = &e->route;
    e->tag_ptrs[0] = &e->tag;
    e->req.actual_lrp_key = &e->k.key;
    e->req.actual_lrp_instance_key = &e->k.ik;
    e->req.actual_lrp_net_info = &e->ni;
}

/*
 * Give the request one internal route `route`, metric tag app_name=`app`
 * (NULL = none of either), `routable` (-1 = unset) and `zone`.
 */
static void evrun_extras(struct evrun *e, const char *route, const char *app, int routable,
                         const char *zone)
{
    if (route != NULL) {
        e->route.hostname = (char *)route;
        e->req.n_actual_lrp_internal_routes = 1;
        e->req.actual_lrp_internal_routes = e->route_ptrs;
    }
    if (app != NULL) {
        e->tag.key = IT_S("app_name");
        e->tag.value = (char *)app;
        e->req.n_metric_tags = 1;
        e->req.metric_tags = e->tag_ptrs;
    }
    if (routable >= 0) {
        e->req.optional_routable_case =
            MODELS__EVACUATE_RUNNING_ACTUAL_LRPREQUEST__OPTIONAL_ROUTABLE_ROUTABLE;
        e->req.routable = routable != 0;
    }
    e->req.availability_zone = (char *)(zone ? zone : "");
}

static struct answer ev_run(const struct evrun *e, const char *path)
{
    return ev_send(path, &e->req.base);
}

/* evacuate_running.r1 with it_start()'s net info. */
static struct answer ev_running(const char *guid, int32_t index, const char *ig, const char *cell,
                                const char *address)
{
    struct evrun e;
    evrun_init(&e, guid, index, ig, cell, address);
    return ev_run(&e, R_RUNNING);
}

/* A start.r1 with everything: two routes, two tags, instance address, routable, zone. */
static void start_full(const char *guid, int32_t index, const char *ig, const char *cell,
                       const char *address, int routable, const char *zone)
{
    Models__StartActualLRPRequest req = MODELS__START_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPNetInfo ni = MODELS__ACTUAL_LRPNET_INFO__INIT;
    Models__PortMapping pm = MODELS__PORT_MAPPING__INIT;
    Models__PortMapping *pms[1] = {&pm};
    Models__ActualLRPInternalRoute r0 = MODELS__ACTUAL_LRPINTERNAL_ROUTE__INIT;
    Models__ActualLRPInternalRoute r1 = MODELS__ACTUAL_LRPINTERNAL_ROUTE__INIT;
    Models__ActualLRPInternalRoute *routes[2] = {&r0, &r1};
    Models__StartActualLRPRequest__MetricTagsEntry t0 =
        MODELS__START_ACTUAL_LRPREQUEST__METRIC_TAGS_ENTRY__INIT;
    Models__StartActualLRPRequest__MetricTagsEntry t1 =
        MODELS__START_ACTUAL_LRPREQUEST__METRIC_TAGS_ENTRY__INIT;
    Models__StartActualLRPRequest__MetricTagsEntry *tags[2] = {&t0, &t1};
    struct keys k;

    keys_init(&k, guid, index, ig, cell);
    ni.address = (char *)address;
    ni.instance_address = IT_S("172.16.0.9");
    ni.preferred_address = MODELS__ACTUAL_LRPNET_INFO__PREFERRED_ADDRESS__HOST;
    pm.container_port = 8080;
    pm.host_port = 61007;
    ni.n_ports = 1;
    ni.ports = pms;
    r0.hostname = IT_S("a.apps.internal");
    r1.hostname = IT_S("b.apps.internal");
    t0.key = IT_S("app_name");
    t0.value = IT_S("demo");
    t1.key = IT_S("instance_index");
    t1.value = IT_S("0");
    req.actual_lrp_key = &k.key;
    req.actual_lrp_instance_key = &k.ik;
    req.actual_lrp_net_info = &ni;
    req.n_actual_lrp_internal_routes = 2;
    req.actual_lrp_internal_routes = routes;
    req.n_metric_tags = 2;
    req.metric_tags = tags;
    if (routable >= 0) {
        req.optional_routable_case = MODELS__START_ACTUAL_LRPREQUEST__OPTIONAL_ROUTABLE_ROUTABLE;
        req.routable = routable != 0;
    }
    req.availability_zone = (char *)(zone ? zone : "");
    assert_int_equal(it_call_err("/v1/actual_lrps/start.r1", &req.base,
                                 &models__actual_lrplifecycle_response__descriptor),
                     IT_OK);
}

/* ---- set-up helpers ------------------------------------------------------------------- */

static void run_on(const char *guid, int32_t index, const char *ig, const char *cell,
                   const char *address)
{
    assert_int_equal(it_start(guid, index, NULL, ig, cell, address), IT_OK);
}

static void claim_on(const char *guid, int32_t index, const char *ig, const char *cell)
{
    assert_int_equal(it_claim(guid, index, ig, cell), IT_OK);
}

/* `ig`@`cell` runs (guid, index) and evacuates it: EVACUATING copy, UNCLAIMED ordinary, auction. */
static void dance(struct lrp *l, int32_t index, const char *ig, const char *cell,
                  const char *address)
{
    struct answer a;
    struct rows rs;

    run_on(l->guid, index, ig, cell, address);
    a = ev_running(l->guid, index, ig, cell, address);
    expect_answer("set-up evacuate_running", &a, IT_OK, 1);
    expect_auction(l, index);
    snap(l->guid, index, &rs);
    assert_presences(&rs, l->guid, 1, 1, 0);
    assert_string_equal(rs.p[P_ORD].state, "UNCLAIMED");
    assert_string_equal(rs.p[P_EVAC].cell, cell);
}

/* CRASHED with crash count 3 (two immediate restarts, each auctioned). */
static void make_crashed(struct lrp *l, int32_t index, const char *ig, const char *cell)
{
    struct rows rs;
    for (int i = 0; i < 3; i++) {
        run_on(l->guid, index, ig, cell, ADDR_A);
        assert_int_equal(it_crash(l->guid, index, NULL, ig, cell, "boom"), IT_OK);
    }
    l->auctions += 2;
    snap(l->guid, index, &rs);
    assert_string_equal(rs.p[P_ORD].state, "CRASHED");
    assert_int_equal(rs.p[P_ORD].crash_count, 3);
}

/*
 * Make the ORDINARY row of (guid, index) SUSPECT as convergence does (the
 * modification tag is not changed, 3.2), and with `replacement` insert the
 * new ORDINARY UNCLAIMED row convergence creates for it.
 */
static void make_suspect(const char *guid, int32_t index, int replacement)
{
    char idx[16], now[32];
    const char *p2[2] = {guid, idx};
    const char *p4[4] = {guid, idx, IT_DOMAIN, now};

    snprintf(idx, sizeof(idx), "%d", index);
    snprintf(now, sizeof(now), "%lld", (long long)it_now_ns());
    assert_int_equal(it_db_exec("UPDATE actual_lrps SET presence = 2 WHERE process_guid = $1"
                                " AND instance_index = $2::int4 AND presence = 0",
                                2, p2),
                     1);
    if (replacement) {
        assert_int_equal(
            it_db_exec("INSERT INTO actual_lrps (process_guid, instance_index, presence, domain,"
                       " state, since, net_info, internal_routes, metric_tags, routable,"
                       " modification_tag_epoch, modification_tag_index) VALUES ($1,"
                       " $2::int4, 0, $3, 'UNCLAIMED', $4::int8, ''::bytea, ''::bytea,"
                       " ''::bytea, false, gen_random_uuid()::text, 0)",
                       4, p4),
            1);
    }
}

/* Insert an EVACUATING row identical to the ORDINARY one (key, instance key, net info, ...). */
static void copy_ordinary_as_evacuating(const char *guid, int32_t index)
{
    char idx[16];
    const char *p[2] = {guid, idx};

    snprintf(idx, sizeof(idx), "%d", index);
    assert_int_equal(
        it_db_exec("INSERT INTO actual_lrps (process_guid, instance_index, presence, domain,"
                   " state, instance_guid, cell_id, placement_error, since, net_info,"
                   " modification_tag_epoch, modification_tag_index, crash_count, crash_reason,"
                   " internal_routes, metric_tags, routable, availability_zone)"
                   " SELECT process_guid, instance_index, 1, domain, 'RUNNING', instance_guid,"
                   " cell_id, '', since, net_info, gen_random_uuid()::text, 0, 0, '',"
                   " internal_routes, metric_tags, routable, availability_zone FROM actual_lrps"
                   " WHERE process_guid = $1 AND instance_index = $2::int4 AND presence = 0",
                   2, p),
        1);
}

static void set_strategy(const char *guid, enum strategy s)
{
    const char *p[2] = {guid, s == RECREATE ? "1" : "0"};
    assert_int_equal(
        it_db_exec("UPDATE desired_lrps SET update_strategy = $2::int4 WHERE process_guid = $1", 2,
                   p),
        1);
}

/* actual_lrps/list with filters; index < 0 = no index filter. */
static Models__ActualLRPsResponse *list_where(const char *guid, const char *domain,
                                              const char *cell, int32_t index)
{
    Models__ActualLRPsRequest req = MODELS__ACTUAL_LRPS_REQUEST__INIT;
    Models__ActualLRPsResponse *r;

    req.process_guid = (char *)guid;
    req.domain = (char *)(domain ? domain : "");
    req.cell_id = (char *)(cell ? cell : "");
    if (index >= 0) {
        req.optional_index_case = MODELS__ACTUAL_LRPS_REQUEST__OPTIONAL_INDEX_INDEX;
        req.index = index;
    }
    r = it_call("/v1/actual_lrps/list", &req.base, &models__actual_lrps_response__descriptor);
    if (it_err_type(r) != IT_OK) {
        fail_msg("actual_lrps/list: error %d \"%s\"", it_err_type(r), it_err_msg(r));
    }
    return r;
}

/* POST raw bytes to an evacuation route and decode the EvacuationResponse. */
static struct answer ev_raw(const char *path, const void *body, size_t len)
{
    struct it_resp r;
    struct answer a;
    Models__EvacuationResponse *m;

    it_post_raw(path, body, len, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, IT_PROTOBUF_CTYPE);
    m = (Models__EvacuationResponse *)it_unpack(EVAC_RESP, r.body, r.len);
    it_resp_free(&r);
    assert_non_null(m);
    a.err = it_err_type(m);
    a.keep = m->keep_container ? 1 : 0;
    snprintf(a.msg, sizeof(a.msg), "%s", it_err_msg(m));
    it_free(m);
    return a;
}

/* Bodies that are not valid encodings (1.2): truncated length, wrong wire type. */
static const uint8_t bad_truncated[] = {0x0a, 0x05, 0x01};
static const uint8_t bad_wire_type[] = {0x08, 0x01};

static void expect_decode_failure(const char *path, int keep)
{
    struct answer a = ev_raw(path, bad_truncated, sizeof(bad_truncated));
    expect_answer(path, &a, E(InvalidRequest), keep);
    assert_string_equal(a.msg, IT_MSG_INVALID);
    a = ev_raw(path, bad_wire_type, sizeof(bad_wire_type));
    expect_answer(path, &a, E(InvalidRequest), keep);
    assert_string_equal(a.msg, IT_MSG_INVALID);
}

static void expect_invalid(const char *path, const ProtobufCMessage *req, int keep,
                           const char *message)
{
    struct answer a = ev_send(path, req);
    expect_answer(path, &a, E(InvalidRequest), keep);
    assert_string_equal(a.msg, message);
}

/* Validation of the shared key / instance-key checks (2.3, 2.5); `base` has both set. */
static void expect_key_validation(const char *path, ProtobufCMessage *req,
                                  Models__ActualLRPKey **keyp, Models__ActualLRPInstanceKey **ikp,
                                  int keep)
{
    Models__ActualLRPKey *key = *keyp;
    Models__ActualLRPInstanceKey *ik = *ikp;
    Models__ActualLRPKey bad_key = MODELS__ACTUAL_LRPKEY__INIT;
    Models__ActualLRPInstanceKey bad_ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;

    *keyp = NULL;
    expect_invalid(path, req, keep, "Invalid field: actual_lrp_key");
    *keyp = key;
    *ikp = NULL;
    expect_invalid(path, req, keep, "Invalid field: actual_lrp_instance_key");
    *ikp = ik;
    bad_key.index = -1;
    *keyp = &bad_key;
    expect_invalid(path, req, keep,
                   "Invalid field: process_guid, Invalid field: index, Invalid field: domain");
    *keyp = key;
    *ikp = &bad_ik;
    expect_invalid(path, req, keep, "Invalid field: cell_id, Invalid field: instance_guid");
    bad_ik.cell_id = IT_S(CELL_A);
    expect_invalid(path, req, keep, "Invalid field: instance_guid");
    *ikp = ik;
}

/* ======================================================================================= */
/* Step 0 validation (per route) and the cases that are sequences, not rows               */
/* ======================================================================================= */

static void test_claimed_step0_validation_failure_keeps(void **state)
{
    struct lrp l;
    struct rows before, after;
    Models__EvacuateClaimedActualLRPRequest req = MODELS__EVACUATE_CLAIMED_ACTUAL_LRPREQUEST__INIT;
    struct keys k;
    (void)state;

    lrp_new(&l, "ecl-inval", 1, ROLLING);
    claim_on(l.guid, 0, IG_A, CELL_A);
    snap(l.guid, 0, &before);
    expect_invalid(R_CLAIMED, NULL, 1,
                   "Invalid field: actual_lrp_key, Invalid field: actual_lrp_instance_key");
    keys_init(&k, l.guid, 0, IG_A, CELL_A);
    req.actual_lrp_key = &k.key;
    req.actual_lrp_instance_key = &k.ik;
    expect_key_validation(R_CLAIMED, &req.base, &req.actual_lrp_key, &req.actual_lrp_instance_key,
                          1);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

static void test_crashed_step0_validation_failure(void **state)
{
    struct lrp l;
    struct rows before, after;
    Models__EvacuateCrashedActualLRPRequest req = MODELS__EVACUATE_CRASHED_ACTUAL_LRPREQUEST__INIT;
    struct keys k;
    (void)state;

    lrp_new(&l, "ecr-inval", 1, ROLLING);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    snap(l.guid, 0, &before);
    expect_invalid(R_CRASHED, NULL, 0,
                   "Invalid field: actual_lrp_key, Invalid field: actual_lrp_instance_key, "
                   "Invalid field: error_message");
    keys_init(&k, l.guid, 0, IG_A, CELL_A);
    req.actual_lrp_key = &k.key;
    req.actual_lrp_instance_key = &k.ik;
    expect_invalid(R_CRASHED, &req.base, 0, "Invalid field: error_message");
    req.error_message = IT_S("boom");
    expect_key_validation(R_CRASHED, &req.base, &req.actual_lrp_key, &req.actual_lrp_instance_key,
                          0);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

static void test_stopped_step0_validation_failure(void **state)
{
    struct lrp l;
    struct rows before, after;
    Models__EvacuateStoppedActualLRPRequest req = MODELS__EVACUATE_STOPPED_ACTUAL_LRPREQUEST__INIT;
    struct keys k;
    (void)state;

    lrp_new(&l, "est-inval", 1, ROLLING);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    snap(l.guid, 0, &before);
    expect_invalid(R_STOPPED, NULL, 0,
                   "Invalid field: actual_lrp_key, Invalid field: actual_lrp_instance_key");
    keys_init(&k, l.guid, 0, IG_A, CELL_A);
    req.actual_lrp_key = &k.key;
    req.actual_lrp_instance_key = &k.ik;
    expect_key_validation(R_STOPPED, &req.base, &req.actual_lrp_key, &req.actual_lrp_instance_key,
                          0);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

static void test_running_step0_validation_failure_keeps(void **state)
{
    static const char *const paths[2] = {R_RUNNING, R_RUNNING0};
    struct lrp l;
    struct rows before, after;
    struct evrun e;
    (void)state;

    lrp_new(&l, "eru-inval", 1, ROLLING);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    snap(l.guid, 0, &before);
    for (int i = 0; i < 2; i++) {
        expect_invalid(paths[i], NULL, 1,
                       "Invalid field: actual_lrp_key, Invalid field: actual_lrp_instance_key, "
                       "Invalid field: actual_lrp_net_info");
        evrun_init(&e, l.guid, 0, IG_A, CELL_A, ADDR_A);
        e.req.actual_lrp_net_info = NULL;
        expect_invalid(paths[i], &e.req.base, 1, "Invalid field: actual_lrp_net_info");
        evrun_init(&e, l.guid, 0, IG_A, CELL_A, "");
        expect_invalid(paths[i], &e.req.base, 1, "Invalid field: address");
        evrun_init(&e, l.guid, 0, IG_A, CELL_A, ADDR_A);
        expect_key_validation(paths[i], &e.req.base, &e.req.actual_lrp_key,
                              &e.req.actual_lrp_instance_key, 1);
    }
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

/* Step 3 / 4: the call removes A's evacuating row (if any) and drops the container. */
static void expect_dropped_evacuating_removed(struct lrp *l, int32_t index, const char *path)
{
    struct rows before, after;
    struct answer a;
    struct evrun e;

    snap(l->guid, index, &before);
    evrun_init(&e, l->guid, index, IG_A, CELL_A, ADDR_A);
    a = ev_run(&e, path);
    expect_answer(path, &a, IT_OK, 0);
    snap(l->guid, index, &after);
    same_int("after", "EVACUATING row", 0, after.p[P_EVAC].found);
    same_int("after", "row count", (long long)before.n - before.p[P_EVAC].found,
             (long long)after.n);
    if (before.p[P_ORD].found) {
        assert_same_row("ordinary", &before.p[P_ORD], &after.p[P_ORD]);
    }
    if (before.p[P_SUSP].found) {
        assert_same_row("suspect", &before.p[P_SUSP], &after.p[P_SUSP]);
    }
}

static void test_running_recreate_one_instance_at_a_time(void **state)
{
    struct lrp l;
    struct rows rs;
    struct answer a;
    (void)state;

    lrp_new(&l, "erc-one-at-a-time", 2, RECREATE);
    run_on(l.guid, 0, "ig-a0", CELL_A, ADDR_A);
    run_on(l.guid, 1, "ig-a1", CELL_A, ADDR_A);

    a = ev_running(l.guid, 0, "ig-a0", CELL_A, ADDR_A);
    expect_answer("evacuate_running.r1 index 0", &a, IT_OK, 0);
    it_assert_state(l.guid, 0, "UNCLAIMED", NULL);
    expect_auction(&l, 0);

    a = ev_running(l.guid, 1, "ig-a1", CELL_A, ADDR_A); /* index 0 is not running: wait */
    expect_answer("evacuate_running.r1 index 1", &a, IT_OK, 1);
    it_assert_state(l.guid, 1, "RUNNING", NULL);

    a = ev_running(l.guid, 0, "ig-a0", CELL_A, ADDR_A); /* A no longer holds index 0 */
    expect_answer("evacuate_running.r1 index 0 again", &a, IT_OK, 0);
    claim_on(l.guid, 0, IG_B, CELL_B);
    a = ev_running(l.guid, 1, "ig-a1", CELL_A, ADDR_A);
    expect_answer("evacuate_running.r1 index 1, replacement claimed", &a, IT_OK, 1);
    run_on(l.guid, 0, IG_B, CELL_B, ADDR_B);

    a = ev_running(l.guid, 1, "ig-a1", CELL_A, ADDR_A); /* everything runs again */
    expect_answer("evacuate_running.r1 index 1, replacement running", &a, IT_OK, 0);
    it_assert_state(l.guid, 1, "UNCLAIMED", NULL);
    expect_auction(&l, 1);
    for (int32_t i = 0; i < 2; i++) {
        snap(l.guid, i, &rs);
        assert_presences(&rs, l.guid, 1, 0, 0); /* never an EVACUATING row */
    }
}

/* A request with everything set, different from what start_full() stored. */
static void evrun_other(struct evrun *e, const char *guid, int32_t index, const char *ig,
                        const char *cell, const char *address, const char *route, const char *app,
                        int routable, const char *zone)
{
    evrun_init(e, guid, index, ig, cell, address);
    e->ni.instance_address = IT_S("172.16.0.77");
    e->ni.preferred_address = MODELS__ACTUAL_LRPNET_INFO__PREFERRED_ADDRESS__INSTANCE;
    e->pm.host_port = 62000;
    evrun_extras(e, route, app, routable, zone);
}

/* The row `r` holds exactly what request `e` carried (for the fields it can set). */
static void assert_row_from_request(const char *what, const struct evrun *e, const struct row *r,
                                    int deprecated)
{
    same_str(what, "instance_guid", e->k.ik.instance_guid, r->ig);
    same_str(what, "cell_id", e->k.ik.cell_id, r->cell);
    same_str(what, "address", e->ni.address, r->address);
    same_str(what, "instance_address", e->ni.instance_address, r->instance_address);
    same_int(what, "host_port", e->pm.host_port, r->host_port);
    same_int(what, "preferred_address", (int)e->ni.preferred_address, r->preferred);
    if (deprecated) {
        same_int(what, "internal routes", 0, (long long)r->n_routes);
        same_int(what, "metric tags", 0, (long long)r->n_tags);
    } else {
        same_int(what, "internal routes", (long long)e->req.n_actual_lrp_internal_routes,
                 (long long)r->n_routes);
        same_str(what, "route[0]", e->req.n_actual_lrp_internal_routes ? e->route.hostname : "",
                 r->route0);
        same_int(what, "metric tags", (long long)e->req.n_metric_tags, (long long)r->n_tags);
        same_str(what, "metric tag app_name", e->req.n_metric_tags ? e->tag.value : "", r->tag_app);
    }
}

static void test_running_rolling_evacuating_this_cell_identical_keeps(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    struct evrun e;
    (void)state;

    lrp_new(&l, "erl-evac-same", 1, ROLLING);
    dance(&l, 0, IG_A, CELL_A, ADDR_A);
    claim_on(l.guid, 0, IG_B, CELL_B); /* replacement placed, not yet running */
    snap(l.guid, 0, &before);
    a = ev_running(l.guid, 0, IG_A, CELL_A, ADDR_A);
    expect_answer("evacuate_running.r1", &a, IT_OK, 1);
    /* same net info: routes, tags, routable and zone are not compared (4.3) */
    evrun_init(&e, l.guid, 0, IG_A, CELL_A, ADDR_A);
    evrun_extras(&e, "other.apps.internal", "other", 0, "z-other");
    a = ev_run(&e, R_RUNNING);
    expect_answer("evacuate_running.r1", &a, IT_OK, 1);
    a = ev_run(&e, R_RUNNING0);
    expect_answer("evacuate_running", &a, IT_OK, 1);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

static void test_running_rolling_evacuating_this_cell_ordinary_unclaimed_updated(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    struct evrun e1, e2;
    int64_t t0, t1;
    (void)state;

    lrp_new(&l, "erl-evac-upd", 1, ROLLING);
    evrun_other(&e1, l.guid, 0, IG_A, CELL_A, ADDR_A, "r1.apps.internal", "one", 0, "z-1");
    a = ev_run(&e1, R_RUNNING);
    expect_answer("evacuate_running.r1 (create)", &a, IT_OK, 1);
    snap(l.guid, 0, &before);
    assert_presences(&before, l.guid, 1, 1, 0);

    evrun_other(&e2, l.guid, 0, IG_A, CELL_A, "10.0.0.9", "r2.apps.internal", "two", 1, "z-2");
    t0 = it_now_ns();
    a = ev_run(&e2, R_RUNNING);
    t1 = it_now_ns();
    expect_answer("evacuate_running.r1 (update)", &a, IT_OK, 1);
    snap(l.guid, 0, &after);
    assert_same_row("ordinary", &before.p[P_ORD], &after.p[P_ORD]);
    assert_row_from_request("evacuating", &e2, &after.p[P_EVAC], 0);
    same_str("evacuating", "state", "RUNNING", after.p[P_EVAC].state);
    assert_since_in("evacuating", &after.p[P_EVAC], t0, t1);
    same_str("evacuating", "epoch", before.p[P_EVAC].epoch, after.p[P_EVAC].epoch);
    same_int("evacuating", "modification index", before.p[P_EVAC].mod_index + 1,
             after.p[P_EVAC].mod_index);
    /* quirk 27: routable and zone are not updated on this path */
    same_int("evacuating", "routable", 0, after.p[P_EVAC].routable);
    same_str("evacuating", "availability_zone", "z-1", after.p[P_EVAC].zone);
    expect_no_auction(&l);
}

static void
test_running_rolling_evacuating_this_cell_update_deprecated_clears_routes_tags(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    struct evrun e1, e2;
    (void)state;

    lrp_new(&l, "erl-evac-upd0", 1, ROLLING);
    evrun_other(&e1, l.guid, 0, IG_A, CELL_A, ADDR_A, "r1.apps.internal", "one", -1, "z-1");
    a = ev_run(&e1, R_RUNNING);
    expect_answer("evacuate_running.r1 (create)", &a, IT_OK, 1);
    snap(l.guid, 0, &before);
    same_int("evacuating", "internal routes", 1, (long long)before.p[P_EVAC].n_routes);
    same_int("evacuating", "metric tags", 1, (long long)before.p[P_EVAC].n_tags);

    /* the deprecated route ignores fields 5 and 6: the update clears both (quirk 27) */
    evrun_other(&e2, l.guid, 0, IG_A, CELL_A, "10.0.0.9", "r2.apps.internal", "two", -1, "z-2");
    a = ev_run(&e2, R_RUNNING0);
    expect_answer("evacuate_running (update)", &a, IT_OK, 1);
    snap(l.guid, 0, &after);
    assert_row_from_request("evacuating", &e2, &after.p[P_EVAC], 1);
    same_int("evacuating", "modification index", before.p[P_EVAC].mod_index + 1,
             after.p[P_EVAC].mod_index);
    same_str("evacuating", "availability_zone", "z-1", after.p[P_EVAC].zone);
    assert_same_row("ordinary", &before.p[P_ORD], &after.p[P_ORD]);
    expect_no_auction(&l);
}

/* The dance (4.3 step 6) from A's ordinary RUNNING row, via `path`. */
static void rolling_dance_running(const char *prefix, const char *path)
{
    int deprecated = strcmp(path, R_RUNNING0) == 0;
    struct lrp l;
    struct rows before, after, again;
    struct answer a;
    struct evrun e;
    int64_t t0, t1;

    lrp_new(&l, prefix, 1, ROLLING);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    assert_int_equal(it_crash(l.guid, 0, NULL, IG_A, CELL_A, "earlier"), IT_OK);
    l.auctions++;
    start_full(l.guid, 0, IG_A, CELL_A, ADDR_A, 0, "z-a");
    snap(l.guid, 0, &before);
    assert_int_equal(before.p[P_ORD].crash_count, 1);

    /* the request's net info, routes, tags, routable and zone are not used by the dance */
    evrun_other(&e, l.guid, 0, IG_A, CELL_A, "10.0.0.99", "req.apps.internal", "req", 1, "z-req");
    t0 = it_now_ns();
    a = ev_run(&e, path);
    t1 = it_now_ns();
    expect_answer(path, &a, IT_OK, 1);
    snap(l.guid, 0, &after);
    assert_presences(&after, l.guid, 1, 1, 0);
    assert_evac_copy("evacuating", &before.p[P_ORD], &after.p[P_EVAC], t0, t1);
    assert_unclaimed_from("ordinary", &before.p[P_ORD], &after.p[P_ORD], t0, t1);
    same_int("ordinary", "crash_count", 1, after.p[P_ORD].crash_count);
    same_int("ordinary", "internal routes", 2, (long long)after.p[P_ORD].n_routes);
    same_int("ordinary", "metric tags", 2, (long long)after.p[P_ORD].n_tags);
    expect_auction(&l, 0);

    /* the cell calls again with the same request: now its target is the
     * EVACUATING row, updated from the request (net info differs) */
    t0 = it_now_ns();
    a = ev_run(&e, path);
    t1 = it_now_ns();
    expect_answer(path, &a, IT_OK, 1);
    snap(l.guid, 0, &again);
    assert_same_row("ordinary", &after.p[P_ORD], &again.p[P_ORD]);
    assert_row_from_request("evacuating", &e, &again.p[P_EVAC], deprecated);
    assert_since_in("evacuating", &again.p[P_EVAC], t0, t1);
    same_int("evacuating", "modification index", 1, again.p[P_EVAC].mod_index);
    same_str("evacuating", "epoch", after.p[P_EVAC].epoch, again.p[P_EVAC].epoch);
    same_int("evacuating", "routable", 0, again.p[P_EVAC].routable);
    same_str("evacuating", "availability_zone", "z-a", again.p[P_EVAC].zone);

    /* and once more: identical, nothing written */
    a = ev_run(&e, path);
    expect_answer(path, &a, IT_OK, 1);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &again, &after);
    expect_no_auction(&l);
}

static void test_running_rolling_ordinary_running_this_cell_dance(void **state)
{
    (void)state;
    rolling_dance_running("erl-dance-run", R_RUNNING);
}

static void test_running_rolling_ordinary_running_this_cell_dance_deprecated(void **state)
{
    (void)state;
    rolling_dance_running("erl-dance-run0", R_RUNNING0);
}

/*
 * The auction of an evacuation is requested inline, as upstream's
 * evacuation controller does: when the cell has its answer the auctioneer
 * has the request (no waiting here; upstream's event_stream_test checks
 * exactly this).
 */
static void test_running_dance_auction_sent_before_answer(void **state)
{
    struct lrp l;
    struct answer a;
    struct evrun e;
    json_t *starts;
    int32_t idx[8];
    size_t n;

    (void)state;
    lrp_new(&l, "erl-dance-inline", 1, ROLLING);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    evrun_init(&e, l.guid, 0, IG_A, CELL_A, ADDR_A);
    a = ev_run(&e, R_RUNNING);
    expect_answer(R_RUNNING, &a, IT_OK, 1);
    starts = it_auction_starts(l.guid); /* at once: no wait */
    assert_int_equal(json_array_size(starts), 2);
    n = it_auction_indices(json_array_get(starts, 1), idx, 8);
    assert_int_equal(n, 1);
    assert_int_equal(idx[0], 0);
    json_decref(starts);
    l.auctions++;
    expect_no_auction(&l);
}

static void
test_running_rolling_ordinary_claimed_this_cell_evacuating_other_cell_dance(void **state)
{
    struct lrp l;
    struct rows before, after, last;
    struct answer a;
    int64_t t0, t1;
    (void)state;

    lrp_new(&l, "erl-dance-over-b", 1, ROLLING);
    dance(&l, 0, IG_B, CELL_B, ADDR_B);
    claim_on(l.guid, 0, IG_A, CELL_A); /* A got the replacement, and A drains too */
    snap(l.guid, 0, &before);
    t0 = it_now_ns();
    a = ev_running(l.guid, 0, IG_A, CELL_A, ADDR_A);
    t1 = it_now_ns();
    expect_answer("evacuate_running.r1", &a, IT_OK, 1);
    snap(l.guid, 0, &after);
    assert_presences(&after, l.guid, 1, 1, 0);
    /* the existing EVACUATING row (B's) is overwritten from A's stored row */
    same_str("evacuating", "state", "RUNNING", after.p[P_EVAC].state);
    same_str("evacuating", "instance_guid", IG_A, after.p[P_EVAC].ig);
    same_str("evacuating", "cell_id", CELL_A, after.p[P_EVAC].cell);
    assert_empty_net("evacuating", &after.p[P_EVAC]);
    same_int("evacuating", "internal routes", (long long)before.p[P_ORD].n_routes,
             (long long)after.p[P_EVAC].n_routes);
    same_int("evacuating", "metric tags", (long long)before.p[P_ORD].n_tags,
             (long long)after.p[P_EVAC].n_tags);
    assert_since_in("evacuating", &after.p[P_EVAC], t0, t1);
    same_str("evacuating", "epoch", before.p[P_EVAC].epoch, after.p[P_EVAC].epoch);
    same_int("evacuating", "modification index", before.p[P_EVAC].mod_index + 1,
             after.p[P_EVAC].mod_index);
    same_int("evacuating", "routable", before.p[P_EVAC].routable, after.p[P_EVAC].routable);
    same_str("evacuating", "availability_zone", before.p[P_EVAC].zone, after.p[P_EVAC].zone);
    assert_unclaimed_from("ordinary", &before.p[P_ORD], &after.p[P_ORD], t0, t1);
    expect_auction(&l, 0);

    /* B's next call: another cell now owns the evacuating row -> drop */
    a = ev_running(l.guid, 0, IG_B, CELL_B, ADDR_B);
    expect_answer("evacuate_running.r1 from B", &a, IT_OK, 0);
    snap(l.guid, 0, &last);
    assert_same_rows(l.guid, &after, &last);
    expect_no_auction(&l);
}

static void test_remove_evacuating_step0_validation_failure(void **state)
{
    Models__RemoveEvacuatingActualLRPRequest req =
        MODELS__REMOVE_EVACUATING_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPInstanceKey bad_ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;
    struct lrp l;
    struct rows before, after;
    struct keys k;
    (void)state;

    lrp_new(&l, "erm-inval", 1, ROLLING);
    dance(&l, 0, IG_A, CELL_A, ADDR_A);
    snap(l.guid, 0, &before);
    it_expect_invalid(R_REMOVE, NULL, REMOVE_RESP,
                      "Invalid field: actual_lrp_key, Invalid field: actual_lrp_instance_key");
    keys_init(&k, l.guid, 0, IG_A, CELL_A);
    req.actual_lrp_key = &k.key;
    it_expect_invalid(R_REMOVE, &req.base, REMOVE_RESP, "Invalid field: actual_lrp_instance_key");
    req.actual_lrp_instance_key = &bad_ik;
    it_expect_invalid(R_REMOVE, &req.base, REMOVE_RESP,
                      "Invalid field: cell_id, Invalid field: instance_guid");
    req.actual_lrp_key = NULL;
    req.actual_lrp_instance_key = &k.ik;
    it_expect_invalid(R_REMOVE, &req.base, REMOVE_RESP, "Invalid field: actual_lrp_key");
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

/* ======================================================================================= */
/* The decision tables of 4.1-4.4 as rows                                                  */
/* ======================================================================================= */

/*
 * One row of a decision table: a desired LRP, the set-up that puts the
 * index called into the row's state, the call (always from instance ig-a on
 * cell-a), and what it must answer and leave behind. The runner also
 * checks that every other index is untouched and the auction requests.
 */
enum call { C_CLAIMED, C_CRASHED, C_STOPPED, C_RUNNING, C_RUNNING0, C_REMOVE };

static const char *const call_path[] = {R_CLAIMED, R_CRASHED,  R_STOPPED,
                                        R_RUNNING, R_RUNNING0, R_REMOVE};

/* Set-up steps, applied in the order a row lists them. */
enum op {
    END = 0,
    CLAIM_A,         /* ig-a@cell-a claims the index */
    RUN_A,           /* ig-a@cell-a starts it with it_start()'s net info */
    START_FULL_A,    /* ig-a@cell-a starts it with everything (start_full(), zone z-a) */
    CRASH_A,         /* ig-a@cell-a starts it and it crashes: crash count +1, restarted */
    CRASHED_A,       /* make_crashed() on cell-a: CRASHED with crash count 3 */
    CLAIM_B,         /* ig-b@cell-b claims it */
    RUN_B,           /* ig-b@cell-b starts it */
    RUN_B_KEEP_EVAC, /* ig-b@cell-b starts it while deleting A's evacuating row matches none */
    CLAIM_CRASH_B,   /* ig-b@cell-b claims it and crashes it ("replacement") */
    CRASHED_B,       /* make_crashed() on cell-b */
    RUN_C,           /* ig-c@cell-c starts it */
    DANCE_A,         /* dance(): cell-a runs it and evacuates it (under ROLLING) */
    DANCE_B,         /* the same on cell-b */
    SUSPECT,         /* the ORDINARY row becomes SUSPECT, with an UNCLAIMED replacement */
    SUSPECT_ALONE,   /* the same without a replacement */
    COPY_AS_EVAC,    /* an EVACUATING row identical to the ORDINARY one */
    REMOVE_DESIRED,  /* remove the desired LRP */
};

struct step {
    enum op op;
    int32_t index;
};

/* What one presence of the called index must be after the call. */
enum after {
    SAME = 0,     /* as before (absent stays absent) */
    GONE,         /* absent */
    UNCLAIMED,    /* the row before, unclaimed (3.10) during the call */
    RESTARTED,    /* crashed and immediately restarted: UNCLAIMED, count + 1 */
    CRASHED,      /* crashed: CRASHED, count + 1 */
    FROM_REQUEST, /* a new EVACUATING row built from the request */
    COPY,         /* the dance's EVACUATING copy of the target (SUSPECT, else ORDINARY) */
    KEPT_A,       /* still there, RUNNING, still ig-a's (the rest is not looked at) */
    ANY,          /* not checked */
};

/* An evacuate_running request with everything set (evrun_other()). */
struct evreq {
    const char *address;
    const char *route;
    const char *app;
    int routable;
    const char *zone;
};

static const struct evreq REQ_CREATE = {ADDR_A, "r1.apps.internal", "one", 0, "z-1"};
static const struct evreq REQ_DANCE = {"10.0.0.99", "req.apps.internal", "req", 1, "z-req"};
static const struct evreq REQ_DANCE_CLAIMED = {ADDR_A, "req.apps.internal", "req", 1, "z-req"};

struct fault_spec {
    const char *op; /* NULL: no fault */
    int presence;
    const char *action;
};

#define NO_DESIRED (-1)

struct evac_case {
    const char *name;
    const char *prefix; /* of the process guid */
    enum call call;
    enum strategy strategy;
    int32_t instances; /* desired; NO_DESIRED: no desired LRP at all */
    struct step setup[5];
    const char *before;     /* presences before ("O-S": ORDINARY, no EVACUATING, SUSPECT) */
    const char *ord_before; /* ORDINARY state before */
    struct fault_spec fault;
    int32_t index;           /* the index called */
    const struct evreq *req; /* evacuate_running: NULL = it_start()'s net info, nothing else */
    const char *message;     /* evacuate_crashed: NULL = "boom" */
    int err;                 /* expected error type (IT_OK: none); always given */
    int keep;                /* expected keep_container (0 for remove_evacuating) */
    enum after ord, evac, susp;
    int32_t crash_count; /* ORDINARY crash count after (0: not checked) */
    int auction;         /* one auction element for the index */
    void (*also)(const struct evac_case *c, struct lrp *l); /* more assertions */
};

#define FAULT(op, presence, action)                                                                \
    {                                                                                              \
        op, presence, action                                                                       \
    }

static void do_step(const struct evac_case *c, struct lrp *l, const struct step *s)
{
    const char *g = l->guid;
    int32_t i = s->index;
    int recreate = c->strategy == RECREATE;

    switch (s->op) {
    case END:
        break;
    case CLAIM_A:
        claim_on(g, i, IG_A, CELL_A);
        break;
    case RUN_A:
        run_on(g, i, IG_A, CELL_A, ADDR_A);
        break;
    case START_FULL_A:
        start_full(g, i, IG_A, CELL_A, ADDR_A, 0, "z-a");
        break;
    case CRASH_A:
        run_on(g, i, IG_A, CELL_A, ADDR_A);
        assert_int_equal(it_crash(g, i, NULL, IG_A, CELL_A, "boom"), IT_OK);
        l->auctions++;
        break;
    case CRASHED_A:
        make_crashed(l, i, IG_A, CELL_A);
        break;
    case CLAIM_B:
        claim_on(g, i, IG_B, CELL_B);
        break;
    case RUN_B:
        run_on(g, i, IG_B, CELL_B, ADDR_B);
        break;
    case RUN_B_KEEP_EVAC:
        /* B's start removes A's copy (3.4 step 5); make that delete match no
         * row, as when it failed (only logged) or raced the call */
        fault(g, "DELETE", P_EVAC, "skip");
        run_on(g, i, IG_B, CELL_B, ADDR_B);
        faults_clear(g);
        break;
    case CLAIM_CRASH_B:
        claim_on(g, i, IG_B, CELL_B);
        assert_int_equal(it_crash(g, i, NULL, IG_B, CELL_B, "replacement"), IT_OK);
        break;
    case CRASHED_B:
        make_crashed(l, i, IG_B, CELL_B);
        break;
    case RUN_C:
        run_on(g, i, "ig-c", "cell-c", "10.0.0.3");
        break;
    case DANCE_A:
    case DANCE_B:
        /* only ROLLING makes evacuating rows: switch a RECREATE LRP for the dance */
        if (recreate) {
            set_strategy(g, ROLLING);
        }
        if (s->op == DANCE_A) {
            dance(l, i, IG_A, CELL_A, ADDR_A);
        } else {
            dance(l, i, IG_B, CELL_B, ADDR_B);
        }
        if (recreate) {
            set_strategy(g, RECREATE);
        }
        break;
    case SUSPECT:
        make_suspect(g, i, 1);
        break;
    case SUSPECT_ALONE:
        make_suspect(g, i, 0);
        break;
    case COPY_AS_EVAC:
        copy_ordinary_as_evacuating(g, i);
        break;
    case REMOVE_DESIRED:
        assert_int_equal(it_remove_desired(g), IT_OK);
        break;
    }
}

/* Every row of one LRP, by index and presence. */
#define MAX_INDEX 8

struct all_rows {
    struct rows at[MAX_INDEX];
};

static void snap_all(const char *guid, struct all_rows *out)
{
    Models__ActualLRPsResponse *r = it_list_actuals(guid);

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < r->n_actual_lrps; i++) {
        const Models__ActualLRP *a = r->actual_lrps[i];
        int p = (int)a->presence;
        int32_t idx = a->actual_lrp_key != NULL ? a->actual_lrp_key->index : -1;

        if (idx < 0 || idx >= MAX_INDEX || p < 0 || p > 2) {
            fail_msg("%s: row with index %d, presence %d", guid, idx, p);
        }
        if (out->at[idx].p[p].found) {
            fail_msg("%s/%d: two rows with presence %d", guid, idx, p);
        }
        fill_row(a, &out->at[idx].p[p]);
        out->at[idx].n++;
    }
    it_free(r);
}

/* The crash of 4.2 step 4 (3.5): `state`, empty instance key and net info, count + 1. */
static void assert_crashed_from(const char *what, const struct evac_case *c, const char *state,
                                const struct row *before, const struct row *after, int64_t t0,
                                int64_t t1)
{
    same_str(what, "state", state, after->state);
    same_str(what, "instance_guid", "", after->ig);
    same_str(what, "cell_id", "", after->cell);
    assert_empty_net(what, after);
    same_int(what, "crash_count", before->crash_count + 1, after->crash_count);
    same_str(what, "crash_reason", c->message != NULL ? c->message : "boom", after->crash_reason);
    assert_since_in(what, after, t0, t1);
    same_int(what, "modification index", before->mod_index + 1, after->mod_index);
    same_str(what, "epoch", before->epoch, after->epoch);
    same_int(what, "routable", before->routable, after->routable);
    same_int(what, "internal routes", (long long)before->n_routes, (long long)after->n_routes);
}

/* Rolling create from the request (observed upstream): every field the request can set. */
static void assert_from_request(const char *what, const struct evrun *e, const struct evreq *req,
                                const struct row *r, int64_t t0, int64_t t1)
{
    same_int(what, "found", 1, r->found);
    same_str(what, "state", "RUNNING", r->state);
    same_str(what, "domain", IT_DOMAIN, r->domain);
    assert_row_from_request(what, e, r, 0);
    same_int(what, "routable", req->routable, r->routable);
    same_str(what, "availability_zone", req->zone, r->zone);
    assert_since_in(what, r, t0, t1);
    if (!it_is_uuid_v4(r->epoch)) {
        fail_msg("%s: epoch \"%s\" is not a UUID v4", what, r->epoch);
    }
    same_int(what, "modification index", 0, r->mod_index);
}

static void check_presence(const struct evac_case *c, const struct evrun *e, int p,
                           const struct rows *b, const struct rows *x, int64_t t0, int64_t t1)
{
    enum after kind = p == P_ORD ? c->ord : p == P_EVAC ? c->evac : c->susp;
    char what[160];

    snprintf(what, sizeof(what), "%s: %s row", c->name, presence_name(p));
    switch (kind) {
    case SAME:
        same_int(what, "found", b->p[p].found, x->p[p].found);
        if (b->p[p].found) {
            assert_same_row(what, &b->p[p], &x->p[p]);
        }
        break;
    case GONE:
        same_int(what, "found", 0, x->p[p].found);
        break;
    case UNCLAIMED:
        same_int(what, "found before", 1, b->p[p].found);
        assert_unclaimed_from(what, &b->p[p], &x->p[p], t0, t1);
        break;
    case RESTARTED:
        assert_crashed_from(what, c, "UNCLAIMED", &b->p[p], &x->p[p], t0, t1);
        break;
    case CRASHED:
        assert_crashed_from(what, c, "CRASHED", &b->p[p], &x->p[p], t0, t1);
        break;
    case FROM_REQUEST:
        assert_from_request(what, e, c->req, &x->p[p], t0, t1);
        break;
    case COPY: {
        const struct row *src = b->p[P_SUSP].found ? &b->p[P_SUSP] : &b->p[P_ORD];
        assert_evac_copy(what, src, &x->p[p], t0, t1);
        if (strcmp(src->state, "CLAIMED") == 0) {
            assert_empty_net(what, &x->p[p]); /* quirk 19 */
        }
        break;
    }
    case KEPT_A:
        same_int(what, "found", 1, x->p[p].found);
        same_str(what, "state", "RUNNING", x->p[p].state);
        same_str(what, "instance_guid", IG_A, x->p[p].ig);
        break;
    case ANY:
        break;
    }
}

static struct answer call(const struct evac_case *c, const struct lrp *l, const struct evrun *e)
{
    struct answer a = {IT_OK, 0, ""};

    switch (c->call) {
    case C_CLAIMED:
        return ev_claimed(l->guid, c->index, IG_A, CELL_A);
    case C_CRASHED:
        return ev_crashed(l->guid, c->index, IG_A, CELL_A, c->message ? c->message : "boom");
    case C_STOPPED:
        return ev_stopped(l->guid, c->index, IG_A, CELL_A);
    case C_RUNNING:
    case C_RUNNING0:
        return ev_run(e, call_path[c->call]);
    case C_REMOVE:
        a.err = remove_evac(l->guid, c->index, IG_A, CELL_A);
        break;
    }
    return a;
}

static void test_case(void **state)
{
    const struct evac_case *c = *state;
    struct lrp l;
    struct all_rows before, after;
    struct evrun e;
    struct answer a;
    int64_t t0, t1;

    if (c->instances == NO_DESIRED) {
        it_uniq(l.guid, sizeof(l.guid), c->prefix);
        l.auctions = 0;
    } else {
        lrp_new(&l, c->prefix, c->instances, c->strategy);
    }
    for (size_t i = 0; i < sizeof(c->setup) / sizeof(c->setup[0]); i++) {
        do_step(c, &l, &c->setup[i]);
    }
    snap_all(l.guid, &before);
    if (c->before != NULL) {
        const char *b = c->before;
        assert_presences(&before.at[c->index], l.guid, b[0] == 'O', b[1] == 'E', b[2] == 'S');
    }
    if (c->ord_before != NULL) {
        assert_string_equal(before.at[c->index].p[P_ORD].state, c->ord_before);
    }
    if (c->req != NULL) {
        evrun_other(&e, l.guid, c->index, IG_A, CELL_A, c->req->address, c->req->route, c->req->app,
                    c->req->routable, c->req->zone);
    } else {
        evrun_init(&e, l.guid, c->index, IG_A, CELL_A, ADDR_A);
    }
    if (c->fault.op != NULL) {
        fault(l.guid, c->fault.op, c->fault.presence, c->fault.action);
    }
    t0 = it_now_ns();
    a = call(c, &l, &e);
    t1 = it_now_ns();
    if (c->fault.op != NULL) {
        faults_clear(l.guid);
    }
    expect_answer(c->name, &a, c->err, c->keep);

    snap_all(l.guid, &after);
    for (int32_t i = 0; i < MAX_INDEX; i++) {
        char what[160];
        if (i == c->index) {
            continue;
        }
        snprintf(what, sizeof(what), "%s, untouched index %d", l.guid, i);
        assert_same_rows(what, &before.at[i], &after.at[i]);
    }
    for (int p = 0; p < 3; p++) {
        check_presence(c, &e, p, &before.at[c->index], &after.at[c->index], t0, t1);
    }
    if (c->crash_count > 0) {
        same_int(c->name, "ORDINARY crash_count", c->crash_count,
                 after.at[c->index].p[P_ORD].crash_count);
    }
    if (c->also != NULL) {
        c->also(c, &l);
    }
    if (c->auction) {
        expect_auction(&l, c->index);
    } else {
        expect_no_auction(&l);
    }
}

/* The removed row is gone for good: a second call finds nothing. */
static void also_removed_once(const struct evac_case *c, struct lrp *l)
{
    assert_int_equal(remove_evac(l->guid, c->index, IG_A, CELL_A), E(ResourceNotFound));
}

/* Only index 0, on cell-b, is left, and it still runs. */
static void also_index0_running(const struct evac_case *c, struct lrp *l)
{
    (void)c;
    assert_int_equal(it_actual_count(l->guid), 1);
    it_assert_state(l->guid, 0, "RUNNING", NULL);
}

#define OK IT_OK
#define S0(x)                                                                                      \
    {                                                                                              \
        {                                                                                          \
            x, 0                                                                                   \
        }                                                                                          \
    }

/* ---- 4.1 evacuate_claimed ---- */

static const struct evac_case claimed_cases[] = {
    {.name = "claimed_step2_no_rows_not_found",
     .prefix = "ecl-norows",
     .call = C_CLAIMED,
     .instances = 1,
     .index = 3,
     .err = E(ResourceNotFound)},
    {.name = "claimed_step2_unknown_guid_not_found",
     .prefix = "ecl-no-such-guid",
     .call = C_CLAIMED,
     .instances = NO_DESIRED,
     .err = E(ResourceNotFound)},
    {.name = "claimed_step2_ordinary_claimed_other_cell_not_found",
     .prefix = "ecl-claimed-b",
     .call = C_CLAIMED,
     .instances = 1,
     .setup = S0(CLAIM_B),
     .ord_before = "CLAIMED",
     .err = E(ResourceNotFound)},
    {.name = "claimed_step2_ordinary_running_other_cell_not_found",
     .prefix = "ecl-running-b",
     .call = C_CLAIMED,
     .instances = 1,
     .setup = S0(RUN_B),
     .ord_before = "RUNNING",
     .err = E(ResourceNotFound)},
    {.name = "claimed_step2_ordinary_unclaimed_not_found",
     .prefix = "ecl-unclaimed",
     .call = C_CLAIMED,
     .instances = 1,
     .ord_before = "UNCLAIMED",
     .err = E(ResourceNotFound)},
    {.name = "claimed_step2_ordinary_crashed_not_found",
     .prefix = "ecl-crashed",
     .call = C_CLAIMED,
     .instances = 1,
     .setup = S0(CRASHED_A),
     .ord_before = "CRASHED",
     .err = E(ResourceNotFound)},
    {.name = "claimed_step2_evacuating_other_cell_not_found",
     .prefix = "ecl-evac-b",
     .call = C_CLAIMED,
     .instances = 1,
     .setup = S0(DANCE_B),
     .err = E(ResourceNotFound)},
    {.name = "claimed_step3_evacuating_this_cell_removed",
     .prefix = "ecl-evac-a",
     .call = C_CLAIMED,
     .instances = 1,
     .setup = S0(DANCE_A),
     .err = OK,
     .evac = GONE},
    /* 4.1 step 3 with "remove evacuating": a delete failure is ActualLRPCannotBeRemoved */
    {.name = "claimed_step3_evacuating_delete_fails_cannot_be_removed",
     .prefix = "ecl-evac-fault",
     .call = C_CLAIMED,
     .instances = 1,
     .setup = S0(DANCE_A),
     .fault = FAULT("DELETE", P_EVAC, "fail"),
     .err = E(ActualLRPCannotBeRemoved)},
    {.name = "claimed_step3p_suspect_this_cell_removed",
     .prefix = "ecl-susp",
     .call = C_CLAIMED,
     .instances = 1,
     .setup = {{RUN_A, 0}, {SUSPECT, 0}},
     .before = "O-S",
     .err = OK,
     .susp = GONE},
    /* 4.1 step 3': "delete the SUSPECT row; error -> that error", keep false */
    {.name = "claimed_step3p_suspect_delete_fails_error",
     .prefix = "ecl-susp-fault",
     .call = C_CLAIMED,
     .instances = 1,
     .setup = {{RUN_A, 0}, {SUSPECT, 0}},
     .fault = FAULT("DELETE", P_SUSP, "fail"),
     .err = E(UnknownError)},
    /* step 4 from CLAIMED or RUNNING on this cell: unclaim + auction, keep false; a crash
     * first, so the kept crash count is visible */
    {.name = "claimed_step4_ordinary_claimed_this_cell_unclaimed_auction",
     .prefix = "ecl-claimed-a",
     .call = C_CLAIMED,
     .instances = 2,
     .setup = {{CRASH_A, 1}, {CLAIM_A, 1}},
     .index = 1,
     .ord_before = "CLAIMED",
     .err = OK,
     .ord = UNCLAIMED,
     .crash_count = 1,
     .auction = 1},
    {.name = "claimed_step4_ordinary_running_this_cell_unclaimed_auction",
     .prefix = "ecl-running-a",
     .call = C_CLAIMED,
     .instances = 2,
     .setup = {{CRASH_A, 1}, {START_FULL_A, 1}},
     .index = 1,
     .ord_before = "RUNNING",
     .err = OK,
     .ord = UNCLAIMED,
     .crash_count = 1,
     .auction = 1},
    /* a CLAIMED row on an unknown cell stays (5.6); no scheduling info to auction with */
    {.name = "claimed_step4_desired_removed_unclaimed_no_auction",
     .prefix = "ecl-nodesired",
     .call = C_CLAIMED,
     .instances = 1,
     .setup = {{CLAIM_A, 0}, {REMOVE_DESIRED, 0}},
     .before = "O--",
     .err = OK,
     .ord = UNCLAIMED},
    {.name = "claimed_step4b_unclaim_db_error_keeps",
     .prefix = "ecl-unclaim-fault",
     .call = C_CLAIMED,
     .instances = 1,
     .setup = S0(CLAIM_A),
     .fault = FAULT("UPDATE", P_ORD, "fail"),
     .err = E(UnknownError),
     .keep = 1},
};

/* ---- 4.2 evacuate_crashed ---- */

static const struct evac_case crashed_cases[] = {
    {.name = "crashed_step2_no_rows_not_found",
     .prefix = "ecr-norows",
     .call = C_CRASHED,
     .instances = 1,
     .index = 4,
     .err = E(ResourceNotFound)},
    {.name = "crashed_step2_ordinary_claimed_other_cell_not_found",
     .prefix = "ecr-claimed-b",
     .call = C_CRASHED,
     .instances = 1,
     .setup = S0(CLAIM_B),
     .ord_before = "CLAIMED",
     .err = E(ResourceNotFound)},
    {.name = "crashed_step2_ordinary_running_other_cell_not_found",
     .prefix = "ecr-running-b",
     .call = C_CRASHED,
     .instances = 1,
     .setup = S0(RUN_B),
     .ord_before = "RUNNING",
     .err = E(ResourceNotFound)},
    {.name = "crashed_step2_ordinary_unclaimed_not_found",
     .prefix = "ecr-unclaimed",
     .call = C_CRASHED,
     .instances = 1,
     .ord_before = "UNCLAIMED",
     .err = E(ResourceNotFound)},
    {.name = "crashed_step2_ordinary_crashed_not_found",
     .prefix = "ecr-crashed",
     .call = C_CRASHED,
     .instances = 1,
     .setup = S0(CRASHED_A),
     .ord_before = "CRASHED",
     .err = E(ResourceNotFound)},
    {.name = "crashed_step2_evacuating_other_cell_not_found",
     .prefix = "ecr-evac-b",
     .call = C_CRASHED,
     .instances = 1,
     .setup = S0(DANCE_B),
     .ord_before = "UNCLAIMED",
     .err = E(ResourceNotFound)},
    /* the replacement is being placed */
    {.name = "crashed_step3_evacuating_this_cell_removed",
     .prefix = "ecr-evac-a",
     .call = C_CRASHED,
     .instances = 1,
     .setup = {{DANCE_A, 0}, {CLAIM_B, 0}},
     .err = OK,
     .evac = GONE},
    {.name = "crashed_step3_evacuating_delete_fails_cannot_be_removed",
     .prefix = "ecr-evac-fault",
     .call = C_CRASHED,
     .instances = 1,
     .setup = S0(DANCE_A),
     .fault = FAULT("DELETE", P_EVAC, "fail"),
     .err = E(ActualLRPCannotBeRemoved)},
    {.name = "crashed_step3_suspect_this_cell_removed",
     .prefix = "ecr-susp",
     .call = C_CRASHED,
     .instances = 1,
     .setup = {{RUN_A, 0}, {SUSPECT, 0}},
     .err = OK,
     .susp = GONE},
    /* step 4, immediate restart: UNCLAIMED, count + 1, and no auction (quirk 8); no crash
     * error either when the desired LRP is gone (unlike /crash, quirk 7) */
    {.name = "crashed_step4_ordinary_running_this_cell_restart_no_auction",
     .prefix = "ecr-running-a",
     .call = C_CRASHED,
     .instances = 1,
     .setup = S0(START_FULL_A),
     .message = "evacuation crash",
     .err = OK,
     .ord = RESTARTED,
     .crash_count = 1},
    {.name = "crashed_step4_ordinary_claimed_this_cell_restart_no_auction",
     .prefix = "ecr-claimed-a",
     .call = C_CRASHED,
     .instances = 1,
     .setup = S0(CLAIM_A),
     .message = "evacuation crash",
     .err = OK,
     .ord = RESTARTED,
     .crash_count = 1},
    {.name = "crashed_step4_desired_removed_running_this_cell",
     .prefix = "ecr-nodesired",
     .call = C_CRASHED,
     .instances = 1,
     .setup = {{START_FULL_A, 0}, {REMOVE_DESIRED, 0}},
     .message = "evacuation crash",
     .err = OK,
     .ord = RESTARTED,
     .crash_count = 1},
    {.name = "crashed_step4_ordinary_running_third_crash_crashed",
     .prefix = "ecr-third",
     .call = C_CRASHED,
     .instances = 1,
     .setup = {{CRASH_A, 0}, {CRASH_A, 0}, {RUN_A, 0}},
     .message = "third",
     .err = OK,
     .ord = CRASHED,
     .crash_count = 3},
    {.name = "crashed_step4_crash_db_error",
     .prefix = "ecr-fault",
     .call = C_CRASHED,
     .instances = 1,
     .setup = S0(RUN_A),
     .fault = FAULT("UPDATE", P_ORD, "fail"),
     .err = E(UnknownError)},
};

/* ---- 4.2 evacuate_stopped ---- */

static const struct evac_case stopped_cases[] = {
    {.name = "stopped_step2_no_rows_not_found",
     .prefix = "est-norows",
     .call = C_STOPPED,
     .instances = 1,
     .index = 2,
     .err = E(ResourceNotFound)},
    {.name = "stopped_step2_ordinary_claimed_other_cell_not_found",
     .prefix = "est-claimed-b",
     .call = C_STOPPED,
     .instances = 1,
     .setup = S0(CLAIM_B),
     .ord_before = "CLAIMED",
     .err = E(ResourceNotFound)},
    {.name = "stopped_step2_ordinary_running_other_cell_not_found",
     .prefix = "est-running-b",
     .call = C_STOPPED,
     .instances = 1,
     .setup = S0(RUN_B),
     .ord_before = "RUNNING",
     .err = E(ResourceNotFound)},
    {.name = "stopped_step2_ordinary_unclaimed_not_found",
     .prefix = "est-unclaimed",
     .call = C_STOPPED,
     .instances = 1,
     .ord_before = "UNCLAIMED",
     .err = E(ResourceNotFound)},
    {.name = "stopped_step2_ordinary_crashed_not_found",
     .prefix = "est-crashed",
     .call = C_STOPPED,
     .instances = 1,
     .setup = S0(CRASHED_A),
     .ord_before = "CRASHED",
     .err = E(ResourceNotFound)},
    {.name = "stopped_step2_evacuating_other_cell_not_found",
     .prefix = "est-evac-b",
     .call = C_STOPPED,
     .instances = 1,
     .setup = {{DANCE_B, 0}, {CLAIM_B, 0}},
     .ord_before = "CLAIMED",
     .err = E(ResourceNotFound)},
    {.name = "stopped_step3_evacuating_this_cell_removed",
     .prefix = "est-evac-a",
     .call = C_STOPPED,
     .instances = 1,
     .setup = S0(DANCE_A),
     .err = OK,
     .evac = GONE},
    {.name = "stopped_step3_evacuating_delete_fails_cannot_be_removed",
     .prefix = "est-evac-fault",
     .call = C_STOPPED,
     .instances = 1,
     .setup = S0(DANCE_A),
     .fault = FAULT("DELETE", P_EVAC, "fail"),
     .err = E(ActualLRPCannotBeRemoved)},
    {.name = "stopped_step3_suspect_this_cell_removed",
     .prefix = "est-susp",
     .call = C_STOPPED,
     .instances = 1,
     .setup = {{RUN_A, 0}, {SUSPECT, 0}},
     .err = OK,
     .susp = GONE},
    {.name = "stopped_step4_ordinary_running_this_cell_deleted",
     .prefix = "est-running-a",
     .call = C_STOPPED,
     .instances = 2,
     .setup = {{RUN_A, 1}, {RUN_B, 0}},
     .index = 1,
     .err = OK,
     .ord = GONE,
     .also = also_index0_running},
    {.name = "stopped_step4_ordinary_claimed_this_cell_deleted",
     .prefix = "est-claimed-a",
     .call = C_STOPPED,
     .instances = 2,
     .setup = {{CLAIM_A, 1}, {RUN_B, 0}},
     .index = 1,
     .err = OK,
     .ord = GONE,
     .also = also_index0_running},
    {.name = "stopped_step4_desired_removed_running_this_cell_deleted",
     .prefix = "est-nodesired",
     .call = C_STOPPED,
     .instances = 2,
     .setup = {{RUN_A, 1}, {RUN_B, 0}, {REMOVE_DESIRED, 0}},
     .index = 1,
     .err = OK,
     .ord = GONE,
     .also = also_index0_running},
    /* the DELETE matches no row */
    {.name = "stopped_step4_none_deleted_not_found",
     .prefix = "est-skip",
     .call = C_STOPPED,
     .instances = 1,
     .setup = S0(RUN_A),
     .fault = FAULT("DELETE", P_ORD, "skip"),
     .err = E(ResourceNotFound)},
};

/* ---- 4.3 evacuate_running, steps 2-4 (both strategies) ---- */

static const struct evac_case running_cases[] = {
    /* index 5 has no rows; no evacuating row is made */
    {.name = "running_step2_rolling_no_rows_drops",
     .prefix = "eru-norows-roll",
     .call = C_RUNNING,
     .instances = 1,
     .index = 5,
     .err = OK},
    {.name = "running_step2_rolling_no_rows_drops_deprecated",
     .prefix = "eru-norows-roll0",
     .call = C_RUNNING0,
     .instances = 1,
     .index = 5,
     .err = OK},
    {.name = "running_step2_recreate_no_rows_drops",
     .prefix = "eru-norows-recr",
     .call = C_RUNNING,
     .strategy = RECREATE,
     .instances = 1,
     .index = 5,
     .err = OK},
    {.name = "running_step2_recreate_no_rows_drops_deprecated",
     .prefix = "eru-norows-recr0",
     .call = C_RUNNING0,
     .strategy = RECREATE,
     .instances = 1,
     .index = 5,
     .err = OK},
    {.name = "running_step2_unknown_guid_drops",
     .prefix = "eru-no-such-guid",
     .call = C_RUNNING,
     .instances = NO_DESIRED,
     .err = OK},
    /* step 3: no ordinary row (the UNCLAIMED ordinary went with the desired LRP) */
    {.name = "running_step3_no_ordinary_evacuating_this_cell_removed",
     .prefix = "eru-noord-a",
     .call = C_RUNNING,
     .instances = 1,
     .setup = {{DANCE_A, 0}, {REMOVE_DESIRED, 0}},
     .before = "-E-",
     .err = OK,
     .evac = GONE},
    {.name = "running_step3_no_ordinary_evacuating_this_cell_removed_deprecated",
     .prefix = "eru-noord-a0",
     .call = C_RUNNING0,
     .instances = 1,
     .setup = {{DANCE_A, 0}, {REMOVE_DESIRED, 0}},
     .before = "-E-",
     .err = OK,
     .evac = GONE},
    {.name = "running_step3_recreate_no_ordinary_evacuating_this_cell_removed",
     .prefix = "eru-noord-a-recr",
     .call = C_RUNNING,
     .strategy = RECREATE,
     .instances = 1,
     .setup = {{DANCE_A, 0}, {REMOVE_DESIRED, 0}},
     .before = "-E-",
     .err = OK,
     .evac = GONE},
    /* B's copy is not A's to remove */
    {.name = "running_step3_no_ordinary_evacuating_other_cell_drops",
     .prefix = "eru-noord-b",
     .call = C_RUNNING,
     .instances = 1,
     .setup = {{DANCE_B, 0}, {REMOVE_DESIRED, 0}},
     .before = "-E-",
     .err = OK},
    /* only an EVACUATING target is removed (quirk in 4.3 step 3); the suspect stays */
    {.name = "running_step3_no_ordinary_suspect_this_cell_drops",
     .prefix = "eru-noord-susp",
     .call = C_RUNNING,
     .instances = 1,
     .setup = {{RUN_A, 0}, {SUSPECT_ALONE, 0}},
     .before = "--S",
     .err = OK},
    /* step 3: the replacement (ordinary on B) is RUNNING or CRASHED: A's copy goes, keep
     * false. With a copy, crash count 2 first, so one crash of the replacement leaves it
     * CRASHED. */
    {.name = "running_step3_ordinary_running_other_cell_evacuating_this_cell_removed",
     .prefix = "eru-ordrun-evac",
     .call = C_RUNNING,
     .instances = 1,
     .setup = {{CRASH_A, 0}, {CRASH_A, 0}, {DANCE_A, 0}, {RUN_B_KEEP_EVAC, 0}},
     .before = "OE-",
     .ord_before = "RUNNING",
     .err = OK,
     .evac = GONE},
    {.name = "running_step3_ordinary_running_other_cell_no_target_drops",
     .prefix = "eru-ordrun-none",
     .call = C_RUNNING,
     .instances = 1,
     .setup = S0(RUN_B),
     .before = "O--",
     .ord_before = "RUNNING",
     .err = OK},
    {.name = "running_step3_ordinary_crashed_evacuating_this_cell_removed",
     .prefix = "eru-ordcr-evac",
     .call = C_RUNNING,
     .instances = 1,
     .setup = {{CRASH_A, 0}, {CRASH_A, 0}, {DANCE_A, 0}, {CLAIM_CRASH_B, 0}},
     .before = "OE-",
     .ord_before = "CRASHED",
     .err = OK,
     .evac = GONE},
    {.name = "running_step3_ordinary_crashed_no_target_drops",
     .prefix = "eru-ordcr-none",
     .call = C_RUNNING,
     .instances = 1,
     .setup = S0(CRASHED_B),
     .before = "O--",
     .ord_before = "CRASHED",
     .err = OK},
    {.name = "running_step3_recreate_ordinary_running_other_cell_no_target_drops",
     .prefix = "eru-ordrun-recr",
     .call = C_RUNNING,
     .strategy = RECREATE,
     .instances = 1,
     .setup = S0(RUN_B),
     .before = "O--",
     .ord_before = "RUNNING",
     .err = OK},
    {.name = "running_step3_recreate_ordinary_crashed_evacuating_this_cell_removed",
     .prefix = "eru-ordcr-recr",
     .call = C_RUNNING,
     .strategy = RECREATE,
     .instances = 1,
     .setup = {{CRASH_A, 0}, {CRASH_A, 0}, {DANCE_A, 0}, {CLAIM_CRASH_B, 0}},
     .before = "OE-",
     .ord_before = "CRASHED",
     .err = OK,
     .evac = GONE},
    {.name = "running_step3_recreate_ordinary_running_other_cell_evacuating_this_cell_removed",
     .prefix = "eru-ordrun-evac-recr",
     .call = C_RUNNING,
     .strategy = RECREATE,
     .instances = 1,
     .setup = {{CRASH_A, 0}, {CRASH_A, 0}, {DANCE_A, 0}, {RUN_B_KEEP_EVAC, 0}},
     .before = "OE-",
     .ord_before = "RUNNING",
     .err = OK,
     .evac = GONE},
    {.name = "running_step3_recreate_ordinary_crashed_no_target_drops",
     .prefix = "eru-ordcr-none-recr",
     .call = C_RUNNING,
     .strategy = RECREATE,
     .instances = 1,
     .setup = S0(CRASHED_B),
     .before = "O--",
     .ord_before = "CRASHED",
     .err = OK},
    /* "success or ActualLRPCannotBeRemoved -> (no error, false)"; a delete failure of
     * "remove evacuating" is ActualLRPCannotBeRemoved (4, 4.3 step 3) */
    {.name = "running_step3_evacuating_delete_fails_drops",
     .prefix = "eru-evac-fault",
     .call = C_RUNNING,
     .instances = 1,
     .setup = {{DANCE_A, 0}, {REMOVE_DESIRED, 0}},
     .fault = FAULT("DELETE", P_EVAC, "fail"),
     .err = OK},
    /* step 4: a start without any desired LRP inserts the row (3.4); the ordinary target is
     * not removed */
    {.name = "running_step4_desired_missing_ordinary_running_this_cell_drops",
     .prefix = "eru-nodesired",
     .call = C_RUNNING,
     .instances = NO_DESIRED,
     .setup = S0(RUN_A),
     .err = OK},
    {.name = "running_step4_desired_removed_ordinary_running_this_cell_drops",
     .prefix = "eru-rmdesired-run",
     .call = C_RUNNING,
     .instances = 1,
     .setup = {{RUN_A, 0}, {REMOVE_DESIRED, 0}},
     .before = "O--",
     .err = OK},
    /* the CLAIMED replacement survives the removal */
    {.name = "running_step4_desired_removed_evacuating_this_cell_removed",
     .prefix = "eru-rmdesired-evac",
     .call = C_RUNNING,
     .instances = 1,
     .setup = {{DANCE_A, 0}, {CLAIM_B, 0}, {REMOVE_DESIRED, 0}},
     .ord_before = "CLAIMED",
     .err = OK,
     .evac = GONE},
};

/* ---- 4.3 evacuate_running, step 5: RECREATE (never creates EVACUATING rows) ---- */

static const struct evac_case recreate_cases[] = {
    {.name = "running_recreate_no_target_ordinary_unclaimed_drops",
     .prefix = "erc-none-uncl",
     .call = C_RUNNING,
     .strategy = RECREATE,
     .instances = 1,
     .ord_before = "UNCLAIMED",
     .err = OK},
    {.name = "running_recreate_no_target_ordinary_claimed_other_cell_drops",
     .prefix = "erc-none-claimed-b",
     .call = C_RUNNING,
     .strategy = RECREATE,
     .instances = 1,
     .setup = S0(CLAIM_B),
     .ord_before = "CLAIMED",
     .err = OK},
    {.name = "running_recreate_evacuating_this_cell_removed",
     .prefix = "erc-evac-a",
     .call = C_RUNNING,
     .strategy = RECREATE,
     .instances = 1,
     .setup = S0(DANCE_A),
     .err = OK,
     .evac = GONE},
    {.name = "running_recreate_evacuating_other_cell_drops",
     .prefix = "erc-evac-b",
     .call = C_RUNNING,
     .strategy = RECREATE,
     .instances = 1,
     .setup = S0(DANCE_B),
     .err = OK},
    {.name = "running_recreate_suspect_this_cell_removed",
     .prefix = "erc-susp",
     .call = C_RUNNING,
     .strategy = RECREATE,
     .instances = 1,
     .setup = {{RUN_A, 0}, {SUSPECT, 0}},
     .err = OK,
     .susp = GONE},
    {.name = "running_recreate_suspect_delete_fails_keeps",
     .prefix = "erc-susp-fault",
     .call = C_RUNNING,
     .strategy = RECREATE,
     .instances = 1,
     .setup = {{RUN_A, 0}, {SUSPECT, 0}},
     .fault = FAULT("DELETE", P_SUSP, "fail"),
     .err = E(UnknownError),
     .keep = 1},
    /* target is A's ordinary: handed back only while every instance runs; the deprecated
     * route decides the same */
    {.name = "running_recreate_ordinary_running_all_running_unclaimed_auction",
     .prefix = "erc-run-all",
     .call = C_RUNNING0,
     .strategy = RECREATE,
     .instances = 2,
     .setup = {{START_FULL_A, 0}, {RUN_B, 1}},
     .err = OK,
     .ord = UNCLAIMED,
     .auction = 1},
    /* index 1 stays UNCLAIMED */
    {.name = "running_recreate_ordinary_running_not_all_running_keeps",
     .prefix = "erc-run-notall",
     .call = C_RUNNING,
     .strategy = RECREATE,
     .instances = 2,
     .setup = S0(RUN_A),
     .err = OK,
     .keep = 1},
    {.name = "running_recreate_ordinary_claimed_not_all_running_keeps",
     .prefix = "erc-claimed-notall",
     .call = C_RUNNING,
     .strategy = RECREATE,
     .instances = 1,
     .setup = S0(CLAIM_A),
     .err = OK,
     .keep = 1},
    /* 2 desired; index 0 CLAIMED on A, indices 1 and 2 RUNNING (a start of index 2 inserts
     * it, 3.4): 2 RUNNING ordinary rows >= 2 desired */
    {.name = "running_recreate_ordinary_claimed_all_running_unclaimed_auction",
     .prefix = "erc-claimed-all",
     .call = C_RUNNING,
     .strategy = RECREATE,
     .instances = 2,
     .setup = {{CLAIM_A, 0}, {RUN_B, 1}, {RUN_C, 2}},
     .err = OK,
     .ord = UNCLAIMED,
     .auction = 1},
    {.name = "running_recreate_unclaim_db_error_keeps",
     .prefix = "erc-unclaim-fault",
     .call = C_RUNNING,
     .strategy = RECREATE,
     .instances = 1,
     .setup = S0(RUN_A),
     .fault = FAULT("UPDATE", P_ORD, "fail"),
     .err = E(UnknownError),
     .keep = 1},
};

/* ---- 4.3 evacuate_running, step 6: ROLLING ---- */

static const struct evac_case rolling_cases[] = {
    /* target none: an EVACUATING row built entirely from the request (observed upstream) */
    {.name = "running_rolling_no_target_ordinary_unclaimed_creates_evacuating",
     .prefix = "erl-none-uncl",
     .call = C_RUNNING,
     .instances = 1,
     .ord_before = "UNCLAIMED",
     .req = &REQ_CREATE,
     .err = OK,
     .keep = 1,
     .evac = FROM_REQUEST},
    {.name = "running_rolling_no_target_ordinary_claimed_other_cell_creates_evacuating",
     .prefix = "erl-none-claimed-b",
     .call = C_RUNNING,
     .instances = 1,
     .setup = S0(CLAIM_B),
     .ord_before = "CLAIMED",
     .req = &REQ_CREATE,
     .err = OK,
     .keep = 1,
     .evac = FROM_REQUEST},
    {.name = "running_rolling_no_target_evacuating_other_cell_drops",
     .prefix = "erl-evac-b",
     .call = C_RUNNING,
     .instances = 1,
     .setup = S0(DANCE_B),
     .err = OK},
    {.name = "running_rolling_create_evacuating_db_error_keeps",
     .prefix = "erl-create-fault",
     .call = C_RUNNING,
     .instances = 1,
     .fault = FAULT("INSERT", P_EVAC, "fail"),
     .err = E(UnknownError),
     .keep = 1},
    /* quirk 19: the copy of a CLAIMED instance is RUNNING with empty net info */
    {.name = "running_rolling_ordinary_claimed_this_cell_dance_quirk19",
     .prefix = "erl-dance-claimed",
     .call = C_RUNNING,
     .instances = 1,
     .setup = S0(CLAIM_A),
     .req = &REQ_DANCE_CLAIMED,
     .err = OK,
     .keep = 1,
     .ord = UNCLAIMED,
     .evac = COPY,
     .auction = 1},
    /* dance step 1 fails with ResourceExists -> (error, true), nothing else done */
    {.name = "running_rolling_ordinary_running_this_cell_identical_evacuating_exists",
     .prefix = "erl-dance-exists",
     .call = C_RUNNING,
     .instances = 1,
     .setup = {{RUN_A, 0}, {COPY_AS_EVAC, 0}},
     .before = "OE-",
     .err = E(ResourceExists),
     .keep = 1},
    /* from a SUSPECT target: the ordinary replacement already exists, untouched, no auction */
    {.name = "running_rolling_suspect_running_this_cell_dance",
     .prefix = "erl-susp-run",
     .call = C_RUNNING,
     .instances = 1,
     .setup = {{START_FULL_A, 0}, {SUSPECT, 0}},
     .before = "O-S",
     .req = &REQ_DANCE,
     .err = OK,
     .keep = 1,
     .evac = COPY,
     .susp = GONE},
    {.name = "running_rolling_suspect_claimed_this_cell_dance",
     .prefix = "erl-susp-claimed",
     .call = C_RUNNING,
     .instances = 1,
     .setup = {{CLAIM_A, 0}, {SUSPECT, 0}},
     .before = "O-S",
     .req = &REQ_DANCE,
     .err = OK,
     .keep = 1,
     .evac = COPY,
     .susp = GONE},
    /* a failure in one of the dance's writes: (error, true), no auction; the target is still
     * there, unchanged in state and owner */
    {.name = "running_rolling_dance_create_evacuating_db_error_keeps",
     .prefix = "erl-dance-insfault",
     .call = C_RUNNING,
     .instances = 1,
     .setup = S0(RUN_A),
     .fault = FAULT("INSERT", P_EVAC, "fail"),
     .err = E(UnknownError),
     .keep = 1,
     .ord = KEPT_A,
     .evac = ANY,
     .susp = ANY},
    {.name = "running_rolling_dance_unclaim_db_error_keeps",
     .prefix = "erl-dance-updfault",
     .call = C_RUNNING,
     .instances = 1,
     .setup = S0(RUN_A),
     .fault = FAULT("UPDATE", P_ORD, "fail"),
     .err = E(UnknownError),
     .keep = 1,
     .ord = KEPT_A,
     .evac = ANY,
     .susp = ANY},
    {.name = "running_rolling_dance_suspect_delete_db_error_keeps",
     .prefix = "erl-dance-susfault",
     .call = C_RUNNING,
     .instances = 1,
     .setup = {{RUN_A, 0}, {SUSPECT, 0}},
     .fault = FAULT("DELETE", P_SUSP, "fail"),
     .err = E(UnknownError),
     .keep = 1,
     .ord = ANY,
     .evac = ANY,
     .susp = KEPT_A},
};

/* ---- 4.4 remove_evacuating ---- */

static const struct evac_case remove_cases[] = {
    {.name = "remove_evacuating_step2_no_rows_not_found",
     .prefix = "erm-no-such-guid",
     .call = C_REMOVE,
     .instances = NO_DESIRED,
     .err = E(ResourceNotFound)},
    {.name = "remove_evacuating_step2_evacuating_other_cell_not_found",
     .prefix = "erm-evac-b",
     .call = C_REMOVE,
     .instances = 1,
     .setup = S0(DANCE_B),
     .err = E(ResourceNotFound)},
    {.name = "remove_evacuating_step3_ordinary_running_this_cell_not_found",
     .prefix = "erm-ord",
     .call = C_REMOVE,
     .instances = 1,
     .setup = S0(RUN_A),
     .err = E(ResourceNotFound)},
    {.name = "remove_evacuating_step3_suspect_this_cell_not_found",
     .prefix = "erm-susp",
     .call = C_REMOVE,
     .instances = 1,
     .setup = {{RUN_A, 0}, {SUSPECT, 0}},
     .err = E(ResourceNotFound)},
    {.name = "remove_evacuating_step4_evacuating_this_cell_removed",
     .prefix = "erm-evac-a",
     .call = C_REMOVE,
     .instances = 1,
     .setup = {{DANCE_A, 0}, {CLAIM_B, 0}},
     .err = OK,
     .evac = GONE,
     .also = also_removed_once},
    {.name = "remove_evacuating_step4_delete_fails_cannot_be_removed",
     .prefix = "erm-fault",
     .call = C_REMOVE,
     .instances = 1,
     .setup = S0(DANCE_A),
     .fault = FAULT("DELETE", P_EVAC, "fail"),
     .err = E(ActualLRPCannotBeRemoved)},
};

/* ---- step 0: bodies that are not valid encodings (1.2) ---- */

struct decode_case {
    const char *name;
    enum call call;
    int keep;
};

static const struct decode_case decode_cases[] = {
    {"claimed_step0_decode_failure_keeps", C_CLAIMED, 1},
    {"crashed_step0_decode_failure", C_CRASHED, 0},
    {"stopped_step0_decode_failure", C_STOPPED, 0},
    {"running_step0_decode_failure_keeps", C_RUNNING, 1},
    {"running_step0_decode_failure_keeps_deprecated", C_RUNNING0, 1},
    {"remove_evacuating_step0_decode_failure", C_REMOVE, 0},
};

static void test_decode_case(void **state)
{
    const struct decode_case *c = *state;
    const uint8_t *const bodies[2] = {bad_truncated, bad_wire_type};
    const size_t lens[2] = {sizeof(bad_truncated), sizeof(bad_wire_type)};

    if (c->call != C_REMOVE) {
        expect_decode_failure(call_path[c->call], c->keep);
        return;
    }
    /* RemoveEvacuatingActualLRPResponse has no keep_container */
    for (int i = 0; i < 2; i++) {
        struct it_resp r;
        Models__RemoveEvacuatingActualLRPResponse *m;

        it_post_raw(R_REMOVE, bodies[i], lens[i], &r);
        assert_int_equal(r.status, 200);
        m = (Models__RemoveEvacuatingActualLRPResponse *)it_unpack(REMOVE_RESP, r.body, r.len);
        it_resp_free(&r);
        assert_non_null(m);
        it_assert_invalid(m, IT_MSG_INVALID);
        it_free(m);
    }
}

/* ======================================================================================= */
/* Interactions: start of the replacement (3.4 step 5), reads (3.11)                       */
/* ======================================================================================= */

static void test_start_replacement_removes_evacuating_row(void **state)
{
    struct lrp l;
    struct rows rs;
    struct answer a;
    (void)state;

    lrp_new(&l, "eia-start-evac", 1, ROLLING);
    dance(&l, 0, IG_A, CELL_A, ADDR_A);
    claim_on(l.guid, 0, IG_B, CELL_B);
    snap(l.guid, 0, &rs);
    assert_presences(&rs, l.guid, 1, 1, 0); /* a claim does not remove the copy */
    assert_string_equal(rs.p[P_EVAC].state, "RUNNING");
    run_on(l.guid, 0, IG_B, CELL_B, ADDR_B);
    snap(l.guid, 0, &rs);
    assert_presences(&rs, l.guid, 1, 0, 0);
    assert_string_equal(rs.p[P_ORD].state, "RUNNING");
    assert_string_equal(rs.p[P_ORD].cell, CELL_B);
    a = ev_running(l.guid, 0, IG_A, CELL_A, ADDR_A); /* A's next call: drop it */
    expect_answer("evacuate_running.r1", &a, IT_OK, 0);
    assert_int_equal(it_actual_count(l.guid), 1);
    expect_no_auction(&l);
}

static void test_start_replacement_removes_suspect_row(void **state)
{
    struct lrp l;
    struct rows rs;
    (void)state;

    lrp_new(&l, "eia-start-susp", 1, ROLLING);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    make_suspect(l.guid, 0, 1);
    claim_on(l.guid, 0, IG_B, CELL_B);
    snap(l.guid, 0, &rs);
    assert_presences(&rs, l.guid, 1, 0, 1);
    run_on(l.guid, 0, IG_B, CELL_B, ADDR_B);
    snap(l.guid, 0, &rs);
    assert_presences(&rs, l.guid, 1, 0, 0);
    assert_string_equal(rs.p[P_ORD].cell, CELL_B);
    expect_no_auction(&l);
}

static void test_start_replacement_evacuating_delete_fails_start_succeeds(void **state)
{
    struct lrp l;
    struct rows rs;
    int t;
    (void)state;

    lrp_new(&l, "eia-start-evac-fault", 1, ROLLING);
    dance(&l, 0, IG_A, CELL_A, ADDR_A);
    claim_on(l.guid, 0, IG_B, CELL_B);
    fault(l.guid, "DELETE", P_EVAC, "fail");
    t = it_start(l.guid, 0, NULL, IG_B, CELL_B, ADDR_B);
    faults_clear(l.guid);
    /* 3.4 step 5: the removal comes after the commit; its failures are only logged */
    if (t != IT_OK) {
        fail_msg("start of the replacement: error %s, expected success", err_name(t));
    }
    snap(l.guid, 0, &rs);
    assert_presences(&rs, l.guid, 1, 1, 0);
    assert_string_equal(rs.p[P_ORD].state, "RUNNING");
    assert_string_equal(rs.p[P_ORD].cell, CELL_B);
    /* A's next call removes its copy (4.3 step 3) */
    expect_dropped_evacuating_removed(&l, 0, R_RUNNING);
    expect_no_auction(&l);
}

static size_t count_where(const char *guid, const char *domain, const char *cell, int32_t index,
                          int presence)
{
    Models__ActualLRPsResponse *r = list_where(guid, domain, cell, index);
    size_t n = 0;
    for (size_t i = 0; i < r->n_actual_lrps; i++) {
        n += presence < 0 || (int)r->actual_lrps[i]->presence == presence;
    }
    it_free(r);
    return n;
}

static void test_list_filters_apply_to_every_presence(void **state)
{
    struct lrp l;
    Models__ActualLRPsResponse *r;
    (void)state;

    lrp_new(&l, "eia-list", 2, ROLLING);
    dance(&l, 0, IG_A, CELL_A, ADDR_A);
    run_on(l.guid, 1, IG_B, CELL_B, ADDR_B);

    /* cell A: the EVACUATING row of index 0, not its UNCLAIMED ordinary (cell "") */
    r = list_where(l.guid, NULL, CELL_A, -1);
    assert_int_equal(r->n_actual_lrps, 1);
    assert_int_equal(r->actual_lrps[0]->presence, P_EVAC);
    assert_int_equal(r->actual_lrps[0]->actual_lrp_key->index, 0);
    assert_string_equal(r->actual_lrps[0]->actual_lrp_instance_key->cell_id, CELL_A);
    it_free(r);
    assert_int_equal(count_where(l.guid, NULL, CELL_B, -1, P_ORD), 1);
    assert_int_equal(count_where(l.guid, NULL, CELL_B, -1, -1), 1);
    assert_int_equal(count_where(l.guid, NULL, CELL_A, 1, -1), 0);
    assert_int_equal(count_where(l.guid, NULL, CELL_A, 0, -1), 1);
    /* index 0 given explicitly: both presences of index 0 */
    assert_int_equal(count_where(l.guid, NULL, NULL, 0, -1), 2);
    assert_int_equal(count_where(l.guid, NULL, NULL, 0, P_EVAC), 1);
    assert_int_equal(count_where(l.guid, NULL, NULL, 1, -1), 1);
    assert_int_equal(count_where(l.guid, IT_DOMAIN, NULL, -1, -1), 3);
    assert_int_equal(count_where(l.guid, "eia-other-domain", NULL, -1, -1), 0);
    assert_int_equal(count_where(l.guid, IT_DOMAIN, CELL_A, 0, -1), 1);
    assert_int_equal(count_where(l.guid, NULL, NULL, -1, -1), 3);
    expect_no_auction(&l);
}

/* ======================================================================================= */
/* Drain: N instances move from cell A to cell B                                           */
/* ======================================================================================= */

#define DRAIN_N 4

struct drain {
    struct lrp l;
    int a_holds[DRAIN_N];   /* A has not been told to drop it yet */
    int auctioned[DRAIN_N]; /* the stub received its placement request */
    int b_claimed[DRAIN_N];
    int b_started[DRAIN_N];
    char ig_a[DRAIN_N][32];
    char ig_b[DRAIN_N][32];
    int observations;
};

/* Every index has a RUNNING row: A's (ordinary or evacuating) until B's replacement runs. */
static void drain_observe(struct drain *d, const char *when, int32_t about)
{
    Models__ActualLRPsResponse *r = it_list_actuals(d->l.guid);

    d->observations++;
    for (int32_t i = 0; i < DRAIN_N; i++) {
        int running = 0, running_a = 0, running_b = 0;
        for (size_t k = 0; k < r->n_actual_lrps; k++) {
            const Models__ActualLRP *a = r->actual_lrps[k];
            const char *cell = a->actual_lrp_instance_key->cell_id;
            if (a->actual_lrp_key->index != i || strcmp(a->state, "RUNNING") != 0) {
                continue;
            }
            running++;
            running_a += strcmp(cell, CELL_A) == 0;
            running_b += strcmp(cell, CELL_B) == 0 && a->presence == P_ORD;
        }
        if (running == 0) {
            fail_msg("drain, after %s of index %d: index %d has no RUNNING row", when, about, i);
        }
        if (!d->b_started[i] && running_a != 1) {
            fail_msg("drain, after %s of index %d: index %d has %d RUNNING rows on cell A before "
                     "its replacement runs",
                     when, about, i, running_a);
        }
        if (d->b_started[i] && running_b != 1) {
            fail_msg("drain, after %s of index %d: index %d's replacement is not RUNNING on B",
                     when, about, i);
        }
    }
    it_free(r);
}

static void drain_note_auctions(struct drain *d)
{
    json_t *starts = it_auction_starts(d->l.guid);
    for (size_t k = 1; k < json_array_size(starts); k++) { /* element 0: the desire */
        int32_t idx[DRAIN_N + 1];
        size_t n = it_auction_indices(json_array_get(starts, k), idx, DRAIN_N + 1);
        if (n != 1 || idx[0] < 0 || idx[0] >= DRAIN_N) {
            fail_msg("drain: auction element %zu has %zu indices", k, n);
        }
        d->auctioned[idx[0]] = 1;
    }
    json_decref(starts);
}

/* B acts on at most one index per round: claim one, or start one it claimed. */
static int drain_b_step(struct drain *d)
{
    for (int32_t i = 0; i < DRAIN_N; i++) {
        if (d->b_claimed[i] && !d->b_started[i]) {
            run_on(d->l.guid, i, d->ig_b[i], CELL_B, ADDR_B);
            d->b_started[i] = 1;
            drain_observe(d, "B's start", i);
            return 1;
        }
    }
    for (int32_t i = 0; i < DRAIN_N; i++) {
        if (d->auctioned[i] && !d->b_claimed[i]) {
            claim_on(d->l.guid, i, d->ig_b[i], CELL_B);
            d->b_claimed[i] = 1;
            drain_observe(d, "B's claim", i);
            return 1;
        }
    }
    return 0;
}

static void test_drain_rolling_from_cell_a_to_cell_b(void **state)
{
    struct drain *d = calloc(1, sizeof(*d));
    int64_t deadline = it_now_ns() + (int64_t)(it_valgrind() ? 120 : 30) * 1000000000;
    int left = DRAIN_N;
    json_t *starts;
    int32_t seen[DRAIN_N] = {0};
    (void)state;

    assert_non_null(d);
    lrp_new(&d->l, "drain", DRAIN_N, ROLLING);
    for (int32_t i = 0; i < DRAIN_N; i++) {
        snprintf(d->ig_a[i], sizeof(d->ig_a[i]), "ig-a-%d", i);
        snprintf(d->ig_b[i], sizeof(d->ig_b[i]), "ig-b-%d", i);
        run_on(d->l.guid, i, d->ig_a[i], CELL_A, ADDR_A);
        d->a_holds[i] = 1;
    }
    drain_observe(d, "set-up", -1);

    while (left > 0) {
        if (it_now_ns() > deadline) {
            fail_msg("drain: %d indices still held by A after the deadline", left);
        }
        for (int32_t i = 0; i < DRAIN_N; i++) {
            struct answer a;
            if (!d->a_holds[i]) {
                continue;
            }
            a = ev_running(d->l.guid, i, d->ig_a[i], CELL_A, ADDR_A);
            if (a.err != IT_OK) {
                fail_msg("drain: evacuate_running of index %d: error %s \"%s\"", i, err_name(a.err),
                         a.msg);
            }
            if (!a.keep) {
                if (!d->b_started[i]) {
                    fail_msg("drain: A told to drop index %d before its replacement runs", i);
                }
                d->a_holds[i] = 0;
                left--;
            } else if (d->b_started[i]) {
                fail_msg("drain: A told to keep index %d after its replacement runs", i);
            }
            drain_observe(d, "A's evacuate_running", i);
        }
        drain_note_auctions(d);
        if (!drain_b_step(d)) {
            it_sleep_ms(20);
        }
    }

    /* cell A holds nothing; each index runs once, on B */
    assert_int_equal(count_where(d->l.guid, NULL, CELL_A, -1, -1), 0);
    assert_int_equal(it_actual_count(d->l.guid), DRAIN_N);
    for (int32_t i = 0; i < DRAIN_N; i++) {
        struct rows rs;
        snap(d->l.guid, i, &rs);
        assert_presences(&rs, d->l.guid, 1, 0, 0);
        assert_string_equal(rs.p[P_ORD].state, "RUNNING");
        assert_string_equal(rs.p[P_ORD].ig, d->ig_b[i]);
        assert_string_equal(rs.p[P_ORD].cell, CELL_B);
    }

    /* exactly one placement request per index (after the desire's), even after a quiet period */
    d->l.auctions = 1 + DRAIN_N;
    it_sleep_ms(it_quiet_ms());
    auctions_settle(&d->l);
    starts = it_auction_starts(d->l.guid);
    for (size_t k = 1; k < json_array_size(starts); k++) {
        int32_t idx[DRAIN_N + 1];
        size_t n = it_auction_indices(json_array_get(starts, k), idx, DRAIN_N + 1);
        assert_int_equal(n, 1);
        assert_in_range(idx[0], 0, DRAIN_N - 1);
        seen[idx[0]]++;
    }
    json_decref(starts);
    for (int32_t i = 0; i < DRAIN_N; i++) {
        if (seen[i] != 1) {
            fail_msg("drain: index %d was auctioned %d times, expected once", i, seen[i]);
        }
    }
    assert_true(d->observations > 3 * DRAIN_N);
    free(d);
}

/* ======================================================================================= */
/* Last: every auction count once more, after a quiet period                               */
/* ======================================================================================= */

static void test_zz_auction_counts_after_quiet_period(void **state)
{
    (void)state;
    it_sleep_ms(it_quiet_ms());
    for (size_t i = 0; i < g_n_expect; i++) {
        json_t *a = it_auction_starts(g_expect[i].guid);
        size_t n = json_array_size(a);
        json_decref(a);
        if (n != g_expect[i].n) {
            fail_msg("%s: %zu auction elements after a quiet period, expected %zu",
                     g_expect[i].guid, n, g_expect[i].n);
        }
    }
    assert_int_equal(it_auction_bad_requests(), 0);
}

/* Hand-written tests, named without the "test_" prefix like the table rows. */
#define HAND(f) ((struct CMUnitTest){.name = &#f[5], .test_func = (f)})

#define MAX_TESTS 160

static struct CMUnitTest tests[MAX_TESTS];
static size_t n_tests;

static void add(struct CMUnitTest t)
{
    if (n_tests == MAX_TESTS) {
        fprintf(stderr, "test_api_evacuation: more than %d tests\n", MAX_TESTS);
        exit(1);
    }
    tests[n_tests++] = t;
}

static void add_rows(const struct evac_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        add((struct CMUnitTest){
            .name = cases[i].name,
            .test_func = test_case,
            .initial_state = (void *)&cases[i],
        });
    }
}

static void add_decode(enum call call)
{
    for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
        if (decode_cases[i].call == call) {
            add((struct CMUnitTest){
                .name = decode_cases[i].name,
                .test_func = test_decode_case,
                .initial_state = (void *)&decode_cases[i],
            });
        }
    }
}

#define ROWS(cases) add_rows((cases), sizeof(cases) / sizeof((cases)[0]))

int main(void)
{
    /* 4.1 evacuate_claimed */
    add_decode(C_CLAIMED);
    add(HAND(test_claimed_step0_validation_failure_keeps));
    ROWS(claimed_cases);
    /* 4.2 evacuate_crashed */
    add_decode(C_CRASHED);
    add(HAND(test_crashed_step0_validation_failure));
    ROWS(crashed_cases);
    /* 4.2 evacuate_stopped */
    add_decode(C_STOPPED);
    add(HAND(test_stopped_step0_validation_failure));
    ROWS(stopped_cases);
    /* 4.3 evacuate_running, steps 0-4 */
    add_decode(C_RUNNING);
    add_decode(C_RUNNING0);
    add(HAND(test_running_step0_validation_failure_keeps));
    ROWS(running_cases);
    /* 4.3 step 5, RECREATE */
    ROWS(recreate_cases);
    add(HAND(test_running_recreate_one_instance_at_a_time));
    /* 4.3 step 6, ROLLING */
    ROWS(rolling_cases);
    add(HAND(test_running_rolling_evacuating_this_cell_identical_keeps));
    add(HAND(test_running_rolling_evacuating_this_cell_ordinary_unclaimed_updated));
    add(HAND(test_running_rolling_evacuating_this_cell_update_deprecated_clears_routes_tags));
    add(HAND(test_running_rolling_ordinary_running_this_cell_dance));
    add(HAND(test_running_rolling_ordinary_running_this_cell_dance_deprecated));
    add(HAND(test_running_dance_auction_sent_before_answer));
    add(HAND(test_running_rolling_ordinary_claimed_this_cell_evacuating_other_cell_dance));
    /* 4.4 remove_evacuating */
    add_decode(C_REMOVE);
    add(HAND(test_remove_evacuating_step0_validation_failure));
    ROWS(remove_cases);
    /* interactions */
    add(HAND(test_start_replacement_removes_evacuating_row));
    add(HAND(test_start_replacement_evacuating_delete_fails_start_succeeds));
    add(HAND(test_start_replacement_removes_suspect_row));
    add(HAND(test_list_filters_apply_to_every_presence));
    add(HAND(test_drain_rolling_from_cell_a_to_cell_b));
    add(HAND(test_zz_auction_counts_after_quiet_period));

    it_set_name("evacuation");
    return it_main_exit(
        _cmocka_run_group_tests("api_evacuation", tests, n_tests, group_setup, it_group_teardown));
}
