/*
 * validate.c - request validation (see validate.h).
 *
 * Each validator mirrors one upstream Validate() method: same checks, same
 * order, same texts (reference 2.3-2.8, 5.1, 5.2). Upstream collects
 * problems into a flat list in which a nested validator's problems are
 * spliced in place, often preceded by a header such as
 * "Invalid field: setup". A header is only written when the nested part
 * has problems, so nested validators here take a NULL sink meaning "only
 * count": the caller counts first, then writes header and problems.
 *
 * Every internal validator returns how many problems it appended (or
 * would append, for a NULL sink).
 */
#include "bbs/validate.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define ANNOTATION_MAX           (10 * 1024)
#define ROUTES_MAX               (128 * 1024)
#define VOLUME_MOUNTED_FILES_MAX (1024 * 1024)
#define CPU_WEIGHT_MAX           100

/* ---- the problem list ---- */

/*
 * Append `n` bytes of `s` to the text. When they do not fit, keep what
 * fits and end the text with "..."; once full, every later call only
 * rewrites that marker.
 */
static void put(struct bbs_problems *p, const char *s, size_t n)
{
    size_t cap = sizeof(p->text) - 1;
    size_t room = cap - p->len;

    if (n <= room) {
        memcpy(p->text + p->len, s, n);
        p->len += n;
        p->text[p->len] = '\0';
        return;
    }
    memcpy(p->text + p->len, s, room);
    p->len = cap;
    memcpy(p->text + cap - 3, "...", 3);
    p->text[cap] = '\0';
}

static void puts0(struct bbs_problems *p, const char *s)
{
    put(p, s, strlen(s));
}

/* Start a new problem: count it and write the separator. */
static void begin(struct bbs_problems *p)
{
    if (p->count > 0) {
        put(p, ", ", 2);
    }
    p->count++;
}

void bbs_problems_add(struct bbs_problems *p, const char *problem)
{
    begin(p);
    puts0(p, problem);
}

/* A free-sentence problem. `p` may be NULL (count only). */
static int add(struct bbs_problems *p, const char *problem)
{
    if (p != NULL) {
        bbs_problems_add(p, problem);
    }
    return 1;
}

/* "Invalid field: <name>". `p` may be NULL (count only). */
static int field(struct bbs_problems *p, const char *name)
{
    if (p != NULL) {
        begin(p);
        puts0(p, "Invalid field: ");
        puts0(p, name);
    }
    return 1;
}

/* ---- small helpers ---- */

/* protobuf-c never leaves a string NULL, but hand-built messages may. */
static int empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

static size_t slen(const char *s)
{
    return s == NULL ? 0 : strlen(s);
}

static int streq(const char *a, const char *b)
{
    return strcmp(a == NULL ? "" : a, b == NULL ? "" : b) == 0;
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned hex_val(unsigned char c)
{
    if (is_digit(c)) {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10u;
    }
    return c - 'A' + 10u;
}

/* Scratch memory; the core has no logger, so out of memory just aborts. */
static void *xrealloc(void *ptr, size_t n)
{
    void *q = realloc(ptr, n);

    if (q == NULL) {
        abort();
    }
    return q;
}

/*
 * ---- map keys ----
 *
 * protobuf-c keeps every entry of a proto map as sent, duplicates
 * included, while upstream decodes into a Go map where the last entry
 * with a given key wins. To judge what upstream judges, the entries are
 * sorted by (key, position) and only the last of each key is looked at.
 * Upstream walks its maps in random order; that never shows, because the
 * only per-entry problems (metric tags) all have the same text and the
 * routes size check is a sum.
 */
struct key_ref {
    const char *key;
    size_t pos;
    const void *val;
};

struct key_refs {
    struct key_ref small[16];
    struct key_ref *v;
    size_t n;
};

static void key_refs_init(struct key_refs *kr, size_t n)
{
    kr->n = n;
    kr->v = n <= sizeof(kr->small) / sizeof(kr->small[0])
                ? kr->small
                : xrealloc(NULL, n * sizeof(struct key_ref));
}

static void key_refs_free(struct key_refs *kr)
{
    if (kr->v != kr->small) {
        free(kr->v);
    }
    kr->v = NULL;
}

static void key_refs_set(struct key_refs *kr, size_t i, const char *key, const void *val)
{
    kr->v[i].key = key == NULL ? "" : key;
    kr->v[i].pos = i;
    kr->v[i].val = val;
}

static int key_ref_cmp(const void *a, const void *b)
{
    const struct key_ref *x = a;
    const struct key_ref *y = b;
    int c = strcmp(x->key, y->key);

    if (c != 0) {
        return c;
    }
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static void key_refs_sort(struct key_refs *kr)
{
    if (kr->n > 1) {
        qsort(kr->v, kr->n, sizeof(kr->v[0]), key_ref_cmp);
    }
}

/* After sorting: is entry i the one upstream keeps for its key? */
static int key_refs_wins(const struct key_refs *kr, size_t i)
{
    return i + 1 == kr->n || strcmp(kr->v[i].key, kr->v[i + 1].key) != 0;
}

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
        n += field(p, "static");
        n += field(p, "dynamic");
    }
    return n;
}

