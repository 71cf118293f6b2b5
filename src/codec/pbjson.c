/*
 * pbjson.c - protobuf-c messages <-> JSON as upstream's Go models print
 * them (pbjson.h has the rules).
 *
 * Encoding walks a message with its descriptor into jansson values.
 * Decoding goes the other way into protobuf wire bytes (pbw.h), which
 * protobuf-c then unpacks: the result is an ordinary unpacked message,
 * freed like any other, and the HTTP front end can feed the bytes to the
 * route's unchanged protobuf path.
 *
 * What differs from "the proto field name, omitted when empty" lives in
 * one table, taken from the json tags of upstream's generated models
 * (the models/ .pb.go files) and its hand-written MarshalJSON methods. The table is
 * sorted (strcmp on message, then field) for bsearch; a unit test checks
 * the order and that every row names a real field.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/pbjson.h"
#include "bbs/pbw.h"
#include "bbs/xalloc.h"

enum pj_flags {
    /* No omitempty in upstream's tag: written even at its zero value (nil as null). */
    PJ_ALWAYS = 1,
    /* Embedded in the Go struct: its fields are flattened into the parent object. */
    PJ_EMBED = 2,
    /* A message held by value in the Go struct (nullable=false): {} rather than null. */
    PJ_VALUE = 4,
    /* An empty map is written as {} rather than null (CellPresence.annotations). */
    PJ_MAP_OBJECT = 8,
};

struct pj_rule {
    const char *msg;   /* the descriptor's full name */
    const char *field; /* the proto field name */
    const char *json;  /* the JSON key; NULL: the field name; "" with PJ_EMBED */
    unsigned flags;    /* enum pj_flags */
    const char *oneof; /* a oneof member: the Go wrapper key ("OptionalRoutable"); NULL: the
                          member is written under its own key, only when set */
};

