/*
 * result.c - the result object handed to applications: a snapshot of a
 * finished lookup (so each query owns its own copy), its getters, and the
 * stable JSON rendering documented in tlspol-query(1).
 *
 * Not pure (allocates).  SPDX-License-Identifier: MIT
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "internal.h"
#include "postfix.h"

/* JSON output is bounded: trace and hosts are bounded, so is this. */
#define JSON_MAX (1024u * 1024u)

/* The shared part of results (see internal.h): a header, then the
 * arrays and strings the handles point to, in one allocation. */
struct tp_result_body {
    atomic_uint refs;
    char *postfix;                 /* owned: the reply at the handle's
                                      compat, rendered when sealed */
};

/*
 * Bodies are laid out by running one fill function twice: first with an
 * arena that only counts bytes, then into an allocation of that size.
 * In the counting pass every pointer handed out is NULL.
 */
struct arena {
    char *base;                    /* NULL while counting */
    size_t used;
};

/* What take() aligns to: enough for every type a body holds. */
#define BODY_ALIGN 8
_Static_assert(_Alignof(struct tp_result_host) <= BODY_ALIGN &&
               _Alignof(struct tp_tlsa) <= BODY_ALIGN &&
               _Alignof(char *) <= BODY_ALIGN &&
               _Alignof(struct tp_result_body) <= BODY_ALIGN,
               "body members need a larger alignment");

/* take - n bytes aligned for any member type */
static void *
take(struct arena *a, size_t n)
{
    size_t off = (a->used + BODY_ALIGN - 1) & ~(size_t)(BODY_ALIGN - 1);

    a->used = off + n;
    return a->base != NULL ? a->base + off : NULL;
}

