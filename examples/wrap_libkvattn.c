/*
 * wrap_libkvattn.c — an example plugin that wraps another kernel library:
 * every kvattn.h entry point is forwarded to the in-tree libkvattn.so, and
 * the claim is libkvattn's own (everything). It is the pattern an engine
 * author follows to put their kernel behind the kvattn.h ABI: replace the
 * forwarding calls by calls into the engine's kernel.
 *
 * How the wrapped library is found, and why this way. The plugin exports
 * the very names libkvattn exports (kva_paged_attention, ...). Linking the
 * plugin against libkvattn.so would make each forwarding call resolve to
 * the first definition in the process's lookup scope, which can be the
 * plugin itself (infinite recursion) or whatever copy the host program
 * carries. So the plugin does not link against it: when it is loaded (a
 * constructor, run inside the host's dlopen, so a relative path still
 * resolves against the same working directory), it finds its own file with
 * dladdr, dlopens "<directory of this plugin>/../libkvattn.so" with
 * RTLD_NOW | RTLD_LOCAL (its symbols never enter the global scope, so they
 * cannot interpose on anyone) and takes every function with dlsym on that
 * handle (dlsym on a handle searches that library, never the plugin). If the
 * library cannot be loaded, or lacks a function, every entry point that
 * returns a status returns KVA_ERR_UNSUPPORTED with a message saying why;
 * nothing aborts.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "../kernels/kvattn.h"

#define WRAPPED "libkvattn.so"

/* The wrapped library's functions, bound once at load time. */
static struct {
    void *handle;
    char why[512];  /* why it is not loaded ("" when it is) */
    const char *(*status_name)(kva_status);
    kva_status (*cache_write)(const kva_paged_cache *, const float *,
                              const float *, const int64_t *, int64_t,
                              kva_error *);
    kva_status (*paged)(const kva_attn_params *, const kva_paged_cache *,
                        const kva_paged_batch *, const float *, int64_t,
                        float *, float *, kva_error *);
    kva_status (*blocked)(const kva_attn_params *, const kva_blocked_cache *,
                          int, int, const int64_t *, const int *,
                          const uint8_t *const *, const float *, int64_t,
                          float *, float *, kva_error *);
    kva_status (*qeff)(const kva_qeff_inputs *, kva_general_inputs *,
                       kva_error *);
    kva_status (*observer_update)(kva_observer *, const float *, int64_t,
                                  kva_error *);
    kva_status (*scale_from_amax)(kva_dtype, float, float *, kva_error *);
    int (*abi_version)(void);
    void (*capabilities)(kva_caps *);
} lib;

/* dlsym returns void *; copying its bits into a function pointer is the
 * spelling POSIX blesses. */
static void bind_fn(const char *name, void *fnp, size_t size)
{
    void *sym = dlsym(lib.handle, name);
    if (sym)
        memcpy(fnp, &sym, size);
}
#define BIND(field, name) bind_fn(name, &lib.field, sizeof lib.field)

__attribute__((constructor)) static void wrap_load(void)
{
    Dl_info self;
    if (!dladdr((void *)&lib, &self) || !self.dli_fname) {
        snprintf(lib.why, sizeof lib.why, "dladdr cannot locate the plugin");
        return;
    }
    char path[4096];
    const char *slash = strrchr(self.dli_fname, '/');
    int dirlen = slash ? (int)(slash - self.dli_fname) : 1;
    const char *dir = slash ? self.dli_fname : ".";
    if (snprintf(path, sizeof path, "%.*s/../" WRAPPED, dirlen, dir) >=
        (int)sizeof path) {
        snprintf(lib.why, sizeof lib.why, "plugin path too long");
        return;
    }
    lib.handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib.handle) {
        snprintf(lib.why, sizeof lib.why, "cannot load the wrapped library: %s",
                 dlerror()); /* dlerror names the path */
        return;
    }
    BIND(status_name, "kva_status_name");
    BIND(cache_write, "kva_cache_write");
    BIND(paged, "kva_paged_attention");
    BIND(blocked, "kva_blocked_attention");
    BIND(qeff, "kva_qeff_to_general");
    BIND(observer_update, "kva_observer_update");
    BIND(scale_from_amax, "kva_scale_from_amax");
    BIND(abi_version, "kva_abi_version");   /* optional (ABI 1 lacks it) */
    BIND(capabilities, "kva_capabilities"); /* optional */
}

