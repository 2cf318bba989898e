/*
 * test_fuzz_codec.c — the fuzz harnesses' shared pieces, in-process (the
 * harnesses themselves run in fuzz/ci-replay.sh and under libFuzzer):
 *   - fz_io reads back exactly what it wrote, and a short input reads as
 *     the ranges' low ends;
 *   - every byte string decodes (fz_spec_io + fz_spec_repair) to a spec
 *     that kvc_case_build accepts, within the work cap;
 *   - every named boundary case is encodable as a crosscheck seed;
 *   - the contract model (fuzz_model.c) agrees with the generators on the
 *     QEfficient general form of every named qeff case, accepts the
 *     layouts the generators produce and refuses overlapping ones.
 * The fuzz sources are compiled into this file (one translation unit), so
 * the test build needs no fuzz objects.
 */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <string.h>

#include "../fuzz/fuzz_helpers.c"
#include "../fuzz/fuzz_model.c"
#include "../fuzz/fuzz_spec.c"
#include "../generators/named.h"

Test(fuzz_codec, reader_reads_what_the_writer_wrote)
{
    static const int specials[] = {-7, INT_MIN};
    static const int64_t specials64[] = {INT64_MIN};
    fz_io w, r;
    fz_writer_init(&w);
    int a = 17, b = -3, c = INT_MIN, d = 123456789, flag = 1;
    int64_t e = -5, f = INT64_MIN, g = 42;
    uint64_t u = UINT32_MAX;
    float x = -0.0f, y = NAN, z = 1.2345f, t = FLT_MAX;
    fz_io_int(&w, &a, 0, 20);
    fz_io_int(&w, &b, -10, 10);
    fz_io_int_special(&w, &c, 0, 9, specials, 2);
    fz_io_int_special(&w, &d, 0, 9, specials, 2);
    fz_io_bool(&w, &flag);
    fz_io_i64(&w, &e, -5, 5);
    fz_io_i64_special(&w, &f, 0, 100, specials64, 1);
    fz_io_i64_special(&w, &g, 0, 100, specials64, 1);
    fz_io_u64(&w, &u, 0, UINT32_MAX);
    fz_io_float(&w, &x);
    fz_io_float(&w, &y);
    fz_io_float(&w, &z);
    fz_io_float(&w, &t);
    fz_reader_init(&r, w.buf, w.len);
    cr_expect_eq(fz_get_int(&r, 0, 20), 17);
    cr_expect_eq(fz_get_int(&r, -10, 10), -3);
    cr_expect_eq(fz_get_int_special(&r, 0, 9, specials, 2), INT_MIN);
    cr_expect_eq(fz_get_int_special(&r, 0, 9, specials, 2), 123456789);
    cr_expect_eq(fz_get_bool(&r), 1);
    cr_expect_eq(fz_get_i64(&r, -5, 5), -5);
    cr_expect_eq(fz_get_i64_special(&r, 0, 100, specials64, 1), INT64_MIN);
    cr_expect_eq(fz_get_i64_special(&r, 0, 100, specials64, 1), 42);
    cr_expect_eq(fz_get_u64(&r, 0, UINT32_MAX), UINT32_MAX);
    float back[4] = {fz_get_float(&r), fz_get_float(&r), fz_get_float(&r),
                     fz_get_float(&r)};
    cr_expect(memcmp(&back[0], &x, 4) == 0 && memcmp(&back[1], &y, 4) == 0 &&
              memcmp(&back[2], &z, 4) == 0 && memcmp(&back[3], &t, 4) == 0);
    cr_expect_eq(fz_remaining(&r), 0);
    fz_writer_free(&w);
}

Test(fuzz_codec, a_short_input_reads_as_the_low_ends)
{
    fz_io r;
    fz_reader_init(&r, NULL, 0);
    cr_expect_eq(fz_get_int(&r, 3, 300), 3);
    cr_expect_eq(fz_get_i64(&r, -9, 9), -9);
    cr_expect_eq(fz_get_bool(&r), 0);
    cr_expect_eq(fz_get_float(&r), 0.0f);
}

Test(fuzz_codec, every_byte_string_decodes_to_a_buildable_spec, .timeout = 120)
{
    uint64_t st = 99;
    for (int i = 0; i < 1500; i++) {
        uint8_t b[160];
        size_t len = (size_t)(fz_splitmix64(&st) % sizeof b);
        for (size_t j = 0; j < len; j++)
            b[j] = (uint8_t)fz_splitmix64(&st);
        fz_io r;
        kvc_case_spec sp;
        uint64_t vs;
        fz_reader_init(&r, b, len);
        fz_spec_io(&r, &sp, &vs);
        fz_spec_repair(&sp);
        cr_assert_leq(kvc_spec_work(&sp), FZ_SPEC_WORK_CAP, "input %d", i);
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_build(&sp, vs, &c, err, sizeof err), 0,
                     "input %d: %s", i, err);
        kvc_case_free(&c);
    }
}

