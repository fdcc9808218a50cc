/*
 * shared.c - the optional shared MTA-STS policy store: Redis or Valkey,
 * spoken to through hiredis's asynchronous API on the context's own loop.
 *
 * A fleet of MTAs fetches each policy once: before fetching (or when
 * discovery fails and nothing is cached locally) a lookup asks the shared
 * store, and takes its entry when it is valid and newer than the local
 * one; every policy fetched is written there.  The store is advisory: a
 * lookup waits at most TP_SHARED_TIMEOUT_MS for it, and while it is down
 * the local layers (memory, cache file) answer alone.  Going down and
 * coming back are logged (TP1503) and counted; reconnects back off from
 * TP_SHARED_BACKOFF_MIN_MS to TP_SHARED_BACKOFF_MAX_MS.
 *
 * Entries, schema 1: a hash at "tlspol:sts:<domain>" with fields v ("1"),
 * id, mode (1 none, 2 testing, 3 enforce), max_age, mx (patterns joined
 * by "\n"), fetched (Unix seconds), hash (SHA-256 of the body, hex),
 * expiring with the policy.  Writes go through a script that keeps an
 * entry with a later fetch or a newer schema, so a slow node never puts
 * an older policy back.  Entries read back are untrusted: bounded in
 * count and size, then checked as rows of the cache file are.
 *
 * Only IP literals and UNIX sockets: hiredis resolves host names with a
 * blocking getaddrinfo(), which the event loop must not wait for.
 *
 * Not pure.  Limits: SHARED_FIELDS_MAX fields of SHARED_FIELD_MAX bytes.
 * SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/un.h>
#include <time.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "internal.h"
#include "msgid.h"
#include "shared.h"
#include "store.h"

#define SHARED_SCHEMA "1"
#define SHARED_PREFIX "tlspol:sts:"
#define SHARED_FIELDS_MAX 16                        /* pairs in a reply */
#define SHARED_FIELD_MAX (TP_STS_MX_MAX * (TP_DOMAIN_MAX + 3))
#define SHARED_PASS_MAX 128
/* hiredis 0.14 allocates an array for the element count a reply
 * announces, before the elements arrive, and buffers a bulk string
 * until all of it is in: both are bounded here. */
#define SHARED_ARRAY_MAX (2 * SHARED_FIELDS_MAX)
#define SHARED_READ_MAX (256 * 1024)

/* KEYS[1] entry; ARGV: schema, id, mode, max_age, mx, fetched, hash,
 * expire-at.  Replaces the entry unless it has a newer schema or a
 * fetch at least as late. */
static const char put_script[] =
    "local v = tonumber(redis.call('HGET', KEYS[1], 'v'))\n"
    "local f = tonumber(redis.call('HGET', KEYS[1], 'fetched'))\n"
    "if v and (v > tonumber(ARGV[1]) or\n"
    "          (v == tonumber(ARGV[1]) and f and f >= tonumber(ARGV[6])))\n"
    "then return 0 end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HSET', KEYS[1], 'v', ARGV[1], 'id', ARGV[2], 'mode',\n"
    "           ARGV[3], 'max_age', ARGV[4], 'mx', ARGV[5], 'fetched',\n"
    "           ARGV[6], 'hash', ARGV[7])\n"
    "redis.call('EXPIREAT', KEYS[1], ARGV[8])\n"
    "return 1\n";

enum req_kind { REQ_SETUP, REQ_PING, REQ_GET, REQ_PUT, REQ_DEL };

/* One command in flight; replies come back in order. */
struct req {
    struct req *next;
    struct tp_shared *s;
    enum req_kind kind;
    uint64_t deadline;             /* monotonic ms */
    struct tp_lookup *lk;          /* REQ_GET; NULL once forgotten */
    void (*done)(struct tp_lookup *lk, struct tp_sts_entry *e);
    char domain[TP_DOMAIN_MAX + 1];
};

