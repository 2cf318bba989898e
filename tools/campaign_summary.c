/* campaign_summary.c — the summary block a campaign prints at its end. */
#include <string.h>

#include "../oracle/profile.h"
#include "campaign.h"

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

/* "  invalid variants: 1250, all refused correctly (block_minus_1 61,
 * ...)": the campaign's invalid variants (generators/invalid.h), or why
 * there are none. */
static void print_invalid(FILE *f, const kvc_campaign_opts *o,
                          const kvc_campaign_stats *s)
{
    if (o->claim && !o->claim->validates) {
        fprintf(f, "  invalid variants: none drawn (the kernel does not "
                   "claim to validate its input)\n");
        return;
    }
    if (s->invalid_failed)
        fprintf(f, "  invalid variants: %llu, %llu not refused correctly",
                (unsigned long long)s->invalid_run,
                (unsigned long long)s->invalid_failed);
    else
        fprintf(f, "  invalid variants: %llu, all refused correctly",
                (unsigned long long)s->invalid_run);
    int any = 0;
    for (int r = 1; r < KVC_INV_COUNT; r++)
        if (s->invalid_by_rule[r])
            fprintf(f, "%s%s %llu", any++ ? ", " : " (",
                    kvc_invalid_rule_name((kvc_invalid_rule)r),
                    (unsigned long long)s->invalid_by_rule[r]);
    fprintf(f, "%s\n", any ? ")" : "");
}

/* "  stateful: 156 sequences (manager 78, policy 39, policy-attention 39),
 * 312000 operations, all agree with the models": the stateful indices
 * (generators/stateful.h), or why there are none. */
static void print_stateful(FILE *f, const kvc_campaign_stats *s)
{
    uint64_t run = 0, failed = 0;
    for (int k = 1; k < KVC_STATEFUL_KINDS; k++) {
        run += s->stateful_run[k];
        failed += s->stateful_failed[k];
    }
    if (run == 0) {
        fprintf(f, "  stateful: none (no manager or policy claimed, or the "
                   "run narrowed by --mode / --kv-dtype)\n");
        return;
    }
    fprintf(f, "  stateful: %llu sequences (", (unsigned long long)run);
    for (int k = 1, any = 0; k < KVC_STATEFUL_KINDS; k++)
        if (s->stateful_run[k])
            fprintf(f, "%s%s %llu", any++ ? ", " : "",
                    kvc_stateful_name((kvc_stateful_kind)k),
                    (unsigned long long)s->stateful_run[k]);
    if (failed)
        fprintf(f, "), %llu operations, %llu disagree with the models\n",
                (unsigned long long)s->stateful_steps, (unsigned long long)failed);
    else
        fprintf(f, "), %llu operations, all agree with the models\n",
                (unsigned long long)s->stateful_steps);
}

/* The kernel's declaration and what it leaves uncovered (an ABI 1
 * library, or one that claims everything, prints nothing here). */
static void print_claim(FILE *f, const kvc_campaign_opts *o,
                        const kvc_campaign_stats *s)
{
    if (!o->claim)
        return;
    const kva_caps *c = o->claim;
    fprintf(f, "  arithmetic: %s, lse: %s, output: %s",
            kvc_profile_name((kvc_profile)c->profile), kvc_claim_lse_name(c),
            kvc_claim_out_name(c));
    if (c->takes_threads)
        fprintf(f, ", %d thread%s per call", o->kernel_threads > 1 ? o->kernel_threads : 1,
                o->kernel_threads > 1 ? "s" : "");
    fputc('\n', f);
    int any = 0;
    for (int i = 0; i < KVC_COV_COUNT; i++) {
        char sizes[64];
        kvc_claim_describe_sizes(c, i, sizes, sizeof sizes);
        if (sizes[0] ? strcmp(sizes, "all") == 0 : kvc_claim_has(c, i))
            continue;
        fprintf(f, "%s%s%s%s%s", any ? ", " : "  not covered (outside the claim): ",
                kvc_cov_name(i), sizes[0] ? " (claimed: " : "", sizes,
                sizes[0] ? ")" : "");
        any = 1;
    }
    if (c->lse == KVA_LSE_NONE)
        fprintf(f, "%slse", any ? ", " : "  not covered (outside the claim): "), any = 1;
    if (!(c->features & KVA_FEATURE_CACHE_WRITE))
        fprintf(f, "%scache write (kvcheck writes the cache)", any ? ", " : "  not covered (outside the claim): "), any = 1;
    if (!c->validates)
        fprintf(f, "%sinput validation", any ? ", " : "  not covered (outside the claim): "), any = 1;
    if (any)
        fputc('\n', f);
    if (s->not_covered)
        fprintf(f, "  %llu case indices had no draw inside the claim\n",
                (unsigned long long)s->not_covered);
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
    print_claim(f, o, s);
    fprintf(f, "  failed: %llu", (unsigned long long)s->failed);
    for (int out = KVC_FAIL_NUMERIC; out < KVC_OUTCOME_COUNT; out++)
        if (s->failed_by_outcome[out])
            fprintf(f, "  %s %llu", kvc_outcome_name(out),
                    (unsigned long long)s->failed_by_outcome[out]);
    fputc('\n', f);
    print_invalid(f, o, s);
    print_stateful(f, s);
    fprintf(f, "  worst error ratio: %.4g (case %llu; threshold %.1f)\n",
            s->worst_ratio, (unsigned long long)s->worst_index,
            KVC_TOL_THRESHOLD);
    fprintf(f, "  %.1f cases/s, %.2f s\n",
            s->seconds > 0 ? (double)s->run / s->seconds : 0.0, s->seconds);
    if (s->failed) {
        char replay[1280];
        kvc_replay_command(o, s->first_failure, replay, sizeof replay);
        fprintf(f, "  first failure: %s\n", replay);
    }
    if (s->broken)
        fprintf(f, "  stopped: %s\n", s->error);
    if (s->interrupted)
        fprintf(f, "  interrupted after %llu of %llu cases\n",
                (unsigned long long)(s->run + s->skipped),
                (unsigned long long)s->planned);
    fprintf(f, "%s\n", kvc_campaign_verdict(s));
}

const char *kvc_campaign_verdict(const kvc_campaign_stats *s)
{
    if (s->failed)
        return "FAILED";
    if (s->broken)
        return "ERROR";
    if (s->interrupted)
        return "INTERRUPTED";
    if (s->run == 0)
        return "NOTHING CHECKED";
    return "PASSED";
}
