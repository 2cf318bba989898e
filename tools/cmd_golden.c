/* cmd_golden.c — `kvcheck golden regen|verify|add`. */
#include <getopt.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../golden/golden_cache.h"
#include "../golden/golden_merge.h"
#include "cli_parse.h"
#include "commands.h"
#include "golden_set.h"
#include "golden_verify.h"
#include "kernel_probe.h"
#include "workers.h"
#include "version.h"

#define DEFAULT_DIR "golden/vectors"

static const char golden_usage[] =
    "usage: kvcheck golden regen  [--out DIR] [--from DIR]\n"
    "       kvcheck golden verify [--kernel paged|blocked|qeff|all] [--verbose]\n"
    "                             [--kernel-lib PATH] [--kv-dtype LIST]\n"
    "                             [--jobs N] [--timeout SECONDS] [--profile P]\n"
    "                             [--kernel-threads N] [FILE...]\n"
    "       kvcheck golden add    FILE.json [--to FILE]\n"
    "\n"
    "regen   rewrite the golden set from the generators and the oracle:\n"
    "        DIR/paged_attention.json, blocked_attention.json,\n"
    "        qeff_paged_attention.json, merge/merge_states.json\n"
    "        (kva_merge_states), cache/block_manager.json and\n"
    "        cache/eviction_policies.json (kva_bm_*, kva_policy_*: whole\n"
    "        operation sequences, the state after every step)\n"
    "        and regressions.json (its stored\n"
    "        inputs, expected values recomputed). Byte-identical every time.\n"
    "        --out DIR (default " DEFAULT_DIR "), --from DIR: where\n"
    "        regressions.json is read (default: the --out DIR).\n"
    "verify  run the kernel on every test of the files (default\n"
    "        " DEFAULT_DIR "/*.json, merge/*.json, cache/*.json) and\n"
    "        judge it by their expected values;\n"
    "        prints failures (every test with --verbose) and a summary.\n"
    "        --kernel-lib PATH: check the kernel in this shared library\n"
    "        (exporting the kva_* functions of kernels/kvattn.h). Tests\n"
    "        outside its claim (kva_capabilities: modes, formats, sizes,\n"
    "        features; invalid tests when it does not validate) are not\n"
    "        covered: counted, not run. --profile P overrides the declared\n"
    "        arithmetic (fp32, half-p, half-acc: judged by the oracle in\n"
    "        that profile); --kernel-threads N (default 1).\n"
    "        --kv-dtype f32,fp8_e4m3,...: only the tests of these KV cache\n"
    "        formats (f32, f16, bf16, fp8_e4m3, fp8_e5m2, int8, nvfp4).\n"
    "        Tests run in --jobs N worker processes (default: the CPUs\n"
    "        available): a kernel that crashes, exits or runs past\n"
    "        --timeout SECONDS (default: from the test's size) fails that\n"
    "        test with the verdict crash, exit or timeout.\n"
    "add     recompute the expected values of the tests in FILE.json (a\n"
    "        reproducer written by `kvcheck shrink` or `run --shrink`) and\n"
    "        append them to --to (default " DEFAULT_DIR "/" KVC_GOLDEN_REGRESSIONS "),\n"
    "        making a failure a permanent regression vector.\n"
    "\n"
    "--version: print the version.\n"
    "\n"
    KVC_EXIT_HELP
    "(regen and add check no case: 0 written, 3 not.)\n";

/* A getopt complaint of subcommand sub, then the usage. */
static int usage_error(const char *sub, char **argv, int c)
{
    char cmd[32];
    snprintf(cmd, sizeof cmd, "golden %s", sub);
    kvc_option_error(cmd, argv, c);
    fputs(golden_usage, stderr);
    return KVC_EXIT_USAGE;
}

