/*
 * sts_cache.c - MTA-STS policy cache (RFC 8461 §3.3, §5.1, §10.2).
 *
 * A policy, once fetched, is used until max_age after the fetch, also
 * while its TXT record is missing or its refresh fails: a commitment is
 * never dropped by an attacker who blocks DNS or HTTPS.  A new TXT id
 * triggers a fetch; a failed fetch keeps the old policy and is not
 * retried for TP_STS_RETRY_SECS.  A body that changes under the same id
 * is detected by its SHA-256.
 *
 * Decisions are pure; the store is a chained hash table of at most
 * TP_STS_CACHE_MAX entries (when full, an insert drops the entry it
 * displaces in its bucket's chain, oldest fetch first).
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "common.h"
#include "sts_cache.h"


int
tp_sts_entry_valid(const struct tp_sts_entry *e, int64_t now)
{
    return e != NULL && e->fetched_at > 0 &&
           now < e->fetched_at + (int64_t)e->pol.max_age;
}

enum tp_sts_step
tp_sts_cache_decide(const struct tp_sts_entry *e, enum tp_sts_txt_state txt,
                    const char *txt_id, int64_t now)
{
    int valid = tp_sts_entry_valid(e, now);

    if (txt != TP_TXT_VALID)
        return valid ? TP_CACHE_USE : TP_CACHE_NONE;
    if (!valid)
        return TP_CACHE_FETCH;
    if (strcmp(e->id, txt_id) == 0)
        return TP_CACHE_USE;
    if (e->failed_at > 0 && now - e->failed_at < TP_STS_RETRY_SECS &&
        strcmp(e->failed_id, txt_id) == 0)
        return TP_CACHE_USE; /* back off (§3.3), the old policy holds */
    return TP_CACHE_FETCH;
}

uint32_t
tp_name_hash(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s != '\0'; s++) {
        h ^= (uint8_t)*s;
        h *= 16777619u;
    }
    return h;
}

/* hash_of - the bucket of a domain */
static size_t
hash_of(const char *s)
{
    return tp_name_hash(s) % TP_STS_BUCKETS;
}

int
tp_sts_cache_init(struct tp_sts_cache *c)
{
    c->n = 0;
    c->bucket = tp_calloc(TP_STS_BUCKETS, sizeof(*c->bucket));
    return c->bucket != NULL ? 0 : -1;
}

void
tp_sts_cache_free(struct tp_sts_cache *c)
{
    size_t i;

    for (i = 0; c->bucket != NULL && i < TP_STS_BUCKETS; i++) {
        struct tp_sts_entry *e = c->bucket[i], *next;

        for (; e != NULL; e = next) {
            next = e->next;
            tp_sts_policy_free(&e->pol);
            tp_free(e);
        }
    }
    tp_free(c->bucket);
    c->bucket = NULL;
    c->n = 0;
}

struct tp_sts_entry *
tp_sts_cache_get(struct tp_sts_cache *c, const char *domain)
{
    struct tp_sts_entry *e;

    if (c->bucket == NULL)
        return NULL;
    for (e = c->bucket[hash_of(domain)]; e != NULL; e = e->next)
        if (strcmp(e->domain, domain) == 0)
            return e;
    return NULL;
}

void
tp_sts_cache_remove(struct tp_sts_cache *c, const char *domain)
{
    struct tp_sts_entry **pp;

    if (c->bucket == NULL)
        return;
    for (pp = &c->bucket[hash_of(domain)]; *pp != NULL; pp = &(*pp)->next)
        if (strcmp((*pp)->domain, domain) == 0) {
            struct tp_sts_entry *e = *pp;

            *pp = e->next;
            tp_sts_policy_free(&e->pol);
            tp_free(e);
            c->n--;
            return;
        }
}

int
tp_sts_policy_copy(struct tp_sts_policy *dst, const struct tp_sts_policy *src)
{
    size_t i;

    *dst = *src;
    dst->mx = NULL;
    dst->n_mx = 0;
    if (src->n_mx == 0)
        return TP_OK;
    dst->mx = tp_calloc(src->n_mx, sizeof(*dst->mx));
    if (dst->mx == NULL)
        return TP_ENOMEM;
    for (i = 0; i < src->n_mx; i++) {
        dst->mx[i] = tp_strndup(src->mx[i], strlen(src->mx[i]));
        if (dst->mx[i] == NULL) {
            tp_sts_policy_free(dst);
            return TP_ENOMEM;
        }
        dst->n_mx = i + 1;
    }
    return TP_OK;
}

/* evict_one - drop the entry with the oldest fetch in a bucket's chain */
static void
evict_one(struct tp_sts_cache *c, size_t b)
{
    struct tp_sts_entry **pp, **oldest = NULL;

    for (pp = &c->bucket[b]; *pp != NULL; pp = &(*pp)->next)
        if (oldest == NULL || (*pp)->fetched_at < (*oldest)->fetched_at)
            oldest = pp;
    if (oldest != NULL) {
        struct tp_sts_entry *e = *oldest;

        *oldest = e->next;
        tp_sts_policy_free(&e->pol);
        tp_free(e);
        c->n--;
    }
}

