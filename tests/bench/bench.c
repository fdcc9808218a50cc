/*
 * bench.c - libtlspol benchmark (a program, not a test).
 *
 *   bench parse                 parser throughput (policy body, TXT, domain)
 *   bench resolve [-n N] [-c C] [-t MS] [-A] DOMAIN...
 *                               N uncached lookups, at most C in flight,
 *                               cycling over DOMAIN...; "{}" in a DOMAIN is
 *                               replaced by the query's number (distinct
 *                               names: cold lookups); -A trusts the
 *                               resolver's AD bit instead of validating
 *                               DNSSEC in the library
 *   bench cached [-n N] DOMAIN...   lookups answered from the verdict
 *                               cache (after one warm-up lookup each):
 *                               tlspol_resolve batched and one at a time,
 *                               and tlspol_resolve_cached
 *   bench mem [-n N] [-c C] [-A] [PATTERN]
 *                               RSS per cached result: N distinct names,
 *                               PATTERN with "{}" replaced by 0..N-1
 *                               (default "nx{}.test": NXDOMAIN, cached
 *                               negatively; "{}.wild.test" gives each an
 *                               MX host with DANE)
 *   bench idle [DOMAIN...]      RSS of a process that links libtlspol: at
 *                               main() (the linked libraries alone), after
 *                               tlspol_ctx_new, after tlspol_ctx_open,
 *                               after a lookup of each DOMAIN; then the
 *                               mappings holding most of it
 *
 * The lookups need resolver, TA and CA from TLSPOL_TEST_* (run under
 * tests/net/with-net.sh) or the defaults.
 *
 * Prints throughput and latency percentiles, and the RSS growth.
 * The library caches finished results (verdict cache), MTA-STS policies
 * and the MX hosts' address and TLSA answers: a cold lookup of a new
 * domain asks the resolver for its MX and TXT records and, unless -A,
 * validates their DNSSEC chain itself.
 *
 * SPDX-License-Identifier: MIT
 */
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "domain.h"
#include "sts.h"
#include "tlspol/tlspol.h"

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* rss_kib - resident set size from /proc/self/statm */
static long
rss_kib(void)
{
    long pages = 0, rss = 0;
    FILE *fp = fopen("/proc/self/statm", "r");

    if (fp == NULL)
        return -1;
    if (fscanf(fp, "%ld %ld", &pages, &rss) != 2)
        rss = -1;
    fclose(fp);
    return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double
pct(const double *sorted, size_t n, double p)
{
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);

    return sorted[i < n ? i : n - 1];
}

static void
report(const char *what, double *lat, size_t n, double secs)
{
    qsort(lat, n, sizeof(*lat), cmp_double);
    printf("%-30s %8zu ops %10.0f ops/s  p50 %10.1f us  p99 %10.1f us  "
           "p99.9 %10.1f us  max %10.1f us\n", what, n, (double)n / secs,
           pct(lat, n, 50) * 1e6, pct(lat, n, 99) * 1e6,
           pct(lat, n, 99.9) * 1e6, lat[n - 1] * 1e6);
}

/* bench_one_parser - time `rounds` calls of fn on one input */
static void
bench_parse(void)
{
    static const char pol[] =
        "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
        "mx: *.example.net\r\nmx: backupmx.example.com\r\n"
        "max_age: 604800\r\n";
    static const char txt[] = "v=STSv1; id=20160831085700Z;";
    static const char dom[] = "Mail.Example.COM.";
    enum { ROUNDS = 200000 };
    double *lat = malloc(ROUNDS * sizeof(*lat)), t0, t1;
    struct tp_err e;
    size_t i;

    if (lat == NULL)
        return;
    t0 = now_s();
    for (i = 0; i < ROUNDS; i++) {
        struct tp_sts_policy p;
        double s = now_s();

        if (tp_sts_policy_parse((const uint8_t *)pol, sizeof(pol) - 1, &p,
                                &e) != TP_OK)
            abort();
        tp_sts_policy_free(&p);
        lat[i] = now_s() - s;
    }
    t1 = now_s();
    report("parse policy body (6 lines)", lat, ROUNDS, t1 - t0);
    t0 = now_s();
    for (i = 0; i < ROUNDS; i++) {
        struct tp_sts_txt t;
        double s = now_s();

        if (tp_sts_txt_parse((const uint8_t *)txt, sizeof(txt) - 1, &t,
                             &e) != TP_OK)
            abort();
        lat[i] = now_s() - s;
    }
    t1 = now_s();
    report("parse TXT record", lat, ROUNDS, t1 - t0);
    t0 = now_s();
    for (i = 0; i < ROUNDS; i++) {
        char out[TP_DOMAIN_MAX + 1];
        double s = now_s();

        if (tp_domain_normalize(dom, sizeof(dom) - 1, out, &e) != TP_OK)
            abort();
        lat[i] = now_s() - s;
    }
    t1 = now_s();
    report("normalize domain", lat, ROUNDS, t1 - t0);
    free(lat);
}

