/*
 * golden_common.c — names, notes and the exact scalar encoding shared by
 * the golden reader and writer.
 */
#include "golden_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[KVC_MODE_COUNT] = {
    [KVC_MODE_PAGED] = "PagedAttention",
    [KVC_MODE_BLOCKED] = "BlockedAttention",
    [KVC_MODE_QEFF] = "QEffPagedAttention",
};

const char *kvcg_golden_type_name(kvc_mode m)
{
    if ((int)m < 0 || m >= KVC_MODE_COUNT)
        return NULL;
    return type_names[m];
}

int kvcg_golden_type_parse(const char *s, kvc_mode *m)
{
    for (int i = 0; s && i < KVC_MODE_COUNT; i++)
        if (strcmp(s, type_names[i]) == 0) {
            *m = (kvc_mode)i;
            return 0;
        }
    return -1;
}

static const char *const expect_names[3] = {"valid", "invalid", "acceptable"};

const char *kvc_expect_name(kvc_expect e)
{
    if ((int)e < 0 || (int)e > 2)
        return "?";
    return expect_names[e];
}

int kvcg_expect_parse(const char *s, kvc_expect *e)
{
    for (int i = 0; s && i < 3; i++)
        if (strcmp(s, expect_names[i]) == 0) {
            *e = (kvc_expect)i;
            return 0;
        }
    return -1;
}

int kvcg_flag_parse(const char *s)
{
    for (int b = 0; s && b < KVC_FLAG_ALL_COUNT; b++) {
        const char *n = kvc_flag_name(b);
        if (n && strcmp(n, s) == 0)
            return b;
    }
    return -1;
}

/* ---- notes: what each flag targets and what goes wrong ---------------- */

#define B_BOUNDARY "BOUNDARY"
#define B_SHAPE "SHAPE"
#define B_VISIBILITY "VISIBILITY"
#define B_LAYOUT "LAYOUT"
#define B_NUMERICS "NUMERICS"
#define B_CONVENTION "CONVENTION"
#define B_INPUT "INPUT_VALIDATION"
#define B_QUANT "QUANTIZATION"

