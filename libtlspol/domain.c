/*
 * domain.c - next-hop domain normalisation, MTA-STS mx pattern syntax and
 * MX host matching.
 *
 * RFC 5321 §4.1.2 (Domain = LDH labels), RFC 1035 §2.3.4 (length limits),
 * RFC 5890/5891 and UTS #46 non-transitional processing via libidn2 for
 * U-labels, RFC 8461 §3.2 (mx values), §4.1 and Appendix B (matching).
 *
 * Pure: no I/O, no DNS.  Every byte of the caller's input is read through
 * a tp_cursor.  Limits: TP_DOMAIN_INPUT_MAX (raw input), TP_DOMAIN_MAX
 * (253 octets of text form), TP_LABEL_MAX (63).
 *
 * Reject, don't repair: the first problem found is reported in *e and
 * nothing is returned.  Offsets in messages count from 0.
 *
 * SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <idn2.h>

#include "abnf.h"
#include "common.h"
#include "cursor.h"
#include "domain.h"

/* to_lower - ASCII lowercase, locale-independent */
static uint8_t
to_lower(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return (uint8_t)(c - 'A' + 'a');
    return c;
}

/* last_u8 - the last of len bytes into *b; false when len is 0 */
static bool
last_u8(const uint8_t *p, size_t len, uint8_t *b)
{
    struct tp_cursor c;

    tp_cursor_init(&c, p, len);
    if (len == 0)
        return false;
    c.pos = len - 1;
    return tp_cursor_peek(&c, b);
}

/* first_is_dot - do the len bytes start with '.' */
static bool
first_is_dot(const uint8_t *p, size_t len)
{
    struct tp_cursor c;

    tp_cursor_init(&c, p, len);
    return tp_cursor_skip_if(&c, '.');
}

/* set_bad_char - "<pfx>: invalid character 'c' at offset N<sfx>" */
static void
set_bad_char(struct tp_err *e, const char *pfx, uint8_t c, size_t off,
             const char *sfx)
{
    if (c >= 0x21 && c <= 0x7e)
        tp_err_set(e, "%s: invalid character '%c' at offset %zu%s", pfx,
                   (char)c, off, sfx);
    else
        tp_err_set(e, "%s: invalid character 0x%02x at offset %zu%s", pfx,
                   (unsigned)c, off, sfx);
}

/* Facts about a name gathered by check_ldh, for the IP-literal checks. */
struct ldh_info {
    bool all_digits_dots; /* only digits and dots, e.g. "192.0.2.1" */
    bool last_numeric;    /* the right-most label is all digits */
};

/*
 * check_ldh - validate an RFC 5321 §4.1.2 Domain: labels of 1..TP_LABEL_MAX
 * letters, digits and hyphens, neither starting nor ending with a hyphen
 * (sub-domain = Let-dig [Ldh-str]).  pfx starts every message ("domain",
 * "mx"), sfx ends the invalid-character one, whose offset counts from
 * base.  The caller handles the whole-name rules (empty, trailing dot,
 * total length).
 */
static int
check_ldh(const uint8_t *p, size_t len, size_t base, const char *pfx,
          const char *sfx, struct ldh_info *info, struct tp_err *e)
{
    struct tp_cursor c;
    size_t label_len = 0, label_no = 1, off;
    uint8_t b, prev = 0;
    bool label_digits = true;

    info->all_digits_dots = true;
    tp_cursor_init(&c, p, len);
    for (off = c.pos; tp_cursor_u8(&c, &b); off = c.pos) {
        if (b == '.') {
            if (label_len == 0) {
                tp_err_set(e, "%s: empty label", pfx);
                return TP_ESYNTAX;
            }
            if (prev == '-') {
                tp_err_set(e, "%s: label ends with hyphen", pfx);
                return TP_ESYNTAX;
            }
            label_len = 0;
            label_no++;
            label_digits = true;
            prev = b;
            continue;
        }
        if (b == '-') {
            if (label_len == 0) {
                tp_err_set(e, "%s: label starts with hyphen", pfx);
                return TP_ESYNTAX;
            }
        } else if (!tp_is_alnum(b)) {
            set_bad_char(e, pfx, b, base + off, sfx);
            return TP_ESYNTAX;
        }
        if (!tp_is_digit(b)) {
            label_digits = false;
            info->all_digits_dots = false;
        }
        if (++label_len > TP_LABEL_MAX) {
            tp_err_set(e, "%s: label %zu longer than %d octets", pfx,
                       label_no, TP_LABEL_MAX);
            return TP_ESYNTAX;
        }
        prev = b;
    }
    if (label_len == 0) {
        tp_err_set(e, "%s: empty label", pfx);
        return TP_ESYNTAX;
    }
    if (prev == '-') {
        tp_err_set(e, "%s: label ends with hyphen", pfx);
        return TP_ESYNTAX;
    }
    info->last_numeric = label_digits;
    return TP_OK;
}

