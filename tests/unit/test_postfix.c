/*
 * test_postfix.c - golden Postfix socketmap replies for every verdict at
 * Postfix compatibility levels 3.9 (no TLSRPT attributes) and 3.10.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <criterion/criterion.h>

#include "../leakcheck.h"
#include "internal.h"
#include "postfix.h"

static const char *const sts_mx[] = { "mx1.example.test", "*.example.net" };

/* result - a result with the fields rendering reads */
static struct tlspol_result
result(tlspol_verdict v)
{
    struct tlspol_result r;

    memset(&r, 0, sizeof(r));
    r.verdict = v;
    r.domain = "example.test";
    r.reason = "MX lookup for example.test failed (timeout)";
    r.mx = sts_mx;
    r.n_mx = 2;
    r.sts_mode = TLSPOL_STS_MODE_ENFORCE;
    r.max_age = 86400;
    return r;
}

/* render - the reply as a string (static buffer) */
static const char *
render(const struct tlspol_result *r, unsigned int compat)
{
    static char out[4096];
    struct tp_buf b;

    tp_buf_init(&b, TP_POSTFIX_REPLY_MAX);
    cr_assert_eq(tp_postfix_render(r, compat, &b), TP_OK);
    memcpy(out, b.p, b.len + 1);
    tp_buf_free(&b);
    return out;
}

struct golden {
    tlspol_verdict v;
    const char *at39;
    const char *at310;
};

Test(postfix, golden_replies_for_every_verdict)
{
    static const struct golden g[] = {
        { TLSPOL_VERDICT_TEMPFAIL,
          "TEMP MX lookup for example.test failed (timeout)",
          "TEMP MX lookup for example.test failed (timeout)" },
        { TLSPOL_VERDICT_NO_POLICY, "NOTFOUND ", "NOTFOUND " },
        { TLSPOL_VERDICT_STS_TESTING, "NOTFOUND ", "NOTFOUND " },
        { TLSPOL_VERDICT_PRELOAD_TESTING, "NOTFOUND ", "NOTFOUND " },
        { TLSPOL_VERDICT_ENCRYPT, "OK dane", "OK dane" },
        { TLSPOL_VERDICT_DANE, "OK dane", "OK dane" },
        { TLSPOL_VERDICT_DANE_ONLY, "OK dane-only", "OK dane-only" },
        { TLSPOL_VERDICT_PRELOAD_ENFORCE,
          "OK secure match=mx1.example.test:.example.net "
          "servername=hostname",
          "OK secure match=mx1.example.test:.example.net "
          "servername=hostname" },
        { TLSPOL_VERDICT_STS_ENFORCE,
          "OK secure match=mx1.example.test:.example.net "
          "servername=hostname",
          "OK secure match=mx1.example.test:.example.net "
          "servername=hostname policy_type=sts policy_domain=example.test "
          "mx_host_pattern=mx1.example.test mx_host_pattern=*.example.net "
          "{ policy_string = version: STSv1 } "
          "{ policy_string = mode: enforce } "
          "{ policy_string = mx: mx1.example.test } "
          "{ policy_string = mx: *.example.net } "
          "{ policy_string = max_age: 86400 }" },
    };
    size_t i;

    for (i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
        struct tlspol_result r = result(g[i].v);

        cr_expect_str_eq(render(&r, 309), g[i].at39, "%s at 3.9",
                         tlspol_verdict_name(g[i].v));
        cr_expect_str_eq(render(&r, 310), g[i].at310, "%s at 3.10",
                         tlspol_verdict_name(g[i].v));
    }
    ASSERT_NO_LEAKS();
}

Test(postfix, local_levels)
{
    static const struct {
        enum tp_level level;
        const char *want;
    } g[] = {
        { TP_LEVEL_NONE, "OK none" },
        { TP_LEVEL_MAY, "OK may" },
        { TP_LEVEL_ENCRYPT, "OK encrypt" },
        { TP_LEVEL_DANE, "OK dane" },
        { TP_LEVEL_DANE_ONLY, "OK dane-only" },
        { TP_LEVEL_SECURE, "OK secure match=mx1.example.test:.example.net "
                           "servername=hostname" },
    };
    size_t i;

    for (i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
        struct tlspol_result r = result(TLSPOL_VERDICT_LOCAL);

        r.local_level = g[i].level;
        cr_expect_str_eq(render(&r, 309), g[i].want);
        cr_expect_str_eq(render(&r, 310), g[i].want, "no TLSRPT attributes "
                         "on a non-STS policy");
    }
}

Test(postfix, local_secure_without_patterns_uses_postfix_default)
{
    struct tlspol_result r = result(TLSPOL_VERDICT_LOCAL);

    r.local_level = TP_LEVEL_SECURE;
    r.n_mx = 0;
    cr_assert_str_eq(render(&r, 309), "OK secure");
}

Test(postfix, temp_reason_is_sanitized)
{
    struct tlspol_result r = result(TLSPOL_VERDICT_TEMPFAIL);

    r.reason = "bad\r\nthing\x01\xc3\xa9";
    cr_assert_str_eq(render(&r, 309), "TEMP bad??thing???");
}

Test(postfix, never_an_empty_ok_or_ok_may_for_published_policy)
{
    tlspol_verdict v;

    for (v = TLSPOL_VERDICT_TEMPFAIL; v < TLSPOL_VERDICT_LOCAL; v++) {
        struct tlspol_result r = result(v);
        const char *s = render(&r, 310);

        cr_expect(strcmp(s, "OK") != 0 && strcmp(s, "OK ") != 0, "%s", s);
        cr_expect(strncmp(s, "OK may", 6) != 0, "%s: %s",
                  tlspol_verdict_name(v), s);
    }
}

Test(postfix, too_long_is_refused)
{
    static char big[TP_DOMAIN_MAX + 1];
    static const char *many[2000];
    struct tlspol_result r = result(TLSPOL_VERDICT_STS_ENFORCE);
    struct tp_buf b;
    size_t i;

    memset(big, 'a', TP_DOMAIN_MAX);
    for (i = 0; i < 2000; i++)
        many[i] = big;
    r.mx = many;
    r.n_mx = 2000;
    tp_buf_init(&b, TP_POSTFIX_REPLY_MAX);
    cr_assert_eq(tp_postfix_render(&r, 310, &b), TP_ETOOBIG);
    tp_buf_free(&b);
}
