/*
 * bench_attn.c — decode and causal prefill over a paged cache (NHD, block
 * size 16, blocks in a shuffled order as an engine's allocator leaves
 * them), filled through the kernel's own kva_cache_write from fp32 K/V,
 * then timed through kva_paged_attention.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void bench_fill_row(int which, int seq, int64_t tok, int head, float *row,
                    int n)
{
    uint64_t s = splitmix64(((uint64_t)which << 60) ^ ((uint64_t)seq << 40) ^
                            ((uint64_t)tok << 8) ^ (uint64_t)head);
    for (int i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17; /* xorshift64 */
        row[i] = (float)((int64_t)(s >> 40) - (1 << 23)) * 0x1p-23f;
    }
}

bench_format bench_format_of(kvc_kv_dtype d)
{
    bench_format f = {d, KVA_SCALE_NONE};
    if (d == KVC_KV_FP8_E4M3 || d == KVC_KV_FP8_E5M2 || d == KVC_KV_INT8)
        f.kind = KVA_SCALE_TENSOR;
    else if (d == KVC_KV_NVFP4)
        f.kind = KVA_SCALE_GROUP;
    return f;
}

/* Bytes of one storage unit (kvattn.h). */
static int unit_bytes(kvc_kv_dtype d)
{
    switch (d) {
    case KVC_KV_F32: return 4;
    case KVC_KV_F16:
    case KVC_KV_BF16: return 2;
    default: return 1;
    }
}

double bench_kv_bytes_per_row(kvc_kv_dtype d)
{
    double row = d == KVC_KV_NVFP4 ? BENCH_D / 2 + BENCH_D / 16
                                   : (double)BENCH_D * unit_bytes(d);
    return 2.0 * row; /* K and V */
}

static void *alloc_bytes(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 64) != 0)
        return NULL;
    return p;
}

void bench_attn_free(bench_attn *a)
{
    free(a->q);
    free(a->out);
    free(a->lse);
    free(a->qsl);
    free(a->seq_lens);
    free(a->block_table);
    free(a->k_pool_mem);
    free(a->v_pool_mem);
    free(a->ks_mem);
    free(a->vs_mem);
    memset(a, 0, sizeof *a);
}

/* The cache's description: NHD, pools of num_blocks blocks. */
static int describe_cache(bench_attn *a, bench_format f, int64_t num_blocks)
{
    kva_paged_cache *c = &a->cache;
    int64_t row = f.dtype == KVC_KV_NVFP4 ? BENCH_D / 2 : BENCH_D;
    c->num_blocks = num_blocks;
    c->block_size = BENCH_BLOCK;
    c->num_kv_heads = BENCH_HKV;
    c->head_dim = BENCH_D;
    c->stride_head = row;
    c->stride_slot = BENCH_HKV * row;
    c->stride_block = BENCH_BLOCK * c->stride_slot;
    c->pool_elems = num_blocks * c->stride_block;
    c->dtype = (kva_dtype)f.dtype;
    size_t bytes = (size_t)c->pool_elems * (size_t)unit_bytes(f.dtype);
    a->k_pool_mem = alloc_bytes(bytes);
    a->v_pool_mem = alloc_bytes(bytes);
    if (!a->k_pool_mem || !a->v_pool_mem)
        return -1;
    c->k = a->k_pool_mem;
    c->v = a->v_pool_mem;
    kva_kv_scales *s = &c->scales;
    s->kind = (kva_scale_kind)f.kind;
    if (f.kind == KVA_SCALE_TENSOR) {
        /* The values lie in [-1, 1): the calibrated scale of amax 1. */
        s->k_tensor = s->v_tensor = kvc_calib_scale(f.dtype, 1.0f);
    } else if (f.kind == KVA_SCALE_GROUP) {
        s->k_tensor = s->v_tensor = kvc_calib_nvfp4_global(1.0f);
        s->stride_head = BENCH_D / 16;
        s->stride_slot = BENCH_HKV * s->stride_head;
        s->stride_block = BENCH_BLOCK * s->stride_slot;
        s->pool_units = num_blocks * s->stride_block;
        a->ks_mem = alloc_bytes((size_t)s->pool_units);
        a->vs_mem = alloc_bytes((size_t)s->pool_units);
        if (!a->ks_mem || !a->vs_mem)
            return -1;
        s->k_pool = a->ks_mem;
        s->v_pool = a->vs_mem;
    }
    return 0;
}

