/*
 * internal.h - the structures behind the opaque public handles, shared by
 * ctx.c, resolve.c, result.c, dns.c and sts_fetch.c.  Not installed.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_INTERNAL_H
#define TP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>
#include <getdns/getdns.h>

#include "tlspol/tlspol.h"
#include "common.h"
#include "config.h"
#include "dane.h"
#include "dns.h"
#include "loop.h"
#include "sts.h"
#include "sts_cache.h"
#include "verdict.h"

#define TP_EXPORT TLSPOL_EXPORT
/* Entries of tlspol_ctx_stat (tlspol_stat). */
#define TP_STATS_N 10

struct tp_lookup;

struct tlspol_ctx {
    struct tp_loop loop;
    /* options (owned strings) */
    char *resolvers;
    char *trust_anchor_file;
    char *ca_file;
    char *ca_path;
    char *cache_file;              /* persistent store, or NULL */
    struct sqlite3 *db;            /* open store, or NULL */
    char *shared_url;              /* shared store (Redis), or NULL */
    struct tp_shared *shared;      /* its connection (shared.c), or NULL */
    unsigned int timeout_ms;
    enum tp_dnssec_mode dnssec_mode;   /* in force (OFF after a failed
                                          self-test) */
    enum tp_dnssec_mode dnssec_wanted; /* as configured */
    char *check_report;            /* owned: last self-test report */
    char *export_json;             /* owned: last preload export */
    tlspol_log_fn log_fn;
    void *log_ud;
    tlspol_log_level log_max;
    /* engines, created at first resolve */
    bool started;
    getdns_context *gd;
    getdns_dict *gd_ext;
    CURLM *multi;
    struct tp_timer curl_timer;
    /* lookups in flight (coalescing) and finished ones awaiting callbacks */
    struct tp_dns_cache *dcache;   /* DNS answers (dns_cache.c), or NULL */
    struct dnsq *dns_ready;        /* answered from it, awaiting callback */
    uint64_t dns_ready_id;         /* their transaction ids */
    struct tp_lookup *lookups;
    struct tp_lookup *done;
    size_t n_queries;
    int in_callback;
    char errmsg[TP_ERRMSG_MAX];
    /* policy configuration (reloadable) */
    struct tp_config *conf;        /* owned, or NULL */
    struct tp_preload *preload;    /* owned array, later entries win */
    char **preload_files;          /* owned: the file each came from */
    size_t n_preload;
    char **added_files;            /* owned: tlspol_ctx_add_preload()'s
                                      files, reread on each reload */
    size_t n_added;
    unsigned int postfix_compat;   /* major*100+minor */
    /* when each failing domain's security lookups started failing */
    struct tp_failstate *fails;    /* owned array */
    size_t n_fails;
    uint64_t stats[TP_STATS_N];    /* tlspol_stat counters */
    /* proactive refresh (tlspol_ctx_set_refresh) */
    struct tp_timer refresh_timer;
    unsigned int refresh_ahead, refresh_parallel, refresh_period_ms;
    unsigned int evict_idle;
    unsigned int refreshing;       /* refresh lookups in flight */
    uint32_t rng;                  /* jitter */
    struct tp_sts_cache sts_cache; /* MTA-STS policies (RFC 8461 §3.3) */
    struct tp_vc_entry **vcache;   /* owned buckets: finished results */
    size_t n_vcache;
    struct tp_ready *ready;        /* cache hits awaiting their callback */
    struct tp_ready **ready_tail;
};

/* First failure time of one domain (failure policy, DESIGN §5). */
struct tp_failstate {
    char domain[TP_DOMAIN_MAX + 1];
    int64_t since;                 /* wall-clock seconds */
};

struct tlspol_query {
    struct tlspol_ctx *ctx;
    struct tp_lookup *lk;          /* the shared lookup */
    struct tlspol_query *next;     /* in lk->waiters */
    tlspol_result_cb cb;
    void *ud;
};

