/*
 * cmd_case.c — `kvcheck case`: a targeted case, written from options as a
 * one-test golden-format file (what `replay FILE` and `golden add FILE`
 * read, tools/reproducer.c writes). The documented way to pin a path: a
 * 64-query-row prefill, a 16k decode, a page size of 272.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../golden/golden.h"
#include "cli_parse.h"
#include "commands.h"

static const char case_usage[] =
    "usage: kvcheck case --out FILE.json [--kernel paged|blocked|qeff]\n"
    "                    [--heads HQ/HKV] [--head-dim D] [--block-size B]\n"
    "                    [--seq CTX+Q]... [--kv-dtype T] [--kv-scale K]\n"
    "                    [--values V] [--bidirectional] [--window N]\n"
    "                    [--softcap X] [--mask M] [--value-seed S]\n"
    "\n"
    "Write one case, described by the options, as a golden-format file\n"
    "with its oracle expectation: `kvcheck replay FILE.json` runs it,\n"
    "`kvcheck golden add FILE.json` keeps it. Pins a path that a campaign\n"
    "only draws now and then (a 64-row prefill, a 16k-key decode).\n"
    "\n"
    "  --out FILE        where to write (required)\n"
    "  --kernel M        paged (default), blocked or qeff\n"
    "  --heads HQ/HKV    query and KV heads (default 1/1)\n"
    "  --head-dim D      1..1024 (default 16)\n"
    "  --block-size B    page size, 1..4096 (default 16); blocked mode: the\n"
    "                    number of key tiles is ceil(kv / B)\n"
    "  --seq CTX+Q       one sequence: CTX cached keys and Q new tokens\n"
    "                    (repeat for a batch, at most 8; default 0+1)\n"
    "  --kv-dtype T      f32 (default), f16, bf16, fp8_e4m3, fp8_e5m2, int8,\n"
    "                    nvfp4\n"
    "  --kv-scale K      tensor (default for fp8/int8), attn_head, token;\n"
    "                    nvfp4 takes group only\n"
    "  --values V        normal (default), uniform, outliers, near_ties,\n"
    "                    equal_keys, one_hot, growing\n"
    "  --bidirectional   no causal mask (default causal)\n"
    "  --window N        sliding window of N keys left (default none)\n"
    "  --softcap X       tanh soft-cap X > 0 (default none)\n"
    "  --mask M          custom mask: none (default), random, first_block,\n"
    "                    empty_rows\n"
    "  --value-seed S    seed of the tensors (default 1)\n"
    "\n"
    KVC_EXIT_HELP;

enum { O_OUT = 300, O_KERNEL, O_HEADS, O_HEAD_DIM, O_BLOCK, O_SEQ, O_DTYPE,
       O_SCALE, O_VALUES, O_BIDIR, O_WINDOW, O_SOFTCAP, O_MASK, O_VSEED };

static int bad(const char *opt, const char *v, const char *why)
{
    fprintf(stderr, "kvcheck case: %s '%s' %s\n", opt, v ? v : "", why);
    return KVC_EXIT_USAGE;
}

/* "CTX+Q" into sequence s. */
static int parse_seq(const char *v, kvc_case_spec *sp)
{
    char a[32];
    const char *plus = strchr(v, '+');
    if (sp->num_seqs >= KVC_MAX_SEQS)
        return bad("--seq", v, "is one sequence too many (at most 8)");
    if (!plus || plus == v || (size_t)(plus - v) >= sizeof a)
        return bad("--seq", v, "is not CTX+Q (e.g. 0+64, 16383+1)");
    memcpy(a, v, (size_t)(plus - v));
    a[plus - v] = 0;
    int s = sp->num_seqs;
    if (kvc_parse_int("case", "--seq", a, 0, 1 << 24, &sp->ctx_len[s]) ||
        kvc_parse_int("case", "--seq", plus + 1, 0, 1 << 24, &sp->q_len[s]))
        return KVC_EXIT_USAGE;
    sp->num_seqs++;
    return -1;
}

