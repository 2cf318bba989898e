/* campaign.c — the campaign: cases handed to worker processes, results
 * committed in case-index order, failures printed as they are found. */
#include "campaign.h"

#include "stateful_run.h"

#include "claim.h"
#include "death_verdict.h"
#include "kernel_lib.h"
#include "guard.h"
#include "workers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t shard_total(const kvc_campaign_opts *o)
{
    uint64_t n = (uint64_t)o->shard_count, i = (uint64_t)o->shard_index;
    if (o->cases <= i)
        return 0;
    return (o->cases - i + n - 1) / n;
}

static void print_progress(const kvc_campaign_opts *o,
                           const kvc_campaign_stats *s, uint64_t total,
                           double elapsed)
{
    double rate = elapsed > 0 ? (double)s->run / elapsed : 0;
    double eta = rate > 0 ? (double)(total - s->run) / rate : 0;
    fprintf(stderr,
            "\r[%llu/%llu] %5.1f%%  failed %llu  worst ratio %.3g  %.0f cases/s  ETA %.0fs   ",
            (unsigned long long)s->run, (unsigned long long)total,
            total ? 100.0 * (double)s->run / (double)total : 100.0,
            (unsigned long long)s->failed, s->worst_ratio, rate, eta);
    fflush(stderr);
}

void kvc_campaign_stats_free(kvc_campaign_stats *s)
{
    free(s->records);
    s->records = NULL;
    s->num_records = 0;
}

static void flag_names(uint64_t flags, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int b = 0; b < KVC_FLAG_ALL_COUNT; b++) {
        if (!(flags & (1ull << b)))
            continue;
        int w = snprintf(buf + used, n - used, "%s%s", used ? " " : "",
                         kvc_flag_name(b));
        if (w < 0 || (size_t)w >= n - used)
            break; /* truncated at a whole name */
        used += (size_t)w;
    }
}

void kvc_kv_format_label(kvc_kv_dtype dtype, kvc_scale_kind kind, char *buf,
                         size_t n)
{
    if (kind == KVC_SCALE_NONE)
        snprintf(buf, n, "%s", kvc_kv_dtype_name(dtype));
    else
        snprintf(buf, n, "%s/%s", kvc_kv_dtype_name(dtype),
                 kvc_scale_kind_name(kind));
}

void kvc_record_fill(kvc_case_record *rec, const kvc_campaign_opts *o,
                     const kvc_case *c, const kvc_result *r, uint64_t index,
                     double seconds)
{
    const kvc_problem *p = &c->prob;
    memset(rec, 0, sizeof *rec);
    rec->index = index;
    rec->mode = kvc_mode_name(c->spec.mode);
    rec->outcome = kvc_outcome_name(r->outcome);
    kvc_kv_format_label(p->quant.dtype, p->quant.kind, rec->kv_format,
                        sizeof rec->kv_format);
    rec->passed = r->outcome == KVC_PASS;
    rec->has_verdict = r->verdict.seq >= 0;
    rec->ratio = r->verdict.ratio;
    rec->ratio_fp32 = r->verdict.ratio_fp32;
    rec->err = r->verdict.err;
    rec->allowed = r->verdict.allowed;
    rec->num_seqs = p->num_seqs;
    rec->num_q_heads = p->cfg.num_q_heads;
    rec->num_kv_heads = p->cfg.num_kv_heads;
    rec->head_dim = p->cfg.head_dim;
    rec->block_size = c->layout.block_size;
    rec->total_q_tokens = (int)p->q_start[p->num_seqs];
    for (int s = 0; s < p->num_seqs; s++)
        if (kvc_kv_len(p, s) > rec->max_kv_len)
            rec->max_kv_len = kvc_kv_len(p, s);
    rec->seconds = seconds;
    flag_names(c->flags, rec->flags, sizeof rec->flags);
    kvc_case_describe(c, rec->desc, sizeof rec->desc);
    snprintf(rec->message, sizeof rec->message, "%s",
             r->outcome == KVC_PASS ? "" : r->message);
    kvc_replay_command(o, index, rec->replay, sizeof rec->replay);
}

