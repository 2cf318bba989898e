/* golden_expect.c — a golden test's expected values, from the oracle. */
#include "golden.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../oracle/kv_store.h"
#include "../oracle/reference.h"
#include "../oracle/tolerance.h"

#define EXPECT_FAIL(...)                                                     \
    do {                                                                     \
        if (err && errlen)                                                   \
            snprintf(err, errlen, __VA_ARGS__);                              \
    } while (0)

/* The oracle's codes and scales of a reduced-precision cache, copied into
 * t (kv_store.h holds codes in uint32; every format but f32 fits 16 bits).
 * Returns 0, or -1 (message in err). */
static int expect_codes(kvc_golden_test *t, char *err, size_t errlen)
{
    const kvc_problem *p = &t->c.prob;
    if (p->quant.dtype == KVC_KV_F32)
        return 0;
    kvc_kv_store st;
    char why[256];
    if (kvc_kv_store_compute(p, &st, why, sizeof why) != 0) {
        EXPECT_FAIL("test tcId %d: oracle store: %s", t->tc_id, why);
        return -1;
    }
    int64_t nrow = st.rows * st.num_kv_heads;
    int64_t nelem = nrow * st.head_dim;
    int64_t ngroup = nrow * (st.head_dim / 16);
    t->k_codes = malloc((size_t)(nelem > 0 ? nelem : 1) * sizeof *t->k_codes);
    t->v_codes = malloc((size_t)(nelem > 0 ? nelem : 1) * sizeof *t->v_codes);
    int oom = !t->k_codes || !t->v_codes;
    if (!oom && st.kind == KVC_SCALE_TOKEN) {
        size_t n = (size_t)(nrow > 0 ? nrow : 1) * sizeof(float);
        t->k_token_scales = malloc(n);
        t->v_token_scales = malloc(n);
        oom = !t->k_token_scales || !t->v_token_scales;
        if (!oom && nrow > 0) {
            memcpy(t->k_token_scales, st.k_token_scale, (size_t)nrow * sizeof(float));
            memcpy(t->v_token_scales, st.v_token_scale, (size_t)nrow * sizeof(float));
        }
    }
    if (!oom && st.kind == KVC_SCALE_GROUP) {
        size_t n = (size_t)(ngroup > 0 ? ngroup : 1);
        t->k_group_codes = malloc(n);
        t->v_group_codes = malloc(n);
        oom = !t->k_group_codes || !t->v_group_codes;
        if (!oom && ngroup > 0) {
            memcpy(t->k_group_codes, st.k_group_code, (size_t)ngroup);
            memcpy(t->v_group_codes, st.v_group_code, (size_t)ngroup);
        }
    }
    if (!oom)
        for (int64_t i = 0; i < nelem; i++) {
            t->k_codes[i] = (uint16_t)st.k_code[i];
            t->v_codes[i] = (uint16_t)st.v_code[i];
        }
    kvc_kv_store_free(&st);
    if (oom) {
        EXPECT_FAIL("test tcId %d: out of memory", t->tc_id);
        return -1;
    }
    return 0;
}

int kvc_golden_expect(kvc_golden_test *t, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!t) {
        EXPECT_FAIL("golden expect: no test");
        return -1;
    }
    kvc_golden_expect_clear(t);

    const kvc_problem *p = &t->c.prob;
    kvc_reference ref;
    char why[256];
    if (kvc_reference_compute(p, &ref, why, sizeof why) != 0) {
        EXPECT_FAIL("test tcId %d: oracle: %s", t->tc_id, why);
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
        kvc_golden_expect_clear(t);
        EXPECT_FAIL("test tcId %d: out of memory", t->tc_id);
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
    if (expect_codes(t, err, errlen) != 0) {
        kvc_golden_expect_clear(t);
        return -1;
    }
    return 0;
}
