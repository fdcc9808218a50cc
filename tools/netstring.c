/*
 * netstring.c - strict, incremental netstring parsing for the socketmap
 * server (socketmap_table(5); standards.md A5.2).
 *
 * Pure: bytes in, a borrowed payload out.  The length prefix is at most
 * NS_DIGITS_MAX digits, so a stream of digits is refused after ten bytes
 * instead of being buffered; a payload longer than the caller's limit is
 * refused as soon as its length is known, before it is read.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <string.h>

#include "netstring.h"

/* 999999999 bytes is far above any limit a caller would pass. */
#define NS_DIGITS_MAX 9

enum ns_rc
ns_parse(const uint8_t *buf, size_t len, size_t max,
         const uint8_t **payload, size_t *plen, size_t *used,
         const char **err)
{
    size_t i, n = 0;

    *err = "";
    for (i = 0; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
        if (i == NS_DIGITS_MAX) {
            *err = "netstring: length has more than 9 digits";
            return NS_ERR;
        }
        if (i == 1 && buf[0] == '0') {
            *err = "netstring: length has a leading zero";
            return NS_ERR;
        }
        n = n * 10 + (size_t)(buf[i] - '0');
    }
    if (i == len)
        return NS_MORE; /* at most 9 digits so far, ':' still to come */
    if (i == 0) {
        *err = "netstring: length is not a number";
        return NS_ERR;
    }
    if (buf[i] != ':') {
        *err = "netstring: missing ':' after the length";
        return NS_ERR;
    }
    if (n > max) {
        *err = "netstring: length exceeds the request size limit";
        return NS_ERR;
    }
    /* i digits + ':' + n bytes + ',' */
    if (len - i - 1 < n + 1)
        return NS_MORE;
    if (buf[i + 1 + n] != ',') {
        *err = "netstring: missing ',' after the payload";
        return NS_ERR;
    }
    *payload = buf + i + 1;
    *plen = n;
    *used = i + 2 + n;
    return NS_OK;
}

size_t
ns_format(char *out, size_t size, const char *payload, size_t plen)
{
    char digits[24];
    size_t nd = 0, v = plen, total;

    /* the length in decimal, without snprintf: this is on the per-reply
     * path of the server */
    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    /* digits, ':', payload, ',' and the NUL */
    if (plen > SIZE_MAX - nd - 3)
        return 0;
    total = nd + plen + 3;
    if (size < total)
        return 0;
    for (v = 0; v < nd; v++)
        out[v] = digits[nd - 1 - v];
    out[nd] = ':';
    memcpy(out + nd + 1, payload, plen);
    out[nd + 1 + plen] = ',';
    out[nd + 2 + plen] = '\0';
    return total - 1;
}
