/*
 * selftest.c — checks the example plugins without kvcheck's runner: draws
 * paged cases from the generators, keeps those inside a plugin's claim
 * (kva_capabilities), writes the whole cache itself (the plugins have no
 * kva_cache_write) into a poisoned pool laid out as the case says, calls
 * the plugin's kva_paged_attention and compares with the oracle.
 *
 *   selftest half-acc PLUGIN.so [CASES [SEED]]
 *       out must be close to the half-acc emulation's out32 (oracle/
 *       profile.h; the emulation subtracts the global max, the kernel an
 *       online one, so the two may differ by a few f16 roundings of the
 *       accumulator), lse close to its lse32; the same result bitwise with
 *       1, 3 and 8 threads; padding rows untouched; an unsupported format
 *       refused with KVA_ERR_UNSUPPORTED and nothing written.
 *   selftest wrong PLUGIN.so [CASES [SEED]]
 *       kvc_compare (the fp32 tolerance model kvcheck judges with) must
 *       fail every case where a causal query sees a visible key p + 1 (the
 *       planted off-by-one) and pass every other case.
 *
 * Prints one line per case and a summary; exit 0 when every check holds.
 */
#include <dlfcn.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../generators/case.h"
#include "../kernels/kvattn.h"
#include "../oracle/profile.h"
#include "../oracle/tolerance.h"
#include "../tools/pool.h"

typedef kva_status (*paged_fn)(const kva_attn_params *, const kva_paged_cache *,
                               const kva_paged_batch *, const float *, int64_t,
                               float *, float *, kva_error *);

#define SENTINEL 0x7fa5a5a5u /* a NaN no kernel writes */

static int in_set(const kva_int_set *s, int v)
{
    if (s->count > 0) {
        for (int i = 0; i < s->count && i < KVA_SET_MAX; i++)
            if (s->values[i] == v)
                return 1;
        return 0;
    }
    return v >= s->min && (s->max == 0 || v <= s->max);
}

/* Whether case c is inside the claim; else a reason in why. */
static int claimed(const kva_caps *cp, const kvc_case *c, const char **why)
{
    const kvc_problem *p = &c->prob;
    uint32_t need = p->cfg.causal ? KVA_FEATURE_CAUSAL : KVA_FEATURE_BIDIRECTIONAL;
    if (p->cfg.window_left >= 0) need |= KVA_FEATURE_WINDOW;
    if (p->cfg.softcap > 0.0f) need |= KVA_FEATURE_SOFTCAP;
    if (p->has_mask) need |= KVA_FEATURE_CUSTOM_MASK;
    if (p->num_tokens > p->q_start[p->num_seqs]) need |= KVA_FEATURE_PADDING_TOKENS;
    if (c->flags & (UINT64_C(1) << KVC_FLAG_LARGE_OFFSETS))
        need |= KVA_FEATURE_LARGE_OFFSETS;
    uint32_t layout = c->layout.hnd ? KVA_LAYOUT_HND : KVA_LAYOUT_NHD;
    if (c->flags & (UINT64_C(1) << KVC_FLAG_PADDED_STRIDES))
        layout |= KVA_LAYOUT_PADDED;
    *why = !(cp->modes & KVA_MODE_PAGED) ? "mode"
         : (unsigned)p->quant.dtype >= 8 ||
                   !(cp->formats[p->quant.dtype] & (1u << p->quant.kind)) ? "format"
         : (cp->features & need) != need ? "feature"
         : (cp->layouts & layout) != layout ? "layout"
         : !in_set(&cp->head_dims, p->cfg.head_dim) ? "head_dim"
         : !in_set(&cp->block_sizes, c->layout.block_size) ? "block size"
         : NULL;
    return *why == NULL;
}

/* Whether some causal row of c sees key p + 1 through the bug: a new token
 * that is not its sequence's last, key p + 1 inside the window and mask. */
static int bug_reachable(const kvc_case *c)
{
    const kvc_problem *p = &c->prob;
    if (!p->cfg.causal)
        return 0;
    for (int s = 0; s < p->num_seqs; s++)
        for (int i = 0; i + 1 < p->q_len[s]; i++) {
            int kv = kvc_kv_len(p, s);
            int64_t j = (int64_t)p->ctx_len[s] + i + 1;
            if (!p->has_mask || p->mask[p->mask_start[s] + (int64_t)i * kv + j])
                return 1;
        }
    return 0;
}

