/*
 * lrp.c - DesiredLRP and DesiredLRPUpdate validation (see validate_lrp.h):
 * the rules of the LRP itself (metric tags, routes, health checks,
 * sidecars), and the calls into the shared parts (actions, egress rules,
 * volume mounts, image layers).
 */
#include <stdint.h>
#include <string.h>

#include "bbs/validate_action.h"
#include "bbs/validate_egress.h"
#include "bbs/validate_image.h"
#include "bbs/validate_lex.h"
#include "bbs/validate_lrp.h"
#include "bbs/validate_volume.h"
#include "validate_int.h"

#define VOLUME_MOUNTED_FILES_MAX (1024 * 1024)
#define CPU_WEIGHT_MAX           100

/* ---- metric tags (2.8) ---- */

static int metric_tag_value_valid_dynamic(Models__MetricTagValue__DynamicValue d)
{
    return d == MODELS__METRIC_TAG_VALUE__DYNAMIC_VALUE__INDEX ||
           d == MODELS__METRIC_TAG_VALUE__DYNAMIC_VALUE__INSTANCE_GUID;
}

/*
 * Exactly one of static / dynamic. An entry sent without a value decodes
 * upstream as a nil pointer and crashes the handler; here it is judged as
 * an all-default value (both problems).
 */
static int v_metric_tag_value(const Models__MetricTagValue *v, struct bbs_problems *p)
{
    int has_static = v != NULL && !empty(v->static_);
    int has_dynamic = v != NULL && metric_tag_value_valid_dynamic(v->dynamic);
    int n = 0;

    if (has_static == has_dynamic) {
        n += bbs_problems_field(p, "static");
        n += bbs_problems_field(p, "dynamic");
    }
    return n;
}

/* `kr` sorted, values are Models__MetricTagValue. `metrics_guid` "" = no source_id rule. */
static int v_metric_tags(const struct bbs_key_refs *kr, const char *metrics_guid,
                         struct bbs_problems *p)
{
    const Models__MetricTagValue *source_id = NULL;
    int found = 0;
    int n = 0;

    for (size_t i = 0; i < kr->n; i++) {
        if (!bbs_key_refs_wins(kr, i)) {
            continue;
        }
        n += v_metric_tag_value(kr->v[i].val, p);
        if (strcmp(kr->v[i].key, "source_id") == 0) {
            source_id = kr->v[i].val;
            found = 1;
        }
    }
    if (kr->n > 0 && !empty(metrics_guid)) {
        if (!found || !streq(source_id == NULL ? "" : source_id->static_, metrics_guid)) {
            n += bbs_problems_field(p, "source_id should match metrics_guid");
        }
    }
    return n;
}

/* ---- routes (2.6.3) ---- */

/* Sum of the value lengths of the entries upstream keeps, over the limit? */
static int routes_too_big(const Models__ProtoRoutes *routes)
{
    struct bbs_key_refs kr;
    size_t total = 0;
    int big = 0;

    bbs_key_refs_init(&kr, routes->n_routes);
    for (size_t i = 0; i < routes->n_routes; i++) {
        const Models__ProtoRoutes__RoutesEntry *e = routes->routes[i];
        bbs_key_refs_set(&kr, i, e == NULL ? "" : e->key, e);
    }
    bbs_key_refs_sort(&kr);
    for (size_t i = 0; i < kr.n && !big; i++) {
        const Models__ProtoRoutes__RoutesEntry *e = kr.v[i].val;
        if (e != NULL && bbs_key_refs_wins(&kr, i)) {
            total += e->value.len;
            big = total > BBS_VALIDATE_ROUTES_MAX;
        }
    }
    bbs_key_refs_free(&kr);
    return big;
}

/* ---- sidecars and health checks (2.8) ---- */

static int v_sidecar(const Models__Sidecar *s, struct bbs_problems *p)
{
    int n = 0;

    if (s->action == NULL) {
        n += bbs_problems_note(p, "invalid action type");
    } else {
        n += bbs_validate_named_action("action", s->action, p);
    }
    if (s->memory_mb < 0) {
        n += bbs_problems_field(p, "memory_mb");
    }
    if (s->disk_mb < 0) {
        n += bbs_problems_field(p, "disk_mb");
    }
    return n;
}

static int v_sidecars(const Models__DesiredLRP *d, struct bbs_problems *p)
{
    int n = 0;

    for (size_t i = 0; i < d->n_sidecars; i++) {
        if (d->sidecars[i] != NULL) {
            n += v_sidecar(d->sidecars[i], p);
        }
    }
    return n;
}

/*
 * Both checks set: "check". Otherwise the port of the one that is set,
 * or of an absent TCP check (port 0) when neither is (quirk 23).
 */
