/* commands.h — the kvcheck subcommands; each takes argv after its name
 * (argv[0] is the subcommand) and returns the process exit status. */
#ifndef KVC_COMMANDS_H
#define KVC_COMMANDS_H

int kvc_cmd_run(int argc, char **argv);
int kvc_cmd_replay(int argc, char **argv);
int kvc_cmd_golden(int argc, char **argv);
int kvc_cmd_shrink(int argc, char **argv);

/* mkdir -p; returns 0 or -1. */
int kvc_make_dirs(const char *path);

#endif