/* Generated once from upstream's models (json tags); see the file comment. */
static const struct pj_rule rules[] = {
    {"models.Action", "codependent_action", "codependent", 0, NULL},
    {"models.Action", "download_action", "download", 0, NULL},
    {"models.Action", "emit_progress_action", "emit_progress", 0, NULL},
    {"models.Action", "parallel_action", "parallel", 0, NULL},
    {"models.Action", "run_action", "run", 0, NULL},
    {"models.Action", "serial_action", "serial", 0, NULL},
    {"models.Action", "timeout_action", "timeout", 0, NULL},
    {"models.Action", "try_action", "try", 0, NULL},
    {"models.Action", "upload_action", "upload", 0, NULL},
    {"models.ActualLRP", "actual_lrp_instance_key", "", PJ_EMBED | PJ_VALUE, NULL},
    {"models.ActualLRP", "actual_lrp_key", "", PJ_EMBED | PJ_VALUE, NULL},
    {"models.ActualLRP", "actual_lrp_net_info", "", PJ_EMBED | PJ_VALUE, NULL},
    {"models.ActualLRP", "availability_zone", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRP", "crash_count", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRP", "modification_tag", NULL, PJ_ALWAYS | PJ_VALUE, NULL},
    {"models.ActualLRP", "presence", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRP", "routable", NULL, PJ_ALWAYS, "OptionalRoutable"},
    {"models.ActualLRP", "since", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRP", "state", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPCrashedEvent", "actual_lrp_instance_key", "", PJ_EMBED | PJ_VALUE, NULL},
    {"models.ActualLRPCrashedEvent", "actual_lrp_key", "", PJ_EMBED | PJ_VALUE, NULL},
    {"models.ActualLRPCrashedEvent", "crash_count", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPCrashedEvent", "since", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPGroupByProcessGuidAndIndexRequest", "index", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPGroupByProcessGuidAndIndexRequest", "process_guid", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPGroupsByProcessGuidRequest", "process_guid", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPGroupsRequest", "cell_id", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPGroupsRequest", "domain", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPInfo", "Routable", NULL, 0, "OptionalRoutable"},
    {"models.ActualLRPInfo", "actual_lrp_net_info", "", PJ_EMBED | PJ_VALUE, NULL},
    {"models.ActualLRPInfo", "availability_zone", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPInfo", "crash_count", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPInfo", "modification_tag", NULL, PJ_ALWAYS | PJ_VALUE, NULL},
    {"models.ActualLRPInfo", "presence", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPInfo", "since", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPInfo", "state", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPInstanceChangedEvent", "actual_lrp_instance_key", "", PJ_EMBED | PJ_VALUE,
     NULL},
    {"models.ActualLRPInstanceChangedEvent", "actual_lrp_key", "", PJ_EMBED | PJ_VALUE, NULL},
    {"models.ActualLRPInstanceChangedEvent", "trace_id", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPInstanceCreatedEvent", "trace_id", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPInstanceKey", "cell_id", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPInstanceKey", "instance_guid", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPInstanceRemovedEvent", "trace_id", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPInternalRoute", "hostname", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPKey", "domain", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPKey", "index", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPKey", "process_guid", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPNetInfo", "address", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPNetInfo", "ports", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPNetInfo", "preferred_address", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPsByProcessGuidsRequest", "process_guids", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPsRequest", "cell_id", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPsRequest", "domain", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPsRequest", "index", NULL, PJ_ALWAYS, NULL},
    {"models.ActualLRPsRequest", "process_guid", NULL, PJ_ALWAYS, NULL},
    {"models.CachedDependency", "cache_key", NULL, PJ_ALWAYS, NULL},
    {"models.CachedDependency", "from", NULL, PJ_ALWAYS, NULL},
    {"models.CachedDependency", "log_source", NULL, PJ_ALWAYS, NULL},
    {"models.CachedDependency", "name", NULL, PJ_ALWAYS, NULL},
    {"models.CachedDependency", "to", NULL, PJ_ALWAYS, NULL},
    {"models.CellCapacity", "containers", NULL, PJ_ALWAYS, NULL},
    {"models.CellCapacity", "disk_mb", NULL, PJ_ALWAYS, NULL},
    {"models.CellCapacity", "memory_mb", NULL, PJ_ALWAYS, NULL},
    {"models.CellPresence", "annotations", NULL, PJ_ALWAYS | PJ_MAP_OBJECT, NULL},
    {"models.CellPresence", "cell_id", NULL, PJ_ALWAYS, NULL},
    {"models.CellPresence", "rep_address", NULL, PJ_ALWAYS, NULL},
    {"models.CellPresence", "rep_url", NULL, PJ_ALWAYS, NULL},
    {"models.CellPresence", "rootfs_providers", "rootfs_provider_list", 0, NULL},
    {"models.CellPresence", "zone", NULL, PJ_ALWAYS, NULL},
    {"models.CheckDefinition", "log_source", NULL, PJ_ALWAYS, NULL},
    {"models.ClaimActualLRPRequest", "index", NULL, PJ_ALWAYS, NULL},
    {"models.ClaimActualLRPRequest", "process_guid", NULL, PJ_ALWAYS, NULL},
    {"models.CompleteTaskRequest", "cell_id", NULL, PJ_ALWAYS, NULL},
    {"models.CompleteTaskRequest", "failed", NULL, PJ_ALWAYS, NULL},
    {"models.CompleteTaskRequest", "failure_reason", NULL, PJ_ALWAYS, NULL},
    {"models.CompleteTaskRequest", "result", NULL, PJ_ALWAYS, NULL},
    {"models.CompleteTaskRequest", "task_guid", NULL, PJ_ALWAYS, NULL},
    {"models.CrashActualLRPRequest", "error_message", NULL, PJ_ALWAYS, NULL},
    {"models.DedicatedDevice", "device_config", NULL, PJ_ALWAYS, NULL},
    {"models.DedicatedDevice", "mount_config", NULL, PJ_ALWAYS, NULL},
    {"models.DedicatedDevice", "mounter_id", NULL, PJ_ALWAYS, NULL},
    {"models.DesireTaskRequest", "domain", NULL, PJ_ALWAYS, NULL},
    {"models.DesireTaskRequest", "task_definition", NULL, PJ_ALWAYS, NULL},
    {"models.DesireTaskRequest", "task_guid", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRP", "PlacementTags", "placement_tags", 0, NULL},
    {"models.DesiredLRP", "annotation", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRP", "cpu_weight", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRP", "deprecated_start_timeout_s", "deprecated_timeout_ns", 0, NULL},
    {"models.DesiredLRP", "disk_mb", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRP", "domain", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRP", "environment_variables", "env", PJ_ALWAYS, NULL},
    {"models.DesiredLRP", "instances", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRP", "log_guid", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRP", "log_source", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRP", "max_pids", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRP", "memory_mb", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRP", "metrics_guid", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRP", "privileged", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRP", "process_guid", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRP", "root_fs", "rootfs", PJ_ALWAYS, NULL},
    {"models.DesiredLRP", "start_timeout_ms", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRP", "update_strategy", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRP", "volume_mounted_files", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPByProcessGuidRequest", "process_guid", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPChangedEvent", "trace_id", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPCreatedEvent", "trace_id", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPKey", "domain", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPKey", "log_guid", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPKey", "process_guid", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPRemovedEvent", "trace_id", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPResource", "disk_mb", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPResource", "max_pids", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPResource", "memory_mb", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPResource", "root_fs", "rootfs", PJ_ALWAYS, NULL},
    {"models.DesiredLRPRunInfo", "cpu_weight", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPRunInfo", "created_at", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPRunInfo", "deprecated_start_timeout_s", "start_timeout", 0, NULL},
    {"models.DesiredLRPRunInfo", "desired_lrp_key", "", PJ_EMBED | PJ_VALUE, NULL},
    {"models.DesiredLRPRunInfo", "egress_rules", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPRunInfo", "environment_variables", "env", PJ_ALWAYS, NULL},
    {"models.DesiredLRPRunInfo", "log_source", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPRunInfo", "metrics_guid", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPRunInfo", "privileged", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPRunInfo", "start_timeout_ms", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPRunInfo", "volume_mounted_files", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPSchedulingInfo", "PlacementTags", "placement_tags", 0, NULL},
    {"models.DesiredLRPSchedulingInfo", "annotation", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPSchedulingInfo", "desired_lrp_key", "", PJ_EMBED | PJ_VALUE, NULL},
    {"models.DesiredLRPSchedulingInfo", "desired_lrp_resource", "", PJ_EMBED | PJ_VALUE, NULL},
    {"models.DesiredLRPSchedulingInfo", "instances", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPSchedulingInfo", "modification_tag", "", PJ_EMBED | PJ_VALUE, NULL},
    {"models.DesiredLRPSchedulingInfo", "routes", NULL, PJ_ALWAYS, NULL},
    {"models.DesiredLRPsRequest", "domain", NULL, PJ_ALWAYS, NULL},
    {"models.DownloadAction", "cache_key", NULL, PJ_ALWAYS, NULL},
    {"models.DownloadAction", "from", NULL, PJ_ALWAYS, NULL},
    {"models.DownloadAction", "to", NULL, PJ_ALWAYS, NULL},
    {"models.DownloadAction", "user", NULL, PJ_ALWAYS, NULL},
    {"models.EmitProgressAction", "failure_message_prefix", NULL, PJ_ALWAYS, NULL},
    {"models.EmitProgressAction", "start_message", NULL, PJ_ALWAYS, NULL},
    {"models.EmitProgressAction", "success_message", NULL, PJ_ALWAYS, NULL},
    {"models.EnvironmentVariable", "name", NULL, PJ_ALWAYS, NULL},
    {"models.EnvironmentVariable", "value", NULL, PJ_ALWAYS, NULL},
    {"models.Error", "message", NULL, PJ_ALWAYS, NULL},
    {"models.Error", "type", NULL, PJ_ALWAYS, NULL},
    {"models.EvacuateCrashedActualLRPRequest", "error_message", NULL, PJ_ALWAYS, NULL},
    {"models.EvacuateRunningActualLRPRequest", "Routable", NULL, 0, "OptionalRoutable"},
    {"models.EvacuateRunningActualLRPRequest", "availability_zone", NULL, PJ_ALWAYS, NULL},
    {"models.EvacuationResponse", "keep_container", NULL, PJ_ALWAYS, NULL},
    {"models.EventsByCellId", "cell_id", NULL, PJ_ALWAYS, NULL},
    {"models.FailActualLRPRequest", "error_message", NULL, PJ_ALWAYS, NULL},
    {"models.FailTaskRequest", "failure_reason", NULL, PJ_ALWAYS, NULL},
    {"models.FailTaskRequest", "task_guid", NULL, PJ_ALWAYS, NULL},
    {"models.File", "content", NULL, PJ_ALWAYS, NULL},
    {"models.File", "path", NULL, PJ_ALWAYS, NULL},
    {"models.HTTPCheck", "path", NULL, PJ_ALWAYS, NULL},
    {"models.HTTPCheck", "port", NULL, PJ_ALWAYS, NULL},
    {"models.ICMPInfo", "code", NULL, PJ_ALWAYS, NULL},
    {"models.ICMPInfo", "type", NULL, PJ_ALWAYS, NULL},
    {"models.ImageLayer", "destination_path", NULL, PJ_ALWAYS, NULL},
    {"models.ImageLayer", "digest_algorithm", NULL, 0, NULL},
    {"models.ImageLayer", "layer_type", NULL, PJ_ALWAYS, NULL},
    {"models.ImageLayer", "media_type", NULL, PJ_ALWAYS, NULL},
    {"models.ImageLayer", "url", NULL, PJ_ALWAYS, NULL},
    {"models.MetricTagValue", "dynamic", NULL, 0, NULL},
    {"models.ModificationTag", "epoch", NULL, PJ_ALWAYS, NULL},
    {"models.ModificationTag", "index", NULL, PJ_ALWAYS, NULL},
    {"models.PingResponse", "available", NULL, PJ_ALWAYS, NULL},
    {"models.PortMapping", "container_port", NULL, PJ_ALWAYS, NULL},
    {"models.PortMapping", "container_tls_proxy_port", NULL, PJ_ALWAYS, NULL},
    {"models.PortMapping", "host_port", NULL, PJ_ALWAYS, NULL},
    {"models.PortMapping", "host_tls_proxy_port", NULL, PJ_ALWAYS, NULL},
    {"models.PortRange", "end", NULL, PJ_ALWAYS, NULL},
    {"models.PortRange", "start", NULL, PJ_ALWAYS, NULL},
    {"models.Provider", "name", NULL, PJ_ALWAYS, NULL},
    {"models.RejectTaskRequest", "rejection_reason", NULL, PJ_ALWAYS, NULL},
    {"models.RejectTaskRequest", "task_guid", NULL, PJ_ALWAYS, NULL},
    {"models.RemoveActualLRPRequest", "index", NULL, PJ_ALWAYS, NULL},
    {"models.RemoveActualLRPRequest", "process_guid", NULL, PJ_ALWAYS, NULL},
    {"models.RemoveDesiredLRPRequest", "process_guid", NULL, PJ_ALWAYS, NULL},
    {"models.RunAction", "path", NULL, PJ_ALWAYS, NULL},
    {"models.RunAction", "suppress_log_output", NULL, PJ_ALWAYS, NULL},
    {"models.RunAction", "user", NULL, PJ_ALWAYS, NULL},
    {"models.RunAction", "volume_mounted_files", NULL, PJ_ALWAYS, NULL},
    {"models.SecurityGroupRule", "log", NULL, PJ_ALWAYS, NULL},
    {"models.SharedDevice", "mount_config", NULL, PJ_ALWAYS, NULL},
    {"models.SharedDevice", "volume_id", NULL, PJ_ALWAYS, NULL},
    {"models.Sidecar", "disk_mb", NULL, PJ_ALWAYS, NULL},
    {"models.Sidecar", "memory_mb", NULL, PJ_ALWAYS, NULL},
    {"models.StartActualLRPRequest", "Routable", NULL, 0, "OptionalRoutable"},
    {"models.StartActualLRPRequest", "availability_zone", NULL, PJ_ALWAYS, NULL},
    {"models.StartTaskRequest", "cell_id", NULL, PJ_ALWAYS, NULL},
    {"models.StartTaskRequest", "task_guid", NULL, PJ_ALWAYS, NULL},
    {"models.StartTaskResponse", "should_start", NULL, PJ_ALWAYS, NULL},
    {"models.TCPCheck", "port", NULL, PJ_ALWAYS, NULL},
    {"models.Task", "cell_id", NULL, PJ_ALWAYS, NULL},
    {"models.Task", "created_at", NULL, PJ_ALWAYS, NULL},
    {"models.Task", "domain", NULL, PJ_ALWAYS, NULL},
    {"models.Task", "failed", NULL, PJ_ALWAYS, NULL},
    {"models.Task", "failure_reason", NULL, PJ_ALWAYS, NULL},
    {"models.Task", "first_completed_at", NULL, PJ_ALWAYS, NULL},
    {"models.Task", "rejection_count", NULL, PJ_ALWAYS, NULL},
    {"models.Task", "rejection_reason", NULL, PJ_ALWAYS, NULL},
    {"models.Task", "result", NULL, PJ_ALWAYS, NULL},
    {"models.Task", "state", NULL, PJ_ALWAYS, NULL},
    {"models.Task", "task_definition", "", PJ_EMBED, NULL},
    {"models.Task", "task_guid", NULL, PJ_ALWAYS, NULL},
    {"models.Task", "updated_at", NULL, PJ_ALWAYS, NULL},
    {"models.TaskByGuidRequest", "task_guid", NULL, PJ_ALWAYS, NULL},
    {"models.TaskCallbackResponse", "created_at", NULL, PJ_ALWAYS, NULL},
    {"models.TaskCallbackResponse", "failed", NULL, PJ_ALWAYS, NULL},
    {"models.TaskCallbackResponse", "failure_reason", NULL, PJ_ALWAYS, NULL},
    {"models.TaskCallbackResponse", "result", NULL, PJ_ALWAYS, NULL},
    {"models.TaskCallbackResponse", "task_guid", NULL, PJ_ALWAYS, NULL},
    {"models.TaskDefinition", "cpu_weight", NULL, PJ_ALWAYS, NULL},
    {"models.TaskDefinition", "disk_mb", NULL, PJ_ALWAYS, NULL},
    {"models.TaskDefinition", "environment_variables", "env", 0, NULL},
    {"models.TaskDefinition", "image_password", NULL, PJ_ALWAYS, NULL},
    {"models.TaskDefinition", "image_username", NULL, PJ_ALWAYS, NULL},
    {"models.TaskDefinition", "log_guid", NULL, PJ_ALWAYS, NULL},
    {"models.TaskDefinition", "log_source", NULL, PJ_ALWAYS, NULL},
    {"models.TaskDefinition", "max_pids", NULL, PJ_ALWAYS, NULL},
    {"models.TaskDefinition", "memory_mb", NULL, PJ_ALWAYS, NULL},
    {"models.TaskDefinition", "metrics_guid", NULL, PJ_ALWAYS, NULL},
    {"models.TaskDefinition", "privileged", NULL, PJ_ALWAYS, NULL},
    {"models.TaskDefinition", "result_file", NULL, PJ_ALWAYS, NULL},
    {"models.TaskDefinition", "root_fs", "rootfs", PJ_ALWAYS, NULL},
    {"models.TaskDefinition", "volume_mounted_files", NULL, PJ_ALWAYS, NULL},
    {"models.TaskGuidRequest", "task_guid", NULL, PJ_ALWAYS, NULL},
    {"models.TasksRequest", "cell_id", NULL, PJ_ALWAYS, NULL},
    {"models.TasksRequest", "domain", NULL, PJ_ALWAYS, NULL},
    {"models.TimeoutAction", "deprecated_timeout_ns", "timeout", 0, NULL},
    {"models.TimeoutAction", "timeout_ms", NULL, PJ_ALWAYS, NULL},
    {"models.UpdateDesiredLRPRequest", "process_guid", NULL, PJ_ALWAYS, NULL},
    {"models.UploadAction", "from", NULL, PJ_ALWAYS, NULL},
    {"models.UploadAction", "to", NULL, PJ_ALWAYS, NULL},
    {"models.UploadAction", "user", NULL, PJ_ALWAYS, NULL},
    {"models.UpsertDomainRequest", "domain", NULL, PJ_ALWAYS, NULL},
    {"models.UpsertDomainRequest", "ttl", NULL, PJ_ALWAYS, NULL},
    {"models.VolumeMount", "container_dir", NULL, PJ_ALWAYS, NULL},
    {"models.VolumeMount", "dedicated", NULL, PJ_ALWAYS, NULL},
    {"models.VolumeMount", "driver", NULL, PJ_ALWAYS, NULL},
    {"models.VolumeMount", "mode", NULL, PJ_ALWAYS, NULL},
    {"models.VolumeMount", "shared", NULL, PJ_ALWAYS, NULL},
    {"models.VolumePlacement", "driver_names", NULL, PJ_ALWAYS, NULL},
};

/* Enums upstream prints as numbers: Go types without a MarshalJSON method. */
static const char *const numeric_enums[] = {"models.UpdateStrategy"};

/*
 * Go writes fields in declaration order, protobuf-c keeps them in number
 * order; the two differ in one place: upstream declares DesiredLRP's
 * start_timeout_ms (27) right after action (7). Written there too, so the
 * keys come out in cfdot's order.
 */
static const struct {
    const char *msg;
    const char *field; /* written right after `after` instead of in number order */
    const char *after;
} moved[] = {
    {"models.DesiredLRP", "start_timeout_ms", "action"},
};

static int rule_cmp(const void *k, const void *e)
{
    const struct pj_rule *a = k;
    const struct pj_rule *b = e;
    int c = strcmp(a->msg, b->msg);

    return c != 0 ? c : strcmp(a->field, b->field);
}

/* The table row for field `f` of `d`, or NULL (the default rules). */
static const struct pj_rule *rule_of(const ProtobufCMessageDescriptor *d,
                                     const ProtobufCFieldDescriptor *f)
{
    struct pj_rule key = {d->name, f->name, NULL, 0, NULL};

    return bsearch(&key, rules, sizeof(rules) / sizeof(rules[0]), sizeof(rules[0]), rule_cmp);
}

static const char *key_of(const ProtobufCFieldDescriptor *f, const struct pj_rule *r)
{
    return r != NULL && r->json != NULL ? r->json : f->name;
}

static int is_oneof(const ProtobufCFieldDescriptor *f)
{
    return (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
}

static int numeric_enum(const ProtobufCEnumDescriptor *e)
{
    for (size_t i = 0; i < sizeof(numeric_enums) / sizeof(numeric_enums[0]); i++) {
        if (strcmp(e->name, numeric_enums[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* A map<K, V> field: a repeated message named *Entry with exactly key = 1, value = 2. */
static int is_map(const ProtobufCFieldDescriptor *f)
{
    const ProtobufCMessageDescriptor *e = f->descriptor;
    size_t n;

    if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE) {
        return 0;
    }
    n = strlen(e->name);
    return n > 5 && strcmp(e->name + n - 5, "Entry") == 0 && e->n_fields == 2 &&
           e->fields[0].id == 1 && strcmp(e->fields[0].name, "key") == 0 && e->fields[1].id == 2 &&
           strcmp(e->fields[1].name, "value") == 0;
}

static int is_routes(const ProtobufCFieldDescriptor *f)
{
    return f->type == PROTOBUF_C_TYPE_MESSAGE && f->label != PROTOBUF_C_LABEL_REPEATED &&
           strcmp(((const ProtobufCMessageDescriptor *)f->descriptor)->name,
                  "models.ProtoRoutes") == 0;
}

static const void *member(const ProtobufCMessage *m, size_t offset)
{
    return (const char *)m + offset;
}

/* Is field `f` of `m` present: a set oneof member, a proto2 optional with has_, else 1. */
static int present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    if (is_oneof(f)) {
        return *(const uint32_t *)member(m, f->quantifier_offset) == f->id;
    }
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
        f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
        return *(const protobuf_c_boolean *)member(m, f->quantifier_offset) != 0;
    }
    return 1;
}

/* ---- encoding ---------------------------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static json_t *enc_bytes(const uint8_t *p, size_t n)
{
    size_t cap = (n + 2) / 3 * 4;
    char *s = bbs_xmalloc(cap + 1);
    size_t o = 0;
    json_t *v;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)p[i] << 16;

        if (i + 1 < n) {
            w |= (uint32_t)p[i + 1] << 8;
        }
        if (i + 2 < n) {
            w |= p[i + 2];
        }
        s[o++] = b64[(w >> 18) & 63];
        s[o++] = b64[(w >> 12) & 63];
        s[o++] = i + 1 < n ? b64[(w >> 6) & 63] : '=';
        s[o++] = i + 2 < n ? b64[w & 63] : '=';
    }
    v = json_stringn(s, o);
    free(s);
    return v;
}

/* Length of the valid UTF-8 sequence at `p` (of `n` bytes), or 0 if invalid. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
    size_t len;
    uint32_t cp;

    if (p[0] < 0x80) {
        return 1;
    } else if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
        cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = cp << 6 | (p[i] & 0x3f);
    }
    /* Overlong forms, surrogates and code points past U+10FFFF are invalid. */
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return len;
}

/* A JSON string for `s`; invalid UTF-8 becomes U+FFFD byte by byte, as Go writes it. */
static json_t *enc_string(const char *s, size_t n)
{
    json_t *v = json_stringn(s, n);
    struct bbs_buf b = {0};

    if (v != NULL) {
        return v;
    }
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len((const uint8_t *)s + i, n - i);

        if (k == 0) {
            bbs_buf_append(&b, "\xef\xbf\xbd", 3);
            i++;
        } else {
            bbs_buf_append(&b, s + i, k);
            i += k;
        }
    }
    v = json_stringn((const char *)b.data, b.len);
    bbs_buf_free(&b);
    return v != NULL ? v : json_string("");
}

static json_t *enc_message(const ProtobufCMessage *m);

/* One value of field `f` stored at `p` (a scalar slot or an array element). */
static json_t *enc_value(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_integer(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t u = *(const uint64_t *)p;

        return u <= INT64_MAX ? json_integer((json_int_t)u) : json_real((double)u);
    }
    case PROTOBUF_C_TYPE_FLOAT: {
        json_t *v = json_real(*(const float *)p);

        return v != NULL ? v : json_null(); /* NaN and infinities have no JSON */
    }
    case PROTOBUF_C_TYPE_DOUBLE: {
        json_t *v = json_real(*(const double *)p);

        return v != NULL ? v : json_null();
    }
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *e = f->descriptor;
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev;
        char num[16];

        if (numeric_enum(e)) {
            return json_integer(v);
        }
        ev = protobuf_c_enum_descriptor_get_value(e, v);
        if (ev != NULL) {
            return json_string(ev->name);
        }
        /* Go's String() of a value without a name: its number, as a string. */
        snprintf(num, sizeof(num), "%d", v);
        return json_string(num);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;

        return s != NULL ? enc_string(s, strlen(s)) : json_string("");
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bd = p;

        return enc_bytes(bd->data, bd->len);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;

        return sub != NULL ? enc_message(sub) : json_null();
    }
    }
    return json_null();
}

/* Is the value at `p` Go's zero value for field `f` (what omitempty leaves out)? */
static int zero_value(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return *(const uint32_t *)p == 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return *(const uint64_t *)p == 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)p == 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)p == 0;
    case PROTOBUF_C_TYPE_BOOL:
        return !*(const protobuf_c_boolean *)p;
    case PROTOBUF_C_TYPE_ENUM:
        return *(const int *)p == 0;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;

        return s == NULL || s[0] == '\0';
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)p == NULL;
    }
    return 1;
}

/* Map entries sorted by key, as Go's encoding/json writes a map. */
static int entry_cmp(const void *a, const void *b)
{
    const char *ka = json_string_value(json_array_get(*(json_t *const *)a, 0));
    const char *kb = json_string_value(json_array_get(*(json_t *const *)b, 0));

    return strcmp(ka != NULL ? ka : "", kb != NULL ? kb : "");
}

/* A map key as Go writes it: strings as they are, numbers and bools as text. */
static char *map_key(const ProtobufCFieldDescriptor *kf, const void *p)
{
    json_t *v = enc_value(kf, p);
    char *s;

    if (json_is_string(v)) {
        s = bbs_xstrdup(json_string_value(v));
    } else {
        s = json_dumps(v, JSON_ENCODE_ANY);
        if (s == NULL) {
            s = bbs_xstrdup("");
        }
    }
    json_decref(v);
    return s;
}

static json_t *enc_map(const ProtobufCFieldDescriptor *f, size_t n, ProtobufCMessage *const *items)
{
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    json_t **pairs = bbs_xcalloc(n > 0 ? n : 1, sizeof(*pairs));
    json_t *obj = json_object();

    for (size_t i = 0; i < n; i++) {
        char *k = map_key(&ed->fields[0], member(items[i], ed->fields[0].offset));

        pairs[i] = json_pack("[s, o]", k,
                             enc_value(&ed->fields[1], member(items[i], ed->fields[1].offset)));
        free(k);
    }
    qsort(pairs, n, sizeof(*pairs), entry_cmp);
    for (size_t i = 0; i < n; i++) {
        json_object_set(obj, json_string_value(json_array_get(pairs[i], 0)),
                        json_array_get(pairs[i], 1));
        json_decref(pairs[i]);
    }
    free(pairs);
    return obj;
}

/* Routes: each value is the raw JSON stored for its key. */
static json_t *enc_routes(const ProtobufCMessage *pr)
{
    const ProtobufCMessageDescriptor *d = pr->descriptor;
    const ProtobufCFieldDescriptor *f = &d->fields[0];
    size_t n = *(const size_t *)member(pr, f->quantifier_offset);
    ProtobufCMessage *const *items = *(ProtobufCMessage * *const *)member(pr, f->offset);
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    json_t *obj = enc_map(f, n, items);

    /* enc_map wrote each value as base64 bytes; replace it with the JSON it holds. */
    for (size_t i = 0; i < n; i++) {
        const char *key = *(char *const *)member(items[i], ed->fields[0].offset);
        const ProtobufCBinaryData *raw = member(items[i], ed->fields[1].offset);
        json_t *parsed = json_loadb((const char *)raw->data, raw->len, JSON_DECODE_ANY, NULL);

        /* A stored value is valid JSON (the store checks it); if not, keep the text. */
        if (parsed == NULL) {
            parsed = enc_string((const char *)raw->data, raw->len);
        }
        json_object_set_new(obj, key != NULL ? key : "", parsed);
    }
    return obj;
}

/* Set `key` in `obj`; an embedded field (`weak`) loses to a key its parent already wrote. */
static void put(json_t *obj, const char *key, json_t *v, int weak)
{
    if (weak && json_object_get(obj, key) != NULL) {
        json_decref(v);
        return;
    }
    json_object_set_new(obj, key, v);
}

static void enc_fields(const ProtobufCMessage *m, json_t *obj, int weak);

static void enc_field(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, json_t *obj,
                      int weak)
{
    const struct pj_rule *r = rule_of(m->descriptor, f);
    unsigned flags = r != NULL ? r->flags : 0;
    const char *key = key_of(f, r);
    const void *p = member(m, f->offset);

    if (flags & PJ_EMBED) {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        ProtobufCMessage *zero = NULL;

        if (sub == NULL && (flags & PJ_VALUE) == 0) {
            return; /* an embedded pointer (Task's definition): nil adds no keys */
        }
        if (sub == NULL) {
            const ProtobufCMessageDescriptor *sd = f->descriptor;

            zero = bbs_xcalloc(1, sd->sizeof_message);
            protobuf_c_message_init(sd, zero);
            sub = zero;
        }
        enc_fields(sub, obj, 1);
        free(zero);
        return;
    }
    if (is_oneof(f)) {
        json_t *wrap;

        if (r != NULL && r->oneof != NULL) {
            if (!present(m, f)) {
                if (json_object_get(obj, r->oneof) == NULL) {
                    put(obj, r->oneof, json_null(), weak);
                }
                return;
            }
            wrap = json_object();
            if ((flags & PJ_ALWAYS) || !zero_value(f, p)) {
                json_object_set_new(wrap, key, enc_value(f, p));
            }
            put(obj, r->oneof, wrap, weak);
        } else if (present(m, f)) {
            put(obj, key, enc_value(f, p), weak);
        }
        return;
    }
    if (!present(m, f)) {
        return;
    }
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *(const size_t *)member(m, f->quantifier_offset);
        const char *arr = *(char *const *)p;
        json_t *v;

        if (n == 0) {
            if (flags & PJ_MAP_OBJECT) {
                put(obj, key, json_object(), weak);
            } else if (flags & PJ_ALWAYS) {
                put(obj, key, json_null(), weak);
            }
            return;
        }
        if (is_map(f)) {
            v = enc_map(f, n, (ProtobufCMessage *const *)(const void *)arr);
        } else {
            size_t sz = f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING
                            ? sizeof(void *)
                            : 0;

            v = json_array();
            if (sz == 0) {
                switch (f->type) {
                case PROTOBUF_C_TYPE_INT64:
                case PROTOBUF_C_TYPE_SINT64:
                case PROTOBUF_C_TYPE_SFIXED64:
                case PROTOBUF_C_TYPE_UINT64:
                case PROTOBUF_C_TYPE_FIXED64:
                    sz = 8;
                    break;
                case PROTOBUF_C_TYPE_DOUBLE:
                    sz = sizeof(double);
                    break;
                case PROTOBUF_C_TYPE_BOOL:
                    sz = sizeof(protobuf_c_boolean);
                    break;
                case PROTOBUF_C_TYPE_BYTES:
                    sz = sizeof(ProtobufCBinaryData);
                    break;
                default:
                    sz = 4;
                    break;
                }
            }
            for (size_t i = 0; i < n; i++) {
                json_array_append_new(v, enc_value(f, arr + i * sz));
            }
        }
        put(obj, key, v, weak);
        return;
    }
    if (is_routes(f)) {
        const ProtobufCMessage *pr = *(ProtobufCMessage *const *)p;

        if (pr != NULL) {
            put(obj, key, enc_routes(pr), weak);
        } else if (flags & PJ_ALWAYS) {
            put(obj, key, json_null(), weak);
        }
        return;
    }
    if (f->type == PROTOBUF_C_TYPE_MESSAGE && (flags & PJ_VALUE)) {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;

        if (sub == NULL) {
            const ProtobufCMessageDescriptor *sd = f->descriptor;
            ProtobufCMessage *zero = bbs_xcalloc(1, sd->sizeof_message);

            protobuf_c_message_init(sd, zero);
            put(obj, key, enc_message(zero), weak);
            free(zero);
        } else {
            put(obj, key, enc_message(sub), weak);
        }
        return;
    }
    if ((flags & PJ_ALWAYS) == 0 && zero_value(f, p)) {
        return;
    }
    if (f->type == PROTOBUF_C_TYPE_BYTES && zero_value(f, p)) {
        put(obj, key, json_null(), weak); /* Go's nil []byte */
        return;
    }
    put(obj, key, enc_value(f, p), weak);
}

static void enc_fields(const ProtobufCMessage *m, json_t *obj, int weak)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;

    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        int skip = 0;

        for (size_t k = 0; k < sizeof(moved) / sizeof(moved[0]); k++) {
            if (strcmp(d->name, moved[k].msg) != 0) {
                continue;
            }
            if (strcmp(f->name, moved[k].field) == 0) {
                skip = 1;
            } else if (strcmp(f->name, moved[k].after) == 0) {
                const ProtobufCFieldDescriptor *mf =
                    protobuf_c_message_descriptor_get_field_by_name(d, moved[k].field);

                enc_field(m, f, obj, weak);
                f = mf;
            }
        }
        if (!skip && f != NULL) {
            enc_field(m, f, obj, weak);
        }
    }
}

static json_t *enc_message(const ProtobufCMessage *m)
{
    json_t *obj = json_object();

    enc_fields(m, obj, 0);
    return obj;
}

json_t *bbs_pbjson_encode(const ProtobufCMessage *m)
{
    return enc_message(m);
}

/* ---- decoding ---------------------------------------------------------------------------- */

/* Where the decoder is, for error messages: "desired_lrp.routes.cf-router". */
struct pj_path {
    char text[256];
    size_t len;
};

static size_t path_push(struct pj_path *path, const char *name)
{
    size_t mark = path->len;
    int n = snprintf(path->text + path->len, sizeof(path->text) - path->len, "%s%s",
                     path->len > 0 ? "." : "", name);

    if (n > 0) {
        path->len += (size_t)n;
        if (path->len >= sizeof(path->text)) {
            path->len = sizeof(path->text) - 1;
        }
    }
    return mark;
}

static void path_pop(struct pj_path *path, size_t mark)
{
    path->len = mark;
    path->text[mark] = '\0';
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "bool";
    case JSON_NULL:
        return "null";
    }
    return "value";
}

