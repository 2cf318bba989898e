/*
 * campaign.h — a cross-check campaign: cases (seed, 0..cases-1) of one
 * shard, each generated, run and judged, with a summary and, for each
 * failure, a one-line replay command.
 *
 * The cases run in worker processes (tools/workers.h), never in the
 * calling process: a case whose worker dies by a signal, exits, or runs
 * past its deadline gets the verdict `crash` (or `bounds`, when the fault
 * hit a guard page), `exit` or `timeout`, and the campaign goes on with a
 * fresh worker. Results are committed in case-index order, so any number
 * of workers gives the same verdicts, log and records.
 */
#ifndef KVC_CAMPAIGN_H
#define KVC_CAMPAIGN_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "../generators/stateful.h"
#include "../reports/report.h"
#include "claim.h"
#include "runner.h"

struct kvc_campaign_stats;

typedef struct kvc_campaign_opts {
    uint64_t seed;
    uint64_t cases;      /* indices 0 .. cases-1 before sharding */
    int forced_mode;     /* -1 = draw the mode per case ("all") */
    kvc_size_opts size;  /* --size and the size filters (generators/case.h);
                            zero = the default policy; replay commands
                            carry them */
    int shard_index;     /* this shard runs indices i with i % n == index */
    int shard_count;     /* >= 1 */
    int progress;        /* 1: a live progress line on stderr */
    int max_failures_listed; /* failures printed in full to `log` */
    FILE *log;           /* failures and the summary; NULL = silent */
    int collect_records; /* 1: keep a kvc_case_record per case in stats */
    const char *kernel_lib; /* --kernel-lib PATH: each worker loads it (the
                               kernel argument of kvc_campaign_run is then
                               NULL); also printed in replay commands */
    unsigned kv_dtypes;  /* bit d set: run cases of cache format d
                            (kvc_kv_dtype); 0 = every format. Cases of
                            other formats are skipped, not redrawn, so each
                            case keeps its (seed, index) replay. */
    const kva_caps *claim; /* draw only inside this claim (claim.h) and run
                            the kernel with it (its profile, lse, output
                            type...); NULL = everything */
    const char *profile; /* --profile NAME given (the claim's profile is
                            already NAME; replay commands carry it); NULL */
    int kernel_threads;  /* --kernel-threads N (0 = 1) */
    int jobs;            /* worker processes; 0 = 1 */
    int in_process;      /* 1: run the cases in this process (debugging:
                            a crashing kernel ends the campaign) */
    double timeout;      /* seconds per case; 0 = derived from the case's
                            work (kvc_case_deadline) */
    const volatile sig_atomic_t *stop; /* set by a signal handler: stop
                            after the cases already committed */
    uint64_t stop_after; /* --stop-after N: hand out no new case once N
                            cases have failed (cases already handed to a
                            worker still finish and count); 0 = never */
    /* Called every snapshot_seconds while the campaign runs (and after the
     * first failure), with the stats so far: keeps a report current. */
    void (*snapshot)(void *ctx, const struct kvc_campaign_stats *s);
    void *snapshot_ctx;
    double snapshot_seconds;
} kvc_campaign_opts;

/* A case's deadline without --timeout: a floor that no correct kernel on
 * any machine comes near, plus time in proportion to the case's work
 * (kvc_spec_work), stretched under valgrind. */
#define KVC_CASE_DEADLINE_FLOOR 10.0
#define KVC_CASE_DEADLINE_PER_WORK 2e-6
#define KVC_CASE_DEADLINE_VALGRIND 20.0
double kvc_case_deadline(int64_t work, double timeout);

typedef struct kvc_campaign_stats {
    uint64_t run;
    uint64_t skipped;       /* cases of formats outside kv_dtypes */
    uint64_t failed;
    uint64_t run_by_mode[KVC_MODE_COUNT];
    uint64_t failed_by_mode[KVC_MODE_COUNT];
    uint64_t failed_by_outcome[KVC_OUTCOME_COUNT];
    /* per KV cache format, [dtype][scale kind]; the last row / column
     * counts a dtype / kind outside its enum */
    uint64_t run_by_format[KVC_KV_DTYPE_COUNT + 1][KVC_SCALE_KIND_COUNT + 1];
    uint64_t failed_by_format[KVC_KV_DTYPE_COUNT + 1]
                            [KVC_SCALE_KIND_COUNT + 1];
    uint64_t invalid_run;   /* invalid variants run (generators/invalid.h) */
    uint64_t invalid_failed;/* of them, not refused as kvattn.h says */
    uint64_t invalid_by_rule[KVC_INV_COUNT]; /* variants run per rule */
    /* stateful indices (generators/stateful.h), per kind */
    uint64_t stateful_run[KVC_STATEFUL_KINDS];
    uint64_t stateful_failed[KVC_STATEFUL_KINDS];
    uint64_t stateful_steps; /* operations they ran */
    double worst_ratio;     /* over cases with a numeric verdict */
    uint64_t worst_index;
    uint64_t first_failure; /* index of the first failing case */
    uint64_t planned;       /* cases of this shard, before --kv-dtype */
    uint64_t not_covered;   /* indices with no draw inside the claim */
    uint64_t cov_run[KVC_COV_COUNT];     /* cases run that use item i */
    uint64_t cov_outside[KVC_COV_COUNT]; /* draws outside the claim that
                                            needed item i (claim.h) */
    int interrupted;        /* stopped by opts.stop before the end */
    int broken;             /* the workers could not run (message in
                               `error`): nothing more was checked */
    char error[512];
    int worker_exit_status; /* a worker ended between cases with this
                               non-zero status (valgrind's error exit code
                               for errors at exit, such as leaks); 0 none */
    double seconds;
    kvc_case_record *records; /* collect_records: one per case run */
    size_t num_records;
} kvc_campaign_stats;

