/*
 * report_html.c — index.html: one self-contained page (inline CSS and SVG,
 * no script, no external resource). It opens with what failed (the status
 * banner, the failures by verdict kind and by flag with the worst of each:
 * report_html_failures.c), then the run, tables of the kernel modes and KV
 * cache formats, a histogram of log10(error ratio) per kernel mode, the
 * coverage grids of the config space, the worst of each flag, the worst
 * cases by ratio and the full failure list, collapsed and capped. Links go only to anchors in the
 * page and to reproducer files beside it.
 *
 * Histogram axis (shared by all modes so they compare): from the decade of
 * the smallest positive ratio (at least 3 decades below the threshold, at
 * most down to 1e-15) to the decade above the largest finite one (at least
 * one decade above the threshold, at most 1e15). Ratio 0 and anything
 * below the axis counts in the lowest bin; inf, NaN and anything above in
 * the highest. Cases without a verdict are left out.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

#include "report.h"
#include "report_coverage.h"
#include "report_html.h"
#include "report_stats.h"
#include "report_text.h"
#include "svg_plot.h"

#define KVR_HTML_WORST 20
#define KVR_HIST_MIN_DEC (-15)
#define KVR_HIST_MAX_DEC 15

static void esc(FILE *f, const char *s, size_t n)
{
    kvr_html_esc(f, s, n);
}

static const char css[] =
    "body{font-family:system-ui,-apple-system,\"Segoe UI\",sans-serif;"
    "margin:24px;color:#222;max-width:1240px}"
    "h1 .passed{color:#1a7f37}h1 .failed{color:#c62828}"
    "h2{margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}"
    "table{border-collapse:collapse;font-size:13px;margin:8px 0}"
    "th,td{border:1px solid #d0d0d0;padding:3px 8px;text-align:left;"
    "vertical-align:top}th{background:#f4f4f4}td.num{text-align:right;"
    "font-variant-numeric:tabular-nums}"
    "tr.failed td{background:#fdecea}"
    "td.num{white-space:nowrap}"
    "code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}"
    "td.replay{min-width:300px}"
    ".wide{overflow-x:auto}"
    ".figs{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}"
    "figure{margin:0}figcaption{font-size:12px;color:#555;max-width:560px}"
    ".note{font-size:13px;color:#555}";

/* ---- header and the per-mode and per-format tables ---- */

static void run_table(FILE *f, const kvc_run_report *r, const kvr_stats *s)
{
    char buf[KVR_NUM_LEN];

    fputs("<table class=\"run\">\n<tr><th>kernel</th><td>", f);
    esc(f, KVR_STR(r->kernel_name));
    fprintf(f, "</td></tr>\n<tr><th>seed</th><td>%" PRIu64 "</td></tr>\n"
               "<tr><th>shard</th><td>%d/%d</td></tr>\n",
            r->seed, r->shard_index, r->shard_count);
    kvr_fmt_exact(buf, r->threshold);
    fprintf(f, "<tr><th>error-ratio threshold</th><td>%s</td></tr>\n", buf);
    fprintf(f, "<tr><th>cases</th><td>%zu of %llu planned (%zu failed, %zu "
               "with a numeric verdict)</td></tr>\n", s->cases,
            kvr_planned(r), s->failed, s->verdicts);
    char inv[96];
    kvr_invalid_summary(s, inv, sizeof inv);
    fprintf(f, "<tr><th>refusals</th><td>%s</td></tr>\n", inv);
    kvr_stateful_summary(s, inv, sizeof inv);
    fprintf(f, "<tr><th>manager and policies</th><td>%s</td></tr>\n", inv);
    fputs("<tr><th>state</th><td>", f);
    esc(f, KVR_STR(kvr_state_name(r)));
    fprintf(f, "</td></tr>\n<tr><th>exit status</th><td>%d (%s)</td></tr>\n",
            kvr_exit_status(r, s->failed),
            kvr_exit_meaning(kvr_exit_status(r, s->failed)));
    kvr_fmt_seconds(buf, r->seconds);
    fprintf(f, "<tr><th>time</th><td>%s s</td></tr>\n<tr><th>started</th><td>",
            buf);
    esc(f, KVR_STR(r->started_utc));
    fputs("</td></tr>\n<tr><th>tool</th><td>", f);
    esc(f, KVR_STR(r->tool_version));
    fputs("</td></tr>\n<tr><th>command</th><td><code>", f);
    esc(f, KVR_STR(r->command));
    fputs("</code></td></tr>\n</table>\n", f);
}

