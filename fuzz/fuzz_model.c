/* fuzz_model.c — see fuzz_model.h. Written from kernels/kvattn.h and
 * docs/kv-formats.md only (codes through the oracle's codecs). */
#include "fuzz_model.h"

#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../oracle/kv_format.h"

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- verdicts ---- */

void fzm_verdict_init(fzm_verdict *v)
{
    memset(v, 0, sizeof *v);
}

void fzm_must(fzm_verdict *v, kva_status st, const char *fmt, ...)
{
    if (!v->must_refuse) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->reason, sizeof v->reason, fmt, ap);
        va_end(ap);
    }
    v->must_refuse = 1;
    v->must |= 1u << st;
    v->allowed |= 1u << st;
}

void fzm_may(fzm_verdict *v, kva_status st)
{
    v->allowed |= 1u << st;
}

int fzm_check_status(const char *what, kva_status st, const kva_error *err,
                     const fzm_verdict *v)
{
    FZ_ASSERT((int)st >= KVA_OK && (int)st <= KVA_ERR_FORMAT,
              "%s returned %d, not a kva_status", what, (int)st);
#ifdef FZ_TRACE
    /* -DFZ_TRACE: one line per call, to measure what a corpus exercises */
    fprintf(stderr, "FZ_TRACE %s %s must_refuse=%d\n", what,
            kva_status_name(st), v->must_refuse);
#endif
    if (st == KVA_OK) {
        FZ_ASSERT(!v->must_refuse, "%s accepted an input the contract says "
                  "it must refuse: %s", what, v->reason);
        return 0;
    }
    if (st == KVA_ERR_FORMAT)
        FZ_ASSERT(v->allowed & (1u << st), "%s refused with KVA_ERR_FORMAT, "
                  "but the cache format is valid (%s)", what,
                  v->must_refuse ? v->reason : "no violation at all");
    if (v->codes_known && st != KVA_ERR_NOMEM)
        FZ_ASSERT(v->allowed & (1u << st),
                  "%s refused with %s (\"%.200s\"), not a status the "
                  "contract gives for this input (%s)", what,
                  kva_status_name(st), err ? err->msg : "no message asked",
                  v->must_refuse ? v->reason : "the model expected success");
    if (err != NULL) {
        FZ_ASSERT(err->status == st, "%s returned %s but err->status is %s",
                  what, kva_status_name(st), kva_status_name(err->status));
        FZ_ASSERT(memchr(err->msg, '\0', sizeof err->msg) != NULL,
                  "%s: err->msg is not NUL-terminated", what);
        FZ_ASSERT(err->msg[0] != '\0', "%s refused (%s) with an empty message",
                  what, kva_status_name(st));
    }
    return 1;
}

/* ---- paged cache ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Whether the strides nest (kvattn.h): taking the dimensions with more
 * than one index from the smallest stride up, each stride is at least the
 * extent of the row and the dimensions inside it. NHD, HND and padded
 * layouts do; a layout that does not may be refused even when its rows
 * are disjoint. Strides are non-negative and bounded here (checked
 * before), so the extents cannot overflow. */
static int strides_nest(const int64_t count[3], const int64_t stride[3],
                        int64_t row)
{
    int64_t s[3], c[3];
    int n = 0;
    for (int i = 0; i < 3; i++)
        if (count[i] > 1) {
            int j = n++;
            for (; j > 0 && s[j - 1] > stride[i]; j--) {
                s[j] = s[j - 1];
                c[j] = c[j - 1];
            }
            s[j] = stride[i];
            c[j] = count[i];
        }
    int64_t extent = row;
    for (int i = 0; i < n; i++) {
        if (s[i] < extent)
            return 0;
        extent += s[i] * (c[i] - 1);
    }
    return 1;
}

void fzm_check_rows(const char *what, const int64_t count[3],
                    const int64_t stride[3], int64_t row, int64_t units,
                    fzm_verdict *v)
{
    for (int i = 0; i < 3; i++)
        if (count[i] == 1 && stride[i] < 0)
            fzm_may(v, KVA_ERR_SHAPE); /* "non-negative", never used */
    if (units < row) {
        fzm_must(v, KVA_ERR_SHAPE, "%s: %" PRId64 " units cannot hold one "
                 "row of %" PRId64, what, units, row);
        return;
    }
    /* Every row lies inside [0, units) only if each dimension's last
     * index does on its own (the offsets add). */
    const int64_t room = units - row;
    for (int i = 0; i < 3; i++) {
        if (count[i] == 1)
            continue; /* index always 0: the stride never matters */
        if (stride[i] < 0) {
            fzm_must(v, KVA_ERR_SHAPE, "%s: stride %d is negative (%" PRId64
                     ") with %" PRId64 " indices: a row lies below 0", what,
                     i, stride[i], count[i]);
            return;
        }
        if (stride[i] > 0 && count[i] - 1 > room / stride[i]) {
            fzm_must(v, KVA_ERR_SHAPE, "%s: dimension %d (stride %" PRId64
                     " x %" PRId64 ") reaches past %" PRId64 " units", what,
                     i, stride[i], count[i], units);
            return;
        }
    }
    /* Pigeonhole: non-overlapping rows of `row` units need rows*row. */
    int64_t rows = count[0];
    for (int i = 1; i < 3; i++) {
        if (rows > units / count[i]) {
            rows = -1;
            break;
        }
        rows *= count[i];
    }
    if (rows < 0 || rows > units / row) {
        fzm_must(v, KVA_ERR_SHAPE, "%s: %" PRId64 " x %" PRId64 " x %" PRId64
                 " rows of %" PRId64 " units cannot fit in %" PRId64
                 " without overlapping", what, count[0], count[1], count[2],
                 row, units);
        return;
    }
    /* rows <= units: enumerate, sort, look for an overlap. Each term is
     * <= room, so the sums cannot overflow. */
    int64_t *off = fz_alloc((size_t)rows, sizeof *off);
    int64_t n = 0;
    for (int64_t b = 0; b < count[0]; b++)
        for (int64_t t = 0; t < count[1]; t++)
            for (int64_t h = 0; h < count[2]; h++)
                off[n++] = (count[0] > 1 ? b * stride[0] : 0) +
                           (count[1] > 1 ? t * stride[1] : 0) +
                           (count[2] > 1 ? h * stride[2] : 0);
    if (!strides_nest(count, stride, row))
        fzm_may(v, KVA_ERR_SHAPE); /* disjoint rows, strides that do not nest */
    qsort(off, (size_t)n, sizeof *off, cmp_i64);
    for (int64_t i = 0; i < n; i++) {
        if (off[i] + row > units) {
            fzm_must(v, KVA_ERR_SHAPE, "%s: a row at offset %" PRId64
                     " ends past %" PRId64 " units", what, off[i], units);
            break;
        }
        if (i + 1 < n && off[i + 1] < off[i] + row) {
            fzm_must(v, KVA_ERR_SHAPE, "%s: rows at offsets %" PRId64 " and %"
                     PRId64 " overlap (rows of %" PRId64 " units)", what,
                     off[i], off[i + 1], row);
            break;
        }
    }
    free(off);
}

