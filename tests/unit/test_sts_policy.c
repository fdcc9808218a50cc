/*
 * test_sts_policy.c - white-box tests of sts_policy.c: the RFC 8461 §3.2
 * policy body grammar, the project's choices (duplicates of required keys
 * refused, blank lines tolerated, max_age clamped), limits and the
 * fault-injection hook.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "common.h"
#include "../leakcheck.h"
#include "sts.h"

/* The RFC 8461 §3.2 example, CRLF-terminated. */
static const char rfc_example[] =
    "version: STSv1\r\n"
    "mode: enforce\r\n"
    "mx: mail.example.com\r\n"
    "mx: *.example.net\r\n"
    "mx: backupmx.example.com\r\n"
    "max_age: 604800\r\n";

/* pol_ok - n bytes at s must parse; the caller frees *pol */
static void
pol_ok_n(const char *s, size_t n, struct tp_sts_policy *pol)
{
    struct tp_err e = {""};
    int rc = tp_sts_policy_parse((const uint8_t *)s, n, pol, &e);

    cr_assert_eq(rc, TP_OK, "rc %d (%s) for \"%.*s\"", rc, e.msg, (int)n, s);
}

#define POL_OK(s, pol) pol_ok_n((s), strlen(s), (pol))

/* pol_fail_n - n bytes at s must fail with rc and exactly msg, *out empty */
static void
pol_fail_n(const char *s, size_t n, int want_rc, const char *msg)
{
    struct tp_sts_policy pol;
    struct tp_err e = {""};
    int rc;

    memset(&pol, 0xa5, sizeof(pol));
    rc = tp_sts_policy_parse((const uint8_t *)s, n, &pol, &e);
    cr_assert_eq(rc, want_rc, "rc %d (%s) for \"%.*s\"", rc, e.msg, (int)n,
                 s);
    cr_assert_str_eq(e.msg, msg);
    cr_assert_null(pol.mx, "*out not left empty");
    cr_assert_eq(pol.n_mx, 0);
    cr_assert_eq(pol.mode, TP_STS_MODE_UNSET);
    ASSERT_NO_LEAKS();
}

#define POL_FAIL(s, msg) pol_fail_n((s), strlen(s), TP_ESYNTAX, (msg))

/* Head lines most error tests build on (3 lines). */
#define HEAD "version: STSv1\nmode: enforce\nmax_age: 86400\n"

/* ---- valid bodies ---- */

Test(sts_policy, accepts_rfc_example)
{
    struct tp_sts_policy pol;

    POL_OK(rfc_example, &pol);
    cr_assert_eq(pol.mode, TP_STS_MODE_ENFORCE);
    cr_assert_eq(pol.max_age, 604800);
    cr_assert_eq(pol.max_age_raw, 604800);
    cr_assert_eq(pol.n_mx, 3);
    cr_assert_str_eq(pol.mx[0], "mail.example.com");
    cr_assert_str_eq(pol.mx[1], "*.example.net");
    cr_assert_str_eq(pol.mx[2], "backupmx.example.com");
    cr_assert_eq(pol.n_ext, 0);
    tp_sts_policy_free(&pol);
}

Test(sts_policy, accepts_lf_line_ends_erratum_6253)
{
    struct tp_sts_policy pol;

    POL_OK(HEAD "mx: a.example\n", &pol);
    cr_assert_eq(pol.n_mx, 1);
    tp_sts_policy_free(&pol);
}

Test(sts_policy, accepts_mixed_line_ends)
{
    struct tp_sts_policy pol;

    POL_OK("version: STSv1\r\nmode: testing\nmx: a.example\r\nmax_age: 1\n",
           &pol);
    cr_assert_eq(pol.mode, TP_STS_MODE_TESTING);
    tp_sts_policy_free(&pol);
}

Test(sts_policy, accepts_last_line_without_terminator)
{
    struct tp_sts_policy pol;

    POL_OK("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 123",
           &pol);
    cr_assert_eq(pol.max_age, 123);
    tp_sts_policy_free(&pol);
}

Test(sts_policy, accepts_keys_in_any_order)
{
    struct tp_sts_policy pol;

    POL_OK("mx: a.example\nmax_age: 5\nmode: enforce\nversion: STSv1\n",
           &pol);
    cr_assert_eq(pol.mode, TP_STS_MODE_ENFORCE);
    tp_sts_policy_free(&pol);
}

