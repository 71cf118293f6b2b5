/*
 * fuzz_metrics_text.c - the Prometheus page (metrics.h) with arbitrary
 * label values: domain names and cell ids come from clients (UpsertDomain,
 * StartTask), and every byte they hold must come out as valid exposition
 * text (format 0.0.4).
 *
 * The input is split at NUL bytes: odd pieces become fresh domains, even
 * ones cells with a task event. Property beyond "no crash, overflow or
 * hang": the page passes the tests' strict parser (tests/support/prom.c),
 * and each domain is found again with its exact value.
 */
#include <stdlib.h>
#include <string.h>

#include "bbs/metrics.h"
#include "fuzz.h"
#include "support/prom.h"

#define MAX_PIECES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const routes[] = {"/v1/ping", "/v1/events"};
    char *text = malloc(size + 1);
    const char *domains[MAX_PIECES];
    size_t n_domains = 0;
    struct bbs_metrics *m = bbs_metrics_new(routes, 2);
    struct bbs_buf page = {0};
    struct it_prom p;
    size_t piece = 0;

    if (text == NULL) {
        abort();
    }
    memcpy(text, data, size);
    text[size] = '\0';
    for (size_t start = 0; start <= size && piece < 2 * MAX_PIECES; piece++) {
        const char *s = text + start;

        if (piece % 2 == 0) {
            domains[n_domains++] = s;
        } else {
            bbs_metrics_task_event(m, s, (enum bbs_metric_task_event)(piece / 2 % 3));
        }
        start += strlen(s) + 1;
    }
    bbs_metrics_set_domains(m, domains, n_domains);
    bbs_metrics_request(m, 0, (int64_t)size * 1000);
    bbs_metrics_request(m, 1, -1);
    bbs_metrics_prometheus(m, &page);
    if (it_prom_parse(&p, (const char *)page.data, page.len) != 0) {
        abort();
    }
    for (size_t i = 0; i < n_domains; i++) {
        size_t want_len = strlen(domains[i]) + 9;
        char *want = malloc(want_len + 1);
        double v = 0;

        if (want == NULL) {
            abort();
        }
        memcpy(want, "domain=\"", 8);
        memcpy(want + 8, domains[i], want_len - 9);
        want[want_len - 1] = '"';
        want[want_len] = '\0';
        if (!it_prom_get(&p, "bbs_domain_fresh", want, &v) || v != 1) {
            abort();
        }
        free(want);
    }
    it_prom_free(&p);
    bbs_buf_free(&page);
    bbs_metrics_free(m);
    free(text);
    return 0;
}
