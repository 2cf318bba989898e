/*
 * case.h — one cross-check case: a logical problem plus its physical layout
 * described as plain data, and how cases are drawn from (seed, index).
 *
 * Generation is two steps, both pure functions of their arguments:
 *   1. kvc_spec_draw(seed, index, mode)  -> a kvc_case_spec: every shape,
 *      length, layout and value-family choice, boundary-biased;
 *   2. kvc_case_build(spec, ...)          -> a kvc_case: the tensors, the
 *      block table, the slot mapping, masks, QEfficient inputs.
 * Named boundary cases in the tests write a spec by hand and call step 2.
 *
 * The RNG of a case is gsl_rng_mt19937 seeded with kvc_case_seed(seed,
 * index) (a splitmix64 hash of the two), so any case replays alone.
 * Generators never call a kernel.
 */
#ifndef KVC_CASE_H
#define KVC_CASE_H

#include <stddef.h>
#include <stdint.h>

#include "../oracle/problem.h"

#define KVC_MAX_SEQS 8

/* Work of a case (kvc_spec_work): sum over sequences of
 * q_len*kv_len*Hq*D (the score multiply-adds; as many again for P.V) plus
 * kv_len*Hkv*D (cache elements written). kvc_spec_draw keeps every case at
 * or below KVC_CASE_WORK_CAP by shortening lengths; the mean over a campaign
 * is far lower (tests/test_generators.c checks it stays below
 * KVC_CASE_MEAN_WORK_BUDGET). */
#define KVC_CASE_WORK_CAP 2000000
#define KVC_CASE_MEAN_WORK_BUDGET 400000

/* At most this many leak targets are recorded per case (kvc_case.leaks). */
#define KVC_MAX_LEAKS 64

typedef enum kvc_mode {
    KVC_MODE_PAGED = 0, /* paged cache, kva_paged_attention (NHD or HND) */
    KVC_MODE_BLOCKED,   /* contiguous cache, kva_blocked_attention */
    KVC_MODE_QEFF,      /* QEfficient inputs -> kva_qeff_to_general -> paged */
    KVC_MODE_COUNT
} kvc_mode;

const char *kvc_mode_name(kvc_mode m); /* "paged", "blocked", "qeff" */
/* Parse a mode name; returns 0 or -1. */
int kvc_mode_parse(const char *s, kvc_mode *m);

typedef enum kvc_table_kind {
    KVC_TABLE_PERMUTED = 0, /* a random permutation of the pool */
    KVC_TABLE_REVERSED,     /* blocks in reverse order */
    KVC_TABLE_POOL_END,     /* the last blocks of the pool */
    KVC_TABLE_SHARED_PREFIX,/* sequences share their first full ctx blocks */
    KVC_TABLE_COUNT
} kvc_table_kind;

typedef enum kvc_values_kind {
    KVC_VALUES_NORMAL = 0, /* N(0,1) q, k, v */
    KVC_VALUES_UNIFORM,    /* U(-1,1) */
    KVC_VALUES_OUTLIERS,   /* normal with a few entries x100 */
    KVC_VALUES_NEAR_TIES,  /* scores equal up to an ulp or two */
    KVC_VALUES_EQUAL_KEYS, /* every key of a head equal */
    KVC_VALUES_ONE_HOT,    /* one key per row dominates by a wide margin */
    KVC_VALUES_GROWING,    /* scores grow block after block (every rescale) */
    KVC_VALUES_COUNT
} kvc_values_kind;

typedef enum kvc_mask_kind {
    KVC_MASK_NONE = 0,     /* no custom mask */
    KVC_MASK_RANDOM,       /* random boolean mask */
    KVC_MASK_FIRST_BLOCK,  /* first block fully masked (running max -inf) */
    KVC_MASK_EMPTY_ROWS,   /* random mask with some rows fully masked */
    KVC_MASK_COUNT
} kvc_mask_kind;

