/*
 * result.c - the result object handed to applications: a snapshot of a
 * finished lookup (so each query owns its own copy), its getters, and the
 * stable JSON rendering documented in tlspol-query(1).
 *
 * Not pure (allocates).  SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "internal.h"
#include "postfix.h"

/* JSON output is bounded: trace and hosts are bounded, so is this. */
#define JSON_MAX (1024u * 1024u)

/* dup_list - copy n strings into a new owned array */
static char **
dup_list(char *const *src, size_t n)
{
    char **dst;
    size_t i;

    if (n == 0)
        return NULL;
    dst = tp_calloc(n, sizeof(*dst));
    if (dst == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        dst[i] = tp_strndup(src[i], strlen(src[i]));
        if (dst[i] == NULL) {
            while (i > 0)
                tp_free(dst[--i]);
            tp_free(dst);
            return NULL;
        }
    }
    return dst;
}

static void
free_list(char **l, size_t n)
{
    size_t i;

    if (l == NULL)
        return;
    for (i = 0; i < n; i++)
        tp_free(l[i]);
    tp_free(l);
}

/* copy_host - one host's detail, with its usable TLSA records as text */
static int
copy_host(struct tp_result_host *rh, const struct tp_verdict_host *vh,
          const struct tp_host *h)
{
    size_t j, k = 0;

    snprintf(rh->name, sizeof(rh->name), "%s", vh->name);
    rh->pref = vh->pref;
    rh->sts_match = vh->sts_match;
    rh->dane = vh->dane;
    if (h == NULL)
        return 0;
    rh->addr_sec = h->addr.sec;
    rh->tlsa_sec = h->tlsa.sec;
    if (h->tlsa.rc != TP_DNS_PENDING)
        snprintf(rh->tlsa_name, sizeof(rh->tlsa_name), "_25._tcp.%s",
                 h->base);
    snprintf(rh->note, sizeof(rh->note), "%s", h->note);
    snprintf(rh->tlsa_base, sizeof(rh->tlsa_base), "%s", h->base);
    if (h->addr.rc == TP_DNS_OK && h->addr.n > 0) {
        rh->addrs = tp_calloc(h->addr.n, sizeof(*rh->addrs));
        if (rh->addrs == NULL)
            return -1;
        memcpy(rh->addrs, h->addr.addr, h->addr.n * sizeof(*rh->addrs));
        rh->n_addrs = h->addr.n;
    }
    if (h->n_usable == 0)
        return 0;
    rh->tlsa = tp_calloc(h->n_usable, sizeof(*rh->tlsa));
    rh->recs = tp_calloc(h->n_usable, sizeof(*rh->recs));
    if (rh->tlsa == NULL || rh->recs == NULL)
        return -1;
    for (j = 0; j < h->n_recs && k < h->n_usable; j++) {
        char txt[176]; /* long Full(0) data is elided in the middle */

        if (h->why[j] != TP_TLSA_OK)
            continue;
        tp_tlsa_format(&h->recs[j], txt, sizeof(txt));
        rh->tlsa[k] = tp_strndup(txt, strlen(txt));
        if (rh->tlsa[k] == NULL)
            return -1;
        rh->n_tlsa = ++k;
        rh->recs[rh->n_recs] = h->recs[j];
        rh->recs[rh->n_recs].data = tp_malloc(h->recs[j].len ? h->recs[j].len
                                                             : 1);
        if (rh->recs[rh->n_recs].data == NULL)
            return -1;
        memcpy(rh->recs[rh->n_recs].data, h->recs[j].data, h->recs[j].len);
        rh->n_recs++;
    }
    return 0;
}

