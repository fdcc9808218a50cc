/*
 * dns.c - getdns in stub mode with the library's own DNSSEC validation
 * (extension dnssec_return_all_statuses; never dnssec_return_status, which
 * hides bogus answers behind "no name": notes/pitfalls.md).  Answers are
 * copied into plain structs with every array bounded by a named limit.
 *
 * RFC 4035 §4.3 (states), RFC 2308 (negative answers), RFC 7505 (null MX).
 * Not pure.  SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <getdns/getdns_extra.h>

#include "buf.h"
#include "dns_cache.h"
#include "domain.h"
#include "internal.h"
#include "msgid.h"

#define DEFAULT_TA_FILE "/usr/share/dns/root.key"

/* getdns sends a UDP query once and never retransmits; a datagram lost
 * to a full receive buffer would cost the whole time budget.  So the
 * budget is split into DNS_TRIES tries. */
#define DNS_TRIES 3

/* The per-query context handed to getdns as userarg. */
struct dnsq {
    struct tlspol_ctx *ctx;
    struct dnsq *next;          /* in ctx->dns_ready (cache hits) */
    struct tp_timer timer;      /* runs a cache hit's callback */
    uint64_t id;                /* a cache hit's transaction id */
    bool cache;                 /* keep the answer (dns_cache.c) */
    struct tp_dns_answer *out;
    tp_dns_cb cb;
    void *arg;
    uint64_t started;
    uint64_t *tid;              /* where the caller keeps the current id */
    int tries;
    uint16_t qtype;
    char name[TP_DOMAIN_MAX + 16];
};

static int send_query(struct dnsq *q);
static int ready_drop(struct tlspol_ctx *ctx, uint64_t id);

const char *
tp_dnssec_name(enum tp_dnssec s)
{
    switch (s) {
    case TP_SEC_SECURE: return "secure";
    case TP_SEC_INSECURE: return "insecure";
    case TP_SEC_BOGUS: return "bogus";
    case TP_SEC_INDETERMINATE: return "indeterminate";
    default: return "unvalidated";
    }
}

const char *
tp_dns_rc_name(enum tp_dns_rc rc)
{
    switch (rc) {
    case TP_DNS_OK: return "NOERROR";
    case TP_DNS_NODATA: return "NODATA";
    case TP_DNS_NXDOMAIN: return "NXDOMAIN";
    case TP_DNS_ERROR: return "error";
    default: return "pending";
    }
}

void
tp_dns_answer_free(struct tp_dns_answer *a)
{
    size_t i;

    if (a->rd != NULL)
        for (i = 0; i < a->n; i++)
            tp_free(a->rd[i].data);
    tp_free(a->rd);
    tp_free(a->mx);
    tp_free(a->addr);
    a->rd = NULL;
    a->mx = NULL;
    a->addr = NULL;
    a->n = 0;
}

/* add_upstream - parse "addr[@port]" into a getdns upstream dict */
static int
add_upstream(struct tlspol_ctx *ctx, getdns_list *ups, const char *s,
             size_t len)
{
    char addr[64], *at;
    unsigned char raw[16];
    unsigned long port = 53;
    getdns_bindata ad, ty;
    getdns_dict *d;
    int family, rc = -1;
    size_t idx;

    if (len == 0 || len >= sizeof(addr)) {
        tp_ctx_seterr(ctx, "resolver: bad address \"%.*s\"", (int)len, s);
        return -1;
    }
    memcpy(addr, s, len);
    addr[len] = '\0';
    at = strchr(addr, '@');
    if (at != NULL) {
        char *end;

        *at++ = '\0';
        if (*at < '0' || *at > '9' || strlen(at) > 5 ||
            (port = strtoul(at, &end, 10), *end != '\0') ||
            port == 0 || port > 65535) {
            tp_ctx_seterr(ctx, "resolver: bad port in \"%.*s\"",
                          (int)len, s);
            return -1;
        }
    }
    if (inet_pton(AF_INET, addr, raw) == 1) {
        family = 4;
    } else if (inet_pton(AF_INET6, addr, raw) == 1) {
        family = 16;
    } else {
        tp_ctx_seterr(ctx, "resolver: \"%s\" is not an IPv4 or IPv6 "
                      "address", addr);
        return -1;
    }
    d = getdns_dict_create();
    if (d == NULL)
        return -1;
    ty.size = family == 4 ? 4 : 4;
    ty.data = (uint8_t *)(family == 4 ? "IPv4" : "IPv6");
    ad.size = (size_t)family;
    ad.data = raw;
    if (getdns_dict_set_bindata(d, "address_type", &ty) ||
        getdns_dict_set_bindata(d, "address_data", &ad) ||
        getdns_dict_set_int(d, "port", (uint32_t)port) ||
        getdns_list_get_length(ups, &idx) ||
        getdns_list_set_dict(ups, idx, d))
        goto out;
    rc = 0;
out:
    getdns_dict_destroy(d);
    return rc;
}

/* parse_upstreams - every entry of list ("a b@5353,c") into ups: 0, or
 * -1 with ctx->errmsg naming the bad entry */
