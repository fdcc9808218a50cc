/*
 * test_verdict.c - the pure evaluator, one test per row of its table
 * (DESIGN §5 as far as MTA-STS goes): plain structs in, verdict, source,
 * mode, reason and per-host detail out.  No network.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <criterion/criterion.h>

#include "verdict.h"

/* policy mx arrays are char **; the literals are never written */
#define S(x) ((char *)(x))

static char *enforce_mx[] = { S("mx1.example.test"), S("*.example.net") };

static struct tp_sts_policy enforce = {
    .mode = TP_STS_MODE_ENFORCE, .max_age = 86400, .max_age_raw = 86400,
    .n_mx = 2, .mx = enforce_mx,
};

static struct tp_mx_rr two_mx[] = {
    { 20, "b.example.net" },
    { 10, "mx1.example.test" },
};

/* base - an input with a secure two-host MX RRset and a valid policy */
static struct tp_verdict_in
base(const struct tp_sts_policy *pol)
{
    struct tp_verdict_in in;

    memset(&in, 0, sizeof(in));
    in.domain = "example.test";
    in.sts = pol ? TP_STS_VALID : TP_STS_ABSENT;
    in.sts_detail = pol ? "" : "no TXT record";
    in.pol = pol;
    in.sts_id = "abc123";
    in.mx_rc = TP_DNS_OK;
    in.mx_sec = TP_SEC_SECURE;
    in.mx = two_mx;
    in.n_mx = 2;
    return in;
}

#define REASON_HAS(out, s)                                                 \
    cr_assert(strstr((out).reason, (s)) != NULL, "reason \"%s\" lacks "   \
              "\"%s\"", (out).reason, (s))

Test(verdict, enforce_with_matching_hosts_is_sts_enforce)
{
    struct tp_verdict_in in = base(&enforce);
    struct tp_verdict_out out;

    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_STS_ENFORCE);
    cr_assert_eq(out.source, TLSPOL_SOURCE_STS);
    cr_assert_eq(out.mode, TLSPOL_STS_MODE_ENFORCE);
    REASON_HAS(out, "2 of 2 MX hosts match");
    /* hosts come out sorted by preference */
    cr_assert_eq(out.n_hosts, 2);
    cr_assert_str_eq(out.hosts[0].name, "mx1.example.test");
    cr_assert_eq(out.hosts[0].pref, 10);
    cr_assert_eq(out.hosts[0].sts_match, 1);
    cr_assert_str_eq(out.hosts[1].name, "b.example.net");
    cr_assert_eq(out.hosts[1].sts_match, 1);
}

Test(verdict, enforce_with_no_matching_host_is_tempfail_naming_both)
{
    static char *other[] = { S("mail.elsewhere.test") };
    struct tp_sts_policy pol = enforce;
    struct tp_verdict_in in;
    struct tp_verdict_out out;

    pol.mx = other;
    pol.n_mx = 1;
    in = base(&pol);
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_TEMPFAIL);
    cr_assert_eq(out.mode, TLSPOL_STS_MODE_ENFORCE);
    REASON_HAS(out, "mx patterns [mail.elsewhere.test]");
    REASON_HAS(out, "MX hosts [mx1.example.test, b.example.net]");
    cr_assert_eq(out.hosts[0].sts_match, 0);
    cr_assert_eq(out.hosts[1].sts_match, 0);
}

Test(verdict, wildcard_covers_one_label_only)
{
    static struct tp_mx_rr deep[] = { { 10, "a.b.example.net" } };
    struct tp_verdict_in in = base(&enforce);
    struct tp_verdict_out out;

    in.mx = deep;
    in.n_mx = 1;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_TEMPFAIL);
    cr_assert_eq(out.hosts[0].sts_match, 0);
}

Test(verdict, testing_is_sts_testing)
{
    struct tp_sts_policy pol = enforce;
    struct tp_verdict_in in;
    struct tp_verdict_out out;

    pol.mode = TP_STS_MODE_TESTING;
    in = base(&pol);
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_STS_TESTING);
    cr_assert_eq(out.mode, TLSPOL_STS_MODE_TESTING);
    cr_assert_eq(out.source, TLSPOL_SOURCE_STS);
}

Test(verdict, testing_with_no_match_is_still_testing)
{
    static char *other[] = { S("mail.elsewhere.test") };
    struct tp_sts_policy pol = enforce;
    struct tp_verdict_in in;
    struct tp_verdict_out out;

    pol.mode = TP_STS_MODE_TESTING;
    pol.mx = other;
    pol.n_mx = 1;
    in = base(&pol);
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_STS_TESTING);
    cr_assert_eq(out.hosts[0].sts_match, 0);
}

Test(verdict, mode_none_is_no_policy_from_sts)
{
    struct tp_sts_policy pol = { .mode = TP_STS_MODE_NONE };
    struct tp_verdict_in in = base(&pol);
    struct tp_verdict_out out;

    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_NO_POLICY);
    cr_assert_eq(out.source, TLSPOL_SOURCE_STS);
    cr_assert_eq(out.mode, TLSPOL_STS_MODE_NONE);
    REASON_HAS(out, "mode none (id abc123)");
}

