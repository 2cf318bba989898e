/* golden_variant.c — the `variant` object of invalid tests
 * (golden_variant.h): one field table, read and written. */
#include "golden_variant.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden_internal.h"

int kvcg_variant_rule(kvc_invalid_rule r)
{
    switch (r) {
    case KVC_INV_QSL_DECREASING:
    case KVC_INV_HEADS_RATIO:
    case KVC_INV_HEAD_DIM_0:
    case KVC_INV_SCALE_NONFINITE:
    case KVC_INV_SOFTCAP_NEGATIVE:
    case KVC_INV_WINDOW_BELOW:
    case KVC_INV_STRIDES_OVERLAP:
    case KVC_INV_FORMAT_UNKNOWN:
    case KVC_INV_STATIC_SCALE:
    case KVC_INV_NVFP4_HEAD_DIM:
        return 1;
    default:
        return 0;
    }
}

/* ---- the scalar fields, in the order they are written ------------------ */

typedef enum vkind { V_INT, V_I64, V_F32, V_DTYPE, V_KIND } vkind;

static const struct vfield {
    const char *key;
    size_t off;
    vkind kind;
} fields[] = {
    {"scale", offsetof(kvc_invalid, cfg.scale), V_F32},
    {"softcap", offsetof(kvc_invalid, cfg.softcap), V_F32},
    {"windowLeft", offsetof(kvc_invalid, cfg.window_left), V_INT},
    {"numQHeads", offsetof(kvc_invalid, cfg.num_q_heads), V_INT},
    {"numKvHeads", offsetof(kvc_invalid, cfg.num_kv_heads), V_INT},
    {"headDim", offsetof(kvc_invalid, cfg.head_dim), V_INT},
    {"cacheHeadDim", offsetof(kvc_invalid, cache_head_dim), V_INT},
    {"kvDtype", offsetof(kvc_invalid, dtype), V_DTYPE},
    {"kvScale", offsetof(kvc_invalid, kind), V_KIND},
    {"kScale", offsetof(kvc_invalid, k_scale), V_F32},
    {"vScale", offsetof(kvc_invalid, v_scale), V_F32},
    {"strideBlock", offsetof(kvc_invalid, stride_block), V_I64},
    {"strideSlot", offsetof(kvc_invalid, stride_slot), V_I64},
    {"strideHead", offsetof(kvc_invalid, stride_head), V_I64},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static size_t vsize(vkind k) { return k == V_I64 ? 8 : 4; }

static int field_differs(const kvc_invalid *a, const kvc_invalid *b,
                         const struct vfield *f)
{
    return memcmp((const char *)a + f->off, (const char *)b + f->off,
                  vsize(f->kind)) != 0;
}

/* The name of a known format code, or NULL (written as a number). */
static const char *code_name(vkind k, int code)
{
    if (k == V_DTYPE)
        return code >= 0 && code < KVC_KV_DTYPE_COUNT
                   ? kvc_kv_dtype_name((kvc_kv_dtype)code) : NULL;
    return code >= 0 && code < KVC_SCALE_KIND_COUNT
               ? kvc_scale_kind_name((kvc_scale_kind)code) : NULL;
}

/* ---- writing ------------------------------------------------------------- */

typedef struct vbuf {
    char *s;
    size_t len, cap;
} vbuf;

static void vput(vbuf *b, const char *fmt, ...)
{
    if (!b->s)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        free(b->s); /* sized for the largest object: cannot happen */
        b->s = NULL;
        return;
    }
    b->len += (size_t)n;
}

static void vkey(vbuf *b, int level, const char *key, int *first)
{
    vput(b, "%s%*s\"%s\": ", *first ? "" : ",\n", 2 * level, "", key);
    *first = 0;
}

static void vstring(vbuf *b, const char *x)
{
    vput(b, "\"");
    for (const unsigned char *p = (const unsigned char *)x; *p; p++) {
        if (*p == '"' || *p == '\\')
            vput(b, "\\%c", *p);
        else if (*p < 0x20)
            vput(b, "\\u%04x", *p);
        else
            vput(b, "%c", *p);
    }
    vput(b, "\"");
}

static void vscale(vbuf *b, float f)
{
    char t[32];
    kvcg_format_scale(f, t);
    vput(b, "\"%s\"", t);
}