static const char *type_name(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return "int32";
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return "int64";
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return "uint32";
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return "uint64";
    case PROTOBUF_C_TYPE_FLOAT:
        return "float32";
    case PROTOBUF_C_TYPE_DOUBLE:
        return "float64";
    case PROTOBUF_C_TYPE_BOOL:
        return "bool";
    case PROTOBUF_C_TYPE_ENUM:
        return ((const ProtobufCEnumDescriptor *)f->descriptor)->name;
    case PROTOBUF_C_TYPE_STRING:
        return "string";
    case PROTOBUF_C_TYPE_BYTES:
        return "bytes (base64)";
    case PROTOBUF_C_TYPE_MESSAGE:
        return ((const ProtobufCMessageDescriptor *)f->descriptor)->name;
    }
    return "value";
}

static int type_error(struct bbs_error *err, const struct pj_path *path, const json_t *v,
                      const char *want)
{
    bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                   "json: cannot unmarshal %s into field %s of type %s", json_kind(v),
                   path->len > 0 ? path->text : "(top)", want);
    return -1;
}

static int unb64(int c)
{
    const char *p = c != 0 ? strchr(b64, c) : NULL;

    return p != NULL ? (int)(p - b64) : -1;
}

/* Standard base64 with padding (Go's []byte); appends to `out`. */
static int dec_bytes(const char *s, size_t n, struct bbs_buf *out)
{
    if (n % 4 != 0) {
        return -1;
    }
    for (size_t i = 0; i < n; i += 4) {
        int a = unb64(s[i]), b = unb64(s[i + 1]);
        int c = s[i + 2] == '=' && i + 4 == n ? 0 : unb64(s[i + 2]);
        int d = s[i + 3] == '=' && i + 4 == n ? 0 : unb64(s[i + 3]);
        uint32_t w;

        if (a < 0 || b < 0 || c < 0 || d < 0 || (s[i + 2] == '=' && s[i + 3] != '=')) {
            return -1;
        }
        w = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        bbs_buf_putc(out, (uint8_t)(w >> 16));
        if (s[i + 2] != '=') {
            bbs_buf_putc(out, (uint8_t)(w >> 8));
        }
        if (s[i + 3] != '=') {
            bbs_buf_putc(out, (uint8_t)w);
        }
    }
    return 0;
}