Test(verdict, every_failed_discovery_is_no_policy_with_its_reason)
{
    static const enum tp_sts_state states[] = {
        TP_STS_ABSENT, TP_STS_TXT_FAILED, TP_STS_TXT_INVALID,
        TP_STS_FETCH_FAILED, TP_STS_POLICY_INVALID,
    };
    size_t i;

    for (i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        struct tp_verdict_in in = base(NULL);
        struct tp_verdict_out out;

        in.sts = states[i];
        in.sts_detail = "policy: line 3: max_age: not a number";
        tp_verdict_eval(&in, &out);
        cr_assert_eq(out.verdict, TLSPOL_VERDICT_NO_POLICY, "state %zu", i);
        cr_assert_eq(out.source, TLSPOL_SOURCE_NONE);
        cr_assert_eq(out.mode, TLSPOL_STS_MODE_ABSENT);
        REASON_HAS(out, "no MTA-STS policy: policy: line 3: max_age: not a "
                        "number");
        cr_assert_eq(out.hosts[0].sts_match, -1);
    }
}

Test(verdict, valid_state_without_policy_is_not_trusted)
{
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    in.sts = TP_STS_VALID; /* inconsistent input: no policy given */
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_NO_POLICY);
}

Test(verdict, mx_lookup_error_is_tempfail_even_with_enforce)
{
    struct tp_verdict_in in = base(&enforce);
    struct tp_verdict_out out;

    in.mx_rc = TP_DNS_ERROR;
    in.mx_err = "rcode 2 (SERVFAIL)";
    in.n_mx = 0;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_TEMPFAIL);
    REASON_HAS(out, "MX lookup for example.test failed (rcode 2 (SERVFAIL))");
    cr_assert_eq(out.n_hosts, 0);
}

Test(verdict, bogus_mx_is_tempfail_even_without_policy)
{
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    in.mx_sec = TP_SEC_BOGUS;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_TEMPFAIL);
    REASON_HAS(out, "DNSSEC bogus");
}

Test(verdict, nxdomain_is_no_policy)
{
    struct tp_verdict_in in = base(&enforce);
    struct tp_verdict_out out;

    in.mx_rc = TP_DNS_NXDOMAIN;
    in.n_mx = 0;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_NO_POLICY);
    REASON_HAS(out, "does not exist (NXDOMAIN)");
}

Test(verdict, nodata_means_implicit_mx_of_the_domain_itself)
{
    static char *self[] = { S("example.test") };
    struct tp_sts_policy pol = enforce;
    struct tp_verdict_in in;
    struct tp_verdict_out out;

    pol.mx = self;
    pol.n_mx = 1;
    in = base(&pol);
    in.mx_rc = TP_DNS_NODATA;
    in.n_mx = 0;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_STS_ENFORCE);
    cr_assert_eq(out.n_hosts, 1);
    cr_assert_str_eq(out.hosts[0].name, "example.test");
    cr_assert_eq(out.hosts[0].pref, 0);
}

Test(verdict, null_mx_is_no_policy)
{
    static struct tp_mx_rr nullmx[] = { { 0, "" } };
    struct tp_verdict_in in = base(&enforce);
    struct tp_verdict_out out;

    in.mx = nullmx;
    in.n_mx = 1;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_NO_POLICY);
    REASON_HAS(out, "null MX (RFC 7505)");
    cr_assert_eq(out.n_hosts, 0);
}

Test(verdict, root_exchange_among_real_hosts_is_skipped)
{
    static struct tp_mx_rr mixed[] = { { 0, "" }, { 10, "mx1.example.test" } };
    struct tp_verdict_in in = base(&enforce);
    struct tp_verdict_out out;

    in.mx = mixed;
    in.n_mx = 2;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_STS_ENFORCE);
    cr_assert_eq(out.n_hosts, 1);
    cr_assert_str_eq(out.hosts[0].name, "mx1.example.test");
}

Test(verdict, internal_error_is_tempfail_whatever_else_was_found)
{
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    in.internal_error = "out of memory";
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_TEMPFAIL);
    REASON_HAS(out, "internal error while resolving example.test: out of "
                    "memory");
}

Test(verdict, equal_preferences_keep_dns_order)
{
    static struct tp_mx_rr same[] = { { 10, "a.example.test" },
                                      { 10, "b.example.test" },
                                      { 5, "c.example.test" } };
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    in.mx = same;
    in.n_mx = 3;
    tp_verdict_eval(&in, &out);
    cr_assert_str_eq(out.hosts[0].name, "c.example.test");
    cr_assert_str_eq(out.hosts[1].name, "a.example.test");
    cr_assert_str_eq(out.hosts[2].name, "b.example.test");
}

Test(verdict, reason_is_bounded_with_many_long_patterns)
{
    static char longpat[TP_DOMAIN_MAX + 1];
    static char *pats[TP_STS_MX_MAX];
    struct tp_sts_policy pol = enforce;
    struct tp_verdict_in in;
    struct tp_verdict_out out;
    size_t i;

    memset(longpat, 'a', TP_DOMAIN_MAX);
    for (i = 0; i < TP_DOMAIN_MAX; i += 60)
        longpat[i] = '.';
    longpat[0] = 'x';
    for (i = 0; i < TP_STS_MX_MAX; i++)
        pats[i] = longpat;
    pol.mx = pats;
    pol.n_mx = TP_STS_MX_MAX;
    in = base(&pol);
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_TEMPFAIL);
    cr_assert_lt(strlen(out.reason), sizeof(out.reason));
}