static int
parse_upstreams(struct tlspol_ctx *ctx, const char *p, getdns_list *ups)
{
    while (*p != '\0') {
        size_t n = strcspn(p, " ,\t");

        if (n > 0 && add_upstream(ctx, ups, p, n) != 0)
            return -1;
        p += n;
        p += strspn(p, " ,\t");
    }
    return 0;
}

int
tp_dns_check_resolvers(struct tlspol_ctx *ctx, const char *list)
{
    getdns_list *ups = getdns_list_create();
    int rc;

    if (ups == NULL) {
        tp_ctx_seterr(ctx, "out of memory");
        return -1;
    }
    rc = parse_upstreams(ctx, list, ups);
    getdns_list_destroy(ups);
    return rc;
}

/* set_upstreams - apply ctx->resolvers to gd */
static int
set_upstreams(struct tlspol_ctx *ctx, getdns_context *gd)
{
    getdns_list *ups = getdns_list_create();
    int rc = -1;

    if (ups == NULL)
        return -1;
    if (parse_upstreams(ctx, ctx->resolvers, ups) != 0)
        goto out;
    if (getdns_context_set_upstream_recursive_servers(gd, ups)) {
        tp_ctx_seterr(ctx, "resolver: getdns refused the address list");
        goto out;
    }
    rc = 0;
out:
    getdns_list_destroy(ups);
    return rc;
}

/* set_anchor - read a DS/DNSKEY trust anchor file into gd */
static int
set_anchor(struct tlspol_ctx *ctx, getdns_context *gd)
{
    const char *path = ctx->trust_anchor_file;
    getdns_list *anchors = NULL;
    size_t n = 0;
    FILE *fp;
    int rc = -1;

    if (path == NULL) {
        path = DEFAULT_TA_FILE;
        fp = fopen(path, "r");
        if (fp == NULL) {
            tp_log(ctx, TLSPOL_LOG_WARN, TP_MSG_DNS_SETUP,
                   "trust anchor %s not found; using getdns's built-in "
                   "root anchor", path);
            return 0;
        }
    } else if ((fp = fopen(path, "r")) == NULL) {
        tp_ctx_seterr(ctx, "trust anchor file %s: cannot open", path);
        return -1;
    }
    if (getdns_fp2rr_list(fp, &anchors, NULL, 3600) != GETDNS_RETURN_GOOD ||
        getdns_list_get_length(anchors, &n) || n == 0) {
        tp_ctx_seterr(ctx, "trust anchor file %s: no DS or DNSKEY records "
                      "could be read", path);
        goto out;
    }
    if (getdns_context_set_dnssec_trust_anchors(gd, anchors)) {
        tp_ctx_seterr(ctx, "trust anchor file %s: rejected by getdns", path);
        goto out;
    }
    rc = 0;
out:
    fclose(fp);
    getdns_list_destroy(anchors);
    return rc;
}

int
tp_dns_setup(struct tlspol_ctx *ctx)
{
    if (getdns_context_create(&ctx->gd, 1) != GETDNS_RETURN_GOOD) {
        ctx->gd = NULL;
        tp_ctx_seterr(ctx, "resolver: getdns context could not be created "
                      "(is /etc/resolv.conf readable?)");
        return TLSPOL_ERR_DNS;
    }
    if (getdns_context_set_resolution_type(ctx->gd, GETDNS_RESOLUTION_STUB) ||
        getdns_context_set_timeout(ctx->gd, ctx->timeout_ms / DNS_TRIES) ||
        getdns_context_set_eventloop(ctx->gd, tp_loop_getdns(&ctx->loop))) {
        tp_ctx_seterr(ctx, "resolver: getdns rejected the stub settings");
        return TLSPOL_ERR_DNS;
    }
    if (ctx->resolvers != NULL && set_upstreams(ctx, ctx->gd) != 0)
        return TLSPOL_ERR_INVAL;
    if (set_anchor(ctx, ctx->gd) != 0)
        return TLSPOL_ERR_IO;
    if (tp_dns_set_mode(ctx, ctx->dnssec_mode) != 0)
        return TLSPOL_ERR_NOMEM;
    return TLSPOL_OK;
}

int
tp_dns_set_mode(struct tlspol_ctx *ctx, enum tp_dnssec_mode mode)
{
    getdns_dict *ext = getdns_dict_create();
    int rc = -1;

    if (ext == NULL)
        return -1;
    if (mode == TP_DNSSEC_VALIDATE) {
        /* never dnssec_return_status: it hides bogus answers (pitfalls) */
        if (getdns_dict_set_int(ext, "dnssec_return_all_statuses",
                                GETDNS_EXTENSION_TRUE))
            goto out;
    }
    /* AD mode: ask for DNSSEC data so the resolver sets AD (pitfalls) */
    if (getdns_context_set_edns_do_bit(ctx->gd,
                                       mode == TP_DNSSEC_TRUST_AD ? 1 : 0))
        goto out;
    getdns_dict_destroy(ctx->gd_ext);
    ctx->gd_ext = ext;
    ext = NULL;
    if (ctx->dnssec_mode != mode)
        tp_dns_cache_free(ctx); /* its DNSSEC states came the old way */
    ctx->dnssec_mode = mode;
    rc = 0;
out:
    getdns_dict_destroy(ext);
    return rc;
}

