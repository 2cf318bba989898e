/*
 * test_block_manager.c — suite `bm`: libkvattn's block manager by hand (the
 * contract of kvattn.h, "The block manager", worked out on paper), its
 * refusals, long drawn operation sequences against the reference model
 * (tools/bm_check.h), and planted managers the check must catch.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kvattn.h"
#include "../tools/bm_check.h"

static void *bm_new(int nb, int B, int seqs, int bps, int sharing,
                    kva_bm_config *cfg)
{
    *cfg = (kva_bm_config){nb, B, seqs, bps, sharing};
    size_t bytes = kva_bm_bytes(cfg);
    cr_assert_gt(bytes, 0);
    void *bm = aligned_alloc(8, (bytes + 7) / 8 * 8);
    kva_error e;
    cr_assert_eq(kva_bm_init(bm, bytes, cfg, &e), KVA_OK, "%s", e.msg);
    return bm;
}

static int64_t row_of(const void *bm, int seq, int *row)
{
    int64_t n;
    kva_error e;
    cr_assert_eq(kva_bm_seq(bm, seq, row, &n, &e), KVA_OK, "%s", e.msg);
    return n;
}

/* Two sequences with the same 8-token prompt (B = 4, sharing on): the
 * second shares both blocks, its slots are all -1 and each block has two
 * references; a ninth token of the second goes to a third block. */
Test(bm, same_prompt_shares_full_blocks)
{
    kva_bm_config cfg;
    void *bm = bm_new(8, 4, 4, 4, 1, &cfg);
    const int32_t p[8] = {5, 6, 7, 8, 9, 10, 11, 12};
    int64_t s0[8], s1[8], s2[1];
    kva_bm_copy cp;
    int nc = -1, r0[4], r1[4];
    kva_error e;
    cr_assert_eq(kva_bm_append(bm, 0, p, 8, s0, &cp, &nc, &e), KVA_OK, "%s", e.msg);
    cr_expect_eq(nc, 0);
    cr_assert_eq(row_of(bm, 0, r0), 8);
    for (int t = 0; t < 8; t++) /* slot = block * B + offset */
        cr_expect_eq(s0[t], (int64_t)r0[t / 4] * 4 + t % 4);
    cr_expect_neq(r0[0], r0[1]);
    cr_assert_eq(kva_bm_append(bm, 1, p, 8, s1, &cp, &nc, &e), KVA_OK, "%s", e.msg);
    for (int t = 0; t < 8; t++)
        cr_expect_eq(s1[t], -1, "token %d of the shared prompt has slot %lld",
                     t, (long long)s1[t]);
    cr_assert_eq(row_of(bm, 1, r1), 8);
    cr_expect_eq(r1[0], r0[0]);
    cr_expect_eq(r1[1], r0[1]);
    cr_expect_eq(kva_bm_ref_count(bm, r0[0]), 2);
    cr_expect_eq(kva_bm_num_free(bm), 6);
    const int32_t t9 = 13;
    cr_assert_eq(kva_bm_append(bm, 1, &t9, 1, s2, &cp, &nc, &e), KVA_OK);
    row_of(bm, 1, r1);
    cr_expect(r1[2] != r0[0] && r1[2] != r0[1]);
    cr_expect_eq(s2[0], (int64_t)r1[2] * 4);
    free(bm);
}

/* The same second block after another first block is other content: no
 * sharing (a hash of the block alone would share it). */
Test(bm, equal_block_after_other_prefix_is_not_shared)
{
    kva_bm_config cfg;
    void *bm = bm_new(8, 2, 2, 4, 1, &cfg);
    const int32_t a[4] = {1, 2, 3, 4}, b[4] = {9, 9, 3, 4};
    int64_t sl[4];
    kva_bm_copy cp;
    int nc, ra[4], rb[4];
    kva_error e;
    cr_assert_eq(kva_bm_append(bm, 0, a, 4, sl, &cp, &nc, &e), KVA_OK);
    cr_assert_eq(kva_bm_append(bm, 1, b, 4, sl, &cp, &nc, &e), KVA_OK);
    row_of(bm, 0, ra);
    row_of(bm, 1, rb);
    cr_expect_neq(ra[1], rb[1]);
    for (int t = 0; t < 4; t++)
        cr_expect_neq(sl[t], -1);
    free(bm);
}

/* Fork a sequence of 6 tokens (B = 4: one full block, one of 2); the child
 * appends: its shared partial block is copied first ({src, dst}, dst
 * fresh), the parent keeps its row, the full block stays shared. */
