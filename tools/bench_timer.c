/* bench_timer.c — clocks, warm-up, adaptive repetitions and medians. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int bench_time(bench_fn fn, void *ctx, int reps, double min_time,
               double max_time, int warmup, bench_timing *t)
{
    int rc;
    if (reps < 1)
        reps = 1;
    memset(t, 0, sizeof *t);
    /* The warm-up call also sizes a sample: calls short enough are
     * repeated inside one sample so that it lasts >= min_time. */
    double t0 = bench_now();
    if ((rc = fn(ctx)) != 0)
        return rc;
    double first = bench_now() - t0;
    int calls = 1;
    if (first > 0 && first < min_time) {
        double c = min_time / first;
        calls = c > 1e6 ? 1000000 : (int)c + 1;
    }
    double *s = malloc(sizeof *s * (size_t)reps);
    if (!s)
        return -1;
    int taken = 0;
    if (calls == 1 && (!warmup || (max_time > 0 && first >= max_time))) {
        /* The first call is a sample of its own: the oracle's (slow calls
         * are not run twice just to warm up), or one call that used the
         * whole --max-time (marked cold). */
        s[taken++] = first;
        t->cold = warmup;
    }
    double start = bench_now();
    for (; taken < reps; taken++) {
        if (taken > 0 && max_time > 0 && bench_now() - start + first >= max_time)
            break;
        double a = bench_now();
        for (int i = 0; i < calls; i++)
            if ((rc = fn(ctx)) != 0) {
                free(s);
                return rc;
            }
        s[taken] = (bench_now() - a) / calls;
    }
    reps = taken;
    qsort(s, (size_t)reps, sizeof *s, cmp_double);
    t->median_s = reps % 2 ? s[reps / 2] : 0.5 * (s[reps / 2 - 1] + s[reps / 2]);
    t->min_s = s[0];
    t->max_s = s[reps - 1];
    t->reps = reps;
    t->calls_per_rep = calls;
    free(s);
    return 0;
}
