/*
 * dane.c - TLSA record RDATA: parse, judge usability for SMTP, digest
 * algorithm agility over an RRset, and a bounded text form for logs and
 * TLS-RPT policy strings.
 *
 * RFC 6698 §2.1 (RDATA wire format), §2.1.1-§2.1.3 and §7.2-§7.4 (usage,
 * selector, matching type registries), §2.2 (presentation form);
 * RFC 7671 §4.1, §5, §9 (DANE-TA/DANE-EE, digest algorithm agility);
 * RFC 7672 §3.1, §3.1.3 (only DANE-TA(2) and DANE-EE(3) count for SMTP).
 *
 * Pure: (bytes, length) in, struct tp_tlsa out; every byte of the RDATA is
 * read through a tp_cursor and no NUL terminator is needed.  OpenSSL is
 * used only to check that Full(0) data is exactly one DER certificate or
 * SubjectPublicKeyInfo (it clears the calling thread's OpenSSL error
 * queue, before and after, and keeps no other state).  Limits:
 * TP_TLSA_DATA_MAX (whole RDATA, as dane.h specifies).
 *
 * Checks run in a fixed order and the first failure names the record:
 * usage, selector, matching type, length, DER.  A record that fails one
 * of them is still returned (TP_OK, data copied) so that it can be shown
 * in reports; only RDATA that cannot hold a record at all is refused.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "common.h"
#include "cursor.h"
#include "dane.h"

/* RFC 6698 §2.1: usage, selector and matching type precede the data. */
#define TLSA_FIXED 3

/* Digest sizes of SHA2-256 and SHA2-512 (RFC 6698 §2.1.3, RFC 6234). */
#define SHA256_LEN 32
#define SHA512_LEN 64

/* d2i_*() take a long length; C11 guarantees LONG_MAX >= 2^31 - 1. */
_Static_assert(TP_TLSA_DATA_MAX <= 2147483647L, "TLSA data too long");

/* field_kind - "private-use" for 255 (RFC 6698 §7.2-§7.4), else unknown */
static const char *
field_kind(uint8_t v)
{
    return v == 255 ? "private-use" : "unknown";
}

/*
 * der_nomem - drain the error queue; did the failed decode report running
 * out of memory?  A record must not be judged malformed, and so perhaps
 * unusable, only because an allocation failed.  OpenSSL 3.0's ASN.1
 * decoder reports every allocation failure (tests/unit/test_dane.c).
 */
static bool
der_nomem(void)
{
    unsigned long err;
    bool nomem = false;

    while ((err = ERR_get_error()) != 0) {
        if (ERR_GET_REASON(err) == ERR_R_MALLOC_FAILURE)
            nomem = true;
    }
    return nomem;
}

/*
 * check_der - RFC 6698 §2.1.2, §2.1.3: Full(0) data is the whole DER
 * Certificate (selector 0) or SubjectPublicKeyInfo (selector 1) of RFC
 * 5280, so it must decode and the decoder must consume every octet.
 *
 * Both are checked as ASN.1 structures.  d2i_X509_PUBKEY, not
 * d2i_PUBKEY: like d2i_X509 it accepts a key this OpenSSL cannot use
 * (an unknown algorithm, a point off the curve), where d2i_PUBKEY would
 * refuse the same key as an SPKI that it accepts inside a certificate;
 * and d2i_PUBKEY's key decoders report a failed allocation only as
 * "decode error", which would turn no memory into "bad DER".
 */
