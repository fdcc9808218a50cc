/* Target: tp_domain_normalize, tp_mx_pattern_check, tp_mx_match */
/*
 * fuzz_domain.c - libFuzzer harness for domain.c.  The whole input is
 * normalised and checked as an mx pattern; it is also split at the first
 * '\n' into (pattern, host) for tp_mx_match.  Properties: a normalised
 * name is NUL-terminated, <= TP_DOMAIN_MAX, lowercase, a valid mx pattern,
 * matches itself and normalises to itself; a valid wildcard pattern
 * matches "x" + its suffix and not its bare suffix.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "domain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs beyond this are ignored: normalisation stops at 1024 bytes. */
#define FUZZ_INPUT_MAX (1024 * 1024)

/* dup_z - NUL-terminated copy of n bytes (harness only) */
static char *
dup_z(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);

    if (s == NULL)
        abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* check_normalized - invariants of a successful tp_domain_normalize */
static void
check_normalized(const char *out)
{
    char again[TP_DOMAIN_MAX + 1];
    size_t n = strnlen(out, TP_DOMAIN_MAX + 1), i;

    if (n == 0 || n > TP_DOMAIN_MAX)
        abort();
    for (i = 0; i < n; i++)
        if (out[i] >= 'A' && out[i] <= 'Z')
            abort();
    if (tp_mx_pattern_check(out, n, NULL) != TP_OK)
        abort();
    if (!tp_mx_match(out, out))
        abort();
    if (tp_domain_normalize(out, n, again, NULL) != TP_OK ||
        strcmp(out, again) != 0)
        abort();
}

/* check_pattern - a valid pattern matches what it should */
static void
check_pattern(const uint8_t *data, size_t size)
{
    char *pat = dup_z(data, size), *host;

    if (pat[0] == '*') {
        host = dup_z(data, size);
        host[0] = 'x';
        if (!tp_mx_match(pat, host) || tp_mx_match(pat, pat + 2))
            abort();
        free(host);
    } else if (!tp_mx_match(pat, pat)) {
        abort();
    }
    free(pat);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[TP_DOMAIN_MAX + 1];
    struct tp_err e;
    const uint8_t *nl;
    char *pat, *host;

    if (size > FUZZ_INPUT_MAX)
        return 0;
    if (tp_domain_normalize((const char *)data, size, out, &e) == TP_OK)
        check_normalized(out);
    else if (out[0] != '\0' || strncmp(e.msg, "domain: ", 8) != 0)
        abort();

    if (tp_mx_pattern_check((const char *)data, size, &e) == TP_OK)
        check_pattern(data, size);
    else if (strncmp(e.msg, "mx: ", 4) != 0)
        abort();

    nl = memchr(data, '\n', size);
    if (nl != NULL) {
        pat = dup_z(data, (size_t)(nl - data));
        host = dup_z(nl + 1, size - (size_t)(nl - data) - 1);
        (void)tp_mx_match(pat, host);
        free(pat);
        free(host);
    }
    return 0;
}
