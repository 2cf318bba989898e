/*
 * fuzz_contract.c — the bad-input contract of every kvattn.h entry point
 * (kva_cache_write, kva_paged_attention, kva_blocked_attention,
 * kva_qeff_to_general, kva_observer_update, kva_scale_from_amax).
 *
 * Input format (fuzz_contract.h): entry point; number of corruptions
 * (0..3, biased to 1) and their kinds; the cache format (fzm_format: dtype,
 * a scale kind it takes, static scales, scale-pool layout, how unused
 * fields are filled); a small VALID base input drawn from the bytes
 * (shapes, layout in storage units, lengths, block table, slots, masks);
 * each corruption's parameters (which field, which bad value: -1 block
 * ids, out-of-range and duplicated slots, negative and huge lengths, head
 * counts that do not divide, overlapping or negative strides, a pool too
 * small, NULL pointers, non-finite scale/softcap, a dtype or scale kind
 * out of the enum or not taken, static scales 0/negative/NaN/inf, NULL
 * head arrays and scale pools, bad scale-pool strides and pool_units,
 * NVFP4 with head_dim % 16, ...); a value seed and a few injected
 * interesting floats. The qeff, observe and scale entry points read an
 * fzq_input, fzo_input or fzs_input (fuzz_model.h) instead.
 *
 * Every buffer is allocated at exactly the size the (possibly corrupted)
 * description claims — K/V pools in storage units of the dtype, scale
 * pools in their units, head arrays of Hkv floats — so ASan/valgrind see
 * any access outside it; units no valid call reads hold poison (NaN codes;
 * int8 -128 and nvfp4 -6, which have none; NaN token scales and e4m3 block
 * codes) and outputs a byte pattern. After the call:
 *   - an input the header says must be refused (fuzz_model.c) was refused;
 *     KVA_ERR_FORMAT only for a broken format; when the input is a valid
 *     base with format corruptions only on dense layouts, exactly the
 *     statuses the model gives (and acceptance when it gives none);
 *   - a refusal has a known status, err->status == status, a non-empty
 *     message, and every output, cache and scale-pool byte is identical;
 *   - const inputs (head scale arrays included) are unchanged;
 *   - cache write, accepted: the K/V and scale pools equal the old ones
 *     with exactly the named slots' rows replaced by the reference codes
 *     (fzm_encode_row: the oracle's codecs; f32 the bits), byte for byte;
 *   - attention, accepted: cache and scale pools unchanged, padding rows
 *     untouched, a row with no visible key is out = 0 and lse = -inf, and
 *     when the stored values are moderate (finite, no overflow possible)
 *     every real row's out is finite and lse finite — which also catches a
 *     read of a poisoned row, token scale or block code.
 * Violations abort with a message.
 *
 * Kernel: kvc_builtin_kernel, or FUZZ_KERNEL when the build defines it
 * (observe and scale call libkvattn directly: the kernel table has no such
 * entries). FUZZ_CONTRACT_ENTRY (an FZC_* value) restricts a build to one
 * entry point; FUZZ_CONTRACT_F32 to F32 caches without format corruptions
 * (the planted-kernel proofs: their bugs are F32-only, and an unrelated
 * format finding must not end a proof run).
 */
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_contract.h"
#include "fuzz_helpers.h"
#include "fuzz_model.h"

#ifdef FUZZ_KERNEL
extern const kvc_kernel FUZZ_KERNEL;
#define KERNEL_UNDER_TEST (&FUZZ_KERNEL)
#else
#define KERNEL_UNDER_TEST (&kvc_builtin_kernel)
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    E_PAGED = FZC_PAGED,
    E_BLOCKED = FZC_BLOCKED,
    E_WRITE = FZC_WRITE,
    E_QEFF = FZC_QEFF,
    E_OBSERVE = FZC_OBSERVE,
    E_SCALE = FZC_SCALE,
    E_COUNT = FZC_ENTRY_COUNT
};

/* Format pointers a corruption sets to NULL (scen.fnulls). */
enum { FN_K_HEAD = 1, FN_V_HEAD = 2, FN_K_POOL = 4, FN_V_POOL = 8 };

/* Set by fzc_probe_input: the run functions stop after the verdict. */
static fzc_probe *probe;

#define MAX_S 4
#define MAX_CTX 24
#define MAX_Q 6
#define MAX_MB (MAX_CTX + MAX_Q + 3)
#define MAX_T 12                   /* cache-write tokens */
#define MAX_ELEMS (1 << 16)        /* per allocated tensor */
#define MODERATE 1e30

/* The whole description of one call, before buffers exist. */
typedef struct scen {
    int entry;
    int exact;      /* only format corruptions, dense layouts: the model
                       sees every rule (codes_known) */
    unsigned nulls; /* 1u << X_NULL_* */
    kva_attn_params p;
    /* cache format (every cache entry) */
    fzm_format f;
    unsigned fnulls; /* FN_* */
    int64_t ssb, sss, ssh, spool_units; /* scale pools, units */
    /* paged cache (E_PAGED, E_WRITE); strides and pool in storage units */
    int64_t num_blocks;
    int B, cHkv, cD;
    int64_t sb, ss, sh, pool_elems;
    /* blocked cache (E_BLOCKED) */
    int bS, CL, nkb;
    /* batch */
    int S;
    int64_t qsl[MAX_S + 1];
    int seq_lens[MAX_S];
    int mb;
    int table[MAX_S][MAX_MB];
    int64_t num_tokens;
    int masks_on;
    int mask_on[MAX_S];
    int lse_on, err_on;
    /* cache write */
    int64_t nt;
    int64_t slots[MAX_T];
    /* values */
    uint64_t seed;
    int n_inject;
    int inject_target[3]; /* 0 q, 1 k, 2 v, 3 k scales, 4 v scales */
    uint32_t inject_pos[3];
    float inject_val[3];
    int mask_density;
} scen;

/* ---- base inputs ---- */

