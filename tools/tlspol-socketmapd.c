/*
 * tlspol-socketmapd - Postfix socketmap server for smtp_tls_policy_maps.
 * See tlspol-socketmapd(8).
 *
 * One epoll loop holds the listening sockets (unix and loopback inet),
 * every client connection, a signalfd, a one-second timerfd (idle sweep,
 * shutdown deadline) and the library's fd (tlspol_ctx_get_fd ->
 * tlspol_ctx_dispatch).  Requests are netstrings "<name> <key>"
 * (socketmap_table(5); standards A5.2); replies are "OK <policy>",
 * "NOTFOUND ", "TEMP <reason>" or "PERM <reason>", at most 100000 bytes
 * (DESIGN §7).  Keys with a leading dot, bracketed or ported next hops and
 * IP literals get "NOTFOUND " without a lookup (standards A5.1).
 *
 * Pipelining: each connection keeps a FIFO of requests; a reply is
 * written only when it and every earlier one are complete.  A connection
 * closed with requests outstanding cancels their queries, so no callback
 * ever sees a freed connection.  Callbacks only record the reply and put
 * the connection on a ready list, which the loop services after
 * tlspol_ctx_dispatch() returns: connections are never closed from inside
 * a callback.
 *
 * Limits: --max-request (payload bytes, default 10240) bounds the input
 * buffer (payload + 16); OUT_MAX bounds the output buffer; PIPELINE_MAX
 * bounds outstanding requests per connection (reading pauses beyond it);
 * --max-clients bounds connections (beyond it, and when descriptors run
 * out, new connections are closed at once and counted).  At start the
 * soft descriptor limit is raised to the hard one.
 *
 * Per-request path (cached answers): one recv into the server's single
 * read buffer, a request record from a free list (key and reply inline),
 * tlspol_resolve_cached answering at once (only a request that needs a
 * lookup goes through tlspol_resolve and, later, the library's fd).
 * The reply is sent straight from the request record when nothing is
 * buffered for that connection.  No malloc, no epoll_ctl and no clock
 * read per request; connections are edge-triggered, so a connection
 * costs the kernel one poll per event, not two.  Log lines are built in
 * place in one buffer and written to stderr with one write(2) when it
 * fills or its oldest line is LOG_FLUSH_US old, and at once for warnings
 * and errors.  A connection holds memory beyond its struct conn
 * only while it has a partial request (an input buffer grown on demand)
 * or unsent output.  After TRIM_CONNS connections closed, malloc_trim
 * gives the freed pages back.
 *
 * systemd: listening sockets may be passed by socket activation
 * (sd_listen_fds(3): LISTEN_PID, LISTEN_FDS, fds from 3); readiness,
 * reloads and shutdown are reported to NOTIFY_SOCKET (sd_notify(3)).
 * Both protocols are a few lines here; libsystemd is not linked.
 *
 * Metrics: --metrics serves Prometheus text format (exposition format
 * 0.0.4) over HTTP/1.0 on GET /metrics, from the same epoll loop: a
 * request (line and headers) is read into HTTP_REQ_MAX bytes within
 * HTTP_TIMEOUT_US, answered once, and the connection is closed.
 *
 * Admin: --admin serves a UNIX socket (mode 0600 by default), apart from
 * the query sockets, from the same epoll loop: one command per line
 * ("COMMAND [ARG]", at most ADMIN_LINE_MAX bytes with the newline; longer
 * lines close the connection), each reply ending with a line ".".
 * Commands run one at a time per connection: the next line is read only
 * once the previous reply is out, so a reply (at most ADMIN_OUT_MAX
 * bytes) is the only output buffered.  "refresh" answers from the
 * library callback, like a socketmap request.  At most ADMIN_CLIENTS_MAX
 * connections, closed after ADMIN_IDLE_SEC idle.
 *
 * Exit codes: 0 normal shutdown; 2 usage error; 3 setup error (cannot
 * bind, bad configuration, cannot drop privileges) or fatal runtime error.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, initgroups, SOCK_NONBLOCK */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "netstring.h"
#include "cli.h"
#include "tlspol/tlspol.h"

#define EX_OK 0
#define EX_USAGE 2
#define EX_SETUP 3

#define REPLY_MAX 100000        /* socketmap reply payload (A5.2) */
#define NS_OVERHEAD 16          /* "<len>:" + "," + NUL, generously */
#define OUT_MAX (4 * (REPLY_MAX + NS_OVERHEAD)) /* per-connection output */
#define PIPELINE_MAX 64         /* outstanding requests per connection */
#define PENDING_INLINE 384      /* key + reply stored in the request */
#define PENDING_FREE_MAX 128    /* request records kept for reuse */
#define IN_MIN 256              /* first size of a connection's input
                                   buffer (partial requests only) */
#define IOV_BATCH 16            /* replies per sendmsg */
#define LOG_BUF_SIZE 65536      /* log lines not yet written to stderr */
#define LOG_FLUSH_US 100000     /* INFO/DEBUG lines wait at most this */
#define TRIM_CONNS 1024         /* closed connections between trims */
#define LISTEN_MAX 16           /* --listen */
#define LISTEN_FDS_MAX 64       /* sockets from systemd (LISTEN_FDS) */
#define LISTEN_FDS_START 3      /* first of them (sd_listen_fds(3)) */
#define LISTENERS_MAX (LISTEN_MAX + LISTEN_FDS_MAX)
#define HTTP_REQ_MAX 4096       /* metrics request: line and headers */
#define HTTP_TIMEOUT_US 5000000 /* metrics request and reply: 5 s */
#define HTTP_CLIENTS_MAX 16     /* concurrent metrics connections */
#define METRICS_BODY_MAX 16384  /* metrics response body */
#define ADMIN_CLIENTS_MAX 16    /* concurrent admin connections */
#define ADMIN_LINE_MAX 1024     /* admin command line, with its newline */
#define ADMIN_IDLE_SEC 10       /* admin connection idle timeout */
#define ADMIN_OUT_MAX (16 * 1024 * 1024) /* one admin reply ("dump") */
#define NVERDICT (TLSPOL_VERDICT_LOCAL + 1)
#define NSOURCE (TLSPOL_SOURCE_STS_CACHE + 1)
#define HIT_MID_MAX 80          /* ": VERDICT (SOURCE, cached) -> " */
#define NBUCKET 9               /* finite histogram buckets */
#define SOCK_NAME_MAX 480       /* sock_name(): a unix path, escaped */
#define PRELOAD_MAX 16          /* --preload */
#define LOG_LINE_MAX 2048       /* one log line */
#define LOG_KEY_MAX 256         /* bytes of a key shown in logs */
#define NAME_SHOW_MAX 64        /* bytes of a map name shown in replies */
#define PEER_MAX 96             /* a client's description in logs */
#define FD_SPARE 64             /* descriptors besides the clients' */
#define COMPAT_TLSRPT 310       /* Postfix 3.10: TLSRPT attributes */

enum ev_kind {
    EV_LISTEN, EV_CONN, EV_SIGNAL, EV_TIMER, EV_LIB, EV_MLISTEN, EV_HTTP,
    EV_ALISTEN, EV_ADMIN
};

/* One epoll registration; first member of listeners and connections. */
struct ev {
    enum ev_kind kind;
    int fd;                     /* owned by the containing object */
};

struct listener {
    struct ev ev;
    const char *spec;           /* the --listen argument (borrowed), or
                                   desc */
    char *path;                 /* unix: socket path, owned; else NULL */
    char desc[SOCK_NAME_MAX + 16]; /* name of a socket from systemd */
};

/* One metrics client: reading the request, then writing the reply. */
struct http {
    struct ev ev;
    char in[HTTP_REQ_MAX];      /* request line and headers */
    size_t inlen;
    char *out;                  /* response, owned; NULL while reading */
    size_t outlen, outoff;
    uint64_t deadline;          /* monotonic microseconds */
    struct http *prev, *next;   /* list of metrics clients */
};

/* One admin client: a line buffer, and one reply at a time. */
struct admin {
    struct ev ev;
    uint32_t events;            /* current epoll interest */
    char peer[96];              /* for logs */
    char in[ADMIN_LINE_MAX];    /* unread command lines */
    size_t inlen;
    char *out;                  /* reply, owned; capped at ADMIN_OUT_MAX */
    size_t outlen, outoff, outcap;
    tlspol_query *q;            /* "refresh" in flight, or NULL */
    char domain[ADMIN_LINE_MAX]; /* its domain, NUL-terminated */
    time_t last;                /* monotonic time of the last activity */
    int eof;                    /* the client sent everything */
    int failed;                 /* a reply could not be queued: close */
    int in_ready;               /* on the ready list */
    struct admin *prev, *next;  /* list of admin clients */
    struct admin *rnext;        /* ready list */
};

/* Counters of --metrics kept by the server (the library keeps its own,
 * read with tlspol_ctx_stat). */
struct metrics {
    uint64_t verdict[NVERDICT]; /* replies after a lookup, by verdict */
    uint64_t errors;            /* lookups that failed or did not start */
    uint64_t skipped;           /* NOTFOUND without a lookup */
    uint64_t misses;            /* not in the verdict cache: to the
                                   library's lookup */
    uint64_t malformed;         /* bad netstring, no key, unknown name */
    uint64_t reload_ok, reload_failed;
    uint64_t rejected_max;      /* connections closed: --max-clients */
    uint64_t rejected_fds;      /* connections closed: out of fds */
    uint64_t aged;              /* connections past --connection-timeout */
    uint64_t bucket[NBUCKET + 1]; /* lookup times per bucket (not
                                     cumulative); the last is +Inf */
    uint64_t sum_us;            /* sum of lookup times */
};

struct conn;

/* One request of a connection, in arrival order.  Records are reused
 * through the server's free list; key and reply live in buf when they
 * fit, else on the heap. */
struct pending {
    struct conn *conn;          /* borrowed back-pointer to the owner */
    tlspol_query *q;            /* outstanding query, or NULL */
    char *key;                  /* NUL-terminated key: in buf, or owned */
    size_t keylen;
    unsigned int compat;        /* for tlspol_result_postfix_policy */
    char *reply;                /* netstring-encoded reply: in buf, or
                                   owned; NULL until complete */
    size_t replylen;
    uint64_t t0;                /* arrival, monotonic microseconds */
    struct pending *next;       /* owned by the connection's FIFO, or
                                   the free list */
    unsigned char key_heap;     /* key was allocated */
    unsigned char reply_heap;   /* reply was allocated */
    unsigned char done;         /* answered (reply NULL: no memory) */
    char buf[PENDING_INLINE];   /* key, NUL, then the reply */
};

/* The address of a client, kept for logs (formatted only when
 * logging). */
union peer_addr {
    sa_family_t family;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
};

/* One client connection. */
struct conn {
    struct ev ev;
    uint32_t events;            /* current epoll interest */
    unsigned int in_ready : 1;  /* on the ready list */
    unsigned int rd : 1;        /* the socket may hold unread input */
    unsigned int aged : 1;      /* past --connection-timeout: no new
                                   requests, closed once answered */
    union peer_addr peer;       /* for logs: conn_peer() */
    uint32_t born;              /* monotonic second it was accepted */
    uint8_t *in;                /* unparsed input (incap bytes), owned;
                                   NULL while there is none */
    size_t inlen, incap;
    char *out;                  /* unsent output, owned; NULL when
                                   none was left over */
    size_t outlen, outoff, outcap;
    struct pending *head, *tail; /* FIFO of requests, owned */
    size_t npending;
    time_t last;                /* monotonic time of the last request */
    struct conn *prev, *next;   /* list of all connections */
    struct conn *rnext;         /* ready list */
};

/* Options and state of the server. */
struct server {
    tlspol_ctx *ctx;            /* owned */
    int epfd, sigfd, timerfd;   /* owned */
    struct ev sig_ev, timer_ev, lib_ev;
    struct listener lst[LISTENERS_MAX];
    size_t nlst;
    struct listener mlst;       /* --metrics, fd -1 without it */
    struct http *https;         /* metrics clients, owned */
    struct http *hdead;         /* closed, freed at the end of the loop
                                   iteration */
    size_t nhttp;
    struct listener alst;       /* --admin, fd -1 without it */
    struct admin *admins;       /* admin clients, owned */
    struct admin *adead;        /* closed, freed at the end of the loop
                                   iteration */
    struct admin *aready;       /* admin clients with a refresh answered */
    size_t nadmin;
    struct metrics m;
    struct sockaddr_un notify_sun; /* NOTIFY_SOCKET */
    socklen_t notify_len;       /* 0: do not notify */
    struct conn *conns;         /* all connections, owned */
    size_t nconns;
    struct conn *ready;         /* connections with completed replies */
    struct conn *dead;          /* closed, freed at the end of the loop
                                   iteration (epoll may still name them) */
    struct pending *pfree;      /* request records for reuse, owned */
    size_t npfree;
    uint8_t *rbuf;              /* read buffer, max_request +
                                   NS_OVERHEAD bytes, owned */
    uint64_t now_us;            /* monotonic time of this iteration */
    time_t now;                 /* the same in seconds */
    size_t closed_since_trim;   /* connections closed since malloc_trim */
    int reserve_fd;             /* spare fd for EMFILE */
    int overload_logged;
    int stopping;
    time_t stop_deadline;
    const char *config;
    unsigned long max_clients, idle_timeout, max_request;
    unsigned long conn_timeout; /* --connection-timeout, seconds */
    unsigned int timeout_ms;
    char *server_digest;        /* server: settings at start, owned */
};

static const char progname[] = "tlspol-socketmapd";
static const size_t progname_len = sizeof(progname) - 1;
static int use_syslog;
static int log_max = TLSPOL_LOG_INFO; /* our own messages */
static int opt_verbose;               /* -v given this often */
static int opt_log = -1;              /* --log: 0 stderr, 1 syslog */
static int log_decisions = 1;         /* the INFO line per decision */
static char log_buf[LOG_BUF_SIZE];    /* lines for stderr (log_flush) */
static size_t log_len;                /* bytes in log_buf */
static uint64_t log_due_us;           /* when they must be written */

static void
usage(FILE *fp)
{
    fprintf(fp,
"Usage: %s [options] [--listen unix:PATH|inet:HOST:PORT ...]\n"
"Postfix socketmap server for smtp_tls_policy_maps: answers\n"
"\"<name> <key>\" requests with the MTA-STS/DANE policy of the key.\n"
"Socketmap names: postfix (Postfix compatibility from the config,\n"
"default 3.9) and postfix-tlsrpt (3.10: adds TLSRPT attributes).\n"
"\n"
"Listening:\n"
"  -l, --listen SPEC           unix:/path, inet:127.0.0.1:PORT or\n"
"                              inet:[::1]:PORT (repeatable)\n"
"      --socket-mode OCTAL     mode of unix sockets (default 0666)\n"
"      --socket-owner USER[:GROUP]  owner of unix sockets\n"
"      --allow-remote          allow non-loopback inet addresses\n"
"                              (socketmap is unauthenticated)\n"
"      --max-clients N         connections (default 4096)\n"
"      --idle-timeout SECONDS  close idle connections (default 30)\n"
"      --connection-timeout SECONDS  close any connection this long\n"
"                              after it was opened, once its requests\n"
"                              are answered (default 300)\n"
"      --max-request BYTES     request payload limit (default 10240)\n"
"  Sockets passed by systemd (LISTEN_PID, LISTEN_FDS) are used as well;\n"
"  with them --listen is optional.\n"
"      --metrics inet:HOST:PORT  serve Prometheus metrics on GET /metrics\n"
"                              (loopback unless --allow-remote)\n"
"      --admin unix:PATH       admin socket: stats, dump, refresh DOMAIN,\n"
"                              purge DOMAIN, reload, help (one command\n"
"                              per line)\n"
"      --admin-mode OCTAL      mode of the admin socket (default 0600)\n"
"\n", progname);
    /* in two parts: C11 promises string literals of 4095 bytes only */
    fputs(
"Resolution:\n"
"  -f, --config FILE           configuration (tlspol.yaml(5)); reread\n"
"                              on SIGHUP; options here override it;\n"
"                              its server: section may give --listen\n"
"                              and the other socket, limit, user and\n"
"                              cache options (at start only)\n"
"      --preload FILE          add a preload list (repeatable)\n"
"  -r, --resolver ADDR[@PORT]  DNS resolver (repeatable)\n"
"  -a, --trust-anchor FILE     DNSSEC trust anchor\n"
"  -c, --ca-file FILE          CA bundle for HTTPS policy hosts\n"
"      --ca-path DIR           hashed CA directory\n"
"      --refresh-ahead SECONDS refetch cached MTA-STS policies this long\n"
"                              before they expire (default 86400; 0 off)\n"
"      --evict-idle SECONDS    drop cached policies unused this long\n"
"                              (default 2592000, 30 days; 0 never)\n"
"      --cache-file FILE       keep MTA-STS policies in this SQLite file\n"
"                              (survives restarts and kill -9)\n"
"      --shared-store URL      share MTA-STS policies with other MTAs in\n"
"                              Redis: redis://IP[:PORT][/DB] or\n"
"                              unix:/PATH[?db=N] (a password belongs in\n"
"                              the --config file: shared_store)\n"
"  -t, --timeout SECONDS       bound on each DNS query and policy fetch\n"
"      --dnssec validate|trust-ad   where DNSSEC state comes from\n"
"      --check-resolver        test the resolver path at start; DANE is\n"
"                              unavailable when it fails (logged)\n"
"      --bogus-name NAME       with --check-resolver: a known-bogus name\n"
"\n"
"Process:\n"
"  -u, --user NAME             drop privileges to NAME after binding\n"
"                              (default when started as root: nobody)\n"
"      --no-drop-privileges    keep running as root\n"
"      --foreground            stay in the foreground (the default)\n"
"      --log stderr|syslog     where to log (default stderr; syslog\n"
"                              uses facility mail)\n"
"  -v, --verbose               more logging (repeat for debug)\n"
"      --quiet                 no INFO line per decision\n"
"  -h, --help                  this text\n"
"  -V, --version               print the version\n"
"\n"
"Signals: SIGHUP rereads --config; SIGTERM/SIGINT stop accepting,\n"
"finish outstanding queries, then exit.  With NOTIFY_SOCKET set, READY=1,\n"
"RELOADING=1 and STOPPING=1 are sent to it (systemd Type=notify).\n"
"Exit status: 0 normal shutdown; 2 usage error; 3 setup error (cannot\n"
"bind, bad configuration, cannot drop privileges) or fatal error.\n",
          fp);
}

