/*
 * smbench.c - socketmap load benchmark (a program, not a test).
 *
 *   smbench [-c CONNS] [-n REQUESTS_PER_CONN] [-d SECONDS] [-r REPS]
 *           [-p PID] [-P REFPID] [-k KEY]... SOCKETPATH [REFPATH]
 *
 * Opens CONNS connections (default 1, at most 10000) to the UNIX socket
 * SOCKETPATH.  Each connection behaves like Postfix's socketmap client:
 * it sends one request "postfix KEY" as a netstring, waits for the
 * reply, then sends the next.  The keys cycle over the -k options
 * (default ".example.com", a parent-domain key that tlspol-socketmapd
 * answers without a lookup).  A connection stops after -n requests
 * (default 1000 when -d is not given), or when -d SECONDS (decimals
 * allowed, at most 300) have passed; with both, whichever comes first.
 * A request in flight at the deadline is still waited for.
 *
 * One epoll loop drives all connections (no threads), so the client's
 * own cost stays small next to the server's.  Latency is taken with
 * CLOCK_MONOTONIC from the request's write to the reply's last byte and
 * kept in a log-linear histogram (128 steps per power of two: values
 * are exact to 0.8%, in fixed memory whatever the run length).
 * Reported: requests, qps, p50/p99/p99.9/max latency, reply kinds.
 *
 * Before the measured runs each server gets every key once, on one
 * connection and unmeasured, so that the runs see cached answers (give
 * a key that needs a lookup, e.g. -k example.test, to measure the
 * verdict cache; the default key needs none).
 *
 * With REFPATH, the same load then runs against a reference server there
 * (tests/bench/smref, which answers every request with a fixed reply) and
 * "ratio R" is SOCKETPATH's qps over REFPATH's.  -r REPS (default 1, at
 * most 99) runs both REPS times, alternating which goes first (ABBA:
 * drift in the machine's load hits both alike), and ends with the
 * medians of qps and latencies and the median of the ratios (min, max).
 *
 * -p PID and -P REFPID name the server processes: their CPU time per
 * request (/proc/PID/schedstat, nanoseconds) is reported next to
 * smbench's own (getrusage), so that a run shows which side was busy.
 * On a machine with fewer cores than the three processes need, a
 * client or server near 100% of a core is the bottleneck.
 *
 * Every reply must be a netstring (at most 100000 bytes, socketmap_table
 * (5)) whose payload starts with "OK ", is "NOTFOUND " or starts with
 * "TEMP "; no bytes may arrive that were not asked for, a connection may
 * not close, and no request may take over 100 s (Postfix's limit).  Each
 * failure counts as an error and ends that connection; any error makes
 * the exit status 1.  Usage errors exit 2.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "netstring.h"

#define CONNS_MAX 10000
#define DURATION_MAX 300.0          /* seconds */
#define REQUESTS_MAX 1000000000UL   /* per connection */
#define KEYS_MAX 64
#define QUERY_MAX 10000             /* Postfix socketmap_max_query_size */
#define KEY_MAX (QUERY_MAX - sizeof("postfix ") + 1)
#define REPLY_MAX 100000            /* Postfix socketmap_max_reply_size */
#define REPLY_BUF_MAX (REPLY_MAX + 11)  /* 9 digits, ':' and ',' */
#define REQ_TIMEOUT_NS (100 * NS_PER_S) /* Postfix socketmap timeout */
#define NS_PER_S 1000000000ULL
#define ERRORS_SHOWN 10
#define EVENTS_MAX 256
#define REPS_MAX 99

/* Latency histogram: values below 2^SUB_BITS ns exactly, then
 * 2^SUB_BITS buckets per power of two. */
#define SUB_BITS 7
#define SUB_COUNT (1u << SUB_BITS)
#define HIST_BUCKETS ((64 - SUB_BITS + 1) * SUB_COUNT)

struct hist {
    uint64_t count[HIST_BUCKETS];
    uint64_t n, max;
};

enum conn_state { C_CLOSED, C_WRITING, C_WAITING };

struct conn {
    int fd;
    enum conn_state state;
    uint64_t done;              /* replies received */
    uint64_t sent_ns;           /* when the request in flight was sent */
    const char *req;            /* borrowed from opts.reqs */
    size_t reqlen, reqoff;
    uint8_t *in;                /* owned; reply being read */
    size_t inlen, incap;
};

