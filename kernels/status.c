/*
 * status.c — names of the kva_status codes, for messages and reports.
 */
#include "kvattn.h"

const char *kva_status_name(kva_status s)
{
    /* A switch rather than a table indexed by s: an out-of-range value (a
     * cast from garbage) must not read past the end of anything. */
    switch (s) {
    case KVA_OK: return "KVA_OK";
    case KVA_ERR_NULL: return "KVA_ERR_NULL";
    case KVA_ERR_SHAPE: return "KVA_ERR_SHAPE";
    case KVA_ERR_PARAM: return "KVA_ERR_PARAM";
    case KVA_ERR_LENGTH: return "KVA_ERR_LENGTH";
    case KVA_ERR_BLOCK: return "KVA_ERR_BLOCK";
    case KVA_ERR_SLOT: return "KVA_ERR_SLOT";
    case KVA_ERR_CONVENTION: return "KVA_ERR_CONVENTION";
    case KVA_ERR_NOMEM: return "KVA_ERR_NOMEM";
    case KVA_ERR_FORMAT: return "KVA_ERR_FORMAT";
    case KVA_ERR_UNSUPPORTED: return "KVA_ERR_UNSUPPORTED";
    case KVA_ERR_FULL: return "KVA_ERR_FULL";
    }
    return "KVA_ERR_UNKNOWN";
}
