/*
 * guard_registry.c — the mappings behind guarded buffers (guard_registry.h)
 * and kvc_guard_fault_text (guard.h).
 *
 * The table below is the one piece of process-wide mutable state in
 * kvcheck: a SIGSEGV handler has no other way to reach the live guarded
 * buffers, so it lives here in tools/ (never in library code). It is a
 * fixed array of plain entries (names copied into fixed char arrays) that
 * the handler reads without locks or allocation. Each entry's state is a
 * lock-free atomic, claimed by compare-and-swap and published only once its
 * fields are written, so neither a handler nor another thread reads a
 * half-written entry as live.
 *
 * The same table keeps released mappings idle for reuse (bounded in total
 * bytes): a case runs the kernel three times (the run and two property
 * re-runs) with a few dozen small buffers each, and a fresh mmap, mprotect,
 * page faults and munmap per buffer cost more than the rest of the guard.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guard.h"
#include "guard_registry.h"

#define TABLE_MAX 512
/* Idle mappings kept: each at most IDLE_MAP_MAX bytes, all together at
 * most IDLE_TOTAL_MAX. */
#define IDLE_MAP_MAX ((size_t)8 << 20)
#define IDLE_TOTAL_MAX ((size_t)64 << 20)

enum { ENTRY_FREE = 0, ENTRY_BUSY, ENTRY_LIVE, ENTRY_IDLE };

typedef struct entry {
    atomic_int state;
    unsigned char *map; /* [map, map + map_bytes): guard(s), data, guard */
    size_t map_bytes;
    size_t rw_pages;    /* the data pages (the last ones before the trailing
                           guard) currently readable and writable */
    uintptr_t data;     /* LIVE: the buffer's first byte, */
    uintptr_t guard_end; /* the end of the leading guard (first RW page), */
    uintptr_t trail;    /* the trailing guard page (= data + bytes) */
    uintptr_t page;
    char name[KVC_GUARD_NAME_MAX];
} entry;

static entry table[TABLE_MAX];
static atomic_size_t idle_bytes;

static size_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

/* Start of the trailing guard page of e's mapping. */
static unsigned char *trail(const entry *e, size_t pg)
{
    return e->map + e->map_bytes - pg;
}

/* Claim a free slot, or failing that evict an idle mapping. -1: full. */
static int claim_slot(void)
{
    for (int i = 0; i < TABLE_MAX; i++) {
        int expect = ENTRY_FREE;
        if (atomic_load_explicit(&table[i].state, memory_order_relaxed) ==
                ENTRY_FREE &&
            atomic_compare_exchange_strong(&table[i].state, &expect, ENTRY_BUSY))
            return i;
    }
    for (int i = 0; i < TABLE_MAX; i++) {
        int expect = ENTRY_IDLE;
        if (atomic_compare_exchange_strong(&table[i].state, &expect,
                                           ENTRY_BUSY)) {
            atomic_fetch_sub(&idle_bytes, table[i].map_bytes);
            munmap(table[i].map, table[i].map_bytes);
            return i;
        }
    }
    return -1;
}

/* Make exactly the last `need` data pages of an idle mapping readable and
 * writable (the rest stay or become guard). Returns 0 or -1. */
static int reprotect(entry *e, size_t need, size_t pg)
{
    unsigned char *t = trail(e, pg);
    int rc = 0;
    if (need > e->rw_pages)
        rc = mprotect(t - need * pg, (need - e->rw_pages) * pg,
                      PROT_READ | PROT_WRITE);
    else if (need < e->rw_pages)
        rc = mprotect(t - e->rw_pages * pg, (e->rw_pages - need) * pg,
                      PROT_NONE);
    if (rc == 0)
        e->rw_pages = need;
    return rc;
}

/* An idle mapping with room for `need` data pages and not much more, made
 * ready (BUSY); -1 when none fits. */
static int reuse_idle(size_t need, size_t pg)
{
    for (int i = 0; i < TABLE_MAX; i++) {
        entry *e = &table[i];
        if (atomic_load_explicit(&e->state, memory_order_relaxed) != ENTRY_IDLE)
            continue;
        size_t cap = e->map_bytes / pg - 2;
        int expect = ENTRY_IDLE;
        if (cap < need || cap > 2 * need + 1 ||
            !atomic_compare_exchange_strong(&e->state, &expect, ENTRY_BUSY))
            continue;
        atomic_fetch_sub(&idle_bytes, e->map_bytes);
        if (reprotect(e, need, pg) == 0)
            return i;
        munmap(e->map, e->map_bytes);
        atomic_store(&e->state, ENTRY_FREE);
    }
    return -1;
}

