/*
 * workers.h — jobs run in worker processes, never in the caller: a fork
 * server in the manner of libFuzzer's -fork mode and Criterion's per-test
 * children.
 *
 * The kernel under test is presumed buggy: it may crash, hang, call
 * exit(0), write anywhere. So the process that drives a campaign never
 * calls it. It forks `jobs` workers; each worker runs `init` once (loads
 * the kernel library: even its constructors run in the worker), then reads
 * job numbers from a pipe, runs each and writes back a fixed-size result.
 * The parent hands out jobs in the order `next` gives them, keeps at most
 * one job per worker in flight, and commits results strictly in that
 * order, so the committed sequence is the same for any number of workers.
 *
 * A job that does not come back is a verdict of its own, never a lost one:
 * the worker died by a signal (with whatever note it wrote first: a guard
 * page fault is described by tools/guard.h), exited with any status, sent
 * something malformed, or ran past the job's deadline (the parent kills
 * it). A fresh worker replaces it and the run goes on.
 *
 * Workers ignore SIGINT (the parent decides how a run stops), die with the
 * parent (PR_SET_PDEATHSIG), have their stdout sent to stderr (a kernel's
 * prints never split the parent's stdout lines) and leave through _exit
 * (no atexit handler of the parent runs twice).
 */
#ifndef KVC_WORKERS_H
#define KVC_WORKERS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* How a job ended without a result. */
typedef enum kvc_job_end {
    KVC_JOB_DONE = 0,  /* the worker sent its result */
    KVC_JOB_SIGNAL,    /* the worker died by signal `signo` */
    KVC_JOB_EXIT,      /* the worker exited with `status` */
    KVC_JOB_TIMEOUT,   /* past the deadline: the worker was killed */
    KVC_JOB_PROTOCOL,  /* the worker sent bytes that are no message */
    KVC_JOB_MEMCHECK,  /* it finished, but valgrind counted `errors` new
                          errors while it ran (its messages are on stderr) */
} kvc_job_end;

typedef struct kvc_job_death {
    kvc_job_end end;
    int signo;          /* KVC_JOB_SIGNAL */
    int status;         /* KVC_JOB_EXIT */
    int errors;         /* KVC_JOB_MEMCHECK */
    double seconds;     /* how long the job had run */
    double deadline;    /* its deadline, seconds */
    char note[512];     /* what the worker said before it died ("" none) */
} kvc_job_death;

/* One line for a death: "killed by SIGSEGV (Segmentation fault)",
 * "exited with status 0", "no result after 10.0 s (deadline)"... Nothing
 * in it depends on timing (the deadline is the case's own), so any number
 * of workers gives the same text. */
void kvc_job_death_text(const kvc_job_death *d, char *buf, size_t n);

/* Signal name: "SIGSEGV", "SIGABRT", ..., or "signal N". */
const char *kvc_signal_name(int signo);

typedef struct kvc_workers_cfg {
    int jobs;            /* worker processes, >= 1 */
    int in_process;      /* 1: run every job in this process, in order
                            (debugging only: no isolation, no deadline) */
    size_t result_size;  /* bytes of one job's result */
    void *ctx;           /* passed to every callback */

    /* In a worker, once before its first job: load what the jobs need.
     * Returns 0, or -1 with a message (the run stops with it). */
    int (*init)(void *ctx, char *err, size_t errlen);
    /* In a worker: run job `job`, filling `result` (result_size bytes,
     * zeroed). */
    void (*run)(void *ctx, uint64_t job, void *result);

    /* In the parent: the next job to hand out; returns 0 when there is
     * none left. */
    int (*next)(void *ctx, uint64_t *job);
    /* In the parent: seconds job `job` may take (from its size). */
    double (*deadline)(void *ctx, uint64_t job);
    /* In the parent, in hand-out order: a result, or (result NULL) how the
     * job ended without one. */
    void (*commit)(void *ctx, uint64_t job, const void *result,
                   const kvc_job_death *death);
    /* In the parent, every ~0.2 s and after each commit burst (progress,
     * report snapshots). May be NULL. */
    void (*tick)(void *ctx);

    /* In a worker's SIGSEGV/SIGBUS handler: describe the faulting address
     * (a guard page: tools/guard.h) into buf and return 1, or return 0.
     * Must be async-signal-safe. May be NULL. */
    int (*fault_text)(const void *addr, char *buf, size_t n);

    /* Set (by a signal handler) to stop: no more jobs are handed out, the
     * workers are killed, jobs in flight are not committed. May be NULL. */
    const volatile sig_atomic_t *stop;

    /* Out: the first non-zero status of a worker that exited between jobs
     * (under valgrind --error-exitcode: errors found at exit, such as
     * leaks, that no job can be blamed for); 0 if none. */
    int idle_exit_status;
} kvc_workers_cfg;

/* Status of kvc_workers_run. */
enum {
    KVC_WORKERS_DONE = 0,      /* every job handed out was committed */
    KVC_WORKERS_STOPPED = 1,   /* *stop was set */
    KVC_WORKERS_INIT_FAILED = -1, /* a worker's init refused (err says why) */
    KVC_WORKERS_BROKEN = -2,   /* workers cannot be started or kept alive
                                  (fork failed, or they die before their
                                  first job): err says why */
};

/* Run every job `next` hands out. Returns one of the statuses above. */
int kvc_workers_run(kvc_workers_cfg *cfg, char *err, size_t errlen);

/* The number of CPUs this process may run on (>= 1). */
int kvc_cpus_available(void);

/* Whether this process runs under valgrind (deadlines stretch). */
int kvc_under_valgrind(void);

#endif /* KVC_WORKERS_H */
