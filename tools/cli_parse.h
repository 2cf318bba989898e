/*
 * cli_parse.h — strict parsing of command-line values. Each returns 0, or
 * -1 after printing "kvcheck CMD: OPTION 'VALUE' ..." to stderr; the
 * command then exits 2 (usage). Integers are digits only, range-checked:
 * a value that would wrap is refused, never taken modulo 2^32.
 */
#ifndef KVC_CLI_PARSE_H
#define KVC_CLI_PARSE_H

#include <stdint.h>

#include "kernel_lib.h"

int kvc_parse_u64(const char *cmd, const char *opt, const char *s,
                  uint64_t *out);
/* An integer in min..max (min >= 0). */
int kvc_parse_int(const char *cmd, const char *opt, const char *s, int min,
                  int max, int *out);
/* A number of seconds in (0, 1e6]. */
int kvc_parse_seconds(const char *cmd, const char *opt, const char *s,
                      double *out);
/* "paged", "blocked", "qeff" -> the mode; "all" -> -1. */
int kvc_parse_kernel(const char *cmd, const char *s, int *mode);
/* "f32,nvfp4" -> a bit per kvc_kv_dtype (1u << d); an unknown name or an
 * empty list is refused. */
int kvc_parse_kv_dtypes(const char *cmd, const char *s, unsigned *mask);
/* "i/n" with 0 <= i < n <= INT_MAX. */
int kvc_parse_shard(const char *cmd, const char *s, int *index, int *count);

/* Print getopt_long's complaint c ('?' unknown option, ':' missing value)
 * as "kvcheck CMD: ...". For loops run with opterr = 0 and an optstring
 * that starts with ':'. */
void kvc_option_error(const char *cmd, char **argv, int c);

/* The kernel a command checks: the in-tree libkvattn, or the library of
 * --kernel-lib PATH. */
typedef struct kvc_kernel_choice {
    kvc_kernel table;     /* filled from the library */
    void *handle;         /* NULL for the in-tree kernel */
    const kvc_kernel *k;  /* what to run */
} kvc_kernel_choice;

/* lib == NULL: the in-tree kernel. Loads it here (replay runs the kernel
 * in the foreground), with its claim and --profile (profile_override >= 0)
 * and --kernel-threads applied. Returns 0, or -1 after printing why. */
int kvc_choose_kernel(const char *cmd, const char *lib, int profile_override,
                      int threads, kvc_kernel_choice *ch);

/* The claim of the kernel a campaign or verification checks, without
 * running its code here: the in-tree kernel's, or the library's as a probe
 * child read it (kernel_probe.h); --profile applied. Returns -1 to go on,
 * else the exit status (after printing why: 2 the library is refused, 1
 * loading it crashed). */
int kvc_resolve_claim(const char *cmd, const char *lib, int profile_override,
                      kva_caps *claim);

/* "fp32", "half-p", "half-acc" -> the profile (oracle/profile.h). */
int kvc_parse_profile(const char *cmd, const char *s, int *profile);
void kvc_release_kernel(kvc_kernel_choice *ch);

#define KVC_KERNEL_LIB_HELP \
    "  --kernel-lib PATH check the kernel in this shared library (it exports\n" \
    "                    the kva_* functions of kernels/kvattn.h) instead of\n" \
    "                    the in-tree libkvattn (a name without a slash is\n" \
    "                    searched in the system's library path: ./NAME)\n"

#define KVC_ARITH_HELP \
    "  --profile P       judge the kernel's arithmetic as P: fp32, half-p\n" \
    "                    (P rounded to 16 bits before P.V) or half-acc (f16\n" \
    "                    P.V accumulation) (default: what the library\n" \
    "                    declares in kva_capabilities, else fp32)\n" \
    "  --kernel-threads N  run a kernel that takes a thread count with N\n" \
    "                    threads (default 1); outputs must be bitwise equal\n" \
    "                    between two runs with the same count\n"

#define KVC_KV_DTYPE_HELP \
    "  --kv-dtype LIST   only the cases whose KV cache format is in the\n" \
    "                    comma-separated LIST of f32, f16, bf16, fp8_e4m3,\n" \
    "                    fp8_e5m2, int8, nvfp4 (default: every format); the\n" \
    "                    others are skipped, so replay commands stay valid\n"

#endif
