/*
 * sts_policy.c - the MTA-STS policy body served at
 * https://mta-sts.<domain>/.well-known/mta-sts.txt.
 *
 * RFC 8461 §3.2 (ABNF: version, mode, max_age, mx, extensions), erratum
 * 6253 (lines end in LF or CRLF), erratum 7282 (max_age digits vs. the
 * 31557600 cap), RFC 5321 §4.1.2 (mx Domain syntax, via domain.c).
 *
 * Pure: (bytes, length) in, struct tp_sts_policy out; every byte is read
 * through a tp_cursor and no NUL terminator is needed.  Limits:
 * TP_STS_BODY_MAX, TP_STS_LINE_MAX, TP_STS_MX_MAX, TP_STS_MAXAGE_MAX,
 * TP_STS_MAXAGE_DIGITS, TP_STS_EXT_NAME_MAX.
 *
 * Choices where the RFC leaves room (each rejects rather than repairs):
 * - a repeat of version, mode or max_age is an error, not "first wins";
 * - blank lines are tolerated, leading whitespace is not;
 * - max_age above 31557600 is clamped (the raw value is kept).
 * Error text is "policy: line N: <key>: <what>" for one line and
 * "policy: <what>" for the whole body.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "abnf.h"
#include "common.h"
#include "cursor.h"
#include "domain.h"
#include "sts.h"

/* Parser state across lines. */
struct pstate {
    struct tp_sts_policy pol; /* being built; owns mx[] */
    size_t line;              /* 1-based number of the current line */
    bool have_version;
    bool have_mode;
    bool have_max_age;
};

/* A borrowed run of bytes inside the body. */
struct span {
    const uint8_t *p;
    size_t len;
};

/* span_eq - does the span hold exactly the string s */
static bool
span_eq(struct span v, const char *s)
{
    size_t n = strlen(s);

    return v.len == n && memcmp(v.p, s, n) == 0;
}

/* check_ctl - reject CTLs (other than HTAB) anywhere on a line, naming it */
static int
check_ctl(struct span line, size_t lineno, struct tp_err *e)
{
    struct tp_cursor c;
    size_t col;
    uint8_t b;

    tp_cursor_init(&c, line.p, line.len);
    for (col = 1; tp_cursor_u8(&c, &b); col++) {
        if (b == '\0') {
            tp_err_set(e, "policy: line %zu: NUL byte at column %zu", lineno,
                       col);
            return TP_ESYNTAX;
        }
        if (b == '\r') {
            tp_err_set(e, "policy: line %zu: CR not followed by LF at "
                       "column %zu", lineno, col);
            return TP_ESYNTAX;
        }
        if ((b < 0x20 && b != '\t') || b == 0x7f) {
            tp_err_set(e, "policy: line %zu: control character 0x%02x at "
                       "column %zu", lineno, (unsigned)b, col);
            return TP_ESYNTAX;
        }
    }
    return TP_OK;
}

/*
 * split_key - split "key:" *WSP value *WSP.  The key must be a known key
 * or an sts-policy-ext-name, (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" /
 * "-" / "."); the value excludes the WSP around it.
 */
static int
split_key(struct span line, size_t lineno, struct span *key,
          struct span *val, struct tp_err *e)
{
    struct tp_cursor c;
    size_t col, vstart, vend;
    uint8_t b;

