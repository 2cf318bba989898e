/*
 * report_junit.c — junit.xml for CI systems, in the common JUnit XML shape
 * (Jenkins/Ant junit-10.xsd):
 *
 *   <testsuites name tests failures errors time>
 *     <testsuite name="kvcheck.<mode>" tests failures errors="0" skipped="0"
 *                time timestamp>           one per kernel mode, sorted
 *       <properties> seed, kernel, shard, threshold, command, tool_version,
 *                    state, cases_planned, exit_status,
 *                    invalid_variants ("N invalid variants, all refused
 *                    correctly"; an invalid variant's testcase name ends
 *                    ", invalid <rule>)")
 *       <testcase classname="kvcheck.<mode>" name="case <index> (<format>)"
 *                 time>                    format: the KV cache format
 *                                          ("f32", "nvfp4/group", ...)
 *         <failure message="<outcome>: <message>" type="<outcome>">
 *           desc, error/allowed/ratio, flags, reproducer file (when one
 *           was written), replay command
 *
 * The schema has no properties on a testcase, so the format goes in the
 * name (a CI page shows it next to the case; a search for "nvfp4/" finds
 * that format's cases).
 * A suite's time is the sum of its cases' times; testsuites' time is the
 * whole run. timestamp is started_utc cut to the schema's
 * YYYY-MM-DDTHH:MM:SS form (left out if started_utc is not ISO 8601).
 */
#include <ctype.h>
#include <inttypes.h>
#include <string.h>

#include "report.h"
#include "report_groups.h"
#include "report_stats.h"
#include "report_text.h"

static void attr(FILE *f, const char *name, const char *s, size_t n)
{
    fprintf(f, " %s=\"", name);
    kvr_put_xml(f, s, n, KVR_ESC_XML_ATTR);
    fputc('"', f);
}

static void property(FILE *f, const char *name, const char *value)
{
    fputs("      <property", f);
    attr(f, "name", KVR_STR(name));
    attr(f, "value", KVR_STR(value ? value : ""));
    fputs("/>\n", f);
}

/* started_utc's first 19 characters if they are YYYY-MM-DDTHH:MM:SS. */
static int timestamp(const char *utc, char out[20])
{
    static const char pat[] = "dddd-dd-ddTdd:dd:dd";
    size_t i;

    if (!utc)
        return 0;
    for (i = 0; i < 19; i++) {
        unsigned char ch = (unsigned char)utc[i];
        if (pat[i] == 'd' ? !isdigit(ch) : ch != (unsigned char)pat[i])
            return 0;
    }
    memcpy(out, utc, 19);
    out[19] = '\0';
    return 1;
}

static void properties(FILE *f, const kvc_run_report *r, const kvr_stats *s)
{
    char buf[KVR_NUM_LEN], inv[96];
    size_t failed = s->failed;

    fputs("    <properties>\n", f);
    snprintf(buf, sizeof buf, "%" PRIu64, r->seed);
    property(f, "seed", buf);
    property(f, "kernel", r->kernel_name);
    snprintf(buf, sizeof buf, "%d/%d", r->shard_index, r->shard_count);
    property(f, "shard", buf);
    kvr_fmt_exact(buf, r->threshold);
    property(f, "threshold", buf);
    property(f, "command", r->command);
    property(f, "tool_version", r->tool_version);
    property(f, "state", kvr_state_name(r));
    snprintf(buf, sizeof buf, "%llu", kvr_planned(r));
    property(f, "cases_planned", buf);
    snprintf(buf, sizeof buf, "%d", kvr_exit_status(r, failed));
    property(f, "exit_status", buf);
    kvr_invalid_summary(s, inv, sizeof inv);
    property(f, "invalid_variants", inv);
    kvr_stateful_summary(s, inv, sizeof inv);
    property(f, "stateful_sequences", inv);
    if (r->claim) {
        char list[1024];
        size_t used = 0;
        list[0] = '\0';
        for (size_t i = 0; i < r->claim->num_rows && used < sizeof list; i++)
            if (!r->claim->rows[i].claimed)
                used += (size_t)snprintf(list + used, sizeof list - used,
                                         "%s%.*s", used ? ", " : "",
                                         (int)sizeof r->claim->rows[i].item,
                                         r->claim->rows[i].item);
        property(f, "profile", r->claim->profile);
        property(f, "lse", r->claim->lse);
        property(f, "not_covered", list);
    }
    fputs("    </properties>\n", f);
}