/* Boundary flags a case exercises (a bit set in kvc_case.flags). */
enum {
    KVC_FLAG_PREFILL = 0,       /* ctx 0, q > 1 */
    KVC_FLAG_CHUNKED_PREFILL,   /* ctx > 0, q > 1 */
    KVC_FLAG_DECODE,            /* q == 1 */
    KVC_FLAG_SPEC_DECODE,       /* ctx > 0, 1 < q <= 8 */
    KVC_FLAG_MHA,
    KVC_FLAG_GQA,
    KVC_FLAG_MQA,
    KVC_FLAG_ODD_HEAD_DIM,      /* D not a multiple of 8 */
    KVC_FLAG_BLOCK_SIZE_1,
    KVC_FLAG_SEQ_ON_BLOCK_EDGE, /* a kv_len in {B-1, B, B+1} or a multiple of B */
    KVC_FLAG_CHUNK_ENDS_ON_BLOCK,/* ctx + q a multiple of B with q > 0 */
    KVC_FLAG_BIDIRECTIONAL,
    KVC_FLAG_WINDOW,
    KVC_FLAG_WINDOW_IN_BLOCK,   /* the window's first key is inside a block */
    KVC_FLAG_SOFTCAP,
    KVC_FLAG_CUSTOM_MASK,
    KVC_FLAG_MASKED_FIRST_BLOCK,
    KVC_FLAG_EMPTY_ROW,         /* a query row with no visible key */
    KVC_FLAG_Q_LEN_0,
    KVC_FLAG_KV_LEN_0,
    KVC_FLAG_PADDING_TOKENS,
    KVC_FLAG_SHARED_PREFIX,
    KVC_FLAG_TABLE_REVERSED,
    KVC_FLAG_TABLE_POOL_END,
    KVC_FLAG_HND,
    KVC_FLAG_PADDED_STRIDES,
    KVC_FLAG_LEAK_SENSITIVE,    /* an invisible key would dominate its row */
    KVC_FLAG_OUTLIERS,
    KVC_FLAG_NEAR_TIES,
    KVC_FLAG_EQUAL_KEYS,
    KVC_FLAG_ONE_HOT,
    KVC_FLAG_GROWING_SCORES,
    KVC_FLAG_QEFF_LEFT_PAD,     /* QEfficient rows padded on the left */
    KVC_FLAG_LARGE_OFFSETS,     /* block offsets beyond 2^31 / 2^32 elements */
    KVC_FLAG_KV_F16,            /* the cache format (kvc_kv_dtype) */
    KVC_FLAG_KV_BF16,
    KVC_FLAG_KV_FP8_E4M3,
    KVC_FLAG_KV_FP8_E5M2,
    KVC_FLAG_KV_INT8,
    KVC_FLAG_KV_NVFP4,
    KVC_FLAG_SCALE_TENSOR,      /* the scale strategy (kvc_scale_kind) */
    KVC_FLAG_SCALE_HEAD,
    KVC_FLAG_SCALE_TOKEN,
    KVC_FLAG_SCALE_GROUP,
    KVC_FLAG_FORMAT_EDGES,      /* K/V on rounding midpoints +-1 ulp, +-0,
                                   subnormals, saturation, zero rows/groups */
    KVC_FLAG_SCALE_HUGE,        /* static scales far above the data: codes
                                   in the format's subnormals or zero */
    KVC_FLAG_SCALE_TINY,        /* static scales far below: codes saturate */
    KVC_FLAG_COUNT
};

/* Flags of inputs a kernel must refuse, or may treat as it likes: golden
 * vectors and the campaign's invalid variants (generators/invalid.h; the
 * valid draw kvc_spec_draw never draws them). Same bit space. */
enum {
    KVC_FLAG_BAD_BLOCK_ID = KVC_FLAG_COUNT, /* a needed table entry is -1 or
                                               out of range */
    KVC_FLAG_BAD_SLOT,              /* a slot outside the pool */
    KVC_FLAG_DUPLICATE_SLOT,        /* two tokens write one slot */
    KVC_FLAG_SEQ_BEYOND_TABLE,      /* seq_len needs more blocks than the
                                       table row holds */
    KVC_FLAG_QEFF_CROSSING_WRITE,   /* QEfficient write crosses a block */
    KVC_FLAG_QEFF_SLOT_ID_MISMATCH, /* slot_id disagrees with positions */
    KVC_FLAG_BAD_TILE_COUNT,        /* blocked num_kv_blocks < 1 */
    KVC_FLAG_FREED_BELOW_WINDOW,    /* -1 table entries wholly below the
                                       sliding window (engines free them) */
    KVC_FLAG_BAD_KV_FORMAT,         /* a cache format the kernel must
                                       refuse: nvfp4 with head_dim % 16,
                                       a static scale 0, negative or NaN */
    KVC_FLAG_UNNESTED_STRIDES,      /* paged strides whose rows are disjoint
                                       but do not nest (kvattn.h: a kernel
                                       may refuse them) */
    KVC_FLAG_OVERLAPPING_STRIDES,   /* paged strides that make two rows
                                       overlap: must be refused */
    /* From here on: the campaign's invalid variants; golden vectors have
     * the first three only on invalid tests with a variant (FORMAT.md,
     * "variant"), qeff_positions never. */
    KVC_FLAG_BAD_PARAM,             /* scale not finite, softcap < 0 or
                                       window_left < -1 */
    KVC_FLAG_BAD_SHAPE,             /* Hq % Hkv != 0, head_dim < 1, cache
                                       rows that overlap */
    KVC_FLAG_QSL_DECREASING,        /* query_start_loc decreases */
    KVC_FLAG_QEFF_POSITIONS,        /* QEfficient positions of a row not
                                       consecutive */
    KVC_FLAG_ALL_COUNT
};
#define KVC_FLAG_CAMPAIGN_ONLY_FIRST KVC_FLAG_BAD_PARAM