/* log_flush - write the buffered log lines to stderr: at once for
 * warnings and errors, else when log_wait_ms says so */
static void
log_flush(void)
{
    size_t off = 0;
    int saved = errno;

    while (off < log_len) {
        ssize_t n = write(STDERR_FILENO, log_buf + off, log_len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* stderr is gone or broken: the lines are lost */
        off += (size_t)n;
    }
    log_len = 0;
    log_due_us = 0;
    errno = saved;
}

/* log_room - LOG_LINE_MAX bytes free at the end of log_buf, to build a
 * line in place (log_len is advanced by the caller) */
static char *
log_room(void)
{
    if (sizeof(log_buf) - log_len < LOG_LINE_MAX)
        log_flush();
    return log_buf + log_len;
}

/* log_wait_ms - the epoll_wait timeout that keeps buffered INFO and
 * DEBUG lines at most LOG_FLUSH_US old, flushing them when due: under
 * load many iterations share one write(2) instead of one each */
static int
log_wait_ms(uint64_t now_us)
{
    if (log_len == 0)
        return -1;
    if (log_due_us == 0)
        log_due_us = now_us + LOG_FLUSH_US;
    if (now_us >= log_due_us) {
        log_flush();
        return -1;
    }
    return (int)((log_due_us - now_us + 999) / 1000);
}

/* vlog_msg - one log line to stderr or syslog */
static void
vlog_msg(tlspol_log_level lvl, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
vlog_msg(tlspol_log_level lvl, const char *fmt, va_list ap)
{
    static const char *const names[] = { "error", "warning", "info",
                                         "debug" };
    static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
    unsigned int i = lvl <= TLSPOL_LOG_DEBUG ? (unsigned int)lvl
                                             : TLSPOL_LOG_DEBUG;
    char *line;
    size_t n;
    int head;

    if (use_syslog) {
        char msg[LOG_LINE_MAX];

        vsnprintf(msg, sizeof(msg), fmt, ap);
        syslog(prio[i], "%s", msg);
        return;
    }
    /* "progname: level: message\n", formatted in place in log_buf */
    line = log_room();
    head = snprintf(line, LOG_LINE_MAX, "%s: %s: ", progname, names[i]);
    if (head < 0 || (size_t)head >= LOG_LINE_MAX - 1)
        return;
    vsnprintf(line + head, LOG_LINE_MAX - (size_t)head - 1, fmt, ap);
    n = strlen(line);
    line[n++] = '\n';
    log_len += n;
    if (lvl <= TLSPOL_LOG_WARN)
        log_flush(); /* rare, and wanted at once */
}

/* log_on - whether messages at lvl are logged; callers check it before
 * formatting anything that only the message needs */
static int
log_on(tlspol_log_level lvl)
{
    return (int)lvl <= log_max;
}


/* log_msg - log at lvl if the verbosity allows it */
static void
log_msg(tlspol_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
log_msg(tlspol_log_level lvl, const char *fmt, ...)
{
    va_list ap;

    if (!log_on(lvl))
        return;
    va_start(ap, fmt);
    vlog_msg(lvl, fmt, ap);
    va_end(ap);
}

static void show(char *dst, size_t size, const char *src, size_t len,
                 size_t max);

/* put - append n bytes of s to line[*o..size-1), cutting what does not
 * fit (one byte stays free for the newline).  Not inlined: with the
 * bounds known, gcc copies with "rep movsq", whose start-up cost is
 * most of a short copy. */
static void __attribute__((noinline))
put(char *line, size_t size, size_t *o, const char *s, size_t n)
{
    if (n > size - 1 - *o)
        n = size - 1 - *o;
    memcpy(line + *o, s, n);
    *o += n;
}

/* log_decision - the INFO line of one decision, "KEY: VERDICT (SOURCE):
 * REASON -> REPLY" (key as show() prints it, the reply cut at 80 bytes),
 * or for an answer from the verdict cache (reason NULL) "KEY: VERDICT
 * (SOURCE, cached) -> REPLY": the reason was logged with the lookup that
 * made the cached verdict.  Assembled in place in log_buf without
 * printf: it runs once per query. */
static void
log_decision(const char *key, size_t keylen, const char *verdict,
             const char *source, const char *reason, const char *reply,
             size_t replylen)
{
    static const char info[] = ": info: ";
    char *line;
    size_t o = 0;

    if (use_syslog) {
        char shown[LOG_KEY_MAX * 4 + 8];

        show(shown, sizeof(shown), key, keylen, LOG_KEY_MAX);
        if (reason == NULL)
            log_msg(TLSPOL_LOG_INFO, "%s: %s (%s, cached) -> %.80s", shown,
                    verdict, source, reply);
        else
            log_msg(TLSPOL_LOG_INFO, "%s: %s (%s): %s -> %.80s", shown,
                    verdict, source, reason, reply);
        return;
    }
    line = log_room();
    put(line, LOG_LINE_MAX, &o, progname, progname_len);
    put(line, LOG_LINE_MAX, &o, info, sizeof(info) - 1);
    show(line + o, LOG_LINE_MAX - o, key, keylen, LOG_KEY_MAX);
    o += strlen(line + o);
    put(line, LOG_LINE_MAX, &o, ": ", 2);
    put(line, LOG_LINE_MAX, &o, verdict, strlen(verdict));
    put(line, LOG_LINE_MAX, &o, " (", 2);
    put(line, LOG_LINE_MAX, &o, source, strlen(source));
    if (reason == NULL) {
        put(line, LOG_LINE_MAX, &o, ", cached) -> ", 13);
    } else {
        put(line, LOG_LINE_MAX, &o, "): ", 3);
        put(line, LOG_LINE_MAX, &o, reason, strlen(reason));
        put(line, LOG_LINE_MAX, &o, " -> ", 4);
    }
    put(line, LOG_LINE_MAX, &o, reply, replylen < 80 ? replylen : 80);
    line[o++] = '\n';
    log_len += o;
}

/* key_len_plain - keylen when key[0..keylen) needs no escaping in a log
 * line (printable, no backslash, not cut), else 0 */
static size_t
key_len_plain(const char *key, size_t keylen)
{
    size_t i;

    if (keylen > LOG_KEY_MAX)
        return 0;
    for (i = 0; i < keylen; i++) {
        unsigned char ch = (unsigned char)key[i];

        if (ch < 0x20 || ch >= 0x7f || ch == '\\')
            return 0;
    }
    return keylen;
}

/* log_hit - log_decision for an answer from the verdict cache, the
 * line per query of a busy server: the part between key and reply,
 * " VERDICT (SOURCE, cached) -> ", is made once per verdict and source,
 * so a line is four copies */
static void
log_hit(const char *key, size_t keylen, tlspol_verdict v, tlspol_source src,
        const char *reply, size_t replylen)
{
    static const char info[] = ": info: ";
    static struct {
        size_t n;  /* 0: not made yet */
        char s[HIT_MID_MAX];
    } mid[NVERDICT][NSOURCE];
    size_t o, kl;
    char *line;

    if ((unsigned int)v >= NVERDICT || (unsigned int)src >= NSOURCE ||
        use_syslog || (kl = key_len_plain(key, keylen)) == 0)
        goto slow;
    if (mid[v][src].n == 0) {
        int n = snprintf(mid[v][src].s, HIT_MID_MAX, ": %s (%s, cached) -> ",
                         tlspol_verdict_name(v), tlspol_source_name(src));

        if (n <= 0 || n >= HIT_MID_MAX)
            goto slow;
        mid[v][src].n = (size_t)n;
    }
    line = log_room();
    memcpy(line, progname, progname_len);
    o = progname_len;
    memcpy(line + o, info, sizeof(info) - 1);
    o += sizeof(info) - 1;
    memcpy(line + o, key, kl);
    o += kl;
    memcpy(line + o, mid[v][src].s, mid[v][src].n);
    o += mid[v][src].n;
    if (replylen > 80)
        replylen = 80;
    memcpy(line + o, reply, replylen);
    o += replylen;
    line[o++] = '\n';
    log_len += o;
    return;
slow:
    log_decision(key, keylen, tlspol_verdict_name(v), tlspol_source_name(src),
                 NULL, reply, replylen);
}

/* lib_log - the library's log callback */
static void
lib_log(tlspol_log_level lvl, const char *id, const char *msg, void *ud)
{
    (void)ud;
    log_msg(lvl, "%s [%s]", msg, id);
}

/* show - untrusted bytes as printable text for logs and replies: other
 * bytes as \xHH, cut at max bytes of input with "..." */
static void
show(char *dst, size_t size, const char *src, size_t len, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, o = 0;

    for (i = 0; i < len && i < max; i++) {
        unsigned char ch = (unsigned char)src[i];

        if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
            if (o + 2 > size)
                break;
            dst[o++] = (char)ch;
        } else {
            if (o + 5 > size)
                break;
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[ch >> 4];
            dst[o++] = hex[ch & 15];
        }
    }
    if (i < len && o + 4 <= size) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

/* now_usec - monotonic microseconds */
static uint64_t
now_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* now_sec - monotonic seconds */
static time_t
now_sec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* tick - read the clock once for this loop iteration (s->now_us,
 * s->now); the per-request path uses these */
static void
tick(struct server *s)
{
    s->now_us = now_usec();
    s->now = (time_t)(s->now_us / 1000000u);
}

/* parse_ulong - fully checked unsigned number in [min, max]; 0 or -1 */
static int
parse_ulong(const char *s, int base, unsigned long min, unsigned long max,
            unsigned long *out)
{
    char *end;
    unsigned long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoul(s, &end, base);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Listening sockets                                                  */

/* is_loopback - 1 for 127/8, ::1 and ::ffff:127/104 */
static int
is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

        return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

        if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
               s6->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

/* parse_inet - "127.0.0.1:25", "[::1]:25" -> address; 0 or -1 with why */
static int
parse_inet(const char *s, struct sockaddr_storage *ss, socklen_t *sslen,
           const char **why)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *colon, *hs = s;
    size_t hl;
    unsigned long port;

    memset(ss, 0, sizeof(*ss));
    if (*s == '[') {
        const char *rb = strchr(s, ']');

        if (rb == NULL || rb[1] != ':') {
            *why = "expected [IPV6]:PORT";
            return -1;
        }
        hs = s + 1;
        hl = (size_t)(rb - hs);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL) {
            *why = "expected HOST:PORT";
            return -1;
        }
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= sizeof(host)) {
        *why = "bad address";
        return -1;
    }
    memcpy(host, hs, hl);
    host[hl] = '\0';
    if (parse_ulong(colon + 1, 10, 1, 65535, &port) != 0) {
        *why = "bad port (1..65535)";
        return -1;
    }
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr)
        == 1) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;

        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        *sslen = sizeof(*sin);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr)
        == 1) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *sslen = sizeof(*s6);
        return 0;
    }
    *why = "not a numeric IPv4 or IPv6 address";
    return -1;
}

/* open_unix - bind a unix socket at path with mode and owner; fd or -1 */
static int
open_unix(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
    struct sockaddr_un sun;
    struct stat st;
    size_t n = strlen(path);
    mode_t old;
    int fd = -1;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (n == 0 || n >= sizeof(sun.sun_path)) {
        log_msg(TLSPOL_LOG_ERROR, "unix:%s: path is empty or longer than "
                "%zu bytes", path, sizeof(sun.sun_path) - 1);
        return -1;
    }
    memcpy(sun.sun_path, path, n + 1);
    if (lstat(path, &st) == 0) {
        int probe;

        if (!S_ISSOCK(st.st_mode)) {
            log_msg(TLSPOL_LOG_ERROR, "unix:%s: exists and is not a "
                    "socket", path);
            return -1;
        }
        /* a live server answers; a stale socket file is replaced */
        probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sun,
                                  sizeof(sun)) == 0) {
            close(probe);
            log_msg(TLSPOL_LOG_ERROR, "unix:%s: another server is "
                    "listening there", path);
            return -1;
        }
        if (probe >= 0)
            close(probe);
        if (unlink(path) != 0) {
            log_msg(TLSPOL_LOG_ERROR, "unix:%s: cannot remove the stale "
                    "socket: %s", path, strerror(errno));
            return -1;
        }
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    old = umask(0177);
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        umask(old);
        goto fail;
    }
    umask(old);
    if (chmod(path, mode) != 0)
        goto fail;
    if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid))
        goto fail;
    if (listen(fd, SOMAXCONN) != 0)
        goto fail;
    return fd;
