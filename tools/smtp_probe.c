/*
 * smtp_probe.c - a minimal SMTP client for tlspol-query --connect:
 * banner, EHLO, STARTTLS (RFC 3207), TLS handshake with SNI (the TLSA
 * base domain for DANE hosts, RFC 7672 §8.1, else the MX host name, RFC
 * 8461 §7.1), then tlspol_verify_ssl().  Certificate checks are done by
 * libtlspol against the verdict, so OpenSSL's own verification is off
 * here on purpose: the point is to report what the peer presents.
 *
 * Replies are read with bounded lines (SMTP_LINE_MAX) and line counts
 * (SMTP_LINES_MAX), every step under a timeout.
 *
 * SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "smtp_probe.h"

#define SMTP_LINE_MAX 1024
#define SMTP_LINES_MAX 100

/* A connection: plain socket, then TLS. */
struct conn {
    int fd;
    SSL *ssl;
    unsigned int timeout_ms;
    char buf[4096];
    size_t len;
};

/* wait_io - poll for events within the timeout: 1 ready, 0 timeout */
static int
wait_io(struct conn *c, short events)
{
    struct pollfd p = { .fd = c->fd, .events = events };

    return poll(&p, 1, (int)c->timeout_ms) > 0;
}

/* read_more - append what arrives to c->buf; 0 ok, -1 error/timeout/EOF */
static int
read_more(struct conn *c)
{
    ssize_t n;

    if (c->len >= sizeof(c->buf))
        return -1;
    if (!wait_io(c, POLLIN))
        return -1;
    n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
    if (n <= 0)
        return -1;
    c->len += (size_t)n;
    return 0;
}

/* reply - read one SMTP reply; its code, and whether a line said word */
static int
reply(struct conn *c, const char *word, int *has_word)
{
    int lines = 0, code = -1;

    if (has_word != NULL)
        *has_word = 0;
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        size_t ll;

        if (nl == NULL) {
            if (c->len >= SMTP_LINE_MAX || read_more(c) != 0)
                return -1;
            continue;
        }
        ll = (size_t)(nl - c->buf) + 1;
        if (ll < 4 || c->buf[0] < '2' || c->buf[0] > '5' ||
            ++lines > SMTP_LINES_MAX)
            return -1;
        code = (c->buf[0] - '0') * 100 + (c->buf[1] - '0') * 10 +
               (c->buf[2] - '0');
        if (word != NULL && has_word != NULL && ll > 4 + strlen(word) &&
            strncasecmp(c->buf + 4, word, strlen(word)) == 0)
            *has_word = 1;
        if (c->buf[3] == ' ' || c->buf[3] == '\r' || c->buf[3] == '\n') {
            memmove(c->buf, c->buf + ll, c->len - ll);
            c->len -= ll;
            return code;
        }
        memmove(c->buf, c->buf + ll, c->len - ll);
        c->len -= ll;
    }
}

/* send_line - write a command; 0 or -1 */
static int
send_line(struct conn *c, const char *line)
{
    size_t n = strlen(line), off = 0;

    while (off < n) {
        ssize_t w;

        if (!wait_io(c, POLLOUT))
            return -1;
        w = write(c->fd, line + off, n - off);
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}

/* dial - non-blocking connect with a timeout; fd or -1 */
static int
dial(const char *addr, unsigned int port, unsigned int timeout_ms)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    struct pollfd p;
    int fd, err = 0;
    socklen_t el = sizeof(err);

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr)) {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, addr,
                         &((struct sockaddr_in6 *)&ss)->sin6_addr)) {
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in6);
    } else {
        return -1;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0 &&
        errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    p.fd = fd;
    p.events = POLLOUT;
    if (poll(&p, 1, (int)timeout_ms) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* handshake - TLS client handshake on c->fd with SNI; 0 or -1 */
static int
handshake(struct conn *c, SSL_CTX *sctx, const char *sni)
{
    c->ssl = SSL_new(sctx);
    if (c->ssl == NULL || !SSL_set_fd(c->ssl, c->fd) ||
        !SSL_set_tlsext_host_name(c->ssl, sni))
        return -1;
    for (;;) {
        int r = SSL_connect(c->ssl), e;

        if (r == 1)
            return 0;
        e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ && wait_io(c, POLLIN))
            continue;
        if (e == SSL_ERROR_WANT_WRITE && wait_io(c, POLLOUT))
            continue;
        return -1;
    }
}

int
smtp_probe(tlspol_ctx *ctx, const tlspol_result *res, size_t hi,
           const char *addr, unsigned int port, unsigned int timeout_ms,
           struct smtp_probe *p)
{
    const char *host = tlspol_result_host_name(res, hi);
    const char *base = tlspol_result_host_tlsa_base(res, hi);
    struct conn c = { .fd = -1, .timeout_ms = timeout_ms };
    SSL_CTX *sctx = NULL;
    const char *why = "";
    int has_tls = 0, code, rc = -1;

    memset(p, 0, sizeof(*p));
    snprintf(p->addr, sizeof(p->addr), "%s", addr);
    c.fd = dial(addr, port, timeout_ms);
    if (c.fd < 0) {
        snprintf(p->why, sizeof(p->why), "cannot connect to %s port %u",
                 addr, port);
        return -1;
    }
    if (reply(&c, NULL, NULL) != 220) {
        snprintf(p->why, sizeof(p->why), "no 220 greeting");
        goto out;
    }
    if (send_line(&c, "EHLO tlspol-query.localhost\r\n") != 0 ||
        (code = reply(&c, "STARTTLS", &has_tls)) != 250) {
        snprintf(p->why, sizeof(p->why), "EHLO refused");
        goto out;
    }
    p->connected = 1;
    p->starttls = has_tls;
    if (has_tls) {
        if (send_line(&c, "STARTTLS\r\n") != 0 ||
            reply(&c, NULL, NULL) != 220) {
            snprintf(p->why, sizeof(p->why), "STARTTLS refused");
            goto out;
        }
        sctx = SSL_CTX_new(TLS_client_method());
        if (sctx == NULL ||
            !SSL_CTX_set_min_proto_version(sctx, TLS1_2_VERSION)) {
            snprintf(p->why, sizeof(p->why), "TLS setup failed");
            goto out;
        }
        SSL_CTX_set_verify(sctx, SSL_VERIFY_NONE, NULL);
        if (handshake(&c, sctx, base ? base : host) != 0) {
            snprintf(p->why, sizeof(p->why), "TLS handshake failed");
            goto out;
        }
        p->tls = 1;
        snprintf(p->version, sizeof(p->version), "%s",
                 SSL_get_version(c.ssl));
        snprintf(p->cipher, sizeof(p->cipher), "%s",
                 SSL_get_cipher_name(c.ssl));
        {
            X509 *leaf = SSL_get0_peer_certificate(c.ssl);

            if (leaf != NULL)
                X509_NAME_oneline(X509_get_subject_name(leaf), p->subject,
                                  sizeof(p->subject));
        }
        p->satisfied = tlspol_verify_ssl(ctx, res, host, c.ssl, &why) ==
                       TLSPOL_OK;
    } else {
        /* no STARTTLS: is plaintext acceptable under this verdict? */
        p->satisfied = tlspol_verify_chain(ctx, res, host, NULL, NULL, 0,
                                           &why) == TLSPOL_OK;
    }
    snprintf(p->why, sizeof(p->why), "%s", why);
    rc = 0;
out:
    if (c.ssl != NULL) {
        SSL_shutdown(c.ssl);
        SSL_free(c.ssl);
    }
    SSL_CTX_free(sctx);
    close(c.fd);
    return rc;
}
