/*
 * test_api_evacuation.c - the evacuation routes over HTTP against a real
 * PostgreSQL (reference 4, with 3.1-3.4, 3.10, 3.11 and quirks 8, 19, 27).
 *
 * Every row of the tables of 4.1 (evacuate_claimed), 4.2 (evacuate_crashed,
 * evacuate_stopped), 4.3 (evacuate_running(.r1), ROLLING and RECREATE) and
 * 4.4 (remove_evacuating) is a named test: the ordinary instance
 * UNCLAIMED, CLAIMED, RUNNING or CRASHED on this cell (A) or another (B),
 * an evacuating row held by A or B, a suspect row, no rows, the desired LRP
 * removed, and decode/validation failures. Each test checks the error type,
 * keep_container, the resulting rows of every presence (through
 * /v1/actual_lrps/list) and the auction requests the stub received. Then
 * the interactions: start of the replacement removes the evacuating and
 * suspect rows (3.4 step 5), list filters apply to every presence (3.11),
 * and a drain of N instances from cell A to cell B.
 *
 * Set-up that no API call can reach is done by SQL on the test's own
 * database (it_db_exec): SUSPECT rows (only convergence makes them; done
 * here exactly as convergence would), a copy of a row as an identical
 * EVACUATING row, switching a desired LRP to RECREATE after its evacuating
 * row exists, and fault injection. The fault trigger (installed by the
 * group setup) makes INSERT/UPDATE/DELETE of actual_lrps rows of a given
 * process guid and presence fail ("fail": RAISE, SQLSTATE P0001, which the
 * server reports as UnknownError, 2.1.1) or silently do nothing ("skip":
 * the BEFORE trigger returns NULL, so e.g. a DELETE affects no row). Only
 * the tested guid is affected. Reading the rows cannot be made to fail per
 * guid (the fixture connects as a superuser, which bypasses row security),
 * so the "reading rows fails" rows (4.1-4.4 step 1) are not covered.
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
/* 4.1 evacuate_claimed                                                                    */
/* ======================================================================================= */

static void test_claimed_step0_decode_failure_keeps(void **state)
{
    (void)state;
    expect_decode_failure(R_CLAIMED, 1);
}

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

static void test_claimed_step2_no_rows_not_found(void **state)
{
    struct lrp l;
    struct answer a;
    (void)state;

    lrp_new(&l, "ecl-norows", 1, ROLLING);
    a = ev_claimed(l.guid, 3, IG_A, CELL_A); /* index 3 has no rows */
    expect_answer("evacuate_claimed", &a, E(ResourceNotFound), 0);
    a = ev_claimed("ecl-no-such-guid", 0, IG_A, CELL_A);
    expect_answer("evacuate_claimed", &a, E(ResourceNotFound), 0);
    assert_int_equal(it_actual_count(l.guid), 1);
    expect_no_auction(&l);
}

/* A's request, ordinary in `state` owned by B (CLAIMED/RUNNING) or nobody: no target. */
static void claimed_no_target(const char *prefix, const char *state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;

    lrp_new(&l, prefix, 1, ROLLING);
    if (strcmp(state, "CLAIMED") == 0) {
        claim_on(l.guid, 0, IG_B, CELL_B);
    } else if (strcmp(state, "RUNNING") == 0) {
        run_on(l.guid, 0, IG_B, CELL_B, ADDR_B);
    } else if (strcmp(state, "CRASHED") == 0) {
        make_crashed(&l, 0, IG_A, CELL_A);
    }
    snap(l.guid, 0, &before);
    assert_string_equal(before.p[P_ORD].state, state);
    a = ev_claimed(l.guid, 0, IG_A, CELL_A);
    expect_answer("evacuate_claimed", &a, E(ResourceNotFound), 0);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

static void test_claimed_step2_ordinary_claimed_other_cell_not_found(void **state)
{
    (void)state;
    claimed_no_target("ecl-claimed-b", "CLAIMED");
}

static void test_claimed_step2_ordinary_running_other_cell_not_found(void **state)
{
    (void)state;
    claimed_no_target("ecl-running-b", "RUNNING");
}

static void test_claimed_step2_ordinary_unclaimed_not_found(void **state)
{
    (void)state;
    claimed_no_target("ecl-unclaimed", "UNCLAIMED");
}

static void test_claimed_step2_ordinary_crashed_not_found(void **state)
{
    (void)state;
    claimed_no_target("ecl-crashed", "CRASHED");
}

static void test_claimed_step2_evacuating_other_cell_not_found(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "ecl-evac-b", 1, ROLLING);
    dance(&l, 0, IG_B, CELL_B, ADDR_B);
    snap(l.guid, 0, &before);
    a = ev_claimed(l.guid, 0, IG_A, CELL_A);
    expect_answer("evacuate_claimed", &a, E(ResourceNotFound), 0);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

static void test_claimed_step3_evacuating_this_cell_removed(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "ecl-evac-a", 1, ROLLING);
    dance(&l, 0, IG_A, CELL_A, ADDR_A);
    snap(l.guid, 0, &before);
    a = ev_claimed(l.guid, 0, IG_A, CELL_A);
    expect_answer("evacuate_claimed", &a, IT_OK, 0);
    snap(l.guid, 0, &after);
    assert_presences(&after, l.guid, 1, 0, 0);
    assert_same_row("ordinary", &before.p[P_ORD], &after.p[P_ORD]);
    expect_no_auction(&l);
}

static void test_claimed_step3_evacuating_delete_fails_cannot_be_removed(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "ecl-evac-fault", 1, ROLLING);
    dance(&l, 0, IG_A, CELL_A, ADDR_A);
    snap(l.guid, 0, &before);
    fault(l.guid, "DELETE", P_EVAC, "fail");
    a = ev_claimed(l.guid, 0, IG_A, CELL_A);
    faults_clear(l.guid);
    /* 4.1 step 3 with "remove evacuating": a delete failure is ActualLRPCannotBeRemoved */
    expect_answer("evacuate_claimed", &a, E(ActualLRPCannotBeRemoved), 0);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

static void test_claimed_step3p_suspect_this_cell_removed(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "ecl-susp", 1, ROLLING);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    make_suspect(l.guid, 0, 1);
    snap(l.guid, 0, &before);
    assert_presences(&before, l.guid, 1, 0, 1);
    a = ev_claimed(l.guid, 0, IG_A, CELL_A);
    expect_answer("evacuate_claimed", &a, IT_OK, 0);
    snap(l.guid, 0, &after);
    assert_presences(&after, l.guid, 1, 0, 0);
    assert_same_row("replacement ordinary", &before.p[P_ORD], &after.p[P_ORD]);
    expect_no_auction(&l);
}

static void test_claimed_step3p_suspect_delete_fails_error(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "ecl-susp-fault", 1, ROLLING);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    make_suspect(l.guid, 0, 1);
    snap(l.guid, 0, &before);
    fault(l.guid, "DELETE", P_SUSP, "fail");
    a = ev_claimed(l.guid, 0, IG_A, CELL_A);
    faults_clear(l.guid);
    /* 4.1 step 3': "delete the SUSPECT row; error -> that error", keep false */
    expect_answer("evacuate_claimed", &a, E(UnknownError), 0);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

/* 4.1 step 4 from CLAIMED or RUNNING on this cell: unclaim + auction, keep false. */
static void claimed_unclaims(const char *prefix, int running)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    int64_t t0, t1;

    lrp_new(&l, prefix, 2, ROLLING);
    /* a crash first, so the kept crash count is visible */
    run_on(l.guid, 1, IG_A, CELL_A, ADDR_A);
    assert_int_equal(it_crash(l.guid, 1, NULL, IG_A, CELL_A, "first"), IT_OK);
    l.auctions++;
    if (running) {
        start_full(l.guid, 1, IG_A, CELL_A, ADDR_A, 0, "z-a");
    } else {
        claim_on(l.guid, 1, IG_A, CELL_A);
    }
    snap(l.guid, 1, &before);
    assert_string_equal(before.p[P_ORD].state, running ? "RUNNING" : "CLAIMED");
    t0 = it_now_ns();
    a = ev_claimed(l.guid, 1, IG_A, CELL_A);
    t1 = it_now_ns();
    expect_answer("evacuate_claimed", &a, IT_OK, 0);
    snap(l.guid, 1, &after);
    assert_presences(&after, l.guid, 1, 0, 0);
    assert_unclaimed_from("ordinary", &before.p[P_ORD], &after.p[P_ORD], t0, t1);
    assert_int_equal(after.p[P_ORD].crash_count, 1);
    expect_auction(&l, 1);
}

