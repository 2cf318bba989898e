/*
 * attention_core.c — the one online-softmax engine of libkvattn, behind
 * paged and blocked attention (they differ only in how they describe
 * tiles, kva_kv_tiles), so the arithmetic exists once.
 *
 * Work units. For each sequence and KV head, the query rows of the whole
 * GQA group for a block of consecutive query tokens (QBLOCK_ROWS rows, at
 * least one token) form one query block. A unit is (sequence, KV heads,
 * query block): one KV head, or all of them when the sequence has at most
 * FUSE_ROWS query rows in all (a decode step: the heads take each chunk
 * in turn, reading an NHD cache in address order). For a long context
 * with few query tokens a unit is also a KV
 * split: a sequence with q_len <= the tokens of one query block and at
 * least SPLIT_MIN_KEYS keys its queries can see is cut into
 * floor(keys / SPLIT_PART_KEYS) contiguous key ranges, each a unit of its
 * own writing a partial (m, l, acc) per row; the partials are merged per
 * row in split order after every unit is done. Whether and where a
 * sequence is split depends only on its own q_len, seq_len, window and
 * Hq/Hkv: never on the thread count or on the rest of the batch, and the
 * result of a row never depends on which other rows share its unit (so
 * how many KV heads a unit takes may follow the thread count).
 * So outputs are bitwise identical for any thread count and any batch a
 * sequence sits in (for one ISA path, kva_isa.c).
 *
 * A unit walks the key chunks its rows can see, once: the cache's tiles
 * cut into chunks of at most CHUNK keys (aligned to the tile start). Each
 * chunk's K rows (and, when a row uses it, its V rows) are decoded once
 * into fp32 scratch (a unit of one token on a path with raw kernels reads
 * them in the cache instead, converting in registers: the same values);
 * then per query token the scores of its group's rows (kva_ops.scores),
 * and per row, fp32 throughout:
 *   visibility (causal, window, custom mask; an invisible key's score is
 *   -inf and it is skipped), soft-cap, the chunk max; a row with no live
 *   key in the chunk skips it (no exp at all). When the chunk max exceeds
 *   the running max m, l and acc are rescaled by exp(m_old - m_new); then
 *   w = exp(x - m) per live key, l += w in key order and acc += w * v
 *   (kva_ops.pv: key order, lanes over d).
 * Finally out = acc / l and lse = m + log(l); a row with l == 0 (no
 * visible key, or only keys of score -inf) gets out = 0, lse = -inf. NaN
 * scores count as live, so garbage in shows as NaN out. Keys outside a
 * row's visible range, and tiles outside every row's range, are never read
 * (nor are their tile ids: a freed sliding-window block may hold -1).
 *
 * Reduced-precision caches (docs/kv-formats.md): element value
 * decode(code) for F16/BF16 and fp32(decode(code) * s) (one binary32
 * multiply) for the scaled formats, s being the head's static scale, the
 * position's token scale or the group's nvfp4 effective scale.
 *
 * Threads: units are taken from an atomic counter by p->num_threads
 * workers (the calling thread is one of them; 0 or 1 creates no thread);
 * every unit writes its own rows (or its own partial buffer) only, and
 * its arithmetic does not depend on which worker runs it. All scratch is
 * allocated before anything is written. A failed pthread_create only
 * leaves more units to the others.
 */
#include "kva_format.h"
#include "kva_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 64            /* keys decoded and scored at once */
#define QBLOCK_ROWS 128      /* query rows (tokens x group) of a block */
#define SPLIT_MIN_KEYS 4096 /* a decode over this many keys is split */
#define SPLIT_PART_KEYS 2048 /* ... into parts of about this many */
#define PREFETCH_CHUNKS 2   /* how far ahead K/V rows are prefetched */
#define FUSE_ROWS 128       /* a unit takes every KV head of a sequence
                               with at most this many query rows */

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
            lut[c] = KVA_MUT(25) ? (float)c - 128.0f /* offset binary */
                                 : (float)(int8_t)(uint8_t)c;
        return 256;
    case KVA_DTYPE_NVFP4:
        for (int c = 0; c < 16; c++)
            lut[c] = kva_e2m1_decode((uint8_t)c);
        return 16;
    default:
        return 0;
    }
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


/* One unit of work: tokens [i0, i1) of sequence s (indices inside the
 * sequence), KV heads [kvh, kvh + nkvh), keys [k0, k1). Its rows are
 * numbered r = ((h - kvh) * ntok + (i - i0)) * group + g (ntok = i1 - i0).
 * part >= 0: the first of its rows in the partial buffers (a KV split,
 * split of nsplit); -1: writes out. */
typedef struct unit {
    int s, kvh, nkvh;
    int split, nsplit;
    int64_t i0, i1;
    int64_t k0, k1;
    int64_t part;
} unit;

/* The rows a unit reads after the current ones: keys [ja, ja + n) of
 * the KV head with tiles *kv. */
typedef struct next_rows {
    const kva_kv_tiles *kv;
    int64_t ja;
    int n;
} next_rows;

/* Where load_rows leaves rows read in place (kva_raw_rows' arrays). */
typedef struct raw_out {
    const void **rows;
    float *scale;
    float *gscale; /* NVFP4 group scales, D/16 a row; NULL: not wanted */
} raw_out;

