/*
 * dane.h - TLSA record parsing and usability for SMTP (RFC 6698, RFC 7671,
 * RFC 7672).  Pure: bytes in, plain structs out; OpenSSL is used only to
 * check that Full(0) association data is well-formed DER.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_DANE_H
#define TP_DANE_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* RFC 6698 §7.2-7.4 registry values. */
enum {
    TP_TLSA_PKIX_TA = 0, TP_TLSA_PKIX_EE = 1,
    TP_TLSA_DANE_TA = 2, TP_TLSA_DANE_EE = 3,
    TP_TLSA_SEL_CERT = 0, TP_TLSA_SEL_SPKI = 1,
    TP_TLSA_MT_FULL = 0, TP_TLSA_MT_SHA256 = 1, TP_TLSA_MT_SHA512 = 2,
};

/* One TLSA record, parsed from its RDATA (RFC 6698 §2.1). */
struct tp_tlsa {
    uint8_t usage;
    uint8_t selector;
    uint8_t mtype;
    size_t len;            /* association data length */
    uint8_t *data;         /* owned copy of the association data */
};

/* Why a record is not usable for SMTP; TP_TLSA_OK when it is. */
enum tp_tlsa_why {
    TP_TLSA_OK = 0,
    TP_TLSA_PKIX_USAGE,    /* usage 0/1: unusable for SMTP, RFC 7672 §3.1.3 */
    TP_TLSA_BAD_USAGE,     /* unknown/private usage */
    TP_TLSA_BAD_SELECTOR,  /* selector not 0/1 */
    TP_TLSA_BAD_MTYPE,     /* matching type not 0/1/2 */
    TP_TLSA_BAD_LENGTH,    /* digest length not 32/64, or empty data */
    TP_TLSA_BAD_DER,       /* Full(0) data is not one DER cert/SPKI */
    TP_TLSA_SUPERSEDED,    /* weaker digest dropped, RFC 7671 §9 */
};

/*
 * tp_tlsa_parse - parse one TLSA RDATA (3 octets + association data) into
 * *out and judge it.  Returns TP_OK (record well-formed enough to hold:
 * out->data allocated even when *why says unusable), TP_ESYNTAX (RDATA
 * shorter than 4 octets, or longer than TP_TLSA_DATA_MAX; *e says so),
 * TP_ENOMEM.  *why is TP_TLSA_OK for a record usable for SMTP: usage
 * DANE-TA(2) or DANE-EE(3), selector 0/1, matching type 0/1/2, digest of
 * exactly 32 (SHA2-256) or 64 (SHA2-512) octets, Full(0) data exactly one
 * DER certificate (selector 0) or SubjectPublicKeyInfo (selector 1).
 * For unusable records *e names the problem ("TLSA 1 1 1: PKIX-EE usage
 * is not usable for SMTP (RFC 7672 §3.1.3)", "TLSA 3 1 1: digest is 20
 * octets, SHA2-256 needs 32").
 */
int tp_tlsa_parse(const uint8_t *rdata, size_t len, struct tp_tlsa *out,
                  enum tp_tlsa_why *why, struct tp_err *e);

/* tp_tlsa_free - release out->data */
void tp_tlsa_free(struct tp_tlsa *t);

/*
 * tp_tlsa_select - RFC 7671 §9 digest algorithm agility over the records
 * judged usable: for each (usage, selector) pair keep the Full(0) records
 * and those with the strongest digest present (SHA2-512 over SHA2-256);
 * mark the others TP_TLSA_SUPERSEDED in why[].  n records, why[i] in/out.
 * Returns the number of records left usable.
 */
size_t tp_tlsa_select(const struct tp_tlsa *recs, enum tp_tlsa_why *why,
                      size_t n);

/* tp_tlsa_format - "3 1 1 <hex>" into buf (bounded; long data elided in
 * the middle with "..." when it does not fit); returns buf */
char *tp_tlsa_format(const struct tp_tlsa *t, char *buf, size_t size);

/* tp_tlsa_why_name - short text: "usable", "PKIX usage", "bad length" ... */
const char *tp_tlsa_why_name(enum tp_tlsa_why why);

#endif