static void test_claimed_step4_ordinary_claimed_this_cell_unclaimed_auction(void **state)
{
    (void)state;
    claimed_unclaims("ecl-claimed-a", 0);
}

static void test_claimed_step4_ordinary_running_this_cell_unclaimed_auction(void **state)
{
    (void)state;
    claimed_unclaims("ecl-running-a", 1);
}

static void test_claimed_step4_desired_removed_unclaimed_no_auction(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    int64_t t0, t1;
    (void)state;

    lrp_new(&l, "ecl-nodesired", 1, ROLLING);
    claim_on(l.guid, 0, IG_A, CELL_A);
    assert_int_equal(it_remove_desired(l.guid), IT_OK);
    snap(l.guid, 0, &before);
    assert_presences(&before, l.guid, 1, 0, 0); /* a CLAIMED row on an unknown cell stays (5.6) */
    t0 = it_now_ns();
    a = ev_claimed(l.guid, 0, IG_A, CELL_A);
    t1 = it_now_ns();
    expect_answer("evacuate_claimed", &a, IT_OK, 0);
    snap(l.guid, 0, &after);
    assert_unclaimed_from("ordinary", &before.p[P_ORD], &after.p[P_ORD], t0, t1);
    expect_no_auction(&l); /* no scheduling info to auction with; only logged */
}

static void test_claimed_step4b_unclaim_db_error_keeps(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "ecl-unclaim-fault", 1, ROLLING);
    claim_on(l.guid, 0, IG_A, CELL_A);
    snap(l.guid, 0, &before);
    fault(l.guid, "UPDATE", P_ORD, "fail");
    a = ev_claimed(l.guid, 0, IG_A, CELL_A);
    faults_clear(l.guid);
    expect_answer("evacuate_claimed", &a, E(UnknownError), 1);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

/* ======================================================================================= */
/* 4.2 evacuate_crashed                                                                    */
/* ======================================================================================= */

static void test_crashed_step0_decode_failure(void **state)
{
    (void)state;
    expect_decode_failure(R_CRASHED, 0);
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

static void test_crashed_step2_no_rows_not_found(void **state)
{
    struct lrp l;
    struct answer a;
    (void)state;

    lrp_new(&l, "ecr-norows", 1, ROLLING);
    a = ev_crashed(l.guid, 4, IG_A, CELL_A, "boom");
    expect_answer("evacuate_crashed", &a, E(ResourceNotFound), 0);
    assert_int_equal(it_actual_count(l.guid), 1);
    expect_no_auction(&l);
}

static void crashed_no_target(const char *prefix, const char *state, int evac_b)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;

    lrp_new(&l, prefix, 1, ROLLING);
    if (evac_b) {
        dance(&l, 0, IG_B, CELL_B, ADDR_B);
    }
    if (strcmp(state, "CLAIMED") == 0) {
        claim_on(l.guid, 0, IG_B, CELL_B);
    } else if (strcmp(state, "RUNNING") == 0) {
        run_on(l.guid, 0, IG_B, CELL_B, ADDR_B);
    } else if (strcmp(state, "CRASHED") == 0) {
        make_crashed(&l, 0, IG_A, CELL_A);
    }
    snap(l.guid, 0, &before);
    assert_string_equal(before.p[P_ORD].state, state);
    a = ev_crashed(l.guid, 0, IG_A, CELL_A, "boom");
    expect_answer("evacuate_crashed", &a, E(ResourceNotFound), 0);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

static void test_crashed_step2_ordinary_claimed_other_cell_not_found(void **state)
{
    (void)state;
    crashed_no_target("ecr-claimed-b", "CLAIMED", 0);
}

static void test_crashed_step2_ordinary_running_other_cell_not_found(void **state)
{
    (void)state;
    crashed_no_target("ecr-running-b", "RUNNING", 0);
}

static void test_crashed_step2_ordinary_unclaimed_not_found(void **state)
{
    (void)state;
    crashed_no_target("ecr-unclaimed", "UNCLAIMED", 0);
}

static void test_crashed_step2_ordinary_crashed_not_found(void **state)
{
    (void)state;
    crashed_no_target("ecr-crashed", "CRASHED", 0);
}

static void test_crashed_step2_evacuating_other_cell_not_found(void **state)
{
    (void)state;
    crashed_no_target("ecr-evac-b", "UNCLAIMED", 1);
}

static void test_crashed_step3_evacuating_this_cell_removed(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "ecr-evac-a", 1, ROLLING);
    dance(&l, 0, IG_A, CELL_A, ADDR_A);
    claim_on(l.guid, 0, IG_B, CELL_B); /* the replacement is being placed */
    snap(l.guid, 0, &before);
    a = ev_crashed(l.guid, 0, IG_A, CELL_A, "boom");
    expect_answer("evacuate_crashed", &a, IT_OK, 0);
    snap(l.guid, 0, &after);
    assert_presences(&after, l.guid, 1, 0, 0);
    assert_same_row("ordinary", &before.p[P_ORD], &after.p[P_ORD]);
    expect_no_auction(&l);
}

static void test_crashed_step3_evacuating_delete_fails_cannot_be_removed(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "ecr-evac-fault", 1, ROLLING);
    dance(&l, 0, IG_A, CELL_A, ADDR_A);
    snap(l.guid, 0, &before);
    fault(l.guid, "DELETE", P_EVAC, "fail");
    a = ev_crashed(l.guid, 0, IG_A, CELL_A, "boom");
    faults_clear(l.guid);
    expect_answer("evacuate_crashed", &a, E(ActualLRPCannotBeRemoved), 0);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

static void test_crashed_step3_suspect_this_cell_removed(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "ecr-susp", 1, ROLLING);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    make_suspect(l.guid, 0, 1);
    snap(l.guid, 0, &before);
    a = ev_crashed(l.guid, 0, IG_A, CELL_A, "boom");
    expect_answer("evacuate_crashed", &a, IT_OK, 0);
    snap(l.guid, 0, &after);
    assert_presences(&after, l.guid, 1, 0, 0);
    assert_same_row("replacement ordinary", &before.p[P_ORD], &after.p[P_ORD]);
    expect_no_auction(&l);
}

/* 4.2 step 4, immediate restart: UNCLAIMED, count + 1, and no auction (quirk 8). */
static void crashed_restarts(const char *prefix, int running, int remove_desired)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    int64_t t0, t1;

    lrp_new(&l, prefix, 1, ROLLING);
    if (running) {
        start_full(l.guid, 0, IG_A, CELL_A, ADDR_A, 0, "z-a");
    } else {
        claim_on(l.guid, 0, IG_A, CELL_A);
    }
    if (remove_desired) {
        assert_int_equal(it_remove_desired(l.guid), IT_OK);
    }
    snap(l.guid, 0, &before);
    t0 = it_now_ns();
    a = ev_crashed(l.guid, 0, IG_A, CELL_A, "evacuation crash");
    t1 = it_now_ns();
    /* no crash error either when the desired LRP is gone (unlike /crash, quirk 7) */
    expect_answer("evacuate_crashed", &a, IT_OK, 0);
    snap(l.guid, 0, &after);
    assert_presences(&after, l.guid, 1, 0, 0);
    same_str("ordinary", "state", "UNCLAIMED", after.p[P_ORD].state);
    same_str("ordinary", "instance_guid", "", after.p[P_ORD].ig);
    same_str("ordinary", "cell_id", "", after.p[P_ORD].cell);
    assert_empty_net("ordinary", &after.p[P_ORD]);
    same_int("ordinary", "crash_count", 1, after.p[P_ORD].crash_count);
    same_str("ordinary", "crash_reason", "evacuation crash", after.p[P_ORD].crash_reason);
    assert_since_in("ordinary", &after.p[P_ORD], t0, t1);
    same_int("ordinary", "modification index", before.p[P_ORD].mod_index + 1,
             after.p[P_ORD].mod_index);
    same_str("ordinary", "epoch", before.p[P_ORD].epoch, after.p[P_ORD].epoch);
    same_int("ordinary", "routable", before.p[P_ORD].routable, after.p[P_ORD].routable);
    same_int("ordinary", "internal routes", (long long)before.p[P_ORD].n_routes,
             (long long)after.p[P_ORD].n_routes);
    expect_no_auction(&l);
}