/* The row units of a cache's K/V rows when the format makes them known:
 * -1 for an unknown dtype or an NVFP4 head_dim that is not a multiple of
 * 16 (refused with KVA_ERR_FORMAT anyway; a kernel may then also find the
 * geometry wrong). */
static int64_t known_row_units(int dtype, int64_t D)
{
    if (dtype < KVA_DTYPE_F32 || dtype > KVA_DTYPE_NVFP4)
        return -1;
    if (dtype == KVA_DTYPE_NVFP4 && D % 16 != 0)
        return -1;
    return fzm_row_units(dtype, D);
}

void fzm_check_cache(const kva_paged_cache *c, fzm_verdict *v)
{
    if (c->k == NULL || c->v == NULL) {
        fzm_must(v, KVA_ERR_NULL, "cache k or v is NULL");
        return;
    }
    if (c->num_blocks < 1 || c->block_size < 1 || c->num_kv_heads < 1 ||
        c->head_dim < 1) {
        fzm_must(v, KVA_ERR_SHAPE, "cache sizes num_blocks %" PRId64
                 " block_size %d heads %d head_dim %d must all be >= 1",
                 c->num_blocks, c->block_size, c->num_kv_heads, c->head_dim);
        return;
    }
    const int64_t count[3] = {c->num_blocks, c->block_size, c->num_kv_heads};
    fzm_check_format((int)c->dtype, &c->scales, c->num_kv_heads, c->head_dim,
                     count, 1, v);
    const int64_t row = known_row_units((int)c->dtype, c->head_dim);
    if (row < 0) {
        fzm_may(v, KVA_ERR_SHAPE);
        return;
    }
    const int64_t stride[3] = {c->stride_block, c->stride_slot, c->stride_head};
    fzm_check_rows("cache k/v", count, stride, row, c->pool_elems, v);
}

/* ---- cache formats ---- */

static int dtype_known(int d)
{
    return d >= KVA_DTYPE_F32 && d <= KVA_DTYPE_NVFP4;
}

static int kind_known(int k)
{
    return k >= KVA_SCALE_NONE && k <= KVA_SCALE_GROUP;
}

int fzm_unit_bytes(int dtype)
{
    switch (dtype) {
    case KVA_DTYPE_F32: return 4;
    case KVA_DTYPE_F16:
    case KVA_DTYPE_BF16: return 2;
    default: return 1;
    }
}

int64_t fzm_row_units(int dtype, int64_t D)
{
    return dtype == KVA_DTYPE_NVFP4 ? (D + 1) / 2 : D;
}

int fzm_kind_valid(int dtype, int kind)
{
    if (!dtype_known(dtype) || !kind_known(kind))
        return 0;
    switch (dtype) {
    case KVA_DTYPE_FP8_E4M3:
    case KVA_DTYPE_FP8_E5M2:
    case KVA_DTYPE_INT8:
        return kind == KVA_SCALE_TENSOR || kind == KVA_SCALE_HEAD ||
               kind == KVA_SCALE_TOKEN;
    case KVA_DTYPE_NVFP4:
        return kind == KVA_SCALE_GROUP;
    default:
        return kind == KVA_SCALE_NONE;
    }
}

int64_t fzm_scale_row_units(int kind, int64_t D)
{
    return kind == KVA_SCALE_TOKEN ? 1 : kind == KVA_SCALE_GROUP ? D / 16 : 0;
}

int fzm_scale_unit_bytes(int kind)
{
    return kind == KVA_SCALE_TOKEN ? 4 : kind == KVA_SCALE_GROUP ? 1 : 0;
}

static int static_ok(float s)
{
    return isfinite(s) && s > 0.0f;
}

void fzm_check_format(int dtype, const kva_kv_scales *sc, int Hkv, int D,
                      const int64_t count[3], int pools_needed,
                      fzm_verdict *v)
{
    const int kind = (int)sc->kind;
    if (!dtype_known(dtype))
        fzm_must(v, KVA_ERR_FORMAT, "dtype %d is not a kva_dtype", dtype);
    if (!kind_known(kind))
        fzm_must(v, KVA_ERR_FORMAT, "scale kind %d is not a kva_scale_kind",
                 kind);
    if (dtype_known(dtype) && kind_known(kind) && !fzm_kind_valid(dtype, kind))
        fzm_must(v, KVA_ERR_FORMAT, "dtype %d does not take scale kind %d",
                 dtype, kind);
    if (dtype == KVA_DTYPE_NVFP4 && D >= 1 && D % 16 != 0)
        fzm_must(v, KVA_ERR_FORMAT, "NVFP4 head_dim %d is not a multiple of "
                 "16", D);
    if (kind == KVA_SCALE_TENSOR || kind == KVA_SCALE_GROUP) {
        if (!static_ok(sc->k_tensor) || !static_ok(sc->v_tensor))
            fzm_must(v, KVA_ERR_FORMAT, "static scales k %g v %g must be "
                     "finite and > 0", (double)sc->k_tensor,
                     (double)sc->v_tensor);
    }
    if (kind == KVA_SCALE_HEAD) {
        if (sc->k_head == NULL || sc->v_head == NULL)
            fzm_must(v, KVA_ERR_NULL, "HEAD scales without k_head/v_head");
        else
            for (int h = 0; h < Hkv; h++)
                if (!static_ok(sc->k_head[h]) || !static_ok(sc->v_head[h])) {
                    fzm_must(v, KVA_ERR_FORMAT, "head %d: static scales k %g "
                             "v %g must be finite and > 0", h,
                             (double)sc->k_head[h], (double)sc->v_head[h]);
                    break;
                }
    }
    if ((kind != KVA_SCALE_TOKEN && kind != KVA_SCALE_GROUP) || !pools_needed)
        return;
    if (sc->k_pool == NULL || sc->v_pool == NULL)
        fzm_must(v, KVA_ERR_NULL, "%s scales without k_pool/v_pool",
                 kind == KVA_SCALE_TOKEN ? "TOKEN" : "GROUP");
    if (kind == KVA_SCALE_GROUP && (D < 16 || D % 16 != 0)) {
        fzm_may(v, KVA_ERR_SHAPE); /* no row size: FORMAT is required */
        return;
    }
    if (D < 1 || count[0] < 1 || count[1] < 1 || count[2] < 1)
        return; /* the sizes are refused already */
    const int64_t stride[3] = {sc->stride_block, sc->stride_slot,
                               sc->stride_head};
    fzm_check_rows("scale pools", count, stride, fzm_scale_row_units(kind, D),
                   sc->pool_units, v);
}

