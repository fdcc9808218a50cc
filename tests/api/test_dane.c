/*
 * test_dane.c - DANE resolution end to end through the public API against
 * the test network (signed zones, bogus and expired signatures, unsigned
 * zones, CNAMEs, a SERVFAIL delegation) and the resolver self-test against
 * faulty resolver paths (DNSSEC stripped, no TCP, wrong anchor).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "../leakcheck.h"
#include "netenv.h"
#include "tlspol/tlspol.h"

struct dscen {
    char domain[40];
    tlspol_verdict verdict;
    tlspol_dnssec mx_sec;
    size_t n_hosts;
    tlspol_host_dane host0, host1;  /* host1 only checked if n_hosts > 1 */
    size_t tlsa0;                   /* usable records of host 0 */
    char reason[80];
};

static struct dscen dscenarios[] = {
    { "dane-ee.test", TLSPOL_VERDICT_DANE_ONLY, TLSPOL_DNSSEC_SECURE, 1,
      TLSPOL_HOST_DANE_USABLE, 0, 1, "all 1 usable MX hosts have usable TLSA" },
    { "dane-ta.test", TLSPOL_VERDICT_DANE_ONLY, TLSPOL_DNSSEC_SECURE, 1,
      TLSPOL_HOST_DANE_USABLE, 0, 1, "usable TLSA" },
    { "dane-unusable.test", TLSPOL_VERDICT_ENCRYPT, TLSPOL_DNSSEC_SECURE, 1,
      TLSPOL_HOST_DANE_UNUSABLE, 0, 0, "none usable" },
    { "dane-bogus.test", TLSPOL_VERDICT_TEMPFAIL, TLSPOL_DNSSEC_SECURE, 1,
      TLSPOL_HOST_DANE_FAILED, 0, 0, "no usable MX host" },
    { "dane-expired.test", TLSPOL_VERDICT_TEMPFAIL, TLSPOL_DNSSEC_SECURE, 1,
      TLSPOL_HOST_DANE_FAILED, 0, 0, "no usable MX host" },
    { "dane-unsigned.insecure.test", TLSPOL_VERDICT_NO_POLICY,
      TLSPOL_DNSSEC_INSECURE, 1, TLSPOL_HOST_DANE_NONE, 0, 0,
      "no MTA-STS policy" },
    { "insecure-mx.insecure.test", TLSPOL_VERDICT_DANE,
      TLSPOL_DNSSEC_INSECURE, 1, TLSPOL_HOST_DANE_USABLE, 0, 1,
      "MX RRset not secure" },
    { "dane-cname.test", TLSPOL_VERDICT_DANE_ONLY, TLSPOL_DNSSEC_SECURE, 1,
      TLSPOL_HOST_DANE_USABLE, 0, 1, "usable TLSA" },
    { "dane-mixed.test", TLSPOL_VERDICT_DANE, TLSPOL_DNSSEC_SECURE, 2,
      TLSPOL_HOST_DANE_USABLE, TLSPOL_HOST_DANE_NONE, 1,
      "DANE on 1 of 2 MX hosts" },
    { "dane-sts.test", TLSPOL_VERDICT_DANE_ONLY, TLSPOL_DNSSEC_SECURE, 1,
      TLSPOL_HOST_DANE_USABLE, 0, 1, "usable TLSA" },
    { "dane-partial-sts.test", TLSPOL_VERDICT_DANE_ONLY,
      TLSPOL_DNSSEC_SECURE, 2, TLSPOL_HOST_DANE_USABLE,
      TLSPOL_HOST_DANE_NONE, 1, "hosts without TLSA are not used" },
    { "no-mx.test", TLSPOL_VERDICT_DANE_ONLY, TLSPOL_DNSSEC_SECURE, 1,
      TLSPOL_HOST_DANE_USABLE, 0, 1, "usable TLSA" },
    { "null-mx.test", TLSPOL_VERDICT_NO_POLICY, TLSPOL_DNSSEC_SECURE, 0,
      0, 0, 0, "null MX (RFC 7505)" },
    { "dane-malformed.test", TLSPOL_VERDICT_DANE_ONLY, TLSPOL_DNSSEC_SECURE,
      1, TLSPOL_HOST_DANE_USABLE, 0, 1, "usable TLSA" },
    { "dane-sha512.test", TLSPOL_VERDICT_DANE_ONLY, TLSPOL_DNSSEC_SECURE, 1,
      TLSPOL_HOST_DANE_USABLE, 0, 1, "usable TLSA" },
    { "addr-bogus.test", TLSPOL_VERDICT_DANE_ONLY, TLSPOL_DNSSEC_SECURE, 2,
      TLSPOL_HOST_DANE_FAILED, TLSPOL_HOST_DANE_USABLE, 0,
      "unusable: mx1.addr-bogus.test (address lookup bogus)" },
    { "addr-bogus-only.test", TLSPOL_VERDICT_TEMPFAIL, TLSPOL_DNSSEC_SECURE,
      1, TLSPOL_HOST_DANE_FAILED, 0, 0, "no usable MX host" },
    { "mx-bogus.test", TLSPOL_VERDICT_TEMPFAIL, TLSPOL_DNSSEC_BOGUS, 0, 0,
      0, 0, "failed (DNSSEC bogus)" },
    { "dane-tlsa-servfail.test", TLSPOL_VERDICT_TEMPFAIL,
      TLSPOL_DNSSEC_SECURE, 1, TLSPOL_HOST_DANE_FAILED, 0, 0,
      "no usable MX host" },
};

