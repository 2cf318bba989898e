/*
 * block_manager.c — the paged cache's block manager (kvattn.h, "The block
 * manager"): a free stack of physical blocks, per-sequence block-table
 * rows, reference counts, copy on write of a shared partly filled block,
 * and sharing of full blocks by content (a chain hash of the parent
 * block's hash and the token ids, looked up in an open-addressing table).
 *
 * The state is one caller-owned buffer without pointers: a header, then
 * arrays at offsets computed from the configuration (bm_layout). Every
 * entry point validates its arguments and plans its whole effect before
 * it changes anything, so a refusal -- KVA_ERR_FULL included -- leaves the
 * state as it was. Indices read from the state are range-checked before
 * use: a caller that scribbled over the buffer gets KVA_ERR_SHAPE, never an
 * out-of-bounds access.
 */
#include "kva_internal.h"

#include <inttypes.h>
#include <limits.h>
#include <string.h>

#define BM_MAGIC 0x6b76615f626d3031ULL /* "kva_bm01" */
#define BM_ROOT_HASH 0x9e3779b97f4a7c15ULL

typedef struct bm_header {
    uint64_t magic;
    kva_bm_config cfg;
    int num_free;
    int hash_cap; /* a power of two >= 2 * num_blocks */
    uint64_t bytes;
} bm_header;

/* Byte offsets of the arrays after the header. */
typedef struct bm_layout {
    size_t ref, free_stack, registered, hash, tokens, slots, seq_len, rows;
    size_t bytes;
} bm_layout;

/* A view of a validated state. */
typedef struct bm_view {
    bm_header *h;
    int32_t *ref;        /* [num_blocks] */
    int32_t *free_stack; /* [num_blocks], top at num_free - 1 */
    int32_t *registered; /* [num_blocks] 1: in the hash table */
    uint64_t *hash;      /* [num_blocks] chain hash of a full block */
    int32_t *tokens;     /* [num_blocks][B] token ids as written */
    int32_t *slots;      /* [hash_cap] block id or -1 */
    int64_t *seq_len;    /* [max_seqs] -1 = not live */
    int32_t *rows;       /* [max_seqs][max_blocks_per_seq] */
} bm_view;

static int cfg_ok(const kva_bm_config *c)
{
    return c->num_blocks >= 1 && c->block_size >= 1 && c->max_seqs >= 1 &&
           c->max_blocks_per_seq >= 1 &&
           (c->prefix_sharing == 0 || c->prefix_sharing == 1);
}

/* Add n elements of size sz at the next 8-byte boundary; 0 on overflow. */
static int bm_take(size_t *at, int64_t n, size_t sz, size_t *off)
{
    size_t a = (*at + 7u) & ~(size_t)7u;
    if (a < *at || n < 0 || (uint64_t)n > (SIZE_MAX - a) / sz)
        return 0;
    *off = a;
    *at = a + (size_t)n * sz;
    return 1;
}

static int bm_layout_of(const kva_bm_config *c, bm_layout *L, int *hash_cap)
{
    int64_t cap = 2;
    while (cap < 2 * (int64_t)c->num_blocks)
        cap *= 2;
    if (cap > INT_MAX)
        return 0;
    *hash_cap = (int)cap;
    int64_t nb = c->num_blocks, tok, rows;
    if (!kva_mul_nonneg(nb, c->block_size, &tok) ||
        !kva_mul_nonneg(c->max_seqs, c->max_blocks_per_seq, &rows))
        return 0;
    size_t at = sizeof(bm_header);
    return bm_take(&at, nb, sizeof(int32_t), &L->ref) &&
           bm_take(&at, nb, sizeof(int32_t), &L->free_stack) &&
           bm_take(&at, nb, sizeof(int32_t), &L->registered) &&
           bm_take(&at, nb, sizeof(uint64_t), &L->hash) &&
           bm_take(&at, tok, sizeof(int32_t), &L->tokens) &&
           bm_take(&at, cap, sizeof(int32_t), &L->slots) &&
           bm_take(&at, c->max_seqs, sizeof(int64_t), &L->seq_len) &&
           bm_take(&at, rows, sizeof(int32_t), &L->rows) &&
           (L->bytes = at, 1);
}

