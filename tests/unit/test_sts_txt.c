/*
 * test_sts_txt.c - white-box tests of sts_txt.c: the RFC 8461 §3.1
 * "v=STSv1; id=..." grammar and the choice of exactly one record.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "common.h"
#include "sts.h"

/* txt_ok - s must parse and yield id */
static void
txt_ok(const char *s, const char *id)
{
    struct tp_sts_txt t;
    struct tp_err e = {""};
    int rc = tp_sts_txt_parse((const uint8_t *)s, strlen(s), &t, &e);

    cr_assert_eq(rc, TP_OK, "rc %d (%s) for \"%s\"", rc, e.msg, s);
    cr_assert_str_eq(t.id, id);
}

/* txt_fail_n - n bytes at s must fail with rc and exactly msg */
static void
txt_fail_n(const char *s, size_t n, int want_rc, const char *msg)
{
    struct tp_sts_txt t;
    struct tp_err e = {""};
    int rc = tp_sts_txt_parse((const uint8_t *)s, n, &t, &e);

    cr_assert_eq(rc, want_rc, "rc %d (%s) for \"%.*s\"", rc, e.msg, (int)n,
                 s);
    cr_assert_str_eq(e.msg, msg);
}

#define TXT_FAIL(s, msg) txt_fail_n((s), strlen(s), TP_ESYNTAX, (msg))
#define NOT_STS "TXT: not an STS record (no v=STSv1 prefix)"

/* ---- tp_sts_txt_parse: valid records ---- */

Test(sts_txt, accepts_rfc_example)
{
    txt_ok("v=STSv1; id=20160831085700Z;", "20160831085700Z");
}

Test(sts_txt, accepts_without_trailing_delimiter)
{
    txt_ok("v=STSv1; id=abc", "abc");
}

Test(sts_txt, accepts_delimiter_without_spaces)
{
    txt_ok("v=STSv1;id=abc;", "abc");
}

Test(sts_txt, accepts_whitespace_before_semicolon_erratum_6285)
{
    txt_ok("v=STSv1 ; id=abc", "abc");
    txt_ok("v=STSv1\t;\tid=abc \t; ", "abc");
}

Test(sts_txt, accepts_trailing_delimiter_with_whitespace)
{
    txt_ok("v=STSv1; id=abc ;  ", "abc");
}

Test(sts_txt, accepts_fields_in_any_order)
{
    txt_ok("v=STSv1; ext=1; id=abc", "abc");
}

Test(sts_txt, accepts_32_character_id)
{
    txt_ok("v=STSv1; id=0123456789abcdefABCDEF0123456789",
           "0123456789abcdefABCDEF0123456789");
}

Test(sts_txt, keeps_first_of_repeated_ids)
{
    txt_ok("v=STSv1; id=first; id=second", "first");
}

Test(sts_txt, accepts_extension_with_all_allowed_punctuation)
{
    txt_ok("v=STSv1; id=a; x_y-z.w=!\"#$%&'()*+,-./0123456789:<>?@[\\]^_`"
           "{|}~", "a");
}

Test(sts_txt, treats_uppercase_id_key_as_extension)
{
    txt_ok("v=STSv1; ID=a-b; id=c", "c");
}

Test(sts_txt, accepts_32_character_extension_name)
{
    txt_ok("v=STSv1; id=a; a2345678901234567890123456789012=x", "a");
}

Test(sts_txt, reads_only_len_bytes)
{
    struct tp_sts_txt t;
    static const char s[] = "v=STSv1; id=abc;XXX";

    cr_assert_eq(tp_sts_txt_parse((const uint8_t *)s, 16, &t, NULL), TP_OK);
    cr_assert_str_eq(t.id, "abc");
}

/* ---- tp_sts_txt_parse: not an STS record ---- */

struct not_sts_case {
    char in[32];
};

