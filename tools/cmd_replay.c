/* cmd_replay.c — `kvcheck replay`: one campaign case, or golden-format files. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_parse.h"
#include "commands.h"
#include "golden_verify.h"

static const char replay_usage[] =
    "usage: kvcheck replay --seed S --case I [--kernel paged|blocked|qeff|all]\n"
    "       kvcheck replay FILE.json...\n"
    "       (either form: [--kernel-lib PATH])\n"
    "\n"
    "Run case I of the campaign with seed S alone and print the case, the\n"
    "outcome and the worst error with its location. --kernel must be what\n"
    "the campaign used (default all).\n"
    "With files: run every test of each golden-format file (a reproducer\n"
    "written by `kvcheck shrink`, or a golden vector file) and print each.\n"
    KVC_KERNEL_LIB_HELP
    "\n"
    "Exit status: 0 the case passed, 1 it failed, 2 bad usage.\n";

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
}

/* Replay golden-format files, printing every test. */
static int kvc_replay_files(char **paths, int n, const kvc_kernel *k)
{
    kvc_verify_counts counts = {0};
    kvc_golden_verify_paths(paths, n, k, NULL, 1,
                            "kvcheck replay", &counts);
    printf("replay: %d passed, %d failed\n", counts.passed, counts.failed);
    return counts.failed || counts.unreadable ? 1 : 0;
}

int kvc_cmd_replay(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"seed", required_argument, 0, 's'},
        {"case", required_argument, 0, 'c'},
        {"kernel", required_argument, 0, 'k'},
        {"kernel-lib", required_argument, 0, 'L'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    uint64_t seed = 1, index = 0;
    int mode = -1, have_case = 0, c;
    const char *kernel_lib = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (kvc_parse_u64("replay", "--seed", optarg, &seed)) return 2;
            break;
        case 'c':
            if (kvc_parse_u64("replay", "--case", optarg, &index)) return 2;
            have_case = 1;
            break;
        case 'k':
            if (kvc_parse_kernel("replay", optarg, &mode)) return 2;
            break;
        case 'L': kernel_lib = optarg; break;
        case 'h': fputs(replay_usage, stdout); return 0;
        default: fputs(replay_usage, stderr); return 2;
        }
    }
    kvc_kernel_choice kch;
    if (kvc_choose_kernel("replay", kernel_lib, &kch) != 0)
        return 2;
    if (!have_case && optind < argc) {
        int rc = kvc_replay_files(argv + optind, argc - optind, kch.k);
        kvc_release_kernel(&kch);
        return rc;
    }
    if (!have_case || optind < argc) {
        kvc_release_kernel(&kch);
        fprintf(stderr, "kvcheck replay: %s\n\n%s",
                optind < argc ? "unexpected argument" : "--case is required",
                replay_usage);
        return 2;
    }
    kvc_case kc;
    char err[256], desc[512];
    if (kvc_case_generate(seed, index, mode, &kc, err, sizeof err) != 0) {
        kvc_release_kernel(&kch);
        fprintf(stderr, "kvcheck replay: cannot build case %llu: %s\n",
                (unsigned long long)index, err);
        return 1;
    }
    kvc_case_describe(&kc, desc, sizeof desc);
    printf("case %llu (seed %llu): %s\n", (unsigned long long)index,
           (unsigned long long)seed, desc);
    printf("  flags:");
    for (int b = 0; b < KVC_FLAG_ALL_COUNT; b++)
        if (kc.flags & (1ull << b))
            printf(" %s", kvc_flag_name(b));
    printf("\n");
    kvc_result r;
    kvc_run_case(&kc, kch.k, &r);
    printf("  outcome: %s%s%s\n", kvc_outcome_name(r.outcome),
           r.message[0] ? ": " : "", r.message);
    print_verdict(&r);
    kvc_case_free(&kc);
    kvc_release_kernel(&kch);
    return r.outcome == KVC_PASS ? 0 : 1;
}