struct slot {
    double start;
    size_t idx;
    double *lat;
    size_t *done;
    size_t *bad;
};

static void
on_done(tlspol_status st, tlspol_result *r, void *ud)
{
    struct slot *s = ud;

    s->lat[s->idx] = now_s() - s->start;
    if (st != TLSPOL_OK || tlspol_result_verdict(r) == TLSPOL_VERDICT_TEMPFAIL)
        (*s->bad)++;
    (*s->done)++;
    tlspol_result_free(r);
    free(s);
}

/* num - a positive decimal number of at most 9 digits, or 0 */
static size_t
num(const char *s)
{
    char *end;
    unsigned long v;

    if (*s < '0' || *s > '9' || strlen(s) > 9)
        return 0;
    v = strtoul(s, &end, 10);
    return *end == '\0' ? (size_t)v : 0;
}

/* count_lookups - count lookups really started (TP1001), to tell
 * coalesced queries apart from distinct lookups */
static void
count_lookups(tlspol_log_level lvl, const char *id, const char *msg,
              void *ud)
{
    (void)lvl;
    (void)msg;
    if (strcmp(id, "TP1001") == 0)
        (*(size_t *)ud)++;
}

/* expand - pattern with its first "{}" replaced by i, into out */
static const char *
expand(const char *pattern, size_t i, char *out, size_t size)
{
    const char *at = strstr(pattern, "{}");

    if (at == NULL)
        return pattern;
    snprintf(out, size, "%.*s%zu%s", (int)(at - pattern), pattern, i,
             at + 2);
    return out;
}

static int
bench_resolve(int argc, char **argv)
{
    size_t n = 1000, conc = 50, started = 0, done = 0, bad = 0, lookups = 0;
    unsigned timeout = 5000;
    const char *v;
    tlspol_ctx *ctx;
    double *lat, t0;
    long rss0, rss1;
    int c, ndom, trust_ad = 0;

    while ((c = getopt(argc, argv, "n:c:t:A")) != -1) {
        if (c == 'A')
            trust_ad = 1;
        else if (c == 'n')
            n = num(optarg);
        else if (c == 'c')
            conc = num(optarg);
        else if (c == 't')
            timeout = (unsigned)num(optarg);
        else
            return 2;
    }
    ndom = argc - optind;
    if (ndom <= 0 || n == 0 || conc == 0) {
        fprintf(stderr, "usage: bench resolve [-n N] [-c C] [-t MS] [-A] "
                "DOMAIN...\n");
        return 2;
    }
    if (tlspol_ctx_new(&ctx) != TLSPOL_OK)
        return 1;
    if ((v = getenv("TLSPOL_TEST_RESOLVER")) != NULL)
        tlspol_ctx_set_resolvers(ctx, v);
    if ((v = getenv("TLSPOL_TEST_TA")) != NULL)
        tlspol_ctx_set_trust_anchor_file(ctx, v);
    if ((v = getenv("TLSPOL_TEST_CA")) != NULL)
        tlspol_ctx_set_ca_file(ctx, v);
    tlspol_ctx_set_timeout(ctx, timeout);
    if (trust_ad)
        tlspol_ctx_set_dnssec_mode(ctx, TLSPOL_DNSSEC_TRUST_AD);
    tlspol_ctx_set_log_fn(ctx, count_lookups, &lookups, TLSPOL_LOG_DEBUG);
    lat = calloc(n, sizeof(*lat));
    if (lat == NULL)
        return 1;
    rss0 = rss_kib();
    t0 = now_s();
    while (done < n) {
        struct pollfd p = { .fd = tlspol_ctx_get_fd(ctx), .events = POLLIN };

        while (started < n && started - done < conc) {
            struct slot *s = malloc(sizeof(*s));
            char name[300];

            if (s == NULL)
                return 1;
            s->start = now_s();
            s->idx = started;
            s->lat = lat;
            s->done = &done;
            s->bad = &bad;
            if (tlspol_resolve(ctx, expand(argv[optind + started %
                                                    (size_t)ndom],
                                              started, name, sizeof(name)),
                               on_done, s, NULL) != TLSPOL_OK) {
                fprintf(stderr, "resolve: %s\n", tlspol_ctx_errmsg(ctx));
                return 1;
            }
            started++;
        }
        poll(&p, 1, 1000);
        tlspol_ctx_dispatch(ctx);
    }
    rss1 = rss_kib();
    {
        char what[64];

        snprintf(what, sizeof(what), "lookup, %s (c=%zu)",
                 trust_ad ? "AD trusted" : "validated here", conc);
        report(what, lat, n, now_s() - t0);
    }
    printf("queries %zu, distinct lookups %zu (the rest coalesced), "
           "TEMPFAIL or error %zu; RSS %ld KiB -> %ld KiB\n", n, lookups,
           bad, rss0, rss1);
    tlspol_ctx_free(ctx);
    free(lat);
    return bad == 0 ? 0 : 1;
}

