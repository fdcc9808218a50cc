/*
 * test_shared.c - the shared policy store against a real redis-server
 * (started per test on a UNIX socket in a temporary directory) and the
 * test network: two nodes fetch a policy once, invalid and foreign
 * entries are ignored, a late writer never puts an older policy back,
 * and the server stopped, frozen or restarted mid-test never stops
 * lookups.  White-box (links the core) only to call tp_shared_put with
 * an older entry.
 *
 * SPDX-License-Identifier: MIT
 */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "internal.h"
#include "netenv.h"
#include "shared.h"

extern char **environ;

struct redis {
    char dir[64];
    char sock[96];
    char log[96];
    pid_t pid;
};

/* redis_start - a redis-server on r->sock, answering PING: asserts */
static void
redis_start(struct redis *r)
{
    const char *argv[] = { "redis-server", "--port", "0", "--unixsocket",
                           r->sock, "--unixsocketperm", "700", "--save", "",
                           "--appendonly", "no", "--logfile", r->log, NULL };
    uint64_t until = now_ms() + 5000;
    posix_spawn_file_actions_t fa;

    /* its output must not hold the test runner's pipes open */
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    /* posix_spawnp takes char *const[] but does not write to it */
    cr_assert_eq(posix_spawnp(&r->pid, "redis-server", &fa, NULL,
                              (char *const *)(uintptr_t)argv, environ), 0,
                 "redis-server: is it installed?");
    posix_spawn_file_actions_destroy(&fa);
    while (now_ms() < until) {
        redisContext *c = redisConnectUnix(r->sock);
        redisReply *rep = c != NULL && !c->err ? redisCommand(c, "PING")
                                               : NULL;
        int ok = rep != NULL && rep->type == REDIS_REPLY_STATUS;

        freeReplyObject(rep);
        redisFree(c);
        if (ok)
            return;
        usleep(10000);
    }
    cr_assert_fail("redis-server did not come up on %s", r->sock);
}

static void
redis_stop(struct redis *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGCONT);
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
}

/* The server of the running test: started by .init, always stopped by
 * .fini, even after a failed assertion. */
static struct redis rd;

static void
redis_setup(void)
{
    snprintf(rd.dir, sizeof(rd.dir), "/tmp/tlspol-redis-XXXXXX");
    cr_assert_not_null(mkdtemp(rd.dir));
    snprintf(rd.sock, sizeof(rd.sock), "%s/redis.sock", rd.dir);
    snprintf(rd.log, sizeof(rd.log), "%s/redis.log", rd.dir);
    redis_start(&rd);
}

static void
redis_teardown(void)
{
    redis_stop(&rd);
    unlink(rd.sock);
    unlink(rd.log);
    rmdir(rd.dir);
}

/* cmd - run a command on the test's own connection; the caller frees */
static redisReply *
cmd(struct redis *r, const char *fmt, ...)
{
    redisContext *c = redisConnectUnix(r->sock);
    redisReply *rep;
    va_list ap;

    cr_assert(c != NULL && !c->err, "connect to %s", r->sock);
    va_start(ap, fmt);
    rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    cr_assert_not_null(rep);
    return rep;
}

/* field - one field of a policy entry as a string ("" if absent) */
static void
field(struct redis *r, const char *domain, const char *name, char *out,
      size_t size)
{
    redisReply *rep = cmd(r, "HGET tlspol:sts:%s %s", domain, name);

    snprintf(out, size, "%s", rep->type == REDIS_REPLY_STRING ? rep->str
                                                               : "");
    freeReplyObject(rep);
}

/* node - a network context sharing policies through r */
static tlspol_ctx *
node(struct redis *r)
{
    tlspol_ctx *ctx = net_ctx(3000);
    char url[128];

    snprintf(url, sizeof(url), "unix:%s", r->sock);
    cr_assert_eq(tlspol_ctx_set_shared_store(ctx, url), TLSPOL_OK, "%s",
                 tlspol_ctx_errmsg(ctx));
    return ctx;
}

/* wait_field - dispatch ctx until domain's entry has field = want */
static int
wait_field(tlspol_ctx *ctx, struct redis *r, const char *domain,
           const char *name, const char *want)
{
    char got[128];
    int i;

    for (i = 0; i < 40; i++) {
        field(r, domain, name, got, sizeof(got));
        if (strcmp(got, want) == 0)
            return 1;
        spin(ctx, 50);
    }
    return 0;
}

struct logs {
    char text[8192];
    size_t len;
};