static int v_check(const Models__Check *c, struct bbs_problems *p)
{
    uint32_t port = 0;

    if (c == NULL) {
        return bbs_problems_field(p, "port");
    }
    if (c->tcp_check != NULL && c->http_check != NULL) {
        return bbs_problems_field(p, "check");
    }
    if (c->http_check != NULL) {
        port = c->http_check->port;
    } else if (c->tcp_check != NULL) {
        port = c->tcp_check->port;
    }
    if (port < 1 || port > 65535) {
        return bbs_problems_field(p, "port");
    }
    return 0;
}

static int v_check_definition(const Models__CheckDefinition *cd, struct bbs_problems *p)
{
    int n = 0;

    for (size_t i = 0; i < cd->n_checks; i++) {
        n += v_check(cd->checks[i], p);
    }
    for (size_t i = 0; i < cd->n_readiness_checks; i++) {
        n += v_check(cd->readiness_checks[i], p);
    }
    return n;
}

/* ---- DesiredLRP (5.1) ---- */

static int volume_mounted_files_too_big(const Models__DesiredLRP *d)
{
    size_t total = 0;

    for (size_t i = 0; i < d->n_volume_mounted_files; i++) {
        if (d->volume_mounted_files[i] != NULL) {
            total += slen(d->volume_mounted_files[i]->content);
        }
    }
    return total > VOLUME_MOUNTED_FILES_MAX;
}

/* The part upstream validates on the DesiredLRP itself (rows 1-12). */
static int v_desired_lrp_own(const Models__DesiredLRP *d, struct bbs_problems *p)
{
    struct bbs_key_refs kr;
    int n = 0;
    int k;

    if (volume_mounted_files_too_big(d)) {
        n += bbs_problems_field(p, "volumeMountedFiles");
    }
    if (empty(d->domain)) {
        n += bbs_problems_field(p, "domain");
    }
    if (empty(d->root_fs)) {
        n += bbs_problems_field(p, "rootfs");
    }
    if (!bbs_validate_rootfs_url_ok(d->root_fs)) {
        n += bbs_problems_field(p, "rootfs");
    }
    if (d->instances < 0) {
        n += bbs_problems_field(p, "instances");
    }
    if (d->memory_mb < 0) {
        n += bbs_problems_field(p, "memory_mb");
    }
    if (d->disk_mb < 0) {
        n += bbs_problems_field(p, "disk_mb");
    }
    if (d->log_rate_limit != NULL && d->log_rate_limit->bytes_per_second < -1) {
        n += bbs_problems_field(p, "log_rate_limit_bytes_per_second");
    }
    if (slen(d->annotation) > BBS_VALIDATE_ANNOTATION_MAX) {
        n += bbs_problems_field(p, "annotation");
    }
    if (d->max_pids < 0) {
        n += bbs_problems_field(p, "max_pids");
    }
    if (d->routes != NULL && routes_too_big(d->routes)) {
        n += bbs_problems_field(p, "routes");
    }

    /* An empty proto map is indistinguishable from none: quirk 3. */
    if (d->n_metric_tags == 0) {
        return n + bbs_problems_field(p, "metric_tags");
    }
    bbs_key_refs_init(&kr, d->n_metric_tags);
    for (size_t i = 0; i < d->n_metric_tags; i++) {
        const Models__DesiredLRP__MetricTagsEntry *e = d->metric_tags[i];
        bbs_key_refs_set(&kr, i, e == NULL ? "" : e->key, e == NULL ? NULL : e->value);
    }
    bbs_key_refs_sort(&kr);
    k = v_metric_tags(&kr, d->metrics_guid, NULL);
    if (k > 0) {
        n += bbs_problems_field(p, "metric_tags");
        n += v_metric_tags(&kr, d->metrics_guid, p);
    }
    bbs_key_refs_free(&kr);
    return n;
}

