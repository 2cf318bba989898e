/*
 * calibration.c — static scales for reduced-precision caches: the min-max
 * observer (kva_observer_update) and the symmetric min-max scale rule of
 * compressed-tensors (kva_scale_from_amax). docs/kv-formats.md,
 * "Calibration", is the contract.
 *
 * The observer's state belongs to the caller (no hidden state). An update
 * validates everything (the observer, the sizes, the state it carries)
 * before it changes anything, so a refused call leaves the state as it was.
 */
#include "kva_internal.h"

#include <inttypes.h>
#include <math.h>

/* An amax in the state must be finite and >= 0 (!(x >= 0) catches NaN). */
static int amax_ok(float x)
{
    return isfinite(x) && x >= 0.0f;
}

kva_status kva_observer_update(kva_observer *o, const float *x,
                               int64_t num_tokens, kva_error *err)
{
    kva_clear_error(err);
    if (o == NULL)
        return kva_fail(err, KVA_ERR_NULL, "observer is NULL");
    if (num_tokens < 0)
        return kva_fail(err, KVA_ERR_LENGTH,
                        "num_tokens %" PRId64 " is negative", num_tokens);
    if (num_tokens > 0 && x == NULL)
        return kva_fail(err, KVA_ERR_NULL,
                        "x is NULL but num_tokens is %" PRId64, num_tokens);
    if (o->num_kv_heads < 1)
        return kva_fail(err, KVA_ERR_SHAPE,
                        "observer num_kv_heads %d must be >= 1",
                        o->num_kv_heads);
    if (o->head_dim < 1)
        return kva_fail(err, KVA_ERR_SHAPE,
                        "observer head_dim %d must be >= 1", o->head_dim);
    const int H = o->num_kv_heads, D = o->head_dim;
    int64_t n;
    if (!kva_mul_nonneg(num_tokens, (int64_t)H * D, &n))
        return kva_fail(err, KVA_ERR_LENGTH,
                        "num_tokens %" PRId64
                        " x %d heads x %d dims overflows int64",
                        num_tokens, H, D);
    if (!amax_ok(o->amax))
        return kva_fail(err, KVA_ERR_PARAM,
                        "observer amax %g must be finite and >= 0 (start "
                        "at 0)",
                        (double)o->amax);
    if (o->head_amax != NULL)
        for (int h = 0; h < H; h++)
            if (!amax_ok(o->head_amax[h]))
                return kva_fail(err, KVA_ERR_PARAM,
                                "observer head_amax[%d] %g must be finite "
                                "and >= 0 (start at 0)",
                                h, (double)o->head_amax[h]);

    /* Nothing can fail from here on. */
    float amax = o->amax;
    for (int64_t t = 0; t < num_tokens; t++)
        for (int h = 0; h < H; h++) {
            const float *row = x + (t * H + h) * D;
            float hmax = o->head_amax != NULL ? o->head_amax[h] : 0.0f;
            for (int d = 0; d < D; d++) {
                const float a = fabsf(row[d]);
                /* NaN compares false; infinities are skipped */
                if (a > hmax && a != INFINITY)
                    hmax = a;
            }
            if (o->head_amax != NULL)
                o->head_amax[h] = hmax;
            if (hmax > amax)
                amax = hmax;
        }
    o->amax = amax;
    return KVA_OK;
}

kva_status kva_scale_from_amax(kva_dtype dtype, float amax, float *scale,
                               kva_error *err)
{
    kva_clear_error(err);
    if (scale == NULL)
        return kva_fail(err, KVA_ERR_NULL, "scale is NULL");
    float q; /* (qmax - qmin) / 2 */
    switch (dtype) {
    case KVA_DTYPE_FP8_E4M3: q = 448.0f; break;
    case KVA_DTYPE_FP8_E5M2: q = 57344.0f; break;
    case KVA_DTYPE_INT8: q = 127.5f; break;
    case KVA_DTYPE_NVFP4: q = 0.0f; break; /* its own rule below */
    case KVA_DTYPE_F32:
    case KVA_DTYPE_F16:
    case KVA_DTYPE_BF16:
        return kva_fail(err, KVA_ERR_FORMAT,
                        "dtype %s takes no static scale",
                        kva_dtype_name(dtype));
    default:
        return kva_fail(err, KVA_ERR_FORMAT, "dtype %d is unknown",
                        (int)dtype);
    }
    if (!amax_ok(amax))
        return kva_fail(err, KVA_ERR_PARAM,
                        "amax %g must be finite and >= 0", (double)amax);

    if (dtype == KVA_DTYPE_NVFP4) {
        /* global scale g = 448 * 6 / amax, amax floored at 2^-23 */
        const float a = amax < 0x1p-23f ? 0x1p-23f : amax;
        *scale = 2688.0f / a;
        return KVA_OK;
    }
    const float s = amax / q;
    *scale = s == 0.0f ? 0x1p-23f : s;
    return KVA_OK;
}