/* What the kernel declared and what this run therefore did not cover. */
static void claim_table(FILE *f, const kvc_run_report *r)
{
    const kvc_report_claim *c = r->claim;
    if (!c)
        return;
    fputs("<h2 id=\"claim\">What the kernel claims (coverage)</h2>\n<p>"
          "arithmetic profile <b>", f);
    esc(f, KVR_STR(c->profile));
    fputs("</b>, lse <b>", f);
    esc(f, KVR_STR(c->lse));
    fputs("</b>, output <b>", f);
    esc(f, KVR_STR(c->out_type));
    fprintf(f, "</b>, threads per call <b>%d</b>", c->threads);
    if (c->not_covered)
        fprintf(f, "; <b>%llu case indices not covered</b> (no draw inside "
                   "the claim)", (unsigned long long)c->not_covered);
    fputs(".</p>\n<table>\n<tr><th>item</th><th>claimed</th><th>detail</th>"
          "<th>cases run</th><th>draws outside the claim</th></tr>\n", f);
    for (size_t i = 0; i < c->num_rows; i++) {
        const kvc_claim_row *row = &c->rows[i];
        fputs(row->claimed ? "<tr><td>" : "<tr class=\"failed\"><td>", f);
        esc(f, row->item, sizeof row->item);
        fprintf(f, "</td><td>%s</td><td>", row->claimed ? "yes"
                                                          : "no: not covered");
        esc(f, row->detail, sizeof row->detail);
        fprintf(f, "</td><td>%llu</td><td>%llu</td></tr>\n",
                (unsigned long long)row->cases_run,
                (unsigned long long)row->draws_outside);
    }
    fputs("</table>\n", f);
}

/* A table of groups (modes, formats) under <h2>title</h2>. */
static void group_table(FILE *f, const kvc_run_report *r,
                        const kvr_grouping *g, const char *title,
                        const char *cls, const char *key_col)
{
    size_t m;

    fprintf(f, "<h2>%s</h2>\n", title);
    if (g->n == 0) {
        fputs("<p>No cases ran.</p>\n", f);
        return;
    }
    fprintf(f, "<table class=\"%s\">\n<tr><th>%s</th><th>cases</th>"
               "<th>failed</th><th>with verdict</th><th>worst ratio</th>"
               "<th>worst case</th><th>median ratio</th></tr>\n",
            cls, key_col);
    for (m = 0; m < g->n; m++) {
        const kvr_group *gr = &g->groups[m];
        char w[KVR_NUM_LEN] = "\xe2\x80\x93", med[KVR_NUM_LEN] = "\xe2\x80\x93";
        char wc[32] = "\xe2\x80\x93";

        if (gr->worst != KVR_NONE) {
            kvr_fmt_short(w, r->records[gr->worst].ratio);
            kvr_fmt_short(med, gr->median);
            snprintf(wc, sizeof wc, "%" PRIu64, r->records[gr->worst].index);
        }
        fprintf(f, "<tr%s><td>", gr->failed ? " class=\"failed\"" : "");
        esc(f, KVR_STR(gr->name));
        fprintf(f, "</td><td class=\"num\">%zu</td><td class=\"num\">%zu</td>"
                   "<td class=\"num\">%zu</td><td class=\"num\">%s</td>"
                   "<td class=\"num\">%s</td><td class=\"num\">%s</td></tr>\n",
                gr->run, gr->failed, gr->verdicts, w, wc, med);
    }
    fputs("</table>\n", f);
}

/* ---- histograms ---- */

typedef struct hist_axis {
    int lo, hi, per_dec;
    size_t nbins;
} hist_axis;

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static double threshold_of(const kvc_run_report *r)
{
    return r->threshold > 0 && isfinite(r->threshold) ? r->threshold : 1.0;
}

static hist_axis choose_axis(const kvc_run_report *r, const kvr_stats *s)
{
    double tlog = log10(threshold_of(r));
    double min_pos = INFINITY, max_fin = 0;
    hist_axis a;
    size_t i;
    int t = (int)floor(tlog);

    for (i = 0; i < s->verdicts; i++) {
        double q = r->records[s->by_ratio[i]].ratio;
        if (isfinite(q) && q > 0) {
            if (q < min_pos)
                min_pos = q;
            if (q > max_fin)
                max_fin = q;
        }
    }
    t = clampi(t, KVR_HIST_MIN_DEC + 3, KVR_HIST_MAX_DEC - 1);
    a.lo = t - 3;
    a.hi = t + 1;
    if (isfinite(min_pos))
        a.lo = clampi((int)floor(log10(min_pos)), KVR_HIST_MIN_DEC, a.lo);
    if (max_fin > 0)
        a.hi = clampi((int)ceil(log10(max_fin)), a.hi, KVR_HIST_MAX_DEC);
    a.per_dec = a.hi - a.lo <= 10 ? 4 : a.hi - a.lo <= 20 ? 2 : 1;
    a.nbins = (size_t)(a.hi - a.lo) * (size_t)a.per_dec;
    return a;
}

