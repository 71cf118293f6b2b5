/*
 * fixtures.c - see fixtures.h.
 */
#include "support/fixtures.h"

#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "support/pb.h"

void it_dlrp_init(struct it_dlrp *d, const char *guid, int32_t instances)
{
    static const Models__DesiredLRP lrp_init = MODELS__DESIRED_LRP__INIT;
    static const Models__Action action_init = MODELS__ACTION__INIT;
    static const Models__RunAction run_init = MODELS__RUN_ACTION__INIT;
    static const Models__DesiredLRP__MetricTagsEntry tag_init =
        MODELS__DESIRED_LRP__METRIC_TAGS_ENTRY__INIT;
    static const Models__MetricTagValue value_init = MODELS__METRIC_TAG_VALUE__INIT;

    memset(d, 0, sizeof(*d));
    snprintf(d->guid, sizeof(d->guid), "%s", guid);
    d->lrp = lrp_init;
    d->action = action_init;
    d->run = run_init;
    d->tag = tag_init;
    d->tag_value = value_init;

    d->run.path = IT_S("/bin/app");
    d->run.user = IT_S("vcap");
    d->action.run_action = &d->run;
    d->tag_value.static_ = d->guid;
    d->tag.key = IT_S("source_id");
    d->tag.value = &d->tag_value;
    d->tags[0] = &d->tag;

    d->lrp.process_guid = d->guid;
    d->lrp.domain = IT_S(IT_DOMAIN);
    d->lrp.root_fs = IT_S(IT_ROOTFS);
    d->lrp.instances = instances;
    d->lrp.action = &d->action;
    d->lrp.memory_mb = 256;
    d->lrp.disk_mb = 1024;
    d->lrp.n_metric_tags = 1;
    d->lrp.metric_tags = d->tags;
}

int it_desire_lrp(const Models__DesiredLRP *lrp)
{
    Models__DesireLRPRequest req = MODELS__DESIRE_LRPREQUEST__INIT;
    req.desired_lrp = (Models__DesiredLRP *)lrp;
    return it_call_err("/v1/desired_lrp/desire.r2", &req.base,
                       &models__desired_lrplifecycle_response__descriptor);
}

void it_desire(const char *guid, const char *domain, int32_t instances)
{
    struct it_dlrp d;
    Models__DesireLRPRequest req = MODELS__DESIRE_LRPREQUEST__INIT;
    void *resp;

    it_dlrp_init(&d, guid, instances);
    if (domain != NULL) {
        d.lrp.domain = (char *)domain;
    }
    req.desired_lrp = &d.lrp;
    resp = it_call("/v1/desired_lrp/desire.r2", &req.base,
                   &models__desired_lrplifecycle_response__descriptor);
    if (it_err_type(resp) != IT_OK) {
        fail_msg("desire %s: error %d \"%s\"", guid, it_err_type(resp), it_err_msg(resp));
    }
    it_free(resp);
}

/*
 * `path` on a client of its own: the error type, or -1 on a transport
 * error; `err` says which. Never asserts.
 */
static int own_client_call(const char *path, const ProtobufCMessage *req,
                           const ProtobufCMessageDescriptor *desc, char *err, size_t errlen)
{
    struct it_client *c = it_client_new();
    void *resp = it_client_call(c, path, req, desc, err, errlen);
    int rc = resp != NULL ? it_err_type(resp) : -1;

    if (resp != NULL && rc != IT_OK) {
        snprintf(err, errlen, "error %d \"%s\"", rc, it_err_msg(resp));
    }
    it_free(resp);
    it_client_free(c);
    return rc;
}

int it_desire_own_client(const char *guid, char *err, size_t errlen)
{
    struct it_dlrp d;
    Models__DesireLRPRequest req = MODELS__DESIRE_LRPREQUEST__INIT;

    it_dlrp_init(&d, guid, 1);
    req.desired_lrp = &d.lrp;
    return own_client_call("/v1/desired_lrp/desire.r2", &req.base,
                           &models__desired_lrplifecycle_response__descriptor, err, errlen) == IT_OK
               ? 0
               : -1;
}

Models__DesiredLRPResponse *it_get_desired(const char *guid)
{
    Models__DesiredLRPByProcessGuidRequest req = MODELS__DESIRED_LRPBY_PROCESS_GUID_REQUEST__INIT;
    req.process_guid = (char *)guid;
    return it_call("/v1/desired_lrps/get_by_process_guid.r3", &req.base,
                   &models__desired_lrpresponse__descriptor);
}

