/* golden_expect.c — a golden test's expected values, from the oracle. */
#include "golden.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../oracle/reference.h"
#include "../oracle/tolerance.h"

int kvc_golden_expect(kvc_golden_test *t, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!t) {
        if (err && errlen)
            snprintf(err, errlen, "golden expect: no test");
        return -1;
    }
    free(t->out);
    free(t->lse);
    free(t->tol_out);
    free(t->tol_lse);
    t->out = t->lse = t->tol_out = t->tol_lse = NULL;

    const kvc_problem *p = &t->c.prob;
    kvc_reference ref;
    char why[256];
    if (kvc_reference_compute(p, &ref, why, sizeof why) != 0) {
        if (err && errlen)
            snprintf(err, errlen, "test tcId %d: oracle: %s", t->tc_id, why);
        return -1;
    }
    int Hq = p->cfg.num_q_heads, D = p->cfg.head_dim;
    int64_t rows = ref.rows;
    size_t n_out = (size_t)(rows * Hq * D), n_lse = (size_t)(rows * Hq);
    t->out = malloc((n_out ? n_out : 1) * sizeof *t->out);
    t->tol_out = malloc((n_out ? n_out : 1) * sizeof *t->tol_out);
    t->lse = malloc((n_lse ? n_lse : 1) * sizeof *t->lse);
    t->tol_lse = malloc((n_lse ? n_lse : 1) * sizeof *t->tol_lse);
    if (!t->out || !t->tol_out || !t->lse || !t->tol_lse) {
        kvc_reference_free(&ref);
        free(t->out);
        free(t->lse);
        free(t->tol_out);
        free(t->tol_lse);
        t->out = t->lse = t->tol_out = t->tol_lse = NULL;
        if (err && errlen)
            snprintf(err, errlen, "test tcId %d: out of memory", t->tc_id);
        return -1;
    }
    memcpy(t->out, ref.out, n_out * sizeof *t->out);
    memcpy(t->lse, ref.lse, n_lse * sizeof *t->lse);
    for (int64_t r = 0; r < rows; r++)
        for (int h = 0; h < Hq; h++) {
            t->tol_lse[r * Hq + h] = kvc_tol_allowed_lse(p, &ref, r, h);
            for (int d = 0; d < D; d++)
                t->tol_out[(r * Hq + h) * D + d] =
                    kvc_tol_allowed_out(p, &ref, r, h, d);
        }
    kvc_reference_free(&ref);
    return 0;
}
