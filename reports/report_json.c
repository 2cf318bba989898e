/*
 * report_json.c — summary.json: the run's header, its counts and every case,
 * for machines (dashboards, the next tool in a pipeline).
 *
 * Numbers. cJSON prints doubles with %1.15g (not exact: about one double in
 * seven comes back one ulp off, DBL_MAX as inf) and non-finite values as
 * null. So every double here is written by kvr_fmt_exact (the shortest of
 * %.15g/%.16g/%.17g that strtod reads back to the same double) and inserted
 * with cJSON_CreateRaw; a non-finite double is the STRING "inf", "-inf" or
 * "nan" instead of a number. 64-bit integers (seed, case index) are raw
 * decimal integers, exact in the text (a reader that parses every number as
 * a double, cJSON included, rounds those above 2^53).
 *
 * Layout:
 *   { "format": "kvcheck-summary", "format_version": 1,
 *     "tool_version", "command", "kernel", "seed", "shard": "i/n",
 *     "threshold", "seconds", "started_utc",
 *     "state": "complete" | "interrupted", "cases_planned", "exit_status",
 *     "counts": { "cases", "failed", "verdicts", "invalid_variants",
 *                 "invalid_failed" (invalid variants run, and failed),
 *                 "stateful_sequences", "stateful_failed" (manager and
 *                 policy sequences run, and failed),
 *                 "modes": { "<mode>": GROUP, ... },
 *                 "formats": { "<kv format>": GROUP, ... },
 *                 "worst_ratio", "worst_index",    (null when no verdict)
 *                 "failures_by_kind": { "<outcome>": n, ... },
 *                 "failures_by_flag": { "<flag>": { "cases", "failed" },
 *                                       ... } },  (most failures first)
 *     "cases": [ { "index", "mode", "kv_format", "outcome", "passed",
 *                  "ratio", "ratio_fp32", "err", "allowed",
 *                                                    (only with a verdict;
 *                  ratio in the kernel's profile, ratio_fp32 the same
 *                  outputs under the fp32 model)
 *                  "num_seqs", "num_q_heads", "num_kv_heads", "head_dim",
 *                  "block_size", "total_q_tokens", "max_kv_len",
 *                  "flags": [..], "desc", "message", "replay",
 *                  "repro",      (the reproducer file, relative to the
 *                                 report directory; null when none)
 *                  "seconds" }, ... ] }
 * GROUP is { "run", "failed", "verdicts", "worst_ratio", "worst_index",
 * "median_ratio" } (the last three null when the group has no verdict);
 * "kv_format" and the "formats" keys are the KV cache format ("f32",
 * "fp8_e4m3/token", "nvfp4/group", ...; "unknown" when the record has none).
 * Strings are cleaned to valid UTF-8 (invalid bytes become U+FFFD); a NULL
 * header string is null. "exit_status" and "cases_planned" are as
 * report_groups.h reads them (a caller that left them 0 gets the value
 * its records imply).
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "report_groups.h"
#include "report_stats.h"
#include "report_text.h"

/* Add item under key; item NULL (a failed create) or a failed add is -1. */
static int add(cJSON *obj, const char *key, cJSON *item)
{
    if (!item)
        return -1;
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

static cJSON *exact_number(double v)
{
    char buf[KVR_NUM_LEN];

    kvr_fmt_exact(buf, v);
    return isfinite(v) ? cJSON_CreateRaw(buf) : cJSON_CreateString(buf);
}

static cJSON *u64_number(uint64_t v)
{
    char buf[32];

    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cJSON_CreateRaw(buf);
}

/* A string from at most n bytes of s (NULL s: JSON null). */
static cJSON *text(const char *s, size_t n)
{
    cJSON *item;
    char *clean;

    if (!s)
        return cJSON_CreateNull();
    clean = kvr_utf8_clean(s, n);
    if (!clean)
        return NULL;
    item = cJSON_CreateString(clean);
    free(clean);
    return item;
}

/* The space-separated flag names as an array of strings. */
static cJSON *flag_array(const char *flags, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    size_t at = 0, start, len;

    if (!arr)
        return NULL;
    while (kvr_flag_next(flags, n, &at, &start, &len)) {
        cJSON *item = text(flags + start, len);
        if (!item || !cJSON_AddItemToArray(arr, item)) {
            cJSON_Delete(item);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

static cJSON *case_object(const kvc_case_record *c)
{
    cJSON *o = cJSON_CreateObject();
    int bad = 0;

    if (!o)
        return NULL;
    bad |= add(o, "index", u64_number(c->index));
    bad |= add(o, "mode", text(KVR_STR(c->mode)));
    bad |= add(o, "kv_format", text(KVR_STR(kvr_format_name(c))));
    bad |= add(o, "outcome", text(KVR_STR(c->outcome)));
    bad |= add(o, "passed", cJSON_CreateBool(c->passed != 0));
    if (c->has_verdict) {
        bad |= add(o, "ratio", exact_number(c->ratio));
        bad |= add(o, "ratio_fp32", exact_number(c->ratio_fp32));
        bad |= add(o, "err", exact_number(c->err));
        bad |= add(o, "allowed", exact_number(c->allowed));
    }
    bad |= add(o, "num_seqs", cJSON_CreateNumber(c->num_seqs));
    bad |= add(o, "num_q_heads", cJSON_CreateNumber(c->num_q_heads));
    bad |= add(o, "num_kv_heads", cJSON_CreateNumber(c->num_kv_heads));
    bad |= add(o, "head_dim", cJSON_CreateNumber(c->head_dim));
    bad |= add(o, "block_size", cJSON_CreateNumber(c->block_size));
    bad |= add(o, "total_q_tokens", cJSON_CreateNumber(c->total_q_tokens));
    bad |= add(o, "max_kv_len", cJSON_CreateNumber(c->max_kv_len));
    bad |= add(o, "flags", flag_array(c->flags, sizeof c->flags));
    if (c->invalid_rule[0] != '\0')
        bad |= add(o, "invalid_rule", text(KVR_FIELD(c->invalid_rule)));
    if (c->stateful[0] != '\0')
        bad |= add(o, "stateful", text(KVR_FIELD(c->stateful)));
    bad |= add(o, "desc", text(KVR_FIELD(c->desc)));
    bad |= add(o, "message", text(KVR_FIELD(c->message)));
    bad |= add(o, "replay", text(KVR_FIELD(c->replay)));
    bad |= add(o, "repro", c->repro[0] ? text(KVR_FIELD(c->repro))
                                       : cJSON_CreateNull());
    bad |= add(o, "seconds", exact_number(c->seconds));
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* One group's numbers: { "run", "failed", "verdicts", "worst_ratio",
 * "worst_index", "median_ratio" } (the last three null without a verdict). */
static cJSON *group_object(const kvc_run_report *r, const kvr_group *g)
{
    cJSON *o = cJSON_CreateObject();
    int bad = 0;

    if (!o)
        return NULL;
    bad |= add(o, "run", cJSON_CreateNumber((double)g->run));
    bad |= add(o, "failed", cJSON_CreateNumber((double)g->failed));
    bad |= add(o, "verdicts", cJSON_CreateNumber((double)g->verdicts));
    if (g->worst != KVR_NONE) {
        bad |= add(o, "worst_ratio", exact_number(r->records[g->worst].ratio));
        bad |= add(o, "worst_index", u64_number(r->records[g->worst].index));
        bad |= add(o, "median_ratio", exact_number(g->median));
    } else {
        bad |= add(o, "worst_ratio", cJSON_CreateNull());
        bad |= add(o, "worst_index", cJSON_CreateNull());
        bad |= add(o, "median_ratio", cJSON_CreateNull());
    }
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* { "<name>": group_object, ... } in the grouping's (sorted) order. */
static cJSON *grouping_object(const kvc_run_report *r, const kvr_grouping *g)
{
    cJSON *o = cJSON_CreateObject();
    size_t m;
    int bad = 0;

    if (!o)
        return NULL;
    for (m = 0; m < g->n && !bad; m++) {
        char *name = kvr_utf8_clean(KVR_STR(g->groups[m].name));
        cJSON *go = group_object(r, &g->groups[m]);

        if (name)
            bad |= add(o, name, go);
        else {
            cJSON_Delete(go);
            bad = 1;
        }
        free(name);
    }
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* A flag's { "cases", "failed" }. */
static cJSON *flag_counts(const kvr_fail_group *g)
{
    cJSON *o = cJSON_CreateObject();
    int bad = 0;

    if (!o)
        return NULL;
    bad |= add(o, "cases", cJSON_CreateNumber((double)g->run));
    bad |= add(o, "failed", cJSON_CreateNumber((double)g->failed));
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* { "<kind>": failures, ... } or { "<flag>": flag_counts, ... } in the
 * groups' order (most failures first). */
static cJSON *failure_groups(const kvr_fail_group *g, size_t n, int flags)
{
    cJSON *o = cJSON_CreateObject();
    size_t i;
    int bad = !o;

    for (i = 0; i < n && !bad; i++) {
        char *name = kvr_utf8_clean(KVR_STR(g[i].name));
        cJSON *v = flags ? flag_counts(&g[i])
                         : cJSON_CreateNumber((double)g[i].failed);

        if (name)
            bad |= add(o, name, v);
        else {
            cJSON_Delete(v);
            bad = 1;
        }
        free(name);
    }
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* counts.failures_by_kind and counts.failures_by_flag. */
static int add_failure_groups(cJSON *o, const kvc_run_report *r)
{
    kvr_failures g;
    int bad = 0;

    if (kvr_failures_init(&g, r))
        return -1;
    bad |= add(o, "failures_by_kind", failure_groups(g.kinds, g.nkinds, 0));
    bad |= add(o, "failures_by_flag", failure_groups(g.flags, g.nflags, 1));
    kvr_failures_free(&g);
    return bad;
}

static cJSON *counts_object(const kvc_run_report *r, const kvr_stats *s)
{
    cJSON *o = cJSON_CreateObject();
    int bad = 0;

    if (!o)
        return NULL;
    bad |= add(o, "cases", cJSON_CreateNumber((double)s->cases));
    bad |= add(o, "failed", cJSON_CreateNumber((double)s->failed));
    bad |= add(o, "verdicts", cJSON_CreateNumber((double)s->verdicts));
    bad |= add(o, "invalid_variants", cJSON_CreateNumber((double)s->invalid));
    bad |= add(o, "invalid_failed",
               cJSON_CreateNumber((double)s->invalid_failed));
    bad |= add(o, "stateful_sequences", cJSON_CreateNumber((double)s->stateful));
    bad |= add(o, "stateful_failed",
               cJSON_CreateNumber((double)s->stateful_failed));
    bad |= add(o, "modes", grouping_object(r, &s->modes));
    bad |= add(o, "formats", grouping_object(r, &s->formats));
    if (s->worst != KVR_NONE) {
        const kvc_case_record *w = &r->records[s->worst];
        bad |= add(o, "worst_ratio", exact_number(w->ratio));
        bad |= add(o, "worst_index", u64_number(w->index));
    } else {
        bad |= add(o, "worst_ratio", cJSON_CreateNull());
        bad |= add(o, "worst_index", cJSON_CreateNull());
    }
    bad |= add_failure_groups(o, r);
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* The kernel's claim and what it left uncovered (null: not given). */
static cJSON *claim_object(const kvc_run_report *r)
{
    const kvc_report_claim *c = r->claim;
    if (!c)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject(), *rows = cJSON_CreateArray();
    int bad = !o || !rows;
    if (bad) {
        cJSON_Delete(o);
        cJSON_Delete(rows);
        return NULL;
    }
    bad |= add(o, "profile", text(KVR_STR(c->profile)));
    bad |= add(o, "lse", text(KVR_STR(c->lse)));
    bad |= add(o, "out_type", text(KVR_STR(c->out_type)));
    bad |= add(o, "threads", cJSON_CreateNumber(c->threads));
    bad |= add(o, "not_covered_cases", u64_number(c->not_covered));
    for (size_t i = 0; i < c->num_rows && !bad; i++) {
        const kvc_claim_row *row = &c->rows[i];
        cJSON *e = cJSON_CreateObject();
        if (!e || !cJSON_AddItemToArray(rows, e)) {
            cJSON_Delete(e);
            bad = 1;
            break;
        }
        bad |= add(e, "item", text(row->item, sizeof row->item));
        bad |= add(e, "claimed", cJSON_CreateBool(row->claimed));
        bad |= add(e, "detail", text(row->detail, sizeof row->detail));
        bad |= add(e, "cases_run", u64_number(row->cases_run));
        bad |= add(e, "draws_outside", u64_number(row->draws_outside));
    }
    bad |= add(o, "items", rows);
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Everything but the cases. */
static cJSON *build_header(const kvc_run_report *r, const kvr_stats *s)
{
    cJSON *root = cJSON_CreateObject();
    char shard[64];
    int bad = 0;

    if (!root)
        return NULL;
    snprintf(shard, sizeof shard, "%d/%d", r->shard_index, r->shard_count);
    bad |= add(root, "format", cJSON_CreateString("kvcheck-summary"));
    bad |= add(root, "format_version", cJSON_CreateNumber(1));
    bad |= add(root, "tool_version", text(KVR_STR(r->tool_version)));
    bad |= add(root, "command", text(KVR_STR(r->command)));
    bad |= add(root, "kernel", text(KVR_STR(r->kernel_name)));
    bad |= add(root, "seed", u64_number(r->seed));
    bad |= add(root, "shard", cJSON_CreateString(shard));
    bad |= add(root, "threshold", exact_number(r->threshold));
    bad |= add(root, "seconds", exact_number(r->seconds));
    bad |= add(root, "started_utc", text(KVR_STR(r->started_utc)));
    bad |= add(root, "state", text(KVR_STR(kvr_state_name(r))));
    bad |= add(root, "cases_planned", u64_number(kvr_planned(r)));
    bad |= add(root, "exit_status",
               cJSON_CreateNumber(kvr_exit_status(r, s->failed)));
    bad |= add(root, "counts", counts_object(r, s));
    bad |= add(root, "claim", claim_object(r));
    if (bad) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* Print item formatted, every line break followed by indent. */
static int put_indented(FILE *f, const cJSON *item, const char *indent)
{
    char *out = cJSON_Print(item), *p;

    if (!out)
        return -1;
    for (p = out; *p; p++) { /* strings escape their newlines: only layout */
        fputc(*p, f);
        if (*p == '\n')
            fputs(indent, f);
    }
    cJSON_free(out);
    return 0;
}

/* The header through cJSON, then one case at a time (memory stays at one
 * case's tree however long the run), in cJSON's own formatted layout. */
static int write_all(const kvc_run_report *r, const kvr_stats *s, FILE *f)
{
    cJSON *head = build_header(r, s);
    char *out;
    size_t len, i;

    if (!head)
        return -1;
    out = cJSON_Print(head);
    cJSON_Delete(head);
    if (!out)
        return -1;
    len = strlen(out); /* ends "\n}": reopen the object for "cases" */
    if (len < 2 || out[len - 1] != '}') {
        cJSON_free(out);
        return -1;
    }
    fwrite(out, 1, len - 2, f);
    cJSON_free(out);
    fputs(",\n\t\"cases\":\t[", f);
    for (i = 0; i < r->num_records; i++) {
        cJSON *c = case_object(&r->records[i]);
        int rc;

        if (!c)
            return -1;
        if (i)
            fputs(", ", f);
        rc = put_indented(f, c, "\t\t");
        cJSON_Delete(c);
        if (rc)
            return -1;
    }
    fputs("]\n}\n", f);
    return 0;
}

int kvc_report_write_json(const kvc_run_report *r, FILE *f)
{
    kvr_locale loc;
    kvr_stats s;
    int rc = -1;

    if (!r || !f || kvr_c_locale_enter(&loc))
        return -1;
    if (kvr_stats_init(&s, r) == 0) {
        rc = write_all(r, &s, f);
        kvr_stats_free(&s);
        if (rc == 0 && ferror(f))
            rc = -1;
    }
    kvr_c_locale_leave(&loc);
    return rc;
}
