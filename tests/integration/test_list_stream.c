/*
 * test_list_stream.c - ActualLRP lists are answered as they are read
 * (chunked, docs/performance.md "Streamed list answers"), and so are
 * DesiredLRP, scheduling-info and Task lists: a large list
 * arrives whole and canonical, and a database failure after the first
 * byte cuts the connection instead of ending a shorter, well-formed list.
 */
#define _GNU_SOURCE /* memmem */
#include "harness.h"
#include "task_it.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bbs/pbjson.h"

#define LIST_RESP &models__actual_lrps_response__descriptor

/* Every instance of `guid` (n of them), once each, in a streamed answer that
 * re-encodes to exactly the bytes received. */
static void test_list_5k_streamed_whole_and_canonical(void **state)
{
    char guid[64];
    Models__ActualLRPsRequest req = MODELS__ACTUAL_LRPS_REQUEST__INIT;
    uint8_t reqbuf[128];
    size_t reqlen;
    struct it_resp r;
    Models__ActualLRPsResponse *m;
    uint8_t *again;
    size_t againlen;
    char *seen;
    const int32_t n = 5000;

    (void)state;
    it_uniq(guid, sizeof(guid), "stream5k");
    it_desire(guid, NULL, n);
    req.process_guid = guid;
    reqlen = models__actual_lrps_request__pack(&req, reqbuf);
    it_post_raw("/v1/actual_lrps/list", reqbuf, reqlen, &r);
    assert_int_equal(r.status, 200);
    /* Streamed: no Content-Length, the body came chunked. */
    assert_int_equal(r.content_length, -1);
    m = models__actual_lrps_response__unpack(NULL, r.len, r.body);
    assert_non_null(m);
    assert_null(m->error);
    assert_int_equal(m->n_actual_lrps, n);
    seen = calloc((size_t)n, 1);
    for (size_t i = 0; i < m->n_actual_lrps; i++) {
        const Models__ActualLRP *a = m->actual_lrps[i];

        assert_string_equal(a->actual_lrp_key->process_guid, guid);
        assert_true(a->actual_lrp_key->index >= 0 && a->actual_lrp_key->index < n);
        assert_int_equal(seen[a->actual_lrp_key->index], 0);
        seen[a->actual_lrp_key->index] = 1;
        assert_string_equal(a->state, "UNCLAIMED");
    }
    /* Byte for byte what the whole message encodes to (field order, no gaps). */
    againlen = models__actual_lrps_response__get_packed_size(m);
    assert_int_equal(againlen, r.len);
    again = malloc(againlen);
    models__actual_lrps_response__pack(m, again);
    assert_memory_equal(again, r.body, r.len);
    free(again);
    free(seen);
    models__actual_lrps_response__free_unpacked(m, NULL);
    it_resp_free(&r);
}

/* actual_lrps/list with these filters (NULL: not given); asserts no error. */
static Models__ActualLRPsResponse *list_filtered(const char *domain, const char *cell,
                                                 const char *guid)
{
    Models__ActualLRPsRequest req = MODELS__ACTUAL_LRPS_REQUEST__INIT;
    Models__ActualLRPsResponse *r;

    req.domain = (char *)domain;
    req.cell_id = (char *)cell;
    req.process_guid = (char *)guid;
    r = it_call("/v1/actual_lrps/list", &req.base, LIST_RESP);
    assert_int_equal(it_err_type(r), IT_OK);
    return r;
}

/*
 * A streamed list's filter values reach the database as escaped literals
 * (a binary COPY takes no parameters): quotes, backslashes and SQL in a
 * domain, a cell id or a process guid are matched as plain values.
 */
