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