#define NDSCEN (sizeof(dscenarios) / sizeof(dscenarios[0]))

ParameterizedTestParameters(dane, scenario)
{
    return cr_make_param_array(struct dscen, dscenarios, NDSCEN);
}

ParameterizedTest(struct dscen *s, dane, scenario, .timeout = 60)
{
    tlspol_ctx *ctx = net_ctx(3000);
    tlspol_result *r = NULL;

    cr_assert_eq(tlspol_resolve_sync(ctx, s->domain, &r), TLSPOL_OK,
                 "%s: %s", s->domain, tlspol_ctx_errmsg(ctx));
    cr_expect_eq(tlspol_result_verdict(r), s->verdict, "%s: verdict %s, "
                 "want %s (%s)", s->domain,
                 tlspol_verdict_name(tlspol_result_verdict(r)),
                 tlspol_verdict_name(s->verdict), tlspol_result_reason(r));
    cr_expect(strstr(tlspol_result_reason(r), s->reason) != NULL,
              "%s: reason \"%s\" lacks \"%s\"", s->domain,
              tlspol_result_reason(r), s->reason);
    cr_expect_eq(tlspol_result_mx_dnssec(r), s->mx_sec, "%s: MX %s",
                 s->domain, tlspol_dnssec_name(tlspol_result_mx_dnssec(r)));
    cr_expect_eq(tlspol_result_dane_available(r), 1);
    cr_assert_eq(tlspol_result_host_count(r), s->n_hosts, "%s: %zu hosts",
                 s->domain, tlspol_result_host_count(r));
    if (s->n_hosts > 0) {
        cr_expect_eq(tlspol_result_host_dane(r, 0), s->host0,
                     "%s: host 0 %s (%s)", s->domain,
                     tlspol_host_dane_name(tlspol_result_host_dane(r, 0)),
                     tlspol_result_host_note(r, 0));
        cr_expect_eq(tlspol_result_host_tlsa_count(r, 0), s->tlsa0,
                     "%s: %zu usable TLSA", s->domain,
                     tlspol_result_host_tlsa_count(r, 0));
    }
    if (s->n_hosts > 1)
        cr_expect_eq(tlspol_result_host_dane(r, 1), s->host1,
                     "%s: host 1 %s (%s)", s->domain,
                     tlspol_host_dane_name(tlspol_result_host_dane(r, 1)),
                     tlspol_result_host_note(r, 1));
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

Test(dane, cname_uses_the_expanded_name_as_tlsa_base)
{
    tlspol_ctx *ctx = net_ctx(3000);
    tlspol_result *r = resolve1(ctx, "dane-cname.test");

    cr_assert_str_eq(tlspol_result_host_name(r, 0), "mx.dane-cname.test");
    cr_assert_str_eq(tlspol_result_host_tlsa_name(r, 0),
                     "_25._tcp.mx-target.dane-cname.test");
    cr_assert_eq(tlspol_result_host_tlsa_dnssec(r, 0), TLSPOL_DNSSEC_SECURE);
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
}

Test(dane, sha512_supersedes_sha256_for_the_same_pair)
{
    tlspol_ctx *ctx = net_ctx(3000);
    tlspol_result *r = resolve1(ctx, "dane-sha512.test");

    cr_assert_eq(tlspol_result_host_tlsa_count(r, 0), 1);
    cr_assert(strncmp(tlspol_result_host_tlsa(r, 0, 0), "3 1 2 ", 6) == 0,
              "%s", tlspol_result_host_tlsa(r, 0, 0));
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
}

Test(dane, malformed_records_are_dropped_good_one_kept)
{
    tlspol_ctx *ctx = net_ctx(3000);
    tlspol_result *r = resolve1(ctx, "dane-malformed.test");
    const char *js = tlspol_result_json(r);

    cr_assert_eq(tlspol_result_host_tlsa_count(r, 0), 1);
    cr_assert(strncmp(tlspol_result_host_tlsa(r, 0, 0), "3 1 1 ", 6) == 0);
    cr_assert(strstr(js, "\"dane\":\"usable\"") != NULL, "%s", js);
    cr_assert(strstr(js, "digest is 20 octets") != NULL ||
              strstr(js, "20 octets") != NULL, "trace names the bad "
              "record: %s", js);
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
}

Test(dane, dane_beats_sts_but_sts_stays_as_evidence)
{
    tlspol_ctx *ctx = net_ctx(3000);
    tlspol_result *r = resolve1(ctx, "dane-sts.test");

    cr_assert_eq(tlspol_result_source(r), TLSPOL_SOURCE_DANE);
    cr_assert_eq(tlspol_result_sts_mode(r), TLSPOL_STS_MODE_ENFORCE);
    cr_assert_eq(tlspol_result_host_sts_match(r, 0), 1);
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
}

Test(dane, implicit_mx_is_the_domain_with_preference_zero)
{
    tlspol_ctx *ctx = net_ctx(3000);
    tlspol_result *r = resolve1(ctx, "no-mx.test");

    cr_assert_str_eq(tlspol_result_host_name(r, 0), "no-mx.test");
    cr_assert_eq(tlspol_result_host_preference(r, 0), 0);
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
}

/* --- the resolver self-test ---------------------------------------- */

/* ctx_on - a network context on another resolver / trust anchor */
static tlspol_ctx *
ctx_on(const char *resolver_env, const char *ta_env)
{
    tlspol_ctx *ctx = net_ctx(2000);
    const char *res = getenv(resolver_env);
    const char *ta = ta_env ? getenv(ta_env) : NULL;

    cr_assert_not_null(res, "%s not set by the test network", resolver_env);
    tlspol_ctx_free(ctx);
    cr_assert_eq(tlspol_ctx_new(&ctx), TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_set_resolvers(ctx, res), TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_set_trust_anchor_file(
                     ctx, ta ? ta : getenv("TLSPOL_TEST_TA")), TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_set_ca_file(ctx, getenv("TLSPOL_TEST_CA")),
                 TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_set_timeout(ctx, 2000), TLSPOL_OK);
    return ctx;
}

Test(selftest, good_path_passes_and_keeps_dane, .timeout = 60)
{
    tlspol_ctx *ctx = net_ctx(2000);
    const char *rep = NULL;
    tlspol_result *r;

    cr_assert_eq(tlspol_ctx_check_resolver(ctx,
                     getenv("TLSPOL_TEST_BOGUS_NAME"), &rep), TLSPOL_OK,
                 "%s", rep);
    cr_assert(strstr(rep, "FAIL") == NULL, "%s", rep);
    cr_assert(strstr(rep, "is rejected as bogus") != NULL, "%s", rep);
    cr_assert(strstr(rep, "validates as secure") != NULL, "%s", rep);
    r = resolve1(ctx, "dane-ee.test");
    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_DANE_ONLY);
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

Test(selftest, stripping_resolver_fails_and_dane_becomes_unavailable,
     .timeout = 60)
{
    tlspol_ctx *ctx = ctx_on("TLSPOL_TEST_STRIP_RESOLVER", NULL);
    const char *rep = NULL;
    tlspol_result *r;

    cr_assert_eq(tlspol_ctx_check_resolver(ctx, NULL, &rep),
                 TLSPOL_ERR_DNSSEC, "%s", rep);
    cr_assert(strstr(rep, "strips DNSSEC records") != NULL, "%s", rep);
    r = resolve1(ctx, "dane-ee.test");
    cr_assert_eq(tlspol_result_dane_available(r), 0);
    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_NO_POLICY,
                 "%s", tlspol_result_reason(r));
    cr_assert(strstr(tlspol_result_reason(r), "DANE unavailable") != NULL,
              "%s", tlspol_result_reason(r));
    cr_assert_eq(tlspol_result_mx_dnssec(r), TLSPOL_DNSSEC_UNVALIDATED);
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

Test(selftest, without_self_test_a_stripping_resolver_defers, .timeout = 60)
{
    tlspol_ctx *ctx = ctx_on("TLSPOL_TEST_STRIP_RESOLVER", NULL);
    tlspol_result *r = resolve1(ctx, "dane-ee.test");

    /* validation on, signatures missing: never a silent "no DANE" */
    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_TEMPFAIL, "%s",
                 tlspol_result_reason(r));
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
}

