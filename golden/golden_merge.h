/*
 * golden_merge.h — golden vectors for kva_merge_states
 * (golden/vectors/merge/merge_states.json; FORMAT.md, "Merge vectors").
 *
 * A Wycheproof-style file of tests, each: tcId, comment, flags, the parts'
 * states as a kernel hands them over (fp32: partOut [parts][rows][headDim],
 * partLse [parts][rows], natural log, "-inf" for an empty part), and the
 * expected merge (out, lse: the oracle's exact merge in double, oracle/
 * merge.h) with the allowed error of every value (tolOut, tolLse; 0 where
 * the value must be exact: rows whose parts are all empty). Every number
 * is a hexadecimal float string ("0x1.8p+1", "-inf"): exact, and read by
 * any language (Python: float.fromhex).
 */
#ifndef KVC_GOLDEN_MERGE_H
#define KVC_GOLDEN_MERGE_H

#include <stddef.h>
#include <stdint.h>

#define KVC_MERGE_SCHEMA "kvcheck-merge-golden"
#define KVC_MERGE_SCHEMA_VERSION 1
/* Under the golden directory, in a folder of its own: readers of the
 * attention vectors take every *.json of the directory itself. */
#define KVC_MERGE_DIR "merge"
#define KVC_MERGE_FILE KVC_MERGE_DIR "/merge_states.json"
#define KVC_MERGE_MAX_PARTS_FILE 16

typedef struct kvc_merge_test {
    int tc_id;
    char comment[160];
    char flags[160];  /* space-separated flag names */
    int parts, head_dim;
    int64_t rows;
    float *part_out[KVC_MERGE_MAX_PARTS_FILE]; /* [rows][head_dim] each */
    float *part_lse[KVC_MERGE_MAX_PARTS_FILE]; /* [rows] each */
    double *out, *lse, *tol_out, *tol_lse;
} kvc_merge_test;

typedef struct kvc_merge_file {
    int num_tests;
    kvc_merge_test *tests;
} kvc_merge_file;

/* The standard set, deterministic: hand-shaped boundaries (one part, empty
 * parts, every part empty, equal lse, lse gaps that underflow exp, lse far
 * from 0, many parts, negative and zero outputs). 0 or -1 (out of memory). */
int kvc_merge_golden_standard(kvc_merge_file *f);

/* Write f to path (via a temporary file and rename) / read it back. Return
 * 0, or -1 with a message naming the file and the field. */
int kvc_merge_golden_write(const kvc_merge_file *f, const char *path,
                           char *err, size_t errlen);
int kvc_merge_golden_read(const char *path, kvc_merge_file *f, char *err,
                          size_t errlen);

/* Whether the file at path declares the merge schema (so a reader of the
 * attention vectors can hand it over). */
int kvc_merge_golden_is(const char *path);

void kvc_merge_golden_free(kvc_merge_file *f);

#endif