static int
check_der(const struct tp_tlsa *t, enum tp_tlsa_why *why, struct tp_err *e)
{
    const unsigned char *p = t->data;
    const char *what;
    X509 *x = NULL;
    X509_PUBKEY *k = NULL;
    bool ok;
    int rc = TP_OK;

    /* The usual OpenSSL pattern: clear, call, then read what it left. */
    ERR_clear_error();
    if (t->selector == TP_TLSA_SEL_CERT) {
        what = "certificate";
        x = d2i_X509(NULL, &p, (long)t->len);
        ok = x != NULL;
    } else {
        what = "SubjectPublicKeyInfo";
        k = d2i_X509_PUBKEY(NULL, &p, (long)t->len);
        ok = k != NULL;
    }
    if (!ok && der_nomem()) {
        tp_err_set(e, "TLSA: out of memory");
        rc = TP_ENOMEM;
    } else if (!ok) {
        tp_err_set(e, "TLSA %u %u %u: data is not a DER %s (RFC 6698 "
                   "§2.1.2)", t->usage, t->selector, t->mtype, what);
        *why = TP_TLSA_BAD_DER;
    } else if ((size_t)(p - t->data) != t->len) {
        size_t extra = t->len - (size_t)(p - t->data);

        tp_err_set(e, "TLSA %u %u %u: %zu octet%s after the DER %s (RFC "
                   "6698 §2.1.2)", t->usage, t->selector, t->mtype, extra,
                   extra == 1 ? "" : "s", what);
        *why = TP_TLSA_BAD_DER;
    }
    ERR_clear_error();
    X509_free(x);
    X509_PUBKEY_free(k);
    return rc;
}

/*
 * judge - is the record usable for SMTP?  Sets *why and, when it is not,
 * *e.  Returns TP_OK or TP_ENOMEM (only from the DER check).
 */
static int
judge(const struct tp_tlsa *t, enum tp_tlsa_why *why, struct tp_err *e)
{
    size_t want;

    *why = TP_TLSA_OK;
    /*
     * RFC 7672 §3.1.3: PKIX-TA(0) and PKIX-EE(1) may be treated as
     * unusable, and RFC 7671 §4.1 says they SHOULD NOT be used with
     * opportunistic security; like Postfix we always do.
     */
    if (t->usage == TP_TLSA_PKIX_TA || t->usage == TP_TLSA_PKIX_EE) {
        tp_err_set(e, "TLSA %u %u %u: %s usage is not usable for SMTP (RFC "
                   "7672 §3.1.3)", t->usage, t->selector, t->mtype,
                   t->usage == TP_TLSA_PKIX_TA ? "PKIX-TA" : "PKIX-EE");
        *why = TP_TLSA_PKIX_USAGE;
        return TP_OK;
    }
    /* RFC 7672 §3.1: only DANE-TA(2) and DANE-EE(3); 4-254 unassigned. */
    if (t->usage != TP_TLSA_DANE_TA && t->usage != TP_TLSA_DANE_EE) {
        tp_err_set(e, "TLSA %u %u %u: %s usage %u is not usable (RFC 7672 "
                   "§3.1)", t->usage, t->selector, t->mtype,
                   field_kind(t->usage), t->usage);
        *why = TP_TLSA_BAD_USAGE;
        return TP_OK;
    }
    /* RFC 6698 §2.1.2: Cert(0) or SPKI(1). */
    if (t->selector != TP_TLSA_SEL_CERT && t->selector != TP_TLSA_SEL_SPKI) {
        tp_err_set(e, "TLSA %u %u %u: %s selector %u (RFC 6698 §2.1.2)",
                   t->usage, t->selector, t->mtype, field_kind(t->selector),
                   t->selector);
        *why = TP_TLSA_BAD_SELECTOR;
        return TP_OK;
    }
    /*
     * RFC 6698 §2.1.3: Full(0), SHA2-256(1), SHA2-512(2); §6: SHA2-256
     * MUST and SHA2-512 SHOULD be implemented.
     */
    if (t->mtype != TP_TLSA_MT_FULL && t->mtype != TP_TLSA_MT_SHA256 &&
        t->mtype != TP_TLSA_MT_SHA512) {
        tp_err_set(e, "TLSA %u %u %u: %s matching type %u (RFC 6698 "
                   "§2.1.3)", t->usage, t->selector, t->mtype,
                   field_kind(t->mtype), t->mtype);
        *why = TP_TLSA_BAD_MTYPE;
        return TP_OK;
    }
    if (t->mtype == TP_TLSA_MT_FULL)
        return check_der(t, why, e);
    /*
     * RFC 6698 §2.1.3: the data is the SHA2-256 or SHA2-512 hash itself,
     * so any other length is malformed and can never match; malformed
     * records are unusable (RFC 6698 §4.1, RFC 7672 §3.1).
     */
    want = t->mtype == TP_TLSA_MT_SHA256 ? SHA256_LEN : SHA512_LEN;
    if (t->len != want) {
        tp_err_set(e, "TLSA %u %u %u: digest is %zu octets, %s needs %zu",
                   t->usage, t->selector, t->mtype, t->len,
                   t->mtype == TP_TLSA_MT_SHA256 ? "SHA2-256" : "SHA2-512",
                   want);
        *why = TP_TLSA_BAD_LENGTH;
    }
    return TP_OK;
}

