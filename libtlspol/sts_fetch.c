/*
 * sts_fetch.c - MTA-STS policy fetch over HTTPS with curl multi, driven by
 * the context's loop (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION).
 *
 * RFC 8461 §3.3: HTTPS only, certificate valid for the Policy Host by
 * DNS-ID only (no CN fallback, wildcard only as the whole left-most label,
 * enforced in OpenSSL's verify parameters), SNI (curl sends it from the
 * URL), TLS 1.2 or later (§7.2), no redirects, only status 200, media type
 * text/plain, no HTTP caching (no conditional requests are ever made),
 * body capped at TP_STS_BODY_MAX, total time bounded.  The policy host's
 * addresses come from our own DNS lookup (CURLOPT_RESOLVE), so one
 * resolver serves everything and curl never resolves on its own.
 *
 * Not pure.  Limits: TP_STS_BODY_MAX, TP_STS_CTYPE_MAX, TP_ADDRS_MAX.
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "internal.h"
#include "msgid.h"
#include "tlspol-version.h"

/* One socket curl asked us to watch. */
struct csock {
    struct tp_watch w;
    struct tlspol_ctx *ctx;
    curl_socket_t s;
};

/* fail - set the fetch's error text (truncation is acceptable here) */
static void TP_PRINTF(2, 3)
fail(struct tp_fetch *f, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(f->err, sizeof(f->err), fmt, ap);
    va_end(ap);
}

/* drain - hand finished transfers to their owners */
static void
drain(struct tlspol_ctx *ctx)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(ctx->multi, &left)) != NULL) {
        struct tp_fetch *f = NULL;
        CURLcode cc;

        if (m->msg != CURLMSG_DONE)
            continue;
        cc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&f);
        if (f == NULL)
            continue;
        f->ms = tp_loop_now() - f->started;
        curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &f->http_code);
        if (cc == CURLE_OK) {
            char *ct = NULL;

            curl_easy_getinfo(f->easy, CURLINFO_CONTENT_TYPE, &ct);
            if (ct != NULL)
                snprintf(f->ctype, sizeof(f->ctype), "%s", ct);
        }
        curl_multi_remove_handle(ctx->multi, f->easy);
        curl_easy_cleanup(f->easy);
        f->easy = NULL;
        curl_slist_free_all(f->resolve);
        f->resolve = NULL;
        if (cc != CURLE_OK) {
            if (cc == CURLE_OPERATION_TIMEDOUT)
                fail(f, "%s: timed out after %u ms (%zu bytes of body "
                     "received)", f->url, ctx->timeout_ms, f->len);
            else if (f->too_big || cc == CURLE_FILESIZE_EXCEEDED)
                fail(f, "%s: body larger than %d "
                         "bytes", f->url, TP_STS_BODY_MAX);
            else
                fail(f, "%s: %s%s%s", f->url,
                         curl_easy_strerror(cc), f->curl_err[0] ? ": " : "",
                         f->curl_err);
        } else if (f->http_code != 200) {
            fail(f, "%s: HTTP status %ld%s",
                     f->url, f->http_code,
                     f->http_code >= 300 && f->http_code < 400
                         ? " (redirects are not followed, RFC 8461 §3.3)"
                         : " (only 200 is accepted)");
        } else {
            size_t tl = strcspn(f->ctype, "; \t");

            if (tl != 10 || strncasecmp(f->ctype, "text/plain", 10) != 0)
                fail(f, "%s: media type \"%s\", "
                         "not text/plain", f->url,
                         f->ctype[0] ? f->ctype : "(none)");
            else
                f->ok = 1;
        }
        f->done(f);
    }
}

/* sock_cb - activity on a curl socket */
static void
sock_cb(struct tp_watch *w, uint32_t rev)
{
    struct csock *cs = w->arg;
    struct tlspol_ctx *ctx = cs->ctx;
    int mask = 0, running;

    if (rev & EPOLLIN)
        mask |= CURL_CSELECT_IN;
    if (rev & EPOLLOUT)
        mask |= CURL_CSELECT_OUT;
    if (rev & (EPOLLERR | EPOLLHUP))
        mask |= CURL_CSELECT_ERR;
    curl_multi_socket_action(ctx->multi, cs->s, mask, &running);
    drain(ctx);
}

/* timer_cb - curl's single timeout expired */
static void
timer_cb(struct tp_timer *t)
{
    struct tlspol_ctx *ctx = t->arg;
    int running;

    curl_multi_socket_action(ctx->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(ctx);
}

/* cm_socket - CURLMOPT_SOCKETFUNCTION */
static int
cm_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *sockp)
{
    struct tlspol_ctx *ctx = userp;
    struct csock *cs = sockp;
    uint32_t ev = 0;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (cs != NULL) {
            tp_watch_clear(&ctx->loop, &cs->w);
            curl_multi_assign(ctx->multi, s, NULL);
            free(cs);
        }
        return 0;
    }
    if (cs == NULL) {
        cs = calloc(1, sizeof(*cs)); /* loop plumbing: see loop.c */
        if (cs == NULL)
            return -1;
        cs->ctx = ctx;
        cs->s = s;
        cs->w.fd = -1;
        cs->w.cb = sock_cb;
        cs->w.arg = cs;
        curl_multi_assign(ctx->multi, s, cs);
    }
    if (what & CURL_POLL_IN)
        ev |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        ev |= EPOLLOUT;
    return tp_watch_set(&ctx->loop, &cs->w, s, ev) == 0 ? 0 : -1;
}

/* cm_timer - CURLMOPT_TIMERFUNCTION: -1 deletes, 0 means next dispatch
 * (curl is never called from inside this callback) */