static void join_path(char *buf, size_t n, const char *dir, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Recompute the expected values of every test of f, in place. */
static int reexpect(kvc_golden_file *f, const char *name, const char *who)
{
    for (int i = 0; i < f->num_tests; i++) {
        kvc_golden_test *t = &f->tests[i];
        kvc_golden_expect_clear(t);
        char err[256];
        if (t->result != KVC_EXPECT_INVALID &&
            kvc_golden_expect(t, err, sizeof err) != 0) {
            fprintf(stderr, "kvcheck golden %s: %s: test tcId %d: %s\n", who,
                    name, t->tc_id, err);
            return -1;
        }
    }
    return 0;
}

static int write_file(const kvc_golden_file *f, const char *path,
                      const char *who)
{
    char err[512];
    if (kvc_golden_write(f, path, err, sizeof err) != 0) {
        fprintf(stderr, "kvcheck golden %s: %s\n", who, err);
        return -1;
    }
    printf("wrote %s (%d tests)\n", path, f->num_tests);
    return 0;
}

/* Read the regression tests of dir and recompute their expected values.
 * required: dir was named by --from, so a missing file is an error (an
 * empty set would silently drop every regression vector); otherwise a
 * missing file starts an empty set. Returns 0, or -1 after saying why. */
static int load_regressions(const char *dir, int required,
                            kvc_golden_file *f)
{
    char src[1024], err[512];
    join_path(src, sizeof src, dir, KVC_GOLDEN_REGRESSIONS);
    if (!file_exists(src)) {
        if (required) {
            fprintf(stderr, "kvcheck golden regen: --from '%s': no %s there "
                    "(nothing written)\n", dir, KVC_GOLDEN_REGRESSIONS);
            return -1;
        }
        memset(f, 0, sizeof *f);
        snprintf(f->generator, sizeof f->generator, "kvcheck golden add");
    } else if (kvc_golden_read(src, f, err, sizeof err) != 0) {
        fprintf(stderr, "kvcheck golden regen: --from '%s': %s\n", dir, err);
        return -1;
    }
    snprintf(f->oracle_version, sizeof f->oracle_version, "%s",
             KVC_ORACLE_VERSION);
    if (reexpect(f, src, "regen") != 0) {
        kvc_golden_free(f);
        return -1;
    }
    return 0;
}

/* The merge vectors (golden/golden_merge.h). */
static int write_merge(const char *out)
{
    kvc_merge_file f;
    char err[512], path[1024];
    if (kvc_merge_golden_standard(&f) != 0) {
        fprintf(stderr, "kvcheck golden regen: merge set: out of memory\n");
        return -1;
    }
    join_path(path, sizeof path, out, KVC_MERGE_DIR);
    int rc = kvc_make_dirs(path);
    if (rc != 0)
        snprintf(err, sizeof err, "cannot create '%.400s'", path);
    join_path(path, sizeof path, out, KVC_MERGE_FILE);
    if (rc == 0)
        rc = kvc_merge_golden_write(&f, path, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "kvcheck golden regen: %s\n", err);
    else
        printf("wrote %s (%d tests)\n", path, f.num_tests);
    kvc_merge_golden_free(&f);
    return rc;
}

/* The cache operation vectors (golden/golden_cache.h): both files are
 * built before either is written. */
static int write_cache(const char *out)
{
    kvc_cache_file f[2];
    char err[512], path[1024];
    const char *names[2] = {KVC_CACHE_MANAGER_FILE, KVC_CACHE_POLICY_FILE};
    if (kvc_cache_golden_standard(KVC_CACHE_MANAGER, &f[0], err, sizeof err) != 0) {
        fprintf(stderr, "kvcheck golden regen: cache set: %s\n", err);
        return -1;
    }
    if (kvc_cache_golden_standard(KVC_CACHE_POLICY, &f[1], err, sizeof err) != 0) {
        fprintf(stderr, "kvcheck golden regen: cache set: %s\n", err);
        kvc_cache_golden_free(&f[0]);
        return -1;
    }
    join_path(path, sizeof path, out, KVC_CACHE_DIR);
    int rc = kvc_make_dirs(path);
    if (rc != 0)
        snprintf(err, sizeof err, "cannot create '%.400s'", path);
    for (int i = 0; rc == 0 && i < 2; i++) {
        join_path(path, sizeof path, out, names[i]);
        rc = kvc_cache_golden_write(&f[i], path, err, sizeof err);
        if (rc == 0)
            printf("wrote %s (%d tests)\n", path, f[i].num_tests);
    }
    if (rc != 0)
        fprintf(stderr, "kvcheck golden regen: %s\n", err);
    kvc_cache_golden_free(&f[0]);
    kvc_cache_golden_free(&f[1]);
    return rc;
}

/* Write the standard file of every mode into out. */
static int write_standard(const char *out)
{
    for (int m = 0; m < KVC_MODE_COUNT; m++) {
        kvc_golden_file f;
        char err[512], path[1024];
        if (kvc_golden_standard((kvc_mode)m, &f, err, sizeof err) != 0) {
            fprintf(stderr, "kvcheck golden regen: %s set: %s\n",
                    kvc_mode_name(m), err);
            return -1;
        }
        join_path(path, sizeof path, out, kvc_golden_file_name((kvc_mode)m));
        int rc = write_file(&f, path, "regen");
        kvc_golden_free(&f);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int cmd_regen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, 0, 'o'},
        {"from", required_argument, 0, 'f'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0}};
    const char *out = DEFAULT_DIR, *from = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'f': from = optarg; break;
        case 'h': fputs(golden_usage, stdout); return KVC_EXIT_PASS;
        case 'V': puts(KVC_VERSION); return KVC_EXIT_PASS;
        default: return usage_error("regen", argv, c);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "kvcheck golden regen: unexpected argument '%s'\n",
                argv[optind]);
        return KVC_EXIT_USAGE;
    }
    /* Everything that can fail on input is done before the first write,
     * so a bad --from leaves the golden set as it was. */
    kvc_golden_file reg;
    if (load_regressions(from ? from : out, from != NULL, &reg) != 0)
        return KVC_EXIT_IO;
    char dst[1024];
    join_path(dst, sizeof dst, out, KVC_GOLDEN_REGRESSIONS);
    int rc = KVC_EXIT_IO;
    if (kvc_make_dirs(out) != 0)
        fprintf(stderr, "kvcheck golden regen: cannot create '%s'\n", out);
    else if (write_standard(out) == 0 && write_merge(out) == 0 &&
             write_cache(out) == 0 &&
             write_file(&reg, dst, "regen") == 0)
        rc = KVC_EXIT_PASS;
    kvc_golden_free(&reg);
    return rc;
}

