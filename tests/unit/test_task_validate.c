/*
 * test_task_validate.c - Task request validation (validate_task.h): one
 * named test per rule of reference part 2, 11.3, and its examples.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "bbs/validate_task.h"

#define S(lit) ((char *)(lit))

/* A valid definition; tests break one field each. The nested messages are static. */
static Models__RunAction run = MODELS__RUN_ACTION__INIT;
static Models__Action action = MODELS__ACTION__INIT;

static Models__TaskDefinition valid_def(void)
{
    Models__TaskDefinition d = MODELS__TASK_DEFINITION__INIT;

    run = (Models__RunAction)MODELS__RUN_ACTION__INIT;
    run.path = S("/bin/true");
    run.user = S("vcap");
    action = (Models__Action)MODELS__ACTION__INIT;
    action.run_action = &run;
    d.root_fs = S("docker:///busybox");
    d.action = &action;
    return d;
}

static Models__DesireTaskRequest desire_of(Models__TaskDefinition *d)
{
    Models__DesireTaskRequest r = MODELS__DESIRE_TASK_REQUEST__INIT;

    r.task_guid = S("task-1_A");
    r.domain = S("d");
    r.task_definition = d;
    return r;
}

/* Validate a desire with `d` and check the message ("" = valid). */
static void expect_def(Models__TaskDefinition *d, const char *text)
{
    Models__DesireTaskRequest r = desire_of(d);
    struct bbs_problems p = {0};
    int n = bbs_validate_desire_task(&r, &p);

    assert_string_equal(p.text, text);
    assert_int_equal(n > 0, text[0] != '\0');
}

/* ---- DesireTaskRequest ---- */

static void desire_valid_passes(void **state)
{
    Models__TaskDefinition d = valid_def();

    (void)state;
    expect_def(&d, "");
}

static void desire_guid_with_bad_characters(void **state)
{
    Models__TaskDefinition d = valid_def();
    Models__DesireTaskRequest r = desire_of(&d);
    struct bbs_problems p = {0};

    (void)state;
    r.task_guid = S("a.b");
    assert_int_equal(bbs_validate_desire_task(&r, &p), 1);
    assert_string_equal(p.text, "Invalid field: task_guid");
}

static void desire_domain_empty(void **state)
{
    Models__TaskDefinition d = valid_def();
    Models__DesireTaskRequest r = desire_of(&d);
    struct bbs_problems p = {0};

    (void)state;
    r.domain = S("");
    assert_int_equal(bbs_validate_desire_task(&r, &p), 1);
    assert_string_equal(p.text, "Invalid field: domain");
}

static void desire_definition_absent(void **state)
{
    Models__DesireTaskRequest r = desire_of(NULL);
    struct bbs_problems p = {0};

    (void)state;
    assert_int_equal(bbs_validate_desire_task(&r, &p), 1);
    assert_string_equal(p.text, "Invalid field: task_definition");
}

static void desire_empty_request_lists_three_problems(void **state)
{
    Models__DesireTaskRequest r = MODELS__DESIRE_TASK_REQUEST__INIT;
    struct bbs_problems p = {0};

    (void)state;
    assert_int_equal(bbs_validate_desire_task(&r, &p), 3);
    assert_string_equal(p.text, "Invalid field: task_guid, Invalid field: domain, Invalid field: "
                                "task_definition");
}

static void desire_empty_definition_is_rootfs_and_action(void **state)
{
    Models__TaskDefinition d = MODELS__TASK_DEFINITION__INIT;

    (void)state;
    expect_def(&d, "Invalid field: rootfs, invalid action type");
}

/* ---- TaskDefinition d1..d12 ---- */

static void def_rootfs_empty_is_one_problem(void **state)
{
    Models__TaskDefinition d = valid_def();

    (void)state;
    d.root_fs = S("");
    expect_def(&d, "Invalid field: rootfs");
}

static void def_rootfs_without_scheme(void **state)
{
    Models__TaskDefinition d = valid_def();

    (void)state;
    d.root_fs = S("no-scheme");
    expect_def(&d, "Invalid field: rootfs");
}

static void def_action_absent(void **state)
{
    Models__TaskDefinition d = valid_def();

    (void)state;
    d.action = NULL;
    expect_def(&d, "invalid action type");
}

