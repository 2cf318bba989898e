/* pool.c — building, poisoning and diffing the physical K/V pool. */
#include "pool.h"

#include <float.h>
#include <inttypes.h>
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

int kvc_unit_bytes(kvc_kv_dtype d)
{
    switch (d) {
    case KVC_KV_F32: return 4;
    case KVC_KV_F16:
    case KVC_KV_BF16: return 2;
    default: return 1;
    }
}

/* ---- poison ------------------------------------------------------------ */

/* What a buffer holds, for its poison. */
typedef enum buf_role { ROLE_CODES, ROLE_TOKEN_SCALES, ROLE_GROUP_CODES } buf_role;

/* Poison units of each kind, chosen by r % 6: values that blow up an output
 * if read (NaN, infinities, the largest magnitudes). Integer codes in host
 * order, as the cache stores them. */
static void poison_unit(unsigned char *u, kvc_kv_dtype d, buf_role role,
                        uint64_t r)
{
    static const float f32[6] = {NAN, 1e30f, -1e30f, FLT_MAX, -FLT_MAX, NAN};
    static const uint16_t f16[6] = {0x7E00, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0xFE00};
    static const uint16_t bf16[6] = {0x7FC0, 0x7F7F, 0xFF7F, 0x7F80, 0xFF80, 0xFFC0};
    static const uint8_t e4m3[6] = {0x7F, 0x7E, 0xFE, 0xFF, 0x7E, 0x7F};
    static const uint8_t e5m2[6] = {0x7F, 0x7B, 0xFB, 0x7C, 0xFC, 0xFF};
    static const uint8_t int8[6] = {0x7F, 0x80, 0x7F, 0x80, 0x81, 0x7F};
    static const uint8_t fp4[6] = {0x77, 0xFF, 0x7F, 0xF7, 0x77, 0xFF};
    static const float scale[6] = {NAN, 1e30f, FLT_MAX, NAN, 1e30f, INFINITY};
    static const uint8_t group[6] = {0x7F, 0xFF, 0x7E, 0x7F, 0xFF, 0x7E};
    const unsigned i = (unsigned)(r % 6);
    if (role == ROLE_TOKEN_SCALES) {
        memcpy(u, &scale[i], 4);
        return;
    }
    if (role == ROLE_GROUP_CODES) {
        u[0] = group[i];
        return;
    }
    switch (d) {
    case KVC_KV_F32: memcpy(u, &f32[i], 4); break;
    case KVC_KV_F16: memcpy(u, &f16[i], 2); break;
    case KVC_KV_BF16: memcpy(u, &bf16[i], 2); break;
    case KVC_KV_FP8_E4M3: u[0] = e4m3[i]; break;
    case KVC_KV_FP8_E5M2: u[0] = e5m2[i]; break;
    case KVC_KV_INT8: u[0] = int8[i]; break;
    default: u[0] = fp4[i]; break;
    }
}

/* Units of a range drawn one by one; the rest repeats them. A prime, so
 * the pattern never lines up with a block, a head or a row: every unit a
 * kernel reads by mistake is still a poison value, and a pool of
 * hundreds of megabytes is filled at memcpy speed (the big tiers). */
#define POISON_PERIOD 1021

static void poison_buf(kvc_pool_buf *b, kvc_kv_dtype d, buf_role role,
                       uint64_t *state)
{
    const int64_t ub = b->unit_bytes;
    for (int64_t r = 0; r < b->num_ranges; r++) {
        unsigned char *p = b->data + b->ranges[2 * r] * ub;
        const int64_t n = b->ranges[2 * r + 1];
        const int64_t drawn = n < POISON_PERIOD ? n : POISON_PERIOD;
        for (int64_t i = 0; i < drawn; i++)
            poison_unit(p + i * ub, d, role, next_u64(state));
        /* double the periodic prefix until the range is full */
        for (int64_t done = drawn; done < n;) {
            const int64_t more = done < n - done ? done : n - done;
            memcpy(p + done * ub, p, (size_t)(more * ub));
            done += more;
        }
    }
}