static void test_crashed_step4_ordinary_running_this_cell_restart_no_auction(void **state)
{
    (void)state;
    crashed_restarts("ecr-running-a", 1, 0);
}

static void test_crashed_step4_ordinary_claimed_this_cell_restart_no_auction(void **state)
{
    (void)state;
    crashed_restarts("ecr-claimed-a", 0, 0);
}

static void test_crashed_step4_desired_removed_running_this_cell(void **state)
{
    (void)state;
    crashed_restarts("ecr-nodesired", 1, 1);
}

static void test_crashed_step4_ordinary_running_third_crash_crashed(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    int64_t t0, t1;
    (void)state;

    lrp_new(&l, "ecr-third", 1, ROLLING);
    for (int i = 0; i < 2; i++) {
        run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
        assert_int_equal(it_crash(l.guid, 0, NULL, IG_A, CELL_A, "boom"), IT_OK);
    }
    l.auctions += 2;
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    snap(l.guid, 0, &before);
    assert_int_equal(before.p[P_ORD].crash_count, 2);
    t0 = it_now_ns();
    a = ev_crashed(l.guid, 0, IG_A, CELL_A, "third");
    t1 = it_now_ns();
    expect_answer("evacuate_crashed", &a, IT_OK, 0);
    snap(l.guid, 0, &after);
    same_str("ordinary", "state", "CRASHED", after.p[P_ORD].state);
    same_str("ordinary", "instance_guid", "", after.p[P_ORD].ig);
    assert_empty_net("ordinary", &after.p[P_ORD]);
    same_int("ordinary", "crash_count", 3, after.p[P_ORD].crash_count);
    same_str("ordinary", "crash_reason", "third", after.p[P_ORD].crash_reason);
    assert_since_in("ordinary", &after.p[P_ORD], t0, t1);
    same_int("ordinary", "modification index", before.p[P_ORD].mod_index + 1,
             after.p[P_ORD].mod_index);
    expect_no_auction(&l);
}

static void test_crashed_step4_crash_db_error(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "ecr-fault", 1, ROLLING);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    snap(l.guid, 0, &before);
    fault(l.guid, "UPDATE", P_ORD, "fail");
    a = ev_crashed(l.guid, 0, IG_A, CELL_A, "boom");
    faults_clear(l.guid);
    expect_answer("evacuate_crashed", &a, E(UnknownError), 0);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

/* ======================================================================================= */
/* 4.2 evacuate_stopped                                                                    */
/* ======================================================================================= */

static void test_stopped_step0_decode_failure(void **state)
{
    (void)state;
    expect_decode_failure(R_STOPPED, 0);
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

static void test_stopped_step2_no_rows_not_found(void **state)
{
    struct lrp l;
    struct answer a;
    (void)state;

    lrp_new(&l, "est-norows", 1, ROLLING);
    a = ev_stopped(l.guid, 2, IG_A, CELL_A);
    expect_answer("evacuate_stopped", &a, E(ResourceNotFound), 0);
    assert_int_equal(it_actual_count(l.guid), 1);
    expect_no_auction(&l);
}

static void stopped_no_target(const char *prefix, const char *state, int evac_b)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;

    lrp_new(&l, prefix, 1, ROLLING);
    if (evac_b) {
        dance(&l, 0, IG_B, CELL_B, ADDR_B);
    }
    if (strcmp(state, "CLAIMED") == 0) {
        claim_on(l.guid, 0, IG_B, CELL_B);
    } else if (strcmp(state, "RUNNING") == 0) {
        run_on(l.guid, 0, IG_B, CELL_B, ADDR_B);
    } else if (strcmp(state, "CRASHED") == 0) {
        make_crashed(&l, 0, IG_A, CELL_A);
    }
    snap(l.guid, 0, &before);
    assert_string_equal(before.p[P_ORD].state, state);
    a = ev_stopped(l.guid, 0, IG_A, CELL_A);
    expect_answer("evacuate_stopped", &a, E(ResourceNotFound), 0);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

static void test_stopped_step2_ordinary_claimed_other_cell_not_found(void **state)
{
    (void)state;
    stopped_no_target("est-claimed-b", "CLAIMED", 0);
}

static void test_stopped_step2_ordinary_running_other_cell_not_found(void **state)
{
    (void)state;
    stopped_no_target("est-running-b", "RUNNING", 0);
}

static void test_stopped_step2_ordinary_unclaimed_not_found(void **state)
{
    (void)state;
    stopped_no_target("est-unclaimed", "UNCLAIMED", 0);
}

static void test_stopped_step2_ordinary_crashed_not_found(void **state)
{
    (void)state;
    stopped_no_target("est-crashed", "CRASHED", 0);
}

static void test_stopped_step2_evacuating_other_cell_not_found(void **state)
{
    (void)state;
    stopped_no_target("est-evac-b", "CLAIMED", 1);
}

static void test_stopped_step3_evacuating_this_cell_removed(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "est-evac-a", 1, ROLLING);
    dance(&l, 0, IG_A, CELL_A, ADDR_A);
    snap(l.guid, 0, &before);
    a = ev_stopped(l.guid, 0, IG_A, CELL_A);
    expect_answer("evacuate_stopped", &a, IT_OK, 0);
    snap(l.guid, 0, &after);
    assert_presences(&after, l.guid, 1, 0, 0);
    assert_same_row("ordinary", &before.p[P_ORD], &after.p[P_ORD]);
    expect_no_auction(&l);
}

static void test_stopped_step3_evacuating_delete_fails_cannot_be_removed(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "est-evac-fault", 1, ROLLING);
    dance(&l, 0, IG_A, CELL_A, ADDR_A);
    snap(l.guid, 0, &before);
    fault(l.guid, "DELETE", P_EVAC, "fail");
    a = ev_stopped(l.guid, 0, IG_A, CELL_A);
    faults_clear(l.guid);
    expect_answer("evacuate_stopped", &a, E(ActualLRPCannotBeRemoved), 0);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

static void test_stopped_step3_suspect_this_cell_removed(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "est-susp", 1, ROLLING);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    make_suspect(l.guid, 0, 1);
    snap(l.guid, 0, &before);
    a = ev_stopped(l.guid, 0, IG_A, CELL_A);
    expect_answer("evacuate_stopped", &a, IT_OK, 0);
    snap(l.guid, 0, &after);
    assert_presences(&after, l.guid, 1, 0, 0);
    assert_same_row("replacement ordinary", &before.p[P_ORD], &after.p[P_ORD]);
    expect_no_auction(&l);
}

static void stopped_deletes(const char *prefix, int running, int remove_desired)
{
    struct lrp l;
    struct answer a;

    lrp_new(&l, prefix, 2, ROLLING);
    if (running) {
        run_on(l.guid, 1, IG_A, CELL_A, ADDR_A);
    } else {
        claim_on(l.guid, 1, IG_A, CELL_A);
    }
    run_on(l.guid, 0, IG_B, CELL_B, ADDR_B);
    if (remove_desired) {
        assert_int_equal(it_remove_desired(l.guid), IT_OK);
    }
    a = ev_stopped(l.guid, 1, IG_A, CELL_A);
    expect_answer("evacuate_stopped", &a, IT_OK, 0);
    assert_int_equal(it_actual_count(l.guid), 1); /* only index 0 on B is left */
    it_assert_state(l.guid, 0, "RUNNING", NULL);
    expect_no_auction(&l);
}

static void test_stopped_step4_ordinary_running_this_cell_deleted(void **state)
{
    (void)state;
    stopped_deletes("est-running-a", 1, 0);
}

static void test_stopped_step4_ordinary_claimed_this_cell_deleted(void **state)
{
    (void)state;
    stopped_deletes("est-claimed-a", 0, 0);
}

