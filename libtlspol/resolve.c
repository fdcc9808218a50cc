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
    else
        snprintf(buf, size, "%s %s, %zu record%s%s, %llu ms",
                 tp_dns_rc_name(a->rc), tp_dnssec_name(a->sec), a->n,
                 a->n == 1 ? "" : "s", a->dropped ? " (some dropped)" : "",
                 (unsigned long long)a->ms);
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

static void
on_txt(void *arg)
{
    struct tp_lookup *lk = arg;
    struct tp_txt_rr rrs[TP_STS_TXT_RRS_MAX + 1];
    char head[160];
    size_t i;
    int rc;

    lk->txt_busy = false;
    dns_head(&lk->txt, head, sizeof(head));
    trace(lk, "DNS TXT _mta-sts.%s: %s", lk->domain, head);
    for (i = 0; i < lk->txt.n; i++) {
        rrs[i].data = lk->txt.txt[i].data;
        rrs[i].len = lk->txt.txt[i].len;
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
        step_done(lk);
        return;
    }
    lk->txt_rc = tp_sts_txt_select(rrs, lk->txt.n, &lk->sts_txt,
                                   &lk->txt_err);
    if (lk->txt_rc != TP_OK) {
        trace(lk, "%s", lk->txt_err.msg);
        if (lk->txt_rc != TP_ENOENT)
            tp_log(lk->ctx, TLSPOL_LOG_WARN, TP_MSG_STS_TXT_BAD,
                   "%s: %s", lk->domain, lk->txt_err.msg);
        step_done(lk);
        return;
    }
    trace(lk, "TXT: valid STSv1 record, id %s", lk->sts_txt.id);
    /* RFC 8461 §3.2: the Policy Host is mta-sts.<domain>, even when the
     * TXT record was reached through a CNAME (§8.2). */
    if (strlen(lk->domain) > TP_DOMAIN_MAX - 8) {
        tp_err_set(&lk->txt_err, "policy host mta-sts.%s would be longer "
                   "than %d octets", lk->domain, TP_DOMAIN_MAX);
        snprintf(lk->fetch.err, sizeof(lk->fetch.err), "%s",
                 lk->txt_err.msg);
        step_done(lk);
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
    step_done(lk);
}

/* sts_state - summarise discovery for the evaluator */
static enum tp_sts_state
sts_state(const struct tp_lookup *lk, const char **detail)
{
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

/* finish - evaluate and queue the lookup for callbacks */
static void
finish(struct tp_lookup *lk)
{
    struct tlspol_ctx *ctx = lk->ctx;
    struct tp_verdict_in in;
    struct tp_lookup **pp;

    memset(&in, 0, sizeof(in));
    in.domain = lk->domain;
    if (lk->nomem || lk->mx.nomem || lk->txt.nomem || lk->addr.nomem)
        in.internal_error = "out of memory";
    in.sts = sts_state(lk, &in.sts_detail);
    if (in.sts == TP_STS_VALID) {
        in.pol = &lk->pol;
        in.sts_id = lk->sts_txt.id;
    }
    in.mx_rc = lk->mx.rc;
    in.mx_sec = lk->mx.sec;
    in.mx_err = lk->mx.err;
    in.mx = lk->mx.mx;
    in.n_mx = lk->mx.n;
    tp_verdict_eval(&in, &lk->vout);
    trace(lk, "rule: %s", lk->vout.rule ? lk->vout.rule : "-");
    trace(lk, "verdict: %s: %s", tlspol_verdict_name(lk->vout.verdict),
          lk->vout.reason);
    tp_log(ctx, TLSPOL_LOG_INFO, TP_MSG_VERDICT, "%s: %s (%s): %s",
           lk->domain, tlspol_verdict_name(lk->vout.verdict),
           tlspol_source_name(lk->vout.source), lk->vout.reason);

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
    tp_fetch_clear(&lk->fetch);
    tp_sts_policy_free(&lk->pol);
    for (i = 0; i < lk->n_trace; i++)
        tp_free(lk->trace[i]);
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
    if (lk->fetch_busy)
        tp_fetch_cancel(ctx, &lk->fetch);
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
            tlspol_result *res = tp_result_from_lookup(lk);
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

TP_EXPORT tlspol_status
tlspol_resolve(tlspol_ctx *ctx, const char *domain, tlspol_result_cb cb,
               void *userdata, tlspol_query **qp)
{
    char norm[TP_DOMAIN_MAX + 1];
    struct tp_err err;
    struct tp_lookup *lk;
    struct tlspol_query *q;
    tlspol_status st;
    size_t len;

    if (qp != NULL)
        *qp = NULL;
    if (ctx == NULL)
        return TLSPOL_ERR_INVAL;
    if (domain == NULL || cb == NULL) {
        tp_ctx_seterr(ctx, "%s is NULL", domain ? "callback" : "domain");
        return TLSPOL_ERR_INVAL;
    }
    len = strnlen(domain, TP_DOMAIN_INPUT_MAX + 1);
    if (tp_domain_normalize(domain, len, norm, &err) != TP_OK) {
        tp_ctx_seterr(ctx, "%s", err.msg);
        return TLSPOL_ERR_INVAL;
    }
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
    for (lk = ctx->lookups; lk != NULL; lk = lk->next)
        if (strcmp(lk->domain, norm) == 0)
            break;
    if (lk == NULL) {
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
