/* bench_report.c — `kvcheck bench`'s tables (stdout) and JSON file. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "version.h"

int bench_add_row(bench_results *r, const bench_row *row)
{
    if (r->nrows == r->cap) {
        int cap = r->cap ? 2 * r->cap : 64;
        bench_row *n = realloc(r->rows, sizeof *n * (size_t)cap);
        if (!n)
            return -1;
        r->rows = n;
        r->cap = cap;
    }
    r->rows[r->nrows++] = *row;
    return 0;
}

const bench_ceiling *bench_ceiling_for(const bench_results *r, int threads)
{
    for (int i = 0; i < r->nceil; i++)
        if (r->ceil[i].threads == threads)
            return &r->ceil[i];
    return r->nceil ? &r->ceil[0] : NULL;
}

void bench_print_ceilings(const bench_results *r)
{
    printf("machine: %s, %d CPUs available (avx2 %s, fma %s, avx512f %s)\n",
           r->cpu.model, r->cpu.cpus, r->cpu.avx2 ? "yes" : "no",
           r->cpu.fma ? "yes" : "no", r->cpu.avx512f ? "yes" : "no");
    printf("kernel: %s (%s)\n", r->kernel_name,
           r->takes_threads ? "honours num_threads"
                            : "does not claim takes_threads: num_threads is "
                              "passed, it may run on one thread");
    printf("\n== ceilings (measured now; read: %d MiB buffer) ==\n", r->bw_mib);
    printf("%-8s %12s %14s  %s\n", "threads", "read GB/s", "fma GFLOP/s",
           "loops");
    for (int i = 0; i < r->nceil; i++)
        printf("%-8d %12.1f %14.1f  %s\n", r->ceil[i].threads,
               r->ceil[i].read_gbs, r->ceil[i].fma_gflops, r->ceil[i].fma_isa);
}

static void config_name(const bench_row *w, char *buf, size_t n)
{
    if (w->prefill)
        snprintf(buf, n, "%s n=%d", kvc_kv_dtype_name(w->dtype), w->keys);
    else
        snprintf(buf, n, "%s ctx=%d b=%d", kvc_kv_dtype_name(w->dtype),
                 w->keys, w->batch);
}

void bench_print_section(const bench_results *r, int prefill)
{
    int any = 0;
    for (int i = 0; i < r->nrows; i++)
        any |= r->rows[i].prefill == prefill;
    if (!any)
        return;
    if (prefill)
        printf("\n== causal prefill (one sequence, ctx 0; Hq %d, Hkv %d, "
               "D %d, block %d, NHD) ==\n", BENCH_HQ, BENCH_HKV, BENCH_D,
               BENCH_BLOCK);
    else
        printf("\n== decode (1 query token per sequence; Hq %d, Hkv %d, "
               "D %d, block %d, NHD) ==\n", BENCH_HQ, BENCH_HKV, BENCH_D,
               BENCH_BLOCK);
    printf("%-24s %7s %10s %10s %9s %8s %10s\n", "config", "threads", "ms",
           prefill ? "GFLOP/s" : "GB/s", prefill ? "% peak" : "% bw",
           "% roof", "vs oracle");
    for (int i = 0; i < r->nrows; i++) {
        const bench_row *w = &r->rows[i];
        if (w->prefill != prefill)
            continue;
        char cfg[64], sp[32] = "";
        config_name(w, cfg, sizeof cfg);
        if (w->has_oracle)
            snprintf(sp, sizeof sp, "%.1fx", w->speedup);
        if (w->t.cold)
            strncat(cfg, " (cold)", sizeof cfg - strlen(cfg) - 1);
        printf("%-24s %7d %10.3f %10.1f %9.1f %8.1f %10s\n", cfg, w->threads,
               1e3 * w->t.median_s, prefill ? w->gflops : w->gbs,
               100.0 * (prefill ? w->peak_frac : w->bw_frac),
               100.0 * w->roof_frac, sp);
    }
}

static cJSON *row_json(const bench_row *w)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "format", kvc_kv_dtype_name(w->dtype));
    cJSON_AddNumberToObject(o, w->prefill ? "tokens" : "context", w->keys);
    cJSON_AddNumberToObject(o, "batch", w->batch);
    cJSON_AddNumberToObject(o, "threads", w->threads);
    cJSON_AddNumberToObject(o, "ms", 1e3 * w->t.median_s);
    cJSON_AddNumberToObject(o, "ms_min", 1e3 * w->t.min_s);
    cJSON_AddNumberToObject(o, "ms_max", 1e3 * w->t.max_s);
    cJSON_AddNumberToObject(o, "reps", w->t.reps);
    cJSON_AddNumberToObject(o, "calls_per_rep", w->t.calls_per_rep);
    cJSON_AddBoolToObject(o, "cold_sample", w->t.cold);
    cJSON_AddNumberToObject(o, "kv_bytes", w->bytes);
    cJSON_AddNumberToObject(o, "flops", w->flops);
    cJSON_AddNumberToObject(o, "gbs", w->gbs);
    cJSON_AddNumberToObject(o, "gflops", w->gflops);
    cJSON_AddNumberToObject(o, "bw_fraction", w->bw_frac);
    cJSON_AddNumberToObject(o, "peak_fraction", w->peak_frac);
    cJSON_AddNumberToObject(o, "roofline_fraction", w->roof_frac);
    if (w->has_oracle) {
        cJSON_AddNumberToObject(o, "oracle_ms", w->oracle_ms);
        cJSON_AddNumberToObject(o, "speedup_vs_oracle", w->speedup);
        cJSON_AddNumberToObject(o, "max_abs_diff_vs_oracle", w->max_diff);
    }
    return o;
}

static cJSON *results_json(const bench_results *r)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", KVC_VERSION);
    cJSON_AddStringToObject(root, "kernel", r->kernel_name);
    cJSON_AddBoolToObject(root, "kernel_takes_threads", r->takes_threads);
    cJSON *m = cJSON_AddObjectToObject(root, "machine");
    cJSON_AddStringToObject(m, "cpu_model", r->cpu.model);
    cJSON_AddNumberToObject(m, "cpus_available", r->cpu.cpus);
    cJSON_AddBoolToObject(m, "avx2", r->cpu.avx2);
    cJSON_AddBoolToObject(m, "fma", r->cpu.fma);
    cJSON_AddBoolToObject(m, "avx512f", r->cpu.avx512f);
    cJSON *opt = cJSON_AddObjectToObject(root, "options");
    cJSON_AddNumberToObject(opt, "threads", r->threads);
    cJSON_AddNumberToObject(opt, "reps", r->reps);
    cJSON_AddNumberToObject(opt, "min_time_s", r->min_time);
    cJSON_AddNumberToObject(opt, "max_time_s", r->max_time);
    cJSON_AddNumberToObject(opt, "bw_mib", r->bw_mib);
    cJSON_AddBoolToObject(opt, "quick", r->quick);
    cJSON *shape = cJSON_AddObjectToObject(root, "shape");
    cJSON_AddNumberToObject(shape, "num_q_heads", BENCH_HQ);
    cJSON_AddNumberToObject(shape, "num_kv_heads", BENCH_HKV);
    cJSON_AddNumberToObject(shape, "head_dim", BENCH_D);
    cJSON_AddNumberToObject(shape, "block_size", BENCH_BLOCK);
    cJSON_AddStringToObject(shape, "layout", "NHD");
    cJSON *ce = cJSON_AddArrayToObject(root, "ceilings");
    for (int i = 0; i < r->nceil; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "threads", r->ceil[i].threads);
        cJSON_AddNumberToObject(c, "read_gbs", r->ceil[i].read_gbs);
        cJSON_AddNumberToObject(c, "fma_gflops", r->ceil[i].fma_gflops);
        cJSON_AddStringToObject(c, "isa", r->ceil[i].fma_isa);
        cJSON_AddItemToArray(ce, c);
    }
    cJSON *dec = cJSON_AddArrayToObject(root, "decode");
    cJSON *pre = cJSON_AddArrayToObject(root, "prefill");
    for (int i = 0; i < r->nrows; i++)
        cJSON_AddItemToArray(r->rows[i].prefill ? pre : dec,
                             row_json(&r->rows[i]));
    return root;
}

int bench_write_json(const bench_results *r, const char *path, char *err,
                     size_t errlen)
{
    cJSON *root = results_json(r);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    FILE *f = fopen(path, "w");
    int rc = 0;
    if (!f || fputs(text, f) == EOF || fputc('\n', f) == EOF) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = -1;
    }
    if (f && fclose(f) != 0 && rc == 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = -1;
    }
    free(text);
    return rc;
}
