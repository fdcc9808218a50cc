/*
 * test_verdict.c - the pure evaluator, one test per row of its table
 * (DESIGN §5: DANE, then MTA-STS), and tp_mx_hosts.  No network.
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

/* Two hosts, sorted by preference, as tp_mx_hosts would give them. */
static struct tp_host_in two_hosts[2];

/* base - secure MX with two hosts without DANE, and policy pol (or none) */
static struct tp_verdict_in
base(const struct tp_sts_policy *pol)
{
    struct tp_verdict_in in;

    memset(two_hosts, 0, sizeof(two_hosts));
    two_hosts[0].name = "mx1.example.test";
    two_hosts[0].pref = 10;
    two_hosts[1].name = "b.example.net";
    two_hosts[1].pref = 20;
    memset(&in, 0, sizeof(in));
    in.domain = "example.test";
    in.sts = pol ? TP_STS_VALID : TP_STS_ABSENT;
    in.sts_detail = pol ? "" : "no TXT record";
    in.pol = pol;
    in.sts_id = "abc123";
    in.mx_rc = TP_DNS_OK;
    in.mx_sec = TP_SEC_SECURE;
    in.hosts = two_hosts;
    in.n_hosts = 2;
    in.dane_checked = 1;
    return in;
}

/* dane - set both hosts' DANE states and notes */
static void
dane(enum tp_host_dane a, enum tp_host_dane b)
{
    two_hosts[0].dane = a;
    two_hosts[0].note = a == TP_HOST_FAILED ? "TLSA lookup bogus" : "";
    two_hosts[1].dane = b;
    two_hosts[1].note = b == TP_HOST_FAILED ? "address lookup timeout" : "";
}

#define REASON_HAS(out, s)                                                 \
    cr_assert(strstr((out).reason, (s)) != NULL, "reason \"%s\" lacks "   \
              "\"%s\"", (out).reason, (s))

/* --- tp_mx_hosts --------------------------------------------------- */

Test(mx_hosts, sorted_by_preference_stable)
{
    static const struct tp_mx_rr mx[] = {
        { 20, "b.example.test" }, { 10, "a.example.test" },
        { 20, "c.example.test" }, { 5, "d.example.test" },
    };
    const char *names[8];
    unsigned int prefs[8];
    int null_mx = -1;
    size_t n = tp_mx_hosts("example.test", TP_DNS_OK, mx, 4, names, prefs,
                           8, &null_mx);

    cr_assert_eq(n, 4);
    cr_assert_eq(null_mx, 0);
    cr_assert_str_eq(names[0], "d.example.test");
    cr_assert_str_eq(names[1], "a.example.test");
    cr_assert_str_eq(names[2], "b.example.test");
    cr_assert_str_eq(names[3], "c.example.test");
    cr_assert_eq(prefs[3], 20);
}

Test(mx_hosts, nodata_is_the_implicit_mx)
{
    const char *names[2];
    unsigned int prefs[2];
    int null_mx;

    cr_assert_eq(tp_mx_hosts("example.test", TP_DNS_NODATA, NULL, 0, names,
                             prefs, 2, &null_mx), 1);
    cr_assert_str_eq(names[0], "example.test");
    cr_assert_eq(prefs[0], 0);
}

Test(mx_hosts, null_mx_gives_no_host)
{
    static const struct tp_mx_rr mx[] = { { 0, "" } };
    const char *names[2];
    unsigned int prefs[2];
    int null_mx = 0;

    cr_assert_eq(tp_mx_hosts("example.test", TP_DNS_OK, mx, 1, names, prefs,
                             2, &null_mx), 0);
    cr_assert_eq(null_mx, 1);
}

Test(mx_hosts, root_exchange_among_real_hosts_is_skipped)
{
    static const struct tp_mx_rr mx[] = { { 0, "" }, { 10, "a.test" } };
    const char *names[2];
    unsigned int prefs[2];
    int null_mx = 1;

    cr_assert_eq(tp_mx_hosts("example.test", TP_DNS_OK, mx, 2, names, prefs,
                             2, &null_mx), 1);
    cr_assert_eq(null_mx, 0);
    cr_assert_str_eq(names[0], "a.test");
}

