/*
 * calibration.c — the oracle's calibration model (calibration.h): a plain
 * loop over the logical K/V and the written rules of kv_format.c.
 */
#include "calibration.h"

#include "kv_format.h"

#include <math.h>

float kvc_calib_amax(const kvc_problem *p, int which, int h0, int h1)
{
    if (!p || p->num_seqs < 0 || h0 < 0 || h1 > p->cfg.num_kv_heads || h0 >= h1)
        return 0.0f;
    const float *t = which ? p->v : p->k;
    const int H = p->cfg.num_kv_heads, D = p->cfg.head_dim;
    const int64_t rows = p->kv_start[p->num_seqs];
    if (!t)
        return 0.0f;
    float m = 0.0f;
    for (int64_t r = 0; r < rows; r++)
        for (int h = h0; h < h1; h++)
            for (int d = 0; d < D; d++) {
                float a = fabsf(t[(r * H + h) * (int64_t)D + d]);
                if (isfinite(a) && a > m) /* NaN and infinities ignored */
                    m = a;
            }
    return m;
}

float kvc_calib_expected_scale(kvc_kv_dtype dtype, float amax)
{
    switch (dtype) {
    case KVC_KV_FP8_E4M3:
    case KVC_KV_FP8_E5M2:
    case KVC_KV_INT8: return kvc_calib_scale(dtype, amax);
    case KVC_KV_NVFP4: return kvc_calib_nvfp4_global(amax);
    default: return NAN;
    }
}