int it_update_instances(const char *guid, int32_t instances)
{
    Models__UpdateDesiredLRPRequest req = MODELS__UPDATE_DESIRED_LRPREQUEST__INIT;
    Models__DesiredLRPUpdate up = MODELS__DESIRED_LRPUPDATE__INIT;
    up.optional_instances_case = MODELS__DESIRED_LRPUPDATE__OPTIONAL_INSTANCES_INSTANCES;
    up.instances = instances;
    req.process_guid = (char *)guid;
    req.update = &up;
    return it_call_err("/v1/desired_lrp/update", &req.base,
                       &models__desired_lrplifecycle_response__descriptor);
}

int it_remove_desired(const char *guid)
{
    Models__RemoveDesiredLRPRequest req = MODELS__REMOVE_DESIRED_LRPREQUEST__INIT;
    req.process_guid = (char *)guid;
    return it_call_err("/v1/desired_lrp/remove", &req.base,
                       &models__desired_lrplifecycle_response__descriptor);
}

/* ---- ActualLRP helpers --------------------------------------------------------------- */

#define LIFECYCLE (&models__actual_lrplifecycle_response__descriptor)

int it_claim(const char *guid, int32_t index, const char *instance_guid, const char *cell_id)
{
    Models__ClaimActualLRPRequest req = MODELS__CLAIM_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;
    ik.instance_guid = (char *)instance_guid;
    ik.cell_id = (char *)cell_id;
    req.process_guid = (char *)guid;
    req.index = index;
    req.actual_lrp_instance_key = &ik;
    return it_call_err("/v1/actual_lrps/claim", &req.base, LIFECYCLE);
}

/* start.r1 on the main client, or (err != NULL) on a client of its own (own_client_call). */
static int start_on(const char *guid, int32_t index, const char *domain, const char *instance_guid,
                    const char *cell_id, const char *address, char *err, size_t errlen)
{
    Models__StartActualLRPRequest req = MODELS__START_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;
    Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;
    Models__ActualLRPNetInfo ni = MODELS__ACTUAL_LRPNET_INFO__INIT;
    Models__PortMapping pm = MODELS__PORT_MAPPING__INIT;
    Models__PortMapping *pms[1] = {&pm};

    key.process_guid = (char *)guid;
    key.index = index;
    key.domain = (char *)(domain ? domain : IT_DOMAIN);
    ik.instance_guid = (char *)instance_guid;
    ik.cell_id = (char *)cell_id;
    ni.address = (char *)address;
    pm.container_port = 8080;
    pm.host_port = 61000;
    ni.n_ports = 1;
    ni.ports = pms;
    req.actual_lrp_key = &key;
    req.actual_lrp_instance_key = &ik;
    req.actual_lrp_net_info = &ni;
    if (err == NULL) {
        return it_call_err("/v1/actual_lrps/start.r1", &req.base, LIFECYCLE);
    }
    return own_client_call("/v1/actual_lrps/start.r1", &req.base, LIFECYCLE, err, errlen);
}

int it_start(const char *guid, int32_t index, const char *domain, const char *instance_guid,
             const char *cell_id, const char *address)
{
    return start_on(guid, index, domain, instance_guid, cell_id, address, NULL, 0);
}

int it_start_own_client(const char *guid, int32_t index, const char *instance_guid,
                        const char *cell_id, const char *address, char *err, size_t errlen)
{
    return start_on(guid, index, NULL, instance_guid, cell_id, address, err, errlen);
}

int it_crash(const char *guid, int32_t index, const char *domain, const char *instance_guid,
             const char *cell_id, const char *message)
{
    Models__CrashActualLRPRequest req = MODELS__CRASH_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;
    Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;

    key.process_guid = (char *)guid;
    key.index = index;
    key.domain = (char *)(domain ? domain : IT_DOMAIN);
    ik.instance_guid = (char *)instance_guid;
    ik.cell_id = (char *)cell_id;
    req.actual_lrp_key = &key;
    req.actual_lrp_instance_key = &ik;
    req.error_message = (char *)(message ? message : "");
    return it_call_err("/v1/actual_lrps/crash", &req.base, LIFECYCLE);
}

int it_fail(const char *guid, int32_t index, const char *domain, const char *message)
{
    Models__FailActualLRPRequest req = MODELS__FAIL_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;

    key.process_guid = (char *)guid;
    key.index = index;
    key.domain = (char *)(domain ? domain : IT_DOMAIN);
    req.actual_lrp_key = &key;
    req.error_message = (char *)message;
    return it_call_err("/v1/actual_lrps/fail", &req.base, LIFECYCLE);
}