struct opts {
    unsigned long conns;
    uint64_t requests;          /* per connection */
    uint64_t duration_ns;       /* 0: no time limit */
    size_t nkeys;
    char *reqs[KEYS_MAX];       /* owned; request netstrings */
    size_t reqlens[KEYS_MAX];
};

struct stats {
    struct hist h;
    uint64_t ok, notfound, temp, errors;
    double secs;
    double srv_cpu;             /* server CPU seconds; < 0: unknown */
    double cli_cpu;             /* smbench's own CPU seconds */
};

struct run {
    const struct opts *o;
    struct stats *st;
    int ep;
    uint64_t start_ns, deadline_ns, last_ns;
    uint64_t next_key;          /* keys cycle over all connections */
    unsigned long active;
};

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static unsigned int
hist_index(uint64_t v)
{
    unsigned int e, shift;

    if (v < SUB_COUNT)
        return (unsigned int)v;
    e = 63u - (unsigned int)__builtin_clzll(v);    /* >= SUB_BITS */
    shift = e - SUB_BITS;
    return (shift + 1) * SUB_COUNT + (unsigned int)(v >> shift) - SUB_COUNT;
}

/* hist_value - the middle of bucket i */
static double
hist_value(unsigned int i)
{
    unsigned int shift;
    double m, scale;

    if (i < SUB_COUNT)
        return (double)i;
    shift = i / SUB_COUNT - 1;                      /* at most 56 */
    m = (double)(i % SUB_COUNT + SUB_COUNT);
    scale = (double)(1ULL << shift);
    return (m * scale + (m + 1.0) * scale - 1.0) / 2.0;
}

static void
hist_add(struct hist *h, uint64_t v)
{
    h->count[hist_index(v)]++;
    h->n++;
    if (v > h->max)
        h->max = v;
}

/* hist_pct - the p-th percentile in ns (nearest rank), at most the max */
static double
hist_pct(const struct hist *h, double p)
{
    double exact = p / 100.0 * (double)h->n;
    uint64_t rank = (uint64_t)exact, seen = 0;
    unsigned int i;

    if ((double)rank < exact)
        rank++;
    if (rank == 0)
        rank = 1;
    for (i = 0; i < HIST_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= rank) {
            double v = hist_value(i);

            return v < (double)h->max ? v : (double)h->max;
        }
    }
    return (double)h->max;
}

static void
conn_error(struct run *r, const struct conn *c, const char *what)
{
    if (r->st->errors < ERRORS_SHOWN)
        fprintf(stderr, "smbench: connection fd %d after %llu replies: %s\n",
                c->fd, (unsigned long long)c->done, what);
    else if (r->st->errors == ERRORS_SHOWN)
        fprintf(stderr, "smbench: further errors not shown\n");
    r->st->errors++;
}

static void
conn_close(struct run *r, struct conn *c)
{
    if (c->state == C_CLOSED)
        return;
    close(c->fd);   /* also leaves the epoll set */
    c->state = C_CLOSED;
    free(c->in);
    c->in = NULL;
    r->active--;
}

static int
conn_events(struct run *r, struct conn *c, uint32_t events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = c;
    return epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* conn_write - write the rest of the request; -1 after an error */
static int
conn_write(struct run *r, struct conn *c)
{
    while (c->reqoff < c->reqlen) {
        ssize_t n = write(c->fd, c->req + c->reqoff, c->reqlen - c->reqoff);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (c->state != C_WRITING &&
                    conn_events(r, c, EPOLLIN | EPOLLOUT) != 0)
                    break;
                c->state = C_WRITING;
                return 0;
            }
            break;
        }
        c->reqoff += (size_t)n;
    }
    if (c->reqoff < c->reqlen) {
        conn_error(r, c, strerror(errno));
        return -1;
    }
    if (c->state == C_WRITING && conn_events(r, c, EPOLLIN) != 0) {
        conn_error(r, c, strerror(errno));
        return -1;
    }
    c->state = C_WAITING;
    return 0;
}

