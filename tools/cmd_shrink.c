/* cmd_shrink.c — `kvcheck shrink`: a failing case to a small reproducer. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_parse.h"
#include "commands.h"
#include "reproducer.h"

static const char shrink_usage[] =
    "usage: kvcheck shrink --seed S --case I [--kernel paged|blocked|qeff|all]\n"
    "                      [--out FILE.json] [--kernel-lib PATH]\n"
    "\n"
    "Shrink failing case I of the campaign with seed S (fewer sequences,\n"
    "heads, tokens, blocks, a smaller head_dim) while it still fails the same\n"
    "way, and write the smallest failing case as a golden-format file\n"
    "(default reports/out/repro-seed-S-case-I.json). Run it with\n"
    "`kvcheck replay FILE.json`; keep it with `kvcheck golden add FILE.json`.\n"
    "\n"
    KVC_KERNEL_LIB_HELP
    "\n"
    "Exit status: 0 written, 1 the case passes or an error, 2 bad usage.\n";

int kvc_cmd_shrink(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"seed", required_argument, 0, 's'},
        {"case", required_argument, 0, 'c'},
        {"kernel", required_argument, 0, 'k'},
        {"out", required_argument, 0, 'o'},
        {"kernel-lib", required_argument, 0, 'L'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    uint64_t seed = 1, index = 0;
    int mode = -1, have_case = 0, c;
    const char *out = NULL, *kernel_lib = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (kvc_parse_u64("shrink", "--seed", optarg, &seed)) return 2;
            break;
        case 'c':
            if (kvc_parse_u64("shrink", "--case", optarg, &index)) return 2;
            have_case = 1;
            break;
        case 'k':
            if (kvc_parse_kernel("shrink", optarg, &mode)) return 2;
            break;
        case 'o': out = optarg; break;
        case 'L': kernel_lib = optarg; break;
        case 'h': fputs(shrink_usage, stdout); return 0;
        default: fputs(shrink_usage, stderr); return 2;
        }
    }
    if (!have_case || optind < argc) {
        fprintf(stderr, "kvcheck shrink: %s\n\n%s",
                have_case ? "unexpected argument" : "--case is required",
                shrink_usage);
        return 2;
    }
    char path[1024], err[512];
    if (out) {
        snprintf(path, sizeof path, "%s", out);
    } else {
        snprintf(path, sizeof path, "reports/out/repro-seed-%llu-case-%llu.json",
                 (unsigned long long)seed, (unsigned long long)index);
        if (kvc_make_dirs("reports/out") != 0) {
            fprintf(stderr, "kvcheck shrink: cannot create reports/out\n");
            return 1;
        }
    }
    kvc_kernel_choice kc;
    if (kvc_choose_kernel("shrink", kernel_lib, &kc) != 0)
        return 2;
    kvc_repro info;
    int rc = kvc_write_reproducer(seed, index, mode, kc.k, path, &info, err,
                                  sizeof err);
    kvc_release_kernel(&kc);
    if (rc == 1) {
        fprintf(stderr, "kvcheck shrink: case %llu passes: nothing to shrink\n",
                (unsigned long long)index);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "kvcheck shrink: %s\n", err);
        return 1;
    }
    kvc_print_repro(path, &info);
    return 0;
}
