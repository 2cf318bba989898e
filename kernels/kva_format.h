/*
 * kva_format.h — libkvattn's number-format codecs for reduced-precision KV
 * caches: f16, bf16, fp8 e4m3, fp8 e5m2, int8 and nvfp4 (e2m1 elements with
 * e4m3 block scales), plus the dynamic-scale rules.
 *
 * Internal to libkvattn (not installed; the public API is kvattn.h). The
 * written contract is docs/kv-formats.md; every function below implements
 * one of its rules and cites it. The oracle implements the same rules
 * independently and compares the codes written here bit for bit, so the
 * contract text wins over this file wherever they disagree.
 *
 * Common to every function:
 *   - Pure functions of their arguments: no global mutable state, no
 *     dependence on the floating-point environment for the codecs (encoding
 *     and decoding are integer manipulations of the binary32 bit pattern;
 *     no subnormal float is ever produced or consumed as an intermediate, so
 *     FTZ/DAZ does not change a code or a decoded value — the decoded value
 *     itself is never subnormal for these formats except bf16).
 *   - "RNE" is round to nearest, ties to even on the code's mantissa,
 *     decided on the exact binary32 value of the input (never pre-rounded).
 *   - Sign-magnitude codes keep the sign of −0 and of magnitudes that round
 *     to 0 (except where a rule below says otherwise).
 *   - Decoding is exact: every code's value is a binary32 number.
 */
#ifndef KVA_FORMAT_H
#define KVA_FORMAT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- f16: IEEE binary16 (s e5 m10, bias 15) ----------------------------
 * encode: RNE from binary32 with gradual underflow (subnormals down to
 * 2^-24, then ±0 with the sign kept); IEEE overflow: a value that rounds past
 * 65504 becomes ±inf (so 65519.996 -> 0x7BFF, 65520 -> 0x7C00); ±inf ->
 * 0x7C00/0xFC00; NaN -> sign | 0x7E00.
 * decode: IEEE; exponent field 0 is m * 2^-24; field 31 is ±inf (m == 0) or
 * a quiet NaN (m != 0). */
uint16_t kva_f16_encode(float t);
float kva_f16_decode(uint16_t c);

/* ---- bf16: the upper half of binary32 (s e8 m7, bias 127) --------------
 * encode: RNE of the low 16 bits away (subnormals are RNE'd the same way,
 * down to 2^-133, then ±0); a value that rounds past the largest finite
 * (0x7F7F, about 3.3895e38) becomes ±inf; ±inf -> 0x7F80/0xFF80; NaN ->
 * sign | 0x7FC0.
 * decode: the code in the upper 16 bits of a binary32, low bits 0 (a NaN
 * code decodes to a NaN, quieted). */
uint16_t kva_bf16_encode(float t);
float kva_bf16_decode(uint16_t c);

/* ---- fp8 e4m3: OCP E4M3FN (s e4 m3, bias 7), SATFINITE -----------------
 * encode: |t| > 448 (±inf included) -> 0x7E / 0xFE (±448); NaN (either
 * sign) -> 0x7F; otherwise RNE to the e4m3 grid including its subnormals
 * (k * 2^-9, k = 1..7); magnitudes that round to 0 give 0x00 / 0x80 by sign.
 * Never writes 0x7F for a non-NaN nor 0xFF at all.
 * decode: e == 0 -> (m/8) * 2^-6; else (1 + m/8) * 2^(e-7); 0x7F and 0xFF
 * are NaN (there is no infinity). 0x7E = 448, 0x08 = 2^-6, 0x01 = 2^-9. */
uint8_t kva_e4m3_encode(float t);
float kva_e4m3_decode(uint8_t c);

/* ---- fp8 e5m2: s e5 m2, bias 15 (IEEE-like), SATFINITE -----------------
 * encode: |t| > 57344 (±inf included) -> 0x7B / 0xFB (±57344); NaN (either
 * sign) -> 0x7F; otherwise RNE including subnormals (k * 2^-16, k = 1..3),
 * ±0 kept. Never writes an infinity code.
 * decode: e == 0 -> (m/4) * 2^-14; e == 31: m == 0 -> ±inf (0x7C, 0xFC),
 * m != 0 -> NaN; else (1 + m/4) * 2^(e-15). 0x7B = 57344, 0x01 = 2^-16. */
uint8_t kva_e5m2_encode(float t);
float kva_e5m2_decode(uint8_t c);

/* ---- int8: two's complement, the value is the integer ------------------
 * encode: clamp(RNE_integer(t), -128, 127): 2.5 -> 2, 3.5 -> 4, -2.5 -> -2,
 * 127.5 -> 127 (RNE gives 128, clamped), -128.5 -> -128; NaN -> 0;
 * +inf -> 127, -inf -> -128; -0 -> 0. Decoding is the integer itself. */
int8_t kva_int8_encode(float t);

/* ---- e2m1 (nvfp4 element): s e2 m1, bias 1 ------------------------------
 * The 4-bit code is in the low nibble of the byte (the high nibble of a
 * result is 0; decode ignores the high nibble of its argument). Bit 3 is the
 * sign; magnitudes by code 0..7: 0, 0.5, 1, 1.5, 2, 3, 4, 6.
 * encode: |t| > 6 (±inf included) -> ±6 (0x7 / 0xF); NaN -> 0x0 (+0);
 * otherwise RNE to the grid (0.25 -> 0, 0.75 -> 1, 1.25 -> 1, 1.75 -> 2,
 * 2.5 -> 2, 3.5 -> 4, 5 -> 4); ±0 and magnitudes that round to 0 keep their
 * sign bit (0x0 / 0x8). Packing two codes per byte (element d even in the
 * low nibble, odd in the high) is the caller's job. */
uint8_t kva_e2m1_encode(float t);
float kva_e2m1_decode(uint8_t c);

/* ---- scales (docs/kv-formats.md, "Scales") ------------------------------ */

/* Per-token dynamic scale of one (token, KV head) row x[0..n):
 * amax = the largest |x[d]| over the finite x[d] (NaN and ±inf ignored; no
 * finite element, or n <= 0, gives amax 0); s = fp32(amax / range), one
 * binary32 division; s == 0 is replaced by 2^-23. range is the format's R:
 * 448 (e4m3), 57344 (e5m2), 127.5 (int8); the caller passes a finite range
 * > 0. x may be NULL when n <= 0. */
float kva_scale_token(const float *x, int n, float range);

/* nvfp4 block-scale code of one group of 16 consecutive elements x16[0..16)
 * with the static global scale g (finite, > 0, validated by the caller):
 * amax as for kva_scale_token over the group; c = kva_e4m3_encode(
 * fp32(g * fp32(amax / 6))) (SATFINITE, so at most 0x7E); a code whose value
 * is 0 is replaced by 0x01 (2^-9). Returns c. */
uint8_t kva_nvfp4_group_scale(const float *x16, float global_scale);

/* The group's effective scale: fp32(kva_e4m3_decode(block_code) / g), one
 * binary32 division. Elements of the group are encoded as
 * kva_e2m1_encode(fp32(x / s)); stored value e2m1(code) * s. */
float kva_nvfp4_effective_scale(uint8_t block_code, float global_scale);

#ifdef __cplusplus
}
#endif

#endif /* KVA_FORMAT_H */
