/*
 * golden.h — golden vectors: self-describing JSON files (format in
 * FORMAT.md, schema in schema.json) that freeze the oracle's answers for any
 * implementation to test against, in the spirit of Project Wycheproof.
 *
 * A file holds test groups that share a config; each test has an id, a
 * comment, flags naming the boundaries it exercises, its complete inputs
 * (logical tensors and physical layout, never regenerated from a seed) and,
 * for valid tests, the expected out and lse with the allowed error of every
 * value. In memory the groups are flattened: every test carries its own
 * config.
 *
 * golden/ reads and writes; it depends on the oracle (expected values), on
 * the plain-data case type of generators/case.h and the variant type of
 * generators/invalid.h (no generation code is called, except kvc_case_free
 * to release a case and kvc_invalid_init to start a variant from its
 * case's values) and on cJSON.
 */
#ifndef KVC_GOLDEN_H
#define KVC_GOLDEN_H

#include <stddef.h>
#include <stdint.h>

#include "../generators/case.h"
#include "../generators/invalid.h"

#define KVC_GOLDEN_SCHEMA "kvcheck-attention-golden"
/* 2: the KV cache format (kvDtype, kvScale, static scales, scale-pool
 * strides, the oracle's codes in expected).
 * 3: sparse pools (layout.sparse: block ids above a huge unused stretch,
 * large_offsets). A writer writes 3 only for a file that holds a sparse
 * pool, so every other file stays version 2 byte for byte and readers of
 * version 2 keep reading it; this reader takes both. */
#define KVC_GOLDEN_SCHEMA_VERSION 3
#define KVC_GOLDEN_SCHEMA_VERSION_DENSE 2
/* Bump when the oracle's arithmetic changes (expected values would move). */
#define KVC_ORACLE_VERSION "kvcheck-oracle-1"

typedef enum kvc_expect {
    KVC_EXPECT_VALID = 0, /* the kernel must accept and match out/lse */
    KVC_EXPECT_INVALID,   /* the kernel must refuse the input with an error */
    KVC_EXPECT_ACCEPTABLE /* implementation-defined: refusing passes, and so
                             does accepting and matching out/lse */
} kvc_expect;

const char *kvc_expect_name(kvc_expect e); /* "valid", "invalid", "acceptable" */

typedef struct kvc_golden_test {
    int tc_id;              /* unique within a file, >= 1 */
    char comment[256];
    uint64_t flags;         /* 1 << KVC_FLAG_* */
    kvc_expect result;
    char error[48];         /* invalid/acceptable: the kva_status name the
                               in-tree kernel returns ("" otherwise);
                               informational for other implementations */
    kvc_case c;             /* inputs; c.spec holds mode and config */
    /* Invalid tests only: has_variant 1 when the case itself is valid and
     * the kernel gets one value broken (FORMAT.md, "variant"): inv is
     * kvc_invalid_init(&c) with the file's overrides, handed to the runner
     * as kvc_run_opts.inv (generators/invalid.h). 0: inv unused. */
    int has_variant;
    kvc_invalid inv;
    /* Expected values (valid and acceptable tests; NULL for invalid):
     * out and tol_out [rows][Hq][D], lse and tol_lse [rows][Hq], rows =
     * c.prob.q_start[S]. tol_* is the allowed absolute error of each value
     * (oracle/tolerance.h), 0 where the value must be exact. */
    double *out, *lse, *tol_out, *tol_lse;
    /* The cache contents the oracle expects (oracle/kv_store.h), for valid
     * and acceptable tests of a reduced-precision format (c.prob.quant);
     * NULL otherwise. kv_rows = c.prob.kv_start[S], Hkv, D of the config:
     *   k_codes, v_codes [kv_rows][Hkv][D]: one code per element in its low
     *     bits (16 for f16/bf16, 8 for fp8/int8, 4 for nvfp4, unpacked);
     *   k_token_scales, v_token_scales [kv_rows][Hkv]: TOKEN only;
     *   k_group_codes, v_group_codes [kv_rows][Hkv][D/16]: GROUP only (e4m3
     *     block-scale codes). */
    uint16_t *k_codes, *v_codes;
    float *k_token_scales, *v_token_scales;
    uint8_t *k_group_codes, *v_group_codes;
} kvc_golden_test;

typedef struct kvc_golden_file {
    char generator[64];        /* e.g. "kvcheck 0.1 golden regen" */
    char oracle_version[32];   /* KVC_ORACLE_VERSION when written */
    int num_tests;
    kvc_golden_test *tests;
} kvc_golden_file;

/* Fill t->out/lse/tol_* from the oracle for t->c (allocating them), and
 * for a reduced-precision format the oracle's codes and scales
 * (k_codes, ...; kvc_kv_store_compute). Returns 0, or -1 with a message. */
int kvc_golden_expect(kvc_golden_test *t, char *err, size_t errlen);

/* Serialize to JSON text (malloc'd, NUL-terminated; deterministic to the
 * byte). Returns NULL with a message on error. */
char *kvc_golden_to_json(const kvc_golden_file *f, char *err, size_t errlen);

/* Write f to path atomically (temp file + rename): on failure nothing is
 * left at path. Returns 0, or -1 with a message naming the file. */
int kvc_golden_write(const kvc_golden_file *f, const char *path, char *err,
                     size_t errlen);

/* Parse JSON text. `name` is used in messages (a file name). Every field is
 * validated: a malformed or truncated file gives -1 and a message naming
 * the file, the test id and the field; never a crash, never a partly
 * filled *f (it is zeroed on error). */
int kvc_golden_parse(const char *text, size_t len, const char *name,
                     kvc_golden_file *f, char *err, size_t errlen);

/* Read and parse a file. Returns 0 or -1 with a message. */
int kvc_golden_read(const char *path, kvc_golden_file *f, char *err,
                    size_t errlen);

/* Free the expected values and codes of t (out ... v_group_codes), leaving
 * them NULL; the inputs stay. */
void kvc_golden_expect_clear(kvc_golden_test *t);

void kvc_golden_test_free(kvc_golden_test *t);
void kvc_golden_free(kvc_golden_file *f);

#endif /* KVC_GOLDEN_H */
