/*
 * manager_only_lib.c — a library that claims only the block manager
 * (KVA_MODE_MANAGER): libkvattn's kva_bm_* and nothing else, built twice
 * by the Makefile, as is and with mutant 38 (copy on write skipped), so
 * tests/test_stateful.c runs a campaign over a manager-only claim.
 */
#include "../kernels/kvattn.h"

KVA_API int kva_abi_version(void)
{
    return KVA_ABI_VERSION;
}

KVA_API void kva_capabilities(kva_caps *caps)
{
    kva_caps_everything(caps);
    caps->modes = KVA_MODE_MANAGER;
}