/* str - a copy of s */
static const char *
str(struct arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = a->base != NULL ? a->base + a->used : NULL;

    a->used += n;
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

/* strs - a copy of n strings and of the array */
static const char *const *
strs(struct arena *a, char *const *src, size_t n)
{
    const char **dst = n > 0 ? take(a, n * sizeof(*dst)) : NULL;
    size_t i;

    for (i = 0; i < n; i++) {
        const char *p = str(a, src[i]);

        if (dst != NULL)
            dst[i] = p;
    }
    return dst;
}

/* fill_host - one host's detail, with its usable TLSA records as text */
static void
fill_host(struct arena *a, struct tp_result_host *rh,
          const struct tp_verdict_host *vh, const struct tp_host *h)
{
    const char **text;
    struct tp_tlsa *recs;
    size_t j, k = 0;

    memset(rh, 0, sizeof(*rh));
    rh->name = str(a, vh->name);
    rh->pref = vh->pref;
    rh->sts_match = vh->sts_match;
    rh->dane = vh->dane;
    rh->tlsa_name = rh->note = rh->tlsa_base = "";
    if (h == NULL)
        return;
    rh->addr_sec = h->addr.sec;
    rh->tlsa_sec = h->tlsa.sec;
    if (h->tlsa.rc != TP_DNS_PENDING) {
        char name[TP_DOMAIN_MAX + 10];

        snprintf(name, sizeof(name), "_25._tcp.%s", h->base);
        rh->tlsa_name = str(a, name);
    }
    rh->note = str(a, h->note);
    rh->tlsa_base = str(a, h->base);
    if (h->addr.rc == TP_DNS_OK && h->addr.n > 0) {
        char (*addrs)[46] = take(a, h->addr.n * sizeof(*addrs));

        if (addrs != NULL)
            memcpy(addrs, h->addr.addr, h->addr.n * sizeof(*addrs));
        rh->addrs = (const char (*)[46])addrs;
        rh->n_addrs = h->addr.n;
    }
    if (h->n_usable == 0)
        return;
    text = take(a, h->n_usable * sizeof(*text));
    recs = take(a, h->n_usable * sizeof(*recs));
    for (j = 0; j < h->n_recs && k < h->n_usable; j++) {
        char txt[176]; /* long Full(0) data is elided in the middle */
        const char *t;
        uint8_t *data;

        if (h->why[j] != TP_TLSA_OK)
            continue;
        tp_tlsa_format(&h->recs[j], txt, sizeof(txt));
        t = str(a, txt);
        data = take(a, h->recs[j].len);
        if (text != NULL) {
            text[k] = t;
            recs[k] = h->recs[j];
            recs[k].data = data;
            memcpy(data, h->recs[j].data, h->recs[j].len);
        }
        k++;
    }
    rh->tlsa = text;
    rh->n_tlsa = rh->n_recs = k;
    rh->recs = recs;
}

/* fill - the result of a finished lookup into r, its body from a */
static void
fill(struct arena *a, struct tlspol_result *r, const struct tp_lookup *lk,
     bool with_trace)
{
    const struct tp_verdict_out *v = &lk->vout;
    struct tp_result_host *hosts, scratch;
    size_t i;

    memset(r, 0, sizeof(*r));
    r->verdict = v->verdict;
    r->source = v->source;
    r->sts_mode = v->mode;
    r->domain = str(a, lk->domain);
    r->reason = str(a, v->reason);
    if (v->mode != TLSPOL_STS_MODE_ABSENT) {
        r->sts_id = str(a, lk->sts_txt.id);
        r->max_age = lk->pol.max_age;
        r->fetched_at = lk->fetched_at;
        r->expires = lk->fetched_at + (int64_t)lk->pol.max_age;
        r->sts_mx = strs(a, lk->pol.mx, lk->pol.n_mx);
        r->n_sts_mx = lk->pol.n_mx;
    }
    r->mx = strs(a, lk->decide_mx, lk->n_decide_mx);
    r->n_mx = lk->n_decide_mx;
    r->published = v->published;
    r->local_level = v->local_level;
    r->weakens = v->weakens;
    r->failopen = v->failopen;
    r->compat = lk->ctx->postfix_compat;
    r->mx_sec = lk->mx.sec;
    r->dane_available = v->dane_available;
    hosts = v->n_hosts > 0 ? take(a, v->n_hosts * sizeof(*hosts)) : NULL;
    for (i = 0; i < v->n_hosts; i++)
        fill_host(a, hosts != NULL ? &hosts[i] : &scratch, &v->hosts[i],
                  i < lk->n_hosts ? &lk->hosts[i] : NULL);
    r->hosts = hosts;
    r->n_hosts = v->n_hosts;
    if (with_trace) {
        r->trace = strs(a, lk->trace, lk->n_trace);
        r->n_trace = lk->n_trace;
    }
}

tlspol_result *
tp_result_from_lookup(const struct tp_lookup *lk, bool with_trace)
{
    struct arena a = { NULL, sizeof(struct tp_result_body) };
    struct tlspol_result *r = tp_malloc(sizeof(*r));
    struct tp_result_body *body;

    if (r == NULL)
        return NULL;
    fill(&a, r, lk, with_trace);
    if ((body = tp_malloc(a.used)) == NULL) {
        tp_free(r);
        return NULL;
    }
    atomic_init(&body->refs, 1);
    body->postfix = NULL;
    a.base = (char *)body;
    a.used = sizeof(*body);
    fill(&a, r, lk, with_trace);
    r->body = body;
    return r;
}

int
tp_result_seal(tlspol_result *r)
{
    if (tlspol_result_postfix_policy(r, 0) == NULL)
        return TP_ENOMEM;
    r->body->postfix = r->postfix;
    r->postfix = NULL;
    return TP_OK;
}

tlspol_result *
tp_result_hit(const tlspol_result *s, int64_t age, int64_t left)
{
    tlspol_result *r = tp_malloc(sizeof(*r));

    if (r == NULL)
        return NULL;
    *r = *s;
    r->hit = true;
    r->hit_age = age;
    r->hit_left = left;
    r->note = r->postfix = r->json = NULL;
    atomic_fetch_add_explicit(&r->body->refs, 1, memory_order_relaxed);
    return r;
}

TP_EXPORT void
tlspol_result_free(tlspol_result *r)
{
    if (r == NULL)
        return;
    if (atomic_fetch_sub_explicit(&r->body->refs, 1,
                                  memory_order_acq_rel) == 1) {
        tp_free(r->body->postfix);
        tp_free(r->body);
    }
    tp_free(r->note);
    tp_free(r->postfix);
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
    return r ? r->sts_id : NULL;
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
    if (compat == 0)
        compat = r->compat;
    if (compat == r->compat && r->body->postfix != NULL)
        return r->body->postfix;
    tp_buf_init(&b, TP_POSTFIX_REPLY_MAX);
    switch (tp_postfix_render(r, compat, &b)) {
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
    return r ? r->n_trace + r->hit : 0;
}

TP_EXPORT const char *
tlspol_result_trace(const tlspol_result *r, size_t i)
{
    char line[160];
    tlspol_result *w = (tlspol_result *)(uintptr_t)r; /* lazy, own handle */

    if (r == NULL || i >= r->n_trace + r->hit)
        return NULL;
    if (i < r->n_trace)
        return r->trace[i];
    if (r->note == NULL) {
        snprintf(line, sizeof(line), "cache: result of a lookup %lld s ago, "
                 "reused for %lld s more (least DNS TTL); its trace is not "
                 "kept", (long long)r->hit_age, (long long)r->hit_left);
        w->note = tp_strndup(line, strlen(line));
    }
    return r->note;
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
    for (i = 0; rc == TP_OK && i < tlspol_result_trace_count(r); i++) {
        const char *t = tlspol_result_trace(r, i);

        if (t == NULL)
            return TP_ENOMEM;
        if (i > 0)
            rc = tp_buf_puts(b, ",");
        if (rc == TP_OK)
            rc = tp_buf_json_str(b, t, strlen(t));
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
