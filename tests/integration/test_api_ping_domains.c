/*
 * test_api_ping_domains.c - /v1/ping, /v1/domains/upsert, /v1/domains/list
 * (reference 1.2, 2.9).
 */
#include "harness.h"

#include <string.h>

#define UPSERT_RESP (&models__upsert_domain_response__descriptor)

static int upsert(const char *domain, uint32_t ttl)
{
    Models__UpsertDomainRequest req = MODELS__UPSERT_DOMAIN_REQUEST__INIT;
    req.domain = (char *)domain;
    req.ttl = ttl;
    return it_call_err("/v1/domains/upsert", &req.base, UPSERT_RESP);
}

/* How many times `domain` appears in domains/list. */
static int listed(const char *domain)
{
    Models__DomainsResponse *r =
        it_call("/v1/domains/list", NULL, &models__domains_response__descriptor);
    int n = 0;

    assert_int_equal(it_err_type(r), IT_OK);
    for (size_t i = 0; i < r->n_domains; i++) {
        n += strcmp(r->domains[i], domain) == 0;
    }
    it_free(r);
    return n;
}

static void test_ping_answers_available_true(void **state)
{
    struct it_resp r;
    (void)state;

    it_post_raw("/v1/ping", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, IT_PROTOBUF_CTYPE);
    assert_int_equal(r.content_length, 2);
    assert_int_equal(r.len, 2);
    assert_memory_equal(r.body, "\x08\x01", 2);
    it_resp_free(&r);
}

static void test_ping_ignores_body(void **state)
{
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0x0c, 0x00};
    struct it_resp r;
    Models__PingResponse *p;
    (void)state;

    it_post_raw("/v1/ping", garbage, sizeof(garbage), &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, IT_PROTOBUF_CTYPE);
    assert_int_equal(r.len, 2);
    assert_memory_equal(r.body, "\x08\x01", 2);
    p = (Models__PingResponse *)it_unpack(&models__ping_response__descriptor, r.body, r.len);
    assert_non_null(p);
    assert_true(p->available);
    it_free(p);
    it_resp_free(&r);
}

static void test_upsert_then_list(void **state)
{
    Models__UpsertDomainRequest req = MODELS__UPSERT_DOMAIN_REQUEST__INIT;
    struct it_resp r;
    uint8_t *body;
    size_t len;
    char d[64];
    (void)state;

    it_uniq(d, sizeof(d), "dom-upsert");
    assert_int_equal(listed(d), 0);
    req.domain = d;
    body = it_pack(&req.base, &len);
    it_post_raw("/v1/domains/upsert", body, len, &r);
    free(body);
    /* success: 200, protobuf content type, zero-length UpsertDomainResponse */
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, IT_PROTOBUF_CTYPE);
    assert_int_equal(r.len, 0);
    assert_int_equal(r.content_length, 0);
    it_resp_free(&r);
    assert_int_equal(listed(d), 1);
}

static void test_upsert_twice_listed_once(void **state)
{
    char d[64];
    (void)state;

    it_uniq(d, sizeof(d), "dom-twice");
    assert_int_equal(upsert(d, 0), IT_OK);
    assert_int_equal(upsert(d, 0), IT_OK);
    assert_int_equal(upsert(d, 3600), IT_OK);
    assert_int_equal(listed(d), 1);
}

static void test_upsert_many_domains(void **state)
{
    char d[5][64];
    (void)state;

    for (int i = 0; i < 5; i++) {
        it_uniq(d[i], sizeof(d[i]), "dom-many");
        assert_int_equal(upsert(d[i], (uint32_t)(i * 100)), IT_OK);
    }
    for (int i = 0; i < 5; i++) {
        assert_int_equal(listed(d[i]), 1);
    }
}

static void test_upsert_empty_domain_invalid(void **state)
{
    Models__UpsertDomainRequest req = MODELS__UPSERT_DOMAIN_REQUEST__INIT;
    (void)state;

    req.ttl = 10;
    it_expect_invalid("/v1/domains/upsert", &req.base, UPSERT_RESP, "Invalid field: domain");
    /* an empty body is a valid message with every field at its default */
    it_expect_invalid("/v1/domains/upsert", NULL, UPSERT_RESP, "Invalid field: domain");
    assert_int_equal(listed(""), 0);
}

