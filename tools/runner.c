/*
 * runner.c — one case end to end: build the pool from the generator's
 * layout, write the new tokens through the kernel's cache write and check
 * the whole pool against the runner's own model of that write, run the
 * kernel's attention, check padding rows and the cache are untouched, and
 * judge out/lse against the oracle.
 *
 * Every buffer a kernel call gets (arrays, pools, the parameter structs
 * passed by pointer) is guarded (guard.h): a touched guard page traps, and
 * after every call a touched sentinel is the verdict "bounds", a changed
 * input "input-written", prefixed by the call. The pools are outputs to
 * the guard; that attention leaves them as written is the cache check's
 * ("attention modified the cache", with block, slot, head and dim).
 */
#include "runner.h"

#include "calibration_check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "pool.h"
#include "runner_step.h"
#include "merge_check.h"
#include "properties.h"

/* The oracle's format enums and the kernel API's are separate (the two
 * sides share no code) but number the formats alike, so a case's format
 * converts by value. */
_Static_assert((int)KVC_KV_F32 == (int)KVA_DTYPE_F32 &&
                   (int)KVC_KV_F16 == (int)KVA_DTYPE_F16 &&
                   (int)KVC_KV_BF16 == (int)KVA_DTYPE_BF16 &&
                   (int)KVC_KV_FP8_E4M3 == (int)KVA_DTYPE_FP8_E4M3 &&
                   (int)KVC_KV_FP8_E5M2 == (int)KVA_DTYPE_FP8_E5M2 &&
                   (int)KVC_KV_INT8 == (int)KVA_DTYPE_INT8 &&
                   (int)KVC_KV_NVFP4 == (int)KVA_DTYPE_NVFP4,
               "kvc_kv_dtype and kva_dtype disagree");
_Static_assert((int)KVC_SCALE_NONE == (int)KVA_SCALE_NONE &&
                   (int)KVC_SCALE_TENSOR == (int)KVA_SCALE_TENSOR &&
                   (int)KVC_SCALE_HEAD == (int)KVA_SCALE_HEAD &&
                   (int)KVC_SCALE_TOKEN == (int)KVA_SCALE_TOKEN &&
                   (int)KVC_SCALE_GROUP == (int)KVA_SCALE_GROUP,
               "kvc_scale_kind and kva_scale_kind disagree");

const kvc_kernel kvc_builtin_kernel = {
    .name = "libkvattn",
    .cache_write = kva_cache_write,
    .paged_attention = kva_paged_attention,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
    .merge_states = kva_merge_states,
    .observer_update = kva_observer_update,
    .scale_from_amax = kva_scale_from_amax,
};

void kvc_kernel_caps(const kvc_kernel *k, kva_caps *caps)
{
    if (k->caps_set)
        *caps = k->caps;
    else
        kva_caps_everything(caps);
}

const char *kvc_outcome_name(kvc_outcome o)
{
    switch (o) {
    case KVC_PASS: return "pass";
    case KVC_FAIL_NUMERIC: return "numeric";
    case KVC_FAIL_KERNEL: return "kernel-error";
    case KVC_FAIL_CACHE: return "cache";
    case KVC_FAIL_PADDING: return "padding";
    case KVC_FAIL_CONVERSION: return "conversion";
    case KVC_FAIL_ACCEPTED: return "accepted-invalid";
    case KVC_FAIL_REFUSAL: return "bad-refusal";
    case KVC_FAIL_PROP_RELABEL: return "relabel";
    case KVC_FAIL_PROP_BATCH: return "batch-invariance";
    case KVC_FAIL_PROP_CHUNKED: return "chunked-prefill";
    case KVC_FAIL_PROP_DECODE: return "decode-steps";
    case KVC_FAIL_PROP_BLOCK_SIZE: return "block-size";
    case KVC_FAIL_BOUNDS: return "bounds";
    case KVC_FAIL_INPUT: return "input-written";
    case KVC_FAIL_CRASH: return "crash";
    case KVC_FAIL_TIMEOUT: return "timeout";
    case KVC_FAIL_EXIT: return "exit";
    case KVC_FAIL_MEMORY: return "memory";
    case KVC_FAIL_UNSUPPORTED: return "unsupported";
    case KVC_FAIL_NONDETERMINISTIC: return "nondeterministic";
    case KVC_FAIL_MERGE: return "merge";
    case KVC_FAIL_MANAGER: return "manager";
    case KVC_FAIL_POLICY: return "policy";
    case KVC_FAIL_SETUP: return "setup";
    case KVC_FAIL_CALIBRATION: return "calibration";
    case KVC_OUTCOME_COUNT: break;
    }
    return "unknown";
}

