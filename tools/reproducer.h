/*
 * reproducer.h — shrink a failing campaign case and write the smallest
 * failing case as a golden-format file that `kvcheck replay FILE.json`
 * runs and `kvcheck golden add FILE.json` makes permanent.
 */
#ifndef KVC_REPRODUCER_H
#define KVC_REPRODUCER_H

#include <stdint.h>

#include "runner.h"

/* Attempts the CLI gives the shrinker (each one runs the kernel and the
 * oracle once). */
#define KVC_SHRINK_MAX_ATTEMPTS 2000

typedef struct kvc_repro {
    kvc_outcome outcome;   /* of the original case; KVC_PASS: it passed */
    int shrink_status;     /* kvc_shrink's return value */
    int attempts;
    char before[256];      /* kvc_case_describe of the original */
    char after[256];       /* of the shrunk case */
    const char *kernel_lib; /* the --kernel-lib the replay needs: the name
                               of a kernel other than the in-tree one
                               (kvc_kernel_load names it after its path);
                               NULL for the in-tree kernel */
    const char *profile;   /* --profile to replay with: NULL from
                              kvc_write_reproducer; a caller that had one
                              sets it before kvc_print_repro */
    int threads;           /* --kernel-threads (the kernel's count) */
} kvc_repro;

/* Shrink case (seed, index, mode) against kernel k, keeping candidates that
 * fail by the same mechanism inside k's claim (the same outcome kind; for a
 * numeric failure the same class of value, non-finite or finite, out or
 * lse, and a ratio within a decade of the original's; for the others the
 * same failing step, the message's head) (the case itself is
 * drawn inside it, as the campaign drew it), and write the result to path. Returns 0
 * (written), 1 (the case passes: nothing written) or -1 with a message. */
int kvc_write_reproducer(uint64_t seed, uint64_t index, int mode,
                         const kvc_kernel *k, const char *path,
                         kvc_repro *info, char *err, size_t errlen);
/* The same for a case drawn under size options (NULL: the default). */
int kvc_write_reproducer_sized(uint64_t seed, uint64_t index, int mode,
                               const kvc_size_opts *size, const kvc_kernel *k,
                               const char *path, kvc_repro *info, char *err,
                               size_t errlen);

/* Print where a reproducer went, what it was and how to run it: a
 * shell-quoted `kvcheck replay FILE [--kernel-lib LIB]`. */
void kvc_print_repro(const char *path, const kvc_repro *info);

#endif /* KVC_REPRODUCER_H */