void
tp_dns_teardown(struct tlspol_ctx *ctx)
{
    while (ctx->dns_ready != NULL)
        ready_drop(ctx, ctx->dns_ready->id);
    tp_dns_cache_free(ctx);
    if (ctx->gd != NULL)
        getdns_context_destroy(ctx->gd);
    getdns_dict_destroy(ctx->gd_ext);
    ctx->gd = NULL;
    ctx->gd_ext = NULL;
}

/* map_sec - getdns dnssec_status to ours */
static enum tp_dnssec
map_sec(uint32_t s)
{
    switch (s) {
    case GETDNS_DNSSEC_SECURE: return TP_SEC_SECURE;
    case GETDNS_DNSSEC_INSECURE: return TP_SEC_INSECURE;
    case GETDNS_DNSSEC_BOGUS: return TP_SEC_BOGUS;
    case GETDNS_DNSSEC_INDETERMINATE: return TP_SEC_INDETERMINATE;
    default: return TP_SEC_UNKNOWN;
    }
}

/* worse - combine two states: bogus > indeterminate > insecure > secure */
static enum tp_dnssec
worse(enum tp_dnssec a, enum tp_dnssec b)
{
    static const int rank[] = { 0, 1, 2, 4, 3 };

    if (a == TP_SEC_UNKNOWN)
        return b;
    return rank[b] > rank[a] ? b : a;
}