Test(fuzz_codec, every_named_case_is_a_crosscheck_seed)
{
    for (size_t i = 0; i < kvc_named_count(); i++) {
        const kvc_named_case *nc = kvc_named_get(i);
        kvc_case_spec sp = kvc_named_spec(nc), back;
        for (int s = sp.num_seqs; s < KVC_MAX_SEQS; s++)
            sp.ctx_len[s] = sp.q_len[s] = 0;
        uint64_t seed = 5, seed_back;
        fz_io w, r;
        fz_writer_init(&w);
        fz_spec_io(&w, &sp, &seed);
        fz_reader_init(&r, w.buf, w.len);
        fz_spec_io(&r, &back, &seed_back);
        fz_spec_repair(&back);
        cr_expect(memcmp(&sp, &back, sizeof sp) == 0 && seed_back == seed,
                  "%s does not round-trip", nc->name);
        fz_writer_free(&w);
    }
}

Test(fuzz_model, qeff_reference_agrees_with_the_generators)
{
    for (size_t i = 0; i < kvc_named_count(); i++) {
        const kvc_named_case *nc = kvc_named_get(i);
        if (nc->mode != KVC_MODE_QEFF)
            continue;
        kvc_case_spec sp = kvc_named_spec(nc);
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_build(&sp, 3, &c, err, sizeof err), 0, "%s", err);
        int S = c.prob.num_seqs, MQ = c.qeff.max_q;
        qeff_call call;
        memset(&call, 0, sizeof call);
        call.in = (kva_qeff_inputs){S, MQ, c.qeff.position_ids, c.qeff.slot_id,
                                    c.layout.block_table,
                                    c.layout.max_blocks_per_seq,
                                    c.layout.block_size, c.layout.num_blocks};
        int64_t qsl[KVC_MAX_SEQS + 1], slots[512], src[512];
        int seq_lens[KVC_MAX_SEQS];
        cr_assert_leq((int64_t)S * MQ, 512);
        call.out = (kva_general_inputs){qsl, seq_lens, slots, src, 0};
        fzm_verdict v;
        qeff_verdict(&call, 0, 0, &v);
        cr_expect(!v.must_refuse, "%s: the model refuses a valid case: %s",
                  nc->name, v.reason);
        int64_t n;
        qeff_expect(&call.in, qsl, seq_lens, slots, src, &n);
        cr_expect_eq(n, c.prob.q_start[S], "%s: num_tokens", nc->name);
        for (int64_t t = 0; t < n; t++) {
            cr_expect_eq(slots[t], c.layout.slot_mapping[t], "%s: token %lld slot",
                         nc->name, (long long)t);
            cr_expect_eq(src[t], c.qeff.row_of_token[t], "%s: token %lld row",
                         nc->name, (long long)t);
        }
        for (int s = 0; s < S; s++)
            cr_expect_eq(seq_lens[s], c.prob.q_len[s] ? kvc_kv_len(&c.prob, s) : 0,
                         "%s: seq_lens[%d]", nc->name, s);
        kvc_case_free(&c);
    }
}

static int cache_must_refuse(int64_t nb, int B, int H, int D, int64_t sb,
                             int64_t ss, int64_t sh, int64_t pool)
{
    float dummy;
    kva_paged_cache c = {&dummy, &dummy, pool, nb, B, H, D, sb, ss, sh};
    fzm_verdict v;
    fzm_verdict_init(&v);
    fzm_check_cache(&c, &v);
    return v.must_refuse;
}

Test(fuzz_model, cache_rule_accepts_real_layouts_and_refuses_overlaps)
{
    /* NHD, HND, padded NHD: 5 blocks of 4 slots, 3 heads, D 7 */
    cr_expect(!cache_must_refuse(5, 4, 3, 7, 84, 21, 7, 420));
    cr_expect(!cache_must_refuse(5, 4, 3, 7, 84, 7, 28, 420));
    cr_expect(!cache_must_refuse(5, 4, 3, 7, 120, 30, 10, 600));
    /* interleaved but disjoint rows: 0,2,4 (+0/3) with D 1 */
    cr_expect(!cache_must_refuse(3, 2, 1, 1, 2, 3, 0, 8));
    /* a count-1 dimension's stride is free, even negative */
    cr_expect(!cache_must_refuse(1, 4, 1, 2, -5, 2, 0, 8));
    /* overlap, too small a pool, negative stride in use */
    cr_expect(cache_must_refuse(5, 4, 3, 7, 84, 0, 7, 420));
    cr_expect(cache_must_refuse(5, 4, 3, 7, 84, 21, 7, 419));
    cr_expect(cache_must_refuse(5, 4, 3, 7, -84, 21, 7, 420));
    cr_expect(cache_must_refuse(INT64_MAX / 2, 4, 3, 7, 84, 21, 7, 420));
    cr_expect(cache_must_refuse(5, 0, 3, 7, 84, 21, 7, 420));
}