static int64_t clamp64(int64_t x, int64_t lo, int64_t hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* a + b, saturated (corruptions stack: a field may already be extreme). */
static int64_t sat64(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int sat32(int a, int b)
{
    int64_t r = (int64_t)a + b;
    return r > INT_MAX ? INT_MAX : r < INT_MIN ? INT_MIN : (int)r;
}

/* Largest offset + D of the geometry, or -1 when it overflows / a count is
 * not positive / a stride is negative. */
static int64_t extent_of(int64_t nb, int B, int H, int D, int64_t sb,
                         int64_t ss, int64_t sh)
{
    if (nb < 1 || B < 1 || H < 1 || D < 1 || sb < 0 || ss < 0 || sh < 0)
        return -1;
    const int64_t s[3] = {sb, ss, sh}, n[3] = {nb, B, H};
    int64_t e = D;
    for (int i = 0; i < 3; i++) {
        if (n[i] > 1 && s[i] > (INT64_MAX - e) / (n[i] - 1))
            return -1;
        e += (n[i] - 1) * s[i];
    }
    return e;
}

static void draw_params(fz_io *io, scen *x)
{
    int hkv = fz_get_int(io, 1, 4), group = fz_get_int(io, 1, 4);
    x->p.num_kv_heads = hkv;
    x->p.num_q_heads = hkv * group;
    x->p.head_dim = fz_get_int(io, 1, 20);
    if (x->f.dtype == KVA_DTYPE_NVFP4) /* groups of 16 */
        x->p.head_dim = 16 * x->f.groups;
    x->p.scale = 1.0f / sqrtf((float)x->p.head_dim);
    if (fz_get_chance(io, 24))
        x->p.scale = fz_get_float(io);
    x->p.softcap = 0.0f;
    if (fz_get_chance(io, 48)) {
        static const float caps[] = {1.0f, 5.0f, 30.0f, 0.5f};
        x->p.softcap = caps[fz_get_int(io, 0, 3)];
    } else if (fz_get_chance(io, 16)) {
        x->p.softcap = fz_get_float(io);
        if (!(x->p.softcap >= 0.0f) || !isfinite(x->p.softcap))
            x->p.softcap = 0.0f; /* a bad one is a corruption's job */
    }
    x->p.causal = fz_get_bool(io);
    x->p.window_left = fz_get_chance(io, 80) ? fz_get_int(io, 0, 12) : -1;
    x->cHkv = x->p.num_kv_heads;
    x->cD = x->p.head_dim;
}

static void draw_paged_cache(fz_io *io, scen *x)
{
    x->B = fz_get_int(io, 1, 8);
    x->num_blocks = fz_get_int(io, 1, 12);
    int layout = fz_get_int(io, 0, 3), pad = fz_get_int(io, 0, 3);
    const int R = (int)fzm_row_units(x->f.dtype, x->cD);
    int64_t row = R + pad;
    if (layout == 2)
        x->exact = 0; /* a kernel may be stricter than the row rule */
    if (layout == 1) { /* HND */
        x->ss = row;
        x->sh = (int64_t)x->B * row;
        x->sb = x->cHkv * x->sh;
    } else if (layout == 2) { /* raw strides: often overlapping */
        x->sb = fz_get_int(io, 0, 400);
        x->ss = fz_get_int(io, 0, 64);
        x->sh = fz_get_int(io, 0, 64);
    } else { /* NHD */
        x->sh = row;
        x->ss = x->cHkv * row;
        x->sb = (int64_t)x->B * x->ss;
    }
    int64_t e = extent_of(x->num_blocks, x->B, x->cHkv, R, x->sb, x->ss,
                          x->sh);
    int slack = fz_get_chance(io, 40) ? fz_get_int(io, 1, 8) : 0;
    x->pool_elems = clamp64(e < 0 ? 0 : e + slack, 0, MAX_ELEMS);
}

/* The TOKEN/GROUP scale pools over (nb, B, H) rows (paged: num_blocks,
 * block_size, Hkv; blocked: S, cache_len, Hkv) as the format section says,
 * for every kind (a corruption may switch to TOKEN or GROUP): rows of
 * D/16 units for GROUP (nvfp4), else 1. */
static void draw_scale_pools(fz_io *io, scen *x, int nb, int B, int H)
{
    const fzm_format *f = &x->f;
    int sr = f->kind == KVA_SCALE_GROUP && x->cD >= 16 ? x->cD / 16 : 1;
    int64_t row = sr + f->pool_pad;
    if (f->pool_layout == 1) { /* HND */
        x->sss = row;
        x->ssh = (int64_t)B * row;
        x->ssb = H * x->ssh;
    } else if (f->pool_layout == 2) { /* raw strides */
        x->exact = 0;
        x->ssb = fz_get_int(io, 0, 400);
        x->sss = fz_get_int(io, 0, 64);
        x->ssh = fz_get_int(io, 0, 64);
    } else { /* NHD */
        x->ssh = row;
        x->sss = H * row;
        x->ssb = (int64_t)B * x->sss;
    }
    int64_t e = extent_of(nb, B, H, sr, x->ssb, x->sss, x->ssh);
    x->spool_units = clamp64(e < 0 ? 0 : e + f->pool_slack, 0, MAX_ELEMS);
}

static void draw_batch(fz_io *io, scen *x, int paged)
{
    x->S = fz_get_int(io, 0, MAX_S);
    x->qsl[0] = 0;
    int need_max = 0;
    for (int s = 0; s < x->S; s++) {
        int ctx = fz_get_int(io, 0, MAX_CTX), q = fz_get_int(io, 0, MAX_Q);
        x->seq_lens[s] = ctx + q;
        x->qsl[s + 1] = x->qsl[s] + q;
        if (paged) {
            int need = (x->seq_lens[s] + x->B - 1) / x->B;
            if (need > need_max)
                need_max = need;
        }
    }
    x->num_tokens = x->qsl[x->S] + fz_get_int(io, 0, 3);
    if (paged) {
        x->mb = need_max + fz_get_int(io, 0, 2);
        const int nbm1 = (int)x->num_blocks - 1;
        const int junk[] = {INT_MAX, INT_MIN, (int)x->num_blocks};
        for (int s = 0; s < x->S; s++) {
            int q = (int)(x->qsl[s + 1] - x->qsl[s]);
            int ctx = x->seq_lens[s] - q;
            int need = (x->seq_lens[s] + x->B - 1) / x->B;
            int64_t lo = x->p.window_left >= 0 ? ctx - x->p.window_left : 0;
            int free_below = x->p.window_left >= 0 && fz_get_bool(io);
            for (int b = 0; b < x->mb; b++) {
                if (b < need && !(free_below && (int64_t)(b + 1) * x->B <= lo))
                    x->table[s][b] = fz_get_int(io, 0, nbm1);
                else
                    x->table[s][b] = fz_get_int_special(io, -1, nbm1, junk, 3);
            }
        }
    }
    x->masks_on = fz_get_chance(io, 64);
    for (int s = 0; s < x->S; s++)
        x->mask_on[s] = x->masks_on && fz_get_bool(io);
    x->mask_density = fz_get_int(io, 0, 255);
}

static void draw_writes(fz_io *io, scen *x)
{
    x->nt = fz_get_int(io, 0, MAX_T);
    int64_t slots = x->num_blocks * x->B;
    for (int64_t t = 0; t < x->nt; t++)
        x->slots[t] = fz_get_chance(io, 40) ? -1 : fz_get_i64(io, 0, slots - 1);
}

/* ---- corruptions ---- */

/* q_len of sequence s when qsl is sane there, else -1. */
static int64_t q_len_of(const scen *x, int s)
{
    int64_t d;
    if (x->qsl[s] < 0 || __builtin_sub_overflow(x->qsl[s + 1], x->qsl[s], &d))
        return -1;
    return d >= 0 ? d : -1;
}

/* An enum value in [0, hi], else 0 (the base of "another value"). */
static int known_or_0(int v, int hi)
{
    return v >= 0 && v <= hi ? v : 0;
}

static int pick_seq_with_tokens(fz_io *io, const scen *x)
{
    int cand[MAX_S], n = 0;
    for (int s = 0; s < x->S && s < MAX_S; s++)
        if (q_len_of(x, s) > 0 && x->seq_lens[s] > 0)
            cand[n++] = s;
    return n ? cand[fz_get_int(io, 0, n - 1)] : -1;
}

static void corrupt(fz_io *io, scen *x, int kind)
{
#ifdef FUZZ_CONTRACT_F32
    if (FZC_IS_FORMAT(kind))
        return;
#endif
    if (kind <= X_NULL_SLOTS) {
        x->nulls |= 1u << kind;
        return;
    }
    const int S = x->S >= 0 && x->S <= MAX_S ? x->S : 0;
    switch (kind) {
    case X_HQ: {
        int hq[] = {0, -1, INT_MIN, x->p.num_kv_heads > 1
                                        ? sat32(x->p.num_q_heads, 1) : 0};
        x->p.num_q_heads = hq[fz_get_int(io, 0, 3)];
        break;
    }
    case X_HKV: {
        int hkv[] = {0, -1, x->p.num_q_heads > 0 ? sat32(x->p.num_q_heads, 1) : 0};
        x->p.num_kv_heads = hkv[fz_get_int(io, 0, 2)];
        break;
    }
    case X_HEAD_DIM: {
        int d[] = {0, -1, INT_MIN};
        x->p.head_dim = x->cD = d[fz_get_int(io, 0, 2)];
        break;
    }
    case X_SCALE: {
        float f[] = {NAN, INFINITY, -INFINITY};
        x->p.scale = f[fz_get_int(io, 0, 2)];
        break;
    }
    case X_SOFTCAP: {
        float f[] = {-1.0f, -1e-30f, NAN, INFINITY, -INFINITY};
        x->p.softcap = f[fz_get_int(io, 0, 4)];
        break;
    }
    case X_WINDOW: {
        int w[] = {-2, INT_MIN};
        x->p.window_left = w[fz_get_int(io, 0, 1)];
        break;
    }
    case X_CACHE_HKV:
        x->cHkv = sat32(x->p.num_kv_heads, fz_get_int(io, 1, 2));
        break;
    case X_CACHE_D:
        x->cD = sat32(x->p.head_dim, fz_get_bool(io) ? 1 : -1);
        break;
    case X_NUM_BLOCKS: {
        int64_t nb[] = {0, -1, INT64_MIN, INT64_MAX, sat64(x->num_blocks, 1)};
        x->num_blocks = nb[fz_get_int(io, 0, 4)];
        break;
    }
    case X_BLOCK_SIZE: {
        int b[] = {0, -1, INT_MIN, INT_MAX, sat32(x->B, 1)};
        x->B = b[fz_get_int(io, 0, 4)];
        break;
    }
    case X_STRIDE: {
        int64_t *st[] = {&x->sb, &x->ss, &x->sh};
        int64_t *sp = st[fz_get_int(io, 0, 2)];
        int64_t v[] = {-1, 0, 1, sat64(*sp, -1), sat64(*sp, 1), INT64_MAX, INT64_MIN,
                       (int64_t)1 << 40};
        *sp = v[fz_get_int(io, 0, 7)];
        break;
    }
    case X_POOL_SMALL:
        x->pool_elems = clamp64(x->pool_elems - fz_get_int(io, 1, 4), 0,
                                MAX_ELEMS);
        break;
    case X_HUGE_GEOMETRY:
        x->num_blocks = INT64_MAX / fz_get_int(io, 1, 8);
        x->sb = fz_get_int(io, 1, 1 << 20);
        break;
    case X_NUM_SEQS: {
        int s[] = {-1, INT_MIN};
        x->S = s[fz_get_int(io, 0, 1)];
        break;
    }
    case X_QSL0: {
        int64_t v[] = {1, -1, INT64_MIN};
        x->qsl[0] = v[fz_get_int(io, 0, 2)];
        break;
    }
    case X_QSL_DECREASE:
        if (S > 0) {
            int s = fz_get_int(io, 0, S - 1);
            x->qsl[s + 1] = sat64(x->qsl[s], -fz_get_int(io, 1, 3));
        }
        break;
    case X_QSL_BEYOND:
        if (x->qsl[S] > 0)
            x->num_tokens = x->qsl[S] - fz_get_i64(io, 1, x->qsl[S]);
        break;
    case X_NUM_TOKENS: {
        int64_t v[] = {-1, INT64_MIN};
        x->num_tokens = v[fz_get_int(io, 0, 1)];
        break;
    }
    case X_SEQ_LEN:
        if (S > 0) {
            int s = fz_get_int(io, 0, S - 1);
            int64_t q = q_len_of(x, s);
            int v[] = {q >= 1 && q <= INT_MAX ? (int)q - 1 : -1, -1, INT_MIN,
                       INT_MAX};
            x->seq_lens[s] = v[fz_get_int(io, 0, 3)];
        }
        break;
    case X_MAX_BLOCKS: {
        int v[] = {sat32(x->mb, -1), -1, INT_MIN};
        x->mb = v[fz_get_int(io, 0, 2)];
        break;
    }
    case X_BLOCK_ID: {
        int s = pick_seq_with_tokens(io, x);
        if (s < 0 || x->B < 1 || x->mb < 1)
            break;
        int64_t q = q_len_of(x, s), ctx = x->seq_lens[s] - q;
        int64_t lo = x->p.window_left >= 0 ? ctx - x->p.window_left : 0;
        if (lo < 0)
            lo = 0;
        int64_t first = lo / x->B, last = ((int64_t)x->seq_lens[s] - 1) / x->B;
        if (last >= x->mb)
            last = x->mb - 1;
        if (first > last)
            break;
        int b = (int)fz_get_i64(io, first, last);
        int nb = x->num_blocks > INT_MAX ? INT_MAX
                 : x->num_blocks < INT_MIN ? INT_MIN : (int)x->num_blocks;
        int v[] = {-1, nb, INT_MAX, INT_MIN, -2,
                   nb <= INT_MAX - 100 ? nb + 100 : INT_MAX};
        x->table[s][b] = v[fz_get_int(io, 0, 5)];
        break;
    }
    case X_CACHE_LEN: {
        int mx = 0;
        for (int s = 0; s < S; s++)
            if (x->seq_lens[s] > mx)
                mx = x->seq_lens[s];
        int v[] = {0, -1, INT_MIN, mx > 1 ? mx - 1 : 0};
        x->CL = v[fz_get_int(io, 0, 3)];
        break;
    }
    case X_CACHE_SEQS:
        x->bS = fz_get_bool(io) || x->bS == 0 ? x->bS + fz_get_int(io, 1, 2)
                                              : x->bS - 1;
        break;
    case X_NUM_KV_BLOCKS: {
        int v[] = {0, -1, INT_MIN};
        x->nkb = v[fz_get_int(io, 0, 2)];
        break;
    }
    case X_SLOT:
        if (x->nt > 0) {
            int64_t ns = x->num_blocks > 0 && x->B > 0 &&
                         x->num_blocks <= INT64_MAX / x->B
                         ? x->num_blocks * x->B : 0;
            int64_t v[] = {-2, ns, sat64(ns, fz_get_int(io, 0, 100)), INT64_MAX,
                           INT64_MIN};
            x->slots[fz_get_i64(io, 0, x->nt - 1)] = v[fz_get_int(io, 0, 4)];
        }
        break;
    case X_SLOT_DUP:
        if (x->nt > 1) {
            int64_t a = fz_get_i64(io, 0, x->nt - 1);
            int64_t b = fz_get_i64(io, 0, x->nt - 2);
            if (b >= a)
                b++;
            x->slots[b] = x->slots[a] >= 0 ? x->slots[a] : 0;
        }
        break;
    case X_DTYPE: {
        int d[] = {-1, KVA_DTYPE_NVFP4 + 1, INT_MIN, INT_MAX, 255,
                   (known_or_0(x->f.dtype, 6) + fz_get_int(io, 1, 6)) % 7};
        x->f.dtype = d[fz_get_int(io, 0, 5)];
        break;
    }
    case X_SCALE_KIND: {
        int k[] = {-1, KVA_SCALE_GROUP + 1, INT_MIN, INT_MAX,
                   (known_or_0(x->f.kind, 4) + fz_get_int(io, 1, 4)) % 5};
        x->f.kind = k[fz_get_int(io, 0, 4)];
        break;
    }
    case X_STATIC_SCALE: {
        float bad[] = {0.0f, -0.0f, -1.0f, NAN, -NAN, INFINITY, -INFINITY,
                       -FLT_MIN, -1e-40f};
        float val = bad[fz_get_int(io, 0, 8)];
        int which = fz_get_bool(io);
        if (x->f.kind == KVA_SCALE_HEAD) { /* the field the kind reads */
            int h = fz_get_int(io, 0, FZM_MAX_HEADS - 1);
            if (x->cHkv >= 1 && x->cHkv <= FZM_MAX_HEADS)
                h %= x->cHkv;
            *(which ? &x->f.v_head[h] : &x->f.k_head[h]) = val;
        } else {
            *(which ? &x->f.v_tensor : &x->f.k_tensor) = val;
        }
        break;
    }
    case X_NULL_HEADS:
        x->fnulls |= fz_get_bool(io) ? FN_V_HEAD : FN_K_HEAD;
        break;
    case X_NULL_SCALE_POOL:
        x->fnulls |= fz_get_bool(io) ? FN_V_POOL : FN_K_POOL;
        break;
    case X_SCALE_STRIDE: {
        int64_t *st[] = {&x->ssb, &x->sss, &x->ssh};
        int64_t *sp = st[fz_get_int(io, 0, 2)];
        int64_t v[] = {-1, 0, 1, sat64(*sp, -1), sat64(*sp, 1), INT64_MAX,
                       INT64_MIN, (int64_t)1 << 40};
        *sp = v[fz_get_int(io, 0, 7)];
        break;
    }
    case X_SCALE_POOL_SMALL: {
        int64_t v[] = {clamp64(sat64(x->spool_units, -fz_get_int(io, 1, 4)),
                               0, MAX_ELEMS), 0, -1, INT64_MIN};
        x->spool_units = v[fz_get_int(io, 0, 3)];
        break;
    }
    case X_NVFP4_DIM: {
        int r = fz_get_int(io, 1, 31);
        x->f.dtype = KVA_DTYPE_NVFP4;
        x->f.kind = KVA_SCALE_GROUP;
        x->p.head_dim = x->cD = r == 16 ? 8 : r; /* never a multiple of 16 */
        break;
    }
    default:
        break;
    }
}

/* ---- buffers ---- */

/* Everything allocated for one call. */
typedef struct bufs {
    uint8_t *pool_k, *pool_v;   /* K/V: pool_n storage units of the dtype */
    int64_t pool_n;
    size_t pool_bytes;
    uint8_t *spool_k, *spool_v; /* scale pools, or a kind's unused junk */
    size_t spool_bytes;
    float *kh, *vh;             /* head scales, [n_heads] = cache Hkv */
    size_t n_heads;
    int64_t *reach;             /* rows a valid call reads: [n_reach][2] */
    int *reach_h;               /* (row unit offset, scale row offset), head */
    int64_t n_reach;
    float *q, *out, *lse;
    int64_t q_n, out_n, lse_n;
    int64_t *qsl;
    int *seq_lens;
    int *table;
    size_t n_qsl, n_seq, n_table;
    uint8_t **masks;          /* [S] */
    size_t n_masks;
    int64_t *mask_len;
    float *src_k, *src_v;     /* cache write sources */
    int64_t src_n;
    int64_t *slots;
} bufs;

static void bufs_free(bufs *b)
{
    free(b->pool_k);
    free(b->pool_v);
    free(b->spool_k);
    free(b->spool_v);
    free(b->kh);
    free(b->vh);
    free(b->reach);
    free(b->reach_h);
    free(b->q);
    free(b->out);
    free(b->lse);
    free(b->qsl);
    free(b->seq_lens);
    free(b->table);
    for (size_t s = 0; s < b->n_masks; s++)
        free(b->masks[s]);
    free(b->masks);
    free(b->mask_len);
    free(b->src_k);
    free(b->src_v);
    free(b->slots);
}

/* n1*n2*n3*n4 when every factor is >= 0 and the product <= MAX_ELEMS;
 * else -1. */
static int64_t small_product(int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t f[4] = {a, b, c, d}, r = 1;
    for (int i = 0; i < 4; i++) {
        if (f[i] < 0)
            return -1;
        if (f[i] == 0)
            return 0;
    }
    for (int i = 0; i < 4; i++) {
        if (r > MAX_ELEMS / f[i])
            return -1;
        r *= f[i];
    }
    return r;
}

static float *alloc_floats(int64_t n)
{
    return fz_alloc(n > 0 ? (size_t)n : 0, sizeof(float));
}

/* K/V caches of exactly `units` storage units of the (final) dtype. */
static void alloc_pools(const scen *x, bufs *b, int64_t units)
{
    b->pool_n = units > 0 ? units : 0;
    b->pool_bytes = (size_t)b->pool_n * (size_t)fzm_unit_bytes(x->f.dtype);
    b->pool_k = fz_alloc(b->pool_bytes, 1);
    b->pool_v = fz_alloc(b->pool_bytes, 1);
}

/* Poison for units no valid call reads: a NaN code where the format has
 * one; int8 -128 and nvfp4 -6 where it has none. */
static void fill_poison(uint8_t *p, int64_t units, int dtype)
{
    if (dtype == KVA_DTYPE_INT8 || fzm_unit_bytes(dtype) == 1) {
        memset(p, dtype == KVA_DTYPE_INT8 ? 0x80
                  : dtype == KVA_DTYPE_NVFP4 ? 0xFF : 0x7F, (size_t)units);
        return;
    }
    for (int64_t u = 0; u < units; u++)
        fzm_put_value(dtype, p, u, NAN);
}

/* The scales of the call for the final kind: what the kind reads comes
 * from the format section (after corruptions); what it does not read is
 * junk as f.junk says, which kvattn.h says is ignored:
 *   bit 0  unused tensor scales hold the junk value;
 *   bit 1  unused head arrays hold the junk value;
 *   bit 2  unused head arrays are NULL;
 *   bit 3  unused pools are NULL (else 1-byte buffers, never to be touched);
 *   bit 6  unused pool strides and pool_units are junk: (INT64_MIN, -1,
 *          2^40), or with bit 7 (INT64_MAX, INT64_MIN, INT64_MIN);
 *   bits 4-5 the junk value: NaN, 0, -1, +inf.
 * Head arrays hold exactly the cache's Hkv floats; TOKEN/GROUP pools
 * exactly pool_units units (poison: NaN floats, NaN e4m3 codes). */
static kva_kv_scales make_scales(const scen *x, bufs *b)
{
    const fzm_format *f = &x->f;
    const int kind = f->kind, j = f->junk;
    static const float junk_val[] = {NAN, 0.0f, -1.0f, INFINITY};
    const float jv = junk_val[(j >> 4) & 3];
    const int tensor = kind == KVA_SCALE_TENSOR || kind == KVA_SCALE_GROUP;
    const int head = kind == KVA_SCALE_HEAD;
    const int pools = kind == KVA_SCALE_TOKEN || kind == KVA_SCALE_GROUP;
    kva_kv_scales sc;
    memset(&sc, 0, sizeof sc);
    sc.kind = (kva_scale_kind)kind;
    sc.k_tensor = tensor || !(j & 1) ? f->k_tensor : jv;
    sc.v_tensor = tensor || !(j & 1) ? f->v_tensor : jv;
    b->n_heads = x->cHkv > 0 ? (size_t)x->cHkv : 0;
    b->kh = fz_alloc(b->n_heads, sizeof *b->kh);
    b->vh = fz_alloc(b->n_heads, sizeof *b->vh);
    for (size_t h = 0; h < b->n_heads; h++) {
        b->kh[h] = head || !(j & 2) ? f->k_head[h % FZM_MAX_HEADS] : jv;
        b->vh[h] = head || !(j & 2) ? f->v_head[h % FZM_MAX_HEADS] : jv;
    }
    const int heads_null = !head && (j & 4);
    sc.k_head = heads_null || (x->fnulls & FN_K_HEAD) ? NULL : b->kh;
    sc.v_head = heads_null || (x->fnulls & FN_V_HEAD) ? NULL : b->vh;
    const int64_t units = pools ? (x->spool_units > 0 ? x->spool_units : 0) : 1;
    b->spool_bytes = (size_t)units * (size_t)(pools ? fzm_scale_unit_bytes(kind)
                                                    : 1);
    b->spool_k = fz_alloc(b->spool_bytes, 1);
    b->spool_v = fz_alloc(b->spool_bytes, 1);
    if (kind == KVA_SCALE_TOKEN) {
        fill_poison(b->spool_k, units, KVA_DTYPE_F32);
        fill_poison(b->spool_v, units, KVA_DTYPE_F32);
    } else if (kind == KVA_SCALE_GROUP) {
        fill_poison(b->spool_k, units, KVA_DTYPE_FP8_E4M3);
        fill_poison(b->spool_v, units, KVA_DTYPE_FP8_E4M3);
    } else {
        fz_fill_pattern(b->spool_k, b->spool_bytes, 0x33);
        fz_fill_pattern(b->spool_v, b->spool_bytes, 0x44);
    }
    const int pools_null = !pools && (j & 8);
    sc.k_pool = pools_null || (x->fnulls & FN_K_POOL) ? NULL : b->spool_k;
    sc.v_pool = pools_null || (x->fnulls & FN_V_POOL) ? NULL : b->spool_v;
    const int junk_geom = !pools && (j & 64), big = j & 128;
    sc.pool_units = junk_geom ? -1 : x->spool_units;
    sc.stride_block = !junk_geom ? x->ssb : big ? INT64_MAX : INT64_MIN;
    sc.stride_slot = !junk_geom ? x->sss : big ? INT64_MIN : -1;
    sc.stride_head = !junk_geom ? x->ssh : big ? INT64_MIN : (int64_t)1 << 40;
    return sc;
}

/* Allocate the batch arrays (qsl, seq_lens, table, masks) from the final
 * description. */
static void alloc_batch(const scen *x, bufs *b, uint64_t *rng)
{
    const size_t S = x->S > 0 ? (size_t)x->S : 0;
    b->n_qsl = x->S >= 0 ? S + 1 : 0;
    b->n_seq = S;
    b->qsl = fz_dup(x->qsl, b->n_qsl, sizeof *b->qsl);
    b->seq_lens = fz_dup(x->seq_lens, b->n_seq, sizeof *b->seq_lens);
    b->n_table = (x->entry == E_PAGED && x->mb > 0) ? S * (size_t)x->mb : 0;
    b->table = fz_alloc(b->n_table, sizeof *b->table);
    for (size_t s = 0; s < S && x->mb > 0; s++)
        for (int c = 0; c < x->mb; c++)
            b->table[s * (size_t)x->mb + (size_t)c] = x->table[s][c];
    b->n_masks = S;
    b->masks = fz_alloc(S, sizeof *b->masks);
    b->mask_len = fz_alloc(S, sizeof *b->mask_len);
    for (size_t s = 0; s < S; s++) {
        b->masks[s] = NULL;
        b->mask_len[s] = 0;
        int64_t q = q_len_of(x, (int)s), kv = x->seq_lens[s];
        if (!x->mask_on[s] || q < 0 || kv < q || kv > 4096)
            continue;
        b->mask_len[s] = q * kv;
        b->masks[s] = fz_alloc((size_t)(q * kv), 1);
        for (int64_t i = 0; i < q * kv; i++)
            b->masks[s][i] = (fz_splitmix64(rng) & 255) < (uint64_t)x->mask_density;
    }
}

/* The unit offset of (block, slot, head) for a geometry the model
 * accepted (a count-1 dimension's stride is never used). */
static int64_t geo_off(int64_t nb, int64_t B, int64_t H, int64_t sb,
                       int64_t ss, int64_t sh, int64_t blk, int64_t slot,
                       int64_t h)
{
    return (nb > 1 ? blk * sb : 0) + (B > 1 ? slot * ss : 0) +
           (H > 1 ? h * sh : 0);
}

static int64_t row_off(const scen *x, int64_t blk, int64_t slot, int64_t h)
{
    return geo_off(x->num_blocks, x->B, x->cHkv, x->sb, x->ss, x->sh, blk,
                   slot, h);
}

/* The K (which 0) / V row of head h at unit offset off and its scale row
 * at soff, as pointers (srow NULL for kinds without pools). */
static uint8_t *pool_row(const scen *x, const bufs *b, int which, int64_t off)
{
    return (which ? b->pool_v : b->pool_k) +
           off * fzm_unit_bytes(x->f.dtype);
}

static uint8_t *scale_row(const scen *x, const bufs *b, int which,
                          int64_t soff)
{
    const int sub = fzm_scale_unit_bytes(x->f.kind);
    return sub ? (which ? b->spool_v : b->spool_k) + soff * sub : NULL;
}

#define MAX_ROW_D 64

/* A row a valid call reads: fresh values in K and V, stored as a correct
 * cache write stores them (codes and scale rows); remembered for the
 * moderate-input bound. */
static void fill_reach(const scen *x, bufs *b, const kva_kv_scales *sc,
                       int64_t off, int64_t soff, int h, uint64_t *rng)
{
    float vals[MAX_ROW_D];
    FZ_ASSERT(x->cD >= 1 && x->cD <= MAX_ROW_D, "head_dim %d", x->cD);
    for (int which = 0; which < 2; which++) {
        for (int d = 0; d < x->cD; d++)
            vals[d] = fz_small_float(rng, 2.0f);
        fzm_encode_row(x->f.dtype, sc, which, h, vals, x->cD,
                       pool_row(x, b, which, off), scale_row(x, b, which, soff));
    }
    b->reach[2 * b->n_reach] = off;
    b->reach[2 * b->n_reach + 1] = soff;
    b->reach_h[b->n_reach++] = h;
}

/* ---- attention checks ---- */

/* Do the real rows' positions and masks make sense (so the row checks can
 * index them)? Only asked after an accepted call. */
static void check_rows(const scen *x, const bufs *b, const float *out,
                       const float *lse, int moderate)
{
    const int Hq = x->p.num_q_heads, D = x->p.head_dim;
    for (int s = 0; s < x->S; s++) {
        int64_t q = x->qsl[s + 1] - x->qsl[s];
        int64_t kv = x->seq_lens[s], ctx = kv - q;
        for (int64_t i = 0; i < q; i++) {
            int64_t t = x->qsl[s] + i, pos = ctx + i;
            const uint8_t *mrow = b->masks && b->masks[s]
                                      ? b->masks[s] + i * kv : NULL;
            int any = 0;
            for (int64_t j = 0; j < kv && !any; j++)
                any = fzm_visible(&x->p, pos, j, mrow);
            for (int h = 0; h < Hq; h++) {
                const float *o = out + (t * Hq + h) * D;
                const float *l = lse ? lse + t * Hq + h : NULL;
                if (!any) {
                    for (int d = 0; d < D; d++)
                        FZ_ASSERT(o[d] == 0.0f, "sequence %d token %" PRId64
                                  " head %d: no visible key but out[%d] = %g",
                                  s, i, h, d, (double)o[d]);
                    FZ_ASSERT(!l || (isinf(*l) && *l < 0),
                              "sequence %d token %" PRId64 " head %d: no "
                              "visible key but lse = %g", s, i, h, (double)*l);
                    continue;
                }
                if (!moderate)
                    continue;
                for (int d = 0; d < D; d++)
                    FZ_ASSERT(isfinite(o[d]), "sequence %d token %" PRId64
                              " head %d: out[%d] = %g from finite moderate "
                              "inputs (a read outside the sequence's keys "
                              "hits NaN poison)", s, i, h, d, (double)o[d]);
                FZ_ASSERT(!l || isfinite(*l), "sequence %d token %" PRId64
                          " head %d: lse = %g from finite moderate inputs",
                          s, i, h, (double)*l);
            }
        }
    }
}

/* Largest |x| of a[0..n-1]; +inf when one is not finite. */
static double max_abs(const float *a, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(a[i]))
            return INFINITY;
        if (fabs((double)a[i]) > m)
            m = fabs((double)a[i]);
    }
    return m;
}

