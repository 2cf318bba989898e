/*
 * fuzz_crosscheck.c — bytes -> a small valid kvc_case_spec (fuzz_spec.h)
 * -> kvc_case_build -> kvc_run_case against the kernel under test: the
 * runner's cache-write, padding and untouched-cache checks plus the oracle
 * comparison. Any outcome but KVC_PASS prints the case and aborts.
 *
 * The kernel is kvc_builtin_kernel unless the build defines FUZZ_KERNEL
 * (e.g. -DFUZZ_KERNEL=fz_planted_past_end, fuzz/planted/).
 */
#include <stdio.h>

#include "../tools/runner.h"
#include "fuzz_helpers.h"
#include "fuzz_spec.h"

#ifdef FUZZ_KERNEL
extern const kvc_kernel FUZZ_KERNEL;
#define KERNEL_UNDER_TEST (&FUZZ_KERNEL)
#else
#define KERNEL_UNDER_TEST (&kvc_builtin_kernel)
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_io io;
    kvc_case_spec spec;
    uint64_t value_seed = 0;
    fz_reader_init(&io, data, size);
    fz_spec_io(&io, &spec, &value_seed);
    fz_spec_repair(&spec);

    kvc_case c;
    char err[256];
    if (kvc_case_build(&spec, value_seed, &c, err, sizeof err) != 0)
        return 0; /* refused spec (should be rare: the repair aims at 100%) */

    kvc_result r;
    kvc_outcome o = kvc_run_case(&c, KERNEL_UNDER_TEST, &r);
    if (o != KVC_PASS) {
        char desc[512];
        kvc_case_describe(&c, desc, sizeof desc);
        fprintf(stderr, "==FUZZ== kernel %s: %s\n==FUZZ== case: %s "
                "value_seed=%llu\n==FUZZ== %s\n", KERNEL_UNDER_TEST->name,
                kvc_outcome_name(o), desc, (unsigned long long)value_seed,
                r.message);
        kvc_case_free(&c);
        FZ_ASSERT(o == KVC_PASS, "cross-check failed (see above)");
    }
    kvc_case_free(&c);
    return 0;
}
