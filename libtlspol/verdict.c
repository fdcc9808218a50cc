/*
 * verdict.c - plain facts in, verdict out (DESIGN §5).
 *
 * Rules implemented here, in order:
 *  - Our own failure (out of memory while looking up): TEMPFAIL, never a
 *    weaker verdict built from partial facts.
 *  - MX RRset lookup failed or bogus: TEMPFAIL.  The MTA could not pick
 *    hosts safely either (RFC 7672 §2.2.1; RFC 5321 §5.1).
 *  - NXDOMAIN: no policy (nothing to deliver to).  Null MX (RFC 7505 §3):
 *    no policy, the domain accepts no mail.
 *  - A valid MTA-STS policy (RFC 8461 §5): enforce -> STS_ENFORCE unless
 *    no MX host matches any mx pattern (§4.1), which is TEMPFAIL because no
 *    host may be used; testing -> STS_TESTING; none -> NO_POLICY.
 *  - Anything else: NO_POLICY, with the failed discovery step as reason
 *    (§5: a failed discovery with nothing cached means no MTA-STS).
 *
 * Pure.  Limits: TP_MX_RRS_MAX hosts, TP_REASON_MAX reason.
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>

#include "domain.h"
#include "verdict.h"

/* add_host - append one host to the output list, bounded */
static void
add_host(struct tp_verdict_out *out, const char *name, unsigned int pref)
{
    struct tp_verdict_host *h;

    if (out->n_hosts >= TP_MX_RRS_MAX)
        return;
    h = &out->hosts[out->n_hosts++];
    snprintf(h->name, sizeof(h->name), "%s", name);
    h->pref = pref;
    h->sts_match = -1;
}

/* collect_hosts - MX hosts by preference, or the implicit MX (RFC 5321
 * §5.1); returns 1 for a null MX (RFC 7505) */
static int
collect_hosts(const struct tp_verdict_in *in, struct tp_verdict_out *out)
{
    size_t i, j, order[TP_MX_RRS_MAX], n = 0;

    if (in->mx_rc == TP_DNS_NODATA) {
        add_host(out, in->domain, 0);
        return 0;
    }
    if (in->mx_rc != TP_DNS_OK)
        return 0;
    if (in->n_mx == 1 && in->mx[0].host[0] == '\0')
        return 1;
    /* insertion sort of indexes by preference: stable, n is small */
    for (i = 0; i < in->n_mx && n < TP_MX_RRS_MAX; i++) {
        if (in->mx[i].host[0] == '\0')
            continue; /* a "." among real hosts: not a null MX, skip it */
        for (j = n; j > 0 && in->mx[order[j - 1]].pref > in->mx[i].pref; j--)
            order[j] = order[j - 1];
        order[j] = i;
        n++;
    }
    for (i = 0; i < n; i++)
        add_host(out, in->mx[order[i]].host, in->mx[order[i]].pref);
    return 0;
}

/* list_append - ", "-separated list into buf, marking truncation */
static void
list_append(char *buf, size_t size, const char *item)
{
    size_t len = strlen(buf);

    if (len + 1 >= size)
        return;
    snprintf(buf + len, size - len, "%s%s", len ? ", " : "", item);
}