/* copy_lower - lowercase n (<= TP_DOMAIN_MAX) validated bytes into out */
static void
copy_lower(const uint8_t *p, size_t n, char out[TP_DOMAIN_MAX + 1])
{
    struct tp_cursor c;
    size_t i = 0;
    uint8_t b;

    tp_cursor_init(&c, p, n);
    while (i < TP_DOMAIN_MAX && tp_cursor_u8(&c, &b))
        out[i++] = (char)to_lower(b);
    out[i] = '\0';
}

/*
 * normalize_ascii - validate an all-ASCII name and write its canonical
 * form: one trailing dot stripped (the root), lowercase, RFC 5321 Domain,
 * at most TP_DOMAIN_MAX octets, and not an IP address.  sfx is appended to
 * invalid-character messages (offsets then refer to the A-label form).
 */
static int
normalize_ascii(const uint8_t *p, size_t len, const char *sfx,
                char out[TP_DOMAIN_MAX + 1], struct tp_err *e)
{
    struct ldh_info info;
    struct in_addr a4;
    uint8_t b;
    int rc;

    if (last_u8(p, len, &b) && b == '.')
        len--;
    if (len == 0) {
        tp_err_set(e, "domain: empty");
        return TP_ESYNTAX;
    }
    if (first_is_dot(p, len)) {
        tp_err_set(e, "domain: leading dot (parent-domain lookup key)");
        return TP_ESYNTAX;
    }
    rc = check_ldh(p, len, 0, "domain", sfx, &info, e);
    if (rc != TP_OK)
        return rc;
    if (len > TP_DOMAIN_MAX) {
        tp_err_set(e, "domain: longer than %d octets", TP_DOMAIN_MAX);
        return TP_ESYNTAX;
    }
    copy_lower(p, len, out);
    /*
     * RFC 8461 §3.4: address literals have no policy.  A dotted quad is
     * syntactically an LDH Domain, so catch it here; an all-numeric TLD
     * (e.g. "10.1", "example.123") is no hostname either (RFC 3696 §2).
     */
    if (info.all_digits_dots && inet_pton(AF_INET, out, &a4) == 1) {
        out[0] = '\0';
        tp_err_set(e, "domain: IP address literal");
        return TP_ESYNTAX;
    }
    if (info.last_numeric) {
        out[0] = '\0';
        tp_err_set(e, "domain: numeric top-level label");
        return TP_ESYNTAX;
    }
    return TP_OK;
}

/* is_ipv6_literal - do these bytes (which contain ':') spell an IPv6 addr */
static bool
is_ipv6_literal(const uint8_t *p, size_t len)
{
    char buf[64];
    struct in6_addr a6;
    const uint8_t *all;
    struct tp_cursor c;

    if (len >= sizeof(buf))
        return false;
    tp_cursor_init(&c, p, len);
    if (!tp_cursor_take(&c, len, &all))
        return false;
    memcpy(buf, all, len);
    buf[len] = '\0';
    return inet_pton(AF_INET6, buf, &a6) == 1;
}

/* normalize_idna - map a name with U-labels to A-labels (UTS #46), check */
static int
normalize_idna(const uint8_t *p, size_t len, char out[TP_DOMAIN_MAX + 1],
               struct tp_err *e)
{
    char buf[TP_DOMAIN_INPUT_MAX + 1];
    char *alabel = NULL;
    const uint8_t *all;
    struct tp_cursor c;
    int irc, rc;

    /* The caller bounds len and has rejected NUL bytes. */
    tp_cursor_init(&c, p, len);
    if (len > TP_DOMAIN_INPUT_MAX || !tp_cursor_take(&c, len, &all)) {
        tp_err_set(e, "domain: input longer than %d octets",
                   TP_DOMAIN_INPUT_MAX);
        return TP_ETOOBIG;
    }
    memcpy(buf, all, len);
    buf[len] = '\0';
    /* RFC 5891 §5 lookup, UTS #46 non-transitional: "ß" is kept, not "ss". */
    irc = idn2_to_ascii_8z(buf, &alabel, IDN2_NONTRANSITIONAL);
    if (irc != IDN2_OK) {
        tp_err_set(e, "domain: not valid IDNA: %s", idn2_strerror(irc));
        return TP_ESYNTAX;
    }
    rc = normalize_ascii((const uint8_t *)alabel, strlen(alabel),
                         " after IDNA mapping", out, e);
    idn2_free(alabel);
    return rc;
}

/* tp_domain_normalize - next-hop domain to canonical A-label form */
int
tp_domain_normalize(const char *in, size_t len, char out[TP_DOMAIN_MAX + 1],
                    struct tp_err *e)
{
    const uint8_t *p = (const uint8_t *)in;
    struct tp_cursor c;
    bool non_ascii = false, colon = false;
    size_t off;
    uint8_t b;