fail:
    log_msg(TLSPOL_LOG_ERROR, "unix:%s: cannot listen: %s", path,
            strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* open_inet - bind a TCP socket for option opt; fd, -1 (cannot bind) or
 * -2 (usage error) */
static int
open_inet(const char *opt, const char *spec, int allow_remote)
{
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    const char *why = NULL;
    int fd, one = 1;

    if (parse_inet(spec, &ss, &sslen, &why) != 0) {
        log_msg(TLSPOL_LOG_ERROR, "%s inet:%s: %s", opt, spec, why);
        return -2;
    }
    if (!is_loopback(&ss) && !allow_remote) {
        log_msg(TLSPOL_LOG_ERROR, "%s inet:%s: not a loopback "
                "address; %s is unauthenticated (use "
                "--allow-remote to override)", opt, spec,
                strcmp(opt, "--metrics") == 0 ? "the metrics endpoint"
                                              : "socketmap");
        return -2;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd < 0)
        goto fail;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
        goto fail;
    if (ss.ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
        goto fail;
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 ||
        listen(fd, SOMAXCONN) != 0)
        goto fail;
    return fd;
fail:
    log_msg(TLSPOL_LOG_ERROR, "inet:%s: cannot listen: %s", spec,
            strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* parse_owner - "USER[:GROUP]" -> ids; 0 or -1 */
static int
parse_owner(const char *s, uid_t *uid, gid_t *gid)
{
    char user[256];
    const char *colon = strchr(s, ':');
    size_t n = colon ? (size_t)(colon - s) : strlen(s);
    struct passwd *pw;

    if (n == 0 || n >= sizeof(user))
        return -1;
    memcpy(user, s, n);
    user[n] = '\0';
    if ((pw = getpwnam(user)) == NULL)
        return -1;
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    if (colon != NULL) {
        struct group *gr = getgrnam(colon + 1);

        if (gr == NULL)
            return -1;
        *gid = gr->gr_gid;
    }
    return 0;
}

/* drop_privileges - become user name for good; 0 or -1 (logged) */
static int
drop_privileges(const char *name)
{
    struct passwd *pw = getpwnam(name);

    if (pw == NULL) {
        log_msg(TLSPOL_LOG_ERROR, "--user %s: no such user", name);
        return -1;
    }
    if (geteuid() != 0) {
        if (pw->pw_uid == geteuid())
            return 0;
        log_msg(TLSPOL_LOG_ERROR, "--user %s: cannot switch users: not "
                "running as root", name);
        return -1;
    }
    if (pw->pw_uid == 0) {
        log_msg(TLSPOL_LOG_ERROR, "--user %s: is root; use "
                "--no-drop-privileges to run as root", name);
        return -1;
    }
    if (initgroups(name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        log_msg(TLSPOL_LOG_ERROR, "cannot drop privileges to %s: %s", name,
                strerror(errno));
        return -1;
    }
    if (setuid(0) != -1 || geteuid() == 0 || getuid() == 0 ||
        getegid() != pw->pw_gid) {
        log_msg(TLSPOL_LOG_ERROR, "dropping privileges to %s did not "
                "stick", name);
        return -1;
    }
    log_msg(TLSPOL_LOG_INFO, "running as user %s (uid %lu, gid %lu)", name,
            (unsigned long)pw->pw_uid, (unsigned long)pw->pw_gid);
    return 0;
}

/* ------------------------------------------------------------------ */
/* systemd: socket activation and readiness notification              */

/* listen_fds - how many sockets systemd passed (sd_listen_fds(3)): 0
 * when LISTEN_PID is absent or names another process, -1 (logged) when
 * LISTEN_FDS is malformed.  LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES
 * are unset in every case, so that they are not inherited. */
static int
listen_fds(void)
{
    const char *pid_s = getenv("LISTEN_PID");
    const char *fds_s = getenv("LISTEN_FDS");
    unsigned long pid, n = 0;
    int rc = 0;

    if (pid_s != NULL && parse_ulong(pid_s, 10, 1, ULONG_MAX, &pid) == 0 &&
        pid == (unsigned long)getpid()) {
        if (fds_s == NULL ||
            parse_ulong(fds_s, 10, 0, LISTEN_FDS_MAX, &n) != 0) {
            log_msg(TLSPOL_LOG_ERROR, "socket activation: LISTEN_FDS=%.20s "
                    "is not a number from 0 to %d", fds_s ? fds_s : "",
                    LISTEN_FDS_MAX);
            rc = -1;
        } else {
            rc = (int)n;
        }
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return rc;
}

/* sock_name - "unix:PATH", "unix:@NAME" or "inet:ADDR:PORT" of a bound
 * socket, for logs; size should be SOCK_NAME_MAX */
static void
sock_name(int fd, char *out, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char a[INET6_ADDRSTRLEN];

    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        snprintf(out, size, "fd %d", fd);
    } else if (ss.ss_family == AF_UNIX) {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)&ss;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t n = len > off ? len - off : 0;
        char shown[sizeof(sun->sun_path) * 4 + 8];

        if (n > sizeof(sun->sun_path))
            n = sizeof(sun->sun_path);
        if (n > 0 && sun->sun_path[0] == '\0') {
            show(shown, sizeof(shown), sun->sun_path + 1, n - 1, 107);
            snprintf(out, size, "unix:@%s", shown);
        } else {
            n = strnlen(sun->sun_path, n);
            show(shown, sizeof(shown), sun->sun_path, n, 107);
            snprintf(out, size, "unix:%s", shown);
        }
    } else if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;

        inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
        snprintf(out, size, "inet:%s:%u", a, ntohs(sin->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;

        inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
        snprintf(out, size, "inet:[%s]:%u", a, ntohs(s6->sin6_port));
    } else {
        snprintf(out, size, "fd %d (family %d)", fd, (int)ss.ss_family);
    }
}

/* adopt_fd - take over fd, a listening socket passed by systemd, as l;
 * 0, or -1 (logged) if it is not a listening stream socket */
static int
adopt_fd(struct listener *l, int fd)
{
    char name[SOCK_NAME_MAX];
    int type = 0, acc = 0, fl;
    socklen_t len = sizeof(type);

    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
        log_msg(TLSPOL_LOG_ERROR, "socket activation: fd %d is not a "
                "socket: %s", fd, strerror(errno));
        return -1;
    }
    sock_name(fd, name, sizeof(name));
    len = sizeof(acc);
    if (type != SOCK_STREAM ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) != 0 ||
        acc == 0) {
        log_msg(TLSPOL_LOG_ERROR, "socket activation: fd %d (%s) is not a "
                "listening stream socket (the .socket unit needs "
                "ListenStream= and Accept=no)", fd, name);
        return -1;
    }
    if ((fl = fcntl(fd, F_GETFL)) < 0 ||
        fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        log_msg(TLSPOL_LOG_ERROR, "socket activation: fd %d: %s", fd,
                strerror(errno));
        return -1;
    }
    snprintf(l->desc, sizeof(l->desc), "systemd:%s", name);
    l->spec = l->desc;
    l->path = NULL; /* the socket file belongs to systemd */
    l->ev.kind = EV_LISTEN;
    l->ev.fd = fd;
    return 0;
}

/* notify_init - remember NOTIFY_SOCKET (sd_notify(3)): an absolute path,
 * or "@NAME" in the abstract namespace; then unset it */
static void
notify_init(struct server *s)
{
    const char *e = getenv("NOTIFY_SOCKET");
    size_t n = e != NULL ? strlen(e) : 0;

    s->notify_len = 0;
    if (n == 0)
        return;
    if ((e[0] != '/' && e[0] != '@') ||
        n >= sizeof(s->notify_sun.sun_path)) {
        log_msg(TLSPOL_LOG_WARN, "NOTIFY_SOCKET=%.120s: not an absolute "
                "path or @NAME of at most %zu bytes; not notifying", e,
                sizeof(s->notify_sun.sun_path) - 1);
    } else {
        memset(&s->notify_sun, 0, sizeof(s->notify_sun));
        s->notify_sun.sun_family = AF_UNIX;
        memcpy(s->notify_sun.sun_path, e, n);
        if (e[0] == '@')
            s->notify_sun.sun_path[0] = '\0';
        s->notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path)
                                    + n);
    }
    unsetenv("NOTIFY_SOCKET");
}

/* notify - send msg ("READY=1\n...") to NOTIFY_SOCKET, if set, in one
 * datagram; failures are warnings only */
static void
notify(const struct server *s, const char *msg)
{
    char shown[256];
    int fd, err;

    if (s->notify_len == 0)
        return;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0 &&
        sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
               (const struct sockaddr *)&s->notify_sun, s->notify_len) >= 0) {
        close(fd);
        return;
    }
    err = errno;
    show(shown, sizeof(shown), msg, strlen(msg), 60);
    log_msg(TLSPOL_LOG_WARN, "sd_notify \"%s\": %s", shown,
            strerror(err));
    if (fd >= 0)
        close(fd);
}

/* ------------------------------------------------------------------ */
/* Connections                                                        */

/* set_events - update the epoll interest of c to what it needs now */
static void
set_events(struct server *s, struct conn *c)
{
    struct epoll_event ee;
    uint32_t want = EPOLLIN | EPOLLET; /* reading is paced by c->rd */

    if (c->outlen > c->outoff)
        want |= EPOLLOUT;
    if (want == c->events)
        return;
    memset(&ee, 0, sizeof(ee));
    ee.events = want;
    ee.data.ptr = &c->ev;
    if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->ev.fd, &ee) == 0)
        c->events = want;
}

/* peer_name - a description of the client for logs */
static void
peer_name(int fd, const struct sockaddr_storage *ss, char *out, size_t size)
{
    char a[INET6_ADDRSTRLEN];

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

        inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
        snprintf(out, size, "%s:%u", a, ntohs(sin->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

        inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
        snprintf(out, size, "[%s]:%u", a, ntohs(s6->sin6_port));
    } else {
        struct ucred cr;
        socklen_t len = sizeof(cr);

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0)
            snprintf(out, size, "unix(pid %ld, uid %lu)", (long)cr.pid,
                     (unsigned long)cr.uid);
        else
            snprintf(out, size, "unix(fd %d)", fd);
    }
}

/* conn_peer - peer_name of c's client into out (PEER_MAX bytes); only
 * called when a message is logged */
static const char *
conn_peer(const struct conn *c, char *out)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, &c->peer, sizeof(c->peer));
    peer_name(c->ev.fd, &ss, out, PEER_MAX);
    return out;
}

/* pending_get - a request record for c, reused or new; NULL when memory
 * ran out */
static struct pending *
pending_get(struct server *s, struct conn *c)
{
    struct pending *p = s->pfree;

    if (p != NULL) {
        s->pfree = p->next;
        s->npfree--;
    } else if ((p = malloc(sizeof(*p))) == NULL) {
        return NULL;
    }
    p->conn = c;
    p->q = NULL;
    p->key = NULL;
    p->keylen = 0;
    p->compat = 0;
    p->reply = NULL;
    p->replylen = 0;
    p->t0 = 0;
    p->next = NULL;
    p->key_heap = p->reply_heap = p->done = 0;
    return p;
}

/* pending_put - cancel p's query and give p back to the free list (or
 * free it when the list is full) */
static void
pending_put(struct server *s, struct pending *p)
{
    if (p->q != NULL)
        tlspol_query_cancel(p->q);
    if (p->key_heap)
        free(p->key);
    if (p->reply_heap)
        free(p->reply);
    if (s->npfree >= PENDING_FREE_MAX) {
        free(p);
        return;
    }
    p->next = s->pfree;
    s->pfree = p;
    s->npfree++;
}

/* pop_head - remove the first request of c and give it back */
static void
pop_head(struct server *s, struct conn *c)
{
    struct pending *p = c->head;

    c->head = p->next;
    if (c->head == NULL)
        c->tail = NULL;
    c->npending--;
    pending_put(s, p);
}

/* conn_close - cancel outstanding queries and close c; its memory is
 * freed by reap() once no epoll event of this round can name it.  Never
 * called from a library callback. */
static void
conn_close(struct server *s, struct conn *c)
{
    if (c->ev.fd < 0)
        return;
    while (c->head != NULL)
        pop_head(s, c);
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->ev.fd, NULL);
    close(c->ev.fd);
    c->ev.fd = -1;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    s->nconns--;
    s->closed_since_trim++;
    if (s->nconns < s->max_clients)
        s->overload_logged = 0;
    free(c->in);
    free(c->out);
    c->in = NULL;
    c->out = NULL;
    c->next = s->dead;
    s->dead = c;
}

/* reap - free the connections closed in this loop iteration */
static void
reap(struct server *s)
{
    while (s->dead != NULL) {
        struct conn *c = s->dead;

        s->dead = c->next;
        free(c);
    }
    while (s->hdead != NULL) {
        struct http *h = s->hdead;

        s->hdead = h->next;
        free(h);
    }
    while (s->adead != NULL) {
        struct admin *a = s->adead;

        s->adead = a->next;
        free(a);
    }
}

/* set_reply - encode text as the netstring reply of p, in p->buf after
 * the key when it fits; 0, or -1 when memory ran out */
static int
set_reply_n(struct pending *p, const char *text, size_t n)
{
    size_t size, off;
    char *dst;

    if (n > REPLY_MAX)
        n = REPLY_MAX;
    size = n + NS_OVERHEAD;
    off = p->key == p->buf ? p->keylen + 1 : 0;
    if (size <= sizeof(p->buf) - off) {
        dst = p->buf + off;
    } else if ((dst = malloc(size)) == NULL) {
        return -1;
    }
    p->replylen = ns_format(dst, size, text, n);
    if (p->replylen == 0) {
        if (dst != p->buf + off)
            free(dst);
        return -1;
    }
    p->reply = dst;
    p->reply_heap = dst != p->buf + off;
    p->done = 1;
    return 0;
}

/* set_reply - set_reply_n for a string */
static int
set_reply(struct pending *p, const char *text)
{
    return set_reply_n(p, text, strlen(text));
}

/* mark_ready - queue c for servicing after dispatch */
static void
mark_ready(struct server *s, struct conn *c)
{
    if (c->in_ready)
        return;
    c->in_ready = 1;
    c->rnext = s->ready;
    s->ready = c;
}

static struct server *the_server; /* for the library callback */

/* observe - count one lookup time, from t0 to now, in the histogram */
static void
observe(struct metrics *m, uint64_t t0, uint64_t now)
{
    static const uint64_t le_us[NBUCKET] = { 1000, 5000, 10000, 50000,
                                             100000, 500000, 1000000,
                                             5000000, 10000000 };
    uint64_t dt = now > t0 ? now - t0 : 0;
    size_t i;

    for (i = 0; i < NBUCKET && dt > le_us[i]; i++)
        ;
    m->bucket[i]++;
    m->sum_us += dt;
}

/* answer - record p's reply for a finished lookup (res is freed), with
 * its metrics and decision log line (the short form when res came from
 * the verdict cache); no I/O here.  0, or -1 when no reply could be
 * stored (the connection is closed when serviced). */
static int
answer(struct server *s, struct pending *p, tlspol_status status,
       tlspol_result *res, int cached)
{
    char key[LOG_KEY_MAX * 4 + 8];
    const char *text;
    char buf[512];
    size_t tlen;
    int rc = 0;

    observe(&s->m, p->t0, s->now_us);
    if (status != TLSPOL_OK || res == NULL) {
        s->m.errors++;
        snprintf(buf, sizeof(buf), "TEMP %s", tlspol_strerror(status));
        text = buf;
        tlen = strlen(buf);
        if (log_decisions && log_on(TLSPOL_LOG_INFO)) {
            show(key, sizeof(key), p->key, p->keylen, LOG_KEY_MAX);
            log_msg(TLSPOL_LOG_INFO, "%s: lookup failed: %s -> %.80s", key,
                    tlspol_strerror(status), text);
        }
    } else {
        tlspol_verdict v = tlspol_result_verdict(res);

        if ((unsigned int)v < NVERDICT)
            s->m.verdict[v]++;
        text = tlspol_result_postfix_policy(res, p->compat);
        if (text == NULL)
            text = "TEMP out of memory";
        tlen = strlen(text);
        if (!log_decisions || !log_on(TLSPOL_LOG_INFO))
            ;
        else if (cached)
            log_hit(p->key, p->keylen, v, tlspol_result_source(res), text,
                    tlen);
        else
            log_decision(p->key, p->keylen, tlspol_verdict_name(v),
                         tlspol_source_name(tlspol_result_source(res)),
                         tlspol_result_reason(res), text, tlen);
    }
    if (set_reply_n(p, text, tlen) != 0 &&
        set_reply(p, "TEMP out of memory") != 0) {
        /* the connection will be closed when it is serviced */
        p->reply = NULL;
        p->done = 1;
        rc = -1;
    }
    tlspol_result_free(res);
    return rc;
}

/* on_result - the library's callback for a lookup */
static void
on_result(tlspol_status status, tlspol_result *res, void *ud)
{
    struct pending *p = ud;

    p->q = NULL;
    answer(the_server, p, status, res, 0);
    mark_ready(the_server, p->conn);
}

/* skip_reason - why key gets NOTFOUND without a lookup, or NULL
 * (standards A5.1: parent-domain keys, next hops with [] or :port,
 * LMTP paths, IP literals) */
static const char *
skip_reason(const char *key, size_t len)
{
    struct in_addr a4;

    if (len == 0)
        return "empty key";
    if (memchr(key, '\0', len) != NULL)
        return "key contains NUL";
    if (key[0] == '.')
        return "parent-domain key";
    if (key[0] == '[')
        return "bracketed next hop";
    if (memchr(key, ':', len) != NULL)
        return "next hop with port or IPv6 address";
    if (memchr(key, '/', len) != NULL)
        return "pathname";
    if (key[len - 1] >= '0' && key[len - 1] <= '9' &&
        inet_pton(AF_INET, key, &a4) == 1)
        return "IP address";
    return NULL;
}

/* handle_request - start answering one "<name> <key>" request;
 * 0, or -1 when memory ran out (the connection is then closed) */
static int
handle_request(struct server *s, struct conn *c, const uint8_t *req,
               size_t len)
{
    const uint8_t *sp = memchr(req, ' ', len);
    size_t nlen = sp ? (size_t)(sp - req) : len;
    struct pending *p;
    const char *why;
    char text[512], shown[NAME_SHOW_MAX * 4 + 8], peer[PEER_MAX];
    char key[LOG_KEY_MAX * 4 + 8];
    tlspol_result *res;
    tlspol_status st;

    if ((p = pending_get(s, c)) == NULL)
        return -1;
    p->keylen = sp ? len - nlen - 1 : 0;
    if (p->keylen < sizeof(p->buf)) {
        p->key = p->buf;
    } else if ((p->key = malloc(p->keylen + 1)) != NULL) {
        p->key_heap = 1;
    } else {
        pending_put(s, p);
        return -1;
    }
    if (p->keylen > 0)
        memcpy(p->key, sp + 1, p->keylen);
    p->key[p->keylen] = '\0';
    if (c->tail != NULL)
        c->tail->next = p;
    else
        c->head = p;
    c->tail = p;
    c->npending++;
    c->last = s->now;
    p->t0 = s->now_us;

    if (sp == NULL) {
        s->m.malformed++;
        if (log_on(TLSPOL_LOG_WARN)) {
            show(shown, sizeof(shown), (const char *)req, len,
                 NAME_SHOW_MAX);
            log_msg(TLSPOL_LOG_WARN, "%s: malformed request \"%s\": "
                    "expected \"<name> <key>\"", conn_peer(c, peer), shown);
        }
        return set_reply(p, "PERM malformed request: expected "
                         "'<name> <key>'");
    }
    if (nlen == 7 && memcmp(req, "postfix", 7) == 0) {
        p->compat = 0;
    } else if (nlen == 14 && memcmp(req, "postfix-tlsrpt", 14) == 0) {
        p->compat = COMPAT_TLSRPT;
    } else {
        s->m.malformed++;
        show(shown, sizeof(shown), (const char *)req, nlen, NAME_SHOW_MAX);
        snprintf(text, sizeof(text), "PERM unknown socketmap name '%s' "
                 "(known: postfix, postfix-tlsrpt)", shown);
        if (log_on(TLSPOL_LOG_WARN)) {
            show(key, sizeof(key), p->key, p->keylen, LOG_KEY_MAX);
            log_msg(TLSPOL_LOG_WARN, "%s: %s: %s", conn_peer(c, peer), key,
                    text);
        }
        return set_reply(p, text);
    }
    if ((why = skip_reason(p->key, p->keylen)) != NULL) {
        s->m.skipped++;
        if (log_on(TLSPOL_LOG_DEBUG)) {
            show(key, sizeof(key), p->key, p->keylen, LOG_KEY_MAX);
            log_msg(TLSPOL_LOG_DEBUG, "%s: no lookup (%s) -> NOTFOUND ",
                    key, why);
        }
        return set_reply(p, "NOTFOUND ");
    }
    /* cached answers at once, without the library's dispatch round */
    if (tlspol_resolve_cached(s->ctx, p->key, &res) == TLSPOL_OK &&
        res != NULL)
        return answer(s, p, TLSPOL_OK, res, 1);
    st = tlspol_resolve(s->ctx, p->key, on_result, p, &p->q);
    if (st == TLSPOL_OK) {
        s->m.misses++;
        return 0;
    }
    p->q = NULL;
    show(key, sizeof(key), p->key, p->keylen, LOG_KEY_MAX);
    if (st == TLSPOL_ERR_INVAL) {
        s->m.skipped++;
        log_msg(TLSPOL_LOG_INFO, "%s: not a domain (%s) -> NOTFOUND ", key,
                tlspol_ctx_errmsg(s->ctx));
        return set_reply(p, "NOTFOUND ");
    }
    s->m.errors++;
    snprintf(text, sizeof(text), "TEMP %s: %s", tlspol_strerror(st),
             tlspol_ctx_errmsg(s->ctx));
    log_msg(TLSPOL_LOG_ERROR, "%s: lookup not started -> %.80s", key, text);
    return set_reply(p, text);
}

