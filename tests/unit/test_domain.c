/*
 * test_domain.c - white-box tests of domain.c: next-hop normalisation
 * (RFC 5321 §4.1.2, IDNA via libidn2), MTA-STS mx pattern syntax (RFC 8461
 * §3.2) and MX host matching (RFC 8461 §4.1, Appendix B).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <idn2.h>

#include "common.h"
#include "domain.h"

/* norm_ok - normalising s must succeed and give want */
static void
norm_ok(const char *s, size_t len, const char *want)
{
    char out[TP_DOMAIN_MAX + 1];
    struct tp_err e = {""};
    int rc = tp_domain_normalize(s, len, out, &e);

    cr_assert_eq(rc, TP_OK, "rc %d (%s) for \"%.*s\"", rc, e.msg, (int)len,
                 s);
    cr_assert_str_eq(out, want);
}

/* norm_fail - normalising s must fail with rc and exactly msg */
static void
norm_fail(const char *s, size_t len, int want_rc, const char *msg)
{
    char out[TP_DOMAIN_MAX + 1];
    struct tp_err e = {""};
    int rc;

    memcpy(out, "junk", 5);
    rc = tp_domain_normalize(s, len, out, &e);
    cr_assert_eq(rc, want_rc, "rc %d (%s) for \"%.*s\"", rc, e.msg,
                 (int)len, s);
    cr_assert_str_eq(e.msg, msg);
    cr_assert_str_eq(out, "", "out not cleared on failure");
}

#define NORM_OK(s, want) norm_ok((s), strlen(s), (want))
#define NORM_FAIL(s, msg) norm_fail((s), strlen(s), TP_ESYNTAX, (msg))

/* mxc_fail - tp_mx_pattern_check must refuse s with exactly msg */
static void
mxc_fail(const char *s, const char *msg)
{
    struct tp_err e = {""};
    int rc = tp_mx_pattern_check(s, strlen(s), &e);

    cr_assert_eq(rc, TP_ESYNTAX, "rc %d for \"%s\"", rc, s);
    cr_assert_str_eq(e.msg, msg);
}

/* mxc_ok - tp_mx_pattern_check must accept s */
static void
mxc_ok(const char *s)
{
    struct tp_err e = {""};
    int rc = tp_mx_pattern_check(s, strlen(s), &e);

    cr_assert_eq(rc, TP_OK, "rc %d (%s) for \"%s\"", rc, e.msg, s);
}