/* name_of - wire-format name bindata to lowercase text without the dot */
static int
name_of(const getdns_bindata *b, char out[TP_DOMAIN_MAX + 1])
{
    char *fq = NULL;
    size_t n;

    if (getdns_convert_dns_name_to_fqdn(b, &fq) != GETDNS_RETURN_GOOD)
        return -1;
    n = strlen(fq);
    if (n > 0 && fq[n - 1] == '.')
        n--;
    if (n > TP_DOMAIN_MAX) {
        free(fq);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char c = fq[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    free(fq);
    return 0;
}

/* take_mx - one MX rdata */
static int
take_mx(struct tp_dns_answer *a, getdns_dict *rr)
{
    uint32_t pref;
    getdns_bindata *ex;
    struct tp_mx_rr *m;

    if (a->n >= TP_MX_RRS_MAX)
        return -1;
    if (getdns_dict_get_int(rr, "/rdata/preference", &pref) ||
        getdns_dict_get_bindata(rr, "/rdata/exchange", &ex))
        return -1;
    if (a->mx == NULL && (a->mx = tp_calloc(TP_MX_RRS_MAX,
                                            sizeof(*a->mx))) == NULL) {
        a->nomem = 1;
        return -1;
    }
    m = &a->mx[a->n];
    if (name_of(ex, m->host) != 0)
        return -1;
    m->pref = (uint16_t)pref;
    a->n++;
    return 0;
}

/* take_txt - one TXT rdata, strings concatenated (RFC 8461 §3.1), capped
 * one byte past TP_STS_TXT_MAX so that the parser sees "too big" */
static int
take_txt(struct tp_dns_answer *a, getdns_dict *rr)
{
    getdns_list *strs;
    size_t ns, i, len = 0;
    uint8_t *buf;

    if (a->n >= TP_STS_TXT_RRS_MAX + 1)
        return -1;
    if (getdns_dict_get_list(rr, "/rdata/txt_strings", &strs) ||
        getdns_list_get_length(strs, &ns))
        return -1;
    if (a->rd == NULL && (a->rd = tp_calloc(TP_STS_TXT_RRS_MAX + 1,
                                            sizeof(*a->rd))) == NULL) {
        a->nomem = 1;
        return -1;
    }
    buf = tp_malloc(TP_STS_TXT_MAX + 1);
    if (buf == NULL) {
        a->nomem = 1;
        return -1;
    }
    for (i = 0; i < ns && len <= TP_STS_TXT_MAX; i++) {
        getdns_bindata *s;
        size_t take;

        if (getdns_list_get_bindata(strs, i, &s)) {
            tp_free(buf);
            return -1;
        }
        take = s->size;
        if (take > TP_STS_TXT_MAX + 1 - len)
            take = TP_STS_TXT_MAX + 1 - len;
        memcpy(buf + len, s->data, take);
        len += take;
    }
    a->rd[a->n].data = buf;
    a->rd[a->n].len = len;
    a->n++;
    return 0;
}

/* take_addr - one A or AAAA rdata as text */
static int
take_addr(struct tp_dns_answer *a, getdns_dict *rr, uint32_t type)
{
    getdns_bindata *b;
    const char *key = type == GETDNS_RRTYPE_A ? "/rdata/ipv4_address"
                                              : "/rdata/ipv6_address";

    if (a->n >= TP_ADDRS_MAX)
        return -1;
    if (getdns_dict_get_bindata(rr, key, &b) ||
        b->size != (type == GETDNS_RRTYPE_A ? 4u : 16u))
        return -1;
    if (a->addr == NULL && (a->addr = tp_calloc(TP_ADDRS_MAX,
                                                sizeof(*a->addr))) == NULL) {
        a->nomem = 1;
        return -1;
    }
    if (inet_ntop(type == GETDNS_RRTYPE_A ? AF_INET : AF_INET6, b->data,
                  a->addr[a->n], sizeof(a->addr[a->n])) == NULL)
        return -1;
    a->n++;
    return 0;
}

/* take_tlsa - one TLSA RR's raw RDATA (parsed later by dane.c) */
static int
take_tlsa(struct tp_dns_answer *a, getdns_dict *rr)
{
    getdns_bindata *raw;
    uint8_t *copy;

    if (a->n >= TP_TLSA_RRS_MAX)
        return -1;
    if (getdns_dict_get_bindata(rr, "/rdata/rdata_raw", &raw) ||
        raw->size > TP_TLSA_DATA_MAX)
        return -1;
    if (a->rd == NULL && (a->rd = tp_calloc(TP_TLSA_RRS_MAX,
                                            sizeof(*a->rd))) == NULL) {
        a->nomem = 1;
        return -1;
    }
    copy = tp_malloc(raw->size);
    if (copy == NULL) {
        a->nomem = 1;
        return -1;
    }
    memcpy(copy, raw->data, raw->size);
    a->rd[a->n].data = copy;
    a->rd[a->n].len = raw->size;
    a->n++;
    return 0;
}

/* take_cname - the target of the CNAME at the query name */
static int
take_cname(struct tp_dns_answer *a, getdns_dict *rr)
{
    getdns_bindata *target;

    if (a->n > 0)
        return -1; /* a second CNAME at one name is malformed */
    if (getdns_dict_get_bindata(rr, "/rdata/cname", &target) ||
        name_of(target, a->canon) != 0)
        return -1;
    a->n = 1;
    return 0;
}

/* owner_of - lowercase owner name of an RR */
static void
owner_of(getdns_dict *rr, char out[TP_DOMAIN_MAX + 1])
{
    getdns_bindata *b;

    out[0] = '\0';
    if (getdns_dict_get_bindata(rr, "name", &b) == 0 && name_of(b, out) != 0)
        out[0] = '\0';
}

/* neg_ttl - RFC 2308 §5: a negative answer may be cached for the lesser
 * of the SOA's TTL and its MINIMUM field; kept in a->neg_ttl */
static void
neg_ttl(struct tp_dns_answer *a, getdns_dict *reply)
{
    getdns_list *auth;
    size_t n = 0, i;

    if (getdns_dict_get_list(reply, "authority", &auth) ||
        getdns_list_get_length(auth, &n))
        return;
    for (i = 0; i < n; i++) {
        getdns_dict *rr;
        uint32_t type, ttl, min;

        if (getdns_list_get_dict(auth, i, &rr) ||
            getdns_dict_get_int(rr, "type", &type) ||
            type != GETDNS_RRTYPE_SOA ||
            getdns_dict_get_int(rr, "ttl", &ttl) ||
            getdns_dict_get_int(rr, "/rdata/minimum", &min))
            continue;
        ttl = ttl < min ? ttl : min;
        if (a->neg_ttl == 0 || ttl < a->neg_ttl)
            a->neg_ttl = ttl;
    }
}

/* take_reply - copy the records of one reply; update rc, sec and ttl */
static void
take_reply(struct tp_dns_answer *a, getdns_dict *reply, int *nx,
           int *noerror, enum tp_dnssec_mode mode)
{
    getdns_list *ans;
    uint32_t rcode = 0, st = 0;
    size_t n = 0, i;

    if (getdns_dict_get_int(reply, "/header/rcode", &rcode) == 0) {
        if (rcode == GETDNS_RCODE_NXDOMAIN)
            *nx = 1;
        else if (rcode == GETDNS_RCODE_NOERROR)
            *noerror = 1;
        else
            snprintf(a->err, sizeof(a->err), "rcode %u%s", rcode,
                     rcode == GETDNS_RCODE_SERVFAIL ? " (SERVFAIL)" : "");
    }
    if (mode == TP_DNSSEC_TRUST_AD) {
        uint32_t ad = 0;

        /* RFC 4035 §3.2.3: the resolver vouches with AD; a bogus answer
         * comes back as SERVFAIL, handled as an error above. */
        getdns_dict_get_int(reply, "/header/ad", &ad);
        a->sec = worse(a->sec, ad ? TP_SEC_SECURE : TP_SEC_INSECURE);
    } else if (mode == TP_DNSSEC_VALIDATE &&
               getdns_dict_get_int(reply, "dnssec_status", &st) == 0) {
        a->sec = worse(a->sec, map_sec(st));
    }
    neg_ttl(a, reply);
    if (getdns_dict_get_list(reply, "answer", &ans) ||
        getdns_list_get_length(ans, &n))
        return;
    for (i = 0; i < n; i++) {
        getdns_dict *rr;
        uint32_t type, ttl = 0;
        int r;

        if (getdns_list_get_dict(ans, i, &rr) ||
            getdns_dict_get_int(rr, "type", &type))
            continue;
        getdns_dict_get_int(rr, "ttl", &ttl);
        if (type == GETDNS_RRTYPE_CNAME && a->qtype != GETDNS_RRTYPE_CNAME) {
            a->cname_seen++;
            continue; /* the resolver followed it; counted for the cap */
        }
        if (a->qtype == GETDNS_RRTYPE_MX && type == GETDNS_RRTYPE_MX)
            r = take_mx(a, rr);
        else if (a->qtype == GETDNS_RRTYPE_TXT && type == GETDNS_RRTYPE_TXT)
            r = take_txt(a, rr);
        else if (a->qtype == GETDNS_RRTYPE_TLSA &&
                 type == GETDNS_RRTYPE_TLSA)
            r = take_tlsa(a, rr);
        else if (a->qtype == GETDNS_RRTYPE_CNAME &&
                 type == GETDNS_RRTYPE_CNAME)
            r = take_cname(a, rr);
        else if (a->qtype == 0 && (type == GETDNS_RRTYPE_A ||
                                   type == GETDNS_RRTYPE_AAAA)) {
            r = take_addr(a, rr, type);
            if (r == 0 && a->canon[0] == '\0')
                owner_of(rr, a->canon); /* kept only if a CNAME was seen */
        } else
            continue; /* RRSIGs and the like */
        if (r != 0)
            a->dropped++;
        else if (a->ttl == 0 || ttl < a->ttl)
            a->ttl = ttl;
    }
}

/* fill - classify a getdns response into *a */
static void
fill(struct tp_dns_answer *a, getdns_callback_type_t type,
     getdns_dict *resp, enum tp_dnssec_mode mode)
{
    getdns_list *replies;
    size_t nrep = 0, i;
    uint32_t status = 0;
    int nx = 0, noerror = 0;

    a->sec = TP_SEC_UNKNOWN;
    if (type == GETDNS_CALLBACK_TIMEOUT) {
        a->rc = TP_DNS_ERROR;
        snprintf(a->err, sizeof(a->err), "timeout");
        return;
    }
    if (type != GETDNS_CALLBACK_COMPLETE || resp == NULL) {
        a->rc = TP_DNS_ERROR;
        snprintf(a->err, sizeof(a->err), "resolver error");
        return;
    }
    getdns_dict_get_int(resp, "status", &status);
    if (getdns_dict_get_list(resp, "replies_tree", &replies) ||
        getdns_list_get_length(replies, &nrep) || nrep == 0) {
        a->rc = TP_DNS_ERROR;
        snprintf(a->err, sizeof(a->err), "%s",
                 status == GETDNS_RESPSTATUS_ALL_TIMEOUT ? "timeout"
                                                         : "no reply");
        return;
    }
    for (i = 0; i < nrep; i++) {
        getdns_dict *reply;

        if (getdns_list_get_dict(replies, i, &reply) == 0)
            take_reply(a, reply, &nx, &noerror, mode);
    }
    if (a->qtype == 0 && !a->cname_seen)
        a->canon[0] = '\0';
    if (a->cname_seen > TP_CNAME_CHAIN_MAX) {
        /* a loop or an absurd chain: no name at its end can be trusted */
        a->rc = TP_DNS_ERROR;
        snprintf(a->err, sizeof(a->err), "CNAME chain longer than %d links",
                 TP_CNAME_CHAIN_MAX);
    } else if (a->nomem) {
        /* A lost record could change the meaning of the RRset (one STS
         * record instead of two, an implicit MX): fail the lookup. */
        a->rc = TP_DNS_ERROR;
        snprintf(a->err, sizeof(a->err), "out of memory");
    } else if (a->n > 0)
        a->rc = TP_DNS_OK;
    else if (noerror)
        a->rc = TP_DNS_NODATA;
    else if (nx)
        a->rc = TP_DNS_NXDOMAIN;
    else {
        a->rc = TP_DNS_ERROR;
        if (a->err[0] == '\0')
            snprintf(a->err, sizeof(a->err), "no usable reply");
    }
    if (a->rc == TP_DNS_NODATA || a->rc == TP_DNS_NXDOMAIN)
        a->ttl = a->neg_ttl;
}

/* timed_out - did this response end in a timeout? */
static int
timed_out(getdns_callback_type_t type, getdns_dict *resp)
{
    uint32_t status = 0;

    if (type == GETDNS_CALLBACK_TIMEOUT)
        return 1;
    return type == GETDNS_CALLBACK_COMPLETE && resp != NULL &&
           getdns_dict_get_int(resp, "status", &status) == 0 &&
           status == GETDNS_RESPSTATUS_ALL_TIMEOUT;
}

/* on_answer - getdns completion callback */
static void
on_answer(getdns_context *gd, getdns_callback_type_t type,
          getdns_dict *resp, void *userarg, getdns_transaction_t tid)
{
    struct dnsq *q = userarg;

    (void)gd;
    (void)tid;
    if (type == GETDNS_CALLBACK_CANCEL)
        goto out;
    if (timed_out(type, resp) && ++q->tries < DNS_TRIES &&
        send_query(q) == 0) {
        getdns_dict_destroy(resp);
        return; /* q lives on with the new transaction */
    }
    fill(q->out, type, resp, q->ctx->dnssec_mode);
    q->out->ms = tp_loop_now() - q->started;
    if (q->cache)
        tp_dns_cache_put(q->ctx, q->name, q->qtype, q->out);
    if (q->out->dropped > 0)
        tp_log(q->ctx, TLSPOL_LOG_WARN, TP_MSG_DNS_DROP,
               "%s: %zu DNS record(s) dropped: malformed or over limit",
               q->name, q->out->dropped);
    q->cb(q->arg);
out:
    getdns_dict_destroy(resp);
    tp_free(q);
}

/* send_query - (re)issue q's query; 0, or -1 with q->out->err set */
static int
send_query(struct dnsq *q)
{
    getdns_transaction_t t = 0;
    getdns_return_t r;

    if (q->qtype == 0)
        r = getdns_address(q->ctx->gd, q->name, q->ctx->gd_ext, q, &t,
                           on_answer);
    else
        r = getdns_general(q->ctx->gd, q->name, q->qtype, q->ctx->gd_ext, q,
                           &t, on_answer);
    if (r != GETDNS_RETURN_GOOD) {
        snprintf(q->out->err, sizeof(q->out->err), "getdns: %s",
                 getdns_get_errorstr_by_id(r) ? getdns_get_errorstr_by_id(r)
                                              : "error");
        return -1;
    }
    *q->tid = t;
    return 0;
}

/* Transaction ids of cache hits: never a getdns id (those count up). */
#define READY_ID_BIT (UINT64_C(1) << 63)

/* on_ready - a cache hit's callback, from the loop like any answer */
static void
on_ready(struct tp_timer *t)
{
    struct dnsq *q = t->arg, **pp;

    for (pp = &q->ctx->dns_ready; *pp != NULL; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    q->cb(q->arg);
    tp_free(q);
}

/* ready_drop - cancel a cache hit whose callback has not run: 1 if found */
static int
ready_drop(struct tlspol_ctx *ctx, uint64_t id)
{
    struct dnsq **pp, *q;

    for (pp = &ctx->dns_ready; (q = *pp) != NULL; pp = &q->next)
        if (q->id == id) {
            *pp = q->next;
            tp_timer_stop(&ctx->loop, &q->timer);
            tp_free(q);
            return 1;
        }
    return 0;
}

/* lookup - tp_dns_lookup, using the answer cache if cache */
static int
lookup(struct tlspol_ctx *ctx, const char *name, uint16_t qtype,
       struct tp_dns_answer *out, tp_dns_cb cb, void *arg, uint64_t *tid,
       bool cache)
{
    struct dnsq *q;

    memset(out, 0, sizeof(*out));
    out->qtype = qtype;
    out->rc = TP_DNS_PENDING;
    q = tp_calloc(1, sizeof(*q));
    if (q == NULL || strlen(name) >= sizeof(q->name)) {
        out->rc = TP_DNS_ERROR;
        snprintf(out->err, sizeof(out->err), "%s",
                 q ? "name too long" : "out of memory");
        if (q == NULL)
            return TP_ENOMEM;
        tp_free(q);
        return -1;
    }
    q->ctx = ctx;
    q->out = out;
    q->cb = cb;
    q->arg = arg;
    q->tid = tid;
    q->qtype = qtype;
    memcpy(q->name, name, strlen(name) + 1);
    q->started = tp_loop_now();
    q->cache = cache;
    if (cache && tp_dns_cache_get(ctx, name, qtype, out)) {
        out->cached = 1;
        q->id = ++ctx->dns_ready_id | READY_ID_BIT;
        *tid = q->id;
        tp_timer_init(&q->timer, on_ready, q);
        if (tp_timer_start(&ctx->loop, &q->timer, 0) == 0) {
            q->next = ctx->dns_ready;
            ctx->dns_ready = q;
            return 0;
        }
        tp_dns_answer_free(out); /* no timer: ask the resolver instead */
        memset(out, 0, sizeof(*out));
        out->qtype = qtype;
        out->rc = TP_DNS_PENDING;
    }
    if (send_query(q) != 0) {
        tp_free(q);
        out->rc = TP_DNS_ERROR;
        return -1;
    }
    return 0;
}

int
tp_dns_lookup(struct tlspol_ctx *ctx, const char *name, uint16_t qtype,
              struct tp_dns_answer *out, tp_dns_cb cb, void *arg,
              uint64_t *tid)
{
    return lookup(ctx, name, qtype, out, cb, arg, tid, false);
}

int
tp_dns_lookup_host(struct tlspol_ctx *ctx, const char *name, uint16_t qtype,
                   struct tp_dns_answer *out, tp_dns_cb cb, void *arg,
                   uint64_t *tid)
{
    return lookup(ctx, name, qtype, out, cb, arg, tid, true);
}

void
tp_dns_cancel(struct tlspol_ctx *ctx, uint64_t tid)
{
    /* getdns then calls on_answer with GETDNS_CALLBACK_CANCEL, which only
     * frees the per-query state. */
    if ((tid & READY_ID_BIT) != 0)
        ready_drop(ctx, tid);
    else if (ctx->gd != NULL)
        getdns_cancel_callback(ctx->gd, tid);
}

/* --- resolver self-test --------------------------------------------- */

/* diag_context - a throw-away synchronous getdns context on ctx's
 * resolvers and anchor, restricted to one transport (0: UDP then TCP) */
static getdns_context *
diag_context(struct tlspol_ctx *ctx, getdns_transport_list_t only)
{
    getdns_context *gd = NULL;
    getdns_transport_list_t tl[1];

    if (getdns_context_create(&gd, 1) != GETDNS_RETURN_GOOD)
        return NULL;
    tl[0] = only;
    if (getdns_context_set_resolution_type(gd, GETDNS_RESOLUTION_STUB) ||
        getdns_context_set_timeout(gd, ctx->timeout_ms < 5000
                                           ? ctx->timeout_ms : 5000) ||
        (only != 0 && getdns_context_set_dns_transport_list(gd, 1, tl)) ||
        (ctx->resolvers != NULL && set_upstreams(ctx, gd) != 0) ||
        set_anchor(ctx, gd) != 0) {
        getdns_context_destroy(gd);
        return NULL;
    }
    return gd;
}

/* diag_query - one synchronous query; fills *a (rc, sec, n) and reports
 * whether RRSIGs came along and whether the reply was truncated */
static void
diag_query(getdns_context *gd, const char *name, uint16_t type,
           getdns_dict *ext, enum tp_dnssec_mode mode,
           struct tp_dns_answer *a, int *rrsigs, int *tc)
{
    getdns_dict *resp = NULL, *reply;
    getdns_list *ans = NULL;
    size_t n = 0, i, keep;
    uint32_t t, flag;
    getdns_return_t r;

    memset(a, 0, sizeof(*a));
    a->qtype = type;
    *rrsigs = *tc = 0;
    r = getdns_general_sync(gd, name, type, ext, &resp);
    if (r != GETDNS_RETURN_GOOD) {
        a->rc = TP_DNS_ERROR;
        snprintf(a->err, sizeof(a->err), "%s",
                 getdns_get_errorstr_by_id(r) ? getdns_get_errorstr_by_id(r)
                                              : "error");
        return;
    }
    if (getdns_dict_get_dict(resp, "/replies_tree/0", &reply) == 0) {
        if (getdns_dict_get_int(reply, "/header/tc", &flag) == 0 && flag)
            *tc = 1;
        if (getdns_dict_get_list(reply, "answer", &ans) == 0 &&
            getdns_list_get_length(ans, &n) == 0)
            for (i = 0; i < n; i++) {
                getdns_dict *rr;

                if (getdns_list_get_dict(ans, i, &rr) == 0 &&
                    getdns_dict_get_int(rr, "type", &t) == 0 &&
                    t == GETDNS_RRTYPE_RRSIG)
                    (*rrsigs)++;
            }
    }
    /* DNSKEY and A answers need no record copies: count them here */
    a->qtype = type == GETDNS_RRTYPE_A ? 0 : type;
    fill(a, GETDNS_CALLBACK_COMPLETE, resp, mode);
    keep = a->n;
    tp_dns_answer_free(a); /* only rc, sec and the count are reported */
    a->n = keep;
    if (type == GETDNS_RRTYPE_DNSKEY && a->rc == TP_DNS_NODATA && n > 0) {
        size_t keys = 0;

        for (i = 0; i < n; i++) {
            getdns_dict *rr;

            if (getdns_list_get_dict(ans, i, &rr) == 0 &&
                getdns_dict_get_int(rr, "type", &t) == 0 &&
                t == GETDNS_RRTYPE_DNSKEY)
                keys++;
        }
        if (keys > 0) {
            a->rc = TP_DNS_OK;
            a->n = keys;
        }
    }
    getdns_dict_destroy(resp);
}

/* line - one report line */
static void TP_PRINTF(3, 4)
line(struct tp_buf *rep, int ok, const char *fmt, ...)
{
    char msg[TP_REASON_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    tp_buf_printf(rep, "%s %s\n", ok ? "ok  " : "FAIL", msg);
}

int
tp_dns_check(struct tlspol_ctx *ctx, const char *bogus_name,
             struct tp_buf *rep)
{
    getdns_context *any = NULL, *tcp = NULL, *udp = NULL;
    getdns_dict *val = NULL;
    struct tp_dns_answer a;
    int sigs, tc, udp_tc = 0, tcp_ok, fails = 0, answered;
    enum tp_dnssec_mode mode = ctx->dnssec_mode == TP_DNSSEC_TRUST_AD
                                   ? TP_DNSSEC_TRUST_AD : TP_DNSSEC_VALIDATE;
    const char *ups = ctx->resolvers ? ctx->resolvers : "/etc/resolv.conf";

    any = diag_context(ctx, 0);
    tcp = diag_context(ctx, GETDNS_TRANSPORT_TCP);
    udp = diag_context(ctx, GETDNS_TRANSPORT_UDP);
    val = getdns_dict_create();
    if (any == NULL || tcp == NULL || udp == NULL || val == NULL) {
        line(rep, 0, "cannot set up a resolver context: %s",
             ctx->errmsg[0] ? ctx->errmsg : "getdns failed");
        fails++;
        goto out;
    }
    /* 1. Do DNSSEC records reach us at all? */
    getdns_context_set_edns_do_bit(any, 1);
    getdns_context_set_edns_do_bit(udp, 1);
    getdns_context_set_edns_do_bit(tcp, 1);
    diag_query(any, ".", GETDNS_RRTYPE_DNSKEY, NULL, TP_DNSSEC_OFF, &a,
               &sigs, &tc);
    answered = a.rc != TP_DNS_ERROR;
    if (!answered) {
        line(rep, 0, "resolver %s: no answer for \". DNSKEY\": %s", ups,
             a.err);
        fails++;
    } else if (a.rc != TP_DNS_OK) {
        line(rep, 0, "resolver %s: \". DNSKEY\" came back %s: the "
             "resolver strips DNSSEC records (or cannot fetch them)", ups,
             tp_dns_rc_name(a.rc));
        fails++;
    } else if (sigs == 0) {
        line(rep, 0, "resolver %s: \". DNSKEY\" came without RRSIG: the "
             "resolver (or something on the path) strips DNSSEC records",
             ups);
        fails++;
    } else {
        line(rep, 1, "resolver %s returns DNSSEC records (%zu DNSKEY, %d "
             "RRSIG)", ups, a.n, sigs);
    }
    /* 2. Transport: large DNSSEC answers need TCP when UDP truncates. */
    diag_query(udp, ".", GETDNS_RRTYPE_DNSKEY, NULL, TP_DNSSEC_OFF, &a,
               &sigs, &udp_tc);
    diag_query(tcp, ".", GETDNS_RRTYPE_DNSKEY, NULL, TP_DNSSEC_OFF, &a,
               &sigs, &tc);
    tcp_ok = a.rc != TP_DNS_ERROR; /* any answer: TCP itself works */
    if (!tcp_ok && udp_tc) {
        line(rep, 0, "answers are truncated over UDP and TCP does not work "
             "(%s): DNSSEC answers cannot be received", a.err[0] ? a.err
                                                                : "no answer");
        fails++;
    } else if (!tcp_ok) {
        line(rep, 0, "resolver does not answer over TCP (%s): large DNSSEC "
             "answers will fail", a.err[0] ? a.err : "no answer");
        fails++;
    } else {
        line(rep, 1, "TCP works%s", udp_tc ? " (UDP answers are truncated, "
             "TCP is needed)" : "");
    }
    if (!answered)
        goto out; /* nothing to validate */
    /* 3. Does a signed name validate? */
    if (mode == TP_DNSSEC_VALIDATE &&
        getdns_dict_set_int(val, "dnssec_return_all_statuses",
                            GETDNS_EXTENSION_TRUE)) {
        fails++;
        goto out;
    }
    diag_query(any, ".", GETDNS_RRTYPE_DNSKEY, mode == TP_DNSSEC_VALIDATE
               ? val : NULL, mode, &a, &sigs, &tc);
    if (a.sec == TP_SEC_SECURE) {
        line(rep, 1, "\". DNSKEY\" validates as secure (%s)",
             mode == TP_DNSSEC_TRUST_AD ? "resolver's AD bit"
                                        : "trust anchor matches");
    } else {
        line(rep, 0, "\". DNSKEY\" is %s, not secure: %s",
             a.rc == TP_DNS_ERROR ? a.err : tp_dnssec_name(a.sec),
             mode == TP_DNSSEC_TRUST_AD
                 ? "the resolver does not validate (no AD bit)"
                 : "wrong trust anchor, or records altered on the path");
        fails++;
    }
    /* 4. Does a bogus name fail? */
    if (bogus_name != NULL && bogus_name[0] != '\0') {
        diag_query(any, bogus_name, GETDNS_RRTYPE_A,
                   mode == TP_DNSSEC_VALIDATE ? val : NULL, mode, &a, &sigs,
                   &tc);
        if (a.sec == TP_SEC_BOGUS ||
            (mode == TP_DNSSEC_TRUST_AD && a.rc == TP_DNS_ERROR)) {
            line(rep, 1, "%s is rejected as bogus", bogus_name);
        } else {
            line(rep, 0, "%s (known bogus) came back %s %s: validation is "
                 "not effective", bogus_name, tp_dns_rc_name(a.rc),
                 tp_dnssec_name(a.sec));
            fails++;
        }
    }
out:
    getdns_dict_destroy(val);
    if (any != NULL)
        getdns_context_destroy(any);
    if (tcp != NULL)
        getdns_context_destroy(tcp);
    if (udp != NULL)
        getdns_context_destroy(udp);
    return fails == 0 ? 0 : -1;
}