/* parse_input - start answering the complete requests in buf[0..len),
 * while c may have more outstanding; *used is set to the bytes taken.
 * 0, or -1 if c must be closed (malformed input, out of memory). */
static int
parse_input(struct server *s, struct conn *c, const uint8_t *buf,
            size_t len, size_t *used, int *progress)
{
    char peer[PEER_MAX];
    size_t off = 0;
    int rc = 0;

    while (len > off && c->npending < PIPELINE_MAX) {
        const uint8_t *payload;
        size_t plen, u;
        const char *err = "netstring: malformed";
        enum ns_rc r = ns_parse(buf + off, len - off, s->max_request,
                                &payload, &plen, &u, &err);

        if (r == NS_MORE)
            break;
        if (r == NS_ERR) {
            s->m.malformed++;
            log_msg(TLSPOL_LOG_WARN, "%s: %s; closing the connection",
                    conn_peer(c, peer), err);
            rc = -1;
            break;
        }
        if (handle_request(s, c, payload, plen) != 0) {
            log_msg(TLSPOL_LOG_ERROR, "%s: out of memory; closing the "
                    "connection", conn_peer(c, peer));
            rc = -1;
            break;
        }
        off += u;
        *progress = 1;
    }
    *used = off;
    return rc;
}

/* keep_input - make the n bytes at p (which may lie in c->in) c's
 * unparsed input; the buffer grows in powers of two from IN_MIN up to
 * max, and is freed when empty.  0, or -1 when memory ran out. */
static int
keep_input(struct conn *c, const uint8_t *p, size_t n, size_t max)
{
    if (n == 0) {
        free(c->in);
        c->in = NULL;
        c->inlen = c->incap = 0;
        return 0;
    }
    if (n > c->incap) {
        size_t cap = c->incap > 0 ? c->incap : IN_MIN;
        uint8_t *nb;

        while (cap < n)
            cap *= 2;
        if (cap > max)
            cap = max;
        if ((nb = realloc(c->in, cap)) == NULL)
            return -1;
        c->in = nb;
        c->incap = cap;
    }
    memmove(c->in, p, n);
    c->inlen = n;
    return 0;
}

/* out_append - buffer n bytes of output for c; 0, or -1 when memory ran
 * out */
static int
out_append(struct conn *c, const char *p, size_t n)
{
    size_t live = c->outlen - c->outoff;

    if (c->outoff > 0) {
        memmove(c->out, c->out + c->outoff, live);
        c->outlen = live;
        c->outoff = 0;
    }
    if (c->outlen + n > c->outcap) {
        size_t cap = c->outlen + n;
        char *nb;

        cap = cap < 4096 ? 4096 : cap;
        if ((nb = realloc(c->out, cap)) == NULL)
            return -1;
        c->out = nb;
        c->outcap = cap;
    }
    memcpy(c->out + c->outlen, p, n);
    c->outlen += n;
    return 0;
}

/* send_direct - with nothing buffered for c, send the complete replies
 * at the head of its FIFO straight from the request records, in one
 * sendmsg; a reply cut short is buffered.  0, 1 when the socket took
 * less than offered, or -1 if c must be closed. */
static int
send_direct(struct server *s, struct conn *c, int *progress)
{
    struct iovec iov[IOV_BATCH];
    struct msghdr mh;
    struct pending *p;
    size_t k = 0, sent;
    ssize_t n;
    char peer[PEER_MAX];

    for (p = c->head; p != NULL && p->reply != NULL && k < IOV_BATCH;
         p = p->next) {
        iov[k].iov_base = p->reply;
        iov[k].iov_len = p->replylen;
        k++;
    }
    if (k == 0)
        return 0;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = iov;
    mh.msg_iovlen = k;
    do /* one reply, the usual case: send(2) skips the msghdr copy-in */
        n = k == 1 ? send(c->ev.fd, iov[0].iov_base, iov[0].iov_len,
                          MSG_NOSIGNAL | MSG_DONTWAIT)
                   : sendmsg(c->ev.fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 1;
        if (log_on(TLSPOL_LOG_DEBUG))
            log_msg(TLSPOL_LOG_DEBUG, "%s: write: %s", conn_peer(c, peer),
                    strerror(errno));
        return -1;
    }
    *progress = 1;
    sent = (size_t)n;
    while (k-- > 0) {
        p = c->head;
        if (sent < p->replylen) {
            if (sent > 0 &&
                out_append(c, p->reply + sent, p->replylen - sent) != 0)
                return -1;
            if (sent > 0)
                pop_head(s, c);
            return 1;
        }
        sent -= p->replylen;
        pop_head(s, c);
    }
    return 0;
}

/* move_replies - append completed replies at the head of the FIFO to the
 * output buffer, in order; 0, or -1 if c must be closed */
static int
move_replies(struct server *s, struct conn *c, int *progress)
{
    struct pending *p;

    while ((p = c->head) != NULL && p->done) {
        size_t live = c->outlen - c->outoff;

        if (p->reply == NULL)
            return -1; /* no memory for the reply */
        if (live > 0 && live + p->replylen > OUT_MAX)
            break;
        if (out_append(c, p->reply, p->replylen) != 0)
            return -1;
        pop_head(s, c);
        *progress = 1;
    }
    return 0;
}

/* write_out - send buffered output, and free the buffer once it is all
 * out; 0, or -1 if c must be closed */
static int
write_out(struct conn *c, int *progress)
{
    char peer[PEER_MAX];

    while (c->outlen > c->outoff) {
        ssize_t n = send(c->ev.fd, c->out + c->outoff,
                         c->outlen - c->outoff, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            if (log_on(TLSPOL_LOG_DEBUG))
                log_msg(TLSPOL_LOG_DEBUG, "%s: write: %s",
                        conn_peer(c, peer), strerror(errno));
            return -1;
        }
        c->outoff += (size_t)n;
        *progress = 1;
    }
    if (c->outoff == c->outlen) {
        free(c->out);
        c->out = NULL;
        c->outoff = c->outlen = c->outcap = 0;
    }
    return 0;
}

/* conn_service - parse, answer and write what can be done now; 0, or -1
 * if c was closed */
static int
conn_service(struct server *s, struct conn *c)
{
    size_t cap = s->max_request + NS_OVERHEAD;
    int progress, full = 0;

    do {
        progress = 0;
        if (!s->stopping && c->inlen > 0 && c->npending < PIPELINE_MAX) {
            size_t used = 0;
            int rc = parse_input(s, c, c->in, c->inlen, &used, &progress);

            if (keep_input(c, c->in + used, c->inlen - used, cap) != 0 ||
                rc != 0)
                goto close;
        }
        if (!full && c->outlen == c->outoff) {
            int r = send_direct(s, c, &progress);

            if (r < 0)
                goto close;
            full = r;
        }
        if (move_replies(s, c, &progress) != 0)
            goto close;
        if (!full && write_out(c, &progress) != 0)
            goto close;
    } while (progress && !full);
    if ((s->stopping || c->aged) && c->npending == 0 &&
        c->outlen == c->outoff)
        goto close;
    set_events(s, c);
    return 0;
close:
    conn_close(s, c);
    return -1;
}

/* can_read - whether c may take more input now */
static int
can_read(const struct server *s, const struct conn *c)
{
    return !s->stopping && !c->aged && c->npending < PIPELINE_MAX &&
           c->inlen < s->max_request + NS_OVERHEAD;
}

/* conn_read - read what the client sent, into the server's read buffer
 * after what c kept unparsed; answer the complete requests, keep the
 * rest, and service c; again while the socket may hold more and c can
 * take it.  Connections are edge-triggered: a read shorter than asked
 * for left the socket empty (new input brings a new event), one that
 * filled the buffer leaves c->rd set for the next call. */
static void
conn_read(struct server *s, struct conn *c)
{
    size_t cap = s->max_request + NS_OVERHEAD;
    char peer[PEER_MAX];

    while (c->rd && can_read(s, c)) {
        size_t len = c->inlen, used = 0;
        int progress = 0, rc;
        ssize_t n;

        if (len > 0)
            memcpy(s->rbuf, c->in, len);
        do
            n = recv(c->ev.fd, s->rbuf + len, cap - len, MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n == 0) {
            if (c->npending > 0 && log_on(TLSPOL_LOG_DEBUG))
                log_msg(TLSPOL_LOG_DEBUG, "%s: closed with %zu requests "
                        "outstanding", conn_peer(c, peer), c->npending);
            conn_close(s, c);
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->rd = 0;
                return;
            }
            if (log_on(TLSPOL_LOG_DEBUG))
                log_msg(TLSPOL_LOG_DEBUG, "%s: read: %s",
                        conn_peer(c, peer), strerror(errno));
            conn_close(s, c);
            return;
        }
        if ((size_t)n < cap - len)
            c->rd = 0;
        len += (size_t)n;
        rc = parse_input(s, c, s->rbuf, len, &used, &progress);
        if (rc == 0 && keep_input(c, s->rbuf + used, len - used, cap) != 0) {
            log_msg(TLSPOL_LOG_ERROR, "%s: out of memory; closing the "
                    "connection", conn_peer(c, peer));
            rc = -1;
        }
        if (rc != 0) {
            conn_close(s, c);
            return;
        }
        if (conn_service(s, c) != 0)
            return;
    }
}

/* conn_io - service c after an event or new replies, then read on if the
 * socket may hold input that c could not take before */
static void
conn_io(struct server *s, struct conn *c)
{
    if (conn_service(s, c) == 0)
        conn_read(s, c);
}

/* accept_next - accept one connection on lfd: the fd; ACCEPT_AGAIN to
 * try once more (interrupted, aborted, or a connection shed for lack of
 * fds); ACCEPT_DONE when nothing is left or accepting failed.  Out of
 * fds, the spare fd takes the connection and drops it, so that a
 * level-triggered listener does not spin; *shed says that happened. */
#define ACCEPT_AGAIN (-2)
#define ACCEPT_DONE (-1)
static int
accept_next(struct server *s, int lfd, const char *what,
            struct sockaddr_storage *ss, int *shed)
{
    socklen_t sslen = sizeof(*ss);
    int fd = accept4(lfd, (struct sockaddr *)ss, &sslen,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);

    *shed = 0;
    if (fd >= 0)
        return fd;
    if (errno == EINTR || errno == ECONNABORTED)
        return ACCEPT_AGAIN;
    if ((errno == EMFILE || errno == ENFILE) && s->reserve_fd >= 0) {
        close(s->reserve_fd);
        fd = accept(lfd, NULL, NULL);
        if (fd >= 0)
            close(fd);
        s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        *shed = fd >= 0;
        return fd >= 0 ? ACCEPT_AGAIN : ACCEPT_DONE;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        log_msg(TLSPOL_LOG_WARN, "%s: accept: %s", what, strerror(errno));
    return ACCEPT_DONE;
}

/* accept_all - accept until EAGAIN; beyond --max-clients close at once */
static void
accept_all(struct server *s, struct listener *l)
{
    char peer[PEER_MAX];

    for (;;) {
        struct sockaddr_storage ss;
        struct epoll_event ee;
        struct conn *c;
        int shed, fd;

        memset(&ss, 0, sizeof(ss)); /* AF_UNIX fills in the family only */
        fd = accept_next(s, l->ev.fd, l->spec, &ss, &shed);

        if (shed) {
            s->m.rejected_fds++;
            if (!s->overload_logged)
                log_msg(TLSPOL_LOG_WARN, "%s: out of file descriptors with "
                        "%zu connections; closing new ones", l->spec,
                        s->nconns);
            s->overload_logged = 1;
        }
        if (fd == ACCEPT_AGAIN)
            continue;
        if (fd < 0)
            return;
        if (s->nconns >= s->max_clients) {
            close(fd);
            s->m.rejected_max++;
            if (!s->overload_logged)
                log_msg(TLSPOL_LOG_WARN, "%s: --max-clients %lu reached; "
                        "closing new connections", l->spec,
                        s->max_clients);
            s->overload_logged = 1;
            continue;
        }
        if ((c = calloc(1, sizeof(*c))) == NULL) {
            close(fd);
            log_msg(TLSPOL_LOG_ERROR, "%s: out of memory", l->spec);
            return;
        }
        c->ev.kind = EV_CONN;
        c->ev.fd = fd;
        c->last = s->now;
        c->born = (uint32_t)s->now;
        memcpy(&c->peer, &ss, sizeof(c->peer));
        memset(&ee, 0, sizeof(ee));
        ee.events = c->events = EPOLLIN | EPOLLET;
        ee.data.ptr = &c->ev;
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ee) != 0) {
            log_msg(TLSPOL_LOG_ERROR, "epoll_ctl: %s", strerror(errno));
            close(fd);
            free(c);
            continue;
        }
        c->next = s->conns;
        if (s->conns != NULL)
            s->conns->prev = c;
        s->conns = c;
        s->nconns++;
        if (log_on(TLSPOL_LOG_DEBUG))
            log_msg(TLSPOL_LOG_DEBUG, "%s: connected on %s (%zu "
                    "connections)", conn_peer(c, peer), l->spec, s->nconns);
    }
}

/* ------------------------------------------------------------------ */
/* Metrics (--metrics): Prometheus text format over HTTP/1.0          */

/* A bounded text buffer; full is set when something did not fit. */
struct sbuf {
    char *p;                    /* borrowed */
    size_t len, cap;
    int full;
};

/* sb_printf - append formatted text to b, or mark b full */
static void
sb_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->full)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        b->full = 1;
        return;
    }
    b->len += (size_t)n;
}

/* sb_counter - HELP and TYPE lines and the value of an unlabeled
 * counter or gauge */
static void
sb_counter(struct sbuf *b, const char *name, const char *type,
           const char *help, uint64_t v)
{
    sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help,
              name, type, name, v);
}

