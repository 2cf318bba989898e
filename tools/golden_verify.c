/* golden_verify.c — judging a kernel by a golden file's expected values. */
#include "golden_verify.h"
#include "golden_cache_verify.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../golden/golden_cache.h"
#include "../golden/golden_merge.h"
#include "../oracle/kv_store.h"
#include "campaign.h"
#include "claim.h"
#include "death_verdict.h"
#include "kernel_lib.h"
#include "guard.h"
#include "refusal.h"
#include "workers.h"

/* Ratio of one value: err / allowed with the runner's conventions. */
static double value_ratio(double got, double want, double allowed,
                          double *err)
{
    if (isnan(want)) {
        *err = isnan(got) ? 0 : INFINITY;
    } else if (isinf(want)) {
        *err = got == want ? 0 : INFINITY;
    } else if (!isfinite(got)) {
        *err = INFINITY;
    } else {
        *err = fabs(got - want);
    }
    if (*err == 0)
        return 0;
    return allowed > 0 ? *err / allowed : INFINITY;
}

static void consider(kvc_verdict *v, const kvc_problem *p, int64_t t, int h,
                     int d, double got, double want, double allowed)
{
    double err;
    double ratio = value_ratio(got, want, allowed, &err);
    if (v->seq >= 0 && !(ratio > v->ratio))
        return;
    int s = 0;
    while (s + 1 < p->num_seqs && p->q_start[s + 1] <= t)
        s++;
    v->ratio = ratio;
    v->err = err;
    v->allowed = allowed;
    v->got = got;
    v->want = want;
    v->seq = s;
    v->token = t;
    v->head = h;
    v->dim = d;
}

int kvc_golden_judge(const kvc_case *c, const float *out, const float *lse,
                     kvc_verdict *v, void *ctx)
{
    const kvc_golden_test *gt = ctx;
    const kvc_problem *p = &c->prob;
    int Hq = p->cfg.num_q_heads, D = p->cfg.head_dim;
    int64_t rows = p->q_start[p->num_seqs];
    memset(v, 0, sizeof *v);
    v->seq = -1;
    for (int64_t t = 0; t < rows; t++)
        for (int h = 0; h < Hq; h++) {
            int64_t row = t * Hq + h;
            for (int d = 0; d < D; d++)
                consider(v, p, t, h, d, out[row * D + d], gt->out[row * D + d],
                         gt->tol_out[row * D + d]);
            consider(v, p, t, h, -1, lse[row], gt->lse[row], gt->tol_lse[row]);
        }
    v->pass = v->seq < 0 || v->ratio <= KVC_TOL_THRESHOLD;
    v->ratio_fp32 = v->ratio; /* the file's allowances are the fp32 model's */
    if (v->seq >= 0) {
        char where[48] = "";
        if (v->dim >= 0)
            snprintf(where, sizeof where, ", dim %d", v->dim);
        snprintf(v->detail, sizeof v->detail,
                 "%s[seq %d, token %lld, head %d%s]: got %.9g want %.17g "
                 "err %.3g allowed %.3g ratio %.4g",
                 v->dim < 0 ? "lse" : "out", v->seq, (long long)v->token,
                 v->head, where, v->got, v->want, v->err, v->allowed,
                 v->ratio);
    }
    return v->pass;
}

/* First difference of n values (elem bytes each) of a and b, or -1. */
static int64_t first_diff(const void *a, const void *b, int64_t n, size_t elem)
{
    if (n <= 0 || memcmp(a, b, (size_t)n * elem) == 0)
        return -1;
    for (int64_t i = 0; i < n; i++)
        if (memcmp((const char *)a + i * elem, (const char *)b + i * elem,
                   elem) != 0)
            return i;
    return -1;
}

