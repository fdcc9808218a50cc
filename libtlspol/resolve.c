/*
 * resolve.c - one lookup per domain, shared by every query for it
 * (coalescing); the lookup runs MX, TXT, policy-host address and HTTPS
 * fetch steps on the loop, records each outcome as a trace line, then asks
 * the pure evaluator for the verdict.
 *
 * RFC 8461 §3 (discovery), §5 (application).  Not pure.
 * Limits: TP_TRACE_MAX lines of TP_TRACE_LINE_MAX.
 * SPDX-License-Identifier: MIT
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "domain.h"
#include "internal.h"
#include "msgid.h"
#include "shared.h"
#include "store.h"
#include "sts_cache.h"

static void finish(struct tp_lookup *lk);

/* trace - append one printf-formatted line to the lookup's trace */
static void TP_PRINTF(2, 3)
trace(struct tp_lookup *lk, const char *fmt, ...)
{
    char line[TP_TRACE_LINE_MAX];
    va_list ap;

    if (lk->n_trace >= TP_TRACE_MAX)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    lk->trace[lk->n_trace] = tp_strndup(line, strlen(line));
    if (lk->trace[lk->n_trace] != NULL)
        lk->n_trace++;
}

/* step_done - one sub-operation finished */
static void
step_done(struct tp_lookup *lk)
{
    if (--lk->pending == 0)
        finish(lk);
}

/* dns_head - "NOERROR secure, 2 records, ttl 300, 4 ms" */
static void
dns_head(const struct tp_dns_answer *a, char *buf, size_t size)
{
    if (a->rc == TP_DNS_ERROR)
        snprintf(buf, size, "failed: %s (%llu ms)", a->err,
                 (unsigned long long)a->ms);
    else if (a->cached)
        snprintf(buf, size, "%s %s, %zu record%s, cached (%u s left)",
                 tp_dns_rc_name(a->rc), tp_dnssec_name(a->sec), a->n,
                 a->n == 1 ? "" : "s", a->ttl);
    else
        snprintf(buf, size, "%s %s, %zu record%s%s, %llu ms",
                 tp_dns_rc_name(a->rc), tp_dnssec_name(a->sec), a->n,
                 a->n == 1 ? "" : "s", a->dropped ? " (some dropped)" : "",
                 (unsigned long long)a->ms);
}

/* --- DANE per MX host (RFC 7672 §2.2) -------------------------------- */

static void host_start_tlsa(struct tp_host *h, const char *base);

/* host_done - the host's DANE state is final */
static void
host_done(struct tp_host *h, enum tp_host_dane d, const char *fmt, ...)
    TP_PRINTF(3, 4);

static void
host_done(struct tp_host *h, enum tp_host_dane d, const char *fmt, ...)
{
    va_list ap;

    h->dane = d;
    va_start(ap, fmt);
    vsnprintf(h->note, sizeof(h->note), fmt, ap);
    va_end(ap);
    trace(h->lk, "  host %s: DANE %s: %s", h->name, tp_host_dane_name(d),
          h->note);
    if (d == TP_HOST_FAILED)
        tp_log(h->lk->ctx, TLSPOL_LOG_WARN, TP_MSG_DANE_HOST_FAIL,
               "%s: MX host %s is unusable: %s", h->lk->domain, h->name,
               h->note);
    step_done(h->lk);
}

/* failed_state - a lookup that counts as failed for DANE (RFC 7672
 * §2.1.1, §2.1.2: errors, bogus and indeterminate answers) */
static int
failed_state(const struct tp_dns_answer *a)
{
    return a->rc == TP_DNS_ERROR || a->sec == TP_SEC_BOGUS ||
           a->sec == TP_SEC_INDETERMINATE;
}

/* judge_tlsa - parse a secure TLSA RRset and decide DANE or ENCRYPT */
static void
judge_tlsa(struct tp_host *h)
{
    struct tp_dns_answer *a = &h->tlsa;
    size_t i;

    if (a->dropped > 0)
        trace(h->lk, "  %zu TLSA record(s) at %s dropped: over %d octets or "
              "%d records", a->dropped, h->base, TP_TLSA_DATA_MAX,
              TP_TLSA_RRS_MAX);
    h->recs = tp_calloc(a->n, sizeof(*h->recs));
    h->why = tp_calloc(a->n, sizeof(*h->why));
    if (h->recs == NULL || h->why == NULL) {
        h->lk->nomem = true;
        host_done(h, TP_HOST_FAILED, "out of memory");
        return;
    }
    for (i = 0; i < a->n; i++) {
        struct tp_err e;
        char txt[96];
        int rc = tp_tlsa_parse(a->rd[i].data, a->rd[i].len,
                               &h->recs[h->n_recs], &h->why[h->n_recs], &e);

        if (rc == TP_ENOMEM) {
            h->lk->nomem = true;
            host_done(h, TP_HOST_FAILED, "out of memory");
            return;
        }
        if (rc != TP_OK) {
            trace(h->lk, "  TLSA at %s dropped: %s", h->base, e.msg);
            tp_log(h->lk->ctx, TLSPOL_LOG_WARN, TP_MSG_DANE_TLSA_BAD,
                   "%s: TLSA at _25._tcp.%s dropped: %s", h->lk->domain,
                   h->base, e.msg);
            continue;
        }
        if (h->why[h->n_recs] != TP_TLSA_OK) {
            trace(h->lk, "  TLSA %s: unusable: %s",
                  tp_tlsa_format(&h->recs[h->n_recs], txt, sizeof(txt)),
                  e.msg);
            if (h->why[h->n_recs] != TP_TLSA_PKIX_USAGE)
                tp_log(h->lk->ctx, TLSPOL_LOG_WARN, TP_MSG_DANE_TLSA_BAD,
                       "%s: TLSA at _25._tcp.%s unusable: %s",
                       h->lk->domain, h->base, e.msg);
        }
        h->n_recs++;
    }
    h->n_usable = tp_tlsa_select(h->recs, h->why, h->n_recs);
    for (i = 0; i < h->n_recs; i++) {
        char txt[96];

        if (h->why[i] == TP_TLSA_OK || h->why[i] == TP_TLSA_SUPERSEDED)
            trace(h->lk, "  TLSA %s: %s",
                  tp_tlsa_format(&h->recs[i], txt, sizeof(txt)),
                  h->why[i] == TP_TLSA_OK ? "usable"
                  : "superseded by a stronger digest (RFC 7671 §9)");
    }
    if (h->n_usable > 0)
        host_done(h, TP_HOST_DANE, "%zu usable TLSA record%s at "
                  "_25._tcp.%s", h->n_usable, h->n_usable == 1 ? "" : "s",
                  h->base);
    else
        host_done(h, TP_HOST_ENCRYPT, "secure TLSA RRset at _25._tcp.%s "
                  "with no usable record", h->base);
}

/* on_host_tlsa - TLSA answer for h->base (RFC 7672 §2.2.3) */
static void
on_host_tlsa(void *arg)
{
    struct tp_host *h = arg;
    struct tp_dns_answer *a = &h->tlsa;
    char head[160];

    h->busy = false;
    dns_head(a, head, sizeof(head));
    trace(h->lk, "DNS TLSA _25._tcp.%s: %s", h->base, head);
    switch (tp_dane_after_tlsa(a->rc, a->sec, a->dropped > 0,
                               !h->tried_orig)) {
    case TP_STEP_FAILED:
        host_done(h, TP_HOST_FAILED, "TLSA lookup at _25._tcp.%s %s",
                  h->base, a->rc == TP_DNS_ERROR ? a->err
                                                 : tp_dnssec_name(a->sec));
        return;
    case TP_STEP_JUDGE:
        judge_tlsa(h);
        return;
    case TP_STEP_TLSA_NAME:
        tp_dns_answer_free(a);
        host_start_tlsa(h, h->name);
        step_done(h->lk);
        return;
    default:
        host_done(h, TP_HOST_NONE, "no secure TLSA records at _25._tcp.%s "
                  "(%s %s)", h->base, tp_dns_rc_name(a->rc),
                  tp_dnssec_name(a->sec));
    }
}

