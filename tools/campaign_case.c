/*
 * campaign_case.c — one campaign index end to end, shared by the campaign's
 * workers and `kvcheck replay`: the valid case drawn inside the claim, made
 * an invalid variant on an invalid slot (generators/invalid.h), run, and a
 * refusal's status judged (refusal.h).
 */
#include "campaign.h"

#include <stdio.h>
#include <string.h>

#include "refusal.h"
#include "workers.h"

int kvc_campaign_generate(const kva_caps *claim, uint64_t seed,
                          uint64_t index, int forced_mode,
                          const kvc_size_opts *size, kvc_case *c,
                          kvc_invalid *inv, uint64_t *built_outside,
                          char *err, size_t errlen)
{
    uint64_t outside = 0;
    if (kvc_claimed_generate_counted(claim, seed, index, forced_mode, size, c,
                                     &outside, err, errlen) != 0)
        return -1;
    if (built_outside)
        *built_outside += outside;
    kvc_invalid_init(c, inv);
    kva_caps all;
    if (!claim) {
        kva_caps_everything(&all);
        claim = &all;
    }
    /* A kernel that does not claim to validate gets the valid case: its
     * refusals are not part of its contract. */
    if (!claim->validates || !kvc_invalid_slot(seed, index))
        return 0;
    kvc_invalid_opts io = {
        .kernel_writes_cache = (claim->features & KVA_FEATURE_CACHE_WRITE) != 0};
    kvc_invalid_draw(c, kvc_invalid_seed(seed, index), &io, inv);
    return 0;
}

int kvc_campaign_threads(const kvc_kernel *k, const kvc_case *c,
                         uint64_t seed, uint64_t index)
{
    kva_caps caps;
    kvc_kernel_caps(k, &caps);
    /* Under valgrind, one thread: the stacks glibc keeps for reuse and the
     * sparse pools of large-offset cases outgrow valgrind's address space
     * in a long-lived worker (check-valgrind runs a threaded campaign of
     * its own, without large offsets); large-offset cases keep one thread
     * everywhere for the same reason. */
    if (!caps.takes_threads || k->threads > 1 || c->spec.large_offsets ||
        kvc_under_valgrind())
        return k->threads;
    /* a sequence of thousands of keys is where threaded kernels split the
     * keys (flash-decoding) */
    int long_seq = 0;
    for (int s = 0; s < c->prob.num_seqs; s++)
        long_seq |= kvc_kv_len(&c->prob, s) >= KVC_SPLIT_KV_KEYS;
    uint64_t h = kvc_invalid_seed(seed, index) * 0x9e3779b97f4a7c15ULL;
    int threaded = long_seq ? (h >> 60) % 2 == 0 : (h >> 60) % 8 == 0;
    return threaded ? 2 + (int)((h >> 40) % 3) : k->threads;
}

kvc_outcome kvc_campaign_run_case(const kvc_case *c, const kvc_invalid *inv,
                                  const kvc_kernel *k, kvc_result *r)
{
    if (!inv || inv->rule == KVC_INV_NONE)
        return kvc_run_case(c, k, r);
    kvc_run_opts o = {KVC_EXPECT_INVALID, NULL, NULL, 1, inv};
    kvc_outcome out = kvc_run_case_opts(c, k, &o, r);
    if (out == KVC_PASS && r->refused != KVA_OK)
        out = kvc_refusal_check(c->flags, NULL, r);
    if (out != KVC_PASS) {
        /* the failure names the variant, so the log alone says what broke */
        char was[256]; /* the message given, shortened to fit behind */
        snprintf(was, sizeof was, "%.255s", r->message);
        snprintf(r->message, sizeof r->message, "invalid variant %s (%s): %s",
                 kvc_invalid_rule_name(inv->rule), inv->what, was);
    }
    r->outcome = out;
    return out;
}
