/*
 * smref.c - reference socketmap server for smbench (a program, not a
 * test).
 *
 *   smref SOCKETPATH
 *
 * The cheapest server that still speaks the protocol correctly: one
 * thread, one level-triggered epoll loop, netstring requests parsed with
 * tools/netstring.c, and every well-formed request answered with the
 * fixed reply "OK dane-only".  Pipelined requests are answered in order;
 * while a client does not read its replies, its input is not read
 * either, so the output buffer stays bounded.  A malformed netstring
 * closes the connection.  SIGTERM or SIGINT removes the socket file and
 * exits 0.  smbench's ratio is tlspol-socketmapd's qps over this one's.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "netstring.h"

#define REF_REPLY "OK dane-only"
#define REQ_MAX 10240   /* payload, as tlspol-socketmapd --max-request */
#define IN_CAP (REQ_MAX + 16)   /* 9 digits + ':' + payload + ',' */
#define OUT_CAP 16384   /* pending replies per connection */
#define EVENTS_MAX 256

struct conn {
    int fd;
    size_t inlen;
    size_t outoff, outlen;
    uint32_t events;            /* registered with epoll */
    uint8_t in[IN_CAP];
    char out[OUT_CAP];
};

/* Markers for the two fds that are not connections. */
static char listen_tag, signal_tag;
static char reply[32];
static size_t reply_len;

static void
conn_close(int ep, struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

/* conn_want - register for `events` unless already registered; 0 or -1 */
static int
conn_want(int ep, struct conn *c, uint32_t events)
{
    struct epoll_event ev;

    if (c->events == events)
        return 0;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = c;
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        return -1;
    c->events = events;
    return 0;
}

/* process - answer the complete requests in c->in while replies fit */
static int
process(struct conn *c)
{
    size_t pos = 0;

    while (OUT_CAP - c->outlen >= reply_len) {
        const uint8_t *payload;
        size_t plen, used;
        const char *err;
        enum ns_rc rc = ns_parse(c->in + pos, c->inlen - pos, REQ_MAX,
                                 &payload, &plen, &used, &err);

        if (rc == NS_ERR) {
            fprintf(stderr, "smref: %s\n", err);
            return -1;
        }
        if (rc == NS_MORE)
            break;
        memcpy(c->out + c->outlen, reply, reply_len);
        c->outlen += reply_len;
        pos += used;
    }
    if (pos > 0) {
        memmove(c->in, c->in + pos, c->inlen - pos);
        c->inlen -= pos;
    }
    return 0;
}

/* flush - write pending replies; 0 (maybe partly written) or -1 */
static int
flush(struct conn *c)
{
    while (c->outoff < c->outlen) {
        ssize_t n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        c->outoff += (size_t)n;
    }
    c->outoff = c->outlen = 0;
    return 0;
}

/* conn_io - one readiness event on a connection; 0, or -1 to close */
static int
conn_io(int ep, struct conn *c, uint32_t events)
{
    if (events & EPOLLIN) {
        ssize_t n = read(c->fd, c->in + c->inlen, IN_CAP - c->inlen);

        if (n == 0)
            return -1;
        if (n < 0 && errno != EINTR && errno != EAGAIN &&
            errno != EWOULDBLOCK)
            return -1;
        if (n > 0)
            c->inlen += (size_t)n;
    } else if (events & (EPOLLERR | EPOLLHUP)) {
        return -1;
    }
    /* Alternate answering and writing until one of them is stuck. */
    for (;;) {
        size_t before = c->inlen;

        if (process(c) != 0 || flush(c) != 0)
            return -1;
        if (c->outlen > 0 || c->inlen == before)
            break;
    }
    /* Buffered replies: wait for the client to read, read nothing more. */
    return conn_want(ep, c, c->outlen > 0 ? EPOLLOUT : EPOLLIN);
}

static void
accept_all(int ep, int lfd, int *spare)
{
    for (;;) {
        struct epoll_event ev;
        struct conn *c;
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR)
                continue;
            if ((errno == EMFILE || errno == ENFILE) && *spare >= 0) {
                /* Out of fds: accept and close one, so that the level-
                 * triggered listener does not spin. */
                close(*spare);
                fd = accept(lfd, NULL, NULL);
                if (fd >= 0)
                    close(fd);
                *spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
                fprintf(stderr, "smref: out of file descriptors\n");
                continue;
            }
            return;
        }
        c = malloc(sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->inlen = c->outoff = c->outlen = 0;
        c->events = EPOLLIN;
        memset(&ev, 0, sizeof(ev));
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(c);
        }
    }
}

static int
listen_unix(const char *path)
{
    struct sockaddr_un sun;
    int fd;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "smref: socket path too long: %s\n", path);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("smref: socket");
        return -1;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
        chmod(path, 0666) != 0 || listen(fd, 4096) != 0) {
        fprintf(stderr, "smref: %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* raise_nofile - as many descriptors as the hard limit allows */
static void
raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int
main(int argc, char **argv)
{
    struct epoll_event ev, evs[EVENTS_MAX];
    sigset_t mask;
    int ep, lfd, sfd, spare, running = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: smref SOCKETPATH\n");
        return 2;
    }
    reply_len = ns_format(reply, sizeof(reply), REF_REPLY,
                          sizeof(REF_REPLY) - 1);
    if (reply_len == 0)
        return 1;
    raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0)
        return 1;
    sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    ep = epoll_create1(EPOLL_CLOEXEC);
    lfd = listen_unix(argv[1]);
    spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (sfd < 0 || ep < 0 || lfd < 0) {
        perror("smref: setup");
        return 1;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = &listen_tag;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0)
        return 1;
    ev.data.ptr = &signal_tag;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) != 0)
        return 1;
    while (running) {
        int i, n = epoll_wait(ep, evs, EVENTS_MAX, -1);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("smref: epoll_wait");
            return 1;
        }
        for (i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;

            if (p == &signal_tag)
                running = 0;
            else if (p == &listen_tag)
                accept_all(ep, lfd, &spare);
            else if (conn_io(ep, p, evs[i].events) != 0)
                conn_close(ep, p);
        }
    }
    /* Connections are left to exit(); only the socket file needs care. */
    unlink(argv[1]);
    return 0;
}
