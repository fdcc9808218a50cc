/*
 * dns_cache.c - DNS answers kept for their TTL, so that lookups of many
 * domains that share MX hosts (most mail goes to a few providers) ask
 * for and validate each host's address and TLSA records once per TTL.
 *
 * Only final, trustworthy answers are kept: records, NODATA or NXDOMAIN
 * (RFC 2308 §5: for the SOA's negative TTL) whose DNSSEC state is secure
 * or insecure, with a known TTL, nothing dropped, no allocation lost.
 * Failures and bogus answers are always asked again.  TTLs are capped at
 * TP_DNS_CACHE_TTL_MAX; the table holds at most TP_DNS_CACHE_MAX answers
 * (a full chain drops its oldest).  Time is the loop's monotonic clock.
 *
 * Not pure.  SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "dns_cache.h"
#include "internal.h"
#include "sts_cache.h"

#define DC_BUCKETS 8192

struct tp_dc_entry {
    struct tp_dc_entry *next;
    uint64_t expires;              /* monotonic ms */
    struct tp_dns_answer a;        /* owned deep copy */
    uint16_t qtype;
    char name[];                   /* lowercase */
};

struct tp_dns_cache {
    struct tp_dc_entry *bucket[DC_BUCKETS];
    size_t n;
};

/* copy - deep copy of an answer's records: 0, or -1 (dst emptied) */
static int
copy(struct tp_dns_answer *dst, const struct tp_dns_answer *src)
{
    size_t i;

    *dst = *src;
    dst->mx = NULL;
    dst->rd = NULL;
    dst->addr = NULL;
    if (src->mx != NULL &&
        (dst->mx = tp_malloc(src->n * sizeof(*dst->mx))) == NULL)
        goto fail;
    if (src->mx != NULL)
        memcpy(dst->mx, src->mx, src->n * sizeof(*dst->mx));
    if (src->addr != NULL &&
        (dst->addr = tp_malloc(src->n * sizeof(*dst->addr))) == NULL)
        goto fail;
    if (src->addr != NULL)
        memcpy(dst->addr, src->addr, src->n * sizeof(*dst->addr));
    if (src->rd != NULL) {
        if ((dst->rd = tp_calloc(src->n, sizeof(*dst->rd))) == NULL)
            goto fail;
        for (i = 0; i < src->n; i++) {
            dst->rd[i].len = src->rd[i].len;
            dst->rd[i].data = tp_malloc(src->rd[i].len + 1);
            if (dst->rd[i].data == NULL)
                goto fail;
            memcpy(dst->rd[i].data, src->rd[i].data, src->rd[i].len);
            dst->rd[i].data[src->rd[i].len] = '\0';
        }
    }
    return 0;
fail:
    tp_dns_answer_free(dst);
    return -1;
}

static void
drop(struct tp_dns_cache *c, struct tp_dc_entry **pp)
{
    struct tp_dc_entry *e = *pp;

    *pp = e->next;
    tp_dns_answer_free(&e->a);
    tp_free(e);
    c->n--;
}

int
tp_dns_cache_get(struct tlspol_ctx *ctx, const char *name, uint16_t qtype,
                 struct tp_dns_answer *out)
{
    struct tp_dns_cache *c = ctx->dcache;
    struct tp_dc_entry **pp, *e;
    uint64_t now;

    if (c == NULL)
        return 0;
    now = tp_loop_now();
    for (pp = &c->bucket[tp_name_hash(name) % DC_BUCKETS]; (e = *pp) != NULL;
         pp = &e->next) {
        if (e->qtype != qtype || strcmp(e->name, name) != 0)
            continue;
        if (e->expires <= now) {
            drop(c, pp);
            return 0;
        }
        if (copy(out, &e->a) != 0)
            return 0;
        out->ttl = (uint32_t)((e->expires - now + 999) / 1000);
        out->ms = 0;
        return 1;
    }
    return 0;
}

void
tp_dns_cache_put(struct tlspol_ctx *ctx, const char *name, uint16_t qtype,
                 const struct tp_dns_answer *a)
{
    struct tp_dns_cache *c = ctx->dcache;
    struct tp_dc_entry **head, **pp, *e;
    uint64_t now = tp_loop_now();
    uint32_t ttl = a->ttl < TP_DNS_CACHE_TTL_MAX ? a->ttl
                                                  : TP_DNS_CACHE_TTL_MAX;
    size_t len = strlen(name);

    if (ttl == 0 || a->nomem || a->dropped > 0 ||
        (a->rc != TP_DNS_OK && a->rc != TP_DNS_NODATA &&
         a->rc != TP_DNS_NXDOMAIN) ||
        (a->sec != TP_SEC_SECURE && a->sec != TP_SEC_INSECURE))
        return;
    if (c == NULL && (c = ctx->dcache = tp_calloc(1, sizeof(*c))) == NULL)
        return;
    head = &c->bucket[tp_name_hash(name) % DC_BUCKETS];
    for (pp = head; (e = *pp) != NULL;) {
        if ((e->qtype == qtype && strcmp(e->name, name) == 0) ||
            e->expires <= now || c->n >= TP_DNS_CACHE_MAX) {
            drop(c, pp);
            continue;
        }
        pp = &e->next;
    }
    if (c->n >= TP_DNS_CACHE_MAX)
        return; /* full of live entries in other chains: skip this one */
    if ((e = tp_malloc(sizeof(*e) + len + 1)) == NULL)
        return;
    if (copy(&e->a, a) != 0) {
        tp_free(e);
        return;
    }
    e->qtype = qtype;
    memcpy(e->name, name, len + 1);
    e->expires = now + (uint64_t)ttl * 1000;
    e->next = *head;
    *head = e;
    c->n++;
}

void
tp_dns_cache_free(struct tlspol_ctx *ctx)
{
    struct tp_dns_cache *c = ctx->dcache;
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < DC_BUCKETS; i++)
        while (c->bucket[i] != NULL)
            drop(c, &c->bucket[i]);
    tp_free(c);
    ctx->dcache = NULL;
}