Test(sts_policy, accepts_any_whitespace_after_colon_and_at_line_end)
{
    struct tp_sts_policy pol;

    POL_OK("version:STSv1\nmode:\t enforce \t\r\nmax_age:  7\t\n"
           "mx:a.example   \n", &pol);
    cr_assert_eq(pol.mode, TP_STS_MODE_ENFORCE);
    cr_assert_eq(pol.max_age, 7);
    cr_assert_str_eq(pol.mx[0], "a.example");
    tp_sts_policy_free(&pol);
}

Test(sts_policy, tolerates_blank_lines)
{
    struct tp_sts_policy pol;

    POL_OK("\n\r\nversion: STSv1\n\nmode: enforce\r\n\r\nmx: a.example\n"
           "max_age: 1\n\n\n", &pol);
    cr_assert_eq(pol.n_mx, 1);
    tp_sts_policy_free(&pol);
}

Test(sts_policy, parses_each_mode)
{
    struct tp_sts_policy pol;

    POL_OK("version: STSv1\nmode: testing\nmx: a.example\nmax_age: 1\n", &pol);
    cr_assert_eq(pol.mode, TP_STS_MODE_TESTING);
    tp_sts_policy_free(&pol);
    POL_OK("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n", &pol);
    cr_assert_eq(pol.mode, TP_STS_MODE_ENFORCE);
    tp_sts_policy_free(&pol);
    POL_OK("version: STSv1\nmode: none\nmx: a.example\nmax_age: 1\n", &pol);
    cr_assert_eq(pol.mode, TP_STS_MODE_NONE);
    cr_assert_eq(pol.n_mx, 1);
    tp_sts_policy_free(&pol);
}

Test(sts_policy, accepts_mode_none_without_mx)
{
    struct tp_sts_policy pol;

    POL_OK("version: STSv1\nmode: none\nmax_age: 86400\n", &pol);
    cr_assert_eq(pol.mode, TP_STS_MODE_NONE);
    cr_assert_eq(pol.n_mx, 0);
    cr_assert_null(pol.mx);
    tp_sts_policy_free(&pol);
}

Test(sts_policy, stores_mx_lowercased_with_wildcard)
{
    struct tp_sts_policy pol;

    POL_OK(HEAD "mx: MAIL.Example.COM\nmx: *.MX.Example.net\n", &pol);
    cr_assert_str_eq(pol.mx[0], "mail.example.com");
    cr_assert_str_eq(pol.mx[1], "*.mx.example.net");
    tp_sts_policy_free(&pol);
}

Test(sts_policy, accepts_max_age_zero_and_leading_zeros)
{
    struct tp_sts_policy pol;

    POL_OK("version: STSv1\nmode: none\nmax_age: 0\n", &pol);
    cr_assert_eq(pol.max_age, 0);
    tp_sts_policy_free(&pol);
    POL_OK("version: STSv1\nmode: none\nmax_age: 0000000007\n", &pol);
    cr_assert_eq(pol.max_age, 7);
    tp_sts_policy_free(&pol);
}

Test(sts_policy, keeps_max_age_at_limit)
{
    struct tp_sts_policy pol;

    POL_OK("version: STSv1\nmode: none\nmax_age: 31557600\n", &pol);
    cr_assert_eq(pol.max_age, TP_STS_MAXAGE_MAX);
    cr_assert_eq(pol.max_age_raw, 31557600);
    tp_sts_policy_free(&pol);
}

Test(sts_policy, clamps_max_age_over_limit_keeping_raw)
{
    struct tp_sts_policy pol;

    POL_OK("version: STSv1\nmode: none\nmax_age: 31557601\n", &pol);
    cr_assert_eq(pol.max_age, TP_STS_MAXAGE_MAX);
    cr_assert_eq(pol.max_age_raw, 31557601);
    tp_sts_policy_free(&pol);
    POL_OK("version: STSv1\nmode: none\nmax_age: 9999999999\n", &pol);
    cr_assert_eq(pol.max_age, TP_STS_MAXAGE_MAX);
    cr_assert_eq(pol.max_age_raw, 9999999999ull);
    tp_sts_policy_free(&pol);
}

Test(sts_policy, ignores_and_counts_valid_extensions)
{
    struct tp_sts_policy pol;

    POL_OK(HEAD "mx: a.example\nfoo: bar baz\nx_y-z.1: a:b;c=d\n"
           "Mode: testing\nnote: h\xc3\xa9llo w\xc3\xb6rld\n", &pol);
    cr_assert_eq(pol.n_ext, 4);
    cr_assert_eq(pol.mode, TP_STS_MODE_ENFORCE);
    tp_sts_policy_free(&pol);
}