    tp_cursor_init(&c, line.p, line.len);
    if (tp_cursor_peek(&c, &b) && tp_is_wsp(b)) {
        tp_err_set(e, "policy: line %zu: leading whitespace", lineno);
        return TP_ESYNTAX;
    }
    key->p = line.p;
    for (col = 1; tp_cursor_peek(&c, &b) && b != ':'; col++) {
        if (!tp_is_alnum(b) && (col == 1 || (b != '_' && b != '-' &&
                                          b != '.'))) {
            if (b >= 0x21 && b <= 0x7e)
                tp_err_set(e, "policy: line %zu: invalid character '%c' in "
                           "key at column %zu", lineno, (char)b, col);
            else
                tp_err_set(e, "policy: line %zu: invalid character 0x%02x "
                           "in key at column %zu", lineno, (unsigned)b, col);
            return TP_ESYNTAX;
        }
        if (col > TP_STS_EXT_NAME_MAX) {
            tp_err_set(e, "policy: line %zu: key longer than %d characters",
                       lineno, TP_STS_EXT_NAME_MAX);
            return TP_ESYNTAX;
        }
        c.pos++;
    }
    key->len = c.pos;
    if (!tp_cursor_skip_if(&c, ':')) {
        tp_err_set(e, "policy: line %zu: missing ':' after key", lineno);
        return TP_ESYNTAX;
    }
    if (key->len == 0) {
        tp_err_set(e, "policy: line %zu: empty key", lineno);
        return TP_ESYNTAX;
    }
    /* sts-policy-field-delim = ":" *WSP; the line may end in *WSP. */
    while (tp_cursor_peek(&c, &b) && tp_is_wsp(b))
        c.pos++;
    vstart = vend = c.pos;
    while (tp_cursor_u8(&c, &b))
        if (!tp_is_wsp(b))
            vend = c.pos;
    val->p = c.p + vstart;
    val->len = vend - vstart;
    return TP_OK;
}

/* set_dup - the one message for a repeated required key */
static int
set_dup(size_t lineno, const char *key, struct tp_err *e)
{
    /*
     * RFC 8461 §3.2: of duplicated non-mx fields "all but the first SHALL
     * be ignored".  This project refuses the body instead (a deliberate
     * deviation, decided for this parser): with two differing modes or
     * max_ages the publisher's intent is unknown, and "first wins" would
     * apply one of them (say testing over enforce) with no error shown.
     * Refused, the body counts as "no valid policy", the same as any other
     * syntax error, and the reason names the line.
     */
    tp_err_set(e, "policy: line %zu: %s: duplicate key", lineno, key);
    return TP_ESYNTAX;
}

/* parse_max_age - max_age = 1*10 DIGIT, clamped to TP_STS_MAXAGE_MAX */
static int
parse_max_age(struct pstate *st, struct span v, struct tp_err *e)
{
    struct tp_cursor c;
    uint64_t n = 0;
    size_t digits = 0;
    uint8_t b;

    tp_cursor_init(&c, v.p, v.len);
    while (tp_cursor_u8(&c, &b)) {
        if (b < '0' || b > '9') {
            tp_err_set(e, "policy: line %zu: max_age: not a number",
                       st->line);
            return TP_ESYNTAX;
        }
        digits++;
    }
    if (digits > TP_STS_MAXAGE_DIGITS) {
        tp_err_set(e, "policy: line %zu: max_age: more than %d digits",
                   st->line, TP_STS_MAXAGE_DIGITS);
        return TP_ESYNTAX;
    }
    tp_cursor_init(&c, v.p, v.len);
    while (tp_cursor_u8(&c, &b)) {
        if (__builtin_mul_overflow(n, 10u, &n) ||
            __builtin_add_overflow(n, (unsigned)(b - '0'), &n)) {
            tp_err_set(e, "policy: line %zu: max_age: too large", st->line);
            return TP_ESYNTAX;
        }
    }
    /* 0 is valid ABNF; above one year is clamped (erratum 7282, IMPL). */
    st->pol.max_age_raw = n;
    st->pol.max_age = n > TP_STS_MAXAGE_MAX ? TP_STS_MAXAGE_MAX : (uint32_t)n;
    return TP_OK;
}

