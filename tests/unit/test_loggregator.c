/*
 * test_loggregator.c - the loggregator emitter's pieces (loggregator.h):
 * envelopes as go-loggregator's v2 API reads them (counter and gauge,
 * source and instance ids, the origin and extra tags), and the start-up
 * checks of its configuration.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bbs/loggregator.h"
#include "loggregator_v2.pb-c.h"

static Loggregator__V2__Envelope *unpack(uint8_t *data, size_t len)
{
    Loggregator__V2__Envelope *e = loggregator__v2__envelope__unpack(NULL, len, data);

    free(data);
    assert_non_null(e);
    return e;
}

static const char *tag(const Loggregator__V2__Envelope *e, const char *key)
{
    for (size_t i = 0; i < e->n_tags; i++) {
        if (strcmp(e->tags[i]->key, key) == 0) {
            return e->tags[i]->value;
        }
    }
    return NULL;
}

static void test_counter_envelope(void **state)
{
    size_t len = 0;
    uint8_t *data = bbs_loggregator_pack(1700000000123456789, "bbs", "0", "", "RequestCount", 0,
                                         UINT64_MAX, NULL, NULL, NULL, &len);
    Loggregator__V2__Envelope *e = unpack(data, len);
    (void)state;

    assert_true(e->timestamp == 1700000000123456789);
    assert_string_equal(e->source_id, "bbs");
    assert_string_equal(e->instance_id, "0");
    assert_int_equal(e->n_tags, 0); /* no origin configured */
    assert_int_equal(e->message_case, LOGGREGATOR__V2__ENVELOPE__MESSAGE_COUNTER);
    assert_string_equal(e->counter->name, "RequestCount");
    assert_true(e->counter->delta == UINT64_MAX); /* a failed prune's 2^64-1 survives */
    assert_true(e->counter->total == 0);
    loggregator__v2__envelope__free_unpacked(e, NULL);
}

static void test_gauge_envelope(void **state)
{
    size_t len = 0;
    uint8_t *data = bbs_loggregator_pack(5, "bbs", "", "bbs-origin", "TasksStarted", 42, 0,
                                         "Metric", "cell-id", "cell-7", &len);
    Loggregator__V2__Envelope *e = unpack(data, len);
    (void)state;

    assert_int_equal(e->message_case, LOGGREGATOR__V2__ENVELOPE__MESSAGE_GAUGE);
    assert_int_equal(e->gauge->n_metrics, 1);
    assert_string_equal(e->gauge->metrics[0]->key, "TasksStarted");
    assert_string_equal(e->gauge->metrics[0]->value->unit, "Metric");
    assert_true(e->gauge->metrics[0]->value->value == 42);
    assert_int_equal(e->n_tags, 2);
    assert_string_equal(tag(e, "origin"), "bbs-origin");
    assert_string_equal(tag(e, "cell-id"), "cell-7");
    loggregator__v2__envelope__free_unpacked(e, NULL);
}

static void test_config_refused(void **state)
{
    struct bbs_loggregator_config cfg = {0};
    struct bbs_error err = {0};
    (void)state;

    /* The v2 API is mutual TLS: the three files are required ... */
    assert_null(bbs_loggregator_new(&cfg, &err));
    assert_int_equal(err.type, BBS_ERR_INVALID_REQUEST);
    assert_non_null(strstr(err.message, "loggregator_ca_path"));
    /* ... and must load. */
    cfg.ca_file = "/nonexistent/ca.pem";
    cfg.cert_file = "/nonexistent/cert.pem";
    cfg.key_file = "/nonexistent/key.pem";
    memset(&err, 0, sizeof(err));
    assert_null(bbs_loggregator_new(&cfg, &err));
    assert_int_equal(err.type, BBS_ERR_INVALID_REQUEST);
    assert_non_null(strstr(err.message, "loggregator"));
    bbs_loggregator_free(NULL);
    bbs_loggregator_gauge(NULL, "x", 1, "Metric", NULL, NULL); /* no emitter: nothing */
    bbs_loggregator_counter(NULL, "x", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_envelope),
        cmocka_unit_test(test_gauge_envelope),
        cmocka_unit_test(test_config_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