size_t kva_bm_bytes(const kva_bm_config *cfg)
{
    bm_layout L;
    int cap;
    if (cfg == NULL || !cfg_ok(cfg) || !bm_layout_of(cfg, &L, &cap))
        return 0;
    return L.bytes;
}

static void bm_view_of(void *mem, const bm_layout *L, bm_view *v)
{
    char *b = mem;
    v->h = mem;
    v->ref = (int32_t *)(void *)(b + L->ref);
    v->free_stack = (int32_t *)(void *)(b + L->free_stack);
    v->registered = (int32_t *)(void *)(b + L->registered);
    v->hash = (uint64_t *)(void *)(b + L->hash);
    v->tokens = (int32_t *)(void *)(b + L->tokens);
    v->slots = (int32_t *)(void *)(b + L->slots);
    v->seq_len = (int64_t *)(void *)(b + L->seq_len);
    v->rows = (int32_t *)(void *)(b + L->rows);
}

/* Validate a state (magic, configuration, size) and view it. */
static kva_status bm_open(const void *mem, bm_view *v, kva_error *err)
{
    if (mem == NULL)
        return kva_fail(err, KVA_ERR_NULL, "block manager state is NULL");
    if ((uintptr_t)mem % _Alignof(int64_t) != 0)
        return kva_fail(err, KVA_ERR_SHAPE, "block manager state misaligned");
    const bm_header *h = mem;
    bm_layout L;
    int cap;
    if (h->magic != BM_MAGIC || !cfg_ok(&h->cfg) ||
        !bm_layout_of(&h->cfg, &L, &cap) || cap != h->hash_cap ||
        L.bytes != h->bytes || h->num_free < 0 ||
        h->num_free > h->cfg.num_blocks)
        return kva_fail(err, KVA_ERR_SHAPE,
                        "block manager state was not set up by kva_bm_init "
                        "(or was overwritten)");
    bm_view_of((void *)(uintptr_t)mem, &L, v);
    return KVA_OK;
}

kva_status kva_bm_init(void *mem, size_t bytes, const kva_bm_config *cfg,
                       kva_error *err)
{
    kva_clear_error(err);
    if (mem == NULL || cfg == NULL)
        return kva_fail(err, KVA_ERR_NULL, "%s is NULL",
                        mem == NULL ? "mem" : "cfg");
    if (!cfg_ok(cfg))
        return kva_fail(err, KVA_ERR_SHAPE,
                        "config num_blocks %d, block_size %d, max_seqs %d, "
                        "max_blocks_per_seq %d must be >= 1 and "
                        "prefix_sharing %d 0 or 1",
                        cfg->num_blocks, cfg->block_size, cfg->max_seqs,
                        cfg->max_blocks_per_seq, cfg->prefix_sharing);
    bm_layout L;
    int cap;
    if (!bm_layout_of(cfg, &L, &cap))
        return kva_fail(err, KVA_ERR_SHAPE, "config sizes overflow");
    if (bytes < L.bytes || (uintptr_t)mem % _Alignof(int64_t) != 0)
        return kva_fail(err, KVA_ERR_LENGTH,
                        "state of %zu bytes at %p: needs %zu bytes aligned "
                        "to %zu", bytes, mem, L.bytes,
                        (size_t)_Alignof(int64_t));
    memset(mem, 0, L.bytes);
    bm_view v;
    bm_view_of(mem, &L, &v);
    v.h->magic = BM_MAGIC;
    v.h->cfg = *cfg;
    v.h->hash_cap = cap;
    v.h->bytes = L.bytes;
    v.h->num_free = cfg->num_blocks;
    /* block 0 on top: taken first */
    for (int b = 0; b < cfg->num_blocks; b++)
        v.free_stack[b] = cfg->num_blocks - 1 - b;
    for (int i = 0; i < cap; i++)
        v.slots[i] = -1;
    for (int s = 0; s < cfg->max_seqs; s++)
        v.seq_len[s] = -1;
    int64_t nrow = (int64_t)cfg->max_seqs * cfg->max_blocks_per_seq;
    for (int64_t i = 0; i < nrow; i++)
        v.rows[i] = -1;
    return KVA_OK;
}

/* ---- content hashing ------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The token at position pos of a sequence being appended to: from its
 * blocks below old_len, from the new tokens at and above. */