/* `kr` sorted, values are Models__MetricTagValue. `metrics_guid` "" = no source_id rule. */
static int v_metric_tags(const struct key_refs *kr, const char *metrics_guid,
                         struct bbs_problems *p)
{
    const Models__MetricTagValue *source_id = NULL;
    int found = 0;
    int n = 0;

    for (size_t i = 0; i < kr->n; i++) {
        if (!key_refs_wins(kr, i)) {
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
            n += field(p, "source_id should match metrics_guid");
        }
    }
    return n;
}

/* ---- routes (2.6.3) ---- */

/* Sum of the value lengths of the entries upstream keeps, over the limit? */
static int routes_too_big(const Models__ProtoRoutes *routes)
{
    struct key_refs kr;
    size_t total = 0;
    int big = 0;

    key_refs_init(&kr, routes->n_routes);
    for (size_t i = 0; i < routes->n_routes; i++) {
        const Models__ProtoRoutes__RoutesEntry *e = routes->routes[i];
        key_refs_set(&kr, i, e == NULL ? "" : e->key, e);
    }
    key_refs_sort(&kr);
    for (size_t i = 0; i < kr.n && !big; i++) {
        const Models__ProtoRoutes__RoutesEntry *e = kr.v[i].val;
        if (e != NULL && key_refs_wins(&kr, i)) {
            total += e->value.len;
            big = total > ROUTES_MAX;
        }
    }
    key_refs_free(&kr);
    return big;
}

/*
 * ---- rootfs URL (5.1 #4) ----
 *
 * Upstream accepts root_fs when Go's url.Parse succeeds and yields a
 * non-empty scheme. With a scheme present, Parse can still fail on: a
 * control byte (< 0x20 or 0x7f) before the '#'; a malformed %-escape in
 * the path or fragment; and, after "//", a malformed authority (bad
 * userinfo bytes, a port that is not digits, a byte a host may not hold,
 * a %-escape of an ASCII byte in the host). The query and an opaque
 * remainder ("preloaded:x") are never checked.
 */
enum url_mode { URL_PATH, URL_FRAGMENT, URL_USERINFO, URL_HOST, URL_ZONE };

/* Go's shouldEscape for host and zone: which ASCII bytes a host may not hold. */
static int host_byte_bad(unsigned char c)
{
    if (is_alpha(c) || is_digit(c)) {
        return 0;
    }
    return strchr("!$&'()*+,;=:[]<>\"-_.~", c) == NULL || c == '\0';
}

/* Go's unescape() error cases for `mode`: 1 = acceptable. */
static int url_unescape_ok(const char *s, size_t n, enum url_mode mode)
{
    int hostish = mode == URL_HOST || mode == URL_ZONE;

    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];

        if (c == '%') {
            if (i + 2 >= n || !is_hex((unsigned char)s[i + 1]) ||
                !is_hex((unsigned char)s[i + 2])) {
                return 0;
            }
            int pct25 = s[i + 1] == '2' && s[i + 2] == '5';
            unsigned v = hex_val((unsigned char)s[i + 1]) << 4 | hex_val((unsigned char)s[i + 2]);
            /* A host may %-escape only non-ASCII bytes (and %25 before a zone). */
            if (mode == URL_HOST && hex_val((unsigned char)s[i + 1]) < 8 && !pct25) {
                return 0;
            }
            /* A zone may %-escape a space, or a byte it could hold as is. */
            if (mode == URL_ZONE && !pct25 && v != ' ' &&
                (v >= 0x80 || host_byte_bad((unsigned char)v))) {
                return 0;
            }
            i += 3;
            continue;
        }
        if (hostish && c < 0x80 && host_byte_bad(c)) {
            return 0;
        }
        i++;
    }
    return 1;
}

/* "" or ":" followed by digits only. */
static int url_port_ok(const char *s, size_t n)
{
    if (n == 0) {
        return 1;
    }
    if (s[0] != ':') {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if (!is_digit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

static const char *mem_rchr(const char *s, size_t n, char c)
{
    for (size_t i = n; i > 0; i--) {
        if (s[i - 1] == c) {
            return s + i - 1;
        }
    }
    return NULL;
}

static const char *mem_find(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);

    for (size_t i = 0; i + k <= n; i++) {
        if (memcmp(s + i, needle, k) == 0) {
            return s + i;
        }
    }
    return NULL;
}

static int url_host_ok(const char *h, size_t n)
{
    if (n > 0 && h[0] == '[') {
        const char *rb = mem_rchr(h, n, ']');
        size_t i;
        const char *zone;

        if (rb == NULL) {
            return 0;
        }
        i = (size_t)(rb - h);
        if (!url_port_ok(rb + 1, n - i - 1)) {
            return 0;
        }
        zone = mem_find(h, i, "%25");
        if (zone != NULL) {
            size_t z = (size_t)(zone - h);
            return url_unescape_ok(h, z, URL_HOST) && url_unescape_ok(h + z, i - z, URL_ZONE) &&
                   url_unescape_ok(h + i, n - i, URL_HOST);
        }
    } else {
        const char *colon = mem_rchr(h, n, ':');
        if (colon != NULL && !url_port_ok(colon, n - (size_t)(colon - h))) {
            return 0;
        }
    }
    return url_unescape_ok(h, n, URL_HOST);
}

/* Go's validUserinfo: ASCII only, from a fixed set. */
static int url_userinfo_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_alpha(c) || is_digit(c)) {
            continue;
        }
        if (c == '\0' || strchr("-._:~!$&'()*+,;=%@", c) == NULL) {
            return 0;
        }
    }
    return url_unescape_ok(s, n, URL_USERINFO);
}

