/*
 * golden_merge_verify.c — a kernel's kva_merge_states against the merge
 * vectors (golden/golden_merge.h), each test in a worker process like the
 * attention vectors (golden_verify.h): a merge that crashes, exits or hangs
 * fails that test and the others still run. Every buffer it gets is
 * guarded.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../golden/golden_merge.h"
#include "campaign.h"
#include "death_verdict.h"
#include "golden_verify.h"
#include "guard.h"
#include "kernel_lib.h"
#include "workers.h"

typedef struct merge_run {
    const kvc_merge_file *f;
    const char *name;
    const kvc_verify_kernel *vk;
    kvc_worker_kernel wk;
    int verbose;
    FILE *out;
    kvc_verify_counts *counts;
    int next;
} merge_run;

typedef struct merge_result {
    kvc_outcome o;
    int not_covered; /* the kernel exports no kva_merge_states */
    char message[400];
} merge_result;

/* |got - want| <= tol, exact where tol is 0 or want is not finite. */
static int within(double got, double want, double tol)
{
    if (!isfinite(want) || tol == 0.0)
        return got == want || (isnan(got) && isnan(want));
    return isfinite(got) && fabs(got - want) <= tol;
}

static kvc_outcome judge(const kvc_merge_test *t, const float *out,
                         const float *lse, char *msg, size_t n)
{
    for (int64_t r = 0; r < t->rows; r++) {
        for (int d = 0; d < t->head_dim; d++) {
            int64_t e = r * t->head_dim + d;
            if (!within(out[e], t->out[e], t->tol_out[e])) {
                snprintf(msg, n, "out[row %lld, dim %d]: got %.9g want %.9g "
                         "tol %.3g", (long long)r, d, (double)out[e], t->out[e],
                         t->tol_out[e]);
                return KVC_FAIL_NUMERIC;
            }
        }
        if (!within(lse[r], t->lse[r], t->tol_lse[r])) {
            snprintf(msg, n, "lse[row %lld]: got %.9g want %.9g tol %.3g",
                     (long long)r, (double)lse[r], t->lse[r], t->tol_lse[r]);
            return KVC_FAIL_NUMERIC;
        }
    }
    return KVC_PASS;
}

/* One test in this process, its buffers guarded. */
static kvc_outcome run_test(const kvc_merge_test *t, const kvc_kernel *k,
                            char *msg, size_t n)
{
    kvc_guard_set g;
    kvc_guard_init(&g);
    const float *po[KVC_MERGE_MAX_PARTS_FILE], *pl[KVC_MERGE_MAX_PARTS_FILE];
    size_t elems = (size_t)(t->rows * t->head_dim);
    kvc_outcome o = KVC_FAIL_SETUP;
    snprintf(msg, n, "out of memory");
    for (int p = 0; p < t->parts; p++) {
        po[p] = kvc_guard_input(&g, "merge part_out", t->part_out[p],
                                elems * sizeof(float), sizeof(float));
        pl[p] = kvc_guard_input(&g, "merge part_lse", t->part_lse[p],
                                (size_t)t->rows * sizeof(float), sizeof(float));
        if (!po[p] || !pl[p])
            goto done;
    }
    const float **gpo = kvc_guard_input(&g, "part_out", po,
                                        (size_t)t->parts * sizeof *po, sizeof *po);
    const float **gpl = kvc_guard_input(&g, "part_lse", pl,
                                        (size_t)t->parts * sizeof *pl, sizeof *pl);
    float *out = kvc_guard_alloc(&g, "out", KVC_GUARD_ROLE_OUTPUT,
                                 elems * sizeof(float), sizeof(float));
    float *lse = kvc_guard_alloc(&g, "lse", KVC_GUARD_ROLE_OUTPUT,
                                 (size_t)t->rows * sizeof(float), sizeof(float));
    if (!gpo || !gpl || !out || !lse)
        goto done;
    kva_error e = {0};
    kva_status s = k->merge_states((const float *const *)gpo,
                                   (const float *const *)gpl, t->parts, t->rows,
                                   t->head_dim, out, lse, &e);
    char gm[400];
    kvc_guard_violation v = kvc_guard_check(&g, gm, sizeof gm);
    if (v != KVC_GUARD_OK) {
        snprintf(msg, n, "kva_merge_states: %.360s", gm);
        o = v == KVC_GUARD_BOUNDS ? KVC_FAIL_BOUNDS : KVC_FAIL_INPUT;
    } else if (s != KVA_OK) {
        snprintf(msg, n, "kva_merge_states refused: %s: %s",
                 kva_status_name(s), e.msg);
        o = KVC_FAIL_KERNEL;
    } else {
        msg[0] = '\0';
        o = judge(t, out, lse, msg, n);
    }
done:
    kvc_guard_free(&g);
    return o;
}