/* host_start_tlsa - query TLSA at _25._tcp.<base> */
static void
host_start_tlsa(struct tp_host *h, const char *base)
{
    char qname[TP_DOMAIN_MAX + 16];
    int rc;

    snprintf(h->base, sizeof(h->base), "%s", base);
    if (strcmp(base, h->name) == 0)
        h->tried_orig = true;
    if (strlen(base) + 9 > TP_DOMAIN_MAX) {
        h->lk->pending++;
        host_done(h, TP_HOST_NONE, "_25._tcp.%s would exceed %d octets",
                  base, TP_DOMAIN_MAX);
        return;
    }
    snprintf(qname, sizeof(qname), "_25._tcp.%s", base);
    h->busy = true;
    h->lk->pending++;
    rc = tp_dns_lookup_host(h->lk->ctx, qname, GETDNS_RRTYPE_TLSA,
                            &h->tlsa, on_host_tlsa, h, &h->tid);
    if (rc != 0) {
        h->busy = false;
        h->lk->nomem |= rc == TP_ENOMEM;
        host_done(h, TP_HOST_FAILED, "TLSA lookup could not start: %s",
                  h->tlsa.err);
    }
}

/* on_host_cname - is the host name itself a secure CNAME?  Then TLSA is
 * looked up at the original name even though the target's addresses are
 * insecure (RFC 7672 §2.2.2). */
static void
on_host_cname(void *arg)
{
    struct tp_host *h = arg;
    struct tp_dns_answer *a = &h->cname;

    h->busy = false;
    trace(h->lk, "DNS CNAME %s: %s %s -> %s", h->name, tp_dns_rc_name(a->rc),
          tp_dnssec_name(a->sec), a->canon[0] ? a->canon : "-");
    switch (tp_dane_after_cname(a->rc, a->sec)) {
    case TP_STEP_FAILED:
        host_done(h, TP_HOST_FAILED, "CNAME lookup %s",
                  a->rc == TP_DNS_ERROR ? a->err : tp_dnssec_name(a->sec));
        return;
    case TP_STEP_TLSA_NAME:
        host_start_tlsa(h, h->name);
        step_done(h->lk);
        return;
    default:
        host_done(h, TP_HOST_NONE, "address records insecure (via an "
                  "insecure CNAME)");
    }
}

/* on_host_addr - A/AAAA of an MX host (RFC 7672 §2.2.2) */
static void
on_host_addr(void *arg)
{
    struct tp_host *h = arg;
    struct tp_dns_answer *a = &h->addr;
    char head[160];
    int rc;

    h->busy = false;
    dns_head(a, head, sizeof(head));
    trace(h->lk, "DNS A/AAAA %s: %s%s%s", h->name, head,
          a->canon[0] ? ", via CNAME to " : "", a->canon);
    switch (tp_dane_after_addr(a->rc, a->sec, a->cname_seen,
                               a->canon[0] != '\0')) {
    case TP_STEP_FAILED:
        host_done(h, TP_HOST_FAILED, "address lookup %s",
                  a->rc == TP_DNS_ERROR ? a->err : tp_dnssec_name(a->sec));
        return;
    case TP_STEP_NOADDR:
        host_done(h, TP_HOST_NOADDR, "no address records (%s)",
                  tp_dns_rc_name(a->rc));
        return;
    case TP_STEP_TLSA_CANON:
        host_start_tlsa(h, a->canon);
        step_done(h->lk);
        return;
    case TP_STEP_TLSA_NAME:
        host_start_tlsa(h, h->name);
        step_done(h->lk);
        return;
    case TP_STEP_CHECK_CNAME:
        h->busy = true;
        h->lk->pending++;
        rc = tp_dns_lookup_host(h->lk->ctx, h->name, GETDNS_RRTYPE_CNAME,
                                &h->cname, on_host_cname, h, &h->tid);
        if (rc != 0) {
            h->busy = false;
            h->lk->nomem |= rc == TP_ENOMEM;
            host_done(h, TP_HOST_FAILED, "CNAME lookup could not start");
        }
        step_done(h->lk);
        return;
    default:
        host_done(h, TP_HOST_NONE, "address records %s: no DANE "
                  "(RFC 7672 §2.2.2)", tp_dnssec_name(a->sec));
    }
}

/* start_hosts - derive the MX hosts and start DANE lookups for each */
static void
start_hosts(struct tp_lookup *lk)
{
    const char *names[TP_MX_RRS_MAX];
    unsigned int prefs[TP_MX_RRS_MAX];
    size_t i, n;

    if (failed_state(&lk->mx))
        return; /* hosts from a failed or bogus MX answer are not listed */
    n = tp_mx_hosts(lk->domain, lk->mx.rc, lk->mx.mx, lk->mx.n, names,
                    prefs, TP_MX_RRS_MAX, &lk->null_mx);
    if (n == 0)
        return;
    lk->hosts = tp_calloc(n, sizeof(*lk->hosts));
    if (lk->hosts == NULL) {
        lk->nomem = true;
        return;
    }
    lk->n_hosts = n;
    for (i = 0; i < n; i++) {
        struct tp_host *h = &lk->hosts[i];

        h->lk = lk;
        snprintf(h->name, sizeof(h->name), "%s", names[i]);
        h->pref = prefs[i];
    }
    if (!lk->dane_checked)
        return;
    for (i = 0; i < n; i++) {
        struct tp_host *h = &lk->hosts[i];
        int rc;

        h->busy = true;
        lk->pending++;
        rc = tp_dns_lookup_host(lk->ctx, h->name, 0, &h->addr, on_host_addr,
                                h, &h->tid);
        if (rc != 0) {
            h->busy = false;
            lk->nomem |= rc == TP_ENOMEM;
            host_done(h, TP_HOST_FAILED, "address lookup could not start");
        }
    }
}

static void
on_mx(void *arg)
{
    struct tp_lookup *lk = arg;
    char head[160];
    size_t i;

    lk->mx_busy = false;
    dns_head(&lk->mx, head, sizeof(head));
    trace(lk, "DNS MX %s: %s", lk->domain, head);
    for (i = 0; i < lk->mx.n; i++)
        trace(lk, "  MX %u %s", lk->mx.mx[i].pref,
              lk->mx.mx[i].host[0] ? lk->mx.mx[i].host : ".");
    if (lk->mx.rc == TP_DNS_ERROR)
        tp_log(lk->ctx, TLSPOL_LOG_WARN, TP_MSG_DNS_FAIL,
               "%s: MX lookup failed: %s", lk->domain, lk->mx.err);
    start_hosts(lk);
    step_done(lk);
}

