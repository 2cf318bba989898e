/* kvcheck_main.c — the kvcheck command line: dispatch to subcommands. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "guard.h"
#include "version.h"

static const char usage[] =
    "usage: kvcheck COMMAND [OPTIONS]\n"
    "       kvcheck --version\n"
    "\n"
    "Cross-checks KV-cache attention kernels (libkvattn) against a\n"
    "double-precision naive oracle.\n"
    "\n"
    "commands:\n"
    "  run      run a cross-check campaign of generated cases\n"
    "  replay   run one case of a campaign (or a reproducer file) alone\n"
    "  shrink   shrink a failing case to a small reproducer file\n"
    "  case     write a targeted case (a reproducer file) from options\n"
    "  golden   regenerate, verify or extend the golden vectors\n"
    "  bench    kernel speed against this machine's ceilings and the oracle\n"
    "  mutants  the suite's power: planted libkvattn bugs killed or survived\n"
    "  help     this text\n"
    "\n"
    "'kvcheck COMMAND --help' describes a command's options.\n"
    KVC_EXIT_HELP;

typedef int (*command_fn)(int argc, char **argv);

static command_fn find_command(const char *name)
{
    static const struct { const char *name; command_fn fn; } table[] = {
        {"run", kvc_cmd_run},
        {"replay", kvc_cmd_replay},
        {"shrink", kvc_cmd_shrink},
        {"golden", kvc_cmd_golden},
        {"bench", kvc_cmd_bench},
        {"mutants", kvc_cmd_mutants},
        {"case", kvc_cmd_case},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(name, table[i].name))
            return table[i].fn;
    return NULL;
}

int main(int argc, char **argv)
{
    /* Every line reaches a log as soon as it is printed: a run stopped by a
     * CI time-out keeps what it found, and stderr never splits a line. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        fprintf(stderr, "kvcheck: name a command\n\n%s", usage);
        return KVC_EXIT_USAGE;
    }
    /* A kernel that runs into a guard page kills the command by SIGSEGV
     * (tools/guard.h); first say which buffer it ran off. */
    kvc_guard_install_fault_reporter();
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(usage, stdout);
        return KVC_EXIT_PASS;
    }
    command_fn fn = find_command(cmd);
    /* `kvcheck --version` and `kvcheck COMMAND --version` answer here, for
     * every command alike; a command also takes --version among its
     * options where it parses them itself. */
    if (!strcmp(cmd, "--version") ||
        (fn && argc > 2 && !strcmp(argv[2], "--version"))) {
        puts(KVC_VERSION);
        return KVC_EXIT_PASS;
    }
    if (fn)
        return fn(argc - 1, argv + 1);
    fprintf(stderr, "kvcheck: unknown command '%s'\n\n%s", cmd, usage);
    return KVC_EXIT_USAGE;
}
