/*
 * kernel_lib.h — a kernel author's own kernel, checked through the C ABI of
 * kernels/kvattn.h: a shared library that exports kva_cache_write,
 * kva_paged_attention, kva_blocked_attention and kva_qeff_to_general with
 * the header's signatures and contracts, loaded at run time
 * (`kvcheck ... --kernel-lib PATH`). The in-tree libkvattn is the default.
 */
#ifndef KVC_KERNEL_LIB_H
#define KVC_KERNEL_LIB_H

#include <stddef.h>

#include "runner.h"

/* Load the library at path (RTLD_NOW | RTLD_LOCAL: its symbols never mix
 * with the in-tree kernel's) and fill *k, named after the path. Returns 0,
 * or -1 with a message naming the library and what is missing (for a path
 * without a slash, a hint that dlopen searched the library path, not the
 * current directory). */
int kvc_kernel_load(const char *path, kvc_kernel *k, void **handle,
                    char *err, size_t errlen);

/* Close a library loaded by kvc_kernel_load (NULL is fine). */
void kvc_kernel_unload(void *handle);

#endif /* KVC_KERNEL_LIB_H */