/* ---- allocation -------------------------------------------------------- */

static unsigned char *map_bytes(int64_t bytes, int sparse)
{
    size_t n = (size_t)(bytes > 0 ? bytes : 1);
    if (!sparse)
        return malloc(n);
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void buf_free(kvc_pool_buf *b)
{
    int64_t bytes = b->units * b->unit_bytes;
    if (b->data && b->guarded)
        b->data = NULL; /* the guard set unmaps it */
    else if (b->data && b->sparse)
        munmap(b->data, (size_t)(bytes > 0 ? bytes : 1));
    else
        free(b->data);
    free(b->ranges);
    memset(b, 0, sizeof *b);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The blocks a sparse pool checks: every block the table names (in range),
 * with its neighbours, merged into runs [first block, count]. */
static int64_t block_runs(const kvc_layout *l, int num_seqs, int64_t **runs)
{
    int64_t n = (int64_t)(num_seqs > 0 ? num_seqs : 1) * l->max_blocks_per_seq;
    int64_t *blocks = malloc((size_t)(3 * n + 1) * sizeof *blocks);
    *runs = malloc((size_t)(6 * n + 2) * sizeof **runs);
    if (!blocks || !*runs) {
        free(blocks);
        free(*runs);
        *runs = NULL;
        return -1;
    }
    int64_t m = 0;
    for (int64_t e = 0; e < n; e++) {
        int64_t b = l->block_table[e];
        for (int64_t d = -1; d <= 1; d++)
            if (b >= 0 && b < l->num_blocks && b + d >= 0 &&
                b + d < l->num_blocks)
                blocks[m++] = b + d;
    }
    qsort(blocks, (size_t)m, sizeof *blocks, cmp_i64);
    int64_t k = 0;
    for (int64_t i = 0; i < m; i++) {
        if (k > 0 && (*runs)[2 * k - 2] + (*runs)[2 * k - 1] >= blocks[i]) {
            int64_t end = blocks[i] + 1;
            if (end > (*runs)[2 * k - 2] + (*runs)[2 * k - 1])
                (*runs)[2 * k - 1] = end - (*runs)[2 * k - 2];
            continue;
        }
        (*runs)[2 * k] = blocks[i];
        (*runs)[2 * k + 1] = 1;
        k++;
    }
    free(blocks);
    return k;
}

/* The buffer's memory: plain, or a guarded output of g named `name`. */
static int buf_map(kvc_pool_buf *b, kvc_guard_set *g, const char *name)
{
    int64_t bytes = b->units * b->unit_bytes;
    if (!g) {
        b->data = map_bytes(bytes, b->sparse);
        return b->data ? 0 : -1;
    }
    b->data = kvc_guard_alloc(g, name, KVC_GUARD_ROLE_OUTPUT, (size_t)bytes,
                              (size_t)b->unit_bytes);
    if (!b->data)
        return -1;
    b->guarded = 1;
    return b->sparse ? kvc_guard_set_ranges(g, b->data, b->ranges,
                                            b->num_ranges,
                                            (size_t)b->unit_bytes)
                     : 0;
}

/* A buffer of `units` units of `unit_bytes`, checked over the block runs
 * (sparse) or whole (dense); guarded in g when g is not NULL. */
static int buf_alloc(kvc_pool_buf *b, int64_t units, int unit_bytes,
                     int64_t stride_block, const int64_t *runs,
                     int64_t num_runs, int sparse, kvc_guard_set *g,
                     const char *name)
{
    memset(b, 0, sizeof *b);
    b->units = units;
    b->unit_bytes = unit_bytes;
    b->sparse = sparse;
    int64_t nr = b->sparse ? num_runs : 1;
    b->ranges = malloc((size_t)(2 * nr + 2) * sizeof *b->ranges);
    if (!b->ranges)
        return -1;
    b->num_ranges = nr;
    if (b->sparse) {
        for (int64_t i = 0; i < nr; i++) {
            b->ranges[2 * i] = runs[2 * i] * stride_block;
            b->ranges[2 * i + 1] = runs[2 * i + 1] * stride_block;
        }
    } else {
        b->ranges[0] = 0;
        b->ranges[1] = units;
    }
    return buf_map(b, g, name);
}

int kvc_pool_alloc_poisoned(kvc_pool *pool, const kvc_case *c)
{
    return kvc_pool_alloc_guarded(pool, c, NULL);
}

int kvc_pool_alloc_guarded(kvc_pool *pool, const kvc_case *c,
                           kvc_guard_set *g)
{
    const kvc_layout *l = &c->layout;
    const kvc_kv_quant *q = &c->prob.quant;
    memset(pool, 0, sizeof *pool);
    pool->dtype = q->dtype;
    pool->kind = q->kind;
    int64_t *runs = NULL;
    int64_t num_runs = block_runs(l, c->prob.num_seqs, &runs);
    if (num_runs < 0)
        return -1;
    const int ub = kvc_unit_bytes(q->dtype);
    const int sb = q->kind == KVC_SCALE_TOKEN ? 4 : 1;
    /* The scale pools are addressed by the same block ids: sparse with the
     * codes, whatever their own size (a dense token-scale pool of a
     * large-offset case is hundreds of MB, poisoned and copied whole). */
    const int sparse = l->pool_elems * ub > KVC_POOL_SPARSE_BYTES;
    int rc = buf_alloc(&pool->k, l->pool_elems, ub, l->stride_block, runs,
                       num_runs, sparse, g, "K pool") |
             buf_alloc(&pool->v, l->pool_elems, ub, l->stride_block, runs,
                       num_runs, sparse, g, "V pool");
    if (l->scale_pool_units > 0)
        rc |= buf_alloc(&pool->ks, l->scale_pool_units, sb,
                        l->scale_stride_block, runs, num_runs, sparse, g,
                        "K scale pool") |
              buf_alloc(&pool->vs, l->scale_pool_units, sb,
                        l->scale_stride_block, runs, num_runs, sparse, g,
                        "V scale pool");
    free(runs);
    if (rc != 0) {
        kvc_pool_free(pool);
        return -1;
    }
    /* f32: k then v, the stream the poison has always had */
    uint64_t state = l->poison_seed;
    for (int64_t i = 0; i < pool->k.num_ranges; i++) {
        kvc_pool_buf one_k = pool->k, one_v = pool->v;
        one_k.num_ranges = one_v.num_ranges = 1;
        one_k.ranges = pool->k.ranges + 2 * i;
        one_v.ranges = pool->v.ranges + 2 * i;
        poison_buf(&one_k, q->dtype, ROLE_CODES, &state);
        poison_buf(&one_v, q->dtype, ROLE_CODES, &state);
    }
    buf_role sr = q->kind == KVC_SCALE_TOKEN ? ROLE_TOKEN_SCALES : ROLE_GROUP_CODES;
    if (pool->ks.data) {
        poison_buf(&pool->ks, q->dtype, sr, &state);
        poison_buf(&pool->vs, q->dtype, sr, &state);
    }
    return 0;
}

void kvc_pool_free(kvc_pool *pool)
{
    buf_free(&pool->k);
    buf_free(&pool->v);
    buf_free(&pool->ks);
    buf_free(&pool->vs);
    memset(pool, 0, sizeof *pool);
}

static int buf_copy(kvc_pool_buf *dst, const kvc_pool_buf *src)
{
    memset(dst, 0, sizeof *dst);
    if (!src->data)
        return 0;
    *dst = *src;
    dst->guarded = 0; /* copies are the runner's own, never the kernel's */
    dst->ranges = malloc((size_t)(2 * src->num_ranges + 2) * sizeof *dst->ranges);
    dst->data = map_bytes(src->units * src->unit_bytes, src->sparse);
    if (!dst->ranges || !dst->data) {
        buf_free(dst);
        return -1;
    }
    memcpy(dst->ranges, src->ranges,
           (size_t)(2 * src->num_ranges) * sizeof *dst->ranges);
    for (int64_t i = 0; i < src->num_ranges; i++) {
        size_t at = (size_t)(src->ranges[2 * i] * src->unit_bytes);
        size_t bytes = (size_t)(src->ranges[2 * i + 1] * src->unit_bytes);
        memcpy(dst->data + at, src->data + at, bytes);
    }
    return 0;
}

int kvc_pool_copy(kvc_pool *dst, const kvc_pool *src)
{
    memset(dst, 0, sizeof *dst);
    dst->dtype = src->dtype;
    dst->kind = src->kind;
    if (buf_copy(&dst->k, &src->k) != 0 || buf_copy(&dst->v, &src->v) != 0 ||
        buf_copy(&dst->ks, &src->ks) != 0 || buf_copy(&dst->vs, &src->vs) != 0) {
        kvc_pool_free(dst);
        return -1;
    }
    return 0;
}

int64_t kvc_pool_offset(const kvc_layout *l, int64_t block, int64_t slot,
                        int head)
{
    return block * l->stride_block + slot * l->stride_slot +
           (int64_t)head * l->stride_head;
}

static int64_t scale_offset(const kvc_layout *l, int64_t block, int64_t slot,
                            int head)
{
    return block * l->scale_stride_block + slot * l->scale_stride_slot +
           (int64_t)head * l->scale_stride_head;
}

/* ---- storing ----------------------------------------------------------- */

/* Write the D codes of one head row at unit offset `off` of b: one code per
 * unit in host byte order, or for nvfp4 two per byte (dim d even in the low
 * nibble, odd in the high). */
static void put_codes(kvc_pool_buf *b, kvc_kv_dtype d, int64_t off,
                      const uint32_t *code, int D)
{
    unsigned char *u = b->data + off * b->unit_bytes;
    if (d == KVC_KV_NVFP4) {
        for (int i = 0; i + 1 < D; i += 2)
            u[i / 2] = (unsigned char)((code[i] & 0xF) | (code[i + 1] & 0xF) << 4);
        return;
    }
    for (int i = 0; i < D; i++) {
        if (b->unit_bytes == 4) {
            memcpy(u + 4 * i, &code[i], 4);
        } else if (b->unit_bytes == 2) {
            uint16_t h = (uint16_t)code[i];
            memcpy(u + 2 * i, &h, 2);
        } else {
            u[i] = (unsigned char)code[i];
        }
    }
}

/* Copy logical row `row` (all KV heads) of the store into pool slot. */
static void store_row(kvc_pool *pool, const kvc_case *c, const kvc_kv_store *st,
                      int64_t slot, int64_t row)
{
    const kvc_layout *l = &c->layout;
    const int D = st->head_dim, H = st->num_kv_heads, G = D / 16;
    const int64_t B = l->block_size;
    for (int h = 0; h < H; h++) {
        int64_t off = kvc_pool_offset(l, slot / B, slot % B, h);
        int64_t src = (row * H + h) * D;
        put_codes(&pool->k, st->dtype, off, st->k_code + src, D);
        put_codes(&pool->v, st->dtype, off, st->v_code + src, D);
        int64_t so = scale_offset(l, slot / B, slot % B, h);
        if (st->kind == KVC_SCALE_TOKEN) {
            memcpy(pool->ks.data + 4 * so, &st->k_token_scale[row * H + h], 4);
            memcpy(pool->vs.data + 4 * so, &st->v_token_scale[row * H + h], 4);
        } else if (st->kind == KVC_SCALE_GROUP) {
            memcpy(pool->ks.data + so, st->k_group_code + (row * H + h) * G,
                   (size_t)G);
            memcpy(pool->vs.data + so, st->v_group_code + (row * H + h) * G,
                   (size_t)G);
        }
    }
}

void kvc_pool_store_context(kvc_pool *pool, const kvc_case *c,
                            const kvc_kv_store *st)
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
            store_row(pool, c, st, blk * l->block_size + pos % l->block_size,
                      c->prob.kv_start[s] + pos);
        }
    }
}