Test(selftest, udp_only_truncating_resolver_fails, .timeout = 60)
{
    tlspol_ctx *ctx = ctx_on("TLSPOL_TEST_NOTCP_RESOLVER", NULL);
    const char *rep = NULL;

    cr_assert_eq(tlspol_ctx_check_resolver(ctx, NULL, &rep),
                 TLSPOL_ERR_DNSSEC, "%s", rep);
    cr_assert(strstr(rep, "TCP does not work") != NULL ||
              strstr(rep, "does not answer over TCP") != NULL, "%s", rep);
    tlspol_ctx_free(ctx);
}

Test(selftest, wrong_trust_anchor_fails, .timeout = 60)
{
    tlspol_ctx *ctx = ctx_on("TLSPOL_TEST_RESOLVER", "TLSPOL_TEST_WRONG_TA");
    const char *rep = NULL;

    cr_assert_eq(tlspol_ctx_check_resolver(ctx, NULL, &rep),
                 TLSPOL_ERR_DNSSEC, "%s", rep);
    cr_assert(strstr(rep, "wrong trust anchor") != NULL, "%s", rep);
    tlspol_ctx_free(ctx);
}

Test(trust_ad, validating_resolver_ad_bit_gives_the_same_verdicts,
     .timeout = 60)
{
    tlspol_ctx *ctx = net_ctx(3000);
    const char *rep = NULL;
    tlspol_result *r;

    tlspol_ctx_free(ctx);
    ctx = ctx_on("TLSPOL_TEST_RESOLVER", NULL);
    cr_assert_eq(tlspol_ctx_set_dnssec_mode(ctx, TLSPOL_DNSSEC_TRUST_AD),
                 TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_check_resolver(ctx,
                     getenv("TLSPOL_TEST_BOGUS_NAME"), &rep), TLSPOL_OK,
                 "%s", rep);
    r = resolve1(ctx, "dane-ee.test");
    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_DANE_ONLY, "%s",
                 tlspol_result_reason(r));
    tlspol_result_free(r);
    r = resolve1(ctx, "mx-bogus.test");
    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_TEMPFAIL, "%s",
                 tlspol_result_reason(r));
    tlspol_result_free(r);
    r = resolve1(ctx, "dane-unsigned.insecure.test");
    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_NO_POLICY, "%s",
                 tlspol_result_reason(r));
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
}

