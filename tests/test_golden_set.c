/*
 * test_golden_set.c — the committed golden set (golden/vectors/) covers what
 * it promises, the in-tree kernels pass it, and a planted bug fails it.
 * Regeneration byte-for-byte and the oracle's bit-exactness across
 * compilers are checked by `make golden-check` (part of `make test`).
 * Runs from the source tree's root (make test does).
 */
#include <criterion/criterion.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../oracle/kv_store.h"
#include "../tools/golden_set.h"
#include "../tools/golden_verify.h"
#include "../tools/kernel_lib.h"
#include "planted_kernels.h"

typedef struct set_summary {
    uint64_t flags;
    int per_mode[KVC_MODE_COUNT];
    int per_result[3];
    int block_sizes[4]; /* 1, 3, 16, > 16 */
    int mha, gqa, mqa, odd_head_dim;
    int tests;
} set_summary;

static void summarize_file(const kvc_golden_file *f, set_summary *s)
{
    for (int i = 0; i < f->num_tests; i++) {
        const kvc_golden_test *t = &f->tests[i];
        const kvc_config *cfg = &t->c.prob.cfg;
        s->tests++;
        s->flags |= t->flags;
        s->per_mode[t->c.spec.mode]++;
        s->per_result[t->result]++;
        int B = t->c.layout.block_size;
        if (t->c.spec.mode != KVC_MODE_BLOCKED) {
            s->block_sizes[0] += B == 1;
            s->block_sizes[1] += B == 3;
            s->block_sizes[2] += B == 16;
            s->block_sizes[3] += B > 16;
        }
        int group = cfg->num_q_heads / cfg->num_kv_heads;
        s->mha += group == 1;
        s->gqa += group > 1 && cfg->num_kv_heads > 1;
        s->mqa += cfg->num_kv_heads == 1 && cfg->num_q_heads > 1;
        s->odd_head_dim += cfg->head_dim % 2 == 1;
    }
}

static set_summary summarize_committed(void)
{
    set_summary s;
    memset(&s, 0, sizeof s);
    glob_t g;
    cr_assert_eq(glob("golden/vectors/*.json", 0, NULL, &g), 0,
                 "no golden/vectors/*.json: run the tests from the source root");
    for (size_t i = 0; i < g.gl_pathc; i++) {
        kvc_golden_file f;
        char err[512];
        cr_assert_eq(kvc_golden_read(g.gl_pathv[i], &f, err, sizeof err), 0,
                     "%s", err);
        summarize_file(&f, &s);
        kvc_golden_free(&f);
    }
    globfree(&g);
    return s;
}

Test(golden_set, covers_every_flag_mode_and_result)
{
    set_summary s = summarize_committed();
    for (int b = 0; b < KVC_FLAG_ALL_COUNT; b++)
        if (b != KVC_FLAG_LARGE_OFFSETS && /* left out: see golden_set.h */
            b != KVC_FLAG_QEFF_POSITIONS) /* the campaign's only */
            cr_expect(s.flags & (1ull << b), "no committed vector has flag %s",
                      kvc_flag_name(b));
    for (int m = 0; m < KVC_MODE_COUNT; m++)
        cr_expect_geq(s.per_mode[m], 5, "mode %s: %d tests",
                      kvc_mode_name(m), s.per_mode[m]);
    for (int r = 0; r < 3; r++)
        cr_expect_gt(s.per_result[r], 0, "no %s test",
                     kvc_expect_name((kvc_expect)r));
    const char *bs[4] = {"1", "3", "16", "> 16"};
    for (int i = 0; i < 4; i++)
        cr_expect_gt(s.block_sizes[i], 0, "no test with block size %s", bs[i]);
    cr_expect_gt(s.mha, 0);
    cr_expect_gt(s.gqa, 0);
    cr_expect_gt(s.mqa, 0);
    cr_expect_gt(s.odd_head_dim, 0);
}

/* Every cache format x scale strategy has a valid test with K/V in the
 * cache in each standard file, and each standard file has an invalid
 * bad_kv_format test refused with KVA_ERR_FORMAT. */
