/*
 * report_markdown_failures.c — the part of summary.md that comes first
 * when a run failed: the failures by verdict kind and by flag, with the
 * worst few of each (message, flags, reproducer link, replay command in a
 * code block). Each worst failure is shown once: under its kind at the
 * top, or under "the worst of each flag" (after the run's tables: dozens
 * of flags would bury them) when no kind showed it.
 */
#include <inttypes.h>

#include "report_markdown.h"
#include "report_text.h"

void kvr_md_flags(FILE *f, const kvc_case_record *c, int in_table)
{
    size_t at = 0, start, len;
    int any = 0;

    while (kvr_flag_next(c->flags, sizeof c->flags, &at, &start, &len)) {
        if (any++)
            fputc(' ', f);
        kvr_put_md_code_span(f, c->flags + start, len, in_table);
    }
    if (!any)
        fputs("none", f);
}

void kvr_md_repro(FILE *f, const kvc_case_record *c)
{
    if (!c->repro[0])
        return;
    fputs("Reproducer: [", f);
    kvr_put_md_text(f, KVR_FIELD(c->repro), 0);
    fputs("](", f);
    kvr_put_url_path(f, KVR_FIELD(c->repro));
    fputs(")\n\n", f);
}

static void worst_cells(FILE *f, const kvc_run_report *r,
                        const kvr_fail_group *g)
{
    size_t k;

    for (k = 0; k < g->nworst; k++) {
        const kvc_case_record *c = &r->records[g->worst[k]];
        char q[KVR_NUM_LEN];

        fprintf(f, "%scase %" PRIu64, k ? ", " : "", c->index);
        if (c->has_verdict) {
            kvr_fmt_short(q, c->ratio);
            fprintf(f, " (ratio %s)", q);
        }
    }
}

static void count_table(FILE *f, const kvc_run_report *r,
                        const kvr_fail_group *g, size_t n, int flags)
{
    size_t i;

    if (flags)
        fputs("| flag | failures | cases with it | of which failed | worst |"
              "\n|---|---:|---:|---:|---|\n", f);
    else
        fputs("| verdict kind | failures | worst |\n|---|---:|---|\n", f);
    for (i = 0; i < n; i++) {
        fputs("| ", f);
        kvr_put_md_text(f, KVR_STR(g[i].name), 1);
        fprintf(f, " | %zu | ", g[i].failed);
        if (flags)
            fprintf(f, "%zu | %.0f%% | ", g[i].run,
                    100.0 * (double)g[i].failed / (double)g[i].run);
        worst_cells(f, r, &g[i]);
        fputs(" |\n", f);
    }
    fputc('\n', f);
}

/* One worst failure: a heading line, message, where, flags, reproducer,
 * replay. */
static void card(FILE *f, const kvc_case_record *c)
{
    fprintf(f, "#### case %" PRIu64 ": ", c->index);
    kvr_put_md_text(f, KVR_STR(kvr_outcome_name(c)), 0);
    if (c->has_verdict) {
        char q[KVR_NUM_LEN], e[KVR_NUM_LEN], a[KVR_NUM_LEN];
        kvr_fmt_short(q, c->ratio);
        kvr_fmt_short(e, c->err);
        kvr_fmt_short(a, c->allowed);
        fprintf(f, ", ratio %s (error %s, allowed %s)", q, e, a);
        if (c->ratio_fp32 != c->ratio) {
            kvr_fmt_short(q, c->ratio_fp32);
            fprintf(f, ", under fp32 %s", q);
        }
    }
    fputs("\n\n", f);
    if (c->message[0]) {
        kvr_put_md_text(f, KVR_FIELD(c->message), 0);
        fputs("\n\n", f);
    }
    kvr_put_md_text(f, KVR_STR(kvr_mode_name(c)), 0);
    fputs(", ", f);
    kvr_put_md_text(f, KVR_STR(kvr_format_name(c)), 0);
    if (c->desc[0]) {
        fputs(": ", f);
        kvr_put_md_text(f, KVR_FIELD(c->desc), 0);
    }
    fputs("\n\nFlags: ", f);
    kvr_md_flags(f, c, 0);
    fputs("\n\n", f);
    kvr_md_repro(f, c);
    kvr_put_md_code_block(f, KVR_FIELD(c->replay));
    fputc('\n', f);
}

/* "paged 179 of 683, qeff 177 of 665": the groups with failures. */
static void failing_groups(FILE *f, const kvr_grouping *gr)
{
    size_t m, n = 0;

    for (m = 0; m < gr->n; m++)
        if (gr->groups[m].failed) {
            fputs(n++ ? ", " : "", f);
            kvr_put_md_text(f, KVR_STR(gr->groups[m].name), 0);
            fprintf(f, " %zu of %zu", gr->groups[m].failed,
                    gr->groups[m].run);
        }
}

void kvr_md_what_failed(FILE *f, const kvc_run_report *r, const kvr_stats *s,
                        const kvr_failures *g)
{
    size_t j, k;

    if (g->failed == 0)
        return;
    fputs("## What failed\n\nFailures by kernel mode: ", f);
    failing_groups(f, &s->modes);
    fputs("; by KV cache format: ", f);
    failing_groups(f, &s->formats);
    fputs(".\n\n", f);
    count_table(f, r, g->kinds, g->nkinds, 0);
    for (j = 0; j < g->nkinds; j++) {
        fputs("### ", f);
        kvr_put_md_text(f, KVR_STR(g->kinds[j].name), 0);
        fprintf(f, ": %zu failure%s, the worst %zu\n\n", g->kinds[j].failed,
                g->kinds[j].failed == 1 ? "" : "s", g->kinds[j].nworst);
        for (k = 0; k < g->kinds[j].nworst; k++)
            card(f, &r->records[g->kinds[j].worst[k]]);
    }
    if (g->nflags == 0)
        return;
    fprintf(f, "## Failures by flag\n\nA failure counts under every flag "
               "its case has. %.0f%% of all cases failed: a flag whose share "
               "is far above that points at the bug.\n\n",
            100.0 * (double)g->failed / (double)r->num_records);
    count_table(f, r, g->flags, g->nflags, 1);
}

void kvr_md_flag_worst(FILE *f, const kvc_run_report *r,
                       const kvr_failures *g)
{
    size_t j, k, extra = 0;

    for (j = 0; j < g->nflags; j++)
        for (k = 0; k < g->flags[j].nworst; k++) {
            if (kvr_worst_shown(g, g->flags[j].worst[k], j, k))
                continue;
            if (extra++ == 0)
                fputs("## The worst of each flag\n\nThose not shown under "
                      "their verdict kind at the top.\n\n", f);
            card(f, &r->records[g->flags[j].worst[k]]);
        }
}
