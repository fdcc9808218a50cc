/*
 * dns_cache.h - DNS answers kept for their TTL (see dns_cache.c).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_DNS_CACHE_H
#define TP_DNS_CACHE_H

#include <stdint.h>

#include "dns.h"

struct tlspol_ctx;

/* tp_dns_cache_get - a deep copy of the live answer for name/qtype into
 * *out, its ttl the time left: 1; 0 when there is none */
int tp_dns_cache_get(struct tlspol_ctx *ctx, const char *name,
                     uint16_t qtype, struct tp_dns_answer *out);
/* tp_dns_cache_put - keep a copy of a final, trustworthy answer */
void tp_dns_cache_put(struct tlspol_ctx *ctx, const char *name,
                      uint16_t qtype, const struct tp_dns_answer *a);
/* tp_dns_cache_free - drop everything */
void tp_dns_cache_free(struct tlspol_ctx *ctx);

#endif