Test(mx_hosts, bounded_by_max_and_empty_on_error)
{
    static const struct tp_mx_rr mx[] = { { 1, "a.test" }, { 2, "b.test" },
                                          { 3, "c.test" } };
    const char *names[2];
    unsigned int prefs[2];
    int null_mx;

    cr_assert_eq(tp_mx_hosts("x.test", TP_DNS_OK, mx, 3, names, prefs, 2,
                             &null_mx), 2);
    cr_assert_eq(tp_mx_hosts("x.test", TP_DNS_ERROR, mx, 3, names, prefs, 2,
                             &null_mx), 0);
    cr_assert_eq(tp_mx_hosts("x.test", TP_DNS_NXDOMAIN, NULL, 0, names,
                             prefs, 2, &null_mx), 0);
}

/* --- per-host DANE steps (RFC 7672 §2.2.2, §2.2.3) ------------------- */

Test(dane_steps, address_lookup_outcomes)
{
    cr_assert_eq(tp_dane_after_addr(TP_DNS_ERROR, TP_SEC_UNKNOWN, 0, 0),
                 TP_STEP_FAILED);
    cr_assert_eq(tp_dane_after_addr(TP_DNS_OK, TP_SEC_BOGUS, 0, 0),
                 TP_STEP_FAILED);
    cr_assert_eq(tp_dane_after_addr(TP_DNS_OK, TP_SEC_INDETERMINATE, 0, 0),
                 TP_STEP_FAILED, "indeterminate counts as failure");
    cr_assert_eq(tp_dane_after_addr(TP_DNS_NODATA, TP_SEC_SECURE, 0, 0),
                 TP_STEP_NOADDR);
    cr_assert_eq(tp_dane_after_addr(TP_DNS_NXDOMAIN, TP_SEC_SECURE, 0, 0),
                 TP_STEP_NOADDR);
    cr_assert_eq(tp_dane_after_addr(TP_DNS_OK, TP_SEC_SECURE, 0, 0),
                 TP_STEP_TLSA_NAME);
    cr_assert_eq(tp_dane_after_addr(TP_DNS_OK, TP_SEC_SECURE, 1, 1),
                 TP_STEP_TLSA_CANON, "secure chain: expanded name first");
    cr_assert_eq(tp_dane_after_addr(TP_DNS_OK, TP_SEC_INSECURE, 0, 0),
                 TP_STEP_NONE, "insecure address: no TLSA query");
    cr_assert_eq(tp_dane_after_addr(TP_DNS_OK, TP_SEC_INSECURE, 1, 1),
                 TP_STEP_CHECK_CNAME, "insecure behind a CNAME: check it");
    cr_assert_eq(tp_dane_after_addr(TP_DNS_OK, TP_SEC_UNKNOWN, 0, 0),
                 TP_STEP_NONE, "unvalidated: no DANE");
}

Test(dane_steps, cname_lookup_outcomes)
{
    cr_assert_eq(tp_dane_after_cname(TP_DNS_OK, TP_SEC_SECURE),
                 TP_STEP_TLSA_NAME, "secure CNAME: TLSA at the original");
    cr_assert_eq(tp_dane_after_cname(TP_DNS_OK, TP_SEC_INSECURE),
                 TP_STEP_NONE, "first link insecure: no DANE");
    cr_assert_eq(tp_dane_after_cname(TP_DNS_OK, TP_SEC_BOGUS),
                 TP_STEP_FAILED);
    cr_assert_eq(tp_dane_after_cname(TP_DNS_ERROR, TP_SEC_UNKNOWN),
                 TP_STEP_FAILED);
    cr_assert_eq(tp_dane_after_cname(TP_DNS_NODATA, TP_SEC_SECURE),
                 TP_STEP_NONE);
}