static void
on_fetch(struct tp_fetch *f)
{
    struct tp_lookup *lk = f->arg;

    lk->fetch_busy = false;
    if (!f->ok) {
        trace(lk, "HTTPS GET %s", f->err);
        tp_log(lk->ctx, TLSPOL_LOG_WARN, TP_MSG_STS_FETCH_FAIL,
               "%s: policy fetch failed: %s", lk->domain, f->err);
    } else {
        trace(lk, "HTTPS GET %s: 200 \"%s\", %zu bytes, %llu ms", f->url,
              f->ctype, f->len, (unsigned long long)f->ms);
        lk->fetched_at = (int64_t)time(NULL);
        lk->pol_rc = tp_sts_policy_parse(f->body, f->len, &lk->pol,
                                         &lk->pol_err);
        if (lk->pol_rc == TP_ENOMEM)
            lk->nomem = true;
        if (lk->pol_rc != TP_OK) {
            trace(lk, "%s", lk->pol_err.msg);
            tp_log(lk->ctx, TLSPOL_LOG_WARN, TP_MSG_STS_POLICY_BAD,
                   "%s: %s", lk->domain, lk->pol_err.msg);
        } else {
            int put = tp_sts_cache_put(&lk->ctx->sts_cache, lk->domain,
                                       lk->sts_txt.id, &lk->pol, f->body,
                                       f->len, lk->fetched_at);

            if (put >= 0) {
                const struct tp_sts_entry *ce =
                    tp_sts_cache_get(&lk->ctx->sts_cache, lk->domain);

                tp_store_put(lk->ctx, ce);
                tp_shared_put(lk->ctx, ce);
            }
            if (put == 1)
                tp_log(lk->ctx, TLSPOL_LOG_WARN, TP_MSG_STS_CHANGED,
                       "%s: policy content changed without a new id %s "
                       "(RFC 8461 §3.1)", lk->domain, lk->sts_txt.id);
            char mx[TP_TRACE_LINE_MAX / 2] = "";
            size_t i, used = 0;

            for (i = 0; i < lk->pol.n_mx && used < sizeof(mx); i++)
                used += (size_t)snprintf(mx + used, sizeof(mx) - used,
                                         "%s%s", i ? " " : "",
                                         lk->pol.mx[i]);
            trace(lk, "policy: mode %s, max_age %u%s, mx [%s]%s",
                  tp_sts_mode_name(lk->pol.mode), lk->pol.max_age,
                  lk->pol.max_age_raw > lk->pol.max_age
                      ? " (clamped from a larger value)" : "",
                  mx, lk->pol.n_ext ? ", unknown keys ignored" : "");
            if (lk->pol.max_age_raw > lk->pol.max_age)
                tp_log(lk->ctx, TLSPOL_LOG_INFO, TP_MSG_STS_CLAMP,
                       "%s: max_age %llu clamped to %u", lk->domain,
                       (unsigned long long)lk->pol.max_age_raw,
                       lk->pol.max_age);
        }
    }
    tp_free(f->body);
    f->body = NULL;
    step_done(lk);
}

/* use_cache - take the cached policy for this lookup (a deep copy: the
 * entry may be replaced while the lookup waits for other answers) */
static void
use_cache(struct tp_lookup *lk, const struct tp_sts_entry *ce,
          const char *why)
{
    tp_sts_policy_free(&lk->pol);
    if (tp_sts_policy_copy(&lk->pol, &ce->pol) != TP_OK) {
        lk->nomem = true;
        return;
    }
    lk->pol_rc = TP_OK;
    lk->from_cache = true;
    lk->fetched_at = ce->fetched_at;
    snprintf(lk->sts_txt.id, sizeof(lk->sts_txt.id), "%s", ce->id);
    trace(lk, "cache: MTA-STS policy id %s (mode %s, fetched %lld s ago, "
          "valid %lld s more): %s", ce->id, tp_sts_mode_name(ce->pol.mode),
          (long long)((int64_t)time(NULL) - ce->fetched_at),
          (long long)(ce->fetched_at + (int64_t)ce->pol.max_age -
                      (int64_t)time(NULL)), why);
}

static void
on_addr(void *arg)
{
    struct tp_lookup *lk = arg;
    char head[160], list[TP_TRACE_LINE_MAX / 2] = "";
    size_t i, used = 0;
    int rc;

    lk->addr_busy = false;
    dns_head(&lk->addr, head, sizeof(head));
    for (i = 0; i < lk->addr.n && used < sizeof(list); i++)
        used += (size_t)snprintf(list + used, sizeof(list) - used, " %s",
                                 lk->addr.addr[i]);
    trace(lk, "DNS A/AAAA %s: %s%s%s", lk->sts_host, head,
          lk->addr.n ? ":" : "", list);
    if (lk->addr.rc != TP_DNS_OK) {
        snprintf(lk->fetch.err, sizeof(lk->fetch.err),
                 "policy host %s has no address (%s)", lk->sts_host,
                 lk->addr.rc == TP_DNS_ERROR ? lk->addr.err
                                             : tp_dns_rc_name(lk->addr.rc));
        tp_log(lk->ctx, TLSPOL_LOG_WARN, TP_MSG_STS_FETCH_FAIL, "%s: %s",
               lk->domain, lk->fetch.err);
        step_done(lk);
        return;
    }
    lk->fetch.done = on_fetch;
    lk->fetch.arg = lk;
    lk->fetch_ran = true;
    lk->fetch_busy = true;
    lk->pending++;
    rc = tp_fetch_start(lk->ctx, &lk->fetch, lk->sts_host, &lk->addr);
    if (rc != 0) {
        if (rc == TP_ENOMEM)
            lk->nomem = true;
        lk->fetch_busy = false;
        trace(lk, "HTTPS GET %s", lk->fetch.err);
        lk->pending--;
    }
    step_done(lk);
}

static void sts_next(struct tp_lookup *lk);

/* on_shared - the shared store answered (e: a checked entry, or NULL):
 * a newer policy than ours replaces the local one, then discovery goes
 * on as if it had been cached here */
static void
on_shared(struct tp_lookup *lk, struct tp_sts_entry *e)
{
    struct tlspol_ctx *ctx = lk->ctx;
    struct tp_sts_entry *ce = tp_sts_cache_get(&ctx->sts_cache, lk->domain);
    int64_t now = (int64_t)time(NULL);

    lk->shared_busy = false;
    if (e == NULL) {
        trace(lk, "shared store: no entry for %s", lk->domain);
    } else if (!tp_sts_entry_valid(e, now) ||
               (ce != NULL && ce->fetched_at >= e->fetched_at)) {
        trace(lk, "shared store: policy id %s, fetched %lld s ago: not "
              "newer than the local one, or expired", e->id,
              (long long)(now - e->fetched_at));
    } else if ((ce = tp_sts_cache_adopt(&ctx->sts_cache, e)) == NULL) {
        lk->nomem = true;
    } else {
        trace(lk, "shared store: policy id %s (mode %s), fetched %lld s "
              "ago by another node", ce->id, tp_sts_mode_name(ce->pol.mode),
              (long long)(now - ce->fetched_at));
        tp_store_put(ctx, ce);
        ctx->stats[TLSPOL_STAT_SHARED_HITS]++;
        lk->shared_newer = true;
    }
    sts_next(lk);
    step_done(lk);
}

/* ask_shared - whether to ask the shared store before going on: once,
 * and only when its answer could change what happens (a fetch is due, or
 * discovery failed with no valid policy here) */
static bool
ask_shared(struct tp_lookup *lk, enum tp_sts_step step,
           const struct tp_sts_entry *ce, int64_t now)
{
    if (lk->shared_asked || lk->ctx->shared == NULL)
        return false;
    if (lk->txt_rc == TP_OK ? step == TP_CACHE_USE && !lk->refresh
                            : tp_sts_entry_valid(ce, now))
        return false;
    lk->shared_asked = true;
    if (tp_shared_get(lk->ctx, lk, lk->domain, on_shared) != 0)
        return false;
    lk->shared_busy = true;
    lk->pending++;
    return true;
}

/* sts_next - after TXT discovery: use the cached policy, or look up the
 * policy host to fetch it; the shared store may be asked first */
