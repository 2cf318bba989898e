/*
 * test_golden_variant.c — invalid golden tests with a `variant` (FORMAT.md,
 * "variant"): the committed set holds one per parameter rule, the in-tree
 * kernel refuses each with the status kvattn.h gives that rule, a planted
 * kernel that accepts a negative softcap fails its test, a kernel that does
 * not claim to validate leaves them not covered, a malformed variant is
 * refused naming its field, and read -> write gives back the file's bytes.
 * Runs from the source tree's root.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/golden_verify.h"
#include "../tools/kernel_lib.h"
#include "../tools/refusal.h"
#include "planted_refusals.h"

#define PAGED "golden/vectors/paged_attention.json"

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "%s", path);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void read_file(const char *path, kvc_golden_file *f)
{
    char err[512];
    cr_assert_eq(kvc_golden_read(path, f, err, sizeof err), 0, "%s", err);
}

/* kvattn.h's "Refused:" lines, written out here (not taken from
 * tools/refusal.c): the status each parameter rule calls for. */
static const struct {
    const char *rule;
    const char *status;
} want[] = {
    {"heads_ratio", "KVA_ERR_SHAPE"},     {"head_dim_0", "KVA_ERR_SHAPE"},
    {"scale_nonfinite", "KVA_ERR_PARAM"}, {"softcap_negative", "KVA_ERR_PARAM"},
    {"window_below", "KVA_ERR_PARAM"},    {"strides_overlap", "KVA_ERR_SHAPE"},
    {"format_unknown", "KVA_ERR_FORMAT"}, {"static_scale", "KVA_ERR_FORMAT"},
    {"nvfp4_head_dim", "KVA_ERR_FORMAT"}, {"qsl_decreasing", "KVA_ERR_LENGTH"},
};
#define NRULES (int)(sizeof want / sizeof want[0])

static int rule_index(const char *name)
{
    for (int i = 0; i < NRULES; i++)
        if (strcmp(want[i].rule, name) == 0)
            return i;
    return -1;
}

Test(golden_variant, one_per_parameter_rule_refused_with_its_status,
     .timeout = 60)
{
    kvc_golden_file f;
    read_file(PAGED, &f);
    int seen[NRULES] = {0};
    for (int i = 0; i < f.num_tests; i++) {
        const kvc_golden_test *t = &f.tests[i];
        if (!t->has_variant)
            continue;
        cr_assert_eq(t->result, KVC_EXPECT_INVALID, "tcId %d", t->tc_id);
        int r = rule_index(kvc_invalid_rule_name(t->inv.rule));
        cr_assert_geq(r, 0, "tcId %d: rule %s", t->tc_id,
                      kvc_invalid_rule_name(t->inv.rule));
        seen[r]++;
        cr_expect_str_eq(t->error, want[r].status, "tcId %d", t->tc_id);
        kvc_result res;
        cr_expect_eq(kvc_golden_run_test(t, &kvc_builtin_kernel, &res),
                     KVC_PASS, "tcId %d: %s", t->tc_id, res.message);
        cr_expect_str_eq(kva_status_name(res.refused), want[r].status,
                         "tcId %d (%s)", t->tc_id, t->inv.what);
        cr_expect_neq(kvc_refusal_statuses(t->flags) >> res.refused & 1u, 0,
                      "tcId %d", t->tc_id);
    }
    for (int r = 0; r < NRULES; r++)
        cr_expect_geq(seen[r], 1, "no variant test of rule %s", want[r].rule);
    kvc_golden_free(&f);
}

Test(golden_variant, planted_negative_softcap_fails_its_test, .timeout = 60)
{
    kvc_golden_file f;
    read_file(PAGED, &f);
    int found = 0;
    for (int i = 0; i < f.num_tests; i++) {
        const kvc_golden_test *t = &f.tests[i];
        if (!t->has_variant || t->inv.rule != KVC_INV_SOFTCAP_NEGATIVE)
            continue;
        found++;
        kvc_result r;
        kvc_outcome o = kvc_golden_run_test(t, &kvc_planted_negative_softcap, &r);
        cr_expect_neq(o, KVC_PASS, "tcId %d: the planted kernel accepted "
                      "softcap %a and passed", t->tc_id,
                      (double)t->inv.cfg.softcap);
        cr_expect_lt(t->inv.cfg.softcap, 0.0f);
    }
    cr_assert_geq(found, 1);
    kvc_golden_free(&f);
}

Test(golden_variant, not_covered_without_a_validation_claim, .timeout = 60)
{
    kvc_golden_file f;
    read_file(PAGED, &f);
    int variants = 0, invalid = 0;
    for (int i = 0; i < f.num_tests; i++) {
        variants += f.tests[i].has_variant;
        invalid += f.tests[i].result == KVC_EXPECT_INVALID;
    }
    kva_caps claim;
    kva_caps_everything(&claim);
    claim.validates = 0;
    FILE *devnull = fopen("/dev/null", "w");
    cr_assert_not_null(devnull);
    kvc_verify_counts n = {0};
    kvc_golden_verify_file(&f, "paged",
                           &(kvc_verify_kernel){&kvc_planted_negative_softcap,
                                               NULL, 0, 0, &claim, 0},
                           NULL, 0, devnull, &n);
    fclose(devnull);
    cr_assert_geq(variants, NRULES);
    cr_expect_eq(n.outside_claim, invalid, "%d not covered, %d invalid tests",
                 n.outside_claim, invalid);
    cr_expect_eq(n.failed, 0);
    kvc_golden_free(&f);
}