struct tp_shared {
    struct tlspol_ctx *ctx;
    char show[TP_SHARED_URL_MAX];  /* the URL for log lines, no password */
    char host[INET6_ADDRSTRLEN];   /* "" for a UNIX socket */
    int port;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char pass[SHARED_PASS_MAX + 1];
    unsigned int db;
    redisAsyncContext *ac;         /* NULL while disconnected */
    bool up;                       /* answered since the last connect */
    bool down_logged;              /* the outage was logged */
    const char *why;               /* our reason for a disconnect */
    char whybuf[160];
    uint32_t events;
    struct tp_watch w;
    struct tp_timer timer;         /* oldest deadline, or reconnect */
    struct req *head, **tail;
    unsigned int backoff_ms;
};

/* --- the URL ------------------------------------------------------- */

struct url {
    char host[INET6_ADDRSTRLEN];
    int port;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char pass[SHARED_PASS_MAX + 1];
    unsigned int db;
};

/* parse_uint - all of s[0..n) as a decimal number <= max: 0, or -1 */
static int
parse_uint(const char *s, size_t n, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    size_t i;

    if (n == 0 || n > 10)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* url_parse - see tp_shared_parse_url; fills u */
static int
url_parse(const char *url, struct url *u, char *why, size_t wlen)
{
    const char *p, *end, *slash, *at, *colon;
    unsigned long v;
    size_t n;

    memset(u, 0, sizeof(*u));
    u->port = 6379;
    n = strnlen(url, TP_SHARED_URL_MAX);
    if (n == TP_SHARED_URL_MAX) {
        snprintf(why, wlen, "longer than %d bytes", TP_SHARED_URL_MAX - 1);
        return -1;
    }
    end = url + n;
    if (strncmp(url, "unix:", 5) == 0) {
        const char *q = strstr(url, "?db=");

        p = url + 5;
        if (q != NULL && (parse_uint(q + 4, (size_t)(end - q - 4), 65535,
                                     &v) != 0)) {
            snprintf(why, wlen, "db: not a number up to 65535");
            return -1;
        }
        if (q != NULL)
            u->db = (unsigned int)v;
        n = (size_t)((q != NULL ? q : end) - p);
        if (n == 0 || p[0] != '/' || n >= sizeof(u->path)) {
            snprintf(why, wlen, "unix: needs an absolute path shorter than "
                     "%zu bytes", sizeof(u->path));
            return -1;
        }
        memcpy(u->path, p, n);
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(why, wlen, "expected redis://HOST[:PORT][/DB] or "
                 "unix:/PATH");
        return -1;
    }
    p = url + 8;
    slash = memchr(p, '/', (size_t)(end - p));
    if (slash != NULL) {
        if (parse_uint(slash + 1, (size_t)(end - slash - 1), 65535, &v) !=
            0) {
            snprintf(why, wlen, "database: not a number up to 65535");
            return -1;
        }
        u->db = (unsigned int)v;
        end = slash;
    }
    at = memchr(p, '@', (size_t)(end - p));
    if (at != NULL) {
        if (p[0] != ':' || (size_t)(at - p - 1) > SHARED_PASS_MAX ||
            at == p + 1) {
            snprintf(why, wlen, "password: expected :PASSWORD@ of 1 to %d "
                     "bytes", SHARED_PASS_MAX);
            return -1;
        }
        memcpy(u->pass, p + 1, (size_t)(at - p - 1));
        p = at + 1;
    }
    if (p < end && p[0] == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));

        if (rb == NULL || (size_t)(rb - p - 1) >= sizeof(u->host)) {
            snprintf(why, wlen, "host: unterminated or long [IPv6]");
            return -1;
        }
        memcpy(u->host, p + 1, (size_t)(rb - p - 1));
        colon = rb + 1 < end ? rb + 1 : NULL;
        if (colon != NULL && colon[0] != ':') {
            snprintf(why, wlen, "host: junk after [IPv6]");
            return -1;
        }
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        n = (size_t)((colon != NULL ? colon : end) - p);
        if (n >= sizeof(u->host)) {
            snprintf(why, wlen, "host: not an IP address");
            return -1;
        }
        memcpy(u->host, p, n);
    }
    if (colon != NULL) {
        if (parse_uint(colon + 1, (size_t)(end - colon - 1), 65535, &v) !=
                0 || v == 0) {
            snprintf(why, wlen, "port: not a number from 1 to 65535");
            return -1;
        }
        u->port = (int)v;
    }
    {
        unsigned char a[16];

        if (inet_pton(AF_INET, u->host, a) != 1 &&
            inet_pton(AF_INET6, u->host, a) != 1) {
            snprintf(why, wlen, "host: not an IP address (host names "
                     "would need a blocking lookup)");
            return -1;
        }
    }
    return 0;
}

