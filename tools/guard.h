/*
 * guard.h — guard zones around every buffer handed to the kernel under test.
 *
 * The kernel is presumed buggy (DESIGN.md, "The gate and the kernel under
 * test"): a write one element past an output, or into an input, must be
 * found even when it lands in memory malloc would have tolerated, and even
 * under valgrind.
 *
 * Layout of one guarded buffer (its own anonymous mapping):
 *
 *   [guard page][ sentinel slack | data ................ ][guard page]
 *    PROT_NONE    first data page  ...     last data page   PROT_NONE
 *
 *   - The data ends flush against the trailing guard page (start = end of
 *     the data pages - bytes; bytes is a multiple of the element size, so
 *     the start keeps the element's alignment). Any access past the end
 *     traps at once (SIGSEGV), also under valgrind.
 *   - The slack at the front of the first data page holds sentinel bytes,
 *     checked by kvc_guard_check after each kernel call: an access before
 *     the start either changes a sentinel (found by the check) or reaches
 *     the leading guard page (traps).
 *   - A zero-byte buffer has no data page: its pointer is non-NULL, valid to
 *     pass, and points at its trailing guard page.
 *   - The leading guard may span more than one page: released mappings are
 *     kept idle (process-wide, at most 64 MiB) and reused for a buffer of
 *     up to their size, with the data pages it does not need made guard.
 *     A case runs the kernel three times with a few dozen small buffers
 *     each; fresh mappings cost more than everything else the guard does.
 *
 * Roles: an OUTPUT buffer may be written by the kernel (only its sentinels
 * are checked). An INPUT buffer is snapshotted when it becomes an input
 * (kvc_guard_input, kvc_guard_set_role) and must stay byte-identical. A
 * buffer may change role between calls (the QEfficient conversion's
 * outputs are the next calls' inputs).
 *
 * Large sparse buffers (the large-offset pools, mapped with MAP_NORESERVE:
 * only touched pages use memory; every guarded buffer is mapped that way)
 * get the same two guard pages; kvc_guard_set_ranges limits the snapshot
 * and compare of an input to the ranges that hold data, so nothing copies
 * gigabytes.
 *
 * A set groups the guarded buffers of one run. It is a plain struct owned by
 * the caller: zero-initialise it (or kvc_guard_init), allocate into it,
 * kvc_guard_free it. Functions never abort; allocations return NULL (or -1)
 * when memory or mappings run out.
 *
 * Faults: a process-wide registry of live guard pages (guard_registry.c,
 * which also keeps the idle mappings) lets a SIGSEGV/SIGBUS handler name
 * the buffer whose guard page was hit (kvc_guard_fault_text,
 * async-signal-safe).
 */
#ifndef KVC_GUARD_H
#define KVC_GUARD_H

#include <stddef.h>
#include <stdint.h>

/* Longest buffer name kept (longer names are truncated). */
#define KVC_GUARD_NAME_MAX 32

typedef enum kvc_guard_role {
    KVC_GUARD_ROLE_OUTPUT = 0, /* the kernel may write the data */
    KVC_GUARD_ROLE_INPUT       /* must stay as snapshotted */
} kvc_guard_role;

/* What kvc_guard_check found. */
typedef enum kvc_guard_violation {
    KVC_GUARD_OK = 0,
    KVC_GUARD_BOUNDS, /* a sentinel before the start of a buffer changed */
    KVC_GUARD_INPUT   /* an input buffer changed */
} kvc_guard_violation;

/* One guarded buffer (fields are the module's; read-only for callers). */
typedef struct kvc_guard_buf {
    char name[KVC_GUARD_NAME_MAX];
    kvc_guard_role role;
    unsigned char *map;   /* the mapping: leading guard first */
    size_t map_bytes;
    unsigned char *data;  /* the buffer, flush against the trailing guard */
    size_t bytes;
    size_t elem;          /* element size, for offsets in messages */
    size_t slack;         /* sentinel bytes before data */
    unsigned char *snap;  /* INPUT: the snapshot (of the ranges, if any) */
    int64_t *ranges;      /* NULL (whole buffer) or [num_ranges][2]: first
                             unit, unit count */
    int64_t num_ranges;
    size_t unit;          /* bytes of a range unit */
    int reg;              /* slot in the fault registry, or -1 */
} kvc_guard_buf;

typedef struct kvc_guard_set {
    kvc_guard_buf *bufs;
    int count, cap;
} kvc_guard_set;

/* An empty set (same as zero-initialising it). */
void kvc_guard_init(kvc_guard_set *s);

/* A new guarded buffer of `bytes` (a multiple of elem; elem >= 1), zero
 * filled, named `name`, in role `role` (an INPUT snapshot is taken now).
 * Returns the data pointer (non-NULL even for 0 bytes), or NULL. */
void *kvc_guard_alloc(kvc_guard_set *s, const char *name, kvc_guard_role role,
                      size_t bytes, size_t elem);

/* A guarded INPUT copy of src (bytes, elem as above; src may be NULL when
 * bytes is 0). Returns the copy, or NULL. */
void *kvc_guard_input(kvc_guard_set *s, const char *name, const void *src,
                      size_t bytes, size_t elem);

/* Change the role of the buffer whose data is `data`; becoming an INPUT
 * snapshots its current contents. Returns 0, or -1 (unknown buffer, out of
 * memory). */
int kvc_guard_set_role(kvc_guard_set *s, const void *data, kvc_guard_role role);

/* Limit the snapshot/compare of the buffer at `data` to ranges [n][2] of
 * (first unit, unit count), units of `unit` bytes (copied). Call before the
 * buffer becomes an input. Returns 0 or -1. */
int kvc_guard_set_ranges(kvc_guard_set *s, const void *data,
                         const int64_t *ranges, int64_t n, size_t unit);

/* Check every buffer of the set: sentinels first, then inputs. Returns
 * KVC_GUARD_OK, or the first violation with a one-line message in msg:
 *   "kernel wrote before the start of out: byte -4 (element -1) changed"
 *   "kernel wrote into its input block_table: byte 12 (element 3) changed"
 * (byte offsets from the buffer's start; the first changed byte). */
kvc_guard_violation kvc_guard_check(const kvc_guard_set *s, char *msg,
                                    size_t n);

/* Unmap every buffer and leave the set empty (reusable). */
void kvc_guard_free(kvc_guard_set *s);

/* Async-signal-safe (no malloc, no stdio, no locale). If addr lies in a
 * guard page of a live guarded buffer, write a NUL-terminated line (no
 * newline) such as
 *   "kernel accessed 0 bytes past the end of lse (guard page)"
 *   "kernel accessed 8 bytes before the start of out (guard page)"
 * into buf (truncated to n) and return 1; else return 0. */
int kvc_guard_fault_text(const void *addr, char *buf, size_t n);

/* Install a SIGSEGV/SIGBUS handler on an alternate stack that writes
 * kvc_guard_fault_text's line and a newline to stderr (fd 2) when the
 * address is in a guard page, then re-raises the signal with the default
 * action (the process still dies by it). A fault elsewhere goes to the
 * handler installed before (AddressSanitizer's, say), or kills by the
 * signal. For in-process runs and replay (kvcheck's main installs it); a
 * worker process may call kvc_guard_fault_text from its own handler. */
void kvc_guard_install_fault_reporter(void);

#endif /* KVC_GUARD_H */
