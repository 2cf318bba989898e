/*
 * claim.h — what a kernel claims (kvattn.h, kva_caps) against what a case
 * needs, and cases drawn only inside the claim.
 *
 * A case's needs are "coverage items": its mode, its cache format, its
 * layout, the features it uses (causal, window, ...) and its sizes (head
 * dim, block size, lengths). An item is claimed when the capabilities say
 * so; a case is inside the claim when every item it uses is.
 *
 * Drawing inside a claim is deterministic in (seed, index, claim): the
 * draws of case (seed, index) are tried in the order attempt = 0, 1, ...
 * (generators/case.h kvc_attempt_seed) and the first inside the claim is
 * the case. A kernel that claims everything gets attempt 0, the case it
 * always got; a replay with the same library (so the same claim) draws the
 * same case. After KVC_CLAIM_ATTEMPTS draws outside the claim the index is
 * not covered. Most items are known from the spec; the query range
 * (KVC_COV_Q_RANGE) only once the case is built, so kvc_claimed_generate
 * checks the built case too and goes on to the next attempt.
 *
 * Plain data and pure functions: no kernel code runs here.
 */
#ifndef KVC_CLAIM_H
#define KVC_CLAIM_H

#include <stddef.h>
#include <stdint.h>

#include "../generators/case.h"
#include "../kernels/kvattn.h"

#define KVC_CLAIM_ATTEMPTS 4096

/* Coverage items (a bit each in a uint64_t). */
enum {
    KVC_COV_MODE = 0,                    /* + kvc_mode: 3 */
    KVC_COV_FORMAT = KVC_COV_MODE + 3,   /* + kvc_claim_format_index: 13 */
    KVC_COV_LAYOUT_NHD = KVC_COV_FORMAT + 13,
    KVC_COV_LAYOUT_HND,
    KVC_COV_LAYOUT_PADDED,
    KVC_COV_CAUSAL,
    KVC_COV_BIDIRECTIONAL,
    KVC_COV_WINDOW,
    KVC_COV_SOFTCAP,
    KVC_COV_CUSTOM_MASK,
    KVC_COV_PADDING_TOKENS,
    KVC_COV_LARGE_OFFSETS,
    KVC_COV_FORMAT_EDGES,
    KVC_COV_Q_RANGE,    /* a query element beyond f16's range, for a
                           profile that rounds Q to f16 (half-acc; half-p
                           over an f16 cache): outside that design */
    KVC_COV_HEAD_DIM,   /* the case's head_dim is in the claimed set */
    KVC_COV_BLOCK_SIZE, /* its block size (paged, QEfficient) */
    KVC_COV_SEQ_LEN,    /* its longest sequence (keys) */
    KVC_COV_Q_LEN,      /* its most new tokens in one sequence */
    KVC_COV_COUNT
};

/* "mode paged", "format fp8_e4m3/head", "layout hnd", "window",
 * "head_dim", ...; NULL outside 0 .. KVC_COV_COUNT - 1. */
const char *kvc_cov_name(int item);

/* The format item of (dtype, kind) (0 .. 12 for the valid pairs), -1 for
 * a pair that is not a format. */
int kvc_claim_format_index(kvc_kv_dtype dtype, kvc_scale_kind kind);

/* What a case needs, from its spec or from a built case (golden vectors
 * have no spec of their own). */
typedef struct kvc_case_facts {
    kvc_mode mode;
    kvc_kv_dtype dtype;
    kvc_scale_kind kind;
    int hnd, padded;        /* paged / QEfficient layouts */
    int causal, window, softcap, mask, padding, large_offsets, format_edges;
    int head_dim;
    int block_size;         /* 0 for blocked mode */
    int64_t max_kv, max_q;
    double q_amax;          /* largest finite |q| (built cases; 0 from a
                               spec: not known before the tensors exist) */
} kvc_case_facts;

