/* cmd_bench.c — `kvcheck bench`: kernel speed against the machine's
 * ceilings and against the oracle, measured in the same run (bench.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli_parse.h"
#include "commands.h"
#include "workers.h"

static const char bench_usage[] =
    "usage: kvcheck bench [--quick] [--threads N] [--reps N] [--min-time S]\n"
    "                     [--max-time S]\n"
    "                     [--bw-mib N] [--contexts LIST] [--batch LIST]\n"
    "                     [--prefill LIST] [--formats LIST]\n"
    "                     [--kernel-lib PATH] [--json FILE]\n"
    "\n"
    "Measure the kernel's speed as ratios against this machine's own\n"
    "ceilings and against the oracle, all measured in the same run:\n"
    "  ceilings  streaming read bandwidth (a sum of floats over a buffer far\n"
    "            larger than the caches, best of several passes) and the\n"
    "            fp32 FMA peak (independent FMA chains; AVX-512F, AVX2+FMA or\n"
    "            portable loops, checked at run time), with 1 and N threads;\n"
    "  decode    one query token per sequence over CONTEXT keys, batch B;\n"
    "  prefill   one sequence of N new tokens, ctx 0, causal.\n"
    "Every case: Hq 32, Hkv 8, head_dim 128, paged NHD cache of block size 16\n"
    "(blocks in shuffled order), filled by the kernel's kva_cache_write from\n"
    "random fp32 K/V; fp8/int8 with a tensor scale, nvfp4 with group scales\n"
    "and a global scale. Each is timed with 1 and N threads (passed as\n"
    "kva_attn_params.num_threads): one warm-up call, then --reps samples\n"
    "(short calls are repeated inside a sample so it lasts --min-time);\n"
    "the median is reported.\n"
    "  GB/s     K/V bytes read (codes + scales: keys x Hkv x D x bytes per\n"
    "           element x 2) / time; % bw: of the read ceiling, same threads\n"
    "  GFLOP/s  4 x Hq x D x keys attended (Q.K and P.V; prefill n(n+1)/2\n"
    "           keys) / time; % peak: of the FMA ceiling, same threads\n"
    "  % roof   max(bytes / bandwidth, flops / peak) / time\n"
    "  vs oracle  for the smallest decode and prefill case of each format:\n"
    "           the oracle's time (one thread, double precision, its cache\n"
    "           model built outside the timing) / the kernel's\n"
    "\n"
    "  --quick           a small subset for a CI smoke run: contexts 1024,4096,\n"
    "                    batch 1, prefill 512, formats f32,f16, --reps 2,\n"
    "                    --min-time 0.05 (options given explicitly win)\n"
    "  --threads N       the N of \"1 and N threads\" (default: the CPUs\n"
    "                    available)\n"
    "  --reps N          samples per measurement (default 5)\n"
    "  --min-time S      shortest sample in seconds (default 0.2)\n"
    "  --max-time S      no new sample of a measurement starts after S\n"
    "                    seconds (default 30; at least one is taken: a call\n"
    "                    that takes S by itself is reported from its warm-up\n"
    "                    run, marked (cold))\n"
    "  --bw-mib N        MiB read by the bandwidth ceiling (default 256)\n"
    "  --contexts LIST   decode contexts, comma-separated, or none\n"
    "                    (default 1024,4096,16384,32768)\n"
    "  --batch LIST      decode batch sizes (default 1,8)\n"
    "  --prefill LIST    prefill lengths, or none (default 512,1024,2048,4096)\n"
    "  --formats LIST    KV formats among f32, f16, bf16, fp8_e4m3, fp8_e5m2,\n"
    "                    int8, nvfp4 (default: all)\n"
    "  --kernel-lib PATH benchmark the kernel in this shared library (the\n"
    "                    kva_* functions of kernels/kvattn.h) instead of the\n"
    "                    in-tree libkvattn. It is loaded and run IN THIS\n"
    "                    PROCESS, with no guard pages or workers: a bench is\n"
    "                    not a gate (check a library with kvcheck run first);\n"
    "                    formats or sizes it does not claim are skipped\n"
    "  --json FILE       also write every number (machine, ceilings, every\n"
    "                    row) to FILE, for tracking\n"
    "\n"
    "Progress lines go to stderr. Timings are only as quiet as the machine.\n"
    "Exit status: 0 done, 2 usage error, 3 I/O or internal error (a file\n"
    "that cannot be written, out of memory, a kernel that refuses a call).\n";

enum { OPT_THREADS = 256, OPT_REPS, OPT_MIN_TIME, OPT_MAX_TIME, OPT_BW,
       OPT_CONTEXTS, OPT_BATCH, OPT_PREFILL, OPT_FORMATS, OPT_KERNEL_LIB,
       OPT_JSON, OPT_QUICK };

typedef struct int_list {
    int n;
    int v[BENCH_MAX_LIST];
} int_list;

typedef struct bench_args {
    int threads, reps, bw_mib, quick;
    double min_time, max_time;
    int_list contexts, batch, prefill;
    unsigned formats;
    const char *kernel_lib, *json;
    unsigned given; /* 1u << OPT_x - OPT_THREADS: set explicitly */
} bench_args;

