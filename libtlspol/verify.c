/*
 * verify.c - does a peer's certificate chain satisfy a verdict?
 *
 *  DANE-EE(3): the leaf (selector 0) or its SubjectPublicKeyInfo (1),
 *    whole or SHA2-256/512, equals the record; no name or expiry checks
 *    (RFC 7671 §5.1, RFC 7672 §3.1.1).
 *  DANE-TA(2): a certificate of the chain (or the record's own Full(0)
 *    certificate) matches; the chain must verify up to it and name one of
 *    the reference identifiers: the TLSA base domain, the MX host name,
 *    and the next-hop domain when the MX RRset was secure (RFC 7672
 *    §3.2.2); wildcards only as the whole left-most label (§3.2.3).
 *  MTA-STS / preload enforce / local secure (RFC 8461 §4.1, §4.2): the MX
 *    host matches a policy pattern, the chain verifies to a trusted root,
 *    and a SAN dNSName (never the CN) names the MX host.
 *  Opportunistic verdicts need nothing; ENCRYPT needs TLS; TEMPFAIL and
 *    hosts whose DANE lookups failed are never acceptable.
 *
 * Not pure (OpenSSL verification).  SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "domain.h"
#include "internal.h"

/* The outcome: ok, plus a message in ctx->errmsg. */
struct vres {
    struct tlspol_ctx *ctx;
    int ok;
};

static void TP_PRINTF(3, 4)
say(struct vres *v, int ok, const char *fmt, ...)
{
    va_list ap;

    v->ok = ok;
    va_start(ap, fmt);
    vsnprintf(v->ctx->errmsg, sizeof(v->ctx->errmsg), fmt, ap);
    va_end(ap);
}

/* find_host - the result's entry for an MX host name, or -1 */
static long
find_host(const tlspol_result *r, const char *host)
{
    size_t i, n = strlen(host);

    if (n > 0 && host[n - 1] == '.')
        n--;
    for (i = 0; i < r->n_hosts; i++)
        if (strlen(r->hosts[i].name) == n &&
            strncasecmp(r->hosts[i].name, host, n) == 0)
            return (long)i;
    return -1;
}

/* tlsa_data - the bytes a record is compared with: cert or SPKI DER,
 * hashed per matching type; returns length, 0 on failure */
static size_t
tlsa_data(X509 *cert, const struct tp_tlsa *t, unsigned char *out,
          size_t size)
{
    unsigned char *der = NULL;
    unsigned int mdlen = 0;
    int len;
    size_t ret = 0;

    if (t->selector == TP_TLSA_SEL_CERT)
        len = i2d_X509(cert, &der);
    else
        len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
    if (len <= 0)
        return 0;
    if (t->mtype == TP_TLSA_MT_FULL) {
        if ((size_t)len <= size) {
            memcpy(out, der, (size_t)len);
            ret = (size_t)len;
        }
    } else if (EVP_Digest(der, (size_t)len, out, &mdlen,
                          t->mtype == TP_TLSA_MT_SHA256 ? EVP_sha256()
                                                        : EVP_sha512(),
                          NULL) == 1) {
        ret = mdlen;
    }
    OPENSSL_free(der);
    return ret;
}

/* matches - does cert match record t? */
static int
matches(X509 *cert, const struct tp_tlsa *t)
{
    unsigned char buf[TP_TLSA_DATA_MAX];
    size_t n = tlsa_data(cert, t, buf, sizeof(buf));

    return n > 0 && n == t->len && memcmp(buf, t->data, n) == 0;
}

/* pkix - chain verifies to an anchor in store, naming one of hosts[] */
static int
pkix(struct vres *v, X509_STORE *store, STACK_OF(X509) *chain,
     const char *const *hosts, size_t n_hosts, unsigned long flags,
     unsigned int hostflags)
{
    X509_STORE_CTX *sc = X509_STORE_CTX_new();
    X509_VERIFY_PARAM *vp;
    size_t i;
    int ok = 0;

    if (sc == NULL ||
        !X509_STORE_CTX_init(sc, store, sk_X509_value(chain, 0), chain)) {
        say(v, 0, "out of memory");
        goto out;
    }
    vp = X509_STORE_CTX_get0_param(sc);
    X509_VERIFY_PARAM_set_flags(vp, flags);
    X509_VERIFY_PARAM_set_hostflags(vp, hostflags);
    X509_VERIFY_PARAM_set_purpose(vp, X509_PURPOSE_SSL_SERVER);
    for (i = 0; i < n_hosts; i++)
        if (hosts[i] != NULL && hosts[i][0] != '\0')
            X509_VERIFY_PARAM_add1_host(vp, hosts[i], 0);
    ok = X509_verify_cert(sc) == 1;
    if (!ok)
        say(v, 0, "certificate chain does not verify: %s",
            X509_verify_cert_error_string(X509_STORE_CTX_get_error(sc)));
out:
    X509_STORE_CTX_free(sc);
    return ok;
}