/* The oracle's dtype of a kva_dtype (the enums are written separately). */
static kvc_kv_dtype oracle_dtype(int d)
{
    switch (d) {
    case KVA_DTYPE_F16: return KVC_KV_F16;
    case KVA_DTYPE_BF16: return KVC_KV_BF16;
    case KVA_DTYPE_FP8_E4M3: return KVC_KV_FP8_E4M3;
    case KVA_DTYPE_FP8_E5M2: return KVC_KV_FP8_E5M2;
    case KVA_DTYPE_INT8: return KVC_KV_INT8;
    case KVA_DTYPE_NVFP4: return KVC_KV_NVFP4;
    default: return KVC_KV_F32;
    }
}

/* The static scale of head h of K (which 0) or V: TENSOR/GROUP the tensor
 * (nvfp4 global) scale, HEAD the head's. */
static float static_scale(const kva_kv_scales *sc, int which, int h)
{
    if (sc->kind == KVA_SCALE_HEAD)
        return (which ? sc->v_head : sc->k_head)[h];
    return which ? sc->v_tensor : sc->k_tensor;
}

/* Code d of a row of units (nvfp4: nibble d % 2 of byte d / 2). */
static uint32_t get_code(int dtype, const uint8_t *row, int64_t d)
{
    switch (fzm_unit_bytes(dtype)) {
    case 4: {
        uint32_t c;
        memcpy(&c, row + 4 * (size_t)d, 4);
        return c;
    }
    case 2: {
        uint16_t c;
        memcpy(&c, row + 2 * (size_t)d, 2);
        return c;
    }
    default:
        if (dtype == KVA_DTYPE_NVFP4)
            return (uint32_t)(row[d / 2] >> (d % 2 ? 4 : 0)) & 0xFu;
        return row[d];
    }
}

static void put_code(int dtype, uint8_t *row, int64_t d, uint32_t c)
{
    switch (fzm_unit_bytes(dtype)) {
    case 4:
        memcpy(row + 4 * (size_t)d, &c, 4);
        break;
    case 2: {
        uint16_t h = (uint16_t)c;
        memcpy(row + 2 * (size_t)d, &h, 2);
        break;
    }
    default:
        if (dtype == KVA_DTYPE_NVFP4) {
            const int sh = d % 2 ? 4 : 0;
            row[d / 2] = (uint8_t)((row[d / 2] & ~(0xFu << sh)) |
                                   ((c & 0xFu) << sh));
        } else {
            row[d] = (uint8_t)c;
        }
    }
}

void fzm_encode_row(int dtype, const kva_kv_scales *sc, int which, int h,
                    const float *x, int D, uint8_t *row, uint8_t *srow)
{
    const kvc_kv_dtype od = oracle_dtype(dtype);
    if (sc->kind == KVA_SCALE_GROUP) {
        const float g = static_scale(sc, which, h);
        for (int g0 = 0; g0 + 16 <= D; g0 += 16) {
            uint32_t bc = kvc_nvfp4_block_code(x + g0, g);
            srow[g0 / 16] = (uint8_t)bc;
            float s = kvc_nvfp4_effective_scale(bc, g);
            for (int d = g0; d < g0 + 16; d++)
                put_code(dtype, row, d, kvc_encode(od, kvc_fp32_div(x[d], s)));
        }
        return;
    }
    if (sc->kind == KVA_SCALE_NONE) {
        for (int d = 0; d < D; d++)
            put_code(dtype, row, d, kvc_encode(od, x[d]));
        return;
    }
    float s;
    if (sc->kind == KVA_SCALE_TOKEN) {
        s = kvc_scale_token(od, x, D);
        memcpy(srow, &s, sizeof s);
    } else {
        s = static_scale(sc, which, h);
    }
    for (int d = 0; d < D; d++)
        put_code(dtype, row, d, kvc_encode(od, kvc_fp32_div(x[d], s)));
}

double fzm_stored(int dtype, const kva_kv_scales *sc, int which, int h,
                  const uint8_t *row, const uint8_t *srow, int d)
{
    const double x = kvc_decode(oracle_dtype(dtype), get_code(dtype, row, d));
    float s;
    switch (sc->kind) {
    case KVA_SCALE_NONE:
        return x;
    case KVA_SCALE_TOKEN:
        memcpy(&s, srow, sizeof s);
        break;
    case KVA_SCALE_GROUP:
        s = kvc_nvfp4_effective_scale(srow[d / 16], static_scale(sc, which, h));
        break;
    default:
        s = static_scale(sc, which, h);
        break;
    }
    return x * (double)s;
}

int fzm_kinds_of(int dtype, int kinds[3])
{
    int n = 0;
    for (int k = KVA_SCALE_NONE; k <= KVA_SCALE_GROUP; k++)
        if (fzm_kind_valid(dtype, k))
            kinds[n++] = k;
    return n;
}

/* Valid static scales: ordinary, tiny, subnormal and huge (all finite and
 * > 0); the raw choice of fz_io_float_choice gives every other float. */
static const float good_scales[] = {0.5f, 2.0f, 0x1p-9f, 0x1p-6f, 1e-3f,
                                    3.0f, 1e-30f, FLT_MIN, 1e-40f, 1e30f,
                                    FLT_MAX, 0x1.24924ap-9f /* 1/448 */};

void fzm_format_default(fzm_format *f, int dtype, int kind)
{
    memset(f, 0, sizeof *f);
    f->dtype = dtype;
    f->kind = kind;
    f->groups = 1;
    f->k_tensor = f->v_tensor = 1.0f;
    for (int h = 0; h < FZM_MAX_HEADS; h++)
        f->k_head[h] = f->v_head[h] = 1.0f;
}

