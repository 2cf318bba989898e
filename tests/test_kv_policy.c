/*
 * test_kv_policy.c — suite `policy`: libkvattn's eviction policies worked
 * by hand from the contract (kvattn.h, "Eviction policies"), their
 * refusals, and long drawn operation sequences against the reference
 * model (tools/policy_check.h).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kvattn.h"
#include "../tools/policy_check.h"

static void *pc_new(kva_policy_config cfg)
{
    size_t bytes = kva_policy_bytes(&cfg);
    cr_assert_gt(bytes, 0);
    void *pc = aligned_alloc(8, (bytes + 7) / 8 * 8);
    kva_error e;
    cr_assert_eq(kva_policy_init(pc, bytes, &cfg, &e), KVA_OK, "%s", e.msg);
    return pc;
}

/* RECENT, 4 slots, 1 sink, 6 tokens in one append: token 0 is pinned to
 * slot 0; tokens 1..5 go round the ring of slots 1..3 (1,2,3,1,2), so
 * tokens 1 and 2 are overwritten within the append (slot -1) and the cache
 * keeps {0, 3, 4, 5}: the sink and the last three. */
Test(policy, recent_keeps_sinks_and_the_last_tokens)
{
    void *pc = pc_new((kva_policy_config){KVA_POLICY_RECENT, 4, 1, 1, 0});
    int slots[6];
    int64_t pos[4];
    kva_error e;
    cr_assert_eq(kva_policy_append(pc, 6, slots, &e), KVA_OK, "%s", e.msg);
    const int want[6] = {0, -1, -1, 3, 1, 2};
    for (int i = 0; i < 6; i++)
        cr_expect_eq(slots[i], want[i], "token %d: slot %d", i, slots[i]);
    cr_assert_eq(kva_policy_slots(pc, pos, NULL, &e), KVA_OK);
    const int64_t kept[4] = {0, 4, 5, 3};
    for (int j = 0; j < 4; j++)
        cr_expect_eq(pos[j], kept[j]);
    free(pc);
}

/* DENSE, 3 slots: 2 + 2 tokens do not fit; the refusal changes nothing. */
Test(policy, dense_refuses_what_does_not_fit)
{
    kva_policy_config cfg = {KVA_POLICY_DENSE, 3, 2, 0, 0};
    void *pc = pc_new(cfg);
    int slots[8];
    kva_error e;
    cr_assert_eq(kva_policy_append(pc, 2, slots, &e), KVA_OK);
    cr_expect_eq(slots[0], 0);
    cr_expect_eq(slots[3], 1, "token 1, head 1");
    size_t bytes = kva_policy_bytes(&cfg);
    void *snap = malloc(bytes);
    memcpy(snap, pc, bytes);
    cr_expect_eq(kva_policy_append(pc, 2, slots, &e), KVA_ERR_FULL);
    cr_expect_eq(memcmp(snap, pc, bytes), 0);
    cr_expect_eq(kva_policy_append(pc, 1, slots, &e), KVA_OK);
    free(snap);
    free(pc);
}

/* H2O, 3 slots, recent 1, 2 KV heads. After tokens 0..2 head 0 observes
 * {0.5, 0.1, 0.4} and head 1 {0.1, 0.5, 0.4}. Token 3: candidates are the
 * positions < 3 - 1 = 2, i.e. 0 and 1; head 0 evicts position 1 (0.1,
 * slot 1), head 1 position 0 (slot 0). Token 4 in head 0: slots hold
 * 0 (0.5), 3 (0, reset), 2 (0.4); position 3 is in the window, so the
 * victim is position 2 (slot 2). Equal scores evict the oldest. */
Test(policy, h2o_evicts_per_head_by_score_outside_the_window)
{
    void *pc = pc_new((kva_policy_config){KVA_POLICY_H2O, 3, 2, 0, 1});
    int slots[6];
    kva_error e;
    cr_assert_eq(kva_policy_append(pc, 3, slots, &e), KVA_OK);
    const float w[6] = {0.5f, 0.1f, 0.4f, 0.1f, 0.5f, 0.4f};
    cr_assert_eq(kva_policy_observe(pc, w, &e), KVA_OK, "%s", e.msg);
    cr_assert_eq(kva_policy_append(pc, 1, slots, &e), KVA_OK);
    cr_expect_eq(slots[0], 1, "head 0 evicts position 1");
    cr_expect_eq(slots[1], 0, "head 1 evicts position 0");
    cr_assert_eq(kva_policy_append(pc, 1, slots, &e), KVA_OK);
    cr_expect_eq(slots[0], 2, "head 0: position 2 (0.4) goes, 3 is recent");
    int64_t pos[6];
    float sc[6];
    cr_assert_eq(kva_policy_slots(pc, pos, sc, &e), KVA_OK);
    cr_expect_eq(pos[0], 0);
    cr_expect_eq(pos[1], 3);
    cr_expect_eq(pos[2], 4);
    cr_expect_eq(sc[2], 0.0f, "a new token's score starts at 0");
    free(pc);

    /* ties: all scores equal, recent 0 -> the oldest goes */
    pc = pc_new((kva_policy_config){KVA_POLICY_H2O, 2, 1, 0, 0});
    cr_assert_eq(kva_policy_append(pc, 2, slots, &e), KVA_OK);
    const float eq[2] = {0.25f, 0.25f};
    cr_assert_eq(kva_policy_observe(pc, eq, &e), KVA_OK);
    cr_assert_eq(kva_policy_append(pc, 1, slots, &e), KVA_OK);
    cr_expect_eq(slots[0], 0, "position 0 is the oldest of two equal");
    free(pc);
}

