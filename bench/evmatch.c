/*
 * evmatch.c - expectations against arrivals (see evmatch.h).
 *
 * Expectations are grouped by instance (a counting sort that keeps their
 * order), and each expectation carries a bit mask of the streams it has
 * reached: bit 0 for its cell's stream, bit 1 + j for global stream j. An
 * arrival then looks only at its own instance's few expectations.
 */
#include "evmatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n > 0 ? n : 1, size);

    if (p == NULL) {
        fputs("bbs-bench: out of memory\n", stderr);
        abort();
    }
    return p;
}

void bench_ev_result_free(struct bench_ev_result *r)
{
    free(r->delay_ns);
    free(r->send_delay_ns);
    memset(r, 0, sizeof(*r));
}

static int popcount64(uint64_t v)
{
    int n = 0;

    for (; v != 0; v &= v - 1) {
        n++;
    }
    return n;
}

/* The streams expectation for instance g should reach, as a slot mask. */
static uint64_t want_mask(const struct bench_ev_streams *s, uint32_t g)
{
    uint64_t m = s->global_open << 1;
    int c = (int)(g % (uint32_t)s->cells);

    if (c < s->n_cell && s->cell_open[c]) {
        m |= 1;
    }
    return m;
}

void bench_ev_match(const struct bench_ev_streams *s, const struct bench_ev_expect *ex, size_t n_ex,
                    const struct bench_ev_arrival *arr, size_t n_arr, struct bench_ev_result *out)
{
    /* Instances that have expectations, renumbered densely: a map g -> slot would do, but a
     * sort of (g, position) pairs keeps this free of a hash table. */
    size_t *order = xcalloc(n_ex, sizeof(*order));
    uint64_t *mask = xcalloc(n_ex, sizeof(*mask));
    uint32_t max_g = s->n_inst > 0 ? s->n_inst - 1 : 0;
    size_t *first;
    size_t *count;

    memset(out, 0, sizeof(*out));
    out->delay_ns = xcalloc(n_arr, sizeof(*out->delay_ns));
    out->send_delay_ns = xcalloc(n_arr, sizeof(*out->send_delay_ns));
    first = xcalloc((size_t)max_g + 2, sizeof(*first));
    count = xcalloc((size_t)max_g + 1, sizeof(*count));
    for (size_t i = 0; i < n_ex; i++) {
        if (ex[i].g > max_g) {
            fputs("bbs-bench: internal error: expectation outside the fleet\n", stderr);
            abort();
        }
        count[ex[i].g]++;
    }
    for (uint32_t g = 0; g <= max_g; g++) {
        first[g + 1] = first[g] + count[g];
        count[g] = 0;
    }
    for (size_t i = 0; i < n_ex; i++) {
        order[first[ex[i].g] + count[ex[i].g]++] = i;
        out->expected += (uint64_t)popcount64(want_mask(s, ex[i].g));
    }

    for (size_t i = 0; i < n_arr; i++) {
        const struct bench_ev_arrival *a = &arr[i];
        uint64_t bit;
        size_t lo;
        size_t hi;
        size_t hit = SIZE_MAX;
        int dup = 0;

        if (a->g > max_g || s->n_inst == 0) {
            out->unexpected++;
            continue;
        }
        if (a->stream < s->n_cell) {
            if ((int)(a->g % (uint32_t)s->cells) != a->stream) {
                out->filter_errors++;
                out->unexpected++;
                continue;
            }
            bit = 1;
        } else if (a->stream < s->n_cell + s->n_global) {
            bit = (uint64_t)1 << (1 + a->stream - s->n_cell);
        } else {
            out->unexpected++;
            continue;
        }
        if (!a->ok) {
            out->unexpected++;
            continue;
        }
        lo = first[a->g];
        hi = first[a->g + 1];
        for (size_t k = lo; k < hi; k++) {
            const struct bench_ev_expect *e = &ex[order[k]];

            if (e->state != a->state) {
                continue;
            }
            if (mask[order[k]] & bit) {
                dup = 1;
                continue;
            }
            if (!(want_mask(s, a->g) & bit)) {
                continue; /* a stream that never opened cannot receive */
            }
            hit = k;
            break;
        }
        if (hit == SIZE_MAX) {
            if (dup) {
                out->duplicates++;
            } else {
                out->unexpected++;
            }
            continue;
        }
        for (size_t k = hit + 1; k < hi; k++) {
            if (mask[order[k]] & bit) {
                out->out_of_order++;
                break;
            }
        }
        mask[order[hit]] |= bit;
        out->delivered++;
        {
            const struct bench_ev_expect *e = &ex[order[hit]];
            int64_t d = a->t_ns - e->t_resp;

            if (d < 0) {
                out->early++;
                d = 0;
            }
            out->delay_ns[out->n_delay] = d;
            out->send_delay_ns[out->n_delay] = a->t_ns - e->t_sent;
            out->n_delay++;
        }
    }
    for (size_t i = 0; i < n_ex; i++) {
        out->missing += (uint64_t)popcount64(want_mask(s, ex[i].g) & ~mask[i]);
    }
    free(first);
    free(count);
    free(order);
    free(mask);
}