static int url_authority_ok(const char *a, size_t n)
{
    const char *at = mem_rchr(a, n, '@');

    if (at == NULL) {
        return url_host_ok(a, n);
    }
    return url_host_ok(at + 1, n - (size_t)(at - a) - 1) && url_userinfo_ok(a, (size_t)(at - a));
}

static int rootfs_url_ok(const char *s)
{
    size_t len = slen(s);
    const char *hash = s == NULL ? NULL : memchr(s, '#', len);
    size_t ulen = hash == NULL ? len : (size_t)(hash - s);
    size_t i;
    const char *rest;
    size_t rlen;
    const char *q;

    for (i = 0; i < ulen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return 0;
        }
    }
    /* Scheme: a letter, then letters, digits, '+', '-', '.', up to ':'. */
    for (i = 0; i < ulen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_alpha(c)) {
            continue;
        }
        if (i > 0 && (is_digit(c) || c == '+' || c == '-' || c == '.')) {
            continue;
        }
        break;
    }
    if (i == 0 || i == ulen || s[i] != ':') {
        return 0;
    }
    rest = s + i + 1;
    rlen = ulen - i - 1;
    q = memchr(rest, '?', rlen);
    if (q != NULL) {
        rlen = (size_t)(q - rest);
    }
    if (rlen > 0 && rest[0] == '/') {
        if (rlen > 1 && rest[1] == '/') {
            const char *auth = rest + 2;
            const char *slash = memchr(auth, '/', rlen - 2);
            size_t alen = slash == NULL ? rlen - 2 : (size_t)(slash - auth);

            if (!url_authority_ok(auth, alen)) {
                return 0;
            }
            rlen -= 2 + alen;
            rest = auth + alen;
        }
        if (!url_unescape_ok(rest, rlen, URL_PATH)) {
            return 0;
        }
    }
    if (hash != NULL && !url_unescape_ok(hash + 1, len - ulen - 1, URL_FRAGMENT)) {
        return 0;
    }
    return 1;
}

/* ^[a-zA-Z0-9_-]+$ */
static int process_guid_ok(const char *s)
{
    if (empty(s)) {
        return 0;
    }
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (!is_alpha(c) && !is_digit(c) && c != '_' && c != '-') {
            return 0;
        }
    }
    return 1;
}

/* ---- actions (2.7) ---- */

/* md5 / sha1 / sha256 in any ASCII case (Go lower-cases, then compares). */
static int checksum_algorithm_known(const char *s)
{
    static const char *const known[] = {"md5", "sha1", "sha256"};

    for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
        const char *a = s;
        const char *b = known[k];
        while (*a != '\0' && *b != '\0') {
            unsigned char c = (unsigned char)*a;
            if (c >= 'A' && c <= 'Z') {
                c = (unsigned char)(c - 'A' + 'a');
            }
            if (c != (unsigned char)*b) {
                break;
            }
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0') {
            return 1;
        }
    }
    return 0;
}

/* Shared by DownloadAction and CachedDependency. */
static int v_checksum(const char *algorithm, const char *value, struct bbs_problems *p)
{
    int n = 0;

    if (!empty(value) && empty(algorithm)) {
        n += field(p, "checksum algorithm");
    }
    if (empty(value) && !empty(algorithm)) {
        n += field(p, "checksum value");
    }
    if (!empty(value) && !empty(algorithm) && !checksum_algorithm_known(algorithm)) {
        n += field(p, "invalid algorithm");
    }
    return n;
}

static int v_download(const Models__DownloadAction *a, struct bbs_problems *p)
{
    int n = 0;

    if (empty(a->from)) {
        n += field(p, "from");
    }
    if (empty(a->to)) {
        n += field(p, "to");
    }
    if (empty(a->user)) {
        n += field(p, "user");
    }
    n += v_checksum(a->checksum_algorithm, a->checksum_value, p);
    return n;
}

static int v_upload(const Models__UploadAction *a, struct bbs_problems *p)
{
    int n = 0;

    if (empty(a->to)) {
        n += field(p, "to");
    }
    if (empty(a->from)) {
        n += field(p, "from");
    }
    if (empty(a->user)) {
        n += field(p, "user");
    }
    return n;
}

static int v_run(const Models__RunAction *a, struct bbs_problems *p)
{
    int n = 0;

    if (empty(a->path)) {
        n += field(p, "path");
    }
    if (empty(a->user)) {
        n += field(p, "user");
    }
    return n;
}