/* conn_next - send the next request, or close when this one is done */
static void
conn_next(struct run *r, struct conn *c)
{
    size_t k;

    if (c->done >= r->o->requests ||
        (r->deadline_ns != 0 && now_ns() >= r->deadline_ns)) {
        conn_close(r, c);
        return;
    }
    k = (size_t)(r->next_key++ % r->o->nkeys);
    c->req = r->o->reqs[k];
    c->reqlen = r->o->reqlens[k];
    c->reqoff = 0;
    c->sent_ns = now_ns();
    if (conn_write(r, c) != 0)
        conn_close(r, c);
}

/* check_reply - 0 if payload is a reply Postfix accepts as an answer */
static int
check_reply(struct stats *st, const uint8_t *p, size_t len)
{
    if (len >= 3 && memcmp(p, "OK ", 3) == 0) {
        st->ok++;
        return 0;
    }
    if (len == 9 && memcmp(p, "NOTFOUND ", 9) == 0) {
        st->notfound++;
        return 0;
    }
    if (len >= 5 && memcmp(p, "TEMP ", 5) == 0) {
        st->temp++;
        return 0;
    }
    return -1;
}

/* conn_read - read reply bytes; on a whole reply, record it and go on */
static void
conn_read(struct run *r, struct conn *c)
{
    const uint8_t *payload;
    const char *err;
    size_t plen, used;
    ssize_t n;
    uint64_t t;

    if (c->inlen == c->incap) {
        size_t cap = c->incap == 0 ? 256 : c->incap * 2;
        uint8_t *p;

        if (cap > REPLY_BUF_MAX)
            cap = REPLY_BUF_MAX;
        p = realloc(c->in, cap);
        if (p == NULL) {
            conn_error(r, c, "out of memory");
            conn_close(r, c);
            return;
        }
        c->in = p;
        c->incap = cap;
    }
    n = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        conn_error(r, c, strerror(errno));
        conn_close(r, c);
        return;
    }
    if (n == 0) {
        conn_error(r, c, "server closed the connection");
        conn_close(r, c);
        return;
    }
    t = now_ns();
    if (c->state != C_WAITING) {
        conn_error(r, c, "reply before the request was sent");
        conn_close(r, c);
        return;
    }
    c->inlen += (size_t)n;
    switch (ns_parse(c->in, c->inlen, REPLY_MAX, &payload, &plen, &used,
                     &err)) {
    case NS_MORE:
        return;
    case NS_ERR:
        conn_error(r, c, err);
        conn_close(r, c);
        return;
    case NS_OK:
        break;
    }
    if (used != c->inlen) {
        conn_error(r, c, "bytes after the reply (none was asked for)");
        conn_close(r, c);
        return;
    }
    if (check_reply(r->st, payload, plen) != 0) {
        conn_error(r, c, "reply is not OK, NOTFOUND or TEMP");
        conn_close(r, c);
        return;
    }
    hist_add(&r->st->h, t - c->sent_ns);
    r->last_ns = t;
    c->inlen = 0;
    c->done++;
    conn_next(r, c);
}

/* check_timeouts - a request over Postfix's 100 s limit is an error */
static void
check_timeouts(struct run *r, struct conn *conns)
{
    uint64_t t = now_ns();
    unsigned long i;

    for (i = 0; i < r->o->conns; i++) {
        struct conn *c = &conns[i];

        if (c->state != C_CLOSED && t - c->sent_ns > REQ_TIMEOUT_NS) {
            conn_error(r, c, "no reply within 100 s");
            conn_close(r, c);
        }
    }
}

