/* run_shrink.c — shrinking a campaign's first failures in workers. */
#include "run_shrink.h"

#include <stdio.h>
#include <string.h>

#include "kernel_lib.h"
#include "reproducer.h"
#include "guard.h"
#include "workers.h"

/* Seconds one shrink may take (KVC_SHRINK_MAX_ATTEMPTS kernel runs). */
#define SHRINK_DEADLINE 600.0

typedef struct shrink_result {
    int rc;            /* kvc_write_reproducer's */
    kvc_repro info;
    char err[512];
} shrink_result;

typedef struct shrink_jobs {
    const kvc_campaign_opts *o;
    kvc_worker_kernel wk;
    kvc_campaign_stats *st;
    const char *dir;
    size_t next_record;  /* the next record next() looks at */
    int handed, written;
} shrink_jobs;

static int ends_the_worker(const kvc_case_record *rec)
{
    return !strcmp(rec->outcome, "crash") || !strcmp(rec->outcome, "timeout") ||
           !strcmp(rec->outcome, "exit");
}

static void repro_path(const shrink_jobs *sj, uint64_t index, char *buf,
                       size_t n)
{
    snprintf(buf, n, "%s/repro-case-%llu.json", sj->dir,
             (unsigned long long)index);
}

static int init(void *ctx, char *err, size_t errlen)
{
    shrink_jobs *sj = ctx;
    return kvc_worker_kernel_load(&sj->wk, err, errlen);
}

/* job: a record number */
static void run(void *ctx, uint64_t job, void *result)
{
    shrink_jobs *sj = ctx;
    shrink_result *res = result;
    char path[1100];
    uint64_t index = sj->st->records[job].index;
    repro_path(sj, index, path, sizeof path);
    res->rc = kvc_write_reproducer_sized(sj->o->seed, index,
                                         sj->o->forced_mode, &sj->o->size,
                                         sj->wk.k, path, &res->info, res->err,
                                         sizeof res->err);
}

static int next(void *ctx, uint64_t *job)
{
    shrink_jobs *sj = ctx;
    for (; sj->next_record < sj->st->num_records &&
           sj->handed < KVC_RUN_SHRINK_FIRST;
         sj->next_record++) {
        const kvc_case_record *rec = &sj->st->records[sj->next_record];
        if (rec->passed)
            continue;
        sj->handed++;
        if (rec->invalid_rule[0] != '\0') {
            /* the shrinker rebuilds specs, and a variant is no spec */
            printf("not shrunk: case %llu is an invalid variant (%.*s); its "
                   "replay command reproduces it: %s\n",
                   (unsigned long long)rec->index,
                   (int)sizeof rec->invalid_rule, rec->invalid_rule,
                   rec->replay);
            continue;
        }
        if (ends_the_worker(rec)) {
            printf("not shrunk: case %llu (%s) ends the process that runs "
                   "it; its replay command reproduces it in the foreground: "
                   "%s\n", (unsigned long long)rec->index, rec->outcome,
                   rec->replay);
            continue;
        }
        *job = sj->next_record++;
        return 1;
    }
    return 0;
}

static double deadline(void *ctx, uint64_t job)
{
    (void)ctx;
    (void)job;
    return kvc_case_deadline(0, SHRINK_DEADLINE);
}

static void commit(void *ctx, uint64_t job, const void *result,
                   const kvc_job_death *death)
{
    shrink_jobs *sj = ctx;
    kvc_case_record *rec = &sj->st->records[job];
    const shrink_result *res = result;
    char path[1100];
    repro_path(sj, rec->index, path, sizeof path);
    if (death) {
        char how[640];
        kvc_job_death_text(death, how, sizeof how);
        fprintf(stderr, "kvcheck run: shrink case %llu: %s; replay it in the "
                "foreground: %s\n", (unsigned long long)rec->index, how,
                rec->replay);
    } else if (res->rc == 0) {
        kvc_repro info = res->info;
        info.profile = sj->o->profile;
        kvc_print_repro(path, &info);
        snprintf(rec->repro, sizeof rec->repro, "repro-case-%llu.json",
                 (unsigned long long)rec->index);
        sj->written++;
    } else if (res->rc == 1) {
        printf("not shrunk: case %llu passed when run again (flaky?)\n",
               (unsigned long long)rec->index);
    } else {
        fprintf(stderr, "kvcheck run: shrink case %llu: %.*s\n",
                (unsigned long long)rec->index, (int)sizeof res->err,
                res->err);
    }
}

