/*
 * report_coverage.h — internal: which part of the config space a run hit,
 * counted for index.html's coverage grids.
 *
 * Rows are head_dim: the exact values when the run used at most
 * KVR_COV_EXACT_ROWS of them, else the buckets 1, 2-7, 8-15, 16-31, 32-63,
 * 64-127, 128+ (all shown, so gaps are visible). Columns are block_size:
 * the exact values when at most KVR_COV_EXACT_COLS, else power-of-two
 * buckets 1, 2-3, 4-7, ... up to the largest. A value below 1 (a malformed
 * config) gets its own "<1" row or column. One grid per GQA bucket
 * (Hq/Hkv: 1, 2-3, 4-7, 8+, and "invalid" when Hkv < 1 or Hq < Hkv) and
 * kernel mode; only the GQA buckets the run hit are kept.
 */
#ifndef KVR_REPORT_COVERAGE_H
#define KVR_REPORT_COVERAGE_H

#include <stddef.h>

#include "report.h"
#include "report_stats.h"

#define KVR_COV_EXACT_ROWS 8
#define KVR_COV_EXACT_COLS 10
#define KVR_COV_MAX_AXIS 34 /* "<1" + 32 power-of-two buckets, rounded up */
#define KVR_COV_GQA 5
#define KVR_COV_LABEL 32

typedef struct kvr_cov_axis {
    size_t n;
    int exact;                       /* labels are the values themselves */
    int below_one;                   /* a "<1" entry comes first */
    int values[KVR_COV_MAX_AXIS];    /* exact values, ascending */
    char labels[KVR_COV_MAX_AXIS][KVR_COV_LABEL];
    const char *label_ptr[KVR_COV_MAX_AXIS];
} kvr_cov_axis;

typedef struct kvr_coverage {
    kvr_cov_axis rows, cols;  /* head_dim, block_size */
    size_t num_modes;
    int gqa_hit[KVR_COV_GQA];
    size_t *counts, *fails;   /* [mode][gqa][row][col] */
    size_t max_count;
} kvr_coverage;

/* 0, or -1 on allocation failure (cv is then safe to free). */
int kvr_coverage_init(kvr_coverage *cv, const kvc_run_report *r,
                      const kvr_stats *s);
void kvr_coverage_free(kvr_coverage *cv);

/* The GQA bucket's label ("1", "2-3", ...). */
const char *kvr_cov_gqa_label(int gqa);

/* The first cell of grid (mode, gqa) in counts/fails. */
size_t kvr_cov_grid_offset(const kvr_coverage *cv, size_t mode, int gqa);

#endif /* KVR_REPORT_COVERAGE_H */
