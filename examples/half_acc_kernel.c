/*
 * half_acc_kernel.c — an example kernel plugin: a small, independent paged-
 * attention kernel in llama.cpp's CPU arithmetic (kvcheck profile
 * "half-acc"), written from kernels/kvattn.h alone.
 *
 *   Q is rounded to f16 before the dot product; q.k, scale, soft-cap, the
 *   running max and exp are fp32; the softmax is online over the keys in
 *   order; P.V is accumulated in f16 exactly like ggml_vec_mad_f16,
 *       acc_d = f16( fp32( acc_d + fp32(p_j * v_jd) ) ),
 *   and when the running max grows the f16 accumulator is rescaled the same
 *   way, acc_d = f16(acc_d * exp(m_old - m_new)); the weight sum l is fp32;
 *   out_d = fp32(acc_d) / l, lse = m + logf(l).
 *
 * It claims (kva_capabilities) the paged mode only, F32 and F16 caches
 * without scales, every layout, head_dim and block size, and every feature
 * but the cache write and large offsets: it exports kva_paged_attention and
 * no kva_cache_write, so the checker writes the new tokens' codes itself.
 * It does not promise the refusal contract (validates = 0), but returns
 * KVA_ERR_UNSUPPORTED for a cache format it does not implement and never
 * reads a block-table entry no visible key needs. With num_threads > 1 the
 * (token, query head) rows are split over pthreads in fixed contiguous
 * ranges; every row is computed by one thread with the same arithmetic, so
 * the result does not depend on the thread count at all.
 *
 * Build: make build/examples/libhalf_acc.so (compile with
 * -ffp-contract=off: a fused multiply-add would skip the fp32 rounding of
 * p_j * v_jd).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kvattn.h"

/* ---- f16 <-> f32 (IEEE binary16, round to nearest even) ---------------- */

static uint16_t f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) /* NaN: stays a (quiet) NaN */
        return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x477ff000u) /* >= 65520 (halfway past 65504) and inf: inf */
        return (uint16_t)(sign | 0x7c00u);
    if (ax >= 0x38800000u) { /* normal: rebias, round 13 bits away */
        uint32_t r = ax - ((uint32_t)(127 - 15) << 23);
        uint32_t h = r >> 13, rem = r & 0x1fffu;
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
            h++; /* a carry into the exponent is the right answer */
        return (uint16_t)(sign | h);
    }
    /* subnormal f16 (units of 2^-24) or zero */
    int e = (int)(ax >> 23);
    int shift = 126 - e; /* value = m * 2^-shift units, m with hidden bit */
    if (e == 0 || shift > 24)
        return sign; /* below half of 2^-24: rounds to zero */
    uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    uint32_t h = m >> shift, rem = m & ((1u << shift) - 1u),
             half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u)))
        h++; /* may become the smallest normal, 0x400: correct */
    return (uint16_t)(sign | h);
}

static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, x;
    if (exp == 0) { /* zero or subnormal: man * 2^-24, exact */
        float f = (float)man * 0x1p-24f;
        return sign ? -f : f;
    }
    if (exp == 31)
        x = sign | 0x7f800000u | (man << 13);
    else
        x = sign | ((exp + 112u) << 23) | (man << 13);
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

/* ---- the kernel --------------------------------------------------------- */

typedef struct job {
    const kva_attn_params *p;
    const kva_paged_cache *c;
    const kva_paged_batch *b;
    const float *q;
    float *out, *lse;
    int64_t row_begin, row_end; /* (token, head) rows, token-major */
    float *qh;                  /* [D] scratch: the f16-rounded query */
    uint16_t *acc;              /* [D] scratch: the f16 accumulator */
    pthread_t tid;
    int started;                /* tid is a running thread */
} job;

/* Element d of the head row that starts at unit `off`, as an fp32 value. */
static float load(const kva_paged_cache *c, const void *base, int64_t off,
                  int d)
{
    if (c->dtype == KVA_DTYPE_F16)
        return f16_to_f32(((const uint16_t *)base)[off + d]);
    return ((const float *)base)[off + d];
}

