/*
 * test_kernel_lib.c — a kernel author's library, loaded through the C ABI
 * of kernels/kvattn.h (`--kernel-lib`), is the kernel that gets checked:
 * libkvattn.so passes, a library with a planted bug fails, and a library
 * that is missing or lacks an entry point is refused with its name.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "../tools/campaign.h"
#include "../tools/kernel_lib.h"

#ifndef KVC_BUILD_DIR
#define KVC_BUILD_DIR "build"
#endif

static int campaign_with(const char *path, int mode, kvc_campaign_stats *st)
{
    kvc_kernel k;
    void *h;
    char err[512];
    cr_assert_eq(kvc_kernel_load(path, &k, &h, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(k.name, path);
    kvc_campaign_opts o = {.seed = 3, .cases = 150, .forced_mode = mode,
                           .shard_index = 0, .shard_count = 1};
    int rc = kvc_campaign_run(&o, &k, st);
    kvc_kernel_unload(h);
    return rc;
}

Test(kernel_lib, in_tree_shared_library_passes, .timeout = 120)
{
    kvc_campaign_stats st;
    cr_assert_eq(campaign_with(KVC_BUILD_DIR "/libkvattn.so", -1, &st), 0,
                 "%llu failures", (unsigned long long)st.failed);
    cr_assert_eq(st.run, 150);
}

Test(kernel_lib, planted_library_is_the_one_checked, .timeout = 120)
{
    kvc_campaign_stats st;
    cr_assert_eq(campaign_with(KVC_BUILD_DIR
                               "/tests/libkvattn_planted_no_rescale.so",
                               KVC_MODE_PAGED, &st),
                 1);
    cr_assert_gt(st.failed_by_outcome[KVC_FAIL_NUMERIC], 0);
}

Test(kernel_lib, missing_library_is_refused_by_name)
{
    kvc_kernel k;
    void *h = (void *)1;
    char err[512];
    cr_assert_eq(kvc_kernel_load("/nonexistent/libkernel.so", &k, &h, err,
                                 sizeof err), -1);
    cr_assert_null(h);
    cr_assert(strstr(err, "/nonexistent/libkernel.so") != NULL, "%s", err);
}

Test(kernel_lib, library_without_the_abi_is_refused_naming_the_symbol)
{
    kvc_kernel k;
    void *h;
    char err[512];
    cr_assert_eq(kvc_kernel_load("libm.so.6", &k, &h, err, sizeof err), -1);
    cr_assert_null(h);
    /* an ABI 1 library claims what its entry points serve: none here */
    cr_assert(strstr(err, "exports neither kva_paged_attention nor "
                          "kva_blocked_attention") != NULL, "%s", err);
}

/* An ABI 1 library claims what its entry points serve: kva_paged_attention
 * alone is paged attention, without the in-place cache write. */
Test(kernel_lib, abi1_library_claims_what_it_exports)
{
    kvc_kernel k;
    void *h;
    char err[512];
    cr_assert_eq(kvc_kernel_load(KVC_BUILD_DIR "/tests/libkvattn_abi1_paged.so",
                                 &k, &h, err, sizeof err), 0, "%s", err);
    cr_expect(k.caps_set);
    cr_expect_eq(k.caps.modes, (uint32_t)KVA_MODE_PAGED);
    cr_expect_eq(k.caps.features & KVA_FEATURE_CACHE_WRITE, 0u);
    cr_expect_eq(k.caps.profile, KVA_PROFILE_FP32);
    cr_expect_null(k.cache_write);
    cr_expect_null(k.blocked_attention);
    cr_expect_not_null(k.paged_attention);
    kvc_kernel_unload(h);
}