void kvc_record_mark_invalid(kvc_case_record *rec, kvc_invalid_rule rule)
{
    snprintf(rec->invalid_rule, sizeof rec->invalid_rule, "%s",
             rule == KVC_INV_NONE ? "" : kvc_invalid_rule_name(rule));
}

/* What a worker sends back for one case. */
typedef struct case_result {
    kvc_case_record rec;  /* mode and outcome are re-pointed by the parent */
    int generated;        /* 0: the generator could not build the case */
    int mode, dtype, kind, outcome;
    int invalid_rule;     /* kvc_invalid_rule: KVC_INV_NONE = a valid case */
    int stateful;         /* kvc_stateful_kind: NONE = an attention case */
    int64_t steps;        /* a stateful index: operations run */
    uint64_t uses;        /* coverage items of the case (claim.h) */
    uint64_t built_outside; /* built attempts outside the claim before it */
    char desc[512];
} case_result;

/* The campaign's state, in the parent (and copied into each worker by
 * fork, where `k` is the kernel the worker runs). */
typedef struct campaign {
    const kvc_campaign_opts *o;
    kvc_worker_kernel wk; /* the kernel a worker runs */
    kvc_bm_impl bm;       /* its block manager and policies (worker) */
    kvc_policy_attn_impl pol;
    kvc_campaign_stats *s;
    size_t cap;           /* of s->records */
    uint64_t next_index;  /* the next index next() considers */
    int64_t next_work;    /* work of the case next() handed out last */
    double t0, last_progress, last_snapshot;
    double snapshot_gap;  /* seconds until the next snapshot is due */
    int snapshot_due;
} campaign;

double kvc_case_deadline(int64_t work, double timeout)
{
    if (timeout > 0)
        return timeout;
    double d = KVC_CASE_DEADLINE_FLOOR +
               KVC_CASE_DEADLINE_PER_WORK * (double)(work > 0 ? work : 0);
    return kvc_under_valgrind() ? d * KVC_CASE_DEADLINE_VALGRIND : d;
}

/* Keep a record; on allocation failure records are dropped, not the run. */
static void keep_record(campaign *cp, const kvc_case_record *rec)
{
    kvc_campaign_stats *s = cp->s;
    if (s->num_records == cp->cap) {
        size_t ncap = cp->cap ? 2 * cp->cap : 1024;
        kvc_case_record *nr = realloc(s->records, ncap * sizeof *nr);
        if (!nr)
            return;
        s->records = nr;
        cp->cap = ncap;
    }
    s->records[s->num_records++] = *rec;
}

static void print_failure(const kvc_campaign_opts *o, const case_result *cr)
{
    const kvc_case_record *rec = &cr->rec;
    if (!cr->generated) {
        fprintf(o->log, "FAIL case %llu setup: %s\n",
                (unsigned long long)rec->index, rec->message);
        return;
    }
    fprintf(o->log,
            "FAIL case %llu [%s] %s: %s\n  case: %s\n  flags: %s\n"
            "  replay: %s\n",
            (unsigned long long)rec->index, rec->mode, rec->outcome,
            rec->message, cr->desc, rec->flags[0] ? rec->flags : "-",
            rec->replay);
}

/* The slots of a case's format in run_by_format / failed_by_format. */
static void format_slot(const case_result *cr, int *d, int *k)
{
    *d = cr->dtype >= 0 && cr->dtype < KVC_KV_DTYPE_COUNT ? cr->dtype
                                                          : KVC_KV_DTYPE_COUNT;
    *k = cr->kind >= 0 && cr->kind < KVC_SCALE_KIND_COUNT
             ? cr->kind
             : KVC_SCALE_KIND_COUNT;
}

