/*
 * report_html_failures.c — what index.html shows first, so the first
 * screen of a failing run says what failed and how to replay it: the
 * status banner, the failures grouped by verdict kind and by flag with the
 * worst few of each kind as cards (message, flags, replay command,
 * reproducer link); further down, after the plots (there are dozens of
 * flags, their cards would push everything else off the page), the worst
 * of each flag as cards, and the whole failure list collapsed and capped.
 *
 * A case that is among the worst of several groups gets one card (id
 * "case-<index>"); the count tables link to the cards.
 */
#include <inttypes.h>
#include <string.h>

#include "report_html.h"
#include "report_text.h"

const char kvr_html_failures_css[] =
    ".banner{border-radius:6px;padding:12px 18px;margin:0 0 16px;"
    "border:2px solid}.banner h1{margin:0 0 6px}"
    ".banner.passed{background:#e9f6ec;border-color:#1a7f37}"
    ".banner.failed{background:#fdecea;border-color:#c62828}"
    ".banner.interrupted{background:#fff4e0;border-color:#b26a00}"
    ".banner p{margin:4px 0;font-size:15px}"
    ".case{border:1px solid #d0d0d0;border-left:4px solid #c62828;"
    "padding:6px 10px;margin:8px 0;font-size:13px}"
    ".case .msg{font-weight:600;margin:4px 0;overflow-wrap:anywhere}"
    ".case .desc,.case .worstof{color:#555}"
    ".flag{display:inline-block;background:#eef;border-radius:3px;"
    "padding:0 4px;margin:1px 2px;font-size:12px}"
    "pre.replay{margin:4px 0;padding:4px 6px;background:#f6f6f6;"
    "white-space:pre-wrap;overflow-wrap:anywhere}"
    "details summary{cursor:pointer;font-size:18px;font-weight:600}";

void kvr_html_esc(FILE *f, const char *s, size_t n)
{
    kvr_put_xml(f, s, n, KVR_ESC_HTML);
}

void kvr_html_replay(FILE *f, const kvc_case_record *c)
{
    fputs("<pre class=\"replay\"><code>", f);
    kvr_html_esc(f, KVR_FIELD(c->replay));
    fputs("</code></pre>", f);
}

void kvr_html_repro(FILE *f, const kvc_case_record *c)
{
    if (!c->repro[0])
        return;
    fputs("<div class=\"repro\">reproducer: <a href=\"", f);
    kvr_put_url_path(f, KVR_FIELD(c->repro));
    fputs("\">", f);
    kvr_html_esc(f, KVR_FIELD(c->repro));
    fputs("</a></div>", f);
}

void kvr_html_flags(FILE *f, const kvc_case_record *c)
{
    size_t at = 0, start, len;
    int any = 0;

    while (kvr_flag_next(c->flags, sizeof c->flags, &at, &start, &len)) {
        fputs("<span class=\"flag\">", f);
        kvr_html_esc(f, c->flags + start, len);
        fputs("</span>", f);
        any = 1;
    }
    if (!any)
        fputs("none", f);
}

void kvr_html_banner(FILE *f, const kvc_run_report *r, const kvr_stats *s)
{
    const char *word = kvr_status_word(r, s->failed);
    int code = kvr_exit_status(r, s->failed), intr = kvr_interrupted(r);
    char cls[16];
    size_t i;

    for (i = 0; word[i] && i + 1 < sizeof cls; i++) /* class: lower case */
        cls[i] = (char)(word[i] | 0x20);
    cls[i] = '\0';
    fprintf(f, "<div class=\"banner %s\">\n<h1>kvcheck: %s</h1>\n", cls, word);
    if (intr)
        fprintf(f, "<p><b>%zu of %llu planned cases done</b>, %zu failed so "
                   "far: the run had not finished when this report was "
                   "written.</p>\n", s->cases, kvr_planned(r), s->failed);
    else
        fprintf(f, "<p><b>%zu of %zu cases failed</b> (%zu of %llu planned "
                   "cases done).</p>\n", s->failed, s->cases, s->cases,
                kvr_planned(r));
    fprintf(f, "<p>Exit status <b>%d</b>: %s%s.</p>\n</div>\n", code,
            kvr_exit_meaning(code), intr ? " (so far; not final)" : "");
}