    out[0] = '\0';
    if (len > TP_DOMAIN_INPUT_MAX) {
        tp_err_set(e, "domain: input longer than %d octets",
                   TP_DOMAIN_INPUT_MAX);
        return TP_ETOOBIG;
    }
    if (len == 0 || in == NULL) {
        tp_err_set(e, "domain: empty");
        return TP_ESYNTAX;
    }
    tp_cursor_init(&c, p, len);
    if (tp_cursor_skip_if(&c, '[')) {
        tp_err_set(e, "domain: bracketed next hop");
        return TP_ESYNTAX;
    }
    /* "." alone is the root: reported as empty by normalize_ascii. */
    if (len > 1 && tp_cursor_skip_if(&c, '.')) {
        tp_err_set(e, "domain: leading dot (parent-domain lookup key)");
        return TP_ESYNTAX;
    }
    /* Control bytes (NUL above all) never reach libidn2's C-string API. */
    tp_cursor_init(&c, p, len);
    for (off = c.pos; tp_cursor_u8(&c, &b); off = c.pos) {
        if (b < 0x20 || b == 0x7f) {
            set_bad_char(e, "domain", b, off, "");
            return TP_ESYNTAX;
        }
        if (b >= 0x80)
            non_ascii = true;
        if (b == ':')
            colon = true;
    }
    if (colon && is_ipv6_literal(p, len)) {
        tp_err_set(e, "domain: IP address literal");
        return TP_ESYNTAX;
    }
    if (non_ascii)
        return normalize_idna(p, len, out, e);
    return normalize_ascii(p, len, "", out, e);
}

/* tp_mx_pattern_check - syntax of one RFC 8461 §3.2 mx value */
int
tp_mx_pattern_check(const char *p, size_t len, struct tp_err *e)
{
    const uint8_t *u = (const uint8_t *)p;
    struct ldh_info info;
    struct tp_cursor c;
    const uint8_t *rest;
    size_t base;
    uint8_t b;

    if (p == NULL || len == 0) {
        tp_err_set(e, "mx: empty");
        return TP_ESYNTAX;
    }
    /* A pattern longer than any host name could never match one. */
    if (len > TP_DOMAIN_MAX) {
        tp_err_set(e, "mx: longer than %d octets", TP_DOMAIN_MAX);
        return TP_ESYNTAX;
    }
    tp_cursor_init(&c, u, len);
    /* mx = ["*."] Domain: the wildcard is the whole left-most label. */
    if (tp_cursor_skip_if(&c, '*') && !tp_cursor_skip_if(&c, '.')) {
        tp_err_set(e, "mx: '*' must be followed by '.'");
        return TP_ESYNTAX;
    }
    if (tp_cursor_eof(&c)) {
        tp_err_set(e, "mx: wildcard without a domain");
        return TP_ESYNTAX;
    }
    /* RFC 5321 Domain has no trailing dot (unlike a DNS master file). */
    if (last_u8(u, len, &b) && b == '.') {
        tp_err_set(e, "mx: trailing dot");
        return TP_ESYNTAX;
    }
    base = c.pos;
    if (!tp_cursor_take(&c, tp_cursor_left(&c), &rest))
        return TP_ESYNTAX;
    return check_ldh(rest, len - base, base, "mx", "", &info, e);
}

/* name_len - length of a NUL-terminated name, at most limit + 1 */
static size_t
name_len(const char *s, size_t limit)
{
    size_t n = 0;

    while (n <= limit && s[n] != '\0')
        n++;
    return n;
}

/* eq_nocase - ASCII case-insensitive comparison of two n-byte strings */
static bool
eq_nocase(const char *a, const char *b, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (to_lower((uint8_t)a[i]) != to_lower((uint8_t)b[i]))
            return false;
    return true;
}

/* tp_mx_match - RFC 8461 §4.1 / Appendix B pattern match of an MX host */
bool
tp_mx_match(const char *pattern, const char *host)
{
    size_t plen, hlen, first;
    const char *dot;

    if (pattern == NULL || host == NULL)
        return false;
    plen = name_len(pattern, TP_DOMAIN_MAX);
    hlen = name_len(host, TP_DOMAIN_MAX + 1);
    if (plen == 0 || plen > TP_DOMAIN_MAX || hlen == 0 ||
        hlen > TP_DOMAIN_MAX + 1)
        return false;
    /* The MX target may be written fully qualified; ignore one dot. */
    if (host[hlen - 1] == '.')
        hlen--;
    if (hlen == 0 || hlen > TP_DOMAIN_MAX)
        return false;
    if (pattern[0] != '*')
        return plen == hlen && eq_nocase(pattern, host, hlen);
    /* "*." + rest: host's first label is non-empty, the remainder is rest */
    if (plen < 3 || pattern[1] != '.')
        return false;
    dot = memchr(host, '.', hlen);
    if (dot == NULL)
        return false;
    first = (size_t)(dot - host);
    if (first == 0)
        return false;
    return hlen - first - 1 == plen - 2 &&
           eq_nocase(pattern + 2, dot + 1, plen - 2);
}