#define GIVEN(o) (1u << ((o) - OPT_THREADS))

/* "1024,4096" (or "none" when allow_none) -> ascending, deduplicated. */
static int parse_list(const char *opt, const char *s, int min, int max,
                      int allow_none, int_list *l)
{
    char buf[256];
    l->n = 0;
    if (allow_none && !strcmp(s, "none"))
        return 0;
    if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf) {
        fprintf(stderr, "kvcheck bench: %s: list too long\n", opt);
        return -1;
    }
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        int v;
        if (kvc_parse_int("bench", opt, t, min, max, &v) != 0)
            return -1;
        if (l->n == BENCH_MAX_LIST) {
            fprintf(stderr, "kvcheck bench: %s: at most %d values\n", opt,
                    BENCH_MAX_LIST);
            return -1;
        }
        int i = l->n++;
        while (i > 0 && l->v[i - 1] > v) {
            l->v[i] = l->v[i - 1];
            i--;
        }
        l->v[i] = v;
        if (i > 0 && l->v[i - 1] == v) { /* a repeat */
            memmove(&l->v[i], &l->v[i + 1], sizeof(int) * (size_t)(l->n - i - 1));
            l->n--;
        }
    }
    if (l->n == 0) {
        fprintf(stderr, "kvcheck bench: %s: empty list%s\n", opt,
                allow_none ? " (say none to skip the section)" : "");
        return -1;
    }
    return 0;
}

static int parse_formats(const char *s, unsigned *mask)
{
    char buf[256];
    *mask = 0;
    if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf) {
        fprintf(stderr, "kvcheck bench: --formats: list too long\n");
        return -1;
    }
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        kvc_kv_dtype d;
        if (kvc_kv_dtype_parse(t, &d) != 0) {
            fprintf(stderr, "kvcheck bench: --formats: unknown format '%s' "
                    "(f32, f16, bf16, fp8_e4m3, fp8_e5m2, int8, nvfp4)\n", t);
            return -1;
        }
        *mask |= 1u << d;
    }
    if (!*mask) {
        fprintf(stderr, "kvcheck bench: --formats: empty list\n");
        return -1;
    }
    return 0;
}

static void set_list(int_list *l, const int *v, int n)
{
    l->n = n;
    memcpy(l->v, v, sizeof(int) * (size_t)n);
}

