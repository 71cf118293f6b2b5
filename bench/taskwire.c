/*
 * taskwire.c - task requests and callback checks (see taskwire.h).
 */
#define _GNU_SOURCE /* memmem */
#include "taskwire.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* protobuf-c string fields are `char *`; literals are const under -Wwrite-strings. */
#define S(lit) ((char *)(lit))

const char bench_task_result[] =
    "{\"lifecycle_type\":\"buildpack\",\"lifecycle_metadata\":{\"buildpack_key\":"
    "\"ruby_buildpack\",\"detected_buildpack\":\"ruby\"},\"process_types\":{\"web\":"
    "\"bundle exec rackup config.ru -p $PORT\"},\"execution_metadata\":\"\"}";

/* bench_task_result as a JSON string literal (quotes included). */
const char bench_task_result_json[] =
    "\"{\\\"lifecycle_type\\\":\\\"buildpack\\\",\\\"lifecycle_metadata\\\":{\\\"buildpack_key\\\":"
    "\\\"ruby_buildpack\\\",\\\"detected_buildpack\\\":\\\"ruby\\\"},\\\"process_types\\\":{"
    "\\\"web\\\":\\\"bundle exec rackup config.ru -p $PORT\\\"},\\\"execution_metadata\\\":"
    "\\\"\\\"}\"";

void bench_task_guid(char *buf, size_t len, uint32_t run_hash, int k, int client, int64_t seq)
{
    snprintf(buf, len, "%08" PRIx32 "-%04x-4%03x-8%03x-%012" PRIx64, run_hash,
             (unsigned)k & 0xffffu, (unsigned)client & 0xfffu, ((unsigned)client >> 12) & 0xfffu,
             (uint64_t)seq & (uint64_t)0xffffffffffff);
}

