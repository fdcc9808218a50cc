/*
 * preload.h - STARTTLS-Everywhere policy list, format 0.1 (JSON, read
 * with libyaml's event parser).  Pure: a buffer in, a table out.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_PRELOAD_H
#define TP_PRELOAD_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "sts.h"

/* One domain's entry after alias resolution. */
struct tp_preload_entry {
    char *domain;               /* owned; lowercase A-label, no dot */
    enum tp_sts_mode mode;      /* TP_STS_MODE_TESTING or _ENFORCE */
    size_t n_mx;
    char **mx;                  /* owned; "mx.example.com", or "*.example.net"
                                 * for a leading-dot entry ".example.net"
                                 * (RULES.md: one label, as MTA-STS "*.") */
};

struct tp_preload {
    int64_t timestamp;          /* Unix seconds */
    int64_t expires;            /* Unix seconds */
    size_t n;
    struct tp_preload_entry *e; /* owned; sorted by domain, unique */
};

/*
 * tp_preload_parse - parse one policy list of len bytes.  Schema 0.1
 * (standards.md A6): top-level object with exactly timestamp, expires,
 * version ("0.1"), policies, policy-aliases, and optional author; no
 * other keys.  timestamp/expires: integer epoch seconds or an RFC 3339
 * string (no time zone = UTC).  policies: domain -> { "policy-alias":
 * name } (nothing else) or { "mode": "testing"|"enforce", "mxs": [...] }
 * (mode required, mxs non-empty, unique, each a domain or a leading-dot
 * suffix, validated with tp_mx_pattern_check after the conversion).
 * policy-aliases: name -> full policy (may not itself use policy-alias);
 * every alias reference must resolve.  Domains are normalized with
 * tp_domain_normalize; duplicates are an error.
 * Returns TP_OK; TP_ESYNTAX with *e like "preload: line 12: $.policies
 * [\"eff.org\"].mxs[1]: \"mail..eff.org\" is not a valid MX name";
 * TP_ETOOBIG (input over TP_PRELOAD_FILE_MAX, nesting over
 * TP_YAML_DEPTH_MAX, more than TP_PRELOAD_DOMAINS_MAX domains);
 * TP_ENOMEM.  On failure *out is empty.  Expiry is not judged here.
 */
int tp_preload_parse(const uint8_t *p, size_t len, struct tp_preload *out,
                     struct tp_err *e);

/* tp_preload_free - release what tp_preload_parse allocated */
void tp_preload_free(struct tp_preload *pl);

/* tp_preload_find - exact-match lookup of a normalized domain (RULES.md:
 * no subdomain inheritance); NULL if absent */
const struct tp_preload_entry *tp_preload_find(const struct tp_preload *pl,
                                               const char *domain);

#endif