int kvc_run_shrink_failures(const kvc_campaign_opts *o, const kvc_kernel *k,
                            kvc_campaign_stats *st, const char *dir)
{
    shrink_jobs sj = {.o = o,
                      .wk = {.k = k, .path = o->kernel_lib, .claim = o->claim,
                             .threads = o->kernel_threads},
                      .st = st, .dir = dir};
    kvc_workers_cfg cfg = {
        .jobs = o->jobs > 0 ? o->jobs : 1,
        .in_process = o->in_process,
        .result_size = sizeof(shrink_result),
        .ctx = &sj,
        .init = init,
        .run = run,
        .next = next,
        .deadline = deadline,
        .fault_text = kvc_guard_fault_text,
        .commit = commit,
        .stop = o->stop,
    };
    char err[512] = "";
    if (kvc_workers_run(&cfg, err, sizeof err) < 0)
        fprintf(stderr, "kvcheck run: shrink: %s\n", err);
    kvc_worker_kernel_release(&sj.wk);
    return sj.written;
}

/* ---- one case, for `kvcheck shrink` ---------------------------------- */

typedef struct one_shrink {
    kvc_campaign_opts o;  /* seed, mode */
    kvc_worker_kernel wk;
    uint64_t index;
    const char *path;
    int handed;
    shrink_result res;
    kvc_job_death death;
    int died;
} one_shrink;

static int one_init(void *ctx, char *err, size_t errlen)
{
    one_shrink *os = ctx;
    return kvc_worker_kernel_load(&os->wk, err, errlen);
}

static void one_run(void *ctx, uint64_t job, void *result)
{
    one_shrink *os = ctx;
    shrink_result *res = result;
    (void)job;
    res->rc = kvc_write_reproducer_sized(os->o.seed, os->index,
                                         os->o.forced_mode, &os->o.size,
                                         os->wk.k, os->path, &res->info,
                                         res->err, sizeof res->err);
}

static int one_next(void *ctx, uint64_t *job)
{
    one_shrink *os = ctx;
    *job = 0;
    return os->handed++ == 0;
}

static void one_commit(void *ctx, uint64_t job, const void *result,
                       const kvc_job_death *death)
{
    one_shrink *os = ctx;
    (void)job;
    if (result)
        memcpy(&os->res, result, sizeof os->res);
    else
        os->death = *death, os->died = 1;
}

int kvc_shrink_isolated(const kvc_campaign_opts *o, uint64_t index,
                        const kvc_kernel *k, const char *path,
                        kvc_repro *info, char *err, size_t errlen)
{
    one_shrink os = {.o = *o,
                     .wk = {.k = k, .path = o->kernel_lib, .claim = o->claim,
                            .threads = o->kernel_threads},
                     .index = index, .path = path};
    kvc_workers_cfg cfg = {
        .jobs = 1,
        .result_size = sizeof(shrink_result),
        .ctx = &os,
        .init = one_init,
        .run = one_run,
        .next = one_next,
        .deadline = deadline,
        .fault_text = kvc_guard_fault_text,
        .commit = one_commit,
    };
    if (kvc_workers_run(&cfg, err, errlen) < 0)
        return -1;
    if (os.died) {
        char how[640];
        kvc_job_death_text(&os.death, how, sizeof how);
        snprintf(err, errlen, "%s%s%s", os.death.note, os.death.note[0] ? "; " : "",
                 how);
        return -2;
    }
    *info = os.res.info;
    snprintf(err, errlen, "%.*s", (int)sizeof os.res.err, os.res.err);
    return os.res.rc;
}
