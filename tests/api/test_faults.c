/*
 * test_faults.c - fail the Nth allocation of libtlspol, for every N a
 * resolution makes, and check that each run ends cleanly: a status, or a
 * result whose verdict is never weaker than the truth would allow (a lost
 * allocation may give TEMPFAIL, never a made-up policy).  ASan checks for
 * leaks and invalid accesses.  White-box: links the static core for the
 * tp_alloc_fail_at() hook.  Needs the test network.
 *
 * SPDX-License-Identifier: MIT
 */
#include <criterion/criterion.h>

#include "../leakcheck.h"
#include "common.h"
#include "netenv.h"
#include "tlspol/tlspol.h"

/* one_run - resolve domain with the nth allocation failing; returns 1
 * when the injected failure was reached */
static int
one_run(const char *domain, unsigned long n, tlspol_verdict truth)
{
    tlspol_ctx *ctx = net_ctx(3000);
    tlspol_result *r = NULL;
    tlspol_status st;
    int hit;

    tp_alloc_fail_at(n);
    st = tlspol_resolve_sync(ctx, domain, &r);
    hit = tp_alloc_fail_pending() == 0;
    tp_alloc_fail_at(0);
    cr_assert(st == TLSPOL_OK || st == TLSPOL_ERR_NOMEM,
              "%s, allocation %lu failing: status %s", domain, n,
              tlspol_strerror(st));
    if (st == TLSPOL_OK) {
        tlspol_verdict v = tlspol_result_verdict(r);

        cr_assert(v == truth || v == TLSPOL_VERDICT_TEMPFAIL,
                  "%s, allocation %lu failing: verdict %s (%s), want %s "
                  "or TEMPFAIL", domain, n, tlspol_verdict_name(v),
                  tlspol_result_reason(r), tlspol_verdict_name(truth));
        cr_assert_not_null(tlspol_result_json(r), "JSON of a result");
    }
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
    return hit;
}

/* sweep - every allocation of one resolution fails once, in turn */
static void
sweep(const char *domain, tlspol_verdict truth)
{
    unsigned long n;

    for (n = 1; n < 2000; n++)
        if (!one_run(domain, n, truth))
            break; /* the resolution made fewer than n allocations */
    cr_assert_lt(n, 2000, "allocation count did not converge");
    cr_assert_gt(n, 5, "the sweep reached only %lu allocations", n);
    cr_log_info("%s: %lu allocation sites swept", domain, n - 1);
}

Test(faults, enforce_domain, .timeout = 600)
{
    sweep("enforce.test", TLSPOL_VERDICT_STS_ENFORCE);
}

Test(faults, two_txt_records_never_become_one, .timeout = 600)
{
    sweep("two-txt.test", TLSPOL_VERDICT_NO_POLICY);
}

Test(faults, mismatch_never_becomes_no_policy, .timeout = 600)
{
    sweep("mx-mismatch.test", TLSPOL_VERDICT_TEMPFAIL);
}

Test(faults, dane_only_never_weakens, .timeout = 600)
{
    sweep("dane-ee.test", TLSPOL_VERDICT_DANE_ONLY);
}

Test(faults, failed_host_never_disappears, .timeout = 600)
{
    sweep("addr-bogus.test", TLSPOL_VERDICT_DANE_ONLY);
}