tlspol_result *
tp_result_from_lookup(const struct tp_lookup *lk)
{
    const struct tp_verdict_out *v = &lk->vout;
    struct tlspol_result *r = tp_calloc(1, sizeof(*r));
    size_t i;

    if (r == NULL)
        return NULL;
    r->verdict = v->verdict;
    r->source = v->source;
    r->sts_mode = v->mode;
    snprintf(r->domain, sizeof(r->domain), "%s", lk->domain);
    snprintf(r->reason, sizeof(r->reason), "%s", v->reason);
    if (v->mode != TLSPOL_STS_MODE_ABSENT) {
        snprintf(r->sts_id, sizeof(r->sts_id), "%s", lk->sts_txt.id);
        r->has_sts_id = true;
        r->max_age = lk->pol.max_age;
        r->fetched_at = lk->fetched_at;
        r->expires = lk->fetched_at + (int64_t)lk->pol.max_age;
        r->n_sts_mx = lk->pol.n_mx;
        r->sts_mx = dup_list(lk->pol.mx, lk->pol.n_mx);
        if (r->n_sts_mx > 0 && r->sts_mx == NULL)
            goto fail;
    }
    r->n_mx = lk->n_decide_mx;
    r->mx = dup_list(lk->decide_mx, lk->n_decide_mx);
    if (r->n_mx > 0 && r->mx == NULL)
        goto fail;
    r->published = v->published;
    r->local_level = v->local_level;
    r->weakens = v->weakens;
    r->failopen = v->failopen;
    r->compat = lk->ctx->postfix_compat;
    r->mx_sec = lk->mx.sec;
    r->dane_available = v->dane_available;
    if (v->n_hosts > 0) {
        r->hosts = tp_calloc(v->n_hosts, sizeof(*r->hosts));
        if (r->hosts == NULL)
            goto fail;
        r->n_hosts = v->n_hosts;
        for (i = 0; i < v->n_hosts; i++)
            if (copy_host(&r->hosts[i], &v->hosts[i],
                          i < lk->n_hosts ? &lk->hosts[i] : NULL) != 0)
                goto fail;
    }
    r->n_trace = lk->n_trace;
    r->trace = dup_list(lk->trace, lk->n_trace);
    if (r->n_trace > 0 && r->trace == NULL)
        goto fail;
    return r;
fail:
    r->n_trace = r->trace ? r->n_trace : 0;
    r->n_mx = r->mx ? r->n_mx : 0;
    r->n_sts_mx = r->sts_mx ? r->n_sts_mx : 0;
    tlspol_result_free(r);
    return NULL;
}

/* clone_host - deep copy of one host's detail */
static int
clone_host(struct tp_result_host *d, const struct tp_result_host *s)
{
    size_t j;

    *d = *s;
    d->tlsa = NULL;
    d->recs = NULL;
    d->addrs = NULL;
    d->n_tlsa = d->n_recs = d->n_addrs = 0;
    if (s->n_tlsa > 0 && (d->tlsa = dup_list(s->tlsa, s->n_tlsa)) == NULL)
        return -1;
    d->n_tlsa = s->n_tlsa;
    if (s->n_recs > 0) {
        d->recs = tp_calloc(s->n_recs, sizeof(*d->recs));
        if (d->recs == NULL)
            return -1;
        for (j = 0; j < s->n_recs; j++) {
            d->recs[j] = s->recs[j];
            d->recs[j].data = tp_malloc(s->recs[j].len ? s->recs[j].len : 1);
            if (d->recs[j].data == NULL)
                return -1;
            memcpy(d->recs[j].data, s->recs[j].data, s->recs[j].len);
            d->n_recs = j + 1;
        }
    }
    if (s->n_addrs > 0) {
        d->addrs = tp_calloc(s->n_addrs, sizeof(*d->addrs));
        if (d->addrs == NULL)
            return -1;
        memcpy(d->addrs, s->addrs, s->n_addrs * sizeof(*d->addrs));
        d->n_addrs = s->n_addrs;
    }
    return 0;
}

tlspol_result *
tp_result_clone(const tlspol_result *s, const char *note)
{
    tlspol_result *r = tp_calloc(1, sizeof(*r));
    size_t i, extra = note != NULL;

    if (r == NULL)
        return NULL;
    *r = *s;
    r->mx = r->sts_mx = r->trace = NULL;
    r->hosts = NULL;
    r->json = r->postfix = NULL;
    r->n_mx = r->n_sts_mx = r->n_trace = r->n_hosts = 0;
    if (s->n_mx > 0 && (r->mx = dup_list(s->mx, s->n_mx)) == NULL)
        goto fail;
    r->n_mx = s->n_mx;
    if (s->n_sts_mx > 0 &&
        (r->sts_mx = dup_list(s->sts_mx, s->n_sts_mx)) == NULL)
        goto fail;
    r->n_sts_mx = s->n_sts_mx;
    if (s->n_hosts > 0) {
        r->hosts = tp_calloc(s->n_hosts, sizeof(*r->hosts));
        if (r->hosts == NULL)
            goto fail;
        for (i = 0; i < s->n_hosts; i++) {
            r->n_hosts = i + 1;
            if (clone_host(&r->hosts[i], &s->hosts[i]) != 0)
                goto fail;
        }
    }
    r->trace = tp_calloc(s->n_trace + extra, sizeof(*r->trace));
    if (r->trace == NULL)
        goto fail;
    for (i = 0; i < s->n_trace; i++) {
        if ((r->trace[i] = tp_strndup(s->trace[i],
                                      strlen(s->trace[i]))) == NULL)
            goto fail;
        r->n_trace = i + 1;
    }
    if (note != NULL) {
        if ((r->trace[r->n_trace] = tp_strndup(note, strlen(note))) == NULL)
            goto fail;
        r->n_trace++;
    }
    return r;
fail:
    tlspol_result_free(r);
    return NULL;
}

