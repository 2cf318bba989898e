/* model_say.c — the models' verdict message (model_say.h). */
#include "model_say.h"

#include <stdarg.h>
#include <stdio.h>

int kvc_model_say(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (why && len)
        vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return 0;
}

const char *kvc_model_status_name(kva_status s)
{
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
