/*
 * test_cli.c — the kvcheck command line as a person and a CI job use it:
 * build/kvcheck runs as a subprocess and its exit status, output and files
 * are checked. Printed commands must run as printed (quoted, with every
 * option the result depends on), integer options must not wrap, exit
 * statuses must say what happened, and a bad --from must change nothing.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tools/campaign.h"
#include "../tools/cli_parse.h"
#include "../tools/kernel_lib.h"
#include "../tools/shell_quote.h"
#include "../tools/version.h"

#ifndef KVC_BUILD_DIR
#define KVC_BUILD_DIR "build"
#endif

#define KVCHECK KVC_BUILD_DIR "/kvcheck"
#define PLANTED_SO KVC_BUILD_DIR "/tests/libkvattn_planted_no_rescale.so"

typedef struct run_out {
    int status;       /* exit status; 128 + signal when killed */
    char out[32768];  /* the start of stdout */
    char err[8192];   /* the start of stderr */
} run_out;

static void slurp(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = '\0';
    fclose(f);
}

/* Run argv (argv[0] a path) with stdout and stderr captured; path_dir,
 * when given, goes in front of PATH (for `sh -c` of a printed command). */
static void run_argv(char *const argv[], const char *path_dir, run_out *r)
{
    char o[] = "/tmp/kvc-cli-out-XXXXXX", e[] = "/tmp/kvc-cli-err-XXXXXX";
    int fo = mkstemp(o), fe = mkstemp(e);
    cr_assert(fo >= 0 && fe >= 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(fo, 1);
        dup2(fe, 2);
        if (path_dir) {
            char path[8192];
            snprintf(path, sizeof path, "%s:%s", path_dir,
                     getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
            setenv("PATH", path, 1);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    int ws;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    close(fo);
    close(fe);
    slurp(o, r->out, sizeof r->out);
    slurp(e, r->err, sizeof r->err);
    unlink(o);
    unlink(e);
}

#define KV(...) run_argv((char *const[]){KVCHECK, __VA_ARGS__, NULL}, NULL, &r)

/* Run a command line printed by kvcheck, with build/ first in PATH so
 * that its leading "kvcheck" is the one under test. */
static void run_printed(const char *cmd, run_out *r)
{
    char bin[PATH_MAX];
    cr_assert_not_null(realpath(KVC_BUILD_DIR, bin));
    run_argv((char *const[]){"/bin/sh", "-c", (char *)cmd, NULL}, bin, r);
}

static int rm_one(const char *p, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(p);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A temp dir holding "my lib's dir/libplanted.so": a path that any
 * unquoted or half-quoted command splits or breaks. */
static void planted_in_odd_dir(char *root, size_t nroot, char *lib,
                               size_t nlib, char *dir, size_t ndir)
{
    snprintf(root, nroot, "/tmp/kvc-cli-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    snprintf(dir, ndir, "%s/my lib's dir", root);
    cr_assert_eq(mkdir(dir, 0755), 0);
    snprintf(lib, nlib, "%s/libplanted.so", dir);
    char src[PATH_MAX];
    cr_assert_not_null(realpath(PLANTED_SO, src));
    run_out r;
    run_argv((char *const[]){"/bin/cp", src, lib, NULL}, NULL, &r);
    cr_assert_eq(r.status, 0, "cp: %s", r.err);
}

/* The value of the first line of text that starts with prefix. */
static void line_after(const char *text, const char *prefix, char *buf,
                       size_t n)
{
    const char *p = strstr(text, prefix);
    cr_assert_not_null(p, "no '%s' in:\n%s", prefix, text);
    p += strlen(prefix);
    size_t len = strcspn(p, "\n");
    cr_assert_lt(len, n);
    memcpy(buf, p, len);
    buf[len] = '\0';
}

/* --- 1. quoting and complete commands ---------------------------------- */

Test(cli, shell_quote_words)
{
    char b[64];
    cr_assert_eq(kvc_shell_quote("a-b_c/d.so:x=1,@%+", b, sizeof b), 18);
    cr_assert_str_eq(b, "a-b_c/d.so:x=1,@%+");
    kvc_shell_quote("my lib", b, sizeof b);
    cr_assert_str_eq(b, "'my lib'");
    kvc_shell_quote("it's", b, sizeof b);
    cr_assert_str_eq(b, "'it'\\''s'");
    kvc_shell_quote("", b, sizeof b);
    cr_assert_str_eq(b, "''");
    kvc_shell_quote("$x`y`*", b, sizeof b);
    cr_assert_str_eq(b, "'$x`y`*'");
    /* cut: the length says so, the buffer stays a C string */
    cr_assert_eq(kvc_shell_quote("a b c", b, 4), 7);
    cr_assert_eq(strlen(b), 3);
}

Test(cli, shell_append_reports_truncation_and_keeps_the_buffer)
{
    char b[22] = "kvcheck replay";
    cr_assert_eq(kvc_shell_append_opt(b, sizeof b, "--case", "7"), -1);
    cr_assert_str_eq(b, "kvcheck replay");
    char c[40] = "kvcheck replay";
    cr_assert_eq(kvc_shell_append_opt(c, sizeof c, "--kernel-lib", "a b"), 0);
    cr_assert_str_eq(c, "kvcheck replay --kernel-lib 'a b'");
}

/* A replay command that does not fit is a note, never a cut command that
 * would silently replay the in-tree kernel. */
Test(cli, replay_command_too_long_is_not_a_command)
{
    char lib[600];
    memset(lib, 'x', sizeof lib - 1);
    lib[sizeof lib - 1] = '\0';
    kvc_campaign_opts o = {.seed = 7, .forced_mode = -1, .kernel_lib = lib};
    char buf[512];
    kvc_replay_command(&o, 12, buf, sizeof buf);
    cr_assert(strncmp(buf, "kvcheck", 7) != 0, "%s", buf);
    cr_assert(strstr(buf, "12") != NULL, "%s", buf);
}

/* `run` prints a replay line per failure; run through sh it must load the
 * same library and fail again (old code: unquoted, so sh cannot parse it). */
Test(cli, run_replay_command_runs_in_sh_and_fails_again, .timeout = 120)
{
    char root[64], lib[PATH_MAX], dir[PATH_MAX], cmd[2048];
    planted_in_odd_dir(root, sizeof root, lib, sizeof lib, dir, sizeof dir);
    run_out r;
    KV("run", "--kernel-lib", lib, "--cases", "50", "--kernel", "paged",
       "--no-report", "--no-progress", "--max-failures", "1");
    cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
    line_after(r.out, "  replay: ", cmd, sizeof cmd);
    run_printed(cmd, &r);
    cr_assert_eq(r.status, 1, "`%s` exited %d:\n%s%s", cmd, r.status, r.out,
                 r.err);
    cr_assert(strstr(r.out, "outcome: numeric") != NULL, "%s", r.out);
    rm_tree(root);
}

/* `shrink` prints how to replay its file; followed through sh it must
 * fail as the original did (old code: no --kernel-lib, so it passed). */
Test(cli, shrink_replay_command_carries_quoted_kernel_lib, .timeout = 120)
{
    char root[64], lib[PATH_MAX], dir[PATH_MAX], cmd[4096],
        out[PATH_MAX + 16], idx[1024];
    planted_in_odd_dir(root, sizeof root, lib, sizeof lib, dir, sizeof dir);
    run_out r;
    KV("run", "--kernel-lib", lib, "--cases", "50", "--kernel", "paged",
       "--no-report", "--no-progress", "--max-failures", "1");
    cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
    line_after(r.out, "FAIL case ", idx, sizeof idx);
    idx[strcspn(idx, " ")] = '\0';
    /* a plain file path: the old command ran as printed, without the
     * library, and passed */
    snprintf(out, sizeof out, "%s/repro.json", root);
    KV("shrink", "--seed", "1", "--case", idx, "--kernel", "paged",
       "--kernel-lib", lib, "--out", out);
    int shrink_status = r.status;
    line_after(r.out, "  run:  ", cmd, sizeof cmd);
    run_printed(cmd, &r);
    cr_assert_eq(r.status, 1, "`%s` exited %d:\n%s%s", cmd, r.status, r.out,
                 r.err);
    cr_assert(strstr(r.out, "0 passed, 1 failed") != NULL, "%s", r.out);
    /* exit 1: the case failed (its reproducer is written) */
    cr_assert_eq(shrink_status, 1);
    rm_tree(root);
}

Test(cli, shrink_of_a_passing_case_exits_0_and_writes_nothing, .timeout = 60)
{
    char root[] = "/tmp/kvc-cli-XXXXXX", out[128];
    cr_assert_not_null(mkdtemp(root));
    snprintf(out, sizeof out, "%s/r.json", root);
    run_out r;
    KV("shrink", "--seed", "1", "--case", "0", "--out", out);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert_neq(access(out, F_OK), 0);
    rm_tree(root);
}

/* --- 2. integers do not wrap ------------------------------------------ */

Test(cli, shard_that_overflows_int_is_refused)
{
    int i = -1, n = -1;
    cr_assert_eq(kvc_parse_shard("run", "4294967297/4294967298", &i, &n), -1);
    cr_assert_eq(kvc_parse_shard("run", "1/2x", &i, &n), -1);
    cr_assert_eq(kvc_parse_shard("run", "-1/2", &i, &n), -1);
    cr_assert_eq(kvc_parse_shard("run", "3/8", &i, &n), 0);
    cr_assert(i == 3 && n == 8);
    run_out r;
    KV("run", "--shard", "4294967297/4294967298", "--cases", "2",
       "--no-report", "--no-progress");
    cr_assert_eq(r.status, 2, "old code ran shard 1/2: %s", r.out);
    cr_assert(strstr(r.err, "kvcheck run: --shard '4294967297/4294967298'"),
              "%s", r.err);
}

Test(cli, integer_options_are_digits_only)
{
    uint64_t v;
    int x;
    cr_assert_eq(kvc_parse_u64("replay", "--seed", " -1", &v), -1);
    cr_assert_eq(kvc_parse_u64("replay", "--seed", "+1", &v), -1);
    cr_assert_eq(kvc_parse_u64("replay", "--seed", "18446744073709551616", &v),
                 -1);
    cr_assert_eq(kvc_parse_u64("replay", "--seed", "18446744073709551615", &v),
                 0);
    cr_assert_eq(v, UINT64_MAX);
    cr_assert_eq(kvc_parse_int("run", "--max-failures", "2147483648", 0,
                               INT_MAX, &x), -1);
    run_out r;
    KV("replay", "--seed", " -1", "--case", "0");
    cr_assert_eq(r.status, 2, "old code replayed seed 2^64-1: %s", r.out);
    cr_assert(strstr(r.err, "kvcheck replay: --seed ' -1'"), "%s", r.err);
    KV("shrink", "--seed", "1", "--case", "99999999999999999999");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "kvcheck shrink: --case '99999999999999999999'"),
              "%s", r.err);
}

/* --- 3. --version ------------------------------------------------------ */

Test(cli, version_everywhere)
{
    run_out r;
    KV("--version");
    cr_assert_eq(r.status, 0);
    cr_assert_str_eq(r.out, KVC_VERSION "\n");
    const char *cmds[][3] = {{"run", "--version", NULL},
                             {"replay", "--version", NULL},
                             {"shrink", "--version", NULL},
                             {"golden", "--version", NULL},
                             {"golden", "verify", "--version"},
                             {"golden", "regen", "--version"}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        run_argv((char *const[]){KVCHECK, (char *)cmds[i][0],
                                 (char *)cmds[i][1], (char *)cmds[i][2], NULL},
                 NULL, &r);
        cr_assert_eq(r.status, 0, "%s %s: %s", cmds[i][0], cmds[i][1], r.err);
        cr_assert_str_eq(r.out, KVC_VERSION "\n", "%s %s", cmds[i][0],
                         cmds[i][1]);
    }
    cr_assert(strncmp(KVC_VERSION, "kvcheck ", 8) == 0);
}

/* --- 4. messages and exit statuses ------------------------------------- */

Test(cli, option_errors_name_the_command)
{
    const char *cmds[][3] = {{"replay", "--bogus", "kvcheck replay: "},
                             {"shrink", "--bogus", "kvcheck shrink: "},
                             {"replay", "--seed", "kvcheck replay: "}};
    run_out r;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        KV((char *)cmds[i][0], (char *)cmds[i][1]);
        cr_assert_eq(r.status, 2);
        cr_assert(strncmp(r.err, cmds[i][2], strlen(cmds[i][2])) == 0,
                  "%s %s: %s", cmds[i][0], cmds[i][1], r.err);
        cr_assert(strstr(r.err, cmds[i][1]) != NULL, "%s", r.err);
    }
    const char *subs[] = {"verify", "regen", "add"};
    for (size_t i = 0; i < 3; i++) {
        KV("golden", (char *)subs[i], "--bogus");
        cr_assert_eq(r.status, 2);
        char want[64];
        snprintf(want, sizeof want, "kvcheck golden %s: unknown option '--bogus'",
                 subs[i]);
        cr_assert(strncmp(r.err, want, strlen(want)) == 0, "%s", r.err);
    }
}

Test(cli, help_documents_every_exit_status)
{
    const char *cmds[][2] = {{"--help", NULL}, {"replay", "--help"},
                             {"shrink", "--help"}, {"golden", "--help"}};
    run_out r;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        run_argv((char *const[]){KVCHECK, (char *)cmds[i][0],
                                 (char *)cmds[i][1], NULL}, NULL, &r);
        cr_assert_eq(r.status, 0);
        cr_assert(strstr(r.out, "3 I/O or internal error") &&
                  strstr(r.out, "4 nothing was checked"), "%s: %s",
                  cmds[i][0], r.out);
    }
}

Test(cli, golden_verify_of_nothing_exits_4, .timeout = 60)
{
    run_out r;
    KV("golden", "verify", "--kernel", "blocked",
       "golden/vectors/paged_attention.json");
    cr_assert_eq(r.status, 4, "old code said PASSED: %s", r.out);
    cr_assert(strstr(r.out, "PASSED") == NULL, "%s", r.out);
}

Test(cli, golden_verify_of_an_unreadable_file_exits_3)
{
    run_out r;
    KV("golden", "verify", "/nonexistent/kvc-cli.json");
    cr_assert_eq(r.status, 3, "%s%s", r.out, r.err);
    cr_assert(strstr(r.err, "kvcheck golden verify: /nonexistent/kvc-cli.json"),
              "%s", r.err);
    KV("replay", "/nonexistent/kvc-cli.json");
    cr_assert_eq(r.status, 3, "%s%s", r.out, r.err);
}

/* --- 5. a library name without a slash --------------------------------- */

Test(cli, bare_kernel_lib_name_gets_a_hint)
{
    kvc_kernel k;
    void *h;
    char err[1024];
    cr_assert_eq(kvc_kernel_load("libkvc_cli_none.so", &k, &h, err, sizeof err),
                 -1);
    cr_assert(strstr(err, "did you mean ./libkvc_cli_none.so?"), "%s", err);
    cr_assert_eq(kvc_kernel_load("/nonexistent/libx.so", &k, &h, err,
                                 sizeof err), -1);
    cr_assert(strstr(err, "did you mean") == NULL, "%s", err);
    run_out r;
    KV("replay", "--seed", "1", "--case", "0", "--kernel-lib",
       "libkvc_cli_none.so");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "kvcheck replay: ") == r.err, "%s", r.err);
    cr_assert(strstr(r.err, "library path"), "%s", r.err);
}