/* Free the records of a campaign. */
void kvc_campaign_stats_free(kvc_campaign_stats *s);

/* The name of a KV cache format, as the reports show it: the dtype alone
 * for KVC_SCALE_NONE ("f32", "f16", "bf16"), else "<dtype>/<scale kind>"
 * ("fp8_e4m3/token", "nvfp4/group"); "?" for a value outside its enum. */
void kvc_kv_format_label(kvc_kv_dtype dtype, kvc_scale_kind kind, char *buf,
                         size_t n);

/* Fill a report record for a case and its result. */
void kvc_record_fill(kvc_case_record *rec, const kvc_campaign_opts *o,
                     const kvc_case *c, const kvc_result *r, uint64_t index,
                     double seconds);
/* ... and mark it an invalid variant of rule `rule` (none: valid). */
void kvc_record_mark_invalid(kvc_case_record *rec, kvc_invalid_rule rule);

/* The replay command of case `index` ("kvcheck replay --seed S --case I
 * --kernel K [--kernel-lib LIB]"), shell-quoted (tools/shell_quote.h); a
 * note that is no command when it does not fit in n bytes. */
void kvc_replay_command(const kvc_campaign_opts *o, uint64_t index,
                        char *buf, size_t n);

/* The case of campaign index (seed, index): drawn inside the claim (NULL:
 * everything) as kvc_claimed_generate_counted does, then, when the index
 * is an invalid slot (generators/invalid.h kvc_invalid_slot) and the claim
 * validates, made an invalid variant (*inv; rule KVC_INV_NONE for a valid
 * case). A kernel whose claim does not validate gets the valid case on
 * every index. size: the run's size options (NULL: the default policy).
 * Returns 0, or -1 with a message. */
int kvc_campaign_generate(const kva_caps *claim, uint64_t seed,
                          uint64_t index, int forced_mode,
                          const kvc_size_opts *size, kvc_case *c,
                          kvc_invalid *inv, uint64_t *built_outside,
                          char *err, size_t errlen);

/* Run a case from kvc_campaign_generate: a valid one judged by the oracle;
 * an invalid variant must be refused by some call with a status its rule
 * allows (tools/refusal.h; else KVC_FAIL_REFUSAL), everything the kernel
 * was given left as it was (else KVC_FAIL_REFUSAL or KVC_FAIL_CACHE), and
 * accepting it is KVC_FAIL_ACCEPTED. A failure's message names the
 * variant. Returns r->outcome. */
/* The thread count the campaign passes a kernel for case c at index
 * `index`: the run's own (--kernel-threads N > 1), or for a kernel that
 * takes a thread count, 2 to 4 threads on 1 index in 8 -- 1 in 2 when a
 * sequence has KVC_SPLIT_KV_KEYS keys or more, the lengths at which
 * threaded kernels split the keys of a sequence -- and 1 on the rest, so
 * that a bug on the threaded paths is found without an option (the same
 * for the campaign and replay; one thread for large-offset cases and under
 * valgrind, whose address space their stacks and sparse pools outgrow). */
#define KVC_SPLIT_KV_KEYS 4096
int kvc_campaign_threads(const kvc_kernel *k, const kvc_case *c,
                         uint64_t seed, uint64_t index);

kvc_outcome kvc_campaign_run_case(const kvc_case *c, const kvc_invalid *inv,
                                  const kvc_kernel *k, kvc_result *r);

/* Run the campaign against kernel k (NULL with opts.kernel_lib: each
 * worker loads that library). Returns 0 when every case passed, 1 when a
 * case failed, -1 when the campaign could not run (stats.error says why;
 * stats.broken). An interrupted campaign returns as for the cases done. */
int kvc_campaign_run(const kvc_campaign_opts *o, const kvc_kernel *k,
                     kvc_campaign_stats *stats);

/* The campaign's one-word verdict: FAILED (a case failed), ERROR (the
 * workers could not run), INTERRUPTED, NOTHING CHECKED (no case ran) or
 * PASSED. */
const char *kvc_campaign_verdict(const kvc_campaign_stats *s);

/* Print the summary block of a finished campaign. */
void kvc_campaign_print_summary(FILE *f, const kvc_campaign_opts *o,
                                const kvc_campaign_stats *s);

#endif /* KVC_CAMPAIGN_H */
