/*
 * netenv.h - shared set-up for tests that need the hermetic test network
 * (tests/net/with-net.sh exports TLSPOL_TEST_*).  Without it the tests
 * skip, unless TLSPOL_REQUIRE_NET=1 (set by tests/run-all), when a
 * missing network is a failure: CI can never pass by skipping.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TEST_NETENV_H
#define TEST_NETENV_H

#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "tlspol/tlspol.h"

/* net_ctx - a context pointed at the test network, or skip/fail */
static inline tlspol_ctx *
net_ctx(unsigned int timeout_ms)
{
    const char *res = getenv("TLSPOL_TEST_RESOLVER");
    const char *ta = getenv("TLSPOL_TEST_TA");
    const char *ca = getenv("TLSPOL_TEST_CA");
    const char *req = getenv("TLSPOL_REQUIRE_NET");
    tlspol_ctx *ctx = NULL;

    if (res == NULL || ta == NULL || ca == NULL) {
        if (req != NULL && strcmp(req, "1") == 0)
            cr_assert_fail("TLSPOL_REQUIRE_NET=1 but the test network is not "
                     "set up (run under tests/net/with-net.sh)");
        cr_skip_test("no test network (run under tests/net/with-net.sh)");
    }
    cr_assert_eq(tlspol_ctx_new(&ctx), TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_set_resolvers(ctx, res), TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_set_trust_anchor_file(ctx, ta), TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_set_ca_file(ctx, ca), TLSPOL_OK);
    if (timeout_ms)
        cr_assert_eq(tlspol_ctx_set_timeout(ctx, timeout_ms), TLSPOL_OK);
    return ctx;
}

/* resolve1 - resolve synchronously, asserting success; the caller frees */
static inline tlspol_result *
resolve1(tlspol_ctx *ctx, const char *domain)
{
    tlspol_result *r = NULL;

    cr_assert_eq(tlspol_resolve_sync(ctx, domain, &r), TLSPOL_OK, "%s: %s",
                 domain, tlspol_ctx_errmsg(ctx));
    return r;
}

/* has_trace - does any trace line of r contain s? */
static inline int
has_trace(const tlspol_result *r, const char *s)
{
    size_t i;

    for (i = 0; i < tlspol_result_trace_count(r); i++)
        if (strstr(tlspol_result_trace(r, i), s) != NULL)
            return 1;
    return 0;
}

/* now_ms - monotonic milliseconds */
static inline uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* spin - dispatch the context for ms milliseconds */
static inline void
spin(tlspol_ctx *ctx, int ms)
{
    uint64_t t = now_ms() + (uint64_t)ms;

    while (now_ms() < t) {
        struct pollfd p = { .fd = tlspol_ctx_get_fd(ctx), .events = POLLIN };

        poll(&p, 1, 50);
        cr_assert_eq(tlspol_ctx_dispatch(ctx), TLSPOL_OK);
    }
}

#endif
