/*
 * test_dane.c - white-box tests of dane.c: TLSA RDATA (RFC 6698 §2.1),
 * usability for SMTP (RFC 7672 §3.1, §3.1.3), Full(0) DER checks with
 * real DER made here by OpenSSL, digest algorithm agility (RFC 7671 §9),
 * the text form with elision, and allocation failures (ours through
 * tp_alloc_fail_at, OpenSSL's through CRYPTO_set_mem_functions).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common.h"
#include "dane.h"
#include "../leakcheck.h"

/* Room for the largest RDATA accepted, and a few octets more. */
static uint8_t rd[TP_TLSA_DATA_MAX + 16];

/* fill - usage, selector, mtype and n octets of patterned data into rd */
static size_t
fill(uint8_t u, uint8_t s, uint8_t m, size_t n)
{
    size_t i;

    rd[0] = u;
    rd[1] = s;
    rd[2] = m;
    for (i = 0; i < n; i++)
        rd[3 + i] = (uint8_t)(i * 7 + 1);
    return n + 3;
}

/* fill_with - usage, selector, mtype, then the n octets at p, into rd */
static size_t
fill_with(uint8_t u, uint8_t s, uint8_t m, const uint8_t *p, size_t n)
{
    cr_assert_leq(n, sizeof(rd) - 3);
    rd[0] = u;
    rd[1] = s;
    rd[2] = m;
    memcpy(rd + 3, p, n);
    return n + 3;
}

/* judged - rd[0..n) parses to TP_OK with why and exactly msg; the data
 * is an owned copy, and tp_tlsa_free releases it */
static void
judged(size_t n, enum tp_tlsa_why want, const char *msg)
{
    struct tp_tlsa t;
    enum tp_tlsa_why why = TP_TLSA_SUPERSEDED;
    struct tp_err e;
    int rc;

    /* A stale message must not survive a usable record. */
    memset(&e, 'x', sizeof(e));
    e.msg[sizeof(e.msg) - 1] = '\0';
    rc = tp_tlsa_parse(rd, n, &t, &why, &e);
    cr_assert_eq(rc, TP_OK, "rc %d (%s)", rc, e.msg);
    cr_assert_eq(why, want, "why \"%s\", want \"%s\" (%s)",
                 tp_tlsa_why_name(why), tp_tlsa_why_name(want), e.msg);
    cr_assert_str_eq(e.msg, msg);
    cr_assert_eq(t.usage, rd[0]);
    cr_assert_eq(t.selector, rd[1]);
    cr_assert_eq(t.mtype, rd[2]);
    cr_assert_eq(t.len, n - 3);
    cr_assert_not_null(t.data);
    cr_assert(t.data != rd + 3, "data not copied");
    cr_assert_arr_eq(t.data, rd + 3, t.len);
    tp_tlsa_free(&t);
    cr_assert_null(t.data);
    cr_assert_eq(t.len, 0);
    ASSERT_NO_LEAKS();
}

/* refused - n octets at p fail with TP_ESYNTAX and exactly msg; *out is
 * left empty and *why is not "usable" */
static void
refused(const uint8_t *p, size_t n, const char *msg)
{
    struct tp_tlsa t;
    enum tp_tlsa_why why = TP_TLSA_OK;
    struct tp_err e = {""};
    int rc;

    memset(&t, 0xa5, sizeof(t));
    rc = tp_tlsa_parse(p, n, &t, &why, &e);
    cr_assert_eq(rc, TP_ESYNTAX, "rc %d (%s)", rc, e.msg);
    cr_assert_str_eq(e.msg, msg);
    cr_assert_null(t.data, "*out not left empty");
    cr_assert_eq(t.len, 0);
    cr_assert_eq(t.usage, 0);
    cr_assert_eq(t.selector, 0);
    cr_assert_eq(t.mtype, 0);
    cr_assert_neq(why, TP_TLSA_OK);
    tp_tlsa_free(&t);
    ASSERT_NO_LEAKS();
}

/* Real DER from OpenSSL: a self-signed P-256 certificate and its SPKI. */
struct der {
    unsigned char *cert; /* owned, OPENSSL_free */
    size_t cert_len;
    unsigned char *spki; /* owned, OPENSSL_free */
    size_t spki_len;
};

/* make_der - generate a key, a self-signed certificate, and their DER */
static void
make_der(struct der *d)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    int n;

    cr_assert_not_null(k);
    cr_assert_not_null(x);
    cr_assert(X509_set_version(x, X509_VERSION_3));
    cr_assert(ASN1_INTEGER_set(X509_get_serialNumber(x), 1));
    cr_assert_not_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    cr_assert_not_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
    name = X509_get_subject_name(x);
    cr_assert(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                         (const unsigned char *)"mx.example",
                                         -1, -1, 0));
    cr_assert(X509_set_issuer_name(x, name));
    cr_assert(X509_set_pubkey(x, k));
    cr_assert(X509_sign(x, k, EVP_sha256()) > 0);
    d->cert = NULL;
    n = i2d_X509(x, &d->cert);
    cr_assert_gt(n, 0);
    d->cert_len = (size_t)n;
    d->spki = NULL;
    n = i2d_PUBKEY(k, &d->spki);
    cr_assert_gt(n, 0);
    d->spki_len = (size_t)n;
    X509_free(x);
    EVP_PKEY_free(k);
}

/* free_der - release make_der's buffers */
static void
free_der(struct der *d)
{
    OPENSSL_free(d->cert);
    OPENSSL_free(d->spki);
    d->cert = d->spki = NULL;
}

