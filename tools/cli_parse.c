/* cli_parse.c — strict parsing of command-line values. */
#include "cli_parse.h"

#include <errno.h>
#include <math.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../generators/case.h"
#include "../oracle/profile.h"
#include "kernel_probe.h"

/* Digits only: strtoull alone would take " -5" (as 2^64 - 5), "+5" and
 * "0x10". Returns 0 and the value, or -1 (not a number, or above max). */
static int strict_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!*s)
        return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || v > max)
        return -1;
    *out = v;
    return 0;
}

int kvc_parse_u64(const char *cmd, const char *opt, const char *s,
                  uint64_t *out)
{
    if (strict_u64(s, UINT64_MAX, out) != 0) {
        fprintf(stderr, "kvcheck %s: %s '%s' is not an integer in 0..%llu\n",
                cmd, opt, s, (unsigned long long)UINT64_MAX);
        return -1;
    }
    return 0;
}

int kvc_parse_int(const char *cmd, const char *opt, const char *s, int min,
                  int max, int *out)
{
    uint64_t v;
    if (min < 0 || strict_u64(s, (uint64_t)max, &v) != 0 || v < (uint64_t)min) {
        fprintf(stderr, "kvcheck %s: %s '%s' is not an integer in %d..%d\n",
                cmd, opt, s, min, max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int kvc_parse_kernel(const char *cmd, const char *s, int *mode)
{
    kvc_mode m;
    if (strcmp(s, "all") == 0) {
        *mode = -1;
        return 0;
    }
    if (kvc_mode_parse(s, &m) == 0) {
        *mode = (int)m;
        return 0;
    }
    fprintf(stderr,
            "kvcheck %s: --kernel '%s' is not one of paged, blocked, qeff, all\n",
            cmd, s);
    return -1;
}

int kvc_parse_kv_dtypes(const char *cmd, const char *s, unsigned *mask)
{
    char buf[256];
    if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf) {
        fprintf(stderr, "kvcheck %s: --kv-dtype: list too long\n", cmd);
        return -1;
    }
    *mask = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        kvc_kv_dtype d;
        if (kvc_kv_dtype_parse(t, &d) != 0) {
            fprintf(stderr, "kvcheck %s: --kv-dtype: unknown format '%s' "
                    "(f32, f16, bf16, fp8_e4m3, fp8_e5m2, int8, nvfp4)\n",
                    cmd, t);
            return -1;
        }
        *mask |= 1u << d;
    }
    if (*mask == 0) {
        fprintf(stderr, "kvcheck %s: --kv-dtype: empty list\n", cmd);
        return -1;
    }
    return 0;
}

/* The claim a command runs the kernel with: its own, --profile applied. */
static void apply_overrides(kva_caps *caps, int profile_override)
{
    if (profile_override >= 0)
        caps->profile = (kva_profile)profile_override;
}

int kvc_choose_kernel(const char *cmd, const char *lib, int profile_override,
                      int threads, kvc_kernel_choice *ch)
{
    ch->handle = NULL;
    ch->table = kvc_builtin_kernel;
    if (lib) {
        char err[512];
        if (kvc_kernel_load(lib, &ch->table, &ch->handle, err, sizeof err) != 0) {
            fprintf(stderr, "kvcheck %s: %s\n", cmd, err);
            return -1;
        }
    } else {
        kva_capabilities(&ch->table.caps);
    }
    ch->table.caps_set = 1;
    apply_overrides(&ch->table.caps, profile_override);
    ch->table.threads = threads;
    ch->k = &ch->table;
    return 0;
}

int kvc_resolve_claim(const char *cmd, const char *lib, int profile_override,
                      kva_caps *claim)
{
    char err[600];
    if (!lib) {
        memset(claim, 0, sizeof *claim);
        kva_capabilities(claim); /* the in-tree kernel's own claim */
    } else {
        switch (kvc_kernel_probe(lib, claim, err, sizeof err)) {
        case KVC_PROBE_OK: break;
        case KVC_PROBE_REFUSED:
            fprintf(stderr, "kvcheck %s: %s\n", cmd, err);
            return 2;
        default:
            fprintf(stderr, "kvcheck %s: %s\nFAILED\n", cmd, err);
            return 1; /* the kernel under test is broken: never green */
        }
    }
    apply_overrides(claim, profile_override);
    return -1;
}

int kvc_parse_profile(const char *cmd, const char *s, int *profile)
{
    kvc_profile p;
    if (kvc_profile_parse(s, &p) != 0) {
        fprintf(stderr, "kvcheck %s: --profile '%s' is not a profile (fp32, "
                "half-p, half-acc)\n", cmd, s);
        return -1;
    }
    *profile = (int)p;
    return 0;
}

void kvc_release_kernel(kvc_kernel_choice *ch)
{
    kvc_kernel_unload(ch->handle);
    ch->handle = NULL;
}

int kvc_parse_shard(const char *cmd, const char *s, int *index, int *count)
{
    /* Each half strictly: sscanf("%d") wraps 4294967297 to 1 silently. */
    char buf[64];
    const char *slash = strchr(s, '/');
    uint64_t i, n;
    size_t ilen = slash ? (size_t)(slash - s) : 0;
    if (!slash || ilen >= sizeof buf) {
        i = n = 0;
    } else {
        memcpy(buf, s, ilen);
        buf[ilen] = '\0';
        if (strict_u64(buf, INT_MAX, &i) != 0 ||
            strict_u64(slash + 1, INT_MAX, &n) != 0)
            i = n = 0;
    }
    if (n < 1 || i >= n) {
        fprintf(stderr,
                "kvcheck %s: --shard '%s' must be i/n with 0 <= i < n <= %d "
                "(e.g. 0/4)\n", cmd, s, INT_MAX);
        return -1;
    }
    *index = (int)i;
    *count = (int)n;
    return 0;
}

void kvc_option_error(const char *cmd, char **argv, int c)
{
    /* getopt_long was told to be quiet (opterr = 0, ":" optstring) so that
     * its messages, which would start with "replay:" alone, come from here
     * with the command's full name. */
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    if (c == ':')
        fprintf(stderr, "kvcheck %s: option '%s' needs a value\n", cmd, arg);
    else if (optopt)
        fprintf(stderr, "kvcheck %s: unknown option '-%c'\n", cmd, optopt);
    else
        fprintf(stderr, "kvcheck %s: unknown option '%s'\n", cmd, arg);
}

int kvc_parse_seconds(const char *cmd, const char *opt, const char *s,
                      double *out)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (!*s || *end || !isfinite(v) || v <= 0 || v > 1e6) {
        fprintf(stderr, "kvcheck %s: %s '%s' is not a number of seconds in "
                "(0, 1e6]\n", cmd, opt, s);
        return -1;
    }
    *out = v;
    return 0;
}