/* tp_tlsa_parse - parse one TLSA RDATA into *out and judge it */
int
tp_tlsa_parse(const uint8_t *rdata, size_t len, struct tp_tlsa *out,
              enum tp_tlsa_why *why, struct tp_err *e)
{
    struct tp_tlsa t = {0};
    struct tp_cursor c;
    const uint8_t *data;
    int rc;

    memset(out, 0, sizeof(*out));
    /* Never leave TP_TLSA_OK behind for a caller that ignores rc. */
    *why = TP_TLSA_BAD_LENGTH;
    if (rdata == NULL)
        len = 0;
    /* Cap the copy, and the work of the DER decoder, on untrusted input. */
    if (len > TP_TLSA_DATA_MAX) {
        tp_err_set(e, "TLSA: RDATA is %zu octets, more than %d", len,
                   TP_TLSA_DATA_MAX);
        return TP_ESYNTAX;
    }
    /* RFC 6698 §2.1: three one-octet fields, then the association data. */
    tp_cursor_init(&c, rdata, len);
    if (!tp_cursor_u8(&c, &t.usage) || !tp_cursor_u8(&c, &t.selector) ||
        !tp_cursor_u8(&c, &t.mtype)) {
        tp_err_set(e, "TLSA: RDATA is %zu octets, at least %d needed (RFC "
                   "6698 §2.1)", len, TLSA_FIXED + 1);
        return TP_ESYNTAX;
    }
    /*
     * RFC 6698 §2.1.4: the data is what is matched, so empty data can
     * never match anything; dane.h refuses it with the short RDATA.
     */
    t.len = tp_cursor_left(&c);
    if (t.len == 0 || !tp_cursor_take(&c, t.len, &data)) {
        tp_err_set(e, "TLSA %u %u %u: no association data (RDATA is %zu "
                   "octets, at least %d needed; RFC 6698 §2.1)", t.usage,
                   t.selector, t.mtype, len, TLSA_FIXED + 1);
        return TP_ESYNTAX;
    }
    t.data = tp_malloc(t.len);
    if (t.data == NULL) {
        tp_err_set(e, "TLSA: out of memory");
        return TP_ENOMEM;
    }
    memcpy(t.data, data, t.len);
    if (e != NULL)
        e->msg[0] = '\0';
    rc = judge(&t, why, e);
    if (rc != TP_OK) {
        *why = TP_TLSA_BAD_LENGTH;
        tp_free(t.data);
        return rc;
    }
    *out = t;
    return TP_OK;
}

/* tp_tlsa_free - release t->data; NULL-safe and safe to repeat */
void
tp_tlsa_free(struct tp_tlsa *t)
{
    if (t == NULL)
        return;
    tp_free(t->data);
    t->data = NULL;
    t->len = 0;
}

/* digest_rank - strength of a matching type; 0 for Full(0) (not a digest) */
static unsigned
digest_rank(uint8_t mtype)
{
    switch (mtype) {
    case TP_TLSA_MT_SHA256:
        return 1;
    case TP_TLSA_MT_SHA512:
        return 2;
    default:
        return 0;
    }
}

/*
 * tp_tlsa_select - RFC 7671 §9 digest algorithm agility: unusable records
 * are already out; per (usage, selector) pair keep Full(0) and the
 * strongest digest present, mark weaker digests superseded.
 */
