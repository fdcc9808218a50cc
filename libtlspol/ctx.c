/*
 * ctx.c - context lifecycle, options, logging, dispatch, and the static
 * name tables (tlspol_strerror, tlspol_verdict_name, ...).
 *
 * Options are fixed at the first resolve, when getdns and curl multi are
 * set up on the context's loop.  No global state apart from libcurl's
 * reference-counted global init (thread-safe since libcurl 7.84), taken
 * by each context and released when it is freed.
 *
 * Not pure.  SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "internal.h"
#include "msgid.h"
#include "tlspol-version.h"

#define DEFAULT_TIMEOUT_MS 30000u

TP_EXPORT const char *
tlspol_version(void)
{
    return TLSPOL_VERSION_STRING;
}

TP_EXPORT const char *
tlspol_strerror(tlspol_status status)
{
    switch (status) {
    case TLSPOL_OK: return "success";
    case TLSPOL_ERR_INVAL: return "invalid argument";
    case TLSPOL_ERR_NOMEM: return "out of memory";
    case TLSPOL_ERR_BUSY: return "operation not allowed now";
    case TLSPOL_ERR_INTERNAL: return "internal error";
    case TLSPOL_ERR_DNS: return "DNS resolver setup failed";
    case TLSPOL_ERR_IO: return "file could not be read";
    case TLSPOL_ERR_CANCELED: return "canceled";
    case TLSPOL_ERR_DNSSEC: return "DNSSEC unavailable on the resolver path";
    }
    return "unknown status";
}

TP_EXPORT const char *
tlspol_verdict_name(tlspol_verdict v)
{
    static const char *const names[] = {
        "TEMPFAIL", "NO_POLICY", "STS_TESTING", "PRELOAD_TESTING",
        "ENCRYPT", "DANE", "DANE_ONLY", "PRELOAD_ENFORCE", "STS_ENFORCE",
        "LOCAL",
    };

    if ((unsigned)v >= sizeof(names) / sizeof(names[0]))
        return "UNKNOWN";
    return names[v];
}

TP_EXPORT const char *
tlspol_source_name(tlspol_source s)
{
    static const char *const names[] = {
        "none", "mta-sts", "dane", "preload", "local", "mta-sts-cache",
    };

    if ((unsigned)s >= sizeof(names) / sizeof(names[0]))
        return "unknown";
    return names[s];
}

TP_EXPORT const char *
tlspol_dnssec_name(tlspol_dnssec s)
{
    static const char *const names[] = {
        "unvalidated", "secure", "insecure", "bogus", "indeterminate",
    };

    if ((unsigned)s >= sizeof(names) / sizeof(names[0]))
        return "unknown";
    return names[s];
}

TP_EXPORT const char *
tlspol_host_dane_name(tlspol_host_dane d)
{
    static const char *const names[] = {
        "none", "no-address", "failed", "unusable", "usable",
    };

    if ((unsigned)d >= sizeof(names) / sizeof(names[0]))
        return "unknown";
    return names[d];
}

TP_EXPORT const char *
tlspol_sts_mode_name(tlspol_sts_mode m)
{
    static const char *const names[] = {
        "absent", "none", "testing", "enforce",
    };

    if ((unsigned)m >= sizeof(names) / sizeof(names[0]))
        return "unknown";
    return names[m];
}

void
tp_ctx_seterr(struct tlspol_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ctx->errmsg, sizeof(ctx->errmsg), fmt, ap);
    va_end(ap);
}

void
tp_log(struct tlspol_ctx *ctx, tlspol_log_level lvl, const char *id,
       const char *fmt, ...)
{
    char msg[TP_REASON_MAX + 128];
    va_list ap;

    if (ctx->log_fn == NULL || lvl > ctx->log_max)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ctx->log_fn(lvl, id, msg, ctx->log_ud);
}

TP_EXPORT tlspol_status
tlspol_ctx_new(tlspol_ctx **out)
{
    struct tlspol_ctx *ctx;

    if (out == NULL)
        return TLSPOL_ERR_INVAL;
    *out = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return TLSPOL_ERR_INTERNAL;
    ctx = tp_calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        curl_global_cleanup();
        return TLSPOL_ERR_NOMEM;
    }
    if (tp_loop_init(&ctx->loop) != 0) {
        tp_free(ctx);
        curl_global_cleanup();
        return TLSPOL_ERR_INTERNAL;
    }
    ctx->timeout_ms = DEFAULT_TIMEOUT_MS;
    ctx->log_max = TLSPOL_LOG_INFO;
    tp_timer_init(&ctx->curl_timer, NULL, ctx);
    *out = ctx;
    return TLSPOL_OK;
}

TP_EXPORT void
tlspol_ctx_free(tlspol_ctx *ctx)
{
    if (ctx == NULL)
        return;
    tp_lookup_cancel_all(ctx);
    tp_fetch_teardown(ctx);
    tp_dns_teardown(ctx);
    tp_loop_fini(&ctx->loop);
    tp_free(ctx->resolvers);
    tp_free(ctx->trust_anchor_file);
    tp_free(ctx->ca_file);
    tp_free(ctx->ca_path);
    tp_free(ctx->check_report);
    tp_free(ctx);
    curl_global_cleanup(); /* balances the init in tlspol_ctx_new */
}

