/* chunking.c — splitting a prefill into chunks (kvc_gen_chunking). */
#include "gen_internal.h"

#include <stdlib.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>

/* Choose k distinct integers of [1, m] (k <= m) in increasing order into
 * out, with gsl_ran_choose (which keeps the order of its source). Returns 0
 * or -1 when out of memory. */
static int choose_sorted(gsl_rng *r, int m, int k, int *out)
{
    if (k <= 0)
        return 0;
    int *src = malloc((size_t)m * sizeof *src);
    if (!src)
        return -1;
    for (int i = 0; i < m; i++)
        src[i] = i + 1;
    gsl_ran_choose(r, out, (size_t)k, src, (size_t)m, sizeof *src);
    free(src);
    return 0;
}

static int min3(int a, int b, int c)
{
    int m = a < b ? a : b;
    return m < c ? m : c;
}

/* Chunks between sorted cut points (positions in (0, total)). */
static int cuts_to_chunks(const int *cuts, int ncuts, int total, int *chunks)
{
    int prev = 0;
    for (int i = 0; i < ncuts; i++) {
        int cut = cuts[i]; /* cuts may alias chunks: read before writing */
        chunks[i] = cut - prev;
        prev = cut;
    }
    chunks[ncuts] = total - prev;
    return ncuts + 1;
}

int kvc_gen_chunking(void *rng, int total, int block_size, int family,
                     int *chunks, int max)
{
    gsl_rng *r = rng;
    gsl_set_error_handler_off(); /* idempotent; GSL's default aborts */
    if (!r || total < 0 || family < 0 || family > 3)
        return -1;
    if (total == 0)
        return 0;
    if (!chunks || max < 1)
        return -1;
    int B = block_size > 0 ? block_size : 1;

    switch (family) {
    case 0: /* the whole prefill at once */
        chunks[0] = total;
        return 1;

    case 1: { /* n chunks at random cut points */
        int n = kvcg_int(r, 1, min3(total, max, total));
        if (n == 1) {
            chunks[0] = total;
            return 1;
        }
        /* cuts are stored in chunks[0 .. n-2] then turned into lengths in
         * place (each chunk only depends on cuts at or before it). */
        if (choose_sorted(r, total - 1, n - 1, chunks) != 0)
            return -1;
        return cuts_to_chunks(chunks, n - 1, total, chunks);
    }

    case 2: { /* every chunk but the last ends on a block boundary */
        int m = (total - 1) / B; /* multiples of B strictly inside (0, total) */
        if (m < 1 || max < 2) {
            chunks[0] = total;
            return 1;
        }
        int ncuts = kvcg_int(r, 1, min3(m, max - 1, m));
        if (choose_sorted(r, m, ncuts, chunks) != 0)
            return -1;
        for (int i = 0; i < ncuts; i++)
            chunks[i] *= B;
        return cuts_to_chunks(chunks, ncuts, total, chunks);
    }

    default: { /* family 3: a prefill, then decode steps of one token */
        if (total == 1 || max < 2) {
            chunks[0] = total;
            return 1;
        }
        int steps = kvcg_int(r, 1, min3(total - 1, max - 1, total - 1));
        chunks[0] = total - steps;
        for (int i = 1; i <= steps; i++)
            chunks[i] = 1;
        return steps + 1;
    }
    }
}
