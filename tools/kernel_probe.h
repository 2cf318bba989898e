/*
 * kernel_probe.h — check that a kernel library loads, without loading it
 * here: a child process dlopens it (its constructors run there) and says
 * whether the entry points its claim needs are exported, and what it claims
 * (kva_capabilities runs there too). The process that drives a
 * campaign never runs the kernel library's code.
 */
#ifndef KVC_KERNEL_PROBE_H
#define KVC_KERNEL_PROBE_H

#include <stddef.h>

#include "../kernels/kvattn.h"

enum {
    KVC_PROBE_OK = 0,
    KVC_PROBE_REFUSED = -1, /* cannot be loaded, or lacks an entry point */
    KVC_PROBE_CRASHED = -2, /* loading it killed or ended the process, or
                               hung past the probe's deadline */
};

/* Returns one of the above; err says why for the failures. On success
 * *caps (when not NULL) is the library's checked claim (claim.h). */
int kvc_kernel_probe(const char *path, kva_caps *caps, char *err,
                     size_t errlen);

#endif
