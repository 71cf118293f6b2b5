/*
 * locket.c - see locket.h: spawns tests/support/locket_standin.py with
 * pipes on its stdin and stdout and exchanges one JSON line per command
 * (support/standin.c).
 */
#include "support/locket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/standin.h"

#define LOCKET_LINE_MAX 65536 /* one answer */

static struct it_standin st = {.name = "locket stand-in", .from = -1};
static char address[64];

static int locket_do(json_t *cmd)
{
    json_t *answer = it_standin_cmd(&st, cmd);

    json_decref(answer);
    return answer != NULL ? 0 : -1;
}

int it_locket_start(void)
{
    int port;

    if (it_standin_certs(&st, "locket", "server") != 0 ||
        it_standin_start(&st, "locket_standin.py", LOCKET_LINE_MAX, &port) != 0) {
        it_locket_stop();
        return -1;
    }
    snprintf(address, sizeof(address), "127.0.0.1:%d", port);
    return 0;
}

void it_locket_stop(void)
{
    it_standin_stop(&st);
    address[0] = '\0';
}

const char *it_locket_address(void)
{
    return address;
}

json_t *it_locket_server_config(void)
{
    /* uuid: the owner of Locket's lock "bbs", required with locket_address (leadership). */
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "locket_address", address, "locket_ca_cert_file",
                     st.ca, "locket_client_cert_file", st.client, "locket_client_key_file",
                     st.client_key, "uuid", "bbs-it-uuid");
}

const char *it_locket_cert_path(const char *which)
{
    static const struct {
        const char *name;
        const char *path;
    } paths[] = {{"ca", st.ca},
                 {"client", st.client},
                 {"client_key", st.client_key},
                 {"untrusted", st.untrusted},
                 {"untrusted_key", st.untrusted_key}};

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (strcmp(paths[i].name, which) == 0) {
            return paths[i].path;
        }
    }
    return NULL;
}

int it_locket_set_presence(const char *key, const char *value, int ttl_s)
{
    char owner[300];

    snprintf(owner, sizeof(owner), "rep-%s", key);
    return locket_do(json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "op", "set", "key", key, "owner",
                               owner, "value", value, "type_code", 2, "ttl", ttl_s));
}

json_t *it_locket_cell_json(const char *cell_id, const char *zone, json_t *extra)
{
    char rep_address[300];
    char rep_url[300];
    json_t *p;

    snprintf(rep_address, sizeof(rep_address), "http://%s.example:1800", cell_id);
    snprintf(rep_url, sizeof(rep_url), "https://%s.example:1801", cell_id);
    p = json_pack("{s:s, s:s, s:s, s:{s:i, s:i, s:i}, s:[{s:s, s:[s]}, {s:s}], s:s, s:{}}",
                  "cell_id", cell_id, "rep_address", rep_address, "zone", zone, "capacity",
                  "memory_mb", 1024, "disk_mb", 2048, "containers", 10, "rootfs_provider_list",
                  "name", "preloaded", "properties", "cflinuxfs4", "name", "docker", "rep_url",
                  rep_url, "annotations");
    if (p != NULL && extra != NULL) {
        json_object_update(p, extra);
    }
    return p;
}

int it_locket_register_cell(const char *cell_id, const char *zone, json_t *extra)
{
    json_t *p = it_locket_cell_json(cell_id, zone, extra);
    char *value = p != NULL ? json_dumps(p, JSON_COMPACT) : NULL;
    int rc = -1;

    if (value != NULL) {
        rc = it_locket_set_presence(cell_id, value, 0);
    }
    free(value);
    json_decref(p);
    return rc;
}

int it_locket_remove(const char *key)
{
    return locket_do(json_pack("{s:s, s:s}", "op", "del", "key", key));
}

int it_locket_fail(const char *code, const char *message)
{
    return locket_do(json_pack("{s:s, s:s, s:s}", "op", "fail", "code", code ? code : "OK",
                               "message", message ? message : ""));
}

int it_locket_down(void)
{
    return locket_do(json_pack("{s:s}", "op", "down"));
}

int it_locket_up(void)
{
    return locket_do(json_pack("{s:s}", "op", "up"));
}

long it_locket_calls(const char *method)
{
    json_t *answer = it_standin_cmd(&st, json_pack("{s:s}", "op", "calls"));
    long n = -1;

    if (answer != NULL) {
        json_t *v = json_object_get(json_object_get(answer, "calls"), method);

        n = json_is_integer(v) ? (long)json_integer_value(v) : 0;
        json_decref(answer);
    }
    return n;
}

int it_locket_owner(const char *key, char *out, size_t len)
{
    json_t *answer = it_standin_cmd(&st, json_pack("{s:s, s:s}", "op", "get", "key", key));
    int rc = -1;

    if (answer != NULL) {
        const char *o = json_string_value(json_object_get(answer, "owner"));

        snprintf(out, len, "%s", o != NULL ? o : "");
        rc = 0;
        json_decref(answer);
    }
    return rc;
}

int it_locket_set_lock(const char *key, const char *owner, int ttl_s)
{
    return locket_do(json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "op", "set", "key", key, "owner",
                               owner, "value", "", "type_code", 1, "ttl", ttl_s));
}