/* "prefill", "chunked_prefill", ..., "bad_block_id", ...; NULL for a bit
 * >= KVC_FLAG_ALL_COUNT. */
const char *kvc_flag_name(int bit);

/* Names of the other kinds ("permuted", "normal", "first_block", ...; "?"
 * for an unknown value) and their parsers (0, or -1 for an unknown name). */
const char *kvc_table_name(kvc_table_kind t);
int kvc_table_parse(const char *s, kvc_table_kind *t);
const char *kvc_values_name(kvc_values_kind v);
int kvc_values_parse(const char *s, kvc_values_kind *v);
const char *kvc_mask_name(kvc_mask_kind m);
int kvc_mask_parse(const char *s, kvc_mask_kind *m);

/* How static scales (per tensor, per head, nvfp4 global) are chosen from
 * the data (case_build.c): */
typedef enum kvc_scale_family {
    KVC_SCALES_CALIBRATED = 0, /* the min-max calibration rule on the case's
                                  own K/V (kvc_calib_scale) */
    KVC_SCALES_POW2,           /* a power of two near the calibrated scale,
                                  so that x / s is exact (format edges land
                                  on the grid's midpoints) */
    KVC_SCALES_HUGE,           /* calibrated * 2^8..2^20: codes underflow */
    KVC_SCALES_TINY,           /* calibrated / 2^4..2^12: codes saturate */
    KVC_SCALES_COUNT
} kvc_scale_family;

const char *kvc_scale_family_name(kvc_scale_family f);
int kvc_scale_family_parse(const char *s, kvc_scale_family *f);

/* Every choice of a case, before any tensor exists. */
typedef struct kvc_case_spec {
    kvc_mode mode;
    kvc_config cfg;
    int num_seqs;                 /* 0 .. KVC_MAX_SEQS */
    int ctx_len[KVC_MAX_SEQS];
    int q_len[KVC_MAX_SEQS];
    int pad_tokens;               /* padding tokens after the last sequence */
    int block_size;               /* PAGED/QEFF: B; BLOCKED: ignored */
    int hnd;                      /* PAGED/QEFF: 1 = HND, 0 = NHD */
    int stride_pad;               /* extra elements after each head row (padded layouts) */
    int extra_blocks;             /* unused (poisoned) blocks in the pool */
    kvc_table_kind table;
    int cache_len;                /* BLOCKED: CL >= every kv_len */
    int num_kv_blocks;            /* BLOCKED */
    kvc_mask_kind mask;
    kvc_values_kind values;
    int leak_sensitive;           /* boost keys that some query must not see */
    int qeff_left_pad;            /* QEFF: pad rows on the left */
    int qeff_max_q;               /* QEFF: row width >= every q_len */
    int large_offsets;            /* PAGED/QEFF: every used block id sits
                                     above a huge unused stretch of the pool,
                                     so element offsets exceed 2^32 (2^31
                                     for tiny blocks); the pool is sparse */
    kvc_kv_dtype kv_dtype;        /* the cache format (f32 = 0) */
    kvc_scale_kind kv_scale;      /* its scale strategy (none = 0) */
    kvc_scale_family scale_family;/* TENSOR/HEAD/GROUP static scales */
    int format_edges;             /* overlay K/V rows with the format's
                                     boundary values (values.c) */
    int special_inputs;           /* 1: a few K/V elements hold the special
                                     inputs of the format (NaN, +-inf,
                                     values past the largest finite, the
                                     format's subnormals, -0), in visible
                                     and invisible positions (special.c);
                                     0 (hand-written specs): none */
    int kernel_calibration;       /* 1 (TENSOR/HEAD/GROUP, CALIBRATED): the
                                     runner has the kernel's own observer
                                     calibrate the static scales and checks
                                     them against the oracle's
                                     (tools/calibration_check.h) */
} kvc_case_spec;

/* Physical paged layout as plain data. For BLOCKED the contiguous cache
 * [S][Hkv][CL][D] is described the same way: num_blocks = S, block_size =
 * CL, HND strides, block_table[s][0] = s. */
