/*
 * tlspol-query - resolve the outbound SMTP TLS policy of domains from the
 * command line (sync API).  See tlspol-query(1).
 *
 * Exit codes: 0 every domain resolved (whatever the verdict); 1 at least
 * one domain's verdict is TEMPFAIL; 2 usage error or invalid domain;
 * 3 setup or runtime error (bad trust anchor, out of memory, ...);
 * 4 the resolver self-test (--check-resolver) failed; 5 with --connect,
 * a reachable MX host does not satisfy the verdict.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtp_probe.h"
#include "cli.h"
#include "tlspol/tlspol.h"

#define EX_OK 0
#define EX_TEMPFAIL 1
#define EX_USAGE 2
#define EX_SOFTWARE 3
#define EX_DNSSEC 4
#define EX_PEER 5

enum { OUT_LINE, OUT_JSON, OUT_EXPLAIN, OUT_POSTFIX };

static const char *progname = "tlspol-query";
static int verbosity = -1; /* -1 quiet; else max log level */

static void
usage(FILE *fp)
{
    fprintf(fp,
"Usage: %s [options] DOMAIN...\n"
"       %s --check-resolver [options] [DOMAIN...]\n"
"Resolve the outbound SMTP TLS policy (MTA-STS, DANE) of each DOMAIN.\n"
"\n"
"Output (default: one line per domain: DOMAIN VERDICT TLS REASON):\n"
"  -j, --json             one JSON object per domain (one per line)\n"
"  -e, --explain          every lookup made, its outcome, and the rule\n"
"  -p, --postfix          the Postfix socketmap reply: DOMAIN<TAB>REPLY\n"
"      --postfix-compat X.Y   Postfix version for --postfix (default 3.9;\n"
"                         3.10+ adds TLSRPT attributes)\n"
"      --connect          also connect to each MX host (port 25), EHLO,\n"
"                         STARTTLS, and check its certificate against\n"
"                         the verdict\n"
"      --port N           port for --connect (default 25)\n"
"\n"
"Options:\n"
"  -f, --config FILE           configuration (tlspol.yaml(5)); options\n"
"                              given here override it\n"
"      --preload FILE          add a preload list (STARTTLS-Everywhere\n"
"                              JSON; repeatable, later ones win)\n"
"  -r, --resolver ADDR[@PORT]  DNS resolver to use (repeatable;\n"
"                              default: the system's, /etc/resolv.conf)\n"
"  -a, --trust-anchor FILE     DNSSEC trust anchor, DS or DNSKEY records\n"
"                              (default: /usr/share/dns/root.key)\n"
"  -c, --ca-file FILE          CA bundle for HTTPS policy hosts\n"
"                              (default: the system store)\n"
"      --ca-path DIR           hashed CA directory, as --ca-file\n"
"      --cache-file FILE       keep MTA-STS policies in this SQLite file\n"
"                              (survives restarts; default: memory)\n"
"      --shared-store URL      share MTA-STS policies with other MTAs in\n"
"                              Redis: redis://IP[:PORT][/DB] or\n"
"                              unix:/PATH[?db=N]\n"
"      --export-preload        after resolving, print the cached MTA-STS\n"
"                              policies as a preload list (JSON)\n"
"      --trust-ad              trust the resolver's AD bit instead of\n"
"                              validating DNSSEC here (only for a\n"
"                              validating resolver on loopback)\n"
"      --check-resolver        first test that the resolver path delivers\n"
"                              validatable DNSSEC; print the report\n"
"      --bogus-name NAME       with --check-resolver: a name with broken\n"
"                              signatures that must fail validation\n"
"  -t, --timeout SECONDS       bound on each DNS query and each policy\n"
"                              fetch (default 30; decimals allowed)\n"
"  -v, --verbose               log to stderr (repeat for debug)\n"
"  -h, --help                  this text\n"
"  -V, --version               print the version\n"
"\n"
"Exit status: 0 all resolved; 1 some verdict is TEMPFAIL (defer);\n"
"2 usage error or invalid domain; 3 setup or runtime error;\n"
"4 resolver self-test failed (DANE unavailable); 5 --connect found an\n"
"MX host that does not satisfy the verdict.\n",
            progname, progname);
}

