/*
 * golden_cache_run.c — running a cache golden file's tests in worker
 * processes (golden_cache_verify.h), as golden_merge_verify.c runs the
 * merge vectors: a manager or policy that crashes, exits or hangs fails
 * that test and the others still run.
 */
#include <stdio.h>
#include <string.h>

#include "campaign.h"
#include "death_verdict.h"
#include "golden_cache_verify.h"
#include "guard.h"
#include "kernel_lib.h"
#include "stateful_run.h"
#include "workers.h"

typedef struct cache_run {
    const kvc_cache_file *f;
    const char *name;
    const kvc_verify_kernel *vk; /* NULL: the tables below are given */
    kvc_worker_kernel wk;
    kvc_bm_impl bm;
    kvc_policy_attn_impl pol;
    const kvc_bm_impl *use_bm;
    const kvc_policy_impl *use_pol;
    int verbose;
    FILE *out;
    kvc_verify_counts *counts;
    int next;
} cache_run;

/* In a worker: a library's halves (or libkvattn's) bound once. */
static int c_init(void *ctx, char *err, size_t errlen)
{
    cache_run *cr = ctx;
    if (!cr->vk)
        return 0;
    if (kvc_worker_kernel_load(&cr->wk, err, errlen) != 0 ||
        kvc_stateful_bind(cr->wk.path ? cr->wk.handle : NULL, cr->wk.path,
                          cr->vk->claim, -1, &cr->bm, &cr->pol, err, errlen) != 0)
        return -1;
    cr->use_bm = cr->bm.append ? &cr->bm : NULL;
    cr->use_pol = cr->pol.policy.append ? &cr->pol.policy : NULL;
    return 0;
}

static void c_run(void *ctx, uint64_t job, void *result)
{
    cache_run *cr = ctx;
    kvc_cache_verify_test(cr->f->kind, &cr->f->tests[job], cr->use_bm,
                          cr->use_pol, result);
}

static int c_next(void *ctx, uint64_t *job)
{
    cache_run *cr = ctx;
    if (cr->next >= cr->f->num_tests)
        return 0;
    *job = (uint64_t)cr->next++;
    return 1;
}

static double c_deadline(void *ctx, uint64_t job)
{
    const cache_run *cr = ctx;
    (void)job;
    return cr->vk && cr->vk->timeout > 0 ? cr->vk->timeout : KVC_CASE_DEADLINE_FLOOR;
}

static void c_commit(void *ctx, uint64_t job, const void *result,
                     const kvc_job_death *death)
{
    cache_run *cr = ctx;
    const kvc_cache_test *t = &cr->f->tests[job];
    const char *kind = kvc_cache_kind_name(cr->f->kind);
    kvc_cache_verdict v;
    if (result) {
        memcpy(&v, result, sizeof v);
        v.message[sizeof v.message - 1] = '\0';
    } else {
        kvc_result r;
        kvc_death_verdict(death, &r);
        memset(&v, 0, sizeof v);
        v.covered = 1;
        snprintf(v.message, sizeof v.message, "%s: %.400s",
                 kvc_outcome_name(r.outcome), r.message);
    }
    if (!v.covered) {
        cr->counts->outside_claim++;
        return;
    }
    if (v.passed) {
        cr->counts->passed++;
        if (cr->verbose)
            fprintf(cr->out, "PASS %s tcId %d [%s] [%s]\n", cr->name, t->tc_id,
                    kind, t->flags);
        return;
    }
    cr->counts->failed++;
    fprintf(cr->out, "FAIL %s tcId %d [%s] %s\n  comment: %s\n", cr->name,
            t->tc_id, kind, v.message, t->comment);
}

static void run_all(cache_run *cr, int jobs)
{
    kvc_workers_cfg cfg = {
        .jobs = jobs > 0 ? jobs : 1,
        .in_process = jobs <= 0,
        .result_size = sizeof(kvc_cache_verdict),
        .ctx = cr,
        .init = c_init,
        .run = c_run,
        .next = c_next,
        .deadline = c_deadline,
        .fault_text = kvc_guard_fault_text,
        .commit = c_commit,
    };
    char err[512] = "";
    if (kvc_workers_run(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "kvcheck: %s: %s\n", cr->name, err);
        cr->counts->unreadable++;
    }
}

void kvc_cache_verify_impl(const kvc_cache_file *f, const char *name,
                           const kvc_bm_impl *bm, const kvc_policy_impl *pol,
                           int jobs, int verbose, FILE *out,
                           kvc_verify_counts *counts)
{
    cache_run cr = {.f = f, .name = name, .use_bm = bm, .use_pol = pol,
                    .verbose = verbose, .out = out, .counts = counts};
    run_all(&cr, jobs);
}

void kvc_cache_verify_file(const kvc_cache_file *f, const char *name,
                           const kvc_verify_kernel *vk, int verbose, FILE *out,
                           kvc_verify_counts *counts)
{
    cache_run cr = {.f = f, .name = name, .vk = vk,
                    .wk = {.k = vk->k, .path = vk->kernel_lib,
                           .claim = vk->claim, .threads = vk->threads},
                    .verbose = verbose, .out = out, .counts = counts};
    run_all(&cr, vk->jobs);
    kvc_worker_kernel_release(&cr.wk);
}