TP_EXPORT void
tlspol_result_free(tlspol_result *r)
{
    if (r == NULL)
        return;
    free_list(r->mx, r->n_mx);
    free_list(r->sts_mx, r->n_sts_mx);
    free_list(r->trace, r->n_trace);
    for (size_t i = 0; r->hosts != NULL && i < r->n_hosts; i++) {
        free_list(r->hosts[i].tlsa, r->hosts[i].n_tlsa);
        for (size_t j = 0; j < r->hosts[i].n_recs; j++)
            tp_tlsa_free(&r->hosts[i].recs[j]);
        tp_free(r->hosts[i].recs);
        tp_free(r->hosts[i].addrs);
    }
    tp_free(r->postfix);
    tp_free(r->hosts);
    tp_free(r->json);
    tp_free(r);
}

TP_EXPORT tlspol_verdict
tlspol_result_verdict(const tlspol_result *r)
{
    return r ? r->verdict : TLSPOL_VERDICT_TEMPFAIL;
}

TP_EXPORT int
tlspol_result_tls_required(const tlspol_result *r)
{
    if (r == NULL || r->verdict == TLSPOL_VERDICT_TEMPFAIL)
        return -1;
    switch (r->verdict) {
    case TLSPOL_VERDICT_ENCRYPT:
    case TLSPOL_VERDICT_DANE:
    case TLSPOL_VERDICT_DANE_ONLY:
    case TLSPOL_VERDICT_PRELOAD_ENFORCE:
    case TLSPOL_VERDICT_STS_ENFORCE:
        return 1;
    case TLSPOL_VERDICT_LOCAL:
        return r->local_level >= TP_LEVEL_ENCRYPT;
    default:
        return 0;
    }
}

TP_EXPORT const char *
tlspol_result_domain(const tlspol_result *r)
{
    return r ? r->domain : NULL;
}

TP_EXPORT tlspol_source
tlspol_result_source(const tlspol_result *r)
{
    return r ? r->source : TLSPOL_SOURCE_NONE;
}

TP_EXPORT tlspol_sts_mode
tlspol_result_sts_mode(const tlspol_result *r)
{
    return r ? r->sts_mode : TLSPOL_STS_MODE_ABSENT;
}

TP_EXPORT const char *
tlspol_result_sts_id(const tlspol_result *r)
{
    return r && r->has_sts_id ? r->sts_id : NULL;
}

TP_EXPORT uint32_t
tlspol_result_sts_max_age(const tlspol_result *r)
{
    return r ? r->max_age : 0;
}

TP_EXPORT int64_t
tlspol_result_expires(const tlspol_result *r)
{
    return r ? r->expires : 0;
}

TP_EXPORT size_t
tlspol_result_mx_pattern_count(const tlspol_result *r)
{
    return r ? r->n_mx : 0;
}

TP_EXPORT const char *
tlspol_result_mx_pattern(const tlspol_result *r, size_t i)
{
    return r && i < r->n_mx ? r->mx[i] : NULL;
}

TP_EXPORT const char *
tlspol_result_reason(const tlspol_result *r)
{
    return r ? r->reason : NULL;
}

TP_EXPORT size_t
tlspol_result_host_count(const tlspol_result *r)
{
    return r ? r->n_hosts : 0;
}

TP_EXPORT const char *
tlspol_result_host_name(const tlspol_result *r, size_t i)
{
    return r && i < r->n_hosts ? r->hosts[i].name : NULL;
}

