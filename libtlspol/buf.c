/*
 * buf.c - growable buffer with a cap (curl's dynbuf idea): every append is
 * checked against the cap and against size_t overflow.  Also the JSON
 * string escaper used by result.c.
 *
 * Pure.  SPDX-License-Identifier: MIT
 */
#include <stdint.h>
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

size_t
tp_utf8_len(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t len, i;
    uint32_t cp;

    if (n == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, cp = s[0] & 0x07;
    else
        return 0; /* continuation byte, overlong lead 0xc0/0xc1, > 0xf4 */
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0; /* overlong, beyond Unicode, or a surrogate */
    return len;
}

int
tp_buf_json_str(struct tp_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, len;
    int rc = tp_buf_append(b, "\"", 1);

    for (i = 0; rc == TP_OK && i < n; i += len) {
        unsigned char c = (unsigned char)s[i];
        char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

        len = 1;
        if (c == '"' || c == '\\') {
            char two[2] = { '\\', (char)c };
            rc = tp_buf_append(b, two, 2);
        } else if (c == '\n') {
            rc = tp_buf_append(b, "\\n", 2);
        } else if (c < 0x20 || c == 0x7f) {
            rc = tp_buf_append(b, esc, sizeof(esc));
        } else if (c < 0x80) {
            rc = tp_buf_append(b, &s[i], 1);
        } else if ((len = tp_utf8_len(s + i, n - i)) > 0) {
            rc = tp_buf_append(b, &s[i], len); /* valid UTF-8 as is */
        } else {
            len = 1; /* not UTF-8: U+FFFD keeps the output valid JSON */
            rc = tp_buf_append(b, "\\ufffd", 6);
        }
    }
    if (rc == TP_OK)
        rc = tp_buf_append(b, "\"", 1);
    return rc;
}
