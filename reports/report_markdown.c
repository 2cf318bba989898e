/*
 * report_markdown.c — summary.md, the page a person reads in a CI log or a
 * pull request: PASSED/FAILED/INTERRUPTED title and exit status, what
 * failed (by verdict kind and by flag, the worst of each:
 * report_markdown_failures.c), the run, tables of the kernel modes and of
 * the KV cache formats, the failures (the first KVR_MD_MAX_FAILURES, each
 * with its flags, reproducer and replay command in a code block) and the
 * worst cases by error ratio.
 */
#include <inttypes.h>

#include "report.h"
#include "report_markdown.h"
#include "report_stats.h"
#include "report_text.h"

#define KVR_MD_MAX_FAILURES 50
#define KVR_MD_WORST 10

/* The title and the exit status: PASSED, FAILED or INTERRUPTED. */
static void banner(FILE *f, const kvc_run_report *r, const kvr_stats *s)
{
    int code = kvr_exit_status(r, s->failed), intr = kvr_interrupted(r);
    const char *word = kvr_status_word(r, s->failed);

    if (intr)
        fprintf(f, "# kvcheck: %s (%zu of %llu planned cases done, %zu "
                   "failed so far)\n\n", word, s->cases, kvr_planned(r),
                s->failed);
    else if (s->failed)
        fprintf(f, "# kvcheck: %s (%zu of %zu cases failed)\n\n", word,
                s->failed, s->cases);
    else if (s->cases)
        fprintf(f, "# kvcheck: %s (%zu cases)\n\n", word, s->cases);
    else
        fprintf(f, "# kvcheck: %s (no case checked)\n\n", word);
    if (intr)
        fputs("The run had not finished when this report was written.\n\n",
              f);
    fprintf(f, "%zu of %llu planned cases done. Exit status **%d**: %s%s."
               "\n\n", s->cases, kvr_planned(r), code, kvr_exit_meaning(code),
            intr ? " (so far; not final)" : "");
}

/* What the kernel declared and what this run therefore did not cover. */
static void claim_table(FILE *f, const kvc_run_report *r)
{
    const kvc_report_claim *c = r->claim;
    if (!c)
        return;
    fputs("## What the kernel claims (coverage)\n\n", f);
    fputs("- **arithmetic profile:** ", f);
    kvr_put_md_text(f, KVR_STR(c->profile), 0);
    fputs(", **lse:** ", f);
    kvr_put_md_text(f, KVR_STR(c->lse), 0);
    fputs(", **output:** ", f);
    kvr_put_md_text(f, KVR_STR(c->out_type), 0);
    fprintf(f, ", **threads per call:** %d\n", c->threads);
    if (c->not_covered)
        fprintf(f, "- **%llu case indices not covered** (no draw inside the "
                   "claim)\n", (unsigned long long)c->not_covered);
    fputs("\n| item | claimed | detail | cases run | draws outside the claim |\n"
          "|---|---|---|---:|---:|\n", f);
    for (size_t i = 0; i < c->num_rows; i++) {
        const kvc_claim_row *row = &c->rows[i];
        fputs("| ", f);
        kvr_put_md_text(f, row->item, sizeof row->item, 1);
        fprintf(f, " | %s | ", row->claimed ? "yes" : "**no: not covered**");
        kvr_put_md_text(f, row->detail, sizeof row->detail, 1);
        fprintf(f, " | %llu | %llu |\n", (unsigned long long)row->cases_run,
                (unsigned long long)row->draws_outside);
    }
    fputs("\n", f);
}

static void header(FILE *f, const kvc_run_report *r, const kvr_stats *s)
{
    char thr[KVR_NUM_LEN], secs[KVR_NUM_LEN];

    fputs("## The run\n\n", f);
    kvr_fmt_exact(thr, r->threshold);
    kvr_fmt_seconds(secs, r->seconds);
    fputs("- **kernel:** ", f);
    kvr_put_md_text(f, KVR_STR(r->kernel_name), 0);
    fprintf(f, "\n- **seed:** %" PRIu64 ", **shard:** %d/%d, "
               "**error-ratio threshold:** %s\n",
            r->seed, r->shard_index, r->shard_count, thr);
    fprintf(f, "- **cases:** %zu, **failed:** %zu, **with a numeric "
               "verdict:** %zu, **time:** %s s\n",
            s->cases, s->failed, s->verdicts, secs);
    char inv[96];
    kvr_invalid_summary(s, inv, sizeof inv);
    fprintf(f, "- **refusals:** %s\n", inv);
    kvr_stateful_summary(s, inv, sizeof inv);
    fprintf(f, "- **manager and policies:** %s\n", inv);
    fputs("- **state:** ", f);
    kvr_put_md_text(f, KVR_STR(kvr_state_name(r)), 0);
    fputs("\n- **started:** ", f);
    kvr_put_md_text(f, KVR_STR(r->started_utc), 0);
    fputs(", **tool:** ", f);
    kvr_put_md_text(f, KVR_STR(r->tool_version), 0);
    fputs("\n- **command:** ", f);
    kvr_put_md_code_span(f, KVR_STR(r->command), 0);
    fputs("\n\n", f);
}