static void
log_stderr(tlspol_log_level lvl, const char *id, const char *msg, void *ud)
{
    static const char *const names[] = { "error", "warning", "info",
                                         "debug" };

    (void)ud;
    fprintf(stderr, "%s: %s: %s [%s]\n", progname,
            names[lvl <= TLSPOL_LOG_DEBUG ? lvl : TLSPOL_LOG_DEBUG], msg,
            id);
}

/* print_line - DOMAIN VERDICT must|may|defer REASON */
static void
print_line(const tlspol_result *r)
{
    static const char *const tls[] = { "defer", "may", "must" };

    printf("%s %s %s %s\n", tlspol_result_domain(r),
           tlspol_verdict_name(tlspol_result_verdict(r)),
           tls[tlspol_result_tls_required(r) + 1], tlspol_result_reason(r));
}

/* print_explain - a readable account of the whole resolution */
static void
print_explain(const tlspol_result *r)
{
    size_t i, n;
    int64_t exp = tlspol_result_expires(r);

    printf("%s\n", tlspol_result_domain(r));
    printf("  verdict:  %s (TLS %s)\n",
           tlspol_verdict_name(tlspol_result_verdict(r)),
           tlspol_result_tls_required(r) > 0 ? "required"
           : tlspol_result_tls_required(r) == 0 ? "opportunistic"
                                                : "-- defer delivery");
    printf("  reason:   %s\n", tlspol_result_reason(r));
    printf("  source:   %s\n", tlspol_source_name(tlspol_result_source(r)));
    if (tlspol_result_sts_mode(r) != TLSPOL_STS_MODE_ABSENT) {
        char when[32] = "-";
        time_t t = (time_t)exp;
        struct tm tm;

        if (gmtime_r(&t, &tm) != NULL)
            strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("  mta-sts:  mode %s, id %s, max_age %u, expires %s\n",
               tlspol_sts_mode_name(tlspol_result_sts_mode(r)),
               tlspol_result_sts_id(r), tlspol_result_sts_max_age(r), when);
        n = tlspol_result_mx_pattern_count(r);
        for (i = 0; i < n; i++)
            printf("            mx %s\n", tlspol_result_mx_pattern(r, i));
    }
    printf("  MX:       DNSSEC %s%s\n",
           tlspol_dnssec_name(tlspol_result_mx_dnssec(r)),
           tlspol_result_dane_available(r) ? ""
                                           : "; DANE unavailable");
    n = tlspol_result_host_count(r);
    printf("  hosts:%s\n", n ? "" : "    (none)");
    for (i = 0; i < n; i++) {
        int m = tlspol_result_host_sts_match(r, i);
        size_t j, nt = tlspol_result_host_tlsa_count(r, i);
        const char *tn = tlspol_result_host_tlsa_name(r, i);

        printf("    %-5u %s%s\n", tlspol_result_host_preference(r, i),
               tlspol_result_host_name(r, i),
               m < 0 ? "" : m ? "  (matches policy)"
                              : "  (does NOT match policy)");
        printf("          DANE %s: %s\n",
               tlspol_host_dane_name(tlspol_result_host_dane(r, i)),
               tlspol_result_host_note(r, i));
        printf("          address DNSSEC %s",
               tlspol_dnssec_name(tlspol_result_host_address_dnssec(r, i)));
        if (tn != NULL)
            printf(", TLSA %s DNSSEC %s", tn,
                   tlspol_dnssec_name(tlspol_result_host_tlsa_dnssec(r, i)));
        printf("\n");
        for (j = 0; j < nt; j++)
            printf("          TLSA %s\n", tlspol_result_host_tlsa(r, i, j));
    }
    printf("  lookups:\n");
    n = tlspol_result_trace_count(r);
    for (i = 0; i < n; i++)
        printf("    %s\n", tlspol_result_trace(r, i));
}

