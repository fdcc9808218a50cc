/* Target: tp_sts_policy_parse */
/*
 * fuzz_sts_policy.c - libFuzzer harness for the RFC 8461 §3.2 policy body
 * parser.  Properties checked beyond "no crash, no leak": a parsed policy
 * has a mode, >= 1 mx unless mode is none, at most TP_STS_MX_MAX mx
 * patterns that each pass tp_mx_pattern_check and are lowercase, and
 * max_age == min(max_age_raw, TP_STS_MAXAGE_MAX); a failed parse leaves
 * *out empty.  Each input is parsed a second time with one allocation
 * made to fail: the result must be the same or TP_ENOMEM.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "domain.h"
#include "sts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs beyond this are ignored: the parser stops at TP_STS_BODY_MAX. */
#define FUZZ_INPUT_MAX (1024 * 1024)

/* check - invariants of one parse result */
static void
check(int rc, const struct tp_sts_policy *pol, const struct tp_err *e)
{
    size_t i, j, len;

    if (rc != TP_OK) {
        if (pol->mx != NULL || pol->n_mx != 0 ||
            pol->mode != TP_STS_MODE_UNSET ||
            strnlen(e->msg, sizeof(e->msg)) == sizeof(e->msg) ||
            strncmp(e->msg, "policy: ", 8) != 0)
            abort();
        return;
    }
    if (pol->mode == TP_STS_MODE_UNSET || pol->n_mx > TP_STS_MX_MAX)
        abort();
    if (pol->mode != TP_STS_MODE_NONE && pol->n_mx == 0)
        abort();
    if (pol->max_age_raw > 9999999999ull ||
        pol->max_age != (pol->max_age_raw > TP_STS_MAXAGE_MAX
                             ? TP_STS_MAXAGE_MAX
                             : pol->max_age_raw))
        abort();
    for (i = 0; i < pol->n_mx; i++) {
        len = strlen(pol->mx[i]);
        if (tp_mx_pattern_check(pol->mx[i], len, NULL) != TP_OK)
            abort();
        for (j = 0; j < len; j++)
            if (pol->mx[i][j] >= 'A' && pol->mx[i][j] <= 'Z')
                abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tp_sts_policy pol;
    struct tp_err e;
    int rc, rc2;

    if (size > FUZZ_INPUT_MAX)
        return 0;
    rc = tp_sts_policy_parse(data, size, &pol, &e);
    check(rc, &pol, &e);
    tp_sts_policy_free(&pol);

    /* Fault injection: fail one of the first few allocations. */
    tp_alloc_fail_at(size % 8 + 1);
    rc2 = tp_sts_policy_parse(data, size, &pol, &e);
    tp_alloc_fail_at(0);
    check(rc2, &pol, &e);
    if (rc2 != rc && rc2 != TP_ENOMEM)
        abort();
    tp_sts_policy_free(&pol);
    return 0;
}