Test(sts_policy, accepts_32_character_extension_name)
{
    struct tp_sts_policy pol;

    POL_OK(HEAD "mx: a.example\na2345678901234567890123456789012: x\n", &pol);
    cr_assert_eq(pol.n_ext, 1);
    tp_sts_policy_free(&pol);
}

Test(sts_policy, accepts_64_mx_lines)
{
    char body[4096];
    struct tp_sts_policy pol;
    size_t n, i;

    n = (size_t)snprintf(body, sizeof(body), "%s", HEAD);
    for (i = 0; i < TP_STS_MX_MAX; i++)
        n += (size_t)snprintf(body + n, sizeof(body) - n,
                              "mx: mx%zu.example\n", i);
    cr_assert_lt(n, sizeof(body));
    POL_OK(body, &pol);
    cr_assert_eq(pol.n_mx, TP_STS_MX_MAX);
    cr_assert_str_eq(pol.mx[63], "mx63.example");
    tp_sts_policy_free(&pol);
}

Test(sts_policy, reads_only_len_bytes)
{
    static const char s[] = HEAD "mx: a.example\nmode: testing\n";
    struct tp_sts_policy pol;

    pol_ok_n(s, strlen(s) - strlen("mode: testing\n"), &pol);
    cr_assert_eq(pol.mode, TP_STS_MODE_ENFORCE);
    tp_sts_policy_free(&pol);
}

Test(sts_policy, accepts_body_of_exactly_max_bytes)
{
    static char body[TP_STS_BODY_MAX];
    static const char head[] = HEAD "mx: a.example\n";
    struct tp_sts_policy pol;

    memset(body, '\n', sizeof(body));
    memcpy(body, head, sizeof(head) - 1);
    pol_ok_n(body, sizeof(body), &pol);
    tp_sts_policy_free(&pol);
}

Test(sts_policy, accepts_line_of_exactly_max_bytes_before_crlf)
{
    static char body[TP_STS_LINE_MAX + 200];
    struct tp_sts_policy pol;
    size_t n;

    n = (size_t)snprintf(body, sizeof(body), "%s", HEAD "ext: ");
    memset(body + n, 'x', TP_STS_LINE_MAX - 5);
    n += TP_STS_LINE_MAX - 5;
    memcpy(body + n, "\r\nmx: a.example\n", 17);
    POL_OK(body, &pol);
    cr_assert_eq(pol.n_ext, 1);
    tp_sts_policy_free(&pol);
}

/* ---- whole-body errors ---- */

Test(sts_policy, rejects_empty_body)
{
    struct tp_sts_policy pol;
    struct tp_err e = {""};

    POL_FAIL("", "policy: empty body");
    cr_assert_eq(tp_sts_policy_parse(NULL, 0, &pol, &e), TP_ESYNTAX);
    cr_assert_str_eq(e.msg, "policy: empty body");
}

Test(sts_policy, rejects_blank_only_body_as_missing_version)
{
    POL_FAIL("\n\r\n\n", "policy: missing version");
}

Test(sts_policy, rejects_missing_version)
{
    POL_FAIL("mode: enforce\nmx: a.example\nmax_age: 1\n",
             "policy: missing version");
}

Test(sts_policy, rejects_missing_mode)
{
    POL_FAIL("version: STSv1\nmx: a.example\nmax_age: 1\n",
             "policy: missing mode");
}

Test(sts_policy, treats_capitalised_key_as_extension_so_mode_is_missing)
{
    POL_FAIL("version: STSv1\nMode: enforce\nmx: a.example\nmax_age: 1\n",
             "policy: missing mode");
}

Test(sts_policy, rejects_missing_max_age)
{
    POL_FAIL("version: STSv1\nmode: enforce\nmx: a.example\n",
             "policy: missing max_age");
}

Test(sts_policy, rejects_missing_mx_unless_mode_none)
{
    POL_FAIL(HEAD, "policy: missing mx (required unless mode is none)");
    POL_FAIL("version: STSv1\nmode: testing\nmax_age: 1\n",
             "policy: missing mx (required unless mode is none)");
}

Test(sts_policy, rejects_body_over_max_bytes)
{
    static char body[TP_STS_BODY_MAX + 1];

    memset(body, '\n', sizeof(body));
    pol_fail_n(body, sizeof(body), TP_ETOOBIG,
               "policy: body larger than 65536 bytes");
}

/* ---- line errors ---- */

Test(sts_policy, rejects_line_over_max_bytes)
{
    static char body[TP_STS_LINE_MAX + 200];
    size_t n;

    n = (size_t)snprintf(body, sizeof(body), "%s", HEAD "ext: ");
    memset(body + n, 'x', TP_STS_LINE_MAX - 4);
    n += TP_STS_LINE_MAX - 4;
    memcpy(body + n, "\nmx: a.example\n", 16);
    pol_fail_n(body, strlen(body), TP_ETOOBIG,
               "policy: line 4: longer than 1024 bytes");
}