typedef struct fixture {
    kvc_pool pool;
    kvc_kv_store st;
    kva_paged_cache cache;
    kva_paged_batch batch;
    int *seq_lens;
    const uint8_t **masks;
    int64_t n_out, n_lse;
} fixture;

static void fixture_free(fixture *f)
{
    kvc_pool_free(&f->pool);
    kvc_kv_store_free(&f->st);
    free(f->seq_lens);
    free(f->masks);
}

/* The pool with every position of every sequence written (context and new
 * tokens), and the cache and batch descriptions a kernel gets. */
static int fixture_init(fixture *f, const kvc_case *c)
{
    const kvc_problem *p = &c->prob;
    const kvc_layout *l = &c->layout;
    char err[256];
    memset(f, 0, sizeof *f);
    if (kvc_kv_store_compute(p, &f->st, err, sizeof err) != 0 ||
        kvc_pool_alloc_poisoned(&f->pool, c) != 0)
        return -1;
    kvc_pool_store_context(&f->pool, c, &f->st);
    kvc_pool_store_new_tokens(&f->pool, c, &f->st);
    kva_paged_cache *kc = &f->cache;
    kc->k = f->pool.k.data;
    kc->v = f->pool.v.data;
    kc->pool_elems = l->pool_elems;
    kc->num_blocks = l->num_blocks;
    kc->block_size = l->block_size;
    kc->num_kv_heads = p->cfg.num_kv_heads;
    kc->head_dim = p->cfg.head_dim;
    kc->stride_block = l->stride_block;
    kc->stride_slot = l->stride_slot;
    kc->stride_head = l->stride_head;
    kc->dtype = (kva_dtype)p->quant.dtype;
    kc->scales.kind = (kva_scale_kind)p->quant.kind;
    int S = p->num_seqs;
    f->seq_lens = calloc((size_t)S + 1, sizeof *f->seq_lens);
    f->masks = calloc((size_t)S + 1, sizeof *f->masks);
    if (!f->seq_lens || !f->masks)
        return -1;
    for (int s = 0; s < S; s++) {
        f->seq_lens[s] = kvc_kv_len(p, s);
        if (p->has_mask)
            f->masks[s] = p->mask + p->mask_start[s];
    }
    f->batch.num_seqs = S;
    f->batch.query_start_loc = p->q_start;
    f->batch.seq_lens = f->seq_lens;
    f->batch.block_table = l->block_table;
    f->batch.max_blocks_per_seq = l->max_blocks_per_seq;
    f->batch.masks = p->has_mask ? f->masks : NULL;
    f->n_out = p->num_tokens * p->cfg.num_q_heads * p->cfg.head_dim;
    f->n_lse = p->num_tokens * p->cfg.num_q_heads;
    return 0;
}

static int fill_sentinel(float **out, float **lse, const fixture *f)
{
    *out = malloc((size_t)(f->n_out + 1) * sizeof **out);
    *lse = malloc((size_t)(f->n_lse + 1) * sizeof **lse);
    if (!*out || !*lse)
        return -1;
    uint32_t bits = SENTINEL;
    for (int64_t i = 0; i < f->n_out; i++)
        memcpy(&(*out)[i], &bits, sizeof bits);
    for (int64_t i = 0; i < f->n_lse; i++)
        memcpy(&(*lse)[i], &bits, sizeof bits);
    return 0;
}

static int64_t count_touched(const float *x, int64_t from, int64_t to)
{
    uint32_t bits = SENTINEL;
    int64_t n = 0;
    for (int64_t i = from; i < to; i++)
        n += memcmp(&x[i], &bits, sizeof bits) != 0;
    return n;
}

static kva_status call(paged_fn fn, const kvc_case *c, fixture *f, int threads,
                       float *out, float *lse, kva_error *e)
{
    const kvc_config *g = &c->prob.cfg;
    kva_attn_params prm = {g->num_q_heads, g->num_kv_heads, g->head_dim,
                           g->scale, g->softcap, g->causal, g->window_left,
                           threads};
    return fn(&prm, &f->cache, &f->batch, c->prob.q, c->prob.num_tokens, out,
              lse, e);
}

