/* campaign.c — the loop over cases, progress, failures and the summary. */
#include "campaign.h"

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

/* Keep a record; on allocation failure records are dropped, not the run. */
static void keep_record(kvc_campaign_stats *s, const kvc_campaign_opts *o,
                        const kvc_case *c, const kvc_result *r,
                        uint64_t index, double seconds, size_t *cap)
{
    if (s->num_records == *cap) {
        size_t ncap = *cap ? 2 * *cap : 1024;
        kvc_case_record *nr = realloc(s->records, ncap * sizeof *nr);
        if (!nr)
            return;
        s->records = nr;
        *cap = ncap;
    }
    kvc_record_fill(&s->records[s->num_records++], o, c, r, index, seconds);
}

static void report_failure(const kvc_campaign_opts *o, const kvc_case *c,
                           const kvc_result *r, uint64_t index)
{
    char desc[512], replay[1280];
    kvc_case_describe(c, desc, sizeof desc);
    kvc_replay_command(o, index, replay, sizeof replay);
    fprintf(o->log, "FAIL case %llu [%s] %s: %s\n  case: %s\n  replay: %s\n",
            (unsigned long long)index, kvc_mode_name(c->spec.mode),
            kvc_outcome_name(r->outcome), r->message, desc, replay);
}

/* The slots of a case's format in run_by_format / failed_by_format. */
static void format_slot(const kvc_case *c, int *d, int *k)
{
    int dt = (int)c->prob.quant.dtype, kd = (int)c->prob.quant.kind;
    *d = dt >= 0 && dt < KVC_KV_DTYPE_COUNT ? dt : KVC_KV_DTYPE_COUNT;
    *k = kd >= 0 && kd < KVC_SCALE_KIND_COUNT ? kd : KVC_SCALE_KIND_COUNT;
}

static void record(kvc_campaign_stats *s, const kvc_case *c,
                   const kvc_result *r, uint64_t index)
{
    int d, k;
    format_slot(c, &d, &k);
    s->run++;
    s->run_by_mode[c->spec.mode]++;
    s->run_by_format[d][k]++;
    if (r->verdict.seq >= 0 && r->verdict.ratio > s->worst_ratio) {
        s->worst_ratio = r->verdict.ratio;
        s->worst_index = index;
    }
    if (r->outcome == KVC_PASS)
        return;
    if (s->failed == 0)
        s->first_failure = index;
    s->failed++;
    s->failed_by_mode[c->spec.mode]++;
    s->failed_by_format[d][k]++;
    s->failed_by_outcome[r->outcome]++;
}

/* Whether case idx has a cache format the campaign runs (its spec is
 * drawn once more, cheaply, before anything is built). */
static int format_selected(const kvc_campaign_opts *o, uint64_t idx)
{
    kvc_case_spec sp;
    if (o->kv_dtypes == 0 ||
        kvc_spec_draw(o->seed, idx, o->forced_mode, &sp) != 0)
        return 1; /* a draw that fails is reported by the build below */
    return (o->kv_dtypes >> sp.kv_dtype & 1u) != 0;
}

