/* golden_verify.c — judging a kernel by a golden file's expected values. */
#include "golden_verify.h"

#include <math.h>
#include <string.h>

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

kvc_outcome kvc_golden_run_test(const kvc_golden_test *t, const kvc_kernel *k,
                                kvc_result *r)
{
    kvc_run_opts o = {t->result, kvc_golden_judge, (void *)t};
    return kvc_run_case_opts(&t->c, k, &o, r);
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

void kvc_golden_verify_file(const kvc_golden_file *f, const char *name,
                            const kvc_kernel *k, int mode, int verbose,
                            FILE *out, kvc_verify_counts *counts)
{
    for (int i = 0; i < f->num_tests; i++) {
        const kvc_golden_test *t = &f->tests[i];
        if (mode >= 0 && (int)t->c.spec.mode != mode) {
            counts->skipped++;
            continue;
        }
        kvc_result r;
        kvc_outcome o = kvc_golden_run_test(t, k, &r);
        int ok = o == KVC_PASS;
        if (ok)
            counts->passed++;
        else
            counts->failed++;
        if (ok && t->result == KVC_EXPECT_ACCEPTABLE && r.refused != KVA_OK)
            counts->refused_acceptable++;
        if (ok && !verbose)
            continue;
        fprintf(out, "%s %s tcId %d [%s] %s [", ok ? "PASS" : "FAIL", name,
                t->tc_id, kvc_mode_name(t->c.spec.mode),
                kvc_expect_name(t->result));
        flag_list(t->flags, out);
        fprintf(out, "]");
        if (r.refused != KVA_OK)
            fprintf(out, " refused %s", kva_status_name(r.refused));
        else if (r.verdict.seq >= 0)
            fprintf(out, " ratio %.3g", r.verdict.ratio);
        if (!ok)
            fprintf(out, ": %s: %s\n  comment: %s", kvc_outcome_name(o),
                    r.message, t->comment);
        fputc('\n', out);
    }
}

void kvc_golden_verify_paths(char **paths, int n, const kvc_kernel *k,
                             int mode, int verbose, const char *who,
                             kvc_verify_counts *counts)
{
    for (int i = 0; i < n; i++) {
        kvc_golden_file f;
        char err[512];
        if (kvc_golden_read(paths[i], &f, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", who, err);
            counts->unreadable++;
            continue;
        }
        kvc_golden_verify_file(&f, paths[i], k, mode, verbose, stdout, counts);
        kvc_golden_free(&f);
    }
}