/* dane - RFC 7672 §3 against the host's usable TLSA records */
static void
dane(struct vres *v, const tlspol_result *r, const struct tp_result_host *h,
     STACK_OF(X509) *chain)
{
    X509 *leaf = sk_X509_value(chain, 0);
    const char *ids[3];
    size_t i;
    int j, tried_ta = 0;

    ids[0] = h->tlsa_base;
    ids[1] = h->name;
    ids[2] = r->mx_sec == TP_SEC_SECURE ? r->domain : NULL;
    for (i = 0; i < h->n_recs; i++) {
        const struct tp_tlsa *t = &h->recs[i];

        if (t->usage == TP_TLSA_DANE_EE && matches(leaf, t)) {
            say(v, 1, "DANE-EE %u %u %u matches the server's %s",
                t->usage, t->selector, t->mtype,
                t->selector ? "public key" : "certificate");
            return;
        }
    }
    for (i = 0; i < h->n_recs; i++) {
        const struct tp_tlsa *t = &h->recs[i];
        X509 *ta = NULL, *own = NULL;
        X509_STORE *store;

        if (t->usage != TP_TLSA_DANE_TA)
            continue;
        for (j = 1; j < sk_X509_num(chain) && ta == NULL; j++)
            if (matches(sk_X509_value(chain, j), t))
                ta = sk_X509_value(chain, j);
        if (ta == NULL && t->selector == TP_TLSA_SEL_CERT &&
            t->mtype == TP_TLSA_MT_FULL) {
            const unsigned char *p = t->data;

            /* 2 0 0: the anchor need not be sent (RFC 7671 §5.2) */
            ta = own = d2i_X509(NULL, &p, (long)t->len);
        }
        if (ta == NULL)
            continue;
        tried_ta = 1;
        store = X509_STORE_new();
        if (store != NULL && X509_STORE_add_cert(store, ta) == 1 &&
            pkix(v, store, chain, ids, 3, X509_V_FLAG_PARTIAL_CHAIN,
                 X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS)) {
            say(v, 1, "DANE-TA %u %u %u: chain verifies to the matching "
                "trust anchor and names %s", t->usage, t->selector,
                t->mtype, h->tlsa_base);
            X509_STORE_free(store);
            X509_free(own);
            return;
        }
        X509_STORE_free(store);
        X509_free(own);
    }
    if (!tried_ta)
        say(v, 0, "no usable TLSA record of %s matches the certificate "
            "chain", h->name);
}

