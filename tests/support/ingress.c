/*
 * ingress.c - see ingress.h: spawns tests/support/ingress_standin.py with
 * pipes on its stdin and stdout and exchanges one JSON line per command
 * (support/standin.c, shared with the Locket stand-in).
 */
#include "support/ingress.h"

#include <stdlib.h>
#include <string.h>

#include "support/standin.h"

#define INGRESS_LINE_MAX (8 << 20) /* every envelope of a test in one answer */

static struct it_standin st = {.name = "ingress stand-in", .from = -1};
static int port;

int it_ingress_start(void)
{
    if (it_standin_certs(&st, "metron", "metron") != 0 ||
        it_standin_start(&st, "ingress_standin.py", INGRESS_LINE_MAX, &port) != 0) {
        it_ingress_stop();
        return -1;
    }
    return 0;
}

void it_ingress_stop(void)
{
    it_standin_stop(&st);
    port = 0;
}

int it_ingress_port(void)
{
    return port;
}

json_t *it_ingress_server_config(int untrusted)
{
    /* The server dials the agent at start-up within loggregator_dial_timeout (upstream's 1 s);
     * under valgrind a TLS handshake alone can take longer. (BBS_VALGRIND is read here: this
     * config is made before the first it_server_start, which sets it_valgrind().) */
    const char *vg = getenv("BBS_VALGRIND");
    int valgrind = vg != NULL && strcmp(vg, "1") == 0;

    return json_pack("{s:{s:b, s:i, s:s, s:s, s:s, s:s}}", "loggregator", "loggregator_use_v2_api",
                     1, "loggregator_api_port", port, "loggregator_ca_path", st.ca,
                     "loggregator_cert_path", untrusted ? st.untrusted : st.client,
                     "loggregator_key_path", untrusted ? st.untrusted_key : st.client_key,
                     "loggregator_dial_timeout", valgrind ? "30s" : "1s");
}

json_t *it_ingress_envelopes(void)
{
    json_t *answer = it_standin_cmd(&st, json_pack("{s:s}", "op", "envelopes"));
    json_t *list = NULL;

    if (answer != NULL) {
        list = json_incref(json_object_get(answer, "envelopes"));
        json_decref(answer);
    }
    return list;
}

long it_ingress_streams(void)
{
    json_t *answer = it_standin_cmd(&st, json_pack("{s:s}", "op", "streams"));
    long n = -1;

    if (answer != NULL) {
        n = (long)json_integer_value(json_object_get(answer, "streams"));
        json_decref(answer);
    }
    return n;
}

unsigned long long it_ingress_counter_sum(json_t *envelopes, const char *name)
{
    unsigned long long sum = 0;
    size_t i;
    json_t *e;

    json_array_foreach(envelopes, i, e)
    {
        json_t *c = json_object_get(e, "counter");

        if (c != NULL && strcmp(json_string_value(json_object_get(c, "name")), name) == 0) {
            sum += (unsigned long long)json_integer_value(json_object_get(c, "delta"));
        }
    }
    return sum;
}

json_t *it_ingress_last_gauge(json_t *envelopes, const char *name)
{
    json_t *last = NULL;
    size_t i;
    json_t *e;

    json_array_foreach(envelopes, i, e)
    {
        if (json_object_get(json_object_get(e, "gauge"), name) != NULL) {
            last = e;
        }
    }
    return last;
}

int it_ingress_gauge_count(json_t *envelopes, const char *name, double *last)
{
    int n = 0;
    size_t i;
    json_t *e;

    json_array_foreach(envelopes, i, e)
    {
        json_t *g = json_object_get(json_object_get(e, "gauge"), name);

        if (g != NULL) {
            n++;
            if (last != NULL) {
                *last = json_number_value(json_object_get(g, "value"));
            }
        }
    }
    return n;
}
