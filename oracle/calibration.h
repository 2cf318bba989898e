/*
 * calibration.h — the oracle's model of static-scale calibration
 * (docs/kv-formats.md, "Calibration"), written from that text alone: the
 * amax a min-max observer must have seen over a case's K or V, and the
 * static scale the symmetric rule of compressed-tensors gives for it. The
 * runner checks a kernel's kva_observer_update / kva_scale_from_amax
 * against it (tools/calibration_check.h); nothing here is shared with
 * kernels/.
 */
#ifndef KVC_CALIBRATION_H
#define KVC_CALIBRATION_H

#include "problem.h"

/* The largest finite |x| of K (which 0) or V (which 1) over every logical
 * position of every sequence (kv_start[0] .. kv_start[S]) and KV heads
 * [h0, h1); NaN and infinities are ignored; 0 when nothing finite is
 * there (or the range is empty or out of bounds). */
float kvc_calib_amax(const kvc_problem *p, int which, int h0, int h1);

/* The static scale calibration gives a problem's format for that amax:
 * FP8 / INT8 kvc_calib_scale, NVFP4 the global scale
 * kvc_calib_nvfp4_global (kv_format.h); NaN for a format without static
 * scales (f32, f16, bf16). */
float kvc_calib_expected_scale(kvc_kv_dtype dtype, float amax);

#endif /* KVC_CALIBRATION_H */
