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
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "buf.h"
#include "internal.h"
#include "preload.h"
#include "shared.h"
#include "store.h"
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
    case TLSPOL_ERR_VERIFY: return "peer does not satisfy the policy";
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

/* free_policy - release a configuration and its preload lists */
static void
free_policy(struct tp_config *conf, struct tp_preload *pl, char **files,
            size_t n)
{
    size_t i;

    if (conf != NULL) {
        tp_config_free(conf);
        tp_free(conf);
    }
    for (i = 0; i < n; i++) {
        tp_preload_free(&pl[i]);
        tp_free(files[i]);
    }
    tp_free(pl);
    tp_free(files);
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
    ctx->postfix_compat = 309;
    ctx->ready_tail = &ctx->ready;
    tp_timer_init(&ctx->refresh_timer, tp_refresh_tick, ctx);
    ctx->rng = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)ctx;
    if (tp_sts_cache_init(&ctx->sts_cache) != 0) {
        tp_loop_fini(&ctx->loop);
        tp_free(ctx);
        curl_global_cleanup();
        return TLSPOL_ERR_NOMEM;
    }
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
    tp_timer_stop(&ctx->loop, &ctx->refresh_timer);
    tp_lookup_cancel_all(ctx);
    tp_shared_close(ctx);
    tp_fetch_teardown(ctx);
    tp_dns_teardown(ctx);
    tp_loop_fini(&ctx->loop);
    tp_free(ctx->resolvers);
    tp_free(ctx->trust_anchor_file);
    tp_free(ctx->ca_file);
    tp_free(ctx->ca_path);
    tp_store_close(ctx);
    tp_free(ctx->cache_file);
    tp_free(ctx->shared_url);
    tp_free(ctx->check_report);
    tp_free(ctx->export_json);
    free_policy(ctx->conf, ctx->preload, ctx->preload_files,
                ctx->n_preload);
    while (ctx->n_added > 0)
        tp_free(ctx->added_files[--ctx->n_added]);
    tp_free(ctx->added_files);
    tp_free(ctx->fails);
    tp_sts_cache_free(&ctx->sts_cache);
    tp_vcache_flush(ctx);
    tp_free(ctx->vcache);
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
    if (list != NULL && tp_dns_check_resolvers(ctx, list) != 0)
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
tlspol_ctx_set_cache_file(tlspol_ctx *ctx, const char *path)
{
    if (ctx == NULL)
        return TLSPOL_ERR_INVAL;
    return set_string(ctx, &ctx->cache_file, path, "cache file");
}

TP_EXPORT tlspol_status
tlspol_ctx_set_shared_store(tlspol_ctx *ctx, const char *url)
{
    char why[128];

    if (ctx == NULL)
        return TLSPOL_ERR_INVAL;
    if (url != NULL && tp_shared_parse_url(url, why, sizeof(why)) != 0) {
        tp_ctx_seterr(ctx, "shared store: %s", why);
        return TLSPOL_ERR_INVAL;
    }
    return set_string(ctx, &ctx->shared_url, url, "shared store");
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
        tp_vcache_flush(ctx);
        return TLSPOL_ERR_DNSSEC;
    }
    if (ctx->dnssec_mode == TP_DNSSEC_OFF) {
        tp_dns_set_mode(ctx, ctx->dnssec_wanted);
        tp_vcache_flush(ctx);
    }
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

TP_EXPORT tlspol_status
tlspol_ctx_config_log(const tlspol_ctx *ctx, int *level, int *target)
{
    const struct tp_config *c = ctx != NULL ? ctx->conf : NULL;

    if (level != NULL)
        *level = c != NULL ? c->log_level : -1;
    if (target != NULL)
        *target = c != NULL ? c->log_syslog : -1;
    return ctx != NULL ? TLSPOL_OK : TLSPOL_ERR_INVAL;
}

TP_EXPORT const char *
tlspol_ctx_config_server(const tlspol_ctx *ctx, const char *key, size_t i,
                         unsigned int *line)
{
    const struct tp_config *c = ctx != NULL ? ctx->conf : NULL;
    size_t k;

    if (c == NULL || key == NULL)
        return NULL;
    for (k = 0; k < c->n_server; k++) {
        const struct tp_server_setting *s = &c->server[k];

        if (strcmp(s->key, key) != 0)
            continue;
        if (i >= s->n)
            return NULL;
        if (line != NULL)
            *line = s->lines[i] > UINT_MAX ? UINT_MAX
                                           : (unsigned int)s->lines[i];
        return s->vals[i];
    }
    return NULL;
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
    if (ctx->cache_file != NULL && tp_store_open(ctx) != 0) {
        tp_log(ctx, TLSPOL_LOG_ERROR, TP_MSG_STORE, "%s", ctx->errmsg);
        tp_fetch_teardown(ctx);
        tp_dns_teardown(ctx);
        return TLSPOL_ERR_IO;
    }
    if (tp_shared_open(ctx) != 0) {
        tp_store_close(ctx);
        tp_fetch_teardown(ctx);
        tp_dns_teardown(ctx);
        return TLSPOL_ERR_NOMEM;
    }
    ctx->started = true;
    return TLSPOL_OK;
}