static const kvcg_note flag_notes[KVC_FLAG_ALL_COUNT] = {
    [KVC_FLAG_PREFILL] = {B_BOUNDARY,
        "Prefill: a sequence with no cached context (ctxLen 0) brings qLen > 1 "
        "new tokens that attend causally among themselves. Catches kernels "
        "written for decode (one query per sequence) and off-by-ones on the "
        "causal diagonal: a query that sees the next token, or misses its own "
        "key."},
    [KVC_FLAG_CHUNKED_PREFILL] = {B_BOUNDARY,
        "Chunked prefill: ctxLen > 0 cached tokens plus qLen > 1 new ones. The "
        "causal limit of new token i is the absolute position ctxLen + i; a "
        "kernel that uses i instead hides most of the context, one that "
        "forgets the diagonal lets queries see later tokens of the chunk."},
    [KVC_FLAG_DECODE] = {B_BOUNDARY,
        "Decode: one new token (qLen 1) attending over its whole cache. "
        "Targets split-KV reductions and the partly filled last block: reading "
        "past the sequence length picks up poisoned slots, stopping a block "
        "early drops the newest keys."},
    [KVC_FLAG_SPEC_DECODE] = {B_BOUNDARY,
        "Speculative decode: 2 to 8 new tokens after a non-empty context. "
        "Decode kernels widened to a few queries often give every draft token "
        "the same causal limit (all see all drafts, or none past the first)."},
    [KVC_FLAG_MHA] = {B_SHAPE,
        "Multi-head attention: numQHeads == numKvHeads. The baseline head "
        "mapping; a wrong grouped-query mapping still passes here, so compare "
        "with the gqa and mqa tests."},
    [KVC_FLAG_GQA] = {B_SHAPE,
        "Grouped-query attention: 1 < numKvHeads < numQHeads. Query head h "
        "must read KV head h / (numQHeads / numKvHeads); h % numKvHeads, or "
        "K/V expanded in the wrong repeat order, reads another head's keys "
        "and moves the output by O(1)."},
    [KVC_FLAG_MQA] = {B_SHAPE,
        "Multi-query attention: one KV head shared by every query head. "
        "Catches kernels that index K/V with the query head (wrong head or out "
        "of bounds) or that assume numKvHeads > 1."},
    [KVC_FLAG_ODD_HEAD_DIM] = {B_SHAPE,
        "headDim not a multiple of 8 (1, 17, 129, ...). Vectorized kernels "
        "that walk D in SIMD-width chunks drop the tail, or read past the head "
        "row into the next head or the stride padding."},
    [KVC_FLAG_BLOCK_SIZE_1] = {B_BOUNDARY,
        "Block size 1 (or a blocked tile of 1 position): every key is its own "
        "block, so every key goes through the block-table lookup and every "
        "loop bound is exercised; off-by-one block counts drop or add keys."},
    [KVC_FLAG_SEQ_ON_BLOCK_EDGE] = {B_BOUNDARY,
        "A kv length of B-1, B or B+1, or a multiple of B: the last block is "
        "exactly full, one short, or holds a single key. ceil/floor mix-ups "
        "read one block too many (poison) or skip the last key."},
    [KVC_FLAG_CHUNK_ENDS_ON_BLOCK] = {B_BOUNDARY,
        "The last new token lands on the last slot of a block (ctxLen + qLen a "
        "multiple of B). The next table entry is unallocated or poisoned: a "
        "kernel that reads one block more dereferences it."},
    [KVC_FLAG_BIDIRECTIONAL] = {B_VISIBILITY,
        "Bidirectional attention (causal false) with qLen >= 2: every new "
        "token sees every key of its sequence, later new tokens included. "
        "Kernels that hard-code causality, or skip blocks past the diagonal, "
        "drop keys."},
    [KVC_FLAG_WINDOW] = {B_VISIBILITY,
        "A sliding window (windowLeft >= 0) that hides some keys: key j is "
        "visible from position p only when j >= p - windowLeft (FlashAttention's "
        "convention: a window of W tokens including the query is windowLeft = "
        "W - 1). Off-by-ones at the lower edge, and W versus W - 1, move the "
        "output by O(1) with leak-sensitive values."},
    [KVC_FLAG_WINDOW_IN_BLOCK] = {B_VISIBILITY,
        "The window's first visible key lies strictly inside a block. Kernels "
        "that skip whole blocks below the window must still mask the keys "
        "before the edge inside the first, partly visible block."},
    [KVC_FLAG_SOFTCAP] = {B_NUMERICS,
        "Soft-capping: the score x becomes softcap * tanh(x / softcap) before "
        "the softmax (Gemma 2). Errors: capping before scaling, scaling twice, "
        "capping the exponent instead of the score, or one code path (decode "
        "or prefill) that forgets it."},
    [KVC_FLAG_CUSTOM_MASK] = {B_VISIBILITY,
        "A custom boolean mask [qLen][kvLen] per sequence, ANDed with the "
        "causal and window rules. Targets transposed masks, rows indexed by "
        "absolute position instead of the new-token index, and tiles that "
        "ignore the mask."},
    [KVC_FLAG_MASKED_FIRST_BLOCK] = {B_NUMERICS,
        "Every key of a sequence's first block (tile) is hidden from every one "
        "of its queries, so an online softmax starts with a running max of "
        "-inf. A naive rescale computes exp(-inf - (-inf)) = NaN, or keeps a "
        "bogus maximum."},
    [KVC_FLAG_EMPTY_ROW] = {B_VISIBILITY,
        "A query row that sees no key at all (the mask hides every one). "
        "Required: out exactly 0 and lse exactly -inf (tolerance 0), never NaN "
        "from 0/0 nor an average of hidden values."},
    [KVC_FLAG_Q_LEN_0] = {B_BOUNDARY,
        "A sequence with no new tokens in this batch (qLen 0). It owns no "
        "output row and writes no slot; kernels that assume qLen >= 1 write a "
        "row of the next sequence or shift the query offsets."},
    [KVC_FLAG_KV_LEN_0] = {B_BOUNDARY,
        "A sequence with no tokens at all (ctxLen 0 and qLen 0): zero-length "
        "loops, zero blocks, an empty query_start_loc segment."},
    [KVC_FLAG_PADDING_TOKENS] = {B_LAYOUT,
        "The batch ends with padding tokens that belong to no sequence (slot "
        "-1; their q rows hold NaN poison). The cache write must skip them and "
        "attention must leave their output rows untouched."},
    [KVC_FLAG_SHARED_PREFIX] = {B_LAYOUT,
        "Several sequences share physical blocks (prefix caching). Kernels or "
        "cache writers that assume a block belongs to one sequence corrupt or "
        "double-count the shared keys."},
    [KVC_FLAG_TABLE_REVERSED] = {B_LAYOUT,
        "The block table lists physical blocks in descending pool order. "
        "Catches kernels that assume a sequence's blocks are contiguous or "
        "increasing (reading block b + 1 instead of blockTable[s][b + 1])."},
    [KVC_FLAG_TABLE_POOL_END] = {B_LAYOUT,
        "The sequences use the last blocks of the pool. Offsets at the end of "
        "the pool expose wrong pool-size checks and off-by-one bounds."},
    [KVC_FLAG_HND] = {B_LAYOUT,
        "The K/V cache is HND, [blocks][Hkv][B][D] (QEfficient), not NHD. The "
        "layout is given only by strides; kernels that hard-code one layout's "
        "offsets read the wrong slot or head."},
    [KVC_FLAG_PADDED_STRIDES] = {B_LAYOUT,
        "Padded strides: each head row of D elements is followed by stridePad "
        "unused, poisoned elements. Kernels that compute offsets from D "
        "instead of the given strides read poison."},
    [KVC_FLAG_LEAK_SENSITIVE] = {B_VISIBILITY,
        "Some key that a query must not see (future position, outside the "
        "window, masked) has a raw score that exceeds every visible score of "
        "that row by at least 20. A one-position visibility or length error "
        "then changes the output by O(1), not by a rounding error."},
    [KVC_FLAG_OUTLIERS] = {B_NUMERICS,
        "Values with rare entries 100 times larger than the rest. Stresses "
        "the max subtraction and fp32 accumulation; kernels that skip the "
        "running max or accumulate in fp16 overflow or lose precision."},
    [KVC_FLAG_NEAR_TIES] = {B_NUMERICS,
        "Scores equal up to an ulp or two: near-uniform weights that probe "
        "accumulation order and rounding (the tolerance of each value is "
        "derived for it)."},
    [KVC_FLAG_EQUAL_KEYS] = {B_NUMERICS,
        "Every key of a head is equal, so the weights are exactly uniform and "
        "out is the mean of the visible V rows: a key count off by one shows "
        "up directly."},
    [KVC_FLAG_ONE_HOT] = {B_NUMERICS,
        "One key per row dominates by a wide margin, so out is almost that "
        "key's V row: a wrong head, position or block mapping gives an O(1) "
        "error."},
    [KVC_FLAG_GROWING_SCORES] = {B_NUMERICS,
        "Scores grow block after block, so the running max changes at every "
        "tile: a missed or misapplied rescale of the accumulator in the "
        "online softmax is caught."},
    [KVC_FLAG_QEFF_LEFT_PAD] = {B_CONVENTION,
        "QEfficient rows padded on the left: positionIds rows start with -1 "
        "entries. Token order, lengths and the active block must come from "
        "the valid entries, not from column 0."},
    [KVC_FLAG_LARGE_OFFSETS] = {B_LAYOUT,
        "Block ids sit above a huge unused stretch of the pool, so element "
        "offsets exceed 2^32: a kernel that computes id * stride in 32 bits "
        "reads the wrong block. The pool spans tens of GiB: it is sparse "
        "(layout.sparse), mapped without reserving memory, and only the "
        "blocks the layout names hold anything."},
    [KVC_FLAG_KV_F16] = {B_QUANT,
        "The K/V cache stores IEEE binary16 codes (kvDtype f16): the cache "
        "write rounds fp32 to nearest even, with gradual underflow and "
        "overflow to +-inf; attention decodes each code. Catches a write that "
        "truncates instead of rounding or flushes subnormals, and a kernel "
        "that walks the cache in 4-byte units."},
    [KVC_FLAG_KV_BF16] = {B_QUANT,
        "The K/V cache stores bfloat16 codes: the upper half of binary32, "
        "rounded to nearest even (not truncated), NaN kept as NaN. Catches "
        "truncating conversions, the most common bf16 bug, and 2-byte versus "
        "4-byte unit mix-ups in the strides."},
    [KVC_FLAG_KV_FP8_E4M3] = {B_QUANT,
        "The K/V cache stores OCP FP8 E4M3FN codes of x / scale: round to "
        "nearest even, saturating at +-448 (SATFINITE), NaN 0x7F, no "
        "infinity. Catches e4m3 versus e4m3fnuz or e5m2 confusion, overflow "
        "to NaN instead of saturation, and a scale forgotten on write or on "
        "read."},
    [KVC_FLAG_KV_FP8_E5M2] = {B_QUANT,
        "The K/V cache stores FP8 E5M2 codes of x / scale: saturating at "
        "+-57344 on write, while infinity codes decode to +-inf. Catches the "
        "two fp8 formats swapped (bias 15 versus 7), non-saturating writes "
        "and wrong subnormal decoding."},
    [KVC_FLAG_KV_INT8] = {B_QUANT,
        "The K/V cache stores int8 codes clamp(round_half_even(x / scale), "
        "-128, 127), NaN to 0. Catches round half away from zero (C roundf), "
        "a clamp to +-127 only, unsigned or asymmetric codes, and a scale "
        "applied twice or not at all."},
    [KVC_FLAG_KV_NVFP4] = {B_QUANT,
        "NVFP4: e2m1 codes, two per byte (even dim in the low nibble), an e4m3 "
        "block-scale code per 16 dims and an fp32 global scale per tensor. "
        "Catches swapped nibbles, a head row taken as headDim bytes instead of "
        "headDim / 2, block scales read for the wrong group, and the "
        "block-scale rule (a zero code becomes 0x01)."},
    [KVC_FLAG_SCALE_TENSOR] = {B_QUANT,
        "Static per-tensor scales (kScale, vScale): K is encoded as x / kScale "
        "and decoded times kScale, V likewise. Catches a kernel that forgets "
        "the scale on read (every value off by the scale factor), uses kScale "
        "for V, or multiplies instead of dividing on write."},
    [KVC_FLAG_SCALE_HEAD] = {B_QUANT,
        "Static per-KV-head scales (kHeadScale, vHeadScale, one per KV head; "
        "compressed-tensors' attn_head strategy). Catches scales indexed by "
        "the query head instead of the KV head, a wrong GQA mapping, and one "
        "scale used for every head."},
    [KVC_FLAG_SCALE_TOKEN] = {B_QUANT,
        "Dynamic per-token scales: the cache write computes fp32(amax / R) for "
        "each (token, KV head) over its finite elements (2^-23 for an all-zero "
        "row) and stores it as a float in a scale pool addressed by "
        "scaleStrideBlock/Slot/Head. Catches scales over the wrong span (all "
        "heads, NaN included), stored at the wrong slot, or never read back."},
    [KVC_FLAG_SCALE_GROUP] = {B_QUANT,
        "NVFP4 group scales: one e4m3 block-scale code per 16 dims of each "
        "(token, KV head), stored in a byte pool addressed by "
        "scaleStrideBlock/Slot/Head, combined with the static global scale "
        "(effective scale decode(code) / global). Catches misaligned groups, "
        "the global scale multiplied instead of divided, unwritten codes."},
    [KVC_FLAG_FORMAT_EDGES] = {B_QUANT,
        "K/V values on the format's rounding midpoints and one ulp either "
        "side, +-0, the format's subnormals, values past the largest finite "
        "code, all-zero rows and groups. Exact ties decide round to nearest "
        "even: a kernel that rounds half away from zero or truncates writes "
        "another code, and the cache is compared byte for byte."},
    [KVC_FLAG_SCALE_HUGE] = {B_QUANT,
        "Static scales far above the data (2^8 and more times the calibrated "
        "scale): x / scale falls into the format's subnormals or rounds to "
        "+-0. Catches flush-to-zero of subnormal codes, lost signs of zero "
        "and scale arithmetic in reduced precision."},
    [KVC_FLAG_SCALE_TINY] = {B_QUANT,
        "Static scales far below the data: x / scale overflows the format, so "
        "codes must saturate (+-448, +-57344, 127 / -128, +-6) instead of "
        "becoming NaN, infinity or wrapping around. Catches non-saturating "
        "conversions and int8 wrap-around."},
    [KVC_FLAG_BAD_KV_FORMAT] = {B_INPUT,
        "A cache format the kernel must refuse: a static scale (kScale, "
        "vScale, kHeadScale, vHeadScale, the NVFP4 global scales) that is 0, "
        "negative or NaN, or NVFP4 with a headDim that is not a multiple of "
        "16. The cache write must return an error and change nothing instead "
        "of dividing by zero or reading a partial group."},
    [KVC_FLAG_UNNESTED_STRIDES] = {B_LAYOUT,
        "Implementation-defined (acceptable): a paged cache (layout "
        "\"strided\") whose strides keep every (block, slot, head) row "
        "disjoint and inside the pool but do not nest (taking the dimensions "
        "from the smallest stride up, a stride is smaller than the extent of "
        "what lies inside it). kernels/kvattn.h lets a kernel refuse such a "
        "layout (KVA_ERR_SHAPE) even though its rows do not overlap; one that "
        "accepts it must address every row by its three strides."},
    [KVC_FLAG_OVERLAPPING_STRIDES] = {B_INPUT,
        "A paged cache (layout \"strided\") whose strides make two (block, "
        "slot, head) rows overlap: writing one would overwrite the other. "
        "kernels/kvattn.h forbids it; the implementation must refuse "
        "(kvcheck's kernels: KVA_ERR_SHAPE) before writing anything."},
    [KVC_FLAG_BAD_BLOCK_ID] = {B_INPUT,
        "A block-table entry that a visible position needs is -1 or outside "
        "[0, numBlocks). The kernel must refuse the call (block error) "
        "instead of reading out of bounds or treating -1 as a block, and "
        "write nothing."},
    [KVC_FLAG_BAD_SLOT] = {B_INPUT,
        "A slotMapping entry below -1 or at or past numBlocks * blockSize. "
        "The cache write must refuse before writing anything (all or "
        "nothing)."},
    [KVC_FLAG_DUPLICATE_SLOT] = {B_INPUT,
        "Two tokens of one cache write name the same slot; which value wins "
        "would depend on thread order. The write must be refused."},
    [KVC_FLAG_SEQ_BEYOND_TABLE] = {B_INPUT,
        "A sequence needs more blocks than its block-table row holds "
        "(ceil(kvLen / B) > maxBlocksPerSeq). The kernel must refuse instead "
        "of reading the next sequence's row or past the table."},
    [KVC_FLAG_QEFF_CROSSING_WRITE] = {B_INPUT,
        "A QEfficient write whose first and last new positions lie in "
        "different blocks, which the slotId convention cannot express. The "
        "conversion must refuse it, not split or truncate it silently."},
    [KVC_FLAG_QEFF_SLOT_ID_MISMATCH] = {B_INPUT,
        "A QEfficient slotId that disagrees with the positions (slotId != "
        "first position mod B). Trusting it would write the new tokens at the "
        "wrong offsets; the conversion must refuse."},
    [KVC_FLAG_BAD_PARAM] = {B_INPUT,
        "An attention parameter the kernel must refuse: a scale that is NaN "
        "or infinite, a negative softcap, or windowLeft below -1. The call "
        "must return a parameter error and write nothing, instead of taking "
        "a negative softcap as off or a window of -2 as none."},
    [KVC_FLAG_BAD_SHAPE] = {B_INPUT,
        "A shape the kernel must refuse: numQHeads not a multiple of "
        "numKvHeads, headDim 0, or cache strides that make two (block, slot, "
        "head) rows overlap. Must be refused (shape error) before any index "
        "is computed from it."},
    [KVC_FLAG_QSL_DECREASING] = {B_INPUT,
        "queryStartLoc decreases between two sequences, so a sequence would "
        "have a negative number of new tokens. The kernel must refuse "
        "(length error) instead of reading rows before the batch."},
    [KVC_FLAG_QEFF_POSITIONS] = {B_INPUT,
        "QEfficient positionIds whose valid entries are not consecutive "
        "increasing positions (two swapped, or one repeated). The conversion "
        "must refuse it (convention error), not write the tokens out of "
        "order."},
    [KVC_FLAG_BAD_TILE_COUNT] = {B_INPUT,
        "Blocked attention with numKvBlocks < 1: the tile size ceil(cacheLen "
        "/ numKvBlocks) is undefined (a division by zero). Must be refused."},
    [KVC_FLAG_FREED_BELOW_WINDOW] = {B_LAYOUT,
        "Block-table entries wholly below the sliding window are -1, as "
        "engines free blocks that left the window. No query needs them: a "
        "kernel that looks them up anyway (or validates every entry) fails "
        "wrongly or reads out of bounds."},
};