#define PKIX_MSG(u, s, m, name)                                            \
    "TLSA " #u " " #s " " #m ": " name " usage is not usable for SMTP "    \
    "(RFC 7672 §3.1.3)"

/* ---- RDATA shape (RFC 6698 §2.1) ---- */

Test(dane, parses_fields_and_copies_data)
{
    judged(fill(3, 1, 1, 32), TP_TLSA_OK, "");
}

Test(dane, refuses_rdata_shorter_than_four_octets)
{
    static const uint8_t r[] = {3, 1};

    refused(r, 0, "TLSA: RDATA is 0 octets, at least 4 needed (RFC 6698 "
                  "§2.1)");
    refused(r, 1, "TLSA: RDATA is 1 octets, at least 4 needed (RFC 6698 "
                  "§2.1)");
    refused(r, 2, "TLSA: RDATA is 2 octets, at least 4 needed (RFC 6698 "
                  "§2.1)");
}

Test(dane, refuses_empty_association_data)
{
    static const uint8_t r[] = {3, 1, 1};

    refused(r, sizeof(r), "TLSA 3 1 1: no association data (RDATA is 3 "
                          "octets, at least 4 needed; RFC 6698 §2.1)");
}

Test(dane, refuses_null_rdata_as_empty)
{
    refused(NULL, 40, "TLSA: RDATA is 0 octets, at least 4 needed (RFC "
                      "6698 §2.1)");
}

Test(dane, accepts_rdata_of_exactly_the_limit)
{
    size_t n = fill(3, 1, 1, TP_TLSA_DATA_MAX - 3);

    cr_assert_eq(n, TP_TLSA_DATA_MAX);
    judged(n, TP_TLSA_BAD_LENGTH,
           "TLSA 3 1 1: digest is 16381 octets, SHA2-256 needs 32");
}

Test(dane, judges_full_data_of_exactly_the_limit)
{
    memset(rd, 0, sizeof(rd));
    rd[0] = 3;
    judged(TP_TLSA_DATA_MAX, TP_TLSA_BAD_DER,
           "TLSA 3 0 0: data is not a DER certificate (RFC 6698 §2.1.2)");
}

Test(dane, refuses_rdata_over_the_limit)
{
    size_t n = fill(3, 1, 1, TP_TLSA_DATA_MAX - 2);

    cr_assert_eq(n, TP_TLSA_DATA_MAX + 1);
    refused(rd, n, "TLSA: RDATA is 16385 octets, more than 16384");
}

Test(dane, checks_the_limit_before_reading)
{
    /* The length is refused before a single octet is read. */
    static const uint8_t r[] = {3, 1, 1, 0};
    char msg[TP_REASON_MAX];

    snprintf(msg, sizeof(msg), "TLSA: RDATA is %zu octets, more than 16384",
             SIZE_MAX);
    refused(r, SIZE_MAX, msg);
}

Test(dane, tolerates_null_err)
{
    struct tp_tlsa t;
    enum tp_tlsa_why why;

    cr_assert_eq(tp_tlsa_parse(rd, 2, &t, &why, NULL), TP_ESYNTAX);
    cr_assert_eq(tp_tlsa_parse(rd, fill(1, 1, 1, 32), &t, &why, NULL),
                 TP_OK);
    cr_assert_eq(why, TP_TLSA_PKIX_USAGE);
    tp_tlsa_free(&t);
    cr_assert_eq(tp_tlsa_parse(rd, fill(3, 1, 1, 32), &t, &why, NULL),
                 TP_OK);
    cr_assert_eq(why, TP_TLSA_OK);
    tp_tlsa_free(&t);
    ASSERT_NO_LEAKS();
}

Test(dane, free_is_null_safe_and_repeatable)
{
    struct tp_tlsa t = {0};

    tp_tlsa_free(NULL);
    tp_tlsa_free(&t);
    cr_assert_eq(tp_tlsa_parse(rd, fill(3, 1, 2, 64), &t,
                               &(enum tp_tlsa_why){TP_TLSA_OK}, NULL),
                 TP_OK);
    tp_tlsa_free(&t);
    tp_tlsa_free(&t);
    cr_assert_null(t.data);
    ASSERT_NO_LEAKS();
}

/* ---- usage, selector, matching type (RFC 6698 §2.1.1-§2.1.3) ---- */

/* One judged record: header, data length, expected why and message. */
struct rule_case {
    uint8_t hdr[3];
    size_t len;
    enum tp_tlsa_why why;
    char msg[160];
};

/* judge_case - build the RDATA of c and check its judgement */
static void
judge_case(const struct rule_case *c)
{
    judged(fill(c->hdr[0], c->hdr[1], c->hdr[2], c->len), c->why, c->msg);
}

#define CASES(a) cr_make_param_array(struct rule_case, (a), \
                                     sizeof(a) / sizeof((a)[0]))

