/*
 * test_loop.c - the event loop: timer order, stop and restart, zero
 * timers started from a timer callback wait for the next pass, fd
 * watches, a reused fd number, and the wake-up eventfd.
 *
 * SPDX-License-Identifier: MIT
 */
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../leakcheck.h"
#include "loop.h"

static char order[64];
static size_t norder;

static void
record(struct tp_timer *t)
{
    order[norder++] = *(const char *)t->arg;
    order[norder] = '\0';
}

/* wait_fd - poll the public fd up to ms; 1 if readable */
static int
wait_fd(struct tp_loop *l, int ms)
{
    struct pollfd p = { .fd = l->epfd, .events = POLLIN };

    return poll(&p, 1, ms) == 1;
}

Test(loop, timers_fire_in_deadline_order)
{
    struct tp_loop l;
    struct tp_timer a, b, c, d;
    int spins = 0;

    norder = 0;
    cr_assert_eq(tp_loop_init(&l), 0);
    tp_timer_init(&a, record, (void *)"a");
    tp_timer_init(&b, record, (void *)"b");
    tp_timer_init(&c, record, (void *)"c");
    tp_timer_init(&d, record, (void *)"d");
    tp_timer_start(&l, &a, 30);
    tp_timer_start(&l, &b, 10);
    tp_timer_start(&l, &c, 20);
    tp_timer_start(&l, &d, 10);
    tp_timer_stop(&l, &c);
    cr_assert(!tp_timer_active(&c));
    while (norder < 3 && spins++ < 100) {
        wait_fd(&l, 200);
        cr_assert_eq(tp_loop_run_once(&l, 0), 0);
    }
    cr_assert_str_eq(order, "bda", "equal deadlines keep start order");
    cr_assert(!tp_timer_active(&a));
    tp_loop_fini(&l);
    ASSERT_NO_LEAKS();
}

Test(loop, restart_moves_a_timer)
{
    struct tp_loop l;
    struct tp_timer a, b;

    norder = 0;
    cr_assert_eq(tp_loop_init(&l), 0);
    tp_timer_init(&a, record, (void *)"a");
    tp_timer_init(&b, record, (void *)"b");
    tp_timer_start(&l, &a, 5);
    tp_timer_start(&l, &b, 20);
    tp_timer_start(&l, &a, 60); /* restart: now after b */
    while (norder < 2 && wait_fd(&l, 500))
        tp_loop_run_once(&l, 0);
    cr_assert_str_eq(order, "ba");
    tp_loop_fini(&l);
}

static struct tp_loop *self_loop;
static int self_runs;

static void
restart_self(struct tp_timer *t)
{
    if (++self_runs < 5)
        tp_timer_start(self_loop, t, 0);
}

Test(loop, zero_timer_from_callback_runs_on_a_later_pass)
{
    struct tp_loop l;
    struct tp_timer t;

    cr_assert_eq(tp_loop_init(&l), 0);
    self_loop = &l;
    self_runs = 0;
    tp_timer_init(&t, restart_self, NULL);
    tp_timer_start(&l, &t, 0);
    cr_assert(wait_fd(&l, 500), "a zero timer makes the fd readable");
    tp_loop_run_once(&l, 0);
    cr_assert_eq(self_runs, 1, "one pass runs it once, not forever");
    while (self_runs < 5 && wait_fd(&l, 500))
        tp_loop_run_once(&l, 0);
    cr_assert_eq(self_runs, 5);
    tp_loop_fini(&l);
}

static int reads;

static void
on_read(struct tp_watch *w, uint32_t rev)
{
    char buf[8];

    if (rev & EPOLLIN)
        reads += read(w->fd, buf, sizeof(buf)) > 0;
}

Test(loop, watch_delivers_readiness_and_clear_stops_it)
{
    struct tp_loop l;
    struct tp_watch w = { .fd = -1, .cb = on_read };
    int p[2];

    reads = 0;
    cr_assert_eq(tp_loop_init(&l), 0);
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(tp_watch_set(&l, &w, p[0], EPOLLIN), 0);
    cr_assert_eq(write(p[1], "x", 1), 1);
    cr_assert(wait_fd(&l, 500));
    tp_loop_run_once(&l, 0);
    cr_assert_eq(reads, 1);
    tp_watch_clear(&l, &w);
    cr_assert_eq(write(p[1], "y", 1), 1);
    cr_assert(!wait_fd(&l, 50), "a cleared watch no longer wakes the loop");
    close(p[0]);
    close(p[1]);
    tp_loop_fini(&l);
}

Test(loop, reused_fd_number_goes_to_the_new_owner)
{
    struct tp_loop l;
    struct tp_watch old = { .fd = -1, .cb = on_read };
    struct tp_watch neu = { .fd = -1, .cb = on_read };
    int p[2], q[2];

    reads = 0;
    cr_assert_eq(tp_loop_init(&l), 0);
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(tp_watch_set(&l, &old, p[0], EPOLLIN), 0);
    /* the old owner closes without clearing; the number is reused */
    close(p[0]);
    close(p[1]);
    cr_assert_eq(pipe(q), 0);
    cr_assert_eq(q[0], p[0], "the kernel reuses the lowest fd");
    cr_assert_eq(tp_watch_set(&l, &neu, q[0], EPOLLIN), 0);
    tp_watch_clear(&l, &old); /* late clear must not drop the new watch */
    cr_assert_eq(write(q[1], "z", 1), 1);
    cr_assert(wait_fd(&l, 500));
    tp_loop_run_once(&l, 0);
    cr_assert_eq(reads, 1);
    tp_watch_clear(&l, &neu);
    close(q[0]);
    close(q[1]);
    tp_loop_fini(&l);
}

Test(loop, wake_makes_the_fd_readable_once)
{
    struct tp_loop l;

    cr_assert_eq(tp_loop_init(&l), 0);
    cr_assert(!wait_fd(&l, 0));
    tp_loop_wake(&l);
    tp_loop_wake(&l);
    cr_assert(wait_fd(&l, 0));
    tp_loop_run_once(&l, 0);
    cr_assert(!wait_fd(&l, 0), "one pass consumes every wake-up");
    tp_loop_fini(&l);
}
