/*
 * svg_plot.c — inline SVG drawing for index.html (svg_plot.h): the error
 * ratio histogram on a log axis and the shaded coverage grids.
 */
#include "svg_plot.h"

#include <math.h>

#include "report_text.h"

#define FONT "font-family=\"sans-serif\""

#define COLOR_PASS "#4c78a8"
#define COLOR_FAIL "#e45756"
#define COLOR_THRESHOLD "#d00000"
#define COLOR_EMPTY "#eeeeee"

static void text(FILE *f, const char *s)
{
    kvr_put_xml(f, KVR_STR(s), KVR_ESC_HTML);
}

/* A y-axis step of 1, 2 or 5 times a power of ten giving at most 5 steps. */
static size_t nice_step(size_t max)
{
    size_t p = 1;

    for (;;) {
        if (max <= 5 * p)
            return p;
        if (max <= 10 * p)
            return 2 * p;
        if (max <= 25 * p)
            return 5 * p;
        if (p > (size_t)-1 / 100)
            return p * 10;
        p *= 10;
    }
}

/* "10" with the exponent as a superscript; plain "1" and "10" for 0, 1. */
static void decade_label(FILE *f, int k)
{
    if (k == 0)
        fputs("1", f);
    else if (k == 1)
        fputs("10", f);
    else
        fprintf(f, "10<tspan dy=\"-6\" font-size=\"9\">%s%d</tspan>",
                k < 0 ? "\xe2\x88\x92" : "", k < 0 ? -k : k);
}

void kvr_svg_histogram(FILE *f, const kvr_svg_hist *h)
{
    const double W = 560, H = 290, L = 60, R = 20, T = 58, B = 52;
    const double pw = W - L - R, ph = H - T - B;
    int decades = h->hi_dec - h->lo_dec, k;
    size_t nbins = (size_t)decades * (size_t)h->bins_per_dec, b, max = 0;
    size_t step, ymax, y;
    double bw = pw / (double)nbins, tlog, tx;

    for (b = 0; b < nbins; b++)
        if (h->counts[b] > max)
            max = h->counts[b];
    step = nice_step(max ? max : 1);
    ymax = ((max ? max : 1) + step - 1) / step * step;

    fprintf(f, "<svg class=\"histogram\" xmlns=\"http://www.w3.org/2000/svg\" "
               "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
               "role=\"img\">\n", W, H, W, H);
    fputs("<title>", f);
    text(f, h->title);
    fputs("</title>\n", f);
    fprintf(f, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", W,
            H);
    fprintf(f, "<text x=\"%.1f\" y=\"20\" " FONT " font-size=\"14\" "
               "font-weight=\"bold\">", L);
    text(f, h->title);
    fputs("</text>\n", f);

    /* legend */
    fprintf(f, "<g " FONT " font-size=\"11\">"
               "<rect x=\"%.1f\" y=\"31\" width=\"12\" height=\"10\" "
               "fill=\"" COLOR_PASS "\"/>"
               "<text x=\"%.1f\" y=\"40\">below threshold</text>"
               "<rect x=\"%.1f\" y=\"31\" width=\"12\" height=\"10\" "
               "fill=\"" COLOR_FAIL "\"/>"
               "<text x=\"%.1f\" y=\"40\">at or above threshold</text>"
               "<line x1=\"%.1f\" y1=\"36\" x2=\"%.1f\" y2=\"36\" "
               "stroke=\"" COLOR_THRESHOLD "\" stroke-width=\"2\"/>"
               "<text x=\"%.1f\" y=\"40\">threshold (ratio ",
            L, L + 16, L + 118, L + 134, L + 272, L + 292, L + 297);
    {
        char t[KVR_NUM_LEN];
        kvr_fmt_short(t, h->threshold);
        fputs(t, f);
    }
    fputs(")</text></g>\n", f);

    /* y grid and labels */
    fprintf(f, "<g " FONT " font-size=\"11\" text-anchor=\"end\">\n");
    for (y = 0; y <= ymax; y += step) {
        double yy = T + ph - ph * (double)y / (double)ymax;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                   "stroke=\"#dddddd\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\">%zu</text>\n",
                L, yy, L + pw, yy, L - 6, yy + 4, y);
        if (ymax - y < step)
            break;
    }
    fputs("</g>\n", f);

    /* bars */
    tlog = log10(h->threshold);
    for (b = 0; b < nbins; b++) {
        double lo = h->lo_dec + (double)b / h->bins_per_dec;
        double x = L + bw * (double)b, hh;
        if (!h->counts[b])
            continue;
        hh = ph * (double)h->counts[b] / (double)ymax;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\""
                   " fill=\"%s\"><title>ratio %.3g to %.3g: %zu cases</title>"
                   "</rect>\n",
                x + 0.5, T + ph - hh, bw > 2 ? bw - 1 : bw, hh,
                lo + 1e-9 >= tlog ? COLOR_FAIL : COLOR_PASS, pow(10.0, lo),
                pow(10.0, lo + 1.0 / h->bins_per_dec), h->counts[b]);
        /* failing bins are few and short: print their counts */
        if (lo + 1e-9 >= tlog)
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" " FONT " font-size=\"10\""
                       " text-anchor=\"middle\" fill=\"" COLOR_FAIL "\">%zu"
                       "</text>\n",
                    x + bw / 2, T + ph - hh - 3, h->counts[b]);
    }

    /* x axis with decade ticks */
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
               "stroke=\"#333333\"/>\n", L, T + ph, L + pw, T + ph);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
               "stroke=\"#333333\"/>\n", L, T, L, T + ph);
    fprintf(f, "<g " FONT " font-size=\"11\" text-anchor=\"middle\">\n");
    for (k = h->lo_dec; k <= h->hi_dec; k++) {
        double x = L + pw * (double)(k - h->lo_dec) / decades;
        int label = decades <= 12 || (k - h->lo_dec) % 2 == 0;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                   "stroke=\"#333333\"/>",
                x, T + ph, x, T + ph + (label ? 5 : 3));
        if (label) {
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", x, T + ph + 18);
            decade_label(f, k);
            fputs("</text>", f);
        }
        fputc('\n', f);
    }
    fputs("</g>\n", f);

    /* threshold line, clamped to the axis */
    if (tlog < h->lo_dec)
        tlog = h->lo_dec;
    if (tlog > h->hi_dec)
        tlog = h->hi_dec;
    tx = L + pw * (tlog - h->lo_dec) / decades;
    fprintf(f, "<line class=\"threshold\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
               "y2=\"%.1f\" stroke=\"" COLOR_THRESHOLD "\" stroke-width=\"2\"/>\n",
            tx, T - 4, tx, T + ph);

    /* axis labels */
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" " FONT " font-size=\"12\" "
               "text-anchor=\"middle\">", L + pw / 2, H - 10);
    text(f, h->x_label);
    fprintf(f, "</text>\n<text transform=\"translate(16 %.1f) rotate(-90)\" "
               FONT " font-size=\"12\" text-anchor=\"middle\">", T + ph / 2);
    text(f, h->y_label);
    fputs("</text>\n</svg>\n", f);
}

