/*
 * mutants_report.c — the reports of `kvcheck mutants`: a console table,
 * mutants.json (cJSON), junit.xml (one testcase per mutant; a survivor is
 * a failure, so a CI system lists it) and summary.md.
 */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../reports/report_text.h"
#include "mutants.h"

static const char *verdict(const kvc_mutant_result *r)
{
    if (r->id == 0)
        return r->killed ? "FALSE ALARM" : "no failure";
    if (r->killed)
        return "killed";
    return r->error ? "error" : "SURVIVED";
}

void kvc_mutants_count(const kvc_mutant_result *r, int n, int *killed,
                       int *survived, int *errors)
{
    *killed = *survived = *errors = 0;
    for (int i = 0; i < n; i++) {
        if (r[i].id == 0)
            continue;
        if (r[i].killed)
            ++*killed;
        else if (r[i].error)
            ++*errors;
        else
            ++*survived;
    }
}

void kvc_mutants_print_table(FILE *f, const kvc_mutant_result *r, int n)
{
    fprintf(f, "%-4s %-26s %-11s %-7s %-18s %8s %8s %8s\n", "id", "mutant",
            "result", "by", "first failure", "to kill", "run s",
            "golden s");
    for (int i = 0; i < n; i++) {
        char kill[16] = "-";
        if (r[i].killed)
            snprintf(kill, sizeof kill, "%.1f", r[i].kill_s);
        fprintf(f, "m%02d  %-26s %-11s %-7s %-18s %8s %8.1f %8.1f\n",
                r[i].id, r[i].name, verdict(&r[i]),
                r[i].killed_by[0] ? r[i].killed_by : "-",
                r[i].outcome[0] ? r[i].outcome : "-", kill, r[i].run_s,
                r[i].golden_s);
    }
    int k, s, e;
    kvc_mutants_count(r, n, &k, &s, &e);
    if (k + s + e > 0)
        fprintf(f, "mutants: %d killed, %d survived, %d errors of %d: kill "
                "rate %.1f %%\n",
                k, s, e, k + s + e, 100.0 * k / (k + s + e));
}

static cJSON *result_json(const kvc_mutant_result *r)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "id", r->id);
    cJSON_AddStringToObject(m, "name", r->name);
    cJSON_AddStringToObject(m, "where", r->where);
    cJSON_AddStringToObject(m, "bugClass", r->bug_class);
    cJSON_AddStringToObject(m, "library", r->lib);
    cJSON_AddStringToObject(m, "result", verdict(r));
    cJSON_AddBoolToObject(m, "killed", r->killed);
    cJSON_AddStringToObject(m, "killedBy", r->killed_by);
    cJSON_AddStringToObject(m, "outcome", r->outcome);
    cJSON_AddStringToObject(m, "firstFailure", r->first_failure);
    if (r->killed)
        cJSON_AddNumberToObject(m, "secondsToKill", r->kill_s);
    else
        cJSON_AddNullToObject(m, "secondsToKill");
    cJSON_AddNumberToObject(m, "runExitStatus", r->run_rc);
    cJSON_AddNumberToObject(m, "runSeconds", r->run_s);
    cJSON_AddNumberToObject(m, "goldenExitStatus", r->golden_rc);
    cJSON_AddNumberToObject(m, "goldenSeconds", r->golden_s);
    return m;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    return bad ? -1 : 0;
}

int kvc_mutants_write_json(const char *path, const kvc_mutant_opts *o,
                           const kvc_mutant_result *r, int n)
{
    int k, s, e;
    kvc_mutants_count(r, n, &k, &s, &e);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "tool", "kvcheck mutants");
    cJSON_AddNumberToObject(root, "cases", (double)o->cases);
    cJSON_AddNumberToObject(root, "seed", (double)o->seed);
    cJSON_AddNumberToObject(root, "killed", k);
    cJSON_AddNumberToObject(root, "survived", s);
    cJSON_AddNumberToObject(root, "errors", e);
    cJSON_AddNumberToObject(root, "killRate",
                            k + s + e ? (double)k / (k + s + e) : 0.0);
    cJSON *ctl = NULL;
    cJSON *arr = cJSON_AddArrayToObject(root, "mutants");
    for (int i = 0; i < n; i++) {
        if (r[i].id == 0)
            ctl = result_json(&r[i]);
        else
            cJSON_AddItemToArray(arr, result_json(&r[i]));
    }
    if (ctl)
        cJSON_AddItemToObject(root, "control", ctl);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return -1;
    int rc = write_text(path, text);
    free(text);
    return rc;
}

