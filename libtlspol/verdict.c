/*
 * verdict.c - plain facts in, verdict out (DESIGN §5).
 *
 * Rules, in order (first match decides):
 *  1. Our own failure (out of memory while looking up): TEMPFAIL, never a
 *     weaker verdict built from partial facts.
 *  2. MX RRset lookup failed, bogus or indeterminate: TEMPFAIL.  The hosts
 *     cannot be known safely (RFC 7672 §2.2.1, §2.1.1).
 *  3. NXDOMAIN: no policy, nothing to deliver to.  Null MX (RFC 7505 §3):
 *     no policy, the domain accepts no mail.
 *  4. DANE (RFC 7672 §2.2), when DNSSEC could be used.  Per host: usable
 *     TLSA (DANE), TLSA with no usable record (ENCRYPT), none, no address,
 *     or failed (a bogus/failed address or TLSA lookup: the host must
 *     never be used without DANE, RFC 7672 §2.1.2).
 *     a. no host is usable at all and some failed: TEMPFAIL;
 *     b. every host that can be used (not failed, has an address) has
 *        usable TLSA and the MX RRset is secure: DANE_ONLY;
 *     c. some host has usable TLSA: DANE, or DANE_ONLY when the domain
 *        also has an MTA-STS enforce policy (hosts without TLSA are then
 *        never used without authentication);
 *     d. TLSA present but none usable: ENCRYPT (RFC 7672 §2.2);
 *     e. a failed host among hosts without DANE: with MTA-STS enforce,
 *        TEMPFAIL (MTA-STS must not override failing DANE, RFC 8461 §2,
 *        and the failed host matches no way to exclude it); otherwise
 *        DANE, so the MTA looks up TLSA per host and skips that one.
 *     DANE always wins over MTA-STS (RFC 8461 §2).
 *  5. A valid MTA-STS policy (RFC 8461 §5): enforce -> STS_ENFORCE unless
 *     no MX host matches any mx pattern (§4.1): TEMPFAIL, no host may be
 *     used; testing -> STS_TESTING; none -> NO_POLICY (and the preload
 *     list is not consulted: a validated opt-out).
 *  6. Preload list entry (unexpired list): enforce -> PRELOAD_ENFORCE
 *     (TEMPFAIL when no MX host matches), testing -> PRELOAD_TESTING.
 *  7. Otherwise NO_POLICY, with the failed discovery step as reason
 *     (§5: a failed discovery with nothing cached means no MTA-STS).
 * Then, over the published verdict:
 *  F. Failure policy: a TEMPFAIL caused by a failed lookup becomes
 *     NO_POLICY when the operator chose "opportunistic after N seconds"
 *     and the lookups have failed for at least N seconds.
 *  L. A local override for the domain wins (LOCAL with its level); the
 *     published verdict is kept, and an override weaker than it is
 *     flagged so the caller logs it each time (DESIGN §5 step 1).
 *
 * Pure.  Limits: TP_MX_RRS_MAX hosts, TP_REASON_MAX reason.
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>

#include "domain.h"
#include "verdict.h"

const char *
tp_host_dane_name(enum tp_host_dane d)
{
    switch (d) {
    case TP_HOST_DANE: return "usable";
    case TP_HOST_ENCRYPT: return "unusable";
    case TP_HOST_NOADDR: return "no-address";
    case TP_HOST_FAILED: return "failed";
    default: return "none";
    }
}

/* lookup_failed - RFC 7672 §2.1.1/§2.1.2: errors, bogus and
 * indeterminate answers all count as a failed lookup */
static int
lookup_failed(enum tp_dns_rc rc, enum tp_dnssec sec)
{
    return rc == TP_DNS_ERROR || sec == TP_SEC_BOGUS ||
           sec == TP_SEC_INDETERMINATE;
}