Test(sts_policy, rejects_more_than_64_mx_lines)
{
    char body[4096];
    size_t n, i;

    n = (size_t)snprintf(body, sizeof(body), "%s", HEAD);
    for (i = 0; i < TP_STS_MX_MAX + 1; i++)
        n += (size_t)snprintf(body + n, sizeof(body) - n,
                              "mx: mx%zu.example\n", i);
    cr_assert_lt(n, sizeof(body));
    pol_fail_n(body, n, TP_ETOOBIG,
               "policy: line 68: mx: more than 64 mx lines");
}

struct line_case {
    char body[128];
    char msg[96];
};

/* Each body's first three lines are HEAD unless the case is about them. */
ParameterizedTestParameters(sts_policy, rejects_bad_line_naming_it)
{
    static struct line_case cases[] = {
        /* version */
        {"version: STSv2\n", "policy: line 1: version: not STSv1"},
        {"version: stsv1\n", "policy: line 1: version: not STSv1"},
        {"version: STSv1 x\n", "policy: line 1: version: not STSv1"},
        {"version:\n", "policy: line 1: version: empty value"},
        /* mode */
        {"version: STSv1\nmode: Enforce\n",
         "policy: line 2: mode: not one of testing, enforce, none"},
        {"version: STSv1\nmode: report\n",
         "policy: line 2: mode: not one of testing, enforce, none"},
        {"version: STSv1\nmode:  \n", "policy: line 2: mode: empty value"},
        /* max_age */
        {"max_age: abc\n", "policy: line 1: max_age: not a number"},
        {"max_age: -1\n", "policy: line 1: max_age: not a number"},
        {"max_age: +1\n", "policy: line 1: max_age: not a number"},
        {"max_age: 1 2\n", "policy: line 1: max_age: not a number"},
        {"max_age: 0x10\n", "policy: line 1: max_age: not a number"},
        {"max_age: 12345678901\n",
         "policy: line 1: max_age: more than 10 digits"},
        {"max_age:\n", "policy: line 1: max_age: empty value"},
        /* mx */
        {HEAD "mx:\n", "policy: line 4: mx: empty value"},
        {HEAD "mx: mail_x.example\n",
         "policy: line 4: mx: invalid character '_' at offset 4"},
        {HEAD "mx: mail.example.com.\n", "policy: line 4: mx: trailing dot"},
        {HEAD "mx: *\n", "policy: line 4: mx: '*' must be followed by '.'"},
        {HEAD "mx: mail.*.example\n",
         "policy: line 4: mx: invalid character '*' at offset 5"},
        {HEAD "mx: b\xc3\xbc" "cher.example\n",
         "policy: line 4: mx: invalid character 0xc3 at offset 1"},
        {HEAD "mx: a.example b.example\n",
         "policy: line 4: mx: invalid character 0x20 at offset 9"},
        /* duplicates of required keys */
        {"version: STSv1\nversion: STSv1\n",
         "policy: line 2: version: duplicate key"},
        {HEAD "mode: enforce\n", "policy: line 4: mode: duplicate key"},
        {HEAD "mode: testing\n", "policy: line 4: mode: duplicate key"},
        {HEAD "max_age: 86400\n", "policy: line 4: max_age: duplicate key"},
        {HEAD "max_age: x\n", "policy: line 4: max_age: duplicate key"},
        /* keys and extensions */
        {HEAD "foo:\n", "policy: line 4: foo: empty value"},
        {HEAD "foo: \t \n", "policy: line 4: foo: empty value"},
        {HEAD "foo: a\tb\n", "policy: line 4: foo: tab inside value"},
        {HEAD "_foo: x\n",
         "policy: line 4: invalid character '_' in key at column 1"},
        {HEAD "fo o: x\n",
         "policy: line 4: invalid character 0x20 in key at column 3"},
        {"version : STSv1\n",
         "policy: line 1: invalid character 0x20 in key at column 8"},
        {HEAD "m\xc3\xb6" "de: x\n",
         "policy: line 4: invalid character 0xc3 in key at column 2"},
        {HEAD "a23456789012345678901234567890123: x\n",
         "policy: line 4: key longer than 32 characters"},
        {HEAD "foo\n", "policy: line 4: missing ':' after key"},
        {HEAD ": x\n", "policy: line 4: empty key"},
        /* whitespace and control characters */
        {"version: STSv1\n mode: enforce\n",
         "policy: line 2: leading whitespace"},
        {"version: STSv1\n\tmode: enforce\n",
         "policy: line 2: leading whitespace"},
        {"version: STSv1\n  \n", "policy: line 2: leading whitespace"},
        {"version: STSv1\rmode: enforce\n",
         "policy: line 1: CR not followed by LF at column 15"},
        {"version: STSv1\r\r\n",
         "policy: line 1: CR not followed by LF at column 15"},
        {HEAD "mx: a.example\r",
         "policy: line 4: CR not followed by LF at column 14"},
        {"version: STSv1\nmode: enf\x01orce\n",
         "policy: line 2: control character 0x01 at column 10"},
        {"version: STSv1\x7f\n",
         "policy: line 1: control character 0x7f at column 15"},
        {HEAD "foo: bar\x1b[0m\n",
         "policy: line 4: control character 0x1b at column 9"},
    };

    return cr_make_param_array(struct line_case, cases,
                               sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct line_case *c, sts_policy, rejects_bad_line_naming_it)
{
    POL_FAIL(c->body, c->msg);
}

Test(sts_policy, rejects_nul_byte_naming_line_and_column)
{
    static const char body[] = "version: STSv1\nmode: en\0force\n";

    pol_fail_n(body, sizeof(body) - 1, TP_ESYNTAX,
               "policy: line 2: NUL byte at column 9");
}

Test(sts_policy, frees_mx_parsed_before_a_later_error)
{
    /* ASan reports a leak if the two mx strings are not released. */
    POL_FAIL(HEAD "mx: a.example\nmx: b.example\nmode: none\n",
             "policy: line 6: mode: duplicate key");
}

Test(sts_policy, tolerates_null_err)
{
    struct tp_sts_policy pol;

    cr_assert_eq(tp_sts_policy_parse((const uint8_t *)"x", 1, &pol, NULL),
                 TP_ESYNTAX);
    cr_assert_eq(tp_sts_policy_parse((const uint8_t *)rfc_example,
                                     sizeof(rfc_example) - 1, &pol, NULL),
                 TP_OK);
    tp_sts_policy_free(&pol);
}

/* ---- free, mode names ---- */

Test(sts_policy, free_is_null_safe_and_idempotent)
{
    struct tp_sts_policy pol;

    tp_sts_policy_free(NULL);
    POL_OK(rfc_example, &pol);
    tp_sts_policy_free(&pol);
    cr_assert_null(pol.mx);
    cr_assert_eq(pol.n_mx, 0);
    tp_sts_policy_free(&pol);
    ASSERT_NO_LEAKS();
}

Test(sts_policy, names_modes)
{
    cr_assert_str_eq(tp_sts_mode_name(TP_STS_MODE_NONE), "none");
    cr_assert_str_eq(tp_sts_mode_name(TP_STS_MODE_TESTING), "testing");
    cr_assert_str_eq(tp_sts_mode_name(TP_STS_MODE_ENFORCE), "enforce");
    cr_assert_str_eq(tp_sts_mode_name(TP_STS_MODE_UNSET), "");
    cr_assert_str_eq(tp_sts_mode_name((enum tp_sts_mode)42), "");
}

/* ---- fault injection ---- */

Test(sts_policy, survives_every_allocation_failure)
{
    struct tp_sts_policy pol;
    struct tp_err e;
    unsigned long n;
    size_t nomem = 0;
    int rc = TP_ENOMEM;

    /* 1 array + 3 strings: allocation 5 onwards never fails. */
    for (n = 1; n <= 8; n++) {
        memset(&e, 0, sizeof(e));
        tp_alloc_fail_at(n);
        rc = tp_sts_policy_parse((const uint8_t *)rfc_example,
                                 sizeof(rfc_example) - 1, &pol, &e);
        tp_alloc_fail_at(0);
        cr_assert(rc == TP_OK || rc == TP_ENOMEM, "n=%lu rc=%d", n, rc);
        if (rc == TP_ENOMEM) {
            nomem++;
            cr_assert_str_eq(e.msg, "policy: out of memory");
            cr_assert_null(pol.mx);
            cr_assert_eq(pol.n_mx, 0);
        } else {
            cr_assert_eq(pol.n_mx, 3);
            cr_assert_str_eq(pol.mx[2], "backupmx.example.com");
        }
        tp_sts_policy_free(&pol);
    }
    cr_assert_eq(nomem, 4, "expected 4 failing allocation points");
    cr_assert_eq(rc, TP_OK);
    ASSERT_NO_LEAKS();
}
