/*
 * netstring.h - netstrings (D. J. Bernstein; socketmap_table(5)) for the
 * Postfix socketmap server.  Pure and incremental: a stream buffer in,
 * one complete netstring (or "need more", or an error) out.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef NETSTRING_H
#define NETSTRING_H

#include <stddef.h>
#include <stdint.h>

enum ns_rc {
    NS_OK = 0,      /* one netstring parsed */
    NS_MORE,        /* incomplete: read more bytes, then call again */
    NS_ERR,         /* malformed or too long: *err says why */
};

/*
 * ns_parse - parse the netstring at the start of buf[0..len), whose
 * payload may be at most max bytes.  Strict: the length is 1 to 9 ASCII
 * digits without leading zeros (except "0:"), then ':', the payload, ','.
 * NS_OK: *payload / *plen point into buf, *used = bytes consumed.
 * NS_MORE: no error so far, but incomplete (never returned once the
 *   length prefix alone shows that the netstring would exceed max).
 * NS_ERR: *err is a static message: "netstring: length is not a number",
 *   "... length has a leading zero", "... length has more than 9 digits",
 *   "... length exceeds the request size limit", "... missing ':' after
 *   the length", "... missing ',' after the payload".
 */
enum ns_rc ns_parse(const uint8_t *buf, size_t len, size_t max,
                    const uint8_t **payload, size_t *plen, size_t *used,
                    const char **err);

/*
 * ns_format - write "<len>:<payload>," into out (size bytes, NUL added).
 * Returns the netstring's length, or 0 if it does not fit.
 */
size_t ns_format(char *out, size_t size, const char *payload, size_t plen);

#endif
