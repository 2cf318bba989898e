/* cmd_replay.c — `kvcheck replay`: one campaign case, or golden-format files. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h"
#include "stateful_run.h"
#include "claim.h"
#include "cli_parse.h"
#include "commands.h"
#include "golden_verify.h"
#include "size_cli.h"
#include "version.h"

static const char replay_usage[] =
    "usage: kvcheck replay --seed S --case I [--kernel paged|blocked|qeff|all]\n"
    "       kvcheck replay FILE.json...\n"
    "       (either form: [--kernel-lib PATH] [--profile P] [--kernel-threads N])\n"
    "       (with --case: [--size P] [--max-kv N] [--max-q N] [--heads HQ/HKV]\n"
    "        [--head-dim D] [--block-size B], as the campaign had them)\n"
    "\n"
    "Run case I of the campaign with seed S alone and print the case, the\n"
    "outcome and the worst error with its location. --kernel must be what\n"
    "the campaign used (default all); the case is drawn inside the kernel's\n"
    "claim, as the campaign drew it, and an index the campaign ran as an\n"
    "invalid variant (one in 16) is that variant again.\n"
    "With files: run every test of each golden-format file (a reproducer\n"
    "written by `kvcheck shrink`, or a golden vector file) and print each.\n"
    KVC_KERNEL_LIB_HELP
    KVC_ARITH_HELP
    KVC_SIZE_HELP
    "  --version         print the version\n"
    "\n"
    KVC_EXIT_HELP
    "A case is replayed in this process, in the foreground (no worker), so\n"
    "a debugger or valgrind sees the kernel's call.\n";

static void print_verdict(const kvc_result *r)
{
    const kvc_verdict *v = &r->verdict;
    if (v->seq < 0) {
        printf("  no numeric comparison (no output rows, or it did not run)\n");
        return;
    }
    printf("  worst: %s at seq %d token %lld head %d", v->dim < 0 ? "lse" : "out",
           v->seq, (long long)v->token, v->head);
    if (v->dim >= 0)
        printf(" dim %d", v->dim);
    printf("\n");
    printf("  got %.9g want %.17g\n  err %.3g allowed %.3g ratio %.4g (threshold %.1f)\n",
           v->got, v->want, v->err, v->allowed, v->ratio, KVC_TOL_THRESHOLD);
    if (v->ratio_fp32 != v->ratio)
        printf("  under the fp32 model: ratio %.4g\n", v->ratio_fp32);
}

/* Replay golden-format files, printing every test. */
static int kvc_replay_files(char **paths, int n, const kvc_kernel *k)
{
    kvc_verify_counts counts = {0};
    /* In this process, in the foreground: a debugger sees the kernel. */
    kvc_verify_kernel vk = {k, NULL, 0, 0, &k->caps, k->threads};
    kvc_golden_verify_paths(paths, n, &vk, NULL, 1, "kvcheck replay",
                            &counts);
    printf("replay: %d passed, %d failed, %d unreadable files\n",
           counts.passed, counts.failed, counts.unreadable);
    return kvc_verify_exit_status(&counts);
}

typedef struct replay_args {
    uint64_t seed, index;
    int mode, have_case;
    const char *kernel_lib;
    int profile, threads; /* --profile (-1: none), --kernel-threads */
    kvc_size_opts size;
} replay_args;

/* Parse argv into *a. Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, replay_args *a)
{
    static const struct option longopts[] = {
        {"seed", required_argument, 0, 's'},
        {"case", required_argument, 0, 'c'},
        {"kernel", required_argument, 0, 'k'},
        {"kernel-lib", required_argument, 0, 'L'},
        {"profile", required_argument, 0, 'P'},
        {"kernel-threads", required_argument, 0, 'N'},
        KVC_SIZE_LONGOPTS,
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0}};
    int c;
    *a = (replay_args){.seed = 1, .mode = -1, .profile = -1};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (kvc_is_size_opt(c)) {
            if (kvc_parse_size_opt("replay", c, optarg, &a->size))
                return KVC_EXIT_USAGE;
            continue;
        }
        switch (c) {
        case 's':
            if (kvc_parse_u64("replay", "--seed", optarg, &a->seed))
                return KVC_EXIT_USAGE;
            break;
        case 'c':
            if (kvc_parse_u64("replay", "--case", optarg, &a->index))
                return KVC_EXIT_USAGE;
            a->have_case = 1;
            break;
        case 'k':
            if (kvc_parse_kernel("replay", optarg, &a->mode))
                return KVC_EXIT_USAGE;
            break;
        case 'L': a->kernel_lib = optarg; break;
        case 'P':
            if (kvc_parse_profile("replay", optarg, &a->profile))
                return KVC_EXIT_USAGE;
            break;
        case 'N':
            if (kvc_parse_int("replay", "--kernel-threads", optarg, 1, 1024,
                              &a->threads))
                return KVC_EXIT_USAGE;
            break;
        case 'h': fputs(replay_usage, stdout); return KVC_EXIT_PASS;
        case 'V': puts(KVC_VERSION); return KVC_EXIT_PASS;
        default:
            kvc_option_error("replay", argv, c);
            fputs(replay_usage, stderr);
            return KVC_EXIT_USAGE;
        }
    }
    if (a->have_case == (optind < argc)) {
        fprintf(stderr, "kvcheck replay: %s\n\n%s",
                optind < argc ? "give --case or files, not both"
                              : "--case (or a file) is required",
                replay_usage);
        return KVC_EXIT_USAGE;
    }
    if (kvc_check_size_opts("replay", &a->size))
        return KVC_EXIT_USAGE;
    return -1;
}

/* Replay a stateful index (generators/stateful.h): its scenario against
 * the kernel's manager or policies, up to the first disagreement. */