/* parse_version - "3.10" -> 310; 0 on error */
static unsigned int
parse_version(const char *s)
{
    unsigned int maj, min = 0, digits = 0;

    if (s[0] < '2' || s[0] > '9' || s[1] != '.')
        return 0;
    maj = (unsigned int)(s[0] - '0');
    for (s += 2; *s >= '0' && *s <= '9' && digits < 2; s++, digits++)
        min = min * 10 + (unsigned int)(*s - '0');
    return digits > 0 && *s == '\0' ? maj * 100 + min : 0;
}

/* parse_port - 1..65535 or 0 */
static unsigned int
parse_port(const char *s)
{
    unsigned int v = 0, digits = 0;

    for (; *s >= '0' && *s <= '9' && digits < 6; s++, digits++)
        v = v * 10 + (unsigned int)(*s - '0');
    return digits > 0 && *s == '\0' && v > 0 && v <= 65535 ? v : 0;
}

/* probe_hosts - --connect: every MX host, first reachable address;
 * returns 1 if a reachable host did not satisfy the verdict */
static int
probe_hosts(tlspol_ctx *ctx, const tlspol_result *r, unsigned int port,
            unsigned int timeout_ms)
{
    size_t i, j, n = tlspol_result_host_count(r);
    int bad = 0;

    printf("%s: connecting to %zu MX host%s (verdict %s)\n",
           tlspol_result_domain(r), n, n == 1 ? "" : "s",
           tlspol_verdict_name(tlspol_result_verdict(r)));
    for (i = 0; i < n; i++) {
        const char *host = tlspol_result_host_name(r, i);
        size_t na = tlspol_result_host_address_count(r, i);
        struct smtp_probe p;
        int reached = 0;

        memset(&p, 0, sizeof(p));
        if (na == 0)
            snprintf(p.why, sizeof(p.why), "no address known (DNSSEC "
                     "unavailable, or none published)");
        for (j = 0; j < na && !reached; j++)
            reached = smtp_probe(ctx, r, i, tlspol_result_host_address(r, i,
                                                                       j),
                                 port, timeout_ms, &p) == 0;
        if (!reached) {
            printf("  %s: unreachable: %s\n", host, p.why);
            continue;
        }
        printf("  %s [%s]:%u: %s", host, p.addr, port,
               p.starttls ? "STARTTLS" : "no STARTTLS");
        if (p.tls)
            printf(", %s, %s, subject %s", p.version, p.cipher,
                   p.subject[0] ? p.subject : "(none)");
        printf("\n    %s: %s\n", p.satisfied ? "satisfies the policy"
                                             : "does NOT satisfy the policy",
               p.why);
        bad |= !p.satisfied;
    }
    return bad;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "explain", no_argument, NULL, 'e' },
        { "resolver", required_argument, NULL, 'r' },
        { "trust-anchor", required_argument, NULL, 'a' },
        { "ca-file", required_argument, NULL, 'c' },
        { "ca-path", required_argument, NULL, 'C' },
        { "trust-ad", no_argument, NULL, 'D' },
        { "check-resolver", no_argument, NULL, 'K' },
        { "bogus-name", required_argument, NULL, 'B' },
        { "config", required_argument, NULL, 'f' },
        { "preload", required_argument, NULL, 'P' },
        { "postfix", no_argument, NULL, 'p' },
        { "postfix-compat", required_argument, NULL, 'X' },
        { "connect", no_argument, NULL, 'N' },
        { "port", required_argument, NULL, 'O' },
        { "cache-file", required_argument, NULL, 'F' },
        { "shared-store", required_argument, NULL, 'S' },
        { "export-preload", no_argument, NULL, 'E' },
        { "timeout", required_argument, NULL, 't' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *ta = NULL, *ca = NULL, *capath = NULL, *bogus = NULL;
    const char *cachefile = NULL, *shared = NULL;
    int trust_ad = 0, check = 0, connect = 0, export = 0;
    const char *config = NULL, *preload[16];
    size_t n_preload = 0;
    unsigned int compat = 0, port = 25;
    char *resolvers = NULL;
    unsigned int timeout = 0;
    int out = OUT_LINE, c, i, rc = EX_OK;
    tlspol_ctx *ctx = NULL;
    tlspol_status st;

    while ((c = getopt_long(argc, argv, "jepf:r:a:c:t:vhV", opts, NULL)) !=
           -1) {
        switch (c) {
        case 'j': out = OUT_JSON; break;
        case 'e': out = OUT_EXPLAIN; break;
        case 'r':
            if (cli_add_resolver(&resolvers, optarg) != 0) {
                fprintf(stderr, "%s: out of memory\n", progname);
                rc = EX_SOFTWARE;
                goto out;
            }
            break;
        case 'a': ta = optarg; break;
        case 'c': ca = optarg; break;
        case 'C': capath = optarg; break;
        case 'D': trust_ad = 1; break;
        case 'F': cachefile = optarg; break;
        case 'S': shared = optarg; break;
        case 'E': export = 1; break;
        case 'K': check = 1; break;
        case 'B': bogus = optarg; break;
        case 'f': config = optarg; break;
        case 'p': out = OUT_POSTFIX; break;
        case 'N': connect = 1; break;
        case 'P':
            if (n_preload == sizeof(preload) / sizeof(preload[0])) {
                fprintf(stderr, "%s: at most 16 --preload files\n",
                        progname);
                rc = EX_USAGE;
                goto out;
            }
            preload[n_preload++] = optarg;
            break;
        case 'X':
            if ((compat = parse_version(optarg)) == 0) {
                fprintf(stderr, "%s: --postfix-compat: \"%s\" is not "
                        "MAJOR.MINOR (e.g. 3.10)\n", progname, optarg);
                rc = EX_USAGE;
                goto out;
            }
            break;
        case 'O':
            if ((port = parse_port(optarg)) == 0) {
                fprintf(stderr, "%s: --port: \"%s\" is not a port "
                        "number\n", progname, optarg);
                rc = EX_USAGE;
                goto out;
            }
            break;
        case 't':
            if ((timeout = cli_parse_timeout(optarg)) == 0) {
                fprintf(stderr, "%s: --timeout: \"%s\" is not a number of "
                        "seconds between 0.1 and 600\n", progname, optarg);
                rc = EX_USAGE;
                goto out;
            }
            break;
        case 'v': verbosity = verbosity < 0 ? TLSPOL_LOG_INFO
                                            : TLSPOL_LOG_DEBUG; break;
        case 'h': usage(stdout); goto out;
        case 'V': printf("tlspol-query %s\n", tlspol_version());
            goto out;
        default: usage(stderr); rc = EX_USAGE; goto out;
        }
    }
    if (optind >= argc && !check && !export) {
        fprintf(stderr, "%s: no DOMAIN given (try --help)\n", progname);
        rc = EX_USAGE;
        goto out;
    }
    if ((st = tlspol_ctx_new(&ctx)) != TLSPOL_OK) {
        fprintf(stderr, "%s: %s\n", progname, tlspol_strerror(st));
        free(resolvers);
        return EX_SOFTWARE;
    }
    /* warnings (unknown config keys, expired lists) always reach stderr */
    tlspol_ctx_set_log_fn(ctx, log_stderr, NULL,
                          verbosity >= 0 ? (tlspol_log_level)verbosity
                                         : TLSPOL_LOG_WARN);
    if (config != NULL &&
        (st = tlspol_ctx_load_config(ctx, config)) != TLSPOL_OK) {
        fprintf(stderr, "%s: %s\n", progname, tlspol_ctx_errmsg(ctx));
        rc = st == TLSPOL_ERR_IO || st == TLSPOL_ERR_INVAL ? EX_USAGE
                                                           : EX_SOFTWARE;
        goto out;
    }
    if (config != NULL && verbosity < 0) {
        int level = -1;

        /* the file's log level, unless -v; always to stderr */
        tlspol_ctx_config_log(ctx, &level, NULL);
        if (level >= 0)
            tlspol_ctx_set_log_fn(ctx, log_stderr, NULL,
                                  (tlspol_log_level)level);
    }
    for (size_t k = 0; k < n_preload; k++)
        if ((st = tlspol_ctx_add_preload(ctx, preload[k])) != TLSPOL_OK) {
            fprintf(stderr, "%s: %s\n", progname, tlspol_ctx_errmsg(ctx));
            rc = EX_USAGE;
            goto out;
        }
    if ((resolvers && (st = tlspol_ctx_set_resolvers(ctx, resolvers))) ||
        (ta && (st = tlspol_ctx_set_trust_anchor_file(ctx, ta))) ||
        (ca && (st = tlspol_ctx_set_ca_file(ctx, ca))) ||
        (capath && (st = tlspol_ctx_set_ca_path(ctx, capath))) ||
        (cachefile && (st = tlspol_ctx_set_cache_file(ctx, cachefile))) ||
        (shared && (st = tlspol_ctx_set_shared_store(ctx, shared))) ||
        (timeout && (st = tlspol_ctx_set_timeout(ctx, timeout))) ||
        (trust_ad && (st = tlspol_ctx_set_dnssec_mode(
                          ctx, TLSPOL_DNSSEC_TRUST_AD)))) {
        fprintf(stderr, "%s: %s\n", progname, tlspol_ctx_errmsg(ctx));
        rc = EX_USAGE;
        goto out;
    }
    if (check) {
        const char *report = "";

        st = tlspol_ctx_check_resolver(ctx, bogus, &report);
        printf("resolver self-test:\n%s", report);
        if (st == TLSPOL_ERR_DNSSEC) {
            printf("result: DNSSEC does NOT work on this resolver path: "
                   "DANE is unavailable\n");
            rc = EX_DNSSEC;
        } else if (st != TLSPOL_OK) {
            fprintf(stderr, "%s: %s: %s\n", progname, tlspol_strerror(st),
                    tlspol_ctx_errmsg(ctx));
            rc = st == TLSPOL_ERR_INVAL ? EX_USAGE : EX_SOFTWARE;
            goto out;
        } else {
            printf("result: DNSSEC works\n");
        }
        fflush(stdout);
    }
    for (i = optind; i < argc; i++) {
        tlspol_result *r = NULL;

        st = tlspol_resolve_sync(ctx, argv[i], &r);
        if (st == TLSPOL_ERR_INVAL) {
            fprintf(stderr, "%s: %s: %s\n", progname, argv[i],
                    tlspol_ctx_errmsg(ctx));
            if (rc == EX_OK || rc == EX_TEMPFAIL || rc == EX_DNSSEC)
                rc = EX_USAGE;
            continue;
        }
        if (st != TLSPOL_OK) {
            fprintf(stderr, "%s: %s: %s: %s\n", progname, argv[i],
                    tlspol_strerror(st), tlspol_ctx_errmsg(ctx));
            rc = EX_SOFTWARE;
            break;
        }
        if (out == OUT_JSON) {
            const char *js = tlspol_result_json(r);

            if (js == NULL) {
                fprintf(stderr, "%s: out of memory\n", progname);
                rc = EX_SOFTWARE;
            } else {
                printf("%s\n", js);
            }
        } else if (out == OUT_EXPLAIN) {
            print_explain(r);
        } else if (out == OUT_POSTFIX) {
            const char *pf = tlspol_result_postfix_policy(r, compat);

            printf("%s\t%s\n", tlspol_result_domain(r), pf ? pf : "TEMP "
                   "out of memory");
        } else {
            print_line(r);
        }
        if (tlspol_result_verdict(r) == TLSPOL_VERDICT_TEMPFAIL &&
            rc == EX_OK)
            rc = EX_TEMPFAIL;
        if (connect && probe_hosts(ctx, r, port, timeout ? timeout : 10000)
            && rc == EX_OK)
            rc = EX_PEER;
        tlspol_result_free(r);
        fflush(stdout);
    }
    if (export && rc != EX_USAGE && rc != EX_SOFTWARE) {
        const char *js = tlspol_ctx_export_preload(ctx);

        if (js == NULL) {
            fprintf(stderr, "%s: %s\n", progname, tlspol_ctx_errmsg(ctx));
            rc = EX_SOFTWARE;
        } else {
            fputs(js, stdout);
        }
    }
out:
    tlspol_ctx_free(ctx);
    free(resolvers);
    return rc;
}