static void test_list_filter_values_are_values(void **state)
{
    char guid[64];
    char domain[128];
    char cell[128];
    char *guids[3];
    Models__ActualLRPsByProcessGuidsRequest breq =
        MODELS__ACTUAL_LRPS_BY_PROCESS_GUIDS_REQUEST__INIT;
    Models__ActualLRPsByProcessGuidsResponse *b;
    Models__ActualLRPsResponse *r;

    (void)state;
    it_uniq(guid, sizeof(guid), "quoted");
    snprintf(domain, sizeof(domain), "it's \\'%s' -- ;", guid);
    snprintf(cell, sizeof(cell), "cell \\ ' \"%s\"", guid);
    it_desire(guid, domain, 3);
    assert_int_equal(it_claim(guid, 1, "ig-quoted", cell), IT_OK);

    r = list_filtered(domain, NULL, NULL);
    assert_int_equal(r->n_actual_lrps, 3);
    for (size_t i = 0; i < r->n_actual_lrps; i++) {
        assert_string_equal(r->actual_lrps[i]->actual_lrp_key->domain, domain);
    }
    it_free(r);
    r = list_filtered(NULL, cell, NULL);
    assert_int_equal(r->n_actual_lrps, 1);
    assert_string_equal(r->actual_lrps[0]->actual_lrp_instance_key->cell_id, cell);
    assert_int_equal(r->actual_lrps[0]->actual_lrp_key->index, 1);
    it_free(r);
    r = list_filtered(domain, cell, guid);
    assert_int_equal(r->n_actual_lrps, 1);
    it_free(r);
    /* SQL in a value matches nothing (and breaks nothing). */
    r = list_filtered("x' OR 'a'='a", NULL, NULL);
    assert_int_equal(r->n_actual_lrps, 0);
    it_free(r);
    r = list_filtered(NULL, NULL, "x') TO STDOUT; SELECT ('");
    assert_int_equal(r->n_actual_lrps, 0);
    it_free(r);

    guids[0] = guid;
    guids[1] = (char *)"o'brien\\";
    guids[2] = (char *)"";
    breq.process_guids = guids;
    breq.n_process_guids = 3;
    b = it_call("/v1/actual_lrps/list_by_process_guids", &breq.base,
                &models__actual_lrps_by_process_guids_response__descriptor);
    assert_int_equal(it_err_type(b), IT_OK);
    assert_int_equal(b->n_actual_lrps, 3);
    for (size_t i = 0; i < b->n_actual_lrps; i++) {
        assert_string_equal(b->actual_lrps[i]->actual_lrp_key->process_guid, guid);
    }
    it_free(b);
}

