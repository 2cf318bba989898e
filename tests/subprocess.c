/* subprocess.c — run a command from a test (subprocess.h). */
#include "subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char *kvc_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static int temp_file(char *path, size_t n, const char *what)
{
    snprintf(path, n, "/tmp/kvcheck-test-%s-XXXXXX", what);
    int fd = mkstemp(path);
    return fd;
}

static int start(kvc_proc *p, const char *const *argv,
                 const char *const *env, int merged)
{
    memset(p, 0, sizeof *p);
    int out = temp_file(p->out_path, sizeof p->out_path, "out");
    int err = temp_file(p->err_path, sizeof p->err_path, "err");
    if (out < 0 || err < 0)
        return -1;
    fflush(NULL);
    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        dup2(out, STDOUT_FILENO);
        dup2(merged ? out : err, STDERR_FILENO);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, STDIN_FILENO);
        for (size_t i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(out);
    close(err);
    return 0;
}

int kvc_proc_start(kvc_proc *p, const char *const *argv,
                   const char *const *env)
{
    return start(p, argv, env, 0);
}

int kvc_proc_start_merged(kvc_proc *p, const char *const *argv,
                          const char *const *env)
{
    return start(p, argv, env, 1);
}

int kvc_proc_wait(kvc_proc *p, double timeout_s)
{
    struct timespec ts = {0, 10000000};
    double waited = 0;
    for (;;) {
        pid_t r = waitpid(p->pid, &p->status, WNOHANG);
        if (r == p->pid)
            break;
        if (r < 0 && errno != EINTR)
            return -1;
        if (waited > timeout_s) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &p->status, 0);
            p->timed_out = 1;
            break;
        }
        nanosleep(&ts, NULL);
        waited += 0.01;
    }
    p->out = kvc_read_file(p->out_path);
    p->err = kvc_read_file(p->err_path);
    return p->out && p->err ? 0 : -1;
}

int kvc_proc_run(kvc_proc *p, const char *const *argv, const char *const *env,
                 double timeout_s)
{
    if (kvc_proc_start(p, argv, env) != 0)
        return -1;
    return kvc_proc_wait(p, timeout_s);
}

int kvc_proc_exit_code(const kvc_proc *p)
{
    return WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1;
}

int kvc_proc_signal(const kvc_proc *p)
{
    return WIFSIGNALED(p->status) ? WTERMSIG(p->status) : 0;
}

void kvc_proc_free(kvc_proc *p)
{
    free(p->out);
    free(p->err);
    if (p->out_path[0])
        unlink(p->out_path);
    if (p->err_path[0])
        unlink(p->err_path);
    memset(p, 0, sizeof *p);
}
