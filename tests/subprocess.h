/*
 * subprocess.h — run a command (build/kvcheck) from a test: extra
 * environment, stdout and stderr captured whole, a time limit, and a way
 * to signal it mid-run. For tests of what a process does as a whole: its
 * exit status, its output, the files it leaves.
 */
#ifndef KVC_TEST_SUBPROCESS_H
#define KVC_TEST_SUBPROCESS_H

#include <sys/types.h>

typedef struct kvc_proc {
    pid_t pid;
    char out_path[64], err_path[64];
    int status;      /* waitpid status, once finished */
    int timed_out;   /* killed at the time limit */
    char *out, *err; /* captured output, NUL-terminated (after wait) */
} kvc_proc;

/* Start argv (argv[0] a path) with the extra "NAME=VALUE" strings of env
 * (NULL-terminated, may be NULL). Returns 0 or -1. */
int kvc_proc_start(kvc_proc *p, const char *const *argv,
                   const char *const *env);

/* The same with stderr sent to the same file as stdout (as a terminal or a
 * CI log shows them): p->out gets both, p->err is empty. */
int kvc_proc_start_merged(kvc_proc *p, const char *const *argv,
                          const char *const *env);

/* Wait up to timeout_s seconds (then SIGKILL), read the output. */
int kvc_proc_wait(kvc_proc *p, double timeout_s);

/* start + wait. */
int kvc_proc_run(kvc_proc *p, const char *const *argv, const char *const *env,
                 double timeout_s);

/* The exit status, or -1 when the process died by a signal. */
int kvc_proc_exit_code(const kvc_proc *p);
/* The signal that killed it, or 0. */
int kvc_proc_signal(const kvc_proc *p);

void kvc_proc_free(kvc_proc *p);

/* Read a whole file (malloc'd, NUL-terminated) or NULL. */
char *kvc_read_file(const char *path);

#endif