static void vfield_text(vbuf *b, const kvc_invalid *inv, const struct vfield *f)
{
    const char *p = (const char *)inv + f->off;
    int i;
    int64_t l;
    float x;
    switch (f->kind) {
    case V_F32: memcpy(&x, p, 4); vscale(b, x); break;
    case V_I64: memcpy(&l, p, 8); vput(b, "%lld", (long long)l); break;
    case V_INT: memcpy(&i, p, 4); vput(b, "%d", i); break;
    default:
        memcpy(&i, p, 4);
        if (code_name(f->kind, i))
            vput(b, "\"%s\"", code_name(f->kind, i));
        else
            vput(b, "%d", i);
    }
}

char *kvcg_variant_text(const kvc_invalid *inv, const kvc_case *c, int level)
{
    if (!kvcg_variant_rule(inv->rule))
        return NULL;
    kvc_invalid base;
    kvc_invalid_init(c, &base);
    vbuf b = {malloc(8192), 0, 8192};
    int first = 1;
    vput(&b, "{\n");
    vkey(&b, level + 1, "rule", &first);
    vstring(&b, kvc_invalid_rule_name(inv->rule));
    vkey(&b, level + 1, "what", &first);
    vstring(&b, inv->what);
    for (size_t i = 0; i < NFIELDS; i++)
        if (field_differs(inv, &base, &fields[i])) {
            vkey(&b, level + 1, fields[i].key, &first);
            vfield_text(&b, inv, &fields[i]);
        }
    if (inv->head_scale_side) {
        vkey(&b, level + 1, "headScale", &first);
        vput(&b, "{\"side\": \"%s\", \"index\": %d, \"value\": ",
             inv->head_scale_side == 2 ? "v" : "k", inv->head_scale_index);
        vscale(&b, inv->head_scale_value);
        vput(&b, "}");
    }
    if (inv->qsl_index >= 0) {
        vkey(&b, level + 1, "queryStartLoc", &first);
        vput(&b, "{\"index\": %d, \"value\": %lld}", inv->qsl_index,
             (long long)inv->qsl_value);
    }
    vput(&b, "\n%*s}", 2 * level, "");
    return b.s;
}

/* ---- reading ------------------------------------------------------------- */

typedef struct vrd {
    char *field, *msg;
    size_t fieldlen, msglen;
} vrd;