static void put_fixed(struct bbs_buf *b, uint32_t field, uint64_t v, int width)
{
    uint8_t le[8];

    bbs_pbw_tag(b, field, width == 8 ? BBS_PB_I64 : BBS_PB_I32);
    for (int i = 0; i < width; i++) {
        le[i] = (uint8_t)(v >> (8 * i));
    }
    bbs_buf_append(b, le, (size_t)width);
}

static int dec_message(const ProtobufCMessageDescriptor *d, const json_t *obj, struct bbs_buf *out,
                       struct pj_path *path, struct bbs_error *err, size_t *matched);

/* Write one JSON value `v` as field number `num` of type `f`; always written (presence). */
static int dec_value(const ProtobufCFieldDescriptor *f, uint32_t num, const json_t *v,
                     struct bbs_buf *out, struct pj_path *path, struct bbs_error *err)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        json_int_t i;
        int ok;

        if (!json_is_integer(v)) {
            return type_error(err, path, v, type_name(f));
        }
        i = json_integer_value(v);
        switch (f->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
            ok = i >= INT32_MIN && i <= INT32_MAX;
            break;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            ok = i >= 0 && i <= (json_int_t)UINT32_MAX;
            break;
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            ok = i >= 0;
            break;
        default:
            ok = 1;
            break;
        }
        if (!ok) {
            bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                           "json: cannot unmarshal number %lld into field %s of type %s",
                           (long long)i, path->text, type_name(f));
            return -1;
        }
        switch (f->type) {
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SINT64:
            bbs_pbw_tag(out, num, BBS_PB_VARINT);
            bbs_pbw_varint(out, ((uint64_t)i << 1) ^ (uint64_t)(i >> 63));
            break;
        case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_FIXED32:
            put_fixed(out, num, (uint64_t)i, 4);
            break;
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_FIXED64:
            put_fixed(out, num, (uint64_t)i, 8);
            break;
        default:
            bbs_pbw_int64_always(out, num, (int64_t)i);
            break;
        }
        return 0;
    }
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
        double x;

        if (!json_is_number(v)) {
            return type_error(err, path, v, type_name(f));
        }
        x = json_number_value(v);
        if (f->type == PROTOBUF_C_TYPE_FLOAT) {
            float fl = (float)x;
            uint32_t bits;

            memcpy(&bits, &fl, sizeof(bits));
            put_fixed(out, num, bits, 4);
        } else {
            uint64_t bits;

            memcpy(&bits, &x, sizeof(bits));
            put_fixed(out, num, bits, 8);
        }
        return 0;
    }
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v)) {
            return type_error(err, path, v, "bool");
        }
        bbs_pbw_int64_always(out, num, json_is_true(v) ? 1 : 0);
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *e = f->descriptor;
        const ProtobufCEnumValue *ev;

        if (json_is_integer(v)) {
            json_int_t i = json_integer_value(v);

            if (i < INT32_MIN || i > INT32_MAX) {
                return type_error(err, path, v, e->name);
            }
            bbs_pbw_int64_always(out, num, (int64_t)i);
            return 0;
        }
        if (!json_is_string(v)) {
            return type_error(err, path, v, e->name);
        }
        ev = protobuf_c_enum_descriptor_get_value_by_name(e, json_string_value(v));
        if (ev == NULL) {
            /* A value without a name is written as its number in a string (as Go's String()
             * prints it): read it back. */
            const char *t = json_string_value(v);
            char *end = NULL;
            long long i;

            errno = 0;
            i = strtoll(t, &end, 10);
            if (t[0] != '\0' && (t[0] == '-' || (t[0] >= '0' && t[0] <= '9')) && *end == '\0' &&
                errno == 0 && i >= INT32_MIN && i <= INT32_MAX) {
                bbs_pbw_int64_always(out, num, (int64_t)i);
                return 0;
            }
            bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                           "json: invalid %s value \"%s\" for field %s", e->name,
                           json_string_value(v), path->text);
            return -1;
        }
        bbs_pbw_int64_always(out, num, ev->value);
        return 0;
    }
    case PROTOBUF_C_TYPE_STRING:
        if (!json_is_string(v)) {
            return type_error(err, path, v, "string");
        }
        bbs_pbw_bytes_always(out, num, json_string_value(v), json_string_length(v));
        return 0;
    case PROTOBUF_C_TYPE_BYTES: {
        struct bbs_buf raw = {0};
        int rc;

        if (!json_is_string(v)) {
            return type_error(err, path, v, "bytes (base64)");
        }
        rc = dec_bytes(json_string_value(v), json_string_length(v), &raw);
        if (rc == 0) {
            bbs_pbw_bytes_always(out, num, raw.data, raw.len);
        } else {
            bbs_error_setf(err, BBS_ERR_INVALID_REQUEST, "json: field %s is not valid base64",
                           path->text);
        }
        bbs_buf_free(&raw);
        return rc;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        size_t mark;
        int rc;

        if (!json_is_object(v)) {
            return type_error(err, path, v, type_name(f));
        }
        mark = bbs_pbw_open(out, num);
        rc = dec_message(f->descriptor, v, out, path, err, NULL);
        bbs_pbw_close(out, mark);
        return rc;
    }
    }
    return type_error(err, path, v, "a known type");
}