/* --- 6. regen --from a missing or empty dir ---------------------------- */

static void regen_from_changes_nothing(const char *from_leaf, int make_it)
{
    char root[] = "/tmp/kvc-cli-XXXXXX", out[128], from[128];
    cr_assert_not_null(mkdtemp(root));
    snprintf(out, sizeof out, "%s/vectors", root);
    snprintf(from, sizeof from, "%s/%s", root, from_leaf);
    if (make_it)
        cr_assert_eq(mkdir(from, 0755), 0);
    run_out r;
    run_argv((char *const[]){"/bin/cp", "-r", "golden/vectors", out, NULL},
             NULL, &r);
    cr_assert_eq(r.status, 0, "%s", r.err);
    KV("golden", "regen", "--from", from, "--out", out);
    cr_assert_eq(r.status, 3, "old code wrote 0 regressions: %s", r.out);
    cr_assert(strstr(r.err, from) != NULL, "%s", r.err);
    run_argv((char *const[]){"/usr/bin/diff", "-r", "golden/vectors", out,
                             NULL}, NULL, &r);
    cr_assert_eq(r.status, 0, "regen changed files:\n%s", r.out);
    rm_tree(root);
}

Test(cli, regen_from_missing_dir_changes_nothing, .timeout = 120)
{
    regen_from_changes_nothing("missing", 0);
}

Test(cli, regen_from_empty_dir_changes_nothing, .timeout = 120)
{
    regen_from_changes_nothing("empty", 1);
}

/* --- 7. the repository stands alone ------------------------------------ */

/* The design document is docs/architecture.md; nothing may point to the
 * sibling folder the project was started from, which a clone lacks. */
Test(cli, nothing_points_outside_the_repository)
{
    char pattern[32];
    snprintf(pattern, sizeof pattern, "../%s/", "shared"); /* not a hit here */
    run_out r;
    run_argv((char *const[]){"/bin/grep", "-rnF", "--exclude-dir=.git",
                             "--exclude-dir=build", pattern, ".", NULL},
             NULL, &r);
    cr_assert_eq(r.status, 1, "grep found:\n%s%s", r.out, r.err);
    cr_assert_eq(access("docs/architecture.md", R_OK), 0);
}
