/* pool.c — building, poisoning and diffing the physical K/V pool. */
#include "pool.h"

#include <float.h>
#include <math.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64 step: a cheap, fixed stream for poison (not a test input). */
static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static float poison_value(uint64_t r)
{
    static const float kinds[6] = {NAN, 1e30f, -1e30f, FLT_MAX, -FLT_MAX, NAN};
    return kinds[r % 6];
}

static void fill_poison(float *x, int64_t n, uint64_t *state)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = poison_value(next_u64(state));
}

static float *map_elems(int64_t n, int sparse)
{
    size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(float);
    if (!sparse)
        return malloc(bytes);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void unmap_elems(float *p, int64_t n, int sparse)
{
    if (p && sparse)
        munmap(p, (size_t)(n > 0 ? n : 1) * sizeof(float));
    else
        free(p);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The element ranges a sparse pool checks: every block the table names
 * (in range), with its neighbours, merged. */
static int sparse_ranges(kvc_pool *pool, const kvc_layout *l, int num_seqs)
{
    int64_t n = (int64_t)(num_seqs > 0 ? num_seqs : 1) * l->max_blocks_per_seq;
    int64_t *blocks = malloc((size_t)(3 * n + 1) * sizeof *blocks);
    if (!blocks)
        return -1;
    int64_t m = 0;
    for (int64_t e = 0; e < n; e++) {
        int64_t b = l->block_table[e];
        for (int64_t d = -1; d <= 1; d++)
            if (b >= 0 && b < l->num_blocks && b + d >= 0 &&
                b + d < l->num_blocks)
                blocks[m++] = b + d;
    }
    qsort(blocks, (size_t)m, sizeof *blocks, cmp_i64);
    pool->ranges = malloc((size_t)(2 * m + 2) * sizeof *pool->ranges);
    if (!pool->ranges) {
        free(blocks);
        return -1;
    }
    pool->num_ranges = 0;
    for (int64_t i = 0; i < m; i++) {
        int64_t *r = pool->ranges + 2 * (pool->num_ranges - 1);
        int64_t start = blocks[i] * l->stride_block;
        if (pool->num_ranges > 0 && r[0] + r[1] >= start) {
            int64_t end = start + l->stride_block;
            if (end > r[0] + r[1])
                r[1] = end - r[0];
            continue;
        }
        pool->ranges[2 * pool->num_ranges] = start;
        pool->ranges[2 * pool->num_ranges + 1] = l->stride_block;
        pool->num_ranges++;
    }
    free(blocks);
    return 0;
}

int kvc_pool_alloc_poisoned(kvc_pool *pool, const kvc_layout *layout,
                            int num_seqs)
{
    memset(pool, 0, sizeof *pool);
    pool->elems = layout->pool_elems;
    pool->sparse = layout->pool_elems > KVC_POOL_SPARSE_BYTES / (int64_t)sizeof(float);
    if (pool->sparse) {
        if (sparse_ranges(pool, layout, num_seqs) != 0)
            return -1;
    } else {
        pool->ranges = malloc(2 * sizeof *pool->ranges);
        if (!pool->ranges)
            return -1;
        pool->num_ranges = 1;
        pool->ranges[0] = 0;
        pool->ranges[1] = layout->pool_elems;
    }
    pool->k = map_elems(pool->elems, pool->sparse);
    pool->v = map_elems(pool->elems, pool->sparse);
    if (!pool->k || !pool->v) {
        kvc_pool_free(pool);
        return -1;
    }
    uint64_t st = layout->poison_seed;
    for (int64_t i = 0; i < pool->num_ranges; i++) {
        fill_poison(pool->k + pool->ranges[2 * i], pool->ranges[2 * i + 1], &st);
        fill_poison(pool->v + pool->ranges[2 * i], pool->ranges[2 * i + 1], &st);
    }
    return 0;
}

void kvc_pool_free(kvc_pool *pool)
{
    unmap_elems(pool->k, pool->elems, pool->sparse);
    unmap_elems(pool->v, pool->elems, pool->sparse);
    free(pool->ranges);
    memset(pool, 0, sizeof *pool);
}

int kvc_pool_copy(kvc_pool *dst, const kvc_pool *src)
{
    memset(dst, 0, sizeof *dst);
    dst->elems = src->elems;
    dst->sparse = src->sparse;
    dst->num_ranges = src->num_ranges;
    dst->ranges = malloc((size_t)(2 * src->num_ranges + 2) * sizeof *dst->ranges);
    dst->k = map_elems(src->elems, src->sparse);
    dst->v = map_elems(src->elems, src->sparse);
    if (!dst->ranges || !dst->k || !dst->v) {
        kvc_pool_free(dst);
        return -1;
    }
    memcpy(dst->ranges, src->ranges,
           (size_t)(2 * src->num_ranges) * sizeof *dst->ranges);
    for (int64_t i = 0; i < src->num_ranges; i++) {
        size_t at = (size_t)src->ranges[2 * i];
        size_t bytes = (size_t)src->ranges[2 * i + 1] * sizeof(float);
        memcpy(dst->k + at, src->k + at, bytes);
        memcpy(dst->v + at, src->v + at, bytes);
    }
    return 0;
}

int64_t kvc_pool_offset(const kvc_layout *l, int64_t block, int64_t slot,
                        int head)
{
    return block * l->stride_block + slot * l->stride_slot +
           (int64_t)head * l->stride_head;
}

/* Copy logical row `row` (all KV heads) of the problem into pool slot. */
static void store_row(kvc_pool *pool, const kvc_case *c, int64_t slot,
                      int64_t row)
{
    const kvc_config *cfg = &c->prob.cfg;
    int D = cfg->head_dim, H = cfg->num_kv_heads;
    int64_t B = c->layout.block_size;
    for (int h = 0; h < H; h++) {
        int64_t off = kvc_pool_offset(&c->layout, slot / B, slot % B, h);
        int64_t src = (row * H + h) * D;
        memcpy(pool->k + off, c->prob.k + src, (size_t)D * sizeof(float));
        memcpy(pool->v + off, c->prob.v + src, (size_t)D * sizeof(float));
    }
}

void kvc_pool_store_context(kvc_pool *pool, const kvc_case *c)
{
    const kvc_layout *l = &c->layout;
    for (int s = 0; s < c->prob.num_seqs; s++) {
        for (int pos = 0; pos < c->prob.ctx_len[s]; pos++) {
            if (pos / l->block_size >= l->max_blocks_per_seq)
                break; /* an invalid case: the table is too short */
            int64_t blk = l->block_table[(int64_t)s * l->max_blocks_per_seq +
                                         pos / l->block_size];
            if (blk < 0 || blk >= l->num_blocks)
                continue; /* freed below the sliding window */
            store_row(pool, c, blk * l->block_size + pos % l->block_size,
                      c->prob.kv_start[s] + pos);
        }
    }
}

void kvc_pool_store_new_tokens(kvc_pool *pool, const kvc_case *c)
{
    const kvc_problem *p = &c->prob;
    for (int s = 0; s < p->num_seqs; s++) {
        for (int i = 0; i < p->q_len[s]; i++) {
            int64_t slot = c->layout.slot_mapping[p->q_start[s] + i];
            /* Out-of-range slots occur only in invalid cases, whose write
             * must be refused: the model skips them. */
            if (slot >= 0 &&
                slot < c->layout.num_blocks * c->layout.block_size)
                store_row(pool, c, slot, p->kv_start[s] + p->ctx_len[s] + i);
        }
    }
}

/* Name the element at flat offset `off` of the pool (block strides are
 * the outermost in every layout the generators describe). */
static void locate(const kvc_layout *l, int num_kv_heads, int head_dim,
                   int64_t off, char *buf, size_t n)
{
    int64_t b = off / l->stride_block, rem = off - b * l->stride_block;
    for (int64_t t = 0; t < l->block_size; t++)
        for (int h = 0; h < num_kv_heads; h++) {
            int64_t base = t * l->stride_slot + (int64_t)h * l->stride_head;
            if (rem >= base && rem < base + head_dim) {
                snprintf(buf, n, "block %lld slot %lld head %d dim %lld",
                         (long long)b, (long long)t, h,
                         (long long)(rem - base));
                return;
            }
        }
    snprintf(buf, n, "element %lld (stride padding, no slot)", (long long)off);
}

int kvc_pool_diff(const kvc_pool *want, const kvc_pool *got,
                  const kvc_layout *l, int num_kv_heads, int head_dim,
                  char *msg, size_t n)
{
    const float *tw[2] = {want->k, want->v}, *tg[2] = {got->k, got->v};
    for (int which = 0; which < 2; which++) {
        for (int64_t r = 0; r < want->num_ranges; r++) {
            int64_t first = want->ranges[2 * r];
            int64_t count = want->ranges[2 * r + 1];
            if (memcmp(tw[which] + first, tg[which] + first,
                       (size_t)count * sizeof(float)) == 0)
                continue;
            for (int64_t i = first; i < first + count; i++) {
                if (memcmp(&tw[which][i], &tg[which][i], sizeof(float)) == 0)
                    continue;
                char where[128];
                locate(l, num_kv_heads, head_dim, i, where, sizeof where);
                snprintf(msg, n, "%s cache %s: want %.9g, found %.9g",
                         which ? "V" : "K", where, (double)tw[which][i],
                         (double)tg[which][i]);
                return 1;
            }
        }
    }
    return 0;
}

int kvc_new_token_kv(const kvc_case *c, float **k, float **v)
{
    const kvc_problem *p = &c->prob;
    int64_t row = (int64_t)p->cfg.num_kv_heads * p->cfg.head_dim;
    int64_t n = p->num_tokens * row;
    *k = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    *v = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!*k || !*v) {
        free(*k);
        free(*v);
        *k = *v = NULL;
        return -1;
    }
    for (int64_t i = 0; i < n; i++)
        (*k)[i] = (*v)[i] = NAN; /* padding tokens: never written */
    for (int s = 0; s < p->num_seqs; s++) {
        int64_t first = p->kv_start[s] + p->ctx_len[s];
        memcpy(*k + p->q_start[s] * row, p->k + first * row,
               (size_t)(p->q_len[s] * row) * sizeof(float));
        memcpy(*v + p->q_start[s] * row, p->v + first * row,
               (size_t)(p->q_len[s] * row) * sizeof(float));
    }
    return 0;
}