Test(bm, fork_then_append_copies_the_partial_block)
{
    kva_bm_config cfg;
    void *bm = bm_new(8, 4, 4, 4, 0, &cfg);
    const int32_t p[6] = {1, 2, 3, 4, 5, 6}, t = 7;
    int64_t sl[6];
    kva_bm_copy cp = {-1, -1};
    int nc = -1, rp[4], rc[4], before[4];
    kva_error e;
    cr_assert_eq(kva_bm_append(bm, 0, p, 6, sl, &cp, &nc, &e), KVA_OK);
    cr_assert_eq(kva_bm_fork(bm, 0, 2, &e), KVA_OK, "%s", e.msg);
    row_of(bm, 0, before);
    cr_expect_eq(kva_bm_ref_count(bm, before[1]), 2);
    cr_assert_eq(kva_bm_append(bm, 2, &t, 1, sl, &cp, &nc, &e), KVA_OK);
    cr_assert_eq(nc, 1);
    cr_expect_eq(cp.src, before[1]);
    cr_expect(cp.dst != before[0] && cp.dst != before[1]);
    cr_assert_eq(row_of(bm, 2, rc), 7);
    cr_expect_eq(rc[0], before[0]);
    cr_expect_eq(rc[1], cp.dst);
    cr_expect_eq(sl[0], (int64_t)cp.dst * 4 + 2);
    cr_assert_eq(row_of(bm, 0, rp), 6);
    cr_expect_eq(rp[1], before[1]);
    cr_expect_eq(kva_bm_ref_count(bm, before[0]), 2);
    cr_expect_eq(kva_bm_ref_count(bm, before[1]), 1);
    /* the parent now owns its block alone: no copy */
    cr_assert_eq(kva_bm_append(bm, 0, &t, 1, sl, &cp, &nc, &e), KVA_OK);
    cr_expect_eq(nc, 0);
    free(bm);
}

/* Out of blocks (3 blocks of 2; 6 tokens in use): an append needing one
 * more is KVA_ERR_FULL and leaves every byte of the state as it was; so
 * does a row too short. */