static void
sts_next(struct tp_lookup *lk)
{
    struct tp_sts_entry *ce = tp_sts_cache_get(&lk->ctx->sts_cache,
                                               lk->domain);
    int64_t now = (int64_t)time(NULL);
    enum tp_sts_step step = TP_CACHE_NONE;
    int rc;

    if (lk->txt_rc == TP_OK) {
        if (ce != NULL)
            ce->used_at = now;
        step = tp_sts_cache_decide(ce, TP_TXT_VALID, lk->sts_txt.id, now);
    }
    if (ask_shared(lk, step, ce, now) || lk->txt_rc != TP_OK)
        return;
    if ((!lk->refresh || lk->shared_newer) && step == TP_CACHE_USE) {
        use_cache(lk, ce, lk->shared_newer
                              ? "from the shared store, not fetched"
                          : strcmp(ce->id, lk->sts_txt.id) == 0
                              ? "same id, not fetched again"
                              : "a fetch for this id failed less than 5 "
                                "minutes ago (RFC 8461 §3.3)");
        return;
    }
    /* RFC 8461 §3.2: the Policy Host is mta-sts.<domain>, even when the
     * TXT record was reached through a CNAME (§8.2). */
    if (strlen(lk->domain) > TP_DOMAIN_MAX - 8) {
        tp_err_set(&lk->txt_err, "policy host mta-sts.%s would be longer "
                   "than %d octets", lk->domain, TP_DOMAIN_MAX);
        snprintf(lk->fetch.err, sizeof(lk->fetch.err), "%s",
                 lk->txt_err.msg);
        return;
    }
    memcpy(lk->sts_host, "mta-sts.", 8);
    memcpy(lk->sts_host + 8, lk->domain, strlen(lk->domain) + 1);
    lk->addr_busy = true;
    lk->pending++;
    rc = tp_dns_lookup(lk->ctx, lk->sts_host, 0, &lk->addr, on_addr, lk,
                       &lk->addr_tid);
    if (rc != 0) {
        lk->nomem |= rc == TP_ENOMEM;
        lk->addr_busy = false;
        lk->pending--;
        snprintf(lk->fetch.err, sizeof(lk->fetch.err),
                 "address lookup of %s could not start: %s", lk->sts_host,
                 lk->addr.err);
    }
}

static void
on_txt(void *arg)
{
    struct tp_lookup *lk = arg;
    struct tp_txt_rr rrs[TP_STS_TXT_RRS_MAX + 1];
    char head[160];
    size_t i;

    lk->txt_busy = false;
    dns_head(&lk->txt, head, sizeof(head));
    trace(lk, "DNS TXT _mta-sts.%s: %s", lk->domain, head);
    for (i = 0; i < lk->txt.n; i++) {
        rrs[i].data = lk->txt.rd[i].data;
        rrs[i].len = lk->txt.rd[i].len;
        trace(lk, "  TXT \"%.*s\"", (int)(rrs[i].len > 200 ? 200
                                                            : rrs[i].len),
              (const char *)rrs[i].data);
    }
    if (lk->txt.rc != TP_DNS_OK) {
        lk->txt_rc = TP_ENOENT;
        if (lk->txt.rc == TP_DNS_ERROR)
            tp_err_set(&lk->txt_err, "TXT lookup of _mta-sts.%s failed: %s",
                       lk->domain, lk->txt.err);
        else
            tp_err_set(&lk->txt_err, "no TXT record at _mta-sts.%s (%s)",
                       lk->domain, tp_dns_rc_name(lk->txt.rc));
    } else {
        lk->txt_rc = tp_sts_txt_select(rrs, lk->txt.n, &lk->sts_txt,
                                       &lk->txt_err);
        if (lk->txt_rc != TP_OK) {
            trace(lk, "%s", lk->txt_err.msg);
            if (lk->txt_rc != TP_ENOENT)
                tp_log(lk->ctx, TLSPOL_LOG_WARN, TP_MSG_STS_TXT_BAD,
                       "%s: %s", lk->domain, lk->txt_err.msg);
        } else {
            trace(lk, "TXT: valid STSv1 record, id %s", lk->sts_txt.id);
        }
    }
    sts_next(lk);
    step_done(lk);
}

/* sts_state - summarise discovery for the evaluator */
static enum tp_sts_state
sts_state(const struct tp_lookup *lk, const char **detail)
{
    if (lk->from_cache) {
        *detail = "";
        return TP_STS_VALID;
    }
    if (lk->txt.rc == TP_DNS_ERROR) {
        *detail = lk->txt_err.msg;
        return TP_STS_TXT_FAILED;
    }
    if (lk->txt_rc == TP_ENOENT) {
        *detail = lk->txt_err.msg;
        return TP_STS_ABSENT;
    }
    if (lk->txt_rc != TP_OK) {
        *detail = lk->txt_err.msg;
        return TP_STS_TXT_INVALID;
    }
    if (!lk->fetch_ran || !lk->fetch.ok) {
        *detail = lk->fetch.err;
        return TP_STS_FETCH_FAILED;
    }
    if (lk->pol_rc != TP_OK) {
        *detail = lk->pol_err.msg;
        return TP_STS_POLICY_INVALID;
    }
    *detail = "";
    return TP_STS_VALID;
}

/* find_preload - the entry for domain in the loaded lists; later lists
 * override earlier ones per domain */
static const struct tp_preload_entry *
find_preload(const struct tlspol_ctx *ctx, const char *domain)
{
    size_t i;

    for (i = ctx->n_preload; i > 0; i--) {
        const struct tp_preload_entry *e =
            tp_preload_find(&ctx->preload[i - 1], domain);

        if (e != NULL)
            return e;
    }
    return NULL;
}

/* fail_since - how long domain's security lookups have failed (0: this
 * is the first failure), recording the start; bounded table, the oldest
 * entry makes room */
static uint64_t
fail_since(struct tlspol_ctx *ctx, const char *domain, int64_t now)
{
    size_t i, oldest = 0;

    for (i = 0; i < ctx->n_fails; i++) {
        if (strcmp(ctx->fails[i].domain, domain) == 0)
            return now > ctx->fails[i].since
                       ? (uint64_t)(now - ctx->fails[i].since) : 0;
        if (ctx->fails[i].since < ctx->fails[oldest].since)
            oldest = i;
    }
    if (ctx->fails == NULL) {
        ctx->fails = tp_calloc(TP_FAILSTATE_MAX, sizeof(*ctx->fails));
        if (ctx->fails == NULL)
            return 0;
    }
    i = ctx->n_fails < TP_FAILSTATE_MAX ? ctx->n_fails++ : oldest;
    snprintf(ctx->fails[i].domain, sizeof(ctx->fails[i].domain), "%s",
             domain);
    ctx->fails[i].since = now;
    return 0;
}

/* fail_clear - domain's lookups succeeded: forget its failure start */
static void
fail_clear(struct tlspol_ctx *ctx, const char *domain)
{
    size_t i;

    for (i = 0; i < ctx->n_fails; i++)
        if (strcmp(ctx->fails[i].domain, domain) == 0) {
            ctx->fails[i] = ctx->fails[--ctx->n_fails];
            return;
        }
}

/* fall_back_to_cache - discovery or fetch failed: a valid cached policy
 * stays in force (RFC 8461 §3.3, §5.1); a failed fetch for a TXT id is
 * remembered so that it is not retried for TP_STS_RETRY_SECS */