static void test_stopped_step4_desired_removed_running_this_cell_deleted(void **state)
{
    (void)state;
    stopped_deletes("est-nodesired", 1, 1);
}

static void test_stopped_step4_none_deleted_not_found(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "est-skip", 1, ROLLING);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    snap(l.guid, 0, &before);
    fault(l.guid, "DELETE", P_ORD, "skip"); /* the DELETE matches no row */
    a = ev_stopped(l.guid, 0, IG_A, CELL_A);
    faults_clear(l.guid);
    expect_answer("evacuate_stopped", &a, E(ResourceNotFound), 0);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

/* ======================================================================================= */
/* 4.3 evacuate_running: steps 0-4 (both strategies)                                       */
/* ======================================================================================= */

static void test_running_step0_decode_failure_keeps(void **state)
{
    (void)state;
    expect_decode_failure(R_RUNNING, 1);
    expect_decode_failure(R_RUNNING0, 1);
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

static void running_no_rows(const char *prefix, enum strategy s)
{
    struct lrp l;
    struct answer a;
    struct evrun e;

    lrp_new(&l, prefix, 1, s);
    a = ev_running(l.guid, 5, IG_A, CELL_A, ADDR_A); /* index 5 has no rows */
    expect_answer("evacuate_running.r1", &a, IT_OK, 0);
    evrun_init(&e, l.guid, 5, IG_A, CELL_A, ADDR_A);
    a = ev_run(&e, R_RUNNING0);
    expect_answer("evacuate_running", &a, IT_OK, 0);
    a = ev_running("eru-no-such-guid", 0, IG_A, CELL_A, ADDR_A); /* nothing at all */
    expect_answer("evacuate_running.r1", &a, IT_OK, 0);
    assert_int_equal(it_actual_count(l.guid), 1); /* no evacuating row was made */
    assert_int_equal(it_actual_count("eru-no-such-guid"), 0);
    expect_no_auction(&l);
}

static void test_running_step2_rolling_no_rows_drops(void **state)
{
    (void)state;
    running_no_rows("eru-norows-roll", ROLLING);
}

static void test_running_step2_recreate_no_rows_drops(void **state)
{
    (void)state;
    running_no_rows("eru-norows-recr", RECREATE);
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

static void running_no_ordinary_evac_this_cell(const char *prefix, enum strategy s,
                                               const char *path)
{
    struct lrp l;
    struct rows rs;

    lrp_new(&l, prefix, 1, ROLLING);
    dance(&l, 0, IG_A, CELL_A, ADDR_A);
    if (s == RECREATE) {
        set_strategy(l.guid, RECREATE);
    }
    assert_int_equal(it_remove_desired(l.guid), IT_OK);
    snap(l.guid, 0, &rs);
    assert_presences(&rs, l.guid, 0, 1, 0); /* the UNCLAIMED ordinary went, the copy stays */
    expect_dropped_evacuating_removed(&l, 0, path);
    assert_int_equal(it_actual_count(l.guid), 0);
    expect_no_auction(&l);
}

static void test_running_step3_no_ordinary_evacuating_this_cell_removed(void **state)
{
    (void)state;
    running_no_ordinary_evac_this_cell("eru-noord-a", ROLLING, R_RUNNING);
}

static void test_running_step3_no_ordinary_evacuating_this_cell_removed_deprecated(void **state)
{
    (void)state;
    running_no_ordinary_evac_this_cell("eru-noord-a0", ROLLING, R_RUNNING0);
}

static void test_running_step3_recreate_no_ordinary_evacuating_this_cell_removed(void **state)
{
    (void)state;
    running_no_ordinary_evac_this_cell("eru-noord-a-recr", RECREATE, R_RUNNING);
}

static void test_running_step3_no_ordinary_evacuating_other_cell_drops(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "eru-noord-b", 1, ROLLING);
    dance(&l, 0, IG_B, CELL_B, ADDR_B);
    assert_int_equal(it_remove_desired(l.guid), IT_OK);
    snap(l.guid, 0, &before);
    assert_presences(&before, l.guid, 0, 1, 0);
    a = ev_running(l.guid, 0, IG_A, CELL_A, ADDR_A);
    expect_answer("evacuate_running.r1", &a, IT_OK, 0);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after); /* B's copy is not A's to remove */
    expect_no_auction(&l);
}

static void test_running_step3_no_ordinary_suspect_this_cell_drops(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "eru-noord-susp", 1, ROLLING);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    make_suspect(l.guid, 0, 0); /* no replacement ordinary */
    snap(l.guid, 0, &before);
    assert_presences(&before, l.guid, 0, 0, 1);
    a = ev_running(l.guid, 0, IG_A, CELL_A, ADDR_A);
    expect_answer("evacuate_running.r1", &a, IT_OK, 0);
    snap(l.guid, 0, &after);
    /* only an EVACUATING target is removed (quirk in 4.3 step 3); the suspect stays */
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

/* The replacement (ordinary on B) is RUNNING or CRASHED: A's copy goes, keep false. */
static void running_replacement_done(const char *prefix, enum strategy s, const char *ord_state,
                                     int evac_a)
{
    struct lrp l;
    struct rows rs;

    lrp_new(&l, prefix, 1, s == RECREATE ? RECREATE : ROLLING);
    if (evac_a) {
        if (s == RECREATE) {
            set_strategy(l.guid, ROLLING);
        }
        /* crash count 2 first, so one more crash of the replacement leaves it CRASHED */
        for (int i = 0; i < 2; i++) {
            run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
            assert_int_equal(it_crash(l.guid, 0, NULL, IG_A, CELL_A, "boom"), IT_OK);
        }
        l.auctions += 2;
        dance(&l, 0, IG_A, CELL_A, ADDR_A);
        if (s == RECREATE) {
            set_strategy(l.guid, RECREATE);
        }
    }
    if (strcmp(ord_state, "RUNNING") == 0) {
        /* B's start removes A's copy (3.4 step 5); make that delete match no
         * row, as when it failed (only logged) or raced this call */
        if (evac_a) {
            fault(l.guid, "DELETE", P_EVAC, "skip");
        }
        run_on(l.guid, 0, IG_B, CELL_B, ADDR_B);
        faults_clear(l.guid);
    } else {
        if (evac_a) {
            claim_on(l.guid, 0, IG_B, CELL_B);
            assert_int_equal(it_crash(l.guid, 0, NULL, IG_B, CELL_B, "replacement"), IT_OK);
        } else {
            make_crashed(&l, 0, IG_B, CELL_B);
        }
    }
    snap(l.guid, 0, &rs);
    assert_string_equal(rs.p[P_ORD].state, ord_state);
    assert_int_equal(rs.p[P_EVAC].found, evac_a);
    expect_dropped_evacuating_removed(&l, 0, R_RUNNING);
    expect_no_auction(&l);
}

static void
test_running_step3_ordinary_running_other_cell_evacuating_this_cell_removed(void **state)
{
    (void)state;
    running_replacement_done("eru-ordrun-evac", ROLLING, "RUNNING", 1);
}

static void test_running_step3_ordinary_running_other_cell_no_target_drops(void **state)
{
    (void)state;
    running_replacement_done("eru-ordrun-none", ROLLING, "RUNNING", 0);
}

static void test_running_step3_ordinary_crashed_evacuating_this_cell_removed(void **state)
{
    (void)state;
    running_replacement_done("eru-ordcr-evac", ROLLING, "CRASHED", 1);
}

static void test_running_step3_ordinary_crashed_no_target_drops(void **state)
{
    (void)state;
    running_replacement_done("eru-ordcr-none", ROLLING, "CRASHED", 0);
}

static void test_running_step3_recreate_ordinary_running_other_cell_no_target_drops(void **state)
{
    (void)state;
    running_replacement_done("eru-ordrun-recr", RECREATE, "RUNNING", 0);
}

static void test_running_step3_recreate_ordinary_crashed_evacuating_this_cell_removed(void **state)
{
    (void)state;
    running_replacement_done("eru-ordcr-recr", RECREATE, "CRASHED", 1);
}

static void
test_running_step3_recreate_ordinary_running_other_cell_evacuating_this_cell_removed(void **state)
{
    (void)state;
    running_replacement_done("eru-ordrun-evac-recr", RECREATE, "RUNNING", 1);
}