int
tp_shared_parse_url(const char *url, char *why, size_t wlen)
{
    struct url u;

    return url_parse(url, &u, why, wlen);
}

/* --- bounded replies ---------------------------------------------- */

static redisReplyObjectFunctions bounded_fns;
static void *(*hiredis_array)(const redisReadTask *, int);
static pthread_once_t bounded_once = PTHREAD_ONCE_INIT;

/* bounded_array - hiredis's own array constructor, for at most
 * SHARED_ARRAY_MAX elements; NULL makes the reader fail the reply */
static void *
bounded_array(const redisReadTask *task, int elements)
{
    return elements > SHARED_ARRAY_MAX ? NULL : hiredis_array(task, elements);
}

/* bounded_init - hiredis's reply constructors with the array bound; its
 * default table is the same for every reader */
static void
bounded_init(void)
{
    redisReader *r = redisReaderCreate();

    if (r == NULL)
        return;
    bounded_fns = *r->fn;
    hiredis_array = bounded_fns.createArray;
    bounded_fns.createArray = bounded_array;
    redisReaderFree(r);
}

int
tp_shared_reader_bound(struct redisReader *r)
{
    if (pthread_once(&bounded_once, bounded_init) != 0 ||
        hiredis_array == NULL)
        return -1;
    r->fn = &bounded_fns;
    return 0;
}

/* --- connection ---------------------------------------------------- */

static void connect_now(struct tp_shared *s);

/* arm - the timer at the oldest request's deadline, else stopped */
static void
arm(struct tp_shared *s)
{
    uint64_t now = tp_loop_now();

    if (s->head != NULL)
        tp_timer_start(&s->ctx->loop, &s->timer,
                       s->head->deadline > now ? s->head->deadline - now
                                               : 0);
    else if (s->ac != NULL)
        tp_timer_stop(&s->ctx->loop, &s->timer);
}

/* set_events - tell the loop what hiredis waits for */
static void
set_events(struct tp_shared *s, uint32_t ev)
{
    if (ev == s->events)
        return;
    s->events = ev;
    if (ev == 0 || s->ac == NULL)
        tp_watch_clear(&s->ctx->loop, &s->w);
    else
        tp_watch_set(&s->ctx->loop, &s->w, s->ac->c.fd, ev);
}

static void ev_add_read(void *p)
{
    struct tp_shared *s = p;

    set_events(s, s->events | EPOLLIN);
}

static void ev_del_read(void *p)
{
    struct tp_shared *s = p;

    set_events(s, s->events & ~(uint32_t)EPOLLIN);
}

static void ev_add_write(void *p)
{
    struct tp_shared *s = p;

    set_events(s, s->events | EPOLLOUT);
}

static void ev_del_write(void *p)
{
    struct tp_shared *s = p;

    set_events(s, s->events & ~(uint32_t)EPOLLOUT);
}

/* went_down - the connection is gone (why): log the outage once,
 * schedule a reconnect with backoff */
static void
went_down(struct tp_shared *s, const char *why)
{
    s->ctx->stats[TLSPOL_STAT_SHARED_ERRORS]++;
    if (!s->down_logged)
        tp_log(s->ctx, TLSPOL_LOG_WARN, TP_MSG_SHARED, "shared store %s "
               "unavailable (%s); answering from the local cache, "
               "retrying in %u ms", s->show, why, s->backoff_ms);
    else
        tp_log(s->ctx, TLSPOL_LOG_DEBUG, TP_MSG_SHARED, "shared store %s: "
               "%s; retrying in %u ms", s->show, why, s->backoff_ms);
    s->down_logged = true;
    s->up = false;
    s->why = NULL;
    tp_timer_start(&s->ctx->loop, &s->timer, s->backoff_ms);
    s->backoff_ms = s->backoff_ms * 2 > TP_SHARED_BACKOFF_MAX_MS
                        ? TP_SHARED_BACKOFF_MAX_MS : s->backoff_ms * 2;
}