static void def_action_invalid_lists_its_problems(void **state)
{
    Models__TaskDefinition d = valid_def();

    (void)state;
    run.path = S("");
    expect_def(&d, "Invalid field: action, Invalid field: path");
}

static void def_action_empty_wrapper_is_inner_action(void **state)
{
    Models__TaskDefinition d = valid_def();
    Models__Action none = MODELS__ACTION__INIT;

    (void)state;
    d.action = &none;
    expect_def(&d, "Invalid field: action, Invalid field: inner-action");
}

static void def_cpu_weight_over_100(void **state)
{
    Models__TaskDefinition d = valid_def();

    (void)state;
    d.cpu_weight = 101;
    expect_def(&d, "Invalid field: cpu_weight");
    d.cpu_weight = 100;
    expect_def(&d, "");
}

static void def_memory_negative(void **state)
{
    Models__TaskDefinition d = valid_def();

    (void)state;
    d.memory_mb = -1;
    expect_def(&d, "Invalid field: memory_mb");
}

static void def_disk_negative(void **state)
{
    Models__TaskDefinition d = valid_def();

    (void)state;
    d.disk_mb = -1;
    expect_def(&d, "Invalid field: disk_mb");
}

static void def_log_rate_limit_below_minus_one(void **state)
{
    Models__TaskDefinition d = valid_def();
    Models__LogRateLimit l = MODELS__LOG_RATE_LIMIT__INIT;

    (void)state;
    d.log_rate_limit = &l;
    l.bytes_per_second = -1;
    expect_def(&d, "");
    l.bytes_per_second = -2;
    expect_def(&d, "Invalid field: log_rate_limit");
}

static void def_max_pids_negative(void **state)
{
    Models__TaskDefinition d = valid_def();

    (void)state;
    d.max_pids = -1;
    expect_def(&d, "Invalid field: max_pids");
}

static void def_annotation_over_10k(void **state)
{
    Models__TaskDefinition d = valid_def();
    static char big[10 * 1024 + 2];

    (void)state;
    memset(big, 'a', 10 * 1024);
    big[10 * 1024] = '\0';
    d.annotation = big;
    expect_def(&d, "");
    big[10 * 1024] = 'a';
    big[10 * 1024 + 1] = '\0';
    expect_def(&d, "Invalid field: annotation");
}

static void def_invalid_egress_rule_reports_the_header_only(void **state)
{
    Models__TaskDefinition d = valid_def();
    Models__SecurityGroupRule r = MODELS__SECURITY_GROUP_RULE__INIT;
    Models__SecurityGroupRule *rules[2] = {&r, &r};

    (void)state;
    r.protocol = S("bogus");
    d.egress_rules = rules;
    d.n_egress_rules = 2;
    expect_def(&d, "Invalid field: egress_rules, Invalid field: egress_rules");
}

static void def_image_password_without_username(void **state)
{
    Models__TaskDefinition d = valid_def();

    (void)state;
    d.image_password = S("pw");
    expect_def(&d, "Invalid field: image_username");
}

static void def_image_username_without_password(void **state)
{
    Models__TaskDefinition d = valid_def();

    (void)state;
    d.image_username = S("me");
    expect_def(&d, "Invalid field: image_password");
}

static void def_invalid_cached_dependency_lists_its_problems(void **state)
{
    Models__TaskDefinition d = valid_def();
    Models__CachedDependency c = MODELS__CACHED_DEPENDENCY__INIT;
    Models__CachedDependency *deps[1] = {&c};

    (void)state;
    c.to = S("/x");
    d.cached_dependencies = deps;
    d.n_cached_dependencies = 1;
    expect_def(&d, "Invalid field: cached_dependency, Invalid field: from");
}

static void def_invalid_image_layer_lists_its_problems(void **state)
{
    Models__TaskDefinition d = valid_def();
    Models__ImageLayer l = MODELS__IMAGE_LAYER__INIT;
    Models__ImageLayer *layers[1] = {&l};

    (void)state;
    l.destination_path = S("/x");
    l.layer_type = MODELS__IMAGE_LAYER__TYPE__SHARED;
    l.media_type = MODELS__IMAGE_LAYER__MEDIA_TYPE__TGZ;
    d.image_layers = layers;
    d.n_image_layers = 1;
    expect_def(&d, "Invalid field: image_layer, Invalid field: url");
}