/* A map key (always a JSON string) as the entry's key field 1. */
static int dec_map_key(const ProtobufCFieldDescriptor *kf, const char *k, struct bbs_buf *out,
                       struct pj_path *path, struct bbs_error *err)
{
    json_t *v;
    int rc;

    if (kf->type == PROTOBUF_C_TYPE_STRING) {
        bbs_pbw_bytes_always(out, 1, k, strlen(k));
        return 0;
    }
    /* Numeric and bool keys are written as text: parse it as a JSON scalar. */
    v = json_loads(k, JSON_DECODE_ANY, NULL);
    if (v == NULL) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST, "json: invalid map key \"%s\" for field %s", k,
                       path->text);
        return -1;
    }
    rc = dec_value(kf, 1, v, out, path, err);
    json_decref(v);
    return rc;
}

static int dec_map(const ProtobufCFieldDescriptor *f, const json_t *v, int routes,
                   struct bbs_buf *out, struct pj_path *path, struct bbs_error *err)
{
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    const char *k;
    json_t *val;

    if (!json_is_object(v)) {
        return type_error(err, path, v, routes ? "routes (object)" : "map (object)");
    }
    json_object_foreach((json_t *)v, k, val)
    {
        size_t mark = bbs_pbw_open(out, f->id);
        size_t pm = path_push(path, k);
        int rc = dec_map_key(&ed->fields[0], k, out, path, err);

        if (rc == 0 && routes) {
            /* A route value is any JSON value, kept as its compact text. */
            char *raw = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);

            if (raw == NULL) {
                rc = type_error(err, path, val, "raw JSON");
            } else {
                bbs_pbw_bytes_always(out, 2, raw, strlen(raw));
                free(raw);
            }
        } else if (rc == 0 && !json_is_null(val)) {
            rc = dec_value(&ed->fields[1], 2, val, out, path, err);
        }
        path_pop(path, pm);
        bbs_pbw_close(out, mark);
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}