int kvc_golden_check_codes(const kvc_golden_test *t, char *msg, size_t n)
{
    const kvc_problem *p = &t->c.prob;
    if (t->result == KVC_EXPECT_INVALID || p->quant.dtype == KVC_KV_F32 ||
        !t->k_codes || !t->v_codes)
        return 0;
    kvc_kv_store st;
    char why[256];
    if (kvc_kv_store_compute(p, &st, why, sizeof why) != 0) {
        snprintf(msg, n, "the oracle refuses the test's cache format: %s", why);
        return -1;
    }
    int H = st.num_kv_heads, D = st.head_dim, G = D / 16;
    int64_t nrow = st.rows * H, nelem = nrow * D;
    int rc = 0;
    for (int w = 0; w < 2 && rc == 0; w++) {
        const char *side = w ? "v" : "k";
        const uint16_t *have = w ? t->v_codes : t->k_codes;
        const uint32_t *want = w ? st.v_code : st.k_code;
        const float *x = w ? p->v : p->k;
        for (int64_t i = 0; i < nelem; i++)
            if (have[i] != want[i]) {
                snprintf(msg, n, "corrupt vector: expected.%sCodes[%lld][%lld]"
                         "[%lld] is 0x%x, the oracle's %s %s code of %s = %a "
                         "is 0x%x (regenerate: kvcheck golden regen)", side,
                         (long long)(i / D / H), (long long)(i / D % H),
                         (long long)(i % D), have[i],
                         kvc_kv_dtype_name(st.dtype),
                         kvc_scale_kind_name(st.kind), side, (double)x[i],
                         want[i]);
                rc = 1;
                break;
            }
        if (rc)
            break;
        int64_t at;
        if (st.kind == KVC_SCALE_TOKEN &&
            (at = first_diff(w ? t->v_token_scales : t->k_token_scales,
                             w ? st.v_token_scale : st.k_token_scale, nrow,
                             sizeof(float))) >= 0) {
            const float *hv = w ? t->v_token_scales : t->k_token_scales;
            const float *wv = w ? st.v_token_scale : st.k_token_scale;
            snprintf(msg, n, "corrupt vector: expected.%sTokenScales[%lld]"
                     "[%lld] is %a, the oracle's is %a (regenerate: kvcheck "
                     "golden regen)", side, (long long)(at / H),
                     (long long)(at % H), (double)hv[at], (double)wv[at]);
            rc = 1;
        } else if (st.kind == KVC_SCALE_GROUP &&
                   (at = first_diff(w ? t->v_group_codes : t->k_group_codes,
                                    w ? st.v_group_code : st.k_group_code,
                                    nrow * G, 1)) >= 0) {
            const uint8_t *hv = w ? t->v_group_codes : t->k_group_codes;
            const uint8_t *wv = w ? st.v_group_code : st.k_group_code;
            snprintf(msg, n, "corrupt vector: expected.%sGroupCodes[%lld]"
                     "[%lld][%lld] is 0x%02x, the oracle's is 0x%02x "
                     "(regenerate: kvcheck golden regen)", side,
                     (long long)(at / G / H), (long long)(at / G % H),
                     (long long)(at % G), hv[at], wv[at]);
            rc = 1;
        }
    }
    kvc_kv_store_free(&st);
    return rc;
}

kvc_outcome kvc_golden_run_test(const kvc_golden_test *t, const kvc_kernel *k,
                                kvc_result *r)
{
    char msg[sizeof r->message];
    if (kvc_golden_check_codes(t, msg, sizeof msg) != 0) {
        memset(r, 0, sizeof *r);
        r->verdict.seq = -1;
        snprintf(r->message, sizeof r->message, "%s", msg);
        r->outcome = KVC_FAIL_SETUP;
        return KVC_FAIL_SETUP;
    }
    /* a variant hands the kernel its broken values, as the campaign's
     * invalid variants do (campaign_case.c) */
    kvc_run_opts o = {t->result, kvc_golden_judge, (void *)t, 0,
                      t->has_variant ? &t->inv : NULL};
    kva_caps caps;
    kvc_kernel_caps(k, &caps);
    if (caps.profile != KVA_PROFILE_FP32 || caps.out_dtype != KVA_DTYPE_F32) {
        /* The frozen allowances are the fp32 model's: another arithmetic
         * is judged by the oracle in its profile, from the test's inputs
         * (the file's expected values are the same exact answers). */
        o.judge = NULL;
        o.judge_ctx = NULL;
        o.skip_properties = 1;
    }
    kvc_outcome out = kvc_run_case_opts(&t->c, k, &o, r);
    if (out == KVC_PASS && t->result == KVC_EXPECT_INVALID && r->refused != KVA_OK)
        out = kvc_refusal_check(t->flags, t->error, r);
    return out;
}