void fzm_format_io(fz_io *io, fzm_format *f)
{
    if (!io->writing)
        fzm_format_default(f, KVA_DTYPE_F32, KVA_SCALE_NONE);
    fz_io_int(io, &f->dtype, KVA_DTYPE_F32, KVA_DTYPE_NVFP4);
    int kinds[3], n = fzm_kinds_of(f->dtype, kinds), idx = 0;
    if (io->writing)
        for (idx = 0; idx < n && kinds[idx] != f->kind; idx++)
            ;
    fz_io_int(io, &idx, 0, n - 1); /* a writer aborts on a kind not taken */
    f->kind = kinds[idx];
    if (f->dtype == KVA_DTYPE_NVFP4)
        fz_io_int(io, &f->groups, 1, 2);
    if (f->kind == KVA_SCALE_TENSOR || f->kind == KVA_SCALE_GROUP) {
        fz_io_float_choice(io, &f->k_tensor, 1.0f, good_scales,
                           NELEM(good_scales));
        fz_io_float_choice(io, &f->v_tensor, 1.0f, good_scales,
                           NELEM(good_scales));
    }
    if (f->kind == KVA_SCALE_HEAD)
        for (int h = 0; h < FZM_MAX_HEADS; h++) {
            fz_io_float_choice(io, &f->k_head[h], 1.0f, good_scales,
                               NELEM(good_scales));
            fz_io_float_choice(io, &f->v_head[h], 1.0f, good_scales,
                               NELEM(good_scales));
        }
    if (f->kind == KVA_SCALE_TOKEN || f->kind == KVA_SCALE_GROUP) {
        fz_io_int(io, &f->pool_layout, 0, 2);
        fz_io_int(io, &f->pool_pad, 0, 2);
        fz_io_int(io, &f->pool_slack, 0, 3);
    }
    fz_io_int(io, &f->junk, 0, 255);
}

void fzm_put_value(int dtype, uint8_t *pool, int64_t unit, float val)
{
    uint32_t c;
    if (dtype == KVA_DTYPE_F32)
        memcpy(&c, &val, sizeof c);
    else if (dtype == KVA_DTYPE_FP8_E5M2 && isinf(val))
        c = val > 0 ? 0x7C : 0xFC;
    else
        c = kvc_encode(oracle_dtype(dtype), val);
    put_code(dtype, pool, dtype == KVA_DTYPE_NVFP4 ? 2 * unit : unit, c);
}

float fzm_scale_from_amax(int dtype, float amax)
{
    const float eps = 0x1p-23f;
    double r;
    switch (dtype) {
    case KVA_DTYPE_FP8_E4M3: r = 448.0; break;
    case KVA_DTYPE_FP8_E5M2: r = 57344.0; break;
    case KVA_DTYPE_INT8: r = 127.5; break;
    case KVA_DTYPE_NVFP4:
        /* one fp32 division: double rounding through binary64 is
         * innocuous (docs/kv-formats.md) */
        return (float)(2688.0 / (double)(amax < eps ? eps : amax));
    default:
        return NAN;
    }
    float s = (float)((double)amax / r);
    return s == 0.0f ? eps : s;
}

int fzm_visible(const kva_attn_params *p, int64_t pos, int64_t j,
                const uint8_t *mask_row)
{
    if (p->causal && j > pos)
        return 0;
    if (p->window_left >= 0 && j < pos - p->window_left)
        return 0;
    return mask_row == NULL || mask_row[j] != 0;
}

/* ---- QEfficient: byte format ---- */

static const int bad_counts[] = {-1, INT_MIN};
static const int bad_block_size[] = {0, -1, INT_MIN, INT_MAX};
static const int64_t bad_num_blocks[] = {0, -1, INT64_MAX, INT64_MIN,
                                         (int64_t)INT_MAX + 1};
static const int bad_pos[] = {INT_MAX, INT_MAX - 1, INT_MIN, -2};
static const int bad_slot[] = {-1, INT_MIN, INT_MAX};
static const int null_bits[] = {FZQ_NULL_IN,       FZQ_NULL_OUTP,
                                FZQ_NULL_POS,      FZQ_NULL_SLOT_ID,
                                FZQ_NULL_TABLE,    FZQ_NULL_QSL,
                                FZQ_NULL_SEQ_LENS, FZQ_NULL_SLOTS,
                                FZQ_NULL_SRC};

