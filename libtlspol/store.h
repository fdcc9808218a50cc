/*
 * store.h - the persistent MTA-STS policy store (SQLite in WAL mode): the
 * context's policy cache survives restarts and kill -9.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_STORE_H
#define TP_STORE_H

#include "common.h"
#include "sts_cache.h"

struct tlspol_ctx;

/* tp_store_open - open (creating) the store at ctx->cache_file and load
 * its unexpired, valid entries into ctx->sts_cache: 0, or -1 with
 * ctx->errmsg set */
int tp_store_open(struct tlspol_ctx *ctx);
/* tp_store_close - close the store (NULL-safe) */
void tp_store_close(struct tlspol_ctx *ctx);
/* tp_store_put - write one entry (insert or replace); errors are logged,
 * the in-memory cache stays authoritative */
void tp_store_put(struct tlspol_ctx *ctx, const struct tp_sts_entry *e);

/* The fields of a stored policy, as read back (from the cache file or
 * the shared store): untrusted until tp_sts_entry_check accepts them. */
struct tp_sts_fields {
    const char *domain, *id, *failed_id;
    const char *mx;               /* patterns, "\n"-separated */
    int64_t mode, max_age, fetched_at, failed_at;
    const void *hash;             /* 32 bytes, or NULL if not that long */
};

/* tp_sts_entry_check - check f as a policy from the network would be
 * (name, id syntax, mode, max_age cap, mx patterns, a fetch time not in
 * the future) and fill e (its policy owned by the caller): 0, or -1 */
int tp_sts_entry_check(struct tp_sts_entry *e, const struct tp_sts_fields *f,
                       int64_t now);

/* tp_store_delete - remove a domain's row (errors logged) */
void tp_store_delete(struct tlspol_ctx *ctx, const char *domain);

#endif