ParameterizedTestParameters(sts_txt, returns_enoent_without_v_stsv1)
{
    static struct not_sts_case cases[] = {
        {""},
        {"v=STS"},
        {"v=STSv2; id=abc"},
        {"V=STSv1; id=abc"},
        {"v=stsv1; id=abc"},
        {" v=STSv1; id=abc"},
        {"v=STSv10; id=abc"},
        {"v=STSv1x"},
        {"v=spf1 -all"},
        {"id=abc; v=STSv1"},
    };

    return cr_make_param_array(struct not_sts_case, cases,
                               sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct not_sts_case *c, sts_txt,
                  returns_enoent_without_v_stsv1)
{
    txt_fail_n(c->in, strlen(c->in), TP_ENOENT, NOT_STS);
}

/* ---- tp_sts_txt_parse: invalid STS records ---- */

Test(sts_txt, rejects_missing_id)
{
    TXT_FAIL("v=STSv1", "TXT: id: missing");
    TXT_FAIL("v=STSv1;", "TXT: id: missing");
    TXT_FAIL("v=STSv1; foo=bar", "TXT: id: missing");
}

Test(sts_txt, rejects_empty_id)
{
    TXT_FAIL("v=STSv1; id=;", "TXT: id: empty");
    TXT_FAIL("v=STSv1; id=", "TXT: id: empty");
}

Test(sts_txt, rejects_33_character_id)
{
    TXT_FAIL("v=STSv1; id=0123456789abcdefABCDEF01234567890",
             "TXT: id: longer than 32 characters");
}

struct bad_id_case {
    char in[40];
    char msg[80];
};

ParameterizedTestParameters(sts_txt, rejects_id_outside_alpha_digit)
{
    static struct bad_id_case cases[] = {
        {"v=STSv1; id=ab-c", "TXT: id: invalid character '-' at offset 14"},
        {"v=STSv1; id=ab.c", "TXT: id: invalid character '.' at offset 14"},
        {"v=STSv1; id=ab_c", "TXT: id: invalid character '_' at offset 14"},
        {"v=STSv1; id=ab+c", "TXT: id: invalid character '+' at offset 14"},
        {"v=STSv1; id=ab=c", "TXT: id: invalid character '=' at offset 14"},
        {"v=STSv1; id=ab\x01", "TXT: id: invalid character 0x01 at offset 14"},
        {"v=STSv1; id=ab\r\n", "TXT: id: invalid character 0x0d at offset 14"},
    };

    return cr_make_param_array(struct bad_id_case, cases,
                               sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_id_case *c, sts_txt,
                  rejects_id_outside_alpha_digit)
{
    TXT_FAIL(c->in, c->msg);
}

Test(sts_txt, rejects_malformed_repeated_id)
{
    TXT_FAIL("v=STSv1; id=abc; id=x-y",
             "TXT: id: invalid character '-' at offset 21");
}

Test(sts_txt, rejects_extension_value_with_equals)
{
    TXT_FAIL("v=STSv1; id=a; foo=b=c",
             "TXT: extension foo: invalid character '=' at offset 20");
}

Test(sts_txt, rejects_extension_value_with_ctl)
{
    TXT_FAIL("v=STSv1; id=a; foo=b\x7f",
             "TXT: extension foo: invalid character 0x7f at offset 20");
}

Test(sts_txt, rejects_empty_extension_value)
{
    TXT_FAIL("v=STSv1; id=a; foo=", "TXT: extension foo: empty value");
    TXT_FAIL("v=STSv1; foo=; id=a", "TXT: extension foo: empty value");
}

Test(sts_txt, rejects_extension_name_bad_first_character)
{
    TXT_FAIL("v=STSv1; id=a; _foo=bar",
             "TXT: field name: invalid character '_' at offset 15");
    TXT_FAIL("v=STSv1; id=a; -foo=bar",
             "TXT: field name: invalid character '-' at offset 15");
}

Test(sts_txt, rejects_extension_name_bad_character)
{
    TXT_FAIL("v=STSv1; id=a; fo+o=bar",
             "TXT: field name: invalid character '+' at offset 17");
}

Test(sts_txt, rejects_33_character_extension_name)
{
    TXT_FAIL("v=STSv1; id=a; a23456789012345678901234567890123=x",
             "TXT: field name at offset 15 longer than 32 characters");
}

Test(sts_txt, rejects_field_without_equals)
{
    TXT_FAIL("v=STSv1; id=a; foo", "TXT: field foo: missing '='");
    TXT_FAIL("v=STSv1; id", "TXT: field id: missing '='");
    TXT_FAIL("v=STSv1; id =a", "TXT: field id: missing '='");
}

Test(sts_txt, rejects_empty_field)
{
    TXT_FAIL("v=STSv1;; id=a", "TXT: empty field name at offset 8");
    TXT_FAIL("v=STSv1; id=a;;", "TXT: empty field name at offset 14");
    TXT_FAIL("v=STSv1; =x; id=a", "TXT: empty field name at offset 9");
}

Test(sts_txt, rejects_trailing_whitespace_without_delimiter)
{
    TXT_FAIL("v=STSv1; id=a ",
             "TXT: whitespace at end of record without ';' at offset 13");
    TXT_FAIL("v=STSv1 ",
             "TXT: whitespace at end of record without ';' at offset 7");
}

Test(sts_txt, rejects_fields_without_delimiter)
{
    TXT_FAIL("v=STSv1 id=a", "TXT: expected ';' at offset 8, found 'i'");
    TXT_FAIL("v=STSv1; id=a foo=b",
             "TXT: expected ';' at offset 14, found 'f'");
    TXT_FAIL("v=STSv1; id=a,", "TXT: id: invalid character ',' at offset 13");
}

Test(sts_txt, rejects_ctl_between_fields)
{
    TXT_FAIL("v=STSv1; id=a \n; x=y",
             "TXT: expected ';' at offset 14, found 0x0a");
}

Test(sts_txt, rejects_non_ascii)
{
    TXT_FAIL("v=STSv1; id=a; x=\xc3\xa9",
             "TXT: non-ASCII byte 0xc3 at offset 17");
}

Test(sts_txt, rejects_embedded_nul)
{
    txt_fail_n("v=STSv1; id=a\0b", 15, TP_ESYNTAX,
               "TXT: id: invalid character 0x00 at offset 13");
}

/* Room for records a little over the cap. */
static char big_buf[TP_STS_TXT_MAX + 16];

/* long_record - "v=STSv1; id=a; x=xxxx..." of exactly n bytes */
static char *
long_record(size_t n)
{
    static const char head[] = "v=STSv1; id=a; x=";
    char *s = big_buf;

    cr_assert_lt(n, sizeof(big_buf));
    memcpy(s, head, sizeof(head) - 1);
    memset(s + sizeof(head) - 1, 'x', n - (sizeof(head) - 1));
    s[n] = '\0';
    return s;
}

Test(sts_txt, accepts_record_of_exactly_max_bytes)
{
    char *s = long_record(TP_STS_TXT_MAX);

    txt_ok(s, "a");
}

Test(sts_txt, rejects_record_over_max_bytes)
{
    char *s = long_record(TP_STS_TXT_MAX + 1);

    txt_fail_n(s, TP_STS_TXT_MAX + 1, TP_ETOOBIG,
               "TXT: record longer than 4096 octets");
}

/* ---- tp_sts_txt_select ---- */

#define RR(s) { (const uint8_t *)(s), sizeof(s) - 1 }

/* select_fail - selection over rrs must fail with rc and exactly msg */
static void
select_fail(const struct tp_txt_rr *rrs, size_t n, int want_rc,
            const char *msg)
{
    struct tp_sts_txt t;
    struct tp_err e = {""};
    int rc = tp_sts_txt_select(rrs, n, &t, &e);

    cr_assert_eq(rc, want_rc, "rc %d (%s)", rc, e.msg);
    cr_assert_str_eq(e.msg, msg);
}

Test(sts_txt_select, picks_the_only_sts_record)
{
    struct tp_txt_rr rrs[] = {
        RR("v=spf1 -all"),
        RR("v=STSv1; id=pick;"),
        RR("google-site-verification=xyz"),
    };
    struct tp_sts_txt t;
    struct tp_err e = {""};

    cr_assert_eq(tp_sts_txt_select(rrs, 3, &t, &e), TP_OK, "%s", e.msg);
    cr_assert_str_eq(t.id, "pick");
}

Test(sts_txt_select, discards_other_versions)
{
    struct tp_txt_rr rrs[] = {
        RR("v=STSv10; id=future"),
        RR("v=STSv1 ; id=now"),
    };
    struct tp_sts_txt t;

    cr_assert_eq(tp_sts_txt_select(rrs, 2, &t, NULL), TP_OK);
    cr_assert_str_eq(t.id, "now");
}

Test(sts_txt_select, returns_enoent_without_sts_record)
{
    struct tp_txt_rr rrs[] = { RR("v=spf1 -all"), RR("") };

    select_fail(rrs, 2, TP_ENOENT, "TXT: no v=STSv1 record");
    select_fail(NULL, 0, TP_ENOENT, "TXT: no v=STSv1 record");
}

Test(sts_txt_select, returns_emulti_for_two_sts_records)
{
    struct tp_txt_rr rrs[] = {
        RR("v=STSv1; id=one"),
        RR("v=spf1 -all"),
        RR("v=STSv1; id=one"),
    };

    select_fail(rrs, 3, TP_EMULTI,
                "TXT: 2 v=STSv1 records, exactly one allowed");
}

Test(sts_txt_select, counts_invalid_sts_records_too)
{
    struct tp_txt_rr rrs[] = {
        RR("v=STSv1; id=good"),
        RR("v=STSv1; id=bad-one"),
    };

    select_fail(rrs, 2, TP_EMULTI,
                "TXT: 2 v=STSv1 records, exactly one allowed");
}

Test(sts_txt_select, returns_esyntax_when_the_one_is_invalid)
{
    struct tp_txt_rr rrs[] = {
        RR("v=spf1 -all"),
        RR("v=STSv1; id=bad-one"),
    };

    select_fail(rrs, 2, TP_ESYNTAX,
                "TXT: id: invalid character '-' at offset 15");
}

Test(sts_txt_select, returns_etoobig_for_oversized_sts_record)
{
    char *s = long_record(TP_STS_TXT_MAX + 1);
    struct tp_txt_rr rrs[] = { { (const uint8_t *)s, TP_STS_TXT_MAX + 1 } };

    select_fail(rrs, 1, TP_ETOOBIG, "TXT: record longer than 4096 octets");
}

Test(sts_txt_select, discards_oversized_non_sts_record)
{
    char *big = big_buf;
    struct tp_txt_rr rrs[2];
    struct tp_sts_txt t;

    memset(big, 'x', TP_STS_TXT_MAX + 10);
    rrs[0].data = (const uint8_t *)big;
    rrs[0].len = TP_STS_TXT_MAX + 10;
    rrs[1].data = (const uint8_t *)"v=STSv1; id=ok";
    rrs[1].len = 14;
    cr_assert_eq(tp_sts_txt_select(rrs, 2, &t, NULL), TP_OK);
    cr_assert_str_eq(t.id, "ok");
}

Test(sts_txt_select, rejects_more_than_max_records)
{
    struct tp_txt_rr rrs[TP_STS_TXT_RRS_MAX + 1];
    struct tp_sts_txt t;
    size_t i;

    for (i = 0; i < TP_STS_TXT_RRS_MAX + 1; i++) {
        rrs[i].data = (const uint8_t *)"v=spf1 -all";
        rrs[i].len = 11;
    }
    rrs[0].data = (const uint8_t *)"v=STSv1; id=ok";
    rrs[0].len = 14;
    select_fail(rrs, TP_STS_TXT_RRS_MAX + 1, TP_ETOOBIG,
                "TXT: 33 records, more than 32");
    cr_assert_eq(tp_sts_txt_select(rrs, TP_STS_TXT_RRS_MAX, &t, NULL),
                 TP_OK);
}
