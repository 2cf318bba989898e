/* claim_rows.c — a kernel's claim as the reports' coverage table. */
#include <stdio.h>
#include <string.h>

#include "../reports/report.h"
#include "claim.h"

const char *kvc_claim_lse_name(const kva_caps *caps)
{
    switch (caps->lse) {
    case KVA_LSE_NATURAL: return "natural";
    case KVA_LSE_BASE2: return "base 2";
    default: return "not covered";
    }
}

const char *kvc_claim_out_name(const kva_caps *caps)
{
    return caps->out_dtype == KVA_DTYPE_F16    ? "f16"
           : caps->out_dtype == KVA_DTYPE_BF16 ? "bf16"
                                               : "f32";
}

static void row(kvc_claim_row *r, const char *item, int claimed,
                const char *detail, uint64_t run, uint64_t outside)
{
    memset(r, 0, sizeof *r);
    snprintf(r->item, sizeof r->item, "%s", item);
    snprintf(r->detail, sizeof r->detail, "%s", detail);
    r->claimed = claimed;
    r->cases_run = run;
    r->draws_outside = outside;
}

size_t kvc_claim_rows(const kva_caps *caps, const uint64_t *cov_run,
                      const uint64_t *cov_outside, kvc_claim_row *rows,
                      size_t max)
{
    size_t n = 0;
    char sizes[64];
    for (int i = 0; i < KVC_COV_COUNT && n < max; i++) {
        kvc_claim_describe_sizes(caps, i, sizes, sizeof sizes);
        /* a size item is claimed when some size is: its detail says which */
        int claimed = sizes[0] ? 1 : kvc_claim_has(caps, i);
        row(&rows[n++], kvc_cov_name(i), claimed, sizes,
            cov_run ? cov_run[i] : 0, cov_outside ? cov_outside[i] : 0);
    }
    if (n < max)
        row(&rows[n++], "lse", caps->lse != KVA_LSE_NONE,
            caps->lse == KVA_LSE_NONE ? "lse not covered"
                                      : kvc_claim_lse_name(caps), 0, 0);
    if (n < max)
        row(&rows[n++], "cache write (in place)",
            (caps->features & KVA_FEATURE_CACHE_WRITE) != 0,
            caps->features & KVA_FEATURE_CACHE_WRITE
                ? "kva_cache_write checked"
                : "new tokens written by kvcheck", 0, 0);
    if (n < max)
        row(&rows[n++], "input validation", caps->validates,
            caps->validates ? "refusals checked (invalid variants, golden tests)"
                            : "invalid inputs not covered", 0, 0);
    return n;
}