typedef struct call_ctx {
    const kva_attn_params *p;
    const kva_varlen *b;
    kva_dtype dtype;
    kva_tiles_fn tiles;
    const void *tiles_ctx;
    const float *q;
    float *out, *lse;
    const kva_ops *ops;
    const float *lut;
    int group, D, Hq;
    int64_t unit_bytes, row_bytes; /* of the cache's dtype */
    /* single-token units read rows in the cache (ops->scores_raw /
     * pv_raw) rather than decoding them: the path has raw kernels, the
     * dtype is one they take and D % 8 == 0 */
    int raw;
    const void *zero_row; /* D zero codes of the dtype (keys not read) */
    const unit *units;
    int64_t n_units;
    atomic_llong next;
    float *part_m, *part_l, *part_acc;
} call_ctx;

/* One worker's scratch. */
typedef struct scratch {
    float *kc, *vc;          /* [CHUNK][D] decoded rows */
    const float **krow, **vrow; /* [CHUNK] row pointers */
    raw_out kraw, vraw;      /* [CHUNK] rows left in the cache (cc->raw) */
    raw_out knext, vnext;    /* [CHUNK] the rows the unit reads next */
    float *s;                /* [group][CHUNK] scores */
    float *pw;               /* [group][CHUNK] weights */
    float *acc;              /* [rows][D] */
    float *m, *l;            /* [rows] */
    kva_kv_tiles *kv;        /* [Hkv] the tiles of the unit's KV heads */
    uint8_t need[CHUNK];     /* keys some row of the unit sees */
} scratch;

/* The visible key range [lo, hi) of token i of a sequence. */
static inline void row_range(const kva_attn_params *p, int64_t ctx_len,
                             int64_t seq_len, int64_t i, int64_t *lo,
                             int64_t *hi)
{
    const int64_t pos = ctx_len + i;
    *hi = p->causal && pos + 1 < seq_len ? pos + 1 + KVA_MUT(30) : seq_len;
    *lo = p->window_left >= 0 && pos - p->window_left > 0
              ? pos - p->window_left + KVA_MUT(3)
              : 0;
}

/* Offset in units of the row of key j (tile and position in the tile),
 * and of its scale row (pooled kinds only). */
static inline int64_t key_tile(const kva_kv_tiles *kv, int64_t j,
                               int64_t *jrel)
{
    const int64_t b = j / kv->tile_len;
    *jrel = KVA_MUT(28) ? (j - b * kv->tile_len) & 0x7F /* 7-bit field */
                        : j - b * kv->tile_len;
    return kv->tile_ids ? kv->tile_ids[b] : b;
}

/* Decode one row of the cache (src, D elements of cc->dtype) into dst:
 * the scaled formats use s (the static or token scale); NVFP4 its group
 * codes at sbase + soff with the global scale s0. */
static void decode_row(const call_ctx *cc, float *restrict dst,
                       const void *src, float s, const uint8_t *codes,
                       float s0)
{
    const kva_ops *ops = cc->ops;
    const int D = cc->D;
    switch (cc->dtype) {
    case KVA_DTYPE_F32:
        memcpy(dst, src, (size_t)D * sizeof(float));
        break;
    case KVA_DTYPE_F16:
        ops->dec_f16(dst, src, D);
        break;
    case KVA_DTYPE_BF16:
        ops->dec_bf16(dst, src, D);
        break;
    case KVA_DTYPE_INT8:
        ops->dec_lut8(dst, src, cc->lut, s, D);
        break;
    case KVA_DTYPE_FP8_E4M3:
    case KVA_DTYPE_FP8_E5M2:
        ops->dec_fp8(dst, src, cc->dtype == KVA_DTYPE_FP8_E5M2, cc->lut, s,
                     D);
        break;
    case KVA_DTYPE_NVFP4: {
        const uint8_t *b = src;
        const float *restrict lut = cc->lut;
        for (int g = 0; g < D / 16; g++) {
            const float es =
                kva_nvfp4_effective_scale(codes[g + KVA_MUT(23)], s0);
            for (int k = 0; k < 8; k++) {
                const uint8_t byte = b[g * 8 + k];
                dst[g * 16 + 2 * k] = lut[byte & 0x0Fu] * es;
                dst[g * 16 + 2 * k + 1] = lut[byte >> 4] * es;
            }
        }
        break;
    }
    default: /* validated dtypes only */
        break;
    }
}

/* The effective scales of an NVFP4 row's D/16 groups, from their e4m3
 * codes and the global scale s0 (codes NULL: a row not read, scales 1). */
static void group_scales(float *es, int D, const uint8_t *codes, float s0)
{
    for (int g = 0; g < D / 16; g++)
        es[g] = codes != NULL
                    ? kva_nvfp4_effective_scale(codes[g + KVA_MUT(23)], s0)
                    : 1.0f;
}

/* The rows of keys [ja, ja + n) (they may span tiles), K or V. Decoded
 * (F32 copied: rows far apart in an NHD cache would alias in L1 when the
 * rows of a block read them again) into buf, rows[i] pointing at each;
 * or, when raw != NULL (cc->raw), left in the cache: raw->rows[i] their
 * addresses, raw->scale[i] their scales (FP8). A key with need[i] == 0
 * (need may be NULL: all needed) is not read at all: its row is zeros, or
 * cc->zero_row's zero codes (no row of the unit sees it; its scores are
 * discarded). */