enum tp_dane_step
tp_dane_after_addr(enum tp_dns_rc rc, enum tp_dnssec sec, int cname_seen,
                   int has_canon)
{
    if (lookup_failed(rc, sec))
        return TP_STEP_FAILED;
    if (rc != TP_DNS_OK)
        return TP_STEP_NOADDR;
    /* every link secure: the expanded name first (RFC 7671 §7) */
    if (sec == TP_SEC_SECURE)
        return has_canon ? TP_STEP_TLSA_CANON : TP_STEP_TLSA_NAME;
    /* insecure addresses behind a CNAME: the CNAME itself may be secure,
     * and then TLSA is looked up at the original name (RFC 7672 §2.2.2) */
    if (sec == TP_SEC_INSECURE && cname_seen)
        return TP_STEP_CHECK_CNAME;
    return TP_STEP_NONE; /* insecure, or not validated: no DANE */
}

enum tp_dane_step
tp_dane_after_cname(enum tp_dns_rc rc, enum tp_dnssec sec)
{
    if (lookup_failed(rc, sec))
        return TP_STEP_FAILED;
    if (rc == TP_DNS_OK && sec == TP_SEC_SECURE)
        return TP_STEP_TLSA_NAME;
    return TP_STEP_NONE; /* the first link is insecure: no DANE */
}

enum tp_dane_step
tp_dane_after_tlsa(enum tp_dns_rc rc, enum tp_dnssec sec, int dropped,
                   int at_canon)
{
    if (lookup_failed(rc, sec))
        return TP_STEP_FAILED; /* RFC 7672 §2.1.2 */
    if (sec == TP_SEC_SECURE && (rc == TP_DNS_OK || dropped))
        return TP_STEP_JUDGE;
    /* no secure TLSA at the expanded name: the original name next
     * (RFC 7671 §7; RFC 7672 §2.2.3) */
    return at_canon ? TP_STEP_TLSA_NAME : TP_STEP_NONE;
}

size_t
tp_mx_hosts(const char *domain, enum tp_dns_rc mx_rc,
            const struct tp_mx_rr *mx, size_t n_mx, const char **names,
            unsigned int *prefs, size_t max, int *null_mx)
{
    size_t i, j, n = 0;

    *null_mx = 0;
    if (mx_rc == TP_DNS_NODATA && max > 0) {
        names[0] = domain;
        prefs[0] = 0;
        return 1;
    }
    if (mx_rc != TP_DNS_OK)
        return 0;
    if (n_mx == 1 && mx[0].host[0] == '\0') {
        *null_mx = 1;
        return 0;
    }
    /* insertion sort by preference: stable, n is small */
    for (i = 0; i < n_mx && n < max; i++) {
        if (mx[i].host[0] == '\0')
            continue; /* a "." among real hosts is not a null MX */
        for (j = n; j > 0 && prefs[j - 1] > mx[i].pref; j--) {
            names[j] = names[j - 1];
            prefs[j] = prefs[j - 1];
        }
        names[j] = mx[i].host;
        prefs[j] = mx[i].pref;
        n++;
    }
    return n;
}

/* cat - append item to buf, cut short when full */
static void
cat(char *buf, size_t size, const char *item)
{
    size_t len = strlen(buf), add = strlen(item);

    if (len + 1 >= size)
        return;
    if (add > size - 1 - len)
        add = size - 1 - len;
    memcpy(buf + len, item, add);
    buf[len + add] = '\0';
}

/* list_append - ", "-separated list into buf */
static void
list_append(char *buf, size_t size, const char *item)
{
    if (buf[0] != '\0')
        cat(buf, size, ", ");
    cat(buf, size, item);
}

/* match_hosts - mark each host against mx patterns (RFC 8461 §4.1; the
 * preload list's are converted to the same form); returns the matches */