/* One HTTPS policy fetch (sts_fetch.c). */
struct tp_fetch {
    CURL *easy;                    /* owned */
    struct curl_slist *resolve;    /* owned */
    char url[TP_DOMAIN_MAX + 64];
    char host[TP_DOMAIN_MAX + 1];
    uint8_t *body;                 /* owned */
    size_t len;
    bool too_big;
    long http_code;
    char ctype[TP_STS_CTYPE_MAX];
    int ok;                        /* 1: 200 + text/plain + body in hand */
    char err[TP_REASON_MAX];
    uint64_t started, ms;
    void (*done)(struct tp_fetch *f);
    void *arg;
    char curl_err[CURL_ERROR_SIZE];
};

/* DANE lookups for one MX host (RFC 7672 §2.2.2, §2.2.3). */
struct tp_host {
    struct tp_lookup *lk;          /* owner */
    char name[TP_DOMAIN_MAX + 1];
    unsigned int pref;
    struct tp_dns_answer addr;     /* A + AAAA of name */
    struct tp_dns_answer cname;    /* CNAME at name (insecure-target case) */
    struct tp_dns_answer tlsa;     /* TLSA at _25._tcp.<base> */
    uint64_t tid;                  /* the one DNS query in flight */
    bool busy;
    bool tried_orig;               /* TLSA fallback to the original name */
    char base[TP_DOMAIN_MAX + 1];  /* TLSA base domain last queried */
    enum tp_host_dane dane;
    char note[160];
    struct tp_tlsa *recs;          /* owned: parsed TLSA records */
    enum tp_tlsa_why *why;         /* owned: per record */
    size_t n_recs, n_usable;
};

/* A lookup shared by every query for one domain. */
struct tp_lookup {
    struct tlspol_ctx *ctx;
    struct tp_lookup *next;        /* in ctx->lookups or ctx->done */
    struct tlspol_query *waiters;
    char domain[TP_DOMAIN_MAX + 1];
    char sts_host[TP_DOMAIN_MAX + 1];
    int pending;                   /* sub-operations outstanding */
    bool nomem;                    /* an allocation of ours failed */
    uint64_t started;
    int64_t fetched_at;            /* wall-clock seconds */
    /* DNS */
    struct tp_dns_answer mx, txt, addr;
    struct tp_host *hosts;         /* owned array, DANE per MX host */
    size_t n_hosts;
    int null_mx;
    bool dane_checked;
    uint64_t mx_tid, txt_tid, addr_tid;
    bool mx_busy, txt_busy, addr_busy;
    /* MTA-STS */
    int txt_rc;                    /* tp_sts_txt_select result */
    struct tp_err txt_err;
    struct tp_sts_txt sts_txt;
    struct tp_fetch fetch;
    bool fetch_busy, fetch_ran;
    int pol_rc;                    /* tp_sts_policy_parse result */
    bool from_cache;               /* pol is the cached policy */
    bool refresh;                  /* started by the refresh timer:
                                      fetch even if the id is unchanged */
    bool shared_asked;             /* the shared store was asked */
    bool shared_busy;              /* ... and has not answered yet */
    bool shared_newer;             /* its entry replaced the local one */
    struct tp_err pol_err;
    struct tp_sts_policy pol;
    /* decision */
    struct tp_verdict_out vout;
    char **decide_mx;              /* owned copy of vout.mx */
    size_t n_decide_mx;
    char *trace[TP_TRACE_MAX];     /* owned lines */
    size_t n_trace;
};

/*
 * A result is a small handle on an immutable body: one allocation that
 * holds every string and array the handle points to.  The verdict cache
 * keeps a template; each cache hit hands out a new handle on the same
 * body (a reference, no copy), so a hit costs one small allocation and
 * a cached domain costs one body.  Handles are independent (each owns its
 * lazily built texts); bodies are shared across threads read-only.
 */
struct tp_result_body;