static void flag_list(uint64_t flags, FILE *out)
{
    int first = 1;
    for (int b = 0; b < KVC_FLAG_ALL_COUNT; b++)
        if (flags & (1ull << b)) {
            fprintf(out, "%s%s", first ? "" : ",", kvc_flag_name(b));
            first = 0;
        }
}

/* Whether a test lies inside the kernel's claim: its mode, format,
 * layout, features and sizes, and for an invalid test, a kernel that
 * validates its input (claim.h). */
static int inside_claim(const kva_caps *claim, const kvc_golden_test *t)
{
    if (!claim)
        return 1;
    if (t->result == KVC_EXPECT_INVALID && !claim->validates)
        return 0;
    /* a bad slot is the cache write's to refuse: not covered without it */
    uint64_t write_faults = (1ull << KVC_FLAG_BAD_SLOT) |
                            (1ull << KVC_FLAG_DUPLICATE_SLOT);
    if (t->result != KVC_EXPECT_VALID && (t->flags & write_faults) &&
        !(claim->features & KVA_FEATURE_CACHE_WRITE))
        return 0;
    kvc_case_facts f;
    kvc_facts_of_case(&t->c, &f);
    return kvc_claim_missing(claim, &f) == 0;
}

static int selected(const kvc_verify_select *sel, const kvc_golden_test *t)
{
    if (!sel)
        return 1;
    if (sel->mode >= 0 && (int)t->c.spec.mode != sel->mode)
        return 0;
    return sel->kv_dtypes == 0 ||
           (sel->kv_dtypes >> t->c.prob.quant.dtype & 1u) != 0;
}

/* One verification of one file: the workers' context. */
typedef struct verify_run {
    const kvc_golden_file *f;
    const char *name;
    const kvc_verify_kernel *vk;
    kvc_worker_kernel wk;     /* the kernel a worker runs */
    const kvc_verify_select *sel;
    int verbose;
    FILE *out;
    kvc_verify_counts *counts;
    int next;                 /* the next test next() looks at */
} verify_run;

typedef struct verify_result {
    kvc_outcome o;
    kvc_result r;
} verify_result;

static int verify_init(void *ctx, char *err, size_t errlen)
{
    verify_run *vr = ctx;
    return kvc_worker_kernel_load(&vr->wk, err, errlen);
}

static void verify_one(void *ctx, uint64_t job, void *result)
{
    verify_run *vr = ctx;
    verify_result *res = result;
    res->o = kvc_golden_run_test(&vr->f->tests[job], vr->wk.k, &res->r);
}

static int verify_next(void *ctx, uint64_t *job)
{
    verify_run *vr = ctx;
    for (; vr->next < vr->f->num_tests; vr->next++) {
        if (!selected(vr->sel, &vr->f->tests[vr->next])) {
            vr->counts->skipped++;
            continue;
        }
        if (!inside_claim(vr->vk->claim, &vr->f->tests[vr->next])) {
            vr->counts->outside_claim++;
            continue;
        }
        *job = (uint64_t)vr->next++;
        return 1;
    }
    return 0;
}

/* Multiply-adds of a test's attention: its deadline grows with them. */
static double verify_deadline(void *ctx, uint64_t job)
{
    const verify_run *vr = ctx;
    const kvc_problem *p = &vr->f->tests[job].c.prob;
    int64_t work = 0;
    for (int s = 0; s < p->num_seqs; s++)
        work += (int64_t)p->q_len[s] * kvc_kv_len(p, s) *
                p->cfg.num_q_heads * p->cfg.head_dim;
    return kvc_case_deadline(work, vr->vk->timeout);
}

static void print_test(const verify_run *vr, const kvc_golden_test *t,
                       kvc_outcome o, const kvc_result *r)
{
    FILE *out = vr->out;
    int ok = o == KVC_PASS;
    fprintf(out, "%s %s tcId %d [%s] %s [", ok ? "PASS" : "FAIL", vr->name,
            t->tc_id, kvc_mode_name(t->c.spec.mode),
            kvc_expect_name(t->result));
    flag_list(t->flags, out);
    fprintf(out, "]");
    if (r->refused != KVA_OK)
        fprintf(out, " refused %s", kva_status_name(r->refused));
    else if (r->verdict.seq >= 0)
        fprintf(out, " ratio %.3g", r->verdict.ratio);
    if (!ok)
        fprintf(out, ": %s: %s\n  comment: %s", kvc_outcome_name(o),
                r->message, t->comment);
    fputc('\n', out);
}