void kvc_pool_store_new_tokens(kvc_pool *pool, const kvc_case *c,
                               const kvc_kv_store *st)
{
    const kvc_problem *p = &c->prob;
    for (int s = 0; s < p->num_seqs; s++) {
        for (int i = 0; i < p->q_len[s]; i++) {
            int64_t slot = c->layout.slot_mapping[p->q_start[s] + i];
            /* Out-of-range slots occur only in invalid cases, whose write
             * must be refused: the model skips them. */
            if (slot >= 0 &&
                slot < c->layout.num_blocks * c->layout.block_size)
                store_row(pool, c, st, slot, p->kv_start[s] + p->ctx_len[s] + i);
        }
    }
}

/* ---- diffing ----------------------------------------------------------- */

/* Where a unit of a buffer lives: block, slot, head, and the unit within
 * the head row; found = 0 for stride padding. */
typedef struct unit_place {
    int found;
    int64_t block, slot;
    int head;
    int64_t unit;
} unit_place;

static unit_place locate(int64_t off, int64_t sb, int64_t ss, int64_t sh,
                         int64_t row_units, int B, int H)
{
    unit_place u = {0, 0, 0, 0, 0};
    u.block = off / sb;
    int64_t rem = off - u.block * sb;
    for (int64_t t = 0; t < B; t++)
        for (int h = 0; h < H; h++) {
            int64_t base = t * ss + (int64_t)h * sh;
            if (rem >= base && rem < base + row_units) {
                u.found = 1;
                u.slot = t;
                u.head = h;
                u.unit = rem - base;
                return u;
            }
        }
    return u;
}

