/*
 * loop.c - epoll + timerfd event loop behind the context's one public fd,
 * and the getdns_eventloop adapter (all five vmt entries).
 *
 * The public fd is the epoll set itself: it is readable when a watched fd
 * is ready or the timerfd (armed at the earliest timer deadline) expires.
 * Level-triggered throughout.  An epoll event carries fd and a generation
 * number, so an event for an fd that was closed and reused within one
 * batch is dropped instead of reaching the wrong owner.
 *
 * Loop plumbing (timer heap, fd table, getdns event records) allocates
 * with plain malloc, outside the tp_malloc fault-injection hook: getdns
 * ignores a failed schedule, so a refused record would stall a query
 * silently; the heap starts with room for LOOP_PREALLOC timers.  Waking
 * the loop for finished lookups (tp_loop_wake) uses an eventfd and never
 * allocates.
 *
 * The only OS-specific file.  Not pure.  SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "loop.h"

#define IDLE ((size_t)-1)
#define TFD_TAG UINT64_MAX
#define EFD_TAG (UINT64_MAX - 1)
#define LOOP_PREALLOC 256
/* getdns passes a huge value for "no timeout"; a week counts as forever. */
#define GD_FOREVER_MS (7ull * 24 * 3600 * 1000)
#define BATCH 64

uint64_t
tp_loop_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* --- timer heap ---------------------------------------------------- */

static int
before(const struct tp_timer *a, const struct tp_timer *b)
{
    if (a->deadline != b->deadline)
        return a->deadline < b->deadline;
    return a->seq < b->seq;
}

static void
heap_put(struct tp_loop *l, size_t i, struct tp_timer *t)
{
    l->heap[i] = t;
    t->idx = i;
}

static void
sift_up(struct tp_loop *l, size_t i)
{
    struct tp_timer *t = l->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (!before(t, l->heap[parent]))
            break;
        heap_put(l, i, l->heap[parent]);
        i = parent;
    }
    heap_put(l, i, t);
}

static void
sift_down(struct tp_loop *l, size_t i)
{
    struct tp_timer *t = l->heap[i];

    for (;;) {
        size_t c = 2 * i + 1;

        if (c >= l->nheap)
            break;
        if (c + 1 < l->nheap && before(l->heap[c + 1], l->heap[c]))
            c++;
        if (!before(l->heap[c], t))
            break;
        heap_put(l, i, l->heap[c]);
        i = c;
    }
    heap_put(l, i, t);
}