/* A new mapping: guard page, `need` data pages, guard page. MAP_NORESERVE:
 * a sparse pool of many GiB costs only the pages a case touches. It is
 * mapped readable and writable whole, and only the two guard pages are
 * protected: valgrind's memcheck updates its shadow for every page an
 * mprotect covers, and a sparse pool's tens of GiB exhaust it. */
static unsigned char *new_mapping(size_t need, size_t pg, size_t *map_bytes)
{
    *map_bytes = (need + 2) * pg;
    unsigned char *m = mmap(NULL, *map_bytes, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
                            0);
    if (m == MAP_FAILED)
        return NULL;
    if (mprotect(m, pg, PROT_NONE) != 0 ||
        mprotect(m + *map_bytes - pg, pg, PROT_NONE) != 0) {
        munmap(m, *map_bytes);
        return NULL;
    }
    return m;
}

unsigned char *kvc_guard_map(const char *name, size_t bytes,
                             unsigned char **first_page, int *slot,
                             unsigned char **map, size_t *map_bytes)
{
    const size_t pg = page_size();
    if (bytes > SIZE_MAX / 2 - 3 * pg)
        return NULL;
    size_t need = (bytes + pg - 1) / pg;
    int i = reuse_idle(need, pg);
    const int reused = i >= 0;
    unsigned char *m;
    if (reused) {
        m = table[i].map;
        *map_bytes = table[i].map_bytes;
    } else {
        m = new_mapping(need, pg, map_bytes);
        if (!m)
            return NULL;
        i = claim_slot();
    }
    unsigned char *t = m + *map_bytes - pg;
    unsigned char *data = t - bytes;
    *first_page = t - need * pg;
    *map = m;
    *slot = i;
    if (i < 0)
        return data;
    entry *e = &table[i];
    if (reused) /* a new mapping is all zero already */
        memset(data, 0, bytes);
    e->map = m;
    e->map_bytes = *map_bytes;
    e->rw_pages = need;
    e->data = (uintptr_t)data;
    e->guard_end = (uintptr_t)*first_page;
    e->trail = (uintptr_t)t;
    e->page = pg;
    size_t n = strlen(name);
    n = n < sizeof e->name ? n : sizeof e->name - 1;
    memcpy(e->name, name, n);
    e->name[n] = '\0';
    atomic_store(&e->state, ENTRY_LIVE);
    return data;
}

void kvc_guard_unmap(int slot, unsigned char *map, size_t map_bytes)
{
    if (!map)
        return;
    if (slot < 0 || slot >= TABLE_MAX) {
        munmap(map, map_bytes);
        return;
    }
    entry *e = &table[slot];
    if (map_bytes <= IDLE_MAP_MAX &&
        atomic_fetch_add(&idle_bytes, map_bytes) + map_bytes <= IDLE_TOTAL_MAX) {
        atomic_store(&e->state, ENTRY_IDLE);
        return;
    }
    if (map_bytes <= IDLE_MAP_MAX)
        atomic_fetch_sub(&idle_bytes, map_bytes);
    atomic_store(&e->state, ENTRY_BUSY);
    munmap(map, map_bytes);
    e->map = NULL;
    atomic_store(&e->state, ENTRY_FREE);
}

/* ---- naming a fault (async-signal-safe) ---- */

typedef struct text {
    char *buf;
    size_t cap, len;
} text;

static void put_str(text *t, const char *s)
{
    for (; *s; s++)
        if (t->len + 1 < t->cap)
            t->buf[t->len++] = *s;
    if (t->cap > 0)
        t->buf[t->len] = '\0';
}

static void put_u64(text *t, uint64_t v)
{
    char s[24];
    int k = sizeof s - 1;
    s[k] = '\0';
    do {
        s[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put_str(t, s + k);
}

static int describe(text *t, uint64_t dist, const char *side,
                    const char *name)
{
    put_str(t, "kernel accessed ");
    put_u64(t, dist);
    put_str(t, side);
    put_str(t, name);
    put_str(t, " (guard page)");
    return 1;
}

int kvc_guard_fault_text(const void *addr, char *buf, size_t n)
{
    const uintptr_t a = (uintptr_t)addr;
    text t = {buf, n, 0};
    for (int i = 0; i < TABLE_MAX; i++) {
        entry *e = &table[i];
        if (atomic_load(&e->state) != ENTRY_LIVE)
            continue;
        if (a >= (uintptr_t)e->map && a < e->guard_end)
            return describe(&t, e->data - a, " bytes before the start of ",
                            e->name);
        if (a >= e->trail && a - e->trail < e->page)
            return describe(&t, a - e->trail, " bytes past the end of ",
                            e->name);
    }
    return 0;
}
