/*
 * golden_set.h — the committed golden set: which tests each file of
 * golden/vectors/ holds, built from the named boundary cases, a greedy cover
 * of every generator flag by small random cases, for every KV cache format
 * x scale strategy still missing from the file the first small random case
 * that has it, invalid/acceptable mutations of valid cases (bad_kv_format
 * among them: a zero, NaN or negative static scale, nvfp4 with head_dim 24;
 * overlapping strides; the acceptable unnested strides), then a few larger
 * shapes (72-row prefill, 4001-key decode, blocks 48 and 128, Hkv 3/5/6,
 * num_kv_blocks > cache_len). New tests go after the old ones, each drawing
 * its values from its own index, so existing tests keep their bytes and
 * tcIds. Every test's flags come from kvc_golden_flags (freed_below_window
 * wherever a table has such an entry). A pure function of the code: regenerating it is
 * byte-identical. Large-offset cases are left out: their pools are sparse
 * (schemaVersion 3, golden/FORMAT.md "Sparse pools"), and the standard files
 * stay version 2 so that every version 2 reader keeps reading them; sparse
 * pools reach golden files through reproducers and `golden add`.
 */
#ifndef KVC_GOLDEN_SET_H
#define KVC_GOLDEN_SET_H

#include "../golden/golden.h"

/* The campaign seed of the random part of the set. */
#define KVC_GOLDEN_SEED 20261127u

/* File name (no directory) of the standard file of a mode:
 * "paged_attention.json", "blocked_attention.json",
 * "qeff_paged_attention.json". */
const char *kvc_golden_file_name(kvc_mode mode);

/* The name of the file of regression vectors added by `golden add`. */
#define KVC_GOLDEN_REGRESSIONS "regressions.json"

/* Build the standard file of a mode, expected values included. Returns 0,
 * or -1 with a message. */
int kvc_golden_standard(kvc_mode mode, kvc_golden_file *f, char *err,
                        size_t errlen);

/* The flags a golden test of the built case c carries: c->flags, plus
 * freed_below_window when a table entry wholly below a sequence's sliding
 * window is no block id (kvattn.h: never read; the test stays valid). */
uint64_t kvc_golden_flags(const kvc_case *c);

/* Append one test (taking ownership of its contents; *t is zeroed) to f.
 * Returns 0 or -1 (out of memory; t is freed). */
int kvc_golden_append(kvc_golden_file *f, kvc_golden_test *t);

#endif /* KVC_GOLDEN_SET_H */