static int
cm_timer(CURLM *multi, long ms, void *userp)
{
    struct tlspol_ctx *ctx = userp;

    (void)multi;
    if (ms < 0) {
        tp_timer_stop(&ctx->loop, &ctx->curl_timer);
        return 0;
    }
    return tp_timer_start(&ctx->loop, &ctx->curl_timer, (uint64_t)ms);
}

int
tp_fetch_setup(struct tlspol_ctx *ctx)
{
    ctx->multi = curl_multi_init();
    if (ctx->multi == NULL)
        return -1;
    tp_timer_init(&ctx->curl_timer, timer_cb, ctx);
    curl_multi_setopt(ctx->multi, CURLMOPT_SOCKETFUNCTION, cm_socket);
    curl_multi_setopt(ctx->multi, CURLMOPT_SOCKETDATA, ctx);
    curl_multi_setopt(ctx->multi, CURLMOPT_TIMERFUNCTION, cm_timer);
    curl_multi_setopt(ctx->multi, CURLMOPT_TIMERDATA, ctx);
    return 0;
}

void
tp_fetch_teardown(struct tlspol_ctx *ctx)
{
    if (ctx->multi != NULL)
        curl_multi_cleanup(ctx->multi); /* may call cm_socket: handled */
    ctx->multi = NULL;
    tp_timer_stop(&ctx->loop, &ctx->curl_timer);
}

/* on_body - capped write callback: returning short aborts the transfer */
static size_t
on_body(char *p, size_t size, size_t nmemb, void *userdata)
{
    struct tp_fetch *f = userdata;
    size_t n = size * nmemb;

    if (n > TP_STS_BODY_MAX - f->len) {
        f->too_big = true;
        return 0;
    }
    memcpy(f->body + f->len, p, n);
    f->len += n;
    return n;
}

/* on_ssl_ctx - RFC 8461 §3.3: DNS-ID only, no partial wildcards */
static CURLcode
on_ssl_ctx(CURL *curl, void *sslctx, void *userdata)
{
    struct tp_fetch *f = userdata;
    X509_VERIFY_PARAM *vp = SSL_CTX_get0_param((SSL_CTX *)sslctx);

    (void)curl;
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
                                    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_host(vp, f->host, 0) != 1)
        return CURLE_SSL_CERTPROBLEM;
    return CURLE_OK;
}

int
tp_fetch_start(struct tlspol_ctx *ctx, struct tp_fetch *f, const char *host,
               const struct tp_dns_answer *addrs)
{
    char entry[TP_DOMAIN_MAX + 16 + 17 * 50];
    size_t i, used;
    CURL *e;

    snprintf(f->host, sizeof(f->host), "%s", host);
    snprintf(f->url, sizeof(f->url), "https://%s/.well-known/mta-sts.txt",
             host);
    f->body = tp_malloc(TP_STS_BODY_MAX);
    if (f->body == NULL)
        goto nomem;
    used = (size_t)snprintf(entry, sizeof(entry), "%s:443:", host);
    for (i = 0; i < addrs->n && used < sizeof(entry); i++) {
        int v6 = strchr(addrs->addr[i], ':') != NULL;

        used += (size_t)snprintf(entry + used, sizeof(entry) - used,
                                 "%s%s%s%s", i ? "," : "", v6 ? "[" : "",
                                 addrs->addr[i], v6 ? "]" : "");
    }
    f->resolve = curl_slist_append(NULL, entry);
    e = f->easy = curl_easy_init();
    if (f->resolve == NULL || e == NULL)
        goto nomem;
    if (curl_easy_setopt(e, CURLOPT_URL, f->url) ||
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https") ||
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) ||
        curl_easy_setopt(e, CURLOPT_SSLVERSION,
                         (long)CURL_SSLVERSION_TLSv1_2) ||
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) ||
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) ||
        curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx) ||
        curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, f) ||
        curl_easy_setopt(e, CURLOPT_RESOLVE, f->resolve) ||
        curl_easy_setopt(e, CURLOPT_NOPROXY, "*") ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)ctx->timeout_ms) ||
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                         (curl_off_t)TP_STS_BODY_MAX) ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, f) ||
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->curl_err) ||
        curl_easy_setopt(e, CURLOPT_USERAGENT,
                         "libtlspol/" TLSPOL_VERSION_STRING) ||
        curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)f))
        goto fail;
    if (ctx->ca_file != NULL &&
        curl_easy_setopt(e, CURLOPT_CAINFO, ctx->ca_file))
        goto fail;
    if (ctx->ca_path != NULL &&
        curl_easy_setopt(e, CURLOPT_CAPATH, ctx->ca_path))
        goto fail;
    f->started = tp_loop_now();
    if (curl_multi_add_handle(ctx->multi, e) != CURLM_OK)
        goto fail;
    return 0;
nomem:
    fail(f, "%s: out of memory", f->url);
    tp_fetch_clear(f);
    return TP_ENOMEM;
fail:
    fail(f, "%s: curl refused an option", f->url);
    tp_fetch_clear(f);
    return -1;
}

void
tp_fetch_cancel(struct tlspol_ctx *ctx, struct tp_fetch *f)
{
    if (f->easy != NULL && ctx->multi != NULL)
        curl_multi_remove_handle(ctx->multi, f->easy);
    tp_fetch_clear(f);
}

void
tp_fetch_clear(struct tp_fetch *f)
{
    if (f->easy != NULL)
        curl_easy_cleanup(f->easy);
    f->easy = NULL;
    curl_slist_free_all(f->resolve);
    f->resolve = NULL;
    tp_free(f->body);
    f->body = NULL;
}
