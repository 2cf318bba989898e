/*
 * profile.h — the naive attention algorithm in a kernel's declared
 * arithmetic profile (judged by tolerance.h kvc_judge_outputs).
 *
 * Not every kernel computes in fp32. A kernel will declare one of:
 *
 *   fp32      today's model: float products, float sums, expf/logf/tanhf
 *             (exactly the out32/lse32 baseline of reference.h).
 *   half-p    GPU FlashAttention's arithmetic. A 16-bit type T is chosen
 *             from the cache (kvc_profile_half_type): the cache's own type
 *             for an f16 or bf16 cache, bf16 for every other cache (f32 and
 *             the quantized formats: bf16 is what FlashAttention runs those
 *             models in, and it keeps fp32's range, so no emulated overflow
 *             appears that the kernel would not have). Q, K and V are
 *             rounded to T; scores, the row max, exp and the sum l in fp32
 *             (l sums the unrounded weights, as FlashAttention-2's row_sum
 *             does); each weight p_j rounded to T before P.V; P.V
 *             accumulated in fp32; out = acc / l in fp32.
 *   half-acc  llama.cpp's CPU kernel (ggml_compute_forward_flash_attn_ext
 *             with an f16 V cache). Q rounded to f16 (the vec_dot_type of
 *             an f16 K); K and V as the cache stores them (f16 values for
 *             an f16 cache; other caches' stored values are used as they
 *             are); dot products, scale, soft-cap, max, exp in fp32; the
 *             sum l of the weights in fp32 (llama.cpp's softmax
 *             denominator S is a float); P.V accumulated in f16 exactly as
 *             ggml_vec_mad_f16 does it:
 *                 acc_d = f16( fp32( acc_d + fp32(p_j * v_jd) ) )
 *             (product and sum in fp32, then one rounding to f16, round to
 *             nearest even, past 65504 to +-inf); out = fp32(acc_d / l),
 *             so an overflowed accumulator gives out = +-inf (inf / l) and
 *             a stalled one (2048 + 1 rounds back to 2048) a visibly wrong
 *             value.
 *
 * The emulation is the naive algorithm of reference.h: for each row, the
 * visible keys in logical order, all scores, the global row max subtracted
 * (no online rescaling), exp, sum, weight V, divide; lse = m + logf(l)
 * (natural log) in fp32 in every profile. Every rounding to a 16-bit type is
 * kvc_decode(T, kvc_encode(T, x)) (kv_format.h: round to nearest even,
 * gradual underflow, IEEE overflow to +-inf). A row with no visible key
 * gives out = 0 and lse = -inf in every profile.
 *
 * The oracle shares no code with kernels/: nothing here calls them or may be
 * called by them. No global state; nothing aborts.
 */
#ifndef KVC_PROFILE_H
#define KVC_PROFILE_H

#include <stddef.h>

#include "kv_format.h"
#include "kv_store.h"
#include "problem.h"
#include "reference.h"

typedef enum kvc_profile {
    KVC_PROFILE_FP32 = 0,
    KVC_PROFILE_HALF_P,
    KVC_PROFILE_HALF_ACC
} kvc_profile;

/* Number of profiles: the valid values are 0 .. KVC_PROFILE_COUNT - 1. */
#define KVC_PROFILE_COUNT 3

/* "fp32", "half-p", "half-acc"; "?" for a value outside the enum. */
const char *kvc_profile_name(kvc_profile prof);

/* Parse one of the names above (exact, case-sensitive). Returns 0 and sets
 * *prof (when prof is not NULL), or -1 for NULL or an unknown name (*prof
 * untouched). */
int kvc_profile_parse(const char *s, kvc_profile *prof);

/* half-p's 16-bit type for a cache of this dtype: KVC_KV_F16 for f16,
 * KVC_KV_BF16 for everything else (bf16 itself, f32, fp8, int8, nvfp4). */
kvc_kv_dtype kvc_profile_half_type(kvc_kv_dtype cache);

/*
 * The reference of p with its naive baseline in profile prof: everything
 * kvc_reference_compute_stored computes (out, lse exact in double; absw,
 * smax, vmax, nvis), with out32 / lse32 replaced by the naive algorithm in
 * the profile's arithmetic (for KVC_PROFILE_FP32 they are left exactly as
 * kvc_reference_compute_stored made them: the fp32 baseline, bit for bit).
 * st is the store kvc_kv_store_compute made of p, or NULL to have it
 * computed here (an f32 cache is read in place: the logical values). A
 * store whose shape or format is not p's is refused.
 *
 * Returns 0, or -1 with a message in err (invalid problem, unknown profile,
 * out of memory; *out left zeroed, nothing allocated).
 */
int kvc_reference_compute_profile(const kvc_problem *p,
                                  const kvc_kv_store *st, kvc_profile prof,
                                  kvc_reference *out, char *err, size_t n);

#endif /* KVC_PROFILE_H */