Test(dane_steps, tlsa_lookup_outcomes)
{
    cr_assert_eq(tp_dane_after_tlsa(TP_DNS_OK, TP_SEC_SECURE, 0, 1),
                 TP_STEP_JUDGE);
    cr_assert_eq(tp_dane_after_tlsa(TP_DNS_NODATA, TP_SEC_SECURE, 1, 0),
                 TP_STEP_JUDGE, "records dropped over a limit still exist");
    cr_assert_eq(tp_dane_after_tlsa(TP_DNS_OK, TP_SEC_BOGUS, 0, 1),
                 TP_STEP_FAILED);
    cr_assert_eq(tp_dane_after_tlsa(TP_DNS_ERROR, TP_SEC_UNKNOWN, 0, 0),
                 TP_STEP_FAILED, "SERVFAIL/timeout is failure, not none");
    cr_assert_eq(tp_dane_after_tlsa(TP_DNS_OK, TP_SEC_INDETERMINATE, 0, 0),
                 TP_STEP_FAILED);
    cr_assert_eq(tp_dane_after_tlsa(TP_DNS_NXDOMAIN, TP_SEC_SECURE, 0, 1),
                 TP_STEP_TLSA_NAME, "nothing at the expanded name: fall "
                 "back to the original");
    cr_assert_eq(tp_dane_after_tlsa(TP_DNS_OK, TP_SEC_INSECURE, 0, 1),
                 TP_STEP_TLSA_NAME, "insecure at the expanded name");
    cr_assert_eq(tp_dane_after_tlsa(TP_DNS_NODATA, TP_SEC_SECURE, 0, 0),
                 TP_STEP_NONE);
    cr_assert_eq(tp_dane_after_tlsa(TP_DNS_OK, TP_SEC_INSECURE, 0, 0),
                 TP_STEP_NONE, "insecure TLSA: as if none");
}

/* --- rules 1-3 ----------------------------------------------------- */

Test(verdict, internal_error_is_tempfail_whatever_else_was_found)
{
    struct tp_verdict_in in = base(&enforce);
    struct tp_verdict_out out;

    dane(TP_HOST_DANE, TP_HOST_DANE);
    in.internal_error = "out of memory";
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_TEMPFAIL);
    REASON_HAS(out, "internal error while resolving example.test: out of "
                    "memory");
}

Test(verdict, mx_lookup_error_is_tempfail_even_with_enforce)
{
    struct tp_verdict_in in = base(&enforce);
    struct tp_verdict_out out;

    in.mx_rc = TP_DNS_ERROR;
    in.mx_err = "rcode 2 (SERVFAIL)";
    in.n_hosts = 0;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_TEMPFAIL);
    REASON_HAS(out, "MX lookup for example.test failed (rcode 2 (SERVFAIL))");
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

Test(verdict, indeterminate_mx_is_tempfail)
{
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    in.mx_sec = TP_SEC_INDETERMINATE;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_TEMPFAIL);
    REASON_HAS(out, "DNSSEC indeterminate");
}

Test(verdict, nxdomain_is_no_policy)
{
    struct tp_verdict_in in = base(&enforce);
    struct tp_verdict_out out;

    in.mx_rc = TP_DNS_NXDOMAIN;
    in.n_hosts = 0;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_NO_POLICY);
    REASON_HAS(out, "does not exist (NXDOMAIN)");
}

Test(verdict, null_mx_is_no_policy)
{
    struct tp_verdict_in in = base(&enforce);
    struct tp_verdict_out out;

    in.null_mx = 1;
    in.n_hosts = 0;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_NO_POLICY);
    REASON_HAS(out, "null MX (RFC 7505)");
}

/* --- rule 4: DANE -------------------------------------------------- */

Test(verdict, every_host_dane_and_secure_mx_is_dane_only)
{
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    dane(TP_HOST_DANE, TP_HOST_DANE);
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_DANE_ONLY);
    cr_assert_eq(out.source, TLSPOL_SOURCE_DANE);
    cr_assert_eq(out.hosts[1].dane, TP_HOST_DANE);
    REASON_HAS(out, "all 2 usable MX hosts have usable TLSA");
}

Test(verdict, every_host_dane_but_insecure_mx_is_dane)
{
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    dane(TP_HOST_DANE, TP_HOST_DANE);
    in.mx_sec = TP_SEC_INSECURE;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_DANE);
    REASON_HAS(out, "MX RRset not secure");
}

Test(verdict, some_hosts_dane_is_dane)
{
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    dane(TP_HOST_DANE, TP_HOST_NONE);
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_DANE);
    REASON_HAS(out, "DANE on 1 of 2 MX hosts");
}