static void
keep_log(tlspol_log_level lvl, const char *id, const char *msg, void *ud)
{
    struct logs *l = ud;
    int n;

    (void)lvl;
    if (strcmp(id, "TP1503") != 0 || l->len >= sizeof(l->text) - 1)
        return;
    n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s\n", msg);
    if (n > 0)
        l->len += (size_t)n;
    if (l->len >= sizeof(l->text))
        l->len = sizeof(l->text) - 1;
}

Test(shared, a_policy_fetched_by_one_node_serves_the_next,
     .init = redis_setup, .fini = redis_teardown)
{
    tlspol_ctx *a, *b;
    tlspol_result *res;
    char v[128];
    redisReply *ttl;

    a = node(&rd);
    res = resolve1(a, "enforce.test");
    cr_assert_eq(tlspol_result_source(res), TLSPOL_SOURCE_STS);
    cr_assert(has_trace(res, "shared store: no entry"), "asked first");
    cr_assert(has_trace(res, "HTTPS GET"));
    tlspol_result_free(res);
    cr_assert(wait_field(a, &rd, "enforce.test", "v", "1"), "written");
    field(&rd, "enforce.test", "mode", v, sizeof(v));
    cr_assert_str_eq(v, "3");
    field(&rd, "enforce.test", "mx", v, sizeof(v));
    cr_assert_str_eq(v, "mx1.enforce.test");
    field(&rd, "enforce.test", "hash", v, sizeof(v));
    cr_assert_eq(strlen(v), 64);
    ttl = cmd(&rd, "TTL tlspol:sts:enforce.test");
    cr_assert(ttl->type == REDIS_REPLY_INTEGER && ttl->integer > 0,
              "expires with the policy");
    freeReplyObject(ttl);
    cr_assert_eq(tlspol_ctx_stat(a, TLSPOL_STAT_SHARED_UP), 1);

    b = node(&rd);
    res = resolve1(b, "enforce.test");
    cr_assert_eq(tlspol_result_source(res), TLSPOL_SOURCE_STS_CACHE);
    cr_assert_eq(tlspol_result_verdict(res), TLSPOL_VERDICT_STS_ENFORCE);
    cr_assert(has_trace(res, "by another node"));
    cr_assert(!has_trace(res, "HTTPS GET"), "not fetched again");
    cr_assert_str_eq(tlspol_result_mx_pattern(res, 0), "mx1.enforce.test");
    tlspol_result_free(res);
    cr_assert_eq(tlspol_ctx_stat(b, TLSPOL_STAT_SHARED_HITS), 1);

    /* purge on one node removes the shared entry too */
    cr_assert_eq(tlspol_ctx_purge(b, "enforce.test", NULL), TLSPOL_OK);
    cr_assert(wait_field(b, &rd, "enforce.test", "v", ""), "deleted");
    tlspol_ctx_free(a);
    tlspol_ctx_free(b);
}

Test(shared, invalid_or_foreign_entries_are_ignored,
     .init = redis_setup, .fini = redis_teardown)
{
    static const char *bad[] = {
        "HSET tlspol:sts:enforce.test v 1 id x mode 7 max_age 600 "
        "mx mx1.enforce.test fetched %lld hash %s",
        "HSET tlspol:sts:enforce.test v 1 id a!b mode 3 max_age 600 "
        "mx mx1.enforce.test fetched %lld hash %s",
        "HSET tlspol:sts:enforce.test v 1 id x mode 3 max_age 600 "
        "mx *.*.bad fetched %lld hash %s",
        "HSET tlspol:sts:enforce.test v 1 id x mode 3 max_age 99999999999 "
        "mx mx1.enforce.test fetched %lld hash %s",
        "HSET tlspol:sts:enforce.test v 1 id x mode 3 max_age 600 "
        "mx mx1.enforce.test fetched %lld hash 0123",
    };
    const char *zero = "0000000000000000000000000000000000000000000000000000"
                       "000000000000";
    struct logs lg = { .len = 0 };
    tlspol_ctx *ctx;
    tlspol_result *res;
    const size_t n_bad = sizeof(bad) / sizeof(bad[0]);
    uint64_t errs;
    size_t i;

    for (i = 0; i < n_bad + 3; i++) {
        freeReplyObject(cmd(&rd, "DEL tlspol:sts:enforce.test"));
        if (i < n_bad)
            freeReplyObject(cmd(&rd, bad[i], (long long)time(NULL), zero));
        else if (i == n_bad) /* a fetch time in the future */
            freeReplyObject(cmd(&rd, "HSET tlspol:sts:enforce.test v 1 id x "
                                "mode 3 max_age 600 mx a.test fetched %lld "
                                "hash %s", (long long)time(NULL) + 3600,
                                zero));
        else if (i == n_bad + 1) /* not a hash */
            freeReplyObject(cmd(&rd, "SET tlspol:sts:enforce.test x"));
        else /* a newer schema: not ours to read */
            freeReplyObject(cmd(&rd, "HSET tlspol:sts:enforce.test v 2 id x "
                                "mode 3 max_age 600 mx a.test fetched %lld "
                                "hash %s", (long long)time(NULL), zero));
        ctx = node(&rd);
        tlspol_ctx_set_log_fn(ctx, keep_log, &lg, TLSPOL_LOG_DEBUG);
        res = resolve1(ctx, "enforce.test");
        cr_assert_eq(tlspol_result_source(res), TLSPOL_SOURCE_STS,
                     "entry %zu: fetched, not taken from the store", i);
        cr_assert(has_trace(res, "HTTPS GET"), "entry %zu", i);
        tlspol_result_free(res);
        cr_assert_eq(tlspol_ctx_stat(ctx, TLSPOL_STAT_SHARED_HITS), 0);
        /* the string key also fails the write-back (WRONGTYPE), if its
         * reply is in by now; a newer schema is no error */
        errs = tlspol_ctx_stat(ctx, TLSPOL_STAT_SHARED_ERRORS);
        cr_assert(i == n_bad + 2 ? errs == 0
                  : i == n_bad + 1 ? errs == 1 || errs == 2 : errs == 1,
                  "entry %zu: %llu errors counted", i,
                  (unsigned long long)errs);
        tlspol_ctx_free(ctx);
    }
    cr_assert(strstr(lg.text, "entry of enforce.test ignored: a field is "
                     "missing or out of range") != NULL, "%s", lg.text);
    cr_assert(strstr(lg.text, "WRONGTYPE") != NULL, "%s", lg.text);
}