TP_EXPORT unsigned int
tlspol_result_host_preference(const tlspol_result *r, size_t i)
{
    return r && i < r->n_hosts ? r->hosts[i].pref : 0;
}

TP_EXPORT int
tlspol_result_host_sts_match(const tlspol_result *r, size_t i)
{
    return r && i < r->n_hosts ? r->hosts[i].sts_match : -1;
}

/* public enum from the internal DNSSEC state */
static tlspol_dnssec
pub_sec(enum tp_dnssec s)
{
    switch (s) {
    case TP_SEC_SECURE: return TLSPOL_DNSSEC_SECURE;
    case TP_SEC_INSECURE: return TLSPOL_DNSSEC_INSECURE;
    case TP_SEC_BOGUS: return TLSPOL_DNSSEC_BOGUS;
    case TP_SEC_INDETERMINATE: return TLSPOL_DNSSEC_INDETERMINATE;
    default: return TLSPOL_DNSSEC_UNVALIDATED;
    }
}

/* public enum from the internal host DANE state */
static tlspol_host_dane
pub_dane(enum tp_host_dane d)
{
    switch (d) {
    case TP_HOST_DANE: return TLSPOL_HOST_DANE_USABLE;
    case TP_HOST_ENCRYPT: return TLSPOL_HOST_DANE_UNUSABLE;
    case TP_HOST_NOADDR: return TLSPOL_HOST_DANE_NO_ADDRESS;
    case TP_HOST_FAILED: return TLSPOL_HOST_DANE_FAILED;
    default: return TLSPOL_HOST_DANE_NONE;
    }
}

TP_EXPORT tlspol_dnssec
tlspol_result_mx_dnssec(const tlspol_result *r)
{
    return r ? pub_sec(r->mx_sec) : TLSPOL_DNSSEC_UNVALIDATED;
}

TP_EXPORT int
tlspol_result_dane_available(const tlspol_result *r)
{
    return r ? r->dane_available : 0;
}

TP_EXPORT tlspol_host_dane
tlspol_result_host_dane(const tlspol_result *r, size_t i)
{
    return r && i < r->n_hosts ? pub_dane(r->hosts[i].dane)
                               : TLSPOL_HOST_DANE_NONE;
}

TP_EXPORT tlspol_dnssec
tlspol_result_host_address_dnssec(const tlspol_result *r, size_t i)
{
    return r && i < r->n_hosts ? pub_sec(r->hosts[i].addr_sec)
                               : TLSPOL_DNSSEC_UNVALIDATED;
}

TP_EXPORT tlspol_dnssec
tlspol_result_host_tlsa_dnssec(const tlspol_result *r, size_t i)
{
    return r && i < r->n_hosts ? pub_sec(r->hosts[i].tlsa_sec)
                               : TLSPOL_DNSSEC_UNVALIDATED;
}

TP_EXPORT const char *
tlspol_result_host_tlsa_name(const tlspol_result *r, size_t i)
{
    if (r == NULL || i >= r->n_hosts || r->hosts[i].tlsa_name[0] == '\0')
        return NULL;
    return r->hosts[i].tlsa_name;
}

TP_EXPORT size_t
tlspol_result_host_tlsa_count(const tlspol_result *r, size_t i)
{
    return r && i < r->n_hosts ? r->hosts[i].n_tlsa : 0;
}

TP_EXPORT const char *
tlspol_result_host_tlsa(const tlspol_result *r, size_t i, size_t j)
{
    if (r == NULL || i >= r->n_hosts || j >= r->hosts[i].n_tlsa)
        return NULL;
    return r->hosts[i].tlsa[j];
}

TP_EXPORT size_t
tlspol_result_host_address_count(const tlspol_result *r, size_t i)
{
    return r && i < r->n_hosts ? r->hosts[i].n_addrs : 0;
}

TP_EXPORT const char *
tlspol_result_host_address(const tlspol_result *r, size_t i, size_t j)
{
    if (r == NULL || i >= r->n_hosts || j >= r->hosts[i].n_addrs)
        return NULL;
    return r->hosts[i].addrs[j];
}

TP_EXPORT const char *
tlspol_result_host_tlsa_base(const tlspol_result *r, size_t i)
{
    if (r == NULL || i >= r->n_hosts || r->hosts[i].tlsa_base[0] == '\0')
        return NULL;
    return r->hosts[i].tlsa_base;
}