static int m_init(void *ctx, char *err, size_t errlen)
{
    merge_run *mr = ctx;
    return kvc_worker_kernel_load(&mr->wk, err, errlen);
}

static void m_run(void *ctx, uint64_t job, void *result)
{
    merge_run *mr = ctx;
    merge_result *res = result;
    if (!mr->wk.k->merge_states) {
        res->not_covered = 1;
        return;
    }
    res->o = run_test(&mr->f->tests[job], mr->wk.k, res->message,
                      sizeof res->message);
}

static int m_next(void *ctx, uint64_t *job)
{
    merge_run *mr = ctx;
    if (mr->next >= mr->f->num_tests)
        return 0;
    *job = (uint64_t)mr->next++;
    return 1;
}

static double m_deadline(void *ctx, uint64_t job)
{
    const merge_run *mr = ctx;
    (void)job;
    return mr->vk->timeout > 0 ? mr->vk->timeout : KVC_CASE_DEADLINE_FLOOR;
}

static void m_commit(void *ctx, uint64_t job, const void *result,
                     const kvc_job_death *death)
{
    merge_run *mr = ctx;
    const kvc_merge_test *t = &mr->f->tests[job];
    merge_result res = {0};
    if (result) {
        memcpy(&res, result, sizeof res);
        res.message[sizeof res.message - 1] = '\0';
        if ((int)res.o < 0 || res.o >= KVC_OUTCOME_COUNT)
            res.o = KVC_FAIL_SETUP;
    } else {
        kvc_result r;
        kvc_death_verdict(death, &r);
        res.o = r.outcome;
        snprintf(res.message, sizeof res.message, "%.390s", r.message);
    }
    if (result && res.not_covered) {
        mr->counts->outside_claim++;
        return;
    }
    int ok = res.o == KVC_PASS;
    if (ok)
        mr->counts->passed++;
    else
        mr->counts->failed++;
    if (ok && mr->verbose)
        fprintf(mr->out, "PASS %s tcId %d [merge] [%s]\n", mr->name,
                t->tc_id, t->flags);
    else if (!ok)
        fprintf(mr->out, "FAIL %s tcId %d [merge] [%s]: %s: %s\n  comment: "
                "%s\n", mr->name, t->tc_id, t->flags, kvc_outcome_name(res.o),
                res.message, t->comment);
}

void kvc_merge_verify_file(const kvc_merge_file *f, const char *name,
                           const kvc_verify_kernel *vk, int verbose, FILE *out,
                           kvc_verify_counts *counts)
{
    merge_run mr = {.f = f, .name = name, .vk = vk,
                    .wk = {.k = vk->k, .path = vk->kernel_lib,
                           .claim = vk->claim, .threads = vk->threads},
                    .verbose = verbose, .out = out, .counts = counts};
    kvc_workers_cfg cfg = {
        .jobs = vk->jobs > 0 ? vk->jobs : 1,
        .in_process = vk->jobs <= 0,
        .result_size = sizeof(merge_result),
        .ctx = &mr,
        .init = m_init,
        .run = m_run,
        .next = m_next,
        .deadline = m_deadline,
        .fault_text = kvc_guard_fault_text,
        .commit = m_commit,
    };
    char err[512] = "";
    if (kvc_workers_run(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "kvcheck: %s: %s\n", name, err);
        counts->unreadable++;
    }
    kvc_worker_kernel_release(&mr.wk);
}
