/*
 * capabilities.c — libkvattn's ABI version and claim (kvattn.h, ABI v2):
 * everything, fp32 arithmetic, natural-log lse, fp32 output; the thread
 * count is not taken yet (one thread per call).
 */
#include "kvattn.h"

int kva_abi_version(void)
{
    return KVA_ABI_VERSION;
}

void kva_capabilities(kva_caps *caps)
{
    if (caps)
        kva_caps_everything(caps);
}