/* The logical K/V row stored at (block, slot): a new token of this step
 * (token >= 0) or a context position. Returns the row of the problem, or -1
 * when no position of the case lives there. */
static int64_t row_at(const kvc_case *c, int64_t block, int64_t slot,
                      int64_t *token, int *seq, int *pos)
{
    const kvc_problem *p = &c->prob;
    const kvc_layout *l = &c->layout;
    const int64_t at = block * l->block_size + slot;
    *token = -1;
    for (int s = 0; s < p->num_seqs; s++)
        for (int i = 0; i < p->q_len[s]; i++)
            if (l->slot_mapping[p->q_start[s] + i] == at) {
                *token = p->q_start[s] + i;
                *seq = s;
                *pos = p->ctx_len[s] + i;
                return p->kv_start[s] + *pos;
            }
    for (int s = 0; s < p->num_seqs; s++)
        for (int j = 0; j < p->ctx_len[s]; j++) {
            int64_t e = (int64_t)s * l->max_blocks_per_seq + j / l->block_size;
            if (j / l->block_size < l->max_blocks_per_seq &&
                l->block_table[e] == block && j % l->block_size == slot) {
                *seq = s;
                *pos = j;
                return p->kv_start[s] + j;
            }
        }
    return -1;
}

/* The code of unit `unit` of a buffer, as an integer (nvfp4: the byte). */
static uint32_t unit_code(const kvc_pool_buf *b, int64_t i)
{
    const unsigned char *u = b->data + i * b->unit_bytes;
    if (b->unit_bytes == 4) {
        uint32_t x;
        memcpy(&x, u, 4);
        return x;
    }
    if (b->unit_bytes == 2) {
        uint16_t h;
        memcpy(&h, u, 2);
        return h;
    }
    return u[0];
}