/* eval_sts - a valid policy decides */
static void
eval_sts(const struct tp_verdict_in *in, struct tp_verdict_out *out)
{
    const struct tp_sts_policy *pol = in->pol;
    size_t i, j, matched = 0;
    char pats[192] = "", hosts[192] = "";

    out->source = TLSPOL_SOURCE_STS;
    for (i = 0; i < out->n_hosts; i++) {
        out->hosts[i].sts_match = 0;
        for (j = 0; j < pol->n_mx; j++) {
            if (tp_mx_match(pol->mx[j], out->hosts[i].name)) {
                out->hosts[i].sts_match = 1;
                matched++;
                break;
            }
        }
    }
    switch (pol->mode) {
    case TP_STS_MODE_ENFORCE:
        out->mode = TLSPOL_STS_MODE_ENFORCE;
        if (matched == 0) {
            for (j = 0; j < pol->n_mx; j++)
                list_append(pats, sizeof(pats), pol->mx[j]);
            for (i = 0; i < out->n_hosts; i++)
                list_append(hosts, sizeof(hosts), out->hosts[i].name);
            out->verdict = TLSPOL_VERDICT_TEMPFAIL;
            out->rule = "RFC 8461 §4.1: enforce, and no MX host matches";
            snprintf(out->reason, sizeof(out->reason),
                     "MTA-STS enforce (id %s): no MX host matches the "
                     "policy: mx patterns [%s], MX hosts [%s]",
                     in->sts_id, pats, hosts[0] ? hosts : "none");
            return;
        }
        out->verdict = TLSPOL_VERDICT_STS_ENFORCE;
        out->rule = "RFC 8461 §5: mode enforce";
        snprintf(out->reason, sizeof(out->reason),
                 "MTA-STS enforce (id %s): %zu of %zu MX hosts match",
                 in->sts_id, matched, out->n_hosts);
        return;
    case TP_STS_MODE_TESTING:
        out->mode = TLSPOL_STS_MODE_TESTING;
        out->verdict = TLSPOL_VERDICT_STS_TESTING;
        out->rule = "RFC 8461 §5: mode testing";
        snprintf(out->reason, sizeof(out->reason),
                 "MTA-STS testing (id %s): deliver as usual, report "
                 "failures", in->sts_id);
        return;
    default:
        out->mode = TLSPOL_STS_MODE_NONE;
        out->verdict = TLSPOL_VERDICT_NO_POLICY;
        out->rule = "RFC 8461 §5: mode none";
        snprintf(out->reason, sizeof(out->reason),
                 "MTA-STS mode none (id %s): no active policy",
                 in->sts_id);
        return;
    }
}

void
tp_verdict_eval(const struct tp_verdict_in *in, struct tp_verdict_out *out)
{
    memset(out, 0, sizeof(*out));
    out->verdict = TLSPOL_VERDICT_NO_POLICY;
    out->source = TLSPOL_SOURCE_NONE;
    out->mode = TLSPOL_STS_MODE_ABSENT;

    if (in->internal_error != NULL) {
        out->verdict = TLSPOL_VERDICT_TEMPFAIL;
        out->rule = "internal error: defer rather than decide on partial "
                    "facts";
        snprintf(out->reason, sizeof(out->reason), "internal error while "
                 "resolving %s: %s", in->domain, in->internal_error);
        return;
    }
    if (in->mx_rc == TP_DNS_ERROR || in->mx_sec == TP_SEC_BOGUS) {
        out->verdict = TLSPOL_VERDICT_TEMPFAIL;
        out->rule = "RFC 7672 §2.2.1: MX lookup failed, defer";
        snprintf(out->reason, sizeof(out->reason),
                 "MX lookup for %s failed (%s): cannot tell which hosts "
                 "may be used", in->domain,
                 in->mx_sec == TP_SEC_BOGUS ? "DNSSEC bogus"
                 : in->mx_err && in->mx_err[0] ? in->mx_err : "error");
        return;
    }
    if (in->mx_rc == TP_DNS_NXDOMAIN) {
        out->rule = "RFC 5321 §5.1: domain does not exist";
        snprintf(out->reason, sizeof(out->reason),
                 "%s does not exist (NXDOMAIN)", in->domain);
        return;
    }
    if (collect_hosts(in, out)) {
        out->rule = "RFC 7505 §3: null MX";
        snprintf(out->reason, sizeof(out->reason),
                 "null MX (RFC 7505): %s accepts no mail", in->domain);
        return;
    }
    if (in->sts == TP_STS_VALID && in->pol != NULL) {
        eval_sts(in, out);
        return;
    }
    out->rule = "RFC 8461 §5: no usable MTA-STS policy, nothing cached";
    snprintf(out->reason, sizeof(out->reason), "no MTA-STS policy: %s",
             in->sts_detail && in->sts_detail[0] ? in->sts_detail
                                                 : "none published");
}