ParameterizedTestParameters(dane, judges_usage)
{
    static struct rule_case cases[] = {
        {{0, 1, 1}, 32, TP_TLSA_PKIX_USAGE, PKIX_MSG(0, 1, 1, "PKIX-TA")},
        {{1, 1, 1}, 32, TP_TLSA_PKIX_USAGE, PKIX_MSG(1, 1, 1, "PKIX-EE")},
        {{2, 1, 1}, 32, TP_TLSA_OK, ""},
        {{3, 1, 1}, 32, TP_TLSA_OK, ""},
        {{4, 1, 1}, 32, TP_TLSA_BAD_USAGE,
         "TLSA 4 1 1: unknown usage 4 is not usable (RFC 7672 §3.1)"},
        {{254, 1, 1}, 32, TP_TLSA_BAD_USAGE,
         "TLSA 254 1 1: unknown usage 254 is not usable (RFC 7672 §3.1)"},
        {{255, 1, 1}, 32, TP_TLSA_BAD_USAGE,
         "TLSA 255 1 1: private-use usage 255 is not usable (RFC 7672 "
         "§3.1)"},
    };

    return CASES(cases);
}

ParameterizedTest(struct rule_case *c, dane, judges_usage)
{
    judge_case(c);
}

ParameterizedTestParameters(dane, judges_selector)
{
    static struct rule_case cases[] = {
        {{3, 0, 1}, 32, TP_TLSA_OK, ""},
        {{3, 1, 1}, 32, TP_TLSA_OK, ""},
        {{2, 0, 2}, 64, TP_TLSA_OK, ""},
        {{3, 2, 1}, 32, TP_TLSA_BAD_SELECTOR,
         "TLSA 3 2 1: unknown selector 2 (RFC 6698 §2.1.2)"},
        {{2, 254, 1}, 32, TP_TLSA_BAD_SELECTOR,
         "TLSA 2 254 1: unknown selector 254 (RFC 6698 §2.1.2)"},
        {{3, 255, 1}, 32, TP_TLSA_BAD_SELECTOR,
         "TLSA 3 255 1: private-use selector 255 (RFC 6698 §2.1.2)"},
    };

    return CASES(cases);
}

ParameterizedTest(struct rule_case *c, dane, judges_selector)
{
    judge_case(c);
}

ParameterizedTestParameters(dane, judges_matching_type)
{
    static struct rule_case cases[] = {
        {{3, 1, 1}, 32, TP_TLSA_OK, ""},
        {{3, 1, 2}, 64, TP_TLSA_OK, ""},
        {{3, 1, 3}, 32, TP_TLSA_BAD_MTYPE,
         "TLSA 3 1 3: unknown matching type 3 (RFC 6698 §2.1.3)"},
        {{2, 0, 254}, 48, TP_TLSA_BAD_MTYPE,
         "TLSA 2 0 254: unknown matching type 254 (RFC 6698 §2.1.3)"},
        {{3, 1, 255}, 32, TP_TLSA_BAD_MTYPE,
         "TLSA 3 1 255: private-use matching type 255 (RFC 6698 §2.1.3)"},
    };

    return CASES(cases);
}

ParameterizedTest(struct rule_case *c, dane, judges_matching_type)
{
    judge_case(c);
}

ParameterizedTestParameters(dane, judges_digest_length)
{
    static struct rule_case cases[] = {
        {{3, 1, 1}, 31, TP_TLSA_BAD_LENGTH,
         "TLSA 3 1 1: digest is 31 octets, SHA2-256 needs 32"},
        {{3, 1, 1}, 32, TP_TLSA_OK, ""},
        {{3, 1, 1}, 33, TP_TLSA_BAD_LENGTH,
         "TLSA 3 1 1: digest is 33 octets, SHA2-256 needs 32"},
        {{3, 1, 2}, 63, TP_TLSA_BAD_LENGTH,
         "TLSA 3 1 2: digest is 63 octets, SHA2-512 needs 64"},
        {{3, 1, 2}, 64, TP_TLSA_OK, ""},
        {{3, 1, 2}, 65, TP_TLSA_BAD_LENGTH,
         "TLSA 3 1 2: digest is 65 octets, SHA2-512 needs 64"},
        /* The other algorithm's length is still the wrong length. */
        {{2, 0, 1}, 64, TP_TLSA_BAD_LENGTH,
         "TLSA 2 0 1: digest is 64 octets, SHA2-256 needs 32"},
        {{2, 0, 2}, 32, TP_TLSA_BAD_LENGTH,
         "TLSA 2 0 2: digest is 32 octets, SHA2-512 needs 64"},
        /* The example of dane.h: a SHA-1 sized digest. */
        {{3, 1, 1}, 20, TP_TLSA_BAD_LENGTH,
         "TLSA 3 1 1: digest is 20 octets, SHA2-256 needs 32"},
        {{3, 1, 2}, 1, TP_TLSA_BAD_LENGTH,
         "TLSA 3 1 2: digest is 1 octets, SHA2-512 needs 64"},
    };

    return CASES(cases);
}

ParameterizedTest(struct rule_case *c, dane, judges_digest_length)
{
    judge_case(c);
}

ParameterizedTestParameters(dane, names_the_first_failing_check)
{
    static struct rule_case cases[] = {
        /* usage before selector, matching type and length */
        {{1, 9, 9}, 1, TP_TLSA_PKIX_USAGE, PKIX_MSG(1, 9, 9, "PKIX-EE")},
        {{0, 0, 0}, 1, TP_TLSA_PKIX_USAGE, PKIX_MSG(0, 0, 0, "PKIX-TA")},
        {{9, 9, 9}, 1, TP_TLSA_BAD_USAGE,
         "TLSA 9 9 9: unknown usage 9 is not usable (RFC 7672 §3.1)"},
        /* selector before matching type */
        {{3, 9, 9}, 1, TP_TLSA_BAD_SELECTOR,
         "TLSA 3 9 9: unknown selector 9 (RFC 6698 §2.1.2)"},
        /* matching type before length */
        {{3, 1, 9}, 1, TP_TLSA_BAD_MTYPE,
         "TLSA 3 1 9: unknown matching type 9 (RFC 6698 §2.1.3)"},
    };

    return CASES(cases);
}