/* |a - b| with equal non-finite values (inf, -inf, NaN) counting as 0. */
static double diff(double a, double b)
{
    if (isnan(a) && isnan(b)) return 0.0;
    if (a == b) return 0.0;
    return fabs(a - b);
}

typedef struct tally {
    int run, skipped, skip_format, skip_feature, failed, numeric_fail_fp32, overflow_cases;
    int bug_cases, bug_caught, clean_cases, clean_passed;
    double worst_rel, worst_abs, worst_lse, worst_bug;
} tally;

/* half-acc: out vs. the emulation, threads, padding, refusal. */
static int check_half_acc(paged_fn fn, const kvc_case *c, fixture *f,
                          tally *ty, char *line, size_t n)
{
    const kvc_problem *p = &c->prob;
    int64_t real = p->q_start[p->num_seqs];
    int Hq = p->cfg.num_q_heads, D = p->cfg.head_dim;
    float *out[3] = {0}, *lse[3] = {0};
    int threads[3] = {1, 3, 8}, bad = 0;
    kva_error e = {0};
    kvc_reference ref;
    char err[256];
    memset(&ref, 0, sizeof ref);
    for (int k = 0; k < 3 && !bad; k++) {
        if (fill_sentinel(&out[k], &lse[k], f) != 0) { bad = 1; break; }
        kva_status s = call(fn, c, f, threads[k], out[k], lse[k], &e);
        if (s != KVA_OK) {
            snprintf(line, n, "status %d: %.200s", (int)s, e.msg);
            bad = 1;
        }
    }
    if (!bad && (memcmp(out[0], out[1], (size_t)f->n_out * 4) ||
                 memcmp(out[0], out[2], (size_t)f->n_out * 4) ||
                 memcmp(lse[0], lse[1], (size_t)f->n_lse * 4) ||
                 memcmp(lse[0], lse[2], (size_t)f->n_lse * 4))) {
        snprintf(line, n, "results differ between 1, 3 and 8 threads");
        bad = 1;
    }
    if (!bad && (count_touched(out[0], real * Hq * D, f->n_out) ||
                 count_touched(lse[0], real * Hq, f->n_lse) ||
                 count_touched(out[0], 0, real * Hq * D) != real * Hq * D)) {
        snprintf(line, n, "padding rows written or real rows not written");
        bad = 1;
    }
    if (!bad && kvc_reference_compute_profile(p, &f->st, KVC_PROFILE_HALF_ACC,
                                              &ref, err, sizeof err) != 0) {
        snprintf(line, n, "oracle: %.200s", err);
        bad = 1;
    }
    double rel = 0, abs_ = 0, dl = 0;
    int64_t at = 0;
    int overflow = 0, lse_bad = 0;
    if (!bad) {
        for (int64_t i = 0; i < real * Hq * D; i++) {
            int64_t row = i / D;
            if (isfinite(out[0][i]) != isfinite(ref.out32[i]) &&
                ref.nvis[row] * ref.vmax[row] > 65504.0) {
                /* The f16 accumulator overflowed in one of the two and not
                 * in the other: the kernel's online weights exp(x - m_run)
                 * are larger than the emulation's exp(x - m_global) until
                 * the row max arrives, so the same keys can pass 65504 in
                 * one order of events and not in the other. Possible only
                 * when sum_j |v_jd| can exceed 65504. */
                overflow = 1;
                continue;
            }
            double d = diff(out[0][i], ref.out32[i]);
            /* a few f16 roundings of the accumulator, 2^-11 of its scale
             * sum_j w_j |v_jd| (absw) each, or 2^-24 (the f16 subnormal
             * step) per key where it underflows */
            double allowed = 16 * 0x1p-11 * ref.absw[i] + ref.nvis[row] * 0x1p-24;
            double r = d / (allowed > 0 ? allowed : 1e-30);
            if (!(d <= abs_)) abs_ = d;
            if (!(r <= rel)) rel = r, at = i;
        }
        for (int64_t i = 0; i < real * Hq; i++) {
            double d = diff(lse[0][i], ref.lse32[i]);
            if (!(d <= dl)) dl = d;
            if (!(d <= 1e-4 * (1 + fabs(ref.lse32[i])))) /* fp32 logf(l) */
                lse_bad = 1;
            if (ref.nvis[i] == 0) { /* empty row: exactly 0 and -inf */
                for (int d2 = 0; d2 < D; d2++)
                    if (out[0][i * D + d2] != 0.0f) bad = 1;
                if (lse[0][i] != -INFINITY) bad = 1;
            }
        }
        kvc_reference fp32;
        kvc_verdict v;
        if (kvc_reference_compute_stored(p, &f->st, &fp32, err, sizeof err) == 0) {
            if (!kvc_compare(p, &fp32, out[0], lse[0], &v))
                ty->numeric_fail_fp32++;
            kvc_reference_free(&fp32);
        }
        if (rel > 1 || lse_bad) bad = 1;
        ty->overflow_cases += overflow;
        snprintf(line, n, "max|out-emu| %.3g (ratio %.3g), max|lse-emu| %.3g%s%s",
                 abs_, rel, dl, overflow ? ", f16 overflow in one of the two" : "",
                 bad ? "  TOO FAR" : "");
        if (bad && rel > 0) {
            size_t k = strlen(line);
            snprintf(line + k, n - k, " (token %" PRId64 " head %d dim %d: "
                     "kernel %.9g, emulation %.9g, exact %.9g, absw %.3g)",
                     at / D / Hq, (int)(at / D % Hq), (int)(at % D),
                     out[0][at], ref.out32[at], ref.out[at], ref.absw[at]);
        }
    }
    if (!bad) { /* a cache format it does not implement: refused, untouched */
        kva_paged_cache keep = f->cache;
        f->cache.dtype = KVA_DTYPE_BF16;
        float *o2, *l2;
        if (fill_sentinel(&o2, &l2, f) == 0) {
            kva_status s = call(fn, c, f, 2, o2, l2, &e);
            if (s != KVA_ERR_UNSUPPORTED || count_touched(o2, 0, f->n_out) ||
                count_touched(l2, 0, f->n_lse)) {
                snprintf(line, n, "bf16 cache: status %d, outputs touched", (int)s);
                bad = 1;
            }
        }
        free(o2);
        free(l2);
        f->cache = keep;
    }
    if (rel > ty->worst_rel) ty->worst_rel = rel;
    if (abs_ > ty->worst_abs) ty->worst_abs = abs_;
    if (dl > ty->worst_lse) ty->worst_lse = dl;
    kvc_reference_free(&ref);
    for (int k = 0; k < 3; k++) { free(out[k]); free(lse[k]); }
    return bad ? -1 : 0;
}