/* A table of groups (modes, formats): "## title", one row per group. */
static void group_table(FILE *f, const kvc_run_report *r,
                        const kvr_grouping *g, const char *title,
                        const char *key_col)
{
    size_t m;

    fprintf(f, "## %s\n\n", title);
    if (g->n == 0) {
        fputs("No cases ran.\n\n", f);
        return;
    }
    fprintf(f, "| %s | cases | failed | with verdict | worst ratio | "
               "median ratio |\n|---|---:|---:|---:|---:|---:|\n", key_col);
    for (m = 0; m < g->n; m++) {
        const kvr_group *gr = &g->groups[m];
        char w[KVR_NUM_LEN], med[KVR_NUM_LEN];

        fputs("| ", f);
        kvr_put_md_text(f, KVR_STR(gr->name), 1);
        fprintf(f, " | %zu | %zu | %zu | ", gr->run, gr->failed,
                gr->verdicts);
        if (gr->worst != KVR_NONE) {
            kvr_fmt_short(w, r->records[gr->worst].ratio);
            kvr_fmt_short(med, gr->median);
            fprintf(f, "%s (case %" PRIu64 ") | %s |\n", w,
                    r->records[gr->worst].index, med);
        } else {
            fputs("– | – |\n", f);
        }
    }
    fputc('\n', f);
}

static void one_failure(FILE *f, const kvc_case_record *c)
{
    fprintf(f, "### case %" PRIu64 " (", c->index);
    kvr_put_md_text(f, KVR_STR(kvr_mode_name(c)), 0);
    fputs(", ", f);
    kvr_put_md_text(f, KVR_STR(kvr_format_name(c)), 0);
    fputs("): ", f);
    kvr_put_md_text(f, KVR_STR(kvr_outcome_name(c)), 0);
    fputs("\n\n", f);
    if (c->message[0]) {
        kvr_put_md_text(f, KVR_FIELD(c->message), 0);
        fputs("\n\n", f);
    }
    if (c->desc[0]) {
        fputs("Case: ", f);
        kvr_put_md_text(f, KVR_FIELD(c->desc), 0);
        fputs("\n\n", f);
    }
    fputs("Flags: ", f);
    kvr_md_flags(f, c, 0);
    fputs("\n\n", f);
    kvr_md_repro(f, c);
    if (c->has_verdict) {
        char e[KVR_NUM_LEN], a[KVR_NUM_LEN], q[KVR_NUM_LEN];
        kvr_fmt_short(e, c->err);
        kvr_fmt_short(a, c->allowed);
        kvr_fmt_short(q, c->ratio);
        fprintf(f, "Error %s, allowed %s, ratio **%s**.\n\n", e, a, q);
    }
    fputs("Replay:\n\n", f);
    kvr_put_md_code_block(f, KVR_FIELD(c->replay));
    fputc('\n', f);
}

static void failures(FILE *f, const kvc_run_report *r, const kvr_stats *s)
{
    size_t i, shown = 0;

    fprintf(f, "## Failures (%zu)\n\n", s->failed);
    if (s->failed == 0) {
        fputs("None.\n\n", f);
        return;
    }
    for (i = 0; i < r->num_records && shown < KVR_MD_MAX_FAILURES; i++)
        if (!r->records[i].passed) {
            one_failure(f, &r->records[i]);
            shown++;
        }
    if (s->failed > shown)
        fprintf(f, "… and %zu more failures: summary.json has them all (so "
                   "does junit.xml).\n\n", s->failed - shown);
}

static void worst(FILE *f, const kvc_run_report *r, const kvr_stats *s)
{
    size_t i, n = s->verdicts < KVR_MD_WORST ? s->verdicts : KVR_MD_WORST;

    fprintf(f, "## The %zu worst cases by error ratio\n\n", n);
    if (n == 0) {
        fputs("No case has a numeric verdict.\n", f);
        return;
    }
    fputs("| # | case | mode | KV format | outcome | ratio | replay |\n"
          "|---:|---:|---|---|---|---:|---|\n", f);
    for (i = 0; i < n; i++) {
        const kvc_case_record *c = &r->records[s->by_ratio[i]];
        char q[KVR_NUM_LEN];

        kvr_fmt_short(q, c->ratio);
        fprintf(f, "| %zu | %" PRIu64 " | ", i + 1, c->index);
        kvr_put_md_text(f, KVR_STR(kvr_mode_name(c)), 1);
        fputs(" | ", f);
        kvr_put_md_text(f, KVR_STR(kvr_format_name(c)), 1);
        fputs(" | ", f);
        kvr_put_md_text(f, KVR_STR(kvr_outcome_name(c)), 1);
        fprintf(f, " | %s | ", q);
        kvr_put_md_code_span(f, KVR_FIELD(c->replay), 1);
        fputs(" |\n", f);
    }
}

int kvc_report_write_markdown(const kvc_run_report *r, FILE *f)
{
    kvr_locale loc;
    kvr_failures g;
    kvr_stats s;
    int rc = -1;

    if (!r || !f || kvr_c_locale_enter(&loc))
        return -1;
    if (kvr_stats_init(&s, r) == 0) {
        if (kvr_failures_init(&g, r) == 0) {
            banner(f, r, &s);
            kvr_md_what_failed(f, r, &s, &g);
            header(f, r, &s);
            group_table(f, r, &s.modes, "Kernel modes", "mode");
            group_table(f, r, &s.formats, "KV cache formats", "KV format");
            claim_table(f, r);
            kvr_md_flag_worst(f, r, &g);
            failures(f, r, &s);
            worst(f, r, &s);
            kvr_failures_free(&g);
            rc = ferror(f) ? -1 : 0;
        }
        kvr_stats_free(&s);
    }
    kvr_c_locale_leave(&loc);
    return rc;
}
