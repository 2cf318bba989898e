/* kvcheck_main.c — the kvcheck command line: dispatch to subcommands. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "guard.h"

static const char usage[] =
    "usage: kvcheck COMMAND [OPTIONS]\n"
    "\n"
    "Cross-checks KV-cache attention kernels (libkvattn) against a\n"
    "double-precision naive oracle.\n"
    "\n"
    "commands:\n"
    "  run      run a cross-check campaign of generated cases\n"
    "  replay   run one case of a campaign (or a reproducer file) alone\n"
    "  shrink   shrink a failing case to a small reproducer file\n"
    "  golden   regenerate, verify or extend the golden vectors\n"
    "  help     this text\n"
    "\n"
    "'kvcheck COMMAND --help' describes a command's options.\n"
    "Exit status: 0 all cases passed, 1 a case failed, 2 bad usage.\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    /* A kernel that runs into a guard page kills the command by SIGSEGV
     * (tools/guard.h); first say which buffer it ran off. */
    kvc_guard_install_fault_reporter();
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "run"))
        return kvc_cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "replay"))
        return kvc_cmd_replay(argc - 1, argv + 1);
    if (!strcmp(cmd, "shrink"))
        return kvc_cmd_shrink(argc - 1, argv + 1);
    if (!strcmp(cmd, "golden"))
        return kvc_cmd_golden(argc - 1, argv + 1);
    fprintf(stderr, "kvcheck: unknown command '%s'\n\n%s", cmd, usage);
    return 2;
}
