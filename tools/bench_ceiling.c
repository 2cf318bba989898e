/*
 * bench_ceiling.c — the machine's own ceilings, measured in the run that
 * uses them: streaming read bandwidth over a buffer far larger than the
 * caches, and the fp32 FMA peak of independent chains, each with 1 and N
 * threads (pthreads; best of several passes).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "workers.h"

typedef struct team {
    pthread_barrier_t bar;
    int threads;
    const bench_isa *isa;
    float *buf;
    size_t n;       /* floats, a multiple of 64 * threads */
    int what;       /* 0 init, 1 read, 2 fma */
    long iters;
    volatile int stop;
    float sink[256];
} team;

typedef struct member {
    team *t;
    int id;
} member;

static void work(team *t, int id)
{
    size_t per = t->n / (size_t)t->threads;
    float *p = t->buf + per * (size_t)id;
    switch (t->what) {
    case 0:
        for (size_t i = 0; i < per; i++)
            p[i] = (float)((i + (size_t)id) & 1023) * (1.0f / 1024.0f);
        break;
    case 1: t->sink[id & 255] += t->isa->read(p, per); break;
    default: t->sink[id & 255] += t->isa->fma(t->iters); break;
    }
}

/* Members other than 0 loop: barrier, work, barrier, until stop. */
static void *member_main(void *arg)
{
    member *m = arg;
    for (;;) {
        pthread_barrier_wait(&m->t->bar);
        if (m->t->stop)
            return NULL;
        work(m->t, m->id);
        pthread_barrier_wait(&m->t->bar);
    }
}

/* One pass on every member; returns its wall time. */
static double pass(team *t)
{
    pthread_barrier_wait(&t->bar);
    double a = bench_now();
    work(t, 0);
    pthread_barrier_wait(&t->bar);
    return bench_now() - a;
}

static int team_start(team *t, pthread_t *th, member *m, char *err,
                      size_t errlen)
{
    if (pthread_barrier_init(&t->bar, NULL, (unsigned)t->threads) != 0) {
        snprintf(err, errlen, "pthread_barrier_init failed");
        return -1;
    }
    for (int i = 1; i < t->threads; i++) {
        m[i] = (member){t, i};
        if (pthread_create(&th[i], NULL, member_main, &m[i]) != 0) {
            /* Release the ones started: they wait at the barrier, which
             * needs all `threads` parties; run with what exists instead. */
            snprintf(err, errlen, "cannot start thread %d of %d", i,
                     t->threads);
            return -1;
        }
    }
    return 0;
}

static void team_stop(team *t, pthread_t *th)
{
    t->stop = 1;
    pthread_barrier_wait(&t->bar);
    for (int i = 1; i < t->threads; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&t->bar);
}

/* Best pass of at least 5, until min_time has gone by (at most 100). */
static double best_pass(team *t, double min_time)
{
    double best = 1e30, start = bench_now();
    for (int i = 0; i < 100; i++) {
        double s = pass(t);
        if (s < best)
            best = s;
        if (i >= 4 && bench_now() - start >= min_time)
            break;
    }
    return best;
}

int bench_measure_ceiling(int threads, float *buf, size_t bw_bytes,
                          double min_time, bench_ceiling *c, char *err,
                          size_t errlen)
{
    team *t = calloc(1, sizeof *t);
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    member *m = calloc((size_t)threads, sizeof *m);
    if (!t || !th || !m) {
        free(t), free(th), free(m);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    t->threads = threads;
    t->isa = bench_best_isa();
    t->buf = buf;
    size_t unit = 64 * (size_t)threads;
    t->n = bw_bytes / sizeof(float) / unit * unit;
    if (team_start(t, th, m, err, errlen) != 0)
        return -1; /* the members started wait on a barrier sized for
                      more, with t: left as they are (the command exits 3) */
    /* First touch by the thread that reads the slice (NUMA), then read. */
    t->what = 0;
    pass(t);
    t->what = 1;
    double s = best_pass(t, min_time);
    c->read_gbs = (double)t->n * sizeof(float) / s / 1e9;
    c->read_isa = t->isa->name;
    /* FMA: size a pass to about 50 ms on one thread. */
    t->what = 2;
    t->iters = 100000;
    double one = pass(t);
    if (one > 0)
        t->iters = (long)(t->iters * (0.05 / one)) + 1;
    s = best_pass(t, min_time);
    double lanes = (double)t->isa->lanes * BENCH_FMA_CHAINS;
    c->fma_gflops = 2.0 * lanes * (double)t->iters * threads / s / 1e9;
    c->fma_isa = t->isa->name;
    c->threads = threads;
    team_stop(t, th);
    free(th);
    free(m);
    free(t);
    return 0;
}

void bench_cpu_info(bench_cpu *cpu)
{
    memset(cpu, 0, sizeof *cpu);
    snprintf(cpu->model, sizeof cpu->model, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[4096];
        int have_model = 0, have_flags = 0;
        while (fgets(line, sizeof line, f) && !(have_model && have_flags)) {
            char *colon = strchr(line, ':');
            if (!colon)
                continue;
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            v[strcspn(v, "\n")] = '\0';
            if (!have_model && !strncmp(line, "model name", 10)) {
                snprintf(cpu->model, sizeof cpu->model, "%s", v);
                have_model = 1;
            } else if (!have_flags && !strncmp(line, "flags", 5)) {
                char *save = NULL;
                for (char *w = strtok_r(v, " ", &save); w;
                     w = strtok_r(NULL, " ", &save)) {
                    if (!strcmp(w, "avx2")) cpu->avx2 = 1;
                    else if (!strcmp(w, "fma")) cpu->fma = 1;
                    else if (!strcmp(w, "avx512f")) cpu->avx512f = 1;
                }
                have_flags = 1;
            }
        }
        fclose(f);
    }
    cpu->cpus = kvc_cpus_available();
}

float *bench_bw_alloc(size_t bytes)
{
    void *p = NULL;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (posix_memalign(&p, page > 64 ? page : 64, bytes) != 0)
        return NULL;
    return p;
}