int it_remove_actual(const char *guid, int32_t index, const char *instance_guid,
                     const char *cell_id)
{
    Models__RemoveActualLRPRequest req = MODELS__REMOVE_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;

    req.process_guid = (char *)guid;
    req.index = index;
    if (instance_guid != NULL) {
        ik.instance_guid = (char *)instance_guid;
        ik.cell_id = (char *)(cell_id ? cell_id : "");
        req.actual_lrp_instance_key = &ik;
    }
    return it_call_err("/v1/actual_lrps/remove", &req.base, LIFECYCLE);
}

int it_retire(const char *guid, int32_t index, const char *domain)
{
    Models__RetireActualLRPRequest req = MODELS__RETIRE_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;

    key.process_guid = (char *)guid;
    key.index = index;
    key.domain = (char *)(domain ? domain : IT_DOMAIN);
    req.actual_lrp_key = &key;
    return it_call_err("/v1/actual_lrps/retire", &req.base, LIFECYCLE);
}

Models__ActualLRPsResponse *it_list_actuals(const char *guid)
{
    Models__ActualLRPsRequest req = MODELS__ACTUAL_LRPS_REQUEST__INIT;
    Models__ActualLRPsResponse *resp;

    req.process_guid = (char *)guid;
    resp = it_call("/v1/actual_lrps/list", &req.base, &models__actual_lrps_response__descriptor);
    if (it_err_type(resp) != IT_OK) {
        fail_msg("actual_lrps/list %s: error %d \"%s\"", guid, it_err_type(resp), it_err_msg(resp));
    }
    return resp;
}

const Models__ActualLRP *it_find_actual(const Models__ActualLRPsResponse *r, int32_t index,
                                        int presence)
{
    for (size_t i = 0; i < r->n_actual_lrps; i++) {
        const Models__ActualLRP *a = r->actual_lrps[i];
        if (a->actual_lrp_key != NULL && a->actual_lrp_key->index == index &&
            (int)a->presence == presence) {
            return a;
        }
    }
    return NULL;
}

static void copy_str(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src == NULL ? "" : src);
}

int it_actual(const char *guid, int32_t index, struct it_alrp *out)
{
    Models__ActualLRPsResponse *r = it_list_actuals(guid);
    const Models__ActualLRP *a = it_find_actual(r, index, MODELS__ACTUAL_LRP__PRESENCE__ORDINARY);

    memset(out, 0, sizeof(*out));
    if (a != NULL) {
        out->found = 1;
        copy_str(out->state, sizeof(out->state), a->state);
        if (a->actual_lrp_key != NULL) {
            copy_str(out->domain, sizeof(out->domain), a->actual_lrp_key->domain);
        }
        if (a->actual_lrp_instance_key != NULL) {
            copy_str(out->instance_guid, sizeof(out->instance_guid),
                     a->actual_lrp_instance_key->instance_guid);
            copy_str(out->cell_id, sizeof(out->cell_id), a->actual_lrp_instance_key->cell_id);
        }
        if (a->actual_lrp_net_info != NULL) {
            copy_str(out->address, sizeof(out->address), a->actual_lrp_net_info->address);
            out->n_ports = a->actual_lrp_net_info->n_ports;
        }
        out->crash_count = a->crash_count;
        copy_str(out->crash_reason, sizeof(out->crash_reason), a->crash_reason);
        copy_str(out->placement_error, sizeof(out->placement_error), a->placement_error);
        out->since = a->since;
        if (a->modification_tag != NULL) {
            copy_str(out->epoch, sizeof(out->epoch), a->modification_tag->epoch);
            out->mod_index = a->modification_tag->index;
        }
        out->routable_set =
            a->optional_routable_case == MODELS__ACTUAL_LRP__OPTIONAL_ROUTABLE_ROUTABLE;
        out->routable = out->routable_set && a->routable;
        copy_str(out->availability_zone, sizeof(out->availability_zone), a->availability_zone);
        out->n_internal_routes = a->n_actual_lrp_internal_routes;
        out->n_metric_tags = a->n_metric_tags;
    }
    it_free(r);
    return out->found;
}

size_t it_actual_count(const char *guid)
{
    Models__ActualLRPsResponse *r = it_list_actuals(guid);
    size_t n = r->n_actual_lrps;
    it_free(r);
    return n;
}

void it_assert_state(const char *guid, int32_t index, const char *state, struct it_alrp *out)
{
    struct it_alrp local;
    struct it_alrp *a = out ? out : &local;
    if (!it_actual(guid, index, a)) {
        fail_msg("no ordinary actual LRP %s/%d (expected %s)", guid, index, state);
    }
    if (strcmp(a->state, state) != 0) {
        fail_msg("actual LRP %s/%d is %s, expected %s", guid, index, a->state, state);
    }
}