/* Bit pattern left in output rows the kernel must not write. */
#define SENTINEL_BITS 0x7FA5A5A5u
#define KVC_LSE_NULL_EVERY 8
#define SENTINEL_BITS_16 0x7FA5u /* NaN as f16 and as bf16 */

kvc_outcome step_fail(kvc_result *r, kvc_outcome o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    r->outcome = o;
    return o;
}

/* step_init failed: its message (the oracle refusing the format), or out of
 * memory. */
static kvc_outcome setup_failed(kvc_result *r)
{
    char why[sizeof r->message];
    snprintf(why, sizeof why, "%s",
             r->message[0] ? r->message : "out of memory");
    return step_fail(r, KVC_FAIL_SETUP, "%s", why);
}

/* After every kernel call (`what`, e.g. "paged attention"), whatever it
 * returned: no sentinel touched, every input as it was handed over. */
kvc_outcome step_guard_check(step *st, const char *what)
{
    char msg[400];
    kvc_guard_violation v = kvc_guard_check(&st->guard, msg, sizeof msg);
    if (v == KVC_GUARD_OK)
        return KVC_PASS;
    return step_fail(st->r, v == KVC_GUARD_BOUNDS ? KVC_FAIL_BOUNDS : KVC_FAIL_INPUT,
                     "%s: %s", what, msg);
}

/* A guarded input copy of n elements of elem bytes (NULL: out of memory). */
const void *step_input(step *st, const char *name, const void *src,
                       int64_t n, size_t elem)
{
    return kvc_guard_input(&st->guard, name, src, (size_t)n * elem, elem);
}

/* A guarded buffer the runner fills (then seals as an input) or the kernel
 * writes. */
void *step_scratch(step *st, const char *name, int64_t n, size_t elem)
{
    return kvc_guard_alloc(&st->guard, name, KVC_GUARD_ROLE_OUTPUT,
                           (size_t)n * elem, elem);
}

int step_seal(step *st, const void *data)
{
    return kvc_guard_set_role(&st->guard, data, KVC_GUARD_ROLE_INPUT);
}

kvc_outcome step_refused(step *st, const char *what,
                         kva_status status, const kva_error *e,
                         const kvc_pool *untouched)
{
    kvc_result *r = st->r;
    if (st->opts->expect == KVC_EXPECT_VALID && status == KVA_ERR_UNSUPPORTED)
        return step_fail(r, KVC_FAIL_UNSUPPORTED,
                         "%s returned KVA_ERR_UNSUPPORTED for a case inside "
                         "its claim: %s", what, e->msg);
    if (st->opts->expect == KVC_EXPECT_VALID)
        return step_fail(r, KVC_FAIL_KERNEL, "%s refused a valid input: %s: %s",
                         what, kva_status_name(status), e->msg);
    r->refused = status;
    if (e->msg[0] == '\0')
        return step_fail(r, KVC_FAIL_REFUSAL, "%s refused (%s) without a message",
                         what, kva_status_name(status));
    kvc_outcome o = step_check_pool(st, untouched, "a refused call changed the cache");
    if (o != KVC_PASS) {
        r->outcome = KVC_FAIL_REFUSAL;
        return KVC_FAIL_REFUSAL;
    }
    snprintf(r->message, sizeof r->message, "%s refused: %s: %s", what,
             kva_status_name(status), e->msg);
    st->stopped = 1;
    return KVC_PASS;
}

static void step_free(step *st)
{
    kvc_reference_free(&st->ref);
    free(st->out_copy);
    free(st->lse_copy);
    kvc_pool_free(&st->pool);
    kvc_pool_free(&st->before);
    kvc_pool_free(&st->want);
    kvc_kv_store_free(&st->own_store);
    kvc_guard_free(&st->guard); /* after the pool: it owns the pool's data */
}

/* The sentinel of an output element of `elem` bytes: a NaN in fp32, f16
 * and bf16 alike. */
static void sentinel_of(size_t elem, unsigned char *bytes)
{
    uint32_t b32 = SENTINEL_BITS;
    uint16_t b16 = SENTINEL_BITS_16;
    if (elem == 4)
        memcpy(bytes, &b32, 4);
    else
        memcpy(bytes, &b16, 2);
}

static void fill_sentinel(void *x, int64_t n, size_t elem)
{
    unsigned char s[4];
    sentinel_of(elem, s);
    for (int64_t i = 0; i < n; i++)
        memcpy((unsigned char *)x + (size_t)i * elem, s, elem);
}

