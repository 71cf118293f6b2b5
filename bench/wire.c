/*
 * wire.c - protobuf top-level walk (see wire.h).
 */
#include "wire.h"

#include <stdio.h>
#include <string.h>

static int varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;

    for (int shift = 0; shift < 64; shift += 7) {
        if (p == end) {
            return -1;
        }
        v |= (uint64_t)(*p & 0x7f) << shift;
        if ((*p++ & 0x80) == 0) {
            *pp = p;
            *out = v;
            return 0;
        }
    }
    return -1; /* over-long */
}

/* The fields of models.Error { ErrorType type = 1; string message = 2; } we report. */
static int scan_error(const uint8_t *p, const uint8_t *end, int *type, char *msg, size_t msglen)
{
    *type = 0;
    while (p < end) {
        uint64_t k;
        uint64_t v;

        if (varint(&p, end, &k) != 0) {
            return -1;
        }
        switch (k & 7) {
        case 0:
            if (varint(&p, end, &v) != 0) {
                return -1;
            }
            if ((k >> 3) == 1) {
                *type = (int)v;
            }
            break;
        case 2:
            if (varint(&p, end, &v) != 0 || v > (uint64_t)(end - p)) {
                return -1;
            }
            if ((k >> 3) == 2 && msg != NULL && msglen > 0) {
                size_t m = v < msglen - 1 ? (size_t)v : msglen - 1;

                memcpy(msg, p, m);
                msg[m] = '\0';
            }
            p += v;
            break;
        case 1:
            if (end - p < 8) {
                return -1;
            }
            p += 8;
            break;
        case 5:
            if (end - p < 4) {
                return -1;
            }
            p += 4;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

int bench_wire_scan(const uint8_t *p, size_t n, unsigned count_field, size_t *count, int *err_type,
                    char *msg, size_t msglen)
{
    const uint8_t *end = p + n;
    size_t c = 0;

    *err_type = -1;
    if (msg != NULL && msglen > 0) {
        msg[0] = '\0';
    }
    while (p < end) {
        uint64_t k;
        uint64_t v;
        uint64_t field;

        if (varint(&p, end, &k) != 0) {
            return -1;
        }
        field = k >> 3;
        if (field == 0) {
            return -1;
        }
        switch (k & 7) {
        case 0:
            if (varint(&p, end, &v) != 0) {
                return -1;
            }
            break;
        case 1:
            if (end - p < 8) {
                return -1;
            }
            p += 8;
            break;
        case 2:
            if (varint(&p, end, &v) != 0 || v > (uint64_t)(end - p)) {
                return -1;
            }
            if (field == 1 && scan_error(p, p + v, err_type, msg, msglen) != 0) {
                return -1;
            }
            p += v;
            break;
        case 5:
            if (end - p < 4) {
                return -1;
            }
            p += 4;
            break;
        default:
            return -1; /* groups: never in this contract */
        }
        if (field == count_field) {
            c++;
        }
    }
    if (count != NULL) {
        *count = c;
    }
    return 0;
}

int bench_wire_varint(const uint8_t *p, size_t n, unsigned field, uint64_t *out)
{
    const uint8_t *end = p + n;
    int found = 0;

    while (p < end) {
        uint64_t k;
        uint64_t v;

        if (varint(&p, end, &k) != 0 || (k >> 3) == 0) {
            return -1;
        }
        switch (k & 7) {
        case 0:
            if (varint(&p, end, &v) != 0) {
                return -1;
            }
            if ((k >> 3) == field) {
                *out = v;
                found = 1;
            }
            break;
        case 1:
            if (end - p < 8) {
                return -1;
            }
            p += 8;
            break;
        case 2:
            if (varint(&p, end, &v) != 0 || v > (uint64_t)(end - p)) {
                return -1;
            }
            p += v;
            break;
        case 5:
            if (end - p < 4) {
                return -1;
            }
            p += 4;
            break;
        default:
            return -1;
        }
    }
    return found;
}

int bench_wire_check(const struct bench_conn *c, const char *what, unsigned count_field,
                     size_t *count, struct bench_errs *errs)
{
    char msg[128];
    int type = -1;

    if (count != NULL) {
        *count = 0;
    }
    if (!c->ok) {
        errs->wire++;
        if (errs->first[0] == '\0') {
            snprintf(errs->first, sizeof(errs->first), "%s: %s", what, c->error);
        }
        return -1;
    }
    if (bench_wire_scan(c->resp, c->resp_len, count_field, count, &type, msg, sizeof(msg)) != 0) {
        errs->wire++;
        if (errs->first[0] == '\0') {
            snprintf(errs->first, sizeof(errs->first), "%s: undecodable answer (%zu bytes)", what,
                     c->resp_len);
        }
        return -1;
    }
    if (type < 0) {
        return 0;
    }
    errs->bbs++;
    errs->by_type[type >= 0 && type < BENCH_ERR_TYPES ? type : 0]++;
    if (errs->first[0] == '\0') {
        snprintf(errs->first, sizeof(errs->first), "%s: error %d: %s", what, type, msg);
    }
    return 1;
}
