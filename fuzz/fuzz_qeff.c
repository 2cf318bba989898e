/*
 * fuzz_qeff.c — the QEfficient conversion alone: bytes -> position_ids,
 * slot_id, block table and sizes (fzq_io in fuzz_model.c: rows mostly in
 * QEfficient's form — consecutive positions with left or right padding —
 * sometimes raw, with special values and NULL pointers now and then) ->
 * kva_qeff_to_general. On success the general form must equal an
 * independent recomputation from kvattn.h's definition; a refusal must be
 * one the header prescribes (status included), carry a message and leave
 * every output untouched; an input the header says is invalid must be
 * refused.
 *
 * Kernel: kvc_builtin_kernel, or FUZZ_KERNEL when the build defines it.
 */
#include "fuzz_helpers.h"
#include "fuzz_model.h"

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
    fzq_input in;
    fz_reader_init(&io, data, size);
    fzq_io(&io, &in);
    fzq_run(&in, KERNEL_UNDER_TEST);
    return 0;
}