static size_t
match_hosts(char *const *mx, size_t n_mx, struct tp_verdict_out *out)
{
    size_t i, j, matched = 0;

    for (i = 0; i < out->n_hosts; i++) {
        out->hosts[i].sts_match = 0;
        for (j = 0; j < n_mx; j++) {
            if (tp_mx_match(mx[j], out->hosts[i].name)) {
                out->hosts[i].sts_match = 1;
                matched++;
                break;
            }
        }
    }
    return matched;
}

/* eval_sts - a valid policy decides (rule 5) */
static void
eval_sts(const struct tp_verdict_in *in, struct tp_verdict_out *out,
         size_t matched)
{
    const struct tp_sts_policy *pol = in->pol;
    char pats[192] = "", hosts[192] = "";
    size_t i;

    out->source = in->sts_cached ? TLSPOL_SOURCE_STS_CACHE : TLSPOL_SOURCE_STS;
    out->mx = pol->mx;
    out->n_mx = pol->n_mx;
    switch (pol->mode) {
    case TP_STS_MODE_ENFORCE:
        if (matched == 0) {
            for (i = 0; i < pol->n_mx; i++)
                list_append(pats, sizeof(pats), pol->mx[i]);
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
        out->verdict = TLSPOL_VERDICT_STS_TESTING;
        out->rule = "RFC 8461 §5: mode testing";
        snprintf(out->reason, sizeof(out->reason),
                 "MTA-STS testing (id %s): deliver as usual, report "
                 "failures", in->sts_id);
        return;
    default:
        out->verdict = TLSPOL_VERDICT_NO_POLICY;
        out->rule = "RFC 8461 §5: mode none";
        snprintf(out->reason, sizeof(out->reason),
                 "MTA-STS mode none (id %s): no active policy",
                 in->sts_id);
        return;
    }
}

/* failed_list - "a (note); b (note)" of the failed hosts */
static void
failed_list(const struct tp_verdict_in *in, char *buf, size_t size)
{
    size_t i;

    buf[0] = '\0';
    for (i = 0; i < in->n_hosts; i++) {
        char item[TP_DOMAIN_MAX + 100];

        if (in->hosts[i].dane != TP_HOST_FAILED)
            continue;
        snprintf(item, sizeof(item), "%s (%s)", in->hosts[i].name,
                 in->hosts[i].note && in->hosts[i].note[0]
                     ? in->hosts[i].note : "lookup failed");
        list_append(buf, size, item);
    }
}

/* eval_dane - rule 4; returns 1 when DANE decided */
static int
eval_dane(const struct tp_verdict_in *in, struct tp_verdict_out *out,
          int sts_enforce)
{
    size_t i, n_dane = 0, n_enc = 0, n_failed = 0, n_none = 0;
    char failed[256];

    for (i = 0; i < in->n_hosts; i++) {
        switch (in->hosts[i].dane) {
        case TP_HOST_DANE: n_dane++; break;
        case TP_HOST_ENCRYPT: n_enc++; break;
        case TP_HOST_FAILED: n_failed++; break;
        case TP_HOST_NONE: n_none++; break;
        default: break;
        }
    }
    failed_list(in, failed, sizeof(failed));
    out->source = TLSPOL_SOURCE_DANE;
    if (n_failed > 0 && n_dane + n_enc + n_none == 0) {
        out->verdict = TLSPOL_VERDICT_TEMPFAIL;
        out->lookup_failure = 1;
        out->rule = "RFC 7672 §2.1.2: no MX host is usable, defer";
        snprintf(out->reason, sizeof(out->reason), "no usable MX host: %s",
                 failed);
        return 1;
    }
    if (n_dane > 0) {
        if (n_dane == n_dane + n_enc + n_none &&
            in->mx_sec == TP_SEC_SECURE) {
            /* the verdict covers the hosts that can be used at all */
            out->verdict = TLSPOL_VERDICT_DANE_ONLY;
            out->rule = "RFC 7672 §2.2: every usable MX host has usable "
                        "TLSA";
            snprintf(out->reason, sizeof(out->reason),
                     "DANE: all %zu usable MX hosts have usable TLSA "
                     "records", n_dane);
            if (failed[0]) {
                cat(out->reason, sizeof(out->reason), "; unusable: ");
                cat(out->reason, sizeof(out->reason), failed);
            }
        } else if (sts_enforce) {
            out->verdict = TLSPOL_VERDICT_DANE_ONLY;
            out->rule = "DESIGN §5: DANE on some hosts and MTA-STS enforce";
            snprintf(out->reason, sizeof(out->reason),
                     "DANE on %zu of %zu MX hosts and MTA-STS enforce: "
                     "hosts without TLSA are not used", n_dane,
                     in->n_hosts);
        } else {
            out->verdict = TLSPOL_VERDICT_DANE;
            out->rule = "RFC 7672 §2.2: some MX hosts have usable TLSA";
            snprintf(out->reason, sizeof(out->reason),
                     "DANE on %zu of %zu MX hosts%s", n_dane, in->n_hosts,
                     in->mx_sec != TP_SEC_SECURE ? " (MX RRset not secure)"
                                                 : "");
            if (failed[0]) {
                cat(out->reason, sizeof(out->reason), "; unusable: ");
                cat(out->reason, sizeof(out->reason), failed);
            }
        }
        return 1;
    }
    if (n_enc > 0) {
        out->verdict = TLSPOL_VERDICT_ENCRYPT;
        out->rule = "RFC 7672 §2.2: TLSA present, none usable: encrypt";
        snprintf(out->reason, sizeof(out->reason),
                 "TLSA records on %zu of %zu MX hosts, none usable: TLS "
                 "required without authentication", n_enc, in->n_hosts);
        return 1;
    }
    if (n_failed > 0) {
        if (sts_enforce) {
            out->verdict = TLSPOL_VERDICT_TEMPFAIL;
            out->lookup_failure = 1;
            out->rule = "RFC 8461 §2: MTA-STS must not override failing "
                        "DANE";
            snprintf(out->reason, sizeof(out->reason),
                     "DANE lookups failed for some MX hosts and MTA-STS "
                     "enforce cannot exclude them: %s", failed);
        } else {
            out->verdict = TLSPOL_VERDICT_DANE;
            out->rule = "RFC 7672 §2.1.2: failed hosts are never used "
                        "without DANE";
            snprintf(out->reason, sizeof(out->reason),
                     "DANE lookups failed for some MX hosts, which must not "
                     "be used: %s", failed);
        }
        return 1;
    }
    out->source = TLSPOL_SOURCE_NONE;
    return 0;
}

/* eval_preload - rule 6; returns 1 when the preload entry decided */
static int
eval_preload(const struct tp_verdict_in *in, struct tp_verdict_out *out)
{
    const struct tp_preload_entry *pe = in->preload;
    size_t matched;

    if (pe == NULL)
        return 0;
    out->source = TLSPOL_SOURCE_PRELOAD;
    out->mx = pe->mx;
    out->n_mx = pe->n_mx;
    matched = match_hosts(pe->mx, pe->n_mx, out);
    if (pe->mode != TP_STS_MODE_ENFORCE) {
        out->verdict = TLSPOL_VERDICT_PRELOAD_TESTING;
        out->rule = "preload list: testing";
        snprintf(out->reason, sizeof(out->reason), "preload list: testing "
                 "(no MTA-STS policy): deliver as usual");
        return 1;
    }
    if (matched == 0) {
        out->verdict = TLSPOL_VERDICT_TEMPFAIL;
        out->rule = "preload list: enforce, and no MX host matches";
        snprintf(out->reason, sizeof(out->reason), "preload list enforce: "
                 "no MX host matches the listed mxs");
        return 1;
    }
    out->verdict = TLSPOL_VERDICT_PRELOAD_ENFORCE;
    out->rule = "preload list: enforce (no MTA-STS policy)";
    snprintf(out->reason, sizeof(out->reason), "preload list enforce: %zu "
             "of %zu MX hosts match", matched, out->n_hosts);
    return 1;
}

/* level_rank - Postfix's order of TLS levels; secure and dane-only both
 * mean "authenticated TLS required" and rank the same */
static int
level_rank(enum tp_level l)
{
    return l == TP_LEVEL_SECURE ? TP_LEVEL_DANE_ONLY : (int)l;
}

/* verdict_rank - the level a published verdict amounts to */
static int
verdict_rank(tlspol_verdict v)
{
    switch (v) {
    case TLSPOL_VERDICT_DANE_ONLY:
    case TLSPOL_VERDICT_STS_ENFORCE:
    case TLSPOL_VERDICT_PRELOAD_ENFORCE:
        return TP_LEVEL_DANE_ONLY;
    case TLSPOL_VERDICT_DANE: return TP_LEVEL_DANE;
    case TLSPOL_VERDICT_ENCRYPT: return TP_LEVEL_ENCRYPT;
    default: return TP_LEVEL_MAY;
    }
}

/* apply_failure - rule F */
static void
apply_failure(const struct tp_verdict_in *in, struct tp_verdict_out *out)
{
    char was[TP_REASON_MAX];

    if (out->verdict != TLSPOL_VERDICT_TEMPFAIL || !out->lookup_failure ||
        !in->failure.opportunistic || in->failing_for < in->failure.after)
        return;
    memcpy(was, out->reason, sizeof(was));
    out->verdict = TLSPOL_VERDICT_NO_POLICY;
    out->failopen = 1;
    out->rule = "failure policy: opportunistic after the configured time";
    snprintf(out->reason, sizeof(out->reason), "failure policy: delivering "
             "opportunistically after %llu s of lookup failure (limit %u "
             "s): ", (unsigned long long)in->failing_for, in->failure.after);
    cat(out->reason, sizeof(out->reason), was);
}

/* apply_local - rule L */
static void
apply_local(const struct tp_verdict_in *in, struct tp_verdict_out *out)
{
    const struct tp_domain_conf *lc = in->local;
    char was[TP_REASON_MAX];

    if (lc == NULL || lc->level == TP_LEVEL_UNSET)
        return;
    memcpy(was, out->reason, sizeof(was));
    out->published = out->verdict;
    out->verdict = TLSPOL_VERDICT_LOCAL;
    out->source = TLSPOL_SOURCE_LOCAL;
    out->local_level = lc->level;
    out->rule = "DESIGN §5 step 1: local override";
    if (lc->level == TP_LEVEL_SECURE) {
        out->mx = lc->match;
        out->n_mx = lc->n_match;
    }
    out->weakens = out->published != TLSPOL_VERDICT_TEMPFAIL &&
                   level_rank(lc->level) < verdict_rank(out->published);
    snprintf(out->reason, sizeof(out->reason), "local policy %s%s%s%s",
             tp_level_name(lc->level), lc->reason ? " (" : "",
             lc->reason ? lc->reason : "", lc->reason ? ")" : "");
    if (out->weakens) {
        cat(out->reason, sizeof(out->reason), "; WEAKENS the published "
            "policy: ");
        cat(out->reason, sizeof(out->reason),
            tlspol_verdict_name(out->published));
        cat(out->reason, sizeof(out->reason), ": ");
        cat(out->reason, sizeof(out->reason), was);
    }
}

static void eval_published(const struct tp_verdict_in *in,
                           struct tp_verdict_out *out);

void
tp_verdict_eval(const struct tp_verdict_in *in, struct tp_verdict_out *out)
{
    eval_published(in, out);
    out->published = out->verdict;
    apply_failure(in, out);
    apply_local(in, out);
}

/* eval_published - rules 1-7: what the domain's published records say */
static void
eval_published(const struct tp_verdict_in *in, struct tp_verdict_out *out)
{
    int sts_valid = in->sts == TP_STS_VALID && in->pol != NULL;
    int pkix_enforce;
    size_t i, matched = 0;

    memset(out, 0, sizeof(*out));
    out->verdict = TLSPOL_VERDICT_NO_POLICY;
    out->source = TLSPOL_SOURCE_NONE;
    out->mode = TLSPOL_STS_MODE_ABSENT;
    out->dane_available = in->dane_checked;
    for (i = 0; i < in->n_hosts && i < TP_MX_RRS_MAX; i++) {
        struct tp_verdict_host *h = &out->hosts[out->n_hosts++];

        snprintf(h->name, sizeof(h->name), "%s", in->hosts[i].name);
        h->pref = in->hosts[i].pref;
        h->dane = in->hosts[i].dane;
        h->sts_match = -1;
    }
    if (sts_valid) {
        matched = match_hosts(in->pol->mx, in->pol->n_mx, out);
        out->mode = in->pol->mode == TP_STS_MODE_ENFORCE
                        ? TLSPOL_STS_MODE_ENFORCE
                    : in->pol->mode == TP_STS_MODE_TESTING
                        ? TLSPOL_STS_MODE_TESTING
                        : TLSPOL_STS_MODE_NONE;
    }

    if (in->internal_error != NULL) {
        out->verdict = TLSPOL_VERDICT_TEMPFAIL;
        out->rule = "internal error: defer rather than decide on partial "
                    "facts";
        snprintf(out->reason, sizeof(out->reason), "internal error while "
                 "resolving %s: %s", in->domain, in->internal_error);
        return;
    }
    if (in->mx_rc == TP_DNS_ERROR || in->mx_sec == TP_SEC_BOGUS ||
        in->mx_sec == TP_SEC_INDETERMINATE) {
        out->verdict = TLSPOL_VERDICT_TEMPFAIL;
        out->lookup_failure = 1;
        out->rule = "RFC 7672 §2.2.1: MX lookup failed, defer";
        snprintf(out->reason, sizeof(out->reason),
                 "MX lookup for %s failed (%s): cannot tell which hosts "
                 "may be used", in->domain,
                 in->mx_sec == TP_SEC_BOGUS ? "DNSSEC bogus"
                 : in->mx_sec == TP_SEC_INDETERMINATE
                     ? "DNSSEC indeterminate"
                 : in->mx_err && in->mx_err[0] ? in->mx_err : "error");
        return;
    }
    if (in->mx_rc == TP_DNS_NXDOMAIN) {
        out->rule = "RFC 5321 §5.1: domain does not exist";
        snprintf(out->reason, sizeof(out->reason),
                 "%s does not exist (NXDOMAIN)", in->domain);
        return;
    }
    if (in->null_mx) {
        out->rule = "RFC 7505 §3: null MX";
        snprintf(out->reason, sizeof(out->reason),
                 "null MX (RFC 7505): %s accepts no mail", in->domain);
        return;
    }
    pkix_enforce = sts_valid ? in->pol->mode == TP_STS_MODE_ENFORCE
                             : in->preload != NULL &&
                                   in->preload->mode == TP_STS_MODE_ENFORCE;
    if (in->dane_checked && eval_dane(in, out, pkix_enforce))
        return;
    if (sts_valid) {
        eval_sts(in, out, matched);
    } else if (eval_preload(in, out)) {
        /* decided by the preload list */
    } else {
        out->rule = "RFC 8461 §5: no usable MTA-STS policy, nothing cached";
        snprintf(out->reason, sizeof(out->reason), "no MTA-STS policy: %s",
                 in->sts_detail && in->sts_detail[0] ? in->sts_detail
                                                     : "none published");
    }
    if (!in->dane_checked)
        cat(out->reason, sizeof(out->reason), "; DANE unavailable: DNSSEC "
            "validation is off (resolver self-test failed)");
}
