/*
 * capabilities.c — libkvattn's ABI version and claim (kvattn.h, ABI v2):
 * everything (the block manager and the eviction policies too), fp32
 * arithmetic, natural-log lse, fp32 output, and the
 * thread count (kva_attn_params.num_threads; results are bitwise the same
 * for any count, attention_core.c).
 */
#include "kvattn.h"

int kva_abi_version(void)
{
    return KVA_ABI_VERSION;
}

void kva_capabilities(kva_caps *caps)
{
    if (caps) {
        kva_caps_everything(caps);
        caps->modes |= KVA_MODE_MANAGER | KVA_MODE_POLICY;
        caps->takes_threads = 1;
    }
}