/* One output row: new token i of sequence s (batch token t), query head h. */
static void attend_row(job *jb, int s, int64_t t, int i, int h)
{
    const kva_attn_params *p = jb->p;
    const kva_paged_cache *c = jb->c;
    const kva_paged_batch *b = jb->b;
    int D = p->head_dim, B = c->block_size;
    int64_t qlen = b->query_start_loc[s + 1] - b->query_start_loc[s];
    int64_t seq_len = b->seq_lens[s], pos = seq_len - qlen + i;
    int kvh = h / (p->num_q_heads / p->num_kv_heads);
    const uint8_t *mask = b->masks ? b->masks[s] : NULL;
    const float *q = jb->q + (t * p->num_q_heads + h) * D;
    float *out = jb->out + (t * p->num_q_heads + h) * D;

    /* the visible key range [lo, hi): nothing outside it is read */
    int64_t lo = 0, hi = p->causal ? pos + 1 : seq_len;
    if (p->window_left >= 0 && pos - p->window_left > lo)
        lo = pos - p->window_left;
    if (hi > seq_len)
        hi = seq_len;

    for (int d = 0; d < D; d++) {
        jb->qh[d] = f16_to_f32(f32_to_f16(q[d]));
        jb->acc[d] = 0;
    }
    float m = -INFINITY, l = 0.0f;
    int seen = 0;
    for (int64_t j = lo; j < hi; j++) {
        if (mask && !mask[(int64_t)i * seq_len + j])
            continue;
        int64_t blk = b->block_table[(int64_t)s * b->max_blocks_per_seq + j / B];
        int64_t off = blk * c->stride_block + (j % B) * c->stride_slot +
                      (int64_t)kvh * c->stride_head;
        float dot = 0.0f;
        for (int d = 0; d < D; d++)
            dot += jb->qh[d] * load(c, c->k, off, d);
        float x = p->scale * dot;
        if (p->softcap > 0.0f)
            x = p->softcap * tanhf(x / p->softcap);
        float w;
        if (x > m) { /* new running max: rescale l and the f16 accumulator */
            float ms = expf(m - x); /* 0 for the first key (m = -inf) */
            for (int d = 0; d < D; d++)
                jb->acc[d] = f32_to_f16(f16_to_f32(jb->acc[d]) * ms);
            l *= ms;
            m = x;
            w = 1.0f;
        } else {
            w = expf(x - m);
        }
        l += w;
        for (int d = 0; d < D; d++) { /* ggml_vec_mad_f16 */
            float prod = w * load(c, c->v, off, d);
            jb->acc[d] = f32_to_f16(f16_to_f32(jb->acc[d]) + prod);
        }
        seen = 1;
    }
    for (int d = 0; d < D; d++)
        out[d] = seen ? f16_to_f32(jb->acc[d]) / l : 0.0f;
    if (jb->lse)
        jb->lse[t * p->num_q_heads + h] = seen ? m + logf(l) : -INFINITY;
}

/* The rows [row_begin, row_end) of the batch (sequences are walked to find
 * the sequence of each token: padding tokens belong to none). */
static void *run_job(void *arg)
{
    job *jb = arg;
    const kva_paged_batch *b = jb->b;
    int Hq = jb->p->num_q_heads;
    int s = 0;
    for (int64_t r = jb->row_begin; r < jb->row_end; r++) {
        int64_t t = r / Hq;
        while (t >= b->query_start_loc[s + 1])
            s++;
        attend_row(jb, s, t, (int)(t - b->query_start_loc[s]), (int)(r % Hq));
    }
    return NULL;
}

static kva_status fail(kva_error *err, kva_status st, const char *msg)
{
    if (err) {
        err->status = st;
        snprintf(err->msg, sizeof err->msg, "half_acc: %s", msg);
    }
    return st;
}

