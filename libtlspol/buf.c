/*
 * buf.c - growable buffer with a cap (curl's dynbuf idea): every append is
 * checked against the cap and against size_t overflow.  Also the JSON
 * string escaper used by result.c.
 *
 * Pure.  SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"

void
tp_buf_init(struct tp_buf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void
tp_buf_free(struct tp_buf *b)
{
    tp_free(b->p);
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
}

/* grow - make room for need more bytes plus the NUL */
static int
grow(struct tp_buf *b, size_t need)
{
    size_t want, ncap;
    char *np;

    if (need > b->max || b->len > b->max - need)
        return TP_ETOOBIG;
    want = b->len + need + 1;
    if (want <= b->cap)
        return TP_OK;
    ncap = b->cap ? b->cap : 64;
    while (ncap < want) {
        if (ncap > ((size_t)-1) / 2) {
            ncap = want;
            break;
        }
        ncap *= 2;
    }
    if (ncap > b->max + 1)
        ncap = b->max + 1;
    np = tp_realloc(b->p, ncap);
    if (np == NULL)
        return TP_ENOMEM;
    b->p = np;
    b->cap = ncap;
    return TP_OK;
}

int
tp_buf_append(struct tp_buf *b, const void *p, size_t n)
{
    int rc = grow(b, n);

    if (rc != TP_OK)
        return rc;
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
    return TP_OK;
}

int
tp_buf_puts(struct tp_buf *b, const char *s)
{
    return tp_buf_append(b, s, strlen(s));
}

int
tp_buf_printf(struct tp_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return TP_ESYNTAX;
    rc = grow(b, (size_t)n);
    if (rc != TP_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return TP_OK;
}

int
tp_buf_json_str(struct tp_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;
    int rc = tp_buf_append(b, "\"", 1);

    for (i = 0; rc == TP_OK && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

        if (c == '"' || c == '\\') {
            char two[2] = { '\\', (char)c };
            rc = tp_buf_append(b, two, 2);
        } else if (c == '\n') {
            rc = tp_buf_append(b, "\\n", 2);
        } else if (c < 0x20 || c == 0x7f || c >= 0x80) {
            /* Non-ASCII never reaches us as valid UTF-8 we vouch for;
             * escape it so the output is always valid JSON. */
            if (c >= 0x80) {
                esc[2] = '0';
                esc[3] = '0';
            }
            rc = tp_buf_append(b, esc, sizeof(esc));
        } else {
            rc = tp_buf_append(b, &s[i], 1);
        }
    }
    if (rc == TP_OK)
        rc = tp_buf_append(b, "\"", 1);
    return rc;
}
