/* Target: tp_preload_parse */
/*
 * fuzz_preload_yaml.c - libFuzzer harness for the STARTTLS-Everywhere
 * policy list parser (standards.md A6; JSON read with libyaml events).
 * Properties checked beyond "no crash, no leak": on success every entry's
 * domain normalizes to itself, its mode is testing or enforce, it has 1 to
 * TP_STS_MX_MAX unique lowercase patterns that pass tp_mx_pattern_check,
 * the entries are sorted and unique, tp_preload_find() finds each (and
 * nothing for a name that is not there), and 0 <= timestamp, expires; on
 * failure *out is empty and the message is a bounded "preload: " text
 * that never reports an internal inconsistency (libyaml's character marks
 * out of step with the raw bytes).  Each input is parsed a
 * second time with one allocation made to fail: the result must be the
 * same or TP_ENOMEM.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "domain.h"
#include "preload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs beyond this are ignored: the work is linear, only slower. */
#define FUZZ_INPUT_MAX (1024 * 1024)

/* check_entry - invariants of one entry */
static void
check_entry(const struct tp_preload *pl, size_t i)
{
    const struct tp_preload_entry *x = &pl->e[i];
    char norm[TP_DOMAIN_MAX + 1];
    size_t j, k, len;

    if (x->domain == NULL ||
        tp_domain_normalize(x->domain, strlen(x->domain), norm, NULL) !=
            TP_OK ||
        strcmp(norm, x->domain) != 0)
        abort();
    if (x->mode != TP_STS_MODE_TESTING && x->mode != TP_STS_MODE_ENFORCE)
        abort();
    if (x->n_mx == 0 || x->n_mx > TP_STS_MX_MAX || x->mx == NULL)
        abort();
    for (j = 0; j < x->n_mx; j++) {
        len = strlen(x->mx[j]);
        if (tp_mx_pattern_check(x->mx[j], len, NULL) != TP_OK)
            abort();
        for (k = 0; k < len; k++)
            if (x->mx[j][k] >= 'A' && x->mx[j][k] <= 'Z')
                abort();
        for (k = 0; k < j; k++)
            if (strcmp(x->mx[k], x->mx[j]) == 0)
                abort();
    }
    if (i > 0 && strcmp(pl->e[i - 1].domain, x->domain) >= 0)
        abort();
    if (tp_preload_find(pl, x->domain) != x)
        abort();
}

/* is_internal - "preload: line N: internal error: ..." (preload.c writes
 * that shape only for its own inconsistencies; document text is always
 * behind a path that starts with '$') */
static bool
is_internal(const char *msg)
{
    const char *p = msg + 14;

    if (strncmp(msg, "preload: line ", 14) != 0)
        return false;
    while (*p >= '0' && *p <= '9')
        p++;
    return strncmp(p, ": internal error: ", 18) == 0;
}

/* check - invariants of one parse result */
static void
check(int rc, const struct tp_preload *pl, const struct tp_err *e)
{
    size_t i;

    if (rc != TP_OK) {
        if (pl->e != NULL || pl->n != 0 || pl->timestamp != 0 ||
            pl->expires != 0 ||
            strnlen(e->msg, sizeof(e->msg)) == sizeof(e->msg) ||
            strncmp(e->msg, "preload: ", 9) != 0 ||
            is_internal(e->msg))
            abort();
        return;
    }
    if (pl->n > TP_PRELOAD_DOMAINS_MAX || (pl->n > 0) != (pl->e != NULL))
        abort();
    if (pl->timestamp < 0 || pl->expires < 0)
        abort();
    for (i = 0; i < pl->n; i++)
        check_entry(pl, i);
    /* a name no entry can have: find() must say so */
    if (tp_preload_find(pl, "-") != NULL)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tp_preload pl;
    struct tp_err e, e2;
    size_t n;
    int rc, rc2;

    if (size > FUZZ_INPUT_MAX)
        return 0;
    memset(&e, 0, sizeof(e));
    rc = tp_preload_parse(data, size, &pl, &e);
    check(rc, &pl, &e);
    n = pl.n;
    tp_preload_free(&pl);
    if (pl.e != NULL || pl.n != 0)
        abort();

    /* Fault injection: fail one of the first few allocations. */
    memset(&e2, 0, sizeof(e2));
    tp_alloc_fail_at(size % 16 + 1);
    rc2 = tp_preload_parse(data, size, &pl, &e2);
    if (tp_alloc_fail_pending() != 0) {
        /* the failure was not reached: the very same result */
        if (rc2 != rc || strcmp(e.msg, e2.msg) != 0 || pl.n != n)
            abort();
    } else if (rc2 != TP_ENOMEM) {
        abort();
    }
    tp_alloc_fail_at(0);
    check(rc2, &pl, &e2);
    tp_preload_free(&pl);
    return 0;
}