/* metrics_render - the metrics in Prometheus text format into b */
static void
metrics_render(const struct server *s, struct sbuf *b)
{
    static const char *const le[NBUCKET] = { "0.001", "0.005", "0.01",
                                             "0.05", "0.1", "0.5", "1",
                                             "5", "10" };
    const struct metrics *m = &s->m;
    uint64_t cum = 0;
    size_t i;

    sb_printf(b, "# HELP tlspol_queries_total Socketmap queries answered "
              "with a verdict, from the cache or a lookup (ERROR: the "
              "lookup failed or could not start).\n"
              "# TYPE tlspol_queries_total counter\n");
    for (i = 0; i < NVERDICT; i++)
        sb_printf(b, "tlspol_queries_total{verdict=\"%s\"} %" PRIu64 "\n",
                  tlspol_verdict_name((tlspol_verdict)i), m->verdict[i]);
    sb_printf(b, "tlspol_queries_total{verdict=\"ERROR\"} %" PRIu64 "\n",
              m->errors);
    sb_counter(b, "tlspol_queries_skipped_total", "counter",
               "Keys answered NOTFOUND without a lookup.", m->skipped);
    sb_counter(b, "tlspol_cache_hits_total", "counter",
               "Queries answered from the verdict cache.",
               tlspol_ctx_stat(s->ctx, TLSPOL_STAT_CACHE_HITS));
    sb_counter(b, "tlspol_cache_misses_total", "counter",
               "Queries not in the verdict cache, passed to a lookup.",
               m->misses);
    sb_counter(b, "tlspol_lookups_total", "counter",
               "Lookups completed by the library.",
               tlspol_ctx_stat(s->ctx, TLSPOL_STAT_LOOKUPS));
    sb_counter(b, "tlspol_failopen_total", "counter",
               "Lookups that failed and got the failure policy instead "
               "of TEMPFAIL.",
               tlspol_ctx_stat(s->ctx, TLSPOL_STAT_FAILOPEN));
    sb_counter(b, "tlspol_override_weakens_total", "counter",
               "Answers where a local override weakened the published "
               "policy.",
               tlspol_ctx_stat(s->ctx, TLSPOL_STAT_OVERRIDE_WEAKENS));
    sb_counter(b, "tlspol_policy_refreshes_total", "counter",
               "Cached MTA-STS policies fetched again before expiry.",
               tlspol_ctx_stat(s->ctx, TLSPOL_STAT_REFRESHES));
    sb_counter(b, "tlspol_policy_refresh_failures_total", "counter",
               "Refreshes that failed (the cached policy stays in force).",
               tlspol_ctx_stat(s->ctx, TLSPOL_STAT_REFRESH_FAILURES));
    sb_counter(b, "tlspol_policy_evictions_total", "counter",
               "Cached MTA-STS policies dropped as unused.",
               tlspol_ctx_stat(s->ctx, TLSPOL_STAT_EVICTIONS));
    sb_counter(b, "tlspol_shared_store_up", "gauge",
               "1 while the shared store (Redis) answers; 0 while it does "
               "not, or without one.",
               tlspol_ctx_stat(s->ctx, TLSPOL_STAT_SHARED_UP));
    sb_counter(b, "tlspol_shared_store_hits_total", "counter",
               "MTA-STS policies taken from the shared store instead of "
               "a fetch.",
               tlspol_ctx_stat(s->ctx, TLSPOL_STAT_SHARED_HITS));
    sb_counter(b, "tlspol_shared_store_errors_total", "counter",
               "Shared-store failures: connects, timeouts, error replies, "
               "invalid entries.",
               tlspol_ctx_stat(s->ctx, TLSPOL_STAT_SHARED_ERRORS));
    sb_printf(b, "# HELP tlspol_lookup_seconds Time from the arrival of a "
              "request that starts a lookup to its reply being ready.\n"
              "# TYPE tlspol_lookup_seconds histogram\n");
    for (i = 0; i < NBUCKET; i++) {
        cum += m->bucket[i];
        sb_printf(b, "tlspol_lookup_seconds_bucket{le=\"%s\"} %" PRIu64
                  "\n", le[i], cum);
    }
    cum += m->bucket[NBUCKET];
    sb_printf(b, "tlspol_lookup_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
              "tlspol_lookup_seconds_sum %" PRIu64 ".%06" PRIu64 "\n"
              "tlspol_lookup_seconds_count %" PRIu64 "\n", cum,
              m->sum_us / 1000000u, m->sum_us % 1000000u, cum);
    sb_counter(b, "tlspol_connections", "gauge",
               "Open socketmap client connections.", (uint64_t)s->nconns);
    sb_printf(b, "# HELP tlspol_connections_rejected_total Socketmap "
              "connections closed on arrival, by reason (max_clients: "
              "--max-clients reached; no_fds: out of file descriptors).\n"
              "# TYPE tlspol_connections_rejected_total counter\n"
              "tlspol_connections_rejected_total{reason=\"max_clients\"} %"
              PRIu64 "\n"
              "tlspol_connections_rejected_total{reason=\"no_fds\"} %"
              PRIu64 "\n", m->rejected_max, m->rejected_fds);
    sb_counter(b, "tlspol_connections_aged_total", "counter",
               "Socketmap connections closed for having been open "
               "--connection-timeout seconds.", m->aged);
    sb_counter(b, "tlspol_malformed_requests_total", "counter",
               "Malformed netstrings, requests without a key and unknown "
               "socketmap names.", m->malformed);
    sb_printf(b, "# HELP tlspol_reloads_total Configuration reloads on "
              "SIGHUP, by result.\n# TYPE tlspol_reloads_total counter\n"
              "tlspol_reloads_total{result=\"ok\"} %" PRIu64 "\n"
              "tlspol_reloads_total{result=\"failed\"} %" PRIu64 "\n",
              m->reload_ok, m->reload_failed);
}

/* http_close - close a metrics client; freed by reap() */
static void
http_close(struct server *s, struct http *h)
{
    if (h->ev.fd < 0)
        return;
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, h->ev.fd, NULL);
    close(h->ev.fd);
    h->ev.fd = -1;
    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        s->https = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
    s->nhttp--;
    free(h->out);
    h->out = NULL;
    h->next = s->hdead;
    s->hdead = h;
}

/* http_write - send the response; close when it is out or on error */
static void
http_write(struct server *s, struct http *h)
{
    while (h->outoff < h->outlen) {
        ssize_t n = send(h->ev.fd, h->out + h->outoff,
                         h->outlen - h->outoff, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return; /* EPOLLOUT is set */
            log_msg(TLSPOL_LOG_DEBUG, "metrics: write: %s",
                    strerror(errno));
            break;
        }
        h->outoff += (size_t)n;
    }
    http_close(s, h);
}

/* http_respond - answer the complete request in h->in: the metrics for
 * "GET /metrics", 404 for anything else */
static void
http_respond(struct server *s, struct http *h)
{
    static const char want[] = "GET /metrics";
    size_t wl = sizeof(want) - 1;
    char *body = malloc(METRICS_BODY_MAX);
    const char *status = "404 Not Found";
    struct sbuf b = { body, 0, METRICS_BODY_MAX, 0 };
    struct epoll_event ee;
    size_t hcap;
    int n;

    if (body == NULL)
        goto fail;
    if (h->inlen > wl && memcmp(h->in, want, wl) == 0 &&
        (h->in[wl] == ' ' || h->in[wl] == '?' || h->in[wl] == '\r' ||
         h->in[wl] == '\n')) {
        metrics_render(s, &b);
        status = "200 OK";
        if (b.full) {
            log_msg(TLSPOL_LOG_ERROR, "metrics: over %d bytes",
                    METRICS_BODY_MAX);
            b.len = 0;
            b.full = 0;
            status = "500 Internal Server Error";
        }
    }
    if (b.len == 0)
        sb_printf(&b, "%s\n", status);
    hcap = b.len + 256;
    if ((h->out = malloc(hcap)) == NULL)
        goto fail;
    n = snprintf(h->out, hcap, "HTTP/1.0 %s\r\nContent-Type: text/plain; "
                 "version=0.0.4; charset=utf-8\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n", status, b.len);
    if (n < 0 || (size_t)n + b.len > hcap)
        goto fail;
    memcpy(h->out + n, body, b.len);
    h->outlen = (size_t)n + b.len;
    free(body);
    memset(&ee, 0, sizeof(ee));
    ee.events = EPOLLOUT;
    ee.data.ptr = &h->ev;
    if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, h->ev.fd, &ee) != 0) {
        http_close(s, h);
        return;
    }
    http_write(s, h);
    return;
fail:
    log_msg(TLSPOL_LOG_ERROR, "metrics: out of memory");
    free(body);
    http_close(s, h);
}

/* http_read - read the request into the bounded buffer; answer once the
 * headers end, close if they do not end within HTTP_REQ_MAX bytes */
static void
http_read(struct server *s, struct http *h)
{
    for (;;) {
        ssize_t n;

        if (h->inlen == sizeof(h->in)) {
            log_msg(TLSPOL_LOG_WARN, "metrics: request over %zu bytes; "
                    "closing the connection", sizeof(h->in));
            http_close(s, h);
            return;
        }
        n = recv(h->ev.fd, h->in + h->inlen, sizeof(h->in) - h->inlen,
                 MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            http_close(s, h);
            return;
        }
        h->inlen += (size_t)n;
        if (memmem(h->in, h->inlen, "\r\n\r\n", 4) != NULL ||
            memmem(h->in, h->inlen, "\n\n", 2) != NULL) {
            http_respond(s, h);
            return;
        }
    }
}

/* http_accept - accept metrics clients until EAGAIN */
static void
http_accept(struct server *s)
{
    for (;;) {
        struct sockaddr_storage ss;
        struct epoll_event ee;
        struct http *h;
        int shed, fd = accept_next(s, s->mlst.ev.fd, "metrics", &ss, &shed);

        if (fd == ACCEPT_AGAIN)
            continue;
        if (fd < 0)
            return;
        if (s->nhttp >= HTTP_CLIENTS_MAX ||
            (h = calloc(1, sizeof(*h))) == NULL) {
            log_msg(TLSPOL_LOG_DEBUG, "metrics: %zu clients; closing a "
                    "new one", s->nhttp);
            close(fd);
            continue;
        }
        h->ev.kind = EV_HTTP;
        h->ev.fd = fd;
        h->deadline = now_usec() + HTTP_TIMEOUT_US;
        memset(&ee, 0, sizeof(ee));
        ee.events = EPOLLIN;
        ee.data.ptr = &h->ev;
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ee) != 0) {
            log_msg(TLSPOL_LOG_ERROR, "epoll_ctl: %s", strerror(errno));
            close(fd);
            free(h);
            continue;
        }
        h->next = s->https;
        if (s->https != NULL)
            s->https->prev = h;
        s->https = h;
        s->nhttp++;
    }
}

/* ------------------------------------------------------------------ */
/* Admin socket (--admin): one command per line, each reply ends "."  */

static int reload(struct server *s, const char *why);
static char *server_digest(const struct server *s);
static int check_server_opts(const struct server *s);

/* admin_close - cancel a refresh in flight and close a; its memory is
 * freed by reap().  Never called from a library callback. */
static void
admin_close(struct server *s, struct admin *a)
{
    if (a->ev.fd < 0)
        return;
    if (a->q != NULL) {
        tlspol_query_cancel(a->q);
        a->q = NULL;
    }
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, a->ev.fd, NULL);
    close(a->ev.fd);
    a->ev.fd = -1;
    if (a->prev != NULL)
        a->prev->next = a->next;
    else
        s->admins = a->next;
    if (a->next != NULL)
        a->next->prev = a->prev;
    s->nadmin--;
    free(a->out);
    a->out = NULL;
    a->next = s->adead;
    s->adead = a;
}

/* admin_put - append n bytes to a's output; 0, or -1 when the output
 * would exceed ADMIN_OUT_MAX or memory ran out */
static int
admin_put(struct admin *a, const char *p, size_t n)
{
    size_t need, cap;
    char *o;

    if (__builtin_add_overflow(a->outlen, n, &need) || need > ADMIN_OUT_MAX)
        return -1;
    if (need > a->outcap) {
        cap = a->outcap > 0 ? a->outcap : 1024;
        while (cap < need)
            cap *= 2;
        if (cap > ADMIN_OUT_MAX)
            cap = ADMIN_OUT_MAX;
        if ((o = realloc(a->out, cap)) == NULL)
            return -1;
        a->out = o;
        a->outcap = cap;
    }
    memcpy(a->out + a->outlen, p, n);
    a->outlen = need;
    return 0;
}

/* admin_reply - text (one or more lines; a final newline is added if
 * missing), then the "." line; 0 or -1 as admin_put */
static int
admin_reply(struct admin *a, const char *text)
{
    size_t n = strlen(text);

    if (admin_put(a, text, n) != 0)
        return -1;
    if (n > 0 && text[n - 1] != '\n' && admin_put(a, "\n", 1) != 0)
        return -1;
    return admin_put(a, ".\n", 2);
}

/* admin_error - one "error: ..." line and "."; 0 or -1 */
static int
admin_error(struct admin *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
admin_error(struct admin *a, const char *fmt, ...)
{
    char line[ADMIN_LINE_MAX * 2];
    va_list ap;
    int n;

    memcpy(line, "error: ", 7);
    va_start(ap, fmt);
    n = vsnprintf(line + 7, sizeof(line) - 7, fmt, ap);
    va_end(ap);
    if (n < 0)
        line[7] = '\0';
    return admin_reply(a, line);
}

/* admin_mark_ready - queue a for servicing after dispatch */
static void
admin_mark_ready(struct server *s, struct admin *a)
{
    if (a->in_ready)
        return;
    a->in_ready = 1;
    a->rnext = s->aready;
    s->aready = a;
}

/* admin_on_result - library callback of "refresh": append the line
 * "DOMAIN VERDICT reply" and "."; no I/O here */
static void
admin_on_result(tlspol_status status, tlspol_result *res, void *ud)
{
    struct admin *a = ud;
    char dom[ADMIN_LINE_MAX * 4 + 8], head[ADMIN_LINE_MAX * 4 + 64];
    const char *vname = "ERROR", *text;
    char err[128];
    size_t mark = a->outlen, i;
    int rc;

    a->q = NULL;
    a->last = now_sec();
    show(dom, sizeof(dom), a->domain, strlen(a->domain), ADMIN_LINE_MAX);
    if (status != TLSPOL_OK || res == NULL) {
        snprintf(err, sizeof(err), "TEMP %s", tlspol_strerror(status));
        text = err;
    } else {
        vname = tlspol_verdict_name(tlspol_result_verdict(res));
        text = tlspol_result_postfix_policy(res, 0);
        if (text == NULL)
            text = "TEMP out of memory";
    }
    snprintf(head, sizeof(head), "%s %s ", dom, vname);
    rc = admin_put(a, head, strlen(head));
    if (rc == 0)
        rc = admin_put(a, text, strlen(text));
    /* the reply stays on one line */
    for (i = mark; rc == 0 && i < a->outlen; i++)
        if (a->out[i] == '\n' || a->out[i] == '\r')
            a->out[i] = ' ';
    if (rc == 0)
        rc = admin_put(a, "\n.\n", 3);
    log_msg(TLSPOL_LOG_INFO, "admin: %s: refresh %s: %s %.80s", a->peer,
            dom, vname, text);
    if (rc != 0) {
        a->outlen = mark;
        if (admin_error(a, "refresh %.200s: reply over %d bytes or out of "
                        "memory", dom, ADMIN_OUT_MAX) != 0)
            a->failed = 1;
    }
    tlspol_result_free(res);
    admin_mark_ready(the_server, a);
}

/* admin_stats - the samples of the metrics endpoint as "name value"
 * lines (metrics_render without the # HELP and # TYPE lines) */
static int
admin_stats(struct server *s, struct admin *a)
{
    char *body = malloc(METRICS_BODY_MAX);
    struct sbuf b = { body, 0, METRICS_BODY_MAX, 0 };
    size_t off = 0;
    int rc = 0;

    if (body == NULL)
        return admin_error(a, "out of memory");
    metrics_render(s, &b);
    if (b.full) {
        free(body);
        return admin_error(a, "stats: over %d bytes", METRICS_BODY_MAX);
    }
    while (rc == 0 && off < b.len) {
        const char *nl = memchr(body + off, '\n', b.len - off);
        size_t n = nl != NULL ? (size_t)(nl - (body + off)) + 1
                              : b.len - off;

        if (n > 1 && body[off] != '#')
            rc = admin_put(a, body + off, n);
        off += n;
    }
    free(body);
    if (rc == 0)
        rc = admin_put(a, ".\n", 2);
    return rc;
}

/* admin_dump - the cached MTA-STS policies as preload JSON.  A line of
 * JSON text is never a lone ".", so the reply needs no escaping. */
static int
admin_dump(struct server *s, struct admin *a)
{
    const char *json = tlspol_ctx_export_preload(s->ctx);
    const char *em;
    char shown[512];

    if (json != NULL)
        return admin_reply(a, json);
    em = tlspol_ctx_errmsg(s->ctx);
    show(shown, sizeof(shown), em, strlen(em), 400);
    return admin_error(a, "dump: %s", shown);
}

/* domain_arg - copy the one-word argument of cmd into a->domain: 1; or
 * 0 with the error text in a->domain instead */
static int
domain_arg(struct admin *a, const char *cmd, const char *arg, size_t alen)
{
    if (alen == 0 || memchr(arg, ' ', alen) != NULL ||
        memchr(arg, '\t', alen) != NULL) {
        snprintf(a->domain, sizeof(a->domain), "usage: %s DOMAIN", cmd);
        return 0;
    }
    if (alen >= sizeof(a->domain)) {
        snprintf(a->domain, sizeof(a->domain), "%s: domain too long", cmd);
        return 0;
    }
    memcpy(a->domain, arg, alen);
    a->domain[alen] = '\0';
    return 1;
}

/* admin_purge - forget what is cached about a domain */
static int
admin_purge(struct server *s, struct admin *a, const char *arg, size_t alen)
{
    char shown[ADMIN_LINE_MAX * 4 + 8], em[512], line[ADMIN_LINE_MAX + 64];
    const char *msg;
    tlspol_status st;
    int found;

    if (!domain_arg(a, "purge", arg, alen))
        return admin_error(a, "%s", a->domain);
    show(shown, sizeof(shown), arg, alen, ADMIN_LINE_MAX);
    st = tlspol_ctx_purge(s->ctx, a->domain, &found);
    if (st != TLSPOL_OK) {
        msg = tlspol_ctx_errmsg(s->ctx);
        show(em, sizeof(em), msg, strlen(msg), 400);
        return admin_error(a, "purge %.200s: %s: %s", shown,
                           tlspol_strerror(st), em);
    }
    snprintf(line, sizeof(line), "%.200s %s", shown,
             found ? "purged" : "not cached");
    return admin_reply(a, line);
}

/* admin_refresh - start a lookup of the domain; the reply comes from
 * admin_on_result, and a's further commands wait until then */
static int
admin_refresh(struct server *s, struct admin *a, const char *arg,
              size_t alen)
{
    char shown[ADMIN_LINE_MAX * 4 + 8], em[512];
    const char *msg;
    tlspol_status st;

    if (!domain_arg(a, "refresh", arg, alen))
        return admin_error(a, "%s", a->domain);
    show(shown, sizeof(shown), arg, alen, ADMIN_LINE_MAX);
    st = tlspol_resolve(s->ctx, a->domain, admin_on_result, a, &a->q);
    if (st == TLSPOL_OK)
        return 0;
    a->q = NULL;
    msg = tlspol_ctx_errmsg(s->ctx);
    show(em, sizeof(em), msg, strlen(msg), 400);
    return admin_error(a, "refresh %.200s: %s: %s", shown,
                       tlspol_strerror(st), em);
}

static const char admin_help[] =
    "commands (one per line; each reply ends with a line \".\"):\n"
    "  stats           counters of the metrics endpoint, \"name value\"\n"
    "  dump            cached MTA-STS policies as preload JSON\n"
    "  refresh DOMAIN  look DOMAIN up now; replies "
    "\"DOMAIN VERDICT reply\"\n"
    "  reload          reread --config, as SIGHUP does\n"
    "  purge DOMAIN    forget DOMAIN's cached result and policy; replies\n"
    "                  \"DOMAIN purged\" or \"DOMAIN not cached\"\n"
    "  help            this text\n";

/* is_cmd - whether the command word line[0..clen) is word (any case) */
static int
is_cmd(const char *line, size_t clen, const char *word)
{
    return clen == strlen(word) && strncasecmp(line, word, clen) == 0;
}

/* admin_command - run one command line (without its newline); 0, or -1
 * when the reply could not be queued (a is then closed) */
static int
admin_command(struct server *s, struct admin *a, const char *line,
              size_t len)
{
    char shown[NAME_SHOW_MAX * 4 + 8], logline[LOG_KEY_MAX * 4 + 8];
    const char *arg;
    size_t clen, alen;
    int noarg, rc;

    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
                       line[len - 1] == '\t'))
        len--;
    while (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
        line++;
        len--;
    }
    if (len == 0)
        return 0; /* empty line: no reply */
    show(logline, sizeof(logline), line, len, LOG_KEY_MAX);
    log_msg(TLSPOL_LOG_INFO, "admin: %s: %s", a->peer, logline);
    for (clen = 0; clen < len && line[clen] != ' ' && line[clen] != '\t';
         clen++)
        ;
    arg = line + clen;
    alen = len - clen;
    while (alen > 0 && (arg[0] == ' ' || arg[0] == '\t')) {
        arg++;
        alen--;
    }
    noarg = alen == 0;
    if (memchr(line, '\0', len) != NULL) {
        rc = admin_error(a, "the command contains a NUL byte");
    } else if (is_cmd(line, clen, "refresh")) {
        rc = admin_refresh(s, a, arg, alen);
    } else if (is_cmd(line, clen, "purge")) {
        rc = admin_purge(s, a, arg, alen);
    } else if (!noarg && (is_cmd(line, clen, "help") ||
                          is_cmd(line, clen, "stats") ||
                          is_cmd(line, clen, "dump") ||
                          is_cmd(line, clen, "reload"))) {
        show(shown, sizeof(shown), line, clen, NAME_SHOW_MAX);
        rc = admin_error(a, "%s takes no argument", shown);
    } else if (is_cmd(line, clen, "help")) {
        rc = admin_reply(a, admin_help);
    } else if (is_cmd(line, clen, "stats")) {
        rc = admin_stats(s, a);
    } else if (is_cmd(line, clen, "dump")) {
        size_t mark = a->outlen;

        if ((rc = admin_dump(s, a)) != 0) {
            a->outlen = mark;
            rc = admin_error(a, "dump: over %d bytes or out of memory",
                             ADMIN_OUT_MAX);
        }
    } else if (is_cmd(line, clen, "reload")) {
        int r = reload(s, "admin reload");

        if (r == 0) {
            rc = admin_reply(a, "ok");
        } else if (r > 0) {
            rc = admin_reply(a, "ok: no --config file; nothing to reload");
        } else {
            const char *em = tlspol_ctx_errmsg(s->ctx);
            char es[512];

            show(es, sizeof(es), em, strlen(em), 400);
            rc = admin_error(a, "%s; the old configuration is in force",
                             es);
        }
    } else {
        show(shown, sizeof(shown), line, clen, NAME_SHOW_MAX);
        rc = admin_error(a, "unknown command '%s' (try help)", shown);
    }
    if (rc != 0)
        log_msg(TLSPOL_LOG_ERROR, "admin: %s: out of memory; closing",
                a->peer);
    return rc;
}