Test(policy, refusals_name_the_problem)
{
    kva_policy_config bad = {KVA_POLICY_DENSE, 4, 1, 1, 0};
    kva_error e;
    cr_expect_eq(kva_policy_bytes(&bad), 0, "sinks on a dense policy");
    bad = (kva_policy_config){KVA_POLICY_RECENT, 4, 1, 4, 0};
    cr_expect_eq(kva_policy_bytes(&bad), 0, "sinks == num_slots");
    bad = (kva_policy_config){KVA_POLICY_H2O, 4, 0, 0, 1};
    cr_expect_eq(kva_policy_bytes(&bad), 0, "no KV head");
    kva_policy_config cfg = {KVA_POLICY_H2O, 2, 1, 0, 0};
    void *pc = pc_new(cfg);
    int slots[2];
    cr_assert_eq(kva_policy_append(pc, 2, slots, &e), KVA_OK);
    size_t bytes = kva_policy_bytes(&cfg);
    void *snap = malloc(bytes);
    memcpy(snap, pc, bytes);
    const float neg[2] = {0.5f, -0.25f}, nan_w[2] = {NAN, 0.0f};
    cr_expect_eq(kva_policy_observe(pc, neg, &e), KVA_ERR_PARAM);
    cr_expect(strstr(e.msg, "[0][1]") != NULL, "%s", e.msg);
    cr_expect_eq(kva_policy_observe(pc, nan_w, &e), KVA_ERR_PARAM);
    cr_expect_eq(memcmp(snap, pc, bytes), 0);
    cr_expect_eq(kva_policy_append(pc, -1, slots, &e), KVA_ERR_LENGTH);
    cr_expect_eq(kva_policy_append(pc, 1, NULL, &e), KVA_ERR_NULL);
    cr_expect_eq(kva_policy_observe(snap, NULL, &e), KVA_ERR_NULL);
    memset(snap, 0, bytes);
    cr_expect_eq(kva_policy_append(snap, 1, slots, &e), KVA_ERR_SHAPE);
    free(snap);
    free(pc);
}

/* Drawn sequences against the model: every kind, evictions, H2O near
 * ties met, refusals; every step agrees. */
Test(policy, drawn_sequences_agree_with_the_model, .timeout = 120)
{
    int64_t kinds[3] = {0}, ev = 0, near = 0, refused = 0;
    for (uint64_t seed = 1; seed <= 120; seed++) {
        kvc_policy_result r;
        cr_assert_eq(kvc_policy_check(&kvc_builtin_policy, seed, 1500, &r), 1,
                     "seed %llu: %s", (unsigned long long)seed, r.message);
        kinds[r.kind]++;
        ev += r.evictions;
        near += r.near_ties;
        refused += r.refused;
    }
    for (int k = 0; k < 3; k++)
        cr_expect_gt(kinds[k], 10, "policy kind %d drawn %lld times", k,
                     (long long)kinds[k]);
    cr_expect_gt(ev, 1000);
    cr_expect_gt(near, 50, "H2O near ties met %lld times", (long long)near);
    cr_expect_gt(refused, 100);
}

/* ---- attention over a policy cache ------------------------------------- */

#include "../tools/policy_attn_check.h"

/* One KV head, D = 1, RECENT with 2 slots: tokens 0, 1, 2 leave positions
 * 2 (slot 0) and 1 (slot 1). K = [0, ln 3, 0], V = [9, 1, 5], q = 1,
 * scale 1: query position 2 sees positions 1 and 2 (token 0 was evicted):
 * weights 3/4 and 1/4 (e^{ln 3} : e^0), out = 3/4 * 1 + 1/4 * 5 = 2,
 * lse = ln 4. A query at position 1 (causal) sees position 1 only: out 1. */