/* pkix_policy - MTA-STS style: pattern match, then WebPKI + DNS-ID */
static void
pkix_policy(struct vres *v, const tlspol_result *r, const char *host,
            STACK_OF(X509) *chain)
{
    char dot[TP_DOMAIN_MAX + 2];
    const char *ids[2] = { host, NULL };
    X509_STORE *store;
    size_t i;
    int matched = 0;

    if (r->n_mx == 0) {
        /* local secure without patterns: Postfix's nexthop, dot-nexthop
         * (OpenSSL: a leading dot matches any subdomain) */
        snprintf(dot, sizeof(dot), ".%s", r->domain);
        ids[0] = r->domain;
        ids[1] = dot;
        matched = 1;
    }
    for (i = 0; i < r->n_mx && !matched; i++)
        matched = tp_mx_match(r->mx[i], host);
    if (!matched) {
        say(v, 0, "MX host %s matches none of the policy's mx patterns "
            "(RFC 8461 §4.1)", host);
        return;
    }
    store = X509_STORE_new();
    if (store == NULL) {
        say(v, 0, "out of memory");
        return;
    }
    if (v->ctx->ca_file != NULL || v->ctx->ca_path != NULL)
        X509_STORE_load_locations(store, v->ctx->ca_file, v->ctx->ca_path);
    else
        X509_STORE_set_default_paths(store);
    if (pkix(v, store, chain, ids, 2, 0,
             X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
                 X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
        say(v, 1, "certificate chain verifies and names %s (RFC 8461 "
            "§4.2)", ids[0]);
    X509_STORE_free(store);
}

/* verify_stack - the verdict applied to one host's chain */
static void
verify_stack(struct vres *v, const tlspol_result *r, const char *host,
             STACK_OF(X509) *chain)
{
    int n = chain ? sk_X509_num(chain) : 0;
    long hi = find_host(r, host);
    const struct tp_result_host *h = hi >= 0 ? &r->hosts[hi] : NULL;
    int dane_level = r->verdict == TLSPOL_VERDICT_DANE ||
                     r->verdict == TLSPOL_VERDICT_DANE_ONLY ||
                     r->verdict == TLSPOL_VERDICT_ENCRYPT ||
                     (r->verdict == TLSPOL_VERDICT_LOCAL &&
                      (r->local_level == TP_LEVEL_DANE ||
                       r->local_level == TP_LEVEL_DANE_ONLY));

    if (r->verdict == TLSPOL_VERDICT_TEMPFAIL) {
        say(v, 0, "verdict is TEMPFAIL: delivery must be deferred");
        return;
    }
    if (h != NULL && h->dane == TP_HOST_FAILED) {
        say(v, 0, "%s must not be used: %s (RFC 7672 §2.1.2)", host,
            h->note);
        return;
    }
    if (dane_level && h != NULL && h->dane == TP_HOST_DANE) {
        if (n == 0)
            say(v, 0, "no TLS, but %s has usable TLSA records", host);
        else
            dane(v, r, h, chain);
        return;
    }
    if (dane_level && h != NULL && h->dane == TP_HOST_ENCRYPT) {
        say(v, n > 0, n > 0 ? "TLSA present but unusable: TLS without "
            "authentication suffices" : "TLS is required (TLSA present)");
        return;
    }
    if (r->verdict == TLSPOL_VERDICT_DANE_ONLY ||
        (r->verdict == TLSPOL_VERDICT_LOCAL &&
         r->local_level == TP_LEVEL_DANE_ONLY)) {
        say(v, 0, "%s has no usable TLSA records and the verdict is "
            "dane-only", host);
        return;
    }
    if (r->verdict == TLSPOL_VERDICT_STS_ENFORCE ||
        r->verdict == TLSPOL_VERDICT_PRELOAD_ENFORCE ||
        (r->verdict == TLSPOL_VERDICT_LOCAL &&
         r->local_level == TP_LEVEL_SECURE)) {
        if (n == 0)
            say(v, 0, "no TLS, but the policy requires authenticated TLS");
        else
            pkix_policy(v, r, host, chain);
        return;
    }
    if (r->verdict == TLSPOL_VERDICT_LOCAL &&
        r->local_level == TP_LEVEL_ENCRYPT) {
        say(v, n > 0, n > 0 ? "local policy encrypt: TLS in use"
                            : "local policy encrypt: TLS is required");
        return;
    }
    say(v, 1, "opportunistic: no authentication required (%s)",
        tlspol_verdict_name(r->verdict));
}

/* finish - status and message */
static tlspol_status
done(struct vres *v, const char **why)
{
    if (why != NULL)
        *why = v->ctx->errmsg;
    return v->ok ? TLSPOL_OK : TLSPOL_ERR_VERIFY;
}

TP_EXPORT tlspol_status
tlspol_verify_chain(tlspol_ctx *ctx, const tlspol_result *res,
                    const char *mx_host, const unsigned char *const *der,
                    const size_t *der_len, size_t n, const char **why)
{
    struct vres v = { ctx, 0 };
    STACK_OF(X509) *chain = NULL;
    size_t i;

    if (why != NULL)
        *why = "";
    if (ctx == NULL || res == NULL || mx_host == NULL ||
        (n > 0 && (der == NULL || der_len == NULL)) || n > 64)
        return TLSPOL_ERR_INVAL;
    if (n > 0 && (chain = sk_X509_new_null()) == NULL)
        return TLSPOL_ERR_NOMEM;
    for (i = 0; i < n; i++) {
        const unsigned char *p = der[i];
        X509 *x = der_len[i] <= (size_t)TP_TLSA_DATA_MAX * 4
                      ? d2i_X509(NULL, &p, (long)der_len[i]) : NULL;

        if (x == NULL || p != der[i] + der_len[i]) {
            X509_free(x);
            sk_X509_pop_free(chain, X509_free);
            tp_ctx_seterr(ctx, "certificate %zu of the chain is not one "
                          "DER certificate", i);
            return TLSPOL_ERR_INVAL;
        }
        if (!sk_X509_push(chain, x)) {
            X509_free(x);
            sk_X509_pop_free(chain, X509_free);
            return TLSPOL_ERR_NOMEM;
        }
    }
    verify_stack(&v, res, mx_host, chain);
    sk_X509_pop_free(chain, X509_free);
    return done(&v, why);
}

TP_EXPORT tlspol_status
tlspol_verify_ssl(tlspol_ctx *ctx, const tlspol_result *res,
                  const char *mx_host, void *ssl, const char **why)
{
    struct vres v = { ctx, 0 };

    if (why != NULL)
        *why = "";
    if (ctx == NULL || res == NULL || mx_host == NULL || ssl == NULL)
        return TLSPOL_ERR_INVAL;
    /* client side: the peer's chain, leaf first */
    verify_stack(&v, res, mx_host, SSL_get_peer_cert_chain((SSL *)ssl));
    return done(&v, why);
}