Test(golden_set, every_format_and_strategy_in_every_file)
{
    for (int m = 0; m < KVC_MODE_COUNT; m++) {
        char path[256], err[512];
        snprintf(path, sizeof path, "golden/vectors/%s",
                 kvc_golden_file_name((kvc_mode)m));
        kvc_golden_file f;
        cr_assert_eq(kvc_golden_read(path, &f, err, sizeof err), 0, "%s", err);
        int seen[KVC_KV_DTYPE_COUNT][KVC_SCALE_KIND_COUNT] = {{0}};
        int bad_format = 0;
        for (int i = 0; i < f.num_tests; i++) {
            const kvc_golden_test *t = &f.tests[i];
            const kvc_problem *p = &t->c.prob;
            if (t->result == KVC_EXPECT_VALID && p->num_seqs > 0 &&
                p->kv_start[p->num_seqs] > 0)
                seen[p->quant.dtype][p->quant.kind]++;
            if (t->result == KVC_EXPECT_INVALID &&
                (t->flags >> KVC_FLAG_BAD_KV_FORMAT & 1)) {
                bad_format++;
                cr_expect_str_eq(t->error, "KVA_ERR_FORMAT", "%s tcId %d", path,
                                 t->tc_id);
            }
        }
        for (int d = 0; d < KVC_KV_DTYPE_COUNT; d++)
            for (int k = 0; k < KVC_SCALE_KIND_COUNT; k++)
                if (kvc_quant_kind_valid((kvc_kv_dtype)d, (kvc_scale_kind)k))
                    cr_expect_gt(seen[d][k], 0, "%s: no valid test of %s with "
                                 "scales %s", path,
                                 kvc_kv_dtype_name((kvc_kv_dtype)d),
                                 kvc_scale_kind_name((kvc_scale_kind)k));
                else
                    cr_expect_eq(seen[d][k], 0);
        cr_expect_gt(bad_format, 0, "%s: no bad_kv_format test", path);
        kvc_golden_free(&f);
    }
}

/* The first valid test of the paged file with this format. */
static const kvc_golden_test *first_of(const kvc_golden_file *f,
                                       kvc_kv_dtype d, kvc_scale_kind k)
{
    for (int i = 0; i < f->num_tests; i++) {
        const kvc_golden_test *t = &f->tests[i];
        if (t->result == KVC_EXPECT_VALID && t->c.prob.quant.dtype == d &&
            t->c.prob.quant.kind == k && t->c.prob.kv_start[t->c.prob.num_seqs] > 0)
            return &f->tests[i];
    }
    return NULL;
}

/* "expected.NAME[r][h][d]" of flat index e ([r][h] when D == 0). */
static void at_of(char *buf, size_t n, const char *name, int64_t e, int H, int D)
{
    if (D > 0)
        snprintf(buf, n, "expected.%s[%lld][%lld][%lld]", name,
                 (long long)(e / D / H), (long long)(e / D % H),
                 (long long)(e % D));
    else
        snprintf(buf, n, "expected.%s[%lld][%lld]", name, (long long)(e / H),
                 (long long)(e % H));
}

/* A file whose stored codes, token scales or group codes disagree with the
 * oracle's is corrupt: verify says so (naming the array and the element)
 * without running the kernel; the untouched tests pass. */