Test(policy, attention_masks_by_stored_positions)
{
    void *pc = pc_new((kva_policy_config){KVA_POLICY_RECENT, 2, 1, 0, 0});
    int slots[3];
    kva_error e;
    cr_assert_eq(kva_policy_append(pc, 3, slots, &e), KVA_OK);
    cr_assert_eq(slots[0], -1);
    cr_assert_eq(slots[2], 0);
    float kpool[2] = {0}, vpool[2] = {0};
    kva_paged_cache c = {kpool, vpool, 2, 1, 2, 1, 1, 2, 1, 1, KVA_DTYPE_F32, {0}};
    const float k[3] = {0.0f, logf(3.0f), 0.0f}, v[3] = {9.0f, 1.0f, 5.0f};
    const int64_t phys[3] = {-1, 1, 0};
    cr_assert_eq(kva_cache_write_heads(&c, k, v, phys, 3, &e), KVA_OK, "%s", e.msg);
    const int row[1] = {0};
    kva_attn_params p = {1, 1, 1, 1.0f, 0.0f, 1, -1, 0};
    const float q[2] = {1.0f, 1.0f};
    const int64_t qpos[2] = {2, 1};
    float out[2], lse[2], w[2];
    cr_assert_eq(kva_policy_attention(&p, &c, row, 1, pc, q, qpos, 2, out, lse, w, &e),
                 KVA_OK, "%s", e.msg);
    /* fp32: a handful of roundings of values <= 5 */
    cr_expect_float_eq(out[0], 2.0f, 4e-6f);
    cr_expect_float_eq(lse[0], logf(4.0f), 4e-6f);
    cr_expect_float_eq(out[1], 1.0f, 1e-6f);
    cr_expect_float_eq(lse[1], logf(3.0f), 1e-6f);
    /* weights: slot 1 (position 1) 3/4 + 1, slot 0 (position 2) 1/4 */
    cr_expect_float_eq(w[1], 1.75f, 4e-6f);
    cr_expect_float_eq(w[0], 0.25f, 4e-6f);
    free(pc);
}

/* kva_cache_write_heads: one slot in two heads is two rows; the same slot
 * twice in one head is refused before anything is written. */
Test(policy, write_heads_per_head_slots)
{
    float kpool[8], vpool[8];
    memset(kpool, 0, sizeof kpool);
    memset(vpool, 0, sizeof vpool);
    /* 2 blocks of 2 slots, 2 heads, D = 1, NHD */
    kva_paged_cache c = {kpool, vpool, 8, 2, 2, 2, 1, 4, 2, 1, KVA_DTYPE_F32, {0}};
    const float k[4] = {1, 2, 3, 4}, v[4] = {5, 6, 7, 8};
    const int64_t ok[4] = {3, 0, 0, -1}; /* token 0: head 0 -> 3, head 1 -> 0 */
    kva_error e;
    cr_assert_eq(kva_cache_write_heads(&c, k, v, ok, 2, &e), KVA_OK, "%s", e.msg);
    cr_expect_eq(kpool[3 * 2 + 0], 1.0f, "token 0 head 0 at slot 3");
    cr_expect_eq(kpool[0 * 2 + 1], 2.0f, "token 0 head 1 at slot 0");
    cr_expect_eq(kpool[0 * 2 + 0], 3.0f, "token 1 head 0 at slot 0");
    float snap[8];
    memcpy(snap, kpool, sizeof snap);
    const int64_t dup[4] = {1, 2, 1, 3};
    cr_expect_eq(kva_cache_write_heads(&c, k, v, dup, 2, &e), KVA_ERR_SLOT);
    cr_expect_eq(memcmp(snap, kpool, sizeof snap), 0);
    const int64_t out_of_range[4] = {0, 4, 1, 1};
    cr_expect_eq(kva_cache_write_heads(&c, k, v, out_of_range, 2, &e), KVA_ERR_SLOT);
}

/* Policy caches end to end against the model and the oracle: every kind,
 * every KV format; H2O observes the judged weights. */
Test(policy, attention_scenarios_agree_with_the_oracle, .timeout = 300)
{
    int kinds[3] = {0}, dtypes[8] = {0};
    int64_t rows = 0, observes = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        kvc_policy_attn_result r;
        cr_assert_eq(kvc_policy_attn_check(&kvc_builtin_policy_attn, seed, 60, &r), 1,
                     "seed %llu: %s", (unsigned long long)seed, r.policy.message);
        kinds[r.policy.kind]++;
        dtypes[r.dtype]++;
        rows += r.attended_rows;
        observes += r.policy.observes;
    }
    for (int k = 0; k < 3; k++)
        cr_expect_gt(kinds[k], 0, "policy kind %d never drawn", k);
    for (int d = 0; d <= KVA_DTYPE_NVFP4; d++)
        cr_expect_gt(dtypes[d], 0, "KV format %d never drawn", d);
    cr_expect_gt(rows, 1000);
    cr_expect_gt(observes, 100);
}