typedef struct kvc_layout {
    int block_size;
    int64_t num_blocks;
    int hnd;
    int64_t stride_block, stride_slot, stride_head; /* storage units of the
                                   format (kvattn.h): elements, or bytes of
                                   two codes for nvfp4 */
    int64_t pool_elems;         /* storage units of each of K and V */
    /* TOKEN / GROUP scale pools (kvattn.h kva_kv_scales), laid out like the
     * cache (NHD or HND) with rows of 1 float (TOKEN) or D/16 e4m3 codes
     * (GROUP), unpadded; all 0 for other strategies. */
    int64_t scale_stride_block, scale_stride_slot, scale_stride_head;
    int64_t scale_pool_units;
    int max_blocks_per_seq;
    int *block_table;           /* [S][max_blocks_per_seq]; unused entries
                                   hold -1, poisoned block ids or huge ids;
                                   with a window, entries wholly below
                                   max(0, ctx_len - window_left) may be -1
                                   (freed: never read, never written) */
    int64_t *slot_mapping;      /* [num_tokens]; -1 for padding tokens */
    uint64_t poison_seed;       /* seeds the runner's pool poison */
} kvc_layout;

/* QEfficient padded inputs (mode QEFF). */
typedef struct kvc_qeff_layout {
    int max_q;
    int *position_ids;          /* [S][max_q], -1 = padding */
    int *slot_id;               /* [S] */
    int64_t *row_of_token;      /* [q_start[S]]: padded row s*max_q+i */
} kvc_qeff_layout;

/* A leak target of a leak-sensitive case: key `key` of sequence `seq` is
 * invisible to new token `token` (0-based within the sequence) under query
 * head `head`, and its raw score scale*q.k for that row exceeds the row's
 * largest visible raw score (0 for a row with no visible key) by >= 20. */
typedef struct kvc_leak {
    int seq;
    int token;
    int head;
    int key;
} kvc_leak;

typedef struct kvc_case {
    uint64_t seed;
    uint64_t index;
    kvc_case_spec spec;
    kvc_problem prob;
    kvc_layout layout;
    kvc_qeff_layout qeff;
    uint64_t flags;             /* 1 << KVC_FLAG_* */
    uint64_t value_seed;        /* the value_seed it was built from */
    int num_leaks;              /* leak targets (KVC_FLAG_LEAK_SENSITIVE) */
    kvc_leak leaks[KVC_MAX_LEAKS];
} kvc_case;

/* The per-case RNG seed: splitmix64 of (seed, index). */
uint64_t kvc_case_seed(uint64_t seed, uint64_t index);

/* The seed of redraw `attempt` of case (seed, index): attempt 0 is
 * kvc_case_seed(seed, index) itself, so a kernel that claims everything
 * (tools/claim.h) gets exactly the cases it always got. */
uint64_t kvc_attempt_seed(uint64_t seed, uint64_t index, int attempt);

/* Draw a spec for case (seed, index). forced_mode < 0 draws the mode too;
 * otherwise the mode is drawn and then replaced, so the rest of the draw
 * only depends on the mode. Returns 0, or -1 when forced_mode >=
 * KVC_MODE_COUNT or out of memory. */
int kvc_spec_draw(uint64_t seed, uint64_t index, int forced_mode,
                  kvc_case_spec *spec);

/* The same from a case seed (kvc_spec_draw uses kvc_case_seed(seed,
 * index)); the redraws of tools/claim.h use kvc_attempt_seed. */
int kvc_spec_draw_seeded(uint64_t case_seed, int forced_mode,
                         kvc_case_spec *spec);

/*
 * Size policy of a campaign's draw (generators/size_tier.c; the size policy
 * section of docs/architecture.md). Every case draws a size tier from its
 * own RNG stream (decorrelated from the case seed, like the format draw),
 * so a case stays a pure function of (seed, index, mode, size options) and
 * a base-tier case is exactly the case kvc_spec_draw gives:
 *   BASE        today's draw (lengths <= 300, now and then 1000..2000)
 *   GROUPS      group sizes 1..16 over Hkv in {1,2,3,5,6,7,8}, cheap D
 *   BIG_BLOCKS  block sizes 48..512 (128, 256, 512 and non powers of two),
 *               lengths up to 4 blocks of them, blocked tiles up to 512
 *   PREFILL     prefill / chunked prefill of 64..4096 query rows, cheap heads
 *   LONG_DECODE decode / speculative decode over 2k..128k keys, cheap heads
 *   MODEL       Hq 32 / Hkv 8 / head_dim 128, decode over 4k..32k keys
 * Each tier has its own work cap (kvc_tier_work_cap). The shares per policy
 * (kvc_tier_share): SMALL draws BASE only; DEFAULT 3.06% above BASE;
 * LARGE 60%.
 */