/* Largest |stored value| (decode(code) * scale) of K (which 0) or V over
 * the rows a valid call reads; +inf when one is not finite. */
static double max_stored(const scen *x, const bufs *b,
                         const kva_kv_scales *sc, int which)
{
    double m = 0;
    for (int64_t i = 0; i < b->n_reach; i++)
        for (int d = 0; d < x->cD; d++) {
            double a = fabs(fzm_stored(x->f.dtype, sc, which, b->reach_h[i],
                                       pool_row(x, b, which, b->reach[2 * i]),
                                       scale_row(x, b, which, b->reach[2 * i + 1]),
                                       d));
            if (!isfinite(a))
                return INFINITY;
            if (a > m)
                m = a;
        }
    return m;
}

/* ---- the entry points ---- */

/* Query tokens of the sequences (0 when query_start_loc is broken). */
static int64_t real_tokens(const scen *x)
{
    return x->S >= 0 && x->qsl[0] == 0 && x->qsl[x->S] >= 0 &&
           x->qsl[x->S] <= x->num_tokens ? x->qsl[x->S] : 0;
}

/* The blocked cache's format: pools are required when a sequence reads
 * the cache (as the model requires k and v), may be refused for any
 * num_seqs > 0 (kvattn.h: "only required when num_seqs > 0"). */
