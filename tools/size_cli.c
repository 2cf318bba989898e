/* size_cli.c — parsing and printing of the size options (size_cli.h). */
#include "size_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_parse.h"
#include "shell_quote.h"

int kvc_is_size_opt(int c)
{
    return c >= KVC_OPT_SIZE && c <= KVC_OPT_BLOCK_SIZE;
}

/* "HQ/HKV" with digits only. */
static int parse_heads(const char *cmd, const char *arg, kvc_size_opts *o)
{
    const char *slash = arg ? strchr(arg, '/') : NULL;
    char hq[32];
    if (!slash || (size_t)(slash - arg) >= sizeof hq || slash == arg)
        goto bad;
    memcpy(hq, arg, (size_t)(slash - arg));
    hq[slash - arg] = 0;
    if (kvc_parse_int(cmd, "--heads", hq, 1, 256, &o->hq) ||
        kvc_parse_int(cmd, "--heads", slash + 1, 1, 256, &o->hkv))
        return -1;
    if (o->hq % o->hkv == 0)
        return 0;
    fprintf(stderr, "kvcheck %s: --heads '%s': HQ must be a multiple of HKV\n",
            cmd, arg);
    return -1;
bad:
    fprintf(stderr, "kvcheck %s: --heads '%s' is not HQ/HKV (e.g. 32/8)\n",
            cmd, arg ? arg : "");
    return -1;
}

int kvc_parse_size_opt(const char *cmd, int c, const char *arg,
                       kvc_size_opts *o)
{
    switch (c) {
    case KVC_OPT_SIZE:
        if (kvc_size_policy_parse(arg, &o->size) == 0)
            return 0;
        fprintf(stderr, "kvcheck %s: --size '%s' is not small, default or "
                "large\n", cmd, arg ? arg : "");
        return -1;
    case KVC_OPT_MAX_KV:
        return kvc_parse_int(cmd, "--max-kv", arg, 1, 1 << 24, &o->max_kv);
    case KVC_OPT_MAX_Q:
        return kvc_parse_int(cmd, "--max-q", arg, 1, 1 << 24, &o->max_q);
    case KVC_OPT_HEADS: return parse_heads(cmd, arg, o);
    case KVC_OPT_HEAD_DIM:
        return kvc_parse_int(cmd, "--head-dim", arg, 1, 1024, &o->head_dim);
    case KVC_OPT_BLOCK_SIZE:
        return kvc_parse_int(cmd, "--block-size", arg, 1, 4096, &o->block_size);
    default: return -1;
    }
}

int kvc_check_size_opts(const char *cmd, const kvc_size_opts *o)
{
    char err[200];
    if (kvc_size_opts_check(o, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "kvcheck %s: %s\n", cmd, err);
    return -1;
}

int kvc_append_size_opts(char *buf, size_t n, const kvc_size_opts *o)
{
    char v[32];
    int rc = 0;
    if (o->size != KVC_SIZE_DEFAULT)
        rc |= kvc_shell_append_opt(buf, n, "--size",
                                   kvc_size_policy_name(o->size));
#define INT_OPT(name, field)                                         \
    if (o->field) {                                                  \
        snprintf(v, sizeof v, "%d", o->field);                       \
        rc |= kvc_shell_append_opt(buf, n, name, v);                 \
    }
    INT_OPT("--max-kv", max_kv)
    INT_OPT("--max-q", max_q)
    if (o->hq) {
        snprintf(v, sizeof v, "%d/%d", o->hq, o->hkv);
        rc |= kvc_shell_append_opt(buf, n, "--heads", v);
    }
    INT_OPT("--head-dim", head_dim)
    INT_OPT("--block-size", block_size)
#undef INT_OPT
    return rc ? -1 : 0;
}
