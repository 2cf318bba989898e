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
 */
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
} row_ctx;

/*
 * One row: keys j in [lo, hi) that the mask (NULL = all) leaves visible.
 * Only the tiles overlapping [lo, hi) are touched: tiles outside the causal
 * or sliding-window range are never read, nor are their tile ids (a freed
 * block of a sliding window may hold -1). q and out are not restrict: a
 * caller may attend in place (out == q); out is written only at the end.
 */
static void attend_row(const row_ctx *rc, const kva_kv_tiles *kv,
                       const float *q, int64_t lo, int64_t hi,
                       const uint8_t *mask, float *out, float *lse)
{
    const int D = rc->head_dim;
    const float softcap = rc->softcap;
    float *restrict acc = rc->acc;
    float *restrict sc = rc->scores;
    float m = -INFINITY, l = 0.0f;

    memset(acc, 0, (size_t)D * sizeof *acc);
    if (lo < hi) {
        const int64_t T = kv->tile_len, ps = kv->pos_stride;
        for (int64_t b = lo / T; b <= (hi - 1) / T; b++) {
            const int64_t start = b * T;
            const int64_t j0 = lo > start ? lo : start;
            const int64_t j1 = hi < start + T ? hi : start + T;
            const int64_t id = kv->tile_ids ? kv->tile_ids[b] : b;
            const int64_t base = id * kv->tile_stride + (j0 - start) * ps;
            const float *kp = kv->k + base;
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
                float x = rc->scale * dot(q, kp + i * ps, D);
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

            const float *vp = kv->v + base;
            for (int64_t i = 0; i < n; i++) {
                const float x = sc[i];
                if (x == -INFINITY)
                    continue;
                const float w = expf(x - m);
                l += w;
                axpy(acc, w, vp + i * ps, D);
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

kva_status kva_attend_batch(const kva_attn_params *p, const kva_varlen *b,
                            kva_tiles_fn tiles, const void *tiles_ctx,
                            int64_t max_tile_len, const float *q, float *out,
                            float *lse, kva_error *err)
{
    const int S = b->num_seqs;
    const int64_t *qsl = b->query_start_loc;
    if (S == 0 || qsl[S] == 0)
        return KVA_OK; /* no real token: nothing to compute or write */

    /* Scratch: one tile's scores and one accumulator, reused by every row.
     * A tile never holds more visible keys than the longest sequence, so a
     * huge block size does not force a huge buffer. */
    int64_t longest = 1;
    for (int s = 0; s < S; s++)
        if (qsl[s + 1] > qsl[s] && b->seq_lens[s] > longest)
            longest = b->seq_lens[s];
    const int64_t n_scores = max_tile_len < longest ? max_tile_len : longest;
    const int D = p->head_dim;
    if ((uint64_t)(n_scores + D) > SIZE_MAX / sizeof(float))
        return kva_fail(err, KVA_ERR_NOMEM,
                        "cannot allocate attention scratch");
    float *scratch = malloc((size_t)(n_scores + D) * sizeof(float));
    if (scratch == NULL)
        return kva_fail(err, KVA_ERR_NOMEM,
                        "cannot allocate attention scratch of %lld floats",
                        (long long)(n_scores + D));
    row_ctx rc = {D, p->scale, p->softcap, scratch, scratch + n_scores};

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
                    attend_row(&rc, &kv, q + row * D, lo, hi, mrow,
                               out + row * D, lse ? lse + row : NULL);
                }
            }
        }
    }
    free(scratch);
    return KVA_OK;
}