static int dec_field_value(const ProtobufCFieldDescriptor *f, const json_t *v, struct bbs_buf *out,
                           struct pj_path *path, struct bbs_error *err)
{
    if (json_is_null(v)) {
        return 0; /* Go leaves the zero value */
    }
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t i;
        json_t *el;

        if (is_map(f)) {
            return dec_map(f, v, 0, out, path, err);
        }
        if (!json_is_array(v)) {
            return type_error(err, path, v, "array");
        }
        json_array_foreach(v, i, el)
        {
            char idx[24];
            size_t pm;
            int rc;

            snprintf(idx, sizeof(idx), "%zu", i);
            pm = path_push(path, idx);
            rc = dec_value(f, f->id, el, out, path, err);
            path_pop(path, pm);
            if (rc != 0) {
                return -1;
            }
        }
        return 0;
    }
    if (is_routes(f)) {
        const ProtobufCMessageDescriptor *rd = f->descriptor;
        size_t mark = bbs_pbw_open(out, f->id);
        int rc = dec_map(&rd->fields[0], v, 1, out, path, err);

        bbs_pbw_close(out, mark);
        return rc;
    }
    return dec_value(f, f->id, v, out, path, err);
}

/*
 * Write the fields of `d` found in `obj` (keys of embedded messages are
 * read from `obj` itself). `*matched` (when non-NULL) counts the keys used,
 * so an embedded pointer is written only when one of its keys is there.
 */
