/*
 * test_fuzz_codec.c — the fuzz harnesses' shared pieces, in-process (the
 * harnesses themselves run in fuzz/ci-replay.sh and under libFuzzer):
 *   - fz_io reads back exactly what it wrote, and a short input reads as
 *     the ranges' low ends;
 *   - every byte string decodes (fz_spec_io + fz_spec_repair) to a spec
 *     that kvc_case_build accepts, within the work cap, and the bytes
 *     reach every cache format (nvfp4 always with head_dim % 16 == 0);
 *   - every named boundary case (the kv_* format cases too) and every
 *     dtype x scale kind x scale family x edges is encodable as a
 *     crosscheck seed and round-trips;
 *   - the contract model (fuzz_model.c) agrees with the generators on the
 *     QEfficient general form of every named qeff case, accepts the
 *     layouts the generators produce (in storage units, nvfp4 rows of
 *     D/2) and refuses overlapping ones; its format rules give the
 *     statuses kvattn.h gives; its calibration scales agree with the
 *     oracle's (two implementations of docs/kv-formats.md); its reference
 *     row encoder stores what the format says; the contract, observe and
 *     scale byte formats round-trip.
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
    int seen[KVC_KV_DTYPE_COUNT] = {0};
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
        cr_assert(kvc_quant_kind_valid(sp.kv_dtype, sp.kv_scale), "input %d",
                  i);
        cr_assert(sp.kv_dtype != KVC_KV_NVFP4 || sp.cfg.head_dim % 16 == 0,
                  "input %d: nvfp4 with head_dim %d", i, sp.cfg.head_dim);
        seen[sp.kv_dtype]++;
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_build(&sp, vs, &c, err, sizeof err), 0,
                     "input %d: %s", i, err);
        kvc_case_free(&c);
    }
    for (int d = 0; d < KVC_KV_DTYPE_COUNT; d++)
        cr_expect_gt(seen[d], 20, "dtype %d drawn %d times", d, seen[d]);
}

/* Encode a spec, decode and repair it. */
static kvc_case_spec spec_round_trip(kvc_case_spec sp, uint64_t *seed)
{
    kvc_case_spec back;
    uint64_t vs = *seed;
    fz_io w, r;
    fz_writer_init(&w);
    fz_spec_io(&w, &sp, &vs);
    fz_reader_init(&r, w.buf, w.len);
    fz_spec_io(&r, &back, seed);
    fz_spec_repair(&back);
    fz_writer_free(&w);
    return back;
}

Test(fuzz_codec, every_format_round_trips_and_builds, .timeout = 60)
{
    static const kvc_scale_kind kinds[] = {KVC_SCALE_NONE, KVC_SCALE_TENSOR,
                                           KVC_SCALE_HEAD, KVC_SCALE_TOKEN,
                                           KVC_SCALE_GROUP};
    int n = 0;
    for (int d = 0; d < KVC_KV_DTYPE_COUNT; d++)
        for (int k = 0; k < 5; k++) {
            if (!kvc_quant_kind_valid((kvc_kv_dtype)d, kinds[k]))
                continue;
            for (int f = 0; f < KVC_SCALES_COUNT; f++)
                for (int e = 0; e < 2; e++) {
                    kvc_case_spec sp = kvc_named_base(KVC_MODE_PAGED);
                    sp.cfg.head_dim = 32;
                    sp.kv_dtype = (kvc_kv_dtype)d;
                    sp.kv_scale = kinds[k];
                    sp.scale_family = (kvc_scale_family)f;
                    sp.format_edges = e;
                    sp.leak_sensitive = !e;
                    uint64_t seed = 7;
                    kvc_case_spec back = spec_round_trip(sp, &seed);
                    cr_expect(memcmp(&sp, &back, sizeof sp) == 0,
                              "dtype %d kind %d family %d edges %d does not "
                              "round-trip", d, (int)kinds[k], f, e);
                    kvc_case c;
                    char err[256];
                    cr_expect_eq(kvc_case_build(&back, seed, &c, err,
                                                sizeof err), 0, "%s", err);
                    kvc_case_free(&c);
                    n++;
                }
        }
    cr_expect_eq(n, 13 * KVC_SCALES_COUNT * 2);
}