static void blocked_format_model(const scen *x, const kva_kv_scales *sc,
                                 fzm_verdict *v)
{
    int needs_kv = 0;
    for (int s = 0; s < x->S && x->qsl[0] == 0; s++)
        if (x->qsl[s + 1] > x->qsl[s] && x->seq_lens[s] > 0)
            needs_kv = 1;
    const int64_t count[3] = {x->bS, x->CL, x->cHkv};
    fzm_check_format(x->f.dtype, sc, x->cHkv, x->cD, count, needs_kv, v);
    if (!needs_kv && x->bS > 0) {
        fzm_verdict may;
        fzm_verdict_init(&may);
        fzm_check_format(x->f.dtype, sc, x->cHkv, x->cD, count, 1, &may);
        v->allowed |= may.allowed;
    }
}

static void attention_model(const scen *x, fzm_verdict *v,
                            const kva_paged_cache *pc,
                            const kva_kv_scales *sc)
{
    unsigned n = x->nulls;
    const kva_attn_params *p = &x->p;
    if (n & (1u << X_NULL_PARAMS))
        fzm_must(v, KVA_ERR_NULL, "params is NULL");
    if (n & (1u << X_NULL_CACHE))
        fzm_must(v, KVA_ERR_NULL, "cache is NULL");
    if (x->entry == E_PAGED && (n & (1u << X_NULL_BATCH)))
        fzm_must(v, KVA_ERR_NULL, "batch is NULL");
    if (p->num_q_heads < 1 || p->num_kv_heads < 1 || p->head_dim < 1 ||
        p->num_q_heads % p->num_kv_heads != 0)
        fzm_must(v, KVA_ERR_SHAPE, "heads %d/%d head_dim %d", p->num_q_heads,
                 p->num_kv_heads, p->head_dim);
    if (!isfinite(p->scale))
        fzm_must(v, KVA_ERR_PARAM, "scale %g", (double)p->scale);
    if (!isfinite(p->softcap) || !(p->softcap >= 0.0f))
        fzm_must(v, KVA_ERR_PARAM, "softcap %g", (double)p->softcap);
    if (p->window_left < -1)
        fzm_must(v, KVA_ERR_PARAM, "window_left %d", p->window_left);
    if (x->cHkv != p->num_kv_heads || x->cD != p->head_dim)
        fzm_must(v, KVA_ERR_SHAPE, "cache heads/head_dim %d/%d differ from "
                 "params %d/%d", x->cHkv, x->cD, p->num_kv_heads, p->head_dim);
    if (x->entry == E_PAGED && pc)
        fzm_check_cache(pc, v);
    if (x->entry == E_BLOCKED) {
        blocked_format_model(x, sc, v);
        if (x->CL < 1)
            fzm_must(v, KVA_ERR_SHAPE, "cache_len %d", x->CL);
        if (x->bS != x->S)
            fzm_must(v, KVA_ERR_SHAPE, "cache num_seqs %d != num_seqs %d",
                     x->bS, x->S);
        if (x->nkb < 1)
            fzm_must(v, KVA_ERR_SHAPE, "num_kv_blocks %d", x->nkb);
    }
    /* varlen */
    if (x->S < 0) {
        fzm_must(v, KVA_ERR_LENGTH, "num_seqs %d", x->S);
        return;
    }
    if (x->num_tokens < 0)
        fzm_must(v, KVA_ERR_LENGTH, "num_tokens %" PRId64, x->num_tokens);
    if (x->num_tokens > 0 && (n & ((1u << X_NULL_Q) | (1u << X_NULL_OUT))))
        fzm_must(v, KVA_ERR_NULL, "q/out NULL with %" PRId64 " tokens",
                 x->num_tokens);
    if (x->S > 0 && (n & ((1u << X_NULL_QSL) | (1u << X_NULL_SEQ_LENS)))) {
        fzm_must(v, KVA_ERR_NULL, "query_start_loc/seq_lens NULL");
        return;
    }
    if (!(n & (1u << X_NULL_QSL))) {
        if (x->qsl[0] != 0)
            fzm_must(v, KVA_ERR_LENGTH, "query_start_loc[0] = %" PRId64,
                     x->qsl[0]);
        for (int s = 0; s < x->S; s++)
            if (x->qsl[s + 1] < x->qsl[s]) {
                fzm_must(v, KVA_ERR_LENGTH, "query_start_loc decreases at %d",
                         s);
                return;
            }
        if (x->qsl[x->S] > x->num_tokens)
            fzm_must(v, KVA_ERR_LENGTH, "query_start_loc[S] %" PRId64
                     " > num_tokens %" PRId64, x->qsl[x->S], x->num_tokens);
    }
    if (x->qsl[0] != 0)
        return; /* q_len below would be meaningless */
    int needs_kv = 0;
    for (int s = 0; s < x->S; s++) {
        int64_t q = x->qsl[s + 1] - x->qsl[s], kv = x->seq_lens[s];
        if (kv < q) {
            fzm_must(v, KVA_ERR_LENGTH, "sequence %d: seq_len %" PRId64
                     " < q_len %" PRId64, s, kv, q);
            continue;
        }
        if (q > 0 && kv > 0)
            needs_kv = 1;
        if (x->entry == E_BLOCKED) {
            if (kv > x->CL)
                fzm_must(v, KVA_ERR_LENGTH, "sequence %d: seq_len %" PRId64
                         " > cache_len %d", s, kv, x->CL);
            continue;
        }
        if (x->B < 1)
            continue; /* cache already invalid */
        int64_t need = (kv + x->B - 1) / x->B;
        if (need > x->mb) {
            fzm_must(v, KVA_ERR_LENGTH, "sequence %d: needs %" PRId64
                     " blocks, max_blocks_per_seq %d", s, need, x->mb);
            continue;
        }
        if (q == 0 || kv == 0 || (n & (1u << X_NULL_TABLE)))
            continue;
        int64_t lo = 0;
        if (p->window_left >= 0) {
            lo = kv - q - p->window_left;
            if (lo < 0)
                lo = 0;
        }
        for (int64_t blk = lo / x->B; blk < need; blk++) {
            int id = x->table[s][blk];
            if (id < 0 || id >= x->num_blocks) {
                fzm_must(v, KVA_ERR_BLOCK, "sequence %d: block_table[%" PRId64
                         "] = %d is needed (valid [0, %" PRId64 "))", s, blk,
                         id, x->num_blocks);
                break;
            }
        }
    }
    if (needs_kv && x->entry == E_PAGED && (n & (1u << X_NULL_TABLE)))
        fzm_must(v, KVA_ERR_NULL, "block_table NULL");
    if (needs_kv && x->entry == E_BLOCKED &&
        (n & ((1u << X_NULL_CACHE_K) | (1u << X_NULL_CACHE_V))))
        fzm_must(v, KVA_ERR_NULL, "blocked cache k/v NULL");
}