size_t
tp_tlsa_select(const struct tp_tlsa *recs, enum tp_tlsa_why *why, size_t n)
{
    /* Usable means usage 2/3 and selector 0/1: a 2 x 2 table suffices. */
    unsigned best[2][2] = {{0, 0}, {0, 0}};
    size_t i, left = 0;

    if (recs == NULL || why == NULL)
        return 0;
    for (i = 0; i < n; i++) {
        const struct tp_tlsa *t = &recs[i];
        unsigned r = digest_rank(t->mtype);

        if (why[i] != TP_TLSA_OK || (t->usage != TP_TLSA_DANE_TA &&
                                     t->usage != TP_TLSA_DANE_EE) ||
            t->selector > TP_TLSA_SEL_SPKI)
            continue;
        if (r > best[t->usage - TP_TLSA_DANE_TA][t->selector])
            best[t->usage - TP_TLSA_DANE_TA][t->selector] = r;
    }
    for (i = 0; i < n; i++) {
        const struct tp_tlsa *t = &recs[i];
        unsigned r = digest_rank(t->mtype);

        if (why[i] != TP_TLSA_OK)
            continue;
        /* A record judged usable by someone else is left as it is. */
        if ((t->usage == TP_TLSA_DANE_TA || t->usage == TP_TLSA_DANE_EE) &&
            t->selector <= TP_TLSA_SEL_SPKI && r != 0 &&
            r < best[t->usage - TP_TLSA_DANE_TA][t->selector]) {
            why[i] = TP_TLSA_SUPERSEDED;
            continue;
        }
        left++;
    }
    return left;
}

/* put_hex - two lowercase hex digits of b at dst (RFC 6698 §2.3 style) */
static void
put_hex(char *dst, uint8_t b)
{
    static const char hex[] = "0123456789abcdef";

    dst[0] = hex[b >> 4];
    dst[1] = hex[b & 0x0f];
}

/*
 * tp_tlsa_format - "3 1 1 <hex>" (RFC 6698 §2.2, §2.3; also the shape of
 * an RFC 8460 §4.4 TLSA policy-string) into buf.  When the hex does not
 * fit, whole octets from each end are kept around "..." (fine for logs,
 * not for a report); when not even that fits, the text is cut.  Always
 * NUL-terminated when size > 0.
 */
char *
tp_tlsa_format(const struct tp_tlsa *t, char *buf, size_t size)
{
    size_t len, pos, room, keep, i;
    int n;

    if (buf == NULL || size == 0)
        return buf;
    buf[0] = '\0';
    if (t == NULL)
        return buf;
    len = t->data != NULL ? t->len : 0;
    n = snprintf(buf, size, len ? "%u %u %u " : "%u %u %u", t->usage,
                 t->selector, t->mtype);
    if (n < 0 || (size_t)n >= size || len == 0)
        return buf;
    pos = (size_t)n;
    room = size - 1 - pos;
    if (len <= room / 2) {
        for (i = 0; i < len; i++)
            put_hex(buf + pos + 2 * i, t->data[i]);
        buf[pos + 2 * len] = '\0';
        return buf;
    }
    /* Not even "..." fits: the fields alone, without the blank. */
    if (room < 3) {
        buf[pos - 1] = '\0';
        return buf;
    }
    /* Elide the middle: keep whole octets at each end, 2 x 2 hex digits. */
    keep = (room - 3) / 4;
    for (i = 0; i < keep; i++)
        put_hex(buf + pos + 2 * i, t->data[i]);
    pos += 2 * keep;
    memcpy(buf + pos, "...", 3);
    pos += 3;
    for (i = 0; i < keep; i++)
        put_hex(buf + pos + 2 * i, t->data[len - keep + i]);
    pos += 2 * keep;
    buf[pos] = '\0';
    return buf;
}

/* tp_tlsa_why_name - short text for a tp_tlsa_why value */
const char *
tp_tlsa_why_name(enum tp_tlsa_why why)
{
    switch (why) {
    case TP_TLSA_OK:
        return "usable";
    case TP_TLSA_PKIX_USAGE:
        return "PKIX usage";
    case TP_TLSA_BAD_USAGE:
        return "bad usage";
    case TP_TLSA_BAD_SELECTOR:
        return "bad selector";
    case TP_TLSA_BAD_MTYPE:
        return "bad matching type";
    case TP_TLSA_BAD_LENGTH:
        return "bad length";
    case TP_TLSA_BAD_DER:
        return "bad DER";
    case TP_TLSA_SUPERSEDED:
        return "superseded";
    }
    return "unknown";
}
