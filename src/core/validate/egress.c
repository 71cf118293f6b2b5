/*
 * egress.c - egress rules (see validate_egress.h), with the IP and CIDR
 * lexers that reproduce Go's net.ParseIP and net.ParseCIDR.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "bbs/validate_egress.h"
#include "validate_int.h"

/*
 * Go's net.ParseIP: dotted quad (no leading zeros) or IPv6 text without a
 * zone, chosen by whichever of '.' and ':' comes first. IPv4 is returned
 * in its IPv4-mapped 16-byte form, as Go does.
 */
static int parse_ip(const char *s, size_t n, uint8_t out[16])
{
    char buf[64];
    int family = 0;

    for (size_t i = 0; i < n && family == 0; i++) {
        if (s[i] == '.') {
            family = AF_INET;
        } else if (s[i] == ':') {
            family = AF_INET6;
        } else if (s[i] == '%' || s[i] == '\0') {
            return -1;
        }
    }
    if (family == 0 || n >= sizeof(buf)) {
        return -1; /* no valid address text is anywhere near 64 bytes */
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (family == AF_INET6) {
        return inet_pton(AF_INET6, buf, out) == 1 ? AF_INET6 : -1;
    }
    memset(out, 0, 10);
    out[10] = 0xff;
    out[11] = 0xff;
    return inet_pton(AF_INET, buf, out + 12) == 1 ? AF_INET : -1;
}

/* Go's net.ParseCIDR: address, '/', decimal prefix length within the family. */
static int cidr_ok(const char *s, size_t n)
{
    const char *slash = memchr(s, '/', n);
    uint8_t ip[16];
    int family;
    size_t i;
    long bits = 0;

    if (slash == NULL) {
        return 0;
    }
    family = parse_ip(s, (size_t)(slash - s), ip);
    if (family < 0) {
        return 0;
    }
    /* Go's dtoi: leading zeros are fine, giving up at 0xFFFFFF. */
    for (i = (size_t)(slash - s) + 1; i < n && is_digit((unsigned char)s[i]); i++) {
        bits = bits * 10 + (s[i] - '0');
        if (bits >= 0xFFFFFF) {
            return 0;
        }
    }
    if (i == (size_t)(slash - s) + 1 || i != n) {
        return 0;
    }
    return bits <= (family == AF_INET ? 32 : 128);
}

/*
 * One comma-separated destination item. Problems are written as pieces of
 * the single "destinations [ ... ]" problem, separated by ", ".
 */
static int dest_piece(struct bbs_problems *p, int *first, const char *text, const char *item,
                      size_t item_len)
{
    if (p != NULL) {
        if (!*first) {
            bbs_problems_put(p, ", ", 2);
        }
        bbs_problems_puts(p, text);
        if (item != NULL) {
            bbs_problems_put(p, item, item_len);
        }
    }
    *first = 0;
    return 1;
}

static int v_dest_item(const char *d, size_t n, struct bbs_problems *p, int *first)
{
    size_t k = 0;
    uint8_t a[16];
    uint8_t b[16];
    int count = 0;

    while (k < n && d[k] != '-' && d[k] != '/') {
        k++;
    }
    if (k == n) {
        if (parse_ip(d, n, a) < 0) {
            count += dest_piece(p, first, "Invalid IP", NULL, 0);
        }
        return count;
    }
    if (d[k] == '/') {
        if (!cidr_ok(d, n)) {
            count += dest_piece(p, first, "invalid CIDR address: ", d, n);
        }
        return count;
    }
    if (parse_ip(d, k, a) < 0 || parse_ip(d + k + 1, n - k - 1, b) < 0) {
        return count + dest_piece(p, first, "Invalid IP", NULL, 0);
    }
    /*
     * Upstream compares the 16-byte forms byte by byte: it stops at the
     * first byte where the start is smaller, and reports "Invalid IP" for
     * every byte before that where the start is larger, so a reversed
     * range can yield the problem more than once.
     */
    for (size_t i = 0; i < 16; i++) {
        if (a[i] < b[i]) {
            break;
        }
        if (a[i] > b[i]) {
            count += dest_piece(p, first, "Invalid IP", NULL, 0);
        }
    }
    return count;
}

static int v_destinations(const Models__SecurityGroupRule *r, struct bbs_problems *p)
{
    int first = 1;
    int count = 0;

    if (r->n_destinations == 0) {
        return dest_piece(p, &first, "Must have at least 1 destination", NULL, 0);
    }
    for (size_t i = 0; i < r->n_destinations; i++) {
        const char *d = r->destinations[i] == NULL ? "" : r->destinations[i];
        /* strings.Split(d, ","): every item, empty ones included. */
        for (;;) {
            const char *comma = strchr(d, ',');
            size_t n = comma == NULL ? strlen(d) : (size_t)(comma - d);
            count += v_dest_item(d, n, p, &first);
            if (comma == NULL) {
                break;
            }
            d = comma + 1;
        }
    }
    return count;
}

/* tcp / udp: exactly one of ports and port_range, each well-formed. */
static int v_rule_ports(const Models__SecurityGroupRule *r, struct bbs_problems *p)
{
    int n = 0;

    if (r->port_range == NULL && r->n_ports == 0) {
        return bbs_problems_note(p, "Missing required field: ports or port_range");
    }
    if (r->port_range != NULL && r->n_ports > 0) {
        return bbs_problems_note(p, "Invalid: ports and port_range provided");
    }
    if (r->port_range != NULL) {
        if (r->port_range->start < 1) {
            n += bbs_problems_field(p, "port_range");
        }
        if (r->port_range->end < 1) {
            n += bbs_problems_field(p, "port_range");
        }
        if (r->port_range->start > r->port_range->end) {
            n += bbs_problems_field(p, "port_range");
        }
    }
    for (size_t i = 0; i < r->n_ports; i++) {
        if (r->ports[i] < 1) {
            n += bbs_problems_field(p, "ports");
        }
    }
    return n;
}

int bbs_validate_egress_rule(const Models__SecurityGroupRule *r, struct bbs_problems *p)
{
    const char *proto = r->protocol == NULL ? "" : r->protocol;
    int n = 0;
    int k;

    if (strcmp(proto, "tcp") == 0 || strcmp(proto, "udp") == 0) {
        n += v_rule_ports(r, p);
        if (r->icmp_info != NULL) {
            n += bbs_problems_field(p, "icmp_info");
        }
    } else if (strcmp(proto, "icmp") == 0 || strcmp(proto, "icmpv6") == 0 ||
               strcmp(proto, "all") == 0) {
        if (r->port_range != NULL) {
            n += bbs_problems_field(p, "port_range");
        }
        if (r->n_ports > 0) {
            n += bbs_problems_field(p, "ports");
        }
        if (strcmp(proto, "all") == 0) {
            if (r->icmp_info != NULL) {
                n += bbs_problems_field(p, "icmp_info");
            }
        } else if (r->icmp_info == NULL) {
            n += bbs_problems_field(p, strcmp(proto, "icmp") == 0 ? "icmp_info" : "icmpv6_info");
        }
    } else {
        n += bbs_problems_field(p, "protocol");
    }

    k = v_destinations(r, NULL);
    if (k > 0) {
        if (p != NULL) {
            bbs_problems_begin(p);
            bbs_problems_puts(p, "Invalid field: destinations [ ");
            v_destinations(r, p);
            bbs_problems_puts(p, " ]");
        }
        n++;
    }
    return n;
}