/* net_ctx - a context on the test network (TLSPOL_TEST_*), if set */
static tlspol_ctx *
net_ctx(void)
{
    tlspol_ctx *ctx;
    const char *v;

    if (tlspol_ctx_new(&ctx) != TLSPOL_OK)
        return NULL;
    if ((v = getenv("TLSPOL_TEST_RESOLVER")) != NULL)
        tlspol_ctx_set_resolvers(ctx, v);
    if ((v = getenv("TLSPOL_TEST_TA")) != NULL)
        tlspol_ctx_set_trust_anchor_file(ctx, v);
    if ((v = getenv("TLSPOL_TEST_CA")) != NULL)
        tlspol_ctx_set_ca_file(ctx, v);
    tlspol_ctx_set_timeout(ctx, 5000);
    return ctx;
}

static void
count_cb(tlspol_status st, tlspol_result *r, void *ud)
{
    (void)st;
    (*(size_t *)ud)++;
    tlspol_result_free(r);
}

/* drain - dispatch until n callbacks have run */
static void
drain(tlspol_ctx *ctx, size_t *done, size_t n)
{
    while (*done < n) {
        struct pollfd p = { .fd = tlspol_ctx_get_fd(ctx), .events = POLLIN };

        poll(&p, 1, 1000);
        tlspol_ctx_dispatch(ctx);
    }
}

/* bench_cached - resolve+callback cost of verdict-cache hits, batched
 * (K resolves, then one dispatch delivers them) and one at a time */
