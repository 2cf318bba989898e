/*
 * test_regressions.c — every bug found stays found (SQLite's rule): one
 * test per bug, named after what went wrong, with the input that showed it.
 * The fuzz corpora hold the raw inputs too (fuzz/corpus/<harness>/regress-*),
 * replayed under ASan/UBSan and valgrind by `make test`.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <string.h>

#include "../kernels/kvattn.h"

/* Found by fuzz_qeff (regress-f5667443...): a valid position INT_MAX
 * followed by another entry made the consecutiveness check compute
 * INT_MAX + 1 (signed overflow). Must be refused cleanly. */
Test(regression, qeff_position_int_max_followed_by_entry)
{
    const int pos[4] = {INT_MAX, INT_MAX, -1, -1};
    const int slot_id[1] = {0};
    const int table[1] = {0};
    kva_qeff_inputs in = {1, 4, pos, slot_id, table, 1, 16, 1};
    int64_t qsl[2] = {7, 7}, slots[4] = {7, 7, 7, 7}, rows[4] = {7, 7, 7, 7};
    int lens[1] = {7};
    kva_general_inputs out = {qsl, lens, slots, rows, 7};
    kva_error e;
    kva_status s = kva_qeff_to_general(&in, &out, &e);
    cr_assert_eq(s, KVA_ERR_CONVENTION, "%s: %s", kva_status_name(s), e.msg);
    cr_assert(strstr(e.msg, "not consecutive") != NULL, "%s", e.msg);
    cr_assert_eq(qsl[0], 7, "outputs written on failure");
    cr_assert_eq(out.num_tokens, 7);
}

/* Found by fuzz_qeff (regress-1ba0a345...): max_q == 0 with a NULL
 * position_ids did pointer arithmetic on NULL (UB that clang's UBSan
 * reports). A batch of rows without entries is valid: every sequence is
 * empty. */
Test(regression, qeff_max_q_0_with_null_positions)
{
    const int slot_id[2] = {0, 0};
    const int table[2] = {0, 0};
    kva_qeff_inputs in = {2, 0, NULL, slot_id, table, 1, 16, 1};
    int64_t qsl[3] = {9, 9, 9}, slots[1] = {9}, rows[1] = {9};
    int lens[2] = {9, 9};
    kva_general_inputs out = {qsl, lens, slots, rows, 9};
    kva_error e;
    kva_status s = kva_qeff_to_general(&in, &out, &e);
    cr_assert_eq(s, KVA_OK, "%s: %s", kva_status_name(s), e.msg);
    cr_assert_eq(out.num_tokens, 0);
    cr_assert_eq(qsl[2], 0);
    cr_assert_eq(lens[0], 0);
    cr_assert_eq(lens[1], 0);
}

/* Found by valgrind through the relabelling property: a batch of no
 * sequences got a placeholder block-table row of max_blocks_per_seq
 * entries of which only the first was written. Every entry is -1 now. */
#include "../generators/named.h"

Test(regression, empty_batch_block_table_is_initialised)
{
    for (int extra_cols = 0; extra_cols < 6; extra_cols++) {
        kvc_case_spec s = kvc_named_base(KVC_MODE_PAGED);
        s.num_seqs = 0;
        s.pad_tokens = 2;
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_build(&s, (uint64_t)extra_cols, &c, err,
                                    sizeof err), 0, "%s", err);
        for (int b = 0; b < c.layout.max_blocks_per_seq; b++)
            cr_assert_eq(c.layout.block_table[b], -1, "entry %d", b);
        kvc_case_free(&c);
    }
}

/* Found by fuzz_contract (regress-unused-pool-strides-{paged,blocked}):
 * attention multiplied the scale-pool strides into offsets even for kinds
 * without pools (NONE, TENSOR, HEAD), whose fields kvattn.h says may hold
 * anything: INT64_MIN / INT64_MAX there was signed overflow (UBSan; `make
 * check-asan` runs this test). Junk there must be accepted and change
 * nothing. */
static void junk_pool_fields(kva_kv_scales *s)
{
    s->k_pool = s->v_pool = (void *)(uintptr_t)0x10; /* never dereferenced */
    s->pool_units = -5;
    s->stride_block = INT64_MAX; /* x 1 for sequence 1 and block 1 */
    s->stride_slot = INT64_MIN;  /* x tile_len */
    s->stride_head = INT64_MIN;  /* x 2 and x 3 for KV heads 2, 3 */
}

Test(regression, unused_scale_pool_fields_are_never_arithmetic)
{
    enum { H = 4, D = 4, B = 4, NB = 2, T = 6 };
    static uint8_t k[NB * B * H * D], v[NB * B * H * D];
    for (size_t i = 0; i < sizeof k; i++) {
        k[i] = (uint8_t)(i * 7 % 100);  /* int8 codes, no special values */
        v[i] = (uint8_t)(i * 13 % 100);
    }
    const float head_scale[H] = {0.5f, 0.25f, 2.0f, 1.0f};
    kva_paged_cache c = {k, v, NB * B * H * D, NB, B, H, D, B * H * D, H * D,
                         D, KVA_DTYPE_INT8, {0}};
    c.scales.kind = KVA_SCALE_HEAD;
    c.scales.k_head = c.scales.v_head = head_scale;
    const kva_attn_params p = {H, H, D, 0.5f, 0.0f, 1, -1, 0};
    const int64_t qsl[2] = {0, 1};
    const int lens[1] = {T};
    const int table[2] = {1, 0};
    const kva_paged_batch b = {1, qsl, lens, table, 2, NULL};
    float q[H * D] = {1, -1, 0.5f, 2, 0, 1, -2, 1, 1, 1, 1, 1, -1, 0, 0, 3};
    float clean[H * D], lse_clean[H], got[H * D], lse_got[H];
    kva_error e;
    cr_assert_eq(kva_paged_attention(&p, &c, &b, q, 1, clean, lse_clean, &e),
                 KVA_OK, "%s", e.msg);
    junk_pool_fields(&c.scales);
    cr_assert_eq(kva_paged_attention(&p, &c, &b, q, 1, got, lse_got, &e),
                 KVA_OK, "%s", e.msg);
    cr_assert(memcmp(clean, got, sizeof got) == 0);
    cr_assert(memcmp(lse_clean, lse_got, sizeof lse_got) == 0);

    /* blocked over the same codes seen as [S=1][H][CL=8][D] */
    kva_blocked_cache bc = {k, v, 1, H, NB * B, D, KVA_DTYPE_INT8, {0}};
    bc.scales.kind = KVA_SCALE_TENSOR;
    bc.scales.k_tensor = 0.5f;
    bc.scales.v_tensor = 2.0f;
    cr_assert_eq(kva_blocked_attention(&p, &bc, 3, 1, qsl, lens, NULL, q, 1,
                                       clean, lse_clean, &e),
                 KVA_OK, "%s", e.msg);
    junk_pool_fields(&bc.scales);
    cr_assert_eq(kva_blocked_attention(&p, &bc, 3, 1, qsl, lens, NULL, q, 1,
                                       got, lse_got, &e),
                 KVA_OK, "%s", e.msg);
    cr_assert(memcmp(clean, got, sizeof got) == 0);
    cr_assert(memcmp(lse_clean, lse_got, sizeof lse_got) == 0);
}
