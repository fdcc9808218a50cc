/*
 * test_sts.c - MTA-STS resolution end to end through the public API,
 * against the hermetic test network (real NSD, Unbound, nginx).
 * One parameterised case per scenario of tests/net/README.md.
 *
 * SPDX-License-Identifier: MIT
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "../leakcheck.h"
#include <sqlite3.h>

#include "netenv.h"
#include "tlspol/tlspol.h"

struct scen {
    char domain[40];
    tlspol_verdict verdict;
    tlspol_source source;
    tlspol_sts_mode mode;
    char reason[96];          /* substring expected in the reason */
};

static struct scen scenarios[] = {
    { "enforce.test", TLSPOL_VERDICT_STS_ENFORCE, TLSPOL_SOURCE_STS,
      TLSPOL_STS_MODE_ENFORCE, "1 of 1 MX hosts match" },
    { "testing.test", TLSPOL_VERDICT_STS_TESTING, TLSPOL_SOURCE_STS,
      TLSPOL_STS_MODE_TESTING, "MTA-STS testing (id 20261129T1)" },
    { "none.test", TLSPOL_VERDICT_NO_POLICY, TLSPOL_SOURCE_STS,
      TLSPOL_STS_MODE_NONE, "MTA-STS mode none" },
    { "wildcard.test", TLSPOL_VERDICT_STS_ENFORCE, TLSPOL_SOURCE_STS,
      TLSPOL_STS_MODE_ENFORCE, "1 of 2 MX hosts match" },
    { "multi-mx.test", TLSPOL_VERDICT_STS_ENFORCE, TLSPOL_SOURCE_STS,
      TLSPOL_STS_MODE_ENFORCE, "2 of 2 MX hosts match" },
    { "mx-mismatch.test", TLSPOL_VERDICT_TEMPFAIL, TLSPOL_SOURCE_STS,
      TLSPOL_STS_MODE_ENFORCE,
      "mx patterns [mail.elsewhere.test], MX hosts [mx1.mx-mismatch" },
    { "no-txt.test", TLSPOL_VERDICT_NO_POLICY, TLSPOL_SOURCE_NONE,
      TLSPOL_STS_MODE_ABSENT, "no TXT record at _mta-sts.no-txt.test" },
    { "bad-txt.test", TLSPOL_VERDICT_NO_POLICY, TLSPOL_SOURCE_NONE,
      TLSPOL_STS_MODE_ABSENT, "TXT: id: invalid character '-'" },
    { "two-txt.test", TLSPOL_VERDICT_NO_POLICY, TLSPOL_SOURCE_NONE,
      TLSPOL_STS_MODE_ABSENT, "2 v=STSv1 records, exactly one allowed" },
    { "split-txt.test", TLSPOL_VERDICT_STS_ENFORCE, TLSPOL_SOURCE_STS,
      TLSPOL_STS_MODE_ENFORCE, "(id split1)" },
    { "ext-txt.test", TLSPOL_VERDICT_STS_ENFORCE, TLSPOL_SOURCE_STS,
      TLSPOL_STS_MODE_ENFORCE, "(id ext1)" },
    { "cname-txt.test", TLSPOL_VERDICT_STS_ENFORCE, TLSPOL_SOURCE_STS,
      TLSPOL_STS_MODE_ENFORCE, "1 of 1 MX hosts match" },
    { "http-404.test", TLSPOL_VERDICT_NO_POLICY, TLSPOL_SOURCE_NONE,
      TLSPOL_STS_MODE_ABSENT, "HTTP status 404" },
    { "redirect.test", TLSPOL_VERDICT_NO_POLICY, TLSPOL_SOURCE_NONE,
      TLSPOL_STS_MODE_ABSENT, "HTTP status 301 (redirects are not" },
    { "wrong-name.test", TLSPOL_VERDICT_NO_POLICY, TLSPOL_SOURCE_NONE,
      TLSPOL_STS_MODE_ABSENT, "hostname mismatch" },
    { "unknown-ca.test", TLSPOL_VERDICT_NO_POLICY, TLSPOL_SOURCE_NONE,
      TLSPOL_STS_MODE_ABSENT, "unable to get local issuer certificate" },
    { "expired-cert.test", TLSPOL_VERDICT_NO_POLICY, TLSPOL_SOURCE_NONE,
      TLSPOL_STS_MODE_ABSENT, "certificate has expired" },
    { "text-html.test", TLSPOL_VERDICT_NO_POLICY, TLSPOL_SOURCE_NONE,
      TLSPOL_STS_MODE_ABSENT, "media type \"text/html\"" },
    { "oversize.test", TLSPOL_VERDICT_NO_POLICY, TLSPOL_SOURCE_NONE,
      TLSPOL_STS_MODE_ABSENT, "body larger than 65536 bytes" },
    { "no-version.test", TLSPOL_VERDICT_NO_POLICY, TLSPOL_SOURCE_NONE,
      TLSPOL_STS_MODE_ABSENT, "policy: missing version" },
    { "bad-mode.test", TLSPOL_VERDICT_NO_POLICY, TLSPOL_SOURCE_NONE,
      TLSPOL_STS_MODE_ABSENT, "policy: line 2: mode:" },
    { "big-maxage.test", TLSPOL_VERDICT_STS_ENFORCE, TLSPOL_SOURCE_STS,
      TLSPOL_STS_MODE_ENFORCE, "1 of 1 MX hosts match" },
    { "crlf.test", TLSPOL_VERDICT_STS_ENFORCE, TLSPOL_SOURCE_STS,
      TLSPOL_STS_MODE_ENFORCE, "1 of 1 MX hosts match" },
    { "unknown-keys.test", TLSPOL_VERDICT_STS_ENFORCE, TLSPOL_SOURCE_STS,
      TLSPOL_STS_MODE_ENFORCE, "1 of 1 MX hosts match" },
    { "slow.test", TLSPOL_VERDICT_NO_POLICY, TLSPOL_SOURCE_NONE,
      TLSPOL_STS_MODE_ABSENT, "timed out after 2000 ms" },
    { "no-addr.test", TLSPOL_VERDICT_NO_POLICY, TLSPOL_SOURCE_NONE,
      TLSPOL_STS_MODE_ABSENT, "mta-sts.no-addr.test has no address" },
    { "does-not-exist.test", TLSPOL_VERDICT_NO_POLICY, TLSPOL_SOURCE_NONE,
      TLSPOL_STS_MODE_ABSENT, "does not exist (NXDOMAIN)" },
};

