/*
 * cmd_mutants.c — `kvcheck mutants`: every catalogued mutant of libkvattn
 * (or a chosen few) and the unmutated control through the campaign and
 * golden verify (mutants.h), then the reports.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_parse.h"
#include "commands.h"
#include "mutants.h"

static const char mutants_usage[] =
    "usage: kvcheck mutants [--ids LIST] [--lib-dir DIR] [--control LIB |\n"
    "                       --no-control] [--cases N] [--seed S] [--jobs N]\n"
    "                       [--report DIR | --no-report]\n"
    "       kvcheck mutants --list\n"
    "\n"
    "Measure the suite's power: each mutant of libkvattn (a copy with one\n"
    "realistic bug planted, kernels/mutants.def; `make mutants` builds them\n"
    "as DIR/libkvattn-mNN.so) goes through the campaign `kvcheck run --cases\n"
    "N --seed S --kernel-lib LIB --stop-after 1` and `kvcheck golden verify\n"
    "--kernel-lib LIB` (on the path the CPU dispatches to, then again with\n"
    "KVATTN_ISA=portable: libkvattn's every path). A mutant is killed when a\n"
    "check fails (exit 1), and survives when both pass. The unmutated library runs first as the\n"
    "control: it must survive every check (else: a false alarm).\n"
    "Prints a table (result, the killing check and the verdict of its first\n"
    "failure, seconds to the kill) and the kill rate.\n"
    "\n"
    "  --ids LIST     comma-separated mutant ids (default: the whole catalog)\n"
    "  --lib-dir DIR  where the mutant libraries are (default build/mutants)\n"
    "  --control LIB  the unmutated library (default build/libkvattn.so)\n"
    "  --no-control   skip the control run\n"
    "  --cases N      campaign cases (default 20000)\n"
    "  --seed S       campaign seed (default 7)\n"
    "  --jobs N       the campaign's worker processes (default: its own)\n"
    "  --report DIR   write mutants.json, junit.xml (one testcase per mutant:\n"
    "                 a survivor is a failure) and summary.md to DIR\n"
    "                 (default build/mutants/report)\n"
    "  --no-report    write no report\n"
    "  --list         print the catalog (id, name, file, bug class) and exit\n"
    "\n"
    "Exit status: 0 every mutant killed and the control clean, 1 a mutant\n"
    "survived, a check could not judge one, or the control failed a check,\n"
    "2 usage error, 3 a library is missing or a report cannot be written.\n";

typedef struct mut_args {
    kvc_mutant_opts o;
    const char *lib_dir, *control, *report;
    int ids[256], n_ids;
} mut_args;

static int parse_ids(const char *s, mut_args *a)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", s);
    a->n_ids = 0;
    for (char *save, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int id;
        if (kvc_parse_int("mutants", "--ids", tok, 1, 9999, &id))
            return 2;
        if (!kvc_mutant_find(id)) {
            fprintf(stderr, "kvcheck mutants: --ids: no mutant %d in "
                    "kernels/mutants.def (see kvcheck mutants --list)\n", id);
            return 2;
        }
        if (a->n_ids == (int)(sizeof a->ids / sizeof a->ids[0])) {
            fprintf(stderr, "kvcheck mutants: --ids: too many ids\n");
            return 2;
        }
        a->ids[a->n_ids++] = id;
    }
    if (a->n_ids == 0) {
        fprintf(stderr, "kvcheck mutants: --ids: an empty list\n");
        return 2;
    }
    return -1;
}

static void list_catalog(void)
{
    for (int i = 0; i < kvc_mutant_catalog_count; i++) {
        const kvc_mutant_info *m = &kvc_mutant_catalog[i];
        printf("m%02d %-26s %-20s %s\n", m->id, m->name, m->where,
               m->bug_class);
    }
}

/* Parse the options; -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, mut_args *a)
{
    enum { O_IDS = 256, O_LIBDIR, O_CONTROL, O_NOCONTROL, O_CASES, O_SEED,
           O_JOBS, O_REPORT, O_NOREPORT, O_LIST };
    static const struct option longopts[] = {
        {"ids", required_argument, 0, O_IDS},
        {"lib-dir", required_argument, 0, O_LIBDIR},
        {"control", required_argument, 0, O_CONTROL},
        {"no-control", no_argument, 0, O_NOCONTROL},
        {"cases", required_argument, 0, O_CASES},
        {"seed", required_argument, 0, O_SEED},
        {"jobs", required_argument, 0, O_JOBS},
        {"report", required_argument, 0, O_REPORT},
        {"no-report", no_argument, 0, O_NOREPORT},
        {"list", no_argument, 0, O_LIST},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c, rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case O_IDS:
            if ((rc = parse_ids(optarg, a)) >= 0) return rc;
            break;
        case O_LIBDIR: a->lib_dir = optarg; break;
        case O_CONTROL: a->control = optarg; break;
        case O_NOCONTROL: a->control = NULL; break;
        case O_CASES:
            if (kvc_parse_u64("mutants", "--cases", optarg, &a->o.cases))
                return 2;
            break;
        case O_SEED:
            if (kvc_parse_u64("mutants", "--seed", optarg, &a->o.seed))
                return 2;
            break;
        case O_JOBS:
            if (kvc_parse_int("mutants", "--jobs", optarg, 1, 1024,
                              &a->o.jobs))
                return 2;
            break;
        case O_REPORT: a->report = optarg; break;
        case O_NOREPORT: a->report = NULL; break;
        case O_LIST: list_catalog(); return 0;
        case 'h': fputs(mutants_usage, stdout); return 0;
        default:
            kvc_option_error("mutants", argv, c);
            fputs(mutants_usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "kvcheck mutants: unexpected argument '%s'\n\n%s",
                argv[optind], mutants_usage);
        return 2;
    }
    return -1;
}

/* A path dlopen reads as a path (with a slash), not a library name. */
static void lib_path(char *buf, size_t n, const char *dir, int id)
{
    snprintf(buf, n, "%s%s/libkvattn-m%02d.so", strchr(dir, '/') ? "" : "./",
             dir, id);
}

