/*
 * kv_format.h — the oracle's reduced-precision KV cache formats and scales.
 *
 * The rules are those of ../docs/kv-formats.md (the written contract that the
 * kernels implement independently; this file shares no code with kernels/).
 * Everything here is written from the definitions, in double:
 *
 *   - A minifloat format is described by (exponent bits, mantissa bits, bias,
 *     which codes are special, largest finite value, NaN code written,
 *     overflow rule). f16, bf16, fp8 e4m3, fp8 e5m2 and e2m1 (nvfp4
 *     elements) are all instances of one generic decoder and one generic
 *     encoder.
 *   - Decoding builds sign * (1 + m/2^mb) * 2^(e-bias) (normal) or
 *     sign * (m/2^mb) * 2^(1-bias) (subnormal, exponent field 0) with ldexp;
 *     the result is exact in double (every code's value is a binary32
 *     number).
 *   - Encoding of a binary32 t takes the exact value of t (a double), finds
 *     its two neighbours on the format's grid (quantum = 2^(E - mb) for t in
 *     [2^E, 2^(E+1)), 2^(1 - bias - mb) below the smallest normal), compares
 *     t with their midpoint exactly, ties to the even mantissa, and then
 *     applies the format's overflow / saturation / NaN / signed-zero rule.
 *   - int8 is round to nearest even, written out (floor, compare the
 *     remainder with 0.5), then clamped to [-128, 127].
 *   - "fp32(a op b)" of the doc (one binary32 operation, correctly rounded to
 *     nearest even) is the double result of the operation on the binary32
 *     operands, rounded to binary32 by a cast; for one *, / of binary32
 *     operands this is exact (the product is exact in double; for the
 *     quotient 53 >= 2*24 + 2 makes double rounding innocuous).
 *
 * Nothing here aborts and there is no global mutable state; every function
 * is a pure function of its arguments.
 */
#ifndef KVC_KV_FORMAT_H
#define KVC_KV_FORMAT_H

#include <stdint.h>

/* The element type of a KV cache. */
typedef enum kvc_kv_dtype {
    KVC_KV_F32 = 0,  /* binary32, stored as is */
    KVC_KV_F16,      /* IEEE binary16 */
    KVC_KV_BF16,     /* bfloat16 (upper half of binary32) */
    KVC_KV_FP8_E4M3, /* OCP E4M3FN, SATFINITE encoding */
    KVC_KV_FP8_E5M2, /* OCP E5M2, SATFINITE encoding */
    KVC_KV_INT8,     /* two's complement, RNE, clamped */
    KVC_KV_NVFP4     /* e2m1 elements with an e4m3 scale per 16 */
} kvc_kv_dtype;

/* Number of dtypes: the valid values are 0 .. KVC_KV_DTYPE_COUNT - 1. */
#define KVC_KV_DTYPE_COUNT 7

/* "f32", "f16", "bf16", "fp8_e4m3", "fp8_e5m2", "int8", "nvfp4"; "?" for a
 * value outside the enum. */
const char *kvc_kv_dtype_name(kvc_kv_dtype d);

/* Parse one of the names above (exact, case-sensitive). Returns 0 and sets
 * *d (when d is not NULL), or -1 for NULL or an unknown name (*d untouched). */
int kvc_kv_dtype_parse(const char *s, kvc_kv_dtype *d);

/*
 * The code of the binary32 value t (t is the value *after* division by the
 * scale, see kvc_fp32_div):
 *   f32       the bits of t (NaN payloads kept)
 *   f16       16 bits: RNE, IEEE overflow to +-inf, gradual underflow,
 *             -0 kept, NaN -> sign | 0x7E00
 *   bf16      16 bits: the same with NaN -> sign | 0x7FC0
 *   fp8_e4m3  8 bits: |t| > 448 (inf included) -> +-448 (0x7E / 0xFE),
 *             NaN -> 0x7F, else RNE including subnormals, +-0 kept
 *   fp8_e5m2  8 bits: |t| > 57344 (inf included) -> +-57344 (0x7B / 0xFB),
 *             NaN -> 0x7F, else RNE including subnormals, +-0 kept
 *   int8      8 bits (the two's complement byte): clamp(RNE(t), -128, 127),
 *             NaN -> 0, +inf -> 127, -inf -> -128, -0 -> 0
 *   nvfp4     one 4-bit e2m1 code (0 .. 15, bit 3 the sign):
 *             |t| > 6 (inf included) -> +-6, NaN -> 0 (+0), else RNE,
 *             +-0 and magnitudes rounding to 0 keep the sign bit
 * An unknown dtype gives 0.
 */
uint32_t kvc_encode(kvc_kv_dtype d, float t);

/*
 * The exact value of a code (only the format's low bits of `code` are read:
 * 16 for f16/bf16, 8 for fp8/int8, 4 for nvfp4, 32 for f32). NaN codes give
 * NaN, infinity codes (f16, bf16, e5m2 0x7C/0xFC) +-inf; e4m3 0x7F/0xFF are
 * NaN and e4m3 has no infinity; e2m1 and int8 have neither. An unknown dtype
 * gives NaN.
 */
double kvc_decode(kvc_kv_dtype d, uint32_t code);

/*
 * The per-token dynamic scale of a row x[0 .. n-1] (fp8_e4m3, fp8_e5m2,
 * int8): amax = largest |x_i| over finite x_i (0 for an empty or
 * all-non-finite row), s = fp32(amax / R) with R = 448, 57344, 127.5, and
 * s == 0 replaced by 2^-23. Other dtypes have no per-token scale: NaN.
 */
float kvc_scale_token(kvc_kv_dtype d, const float *x, int n);

/*
 * nvfp4 block scale code of one group of 16 elements with the global scale
 * g: amax over the finite elements of x16, c = e4m3_encode(fp32(g *
 * fp32(amax / 6))) (SATFINITE), and a code whose value is 0 (0x00 or 0x80)
 * replaced by 0x01. g is expected finite and > 0 (the doc refuses other
 * static scales); otherwise the formula is applied as written.
 */
uint32_t kvc_nvfp4_block_code(const float *x16, float global_scale);

/* The group's effective scale fp32(decode_e4m3(block_code) / g). Each
 * element x of the group is stored as kvc_encode(KVC_KV_NVFP4,
 * kvc_fp32_div(x, s)), with stored value kvc_decode(KVC_KV_NVFP4, code) * s. */
float kvc_nvfp4_effective_scale(uint32_t block_code, float global_scale);

/*
 * Static scale from a calibration amax (largest finite |x| seen), by the
 * symmetric min-max rule: fp32(amax / R) with R = 448 (fp8_e4m3), 57344
 * (fp8_e5m2), 127.5 (int8); a zero result becomes 2^-23. The formula is
 * applied as written to any amax (a NaN amax gives NaN, +inf gives +inf: the
 * caller refuses scales that are not finite and > 0). Other dtypes: NaN.
 */
float kvc_calib_scale(kvc_kv_dtype d, float amax);

/* nvfp4 global scale g = fp32(2688 / amax) (2688 = 448 * 6), amax below
 * 2^-23 taken as 2^-23 (a NaN amax gives NaN). */
float kvc_calib_nvfp4_global(float amax);

/* One binary32 operation, correctly rounded to nearest even: the double
 * result on the binary32 operands, rounded to binary32 (exact, see above). */
float kvc_fp32_div(float a, float b);
float kvc_fp32_mul(float a, float b);

#endif /* KVC_KV_FORMAT_H */