static void test_running_step3_recreate_ordinary_crashed_no_target_drops(void **state)
{
    (void)state;
    running_replacement_done("eru-ordcr-none-recr", RECREATE, "CRASHED", 0);
}

static void test_running_step3_evacuating_delete_fails_drops(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "eru-evac-fault", 1, ROLLING);
    dance(&l, 0, IG_A, CELL_A, ADDR_A);
    assert_int_equal(it_remove_desired(l.guid), IT_OK); /* no ordinary row: step 3 */
    snap(l.guid, 0, &before);
    fault(l.guid, "DELETE", P_EVAC, "fail");
    a = ev_running(l.guid, 0, IG_A, CELL_A, ADDR_A);
    faults_clear(l.guid);
    /* "success or ActualLRPCannotBeRemoved -> (no error, false)"; a delete
     * failure of "remove evacuating" is ActualLRPCannotBeRemoved (4, 4.3 step 3) */
    expect_answer("evacuate_running.r1", &a, IT_OK, 0);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

static void test_running_step4_desired_missing_ordinary_running_this_cell_drops(void **state)
{
    char guid[64];
    struct rows before, after;
    struct answer a;
    (void)state;

    /* start without any desired LRP inserts the row (3.4) */
    it_uniq(guid, sizeof(guid), "eru-nodesired");
    run_on(guid, 0, IG_A, CELL_A, ADDR_A);
    snap(guid, 0, &before);
    a = ev_running(guid, 0, IG_A, CELL_A, ADDR_A);
    expect_answer("evacuate_running.r1", &a, IT_OK, 0);
    snap(guid, 0, &after);
    assert_same_rows(guid, &before, &after); /* the ordinary target is not removed */
    fence();
    assert_int_equal(it_auction_posts_for(guid), 0);
}

static void test_running_step4_desired_removed_ordinary_running_this_cell_drops(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "eru-rmdesired-run", 1, ROLLING);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    assert_int_equal(it_remove_desired(l.guid), IT_OK);
    snap(l.guid, 0, &before);
    assert_presences(&before, l.guid, 1, 0, 0);
    a = ev_running(l.guid, 0, IG_A, CELL_A, ADDR_A);
    expect_answer("evacuate_running.r1", &a, IT_OK, 0);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

static void test_running_step4_desired_removed_evacuating_this_cell_removed(void **state)
{
    struct lrp l;
    (void)state;

    lrp_new(&l, "eru-rmdesired-evac", 1, ROLLING);
    dance(&l, 0, IG_A, CELL_A, ADDR_A);
    claim_on(l.guid, 0, IG_B, CELL_B); /* the CLAIMED replacement survives the removal */
    assert_int_equal(it_remove_desired(l.guid), IT_OK);
    expect_dropped_evacuating_removed(&l, 0, R_RUNNING);
    it_assert_state(l.guid, 0, "CLAIMED", NULL);
    expect_no_auction(&l);
}

/* ======================================================================================= */
/* 4.3 evacuate_running: step 5, RECREATE                                                  */
/* ======================================================================================= */

static void recreate_drops_nothing_changes(const char *prefix, const char *ord_state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;

    lrp_new(&l, prefix, 1, RECREATE);
    if (strcmp(ord_state, "CLAIMED") == 0) {
        claim_on(l.guid, 0, IG_B, CELL_B);
    }
    snap(l.guid, 0, &before);
    assert_string_equal(before.p[P_ORD].state, ord_state);
    a = ev_running(l.guid, 0, IG_A, CELL_A, ADDR_A);
    expect_answer("evacuate_running.r1", &a, IT_OK, 0);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after); /* RECREATE never creates EVACUATING rows */
    expect_no_auction(&l);
}

static void test_running_recreate_no_target_ordinary_unclaimed_drops(void **state)
{
    (void)state;
    recreate_drops_nothing_changes("erc-none-uncl", "UNCLAIMED");
}

static void test_running_recreate_no_target_ordinary_claimed_other_cell_drops(void **state)
{
    (void)state;
    recreate_drops_nothing_changes("erc-none-claimed-b", "CLAIMED");
}

static void test_running_recreate_evacuating_this_cell_removed(void **state)
{
    struct lrp l;
    (void)state;

    lrp_new(&l, "erc-evac-a", 1, ROLLING);
    dance(&l, 0, IG_A, CELL_A, ADDR_A);
    set_strategy(l.guid, RECREATE);
    expect_dropped_evacuating_removed(&l, 0, R_RUNNING);
    assert_int_equal(it_actual_count(l.guid), 1);
    expect_no_auction(&l);
}

static void test_running_recreate_evacuating_other_cell_drops(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "erc-evac-b", 1, ROLLING);
    dance(&l, 0, IG_B, CELL_B, ADDR_B);
    set_strategy(l.guid, RECREATE);
    snap(l.guid, 0, &before);
    a = ev_running(l.guid, 0, IG_A, CELL_A, ADDR_A);
    expect_answer("evacuate_running.r1", &a, IT_OK, 0);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

static void test_running_recreate_suspect_this_cell_removed(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "erc-susp", 1, RECREATE);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    make_suspect(l.guid, 0, 1);
    snap(l.guid, 0, &before);
    a = ev_running(l.guid, 0, IG_A, CELL_A, ADDR_A);
    expect_answer("evacuate_running.r1", &a, IT_OK, 0);
    snap(l.guid, 0, &after);
    assert_presences(&after, l.guid, 1, 0, 0);
    assert_same_row("replacement ordinary", &before.p[P_ORD], &after.p[P_ORD]);
    expect_no_auction(&l);
}

static void test_running_recreate_suspect_delete_fails_keeps(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "erc-susp-fault", 1, RECREATE);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    make_suspect(l.guid, 0, 1);
    snap(l.guid, 0, &before);
    fault(l.guid, "DELETE", P_SUSP, "fail");
    a = ev_running(l.guid, 0, IG_A, CELL_A, ADDR_A);
    faults_clear(l.guid);
    expect_answer("evacuate_running.r1", &a, E(UnknownError), 1);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

/* RECREATE, target is A's ordinary: handed back only while every instance runs. */
static void test_running_recreate_ordinary_running_all_running_unclaimed_auction(void **state)
{
    struct lrp l;
    struct rows before, after, other;
    struct answer a;
    struct evrun e;
    int64_t t0, t1;
    (void)state;

    lrp_new(&l, "erc-run-all", 2, RECREATE);
    start_full(l.guid, 0, IG_A, CELL_A, ADDR_A, 0, "z-a");
    run_on(l.guid, 1, IG_B, CELL_B, ADDR_B);
    snap(l.guid, 0, &before);
    snap(l.guid, 1, &other);
    evrun_init(&e, l.guid, 0, IG_A, CELL_A, ADDR_A);
    t0 = it_now_ns();
    a = ev_run(&e, R_RUNNING0); /* the deprecated route decides the same */
    t1 = it_now_ns();
    expect_answer("evacuate_running", &a, IT_OK, 0);
    snap(l.guid, 0, &after);
    assert_presences(&after, l.guid, 1, 0, 0);
    assert_unclaimed_from("ordinary", &before.p[P_ORD], &after.p[P_ORD], t0, t1);
    expect_auction(&l, 0);
    snap(l.guid, 1, &after);
    assert_same_rows(l.guid, &other, &after);
}

static void test_running_recreate_ordinary_running_not_all_running_keeps(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "erc-run-notall", 2, RECREATE);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A); /* index 1 stays UNCLAIMED */
    snap(l.guid, 0, &before);
    a = ev_running(l.guid, 0, IG_A, CELL_A, ADDR_A);
    expect_answer("evacuate_running.r1", &a, IT_OK, 1);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

static void test_running_recreate_ordinary_claimed_not_all_running_keeps(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "erc-claimed-notall", 1, RECREATE);
    claim_on(l.guid, 0, IG_A, CELL_A);
    snap(l.guid, 0, &before);
    a = ev_running(l.guid, 0, IG_A, CELL_A, ADDR_A);
    expect_answer("evacuate_running.r1", &a, IT_OK, 1);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

