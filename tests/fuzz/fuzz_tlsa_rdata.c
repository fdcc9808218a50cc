/* Target: tp_tlsa_parse */
/*
 * fuzz_tlsa_rdata.c - libFuzzer harness for the TLSA RDATA parser (RFC
 * 6698 §2.1), with the parsed records fed on to tp_tlsa_select (RFC 7671
 * §9) and tp_tlsa_format.
 *
 * The whole input is parsed as one RDATA.  It is also read as an RRset:
 * RDATA pieces, each preceded by a 16-bit big-endian length as on the
 * wire (RFC 1035 §3.2.1), at most TP_TLSA_RRS_MAX of them.  Properties
 * checked beyond "no crash":
 * - rc is TP_ESYNTAX exactly for RDATA under 4 or over TP_TLSA_DATA_MAX
 *   octets, and *out is then empty and *why not "usable";
 * - the record holds the input's fields and an exact copy of its data;
 * - usable implies usage 2/3, selector 0/1, matching type 0/1/2, and a
 *   32/64-octet digest or (Full) data of the DER's first tag; PKIX usage
 *   is reported exactly for usages 0 and 1; unusable records have text;
 * - select only ever turns "usable" into "superseded", and only for a
 *   SHA2-256 record beside a usable SHA2-512 one of the same usage and
 *   selector; it counts what is left; a second run changes nothing;
 * - the text form fits every buffer size tried, is NUL-terminated, and
 *   is the whole "u s m hex" whenever that fits.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "dane.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs beyond this are ignored: the parser stops at TP_TLSA_DATA_MAX. */
#define FUZZ_INPUT_MAX (64 * 1024)

/* Largest text: "255 255 255 " and two hex digits per octet. */
#define TEXT_MAX (12 + 2 * TP_TLSA_DATA_MAX + 1)

static char text[TEXT_MAX];
static char small[TEXT_MAX];

/* check_parsed - invariants of one tp_tlsa_parse call on p[0..n) */
static void
check_parsed(const uint8_t *p, size_t n, int rc, const struct tp_tlsa *t,
             enum tp_tlsa_why why, const struct tp_err *e)
{
    if (strnlen(e->msg, sizeof(e->msg)) == sizeof(e->msg))
        abort();
    if (n < 4 || n > TP_TLSA_DATA_MAX) {
        if (rc != TP_ESYNTAX || t->data != NULL || t->len != 0 ||
            why == TP_TLSA_OK || e->msg[0] == '\0')
            abort();
        return;
    }
    if (rc != TP_OK)
        abort();
    if (t->usage != p[0] || t->selector != p[1] || t->mtype != p[2] ||
        t->len != n - 3 || t->data == NULL ||
        memcmp(t->data, p + 3, t->len) != 0)
        abort();
    if ((why == TP_TLSA_PKIX_USAGE) != (p[0] == 0 || p[0] == 1))
        abort();
    if (why == TP_TLSA_SUPERSEDED)
        abort();
    if (why != TP_TLSA_OK) {
        if (strncmp(e->msg, "TLSA ", 5) != 0)
            abort();
        return;
    }
    if (e->msg[0] != '\0')
        abort();
    if (p[0] != TP_TLSA_DANE_TA && p[0] != TP_TLSA_DANE_EE)
        abort();
    if (p[1] != TP_TLSA_SEL_CERT && p[1] != TP_TLSA_SEL_SPKI)
        abort();
    switch (p[2]) {
    case TP_TLSA_MT_FULL:
        /* Both a Certificate and an SPKI are a DER SEQUENCE. */
        if (p[3] != 0x30)
            abort();
        break;
    case TP_TLSA_MT_SHA256:
        if (t->len != 32)
            abort();
        break;
    case TP_TLSA_MT_SHA512:
        if (t->len != 64)
            abort();
        break;
    default:
        abort();
    }
}