/*
 * The action tree is walked with an explicit stack, not recursion: its
 * depth is whatever the client sent. A timeout's own check comes after
 * its child's problems, so it is pushed below the child as a separate
 * step; a composite is one step that hands out its children in order.
 */
enum act_step {
    ACT_VISIT,      /* an Action wrapper */
    ACT_TIMEOUT_MS, /* the timeout_ms check of a TimeoutAction */
    ACT_LIST,       /* the remaining children of a composite */
};

struct act_item {
    enum act_step step;
    const void *node;
    Models__Action *const *list;
    size_t len;
    size_t next;
};

struct act_stack {
    struct act_item small[32];
    struct act_item *v;
    size_t n;
    size_t cap;
};

static void act_push(struct act_stack *st, struct act_item it)
{
    if (st->n == st->cap) {
        size_t cap = st->cap * 2;
        struct act_item *v = xrealloc(st->v == st->small ? NULL : st->v, cap * sizeof(*v));
        if (st->v == st->small) {
            memcpy(v, st->small, sizeof(st->small));
        }
        st->v = v;
        st->cap = cap;
    }
    st->v[st->n++] = it;
}

static void act_push_visit(struct act_stack *st, const Models__Action *a)
{
    act_push(st, (struct act_item){.step = ACT_VISIT, .node = a});
}

static void act_push_list(struct act_stack *st, Models__Action *const *list, size_t len)
{
    act_push(st, (struct act_item){.step = ACT_LIST, .list = list, .len = len});
}

/*
 * timeout / try / emit_progress: a missing child is "action"; an empty
 * child wrapper crashes upstream (quirk 11) and is "inner-action" here,
 * which the ACT_VISIT step reports.
 */
static int act_child(struct act_stack *st, const Models__Action *child, struct bbs_problems *p)
{
    if (child == NULL) {
        return field(p, "action");
    }
    act_push_visit(st, child);
    return 0;
}

/* Upstream looks only at the first present field, in field order. */
static int act_visit(struct act_stack *st, const Models__Action *a, struct bbs_problems *p)
{
    if (a->download_action != NULL) {
        return v_download(a->download_action, p);
    }
    if (a->upload_action != NULL) {
        return v_upload(a->upload_action, p);
    }
    if (a->run_action != NULL) {
        return v_run(a->run_action, p);
    }
    if (a->timeout_action != NULL) {
        act_push(st, (struct act_item){.step = ACT_TIMEOUT_MS, .node = a->timeout_action});
        return act_child(st, a->timeout_action->action, p);
    }
    if (a->emit_progress_action != NULL) {
        return act_child(st, a->emit_progress_action->action, p);
    }
    if (a->try_action != NULL) {
        return act_child(st, a->try_action->action, p);
    }
    if (a->parallel_action != NULL || a->serial_action != NULL || a->codependent_action != NULL) {
        Models__Action *const *list;
        size_t len;

        if (a->parallel_action != NULL) {
            list = a->parallel_action->actions;
            len = a->parallel_action->n_actions;
        } else if (a->serial_action != NULL) {
            list = a->serial_action->actions;
            len = a->serial_action->n_actions;
        } else {
            list = a->codependent_action->actions;
            len = a->codependent_action->n_actions;
        }
        if (len == 0) {
            return field(p, "actions");
        }
        act_push_list(st, list, len);
        return 0;
    }
    return field(p, "inner-action");
}

static int v_action(const Models__Action *root, struct bbs_problems *p)
{
    struct act_stack st;
    struct act_item it;
    int n = 0;

    st.v = st.small;
    st.n = 0;
    st.cap = sizeof(st.small) / sizeof(st.small[0]);
    act_push_visit(&st, root);
    while (st.n > 0) {
        it = st.v[--st.n];
        switch (it.step) {
        case ACT_VISIT:
            n += act_visit(&st, it.node, p);
            break;
        case ACT_TIMEOUT_MS:
            if (((const Models__TimeoutAction *)it.node)->timeout_ms <= 0) {
                n += field(p, "timeout_ms");
            }
            break;
        case ACT_LIST:
            if (it.next + 1 < it.len) {
                struct act_item rest = it;
                rest.next++;
                act_push(&st, rest);
            }
            if (it.list[it.next] == NULL) {
                /* Cannot come off the wire; upstream's text for a nil element. */
                char msg[64];
                snprintf(msg, sizeof(msg), "action at index %zu", it.next);
                n += field(p, msg);
            } else {
                act_push_visit(&st, it.list[it.next]);
            }
            break;
        }
    }
    if (st.v != st.small) {
        free(st.v);
    }
    return n;
}

/* A present top-level action: "Invalid field: <name>" then its problems. */
static int v_named_action(const char *name, const Models__Action *a, struct bbs_problems *p)
{
    int k = v_action(a, NULL);

    if (k == 0) {
        return 0;
    }
    if (p != NULL) {
        field(p, name);
        v_action(a, p);
    }
    return k + 1;
}