static void load_rows(const call_ctx *cc, const kva_kv_tiles *kv, int is_v,
                      int64_t ja, int n, const uint8_t *need, float *buf,
                      const float **rows, raw_out *raw)
{
    const int D = cc->D;
    const char *base = is_v ? kv->v : kv->k;
    const int64_t ps = kv->pos_stride;
    const void *sbase = is_v ? kv->v_scales : kv->k_scales;
    const float s0 = is_v ? kv->v_scale : kv->k_scale;
    const int pooled = kva_scales_pooled(kv->kind);
    const int64_t sps = pooled ? kv->scale_pos_stride : 0;
    int i = 0;
    while (i < n) {
        int64_t jrel;
        const int64_t id = key_tile(kv, ja + i, &jrel);
        int m = n - i; /* keys left in this tile */
        if (kv->tile_len - jrel + KVA_MUT(2) < m)
            m = (int)(kv->tile_len - jrel + KVA_MUT(2));
        const int64_t off0 =
            KVA_MUT(10) ? (int64_t)(int32_t)((uint32_t)id *
                                                 (uint32_t)kv->tile_stride +
                                             (uint32_t)(jrel * ps))
                        : id * kv->tile_stride + jrel * ps;
        const int64_t soff0 =
            pooled ? (KVA_MUT(22) ? (ja + i) * sps /* logical position */
                                  : id * kv->scale_tile_stride + jrel * sps)
                   : 0;
        if (raw != NULL && (raw->scale == NULL || (need == NULL && !pooled))) {
            /* the common decode (every row read, one static scale), or
             * rows wanted for their addresses only (prefetch): no scale
             * pool is read */
            const char *src = base + off0 * cc->unit_bytes;
            const int64_t step = ps * cc->unit_bytes;
            for (int e = 0; e < m; e++, src += step) {
                raw->rows[i + e] = src;
                if (raw->scale != NULL)
                    raw->scale[i + e] = s0;
            }
            i += m;
            continue;
        }
        for (int e = 0; e < m; e++) {
            const int64_t soff = soff0 + e * sps;
            const int needed = need == NULL || need[i + e];
            const void *src = base + (off0 + e * ps) * cc->unit_bytes;
            const float s = needed && kv->kind == KVA_SCALE_TOKEN
                                ? ((const float *)sbase)[soff]
                                : s0;
            if (raw != NULL) {
                raw->rows[i + e] = needed ? src : cc->zero_row;
                raw->scale[i + e] = needed ? s : 1.0f;
                if (cc->dtype == KVA_DTYPE_NVFP4 && raw->gscale != NULL)
                    group_scales(raw->gscale + (int64_t)(i + e) * (D / 16),
                                 D, needed ? (const uint8_t *)sbase + soff
                                           : NULL,
                                 s0);
                continue;
            }
            float *dst = buf + (int64_t)(i + e) * D;
            rows[i + e] = dst;
            if (!needed)
                memset(dst, 0, (size_t)D * sizeof *dst);
            else
                decode_row(cc, dst, src, s,
                           pooled ? (const uint8_t *)sbase + soff : NULL, s0);
        }
        i += m;
    }
}

/* Ask for the K (is_v 0) or V rows of keys [ja, ja + n) ahead of use.
 * GCC takes a function whose only effect is __builtin_prefetch for one
 * without effects (pure-const analysis) and deletes every call, so the
 * prefetch never ran; noipa keeps the calls (clang keeps them anyway). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((noipa))
#endif
static void prefetch_rows(const call_ctx *cc, const kva_kv_tiles *kv,
                          int is_v, int64_t ja, int n)
{
    const char *base = is_v ? kv->v : kv->k;
    const int64_t ps = kv->pos_stride * cc->unit_bytes;
    int i = 0;
    while (i < n) { /* a run of rows per tile: one division per tile */
        int64_t jrel;
        const int64_t id = key_tile(kv, ja + i, &jrel);
        int m = n - i;
        if (kv->tile_len - jrel < m)
            m = (int)(kv->tile_len - jrel);
        const char *row =
            base + (id * kv->tile_stride + jrel * kv->pos_stride) *
                       cc->unit_bytes;
        for (int e = 0; e < m; e++, row += ps)
            for (int64_t o = 0; o < cc->row_bytes; o += 64)
                __builtin_prefetch(row + o);
        i += m;
    }
}

/* The keys any row of unit u can see, [*ulo, *uhi) inside [k0, k1)
 * (empty: *ulo >= *uhi). */
static void unit_keys(const call_ctx *cc, const unit *u, int64_t *ulo,
                      int64_t *uhi)
{
    const int64_t *qsl = cc->b->query_start_loc;
    const int64_t seq_len = cc->b->seq_lens[u->s];
    const int64_t ctx_len = seq_len - (qsl[u->s + 1] - qsl[u->s]);
    *ulo = u->k1;
    *uhi = u->k0;
    for (int64_t i = u->i0; i < u->i1; i++) {
        int64_t lo, hi;
        row_range(cc->p, ctx_len, seq_len, i, &lo, &hi);
        lo = lo > u->k0 ? lo : u->k0;
        hi = hi < u->k1 ? hi : u->k1;
        if (lo < hi) {
            *ulo = lo < *ulo ? lo : *ulo;
            *uhi = hi > *uhi ? hi : *uhi;
        }
    }
}

/* With a custom mask, which keys of [ja, ja + n) some token of the unit
 * sees (w->need); NULL when all are (or there is no mask): keys no row
 * of the unit sees are never read (K, V or scales). */
static const uint8_t *chunk_need(const call_ctx *cc, const unit *u,
                                 scratch *w, int64_t ja, int n)
{
    const uint8_t *mask = cc->b->masks != NULL ? cc->b->masks[u->s] : NULL;
    if (mask == NULL)
        return NULL;
    const int64_t *qsl = cc->b->query_start_loc;
    const int64_t seq_len = cc->b->seq_lens[u->s];
    const int64_t ctx_len = seq_len - (qsl[u->s + 1] - qsl[u->s]);
    int all = 1;
    for (int c = 0; c < n; c++) {
        const int64_t j = ja + c;
        uint8_t nd = 0;
        for (int64_t i = u->i0; i < u->i1 && !nd; i++) {
            int64_t lo, hi;
            row_range(cc->p, ctx_len, seq_len, i, &lo, &hi);
            nd = j >= lo && j < hi && mask[i * seq_len + j];
        }
        w->need[c] = nd;
        all &= nd;
    }
    return all ? NULL : w->need;
}