/* Write every sequence's `keys` tokens through the kernel, in chunks. */
static int fill_cache(bench_attn *a, int seqs, int keys, int mbps, char *err,
                      size_t errlen)
{
    enum { CHUNK = 1024 };
    const int rowlen = BENCH_HKV * BENCH_D;
    float *k = malloc(sizeof *k * CHUNK * rowlen);
    float *v = malloc(sizeof *v * CHUNK * rowlen);
    int64_t *slots = malloc(sizeof *slots * CHUNK);
    int rc = 0;
    if (!k || !v || !slots) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    for (int s = 0; s < seqs && rc == 0; s++)
        for (int t0 = 0; t0 < keys && rc == 0; t0 += CHUNK) {
            int n = keys - t0 < CHUNK ? keys - t0 : CHUNK;
            for (int i = 0; i < n; i++) {
                int t = t0 + i;
                for (int h = 0; h < BENCH_HKV; h++) {
                    bench_fill_row(1, s, t, h, k + (size_t)i * rowlen +
                                   h * BENCH_D, BENCH_D);
                    bench_fill_row(2, s, t, h, v + (size_t)i * rowlen +
                                   h * BENCH_D, BENCH_D);
                }
                slots[i] = (int64_t)a->block_table[(size_t)s * mbps +
                                                   t / BENCH_BLOCK] *
                               BENCH_BLOCK + t % BENCH_BLOCK;
            }
            kva_error e = {0};
            kva_status st = a->k->cache_write(&a->cache, k, v, slots, n, &e);
            if (st != KVA_OK) {
                snprintf(err, errlen, "kva_cache_write refused the cache: "
                         "%s: %s", kva_status_name(st), e.msg);
                rc = -1;
            }
        }
    free(k);
    free(v);
    free(slots);
    return rc;
}

int bench_attn_setup(bench_attn *a, const kvc_kernel *k, bench_format f,
                     int keys, int batch, int prefill, char *err,
                     size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->k = k;
    int seqs = prefill ? 1 : batch;
    int mbps = (keys + BENCH_BLOCK - 1) / BENCH_BLOCK;
    int64_t num_blocks = (int64_t)seqs * mbps;
    a->num_tokens = prefill ? keys : batch;
    size_t qn = (size_t)a->num_tokens * BENCH_HQ * BENCH_D;
    a->q = alloc_bytes(sizeof(float) * qn);
    a->out = alloc_bytes(sizeof(float) * qn);
    a->lse = alloc_bytes(sizeof(float) * (size_t)a->num_tokens * BENCH_HQ);
    a->qsl = malloc(sizeof *a->qsl * (size_t)(seqs + 1));
    a->seq_lens = malloc(sizeof *a->seq_lens * (size_t)seqs);
    a->block_table = malloc(sizeof *a->block_table * (size_t)num_blocks);
    if (!a->q || !a->out || !a->lse || !a->qsl || !a->seq_lens ||
        !a->block_table || describe_cache(a, f, num_blocks) != 0) {
        bench_attn_free(a);
        snprintf(err, errlen, "out of memory (a cache of %d keys x %d)",
                 keys, seqs);
        return -1;
    }
    /* Blocks in a fixed shuffled order (Fisher-Yates). */
    for (int64_t i = 0; i < num_blocks; i++)
        a->block_table[i] = (int)i;
    uint64_t r = 12345;
    for (int64_t i = num_blocks - 1; i > 0; i--) {
        r = splitmix64(r);
        int64_t j = (int64_t)(r % (uint64_t)(i + 1));
        int tmp = a->block_table[i];
        a->block_table[i] = a->block_table[j];
        a->block_table[j] = tmp;
    }
    a->qsl[0] = 0;
    for (int s = 0; s < seqs; s++) {
        a->qsl[s + 1] = prefill ? keys : s + 1;
        a->seq_lens[s] = keys;
    }
    /* Queries: decode's is the sequence's last token. */
    for (int64_t t = 0; t < a->num_tokens; t++)
        for (int h = 0; h < BENCH_HQ; h++)
            bench_fill_row(0, prefill ? 0 : (int)t, prefill ? t : keys - 1,
                           h, a->q + ((size_t)t * BENCH_HQ + h) * BENCH_D,
                           BENCH_D);
    a->batch = (kva_paged_batch){.num_seqs = seqs,
                                 .query_start_loc = a->qsl,
                                 .seq_lens = a->seq_lens,
                                 .block_table = a->block_table,
                                 .max_blocks_per_seq = mbps,
                                 .masks = NULL};
    a->params = (kva_attn_params){.num_q_heads = BENCH_HQ,
                                  .num_kv_heads = BENCH_HKV,
                                  .head_dim = BENCH_D,
                                  .scale = 1.0f / sqrtf((float)BENCH_D),
                                  .softcap = 0.0f,
                                  .causal = 1,
                                  .window_left = -1,
                                  .num_threads = 1};
    if (fill_cache(a, seqs, keys, mbps, err, errlen) != 0) {
        bench_attn_free(a);
        return -1;
    }
    return 0;
}

int bench_attn_run(void *ctx)
{
    bench_attn *a = ctx;
    a->status = a->k->paged_attention(&a->params, &a->cache, &a->batch, a->q,
                                      a->num_tokens, a->out, a->lse, &a->err);
    return a->status != KVA_OK;
}