/* Shade for count c of max on a log scale: light to dark blue. */
static void shade(size_t c, size_t max, int rgb[3], int *dark)
{
    static const int lo[3] = {222, 235, 247}, hi[3] = {8, 48, 107};
    double t;
    int i;

    if (c == 0 || max == 0) {
        rgb[0] = rgb[1] = rgb[2] = 0xee;
        *dark = 0;
        return;
    }
    t = max > 1 ? log1p((double)c) / log1p((double)max) : 1.0;
    t = 0.15 + 0.85 * t;
    for (i = 0; i < 3; i++)
        rgb[i] = (int)lround(lo[i] + (hi[i] - lo[i]) * t);
    *dark = t > 0.55;
}

#define CELL_W 44.0
#define CELL_H 22.0

void kvr_svg_grid_draw(FILE *f, const kvr_svg_grid *g)
{
    const double L = 84, T = 54;
    double W = L + CELL_W * (double)g->cols + 10;
    double H = T + CELL_H * (double)g->rows + 10;
    size_t i, j;

    if (W < 200)
        W = 200;
    fprintf(f, "<svg class=\"coverage\" xmlns=\"http://www.w3.org/2000/svg\" "
               "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
               "role=\"img\">\n<title>", W, H, W, H);
    text(f, g->title);
    fputs("</title>\n", f);
    fprintf(f, "<text x=\"8\" y=\"16\" " FONT " font-size=\"13\" "
               "font-weight=\"bold\">");
    text(f, g->title);
    fputs("</text>\n", f);
    fprintf(f, "<text x=\"%.1f\" y=\"32\" " FONT " font-size=\"11\" "
               "text-anchor=\"middle\" fill=\"#555555\">",
            L + CELL_W * (double)g->cols / 2);
    text(f, g->col_axis);
    fputs("</text>\n", f);
    fprintf(f, "<text transform=\"translate(14 %.1f) rotate(-90)\" " FONT
               " font-size=\"11\" text-anchor=\"middle\" fill=\"#555555\">",
            T + CELL_H * (double)g->rows / 2);
    text(f, g->row_axis);
    fputs("</text>\n", f);

    fputs("<g " FONT " font-size=\"10\" text-anchor=\"middle\">\n", f);
    for (j = 0; j < g->cols; j++) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">",
                L + CELL_W * ((double)j + 0.5), T - 6);
        text(f, g->col_labels[j]);
        fputs("</text>\n", f);
    }
    fputs("</g>\n<g " FONT " font-size=\"10\" text-anchor=\"end\">\n", f);
    for (i = 0; i < g->rows; i++) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", L - 5,
                T + CELL_H * ((double)i + 0.5) + 3.5);
        text(f, g->row_labels[i]);
        fputs("</text>\n", f);
    }
    fputs("</g>\n<g " FONT " font-size=\"10\" text-anchor=\"middle\">\n", f);
    for (i = 0; i < g->rows; i++)
        for (j = 0; j < g->cols; j++) {
            size_t c = g->counts[i * g->cols + j];
            size_t nf = g->fails[i * g->cols + j];
            double x = L + CELL_W * (double)j, y = T + CELL_H * (double)i;
            int rgb[3], dark;

            shade(c, g->max_count, rgb, &dark);
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                       "height=\"%.1f\" fill=\"#%02x%02x%02x\" ",
                    x + 1, y + 1, CELL_W - 2, CELL_H - 2, rgb[0], rgb[1],
                    rgb[2]);
            if (nf)
                fputs("stroke=\"" COLOR_THRESHOLD "\" stroke-width=\"2\"", f);
            fputs("><title>", f);
            text(f, g->row_axis);
            fputc(' ', f);
            text(f, g->row_labels[i]);
            fputs(", ", f);
            text(f, g->col_axis);
            fputc(' ', f);
            text(f, g->col_labels[j]);
            fprintf(f, ": %zu cases, %zu failed</title></rect>", c, nf);
            if (c)
                fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\">%zu"
                           "</text>",
                        x + CELL_W / 2, y + CELL_H / 2 + 3.5,
                        dark ? "#ffffff" : "#111111", c);
            fputc('\n', f);
        }
    fputs("</g>\n</svg>\n", f);
}

