/* cli_parse.c — strict parsing of command-line values. */
#include "cli_parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../generators/case.h"

int kvc_parse_u64(const char *cmd, const char *opt, const char *s,
                  uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-') {
        fprintf(stderr, "kvcheck %s: %s '%s' is not a non-negative integer\n",
                cmd, opt, s);
        return -1;
    }
    *out = v;
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

int kvc_choose_kernel(const char *cmd, const char *lib, kvc_kernel_choice *ch)
{
    ch->handle = NULL;
    ch->k = &kvc_builtin_kernel;
    if (!lib)
        return 0;
    char err[512];
    if (kvc_kernel_load(lib, &ch->table, &ch->handle, err, sizeof err) != 0) {
        fprintf(stderr, "kvcheck %s: %s\n", cmd, err);
        return -1;
    }
    ch->k = &ch->table;
    return 0;
}

void kvc_release_kernel(kvc_kernel_choice *ch)
{
    kvc_kernel_unload(ch->handle);
    ch->handle = NULL;
}

int kvc_parse_shard(const char *cmd, const char *s, int *index, int *count)
{
    int i, n, used = 0;
    if (sscanf(s, "%d/%d%n", &i, &n, &used) != 2 || s[used] != '\0' ||
        n < 1 || i < 0 || i >= n) {
        fprintf(stderr,
                "kvcheck %s: --shard '%s' must be i/n with 0 <= i < n (e.g. 0/4)\n",
                cmd, s);
        return -1;
    }
    *index = i;
    *count = n;
    return 0;
}