static int64_t first_non_sentinel(const void *x, int64_t from, int64_t to,
                                  size_t elem)
{
    unsigned char s[4];
    sentinel_of(elem, s);
    for (int64_t i = from; i < to; i++)
        if (memcmp((const unsigned char *)x + (size_t)i * elem, s, elem) != 0)
            return i;
    return -1;
}

/* The cache description a kernel gets: the pool's buffers, the layout's
 * strides, the problem's format and static scales. */
static void kernel_cache(const kvc_case *c, const kvc_pool *pool,
                         kva_paged_cache *out)
{
    const kvc_layout *l = &c->layout;
    const kvc_problem *p = &c->prob;
    const kvc_kv_quant *q = &p->quant;
    memset(out, 0, sizeof *out); /* padding too: the guard compares it */
    out->k = pool->k.data;
    out->v = pool->v.data;
    out->pool_elems = l->pool_elems;
    out->num_blocks = l->num_blocks;
    out->block_size = l->block_size;
    out->num_kv_heads = p->cfg.num_kv_heads;
    out->head_dim = p->cfg.head_dim;
    out->stride_block = l->stride_block;
    out->stride_slot = l->stride_slot;
    out->stride_head = l->stride_head;
    /* kvc_kv_dtype and kva_dtype, kvc_scale_kind and kva_scale_kind list
     * the same formats in the same order (asserted at the top of the file) */
    out->dtype = (kva_dtype)q->dtype;
    out->scales.kind = (kva_scale_kind)q->kind;
    out->scales.k_tensor = q->k_scale;
    out->scales.v_tensor = q->v_scale;
    out->scales.k_head = q->k_head_scale;
    out->scales.v_head = q->v_head_scale;
    out->scales.k_pool = pool->ks.data;
    out->scales.v_pool = pool->vs.data;
    out->scales.pool_units = l->scale_pool_units;
    out->scales.stride_block = l->scale_stride_block;
    out->scales.stride_slot = l->scale_stride_slot;
    out->scales.stride_head = l->scale_stride_head;
}

/* An invalid variant's cache description: the values it breaks. */
static void variant_cache(const kvc_invalid *inv, kva_paged_cache *out)
{
    out->head_dim = inv->cache_head_dim;
    out->dtype = (kva_dtype)inv->dtype;
    out->scales.kind = (kva_scale_kind)inv->kind;
    out->scales.k_tensor = inv->k_scale;
    out->scales.v_tensor = inv->v_scale;
    out->stride_block = inv->stride_block;
    out->stride_slot = inv->stride_slot;
    out->stride_head = inv->stride_head;
}

/* A guarded copy of one side's head scales, with an invalid variant's
 * broken entry (side 1 K, 2 V). */
static const float *head_scales(step *st, const char *name, const float *src,
                                int side)
{
    const kvc_invalid *inv = st->opts->inv;
    int H = st->c->prob.cfg.num_kv_heads;
    if (!inv || inv->head_scale_side != side || inv->head_scale_index < 0 ||
        inv->head_scale_index >= H)
        return step_input(st, name, src, H, sizeof(float));
    float *x = malloc((size_t)H * sizeof *x);
    if (!x)
        return NULL;
    memcpy(x, src, (size_t)H * sizeof *x);
    x[inv->head_scale_index] = inv->head_scale_value;
    const float *g = step_input(st, name, x, H, sizeof(float));
    free(x);
    return g;
}

/* Whether the problem's only fault is its cache format (a static scale not
 * finite and > 0, nvfp4 with head_dim % 16): the problem passes its checks
 * with the format taken away. */
static int format_only_fault(const kvc_problem *p)
{
    kvc_problem plain = *p; /* shallow: only read */
    memset(&plain.quant, 0, sizeof plain.quant);
    return kvc_problem_check(p, NULL, 0) != 0 &&
           kvc_problem_check(&plain, NULL, 0) == 0;
}

/* The oracle's store, the guarded pool with the context stored, the
 * runner's copies (before the write; its model after). An invalid case
 * whose only fault is its cache format gets a poisoned pool with nothing
 * stored (no codes exist for it): the kernel must refuse before reading. */