/* An empty list streams as an empty message (what the whole answer was). */
static void test_list_empty_streamed(void **state)
{
    Models__ActualLRPsRequest req = MODELS__ACTUAL_LRPS_REQUEST__INIT;
    uint8_t reqbuf[128];
    size_t reqlen;
    struct it_resp r;

    (void)state;
    req.process_guid = (char *)"no-such-guid-anywhere";
    reqlen = models__actual_lrps_request__pack(&req, reqbuf);
    it_post_raw("/v1/actual_lrps/list", reqbuf, reqlen, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    it_resp_free(&r);
}

/*
 * A JSON request for a list past the streaming threshold gets the whole JSON
 * answer (the JSON hook converts a whole protobuf answer, so the stream is
 * read to its end first): it has a Content-Length, and every ActualLRP in it
 * packs to the same bytes as the same instance in the protobuf answer.
 */
static void test_list_json_answer_is_the_protobuf_content(void **state)
{
    static const char *const json_headers[] = {"Content-Type: application/json", NULL};
    char guid[64];
    char body[160];
    Models__ActualLRPsRequest req = MODELS__ACTUAL_LRPS_REQUEST__INIT;
    uint8_t reqbuf[128];
    size_t reqlen;
    struct it_resp pb, js;
    Models__ActualLRPsResponse *mp, *mj;
    struct bbs_error err = {0};
    const Models__ActualLRP **by_index;
    const int32_t n = 3000;

    (void)state;
    it_uniq(guid, sizeof(guid), "streamjson");
    it_desire(guid, NULL, n);
    req.process_guid = guid;
    reqlen = models__actual_lrps_request__pack(&req, reqbuf);
    it_post_raw("/v1/actual_lrps/list", reqbuf, reqlen, &pb);
    assert_int_equal(pb.status, 200);
    assert_true(pb.len > 256 * 1024);
    assert_int_equal(pb.content_length, -1);

    snprintf(body, sizeof(body), "{\"process_guid\":\"%s\"}", guid);
    it_request("POST", "/v1/actual_lrps/list", body, strlen(body), json_headers, &js);
    assert_int_equal(js.status, 200);
    assert_non_null(strstr(js.content_type, "application/json"));
    assert_int_equal(js.content_length, (int64_t)js.len);

    mp = models__actual_lrps_response__unpack(NULL, pb.len, pb.body);
    assert_non_null(mp);
    mj = (Models__ActualLRPsResponse *)bbs_pbjson_decode(LIST_RESP, (const char *)js.body, js.len,
                                                         NULL, &err);
    assert_non_null(mj);
    assert_null(mj->error);
    assert_int_equal(mp->n_actual_lrps, n);
    assert_int_equal(mj->n_actual_lrps, n);
    by_index = calloc((size_t)n, sizeof(*by_index));
    for (size_t i = 0; i < mp->n_actual_lrps; i++) {
        by_index[mp->actual_lrps[i]->actual_lrp_key->index] = mp->actual_lrps[i];
    }
    for (size_t i = 0; i < mj->n_actual_lrps; i++) {
        const Models__ActualLRP *a = mj->actual_lrps[i];
        const Models__ActualLRP *b;
        size_t la, lb;
        uint8_t *pa, *pbytes;

        assert_true(a->actual_lrp_key->index >= 0 && a->actual_lrp_key->index < n);
        b = by_index[a->actual_lrp_key->index];
        assert_non_null(b);
        by_index[a->actual_lrp_key->index] = NULL; /* each instance once */
        la = models__actual_lrp__get_packed_size(a);
        lb = models__actual_lrp__get_packed_size(b);
        assert_int_equal(la, lb);
        pa = malloc(la);
        pbytes = malloc(lb);
        models__actual_lrp__pack(a, pa);
        models__actual_lrp__pack(b, pbytes);
        assert_memory_equal(pa, pbytes, la);
        free(pa);
        free(pbytes);
    }
    free(by_index);
    protobuf_c_message_free_unpacked(&mj->base, NULL);
    models__actual_lrps_response__free_unpacked(mp, NULL);
    it_resp_free(&js);
    it_resp_free(&pb);
}

/*
 * Desired LRPs: `guid` (domain `guid`) desired once, then copied by one SQL
 * statement into `copies` rows "<guid>-<g>" with a 1 KB annotation, the
 * even ones in domain `guid`, the odd ones in "<guid>-other".
 */
static void seed_desired(const char *guid, int copies)
{
    char n[16];
    const char *params[2] = {guid, n};

    snprintf(n, sizeof(n), "%d", copies);
    it_desire(guid, guid, 1);
    assert_int_equal(
        it_db_exec("INSERT INTO desired_lrps SELECT (jsonb_populate_record(d, jsonb_build_object("
                   "'process_guid', d.process_guid || '-' || g,"
                   " 'domain', CASE WHEN g % 2 = 0 THEN d.domain ELSE d.domain || '-other' END,"
                   " 'annotation', repeat('a', 1000)))).*"
                   " FROM desired_lrps d, generate_series(1, $2::int) g WHERE d.process_guid = $1",
                   2, params),
        copies);
}

/* POST `req` to `path`; the answer unpacked as `d` into `*m`, its bytes in `r`. */
static void post_list(const char *path, const ProtobufCMessage *req,
                      const ProtobufCMessageDescriptor *d, struct it_resp *r, ProtobufCMessage **m)
{
    uint8_t *reqbuf = malloc(protobuf_c_message_get_packed_size(req) + 1);
    size_t reqlen = protobuf_c_message_pack(req, reqbuf);

    it_post_raw(path, reqbuf, reqlen, r);
    free(reqbuf);
    assert_int_equal(r->status, 200);
    *m = protobuf_c_message_unpack(d, NULL, r->len, r->body);
    assert_non_null(*m);
}

static uint64_t varint(const uint8_t *b, size_t len, size_t *at)
{
    uint64_t v = 0;

    for (int shift = 0; *at < len && shift < 64; shift += 7) {
        uint8_t c = b[(*at)++];

        v |= (uint64_t)(c & 0x7f) << shift;
        if ((c & 0x80) == 0) {
            return v;
        }
    }
    fail_msg("truncated varint");
    return 0;
}

/*
 * The answer `r` is field 2 entries only, `n` of them, back to back (no
 * error field, nothing else); every `step`th entry is byte for byte the
 * entry the whole (non-list) read `get_path` answers for `guids[i]`.
 */
static void check_entries(const struct it_resp *r, size_t n, const char *get_path,
                          char *const *guids, size_t step)
{
    size_t at = 0;
    size_t i = 0;

    while (at < r->len) {
        size_t len;
        size_t start;

        assert_int_equal(varint(r->body, r->len, &at), (2 << 3) | 2);
        len = (size_t)varint(r->body, r->len, &at);
        start = at;
        at += len;
        assert_true(at <= r->len);
        if (i % step == 0) {
            /* Each get request used here is `string guid = 1`. */
            uint8_t buf[256];
            size_t glen = strlen(guids[i]);
            struct it_resp one;

            assert_true(glen < 128);
            buf[0] = (1 << 3) | 2;
            buf[1] = (uint8_t)glen;
            memcpy(buf + 2, guids[i], glen);
            it_post_raw(get_path, buf, glen + 2, &one);
            assert_int_equal(one.status, 200);
            assert_true(one.len > len);
            assert_int_equal(one.body[0], (2 << 3) | 2);
            assert_memory_equal(one.body + one.len - len, r->body + start, len);
            it_resp_free(&one);
        }
        i++;
    }
    assert_int_equal(i, n);
}

/*
 * /v1/desired_lrps/list.r3 and /v1/desired_lrp_scheduling_infos/list past
 * 256 KiB: chunked, each entry byte for byte what the get of that guid
 * answers (stored bytes are spliced, so not protobuf-c's canonical
 * order), the domain filter still applied (every row
 * of the domain once, none of the other); a process-guid filter still
 * narrows to its rows (a small answer, whole).
 */
static void test_desired_lists_streamed_and_filtered(void **state)
{
    char guid[64];
    char other[80];
    char g1[80], g2[80];
    char *guids[3];
    Models__DesiredLRPsRequest req = MODELS__DESIRED_LRPS_REQUEST__INIT;
    Models__DesiredLRPsResponse *dl;
    Models__DesiredLRPSchedulingInfosResponse *sl;
    char **names;
    char *seen;
    struct it_resp r;
    const int copies = 1200; /* 600 in the domain asked for, 1 KB each */

    (void)state;
    it_uniq(guid, sizeof(guid), "streamdlrp");
    snprintf(other, sizeof(other), "%s-other", guid);
    seed_desired(guid, copies);

    req.domain = guid;
    post_list("/v1/desired_lrps/list.r3", &req.base, &models__desired_lrps_response__descriptor, &r,
              (ProtobufCMessage **)&dl);
    assert_int_equal(r.content_length, -1); /* chunked */
    assert_null(dl->error);
    assert_int_equal(dl->n_desired_lrps, copies / 2 + 1);
    seen = calloc((size_t)copies + 1, 1);
    for (size_t i = 0; i < dl->n_desired_lrps; i++) {
        const Models__DesiredLRP *d = dl->desired_lrps[i];
        int g = 0;

        assert_string_equal(d->domain, guid);
        assert_int_equal(strncmp(d->process_guid, guid, strlen(guid)), 0);
        if (d->process_guid[strlen(guid)] == '-') {
            g = atoi(d->process_guid + strlen(guid) + 1);
            assert_true(g > 0 && g <= copies && g % 2 == 0);
            assert_int_equal(strlen(d->annotation), 1000);
        }
        assert_int_equal(seen[g], 0);
        seen[g] = 1;
        assert_non_null(d->action); /* the full view: run info came along */
    }
    names = calloc(dl->n_desired_lrps, sizeof(*names));
    for (size_t i = 0; i < dl->n_desired_lrps; i++) {
        names[i] = dl->desired_lrps[i]->process_guid;
    }
    check_entries(&r, dl->n_desired_lrps, "/v1/desired_lrps/get_by_process_guid.r3", names, 50);
    free(names);
    it_resp_free(&r);
    protobuf_c_message_free_unpacked(&dl->base, NULL);

    memset(seen, 0, (size_t)copies + 1);
    post_list("/v1/desired_lrp_scheduling_infos/list", &req.base,
              &models__desired_lrpscheduling_infos_response__descriptor, &r,
              (ProtobufCMessage **)&sl);
    assert_int_equal(r.content_length, -1);
    assert_int_equal(sl->n_desired_lrp_scheduling_infos, copies / 2 + 1);
    for (size_t i = 0; i < sl->n_desired_lrp_scheduling_infos; i++) {
        const Models__DesiredLRPKey *k = sl->desired_lrp_scheduling_infos[i]->desired_lrp_key;
        int g = 0;

        assert_string_equal(k->domain, guid);
        if (k->process_guid[strlen(guid)] == '-') {
            g = atoi(k->process_guid + strlen(guid) + 1);
            assert_true(g > 0 && g <= copies && g % 2 == 0);
        }
        assert_int_equal(seen[g], 0);
        seen[g] = 1;
    }
    names = calloc(sl->n_desired_lrp_scheduling_infos, sizeof(*names));
    for (size_t i = 0; i < sl->n_desired_lrp_scheduling_infos; i++) {
        names[i] = sl->desired_lrp_scheduling_infos[i]->desired_lrp_key->process_guid;
    }
    check_entries(&r, sl->n_desired_lrp_scheduling_infos,
                  "/v1/desired_lrp_scheduling_infos/get_by_process_guid", names, 50);
    free(names);
    it_resp_free(&r);
    protobuf_c_message_free_unpacked(&sl->base, NULL);
    free(seen);

    /* Filters narrow as before: two guids of different domains, no domain. */
    snprintf(g1, sizeof(g1), "%s-1", guid);
    snprintf(g2, sizeof(g2), "%s-2", guid);
    guids[0] = g1;
    guids[1] = g2;
    guids[2] = (char *)"no-such-guid";
    req.domain = NULL;
    req.process_guids = guids;
    req.n_process_guids = 3;
    post_list("/v1/desired_lrps/list.r3", &req.base, &models__desired_lrps_response__descriptor, &r,
              (ProtobufCMessage **)&dl);
    assert_int_equal(r.content_length, (int64_t)r.len); /* small: whole */
    assert_int_equal(dl->n_desired_lrps, 2);
    for (size_t i = 0; i < 2; i++) {
        const Models__DesiredLRP *d = dl->desired_lrps[i];

        assert_true(strcmp(d->process_guid, g1) == 0 || strcmp(d->process_guid, g2) == 0);
        assert_string_equal(d->domain, strcmp(d->process_guid, g1) == 0 ? other : guid);
    }
    it_resp_free(&r);
    protobuf_c_message_free_unpacked(&dl->base, NULL);
}

/*
 * /v1/tasks/list.r3 past 256 KiB: chunked, each entry byte for byte what
 * get_by_task_guid.r3 answers, the domain filter still applied; and a task
 * whose definition does not decode still ends the list there with a
 * Deserialize error after the tasks before it (11.9 q5), streamed or not.
 */
static void test_tasks_list_streamed_and_filtered(void **state)
{
    char guid[64];
    char n[16];
    const char *params[2];
    Models__TasksRequest req = MODELS__TASKS_REQUEST__INIT;
    Models__TasksResponse *tl;
    char **names;
    char *seen;
    struct it_resp r;
    const int copies = 1200; /* 600 in the domain asked for, 1 KB each */

    (void)state;
    it_uniq(guid, sizeof(guid), "streamtask");
    assert_int_equal(task_desire(guid, guid, NULL, NULL, NULL, 0), IT_OK);
    snprintf(n, sizeof(n), "%d", copies);
    params[0] = guid;
    params[1] = n;
    assert_int_equal(
        it_db_exec("INSERT INTO tasks SELECT (jsonb_populate_record(t, jsonb_build_object("
                   "'guid', t.guid || '-' || g,"
                   " 'domain', CASE WHEN g % 2 = 0 THEN t.domain ELSE t.domain || '-other' END,"
                   " 'result', repeat('r', 1000)))).*"
                   " FROM tasks t, generate_series(1, $2::int) g WHERE t.guid = $1",
                   2, params),
        copies);

    req.domain = guid;
    post_list("/v1/tasks/list.r3", &req.base, &models__tasks_response__descriptor, &r,
              (ProtobufCMessage **)&tl);
    assert_int_equal(r.content_length, -1); /* chunked */
    assert_null(tl->error);
    assert_int_equal(tl->n_tasks, copies / 2 + 1);
    seen = calloc((size_t)copies + 1, 1);
    names = calloc(tl->n_tasks, sizeof(*names));
    for (size_t i = 0; i < tl->n_tasks; i++) {
        const Models__Task *t = tl->tasks[i];
        int g = 0;

        assert_string_equal(t->domain, guid);
        assert_int_equal(strncmp(t->task_guid, guid, strlen(guid)), 0);
        if (t->task_guid[strlen(guid)] == '-') {
            g = atoi(t->task_guid + strlen(guid) + 1);
            assert_true(g > 0 && g <= copies && g % 2 == 0);
            assert_int_equal(strlen(t->result), 1000);
        }
        assert_int_equal(seen[g], 0);
        seen[g] = 1;
        assert_non_null(t->task_definition);
        names[i] = t->task_guid;
    }
    check_entries(&r, tl->n_tasks, "/v1/tasks/get_by_task_guid.r3", names, 50);
    free(names);
    free(seen);
    it_resp_free(&r);
    protobuf_c_message_free_unpacked(&tl->base, NULL);

    /* One definition that does not decode: the list stops there. */
    params[0] = guid;
    assert_int_equal(it_db_exec("UPDATE tasks SET task_definition = '\\xffffffff'::bytea"
                                " WHERE guid = $1 || '-600'",
                                1, params),
                     1);
    post_list("/v1/tasks/list.r3", &req.base, &models__tasks_response__descriptor, &r,
              (ProtobufCMessage **)&tl);
    assert_int_equal(r.content_length, -1); /* the updated row sits past 256 KiB */
    assert_non_null(tl->error);
    assert_int_equal(tl->error->type, MODELS__ERROR__TYPE__Deserialize);
    assert_true(tl->n_tasks > 0 && tl->n_tasks < (size_t)(copies / 2 + 1));
    snprintf(n, sizeof(n), "-600");
    for (size_t i = 0; i < tl->n_tasks; i++) {
        const char *tail = tl->tasks[i]->task_guid + strlen(guid);

        assert_string_not_equal(tail, n);
    }
    it_resp_free(&r);
    protobuf_c_message_free_unpacked(&tl->base, NULL);
}

/* Read from `fd` into `buf` (cap) until `pred` or EOF/timeout; returns bytes read in all. */
static size_t read_some(int fd, char *buf, size_t have, size_t cap, size_t want, int timeout_ms)
{
    int64_t t0 = it_mono_ms();

    while (have < want && have < cap && it_mono_ms() - t0 < timeout_ms) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t k;

        if (poll(&p, 1, 100) <= 0) {
            continue;
        }
        k = read(fd, buf + have, cap - have);
        if (k <= 0) {
            break;
        }
        have += (size_t)k;
    }
    return have;
}

