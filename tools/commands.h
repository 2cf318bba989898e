/* commands.h — the kvcheck subcommands; each takes argv after its name
 * (argv[0] is the subcommand) and returns the process exit status. */
#ifndef KVC_COMMANDS_H
#define KVC_COMMANDS_H

/* Exit statuses, the same for every command (CI reads them). When several
 * apply, the lowest wins: a failed case is never hidden by an I/O error. */
enum {
    KVC_EXIT_PASS = 0,      /* every checked case passed */
    KVC_EXIT_FAIL = 1,      /* a case failed */
    KVC_EXIT_USAGE = 2,     /* bad usage: an option, a value, an argument */
    KVC_EXIT_IO = 3,        /* a file could not be read or written, or an
                               internal error */
    KVC_EXIT_NOTHING = 4    /* nothing was checked */
};

#define KVC_EXIT_HELP \
    "Exit status: 0 every checked case passed, 1 a case failed, 2 usage\n" \
    "error, 3 I/O or internal error, 4 nothing was checked.\n"

int kvc_cmd_run(int argc, char **argv);
int kvc_cmd_replay(int argc, char **argv);
int kvc_cmd_golden(int argc, char **argv);
int kvc_cmd_shrink(int argc, char **argv);
int kvc_cmd_bench(int argc, char **argv);
int kvc_cmd_mutants(int argc, char **argv);
int kvc_cmd_case(int argc, char **argv);

/* mkdir -p; returns 0 or -1. */
int kvc_make_dirs(const char *path);

#endif
