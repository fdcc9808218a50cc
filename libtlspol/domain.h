/*
 * domain.h - domain names and MTA-STS MX patterns (pure, bounded).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_DOMAIN_H
#define TP_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"

/*
 * tp_domain_normalize - turn a next-hop domain as given by a user or MTA
 * into its canonical A-label form: IDNA U-labels to A-labels (libidn2,
 * UTS#46 non-transitional), lowercase, one trailing dot stripped, then
 * validated as an RFC 5321 Domain (LDH labels of 1..63 octets, no leading
 * or trailing hyphen, total <= TP_DOMAIN_MAX).
 *
 * in/len need not be NUL-terminated.  On success out holds a NUL-terminated
 * name.  Returns TP_OK, or TP_ESYNTAX with *e naming the problem (empty
 * name, leading dot, IP literal, label too long, bad character at offset N,
 * ...), or TP_ETOOBIG when len > TP_DOMAIN_INPUT_MAX.
 * Leading-dot keys ("."+domain, Postfix's parent-domain walk), bracketed
 * next hops ("[host]", "[host]:port") and IP addresses are TP_ESYNTAX with
 * a message saying exactly that.
 */
int tp_domain_normalize(const char *in, size_t len,
                        char out[TP_DOMAIN_MAX + 1], struct tp_err *e);

/*
 * tp_mx_pattern_check - validate one MTA-STS "mx:" value (RFC 8461 §3.2):
 * an optional leading "*." then an RFC 5321 Domain in A-label form, no
 * trailing dot.  Returns TP_OK or TP_ESYNTAX with *e set.
 */
int tp_mx_pattern_check(const char *p, size_t len, struct tp_err *e);

/*
 * tp_mx_match - does MX host name `host` match policy pattern `pattern`?
 * RFC 8461 §4.1: exact match, or "*." + rest where host's first label is
 * non-empty and the remainder after it equals rest.  "*" covers exactly
 * one label.  Case-insensitive ASCII; one trailing dot on host ignored.
 */
bool tp_mx_match(const char *pattern, const char *host);

#endif