__attribute__((destructor)) static void wrap_unload(void)
{
    if (lib.handle)
        dlclose(lib.handle);
    lib.handle = NULL;
}

/* The answer of an entry point whose function is not available. */
static kva_status missing(const char *fn, kva_error *err)
{
    if (err) {
        err->status = KVA_ERR_UNSUPPORTED;
        snprintf(err->msg, sizeof err->msg, "libwrap_kvattn: %s: %.200s", fn,
                 lib.why[0] ? lib.why : "the wrapped library lacks it");
    }
    return KVA_ERR_UNSUPPORTED;
}

KVA_API const char *kva_status_name(kva_status s)
{
    return lib.status_name ? lib.status_name(s) : "KVA_ERR_?";
}

KVA_API kva_status kva_cache_write(const kva_paged_cache *cache, const float *k,
                                   const float *v, const int64_t *slot_mapping,
                                   int64_t num_tokens, kva_error *err)
{
    if (!lib.cache_write)
        return missing("kva_cache_write", err);
    return lib.cache_write(cache, k, v, slot_mapping, num_tokens, err);
}

KVA_API kva_status kva_paged_attention(const kva_attn_params *params,
                                       const kva_paged_cache *cache,
                                       const kva_paged_batch *batch,
                                       const float *q, int64_t num_tokens,
                                       float *out, float *lse, kva_error *err)
{
    if (!lib.paged)
        return missing("kva_paged_attention", err);
    return lib.paged(params, cache, batch, q, num_tokens, out, lse, err);
}

KVA_API kva_status kva_blocked_attention(
    const kva_attn_params *params, const kva_blocked_cache *cache,
    int num_kv_blocks, int num_seqs, const int64_t *query_start_loc,
    const int *seq_lens, const uint8_t *const *masks, const float *q,
    int64_t num_tokens, float *out, float *lse, kva_error *err)
{
    if (!lib.blocked)
        return missing("kva_blocked_attention", err);
    return lib.blocked(params, cache, num_kv_blocks, num_seqs, query_start_loc,
                       seq_lens, masks, q, num_tokens, out, lse, err);
}

KVA_API kva_status kva_qeff_to_general(const kva_qeff_inputs *in,
                                       kva_general_inputs *outp, kva_error *err)
{
    if (!lib.qeff)
        return missing("kva_qeff_to_general", err);
    return lib.qeff(in, outp, err);
}

KVA_API kva_status kva_observer_update(kva_observer *o, const float *x,
                                       int64_t num_tokens, kva_error *err)
{
    if (!lib.observer_update)
        return missing("kva_observer_update", err);
    return lib.observer_update(o, x, num_tokens, err);
}

KVA_API kva_status kva_scale_from_amax(kva_dtype dtype, float amax,
                                       float *scale, kva_error *err)
{
    if (!lib.scale_from_amax)
        return missing("kva_scale_from_amax", err);
    return lib.scale_from_amax(dtype, amax, scale, err);
}

/* The wrapped library's version; this header's when it has none to give. */
KVA_API int kva_abi_version(void)
{
    return lib.abi_version ? lib.abi_version() : KVA_ABI_VERSION;
}

/* The wrapped library's claim. One without kva_capabilities (ABI 1), or
 * none loaded, claims everything: then every call fails loudly with
 * KVA_ERR_UNSUPPORTED instead of the checker skipping everything silently. */
KVA_API void kva_capabilities(kva_caps *caps)
{
    if (lib.capabilities)
        lib.capabilities(caps);
    else
        kva_caps_everything(caps);
    /* this wrapper forwards attention only: not the wrapped library's
     * block manager or eviction policies (KVA_MODE_MANAGER, _POLICY) */
    caps->modes &= KVA_MODE_ALL;
}