TP_EXPORT const char *
tlspol_result_host_note(const tlspol_result *r, size_t i)
{
    return r && i < r->n_hosts ? r->hosts[i].note : NULL;
}

TP_EXPORT tlspol_verdict
tlspol_result_published_verdict(const tlspol_result *r)
{
    return r ? r->published : TLSPOL_VERDICT_TEMPFAIL;
}

TP_EXPORT const char *
tlspol_result_local_level(const tlspol_result *r)
{
    if (r == NULL || r->verdict != TLSPOL_VERDICT_LOCAL)
        return NULL;
    return tp_level_name(r->local_level);
}

TP_EXPORT int
tlspol_result_override_weakens(const tlspol_result *r)
{
    return r ? r->weakens : 0;
}

TP_EXPORT int
tlspol_result_failopen(const tlspol_result *r)
{
    return r ? r->failopen : 0;
}

TP_EXPORT const char *
tlspol_result_postfix_policy(tlspol_result *r, unsigned int compat)
{
    struct tp_buf b;

    if (r == NULL)
        return NULL;
    tp_buf_init(&b, TP_POSTFIX_REPLY_MAX);
    switch (tp_postfix_render(r, compat ? compat : r->compat, &b)) {
    case TP_OK:
        break;
    case TP_ETOOBIG:
        /* longer than Postfix accepts: defer rather than weaken */
        tp_buf_free(&b);
        if (tp_buf_puts(&b, "TEMP policy longer than 100000 bytes") !=
            TP_OK) {
            tp_buf_free(&b);
            return NULL;
        }
        break;
    default:
        tp_buf_free(&b);
        return NULL;
    }
    tp_free(r->postfix);
    r->postfix = b.p;
    return r->postfix;
}

TP_EXPORT size_t
tlspol_result_trace_count(const tlspol_result *r)
{
    return r ? r->n_trace : 0;
}

TP_EXPORT const char *
tlspol_result_trace(const tlspol_result *r, size_t i)
{
    return r && i < r->n_trace ? r->trace[i] : NULL;
}

/* json_key_str - "key":"value" with a leading comma unless first */
static int
json_key_str(struct tp_buf *b, const char *key, const char *v, int first)
{
    int rc = tp_buf_printf(b, "%s\"%s\":", first ? "" : ",", key);

    if (rc == TP_OK)
        rc = v ? tp_buf_json_str(b, v, strlen(v)) : tp_buf_puts(b, "null");
    return rc;
}