Test(verdict, some_hosts_dane_with_sts_enforce_is_dane_only)
{
    struct tp_verdict_in in = base(&enforce);
    struct tp_verdict_out out;

    dane(TP_HOST_DANE, TP_HOST_NONE);
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_DANE_ONLY);
    cr_assert_eq(out.source, TLSPOL_SOURCE_DANE);
    cr_assert_eq(out.mode, TLSPOL_STS_MODE_ENFORCE, "STS kept as evidence");
    cr_assert_eq(out.hosts[0].sts_match, 1);
    REASON_HAS(out, "hosts without TLSA are not used");
}

Test(verdict, dane_wins_over_sts_testing)
{
    struct tp_sts_policy pol = enforce;
    struct tp_verdict_in in;
    struct tp_verdict_out out;

    pol.mode = TP_STS_MODE_TESTING;
    in = base(&pol);
    dane(TP_HOST_DANE, TP_HOST_NONE);
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_DANE);
}

Test(verdict, dane_on_every_usable_host_is_dane_only_naming_the_failed)
{
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    dane(TP_HOST_DANE, TP_HOST_FAILED);
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_DANE_ONLY);
    REASON_HAS(out, "all 1 usable MX hosts");
    REASON_HAS(out, "unusable: b.example.net (address lookup timeout)");
}

Test(verdict, dane_beside_addressless_host_is_dane_only)
{
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    dane(TP_HOST_DANE, TP_HOST_NOADDR);
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_DANE_ONLY);
}

Test(verdict, only_unusable_tlsa_is_encrypt)
{
    struct tp_verdict_in in = base(&enforce);
    struct tp_verdict_out out;

    dane(TP_HOST_ENCRYPT, TP_HOST_NONE);
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_ENCRYPT);
    cr_assert_eq(out.source, TLSPOL_SOURCE_DANE);
}

Test(verdict, every_host_failed_is_tempfail)
{
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    dane(TP_HOST_FAILED, TP_HOST_FAILED);
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_TEMPFAIL);
    REASON_HAS(out, "no usable MX host: mx1.example.test (TLSA lookup "
                    "bogus), b.example.net (address lookup timeout)");
}

Test(verdict, failed_and_addressless_hosts_is_tempfail)
{
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    dane(TP_HOST_FAILED, TP_HOST_NOADDR);
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_TEMPFAIL);
}

Test(verdict, failed_host_among_plain_ones_is_dane)
{
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    dane(TP_HOST_FAILED, TP_HOST_NONE);
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_DANE);
    REASON_HAS(out, "must not be used: mx1.example.test");
}

Test(verdict, failed_host_with_sts_enforce_is_tempfail)
{
    struct tp_verdict_in in = base(&enforce);
    struct tp_verdict_out out;

    dane(TP_HOST_FAILED, TP_HOST_NONE);
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_TEMPFAIL);
    REASON_HAS(out, "MTA-STS enforce cannot exclude them");
}

Test(verdict, no_dane_anywhere_falls_through_to_sts)
{
    struct tp_verdict_in in = base(&enforce);
    struct tp_verdict_out out;

    dane(TP_HOST_NONE, TP_HOST_NOADDR);
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_STS_ENFORCE);
    cr_assert_eq(out.source, TLSPOL_SOURCE_STS);
}

Test(verdict, dnssec_off_ignores_dane_and_says_so)
{
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    dane(TP_HOST_DANE, TP_HOST_DANE); /* stale states must not count */
    in.dane_checked = 0;
    in.mx_sec = TP_SEC_UNKNOWN;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_NO_POLICY);
    cr_assert_eq(out.dane_available, 0);
    REASON_HAS(out, "DANE unavailable");
}

/* --- rules 5-6: MTA-STS -------------------------------------------- */

Test(verdict, enforce_with_matching_hosts_is_sts_enforce)
{
    struct tp_verdict_in in = base(&enforce);
    struct tp_verdict_out out;

    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_STS_ENFORCE);
    cr_assert_eq(out.source, TLSPOL_SOURCE_STS);
    cr_assert_eq(out.mode, TLSPOL_STS_MODE_ENFORCE);
    cr_assert_eq(out.dane_available, 1);
    REASON_HAS(out, "2 of 2 MX hosts match");
    cr_assert_eq(out.n_hosts, 2);
    cr_assert_str_eq(out.hosts[0].name, "mx1.example.test");
    cr_assert_eq(out.hosts[0].pref, 10);
    cr_assert_eq(out.hosts[0].sts_match, 1);
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
    static struct tp_host_in deep[] = { { "a.b.example.net", 10,
                                          TP_HOST_NONE, "" } };
    struct tp_verdict_in in = base(&enforce);
    struct tp_verdict_out out;

    in.hosts = deep;
    in.n_hosts = 1;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_TEMPFAIL);
    cr_assert_eq(out.hosts[0].sts_match, 0);
}