static int
connect_unix(const char *path)
{
    struct sockaddr_un sun;
    int fd;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* Blocking: when the listen queue is full, wait for the server. */
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
        fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* proc_cpu - CPU seconds used so far by process pid (the first field of
 * /proc/PID/schedstat), or -1 when unknown (pid 0, or not readable) */
static double
proc_cpu(long pid)
{
    char path[64], line[128], *end;
    unsigned long long ns;
    FILE *fp;
    int ok;

    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%ld/schedstat", pid);
    if ((fp = fopen(path, "r")) == NULL)
        return -1;
    ok = fgets(line, sizeof(line), fp) != NULL;
    fclose(fp);
    if (!ok || line[0] < '0' || line[0] > '9')
        return -1;
    errno = 0;
    ns = strtoull(line, &end, 10);
    if (errno != 0 || (*end != ' ' && *end != '\n'))
        return -1;
    return (double)ns / 1e9;
}

/* self_cpu - CPU seconds used so far by smbench */
static double
self_cpu(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* run_load - the whole load against one server (process pid, or 0);
 * 0, or -1 on setup error */
static int
run_load(const struct opts *o, const char *path, long pid,
         struct stats *st)
{
    struct epoll_event evs[EVENTS_MAX];
    struct conn *conns;
    struct run r;
    uint64_t last_scan;
    unsigned long i;
    double srv0, cli0;
    int rc = -1;

    memset(st, 0, sizeof(*st));
    memset(&r, 0, sizeof(r));
    r.o = o;
    r.st = st;
    conns = calloc(o->conns, sizeof(*conns));
    r.ep = epoll_create1(EPOLL_CLOEXEC);
    if (conns == NULL || r.ep < 0) {
        perror("smbench");
        goto out;
    }
    /* Connect everything first: connection setup is not measured. */
    for (i = 0; i < o->conns; i++) {
        struct epoll_event ev;
        struct conn *c = &conns[i];

        c->fd = connect_unix(path);
        if (c->fd < 0) {
            fprintf(stderr, "smbench: connect %s (connection %lu): %s\n",
                    path, i + 1, strerror(errno));
            goto out;
        }
        c->state = C_WAITING;
        r.active++;
        memset(&ev, 0, sizeof(ev));
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(r.ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
            perror("smbench: epoll_ctl");
            goto out;
        }
    }
    srv0 = proc_cpu(pid);
    cli0 = self_cpu();
    r.start_ns = r.last_ns = last_scan = now_ns();
    if (o->duration_ns != 0)
        r.deadline_ns = r.start_ns + o->duration_ns;
    for (i = 0; i < o->conns; i++)
        conn_next(&r, &conns[i]);
    while (r.active > 0) {
        int k, n = epoll_wait(r.ep, evs, EVENTS_MAX, 1000);
        uint64_t t;

        if (n < 0 && errno != EINTR) {
            perror("smbench: epoll_wait");
            goto out;
        }
        for (k = 0; k < n; k++) {
            struct conn *c = evs[k].data.ptr;

            if (c->state == C_CLOSED)
                continue;
            if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                conn_read(&r, c);
            else if (c->state == C_WRITING && conn_write(&r, c) != 0)
                conn_close(&r, c);
        }
        t = now_ns();
        if (t - last_scan >= NS_PER_S) {
            check_timeouts(&r, conns);
            last_scan = t;
        }
    }
    st->secs = (double)(r.last_ns - r.start_ns) / 1e9;
    st->cli_cpu = self_cpu() - cli0;
    st->srv_cpu = srv0 >= 0 && proc_cpu(pid) >= 0 ? proc_cpu(pid) - srv0
                                                  : -1;
    rc = 0;
out:
    if (conns != NULL) {
        for (i = 0; i < o->conns; i++)
            conn_close(&r, &conns[i]);
        free(conns);
    }
    if (r.ep >= 0)
        close(r.ep);
    return rc;
}

static double
qps(const struct stats *st)
{
    return st->secs > 0 ? (double)st->h.n / st->secs : 0.0;
}

static void
report(const char *what, const char *path, const struct opts *o,
       const struct stats *st)
{
    printf("%s %s: %lu conns, %llu requests in %.2f s\n", what, path,
           o->conns, (unsigned long long)st->h.n, st->secs);
    printf("  qps %.0f  p50 %.1f us  p99 %.1f us  p99.9 %.1f us  "
           "max %.1f us\n", qps(st), hist_pct(&st->h, 50) / 1e3,
           hist_pct(&st->h, 99) / 1e3, hist_pct(&st->h, 99.9) / 1e3,
           (double)st->h.max / 1e3);
    printf("  replies: OK %llu, NOTFOUND %llu, TEMP %llu; errors %llu\n",
           (unsigned long long)st->ok, (unsigned long long)st->notfound,
           (unsigned long long)st->temp, (unsigned long long)st->errors);
    if (st->h.n == 0 || st->secs <= 0)
        return;
    printf("  cpu:");
    if (st->srv_cpu >= 0)
        printf(" server %.2f us/request (%.0f%% of a core);",
               st->srv_cpu * 1e6 / (double)st->h.n,
               100 * st->srv_cpu / st->secs);
    printf(" client %.2f us/request (%.0f%%)\n",
           st->cli_cpu * 1e6 / (double)st->h.n,
           100 * st->cli_cpu / st->secs);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* median - of v[0..n), which is sorted in place */
static double
median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* summary - medians over the n runs st[0..n) of one server */
static void
summary(const char *what, const struct stats *st, size_t n)
{
    double q[REPS_MAX], p50[REPS_MAX], p99[REPS_MAX], p999[REPS_MAX];
    double cpu[REPS_MAX];
    size_t i, ncpu = 0;

    for (i = 0; i < n; i++) {
        q[i] = qps(&st[i]);
        p50[i] = hist_pct(&st[i].h, 50) / 1e3;
        p99[i] = hist_pct(&st[i].h, 99) / 1e3;
        p999[i] = hist_pct(&st[i].h, 99.9) / 1e3;
        if (st[i].srv_cpu >= 0 && st[i].h.n > 0)
            cpu[ncpu++] = st[i].srv_cpu * 1e6 / (double)st[i].h.n;
    }
    printf("median of %zu %s: qps %.0f  p50 %.1f us  p99 %.1f us  "
           "p99.9 %.1f us", n, what, median(q, n), median(p50, n),
           median(p99, n), median(p999, n));
    if (ncpu > 0)
        printf("  cpu %.2f us/request", median(cpu, ncpu));
    printf("\n");
}

static void
usage(void)
{
    fprintf(stderr,
            "usage: smbench [-c CONNS] [-n REQUESTS_PER_CONN] [-d SECONDS] "
            "[-r REPS]\n"
            "               [-p PID] [-P REFPID] [-k KEY]... SOCKETPATH "
            "[REFPATH]\n"
            "  -c  connections, 1 to %d (default 1)\n"
            "  -n  requests per connection (default 1000 without -d)\n"
            "  -d  duration, 0.1 to %.0f s\n"
            "  -r  repetitions, alternating server and reference (default "
            "1, at most %d)\n"
            "  -p  pid of the server, -P of the reference: CPU per request\n"
            "  -k  key (repeatable, up to %d; default .example.com)\n",
            CONNS_MAX, DURATION_MAX, REPS_MAX, KEYS_MAX);
    exit(2);
}

/* parse_ulong - fully checked decimal number in [min, max]; 0 or -1 */
static int
parse_ulong(const char *s, unsigned long min, unsigned long max,
            unsigned long *out)
{
    char *end;
    unsigned long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* add_key - format "postfix KEY" as a request netstring; 0 or -1 */
static int
add_key(struct opts *o, const char *key)
{
    size_t klen = strlen(key), plen = sizeof("postfix ") - 1 + klen;
    char *payload, *req;

    if (o->nkeys == KEYS_MAX || klen == 0 || klen > KEY_MAX)
        return -1;
    payload = malloc(plen + 1);
    req = malloc(plen + 16);
    if (payload == NULL || req == NULL) {
        free(payload);
        free(req);
        return -1;
    }
    memcpy(payload, "postfix ", 8);
    memcpy(payload + 8, key, klen);
    o->reqlens[o->nkeys] = ns_format(req, plen + 16, payload, plen);
    free(payload);
    if (o->reqlens[o->nkeys] == 0) {
        free(req);
        return -1;
    }
    o->reqs[o->nkeys++] = req;
    return 0;
}

/* raise_nofile - room for CONNS descriptors; 0 or -1 */
static int
raise_nofile(unsigned long conns)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)conns + 64;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur >= want)
        return 0;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
        return -1;
    rl.rlim_cur = want;
    return setrlimit(RLIMIT_NOFILE, &rl);
}

/* warm_up - send every key once on one connection, unmeasured, so that
 * the measured runs get cached answers; 0 or -1 */
static int
warm_up(const struct opts *o, const char *path)
{
    struct opts w = *o;
    struct stats *st = calloc(1, sizeof(*st));
    int rc;

    if (st == NULL)
        return -1;
    w.conns = 1;
    w.requests = o->nkeys;
    w.duration_ns = 0;
    rc = run_load(&w, path, 0, st);
    if (rc == 0 && st->errors > 0) {
        fprintf(stderr, "smbench: warm-up of %s failed\n", path);
        rc = -1;
    }
    free(st);
    return rc;
}

int
main(int argc, char **argv)
{
    struct opts o;
    struct stats *runs[2];
    double ratios[REPS_MAX];
    const char *paths[2], *names[2] = { "server", "reference" };
    long pids[2] = { 0, 0 };
    unsigned long v, reps = 1, i;
    char *end;
    double d;
    int ch, nflag = 0, status = 0, nsrv, k;
    size_t nratio = 0;

    memset(&o, 0, sizeof(o));
    o.conns = 1;
    o.requests = UINT64_MAX;
    while ((ch = getopt(argc, argv, "c:n:d:k:r:p:P:h")) != -1) {
        switch (ch) {
        case 'c':
            if (parse_ulong(optarg, 1, CONNS_MAX, &o.conns) != 0)
                usage();
            break;
        case 'n':
            if (parse_ulong(optarg, 1, REQUESTS_MAX, &v) != 0)
                usage();
            o.requests = v;
            nflag = 1;
            break;
        case 'd':
            errno = 0;
            d = strtod(optarg, &end);
            if (errno != 0 || end == optarg || *end != '\0' || !(d >= 0.1) ||
                d > DURATION_MAX)
                usage();
            o.duration_ns = (uint64_t)(d * 1e9);
            break;
        case 'r':
            if (parse_ulong(optarg, 1, REPS_MAX, &reps) != 0)
                usage();
            break;
        case 'p':
        case 'P':
            if (parse_ulong(optarg, 1, 4194304, &v) != 0)
                usage();
            pids[ch == 'P'] = (long)v;
            break;
        case 'k':
            if (add_key(&o, optarg) != 0) {
                fprintf(stderr, "smbench: bad key or too many keys: %s\n",
                        optarg);
                return 2;
            }
            break;
        default:
            usage();
        }
    }
    if (argc - optind < 1 || argc - optind > 2)
        usage();
    nsrv = argc - optind;
    paths[0] = argv[optind];
    paths[1] = nsrv == 2 ? argv[optind + 1] : NULL;
    if (!nflag && o.duration_ns == 0)
        o.requests = 1000;
    if (o.nkeys == 0 && add_key(&o, ".example.com") != 0)
        return 1;
    if (raise_nofile(o.conns) != 0) {
        fprintf(stderr, "smbench: cannot raise the descriptor limit to "
                "%lu\n", o.conns + 64);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    runs[0] = calloc(reps, sizeof(struct stats));
    runs[1] = calloc(reps, sizeof(struct stats));
    if (runs[0] == NULL || runs[1] == NULL) {
        perror("smbench");
        return 1;
    }
    for (k = 0; k < nsrv; k++)
        if (warm_up(&o, paths[k]) != 0)
            return 1;
    for (i = 0; i < reps; i++) {
        /* ABBA: the reference goes first in every other repetition */
        int order[2] = { 0, 1 };

        if (nsrv == 2 && i % 2 == 1) {
            order[0] = 1;
            order[1] = 0;
        }
        for (k = 0; k < nsrv; k++) {
            int w = order[k];
            struct stats *st = &runs[w][i];

            if (run_load(&o, paths[w], pids[w], st) != 0)
                return 1;
            if (reps > 1)
                printf("[%lu/%lu] ", i + 1, reps);
            report(names[w], paths[w], &o, st);
            if (st->errors > 0 || st->h.n == 0)
                status = 1;
        }
        if (nsrv == 2 && qps(&runs[1][i]) > 0) {
            ratios[nratio] = qps(&runs[0][i]) / qps(&runs[1][i]);
            printf("ratio %.2f\n", ratios[nratio++]);
        }
    }
    if (reps > 1) {
        summary("server runs", runs[0], reps);
        if (nsrv == 2)
            summary("reference runs", runs[1], reps);
        if (nratio > 0) {
            double med = median(ratios, nratio);

            printf("median ratio %.2f (min %.2f, max %.2f, %zu "
                   "repetitions)\n", med, ratios[0], ratios[nratio - 1],
                   nratio);
        }
    }
    for (i = 0; i < o.nkeys; i++)
        free(o.reqs[i]);
    free(runs[0]);
    free(runs[1]);
    return status;
}