Test(golden_set, corrupt_codes_are_reported)
{
    kvc_golden_file f;
    char err[512], msg[512];
    cr_assert_eq(kvc_golden_read("golden/vectors/paged_attention.json", &f, err,
                                 sizeof err), 0, "%s", err);
    kvc_golden_test *tok = (kvc_golden_test *)first_of(&f, KVC_KV_FP8_E4M3,
                                                       KVC_SCALE_TOKEN);
    kvc_golden_test *grp = (kvc_golden_test *)first_of(&f, KVC_KV_NVFP4,
                                                       KVC_SCALE_GROUP);
    kvc_golden_test *h16 = (kvc_golden_test *)first_of(&f, KVC_KV_F16,
                                                       KVC_SCALE_NONE);
    cr_assert(tok && grp && h16);
    kvc_result r;
    cr_assert_eq(kvc_golden_check_codes(tok, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(kvc_golden_run_test(tok, &kvc_builtin_kernel, &r), KVC_PASS,
                 "%s", r.message);

    char where[96];
    h16->v_codes[3] ^= 1;
    cr_assert_eq(kvc_golden_check_codes(h16, msg, sizeof msg), 1);
    cr_assert_not_null(strstr(msg, "corrupt vector"), "%s", msg);
    at_of(where, sizeof where, "vCodes", 3, h16->c.prob.cfg.num_kv_heads,
          h16->c.prob.cfg.head_dim);
    cr_assert_not_null(strstr(msg, where), "%s not in %s", where, msg);
    cr_assert_eq(kvc_golden_run_test(h16, &kvc_builtin_kernel, &r), KVC_FAIL_SETUP);
    cr_assert_not_null(strstr(r.message, "corrupt vector"), "%s", r.message);
    h16->v_codes[3] ^= 1;
    cr_assert_eq(kvc_golden_check_codes(h16, msg, sizeof msg), 0, "%s", msg);

    tok->k_token_scales[1] *= 2.0f;
    cr_assert_eq(kvc_golden_check_codes(tok, msg, sizeof msg), 1);
    at_of(where, sizeof where, "kTokenScales", 1, tok->c.prob.cfg.num_kv_heads, 0);
    cr_assert_not_null(strstr(msg, where), "%s not in %s", where, msg);
    tok->k_token_scales[1] /= 2.0f;

    grp->k_codes[17] ^= 8; /* the sign of an e2m1 code */
    cr_assert_eq(kvc_golden_check_codes(grp, msg, sizeof msg), 1);
    at_of(where, sizeof where, "kCodes", 17, grp->c.prob.cfg.num_kv_heads,
          grp->c.prob.cfg.head_dim);
    cr_assert_not_null(strstr(msg, where), "%s not in %s", where, msg);
    grp->k_codes[17] ^= 8;
    grp->v_group_codes[0] += 1;
    cr_assert_eq(kvc_golden_check_codes(grp, msg, sizeof msg), 1);
    cr_assert_not_null(strstr(msg, "expected.vGroupCodes[0][0][0]"), "%s", msg);
    grp->v_group_codes[0] -= 1;
    cr_assert_eq(kvc_golden_run_test(grp, &kvc_builtin_kernel, &r), KVC_PASS,
                 "%s", r.message);
    kvc_golden_free(&f);
}

/* The committed files are exactly what the set's definition builds now
 * (same tests, same bytes), file by file, for the standard files. */
Test(golden_set, committed_files_match_their_definition, .timeout = 120)
{
    for (int m = 0; m < KVC_MODE_COUNT; m++) {
        kvc_golden_file f;
        char err[512], path[256];
        cr_assert_eq(kvc_golden_standard((kvc_mode)m, &f, err, sizeof err), 0,
                     "%s", err);
        char *text = kvc_golden_to_json(&f, err, sizeof err);
        cr_assert_not_null(text, "%s", err);
        snprintf(path, sizeof path, "golden/vectors/%s",
                 kvc_golden_file_name((kvc_mode)m));
        FILE *fp = fopen(path, "rb");
        cr_assert_not_null(fp, "cannot open %s", path);
        size_t n = strlen(text);
        char *disk = malloc(n + 1);
        size_t got = fread(disk, 1, n + 1, fp);
        fclose(fp);
        cr_expect(got == n && memcmp(disk, text, n) == 0,
                  "%s differs from its definition: run `build/kvcheck golden "
                  "regen`", path);
        free(disk);
        free(text);
        kvc_golden_free(&f);
    }
}

/* A kernel that forgets the online-softmax rescale must fail the vectors
 * built to need rescaling. (Valid tests only: the planted kernel trusts its
 * input and would read out of bounds on the invalid ones.) */
Test(golden_set, planted_bug_fails_the_vectors)
{
    kvc_golden_file f;
    char err[512];
    cr_assert_eq(kvc_golden_read("golden/vectors/paged_attention.json", &f, err,
                                 sizeof err),
                 0, "%s", err);
    int valid = 0, good_failed = 0, bad_failed = 0;
    for (int i = 0; i < f.num_tests; i++) {
        const kvc_golden_test *t = &f.tests[i];
        if (t->result != KVC_EXPECT_VALID)
            continue;
        valid++;
        kvc_result r;
        good_failed += kvc_golden_run_test(t, &kvc_builtin_kernel, &r) != KVC_PASS;
        bad_failed += kvc_golden_run_test(t, &kvc_planted_no_rescale, &r) != KVC_PASS;
    }
    kvc_golden_free(&f);
    cr_assert_gt(valid, 10);
    cr_assert_eq(good_failed, 0);
    cr_assert_gt(bad_failed, 0, "the planted no-rescale kernel passed");
}

/* Invalid vectors: the in-tree kernel refuses each with the status the
 * file names. */
Test(golden_set, invalid_vectors_are_refused_with_their_status)
{
    glob_t g;
    cr_assert_eq(glob("golden/vectors/*.json", 0, NULL, &g), 0);
    int invalid = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        kvc_golden_file f;
        char err[512];
        cr_assert_eq(kvc_golden_read(g.gl_pathv[i], &f, err, sizeof err), 0,
                     "%s", err);
        for (int j = 0; j < f.num_tests; j++) {
            const kvc_golden_test *t = &f.tests[j];
            if (t->result != KVC_EXPECT_INVALID)
                continue;
            invalid++;
            kvc_result r;
            cr_expect_eq(kvc_golden_run_test(t, &kvc_builtin_kernel, &r),
                         KVC_PASS, "%s tcId %d: %s", g.gl_pathv[i], t->tc_id,
                         r.message);
            cr_expect_str_eq(kva_status_name(r.refused), t->error,
                             "%s tcId %d", g.gl_pathv[i], t->tc_id);
        }
        kvc_golden_free(&f);
    }
    globfree(&g);
    cr_assert_geq(invalid, 12);
}

/* verify --kv-dtype / --kernel: only the selected tests run, the rest are
 * counted as skipped; together they are the whole file. */
Test(golden_set, verify_selects_by_format_and_mode)
{
    kvc_golden_file f;
    char err[512];
    cr_assert_eq(kvc_golden_read("golden/vectors/paged_attention.json", &f, err,
                                 sizeof err), 0, "%s", err);
    int f32 = 0, nvfp4 = 0;
    for (int i = 0; i < f.num_tests; i++) {
        f32 += f.tests[i].c.prob.quant.dtype == KVC_KV_F32;
        nvfp4 += f.tests[i].c.prob.quant.dtype == KVC_KV_NVFP4;
    }
    cr_assert(f32 > 0 && nvfp4 > 0);
    FILE *devnull = fopen("/dev/null", "w");
    cr_assert_not_null(devnull);
    const kvc_verify_select only_f32 = {-1, 1u << KVC_KV_F32};
    kvc_verify_counts n = {0};
    kvc_golden_verify_file(&f, "paged", &(kvc_verify_kernel){&kvc_builtin_kernel, NULL, 1, 0, NULL, 0}, &only_f32, 0,
                           devnull, &n);
    cr_assert_eq(n.passed + n.failed, f32);
    cr_assert_eq(n.failed, 0);
    cr_assert_eq(n.skipped, f.num_tests - f32);
    const kvc_verify_select nvfp4_blocked = {KVC_MODE_BLOCKED, 1u << KVC_KV_NVFP4};
    kvc_verify_counts m = {0};
    kvc_golden_verify_file(&f, "paged", &(kvc_verify_kernel){&kvc_builtin_kernel, NULL, 1, 0, NULL, 0}, &nvfp4_blocked, 0,
                           devnull, &m);
    cr_assert_eq(m.passed + m.failed, 0, "a paged file has no blocked test");
    cr_assert_eq(m.skipped, f.num_tests);
    fclose(devnull);
    kvc_golden_free(&f);
}

/* A kernel that refuses every invalid input, but always as KVA_ERR_PARAM:
 * golden verify compares the status with the rule the input breaks. */
static kva_status param_write(const kva_paged_cache *c, const float *k,
                              const float *v, const int64_t *slots, int64_t n,
                              kva_error *e)
{
    kva_status s = kva_cache_write(c, k, v, slots, n, e);
    if (s != KVA_OK && e)
        e->status = KVA_ERR_PARAM;
    return s == KVA_OK ? s : KVA_ERR_PARAM;
}

static kva_status param_paged(const kva_attn_params *p,
                              const kva_paged_cache *c,
                              const kva_paged_batch *b, const float *q,
                              int64_t n, float *out, float *lse, kva_error *e)
{
    kva_status s = kva_paged_attention(p, c, b, q, n, out, lse, e);
    return s == KVA_OK ? s : KVA_ERR_PARAM;
}

Test(golden_set, refusal_status_must_match_the_broken_rule)
{
    kvc_kernel k = kvc_builtin_kernel;
    k.name = "wrong-status";
    k.cache_write = param_write;
    k.paged_attention = param_paged;
    kvc_golden_file f;
    char err[512];
    cr_assert_eq(kvc_golden_read("golden/vectors/paged_attention.json", &f, err,
                                 sizeof err), 0, "%s", err);
    /* the variants that break an attention parameter (bad_param) call for
     * KVA_ERR_PARAM: those pass */
    int invalid = 0, param = 0;
    for (int i = 0; i < f.num_tests; i++) {
        int inv = f.tests[i].result == KVC_EXPECT_INVALID;
        invalid += inv && !(f.tests[i].flags >> KVC_FLAG_BAD_PARAM & 1u);
        param += inv && (f.tests[i].flags >> KVC_FLAG_BAD_PARAM & 1u);
    }
    cr_assert_geq(param, 3);
    FILE *devnull = fopen("/dev/null", "w");
    cr_assert_not_null(devnull);
    kvc_verify_counts n = {0};
    kvc_golden_verify_file(&f, "paged",
                           &(kvc_verify_kernel){&k, NULL, 1, 0, NULL, 0}, NULL,
                           0, devnull, &n);
    fclose(devnull);
    cr_assert_gt(invalid, 0);
    /* every invalid test refused with the wrong status fails; the valid
     * ones pass */
    cr_expect_eq(n.failed, invalid, "%d of %d invalid tests failed", n.failed,
                 invalid);
    kvc_golden_free(&f);
}

/* A paged or QEff test whose table has an entry that is no block id wholly
 * below the sliding window of its sequence (computed here from the file's
 * own lengths and table, not by the set's code). */
static int freed_below_window(const kvc_golden_test *t)
{
    const kvc_problem *p = &t->c.prob;
    const kvc_layout *L = &t->c.layout;
    int W = p->cfg.window_left, B = L->block_size, M = L->max_blocks_per_seq;
    if (t->c.spec.mode == KVC_MODE_BLOCKED || W < 0)
        return 0;
    int found = 0;
    for (int s = 0; s < p->num_seqs; s++)
        for (int b = 0; b < M && (int64_t)(b + 1) * B <= (int64_t)p->ctx_len[s] - W; b++) {
            int id = L->block_table[(int64_t)s * M + b];
            found |= id < 0 || id >= L->num_blocks;
        }
    return found;
}

/* kvattn.h: table entries wholly below the window are never read and may
 * hold anything. So every test that has such an entry is flagged
 * freed_below_window, and none of them is acceptable: a test with the flag
 * is valid unless it breaks another rule (an invalid flag of its own), and
 * the in-tree kernel passes each. */
Test(golden_set, freed_below_window_is_one_valid_class)
{
    glob_t g;
    cr_assert_eq(glob("golden/vectors/*.json", 0, NULL, &g), 0);
    int flagged[KVC_MODE_COUNT] = {0};
    for (size_t i = 0; i < g.gl_pathc; i++) {
        kvc_golden_file f;
        char err[512];
        cr_assert_eq(kvc_golden_read(g.gl_pathv[i], &f, err, sizeof err), 0,
                     "%s", err);
        for (int j = 0; j < f.num_tests; j++) {
            const kvc_golden_test *t = &f.tests[j];
            int has = (t->flags >> KVC_FLAG_FREED_BELOW_WINDOW) & 1;
            int invalid_flags = (t->flags >> KVC_FLAG_COUNT) &
                                ~(1ull << (KVC_FLAG_FREED_BELOW_WINDOW - KVC_FLAG_COUNT));
            if (invalid_flags)
                continue; /* an invalid test: its own rule decides */
            cr_expect_eq(has, freed_below_window(t), "%s tcId %d: table %s "
                         "entries wholly below the window, flag %s", g.gl_pathv[i],
                         t->tc_id, freed_below_window(t) ? "has freed" : "has no",
                         has ? "set" : "not set");
            if (!has)
                continue;
            flagged[t->c.spec.mode]++;
            cr_expect_eq(t->result, KVC_EXPECT_VALID, "%s tcId %d is %s",
                         g.gl_pathv[i], t->tc_id, kvc_expect_name(t->result));
            kvc_result r;
            cr_expect_eq(kvc_golden_run_test(t, &kvc_builtin_kernel, &r), KVC_PASS,
                         "%s tcId %d: %s", g.gl_pathv[i], t->tc_id, r.message);
        }
        kvc_golden_free(&f);
    }
    globfree(&g);
    cr_expect_gt(flagged[KVC_MODE_PAGED], 0);
    cr_expect_gt(flagged[KVC_MODE_QEFF], 0);
}

/* The set's acceptable tests are what kvattn.h leaves to the kernel:
 * strides whose rows are disjoint but do not nest. The in-tree kernel
 * refuses them (KVA_ERR_SHAPE, the status the test names) and passes. */
Test(golden_set, acceptable_tests_are_implementation_defined)
{
    kvc_golden_file f;
    char err[512];
    cr_assert_eq(kvc_golden_read("golden/vectors/paged_attention.json", &f, err,
                                 sizeof err), 0, "%s", err);
    int acceptable = 0;
    for (int i = 0; i < f.num_tests; i++) {
        const kvc_golden_test *t = &f.tests[i];
        if (t->result != KVC_EXPECT_ACCEPTABLE)
            continue;
        acceptable++;
        cr_expect(t->flags >> KVC_FLAG_UNNESTED_STRIDES & 1, "tcId %d", t->tc_id);
        const kvc_layout *L = &t->c.layout;
        /* not NHD nor HND: the head stride is below the slots' extent */
        cr_expect_lt(L->stride_head, L->stride_slot * (L->block_size - 1) + 1,
                     "tcId %d", t->tc_id);
        kvc_result r;
        cr_expect_eq(kvc_golden_run_test(t, &kvc_builtin_kernel, &r), KVC_PASS,
                     "tcId %d: %s", t->tc_id, r.message);
        cr_expect_str_eq(kva_status_name(r.refused), t->error, "tcId %d", t->tc_id);
    }
    kvc_golden_free(&f);
    cr_assert_gt(acceptable, 0);
}

/* Layout "strided" keeps a test's own strides through a write and a read,
 * and the reader refuses strided rows that overlap or leave the pool
 * (the writer, which never writes what the reader refuses, says why). */
Test(golden_set, strided_layout_round_trips_and_is_checked)
{
    kvc_golden_file f, one, back;
    char err[512];
    cr_assert_eq(kvc_golden_read("golden/vectors/paged_attention.json", &f, err,
                                 sizeof err), 0, "%s", err);
    int at = -1;
    for (int i = 0; i < f.num_tests && at < 0; i++)
        if (f.tests[i].flags >> KVC_FLAG_UNNESTED_STRIDES & 1)
            at = i;
    cr_assert_geq(at, 0, "no unnested_strides test");
    memset(&one, 0, sizeof one);
    memcpy(one.generator, f.generator, sizeof one.generator);
    memcpy(one.oracle_version, f.oracle_version, sizeof one.oracle_version);
    one.tests = &f.tests[at];
    one.num_tests = 1;
    kvc_layout *L = &f.tests[at].c.layout;
    char *text = kvc_golden_to_json(&one, err, sizeof err);
    cr_assert_not_null(text, "%s", err);
    cr_expect_not_null(strstr(text, "\"layout\": \"strided\""));
    cr_assert_eq(kvc_golden_parse(text, strlen(text), "strided.json", &back, err,
                                  sizeof err), 0, "%s", err);
    cr_expect_eq(back.tests[0].c.layout.stride_block, L->stride_block);
    cr_expect_eq(back.tests[0].c.layout.stride_slot, L->stride_slot);
    cr_expect_eq(back.tests[0].c.layout.stride_head, L->stride_head);
    kvc_golden_free(&back);
    free(text);

    int64_t head = L->stride_head;
    L->stride_head = L->stride_slot; /* rows h*2 + t*2: head 1 slot 0 = head 0 slot 1 */
    text = kvc_golden_to_json(&one, err, sizeof err);
    cr_expect_null(text, "overlapping strided rows were written");
    cr_expect_not_null(strstr(err, "overlap"), "%s", err);
    free(text);
    L->stride_head = head;
    int64_t pool = L->pool_elems;
    L->pool_elems = L->num_blocks * L->stride_block - 1; /* last row outside */
    text = kvc_golden_to_json(&one, err, sizeof err);
    cr_expect_null(text, "a strided row past poolElems was written");
    cr_expect_not_null(strstr(err, "poolElems"), "%s", err);
    free(text);
    L->pool_elems = pool;
    kvc_golden_free(&f);
}

/* ---- leak_sensitive holds on the values the cache stores ---- */

static int vis(const kvc_problem *p, int s, int i, int j, int use_mask)
{
    int64_t pos = (int64_t)p->ctx_len[s] + i, kv = kvc_kv_len(p, s);
    if ((p->cfg.causal && j > pos) ||
        (p->cfg.window_left >= 0 && j < pos - p->cfg.window_left))
        return 0;
    return !(use_mask && p->has_mask && !p->mask[p->mask_start[s] + i * kv + j]);
}

static double stored_score(const kvc_problem *p, const float *k, int s, int i,
                           int h, int j)
{
    int D = p->cfg.head_dim, G = p->cfg.num_q_heads / p->cfg.num_kv_heads;
    const float *q = p->q + ((p->q_start[s] + i) * p->cfg.num_q_heads + h) * (int64_t)D;
    const float *kr = k + ((p->kv_start[s] + j) * p->cfg.num_kv_heads + h / G) * (int64_t)D;
    double acc = 0;
    for (int d = 0; d < D; d++)
        acc += (double)q[d] * kr[d];
    return (double)p->cfg.scale * acc;
}

/* Every recorded leak of c leads its row by >= 20 in the keys the cache
 * stores (the oracle's store: decode(code) * scale). Returns the leaks. */
static int check_leaks_stored(const kvc_case *c, const char *what)
{
    const kvc_problem *p = &c->prob;
    cr_assert_eq(!!(c->flags >> KVC_FLAG_LEAK_SENSITIVE & 1), c->num_leaks > 0,
                 "%s", what);
    if (c->num_leaks == 0)
        return 0;
    kvc_kv_store st;
    char err[256];
    cr_assert_eq(kvc_kv_store_compute(p, &st, err, sizeof err), 0, "%s", err);
    for (int t = 0; t < c->num_leaks; t++) {
        const kvc_leak *L = &c->leaks[t];
        double m = -INFINITY;
        int n = 0;
        for (int j = 0; j < kvc_kv_len(p, L->seq); j++)
            if (vis(p, L->seq, L->token, j, 1)) {
                double x = stored_score(p, st.k, L->seq, L->token, L->head, j);
                m = x > m ? x : m;
                n++;
            }
        double x = stored_score(p, st.k, L->seq, L->token, L->head, L->key);
        cr_expect_geq(x, (n ? m : 0) + 20.0, "%s: leak %d (key %d) scores %g on "
                      "the stored keys, its row's visible maximum %g", what, t,
                      L->key, x, n ? m : 0);
    }
    kvc_kv_store_free(&st);
    return c->num_leaks;
}

/* The golden set's leak_sensitive flags, and a campaign's, are true of the
 * stored keys: e.g. fp8 e5m2 with a tiny static scale saturates the
 * boosted key, whose lead is then gone, so its case is not flagged. */
Test(golden_set, leak_sensitive_holds_on_stored_keys, .timeout = 120)
{
    int leaks = 0, quantized = 0;
    for (int m = 0; m < KVC_MODE_COUNT; m++) {
        kvc_golden_file f;
        char err[512], what[96];
        cr_assert_eq(kvc_golden_standard((kvc_mode)m, &f, err, sizeof err), 0,
                     "%s", err);
        for (int i = 0; i < f.num_tests; i++) {
            snprintf(what, sizeof what, "%s tcId %d",
                     kvc_golden_file_name((kvc_mode)m), f.tests[i].tc_id);
            if (f.tests[i].result == KVC_EXPECT_INVALID)
                continue;
            int n = check_leaks_stored(&f.tests[i].c, what);
            leaks += n;
            quantized += n > 0 && f.tests[i].c.prob.quant.dtype != KVC_KV_F32;
        }
        kvc_golden_free(&f);
    }
    for (uint64_t i = 0; i < 1500; i++) {
        kvc_case c;
        char err[512], what[96];
        cr_assert_eq(kvc_case_generate(7, i, -1, &c, err, sizeof err), 0, "%s", err);
        snprintf(what, sizeof what, "campaign seed 7 case %llu", (unsigned long long)i);
        int n = check_leaks_stored(&c, what);
        leaks += n;
        quantized += n > 0 && c.prob.quant.dtype != KVC_KV_F32;
        kvc_case_free(&c);
    }
    cr_expect_gt(leaks, 100);
    cr_expect_gt(quantized, 10, "no leak-sensitive case with a quantized cache");
}

/* ---- sizes and shapes beyond the small cases ---- */

/* FORMAT.md, "Size budget": the whole of golden/vectors stays below this. */
#define GOLDEN_BUDGET_BYTES 5000000L

Test(golden_set, larger_shapes_within_the_size_budget)
{
    glob_t g;
    cr_assert_eq(glob("golden/vectors/*.json", 0, NULL, &g), 0);
    cr_assert_eq(glob("golden/vectors/merge/*.json", GLOB_APPEND, NULL, &g), 0);
    cr_assert_eq(glob("golden/vectors/cache/*.json", GLOB_APPEND, NULL, &g), 0);
    long bytes = 0;
    int hkv[9] = {0}, prefill64 = 0, decode4k = 0, b128 = 0, b48 = 0,
        more_tiles = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        FILE *fp = fopen(g.gl_pathv[i], "rb");
        cr_assert_not_null(fp);
        fseek(fp, 0, SEEK_END);
        bytes += ftell(fp);
        fclose(fp);
        if (strstr(g.gl_pathv[i], "/merge/") || strstr(g.gl_pathv[i], "/cache/"))
            continue;
        kvc_golden_file f;
        char err[512];
        cr_assert_eq(kvc_golden_read(g.gl_pathv[i], &f, err, sizeof err), 0,
                     "%s", err);
        for (int j = 0; j < f.num_tests; j++) {
            const kvc_golden_test *t = &f.tests[j];
            const kvc_problem *p = &t->c.prob;
            if (t->result != KVC_EXPECT_VALID)
                continue;
            if (p->cfg.num_kv_heads <= 8)
                hkv[p->cfg.num_kv_heads]++;
            for (int s = 0; s < p->num_seqs; s++) {
                prefill64 += p->q_len[s] >= 64;
                decode4k += p->q_len[s] == 1 && kvc_kv_len(p, s) >= 4000;
            }
            if (t->c.spec.mode == KVC_MODE_BLOCKED)
                more_tiles += t->c.spec.num_kv_blocks > t->c.spec.cache_len;
            else {
                b128 += t->c.layout.block_size == 128;
                b48 += t->c.layout.block_size == 48;
            }
        }
        kvc_golden_free(&f);
    }
    globfree(&g);
    cr_expect_leq(bytes, GOLDEN_BUDGET_BYTES, "golden/vectors holds %ld bytes, "
                  "over the budget of FORMAT.md", bytes);
    cr_expect_gt(hkv[3], 2, "Hkv 3 in every file");
    cr_expect_gt(hkv[5], 0);
    cr_expect_gt(hkv[6], 1);
    cr_expect_gt(prefill64, 1, "no sequence with >= 64 query rows");
    cr_expect_gt(decode4k, 0, "no decode over >= 4000 keys");
    cr_expect_gt(b128, 0, "no block size 128");
    cr_expect_gt(b48, 0, "no block size 48");
    cr_expect_gt(more_tiles, 0, "no valid blocked test with numKvBlocks > cacheLen");
}