static void test_running_recreate_ordinary_claimed_all_running_unclaimed_auction(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    int64_t t0, t1;
    (void)state;

    /* 2 desired; index 0 CLAIMED on A, indices 1 and 2 RUNNING (a start of
     * index 2 inserts it, 3.4): 2 RUNNING ordinary rows >= 2 desired */
    lrp_new(&l, "erc-claimed-all", 2, RECREATE);
    claim_on(l.guid, 0, IG_A, CELL_A);
    run_on(l.guid, 1, IG_B, CELL_B, ADDR_B);
    run_on(l.guid, 2, "ig-c", "cell-c", "10.0.0.3");
    snap(l.guid, 0, &before);
    t0 = it_now_ns();
    a = ev_running(l.guid, 0, IG_A, CELL_A, ADDR_A);
    t1 = it_now_ns();
    expect_answer("evacuate_running.r1", &a, IT_OK, 0);
    snap(l.guid, 0, &after);
    assert_presences(&after, l.guid, 1, 0, 0);
    assert_unclaimed_from("ordinary", &before.p[P_ORD], &after.p[P_ORD], t0, t1);
    expect_auction(&l, 0);
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

static void test_running_recreate_unclaim_db_error_keeps(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "erc-unclaim-fault", 1, RECREATE);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    snap(l.guid, 0, &before);
    fault(l.guid, "UPDATE", P_ORD, "fail");
    a = ev_running(l.guid, 0, IG_A, CELL_A, ADDR_A);
    faults_clear(l.guid);
    expect_answer("evacuate_running.r1", &a, E(UnknownError), 1);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

/* ======================================================================================= */
/* 4.3 evacuate_running: step 6, ROLLING                                                   */
/* ======================================================================================= */

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

static void rolling_no_target_creates(const char *prefix, const char *ord_state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    struct evrun e;
    int64_t t0, t1;

    lrp_new(&l, prefix, 1, ROLLING);
    if (strcmp(ord_state, "CLAIMED") == 0) {
        claim_on(l.guid, 0, IG_B, CELL_B);
    }
    snap(l.guid, 0, &before);
    evrun_other(&e, l.guid, 0, IG_A, CELL_A, ADDR_A, "r1.apps.internal", "one", 0, "z-1");
    t0 = it_now_ns();
    a = ev_run(&e, R_RUNNING);
    t1 = it_now_ns();
    expect_answer("evacuate_running.r1", &a, IT_OK, 1);
    snap(l.guid, 0, &after);
    assert_presences(&after, l.guid, 1, 1, 0);
    assert_same_row("ordinary", &before.p[P_ORD], &after.p[P_ORD]);
    /* an EVACUATING row built entirely from the request (observed upstream) */
    same_str("evacuating", "state", "RUNNING", after.p[P_EVAC].state);
    same_str("evacuating", "domain", IT_DOMAIN, after.p[P_EVAC].domain);
    assert_row_from_request("evacuating", &e, &after.p[P_EVAC], 0);
    same_int("evacuating", "routable", 0, after.p[P_EVAC].routable);
    same_str("evacuating", "availability_zone", "z-1", after.p[P_EVAC].zone);
    assert_since_in("evacuating", &after.p[P_EVAC], t0, t1);
    if (!it_is_uuid_v4(after.p[P_EVAC].epoch)) {
        fail_msg("evacuating: epoch \"%s\" is not a UUID v4", after.p[P_EVAC].epoch);
    }
    same_int("evacuating", "modification index", 0, after.p[P_EVAC].mod_index);
    expect_no_auction(&l);
}

static void test_running_rolling_no_target_ordinary_unclaimed_creates_evacuating(void **state)
{
    (void)state;
    rolling_no_target_creates("erl-none-uncl", "UNCLAIMED");
}

static void
test_running_rolling_no_target_ordinary_claimed_other_cell_creates_evacuating(void **state)
{
    (void)state;
    rolling_no_target_creates("erl-none-claimed-b", "CLAIMED");
}

static void test_running_rolling_no_target_evacuating_other_cell_drops(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "erl-evac-b", 1, ROLLING);
    dance(&l, 0, IG_B, CELL_B, ADDR_B);
    snap(l.guid, 0, &before);
    a = ev_running(l.guid, 0, IG_A, CELL_A, ADDR_A);
    expect_answer("evacuate_running.r1", &a, IT_OK, 0);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
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

static void test_running_rolling_create_evacuating_db_error_keeps(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "erl-create-fault", 1, ROLLING);
    snap(l.guid, 0, &before);
    fault(l.guid, "INSERT", P_EVAC, "fail");
    a = ev_running(l.guid, 0, IG_A, CELL_A, ADDR_A);
    faults_clear(l.guid);
    expect_answer("evacuate_running.r1", &a, E(UnknownError), 1);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
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

static void test_running_rolling_ordinary_claimed_this_cell_dance_quirk19(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    struct evrun e;
    int64_t t0, t1;
    (void)state;

    lrp_new(&l, "erl-dance-claimed", 1, ROLLING);
    claim_on(l.guid, 0, IG_A, CELL_A);
    snap(l.guid, 0, &before);
    evrun_other(&e, l.guid, 0, IG_A, CELL_A, ADDR_A, "req.apps.internal", "req", 1, "z-req");
    t0 = it_now_ns();
    a = ev_run(&e, R_RUNNING);
    t1 = it_now_ns();
    expect_answer("evacuate_running.r1", &a, IT_OK, 1);
    snap(l.guid, 0, &after);
    assert_presences(&after, l.guid, 1, 1, 0);
    /* quirk 19: the copy of a CLAIMED instance is RUNNING with empty net info */
    assert_evac_copy("evacuating", &before.p[P_ORD], &after.p[P_EVAC], t0, t1);
    assert_empty_net("evacuating", &after.p[P_EVAC]);
    assert_unclaimed_from("ordinary", &before.p[P_ORD], &after.p[P_ORD], t0, t1);
    expect_auction(&l, 0);
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

static void
test_running_rolling_ordinary_running_this_cell_identical_evacuating_exists(void **state)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    (void)state;

    lrp_new(&l, "erl-dance-exists", 1, ROLLING);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    copy_ordinary_as_evacuating(l.guid, 0);
    snap(l.guid, 0, &before);
    assert_presences(&before, l.guid, 1, 1, 0);
    a = ev_running(l.guid, 0, IG_A, CELL_A, ADDR_A);
    /* dance step 1 fails with ResourceExists -> (error, true), nothing else done */
    expect_answer("evacuate_running.r1", &a, E(ResourceExists), 1);
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

static void rolling_dance_suspect(const char *prefix, int running)
{
    struct lrp l;
    struct rows before, after;
    struct answer a;
    struct evrun e;
    int64_t t0, t1;

    lrp_new(&l, prefix, 1, ROLLING);
    if (running) {
        start_full(l.guid, 0, IG_A, CELL_A, ADDR_A, 0, "z-a");
    } else {
        claim_on(l.guid, 0, IG_A, CELL_A);
    }
    make_suspect(l.guid, 0, 1);
    snap(l.guid, 0, &before);
    assert_presences(&before, l.guid, 1, 0, 1);
    evrun_other(&e, l.guid, 0, IG_A, CELL_A, "10.0.0.99", "req.apps.internal", "req", 1, "z-req");
    t0 = it_now_ns();
    a = ev_run(&e, R_RUNNING);
    t1 = it_now_ns();
    expect_answer("evacuate_running.r1", &a, IT_OK, 1);
    snap(l.guid, 0, &after);
    assert_presences(&after, l.guid, 1, 1, 0);
    assert_evac_copy("evacuating", &before.p[P_SUSP], &after.p[P_EVAC], t0, t1);
    if (!running) {
        assert_empty_net("evacuating", &after.p[P_EVAC]); /* quirk 19 */
    }
    /* the ordinary replacement already exists: untouched, no auction */
    assert_same_row("replacement ordinary", &before.p[P_ORD], &after.p[P_ORD]);
    expect_no_auction(&l);
}

static void test_running_rolling_suspect_running_this_cell_dance(void **state)
{
    (void)state;
    rolling_dance_suspect("erl-susp-run", 1);
}

static void test_running_rolling_suspect_claimed_this_cell_dance(void **state)
{
    (void)state;
    rolling_dance_suspect("erl-susp-claimed", 0);
}

/* A failure in one of the dance's writes: (error, true), no auction. */
static void rolling_dance_fault(const char *prefix, int suspect, const char *op, int presence)
{
    struct lrp l;
    struct answer a;
    struct rows rs;

    lrp_new(&l, prefix, 1, ROLLING);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    if (suspect) {
        make_suspect(l.guid, 0, 1);
    }
    fault(l.guid, op, presence, "fail");
    a = ev_running(l.guid, 0, IG_A, CELL_A, ADDR_A);
    faults_clear(l.guid);
    expect_answer("evacuate_running.r1", &a, E(UnknownError), 1);
    /* the target is still there, unchanged in state and owner */
    snap(l.guid, 0, &rs);
    const struct row *t = &rs.p[suspect ? P_SUSP : P_ORD];
    same_int("target", "found", 1, t->found);
    same_str("target", "state", "RUNNING", t->state);
    same_str("target", "instance_guid", IG_A, t->ig);
    expect_no_auction(&l);
}

static void test_running_rolling_dance_create_evacuating_db_error_keeps(void **state)
{
    (void)state;
    rolling_dance_fault("erl-dance-insfault", 0, "INSERT", P_EVAC);
}

static void test_running_rolling_dance_unclaim_db_error_keeps(void **state)
{
    (void)state;
    rolling_dance_fault("erl-dance-updfault", 0, "UPDATE", P_ORD);
}

static void test_running_rolling_dance_suspect_delete_db_error_keeps(void **state)
{
    (void)state;
    rolling_dance_fault("erl-dance-susfault", 1, "DELETE", P_SUSP);
}

/* ======================================================================================= */
/* 4.4 remove_evacuating                                                                   */
/* ======================================================================================= */

static void test_remove_evacuating_step0_decode_failure(void **state)
{
    struct it_resp r;
    Models__RemoveEvacuatingActualLRPResponse *m;
    (void)state;

    it_post_raw(R_REMOVE, bad_truncated, sizeof(bad_truncated), &r);
    assert_int_equal(r.status, 200);
    m = (Models__RemoveEvacuatingActualLRPResponse *)it_unpack(REMOVE_RESP, r.body, r.len);
    it_resp_free(&r);
    assert_non_null(m);
    it_assert_invalid(m, IT_MSG_INVALID);
    it_free(m);
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

static void test_remove_evacuating_step2_no_rows_not_found(void **state)
{
    (void)state;
    assert_int_equal(remove_evac("erm-no-such-guid", 0, IG_A, CELL_A), E(ResourceNotFound));
}

static void test_remove_evacuating_step2_evacuating_other_cell_not_found(void **state)
{
    struct lrp l;
    struct rows before, after;
    (void)state;

    lrp_new(&l, "erm-evac-b", 1, ROLLING);
    dance(&l, 0, IG_B, CELL_B, ADDR_B);
    snap(l.guid, 0, &before);
    assert_int_equal(remove_evac(l.guid, 0, IG_A, CELL_A), E(ResourceNotFound));
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

static void test_remove_evacuating_step3_ordinary_running_this_cell_not_found(void **state)
{
    struct lrp l;
    struct rows before, after;
    (void)state;

    lrp_new(&l, "erm-ord", 1, ROLLING);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    snap(l.guid, 0, &before);
    assert_int_equal(remove_evac(l.guid, 0, IG_A, CELL_A), E(ResourceNotFound));
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

static void test_remove_evacuating_step3_suspect_this_cell_not_found(void **state)
{
    struct lrp l;
    struct rows before, after;
    (void)state;

    lrp_new(&l, "erm-susp", 1, ROLLING);
    run_on(l.guid, 0, IG_A, CELL_A, ADDR_A);
    make_suspect(l.guid, 0, 1);
    snap(l.guid, 0, &before);
    assert_int_equal(remove_evac(l.guid, 0, IG_A, CELL_A), E(ResourceNotFound));
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
}

static void test_remove_evacuating_step4_evacuating_this_cell_removed(void **state)
{
    struct lrp l;
    struct rows before, after;
    (void)state;

    lrp_new(&l, "erm-evac-a", 1, ROLLING);
    dance(&l, 0, IG_A, CELL_A, ADDR_A);
    claim_on(l.guid, 0, IG_B, CELL_B);
    snap(l.guid, 0, &before);
    assert_int_equal(remove_evac(l.guid, 0, IG_A, CELL_A), IT_OK);
    snap(l.guid, 0, &after);
    assert_presences(&after, l.guid, 1, 0, 0);
    assert_same_row("ordinary", &before.p[P_ORD], &after.p[P_ORD]);
    assert_int_equal(remove_evac(l.guid, 0, IG_A, CELL_A), E(ResourceNotFound)); /* gone */
    expect_no_auction(&l);
}

static void test_remove_evacuating_step4_delete_fails_cannot_be_removed(void **state)
{
    struct lrp l;
    struct rows before, after;
    int t;
    (void)state;

    lrp_new(&l, "erm-fault", 1, ROLLING);
    dance(&l, 0, IG_A, CELL_A, ADDR_A);
    snap(l.guid, 0, &before);
    fault(l.guid, "DELETE", P_EVAC, "fail");
    t = remove_evac(l.guid, 0, IG_A, CELL_A);
    faults_clear(l.guid);
    if (t != E(ActualLRPCannotBeRemoved)) {
        fail_msg("remove_evacuating: error %s, expected ActualLRPCannotBeRemoved", err_name(t));
    }
    snap(l.guid, 0, &after);
    assert_same_rows(l.guid, &before, &after);
    expect_no_auction(&l);
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

int main(void)
{
    static const struct CMUnitTest tests[] = {
        /* 4.1 evacuate_claimed */
        cmocka_unit_test(test_claimed_step0_decode_failure_keeps),
        cmocka_unit_test(test_claimed_step0_validation_failure_keeps),
        cmocka_unit_test(test_claimed_step2_no_rows_not_found),
        cmocka_unit_test(test_claimed_step2_ordinary_claimed_other_cell_not_found),
        cmocka_unit_test(test_claimed_step2_ordinary_running_other_cell_not_found),
        cmocka_unit_test(test_claimed_step2_ordinary_unclaimed_not_found),
        cmocka_unit_test(test_claimed_step2_ordinary_crashed_not_found),
        cmocka_unit_test(test_claimed_step2_evacuating_other_cell_not_found),
        cmocka_unit_test(test_claimed_step3_evacuating_this_cell_removed),
        cmocka_unit_test(test_claimed_step3_evacuating_delete_fails_cannot_be_removed),
        cmocka_unit_test(test_claimed_step3p_suspect_this_cell_removed),
        cmocka_unit_test(test_claimed_step3p_suspect_delete_fails_error),
        cmocka_unit_test(test_claimed_step4_ordinary_claimed_this_cell_unclaimed_auction),
        cmocka_unit_test(test_claimed_step4_ordinary_running_this_cell_unclaimed_auction),
        cmocka_unit_test(test_claimed_step4_desired_removed_unclaimed_no_auction),
        cmocka_unit_test(test_claimed_step4b_unclaim_db_error_keeps),
        /* 4.2 evacuate_crashed */
        cmocka_unit_test(test_crashed_step0_decode_failure),
        cmocka_unit_test(test_crashed_step0_validation_failure),
        cmocka_unit_test(test_crashed_step2_no_rows_not_found),
        cmocka_unit_test(test_crashed_step2_ordinary_claimed_other_cell_not_found),
        cmocka_unit_test(test_crashed_step2_ordinary_running_other_cell_not_found),
        cmocka_unit_test(test_crashed_step2_ordinary_unclaimed_not_found),
        cmocka_unit_test(test_crashed_step2_ordinary_crashed_not_found),
        cmocka_unit_test(test_crashed_step2_evacuating_other_cell_not_found),
        cmocka_unit_test(test_crashed_step3_evacuating_this_cell_removed),
        cmocka_unit_test(test_crashed_step3_evacuating_delete_fails_cannot_be_removed),
        cmocka_unit_test(test_crashed_step3_suspect_this_cell_removed),
        cmocka_unit_test(test_crashed_step4_ordinary_running_this_cell_restart_no_auction),
        cmocka_unit_test(test_crashed_step4_ordinary_claimed_this_cell_restart_no_auction),
        cmocka_unit_test(test_crashed_step4_desired_removed_running_this_cell),
        cmocka_unit_test(test_crashed_step4_ordinary_running_third_crash_crashed),
        cmocka_unit_test(test_crashed_step4_crash_db_error),
        /* 4.2 evacuate_stopped */
        cmocka_unit_test(test_stopped_step0_decode_failure),
        cmocka_unit_test(test_stopped_step0_validation_failure),
        cmocka_unit_test(test_stopped_step2_no_rows_not_found),
        cmocka_unit_test(test_stopped_step2_ordinary_claimed_other_cell_not_found),
        cmocka_unit_test(test_stopped_step2_ordinary_running_other_cell_not_found),
        cmocka_unit_test(test_stopped_step2_ordinary_unclaimed_not_found),
        cmocka_unit_test(test_stopped_step2_ordinary_crashed_not_found),
        cmocka_unit_test(test_stopped_step2_evacuating_other_cell_not_found),
        cmocka_unit_test(test_stopped_step3_evacuating_this_cell_removed),
        cmocka_unit_test(test_stopped_step3_evacuating_delete_fails_cannot_be_removed),
        cmocka_unit_test(test_stopped_step3_suspect_this_cell_removed),
        cmocka_unit_test(test_stopped_step4_ordinary_running_this_cell_deleted),
        cmocka_unit_test(test_stopped_step4_ordinary_claimed_this_cell_deleted),
        cmocka_unit_test(test_stopped_step4_desired_removed_running_this_cell_deleted),
        cmocka_unit_test(test_stopped_step4_none_deleted_not_found),
        /* 4.3 evacuate_running, steps 0-4 */
        cmocka_unit_test(test_running_step0_decode_failure_keeps),
        cmocka_unit_test(test_running_step0_validation_failure_keeps),
        cmocka_unit_test(test_running_step2_rolling_no_rows_drops),
        cmocka_unit_test(test_running_step2_recreate_no_rows_drops),
        cmocka_unit_test(test_running_step3_no_ordinary_evacuating_this_cell_removed),
        cmocka_unit_test(test_running_step3_no_ordinary_evacuating_this_cell_removed_deprecated),
        cmocka_unit_test(test_running_step3_recreate_no_ordinary_evacuating_this_cell_removed),
        cmocka_unit_test(test_running_step3_no_ordinary_evacuating_other_cell_drops),
        cmocka_unit_test(test_running_step3_no_ordinary_suspect_this_cell_drops),
        cmocka_unit_test(
            test_running_step3_ordinary_running_other_cell_evacuating_this_cell_removed),
        cmocka_unit_test(test_running_step3_ordinary_running_other_cell_no_target_drops),
        cmocka_unit_test(test_running_step3_ordinary_crashed_evacuating_this_cell_removed),
        cmocka_unit_test(test_running_step3_ordinary_crashed_no_target_drops),
        cmocka_unit_test(test_running_step3_recreate_ordinary_running_other_cell_no_target_drops),
        cmocka_unit_test(test_running_step3_recreate_ordinary_crashed_evacuating_this_cell_removed),
        cmocka_unit_test(
            test_running_step3_recreate_ordinary_running_other_cell_evacuating_this_cell_removed),
        cmocka_unit_test(test_running_step3_recreate_ordinary_crashed_no_target_drops),
        cmocka_unit_test(test_running_step3_evacuating_delete_fails_drops),
        cmocka_unit_test(test_running_step4_desired_missing_ordinary_running_this_cell_drops),
        cmocka_unit_test(test_running_step4_desired_removed_ordinary_running_this_cell_drops),
        cmocka_unit_test(test_running_step4_desired_removed_evacuating_this_cell_removed),
        /* 4.3 step 5, RECREATE */
        cmocka_unit_test(test_running_recreate_no_target_ordinary_unclaimed_drops),
        cmocka_unit_test(test_running_recreate_no_target_ordinary_claimed_other_cell_drops),
        cmocka_unit_test(test_running_recreate_evacuating_this_cell_removed),
        cmocka_unit_test(test_running_recreate_evacuating_other_cell_drops),
        cmocka_unit_test(test_running_recreate_suspect_this_cell_removed),
        cmocka_unit_test(test_running_recreate_suspect_delete_fails_keeps),
        cmocka_unit_test(test_running_recreate_ordinary_running_all_running_unclaimed_auction),
        cmocka_unit_test(test_running_recreate_ordinary_running_not_all_running_keeps),
        cmocka_unit_test(test_running_recreate_ordinary_claimed_not_all_running_keeps),
        cmocka_unit_test(test_running_recreate_ordinary_claimed_all_running_unclaimed_auction),
        cmocka_unit_test(test_running_recreate_one_instance_at_a_time),
        cmocka_unit_test(test_running_recreate_unclaim_db_error_keeps),
        /* 4.3 step 6, ROLLING */
        cmocka_unit_test(test_running_rolling_no_target_ordinary_unclaimed_creates_evacuating),
        cmocka_unit_test(
            test_running_rolling_no_target_ordinary_claimed_other_cell_creates_evacuating),
        cmocka_unit_test(test_running_rolling_no_target_evacuating_other_cell_drops),
        cmocka_unit_test(test_running_rolling_evacuating_this_cell_identical_keeps),
        cmocka_unit_test(test_running_rolling_evacuating_this_cell_ordinary_unclaimed_updated),
        cmocka_unit_test(
            test_running_rolling_evacuating_this_cell_update_deprecated_clears_routes_tags),
        cmocka_unit_test(test_running_rolling_create_evacuating_db_error_keeps),
        cmocka_unit_test(test_running_rolling_ordinary_running_this_cell_dance),
        cmocka_unit_test(test_running_rolling_ordinary_running_this_cell_dance_deprecated),
        cmocka_unit_test(test_running_rolling_ordinary_claimed_this_cell_dance_quirk19),
        cmocka_unit_test(
            test_running_rolling_ordinary_claimed_this_cell_evacuating_other_cell_dance),
        cmocka_unit_test(
            test_running_rolling_ordinary_running_this_cell_identical_evacuating_exists),
        cmocka_unit_test(test_running_rolling_suspect_running_this_cell_dance),
        cmocka_unit_test(test_running_rolling_suspect_claimed_this_cell_dance),
        cmocka_unit_test(test_running_rolling_dance_create_evacuating_db_error_keeps),
        cmocka_unit_test(test_running_rolling_dance_unclaim_db_error_keeps),
        cmocka_unit_test(test_running_rolling_dance_suspect_delete_db_error_keeps),
        /* 4.4 remove_evacuating */
        cmocka_unit_test(test_remove_evacuating_step0_decode_failure),
        cmocka_unit_test(test_remove_evacuating_step0_validation_failure),
        cmocka_unit_test(test_remove_evacuating_step2_no_rows_not_found),
        cmocka_unit_test(test_remove_evacuating_step2_evacuating_other_cell_not_found),
        cmocka_unit_test(test_remove_evacuating_step3_ordinary_running_this_cell_not_found),
        cmocka_unit_test(test_remove_evacuating_step3_suspect_this_cell_not_found),
        cmocka_unit_test(test_remove_evacuating_step4_evacuating_this_cell_removed),
        cmocka_unit_test(test_remove_evacuating_step4_delete_fails_cannot_be_removed),
        /* interactions */
        cmocka_unit_test(test_start_replacement_removes_evacuating_row),
        cmocka_unit_test(test_start_replacement_evacuating_delete_fails_start_succeeds),
        cmocka_unit_test(test_start_replacement_removes_suspect_row),
        cmocka_unit_test(test_list_filters_apply_to_every_presence),
        cmocka_unit_test(test_drain_rolling_from_cell_a_to_cell_b),
        cmocka_unit_test(test_zz_auction_counts_after_quiet_period),
    };

    it_set_name("evacuation");
    return it_main_exit(
        cmocka_run_group_tests_name("api_evacuation", tests, group_setup, it_group_teardown));
}