static int init_pool(step *st)
{
    const kvc_case *c = st->c;
    char err[256];
    if (st->store) {
        /* lent by the caller: the same problem's store */
    } else if ((st->store = &st->own_store),
               kvc_kv_store_compute(&c->prob, &st->own_store, err,
                                    sizeof err) != 0) {
        if (st->opts->expect != KVC_EXPECT_INVALID ||
            !format_only_fault(&c->prob)) {
            snprintf(st->r->message, sizeof st->r->message,
                     "oracle store: %s", err);
            return -1;
        }
        st->no_model = 1;
        snprintf(st->format_err, sizeof st->format_err, "%s", err);
    }
    if (kvc_pool_alloc_guarded(&st->pool, c, &st->guard) != 0)
        return -1;
    if (!st->no_model)
        kvc_pool_store_context(&st->pool, c, st->store);
    if (kvc_pool_copy(&st->want, &st->pool) != 0 ||
        kvc_pool_copy(&st->before, &st->pool) != 0)
        return -1;
    if (!st->no_model)
        kvc_pool_store_new_tokens(&st->want, c, st->store);
    return 0;
}

/* The cache description, with HEAD scales in guarded copies (fields a kind
 * does not use are never read: kvattn.h). */
static int init_cache(step *st)
{
    const kvc_problem *p = &st->c->prob;
    kva_paged_cache kc;
    kernel_cache(st->c, &st->pool, &kc);
    if (st->opts->inv)
        variant_cache(st->opts->inv, &kc);
    /* the case's kind: a variant's broken kind has no head arrays */
    if (p->quant.kind == KVC_SCALE_HEAD) {
        kc.scales.k_head = head_scales(st, "K head scales", p->quant.k_head_scale, 1);
        kc.scales.v_head = head_scales(st, "V head scales", p->quant.v_head_scale, 2);
        if (!kc.scales.k_head || !kc.scales.v_head)
            return -1;
    }
    st->cache = (kva_paged_cache *)step_input(st, "paged cache", &kc, 1, sizeof kc);
    return st->cache ? 0 : -1;
}

/* The per-sequence masks: one guarded copy of the concatenated bytes and a
 * guarded array of S pointers into it. */
static int init_masks(step *st)
{
    const kvc_problem *p = &st->c->prob;
    int S = p->num_seqs;
    if (!p->has_mask)
        return 0;
    const uint8_t *bytes = step_input(st, "mask", p->mask, p->mask_start[S], 1);
    const uint8_t **ptrs = step_scratch(st, "masks", S, sizeof *ptrs);
    if (!bytes || !ptrs)
        return -1;
    for (int s = 0; s < S; s++)
        ptrs[s] = bytes + p->mask_start[s];
    st->masks = ptrs;
    return step_seal(st, ptrs);
}

/* The guarded query_start_loc: the case's, or an invalid variant's. */
static const int64_t *variant_qsl(step *st)
{
    const kvc_problem *p = &st->c->prob;
    const kvc_invalid *inv = st->opts->inv;
    int S = p->num_seqs;
    if (!inv || inv->qsl_index < 0 || inv->qsl_index > S)
        return step_input(st, "query_start_loc", p->q_start, S + 1,
                          sizeof(int64_t));
    int64_t *x = malloc(((size_t)S + 1) * sizeof *x);
    if (!x)
        return NULL;
    memcpy(x, p->q_start, ((size_t)S + 1) * sizeof *x);
    x[inv->qsl_index] = inv->qsl_value;
    const int64_t *g = step_input(st, "query_start_loc", x, S + 1,
                                  sizeof(int64_t));
    free(x);
    return g;
}

/* Guarded copies of the inputs every mode shares. */
static int init_inputs(step *st)
{
    const kvc_case *c = st->c;
    const kvc_problem *p = &c->prob;
    const kvc_config *cfg = &p->cfg;
    int S = p->num_seqs;
    kva_attn_params params;
    memset(&params, 0, sizeof params); /* defined padding, as in run_paged */
    params.num_q_heads = cfg->num_q_heads;
    params.num_kv_heads = cfg->num_kv_heads;
    params.head_dim = cfg->head_dim;
    params.scale = cfg->scale;
    params.softcap = cfg->softcap;
    params.causal = cfg->causal;
    params.window_left = cfg->window_left;
    if (st->opts->inv) {
        const kvc_config *b = &st->opts->inv->cfg;
        params.num_q_heads = b->num_q_heads;
        params.num_kv_heads = b->num_kv_heads;
        params.head_dim = b->head_dim;
        params.scale = b->scale;
        params.softcap = b->softcap;
        params.causal = b->causal;
        params.window_left = b->window_left;
    }
    params.num_threads = st->caps.takes_threads
                             ? (st->k->threads > 0 ? st->k->threads : 1)
                             : 0;
    st->params = (kva_attn_params *)step_input(st, "attention params", &params, 1,
                                               sizeof params);
    int *lens = step_scratch(st, "seq_lens", S, sizeof *lens);
    if (!st->params || !lens)
        return -1;
    for (int s = 0; s < S; s++)
        lens[s] = kvc_kv_len(p, s);
    st->seq_lens = lens;
    st->qsl = variant_qsl(st);
    st->block_table = step_input(st, "block_table", c->layout.block_table,
                                 (int64_t)S * c->layout.max_blocks_per_seq,
                                 sizeof(int));
    if (c->spec.mode != KVC_MODE_QEFF) {
        st->q = step_input(st, "q", p->q,
                           p->num_tokens * cfg->num_q_heads * cfg->head_dim,
                           sizeof(float));
        st->slots = step_input(st, "slot_mapping", c->layout.slot_mapping,
                               p->num_tokens, sizeof(int64_t));
        if (!st->q || !st->slots)
            return -1;
    }
    if (step_seal(st, lens) != 0 || !st->qsl || !st->block_table ||
        init_cache(st) != 0)
        return -1;
    return init_masks(st);
}

