/* cmd_shrink.c — `kvcheck shrink`: a failing case to a small reproducer. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_parse.h"
#include "commands.h"
#include "kernel_probe.h"
#include "reproducer.h"
#include "run_shrink.h"
#include "size_cli.h"
#include "version.h"

static const char shrink_usage[] =
    "usage: kvcheck shrink --seed S --case I [--kernel paged|blocked|qeff|all]\n"
    "                      [--out FILE.json] [--kernel-lib PATH] [--profile P]\n"
    "                      [--kernel-threads N] [--size P] [--max-kv N]\n"
    "                      [--max-q N] [--heads HQ/HKV] [--head-dim D]\n"
    "                      [--block-size B]\n"
    "\n"
    "Shrink failing case I of the campaign with seed S (fewer sequences,\n"
    "heads, tokens, blocks, a smaller head_dim) while it still fails the same\n"
    "way, and write the smallest failing case as a golden-format file\n"
    "(default reports/out/repro-seed-S-case-I.json). Prints the command that\n"
    "replays it (`kvcheck replay FILE.json`, with --kernel-lib when given);\n"
    "keep it with `kvcheck golden add FILE.json`.\n"
    "\n"
    KVC_KERNEL_LIB_HELP
    KVC_ARITH_HELP
    KVC_SIZE_HELP
    "                    (as the campaign had them: they shape the draw)\n"
    "  --version         print the version\n"
    "\n"
    KVC_EXIT_HELP
    "For shrink, 1 means the case failed and its reproducer was written;\n"
    "0 means it passed and nothing was written.\n";

typedef struct shrink_args {
    uint64_t seed, index;
    int mode, have_case;
    const char *out, *kernel_lib, *profile_name;
    int profile, threads;
    kvc_size_opts size;
} shrink_args;

/* Parse argv into *a. Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, shrink_args *a)
{
    static const struct option longopts[] = {
        {"seed", required_argument, 0, 's'},
        {"case", required_argument, 0, 'c'},
        {"kernel", required_argument, 0, 'k'},
        {"out", required_argument, 0, 'o'},
        {"kernel-lib", required_argument, 0, 'L'},
        {"profile", required_argument, 0, 'P'},
        {"kernel-threads", required_argument, 0, 'N'},
        KVC_SIZE_LONGOPTS,
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0}};
    int c;
    *a = (shrink_args){.seed = 1, .mode = -1, .profile = -1};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (kvc_is_size_opt(c)) {
            if (kvc_parse_size_opt("shrink", c, optarg, &a->size))
                return KVC_EXIT_USAGE;
            continue;
        }
        switch (c) {
        case 's':
            if (kvc_parse_u64("shrink", "--seed", optarg, &a->seed))
                return KVC_EXIT_USAGE;
            break;
        case 'c':
            if (kvc_parse_u64("shrink", "--case", optarg, &a->index))
                return KVC_EXIT_USAGE;
            a->have_case = 1;
            break;
        case 'k':
            if (kvc_parse_kernel("shrink", optarg, &a->mode))
                return KVC_EXIT_USAGE;
            break;
        case 'o': a->out = optarg; break;
        case 'L': a->kernel_lib = optarg; break;
        case 'P':
            if (kvc_parse_profile("shrink", optarg, &a->profile))
                return KVC_EXIT_USAGE;
            a->profile_name = optarg;
            break;
        case 'N':
            if (kvc_parse_int("shrink", "--kernel-threads", optarg, 1, 1024,
                              &a->threads))
                return KVC_EXIT_USAGE;
            break;
        case 'h': fputs(shrink_usage, stdout); return KVC_EXIT_PASS;
        case 'V': puts(KVC_VERSION); return KVC_EXIT_PASS;
        default:
            kvc_option_error("shrink", argv, c);
            fputs(shrink_usage, stderr);
            return KVC_EXIT_USAGE;
        }
    }
    if (!a->have_case || optind < argc) {
        fprintf(stderr, "kvcheck shrink: %s\n\n%s",
                a->have_case ? "unexpected argument" : "--case is required",
                shrink_usage);
        return KVC_EXIT_USAGE;
    }
    if (kvc_check_size_opts("shrink", &a->size))
        return KVC_EXIT_USAGE;
    return -1;
}

int kvc_cmd_shrink(int argc, char **argv)
{
    shrink_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    char path[1024], err[512];
    if (a.out) {
        snprintf(path, sizeof path, "%s", a.out);
    } else {
        snprintf(path, sizeof path, "reports/out/repro-seed-%llu-case-%llu.json",
                 (unsigned long long)a.seed, (unsigned long long)a.index);
        if (kvc_make_dirs("reports/out") != 0) {
            fprintf(stderr, "kvcheck shrink: cannot create reports/out\n");
            return KVC_EXIT_IO;
        }
    }
    /* The shrinker runs the kernel hundreds of times: in a worker, like a
     * campaign, so a kernel that crashes, exits or hangs on the way is
     * reported, not the end of this command. */
    kva_caps claim;
    if ((rc = kvc_resolve_claim("shrink", a.kernel_lib, a.profile, &claim)) >= 0)
        return rc;
    kvc_campaign_opts o = {.seed = a.seed, .forced_mode = a.mode,
                           .size = a.size,
                           .kernel_lib = a.kernel_lib, .claim = &claim,
                           .profile = a.profile_name,
                           .kernel_threads = a.threads};
    kvc_repro info;
    rc = kvc_shrink_isolated(&o, a.index,
                             a.kernel_lib ? NULL : &kvc_builtin_kernel, path,
                             &info, err, sizeof err);
    if (rc == 0) {
        info.profile = a.profile_name;
        kvc_print_repro(path, &info); /* info names the library: print first */
    }
    if (rc == -2) {
        char replay[1280];
        kvc_replay_command(&o, a.index, replay, sizeof replay);
        fprintf(stderr, "kvcheck shrink: case %llu: %s; not shrunk: replay it "
                "in the foreground: %s\n", (unsigned long long)a.index, err,
                replay);
        return KVC_EXIT_FAIL;
    }
    if (rc == 1) {
        printf("kvcheck shrink: case %llu passes: nothing to shrink\n",
               (unsigned long long)a.index);
        return KVC_EXIT_PASS;
    }
    if (rc != 0) {
        fprintf(stderr, "kvcheck shrink: %s\n", err);
        return KVC_EXIT_IO;
    }
    return KVC_EXIT_FAIL;
}
