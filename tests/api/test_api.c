/*
 * test_api.c - the public API's argument checking, names and error paths
 * that need no network.  Black-box: links libtlspol.so only.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "../leakcheck.h"
#include "tlspol/tlspol.h"

static void
never_cb(tlspol_status st, tlspol_result *r, void *ud)
{
    (void)st;
    (void)ud;
    tlspol_result_free(r);
    cr_assert_fail("callback must not run for a rejected domain");
}

struct bad {
    char domain[300];
    char msg[64];
};

static struct bad bad_domains[] = {
    { "", "empty" },
    { ".example.com", "leading dot" },
    { "[mail.example.com]", "bracketed" },
    { "[mail.example.com]:587", "bracketed" },
    { "192.0.2.1", "IP address" },
    { "2001:db8::1", "IP address" },
    { "exa mple.com", "invalid character" },
    { "example..com", "empty label" },
    { "-example.com", "hyphen" },
    { "a234567890123456789012345678901234567890123456789012345678901234.com",
      "longer than 63" },
};

ParameterizedTestParameters(api, rejects_invalid_domain)
{
    return cr_make_param_array(struct bad, bad_domains,
                               sizeof(bad_domains) / sizeof(bad_domains[0]));
}

ParameterizedTest(struct bad *b, api, rejects_invalid_domain)
{
    tlspol_ctx *ctx = NULL;
    tlspol_result *r = NULL;
    tlspol_query *q = (tlspol_query *)1;

    cr_assert_eq(tlspol_ctx_new(&ctx), TLSPOL_OK);
    cr_assert_eq(tlspol_resolve(ctx, b->domain, never_cb, NULL, &q),
                 TLSPOL_ERR_INVAL, "%s", b->domain);
    cr_assert_null(q);
    cr_assert(strstr(tlspol_ctx_errmsg(ctx), b->msg) != NULL,
              "\"%s\": message \"%s\" lacks \"%s\"", b->domain,
              tlspol_ctx_errmsg(ctx), b->msg);
    cr_assert_eq(tlspol_resolve_sync(ctx, b->domain, &r), TLSPOL_ERR_INVAL);
    cr_assert_null(r);
    cr_assert_eq(tlspol_ctx_pending(ctx), 0);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

Test(api, rejects_overlong_domain)
{
    char name[400];
    tlspol_ctx *ctx = NULL;

    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    for (size_t i = 50; i < sizeof(name) - 1; i += 51)
        name[i] = '.';
    cr_assert_eq(tlspol_ctx_new(&ctx), TLSPOL_OK);
    cr_assert_eq(tlspol_resolve(ctx, name, never_cb, NULL, NULL),
                 TLSPOL_ERR_INVAL);
    cr_assert(strstr(tlspol_ctx_errmsg(ctx), "253") != NULL, "%s",
              tlspol_ctx_errmsg(ctx));
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

Test(api, null_arguments)
{
    tlspol_ctx *ctx = NULL;
    tlspol_result *r = NULL;

    cr_assert_eq(tlspol_ctx_new(NULL), TLSPOL_ERR_INVAL);
    cr_assert_eq(tlspol_ctx_new(&ctx), TLSPOL_OK);
    cr_assert_eq(tlspol_resolve(NULL, "x.test", never_cb, NULL, NULL),
                 TLSPOL_ERR_INVAL);
    cr_assert_eq(tlspol_resolve(ctx, NULL, never_cb, NULL, NULL),
                 TLSPOL_ERR_INVAL);
    cr_assert_eq(tlspol_resolve(ctx, "x.test", NULL, NULL, NULL),
                 TLSPOL_ERR_INVAL);
    cr_assert_eq(tlspol_resolve_sync(ctx, "x.test", NULL), TLSPOL_ERR_INVAL);
    cr_assert_eq(tlspol_resolve_sync(NULL, "x.test", &r), TLSPOL_ERR_INVAL);
    cr_assert_eq(tlspol_query_cancel(NULL), TLSPOL_ERR_INVAL);
    cr_assert_eq(tlspol_ctx_dispatch(NULL), TLSPOL_ERR_INVAL);
    cr_assert_eq(tlspol_ctx_get_fd(NULL), -1);
    cr_assert_str_eq(tlspol_ctx_errmsg(NULL), "");
    cr_assert_eq(tlspol_ctx_set_ca_file(ctx, ""), TLSPOL_ERR_INVAL);
    cr_assert_eq(tlspol_ctx_set_ca_file(ctx, NULL), TLSPOL_ERR_INVAL);
    cr_assert_eq(tlspol_ctx_set_ca_file(NULL, "/x"), TLSPOL_ERR_INVAL);
    tlspol_ctx_free(ctx);
    tlspol_ctx_free(NULL);
    tlspol_result_free(NULL);
    cr_assert_eq(tlspol_result_verdict(NULL), TLSPOL_VERDICT_TEMPFAIL);
    cr_assert_eq(tlspol_result_tls_required(NULL), -1);
    cr_assert_null(tlspol_result_json(NULL));
    cr_assert_null(tlspol_result_host_name(NULL, 0));
}

Test(api, timeout_range)
{
    tlspol_ctx *ctx = NULL;

    cr_assert_eq(tlspol_ctx_new(&ctx), TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_set_timeout(ctx, 99), TLSPOL_ERR_INVAL);
    cr_assert(strstr(tlspol_ctx_errmsg(ctx), "100..600000") != NULL);
    cr_assert_eq(tlspol_ctx_set_timeout(ctx, 600001), TLSPOL_ERR_INVAL);
    cr_assert_eq(tlspol_ctx_set_timeout(ctx, 100), TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_set_timeout(ctx, 600000), TLSPOL_OK);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

struct badres {
    char list[64];
    char msg[48];
};

static struct badres bad_resolvers[] = {
    { "not-an-ip", "not an IPv4 or IPv6" },
    { "127.0.0.1@", "bad port" },
    { "127.0.0.1@0", "bad port" },
    { "127.0.0.1@65536", "bad port" },
    { "127.0.0.1@53x", "bad port" },
    { "127.0.0.1 ::1@53 bogus", "\"bogus\" is not" },
};

ParameterizedTestParameters(api, rejects_bad_resolver_list)
{
    return cr_make_param_array(struct badres, bad_resolvers,
                               sizeof(bad_resolvers) /
                                   sizeof(bad_resolvers[0]));
}

/* Resolver lists are checked when set, as the header promises. */
ParameterizedTest(struct badres *b, api, rejects_bad_resolver_list)
{
    tlspol_ctx *ctx = NULL;

    cr_assert_eq(tlspol_ctx_new(&ctx), TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_set_resolvers(ctx, b->list), TLSPOL_ERR_INVAL,
                 "%s", b->list);
    cr_assert(strstr(tlspol_ctx_errmsg(ctx), b->msg) != NULL,
              "%s: \"%s\"", b->list, tlspol_ctx_errmsg(ctx));
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

Test(api, names_are_stable)
{
    cr_assert_str_eq(tlspol_verdict_name(TLSPOL_VERDICT_TEMPFAIL),
                     "TEMPFAIL");
    cr_assert_str_eq(tlspol_verdict_name(TLSPOL_VERDICT_NO_POLICY),
                     "NO_POLICY");
    cr_assert_str_eq(tlspol_verdict_name(TLSPOL_VERDICT_STS_TESTING),
                     "STS_TESTING");
    cr_assert_str_eq(tlspol_verdict_name(TLSPOL_VERDICT_PRELOAD_TESTING),
                     "PRELOAD_TESTING");
    cr_assert_str_eq(tlspol_verdict_name(TLSPOL_VERDICT_ENCRYPT), "ENCRYPT");
    cr_assert_str_eq(tlspol_verdict_name(TLSPOL_VERDICT_DANE), "DANE");
    cr_assert_str_eq(tlspol_verdict_name(TLSPOL_VERDICT_DANE_ONLY),
                     "DANE_ONLY");
    cr_assert_str_eq(tlspol_verdict_name(TLSPOL_VERDICT_PRELOAD_ENFORCE),
                     "PRELOAD_ENFORCE");
    cr_assert_str_eq(tlspol_verdict_name(TLSPOL_VERDICT_STS_ENFORCE),
                     "STS_ENFORCE");
    cr_assert_str_eq(tlspol_verdict_name(TLSPOL_VERDICT_LOCAL), "LOCAL");
    cr_assert_str_eq(tlspol_verdict_name((tlspol_verdict)99), "UNKNOWN");
    cr_assert_str_eq(tlspol_source_name(TLSPOL_SOURCE_STS), "mta-sts");
    cr_assert_str_eq(tlspol_source_name((tlspol_source)99), "unknown");
    cr_assert_str_eq(tlspol_sts_mode_name(TLSPOL_STS_MODE_ENFORCE),
                     "enforce");
    cr_assert_str_eq(tlspol_strerror(TLSPOL_ERR_INVAL), "invalid argument");
    cr_assert_str_eq(tlspol_strerror((tlspol_status)99), "unknown status");
    cr_assert_str_eq(tlspol_version(), "0.1.0");
}

Test(api, verdicts_are_ordered)
{
    cr_assert_lt(TLSPOL_VERDICT_TEMPFAIL, TLSPOL_VERDICT_NO_POLICY);
    cr_assert_lt(TLSPOL_VERDICT_NO_POLICY, TLSPOL_VERDICT_STS_TESTING);
    cr_assert_lt(TLSPOL_VERDICT_ENCRYPT, TLSPOL_VERDICT_DANE);
    cr_assert_lt(TLSPOL_VERDICT_DANE, TLSPOL_VERDICT_DANE_ONLY);
    cr_assert_lt(TLSPOL_VERDICT_DANE_ONLY, TLSPOL_VERDICT_STS_ENFORCE);
}

Test(api, postfix_compat_is_checked_with_a_message)
{
    tlspol_ctx *ctx = NULL;

    cr_assert_eq(tlspol_ctx_new(&ctx), TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_set_postfix_compat(ctx, 3), TLSPOL_ERR_INVAL);
    cr_assert(strstr(tlspol_ctx_errmsg(ctx), "3 is not a Postfix version")
              != NULL, "%s", tlspol_ctx_errmsg(ctx));
    cr_assert_eq(tlspol_ctx_set_postfix_compat(ctx, 1000), TLSPOL_ERR_INVAL);
    cr_assert_eq(tlspol_ctx_set_postfix_compat(ctx, 310), TLSPOL_OK);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}