typedef struct bm_source {
    const bm_view *v;
    const int32_t *row;
    int64_t old_len;
    const int32_t *fresh; /* [n] */
    int64_t n;
} bm_source;

static int32_t src_token(const bm_source *s, int64_t pos)
{
    int B = s->v->h->cfg.block_size;
    if (pos >= s->old_len)
        return s->fresh[pos - s->old_len];
    return s->v->tokens[(int64_t)s->row[pos / B] * B + pos % B];
}

/* The chain hash of row entry k (positions [kB, kB+B)), given its parent's. */
static uint64_t chain_hash(const bm_source *s, uint64_t parent, int64_t k)
{
    int B = s->v->h->cfg.block_size;
    /* KVA_MUT(39): the prefix hash ignores the parent block */
    uint64_t h = mix64((KVA_MUT(39) ? 0 : parent) ^ 0x5bd1e995u);
    for (int64_t i = 0; i < B; i++)
        h = mix64(h ^ ((uint64_t)(uint32_t)src_token(s, k * B + i) + 0x632be5ab));
    return h;
}

/* ---- the hash table of registered full blocks ----------------------------- */

/* The registered block of hash h whose B ids equal the source's at entry k,
 * or -1. */
static int lookup(const bm_view *v, const bm_source *s, uint64_t h, int64_t k)
{
    int cap = v->h->hash_cap, B = v->h->cfg.block_size;
    for (int i = (int)(h & (uint64_t)(cap - 1)), n = 0; n < cap;
         i = (i + 1) & (cap - 1), n++) {
        int b = v->slots[i];
        if (b < 0 || b >= v->h->cfg.num_blocks)
            return -1;
        if (v->hash[b] != h)
            continue;
        int same = 1;
        for (int64_t j = 0; j < B && same; j++)
            same = v->tokens[(int64_t)b * B + j] == src_token(s, k * B + j);
        if (same)
            return b;
    }
    return -1;
}

static void hash_insert(bm_view *v, int b)
{
    int cap = v->h->hash_cap;
    int i = (int)(v->hash[b] & (uint64_t)(cap - 1));
    while (v->slots[i] >= 0)
        i = (i + 1) & (cap - 1);
    v->slots[i] = b;
    v->registered[b] = 1;
}

/* Remove b (linear probing with backward-shift deletion: no tombstones). */
static void hash_remove(bm_view *v, int b)
{
    int cap = v->h->hash_cap, i = (int)(v->hash[b] & (uint64_t)(cap - 1));
    for (int n = 0; n < cap && v->slots[i] != b; n++)
        i = (i + 1) & (cap - 1);
    if (v->slots[i] != b)
        return;
    v->registered[b] = 0;
    for (int j = (i + 1) & (cap - 1);; j = (j + 1) & (cap - 1)) {
        int c = v->slots[j];
        if (c < 0)
            break;
        int home = (int)(v->hash[c] & (uint64_t)(cap - 1));
        /* c may move to i when its home is not in (i, j] cyclically */
        int in_between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_between) {
            v->slots[i] = c;
            i = j;
        }
    }
    v->slots[i] = -1;
}

/* ---- reference counting ---------------------------------------------------- */

static int take_free(bm_view *v)
{
    int b = v->free_stack[--v->h->num_free];
    v->ref[b] = 1;
    return b;
}

static void release(bm_view *v, int b)
{
    /* KVA_MUT(37): a block still referenced once more is freed */
    if (--v->ref[b] > KVA_MUT(37))
        return;
    if (v->registered[b])
        hash_remove(v, b);
    v->free_stack[v->h->num_free++] = b;
}

/* Row entries [0, nblk) of seq hold block ids in range; the free stack's
 * live part too. Guards every index the state supplies. */
static int row_ok(const bm_view *v, const int32_t *row, int64_t nblk)
{
    for (int64_t k = 0; k < nblk; k++)
        if (row[k] < 0 || row[k] >= v->h->cfg.num_blocks || v->ref[row[k]] < 1)
            return 0;
    return 1;
}

static int32_t *row_of(const bm_view *v, int seq)
{
    return v->rows + (int64_t)seq * v->h->cfg.max_blocks_per_seq;
}