/* Bin of ratio q; *under / *over say whether it was clamped. */
static size_t bin_of(const hist_axis *a, double q, int *under, int *over)
{
    double pos;

    *under = *over = 0;
    if (isnan(q) || q == INFINITY) {
        *over = 1;
        return a->nbins - 1;
    }
    if (!(q > 0)) {
        *under = 1;
        return 0;
    }
    pos = (log10(q) - a->lo) * a->per_dec;
    if (pos < 0) {
        *under = 1;
        return 0;
    }
    if (pos >= (double)a->nbins) {
        *over = 1;
        return a->nbins - 1;
    }
    return (size_t)pos;
}

static int histograms(FILE *f, const kvc_run_report *r, const kvr_stats *s)
{
    hist_axis a = choose_axis(r, s);
    size_t *counts = malloc(a.nbins * sizeof *counts);
    char lo_txt[16], hi_txt[16];
    size_t m, i;

    if (!counts)
        return -1;
    snprintf(lo_txt, sizeof lo_txt, "1e%d", a.lo);
    snprintf(hi_txt, sizeof hi_txt, "1e%d", a.hi);
    fputs("<h2>Error ratio per kernel mode</h2>\n<p class=\"note\">Error ratio"
          " = measured error / allowed error; a case fails above the red "
          "threshold line. Log-scale axis, shared by all modes.</p>\n"
          "<div class=\"figs\">\n", f);
    for (m = 0; m < s->modes.n; m++) {
        const kvr_group *md = &s->modes.groups[m];
        size_t under = 0, over = 0, nonfinite = 0;
        char title[128];
        kvr_svg_hist h;

        for (i = 0; i < a.nbins; i++)
            counts[i] = 0;
        for (i = 0; i < s->verdicts; i++) {
            size_t p = s->by_ratio[i];
            double q = r->records[p].ratio;
            int u, o;
            if (s->modes.of[p] != m)
                continue;
            counts[bin_of(&a, q, &u, &o)]++;
            under += (size_t)u;
            over += (size_t)o;
            nonfinite += !isfinite(q);
        }
        snprintf(title, sizeof title, "%s: %zu case%s with a verdict",
                 md->name, md->verdicts, md->verdicts == 1 ? "" : "s");
        h.title = title;
        h.x_label = "error ratio (measured / allowed), log scale";
        h.y_label = "cases";
        h.lo_dec = a.lo;
        h.hi_dec = a.hi;
        h.bins_per_dec = a.per_dec;
        h.counts = counts;
        h.threshold = threshold_of(r);
        fputs("<figure>\n", f);
        kvr_svg_histogram(f, &h);
        fprintf(f, "<figcaption>Numeric verdicts: %zu of %zu cases (the "
                   "rest are left out).", md->verdicts, md->run);
        if (under)
            fprintf(f, " %zu with ratio 0 or below %s counted in the lowest "
                       "bin.", under, lo_txt);
        if (over)
            fprintf(f, " %zu above %s (%zu infinite or NaN) counted in the "
                       "highest bin.", over, hi_txt, nonfinite);
        fputs("</figcaption>\n</figure>\n", f);
    }
    fputs("</div>\n", f);
    free(counts);
    return 0;
}

/* ---- coverage ---- */

static int coverage(FILE *f, const kvc_run_report *r, const kvr_stats *s)
{
    kvr_coverage cv;
    size_t m;
    int g;

    if (kvr_coverage_init(&cv, r, s))
        return -1;
    fputs("<h2>Coverage of the configuration space</h2>\n<p class=\"note\">"
          "Cases per cell: rows are head_dim, columns block_size; one grid "
          "per GQA ratio (query heads / KV heads) and kernel mode. Grey "
          "cells were not hit.</p>\n", f);
    if (s->modes.n == 0) {
        fputs("<p>No cases ran.</p>\n", f);
        kvr_coverage_free(&cv);
        return 0;
    }
    kvr_svg_grid_legend(f, cv.max_count);
    for (m = 0; m < s->modes.n; m++) {
        fputs("<h3>", f);
        esc(f, KVR_STR(s->modes.groups[m].name));
        fputs("</h3>\n<div class=\"figs\">\n", f);
        for (g = 0; g < KVR_COV_GQA; g++) {
            size_t at = kvr_cov_grid_offset(&cv, m, g);
            char title[160];
            kvr_svg_grid grid;

            if (!cv.gqa_hit[g])
                continue;
            snprintf(title, sizeof title, "%s, GQA %s", s->modes.groups[m].name,
                     kvr_cov_gqa_label(g));
            grid.title = title;
            grid.row_axis = "head_dim";
            grid.col_axis = "block_size";
            grid.rows = cv.rows.n;
            grid.cols = cv.cols.n;
            grid.row_labels = cv.rows.label_ptr;
            grid.col_labels = cv.cols.label_ptr;
            grid.counts = cv.counts + at;
            grid.fails = cv.fails + at;
            grid.max_count = cv.max_count;
            kvr_svg_grid_draw(f, &grid);
        }
        fputs("</div>\n", f);
    }
    kvr_coverage_free(&cv);
    return 0;
}

