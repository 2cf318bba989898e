/*
 * kernel_lib.h — a kernel author's own kernel, checked through the C ABI of
 * kernels/kvattn.h: a shared library loaded at run time (`kvcheck ...
 * --kernel-lib PATH`). An ABI 1 library (no kva_capabilities) claims
 * everything its entry points serve (kva_paged_attention: paged, with
 * kva_qeff_to_general: QEfficient too; kva_blocked_attention: blocked;
 * kva_cache_write: the in-place write); an ABI 2 library says what it
 * claims in kva_capabilities and exports only the entry points its claim
 * needs. The in-tree libkvattn is the
 * default.
 */
#ifndef KVC_KERNEL_LIB_H
#define KVC_KERNEL_LIB_H

#include <stddef.h>

#include "runner.h"

/* Load the library at path (RTLD_NOW | RTLD_LOCAL: its symbols never mix
 * with the in-tree kernel's) and fill *k, named after the path, with its
 * claim (k->caps: kva_capabilities, checked; everything without it).
 * Runs the library's code (constructors, kva_capabilities): call it only
 * in a process allowed to die of it (a probe, a worker, replay). Returns
 * 0, or -1 with a message naming the library and what is wrong (for a
 * path without a slash, a hint that dlopen searched the library path, not
 * the current directory). */
int kvc_kernel_load(const char *path, kvc_kernel *k, void **handle,
                    char *err, size_t errlen);

/* Close a library loaded by kvc_kernel_load (NULL is fine). */
void kvc_kernel_unload(void *handle);

/* The kernel a worker process runs (tools/workers.h): a given table (the
 * in-tree kernel, or a test's planted one, inherited through fork), or the
 * library at `path`, loaded by the worker itself so that its code never
 * runs in the process that drives the run. */
typedef struct kvc_worker_kernel {
    const kvc_kernel *k;  /* what to run; _load points it at table */
    const char *path;     /* --kernel-lib PATH, or NULL */
    const kva_caps *claim; /* the claim the run uses (the library's, as the
                             probe read it, with --profile applied); NULL:
                             the kernel's own */
    int threads;          /* --kernel-threads (0 = 1) */
    kvc_kernel table;
    void *handle;
} kvc_worker_kernel;

/* A worker's init: load `path` unless k is already set, then run it with
 * claim and threads. 0 or -1 (err). */
int kvc_worker_kernel_load(kvc_worker_kernel *wk, char *err, size_t errlen);

/* Close what _load opened (in-process runs load it in the caller). */
void kvc_worker_kernel_release(kvc_worker_kernel *wk);

#endif /* KVC_KERNEL_LIB_H */