/* Describe the first differing unit i of buffer `which` (0 K, 1 V, 2 K
 * scales, 3 V scales). */
static void describe(const kvc_pool_buf *want, const kvc_pool_buf *got,
                     int which, int64_t i, const kvc_case *c, char *msg,
                     size_t n)
{
    static const char *const names[4] = {"K cache", "V cache", "K scale pool",
                                         "V scale pool"};
    const kvc_layout *l = &c->layout;
    const kvc_problem *p = &c->prob;
    const kvc_kv_quant *q = &p->quant;
    const int D = p->cfg.head_dim, H = p->cfg.num_kv_heads;
    const int scales = which >= 2;
    const int64_t row_units =
        scales ? (q->kind == KVC_SCALE_TOKEN ? 1 : D / 16)
               : (q->dtype == KVC_KV_NVFP4 ? D / 2 : D);
    unit_place u = scales
        ? locate(i, l->scale_stride_block, l->scale_stride_slot,
                 l->scale_stride_head, row_units, l->block_size, H)
        : locate(i, l->stride_block, l->stride_slot, l->stride_head,
                 row_units, l->block_size, H);
    uint32_t w = unit_code(want, i), g = unit_code(got, i);
    if (!u.found) {
        snprintf(msg, n, "%s unit %" PRId64 " (stride padding, no slot): want "
                 "0x%X, found 0x%X", names[which], i, w, g);
        return;
    }
    int64_t token;
    int seq = -1, pos = -1;
    int64_t row = row_at(c, u.block, u.slot, &token, &seq, &pos);
    char who[96];
    if (row < 0)
        snprintf(who, sizeof who, "an unused slot");
    else if (token >= 0)
        snprintf(who, sizeof who, "token %" PRId64 " (sequence %d position %d)",
                 token, seq, pos);
    else
        snprintf(who, sizeof who, "context position %d of sequence %d", pos,
                 seq);
    int dim = (int)u.unit;
    if (!scales && q->dtype == KVC_KV_NVFP4)
        dim = 2 * (int)u.unit + (((w ^ g) & 0xF) ? 0 : 1);
    else if (scales && q->kind == KVC_SCALE_GROUP)
        dim = 16 * (int)u.unit;
    const float *x = which == 0 || which == 2 ? p->k : p->v;
    double input = row >= 0 ? (double)x[(row * H + u.head) * D + dim] : NAN;
    const char *what = !scales ? "dim" : q->kind == KVC_SCALE_TOKEN
                                             ? "token scale, row input dim"
                                             : "group code of dims from";
    snprintf(msg, n,
             "%s block %" PRId64 " slot %" PRId64 " head %d %s %d, %s, input "
             "%.9g: want code 0x%0*X, found 0x%0*X%s",
             names[which], u.block, u.slot, u.head, what, dim, who, input,
             2 * want->unit_bytes, w, 2 * want->unit_bytes, g,
             !scales && q->dtype == KVC_KV_NVFP4 ? " (the byte of two e2m1 "
                                                   "codes, dim even low nibble)"
                                                 : "");
}

int kvc_pool_diff(const kvc_pool *want, const kvc_pool *got,
                  const kvc_case *c, char *msg, size_t n)
{
    const kvc_pool_buf *tw[4] = {&want->k, &want->v, &want->ks, &want->vs};
    const kvc_pool_buf *tg[4] = {&got->k, &got->v, &got->ks, &got->vs};
    for (int which = 0; which < 4; which++) {
        const kvc_pool_buf *w = tw[which], *g = tg[which];
        if (!w->data)
            continue;
        const int ub = w->unit_bytes;
        for (int64_t r = 0; r < w->num_ranges; r++) {
            int64_t first = w->ranges[2 * r], count = w->ranges[2 * r + 1];
            if (memcmp(w->data + first * ub, g->data + first * ub,
                       (size_t)(count * ub)) == 0)
                continue;
            for (int64_t i = first; i < first + count; i++)
                if (memcmp(w->data + i * ub, g->data + i * ub, (size_t)ub)) {
                    describe(w, g, which, i, c, msg, n);
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