/* ---- case tables ---- */

static void worst_table(FILE *f, const kvc_run_report *r, const kvr_stats *s)
{
    size_t i, n = s->verdicts < KVR_HTML_WORST ? s->verdicts : KVR_HTML_WORST;

    fprintf(f, "<h2>Worst cases (top %zu by error ratio)</h2>\n", n);
    if (n == 0) {
        fputs("<p>No case has a numeric verdict.</p>\n", f);
        return;
    }
    fputs("<div class=\"wide\"><table class=\"worst\">\n<tr><th>#</th><th>case</th><th>mode</th>"
          "<th>KV format</th><th>outcome</th><th>ratio</th><th>error</th><th>allowed</th>"
          "<th>config</th><th>description</th><th>replay</th></tr>\n", f);
    for (i = 0; i < n; i++) {
        const kvc_case_record *c = &r->records[s->by_ratio[i]];
        char q[KVR_NUM_LEN], e[KVR_NUM_LEN], a[KVR_NUM_LEN];

        kvr_fmt_short(q, c->ratio);
        kvr_fmt_short(e, c->err);
        kvr_fmt_short(a, c->allowed);
        fprintf(f, "<tr%s><td class=\"num\">%zu</td><td class=\"num\">%"
                   PRIu64 "</td><td>", c->passed ? "" : " class=\"failed\"",
                i + 1, c->index);
        esc(f, KVR_STR(kvr_mode_name(c)));
        fputs("</td><td>", f);
        esc(f, KVR_STR(kvr_format_name(c)));
        fputs("</td><td>", f);
        esc(f, KVR_STR(kvr_outcome_name(c)));
        fprintf(f, "</td><td class=\"num\">%s</td><td class=\"num\">%s</td>"
                   "<td class=\"num\">%s</td><td>Hq=%d Hkv=%d D=%d bs=%d "
                   "seqs=%d</td><td>", q, e, a, c->num_q_heads,
                c->num_kv_heads, c->head_dim, c->block_size, c->num_seqs);
        esc(f, KVR_FIELD(c->desc));
        fputs("</td>", f);
        fputs("<td class=\"replay\">", f);
        kvr_html_replay(f, c);
        kvr_html_repro(f, c);
        fputs("</td>", f);
        fputs("</tr>\n", f);
    }
    fputs("</table></div>\n", f);
}

/* The page: what failed first, then the run, the plots and grids, the
 * worst ratios and the full (collapsed, capped) failure list. */
static int write_page(FILE *f, const kvc_run_report *r, const kvr_stats *s,
                      const kvr_failures *g)
{
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
               "<meta charset=\"utf-8\">\n<title>kvcheck report: %s"
               "</title>\n<style>%s%s</style>\n</head>\n<body>\n",
            kvr_status_word(r, s->failed), css, kvr_html_failures_css);
    kvr_html_banner(f, r, s);
    kvr_html_what_failed(f, r, s, g);
    fputs("<h2>The run</h2>\n", f);
    run_table(f, r, s);
    group_table(f, r, &s->modes, "Kernel modes", "modes", "mode");
    group_table(f, r, &s->formats, "KV cache formats", "formats",
                "KV format");
    claim_table(f, r);
    if (histograms(f, r, s) || coverage(f, r, s))
        return -1;
    kvr_html_flag_worst(f, r, g);
    worst_table(f, r, s);
    kvr_html_failure_list(f, r, s);
    fputs("</body>\n</html>\n", f);
    return ferror(f) ? -1 : 0;
}

int kvc_report_write_html(const kvc_run_report *r, FILE *f)
{
    kvr_locale loc;
    kvr_failures g;
    kvr_stats s;
    int rc = -1;

    if (!r || !f || kvr_c_locale_enter(&loc))
        return -1;
    if (kvr_stats_init(&s, r) == 0) {
        if (kvr_failures_init(&g, r) == 0) {
            rc = write_page(f, r, &s, &g);
            kvr_failures_free(&g);
        }
        kvr_stats_free(&s);
    }
    kvr_c_locale_leave(&loc);
    return rc;
}