static void run_attention(const scen *x, const kvc_kernel *k, uint64_t *rng)
{
    bufs b;
    memset(&b, 0, sizeof b);
    const kva_attn_params *p = &x->p;
    const unsigned n = x->nulls;
    const int64_t R = fzm_row_units(x->f.dtype, x->cD);
    /* cache */
    if (x->entry == E_PAGED) {
        alloc_pools(x, &b, x->pool_elems);
    } else {
        int64_t e = small_product(x->bS, x->cHkv, x->CL, R);
        if (x->bS < 0 || x->cHkv < 1 || x->CL < 1 || x->cD < 1)
            e = 0;
        alloc_pools(x, &b, e < 0 ? 0 : e);
    }
    fill_poison(b.pool_k, b.pool_n, x->f.dtype);
    fill_poison(b.pool_v, b.pool_n, x->f.dtype);
    const kva_kv_scales sc = make_scales(x, &b);
    /* q, out, lse */
    int64_t qe = small_product(x->num_tokens, p->num_q_heads, p->head_dim, 1);
    int64_t le = small_product(x->num_tokens, p->num_q_heads, 1, 1);
    int sizes_ok = qe >= 0 && le >= 0 && p->num_q_heads >= 1 && p->head_dim >= 1;
    b.q_n = b.out_n = sizes_ok ? qe : 0;
    b.lse_n = sizes_ok ? le : 0;
    b.q = alloc_floats(b.q_n);
    b.out = alloc_floats(b.out_n);
    b.lse = alloc_floats(b.lse_n);
    for (int64_t i = 0; i < b.q_n; i++)
        b.q[i] = fz_small_float(rng, 2.0f);
    fz_fill_pattern(b.out, (size_t)b.out_n * sizeof(float), 0xF1);
    fz_fill_pattern(b.lse, (size_t)b.lse_n * sizeof(float), 0xF2);
    alloc_batch(x, &b, rng);

    kva_paged_cache pc = {
        .k = n & (1u << X_NULL_CACHE_K) ? NULL : b.pool_k,
        .v = n & (1u << X_NULL_CACHE_V) ? NULL : b.pool_v,
        .pool_elems = x->pool_elems, .num_blocks = x->num_blocks,
        .block_size = x->B, .num_kv_heads = x->cHkv, .head_dim = x->cD,
        .stride_block = x->sb, .stride_slot = x->ss, .stride_head = x->sh,
        .dtype = (kva_dtype)x->f.dtype, .scales = sc};
    fzm_verdict v;
    fzm_verdict_init(&v);
    v.codes_known = x->exact;
    attention_model(x, &v, &pc, &sc);
    if ((!sizes_ok && !v.must_refuse) || probe) {
        if (probe && (sizes_ok || v.must_refuse))
            *probe = (fzc_probe){v, real_tokens(x)};
        bufs_free(&b);
        return; /* a description the harness cannot allocate: skip */
    }

    /* rows a valid call reads: finite codes; everything else poison */
    if (!v.must_refuse) {
        int64_t rows = 0;
        for (int s = 0; s < x->S; s++)
            rows += x->seq_lens[s];
        rows *= x->cHkv;
        b.reach = fz_alloc((size_t)rows, 2 * sizeof *b.reach);
        b.reach_h = fz_alloc((size_t)rows, sizeof *b.reach_h);
        const int pools = fzm_scale_unit_bytes(x->f.kind) != 0;
        for (int s = 0; s < x->S; s++) {
            if (q_len_of(x, s) <= 0)
                continue; /* no query reads it (and a blocked batch without
                             one may pass any scale pools) */
            for (int64_t j = 0; j < x->seq_lens[s]; j++) {
                for (int h = 0; h < x->cHkv; h++) {
                    int64_t off, soff;
                    if (x->entry == E_PAGED) {
                        int id = x->table[s][j / x->B];
                        if (id < 0 || id >= x->num_blocks)
                            continue;
                        off = row_off(x, id, j % x->B, h);
                        soff = !pools ? 0
                               : geo_off(x->num_blocks, x->B, x->cHkv,
                                         sc.stride_block, sc.stride_slot,
                                         sc.stride_head, id, j % x->B, h);
                    } else {
                        off = (((int64_t)s * x->cHkv + h) * x->CL + j) * R;
                        soff = !pools ? 0
                               : geo_off(x->bS, x->CL, x->cHkv,
                                         sc.stride_block, sc.stride_slot,
                                         sc.stride_head, s, j, h);
                    }
                    fill_reach(x, &b, &sc, off, soff, h, rng);
                }
            }
        }
    }
    const int64_t sunits = fzm_scale_unit_bytes(x->f.kind) && x->spool_units > 0
                               ? x->spool_units : 0;
    for (int i = 0; i < x->n_inject; i++) {
        const int t = x->inject_target[i];
        const uint32_t pos = x->inject_pos[i];
        const float val = x->inject_val[i];
        if (t == 0 && b.q_n > 0)
            b.q[pos % (uint64_t)b.q_n] = val;
        else if ((t == 1 || t == 2) && b.pool_n > 0)
            fzm_put_value(x->f.dtype, t == 1 ? b.pool_k : b.pool_v,
                          (int64_t)(pos % (uint64_t)b.pool_n), val);
        else if ((t == 3 || t == 4) && sunits > 0)
            fzm_put_value(x->f.kind == KVA_SCALE_TOKEN ? KVA_DTYPE_F32
                                                       : KVA_DTYPE_FP8_E4M3,
                          t == 3 ? b.spool_k : b.spool_v,
                          (int64_t)(pos % (uint64_t)sunits), val);
    }
    int64_t real = real_tokens(x);
    double mq = sizes_ok ? max_abs(b.q, real * p->num_q_heads * p->head_dim)
                         : INFINITY;
    double mk = v.must_refuse ? INFINITY : max_stored(x, &b, &sc, 0);
    double mv = v.must_refuse ? INFINITY : max_stored(x, &b, &sc, 1);
    double dot = (double)(p->head_dim > 0 ? p->head_dim : 1) * mq * mk;
    int moderate = dot < MODERATE && fabs((double)p->scale) * dot < MODERATE &&
                   mv < MODERATE;

    /* snapshots */
    uint8_t *pk0 = fz_dup(b.pool_k, b.pool_bytes, 1);
    uint8_t *pv0 = fz_dup(b.pool_v, b.pool_bytes, 1);
    uint8_t *sk0 = fz_dup(b.spool_k, b.spool_bytes, 1);
    uint8_t *sv0 = fz_dup(b.spool_v, b.spool_bytes, 1);
    float *kh0 = fz_dup(b.kh, b.n_heads, sizeof(float));
    float *vh0 = fz_dup(b.vh, b.n_heads, sizeof(float));
    float *q0 = fz_dup(b.q, (size_t)b.q_n, sizeof(float));
    float *out0 = fz_dup(b.out, (size_t)b.out_n, sizeof(float));
    float *lse0 = fz_dup(b.lse, (size_t)b.lse_n, sizeof(float));
    int *tab0 = fz_dup(b.table, b.n_table, sizeof(int));
    int64_t *qsl0 = fz_dup(b.qsl, b.n_qsl, sizeof(int64_t));
    int *sl0 = fz_dup(b.seq_lens, b.n_seq, sizeof(int));

    kva_error err;
    memset(&err, 0x5A, sizeof err);
    kva_error *errp = x->err_on ? &err : NULL;
    float *lse = x->lse_on ? b.lse : NULL;
    const float *q = n & (1u << X_NULL_Q) ? NULL : b.q;
    float *out = n & (1u << X_NULL_OUT) ? NULL : b.out;
    const int64_t *qsl = n & (1u << X_NULL_QSL) ? NULL : b.qsl;
    const int *sl = n & (1u << X_NULL_SEQ_LENS) ? NULL : b.seq_lens;
    const uint8_t *const *masks = x->masks_on ? (const uint8_t *const *)b.masks
                                              : NULL;
    kva_status st;
    const char *what;
    if (x->entry == E_PAGED) {
        what = "kva_paged_attention";
        kva_paged_batch pb = {x->S, qsl, sl,
                              n & (1u << X_NULL_TABLE) ? NULL : b.table,
                              x->mb, masks};
        st = k->paged_attention(n & (1u << X_NULL_PARAMS) ? NULL : p,
                                n & (1u << X_NULL_CACHE) ? NULL : &pc,
                                n & (1u << X_NULL_BATCH) ? NULL : &pb, q,
                                x->num_tokens, out, lse, errp);
    } else {
        what = "kva_blocked_attention";
        kva_blocked_cache bc = {.k = pc.k, .v = pc.v, .num_seqs = x->bS,
                                .num_kv_heads = x->cHkv, .cache_len = x->CL,
                                .head_dim = x->cD, .dtype = pc.dtype,
                                .scales = sc};
        st = k->blocked_attention(n & (1u << X_NULL_PARAMS) ? NULL : p,
                                  n & (1u << X_NULL_CACHE) ? NULL : &bc,
                                  x->nkb, x->S, qsl, sl, masks, q,
                                  x->num_tokens, out, lse, errp);
    }
    int refused = fzm_check_status(what, st, errp, &v);

    FZ_ASSERT(memcmp(b.pool_k, pk0, b.pool_bytes) == 0 &&
              memcmp(b.pool_v, pv0, b.pool_bytes) == 0,
              "%s (%s) modified the K/V cache", what, kva_status_name(st));
    FZ_ASSERT(memcmp(b.spool_k, sk0, b.spool_bytes) == 0 &&
              memcmp(b.spool_v, sv0, b.spool_bytes) == 0,
              "%s (%s) modified a scale pool", what, kva_status_name(st));
    FZ_ASSERT(memcmp(b.q, q0, (size_t)b.q_n * sizeof(float)) == 0 &&
              memcmp(b.table, tab0, b.n_table * sizeof(int)) == 0 &&
              memcmp(b.qsl, qsl0, b.n_qsl * sizeof(int64_t)) == 0 &&
              memcmp(b.seq_lens, sl0, b.n_seq * sizeof(int)) == 0 &&
              memcmp(b.kh, kh0, b.n_heads * sizeof(float)) == 0 &&
              memcmp(b.vh, vh0, b.n_heads * sizeof(float)) == 0,
              "%s modified a const input", what);
    if (refused) {
        FZ_ASSERT(memcmp(b.out, out0, (size_t)b.out_n * sizeof(float)) == 0 &&
                  memcmp(b.lse, lse0, (size_t)b.lse_n * sizeof(float)) == 0,
                  "%s refused (%s: %s) but wrote out/lse", what,
                  kva_status_name(st), errp ? errp->msg : "");
    } else {
        /* accepted: the model saw a well-formed batch */
        int64_t Hq = p->num_q_heads, D = p->head_dim;
        FZ_ASSERT(memcmp(b.out + real * Hq * D, out0 + real * Hq * D,
                         (size_t)((b.out_n - real * Hq * D)) * sizeof(float)) == 0,
                  "%s wrote an output row of a padding token", what);
        FZ_ASSERT(!lse || memcmp(b.lse + real * Hq, lse0 + real * Hq,
                                 (size_t)(b.lse_n - real * Hq) * sizeof(float)) == 0,
                  "%s wrote the lse of a padding token", what);
        if (x->S > 0)
            check_rows(x, &b, b.out, lse, moderate);
    }
    free(pk0);
    free(pv0);
    free(sk0);
    free(sv0);
    free(kh0);
    free(vh0);
    free(q0);
    free(out0);
    free(lse0);
    free(tab0);
    free(qsl0);
    free(sl0);
    bufs_free(&b);
}

