/*
 * sts_cache.h - the MTA-STS policy cache (RFC 8461 §3.3, §5.1): the pure
 * decisions, and an in-memory store owned by the context.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_STS_CACHE_H
#define TP_STS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "sts.h"
#include "tp_limits.h"

/* RFC 8461 §3.3: wait at least 5 minutes before retrying a failed fetch
 * of the same policy id. */
#define TP_STS_RETRY_SECS 300
/* Hash buckets of the policy cache. */
#define TP_STS_BUCKETS 4096

/* One cached policy. */
struct tp_sts_entry {
    char domain[TP_DOMAIN_MAX + 1];
    char id[TP_STS_ID_MAX + 1];       /* id of the TXT record it came with */
    struct tp_sts_policy pol;         /* owned */
    int64_t fetched_at;               /* last successful fetch */
    int64_t used_at;                  /* last time a lookup used it */
    int64_t refresh_at;               /* last proactive refresh started */
    int64_t failed_at;                /* last failed fetch, 0 if none */
    char failed_id[TP_STS_ID_MAX + 1];/* the id that fetch was for */
    uint8_t hash[32];                 /* SHA-256 of the body */
    struct tp_sts_entry *next;        /* hash chain */
};

struct tp_sts_cache {
    struct tp_sts_entry **bucket;     /* owned array of TP_STS_BUCKETS */
    size_t n;
};

/* What discovery found in DNS this time. */
enum tp_sts_txt_state {
    TP_TXT_VALID = 0,   /* exactly one valid v=STSv1 record */
    TP_TXT_NONE,        /* no record, several, invalid, or lookup failed */
};

enum tp_sts_step {
    TP_CACHE_FETCH = 0, /* fetch the policy */
    TP_CACHE_USE,       /* use the cached policy, no fetch */
    TP_CACHE_NONE,      /* no policy (nothing valid cached, no TXT) */
};

/*
 * tp_sts_cache_decide - before fetching (RFC 8461 §3.1, §3.3, §5.1):
 * a valid cached policy with the same id is used as is; a new id means a
 * fetch, unless a fetch for that id failed less than TP_STS_RETRY_SECS
 * ago while a valid policy is cached; no (valid) TXT record keeps a
 * valid cached policy in force ("a missing TXT record does not remove a
 * cached policy").  e may be NULL (nothing cached); now is wall-clock.
 */
enum tp_sts_step tp_sts_cache_decide(const struct tp_sts_entry *e,
                                     enum tp_sts_txt_state txt,
                                     const char *txt_id, int64_t now);

/* tp_sts_entry_valid - cached and not older than its max_age */
int tp_sts_entry_valid(const struct tp_sts_entry *e, int64_t now);

/* tp_sts_cache_remove - drop the entry of a domain (no-op if absent) */
void tp_sts_cache_remove(struct tp_sts_cache *c, const char *domain);

/* tp_name_hash - FNV-1a of a NUL-terminated name, for hash tables */
uint32_t tp_name_hash(const char *s);

/* tp_sts_cache_init / _free - an empty cache; releasing every entry */
int tp_sts_cache_init(struct tp_sts_cache *c);
void tp_sts_cache_free(struct tp_sts_cache *c);
/* tp_sts_cache_get - the entry for a domain (valid or not), or NULL */
struct tp_sts_entry *tp_sts_cache_get(struct tp_sts_cache *c,
                                      const char *domain);
/*
 * tp_sts_cache_put - store a freshly fetched policy (deep copy); returns
 * 1 when an entry with the same id but different content was replaced
 * (RFC 8461 §3.1: a policy change should come with a new id), 0 when
 * stored, -1 on allocation failure (the old entry stays).
 */
int tp_sts_cache_put(struct tp_sts_cache *c, const char *domain,
                     const char *id, const struct tp_sts_policy *pol,
                     const uint8_t *body, size_t len, int64_t now);
/*
 * tp_sts_cache_adopt - install e (checked, from a store) in place of any
 * entry of its domain, taking its policy (e->pol is emptied): the cached
 * entry, or NULL on allocation failure (e is then unchanged).
 */
struct tp_sts_entry *tp_sts_cache_adopt(struct tp_sts_cache *c,
                                        struct tp_sts_entry *e);
struct tp_buf;
/*
 * tp_sts_cache_export - the valid enforce/testing entries as a
 * STARTTLS-Everywhere policy list (format 0.1): timestamp now, expires at
 * the latest entry's expiry, "*.x" patterns written ".x" (RULES.md: one
 * label, as read back).  Mode none cannot be written in that format and
 * is left out.  TP_OK, TP_ENOMEM or TP_ETOOBIG.
 */
int tp_sts_cache_export(const struct tp_sts_cache *c, int64_t now,
                        struct tp_buf *out);

/* tp_sts_policy_copy - deep copy of a policy: TP_OK or TP_ENOMEM */
int tp_sts_policy_copy(struct tp_sts_policy *dst,
                       const struct tp_sts_policy *src);

#endif