/*
 * The chunked body in `body` (len bytes after the headers): 1 when it ends
 * with the last (zero-size) chunk, 0 when it stops before.
 */
static int chunked_complete(const char *body, size_t len)
{
    size_t at = 0;

    while (at < len) {
        char *end;
        unsigned long size = strtoul(body + at, &end, 16);
        const char *crlf = memchr(body + at, '\n', len - at);

        if (crlf == NULL || end == body + at) {
            return 0;
        }
        at = (size_t)(crlf - body) + 1;
        if (size == 0) {
            return 1;
        }
        at += size + 2;
    }
    return 0;
}

static void test_list_cut_when_database_fails_midstream(void **state)
{
    char guid[64];
    Models__ActualLRPsRequest req = MODELS__ACTUAL_LRPS_REQUEST__INIT;
    uint8_t reqbuf[128];
    size_t reqlen;
    char head[512];
    const char *params[1];
    struct sockaddr_in sa = {0};
    int fd;
    int small = 4096;
    size_t cap = 64u << 20, have, hdr_end;
    char *buf = malloc(cap);
    char *sep;
    int killed = 0;
    /* Under valgrind (a server some 20 times slower) fewer rows: still
     * about 8 MB, far past the socket buffers and the 256 KiB threshold. */
    const int32_t n = it_valgrind() ? 4000 : 20000;

    (void)state;
    it_uniq(guid, sizeof(guid), "streamcut");
    it_desire(guid, NULL, n);
    /* Set-up: rows of about 2 KB, so the answer (8-40 MB) cannot sit
     * whole in the socket buffers between the database and this client. */
    params[0] = guid;
    assert_int_equal(it_db_exec("UPDATE actual_lrps SET crash_reason = repeat('c', 1000),"
                                " placement_error = repeat('p', 1000) WHERE process_guid = $1",
                                1, params),
                     n);

    req.process_guid = guid;
    reqlen = models__actual_lrps_request__pack(&req, reqbuf);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)it_server_port());
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    snprintf(head, sizeof(head),
             "POST /v1/actual_lrps/list HTTP/1.1\r\nHost: localhost\r\n"
             "Content-Type: application/x-protobuf\r\nContent-Length: %zu\r\n\r\n",
             reqlen);
    assert_int_equal(write(fd, head, strlen(head)), (ssize_t)strlen(head));
    assert_int_equal(write(fd, reqbuf, reqlen), (ssize_t)reqlen);

    /* The answer has begun: headers and some rows. */
    have = read_some(fd, buf, 0, cap, 8192, 30000);
    assert_true(have >= 8192);
    sep = memmem(buf, have, "\r\n\r\n", 4);
    assert_non_null(sep);
    hdr_end = (size_t)(sep - buf) + 4;
    assert_non_null(memmem(buf, hdr_end, "200 OK", 6));
    assert_non_null(memmem(buf, hdr_end, "chunked", 7));

    /* The database session reading the list dies (a failover, a crash). */
    for (int i = 0; i < 100 && killed == 0; i++) {
        killed = it_db_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                            " AND query LIKE 'COPY (SELECT process_guid, instance_index%'",
                            0, NULL);
        if (killed == 0) {
            it_sleep_ms(50);
        }
    }
    assert_true(killed >= 1);

    /* The rest: what was buffered, then the connection closes without the
     * last chunk. */
    have = read_some(fd, buf, have, cap, cap, 60000);
    close(fd);
    assert_true(have < cap);
    assert_int_equal(chunked_complete(buf + hdr_end, have - hdr_end), 0);
    free(buf);

    /* The server carries on: the next list of the same rows is whole. */
    {
        Models__ActualLRPsResponse *m = it_list_actuals(guid);

        assert_int_equal(m->n_actual_lrps, n);
        it_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_5k_streamed_whole_and_canonical),
        cmocka_unit_test(test_list_empty_streamed),
        cmocka_unit_test(test_list_filter_values_are_values),
        cmocka_unit_test(test_list_json_answer_is_the_protobuf_content),
        cmocka_unit_test(test_desired_lists_streamed_and_filtered),
        cmocka_unit_test(test_tasks_list_streamed_and_filtered),
        cmocka_unit_test(test_list_cut_when_database_fails_midstream),
    };

    it_set_name("liststream");
    return it_main_exit(
        cmocka_run_group_tests_name("list_stream", tests, it_group_setup, it_group_teardown));
}
