/*
 * calibration_check.c — the kernel's calibration of a case's static scales
 * against the oracle's (calibration_check.h).
 */
#include "calibration_check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../oracle/calibration.h"
#include "guard.h"

static kvc_outcome fail(kvc_result *r, kvc_outcome o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    return r->outcome = o;
}

static int same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* A guard violation after a kernel call, as an outcome (KVC_PASS: none). */
static kvc_outcome guard_outcome(const kvc_guard_set *g, const char *what,
                                 kvc_result *r)
{
    char msg[256];
    kvc_guard_violation v = kvc_guard_check(g, msg, sizeof msg);
    if (v == KVC_GUARD_OK)
        return KVC_PASS;
    return fail(r, v == KVC_GUARD_BOUNDS ? KVC_FAIL_BOUNDS : KVC_FAIL_INPUT,
                "%s: %s", what, msg);
}

/* The observer of tensor `which` fed the case's K or V, one sequence per
 * call; *obs and head_amax (guarded, in g) hold the result. */
static kvc_outcome observe(const kvc_case *c, const kvc_kernel *k, int which,
                           kvc_guard_set *g, kva_observer **obs,
                           kvc_result *r)
{
    const kvc_problem *p = &c->prob;
    const int H = p->cfg.num_kv_heads, D = p->cfg.head_dim;
    const char *T = which ? "V" : "K";
    int64_t n = p->kv_start[p->num_seqs] * H * (int64_t)D;
    const float *x = kvc_guard_input(g, which ? "calibration V" : "calibration K",
                                     which ? p->v : p->k,
                                     (size_t)n * sizeof(float), sizeof(float));
    float *ha = kvc_guard_alloc(g, "observer head_amax", KVC_GUARD_ROLE_OUTPUT,
                                (size_t)H * sizeof(float), sizeof(float));
    kva_observer *o = kvc_guard_alloc(g, "observer", KVC_GUARD_ROLE_OUTPUT,
                                      sizeof *o, sizeof *o);
    if (!x || !ha || !o)
        return fail(r, KVC_FAIL_SETUP, "calibration: out of memory");
    o->num_kv_heads = H;
    o->head_dim = D;
    o->head_amax = ha;
    for (int s = 0; s < p->num_seqs; s++) {
        kva_error e;
        memset(&e, 0, sizeof e);
        kva_status st = k->observer_update(
            o, x + p->kv_start[s] * H * (int64_t)D, kvc_kv_len(p, s), &e);
        kvc_outcome go = guard_outcome(g, "kva_observer_update", r);
        if (go != KVC_PASS)
            return go;
        if (st != KVA_OK)
            return fail(r, KVC_FAIL_KERNEL,
                        "calibration: kva_observer_update refused %s of "
                        "sequence %d: %s: %s", T, s, kva_status_name(st), e.msg);
    }
    if (o->head_amax != ha)
        return fail(r, KVC_FAIL_CALIBRATION, "the %s observer's "
                    "head_amax pointer was changed", T);
    *obs = o;
    return KVC_PASS;
}

/* The kernel's amax (head -1: the tensor's) against the oracle's. */
static kvc_outcome check_amax(const kvc_problem *p, int which, int head,
                              float got, kvc_result *r)
{
    int H = p->cfg.num_kv_heads;
    float want = head < 0 ? kvc_calib_amax(p, which, 0, H)
                          : kvc_calib_amax(p, which, head, head + 1);
    if (same_bits(got, want))
        return KVC_PASS;
    char where[32] = "";
    if (head >= 0)
        snprintf(where, sizeof where, " of head %d", head);
    return fail(r, KVC_FAIL_CALIBRATION,
                "%s amax%s: kernel %.9g (%a), oracle %.9g (%a)",
                which ? "V" : "K", where, got, got, want, want);
}

/* The kernel's scale from its own amax against the oracle's (and the
 * case's, which must be the oracle's). */
static kvc_outcome check_scale(const kvc_case *c, const kvc_kernel *k,
                               int which, int head, float amax,
                               kvc_guard_set *g, kvc_result *r)
{
    const kvc_kv_quant *q = &c->prob.quant;
    float *s = kvc_guard_alloc(g, "calibration scale", KVC_GUARD_ROLE_OUTPUT,
                               sizeof(float), sizeof(float));
    if (!s)
        return fail(r, KVC_FAIL_SETUP, "calibration: out of memory");
    kva_error e;
    memset(&e, 0, sizeof e);
    kva_status st = k->scale_from_amax((kva_dtype)q->dtype, amax, s, &e);
    kvc_outcome go = guard_outcome(g, "kva_scale_from_amax", r);
    if (go != KVC_PASS)
        return go;
    char where[32] = "";
    if (head >= 0)
        snprintf(where, sizeof where, " for head %d", head);
    const char *T = which ? "V" : "K";
    if (st != KVA_OK)
        return fail(r, KVC_FAIL_KERNEL, "calibration: kva_scale_from_amax "
                    "refused the %s amax %.9g%s: %s: %s", T, amax, where,
                    kva_status_name(st), e.msg);
    float want = kvc_calib_expected_scale(q->dtype, amax);
    if (!same_bits(*s, want))
        return fail(r, KVC_FAIL_CALIBRATION,
                    "%s scale%s: kernel %.9g (%a), oracle %.9g "
                    "(%a) from the kernel's amax %.9g", T, where, *s, *s,
                    want, want, amax);
    float used = head >= 0 ? (which ? q->v_head_scale[head] : q->k_head_scale[head])
                           : (which ? q->v_scale : q->k_scale);
    if (!same_bits(used, want))
        return fail(r, KVC_FAIL_SETUP, "calibration: the case's %s scale%s "
                    "%.9g is not the calibrated %.9g", T, where, used, want);
    return KVC_PASS;
}

/* Observer, amax and scales of one tensor. */
static kvc_outcome check_tensor(const kvc_case *c, const kvc_kernel *k,
                                int which, kvc_guard_set *g, kvc_result *r)
{
    const kvc_problem *p = &c->prob;
    kva_observer *o = NULL;
    kvc_outcome out = observe(c, k, which, g, &o, r);
    if (out != KVC_PASS || (out = check_amax(p, which, -1, o->amax, r)) != KVC_PASS)
        return out;
    for (int h = 0; h < p->cfg.num_kv_heads; h++)
        if ((out = check_amax(p, which, h, o->head_amax[h], r)) != KVC_PASS)
            return out;
    if (p->quant.kind != KVC_SCALE_HEAD)
        return check_scale(c, k, which, -1, o->amax, g, r);
    for (int h = 0; h < p->cfg.num_kv_heads; h++)
        if ((out = check_scale(c, k, which, h, o->head_amax[h], g, r)) != KVC_PASS)
            return out;
    return KVC_PASS;
}

kvc_outcome kvc_check_calibration(const kvc_case *c, const kvc_kernel *k,
                                  kvc_result *r)
{
    if (!c->spec.kernel_calibration || !k->observer_update || !k->scale_from_amax)
        return KVC_PASS;
    kvc_scale_kind kind = c->prob.quant.kind;
    if (kind != KVC_SCALE_TENSOR && kind != KVC_SCALE_HEAD && kind != KVC_SCALE_GROUP)
        return KVC_PASS; /* no static scale to calibrate */
    kvc_guard_set g;
    kvc_guard_init(&g);
    kvc_outcome o = check_tensor(c, k, 0, &g, r);
    if (o == KVC_PASS)
        o = check_tensor(c, k, 1, &g, r);
    kvc_guard_free(&g);
    return o;
}
