/* kernel_probe.c — load a kernel library in a child process. */
#include "kernel_probe.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernel_lib.h"
#include "workers.h"

/* Seconds a library may take to load (its constructors included). */
#define PROBE_DEADLINE 60
#define PROBE_OK "kvcheck-probe-ok"

static _Noreturn void probe_child(const char *path, int fd)
{
    kvc_kernel k;
    void *h;
    char err[512];
    dup2(STDERR_FILENO, STDOUT_FILENO);
    if (kvc_kernel_load(path, &k, &h, err, sizeof err) != 0) {
        ssize_t w = write(fd, err, strnlen(err, sizeof err));
        _exit(w < 0 ? 2 : 1);
    }
    /* A constructor may itself exit(0): success is this word (and the
     * claim the library made), not the status alone. */
    char rec[sizeof PROBE_OK + sizeof(kva_caps)];
    memcpy(rec, PROBE_OK, sizeof PROBE_OK);
    memcpy(rec + sizeof PROBE_OK, &k.caps, sizeof k.caps);
    ssize_t w = write(fd, rec, sizeof rec);
    _exit(w != (ssize_t)sizeof rec ? 2 : 0);
}

/* Wait for pid up to PROBE_DEADLINE seconds; kill it after. */
static int wait_deadline(pid_t pid, int *status)
{
    for (int i = 0; i < PROBE_DEADLINE * 100; i++) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, status, 0);
    return -1;
}

/* Everything the child wrote, up to n bytes; returns the count. */
static size_t read_all(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

int kvc_kernel_probe(const char *path, kva_caps *caps, char *err,
                     size_t errlen)
{
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(err, errlen, "cannot probe %s: %s", path, strerror(errno));
        return KVC_PROBE_CRASHED;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        snprintf(err, errlen, "cannot probe %s: %s", path, strerror(errno));
        return KVC_PROBE_CRASHED;
    }
    if (pid == 0) {
        close(fds[0]);
        probe_child(path, fds[1]);
    }
    close(fds[1]);
    int status = 0;
    int finished = wait_deadline(pid, &status) == 0;
    char msg[sizeof PROBE_OK + sizeof(kva_caps) + 512];
    size_t n = read_all(fds[0], msg, sizeof msg - 1);
    close(fds[0]);
    msg[n] = '\0';
    if (!finished) {
        snprintf(err, errlen, "loading %s did not finish within %d s (does "
                 "a constructor hang?)", path, PROBE_DEADLINE);
        return KVC_PROBE_CRASHED;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
        n == sizeof PROBE_OK + sizeof(kva_caps) &&
        memcmp(msg, PROBE_OK, sizeof PROBE_OK) == 0) {
        if (caps)
            memcpy(caps, msg + sizeof PROBE_OK, sizeof *caps);
        return KVC_PROBE_OK;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 1 && n > 0) {
        snprintf(err, errlen, "%s", msg);
        return KVC_PROBE_REFUSED;
    }
    if (WIFSIGNALED(status))
        snprintf(err, errlen, "loading %s killed the process with %s (%s)",
                 path, kvc_signal_name(WTERMSIG(status)),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(err, errlen, "loading %s ended the process with status %d "
                 "(a constructor called exit?)", path,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return KVC_PROBE_CRASHED;
}