ParameterizedTest(struct rule_case *c, dane, names_the_first_failing_check)
{
    judge_case(c);
}

/* ---- Full(0): one DER certificate or SPKI (RFC 6698 §2.1.2) ---- */

Test(dane, accepts_full_certificate)
{
    struct der d;

    make_der(&d);
    judged(fill_with(3, 0, 0, d.cert, d.cert_len), TP_TLSA_OK, "");
    judged(fill_with(2, 0, 0, d.cert, d.cert_len), TP_TLSA_OK, "");
    free_der(&d);
    ASSERT_NO_LEAKS();
}

Test(dane, accepts_full_spki)
{
    struct der d;

    make_der(&d);
    judged(fill_with(3, 1, 0, d.spki, d.spki_len), TP_TLSA_OK, "");
    judged(fill_with(2, 1, 0, d.spki, d.spki_len), TP_TLSA_OK, "");
    free_der(&d);
    ASSERT_NO_LEAKS();
}

Test(dane, accepts_well_formed_spki_with_a_key_off_the_curve)
{
    const unsigned char *p;
    EVP_PKEY *k;
    struct der d;

    /* The same check as for a certificate: structure, not key. */
    make_der(&d);
    d.spki[d.spki_len - 1] ^= 0x01;
    p = d.spki;
    k = d2i_PUBKEY(NULL, &p, (long)d.spki_len);
    cr_assert_null(k, "the point should be off the curve");
    ERR_clear_error();
    judged(fill_with(3, 1, 0, d.spki, d.spki_len), TP_TLSA_OK, "");
    free_der(&d);
    ASSERT_NO_LEAKS();
}

Test(dane, rejects_spki_where_certificate_is_selected)
{
    struct der d;

    make_der(&d);
    judged(fill_with(3, 0, 0, d.spki, d.spki_len), TP_TLSA_BAD_DER,
           "TLSA 3 0 0: data is not a DER certificate (RFC 6698 §2.1.2)");
    free_der(&d);
    ASSERT_NO_LEAKS();
}

Test(dane, rejects_certificate_where_spki_is_selected)
{
    struct der d;

    make_der(&d);
    judged(fill_with(3, 1, 0, d.cert, d.cert_len), TP_TLSA_BAD_DER,
           "TLSA 3 1 0: data is not a DER SubjectPublicKeyInfo (RFC 6698 "
           "§2.1.2)");
    free_der(&d);
    ASSERT_NO_LEAKS();
}

Test(dane, rejects_truncated_der)
{
    struct der d;

    make_der(&d);
    judged(fill_with(3, 0, 0, d.cert, d.cert_len - 1), TP_TLSA_BAD_DER,
           "TLSA 3 0 0: data is not a DER certificate (RFC 6698 §2.1.2)");
    judged(fill_with(2, 1, 0, d.spki, d.spki_len - 1), TP_TLSA_BAD_DER,
           "TLSA 2 1 0: data is not a DER SubjectPublicKeyInfo (RFC 6698 "
           "§2.1.2)");
    free_der(&d);
    ASSERT_NO_LEAKS();
}

Test(dane, rejects_trailing_garbage_after_certificate)
{
    char msg[TP_REASON_MAX];
    struct der d;
    size_t n;

    make_der(&d);
    n = fill_with(3, 0, 0, d.cert, d.cert_len);
    rd[n] = 0x00;
    judged(n + 1, TP_TLSA_BAD_DER,
           "TLSA 3 0 0: 1 octet after the DER certificate (RFC 6698 "
           "§2.1.2)");
    /* A second, complete certificate is garbage too: exactly one. */
    memcpy(rd + n, d.cert, d.cert_len);
    snprintf(msg, sizeof(msg), "TLSA 3 0 0: %zu octets after the DER "
             "certificate (RFC 6698 §2.1.2)", d.cert_len);
    judged(n + d.cert_len, TP_TLSA_BAD_DER, msg);
    free_der(&d);
    ASSERT_NO_LEAKS();
}

Test(dane, rejects_trailing_garbage_after_spki)
{
    struct der d;
    size_t n;

    make_der(&d);
    n = fill_with(3, 1, 0, d.spki, d.spki_len);
    memcpy(rd + n, "\x30\x00junk", 6);
    judged(n + 6, TP_TLSA_BAD_DER,
           "TLSA 3 1 0: 6 octets after the DER SubjectPublicKeyInfo (RFC "
           "6698 §2.1.2)");
    free_der(&d);
    ASSERT_NO_LEAKS();
}

Test(dane, rejects_non_der_full_data)
{
    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};

    judged(fill_with(3, 0, 0, junk, sizeof(junk)), TP_TLSA_BAD_DER,
           "TLSA 3 0 0: data is not a DER certificate (RFC 6698 §2.1.2)");
    judged(fill_with(3, 1, 0, junk, 1), TP_TLSA_BAD_DER,
           "TLSA 3 1 0: data is not a DER SubjectPublicKeyInfo (RFC 6698 "
           "§2.1.2)");
    judged(fill(2, 1, 0, 91), TP_TLSA_BAD_DER,
           "TLSA 2 1 0: data is not a DER SubjectPublicKeyInfo (RFC 6698 "
           "§2.1.2)");
}

