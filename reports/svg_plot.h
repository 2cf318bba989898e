/*
 * svg_plot.h — internal: the inline SVG figures of index.html. Each call
 * writes one complete <svg> element (no external resources, no script);
 * every text is escaped. Coordinates are printed with %.1f, so the caller
 * must run in the C numeric locale (the writers do).
 */
#ifndef KVR_SVG_PLOT_H
#define KVR_SVG_PLOT_H

#include <stddef.h>
#include <stdio.h>

/* A histogram over a log10 axis from 10^lo_dec to 10^hi_dec with
 * bins_per_dec bins per decade; counts has (hi_dec - lo_dec) * bins_per_dec
 * entries. Bins from the threshold up are drawn in the failure colour and
 * the threshold itself as a red vertical line (class "threshold"). */
typedef struct kvr_svg_hist {
    const char *title;
    const char *x_label, *y_label;
    int lo_dec, hi_dec, bins_per_dec;
    const size_t *counts;
    double threshold; /* > 0; clamped to the axis for drawing */
} kvr_svg_hist;

void kvr_svg_histogram(FILE *f, const kvr_svg_hist *h);

/* A small count grid: rows x cols cells, each shaded by its count on a
 * logarithmic scale up to max_count (shared between grids so shades
 * compare) and labelled with the count; a cell with failures gets a red
 * outline. */
typedef struct kvr_svg_grid {
    const char *title;
    const char *row_axis, *col_axis;
    size_t rows, cols;
    const char *const *row_labels; /* [rows], top to bottom */
    const char *const *col_labels; /* [cols], left to right */
    const size_t *counts;          /* [rows * cols], row-major */
    const size_t *fails;           /* [rows * cols] */
    size_t max_count;
} kvr_svg_grid;

void kvr_svg_grid_draw(FILE *f, const kvr_svg_grid *g);

/* The key to the grids' shading for counts up to max_count. */
void kvr_svg_grid_legend(FILE *f, size_t max_count);

#endif /* KVR_SVG_PLOT_H */