TP_EXPORT tlspol_status
tlspol_ctx_open(tlspol_ctx *ctx)
{
    if (ctx == NULL)
        return TLSPOL_ERR_INVAL;
    return tp_ctx_start(ctx);
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

/* --- configuration and preload lists ------------------------------- */

/* read_file - the whole of path into a new buffer, at most max bytes */
static tlspol_status
read_file(struct tlspol_ctx *ctx, const char *path, size_t max,
          uint8_t **out, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t n;

    *out = NULL;
    if (fp == NULL) {
        tp_ctx_seterr(ctx, "%s: cannot open: %s", path, strerror(errno));
        return TLSPOL_ERR_IO;
    }
    buf = tp_malloc(max + 1);
    if (buf == NULL) {
        fclose(fp);
        return TLSPOL_ERR_NOMEM;
    }
    n = fread(buf, 1, max + 1, fp);
    if (ferror(fp)) {
        tp_ctx_seterr(ctx, "%s: read error", path);
        fclose(fp);
        tp_free(buf);
        return TLSPOL_ERR_IO;
    }
    fclose(fp);
    if (n > max) {
        tp_ctx_seterr(ctx, "%s: larger than %zu bytes", path, max);
        tp_free(buf);
        return TLSPOL_ERR_INVAL;
    }
    *out = buf;
    *len = n;
    return TLSPOL_OK;
}

/* load_preload - parse one list; *usable is 0 for an expired list */
static tlspol_status
load_preload(struct tlspol_ctx *ctx, const char *path, struct tp_preload *pl,
             int *usable)
{
    struct tp_err e = { "" };
    uint8_t *buf;
    size_t len;
    tlspol_status st;
    int rc;

    *usable = 0;
    st = read_file(ctx, path, TP_PRELOAD_FILE_MAX, &buf, &len);
    if (st != TLSPOL_OK)
        return st;
    rc = tp_preload_parse(buf, len, pl, &e);
    tp_free(buf);
    if (rc == TP_ENOMEM)
        return TLSPOL_ERR_NOMEM;
    if (rc != TP_OK) {
        tp_ctx_seterr(ctx, "%s: %s", path, e.msg);
        return TLSPOL_ERR_INVAL;
    }
    if (pl->expires <= (int64_t)time(NULL)) {
        /* RULES.md: an expired list means opportunistic TLS + alert */
        tp_log(ctx, TLSPOL_LOG_WARN, TP_MSG_PRELOAD, "%s: preload list "
               "expired at %lld: ignored", path, (long long)pl->expires);
        tp_preload_free(pl);
        return TLSPOL_OK;
    }
    *usable = 1;
    return TLSPOL_OK;
}

/* older_than_loaded - a reload must not go back in time (RULES.md) */
static int
older_than_loaded(const struct tlspol_ctx *ctx, const char *path,
                  const struct tp_preload *pl)
{
    size_t i;

    for (i = 0; i < ctx->n_preload; i++)
        if (strcmp(ctx->preload_files[i], path) == 0 &&
            pl->timestamp < ctx->preload[i].timestamp)
            return 1;
    return 0;
}

/* append_list - add a parsed list to the arrays (which grow by one) */
static tlspol_status
append_list(struct tp_preload **pl, char ***files, size_t *n,
            struct tp_preload *one, const char *path)
{
    struct tp_preload *np = tp_realloc(*pl, (*n + 1) * sizeof(**pl));
    char **nf;

    if (np == NULL)
        return TLSPOL_ERR_NOMEM;
    *pl = np;
    nf = tp_realloc(*files, (*n + 1) * sizeof(**files));
    if (nf == NULL)
        return TLSPOL_ERR_NOMEM;
    *files = nf;
    nf[*n] = tp_strndup(path, strlen(path));
    if (nf[*n] == NULL)
        return TLSPOL_ERR_NOMEM;
    np[*n] = *one;
    (*n)++;
    return TLSPOL_OK;
}

/* remember_added - note path as given to tlspol_ctx_add_preload(), so
 * that tlspol_ctx_load_config() reads it again after the file's lists */
static tlspol_status
remember_added(struct tlspol_ctx *ctx, const char *path)
{
    char **na = tp_realloc(ctx->added_files,
                           (ctx->n_added + 1) * sizeof(*na));

    if (na == NULL)
        return TLSPOL_ERR_NOMEM;
    ctx->added_files = na;
    if ((na[ctx->n_added] = tp_strndup(path, strlen(path))) == NULL)
        return TLSPOL_ERR_NOMEM;
    ctx->n_added++;
    return TLSPOL_OK;
}

/* read_lists - read the preload files in order onto the arrays, as a
 * reload does: an invalid list, or one older than the list loaded from
 * the same file, fails it (expired ones are skipped with a warning) */
static tlspol_status
read_lists(struct tlspol_ctx *ctx, char *const *paths, size_t n_paths,
           struct tp_preload **pl, char ***files, size_t *n)
{
    size_t i;

    for (i = 0; i < n_paths; i++) {
        struct tp_preload one;
        tlspol_status st;
        int usable;

        memset(&one, 0, sizeof(one));
        st = load_preload(ctx, paths[i], &one, &usable);
        if (st != TLSPOL_OK)
            return st;
        if (!usable)
            continue;
        if (older_than_loaded(ctx, paths[i], &one)) {
            tp_ctx_seterr(ctx, "%s: timestamp %lld is older than the list "
                          "already loaded: refused", paths[i],
                          (long long)one.timestamp);
            tp_preload_free(&one);
            return TLSPOL_ERR_INVAL;
        }
        st = append_list(pl, files, n, &one, paths[i]);
        if (st != TLSPOL_OK) {
            tp_preload_free(&one);
            return st;
        }
    }
    return TLSPOL_OK;
}

TP_EXPORT tlspol_status
tlspol_ctx_add_preload(tlspol_ctx *ctx, const char *path)
{
    struct tp_preload one;
    tlspol_status st;
    int usable;

    if (ctx == NULL || path == NULL)
        return TLSPOL_ERR_INVAL;
    memset(&one, 0, sizeof(one));
    st = load_preload(ctx, path, &one, &usable);
    if (st != TLSPOL_OK)
        return st;
    /* remembered even when expired: a reload reads it again */
    st = remember_added(ctx, path);
    if (st != TLSPOL_OK || !usable) {
        tp_preload_free(&one);
        return st;
    }
    st = append_list(&ctx->preload, &ctx->preload_files, &ctx->n_preload,
                     &one, path);
    if (st != TLSPOL_OK)
        tp_preload_free(&one);
    tp_vcache_flush(ctx);
    return st;
}

/* apply_startup - options that only take effect before the first resolve */
static void
apply_startup(struct tlspol_ctx *ctx, const struct tp_config *c)
{
    int any = c->resolvers || c->trust_anchor || c->ca_file || c->ca_path ||
              c->shared_store || c->timeout_ms || c->dnssec_trust_ad >= 0;

    if (ctx->started) {
        if (any)
            tp_log(ctx, TLSPOL_LOG_WARN, TP_MSG_CONFIG, "resolver, trust "
                   "anchor, CA, shared store, timeout and dnssec settings "
                   "take effect at "
                   "the next start, not on reload");
        return;
    }
    if (c->resolvers)
        tlspol_ctx_set_resolvers(ctx, c->resolvers);
    if (c->trust_anchor)
        tlspol_ctx_set_trust_anchor_file(ctx, c->trust_anchor);
    if (c->ca_file)
        tlspol_ctx_set_ca_file(ctx, c->ca_file);
    if (c->ca_path)
        tlspol_ctx_set_ca_path(ctx, c->ca_path);
    if (c->shared_store)
        tlspol_ctx_set_shared_store(ctx, c->shared_store);
    if (c->timeout_ms)
        tlspol_ctx_set_timeout(ctx, c->timeout_ms);
    if (c->dnssec_trust_ad >= 0)
        tlspol_ctx_set_dnssec_mode(ctx, c->dnssec_trust_ad
                                            ? TLSPOL_DNSSEC_TRUST_AD
                                            : TLSPOL_DNSSEC_VALIDATE);
}

TP_EXPORT tlspol_status
tlspol_ctx_load_config(tlspol_ctx *ctx, const char *path)
{
    struct tp_config *conf = NULL;
    struct tp_preload *pl = NULL;
    char **files = NULL;
    size_t n = 0, i;
    struct tp_err e = { "" };
    uint8_t *buf = NULL;
    size_t len;
    tlspol_status st;
    int rc;

    if (ctx == NULL || path == NULL)
        return TLSPOL_ERR_INVAL;
    st = read_file(ctx, path, TP_CONFIG_FILE_MAX, &buf, &len);
    if (st != TLSPOL_OK)
        return st;
    conf = tp_calloc(1, sizeof(*conf));
    if (conf == NULL) {
        st = TLSPOL_ERR_NOMEM;
        goto fail;
    }
    rc = tp_config_parse(buf, len, path, conf, &e);
    if (rc != TP_OK) {
        tp_free(conf);
        conf = NULL;
        if (rc == TP_ENOMEM) {
            st = TLSPOL_ERR_NOMEM;
        } else {
            tp_ctx_seterr(ctx, "%s", e.msg);
            st = TLSPOL_ERR_INVAL;
        }
        goto fail;
    }
    /* the file's lists, then those added with tlspol_ctx_add_preload()
     * (read again: a reload must not drop them), later ones winning */
    st = read_lists(ctx, conf->preload, conf->n_preload, &pl, &files, &n);
    if (st == TLSPOL_OK)
        st = read_lists(ctx, ctx->added_files, ctx->n_added, &pl, &files,
                        &n);
    if (st != TLSPOL_OK)
        goto fail;
    for (i = 0; i < conf->n_warnings; i++)
        tp_log(ctx, TLSPOL_LOG_WARN, TP_MSG_CONFIG, "%s", conf->warnings[i]);
    apply_startup(ctx, conf);
    if (conf->postfix_compat)
        ctx->postfix_compat = conf->postfix_compat;
    /* everything valid: swap in; cached verdicts used the old policy */
    tp_vcache_flush(ctx);
    free_policy(ctx->conf, ctx->preload, ctx->preload_files,
                ctx->n_preload);
    ctx->conf = conf;
    ctx->preload = pl;
    ctx->preload_files = files;
    ctx->n_preload = n;
    tp_free(buf);
    return TLSPOL_OK;
fail:
    tp_log(ctx, TLSPOL_LOG_ERROR, TP_MSG_CONFIG, "%s: not loaded, the "
           "previous configuration stays: %s", path, ctx->errmsg);
    free_policy(conf, pl, files, n);
    tp_free(buf);
    return st;
}

TP_EXPORT tlspol_status
tlspol_ctx_set_postfix_compat(tlspol_ctx *ctx, unsigned int compat)
{
    if (ctx == NULL)
        return TLSPOL_ERR_INVAL;
    if (compat < 200 || compat > 999) {
        tp_ctx_seterr(ctx, "postfix compat: %u is not a Postfix version "
                      "as major*100+minor (200..999)", compat);
        return TLSPOL_ERR_INVAL;
    }
    ctx->postfix_compat = compat;
    return TLSPOL_OK;
}

TP_EXPORT const char *
tlspol_ctx_export_preload(tlspol_ctx *ctx)
{
    struct tp_buf b;

    if (ctx == NULL)
        return NULL;
    if (tp_ctx_start(ctx) != TLSPOL_OK)
        return NULL;
    tp_buf_init(&b, (size_t)TP_PRELOAD_FILE_MAX);
    if (tp_sts_cache_export(&ctx->sts_cache, (int64_t)time(NULL), &b) !=
        TP_OK) {
        tp_buf_free(&b);
        tp_ctx_seterr(ctx, "preload export: out of memory or over %d bytes",
                      TP_PRELOAD_FILE_MAX);
        return NULL;
    }
    tp_free(ctx->export_json);
    ctx->export_json = b.p;
    return ctx->export_json;
}

TP_EXPORT tlspol_status
tlspol_ctx_set_refresh(tlspol_ctx *ctx, unsigned int ahead_s,
                       unsigned int max_parallel, unsigned int period_ms,
                       unsigned int evict_idle_s)
{
    if (ctx == NULL || period_ms < 100 || (ahead_s && max_parallel == 0)) {
        if (ctx != NULL)
            tp_ctx_seterr(ctx, "refresh: period under 100 ms, or no "
                          "parallel refreshes allowed");
        return TLSPOL_ERR_INVAL;
    }
    ctx->refresh_ahead = ahead_s;
    ctx->refresh_parallel = max_parallel;
    ctx->refresh_period_ms = period_ms;
    ctx->evict_idle = evict_idle_s;
    if (ahead_s == 0 && evict_idle_s == 0)
        tp_timer_stop(&ctx->loop, &ctx->refresh_timer);
    else
        tp_timer_start(&ctx->loop, &ctx->refresh_timer, period_ms);
    return TLSPOL_OK;
}

TP_EXPORT uint64_t
tlspol_ctx_stat(const tlspol_ctx *ctx, tlspol_stat which)
{
    if (ctx == NULL || (unsigned)which >= TP_STATS_N)
        return 0;
    if (which == TLSPOL_STAT_SHARED_UP)
        return tp_shared_up(ctx) == 1;
    return ctx->stats[which];
}
