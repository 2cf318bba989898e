/* workers.c — the fork server of workers.h: spawning, the pipe protocol,
 * deaths and deadlines, in-order commits. */
#include "workers.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define HAVE_VALGRIND_H 1
#endif
#endif

/* ---- the pipe protocol -------------------------------------------------
 * parent -> worker: a job number (8 bytes); end of file = no more jobs.
 * worker -> parent: messages, each a header and `len` payload bytes. */
#define MSG_MAGIC 0x6B76636Bu /* "kvck" */
enum { MSG_READY = 1, MSG_INIT_FAILED, MSG_NOTE, MSG_RESULT, MSG_MEMCHECK };

typedef struct msg_header {
    uint32_t magic, type;
    uint64_t job, len;
} msg_header;

#define NOTE_MAX 512
/* Workers that die before their first job, in a row, before we give up. */
#define START_FAILURES_MAX 3
/* Seconds a worker may take to start (load the kernel library). */
#define START_DEADLINE 120.0
/* Results that may wait for an earlier, slower job, per worker. */
#define WINDOW_PER_WORKER 64

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int write_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* 1: read n bytes; 0: end of file first; -1: error. */
static int read_all(int fd, void *p, size_t n)
{
    unsigned char *b = p;
    while (n > 0) {
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r == 0 ? 0 : -1;
        b += r;
        n -= (size_t)r;
    }
    return 1;
}

static int send_msg(int fd, uint32_t type, uint64_t job, const void *payload,
                    size_t len)
{
    msg_header h = {MSG_MAGIC, type, job, len};
    if (write_all(fd, &h, sizeof h) != 0)
        return -1;
    return len ? write_all(fd, payload, len) : 0;
}

/* ---- names ------------------------------------------------------------- */

const char *kvc_signal_name(int signo)
{
    static const struct { int n; const char *name; } names[] = {
        {SIGSEGV, "SIGSEGV"}, {SIGBUS, "SIGBUS"},   {SIGABRT, "SIGABRT"},
        {SIGFPE, "SIGFPE"},   {SIGILL, "SIGILL"},   {SIGKILL, "SIGKILL"},
        {SIGTERM, "SIGTERM"}, {SIGINT, "SIGINT"},   {SIGTRAP, "SIGTRAP"},
        {SIGSYS, "SIGSYS"},   {SIGPIPE, "SIGPIPE"}, {SIGHUP, "SIGHUP"},
        {SIGQUIT, "SIGQUIT"}, {SIGALRM, "SIGALRM"}, {SIGUSR1, "SIGUSR1"},
        {SIGUSR2, "SIGUSR2"}, {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].n == signo)
            return names[i].name;
    return "signal";
}

void kvc_job_death_text(const kvc_job_death *d, char *buf, size_t n)
{
    switch (d->end) {
    case KVC_JOB_SIGNAL:
        snprintf(buf, n, "the worker was killed by %s (%s)",
                 kvc_signal_name(d->signo), strsignal(d->signo));
        break;
    case KVC_JOB_EXIT:
        snprintf(buf, n, "the worker exited with status %d (the kernel "
                 "called exit?)", d->status);
        break;
    case KVC_JOB_TIMEOUT:
        snprintf(buf, n, "no result after %.2f s (the case's deadline; "
                 "--timeout changes it): the worker was killed",
                 d->deadline);
        break;
    case KVC_JOB_MEMCHECK:
        snprintf(buf, n, "valgrind reported %d error%s while this case ran "
                 "(its messages are above, on stderr)", d->errors,
                 d->errors == 1 ? "" : "s");
        break;
    case KVC_JOB_PROTOCOL:
        snprintf(buf, n, "the worker broke the result protocol (the kernel "
                 "wrote into or closed its pipe?)");
        break;
    default:
        snprintf(buf, n, "finished");
    }
}

