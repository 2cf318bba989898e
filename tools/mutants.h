/*
 * mutants.h — measuring the suite's power (`kvcheck mutants`, `make
 * mutants`): libkvattn built once per catalogued bug (kernels/mutants.def,
 * KVA_MUT in kernels/kva_internal.h) as build/mutants/libkvattn-mNN.so,
 * and each copy put through the two checks a kernel author runs:
 *   1. the campaign `kvcheck run --cases N --seed S --kernel-lib LIB
 *      --stop-after 1` (the README's main command, failing fast), then
 *   2. `kvcheck golden verify --kernel-lib LIB`, on the ISA path the CPU
 *      dispatches to and then with KVATTN_ISA=portable (the campaign
 *      checks the dispatched path; a kernel author verifies every path a
 *      library ships).
 * A mutant is killed when a check exits 1 (a case failed); it survives
 * when both pass. The unmutated library (the control) must survive every
 * check: a control that is "killed" means the gate raises false alarms.
 *
 * The checks run as child processes of this kvcheck (/proc/self/exe), so
 * a mutant that crashes, hangs or corrupts memory harms only its own run;
 * their output is read for the first failure line (its verdict name is
 * the "killing check").
 */
#ifndef KVC_MUTANTS_H
#define KVC_MUTANTS_H

#include <stdint.h>
#include <stdio.h>

/* One catalogued mutant (kernels/mutants.def). */
typedef struct kvc_mutant_info {
    int id;                /* >= 1; -DKVA_MUTANT=id */
    const char *name;      /* short, kebab-case */
    const char *where;     /* the kernels/ file of the mutation */
    const char *bug_class; /* the real-world bug class it imitates */
} kvc_mutant_info;

extern const kvc_mutant_info kvc_mutant_catalog[];
extern const int kvc_mutant_catalog_count;

/* The catalog entry of id, or NULL. */
const kvc_mutant_info *kvc_mutant_find(int id);

/* What the two checks found for one library. */
typedef struct kvc_mutant_result {
    int id;              /* 0: the control (the unmutated library) */
    const char *name, *where, *bug_class;
    char lib[512];
    int run_rc, golden_rc;     /* exit statuses (-1: not started) */
    double run_s, golden_s;    /* wall time of each check */
    int killed;                /* a check exited 1 */
    const char *killed_by;     /* "run", "golden" or "" */
    char outcome[48];          /* verdict name of the first failure */
    char first_failure[512];   /* its line, as the check printed it */
    double kill_s;             /* seconds the killing check ran: the
                                  campaign to its first failure, or golden
                                  verify (both paths) alone */
    int error;                 /* a check exited with 2, 3, 4 or a signal:
                                  neither killed nor survived cleanly */
} kvc_mutant_result;

/* How the checks are run. */
typedef struct kvc_mutant_opts {
    const char *kvcheck;   /* the kvcheck executable */
    uint64_t cases, seed;  /* the campaign */
    int jobs;              /* --jobs of the campaign (0: its default) */
} kvc_mutant_opts;

/* Run both checks against the library r->lib; fills the rest of *r (id
 * and names already set). */
void kvc_mutant_check(const kvc_mutant_opts *o, kvc_mutant_result *r);

/* Reports of n results (control first when present). */
void kvc_mutants_print_table(FILE *f, const kvc_mutant_result *r, int n);
int kvc_mutants_write_json(const char *path, const kvc_mutant_opts *o,
                           const kvc_mutant_result *r, int n);
int kvc_mutants_write_junit(const char *path, const kvc_mutant_result *r,
                            int n);
int kvc_mutants_write_markdown(const char *path, const kvc_mutant_opts *o,
                               const kvc_mutant_result *r, int n);

/* Killed and survived counts over the mutants (the control excluded). */
void kvc_mutants_count(const kvc_mutant_result *r, int n, int *killed,
                       int *survived, int *errors);

#endif /* KVC_MUTANTS_H */