static void def_exclusive_layer_needs_legacy_download_user(void **state)
{
    Models__TaskDefinition d = valid_def();
    Models__ImageLayer l = MODELS__IMAGE_LAYER__INIT;
    Models__ImageLayer *layers[1] = {&l};

    (void)state;
    l.url = S("https://x");
    l.destination_path = S("/x");
    l.layer_type = MODELS__IMAGE_LAYER__TYPE__EXCLUSIVE;
    l.media_type = MODELS__IMAGE_LAYER__MEDIA_TYPE__TGZ;
    l.digest_algorithm = MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA256;
    l.digest_value = S("abc");
    d.image_layers = layers;
    d.n_image_layers = 1;
    expect_def(&d, "Invalid field: legacy_download_user");
    d.legacy_download_user = S("root");
    expect_def(&d, "");
}

static void def_problems_come_in_upstream_order(void **state)
{
    Models__TaskDefinition d = MODELS__TASK_DEFINITION__INIT;
    Models__SecurityGroupRule r = MODELS__SECURITY_GROUP_RULE__INIT;
    Models__SecurityGroupRule *rules[1] = {&r};

    (void)state;
    d.cpu_weight = 200;
    d.memory_mb = -1;
    d.disk_mb = -1;
    d.max_pids = -1;
    d.egress_rules = rules;
    d.n_egress_rules = 1;
    d.image_password = S("pw");
    expect_def(&d, "Invalid field: rootfs, invalid action type, Invalid field: cpu_weight, "
                   "Invalid field: memory_mb, Invalid field: disk_mb, Invalid field: max_pids, "
                   "Invalid field: egress_rules, Invalid field: image_username");
}

static void def_unchecked_fields_are_accepted(void **state)
{
    Models__TaskDefinition d = valid_def();
    Models__EnvironmentVariable ev = MODELS__ENVIRONMENT_VARIABLE__INIT;
    Models__EnvironmentVariable *evs[1] = {&ev};
    Models__VolumeMount vm = MODELS__VOLUME_MOUNT__INIT;
    Models__VolumeMount *vms[1] = {&vm};

    (void)state;
    d.environment_variables = evs; /* no name */
    d.n_environment_variables = 1;
    d.volume_mounts = vms; /* no driver */
    d.n_volume_mounts = 1;
    d.completion_callback_url = S("::not a url");
    d.result_file = S("");
    expect_def(&d, "");
}

/* ---- lifecycle requests ---- */

static void start_guid_pattern_and_cell_id(void **state)
{
    Models__StartTaskRequest r = MODELS__START_TASK_REQUEST__INIT;
    struct bbs_problems p = {0};

    (void)state;
    assert_int_equal(bbs_validate_start_task(&r, &p), 2);
    assert_string_equal(p.text, "Invalid field: task_guid, Invalid field: cell_id");
    memset(&p, 0, sizeof(p));
    r.task_guid = S("t-1");
    r.cell_id = S("c");
    assert_int_equal(bbs_validate_start_task(&r, &p), 0);
}

static void complete_guid_pattern_and_cell_id(void **state)
{
    Models__CompleteTaskRequest r = MODELS__COMPLETE_TASK_REQUEST__INIT;
    struct bbs_problems p = {0};

    (void)state;
    r.task_guid = S("bad guid");
    assert_int_equal(bbs_validate_complete_task(&r, &p), 2);
    assert_string_equal(p.text, "Invalid field: task_guid, Invalid field: cell_id");
}

static void fail_guid_pattern_and_failure_reason(void **state)
{
    Models__FailTaskRequest r = MODELS__FAIL_TASK_REQUEST__INIT;
    struct bbs_problems p = {0};

    (void)state;
    assert_int_equal(bbs_validate_fail_task(&r, &p), 2);
    assert_string_equal(p.text, "Invalid field: task_guid, Invalid field: failure_reason");
}

static void reject_reason_is_reported_as_failure_reason(void **state)
{
    Models__RejectTaskRequest r = MODELS__REJECT_TASK_REQUEST__INIT;
    struct bbs_problems p = {0};

    (void)state;
    r.task_guid = S("t-1");
    assert_int_equal(bbs_validate_reject_task(&r, &p), 1);
    assert_string_equal(p.text, "Invalid field: failure_reason");
}

