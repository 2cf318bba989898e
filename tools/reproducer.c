/* reproducer.c — shrink a failure and write it as a golden-format file. */
#include "reproducer.h"

#include <stdio.h>
#include <string.h>

#include "../generators/shrink.h"

typedef struct same_failure {
    const kvc_kernel *k;
    kvc_outcome want;
} same_failure;

static int fails_alike(const kvc_case *c, void *ctx)
{
    const same_failure *sf = ctx;
    kvc_result r;
    return kvc_run_case(c, sf->k, &r) == sf->want;
}

/* kvc_case_describe, naming large offsets too: a failure that needs them
 * (32-bit offset arithmetic) is told apart by it, and the shrinker keeps
 * them exactly when the failure does. */
static void describe(const kvc_case *c, char *buf, size_t n)
{
    kvc_case_describe(c, buf, n);
    size_t len = strlen(buf);
    if (c->spec.large_offsets && len < n)
        snprintf(buf + len, n - len, " large_offsets (sparse pool)");
}

/* The one-test file of a shrunk spec. */
static int write_file(const kvc_case_spec *spec, uint64_t value_seed,
                      const char *comment, const char *path, char *err,
                      size_t errlen)
{
    kvc_golden_file f;
    kvc_golden_test t;
    memset(&f, 0, sizeof f);
    memset(&t, 0, sizeof t);
    snprintf(f.generator, sizeof f.generator, "kvcheck shrink");
    snprintf(f.oracle_version, sizeof f.oracle_version, "%s",
             KVC_ORACLE_VERSION);
    if (kvc_case_build(spec, value_seed, &t.c, err, errlen) != 0)
        return -1;
    t.tc_id = 1;
    t.flags = t.c.flags;
    t.result = KVC_EXPECT_VALID;
    snprintf(t.comment, sizeof t.comment, "%s", comment);
    int rc = kvc_golden_expect(&t, err, errlen);
    f.num_tests = 1;
    f.tests = &t;
    if (rc == 0)
        rc = kvc_golden_write(&f, path, err, errlen);
    kvc_golden_test_free(&t);
    return rc;
}

int kvc_write_reproducer(uint64_t seed, uint64_t index, int mode,
                         const kvc_kernel *k, const char *path,
                         kvc_repro *info, char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    kvc_case c;
    if (kvc_case_generate(seed, index, mode, &c, err, errlen) != 0)
        return -1;
    kvc_result r;
    info->outcome = kvc_run_case(&c, k, &r);
    describe(&c, info->before, sizeof info->before);
    kvc_case_spec start = c.spec;
    uint64_t value_seed = c.value_seed;
    kvc_case_free(&c);
    if (info->outcome == KVC_PASS)
        return 1;
    same_failure sf = {k, info->outcome};
    kvc_case_spec small;
    kvc_shrink_stats st;
    info->shrink_status = kvc_shrink(&start, value_seed, fails_alike, &sf,
                                     KVC_SHRINK_MAX_ATTEMPTS, &small, &st);
    if (info->shrink_status == KVC_SHRINK_ERROR) {
        snprintf(err, errlen, "the shrinker could not rebuild the case");
        return -1;
    }
    info->attempts = st.attempts;
    char comment[256];
    snprintf(comment, sizeof comment,
             "shrunk from `kvcheck replay --seed %llu --case %llu --kernel %s` "
             "(%s failure against %s)",
             (unsigned long long)seed, (unsigned long long)index,
             mode < 0 ? "all" : kvc_mode_name((kvc_mode)mode),
             kvc_outcome_name(info->outcome), k->name);
    kvc_case shrunk;
    if (kvc_case_build(&small, value_seed, &shrunk, err, errlen) != 0)
        return -1;
    describe(&shrunk, info->after, sizeof info->after);
    kvc_case_free(&shrunk);
    return write_file(&small, value_seed, comment, path, err, errlen);
}

void kvc_print_repro(const char *path, const kvc_repro *info)
{
    printf("reproducer: %s\n  from: %s\n  to:   %s (%d attempts%s)\n  run:  "
           "kvcheck replay %s\n",
           path, info->before, info->after, info->attempts,
           info->shrink_status == 1 ? ", budget spent" : "", path);
}
