/* claim.c — a kernel's claim against a case's needs (claim.h). */
#include "claim.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define BIT(i) (1ull << (i))
/* The smallest magnitude that rounds to infinity in f16 (65504 + half an
 * ulp of 32). */
#define F16_INF_FROM 65520.0

static const char *const format_names[13] = {
    "format f32",              "format f16",
    "format bf16",             "format fp8_e4m3/tensor",
    "format fp8_e4m3/head",    "format fp8_e4m3/token",
    "format fp8_e5m2/tensor",  "format fp8_e5m2/head",
    "format fp8_e5m2/token",   "format int8/tensor",
    "format int8/head",        "format int8/token",
    "format nvfp4/group",
};

const char *kvc_cov_name(int item)
{
    static const char *const rest[] = {
        "layout nhd",   "layout hnd",    "layout padded",
        "causal",       "bidirectional", "window",
        "softcap",      "custom mask",   "padding tokens",
        "large offsets", "format edges", "q beyond f16 range",
        "head_dim",     "block_size",
        "seq_len",      "q_len",
    };
    static const char *const modes[3] = {"mode paged", "mode blocked",
                                         "mode qeff"};
    if (item < 0 || item >= KVC_COV_COUNT)
        return NULL;
    if (item < KVC_COV_FORMAT)
        return modes[item - KVC_COV_MODE];
    if (item < KVC_COV_LAYOUT_NHD)
        return format_names[item - KVC_COV_FORMAT];
    return rest[item - KVC_COV_LAYOUT_NHD];
}

int kvc_claim_format_index(kvc_kv_dtype dtype, kvc_scale_kind kind)
{
    switch (dtype) {
    case KVC_KV_F32: return kind == KVC_SCALE_NONE ? 0 : -1;
    case KVC_KV_F16: return kind == KVC_SCALE_NONE ? 1 : -1;
    case KVC_KV_BF16: return kind == KVC_SCALE_NONE ? 2 : -1;
    case KVC_KV_FP8_E4M3:
    case KVC_KV_FP8_E5M2:
    case KVC_KV_INT8:
        if (kind < KVC_SCALE_TENSOR || kind > KVC_SCALE_TOKEN)
            return -1;
        return 3 + 3 * (int)(dtype - KVC_KV_FP8_E4M3) +
               (int)(kind - KVC_SCALE_TENSOR);
    case KVC_KV_NVFP4: return kind == KVC_SCALE_GROUP ? 12 : -1;
    }
    return -1;
}

static int paged_like(kvc_mode m)
{
    return m == KVC_MODE_PAGED || m == KVC_MODE_QEFF;
}

void kvc_facts_of_spec(const kvc_case_spec *sp, kvc_case_facts *f)
{
    memset(f, 0, sizeof *f);
    f->mode = sp->mode;
    f->dtype = sp->kv_dtype;
    f->kind = sp->kv_scale;
    f->hnd = sp->hnd;
    f->padded = sp->stride_pad > 0;
    f->causal = sp->cfg.causal;
    f->window = sp->cfg.window_left >= 0;
    f->softcap = sp->cfg.softcap > 0.0f;
    f->mask = sp->mask != KVC_MASK_NONE;
    f->padding = sp->pad_tokens > 0;
    f->large_offsets = sp->large_offsets;
    /* special inputs (NaN, inf, past-max K/V) are format edges too */
    f->format_edges = sp->format_edges || sp->special_inputs;
    f->head_dim = sp->cfg.head_dim;
    f->block_size = paged_like(sp->mode) ? sp->block_size : 0;
    for (int s = 0; s < sp->num_seqs && s < KVC_MAX_SEQS; s++) {
        int64_t kv = (int64_t)sp->ctx_len[s] + sp->q_len[s];
        if (kv > f->max_kv)
            f->max_kv = kv;
        if (sp->q_len[s] > f->max_q)
            f->max_q = sp->q_len[s];
    }
}

/* Whether a layout's strides are the dense NHD or HND ones. */
static int dense_layout(const kvc_case *c)
{
    const kvc_layout *l = &c->layout;
    int64_t R = c->prob.cfg.head_dim;
    if (c->prob.quant.dtype == KVC_KV_NVFP4)
        R /= 2;
    int64_t H = c->prob.cfg.num_kv_heads, B = l->block_size;
    if (l->hnd)
        return l->stride_slot == R && l->stride_head == B * R &&
               l->stride_block == H * B * R;
    return l->stride_head == R && l->stride_slot == H * R &&
           l->stride_block == B * H * R;
}

