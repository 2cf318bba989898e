/*
 * fuzz_cache_ops.c — the cache's other half: bytes -> a block-manager
 * configuration and an operation list (appends of few-symbol token ids,
 * so prefixes repeat; forks, rollbacks, frees; ids and counts out of
 * range now and then), or an eviction-policy configuration and its
 * operations (appends, H2O observations with special floats). Each
 * operation runs on libkvattn and on the reference model side by side
 * (tools/bm_check.h, tools/policy_check.h); any disagreement -- a status,
 * a table, a slot, a copy, a reference count, the simulated pool, a kept
 * position, a score -- aborts with the model's account of it.
 */
#include "fuzz_helpers.h"

#include "../tools/bm_check.h"
#include "../tools/policy_check.h"

#include <stdlib.h>
#include <string.h>

#define MAX_OPS 400

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run_manager(fz_io *io)
{
    static const int bad_ids[] = {-1, 17, 1000000};
    kva_bm_config cfg = {fz_get_int(io, 1, 40), fz_get_int(io, 1, 9),
                         fz_get_int(io, 1, KVC_BM_MAX_SEQS),
                         fz_get_int(io, 1, 12), fz_get_bool(io)};
    uint64_t state = fz_get_u64(io, 0, UINT64_MAX);
    char err[256];
    kvc_bm_run *x = kvc_bm_run_new(&kvc_builtin_bm, &cfg, err, sizeof err);
    FZ_ASSERT(x != NULL, "%s", err);
    kvc_bm_op *op = fz_alloc(1, sizeof *op);
    kvc_bm_result r;
    memset(&r, 0, sizeof r);
    int nops = fz_get_int(io, 0, MAX_OPS);
    for (int i = 0; i < nops && fz_remaining(io) > 0; i++) {
        op->kind = (kvc_bm_op_kind)fz_get_int(io, 0, KVC_BM_OP_KINDS - 1);
        op->seq = fz_get_int_special(io, 0, cfg.max_seqs - 1, bad_ids, 3);
        op->other = fz_get_int_special(io, 0, cfg.max_seqs - 1, bad_ids, 3);
        op->n = fz_get_int_special(io, 0, 40, bad_ids, 1);
        if (op->n > KVC_BM_MAX_APPEND) /* a raw count: the op holds no more */
            op->n = KVC_BM_MAX_APPEND;
        int vocab = fz_get_int(io, 1, 4);
        for (int t = 0; t < op->n && t < KVC_BM_MAX_APPEND; t++)
            op->tokens[t] = (int32_t)(fz_splitmix64(&state) % (uint64_t)vocab);
        kva_status st;
        FZ_ASSERT(kvc_bm_run_op(x, op, &st, &r), "manager op %d (%s seq %d n %d): %s",
                  i, kvc_bm_op_name(op->kind), op->seq, op->n, r.message);
    }
    free(op);
    kvc_bm_run_free(x);
}

static void run_policy(fz_io *io)
{
    kva_policy_config cfg = {(kva_policy_kind)fz_get_int(io, 0, 2),
                             fz_get_int(io, 1, 32), fz_get_int(io, 1, 3), 0, 0};
    if (cfg.kind == KVA_POLICY_RECENT)
        cfg.sinks = fz_get_int(io, 0, cfg.num_slots - 1);
    if (cfg.kind == KVA_POLICY_H2O)
        cfg.recent = fz_get_int(io, 0, cfg.num_slots - 1);
    uint64_t state = fz_get_u64(io, 0, UINT64_MAX);
    char err[256];
    kvc_policy_run *x = kvc_policy_run_new(&kvc_builtin_policy, &cfg, err, sizeof err);
    FZ_ASSERT(x != NULL, "%s", err);
    kvc_policy_result r;
    memset(&r, 0, sizeof r);
    const int n = cfg.num_slots * cfg.num_kv_heads;
    int nops = fz_get_int(io, 0, MAX_OPS);
    for (int i = 0; i < nops && fz_remaining(io) > 0; i++) {
        kvc_policy_op op = {KVC_POLICY_APPEND, 0, kvc_policy_run_weights(x)};
        if (fz_get_bool(io)) {
            op.kind = KVC_POLICY_OBSERVE;
            for (int j = 0; j < n; j++) /* exact ties: few distinct values */
                op.weights[j] = (float)(fz_splitmix64(&state) % 4) * 0.125f;
            if (fz_get_chance(io, 16))
                op.weights[fz_get_int(io, 0, n - 1)] = fz_get_float(io);
        } else {
            op.n = fz_get_int(io, -1, 2 * cfg.num_slots + 2);
        }
        FZ_ASSERT(kvc_policy_run_op(x, &op, &r), "policy op %d: %s", i, r.message);
    }
    kvc_policy_run_free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_io io;
    fz_reader_init(&io, data, size);
    if (fz_get_bool(&io))
        run_policy(&io);
    else
        run_manager(&io);
    return 0;
}