Test(verdict, testing_is_sts_testing_even_without_match)
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
    cr_assert_eq(out.mode, TLSPOL_STS_MODE_TESTING);
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

/* --- rule 6: preload list ------------------------------------------ */

static char *pre_mx[] = { S("*.example.test") };

static struct tp_preload_entry pre_enforce = {
    S("example.test"), TP_STS_MODE_ENFORCE, 1, pre_mx,
};

Test(preload, enforce_without_sts_is_preload_enforce)
{
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    in.preload = &pre_enforce;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_PRELOAD_ENFORCE);
    cr_assert_eq(out.source, TLSPOL_SOURCE_PRELOAD);
    cr_assert_eq(out.n_mx, 1);
    cr_assert_eq(out.hosts[0].sts_match, 1);
    cr_assert_eq(out.hosts[1].sts_match, 0);
    REASON_HAS(out, "1 of 2 MX hosts match");
}

Test(preload, testing_is_preload_testing)
{
    struct tp_preload_entry pe = pre_enforce;
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    pe.mode = TP_STS_MODE_TESTING;
    in.preload = &pe;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_PRELOAD_TESTING);
}

Test(preload, enforce_with_no_matching_host_is_tempfail)
{
    static char *other[] = { S("mail.elsewhere.test") };
    struct tp_preload_entry pe = { S("example.test"), TP_STS_MODE_ENFORCE,
                                   1, other };
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    in.preload = &pe;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_TEMPFAIL);
    cr_assert_eq(out.lookup_failure, 0, "a policy refusal, not a failure");
}

Test(preload, valid_sts_beats_the_list)
{
    struct tp_sts_policy pol = enforce;
    struct tp_verdict_in in;
    struct tp_verdict_out out;

    pol.mode = TP_STS_MODE_TESTING;
    in = base(&pol);
    in.preload = &pre_enforce;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_STS_TESTING);
}

Test(preload, sts_none_suppresses_the_list)
{
    struct tp_sts_policy pol = { .mode = TP_STS_MODE_NONE };
    struct tp_verdict_in in = base(&pol);
    struct tp_verdict_out out;

    in.preload = &pre_enforce;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_NO_POLICY);
    cr_assert_eq(out.source, TLSPOL_SOURCE_STS);
}

Test(preload, failed_sts_discovery_falls_back_to_the_list)
{
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    in.sts = TP_STS_FETCH_FAILED;
    in.sts_detail = "HTTP status 404";
    in.preload = &pre_enforce;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_PRELOAD_ENFORCE);
}

Test(preload, dane_beats_the_list)
{
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    dane(TP_HOST_DANE, TP_HOST_DANE);
    in.preload = &pre_enforce;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_DANE_ONLY);
}

Test(preload, failed_dane_host_with_list_enforce_is_tempfail)
{
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    dane(TP_HOST_FAILED, TP_HOST_NONE);
    in.preload = &pre_enforce;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_TEMPFAIL);
}

/* --- rule F: failure policy ---------------------------------------- */

Test(failure, default_is_defer)
{
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    in.mx_rc = TP_DNS_ERROR;
    in.failing_for = 1000000;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_TEMPFAIL);
    cr_assert_eq(out.lookup_failure, 1);
    cr_assert_eq(out.failopen, 0);
}

Test(failure, opportunistic_waits_for_the_limit)
{
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    in.mx_rc = TP_DNS_ERROR;
    in.failure.set = 1;
    in.failure.opportunistic = 1;
    in.failure.after = 600;
    in.failing_for = 599;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_TEMPFAIL);
    in.failing_for = 600;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_NO_POLICY);
    cr_assert_eq(out.failopen, 1);
    cr_assert_eq(out.published, TLSPOL_VERDICT_TEMPFAIL);
    REASON_HAS(out, "failure policy: delivering opportunistically after "
                    "600 s");
    REASON_HAS(out, "MX lookup for example.test failed");
}

