/*
 * attention_core.c — the one online-softmax routine of libkvattn: attend a
 * single (token, query head) row over the tiles that hold its visible keys,
 * and the loop that runs it for every real row of a batch. Paged and
 * blocked attention differ only in how they describe tiles (kva_kv_tiles),
 * so the arithmetic exists once.
 *
 * Per row, fp32 throughout:
 *   m = running max (starts at -inf), l = running sum of exp(x - m),
 *   acc = running sum of exp(x - m) * v.
 * For each tile: scores of its visible keys and the tile max; when the tile
 * max exceeds m, l and acc are rescaled by exp(m_old - m_new); then the
 * tile's exp(x - m) * v are accumulated. Finally out = acc / l and
 * lse = m + log(l). A tile with no visible key is skipped before any exp,
 * so exp(-inf - -inf) = NaN never happens; a row with no visible key ends
 * with l == 0 and gets out = 0, lse = -inf.
 *
 * Reduced-precision caches (kvattn.h, docs/kv-formats.md): an F32 row is
 * read in place; any other K or V row is first decoded into a D-float
 * scratch row, element value decode(code) for F16/BF16 and
 * fp32(decode(code) * s) (one binary32 multiply) for the scaled formats,
 * s being the head's static scale, the position's token scale or the
 * group's nvfp4 effective scale. The dot product and the accumulation then
 * run exactly as for F32. Only rows that are read today are decoded:
 * masked keys and keys outside [lo, hi) are never touched, K or V.
 */
#include "kva_format.h"
#include "kva_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Dot product in 8 independent lanes: a plain `s += a[d]*b[d]` is a serial
 * dependency chain the compiler may not reassociate (no fast-math), while
 * eight lanes map onto SIMD adds. The summation order is fixed by the
 * source, so results do not depend on the vector width the compiler
 * picks. */
static float dot(const float *restrict a, const float *restrict b, int n)
{
    float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int d = 0;
    for (; d + 8 <= n; d += 8)
        for (int u = 0; u < 8; u++)
            lane[u] += a[d + u] * b[d + u];
    float tail = 0.0f;
    for (; d < n; d++)
        tail += a[d] * b[d];
    return ((lane[0] + lane[4]) + (lane[1] + lane[5])) +
           ((lane[2] + lane[6]) + (lane[3] + lane[7])) + tail;
}

/* acc += w * x. Written in blocks of 8 like dot(): at -O2 GCC only
 * vectorizes loops it needs no epilogue for, but it always turns a
 * fixed-size block into SIMD (the tail stays scalar). Element-wise, so the
 * result is the same whichever way it is compiled. */
static void axpy(float *restrict acc, float w, const float *restrict x, int n)
{
    int d = 0;
    for (; d + 8 <= n; d += 8)
        for (int u = 0; u < 8; u++)
            acc[d + u] += w * x[d + u];
    for (; d < n; d++)
        acc[d] += w * x[d];
}

/* acc *= w, blocked for the same reason. */
static void scale_vec(float *restrict acc, float w, int n)
{
    int d = 0;
    for (; d + 8 <= n; d += 8)
        for (int u = 0; u < 8; u++)
            acc[d + u] *= w;
    for (; d < n; d++)
        acc[d] *= w;
}

/* What every row of a call shares. */
typedef struct row_ctx {
    int head_dim;
    float scale;
    float softcap;
    float *scores; /* scratch: one tile's scores */
    float *acc;    /* scratch: [head_dim] running P.V */
    float *row;    /* scratch: [head_dim] one decoded K or V row (not F32) */
    const float *lut; /* decoded value of each 8-bit code (FP8, INT8) or of
                         each e2m1 nibble (NVFP4, 16 entries); NULL else */
} row_ctx;

/* The value table of the call's dtype: the exact decode of every code, so
 * lut[c] * s is the contract's fp32(decode(code) * s). Returns the number
 * of entries (0 for a dtype decoded element by element). */
