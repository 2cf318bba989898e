/*
 * case_build.c — kvc_case_build / kvc_case_generate / kvc_case_free: the
 * order of the build steps, and the prefix-sharing decision.
 *
 * Steps, each drawing from the one value RNG in this order:
 *   validate -> problem alloc -> sharing -> masks (masks.c) -> values
 *   (values.c) -> format edges (formats.c) -> leak boosting (leak.c) ->
 *   static scales (formats.c) -> special inputs (special.c, on a stream of
 *   its own; then calibrated scales again for kernel_calibration) ->
 *   leaks that hold on the stored keys (leak.c, draws nothing) ->
 *   layout (layout.c) -> QEfficient inputs ->
 *   flags (flags.c, computed from the built case).
 */
#include "gen_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

int kvcg_in_shared(const kvcg_ctx *x, int s, int j)
{
    return x->share.active && x->share.member[s] &&
           (int64_t)j < (int64_t)x->share.blocks * x->spec->block_size;
}

/* SHARED_PREFIX: a group of >= 2 sequences whose context covers at least
 * one full block shares its first `blocks` blocks; they lie wholly below
 * every member's ctx_len, so no new token writes them. values.c copies the
 * leader's K/V there into the other members. */
void kvcg_decide_share(kvcg_ctx *x)
{
    const kvc_case_spec *sp = x->spec;
    memset(&x->share, 0, sizeof x->share);
    if (sp->mode == KVC_MODE_BLOCKED || sp->table != KVC_TABLE_SHARED_PREFIX)
        return;
    int B = sp->block_size;
    int cand[KVC_MAX_SEQS], n = 0;
    for (int s = 0; s < sp->num_seqs; s++)
        if (sp->ctx_len[s] / B >= 1)
            cand[n++] = s;
    if (n < 2)
        return;
    /* every candidate, or a random subset of at least two */
    if (n > 2 && kvcg_chance(x->rng, 0.5)) {
        int k = kvcg_int(x->rng, 2, n - 1);
        int pick[KVC_MAX_SEQS];
        gsl_ran_choose(x->rng, pick, (size_t)k, cand, (size_t)n, sizeof *cand);
        for (int i = 0; i < k; i++)
            cand[i] = pick[i];
        n = k;
    }
    int most = sp->ctx_len[cand[0]] / B;
    for (int i = 1; i < n; i++)
        if (sp->ctx_len[cand[i]] / B < most)
            most = sp->ctx_len[cand[i]] / B;
    x->share.active = 1;
    x->share.leader = cand[0];
    x->share.blocks = kvcg_int(x->rng, 1, most);
    for (int i = 0; i < n; i++)
        x->share.member[cand[i]] = 1;
}

void kvc_case_free(kvc_case *c)
{
    if (!c)
        return;
    kvc_problem_free(&c->prob);
    free(c->layout.block_table);
    free(c->layout.slot_mapping);
    free(c->qeff.position_ids);
    free(c->qeff.slot_id);
    free(c->qeff.row_of_token);
    memset(c, 0, sizeof *c);
}

int kvc_case_build(const kvc_case_spec *spec, uint64_t value_seed,
                   kvc_case *c, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!c)
        return -1;
    memset(c, 0, sizeof *c);
    if (!spec) {
        if (err && errlen)
            snprintf(err, errlen, "spec is NULL");
        return -1;
    }
    if (kvcg_validate_spec(spec, err, errlen) != 0)
        return -1;
    c->spec = *spec;
    c->value_seed = value_seed;

    kvcg_ctx x;
    memset(&x, 0, sizeof x);
    x.spec = &c->spec;
    x.c = c;
    x.tile = kvcg_tile(&c->spec);
    /* decorrelate from the spec stream, which uses the same case seed */
    x.rng = kvcg_rng_new(kvcg_splitmix64(value_seed ^ 0x76616c7565735f31ULL));
    if (!x.rng)
        goto oom;
    if (kvc_problem_alloc(&c->prob, &spec->cfg, spec->num_seqs, spec->ctx_len,
                          spec->q_len, spec->pad_tokens,
                          spec->mask != KVC_MASK_NONE) != 0)
        goto oom;

    kvcg_decide_share(&x);
    kvcg_fill_masks(&x);
    if (kvcg_fill_values(&x) != 0 || kvcg_format_edges(&x) != 0)
        goto oom;
    if (spec->leak_sensitive)
        kvcg_boost_leaks(&x);
    kvcg_choose_scales(&x);
    if (kvcg_special_inputs(&x) != 0) /* own stream: special.c */
        goto oom;
    if (spec->kernel_calibration) /* scales of the final K/V */
        kvcg_choose_scales(&x);
    kvcg_record_leaks(&x);
    if (kvcg_build_layout(&x) != 0)
        goto oom;
    if (kvcg_build_qeff(&x) != 0)
        goto oom;
    c->flags = kvcg_compute_flags(c);
    gsl_rng_free(x.rng);

    if (kvc_problem_check(&c->prob, err, errlen) != 0) {
        kvc_case_free(c);
        return -1;
    }
    return 0;

oom:
    if (x.rng)
        gsl_rng_free(x.rng);
    kvc_case_free(c);
    if (err && errlen)
        snprintf(err, errlen, "out of memory building the case");
    return -1;
}

int kvc_case_generate(uint64_t seed, uint64_t index, int forced_mode,
                      kvc_case *c, char *err, size_t errlen)
{
    kvc_case_spec spec;
    if (c)
        memset(c, 0, sizeof *c);
    if (kvc_spec_draw(seed, index, forced_mode, &spec) != 0) {
        if (err && errlen)
            snprintf(err, errlen, "cannot draw case %llu of seed %llu (forced "
                     "mode %d is not a mode, or out of memory)",
                     (unsigned long long)index, (unsigned long long)seed, forced_mode);
        return -1;
    }
    if (kvc_case_build(&spec, kvc_case_seed(seed, index), c, err, errlen) != 0)
        return -1;
    c->seed = seed;
    c->index = index;
    return 0;
}