static int verify_paths(char **paths, int n, const kvc_verify_select *sel,
                        int verbose, const kvc_verify_kernel *vk)
{
    kvc_verify_counts counts = {0};
    kvc_golden_verify_paths(paths, n, vk, sel, verbose,
                            "kvcheck golden verify", &counts);
    int rc = kvc_verify_exit_status(&counts);
    printf("golden verify (%s): %d files, %d passed, %d failed, %d skipped "
           "(other modes or formats), %d not covered (outside the kernel's "
           "claim), %d acceptable tests refused, %d unreadable files\n",
           vk->k ? vk->k->name : vk->kernel_lib, n, counts.passed, counts.failed,
           counts.skipped, counts.outside_claim, counts.refused_acceptable,
           counts.unreadable);
    printf("%s\n", rc == KVC_EXIT_PASS  ? "PASSED"
                  : rc == KVC_EXIT_NOTHING ? "NOTHING CHECKED: no test selected"
                                           : "FAILED");
    return rc;
}

static int cmd_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"kernel", required_argument, 0, 'k'},
        {"verbose", no_argument, 0, 'v'},
        {"kernel-lib", required_argument, 0, 'L'},
        {"kv-dtype", required_argument, 0, 'D'},
        {"jobs", required_argument, 0, 'j'},
        {"timeout", required_argument, 0, 'T'},
        {"profile", required_argument, 0, 'P'},
        {"kernel-threads", required_argument, 0, 'N'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0}};
    kvc_verify_select sel = {-1, 0};
    int profile = -1, threads = 0;
    int jobs = kvc_cpus_available();
    double timeout = 0;
    int verbose = 0, c;
    const char *kernel_lib = NULL;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hv", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (kvc_parse_kernel("golden verify", optarg, &sel.mode))
                return KVC_EXIT_USAGE;
            break;
        case 'D':
            if (kvc_parse_kv_dtypes("golden verify", optarg, &sel.kv_dtypes))
                return KVC_EXIT_USAGE;
            break;
        case 'v': verbose = 1; break;
        case 'L': kernel_lib = optarg; break;
        case 'j':
            if (kvc_parse_int("golden verify", "--jobs", optarg, 1, 1024,
                              &jobs))
                return KVC_EXIT_USAGE;
            break;
        case 'T':
            if (kvc_parse_seconds("golden verify", "--timeout", optarg,
                                  &timeout))
                return KVC_EXIT_USAGE;
            break;
        case 'P':
            if (kvc_parse_profile("golden verify", optarg, &profile))
                return KVC_EXIT_USAGE;
            break;
        case 'N':
            if (kvc_parse_int("golden verify", "--kernel-threads", optarg, 1,
                              1024, &threads))
                return KVC_EXIT_USAGE;
            break;
        case 'h': fputs(golden_usage, stdout); return KVC_EXIT_PASS;
        case 'V': puts(KVC_VERSION); return KVC_EXIT_PASS;
        default: return usage_error("verify", argv, c);
        }
    }
    /* The library is probed in a child and loaded by each worker: its code
     * never runs in this process. */
    kva_caps claim;
    int rc = kvc_resolve_claim("golden verify", kernel_lib, profile, &claim);
    if (rc >= 0)
        return rc;
    kvc_verify_kernel vk = {kernel_lib ? NULL : &kvc_builtin_kernel,
                            kernel_lib, jobs, timeout, &claim, threads};
    if (optind < argc) {
        rc = verify_paths(argv + optind, argc - optind, &sel, verbose, &vk);
    } else {
        glob_t g;
        if (glob(DEFAULT_DIR "/*.json", 0, NULL, &g) != 0) {
            fprintf(stderr, "kvcheck golden verify: no files match %s/*.json "
                            "(run from the source tree, or name the files)\n",
                    DEFAULT_DIR);
            rc = KVC_EXIT_IO;
        } else {
            /* the merge vectors, in their own folder (none: none to run) */
            glob(DEFAULT_DIR "/" KVC_MERGE_DIR "/*.json", GLOB_APPEND, NULL, &g);
            /* and the cache operation vectors, in theirs */
            glob(DEFAULT_DIR "/" KVC_CACHE_DIR "/*.json", GLOB_APPEND, NULL, &g);
            rc = verify_paths(g.gl_pathv, (int)g.gl_pathc, &sel, verbose, &vk);
            globfree(&g);
        }
    }
    return rc;
}

