/*
 * fixtures.h - request and model builders: a minimal DesiredLRP, the desired and
 * actual LRP calls a test sets its state up with, and ActualLRP reads.
 * Functions documented "asserts" use cmocka assertions (main thread only).
 */
#ifndef BBS_IT_SUPPORT_FIXTURES_H
#define BBS_IT_SUPPORT_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "actual_lrp.pb-c.h"
#include "actual_lrp_requests.pb-c.h"
#include "desired_lrp.pb-c.h"

#define IT_DOMAIN "it-domain"
#define IT_ROOTFS "preloaded:cflinuxfs4"

/*
 * A valid minimal DesiredLRP (domain IT_DOMAIN, rootfs IT_ROOTFS, run
 * action {path "/bin/app", user "vcap"}, metric tag source_id static
 * "<guid>", memory 256, disk 1024) whose parts live inside the struct. Tests
 * may change any field of `lrp` before sending it.
 */
struct it_dlrp {
    Models__DesiredLRP lrp;
    Models__Action action;
    Models__RunAction run;
    Models__DesiredLRP__MetricTagsEntry tag;
    Models__DesiredLRP__MetricTagsEntry *tags[1];
    Models__MetricTagValue tag_value;
    char guid[256];
};

void it_dlrp_init(struct it_dlrp *d, const char *guid, int32_t instances);

/* desire.r2 `lrp`; returns the error type (IT_OK = success). */
int it_desire_lrp(const Models__DesiredLRP *lrp);

/* Desire a minimal LRP with `instances` in `domain` (NULL = IT_DOMAIN); asserts success. */
void it_desire(const char *guid, const char *domain, int32_t instances);

/*
 * Desire `guid` (1 instance, default domain) on a client of its own (a new
 * connection), from any thread: 0, or -1 with the transport error or the
 * BBS error's message in `err`. Never asserts.
 */
int it_desire_own_client(const char *guid, char *err, size_t errlen);

/* get_by_process_guid.r3; asserts no transport problem. Free with it_free(). */
Models__DesiredLRPResponse *it_get_desired(const char *guid);

/* Update only the instance count; returns the error type. */
int it_update_instances(const char *guid, int32_t instances);

/* Remove the desired LRP; returns the error type. */
int it_remove_desired(const char *guid);

/* ---- ActualLRP lifecycle helpers (each returns the error type, IT_OK = success) -------- */

int it_claim(const char *guid, int32_t index, const char *instance_guid, const char *cell_id);
/* start.r1 with net info {address, one port mapping 8080->61000}; domain NULL = IT_DOMAIN. */
int it_start(const char *guid, int32_t index, const char *domain, const char *instance_guid,
             const char *cell_id, const char *address);
/*
 * The same (default domain) on a client of its own, from any thread: the
 * error type, or -1 on a transport error; `err` says which. Never asserts.
 */
int it_start_own_client(const char *guid, int32_t index, const char *instance_guid,
                        const char *cell_id, const char *address, char *err, size_t errlen);
int it_crash(const char *guid, int32_t index, const char *domain, const char *instance_guid,
             const char *cell_id, const char *message);
int it_fail(const char *guid, int32_t index, const char *domain, const char *message);
/* instance_guid NULL = no instance key in the request (match any). */
int it_remove_actual(const char *guid, int32_t index, const char *instance_guid,
                     const char *cell_id);
int it_retire(const char *guid, int32_t index, const char *domain);

/* ---- ActualLRP reads ------------------------------------------------------------------- */

/* actual_lrps/list filtered by process guid; asserts no error. Free with it_free(). */
Models__ActualLRPsResponse *it_list_actuals(const char *guid);

/* The row with `index` and `presence` in `r`, or NULL. */
const Models__ActualLRP *it_find_actual(const Models__ActualLRPsResponse *r, int32_t index,
                                        int presence);

/* A copy of the interesting fields of one ORDINARY row. */
struct it_alrp {
    int found;
    char state[32];
    char domain[256];
    char instance_guid[256];
    char cell_id[256];
    char address[256];
    int32_t crash_count;
    char crash_reason[8192];
    char placement_error[8192];
    int64_t since;
    char epoch[64];
    uint32_t mod_index;
    int routable_set;
    int routable;
    char availability_zone[256];
    size_t n_internal_routes;
    size_t n_metric_tags;
    size_t n_ports;
};

/* Read the ORDINARY row (guid, index) through actual_lrps/list; returns out->found. */
int it_actual(const char *guid, int32_t index, struct it_alrp *out);

/* Number of rows (all presences) for `guid`. */
size_t it_actual_count(const char *guid);

/* Assert the ORDINARY row (guid, index) has `state` and return it in `out`. */
void it_assert_state(const char *guid, int32_t index, const char *state, struct it_alrp *out);

#endif /* BBS_IT_SUPPORT_FIXTURES_H */
