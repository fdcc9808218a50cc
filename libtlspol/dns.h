/*
 * dns.h - getdns glue: asynchronous MX, TXT and address lookups with the
 * DNSSEC state of every answer, turned into plain structs so that nothing
 * above this layer sees a getdns type.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_DNS_H
#define TP_DNS_H

#include <stddef.h>
#include <stdint.h>

#include <getdns/getdns.h>

#include "tp_limits.h"

struct tlspol_ctx;

/* DNSSEC state of an answer (RFC 4035 §4.3). */
enum tp_dnssec {
    TP_SEC_UNKNOWN = 0,   /* not validated */
    TP_SEC_SECURE,
    TP_SEC_INSECURE,
    TP_SEC_BOGUS,
    TP_SEC_INDETERMINATE,
};

/* Outcome of a lookup: found / not found / failed kept apart (Postfix). */
enum tp_dns_rc {
    TP_DNS_PENDING = 0,
    TP_DNS_OK,            /* NOERROR with records of the type asked */
    TP_DNS_NODATA,        /* NOERROR, no records of the type */
    TP_DNS_NXDOMAIN,      /* the name does not exist */
    TP_DNS_ERROR,         /* SERVFAIL, timeout, refused, malformed ... */
};

struct tp_mx_rr {
    uint16_t pref;
    char host[TP_DOMAIN_MAX + 1];   /* lowercase, no trailing dot; "" = "." */
};

/* One record's data: TXT strings concatenated, or raw TLSA RDATA. */
struct tp_rdata {
    uint8_t *data;                  /* owned */
    size_t len;
};

/* One answer.  Owns its arrays; free with tp_dns_answer_free(). */
struct tp_dns_answer {
    uint16_t qtype;                 /* MX, TXT, TLSA, CNAME, or 0 for A+AAAA */
    enum tp_dns_rc rc;
    enum tp_dnssec sec;
    uint32_t ttl;                   /* lowest TTL of the records used, or
                                       the negative TTL (RFC 2308 §5);
                                       0: unknown, do not cache */
    uint32_t neg_ttl;               /* from the authority SOA */
    uint64_t ms;                    /* time taken */
    char err[128];                  /* for TP_DNS_ERROR */
    size_t n;                       /* records in the array for qtype */
    size_t dropped;                 /* records over a limit or malformed */
    int nomem;                      /* a record was lost to allocation */
    struct tp_mx_rr *mx;
    struct tp_rdata *rd;            /* TXT and TLSA */
    char (*addr)[46];               /* INET6_ADDRSTRLEN */
    /* Owner of the records used when a CNAME chain led there (address
     * lookups), or the CNAME target (CNAME lookups); "" otherwise. */
    char canon[TP_DOMAIN_MAX + 1];
    int cname_seen;                 /* CNAMEs in the answer (capped by
                                       TP_CNAME_CHAIN_MAX) */
    int cached;                     /* from the answer cache */
};

/* How the context learns DNSSEC state. */
enum tp_dnssec_mode {
    TP_DNSSEC_VALIDATE = 0,         /* getdns validates (default) */
    TP_DNSSEC_TRUST_AD,             /* trust the resolver's AD bit */
    TP_DNSSEC_OFF,                  /* self-test failed: no validation */
};

typedef void (*tp_dns_cb)(void *arg);

/* tp_dns_check_resolvers - whether list ("a b@5353,c") parses as
 * resolver addresses: 0, or -1 with ctx->errmsg naming the bad entry */
int tp_dns_check_resolvers(struct tlspol_ctx *ctx, const char *list);

/* tp_dns_setup - create the getdns context on ctx's options: TLSPOL_* */
int tp_dns_setup(struct tlspol_ctx *ctx);
/* tp_dns_teardown - cancel everything and destroy the getdns context */
void tp_dns_teardown(struct tlspol_ctx *ctx);

/*
 * tp_dns_lookup - start a lookup of name/qtype (qtype 0: A and AAAA).
 * When it completes *out is filled and cb(arg) runs from the loop.
 * *tid receives the transaction id for tp_dns_cancel().  Returns 0, or
 * TP_ENOMEM / -1 with out->rc = TP_DNS_ERROR and out->err set (cb is then
 * not called).
 */
int tp_dns_lookup(struct tlspol_ctx *ctx, const char *name, uint16_t qtype,
                  struct tp_dns_answer *out, tp_dns_cb cb, void *arg,
                  uint64_t *tid);
/*
 * tp_dns_lookup_host - tp_dns_lookup for an MX host's records (address,
 * CNAME, TLSA): answered from the DNS answer cache while it has them,
 * kept there otherwise (dns_cache.c).  Hosts are shared by many domains;
 * a domain's own MX and TXT answers live on in the verdict cache.
 */
int tp_dns_lookup_host(struct tlspol_ctx *ctx, const char *name,
                       uint16_t qtype, struct tp_dns_answer *out,
                       tp_dns_cb cb, void *arg, uint64_t *tid);
/* tp_dns_cancel - cancel a lookup; its callback will not run */
void tp_dns_cancel(struct tlspol_ctx *ctx, uint64_t tid);
/* tp_dns_answer_free - release the arrays of an answer */
void tp_dns_answer_free(struct tp_dns_answer *a);

/* tp_dns_set_mode - switch validation mode (rebuilds the extensions) */
int tp_dns_set_mode(struct tlspol_ctx *ctx, enum tp_dnssec_mode mode);

/*
 * tp_dns_check - the resolver self-test (see tlspol_ctx_check_resolver):
 * appends one line per check to *report; returns 0 if the path delivers
 * validatable DNSSEC, -1 if not.
 */
struct tp_buf;
int tp_dns_check(struct tlspol_ctx *ctx, const char *bogus_name,
                 struct tp_buf *report);

const char *tp_dnssec_name(enum tp_dnssec s);
const char *tp_dns_rc_name(enum tp_dns_rc rc);

#endif