Test(bm, running_out_changes_nothing)
{
    kva_bm_config cfg;
    void *bm = bm_new(3, 2, 2, 8, 1, &cfg);
    const int32_t p[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    int64_t sl[9];
    kva_bm_copy cp;
    int nc;
    kva_error e;
    cr_assert_eq(kva_bm_append(bm, 0, p, 6, sl, &cp, &nc, &e), KVA_OK);
    size_t bytes = kva_bm_bytes(&cfg);
    void *snap = malloc(bytes);
    memcpy(snap, bm, bytes);
    cr_expect_eq(kva_bm_append(bm, 1, p + 6, 1, sl, &cp, &nc, &e), KVA_ERR_FULL);
    cr_expect_eq(memcmp(snap, bm, bytes), 0);
    cr_expect_eq(kva_bm_append(bm, 0, p, 1, sl, &cp, &nc, &e), KVA_ERR_FULL);
    cr_expect_eq(memcmp(snap, bm, bytes), 0);
    kva_bm_config small = {4, 2, 1, 2, 0};
    void *bm2 = bm_new(small.num_blocks, 2, 1, 2, 0, &small);
    cr_expect_eq(kva_bm_append(bm2, 0, p, 5, sl, &cp, &nc, &e), KVA_ERR_FULL,
                 "5 tokens need 3 blocks, the row holds 2");
    cr_expect_eq(kva_bm_num_free(bm2), 4);
    free(bm2);
    free(snap);
    free(bm);
}

/* Rolling back speculative tokens frees the blocks they alone filled. */
Test(bm, rollback_frees_emptied_blocks)
{
    kva_bm_config cfg;
    void *bm = bm_new(6, 2, 1, 6, 1, &cfg);
    const int32_t p[7] = {1, 2, 3, 4, 5, 6, 7};
    int64_t sl[7];
    kva_bm_copy cp;
    int nc, r[6];
    kva_error e;
    cr_assert_eq(kva_bm_append(bm, 0, p, 7, sl, &cp, &nc, &e), KVA_OK);
    cr_expect_eq(kva_bm_num_free(bm), 2);
    cr_assert_eq(kva_bm_rollback(bm, 0, 4, &e), KVA_OK);
    cr_expect_eq(row_of(bm, 0, r), 3);
    cr_expect_eq(r[2], -1);
    cr_expect_eq(kva_bm_num_free(bm), 4);
    cr_expect_eq(kva_bm_rollback(bm, 0, 4, &e), KVA_ERR_LENGTH);
    cr_assert_eq(kva_bm_free(bm, 0, &e), KVA_OK);
    cr_expect_eq(kva_bm_num_free(bm), 6);
    cr_expect_eq(row_of(bm, 0, r), -1);
    free(bm);
}

Test(bm, refusals_name_the_problem)
{
    kva_bm_config cfg = {4, 2, 2, 2, 1}, bad = {0, 2, 2, 2, 1};
    kva_error e;
    cr_expect_eq(kva_bm_bytes(&bad), 0);
    cr_expect_eq(kva_bm_bytes(NULL), 0);
    bad = cfg;
    bad.prefix_sharing = 2;
    cr_expect_eq(kva_bm_bytes(&bad), 0);
    size_t bytes = kva_bm_bytes(&cfg);
    int64_t *mem = calloc(bytes / 8 + 2, 8);
    cr_expect_eq(kva_bm_init(NULL, bytes, &cfg, &e), KVA_ERR_NULL);
    cr_expect_eq(kva_bm_init(mem, bytes - 1, &cfg, &e), KVA_ERR_LENGTH);
    cr_expect_eq(kva_bm_init((char *)mem + 4, bytes, &cfg, &e), KVA_ERR_LENGTH);
    cr_expect_eq(kva_bm_init(mem, bytes, &bad, &e), KVA_ERR_SHAPE);
    cr_expect(strstr(e.msg, "prefix_sharing") != NULL, "%s", e.msg);
    /* a state never set up */
    cr_expect_eq(kva_bm_free(mem, 0, &e), KVA_ERR_SHAPE);
    cr_expect_eq(kva_bm_num_free(mem), -1);
    cr_assert_eq(kva_bm_init(mem, bytes, &cfg, &e), KVA_OK);
    const int32_t t = 1;
    int64_t sl[1];
    kva_bm_copy cp;
    int nc;
    cr_expect_eq(kva_bm_append(mem, 2, &t, 1, sl, &cp, &nc, &e), KVA_ERR_PARAM);
    cr_expect(strstr(e.msg, "seq 2") != NULL, "%s", e.msg);
    cr_expect_eq(kva_bm_append(mem, 0, &t, -1, sl, &cp, &nc, &e), KVA_ERR_LENGTH);
    cr_expect_eq(kva_bm_append(mem, 0, NULL, 1, sl, &cp, &nc, &e), KVA_ERR_NULL);
    cr_expect_eq(kva_bm_fork(mem, 0, 1, &e), KVA_ERR_PARAM, "parent not live");
    cr_assert_eq(kva_bm_append(mem, 0, &t, 1, sl, &cp, &nc, &e), KVA_OK);
    cr_expect_eq(kva_bm_fork(mem, 0, 0, &e), KVA_ERR_PARAM, "child == parent");
    cr_expect_eq(kva_bm_free(mem, 1, &e), KVA_ERR_PARAM, "not live");
    cr_expect_eq(kva_bm_ref_count(mem, 4), -1);
    free(mem);
}

/* Long drawn sequences against the model: every step agrees, and the
 * draw reaches every event the contract names. */
Test(bm, drawn_sequences_agree_with_the_model, .timeout = 120)
{
    int64_t copies = 0, shared = 0, full = 0, refused = 0, kinds[KVC_BM_OP_KINDS] = {0};
    for (uint64_t seed = 1; seed <= 60; seed++) {
        kvc_bm_result r;
        cr_assert_eq(kvc_bm_check(&kvc_builtin_bm, seed, 2000, &r), 1,
                     "seed %llu: %s", (unsigned long long)seed, r.message);
        copies += r.copies;
        shared += r.shared_blocks;
        full += r.full;
        refused += r.refused;
        for (int k = 0; k < KVC_BM_OP_KINDS; k++)
            kinds[k] += r.count[k];
    }
    cr_expect_gt(copies, 100);
    cr_expect_gt(shared, 100);
    cr_expect_gt(full, 100);
    cr_expect_gt(refused - full, 100);
    for (int k = 0; k < KVC_BM_OP_KINDS; k++)
        cr_expect_gt(kinds[k], 1000, "%s drawn %lld times",
                     kvc_bm_op_name((kvc_bm_op_kind)k), (long long)kinds[k]);
}

/* ---- planted managers: libkvattn's, with one thing wrong ---------------- */

/* Hides the copy it made: the caller never copies the shared block. */
static kva_status hide_copy(void *bm, int seq, const int32_t *t, int n,
                            int64_t *s, kva_bm_copy *c, int *nc, kva_error *e)
{
    kva_status st = kva_bm_append(bm, seq, t, n, s, c, nc, e);
    *nc = 0;
    return st;
}

/* Rolls back nothing but says it did. */
static kva_status lazy_rollback(void *bm, int seq, int n, kva_error *e)
{
    int row[64];
    int64_t len;
    kva_status st = kva_bm_seq(bm, seq, row, &len, e);
    if (st != KVA_OK || len < 0)
        return kva_bm_rollback(bm, seq, n, e);
    return n < 0 || n > len ? kva_bm_rollback(bm, seq, n, e) : KVA_OK;
}

/* Never shares: initialises with prefix sharing off whatever it is told. */
static kva_status no_sharing(void *bm, size_t bytes, const kva_bm_config *c,
                             kva_error *e)
{
    kva_bm_config off = *c;
    off.prefix_sharing = 0;
    return kva_bm_init(bm, bytes, &off, e);
}

static void expect_caught(const kvc_bm_impl *impl)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        kvc_bm_result r;
        if (kvc_bm_check(impl, seed, 2000, &r) == 0) {
            cr_log_info("%s caught at seed %llu: %s", impl->name,
                        (unsigned long long)seed, r.message);
            return;
        }
    }
    cr_expect_fail("%s passed 20 drawn sequences", impl->name);
}