/* The first byte where two buffers differ, or -1. */
static int64_t first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return (int64_t)i;
    return -1;
}

static void run_cache_write(const scen *x, const kvc_kernel *k, uint64_t *rng)
{
    bufs b;
    memset(&b, 0, sizeof b);
    const unsigned n = x->nulls;
    alloc_pools(x, &b, x->pool_elems);
    fz_fill_pattern(b.pool_k, b.pool_bytes, 0x11);
    fz_fill_pattern(b.pool_v, b.pool_bytes, 0x22);
    const kva_kv_scales sc = make_scales(x, &b);
    int64_t se = small_product(x->nt, x->cHkv, x->cD, 1);
    int sizes_ok = se >= 0;
    b.src_n = sizes_ok ? se : 0;
    b.src_k = alloc_floats(b.src_n);
    b.src_v = alloc_floats(b.src_n);
    for (int64_t i = 0; i < b.src_n; i++) {
        b.src_k[i] = fz_small_float(rng, 8.0f);
        b.src_v[i] = fz_small_float(rng, 8.0f);
    }
    for (int i = 0; i < x->n_inject; i++)
        if (b.src_n > 0)
            (x->inject_target[i] % 2 == 0 ? b.src_v : b.src_k)
                [x->inject_pos[i] % (uint64_t)b.src_n] = x->inject_val[i];
    const size_t nt = x->nt > 0 ? (size_t)x->nt : 0;
    b.slots = fz_dup(x->slots, nt, sizeof *b.slots);

    kva_paged_cache pc = {
        .k = n & (1u << X_NULL_CACHE_K) ? NULL : b.pool_k,
        .v = n & (1u << X_NULL_CACHE_V) ? NULL : b.pool_v,
        .pool_elems = x->pool_elems, .num_blocks = x->num_blocks,
        .block_size = x->B, .num_kv_heads = x->cHkv, .head_dim = x->cD,
        .stride_block = x->sb, .stride_slot = x->ss, .stride_head = x->sh,
        .dtype = (kva_dtype)x->f.dtype, .scales = sc};
    const float *sk = n & (1u << X_NULL_SRC_K) ? NULL : b.src_k;
    const float *sv = n & (1u << X_NULL_SRC_V) ? NULL : b.src_v;
    const int64_t *sm = n & (1u << X_NULL_SLOTS) ? NULL : b.slots;

    fzm_verdict v;
    fzm_verdict_init(&v);
    v.codes_known = x->exact;
    if (n & (1u << X_NULL_CACHE))
        fzm_must(&v, KVA_ERR_NULL, "cache is NULL");
    if (x->nt < 0)
        fzm_must(&v, KVA_ERR_LENGTH, "num_tokens %" PRId64, x->nt);
    if (x->nt > 0 && (!sk || !sv || !sm))
        fzm_must(&v, KVA_ERR_NULL, "k/v/slot_mapping NULL");
    fzm_check_cache(&pc, &v);
    int64_t ns = -1;
    if (x->num_blocks > 0 && x->B > 0 && x->num_blocks <= INT64_MAX / x->B)
        ns = x->num_blocks * x->B;
    for (size_t t = 0; t < nt; t++) {
        if (x->slots[t] < -1 || (ns >= 0 && x->slots[t] >= ns))
            fzm_must(&v, KVA_ERR_SLOT, "token %zu: slot %" PRId64
                     " out of range [0, %" PRId64 ")", t, x->slots[t], ns);
        for (size_t u = 0; u < t; u++)
            if (x->slots[t] >= 0 && x->slots[t] == x->slots[u])
                fzm_must(&v, KVA_ERR_SLOT, "tokens %zu and %zu both write "
                         "slot %" PRId64, u, t, x->slots[t]);
    }
    if ((!sizes_ok && !v.must_refuse) || probe) {
        if (probe && (sizes_ok || v.must_refuse)) {
            int64_t named = 0;
            for (size_t t = 0; t < nt; t++)
                named += x->slots[t] >= 0;
            *probe = (fzc_probe){v, named};
        }
        bufs_free(&b);
        return;
    }

    uint8_t *pk0 = fz_dup(b.pool_k, b.pool_bytes, 1);
    uint8_t *pv0 = fz_dup(b.pool_v, b.pool_bytes, 1);
    uint8_t *spk0 = fz_dup(b.spool_k, b.spool_bytes, 1);
    uint8_t *spv0 = fz_dup(b.spool_v, b.spool_bytes, 1);
    float *kh0 = fz_dup(b.kh, b.n_heads, sizeof(float));
    float *vh0 = fz_dup(b.vh, b.n_heads, sizeof(float));
    float *sk0 = fz_dup(b.src_k, (size_t)b.src_n, sizeof(float));
    float *sv0 = fz_dup(b.src_v, (size_t)b.src_n, sizeof(float));
    int64_t *sm0 = fz_dup(b.slots, nt, sizeof *b.slots);
    kva_error err;
    memset(&err, 0x5A, sizeof err);
    kva_error *errp = x->err_on ? &err : NULL;
    kva_status st = k->cache_write(n & (1u << X_NULL_CACHE) ? NULL : &pc, sk,
                                   sv, sm, x->nt, errp);
    int refused = fzm_check_status("kva_cache_write", st, errp, &v);
    FZ_ASSERT(memcmp(b.src_k, sk0, (size_t)b.src_n * sizeof(float)) == 0 &&
              memcmp(b.src_v, sv0, (size_t)b.src_n * sizeof(float)) == 0 &&
              memcmp(b.slots, sm0, nt * sizeof *b.slots) == 0 &&
              memcmp(b.kh, kh0, b.n_heads * sizeof(float)) == 0 &&
              memcmp(b.vh, vh0, b.n_heads * sizeof(float)) == 0,
              "kva_cache_write modified a const input");
    if (!refused) {
        /* the model accepted the description: write the named rows into
         * the old pools with the reference encoder, then every byte of
         * the K/V and scale pools must match */
        const int64_t HD = (int64_t)x->cHkv * x->cD;
        const int ub = fzm_unit_bytes(x->f.dtype);
        const int sub = fzm_scale_unit_bytes(x->f.kind);
        for (size_t t = 0; t < nt; t++) {
            int64_t s = x->slots[t];
            if (s < 0)
                continue;
            for (int h = 0; h < x->cHkv; h++) {
                int64_t off = row_off(x, s / x->B, s % x->B, h);
                int64_t soff = !sub ? 0
                               : geo_off(x->num_blocks, x->B, x->cHkv,
                                         sc.stride_block, sc.stride_slot,
                                         sc.stride_head, s / x->B, s % x->B, h);
                const int64_t src = (int64_t)t * HD + (int64_t)h * x->cD;
                fzm_encode_row(x->f.dtype, &sc, 0, h, b.src_k + src, x->cD,
                               pk0 + off * ub, sub ? spk0 + soff * sub : NULL);
                fzm_encode_row(x->f.dtype, &sc, 1, h, b.src_v + src, x->cD,
                               pv0 + off * ub, sub ? spv0 + soff * sub : NULL);
            }
        }
    }
    const char *how = refused ? "changed (a write despite the refusal)"
                              : "not what the named writes give (a slot it "
                                "did not name, or a wrong code)";
    const char *msg = refused && errp ? errp->msg : "";
    int64_t i;
    FZ_ASSERT((i = first_diff(b.pool_k, pk0, b.pool_bytes)) < 0,
              "kva_cache_write (%s %s): K pool byte %" PRId64 " (unit %" PRId64
              ") is %s: 0x%02x, want 0x%02x", kva_status_name(st), msg, i,
              i / fzm_unit_bytes(x->f.dtype), how, b.pool_k[i], pk0[i]);
    FZ_ASSERT((i = first_diff(b.pool_v, pv0, b.pool_bytes)) < 0,
              "kva_cache_write (%s %s): V pool byte %" PRId64 " (unit %" PRId64
              ") is %s: 0x%02x, want 0x%02x", kva_status_name(st), msg, i,
              i / fzm_unit_bytes(x->f.dtype), how, b.pool_v[i], pv0[i]);
    FZ_ASSERT((i = first_diff(b.spool_k, spk0, b.spool_bytes)) < 0,
              "kva_cache_write (%s %s): K scale pool byte %" PRId64 " is %s: "
              "0x%02x, want 0x%02x", kva_status_name(st), msg, i, how,
              b.spool_k[i], spk0[i]);
    FZ_ASSERT((i = first_diff(b.spool_v, spv0, b.spool_bytes)) < 0,
              "kva_cache_write (%s %s): V scale pool byte %" PRId64 " is %s: "
              "0x%02x, want 0x%02x", kva_status_name(st), msg, i, how,
              b.spool_v[i], spv0[i]);
    free(pk0);
    free(pv0);
    free(spk0);
    free(spv0);
    free(kh0);
    free(vh0);
    free(sk0);
    free(sv0);
    free(sm0);
    bufs_free(&b);
}