Test(dane, skips_der_check_for_pkix_usage)
{
    /* Usage is judged first; the data is never decoded. */
    judged(fill(1, 0, 0, 10), TP_TLSA_PKIX_USAGE,
           PKIX_MSG(1, 0, 0, "PKIX-EE"));
}

Test(dane, leaves_no_openssl_errors_behind)
{
    judged(fill(3, 0, 0, 40), TP_TLSA_BAD_DER,
           "TLSA 3 0 0: data is not a DER certificate (RFC 6698 §2.1.2)");
    cr_assert_eq(ERR_peek_error(), 0);
}

/* ---- digest algorithm agility (RFC 7671 §9) ---- */

#define SET_MAX 8

/* An RRset for tp_tlsa_select, parsed from real RDATA. */
struct rrset {
    struct tp_tlsa recs[SET_MAX];
    enum tp_tlsa_why why[SET_MAX];
    size_t n;
    struct der der;
};

/* add - append usage/selector/mtype; Full(0) gets real DER, digests
 * their right length unless len is given (non-zero) */
static void
add(struct rrset *s, uint8_t u, uint8_t sel, uint8_t m, size_t len)
{
    size_t n;

    cr_assert_lt(s->n, SET_MAX);
    if (m == TP_TLSA_MT_FULL && sel == TP_TLSA_SEL_CERT)
        n = fill_with(u, sel, m, s->der.cert, s->der.cert_len);
    else if (m == TP_TLSA_MT_FULL)
        n = fill_with(u, sel, m, s->der.spki, s->der.spki_len);
    else
        n = fill(u, sel, m, len ? len : m == TP_TLSA_MT_SHA512 ? 64 : 32);
    cr_assert_eq(tp_tlsa_parse(rd, n, &s->recs[s->n], &s->why[s->n], NULL),
                 TP_OK);
    s->n++;
}

/* set_init - an empty RRset with DER for Full(0) records */
static void
set_init(struct rrset *s)
{
    memset(s, 0, sizeof(*s));
    make_der(&s->der);
}

/* set_free - release every record and the DER */
static void
set_free(struct rrset *s)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        tp_tlsa_free(&s->recs[i]);
    free_der(&s->der);
    ASSERT_NO_LEAKS();
}

/* expect_whys - s->why[] must equal want[] */
static void
expect_whys(const struct rrset *s, const enum tp_tlsa_why *want)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        cr_assert_eq(s->why[i], want[i], "record %zu: \"%s\", want \"%s\"",
                     i, tp_tlsa_why_name(s->why[i]),
                     tp_tlsa_why_name(want[i]));
}

Test(dane, agility_keeps_only_sha512_over_sha256)
{
    static const enum tp_tlsa_why want[] = {TP_TLSA_SUPERSEDED, TP_TLSA_OK};
    struct rrset s;

    set_init(&s);
    add(&s, 3, 1, 1, 0);
    add(&s, 3, 1, 2, 0);
    cr_assert_eq(tp_tlsa_select(s.recs, s.why, s.n), 1);
    expect_whys(&s, want);
    set_free(&s);
}

Test(dane, agility_does_not_depend_on_order)
{
    static const enum tp_tlsa_why want[] = {TP_TLSA_OK, TP_TLSA_SUPERSEDED};
    struct rrset s;

    set_init(&s);
    add(&s, 3, 1, 2, 0);
    add(&s, 3, 1, 1, 0);
    cr_assert_eq(tp_tlsa_select(s.recs, s.why, s.n), 1);
    expect_whys(&s, want);
    set_free(&s);
}

Test(dane, agility_keeps_full_next_to_a_digest)
{
    static const enum tp_tlsa_why want[] = {TP_TLSA_OK, TP_TLSA_OK};
    struct rrset s;

    set_init(&s);
    add(&s, 3, 1, 1, 0);
    add(&s, 3, 1, 0, 0);
    cr_assert_eq(tp_tlsa_select(s.recs, s.why, s.n), 2);
    expect_whys(&s, want);
    set_free(&s);
}

Test(dane, agility_compares_within_a_usage_selector_pair_only)
{
    static const enum tp_tlsa_why want[] = {TP_TLSA_OK, TP_TLSA_OK,
                                            TP_TLSA_OK, TP_TLSA_OK};
    struct rrset s;

    set_init(&s);
    add(&s, 2, 0, 1, 0); /* other usage and selector than 3 1 2 */
    add(&s, 3, 1, 2, 0);
    add(&s, 3, 0, 1, 0); /* same usage, other selector */
    add(&s, 2, 1, 1, 0); /* same selector, other usage */
    cr_assert_eq(tp_tlsa_select(s.recs, s.why, s.n), 4);
    expect_whys(&s, want);
    set_free(&s);
}

Test(dane, agility_ignores_unusable_records)
{
    static const enum tp_tlsa_why want[] = {
        TP_TLSA_BAD_LENGTH, TP_TLSA_PKIX_USAGE, TP_TLSA_BAD_MTYPE,
        TP_TLSA_OK,
    };
    struct rrset s;

    set_init(&s);
    add(&s, 3, 1, 2, 63); /* a malformed SHA2-512 supersedes nothing */
    add(&s, 1, 1, 2, 0);
    add(&s, 3, 1, 3, 64);
    add(&s, 3, 1, 1, 0);
    cr_assert_eq(tp_tlsa_select(s.recs, s.why, s.n), 1);
    expect_whys(&s, want);
    set_free(&s);
}