struct tlspol_result {
    tlspol_verdict verdict;
    tlspol_source source;
    tlspol_sts_mode sts_mode;
    enum tp_dnssec mx_sec;
    tlspol_verdict published;
    enum tp_level local_level;
    int weakens, failopen;
    int dane_available;
    uint32_t max_age;
    unsigned int compat;           /* context's Postfix level at creation */
    int64_t fetched_at, expires;
    const char *domain;
    const char *reason;
    const char *sts_id;            /* NULL without an MTA-STS policy */
    const char *const *mx;         /* the deciding MX patterns */
    size_t n_mx;
    const char *const *sts_mx;     /* the MTA-STS policy's mx */
    size_t n_sts_mx;
    const struct tp_result_host *hosts;
    size_t n_hosts;
    const char *const *trace;
    size_t n_trace;
    struct tp_result_body *body;   /* shared: owns all of the above */
    int64_t hit_age, hit_left;     /* a cache hit: the trace's last line */
    bool hit;
    char *note;                    /* owned: that line, built on request */
    char *postfix;                 /* owned, built on request */
    char *json;                    /* owned, built on request */
};

struct tp_result_host {
    const char *name;
    unsigned int pref;
    int sts_match;
    enum tp_host_dane dane;
    enum tp_dnssec addr_sec, tlsa_sec;
    const char *tlsa_name;         /* "" when no TLSA was queried */
    const char *note;
    const char *const *tlsa;       /* usable records as text */
    size_t n_tlsa;
    const struct tp_tlsa *recs;    /* usable records, binary */
    size_t n_recs;
    const char *tlsa_base;         /* TLSA base domain (RFC 7672 §3.2.2
                                      reference identifier) */
    const char (*addrs)[46];       /* the host's addresses */
    size_t n_addrs;
};

/* ctx.c */
void tp_ctx_seterr(struct tlspol_ctx *ctx, const char *fmt, ...)
    TP_PRINTF(2, 3);
void tp_log(struct tlspol_ctx *ctx, tlspol_log_level lvl, const char *id,
            const char *fmt, ...) TP_PRINTF(4, 5);
tlspol_status tp_ctx_start(struct tlspol_ctx *ctx);

/* sts_fetch.c */
int tp_fetch_setup(struct tlspol_ctx *ctx);
void tp_fetch_teardown(struct tlspol_ctx *ctx);
/* tp_fetch_start - 0, TP_ENOMEM, or -1 (f->err says why) */
int tp_fetch_start(struct tlspol_ctx *ctx, struct tp_fetch *f,
                   const char *host, const struct tp_dns_answer *addrs);
void tp_fetch_cancel(struct tlspol_ctx *ctx, struct tp_fetch *f);
void tp_fetch_clear(struct tp_fetch *f);

/* resolve.c */
void tp_vcache_flush(struct tlspol_ctx *ctx);
void tp_refresh_tick(struct tp_timer *t);
void tp_lookup_cancel_all(struct tlspol_ctx *ctx);
void tp_run_done(struct tlspol_ctx *ctx);

/* result.c */
/* tp_result_from_lookup - the result of a finished lookup; the verdict
 * cache keeps its templates without the trace (most of their size) */
tlspol_result *tp_result_from_lookup(const struct tp_lookup *lk,
                                     bool with_trace);
/* tp_result_seal - prepare a template for sharing (renders its Postfix
 * reply once); TP_OK or TP_ENOMEM */
int tp_result_seal(tlspol_result *r);
/* tp_result_hit - a new handle on r's body for a cache hit that is age
 * seconds old and valid left more (a trace line says so), or NULL */
tlspol_result *tp_result_hit(const tlspol_result *r, int64_t age,
                             int64_t left);

/* A finished result kept until its DNS answers expire (verdict cache). */
struct tp_vc_entry {
    const char *domain;            /* the template's */
    tlspol_result *tmpl;           /* owned */
    int64_t stored, expires;       /* wall-clock seconds */
    struct tp_vc_entry *next;
};

/* A query answered from the verdict cache, waiting for dispatch. */
struct tp_ready {
    struct tlspol_query *q;        /* owned */
    tlspol_result *res;            /* owned until handed to the callback */
    struct tp_ready *next;
};

#endif
