/*
 * guard_registry.h — module-internal (guard.c, guard_fault.c): the
 * mappings behind guarded buffers, and the process-wide table that names
 * them for a fault handler and keeps idle ones for reuse. Not for other
 * callers.
 */
#ifndef KVC_GUARD_REGISTRY_H
#define KVC_GUARD_REGISTRY_H

#include <stddef.h>

/* A mapping for a buffer of `bytes` bytes: PROT_NONE guard page(s), the
 * data pages readable and writable, one PROT_NONE trailing guard page; the
 * data ends flush against the trailing guard. Reuses an idle mapping of a
 * fitting size when there is one (then only the data bytes are zeroed; the
 * slack in front of them holds stale bytes), else maps a new one (all
 * zero). Publishes `name` for kvc_guard_fault_text. Returns the data
 * pointer and fills *first_page (the start of the first data page; the
 * slack is [*first_page, data)), or returns NULL. *slot is the table slot
 * to hand back to kvc_guard_unmap (-1 when the table is full: the buffer
 * is guarded all the same, a fault in it goes unnamed). */
unsigned char *kvc_guard_map(const char *name, size_t bytes,
                             unsigned char **first_page, int *slot,
                             unsigned char **map, size_t *map_bytes);

/* Release a mapping from kvc_guard_map: kept idle for reuse (up to a
 * bounded total) or unmapped. */
void kvc_guard_unmap(int slot, unsigned char *map, size_t map_bytes);

#endif /* KVC_GUARD_REGISTRY_H */