/* Build the pool, the expected pool, kernel parameters and output buffers.
 * `rows` is how many output rows the kernel will be given. */
static int step_init(step *st, const kvc_case *c, const kvc_kernel *k,
                     const kvc_run_opts *opts, const kvc_kv_store *store,
                     kvc_result *r, int64_t rows)
{
    const kvc_config *cfg = &c->prob.cfg;
    memset(st, 0, sizeof *st);
    st->store = store;
    st->c = c;
    st->k = k;
    st->opts = opts;
    st->r = r;
    st->rows = rows;
    kvc_kernel_caps(k, &st->caps);
    if (init_pool(st) != 0 || init_inputs(st) != 0)
        return -1;
    int64_t per_row = (int64_t)cfg->num_q_heads * cfg->head_dim;
    st->out_elem = st->caps.out_dtype == KVA_DTYPE_F32 ? sizeof(float) : 2;
    st->kout = step_scratch(st, "out", rows * per_row, st->out_elem);
    if (!st->kout)
        return -1;
    fill_sentinel(st->kout, rows * per_row, st->out_elem);
    /* lse may be NULL (kvattn.h): one oracle-judged case in eight, chosen by
     * the value seed, passes NULL, so a kernel that writes lse regardless
     * crashes there (its out is still judged) */
    int lse_null = !opts->judge && opts->expect == KVC_EXPECT_VALID &&
                   (c->value_seed >> 29) % KVC_LSE_NULL_EVERY == 0;
    if (st->caps.lse != KVA_LSE_NONE && !lse_null) {
        st->klse = step_scratch(st, "lse", rows * cfg->num_q_heads, sizeof(float));
        if (!st->klse)
            return -1;
        fill_sentinel(st->klse, rows * cfg->num_q_heads, sizeof(float));
    }
    return 0;
}

/* The pool must be exactly `want`. */
kvc_outcome step_check_pool(step *st, const kvc_pool *want,
                            const char *when)
{
    char msg[384];
    if (kvc_pool_diff(want, &st->pool, st->c, msg, sizeof msg))
        return step_fail(st->r, KVC_FAIL_CACHE, "%s: %s", when, msg);
    return KVC_PASS;
}

/* Rows from `first` on belong to no sequence: the kernel must not touch
 * them. */
static kvc_outcome check_padding(step *st, int64_t first)
{
    /* the case's shape, which sized the buffers (a variant may hand the
     * kernel another) */
    int Hq = st->c->prob.cfg.num_q_heads, D = st->c->prob.cfg.head_dim;
    int64_t bad = first_non_sentinel(st->kout, first * Hq * D,
                                     st->rows * Hq * D, st->out_elem);
    int64_t bad_lse = st->klse ? first_non_sentinel(st->klse, first * Hq,
                                                    st->rows * Hq, sizeof(float))
                               : -1;
    if (bad >= 0)
        return step_fail(st->r, KVC_FAIL_PADDING,
                    "padding token %lld: out row written (head %lld dim %lld)",
                         (long long)(bad / ((int64_t)Hq * D)),
                         (long long)(bad / D % Hq), (long long)(bad % D));
    if (bad_lse >= 0)
        return step_fail(st->r, KVC_FAIL_PADDING,
                         "padding token %lld: lse written (head %lld)",
                         (long long)(bad_lse / Hq), (long long)(bad_lse % Hq));
    return KVC_PASS;
}

/* The new tokens' K or V as the cache write gets them: a guarded input of
 * n_tokens rows; rows past the problem's tokens (QEfficient padding rows)
 * are NaN. */