static int write_reports(const mut_args *a, const kvc_mutant_result *r,
                         int n)
{
    char path[1024];
    if (kvc_make_dirs(a->report) != 0) {
        fprintf(stderr, "kvcheck mutants: cannot create %s\n", a->report);
        return 3;
    }
    snprintf(path, sizeof path, "%s/mutants.json", a->report);
    int bad = kvc_mutants_write_json(path, &a->o, r, n);
    snprintf(path, sizeof path, "%s/junit.xml", a->report);
    bad |= kvc_mutants_write_junit(path, r, n);
    snprintf(path, sizeof path, "%s/summary.md", a->report);
    bad |= kvc_mutants_write_markdown(path, &a->o, r, n);
    if (bad) {
        fprintf(stderr, "kvcheck mutants: cannot write the report in %s\n",
                a->report);
        return 3;
    }
    printf("report: %s/mutants.json (also junit.xml, summary.md)\n",
           a->report);
    return 0;
}

/* The libraries to check, control first; 3 when one is missing. */
static int plan(const mut_args *a, kvc_mutant_result *r, int *n)
{
    *n = 0;
    if (a->control) {
        r[0] = (kvc_mutant_result){.id = 0, .name = "control",
                                   .where = "-",
                                   .bug_class = "none: the unmutated library"};
        snprintf(r[0].lib, sizeof r[0].lib, "%s%s",
                 strchr(a->control, '/') ? "" : "./", a->control);
        *n = 1;
    }
    for (int i = 0; i < a->n_ids; i++) {
        const kvc_mutant_info *m = kvc_mutant_find(a->ids[i]);
        kvc_mutant_result *x = &r[(*n)++];
        *x = (kvc_mutant_result){.id = m->id, .name = m->name,
                                 .where = m->where,
                                 .bug_class = m->bug_class};
        lib_path(x->lib, sizeof x->lib, a->lib_dir, m->id);
    }
    for (int i = 0; i < *n; i++)
        if (access(r[i].lib, R_OK) != 0) {
            fprintf(stderr, "kvcheck mutants: %s is missing (make mutants "
                    "builds the mutants)\n", r[i].lib);
            return 3;
        }
    return -1;
}

/* One line per library as soon as its checks end (a long run shows its
 * results as they come). */
static void print_progress(const kvc_mutant_result *r)
{
    if (!r->killed) {
        printf("m%02d %-26s %s (run exit %d, golden exit %d; %.1f s)\n",
               r->id, r->name,
               r->error       ? "ERROR"
               : r->id == 0   ? "no failure"
                              : "survived",
               r->run_rc, r->golden_rc, r->run_s + r->golden_s);
        return;
    }
    printf("m%02d %-26s %s by %s (%s) in %.1f s; golden verify exit %d\n",
           r->id, r->name, r->id == 0 ? "FALSE ALARM: failed" : "killed",
           r->killed_by, r->outcome, r->kill_s, r->golden_rc);
    if (r->first_failure[0])
        printf("    %s\n", r->first_failure);
    /* a wall-clock deadline also expires on an overloaded machine */
    if (!strcmp(r->outcome, "timeout"))
        printf("    (a timeout: confirm it with the case's replay command "
               "on a quiet machine)\n");
}

int kvc_cmd_mutants(int argc, char **argv)
{
    static char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        fprintf(stderr, "kvcheck mutants: cannot find this executable\n");
        return 3;
    }
    self[len] = '\0';
    mut_args a = {.o = {.kvcheck = self, .cases = 20000, .seed = 7},
                  .lib_dir = "build/mutants",
                  .control = "build/libkvattn.so",
                  .report = "build/mutants/report"};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (a.n_ids == 0)
        for (int i = 0; i < kvc_mutant_catalog_count && i < 256; i++)
            a.ids[a.n_ids++] = kvc_mutant_catalog[i].id;
    kvc_mutant_result *r = calloc((size_t)a.n_ids + 1, sizeof *r);
    int n;
    if (!r)
        return 3;
    if ((rc = plan(&a, r, &n)) >= 0) {
        free(r);
        return rc;
    }
    int alarm = 0;
    for (int i = 0; i < n; i++) {
        kvc_mutant_check(&a.o, &r[i]);
        print_progress(&r[i]);
        alarm |= r[i].id == 0 && (r[i].killed || r[i].error);
    }
    putchar('\n');
    kvc_mutants_print_table(stdout, r, n);
    if (alarm)
        printf("control: the unmutated library FAILED a check: the campaign "
               "raises false alarms\n");
    int k, s, e;
    kvc_mutants_count(r, n, &k, &s, &e);
    rc = alarm || s || e ? 1 : 0;
    if (a.report) {
        int io = write_reports(&a, r, n);
        if (io && !rc)
            rc = io;
    }
    free(r);
    return rc;
}