/* ---- egress rules (2.8) ---- */

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
            put(p, ", ", 2);
        }
        puts0(p, text);
        if (item != NULL) {
            put(p, item, item_len);
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
        return add(p, "Missing required field: ports or port_range");
    }
    if (r->port_range != NULL && r->n_ports > 0) {
        return add(p, "Invalid: ports and port_range provided");
    }
    if (r->port_range != NULL) {
        if (r->port_range->start < 1) {
            n += field(p, "port_range");
        }
        if (r->port_range->end < 1) {
            n += field(p, "port_range");
        }
        if (r->port_range->start > r->port_range->end) {
            n += field(p, "port_range");
        }
    }
    for (size_t i = 0; i < r->n_ports; i++) {
        if (r->ports[i] < 1) {
            n += field(p, "ports");
        }
    }
    return n;
}

static int v_egress_rule(const Models__SecurityGroupRule *r, struct bbs_problems *p)
{
    const char *proto = r->protocol == NULL ? "" : r->protocol;
    int n = 0;
    int k;

    if (strcmp(proto, "tcp") == 0 || strcmp(proto, "udp") == 0) {
        n += v_rule_ports(r, p);
        if (r->icmp_info != NULL) {
            n += field(p, "icmp_info");
        }
    } else if (strcmp(proto, "icmp") == 0 || strcmp(proto, "icmpv6") == 0 ||
               strcmp(proto, "all") == 0) {
        if (r->port_range != NULL) {
            n += field(p, "port_range");
        }
        if (r->n_ports > 0) {
            n += field(p, "ports");
        }
        if (strcmp(proto, "all") == 0) {
            if (r->icmp_info != NULL) {
                n += field(p, "icmp_info");
            }
        } else if (r->icmp_info == NULL) {
            n += field(p, strcmp(proto, "icmp") == 0 ? "icmp_info" : "icmpv6_info");
        }
    } else {
        n += field(p, "protocol");
    }

    k = v_destinations(r, NULL);
    if (k > 0) {
        if (p != NULL) {
            begin(p);
            puts0(p, "Invalid field: destinations [ ");
            v_destinations(r, p);
            puts0(p, " ]");
        }
        n++;
    }
    return n;
}

/* ---- other nested types (2.8) ---- */

static int v_cached_dependency(const Models__CachedDependency *c, struct bbs_problems *p)
{
    int n = 0;

    if (empty(c->from)) {
        n += field(p, "from");
    }
    if (empty(c->to)) {
        n += field(p, "to");
    }
    n += v_checksum(c->checksum_algorithm, c->checksum_value, p);
    return n;
}

static int v_image_layer(const Models__ImageLayer *l, struct bbs_problems *p)
{
    int exclusive = l->layer_type == MODELS__IMAGE_LAYER__TYPE__EXCLUSIVE;
    int no_algorithm =
        l->digest_algorithm == MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__DigestAlgorithmInvalid;
    int known_algorithm = l->digest_algorithm == MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA256 ||
                          l->digest_algorithm == MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA512;
    int n = 0;

    if (empty(l->url)) {
        n += field(p, "url");
    }
    if (empty(l->destination_path)) {
        n += field(p, "destination_path");
    }
    if (!exclusive && l->layer_type != MODELS__IMAGE_LAYER__TYPE__SHARED) {
        n += field(p, "layer_type");
    }
    if (l->media_type != MODELS__IMAGE_LAYER__MEDIA_TYPE__TGZ &&
        l->media_type != MODELS__IMAGE_LAYER__MEDIA_TYPE__TAR &&
        l->media_type != MODELS__IMAGE_LAYER__MEDIA_TYPE__ZIP) {
        n += field(p, "media_type");
    }
    if ((!empty(l->digest_value) || exclusive) && no_algorithm) {
        n += field(p, "digest_algorithm");
    }
    if ((!no_algorithm || exclusive) && empty(l->digest_value)) {
        n += field(p, "digest_value");
    }
    if (!empty(l->digest_value) && !known_algorithm) {
        n += field(p, "digest_algorithm");
    }
    return n;
}