static int build_lut(kva_dtype dtype, float lut[256])
{
    switch (dtype) {
    case KVA_DTYPE_FP8_E4M3:
        for (int c = 0; c < 256; c++)
            lut[c] = kva_e4m3_decode((uint8_t)c);
        return 256;
    case KVA_DTYPE_FP8_E5M2:
        for (int c = 0; c < 256; c++)
            lut[c] = kva_e5m2_decode((uint8_t)c);
        return 256;
    case KVA_DTYPE_INT8:
        for (int c = 0; c < 256; c++)
            lut[c] = (float)(int8_t)(uint8_t)c;
        return 256;
    case KVA_DTYPE_NVFP4:
        for (int c = 0; c < 16; c++)
            lut[c] = kva_e2m1_decode((uint8_t)c);
        return 16;
    default:
        return 0;
    }
}

/*
 * The D values of one K (is_v = 0) or V (is_v = 1) row of a reduced-
 * precision cache (not F32), decoded into rc->row: the row starts at unit
 * `off` of the tile base, its scales at unit `soff` of the scale-pool base
 * (TOKEN, GROUP only). Returns rc->row.
 */
static const float *decode_row(const row_ctx *rc, const kva_kv_tiles *kv,
                               int is_v, int64_t off, int64_t soff)
{
    const void *base = is_v ? kv->v : kv->k;
    const int D = rc->head_dim;
    float *restrict dst = rc->row;
    const void *sbase = is_v ? kv->v_scales : kv->k_scales;
    float s = is_v ? kv->v_scale : kv->k_scale;
    if (kv->kind == KVA_SCALE_TOKEN)
        s = ((const float *)sbase)[soff];

    switch (kv->dtype) {
    case KVA_DTYPE_F16: {
        const uint16_t *src = (const uint16_t *)base + off;
        for (int d = 0; d < D; d++)
            dst[d] = kva_f16_decode(src[d]);
        break;
    }
    case KVA_DTYPE_BF16: {
        const uint16_t *src = (const uint16_t *)base + off;
        for (int d = 0; d < D; d++)
            dst[d] = kva_bf16_decode(src[d]);
        break;
    }
    case KVA_DTYPE_FP8_E4M3:
    case KVA_DTYPE_FP8_E5M2:
    case KVA_DTYPE_INT8: {
        const uint8_t *src = (const uint8_t *)base + off;
        const float *restrict lut = rc->lut;
        for (int d = 0; d < D; d++)
            dst[d] = lut[src[d]] * s;
        break;
    }
    case KVA_DTYPE_NVFP4: {
        const uint8_t *src = (const uint8_t *)base + off;
        const uint8_t *codes = (const uint8_t *)sbase + soff;
        const float *restrict lut = rc->lut;
        for (int g = 0; g < D / 16; g++) {
            /* s is the global scale here */
            const float es = kva_nvfp4_effective_scale(codes[g], s);
            for (int i = 0; i < 8; i++) {
                const uint8_t byte = src[g * 8 + i];
                dst[g * 16 + 2 * i] = lut[byte & 0x0Fu] * es;
                dst[g * 16 + 2 * i + 1] = lut[byte >> 4] * es;
            }
        }
        break;
    }
    default: /* F32 is read in place (row_at); validated dtypes only */
        break;
    }
    return dst;
}

/* One K or V row: an F32 row in place, as before formats existed (no copy,
 * the same loads), any other dtype decoded. */
static inline const float *row_at(const row_ctx *rc, const kva_kv_tiles *kv,
                                  int f32, int is_v, int64_t off,
                                  int64_t soff)
{
    if (f32)
        return (const float *)(is_v ? kv->v : kv->k) + off;
    return decode_row(rc, kv, is_v, off, soff);
}