static int parse_heads(const char *v, kvc_case_spec *sp)
{
    char a[32];
    const char *slash = strchr(v, '/');
    if (!slash || slash == v || (size_t)(slash - v) >= sizeof a)
        return bad("--heads", v, "is not HQ/HKV (e.g. 32/8)");
    memcpy(a, v, (size_t)(slash - v));
    a[slash - v] = 0;
    if (kvc_parse_int("case", "--heads", a, 1, 256, &sp->cfg.num_q_heads) ||
        kvc_parse_int("case", "--heads", slash + 1, 1, 256, &sp->cfg.num_kv_heads))
        return KVC_EXIT_USAGE;
    if (sp->cfg.num_q_heads % sp->cfg.num_kv_heads != 0)
        return bad("--heads", v, "has HQ not a multiple of HKV");
    return -1;
}

/* One option into the spec; -1 to go on, else the exit status. */
static int apply(int c, const char *v, kvc_case_spec *sp, uint64_t *vseed,
                 int *have_scale)
{
    switch (c) {
    case O_KERNEL:
        return kvc_mode_parse(v, &sp->mode) ? bad("--kernel", v,
                   "is not paged, blocked or qeff") : -1;
    case O_HEADS: return parse_heads(v, sp);
    case O_HEAD_DIM:
        return kvc_parse_int("case", "--head-dim", v, 1, 1024,
                             &sp->cfg.head_dim) ? KVC_EXIT_USAGE : -1;
    case O_BLOCK:
        return kvc_parse_int("case", "--block-size", v, 1, 4096,
                             &sp->block_size) ? KVC_EXIT_USAGE : -1;
    case O_SEQ: return parse_seq(v, sp);
    case O_DTYPE:
        return kvc_kv_dtype_parse(v, &sp->kv_dtype) ? bad("--kv-dtype", v,
                   "is not a KV format (f32, f16, bf16, fp8_e4m3, fp8_e5m2, "
                   "int8, nvfp4)") : -1;
    case O_SCALE:
        *have_scale = 1;
        return kvc_scale_kind_parse(v, &sp->kv_scale) ? bad("--kv-scale", v,
                   "is not tensor, attn_head, token or group") : -1;
    case O_VALUES:
        return kvc_values_parse(v, &sp->values) ? bad("--values", v,
                   "is not a value pattern (normal, uniform, outliers, "
                   "near_ties, equal_keys, one_hot, growing)") : -1;
    case O_BIDIR: sp->cfg.causal = 0; return -1;
    case O_WINDOW:
        return kvc_parse_int("case", "--window", v, 0, 1 << 24,
                             &sp->cfg.window_left) ? KVC_EXIT_USAGE : -1;
    case O_SOFTCAP: {
        char *end;
        double x = strtod(v, &end);
        if (*v == 0 || *end || !(x > 0 && x <= 1e6))
            return bad("--softcap", v, "is not a number in (0, 1e6]");
        sp->cfg.softcap = (float)x;
        return -1;
    }
    case O_MASK:
        return kvc_mask_parse(v, &sp->mask) ? bad("--mask", v,
                   "is not none, random, first_block or empty_rows") : -1;
    case O_VSEED:
        return kvc_parse_u64("case", "--value-seed", v, vseed)
                   ? KVC_EXIT_USAGE : -1;
    default: return KVC_EXIT_USAGE;
    }
}

/* The fields the options do not set: what a campaign draws most often. */
static void finish_spec(kvc_case_spec *sp, int have_scale)
{
    if (sp->num_seqs == 0) {
        sp->num_seqs = 1;
        sp->q_len[0] = 1;
    }
    if (!have_scale)
        sp->kv_scale = sp->kv_dtype == KVC_KV_NVFP4 ? KVC_SCALE_GROUP
                       : sp->kv_dtype == KVC_KV_FP8_E4M3 ||
                               sp->kv_dtype == KVC_KV_FP8_E5M2 ||
                               sp->kv_dtype == KVC_KV_INT8
                           ? KVC_SCALE_TENSOR
                           : KVC_SCALE_NONE;
    int mk = 1, mq = 1;
    for (int s = 0; s < sp->num_seqs; s++) {
        int kv = sp->ctx_len[s] + sp->q_len[s];
        mk = kv > mk ? kv : mk;
        mq = sp->q_len[s] > mq ? sp->q_len[s] : mq;
    }
    if (sp->mode == KVC_MODE_BLOCKED) {
        sp->cache_len = mk;
        sp->num_kv_blocks = (mk + sp->block_size - 1) / sp->block_size;
    }
    if (sp->mode == KVC_MODE_QEFF)
        sp->qeff_max_q = mq;
}