static int dec_message(const ProtobufCMessageDescriptor *d, const json_t *obj, struct bbs_buf *out,
                       struct pj_path *path, struct bbs_error *err, size_t *matched)
{
    size_t used = 0;

    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const struct pj_rule *r = rule_of(d, f);
        unsigned flags = r != NULL ? r->flags : 0;
        const char *key = key_of(f, r);
        const json_t *v = NULL;
        size_t pm;
        int rc;

        if (flags & PJ_EMBED) {
            struct bbs_buf sub = {0};
            size_t n = 0;

            rc = dec_message(f->descriptor, obj, &sub, path, err, &n);
            if (rc == 0 && (n > 0 || (flags & PJ_VALUE))) {
                bbs_pbw_bytes_always(out, f->id, sub.data, sub.len);
            }
            bbs_buf_free(&sub);
            if (rc != 0) {
                return -1;
            }
            used += n;
            continue;
        }
        if (is_oneof(f) && r != NULL && r->oneof != NULL) {
            const json_t *w = json_object_get(obj, r->oneof);

            if (w != NULL && !json_is_null(w)) {
                if (!json_is_object(w)) {
                    pm = path_push(path, r->oneof);
                    rc = type_error(err, path, w, "object");
                    path_pop(path, pm);
                    return rc;
                }
                v = json_object_get(w, key);
            }
        }
        if (v == NULL) {
            v = json_object_get(obj, key);
        }
        if (v == NULL) {
            continue;
        }
        used++;
        pm = path_push(path, key);
        rc = dec_field_value(f, v, out, path, err);
        path_pop(path, pm);
        if (rc != 0) {
            return -1;
        }
    }
    if (matched != NULL) {
        *matched = used;
    }
    return 0;
}