KVA_API kva_status kva_paged_attention(const kva_attn_params *params,
                                       const kva_paged_cache *cache,
                                       const kva_paged_batch *batch,
                                       const float *q, int64_t num_tokens,
                                       float *out, float *lse, kva_error *err)
{
    if (!params || !cache || !batch)
        return fail(err, KVA_ERR_NULL, "params, cache or batch is NULL");
    if ((cache->dtype != KVA_DTYPE_F32 && cache->dtype != KVA_DTYPE_F16) ||
        cache->scales.kind != KVA_SCALE_NONE)
        return fail(err, KVA_ERR_UNSUPPORTED,
                    "only F32 and F16 caches without scales are implemented");
    /* Not a validating kernel: only what keeps it from crashing. */
    if (params->num_q_heads < 1 || params->num_kv_heads < 1 ||
        params->num_q_heads % params->num_kv_heads != 0 ||
        params->head_dim < 1 || cache->block_size < 1 ||
        cache->num_kv_heads != params->num_kv_heads ||
        cache->head_dim != params->head_dim)
        return fail(err, KVA_ERR_SHAPE, "inconsistent heads or sizes");
    if (batch->num_seqs < 0 || !batch->query_start_loc)
        return fail(err, KVA_ERR_NULL, "no query_start_loc");
    int64_t rows = batch->query_start_loc[batch->num_seqs] *
                   (int64_t)params->num_q_heads;
    if (rows > 0 && (!q || !out || !batch->seq_lens || !batch->block_table ||
                     !cache->k || !cache->v))
        return fail(err, KVA_ERR_NULL, "a required pointer is NULL");

    int nt = params->num_threads < 1 ? 1 : params->num_threads;
    if (nt > 64)
        nt = 64;
    if (nt > rows)
        nt = rows > 0 ? (int)rows : 1;
    size_t D = (size_t)params->head_dim;
    job *jobs = calloc((size_t)nt, sizeof *jobs);
    char *scratch = malloc((size_t)nt * D * (sizeof(float) + sizeof(uint16_t)));
    if (!jobs || !scratch) {
        free(jobs);
        free(scratch);
        return fail(err, KVA_ERR_NOMEM, "out of memory");
    }
    for (int k = 0; k < nt; k++) {
        job *jb = &jobs[k];
        jb->p = params, jb->c = cache, jb->b = batch, jb->q = q;
        jb->out = out, jb->lse = lse;
        jb->row_begin = rows * k / nt, jb->row_end = rows * (k + 1) / nt;
        jb->qh = (float *)scratch + (size_t)k * D;
        jb->acc = (uint16_t *)(scratch + (size_t)nt * D * sizeof(float)) +
                  (size_t)k * D;
    }
    /* Thread 0's range runs here; a thread that cannot start runs here too
     * (the same rows, the same arithmetic: the result is unchanged). */
    for (int k = 1; k < nt; k++)
        jobs[k].started =
            pthread_create(&jobs[k].tid, NULL, run_job, &jobs[k]) == 0;
    run_job(&jobs[0]);
    for (int k = 1; k < nt; k++) {
        if (jobs[k].started)
            pthread_join(jobs[k].tid, NULL);
        else
            run_job(&jobs[k]);
    }
    free(jobs);
    free(scratch);
    return KVA_OK;
}

KVA_API int kva_abi_version(void) { return KVA_ABI_VERSION; }

KVA_API void kva_capabilities(kva_caps *caps)
{
    kva_caps c = {0};
    c.modes = KVA_MODE_PAGED;
    c.formats[KVA_DTYPE_F32] = 1u << KVA_SCALE_NONE;
    c.formats[KVA_DTYPE_F16] = 1u << KVA_SCALE_NONE;
    c.layouts = KVA_LAYOUT_NHD | KVA_LAYOUT_HND | KVA_LAYOUT_PADDED;
    c.features = KVA_FEATURE_CAUSAL | KVA_FEATURE_BIDIRECTIONAL |
                 KVA_FEATURE_WINDOW | KVA_FEATURE_SOFTCAP |
                 KVA_FEATURE_CUSTOM_MASK | KVA_FEATURE_PADDING_TOKENS;
    /* not KVA_FEATURE_FORMAT_EDGES: an f16 accumulator overflows past
     * 65504, which K/V at an f16 cache's largest values reach (a limit of
     * the design, as in llama.cpp); not KVA_FEATURE_CACHE_WRITE: kvcheck
     * writes the cache; not large offsets: 64-bit offsets are not needed
     * for an example */
    c.head_dims.min = 1;   /* any head_dim */
    c.block_sizes.min = 1; /* any block size */
    c.validates = 0;
    c.lse = KVA_LSE_NATURAL;
    c.out_dtype = KVA_DTYPE_F32;
    c.profile = KVA_PROFILE_HALF_ACC;
    c.takes_threads = 1;
    *caps = c;
}