static int parse_args(int argc, char **argv, bench_args *a)
{
    static const struct option longopts[] = {
        {"threads", required_argument, 0, OPT_THREADS},
        {"reps", required_argument, 0, OPT_REPS},
        {"min-time", required_argument, 0, OPT_MIN_TIME},
        {"max-time", required_argument, 0, OPT_MAX_TIME},
        {"bw-mib", required_argument, 0, OPT_BW},
        {"contexts", required_argument, 0, OPT_CONTEXTS},
        {"batch", required_argument, 0, OPT_BATCH},
        {"prefill", required_argument, 0, OPT_PREFILL},
        {"formats", required_argument, 0, OPT_FORMATS},
        {"kernel-lib", required_argument, 0, OPT_KERNEL_LIB},
        {"json", required_argument, 0, OPT_JSON},
        {"quick", no_argument, 0, OPT_QUICK},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case OPT_THREADS:
            bad = kvc_parse_int("bench", "--threads", optarg, 1, 1024,
                                &a->threads);
            break;
        case OPT_REPS:
            bad = kvc_parse_int("bench", "--reps", optarg, 1, 100000, &a->reps);
            break;
        case OPT_MIN_TIME:
            bad = kvc_parse_seconds("bench", "--min-time", optarg,
                                    &a->min_time);
            break;
        case OPT_MAX_TIME:
            bad = kvc_parse_seconds("bench", "--max-time", optarg,
                                    &a->max_time);
            break;
        case OPT_BW:
            bad = kvc_parse_int("bench", "--bw-mib", optarg, 1, 1 << 20,
                                &a->bw_mib);
            break;
        case OPT_CONTEXTS:
            bad = parse_list("--contexts", optarg, 1, 1 << 20, 1,
                             &a->contexts);
            break;
        case OPT_BATCH:
            bad = parse_list("--batch", optarg, 1, 1024, 0, &a->batch);
            break;
        case OPT_PREFILL:
            bad = parse_list("--prefill", optarg, 1, 1 << 17, 1, &a->prefill);
            break;
        case OPT_FORMATS: bad = parse_formats(optarg, &a->formats); break;
        case OPT_KERNEL_LIB: a->kernel_lib = optarg; break;
        case OPT_JSON: a->json = optarg; break;
        case OPT_QUICK: a->quick = 1; break;
        case 'h': fputs(bench_usage, stdout); return 0;
        default:
            kvc_option_error("bench", argv, c);
            fputs(bench_usage, stderr);
            return 2;
        }
        if (bad)
            return 2;
        if (c >= OPT_THREADS && c <= OPT_QUICK)
            a->given |= GIVEN(c);
    }
    if (optind < argc) {
        fprintf(stderr, "kvcheck bench: unexpected argument '%s'\n\n%s",
                argv[optind], bench_usage);
        return 2;
    }
    /* Defaults, --quick's where it applies, for what was not given. */
    static const int ctx_all[] = {1024, 4096, 16384, 32768}, ctx_q[] = {1024, 4096};
    static const int b_all[] = {1, 8}, b_q[] = {1};
    static const int pf_all[] = {512, 1024, 2048, 4096}, pf_q[] = {512};
    if (!(a->given & GIVEN(OPT_CONTEXTS)))
        a->quick ? set_list(&a->contexts, ctx_q, 2) : set_list(&a->contexts, ctx_all, 4);
    if (!(a->given & GIVEN(OPT_BATCH)))
        a->quick ? set_list(&a->batch, b_q, 1) : set_list(&a->batch, b_all, 2);
    if (!(a->given & GIVEN(OPT_PREFILL)))
        a->quick ? set_list(&a->prefill, pf_q, 1) : set_list(&a->prefill, pf_all, 4);
    if (!(a->given & GIVEN(OPT_FORMATS)))
        a->formats = a->quick ? (1u << KVC_KV_F32) | (1u << KVC_KV_F16)
                              : (1u << KVC_KV_DTYPE_COUNT) - 1;
    if (!(a->given & GIVEN(OPT_REPS)))
        a->reps = a->quick ? 2 : 5;
    if (!(a->given & GIVEN(OPT_MIN_TIME)))
        a->min_time = a->quick ? 0.05 : 0.2;
    if (!(a->given & GIVEN(OPT_MAX_TIME)))
        a->max_time = 30.0;
    return -1;
}

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

/* Why the kernel cannot run this case, or NULL. */
static const char *not_claimed(const kvc_kernel *k, bench_format f, int keys,
                               int q_len)
{
    kva_caps c;
    kvc_kernel_caps(k, &c);
    if (!(c.modes & KVA_MODE_PAGED) || !k->paged_attention)
        return "paged attention";
    if (!(c.features & KVA_FEATURE_CACHE_WRITE) || !k->cache_write)
        return "kva_cache_write";
    if (!(c.formats[f.dtype] & (1u << f.kind)))
        return "the format";
    if (!(c.layouts & KVA_LAYOUT_NHD))
        return "the NHD layout";
    if (!(c.features & KVA_FEATURE_CAUSAL))
        return "causal attention";
    if (!in_set(&c.head_dims, BENCH_D) || !in_set(&c.block_sizes, BENCH_BLOCK))
        return "head_dim 128 or block size 16";
    if ((c.max_seq_len && keys > c.max_seq_len) ||
        (c.max_q_len && q_len > c.max_q_len))
        return "the length";
    return NULL;
}

