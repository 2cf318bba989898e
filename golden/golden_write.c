/*
 * golden_write.c — serializing golden files (format: FORMAT.md).
 *
 * The text is printed here, not by cJSON: key order, spacing and every
 * number's spelling are fixed, so the same kvc_golden_file gives the same
 * bytes on every machine. Tensors are base64 of little-endian arrays
 * (assembled byte by byte, whatever the host's byte order), scalar floats
 * are hexadecimal floats, integers are printed with %lld and stay below
 * 2^53 in magnitude. Before anything is returned or written, the text is
 * parsed back by kvc_golden_parse: a file the reader would refuse is never
 * produced.
 */
#include "golden_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base64.h"
#include "golden_variant.h"

/* ---- a growing string ---------------------------------------------------- */

typedef struct sb {
    char *buf;
    size_t len, cap;
    int oom;
} sb;

static int sb_reserve(sb *s, size_t extra)
{
    if (s->oom)
        return -1;
    if (extra > (size_t)-1 / 2 - s->len) {
        s->oom = 1;
        return -1;
    }
    size_t need = s->len + extra + 1;
    if (need <= s->cap)
        return 0;
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < need)
        cap *= 2;
    char *b = realloc(s->buf, cap);
    if (!b) {
        s->oom = 1;
        return -1;
    }
    s->buf = b;
    s->cap = cap;
    return 0;
}

static void sb_put(sb *s, const char *x, size_t n)
{
    if (sb_reserve(s, n) != 0)
        return;
    memcpy(s->buf + s->len, x, n);
    s->len += n;
    s->buf[s->len] = '\0';
}

static void sb_puts(sb *s, const char *x)
{
    sb_put(s, x, strlen(x));
}

static void sb_printf(sb *s, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        s->oom = 1; /* only short items are printed this way */
        return;
    }
    sb_put(s, tmp, (size_t)n);
}

static void sb_indent(sb *s, int level)
{
    static const char spaces[] = "                                ";
    sb_put(s, spaces, (size_t)(2 * level));
}

/* A JSON string: quotes, backslashes and control characters escaped; other
 * bytes (UTF-8, checked by the caller) as they are. */
static void sb_json_string(sb *s, const char *x, size_t n)
{
    sb_put(s, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)x[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7F)
            continue;
        sb_put(s, x + run, i - run);
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_put(s, e, 2);
        } else {
            sb_printf(s, "\\u%04x", c);
        }
        run = i + 1;
    }
    sb_put(s, x + run, n - run);
    sb_put(s, "\"", 1);
}

/* "key": with indentation */
static void sb_key(sb *s, int level, const char *key)
{
    sb_indent(s, level);
    sb_json_string(s, key, strlen(key));
    sb_puts(s, ": ");
}

/* ---- errors ---------------------------------------------------------------- */

typedef struct wctx {
    const char *name;
    char *err;
    size_t errlen;
    int failed;
} wctx;