/*
 * One row: keys j in [lo, hi) that the mask (NULL = all) leaves visible.
 * Only the tiles overlapping [lo, hi) are touched: tiles outside the causal
 * or sliding-window range are never read, nor are their tile ids (a freed
 * block of a sliding window may hold -1). q and out are not restrict: a
 * caller may attend in place (out == q); out is written only at the end.
 * f32 is a constant at both call sites (attend_row_f32, attend_row_dec):
 * the F32 copy is the loop of before formats existed, with no scale-pool
 * bookkeeping.
 */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void attend_row(const row_ctx *rc, const kva_kv_tiles *kv,
                              const int f32, const float *q, int64_t lo,
                              int64_t hi, const uint8_t *mask, float *out,
                              float *lse)
{
    const int D = rc->head_dim;
    const float softcap = rc->softcap;
    float *restrict acc = rc->acc;
    float *restrict sc = rc->scores;
    float m = -INFINITY, l = 0.0f;

    memset(acc, 0, (size_t)D * sizeof *acc);
    if (lo < hi) {
        const int64_t T = kv->tile_len, ps = kv->pos_stride;
        const int pooled = !f32 && (kv->kind == KVA_SCALE_TOKEN ||
                                    kv->kind == KVA_SCALE_GROUP);
        const int64_t sps = pooled ? kv->scale_pos_stride : 0;
        for (int64_t b = lo / T; b <= (hi - 1) / T; b++) {
            const int64_t start = b * T;
            const int64_t j0 = lo > start ? lo : start;
            const int64_t j1 = hi < start + T ? hi : start + T;
            const int64_t id = kv->tile_ids ? kv->tile_ids[b] : b;
            const int64_t base = id * kv->tile_stride + (j0 - start) * ps;
            const int64_t sbase =
                pooled ? id * kv->scale_tile_stride + (j0 - start) * sps : 0;
            const int64_t n = j1 - j0;

            /* Scores; an invisible key is marked -inf (exp(-inf - m) = 0,
             * and the second pass skips it without reading its V). */
            float tmax = -INFINITY;
            int64_t live = 0;
            for (int64_t i = 0; i < n; i++) {
                if (mask != NULL && mask[j0 + i] == 0) {
                    sc[i] = -INFINITY;
                    continue;
                }
                const float *kr =
                    row_at(rc, kv, f32, 0, base + i * ps, sbase + i * sps);
                float x = rc->scale * dot(q, kr, D);
                if (softcap > 0.0f)
                    x = softcap * tanhf(x / softcap);
                sc[i] = x;
                if (x > tmax)
                    tmax = x;
                /* NaN counts as live so that garbage in shows as NaN out
                 * rather than vanishing with a skipped tile. */
                live += (x != -INFINITY);
            }
            if (live == 0)
                continue; /* nothing visible here: no exp at all */

            if (tmax > m) {
                /* m == -inf means nothing has been accumulated yet: l and
                 * acc are zero and need no rescale. */
                if (m > -INFINITY) {
                    const float alpha = expf(m - tmax);
                    l *= alpha;
                    scale_vec(acc, alpha, D);
                }
                m = tmax;
            }

            for (int64_t i = 0; i < n; i++) {
                const float x = sc[i];
                if (x == -INFINITY)
                    continue;
                const float w = expf(x - m);
                l += w;
                axpy(acc, w,
                     row_at(rc, kv, f32, 1, base + i * ps, sbase + i * sps),
                     D);
            }
        }
    }

    if (l == 0.0f) {
        /* No visible key (or only keys of score -inf): the contract's
         * empty row, never NaN. */
        memset(out, 0, (size_t)D * sizeof *out);
        if (lse != NULL)
            *lse = -INFINITY;
        return;
    }
    for (int d = 0; d < D; d++)
        out[d] = acc[d] / l;
    if (lse != NULL)
        *lse = m + logf(l);
}

static void attend_row_f32(const row_ctx *rc, const kva_kv_tiles *kv,
                           const float *q, int64_t lo, int64_t hi,
                           const uint8_t *mask, float *out, float *lse)
{
    attend_row(rc, kv, 1, q, lo, hi, mask, out, lse);
}

static void attend_row_dec(const row_ctx *rc, const kva_kv_tiles *kv,
                           const float *q, int64_t lo, int64_t hi,
                           const uint8_t *mask, float *out, float *lse)
{
    attend_row(rc, kv, 0, q, lo, hi, mask, out, lse);
}

void kva_tiles_set_scales(kva_kv_tiles *t, const kva_kv_scales *sc,
                          int kv_head, int64_t pool_row, int64_t tile_stride)
{
    t->kind = sc->kind;
    t->k_scale = t->v_scale = 1.0f;
    t->k_scales = t->v_scales = NULL;
    t->scale_tile_stride = t->scale_pos_stride = 0;
    switch (sc->kind) {
    case KVA_SCALE_TENSOR:
        t->k_scale = sc->k_tensor;
        t->v_scale = sc->v_tensor;
        break;
    case KVA_SCALE_HEAD:
        t->k_scale = sc->k_head[kv_head];
        t->v_scale = sc->v_head[kv_head];
        break;
    case KVA_SCALE_TOKEN:
    case KVA_SCALE_GROUP: {
        const int64_t soff = pool_row * kva_scale_unit_bytes(sc->kind);
        t->k_scale = sc->k_tensor; /* GROUP: the global scales */
        t->v_scale = sc->v_tensor;
        t->k_scales = (const char *)sc->k_pool + soff;
        t->v_scales = (const char *)sc->v_pool + soff;
        t->scale_tile_stride = tile_stride;
        t->scale_pos_stride = sc->stride_slot;
        break;
    }
    default:
        break;
    }
}