static int vfail(vrd *r, const char *field, const char *fmt, ...)
{
    snprintf(r->field, r->fieldlen, "variant%s%s", field ? "." : "",
             field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, r->msglen, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *jtype(const cJSON *x)
{
    return cJSON_IsString(x) ? "a string" : cJSON_IsNumber(x) ? "a number"
           : cJSON_IsObject(x) ? "an object" : cJSON_IsArray(x) ? "an array"
           : cJSON_IsBool(x) ? "a boolean" : "null";
}

static int vint(vrd *r, const cJSON *x, const char *key, int64_t lo,
                int64_t hi, int64_t *out)
{
    if (!x)
        return vfail(r, key, "missing");
    if (!cJSON_IsNumber(x))
        return vfail(r, key, "expected an integer, found %s", jtype(x));
    double d = x->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < (double)lo || d > (double)hi)
        return vfail(r, key, "expected an integer in %lld..%lld, found %.17g",
                     (long long)lo, (long long)hi, d);
    *out = (int64_t)d;
    return 0;
}

static int vscale_parse(vrd *r, const cJSON *x, const char *key, float *out)
{
    if (!x)
        return vfail(r, key, "missing");
    if (!cJSON_IsString(x) || kvcg_parse_scale(x->valuestring, out) != 0)
        return vfail(r, key, "expected an fp32 value as a hexadecimal float, "
                     "\"nan\", \"inf\" or \"-inf\", found %s", jtype(x));
    return 0;
}

/* A format code: the name of a known one, a number for an unknown one. */
static int vcode(vrd *r, const cJSON *x, const struct vfield *f, int *out)
{
    if (cJSON_IsString(x)) {
        kvc_kv_dtype d;
        kvc_scale_kind k;
        if (f->kind == V_DTYPE ? kvc_kv_dtype_parse(x->valuestring, &d)
                               : kvc_scale_kind_parse(x->valuestring, &k))
            return vfail(r, f->key, "unknown name (an unknown code is written "
                         "as a number)");
        *out = f->kind == V_DTYPE ? (int)d : (int)k;
        return 0;
    }
    int64_t v;
    if (vint(r, x, f->key, INT_MIN, INT_MAX, &v) != 0)
        return -1;
    if (code_name(f->kind, (int)v))
        return vfail(r, f->key, "%lld is a known code: write its name \"%s\"",
                     (long long)v, code_name(f->kind, (int)v));
    *out = (int)v;
    return 0;
}

static int vscalar(vrd *r, const cJSON *x, const struct vfield *f,
                   const kvc_invalid *base, kvc_invalid *inv)
{
    char *p = (char *)inv + f->off;
    int64_t l = 0;
    int i = 0;
    float v;
    switch (f->kind) {
    case V_F32:
        if (vscale_parse(r, x, f->key, &v)) return -1;
        memcpy(p, &v, 4);
        break;
    case V_I64:
        if (vint(r, x, f->key, -KVCG_GOLDEN_MAX_INT, KVCG_GOLDEN_MAX_INT, &l))
            return -1;
        memcpy(p, &l, 8);
        break;
    case V_INT:
        if (vint(r, x, f->key, INT_MIN, INT_MAX, &l)) return -1;
        i = (int)l;
        memcpy(p, &i, 4);
        break;
    default:
        if (vcode(r, x, f, &i)) return -1;
        memcpy(p, &i, 4);
    }
    if (!field_differs(inv, base, f))
        return vfail(r, f->key, "equals the case's own value: a variant holds "
                     "only the values that differ");
    return 0;
}

/* Every key of o is one of keys[], none twice, and all are present. */
static int vkeys(vrd *r, const cJSON *o, const char *name,
                 const char *const *keys, int n)
{
    unsigned seen = 0;
    if (!cJSON_IsObject(o))
        return vfail(r, name, "expected an object, found %s", jtype(o));
    for (const cJSON *c = o->child; c; c = c->next) {
        int k = -1;
        for (int i = 0; i < n && c->string; i++)
            if (strcmp(c->string, keys[i]) == 0)
                k = i;
        if (k < 0 || seen >> k & 1u)
            return vfail(r, name, "%s key \"%.40s\"",
                         k < 0 ? "unknown" : "repeated",
                         c->string ? c->string : "?");
        seen |= 1u << k;
    }
    if (seen != (1u << n) - 1)
        return vfail(r, name, "expected the keys %s, %s%s%s", keys[0], keys[1],
                     n > 2 ? ", " : "", n > 2 ? keys[2] : "");
    return 0;
}

static int vhead_scale(vrd *r, const cJSON *o, const kvc_case *c,
                       kvc_invalid *inv)
{
    static const char *const keys[] = {"side", "index", "value"};
    if (vkeys(r, o, "headScale", keys, 3) != 0)
        return -1;
    if (c->prob.quant.kind != KVC_SCALE_HEAD)
        return vfail(r, "headScale", "only a kvScale \"attn_head\" case has "
                     "per-head scales");
    const cJSON *side = cJSON_GetObjectItemCaseSensitive(o, "side");
    if (!cJSON_IsString(side) || (strcmp(side->valuestring, "k") != 0 &&
                                  strcmp(side->valuestring, "v") != 0))
        return vfail(r, "headScale.side", "expected \"k\" or \"v\"");
    int64_t h;
    if (vint(r, cJSON_GetObjectItemCaseSensitive(o, "index"), "headScale.index",
             0, c->prob.cfg.num_kv_heads - 1, &h) ||
        vscale_parse(r, cJSON_GetObjectItemCaseSensitive(o, "value"),
                     "headScale.value", &inv->head_scale_value))
        return -1;
    inv->head_scale_side = side->valuestring[0] == 'v' ? 2 : 1;
    inv->head_scale_index = (int)h;
    const float *own = inv->head_scale_side == 2 ? c->prob.quant.v_head_scale
                                                 : c->prob.quant.k_head_scale;
    if (memcmp(&own[h], &inv->head_scale_value, sizeof(float)) == 0)
        return vfail(r, "headScale.value", "equals the case's own value");
    return 0;
}

static int vqsl(vrd *r, const cJSON *o, const kvc_case *c, kvc_invalid *inv)
{
    static const char *const keys[] = {"index", "value"};
    int64_t i, v;
    if (vkeys(r, o, "queryStartLoc", keys, 2) ||
        vint(r, cJSON_GetObjectItemCaseSensitive(o, "index"),
             "queryStartLoc.index", 0, c->prob.num_seqs, &i) ||
        vint(r, cJSON_GetObjectItemCaseSensitive(o, "value"),
             "queryStartLoc.value", -KVCG_GOLDEN_MAX_INT, KVCG_GOLDEN_MAX_INT,
             &v))
        return -1;
    if (v == c->prob.q_start[i])
        return vfail(r, "queryStartLoc.value", "equals the case's own value");
    inv->qsl_index = (int)i;
    inv->qsl_value = v;
    return 0;
}

static int vrule(vrd *r, const cJSON *x, const kvc_case *c, kvc_invalid *inv)
{
    const cJSON *rule = cJSON_GetObjectItemCaseSensitive(x, "rule");
    if (!cJSON_IsString(rule))
        return vfail(r, "rule", rule ? "expected a string, found %s"
                                     : "missing", jtype(rule));
    int found = 0;
    for (int i = 1; i < KVC_INV_COUNT; i++)
        if (strcmp(rule->valuestring, kvc_invalid_rule_name(i)) == 0)
            found = i;
    if (!found)
        return vfail(r, "rule", "unknown rule \"%.40s\"", rule->valuestring);
    if (!kvcg_variant_rule((kvc_invalid_rule)found))
        return vfail(r, "rule", "\"%s\" is broken in the test's own arrays, "
                     "not in a variant", rule->valuestring);
    int flag = kvc_invalid_rule_flag((kvc_invalid_rule)found);
    if (!(c->flags >> flag & 1u))
        return vfail(r, "rule", "the test's flags lack \"%s\", the flag of "
                     "rule \"%s\"", kvc_flag_name(flag), rule->valuestring);
    inv->rule = (kvc_invalid_rule)found;
    const cJSON *what = cJSON_GetObjectItemCaseSensitive(x, "what");
    if (!cJSON_IsString(what))
        return vfail(r, "what", what ? "expected a string, found %s"
                                     : "missing", jtype(what));
    if (strlen(what->valuestring) >= sizeof inv->what)
        return vfail(r, "what", "longer than %zu bytes", sizeof inv->what - 1);
    snprintf(inv->what, sizeof inv->what, "%s", what->valuestring);
    return 0;
}

/* ---- what a rule may change, and whether it is broken -------------------- */

#define F_HEAD_SCALE (1u << NFIELDS)
#define F_QSL (1u << (NFIELDS + 1))
#define F(i) (1u << (i)) /* fields[i] */

/* The keys a rule's variant may hold (bits of fields[], headScale, qsl). */
static unsigned rule_keys(kvc_invalid_rule r)
{
    switch (r) {
    case KVC_INV_SCALE_NONFINITE: return F(0);
    case KVC_INV_SOFTCAP_NEGATIVE: return F(1);
    case KVC_INV_WINDOW_BELOW: return F(2);
    case KVC_INV_HEADS_RATIO: return F(3) | F(4);
    case KVC_INV_HEAD_DIM_0: return F(5) | F(6);
    case KVC_INV_NVFP4_HEAD_DIM: return F(5) | F(6);
    case KVC_INV_FORMAT_UNKNOWN: return F(7) | F(8);
    case KVC_INV_STATIC_SCALE: return F(9) | F(10) | F_HEAD_SCALE;
    case KVC_INV_STRIDES_OVERLAP: return F(11) | F(12) | F(13);
    case KVC_INV_QSL_DECREASING: return F_QSL;
    default: return 0;
    }
}

static int bad_scale(float x) { return !(isfinite(x) && x > 0.0f); }

/* Whether the values handed over break rule r (kvattn.h's refusal rules);
 * overlapping strides are left to the runner (the rows' extent is the
 * case's, and the campaign's rule builds them so). */
static int rule_broken(const kvc_invalid *v, const kvc_case *c, unsigned keys)
{
    const kvc_config *g = &v->cfg;
    switch (v->rule) {
    case KVC_INV_SCALE_NONFINITE: return !isfinite(g->scale);
    case KVC_INV_SOFTCAP_NEGATIVE: return g->softcap < 0.0f;
    case KVC_INV_WINDOW_BELOW: return g->window_left < -1;
    case KVC_INV_HEADS_RATIO:
        return g->num_q_heads >= 1 && g->num_kv_heads >= 1 &&
               g->num_q_heads % g->num_kv_heads != 0;
    case KVC_INV_HEAD_DIM_0: return g->head_dim < 1 || v->cache_head_dim < 1;
    case KVC_INV_NVFP4_HEAD_DIM:
        return c->prob.quant.dtype == KVC_KV_NVFP4 && g->head_dim >= 1 &&
               g->head_dim == v->cache_head_dim && g->head_dim % 16 != 0;
    case KVC_INV_FORMAT_UNKNOWN:
        return v->dtype < 0 || v->dtype >= KVC_KV_DTYPE_COUNT || v->kind < 0 ||
               v->kind >= KVC_SCALE_KIND_COUNT ||
               !kvc_quant_kind_valid((kvc_kv_dtype)v->dtype,
                                     (kvc_scale_kind)v->kind);
    case KVC_INV_STATIC_SCALE:
        return (keys & F(9) && bad_scale(v->k_scale)) ||
               (keys & F(10) && bad_scale(v->v_scale)) ||
               (keys & F_HEAD_SCALE && bad_scale(v->head_scale_value));
    case KVC_INV_QSL_DECREASING: {
        int i = v->qsl_index, S = c->prob.num_seqs;
        return (i > 0 && v->qsl_value < c->prob.q_start[i - 1]) ||
               (i < S && v->qsl_value > c->prob.q_start[i + 1]);
    }
    default:
        return 1;
    }
}

static int check_rule(vrd *r, const kvc_invalid *v, const kvc_case *c,
                      unsigned keys)
{
    const char *name = kvc_invalid_rule_name(v->rule);
    unsigned stray = keys & ~rule_keys(v->rule);
    for (size_t i = 0; stray && i < NFIELDS + 2; i++)
        if (stray >> i & 1u)
            return vfail(r, i < NFIELDS ? fields[i].key
                            : i == NFIELDS ? "headScale" : "queryStartLoc",
                         "rule \"%s\" does not change this value", name);
    if (!rule_broken(v, c, keys))
        return vfail(r, NULL, "the values handed over do not break rule "
                     "\"%s\"", name);
    return 0;
}

/* The key's field, or NULL. */
static const struct vfield *field_of(const char *key)
{
    for (size_t i = 0; key && i < NFIELDS; i++)
        if (strcmp(key, fields[i].key) == 0)
            return &fields[i];
    return NULL;
}

int kvcg_variant_parse(const cJSON *x, const kvc_case *c, kvc_invalid *inv,
                       char *field, size_t fieldlen, char *msg, size_t msglen)
{
    vrd r = {field, msg, fieldlen, msglen};
    kvc_invalid base;
    kvc_invalid_init(c, &base);
    *inv = base;
    if (!cJSON_IsObject(x))
        return vfail(&r, NULL, "expected an object, found %s", jtype(x));
    if (vrule(&r, x, c, inv) != 0)
        return -1;
    unsigned seen = 0; /* bit i: fields[i]; NFIELDS: headScale; +1 qsl */
    int overrides = 0;
    for (const cJSON *k = x->child; k; k = k->next) {
        const struct vfield *f = field_of(k->string);
        int bit = f ? (int)(f - fields)
                  : k->string && strcmp(k->string, "headScale") == 0 ? (int)NFIELDS
                  : k->string && strcmp(k->string, "queryStartLoc") == 0
                      ? (int)NFIELDS + 1 : -1;
        if (bit < 0 && k->string && (strcmp(k->string, "rule") == 0 ||
                                     strcmp(k->string, "what") == 0)) {
            bit = (int)NFIELDS + 2 + (k->string[0] == 'w');
            if (seen >> bit & 1u)
                return vfail(&r, k->string, "key appears twice");
            seen |= 1u << bit;
            continue;
        }
        if (bit < 0)
            return vfail(&r, NULL, "unknown key \"%.40s\"",
                         k->string ? k->string : "?");
        if (seen >> bit & 1u)
            return vfail(&r, k->string, "key appears twice");
        seen |= 1u << bit;
        overrides++;
        if (f ? vscalar(&r, k, f, &base, inv)
              : bit == (int)NFIELDS ? vhead_scale(&r, k, c, inv)
                                    : vqsl(&r, k, c, inv))
            return -1;
    }
    if (!overrides)
        return vfail(&r, NULL, "no value differs from the case's own: a "
                     "variant must break one");
    return check_rule(&r, inv, c, seen & ((1u << (NFIELDS + 2)) - 1));
}