void bench_task_desire_msg_init(struct bench_task_desire_msg *m, const char *guid,
                                const char *domain, const char *callback_url)
{
    static const Models__DesireTaskRequest req_init = MODELS__DESIRE_TASK_REQUEST__INIT;
    static const Models__TaskDefinition def_init = MODELS__TASK_DEFINITION__INIT;
    static const Models__Action action_init = MODELS__ACTION__INIT;
    static const Models__SerialAction serial_init = MODELS__SERIAL_ACTION__INIT;
    static const Models__DownloadAction download_init = MODELS__DOWNLOAD_ACTION__INIT;
    static const Models__RunAction run_init = MODELS__RUN_ACTION__INIT;
    static const Models__UploadAction upload_init = MODELS__UPLOAD_ACTION__INIT;
    static const Models__ResourceLimits limits_init = MODELS__RESOURCE_LIMITS__INIT;
    static const Models__EnvironmentVariable env_init = MODELS__ENVIRONMENT_VARIABLE__INIT;
    static const Models__SecurityGroupRule rule_init = MODELS__SECURITY_GROUP_RULE__INIT;
    static const Models__CachedDependency dep_init = MODELS__CACHED_DEPENDENCY__INIT;
    static const Models__LogRateLimit rate_init = MODELS__LOG_RATE_LIMIT__INIT;
    /* CC's default running security group: everything public, nothing private. */
    static const char *const public_dests[5] = {
        "0.0.0.0-9.255.255.255", "11.0.0.0-169.253.255.255", "169.255.0.0-172.15.255.255",
        "172.32.0.0-192.167.255.255", "192.169.0.0-255.255.255.255"};
    static const char *const args[9] = {"-buildpackOrder=ruby_buildpack,nodejs_buildpack",
                                        "-skipCertVerify=false",
                                        "-skipDetect=false",
                                        "-buildDir=/tmp/app",
                                        "-outputDroplet=/tmp/droplet",
                                        "-outputMetadata=/tmp/result.json",
                                        "-outputBuildArtifactsCache=/tmp/output-cache",
                                        "-buildpacksDir=/tmp/buildpacks",
                                        "-buildArtifactsCacheDir=/tmp/cache"};

    m->req = req_init;
    m->def = def_init;
    m->action = action_init;
    m->serial = serial_init;
    m->download = download_init;
    m->run = run_init;
    m->upload = upload_init;
    m->limits = limits_init;
    m->dep = dep_init;
    m->log_rate = rate_init;

    snprintf(m->guid, sizeof(m->guid), "%s", guid);
    snprintf(m->domain, sizeof(m->domain), "%s", domain);
    /* The app being staged: the guid with its second group replaced (still UUID-shaped). */
    snprintf(m->app_guid, sizeof(m->app_guid), "%.9sa0a0%.23s", guid,
             strlen(guid) >= 36 ? guid + 13 : "-4000-8000-000000000000");
    snprintf(m->package_url, sizeof(m->package_url),
             "http://cloud-controller-ng.service.cf.internal:9022/internal/v4/packages/%s/download",
             m->app_guid);
    snprintf(m->droplet_url, sizeof(m->droplet_url),
             "http://cc-uploader.service.cf.internal:9090/v1/droplet/%s"
             "?cc-droplet-upload-uri=https%%3A%%2F%%2Fcloud-controller-ng.service.cf.internal",
             guid);
    snprintf(m->callback_url, sizeof(m->callback_url), "%s",
             callback_url != NULL ? callback_url : "");
    snprintf(m->annotation, sizeof(m->annotation),
             "{\"lifecycle\":\"buildpack\",\"completion_callback\":"
             "\"https://cloud-controller-ng.service.cf.internal:9023/internal/v3/staging/%s/"
             "build_completed?start=false\"}",
             guid);
    snprintf(m->vcap_app, sizeof(m->vcap_app),
             "{\"cf_api\":\"https://api.example.com\",\"limits\":{\"fds\":16384,\"mem\":1024,"
             "\"disk\":4096},\"application_name\":\"bench-app\",\"application_uris\":["
             "\"bench-app.example.com\"],\"name\":\"bench-app\",\"space_name\":\"bench\","
             "\"space_id\":\"0f6c1a7e-3d2b-4c5a-8e9f-1a2b3c4d5e6f\",\"organization_id\":"
             "\"1e2d3c4b-5a69-4788-99aa-bbccddeeff00\",\"organization_name\":\"bench-org\","
             "\"uris\":[\"bench-app.example.com\"],\"users\":null,\"application_id\":\"%s\"}",
             m->app_guid);

    m->download.artifact = S("app package");
    m->download.from = m->package_url;
    m->download.to = S("/tmp/app");
    m->download.user = S("vcap");
    m->download.checksum_algorithm = S("sha256");
    m->download.checksum_value =
        S("5f0c8a2e4b7d9c1e3a6f8b0d2c4e6a8b1d3f5a7c9e0b2d4f6a8c0e2b4d6f8a0c");

    for (size_t i = 0; i < 9; i++) {
        m->args[i] = (char *)args[i];
    }
    for (size_t i = 0; i < 5; i++) {
        m->env[i] = env_init;
        m->envp[i] = &m->env[i];
    }
    m->env[0].name = S("VCAP_APPLICATION");
    m->env[0].value = m->vcap_app;
    m->env[1].name = S("VCAP_SERVICES");
    m->env[1].value = S("{}");
    m->env[2].name = S("MEMORY_LIMIT");
    m->env[2].value = S("1024m");
    m->env[3].name = S("CF_STACK");
    m->env[3].value = S("cflinuxfs4");
    m->env[4].name = S("LANG");
    m->env[4].value = S("en_US.UTF-8");
    m->limits.optional_nofile_case = MODELS__RESOURCE_LIMITS__OPTIONAL_NOFILE_NOFILE;
    m->limits.nofile = 16384;
    m->run.path = S("/tmp/lifecycle/builder");
    m->run.n_args = 9;
    m->run.args = m->args;
    m->run.n_env = 5;
    m->run.env = m->envp;
    m->run.resource_limits = &m->limits;
    m->run.user = S("vcap");
    m->run.log_source = S("STG");

    m->upload.artifact = S("droplet");
    m->upload.from = S("/tmp/droplet");
    m->upload.to = m->droplet_url;
    m->upload.user = S("vcap");

    for (size_t i = 0; i < 3; i++) {
        m->step[i] = action_init;
        m->steps[i] = &m->step[i];
    }
    m->step[0].download_action = &m->download;
    m->step[1].run_action = &m->run;
    m->step[2].upload_action = &m->upload;
    m->serial.n_actions = 3;
    m->serial.actions = m->steps;
    m->action.serial_action = &m->serial;

    for (size_t i = 0; i < 2; i++) {
        m->rule[i] = rule_init;
        m->rules[i] = &m->rule[i];
    }
    for (size_t i = 0; i < 5; i++) {
        m->public_dests[i] = (char *)public_dests[i];
    }
    m->rule[0].protocol = S("all");
    m->rule[0].n_destinations = 5;
    m->rule[0].destinations = m->public_dests;
    m->dns_dests[0] = S("0.0.0.0/0");
    m->dns_ports[0] = 53;
    m->rule[1].protocol = S("udp");
    m->rule[1].n_destinations = 1;
    m->rule[1].destinations = m->dns_dests;
    m->rule[1].n_ports = 1;
    m->rule[1].ports = m->dns_ports;

    m->dep.name = S("buildpack lifecycle");
    m->dep.from = S("http://file-server.service.cf.internal:8080/v1/static/"
                    "buildpack_app_lifecycle/buildpack_app_lifecycle.tgz");
    m->dep.to = S("/tmp/lifecycle");
    m->dep.cache_key = S("buildpack-cflinuxfs4-lifecycle");
    m->deps[0] = &m->dep;
    m->log_rate.bytes_per_second = -1;

    m->def.root_fs = S("preloaded:cflinuxfs4");
    m->def.action = &m->action;
    m->def.disk_mb = 4096;
    m->def.memory_mb = 1024;
    m->def.cpu_weight = 50;
    m->def.log_source = S("STG");
    m->def.log_guid = m->app_guid;
    m->def.metrics_guid = m->app_guid;
    m->def.result_file = S("/tmp/result.json");
    m->def.completion_callback_url = m->callback_url;
    m->def.annotation = m->annotation;
    m->def.n_egress_rules = 2;
    m->def.egress_rules = m->rules;
    m->def.n_cached_dependencies = 1;
    m->def.cached_dependencies = m->deps;
    m->def.legacy_download_user = S("vcap");
    m->def.trusted_system_certificates_path = S("/etc/cf-system-certificates");
    m->def.max_pids = 1024;
    m->def.log_rate_limit = &m->log_rate;

    m->req.task_definition = &m->def;
    m->req.task_guid = m->guid;
    m->req.domain = m->domain;
}