static void
fall_back_to_cache(struct tp_lookup *lk)
{
    struct tp_sts_entry *ce;
    const char *detail;
    char why[TP_REASON_MAX];
    int64_t now = (int64_t)time(NULL);

    if (lk->from_cache || sts_state(lk, &detail) == TP_STS_VALID)
        return;
    ce = tp_sts_cache_get(&lk->ctx->sts_cache, lk->domain);
    if (tp_sts_cache_decide(ce, TP_TXT_NONE, "", now) != TP_CACHE_USE)
        return;
    if (lk->refresh)
        lk->ctx->stats[TLSPOL_STAT_REFRESH_FAILURES]++;
    if (lk->txt_rc == TP_OK) {
        ce->failed_at = now;
        snprintf(ce->failed_id, sizeof(ce->failed_id), "%s", lk->sts_txt.id);
        tp_store_put(lk->ctx, ce);
    }
    /* cut to fit: the detail is for people, its end may go */
    ce->used_at = now;
    if (snprintf(why, sizeof(why), "stays in force: %s", detail) < 0)
        why[0] = '\0';
    tp_log(lk->ctx, TLSPOL_LOG_WARN, TP_MSG_STS_FETCH_FAIL, "%s: cached "
           "MTA-STS policy %s %s", lk->domain, ce->id, why);
    use_cache(lk, ce, why);
}

/* --- verdict cache: finished results until their DNS answers expire --- */

#define VC_BUCKETS 16384

/* vc_bucket - the chain head of a domain, creating the table on demand */
static struct tp_vc_entry **
vc_bucket(struct tlspol_ctx *ctx, const char *domain)
{
    if (ctx->vcache == NULL &&
        (ctx->vcache = tp_calloc(VC_BUCKETS, sizeof(*ctx->vcache))) == NULL)
        return NULL;
    return &ctx->vcache[tp_name_hash(domain) % VC_BUCKETS];
}

/* vc_get - an unexpired entry for domain, or NULL */
static struct tp_vc_entry *
vc_get(struct tlspol_ctx *ctx, const char *domain, int64_t now)
{
    struct tp_vc_entry *e;

    if (ctx->vcache == NULL)
        return NULL;
    for (e = ctx->vcache[tp_name_hash(domain) % VC_BUCKETS]; e != NULL;
         e = e->next)
        if (strcmp(e->domain, domain) == 0)
            return e->expires > now ? e : NULL;
    return NULL;
}

/* vc_put - store tmpl (taking it) for ttl seconds; drops expired and,
 * when full, the oldest entries of the same chain */
static void
vc_put(struct tlspol_ctx *ctx, const char *domain, tlspol_result *tmpl,
       int64_t now, uint32_t ttl)
{
    struct tp_vc_entry **head = vc_bucket(ctx, domain), **pp, *e;

    if (head == NULL) {
        tlspol_result_free(tmpl);
        return;
    }
    for (pp = head; (e = *pp) != NULL;) {
        if (strcmp(e->domain, domain) == 0 || e->expires <= now ||
            ctx->n_vcache >= TP_VCACHE_MAX) {
            *pp = e->next;
            tlspol_result_free(e->tmpl);
            tp_free(e);
            ctx->n_vcache--;
            continue;
        }
        pp = &e->next;
    }
    e = tp_calloc(1, sizeof(*e));
    if (e == NULL || tp_result_seal(tmpl) != TP_OK) {
        tp_free(e);
        tlspol_result_free(tmpl);
        return;
    }
    e->domain = tmpl->domain;
    e->tmpl = tmpl;
    e->stored = now;
    e->expires = now + (int64_t)ttl;
    e->next = *head;
    *head = e;
    ctx->n_vcache++;
}

void
tp_vcache_flush(struct tlspol_ctx *ctx)
{
    size_t i;

    for (i = 0; ctx->vcache != NULL && i < VC_BUCKETS; i++)
        while (ctx->vcache[i] != NULL) {
            struct tp_vc_entry *e = ctx->vcache[i];

            ctx->vcache[i] = e->next;
            tlspol_result_free(e->tmpl);
            tp_free(e);
        }
    ctx->n_vcache = 0;
}

/* vc_drop - remove domain's verdict-cache entry: 1 if there was one */
static int
vc_drop(struct tlspol_ctx *ctx, const char *domain)
{
    struct tp_vc_entry **pp, *e;

    if (ctx->vcache == NULL)
        return 0;
    for (pp = &ctx->vcache[tp_name_hash(domain) % VC_BUCKETS];
         (e = *pp) != NULL; pp = &e->next)
        if (strcmp(e->domain, domain) == 0) {
            *pp = e->next;
            tlspol_result_free(e->tmpl);
            tp_free(e);
            ctx->n_vcache--;
            return 1;
        }
    return 0;
}

/* arg_domain - a caller's domain argument normalized into norm (at most
 * TP_DOMAIN_INPUT_MAX bytes read); TLSPOL_OK, or TLSPOL_ERR_INVAL with
 * the reason in ctx's message */
static tlspol_status
arg_domain(struct tlspol_ctx *ctx, const char *domain,
           char norm[TP_DOMAIN_MAX + 1])
{
    struct tp_err err;

    if (tp_domain_normalize(domain, strnlen(domain, TP_DOMAIN_INPUT_MAX + 1),
                            norm, &err) == TP_OK)
        return TLSPOL_OK;
    tp_ctx_seterr(ctx, "%s", err.msg);
    return TLSPOL_ERR_INVAL;
}

TP_EXPORT tlspol_status
tlspol_ctx_purge(tlspol_ctx *ctx, const char *domain, int *found)
{
    char norm[TP_DOMAIN_MAX + 1];
    int n = 0;
    size_t i;

    if (found != NULL)
        *found = 0;
    if (ctx == NULL)
        return TLSPOL_ERR_INVAL;
    if (domain == NULL) {
        tp_ctx_seterr(ctx, "domain is NULL");
        return TLSPOL_ERR_INVAL;
    }
    if (arg_domain(ctx, domain, norm) != TLSPOL_OK)
        return TLSPOL_ERR_INVAL;
    n += vc_drop(ctx, norm);
    if (tp_sts_cache_get(&ctx->sts_cache, norm) != NULL) {
        tp_sts_cache_remove(&ctx->sts_cache, norm);
        n++;
    }
    tp_store_delete(ctx, norm);
    tp_shared_delete(ctx, norm);
    for (i = 0; i < ctx->n_fails; i++)
        if (strcmp(ctx->fails[i].domain, norm) == 0) {
            fail_clear(ctx, norm);
            n++;
            break;
        }
    if (n > 0)
        tp_log(ctx, TLSPOL_LOG_WARN, TP_MSG_PURGE, "%s: cached state "
               "purged by request", norm);
    if (found != NULL)
        *found = n > 0;
    return TLSPOL_OK;
}

/* ans_ttl - fold one answer into the cacheable lifetime: 0 when it failed
 * or its TTL is unknown (RFC 2308 §5 gives negative answers theirs) */
static uint32_t
ans_ttl(const struct tp_dns_answer *a, uint32_t t)
{
    if (a->rc == TP_DNS_PENDING)
        return t;
    if (a->rc == TP_DNS_ERROR || a->ttl == 0)
        return 0;
    return a->ttl < t ? a->ttl : t;
}

/* lookup_ttl - how long the finished result may be reused: the least
 * TTL of every answer it rests on, within the MTA-STS policy's life;
 * 0 for anything that failed (those are retried at once) */
static uint32_t
lookup_ttl(const struct tp_lookup *lk, int64_t now)
{
    uint32_t t = TP_VCACHE_TTL_MAX;
    size_t i;

    if (lk->vout.verdict == TLSPOL_VERDICT_TEMPFAIL ||
        lk->vout.lookup_failure || lk->vout.failopen || lk->nomem ||
        (lk->txt_rc == TP_OK && !lk->from_cache &&
         (!lk->fetch_ran || !lk->fetch.ok)))
        return 0;
    t = ans_ttl(&lk->mx, t);
    t = ans_ttl(&lk->txt, t);
    t = ans_ttl(&lk->addr, t);
    for (i = 0; i < lk->n_hosts; i++) {
        t = ans_ttl(&lk->hosts[i].addr, t);
        t = ans_ttl(&lk->hosts[i].cname, t);
        t = ans_ttl(&lk->hosts[i].tlsa, t);
    }
    if (lk->pol_rc == TP_OK && lk->pol.mode != TP_STS_MODE_UNSET &&
        (lk->from_cache || lk->fetch.ok)) {
        int64_t left = lk->fetched_at + (int64_t)lk->pol.max_age - now;

        if (left <= 0)
            return 0;
        if ((uint64_t)left < t)
            t = (uint32_t)left;
    }
    return t;
}