/* The softmax of one row r over its chunk scores sr[0..nk) (mask row mrow
 * or NULL): soft-cap, mask, chunk max, rescale of (m, l, acc) when the max
 * grows, weights into pw. Returns 0 when the row has no live key in the
 * chunk (pw all skips: no exp, no P.V). */
static int row_softmax(const call_ctx *cc, scratch *w, int64_t r, float *sr,
                       float *pw, int nk, const uint8_t *mrow)
{
    const kva_ops *ops = cc->ops;
    const float softcap = cc->p->softcap;
    /* soft-cap the visible keys' scores, -inf for the others */
    if (softcap > 0.0f && !KVA_MUT(14))
        for (int c = 0; c < nk; c++)
            if (mrow == NULL || mrow[c] != 0)
                sr[c] = softcap * tanhf(sr[c] / softcap);
    if (mrow != NULL)
        for (int c = 0; c < nk; c++)
            if (mrow[c] == 0)
                sr[c] = -INFINITY;
    /* NaN counts as live: garbage in, NaN out */
    int live;
    const float tmax = ops->rowmax(sr, nk, &live);
    if (!live) {
        for (int c = 0; c < nk; c++)
            pw[c] = KVA_P_SKIP;
        return 0;
    }
    float m = w->m[r], l = w->l[r];
    if (tmax > m) {
        /* m == -inf: nothing accumulated yet */
        if (m > -INFINITY) {
            const float alpha = expf(m - tmax);
            if (!KVA_MUT(7))
                l *= alpha;
            if (!KVA_MUT(6))
                ops->scale(w->acc + r * cc->D, alpha, cc->D);
        }
        m = tmax;
    }
    l += ops->weights(pw, sr, nk, m);
    w->m[r] = m;
    w->l[r] = l;
    return 1;
}

/* Keys [ja, ja + n) of the unit's h-th KV head (tiles *kv) for every
 * token of the unit: K rows decoded once, then per token the scores of
 * its group's rows, their softmax and (when a row is live) P.V, the V
 * rows decoded on first use. A unit of one token with cc->raw reads the
 * rows in the cache instead (each is read once): the same values. */
static void attend_chunk(const call_ctx *cc, const unit *u, scratch *w,
                         const kva_kv_tiles *kv, int h, int64_t ja, int n,
                         const uint8_t *need, const next_rows *nx)
{
    const kva_attn_params *p = cc->p;
    const int D = cc->D, group = cc->group, Hq = cc->Hq;
    const int kvh = u->kvh + h;
    const int64_t *qsl = cc->b->query_start_loc;
    const int64_t seq_len = cc->b->seq_lens[u->s];
    const int64_t ctx_len = seq_len - (qsl[u->s + 1] - qsl[u->s]);
    const uint8_t *mask = cc->b->masks != NULL ? cc->b->masks[u->s] : NULL;
    const int64_t ntok = u->i1 - u->i0, jb = ja + n;
    const int raw = cc->raw && ntok == 1;
    const int nn = raw && nx != NULL ? nx->n : 0;
    if (nn > 0) {
        load_rows(cc, nx->kv, 0, nx->ja, nn, NULL, NULL, NULL, &w->knext);
        load_rows(cc, nx->kv, 1, nx->ja, nn, NULL, NULL, NULL, &w->vnext);
    }
    const kva_raw_rows kr = {cc->dtype,     w->kraw.rows, w->kraw.scale,
                             w->kraw.gscale, w->knext.rows, nn,
                             cc->row_bytes};
    const kva_raw_rows vr = {cc->dtype,     w->vraw.rows, w->vraw.scale,
                             w->vraw.gscale, w->vnext.rows, nn,
                             cc->row_bytes};
    load_rows(cc, kv, 0, ja, n, need, w->kc, w->krow, raw ? &w->kraw : NULL);
    int v_ready = 0;
    for (int64_t i = u->i0; i < u->i1; i++) {
        int64_t lo, hi;
        row_range(p, ctx_len, seq_len, i, &lo, &hi);
        lo = lo > u->k0 ? lo : u->k0;
        hi = hi < u->k1 ? hi : u->k1;
        const int64_t a = lo > ja ? lo : ja;
        const int64_t e = hi < jb ? hi : jb;
        if (a >= e)
            continue;
        const int nk = (int)(e - a);
        const int64_t t = qsl[u->s] + i;
        /* KVA_MUT(12): query head h read as KV head h % Hkv */
        const int64_t row0 =
            t * Hq + (int64_t)kvh * (KVA_MUT(12) ? 1 : group);
        const float *qr = cc->q + row0 * D;
        const int64_t ldq = (int64_t)D * (KVA_MUT(12) ? Hq / group : 1);
        const float scale =
            KVA_MUT(15) && p->softcap > 0.0f ? 1.0f : p->scale;
        if (raw) {
            const kva_raw_rows ka = {
                kr.dtype,   kr.rows + (a - ja), kr.scale + (a - ja),
                kr.gscale + (a - ja) * (D / 16), kr.next,
                kr.n_next,  kr.next_bytes};
            cc->ops->scores_raw(w->s, CHUNK, qr, ldq, group, &ka, nk, D,
                                scale);
        } else {
            cc->ops->scores(w->s, CHUNK, qr, ldq, group, w->krow + (a - ja),
                            nk, D, scale);
        }
        const uint8_t *mrow = mask != NULL ? mask + i * seq_len + a : NULL;
        /* the token's first row with live keys: rows from it on take part
         * in P.V (rows without live keys have only skips) */
        const int64_t rt = ((int64_t)h * ntok + (i - u->i0)) * group;
        int gfirst = -1;
        for (int g = 0; g < group; g++)
            if (row_softmax(cc, w, rt + g, w->s + (int64_t)g * CHUNK,
                            w->pw + (int64_t)g * CHUNK, nk, mrow) &&
                gfirst < 0)
                gfirst = g;
        if (gfirst < 0)
            continue;
        if (!v_ready) {
            load_rows(cc, kv, 1, ja, n, need, w->vc, w->vrow,
                      raw ? &w->vraw : NULL);
            v_ready = 1;
        }
        float *acc = w->acc + (rt + gfirst) * D;
        const float *pw = w->pw + gfirst * CHUNK;
        if (raw) {
            const kva_raw_rows va = {
                vr.dtype,   vr.rows + (a - ja), vr.scale + (a - ja),
                vr.gscale + (a - ja) * (D / 16), vr.next,
                vr.n_next,  vr.next_bytes};
            cc->ops->pv_raw(acc, pw, CHUNK, group - gfirst, &va, nk, D);
        } else {
            cc->ops->pv(acc, pw, CHUNK, group - gfirst, w->vrow + (a - ja),
                        nk, D);
        }
    }
}

