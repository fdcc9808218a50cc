/*
 * shared.h - the optional shared MTA-STS policy store (Redis or Valkey)
 * that a fleet of MTAs uses to fetch each policy once.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_SHARED_H
#define TP_SHARED_H

#include <stdbool.h>
#include <stdint.h>

#include "sts_cache.h"

struct tlspol_ctx;
struct tp_lookup;
struct tp_shared;

/* How long a lookup waits for the shared store before going on without
 * it; a reply later than this marks the store down. */
#define TP_SHARED_TIMEOUT_MS 500
/* Reconnect backoff after a failure: doubles from MIN to MAX. */
#define TP_SHARED_BACKOFF_MIN_MS 1000
#define TP_SHARED_BACKOFF_MAX_MS 30000

/*
 * tp_shared_parse_url - check "redis://[:PASSWORD@]HOST[:PORT][/DB]" or
 * "unix:/PATH" (optionally "unix:/PATH?db=N"): 0, or -1 with the reason
 * in why (size wlen).  Parses only; used by the setter.
 */
int tp_shared_parse_url(const char *url, char *why, size_t wlen);

struct redisReply;
struct redisReader;
/* tp_shared_reader_bound - make r refuse arrays of over 32 elements
 * (hiredis would allocate what a reply announces): 0, or -1 */
int tp_shared_reader_bound(struct redisReader *r);

/*
 * tp_shared_parse_entry - an HGETALL reply (untrusted) for domain into e
 * (its policy then owned by the caller): 1 entry, 0 none (empty, or
 * another schema: why says which), -1 invalid (why says what).  At most
 * 16 fields, each a string without NUL of bounded length; then checked
 * by tp_sts_entry_check.  Pure.
 */
int tp_shared_parse_entry(const struct redisReply *r, const char *domain,
                          struct tp_sts_entry *e, const char **why,
                          int64_t now);

/* tp_shared_open - start connecting to ctx->shared_url (at context
 * start): 0, or -1 with ctx->errmsg set (only for a malformed URL or no
 * memory; an unreachable store is not an error) */
int tp_shared_open(struct tlspol_ctx *ctx);
/* tp_shared_close - drop the connection; lookups waiting on it go on
 * (NULL-safe) */
void tp_shared_close(struct tlspol_ctx *ctx);

/*
 * tp_shared_get - ask the store for domain's policy.  done(lk, e) runs
 * later from the loop with a checked entry (the callee may take e->pol;
 * what is left is freed after it returns), or e NULL when there is none,
 * it is invalid, or the store failed or did not answer in time.  0 when asked (also while the
 * connection is being made); -1 while the store is down between
 * reconnects (done is never called).
 */
int tp_shared_get(struct tlspol_ctx *ctx, struct tp_lookup *lk,
                  const char *domain,
                  void (*done)(struct tp_lookup *lk, struct tp_sts_entry *e));
/* tp_shared_forget - lk goes away: its pending get will not call back */
void tp_shared_forget(struct tlspol_ctx *ctx, struct tp_lookup *lk);
/* tp_shared_put - write e unless the store holds a later fetch */
void tp_shared_put(struct tlspol_ctx *ctx, const struct tp_sts_entry *e);
/* tp_shared_delete - remove domain's entry */
void tp_shared_delete(struct tlspol_ctx *ctx, const char *domain);
/* tp_shared_up - 1 when connected and answering, 0 if not, -1 when no
 * shared store is configured */
int tp_shared_up(const struct tlspol_ctx *ctx);

#endif