static int64_t blocks_for(int64_t len, int B)
{
    return (len + B - 1) / B;
}

/* ---- append ------------------------------------------------------------- */

/* The chain hash of the parent of row entry k0, the first entry an append
 * adds: entry k0 - 1 is full already, or is completed by the append (its
 * stored ids then the new ones), or the root. Only read when the append
 * fills a whole block, so k0 - 1 is full by then. */
static uint64_t first_parent(const bm_view *v, const bm_source *s, int64_t k0)
{
    int B = v->h->cfg.block_size;
    if (k0 == 0)
        return BM_ROOT_HASH;
    if (s->old_len >= k0 * B)
        return v->hash[s->row[k0 - 1]];
    uint64_t pp = k0 >= 2 ? v->hash[s->row[k0 - 2]] : BM_ROOT_HASH;
    return chain_hash(s, pp, k0 - 1);
}

/* Whether the append fills a whole block that sharing may look up: the
 * first new entry k0 whole (later ones are whole only if it is). Only then
 * is entry k0 - 1 complete, so only then may its hash be computed: it
 * reads the new ids up to its end, which a shorter append does not have. */
static int any_whole(const bm_view *v, const bm_source *s, int64_t k0)
{
    return v->h->cfg.prefix_sharing &&
           (k0 + 1) * v->h->cfg.block_size <= s->old_len + s->n;
}

/* The block to share for row entry k (filled whole by the append), or -1;
 * *parent carries the chain from entry to entry. */
static int shared_block(const bm_view *v, const bm_source *s, int64_t k,
                        uint64_t *parent)
{
    int B = v->h->cfg.block_size;
    if (!v->h->cfg.prefix_sharing || (k + 1) * B > s->old_len + s->n)
        return -1;
    uint64_t h = chain_hash(s, *parent, k);
    *parent = h;
    return lookup(v, s, h, k);
}

/* Pass 1: the free blocks an append needs (copy on write included), or -1
 * when the row is too short. */
static int64_t append_need(const bm_view *v, const bm_source *s, int cow)
{
    int B = v->h->cfg.block_size;
    int64_t k0 = blocks_for(s->old_len, B), k1 = blocks_for(s->old_len + s->n, B);
    if (k1 > v->h->cfg.max_blocks_per_seq)
        return -1;
    int64_t need = cow;
    uint64_t parent = any_whole(v, s, k0) ? first_parent(v, s, k0) : 0;
    for (int64_t k = k0; k < k1; k++)
        need += shared_block(v, s, k, &parent) < 0;
    return need;
}

/* Pass 2: take or share the blocks, write slots and token records; pass 3
 * (register) runs after, so both passes see the same registered set and
 * make the same choices. */
static void append_place(bm_view *v, const bm_source *s, int32_t *row,
                         int64_t *slots)
{
    int B = v->h->cfg.block_size;
    int64_t k0 = blocks_for(s->old_len, B), k1 = blocks_for(s->old_len + s->n, B);
    uint64_t parent = any_whole(v, s, k0) ? first_parent(v, s, k0) : 0;
    for (int64_t t = 0; t < s->n; t++)
        slots[t] = 0;
    for (int64_t k = k0; k < k1; k++) {
        int b = shared_block(v, s, k, &parent);
        if (b < 0) {
            row[k] = take_free(v);
            continue;
        }
        v->ref[b]++;
        row[k] = b;
        for (int64_t i = 0; i < B; i++)
            slots[k * B + i - s->old_len] = -1; /* in the cache already */
    }
    for (int64_t t = 0; t < s->n; t++) {
        if (slots[t] == -1)
            continue;
        int64_t pos = s->old_len + t;
        int64_t at = (int64_t)row[pos / B] * B + pos % B;
        slots[t] = at;
        v->tokens[at] = s->fresh[t];
    }
}

/* Pass 3: record the hash of every block this append filled and register
 * it unless a block of the same content is registered. */
