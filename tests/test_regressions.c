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