/* ev_cleanup - hiredis frees the connection (error, timeout, close):
 * the one place that notices an outage of an open connection */
static void
ev_cleanup(void *p)
{
    struct tp_shared *s = p;

    set_events(s, 0);
    if (s->why == NULL)
        snprintf(s->whybuf, sizeof(s->whybuf), "%s",
                 s->ac != NULL && s->ac->errstr[0] != '\0'
                     ? s->ac->errstr : "connection closed");
    s->ac = NULL;
    went_down(s, s->why != NULL ? s->why : s->whybuf);
}

/* fail - give up on the connection (why: static text); hiredis answers
 * every pending request with NULL, then ev_cleanup runs */
static void
fail(struct tp_shared *s, const char *why)
{
    if (s->ac == NULL)
        return;
    s->why = why;
    redisAsyncFree(s->ac);
}

static void
on_io(struct tp_watch *w, uint32_t rev)
{
    struct tp_shared *s = w->arg;

    if (s->ac != NULL && (rev & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
        redisAsyncHandleRead(s->ac);
        if (s->ac != NULL && s->ac->c.reader->len - s->ac->c.reader->pos >
                                 SHARED_READ_MAX) {
            snprintf(s->whybuf, sizeof(s->whybuf), "a reply over %d bytes",
                     SHARED_READ_MAX);
            fail(s, s->whybuf);
            return;
        }
    }
    if (s->ac != NULL && (rev & EPOLLOUT))
        redisAsyncHandleWrite(s->ac);
    arm(s);
}

static void
on_timer(struct tp_timer *t)
{
    struct tp_shared *s = t->arg;

    if (s->ac == NULL) {
        connect_now(s);
        return;
    }
    if (s->head != NULL && s->head->deadline <= tp_loop_now()) {
        snprintf(s->whybuf, sizeof(s->whybuf), "no reply within %d ms",
                 TP_SHARED_TIMEOUT_MS);
        fail(s, s->whybuf);
        return;
    }
    arm(s);
}

/* --- requests ------------------------------------------------------ */

/* parse_num - a whole decimal reply field: 0, or -1 */
static int
parse_num(const redisReply *r, int64_t *out)
{
    unsigned long v;

    if (parse_uint(r->str, r->len, 0xFFFFFFFFUL, &v) != 0)
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* unhex - 64 hex digits into 32 bytes: 0, or -1 */
static int
unhex(const redisReply *r, uint8_t out[32])
{
    size_t i;

    if (r->len != 64)
        return -1;
    for (i = 0; i < 64; i++) {
        int c = r->str[i], d = c >= '0' && c <= '9' ? c - '0'
                               : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

        if (d < 0)
            return -1;
        out[i / 2] = (uint8_t)(i % 2 ? (out[i / 2] | d) : d << 4);
    }
    return 0;
}

int
tp_shared_parse_entry(const struct redisReply *r, const char *domain,
                      struct tp_sts_entry *e, const char **why, int64_t now)
{
    struct tp_sts_fields f = { .domain = domain, .failed_id = "" };
    const char *schema = NULL;
    uint8_t hash[32];
    size_t i;

    memset(e, 0, sizeof(*e));
    *why = "not a list of fields";
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0)
        return -1;
    if (r->elements == 0)
        return 0;
    *why = "too many fields";
    if (r->elements > 2 * SHARED_FIELDS_MAX)
        return -1;
    for (i = 0; i < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];

        *why = "a field is not a short string";
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
            k->len > 16 || strlen(k->str) != k->len ||
            v->len > SHARED_FIELD_MAX || strlen(v->str) != v->len)
            return -1;
        *why = "a field is malformed";
        if (strcmp(k->str, "v") == 0)
            schema = v->str;
        else if (strcmp(k->str, "id") == 0)
            f.id = v->str;
        else if (strcmp(k->str, "mx") == 0)
            f.mx = v->str;
        else if ((strcmp(k->str, "mode") == 0 && parse_num(v, &f.mode)) ||
                 (strcmp(k->str, "max_age") == 0 &&
                  parse_num(v, &f.max_age)) ||
                 (strcmp(k->str, "fetched") == 0 &&
                  parse_num(v, &f.fetched_at)) ||
                 (strcmp(k->str, "hash") == 0 && unhex(v, hash)))
            return -1;
        else if (strcmp(k->str, "hash") == 0)
            f.hash = hash;
    }
    if (schema == NULL || strcmp(schema, SHARED_SCHEMA) != 0) {
        *why = "another schema version";
        return 0;
    }
    *why = "a field is missing or out of range";
    return tp_sts_entry_check(e, &f, now) == 0 ? 1 : -1;
}