/* The part upstream validates on the run info derived from it (rows 13-28). */
static int v_desired_lrp_run_info(const Models__DesiredLRP *d, struct bbs_problems *p)
{
    int n = 0;
    int k;

    if (empty(d->domain)) {
        n += bbs_problems_field(p, "domain");
    }
    if (!bbs_validate_guid_ok(d->process_guid)) {
        n += bbs_problems_field(p, "process_guid");
    }
    if (volume_mounted_files_too_big(d)) {
        n += bbs_problems_field(p, "volumeMountedFiles");
    }
    if (d->setup != NULL) {
        n += bbs_validate_named_action("setup", d->setup, p);
    }
    if (d->action == NULL) {
        n += bbs_problems_note(p, "invalid action type");
    } else {
        n += bbs_validate_named_action("action", d->action, p);
    }
    if (d->monitor != NULL) {
        n += bbs_validate_named_action("monitor", d->monitor, p);
    }
    for (size_t i = 0; i < d->n_environment_variables; i++) {
        const Models__EnvironmentVariable *e = d->environment_variables[i];
        if (e == NULL || empty(e->name)) {
            n += bbs_problems_note(p, "invalid field: name cannot be blank");
        }
    }
    for (size_t i = 0; i < d->n_egress_rules; i++) {
        const Models__SecurityGroupRule *r = d->egress_rules[i];
        if (r != NULL && bbs_validate_egress_rule(r, NULL) > 0) {
            n += bbs_problems_field(p, "egress_rules");
            n += bbs_validate_egress_rule(r, p);
        }
    }
    /* Our rule (quirk 4), where upstream checked it until early 2024. */
    if (d->cpu_weight > CPU_WEIGHT_MAX) {
        n += bbs_problems_field(p, "cpu_weight");
    }
    n += bbs_validate_cached_dependencies(d->cached_dependencies, d->n_cached_dependencies, p);
    n += bbs_validate_image_layers(d->image_layers, d->n_image_layers, d->legacy_download_user, p);
    k = v_sidecars(d, NULL);
    if (k > 0) {
        n += bbs_problems_field(p, "sidecars");
        n += v_sidecars(d, p);
    }
    n += bbs_validate_volume_mounts(d->volume_mounts, d->n_volume_mounts, p);
    n += bbs_validate_image_credentials(d->image_username, d->image_password, p);
    if (d->check_definition != NULL && v_check_definition(d->check_definition, NULL) > 0) {
        n += bbs_problems_field(p, "check_definition");
        n += v_check_definition(d->check_definition, p);
    }
    if (d->log_rate_limit != NULL && d->log_rate_limit->bytes_per_second < -1) {
        n += bbs_problems_field(p, "log_rate_limit");
    }
    return n;
}

int bbs_validate_desire(const Models__DesireLRPRequest *req, struct bbs_problems *p)
{
    int n = 0;

    if (req == NULL || req->desired_lrp == NULL) {
        return bbs_problems_field(p, "desired_lrp");
    }
    n += v_desired_lrp_own(req->desired_lrp, p);
    n += v_desired_lrp_run_info(req->desired_lrp, p);
    return n;
}

/* ---- other DesiredLRP requests (5.2) ---- */

static int v_update(const Models__DesiredLRPUpdate *u, struct bbs_problems *p)
{
    struct bbs_key_refs kr;
    int username = u->optional_image_username_case ==
                   MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_USERNAME_IMAGE_USERNAME;
    int password = u->optional_image_password_case ==
                   MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_PASSWORD_IMAGE_PASSWORD;
    int n = 0;

    if (u->optional_instances_case == MODELS__DESIRED_LRPUPDATE__OPTIONAL_INSTANCES_INSTANCES &&
        u->instances < 0) {
        n += bbs_problems_field(p, "instances");
    }
    if (u->optional_annotation_case == MODELS__DESIRED_LRPUPDATE__OPTIONAL_ANNOTATION_ANNOTATION &&
        slen(u->annotation) > BBS_VALIDATE_ANNOTATION_MAX) {
        n += bbs_problems_field(p, "annotation");
    }
    if (u->routes != NULL && routes_too_big(u->routes)) {
        n += bbs_problems_field(p, "routes");
    }
    bbs_key_refs_init(&kr, u->n_metric_tags);
    for (size_t i = 0; i < u->n_metric_tags; i++) {
        const Models__DesiredLRPUpdate__MetricTagsEntry *e = u->metric_tags[i];
        bbs_key_refs_set(&kr, i, e == NULL ? "" : e->key, e == NULL ? NULL : e->value);
    }
    bbs_key_refs_sort(&kr);
    if (v_metric_tags(&kr, "", NULL) > 0) {
        n += bbs_problems_field(p, "metric_tags");
        n += v_metric_tags(&kr, "", p);
    }
    bbs_key_refs_free(&kr);
    /* Presence of the oneofs, not emptiness. */
    if (username && !password) {
        n += bbs_problems_field(p, "image_password");
    }
    if (!username && password) {
        n += bbs_problems_field(p, "image_username");
    }
    return n;
}

int bbs_validate_update(const Models__UpdateDesiredLRPRequest *req, struct bbs_problems *p)
{
    int n = 0;

    if (req == NULL || empty(req->process_guid)) {
        n += bbs_problems_field(p, "process_guid");
    }
    if (req != NULL && req->update != NULL) {
        n += v_update(req->update, p);
    } else if (req != NULL && !empty(req->process_guid)) {
        n += bbs_problems_field(p, "update"); /* quirk 10 */
    }
    return n;
}