static void test_upsert_undecodable_body(void **state)
{
    static const uint8_t truncated[] = {0x0a, 0x10, 'a', 'b'};
    struct it_resp r;
    Models__UpsertDomainResponse *resp;
    (void)state;

    it_post_raw("/v1/domains/upsert", truncated, sizeof(truncated), &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, IT_PROTOBUF_CTYPE);
    resp = (Models__UpsertDomainResponse *)it_unpack(UPSERT_RESP, r.body, r.len);
    assert_non_null(resp);
    it_assert_invalid(resp, IT_MSG_INVALID);
    it_free(resp);
    it_resp_free(&r);
    assert_int_equal(listed("ab"), 0);
}

static void test_list_ignores_body(void **state)
{
    static const uint8_t garbage[] = {0x0a, 0x7f, 0x01};
    struct it_resp r;
    Models__DomainsResponse *resp;
    char d[64];
    int seen = 0;
    (void)state;

    it_uniq(d, sizeof(d), "dom-ignore");
    assert_int_equal(upsert(d, 0), IT_OK);
    it_post_raw("/v1/domains/list", garbage, sizeof(garbage), &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, IT_PROTOBUF_CTYPE);
    resp =
        (Models__DomainsResponse *)it_unpack(&models__domains_response__descriptor, r.body, r.len);
    assert_non_null(resp);
    assert_int_equal(it_err_type(resp), IT_OK);
    for (size_t i = 0; i < resp->n_domains; i++) {
        seen += strcmp(resp->domains[i], d) == 0;
    }
    assert_int_equal(seen, 1);
    it_free(resp);
    it_resp_free(&r);
}

/*
 * Reference 2.9 (observed on upstream): ttl 1 is listed at once and gone
 * 2.6 s later; ttl 1 then ttl 0 never expires; ttl 0 then ttl 1 shortens the
 * expiry. One sleep covers all three.
 */
static void test_ttl_expiry_rules(void **state)
{
    char expiring[64], forever[64], shortened[64], long_ttl[64];
    (void)state;

    it_uniq(expiring, sizeof(expiring), "dom-ttl1");
    it_uniq(forever, sizeof(forever), "dom-ttl1-then-0");
    it_uniq(shortened, sizeof(shortened), "dom-ttl0-then-1");
    it_uniq(long_ttl, sizeof(long_ttl), "dom-ttl3600");

    assert_int_equal(upsert(expiring, 1), IT_OK);
    assert_int_equal(upsert(forever, 1), IT_OK);
    assert_int_equal(upsert(forever, 0), IT_OK);
    assert_int_equal(upsert(shortened, 0), IT_OK);
    assert_int_equal(upsert(shortened, 1), IT_OK);
    assert_int_equal(upsert(long_ttl, 3600), IT_OK);

    assert_int_equal(listed(expiring), 1);
    assert_int_equal(listed(forever), 1);
    assert_int_equal(listed(shortened), 1);
    assert_int_equal(listed(long_ttl), 1);

    it_sleep_ms(2600);

    assert_int_equal(listed(expiring), 0);
    assert_int_equal(listed(forever), 1);
    assert_int_equal(listed(shortened), 0);
    assert_int_equal(listed(long_ttl), 1);

    /* an expired domain can be upserted again */
    assert_int_equal(upsert(expiring, 0), IT_OK);
    assert_int_equal(listed(expiring), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_answers_available_true),
        cmocka_unit_test(test_ping_ignores_body),
        cmocka_unit_test(test_upsert_then_list),
        cmocka_unit_test(test_upsert_twice_listed_once),
        cmocka_unit_test(test_upsert_many_domains),
        cmocka_unit_test(test_upsert_empty_domain_invalid),
        cmocka_unit_test(test_upsert_undecodable_body),
        cmocka_unit_test(test_list_ignores_body),
        cmocka_unit_test(test_ttl_expiry_rules),
    };

    it_set_name("ping_domains");
    return it_main_exit(
        cmocka_run_group_tests_name("api_ping_domains", tests, it_group_setup, it_group_teardown));
}