static int
bench_cached(int argc, char **argv)
{
    tlspol_ctx *ctx = net_ctx();
    size_t rounds = 2000, k, i, done = 0, want = 0;
    double t0, *lat;
    int c, nd;

    while ((c = getopt(argc, argv, "n:")) != -1)
        if (c != 'n' || (rounds = num(optarg)) == 0)
            return 2;
    nd = argc - optind;
    if (ctx == NULL || nd <= 0)
        return 2;
    for (i = 0; i < (size_t)nd; i++) /* warm up: one real lookup each */
        tlspol_resolve(ctx, argv[optind + i], count_cb, &done, NULL);
    want = (size_t)nd;
    drain(ctx, &done, want);
    lat = calloc(rounds, sizeof(*lat));
    if (lat == NULL)
        return 1;
    t0 = now_s();
    for (k = 0; k < rounds; k++) {
        double s = now_s();

        for (i = 0; i < (size_t)nd; i++)
            tlspol_resolve(ctx, argv[optind + i], count_cb, &done, NULL);
        want += (size_t)nd;
        drain(ctx, &done, want);
        lat[k] = (now_s() - s) / nd;
    }
    {
        double secs = now_s() - t0;

        qsort(lat, rounds, sizeof(*lat), cmp_double);
        printf("%-30s %8zu ops %10.0f ops/s  per lookup p50 %.2f us, p99 "
               "%.2f us (batches of %d)\n", "cached lookup, batched",
               rounds * (size_t)nd, (double)(rounds * (size_t)nd) / secs,
               pct(lat, rounds, 50) * 1e6, pct(lat, rounds, 99) * 1e6, nd);
    }
    t0 = now_s();
    for (k = 0; k < rounds; k++) {
        double s = now_s();

        tlspol_resolve(ctx, argv[optind + k % (size_t)nd], count_cb, &done,
                       NULL);
        drain(ctx, &done, ++want);
        lat[k] = now_s() - s;
    }
    report("cached lookup, one at a time", lat, rounds, now_s() - t0);
    t0 = now_s();
    for (k = 0; k < rounds; k++) {
        double s = now_s();
        tlspol_result *r = NULL;

        tlspol_resolve_cached(ctx, argv[optind + k % (size_t)nd], &r);
        if (r == NULL)
            return 1; /* every name was looked up above */
        tlspol_result_free(r);
        lat[k] = now_s() - s;
    }
    report("tlspol_resolve_cached", lat, rounds, now_s() - t0);
    printf("cache hits %llu\n", (unsigned long long)tlspol_ctx_stat(
               ctx, TLSPOL_STAT_CACHE_HITS));
    free(lat);
    tlspol_ctx_free(ctx);
    return 0;
}

/* bench_mem - RSS growth per cached (negative) result */
static int
bench_mem(int argc, char **argv)
{
    tlspol_ctx *ctx = net_ctx();
    size_t n = 10000, conc = 64, started = 0, done = 0;
    const char *pattern = "nx{}.test";
    size_t heap0, heap1;
    long rss0, rss1;
    double t0;
    int c;

    while ((c = getopt(argc, argv, "n:c:A")) != -1) {
        if (c == 'A' && ctx != NULL)
            tlspol_ctx_set_dnssec_mode(ctx, TLSPOL_DNSSEC_TRUST_AD);
        else if (c == 'n')
            n = num(optarg);
        else if (c == 'c')
            conc = num(optarg);
        else
            return 2;
    }
    if (optind < argc)
        pattern = argv[optind];
    if (ctx == NULL || n == 0 || conc == 0)
        return 2;
    /* one warm-up so that fixed costs are not counted per entry */
    tlspol_resolve(ctx, "enforce.test", count_cb, &done, NULL);
    drain(ctx, &done, 1);
    done = 0;
    rss0 = rss_kib();
    heap0 = mallinfo2().uordblks;
    t0 = now_s();
    while (done < n) {
        while (started < n && started - done < conc) {
            char name[300];

            tlspol_resolve(ctx, expand(pattern, started, name, sizeof(name)),
                           count_cb, &done, NULL);
            started++;
        }
        {
            struct pollfd p = { .fd = tlspol_ctx_get_fd(ctx),
                                .events = POLLIN };

            poll(&p, 1, 1000);
            tlspol_ctx_dispatch(ctx);
        }
    }
    rss1 = rss_kib();
    heap1 = mallinfo2().uordblks;
    printf("%zu distinct lookups (%s) in %.1f s; RSS %ld KiB -> %ld KiB: "
           "%.0f bytes per cached result (%.0f of them allocated)\n", n,
           pattern, now_s() - t0, rss0, rss1,
           (double)(rss1 - rss0) * 1024.0 / (double)n,
           ((double)heap1 - (double)heap0) / (double)n);
    tlspol_ctx_free(ctx);
    return 0;
}

/* status_kib - the "NAME: N kB" field of /proc/self/status, or -1 */
static long
status_kib(const char *name)
{
    char line[256];
    size_t n = strlen(name);
    long v = -1;
    FILE *fp = fopen("/proc/self/status", "r");

    if (fp == NULL)
        return -1;
    while (fgets(line, sizeof(line), fp) != NULL) {
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    }
    fclose(fp);
    return v;
}