/* add_mx - check one mx value (RFC 8461 §3.2) and keep it lowercased */
static int
add_mx(struct pstate *st, struct span v, struct tp_err *e)
{
    struct tp_err sub;
    char *s;
    size_t i;
    int rc;

    if (st->pol.n_mx == TP_STS_MX_MAX) {
        tp_err_set(e, "policy: line %zu: mx: more than %d mx lines",
                   st->line, TP_STS_MX_MAX);
        return TP_ETOOBIG;
    }
    rc = tp_mx_pattern_check((const char *)v.p, v.len, &sub);
    if (rc != TP_OK) {
        tp_err_set(e, "policy: line %zu: %s", st->line, sub.msg);
        return rc;
    }
    if (st->pol.mx == NULL) {
        st->pol.mx = tp_calloc(TP_STS_MX_MAX, sizeof(*st->pol.mx));
        if (st->pol.mx == NULL)
            goto nomem;
    }
    s = tp_strndup((const char *)v.p, v.len);
    if (s == NULL)
        goto nomem;
    /* Checked above: v.len bytes of LDH, '.' and '*', no NUL. */
    for (i = 0; i < v.len; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (char)(s[i] - 'A' + 'a');
    st->pol.mx[st->pol.n_mx++] = s;
    return TP_OK;
nomem:
    tp_err_set(e, "policy: out of memory");
    return TP_ENOMEM;
}

/*
 * check_ext_value - sts-policy-ext-value: sts-policy-vchar (%x21-7E or
 * UTF-8) with inner SP allowed; no HTAB or other CTL (CTLs were already
 * refused by check_ctl).  Bytes >= 0x80 are accepted without checking
 * UTF-8 well-formedness: the value is ignored.
 */
static int
check_ext_value(struct pstate *st, struct span key, struct span v,
                struct tp_err *e)
{
    struct tp_cursor c;
    uint8_t b;

    if (v.len == 0) {
        tp_err_set(e, "policy: line %zu: %.*s: empty value", st->line,
                   (int)key.len, (const char *)key.p);
        return TP_ESYNTAX;
    }
    tp_cursor_init(&c, v.p, v.len);
    while (tp_cursor_u8(&c, &b)) {
        if (b == '\t') {
            tp_err_set(e, "policy: line %zu: %.*s: tab inside value",
                       st->line, (int)key.len, (const char *)key.p);
            return TP_ESYNTAX;
        }
    }
    return TP_OK;
}

/* parse_line - one non-blank line: a known key or an extension */
static int
parse_line(struct pstate *st, struct span line, struct tp_err *e)
{
    struct span key, v;
    int rc;

    rc = check_ctl(line, st->line, e);
    if (rc != TP_OK)
        return rc;
    rc = split_key(line, st->line, &key, &v, e);
    if (rc != TP_OK)
        return rc;
    if (span_eq(key, "version")) {
        if (st->have_version)
            return set_dup(st->line, "version", e);
        st->have_version = true;
        /* version = %s"version" sts-policy-field-delim %s"STSv1" */
        if (!span_eq(v, "STSv1")) {
            tp_err_set(e, "policy: line %zu: version: %s", st->line,
                       v.len == 0 ? "empty value" : "not STSv1");
            return TP_ESYNTAX;
        }
        return TP_OK;
    }
    if (span_eq(key, "mode")) {
        if (st->have_mode)
            return set_dup(st->line, "mode", e);
        st->have_mode = true;
        if (span_eq(v, "enforce"))
            st->pol.mode = TP_STS_MODE_ENFORCE;
        else if (span_eq(v, "testing"))
            st->pol.mode = TP_STS_MODE_TESTING;
        else if (span_eq(v, "none"))
            st->pol.mode = TP_STS_MODE_NONE;
        else {
            tp_err_set(e, "policy: line %zu: mode: %s", st->line,
                       v.len == 0 ? "empty value"
                                  : "not one of testing, enforce, none");
            return TP_ESYNTAX;
        }
        return TP_OK;
    }
    if (span_eq(key, "max_age")) {
        if (st->have_max_age)
            return set_dup(st->line, "max_age", e);
        st->have_max_age = true;
        if (v.len == 0) {
            tp_err_set(e, "policy: line %zu: max_age: empty value",
                       st->line);
            return TP_ESYNTAX;
        }
        return parse_max_age(st, v, e);
    }
    if (span_eq(key, "mx")) {
        if (v.len == 0) {
            tp_err_set(e, "policy: line %zu: mx: empty value", st->line);
            return TP_ESYNTAX;
        }
        return add_mx(st, v, e);
    }
    /* §3.2: unknown fields SHALL be ignored, once syntactically valid. */
    rc = check_ext_value(st, key, v, e);
    if (rc == TP_OK)
        st->pol.n_ext++;
    return rc;
}

/* next_line - take the next line (terminator stripped); false at end */
static bool
next_line(struct tp_cursor *c, struct span *line, bool *too_long)
{
    size_t start = c->pos, n = 0;
    bool cr = false;
    uint8_t b;

    if (tp_cursor_eof(c))
        return false;
    line->p = c->p + start;
    while (tp_cursor_u8(c, &b)) {
        if (b == '\n') {
            /* sts-policy-term = LF / CRLF (erratum 6253) */
            if (cr)
                n--;
            break;
        }
        cr = b == '\r';
        n++;
    }
    line->len = n;
    *too_long = n > TP_STS_LINE_MAX;
    return true;
}

/* tp_sts_policy_parse - parse a policy body into *out */
int
tp_sts_policy_parse(const uint8_t *p, size_t len, struct tp_sts_policy *out,
                    struct tp_err *e)
{
    struct pstate st;
    struct tp_cursor c;
    struct span line;
    bool too_long;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&st, 0, sizeof(st));
    if (len > TP_STS_BODY_MAX) {
        tp_err_set(e, "policy: body larger than %d bytes", TP_STS_BODY_MAX);
        return TP_ETOOBIG;
    }
    if (p == NULL || len == 0) {
        tp_err_set(e, "policy: empty body");
        return TP_ESYNTAX;
    }
    tp_cursor_init(&c, p, len);
    while (next_line(&c, &line, &too_long)) {
        st.line++;
        if (too_long) {
            tp_err_set(e, "policy: line %zu: longer than %d bytes", st.line,
                       TP_STS_LINE_MAX);
            rc = TP_ETOOBIG;
            goto out;
        }
        /* Not in the ABNF, but harmless: blank lines are skipped (IMPL). */
        if (line.len == 0)
            continue;
        rc = parse_line(&st, line, e);
        if (rc != TP_OK)
            goto out;
    }
    rc = TP_ESYNTAX;
    if (!st.have_version) {
        tp_err_set(e, "policy: missing version");
        goto out;
    }
    if (!st.have_mode) {
        tp_err_set(e, "policy: missing mode");
        goto out;
    }
    if (!st.have_max_age) {
        tp_err_set(e, "policy: missing max_age");
        goto out;
    }
    /* §3.2: "mx" is required unless mode is "none". */
    if (st.pol.mode != TP_STS_MODE_NONE && st.pol.n_mx == 0) {
        tp_err_set(e, "policy: missing mx (required unless mode is none)");
        goto out;
    }
    *out = st.pol;
    memset(&st.pol, 0, sizeof(st.pol));
    rc = TP_OK;
out:
    tp_sts_policy_free(&st.pol);
    return rc;
}

/* tp_sts_policy_free - release the mx patterns; leaves *pol empty */
void
tp_sts_policy_free(struct tp_sts_policy *pol)
{
    size_t i;

    if (pol == NULL)
        return;
    for (i = 0; i < pol->n_mx && pol->mx != NULL; i++)
        tp_free(pol->mx[i]);
    tp_free(pol->mx);
    memset(pol, 0, sizeof(*pol));
}

/* tp_sts_mode_name - the policy keyword of a mode, "" when unset */
const char *
tp_sts_mode_name(enum tp_sts_mode m)
{
    switch (m) {
    case TP_STS_MODE_NONE:
        return "none";
    case TP_STS_MODE_TESTING:
        return "testing";
    case TP_STS_MODE_ENFORCE:
        return "enforce";
    case TP_STS_MODE_UNSET:
        break;
    }
    return "";
}