/* set_string - replace an owned option string before the first resolve */
static tlspol_status
set_string(struct tlspol_ctx *ctx, char **slot, const char *v,
           const char *what)
{
    char *copy;

    if (v == NULL || v[0] == '\0') {
        tp_ctx_seterr(ctx, "%s: empty value", what);
        return TLSPOL_ERR_INVAL;
    }
    if (ctx->started) {
        tp_ctx_seterr(ctx, "%s: options are fixed after the first resolve",
                      what);
        return TLSPOL_ERR_BUSY;
    }
    copy = tp_strndup(v, strlen(v));
    if (copy == NULL)
        return TLSPOL_ERR_NOMEM;
    tp_free(*slot);
    *slot = copy;
    return TLSPOL_OK;
}

TP_EXPORT tlspol_status
tlspol_ctx_set_resolvers(tlspol_ctx *ctx, const char *list)
{
    if (ctx == NULL)
        return TLSPOL_ERR_INVAL;
    return set_string(ctx, &ctx->resolvers, list, "resolvers");
}

TP_EXPORT tlspol_status
tlspol_ctx_set_trust_anchor_file(tlspol_ctx *ctx, const char *path)
{
    if (ctx == NULL)
        return TLSPOL_ERR_INVAL;
    return set_string(ctx, &ctx->trust_anchor_file, path, "trust anchor");
}

TP_EXPORT tlspol_status
tlspol_ctx_set_ca_file(tlspol_ctx *ctx, const char *path)
{
    if (ctx == NULL)
        return TLSPOL_ERR_INVAL;
    return set_string(ctx, &ctx->ca_file, path, "CA file");
}

TP_EXPORT tlspol_status
tlspol_ctx_set_ca_path(tlspol_ctx *ctx, const char *path)
{
    if (ctx == NULL)
        return TLSPOL_ERR_INVAL;
    return set_string(ctx, &ctx->ca_path, path, "CA path");
}

TP_EXPORT tlspol_status
tlspol_ctx_set_timeout(tlspol_ctx *ctx, unsigned int timeout_ms)
{
    if (ctx == NULL)
        return TLSPOL_ERR_INVAL;
    if (timeout_ms < 100 || timeout_ms > 600000) {
        tp_ctx_seterr(ctx, "timeout: %u ms is outside 100..600000",
                      timeout_ms);
        return TLSPOL_ERR_INVAL;
    }
    if (ctx->started) {
        tp_ctx_seterr(ctx, "timeout: options are fixed after the first "
                      "resolve");
        return TLSPOL_ERR_BUSY;
    }
    ctx->timeout_ms = timeout_ms;
    return TLSPOL_OK;
}

TP_EXPORT tlspol_status
tlspol_ctx_set_dnssec_mode(tlspol_ctx *ctx, tlspol_dnssec_mode mode)
{
    if (ctx == NULL)
        return TLSPOL_ERR_INVAL;
    if (mode != TLSPOL_DNSSEC_VALIDATE && mode != TLSPOL_DNSSEC_TRUST_AD) {
        tp_ctx_seterr(ctx, "dnssec mode: unknown value %d", (int)mode);
        return TLSPOL_ERR_INVAL;
    }
    if (ctx->started) {
        tp_ctx_seterr(ctx, "dnssec mode: options are fixed after the first "
                      "resolve");
        return TLSPOL_ERR_BUSY;
    }
    ctx->dnssec_mode = mode == TLSPOL_DNSSEC_TRUST_AD ? TP_DNSSEC_TRUST_AD
                                                      : TP_DNSSEC_VALIDATE;
    ctx->dnssec_wanted = ctx->dnssec_mode;
    return TLSPOL_OK;
}