Test(fuzz_codec, nvfp4_head_dim_becomes_a_multiple_of_16)
{
    static const int dims[] = {1, 2, 15, 16, 17, 31, 33, 40, 63, 64, 65, 80,
                               96, 127, 128, 129, 1000, -5, INT_MAX};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        kvc_case_spec sp = kvc_named_base(KVC_MODE_PAGED);
        sp.cfg.head_dim = dims[i];
        sp.kv_dtype = KVC_KV_NVFP4;
        sp.kv_scale = KVC_SCALE_GROUP;
        uint64_t seed = 3;
        kvc_case_spec back = spec_round_trip(sp, &seed);
        int D = back.cfg.head_dim;
        cr_expect(D % 16 == 0 && D >= 16 && D <= FZ_SPEC_MAX_D,
                  "head_dim %d became %d", dims[i], D);
        if (dims[i] >= 1 && dims[i] <= 128)
            cr_expect_eq(D, (dims[i] + 15) / 16 * 16, "head_dim %d", dims[i]);
        kvc_case c;
        char err[256];
        cr_expect_eq(kvc_case_build(&back, seed, &c, err, sizeof err), 0,
                     "%s", err);
        kvc_case_free(&c);
    }
}

Test(fuzz_codec, an_input_without_format_bytes_is_f32)
{
    kvc_case_spec sp = kvc_named_base(KVC_MODE_PAGED), back;
    uint64_t seed = 1, vs;
    fz_io w, r;
    fz_writer_init(&w);
    fz_spec_io(&w, &sp, &seed);
    fz_reader_init(&r, w.buf, w.len - 3); /* dtype, family, edges cut */
    fz_spec_io(&r, &back, &vs);
    cr_expect_eq(back.kv_dtype, KVC_KV_F32);
    cr_expect_eq(back.kv_scale, KVC_SCALE_NONE);
    cr_expect_eq(back.format_edges, 0);
    fz_writer_free(&w);
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

static int cache_must_refuse_fmt(int64_t nb, int B, int H, int D,
                                 int64_t sb, int64_t ss, int64_t sh,
                                 int64_t pool, kva_dtype dtype,
                                 kva_kv_scales sc)
{
    float dummy;
    kva_paged_cache c = {.k = &dummy, .v = &dummy, .pool_elems = pool,
                         .num_blocks = nb, .block_size = B, .num_kv_heads = H,
                         .head_dim = D, .stride_block = sb, .stride_slot = ss,
                         .stride_head = sh, .dtype = dtype, .scales = sc};
    fzm_verdict v;
    fzm_verdict_init(&v);
    fzm_check_cache(&c, &v);
    return v.must_refuse;
}

static int cache_must_refuse(int64_t nb, int B, int H, int D, int64_t sb,
                             int64_t ss, int64_t sh, int64_t pool)
{
    kva_kv_scales none;
    memset(&none, 0, sizeof none);
    return cache_must_refuse_fmt(nb, B, H, D, sb, ss, sh, pool, KVA_DTYPE_F32,
                                 none);
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

Test(fuzz_model, cache_rule_counts_storage_units)
{
    kva_kv_scales g;
    memset(&g, 0, sizeof g);
    g.kind = KVA_SCALE_GROUP;
    g.k_tensor = g.v_tensor = 1.0f;
    uint8_t pool[64];
    g.k_pool = g.v_pool = pool;
    /* 2 blocks x 2 slots x 1 head of D 32: NHD rows of 2 group codes */
    g.stride_block = 4;
    g.stride_slot = 2;
    g.pool_units = 8;
    /* nvfp4 rows of D/2 = 16 units: NHD strides in units fit 64 units */
    cr_expect(!cache_must_refuse_fmt(2, 2, 1, 32, 32, 16, 16, 64,
                                     KVA_DTYPE_NVFP4, g));
    /* f32 rows of 32 units do not */
    kva_kv_scales none;
    memset(&none, 0, sizeof none);
    cr_expect(cache_must_refuse_fmt(2, 2, 1, 32, 32, 16, 16, 64,
                                    KVA_DTYPE_F32, none));
    /* the scale pools obey the same row rule */
    g.pool_units = 7;
    cr_expect(cache_must_refuse_fmt(2, 2, 1, 32, 32, 16, 16, 64,
                                    KVA_DTYPE_NVFP4, g));
    g.pool_units = 8;
    g.stride_slot = 1; /* rows of 2 codes overlap */
    cr_expect(cache_must_refuse_fmt(2, 2, 1, 32, 32, 16, 16, 64,
                                    KVA_DTYPE_NVFP4, g));
}

/* The statuses fzm_check_format requires for one description. */
static unsigned format_must(int dtype, kva_kv_scales sc, int H, int D)
{
    const int64_t count[3] = {2, 2, H};
    fzm_verdict v;
    fzm_verdict_init(&v);
    fzm_check_format(dtype, &sc, H, D, count, 1, &v);
    return v.must;
}

Test(fuzz_model, format_rules_give_the_header_statuses)
{
    const unsigned FMT = 1u << KVA_ERR_FORMAT, NUL = 1u << KVA_ERR_NULL,
                   SHP = 1u << KVA_ERR_SHAPE;
    float heads[2] = {1.0f, 0.5f}, bad_heads[2] = {1.0f, NAN};
    float tok[8];
    kva_kv_scales sc;
    memset(&sc, 0, sizeof sc);
    /* every valid combination */
    for (int d = KVA_DTYPE_F32; d <= KVA_DTYPE_NVFP4; d++)
        for (int k = KVA_SCALE_NONE; k <= KVA_SCALE_GROUP; k++) {
            kva_kv_scales s = sc;
            s.kind = (kva_scale_kind)k;
            s.k_tensor = s.v_tensor = 2.0f;
            s.k_head = s.v_head = heads;
            s.k_pool = s.v_pool = tok; /* NHD, rows of 2 group codes */
            s.pool_units = 16;
            s.stride_block = 8;
            s.stride_slot = 4;
            s.stride_head = 2;
            unsigned m = format_must(d, s, 2, 32);
            cr_expect_eq(m, fzm_kind_valid(d, k) ? 0u : FMT,
                         "dtype %d kind %d: %#x", d, k, m);
        }
    sc.kind = KVA_SCALE_TENSOR;
    sc.k_tensor = 1.0f;
    /* static scales */
    const float bad[] = {0.0f, -0.0f, -1.0f, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sc.v_tensor = bad[i];
        cr_expect_eq(format_must(KVA_DTYPE_INT8, sc, 2, 8), FMT, "%g",
                     (double)bad[i]);
    }
    sc.v_tensor = 1e-40f; /* subnormal: finite and > 0 */
    cr_expect_eq(format_must(KVA_DTYPE_INT8, sc, 2, 8), 0u);
    sc.v_tensor = FLT_MAX;
    cr_expect_eq(format_must(KVA_DTYPE_INT8, sc, 2, 8), 0u);
    /* out of the enums */
    cr_expect_eq(format_must(7, sc, 2, 8), FMT);
    cr_expect_eq(format_must(-1, sc, 2, 8), FMT);
    sc.kind = (kva_scale_kind)5;
    cr_expect_eq(format_must(KVA_DTYPE_INT8, sc, 2, 8), FMT);
    /* HEAD: NULL arrays, a bad entry; unused fields ignored */
    sc.kind = KVA_SCALE_HEAD;
    sc.k_tensor = NAN;
    sc.k_head = heads;
    sc.v_head = NULL;
    cr_expect_eq(format_must(KVA_DTYPE_FP8_E5M2, sc, 2, 8), NUL);
    sc.v_head = bad_heads;
    cr_expect_eq(format_must(KVA_DTYPE_FP8_E5M2, sc, 2, 8), FMT);
    cr_expect_eq(format_must(KVA_DTYPE_FP8_E5M2, sc, 1, 8), 0u,
                 "only Hkv entries are read");
    /* NVFP4 head_dim */
    sc.kind = KVA_SCALE_GROUP;
    sc.k_tensor = sc.v_tensor = 1.0f;
    sc.k_pool = sc.v_pool = tok;
    sc.pool_units = 8;
    sc.stride_block = 4;
    sc.stride_slot = 2;
    sc.stride_head = 1;
    cr_expect_eq(format_must(KVA_DTYPE_NVFP4, sc, 1, 24), FMT);
    cr_expect_eq(format_must(KVA_DTYPE_NVFP4, sc, 1, 16), 0u);
    /* pools: NULL, too small, overlapping, negative */
    sc.kind = KVA_SCALE_TOKEN;
    sc.v_pool = NULL;
    cr_expect_eq(format_must(KVA_DTYPE_FP8_E4M3, sc, 2, 8), NUL);
    sc.v_pool = tok;
    sc.pool_units = 7;
    cr_expect_eq(format_must(KVA_DTYPE_FP8_E4M3, sc, 2, 8), SHP);
    sc.pool_units = 8;
    sc.stride_slot = 1;
    cr_expect_eq(format_must(KVA_DTYPE_FP8_E4M3, sc, 2, 8), SHP);
    sc.stride_slot = -2;
    cr_expect_eq(format_must(KVA_DTYPE_FP8_E4M3, sc, 2, 8), SHP);
    /* blocked with no sequence: the pools are not required */
    const int64_t none[3] = {0, 4, 2};
    fzm_verdict v;
    fzm_verdict_init(&v);
    sc.k_pool = NULL;
    fzm_check_format(KVA_DTYPE_FP8_E4M3, &sc, 2, 8, none, 0, &v);
    cr_expect_eq(v.must, 0u);
}

Test(fuzz_model, calibration_scales_agree_with_the_oracle)
{
    /* hand values of docs/kv-formats.md */
    cr_expect_eq(fzm_scale_from_amax(KVA_DTYPE_FP8_E4M3, 448.0f), 1.0f);
    cr_expect_eq(fzm_scale_from_amax(KVA_DTYPE_FP8_E5M2, 57344.0f), 1.0f);
    cr_expect_eq(fzm_scale_from_amax(KVA_DTYPE_INT8, 127.5f), 1.0f);
    cr_expect_eq(fzm_scale_from_amax(KVA_DTYPE_NVFP4, 2688.0f), 1.0f);
    cr_expect_eq(fzm_scale_from_amax(KVA_DTYPE_FP8_E4M3, 0.0f), 0x1p-23f);
    cr_expect_eq(fzm_scale_from_amax(KVA_DTYPE_INT8, 1e-45f), 0x1p-23f);
    cr_expect_eq(fzm_scale_from_amax(KVA_DTYPE_NVFP4, 0.0f), 2688.0f * 0x1p23f);
    cr_expect(isnan(fzm_scale_from_amax(KVA_DTYPE_F16, 1.0f)));
    /* two implementations of the same text, bit for bit */
    static const kva_dtype d[] = {KVA_DTYPE_FP8_E4M3, KVA_DTYPE_FP8_E5M2,
                                  KVA_DTYPE_INT8};
    static const kvc_kv_dtype od[] = {KVC_KV_FP8_E4M3, KVC_KV_FP8_E5M2,
                                      KVC_KV_INT8};
    uint64_t st = 5;
    for (int i = 0; i < 20000; i++) {
        uint32_t bits = (uint32_t)fz_splitmix64(&st) & 0x7FFFFFFFu;
        if (i < 64)
            bits = (uint32_t)i; /* zero and subnormals */
        float a;
        memcpy(&a, &bits, sizeof a);
        if (!isfinite(a))
            continue;
        for (int k = 0; k < 3; k++) {
            float m = fzm_scale_from_amax(d[k], a), o = kvc_calib_scale(od[k], a);
            cr_assert(memcmp(&m, &o, sizeof m) == 0, "dtype %d amax %a: "
                      "model %a oracle %a", (int)d[k], (double)a, (double)m,
                      (double)o);
        }
        float m = fzm_scale_from_amax(KVA_DTYPE_NVFP4, a),
              o = kvc_calib_nvfp4_global(a);
        cr_assert(memcmp(&m, &o, sizeof m) == 0, "nvfp4 amax %a: model %a "
                  "oracle %a", (double)a, (double)m, (double)o);
    }
}

Test(fuzz_model, reference_rows_store_what_the_format_says)
{
    kva_kv_scales sc;
    memset(&sc, 0, sizeof sc);
    float x[32];
    for (int d = 0; d < 32; d++)
        x[d] = (float)(d - 16) * 0.25f;
    uint8_t row[128], srow[8];
    /* f32: the bits */
    fzm_encode_row(KVA_DTYPE_F32, &sc, 0, 0, x, 32, row, NULL);
    cr_expect(memcmp(row, x, sizeof x) == 0);
    /* e4m3, tensor scale 0.5: x / 0.5 <= 16 is exact on the grid */
    sc.kind = KVA_SCALE_TENSOR;
    sc.k_tensor = 0.5f;
    fzm_encode_row(KVA_DTYPE_FP8_E4M3, &sc, 0, 0, x, 32, row, NULL);
    for (int d = 0; d < 32; d++)
        cr_expect_eq(fzm_stored(KVA_DTYPE_FP8_E4M3, &sc, 0, 0, row, NULL, d),
                     (double)x[d], "dim %d", d);
    cr_expect_eq(row[16], 0x00); /* +0 */
    /* token: amax 4 -> s = fp32(4 / 127.5), stored beside the codes */
    sc.kind = KVA_SCALE_TOKEN;
    fzm_encode_row(KVA_DTYPE_INT8, &sc, 0, 0, x, 32, row, srow);
    float s;
    memcpy(&s, srow, sizeof s);
    cr_expect_eq(s, (float)(4.0 / 127.5));
    for (int d = 0; d < 32; d++)
        cr_expect(fabs(fzm_stored(KVA_DTYPE_INT8, &sc, 0, 0, row, srow, d) -
                       x[d]) <= 0.5000001 * s, "dim %d", d);
    /* nvfp4: two codes a byte, one block code per 16 dims */
    sc.kind = KVA_SCALE_GROUP;
    sc.k_tensor = 1.0f;
    memset(row, 0xAA, sizeof row);
    fzm_encode_row(KVA_DTYPE_NVFP4, &sc, 0, 0, x, 32, row, srow);
    cr_expect_eq(row[16], 0xAA, "a row of 32 nvfp4 codes is 16 bytes");
    for (int d = 0; d < 32; d++) {
        double v = fzm_stored(KVA_DTYPE_NVFP4, &sc, 0, 0, row, srow, d);
        /* within half the widest e2m1 gap (2) times the block scale
         * (amax 4 / 6 rounded up to e4m3 0.6875) */
        cr_expect(fabs(v - x[d]) <= 0.6875, "dim %d: stored %g for %g", d,
                  v, (double)x[d]);
    }
}

Test(fuzz_codec, contract_format_and_calibration_inputs_round_trip)
{
    for (int d = KVA_DTYPE_F32; d <= KVA_DTYPE_NVFP4; d++) {
        int kinds[3], n = fzm_kinds_of(d, kinds);
        cr_assert(n >= 1);
        for (int i = 0; i < n; i++) {
            fzm_format f, back;
            memset(&f, 0, sizeof f);
            f.dtype = d;
            f.kind = kinds[i];
            f.groups = d == KVA_DTYPE_NVFP4 ? 2 : 1;
            f.k_tensor = f.v_tensor = 1.0f;
            for (int h = 0; h < FZM_MAX_HEADS; h++)
                f.k_head[h] = f.v_head[h] = 1.0f;
            if (kinds[i] == KVA_SCALE_TENSOR || kinds[i] == KVA_SCALE_GROUP) {
                f.k_tensor = NAN;
                f.v_tensor = 1e-40f;
            }
            if (kinds[i] == KVA_SCALE_HEAD)
                f.v_head[3] = -0.0f;
            if (kinds[i] == KVA_SCALE_TOKEN || kinds[i] == KVA_SCALE_GROUP) {
                f.pool_layout = 2;
                f.pool_pad = 1;
                f.pool_slack = 3;
            }
            f.junk = 0xC5;
            fzm_format copy = f;
            fz_io w, r;
            fz_writer_init(&w);
            fzm_format_io(&w, &copy);
            fz_reader_init(&r, w.buf, w.len);
            fzm_format_io(&r, &back);
            cr_expect(memcmp(&f, &back, sizeof f) == 0, "dtype %d kind %d",
                      d, kinds[i]);
            fz_writer_free(&w);
        }
    }
    fzo_input o, ob;
    memset(&o, 0, sizeof o);
    o.num_kv_heads = INT_MAX;
    o.head_dim = 7;
    o.num_tokens = INT64_MIN;
    o.amax = -0.0f;
    o.head_amax_on = 1;
    o.head_amax[2] = NAN;
    o.null_mask = FZO_NULL_X | FZO_NULL_ERR;
    o.range = 1e30f;
    o.seed = 99;
    o.n_inject = 2;
    o.inject_pos[1] = 12345;
    o.inject_val[1] = -INFINITY;
    fzo_input oc = o;
    fz_io w, r;
    fz_writer_init(&w);
    fzo_io(&w, &oc);
    fz_reader_init(&r, w.buf, w.len);
    fzo_io(&r, &ob);
    cr_expect(memcmp(&o, &ob, sizeof o) == 0);
    fz_writer_free(&w);
    fzs_input s = {INT_MIN, 0x1p-149f, FZS_NULL_SCALE}, sb, scopy = s;
    fz_writer_init(&w);
    fzs_io(&w, &scopy);
    fz_reader_init(&r, w.buf, w.len);
    fzs_io(&r, &sb);
    cr_expect(memcmp(&s, &sb, sizeof s) == 0);
    fz_writer_free(&w);
}
