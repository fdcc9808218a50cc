/*
 * verdict.h - the pure evaluator: plain structs describing what the
 * lookups found go in, one verdict with its reason and per-host detail
 * comes out.  No I/O, no getdns or curl types.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_VERDICT_H
#define TP_VERDICT_H

#include <stddef.h>

#include "tlspol/tlspol.h"
#include "config.h"
#include "dns.h"
#include "preload.h"
#include "tp_limits.h"
#include "sts.h"

/* What MTA-STS discovery (RFC 8461 §3) came to. */
enum tp_sts_state {
    TP_STS_ABSENT = 0,     /* no v=STSv1 TXT record */
    TP_STS_TXT_FAILED,     /* the TXT lookup itself failed */
    TP_STS_TXT_INVALID,    /* several STS records, or a malformed one */
    TP_STS_FETCH_FAILED,   /* policy host address or HTTPS fetch failed */
    TP_STS_POLICY_INVALID, /* body fetched but rejected */
    TP_STS_VALID,          /* a valid policy is in hand */
};

/* What DANE lookups found for one MX host (RFC 7672 §2.2). */
enum tp_host_dane {
    TP_HOST_NONE = 0,      /* no DANE: insecure, or no secure TLSA */
    TP_HOST_NOADDR,        /* the host has no address records */
    TP_HOST_FAILED,        /* an address or TLSA lookup failed/bogus */
    TP_HOST_ENCRYPT,       /* secure TLSA RRset, no usable record */
    TP_HOST_DANE,          /* usable TLSA records */
};

/* One MX host as the evaluator sees it. */
struct tp_host_in {
    const char *name;
    unsigned int pref;
    enum tp_host_dane dane;
    const char *note;                  /* why, for FAILED (and others) */
};

/*
 * tp_mx_hosts - the hosts mail for domain goes to: MX exchanges by
 * preference (stable), the domain itself when there is no MX RRset
 * (implicit MX, RFC 5321 §5.1), none for a null MX (RFC 7505 §3, *null
 * set) or a failed lookup.  Exchanges "." among real hosts are skipped.
 * names[i] point into mx[] or at domain.  Returns the count (<= max).
 */
size_t tp_mx_hosts(const char *domain, enum tp_dns_rc mx_rc,
                   const struct tp_mx_rr *mx, size_t n_mx,
                   const char **names, unsigned int *prefs, size_t max,
                   int *null_mx);

struct tp_verdict_in {
    const char *domain;
    const char *internal_error;        /* non-NULL: we failed, not DNS */
    /* MTA-STS */
    enum tp_sts_state sts;
    const char *sts_detail;            /* why, for every state but VALID */
    const struct tp_sts_policy *pol;   /* VALID only */
    const char *sts_id;                /* VALID only */
    int sts_cached;                    /* VALID from the policy cache */
    /* MX RRset of the domain and the hosts derived from it */
    enum tp_dns_rc mx_rc;
    enum tp_dnssec mx_sec;
    const char *mx_err;                /* TP_DNS_ERROR only */
    int null_mx;
    const struct tp_host_in *hosts;
    size_t n_hosts;
    /* DANE: false when DNSSEC is unavailable (self-test failed) */
    int dane_checked;
    /* preload list entry for the domain, or NULL */
    const struct tp_preload_entry *preload;
    /* local override (configuration), or NULL */
    const struct tp_domain_conf *local;
    /* failure policy in force for the domain, and how long (seconds) the
     * domain's security lookups have been failing, counting this one */
    struct tp_failpolicy failure;
    uint64_t failing_for;
};

struct tp_verdict_host {
    char name[TP_DOMAIN_MAX + 1];
    unsigned int pref;
    int sts_match;                     /* 1, 0, or -1 (no policy) */
    enum tp_host_dane dane;
};

struct tp_verdict_out {
    tlspol_verdict verdict;
    tlspol_source source;
    tlspol_sts_mode mode;
    char reason[TP_REASON_MAX];
    const char *rule;                  /* static text naming the rule */
    int dane_available;                /* DNSSEC let DANE be decided */
    /* the deciding MX patterns (MTA-STS policy, preload entry or local
     * secure override), borrowed from the input */
    char *const *mx;
    size_t n_mx;
    /* TEMPFAIL because a lookup failed (the failure policy may apply),
     * as opposed to a policy that forbids every host */
    int lookup_failure;
    int failopen;                      /* failure policy let it through */
    tlspol_verdict published;          /* verdict before a local override */
    enum tp_level local_level;         /* LOCAL: the override's level */
    int weakens;                       /* the override is weaker */
    struct tp_verdict_host hosts[TP_MX_RRS_MAX];
    size_t n_hosts;
};

/* The next DANE step for one MX host (RFC 7672 §2.2.2, §2.2.3). */
enum tp_dane_step {
    TP_STEP_FAILED = 0,   /* host unusable: lookup failed/bogus/indeterminate */
    TP_STEP_NOADDR,       /* no address records: no delivery to it */
    TP_STEP_NONE,         /* DANE does not apply to this host */
    TP_STEP_TLSA_CANON,   /* query TLSA at the CNAME-expanded name */
    TP_STEP_TLSA_NAME,    /* query TLSA at the original host name */
    TP_STEP_CHECK_CNAME,  /* is the host name itself a secure CNAME? */
    TP_STEP_JUDGE,        /* secure TLSA RRset: judge its records */
};

/* tp_dane_after_addr - step after the host's A/AAAA answer (rc, sec; an
 * expanded name "canon" when a CNAME chain was followed) */
enum tp_dane_step tp_dane_after_addr(enum tp_dns_rc rc, enum tp_dnssec sec,
                                     int cname_seen, int has_canon);
/* tp_dane_after_cname - step after the CNAME query at the host name */
enum tp_dane_step tp_dane_after_cname(enum tp_dns_rc rc, enum tp_dnssec sec);
/* tp_dane_after_tlsa - step after a TLSA answer; at_canon: it was asked
 * at the expanded name (so the original name is still to try); dropped:
 * records were dropped over a limit (the RRset exists) */
enum tp_dane_step tp_dane_after_tlsa(enum tp_dns_rc rc, enum tp_dnssec sec,
                                     int dropped, int at_canon);

/* tp_host_dane_name - "usable", "unusable", "none", "no-address", "failed" */
const char *tp_host_dane_name(enum tp_host_dane d);

/* tp_verdict_eval - apply DESIGN §5 (DANE, then MTA-STS) to *in */
void tp_verdict_eval(const struct tp_verdict_in *in,
                     struct tp_verdict_out *out);

#endif
