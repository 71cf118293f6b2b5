/*
 * prom.c - see prom.h: a strict Prometheus text (0.0.4) parser for tests.
 */
#include "support/prom.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct family {
    char name[128];
    char type[16];
    int has_samples;
};

struct hist {
    char series[512]; /* labels without le */
    double last_bucket;
    int has_inf;
    double inf;
};

static int fail(struct it_prom *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct it_prom *p, int line, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(p->error, sizeof(p->error), "line %d: ", line);

    va_start(ap, fmt);
    vsnprintf(p->error + n, sizeof(p->error) - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int name_start(int c, int colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static int name_char(int c, int colon)
{
    return name_start(c, colon) || (c >= '0' && c <= '9');
}

/* A metric (colon = 1) or label name at *s; its length, 0 if none. */
static size_t scan_name(const char *s, const char *end, int colon)
{
    size_t n = 0;

    if (s >= end || !name_start((unsigned char)*s, colon)) {
        return 0;
    }
    while (s + n < end && name_char((unsigned char)s[n], colon)) {
        n++;
    }
    return n;
}

static int parse_value(const char *s, size_t n, double *out)
{
    char buf[64];
    char *end = NULL;

    if (n == 0 || n >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (strcmp(buf, "+Inf") == 0) {
        *out = INFINITY;
        return 0;
    }
    if (strcmp(buf, "-Inf") == 0) {
        *out = -INFINITY;
        return 0;
    }
    if (strcmp(buf, "NaN") == 0) {
        *out = NAN;
        return 0;
    }
    /* strtod would take "inf", "nan" and hex: the format has only the three above. */
    for (size_t i = 0; i < n; i++) {
        if (strchr("0123456789.eE+-", buf[i]) == NULL) {
            return -1;
        }
    }
    *out = strtod(buf, &end);
    return end == buf + n ? 0 : -1;
}

static void add_sample(struct it_prom *p, const char *name, size_t nlen, const char *labels,
                       double v)
{
    struct it_prom_sample *s;

    p->samples = realloc(p->samples, (p->n + 1) * sizeof(*p->samples));
    if (p->samples == NULL) {
        abort();
    }
    s = &p->samples[p->n++];
    s->name = strndup(name, nlen);
    s->labels = strdup(labels);
    s->value = v;
    if (s->name == NULL || s->labels == NULL) {
        abort();
    }
}

/* Does sample name `n` belong to family `f`? */
static int belongs(const struct family *f, const char *n, size_t len)
{
    size_t fl = strlen(f->name);
    static const char *const hsuffix[] = {"_bucket", "_sum", "_count"};

    if (strcmp(f->type, "histogram") != 0) {
        return len == fl && strncmp(n, f->name, fl) == 0;
    }
    for (size_t i = 0; i < 3; i++) {
        size_t sl = strlen(hsuffix[i]);

        if (len == fl + sl && strncmp(n, f->name, fl) == 0 &&
            strncmp(n + fl, hsuffix[i], sl) == 0) {
            return 1;
        }
    }
    return 0;
}

static int parse_comment(struct it_prom *p, int line, const char *s, const char *end,
                         struct family *fams, size_t *n_fams, struct family **cur)
{
    const char *kw = s + 2;
    size_t nlen;
    const char *name;
    struct family *f = NULL;

    if (end - s < 2 || s[1] != ' ') {
        return 0; /* "#" alone or "#text": a plain comment */
    }
    if (end - kw < 5 || (strncmp(kw, "HELP ", 5) != 0 && strncmp(kw, "TYPE ", 5) != 0)) {
        return 0;
    }
    name = kw + 5;
    nlen = scan_name(name, end, 1);
    if (nlen == 0 || nlen >= sizeof(fams[0].name)) {
        return fail(p, line, "bad metric name in %.4s", kw);
    }
    if (name + nlen == end || name[nlen] != ' ') {
        return fail(p, line, "%.4s without text", kw);
    }
    for (size_t i = 0; i < *n_fams; i++) {
        if (strlen(fams[i].name) == nlen && strncmp(fams[i].name, name, nlen) == 0) {
            f = &fams[i];
        }
    }
    if (f == NULL) {
        if (*n_fams == 512) {
            return fail(p, line, "too many families");
        }
        f = &fams[(*n_fams)++];
        memset(f, 0, sizeof(*f));
        memcpy(f->name, name, nlen);
    }
    if (strncmp(kw, "TYPE ", 5) == 0) {
        const char *t = name + nlen + 1;
        size_t tl = (size_t)(end - t);
        static const char *const types[] = {"counter", "gauge", "histogram", "summary", "untyped"};
        int ok = 0;

        if (f->type[0] != '\0') {
            return fail(p, line, "second TYPE for %s", f->name);
        }
        if (f->has_samples) {
            return fail(p, line, "TYPE for %s after its samples", f->name);
        }
        for (size_t i = 0; i < 5; i++) {
            ok |= strlen(types[i]) == tl && strncmp(types[i], t, tl) == 0;
        }
        if (!ok || tl >= sizeof(f->type)) {
            return fail(p, line, "unknown type %.*s", (int)tl, t);
        }
        memcpy(f->type, t, tl);
        *cur = f;
    }
    return 0;
}

/* Labels "{...}" at *s: canonical text into `out`, le value into `le`; the end, NULL if bad. */
static const char *parse_labels(struct it_prom *p, int line, const char *s, const char *end,
                                char *out, size_t out_size, char *le, size_t le_size)
{
    size_t o = 0;

    le[0] = '\0';
    s++; /* '{' */
    while (s < end && *s != '}') {
        size_t ln = scan_name(s, end, 0);
        char val[512];
        size_t v = 0;
        int is_le;

        if (ln == 0) {
            fail(p, line, "bad label name");
            return NULL;
        }
        is_le = ln == 2 && strncmp(s, "le", 2) == 0;
        if (o + ln + 3 >= out_size) {
            fail(p, line, "labels too long");
            return NULL;
        }
        if (o > 0) {
            out[o++] = ',';
        }
        memcpy(out + o, s, ln);
        o += ln;
        s += ln;
        if (end - s < 2 || s[0] != '=' || s[1] != '"') {
            fail(p, line, "label without =\"value\"");
            return NULL;
        }
        s += 2;
        while (s < end && *s != '"') {
            char c = *s++;

            if (c == '\\') {
                if (s == end || (*s != '\\' && *s != '"' && *s != 'n')) {
                    fail(p, line, "bad escape in a label value");
                    return NULL;
                }
                c = *s == 'n' ? '\n' : *s;
                s++;
            }
            if (v + 1 >= sizeof(val)) {
                fail(p, line, "label value too long");
                return NULL;
            }
            val[v++] = c;
        }
        if (s == end) {
            fail(p, line, "unterminated label value");
            return NULL;
        }
        s++; /* closing quote */
        val[v] = '\0';
        if (is_le) {
            size_t k = v < le_size - 1 ? v : le_size - 1;

            memcpy(le, val, k);
            le[k] = '\0';
        }
        if (o + v + 3 >= out_size) {
            fail(p, line, "labels too long");
            return NULL;
        }
        o += (size_t)snprintf(out + o, out_size - o, "=\"%s\"", val);
        if (s < end && *s == ',') {
            s++;
        } else if (s < end && *s != '}') {
            fail(p, line, "expected , or } after a label");
            return NULL;
        }
    }
    if (s == end) {
        fail(p, line, "unterminated labels");
        return NULL;
    }
    out[o] = '\0';
    return s + 1;
}

/* The labels of `canon` without the le pair (histogram series identity). */
static void strip_le(const char *canon, char *out, size_t size)
{
    const char *le = strstr(canon, "le=\"");

    if (le == NULL || (le != canon && le[-1] != ',')) {
        snprintf(out, size, "%s", canon);
        return;
    }
    {
        const char *after = strchr(le + 4, '"');
        size_t head = (size_t)(le - canon);

        after = after != NULL ? after + 1 : le + strlen(le);
        if (*after == ',') {
            after++;
        } else if (head > 0) {
            head--;
        }
        snprintf(out, size, "%.*s%s", (int)head, canon, after);
    }
}

static int check_hist(struct it_prom *p, int line, struct hist *hs, size_t *n_hs,
                      const char *series, const char *le, double v)
{
    struct hist *h = NULL;
    double bound;

    for (size_t i = 0; i < *n_hs; i++) {
        if (strcmp(hs[i].series, series) == 0) {
            h = &hs[i];
        }
    }
    if (h == NULL) {
        if (*n_hs == 1024) {
            return fail(p, line, "too many histogram series");
        }
        h = &hs[(*n_hs)++];
        memset(h, 0, sizeof(*h));
        snprintf(h->series, sizeof(h->series), "%s", series);
        h->last_bucket = -1;
    }
    if (le[0] == '\0' || parse_value(le, strlen(le), &bound) != 0) {
        return fail(p, line, "bucket without a valid le");
    }
    if (v < h->last_bucket) {
        return fail(p, line, "bucket le=%s below the previous one", le);
    }
    h->last_bucket = v;
    if (isinf(bound)) {
        h->has_inf = 1;
        h->inf = v;
    }
    return 0;
}

int it_prom_parse(struct it_prom *p, const char *text, size_t len)
{
    static struct family fams[512];
    static struct hist hs[1024];
    size_t n_fams = 0;
    size_t n_hs = 0;
    struct family *cur = NULL;
    const char *s = text;
    const char *stop = text + len;
    int line = 0;

    memset(p, 0, sizeof(*p));
    if (len == 0 || text[len - 1] != '\n') {
        return fail(p, 0, "text does not end with a newline");
    }
    while (s < stop) {
        const char *end = memchr(s, '\n', (size_t)(stop - s));
        const char *q;
        size_t nlen;
        char labels[1024] = "";
        char le[64] = "";
        double v;

        line++;
        if (*s == '#') {
            if (parse_comment(p, line, s, end, fams, &n_fams, &cur) != 0) {
                return -1;
            }
            s = end + 1;
            continue;
        }
        if (s == end) {
            s = end + 1; /* empty line */
            continue;
        }
        nlen = scan_name(s, end, 1);
        if (nlen == 0) {
            return fail(p, line, "not a sample: %.*s", (int)(end - s), s);
        }
        if (cur == NULL || !belongs(cur, s, nlen)) {
            return fail(p, line, "sample %.*s outside its TYPE'd family", (int)nlen, s);
        }
        cur->has_samples = 1;
        q = s + nlen;
        if (q < end && *q == '{') {
            q = parse_labels(p, line, q, end, labels, sizeof(labels), le, sizeof(le));
            if (q == NULL) {
                return -1;
            }
        }
        if (q == end || *q != ' ') {
            return fail(p, line, "no value");
        }
        q++;
        {
            const char *sp = memchr(q, ' ', (size_t)(end - q));
            const char *vend = sp != NULL ? sp : end;

            if (parse_value(q, (size_t)(vend - q), &v) != 0) {
                return fail(p, line, "bad value %.*s", (int)(vend - q), q);
            }
            if (sp != NULL) { /* a timestamp: an integer */
                for (const char *t = sp + 1; t < end; t++) {
                    if ((*t < '0' || *t > '9') && !(t == sp + 1 && *t == '-')) {
                        return fail(p, line, "bad timestamp");
                    }
                }
            }
        }
        for (size_t i = 0; i < p->n; i++) {
            if (strlen(p->samples[i].name) == nlen && strncmp(p->samples[i].name, s, nlen) == 0 &&
                strcmp(p->samples[i].labels, labels) == 0) {
                return fail(p, line, "series %.*s{%s} twice", (int)nlen, s, labels);
            }
        }
        if (strcmp(cur->type, "histogram") == 0 && nlen > 7 &&
            strncmp(s + nlen - 7, "_bucket", 7) == 0) {
            char series[512];

            strip_le(labels, series, sizeof(series));
            if (check_hist(p, line, hs, &n_hs, series, le, v) != 0) {
                return -1;
            }
        }
        if (strcmp(cur->type, "counter") == 0 && (v < 0 || isnan(v))) {
            return fail(p, line, "counter %.*s is %g", (int)nlen, s, v);
        }
        add_sample(p, s, nlen, labels, v);
        s = end + 1;
    }
    /* Every histogram: +Inf present and equal to its _count. */
    for (size_t i = 0; i < n_hs; i++) {
        int found = 0;

        if (!hs[i].has_inf) {
            return fail(p, line, "histogram series {%s} has no +Inf bucket", hs[i].series);
        }
        for (size_t j = 0; j < p->n; j++) {
            size_t nl = strlen(p->samples[j].name);

            if (nl > 6 && strcmp(p->samples[j].name + nl - 6, "_count") == 0 &&
                strcmp(p->samples[j].labels, hs[i].series) == 0) {
                found = 1;
                if (p->samples[j].value != hs[i].inf) {
                    return fail(p, line, "histogram {%s}: +Inf %g != _count %g", hs[i].series,
                                hs[i].inf, p->samples[j].value);
                }
            }
        }
        if (!found) {
            return fail(p, line, "histogram series {%s} has no _count", hs[i].series);
        }
    }
    return 0;
}

void it_prom_free(struct it_prom *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->samples[i].name);
        free(p->samples[i].labels);
    }
    free(p->samples);
    p->samples = NULL;
    p->n = 0;
}

int it_prom_get(const struct it_prom *p, const char *name, const char *label, double *out)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct it_prom_sample *s = &p->samples[i];

        if (strcmp(s->name, name) != 0) {
            continue;
        }
        if (label != NULL && label[0] == '\0' && s->labels[0] != '\0') {
            continue;
        }
        if (label != NULL && label[0] != '\0' && strstr(s->labels, label) == NULL) {
            continue;
        }
        *out = s->value;
        return 1;
    }
    return 0;
}