int kvc_campaign_run(const kvc_campaign_opts *o, const kvc_kernel *k,
                     kvc_campaign_stats *s)
{
    memset(s, 0, sizeof *s);
    uint64_t total = shard_total(o);
    size_t cap = 0;
    double t0 = now_seconds(), last = 0;
    for (uint64_t idx = (uint64_t)o->shard_index; idx < o->cases;
         idx += (uint64_t)o->shard_count) {
        kvc_case c;
        kvc_result r;
        char err[256];
        if (!format_selected(o, idx)) {
            s->skipped++;
            continue;
        }
        if (kvc_case_generate(o->seed, idx, o->forced_mode, &c, err,
                              sizeof err) != 0) {
            /* A generator that cannot build its own draw is a bug too. */
            memset(&r, 0, sizeof r);
            r.verdict.seq = -1;
            r.outcome = KVC_FAIL_SETUP;
            snprintf(r.message, sizeof r.message, "generator: %s", err);
            s->run++;
            if (s->failed++ == 0)
                s->first_failure = idx;
            s->failed_by_outcome[KVC_FAIL_SETUP]++;
            if (o->log)
                fprintf(o->log, "FAIL case %llu setup: %s\n",
                        (unsigned long long)idx, r.message);
            continue;
        }
        double tc = now_seconds();
        kvc_run_case(&c, k, &r);
        record(s, &c, &r, idx);
        if (o->collect_records)
            keep_record(s, o, &c, &r, idx, now_seconds() - tc, &cap);
        if (r.outcome != KVC_PASS && o->log &&
            s->failed <= (uint64_t)o->max_failures_listed) {
            if (o->progress)
                fputc('\n', stderr);
            report_failure(o, &c, &r, idx);
        }
        kvc_case_free(&c);
        double t = now_seconds() - t0;
        if (o->progress && t - last > 0.2) {
            print_progress(o, s, total, t);
            last = t;
        }
    }
    s->seconds = now_seconds() - t0;
    if (o->progress) {
        print_progress(o, s, total, s->seconds);
        fputc('\n', stderr);
    }
    return s->failed ? 1 : 0;
}

/* "  formats: f32 8812, f16 1402, ... (failed: nvfp4/group 3)": the
 * formats that ran, in enum order; the failed part only when one failed. */
static void print_formats(FILE *f, const kvc_campaign_stats *s)
{
    char name[64];
    int any = 0, failed = 0;

    for (int pass = 0; pass < 2; pass++) {
        for (int d = 0; d <= KVC_KV_DTYPE_COUNT; d++)
            for (int k = 0; k <= KVC_SCALE_KIND_COUNT; k++) {
                uint64_t n = pass ? s->failed_by_format[d][k]
                                  : s->run_by_format[d][k];
                if (!n)
                    continue;
                kvc_kv_format_label((kvc_kv_dtype)d, (kvc_scale_kind)k, name,
                                    sizeof name);
                if (pass == 0)
                    fprintf(f, "%s%s %llu", any++ ? ", " : "  formats: ",
                            name, (unsigned long long)n);
                else
                    fprintf(f, "%s%s %llu", failed++ ? ", " : " (failed: ",
                            name, (unsigned long long)n);
            }
    }
    if (failed)
        fputc(')', f);
    if (any)
        fputc('\n', f);
}

void kvc_campaign_print_summary(FILE *f, const kvc_campaign_opts *o,
                                const kvc_campaign_stats *s)
{
    fprintf(f, "kvcheck run: seed %llu, shard %d/%d, %llu cases (",
            (unsigned long long)o->seed, o->shard_index, o->shard_count,
            (unsigned long long)s->run);
    for (int m = 0; m < KVC_MODE_COUNT; m++)
        fprintf(f, "%s%s %llu", m ? ", " : "", kvc_mode_name(m),
                (unsigned long long)s->run_by_mode[m]);
    fprintf(f, ")\n");
    if (s->skipped)
        fprintf(f, "  skipped: %llu cases of other formats (--kv-dtype)\n",
                (unsigned long long)s->skipped);
    print_formats(f, s);
    fprintf(f, "  failed: %llu", (unsigned long long)s->failed);
    for (int out = KVC_FAIL_NUMERIC; out < KVC_OUTCOME_COUNT; out++)
        if (s->failed_by_outcome[out])
            fprintf(f, "  %s %llu", kvc_outcome_name(out),
                    (unsigned long long)s->failed_by_outcome[out]);
    fprintf(f, "\n  worst error ratio: %.4g (case %llu; threshold %.1f)\n",
            s->worst_ratio, (unsigned long long)s->worst_index,
            KVC_TOL_THRESHOLD);
    fprintf(f, "  %.1f cases/s, %.2f s\n",
            s->seconds > 0 ? (double)s->run / s->seconds : 0.0, s->seconds);
    if (s->failed) {
        char replay[1280];
        kvc_replay_command(o, s->first_failure, replay, sizeof replay);
        fprintf(f, "  first failure: %s\n", replay);
    }
    fprintf(f, "%s\n", s->failed ? "FAILED" : "PASSED");
}
