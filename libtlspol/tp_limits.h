/*
 * tp_limits.h - every size limit of libtlspol, by name.
 *
 * Each cap bounds memory or time spent on untrusted input (DNS data, HTTP
 * bodies, argv).  Where a value comes from an RFC the section is named.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_TP_LIMITS_H
#define TP_TP_LIMITS_H

/* RFC 1035 §2.3.4: 253 octets of text form without the trailing dot. */
#define TP_DOMAIN_MAX 253
#define TP_LABEL_MAX 63
/* DNS answer cache (dns_cache.c): answers kept, longest TTL honoured. */
#define TP_DNS_CACHE_MAX 100000
#define TP_DNS_CACHE_TTL_MAX 3600
/* Longest shared-store URL (tlspol_ctx_set_shared_store). */
#define TP_SHARED_URL_MAX 512
/* Longest argument accepted as a domain before normalisation (U-labels). */
#define TP_DOMAIN_INPUT_MAX 1024

/* RFC 8461 §3.1: id is 1*32(ALPHA / DIGIT). */
#define TP_STS_ID_MAX 32
/* RFC 8461 §3.1, §3.2: an extension name is (ALPHA / DIGIT) *31(...). */
#define TP_STS_EXT_NAME_MAX 32
/* Our cap on one concatenated _mta-sts TXT record. */
#define TP_STS_TXT_MAX 4096
/* Our cap on TXT records considered at _mta-sts.<domain>. */
#define TP_STS_TXT_RRS_MAX 32

/* RFC 8461 §3.3 suggests 64 KiB as the body limit. */
#define TP_STS_BODY_MAX 65536
/* Our cap on one policy line, and on the number of mx lines. */
#define TP_STS_LINE_MAX 1024
#define TP_STS_MX_MAX 64
/* RFC 8461 §3.2: max_age is at most 31557600 seconds (one year). */
#define TP_STS_MAXAGE_MAX 31557600u
/* RFC 8461 §3.2 ABNF: max_age is 1*10 DIGIT. */
#define TP_STS_MAXAGE_DIGITS 10
/* Content-Type header value accepted for inspection. */
#define TP_STS_CTYPE_MAX 256

/* MX RRs considered per domain; hosts beyond this are reported and dropped. */
#define TP_MX_RRS_MAX 32
/* Addresses per host passed to the HTTPS client. */
#define TP_ADDRS_MAX 16

/* TLSA (RFC 6698): records considered per RRset, and the size of one
 * RDATA (3 octets + association data, e.g. a Full(0) certificate). */
#define TP_TLSA_RRS_MAX 32
#define TP_TLSA_DATA_MAX 16384
/* CNAME links followed for an MX host name before giving up. */
#define TP_CNAME_CHAIN_MAX 8

/* YAML input: configuration file and preload list sizes, nesting depth,
 * and the number of preload domains. */
#define TP_CONFIG_FILE_MAX (1024 * 1024)
#define TP_PRELOAD_FILE_MAX (16 * 1024 * 1024)
#define TP_YAML_DEPTH_MAX 16
/* server: values (tlspol-socketmapd settings): per key, and bytes each */
#define TP_SERVER_VALUES_MAX 16
#define TP_SERVER_VALUE_MAX 1024
#define TP_PRELOAD_DOMAINS_MAX 1000000
#define TP_CONFIG_DOMAINS_MAX 100000

/* Finished results kept until their DNS answers expire, and the longest
 * any is kept (also the cap for huge TTLs). */
#define TP_VCACHE_MAX 200000
#define TP_VCACHE_TTL_MAX 3600

/* MTA-STS policies kept in the context's cache. */
#define TP_STS_CACHE_MAX 1000000

/* Domains whose failing lookups are timed for the failure policy. */
#define TP_FAILSTATE_MAX 4096

/* Lines of --explain trace kept per result. */
#define TP_TRACE_MAX 64
#define TP_TRACE_LINE_MAX 512
/* A human-readable reason. */
#define TP_REASON_MAX 512
/* Context error message. */
#define TP_ERRMSG_MAX 256
/* Concurrent distinct lookups per context. */
#define TP_LOOKUPS_MAX 65536

#endif
