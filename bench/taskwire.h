/*
 * taskwire.h - the requests of the `tasks` workload, and the checks of what
 * the BBS sends back to it (reference 2 section 11).
 *
 * A task of the workload is named by (run hash, K, client, seq): its guid
 * is UUID-shaped and a pure function of those, so the callback receiver
 * (another thread) can rebuild the guid a callback must carry. The
 * definition is what Cloud Controller desires to stage a buildpack app:
 * serial(download the package, run the builder, upload the droplet), the
 * lifecycle as a cached dependency, two egress rules, environment and
 * resource limits, about 2.1 kB on the wire.
 *
 * Not done here: the cycle itself and its timing (tasks.c), the receiver
 * (sink.h).
 */
#ifndef BENCH_TASKWIRE_H
#define BENCH_TASKWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "task_requests.pb-c.h"

/* "%08x-%04x-4%03x-8%03x-%012x": 36 characters, as CC's task guids. */
void bench_task_guid(char *buf, size_t len, uint32_t run_hash, int k, int client, int64_t seq);

/*
 * The result a cell reports on complete (the builder's staging result, a
 * JSON text), and the same text as it must appear inside the callback's
 * JSON body (Go's encoding: quotes escaped).
 */
extern const char bench_task_result[];
extern const char bench_task_result_json[];

/*
 * DesireTaskRequest for task `guid` of `domain`; `callback_url` NULL or ""
 * for none. Copies the strings; self-contained (do not copy the struct after
 * init: it points into itself).
 */
struct bench_task_desire_msg {
    Models__DesireTaskRequest req;
    Models__TaskDefinition def;
    Models__Action action;
    Models__SerialAction serial;
    Models__Action step[3];
    Models__Action *steps[3];
    Models__DownloadAction download;
    Models__RunAction run;
    Models__UploadAction upload;
    Models__ResourceLimits limits;
    char *args[9];
    Models__EnvironmentVariable env[5];
    Models__EnvironmentVariable *envp[5];
    Models__SecurityGroupRule rule[2];
    Models__SecurityGroupRule *rules[2];
    char *public_dests[5];
    char *dns_dests[1];
    uint32_t dns_ports[1];
    Models__CachedDependency dep;
    Models__CachedDependency *deps[1];
    Models__LogRateLimit log_rate;
    char guid[40];
    char domain[48];
    char app_guid[40];
    char package_url[160];
    char droplet_url[200];
    char callback_url[160];
    char annotation[320];
    char vcap_app[640];
};

void bench_task_desire_msg_init(struct bench_task_desire_msg *m, const char *guid,
                                const char *domain, const char *callback_url);

/*
 * Does the callback body (JSON, reference 2 11.6) say task `guid` succeeded
 * with bench_task_result? Returns 1 when it carries "task_guid":"<guid>",
 * "failed":false and "result":<bench_task_result_json>; else 0. A textual
 * check: the keys are Go's and the body is Go's encoding (no spaces).
 */
int bench_task_callback_ok(const char *body, size_t len, const char *guid);

/*
 * The callback path the workload gives the BBS: "/cb/<tag>/<client>/<seq>",
 * and its parse. `tag` is [a-z0-9-] (the configuration's domain), so a
 * callback that arrives late, for another configuration, is told apart.
 * bench_task_cb_parse() returns 0 and the numbers when `path[0..n)` is such
 * a path with this `tag`, -1 otherwise.
 */
void bench_task_cb_path(char *buf, size_t len, const char *tag, int client, int64_t seq);
int bench_task_cb_parse(const char *path, size_t n, const char *tag, int *client, int64_t *seq);

#endif /* BENCH_TASKWIRE_H */
