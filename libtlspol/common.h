/*
 * common.h - internal status codes, error text and allocation hooks shared
 * by every module.  Nothing here is exported.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_COMMON_H
#define TP_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "tp_limits.h"

/* Internal return codes; parsers return these, never abort. */
enum tp_rc {
    TP_OK = 0,
    TP_ENOMEM,   /* allocation failed */
    TP_ESYNTAX,  /* input malformed; tp_err says where and why */
    TP_ENOENT,   /* nothing applicable found (e.g. no v=STSv1 record) */
    TP_EMULTI,   /* more than one candidate where exactly one is allowed */
    TP_ETOOBIG,  /* input exceeds a named limit */
};

/* A bounded error message; parsers fill it, callers copy it to a reason. */
struct tp_err {
    char msg[TP_REASON_MAX];
};

#if defined(__GNUC__)
#define TP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TP_PRINTF(f, a)
#endif

/* tp_err_set - format a message into *e (NULL-safe, truncates safely) */
void tp_err_set(struct tp_err *e, const char *fmt, ...) TP_PRINTF(2, 3);

/* Allocation wrappers with a fault-injection hook for tests. */
void *tp_malloc(size_t n);
void *tp_calloc(size_t n, size_t sz);
void *tp_realloc(void *p, size_t n);
char *tp_strndup(const char *s, size_t n);
void tp_free(void *p);
/* tp_alloc_fail_at - make the Nth allocation from now fail (0: never) */
void tp_alloc_fail_at(unsigned long n);
/* tp_alloc_fail_pending - allocations left before the injected failure
 * (0: none armed, or it already happened) */
unsigned long tp_alloc_fail_pending(void);

#endif