/* The unit's rows to out and lse (or, for a KV split, its (m, l, acc) to
 * the partial buffers for the merge). */
static void finish_unit(const call_ctx *cc, const unit *u, const scratch *w)
{
    const int D = cc->D, group = cc->group, Hq = cc->Hq;
    const int64_t ntok = u->i1 - u->i0;
    const int64_t R = ntok * group * u->nkvh;
    if (u->part >= 0) {
        memcpy(cc->part_m + u->part, w->m, (size_t)R * sizeof(float));
        memcpy(cc->part_l + u->part, w->l, (size_t)R * sizeof(float));
        memcpy(cc->part_acc + u->part * D, w->acc,
               (size_t)(R * D) * sizeof(float));
        return;
    }
    const int64_t t0 = cc->b->query_start_loc[u->s] + u->i0;
    for (int64_t r = 0; r < R; r++) {
        const int g = (int)(r % group);
        const int64_t t = t0 + r / group % ntok;
        const int kvh = u->kvh + (int)(r / (group * ntok));
        const int64_t row =
            KVA_MUT(12) ? t * Hq + (int64_t)g * (Hq / group) + kvh
                        : t * Hq + (int64_t)kvh * group + g;
        float *o = cc->out + row * D;
        const float *acc = w->acc + r * D;
        const float l = w->l[r];
        if (l == 0.0f) {
            /* no visible key: the contract's empty row, never NaN */
            memset(o, 0, (size_t)D * sizeof *o);
            if (cc->lse != NULL)
                cc->lse[row] = -INFINITY;
            continue;
        }
        for (int d = 0; d < D; d++)
            o[d] = acc[d] / l;
        if (cc->lse != NULL)
            cc->lse[row] = KVA_MUT(31)   ? (w->m[r] + logf(l)) * 1.4426950f
                           : KVA_MUT(32) ? logf(l) /* the max forgotten */
                                         : w->m[r] + logf(l);
    }
}

static void run_unit(const call_ctx *cc, const unit *u, scratch *w)
{
    const int64_t R = (u->i1 - u->i0) * cc->group * u->nkvh;
    for (int64_t r = 0; r < R; r++) {
        w->m[r] = -INFINITY;
        w->l[r] = 0.0f;
    }
    memset(w->acc, 0, (size_t)(R * cc->D) * sizeof(float));

    int64_t ulo, uhi;
    unit_keys(cc, u, &ulo, &uhi);
    for (int h = 0; h < u->nkvh && ulo < uhi; h++)
        cc->tiles(cc->tiles_ctx, u->s, u->kvh + h, &w->kv[h]);
    /* chunks: key positions [c*CHUNK, (c+1)*CHUNK), whatever the tiles,
     * clipped to [ulo, uhi) (clipping never changes what a row sees in a
     * chunk: its keys lie inside [ulo, uhi)); every KV head of the unit
     * takes the chunk in turn, so a cache whose heads sit side by side
     * (NHD) is read in address order */
    const int64_t c0 = ulo / CHUNK * CHUNK;
    for (int64_t cs = c0; cs < uhi; cs += CHUNK) {
        const int64_t ja = cs > ulo ? cs : ulo;
        const int64_t jb = cs + CHUNK < uhi ? cs + CHUNK - KVA_MUT(1) : uhi;
        const int n = (int)(jb - ja);
        /* the K and V rows PREFETCH_CHUNKS chunks ahead (and at the
         * start, those of the chunks before that), for a unit of one KV
         * head: it reads one row every pos_stride, which the hardware's
         * prefetchers miss. A unit of every head reads the cache in
         * address order, which they follow; a burst of software
         * prefetches there only slowed it (f16 decode, 4k keys: 2.45 ms
         * with, 1.95 ms without) */
        for (int64_t pc = cs == c0 ? cs + CHUNK : cs + PREFETCH_CHUNKS * CHUNK;
             u->nkvh == 1 && pc <= cs + PREFETCH_CHUNKS * CHUNK && pc < uhi;
             pc += CHUNK) {
            const int64_t pe = pc + CHUNK < uhi || KVA_MUT(9) ? pc + CHUNK : uhi;
            for (int h = 0; h < u->nkvh; h++) {
                prefetch_rows(cc, &w->kv[h], 0, pc, (int)(pe - pc));
                prefetch_rows(cc, &w->kv[h], 1, pc, (int)(pe - pc));
            }
        }
        const uint8_t *need = chunk_need(cc, u, w, ja, n);
        for (int h = 0; h < u->nkvh; h++) {
            /* a unit of every head: what it reads next (the next head's
             * rows of this chunk, or the first head's of the next chunk)
             * is prefetched while this head computes */
            const int64_t nb = cs + 2 * CHUNK < uhi ? cs + 2 * CHUNK : uhi;
            const next_rows nx =
                h + 1 < u->nkvh ? (next_rows){&w->kv[h + 1], ja, n}
                : cs + CHUNK < uhi
                    ? (next_rows){&w->kv[0], cs + CHUNK, (int)(nb - cs - CHUNK)}
                    : (next_rows){NULL, 0, 0};
            attend_chunk(cc, u, w, &w->kv[h], h, ja, n, need,
                         u->nkvh > 1 && nx.kv != NULL ? &nx : NULL);
        }
    }
    finish_unit(cc, u, w);
}