void kvc_facts_of_spec(const kvc_case_spec *sp, kvc_case_facts *f);
void kvc_facts_of_case(const kvc_case *c, kvc_case_facts *f);

/* The items a case uses. */
uint64_t kvc_claim_uses(const kvc_case_facts *f);

/* The items a case uses that caps does not claim (0: inside the claim). */
uint64_t kvc_claim_missing(const kva_caps *caps, const kvc_case_facts *f);

/* Whether caps claims item (sizes: whether the claimed set is all sizes;
 * kvc_claim_describe_sizes says what it is). */
int kvc_claim_has(const kva_caps *caps, int item);

/* "all", "64, 128", "16..256" for a size item; "" for other items. */
void kvc_claim_describe_sizes(const kva_caps *caps, int item, char *buf,
                              size_t n);

/* A library's capabilities, checked as data from an untrusted library:
 * enums in range, set counts within KVA_SET_MAX, something claimed.
 * Returns 0, or -1 with a message naming the field. */
int kvc_caps_check(const kva_caps *caps, char *err, size_t errlen);

/*
 * The spec of case (seed, index) inside the claim (caps NULL: everything,
 * attempt 0). Fills *sp and *attempt; each draw outside the claim adds one
 * to not_covered[item] for every item it missed (not_covered may be NULL).
 * Returns 0, 1 when no draw within KVC_CLAIM_ATTEMPTS is inside the claim
 * (*sp then holds the first draw), -1 when no spec can be drawn (a forced
 * mode out of range, out of memory).
 */
int kvc_claimed_spec(const kva_caps *caps, uint64_t seed, uint64_t index,
                     int forced_mode, kvc_case_spec *sp, int *attempt,
                     uint64_t *not_covered);
/* The same under size options (generators/case.h kvc_size_opts; NULL: the
 * default policy, which kvc_claimed_spec and kvc_claimed_generate use). */
int kvc_claimed_spec_sized(const kva_caps *caps, uint64_t seed,
                           uint64_t index, int forced_mode,
                           const kvc_size_opts *size, kvc_case_spec *sp,
                           int *attempt, uint64_t *not_covered);

/* The case of (seed, index) inside the claim: the first attempt whose spec
 * and built case are inside it, built from kvc_attempt_seed; records seed
 * and index in c. Returns 0, or -1 with a message (nothing inside the
 * claim, or the build failed). */
int kvc_claimed_generate(const kva_caps *caps, uint64_t seed, uint64_t index,
                         int forced_mode, kvc_case *c, char *err,
                         size_t errlen);

int kvc_claimed_generate_sized(const kva_caps *caps, uint64_t seed,
                               uint64_t index, int forced_mode,
                               const kvc_size_opts *size, kvc_case *c,
                               char *err, size_t errlen);

/* The same, adding to *built_outside the attempts whose spec was inside the
 * claim but whose built case was not (KVC_COV_Q_RANGE). */
int kvc_claimed_generate_counted(const kva_caps *caps, uint64_t seed,
                                 uint64_t index, int forced_mode,
                                 const kvc_size_opts *size, kvc_case *c,
                                 uint64_t *built_outside, char *err,
                                 size_t errlen);

/* The coverage table of a run (reports/report.h kvc_claim_row): one row
 * per item, then lse, the cache write and input validation. cov_run and
 * cov_outside are the campaign's counts per item (NULL: zeros). Fills at
 * most max rows (KVC_CLAIM_ROWS is enough) and returns how many. */
#define KVC_CLAIM_ROWS (KVC_COV_COUNT + 3)
struct kvc_claim_row;
size_t kvc_claim_rows(const kva_caps *caps, const uint64_t *cov_run,
                      const uint64_t *cov_outside, struct kvc_claim_row *rows,
                      size_t max);

/* "natural", "base 2" or "not covered"; "f32", "f16", "bf16". */
const char *kvc_claim_lse_name(const kva_caps *caps);
const char *kvc_claim_out_name(const kva_caps *caps);

#endif /* KVC_CLAIM_H */