Test(shared, an_oversized_reply_drops_the_connection_not_the_lookup,
     .init = redis_setup, .fini = redis_teardown)
{
    static char big[300 * 1024];
    struct logs lg = { .len = 0 };
    tlspol_ctx *ctx;
    tlspol_result *res;

    memset(big, 'a', sizeof(big) - 1);
    freeReplyObject(cmd(&rd, "HSET tlspol:sts:enforce.test v 1 mx %s", big));
    ctx = node(&rd);
    tlspol_ctx_set_log_fn(ctx, keep_log, &lg, TLSPOL_LOG_INFO);
    res = resolve1(ctx, "enforce.test");
    cr_assert_eq(tlspol_result_verdict(res), TLSPOL_VERDICT_STS_ENFORCE);
    cr_assert(has_trace(res, "HTTPS GET"));
    tlspol_result_free(res);
    cr_assert(strstr(lg.text, "a reply over 262144 bytes") != NULL, "%s",
              lg.text);
    cr_assert_eq(tlspol_ctx_stat(ctx, TLSPOL_STAT_SHARED_UP), 0);
    tlspol_ctx_free(ctx);
}

Test(shared, a_late_writer_never_puts_an_older_policy_back,
     .init = redis_setup, .fini = redis_teardown)
{
    tlspol_ctx *ctx;
    struct tp_sts_entry old;
    char v[64], want[32];

    ctx = node(&rd);
    tlspol_result_free(resolve1(ctx, "enforce.test"));
    cr_assert(wait_field(ctx, &rd, "enforce.test", "v", "1"));
    field(&rd, "enforce.test", "fetched", want, sizeof(want));
    old = *tp_sts_cache_get(&ctx->sts_cache, "enforce.test");
    old.fetched_at -= 100;
    snprintf(old.id, sizeof(old.id), "older1");
    tp_shared_put(ctx, &old);
    spin(ctx, 200);
    field(&rd, "enforce.test", "id", v, sizeof(v));
    cr_assert_str_neq(v, "older1", "the later fetch stays");
    field(&rd, "enforce.test", "fetched", v, sizeof(v));
    cr_assert_str_eq(v, want);

    old.fetched_at += 200; /* a later fetch does replace it */
    tp_shared_put(ctx, &old);
    cr_assert(wait_field(ctx, &rd, "enforce.test", "id", "older1"));

    freeReplyObject(cmd(&rd, "HSET tlspol:sts:enforce.test v 2"));
    old.fetched_at += 50; /* a newer schema is left alone */
    snprintf(old.id, sizeof(old.id), "later2");
    tp_shared_put(ctx, &old);
    spin(ctx, 200);
    field(&rd, "enforce.test", "id", v, sizeof(v));
    cr_assert_str_eq(v, "older1");
    tlspol_ctx_free(ctx);
}

