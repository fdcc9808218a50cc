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
#include "dns.h"
#include "limits.h"
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

struct tp_verdict_in {
    const char *domain;
    const char *internal_error;        /* non-NULL: we failed, not DNS */
    /* MTA-STS */
    enum tp_sts_state sts;
    const char *sts_detail;            /* why, for every state but VALID */
    const struct tp_sts_policy *pol;   /* VALID only */
    const char *sts_id;                /* VALID only */
    /* MX RRset of the domain */
    enum tp_dns_rc mx_rc;
    enum tp_dnssec mx_sec;
    const char *mx_err;                /* TP_DNS_ERROR only */
    const struct tp_mx_rr *mx;
    size_t n_mx;
};

struct tp_verdict_host {
    char name[TP_DOMAIN_MAX + 1];
    unsigned int pref;
    int sts_match;                     /* 1, 0, or -1 (no policy) */
};

struct tp_verdict_out {
    tlspol_verdict verdict;
    tlspol_source source;
    tlspol_sts_mode mode;
    char reason[TP_REASON_MAX];
    const char *rule;                  /* static text naming the rule */
    struct tp_verdict_host hosts[TP_MX_RRS_MAX];
    size_t n_hosts;
};

/* tp_verdict_eval - apply DESIGN §5 (MTA-STS steps) to *in */
void tp_verdict_eval(const struct tp_verdict_in *in,
                     struct tp_verdict_out *out);

#endif
