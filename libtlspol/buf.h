/*
 * buf.h - a growable byte buffer with a cap fixed at creation.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_BUF_H
#define TP_BUF_H

#include <stddef.h>

#include "common.h"

struct tp_buf {
    char *p;      /* owned; always NUL-terminated when non-NULL */
    size_t len;   /* bytes used, excluding the NUL */
    size_t cap;   /* bytes allocated */
    size_t max;   /* hard cap on len */
};

/* tp_buf_init - empty buffer that will never hold more than max bytes */
void tp_buf_init(struct tp_buf *b, size_t max);
/* tp_buf_free - release the storage; the buffer may be reused */
void tp_buf_free(struct tp_buf *b);
/* tp_buf_append - append n bytes: TP_OK, TP_ETOOBIG (nothing added), TP_ENOMEM */
int tp_buf_append(struct tp_buf *b, const void *p, size_t n);
/* tp_buf_puts - append a C string */
int tp_buf_puts(struct tp_buf *b, const char *s);
/* tp_buf_printf - append formatted text, same results as tp_buf_append */
int tp_buf_printf(struct tp_buf *b, const char *fmt, ...) TP_PRINTF(2, 3);
/* tp_buf_json_str - append s (n bytes) as a quoted, escaped JSON string:
 * valid UTF-8 as is, control characters escaped, any other byte as
 * U+FFFD */
int tp_buf_json_str(struct tp_buf *b, const char *s, size_t n);
/* tp_utf8_len - length of the well-formed UTF-8 sequence at p (RFC 3629:
 * no overlongs, surrogates or code points beyond U+10FFFF), at most n
 * bytes; 0 if there is none */
size_t tp_utf8_len(const char *p, size_t n);

#endif
