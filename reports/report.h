/*
 * report.h — writers for the results of a cross-check run: summary.json,
 * junit.xml, summary.md and a self-contained index.html with inline SVG
 * plots. Input is plain data (no generator or kernel types), so any runner
 * can fill it.
 */
#ifndef KVC_REPORT_H
#define KVC_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One case of a run. Strings are owned by the record (fixed arrays) except
 * mode and outcome, which point to static names. */
#define KVC_KV_FORMAT_LEN 32
typedef struct kvc_case_record {
    uint64_t index;
    const char *mode;    /* "paged", "blocked", "qeff" */
    const char *outcome; /* "pass", "numeric", "cache", ... */
    char kv_format[KVC_KV_FORMAT_LEN]; /* the KV cache format: "f32", "f16",
                            "bf16" or "<dtype>/<scales>" such as
                            "fp8_e4m3/token", "nvfp4/group"; "" = unknown */
    int passed;
    int has_verdict;     /* a numeric comparison ran: ratio/err/allowed valid */
    double ratio, err, allowed;
    double ratio_fp32;   /* the same outputs under the fp32 model (equal to
                            ratio when the kernel's profile is fp32) */
    /* the config, for the coverage grid and the JSON */
    int num_seqs, num_q_heads, num_kv_heads, head_dim, block_size;
    int total_q_tokens, max_kv_len;
    double seconds;      /* wall time of this case */
    char flags[512];     /* space-separated flag names */
    char desc[256];      /* one-line case description */
    char message[512];   /* failure message, "" on pass */
    char replay[512];    /* the replay command line (shell-quoted) */
    char repro[256];     /* the reproducer file written for this case,
                            relative to the report directory; "" = none */
    char stateful[20];   /* a stateful index (generators/stateful.h): its
                            kind ("manager", "policy", "policy-attention");
                            "" = an attention case */
    char invalid_rule[32]; /* an invalid variant (generators/invalid.h):
                            its rule ("slot_range", ...); "" = a valid case */
} kvc_case_record;

/* One line of the claim's coverage table: an item a case may need (a mode,
 * a cache format, a layout, a feature, a size; tools/claim.h) or a
 * property of the kernel's answers (lse, cache write, validation), whether
 * the kernel claims it, and what the run did with it. */
typedef struct kvc_claim_row {
    char item[40];          /* "mode paged", "format f16", "window", ... */
    int claimed;            /* 0: not claimed: not covered by this run */
    char detail[64];        /* sizes claimed ("all", "64, 128"), or a note
                               ("lse not covered", "written by kvcheck") */
    uint64_t cases_run;     /* cases run that use it */
    uint64_t draws_outside; /* draws outside the claim that needed it */
} kvc_claim_row;

/* The kernel's declaration (kvattn.h kva_caps) as the reports show it. */
typedef struct kvc_report_claim {
    size_t num_rows;
    const kvc_claim_row *rows;
    const char *profile;      /* arithmetic judged: "fp32", "half-p", ... */
    const char *lse;          /* "natural", "base 2", "not covered" */
    const char *out_type;     /* "f32", "f16", "bf16" */
    int threads;              /* threads per call; 0: takes none */
    uint64_t not_covered;     /* case indices with no draw inside the claim */
} kvc_report_claim;

typedef struct kvc_run_report {
    const char *tool_version; /* e.g. "kvcheck 0.1" */
    const char *command;      /* the command line that produced the run */
    const char *kernel_name;  /* e.g. "libkvattn" */
    uint64_t seed;
    int shard_index, shard_count;
    double threshold;         /* error-ratio threshold (1.0) */
    double seconds;           /* whole run */
    const char *started_utc;  /* ISO 8601 */
    size_t num_records;
    const kvc_case_record *records; /* in case-index order */
    const char *state;        /* "complete", or "interrupted": the run had
                                 not finished when this report was written
                                 (a snapshot kept current while it runs, or
                                 the run was stopped by a signal) */
    uint64_t cases_planned;   /* cases this run (shard) set out to check */
    int exit_status;          /* what the command exits with (0 passed, 1 a
                                 case failed, 3 I/O or internal error, 4
                                 nothing checked); meaningful when complete */
    const kvc_report_claim *claim; /* NULL: not given (claims everything) */
} kvc_run_report;

/* Create dir (and parents) if needed and write the four files into it.
 * Each file is written to a temporary name and renamed, so a failure leaves
 * no half-written report. Returns 0, or -1 with a message naming the file. */
int kvc_report_write(const kvc_run_report *r, const char *dir, char *err,
                     size_t errlen);

/* The individual writers (each to a FILE opened by the caller). Return 0 or
 * -1 on a write error. */
int kvc_report_write_json(const kvc_run_report *r, FILE *f);
int kvc_report_write_junit(const kvc_run_report *r, FILE *f);
int kvc_report_write_markdown(const kvc_run_report *r, FILE *f);
int kvc_report_write_html(const kvc_run_report *r, FILE *f);

#endif /* KVC_REPORT_H */