Test(dane, agility_counts_no_unusable_record)
{
    static const enum tp_tlsa_why want[] = {
        TP_TLSA_PKIX_USAGE, TP_TLSA_BAD_USAGE, TP_TLSA_BAD_LENGTH,
    };
    struct rrset s;

    set_init(&s);
    add(&s, 0, 0, 1, 0);
    add(&s, 255, 1, 1, 0);
    add(&s, 3, 1, 1, 20);
    cr_assert_eq(tp_tlsa_select(s.recs, s.why, s.n), 0);
    expect_whys(&s, want);
    set_free(&s);
}

Test(dane, agility_over_a_mixed_rrset)
{
    static const enum tp_tlsa_why want[] = {
        TP_TLSA_SUPERSEDED, TP_TLSA_OK, TP_TLSA_SUPERSEDED, TP_TLSA_OK,
        TP_TLSA_OK, TP_TLSA_OK, TP_TLSA_BAD_DER,
    };
    struct rrset s;

    set_init(&s);
    add(&s, 3, 1, 1, 0);
    add(&s, 3, 1, 2, 0);
    add(&s, 3, 1, 1, 0);
    add(&s, 3, 1, 0, 0);
    add(&s, 2, 0, 1, 0);
    add(&s, 2, 0, 0, 0);
    add(&s, 2, 0, 0, 0);
    /* Spoil the last Full(0) record before it is judged. */
    tp_tlsa_free(&s.recs[--s.n]);
    rd[3] = 0x31;
    cr_assert_eq(tp_tlsa_parse(rd, 3 + s.der.cert_len, &s.recs[s.n],
                               &s.why[s.n], NULL), TP_OK);
    s.n++;
    cr_assert_eq(tp_tlsa_select(s.recs, s.why, s.n), 4);
    expect_whys(&s, want);
    /* Selecting again changes nothing. */
    cr_assert_eq(tp_tlsa_select(s.recs, s.why, s.n), 4);
    expect_whys(&s, want);
    set_free(&s);
}

Test(dane, agility_of_nothing_is_nothing)
{
    static uint8_t d[32];
    const struct tp_tlsa rec = {3, 1, 1, sizeof(d), d};
    enum tp_tlsa_why why = TP_TLSA_OK;

    cr_assert_eq(tp_tlsa_select(NULL, NULL, 0), 0);
    cr_assert_eq(tp_tlsa_select(NULL, &why, 0), 0);
    cr_assert_eq(tp_tlsa_select(&rec, NULL, 1), 0);
    cr_assert_eq(tp_tlsa_select(&rec, &why, 0), 0);
    cr_assert_eq(why, TP_TLSA_OK);
}

Test(dane, agility_trusts_the_callers_judgement)
{
    /* Records a caller marked usable outside 2/3 x 0/1 are not grouped
     * (and so cannot index out of range), only counted. */
    static uint8_t d[64];
    const struct tp_tlsa recs[] = {
        {1, 1, 2, 64, d}, {3, 7, 2, 64, d}, {3, 1, 1, 32, d},
        {4, 1, 1, 32, d},
    };
    enum tp_tlsa_why why[] = {TP_TLSA_OK, TP_TLSA_OK, TP_TLSA_OK,
                              TP_TLSA_OK};

    cr_assert_eq(tp_tlsa_select(recs, why, 4), 4);
    cr_assert_eq(why[2], TP_TLSA_OK);
}

/* ---- text form (RFC 6698 §2.2, §2.3; RFC 8460 §4.4) ---- */

/* fmt - tp_tlsa_format into exactly size bytes of heap (ASan sees any
 * write past them); returns a copy the caller frees */
static char *
fmt(const struct tp_tlsa *t, size_t size)
{
    char *buf = malloc(size), *copy;

    cr_assert_not_null(buf);
    memset(buf, '#', size);
    cr_assert_eq(tp_tlsa_format(t, buf, size), buf);
    cr_assert_not_null(memchr(buf, '\0', size), "not NUL-terminated");
    copy = strdup(buf);
    free(buf);
    cr_assert_not_null(copy);
    return copy;
}

/* fmt_eq - formatting t into size bytes gives exactly want */
static void
fmt_eq(const struct tp_tlsa *t, size_t size, const char *want)
{
    char *got = fmt(t, size);

    cr_assert_str_eq(got, want, "size %zu", size);
    free(got);
}

/* Octets 0x00..0x1f as a 3 1 1 record, and its text. */
static uint8_t seq[32];
static const struct tp_tlsa seq_rec = {3, 1, 1, sizeof(seq), seq};
#define SEQ_HEX "000102030405060708090a0b0c0d0e0f" \
                "101112131415161718191a1b1c1d1e1f"

/* seq_init - fill seq[] */
static void
seq_init(void)
{
    size_t i;

    for (i = 0; i < sizeof(seq); i++)
        seq[i] = (uint8_t)i;
}

Test(dane, formats_fields_and_lowercase_hex, .init = seq_init)
{
    fmt_eq(&seq_rec, 128, "3 1 1 " SEQ_HEX);
}

Test(dane, formats_exactly_fitting_text_whole, .init = seq_init)
{
    fmt_eq(&seq_rec, sizeof("3 1 1 " SEQ_HEX), "3 1 1 " SEQ_HEX);
}

Test(dane, elides_the_middle_when_one_short, .init = seq_init)
{
    /* room 63: (63 - 3) / 4 = 15 octets each side */
    fmt_eq(&seq_rec, sizeof("3 1 1 " SEQ_HEX) - 1,
           "3 1 1 000102030405060708090a0b0c0d0e...1112131415161718191a1b1c"
           "1d1e1f");
}

