/*
 * evwire.c - instance-stream event payloads (see evwire.h).
 */
#include "evwire.h"

#include <stdio.h>
#include <string.h>

#include "events.pb-c.h"

static const struct {
    const char *name;
    enum bench_ev_kind kind;
} kinds[] = {
    {"actual_lrp_instance_changed", BENCH_EV_INSTANCE_CHANGED},
    {"actual_lrp_instance_created", BENCH_EV_INSTANCE_CREATED},
    {"actual_lrp_instance_removed", BENCH_EV_INSTANCE_REMOVED},
    {"actual_lrp_crashed", BENCH_EV_CRASHED},
    {"desired_lrp_created", BENCH_EV_DESIRED},
    {"desired_lrp_changed", BENCH_EV_DESIRED},
    {"desired_lrp_removed", BENCH_EV_DESIRED},
};

enum bench_ev_kind bench_ev_kind_of(const char *name)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(name, kinds[i].name) == 0) {
            return kinds[i].kind;
        }
    }
    return BENCH_EV_UNKNOWN;
}

enum bench_ev_state bench_ev_state_of(const char *s)
{
    if (s == NULL) {
        return BENCH_ST_OTHER;
    }
    if (strcmp(s, "UNCLAIMED") == 0) {
        return BENCH_ST_UNCLAIMED;
    }
    if (strcmp(s, "CLAIMED") == 0) {
        return BENCH_ST_CLAIMED;
    }
    if (strcmp(s, "RUNNING") == 0) {
        return BENCH_ST_RUNNING;
    }
    if (strcmp(s, "CRASHED") == 0) {
        return BENCH_ST_CRASHED;
    }
    return BENCH_ST_OTHER;
}

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src != NULL ? src : "");
}

static int take_keys(struct bench_ev_info *out, const Models__ActualLRPKey *k,
                     const Models__ActualLRPInstanceKey *ik)
{
    if (k == NULL || ik == NULL) {
        return -1; /* both are always emitted (2.10.1) */
    }
    copy(out->guid, sizeof(out->guid), k->process_guid);
    out->index = k->index;
    copy(out->cell, sizeof(out->cell), ik->cell_id);
    return 0;
}

static int take_lrp(struct bench_ev_info *out, const Models__ActualLRP *a)
{
    if (a == NULL || take_keys(out, a->actual_lrp_key, a->actual_lrp_instance_key) != 0) {
        return -1;
    }
    out->after = bench_ev_state_of(a->state);
    return 0;
}

int bench_ev_decode(const char *name, const uint8_t *data, size_t len, struct bench_ev_info *out)
{
    const ProtobufCMessageDescriptor *d = NULL;
    ProtobufCMessage *m;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    out->kind = bench_ev_kind_of(name);
    switch (out->kind) {
    case BENCH_EV_UNKNOWN:
        return 0;
    case BENCH_EV_INSTANCE_CHANGED:
        d = &models__actual_lrpinstance_changed_event__descriptor;
        break;
    case BENCH_EV_INSTANCE_CREATED:
        d = &models__actual_lrpinstance_created_event__descriptor;
        break;
    case BENCH_EV_INSTANCE_REMOVED:
        d = &models__actual_lrpinstance_removed_event__descriptor;
        break;
    case BENCH_EV_CRASHED:
        d = &models__actual_lrpcrashed_event__descriptor;
        break;
    case BENCH_EV_DESIRED:
        d = strcmp(name, "desired_lrp_created") == 0 ? &models__desired_lrpcreated_event__descriptor
            : strcmp(name, "desired_lrp_changed") == 0
                ? &models__desired_lrpchanged_event__descriptor
                : &models__desired_lrpremoved_event__descriptor;
        break;
    }
    m = protobuf_c_message_unpack(d, NULL, len, data);
    if (m == NULL) {
        return -1;
    }
    switch (out->kind) {
    case BENCH_EV_INSTANCE_CHANGED: {
        const Models__ActualLRPInstanceChangedEvent *e = (const void *)m;

        rc = take_keys(out, e->actual_lrp_key, e->actual_lrp_instance_key);
        out->before = e->before != NULL ? bench_ev_state_of(e->before->state) : BENCH_ST_OTHER;
        out->after = e->after != NULL ? bench_ev_state_of(e->after->state) : BENCH_ST_OTHER;
        break;
    }
    case BENCH_EV_INSTANCE_CREATED:
        rc = take_lrp(out,
                      ((const Models__ActualLRPInstanceCreatedEvent *)(const void *)m)->actual_lrp);
        break;
    case BENCH_EV_INSTANCE_REMOVED:
        rc = take_lrp(out,
                      ((const Models__ActualLRPInstanceRemovedEvent *)(const void *)m)->actual_lrp);
        break;
    case BENCH_EV_CRASHED: {
        const Models__ActualLRPCrashedEvent *e = (const void *)m;

        rc = take_keys(out, e->actual_lrp_key, e->actual_lrp_instance_key);
        out->after = BENCH_ST_CRASHED;
        break;
    }
    case BENCH_EV_DESIRED: {
        /* Every desired event's first field is a DesiredLRP (changed: before). */
        const Models__DesiredLRP *lrp = NULL;

        if (d == &models__desired_lrpcreated_event__descriptor) {
            lrp = ((const Models__DesiredLRPCreatedEvent *)(const void *)m)->desired_lrp;
        } else if (d == &models__desired_lrpchanged_event__descriptor) {
            lrp = ((const Models__DesiredLRPChangedEvent *)(const void *)m)->after;
        } else {
            lrp = ((const Models__DesiredLRPRemovedEvent *)(const void *)m)->desired_lrp;
        }
        copy(out->guid, sizeof(out->guid), lrp != NULL ? lrp->process_guid : NULL);
        out->index = -1;
        rc = 0;
        break;
    }
    case BENCH_EV_UNKNOWN:
        break;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}