static const float *new_rows(step *st, const char *name, const float *src,
                             int64_t n_tokens)
{
    const kvc_problem *p = &st->c->prob;
    int64_t row = (int64_t)p->cfg.num_kv_heads * p->cfg.head_dim;
    int64_t have = p->num_tokens < n_tokens ? p->num_tokens : n_tokens;
    float *x = step_scratch(st, name, n_tokens * row, sizeof(float));
    if (!x)
        return NULL;
    memcpy(x, src, (size_t)(have * row) * sizeof(float));
    for (int64_t i = have * row; i < n_tokens * row; i++)
        x[i] = NAN;
    return step_seal(st, x) == 0 ? x : NULL;
}

/* Write the new tokens through the kernel and check the pool. A kernel
 * that does not claim the cache write (KVA_FEATURE_CACHE_WRITE) gets the
 * pool written by the runner's own model of it. */
kvc_outcome step_write_new_tokens(step *st, const int64_t *slot_mapping,
                                  int64_t n_tokens)
{
    if (!(st->caps.features & KVA_FEATURE_CACHE_WRITE)) {
        if (!st->no_model)
            kvc_pool_store_new_tokens(&st->pool, st->c, st->store);
        return KVC_PASS;
    }
    float *mk, *mv;
    if (kvc_new_token_kv(st->c, &mk, &mv) != 0)
        return step_fail(st->r, KVC_FAIL_SETUP, "out of memory");
    const float *nk = new_rows(st, "new K", mk, n_tokens);
    const float *nv = nk ? new_rows(st, "new V", mv, n_tokens) : NULL;
    free(mk);
    free(mv);
    if (!nk || !nv)
        return step_fail(st->r, KVC_FAIL_SETUP, "out of memory");
    kva_error e = {0};
    kva_status s = st->k->cache_write(st->cache, nk, nv, slot_mapping,
                                      n_tokens, &e);
    kvc_outcome o = step_guard_check(st, "cache write");
    if (o != KVC_PASS)
        return o;
    if (s != KVA_OK)
        return step_refused(st, "cache write", s, &e, &st->before);
    if (st->no_model)
        return step_fail(st->r, KVC_FAIL_ACCEPTED,
                    "the cache write accepted a cache format it must refuse "
                         "(%s)", st->format_err);
    return step_check_pool(st, &st->want, "after the cache write");
}

/* A refused attention call must also leave every output row as it was. */
static kvc_outcome refused_attention(step *st, const char *what,
                                     kva_status s, const kva_error *e)
{
    kvc_outcome o = step_refused(st, what, s, e, &st->want);
    if (o == KVC_PASS && st->stopped && check_padding(st, 0) != KVC_PASS)
        return step_fail(st->r, KVC_FAIL_REFUSAL,
                         "%s refused (%s) but wrote output rows", what,
                         kva_status_name(s));
    return o;
}

kvc_outcome step_run_paged(step *st, const float *q, const int64_t *qsl,
                           const int *seq_lens)
{
    const kvc_case *c = st->c;
    /* zeroed first, fields then set: the guard compares padding bytes too,
     * so they must be defined (valgrind) */
    kva_paged_batch b;
    memset(&b, 0, sizeof b);
    b.num_seqs = c->prob.num_seqs;
    b.query_start_loc = qsl;
    b.seq_lens = seq_lens;
    b.block_table = st->block_table;
    b.max_blocks_per_seq = c->layout.max_blocks_per_seq;
    b.masks = st->masks;
    const kva_paged_batch *gb = step_input(st, "paged batch", &b, 1, sizeof b);
    if (!gb)
        return step_fail(st->r, KVC_FAIL_SETUP, "out of memory");
    kva_error e = {0};
    kva_status s = st->k->paged_attention(st->params, st->cache, gb, q,
                                          st->rows, (float *)st->kout,
                                          st->klse, &e);
    kvc_outcome o = step_guard_check(st, "paged attention");
    if (o == KVC_PASS && s != KVA_OK)
        o = refused_attention(st, "paged attention", s, &e);
    return o;
}