/* finish - evaluate and queue the lookup for callbacks */
static void
finish(struct tp_lookup *lk)
{
    struct tlspol_ctx *ctx = lk->ctx;
    struct tp_verdict_in in;
    struct tp_host_in hin[TP_MX_RRS_MAX];
    struct tp_lookup **pp;
    size_t i;

    fall_back_to_cache(lk);
    if (lk->refresh && ctx->refreshing > 0)
        ctx->refreshing--;
    memset(&in, 0, sizeof(in));
    in.domain = lk->domain;
    if (lk->nomem || lk->mx.nomem || lk->txt.nomem || lk->addr.nomem)
        in.internal_error = "out of memory";
    in.sts = sts_state(lk, &in.sts_detail);
    in.sts_cached = lk->from_cache;
    if (in.sts == TP_STS_VALID) {
        in.pol = &lk->pol;
        in.sts_id = lk->sts_txt.id;
    }
    in.mx_rc = lk->mx.rc;
    in.mx_sec = lk->mx.sec;
    in.mx_err = lk->mx.err;
    in.null_mx = lk->null_mx;
    for (i = 0; i < lk->n_hosts; i++) {
        hin[i].name = lk->hosts[i].name;
        hin[i].pref = lk->hosts[i].pref;
        hin[i].dane = lk->hosts[i].dane;
        hin[i].note = lk->hosts[i].note;
    }
    in.hosts = hin;
    in.n_hosts = lk->n_hosts;
    in.dane_checked = lk->dane_checked;
    in.preload = find_preload(ctx, lk->domain);
    if (ctx->conf != NULL) {
        in.local = tp_config_domain(ctx->conf, lk->domain);
        in.failure = ctx->conf->failure;
        if (in.local != NULL && in.local->failure.set)
            in.failure = in.local->failure;
    }
    /* A first pass tells whether lookups failed; only then does the
     * failure clock matter (and start). */
    tp_verdict_eval(&in, &lk->vout);
    if (lk->vout.lookup_failure) {
        in.failing_for = fail_since(ctx, lk->domain, (int64_t)time(NULL));
        tp_verdict_eval(&in, &lk->vout);
    } else {
        fail_clear(ctx, lk->domain);
    }
    if (lk->vout.failopen) {
        ctx->stats[TLSPOL_STAT_FAILOPEN]++;
        tp_log(ctx, TLSPOL_LOG_WARN, TP_MSG_FAILOPEN, "%s: %s", lk->domain,
               lk->vout.reason);
    }
    if (lk->vout.weakens) {
        ctx->stats[TLSPOL_STAT_OVERRIDE_WEAKENS]++;
        tp_log(ctx, TLSPOL_LOG_WARN, TP_MSG_OVERRIDE_WEAKENS, "%s: local "
               "override %s weakens the published %s", lk->domain,
               tp_level_name(lk->vout.local_level),
               tlspol_verdict_name(lk->vout.published));
    }
    ctx->stats[TLSPOL_STAT_LOOKUPS]++;
    if (lk->vout.n_mx > 0) {
        lk->decide_mx = tp_calloc(lk->vout.n_mx, sizeof(*lk->decide_mx));
        for (i = 0; lk->decide_mx != NULL && i < lk->vout.n_mx; i++) {
            lk->decide_mx[i] = tp_strndup(lk->vout.mx[i],
                                          strlen(lk->vout.mx[i]));
            if (lk->decide_mx[i] == NULL)
                break;
            lk->n_decide_mx = i + 1;
        }
        lk->vout.mx = NULL; /* borrowed from tables a reload may free */
        if (lk->n_decide_mx < lk->vout.n_mx) {
            /* lost a pattern: defer rather than widen or narrow */
            lk->vout.verdict = TLSPOL_VERDICT_TEMPFAIL;
            snprintf(lk->vout.reason, sizeof(lk->vout.reason),
                     "internal error while resolving %s: out of memory",
                     lk->domain);
        }
    }
    trace(lk, "rule: %s", lk->vout.rule ? lk->vout.rule : "-");
    trace(lk, "verdict: %s: %s", tlspol_verdict_name(lk->vout.verdict),
          lk->vout.reason);
    tp_log(ctx, TLSPOL_LOG_INFO, TP_MSG_VERDICT, "%s: %s (%s): %s",
           lk->domain, tlspol_verdict_name(lk->vout.verdict),
           tlspol_source_name(lk->vout.source), lk->vout.reason);
    {
        int64_t now = (int64_t)time(NULL);
        uint32_t ttl = lookup_ttl(lk, now);
        tlspol_result *tmpl = ttl > 0 ? tp_result_from_lookup(lk, false)
                                      : NULL;

        if (tmpl != NULL)
            vc_put(ctx, lk->domain, tmpl, now, ttl);
    }

    for (pp = &ctx->lookups; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == lk) {
            *pp = lk->next;
            break;
        }
    }
    lk->next = ctx->done;
    ctx->done = lk;
    tp_loop_wake(&ctx->loop);
}

/* lookup_free - release a lookup that has no outstanding operations */
static void
lookup_free(struct tp_lookup *lk)
{
    size_t i;

    tp_dns_answer_free(&lk->mx);
    tp_dns_answer_free(&lk->txt);
    tp_dns_answer_free(&lk->addr);
    for (i = 0; i < lk->n_hosts; i++) {
        struct tp_host *h = &lk->hosts[i];
        size_t j;

        tp_dns_answer_free(&h->addr);
        tp_dns_answer_free(&h->cname);
        tp_dns_answer_free(&h->tlsa);
        for (j = 0; j < h->n_recs; j++)
            tp_tlsa_free(&h->recs[j]);
        tp_free(h->recs);
        tp_free(h->why);
    }
    tp_free(lk->hosts);
    tp_fetch_clear(&lk->fetch);
    tp_sts_policy_free(&lk->pol);
    for (i = 0; i < lk->n_trace; i++)
        tp_free(lk->trace[i]);
    for (i = 0; i < lk->n_decide_mx; i++)
        tp_free(lk->decide_mx[i]);
    tp_free(lk->decide_mx);
    tp_free(lk);
}

/* lookup_abort - stop every outstanding operation of lk, then free it */
static void
lookup_abort(struct tlspol_ctx *ctx, struct tp_lookup *lk)
{
    struct tlspol_query *q, *next;

    if (lk->mx_busy)
        tp_dns_cancel(ctx, lk->mx_tid);
    if (lk->txt_busy)
        tp_dns_cancel(ctx, lk->txt_tid);
    if (lk->addr_busy)
        tp_dns_cancel(ctx, lk->addr_tid);
    for (size_t i = 0; i < lk->n_hosts; i++)
        if (lk->hosts[i].busy)
            tp_dns_cancel(ctx, lk->hosts[i].tid);
    if (lk->fetch_busy)
        tp_fetch_cancel(ctx, &lk->fetch);
    if (lk->shared_busy)
        tp_shared_forget(ctx, lk);
    for (q = lk->waiters; q != NULL; q = next) {
        next = q->next;
        tp_free(q);
        ctx->n_queries--;
    }
    lookup_free(lk);
}