/* check_format - the text of t fits size and is a prefix-shaped cut */
static void
check_format(const struct tp_tlsa *t, size_t size)
{
    size_t whole, got, head, tail;

    tp_tlsa_format(t, text, sizeof(text));
    whole = strlen(text);
    if (whole != (size_t)snprintf(small, sizeof(small), "%u %u %u",
                                  t->usage, t->selector, t->mtype) +
                     (t->len ? 1 + 2 * t->len : 0))
        abort();
    if (size > sizeof(small))
        size = sizeof(small);
    if (size == 0)
        return;
    memset(small, 'Z', size);
    if (tp_tlsa_format(t, small, size) != small)
        abort();
    got = strnlen(small, size);
    if (got == size)
        abort();
    if (size > whole && strcmp(small, text) != 0)
        abort();
    /* The fields and the start of the hex, then "...", then its end. */
    head = strcspn(small, ".");
    if (memcmp(small, text, head) != 0)
        abort();
    if (head == got)
        return;
    tail = got - head - 3;
    if (size > whole || strncmp(small + head, "...", 3) != 0 ||
        strcmp(small + head + 3, text + whole - tail) != 0)
        abort();
    /* As many whole octets before the "..." as after it. */
    if (tail % 2 != 0 || head != whole - 2 * t->len + tail)
        abort();
}

/* digest_rank - 1 for SHA2-256, 2 for SHA2-512, else 0 */
static unsigned
digest_rank(uint8_t mtype)
{
    return mtype == TP_TLSA_MT_SHA256 ? 1 : mtype == TP_TLSA_MT_SHA512 ? 2
                                                                      : 0;
}

/* check_select - RFC 7671 §9 over the records, against the whys before */
static void
check_select(const struct tp_tlsa *recs, const enum tp_tlsa_why *before,
             enum tp_tlsa_why *why, size_t n)
{
    enum tp_tlsa_why again[TP_TLSA_RRS_MAX];
    size_t i, j, left = 0, kept;

    kept = tp_tlsa_select(recs, why, n);
    for (i = 0; i < n; i++) {
        bool stronger = false;

        if (why[i] == TP_TLSA_OK)
            left++;
        if (why[i] == before[i])
            continue;
        if (before[i] != TP_TLSA_OK || why[i] != TP_TLSA_SUPERSEDED ||
            recs[i].mtype != TP_TLSA_MT_SHA256)
            abort();
        for (j = 0; j < n; j++)
            stronger |= before[j] == TP_TLSA_OK &&
                        recs[j].usage == recs[i].usage &&
                        recs[j].selector == recs[i].selector &&
                        digest_rank(recs[j].mtype) >
                            digest_rank(recs[i].mtype);
        if (!stronger)
            abort();
    }
    if (kept != left)
        abort();
    /* Nothing usable may sit beside a stronger usable digest. */
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++)
            if (why[i] == TP_TLSA_OK && why[j] == TP_TLSA_OK &&
                recs[i].usage == recs[j].usage &&
                recs[i].selector == recs[j].selector &&
                digest_rank(recs[i].mtype) != 0 &&
                digest_rank(recs[j].mtype) > digest_rank(recs[i].mtype))
                abort();
    memcpy(again, why, n * sizeof(why[0]));
    if (tp_tlsa_select(recs, again, n) != kept ||
        memcmp(again, why, n * sizeof(why[0])) != 0)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tp_tlsa recs[TP_TLSA_RRS_MAX];
    enum tp_tlsa_why why[TP_TLSA_RRS_MAX], before[TP_TLSA_RRS_MAX];
    struct tp_err e;
    size_t n = 0, pos = 0, len, i;
    int rc;

    if (size > FUZZ_INPUT_MAX)
        return 0;

    /* The whole input as one RDATA. */
    memset(&e, 0, sizeof(e));
    rc = tp_tlsa_parse(data, size, &recs[0], &why[0], &e);
    check_parsed(data, size, rc, &recs[0], why[0], &e);
    if (rc == TP_OK) {
        check_format(&recs[0], size > 2 ? (size_t)data[2] * 4 + 1 : 1);
        before[0] = why[0];
        check_select(recs, before, why, 1);
        tp_tlsa_free(&recs[0]);
    }

    /* The input as an RRset of length-prefixed RDATA. */
    while (n < TP_TLSA_RRS_MAX && size - pos >= 2) {
        len = (size_t)data[pos] << 8 | data[pos + 1];
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        memset(&e, 0, sizeof(e));
        rc = tp_tlsa_parse(data + pos, len, &recs[n], &why[n], &e);
        check_parsed(data + pos, len, rc, &recs[n], why[n], &e);
        pos += len;
        if (rc == TP_OK)
            n++;
    }
    for (i = 0; i < n; i++) {
        check_format(&recs[i], recs[i].len % 97 + i);
        before[i] = why[i];
    }
    check_select(recs, before, why, n);
    for (i = 0; i < n; i++)
        tp_tlsa_free(&recs[i]);
    return 0;
}
