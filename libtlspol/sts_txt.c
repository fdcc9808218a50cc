/*
 * sts_txt.c - the MTA-STS TXT record "v=STSv1; id=...; ..." and the choice
 * of the one record among all TXT RRs at _mta-sts.<domain>.
 *
 * RFC 8461 §3.1 (ABNF, record selection, US-ASCII), §3.2 (a repeated
 * non-mx field: the first one counts), erratum 6285 (whitespace before
 * ";" after the version).
 *
 * Pure: (bytes, length) in, struct tp_sts_txt out; every byte is read
 * through a tp_cursor and no NUL terminator is needed.  Limits:
 * TP_STS_TXT_MAX (one record), TP_STS_TXT_RRS_MAX (records considered),
 * TP_STS_ID_MAX (id length), TP_STS_EXT_NAME_MAX.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "abnf.h"
#include "common.h"
#include "cursor.h"
#include "sts.h"

static const char sts_version[] = "v=STSv1";

/* is_ext_value - sts-ext-value character: %x21-3A / %x3C / %x3E-7E */
static bool
is_ext_value(uint8_t c)
{
    return c >= 0x21 && c <= 0x7e && c != ';' && c != '=';
}

/* is_field_end - does a field value end before this byte (WSP or ";") */
static bool
is_field_end(uint8_t c)
{
    return tp_is_wsp(c) || c == ';';
}

/* skip_wsp - consume *WSP; returns how many bytes were skipped */
static size_t
skip_wsp(struct tp_cursor *c)
{
    size_t n = 0;
    uint8_t b;

    while (tp_cursor_peek(c, &b) && tp_is_wsp(b)) {
        c->pos++;
        n++;
    }
    return n;
}

/* set_bad_char - "TXT: <what>: invalid character X at offset N" */
static void
set_bad_char(struct tp_err *e, const char *what, uint8_t b, size_t off)
{
    if (b >= 0x21 && b <= 0x7e)
        tp_err_set(e, "TXT: %s: invalid character '%c' at offset %zu", what,
                   (char)b, off);
    else
        tp_err_set(e, "TXT: %s: invalid character 0x%02x at offset %zu",
                   what, (unsigned)b, off);
}

/*
 * is_sts_record - does the record begin with the version field?  RFC 8461
 * §3.1 discards records not beginning "v=STSv1;"; following erratum 6285
 * (the ABNF's sts-field-delim is *WSP ";" *WSP) we also accept WSP before
 * the ";", and "v=STSv1" alone (then rejected for the missing id).  A
 * longer token such as "v=STSv10" is some other record, not a bad one.
 */
static bool
is_sts_record(const uint8_t *p, size_t len)
{
    struct tp_cursor c;
    const uint8_t *v;
    uint8_t b;

    if (p == NULL)
        return false;
    tp_cursor_init(&c, p, len);
    if (!tp_cursor_take(&c, sizeof(sts_version) - 1, &v))
        return false;
    /* %s"v=STSv1": case-sensitive, no leading whitespace. */
    if (memcmp(v, sts_version, sizeof(sts_version) - 1) != 0)
        return false;
    return !tp_cursor_peek(&c, &b) || tp_is_wsp(b) || b == ';';
}

/* parse_id - sts-id value, 1*32(ALPHA / DIGIT), into id if first seen */
static int
parse_id(struct tp_cursor *c, char id[TP_STS_ID_MAX + 1], bool *have_id,
         struct tp_err *e)
{
    char tmp[TP_STS_ID_MAX + 1];
    size_t n = 0, off;
    uint8_t b;

    for (off = c->pos; tp_cursor_peek(c, &b) && !is_field_end(b);
         off = c->pos) {
        if (!tp_is_alnum(b)) {
            set_bad_char(e, "id", b, off);
            return TP_ESYNTAX;
        }
        if (n == TP_STS_ID_MAX) {
            tp_err_set(e, "TXT: id: longer than %d characters",
                       TP_STS_ID_MAX);
            return TP_ESYNTAX;
        }
        tmp[n++] = (char)b;
        c->pos++;
    }
    if (n == 0) {
        tp_err_set(e, "TXT: id: empty");
        return TP_ESYNTAX;
    }
    tmp[n] = '\0';
    /*
     * §3.2: "all but the first ... SHALL be ignored"; a repeated id must
     * still be a well-formed id (a bad id is never silently passed over).
     */
    if (!*have_id) {
        memcpy(id, tmp, n + 1);
        *have_id = true;
    }
    return TP_OK;
}

/* parse_ext_value - sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E) */
static int
parse_ext_value(struct tp_cursor *c, const uint8_t *name, size_t nlen,
                struct tp_err *e)
{
    size_t n = 0, off;
    uint8_t b;

    for (off = c->pos; tp_cursor_peek(c, &b) && !is_field_end(b);
         off = c->pos) {
        if (!is_ext_value(b)) {
            if (b >= 0x21 && b <= 0x7e)
                tp_err_set(e, "TXT: extension %.*s: invalid character "
                           "'%c' at offset %zu", (int)nlen,
                           (const char *)name, (char)b, off);
            else
                tp_err_set(e, "TXT: extension %.*s: invalid character "
                           "0x%02x at offset %zu", (int)nlen,
                           (const char *)name, (unsigned)b, off);
            return TP_ESYNTAX;
        }
        c->pos++;
        n++;
    }
    if (n == 0) {
        tp_err_set(e, "TXT: extension %.*s: empty value", (int)nlen,
                   (const char *)name);
        return TP_ESYNTAX;
    }
    return TP_OK;
}