void
tp_lookup_cancel_all(struct tlspol_ctx *ctx)
{
    struct tp_lookup *lk;
    struct tp_ready *rd;

    while ((rd = ctx->ready) != NULL) {
        ctx->ready = rd->next;
        tlspol_result_free(rd->res);
        tp_free(rd->q);
        tp_free(rd);
        ctx->n_queries--;
    }
    ctx->ready_tail = &ctx->ready;

    while ((lk = ctx->lookups) != NULL) {
        ctx->lookups = lk->next;
        lookup_abort(ctx, lk);
    }
    while ((lk = ctx->done) != NULL) {
        ctx->done = lk->next;
        lookup_abort(ctx, lk);
    }
}

void
tp_run_done(struct tlspol_ctx *ctx)
{
    struct tp_lookup *lk;
    struct tp_ready *rd;

    /* cache hits first: unlink each before its callback, which may
     * resolve (and so append) or cancel */
    while ((rd = ctx->ready) != NULL) {
        struct tlspol_query *q = rd->q;
        tlspol_result *res = rd->res;

        ctx->ready = rd->next;
        if (ctx->ready == NULL)
            ctx->ready_tail = &ctx->ready;
        tp_free(rd);
        ctx->n_queries--;
        ctx->in_callback++;
        q->cb(TLSPOL_OK, res, q->ud);
        ctx->in_callback--;
        tp_free(q);
    }

    while ((lk = ctx->done) != NULL) {
        struct tlspol_query *q = lk->waiters;

        if (q == NULL) {
            ctx->done = lk->next;
            lookup_free(lk);
            continue;
        }
        /* Unlink before calling: the callback may cancel other queries
         * of this lookup or start new lookups. */
        lk->waiters = q->next;
        ctx->n_queries--;
        {
            tlspol_result *res = tp_result_from_lookup(lk, true);
            tlspol_result_cb cb = q->cb;
            void *ud = q->ud;

            tp_free(q);
            ctx->in_callback++;
            cb(res ? TLSPOL_OK : TLSPOL_ERR_NOMEM, res, ud);
            ctx->in_callback--;
        }
    }
}

/* lookup_start - start MX and TXT lookups for a new lookup */
static void
lookup_start(struct tp_lookup *lk)
{
    char name[TP_DOMAIN_MAX + 16];
    int rc;

    lk->pending = 1; /* held until both lookups are started */
    lk->dane_checked = lk->ctx->dnssec_mode != TP_DNSSEC_OFF;
    lk->started = tp_loop_now();
    tp_log(lk->ctx, TLSPOL_LOG_DEBUG, TP_MSG_RESOLVE_START, "%s: lookup "
           "started", lk->domain);
    lk->mx_busy = true;
    lk->pending++;
    rc = tp_dns_lookup(lk->ctx, lk->domain, GETDNS_RRTYPE_MX, &lk->mx, on_mx,
                       lk, &lk->mx_tid);
    if (rc != 0) {
        lk->nomem |= rc == TP_ENOMEM;
        lk->mx_busy = false;
        lk->pending--;
        trace(lk, "DNS MX %s: could not start: %s", lk->domain, lk->mx.err);
    }
    snprintf(name, sizeof(name), "_mta-sts.%s", lk->domain);
    if (strlen(name) > TP_DOMAIN_MAX) {
        /* RFC 1035 §2.3.4: the TXT owner name cannot exist */
        lk->txt_rc = TP_ENOENT;
        tp_err_set(&lk->txt_err, "%s is longer than %d octets: no "
                   "MTA-STS record can exist", name, TP_DOMAIN_MAX);
        trace(lk, "%s", lk->txt_err.msg);
        step_done(lk);
        return;
    }
    lk->txt_busy = true;
    lk->pending++;
    rc = tp_dns_lookup(lk->ctx, name, GETDNS_RRTYPE_TXT, &lk->txt, on_txt,
                       lk, &lk->txt_tid);
    if (rc != 0) {
        lk->nomem |= rc == TP_ENOMEM;
        lk->txt_busy = false;
        lk->pending--;
        lk->txt_rc = TP_ENOENT;
        tp_err_set(&lk->txt_err, "TXT lookup of %s could not start: %s",
                   name, lk->txt.err);
    }
    step_done(lk);
}

/* new_lookup - create and start the lookup of a normalized domain */
static struct tp_lookup *
new_lookup(struct tlspol_ctx *ctx, const char *norm, bool refresh)
{
    struct tp_lookup *lk = tp_calloc(1, sizeof(*lk));

    if (lk == NULL)
        return NULL;
    lk->ctx = ctx;
    lk->refresh = refresh;
    snprintf(lk->domain, sizeof(lk->domain), "%s", norm);
    lk->next = ctx->lookups;
    ctx->lookups = lk;
    lookup_start(lk);
    return lk;
}

/* refresh_due - RFC 8461 §3.3: refresh before expiry; each domain gets
 * its own point in the last ahead seconds (spread by its name hash), and
 * is not restarted within a tenth of that window */
static int
refresh_due(const struct tlspol_ctx *ctx, const struct tp_sts_entry *e,
            int64_t now)
{
    int64_t expires = e->fetched_at + (int64_t)e->pol.max_age;
    int64_t window = ctx->refresh_ahead;
    int64_t spread = window / 4 > 0
                         ? (int64_t)(tp_name_hash(e->domain) % (window / 4))
                         : 0;

    return expires > now && expires - now < window - spread &&
           now - e->refresh_at >= window / 10 + 1;
}

void
tp_refresh_tick(struct tp_timer *t)
{
    struct tlspol_ctx *ctx = t->arg;
    int64_t now = (int64_t)time(NULL);
    struct tp_sts_cache *c = &ctx->sts_cache;
    size_t b;

    for (b = 0; c->bucket != NULL && b < TP_STS_BUCKETS; b++) {
        struct tp_sts_entry *e = c->bucket[b], *next;

        for (; e != NULL; e = next) {
            next = e->next;
            if (ctx->evict_idle > 0 &&
                now - e->used_at > (int64_t)ctx->evict_idle) {
                tp_log(ctx, TLSPOL_LOG_DEBUG, TP_MSG_STS_FETCH_FAIL,
                       "%s: cached policy unused for %u s: dropped",
                       e->domain, ctx->evict_idle);
                tp_store_delete(ctx, e->domain);
                ctx->stats[TLSPOL_STAT_EVICTIONS]++;
                tp_sts_cache_remove(c, e->domain);
                continue;
            }
            if (ctx->refresh_ahead == 0 ||
                ctx->refreshing >= ctx->refresh_parallel ||
                !refresh_due(ctx, e, now))
                continue;
            e->refresh_at = now;
            if (new_lookup(ctx, e->domain, true) != NULL) {
                ctx->refreshing++;
                ctx->stats[TLSPOL_STAT_REFRESHES]++;
            }
        }
    }
    ctx->rng = ctx->rng * 1103515245u + 12345u;
    tp_timer_start(&ctx->loop, t, ctx->refresh_period_ms +
                   (ctx->rng >> 8) % (ctx->refresh_period_ms / 4 + 1));
}

/* cache_hit - a new result for domain from the verdict cache, with the
 * bookkeeping of a hit (counter, the policy's last use, the weakening
 * override's warning); NULL when not cached or out of memory */
