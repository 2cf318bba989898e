/*
 * bench.h — `kvcheck bench`: the speed of a kernel library, as ratios
 * against the machine's own ceilings (read bandwidth, fp32 FMA peak) and
 * against the oracle, all measured in the same run.
 *
 *   bench_ceiling.c  the ceilings (bench_simd.c: their inner loops)
 *   bench_timer.c    clocks, medians, warm-up and adaptive repetitions
 *   bench_attn.c     decode and causal prefill through the kernel's C ABI
 *   bench_oracle.c   the same problems timed on the oracle
 *   bench_report.c   the tables (stdout) and the JSON file
 *   cmd_bench.c      the command line and the order of the sections
 */
#ifndef KVC_BENCH_H
#define KVC_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "../oracle/kv_format.h"
#include "runner.h"

/* The shape every benchmark uses (a Llama-3-8B-like layer). */
#define BENCH_HQ 32
#define BENCH_HKV 8
#define BENCH_D 128
#define BENCH_BLOCK 16

#define BENCH_MAX_LIST 16

/* ---- ceilings ---------------------------------------------------------- */

typedef struct bench_ceiling {
    int threads;
    double read_gbs;     /* best streaming read bandwidth, 1e9 bytes/s */
    double fma_gflops;   /* fp32 FMA peak, 2 flops per FMA lane */
    const char *read_isa, *fma_isa; /* the loops that gave them */
} bench_ceiling;

/* Measure both ceilings with `threads` threads over a buffer of
 * `bw_bytes` (shared by the calls: pass the same buf). Returns 0, or -1
 * (out of memory / thread creation: err). */
/* The buffer of the bandwidth ceiling (page-aligned, untouched). */
float *bench_bw_alloc(size_t bytes);
int bench_measure_ceiling(int threads, float *buf, size_t bw_bytes,
                          double min_time, bench_ceiling *c, char *err,
                          size_t errlen);

/* The SIMD the ceilings can use on this CPU (runtime checked). */
typedef struct bench_cpu {
    char model[128];
    int avx2, fma, avx512f;
    int cpus;
} bench_cpu;
void bench_cpu_info(bench_cpu *cpu);

/* bench_simd.c: the inner loops, one per ISA. Each returns a value that
 * depends on every element/operation so nothing is optimised away. */
typedef float (*bench_read_fn)(const float *p, size_t n);
typedef float (*bench_fma_fn)(long iters);
typedef struct bench_isa {
    const char *name;
    bench_read_fn read;    /* sum of n floats (n a multiple of 64) */
    bench_fma_fn fma;      /* iters x BENCH_FMA_CHAINS independent FMAs */
    int lanes;             /* fp32 lanes per FMA */
} bench_isa;
#define BENCH_FMA_CHAINS 12
/* The widest loops this CPU runs (AVX-512F, AVX2+FMA, else portable). */
const bench_isa *bench_best_isa(void);

/* ---- timing ------------------------------------------------------------ */

double bench_now(void); /* monotonic seconds */

typedef struct bench_timing {
    double median_s, min_s, max_s; /* per call */
    int reps;          /* samples */
    int calls_per_rep; /* calls in one sample (short calls are repeated so a
                          sample lasts >= min_time) */
    int cold;          /* 1: the one sample is the warm-up call, which took
                          max_time or more by itself */
} bench_timing;

/* fn(ctx) returns 0, or non-zero to stop (the kernel refused). One
 * warm-up call (when warmup; without it the first call is a sample), then
 * up to `reps` samples; no new sample starts once max_time seconds (> 0)
 * have gone by since the first call (at least one is taken). Returns fn's
 * status, or -1 out of memory. */
typedef int (*bench_fn)(void *ctx);
int bench_time(bench_fn fn, void *ctx, int reps, double min_time,
               double max_time, int warmup, bench_timing *t);

/* ---- attention ---------------------------------------------------------- */

typedef struct bench_format {
    kvc_kv_dtype dtype;
    int kind; /* kva_scale_kind */
} bench_format;

/* The format a name benchmarks: f32/f16/bf16 no scale, fp8/int8 a tensor
 * scale, nvfp4 group scales with a global scale. */
bench_format bench_format_of(kvc_kv_dtype d);

/* Bytes of K and V one key of one KV head occupies (codes + scales). */
double bench_kv_bytes_per_row(kvc_kv_dtype d);

/* A paged cache filled through the kernel's cache write, its batch and its
 * queries: decode (q_len 1 per sequence, `keys` keys) or causal prefill
 * (one sequence, ctx 0, q_len = keys). K/V/Q values are a pure function of
 * (sequence, token, head): bench_fill_row. */
typedef struct bench_attn {
    const kvc_kernel *k;
    kva_attn_params params;
    kva_paged_cache cache;
    kva_paged_batch batch;
    int64_t num_tokens;
    float *q, *out, *lse;
    int64_t *qsl;
    int *seq_lens, *block_table;
    void *k_pool_mem, *v_pool_mem, *ks_mem, *vs_mem;
    kva_error err;
    kva_status status;
} bench_attn;

/* prefill 0: batch sequences of one new token over `keys` keys;
 * prefill 1: one sequence of `keys` new tokens, causal. Returns 0, or -1
 * (err: out of memory, or the kernel refused the cache write). */
int bench_attn_setup(bench_attn *a, const kvc_kernel *k, bench_format f,
                     int keys, int batch, int prefill, char *err,
                     size_t errlen);
void bench_attn_free(bench_attn *a);
/* One kva_paged_attention call with `threads` (bench_fn). */
int bench_attn_run(void *ctx);

/* The fp32 values of the row of Q (which 0), K (1) or V (2) at (sequence,
 * token, head): n values in [-1, 1), a pure function of the four. */
void bench_fill_row(int which, int seq, int64_t tok, int head, float *row,
                    int n);

/* ---- the oracle --------------------------------------------------------- */

/* Time kvc_reference_compute on the problem bench_attn_setup built (same
 * values, same format, same scales); *max_diff = the largest
 * |kernel out - oracle out| over a's last output. Returns 0 or -1 (err). */
int bench_oracle_time(const bench_attn *a, bench_format f, int keys,
                      int batch, int prefill, int reps, double min_time,
                      double max_time, bench_timing *t, double *max_diff, char *err,
                      size_t errlen);

/* ---- results ------------------------------------------------------------ */

typedef struct bench_row {
    int prefill;           /* 0 decode, 1 prefill */
    kvc_kv_dtype dtype;
    int keys, batch, threads;
    bench_timing t;
    double bytes, flops;   /* per call */
    double gbs, gflops;    /* achieved */
    double bw_frac;        /* gbs / read ceiling (same threads) */
    double peak_frac;      /* gflops / FMA peak (same threads) */
    double roof_frac;      /* max(bytes/bw, flops/peak) / time */
    int has_oracle;
    double oracle_ms, speedup, max_diff;
} bench_row;

typedef struct bench_results {
    bench_cpu cpu;
    const char *kernel_name;
    int takes_threads;
    int threads, reps;
    double min_time, max_time;
    int bw_mib, quick;
    bench_ceiling ceil[2];
    int nceil;
    bench_row *rows;
    int nrows, cap;
} bench_results;

int bench_add_row(bench_results *r, const bench_row *row);
const bench_ceiling *bench_ceiling_for(const bench_results *r, int threads);
void bench_print_ceilings(const bench_results *r);
void bench_print_section(const bench_results *r, int prefill);
/* Returns 0, or -1 (err) when the file cannot be written. */
int bench_write_json(const bench_results *r, const char *path, char *err,
                     size_t errlen);

#endif /* KVC_BENCH_H */
