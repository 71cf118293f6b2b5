/*
 * prom.h - a strict parser of the Prometheus text exposition format 0.0.4
 * for tests: what /metrics serves must pass it before a test reads values.
 *
 * Refused (with the line number and why): a line that is not a comment, a
 * HELP/TYPE line or a sample; a bad metric or label name; a label value
 * with an escape other than \\ \" \n; a value that is not a float (or
 * +Inf, -Inf, NaN); a TYPE given twice or after its family's samples; a
 * sample whose name does not belong to the family TYPE'd last (counter:
 * the name; histogram: _bucket, _sum, _count); the same series twice; a
 * histogram whose buckets go down, lack le="+Inf", or whose +Inf bucket
 * differs from _count; text not ending in a newline.
 */
#ifndef BBS_IT_SUPPORT_PROM_H
#define BBS_IT_SUPPORT_PROM_H

#include <stddef.h>

struct it_prom_sample {
    char *name;
    char *labels; /* canonical: name="value",... in the order given; "" when none */
    double value;
};

struct it_prom {
    struct it_prom_sample *samples;
    size_t n;
    char error[256]; /* why parsing failed */
};

/* Parse `text` (len bytes). 0, or -1 with p->error. Free with it_prom_free either way. */
int it_prom_parse(struct it_prom *p, const char *text, size_t len);

void it_prom_free(struct it_prom *p);

/*
 * The value of the series `name` whose labels contain `label` (e.g.
 * "route=\"POST /v1/ping\"", NULL = any labels, "" = no labels): 1 and
 * *out when found, 0 when not.
 */
int it_prom_get(const struct it_prom *p, const char *name, const char *label, double *out);

#endif /* BBS_IT_SUPPORT_PROM_H */