Test(failure, applies_to_failed_dane_hosts_too)
{
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    dane(TP_HOST_FAILED, TP_HOST_FAILED);
    in.failure.opportunistic = 1;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_NO_POLICY);
    cr_assert_eq(out.failopen, 1);
}

Test(failure, never_overrides_a_policy_refusal)
{
    static char *other[] = { S("mail.elsewhere.test") };
    struct tp_sts_policy pol = enforce;
    struct tp_verdict_in in;
    struct tp_verdict_out out;

    pol.mx = other;
    pol.n_mx = 1;
    in = base(&pol);
    in.failure.opportunistic = 1;
    in.failing_for = 1000000;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_TEMPFAIL, "no host may be "
                 "used: not a lookup failure");
    cr_assert_eq(out.failopen, 0);
}

/* --- rule L: local overrides --------------------------------------- */

Test(local, override_wins_and_keeps_the_published_verdict)
{
    static struct tp_domain_conf lc = { S("example.test"), TP_LEVEL_SECURE,
                                        1, pre_mx, S("agreement 17"),
                                        { 0, 0, 0 }, 3 };
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    in.local = &lc;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_LOCAL);
    cr_assert_eq(out.source, TLSPOL_SOURCE_LOCAL);
    cr_assert_eq(out.local_level, TP_LEVEL_SECURE);
    cr_assert_eq(out.published, TLSPOL_VERDICT_NO_POLICY);
    cr_assert_eq(out.weakens, 0);
    cr_assert_eq(out.n_mx, 1);
    REASON_HAS(out, "local policy secure (agreement 17)");
}

Test(local, weaker_than_dane_only_is_flagged)
{
    static struct tp_domain_conf lc = { S("example.test"), TP_LEVEL_MAY, 0,
                                        NULL, NULL, { 0, 0, 0 }, 3 };
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    dane(TP_HOST_DANE, TP_HOST_DANE);
    in.local = &lc;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_LOCAL);
    cr_assert_eq(out.published, TLSPOL_VERDICT_DANE_ONLY);
    cr_assert_eq(out.weakens, 1);
    REASON_HAS(out, "WEAKENS the published policy: DANE_ONLY");
}

Test(local, dane_override_on_sts_enforce_weakens)
{
    static struct tp_domain_conf lc = { S("example.test"), TP_LEVEL_DANE, 0,
                                        NULL, NULL, { 0, 0, 0 }, 3 };
    struct tp_verdict_in in = base(&enforce);
    struct tp_verdict_out out;

    in.local = &lc;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.published, TLSPOL_VERDICT_STS_ENFORCE);
    cr_assert_eq(out.weakens, 1);
}

Test(local, secure_on_dane_only_is_not_weaker)
{
    static struct tp_domain_conf lc = { S("example.test"), TP_LEVEL_SECURE,
                                        0, NULL, NULL, { 0, 0, 0 }, 3 };
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    dane(TP_HOST_DANE, TP_HOST_DANE);
    in.local = &lc;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.weakens, 0);
}

Test(local, override_of_a_tempfail_is_not_flagged)
{
    static struct tp_domain_conf lc = { S("example.test"), TP_LEVEL_MAY, 0,
                                        NULL, NULL, { 0, 0, 0 }, 3 };
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    in.mx_rc = TP_DNS_ERROR;
    in.local = &lc;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_LOCAL);
    cr_assert_eq(out.published, TLSPOL_VERDICT_TEMPFAIL);
    cr_assert_eq(out.weakens, 0);
}

Test(local, failure_only_entry_is_not_an_override)
{
    static struct tp_domain_conf lc = { S("example.test"), TP_LEVEL_UNSET,
                                        0, NULL, NULL, { 1, 1, 0 }, 3 };
    struct tp_verdict_in in = base(NULL);
    struct tp_verdict_out out;

    in.local = &lc;
    in.failure = lc.failure;
    in.mx_rc = TP_DNS_ERROR;
    tp_verdict_eval(&in, &out);
    cr_assert_eq(out.verdict, TLSPOL_VERDICT_NO_POLICY);
    cr_assert_eq(out.failopen, 1);
}