Test(golden_variant, read_write_is_byte_identical, .timeout = 60)
{
    size_t len;
    char *text = slurp(PAGED, &len);
    kvc_golden_file f;
    char err[512];
    cr_assert_eq(kvc_golden_parse(text, len, PAGED, &f, err, sizeof err), 0,
                 "%s", err);
    char *again = kvc_golden_to_json(&f, err, sizeof err);
    cr_assert_not_null(again, "%s", err);
    cr_expect_eq(strlen(again), len);
    cr_expect(memcmp(again, text, len) == 0, "rewritten text differs");
    free(again);
    kvc_golden_free(&f);
    free(text);
}

/* A key of a variant object: one key per line at 6 levels of indentation
 * (the config's keys sit at 4), so an edit finds the variant's, not the
 * config's. */
#define V "\n            "

/* The committed text with the first occurrence of `from` replaced. */
static char *edit(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    cr_assert_not_null(at, "'%s' not in the file", from);
    size_t n = strlen(text), a = (size_t)(at - text);
    char *out = malloc(n + strlen(to) + 1);
    cr_assert_not_null(out);
    memcpy(out, text, a);
    strcpy(out + a, to);
    strcat(out, at + strlen(from));
    return out;
}

static void refused(const char *text, const char *field, const char *why)
{
    kvc_golden_file f;
    char err[512];
    cr_assert_neq(kvc_golden_parse(text, strlen(text), "x.json", &f, err,
                                   sizeof err), 0, "accepted (%s)", field);
    cr_expect(strstr(err, "tcId ") != NULL, "%s", err);
    char q[96];
    snprintf(q, sizeof q, "field '%s'", field);
    cr_expect(strstr(err, q) != NULL, "no %s in: %s", q, err);
    cr_expect(strstr(err, why) != NULL, "no '%s' in: %s", why, err);
}

Test(golden_variant, malformed_variants_are_refused_naming_the_field,
     .timeout = 60)
{
    size_t len;
    char *text = slurp(PAGED, &len);
    static const struct {
        const char *from, *to, *field, *why;
    } cases[] = {
        {V "\"softcap\": \"-0x1p-126\"", V "\"softcap\": -1", "variant.softcap",
         "found a number"},
        {V "\"windowLeft\": -2147483648", "\"windowLeft\": \"-2\"",
         "variant.windowLeft", "expected an integer"},
        {V "\"rule\": \"heads_ratio\"", "\"rule\": \"no_such_rule\"",
         "variant.rule", "unknown rule"},
        {V "\"rule\": \"heads_ratio\"", "\"rule\": \"block_minus_1\"",
         "variant.rule", "not in a variant"},
        {V "\"rule\": \"heads_ratio\"", "\"rule\": \"softcap_negative\"",
         "variant.rule", "lack \"bad_param\""},
        {V "\"numQHeads\": 3", "\"numQHeads\": 4", "variant.numQHeads",
         "equals the case's own"},
        {V "\"headDim\": 0\n", "\"headDim\": 0,\n            \"oops\": 1\n",
         "variant", "unknown key"},
        {V "\"kvScale\": \"attn_head\"", "\"kvScale\": 1", "variant.kvScale",
         "known code"},
        {V "\"strideHead\": 0", "\"strideHead\": 0, \"strideHead\": 1",
         "variant.strideHead", "twice"},
        {V "\"rule\": \"heads_ratio\",\n", "", "variant.rule", "missing"},
        {V "\"softcap\": \"-0x1p-126\"", V "\"softcap\": \"0x1p-126\"",
         "variant", "do not break rule \"softcap_negative\""},
        {V "\"windowLeft\": -2147483648", V "\"windowLeft\": -1",
         "variant.windowLeft", "equals the case's own"},
        {V "\"windowLeft\": -2147483648", V "\"windowLeft\": 5", "variant",
         "do not break rule \"window_below\""},
        {V "\"numQHeads\": 3", V "\"numQHeads\": 3," V "\"softcap\": \"-0x1p-1\"",
         "variant.softcap", "does not change"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *bad = edit(text, cases[i].from, cases[i].to);
        refused(bad, cases[i].field, cases[i].why);
        free(bad);
    }
    /* a variant's own case is valid: its static scale too (the broken one
     * is the variant's) */
    char *zero = edit(text, "\n          \"kScale\": \"0x1.6a2ddep-8\"",
                      "\n          \"kScale\": \"0x0p+0\"");
    refused(zero, "kScale", "its broken scale goes in the variant");
    free(zero);
    /* a variant on a valid test */
    char *bad = edit(text, "\"result\": \"valid\",\n",
                     "\"result\": \"valid\",\n          \"variant\": {},\n");
    refused(bad, "variant", "only invalid tests");
    free(bad);
    free(text);
}