static int werr(wctx *w, const char *fmt, ...)
{
    if (w->failed)
        return -1;
    w->failed = 1;
    if (w->err && w->errlen) {
        int n = snprintf(w->err, w->errlen, "%s: ", w->name);
        if (n >= 0 && (size_t)n < w->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(w->err + n, w->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

/* ---- arrays ---------------------------------------------------------------- */

static void put_ints(sb *s, const int *v, int64_t n)
{
    sb_puts(s, "[");
    for (int64_t i = 0; i < n; i++)
        sb_printf(s, i ? ", %d" : "%d", v[i]);
    sb_puts(s, "]");
}

static void put_i64s(sb *s, const int64_t *v, int64_t n)
{
    sb_puts(s, "[");
    for (int64_t i = 0; i < n; i++)
        sb_printf(s, i ? ", %lld" : "%lld", (long long)v[i]);
    sb_puts(s, "]");
}

/* Rows of an int matrix [rows][cols]: [[..], [..]] on one line. */
static void put_int_rows(sb *s, const int *v, int64_t rows, int64_t cols)
{
    sb_puts(s, "[");
    for (int64_t r = 0; r < rows; r++) {
        if (r)
            sb_puts(s, ", ");
        put_ints(s, v + r * cols, cols);
    }
    sb_puts(s, "]");
}

typedef enum dtype { DT_F32, DT_F64, DT_U8, DT_U16 } dtype;

/* {"dtype": ..., "shape": [...], "data": "base64"} with the elements of x
 * (n = product of shape) as little-endian bytes. */
static void put_array(sb *s, dtype t, const void *x, const int64_t *shape,
                      int rank)
{
    static const char *const names[4] = {"f32", "f64", "u8", "u16"};
    static const size_t sizes[4] = {4, 8, 1, 2};
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= shape[i];
    sb_printf(s, "{\"dtype\": \"%s\", \"shape\": ", names[t]);
    put_i64s(s, shape, rank);
    sb_puts(s, ", \"data\": \"");
    size_t bytes = (size_t)n * sizes[t], enc;
    uint8_t *raw = malloc(bytes ? bytes : 1);
    if (!raw || !kvc_base64_encoded_len(bytes, &enc) || sb_reserve(s, enc) != 0) {
        free(raw);
        s->oom = 1;
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        if (t == DT_F32) {
            uint32_t b;
            memcpy(&b, (const float *)x + i, 4);
            for (int k = 0; k < 4; k++)
                raw[i * 4 + k] = (uint8_t)(b >> (8 * k));
        } else if (t == DT_F64) {
            uint64_t b;
            memcpy(&b, (const double *)x + i, 8);
            for (int k = 0; k < 8; k++)
                raw[i * 8 + k] = (uint8_t)(b >> (8 * k));
        } else if (t == DT_U16) {
            uint16_t b = ((const uint16_t *)x)[i];
            raw[i * 2] = (uint8_t)b;
            raw[i * 2 + 1] = (uint8_t)(b >> 8);
        } else {
            raw[i] = ((const uint8_t *)x)[i];
        }
    }
    kvc_base64_encode(raw, bytes, s->buf + s->len);
    s->len += enc;
    free(raw);
    sb_puts(s, "\"}");
}

/* `"key": ARRAY,` and a newline, at indentation `level` (every array but
 * the last of an object). */
static void put_keyed_array(sb *s, int level, const char *key, dtype t,
                            const void *x, const int64_t *shape, int rank)
{
    sb_key(s, level, key);
    put_array(s, t, x, shape, rank);
    sb_puts(s, ",\n");
}

/* ---- checks that keep the printer safe ------------------------------------ */

/* a * b <= lim for non-negative a, b, without overflow */
static int mul_le(int64_t a, int64_t b, int64_t lim)
{
    return a >= 0 && b >= 0 && (b == 0 || a <= lim / b);
}

static int utf8_ok(const char *x, size_t n)
{
    return kvcg_utf8_valid_prefix(x, n) == n;
}

/* Enough for print_test not to read out of bounds or overflow; everything
 * else is the reader's to judge (the output is parsed back). */
static int check_printable(wctx *w, const kvc_golden_test *t)
{
    const kvc_case *c = &t->c;
    const kvc_problem *p = &c->prob;
    const kvc_config *g = &p->cfg;
    int id = t->tc_id;
    if (!kvcg_golden_type_name(c->spec.mode))
        return werr(w, "test tcId %d: mode %d is not a mode", id, (int)c->spec.mode);
    if ((int)t->result < 0 || (int)t->result > 2)
        return werr(w, "test tcId %d: result %d is not a result", id, (int)t->result);
    if (t->has_variant && (t->result != KVC_EXPECT_INVALID ||
                           !kvcg_variant_rule(t->inv.rule)))
        return werr(w, "test tcId %d: a variant (rule %s) needs an invalid "
                    "test and a rule broken in what the kernel gets", id,
                    kvc_invalid_rule_name(t->inv.rule));
    if (p->num_seqs < 0 || p->num_seqs > KVC_MAX_SEQS)
        return werr(w, "test tcId %d: num_seqs %d outside 0..%d", id, p->num_seqs,
                    KVC_MAX_SEQS);
    if (g->num_q_heads < 1 || g->num_q_heads > KVCG_GOLDEN_MAX_HEADS ||
        g->num_kv_heads < 1 || g->num_kv_heads > KVCG_GOLDEN_MAX_HEADS ||
        g->head_dim < 1 || g->head_dim > KVCG_GOLDEN_MAX_HEAD_DIM)
        return werr(w, "test tcId %d: heads %d/%d, head_dim %d outside the limits",
                    id, g->num_q_heads, g->num_kv_heads, g->head_dim);
    if (!p->q_start || !p->kv_start || (p->num_seqs > 0 && (!p->ctx_len || !p->q_len)))
        return werr(w, "test tcId %d: problem arrays are not allocated", id);
    int64_t rows = p->q_start[p->num_seqs], kv_rows = p->kv_start[p->num_seqs];
    int64_t hq_d = (int64_t)g->num_q_heads * g->head_dim;
    int64_t hkv_d = (int64_t)g->num_kv_heads * g->head_dim;
    if (rows < 0 || p->num_tokens < rows || kv_rows < 0 ||
        !mul_le(p->num_tokens, hq_d, KVCG_GOLDEN_MAX_ELEMS) ||
        !mul_le(kv_rows, hkv_d, KVCG_GOLDEN_MAX_ELEMS))
        return werr(w, "test tcId %d: %lld tokens, %lld kv rows: beyond the limit of "
                    "%lld elements per tensor", id, (long long)p->num_tokens,
                    (long long)kv_rows, (long long)KVCG_GOLDEN_MAX_ELEMS);
    if (!p->q || !p->k || !p->v)
        return werr(w, "test tcId %d: q, k or v is not allocated", id);
    if (p->has_mask) {
        if (!p->mask_start || !p->mask)
            return werr(w, "test tcId %d: the mask is not allocated", id);
        int64_t mb = p->mask_start[p->num_seqs];
        if (mb < 0 || mb > KVCG_GOLDEN_MAX_ELEMS)
            return werr(w, "test tcId %d: mask of %lld bytes", id, (long long)mb);
    }
    const kvc_layout *L = &c->layout;
    if (L->max_blocks_per_seq < 0 || L->max_blocks_per_seq > KVCG_GOLDEN_MAX_TABLE_COLS)
        return werr(w, "test tcId %d: max_blocks_per_seq %d outside 0..%d", id,
                    L->max_blocks_per_seq, KVCG_GOLDEN_MAX_TABLE_COLS);
    if ((p->num_seqs > 0 && L->max_blocks_per_seq > 0 && !L->block_table) ||
        (p->num_tokens > 0 && !L->slot_mapping))
        return werr(w, "test tcId %d: the block table or slot mapping is not "
                    "allocated", id);
    for (int64_t i = 0; i < p->num_tokens; i++)
        if (L->slot_mapping[i] < -KVCG_GOLDEN_MAX_INT ||
            L->slot_mapping[i] > KVCG_GOLDEN_MAX_INT)
            return werr(w, "test tcId %d: slot_mapping[%lld] = %lld does not fit a "
                        "JSON integer (|v| <= 2^53)", id, (long long)i,
                        (long long)L->slot_mapping[i]);
    if (c->spec.mode == KVC_MODE_QEFF) {
        const kvc_qeff_layout *Q = &c->qeff;
        if (Q->max_q < 0 || Q->max_q > KVCG_GOLDEN_MAX_TABLE_COLS)
            return werr(w, "test tcId %d: qeff max_q %d outside 0..%d", id,
                        Q->max_q, KVCG_GOLDEN_MAX_TABLE_COLS);
        if ((p->num_seqs > 0 && (!Q->slot_id || (Q->max_q > 0 && !Q->position_ids))) ||
            (rows > 0 && !Q->row_of_token))
            return werr(w, "test tcId %d: QEfficient inputs are not allocated", id);
        for (int64_t i = 0; i < rows; i++)
            if (Q->row_of_token[i] < -KVCG_GOLDEN_MAX_INT ||
                Q->row_of_token[i] > KVCG_GOLDEN_MAX_INT)
                return werr(w, "test tcId %d: row_of_token[%lld] does not fit a JSON "
                            "integer", id, (long long)i);
    }
    const kvc_kv_quant *qn = &p->quant;
    if ((int)qn->dtype < 0 || (int)qn->dtype >= KVC_KV_DTYPE_COUNT ||
        (int)qn->kind < 0 || (int)qn->kind >= KVC_SCALE_KIND_COUNT ||
        !kvc_quant_kind_valid(qn->dtype, qn->kind))
        return werr(w, "test tcId %d: cache format dtype %d, scale kind %d is "
                    "not a known combination", id, (int)qn->dtype, (int)qn->kind);
    if (qn->kind == KVC_SCALE_HEAD && (!qn->k_head_scale || !qn->v_head_scale))
        return werr(w, "test tcId %d: scale kind attn_head without per-head "
                    "scale arrays", id);
    if (t->result != KVC_EXPECT_INVALID &&
        (!t->out || !t->lse || !t->tol_out || !t->tol_lse ||
         (qn->dtype != KVC_KV_F32 && (!t->k_codes || !t->v_codes)) ||
         (qn->kind == KVC_SCALE_TOKEN &&
          (!t->k_token_scales || !t->v_token_scales)) ||
         (qn->kind == KVC_SCALE_GROUP &&
          (!t->k_group_codes || !t->v_group_codes))))
        return werr(w, "test tcId %d: %s test without expected values or "
                    "codes (call kvc_golden_expect)", id,
                    kvc_expect_name(t->result));
    if (t->flags >> KVC_FLAG_ALL_COUNT)
        return werr(w, "test tcId %d: unknown flag bits 0x%llx", id,
                    (unsigned long long)(t->flags >> KVC_FLAG_ALL_COUNT
                                         << KVC_FLAG_ALL_COUNT));
    size_t cl = strnlen(t->comment, sizeof t->comment);
    size_t el = strnlen(t->error, sizeof t->error);
    if (cl == sizeof t->comment || el == sizeof t->error)
        return werr(w, "test tcId %d: comment or error is not NUL-terminated", id);
    if (!utf8_ok(t->comment, cl) || !utf8_ok(t->error, el))
        return werr(w, "test tcId %d: comment or error is not valid UTF-8", id);
    return 0;
}

/* ---- printing ---------------------------------------------------------------- */

/* Whether a paged case's strides are its own, not those NHD or HND with
 * stride_pad describe (FORMAT.md: layout "strided"). */
static int strided_layout(const kvc_case *c)
{
    const kvc_layout *L = &c->layout;
    int64_t D = c->prob.cfg.head_dim, H = c->prob.cfg.num_kv_heads;
    int64_t R = (c->prob.quant.dtype == KVC_KV_NVFP4 ? (D + 1) / 2 : D) +
                c->spec.stride_pad, B = L->block_size;
    int64_t head = L->hnd ? B * R : R, slot = L->hnd ? R : H * R;
    int64_t block = L->hnd ? H * head : B * slot;
    return L->stride_head != head || L->stride_slot != slot ||
           L->stride_block != block;
}

/* The config object of a group, at indentation level 3 (its keys at 4). */
static int print_config(wctx *w, sb *s, const kvc_golden_test *t)
{
    const kvc_case *c = &t->c;
    const kvc_config *g = &c->prob.cfg;
    char scale[32], cap[32];
    if (kvcg_format_hex_float(g->scale, scale) != 0 ||
        kvcg_format_hex_float(g->softcap, cap) != 0)
        return werr(w, "test tcId %d: scale %g or softcap %g is not finite",
                    t->tc_id, (double)g->scale, (double)g->softcap);
    sb_puts(s, "{\n");
    sb_key(s, 4, "numQHeads");
    sb_printf(s, "%d,\n", g->num_q_heads);
    sb_key(s, 4, "numKvHeads");
    sb_printf(s, "%d,\n", g->num_kv_heads);
    sb_key(s, 4, "headDim");
    sb_printf(s, "%d,\n", g->head_dim);
    sb_key(s, 4, "scale");
    sb_printf(s, "\"%s\",\n", scale);
    sb_key(s, 4, "softcap");
    sb_printf(s, "\"%s\",\n", cap);
    sb_key(s, 4, "causal");
    sb_puts(s, g->causal ? "true,\n" : "false,\n");
    sb_key(s, 4, "windowLeft");
    sb_printf(s, "%d,\n", g->window_left);
    sb_key(s, 4, "kvDtype");
    sb_printf(s, "\"%s\",\n", kvc_kv_dtype_name(c->prob.quant.dtype));
    sb_key(s, 4, "kvScale");
    sb_printf(s, "\"%s\",\n", kvc_scale_kind_name(c->prob.quant.kind));
    if (c->spec.mode == KVC_MODE_BLOCKED) {
        sb_key(s, 4, "cacheLen");
        sb_printf(s, "%d,\n", c->spec.cache_len);
        sb_key(s, 4, "numKvBlocks");
        sb_printf(s, "%d\n", c->spec.num_kv_blocks);
    } else {
        sb_key(s, 4, "blockSize");
        sb_printf(s, "%d,\n", c->layout.block_size);
        sb_key(s, 4, "layout");
        sb_puts(s, strided_layout(c) ? "\"strided\",\n"
                   : c->layout.hnd   ? "\"HND\",\n"
                                     : "\"NHD\",\n");
        sb_key(s, 4, "stridePad");
        sb_printf(s, "%d\n", c->spec.stride_pad);
    }
    sb_indent(s, 3);
    sb_puts(s, "}");
    return 0;
}

/* One test object at indentation level 4 (its keys at 5). */
static void print_test(sb *s, const kvc_golden_test *t)
{
    const kvc_case *c = &t->c;
    const kvc_problem *p = &c->prob;
    const kvc_config *g = &p->cfg;
    const kvc_layout *L = &c->layout;
    int S = p->num_seqs, Hq = g->num_q_heads, Hkv = g->num_kv_heads;
    int D = g->head_dim;
    int64_t rows = p->q_start[S];

    sb_indent(s, 4);
    sb_puts(s, "{\n");
    sb_key(s, 5, "tcId");
    sb_printf(s, "%d,\n", t->tc_id);
    sb_key(s, 5, "comment");
    sb_json_string(s, t->comment, strlen(t->comment));
    sb_puts(s, ",\n");
    sb_key(s, 5, "flags");
    sb_puts(s, "[");
    int first = 1;
    for (int b = 0; b < KVC_FLAG_ALL_COUNT; b++)
        if (t->flags >> b & 1) {
            sb_puts(s, first ? "\"" : ", \"");
            sb_puts(s, kvc_flag_name(b));
            sb_puts(s, "\"");
            first = 0;
        }
    sb_puts(s, "],\n");
    sb_key(s, 5, "result");
    sb_printf(s, "\"%s\",\n", kvc_expect_name(t->result));
    if (t->result == KVC_EXPECT_INVALID ||
        (t->result == KVC_EXPECT_ACCEPTABLE && t->error[0])) {
        sb_key(s, 5, "error");
        sb_json_string(s, t->error, strlen(t->error));
        sb_puts(s, ",\n");
    }
    if (t->result == KVC_EXPECT_INVALID && t->has_variant) {
        char *v = kvcg_variant_text(&t->inv, c, 5);
        sb_key(s, 5, "variant");
        if (!v)
            s->oom = 1; /* not a variant rule: the writer fails */
        else
            sb_puts(s, v);
        sb_puts(s, ",\n");
        free(v);
    }
    sb_key(s, 5, "numSeqs");
    sb_printf(s, "%d,\n", S);
    sb_key(s, 5, "ctxLen");
    put_ints(s, p->ctx_len, S);
    sb_puts(s, ",\n");
    sb_key(s, 5, "qLen");
    put_ints(s, p->q_len, S);
    sb_puts(s, ",\n");
    sb_key(s, 5, "padTokens");
    sb_printf(s, "%lld,\n", (long long)(p->num_tokens - rows));
    int64_t shq[3] = {p->num_tokens, Hq, D};
    int64_t shkv[3] = {p->kv_start[S], Hkv, D};
    put_keyed_array(s, 5, "q", DT_F32, p->q, shq, 3);
    put_keyed_array(s, 5, "k", DT_F32, p->k, shkv, 3);
    put_keyed_array(s, 5, "v", DT_F32, p->v, shkv, 3);
    if (p->has_mask) {
        int64_t shm[1] = {p->mask_start[S]};
        put_keyed_array(s, 5, "mask", DT_U8, p->mask, shm, 1);
    }
    const kvc_kv_quant *qn = &p->quant;
    if (qn->kind == KVC_SCALE_TENSOR || qn->kind == KVC_SCALE_GROUP) {
        char ks[32], vs[32];
        kvcg_format_scale(qn->k_scale, ks);
        kvcg_format_scale(qn->v_scale, vs);
        sb_key(s, 5, "kScale");
        sb_printf(s, "\"%s\",\n", ks);
        sb_key(s, 5, "vScale");
        sb_printf(s, "\"%s\",\n", vs);
    } else if (qn->kind == KVC_SCALE_HEAD) {
        int64_t shh[1] = {Hkv};
        put_keyed_array(s, 5, "kHeadScale", DT_F32, qn->k_head_scale, shh, 1);
        put_keyed_array(s, 5, "vHeadScale", DT_F32, qn->v_head_scale, shh, 1);
    }
    sb_key(s, 5, "layout");
    sb_puts(s, "{\n");
    if (kvcg_layout_sparse(L)) { /* FORMAT.md, "Sparse pools" */
        sb_key(s, 6, "sparse");
        sb_puts(s, "true,\n");
    }
    sb_key(s, 6, "numBlocks");
    sb_printf(s, "%lld,\n", (long long)L->num_blocks);
    sb_key(s, 6, "strideBlock");
    sb_printf(s, "%lld,\n", (long long)L->stride_block);
    sb_key(s, 6, "strideSlot");
    sb_printf(s, "%lld,\n", (long long)L->stride_slot);
    sb_key(s, 6, "strideHead");
    sb_printf(s, "%lld,\n", (long long)L->stride_head);
    sb_key(s, 6, "poolElems");
    sb_printf(s, "%lld,\n", (long long)L->pool_elems);
    if (qn->kind == KVC_SCALE_TOKEN || qn->kind == KVC_SCALE_GROUP) {
        sb_key(s, 6, "scaleStrideBlock");
        sb_printf(s, "%lld,\n", (long long)L->scale_stride_block);
        sb_key(s, 6, "scaleStrideSlot");
        sb_printf(s, "%lld,\n", (long long)L->scale_stride_slot);
        sb_key(s, 6, "scaleStrideHead");
        sb_printf(s, "%lld,\n", (long long)L->scale_stride_head);
        sb_key(s, 6, "scalePoolUnits");
        sb_printf(s, "%lld,\n", (long long)L->scale_pool_units);
    }
    sb_key(s, 6, "maxBlocksPerSeq");
    sb_printf(s, "%d,\n", L->max_blocks_per_seq);
    sb_key(s, 6, "blockTable");
    put_int_rows(s, L->block_table, S, L->max_blocks_per_seq);
    sb_puts(s, ",\n");
    sb_key(s, 6, "slotMapping");
    put_i64s(s, L->slot_mapping, p->num_tokens);
    sb_puts(s, ",\n");
    sb_key(s, 6, "poisonSeed");
    sb_printf(s, "\"%llu\"\n", (unsigned long long)L->poison_seed);
    sb_indent(s, 5);
    sb_puts(s, "}");
    if (c->spec.mode == KVC_MODE_QEFF) {
        const kvc_qeff_layout *Q = &c->qeff;
        sb_puts(s, ",\n");
        sb_key(s, 5, "qeff");
        sb_puts(s, "{\n");
        sb_key(s, 6, "maxQ");
        sb_printf(s, "%d,\n", Q->max_q);
        sb_key(s, 6, "positionIds");
        put_int_rows(s, Q->position_ids, S, Q->max_q);
        sb_puts(s, ",\n");
        sb_key(s, 6, "slotId");
        put_ints(s, Q->slot_id, S);
        sb_puts(s, ",\n");
        sb_key(s, 6, "rowOfToken");
        put_i64s(s, Q->row_of_token, rows);
        sb_puts(s, "\n");
        sb_indent(s, 5);
        sb_puts(s, "}");
    }
    if (t->result != KVC_EXPECT_INVALID) {
        int64_t sho[3] = {rows, Hq, D}, shl[2] = {rows, Hq};
        sb_puts(s, ",\n");
        sb_key(s, 5, "expected");
        sb_puts(s, "{\n");
        put_keyed_array(s, 6, "out", DT_F64, t->out, sho, 3);
        put_keyed_array(s, 6, "lse", DT_F64, t->lse, shl, 2);
        put_keyed_array(s, 6, "tolOut", DT_F64, t->tol_out, sho, 3);
        sb_key(s, 6, "tolLse");
        put_array(s, DT_F64, t->tol_lse, shl, 2);
        if (qn->dtype != KVC_KV_F32) {
            int64_t kvr = p->kv_start[S];
            int64_t shc[3] = {kvr, Hkv, D}, shs[2] = {kvr, Hkv};
            int64_t shg[3] = {kvr, Hkv, D / 16};
            dtype ct = qn->dtype == KVC_KV_F16 || qn->dtype == KVC_KV_BF16
                           ? DT_U16 : DT_U8;
            uint8_t *k8 = NULL, *v8 = NULL;
            const void *kc = t->k_codes, *vc = t->v_codes;
            if (ct == DT_U8) { /* one code per byte */
                int64_t n = kvr * Hkv * D;
                k8 = malloc((size_t)(n > 0 ? n : 1));
                v8 = malloc((size_t)(n > 0 ? n : 1));
                if (!k8 || !v8) {
                    free(k8);
                    free(v8);
                    s->oom = 1;
                    return;
                }
                for (int64_t i = 0; i < n; i++) {
                    k8[i] = (uint8_t)t->k_codes[i];
                    v8[i] = (uint8_t)t->v_codes[i];
                }
                kc = k8;
                vc = v8;
            }
            sb_puts(s, ",\n");
            sb_key(s, 6, "kCodes");
            put_array(s, ct, kc, shc, 3);
            sb_puts(s, ",\n");
            sb_key(s, 6, "vCodes");
            put_array(s, ct, vc, shc, 3);
            free(k8);
            free(v8);
            if (qn->kind == KVC_SCALE_TOKEN) {
                sb_puts(s, ",\n");
                put_keyed_array(s, 6, "kTokenScales", DT_F32, t->k_token_scales, shs, 2);
                sb_key(s, 6, "vTokenScales");
                put_array(s, DT_F32, t->v_token_scales, shs, 2);
            } else if (qn->kind == KVC_SCALE_GROUP) {
                sb_puts(s, ",\n");
                put_keyed_array(s, 6, "kGroupCodes", DT_U8, t->k_group_codes, shg, 3);
                sb_key(s, 6, "vGroupCodes");
                put_array(s, DT_U8, t->v_group_codes, shg, 3);
            }
        }
        sb_puts(s, "\n");
        sb_indent(s, 5);
        sb_puts(s, "}");
    }
    sb_puts(s, "\n");
    sb_indent(s, 4);
    sb_puts(s, "}");
}

static const char *const header_lines[] = {
    "Golden vectors for KV-cache attention (paged, blocked and QEfficient "
    "paged), frozen from kvcheck's double-precision naive oracle. The format "
    "is documented in golden/FORMAT.md and golden/schema.json of kvcheck.",
    "Each test is self-contained: the logical q, k, v (and mask) and the "
    "physical layout (strides, block table, slot mapping, QEfficient "
    "inputs). Nothing is regenerated from a seed.",
    "To check an implementation: build K and V pools of layout.poolElems "
    "storage units, store the context positions of every sequence at their "
    "block-table slots, write the new tokens through the implementation's "
    "cache write with layout.slotMapping, run its attention, and compare.",
    "config.kvDtype and config.kvScale name the cache format (f32, f16, bf16, "
    "fp8_e4m3, fp8_e5m2, int8, nvfp4; scales none, tensor, attn_head, token, "
    "group). The cache holds codes of the logical fp32 k and v: static scales "
    "are kScale/vScale (nvfp4: the global scales) or kHeadScale/vHeadScale, "
    "dynamic ones are computed by the cache write; expected.kCodes/vCodes "
    "(and kTokenScales/vTokenScales or kGroupCodes/vGroupCodes) hold what "
    "the cache must contain, and out/lse are those of the stored values "
    "decode(code) * scale.",
    "Strides and poolElems count storage units of the format: 4 bytes for "
    "f32, 2 for f16/bf16 (a code in little-endian order), 1 for fp8/int8, and "
    "for nvfp4 1 byte holding two 4-bit codes (even dim in the low nibble), "
    "so a head row is headDim units (headDim / 2 for nvfp4). Token scales "
    "(f32) and group codes (u8) live in scale pools of layout.scalePoolUnits "
    "units addressed by scaleStrideBlock/Slot/Head.",
    "valid: every out and lse value must satisfy |got - expected| <= tol "
    "(tolOut, tolLse; tol 0 means exact). invalid: the implementation must "
    "refuse the input with an error and change nothing. acceptable: either.",
    "Query heads h read KV head h / (numQHeads / numKvHeads); new token i of "
    "a sequence sits at position ctxLen + i; padding tokens (padTokens, at "
    "the end) belong to no sequence and their output rows must stay "
    "untouched.",
};

/* Only in files that hold a sparse pool (schemaVersion 3), so that every
 * other file keeps its bytes. */
static const char sparse_header_line[] =
    "layout.sparse marks a sparse pool: its block ids sit above a huge unused "
    "stretch, so offsets pass 2^32 and poolElems spans GiB. Map it without "
    "reserving memory (mmap MAP_NORESERVE; at most 2^40 bytes) and touch only "
    "the blocks that blockTable and slotMapping name, or rebase those blocks "
    "to 0..n-1 where that is impossible (FORMAT.md, \"Sparse pools\").";

/* The lowest version that expresses f: 3 only with a sparse pool. */
static int file_version(const kvc_golden_file *f)
{
    for (int i = 0; i < f->num_tests; i++)
        if (kvcg_layout_sparse(&f->tests[i].c.layout))
            return KVC_GOLDEN_SCHEMA_VERSION;
    return KVC_GOLDEN_SCHEMA_VERSION_DENSE;
}

static const char encoding_text[] =
    "Arrays of numbers are objects {dtype, shape, data}: data is the RFC 4648 "
    "base64 (standard alphabet, '=' padding) of the elements in row-major "
    "order, each little-endian: f32 and f64 are IEEE 754 binary32 and "
    "binary64, u8 bytes, u16 unsigned 16-bit integers (Python: "
    "struct.unpack('<%df' % n, base64.b64decode(data))). Scalar floats "
    "(scale, softcap, kScale, vScale) are fp32 values written as hexadecimal "
    "floats (C strtod, Python float.fromhex); an invalid test's kScale or "
    "vScale may also be \"nan\", \"inf\" or \"-inf\". Integers are JSON numbers below "
    "2^53 in magnitude; poisonSeed is a decimal string (uint64).";

static void print_notes(sb *s, const kvc_golden_file *f)
{
    uint64_t used = 0;
    int results[3] = {0, 0, 0};
    for (int i = 0; i < f->num_tests; i++) {
        used |= f->tests[i].flags;
        results[f->tests[i].result] = 1;
    }
    sb_puts(s, "{");
    int first = 1;
    for (int b = 0; b < KVC_FLAG_ALL_COUNT + 3; b++) {
        const char *key;
        const kvcg_note *n;
        if (b < KVC_FLAG_ALL_COUNT) {
            if (!(used >> b & 1))
                continue;
            key = kvc_flag_name(b);
            n = kvcg_flag_note(b);
        } else {
            kvc_expect e = (kvc_expect)(b - KVC_FLAG_ALL_COUNT);
            if (!results[e])
                continue;
            key = kvc_expect_name(e);
            n = kvcg_result_note(e);
        }
        sb_puts(s, first ? "\n" : ",\n");
        first = 0;
        sb_key(s, 2, key);
        sb_puts(s, "{\n");
        sb_key(s, 3, "bugType");
        sb_json_string(s, n->bug_type, strlen(n->bug_type));
        sb_puts(s, ",\n");
        sb_key(s, 3, "description");
        sb_json_string(s, n->description, strlen(n->description));
        sb_puts(s, "\n");
        sb_indent(s, 2);
        sb_puts(s, "}");
    }
    if (!first) {
        sb_puts(s, "\n");
        sb_indent(s, 1);
    }
    sb_puts(s, "}");
}

static char *to_json_named(const kvc_golden_file *f, const char *name,
                           char *err, size_t errlen)
{
    wctx w = {name, err, errlen, 0};
    if (err && errlen)
        err[0] = '\0';
    if (!f || f->num_tests < 0 || (f->num_tests > 0 && !f->tests)) {
        werr(&w, "top level: no tests array");
        return NULL;
    }
    size_t gl = strnlen(f->generator, sizeof f->generator);
    size_t ol = strnlen(f->oracle_version, sizeof f->oracle_version);
    if (gl == sizeof f->generator || ol == sizeof f->oracle_version ||
        !utf8_ok(f->generator, gl) || !utf8_ok(f->oracle_version, ol)) {
        werr(&w, "top level: generator or oracle_version is not a NUL-terminated "
             "UTF-8 string");
        return NULL;
    }
    for (int i = 0; i < f->num_tests; i++)
        if (check_printable(&w, &f->tests[i]) != 0)
            return NULL;

    sb s = {0};
    sb cfg = {0}, prev = {0};
    sb_puts(&s, "{\n");
    sb_key(&s, 1, "schema");
    sb_printf(&s, "\"%s\",\n", KVC_GOLDEN_SCHEMA);
    sb_key(&s, 1, "schemaVersion");
    const int version = file_version(f);
    sb_printf(&s, "%d,\n", version);
    sb_key(&s, 1, "generator");
    sb_json_string(&s, f->generator, gl);
    sb_puts(&s, ",\n");
    sb_key(&s, 1, "oracleVersion");
    sb_json_string(&s, f->oracle_version, ol);
    sb_puts(&s, ",\n");
    sb_key(&s, 1, "numberOfTests");
    sb_printf(&s, "%d,\n", f->num_tests);
    sb_key(&s, 1, "header");
    sb_puts(&s, "[\n");
    size_t nh = sizeof header_lines / sizeof header_lines[0];
    for (size_t i = 0; i < nh; i++) {
        sb_indent(&s, 2);
        sb_json_string(&s, header_lines[i], strlen(header_lines[i]));
        sb_puts(&s, i + 1 < nh || version > KVC_GOLDEN_SCHEMA_VERSION_DENSE
                        ? ",\n" : "\n");
    }
    if (version > KVC_GOLDEN_SCHEMA_VERSION_DENSE) {
        sb_indent(&s, 2);
        sb_json_string(&s, sparse_header_line, strlen(sparse_header_line));
        sb_puts(&s, "\n");
    }
    sb_indent(&s, 1);
    sb_puts(&s, "],\n");
    sb_key(&s, 1, "encoding");
    sb_json_string(&s, encoding_text, strlen(encoding_text));
    sb_puts(&s, ",\n");
    sb_key(&s, 1, "notes");
    print_notes(&s, f);
    sb_puts(&s, ",\n");
    sb_key(&s, 1, "testGroups");
    sb_puts(&s, "[");
    /* a new group whenever the type or config text changes */
    for (int i = 0; i < f->num_tests && !w.failed; i++) {
        const kvc_golden_test *t = &f->tests[i];
        cfg.len = 0;
        sb_puts(&cfg, kvcg_golden_type_name(t->c.spec.mode));
        sb_puts(&cfg, "\n");
        if (print_config(&w, &cfg, t) != 0)
            break;
        int same = i > 0 && !cfg.oom && !prev.oom && cfg.len == prev.len &&
                   memcmp(cfg.buf, prev.buf, cfg.len) == 0;
        if (!same) {
            if (i > 0) {
                sb_puts(&s, "\n");
                sb_indent(&s, 3);
                sb_puts(&s, "]\n");
                sb_indent(&s, 2);
                sb_puts(&s, "},");
            }
            const char *nl = cfg.oom ? NULL : strchr(cfg.buf, '\n');
            if (!nl) {
                s.oom = 1;
                break;
            }
            sb_puts(&s, "\n");
            sb_indent(&s, 2);
            sb_puts(&s, "{\n");
            sb_key(&s, 3, "type");
            sb_printf(&s, "\"%s\",\n", kvcg_golden_type_name(t->c.spec.mode));
            sb_key(&s, 3, "config");
            sb_puts(&s, nl + 1);
            sb_puts(&s, ",\n");
            sb_key(&s, 3, "tests");
            sb_puts(&s, "[\n");
        } else {
            sb_puts(&s, ",\n");
        }
        print_test(&s, t);
        sb tmp = prev;
        prev = cfg;
        cfg = tmp;
    }
    if (f->num_tests > 0) {
        sb_puts(&s, "\n");
        sb_indent(&s, 3);
        sb_puts(&s, "]\n");
        sb_indent(&s, 2);
        sb_puts(&s, "}\n");
        sb_indent(&s, 1);
    }
    sb_puts(&s, "]\n}\n");
    int oom = s.oom || cfg.oom || prev.oom;
    free(cfg.buf);
    free(prev.buf);
    if (w.failed || oom) {
        if (!w.failed)
            werr(&w, "out of memory serializing %d tests", f->num_tests);
        free(s.buf);
        return NULL;
    }
    /* never produce what the reader would refuse */
    kvc_golden_file back;
    char why[512];
    if (kvc_golden_parse(s.buf, s.len, name, &back, why, sizeof why) != 0) {
        if (err && errlen)
            snprintf(err, errlen, "refusing to write an unreadable file: %s", why);
        free(s.buf);
        return NULL;
    }
    kvc_golden_free(&back);
    return s.buf;
}

char *kvc_golden_to_json(const kvc_golden_file *f, char *err, size_t errlen)
{
    return to_json_named(f, "golden file", err, errlen);
}

int kvc_golden_write(const kvc_golden_file *f, const char *path, char *err,
                     size_t errlen)
{
    if (!path || !*path) {
        if (err && errlen)
            snprintf(err, errlen, "golden write: no path");
        return -1;
    }
    char *text = to_json_named(f, path, err, errlen);
    if (!text)
        return -1;
    int rc = kvcg_write_text(path, text, err, errlen);
    free(text);
    return rc;
}