static int v_sidecar(const Models__Sidecar *s, struct bbs_problems *p)
{
    int n = 0;

    if (s->action == NULL) {
        n += add(p, "invalid action type");
    } else {
        n += v_named_action("action", s->action, p);
    }
    if (s->memory_mb < 0) {
        n += field(p, "memory_mb");
    }
    if (s->disk_mb < 0) {
        n += field(p, "disk_mb");
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

static int v_volume_mount(const Models__VolumeMount *v, struct bbs_problems *p)
{
    int n = 0;

    if (empty(v->driver)) {
        n += add(p, "invalid volume_mount driver");
    }
    if (!streq(v->mode, "r") && !streq(v->mode, "rw")) {
        n += add(p, "invalid volume_mount mode");
    }
    if (v->shared != NULL && empty(v->shared->volume_id)) {
        n += add(p, "invalid volume_mount volume id");
    }
    if (v->dedicated != NULL && empty(v->dedicated->mounter_id)) {
        n += add(p, "invalid volume_mount mounter id");
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
        return field(p, "port");
    }
    if (c->tcp_check != NULL && c->http_check != NULL) {
        return field(p, "check");
    }
    if (c->http_check != NULL) {
        port = c->http_check->port;
    } else if (c->tcp_check != NULL) {
        port = c->tcp_check->port;
    }
    if (port < 1 || port > 65535) {
        return field(p, "port");
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
    struct key_refs kr;
    int n = 0;
    int k;

    if (volume_mounted_files_too_big(d)) {
        n += field(p, "volumeMountedFiles");
    }
    if (empty(d->domain)) {
        n += field(p, "domain");
    }
    if (empty(d->root_fs)) {
        n += field(p, "rootfs");
    }
    if (!rootfs_url_ok(d->root_fs)) {
        n += field(p, "rootfs");
    }
    if (d->instances < 0) {
        n += field(p, "instances");
    }
    if (d->memory_mb < 0) {
        n += field(p, "memory_mb");
    }
    if (d->disk_mb < 0) {
        n += field(p, "disk_mb");
    }
    if (d->log_rate_limit != NULL && d->log_rate_limit->bytes_per_second < -1) {
        n += field(p, "log_rate_limit_bytes_per_second");
    }
    if (slen(d->annotation) > ANNOTATION_MAX) {
        n += field(p, "annotation");
    }
    if (d->max_pids < 0) {
        n += field(p, "max_pids");
    }
    if (d->routes != NULL && routes_too_big(d->routes)) {
        n += field(p, "routes");
    }

    /* An empty proto map is indistinguishable from none: quirk 3. */
    if (d->n_metric_tags == 0) {
        return n + field(p, "metric_tags");
    }
    key_refs_init(&kr, d->n_metric_tags);
    for (size_t i = 0; i < d->n_metric_tags; i++) {
        const Models__DesiredLRP__MetricTagsEntry *e = d->metric_tags[i];
        key_refs_set(&kr, i, e == NULL ? "" : e->key, e == NULL ? NULL : e->value);
    }
    key_refs_sort(&kr);
    k = v_metric_tags(&kr, d->metrics_guid, NULL);
    if (k > 0) {
        n += field(p, "metric_tags");
        n += v_metric_tags(&kr, d->metrics_guid, p);
    }
    key_refs_free(&kr);
    return n;
}

/* The part upstream validates on the run info derived from it (rows 13-28). */
static int v_desired_lrp_run_info(const Models__DesiredLRP *d, struct bbs_problems *p)
{
    int n = 0;
    int k;
    int exclusive = 0;

    if (empty(d->domain)) {
        n += field(p, "domain");
    }
    if (!process_guid_ok(d->process_guid)) {
        n += field(p, "process_guid");
    }
    if (volume_mounted_files_too_big(d)) {
        n += field(p, "volumeMountedFiles");
    }
    if (d->setup != NULL) {
        n += v_named_action("setup", d->setup, p);
    }
    if (d->action == NULL) {
        n += add(p, "invalid action type");
    } else {
        n += v_named_action("action", d->action, p);
    }
    if (d->monitor != NULL) {
        n += v_named_action("monitor", d->monitor, p);
    }
    for (size_t i = 0; i < d->n_environment_variables; i++) {
        const Models__EnvironmentVariable *e = d->environment_variables[i];
        if (e == NULL || empty(e->name)) {
            n += add(p, "invalid field: name cannot be blank");
        }
    }
    for (size_t i = 0; i < d->n_egress_rules; i++) {
        const Models__SecurityGroupRule *r = d->egress_rules[i];
        if (r != NULL && v_egress_rule(r, NULL) > 0) {
            n += field(p, "egress_rules");
            n += v_egress_rule(r, p);
        }
    }
    /* Our rule (quirk 4), where upstream checked it until early 2024. */
    if (d->cpu_weight > CPU_WEIGHT_MAX) {
        n += field(p, "cpu_weight");
    }
    for (size_t i = 0; i < d->n_cached_dependencies; i++) {
        const Models__CachedDependency *c = d->cached_dependencies[i];
        if (c != NULL && v_cached_dependency(c, NULL) > 0) {
            n += field(p, "cached_dependency");
            n += v_cached_dependency(c, p);
        }
    }
    for (size_t i = 0; i < d->n_image_layers; i++) {
        const Models__ImageLayer *l = d->image_layers[i];
        if (l == NULL) {
            continue;
        }
        if (v_image_layer(l, NULL) > 0) {
            n += field(p, "image_layer");
            n += v_image_layer(l, p);
        }
        if (l->layer_type == MODELS__IMAGE_LAYER__TYPE__EXCLUSIVE) {
            exclusive = 1;
        }
    }
    if (exclusive && empty(d->legacy_download_user)) {
        n += field(p, "legacy_download_user");
    }
    k = v_sidecars(d, NULL);
    if (k > 0) {
        n += field(p, "sidecars");
        n += v_sidecars(d, p);
    }
    for (size_t i = 0; i < d->n_volume_mounts; i++) {
        if (d->volume_mounts[i] != NULL) {
            n += v_volume_mount(d->volume_mounts[i], p);
        }
    }
    if (empty(d->image_username) && !empty(d->image_password)) {
        n += field(p, "image_username");
    }
    if (!empty(d->image_username) && empty(d->image_password)) {
        n += field(p, "image_password");
    }
    if (d->check_definition != NULL && v_check_definition(d->check_definition, NULL) > 0) {
        n += field(p, "check_definition");
        n += v_check_definition(d->check_definition, p);
    }
    if (d->log_rate_limit != NULL && d->log_rate_limit->bytes_per_second < -1) {
        n += field(p, "log_rate_limit");
    }
    return n;
}

int bbs_validate_desire(const Models__DesireLRPRequest *req, struct bbs_problems *p)
{
    int n = 0;

    if (req == NULL || req->desired_lrp == NULL) {
        return field(p, "desired_lrp");
    }
    n += v_desired_lrp_own(req->desired_lrp, p);
    n += v_desired_lrp_run_info(req->desired_lrp, p);
    return n;
}

/* ---- other DesiredLRP requests (5.2) ---- */

static int v_update(const Models__DesiredLRPUpdate *u, struct bbs_problems *p)
{
    struct key_refs kr;
    int username = u->optional_image_username_case ==
                   MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_USERNAME_IMAGE_USERNAME;
    int password = u->optional_image_password_case ==
                   MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_PASSWORD_IMAGE_PASSWORD;
    int n = 0;

    if (u->optional_instances_case == MODELS__DESIRED_LRPUPDATE__OPTIONAL_INSTANCES_INSTANCES &&
        u->instances < 0) {
        n += field(p, "instances");
    }
    if (u->optional_annotation_case == MODELS__DESIRED_LRPUPDATE__OPTIONAL_ANNOTATION_ANNOTATION &&
        slen(u->annotation) > ANNOTATION_MAX) {
        n += field(p, "annotation");
    }
    if (u->routes != NULL && routes_too_big(u->routes)) {
        n += field(p, "routes");
    }
    key_refs_init(&kr, u->n_metric_tags);
    for (size_t i = 0; i < u->n_metric_tags; i++) {
        const Models__DesiredLRPUpdate__MetricTagsEntry *e = u->metric_tags[i];
        key_refs_set(&kr, i, e == NULL ? "" : e->key, e == NULL ? NULL : e->value);
    }
    key_refs_sort(&kr);
    if (v_metric_tags(&kr, "", NULL) > 0) {
        n += field(p, "metric_tags");
        n += v_metric_tags(&kr, "", p);
    }
    key_refs_free(&kr);
    /* Presence of the oneofs, not emptiness. */
    if (username && !password) {
        n += field(p, "image_password");
    }
    if (!username && password) {
        n += field(p, "image_username");
    }
    return n;
}

int bbs_validate_update(const Models__UpdateDesiredLRPRequest *req, struct bbs_problems *p)
{
    int n = 0;

    if (req == NULL || empty(req->process_guid)) {
        n += field(p, "process_guid");
    }
    if (req != NULL && req->update != NULL) {
        n += v_update(req->update, p);
    } else if (req != NULL && !empty(req->process_guid)) {
        n += field(p, "update"); /* quirk 10 */
    }
    return n;
}

static int v_process_guid(const char *process_guid, struct bbs_problems *p)
{
    return empty(process_guid) ? field(p, "process_guid") : 0;
}

int bbs_validate_remove_desired(const Models__RemoveDesiredLRPRequest *req, struct bbs_problems *p)
{
    return v_process_guid(req == NULL ? NULL : req->process_guid, p);
}

int bbs_validate_desired_by_guid(const Models__DesiredLRPByProcessGuidRequest *req,
                                 struct bbs_problems *p)
{
    return v_process_guid(req == NULL ? NULL : req->process_guid, p);
}

int bbs_validate_upsert_domain(const Models__UpsertDomainRequest *req, struct bbs_problems *p)
{
    return req == NULL || empty(req->domain) ? field(p, "domain") : 0;
}

/* ---- ActualLRP requests (2.3, 2.4) ---- */

static int v_key(const Models__ActualLRPKey *k, struct bbs_problems *p)
{
    int n = 0;

    if (k == NULL) {
        return field(p, "actual_lrp_key");
    }
    if (empty(k->process_guid)) {
        n += field(p, "process_guid");
    }
    if (k->index < 0) {
        n += field(p, "index");
    }
    if (empty(k->domain)) {
        n += field(p, "domain");
    }
    return n;
}

static int v_instance_key(const Models__ActualLRPInstanceKey *k, struct bbs_problems *p)
{
    int n = 0;

    if (k == NULL) {
        return field(p, "actual_lrp_instance_key");
    }
    if (empty(k->cell_id)) {
        n += field(p, "cell_id");
    }
    if (empty(k->instance_guid)) {
        n += field(p, "instance_guid");
    }
    return n;
}

static int v_net_info(const Models__ActualLRPNetInfo *ni, struct bbs_problems *p)
{
    if (ni == NULL) {
        return field(p, "actual_lrp_net_info");
    }
    return empty(ni->address) ? field(p, "address") : 0;
}

static int v_error_message(const char *msg, struct bbs_problems *p)
{
    return empty(msg) ? field(p, "error_message") : 0;
}

static int v_index(int32_t index, struct bbs_problems *p)
{
    return index < 0 ? field(p, "index") : 0;
}

/* A NULL request reads as an empty message: every required part missing. */
int bbs_validate_claim(const Models__ClaimActualLRPRequest *r, struct bbs_problems *p)
{
    int n = 0;

    n += v_process_guid(r == NULL ? NULL : r->process_guid, p);
    n += v_instance_key(r == NULL ? NULL : r->actual_lrp_instance_key, p);
    return n;
}

int bbs_validate_start(const Models__StartActualLRPRequest *r, struct bbs_problems *p)
{
    int n = 0;

    n += v_key(r == NULL ? NULL : r->actual_lrp_key, p);
    n += v_instance_key(r == NULL ? NULL : r->actual_lrp_instance_key, p);
    n += v_net_info(r == NULL ? NULL : r->actual_lrp_net_info, p);
    return n;
}

int bbs_validate_crash(const Models__CrashActualLRPRequest *r, struct bbs_problems *p)
{
    int n = 0;

    n += v_key(r == NULL ? NULL : r->actual_lrp_key, p);
    n += v_instance_key(r == NULL ? NULL : r->actual_lrp_instance_key, p);
    return n;
}

int bbs_validate_fail(const Models__FailActualLRPRequest *r, struct bbs_problems *p)
{
    int n = 0;

    n += v_key(r == NULL ? NULL : r->actual_lrp_key, p);
    n += v_error_message(r == NULL ? NULL : r->error_message, p);
    return n;
}

int bbs_validate_retire(const Models__RetireActualLRPRequest *r, struct bbs_problems *p)
{
    return v_key(r == NULL ? NULL : r->actual_lrp_key, p);
}

int bbs_validate_remove_actual(const Models__RemoveActualLRPRequest *r, struct bbs_problems *p)
{
    int n = 0;

    n += v_process_guid(r == NULL ? NULL : r->process_guid, p);
    n += v_index(r == NULL ? 0 : r->index, p);
    return n;
}

int bbs_validate_by_guids(const Models__ActualLRPsByProcessGuidsRequest *r, struct bbs_problems *p)
{
    if (r == NULL || r->n_process_guids == 0) {
        return add(p, "process_guids must not be empty");
    }
    return 0;
}

int bbs_validate_groups_by_guid(const Models__ActualLRPGroupsByProcessGuidRequest *r,
                                struct bbs_problems *p)
{
    return v_process_guid(r == NULL ? NULL : r->process_guid, p);
}

int bbs_validate_group_by_guid_index(const Models__ActualLRPGroupByProcessGuidAndIndexRequest *r,
                                     struct bbs_problems *p)
{
    int n = 0;

    n += v_process_guid(r == NULL ? NULL : r->process_guid, p);
    n += v_index(r == NULL ? 0 : r->index, p);
    return n;
}

/* ---- evacuation requests (2.5) ---- */

int bbs_validate_evacuate_claimed(const Models__EvacuateClaimedActualLRPRequest *r,
                                  struct bbs_problems *p)
{
    int n = 0;

    n += v_key(r == NULL ? NULL : r->actual_lrp_key, p);
    n += v_instance_key(r == NULL ? NULL : r->actual_lrp_instance_key, p);
    return n;
}

int bbs_validate_evacuate_crashed(const Models__EvacuateCrashedActualLRPRequest *r,
                                  struct bbs_problems *p)
{
    int n = 0;

    n += v_key(r == NULL ? NULL : r->actual_lrp_key, p);
    n += v_instance_key(r == NULL ? NULL : r->actual_lrp_instance_key, p);
    n += v_error_message(r == NULL ? NULL : r->error_message, p);
    return n;
}

int bbs_validate_evacuate_stopped(const Models__EvacuateStoppedActualLRPRequest *r,
                                  struct bbs_problems *p)
{
    int n = 0;

    n += v_key(r == NULL ? NULL : r->actual_lrp_key, p);
    n += v_instance_key(r == NULL ? NULL : r->actual_lrp_instance_key, p);
    return n;
}

int bbs_validate_evacuate_running(const Models__EvacuateRunningActualLRPRequest *r,
                                  struct bbs_problems *p)
{
    int n = 0;

    n += v_key(r == NULL ? NULL : r->actual_lrp_key, p);
    n += v_instance_key(r == NULL ? NULL : r->actual_lrp_instance_key, p);
    n += v_net_info(r == NULL ? NULL : r->actual_lrp_net_info, p);
    return n;
}

int bbs_validate_remove_evacuating(const Models__RemoveEvacuatingActualLRPRequest *r,
                                   struct bbs_problems *p)
{
    int n = 0;

    n += v_key(r == NULL ? NULL : r->actual_lrp_key, p);
    n += v_instance_key(r == NULL ? NULL : r->actual_lrp_instance_key, p);
    return n;
}
