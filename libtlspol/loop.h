/*
 * loop.h - the context's internal event loop: one epoll set (the fd the
 * application polls), a timerfd inside it, and a timer heap.  It drives
 * getdns through getdns's event-loop interface and libcurl through
 * curl multi's socket/timer callbacks, so DNS and HTTPS share one loop.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_LOOP_H
#define TP_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <getdns/getdns_extra.h>

struct tp_loop;

/* A one-shot timer.  Embed it; the loop never frees it. */
struct tp_timer {
    uint64_t deadline;         /* monotonic ms */
    uint64_t seq;              /* insertion order, for fairness */
    size_t idx;                /* position in the heap; (size_t)-1 if idle */
    void (*cb)(struct tp_timer *t);
    void *arg;
};

/* A file-descriptor watch.  Embed it; the loop never frees it. */
struct tp_watch {
    int fd;
    uint32_t events;           /* EPOLLIN / EPOLLOUT */
    uint32_t gen;              /* detects a stale epoll event after reuse */
    void (*cb)(struct tp_watch *w, uint32_t revents);
    void *arg;
};

struct tp_loop {
    int epfd;                  /* the public fd */
    int tfd;                   /* timerfd, member of epfd */
    int efd;                   /* eventfd for tp_loop_wake, member of epfd */
    struct tp_timer **heap;    /* owned array; timers are borrowed */
    size_t nheap, capheap;
    uint64_t seq;
    struct tp_watch **fds;     /* owned array indexed by fd; borrowed */
    size_t nfds;
    uint32_t gen;
    uint64_t armed;            /* deadline the timerfd is set to, 0 = none */
    getdns_eventloop gd;       /* getdns's view of this loop */
};

/* tp_loop_init - create the epoll set and timerfd: 0 or -1 with errno */
int tp_loop_init(struct tp_loop *l);
/* tp_loop_fini - close fds and free tables (watchers/timers not touched) */
void tp_loop_fini(struct tp_loop *l);
/* tp_loop_now - monotonic milliseconds */
uint64_t tp_loop_now(void);

/* tp_timer_init - set callback and argument of an idle timer */
void tp_timer_init(struct tp_timer *t, void (*cb)(struct tp_timer *),
                   void *arg);
/* tp_timer_start - (re)arm t to fire in ms milliseconds */
int tp_timer_start(struct tp_loop *l, struct tp_timer *t, uint64_t ms);
/* tp_timer_stop - disarm t; no-op if idle */
void tp_timer_stop(struct tp_loop *l, struct tp_timer *t);
/* tp_timer_active - is t armed? */
bool tp_timer_active(const struct tp_timer *t);

/* tp_watch_set - watch fd for events (replacing earlier interest): 0/-1 */
int tp_watch_set(struct tp_loop *l, struct tp_watch *w, int fd,
                 uint32_t events);
/* tp_watch_clear - stop watching; no-op if not watched */
void tp_watch_clear(struct tp_loop *l, struct tp_watch *w);

/* tp_loop_run_once - handle ready fds and due timers, without blocking
 * (or, with timeout_ms >= 0, waiting at most that long first): 0 or -1 */
int tp_loop_run_once(struct tp_loop *l, int timeout_ms);

/* tp_loop_wake - make the public fd readable now; never fails */
void tp_loop_wake(struct tp_loop *l);

/* tp_loop_getdns - the getdns_eventloop for getdns_context_set_eventloop */
getdns_eventloop *tp_loop_getdns(struct tp_loop *l);

#endif
