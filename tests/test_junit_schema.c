/*
 * test_junit_schema.c — the junit.xml of a real campaign report, failures
 * included, validates against the common JUnit schema (tests/junit.xsd)
 * with xmllint (libxml2-utils, installed by `make deps`).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/campaign.h"
#include "../tools/claim.h"
#include "planted_kernels.h"

static void validate_dir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "xmllint --noout --schema tests/junit.xsd '%s/junit.xml' 2>&1",
             dir);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char out[4096] = "";
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    cr_assert_eq(status, 0, "junit.xml does not validate:\n%s", out);
    cr_assert(strstr(out, "validates") != NULL, "%s", out);
}

Test(junit_schema, campaign_report_with_failures_validates, .timeout = 120)
{
    cr_assert_eq(system("command -v xmllint > /dev/null"), 0,
                 "xmllint missing: run `make deps` (libxml2-utils)");
    kvc_campaign_opts o = {.seed = 3, .cases = 60, .forced_mode = -1,
                           .shard_index = 0, .shard_count = 1,
                           .max_failures_listed = 0, .collect_records = 1};
    kvc_campaign_stats st;
    /* The planted kernel fails some paged cases: failures with messages. */
    cr_assert_eq(kvc_campaign_run(&o, &kvc_planted_no_rescale, &st), 1);
    char dir[] = "/tmp/kvcheck-junit-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    kvc_run_report rep = {"kvcheck test", "kvcheck run <&\"'>", "planted",
                          o.seed, 0, 1, KVC_TOL_THRESHOLD, st.seconds,
                          "2026-01-01T00:00:00Z", st.num_records, st.records,
                          "complete", st.planned, 1, NULL};
    /* a claim with items not claimed: the not_covered property too */
    kva_caps caps;
    kva_caps_everything(&caps);
    caps.modes = KVA_MODE_PAGED;
    caps.lse = KVA_LSE_NONE;
    kvc_claim_row rows[KVC_CLAIM_ROWS];
    kvc_report_claim claim = {kvc_claim_rows(&caps, NULL, NULL, rows,
                                             KVC_CLAIM_ROWS),
                              rows, "half-acc", "not covered", "f32", 1, 3};
    rep.claim = &claim;
    char err[512];
    cr_assert_eq(kvc_report_write(&rep, dir, err, sizeof err), 0, "%s", err);
    validate_dir(dir);
    kvc_campaign_stats_free(&st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}