kva_status kva_attend_batch(const kva_attn_params *p, const kva_varlen *b,
                            kva_dtype dtype, kva_tiles_fn tiles,
                            const void *tiles_ctx, int64_t max_tile_len,
                            const float *q, float *out, float *lse,
                            kva_error *err)
{
    const int S = b->num_seqs;
    const int64_t *qsl = b->query_start_loc;
    if (S == 0 || qsl[S] == 0)
        return KVA_OK; /* no real token: nothing to compute or write */

    /* Scratch: one tile's scores and one accumulator, reused by every row,
     * and for a reduced-precision cache one decoded row and the code value
     * table. A tile never holds more visible keys than the longest
     * sequence, so a huge block size does not force a huge buffer. */
    int64_t longest = 1;
    for (int s = 0; s < S; s++)
        if (qsl[s + 1] > qsl[s] && b->seq_lens[s] > longest)
            longest = b->seq_lens[s];
    const int64_t n_scores = max_tile_len < longest ? max_tile_len : longest;
    const int D = p->head_dim;
    const int64_t n_extra = dtype == KVA_DTYPE_F32 ? 0 : (int64_t)D + 256;
    const int64_t n_scratch = n_scores + D + n_extra;
    if ((uint64_t)n_scratch > SIZE_MAX / sizeof(float))
        return kva_fail(err, KVA_ERR_NOMEM,
                        "cannot allocate attention scratch");
    float *scratch = malloc((size_t)n_scratch * sizeof(float));
    if (scratch == NULL)
        return kva_fail(err, KVA_ERR_NOMEM,
                        "cannot allocate attention scratch of %lld floats",
                        (long long)n_scratch);
    row_ctx rc = {D, p->scale, p->softcap, scratch, scratch + n_scores,
                  NULL, NULL};
    if (dtype != KVA_DTYPE_F32) {
        float *lut = scratch + n_scores + D;
        rc.row = lut + 256;
        if (build_lut(dtype, lut) > 0)
            rc.lut = lut;
    }

    /* Every tile the callback returns has the cache's dtype. */
    void (*const attend)(const row_ctx *, const kva_kv_tiles *, const float *,
                         int64_t, int64_t, const uint8_t *, float *, float *) =
        dtype == KVA_DTYPE_F32 ? attend_row_f32 : attend_row_dec;
    const int Hq = p->num_q_heads, Hkv = p->num_kv_heads;
    const int group = Hq / Hkv;
    const int window = p->window_left;
    for (int s = 0; s < S; s++) {
        const int64_t q_len = qsl[s + 1] - qsl[s];
        if (q_len == 0)
            continue;
        const int64_t seq_len = b->seq_lens[s];
        const int64_t ctx_len = seq_len - q_len;
        const uint8_t *mask = b->masks != NULL ? b->masks[s] : NULL;
        /* KV head outermost: the query heads of a GQA group and the tokens
         * of the sequence reuse the same K/V tiles while they are hot. */
        for (int kvh = 0; kvh < Hkv; kvh++) {
            kva_kv_tiles kv;
            tiles(tiles_ctx, s, kvh, &kv);
            for (int64_t i = 0; i < q_len; i++) {
                const int64_t pos = ctx_len + i;
                const int64_t hi =
                    p->causal && pos + 1 < seq_len ? pos + 1 : seq_len;
                const int64_t lo =
                    window >= 0 && pos - window > 0 ? pos - window : 0;
                const uint8_t *mrow = mask ? mask + i * seq_len : NULL;
                const int64_t t = qsl[s] + i;
                for (int g = 0; g < group; g++) {
                    const int64_t row = t * Hq + (int64_t)kvh * group + g;
                    attend(&rc, &kv, q + row * D, lo, hi, mrow,
                           out + row * D, lse ? lse + row : NULL);
                }
            }
        }
    }
    free(scratch);
    return KVA_OK;
}
