/*
 * oracle_bitexact_main.c — the oracle must reproduce every committed
 * expected value bit for bit, whatever compiler and optimization level
 * built it. `make test` builds this program with gcc and clang at -O0 and
 * -O2 (oracle, golden reader and generators' plain-data code all built by
 * that compiler) and runs it on golden/vectors/ (and cache/: the cache
 * operation vectors rebuilt by that build must be the files byte for
 * byte).
 *
 * usage: oracle-bitexact LABEL FILE...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../golden/golden.h"
#include "../golden/golden_cache.h"

/* Compare n doubles bit for bit; report the first mismatch. */
static int same_bits(const char *what, const double *want, const double *got,
                     int64_t n, const char *file, int tc_id)
{
    if (memcmp(want, got, (size_t)n * sizeof(double)) == 0)
        return 1;
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&want[i], &got[i], sizeof(double)) != 0) {
            fprintf(stderr, "%s: tcId %d: %s[%lld]: stored %a, oracle %a\n",
                    file, tc_id, what, (long long)i, want[i], got[i]);
            break;
        }
    return 0;
}

/* Compare n values of elem bytes (codes, scales) bit for bit. */
static int same_raw(const char *what, const void *want, const void *got,
                    int64_t n, size_t elem, const char *file, int tc_id)
{
    if (n <= 0 || (!want && !got))
        return 1;
    if (!want || !got) {
        fprintf(stderr, "%s: tcId %d: %s: %s\n", file, tc_id, what,
                want ? "the oracle has none" : "not stored");
        return 0;
    }
    if (memcmp(want, got, (size_t)n * elem) == 0)
        return 1;
    for (int64_t i = 0; i < n; i++)
        if (memcmp((const char *)want + i * elem, (const char *)got + i * elem,
                   elem) != 0) {
            fprintf(stderr, "%s: tcId %d: %s[%lld] differs from the oracle's\n",
                    file, tc_id, what, (long long)i);
            break;
        }
    return 0;
}

static int check_test(const kvc_golden_test *stored, const char *file,
                      int64_t *values)
{
    kvc_golden_test t = *stored;
    /* the copy shares the inputs; the expected values are the oracle's own */
    t.out = t.lse = t.tol_out = t.tol_lse = NULL;
    t.k_codes = t.v_codes = NULL;
    t.k_token_scales = t.v_token_scales = NULL;
    t.k_group_codes = t.v_group_codes = NULL;
    char err[256];
    if (kvc_golden_expect(&t, err, sizeof err) != 0) {
        fprintf(stderr, "%s: tcId %d: oracle failed: %s\n", file,
                stored->tc_id, err);
        return 0;
    }
    const kvc_problem *p = &t.c.prob;
    int64_t rows = p->q_start[p->num_seqs] * p->cfg.num_q_heads;
    int64_t elems = rows * p->cfg.head_dim;
    int ok = same_bits("out", stored->out, t.out, elems, file, t.tc_id) &
             same_bits("lse", stored->lse, t.lse, rows, file, t.tc_id) &
             same_bits("tolOut", stored->tol_out, t.tol_out, elems, file,
                       t.tc_id) &
             same_bits("tolLse", stored->tol_lse, t.tol_lse, rows, file,
                       t.tc_id);
    *values += 2 * (elems + rows);
    int64_t kv = p->kv_start[p->num_seqs] * p->cfg.num_kv_heads;
    int64_t codes = kv * p->cfg.head_dim, groups = kv * (p->cfg.head_dim / 16);
    if (p->quant.dtype == KVC_KV_F32)
        codes = 0;
    if (p->quant.kind != KVC_SCALE_TOKEN)
        kv = 0;
    if (p->quant.kind != KVC_SCALE_GROUP)
        groups = 0;
    ok &= same_raw("kCodes", stored->k_codes, t.k_codes, codes, 2, file, t.tc_id) &
          same_raw("vCodes", stored->v_codes, t.v_codes, codes, 2, file, t.tc_id) &
          same_raw("kTokenScales", stored->k_token_scales, t.k_token_scales, kv,
                   4, file, t.tc_id) &
          same_raw("vTokenScales", stored->v_token_scales, t.v_token_scales, kv,
                   4, file, t.tc_id) &
          same_raw("kGroupCodes", stored->k_group_codes, t.k_group_codes,
                   groups, 1, file, t.tc_id) &
          same_raw("vGroupCodes", stored->v_group_codes, t.v_group_codes,
                   groups, 1, file, t.tc_id);
    *values += 2 * (codes + kv + groups);
    kvc_golden_expect_clear(&t);
    return ok;
}

/* A whole text file (malloc'd), or NULL. */
static char *slurp_text(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = '\0';
    fclose(fp);
    return buf;
}

/* A cache operation vector file (golden/golden_cache.h): the standard set
 * of its kind, rebuilt by this build of the models and written again, must
 * be the file byte for byte. Returns its test count, or -1 (said why). */
static int check_cache_file(const char *path)
{
    kvc_cache_file f, g;
    char err[512] = "cannot create a temporary file",
         tmp[] = "/tmp/kvc_bitexact_cache_XXXXXX";
    if (kvc_cache_golden_read(path, &f, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    int n = f.num_tests, fd = mkstemp(tmp);
    int built = fd >= 0 &&
                kvc_cache_golden_standard(f.kind, &g, err, sizeof err) == 0;
    if (fd >= 0)
        close(fd);
    int ok = built && kvc_cache_golden_write(&g, tmp, err, sizeof err) == 0;
    if (built)
        kvc_cache_golden_free(&g);
    kvc_cache_golden_free(&f);
    char *want = ok ? slurp_text(path) : NULL, *got = ok ? slurp_text(tmp) : NULL;
    if (!ok)
        fprintf(stderr, "%s: cannot rebuild the standard set: %s\n", path, err);
    else if (!want || !got || strcmp(want, got) != 0)
        fprintf(stderr, "%s: the standard set rebuilt here differs\n", path);
    ok = ok && want && got && strcmp(want, got) == 0;
    free(want);
    free(got);
    remove(tmp);
    return ok ? n : -1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s LABEL FILE...\n", argv[0]);
        return 2;
    }
    int tests = 0, bad = 0;
    int64_t values = 0;
    for (int i = 2; i < argc; i++) {
        kvc_golden_file f;
        char err[512];
        if (kvc_cache_golden_is(argv[i])) {
            int n = check_cache_file(argv[i]);
            bad += n < 0;
            tests += n > 0 ? n : 0;
            continue;
        }
        if (kvc_golden_read(argv[i], &f, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            bad++;
            continue;
        }
        for (int j = 0; j < f.num_tests; j++) {
            if (f.tests[j].result == KVC_EXPECT_INVALID)
                continue;
            tests++;
            bad += !check_test(&f.tests[j], argv[i], &values);
        }
        kvc_golden_free(&f);
    }
    printf("oracle bit-exact (%s): %d tests, %lld values, %d mismatching tests\n",
           argv[1], tests, (long long)values, bad);
    return bad ? 1 : 0;
}
