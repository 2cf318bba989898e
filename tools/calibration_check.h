/*
 * calibration_check.h — a case's static scales calibrated by the kernel
 * under test, checked against the oracle before they are used.
 *
 * For a case with spec.kernel_calibration (generators/special.c draws it
 * for static scales of the CALIBRATED family: tensor, attn_head, nvfp4
 * global) and a kernel with both kva_observer_update and
 * kva_scale_from_amax (kvc_kernel.observer_update / scale_from_amax), the
 * runner, before any other kernel call:
 *   1. feeds a zeroed observer per tensor (K, V; num_kv_heads, head_dim and
 *      a head_amax array) the case's logical K or V, one sequence per call
 *      (so the running maximum across calls matters; NaN and infinities
 *      must be ignored), every buffer guarded (tools/guard.h);
 *   2. compares the observer's amax and every head_amax with the oracle's
 *      (oracle/calibration.h), bit for bit;
 *   3. asks kva_scale_from_amax for the static scale(s) from the kernel's
 *      own amax (the tensor's for tensor and nvfp4 global scales, each
 *      head's for attn_head) and compares each with the oracle's, bit for
 *      bit. The case's scales are the oracle's (the generator computed them
 *      by the same rule), so a scale that agrees is the one the case uses.
 * A disagreement is KVC_FAIL_CALIBRATION (printed "calibration: ...")
 * with a message such as
 *   "K amax of head 0: kernel 164.655502 (0x1.494f9ep+7), oracle
 *    202.044556 (0x1.9416dp+7)" or
 *   "V scale for head 3: kernel 0.0123 (...), oracle 0.0125 (...) from the
 *    kernel's amax 1.57"
 * a refusal is KVC_FAIL_KERNEL, a guard violation KVC_FAIL_BOUNDS or
 * KVC_FAIL_INPUT. A kernel without the two entry points (optional in a
 * library), or a case without kernel_calibration, passes untouched: the
 * generator's scales are used as before.
 */
#ifndef KVC_CALIBRATION_CHECK_H
#define KVC_CALIBRATION_CHECK_H

#include "runner.h"

/* Returns KVC_PASS, or the failure (also in r->outcome, r->message). */
kvc_outcome kvc_check_calibration(const kvc_case *c, const kvc_kernel *k,
                                  kvc_result *r);

#endif /* KVC_CALIBRATION_CHECK_H */