int kvc_cpus_available(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int kvc_under_valgrind(void)
{
#ifdef HAVE_VALGRIND_H
    if (RUNNING_ON_VALGRIND)
        return 1;
#endif
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload") != NULL;
}

/* Errors valgrind has counted in this process so far (0 without it). */
static int valgrind_errors(void)
{
#ifdef HAVE_VALGRIND_H
    return (int)VALGRIND_COUNT_ERRORS;
#else
    return 0;
#endif
}

/* ---- the worker process -------------------------------------------------
 * Its own state, for its fault handler (a signal handler reaches nothing
 * else). Written once after fork, in the worker only. */
static int worker_out_fd = -1;
static volatile uint64_t worker_job;
static int (*worker_fault_text)(const void *, char *, size_t);

/* A fault: say what it hit (a guard page names its buffer), then die by
 * the same signal so the parent sees it. The threads of a kernel may fault
 * at once: the first one reports, in one write (header and text, under
 * PIPE_BUF: never interleaved), and the others wait for the signal that
 * ends the process, so the note is whole and comes first. */
static int worker_faulted;

static void worker_fault(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (__atomic_exchange_n(&worker_faulted, 1, __ATOMIC_SEQ_CST))
        for (;;)
            pause();
    unsigned char msg[sizeof(msg_header) + NOTE_MAX];
    char *text = (char *)msg + sizeof(msg_header);
    if (worker_fault_text && worker_fault_text(si->si_addr, text, NOTE_MAX)) {
        size_t len = strnlen(text, NOTE_MAX);
        msg_header h = {MSG_MAGIC, MSG_NOTE, worker_job, len};
        memcpy(msg, &h, sizeof h);
        if (write(worker_out_fd, msg, sizeof h + len) < 0)
            text[0] = '\0';
    }
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    raise(sig); /* delivered when the handler returns */
}

static void worker_signals(void)
{
    static char altstack[1 << 16];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = worker_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
}

static _Noreturn void worker_main(const kvc_workers_cfg *cfg, pid_t parent,
                                  int in_fd, int out_fd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(0);
    dup2(STDERR_FILENO, STDOUT_FILENO);
    worker_out_fd = out_fd;
    worker_fault_text = cfg->fault_text;
    worker_signals();
    char err[NOTE_MAX] = "";
    if (cfg->init && cfg->init(cfg->ctx, err, sizeof err) != 0) {
        send_msg(out_fd, MSG_INIT_FAILED, 0, err, strnlen(err, sizeof err));
        _exit(0);
    }
    void *result = malloc(cfg->result_size ? cfg->result_size : 1);
    if (!result || send_msg(out_fd, MSG_READY, 0, NULL, 0) != 0)
        _exit(0);
    int errors = valgrind_errors();
    for (;;) {
        uint64_t job;
        if (read_all(in_fd, &job, sizeof job) != 1) {
            free(result); /* valgrind's leak check runs at _exit too */
            _exit(0); /* no more jobs */
        }
        worker_job = job;
        memset(result, 0, cfg->result_size);
        cfg->run(cfg->ctx, job, result);
        fflush(stdout);
        fflush(stderr);
        /* valgrind's errors belong to the job that made them */
        int now = valgrind_errors(), added = now - errors;
        errors = now;
        if ((added > 0 && send_msg(out_fd, MSG_MEMCHECK, job, &added,
                                   sizeof added) != 0) ||
            send_msg(out_fd, MSG_RESULT, job, result, cfg->result_size) != 0) {
            free(result);
            _exit(0); /* the parent is gone */
        }
    }
}

/* ---- the parent ----------------------------------------------------- */

typedef struct worker {
    pid_t pid;             /* 0: the slot is empty */
    int to, from;          /* job pipe (write end), message pipe (read end) */
    int ready, busy;
    uint64_t job, seq;     /* the job in flight and its hand-out number */
    double since, deadline;/* start of the job (or of the worker), seconds */
    unsigned char *buf;    /* the message being received */
    size_t have, cap;
    char note[NOTE_MAX];
    int memcheck_errors;   /* valgrind errors the job in flight made */
} worker;

typedef struct slot {
    int done;
    uint64_t job;
    kvc_job_death death;   /* end == KVC_JOB_DONE: `result` holds it */
    unsigned char *result;
} slot;

typedef struct server {
    const kvc_workers_cfg *cfg;
    worker *w;
    int nw;
    slot *ring;            /* hand-out number % window */
    uint64_t window, handed, committed;
    int exhausted;         /* next() said no more */
    int start_failures;    /* workers dead before READY, in a row */
    int status;            /* KVC_WORKERS_* to return */
    int idle_exit_status;  /* kvc_workers_cfg.idle_exit_status */
    char *err;
    size_t errlen;
} server;

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static int spawn(server *sv, worker *w)
{
    int job_pipe[2], msg_pipe[2];
    if (pipe(job_pipe) != 0)
        return -1;
    if (pipe(msg_pipe) != 0) {
        close(job_pipe[0]);
        close(job_pipe[1]);
        return -1;
    }
    fflush(NULL); /* nothing buffered is written twice */
    pid_t parent = getpid(), pid = fork();
    if (pid < 0) {
        close(job_pipe[0]); close(job_pipe[1]);
        close(msg_pipe[0]); close(msg_pipe[1]);
        return -1;
    }
    if (pid == 0) {
        for (int i = 0; i < sv->nw; i++)
            if (sv->w[i].pid) {
                close(sv->w[i].to);
                close(sv->w[i].from);
            }
        close(job_pipe[1]);
        close(msg_pipe[0]);
        worker_main(sv->cfg, parent, job_pipe[0], msg_pipe[1]);
    }
    close(job_pipe[0]);
    close(msg_pipe[1]);
    fcntl(job_pipe[1], F_SETFD, FD_CLOEXEC);
    fcntl(msg_pipe[0], F_SETFD, FD_CLOEXEC);
    w->pid = pid;
    w->to = job_pipe[1];
    w->from = msg_pipe[0];
    w->ready = w->busy = 0;
    w->have = 0;
    w->note[0] = '\0';
    w->since = now_seconds();
    w->deadline = START_DEADLINE * (kvc_under_valgrind() ? 10 : 1);
    return 0;
}

static slot *slot_of(server *sv, uint64_t seq)
{
    return &sv->ring[seq % sv->window];
}

/* A job ends without a result. */
static void job_died(server *sv, worker *w, kvc_job_death *d)
{
    slot *s = slot_of(sv, w->seq);
    d->seconds = now_seconds() - w->since;
    d->deadline = w->deadline;
    snprintf(d->note, sizeof d->note, "%s", w->note);
    s->death = *d;
    s->job = w->job;
    s->done = 1;
    w->busy = 0;
}

/* Wait for a worker that closed its pipe; one that lingers is killed. */
static int reap(pid_t pid, int *lingered)
{
    int st = 0;
    *lingered = 0;
    for (int i = 0; i < 1000; i++) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return st;
        if (r < 0 && errno != EINTR)
            return 0;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    *lingered = 1;
    kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return st;
}

static void forget(worker *w)
{
    close_fd(&w->to);
    close_fd(&w->from);
    w->pid = 0;
    w->ready = w->busy = 0;
    w->have = 0;
}

static void set_broken(server *sv, const char *fmt, const char *what)
{
    if (sv->status == KVC_WORKERS_DONE) {
        sv->status = KVC_WORKERS_BROKEN;
        snprintf(sv->err, sv->errlen, fmt, what);
    }
}

/* A worker ended between jobs with a non-zero status. */
static void note_idle_exit(server *sv, int status)
{
    if (sv->idle_exit_status == 0)
        sv->idle_exit_status = status;
}

/* The worker's pipe closed or broke the protocol: reap it and give its
 * job (if any) a death verdict. `protocol`: it sent garbage. */
static void worker_ended(server *sv, worker *w, int protocol)
{
    int lingered = 0, st;
    if (protocol) {
        kill(w->pid, SIGKILL);
        while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR)
            ;
    } else {
        st = reap(w->pid, &lingered);
    }
    kvc_job_death d;
    memset(&d, 0, sizeof d);
    if (protocol || lingered) {
        d.end = KVC_JOB_PROTOCOL;
    } else if (WIFSIGNALED(st)) {
        d.end = KVC_JOB_SIGNAL;
        d.signo = WTERMSIG(st);
    } else {
        d.end = KVC_JOB_EXIT;
        d.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    if (w->busy) {
        job_died(sv, w, &d);
    } else if (w->ready && d.end == KVC_JOB_EXIT && d.status != 0) {
        note_idle_exit(sv, d.status);
    } else if (!w->ready && ++sv->start_failures >= START_FAILURES_MAX) {
        char text[NOTE_MAX + 64];
        kvc_job_death_text(&d, text, sizeof text);
        set_broken(sv, "workers die before their first case (%s): does "
                   "the kernel library's constructor crash or exit?", text);
    }
    forget(w);
}

/* Handle one whole message; returns -1 when the worker broke the
 * protocol. */
static int on_message(server *sv, worker *w, const msg_header *h,
                      const unsigned char *payload)
{
    switch (h->type) {
    case MSG_READY:
        w->ready = 1;
        sv->start_failures = 0;
        return 0;
    case MSG_INIT_FAILED:
        if (sv->status == KVC_WORKERS_DONE) {
            sv->status = KVC_WORKERS_INIT_FAILED;
            snprintf(sv->err, sv->errlen, "%.*s", (int)h->len,
                     (const char *)payload);
        }
        return 0;
    case MSG_NOTE:
        if (w->busy && h->job == w->job)
            snprintf(w->note, sizeof w->note, "%.*s", (int)h->len,
                     (const char *)payload);
        return 0;
    case MSG_MEMCHECK:
        if (!w->busy || h->job != w->job || h->len != sizeof(int))
            return -1;
        memcpy(&w->memcheck_errors, payload, sizeof(int));
        return 0;
    case MSG_RESULT: {
        if (!w->busy || h->job != w->job || h->len != sv->cfg->result_size)
            return -1;
        if (w->memcheck_errors > 0) {
            kvc_job_death d;
            memset(&d, 0, sizeof d);
            d.end = KVC_JOB_MEMCHECK;
            d.errors = w->memcheck_errors;
            job_died(sv, w, &d);
            return 0;
        }
        slot *s = slot_of(sv, w->seq);
        memcpy(s->result, payload, h->len);
        memset(&s->death, 0, sizeof s->death);
        s->job = w->job;
        s->done = 1;
        w->busy = 0;
        w->note[0] = '\0';
        return 0;
    }
    default:
        return -1;
    }
}

/* Read what a worker sent; parse every whole message. */
static void on_readable(server *sv, worker *w)
{
    size_t max_len = sv->cfg->result_size > NOTE_MAX ? sv->cfg->result_size
                                                     : NOTE_MAX;
    if (w->cap < sizeof(msg_header) + max_len) {
        unsigned char *nb = realloc(w->buf, sizeof(msg_header) + max_len);
        if (!nb) {
            worker_ended(sv, w, 1);
            return;
        }
        w->buf = nb;
        w->cap = sizeof(msg_header) + max_len;
    }
    ssize_t r = read(w->from, w->buf + w->have, w->cap - w->have);
    if (r < 0 && errno == EINTR)
        return;
    if (r <= 0) {
        worker_ended(sv, w, 0);
        return;
    }
    w->have += (size_t)r;
    while (w->have >= sizeof(msg_header)) {
        msg_header h;
        memcpy(&h, w->buf, sizeof h);
        if (h.magic != MSG_MAGIC || h.len > max_len) {
            worker_ended(sv, w, 1);
            return;
        }
        size_t whole = sizeof h + (size_t)h.len;
        if (w->have < whole)
            return;
        if (on_message(sv, w, &h, w->buf + sizeof h) != 0) {
            worker_ended(sv, w, 1);
            return;
        }
        memmove(w->buf, w->buf + whole, w->have - whole);
        w->have -= whole;
    }
}

/* Kill busy workers past their deadline, and workers too slow to start. */
static void enforce_deadlines(server *sv)
{
    double t = now_seconds();
    for (int i = 0; i < sv->nw; i++) {
        worker *w = &sv->w[i];
        if (!w->pid || (w->ready && !w->busy) || t - w->since <= w->deadline)
            continue;
        int st;
        kill(w->pid, SIGKILL);
        while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (w->busy) {
            kvc_job_death d;
            memset(&d, 0, sizeof d);
            d.end = KVC_JOB_TIMEOUT;
            job_died(sv, w, &d);
        } else if (++sv->start_failures >= START_FAILURES_MAX) {
            set_broken(sv, "workers do not start within the deadline%s",
                       " (does the kernel library's constructor hang?)");
        }
        forget(w);
    }
}

/* Hand a job to every idle worker, within the commit window. */
static void dispatch(server *sv)
{
    const kvc_workers_cfg *cfg = sv->cfg;
    for (int i = 0; i < sv->nw && !sv->exhausted; i++) {
        worker *w = &sv->w[i];
        if (!w->pid || !w->ready || w->busy ||
            sv->handed - sv->committed >= sv->window)
            continue;
        uint64_t job;
        if (!cfg->next(cfg->ctx, &job)) {
            sv->exhausted = 1;
            break;
        }
        w->busy = 1;
        w->job = job;
        w->seq = sv->handed++;
        w->since = now_seconds();
        w->deadline = cfg->deadline ? cfg->deadline(cfg->ctx, job) : 60.0;
        w->note[0] = '\0';
        w->memcheck_errors = 0;
        slot_of(sv, w->seq)->done = 0;
        /* A dead worker is noticed by its pipe's end of file; its job then
         * gets its verdict. */
        write_all(w->to, &job, sizeof job);
    }
}

static void commit_ready(server *sv)
{
    const kvc_workers_cfg *cfg = sv->cfg;
    while (sv->committed < sv->handed) {
        slot *s = slot_of(sv, sv->committed);
        if (!s->done)
            break;
        s->done = 0;
        sv->committed++;
        if (s->death.end == KVC_JOB_DONE)
            cfg->commit(cfg->ctx, s->job, s->result, NULL);
        else
            cfg->commit(cfg->ctx, s->job, NULL, &s->death);
    }
}

static int busy_workers(const server *sv)
{
    int n = 0;
    for (int i = 0; i < sv->nw; i++)
        n += sv->w[i].pid && sv->w[i].busy;
    return n;
}

/* Wait up to 200 ms (less when a deadline is nearer) for messages. */
static void wait_and_read(server *sv)
{
    struct pollfd pfd[sv->nw > 0 ? sv->nw : 1];
    int map[sv->nw > 0 ? sv->nw : 1], n = 0;
    double t = now_seconds(), wait = 0.2;
    for (int i = 0; i < sv->nw; i++) {
        worker *w = &sv->w[i];
        if (!w->pid)
            continue;
        double left = w->deadline - (t - w->since);
        if ((w->busy || !w->ready) && left < wait)
            wait = left > 0 ? left : 0;
        pfd[n].fd = w->from;
        pfd[n].events = POLLIN;
        map[n++] = i;
    }
    int ms = (int)(wait * 1000) + 1;
    if (poll(pfd, (nfds_t)n, ms) <= 0)
        return;
    for (int j = 0; j < n; j++)
        if (pfd[j].revents && sv->w[map[j]].pid)
            on_readable(sv, &sv->w[map[j]]);
}

static void stop_all(server *sv)
{
    for (int i = 0; i < sv->nw; i++) {
        worker *w = &sv->w[i];
        if (!w->pid)
            continue;
        int st;
        if (w->busy || sv->status != KVC_WORKERS_DONE) {
            kill(w->pid, SIGKILL);
            while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR)
                ;
        } else {
            close_fd(&w->to); /* end of jobs: it leaves by itself */
            int lingered;
            st = reap(w->pid, &lingered);
            if (!lingered && WIFEXITED(st) && WEXITSTATUS(st) != 0)
                note_idle_exit(sv, WEXITSTATUS(st));
        }
        forget(w);
    }
}