Test(shared, lookups_go_on_while_the_store_is_down_or_frozen,
     .init = redis_setup, .fini = redis_teardown, .timeout = 60)
{
    struct logs lg = { .len = 0 };
    tlspol_ctx *ctx;
    tlspol_result *res;
    uint64_t t0;

    ctx = node(&rd);
    tlspol_ctx_set_log_fn(ctx, keep_log, &lg, TLSPOL_LOG_INFO);
    tlspol_result_free(resolve1(ctx, "enforce.test"));
    cr_assert_eq(tlspol_ctx_stat(ctx, TLSPOL_STAT_SHARED_UP), 1);

    redis_stop(&rd); /* gone mid-run */
    t0 = now_ms();
    res = resolve1(ctx, "testing.test");
    cr_assert_eq(tlspol_result_verdict(res), TLSPOL_VERDICT_STS_TESTING);
    cr_assert_eq(tlspol_result_source(res), TLSPOL_SOURCE_STS);
    tlspol_result_free(res);
    cr_assert_lt(now_ms() - t0, 2000, "not held up by the dead store");
    cr_assert_eq(tlspol_ctx_stat(ctx, TLSPOL_STAT_SHARED_UP), 0);
    cr_assert_geq(tlspol_ctx_stat(ctx, TLSPOL_STAT_SHARED_ERRORS), 1);
    cr_assert(strstr(lg.text, "unavailable") != NULL &&
              strstr(lg.text, "answering from the local cache") != NULL,
              "%s", lg.text);
    res = resolve1(ctx, "enforce.test"); /* the local layers still answer */
    cr_assert_eq(tlspol_result_verdict(res), TLSPOL_VERDICT_STS_ENFORCE);
    tlspol_result_free(res);

    redis_start(&rd); /* back: reconnected within the backoff */
    spin(ctx, 2500);
    cr_assert_eq(tlspol_ctx_stat(ctx, TLSPOL_STAT_SHARED_UP), 1, "%s",
                 lg.text);
    cr_assert(strstr(lg.text, "is back") != NULL, "%s", lg.text);
    tlspol_result_free(resolve1(ctx, "multi-mx.test"));
    cr_assert(wait_field(ctx, &rd, "multi-mx.test", "v", "1"),
              "writes resume");

    kill(rd.pid, SIGSTOP); /* connected, but never answers */
    t0 = now_ms();
    res = resolve1(ctx, "wildcard.test");
    cr_assert_eq(tlspol_result_verdict(res), TLSPOL_VERDICT_STS_ENFORCE);
    cr_assert(has_trace(res, "HTTPS GET"));
    tlspol_result_free(res);
    cr_assert_lt(now_ms() - t0, 2500, "waited at most the store timeout");
    cr_assert(strstr(lg.text, "no reply within 500 ms") != NULL, "%s",
              lg.text);
    cr_assert_eq(tlspol_ctx_stat(ctx, TLSPOL_STAT_SHARED_UP), 0);
    tlspol_ctx_free(ctx);
}

Test(shared, urls_are_checked)
{
    static const struct {
        const char *url, *msg;
    } bad[] = {
        { "http://127.0.0.1", "expected redis://" },
        { "redis://localhost", "not an IP address" },
        { "redis://127.0.0.1:0", "port" },
        { "redis://127.0.0.1:65536", "port" },
        { "redis://127.0.0.1:6379/x", "database" },
        { "redis://:@127.0.0.1", "password" },
        { "redis://[::1", "IPv6" },
        { "unix:relative/path", "absolute path" },
        { "unix:/tmp/x?db=-1", "db" },
    };
    static const char *good[] = {
        "redis://127.0.0.1", "redis://:s3cret@127.0.0.1:6380/2",
        "redis://[::1]:6379", "unix:/run/redis/redis.sock?db=3",
    };
    tlspol_ctx *ctx = NULL;
    size_t i;

    cr_assert_eq(tlspol_ctx_new(&ctx), TLSPOL_OK);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(tlspol_ctx_set_shared_store(ctx, bad[i].url),
                     TLSPOL_ERR_INVAL, "%s", bad[i].url);
        cr_assert(strstr(tlspol_ctx_errmsg(ctx), bad[i].msg) != NULL,
                  "%s: %s", bad[i].url, tlspol_ctx_errmsg(ctx));
    }
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert_eq(tlspol_ctx_set_shared_store(ctx, good[i]), TLSPOL_OK,
                     "%s: %s", good[i], tlspol_ctx_errmsg(ctx));
    cr_assert_eq(tlspol_ctx_set_shared_store(ctx, NULL), TLSPOL_ERR_INVAL);
    cr_assert_eq(tlspol_ctx_stat(ctx, TLSPOL_STAT_SHARED_UP), 0);
    tlspol_ctx_free(ctx);
}