Test(trust_ad, stripping_resolver_sets_no_ad_and_fails_the_check,
     .timeout = 60)
{
    tlspol_ctx *ctx = ctx_on("TLSPOL_TEST_STRIP_RESOLVER", NULL);
    const char *rep = NULL;

    cr_assert_eq(tlspol_ctx_set_dnssec_mode(ctx, TLSPOL_DNSSEC_TRUST_AD),
                 TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_check_resolver(ctx, NULL, &rep),
                 TLSPOL_ERR_DNSSEC, "%s", rep);
    cr_assert(strstr(rep, "no AD bit") != NULL ||
              strstr(rep, "strips DNSSEC") != NULL, "%s", rep);
    tlspol_ctx_free(ctx);
}

Test(trust_ad, mode_is_checked_and_fixed)
{
    tlspol_ctx *ctx = NULL;

    cr_assert_eq(tlspol_ctx_new(&ctx), TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_set_dnssec_mode(ctx, (tlspol_dnssec_mode)7),
                 TLSPOL_ERR_INVAL);
    cr_assert_eq(tlspol_ctx_set_dnssec_mode(NULL, TLSPOL_DNSSEC_TRUST_AD),
                 TLSPOL_ERR_INVAL);
    tlspol_ctx_free(ctx);
}

/* --- the DNS answer cache (dns_cache.c) ------------------------------ */