/* admin_set_events - update the epoll interest of a */
static void
admin_set_events(struct server *s, struct admin *a)
{
    struct epoll_event ee;
    uint32_t want = 0;

    if (!a->eof && a->inlen < sizeof(a->in))
        want |= EPOLLIN;
    if (a->outlen > a->outoff)
        want |= EPOLLOUT;
    if (want == a->events)
        return;
    memset(&ee, 0, sizeof(ee));
    ee.events = want;
    ee.data.ptr = &a->ev;
    if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, a->ev.fd, &ee) == 0)
        a->events = want;
}

/* admin_write - send buffered output; 0, or -1 if a must be closed */
static int
admin_write(struct admin *a)
{
    while (a->outoff < a->outlen) {
        ssize_t n = send(a->ev.fd, a->out + a->outoff,
                         a->outlen - a->outoff, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            log_msg(TLSPOL_LOG_DEBUG, "admin: %s: write: %s", a->peer,
                    strerror(errno));
            return -1;
        }
        a->outoff += (size_t)n;
        a->last = now_sec();
    }
    a->outoff = a->outlen = 0;
    if (a->outcap > 65536) { /* give back a large buffer (dump) */
        free(a->out);
        a->out = NULL;
        a->outcap = 0;
    }
    return 0;
}

/* admin_service - write pending output, then run the buffered commands
 * one at a time: the next only once the previous reply is out */
static void
admin_service(struct server *s, struct admin *a)
{
    char line[ADMIN_LINE_MAX];

    for (;;) {
        const char *nl;
        size_t len;

        log_flush();
        if (a->failed || admin_write(a) != 0)
            goto close;
        if (a->outlen > a->outoff || a->q != NULL)
            break; /* wait for the client, or for the refresh */
        nl = memchr(a->in, '\n', a->inlen);
        if (nl == NULL && a->inlen == sizeof(a->in)) {
            log_msg(TLSPOL_LOG_WARN, "admin: %s: line over %d bytes; "
                    "closing the connection", a->peer, ADMIN_LINE_MAX);
            goto close;
        }
        if (nl == NULL && !a->eof)
            break;
        if (nl == NULL && a->inlen == 0)
            goto close; /* end of input, all answered */
        /* a whole line, or the unterminated last one */
        len = nl != NULL ? (size_t)(nl - a->in) : a->inlen;
        memcpy(line, a->in, len);
        if (nl != NULL)
            len++;
        memmove(a->in, a->in + len, a->inlen - len);
        a->inlen -= len;
        if (nl != NULL)
            len--;
        a->last = now_sec();
        if (admin_command(s, a, line, len) != 0)
            goto close;
    }
    admin_set_events(s, a);
    return;
close:
    admin_close(s, a);
}

/* admin_read - read into the line buffer, then service a */
static void
admin_read(struct server *s, struct admin *a)
{
    while (!a->eof && a->inlen < sizeof(a->in)) {
        ssize_t n = recv(a->ev.fd, a->in + a->inlen,
                         sizeof(a->in) - a->inlen, MSG_DONTWAIT);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            log_msg(TLSPOL_LOG_DEBUG, "admin: %s: read: %s", a->peer,
                    strerror(errno));
            admin_close(s, a);
            return;
        }
        if (n == 0)
            a->eof = 1; /* answer what was sent, then close */
        a->inlen += (size_t)n;
    }
    admin_service(s, a);
}

/* admin_accept - accept admin clients until EAGAIN; beyond
 * ADMIN_CLIENTS_MAX close at once */
static void
admin_accept(struct server *s)
{
    for (;;) {
        struct sockaddr_storage ss;
        struct epoll_event ee;
        struct admin *a;
        int shed, fd = accept_next(s, s->alst.ev.fd, "admin", &ss, &shed);

        if (fd == ACCEPT_AGAIN)
            continue;
        if (fd < 0)
            return;
        if (s->nadmin >= ADMIN_CLIENTS_MAX ||
            (a = calloc(1, sizeof(*a))) == NULL) {
            log_msg(TLSPOL_LOG_WARN, "admin: %zu connections; closing a "
                    "new one", s->nadmin);
            close(fd);
            continue;
        }
        a->ev.kind = EV_ADMIN;
        a->ev.fd = fd;
        a->last = now_sec();
        peer_name(fd, &ss, a->peer, sizeof(a->peer));
        memset(&ee, 0, sizeof(ee));
        ee.events = a->events = EPOLLIN;
        ee.data.ptr = &a->ev;
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ee) != 0) {
            log_msg(TLSPOL_LOG_ERROR, "epoll_ctl: %s", strerror(errno));
            close(fd);
            free(a);
            continue;
        }
        a->next = s->admins;
        if (s->admins != NULL)
            s->admins->prev = a;
        s->admins = a;
        s->nadmin++;
        log_msg(TLSPOL_LOG_DEBUG, "admin: %s: connected", a->peer);
    }
}

/* service_ready - after dispatch: service connections with new replies */
static void
service_ready(struct server *s)
{
    while (s->ready != NULL) {
        struct conn *c = s->ready;

        s->ready = c->rnext;
        c->rnext = NULL;
        c->in_ready = 0;
        if (c->ev.fd >= 0)
            conn_io(s, c);
    }
    while (s->aready != NULL) {
        struct admin *a = s->aready;

        s->aready = a->rnext;
        a->rnext = NULL;
        a->in_ready = 0;
        if (a->ev.fd >= 0)
            admin_service(s, a);
    }
}

/* sweep - once a second: close idle connections (no request for
 * --idle-timeout seconds and nothing outstanding), metrics clients
 * past their deadline and admin clients idle for ADMIN_IDLE_SEC */
static void
sweep(struct server *s)
{
    time_t now = s->now;
    uint64_t now_us = s->now_us;
    struct conn *c, *next;
    struct http *h, *hnext;
    struct admin *a, *anext;

    for (a = s->admins; a != NULL; a = anext) {
        anext = a->next;
        if (a->q == NULL && now - a->last >= ADMIN_IDLE_SEC) {
            log_msg(TLSPOL_LOG_DEBUG, "admin: %s: idle for %d s; closing",
                    a->peer, ADMIN_IDLE_SEC);
            admin_close(s, a);
        }
    }
    for (h = s->https; h != NULL; h = hnext) {
        hnext = h->next;
        if (now_us >= h->deadline) {
            log_msg(TLSPOL_LOG_DEBUG, "metrics: request not complete "
                    "within %d s; closing", HTTP_TIMEOUT_US / 1000000);
            http_close(s, h);
        }
    }

    for (c = s->conns; c != NULL; c = next) {
        char peer[PEER_MAX];

        next = c->next;
        if (c->npending == 0 && c->outlen == c->outoff &&
            now - c->last >= (time_t)s->idle_timeout) {
            if (log_on(TLSPOL_LOG_DEBUG))
                log_msg(TLSPOL_LOG_DEBUG, "%s: idle for %lu s; closing",
                        conn_peer(c, peer), s->idle_timeout);
            conn_close(s, c);
        } else if (!c->aged &&
                   now - (time_t)c->born >= (time_t)s->conn_timeout) {
            /* like Postfix's own limit on a connection's life: what was
             * asked is answered, nothing more is read */
            c->aged = 1;
            s->m.aged++;
            if (log_on(TLSPOL_LOG_DEBUG))
                log_msg(TLSPOL_LOG_DEBUG, "%s: open for %lu s; closing once "
                        "answered", conn_peer(c, peer), s->conn_timeout);
            conn_service(s, c); /* closes it when nothing is outstanding */
        }
    }
    /* After a burst of connections went, give the freed pages back:
     * anything allocated later (a request record, a cache entry) keeps
     * free's own trimming of the heap top from doing it. */
    if (s->closed_since_trim >= TRIM_CONNS) {
        malloc_trim(0);
        s->closed_since_trim = 0;
    }
}

/* close_listeners - stop accepting; remove unix socket files if we can */
static void
close_listeners(struct server *s)
{
    size_t i;

    for (i = 0; i < s->nlst; i++) {
        struct listener *l = &s->lst[i];

        if (l->ev.fd >= 0) {
            epoll_ctl(s->epfd, EPOLL_CTL_DEL, l->ev.fd, NULL);
            close(l->ev.fd);
            l->ev.fd = -1;
        }
        if (l->path != NULL) {
            unlink(l->path); /* may fail after dropping privileges */
            free(l->path);
            l->path = NULL;
        }
    }
    if (s->mlst.ev.fd >= 0) {
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->mlst.ev.fd, NULL);
        close(s->mlst.ev.fd);
        s->mlst.ev.fd = -1;
    }
    if (s->alst.ev.fd >= 0) {
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->alst.ev.fd, NULL);
        close(s->alst.ev.fd);
        s->alst.ev.fd = -1;
    }
    if (s->alst.path != NULL) {
        unlink(s->alst.path); /* may fail after dropping privileges */
        free(s->alst.path);
        s->alst.path = NULL;
    }
}

/* start_stop - SIGTERM/SIGINT: stop accepting, finish in-flight work */
static void
start_stop(struct server *s, const char *signame)
{
    struct conn *c, *next;
    unsigned long bound = (unsigned long)s->timeout_ms * 4 / 1000 + 1;

    if (s->stopping)
        return;
    s->stopping = 1;
    notify(s, "STOPPING=1\nSTATUS=stopping: finishing queries in "
           "flight\n");
    s->stop_deadline = now_sec() + (time_t)bound;
    close_listeners(s);
    while (s->admins != NULL)
        admin_close(s, s->admins);
    log_msg(TLSPOL_LOG_INFO, "%s: shutting down; finishing %zu queries "
            "(at most %lu s)", signame, tlspol_ctx_pending(s->ctx), bound);
    for (c = s->conns; c != NULL; c = next) {
        next = c->next;
        conn_service(s, c); /* closes connections with nothing to do */
    }
}

/* apply_log_config - level and target of the log: the command line (-v,
 * --log) over the --config file's log: over the defaults (info for our
 * own lines, warn for the library's, stderr); again after each reload */
static void
apply_log_config(struct server *s)
{
    int level = -1, target = -1, own, lib, to_syslog;

    tlspol_ctx_config_log(s->ctx, &level, &target);
    if (opt_verbose > 0 || level < 0) {
        own = opt_verbose >= 2 ? TLSPOL_LOG_DEBUG : TLSPOL_LOG_INFO;
        lib = opt_verbose >= 2   ? TLSPOL_LOG_DEBUG
              : opt_verbose == 1 ? TLSPOL_LOG_INFO
                                 : TLSPOL_LOG_WARN;
    } else {
        own = lib = level;
    }
    to_syslog = opt_log >= 0 ? opt_log : target >= 0 ? target : 0;
    if (to_syslog != use_syslog) {
        log_flush();
        if (to_syslog)
            openlog(progname, LOG_PID | LOG_NDELAY, LOG_MAIL);
        else
            closelog();
        use_syslog = to_syslog;
    }
    log_max = own;
    tlspol_ctx_set_log_fn(s->ctx, lib_log, NULL, (tlspol_log_level)lib);
}

/* reload - SIGHUP or admin "reload" (why): reread --config, between
 * RELOADING=1 and READY=1; 0 reloaded, 1 no --config, -1 failed (then
 * tlspol_ctx_errmsg says why) */