static int parse_args(int argc, char **argv, kvc_case_spec *sp,
                      uint64_t *vseed, const char **out)
{
    static const struct option longopts[] = {
        {"out", required_argument, 0, O_OUT},
        {"kernel", required_argument, 0, O_KERNEL},
        {"heads", required_argument, 0, O_HEADS},
        {"head-dim", required_argument, 0, O_HEAD_DIM},
        {"block-size", required_argument, 0, O_BLOCK},
        {"seq", required_argument, 0, O_SEQ},
        {"kv-dtype", required_argument, 0, O_DTYPE},
        {"kv-scale", required_argument, 0, O_SCALE},
        {"values", required_argument, 0, O_VALUES},
        {"bidirectional", no_argument, 0, O_BIDIR},
        {"window", required_argument, 0, O_WINDOW},
        {"softcap", required_argument, 0, O_SOFTCAP},
        {"mask", required_argument, 0, O_MASK},
        {"value-seed", required_argument, 0, O_VSEED},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    memset(sp, 0, sizeof *sp);
    sp->cfg = (kvc_config){1, 1, 16, 0.25f, 0, 1, KVC_NO_WINDOW};
    sp->block_size = 16;
    *vseed = 1;
    int c, have_scale = 0, rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(case_usage, stdout);
            return KVC_EXIT_PASS;
        }
        if (c == O_OUT) {
            *out = optarg;
            continue;
        }
        if (c == '?' || c == ':') {
            kvc_option_error("case", argv, c);
            fputs(case_usage, stderr);
            return KVC_EXIT_USAGE;
        }
        if ((rc = apply(c, optarg, sp, vseed, &have_scale)) >= 0)
            return rc;
    }
    if (optind < argc || !*out) {
        fprintf(stderr, "kvcheck case: %s\n\n%s", optind < argc
                ? "unexpected argument" : "--out FILE is required", case_usage);
        return KVC_EXIT_USAGE;
    }
    finish_spec(sp, have_scale);
    /* the softmax scale follows head_dim, as in most models */
    sp->cfg.scale = 1.0f / sqrtf((float)sp->cfg.head_dim);
    return -1;
}

int kvc_cmd_case(int argc, char **argv)
{
    kvc_case_spec sp;
    uint64_t vseed;
    const char *out = NULL;
    int rc = parse_args(argc, argv, &sp, &vseed, &out);
    if (rc >= 0)
        return rc;
    kvc_golden_file f;
    kvc_golden_test t;
    char err[512];
    memset(&f, 0, sizeof f);
    memset(&t, 0, sizeof t);
    snprintf(f.generator, sizeof f.generator, "kvcheck case");
    snprintf(f.oracle_version, sizeof f.oracle_version, "%s",
             KVC_ORACLE_VERSION);
    if (kvc_case_build(&sp, vseed, &t.c, err, sizeof err) != 0) {
        /* the spec's validation names the field */
        fprintf(stderr, "kvcheck case: %s\n", err);
        return KVC_EXIT_USAGE;
    }
    t.tc_id = 1;
    t.flags = t.c.flags;
    t.result = KVC_EXPECT_VALID;
    kvc_case_describe(&t.c, t.comment, sizeof t.comment);
    rc = kvc_golden_expect(&t, err, sizeof err);
    f.num_tests = 1;
    f.tests = &t;
    if (rc == 0)
        rc = kvc_golden_write(&f, out, err, sizeof err);
    if (rc == 0)
        printf("wrote %s: %s\nreplay: kvcheck replay %s\n", out, t.comment, out);
    else
        fprintf(stderr, "kvcheck case: %s\n", err);
    kvc_golden_test_free(&t);
    return rc == 0 ? KVC_EXIT_PASS : KVC_EXIT_IO;
}
