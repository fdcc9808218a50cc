/*
 * abnf.h - RFC 5234 core rules as locale-independent character tests,
 * shared by the pure parsers.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_ABNF_H
#define TP_ABNF_H

#include <stdbool.h>
#include <stdint.h>

/* tp_is_digit - DIGIT */
static inline bool
tp_is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* tp_is_alnum - ALPHA / DIGIT */
static inline bool
tp_is_alnum(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           tp_is_digit(c);
}

/* tp_is_wsp - WSP = SP / HTAB */
static inline bool
tp_is_wsp(uint8_t c)
{
    return c == ' ' || c == '\t';
}

#endif