/* on_reply - hiredis's callback for every command: r is NULL when the
 * connection went away before the reply */
static void
on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    struct req *rq = priv, **pp;
    struct tp_shared *s = rq->s;
    const redisReply *r = reply;
    struct tp_sts_entry e, *found = NULL;
    const char *why;

    (void)ac;
    for (pp = &s->head; *pp != NULL; pp = &(*pp)->next)
        if (*pp == rq) {
            *pp = rq->next;
            break;
        }
    if (s->head == NULL)
        s->tail = &s->head;
    if (r != NULL && r->type == REDIS_REPLY_ERROR) {
        s->ctx->stats[TLSPOL_STAT_SHARED_ERRORS]++;
        tp_log(s->ctx, TLSPOL_LOG_WARN, TP_MSG_SHARED, "shared store %s: "
               "%s%s%s: %.200s", s->show,
               rq->domain[0] == '\0' ? "setup" : "entry of ", rq->domain,
               rq->kind == REQ_GET ? " (read)" : "", r->str);
        if (rq->kind == REQ_SETUP || rq->kind == REQ_PING)
            fail(s, "AUTH, SELECT or PING refused");
    } else if (r != NULL && !s->up && rq->kind != REQ_SETUP) {
        s->up = true;
        s->backoff_ms = TP_SHARED_BACKOFF_MIN_MS;
        tp_log(s->ctx, s->down_logged ? TLSPOL_LOG_WARN : TLSPOL_LOG_INFO,
               TP_MSG_SHARED, "shared store %s %s", s->show,
               s->down_logged ? "is back" : "connected");
        s->down_logged = false;
    }
    if (rq->kind == REQ_GET && rq->lk != NULL) {
        int rc = r != NULL && r->type != REDIS_REPLY_ERROR
                     ? tp_shared_parse_entry(r, rq->domain, &e, &why,
                                             (int64_t)time(NULL))
                     : 0;

        if (rc < 0) {
            s->ctx->stats[TLSPOL_STAT_SHARED_ERRORS]++;
            tp_log(s->ctx, TLSPOL_LOG_WARN, TP_MSG_SHARED, "shared store "
                   "%s: entry of %s ignored: %s", s->show, rq->domain, why);
        }
        found = rc == 1 ? &e : NULL;
        rq->done(rq->lk, found);
        if (found != NULL)
            tp_sts_policy_free(&e.pol);
    }
    tp_free(rq);
}

/* send - queue a command (argv, argc) of kind; 0, or -1 */
static int
send_cmd(struct tp_shared *s, enum req_kind kind, const char *domain,
         struct tp_lookup *lk,
         void (*done)(struct tp_lookup *, struct tp_sts_entry *), int argc,
         const char **argv, const size_t *lens)
{
    struct req *rq;

    if (s->ac == NULL || (rq = tp_calloc(1, sizeof(*rq))) == NULL)
        return -1;
    rq->s = s;
    rq->kind = kind;
    rq->lk = lk;
    rq->done = done;
    rq->deadline = tp_loop_now() + TP_SHARED_TIMEOUT_MS;
    snprintf(rq->domain, sizeof(rq->domain), "%s", domain);
    if (redisAsyncCommandArgv(s->ac, on_reply, rq, argc, argv, lens) !=
        REDIS_OK) {
        tp_free(rq);
        return -1;
    }
    *s->tail = rq;
    s->tail = &rq->next;
    arm(s);
    return 0;
}