static void tally(kvc_campaign_stats *s, const case_result *cr)
{
    const kvc_case_record *rec = &cr->rec;
    s->run++;
    if (!cr->generated) {
        /* A generator that cannot build its own draw is a bug too. */
        if (s->failed++ == 0)
            s->first_failure = rec->index;
        s->failed_by_outcome[KVC_FAIL_SETUP]++;
        return;
    }
    if (cr->stateful != KVC_STATEFUL_NONE) {
        s->stateful_run[cr->stateful]++;
        s->stateful_steps += cr->steps > 0 ? (uint64_t)cr->steps : 0;
        if (rec->passed)
            return;
        if (s->failed++ == 0)
            s->first_failure = rec->index;
        s->stateful_failed[cr->stateful]++;
        s->failed_by_outcome[cr->outcome]++;
        return;
    }
    int d, k;
    format_slot(cr, &d, &k);
    s->run_by_mode[cr->mode]++;
    s->run_by_format[d][k]++;
    if (cr->invalid_rule != KVC_INV_NONE) {
        s->invalid_run++;
        s->invalid_by_rule[cr->invalid_rule]++;
        s->invalid_failed += !rec->passed;
    }
    for (int i = 0; i < KVC_COV_COUNT; i++)
        s->cov_run[i] += cr->uses >> i & 1u;
    s->cov_outside[KVC_COV_Q_RANGE] += cr->built_outside;
    if (rec->has_verdict && rec->ratio > s->worst_ratio) {
        s->worst_ratio = rec->ratio;
        s->worst_index = rec->index;
    }
    if (rec->passed)
        return;
    if (s->failed == 0)
        s->first_failure = rec->index;
    s->failed++;
    s->failed_by_mode[cr->mode]++;
    s->failed_by_format[d][k]++;
    s->failed_by_outcome[cr->outcome]++;
}

/* Fill a case_result from a case and its result. */
static void result_fill(case_result *cr, const kvc_campaign_opts *o,
                        const kvc_case *c, const kvc_invalid *inv,
                        const kvc_result *r, uint64_t index, double seconds)
{
    kvc_record_fill(&cr->rec, o, c, r, index, seconds);
    kvc_record_mark_invalid(&cr->rec, inv->rule);
    cr->invalid_rule = (int)inv->rule;
    cr->stateful = KVC_STATEFUL_NONE;
    cr->steps = 0;
    cr->generated = 1;
    cr->built_outside = 0;
    cr->mode = (int)c->spec.mode;
    cr->dtype = (int)c->prob.quant.dtype;
    cr->kind = (int)c->prob.quant.kind;
    cr->outcome = (int)r->outcome;
    kvc_case_facts f;
    kvc_facts_of_case(c, &f);
    cr->uses = kvc_claim_uses(&f);
    kvc_case_describe(c, cr->desc, sizeof cr->desc);
    if (inv->rule != KVC_INV_NONE) {
        size_t n = strlen(cr->desc);
        snprintf(cr->desc + n, sizeof cr->desc - n, "\n  invalid variant: %s: %s",
                 kvc_invalid_rule_name(inv->rule), inv->what);
    }
}

/* The generator failed: a setup failure of its own. */
static void generator_failed(case_result *cr, const kvc_campaign_opts *o,
                             uint64_t index, const char *err)
{
    memset(cr, 0, sizeof *cr);
    cr->generated = 0;
    cr->outcome = KVC_FAIL_SETUP;
    cr->rec.index = index;
    snprintf(cr->rec.message, sizeof cr->rec.message, "generator: %s", err);
    kvc_replay_command(o, index, cr->rec.replay, sizeof cr->rec.replay);
}

/* ---- stateful indices ------------------------------------------------ */

/* The stateful kind index `index` runs in this campaign (stateful_run.h). */
static kvc_stateful_kind stateful_index(const kvc_campaign_opts *o,
                                        uint64_t index)
{
    return kvc_stateful_index(o->claim, o->forced_mode, o->seed, index);
}

/* The record of a stateful index from its result (ok < 0: it could not
 * run, a setup failure). */