Test(dns_cache, mx_host_answers_are_shared_between_domains)
{
    tlspol_ctx *ctx = net_ctx(3000);
    tlspol_result *r;

    tlspol_result_free(resolve1(ctx, "dane-ee.test"));
    /* any NAME.wild.test has MX 10 mx1.dane-ee.test */
    r = resolve1(ctx, "1.wild.test");
    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_DANE_ONLY);
    cr_assert(has_trace(r, "DNS A/AAAA mx1.dane-ee.test: NOERROR secure, "
                           "1 record, cached ("), "the address is reused");
    cr_assert(has_trace(r, "DNS TLSA _25._tcp.mx1.dane-ee.test: NOERROR "
                           "secure, 1 record, cached ("), "so are the TLSA");
    cr_assert(!has_trace(r, "DNS MX 1.wild.test: NOERROR secure, 1 record, "
                            "cached"), "the domain's own MX is asked");
    cr_assert_eq(tlspol_result_host_tlsa_count(r, 0), 1);
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
}

Test(dns_cache, failures_and_bogus_answers_are_asked_again)
{
    tlspol_ctx *ctx = net_ctx(3000);
    tlspol_result *r;
    int i;

    for (i = 0; i < 2; i++) {
        /* TEMPFAIL is not kept by the verdict cache; the secure answers
         * of the same hosts may come from the DNS cache, bogus never */
        r = resolve1(ctx, "dane-bogus.test");
        cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_TEMPFAIL);
        cr_assert(has_trace(r, "DNS TLSA _25._tcp.mx1.dane-bogus.test: "
                               "NOERROR bogus"), "try %d", i);
        cr_assert(!has_trace(r, "bogus, 1 record, cached"), "try %d", i);
        tlspol_result_free(r);
        r = resolve1(ctx, "addr-bogus-only.test");
        cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_TEMPFAIL);
        cr_assert(has_trace(r, "DNS A/AAAA mx1.addr-bogus-only.test: "),
                  "try %d", i);
        cr_assert(!has_trace(r, "cached"), "try %d", i);
        tlspol_result_free(r);
    }
    tlspol_ctx_free(ctx);
}

Test(dns_cache, emptied_when_the_dnssec_mode_changes, .timeout = 60)
{
    tlspol_ctx *ctx = net_ctx(3000);
    const char *rep = NULL;
    tlspol_result *r;

    tlspol_result_free(resolve1(ctx, "dane-ee.test"));
    /* a name that validates cannot pass as the known-bogus one: the
     * self-test fails and DNSSEC is off (no host is looked up then) */
    cr_assert_eq(tlspol_ctx_check_resolver(ctx, "dane-ee.test", &rep),
                 TLSPOL_ERR_DNSSEC, "%s", rep);
    r = resolve1(ctx, "1.wild.test");
    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_NO_POLICY, "%s",
                 tlspol_result_reason(r));
    tlspol_result_free(r);
    /* the self-test passes again: validation is back, and the host
     * answers kept before the first change are gone */
    cr_assert_eq(tlspol_ctx_check_resolver(ctx,
                     getenv("TLSPOL_TEST_BOGUS_NAME"), &rep), TLSPOL_OK,
                 "%s", rep);
    r = resolve1(ctx, "1.wild.test"); /* MX 10 mx1.dane-ee.test */
    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_DANE_ONLY, "%s",
                 tlspol_result_reason(r));
    cr_assert(!has_trace(r, "cached ("), "host answers came from the cache");
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
}

Test(dns_cache, purge_forgets_a_domains_answers_not_its_hosts)
{
    tlspol_ctx *ctx = net_ctx(3000);
    tlspol_result *r;

    tlspol_result_free(resolve1(ctx, "dane-ee.test"));
    cr_assert_eq(tlspol_ctx_purge(ctx, "dane-ee.test", NULL), TLSPOL_OK);
    r = resolve1(ctx, "dane-ee.test");
    cr_assert(!has_trace(r, "cache: result"), "not the verdict cache");
    cr_assert(has_trace(r, "DNS TLSA _25._tcp.mx1.dane-ee.test: NOERROR "
                           "secure, 1 record, cached ("), "hosts stay");
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
}
