/*
 * alloc.c - allocation wrappers with a "fail the Nth allocation" switch for
 * fault-injection tests, and tp_err formatting.
 *
 * The counter is process-global on purpose: it is a test hook only, never
 * set by production code, and tests run one process per test.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static unsigned long fail_countdown;

/* should_fail - count down to the injected failure, if one is armed */
static int
should_fail(void)
{
    if (fail_countdown == 0)
        return 0;
    return --fail_countdown == 0;
}

void
tp_alloc_fail_at(unsigned long n)
{
    fail_countdown = n;
}

unsigned long
tp_alloc_fail_pending(void)
{
    return fail_countdown;
}

void *
tp_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *
tp_calloc(size_t n, size_t sz)
{
    if (should_fail())
        return NULL;
    return calloc(n ? n : 1, sz ? sz : 1);
}

void *
tp_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

char *
tp_strndup(const char *s, size_t n)
{
    char *d = tp_malloc(n + 1);

    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void
tp_free(void *p)
{
    free(p);
}

void
tp_err_set(struct tp_err *e, const char *fmt, ...)
{
    va_list ap;

    if (e == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
}