static void stateful_fill(case_result *cr, const kvc_campaign_opts *o,
                          uint64_t index, const kvc_stateful_result *sr,
                          int ok, double seconds)
{
    memset(cr, 0, sizeof *cr);
    cr->generated = 1;
    cr->stateful = (int)sr->kind;
    cr->steps = sr->steps;
    cr->outcome = ok == 1 ? KVC_PASS
                  : ok < 0 ? KVC_FAIL_SETUP
                  : sr->kind == KVC_STATEFUL_MANAGER ? KVC_FAIL_MANAGER
                                                     : KVC_FAIL_POLICY;
    kvc_case_record *rec = &cr->rec;
    rec->index = index;
    rec->passed = ok == 1;
    rec->seconds = seconds;
    snprintf(rec->kv_format, sizeof rec->kv_format, "-");
    snprintf(rec->stateful, sizeof rec->stateful, "%s", kvc_stateful_name(sr->kind));
    snprintf(rec->desc, sizeof rec->desc, "%s", sr->desc);
    snprintf(cr->desc, sizeof cr->desc, "%s", sr->desc);
    snprintf(rec->message, sizeof rec->message, "%s", ok == 1 ? "" : sr->message);
    kvc_replay_command(o, index, rec->replay, sizeof rec->replay);
}

/* ---- in a worker ------------------------------------------------------ */

static int worker_init(void *ctx, char *err, size_t errlen)
{
    campaign *cp = ctx;
    if (kvc_worker_kernel_load(&cp->wk, err, errlen) != 0)
        return -1;
    return kvc_stateful_bind(cp->wk.path ? cp->wk.handle : NULL, cp->wk.path,
                             cp->o->claim, cp->o->forced_mode, &cp->bm,
                             &cp->pol, err, errlen);
}

/* A stateful index (generators/stateful.h): its scenario against the
 * kernel's manager or policies, step by step. */
static void stateful_job(campaign *cp, uint64_t index, case_result *cr)
{
    double t = now_seconds();
    kvc_stateful_result sr;
    int ok = kvc_stateful_run(cp->o->seed, index, cp->bm.append ? &cp->bm : NULL,
                              cp->pol.attention ? &cp->pol : NULL, &sr);
    stateful_fill(cr, cp->o, index, &sr, ok, now_seconds() - t);
}

static void worker_run(void *ctx, uint64_t index, void *result)
{
    campaign *cp = ctx;
    case_result *cr = result;
    if (stateful_index(cp->o, index) != KVC_STATEFUL_NONE) {
        stateful_job(cp, index, cr);
        return;
    }
    kvc_case c;
    kvc_invalid inv;
    kvc_result r;
    char err[256];
    double t = now_seconds();
    uint64_t built_outside = 0;
    if (kvc_campaign_generate(cp->o->claim, cp->o->seed, index,
                              cp->o->forced_mode, &cp->o->size, &c, &inv,
                              &built_outside, err, sizeof err) != 0) {
        generator_failed(cr, cp->o, index, err);
        return;
    }
    kvc_kernel kk = *cp->wk.k;
    kk.threads = kvc_campaign_threads(cp->wk.k, &c, cp->o->seed, index);
    kvc_campaign_run_case(&c, &inv, &kk, &r);
    result_fill(cr, cp->o, &c, &inv, &r, index, now_seconds() - t);
    cr->built_outside = built_outside;
    kvc_case_free(&c);
}

/* ---- in the parent ---------------------------------------------------- */

/* Whether a spec has a cache format the campaign runs. */
static int format_selected(const kvc_campaign_opts *o, const kvc_case_spec *sp)
{
    return o->kv_dtypes == 0 || (o->kv_dtypes >> sp->kv_dtype & 1u) != 0;
}