typedef enum kvc_size_policy {
    KVC_SIZE_DEFAULT = 0,
    KVC_SIZE_SMALL,
    KVC_SIZE_LARGE,
    KVC_SIZE_COUNT
} kvc_size_policy;

typedef enum kvc_size_tier {
    KVC_TIER_BASE = 0,
    KVC_TIER_GROUPS,
    KVC_TIER_BIG_BLOCKS,
    KVC_TIER_PREFILL,
    KVC_TIER_LONG_DECODE,
    KVC_TIER_MODEL,
    KVC_TIER_COUNT
} kvc_size_tier;

/* Size options of a draw (`run --size/--max-kv/...`). Zero = the default
 * policy, no filter. Filters narrow every case deterministically after the
 * tier's draw: heads / head_dim / block_size are forced (an nvfp4 case with
 * a head_dim that is not a multiple of 16 becomes f16), and each sequence
 * is clamped to kv_len <= max_kv and q_len <= max_q (the context shortened
 * first). */
typedef struct kvc_size_opts {
    kvc_size_policy size;
    int max_kv;     /* 0 = no limit, else >= 1 */
    int max_q;      /* 0 = no limit, else >= 1 */
    int hq, hkv;    /* 0 = drawn; else Hq a multiple of Hkv */
    int head_dim;   /* 0 = drawn */
    int block_size; /* 0 = drawn */
} kvc_size_opts;

const char *kvc_size_policy_name(kvc_size_policy p); /* "default", ... */
int kvc_size_policy_parse(const char *s, kvc_size_policy *p);
const char *kvc_tier_name(kvc_size_tier t); /* "base", "groups", ... */
/* The probability of tier t under policy p (the shares sum to 1). */
double kvc_tier_share(kvc_size_policy p, kvc_size_tier t);
/* The work cap of a tier (kvc_spec_work of every case of it is below). */
int64_t kvc_tier_work_cap(kvc_size_tier t);
/* The tier case_seed draws under opts (NULL: the default policy). */
kvc_size_tier kvc_tier_of(uint64_t case_seed, const kvc_size_opts *opts);
/* Check that the filters can be met (heads, ranges); returns 0, or -1 with
 * a message naming the option. */
int kvc_size_opts_check(const kvc_size_opts *o, char *err, size_t errlen);
/* 1 when the options are all zero (the default policy, no filter). */
int kvc_size_opts_is_default(const kvc_size_opts *o);

/* kvc_spec_draw_seeded under size options (NULL: the default policy, no
 * filter). kvc_spec_draw and kvc_spec_draw_seeded draw under SMALL (the
 * golden set depends on them). */
int kvc_spec_draw_sized(uint64_t case_seed, int forced_mode,
                        const kvc_size_opts *opts, kvc_case_spec *spec);

/* The reference-free properties and the merge check (each re-runs the
 * kernel and the oracle) skip cases of more work than this. */
#define KVC_SAMPLED_CHECK_MAX_WORK 20000000

/* The work of a spec (see KVC_CASE_WORK_CAP). */
int64_t kvc_spec_work(const kvc_case_spec *spec);

/* Build the case of a spec; tensors and layout drawn from value_seed.
 * Returns 0, or -1 with a message (invalid spec, out of memory; nothing left
 * allocated). */
int kvc_case_build(const kvc_case_spec *spec, uint64_t value_seed,
                   kvc_case *c, char *err, size_t errlen);

/* kvc_spec_draw + kvc_case_build with value_seed = kvc_case_seed(seed,
 * index); records seed and index in c. */
int kvc_case_generate(uint64_t seed, uint64_t index, int forced_mode,
                      kvc_case *c, char *err, size_t errlen);

void kvc_case_free(kvc_case *c);

/* One line: mode, S, Hq/Hkv, D, B, lengths, window, softcap, mask, values. */
void kvc_case_describe(const kvc_case *c, char *buf, size_t n);

/* Split total tokens into chunks for chunked prefill: family 0 whole
 * prefill, 1 random splits, 2 chunks ending on block boundaries, 3 decode
 * steps after a prefill. Writes at most max chunk lengths (each >= 1, sum ==
 * total) and returns how many. rng is a gsl_rng*. */
int kvc_gen_chunking(void *rng, int total, int block_size, int family,
                     int *chunks, int max);

#endif /* KVC_CASE_H */