int
tp_sts_cache_put(struct tp_sts_cache *c, const char *domain, const char *id,
                 const struct tp_sts_policy *pol, const uint8_t *body,
                 size_t len, int64_t now)
{
    struct tp_sts_entry *e = tp_sts_cache_get(c, domain);
    struct tp_sts_policy copy;
    uint8_t hash[32];
    unsigned int hl = 0;
    int changed = 0;
    size_t b = hash_of(domain);

    if (c->bucket == NULL || tp_sts_policy_copy(&copy, pol) != TP_OK)
        return -1;
    if (EVP_Digest(body, len, hash, &hl, EVP_sha256(), NULL) != 1)
        memset(hash, 0, sizeof(hash));
    if (e == NULL) {
        if (c->n >= TP_STS_CACHE_MAX)
            evict_one(c, b);
        e = tp_calloc(1, sizeof(*e));
        if (e == NULL) {
            tp_sts_policy_free(&copy);
            return -1;
        }
        snprintf(e->domain, sizeof(e->domain), "%s", domain);
        e->next = c->bucket[b];
        c->bucket[b] = e;
        c->n++;
    } else {
        changed = e->fetched_at > 0 && strcmp(e->id, id) == 0 &&
                  memcmp(e->hash, hash, sizeof(hash)) != 0;
        tp_sts_policy_free(&e->pol);
    }
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->pol = copy;
    e->fetched_at = now;
    if (e->used_at < now)
        e->used_at = now;
    e->failed_at = 0;
    e->failed_id[0] = '\0';
    memcpy(e->hash, hash, sizeof(hash));
    return changed;
}

struct tp_sts_entry *
tp_sts_cache_adopt(struct tp_sts_cache *c, struct tp_sts_entry *src)
{
    struct tp_sts_entry *e = tp_sts_cache_get(c, src->domain), *next;
    int64_t used;
    size_t b = hash_of(src->domain);

    if (c->bucket == NULL)
        return NULL;
    if (e == NULL) {
        if (c->n >= TP_STS_CACHE_MAX)
            evict_one(c, b);
        if ((e = tp_calloc(1, sizeof(*e))) == NULL)
            return NULL;
        e->next = c->bucket[b];
        c->bucket[b] = e;
        c->n++;
    } else {
        tp_sts_policy_free(&e->pol);
    }
    next = e->next;
    used = e->used_at > src->fetched_at ? e->used_at : src->fetched_at;
    *e = *src;
    e->next = next;
    e->used_at = used;
    memset(&src->pol, 0, sizeof(src->pol));
    return e;
}

/* export_entry - one "domain": {"mode": ..., "mxs": [...]} member */
static int
export_entry(const struct tp_sts_entry *e, int first, struct tp_buf *out)
{
    size_t i;
    int rc = tp_buf_puts(out, first ? "\n    " : ",\n    ");

    if (rc == TP_OK)
        rc = tp_buf_json_str(out, e->domain, strlen(e->domain));
    if (rc == TP_OK)
        rc = tp_buf_printf(out, ": {\"mode\": \"%s\", \"mxs\": [",
                           tp_sts_mode_name(e->pol.mode));
    for (i = 0; rc == TP_OK && i < e->pol.n_mx; i++) {
        const char *p = e->pol.mx[i];

        if (i > 0)
            rc = tp_buf_puts(out, ", ");
        if (p[0] == '*' && p[1] == '.')
            p++; /* ".example.net": one label, as RULES.md reads it */
        if (rc == TP_OK)
            rc = tp_buf_json_str(out, p, strlen(p));
    }
    if (rc == TP_OK)
        rc = tp_buf_puts(out, "]}");
    return rc;
}

int
tp_sts_cache_export(const struct tp_sts_cache *c, int64_t now,
                    struct tp_buf *out)
{
    int64_t expires = now + 1;
    size_t b;
    int rc, first = 1;
    const struct tp_sts_entry *e;

    for (b = 0; c->bucket != NULL && b < TP_STS_BUCKETS; b++)
        for (e = c->bucket[b]; e != NULL; e = e->next)
            if (tp_sts_entry_valid(e, now) &&
                e->fetched_at + (int64_t)e->pol.max_age > expires)
                expires = e->fetched_at + (int64_t)e->pol.max_age;
    rc = tp_buf_printf(out, "{\n  \"version\": \"0.1\",\n  \"author\": "
                       "\"libtlspol MTA-STS cache export\",\n  "
                       "\"timestamp\": %lld,\n  \"expires\": %lld,\n  "
                       "\"policy-aliases\": {},\n  \"policies\": {",
                       (long long)now, (long long)expires);
    for (b = 0; rc == TP_OK && c->bucket != NULL && b < TP_STS_BUCKETS; b++)
        for (e = c->bucket[b]; rc == TP_OK && e != NULL; e = e->next) {
            if (!tp_sts_entry_valid(e, now) ||
                e->pol.mode == TP_STS_MODE_NONE || e->pol.n_mx == 0)
                continue;
            rc = export_entry(e, first, out);
            first = 0;
        }
    if (rc == TP_OK)
        rc = tp_buf_puts(out, "\n  }\n}\n");
    return rc;
}