typedef struct bench_run {
    const bench_args *a;
    bench_results *res;
    const kvc_kernel *k;
    int nthr, thr[2];
} bench_run;

/* Time one case with every thread count (and the oracle when asked);
 * returns 0, 1 skipped, or -1 (printed). */
static int bench_case(bench_run *b, kvc_kv_dtype d, int keys, int batch,
                      int prefill, int with_oracle)
{
    const bench_args *a = b->a;
    bench_format f = bench_format_of(d);
    const char *sect = prefill ? "prefill" : "decode";
    char cfg[64], err[600];
    if (prefill)
        snprintf(cfg, sizeof cfg, "%s n=%d", kvc_kv_dtype_name(d), keys);
    else
        snprintf(cfg, sizeof cfg, "%s ctx=%d b=%d", kvc_kv_dtype_name(d),
                 keys, batch);
    const char *why = not_claimed(b->k, f, keys, prefill ? keys : 1);
    if (why) {
        fprintf(stderr, "kvcheck bench: %s %s: skipped (the kernel does not "
                "claim %s)\n", sect, cfg, why);
        return 1;
    }
    fprintf(stderr, "kvcheck bench: %s %s: filling the cache\n", sect, cfg);
    bench_attn at;
    if (bench_attn_setup(&at, b->k, f, keys, batch, prefill, err,
                         sizeof err) != 0) {
        fprintf(stderr, "kvcheck bench: %s %s: %s\n", sect, cfg, err);
        return -1;
    }
    int first = b->res->nrows, rc = 0;
    double bytes = (double)keys * BENCH_HKV * bench_kv_bytes_per_row(d) *
                   (prefill ? 1 : batch);
    double attended = prefill ? (double)keys * (keys + 1) / 2.0
                              : (double)keys * batch;
    double flops = 4.0 * BENCH_HQ * BENCH_D * attended;
    for (int i = 0; i < b->nthr && rc == 0; i++) {
        bench_row w = {.prefill = prefill, .dtype = d, .keys = keys,
                       .batch = prefill ? 1 : batch, .threads = b->thr[i],
                       .bytes = bytes, .flops = flops};
        at.params.num_threads = b->thr[i];
        fprintf(stderr, "kvcheck bench: %s %s: %d thread%s\n", sect, cfg,
                b->thr[i], b->thr[i] > 1 ? "s" : "");
        if (bench_time(bench_attn_run, &at, a->reps, a->min_time,
                       a->max_time, 1, &w.t) != 0) {
            fprintf(stderr, "kvcheck bench: %s %s: kva_paged_attention: %s: "
                    "%s\n", sect, cfg, kva_status_name(at.status),
                    at.status ? at.err.msg : "out of memory");
            rc = -1;
            break;
        }
        const bench_ceiling *c = bench_ceiling_for(b->res, b->thr[i]);
        double s = w.t.median_s;
        w.gbs = bytes / s / 1e9;
        w.gflops = flops / s / 1e9;
        w.bw_frac = w.gbs / c->read_gbs;
        w.peak_frac = w.gflops / c->fma_gflops;
        double tb = bytes / (c->read_gbs * 1e9), tf = flops / (c->fma_gflops * 1e9);
        w.roof_frac = (tb > tf ? tb : tf) / s;
        if (bench_add_row(b->res, &w) != 0) {
            fprintf(stderr, "kvcheck bench: out of memory\n");
            rc = -1;
        }
    }
    if (rc == 0 && with_oracle) {
        fprintf(stderr, "kvcheck bench: %s %s: the oracle\n", sect, cfg);
        bench_timing ot;
        double diff;
        if (bench_oracle_time(&at, f, keys, batch, prefill,
                              a->reps < 3 ? a->reps : 3, a->min_time,
                              a->max_time, &ot,
                              &diff, err, sizeof err) != 0) {
            fprintf(stderr, "kvcheck bench: %s %s: %s\n", sect, cfg, err);
            rc = -1;
        } else {
            for (int i = first; i < b->res->nrows; i++) {
                bench_row *w = &b->res->rows[i];
                w->has_oracle = 1;
                w->oracle_ms = 1e3 * ot.median_s;
                w->speedup = ot.median_s / w->t.median_s;
                w->max_diff = diff; /* the last thread count's output */
            }
        }
    }
    bench_attn_free(&at);
    return rc < 0 ? -1 : 0;
}