static void reject_guid_pattern(void **state)
{
    Models__RejectTaskRequest r = MODELS__REJECT_TASK_REQUEST__INIT;
    struct bbs_problems p = {0};

    (void)state;
    r.task_guid = S("t/1");
    r.rejection_reason = S("full");
    assert_int_equal(bbs_validate_reject_task(&r, &p), 1);
    assert_string_equal(p.text, "Invalid field: task_guid");
}

static void task_guid_request_empty(void **state)
{
    Models__TaskGuidRequest r = MODELS__TASK_GUID_REQUEST__INIT;
    struct bbs_problems p = {0};

    (void)state;
    assert_int_equal(bbs_validate_task_guid(&r, &p), 1);
    assert_string_equal(p.text, "Invalid field: task_guid");
}

static void task_guid_request_has_no_charset_check(void **state)
{
    Models__TaskGuidRequest r = MODELS__TASK_GUID_REQUEST__INIT;
    struct bbs_problems p = {0};

    (void)state;
    r.task_guid = S("any thing/at.all");
    assert_int_equal(bbs_validate_task_guid(&r, &p), 0);
}

static void task_by_guid_request_empty(void **state)
{
    Models__TaskByGuidRequest r = MODELS__TASK_BY_GUID_REQUEST__INIT;
    struct bbs_problems p = {0};

    (void)state;
    assert_int_equal(bbs_validate_task_by_guid(&r, &p), 1);
    assert_string_equal(p.text, "Invalid field: task_guid");
}

static void task_by_guid_request_has_no_charset_check(void **state)
{
    Models__TaskByGuidRequest r = MODELS__TASK_BY_GUID_REQUEST__INIT;
    struct bbs_problems p = {0};

    (void)state;
    r.task_guid = S("a b");
    assert_int_equal(bbs_validate_task_by_guid(&r, &p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(desire_valid_passes),
        cmocka_unit_test(desire_guid_with_bad_characters),
        cmocka_unit_test(desire_domain_empty),
        cmocka_unit_test(desire_definition_absent),
        cmocka_unit_test(desire_empty_request_lists_three_problems),
        cmocka_unit_test(desire_empty_definition_is_rootfs_and_action),
        cmocka_unit_test(def_rootfs_empty_is_one_problem),
        cmocka_unit_test(def_rootfs_without_scheme),
        cmocka_unit_test(def_action_absent),
        cmocka_unit_test(def_action_invalid_lists_its_problems),
        cmocka_unit_test(def_action_empty_wrapper_is_inner_action),
        cmocka_unit_test(def_cpu_weight_over_100),
        cmocka_unit_test(def_memory_negative),
        cmocka_unit_test(def_disk_negative),
        cmocka_unit_test(def_log_rate_limit_below_minus_one),
        cmocka_unit_test(def_max_pids_negative),
        cmocka_unit_test(def_annotation_over_10k),
        cmocka_unit_test(def_invalid_egress_rule_reports_the_header_only),
        cmocka_unit_test(def_image_password_without_username),
        cmocka_unit_test(def_image_username_without_password),
        cmocka_unit_test(def_invalid_cached_dependency_lists_its_problems),
        cmocka_unit_test(def_invalid_image_layer_lists_its_problems),
        cmocka_unit_test(def_exclusive_layer_needs_legacy_download_user),
        cmocka_unit_test(def_problems_come_in_upstream_order),
        cmocka_unit_test(def_unchecked_fields_are_accepted),
        cmocka_unit_test(start_guid_pattern_and_cell_id),
        cmocka_unit_test(complete_guid_pattern_and_cell_id),
        cmocka_unit_test(fail_guid_pattern_and_failure_reason),
        cmocka_unit_test(reject_reason_is_reported_as_failure_reason),
        cmocka_unit_test(reject_guid_pattern),
        cmocka_unit_test(task_guid_request_empty),
        cmocka_unit_test(task_guid_request_has_no_charset_check),
        cmocka_unit_test(task_by_guid_request_empty),
        cmocka_unit_test(task_by_guid_request_has_no_charset_check),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