static const kvcg_note result_notes[3] = {
    {"RESULT",
     "valid: the inputs follow the contract. The implementation must accept "
     "them, and every out and lse value must lie within tolOut / tolLse of "
     "expected (tolerance 0: exact, as out +-0 and lse -inf of an empty "
     "row)."},
    {"RESULT",
     "invalid: the inputs break the contract (the test's flags say how). "
     "The implementation must refuse them with an error and leave the cache "
     "and the outputs untouched; error names the status the in-tree kernel "
     "returns."},
    {"RESULT",
     "acceptable: implementation-defined. Refusing with an error passes, and "
     "so does accepting and matching expected within tolerance."},
};

const kvcg_note *kvcg_flag_note(int bit)
{
    if (bit < 0 || bit >= KVC_FLAG_ALL_COUNT || !flag_notes[bit].bug_type)
        return NULL;
    return &flag_notes[bit];
}

const kvcg_note *kvcg_result_note(kvc_expect e)
{
    if ((int)e < 0 || (int)e > 2)
        return NULL;
    return &result_notes[e];
}

/* ---- exact scalars ----------------------------------------------------- */

int kvcg_format_hex_float(float f, char *buf)
{
    if (!isfinite(f))
        return -1;
    double d = f; /* exact; an fp32 subnormal is a normal double */
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    const char *sign = (bits >> 63) ? "-" : "";
    int e = (int)(bits >> 52 & 0x7FF);
    uint64_t m = bits & ((UINT64_C(1) << 52) - 1);
    if (e == 0 && m == 0) {
        snprintf(buf, 32, "%s0x0p+0", sign);
        return 0;
    }
    char digits[16];
    int nd = 0;
    for (int shift = 48; shift >= 0; shift -= 4)
        digits[nd++] = "0123456789abcdef"[m >> shift & 0xF];
    while (nd > 0 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    snprintf(buf, 32, "%s0x1%s%s%s%d", sign, nd ? "." : "", digits,
             e - 1023 < 0 ? "p" : "p+", e - 1023);
    return 0;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

int kvcg_parse_hex_float(const char *s, float *f)
{
    /* -?0[xX]H+(.H*)?[pP][+-]?D+ , at most 40 characters */
    size_t n = strlen(s), i = 0;
    if (n == 0 || n > 40)
        return -1;
    if (s[i] == '-')
        i++;
    if (s[i] != '0' || (s[i + 1] != 'x' && s[i + 1] != 'X'))
        return -1;
    i += 2;
    size_t h = i;
    while (is_hex(s[i]))
        i++;
    if (i == h)
        return -1;
    if (s[i] == '.') {
        i++;
        while (is_hex(s[i]))
            i++;
    }
    if (s[i] != 'p' && s[i] != 'P')
        return -1;
    i++;
    if (s[i] == '+' || s[i] == '-')
        i++;
    size_t e = i;
    while (s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == e || i != n)
        return -1;
    errno = 0;
    char *end = NULL;
    double d = strtod(s, &end);
    if (!end || *end != '\0' || !isfinite(d))
        return -1;
    float x = (float)d;
    if (!isfinite(x) || (double)x != d)
        return -1; /* not exactly an fp32 value */
    *f = x;
    return 0;
}

void kvcg_format_scale(float f, char *buf)
{
    if (isnan(f))
        snprintf(buf, 32, "nan");
    else if (isinf(f))
        snprintf(buf, 32, "%s", f < 0 ? "-inf" : "inf");
    else
        kvcg_format_hex_float(f, buf);
}

int kvcg_parse_scale(const char *s, float *f)
{
    if (strcmp(s, "nan") == 0) {
        uint32_t bits = 0x7FC00000u;
        memcpy(f, &bits, sizeof *f);
        return 0;
    }
    if (strcmp(s, "inf") == 0 || strcmp(s, "-inf") == 0) {
        *f = s[0] == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    return kvcg_parse_hex_float(s, f);
}

size_t kvcg_utf8_valid_prefix(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2; cp = c & 0x1F; min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3; cp = c & 0x0F; min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4; cp = c & 0x07; min = 0x10000;
        } else {
            return i;
        }
        if (n - i < len)
            return i;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += len;
    }
    return n;
}