/* Merge the nsplit partials of the split starting at units[u0], row by
 * row, in split order; then write out and lse. */
static void merge_split(const call_ctx *cc, const unit *first)
{
    const int D = cc->D, group = cc->group, Hq = cc->Hq;
    const int ns = first->nsplit;
    const int64_t *qsl = cc->b->query_start_loc;
    const int64_t ntok = first->i1 - first->i0;
    const int64_t R = ntok * group * first->nkvh;
    for (int64_t r = 0; r < R; r++) {
        const int64_t i = first->i0 + r / group % ntok;
        const int g = (int)(r % group);
        const int kvh = first->kvh + (int)(r / (group * ntok));
        const int64_t row = (qsl[first->s] + i) * Hq + (int64_t)kvh * group + g;
        float *o = cc->out + row * D;
        float M = -INFINITY;
        int any = 0;
        for (int k = 0; k < ns; k++) {
            const int64_t pr = first[k].part + r;
            if (cc->part_l[pr] != 0.0f) { /* NaN included */
                any = 1;
                /* KVA_MUT(18): the first live part's max, not the max */
                if (cc->part_m[pr] > M && (!KVA_MUT(18) || M == -INFINITY))
                    M = cc->part_m[pr];
            }
        }
        float L = 0.0f;
        if (any) {
            memset(o, 0, (size_t)D * sizeof *o);
            for (int k = 0; k < ns; k++) {
                const int64_t pr = first[k].part + r;
                const float lk = cc->part_l[pr];
                if (lk == 0.0f)
                    continue;
                const float mk = cc->part_m[pr];
                const float wk = mk == M ? 1.0f : expf(mk - M);
                L += lk * wk;
                const float *acc = cc->part_acc + pr * D;
                for (int d = 0; d < D; d++)
                    o[d] += wk * acc[d];
            }
        }
        if (L == 0.0f) {
            memset(o, 0, (size_t)D * sizeof *o);
            if (cc->lse != NULL)
                cc->lse[row] = -INFINITY;
            continue;
        }
        for (int d = 0; d < D; d++)
            o[d] = o[d] / L;
        if (cc->lse != NULL)
            cc->lse[row] = M + logf(L);
    }
}

/* How a sequence is cut into units. It depends only on the sequence and
 * the params, never on the thread count or the rest of the batch. */
typedef struct seq_plan {
    int64_t q_len, seq_len;
    int64_t slo; /* the first key any of its queries can see */
    int64_t ns;  /* KV splits (1: none) */
    int nh;      /* KV heads per unit: 1, or all when they fit FUSE_ROWS */
    int64_t units, part_rows, max_rows;
} seq_plan;

static seq_plan plan_seq(const kva_attn_params *p, const kva_varlen *b,
                         int s, int group, int64_t qt, int fuse_heads)
{
    const int Hkv = p->num_kv_heads;
    seq_plan sp = {0};
    sp.q_len = b->query_start_loc[s + 1] - b->query_start_loc[s];
    sp.seq_len = b->seq_lens[s];
    if (sp.q_len == 0)
        return sp; /* nothing to compute */
    const int64_t ctx_len = sp.seq_len - sp.q_len;
    if (p->window_left >= 0 && ctx_len - p->window_left > 0)
        sp.slo = ctx_len - p->window_left + KVA_MUT(5);
    const int64_t keys = sp.seq_len - sp.slo;
    sp.ns = 1;
    if (sp.q_len <= qt && keys >= SPLIT_MIN_KEYS)
        sp.ns = keys / SPLIT_PART_KEYS;
    sp.nh = sp.q_len <= qt && sp.q_len * group * Hkv <= FUSE_ROWS
                ? fuse_heads
                : 1;
    const int64_t qblocks = sp.ns > 1 ? 1 : (sp.q_len + qt - 1) / qt;
    sp.units = sp.ns * (Hkv / sp.nh) * qblocks;
    sp.part_rows = sp.ns > 1 ? sp.ns * Hkv * sp.q_len * group : 0;
    sp.max_rows = (sp.q_len < qt ? sp.q_len : qt) * group * sp.nh;
    return sp;
}

/* Appends the units of sequence s (plan *sp) at units[*nu], their
 * partial rows (KV splits) from row *pr on. */