TP_EXPORT tlspol_status
tlspol_ctx_check_resolver(tlspol_ctx *ctx, const char *bogus_name,
                          const char **report)
{
    struct tp_buf rep;
    tlspol_status st;
    int rc;

    if (report != NULL)
        *report = "";
    if (ctx == NULL)
        return TLSPOL_ERR_INVAL;
    if (ctx->in_callback) {
        tp_ctx_seterr(ctx, "tlspol_ctx_check_resolver called from a "
                      "callback");
        return TLSPOL_ERR_BUSY;
    }
    if ((st = tp_ctx_start(ctx)) != TLSPOL_OK)
        return st;
    tp_buf_init(&rep, 16384);
    rc = tp_dns_check(ctx, bogus_name, &rep);
    tp_free(ctx->check_report);
    ctx->check_report = rep.p; /* may be NULL if nothing was written */
    if (report != NULL && ctx->check_report != NULL)
        *report = ctx->check_report;
    if (rc != 0) {
        tp_log(ctx, TLSPOL_LOG_ERROR, TP_MSG_DNSSEC_CHECK,
               "resolver self-test failed: DANE is unavailable until the "
               "resolver path is fixed");
        tp_ctx_seterr(ctx, "resolver self-test failed");
        tp_dns_set_mode(ctx, TP_DNSSEC_OFF);
        return TLSPOL_ERR_DNSSEC;
    }
    if (ctx->dnssec_mode == TP_DNSSEC_OFF)
        tp_dns_set_mode(ctx, ctx->dnssec_wanted);
    return TLSPOL_OK;
}

TP_EXPORT void
tlspol_ctx_set_log_fn(tlspol_ctx *ctx, tlspol_log_fn fn, void *userdata,
                      tlspol_log_level max_level)
{
    if (ctx == NULL)
        return;
    ctx->log_fn = fn;
    ctx->log_ud = userdata;
    ctx->log_max = max_level;
}

TP_EXPORT const char *
tlspol_ctx_errmsg(const tlspol_ctx *ctx)
{
    return ctx != NULL ? ctx->errmsg : "";
}

TP_EXPORT int
tlspol_ctx_get_fd(const tlspol_ctx *ctx)
{
    return ctx != NULL ? ctx->loop.epfd : -1;
}

TP_EXPORT size_t
tlspol_ctx_pending(const tlspol_ctx *ctx)
{
    return ctx != NULL ? ctx->n_queries : 0;
}

tlspol_status
tp_ctx_start(struct tlspol_ctx *ctx)
{
    tlspol_status st;

    if (ctx->started)
        return TLSPOL_OK;
    st = (tlspol_status)tp_dns_setup(ctx);
    if (st != TLSPOL_OK) {
        tp_log(ctx, TLSPOL_LOG_ERROR, TP_MSG_DNS_SETUP, "%s", ctx->errmsg);
        tp_dns_teardown(ctx);
        return st;
    }
    if (tp_fetch_setup(ctx) != 0) {
        tp_dns_teardown(ctx);
        tp_ctx_seterr(ctx, "curl multi handle could not be created");
        return TLSPOL_ERR_INTERNAL;
    }
    ctx->started = true;
    return TLSPOL_OK;
}

TP_EXPORT tlspol_status
tlspol_ctx_dispatch(tlspol_ctx *ctx)
{
    if (ctx == NULL)
        return TLSPOL_ERR_INVAL;
    if (ctx->in_callback) {
        tp_ctx_seterr(ctx, "tlspol_ctx_dispatch called from a callback");
        return TLSPOL_ERR_BUSY;
    }
    if (tp_loop_run_once(&ctx->loop, 0) != 0) {
        tp_ctx_seterr(ctx, "event loop failed");
        return TLSPOL_ERR_INTERNAL;
    }
    tp_run_done(ctx);
    return TLSPOL_OK;
}