static void
idle_line(const char *what)
{
    printf("%-40s RSS %6ld KiB (files %6ld, anonymous %5ld)\n", what,
           status_kib("VmRSS"), status_kib("RssFile"), status_kib("RssAnon"));
}

#define MAPS_MAX 256

/* top_mappings - the k files (or anonymous memory) holding most RSS */
static void
top_mappings(size_t k)
{
    static struct { char name[160]; long kib; } m[MAPS_MAX];
    char line[512], cur[160] = "[anonymous]";
    size_t n = 0, i, j;
    long kib;
    FILE *fp = fopen("/proc/self/smaps", "r");

    if (fp == NULL)
        return;
    while (fgets(line, sizeof(line), fp) != NULL) {
        char *p = line;
        int f;

        if (strncmp(line, "Rss:", 4) == 0) {
            kib = strtol(line + 4, NULL, 10);
            if (kib <= 0)
                continue;
        } else {
            /* "lo-hi perms offset dev inode [path]": a new mapping */
            strtoul(line, &p, 16);
            if (p == line || *p != '-')
                continue;
            for (f = 0; f < 5; f++) {
                p += strcspn(p, " \t\n");
                p += strspn(p, " \t");
            }
            p[strcspn(p, "\n")] = '\0';
            snprintf(cur, sizeof(cur), "%s", *p ? p : "[anonymous]");
            continue;
        }
        for (i = 0; i < n && strcmp(m[i].name, cur) != 0; i++)
            ;
        if (i == n) {
            if (n == MAPS_MAX)
                continue;
            snprintf(m[n].name, sizeof(m[n].name), "%s", cur);
            m[n++].kib = 0;
        }
        m[i].kib += kib;
    }
    fclose(fp);
    for (i = 0; i < k && i < n; i++) { /* partial selection sort */
        size_t best = i;

        for (j = i + 1; j < n; j++)
            if (m[j].kib > m[best].kib)
                best = j;
        if (best != i) {
            char name[160];
            long t = m[i].kib;

            memcpy(name, m[i].name, sizeof(name));
            memcpy(m[i].name, m[best].name, sizeof(name));
            memcpy(m[best].name, name, sizeof(name));
            m[i].kib = m[best].kib;
            m[best].kib = t;
        }
        printf("  %6ld KiB  %s\n", m[i].kib, m[i].name);
    }
}

/* bench_idle - where the RSS of an idle process linking libtlspol is */
static int
bench_idle(int argc, char **argv)
{
    tlspol_ctx *ctx;
    size_t done = 0;
    int i;

    idle_line("main() entered (libraries loaded)");
    if ((ctx = net_ctx()) == NULL)
        return 1;
    idle_line("tlspol_ctx_new");
    if (tlspol_ctx_open(ctx) != TLSPOL_OK) {
        fprintf(stderr, "bench idle: %s\n", tlspol_ctx_errmsg(ctx));
        return 1;
    }
    idle_line("tlspol_ctx_open");
    for (i = 1; i < argc; i++) {
        char what[80];

        tlspol_resolve(ctx, argv[i], count_cb, &done, NULL);
        drain(ctx, &done, (size_t)i);
        snprintf(what, sizeof(what), "after a lookup of %.50s", argv[i]);
        idle_line(what);
    }
    printf("largest mappings:\n");
    top_mappings(12);
    tlspol_ctx_free(ctx);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "parse") == 0) {
        bench_parse();
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "resolve") == 0)
        return bench_resolve(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "cached") == 0)
        return bench_cached(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "mem") == 0)
        return bench_mem(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "idle") == 0)
        return bench_idle(argc - 1, argv + 1);
    fprintf(stderr, "usage: bench parse | bench resolve [-n N] [-c C] "
            "[-t MS] [-A] DOMAIN... | bench cached [-n N] DOMAIN... | "
            "bench mem [-n N] [-c C] [-A] [PATTERN] | bench idle "
            "[DOMAIN...]\n");
    return 2;
}