static void add_units(const seq_plan *sp, int s, int Hkv, int group,
                      int64_t qt, unit *units, int64_t *nu, int64_t *pr)
{
    if (sp->q_len == 0)
        return;
    const int64_t keys = sp->seq_len - sp->slo;
    /* KV split parts of ceil(keys / ns) keys rounded up to CHUNK; the
     * last takes the rest (possibly empty: then nothing) */
    int64_t part_len = (keys + sp->ns - 1) / sp->ns;
    part_len = (part_len + CHUNK - 1) / CHUNK * CHUNK;
    for (int kvh = 0; kvh < Hkv; kvh += sp->nh) {
        for (int64_t k = 0; sp->ns > 1 && k < sp->ns; k++) {
            unit *u = &units[(*nu)++];
            u->s = s;
            u->kvh = kvh;
            u->nkvh = sp->nh;
            u->split = (int)k;
            u->nsplit = (int)sp->ns;
            u->i0 = 0;
            u->i1 = sp->q_len;
            u->k0 = sp->slo + k * part_len + (k > 0 ? KVA_MUT(27) : 0);
            u->k1 = k + 1 == sp->ns ? sp->seq_len : sp->slo + (k + 1) * part_len;
            if (u->k0 > sp->seq_len)
                u->k0 = sp->seq_len;
            if (u->k1 > sp->seq_len)
                u->k1 = sp->seq_len;
            u->part = *pr;
            *pr += sp->q_len * group * sp->nh;
        }
        for (int64_t i0 = 0; sp->ns == 1 && i0 < sp->q_len; i0 += qt) {
            unit *u = &units[(*nu)++];
            u->s = s;
            u->kvh = kvh;
            u->nkvh = sp->nh;
            u->split = 0;
            u->nsplit = 1;
            u->i0 = i0 + (i0 > 0 ? KVA_MUT(26) : 0);
            u->i1 = i0 + qt < sp->q_len ? i0 + qt : sp->q_len;
            u->k0 = 0;
            u->k1 = sp->seq_len;
            u->part = -1;
        }
    }
}

typedef struct worker_arg {
    call_ctx *cc;
    scratch *w;
} worker_arg;

static void *worker(void *arg)
{
    const worker_arg *wa = arg;
    call_ctx *cc = wa->cc;
    for (;;) {
        const long long u = atomic_fetch_add(&cc->next, 1);
        if (u >= cc->n_units - KVA_MUT(35))
            break;
        run_unit(cc, &cc->units[u], wa->w);
    }
    return NULL;
}

