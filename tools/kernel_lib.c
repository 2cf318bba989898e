/* kernel_lib.c — load a kernel library through the kvattn.h C ABI. */
#include "kernel_lib.h"

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
        snprintf(err, errlen, "%s: does not export %s (%s)", path, name,
                 e ? e : "null symbol");
        return -1;
    }
    memcpy(fnp, &sym, size);
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
    if (bind(*handle, "kva_cache_write", &k->cache_write,
             sizeof k->cache_write, path, err, errlen) ||
        bind(*handle, "kva_paged_attention", &k->paged_attention,
             sizeof k->paged_attention, path, err, errlen) ||
        bind(*handle, "kva_blocked_attention", &k->blocked_attention,
             sizeof k->blocked_attention, path, err, errlen) ||
        bind(*handle, "kva_qeff_to_general", &k->qeff_to_general,
             sizeof k->qeff_to_general, path, err, errlen)) {
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
    if (wk->k)
        return 0;
    if (kvc_kernel_load(wk->path, &wk->table, &wk->handle, err, errlen) != 0)
        return -1;
    wk->k = &wk->table;
    return 0;
}

void kvc_worker_kernel_release(kvc_worker_kernel *wk)
{
    kvc_kernel_unload(wk->handle);
    wk->handle = NULL;
}