void kvc_facts_of_case(const kvc_case *c, kvc_case_facts *f)
{
    const kvc_problem *p = &c->prob;
    memset(f, 0, sizeof *f);
    f->mode = c->spec.mode;
    f->dtype = p->quant.dtype;
    f->kind = p->quant.kind;
    if (paged_like(f->mode)) {
        f->hnd = c->layout.hnd;
        f->padded = !dense_layout(c);
        f->block_size = c->layout.block_size;
        f->large_offsets = c->layout.pool_elems > INT32_MAX;
    }
    f->causal = p->cfg.causal;
    f->window = p->cfg.window_left >= 0;
    f->softcap = p->cfg.softcap > 0.0f;
    f->mask = p->has_mask;
    f->padding = p->num_tokens > p->q_start[p->num_seqs];
    f->format_edges = (c->flags >> KVC_FLAG_FORMAT_EDGES & 1u) != 0 ||
                      c->spec.special_inputs;
    int64_t nq = p->q_start[p->num_seqs] * p->cfg.num_q_heads * p->cfg.head_dim;
    for (int64_t e = 0; p->q && e < nq; e++) /* padding rows come after */
        if (isfinite(p->q[e]) && fabs(p->q[e]) > f->q_amax)
            f->q_amax = fabs(p->q[e]);
    f->head_dim = p->cfg.head_dim;
    for (int s = 0; s < p->num_seqs; s++) {
        int64_t kv = kvc_kv_len(p, s);
        if (kv > f->max_kv)
            f->max_kv = kv;
        if (p->q_len[s] > f->max_q)
            f->max_q = p->q_len[s];
    }
}

uint64_t kvc_claim_uses(const kvc_case_facts *f)
{
    uint64_t u = 0;
    if ((int)f->mode >= 0 && f->mode < KVC_MODE_COUNT)
        u |= BIT(KVC_COV_MODE + f->mode);
    int fi = kvc_claim_format_index(f->dtype, f->kind);
    if (fi >= 0)
        u |= BIT(KVC_COV_FORMAT + fi);
    if (paged_like(f->mode)) {
        u |= BIT(f->hnd ? KVC_COV_LAYOUT_HND : KVC_COV_LAYOUT_NHD);
        if (f->padded)
            u |= BIT(KVC_COV_LAYOUT_PADDED);
        u |= BIT(KVC_COV_BLOCK_SIZE);
    }
    u |= BIT(f->causal ? KVC_COV_CAUSAL : KVC_COV_BIDIRECTIONAL);
    if (f->window) u |= BIT(KVC_COV_WINDOW);
    if (f->softcap) u |= BIT(KVC_COV_SOFTCAP);
    if (f->mask) u |= BIT(KVC_COV_CUSTOM_MASK);
    if (f->padding) u |= BIT(KVC_COV_PADDING_TOKENS);
    if (f->large_offsets) u |= BIT(KVC_COV_LARGE_OFFSETS);
    if (f->format_edges) u |= BIT(KVC_COV_FORMAT_EDGES);
    if (f->q_amax >= F16_INF_FROM) u |= BIT(KVC_COV_Q_RANGE);
    return u | BIT(KVC_COV_HEAD_DIM) | BIT(KVC_COV_SEQ_LEN) | BIT(KVC_COV_Q_LEN);
}

static int in_set(const kva_int_set *s, int64_t x)
{
    if (s->count > 0) {
        for (int i = 0; i < s->count && i < KVA_SET_MAX; i++)
            if (s->values[i] == x)
                return 1;
        return 0;
    }
    return x >= s->min && (s->max == 0 || x <= s->max);
}

static int set_is_all(const kva_int_set *s)
{
    return s->count == 0 && s->min <= 1 && s->max == 0;
}