Test(dane, elides_whole_octets_only, .init = seq_init)
{
    /* room 25: 5 octets each side, 2 bytes unused */
    fmt_eq(&seq_rec, 32, "3 1 1 0001020304...1b1c1d1e1f");
    fmt_eq(&seq_rec, 17, "3 1 1 00...1f");
    fmt_eq(&seq_rec, 14, "3 1 1 00...1f");
    fmt_eq(&seq_rec, 13, "3 1 1 ...");
    fmt_eq(&seq_rec, 10, "3 1 1 ...");
}

Test(dane, cuts_when_not_even_the_ellipsis_fits, .init = seq_init)
{
    fmt_eq(&seq_rec, 9, "3 1 1");
    fmt_eq(&seq_rec, 7, "3 1 1");
    fmt_eq(&seq_rec, 6, "3 1 1");
    fmt_eq(&seq_rec, 4, "3 1");
    fmt_eq(&seq_rec, 1, "");
}

Test(dane, formats_nothing_into_no_room, .init = seq_init)
{
    char buf[4] = "abc";

    cr_assert_eq(tp_tlsa_format(&seq_rec, buf, 0), buf);
    cr_assert_str_eq(buf, "abc");
    cr_assert_null(tp_tlsa_format(&seq_rec, NULL, 16));
}

Test(dane, formats_wide_fields_and_empty_data)
{
    static uint8_t one[] = {0xab};
    const struct tp_tlsa wide = {255, 254, 253, 1, one};
    const struct tp_tlsa empty = {3, 1, 1, 0, NULL};
    const struct tp_tlsa null_data = {3, 1, 1, 5, NULL};

    fmt_eq(&wide, 64, "255 254 253 ab");
    fmt_eq(&empty, 64, "3 1 1");
    fmt_eq(&null_data, 64, "3 1 1");
    fmt_eq(NULL, 64, "");
}

Test(dane, formats_a_certificate_into_a_reason)
{
    struct tp_tlsa t;
    enum tp_tlsa_why why;
    struct der d;
    char *got;

    make_der(&d);
    cr_assert_eq(tp_tlsa_parse(rd, fill_with(3, 0, 0, d.cert, d.cert_len),
                               &t, &why, NULL), TP_OK);
    got = fmt(&t, TP_REASON_MAX);
    cr_assert_eq(strncmp(got, "3 0 0 3082", 10), 0, "%s", got);
    cr_assert_not_null(strstr(got, "..."));
    cr_assert_eq(strlen(got), TP_REASON_MAX - 1 - 2, "%s", got);
    free(got);
    tp_tlsa_free(&t);
    free_der(&d);
    ASSERT_NO_LEAKS();
}

Test(dane, formats_within_every_size)
{
    struct tp_tlsa t;
    enum tp_tlsa_why why;
    size_t size, full;
    char *whole, *got;

    cr_assert_eq(tp_tlsa_parse(rd, fill(3, 1, 2, 64), &t, &why, NULL),
                 TP_OK);
    whole = fmt(&t, 256);
    full = strlen(whole);
    cr_assert_eq(full, 6 + 128);
    for (size = 1; size <= full + 2; size++) {
        got = fmt(&t, size);
        cr_assert_lt(strlen(got), size);
        cr_assert_eq(strncmp(got, whole, strlen(got) < 6 ? strlen(got) : 6),
                     0, "size %zu: %s", size, got);
        if (size > full)
            cr_assert_str_eq(got, whole);
        else if (size >= 10)
            cr_assert_not_null(strstr(got, "..."), "size %zu", size);
        free(got);
    }
    free(whole);
    tp_tlsa_free(&t);
    ASSERT_NO_LEAKS();
}

/* ---- names ---- */

Test(dane, names_every_why)
{
    cr_assert_str_eq(tp_tlsa_why_name(TP_TLSA_OK), "usable");
    cr_assert_str_eq(tp_tlsa_why_name(TP_TLSA_PKIX_USAGE), "PKIX usage");
    cr_assert_str_eq(tp_tlsa_why_name(TP_TLSA_BAD_USAGE), "bad usage");
    cr_assert_str_eq(tp_tlsa_why_name(TP_TLSA_BAD_SELECTOR),
                     "bad selector");
    cr_assert_str_eq(tp_tlsa_why_name(TP_TLSA_BAD_MTYPE),
                     "bad matching type");
    cr_assert_str_eq(tp_tlsa_why_name(TP_TLSA_BAD_LENGTH), "bad length");
    cr_assert_str_eq(tp_tlsa_why_name(TP_TLSA_BAD_DER), "bad DER");
    cr_assert_str_eq(tp_tlsa_why_name(TP_TLSA_SUPERSEDED), "superseded");
    cr_assert_str_eq(tp_tlsa_why_name((enum tp_tlsa_why)42), "unknown");
}

/* ---- fault injection ---- */

/* fail_every_tp_alloc - run parse over n with allocation k failing, for
 * every k until one parse needs no failure; returns failing points */
