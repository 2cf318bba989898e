/*
 * planted_special.h — test-only kernel variants with the bugs special
 * inputs and calibration exist to catch (tests/test_special_inputs.c,
 * tests/test_calibration_draws.c). Each is libkvattn with one bug.
 */
#ifndef KVC_PLANTED_SPECIAL_H
#define KVC_PLANTED_SPECIAL_H

#include "../tools/runner.h"

/* Paged attention that reads every key of [0, seq_len) and gives the ones
 * a row must not see (causal, window, custom mask) weight 0 instead of
 * skipping them: p = exp(x - m) * 0. A finite masked key changes nothing;
 * a non-finite stored K element of a masked key makes the row's out and
 * lse NaN (0 * NaN), a non-finite stored V element the out element NaN.
 * Modelled after the real kernel has run: its rows are poisoned where that
 * arithmetic would poison them. */
extern const kvc_kernel kvc_planted_masked_nan;

/* A cache write that encodes f16 overflow (a finite |x| >= 65520, which
 * rounds past 65504) as the largest finite code +-65504 (0x7BFF) instead
 * of +-inf: saturation the f16 rules (docs/kv-formats.md) forbid. */
extern const kvc_kernel kvc_planted_f16_saturate;

/* An observer that files each head's amax under the next head
 * ((h + 1) % Hkv): per-head static scales come from the wrong head's amax.
 * The tensor amax is right. */
extern const kvc_kernel kvc_planted_calib_wrong_head;

#endif