static int stopped(const kvc_workers_cfg *cfg)
{
    return cfg->stop && *cfg->stop;
}

static int run_in_process(const kvc_workers_cfg *cfg, char *err,
                          size_t errlen)
{
    char why[NOTE_MAX] = "";
    if (cfg->init && cfg->init(cfg->ctx, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s", why);
        return KVC_WORKERS_INIT_FAILED;
    }
    void *result = malloc(cfg->result_size ? cfg->result_size : 1);
    if (!result) {
        snprintf(err, errlen, "out of memory");
        return KVC_WORKERS_BROKEN;
    }
    uint64_t job;
    double last = now_seconds();
    while (!stopped(cfg) && cfg->next(cfg->ctx, &job)) {
        memset(result, 0, cfg->result_size);
        cfg->run(cfg->ctx, job, result);
        cfg->commit(cfg->ctx, job, result, NULL);
        if (cfg->tick && now_seconds() - last > 0.2) {
            cfg->tick(cfg->ctx);
            last = now_seconds();
        }
    }
    free(result);
    return stopped(cfg) ? KVC_WORKERS_STOPPED : KVC_WORKERS_DONE;
}

static int server_init(server *sv, const kvc_workers_cfg *cfg, char *err,
                       size_t errlen)
{
    memset(sv, 0, sizeof *sv);
    sv->cfg = cfg;
    sv->err = err;
    sv->errlen = errlen;
    sv->nw = cfg->jobs > 0 ? cfg->jobs : 1;
    sv->window = (uint64_t)sv->nw * WINDOW_PER_WORKER;
    sv->w = calloc((size_t)sv->nw, sizeof *sv->w);
    sv->ring = calloc((size_t)sv->window, sizeof *sv->ring);
    if (!sv->w || !sv->ring)
        return -1;
    for (int i = 0; i < sv->nw; i++)
        sv->w[i].to = sv->w[i].from = -1;
    for (uint64_t i = 0; i < sv->window; i++)
        if (!(sv->ring[i].result = malloc(cfg->result_size ? cfg->result_size : 1)))
            return -1;
    return 0;
}

static void server_free(server *sv)
{
    for (int i = 0; sv->w && i < sv->nw; i++)
        free(sv->w[i].buf);
    for (uint64_t i = 0; sv->ring && i < sv->window; i++)
        free(sv->ring[i].result);
    free(sv->w);
    free(sv->ring);
}

/* Keep `nw` workers alive. */
static void respawn(server *sv)
{
    for (int i = 0; i < sv->nw && sv->status == KVC_WORKERS_DONE; i++)
        if (!sv->w[i].pid && spawn(sv, &sv->w[i]) != 0)
            set_broken(sv, "cannot start a worker process: %s",
                       strerror(errno));
}

int kvc_workers_run(kvc_workers_cfg *cfg, char *err, size_t errlen)
{
    cfg->idle_exit_status = 0;
    if (cfg->in_process)
        return run_in_process(cfg, err, errlen);
    server sv;
    if (server_init(&sv, cfg, err, errlen) != 0) {
        server_free(&sv);
        snprintf(err, errlen, "out of memory");
        return KVC_WORKERS_BROKEN;
    }
    struct sigaction ign, old_pipe;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old_pipe); /* a dead worker's pipe */
    double last_tick = 0;
    while (sv.status == KVC_WORKERS_DONE && !stopped(cfg)) {
        respawn(&sv);
        dispatch(&sv);
        if (sv.exhausted && busy_workers(&sv) == 0 &&
            sv.committed == sv.handed)
            break;
        wait_and_read(&sv);
        enforce_deadlines(&sv);
        commit_ready(&sv);
        if (cfg->tick && now_seconds() - last_tick > 0.2) {
            cfg->tick(cfg->ctx);
            last_tick = now_seconds();
        }
    }
    if (sv.status == KVC_WORKERS_DONE && stopped(cfg))
        sv.status = KVC_WORKERS_STOPPED;
    stop_all(&sv);
    sigaction(SIGPIPE, &old_pipe, NULL);
    cfg->idle_exit_status = sv.idle_exit_status;
    int status = sv.status;
    server_free(&sv);
    return status;
}
