/*
 * error.c — filling kva_error. Every refusal in the library goes through
 * kva_fail, so a message is always NUL-terminated and never overflows.
 */
#include "kva_internal.h"

#include <stdarg.h>
#include <stdio.h>

void kva_clear_error(kva_error *err)
{
    if (err == NULL)
        return;
    err->status = KVA_OK;
    err->msg[0] = '\0';
}

kva_status kva_fail(kva_error *err, kva_status status, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        /* vsnprintf truncates and terminates; a long message is cut, never
         * written past msg. */
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}