/* Append the tests of add to dst with fresh tcIds. */
static int append_tests(kvc_golden_file *dst, kvc_golden_file *add)
{
    int next_id = 1;
    for (int i = 0; i < dst->num_tests; i++)
        if (dst->tests[i].tc_id >= next_id)
            next_id = dst->tests[i].tc_id + 1;
    for (int i = 0; i < add->num_tests; i++) {
        add->tests[i].tc_id = next_id++;
        if (kvc_golden_append(dst, &add->tests[i]) != 0) {
            fprintf(stderr, "kvcheck golden add: out of memory\n");
            return -1;
        }
    }
    return 0;
}

/* `golden add SRC --to TO`: every failure is an I/O or internal error. */
static int add_file(const char *src, const char *to)
{
    char err[512];
    kvc_golden_file add, dst;
    if (kvc_golden_read(src, &add, err, sizeof err) != 0) {
        fprintf(stderr, "kvcheck golden add: %s\n", err);
        return KVC_EXIT_IO;
    }
    if (!file_exists(to)) {
        memset(&dst, 0, sizeof dst);
        snprintf(dst.generator, sizeof dst.generator, "kvcheck golden add");
    } else if (kvc_golden_read(to, &dst, err, sizeof err) != 0) {
        fprintf(stderr, "kvcheck golden add: %s\n", err);
        kvc_golden_free(&add);
        return KVC_EXIT_IO;
    }
    snprintf(dst.oracle_version, sizeof dst.oracle_version, "%s",
             KVC_ORACLE_VERSION);
    int ok = reexpect(&add, src, "add") == 0 && append_tests(&dst, &add) == 0 &&
             write_file(&dst, to, "add") == 0;
    kvc_golden_free(&add);
    kvc_golden_free(&dst);
    return ok ? KVC_EXIT_PASS : KVC_EXIT_IO;
}

static int cmd_add(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"to", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0}};
    const char *to = DEFAULT_DIR "/" KVC_GOLDEN_REGRESSIONS;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 't': to = optarg; break;
        case 'h': fputs(golden_usage, stdout); return KVC_EXIT_PASS;
        case 'V': puts(KVC_VERSION); return KVC_EXIT_PASS;
        default: return usage_error("add", argv, c);
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "kvcheck golden add: name exactly one FILE.json\n\n%s",
                golden_usage);
        return KVC_EXIT_USAGE;
    }
    return add_file(argv[optind], to);
}

int kvc_cmd_golden(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "kvcheck golden: name a subcommand\n\n%s",
                golden_usage);
        return KVC_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        fputs(golden_usage, stdout);
        return KVC_EXIT_PASS;
    }
    if (!strcmp(sub, "--version")) {
        puts(KVC_VERSION);
        return KVC_EXIT_PASS;
    }
    if (!strcmp(sub, "regen"))
        return cmd_regen(argc - 1, argv + 1);
    if (!strcmp(sub, "verify"))
        return cmd_verify(argc - 1, argv + 1);
    if (!strcmp(sub, "add"))
        return cmd_add(argc - 1, argv + 1);
    fprintf(stderr, "kvcheck golden: unknown subcommand '%s'\n\n%s", sub,
            golden_usage);
    return KVC_EXIT_USAGE;
}