static void append_register(bm_view *v, const int32_t *row, int64_t old_len,
                            int64_t n)
{
    int B = v->h->cfg.block_size;
    bm_source own = {v, row, old_len + n, NULL, 0}; /* all stored */
    for (int64_t k = old_len / B; (k + 1) * B <= old_len + n; k++) {
        int b = row[k];
        if (v->registered[b])
            continue; /* a shared hit */
        uint64_t parent = k > 0 ? v->hash[row[k - 1]] : BM_ROOT_HASH;
        v->hash[b] = chain_hash(&own, parent, k);
        if (v->h->cfg.prefix_sharing && lookup(v, &own, v->hash[b], k) < 0)
            hash_insert(v, b);
    }
}

static kva_status check_seq(const bm_view *v, int seq, const char *what,
                            kva_error *err)
{
    if (seq < 0 || seq >= v->h->cfg.max_seqs)
        return kva_fail(err, KVA_ERR_PARAM, "%s %d out of range [0, %d)",
                        what, seq, v->h->cfg.max_seqs);
    int64_t len = v->seq_len[seq];
    if (len < -1 || len > (int64_t)v->h->cfg.max_blocks_per_seq *
                              v->h->cfg.block_size ||
        !row_ok(v, row_of(v, seq), len < 0 ? 0 : blocks_for(len, v->h->cfg.block_size)))
        return kva_fail(err, KVA_ERR_SHAPE,
                        "block manager state corrupted at %s %d", what, seq);
    return KVA_OK;
}

kva_status kva_bm_append(void *bm, int seq, const int32_t *tokens,
                         int num_tokens, int64_t *slots, kva_bm_copy *copy,
                         int *num_copies, kva_error *err)
{
    kva_clear_error(err);
    bm_view v;
    kva_status st = bm_open(bm, &v, err);
    if (st != KVA_OK)
        return st;
    if (copy == NULL || num_copies == NULL ||
        (num_tokens > 0 && (tokens == NULL || slots == NULL)))
        return kva_fail(err, KVA_ERR_NULL, "%s is NULL",
                        copy == NULL ? "copy"
                        : num_copies == NULL ? "num_copies"
                        : tokens == NULL ? "tokens" : "slots");
    if ((st = check_seq(&v, seq, "seq", err)) != KVA_OK)
        return st;
    if (num_tokens < 0)
        return kva_fail(err, KVA_ERR_LENGTH, "num_tokens %d is negative",
                        num_tokens);
    int B = v.h->cfg.block_size;
    int32_t *row = row_of(&v, seq);
    int64_t old_len = v.seq_len[seq] < 0 ? 0 : v.seq_len[seq];
    /* KVA_MUT(38): copy on write skipped */
    int cow = !KVA_MUT(38) && num_tokens > 0 && old_len % B != 0 &&
              v.ref[row[old_len / B]] > 1;
    bm_source s = {&v, row, old_len, tokens, num_tokens};
    int64_t need = append_need(&v, &s, cow);
    if (need < 0)
        return kva_fail(err, KVA_ERR_FULL,
                        "seq %d: %" PRId64 " tokens need %" PRId64
                        " blocks, the row holds %d", seq,
                        old_len + num_tokens, blocks_for(old_len + num_tokens, B),
                        v.h->cfg.max_blocks_per_seq);
    if (need > v.h->num_free)
        return kva_fail(err, KVA_ERR_FULL,
                        "seq %d: %d tokens need %" PRId64
                        " free blocks, %d are free", seq, num_tokens, need,
                        v.h->num_free);
    *num_copies = 0;
    if (cow) {
        int src = row[old_len / B], dst = take_free(&v);
        memcpy(v.tokens + (int64_t)dst * B, v.tokens + (int64_t)src * B,
               (size_t)(old_len % B) * sizeof(int32_t));
        v.ref[src]--; /* still > 0: it was shared */
        row[old_len / B] = dst;
        copy->src = src;
        copy->dst = dst;
        *num_copies = 1;
    }
    /* KVA_MUT(40): a registered block written into stays registered */
    if (!KVA_MUT(40) && !cow && num_tokens > 0 && old_len % B != 0 &&
        v.registered[row[old_len / B]])
        hash_remove(&v, row[old_len / B]); /* its content is about to change */
    append_place(&v, &s, row, slots);
    append_register(&v, row, old_len, num_tokens);
    v.seq_len[seq] = old_len + num_tokens;
    return KVA_OK;
}

/* ---- fork, rollback, free, queries ----------------------------------------- */