/* build_json - render the result; see tlspol-query(1) for the schema */
static int
build_json(const tlspol_result *r, struct tp_buf *b)
{
    static const char *const tls[] = { "defer", "may", "must" };
    size_t i;
    int rc;

    rc = tp_buf_puts(b, "{");
    if (rc == TP_OK) rc = json_key_str(b, "domain", r->domain, 1);
    if (rc == TP_OK)
        rc = json_key_str(b, "verdict", tlspol_verdict_name(r->verdict), 0);
    if (rc == TP_OK)
        rc = json_key_str(b, "tls", tls[tlspol_result_tls_required(r) + 1],
                          0);
    if (rc == TP_OK)
        rc = json_key_str(b, "source", tlspol_source_name(r->source), 0);
    if (rc == TP_OK) rc = json_key_str(b, "reason", r->reason, 0);
    if (rc == TP_OK)
        rc = json_key_str(b, "published_verdict",
                          tlspol_verdict_name(r->published), 0);
    if (rc == TP_OK)
        rc = json_key_str(b, "local_level", r->verdict ==
                          TLSPOL_VERDICT_LOCAL ? tp_level_name(r->local_level)
                                               : NULL, 0);
    if (rc == TP_OK)
        rc = tp_buf_printf(b, ",\"override_weakens\":%s,\"failopen\":%s",
                           r->weakens ? "true" : "false",
                           r->failopen ? "true" : "false");
    if (rc == TP_OK)
        rc = json_key_str(b, "mx_dnssec",
                          tlspol_dnssec_name(pub_sec(r->mx_sec)), 0);
    if (rc == TP_OK)
        rc = tp_buf_printf(b, ",\"dane_available\":%s",
                           r->dane_available ? "true" : "false");
    if (rc == TP_OK) rc = tp_buf_puts(b, ",\"mx_patterns\":[");
    for (i = 0; rc == TP_OK && i < r->n_mx; i++) {
        if (i > 0)
            rc = tp_buf_puts(b, ",");
        if (rc == TP_OK)
            rc = tp_buf_json_str(b, r->mx[i], strlen(r->mx[i]));
    }
    if (rc == TP_OK) rc = tp_buf_puts(b, "]");
    if (rc == TP_OK) rc = tp_buf_puts(b, ",\"mta_sts\":");
    if (rc == TP_OK && r->sts_mode == TLSPOL_STS_MODE_ABSENT) {
        rc = tp_buf_puts(b, "null");
    } else if (rc == TP_OK) {
        rc = tp_buf_puts(b, "{");
        if (rc == TP_OK)
            rc = json_key_str(b, "mode", tlspol_sts_mode_name(r->sts_mode),
                              1);
        if (rc == TP_OK) rc = json_key_str(b, "id", r->sts_id, 0);
        if (rc == TP_OK)
            rc = tp_buf_printf(b, ",\"max_age\":%u,\"fetched\":%lld,"
                               "\"expires\":%lld,\"mx\":[", r->max_age,
                               (long long)r->fetched_at,
                               (long long)r->expires);
        for (i = 0; rc == TP_OK && i < r->n_sts_mx; i++) {
            if (i > 0)
                rc = tp_buf_puts(b, ",");
            if (rc == TP_OK)
                rc = tp_buf_json_str(b, r->sts_mx[i],
                                     strlen(r->sts_mx[i]));
        }
        if (rc == TP_OK) rc = tp_buf_puts(b, "]}");
    }
    if (rc == TP_OK) rc = tp_buf_puts(b, ",\"hosts\":[");
    for (i = 0; rc == TP_OK && i < r->n_hosts; i++) {
        const struct tp_result_host *h = &r->hosts[i];

        rc = tp_buf_printf(b, "%s{\"name\":", i ? "," : "");
        if (rc == TP_OK) rc = tp_buf_json_str(b, h->name, strlen(h->name));
        if (rc == TP_OK)
            rc = tp_buf_printf(b, ",\"preference\":%u,\"sts_match\":%s",
                               h->pref, h->sts_match < 0 ? "null"
                               : h->sts_match ? "true" : "false");
        if (rc == TP_OK)
            rc = json_key_str(b, "dane",
                              tlspol_host_dane_name(pub_dane(h->dane)), 0);
        if (rc == TP_OK)
            rc = json_key_str(b, "address_dnssec",
                              tlspol_dnssec_name(pub_sec(h->addr_sec)), 0);
        if (rc == TP_OK)
            rc = json_key_str(b, "tlsa_name", h->tlsa_name[0]
                              ? h->tlsa_name : NULL, 0);
        if (rc == TP_OK)
            rc = json_key_str(b, "tlsa_dnssec", h->tlsa_name[0]
                              ? tlspol_dnssec_name(pub_sec(h->tlsa_sec))
                              : NULL, 0);
        if (rc == TP_OK)
            rc = json_key_str(b, "note", h->note, 0);
        if (rc == TP_OK)
            rc = tp_buf_puts(b, ",\"tlsa\":[");
        for (size_t j = 0; rc == TP_OK && j < h->n_tlsa; j++) {
            if (j > 0)
                rc = tp_buf_puts(b, ",");
            if (rc == TP_OK)
                rc = tp_buf_json_str(b, h->tlsa[j], strlen(h->tlsa[j]));
        }
        if (rc == TP_OK)
            rc = tp_buf_puts(b, "]}");
    }
    if (rc == TP_OK) rc = tp_buf_puts(b, "],\"trace\":[");
    for (i = 0; rc == TP_OK && i < r->n_trace; i++) {
        if (i > 0)
            rc = tp_buf_puts(b, ",");
        if (rc == TP_OK)
            rc = tp_buf_json_str(b, r->trace[i], strlen(r->trace[i]));
    }
    if (rc == TP_OK) rc = tp_buf_puts(b, "]}");
    return rc;
}

TP_EXPORT const char *
tlspol_result_json(tlspol_result *r)
{
    struct tp_buf b;

    if (r == NULL)
        return NULL;
    if (r->json != NULL)
        return r->json;
    tp_buf_init(&b, JSON_MAX);
    if (build_json(r, &b) != TP_OK) {
        tp_buf_free(&b);
        return NULL;
    }
    r->json = b.p;
    return r->json;
}