/*
 * parse_field - one sts-field: "id=" value or sts-ext-name "=" value.  A
 * field named exactly "id" is always taken as sts-id and held to its
 * grammar, though "id=a-b" would also match sts-extension: a malformed id
 * is rejected rather than ignored.
 */
static int
parse_field(struct tp_cursor *c, char id[TP_STS_ID_MAX + 1], bool *have_id,
            struct tp_err *e)
{
    const uint8_t *name;
    size_t start = c->pos, nlen = 0, off;
    uint8_t b;

    /* sts-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".") */
    for (off = c->pos; tp_cursor_peek(c, &b) && b != '='; off = c->pos) {
        if (is_field_end(b))
            break;
        if (!tp_is_alnum(b) && (nlen == 0 || (b != '_' && b != '-' &&
                                           b != '.'))) {
            set_bad_char(e, "field name", b, off);
            return TP_ESYNTAX;
        }
        if (nlen == TP_STS_EXT_NAME_MAX) {
            tp_err_set(e, "TXT: field name at offset %zu longer than %d "
                       "characters", start, TP_STS_EXT_NAME_MAX);
            return TP_ESYNTAX;
        }
        c->pos++;
        nlen++;
    }
    if (nlen == 0) {
        tp_err_set(e, "TXT: empty field name at offset %zu", start);
        return TP_ESYNTAX;
    }
    name = c->p + start;
    if (!tp_cursor_skip_if(c, '=')) {
        tp_err_set(e, "TXT: field %.*s: missing '='", (int)nlen,
                   (const char *)name);
        return TP_ESYNTAX;
    }
    if (nlen == 2 && memcmp(name, "id", 2) == 0)
        return parse_id(c, id, have_id, e);
    return parse_ext_value(c, name, nlen, e);
}

/* tp_sts_txt_parse - parse one concatenated "v=STSv1; id=..." record */
int
tp_sts_txt_parse(const uint8_t *p, size_t len, struct tp_sts_txt *out,
                 struct tp_err *e)
{
    char id[TP_STS_ID_MAX + 1] = "";
    struct tp_cursor c;
    bool have_id = false;
    size_t off;
    uint8_t b;
    int rc;

    /* The prefix comes first so that select() can discard big non-STS RRs. */
    if (!is_sts_record(p, len)) {
        tp_err_set(e, "TXT: not an STS record (no v=STSv1 prefix)");
        return TP_ENOENT;
    }
    if (len > TP_STS_TXT_MAX) {
        tp_err_set(e, "TXT: record longer than %d octets", TP_STS_TXT_MAX);
        return TP_ETOOBIG;
    }
    /* §3.1: "Records ... MUST be US-ASCII". */
    tp_cursor_init(&c, p, len);
    for (off = c.pos; tp_cursor_u8(&c, &b); off = c.pos) {
        if (b >= 0x80) {
            tp_err_set(e, "TXT: non-ASCII byte 0x%02x at offset %zu",
                       (unsigned)b, off);
            return TP_ESYNTAX;
        }
    }
    /*
     * sts-text-record = sts-version 1*(sts-field-delim sts-field)
     *                   [sts-field-delim]
     * sts-field-delim = *WSP ";" *WSP
     */
    tp_cursor_init(&c, p, len);
    c.pos = sizeof(sts_version) - 1;
    for (;;) {
        off = c.pos;
        if (skip_wsp(&c) == 0 && tp_cursor_eof(&c))
            break;
        if (!tp_cursor_skip_if(&c, ';')) {
            if (tp_cursor_eof(&c))
                tp_err_set(e, "TXT: whitespace at end of record without "
                           "';' at offset %zu", off);
            else if (tp_cursor_peek(&c, &b) && b >= 0x21 && b <= 0x7e)
                tp_err_set(e, "TXT: expected ';' at offset %zu, found "
                           "'%c'", c.pos, (char)b);
            else
                tp_err_set(e, "TXT: expected ';' at offset %zu, found "
                           "0x%02x", c.pos, (unsigned)b);
            return TP_ESYNTAX;
        }
        skip_wsp(&c);
        if (tp_cursor_eof(&c))
            break; /* the optional trailing sts-field-delim */
        rc = parse_field(&c, id, &have_id, e);
        if (rc != TP_OK)
            return rc;
    }
    if (!have_id) {
        tp_err_set(e, "TXT: id: missing");
        return TP_ESYNTAX;
    }
    memcpy(out->id, id, sizeof(out->id));
    return TP_OK;
}

/* tp_sts_txt_select - RFC 8461 §3.1 record selection among all TXT RRs */
int
tp_sts_txt_select(const struct tp_txt_rr *rrs, size_t n,
                  struct tp_sts_txt *out, struct tp_err *e)
{
    size_t i, found = 0, which = 0;

    if (n > TP_STS_TXT_RRS_MAX) {
        tp_err_set(e, "TXT: %zu records, more than %d", n,
                   TP_STS_TXT_RRS_MAX);
        return TP_ETOOBIG;
    }
    for (i = 0; i < n && rrs != NULL; i++) {
        if (is_sts_record(rrs[i].data, rrs[i].len)) {
            found++;
            which = i;
        }
    }
    if (found == 0) {
        tp_err_set(e, "TXT: no v=STSv1 record");
        return TP_ENOENT;
    }
    /*
     * §3.1: "If the number of resulting records is not one, or if the
     * resulting record is syntactically invalid, senders MUST assume the
     * recipient domain does not have an available MTA-STS Policy."
     */
    if (found > 1) {
        tp_err_set(e, "TXT: %zu v=STSv1 records, exactly one allowed",
                   found);
        return TP_EMULTI;
    }
    return tp_sts_txt_parse(rrs[which].data, rrs[which].len, out, e);
}