int kvc_claim_has(const kva_caps *caps, int item)
{
    if (item >= KVC_COV_MODE && item < KVC_COV_FORMAT)
        return (caps->modes >> (item - KVC_COV_MODE) & 1u) != 0;
    if (item >= KVC_COV_FORMAT && item < KVC_COV_LAYOUT_NHD) {
        for (int d = 0; d < KVC_KV_DTYPE_COUNT; d++)
            for (int k = 0; k < KVC_SCALE_KIND_COUNT; k++)
                if (kvc_claim_format_index((kvc_kv_dtype)d,
                                           (kvc_scale_kind)k) ==
                    item - KVC_COV_FORMAT)
                    return (caps->formats[d] >> k & 1u) != 0;
        return 0;
    }
    switch (item) {
    case KVC_COV_LAYOUT_NHD: return (caps->layouts & KVA_LAYOUT_NHD) != 0;
    case KVC_COV_LAYOUT_HND: return (caps->layouts & KVA_LAYOUT_HND) != 0;
    case KVC_COV_LAYOUT_PADDED: return (caps->layouts & KVA_LAYOUT_PADDED) != 0;
    case KVC_COV_CAUSAL: return (caps->features & KVA_FEATURE_CAUSAL) != 0;
    case KVC_COV_BIDIRECTIONAL:
        return (caps->features & KVA_FEATURE_BIDIRECTIONAL) != 0;
    case KVC_COV_WINDOW: return (caps->features & KVA_FEATURE_WINDOW) != 0;
    case KVC_COV_SOFTCAP: return (caps->features & KVA_FEATURE_SOFTCAP) != 0;
    case KVC_COV_CUSTOM_MASK:
        return (caps->features & KVA_FEATURE_CUSTOM_MASK) != 0;
    case KVC_COV_PADDING_TOKENS:
        return (caps->features & KVA_FEATURE_PADDING_TOKENS) != 0;
    case KVC_COV_LARGE_OFFSETS:
        return (caps->features & KVA_FEATURE_LARGE_OFFSETS) != 0;
    case KVC_COV_FORMAT_EDGES:
        return (caps->features & KVA_FEATURE_FORMAT_EDGES) != 0;
    case KVC_COV_Q_RANGE: /* the design's domain, not a choice */
        return caps->profile == KVA_PROFILE_FP32;
    case KVC_COV_HEAD_DIM: return set_is_all(&caps->head_dims);
    case KVC_COV_BLOCK_SIZE: return set_is_all(&caps->block_sizes);
    case KVC_COV_SEQ_LEN: return caps->max_seq_len == 0;
    case KVC_COV_Q_LEN: return caps->max_q_len == 0;
    }
    return 0;
}

static void describe_set(const kva_int_set *s, char *buf, size_t n)
{
    if (set_is_all(s)) {
        snprintf(buf, n, "all");
        return;
    }
    if (s->count == 0) {
        if (s->max == 0)
            snprintf(buf, n, "%d and up", s->min);
        else
            snprintf(buf, n, "%d..%d", s->min, s->max);
        return;
    }
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->count && i < KVA_SET_MAX && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%d", i ? ", " : "",
                                 s->values[i]);
}

void kvc_claim_describe_sizes(const kva_caps *caps, int item, char *buf,
                              size_t n)
{
    if (n == 0)
        return;
    buf[0] = '\0';
    if (item == KVC_COV_HEAD_DIM)
        describe_set(&caps->head_dims, buf, n);
    else if (item == KVC_COV_BLOCK_SIZE)
        describe_set(&caps->block_sizes, buf, n);
    else if (item == KVC_COV_SEQ_LEN || item == KVC_COV_Q_LEN) {
        int64_t m = item == KVC_COV_SEQ_LEN ? caps->max_seq_len : caps->max_q_len;
        if (m == 0)
            snprintf(buf, n, "all");
        else
            snprintf(buf, n, "up to %lld", (long long)m);
    }
}

uint64_t kvc_claim_missing(const kva_caps *caps, const kvc_case_facts *f)
{
    uint64_t uses = kvc_claim_uses(f), miss = 0;
    for (int i = 0; i < KVC_COV_HEAD_DIM; i++)
        if ((uses & BIT(i)) && !kvc_claim_has(caps, i))
            miss |= BIT(i);
    if (kvc_claim_format_index(f->dtype, f->kind) < 0)
        miss |= BIT(KVC_COV_FORMAT); /* not a format at all: never claimed */
    /* half-p rounds Q to bf16 (fp32's range) except over an f16 cache */
    if ((uses & BIT(KVC_COV_Q_RANGE)) && caps->profile == KVA_PROFILE_HALF_P &&
        f->dtype != KVC_KV_F16)
        miss &= ~BIT(KVC_COV_Q_RANGE);
    if (!in_set(&caps->head_dims, f->head_dim))
        miss |= BIT(KVC_COV_HEAD_DIM);
    if ((uses & BIT(KVC_COV_BLOCK_SIZE)) &&
        !in_set(&caps->block_sizes, f->block_size))
        miss |= BIT(KVC_COV_BLOCK_SIZE);
    if (caps->max_seq_len > 0 && f->max_kv > caps->max_seq_len)
        miss |= BIT(KVC_COV_SEQ_LEN);
    if (caps->max_q_len > 0 && f->max_q > caps->max_q_len)
        miss |= BIT(KVC_COV_Q_LEN);
    return miss;
}

