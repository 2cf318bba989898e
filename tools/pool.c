/* pool.c — building, poisoning and diffing the physical K/V pool. */
#include "pool.h"

#include <float.h>
#include <math.h>
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

int kvc_pool_alloc_poisoned(kvc_pool *pool, const kvc_layout *layout)
{
    memset(pool, 0, sizeof *pool);
    int64_t n = layout->pool_elems > 0 ? layout->pool_elems : 1;
    pool->k = malloc((size_t)n * sizeof(float));
    pool->v = malloc((size_t)n * sizeof(float));
    if (!pool->k || !pool->v) {
        kvc_pool_free(pool);
        return -1;
    }
    pool->elems = layout->pool_elems;
    uint64_t st = layout->poison_seed;
    fill_poison(pool->k, n, &st);
    fill_poison(pool->v, n, &st);
    return 0;
}

void kvc_pool_free(kvc_pool *pool)
{
    free(pool->k);
    free(pool->v);
    memset(pool, 0, sizeof *pool);
}

int kvc_pool_copy(kvc_pool *dst, const kvc_pool *src)
{
    size_t bytes = (size_t)(src->elems > 0 ? src->elems : 1) * sizeof(float);
    dst->elems = src->elems;
    dst->k = malloc(bytes);
    dst->v = malloc(bytes);
    if (!dst->k || !dst->v) {
        kvc_pool_free(dst);
        return -1;
    }
    memcpy(dst->k, src->k, bytes);
    memcpy(dst->v, src->v, bytes);
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

/* Name the element at flat offset `off` of the pool. Brute force over
 * (block, slot, head): only called once, on failure. */
static void locate(const kvc_layout *l, int num_kv_heads, int head_dim,
                   int64_t off, char *buf, size_t n)
{
    for (int64_t b = 0; b < l->num_blocks; b++)
        for (int64_t t = 0; t < l->block_size; t++)
            for (int h = 0; h < num_kv_heads; h++) {
                int64_t base = kvc_pool_offset(l, b, t, h);
                if (off >= base && off < base + head_dim) {
                    snprintf(buf, n, "block %lld slot %lld head %d dim %lld",
                             (long long)b, (long long)t, h,
                             (long long)(off - base));
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
        for (int64_t i = 0; i < want->elems; i++) {
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
