/*
 * cache_lib.c — binding a library's block manager and eviction policies
 * (cache_lib.h).
 */
#include "cache_lib.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* One symbol into *fnp (the function-pointer bits, as kernel_lib.c does);
 * 0, or -1 when absent. */
static int sym(void *h, const char *name, void *fnp, size_t size)
{
    dlerror();
    void *p = dlsym(h, name);
    if (dlerror() || !p)
        return -1;
    memcpy(fnp, &p, size);
    return 0;
}

#define BIND(h, name, field) sym(h, name, &(field), sizeof(field))

static int bind_manager(void *h, kvc_bm_impl *bm, const char **missing)
{
    const char *names[] = {"kva_bm_bytes", "kva_bm_init", "kva_bm_append",
                           "kva_bm_fork", "kva_bm_rollback", "kva_bm_free",
                           "kva_bm_seq", "kva_bm_ref_count", "kva_bm_num_free"};
    int bad[9] = {BIND(h, names[0], bm->bytes), BIND(h, names[1], bm->init),
                  BIND(h, names[2], bm->append), BIND(h, names[3], bm->fork),
                  BIND(h, names[4], bm->rollback), BIND(h, names[5], bm->free_seq),
                  BIND(h, names[6], bm->seq), BIND(h, names[7], bm->ref_count),
                  BIND(h, names[8], bm->num_free)};
    for (int i = 0; i < 9; i++)
        if (bad[i]) {
            *missing = names[i];
            return -1;
        }
    return 0;
}

static int bind_policy(void *h, kvc_policy_attn_impl *pol, const char **missing)
{
    const char *names[] = {"kva_policy_bytes", "kva_policy_init",
                           "kva_policy_append", "kva_policy_observe",
                           "kva_policy_slots", "kva_cache_write_heads",
                           "kva_policy_attention"};
    int bad[7] = {BIND(h, names[0], pol->policy.bytes),
                  BIND(h, names[1], pol->policy.init),
                  BIND(h, names[2], pol->policy.append),
                  BIND(h, names[3], pol->policy.observe),
                  BIND(h, names[4], pol->policy.slots),
                  BIND(h, names[5], pol->write_heads),
                  BIND(h, names[6], pol->attention)};
    for (int i = 0; i < 7; i++)
        if (bad[i]) {
            *missing = names[i];
            return -1;
        }
    return 0;
}

int kvc_cache_lib_bind(void *handle, const char *path, uint32_t claimed,
                       int abi1, kvc_bm_impl *bm, kvc_policy_attn_impl *pol,
                       char *err, size_t errlen)
{
    const char *missing = NULL;
    int got = 0;
    memset(bm, 0, sizeof *bm);
    memset(pol, 0, sizeof *pol);
    bm->name = pol->policy.name = path;
    if (abi1 || (claimed & KVA_MODE_MANAGER)) {
        if (bind_manager(handle, bm, &missing) == 0)
            got |= KVA_MODE_MANAGER;
        else if (!abi1)
            goto fail;
    }
    if (abi1 || (claimed & KVA_MODE_POLICY)) {
        if (bind_policy(handle, pol, &missing) == 0)
            got |= KVA_MODE_POLICY;
        else if (!abi1)
            goto fail;
    }
    return got;
fail:
    snprintf(err, errlen, "%s: claims %s but does not export %s", path,
             (claimed & KVA_MODE_MANAGER) && bm->num_free == NULL
                 ? "a block manager (KVA_MODE_MANAGER)"
                 : "eviction policies (KVA_MODE_POLICY)", missing);
    return -1;
}
