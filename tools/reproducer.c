/* reproducer.c — shrink a failure and write it as a golden-format file. */
#include "reproducer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../generators/shrink.h"
#include "campaign.h"
#include "claim.h"
#include "golden_set.h"
#include "shell_quote.h"

/* What a failure is made of, beyond its outcome kind: shrinking keeps it,
 * so a reproducer fails by the same mechanism as the case it came from. */
typedef struct failure_sig {
    kvc_outcome outcome;
    int nonfinite;    /* numeric: the kernel's value was NaN or inf */
    int on_lse;       /* numeric: the worst value was an lse */
    int decade;       /* numeric: floor(log10(ratio)) (finite ratios) */
    char what[64];    /* other outcomes: the message up to its first ':'
                         ("after the cache write", "paged attention", ...) */
    char place[48];   /* cache: the buffer and the kind of unit that changed
                         ("V cache token", "K scale pool unused slot", ...) */
} failure_sig;

/* The kind of a cache failure from kvc_pool_diff's message (tools/pool.c):
 * which buffer, and whose unit it was (a new token's, a context position's,
 * an unused slot's, stride padding). A wrong code for a new token is not
 * the same bug as a write into a slot nobody named. */
static void cache_place(const char *msg, char *buf, size_t n)
{
    static const char *const buffers[] = {"K cache", "V cache", "K scale pool",
                                          "V scale pool"};
    static const char *const whose[][2] = {
        {"(stride padding", "padding"}, {"an unused slot", "unused slot"},
        {", token ", "token"}, {"context position", "context"}};
    const char *b = "?", *w = "?";
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++)
        if (strstr(msg, buffers[i]))
            b = buffers[i]; /* the message names one buffer */
    for (size_t i = 0; i < sizeof whose / sizeof whose[0]; i++)
        if (strstr(msg, whose[i][0])) {
            w = whose[i][1];
            break;
        }
    snprintf(buf, n, "%s %s", b, w);
}

static void signature(const kvc_result *r, failure_sig *sig)
{
    memset(sig, 0, sizeof *sig);
    sig->outcome = r->outcome;
    if (r->outcome == KVC_FAIL_NUMERIC && r->verdict.seq >= 0) {
        sig->nonfinite = !isfinite(r->verdict.got);
        sig->on_lse = r->verdict.dim < 0;
        sig->decade = isfinite(r->verdict.ratio) && r->verdict.ratio > 0
                          ? (int)floor(log10(r->verdict.ratio))
                          : 999;
        return;
    }
    size_t n = strcspn(r->message, ":");
    snprintf(sig->what, sizeof sig->what, "%.*s", (int)n, r->message);
    if (r->outcome == KVC_FAIL_CACHE)
        cache_place(r->message, sig->place, sizeof sig->place);
}

/* A candidate fails alike when its signature is the original's, the ratio
 * within one decade of it (a rounding failure never stands in for an
 * overflow, an lse failure for an out one). */
static int same_signature(const failure_sig *a, const failure_sig *b)
{
    if (a->outcome != b->outcome)
        return 0;
    if (a->outcome != KVC_FAIL_NUMERIC)
        return strcmp(a->what, b->what) == 0 && strcmp(a->place, b->place) == 0;
    return a->nonfinite == b->nonfinite && a->on_lse == b->on_lse &&
           (a->decade == b->decade ||
            (a->decade != 999 && b->decade != 999 &&
             abs(a->decade - b->decade) <= 1));
}

typedef struct same_failure {
    const kvc_kernel *k;
    kva_caps claim;
    failure_sig want;
} same_failure;

/* A smaller candidate outside the kernel's claim (a head_dim it does not
 * take, ...) reproduces nothing: the kernel need not run it. */