static void xml_attr(FILE *f, const char *name, const char *s)
{
    fprintf(f, " %s=\"", name);
    kvr_put_xml(f, KVR_STR(s), KVR_ESC_XML_ATTR);
    fputc('"', f);
}

int kvc_mutants_write_junit(const char *path, const kvc_mutant_result *r,
                            int n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int failures = 0;
    double total = 0;
    for (int i = 0; i < n; i++) {
        failures += r[i].id == 0 ? r[i].killed : !r[i].killed;
        total += r[i].run_s + r[i].golden_s;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<testsuites name=\"kvcheck mutants\" tests=\"%d\" "
               "failures=\"%d\" errors=\"0\" time=\"%.3f\">\n"
               "  <testsuite name=\"mutants\" tests=\"%d\" failures=\"%d\" "
               "errors=\"0\" skipped=\"0\" time=\"%.3f\">\n",
            n, failures, total, n, failures, total);
    for (int i = 0; i < n; i++) {
        char name[96];
        snprintf(name, sizeof name, "m%02d %s", r[i].id, r[i].name);
        fputs("    <testcase classname=\"mutants\"", f);
        xml_attr(f, "name", name);
        fprintf(f, " time=\"%.3f\">", r[i].run_s + r[i].golden_s);
        int bad = r[i].id == 0 ? r[i].killed : !r[i].killed;
        if (bad) {
            fputs("\n      <failure", f);
            xml_attr(f, "type", r[i].id == 0 ? "false-alarm" : "survived");
            xml_attr(f, "message",
                     r[i].id == 0 ? "the unmutated library failed a check"
                                  : "no check failed on this mutant");
            fputc('>', f);
            kvr_put_xml(f, KVR_STR(r[i].id == 0 ? r[i].first_failure
                                                : r[i].bug_class),
                        KVR_ESC_XML_TEXT);
            fputs("</failure>\n    ", f);
        }
        fputs("</testcase>\n", f);
    }
    fputs("  </testsuite>\n</testsuites>\n", f);
    return fclose(f) != 0 ? -1 : 0;
}

int kvc_mutants_write_markdown(const char *path, const kvc_mutant_opts *o,
                               const kvc_mutant_result *r, int n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int k, s, e;
    kvc_mutants_count(r, n, &k, &s, &e);
    fprintf(f, "# kvcheck mutants\n\n`kvcheck run --cases %llu --seed %llu "
               "--stop-after 1` and `kvcheck golden verify` against each "
               "mutant of libkvattn (`kernels/mutants.def`).\n\n",
            (unsigned long long)o->cases, (unsigned long long)o->seed);
    if (k + s + e > 0)
        fprintf(f, "**%d of %d killed (%.1f %%)**, %d survived, %d "
                   "errors.\n\n",
                k, k + s + e, 100.0 * k / (k + s + e), s, e);
    fputs("| id | mutant | bug class | result | by | first failure | "
          "seconds to kill |\n|---|---|---|---|---|---|---|\n", f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "| m%02d | ", r[i].id);
        kvr_put_md_code_span(f, KVR_STR(r[i].name), 1);
        fputs(" | ", f);
        kvr_put_md_text(f, KVR_STR(r[i].bug_class), 1);
        fprintf(f, " | %s | %s | ", verdict(&r[i]),
                r[i].killed_by[0] ? r[i].killed_by : "-");
        kvr_put_md_text(f, KVR_STR(r[i].outcome[0] ? r[i].outcome : "-"), 1);
        if (r[i].killed)
            fprintf(f, " | %.1f |\n", r[i].kill_s);
        else
            fputs(" | - |\n", f);
    }
    return fclose(f) != 0 ? -1 : 0;
}
