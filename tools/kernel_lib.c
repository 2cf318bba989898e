/* kernel_lib.c — load a kernel library through the kvattn.h C ABI. */
#include "kernel_lib.h"

#include "claim.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* dlsym returns void *; the C ABI is a function pointer of the header's
 * type. Copying the bits is the portable spelling POSIX blesses. */
static int bind(void *h, const char *name, void *fnp, size_t size,
                const char *path, char *err, size_t errlen)
{
    dlerror();
    void *sym = dlsym(h, name);
    const char *e = dlerror();
    if (e || !sym) {
        snprintf(err, errlen, "%s: does not export %s, which its claim "
                 "needs (%s)", path, name, e ? e : "null symbol");
        return -1;
    }
    memcpy(fnp, &sym, size);
    return 0;
}

/* An optional symbol: NULL when absent. */
static void *optional(void *h, const char *name)
{
    dlerror();
    void *sym = dlsym(h, name);
    return dlerror() ? NULL : sym;
}

/* An ABI 1 library claims everything its entry points serve: the modes
 * and the cache write whose functions it exports (a paged-only library is
 * checked as one, not refused). */
static int abi1_caps(void *h, const char *path, kva_caps *c, char *err,
                     size_t errlen)
{
    int paged = optional(h, "kva_paged_attention") != NULL;
    kva_caps_everything(c);
    c->modes = 0;
    if (paged)
        c->modes |= KVA_MODE_PAGED;
    if (optional(h, "kva_blocked_attention"))
        c->modes |= KVA_MODE_BLOCKED;
    if (paged && optional(h, "kva_qeff_to_general"))
        c->modes |= KVA_MODE_QEFF;
    if (!optional(h, "kva_cache_write"))
        c->features &= ~(uint32_t)KVA_FEATURE_CACHE_WRITE;
    /* the cache's other half, when every entry point of it is there
     * (cache_lib.c binds them; one missing leaves the half unclaimed) */
    if (optional(h, "kva_bm_append") && optional(h, "kva_bm_num_free"))
        c->modes |= KVA_MODE_MANAGER;
    if (optional(h, "kva_policy_attention") && optional(h, "kva_cache_write_heads"))
        c->modes |= KVA_MODE_POLICY;
    if (c->modes == 0) {
        snprintf(err, errlen, "%s: exports neither kva_paged_attention nor "
                 "kva_blocked_attention (and no kva_capabilities): nothing "
                 "to check", path);
        return -1;
    }
    return 0;
}

/* The library's claim: kva_capabilities when it exports it, checked as
 * untrusted data; what its entry points serve (ABI 1) otherwise. */
static int read_caps(void *h, const char *path, kvc_kernel *k, char *err,
                     size_t errlen)
{
    void *ver = optional(h, "kva_abi_version");
    void *cap = optional(h, "kva_capabilities");
    k->caps_set = 1;
    if (!cap)
        return abi1_caps(h, path, &k->caps, err, errlen);
    int (*version)(void) = NULL;
    void (*capabilities)(kva_caps *) = NULL;
    memcpy(&capabilities, &cap, sizeof capabilities);
    if (ver) {
        memcpy(&version, &ver, sizeof version);
        int v = version();
        if (v < 2) {
            snprintf(err, errlen, "%s: exports kva_capabilities but "
                     "kva_abi_version() says %d (capabilities are ABI 2)",
                     path, v);
            return -1;
        }
    }
    memset(&k->caps, 0, sizeof k->caps);
    capabilities(&k->caps);
    char why[320];
    if (kvc_caps_check(&k->caps, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s: %s", path, why);
        return -1;
    }
    return 0;
}

/* Bind the entry points the claim needs; the others are bound when
 * present (a claim-everything library must have all four). */
static int bind_entry_points(void *h, const char *path, kvc_kernel *k,
                             char *err, size_t errlen)
{
    const kva_caps *c = &k->caps;
    struct {
        const char *name;
        void *fnp;
        size_t size;
        int needed;
    } eps[] = {
        /* the in-place write serves attention cases: a library claiming
         * only the cache's other half (a manager) needs none */
        {"kva_cache_write", &k->cache_write, sizeof k->cache_write,
         (c->features & KVA_FEATURE_CACHE_WRITE) != 0 &&
             (c->modes & KVA_MODE_ALL) != 0},
        {"kva_paged_attention", &k->paged_attention, sizeof k->paged_attention,
         (c->modes & (KVA_MODE_PAGED | KVA_MODE_QEFF)) != 0},
        {"kva_blocked_attention", &k->blocked_attention,
         sizeof k->blocked_attention, (c->modes & KVA_MODE_BLOCKED) != 0},
        {"kva_qeff_to_general", &k->qeff_to_general, sizeof k->qeff_to_general,
         (c->modes & KVA_MODE_QEFF) != 0},
        {"kva_merge_states", &k->merge_states, sizeof k->merge_states, 0},
        {"kva_observer_update", &k->observer_update,
         sizeof k->observer_update, 0},
        {"kva_scale_from_amax", &k->scale_from_amax,
         sizeof k->scale_from_amax, 0},
    };
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
        if (eps[i].needed) {
            if (bind(h, eps[i].name, eps[i].fnp, eps[i].size, path, err,
                     errlen) != 0)
                return -1;
            continue;
        }
        void *sym = optional(h, eps[i].name);
        memcpy(eps[i].fnp, &sym, eps[i].size);
    }
    /* calibration is checked with both entry points or not at all */
    if (!k->observer_update || !k->scale_from_amax)
        k->observer_update = NULL, k->scale_from_amax = NULL;
    return 0;
}

int kvc_kernel_load(const char *path, kvc_kernel *k, void **handle,
                    char *err, size_t errlen)
{
    memset(k, 0, sizeof *k);
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*handle) {
        /* dlopen searches a bare name in the library path, never in the
         * current directory: the usual surprise of `--kernel-lib lib.so`. */
        int bare = strchr(path, '/') == NULL;
        snprintf(err, errlen, "cannot load kernel library %s: %s%s%s%s", path,
                 dlerror(), bare ? " (did you mean ./" : "", bare ? path : "",
                 bare ? "? a name without a slash is searched in the "
                        "system's library path)" : "");
        return -1;
    }
    k->name = path;
    if (read_caps(*handle, path, k, err, errlen) != 0 ||
        bind_entry_points(*handle, path, k, err, errlen) != 0) {
        dlclose(*handle);
        *handle = NULL;
        return -1;
    }
    return 0;
}

void kvc_kernel_unload(void *handle)
{
    if (handle)
        dlclose(handle);
}

int kvc_worker_kernel_load(kvc_worker_kernel *wk, char *err, size_t errlen)
{
    if (wk->k && wk->k != &wk->table)
        wk->table = *wk->k; /* a given table, run with the claim below */
    else if (!wk->k &&
             kvc_kernel_load(wk->path, &wk->table, &wk->handle, err, errlen) != 0)
        return -1;
    wk->k = &wk->table;
    if (wk->claim) {
        wk->table.caps = *wk->claim;
        wk->table.caps_set = 1;
    }
    wk->table.threads = wk->threads;
    return 0;
}

void kvc_worker_kernel_release(kvc_worker_kernel *wk)
{
    kvc_kernel_unload(wk->handle);
    wk->handle = NULL;
}