static int clampi(int x, int lo, int hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* The structured form of a row: count consecutive positions p0.. starting
 * at column off, -1 elsewhere. Returns 1 (and fills) when row is of that
 * form. */
static int row_structure(const int *row, int mq, int *p0, int *count, int *off)
{
    int first = -1, n = 0;
    for (int i = 0; i < mq; i++)
        if (row[i] != -1) {
            if (first < 0)
                first = i;
            n++;
        }
    if (n == 0) {
        *p0 = 0;
        *count = 0;
        *off = 0;
        return 1;
    }
    for (int i = first; i < first + n; i++)
        if (i >= mq || row[i] < 0 ||
            (int64_t)row[i] != (int64_t)row[first] + (i - first))
            return 0;
    *p0 = row[first];
    *count = n;
    *off = first;
    return 1;
}

void fzq_io(fz_io *io, fzq_input *in)
{
    if (!io->writing) {
        memset(in, 0, sizeof *in);
        for (int s = 0; s < FZQ_MAX_S; s++)
            for (int i = 0; i < FZQ_MAX_Q; i++)
                in->pos[s][i] = -1;
    }
    fz_io_int_special(io, &in->num_seqs, 0, FZQ_MAX_S, bad_counts,
                      NELEM(bad_counts));
    fz_io_int_special(io, &in->max_q, 0, FZQ_MAX_Q, bad_counts,
                      NELEM(bad_counts));
    fz_io_int_special(io, &in->block_size, 1, 64, bad_block_size,
                      NELEM(bad_block_size));
    fz_io_int_special(io, &in->num_kv_blocks, 0, FZQ_MAX_NKB, bad_counts,
                      NELEM(bad_counts));
    fz_io_i64_special(io, &in->num_blocks, 1, 1024, bad_num_blocks,
                      NELEM(bad_num_blocks));
    /* A raw (selector >= 240) count above the array bounds is clamped:
     * the harness allocates exactly what the counts claim. */
    if (!io->writing) {
        if (in->num_seqs > FZQ_MAX_S)
            in->num_seqs = FZQ_MAX_S;
        if (in->max_q > FZQ_MAX_Q)
            in->max_q = FZQ_MAX_Q;
        if (in->num_kv_blocks > FZQ_MAX_NKB)
            in->num_kv_blocks = FZQ_MAX_NKB;
    }
    const int S = clampi(in->num_seqs, 0, FZQ_MAX_S);
    const int MQ = clampi(in->max_q, 0, FZQ_MAX_Q);
    const int NKB = clampi(in->num_kv_blocks, 0, FZQ_MAX_NKB);
    const int B = in->block_size;

    for (int s = 0; s < S; s++) {
        int *row = in->pos[s];
        int p0 = 0, count = 0, off = 0;
        int structured = 1;
        if (io->writing)
            structured = row_structure(row, MQ, &p0, &count, &off);
        fz_io_bool(io, &structured);
        if (structured) {
            fz_io_int_special(io, &p0, 0, 4095, bad_pos, NELEM(bad_pos));
            fz_io_int(io, &count, 0, MQ);
            fz_io_int(io, &off, 0, MQ - count);
            if (!io->writing)
                for (int k = 0; k < count; k++) {
                    int64_t p = (int64_t)p0 + k;
                    row[off + k] = p > INT_MAX ? INT_MAX : (int)p;
                }
        } else {
            for (int i = 0; i < MQ; i++)
                fz_io_int_special(io, &row[i], -1, 255, bad_pos,
                                  NELEM(bad_pos));
        }
        /* slot_id: "consistent with the row" or an explicit value */
        int consistent_slot = -1;
        {
            int q0, qn, qo;
            if (B >= 1 && row_structure(row, MQ, &q0, &qn, &qo))
                consistent_slot = qn > 0 ? q0 % B : 0;
        }
        int explicit_slot = 1;
        if (io->writing)
            explicit_slot = consistent_slot < 0 ||
                            in->slot_id[s] != consistent_slot;
        fz_io_bool(io, &explicit_slot);
        if (explicit_slot)
            fz_io_int_special(io, &in->slot_id[s], 0, 255, bad_slot,
                              NELEM(bad_slot));
        else if (!io->writing)
            in->slot_id[s] = consistent_slot < 0 ? 0 : consistent_slot;
    }
    const int nb_hi = in->num_blocks < 1 ? 0
                      : in->num_blocks > 1024 ? 1023
                      : (int)in->num_blocks - 1;
    const int table_specials[] = {INT_MAX, INT_MIN, -2,
                                  in->num_blocks > INT_MAX ? INT_MAX
                                  : in->num_blocks < INT_MIN ? INT_MIN
                                  : (int)in->num_blocks};
    for (int s = 0; s < S; s++)
        for (int b = 0; b < NKB; b++)
            fz_io_int_special(io, &in->table[s][b], -1, nb_hi, table_specials,
                              NELEM(table_specials));
    fz_io_int_special(io, &in->null_mask, 0, 0, null_bits, NELEM(null_bits));
    fz_io_bool(io, &in->err_null);
}

/* ---- QEfficient: the rules and the reference ---- */

/* The buffers of one call. */
typedef struct qeff_call {
    kva_qeff_inputs in;
    kva_general_inputs out;
    int64_t rows;
    size_t n_qsl, n_seq, n_rows; /* allocated elements of the outputs */
} qeff_call;

/* Row facts per the header: valid entries (!= -1), in row order. */
typedef struct row_facts {
    int count, p0, pmax;
    int bad_value;   /* an entry < -1 */
    int not_consecutive;
} row_facts;

static row_facts scan_row(const int *row, int mq)
{
    row_facts f = {0, -1, -1, 0, 0};
    for (int i = 0; i < mq; i++) {
        int p = row[i];
        if (p == -1)
            continue;
        if (p < -1) {
            f.bad_value = 1;
            continue;
        }
        if (f.count > 0 && (int64_t)p != (int64_t)f.pmax + 1)
            f.not_consecutive = 1;
        if (f.count == 0)
            f.p0 = p;
        f.pmax = p;
        f.count++;
    }
    return f;
}

static void qeff_verdict(const qeff_call *c, int in_null, int out_null,
                         fzm_verdict *v)
{
    fzm_verdict_init(v);
    v->codes_known = 1;
    if (in_null) {
        fzm_must(v, KVA_ERR_NULL, "inputs pointer is NULL");
        return;
    }
    if (out_null) {
        fzm_must(v, KVA_ERR_NULL, "general outputs pointer is NULL");
        return;
    }
    const kva_qeff_inputs *in = &c->in;
    const kva_general_inputs *o = &c->out;
    /* A NULL array may be reported before anything else. */
    if (in->position_ids == NULL || in->slot_id == NULL ||
        in->block_table == NULL || o->query_start_loc == NULL ||
        o->seq_lens == NULL || o->slot_mapping == NULL || o->src_row == NULL)
        fzm_may(v, KVA_ERR_NULL);
    int generic = 0;
    if (in->num_seqs < 0 || in->max_q < 0 || in->num_kv_blocks < 0) {
        fzm_must(v, KVA_ERR_LENGTH, "negative count (S %d, max_q %d, "
                 "num_kv_blocks %d)", in->num_seqs, in->max_q,
                 in->num_kv_blocks);
        generic = 1;
    }
    if (in->block_size < 1 || in->num_blocks < 1) {
        fzm_must(v, KVA_ERR_SHAPE, "block_size %d / num_blocks %" PRId64
                 " must be >= 1", in->block_size, in->num_blocks);
        generic = 1;
    }
    if (!generic && in->num_blocks > INT64_MAX / in->block_size)
        fzm_may(v, KVA_ERR_SHAPE); /* slot ids would not fit in int64 */
    if (generic)
        return;
    const int64_t rows = (int64_t)in->num_seqs * in->max_q;
    const int S = in->num_seqs;
    if (o->query_start_loc == NULL)
        fzm_must(v, KVA_ERR_NULL, "out query_start_loc is NULL");
    if (S > 0 && o->seq_lens == NULL)
        fzm_must(v, KVA_ERR_NULL, "out seq_lens is NULL");
    if (rows > 0 && (o->slot_mapping == NULL || o->src_row == NULL))
        fzm_must(v, KVA_ERR_NULL, "out slot_mapping/src_row is NULL");
    if (rows > 0 && in->position_ids == NULL) {
        fzm_must(v, KVA_ERR_NULL, "position_ids is NULL");
        return;
    }
    if (rows == 0)
        return;
    const int B = in->block_size;
    for (int s = 0; s < S; s++) {
        const int *row = in->position_ids + (int64_t)s * in->max_q;
        row_facts f = scan_row(row, in->max_q);
        if (f.bad_value)
            fzm_must(v, KVA_ERR_CONVENTION, "sequence %d: a position < -1", s);
        if (f.not_consecutive)
            fzm_must(v, KVA_ERR_CONVENTION,
                     "sequence %d: positions not consecutive", s);
        if (f.count == 0)
            continue;
        if (in->slot_id == NULL || in->block_table == NULL) {
            fzm_must(v, KVA_ERR_NULL, "sequence %d has tokens but slot_id/"
                     "block_table is NULL", s);
            continue;
        }
        if (f.p0 / B != f.pmax / B)
            fzm_must(v, KVA_ERR_CONVENTION, "sequence %d: positions %d..%d "
                     "cross a block boundary (B %d)", s, f.p0, f.pmax, B);
        if (in->slot_id[s] != f.p0 % B)
            fzm_must(v, KVA_ERR_CONVENTION, "sequence %d: slot_id %d != %d "
                     "mod %d", s, in->slot_id[s], f.p0, B);
        if (f.pmax == INT_MAX) {
            /* seq_len = pmax + 1 is not an int */
            fzm_must(v, KVA_ERR_LENGTH, "sequence %d: position INT_MAX", s);
            fzm_may(v, KVA_ERR_CONVENTION);
        }
        const int blk = f.pmax / B;
        if (blk >= in->num_kv_blocks) {
            fzm_must(v, KVA_ERR_LENGTH, "sequence %d: block %d of position %d"
                     " is beyond num_kv_blocks %d", s, blk, f.pmax,
                     in->num_kv_blocks);
            continue;
        }
        const int active =
            in->block_table[(int64_t)s * in->num_kv_blocks + blk];
        if (active < 0 || active >= in->num_blocks)
            fzm_must(v, KVA_ERR_BLOCK, "sequence %d: active block %d is not "
                     "in [0, %" PRId64 ")", s, active, in->num_blocks);
    }
}

/* The general form by the header's definition: tokens in batch order; the
 * k-th valid entry of row s goes to offset slot_id[s] + k of the active
 * block. */
static void qeff_expect(const kva_qeff_inputs *in, int64_t *qsl, int *seq_lens,
                        int64_t *slots, int64_t *src, int64_t *num_tokens)
{
    const int S = in->num_seqs, MQ = in->max_q, B = in->block_size;
    int64_t t = 0;
    qsl[0] = 0;
    for (int s = 0; s < S; s++) {
        /* (no pointer arithmetic on a NULL position_ids when MQ == 0) */
        const int *row = MQ > 0 ? in->position_ids + (int64_t)s * MQ : NULL;
        row_facts f = scan_row(row, MQ);
        int64_t active = f.count > 0
            ? in->block_table[(int64_t)s * in->num_kv_blocks + f.pmax / B]
            : -1;
        int k = 0;
        for (int i = 0; i < MQ; i++) {
            if (row[i] == -1)
                continue;
            slots[t] = active * B + in->slot_id[s] + k;
            src[t] = (int64_t)s * MQ + i;
            k++;
            t++;
        }
        qsl[s + 1] = t;
        seq_lens[s] = f.count > 0 ? f.pmax + 1 : 0;
    }
    for (int64_t u = t; u < (int64_t)S * MQ; u++)
        slots[u] = src[u] = -1;
    *num_tokens = t;
}

#define OUT_SENTINEL_TOKENS ((int64_t)0x5A5A5A5A5A5A5A5A)

void fzq_run(const fzq_input *fi, const kvc_kernel *k)
{
    qeff_call c;
    memset(&c, 0, sizeof c);
    const int S = fi->num_seqs, MQ = fi->max_q, NKB = fi->num_kv_blocks;
    /* Exactly-sized inputs (zero-sized where a count is negative). */
    const size_t n_s = S > 0 ? (size_t)S : 0;
    const size_t n_mq = MQ > 0 ? (size_t)MQ : 0;
    const size_t n_nkb = NKB > 0 ? (size_t)NKB : 0;
    const size_t n_rows = n_s * n_mq;
    int *pos = fz_alloc(n_rows, sizeof *pos);
    int *slot_id = fz_alloc(n_s, sizeof *slot_id);
    int *table = fz_alloc(n_s * n_nkb, sizeof *table);
    for (size_t s = 0; s < n_s; s++) {
        slot_id[s] = fi->slot_id[s];
        for (size_t i = 0; i < n_mq; i++)
            pos[s * n_mq + i] = fi->pos[s][i];
        for (size_t b = 0; b < n_nkb; b++)
            table[s * n_nkb + b] = fi->table[s][b];
    }
    const int nm = fi->null_mask;
    c.in = (kva_qeff_inputs){S,
                             MQ,
                             (nm & FZQ_NULL_POS) ? NULL : pos,
                             (nm & FZQ_NULL_SLOT_ID) ? NULL : slot_id,
                             (nm & FZQ_NULL_TABLE) ? NULL : table,
                             NKB,
                             fi->block_size,
                             fi->num_blocks};
    /* Exactly-sized outputs, filled with a pattern. */
    c.n_qsl = n_s + 1;
    c.n_seq = n_s;
    c.n_rows = n_rows;
    int64_t *qsl = fz_alloc(c.n_qsl, sizeof *qsl);
    int *seq_lens = fz_alloc(c.n_seq, sizeof *seq_lens);
    int64_t *slots = fz_alloc(c.n_rows, sizeof *slots);
    int64_t *src = fz_alloc(c.n_rows, sizeof *src);
    fz_fill_pattern(qsl, c.n_qsl * sizeof *qsl, 1);
    fz_fill_pattern(seq_lens, c.n_seq * sizeof *seq_lens, 2);
    fz_fill_pattern(slots, c.n_rows * sizeof *slots, 3);
    fz_fill_pattern(src, c.n_rows * sizeof *src, 4);
    c.out = (kva_general_inputs){(nm & FZQ_NULL_QSL) ? NULL : qsl,
                                 (nm & FZQ_NULL_SEQ_LENS) ? NULL : seq_lens,
                                 (nm & FZQ_NULL_SLOTS) ? NULL : slots,
                                 (nm & FZQ_NULL_SRC) ? NULL : src,
                                 OUT_SENTINEL_TOKENS};
    int64_t *qsl0 = fz_dup(qsl, c.n_qsl, sizeof *qsl);
    int *seq0 = fz_dup(seq_lens, c.n_seq, sizeof *seq_lens);
    int64_t *slots0 = fz_dup(slots, c.n_rows, sizeof *slots);
    int64_t *src0 = fz_dup(src, c.n_rows, sizeof *src);
    int *pos0 = fz_dup(pos, n_rows, sizeof *pos);
    int *slot_id0 = fz_dup(slot_id, n_s, sizeof *slot_id);
    int *table0 = fz_dup(table, n_s * n_nkb, sizeof *table);

    fzm_verdict v;
    qeff_verdict(&c, nm & FZQ_NULL_IN, nm & FZQ_NULL_OUTP, &v);

    kva_error err;
    memset(&err, 0x5A, sizeof err);
    kva_general_inputs out_copy = c.out;
    kva_status st = k->qeff_to_general((nm & FZQ_NULL_IN) ? NULL : &c.in,
                                       (nm & FZQ_NULL_OUTP) ? NULL : &c.out,
                                       fi->err_null ? NULL : &err);
    int refused = fzm_check_status("kva_qeff_to_general", st,
                                   fi->err_null ? NULL : &err, &v);

    /* Inputs are const: never modified. */
    FZ_ASSERT(memcmp(pos, pos0, n_rows * sizeof *pos) == 0 &&
              memcmp(slot_id, slot_id0, n_s * sizeof *slot_id) == 0 &&
              memcmp(table, table0, n_s * n_nkb * sizeof *table) == 0,
              "kva_qeff_to_general modified its inputs");
    if (refused) {
        FZ_ASSERT(memcmp(&c.out, &out_copy, sizeof c.out) == 0,
                  "refusal (%s) changed the general outputs struct "
                  "(num_tokens or a pointer)", kva_status_name(st));
        FZ_ASSERT(memcmp(qsl, qsl0, c.n_qsl * sizeof *qsl) == 0 &&
                  memcmp(seq_lens, seq0, c.n_seq * sizeof *seq_lens) == 0 &&
                  memcmp(slots, slots0, c.n_rows * sizeof *slots) == 0 &&
                  memcmp(src, src0, c.n_rows * sizeof *src) == 0,
                  "refusal (%s: %s) wrote an output array",
                  kva_status_name(st), fi->err_null ? "" : err.msg);
    } else {
        /* Accepted: the model found no violation, so every pointer the
         * reference needs is present. */
        int64_t *eq = fz_alloc(c.n_qsl, sizeof *eq);
        int *es = fz_alloc(c.n_seq, sizeof *es);
        int64_t *esl = fz_alloc(c.n_rows, sizeof *esl);
        int64_t *esr = fz_alloc(c.n_rows, sizeof *esr);
        int64_t en = 0;
        qeff_expect(&c.in, eq, es, esl, esr, &en);
        FZ_ASSERT(c.out.num_tokens == en, "num_tokens %" PRId64 ", want %"
                  PRId64, c.out.num_tokens, en);
        for (size_t s = 0; s <= n_s; s++)
            FZ_ASSERT(qsl[s] == eq[s], "query_start_loc[%zu] = %" PRId64
                      ", want %" PRId64, s, qsl[s], eq[s]);
        for (size_t s = 0; s < n_s; s++)
            FZ_ASSERT(seq_lens[s] == es[s], "seq_lens[%zu] = %d, want %d", s,
                      seq_lens[s], es[s]);
        for (size_t t = 0; t < c.n_rows; t++)
            FZ_ASSERT(slots[t] == esl[t] && src[t] == esr[t],
                      "token %zu: slot %" PRId64 " src_row %" PRId64
                      ", want slot %" PRId64 " src_row %" PRId64, t, slots[t],
                      src[t], esl[t], esr[t]);
        free(eq);
        free(es);
        free(esl);
        free(esr);
    }
    free(pos);
    free(slot_id);
    free(table);
    free(qsl);
    free(seq_lens);
    free(slots);
    free(src);
    free(qsl0);
    free(seq0);
    free(slots0);
    free(src0);
    free(pos0);
    free(slot_id0);
    free(table0);
}

/* ---- calibration: byte formats ---- */

/* Interesting amax values: calibration thresholds, the 2^-23 floor, ties
 * of the divisions, -0, subnormal, the largest float. */
static const float amax_table[] = {
    448.0f, 57344.0f, 127.5f, 2688.0f, 6.0f, 0x1p-23f, 0x1.fffffep-24f,
    0x1p-24f, -0.0f, 0x1p-149f, 1e-40f, FLT_MAX, 0x1.000002p0f, 3.0f,
    448.0f * 0x1p-140f, -1.0f, NAN, INFINITY};
static const int obs_counts_bad[] = {0, -1, INT_MIN, INT_MAX};
static const int64_t obs_tokens_bad[] = {-1, INT64_MIN, INT64_MAX,
                                         INT64_MAX / 2 + 1, (int64_t)1 << 62};
static const float range_table[] = {1e-30f, 1e30f, FLT_MAX, 1e-40f, 448.0f};
static const int obs_nulls[] = {FZO_NULL_OBS, FZO_NULL_X, FZO_NULL_ERR,
                                FZO_NULL_X | FZO_NULL_ERR};

void fzo_io(fz_io *io, fzo_input *in)
{
    if (!io->writing)
        memset(in, 0, sizeof *in);
    fz_io_int_special(io, &in->num_kv_heads, 1, 4, obs_counts_bad,
                      NELEM(obs_counts_bad));
    fz_io_int_special(io, &in->head_dim, 1, 20, obs_counts_bad,
                      NELEM(obs_counts_bad));
    fz_io_i64_special(io, &in->num_tokens, 0, 6, obs_tokens_bad,
                      NELEM(obs_tokens_bad));
    fz_io_float_choice(io, &in->amax, 0.0f, amax_table, NELEM(amax_table));
    fz_io_bool(io, &in->head_amax_on);
    if (in->head_amax_on)
        for (int h = 0; h < FZM_MAX_HEADS; h++)
            fz_io_float_choice(io, &in->head_amax[h], 0.0f, amax_table,
                               NELEM(amax_table));
    fz_io_int_special(io, &in->null_mask, 0, 0, obs_nulls, NELEM(obs_nulls));
    fz_io_float_choice(io, &in->range, 2.0f, range_table, NELEM(range_table));
    fz_io_u64(io, &in->seed, 0, UINT32_MAX);
    fz_io_int(io, &in->n_inject, 0, FZO_MAX_INJECT);
    for (int i = 0; i < in->n_inject; i++) {
        uint64_t pos = in->inject_pos[i];
        fz_io_u64(io, &pos, 0, UINT32_MAX);
        in->inject_pos[i] = (uint32_t)pos;
        fz_io_float(io, &in->inject_val[i]);
    }
}

static const int scale_dtypes_bad[] = {-1, KVA_DTYPE_NVFP4 + 1, INT_MIN,
                                       INT_MAX};
static const int scale_nulls[] = {FZS_NULL_SCALE, FZS_NULL_ERR,
                                  FZS_NULL_SCALE | FZS_NULL_ERR};

void fzs_io(fz_io *io, fzs_input *in)
{
    if (!io->writing)
        memset(in, 0, sizeof *in);
    fz_io_int_special(io, &in->dtype, KVA_DTYPE_F32, KVA_DTYPE_NVFP4,
                      scale_dtypes_bad, NELEM(scale_dtypes_bad));
    fz_io_float_choice(io, &in->amax, 1.0f, amax_table, NELEM(amax_table));
    fz_io_int_special(io, &in->null_mask, 0, 0, scale_nulls,
                      NELEM(scale_nulls));
}

/* ---- calibration: the runs ---- */

/* A state amax entry per the header: refused when negative or not finite;
 * -0 is neither clearly (a kernel may refuse it). */
static void check_state_amax(float a, const char *what, int h, fzm_verdict *v)
{
    if (!isfinite(a) || a < 0.0f)
        fzm_must(v, KVA_ERR_PARAM, "observer %s[%d] = %g is negative or not "
                 "finite", what, h, (double)a);
    else if (a == 0.0f && signbit(a))
        fzm_may(v, KVA_ERR_PARAM);
}

/* max(a, |x|) over finite x, as the observer's rule */
static float amax_with(float a, float x)
{
    float m = fabsf(x);
    return isfinite(m) && m > a ? m : a;
}

void fzo_run(const fzo_input *in)
{
    const int H = in->num_kv_heads, D = in->head_dim;
    const int64_t T = in->num_tokens;
    const int nm = in->null_mask;
    fzm_verdict v;
    fzm_verdict_init(&v);
    v.codes_known = 1;
    /* the head_amax the harness can pass: exactly H entries */
    const int heads_on = in->head_amax_on && H >= 1 && H <= FZM_MAX_HEADS;
    if (nm & FZO_NULL_OBS)
        fzm_must(&v, KVA_ERR_NULL, "observer is NULL");
    if (T < 0)
        fzm_must(&v, KVA_ERR_LENGTH, "num_tokens %" PRId64, T);
    if ((nm & FZO_NULL_X) && T != 0)
        fzm_must(&v, KVA_ERR_NULL, "x is NULL with %" PRId64 " tokens", T);
    const int overflow = H >= 1 && D >= 1 && T > 0 &&
                         T > INT64_MAX / ((int64_t)H * D);
    if (!(nm & FZO_NULL_OBS)) {
        if (H < 1 || D < 1)
            fzm_must(&v, KVA_ERR_SHAPE, "observer Hkv %d head_dim %d", H, D);
        if (overflow)
            fzm_must(&v, KVA_ERR_LENGTH, "%" PRId64 " x %d x %d elements "
                     "overflow int64", T, H, D);
        check_state_amax(in->amax, "amax", 0, &v);
        for (int h = 0; heads_on && h < H; h++)
            check_state_amax(in->head_amax[h], "head_amax", h, &v);
    }
    /* x: exactly T*H*D floats when that is small; an overflowing size
     * gets an empty buffer (it must be refused before any read); anything
     * else too large to allocate is skipped. */
    int64_t n = 0;
    if (T > 0 && H >= 1 && D >= 1 && !overflow) {
        n = T * H * D;
        if (n > FZO_MAX_X)
            return;
    }
    uint64_t rng = in->seed;
    float *x = fz_alloc((size_t)n, sizeof *x);
    for (int64_t i = 0; i < n; i++)
        x[i] = fz_small_float(&rng, in->range);
    for (int i = 0; i < in->n_inject && n > 0; i++)
        x[in->inject_pos[i] % (uint64_t)n] = in->inject_val[i];
    float *x0 = fz_dup(x, (size_t)n, sizeof *x);
    const size_t nh = heads_on ? (size_t)H : 0;
    float *head = fz_dup(in->head_amax, nh, sizeof *head);
    float *head0 = fz_dup(in->head_amax, nh, sizeof *head);
    kva_observer o, o0; /* zeroed: the refusal check compares bytes */
    memset(&o, 0, sizeof o);
    o.num_kv_heads = H;
    o.head_dim = D;
    o.amax = in->amax;
    o.head_amax = heads_on ? head : NULL;
    memcpy(&o0, &o, sizeof o);

    kva_error err;
    memset(&err, 0x5A, sizeof err);
    kva_error *errp = (nm & FZO_NULL_ERR) ? NULL : &err;
    kva_status st = kva_observer_update((nm & FZO_NULL_OBS) ? NULL : &o,
                                        (nm & FZO_NULL_X) ? NULL : x, T, errp);
    int refused = fzm_check_status("kva_observer_update", st, errp, &v);
    FZ_ASSERT(memcmp(x, x0, (size_t)n * sizeof *x) == 0,
              "kva_observer_update modified x");
    if (refused) {
        FZ_ASSERT(memcmp(&o, &o0, sizeof o) == 0 &&
                  memcmp(head, head0, nh * sizeof *head) == 0,
                  "kva_observer_update refused (%s: %s) but changed the "
                  "observer", kva_status_name(st), errp ? errp->msg : "");
    } else {
        FZ_ASSERT(o.num_kv_heads == H && o.head_dim == D &&
                  o.head_amax == o0.head_amax,
                  "kva_observer_update changed the observer's shape fields");
        float want = in->amax, want_heads = 0.0f;
        for (int64_t i = 0; i < n; i++)
            want = amax_with(want, x[i]);
        for (size_t h = 0; h < nh; h++) {
            float wh = head0[h];
            for (int64_t t = 0; t < T; t++)
                for (int d = 0; d < D; d++)
                    wh = amax_with(wh, x[(t * H + (int64_t)h) * D + d]);
            FZ_ASSERT(head[h] == wh, "observer head_amax[%zu] %a after the "
                      "update, want %a (old %a)", h, (double)head[h],
                      (double)wh, (double)head0[h]);
            want_heads = amax_with(want_heads, wh);
        }
        /* A state whose head_amax exceeds amax was not written by this
         * API; the header leaves open whether amax then also covers what
         * the heads claim to have seen: either reading is accepted. */
        FZ_ASSERT(o.amax == want || (nh > 0 && o.amax == amax_with(want,
                                                                want_heads)),
                  "observer amax %a after the update, want %a (old %a, the "
                  "largest finite |x|)", (double)o.amax, (double)want,
                  (double)in->amax);
    }
    free(x);
    free(x0);
    free(head);
    free(head0);
}

void fzs_run(const fzs_input *in)
{
    const int d = in->dtype, nm = in->null_mask;
    const float a = in->amax;
    fzm_verdict v;
    fzm_verdict_init(&v);
    v.codes_known = 1;
    if (nm & FZS_NULL_SCALE)
        fzm_must(&v, KVA_ERR_NULL, "scale is NULL");
    if (d != KVA_DTYPE_FP8_E4M3 && d != KVA_DTYPE_FP8_E5M2 &&
        d != KVA_DTYPE_INT8 && d != KVA_DTYPE_NVFP4)
        fzm_must(&v, KVA_ERR_FORMAT, "dtype %d has no static scale", d);
    check_state_amax(a, "amax", 0, &v);
    const uint32_t sentinel = 0x5A5A5A5Au;
    float scale;
    memcpy(&scale, &sentinel, sizeof scale);
    kva_error err;
    memset(&err, 0x5A, sizeof err);
    kva_error *errp = (nm & FZS_NULL_ERR) ? NULL : &err;
    kva_status st = kva_scale_from_amax((kva_dtype)d, a,
                                        (nm & FZS_NULL_SCALE) ? NULL : &scale,
                                        errp);
    int refused = fzm_check_status("kva_scale_from_amax", st, errp, &v);
    if (refused) {
        FZ_ASSERT(memcmp(&scale, &sentinel, sizeof scale) == 0,
                  "kva_scale_from_amax refused (%s) but wrote *scale",
                  kva_status_name(st));
        return;
    }
    const float want = fzm_scale_from_amax(d, a);
    FZ_ASSERT(memcmp(&scale, &want, sizeof want) == 0,
              "kva_scale_from_amax(dtype %d, amax %a) = %a, the calibration "
              "rule gives %a", d, (double)a, (double)scale, (double)want);
}
