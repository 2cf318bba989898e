/*
 * golden_cache.h — golden vectors of whole operation sequences for the
 * cache's other half (kernels/kvattn.h, "The block manager" and "Eviction
 * policies"): golden/vectors/cache/block_manager.json (kind "manager") and
 * cache/eviction_policies.json (kind "policy"); FORMAT.md, "Cache
 * operation vectors" (the cache folder).
 *
 * A Wycheproof-style file of tests, each a configuration and a list of
 * steps; every step holds the operation, the expected status (a status
 * name of kvattn.h), for an accepted append its slots (and for the manager
 * its copy), and the whole state after the step:
 *   manager  the length of every sequence (-1: not live) and its row
 *            entries (ceil(length / B) of them; the rest of the row is -1),
 *            the reference count of every block, the free count. Block
 *            numbers are the reference model's own choice (new blocks: the
 *            lowest-numbered free ones); a manager passes when its answers
 *            equal the file's up to a renaming of blocks (FORMAT.md).
 *   policy   positions [Hkv][L] (-1 empty) and scores [Hkv][L]. Weights
 *            are multiples of 2^-8, so every fp32 sum is exact: scores
 *            compare exactly.
 * Expected values come from the reference models (oracle/bm_model.h,
 * oracle/policy_model.h) answering the operations themselves, never from
 * the kernels.
 */
#ifndef KVC_GOLDEN_CACHE_H
#define KVC_GOLDEN_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "../kernels/kvattn.h" /* the contract's types only */

#define KVC_CACHE_SCHEMA "kvcheck-cache-golden"
#define KVC_CACHE_SCHEMA_VERSION 1
/* Under the golden directory, in a folder of its own (as merge/): readers
 * of the attention vectors take every *.json of the directory itself. */
#define KVC_CACHE_DIR "cache"
#define KVC_CACHE_MANAGER_FILE KVC_CACHE_DIR "/block_manager.json"
#define KVC_CACHE_POLICY_FILE KVC_CACHE_DIR "/eviction_policies.json"

/* Limits a reader enforces (a golden file is small). */
#define KVC_CACHE_MAX_STEPS 100000
#define KVC_CACHE_MAX_DIM 4096   /* blocks, block size, sequences, row
                                    length, slots, KV heads */
#define KVC_CACHE_MAX_APPEND 4096 /* tokens of one append */
/* Every weight and score of a policy file is a multiple of this. */
#define KVC_CACHE_WEIGHT_GRID 0x1p-8

typedef enum kvc_cache_kind {
    KVC_CACHE_MANAGER = 0,
    KVC_CACHE_POLICY
} kvc_cache_kind;

/* Operations: the manager's as generators/bm_ops.h numbers them (append,
 * fork, rollback, free), the policy's as generators/policy_ops.h (append,
 * observe). */
typedef struct kvc_cache_step {
    int op;
    int seq, other, n;   /* manager: seq (fork: parent), other (fork:
                            child), n (append, rollback); policy: n */
    int32_t *tokens;     /* manager append: [n] */
    float *weights;      /* policy observe: [Hkv][L] */
    kva_status status;   /* the expected status */
    int64_t *slots;      /* accepted append: manager [n], policy [n][Hkv] */
    int num_copies;      /* manager append: 0 or 1 */
    kva_bm_copy copy;
    /* the state after the step */
    int64_t *lengths;    /* manager: [maxSeqs], -1 not live */
    int *rows;           /* manager: [maxSeqs][maxBlocksPerSeq], -1 past */
    int *refs;           /* manager: [numBlocks] */
    int num_free;        /* manager */
    int64_t *positions;  /* policy: [Hkv][L], -1 empty */
    float *scores;       /* policy: [Hkv][L] */
} kvc_cache_step;

typedef struct kvc_cache_test {
    int tc_id;
    char comment[256];
    char flags[160]; /* space-separated flag names */
    kva_bm_config bm;      /* manager */
    kva_policy_config pol; /* policy */
    int num_steps;
    kvc_cache_step *steps;
} kvc_cache_test;

typedef struct kvc_cache_file {
    kvc_cache_kind kind;
    int num_tests;
    kvc_cache_test *tests;
} kvc_cache_file;

/* The standard sets, deterministic (byte-identical on every regen):
 * hand-shaped scenarios that hit each boundary of the contract and a few
 * drawn from the operation generators. 0, or -1 with err (out of memory,
 * or a drawn policy score that fp32 would not hold exactly). */
int kvc_cache_golden_standard(kvc_cache_kind kind, kvc_cache_file *f,
                              char *err, size_t errlen);

/* Write f to path (via a temporary file and rename) / read it back (any
 * kind: f->kind says which). Return 0, or -1 with a message naming the
 * file, the tcId, the step and the field. */
int kvc_cache_golden_write(const kvc_cache_file *f, const char *path,
                           char *err, size_t errlen);
int kvc_cache_golden_read(const char *path, kvc_cache_file *f, char *err,
                          size_t errlen);

/* The same from text[0, len) (need not end in NUL), `name` standing for
 * the file in messages; on a refusal *f is all zero. */
int kvc_cache_golden_parse(const char *text, size_t len, const char *name,
                           kvc_cache_file *f, char *err, size_t errlen);

/* Whether the file at path declares the cache schema. */
int kvc_cache_golden_is(const char *path);

/* "manager", "policy". */
const char *kvc_cache_kind_name(kvc_cache_kind k);

/* "append", "fork", ... for a step of a file of kind k. */
const char *kvc_cache_op_name(kvc_cache_kind k, int op);

void kvc_cache_golden_free(kvc_cache_file *f);

#endif /* KVC_GOLDEN_CACHE_H */