static int run_sections(bench_run *b)
{
    const bench_args *a = b->a;
    for (int d = 0; d < KVC_KV_DTYPE_COUNT; d++) {
        if (!(a->formats & (1u << d)))
            continue;
        for (int ci = 0; ci < a->contexts.n; ci++)
            for (int bi = 0; bi < a->batch.n; bi++)
                if (bench_case(b, (kvc_kv_dtype)d, a->contexts.v[ci],
                               a->batch.v[bi], 0, ci == 0 && bi == 0) < 0)
                    return -1;
    }
    bench_print_section(b->res, 0);
    for (int d = 0; d < KVC_KV_DTYPE_COUNT; d++) {
        if (!(a->formats & (1u << d)))
            continue;
        for (int pi = 0; pi < a->prefill.n; pi++)
            if (bench_case(b, (kvc_kv_dtype)d, a->prefill.v[pi], 1, 1,
                           pi == 0) < 0)
                return -1;
    }
    bench_print_section(b->res, 1);
    return 0;
}

static int measure_ceilings(bench_run *b)
{
    const bench_args *a = b->a;
    size_t bytes = (size_t)a->bw_mib << 20;
    float *buf = bench_bw_alloc(bytes);
    char err[256];
    if (!buf) {
        fprintf(stderr, "kvcheck bench: out of memory (--bw-mib %d)\n",
                a->bw_mib);
        return -1;
    }
    for (int i = 0; i < b->nthr; i++) {
        fprintf(stderr, "kvcheck bench: ceilings, %d thread%s\n", b->thr[i],
                b->thr[i] > 1 ? "s" : "");
        bench_ceiling *c = &b->res->ceil[b->res->nceil];
        if (bench_measure_ceiling(b->thr[i], buf, bytes, a->min_time, c, err,
                                  sizeof err) != 0) {
            fprintf(stderr, "kvcheck bench: ceilings: %s\n", err);
            free(buf);
            return -1;
        }
        b->res->nceil++;
    }
    free(buf);
    bench_print_ceilings(b->res);
    return 0;
}

int kvc_cmd_bench(int argc, char **argv)
{
    bench_args a = {.threads = kvc_cpus_available(), .bw_mib = 256};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    /* A tracking file that cannot be written fails now, not after an
     * hour of timing. */
    if (a.json) {
        FILE *f = fopen(a.json, "w");
        if (!f || fclose(f) != 0) {
            fprintf(stderr, "kvcheck bench: %s: %s\n", a.json,
                    strerror(errno));
            return KVC_EXIT_IO;
        }
    }
    kvc_kernel_choice ch;
    if (kvc_choose_kernel("bench", a.kernel_lib, -1, 1, &ch) != 0)
        return KVC_EXIT_USAGE;
    bench_results res = {.kernel_name = a.kernel_lib ? a.kernel_lib
                                                     : ch.k->name,
                         .takes_threads = ch.k->caps.takes_threads,
                         .threads = a.threads, .reps = a.reps,
                         .min_time = a.min_time, .max_time = a.max_time,
                         .bw_mib = a.bw_mib,
                         .quick = a.quick};
    bench_cpu_info(&res.cpu);
    bench_run b = {.a = &a, .res = &res, .k = ch.k, .nthr = 1,
                   .thr = {1, a.threads}};
    if (a.threads > 1)
        b.nthr = 2;
    rc = KVC_EXIT_PASS;
    if (measure_ceilings(&b) != 0 || run_sections(&b) != 0)
        rc = KVC_EXIT_IO;
    char err[600];
    if (rc == KVC_EXIT_PASS && a.json) {
        if (bench_write_json(&res, a.json, err, sizeof err) != 0) {
            fprintf(stderr, "kvcheck bench: %s\n", err);
            rc = KVC_EXIT_IO;
        } else {
            printf("\njson: %s\n", a.json);
        }
    }
    free(res.rows);
    kvc_release_kernel(&ch);
    return rc;
}