/* ---- the harness ---- */

static void one_input(const uint8_t *data, size_t size)
{
    fz_io io;
    fz_reader_init(&io, data, size);
    scen x;
    memset(&x, 0, sizeof x);
    x.entry = fz_get_int(&io, 0, E_COUNT - 1);
#ifdef FUZZ_CONTRACT_ENTRY
    /* a build aimed at one entry point (the planted-kernel proofs): the
     * entry byte is read and ignored */
    x.entry = FUZZ_CONTRACT_ENTRY;
#endif
    if (probe && (x.entry == E_QEFF || x.entry == E_OBSERVE ||
                  x.entry == E_SCALE))
        return;
    if (x.entry == E_QEFF) {
        fzq_input in;
        fzq_io(&io, &in);
        fzq_run(&in, KERNEL_UNDER_TEST);
        return;
    }
    if (x.entry == E_OBSERVE) {
        fzo_input in;
        fzo_io(&io, &in);
        fzo_run(&in);
        return;
    }
    if (x.entry == E_SCALE) {
        fzs_input in;
        fzs_io(&io, &in);
        fzs_run(&in);
        return;
    }
    /* corruptions: 0 (25%), 1 (37%), 2 (25%), 3 (13%) */
    int c = fz_get_int(&io, 0, 255);
    int ncorr = c < 64 ? 0 : c < 160 ? 1 : c < 224 ? 2 : 3;
    int kinds[3];
    x.exact = 1; /* until a corruption other than a format one, or a raw
                    stride layout */
    for (int i = 0; i < ncorr; i++) {
        kinds[i] = fz_get_int(&io, 0, X_COUNT - 1);
        if (!FZC_IS_FORMAT(kinds[i]))
            x.exact = 0;
    }

    fzm_format_io(&io, &x.f);
#ifdef FUZZ_CONTRACT_F32
    fzm_format_default(&x.f, KVA_DTYPE_F32, KVA_SCALE_NONE);
#endif
    draw_params(&io, &x);
    if (x.entry == E_BLOCKED) {
        draw_batch(&io, &x, 0);
        int mx = 1;
        for (int s = 0; s < x.S; s++)
            if (x.seq_lens[s] > mx)
                mx = x.seq_lens[s];
        x.bS = x.S;
        x.CL = mx + fz_get_int(&io, 0, 4);
        x.nkb = fz_get_int(&io, 1, x.CL + 3);
        draw_scale_pools(&io, &x, x.bS, x.CL, x.cHkv);
    } else {
        draw_paged_cache(&io, &x);
        draw_scale_pools(&io, &x, (int)x.num_blocks, x.B, x.cHkv);
        if (x.entry == E_PAGED)
            draw_batch(&io, &x, 1);
        else
            draw_writes(&io, &x);
    }
    x.lse_on = !fz_get_chance(&io, 32);
    x.err_on = !fz_get_chance(&io, 16);
    for (int i = 0; i < ncorr; i++)
        corrupt(&io, &x, kinds[i]);
    x.seed = fz_get_u64(&io, 0, UINT32_MAX);
    x.n_inject = fz_get_chance(&io, 40) ? fz_get_int(&io, 1, 3) : 0;
    for (int i = 0; i < x.n_inject; i++) {
        x.inject_target[i] = fz_get_int(&io, 0, 4);
        x.inject_pos[i] = (uint32_t)fz_get_u64(&io, 0, UINT32_MAX);
        x.inject_val[i] = fz_get_float(&io);
    }

    uint64_t rng = x.seed;
    if (x.entry == E_WRITE)
        run_cache_write(&x, KERNEL_UNDER_TEST, &rng);
    else
        run_attention(&x, KERNEL_UNDER_TEST, &rng);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one_input(data, size);
    return 0;
}

int fzc_probe_input(const uint8_t *data, size_t size, fzc_probe *out)
{
    fzc_probe r;
    memset(&r, 0, sizeof r);
    r.tokens = -1; /* stays -1 when the input is skipped */
    probe = &r;
    one_input(data, size);
    probe = NULL;
    *out = r;
    return r.tokens >= 0;
}