static int
reload(struct server *s, const char *why)
{
    char msg[96];
    tlspol_status st;

    /* MONOTONIC_USEC: systemd 253 and later want it with RELOADING=1 */
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\n",
             now_usec());
    notify(s, msg);
    if (s->config == NULL) {
        log_msg(TLSPOL_LOG_INFO, "%s: no --config file; nothing to "
                "reload", why);
        notify(s, "READY=1\nSTATUS=serving\n");
        return 1;
    }
    st = tlspol_ctx_load_config(s->ctx, s->config);
    if (st == TLSPOL_OK) {
        char *d = server_digest(s);

        apply_log_config(s);
        if (d != NULL && s->server_digest != NULL &&
            strcmp(d, s->server_digest) != 0) {
            log_msg(TLSPOL_LOG_WARN, "%s: %s: the server: settings changed; "
                    "they take effect at the next start (sockets, limits "
                    "and user stay as they are)", why, s->config);
            if (check_server_opts(s) != 0)
                log_msg(TLSPOL_LOG_WARN, "%s: %s: the next start would "
                        "stop at the error above; the running server is "
                        "not affected", why, s->config);
        }
        free(d);
        s->m.reload_ok++;
        log_msg(TLSPOL_LOG_INFO, "%s: reloaded %s", why, s->config);
        notify(s, "READY=1\nSTATUS=serving\n");
        return 0;
    }
    s->m.reload_failed++;
    log_msg(TLSPOL_LOG_ERROR, "%s: reloading %s failed: %s; kept the old "
            "configuration", why, s->config, tlspol_ctx_errmsg(s->ctx));
    notify(s, "READY=1\nSTATUS=serving; the last reload failed, the old "
           "configuration is in force\n");
    return -1;
}

/* handle_signals - read the signalfd */
static void
handle_signals(struct server *s)
{
    struct signalfd_siginfo si;

    while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP)
            reload(s, "SIGHUP");
        else if (si.ssi_signo == SIGTERM)
            start_stop(s, "SIGTERM");
        else if (si.ssi_signo == SIGINT)
            start_stop(s, "SIGINT");
    }
}

/* add_fd - register a non-connection fd for reading; 0 or -1 */
static int
add_fd(struct server *s, struct ev *ev)
{
    struct epoll_event ee;

    memset(&ee, 0, sizeof(ee));
    ee.events = EPOLLIN;
    ee.data.ptr = ev;
    return epoll_ctl(s->epfd, EPOLL_CTL_ADD, ev->fd, &ee);
}

/* raise_nofile - raise the soft descriptor limit to the hard one (the
 * loop is epoll: no FD_SETSIZE bound); warn when that is still below
 * what --max-clients needs */
static void
raise_nofile(unsigned long max_clients)
{
    rlim_t want = (rlim_t)max_clients + FD_SPARE;
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t was = rl.rlim_cur;

        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            /* an infinite hard limit is above fs.nr_open: ask for what
             * is needed instead */
            rl.rlim_cur = want > was ? want : was;
            if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max)
                rl.rlim_cur = rl.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
                rl.rlim_cur = was;
        }
        log_msg(TLSPOL_LOG_DEBUG, "file descriptor limit %lu (was %lu)",
                (unsigned long)rl.rlim_cur, (unsigned long)was);
    }
    if (rl.rlim_cur < want)
        log_msg(TLSPOL_LOG_WARN, "file descriptor limit %lu is below "
                "--max-clients %lu + %d; connections beyond it are closed",
                (unsigned long)rl.rlim_cur, max_clients, FD_SPARE);
}

/* dispatch - run the library's due work and callbacks, then write the
 * replies they completed */
static void
dispatch(struct server *s)
{
    tlspol_status st = tlspol_ctx_dispatch(s->ctx);

    if (st != TLSPOL_OK)
        log_msg(TLSPOL_LOG_ERROR, "dispatch: %s", tlspol_strerror(st));
    service_ready(s);
}

/* run - the event loop; EX_OK or EX_SETUP */
static int
run(struct server *s)
{
    struct epoll_event evs[256];

    for (;;) {
        int i, n;

        if (s->stopping) {
            if (s->nconns == 0) {
                log_msg(TLSPOL_LOG_INFO, "all queries finished; exiting");
                return EX_OK;
            }
            if (now_sec() >= s->stop_deadline) {
                log_msg(TLSPOL_LOG_WARN, "shutdown bound reached with %zu "
                        "connections waiting; exiting", s->nconns);
                return EX_OK;
            }
        }
        n = epoll_wait(s->epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])),
                       log_wait_ms(s->now_us));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_msg(TLSPOL_LOG_ERROR, "epoll_wait: %s", strerror(errno));
            return EX_SETUP;
        }
        tick(s);
        /* the library first, so that replies go out in this round */
        for (i = 0; i < n; i++) {
            struct ev *ev = evs[i].data.ptr;

            if (ev->kind == EV_LIB) {
                dispatch(s);
                evs[i].data.ptr = NULL;
            }
        }
        for (i = 0; i < n; i++) {
            struct ev *ev = evs[i].data.ptr;

            if (ev == NULL)
                continue;
            switch (ev->kind) {
            case EV_LISTEN:
                if (!s->stopping)
                    accept_all(s, (struct listener *)(void *)ev);
                break;
            case EV_SIGNAL:
                handle_signals(s);
                break;
            case EV_TIMER: {
                uint64_t ticks;

                if (read(ev->fd, &ticks, sizeof(ticks)) < 0 &&
                    errno != EAGAIN)
                    log_msg(TLSPOL_LOG_WARN, "timerfd: %s",
                            strerror(errno));
                sweep(s);
                break;
            }
            case EV_CONN: {
                struct conn *c = (struct conn *)(void *)ev;

                if (c->ev.fd < 0)
                    break; /* closed earlier in this round */
                if (evs[i].events & (EPOLLERR | EPOLLHUP) &&
                    !(evs[i].events & EPOLLIN)) {
                    conn_close(s, c);
                    break;
                }
                if (evs[i].events & EPOLLIN)
                    c->rd = 1;
                if (evs[i].events & EPOLLOUT)
                    conn_io(s, c);
                else
                    conn_read(s, c);
                break;
            }
            case EV_MLISTEN:
                if (!s->stopping)
                    http_accept(s);
                break;
            case EV_HTTP: {
                struct http *h = (struct http *)(void *)ev;

                if (h->ev.fd < 0)
                    break; /* closed earlier in this round */
                if (h->out != NULL)
                    http_write(s, h);
                else
                    http_read(s, h);
                break;
            }
            case EV_ALISTEN:
                if (!s->stopping)
                    admin_accept(s);
                break;
            case EV_ADMIN: {
                struct admin *a = (struct admin *)(void *)ev;

                if (a->ev.fd < 0)
                    break; /* closed earlier in this round */
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    admin_read(s, a); /* takes what was sent, to EOF */
                else if (evs[i].events & EPOLLOUT)
                    admin_service(s, a);
                if (a->ev.fd >= 0 &&
                    (evs[i].events & (EPOLLHUP | EPOLLERR)))
                    admin_close(s, a); /* gone: cancel a refresh */
                break;
            }
            case EV_LIB:
                break;
            }
        }
        reap(s);
    }
}

/* Settings that the --config file's server: section can give as well
 * (tlspol.yaml(5)); the command line wins, setting by setting. */
enum {
    SO_LISTEN, SO_SOCKET_MODE, SO_SOCKET_OWNER, SO_ALLOW_REMOTE,
    SO_MAX_CLIENTS, SO_IDLE_TIMEOUT, SO_MAX_REQUEST, SO_METRICS, SO_ADMIN,
    SO_ADMIN_MODE, SO_USER, SO_CACHE_FILE, SO_REFRESH_AHEAD, SO_EVICT_IDLE,
    SO_CONN_TIMEOUT, SO_N
};
static const char *const so_key[SO_N] = {
    "listen", "socket_mode", "socket_owner", "allow_remote", "max_clients",
    "idle_timeout", "max_request", "metrics", "admin", "admin_mode", "user",
    "cache_file", "refresh_ahead", "evict_idle", "connection_timeout",
};

struct opts {
    const char *listen[LISTEN_MAX];
    const char *listen_where[LISTEN_MAX]; /* "--listen" or file:line */
    size_t n_listen;
    unsigned long mode, admin_mode;
    const char *owner, *owner_where, *metrics, *metrics_where, *admin;
    const char *user, *cachefile;
    int allow_remote;
    unsigned int refresh_ahead, evict_idle;
    unsigned int cli;           /* bit (1 << SO_x): given as an option */
    char *owned[SO_N * 16 * 2]; /* copies of config values and places */
    size_t n_owned;
};

/* opt_err - say what is wrong with an option's value (where begins the
 * message: "--listen" or "FILE: line N: server.listen"): a command-line
 * option on stderr, as usage errors are; a file's setting in the log,
 * which is stderr too at start and may be syslog by a reload */