void kvr_svg_grid_legend(FILE *f, size_t max_count)
{
    size_t steps[5], n = 0, i;
    double x = 8;

    /* up to five shades: 1, max and log-spaced counts between */
    if (max_count >= 1)
        steps[n++] = 1;
    for (i = 1; i < 4 && max_count > 2; i++) {
        size_t v = (size_t)lround(pow((double)max_count, (double)i / 4.0));
        if (v > steps[n - 1] && v < max_count)
            steps[n++] = v;
    }
    if (max_count > 1)
        steps[n++] = max_count;

    fputs("<svg class=\"legend\" xmlns=\"http://www.w3.org/2000/svg\" "
          "width=\"560\" height=\"34\" viewBox=\"0 0 560 34\" role=\"img\">\n"
          "<title>coverage legend</title>\n"
          "<g " FONT " font-size=\"11\">\n", f);
    fputs("<text x=\"8\" y=\"21\">cases per cell:</text>\n", f);
    x = 96;
    fprintf(f, "<rect x=\"%.1f\" y=\"8\" width=\"30\" height=\"18\" "
               "fill=\"" COLOR_EMPTY "\"/><text x=\"%.1f\" y=\"21\">0 (not hit)"
               "</text>\n", x, x + 34);
    x += 100;
    for (i = 0; i < n; i++) {
        int rgb[3], dark;
        shade(steps[i], max_count, rgb, &dark);
        fprintf(f, "<rect x=\"%.1f\" y=\"8\" width=\"30\" height=\"18\" "
                   "fill=\"#%02x%02x%02x\"/><text x=\"%.1f\" y=\"21\" "
                   "text-anchor=\"middle\" fill=\"%s\">%zu</text>\n",
                x, rgb[0], rgb[1], rgb[2], x + 15, dark ? "#ffffff" : "#111111",
                steps[i]);
        x += 34;
    }
    x += 16;
    fprintf(f, "<rect x=\"%.1f\" y=\"9\" width=\"28\" height=\"16\" "
               "fill=\"#ffffff\" stroke=\"" COLOR_THRESHOLD "\" "
               "stroke-width=\"2\"/><text x=\"%.1f\" y=\"21\">cell has failing "
               "cases</text>\n</g>\n</svg>\n", x + 1, x + 36);
}