static kvc_outcome run_blocked(step *st)
{
    const kvc_case *c = st->c;
    const kvc_problem *p = &c->prob;
    kva_blocked_cache bc;
    memset(&bc, 0, sizeof bc); /* defined padding, as in run_paged */
    bc.k = st->pool.k.data;
    bc.v = st->pool.v.data;
    bc.num_seqs = p->num_seqs;
    bc.num_kv_heads = p->cfg.num_kv_heads;
    bc.cache_len = c->layout.block_size;
    bc.head_dim = st->cache->head_dim; /* the case's, or a variant's */
    bc.dtype = st->cache->dtype;
    memcpy(&bc.scales, &st->cache->scales, sizeof bc.scales);
    const kva_blocked_cache *gbc = step_input(st, "blocked cache", &bc, 1, sizeof bc);
    if (!gbc)
        return step_fail(st->r, KVC_FAIL_SETUP, "out of memory");
    kva_error e = {0};
    kva_status s = st->k->blocked_attention(
        st->params, gbc, c->spec.num_kv_blocks, p->num_seqs, st->qsl,
        st->seq_lens, st->masks, st->q, st->rows, (float *)st->kout,
        st->klse, &e);
    kvc_outcome o = step_guard_check(st, "blocked attention");
    if (o == KVC_PASS && s != KVA_OK)
        o = refused_attention(st, "blocked attention", s, &e);
    return o;
}

/* The kernel's outputs as fp32 values and natural-log lse (st->out,
 * st->lse): 16-bit outputs decoded (kvc_decode is exact for f16 and
 * bf16), base-2 lse multiplied by ln 2 (one more rounding, within the lse
 * allowance's |lse| term), no lse when the kernel returns none. 0 or -1
 * (out of memory). */
static int step_outputs(step *st)
{
    const kvc_config *cfg = &st->c->prob.cfg;
    int64_t n = st->rows * cfg->num_q_heads * cfg->head_dim;
    int64_t nl = st->rows * cfg->num_q_heads;
    if (st->out_elem == sizeof(float)) {
        st->out = st->kout;
    } else {
        kvc_kv_dtype t = st->caps.out_dtype == KVA_DTYPE_F16 ? KVC_KV_F16
                                                              : KVC_KV_BF16;
        st->out_copy = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
        if (!st->out_copy)
            return -1;
        const uint16_t *codes = st->kout;
        for (int64_t i = 0; i < n; i++)
            st->out_copy[i] = (float)kvc_decode(t, codes[i]);
        st->out = st->out_copy;
    }
    if (st->caps.lse != KVA_LSE_BASE2 || !st->klse) {
        st->lse = st->klse; /* NULL: no lse asked for (lse not covered) */
        return 0;
    }
    st->lse_copy = malloc((size_t)(nl > 0 ? nl : 1) * sizeof(float));
    if (!st->lse_copy)
        return -1;
    for (int64_t i = 0; i < nl; i++)
        st->lse_copy[i] = (float)((double)st->klse[i] * M_LN2);
    st->lse = st->lse_copy;
    return 0;
}

/* The oracle's verdict on the outputs, in the kernel's declared profile
 * (and the ratio the same outputs get under fp32). */
static kvc_outcome oracle_judge(step *st)
{
    kvc_arith a = {(kvc_profile)st->caps.profile,
                   st->caps.out_dtype == KVA_DTYPE_F32   ? KVC_KV_F32
                   : st->caps.out_dtype == KVA_DTYPE_F16 ? KVC_KV_F16
                                                         : KVC_KV_BF16};
    char err[256];
    int rc = kvc_judge_outputs_ref(&st->c->prob, st->store, &a, st->out,
                                   st->lse, &st->r->verdict, &st->ref, err,
                                   sizeof err);
    if (rc < 0)
        return step_fail(st->r, KVC_FAIL_SETUP, "oracle: %s", err);
    if (rc == 0)
        return step_fail(st->r, KVC_FAIL_NUMERIC, "%s", st->r->verdict.detail);
    return KVC_PASS;
}

static kvc_outcome judge(step *st)
{
    if (step_outputs(st) != 0)
        return step_fail(st->r, KVC_FAIL_SETUP, "out of memory");
    if (!st->opts->judge)
        return oracle_judge(st);
    if (!st->opts->judge(st->c, st->out, st->lse, &st->r->verdict,
                         st->opts->judge_ctx))
        return step_fail(st->r, KVC_FAIL_NUMERIC, "%s", st->r->verdict.detail);
    return KVC_PASS;
}

static int64_t kernel_rows(const kvc_case *c)
{
    if (c->spec.mode == KVC_MODE_QEFF)
        return (int64_t)c->prob.num_seqs * c->qeff.max_q;
    return c->prob.num_tokens;
}