Test(bm, planted_managers_are_caught, .timeout = 120)
{
    kvc_bm_impl a = kvc_builtin_bm, b = kvc_builtin_bm, c = kvc_builtin_bm;
    a.name = "hide-copy";
    a.append = hide_copy;
    b.name = "lazy-rollback";
    b.rollback = lazy_rollback;
    c.name = "no-sharing";
    c.init = no_sharing;
    expect_caught(&a);
    expect_caught(&b);
    expect_caught(&c);
}

/* ---- through the C ABI of a library ---------------------------------- */

#include <dlfcn.h>

#include "../tools/cache_lib.h"
#include "../tools/kernel_lib.h"

/* libkvattn.so as a kernel author's library: its claim has both halves,
 * both bind, and both pass drawn sequences; the ABI 1 test library has
 * neither (it exports attention only). */
Test(bm, a_library_manager_and_policies_through_the_abi, .timeout = 120)
{
    kvc_kernel k;
    void *h = NULL;
    char err[512];
    cr_assert_eq(kvc_kernel_load(KVC_BUILD_DIR "/libkvattn.so", &k, &h, err,
                                 sizeof err), 0, "%s", err);
    cr_expect(k.caps.modes & KVA_MODE_MANAGER);
    kvc_bm_impl bm;
    kvc_policy_attn_impl pol;
    int got = kvc_cache_lib_bind(h, "libkvattn.so", k.caps.modes, 0, &bm, &pol,
                                 err, sizeof err);
    cr_assert_eq(got, KVA_MODE_MANAGER | KVA_MODE_POLICY, "%s", err);
    kvc_bm_result r;
    cr_expect_eq(kvc_bm_check(&bm, 3, 1000, &r), 1, "%s", r.message);
    kvc_policy_attn_result pr;
    cr_expect_eq(kvc_policy_attn_check(&pol, 5, 40, &pr), 1, "%s", pr.policy.message);
    kvc_kernel_unload(h);

    cr_assert_eq(kvc_kernel_load(KVC_BUILD_DIR "/tests/libkvattn_abi1_paged.so",
                                 &k, &h, err, sizeof err), 0, "%s", err);
    cr_expect_eq(kvc_cache_lib_bind(h, "abi1", 0, 1, &bm, &pol, err, sizeof err), 0);
    /* an ABI 2 claim without the symbols is an error naming the symbol */
    cr_expect_eq(kvc_cache_lib_bind(h, "abi1", KVA_MODE_MANAGER, 0, &bm, &pol,
                                    err, sizeof err), -1);
    cr_expect(strstr(err, "kva_bm_") != NULL, "%s", err);
    kvc_kernel_unload(h);
}

/* Regression (found by the ASan gate): an append that does not fill a
 * whole block after a partly filled one must not read new ids past its
 * own end (the parent hash of the partial block was computed eagerly). The
 * ids live in an exactly sized heap block, so ASan sees any read past it;
 * with and without prefix sharing. */
Test(bm, short_append_reads_only_its_own_ids)
{
    for (int sharing = 0; sharing <= 1; sharing++) {
        kva_bm_config cfg;
        void *bm = bm_new(8, 4, 2, 4, sharing, &cfg);
        int32_t *six = malloc(6 * sizeof *six), *one = malloc(sizeof *one);
        for (int i = 0; i < 6; i++)
            six[i] = i + 1;
        one[0] = 7;
        int64_t sl[6];
        kva_bm_copy cp;
        int nc;
        kva_error e;
        cr_assert_eq(kva_bm_append(bm, 0, six, 6, sl, &cp, &nc, &e), KVA_OK);
        cr_assert_eq(kva_bm_append(bm, 0, one, 1, sl, &cp, &nc, &e), KVA_OK);
        int row[4];
        cr_expect_eq(row_of(bm, 0, row), 7);
        cr_expect_eq(sl[0], (int64_t)row[1] * 4 + 2);
        free(six);
        free(one);
        free(bm);
    }
}