int bbs_pbjson_to_pb(const ProtobufCMessageDescriptor *d, const char *text, size_t len,
                     struct bbs_buf *out, struct bbs_error *err)
{
    json_error_t jerr;
    json_t *root = NULL;
    struct pj_path path = {{0}, 0};
    size_t i = 0;
    int rc = -1;

    /* An empty (or blank) body is the empty message, as an empty protobuf body is. */
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) {
        i++;
    }
    if (i == len) {
        return 0;
    }
    root = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    if (root == NULL) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                       "invalid JSON at line %d, column %d (byte %d): %s", jerr.line, jerr.column,
                       jerr.position, jerr.text);
        goto out;
    }
    if (!json_is_object(root)) {
        rc = type_error(err, &path, root, d->name);
        goto out;
    }
    rc = dec_message(d, root, out, &path, err, NULL);

out:
    json_decref(root);
    return rc;
}

ProtobufCMessage *bbs_pbjson_decode(const ProtobufCMessageDescriptor *d, const char *text,
                                    size_t len, ProtobufCAllocator *alloc, struct bbs_error *err)
{
    struct bbs_buf b = {0};
    ProtobufCMessage *m = NULL;

    if (bbs_pbjson_to_pb(d, text, len, &b, err) != 0) {
        goto out;
    }
    m = protobuf_c_message_unpack(d, alloc, b.len, b.data != NULL ? b.data : (const uint8_t *)"");
    if (m == NULL) {
        /* Only a value the wire cannot carry gets here (e.g. invalid UTF-8 in a string). */
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST, "json: the request does not encode as %s",
                       d->name);
    }

out:
    bbs_buf_free(&b);
    return m;
}

int bbs_pbjson_from_pb(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t len,
                       struct bbs_buf *out, struct bbs_error *err)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, data);
    json_t *j = NULL;
    char *text = NULL;

    if (m == NULL) {
        bbs_error_set(err, BBS_ERR_INVALID_PROTOBUF_MESSAGE);
        return -1;
    }
    j = bbs_pbjson_encode(m);
    text = json_dumps(j, JSON_COMPACT);
    if (text == NULL) {
        bbs_out_of_memory(0); /* jansson fails here only for lack of memory */
    }
    bbs_buf_append(out, text, strlen(text));
    free(text);
    json_decref(j);
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}