static void failure(FILE *f, const kvc_case_record *c)
{
    const char *outcome = kvr_outcome_name(c);

    fputs("      <failure message=\"", f);
    kvr_put_xml(f, KVR_STR(outcome), KVR_ESC_XML_ATTR);
    fputs(": ", f);
    kvr_put_xml(f, KVR_FIELD(c->message), KVR_ESC_XML_ATTR);
    fputc('"', f);
    attr(f, "type", KVR_STR(outcome));
    fputc('>', f);
    kvr_put_xml(f, KVR_FIELD(c->desc), KVR_ESC_XML_TEXT);
    fputc('\n', f);
    if (c->has_verdict) {
        char e[KVR_NUM_LEN], a[KVR_NUM_LEN], q[KVR_NUM_LEN];
        kvr_fmt_exact(e, c->err);
        kvr_fmt_exact(a, c->allowed);
        kvr_fmt_exact(q, c->ratio);
        fprintf(f, "error %s, allowed %s, ratio %s\n", e, a, q);
    } else {
        fputs("no numeric verdict\n", f);
    }
    fputs("flags: ", f);
    kvr_put_xml(f, KVR_FIELD(c->flags), KVR_ESC_XML_TEXT);
    fputc('\n', f);
    if (c->repro[0]) {
        fputs("reproducer: ", f);
        kvr_put_xml(f, KVR_FIELD(c->repro), KVR_ESC_XML_TEXT);
        fputc('\n', f);
    }
    fputs("replay: ", f);
    kvr_put_xml(f, KVR_FIELD(c->replay), KVR_ESC_XML_TEXT);
    fputs("</failure>\n", f);
}

static void suite(FILE *f, const kvc_run_report *r, const kvr_stats *s,
                  size_t m)
{
    const kvr_group *md = &s->modes.groups[m];
    char t[KVR_NUM_LEN], ts[20];
    size_t i;

    fputs("  <testsuite name=\"kvcheck.", f);
    kvr_put_xml(f, KVR_STR(md->name), KVR_ESC_XML_ATTR);
    kvr_fmt_seconds(t, md->seconds);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"0\""
               " time=\"%s\"", md->run, md->failed, t);
    if (timestamp(r->started_utc, ts))
        fprintf(f, " timestamp=\"%s\"", ts);
    fputs(">\n", f);
    properties(f, r, s);
    for (i = 0; i < r->num_records; i++) {
        const kvc_case_record *c = &r->records[i];
        if (s->modes.of[i] != m)
            continue;
        kvr_fmt_seconds(t, c->seconds);
        fputs("    <testcase classname=\"kvcheck.", f);
        kvr_put_xml(f, KVR_STR(md->name), KVR_ESC_XML_ATTR);
        fprintf(f, "\" name=\"case %" PRIu64 " (", c->index);
        kvr_put_xml(f, KVR_STR(kvr_format_name(c)), KVR_ESC_XML_ATTR);
        if (c->invalid_rule[0] != '\0') {
            fputs(", invalid ", f);
            kvr_put_xml(f, KVR_FIELD(c->invalid_rule), KVR_ESC_XML_ATTR);
        }
        fprintf(f, ")\" time=\"%s\"", t);
        if (c->passed) {
            fputs("/>\n", f);
            continue;
        }
        fputs(">\n", f);
        failure(f, c);
        fputs("    </testcase>\n", f);
    }
    fputs("  </testsuite>\n", f);
}

int kvc_report_write_junit(const kvc_run_report *r, FILE *f)
{
    kvr_locale loc;
    kvr_stats s;
    char t[KVR_NUM_LEN];
    size_t m;
    int rc = -1;

    if (!r || !f || kvr_c_locale_enter(&loc))
        return -1;
    if (kvr_stats_init(&s, r) == 0) {
        kvr_fmt_seconds(t, r->seconds);
        fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
        fprintf(f, "<testsuites name=\"kvcheck\" tests=\"%zu\" failures=\"%zu\""
                   " errors=\"0\" time=\"%s\">\n", s.cases, s.failed, t);
        for (m = 0; m < s.modes.n; m++)
            suite(f, r, &s, m);
        fputs("</testsuites>\n", f);
        kvr_stats_free(&s);
        rc = ferror(f) ? -1 : 0;
    }
    kvr_c_locale_leave(&loc);
    return rc;
}
