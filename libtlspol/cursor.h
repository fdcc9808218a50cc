/*
 * cursor.h - a bounded reader over untrusted bytes.  Every accessor checks
 * the remaining length and returns an error instead of reading past the
 * end; nothing here asserts on input.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_CURSOR_H
#define TP_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tp_cursor {
    const uint8_t *p;
    size_t len;
    size_t pos;
};

static inline void
tp_cursor_init(struct tp_cursor *c, const uint8_t *p, size_t len)
{
    c->p = p;
    c->len = len;
    c->pos = 0;
}

static inline size_t
tp_cursor_left(const struct tp_cursor *c)
{
    return c->len - c->pos;
}

static inline bool
tp_cursor_eof(const struct tp_cursor *c)
{
    return c->pos >= c->len;
}

/* tp_cursor_peek - next byte into *b without consuming; false at end */
static inline bool
tp_cursor_peek(const struct tp_cursor *c, uint8_t *b)
{
    if (c->pos >= c->len)
        return false;
    *b = c->p[c->pos];
    return true;
}

/* tp_cursor_u8 - consume one byte; false at end */
static inline bool
tp_cursor_u8(struct tp_cursor *c, uint8_t *b)
{
    if (c->pos >= c->len)
        return false;
    *b = c->p[c->pos++];
    return true;
}

/* tp_cursor_u16 - consume a network-order 16-bit value; false if short */
static inline bool
tp_cursor_u16(struct tp_cursor *c, uint16_t *v)
{
    if (c->len - c->pos < 2)
        return false;
    *v = (uint16_t)((c->p[c->pos] << 8) | c->p[c->pos + 1]);
    c->pos += 2;
    return true;
}

/* tp_cursor_take - borrow n bytes at the cursor; false if fewer remain */
static inline bool
tp_cursor_take(struct tp_cursor *c, size_t n, const uint8_t **out)
{
    if (c->len - c->pos < n)
        return false;
    *out = c->p + c->pos;
    c->pos += n;
    return true;
}

/* tp_cursor_skip_if - consume byte b if it is next; true if consumed */
static inline bool
tp_cursor_skip_if(struct tp_cursor *c, uint8_t b)
{
    if (c->pos < c->len && c->p[c->pos] == b) {
        c->pos++;
        return true;
    }
    return false;
}

#endif