static size_t
fail_every_tp_alloc(size_t n, enum tp_tlsa_why want)
{
    struct tp_tlsa t;
    enum tp_tlsa_why why;
    struct tp_err e;
    unsigned long k;
    size_t nomem = 0;
    int rc = TP_ENOMEM;

    for (k = 1; k <= 8; k++) {
        memset(&e, 0, sizeof(e));
        memset(&t, 0xa5, sizeof(t));
        tp_alloc_fail_at(k);
        rc = tp_tlsa_parse(rd, n, &t, &why, &e);
        tp_alloc_fail_at(0);
        cr_assert(rc == TP_OK || rc == TP_ENOMEM, "k=%lu rc=%d", k, rc);
        if (rc == TP_ENOMEM) {
            nomem++;
            cr_assert_str_eq(e.msg, "TLSA: out of memory");
            cr_assert_null(t.data);
            cr_assert_eq(t.len, 0);
            cr_assert_neq(why, TP_TLSA_OK);
        } else {
            cr_assert_eq(why, want, "k=%lu: %s", k, e.msg);
            cr_assert_arr_eq(t.data, rd + 3, n - 3);
        }
        tp_tlsa_free(&t);
    }
    cr_assert_eq(rc, TP_OK);
    return nomem;
}

Test(dane, survives_every_allocation_failure)
{
    struct der d;

    /* One allocation, the copy of the data, whatever the record. */
    cr_assert_eq(fail_every_tp_alloc(fill(3, 1, 1, 32), TP_TLSA_OK), 1);
    cr_assert_eq(fail_every_tp_alloc(fill(1, 1, 1, 32), TP_TLSA_PKIX_USAGE),
                 1);
    make_der(&d);
    cr_assert_eq(fail_every_tp_alloc(fill_with(3, 0, 0, d.cert, d.cert_len),
                                     TP_TLSA_OK), 1);
    free_der(&d);
    ASSERT_NO_LEAKS();
}

/* OpenSSL's allocations, failed on demand (0: never). */
static unsigned long ossl_countdown;

/* ossl_fail - count down to the injected OpenSSL allocation failure */
static int
ossl_fail(void)
{
    return ossl_countdown != 0 && --ossl_countdown == 0;
}

/* ossl_malloc - CRYPTO_malloc_fn with the failure hook */
static void *
ossl_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    return ossl_fail() ? NULL : malloc(n);
}

/* ossl_realloc - CRYPTO_realloc_fn with the failure hook */
static void *
ossl_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    return ossl_fail() ? NULL : realloc(p, n);
}

/* ossl_free - CRYPTO_free_fn */
static void
ossl_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    free(p);
}

/* 1 when OpenSSL took the hooks below: see hook_openssl. */
static int ossl_hooked;

/*
 * hook_openssl - route OpenSSL's allocations through ossl_* for the whole
 * program.  OpenSSL accepts this only before its first allocation, and
 * by the time a test body runs something has allocated already, so it
 * is done from a constructor (a GNU C extension, fine in a test).
 */
__attribute__((constructor)) static void
hook_openssl(void)
{
    ossl_hooked = CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc,
                                           ossl_free);
}

/* fail_every_ossl_alloc - parse rd[0..n) with OpenSSL allocation k
 * failing, for each k until a parse completes; counts the outcomes */
static void
fail_every_ossl_alloc(size_t n, size_t *nomem, size_t *bad_der)
{
    struct tp_tlsa t;
    enum tp_tlsa_why why;
    struct tp_err e;
    unsigned long k;
    int rc;

    *nomem = *bad_der = 0;
    /* OpenSSL's per-thread error state exists before the first failure. */
    ERR_clear_error();
    for (k = 1; k < 2000; k++) {
        ossl_countdown = k;
        rc = tp_tlsa_parse(rd, n, &t, &why, &e);
        if (ossl_countdown != 0) {
            ossl_countdown = 0;
            cr_assert_eq(rc, TP_OK, "%s", e.msg);
            cr_assert_eq(why, TP_TLSA_OK, "%s", e.msg);
            tp_tlsa_free(&t);
            return;
        }
        cr_assert(rc == TP_OK || rc == TP_ENOMEM, "k=%lu rc=%d", k, rc);
        if (rc == TP_ENOMEM) {
            (*nomem)++;
            cr_assert_str_eq(e.msg, "TLSA: out of memory");
            cr_assert_null(t.data);
            cr_assert_neq(why, TP_TLSA_OK);
        } else if (why == TP_TLSA_BAD_DER) {
            (*bad_der)++;
        } else {
            cr_assert_eq(why, TP_TLSA_OK, "k=%lu: %s", k, e.msg);
        }
        tp_tlsa_free(&t);
    }
    cr_assert_fail("parse never completed");
}

Test(dane, reports_openssl_allocation_failure_in_a_certificate)
{
    size_t nomem, bad_der;
    struct der d;

    if (!ossl_hooked)
        cr_skip_test("OpenSSL refused the allocation hooks");
    make_der(&d);
    fail_every_ossl_alloc(fill_with(3, 0, 0, d.cert, d.cert_len), &nomem,
                          &bad_der);
    /* Never "bad DER" because memory ran out. */
    cr_assert_gt(nomem, 0);
    cr_assert_eq(bad_der, 0);
    free_der(&d);
    ASSERT_NO_LEAKS();
}

Test(dane, reports_openssl_allocation_failure_in_an_spki)
{
    size_t nomem, bad_der;
    struct der d;

    if (!ossl_hooked)
        cr_skip_test("OpenSSL refused the allocation hooks");
    make_der(&d);
    fail_every_ossl_alloc(fill_with(3, 1, 0, d.spki, d.spki_len), &nomem,
                          &bad_der);
    cr_assert_gt(nomem, 0);
    cr_assert_eq(bad_der, 0);
    free_der(&d);
    ASSERT_NO_LEAKS();
}