kva_status kva_bm_fork(void *bm, int parent, int child, kva_error *err)
{
    kva_clear_error(err);
    bm_view v;
    kva_status st = bm_open(bm, &v, err);
    if (st != KVA_OK || (st = check_seq(&v, parent, "parent", err)) != KVA_OK ||
        (st = check_seq(&v, child, "child", err)) != KVA_OK)
        return st;
    if (v.seq_len[parent] < 0)
        return kva_fail(err, KVA_ERR_PARAM, "parent %d is not live", parent);
    if (v.seq_len[child] >= 0)
        return kva_fail(err, KVA_ERR_PARAM, "child %d is live%s", child,
                        child == parent ? " (it is the parent)" : "");
    int64_t nblk = blocks_for(v.seq_len[parent], v.h->cfg.block_size);
    const int32_t *prow = row_of(&v, parent);
    int32_t *crow = row_of(&v, child);
    for (int64_t k = 0; k < nblk; k++) {
        crow[k] = prow[k];
        v.ref[prow[k]]++;
    }
    v.seq_len[child] = v.seq_len[parent];
    return KVA_OK;
}

kva_status kva_bm_rollback(void *bm, int seq, int num_tokens, kva_error *err)
{
    kva_clear_error(err);
    bm_view v;
    kva_status st = bm_open(bm, &v, err);
    if (st != KVA_OK || (st = check_seq(&v, seq, "seq", err)) != KVA_OK)
        return st;
    int64_t len = v.seq_len[seq];
    if (len < 0)
        return kva_fail(err, KVA_ERR_PARAM, "seq %d is not live", seq);
    if (num_tokens < 0 || num_tokens > len)
        return kva_fail(err, KVA_ERR_LENGTH,
                        "rollback of %d tokens: seq %d holds %" PRId64,
                        num_tokens, seq, len);
    int B = v.h->cfg.block_size;
    int32_t *row = row_of(&v, seq);
    /* KVA_MUT(41): rejected tokens' blocks kept (leaked) */
    int64_t keep = blocks_for(KVA_MUT(41) ? len : len - num_tokens, B);
    for (int64_t k = blocks_for(len, B) - 1; k >= keep; k--) {
        release(&v, row[k]);
        row[k] = -1;
    }
    v.seq_len[seq] = len - num_tokens;
    return KVA_OK;
}

kva_status kva_bm_free(void *bm, int seq, kva_error *err)
{
    kva_clear_error(err);
    bm_view v;
    kva_status st = bm_open(bm, &v, err);
    if (st != KVA_OK || (st = check_seq(&v, seq, "seq", err)) != KVA_OK)
        return st;
    if (v.seq_len[seq] < 0)
        return kva_fail(err, KVA_ERR_PARAM, "seq %d is not live", seq);
    int32_t *row = row_of(&v, seq);
    for (int64_t k = blocks_for(v.seq_len[seq], v.h->cfg.block_size) - 1;
         k >= 0; k--) {
        release(&v, row[k]);
        row[k] = -1;
    }
    v.seq_len[seq] = -1;
    return KVA_OK;
}

kva_status kva_bm_seq(const void *bm, int seq, int *row, int64_t *num_tokens,
                      kva_error *err)
{
    kva_clear_error(err);
    bm_view v;
    kva_status st = bm_open(bm, &v, err);
    if (st != KVA_OK)
        return st;
    if (row == NULL || num_tokens == NULL)
        return kva_fail(err, KVA_ERR_NULL, "%s is NULL",
                        row == NULL ? "row" : "num_tokens");
    if ((st = check_seq(&v, seq, "seq", err)) != KVA_OK)
        return st;
    const int32_t *r = row_of(&v, seq);
    for (int k = 0; k < v.h->cfg.max_blocks_per_seq; k++)
        row[k] = r[k];
    *num_tokens = v.seq_len[seq];
    return KVA_OK;
}

int kva_bm_ref_count(const void *bm, int b)
{
    bm_view v;
    if (bm_open(bm, &v, NULL) != KVA_OK || b < 0 || b >= v.h->cfg.num_blocks)
        return -1;
    return v.ref[b];
}

int kva_bm_num_free(const void *bm)
{
    bm_view v;
    if (bm_open(bm, &v, NULL) != KVA_OK)
        return -1;
    return v.h->num_free;
}
