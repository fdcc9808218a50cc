/*
 * postfix.c - verdict to Postfix policy string (DESIGN §7).
 *
 *  TEMPFAIL                      TEMP <reason>  (Postfix defers, 4.7.5)
 *  NO_POLICY, *_TESTING          NOTFOUND       (Postfix's own level
 *                                applies; "OK may" would override it)
 *  DANE, ENCRYPT                 OK dane        (Postfix does its own
 *                                TLSA lookups: usable -> authenticate,
 *                                unusable -> encrypt, failure -> defer)
 *  DANE_ONLY                     OK dane-only
 *  STS_ENFORCE, PRELOAD_ENFORCE  OK secure match=<p1>:<p2> servername=
 *                                hostname; from Postfix 3.10, for
 *                                MTA-STS only, the TLSRPT attributes
 *                                policy_type, policy_domain,
 *                                mx_host_pattern and policy_string
 *  LOCAL                         OK <level> [match=... servername=
 *                                hostname]; "secure" without patterns
 *                                is plain "OK secure" (Postfix: nexthop,
 *                                dot-nexthop)
 *
 * "*.example.net" becomes ".example.net": Postfix matches that at any
 * depth, wider than RFC 8461's one label; from 3.10.5 the mx_host_pattern
 * attributes make Postfix apply the exact rule (TLSRPT_README).
 *
 * Pure.  Limits: TP_POSTFIX_REPLY_MAX.  SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "internal.h"
#include "postfix.h"

/* put_reason - TEMP text: printable ASCII only, bounded */
static int
put_reason(struct tp_buf *out, const char *s)
{
    char clean[TP_REASON_MAX];
    size_t i;

    for (i = 0; s[i] != '\0' && i < sizeof(clean) - 1; i++)
        clean[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    clean[i] = '\0';
    return tp_buf_puts(out, clean);
}

/* put_match - " match=a:.b" from MX patterns */
static int
put_match(struct tp_buf *out, const char *const *mx, size_t n)
{
    size_t i;
    int rc = tp_buf_puts(out, " match=");

    for (i = 0; rc == TP_OK && i < n; i++) {
        const char *p = mx[i];

        if (i > 0)
            rc = tp_buf_puts(out, ":");
        if (rc == TP_OK)
            rc = tp_buf_puts(out, p[0] == '*' && p[1] == '.' ? p + 1 : p);
    }
    return rc;
}

/* put_tlsrpt - Postfix 3.10+ TLSRPT attributes for an MTA-STS policy */
static int
put_tlsrpt(struct tp_buf *out, const struct tlspol_result *r)
{
    size_t i;
    int rc = tp_buf_printf(out, " policy_type=sts policy_domain=%s",
                           r->domain);

    for (i = 0; rc == TP_OK && i < r->n_mx; i++)
        rc = tp_buf_printf(out, " mx_host_pattern=%s", r->mx[i]);
    if (rc == TP_OK)
        rc = tp_buf_printf(out, " { policy_string = version: STSv1 }"
                           " { policy_string = mode: %s }",
                           tlspol_sts_mode_name(r->sts_mode));
    for (i = 0; rc == TP_OK && i < r->n_mx; i++)
        rc = tp_buf_printf(out, " { policy_string = mx: %s }", r->mx[i]);
    if (rc == TP_OK)
        rc = tp_buf_printf(out, " { policy_string = max_age: %u }",
                           r->max_age);
    return rc;
}

int
tp_postfix_render(const struct tlspol_result *r, unsigned int compat,
                  struct tp_buf *out)
{
    int rc;

    switch (r->verdict) {
    case TLSPOL_VERDICT_TEMPFAIL:
        rc = tp_buf_puts(out, "TEMP ");
        return rc == TP_OK ? put_reason(out, r->reason) : rc;
    case TLSPOL_VERDICT_DANE:
    case TLSPOL_VERDICT_ENCRYPT:
        return tp_buf_puts(out, "OK dane");
    case TLSPOL_VERDICT_DANE_ONLY:
        return tp_buf_puts(out, "OK dane-only");
    case TLSPOL_VERDICT_STS_ENFORCE:
    case TLSPOL_VERDICT_PRELOAD_ENFORCE:
        rc = tp_buf_puts(out, "OK secure");
        if (rc == TP_OK)
            rc = put_match(out, r->mx, r->n_mx);
        if (rc == TP_OK)
            rc = tp_buf_puts(out, " servername=hostname");
        if (rc == TP_OK && r->verdict == TLSPOL_VERDICT_STS_ENFORCE &&
            compat >= TP_POSTFIX_TLSRPT)
            rc = put_tlsrpt(out, r);
        return rc;
    case TLSPOL_VERDICT_LOCAL:
        rc = tp_buf_printf(out, "OK %s", tp_level_name(r->local_level));
        /* without patterns Postfix's default applies: the next-hop domain
         * and its subdomains, names that do not come from DNS */
        if (rc == TP_OK && r->local_level == TP_LEVEL_SECURE &&
            r->n_mx > 0) {
            rc = put_match(out, r->mx, r->n_mx);
            if (rc == TP_OK)
                rc = tp_buf_puts(out, " servername=hostname");
        }
        return rc;
    default:
        return tp_buf_puts(out, "NOTFOUND ");
    }
}