static int next_case(void *ctx, uint64_t *job)
{
    campaign *cp = ctx;
    const kvc_campaign_opts *o = cp->o;
    /* fail fast (--stop-after): a mutant or bisect run needs one failure */
    if (o->stop_after > 0 && cp->s->failed >= o->stop_after)
        return 0;
    for (; cp->next_index < o->cases;
         cp->next_index += (uint64_t)o->shard_count) {
        kvc_case_spec sp;
        uint64_t idx = cp->next_index;
        if (stateful_index(o, idx) == KVC_STATEFUL_NONE && o->claim &&
            !(o->claim->modes & KVA_MODE_ALL)) {
            cp->s->not_covered++; /* no attention mode claimed: no draw */
            continue;
        }
        if (stateful_index(o, idx) != KVC_STATEFUL_NONE && o->kv_dtypes) {
            cp->s->skipped++; /* --kv-dtype: attention cases of its formats */
            continue;
        }
        if (stateful_index(o, idx) != KVC_STATEFUL_NONE) {
            cp->next_work = 0; /* well under the deadline's floor */
            cp->next_index += (uint64_t)o->shard_count;
            *job = idx;
            return 1;
        }
        /* A spec that cannot be drawn is handed out all the same: the
         * worker reports the generator's failure. Draws outside the
         * kernel's claim are redrawn (claim.h), and counted. */
        int attempt;
        int rc = kvc_claimed_spec_sized(o->claim, o->seed, idx,
                                        o->forced_mode, &o->size, &sp,
                                        &attempt, cp->s->cov_outside);
        if (rc > 0) {
            cp->s->not_covered++;
            continue;
        }
        int drawn = rc == 0;
        if (drawn && !format_selected(o, &sp)) {
            cp->s->skipped++;
            continue;
        }
        cp->next_work = drawn ? kvc_spec_work(&sp) : 0;
        cp->next_index += (uint64_t)o->shard_count;
        *job = idx;
        return 1;
    }
    return 0;
}

static double case_deadline(void *ctx, uint64_t job)
{
    campaign *cp = ctx;
    (void)job; /* asked right after next_case handed it out */
    return kvc_case_deadline(cp->next_work, cp->o->timeout);
}

/* Build the record of a case whose worker died: the case is generated
 * again here (generators never call a kernel) to describe it. */
static void death_result(case_result *cr, const campaign *cp, uint64_t index,
                         const kvc_job_death *d)
{
    kvc_case c;
    kvc_invalid inv;
    kvc_result r;
    char err[256];
    kvc_death_verdict(d, &r);
    if (stateful_index(cp->o, index) != KVC_STATEFUL_NONE) {
        kvc_stateful_result sr;
        memset(&sr, 0, sizeof sr);
        sr.kind = kvc_stateful_slot(cp->o->seed, index);
        sr.failed_step = -1;
        snprintf(sr.desc, sizeof sr.desc, "%s scenario",
                 kvc_stateful_name(sr.kind));
        snprintf(sr.message, sizeof sr.message, "%s", r.message);
        stateful_fill(cr, cp->o, index, &sr, 0, d->seconds);
        cr->outcome = (int)r.outcome; /* crash, timeout, ... */
        return;
    }
    if (kvc_campaign_generate(cp->o->claim, cp->o->seed, index,
                              cp->o->forced_mode, &cp->o->size, &c, &inv, NULL,
                              err, sizeof err) != 0) {
        generator_failed(cr, cp->o, index, err);
        return;
    }
    result_fill(cr, cp->o, &c, &inv, &r, index, d->seconds);
    kvc_case_free(&c);
}

/* A worker's result is data from a process that ran a buggy kernel:
 * clamp what indexes arrays, terminate every string. */
static void sanitize(case_result *cr, uint64_t index)
{
    kvc_case_record *rec = &cr->rec;
    if (cr->mode < 0 || cr->mode >= KVC_MODE_COUNT)
        cr->mode = 0;
    if (cr->outcome < 0 || cr->outcome >= KVC_OUTCOME_COUNT)
        cr->outcome = KVC_FAIL_SETUP;
    if (cr->invalid_rule < 0 || cr->invalid_rule >= KVC_INV_COUNT)
        cr->invalid_rule = KVC_INV_NONE;
    rec->invalid_rule[sizeof rec->invalid_rule - 1] = '\0';
    rec->index = index;
    rec->passed = rec->passed && cr->outcome == KVC_PASS;
    if (cr->stateful <= KVC_STATEFUL_NONE || cr->stateful >= KVC_STATEFUL_KINDS)
        cr->stateful = KVC_STATEFUL_NONE;
    rec->stateful[sizeof rec->stateful - 1] = '\0';
    rec->mode = cr->stateful ? kvc_stateful_name((kvc_stateful_kind)cr->stateful)
                             : kvc_mode_name((kvc_mode)cr->mode);
    rec->outcome = kvc_outcome_name((kvc_outcome)cr->outcome);
    rec->kv_format[sizeof rec->kv_format - 1] = '\0';
    rec->flags[sizeof rec->flags - 1] = '\0';
    rec->desc[sizeof rec->desc - 1] = '\0';
    rec->message[sizeof rec->message - 1] = '\0';
    rec->replay[sizeof rec->replay - 1] = '\0';
    rec->repro[sizeof rec->repro - 1] = '\0';
    cr->desc[sizeof cr->desc - 1] = '\0';
}