/* rearm - point the timerfd at the earliest deadline, if it changed */
static void
rearm(struct tp_loop *l)
{
    struct itimerspec its;
    uint64_t want = l->nheap ? l->heap[0]->deadline : 0;

    if (want == l->armed)
        return;
    memset(&its, 0, sizeof(its));
    if (want != 0) {
        its.it_value.tv_sec = (time_t)(want / 1000);
        its.it_value.tv_nsec = (long)(want % 1000) * 1000000L;
    }
    if (timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        l->armed = want;
}

void
tp_timer_init(struct tp_timer *t, void (*cb)(struct tp_timer *), void *arg)
{
    memset(t, 0, sizeof(*t));
    t->idx = IDLE;
    t->cb = cb;
    t->arg = arg;
}

bool
tp_timer_active(const struct tp_timer *t)
{
    return t->idx != IDLE;
}

void
tp_timer_stop(struct tp_loop *l, struct tp_timer *t)
{
    size_t i = t->idx;
    struct tp_timer *last;

    if (i == IDLE)
        return;
    t->idx = IDLE;
    last = l->heap[--l->nheap];
    if (i < l->nheap) {
        heap_put(l, i, last);
        sift_down(l, i);
        sift_up(l, last->idx);
    }
    rearm(l);
}

int
tp_timer_start(struct tp_loop *l, struct tp_timer *t, uint64_t ms)
{
    if (t->idx != IDLE)
        tp_timer_stop(l, t);
    if (l->nheap == l->capheap) {
        size_t ncap = l->capheap ? l->capheap * 2 : 16;
        struct tp_timer **nh = realloc(l->heap, ncap * sizeof(*nh));

        if (nh == NULL)
            return -1;
        l->heap = nh;
        l->capheap = ncap;
    }
    t->deadline = tp_loop_now() + ms;
    t->seq = l->seq++;
    heap_put(l, l->nheap++, t);
    sift_up(l, t->idx);
    rearm(l);
    return 0;
}

/* run_timers - fire timers due now that existed before this pass began */
static void
run_timers(struct tp_loop *l)
{
    uint64_t now = tp_loop_now(), limit = l->seq;
    uint64_t buf;

    /* Drain the expiry count; EAGAIN just means we came here early. */
    (void)!read(l->tfd, &buf, sizeof(buf));
    l->armed = 0; /* a one-shot timerfd is disarmed once it expired */
    while (l->nheap > 0) {
        struct tp_timer *t = l->heap[0];

        if (t->deadline > now || t->seq >= limit)
            break;
        tp_timer_stop(l, t);
        t->cb(t);
    }
    rearm(l);
}

/* --- fd watches ---------------------------------------------------- */

int
tp_watch_set(struct tp_loop *l, struct tp_watch *w, int fd, uint32_t events)
{
    struct epoll_event ev;
    int op;

    if (fd < 0)
        return -1;
    if ((size_t)fd >= l->nfds) {
        size_t n = l->nfds ? l->nfds : 64;
        struct tp_watch **nf;

        while (n <= (size_t)fd)
            n *= 2;
        nf = realloc(l->fds, n * sizeof(*nf));
        if (nf == NULL)
            return -1;
        memset(nf + l->nfds, 0, (n - l->nfds) * sizeof(*nf));
        l->fds = nf;
        l->nfds = n;
    }
    if (l->fds[fd] != NULL && l->fds[fd] != w) {
        /* Two live sockets never share a number, so the old owner closed
         * this fd and has not cleared its watch yet (getdns may close
         * before it clears).  The old watch is stale: detach it, so its
         * late clear is a no-op, and let the new owner have the fd. */
        l->fds[fd]->fd = -1;
        l->fds[fd] = NULL;
    }
    op = l->fds[fd] == w ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (op == EPOLL_CTL_ADD)
        w->gen = ++l->gen;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.u64 = ((uint64_t)w->gen << 32) | (uint32_t)fd;
    if (epoll_ctl(l->epfd, op, fd, &ev) != 0) {
        /* ADD on an fd epoll still holds (closed-and-reused description
         * kept alive elsewhere), or MOD on one it already dropped */
        op = errno == EEXIST ? EPOLL_CTL_MOD
           : errno == ENOENT ? EPOLL_CTL_ADD : -1;
        if (op < 0 || epoll_ctl(l->epfd, op, fd, &ev) != 0)
            return -1;
    }
    w->fd = fd;
    w->events = events;
    l->fds[fd] = w;
    return 0;
}

void
tp_watch_clear(struct tp_loop *l, struct tp_watch *w)
{
    int fd = w->fd;

    if (fd < 0 || (size_t)fd >= l->nfds || l->fds[fd] != w)
        return;
    /* The fd may already be closed by its owner; ignore the error. */
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    l->fds[fd] = NULL;
    w->fd = -1;
}

/* --- the loop ------------------------------------------------------ */

int
tp_loop_run_once(struct tp_loop *l, int timeout_ms)
{
    struct epoll_event evs[BATCH];
    int n, i, timers = 0;

    n = epoll_wait(l->epfd, evs, BATCH, timeout_ms < 0 ? 0 : timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (i = 0; i < n; i++) {
        uint64_t tag = evs[i].data.u64;
        int fd = (int)(uint32_t)tag;
        struct tp_watch *w;

        if (tag == TFD_TAG) {
            timers = 1;
            continue;
        }
        if (tag == EFD_TAG) {
            uint64_t cnt;

            (void)!read(l->efd, &cnt, sizeof(cnt));
            continue;
        }
        if ((size_t)fd >= l->nfds || (w = l->fds[fd]) == NULL ||
            w->gen != (uint32_t)(tag >> 32))
            continue;
        w->cb(w, evs[i].events);
    }
    if (timers || (l->nheap > 0 && l->heap[0]->deadline <= tp_loop_now()))
        run_timers(l);
    return 0;
}

/* --- getdns adapter ------------------------------------------------ */

struct gd_ev {
    struct tp_watch w;
    struct tp_timer t;
    getdns_eventloop_event *ev;  /* borrowed from getdns */
    struct tp_loop *l;
};

static struct tp_loop *
gd_loop(getdns_eventloop *gl)
{
    return (struct tp_loop *)(void *)((char *)gl -
                                      offsetof(struct tp_loop, gd));
}

/* gd_fd_cb - one callback per wakeup: getdns may free the event in it */
static void
gd_fd_cb(struct tp_watch *w, uint32_t rev)
{
    struct gd_ev *g = w->arg;
    getdns_eventloop_event *ev = g->ev;

    if ((rev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && ev->read_cb != NULL)
        ev->read_cb(ev->userarg);
    else if ((rev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && ev->write_cb != NULL)
        ev->write_cb(ev->userarg);
}

static void
gd_timer_cb(struct tp_timer *t)
{
    struct gd_ev *g = t->arg;

    if (g->ev->timeout_cb != NULL)
        g->ev->timeout_cb(g->ev->userarg);
}

static getdns_return_t
gd_clear(getdns_eventloop *gl, getdns_eventloop_event *ev)
{
    struct tp_loop *l = gd_loop(gl);
    struct gd_ev *g = ev->ev;

    if (g == NULL)
        return GETDNS_RETURN_GOOD;
    tp_watch_clear(l, &g->w);
    tp_timer_stop(l, &g->t);
    free(g);
    ev->ev = NULL;
    return GETDNS_RETURN_GOOD;
}

static getdns_return_t
gd_schedule(getdns_eventloop *gl, int fd, uint64_t timeout,
            getdns_eventloop_event *ev)
{
    struct tp_loop *l = gd_loop(gl);
    struct gd_ev *g;
    uint32_t want = 0;

    if (ev == NULL)
        return GETDNS_RETURN_INVALID_PARAMETER;
    if (ev->ev != NULL)
        gd_clear(gl, ev);
    g = calloc(1, sizeof(*g));
    if (g == NULL)
        return GETDNS_RETURN_MEMORY_ERROR;
    g->ev = ev;
    g->l = l;
    g->w.fd = -1;
    g->w.cb = gd_fd_cb;
    g->w.arg = g;
    tp_timer_init(&g->t, gd_timer_cb, g);
    if (ev->read_cb != NULL)
        want |= EPOLLIN;
    if (ev->write_cb != NULL)
        want |= EPOLLOUT;
    if (fd >= 0 && want != 0 && tp_watch_set(l, &g->w, fd, want) != 0)
        goto fail;
    if (ev->timeout_cb != NULL && timeout < GD_FOREVER_MS &&
        tp_timer_start(l, &g->t, timeout) != 0)
        goto fail;
    ev->ev = g;
    return GETDNS_RETURN_GOOD;
fail:
    tp_watch_clear(l, &g->w);
    free(g);
    return GETDNS_RETURN_GENERIC_ERROR;
}

static void
gd_cleanup(getdns_eventloop *gl)
{
    /* The loop belongs to the tlspol context, which frees it. */
    (void)gl;
}

static void
gd_run_once(getdns_eventloop *gl, int blocking)
{
    struct tp_loop *l = gd_loop(gl);

    if (blocking) {
        struct pollfd p = { .fd = l->epfd, .events = POLLIN };

        poll(&p, 1, 1000);
    }
    tp_loop_run_once(l, 0);
}

static void
gd_run(getdns_eventloop *gl)
{
    struct tp_loop *l = gd_loop(gl);

    while (l->nheap > 0)
        gd_run_once(gl, 1);
}

static getdns_eventloop_vmt gd_vmt = {
    gd_cleanup, gd_schedule, gd_clear, gd_run, gd_run_once,
};

getdns_eventloop *
tp_loop_getdns(struct tp_loop *l)
{
    return &l->gd;
}

void
tp_loop_wake(struct tp_loop *l)
{
    uint64_t one = 1;

    /* EAGAIN means the counter is already non-zero: awake anyway */
    (void)!write(l->efd, &one, sizeof(one));
}

int
tp_loop_init(struct tp_loop *l)
{
    struct epoll_event ev;

    memset(l, 0, sizeof(*l));
    l->gd.vmt = &gd_vmt;
    l->tfd = l->efd = -1;
    l->heap = malloc(LOOP_PREALLOC * sizeof(*l->heap));
    if (l->heap == NULL)
        return -1;
    l->capheap = LOOP_PREALLOC;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        return -1;
    l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (l->tfd < 0)
        goto fail;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = TFD_TAG;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->tfd, &ev) != 0)
        goto fail;
    l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->efd < 0)
        goto fail;
    ev.data.u64 = EFD_TAG;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->efd, &ev) != 0)
        goto fail;
    return 0;
fail:
    tp_loop_fini(l);
    return -1;
}

void
tp_loop_fini(struct tp_loop *l)
{
    if (l->tfd >= 0)
        close(l->tfd);
    if (l->efd >= 0)
        close(l->efd);
    if (l->epfd >= 0)
        close(l->epfd);
    l->tfd = l->efd = l->epfd = -1;
    free(l->heap);
    free(l->fds);
    l->heap = NULL;
    l->fds = NULL;
    l->nheap = l->capheap = l->nfds = 0;
}