/* The kernel calls of the case's mode, in order; stops at a refusal. */
static kvc_outcome run_mode(step *st)
{
    const kvc_case *c = st->c;
    const kvc_problem *p = &c->prob;
    kvc_outcome o;
    switch (c->spec.mode) {
    case KVC_MODE_PAGED:
        o = step_write_new_tokens(st, st->slots, p->num_tokens);
        if (o == KVC_PASS && !st->stopped)
            o = step_run_paged(st, st->q, st->qsl, st->seq_lens);
        return o;
    case KVC_MODE_BLOCKED:
        o = step_write_new_tokens(st, st->slots, p->num_tokens);
        if (o == KVC_PASS && !st->stopped)
            o = run_blocked(st);
        return o;
    case KVC_MODE_QEFF:
        return step_run_qeff(st);
    default:
        return step_fail(st->r, KVC_FAIL_SETUP, "unknown mode %d",
                         (int)c->spec.mode);
    }
}

kvc_outcome kvc_run_case_opts(const kvc_case *c, const kvc_kernel *k,
                              const kvc_run_opts *opts, kvc_result *r)
{
    memset(r, 0, sizeof *r);
    r->verdict.seq = -1;
    char err[256];
    if (kvc_problem_check(&c->prob, err, sizeof err) != 0 &&
        !(opts->expect == KVC_EXPECT_INVALID && format_only_fault(&c->prob)))
        return step_fail(r, KVC_FAIL_SETUP, "invalid problem: %s", err);
    /* static scales calibrated by the kernel, checked before they are used */
    if (opts->expect == KVC_EXPECT_VALID &&
        kvc_check_calibration(c, k, r) != KVC_PASS)
        return r->outcome;
    step st;
    kvc_outcome o = step_init(&st, c, k, opts, NULL, r, kernel_rows(c)) == 0
                        ? run_mode(&st)
                        : setup_failed(r);
    if (o == KVC_PASS && !st.stopped) {
        if (opts->expect == KVC_EXPECT_INVALID)
            o = step_fail(r, KVC_FAIL_ACCEPTED,
                          "every kernel call accepted an input it must refuse");
        else if ((o = step_check_pool(&st, &st.want,
                                 "attention modified the cache")) == KVC_PASS &&
                 (o = check_padding(&st, c->prob.q_start[c->prob.num_seqs])) ==
                     KVC_PASS)
            o = judge(&st);
        /* Reference-free properties, on valid cases the oracle passed. */
        if (o == KVC_PASS && opts->expect == KVC_EXPECT_VALID && !opts->judge &&
            !opts->skip_properties)
            o = kvc_check_properties(c, k, st.out, st.lse, st.rows,
                                     st.ref.out ? &st.ref : NULL, st.store, r);
        if (o == KVC_PASS && opts->expect == KVC_EXPECT_VALID && !opts->judge &&
            !opts->skip_properties)
            o = kvc_check_merge(c, k, st.ref.out ? &st.ref : NULL, r);
    }
    step_free(&st);
    r->outcome = o;
    return o;
}

/* A malloc'd copy of n floats (the caller's, outliving the guard set). */
static float *plain_copy(const float *x, int64_t n)
{
    float *y = malloc((size_t)(n > 0 ? n : 1) * sizeof *y);
    if (y)
        memcpy(y, x, (size_t)n * sizeof *y);
    return y;
}

kvc_outcome kvc_run_outputs(const kvc_case *c, const kvc_kernel *k,
                            const kvc_kv_store *store, float **out,
                            float **lse, int64_t *rows, kvc_result *r)
{
    static const kvc_run_opts valid = {KVC_EXPECT_VALID, NULL, NULL, 0, NULL};
    memset(r, 0, sizeof *r);
    r->verdict.seq = -1;
    *out = *lse = NULL;
    *rows = kernel_rows(c);
    step st;
    kvc_outcome o = step_init(&st, c, k, &valid, store, r, *rows) == 0
                        ? run_mode(&st)
                        : setup_failed(r);
    if (o == KVC_PASS && step_outputs(&st) != 0)
        o = step_fail(r, KVC_FAIL_SETUP, "out of memory");
    if (o == KVC_PASS) {
        int Hq = c->prob.cfg.num_q_heads;
        *out = plain_copy(st.out, *rows * Hq * c->prob.cfg.head_dim);
        *lse = st.lse ? plain_copy(st.lse, *rows * Hq) : NULL;
        if (!*out || (st.lse && !*lse)) {
            free(*out);
            free(*lse);
            *out = *lse = NULL;
            o = step_fail(r, KVC_FAIL_SETUP, "out of memory");
        }
    }
    step_free(&st);
    r->outcome = o;
    return o;
}

kvc_outcome kvc_run_case(const kvc_case *c, const kvc_kernel *k,
                         kvc_result *r)
{
    static const kvc_run_opts valid = {KVC_EXPECT_VALID, NULL, NULL, 0, NULL};
    return kvc_run_case_opts(c, k, &valid, r);
}