static void verify_commit(void *ctx, uint64_t job, const void *result,
                          const kvc_job_death *death)
{
    verify_run *vr = ctx;
    const kvc_golden_test *t = &vr->f->tests[job];
    verify_result res;
    if (result) {
        memcpy(&res, result, sizeof res);
        res.r.message[sizeof res.r.message - 1] = '\0';
        if ((int)res.o < 0 || res.o >= KVC_OUTCOME_COUNT)
            res.o = KVC_FAIL_SETUP; /* a worker's garbage */
    } else {
        kvc_death_verdict(death, &res.r);
        res.o = res.r.outcome;
    }
    int ok = res.o == KVC_PASS;
    if (ok)
        vr->counts->passed++;
    else
        vr->counts->failed++;
    if (ok && t->result == KVC_EXPECT_ACCEPTABLE && res.r.refused != KVA_OK)
        vr->counts->refused_acceptable++;
    if (!ok || vr->verbose)
        print_test(vr, t, res.o, &res.r);
}

void kvc_golden_verify_file(const kvc_golden_file *f, const char *name,
                            const kvc_verify_kernel *vk,
                            const kvc_verify_select *sel, int verbose,
                            FILE *out, kvc_verify_counts *counts)
{
    verify_run vr = {.f = f, .name = name, .vk = vk,
                     .wk = {.k = vk->k, .path = vk->kernel_lib,
                            .claim = vk->claim, .threads = vk->threads},
                     .sel = sel, .verbose = verbose, .out = out,
                     .counts = counts};
    kvc_workers_cfg cfg = {
        .jobs = vk->jobs > 0 ? vk->jobs : 1,
        .in_process = vk->jobs <= 0,
        .result_size = sizeof(verify_result),
        .ctx = &vr,
        .init = verify_init,
        .run = verify_one,
        .next = verify_next,
        .deadline = verify_deadline,
        .fault_text = kvc_guard_fault_text,
        .commit = verify_commit,
    };
    char err[512] = "";
    if (kvc_workers_run(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "kvcheck: %s: %s\n", name, err);
        counts->unreadable++; /* nothing of this file could be checked */
    } else if (cfg.idle_exit_status) {
        fprintf(stderr, "kvcheck: %s: a worker process exited with status %d "
                "after its last test (valgrind errors at exit?)\n", name,
                cfg.idle_exit_status);
        counts->unreadable++;
    }
    kvc_worker_kernel_release(&vr.wk);
}

void kvc_golden_verify_paths(char **paths, int n, const kvc_verify_kernel *vk,
                             const kvc_verify_select *sel, int verbose,
                             const char *who,
                             kvc_verify_counts *counts)
{
    for (int i = 0; i < n; i++) {
        kvc_golden_file f;
        char err[512];
        if (kvc_cache_golden_is(paths[i])) {
            kvc_cache_file cf;
            if (kvc_cache_golden_read(paths[i], &cf, err, sizeof err) != 0) {
                fprintf(stderr, "%s: %s\n", who, err);
                counts->unreadable++;
                continue;
            }
            kvc_cache_verify_file(&cf, paths[i], vk, verbose, stdout, counts);
            kvc_cache_golden_free(&cf);
            continue;
        }
        if (kvc_merge_golden_is(paths[i])) {
            kvc_merge_file mf;
            if (kvc_merge_golden_read(paths[i], &mf, err, sizeof err) != 0) {
                fprintf(stderr, "%s: %s\n", who, err);
                counts->unreadable++;
                continue;
            }
            kvc_merge_verify_file(&mf, paths[i], vk, verbose, stdout, counts);
            kvc_merge_golden_free(&mf);
            continue;
        }
        if (kvc_golden_read(paths[i], &f, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", who, err);
            counts->unreadable++;
            continue;
        }
        kvc_golden_verify_file(&f, paths[i], vk, sel, verbose, stdout, counts);
        kvc_golden_free(&f);
    }
}

int kvc_verify_exit_status(const kvc_verify_counts *counts)
{
    if (counts->failed)
        return 1;
    if (counts->unreadable)
        return 3;
    return counts->passed ? 0 : 4;
}