static int opt_err(const char *where, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
opt_err(const char *where, const char *fmt, ...)
{
    char msg[PATH_MAX + 256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (where[0] == '-')
        fprintf(stderr, "%s: %s%s\n", progname, where, msg);
    else
        log_msg(TLSPOL_LOG_ERROR, "%s%s", where, msg);
    return -1;
}

/* set_num - *out from the decimal v in [min, max]; 0, or -1 after
 * saying on stderr that v is not what (e.g. "a number of seconds") */
static int
set_num(const char *where, const char *v, unsigned long min,
        unsigned long max, const char *what, unsigned long *out)
{
    if (parse_ulong(v, 10, min, max, out) == 0)
        return 0;
    return opt_err(where, ": \"%s\" is not %s from %lu to %lu", v, what, min,
                   max);
}

/* set_opt - one value v of setting id, from the command line (where is
 * the option: "--listen") or from --config (where: "FILE: line N:
 * server.listen"); 0, or -1 after saying on stderr what is wrong */
static int
set_opt(struct server *s, struct opts *o, int id, const char *v,
        const char *where)
{
    unsigned long n = 0;

    switch (id) {
    case SO_LISTEN:
        if (o->n_listen == LISTEN_MAX) {
            return opt_err(where, ": at most %d listen addresses",
                           LISTEN_MAX);
        }
        if (strncmp(v, "unix:", 5) != 0 && strncmp(v, "inet:", 5) != 0) {
            return opt_err(where, " %s: expected unix:PATH or "
                           "inet:HOST:PORT", v);
        }
        o->listen_where[o->n_listen] = where;
        o->listen[o->n_listen++] = v;
        return 0;
    case SO_SOCKET_MODE:
    case SO_ADMIN_MODE:
        if (parse_ulong(v, 8, 0, 0777, id == SO_SOCKET_MODE ? &o->mode
                                                           : &o->admin_mode)
            != 0) {
            return opt_err(where, ": \"%s\" is not an octal mode (e.g. "
                           "%s)", v, id == SO_SOCKET_MODE ? "0660" : "0600");
        }
        return 0;
    case SO_SOCKET_OWNER:
        o->owner = v;
        o->owner_where = where;
        return 0;
    case SO_ALLOW_REMOTE:
        if (v == NULL || strcmp(v, "true") == 0) {
            o->allow_remote = 1;
        } else if (strcmp(v, "false") == 0) {
            o->allow_remote = 0;
        } else {
            return opt_err(where, ": \"%s\" is not true or false", v);
        }
        return 0;
    case SO_MAX_CLIENTS:
        return set_num(where, v, 1, 1000000, "a number", &s->max_clients);
    case SO_IDLE_TIMEOUT:
        return set_num(where, v, 1, 86400, "a number of seconds",
                       &s->idle_timeout);
    case SO_CONN_TIMEOUT:
        return set_num(where, v, 1, 86400, "a number of seconds",
                       &s->conn_timeout);
    case SO_MAX_REQUEST:
        return set_num(where, v, 64, 1000000, "a number of bytes",
                       &s->max_request);
    case SO_METRICS:
        if (strncmp(v, "inet:", 5) != 0) {
            return opt_err(where, " %s: expected one inet:HOST:PORT", v);
        }
        o->metrics = v;
        o->metrics_where = where;
        return 0;
    case SO_ADMIN:
        if (strncmp(v, "unix:", 5) != 0 || v[5] == '\0') {
            return opt_err(where, " %s: expected one unix:PATH (the admin "
                           "socket is UNIX-domain only)", v);
        }
        o->admin = v;
        return 0;
    case SO_USER:
        o->user = v;
        return 0;
    case SO_CACHE_FILE:
        o->cachefile = v;
        return 0;
    case SO_REFRESH_AHEAD:
    case SO_EVICT_IDLE:
        if (set_num(where, v, 0, 31557600, "a number of seconds", &n) != 0)
            return -1;
        if (id == SO_REFRESH_AHEAD)
            o->refresh_ahead = (unsigned int)n;
        else
            o->evict_idle = (unsigned int)n;
        return 0;
    }
    return -1;
}

/* cli_opt - set_opt for a command-line option, remembered as given */
static int
cli_opt(struct server *s, struct opts *o, int id, const char *v,
        const char *opt)
{
    o->cli |= 1u << id;
    return set_opt(s, o, id, v, opt);
}

/* keep - a copy of t owned by o (config values outlive a reload) */
static const char *
keep(struct opts *o, const char *t)
{
    char *c;

    if (o->n_owned == sizeof(o->owned) / sizeof(o->owned[0]) ||
        (c = strdup(t)) == NULL)
        return NULL;
    return o->owned[o->n_owned++] = c;
}

/* config_opts - the server: settings of --config for those not given on
 * the command line; 0, or -1 after saying what is wrong */
static int
config_opts(struct server *s, struct opts *o)
{
    int id;

    for (id = 0; id < SO_N; id++) {
        const char *v;
        unsigned int line;
        size_t i;

        if (o->cli & (1u << id))
            continue;
        for (i = 0; (v = tlspol_ctx_config_server(s->ctx, so_key[id], i,
                                                  &line)) != NULL; i++) {
            char where[PATH_MAX + 64];
            const char *kv, *kw;

            snprintf(where, sizeof(where), "%s: line %u: server.%s",
                     s->config, line, so_key[id]);
            if ((kv = keep(o, v)) == NULL || (kw = keep(o, where)) == NULL) {
                log_msg(TLSPOL_LOG_ERROR, "%s: out of memory", where);
                return -1;
            }
            if (set_opt(s, o, id, kv, kw) != 0)
                return -1;
        }
    }
    return 0;
}

/* check_server_opts - whether the server: settings of the configuration
 * in force would pass at start (each error is logged); 0 or -1 */
static int
check_server_opts(const struct server *s)
{
    struct server *scratch = calloc(1, sizeof(*scratch));
    struct opts *o = calloc(1, sizeof(*o));
    size_t k;
    int rc = -1;

    if (scratch != NULL && o != NULL) {
        scratch->ctx = s->ctx;
        scratch->config = s->config;
        rc = config_opts(scratch, o);
        for (k = 0; k < o->n_owned; k++)
            free(o->owned[k]);
    }
    free(o);
    free(scratch);
    return rc;
}

/* server_digest - the server: settings of the configuration in force as
 * one string ("key=value\n"...), to tell whether a reload changed them;
 * malloc'd, or NULL when memory ran out */
static char *
server_digest(const struct server *s)
{
    char *d = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&d, &len);
    int id;

    if (fp == NULL)
        return NULL;
    for (id = 0; id < SO_N; id++) {
        const char *v;
        size_t i;

        for (i = 0; (v = tlspol_ctx_config_server(s->ctx, so_key[id], i,
                                                  NULL)) != NULL; i++)
            fprintf(fp, "%s=%s\n", so_key[id], v);
    }
    if (fclose(fp) != 0) {
        free(d);
        return NULL;
    }
    return d;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "listen", required_argument, NULL, 'l' },
        { "socket-mode", required_argument, NULL, 'M' },
        { "socket-owner", required_argument, NULL, 'O' },
        { "allow-remote", no_argument, NULL, 'R' },
        { "metrics", required_argument, NULL, 1001 },
        { "admin", required_argument, NULL, 1002 },
        { "admin-mode", required_argument, NULL, 1003 },
        { "refresh-ahead", required_argument, NULL, 1010 },
        { "evict-idle", required_argument, NULL, 1011 },
        { "max-clients", required_argument, NULL, 'm' },
        { "idle-timeout", required_argument, NULL, 'i' },
        { "connection-timeout", required_argument, NULL, 1012 },
        { "max-request", required_argument, NULL, 'q' },
        { "config", required_argument, NULL, 'f' },
        { "preload", required_argument, NULL, 'P' },
        { "resolver", required_argument, NULL, 'r' },
        { "trust-anchor", required_argument, NULL, 'a' },
        { "ca-file", required_argument, NULL, 'c' },
        { "ca-path", required_argument, NULL, 'C' },
        { "cache-file", required_argument, NULL, 1000 },
        { "shared-store", required_argument, NULL, 1004 },
        { "timeout", required_argument, NULL, 't' },
        { "dnssec", required_argument, NULL, 'D' },
        { "check-resolver", no_argument, NULL, 'K' },
        { "bogus-name", required_argument, NULL, 'B' },
        { "user", required_argument, NULL, 'u' },
        { "no-drop-privileges", no_argument, NULL, 'N' },
        { "foreground", no_argument, NULL, 'F' },
        { "log", required_argument, NULL, 'L' },
        { "verbose", no_argument, NULL, 'v' },
        { "quiet", no_argument, NULL, 1005 },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    static struct server srv;
    struct server *s = &srv;
    static struct opts o = { .mode = 0666, .admin_mode = 0600,
                             .refresh_ahead = 86400,
                             .evict_idle = 2592000 };
    const char *preload[PRELOAD_MAX];
    size_t n_preload = 0, k;
    const char *ta = NULL, *ca = NULL, *capath = NULL, *bogus = NULL;
    const char *shared = NULL;
    char *resolvers = NULL;
    int trust_ad = 0, check = 0, no_drop = 0;
    int quiet = 0, c, rc = EX_SETUP, n_act;
    uid_t own_uid = (uid_t)-1;
    gid_t own_gid = (gid_t)-1;
    struct itimerspec its;
    sigset_t mask;
    tlspol_status st;

    s->epfd = s->sigfd = s->timerfd = s->reserve_fd = -1;
    s->max_clients = 4096;
    s->idle_timeout = 30;
    s->conn_timeout = 300;
    s->max_request = 10240;
    /* s->lst[] from s->nlst on is unused and left untouched */
    s->mlst.ev.fd = -1;
    s->alst.ev.fd = -1;

    while ((c = getopt_long(argc, argv, "l:f:r:a:c:t:u:vhV", opts,
                            NULL)) != -1) {
        switch (c) {
        case 'l':
            if (cli_opt(s, &o, SO_LISTEN, optarg, "--listen") != 0)
                goto usage_error;
            break;
        case 'M':
            if (cli_opt(s, &o, SO_SOCKET_MODE, optarg, "--socket-mode"))
                goto usage_error;
            break;
        case 'O': cli_opt(s, &o, SO_SOCKET_OWNER, optarg, "--socket-owner");
            break;
        case 'R': cli_opt(s, &o, SO_ALLOW_REMOTE, NULL, "--allow-remote");
            break;
        case 1001:
            if (o.metrics != NULL) {
                fprintf(stderr, "%s: --metrics %s: expected one "
                        "inet:HOST:PORT\n", progname, optarg);
                goto usage_error;
            }
            if (cli_opt(s, &o, SO_METRICS, optarg, "--metrics") != 0)
                goto usage_error;
            break;
        case 1002:
            if (o.admin != NULL) {
                fprintf(stderr, "%s: --admin %s: expected one unix:PATH "
                        "(the admin socket is UNIX-domain only)\n",
                        progname, optarg);
                goto usage_error;
            }
            if (cli_opt(s, &o, SO_ADMIN, optarg, "--admin") != 0)
                goto usage_error;
            break;
        case 1003:
            if (cli_opt(s, &o, SO_ADMIN_MODE, optarg, "--admin-mode") != 0)
                goto usage_error;
            break;
        case 'm':
            if (cli_opt(s, &o, SO_MAX_CLIENTS, optarg, "--max-clients"))
                goto usage_error;
            break;
        case 'i':
            if (cli_opt(s, &o, SO_IDLE_TIMEOUT, optarg, "--idle-timeout"))
                goto usage_error;
            break;
        case 1012:
            if (cli_opt(s, &o, SO_CONN_TIMEOUT, optarg,
                        "--connection-timeout"))
                goto usage_error;
            break;
        case 'q':
            if (cli_opt(s, &o, SO_MAX_REQUEST, optarg, "--max-request"))
                goto usage_error;
            break;
        case 'f': s->config = optarg; break;
        case 'P':
            if (n_preload == PRELOAD_MAX) {
                fprintf(stderr, "%s: at most %d --preload files\n",
                        progname, PRELOAD_MAX);
                return EX_USAGE;
            }
            preload[n_preload++] = optarg;
            break;
        case 'r':
            if (cli_add_resolver(&resolvers, optarg) != 0) {
                fprintf(stderr, "%s: out of memory\n", progname);
                return EX_SETUP;
            }
            break;
        case 'a': ta = optarg; break;
        case 'c': ca = optarg; break;
        case 'C': capath = optarg; break;
        case 1000: cli_opt(s, &o, SO_CACHE_FILE, optarg, "--cache-file");
            break;
        case 1004: shared = optarg; break;
        case 1010:
            if (cli_opt(s, &o, SO_REFRESH_AHEAD, optarg, "--refresh-ahead"))
                goto usage_error;
            break;
        case 1011:
            if (cli_opt(s, &o, SO_EVICT_IDLE, optarg, "--evict-idle"))
                goto usage_error;
            break;
        case 't':
            if ((s->timeout_ms = cli_parse_timeout(optarg)) == 0) {
                fprintf(stderr, "%s: --timeout: \"%s\" is not a number of "
                        "seconds between 0.1 and 600\n", progname, optarg);
                goto usage_error;
            }
            break;
        case 'D':
            if (strcmp(optarg, "trust-ad") == 0) {
                trust_ad = 1;
            } else if (strcmp(optarg, "validate") == 0) {
                trust_ad = 0;
            } else {
                fprintf(stderr, "%s: --dnssec: expected validate or "
                        "trust-ad\n", progname);
                goto usage_error;
            }
            break;
        case 'K': check = 1; break;
        case 'B': bogus = optarg; break;
        case 'u': cli_opt(s, &o, SO_USER, optarg, "--user"); break;
        case 'N': no_drop = 1; break;
        case 'F': break;
        case 'L':
            if (strcmp(optarg, "syslog") == 0) {
                use_syslog = opt_log = 1;
            } else if (strcmp(optarg, "stderr") == 0) {
                use_syslog = opt_log = 0;
            } else {
                fprintf(stderr, "%s: --log: expected stderr or syslog\n",
                        progname);
                goto usage_error;
            }
            break;
        case 'v': opt_verbose++; break;
        case 1005: quiet = 1; break;
        case 'h':
            usage(stdout);
            free(resolvers);
            return EX_OK;
        case 'V':
            printf("%s %s\n", progname, tlspol_version());
            free(resolvers);
            return EX_OK;
        default:
            usage(stderr);
            goto usage_error;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument \"%s\" (try --help)\n",
                progname, argv[optind]);
        goto usage_error;
    }
    if (use_syslog)
        openlog(progname, LOG_PID | LOG_NDELAY, LOG_MAIL);
    atexit(log_flush); /* lines still in log_buf */
    if ((n_act = listen_fds()) < 0) {
        free(resolvers);
        return EX_SETUP;
    }
    if (o.n_listen == 0 && n_act == 0 && s->config == NULL) {
        fprintf(stderr, "%s: no --listen given and no sockets from systemd "
                "(LISTEN_FDS) (try --help)\n", progname);
        goto usage_error;
    }
    if ((o.cli & (1u << SO_USER)) && no_drop) {
        fprintf(stderr, "%s: --user and --no-drop-privileges exclude each "
                "other\n", progname);
        goto usage_error;
    }
    if (opt_verbose >= 2)
        log_max = TLSPOL_LOG_DEBUG;
    log_decisions = !quiet;
    notify_init(s);

    /* the resolver context */
    if ((st = tlspol_ctx_new(&s->ctx)) != TLSPOL_OK) {
        log_msg(TLSPOL_LOG_ERROR, "cannot create the resolver context: %s",
                tlspol_strerror(st));
        goto out;
    }
    the_server = s;
    apply_log_config(s);
    if (s->config != NULL &&
        tlspol_ctx_load_config(s->ctx, s->config) != TLSPOL_OK) {
        log_msg(TLSPOL_LOG_ERROR, "%s", tlspol_ctx_errmsg(s->ctx));
        goto out;
    }
    apply_log_config(s);
    if (s->config != NULL && config_opts(s, &o) != 0)
        goto out; /* a bad server: setting: setup error */
    s->server_digest = server_digest(s);
    if (no_drop && o.user != NULL)
        log_msg(TLSPOL_LOG_WARN, "--no-drop-privileges: server.user %s in "
                "%s is not used", o.user, s->config);
    if (o.n_listen == 0 && n_act == 0) {
        fprintf(stderr, "%s: no --listen given, no server.listen in %s and "
                "no sockets from systemd (LISTEN_FDS) (try --help)\n",
                progname, s->config);
        rc = EX_USAGE;
        goto out;
    }
    if (o.owner != NULL && parse_owner(o.owner, &own_uid, &own_gid) != 0) {
        fprintf(stderr, "%s: %s %s: unknown user or group\n", progname,
                o.owner_where, o.owner);
        rc = (o.cli & (1u << SO_SOCKET_OWNER)) ? EX_USAGE : EX_SETUP;
        goto out;
    }
    for (k = 0; k < n_preload; k++)
        if (tlspol_ctx_add_preload(s->ctx, preload[k]) != TLSPOL_OK) {
            log_msg(TLSPOL_LOG_ERROR, "%s", tlspol_ctx_errmsg(s->ctx));
            goto out;
        }
    if ((resolvers && tlspol_ctx_set_resolvers(s->ctx, resolvers)) ||
        (ta && tlspol_ctx_set_trust_anchor_file(s->ctx, ta)) ||
        (ca && tlspol_ctx_set_ca_file(s->ctx, ca)) ||
        (capath && tlspol_ctx_set_ca_path(s->ctx, capath)) ||
        (o.cachefile && tlspol_ctx_set_cache_file(s->ctx, o.cachefile)) ||
        (shared && tlspol_ctx_set_shared_store(s->ctx, shared)) ||
        (s->timeout_ms && tlspol_ctx_set_timeout(s->ctx, s->timeout_ms)) ||
        (trust_ad && tlspol_ctx_set_dnssec_mode(s->ctx,
                                                TLSPOL_DNSSEC_TRUST_AD))) {
        log_msg(TLSPOL_LOG_ERROR, "%s", tlspol_ctx_errmsg(s->ctx));
        goto out;
    }
    if (s->timeout_ms == 0)
        s->timeout_ms = 30000; /* the library's default */

    raise_nofile(s->max_clients);
    if ((s->rbuf = malloc(s->max_request + NS_OVERHEAD)) == NULL)
        goto os_error;
    tick(s);

    /* event sources */
    if ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        goto os_error;
    sigemptyset(&mask);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0)
        goto os_error;
    signal(SIGPIPE, SIG_IGN);
    if ((s->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
        goto os_error;
    s->sig_ev.kind = EV_SIGNAL;
    s->sig_ev.fd = s->sigfd;
    if ((s->timerfd = timerfd_create(CLOCK_MONOTONIC,
                                     TFD_NONBLOCK | TFD_CLOEXEC)) < 0)
        goto os_error;
    memset(&its, 0, sizeof(its));
    its.it_value.tv_sec = its.it_interval.tv_sec = 1;
    if (timerfd_settime(s->timerfd, 0, &its, NULL) != 0)
        goto os_error;
    s->timer_ev.kind = EV_TIMER;
    s->timer_ev.fd = s->timerfd;
    s->lib_ev.kind = EV_LIB;
    s->lib_ev.fd = tlspol_ctx_get_fd(s->ctx);
    s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (add_fd(s, &s->sig_ev) != 0 || add_fd(s, &s->timer_ev) != 0 ||
        add_fd(s, &s->lib_ev) != 0)
        goto os_error;

    /* sockets from systemd, then --listen, before dropping privileges */
    for (k = 0; k < (size_t)n_act; k++) {
        struct listener *l = &s->lst[s->nlst];

        if (adopt_fd(l, LISTEN_FDS_START + (int)k) != 0)
            goto out;
        s->nlst++;
        if (add_fd(s, &l->ev) != 0)
            goto os_error;
        log_msg(TLSPOL_LOG_INFO, "listening on %s", l->spec);
    }
    for (k = 0; k < o.n_listen; k++) {
        struct listener *l = &s->lst[s->nlst];
        const char *spec = o.listen[k];
        int fd;

        l->spec = spec;
        if (strncmp(spec, "unix:", 5) == 0) {
            if ((l->path = strdup(spec + 5)) == NULL)
                goto os_error;
            fd = open_unix(l->path, (mode_t)o.mode, own_uid, own_gid);
            if (fd < 0) {
                free(l->path);
                l->path = NULL;
            }
        } else {
            fd = open_inet(o.listen_where[k], spec + 5, o.allow_remote);
            if (fd == -2) {
                rc = o.listen_where[k][0] == '-' ? EX_USAGE : EX_SETUP;
                goto out;
            }
        }
        if (fd < 0)
            goto out;
        l->ev.kind = EV_LISTEN;
        l->ev.fd = fd;
        s->nlst++;
        if (add_fd(s, &l->ev) != 0)
            goto os_error;
        log_msg(TLSPOL_LOG_INFO, "listening on %s", spec);
    }
    if (o.metrics != NULL) {
        int fd = open_inet(o.metrics_where, o.metrics + 5, o.allow_remote);

        if (fd == -2)
            rc = o.metrics_where[0] == '-' ? EX_USAGE : EX_SETUP;
        if (fd < 0)
            goto out;
        s->mlst.spec = o.metrics;
        s->mlst.ev.kind = EV_MLISTEN;
        s->mlst.ev.fd = fd;
        if (add_fd(s, &s->mlst.ev) != 0)
            goto os_error;
        log_msg(TLSPOL_LOG_INFO, "metrics on http://%s/metrics",
                o.metrics + 5);
    }
    if (o.admin != NULL) {
        /* owned by the starting user (root), not --socket-owner */
        int fd;

        if ((s->alst.path = strdup(o.admin + 5)) == NULL)
            goto os_error;
        fd = open_unix(s->alst.path, (mode_t)o.admin_mode, (uid_t)-1,
                       (gid_t)-1);
        if (fd < 0) {
            free(s->alst.path);
            s->alst.path = NULL;
            goto out;
        }
        s->alst.spec = o.admin;
        s->alst.ev.kind = EV_ALISTEN;
        s->alst.ev.fd = fd;
        if (add_fd(s, &s->alst.ev) != 0)
            goto os_error;
        log_msg(TLSPOL_LOG_INFO, "admin socket on %s (mode %04lo)", o.admin,
                o.admin_mode);
    }

    /* Set up resolver and cache file now: errors show at start, and the
     * cache file is opened before privileges are dropped. */
    /* RFC 8461 §3.3: refresh cached policies before they expire */
    if ((o.refresh_ahead > 0 || o.evict_idle > 0) &&
        tlspol_ctx_set_refresh(s->ctx, o.refresh_ahead, 4, 60000,
                               o.evict_idle) != TLSPOL_OK) {
        log_msg(TLSPOL_LOG_ERROR, "%s", tlspol_ctx_errmsg(s->ctx));
        goto out;
    }
    if (tlspol_ctx_open(s->ctx) != TLSPOL_OK) {
        log_msg(TLSPOL_LOG_ERROR, "%s", tlspol_ctx_errmsg(s->ctx));
        goto out;
    }
    if (!no_drop && (o.user != NULL || geteuid() == 0)) {
        if (drop_privileges(o.user != NULL ? o.user : "nobody") != 0)
            goto out;
    } else if (geteuid() == 0) {
        log_msg(TLSPOL_LOG_WARN, "running as root (--no-drop-privileges)");
    }

    if (check) {
        const char *report = "", *p, *nl;

        st = tlspol_ctx_check_resolver(s->ctx, bogus, &report);
        for (p = report; p != NULL && *p != '\0'; p = nl) {
            size_t len;

            nl = strchr(p, '\n');
            len = nl != NULL ? (size_t)(nl - p) : strlen(p);
            if (len > 1000)
                len = 1000;
            log_msg(TLSPOL_LOG_INFO, "resolver self-test: %.*s", (int)len,
                    p);
            if (nl != NULL)
                nl++;
        }
        if (st == TLSPOL_OK)
            log_msg(TLSPOL_LOG_INFO, "resolver self-test: DNSSEC works");
        else
            log_msg(TLSPOL_LOG_ERROR, "resolver self-test FAILED (%s: %s): "
                    "DNSSEC does not work on this resolver path; DANE IS "
                    "UNAVAILABLE, serving MTA-STS and preload policies "
                    "only", tlspol_strerror(st),
                    tlspol_ctx_errmsg(s->ctx));
    }

    log_msg(TLSPOL_LOG_INFO, "%s %s ready", progname, tlspol_version());
    notify(s, "READY=1\nSTATUS=serving\n");
    rc = run(s);
    goto out;

usage_error:
    free(resolvers);
    return EX_USAGE;
os_error:
    log_msg(TLSPOL_LOG_ERROR, "setup: %s", strerror(errno));
    rc = EX_SETUP;
out:
    while (s->conns != NULL)
        conn_close(s, s->conns);
    while (s->https != NULL)
        http_close(s, s->https);
    while (s->admins != NULL)
        admin_close(s, s->admins);
    reap(s);
    close_listeners(s);
    tlspol_ctx_free(s->ctx);
    while (s->pfree != NULL) {
        struct pending *p = s->pfree;

        s->pfree = p->next;
        free(p);
    }
    free(s->rbuf);
    if (s->reserve_fd >= 0)
        close(s->reserve_fd);
    if (s->timerfd >= 0)
        close(s->timerfd);
    if (s->sigfd >= 0)
        close(s->sigfd);
    if (s->epfd >= 0)
        close(s->epfd);
    free(resolvers);
    free(s->server_digest);
    for (k = 0; k < o.n_owned; k++)
        free(o.owned[k]);
    if (use_syslog)
        closelog();
    return rc;
}