static int check_set(const char *name, const kva_int_set *s, char *err,
                     size_t errlen)
{
    if (s->count < 0 || s->count > KVA_SET_MAX) {
        snprintf(err, errlen, "kva_capabilities: %s.count %d is not in 0..%d",
                 name, s->count, KVA_SET_MAX);
        return -1;
    }
    if (s->count == 0 && (s->min < 0 || (s->max != 0 && s->max < s->min))) {
        snprintf(err, errlen, "kva_capabilities: %s range [%d, %d] is empty "
                 "or negative (max 0 = no limit)", name, s->min, s->max);
        return -1;
    }
    return 0;
}

int kvc_caps_check(const kva_caps *caps, char *err, size_t errlen)
{
    const uint32_t known = KVA_MODE_ALL | KVA_MODE_MANAGER | KVA_MODE_POLICY;
    if ((caps->modes & known) == 0 || (caps->modes & ~known)) {
        snprintf(err, errlen, "kva_capabilities: modes 0x%x claims no mode or "
                 "unknown bits (KVA_MODE_PAGED | KVA_MODE_BLOCKED | "
                 "KVA_MODE_QEFF | KVA_MODE_MANAGER | KVA_MODE_POLICY)",
                 caps->modes);
        return -1;
    }
    int any = 0;
    for (int d = 0; d < 8; d++) {
        for (int k = 0; k < 32; k++)
            if (caps->formats[d] >> k & 1u) {
                if (d >= KVC_KV_DTYPE_COUNT || k >= KVC_SCALE_KIND_COUNT ||
                    kvc_claim_format_index((kvc_kv_dtype)d,
                                           (kvc_scale_kind)k) < 0) {
                    snprintf(err, errlen, "kva_capabilities: formats[%d] bit "
                             "%d is not a (kva_dtype, kva_scale_kind) pair "
                             "the header defines", d, k);
                    return -1;
                }
                any = 1;
            }
    }
    if (!any) {
        snprintf(err, errlen, "kva_capabilities: no cache format claimed "
                 "(formats[KVA_DTYPE_F32] = 1u << KVA_SCALE_NONE, ...)");
        return -1;
    }
    if (caps->layouts & ~(uint32_t)KVA_LAYOUT_ALL || caps->features & ~(uint32_t)KVA_FEATURE_ALL) {
        snprintf(err, errlen, "kva_capabilities: unknown layout or feature "
                 "bits (layouts 0x%x, features 0x%x)", caps->layouts,
                 caps->features);
        return -1;
    }
    if (!(caps->features & (KVA_FEATURE_CAUSAL | KVA_FEATURE_BIDIRECTIONAL))) {
        snprintf(err, errlen, "kva_capabilities: neither KVA_FEATURE_CAUSAL "
                 "nor KVA_FEATURE_BIDIRECTIONAL is claimed");
        return -1;
    }
    if ((caps->modes & (KVA_MODE_PAGED | KVA_MODE_QEFF)) &&
        !(caps->layouts & (KVA_LAYOUT_NHD | KVA_LAYOUT_HND))) {
        snprintf(err, errlen, "kva_capabilities: a paged mode is claimed but "
                 "no layout (KVA_LAYOUT_NHD or KVA_LAYOUT_HND)");
        return -1;
    }
    if (check_set("head_dims", &caps->head_dims, err, errlen) ||
        check_set("block_sizes", &caps->block_sizes, err, errlen))
        return -1;
    if (caps->max_seq_len < 0 || caps->max_q_len < 0) {
        snprintf(err, errlen, "kva_capabilities: max_seq_len %lld or "
                 "max_q_len %lld is negative (0 = no limit)",
                 (long long)caps->max_seq_len, (long long)caps->max_q_len);
        return -1;
    }
    if ((unsigned)caps->lse > KVA_LSE_BASE2 ||
        (caps->out_dtype != KVA_DTYPE_F32 && caps->out_dtype != KVA_DTYPE_F16 &&
         caps->out_dtype != KVA_DTYPE_BF16) ||
        (unsigned)caps->profile > KVA_PROFILE_HALF_ACC ||
        (caps->validates != 0 && caps->validates != 1) ||
        (caps->takes_threads != 0 && caps->takes_threads != 1)) {
        snprintf(err, errlen, "kva_capabilities: out of range: lse %d (0..2), "
                 "out_dtype %d (F32, F16 or BF16), profile %d (0..2), "
                 "validates %d, takes_threads %d (0 or 1)", (int)caps->lse,
                 (int)caps->out_dtype, (int)caps->profile, caps->validates,
                 caps->takes_threads);
        return -1;
    }
    return 0;
}

