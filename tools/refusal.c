/* refusal.c — the statuses of kvattn.h's refusal rules (refusal.h). */
#include "refusal.h"

#include <stdio.h>
#include <string.h>

unsigned kvc_refusal_statuses(uint64_t flags)
{
    /* kvattn.h: kva_status and the "Refused:" lines of each entry point.
     * bad_kv_format allows KVA_ERR_NULL: a scale kind the dtype does not
     * take leaves the pools or head arrays the kind would need NULL, and a
     * kernel may look at those first. */
    static const struct {
        int flag;
        unsigned statuses;
    } rules[] = {
        {KVC_FLAG_BAD_BLOCK_ID, 1u << KVA_ERR_BLOCK},
        {KVC_FLAG_BAD_SLOT, 1u << KVA_ERR_SLOT},
        {KVC_FLAG_DUPLICATE_SLOT, 1u << KVA_ERR_SLOT},
        {KVC_FLAG_SEQ_BEYOND_TABLE, 1u << KVA_ERR_LENGTH},
        {KVC_FLAG_QEFF_CROSSING_WRITE, 1u << KVA_ERR_CONVENTION},
        {KVC_FLAG_QEFF_SLOT_ID_MISMATCH, 1u << KVA_ERR_CONVENTION},
        {KVC_FLAG_BAD_TILE_COUNT, 1u << KVA_ERR_SHAPE},
        {KVC_FLAG_OVERLAPPING_STRIDES, 1u << KVA_ERR_SHAPE},
        {KVC_FLAG_BAD_KV_FORMAT, (1u << KVA_ERR_FORMAT) | (1u << KVA_ERR_NULL)},
        {KVC_FLAG_BAD_PARAM, 1u << KVA_ERR_PARAM},
        {KVC_FLAG_BAD_SHAPE, 1u << KVA_ERR_SHAPE},
        {KVC_FLAG_QSL_DECREASING, 1u << KVA_ERR_LENGTH},
        {KVC_FLAG_QEFF_POSITIONS, 1u << KVA_ERR_CONVENTION},
    };
    unsigned allowed = 0;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (flags >> rules[i].flag & 1u)
            allowed |= rules[i].statuses;
    return allowed;
}

kvc_outcome kvc_refusal_check(uint64_t flags, const char *error,
                              kvc_result *r)
{
    unsigned allowed = kvc_refusal_statuses(flags);
    int ok = allowed ? (unsigned)r->refused < 32 &&
                           (allowed >> r->refused & 1u) != 0
                     : error && strcmp(kva_status_name(r->refused), error) == 0;
    if (ok)
        return KVC_PASS;
    char want[160] = "";
    size_t used = 0;
    for (int st = 0; st < 32 && used < sizeof want; st++)
        if (allowed >> st & 1u)
            used += (size_t)snprintf(want + used, sizeof want - used, "%s%s",
                                     used ? " or " : "",
                                     kva_status_name((kva_status)st));
    char was[256]; /* the message given, shortened to fit behind */
    snprintf(was, sizeof was, "%.255s", r->message);
    snprintf(r->message, sizeof r->message, "refused with %s, but the rule "
             "the input breaks calls for %s (%s)", kva_status_name(r->refused),
             allowed ? want : error ? error : "?", was);
    return r->outcome = KVC_FAIL_REFUSAL;
}