static tlspol_result *
cache_hit(struct tlspol_ctx *ctx, const char *domain)
{
    int64_t now = (int64_t)time(NULL);
    struct tp_vc_entry *e = vc_get(ctx, domain, now);
    struct tp_sts_entry *se;
    tlspol_result *res;

    if (e == NULL ||
        (res = tp_result_hit(e->tmpl, now - e->stored, e->expires - now)) ==
            NULL)
        return NULL;
    /* a hit uses the domain's cached policy too (idle eviction) */
    if ((se = tp_sts_cache_get(&ctx->sts_cache, domain)) != NULL)
        se->used_at = now;
    if (res->weakens) {
        /* logged and counted each time the override is used */
        ctx->stats[TLSPOL_STAT_OVERRIDE_WEAKENS]++;
        tp_log(ctx, TLSPOL_LOG_WARN, TP_MSG_OVERRIDE_WEAKENS, "%s: local "
               "override %s weakens the published %s", domain,
               tp_level_name(res->local_level),
               tlspol_verdict_name(res->published));
    }
    ctx->stats[TLSPOL_STAT_CACHE_HITS]++;
    return res;
}

/* answer_from_cache - queue q with a cached result; the callback still
 * runs from dispatch.  1 if answered, 0 if not cached (or no memory:
 * look it up instead) */
static int
answer_from_cache(struct tlspol_ctx *ctx, const char *domain,
                  struct tlspol_query *q)
{
    tlspol_result *res = cache_hit(ctx, domain);
    struct tp_ready *rd;

    if (res == NULL)
        return 0;
    if ((rd = tp_calloc(1, sizeof(*rd))) == NULL) {
        tlspol_result_free(res);
        return 0;
    }
    rd->res = res;
    rd->q = q;
    /* one wake per batch: a non-empty list was signalled already, and
     * dispatch drains it whole (also what callbacks append) */
    if (ctx->ready == NULL) {
        ctx->ready_tail = &ctx->ready;
        tp_loop_wake(&ctx->loop);
    }
    *ctx->ready_tail = rd;
    ctx->ready_tail = &rd->next;
    ctx->n_queries++;
    return 1;
}

TP_EXPORT tlspol_status
tlspol_resolve_cached(tlspol_ctx *ctx, const char *domain,
                      tlspol_result **out)
{
    char norm[TP_DOMAIN_MAX + 1];

    if (out != NULL)
        *out = NULL;
    if (ctx == NULL)
        return TLSPOL_ERR_INVAL;
    if (domain == NULL || out == NULL) {
        tp_ctx_seterr(ctx, "%s is NULL", domain ? "out" : "domain");
        return TLSPOL_ERR_INVAL;
    }
    if (arg_domain(ctx, domain, norm) != TLSPOL_OK)
        return TLSPOL_ERR_INVAL;
    *out = cache_hit(ctx, norm);
    return TLSPOL_OK;
}

TP_EXPORT tlspol_status
tlspol_resolve(tlspol_ctx *ctx, const char *domain, tlspol_result_cb cb,
               void *userdata, tlspol_query **qp)
{
    char norm[TP_DOMAIN_MAX + 1];
    struct tp_lookup *lk;
    struct tlspol_query *q;
    tlspol_status st;

    if (qp != NULL)
        *qp = NULL;
    if (ctx == NULL)
        return TLSPOL_ERR_INVAL;
    if (domain == NULL || cb == NULL) {
        tp_ctx_seterr(ctx, "%s is NULL", domain ? "callback" : "domain");
        return TLSPOL_ERR_INVAL;
    }
    if (arg_domain(ctx, domain, norm) != TLSPOL_OK)
        return TLSPOL_ERR_INVAL;
    if ((st = tp_ctx_start(ctx)) != TLSPOL_OK)
        return st;
    q = tp_calloc(1, sizeof(*q));
    if (q == NULL) {
        tp_ctx_seterr(ctx, "out of memory");
        return TLSPOL_ERR_NOMEM;
    }
    q->ctx = ctx;
    q->cb = cb;
    q->ud = userdata;
    if (answer_from_cache(ctx, norm, q)) {
        if (qp != NULL)
            *qp = q;
        return TLSPOL_OK;
    }
    for (lk = ctx->lookups; lk != NULL; lk = lk->next)
        if (strcmp(lk->domain, norm) == 0)
            break;
    if (lk == NULL) {
        /* the query joins before the lookup starts: an immediate finish
         * (a start that fails at once) must find it */
        lk = tp_calloc(1, sizeof(*lk));
        if (lk == NULL) {
            tp_free(q);
            tp_ctx_seterr(ctx, "out of memory");
            return TLSPOL_ERR_NOMEM;
        }
        lk->ctx = ctx;
        snprintf(lk->domain, sizeof(lk->domain), "%s", norm);
        lk->next = ctx->lookups;
        ctx->lookups = lk;
        q->lk = lk;
        q->next = lk->waiters;
        lk->waiters = q;
        ctx->n_queries++;
        lookup_start(lk);
    } else {
        q->lk = lk;
        q->next = lk->waiters;
        lk->waiters = q;
        ctx->n_queries++;
    }
    if (qp != NULL)
        *qp = q;
    return TLSPOL_OK;
}

TP_EXPORT tlspol_status
tlspol_query_cancel(tlspol_query *q)
{
    struct tlspol_query **pp;

    if (q == NULL)
        return TLSPOL_ERR_INVAL;
    if (q->lk == NULL) {
        struct tp_ready **rp;

        for (rp = &q->ctx->ready; *rp != NULL; rp = &(*rp)->next) {
            struct tp_ready *rd = *rp;

            if (rd->q != q)
                continue;
            *rp = rd->next;
            if (*rp == NULL)
                q->ctx->ready_tail = rp;
            q->ctx->n_queries--;
            tlspol_result_free(rd->res);
            tp_free(rd);
            tp_free(q);
            return TLSPOL_OK;
        }
        return TLSPOL_ERR_INVAL;
    }
    for (pp = &q->lk->waiters; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == q) {
            *pp = q->next;
            q->ctx->n_queries--;
            tp_free(q);
            return TLSPOL_OK;
        }
    }
    return TLSPOL_ERR_INVAL;
}

/* The state of one synchronous resolution. */
struct sync_state {
    int done;
    tlspol_status st;
    tlspol_result *res;
};

static void
sync_cb(tlspol_status st, tlspol_result *res, void *ud)
{
    struct sync_state *s = ud;

    s->done = 1;
    s->st = st;
    s->res = res;
}

TP_EXPORT tlspol_status
tlspol_resolve_sync(tlspol_ctx *ctx, const char *domain, tlspol_result **out)
{
    struct sync_state s = { 0, TLSPOL_OK, NULL };
    tlspol_query *q;
    tlspol_status st;
    uint64_t limit;

    if (out == NULL || ctx == NULL)
        return TLSPOL_ERR_INVAL;
    *out = NULL;
    if (ctx->in_callback) {
        tp_ctx_seterr(ctx, "tlspol_resolve_sync called from a callback");
        return TLSPOL_ERR_BUSY;
    }
    st = tlspol_resolve(ctx, domain, sync_cb, &s, &q);
    if (st != TLSPOL_OK)
        return st;
    /* Every step below has its own timeout; this bound only catches bugs:
     * MX/TXT, then address, then fetch, each within timeout_ms. */
    limit = tp_loop_now() + 4ull * ctx->timeout_ms + 5000;
    while (!s.done) {
        struct pollfd p = { .fd = ctx->loop.epfd, .events = POLLIN };

        if (tp_loop_now() > limit) {
            tlspol_query_cancel(q);
            tp_ctx_seterr(ctx, "%s: lookup did not finish in time",
                          domain);
            return TLSPOL_ERR_INTERNAL;
        }
        poll(&p, 1, 1000);
        st = tlspol_ctx_dispatch(ctx);
        if (st != TLSPOL_OK && !s.done) {
            tlspol_query_cancel(q);
            return st;
        }
    }
    *out = s.res;
    return s.st;
}