kva_status kva_attend_batch(const kva_attn_params *p, const kva_varlen *b,
                            kva_dtype dtype, kva_tiles_fn tiles,
                            const void *tiles_ctx, int64_t max_tile_len,
                            const float *q, float *out, float *lse,
                            kva_error *err)
{
    (void)max_tile_len;
    const int S = b->num_seqs;
    const int64_t *qsl = b->query_start_loc;
    if (S == 0 || qsl[S] == 0)
        return KVA_OK; /* no real token: nothing to compute or write */

    const int D = p->head_dim, Hq = p->num_q_heads, Hkv = p->num_kv_heads;
    /* KVA_MUT(13): a shift that is a division only for power-of-two Hkv */
    const int group = KVA_MUT(13) ? Hq >> __builtin_ctz((unsigned)Hkv)
                                  : Hq / Hkv;
    const int64_t qt = group >= QBLOCK_ROWS ? 1 : QBLOCK_ROWS / group;

    /* Count the units, the partial rows and the rows of the largest
     * unit. */
    int nth = p->num_threads > 1 ? p->num_threads : 1;
    /* A sequence with few query rows takes its KV heads fuse_heads at a
     * time: all of them, halved while the batch has fewer units than
     * threads (a short decode alone would leave all but one idle). Which
     * heads share a unit never changes a row's arithmetic. */
    int fuse_heads = Hkv;
    int64_t n_units, n_part_rows, max_rows;
    for (;;) {
        n_units = n_part_rows = 0;
        max_rows = 1;
        for (int s = 0; s < S; s++) {
            const seq_plan sp = plan_seq(p, b, s, group, qt, fuse_heads);
            n_units += sp.units;
            n_part_rows += sp.part_rows;
            max_rows = sp.max_rows > max_rows ? sp.max_rows : max_rows;
        }
        if (n_units >= nth || fuse_heads % 2 != 0)
            break;
        fuse_heads /= 2;
    }

    if (nth > n_units)
        nth = (int)n_units;
    /* floats of one worker's scratch: decoded K and V rows, raw row
     * scales, scores, weights, and (acc, m, l) of its rows */
    const int64_t per_worker = 2 * (int64_t)CHUNK * D + 2 * CHUNK +
                               2 * (int64_t)CHUNK * (D / 16) +
                               2 * (int64_t)group * CHUNK +
                               max_rows * D + 2 * max_rows;
    const int64_t n_floats =
        per_worker * nth + n_part_rows * ((int64_t)D + 2) + D;
    const int64_t bytes_units = n_units * (int64_t)sizeof(unit);
    const int64_t bytes_ptrs = 6 * CHUNK * (int64_t)sizeof(float *) * nth;
    if (n_floats > (INT64_MAX / 8 - bytes_units - bytes_ptrs) / 4)
        return kva_fail(err, KVA_ERR_NOMEM,
                        "cannot allocate attention scratch");
    const size_t bytes = (size_t)bytes_ptrs + (size_t)bytes_units +
                         (size_t)n_floats * sizeof(float) +
                         nth * sizeof(scratch) + nth * sizeof(worker_arg) +
                         nth * sizeof(pthread_t) +
                         (size_t)nth * (size_t)Hkv * sizeof(kva_kv_tiles) + 64;
    if ((uint64_t)bytes > SIZE_MAX / 2)
        return kva_fail(err, KVA_ERR_NOMEM,
                        "cannot allocate attention scratch");
    char *mem = malloc(bytes);
    if (mem == NULL)
        return kva_fail(err, KVA_ERR_NOMEM,
                        "cannot allocate attention scratch of %zu bytes",
                        bytes);
    /* carve: pointers first (8-byte aligned), then units, then floats */
    char *cur = mem;
    const float **ptrs = (const float **)cur;
    cur += bytes_ptrs;
    unit *units = (unit *)cur;
    cur += bytes_units;
    scratch *ws = (scratch *)cur;
    cur += nth * sizeof(scratch);
    worker_arg *wargs = (worker_arg *)cur;
    cur += nth * sizeof(worker_arg);
    pthread_t *tids = (pthread_t *)cur;
    cur += nth * sizeof(pthread_t);
    kva_kv_tiles *tiles_mem = (kva_kv_tiles *)cur;
    cur += (size_t)nth * (size_t)Hkv * sizeof(kva_kv_tiles);
    float *fl = (float *)cur;

    float *part_m = fl, *part_l = fl + n_part_rows;
    float *part_acc = fl + 2 * n_part_rows;
    fl += n_part_rows * ((int64_t)D + 2);
    float *zero_row = fl; /* D floats: zero codes of any dtype */
    memset(zero_row, 0, (size_t)D * sizeof(float));
    fl += D;
    for (int t = 0; t < nth; t++) {
        scratch *w = &ws[t];
        w->krow = ptrs + (int64_t)t * 6 * CHUNK;
        w->vrow = w->krow + CHUNK;
        w->kraw.rows = (const void **)(w->vrow + CHUNK);
        w->vraw.rows = w->kraw.rows + CHUNK;
        w->knext.rows = w->vraw.rows + CHUNK;
        w->vnext.rows = w->knext.rows + CHUNK;
        w->kv = tiles_mem + (int64_t)t * Hkv;
        w->kc = fl;
        w->vc = fl + (int64_t)CHUNK * D;
        fl += 2 * (int64_t)CHUNK * D;
        w->kraw.scale = fl;
        w->vraw.scale = fl + CHUNK;
        /* rows prefetched only: addresses, no scales (a masked key's
         * scale is never read) */
        w->knext.scale = w->vnext.scale = NULL;
        fl += 2 * CHUNK;
        w->kraw.gscale = fl;
        w->vraw.gscale = fl + (int64_t)CHUNK * (D / 16);
        fl += 2 * (int64_t)CHUNK * (D / 16);
        w->knext.gscale = w->vnext.gscale = NULL;
        w->s = fl;
        fl += (int64_t)group * CHUNK;
        w->pw = fl;
        fl += (int64_t)group * CHUNK;
        w->acc = fl;
        fl += max_rows * D;
        w->m = fl;
        w->l = fl + max_rows;
        fl += 2 * max_rows;
    }

    /* The units, sequence by sequence. */
    int64_t nu = 0, pr = 0;
    for (int s = 0; s < S; s++) {
        const seq_plan sp = plan_seq(p, b, s, group, qt, fuse_heads);
        add_units(&sp, s, Hkv, group, qt, units, &nu, &pr);
    }

    float lut[256];
    call_ctx cc;
    cc.p = p;
    cc.b = b;
    cc.dtype = dtype;
    cc.tiles = tiles;
    cc.tiles_ctx = tiles_ctx;
    cc.q = q;
    cc.out = out;
    cc.lse = lse;
    cc.ops = kva_active_ops();
    cc.lut = build_lut(dtype, lut) > 0 ? lut : NULL;
    cc.group = group;
    cc.D = D;
    cc.Hq = Hq;
    cc.raw = cc.ops->scores_raw != NULL && D % 8 == 0 &&
             (dtype == KVA_DTYPE_F32 || dtype == KVA_DTYPE_F16 ||
              dtype == KVA_DTYPE_BF16 || dtype == KVA_DTYPE_FP8_E4M3 ||
              dtype == KVA_DTYPE_FP8_E5M2 || dtype == KVA_DTYPE_INT8 ||
              dtype == KVA_DTYPE_NVFP4);
    cc.zero_row = zero_row;
    cc.unit_bytes = kva_unit_bytes(dtype);
    cc.row_bytes = kva_row_units(dtype, D) * cc.unit_bytes;
    cc.units = units;
    cc.n_units = nu;
    atomic_init(&cc.next, 0);
    cc.part_m = part_m;
    cc.part_l = part_l;
    cc.part_acc = part_acc;

    if (nth <= 1) {
        for (int64_t u = 0; u < nu; u++)
            run_unit(&cc, &units[u], &ws[0]);
    } else {
        int started = 0;
        for (int t = 1; t < nth; t++) {
            wargs[t].cc = &cc;
            wargs[t].w = &ws[t];
            if (pthread_create(&tids[t], NULL, worker, &wargs[t]) != 0)
                break; /* the others take its units */
            started = t;
        }
        wargs[0].cc = &cc;
        wargs[0].w = &ws[0];
        worker(&wargs[0]);
        for (int t = 1; t <= started; t++)
            pthread_join(tids[t], NULL);
    }

    /* KV splits: merge in a fixed order, after every unit is done. */
    for (int64_t u = 0; u < nu; u++)
        if (units[u].part >= 0 && units[u].split == 0)
            merge_split(&cc, &units[u]);

    free(mem);
    return KVA_OK;
}