/* The other side of acceptable: a kernel that serves unnested strides
 * (examples/half_acc_kernel.c addresses every row by its three strides and
 * does not check that they nest) must match expected, and does. */
Test(golden_set, acceptable_strides_served_by_an_accepting_kernel, .timeout = 60)
{
    kvc_kernel k;
    void *h = NULL;
    char err[512];
    cr_assert_eq(kvc_kernel_load(KVC_BUILD_DIR "/examples/libhalf_acc.so", &k,
                                 &h, err, sizeof err), 0, "%s (make all builds it)", err);
    kvc_golden_file f;
    cr_assert_eq(kvc_golden_read("golden/vectors/paged_attention.json", &f, err,
                                 sizeof err), 0, "%s", err);
    int served = 0;
    for (int i = 0; i < f.num_tests; i++) {
        const kvc_golden_test *t = &f.tests[i];
        if (!(t->flags >> KVC_FLAG_UNNESTED_STRIDES & 1))
            continue;
        kvc_result r;
        cr_expect_eq(kvc_golden_run_test(t, &k, &r), KVC_PASS, "tcId %d: %s",
                     t->tc_id, r.message);
        cr_expect_eq(r.refused, KVA_OK, "tcId %d: the example kernel refused",
                     t->tc_id);
        served++;
    }
    kvc_golden_free(&f);
    kvc_kernel_unload(h);
    cr_assert_gt(served, 0);
}
