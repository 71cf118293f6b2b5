/*
 * fleet.h - a deterministic population of LRPs, and the requests that make
 * and keep it.
 *
 * A fleet named F holds DesiredLRPs F-0, F-1, ... with `per_lrp` instances
 * each. Instance g is index g % per_lrp of DesiredLRP g / per_lrp, lives on
 * cell g % cells, and everything a cell would report about it (instance
 * guid, addresses, ports, internal route, metric tags) is a function of
 * (F, g). So any client can rebuild the exact start request a rep sends for
 * any instance, which is what makes a repeated start a no-op on the server,
 * and can check that a cell's fetch returns exactly that cell's instances.
 *
 * Identifiers have the lengths of real ones: process guids of 58
 * characters, UUID-shaped instance guids, two port mappings with TLS proxy
 * ports, three metric tags, one internal route, a cf-router route.
 *
 * Not done here: timing or reporting (the workloads), the wire (http.h).
 */
#ifndef BENCH_FLEET_H
#define BENCH_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "actual_lrp_requests.pb-c.h"
#include "desired_lrp.pb-c.h"
#include "http.h"
#include "stats.h"

#define BENCH_DOMAIN "cf-apps"

struct bench_fleet {
    char name[24];   /* [a-z0-9]: guid prefix */
    uint32_t hash;   /* of name: instance guids and cell ids */
    int per_lrp;     /* instances per DesiredLRP */
    int cells;       /* instance g lives on cell g % cells */
    int64_t desired; /* DesiredLRPs 0 .. desired-1 exist */
    int64_t running; /* instances 0 .. running-1 were claimed and started */
};

void bench_fleet_init(struct bench_fleet *f, const char *name, int per_lrp, int cells);

/* What a cell knows about instance g. */
struct bench_inst {
    char guid[96];
    int32_t index;
    char ig[40];
    char cell[40];
    char addr[20];
    char iaddr[20];
    char route[80];
    char index_str[12];
    uint32_t host_port;
};

void bench_fleet_inst(const struct bench_fleet *f, int64_t g, struct bench_inst *out);
void bench_fleet_guid(const struct bench_fleet *f, int64_t j, char *buf, size_t len);
void bench_fleet_cell(const struct bench_fleet *f, int c, char *buf, size_t len);

/* The instance number g named by (process_guid, index), or -1 if not of this fleet. */
int64_t bench_fleet_parse(const struct bench_fleet *f, const char *guid, int32_t index);

/* StartActualLRPRequest (start.r1) for `in`; borrows `in`'s strings. */
struct bench_start_msg {
    Models__StartActualLRPRequest req;
    Models__ActualLRPKey key;
    Models__ActualLRPInstanceKey ik;
    Models__ActualLRPNetInfo net;
    Models__PortMapping port[2];
    Models__PortMapping *ports[2];
    Models__ActualLRPInternalRoute route;
    Models__ActualLRPInternalRoute *routes[1];
    Models__StartActualLRPRequest__MetricTagsEntry tag[3];
    Models__StartActualLRPRequest__MetricTagsEntry *tags[3];
};

void bench_start_msg_init(struct bench_start_msg *m, const struct bench_inst *in);

/* ClaimActualLRPRequest for `in`; borrows `in`'s strings. */
struct bench_claim_msg {
    Models__ClaimActualLRPRequest req;
    Models__ActualLRPInstanceKey ik;
};

void bench_claim_msg_init(struct bench_claim_msg *m, const struct bench_inst *in);

/* DesireLRPRequest for DesiredLRP `j` of `f` with `instances` instances; self-contained. */
struct bench_desire_msg {
    Models__DesireLRPRequest req;
    Models__DesiredLRP lrp;
    Models__Action action;
    Models__RunAction run;
    char *args[3];
    Models__EnvironmentVariable env[2];
    Models__EnvironmentVariable *envp[2];
    Models__DesiredLRP__MetricTagsEntry tag;
    Models__DesiredLRP__MetricTagsEntry *tags[1];
    Models__MetricTagValue tag_value;
    Models__ProtoRoutes routes;
    Models__ProtoRoutes__RoutesEntry route;
    Models__ProtoRoutes__RoutesEntry *route_entries[1];
    uint32_t ports[1];
    char guid[96];
    char log_guid[40];
    char route_json[160];
};

void bench_desire_msg_init(struct bench_desire_msg *m, const struct bench_fleet *f, int64_t j,
                           int32_t instances);

/*
 * Desire DesiredLRPs [from, to) of `f` with `k` concurrent clients, each
 * with f->per_lrp instances. Failures are tallied in `errs`; returns the
 * number of requests sent.
 */
uint64_t bench_fleet_desire(struct bench_http *h, const struct bench_fleet *f, int64_t from,
                            int64_t to, int k, struct bench_errs *errs);

/*
 * Claim then start instances [from, to) of `f` with `k` concurrent clients,
 * each taking the next unprocessed instance. A failed claim skips the
 * start. Each successful pair adds its latency (claim posted to start
 * answered) to `lat` (may be NULL). Returns the number of successful pairs;
 * `*requests` (may be NULL) receives the requests sent, the pings below
 * not counted.
 *
 * With `ready` (may be NULL), the clients' connections are opened first
 * (bench_conns_open: failures go to errs->wire) and `ready(ready_ud)` runs
 * just before the first claim, where a timed phase starts.
 */
uint64_t bench_fleet_claimstart(struct bench_http *h, const struct bench_fleet *f, int64_t from,
                                int64_t to, int k, struct bench_lat *lat, struct bench_errs *errs,
                                uint64_t *requests, void (*ready)(void *ud), void *ready_ud);

#endif /* BENCH_FLEET_H */