static int replay_stateful(const replay_args *a, const kvc_kernel_choice *ch,
                           const char *path)
{
    kvc_bm_impl bm;
    kvc_policy_attn_impl pol;
    kvc_stateful_result sr;
    char err[512];
    if (kvc_stateful_bind(ch->handle, path, &ch->k->caps, a->mode, &bm, &pol,
                          err, sizeof err) != 0) {
        fprintf(stderr, "kvcheck replay: %s\n", err);
        return KVC_EXIT_USAGE;
    }
    int ok = kvc_stateful_run(a->seed, a->index, bm.append ? &bm : NULL,
                              pol.attention ? &pol : NULL, &sr);
    printf("case %llu (seed %llu): stateful %s scenario\n  %s\n",
           (unsigned long long)a->index, (unsigned long long)a->seed,
           kvc_stateful_name(sr.kind), sr.desc);
    if (ok == 1) {
        printf("  outcome: pass (%lld operations agree with the models)\n",
               (long long)sr.steps);
        return KVC_EXIT_PASS;
    }
    printf("  outcome: %s: %s\n  shortest failing prefix: operations 0..%lld\n",
           ok < 0 ? "setup" : sr.kind == KVC_STATEFUL_MANAGER ? "manager" : "policy",
           sr.message, (long long)sr.failed_step);
    return ok < 0 ? KVC_EXIT_IO : KVC_EXIT_FAIL;
}

/* Replay case (seed, index) alone, printing it and its outcome. */
static int replay_case(const replay_args *a, const kvc_kernel *k)
{
    kvc_case kc;
    kvc_invalid inv; /* the campaign's invalid variant of this index, if any */
    char err[256], desc[512];
    if (kvc_campaign_generate(&k->caps, a->seed, a->index, a->mode, &a->size,
                              &kc, &inv, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "kvcheck replay: cannot build case %llu: %s\n",
                (unsigned long long)a->index, err);
        return KVC_EXIT_IO;
    }
    kvc_case_describe(&kc, desc, sizeof desc);
    printf("case %llu (seed %llu): %s\n", (unsigned long long)a->index,
           (unsigned long long)a->seed, desc);
    printf("  flags:");
    for (int b = 0; b < KVC_FLAG_ALL_COUNT; b++)
        if (kc.flags & (1ull << b))
            printf(" %s", kvc_flag_name(b));
    printf("\n");
    if (inv.rule != KVC_INV_NONE)
        printf("  invalid variant: %s: %s\n", kvc_invalid_rule_name(inv.rule),
               inv.what);
    kvc_result r;
    kvc_kernel kk = *k;
    kk.threads = kvc_campaign_threads(k, &kc, a->seed, a->index);
    if (kk.threads > 1)
        printf("  threads: %d\n", kk.threads);
    kvc_campaign_run_case(&kc, &inv, &kk, &r);
    printf("  outcome: %s%s%s\n", kvc_outcome_name(r.outcome),
           r.message[0] ? ": " : "", r.message);
    print_verdict(&r);
    kvc_case_free(&kc);
    return r.outcome == KVC_PASS ? KVC_EXIT_PASS : KVC_EXIT_FAIL;
}

int kvc_cmd_replay(int argc, char **argv)
{
    replay_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    kvc_kernel_choice kch;
    if (kvc_choose_kernel("replay", a.kernel_lib, a.profile, a.threads,
                          &kch) != 0)
        return KVC_EXIT_USAGE;
    if (a.have_case && kvc_stateful_index(&kch.k->caps, a.mode, a.seed,
                                          a.index) != KVC_STATEFUL_NONE)
        rc = replay_stateful(&a, &kch, a.kernel_lib);
    else if (a.have_case)
        rc = replay_case(&a, kch.k);
    else
        rc = kvc_replay_files(argv + optind, argc - optind, kch.k);
    kvc_release_kernel(&kch);
    return rc;
}