/* fill - n copies of c followed by NUL into buf */
static char *
fill(char *buf, char c, size_t n)
{
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

/* ---- tp_domain_normalize: ASCII ---- */

Test(domain, lowercases_ascii)
{
    NORM_OK("MAIL.Example.COM", "mail.example.com");
}

Test(domain, strips_one_trailing_dot)
{
    NORM_OK("example.com.", "example.com");
}

Test(domain, keeps_a_labels_and_inner_hyphens)
{
    NORM_OK("xn--bcher-kva.ex-ample.com", "xn--bcher-kva.ex-ample.com");
}

Test(domain, accepts_single_label)
{
    NORM_OK("localhost", "localhost");
}

Test(domain, accepts_numeric_non_top_label)
{
    NORM_OK("123.example", "123.example");
}

Test(domain, reads_only_len_bytes)
{
    norm_ok("example.comXYZ", 11, "example.com");
}

Test(domain, rejects_empty)
{
    NORM_FAIL("", "domain: empty");
}

Test(domain, rejects_root_only)
{
    NORM_FAIL(".", "domain: empty");
}

Test(domain, rejects_two_trailing_dots)
{
    NORM_FAIL("example.com..", "domain: empty label");
}

Test(domain, rejects_empty_inner_label)
{
    NORM_FAIL("a..example", "domain: empty label");
}

Test(domain, rejects_leading_dot_parent_key)
{
    NORM_FAIL(".example.com", "domain: leading dot (parent-domain lookup key)");
}

Test(domain, rejects_bracketed_next_hop)
{
    NORM_FAIL("[mail.example.com]", "domain: bracketed next hop");
    NORM_FAIL("[mail.example.com]:587", "domain: bracketed next hop");
    NORM_FAIL("[192.0.2.1]", "domain: bracketed next hop");
}

Test(domain, rejects_ipv4_literal)
{
    NORM_FAIL("192.0.2.1", "domain: IP address literal");
    NORM_FAIL("192.0.2.1.", "domain: IP address literal");
}

Test(domain, rejects_ipv6_literal)
{
    NORM_FAIL("2001:db8::1", "domain: IP address literal");
    NORM_FAIL("::ffff:192.0.2.1", "domain: IP address literal");
}

Test(domain, rejects_colon_that_is_not_ipv6)
{
    NORM_FAIL("example.com:25", "domain: invalid character ':' at offset 11");
}

Test(domain, rejects_numeric_tld)
{
    NORM_FAIL("example.123", "domain: numeric top-level label");
    NORM_FAIL("10.1", "domain: numeric top-level label");
    NORM_FAIL("256.1.1.1", "domain: numeric top-level label");
}

Test(domain, rejects_underscore_with_offset)
{
    NORM_FAIL("mail_x.example", "domain: invalid character '_' at offset 4");
    NORM_FAIL("_25._tcp.example", "domain: invalid character '_' at offset 0");
}

Test(domain, rejects_space_and_punctuation)
{
    NORM_FAIL("exa mple.com", "domain: invalid character 0x20 at offset 3");
    NORM_FAIL("user@example.com",
              "domain: invalid character '@' at offset 4");
    NORM_FAIL("*.example.com", "domain: invalid character '*' at offset 0");
}

Test(domain, rejects_control_bytes_by_hex)
{
    norm_fail("exa\0mple.com", 12, TP_ESYNTAX,
              "domain: invalid character 0x00 at offset 3");
    NORM_FAIL("example.com\n", "domain: invalid character 0x0a at offset 11");
    NORM_FAIL("exam\x7fple.com",
              "domain: invalid character 0x7f at offset 4");
}

Test(domain, rejects_label_starting_with_hyphen)
{
    NORM_FAIL("-mail.example.com", "domain: label starts with hyphen");
    NORM_FAIL("mail.-example.com", "domain: label starts with hyphen");
}

Test(domain, rejects_label_ending_with_hyphen)
{
    NORM_FAIL("mail-.example.com", "domain: label ends with hyphen");
    NORM_FAIL("mail.example-", "domain: label ends with hyphen");
}

Test(domain, accepts_63_octet_label)
{
    char l[64], in[128], want[128];

    fill(l, 'A', 63);
    snprintf(in, sizeof(in), "x.%s.com", l);
    fill(l, 'a', 63);
    snprintf(want, sizeof(want), "x.%s.com", l);
    NORM_OK(in, want);
}

Test(domain, rejects_64_octet_label_naming_it)
{
    char l[65], in[128];

    fill(l, 'a', 64);
    snprintf(in, sizeof(in), "x.%s.com", l);
    NORM_FAIL(in, "domain: label 2 longer than 63 octets");
}

/* name_of - a name of exactly n octets from 63-octet labels */
static char *
name_of(char *buf, size_t n)
{
    size_t i;

    fill(buf, 'a', n);
    for (i = 63; i < n; i += 64)
        buf[i] = '.';
    if (buf[n - 1] == '.')
        buf[n - 1] = 'z';
    return buf;
}

Test(domain, accepts_253_octets)
{
    char in[300];

    name_of(in, 253);
    NORM_OK(in, in);
}

Test(domain, accepts_253_octets_plus_root_dot)
{
    char in[320], want[300];

    name_of(want, 253);
    snprintf(in, sizeof(in), "%s.", want);
    NORM_OK(in, want);
}

Test(domain, rejects_254_octets)
{
    char in[300];

    name_of(in, 254);
    NORM_FAIL(in, "domain: longer than 253 octets");
}

Test(domain, rejects_input_over_cap_as_toobig)
{
    char in[TP_DOMAIN_INPUT_MAX + 2];

    fill(in, 'a', TP_DOMAIN_INPUT_MAX + 1);
    norm_fail(in, TP_DOMAIN_INPUT_MAX + 1, TP_ETOOBIG,
              "domain: input longer than 1024 octets");
}

Test(domain, tolerates_null_err)
{
    char out[TP_DOMAIN_MAX + 1];

    cr_assert_eq(tp_domain_normalize("a_b", 3, out, NULL), TP_ESYNTAX);
    cr_assert_eq(tp_domain_normalize("ab", 2, out, NULL), TP_OK);
}

/* ---- tp_domain_normalize: IDNA ---- */

Test(domain, converts_u_labels_to_a_labels)
{
    NORM_OK("b\xc3\xbc" "cher.example", "xn--bcher-kva.example");
}

Test(domain, maps_uppercase_u_labels)
{
    NORM_OK("B\xc3\x9c" "CHER.EXAMPLE.", "xn--bcher-kva.example");
}

Test(domain, uses_nontransitional_processing)
{
    /* UTS #46 transitional would give "fass.de". */
    NORM_OK("fa\xc3\x9f.de", "xn--fa-hia.de");
}

Test(domain, maps_ideographic_full_stop)
{
    NORM_OK("b\xc3\xbc" "cher\xe3\x80\x82" "example", "xn--bcher-kva.example");
}

Test(domain, rejects_invalid_utf8_as_idna_error)
{
    char want[TP_REASON_MAX];

    snprintf(want, sizeof(want), "domain: not valid IDNA: %s",
             idn2_strerror(IDN2_ENCODING_ERROR));
    NORM_FAIL("\xc3.example", want);
}

Test(domain, rejects_idna_hyphen_rule)
{
    char want[TP_REASON_MAX];

    snprintf(want, sizeof(want), "domain: not valid IDNA: %s",
             idn2_strerror(IDN2_HYPHEN_STARTEND));
    NORM_FAIL("\xc3\xbc.-a", want);
}

Test(domain, checks_ldh_after_idna_mapping)
{
    NORM_FAIL("a_b.\xc3\xbc",
              "domain: invalid character '_' at offset 1 after IDNA mapping");
}

Test(domain, rejects_leading_dot_produced_by_idna_mapping)
{
    NORM_FAIL("\xe3\x80\x82\xc3\xbc",
              "domain: leading dot (parent-domain lookup key)");
}

Test(domain, rejects_ctl_before_idna)
{
    NORM_FAIL("\xc3\xbc\x01.de", "domain: invalid character 0x01 at offset 2");
}

/* ---- tp_mx_pattern_check ---- */

Test(mx_pattern, accepts_plain_domain)
{
    mxc_ok("mail.example.com");
    mxc_ok("MAIL.Example.COM");
    mxc_ok("localhost");
}

Test(mx_pattern, accepts_leading_wildcard)
{
    mxc_ok("*.example.com");
    mxc_ok("*.com");
}

Test(mx_pattern, accepts_dotted_quad_as_the_grammar_does)
{
    /* RFC 5321 Domain syntax admits it; matching never confuses it. */
    mxc_ok("192.0.2.1");
}

Test(mx_pattern, reads_only_len_bytes)
{
    struct tp_err e = {""};

    cr_assert_eq(tp_mx_pattern_check("mail.example.com_", 16, &e), TP_OK);
}

Test(mx_pattern, rejects_empty)
{
    mxc_fail("", "mx: empty");
}

Test(mx_pattern, rejects_bare_star)
{
    mxc_fail("*", "mx: '*' must be followed by '.'");
    mxc_fail("*example.com", "mx: '*' must be followed by '.'");
}

Test(mx_pattern, rejects_wildcard_without_domain)
{
    mxc_fail("*.", "mx: wildcard without a domain");
}

Test(mx_pattern, rejects_wildcard_not_leftmost)
{
    mxc_fail("mail.*.example.com", "mx: invalid character '*' at offset 5");
    mxc_fail("*.*.example.com", "mx: invalid character '*' at offset 2");
    mxc_fail("mx*.example.com", "mx: invalid character '*' at offset 2");
}

Test(mx_pattern, rejects_trailing_dot)
{
    mxc_fail("mail.example.com.", "mx: trailing dot");
}

Test(mx_pattern, rejects_empty_labels)
{
    mxc_fail(".example.com", "mx: empty label");
    mxc_fail("*..example.com", "mx: empty label");
    mxc_fail("mail..example.com", "mx: empty label");
}

Test(mx_pattern, rejects_underscore_with_offset)
{
    mxc_fail("*.mail_x.example", "mx: invalid character '_' at offset 6");
}

Test(mx_pattern, rejects_u_label)
{
    mxc_fail("b\xc3\xbc" "cher.example",
             "mx: invalid character 0xc3 at offset 1");
}

Test(mx_pattern, rejects_ip_literal_brackets)
{
    mxc_fail("[192.0.2.1]", "mx: invalid character '[' at offset 0");
}

Test(mx_pattern, rejects_hyphen_at_label_edges)
{
    mxc_fail("-mail.example.com", "mx: label starts with hyphen");
    mxc_fail("*.-mail.example.com", "mx: label starts with hyphen");
    mxc_fail("mail-.example.com", "mx: label ends with hyphen");
    mxc_fail("mail.example-", "mx: label ends with hyphen");
}

Test(mx_pattern, rejects_64_octet_label)
{
    char l[65], in[128];

    fill(l, 'a', 64);
    snprintf(in, sizeof(in), "*.%s.com", l);
    mxc_fail(in, "mx: label 1 longer than 63 octets");
}

Test(mx_pattern, rejects_over_253_octets)
{
    char in[300];

    name_of(in, 254);
    mxc_fail(in, "mx: longer than 253 octets");
    name_of(in, 253);
    mxc_ok(in);
}

/* ---- tp_mx_match ---- */

struct match_case {
    char pattern[64];
    char host[64];
    bool want;
};

ParameterizedTestParameters(mx_match, follows_rfc8461_section_4_1)
{
    static struct match_case cases[] = {
        {"mail.example.com", "mail.example.com", true},
        {"mail.example.com", "MAIL.Example.COM", true},
        {"MAIL.example.com", "mail.example.com", true},
        {"mail.example.com", "mail.example.com.", true},
        {"mail.example.com", "mail.example.com..", false},
        {"mail.example.com", "xmail.example.com", false},
        {"mail.example.com", "mail.example.co", false},
        {"mail.example.com", "example.com", false},
        {"*.example.com", "mail.example.com", true},
        {"*.example.com", "MX1.EXAMPLE.COM.", true},
        {"*.example.com", "example.com", false},
        {"*.example.com", "a.b.example.com", false},
        {"*.example.com", ".example.com", false},
        {"*.example.com", "mail.example.org", false},
        {"*.example.com", "mail.xexample.com", false},
        {"*.com", "example.com", true},
        {"mail.*.com", "mail.x.com", false},
        {"*.", "a.", false},
        {"*.", "a..", false},
        {"", "", false},
        {"example.com", "", false},
        {"", "example.com", false},
        {"*", "example", false},
    };

    return cr_make_param_array(struct match_case, cases,
                               sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct match_case *c, mx_match, follows_rfc8461_section_4_1)
{
    cr_assert_eq(tp_mx_match(c->pattern, c->host), c->want,
                 "tp_mx_match(\"%s\", \"%s\") != %d", c->pattern, c->host,
                 c->want);
}

Test(mx_match, null_never_matches)
{
    cr_assert_not(tp_mx_match(NULL, "example.com"));
    cr_assert_not(tp_mx_match("example.com", NULL));
}

Test(mx_match, overlong_host_never_matches)
{
    char host[300];

    name_of(host, 254);
    cr_assert_not(tp_mx_match(host, host));
    cr_assert_not(tp_mx_match("*.a", host));
}