#define NSCEN (sizeof(scenarios) / sizeof(scenarios[0]))

ParameterizedTestParameters(sts, scenario)
{
    return cr_make_param_array(struct scen, scenarios, NSCEN);
}

ParameterizedTest(struct scen *s, sts, scenario, .timeout = 30)
{
    tlspol_ctx *ctx = net_ctx(2000);
    tlspol_result *r = NULL;

    cr_assert_eq(tlspol_resolve_sync(ctx, s->domain, &r), TLSPOL_OK,
                 "%s: %s", s->domain, tlspol_ctx_errmsg(ctx));
    cr_expect_eq(tlspol_result_verdict(r), s->verdict, "%s: verdict %s, "
                 "want %s (%s)", s->domain,
                 tlspol_verdict_name(tlspol_result_verdict(r)),
                 tlspol_verdict_name(s->verdict), tlspol_result_reason(r));
    cr_expect_eq(tlspol_result_source(r), s->source, "%s: source %s",
                 s->domain, tlspol_source_name(tlspol_result_source(r)));
    cr_expect_eq(tlspol_result_sts_mode(r), s->mode, "%s: mode %s",
                 s->domain, tlspol_sts_mode_name(tlspol_result_sts_mode(r)));
    cr_expect(strstr(tlspol_result_reason(r), s->reason) != NULL,
              "%s: reason \"%s\" lacks \"%s\"", s->domain,
              tlspol_result_reason(r), s->reason);
    cr_expect_str_eq(tlspol_result_domain(r), s->domain);
    cr_expect_gt(tlspol_result_trace_count(r), 1);
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

Test(sts, enforce_result_carries_policy_details)
{
    tlspol_ctx *ctx = net_ctx(0);
    tlspol_result *r = NULL;
    const char *js;

    cr_assert_eq(tlspol_resolve_sync(ctx, "Enforce.TEST.", &r), TLSPOL_OK);
    cr_assert_str_eq(tlspol_result_domain(r), "enforce.test");
    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_STS_ENFORCE);
    cr_assert_eq(tlspol_result_tls_required(r), 1);
    cr_assert_str_eq(tlspol_result_sts_id(r), "20261129T1");
    cr_assert_eq(tlspol_result_sts_max_age(r), 86400);
    cr_assert_gt(tlspol_result_expires(r), 1700000000);
    cr_assert_eq(tlspol_result_mx_pattern_count(r), 1);
    cr_assert_str_eq(tlspol_result_mx_pattern(r, 0), "mx1.enforce.test");
    cr_assert_null(tlspol_result_mx_pattern(r, 1));
    cr_assert_eq(tlspol_result_host_count(r), 1);
    cr_assert_str_eq(tlspol_result_host_name(r, 0), "mx1.enforce.test");
    cr_assert_eq(tlspol_result_host_preference(r, 0), 10);
    cr_assert_eq(tlspol_result_host_sts_match(r, 0), 1);
    js = tlspol_result_json(r);
    cr_assert_not_null(js);
    cr_assert(strstr(js, "\"verdict\":\"STS_ENFORCE\"") != NULL, "%s", js);
    cr_assert(strstr(js, "\"mx\":[\"mx1.enforce.test\"]") != NULL, "%s", js);
    cr_assert_eq(tlspol_result_json(r), js, "JSON is built once");
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

Test(sts, wildcard_matches_exactly_one_label)
{
    tlspol_ctx *ctx = net_ctx(0);
    tlspol_result *r = NULL;

    cr_assert_eq(tlspol_resolve_sync(ctx, "wildcard.test", &r), TLSPOL_OK);
    cr_assert_eq(tlspol_result_host_count(r), 2);
    cr_assert_str_eq(tlspol_result_host_name(r, 0), "mx1.wildcard.test");
    cr_assert_eq(tlspol_result_host_sts_match(r, 0), 1);
    cr_assert_str_eq(tlspol_result_host_name(r, 1),
                     "deep.sub.wildcard.test");
    cr_assert_eq(tlspol_result_host_sts_match(r, 1), 0);
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

Test(sts, max_age_is_clamped)
{
    tlspol_ctx *ctx = net_ctx(0);
    tlspol_result *r = NULL;

    cr_assert_eq(tlspol_resolve_sync(ctx, "big-maxage.test", &r), TLSPOL_OK);
    cr_assert_eq(tlspol_result_sts_max_age(r), 31557600);
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

Test(sts, no_policy_hosts_have_no_match_state)
{
    tlspol_ctx *ctx = net_ctx(0);
    tlspol_result *r = NULL;

    cr_assert_eq(tlspol_resolve_sync(ctx, "http-404.test", &r), TLSPOL_OK);
    cr_assert_eq(tlspol_result_tls_required(r), 0);
    cr_assert_null(tlspol_result_sts_id(r));
    cr_assert_eq(tlspol_result_expires(r), 0);
    cr_assert_eq(tlspol_result_host_count(r), 1);
    cr_assert_eq(tlspol_result_host_sts_match(r, 0), -1);
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

/* --- asynchronous use ---------------------------------------------- */

struct got {
    int calls;
    tlspol_status st;
    tlspol_verdict v;
    char domain[64];
    char reason[512];
};

static void
got_cb(tlspol_status st, tlspol_result *r, void *ud)
{
    struct got *g = ud;

    g->calls++;
    g->st = st;
    if (r != NULL) {
        g->v = tlspol_result_verdict(r);
        snprintf(g->domain, sizeof(g->domain), "%s",
                 tlspol_result_domain(r));
        snprintf(g->reason, sizeof(g->reason), "%s",
                 tlspol_result_reason(r));
    }
    tlspol_result_free(r);
}

/* run_until - drive the context through its fd until nothing is pending */
static void
run_until_idle(tlspol_ctx *ctx)
{
    int spins = 0;

    while (tlspol_ctx_pending(ctx) > 0) {
        struct pollfd p = { .fd = tlspol_ctx_get_fd(ctx), .events = POLLIN };

        cr_assert_geq(poll(&p, 1, 5000), 0);
        cr_assert_eq(tlspol_ctx_dispatch(ctx), TLSPOL_OK);
        cr_assert_lt(++spins, 100000, "loop spins without progress");
    }
}

struct logcount {
    int started;
};

static void
count_log(tlspol_log_level lvl, const char *id, const char *msg, void *ud)
{
    struct logcount *lc = ud;

    (void)lvl;
    (void)msg;
    if (strcmp(id, "TP1001") == 0)
        lc->started++;
}

Test(async, concurrent_queries_for_one_domain_share_a_lookup)
{
    tlspol_ctx *ctx = net_ctx(0);
    struct got a = { 0 }, b = { 0 }, c = { 0 };
    struct logcount lc = { 0 };

    tlspol_ctx_set_log_fn(ctx, count_log, &lc, TLSPOL_LOG_DEBUG);
    cr_assert_eq(tlspol_resolve(ctx, "enforce.test", got_cb, &a, NULL),
                 TLSPOL_OK);
    cr_assert_eq(tlspol_resolve(ctx, "ENFORCE.test.", got_cb, &b, NULL),
                 TLSPOL_OK);
    cr_assert_eq(tlspol_resolve(ctx, "testing.test", got_cb, &c, NULL),
                 TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_pending(ctx), 3);
    cr_assert_eq(a.calls + b.calls + c.calls, 0,
                 "callbacks never run inside tlspol_resolve");
    run_until_idle(ctx);
    cr_assert_eq(lc.started, 2, "two distinct domains, two lookups");
    cr_assert_eq(a.calls, 1);
    cr_assert_eq(b.calls, 1);
    cr_assert_eq(c.calls, 1);
    cr_assert_eq(a.v, TLSPOL_VERDICT_STS_ENFORCE);
    cr_assert_eq(b.v, TLSPOL_VERDICT_STS_ENFORCE);
    cr_assert_eq(c.v, TLSPOL_VERDICT_STS_TESTING);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

Test(async, canceled_query_never_calls_back)
{
    tlspol_ctx *ctx = net_ctx(0);
    struct got a = { 0 }, b = { 0 };
    tlspol_query *qa = NULL;

    cr_assert_eq(tlspol_resolve(ctx, "enforce.test", got_cb, &a, &qa),
                 TLSPOL_OK);
    cr_assert_eq(tlspol_resolve(ctx, "enforce.test", got_cb, &b, NULL),
                 TLSPOL_OK);
    cr_assert_eq(tlspol_query_cancel(qa), TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_pending(ctx), 1);
    run_until_idle(ctx);
    cr_assert_eq(a.calls, 0);
    cr_assert_eq(b.calls, 1);
    cr_assert_eq(b.v, TLSPOL_VERDICT_STS_ENFORCE);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

Test(async, every_scenario_in_flight_at_once)
{
    tlspol_ctx *ctx = net_ctx(2000);
    static struct got g[NSCEN];
    size_t i;

    memset(g, 0, sizeof(g));
    for (i = 0; i < NSCEN; i++)
        cr_assert_eq(tlspol_resolve(ctx, scenarios[i].domain, got_cb, &g[i],
                                    NULL), TLSPOL_OK);
    run_until_idle(ctx);
    for (i = 0; i < NSCEN; i++) {
        cr_expect_eq(g[i].calls, 1, "%s", scenarios[i].domain);
        cr_expect_eq(g[i].v, scenarios[i].verdict, "%s: %s: %s",
                     scenarios[i].domain, tlspol_verdict_name(g[i].v),
                     g[i].reason);
    }
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

Test(async, free_with_queries_in_flight)
{
    tlspol_ctx *ctx = net_ctx(0);
    struct got a = { 0 };

    cr_assert_eq(tlspol_resolve(ctx, "slow.test", got_cb, &a, NULL),
                 TLSPOL_OK);
    /* let the lookup get as far as the stalled HTTPS body */
    for (int i = 0; i < 50; i++) {
        struct pollfd p = { .fd = tlspol_ctx_get_fd(ctx), .events = POLLIN };

        poll(&p, 1, 20);
        tlspol_ctx_dispatch(ctx);
    }
    tlspol_ctx_free(ctx);
    cr_assert_eq(a.calls, 0);
    ASSERT_NO_LEAKS();
}

static tlspol_status inner_status = TLSPOL_OK;

static void
reentrant_cb(tlspol_status st, tlspol_result *r, void *ud)
{
    tlspol_ctx *ctx = ud;
    tlspol_result *r2 = NULL;

    (void)st;
    inner_status = tlspol_resolve_sync(ctx, "testing.test", &r2);
    if (inner_status == TLSPOL_OK)
        tlspol_result_free(r2);
    cr_expect_eq(tlspol_ctx_dispatch(ctx), TLSPOL_ERR_BUSY);
    tlspol_result_free(r);
}

Test(async, sync_call_from_callback_is_busy)
{
    tlspol_ctx *ctx = net_ctx(0);

    cr_assert_eq(tlspol_resolve(ctx, "enforce.test", reentrant_cb, ctx,
                                NULL), TLSPOL_OK);
    run_until_idle(ctx);
    cr_assert_eq(inner_status, TLSPOL_ERR_BUSY);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

Test(setup, unreadable_trust_anchor_is_an_io_error)
{
    tlspol_ctx *ctx = net_ctx(0);
    tlspol_result *r = NULL;

    tlspol_ctx_free(ctx);
    cr_assert_eq(tlspol_ctx_new(&ctx), TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_set_trust_anchor_file(ctx, "/nonexistent/ta"),
                 TLSPOL_OK);
    cr_assert_eq(tlspol_resolve_sync(ctx, "enforce.test", &r),
                 TLSPOL_ERR_IO);
    cr_assert(strstr(tlspol_ctx_errmsg(ctx), "/nonexistent/ta") != NULL,
              "%s", tlspol_ctx_errmsg(ctx));
    cr_assert_null(r);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

Test(setup, options_are_fixed_after_first_resolve)
{
    tlspol_ctx *ctx = net_ctx(0);
    tlspol_result *r = NULL;

    cr_assert_eq(tlspol_resolve_sync(ctx, "enforce.test", &r), TLSPOL_OK);
    tlspol_result_free(r);
    cr_assert_eq(tlspol_ctx_set_resolvers(ctx, "127.0.0.9"),
                 TLSPOL_ERR_BUSY);
    cr_assert_eq(tlspol_ctx_set_timeout(ctx, 1000), TLSPOL_ERR_BUSY);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

/* --- the MTA-STS policy cache ---------------------------------------- */

Test(cache, second_lookup_is_answered_from_the_verdict_cache)
{
    tlspol_ctx *ctx = net_ctx(3000);
    tlspol_result *r = resolve1(ctx, "dane-sts.test");

    cr_assert(!has_trace(r, "cache: result of a lookup"));
    tlspol_result_free(r);
    r = resolve1(ctx, "dane-sts.test");
    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_DANE_ONLY);
    /* one line: the cache keeps results without their traces */
    cr_assert_eq(tlspol_result_trace_count(r), 1);
    cr_assert(has_trace(r, "cache: result of a lookup"), "the note");
    cr_assert(has_trace(r, "its trace is not kept"));
    cr_assert_null(tlspol_result_trace(r, 1));
    cr_assert_str_eq(tlspol_result_host_name(r, 0), "mx1.dane-sts.test");
    cr_assert_eq(tlspol_result_host_tlsa_count(r, 0), 1);
    cr_assert_str_eq(tlspol_result_sts_id(r), "20261129T1");
    cr_assert_eq(tlspol_ctx_stat(ctx, TLSPOL_STAT_CACHE_HITS), 1);
    cr_assert(strstr(tlspol_result_json(r), "\"trace\":[\"cache: result")
              != NULL, "%s", tlspol_result_json(r));
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

Test(cache, resolve_cached_answers_only_from_the_cache)
{
    tlspol_ctx *ctx = net_ctx(3000);
    tlspol_result *r = (tlspol_result *)1;

    cr_assert_eq(tlspol_resolve_cached(ctx, "enforce.test", &r), TLSPOL_OK);
    cr_assert_null(r, "nothing cached yet, and no lookup started");
    cr_assert_eq(tlspol_ctx_pending(ctx), 0);
    cr_assert_eq(tlspol_resolve_cached(ctx, "a..test", &r), TLSPOL_ERR_INVAL);
    cr_assert(strstr(tlspol_ctx_errmsg(ctx), "empty label") != NULL);
    cr_assert_eq(tlspol_resolve_cached(ctx, NULL, &r), TLSPOL_ERR_INVAL);
    cr_assert_eq(tlspol_resolve_cached(ctx, "enforce.test", NULL),
                 TLSPOL_ERR_INVAL);
    tlspol_result_free(resolve1(ctx, "enforce.test"));
    cr_assert_eq(tlspol_resolve_cached(ctx, "ENFORCE.test.", &r), TLSPOL_OK);
    cr_assert_not_null(r);
    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_STS_ENFORCE);
    cr_assert_str_eq(tlspol_result_postfix_policy(r, 0), "OK secure "
                     "match=mx1.enforce.test servername=hostname");
    cr_assert(has_trace(r, "cache: result of a lookup"));
    cr_assert_eq(tlspol_ctx_stat(ctx, TLSPOL_STAT_CACHE_HITS), 1);
    cr_assert_eq(tlspol_ctx_pending(ctx), 0, "no callback queued");
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

Test(cache, tempfail_is_not_cached)
{
    tlspol_ctx *ctx = net_ctx(3000);
    tlspol_result *r = resolve1(ctx, "mx-bogus.test");

    tlspol_result_free(r);
    r = resolve1(ctx, "mx-bogus.test");
    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_TEMPFAIL);
    cr_assert_eq(tlspol_ctx_stat(ctx, TLSPOL_STAT_CACHE_HITS), 0);
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
}

static void
never(tlspol_status st, tlspol_result *r, void *ud)
{
    (void)st;
    (void)ud;
    tlspol_result_free(r);
    cr_assert_fail("a canceled cache hit must not call back");
}

Test(cache, canceled_cache_hit_never_calls_back)
{
    tlspol_ctx *ctx = net_ctx(3000);
    tlspol_result *r = resolve1(ctx, "enforce.test");
    tlspol_query *q = NULL;

    tlspol_result_free(r);
    cr_assert_eq(tlspol_resolve(ctx, "enforce.test", never, NULL, &q),
                 TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_pending(ctx), 1);
    cr_assert_eq(tlspol_query_cancel(q), TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_pending(ctx), 0);
    cr_assert_eq(tlspol_ctx_dispatch(ctx), TLSPOL_OK);
    r = resolve1(ctx, "enforce.test"); /* still answers */
    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_STS_ENFORCE);
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

Test(cache, failures_are_not_cached)
{
    tlspol_ctx *ctx = net_ctx(3000);
    tlspol_result *r = resolve1(ctx, "http-404.test");

    tlspol_result_free(r);
    r = resolve1(ctx, "http-404.test");
    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_NO_POLICY);
    cr_assert(has_trace(r, "HTTPS GET"), "fetched again");
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
}

/* cache_ctx - a network context using the cache file path */
static tlspol_ctx *
cache_ctx(const char *path)
{
    tlspol_ctx *ctx = net_ctx(3000);

    cr_assert_eq(tlspol_ctx_set_cache_file(ctx, path), TLSPOL_OK);
    return ctx;
}

/* unlink_cache - remove a cache file and SQLite's companions */
static void
unlink_cache(const char *path)
{
    char aux[64];

    unlink(path);
    snprintf(aux, sizeof(aux), "%s-wal", path);
    unlink(aux);
    snprintf(aux, sizeof(aux), "%s-shm", path);
    unlink(aux);
}

Test(cache, policies_survive_a_restart_in_the_cache_file)
{
    char path[] = "/tmp/tlspol-cache-XXXXXX";
    int fd = mkstemp(path);
    tlspol_ctx *ctx;
    tlspol_result *r;

    cr_assert_geq(fd, 0);
    close(fd);
    unlink(path); /* let SQLite create it */
    ctx = cache_ctx(path);
    r = resolve1(ctx, "enforce.test");
    cr_assert_eq(tlspol_result_source(r), TLSPOL_SOURCE_STS);
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);

    ctx = cache_ctx(path);
    r = resolve1(ctx, "enforce.test");
    cr_assert_eq(tlspol_result_source(r), TLSPOL_SOURCE_STS_CACHE, "%s",
                 tlspol_result_reason(r));
    cr_assert(!has_trace(r, "HTTPS GET"));
    cr_assert_str_eq(tlspol_result_mx_pattern(r, 0), "mx1.enforce.test");
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
    unlink_cache(path);
    ASSERT_NO_LEAKS();
}

Test(cache, purge_forgets_a_domain_in_memory_and_in_the_file)
{
    char path[] = "/tmp/tlspol-cache-XXXXXX";
    int fd = mkstemp(path), found = -1;
    tlspol_ctx *ctx;
    tlspol_result *r;

    cr_assert_geq(fd, 0);
    close(fd);
    unlink(path);
    ctx = cache_ctx(path);
    tlspol_result_free(resolve1(ctx, "enforce.test"));
    tlspol_result_free(resolve1(ctx, "testing.test"));
    cr_assert_eq(tlspol_ctx_purge(ctx, "Enforce.Test.", &found), TLSPOL_OK);
    cr_assert_eq(found, 1);
    cr_assert_eq(tlspol_ctx_purge(ctx, "enforce.test", &found), TLSPOL_OK);
    cr_assert_eq(found, 0, "nothing left to purge");
    cr_assert_eq(tlspol_ctx_purge(ctx, "a..test", &found), TLSPOL_ERR_INVAL);
    cr_assert(strstr(tlspol_ctx_errmsg(ctx), "empty label") != NULL, "%s",
              tlspol_ctx_errmsg(ctx));
    cr_assert_eq(tlspol_ctx_purge(ctx, NULL, NULL), TLSPOL_ERR_INVAL);
    r = resolve1(ctx, "enforce.test");
    cr_assert_eq(tlspol_result_source(r), TLSPOL_SOURCE_STS,
                 "looked up afresh, not from a cache");
    cr_assert(has_trace(r, "HTTPS GET"));
    tlspol_result_free(r);
    cr_assert_eq(tlspol_ctx_purge(ctx, "enforce.test", NULL), TLSPOL_OK);
    tlspol_ctx_free(ctx);

    ctx = cache_ctx(path); /* the file lost enforce.test, kept the other */
    cr_assert(strstr(tlspol_ctx_export_preload(ctx), "enforce.test") == NULL);
    cr_assert(strstr(tlspol_ctx_export_preload(ctx), "testing.test") != NULL);
    tlspol_ctx_free(ctx);
    unlink_cache(path);
    ASSERT_NO_LEAKS();
}

Test(cache, unusable_cache_file_fails_at_open)
{
    tlspol_ctx *ctx = NULL;

    cr_assert_eq(tlspol_ctx_new(&ctx), TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_set_cache_file(ctx, "/nonexistent/dir/cache.db"),
                 TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_open(ctx), TLSPOL_ERR_IO);
    cr_assert(strstr(tlspol_ctx_errmsg(ctx), "/nonexistent/dir/cache.db") !=
              NULL, "%s", tlspol_ctx_errmsg(ctx));
    tlspol_ctx_free(ctx);
}

struct warn_count {
    int store_warnings;
};

static void
count_store(tlspol_log_level lvl, const char *id, const char *msg, void *ud)
{
    struct warn_count *w = ud;

    if (lvl == TLSPOL_LOG_WARN && strcmp(id, "TP1501") == 0 &&
        strstr(msg, "invalid cache rows ignored") != NULL)
        w->store_warnings++;
}

Test(cache, tampered_rows_are_dropped_on_load)
{
    char path[] = "/tmp/tlspol-cache-XXXXXX";
    int fd = mkstemp(path);
    struct warn_count w = { 0 };
    tlspol_ctx *ctx;
    tlspol_result *r;
    sqlite3 *db;

    cr_assert_geq(fd, 0);
    close(fd);
    unlink(path);
    ctx = cache_ctx(path);
    r = resolve1(ctx, "enforce.test");
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
    /* an attacker (or a disk error) changes the file */
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "UPDATE sts SET mx = 'evil..example' "
                              "WHERE domain = 'enforce.test'; INSERT INTO sts "
                              "VALUES ('x.test','bad-id!',3,86400,'mx.x.test',"
                              "strftime('%s','now'),0,'',zeroblob(32),1);",
                              NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ctx = cache_ctx(path);
    tlspol_ctx_set_log_fn(ctx, count_store, &w, TLSPOL_LOG_WARN);
    r = resolve1(ctx, "enforce.test");
    cr_assert_eq(w.store_warnings, 1);
    cr_assert_eq(tlspol_result_source(r), TLSPOL_SOURCE_STS,
                 "the bad row is not used: fetched afresh");
    cr_assert_str_eq(tlspol_result_mx_pattern(r, 0), "mx1.enforce.test");
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
    unlink(path);
}

Test(refresh, policies_are_fetched_again_before_expiry, .timeout = 60)
{
    tlspol_ctx *ctx = net_ctx(3000);
    struct logcount lc = { 0 };
    tlspol_result *r;

    tlspol_ctx_set_log_fn(ctx, count_log, &lc, TLSPOL_LOG_DEBUG);
    /* everything is "about to expire": one refresh per policy */
    cr_assert_eq(tlspol_ctx_set_refresh(ctx, 2000000000u, 2, 200, 0),
                 TLSPOL_OK);
    tlspol_result_free(resolve1(ctx, "enforce.test"));
    cr_assert_eq(lc.started, 1);
    spin(ctx, 1500);
    cr_assert_geq(tlspol_ctx_stat(ctx, TLSPOL_STAT_REFRESHES), 1);
    cr_assert_eq(tlspol_ctx_stat(ctx, TLSPOL_STAT_REFRESH_FAILURES), 0);
    cr_assert_geq(lc.started, 2, "a refresh lookup ran");
    r = resolve1(ctx, "enforce.test");
    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_STS_ENFORCE);
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

Test(refresh, unused_policies_are_evicted, .timeout = 60)
{
    tlspol_ctx *ctx = net_ctx(3000);
    const char *js;

    cr_assert_eq(tlspol_ctx_set_refresh(ctx, 0, 1, 200, 1), TLSPOL_OK);
    tlspol_result_free(resolve1(ctx, "enforce.test"));
    js = tlspol_ctx_export_preload(ctx);
    cr_assert(strstr(js, "enforce.test") != NULL, "%s", js);
    spin(ctx, 2600);
    cr_assert_geq(tlspol_ctx_stat(ctx, TLSPOL_STAT_EVICTIONS), 1);
    js = tlspol_ctx_export_preload(ctx);
    cr_assert(strstr(js, "enforce.test") == NULL, "%s", js);
    tlspol_ctx_free(ctx);
}

Test(refresh, arguments_are_checked)
{
    tlspol_ctx *ctx = NULL;

    cr_assert_eq(tlspol_ctx_new(&ctx), TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_set_refresh(ctx, 100, 1, 99, 0),
                 TLSPOL_ERR_INVAL);
    cr_assert_eq(tlspol_ctx_set_refresh(ctx, 100, 0, 1000, 0),
                 TLSPOL_ERR_INVAL);
    cr_assert_eq(tlspol_ctx_set_refresh(ctx, 0, 0, 1000, 0), TLSPOL_OK);
    tlspol_ctx_free(ctx);
}