int kvc_claimed_spec(const kva_caps *caps, uint64_t seed, uint64_t index,
                     int forced_mode, kvc_case_spec *sp, int *attempt,
                     uint64_t *not_covered)
{
    return kvc_claimed_spec_sized(caps, seed, index, forced_mode, NULL, sp,
                                  attempt, not_covered);
}

int kvc_claimed_spec_sized(const kva_caps *caps, uint64_t seed,
                           uint64_t index, int forced_mode,
                           const kvc_size_opts *size, kvc_case_spec *sp,
                           int *attempt, uint64_t *not_covered)
{
    kvc_case_spec first;
    *attempt = 0;
    for (int a = 0; a < (caps ? KVC_CLAIM_ATTEMPTS : 1); a++) {
        if (kvc_spec_draw_sized(kvc_attempt_seed(seed, index, a), forced_mode,
                                size, sp) != 0)
            return -1;
        if (!caps)
            return 0;
        kvc_case_facts f;
        kvc_facts_of_spec(sp, &f);
        uint64_t miss = kvc_claim_missing(caps, &f);
        if (miss == 0) {
            *attempt = a;
            return 0;
        }
        if (a == 0)
            first = *sp;
        for (int i = 0; not_covered && i < KVC_COV_COUNT; i++)
            if (miss & BIT(i))
                not_covered[i]++;
    }
    *sp = first;
    return 1;
}

/* Build attempt `attempt` of case (seed, index): 0 built, 1 outside the
 * claim (the built case's query range), -1 error. */
static int build_attempt(const kva_caps *caps, const kvc_case_spec *sp,
                         uint64_t seed, uint64_t index, int attempt,
                         kvc_case *c, char *err, size_t errlen)
{
    if (kvc_case_build(sp, kvc_attempt_seed(seed, index, attempt), c, err,
                       errlen) != 0)
        return -1;
    c->seed = seed;
    c->index = index;
    if (!caps)
        return 0;
    kvc_case_facts f;
    kvc_facts_of_case(c, &f);
    if (kvc_claim_missing(caps, &f) == 0)
        return 0;
    kvc_case_free(c);
    return 1;
}

int kvc_claimed_generate(const kva_caps *caps, uint64_t seed, uint64_t index,
                         int forced_mode, kvc_case *c, char *err,
                         size_t errlen)
{
    return kvc_claimed_generate_counted(caps, seed, index, forced_mode, NULL,
                                        c, NULL, err, errlen);
}

int kvc_claimed_generate_sized(const kva_caps *caps, uint64_t seed,
                               uint64_t index, int forced_mode,
                               const kvc_size_opts *size, kvc_case *c,
                               char *err, size_t errlen)
{
    return kvc_claimed_generate_counted(caps, seed, index, forced_mode, size,
                                        c, NULL, err, errlen);
}

int kvc_claimed_generate_counted(const kva_caps *caps, uint64_t seed,
                                 uint64_t index, int forced_mode,
                                 const kvc_size_opts *size, kvc_case *c,
                                 uint64_t *built_outside, char *err,
                                 size_t errlen)
{
    kvc_case_spec sp;
    if (c)
        memset(c, 0, sizeof *c);
    for (int a = 0; a < (caps ? KVC_CLAIM_ATTEMPTS : 1); a++) {
        if (kvc_spec_draw_sized(kvc_attempt_seed(seed, index, a), forced_mode,
                                size, &sp) != 0) {
            if (err && errlen)
                snprintf(err, errlen, "cannot draw case %llu of seed %llu "
                         "(forced mode %d is not a mode, or out of memory)",
                         (unsigned long long)index, (unsigned long long)seed,
                         forced_mode);
            return -1;
        }
        kvc_case_facts f;
        kvc_facts_of_spec(&sp, &f);
        if (caps && kvc_claim_missing(caps, &f) != 0)
            continue;
        int rc = build_attempt(caps, &sp, seed, index, a, c, err, errlen);
        if (rc <= 0)
            return rc;
        if (built_outside)
            ++*built_outside;
    }
    if (err && errlen)
        snprintf(err, errlen, "case %llu of seed %llu: none of %d draws is "
                 "inside the kernel's claim", (unsigned long long)index,
                 (unsigned long long)seed, KVC_CLAIM_ATTEMPTS);
    return -1;
}
