/*
 * gen_internal.h — helpers shared by the generator sources (not public).
 *
 * Every random choice goes through a gsl_rng (gsl_rng_mt19937, named
 * explicitly) owned by the caller; nothing here keeps state between calls.
 */
#ifndef KVC_GEN_INTERNAL_H
#define KVC_GEN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "case.h"

/* Limits of a spec kvc_case_build accepts (larger ones are refused with a
 * message instead of risking overflow or absurd allocations). */
#define KVCG_MAX_LEN (1 << 24)      /* ctx_len, q_len */
#define KVCG_MAX_HEADS 4096
#define KVCG_MAX_HEAD_DIM 65536
#define KVCG_MAX_BLOCK_SIZE (1 << 20)
#define KVCG_MAX_PAD (1 << 16)      /* stride_pad */
#define KVCG_MAX_EXTRA (1 << 20)    /* extra_blocks, pad_tokens */
#define KVCG_MAX_ELEMS ((int64_t)1 << 28) /* per tensor / pool / mask */

/* ---- seed.c: hashing and the RNG ---- */
uint64_t kvcg_splitmix64(uint64_t x);
/* gsl_rng_mt19937 seeded from a 64-bit seed (folded to the 32 bits mt19937
 * uses); turns GSL's aborting error handler off first. NULL when out of
 * memory. */
gsl_rng *kvcg_rng_new(uint64_t seed);
uint64_t kvcg_rng_u64(gsl_rng *r);
/* Uniform integer in [lo, hi] (lo <= hi). */
int kvcg_int(gsl_rng *r, int lo, int hi);
/* 1 with probability p (gsl_ran_bernoulli). */
int kvcg_chance(gsl_rng *r, double p);
/* Index in [0, n) drawn with weights w (gsl_ran_discrete); 0 if the
 * preprocessing cannot be allocated. */
int kvcg_pick(gsl_rng *r, const double *w, int n);

/* ---- geometry shared by the build steps ---- */
/* The block unit the kernel tiles by: B for PAGED/QEFF, ceil(CL / num_kv_blocks)
 * for BLOCKED. */
int kvcg_tile(const kvc_case_spec *s);
/* Visibility of key j to new token i of sequence s, with (use_mask = 1) or
 * without the custom mask. */
int kvcg_visible(const kvc_problem *p, int s, int i, int j, int use_mask);
/* Raw score scale * q.k (before soft-capping), in double, of new token i of
 * sequence s under query head h against key j. */
double kvcg_raw_score(const kvc_problem *p, int s, int i, int h, int j);
/* Largest raw score over the keys visible to (s, i, h); *nvis gets their
 * count (may be NULL). -INFINITY when none is visible. */
double kvcg_row_max(const kvc_problem *p, int s, int i, int h, int *nvis);

/* Prefix sharing decided for a SHARED_PREFIX case (case_build.c). */
typedef struct kvcg_share {
    int active;                  /* 1 when >= 2 sequences share blocks */
    int leader;                  /* the member whose K/V are copied */
    int blocks;                  /* shared blocks at the front, >= 1 */
    uint8_t member[KVC_MAX_SEQS];
} kvcg_share;

/* Everything a build step needs. */
typedef struct kvcg_ctx {
    gsl_rng *rng;
    const kvc_case_spec *spec;
    kvc_case *c;
    int tile;       /* kvcg_tile(spec) */
    kvcg_share share;
} kvcg_ctx;

/* Position j of sequence s lies in the shared prefix (never modified). */
int kvcg_in_shared(const kvcg_ctx *x, int s, int j);

/* ---- the build steps ---- */
/* The size tier of one draw (size_tier.c): its own RNG stream. */
typedef struct kvcg_tier {
    kvc_size_tier tier;
    gsl_rng *t;
    const kvc_size_opts *o; /* filters; NULL = none */
} kvcg_tier;
int kvcg_tier_begin(uint64_t case_seed, const kvc_size_opts *o,
                    kvcg_tier *tp); /* -1 OOM */
void kvcg_tier_end(kvcg_tier *tp);
/* Heads, head_dim, block size of the tier, then the filters forced. */
void kvcg_tier_shape(kvcg_tier *tp, kvc_case_spec *sp);
/* The base draw's maxlen for this tier. */
int kvcg_tier_maxlen(const kvcg_tier *tp, int base_maxlen);
/* Lengths of the PREFILL/LONG_DECODE/MODEL tiers: 1 drawn, 0 the base
 * draw's job. */
int kvcg_tier_lengths(kvcg_tier *tp, kvc_case_spec *sp);
int kvcg_tier_num_kv_blocks(kvcg_tier *tp, int CL, int B);
/* The long tiers' sliding window (prefill, long decode, model): the base
 * draw's window (base, from the case's own stream) replaced from the
 * tier's stream by one at the scales where long kernels switch paths;
 * other tiers keep base. */
int kvcg_tier_window(kvcg_tier *tp, const kvc_case_spec *sp, int base);
/* Clamp every sequence to the --max-q / --max-kv filters. */
void kvcg_filter_lengths(const kvc_size_opts *o, kvc_case_spec *sp);

int kvcg_validate_spec(const kvc_case_spec *s, char *err, size_t errlen);
void kvcg_decide_share(kvcg_ctx *x);            /* case_build.c */
void kvcg_fill_masks(kvcg_ctx *x);              /* masks.c */
int kvcg_fill_values(kvcg_ctx *x);              /* values.c; -1 OOM */
int kvcg_format_edges(kvcg_ctx *x);             /* formats.c; -1 OOM */
void kvcg_boost_leaks(kvcg_ctx *x);             /* leak.c */
/* After kvcg_choose_scales: keep only the leaks that hold on the stored
 * keys (leak.c; none when the store cannot be computed). */
void kvcg_record_leaks(kvcg_ctx *x);
void kvcg_choose_scales(kvcg_ctx *x);           /* formats.c */
int kvcg_draw_special(uint64_t case_seed, kvc_case_spec *sp); /* special.c */
int kvcg_special_inputs(kvcg_ctx *x);           /* special.c; -1 OOM */
int kvcg_build_layout(kvcg_ctx *x);             /* layout.c; -1 OOM */
int kvcg_build_qeff(kvcg_ctx *x);               /* layout.c; -1 OOM */
uint64_t kvcg_compute_flags(const kvc_case *c); /* flags.c */

#endif /* KVC_GEN_INTERNAL_H */