static int fails_alike(const kvc_case *c, void *ctx)
{
    const same_failure *sf = ctx;
    kvc_case_facts f;
    kvc_facts_of_case(c, &f);
    if (kvc_claim_missing(&sf->claim, &f) != 0)
        return 0;
    kvc_result r;
    failure_sig got;
    kvc_run_case(c, sf->k, &r);
    signature(&r, &got);
    return same_signature(&got, &sf->want);
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
    t.flags = kvc_golden_flags(&t.c);
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

/* Where the reproducer came from: the replay command of the original case
 * when it fits the golden comment, else the same facts as plain words. */
static void repro_comment(uint64_t seed, uint64_t index, int mode,
                          const kvc_size_opts *size, const kvc_kernel *k,
                          const kvc_repro *info, char *buf, size_t n)
{
    kvc_campaign_opts o = {.seed = seed, .forced_mode = mode,
                           .size = size ? *size : (kvc_size_opts){0},
                           .kernel_lib = info->kernel_lib,
                           .profile = info->profile,
                           .kernel_threads = info->threads};
    char replay[sizeof ((kvc_golden_test *)0)->comment];
    kvc_replay_command(&o, index, replay, sizeof replay);
    if (replay[0] == '(') /* kvc_replay_command's note: it did not fit */
        snprintf(buf, n, "shrunk from case %llu of seed %llu (%s failure "
                 "against %s)", (unsigned long long)index,
                 (unsigned long long)seed, kvc_outcome_name(info->outcome),
                 k->name);
    else if ((size_t)snprintf(buf, n, "shrunk from `%s` (%s failure)", replay,
                              kvc_outcome_name(info->outcome)) >= n)
        snprintf(buf, n, "shrunk from case %llu of seed %llu",
                 (unsigned long long)index, (unsigned long long)seed);
}

int kvc_write_reproducer(uint64_t seed, uint64_t index, int mode,
                         const kvc_kernel *k, const char *path,
                         kvc_repro *info, char *err, size_t errlen)
{
    return kvc_write_reproducer_sized(seed, index, mode, NULL, k, path, info,
                                      err, errlen);
}

int kvc_write_reproducer_sized(uint64_t seed, uint64_t index, int mode,
                               const kvc_size_opts *size, const kvc_kernel *k,
                               const char *path, kvc_repro *info, char *err,
                               size_t errlen)
{
    memset(info, 0, sizeof *info);
    info->kernel_lib = k == &kvc_builtin_kernel ||
                               strcmp(k->name, kvc_builtin_kernel.name) == 0
                           ? NULL
                           : k->name;
    info->threads = k->threads;
    same_failure sf = {.k = k};
    kvc_kernel_caps(k, &sf.claim);
    kvc_case c;
    if (kvc_claimed_generate_sized(&sf.claim, seed, index, mode, size, &c, err,
                                   errlen) != 0)
        return -1;
    kvc_result r;
    info->outcome = kvc_run_case(&c, k, &r);
    signature(&r, &sf.want);
    describe(&c, info->before, sizeof info->before);
    kvc_case_spec start = c.spec;
    uint64_t value_seed = c.value_seed;
    kvc_case_free(&c);
    if (info->outcome == KVC_PASS)
        return 1;
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
    repro_comment(seed, index, mode, size, k, info, comment, sizeof comment);
    kvc_case shrunk;
    if (kvc_case_build(&small, value_seed, &shrunk, err, errlen) != 0)
        return -1;
    describe(&shrunk, info->after, sizeof info->after);
    kvc_case_free(&shrunk);
    return write_file(&small, value_seed, comment, path, err, errlen);
}

void kvc_print_repro(const char *path, const kvc_repro *info)
{
    char run[2048] = "kvcheck replay";
    int rc = kvc_shell_append(run, sizeof run, path);
    if (info->kernel_lib)
        rc |= kvc_shell_append_opt(run, sizeof run, "--kernel-lib",
                                   info->kernel_lib);
    if (info->profile)
        rc |= kvc_shell_append_opt(run, sizeof run, "--profile", info->profile);
    if (info->threads > 1) {
        char num[16];
        snprintf(num, sizeof num, "%d", info->threads);
        rc |= kvc_shell_append_opt(run, sizeof run, "--kernel-threads", num);
    }
    if (rc != 0) /* never a cut command that replays another kernel */
        snprintf(run, sizeof run, "(too long to print: kvcheck replay FILE "
                 "--kernel-lib LIB)");
    printf("reproducer: %s\n  from: %s\n  to:   %s (%d attempts%s)\n"
           "  run:  %s\n", path, info->before, info->after, info->attempts,
           info->shrink_status == 1 ? ", budget spent" : "", run);
}