/* "case N (ratio Q)" links to the cards of a group's worst. */
static void worst_links(FILE *f, const kvc_run_report *r,
                        const kvr_fail_group *g)
{
    size_t k;

    for (k = 0; k < g->nworst; k++) {
        const kvc_case_record *c = &r->records[g->worst[k]];
        char q[KVR_NUM_LEN];

        fprintf(f, "%s<a href=\"#case-%" PRIu64 "\">case %" PRIu64 "</a>",
                k ? ", " : "", c->index, c->index);
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

    fprintf(f, "<table class=\"%s\">\n<tr><th>%s</th><th>failures</th>%s"
               "<th>worst</th></tr>\n", flags ? "by-flag" : "by-kind",
            flags ? "flag" : "verdict kind",
            flags ? "<th>cases with it</th><th>of which failed</th>" : "");
    for (i = 0; i < n; i++) {
        fputs("<tr><td>", f);
        kvr_html_esc(f, KVR_STR(g[i].name));
        fprintf(f, "</td><td class=\"num\">%zu</td>", g[i].failed);
        if (flags)
            fprintf(f, "<td class=\"num\">%zu</td><td class=\"num\">%.0f%%"
                       "</td>", g[i].run, 100.0 * (double)g[i].failed /
                                          (double)g[i].run);
        fputs("<td>", f);
        worst_links(f, r, &g[i]);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* One failure as a card; list_flags: name the flags it is among the worst
 * of (the kinds' cards come under their kind's heading already). */
static void card(FILE *f, const kvc_run_report *r, size_t pos,
                 const kvr_failures *g, int list_flags)
{
    const kvc_case_record *c = &r->records[pos];
    size_t j, k, n = 0;

    fprintf(f, "<div class=\"case\" id=\"case-%" PRIu64 "\">\n<div><b>case %"
               PRIu64 "</b> &middot; ", c->index, c->index);
    kvr_html_esc(f, KVR_STR(kvr_outcome_name(c)));
    if (c->has_verdict) {
        char q[KVR_NUM_LEN], e[KVR_NUM_LEN], a[KVR_NUM_LEN];
        kvr_fmt_short(q, c->ratio);
        kvr_fmt_short(e, c->err);
        kvr_fmt_short(a, c->allowed);
        fprintf(f, " &middot; ratio <b>%s</b> (error %s, allowed %s)", q, e,
                a);
        if (c->ratio_fp32 != c->ratio) {
            kvr_fmt_short(q, c->ratio_fp32);
            fprintf(f, ", under fp32 %s", q);
        }
    }
    fputs(" &middot; ", f);
    kvr_html_esc(f, KVR_STR(kvr_mode_name(c)));
    fputs(" &middot; ", f);
    kvr_html_esc(f, KVR_STR(kvr_format_name(c)));
    fputs("</div>\n<div class=\"msg\">", f);
    kvr_html_esc(f, KVR_FIELD(c->message));
    fputs("</div>\n<div class=\"desc\">", f);
    kvr_html_esc(f, KVR_FIELD(c->desc));
    fputs("</div>\n<div>flags: ", f);
    kvr_html_flags(f, c);
    fputs("</div>\n", f);
    for (j = 0; list_flags && j < g->nflags; j++)
        for (k = 0; k < g->flags[j].nworst; k++)
            if (g->flags[j].worst[k] == pos) {
                fputs(n++ ? ", " : "<div class=\"worstof\">among the worst "
                                   "of flag: ", f);
                kvr_html_esc(f, KVR_STR(g->flags[j].name));
            }
    if (n)
        fputs("</div>\n", f);
    kvr_html_replay(f, c);
    fputc('\n', f);
    kvr_html_repro(f, c);
    fputs("</div>\n", f);
}

/* "paged 179 of 683, qeff 177 of 665": the groups with failures. */
static void failing_groups(FILE *f, const kvr_grouping *gr)
{
    size_t m, n = 0;

    for (m = 0; m < gr->n; m++)
        if (gr->groups[m].failed) {
            fputs(n++ ? ", " : "", f);
            kvr_html_esc(f, KVR_STR(gr->groups[m].name));
            fprintf(f, " %zu of %zu", gr->groups[m].failed,
                    gr->groups[m].run);
        }
}

void kvr_html_what_failed(FILE *f, const kvc_run_report *r,
                          const kvr_stats *s, const kvr_failures *g)
{
    size_t j, k;

    if (g->failed == 0)
        return;
    fputs("<h2>What failed</h2>\n<p>Failures by kernel mode: ", f);
    failing_groups(f, &s->modes);
    fputs("; by KV cache format: ", f);
    failing_groups(f, &s->formats);
    fputs(".</p>\n", f);
    count_table(f, r, g->kinds, g->nkinds, 0);
    for (j = 0; j < g->nkinds; j++) {
        const kvr_fail_group *kg = &g->kinds[j];
        fputs("<h3>", f);
        kvr_html_esc(f, KVR_STR(kg->name));
        fprintf(f, ": %zu failure%s, the worst %zu</h3>\n", kg->failed,
                kg->failed == 1 ? "" : "s", kg->nworst);
        for (k = 0; k < kg->nworst; k++)
            card(f, r, kg->worst[k], g, 0);
    }
    if (g->nflags == 0)
        return;
    fprintf(f, "<h2>Failures by flag</h2>\n<p class=\"note\">A failure "
               "counts under every flag its case has. %.0f%% of all cases "
               "failed: a flag whose share is far above that points at the "
               "bug. The worst of each flag not shown above are further "
               "down, after the plots.</p>\n",
            100.0 * (double)g->failed / (double)r->num_records);
    count_table(f, r, g->flags, g->nflags, 1);
}

void kvr_html_flag_worst(FILE *f, const kvc_run_report *r,
                         const kvr_failures *g)
{
    size_t j, k, extra = 0;

    for (j = 0; j < g->nflags; j++)
        for (k = 0; k < g->flags[j].nworst; k++) {
            size_t pos = g->flags[j].worst[k];
            if (kvr_worst_shown(g, pos, j, k))
                continue;
            if (extra++ == 0)
                fputs("<h2>The worst of each flag</h2>\n<p class=\"note\">"
                      "Those not shown under their verdict kind at the "
                      "top.</p>\n", f);
            card(f, r, pos, g, 1);
        }
}

static void list_row(FILE *f, const kvc_case_record *c)
{
    char q[KVR_NUM_LEN] = "\xe2\x80\x93";

    if (c->has_verdict)
        kvr_fmt_short(q, c->ratio);
    fprintf(f, "<tr><td class=\"num\">%" PRIu64 "</td><td>", c->index);
    kvr_html_esc(f, KVR_STR(kvr_outcome_name(c)));
    fprintf(f, "</td><td class=\"num\">%s</td><td>", q);
    kvr_html_esc(f, KVR_STR(kvr_mode_name(c)));
    fputs(" &middot; ", f);
    kvr_html_esc(f, KVR_STR(kvr_format_name(c)));
    fputs("</td><td class=\"msg\">", f);
    kvr_html_esc(f, KVR_FIELD(c->message));
    fputs("</td><td>", f);
    kvr_html_flags(f, c);
    fputs("</td><td class=\"replay\">", f);
    kvr_html_replay(f, c);
    kvr_html_repro(f, c);
    fputs("</td></tr>\n", f);
}

void kvr_html_failure_list(FILE *f, const kvc_run_report *r,
                           const kvr_stats *s)
{
    size_t i, shown = 0;

    fprintf(f, "<h2>All failures (%zu)</h2>\n", s->failed);
    if (s->failed == 0) {
        fputs("<p>None.</p>\n", f);
        return;
    }
    fputs("<details>\n<summary>Show the failures in case order", f);
    if (s->failed > KVR_HTML_MAX_FAILURES)
        fprintf(f, " (the first %d)", KVR_HTML_MAX_FAILURES);
    fputs("</summary>\n<table class=\"failures\">\n<tr><th>case</th>"
               "<th>kind</th><th>ratio</th><th>mode &middot; KV format</th>"
               "<th>message</th><th>flags</th><th>replay</th></tr>\n", f);
    for (i = 0; i < r->num_records && shown < KVR_HTML_MAX_FAILURES; i++)
        if (!r->records[i].passed) {
            list_row(f, &r->records[i]);
            shown++;
        }
    fputs("</table>\n</details>\n", f);
    if (s->failed > shown)
        fprintf(f, "<p class=\"note\">&hellip; and %zu more failures not "
                   "listed here: summary.json has them all (so does "
                   "junit.xml).</p>\n", s->failed - shown);
}