/* wrong: kvc_compare must fail exactly the cases the bug reaches. */
static int check_wrong(paged_fn fn, const kvc_case *c, fixture *f, tally *ty,
                       char *line, size_t n)
{
    const kvc_problem *p = &c->prob;
    float *out, *lse;
    kva_error e = {0};
    kvc_reference ref;
    kvc_verdict v;
    char err[256];
    int bad = 0;
    if (fill_sentinel(&out, &lse, f) != 0 ||
        call(fn, c, f, 1, out, lse, &e) != KVA_OK ||
        kvc_reference_compute_stored(p, &f->st, &ref, err, sizeof err) != 0) {
        snprintf(line, n, "setup or call failed: %.200s", e.msg);
        free(out);
        free(lse);
        return -1;
    }
    int pass = kvc_compare(p, &ref, out, lse, &v);
    int reach = bug_reachable(c);
    double worst = 0; /* max |out - exact| over the case */
    int64_t real = p->q_start[p->num_seqs];
    for (int64_t i = 0; i < real * p->cfg.num_q_heads * p->cfg.head_dim; i++) {
        double d = diff(out[i], ref.out[i]);
        if (!(d <= worst)) worst = d;
    }
    if (reach) {
        ty->bug_cases++;
        ty->bug_caught += !pass;
        if (worst > ty->worst_bug) ty->worst_bug = worst;
        /* a reachable bug that the tolerance model misses is reported, not
         * failed: the future key can be masked out by a tiny weight */
    } else {
        ty->clean_cases++;
        ty->clean_passed += pass;
        bad = !pass;
    }
    snprintf(line, n, "bug %s, kvc_compare %s, max|out-exact| %.3g, worst ratio %.3g",
             reach ? "reachable" : "unreachable", pass ? "PASS" : "FAIL",
             worst, v.ratio);
    kvc_reference_free(&ref);
    free(out);
    free(lse);
    return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "half-acc") && strcmp(argv[1], "wrong"))) {
        fprintf(stderr, "usage: %s half-acc|wrong PLUGIN.so [CASES [SEED]]\n",
                argv[0]);
        return 2;
    }
    int wrong = strcmp(argv[1], "wrong") == 0;
    int cases = argc > 3 ? atoi(argv[3]) : 200;
    uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
    void *h = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "selftest: %s\n", dlerror());
        return 2;
    }
    void *sym_caps = dlsym(h, "kva_capabilities"),
         *sym_ver = dlsym(h, "kva_abi_version"),
         *sym_paged = dlsym(h, "kva_paged_attention");
    if (!sym_caps || !sym_ver || !sym_paged) {
        fprintf(stderr, "selftest: %s lacks an ABI v2 entry point\n", argv[2]);
        dlclose(h);
        return 2;
    }
    void (*caps_fn)(kva_caps *);
    int (*ver_fn)(void);
    paged_fn fn;
    memcpy(&caps_fn, &sym_caps, sizeof caps_fn);
    memcpy(&ver_fn, &sym_ver, sizeof ver_fn);
    memcpy(&fn, &sym_paged, sizeof fn);
    kva_caps caps;
    memset(&caps, 0, sizeof caps);
    caps_fn(&caps);
    int fails = ver_fn() != KVA_ABI_VERSION;
    printf("%s: abi %d, profile %d, takes_threads %d, kva_cache_write %s\n",
           argv[2], ver_fn(), (int)caps.profile, caps.takes_threads,
           dlsym(h, "kva_cache_write") ? "exported" : "absent");

    tally ty;
    memset(&ty, 0, sizeof ty);
    for (int i = 0; i < cases; i++) {
        kvc_case c;
        char err[256], desc[256], line[512] = "";
        if (kvc_case_generate(seed, (uint64_t)i, KVC_MODE_PAGED, &c, err,
                              sizeof err) != 0) {
            printf("case %d: generate: %s\n", i, err);
            fails++;
            continue;
        }
        const char *why;
        if (!claimed(&caps, &c, &why)) {
            ty.skipped++;
            if (strcmp(why, "format") == 0) ty.skip_format++;
            if (strcmp(why, "feature") == 0) ty.skip_feature++;
            kvc_case_free(&c);
            continue;
        }
        fixture f;
        int rc;
        if (fixture_init(&f, &c) != 0) {
            snprintf(line, sizeof line, "fixture setup failed");
            rc = -1;
        } else {
            rc = wrong ? check_wrong(fn, &c, &f, &ty, line, sizeof line)
                       : check_half_acc(fn, &c, &f, &ty, line, sizeof line);
        }
        kvc_case_describe(&c, desc, sizeof desc);
        printf("case %d [%s %s]: %s%s\n", i,
               kvc_kv_dtype_name(c.prob.quant.dtype), desc, line,
               rc ? "  <-- FAIL" : "");
        ty.run++;
        ty.failed += rc != 0;
        fixture_free(&f);
        kvc_case_free(&c);
    }
    printf("outside the claim: %d by format, %d by feature (large offsets), "
           "%d other\n", ty.skip_format, ty.skip_feature,
           ty.skipped - ty.skip_format - ty.skip_feature);
    if (wrong) {
        printf("wrong: %d cases run (%d outside the claim); bug reachable in "
               "%d, kvc_compare rejected %d of them (max |out-exact| %.3g); "
               "%d unreachable, %d of them passed\n",
               ty.run, ty.skipped, ty.bug_cases, ty.bug_caught, ty.worst_bug,
               ty.clean_cases, ty.clean_passed);
        if (ty.bug_caught == 0)
            fails++;
    } else {
        printf("half-acc: %d cases run (%d outside the claim), %d failed; "
               "max |out-emu| %.3g, max ratio %.3g, max |lse-emu| %.3g; "
               "%d with an f16 overflow in only one of kernel and emulation; "
               "%d would fail the fp32 tolerance model\n",
               ty.run, ty.skipped, ty.failed, ty.worst_abs, ty.worst_rel,
               ty.worst_lse, ty.overflow_cases, ty.numeric_fail_fp32);
    }
    fails += ty.failed;
    dlclose(h);
    printf("%s\n", fails ? "SELFTEST FAILED" : "selftest ok");
    return fails ? 1 : 0;
}