static void
connect_now(struct tp_shared *s)
{
    char db[12];
    const char *auth[] = { "AUTH", s->pass }, *sel[] = { "SELECT", db },
               *ping[] = { "PING" };

    s->ac = s->host[0] != '\0' ? redisAsyncConnect(s->host, s->port)
                               : redisAsyncConnectUnix(s->path);
    if (s->ac == NULL || s->ac->err) {
        snprintf(s->whybuf, sizeof(s->whybuf), "%s",
                 s->ac != NULL ? s->ac->errstr : "out of memory");
        if (s->ac != NULL)
            redisAsyncFree(s->ac); /* no hooks yet: no cleanup call */
        s->ac = NULL;
        went_down(s, s->whybuf);
        return;
    }
    if (tp_shared_reader_bound(s->ac->c.reader) != 0) {
        redisAsyncFree(s->ac);
        s->ac = NULL;
        went_down(s, "out of memory");
        return;
    }
    s->ac->data = s;
    s->ac->ev.data = s;
    s->ac->ev.addRead = ev_add_read;
    s->ac->ev.delRead = ev_del_read;
    s->ac->ev.addWrite = ev_add_write;
    s->ac->ev.delWrite = ev_del_write;
    s->ac->ev.cleanup = ev_cleanup;
    s->events = 0;
    snprintf(db, sizeof(db), "%u", s->db);
    if ((s->pass[0] != '\0' &&
         send_cmd(s, REQ_SETUP, "", NULL, NULL, 2, auth, NULL) != 0) ||
        (s->db != 0 &&
         send_cmd(s, REQ_SETUP, "", NULL, NULL, 2, sel, NULL) != 0) ||
        send_cmd(s, REQ_PING, "", NULL, NULL, 1, ping, NULL) != 0)
        fail(s, "cannot queue the first commands");
}

/* --- the interface ------------------------------------------------- */

int
tp_shared_open(struct tlspol_ctx *ctx)
{
    struct tp_shared *s;
    struct url u;
    char why[128];

    if (ctx->shared_url == NULL)
        return 0;
    if (url_parse(ctx->shared_url, &u, why, sizeof(why)) != 0) {
        tp_ctx_seterr(ctx, "shared store: %s", why);
        return -1;
    }
    if ((s = tp_calloc(1, sizeof(*s))) == NULL) {
        tp_ctx_seterr(ctx, "out of memory");
        return -1;
    }
    s->ctx = ctx;
    memcpy(s->host, u.host, sizeof(s->host));
    memcpy(s->path, u.path, sizeof(s->path));
    memcpy(s->pass, u.pass, sizeof(s->pass));
    s->port = u.port;
    s->db = u.db;
    if (u.host[0] != '\0')
        snprintf(s->show, sizeof(s->show), "redis://%s%s%s%s:%d/%u",
                 u.pass[0] ? ":*@" : "", strchr(u.host, ':') ? "[" : "",
                 u.host, strchr(u.host, ':') ? "]" : "", u.port, u.db);
    else
        snprintf(s->show, sizeof(s->show), "unix:%s", u.path);
    s->w.cb = on_io;
    s->w.arg = s;
    tp_timer_init(&s->timer, on_timer, s);
    s->tail = &s->head;
    s->backoff_ms = TP_SHARED_BACKOFF_MIN_MS;
    ctx->shared = s;
    connect_now(s);
    return 0;
}

/* writes_pending - whether a put or delete awaits its reply */
static bool
writes_pending(const struct tp_shared *s)
{
    const struct req *rq;

    for (rq = s->head; rq != NULL; rq = rq->next)
        if (rq->kind == REQ_PUT || rq->kind == REQ_DEL)
            return true;
    return false;
}