static void commit_case(void *ctx, uint64_t index, const void *result,
                        const kvc_job_death *death)
{
    campaign *cp = ctx;
    const kvc_campaign_opts *o = cp->o;
    kvc_campaign_stats *s = cp->s;
    case_result cr;
    if (result)
        memcpy(&cr, result, sizeof cr);
    else
        death_result(&cr, cp, index, death);
    sanitize(&cr, index);
    uint64_t failed_before = s->failed;
    tally(s, &cr);
    if (o->collect_records && cr.generated)
        keep_record(cp, &cr.rec);
    if (s->failed > failed_before) {
        if (failed_before == 0)
            cp->snapshot_due = 1;
        if (o->log && s->failed <= (uint64_t)o->max_failures_listed) {
            if (o->progress)
                fputc('\n', stderr);
            print_failure(o, &cr);
        }
    }
}

static void tick(void *ctx)
{
    campaign *cp = ctx;
    const kvc_campaign_opts *o = cp->o;
    double t = now_seconds() - cp->t0;
    if (o->progress && t - cp->last_progress > 0.2) {
        print_progress(o, cp->s,
                       cp->s->planned - cp->s->skipped - cp->s->not_covered, t);
        cp->last_progress = t;
    }
    if (o->snapshot && (cp->snapshot_due ||
                        t - cp->last_snapshot >= cp->snapshot_gap)) {
        cp->s->seconds = t;
        o->snapshot(o->snapshot_ctx, cp->s);
        cp->last_snapshot = now_seconds() - cp->t0;
        cp->snapshot_due = 0;
        /* A report of many cases takes a while to write, on a core the
         * workers need: snapshots take at most a tenth of the time. */
        double cost = cp->last_snapshot - t;
        cp->snapshot_gap = o->snapshot_seconds > 10 * cost
                               ? o->snapshot_seconds
                               : 10 * cost;
    }
}

int kvc_campaign_run(const kvc_campaign_opts *o, const kvc_kernel *k,
                     kvc_campaign_stats *s)
{
    memset(s, 0, sizeof *s);
    s->planned = shard_total(o);
    campaign cp = {.o = o,
                   .wk = {.k = k, .path = o->kernel_lib, .claim = o->claim,
                          .threads = o->kernel_threads},
                   .s = s,
                   .next_index = (uint64_t)o->shard_index,
                   .snapshot_gap = o->snapshot_seconds,
                   .t0 = now_seconds()};
    kvc_workers_cfg cfg = {
        .jobs = o->jobs > 0 ? o->jobs : 1,
        .in_process = o->in_process,
        .result_size = sizeof(case_result),
        .ctx = &cp,
        .init = worker_init,
        .run = worker_run,
        .next = next_case,
        .deadline = case_deadline,
        .commit = commit_case,
        .tick = tick,
        .fault_text = kvc_guard_fault_text,
        .stop = o->stop,
    };
    char err[512] = "";
    int st = kvc_workers_run(&cfg, err, sizeof err);
    kvc_worker_kernel_release(&cp.wk); /* --in-process loaded it here */
    s->seconds = now_seconds() - cp.t0;
    s->interrupted = st == KVC_WORKERS_STOPPED;
    s->worker_exit_status = cfg.idle_exit_status;
    if (st < 0) {
        s->broken = 1;
        snprintf(s->error, sizeof s->error, "%s", err);
    }
    if (o->progress) {
        print_progress(o, s, s->planned - s->skipped - s->not_covered,
                       s->seconds);
        fputc('\n', stderr);
    }
    if (st < 0)
        return -1;
    return s->failed ? 1 : 0;
}