/* `needle` occurs in body[0..len) (both plain bytes; needle NUL-terminated). */
static int has(const char *body, size_t len, const char *needle)
{
    return memmem(body, len, needle, strlen(needle)) != NULL;
}

int bench_task_callback_ok(const char *body, size_t len, const char *guid)
{
    char want[96];

    snprintf(want, sizeof(want), "\"task_guid\":\"%s\",", guid);
    if (strlen(guid) > 40 || !has(body, len, want) || !has(body, len, "\"failed\":false,") ||
        !has(body, len, "\"failure_reason\":\"\",")) {
        return 0;
    }
    {
        char result[sizeof(bench_task_result_json) + 16];

        snprintf(result, sizeof(result), "\"result\":%s", bench_task_result_json);
        return has(body, len, result);
    }
}

void bench_task_cb_path(char *buf, size_t len, const char *tag, int client, int64_t seq)
{
    snprintf(buf, len, "/cb/%s/%d/%" PRId64, tag, client, seq);
}

/* A decimal without sign or leading zeros at s[0..n); its end in *end. -1 if none. */
static int64_t decimal(const char *s, size_t n, size_t *end)
{
    int64_t v = 0;
    size_t i = 0;

    while (i < n && s[i] >= '0' && s[i] <= '9' && i < 15) {
        v = v * 10 + (s[i] - '0');
        i++;
    }
    if (i == 0 || (i > 1 && s[0] == '0')) {
        return -1;
    }
    *end = i;
    return v;
}

int bench_task_cb_parse(const char *path, size_t n, const char *tag, int *client, int64_t *seq)
{
    size_t tl = strlen(tag);
    size_t used;
    int64_t c;
    int64_t s;

    if (n < 4 + tl + 1 || memcmp(path, "/cb/", 4) != 0 || memcmp(path + 4, tag, tl) != 0 ||
        path[4 + tl] != '/') {
        return -1;
    }
    path += 5 + tl;
    n -= 5 + tl;
    c = decimal(path, n, &used);
    if (c < 0 || c > 1000000 || used == n || path[used] != '/') {
        return -1;
    }
    path += used + 1;
    n -= used + 1;
    s = decimal(path, n, &used);
    if (s < 0 || used != n) {
        return -1;
    }
    *client = (int)c;
    *seq = s;
    return 0;
}