void
tp_shared_close(struct tlspol_ctx *ctx)
{
    struct tp_shared *s = ctx->shared;
    uint64_t until = tp_loop_now() + TP_SHARED_TIMEOUT_MS, now;

    if (s == NULL)
        return;
    /* writes still queued (a short-lived process's fetches) get up to
     * the store timeout to go out and be answered */
    while (s->ac != NULL && writes_pending(s) &&
           (now = tp_loop_now()) < until) {
        struct pollfd p = { .fd = s->ac->c.fd, .events = 0 };

        p.events = (short)((s->events & EPOLLIN ? POLLIN : 0) |
                           (s->events & EPOLLOUT ? POLLOUT : 0));
        if (poll(&p, 1, (int)(until - now)) < 0 && errno != EINTR)
            break;
        on_io(&s->w, (p.revents & POLLIN ? EPOLLIN : 0) |
                     (p.revents & POLLOUT ? EPOLLOUT : 0) |
                     (p.revents & (POLLERR | POLLHUP) ? EPOLLERR : 0));
    }
    tp_timer_stop(&ctx->loop, &s->timer);
    if (s->ac != NULL) {
        s->ac->ev.cleanup = NULL; /* a close is not an outage */
        redisAsyncFree(s->ac);
        tp_watch_clear(&ctx->loop, &s->w);
    }
    ctx->shared = NULL;
    tp_free(s);
}

int
tp_shared_get(struct tlspol_ctx *ctx, struct tp_lookup *lk,
              const char *domain,
              void (*done)(struct tp_lookup *lk, struct tp_sts_entry *e))
{
    char key[sizeof(SHARED_PREFIX) + TP_DOMAIN_MAX];
    const char *argv[] = { "HGETALL", key };
    struct tp_shared *s = ctx->shared;

    if (s == NULL || s->ac == NULL)
        return -1;
    snprintf(key, sizeof(key), SHARED_PREFIX "%s", domain);
    return send_cmd(s, REQ_GET, domain, lk, done, 2, argv, NULL);
}

void
tp_shared_forget(struct tlspol_ctx *ctx, struct tp_lookup *lk)
{
    struct req *rq;

    for (rq = ctx->shared != NULL ? ctx->shared->head : NULL; rq != NULL;
         rq = rq->next)
        if (rq->lk == lk)
            rq->lk = NULL;
}

void
tp_shared_put(struct tlspol_ctx *ctx, const struct tp_sts_entry *e)
{
    char key[sizeof(SHARED_PREFIX) + TP_DOMAIN_MAX], mode[4], age[12],
        fetched[24], until[24], hash[65],
        mx[TP_STS_MX_MAX * (TP_DOMAIN_MAX + 3)];
    const char *argv[] = { "EVAL", put_script, "1", key, SHARED_SCHEMA,
                           e->id, mode, age, mx, fetched, hash, until };
    size_t i, used = 0;
    struct tp_shared *s = ctx->shared;

    if (s == NULL || s->ac == NULL)
        return;
    mx[0] = '\0';
    for (i = 0; i < e->pol.n_mx && used < sizeof(mx); i++)
        used += (size_t)snprintf(mx + used, sizeof(mx) - used, "%s%s",
                                 i ? "\n" : "", e->pol.mx[i]);
    if (used >= sizeof(mx))
        return;
    for (i = 0; i < 32; i++)
        snprintf(hash + 2 * i, 3, "%02x", e->hash[i]);
    snprintf(key, sizeof(key), SHARED_PREFIX "%s", e->domain);
    snprintf(mode, sizeof(mode), "%d", (int)e->pol.mode);
    snprintf(age, sizeof(age), "%u", e->pol.max_age);
    snprintf(fetched, sizeof(fetched), "%lld", (long long)e->fetched_at);
    snprintf(until, sizeof(until), "%lld",
             (long long)(e->fetched_at + (int64_t)e->pol.max_age));
    (void)send_cmd(s, REQ_PUT, e->domain, NULL, NULL, 12, argv, NULL);
}

void
tp_shared_delete(struct tlspol_ctx *ctx, const char *domain)
{
    char key[sizeof(SHARED_PREFIX) + TP_DOMAIN_MAX];
    const char *argv[] = { "DEL", key };
    struct tp_shared *s = ctx->shared;

    if (s == NULL || s->ac == NULL)
        return;
    snprintf(key, sizeof(key), SHARED_PREFIX "%s", domain);
    (void)send_cmd(s, REQ_DEL, domain, NULL, NULL, 2, argv, NULL);
}

int
tp_shared_up(const struct tlspol_ctx *ctx)
{
    return ctx->shared == NULL ? -1 : ctx->shared->up;
}
