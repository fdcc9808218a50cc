/*
 * test_config.c - white-box tests of config.c: every key of tlspol.yaml(5)
 * and its defaults, every error path with its exact message ("FNAME: line
 * N: key.path: what"), unknown keys as warnings, the server: section
 * (kept as text for tlspol-socketmapd), duplicates, refused YAML features (anchors, aliases, tags,
 * several documents), the nesting and size limits, the sorted domains
 * table and the fault-injection hook over every allocation.
 *
 * SPDX-License-Identifier: MIT
 */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "common.h"
#include "config.h"
#include "../leakcheck.h"
#include "tlspol/tlspol.h"

/* A realistic file: every key, list and mapping forms, test-network names. */
static const char full[] =
    "# tlspol.yaml for the test network\n"
    "resolver:\n"
    "  - 127.0.0.1\n"
    "  - \"::1@5353\"\n"
    "trust_anchor: /usr/share/dns/root.key\n"
    "dnssec: trust-ad\n"
    "ca_file: /etc/tlspol/ca.pem\n"
    "ca_path: /etc/ssl/certs\n"
    "timeout: 2.5\n"
    "shared_store: \"redis://:pw@127.0.0.1:6380/1\"\n"
    "preload: [/var/lib/tlspol/a.json, /var/lib/tlspol/b.json]\n"
    "postfix_compat: \"3.10\"\n"
    "log: {level: debug, target: stderr}\n"
    "failure:\n"
    "  mode: opportunistic\n"
    "  after: 3600\n"
    "server:\n"
    "  listen: [unix:/run/tlspol.sock, \"inet:127.0.0.1:10026\"]\n"
    "  socket_mode: \"0660\"\n"
    "domains:\n"
    "  local-secure.test:\n"
    "    policy: secure\n"
    "    match: [mx1.local-secure.test, \"*.MX.local-secure.test\"]\n"
    "    reason: \"partner agreement\"\n"
    "  enforce.test: {policy: may, reason: \"weakens on purpose\"}\n"
    "  dane-bogus.test:\n"
    "    failure: {mode: opportunistic, after: 0}\n"
    "  b\xc3\xbc" "cher.test.:\n"
    "    policy: dane-only\n"
    "    failure: {mode: defer}\n";

/* parse_n - parse n bytes of s as "t.yaml" */
static int
parse_n(const char *s, size_t n, struct tp_config *c, struct tp_err *e)
{
    return tp_config_parse((const uint8_t *)s, n, "t.yaml", c, e);
}

/* cfg_ok - s must parse; the caller frees *c */
static void
cfg_ok(const char *s, struct tp_config *c)
{
    struct tp_err e = {""};
    int rc = parse_n(s, strlen(s), c, &e);

    cr_assert_eq(rc, TP_OK, "rc %d (%s) for \"%s\"", rc, e.msg, s);
}

/* assert_empty - *c is the configuration of an empty file */
static void
assert_empty(const struct tp_config *c)
{
    cr_assert_null(c->resolvers);
    cr_assert_null(c->trust_anchor);
    cr_assert_eq(c->dnssec_trust_ad, -1);
    cr_assert_null(c->ca_file);
    cr_assert_null(c->ca_path);
    cr_assert_eq(c->timeout_ms, 0);
    cr_assert_eq(c->n_preload, 0);
    cr_assert_null(c->preload);
    cr_assert_eq(c->postfix_compat, 0);
    cr_assert_eq(c->log_level, -1);
    cr_assert_eq(c->log_syslog, -1);
    cr_assert_eq(c->failure.set, 0);
    cr_assert_eq(c->n_domains, 0);
    cr_assert_null(c->domains);
    cr_assert_eq(c->n_warnings, 0);
    cr_assert_null(c->warnings);
}

/* cfg_fail_n - n bytes must fail with rc and exactly msg, *out empty */
static void
cfg_fail_n(const char *s, size_t n, int want_rc, const char *msg)
{
    struct tp_config c;
    struct tp_err e = {""};
    int rc;

    memset(&c, 0xa5, sizeof(c));
    rc = parse_n(s, n, &c, &e);
    cr_assert_eq(rc, want_rc, "rc %d (%s) for \"%.*s\"", rc, e.msg,
                 (int)(n > 200 ? 200 : n), s);
    cr_assert_str_eq(e.msg, msg);
    assert_empty(&c);
    tp_config_free(&c);
    ASSERT_NO_LEAKS();
}

#define CFG_FAIL(s, msg) cfg_fail_n((s), strlen(s), TP_ESYNTAX, (msg))

/* One rejected input: data inline (STYLE §7). */
struct err_case {
    char in[160];
    int rc;
    char msg[240];
};

#define CASES(a) cr_make_param_array(struct err_case, (a), \
                                     sizeof(a) / sizeof((a)[0]))
#define E(in, msg) {in, TP_ESYNTAX, "t.yaml: line " msg}

/* run_case - one table entry */
static void
run_case(const struct err_case *c)
{
    cfg_fail_n(c->in, strlen(c->in), c->rc, c->msg);
}

/* ---- empty input ---- */

Test(config, empty_input_is_an_empty_config)
{
    static const char *const inputs[] = {
        "", "\n", "# only a comment\n", "---\n", "---\n...\n", "~\n",
        "{}\n",
    };
    struct tp_config c;
    struct tp_err e = {""};
    size_t i;

    cr_assert_eq(tp_config_parse(NULL, 0, "t.yaml", &c, &e), TP_OK);
    assert_empty(&c);
    for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        cfg_ok(inputs[i], &c);
        assert_empty(&c);
        tp_config_free(&c);
    }
    ASSERT_NO_LEAKS();
}

/* ---- the full file ---- */

Test(config, parses_full_realistic_file)
{
    const struct tp_domain_conf *d;
    struct tp_config c;

    cfg_ok(full, &c);
    cr_assert_str_eq(c.resolvers, "127.0.0.1 ::1@5353");
    cr_assert_str_eq(c.trust_anchor, "/usr/share/dns/root.key");
    cr_assert_eq(c.dnssec_trust_ad, 1);
    cr_assert_str_eq(c.ca_file, "/etc/tlspol/ca.pem");
    cr_assert_str_eq(c.ca_path, "/etc/ssl/certs");
    cr_assert_eq(c.timeout_ms, 2500);
    cr_assert_str_eq(c.shared_store, "redis://:pw@127.0.0.1:6380/1");
    cr_assert_eq(c.n_preload, 2);
    cr_assert_str_eq(c.preload[0], "/var/lib/tlspol/a.json");
    cr_assert_str_eq(c.preload[1], "/var/lib/tlspol/b.json");
    cr_assert_eq(c.postfix_compat, 310);
    cr_assert_eq(c.log_level, TLSPOL_LOG_DEBUG);
    cr_assert_eq(c.log_syslog, 0);
    cr_assert_eq(c.failure.set, 1);
    cr_assert_eq(c.failure.opportunistic, 1);
    cr_assert_eq(c.failure.after, 3600);
    cr_assert_eq(c.n_warnings, 0, "%s", c.n_warnings ? c.warnings[0] : "");
    cr_assert_eq(c.n_server, 2);
    cr_assert_str_eq(c.server[0].key, "listen");
    cr_assert_eq(c.server[0].n, 2);
    cr_assert_str_eq(c.server[0].vals[0], "unix:/run/tlspol.sock");
    cr_assert_str_eq(c.server[0].vals[1], "inet:127.0.0.1:10026");
    cr_assert_eq(c.server[0].lines[1], 18);
    cr_assert_str_eq(c.server[1].key, "socket_mode");
    cr_assert_eq(c.server[1].n, 1);
    cr_assert_str_eq(c.server[1].vals[0], "0660");
    cr_assert_eq(c.server[1].lines[0], 19);
    cr_assert_eq(c.n_domains, 4);
    /* Sorted by normalized name. */
    cr_assert_str_eq(c.domains[0].domain, "dane-bogus.test");
    cr_assert_str_eq(c.domains[1].domain, "enforce.test");
    cr_assert_str_eq(c.domains[2].domain, "local-secure.test");
    cr_assert_str_eq(c.domains[3].domain, "xn--bcher-kva.test");

    d = tp_config_domain(&c, "local-secure.test");
    cr_assert_not_null(d);
    cr_assert_eq(d->level, TP_LEVEL_SECURE);
    cr_assert_eq(d->n_match, 2);
    cr_assert_str_eq(d->match[0], "mx1.local-secure.test");
    cr_assert_str_eq(d->match[1], "*.mx.local-secure.test");
    cr_assert_str_eq(d->reason, "partner agreement");
    cr_assert_eq(d->failure.set, 0);
    cr_assert_eq(d->line, 21);

    d = tp_config_domain(&c, "enforce.test");
    cr_assert_not_null(d);
    cr_assert_eq(d->level, TP_LEVEL_MAY);
    cr_assert_eq(d->n_match, 0);
    cr_assert_null(d->match);
    cr_assert_str_eq(d->reason, "weakens on purpose");
    cr_assert_eq(d->line, 25);

    d = tp_config_domain(&c, "dane-bogus.test");
    cr_assert_not_null(d);
    cr_assert_eq(d->level, TP_LEVEL_UNSET);
    cr_assert_null(d->reason);
    cr_assert_eq(d->failure.set, 1);
    cr_assert_eq(d->failure.opportunistic, 1);
    cr_assert_eq(d->failure.after, 0);

    d = tp_config_domain(&c, "xn--bcher-kva.test");
    cr_assert_not_null(d);
    cr_assert_eq(d->level, TP_LEVEL_DANE_ONLY);
    cr_assert_eq(d->failure.set, 1);
    cr_assert_eq(d->failure.opportunistic, 0);

    tp_config_free(&c);
    assert_empty(&c);
    ASSERT_NO_LEAKS();
}

Test(config, accepts_crlf_and_counts_lines)
{
    struct tp_config c;

    cfg_ok("timeout: 1\r\ndomains:\r\n  a.test:\r\n    policy: none\r\n",
           &c);
    cr_assert_eq(c.domains[0].line, 3);
    tp_config_free(&c);
    CFG_FAIL("timeout: 1\r\n\r\ndnssec: no\r\n",
             "t.yaml: line 3: dnssec: unknown value \"no\" (one of "
             "validate, trust-ad)");
}

Test(config, accepts_utf8_bom_and_yaml_directive)
{
    struct tp_config c;

    cfg_ok("\xef\xbb\xbftimeout: 3\n", &c);
    cr_assert_eq(c.timeout_ms, 3000);
    tp_config_free(&c);
    cfg_ok("%YAML 1.1\n---\ntimeout: 4\n...\n", &c);
    cr_assert_eq(c.timeout_ms, 4000);
    tp_config_free(&c);
    ASSERT_NO_LEAKS();
}

Test(config, null_file_name_and_null_err_are_allowed)
{
    struct tp_config c;
    struct tp_err e = {""};

    cr_assert_eq(tp_config_parse((const uint8_t *)"dnssec: x", 9, NULL, &c,
                                 &e), TP_ESYNTAX);
    cr_assert_str_eq(e.msg, "config: line 1: dnssec: unknown value \"x\" "
                     "(one of validate, trust-ad)");
    cr_assert_eq(tp_config_parse((const uint8_t *)"dnssec: x", 9, "t.yaml",
                                 &c, NULL), TP_ESYNTAX);
    assert_empty(&c);
}

/* ---- resolver ---- */

Test(config, resolver_single_address)
{
    struct tp_config c;

    cfg_ok("resolver: 192.0.2.53\n", &c);
    cr_assert_str_eq(c.resolvers, "192.0.2.53");
    tp_config_free(&c);
    cfg_ok("resolver: 2001:db8::53\n", &c);
    cr_assert_str_eq(c.resolvers, "2001:db8::53");
    tp_config_free(&c);
    ASSERT_NO_LEAKS();
}

Test(config, resolver_list_with_ports_space_separated)
{
    struct tp_config c;

    cfg_ok("resolver: [127.0.0.1@1, \"::1@65535\", \"::ffff:192.0.2.1\", "
           "10.0.0.1@053]\n", &c);
    cr_assert_str_eq(c.resolvers,
                     "127.0.0.1@1 ::1@65535 ::ffff:192.0.2.1 10.0.0.1@053");
    tp_config_free(&c);
    ASSERT_NO_LEAKS();
}

ParameterizedTestParameters(config, rejects_resolver)
{
    static struct err_case cases[] = {
        E("resolver: 1.2.3", "1: resolver: \"1.2.3\" is not an IPv4 or IPv6 "
          "address (ADDR or ADDR@PORT)"),
        E("resolver: localhost", "1: resolver: \"localhost\" is not an IPv4 "
          "or IPv6 address (ADDR or ADDR@PORT)"),
        E("resolver: \"[::1]:53\"", "1: resolver: \"[::1]:53\" is not an "
          "IPv4 or IPv6 address (ADDR or ADDR@PORT)"),
        E("resolver: \"fe80::1%eth0\"", "1: resolver: \"fe80::1%eth0\" is "
          "not an IPv4 or IPv6 address (ADDR or ADDR@PORT)"),
        E("resolver: \"@53\"", "1: resolver: \"@53\" is not an IPv4 or IPv6 "
          "address (ADDR or ADDR@PORT)"),
        E("resolver: \"1.2.3.4\\0\"", "1: resolver: \"1.2.3.4\\x00\" is not "
          "an IPv4 or IPv6 address (ADDR or ADDR@PORT)"),
        E("resolver: 1.2.3.4@0", "1: resolver: \"1.2.3.4@0\": port is not a "
          "number from 1 to 65535"),
        E("resolver: 1.2.3.4@65536", "1: resolver: \"1.2.3.4@65536\": port "
          "is not a number from 1 to 65535"),
        E("resolver: 1.2.3.4@", "1: resolver: \"1.2.3.4@\": port is not a "
          "number from 1 to 65535"),
        E("resolver: 1.2.3.4@+53", "1: resolver: \"1.2.3.4@+53\": port is "
          "not a number from 1 to 65535"),
        E("resolver: 1.2.3.4@000053", "1: resolver: \"1.2.3.4@000053\": port "
          "is not a number from 1 to 65535"),
        E("resolver:\n  - 127.0.0.1\n  - 10.0.0.300\n",
          "3: resolver: \"10.0.0.300\" is not an IPv4 or IPv6 address (ADDR "
          "or ADDR@PORT)"),
        E("resolver: []", "1: resolver: empty list"),
        E("resolver:", "1: resolver: empty value"),
        E("resolver: ~", "1: resolver: empty value"),
        E("resolver: [1.2.3.4, ~]", "1: resolver: empty list item"),
        E("resolver: {a: b}", "1: resolver: expected a value or a list, "
          "found a mapping"),
        E("resolver: [[1.2.3.4]]", "1: resolver: list item is a list, "
          "expected a single value"),
    };

    return CASES(cases);
}

ParameterizedTest(struct err_case *c, config, rejects_resolver)
{
    run_case(c);
}

/* ---- file names ---- */

Test(config, file_name_keys)
{
    struct tp_config c;

    cfg_ok("trust_anchor: /etc/unbound/root.key\nca_file: 'ca file.pem'\n"
           "ca_path: certs\n", &c);
    cr_assert_str_eq(c.trust_anchor, "/etc/unbound/root.key");
    cr_assert_str_eq(c.ca_file, "ca file.pem");
    cr_assert_str_eq(c.ca_path, "certs");
    tp_config_free(&c);
    ASSERT_NO_LEAKS();
}

Test(config, file_name_limit_is_path_max)
{
    size_t n = strlen("ca_file: ") + PATH_MAX + 1;
    char *s = malloc(n + 1);
    struct tp_config c;
    char msg[128];

    cr_assert_not_null(s);
    memcpy(s, "ca_file: ", 9);
    memset(s + 9, 'a', PATH_MAX - 1);
    s[9 + PATH_MAX - 1] = '\n';
    s[9 + PATH_MAX] = '\0';
    cfg_ok(s, &c);
    cr_assert_eq(strlen(c.ca_file), PATH_MAX - 1);
    tp_config_free(&c);
    s[9 + PATH_MAX - 1] = 'a';
    s[9 + PATH_MAX] = '\n';
    s[9 + PATH_MAX + 1] = '\0';
    snprintf(msg, sizeof(msg), "t.yaml: line 1: ca_file: longer than %d "
             "bytes", PATH_MAX - 1);
    CFG_FAIL(s, msg);
    free(s);
}

ParameterizedTestParameters(config, rejects_file_names)
{
    static struct err_case cases[] = {
        E("trust_anchor: \"\"", "1: trust_anchor: empty value"),
        E("trust_anchor:", "1: trust_anchor: empty value"),
        E("ca_file: [a.pem]", "1: ca_file: expected a single value, found "
          "a list"),
        E("ca_path: {a: b}", "1: ca_path: expected a single value, found a "
          "mapping"),
        E("ca_file: \"a\\tb\"", "1: ca_file: control character 0x09 at "
          "offset 1"),
        E("trust_anchor: \"a\\nb\"", "1: trust_anchor: control character "
          "0x0a at offset 1"),
        E("shared_store: redis://localhost", "1: shared_store: host: not "
          "an IP address (host names would need a blocking lookup)"),
        E("shared_store: unix:run/r.sock", "1: shared_store: unix: needs "
          "an absolute path shorter than 108 bytes"),
        E("shared_store: [unix:/a]", "1: shared_store: expected a single "
          "value, found a list"),
        E("preload: []", "1: preload: empty list"),
        E("preload: [a.json, \"\"]", "1: preload: empty value"),
        E("preload: [a.json, ~]", "1: preload: empty list item"),
        E("preload: {a: b}", "1: preload: expected a value or a list, found "
          "a mapping"),
    };

    return CASES(cases);
}

ParameterizedTest(struct err_case *c, config, rejects_file_names)
{
    run_case(c);
}

/* ---- preload ---- */

Test(config, preload_single_and_ordered_list)
{
    struct tp_config c;
    char buf[512];
    size_t i, o = 0;

    cfg_ok("preload: /var/lib/tlspol/policy.json\n", &c);
    cr_assert_eq(c.n_preload, 1);
    cr_assert_str_eq(c.preload[0], "/var/lib/tlspol/policy.json");
    tp_config_free(&c);
    /* More than one growth step of the array, order kept. */
    o += (size_t)snprintf(buf + o, sizeof(buf) - o, "preload:\n");
    for (i = 0; i < 20; i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "- p%zu.json\n", i);
    cfg_ok(buf, &c);
    cr_assert_eq(c.n_preload, 20);
    cr_assert_str_eq(c.preload[0], "p0.json");
    cr_assert_str_eq(c.preload[19], "p19.json");
    tp_config_free(&c);
    ASSERT_NO_LEAKS();
}

/* ---- dnssec ---- */

Test(config, dnssec_values)
{
    struct tp_config c;

    cfg_ok("dnssec: validate\n", &c);
    cr_assert_eq(c.dnssec_trust_ad, 0);
    tp_config_free(&c);
    cfg_ok("dnssec: trust-ad\n", &c);
    cr_assert_eq(c.dnssec_trust_ad, 1);
    tp_config_free(&c);
    CFG_FAIL("dnssec: Validate", "t.yaml: line 1: dnssec: unknown value "
             "\"Validate\" (one of validate, trust-ad)");
    CFG_FAIL("dnssec: [validate]", "t.yaml: line 1: dnssec: expected a "
             "single value, found a list");
}

/* ---- timeout ---- */

Test(config, timeout_values_in_ms)
{
    static const struct {
        char in[16];
        uint32_t ms;
    } ok[] = {
        {"30", 30000}, {"0.1", 100}, {"600", 600000}, {"2.5", 2500},
        {"1.25", 1250}, {"0.123", 123}, {"600.000", 600000}, {"007", 7000},
        {"'1.5'", 1500},
    };
    struct tp_config c;
    char buf[256];
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        snprintf(buf, sizeof(buf), "timeout: %s\n", ok[i].in);
        cfg_ok(buf, &c);
        cr_assert_eq(c.timeout_ms, ok[i].ms, "%s", ok[i].in);
        tp_config_free(&c);
    }
    ASSERT_NO_LEAKS();
}

#define NAN_MSG(v) "1: timeout: \"" v "\" is not a number of seconds " \
                   "(like 30 or 2.5)"

ParameterizedTestParameters(config, rejects_timeout)
{
    static struct err_case cases[] = {
        E("timeout: 0.09", "1: timeout: \"0.09\": not between 0.1 and 600 "
          "seconds"),
        E("timeout: 0", "1: timeout: \"0\": not between 0.1 and 600 "
          "seconds"),
        E("timeout: 600.001", "1: timeout: \"600.001\": not between 0.1 and "
          "600 seconds"),
        E("timeout: 9999999999", "1: timeout: \"9999999999\": not between "
          "0.1 and 600 seconds"),
        E("timeout: 1.2345", "1: timeout: \"1.2345\": more than 3 decimals"),
        E("timeout: abc", NAN_MSG("abc")),
        E("timeout: 1.", NAN_MSG("1.")),
        E("timeout: .5", NAN_MSG(".5")),
        E("timeout: -1", NAN_MSG("-1")),
        E("timeout: +1", NAN_MSG("+1")),
        E("timeout: 1e2", NAN_MSG("1e2")),
        E("timeout: 1,5", NAN_MSG("1,5")),
        E("timeout: 0x10", NAN_MSG("0x10")),
        E("timeout: 30s", NAN_MSG("30s")),
        E("timeout: \" 30\"", NAN_MSG(" 30")),
        E("timeout: 1.2.3", NAN_MSG("1.2.3")),
        E("timeout: 99999999999", NAN_MSG("99999999999")),
        E("timeout:", "1: timeout: empty value"),
        E("timeout: [1]", "1: timeout: expected a single value, found a "
          "list"),
    };

    return CASES(cases);
}

ParameterizedTest(struct err_case *c, config, rejects_timeout)
{
    run_case(c);
}

/* ---- postfix_compat ---- */

Test(config, postfix_compat_values)
{
    static const struct {
        char in[16];
        unsigned int v;
    } ok[] = {
        {"3.9", 309}, {"\"3.10\"", 310}, {"3.10", 310}, {"2.0", 200},
        {"9.99", 999}, {"'3.11'", 311},
    };
    struct tp_config c;
    char buf[256];
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        snprintf(buf, sizeof(buf), "postfix_compat: %s\n", ok[i].in);
        cfg_ok(buf, &c);
        cr_assert_eq(c.postfix_compat, ok[i].v, "%s", ok[i].in);
        tp_config_free(&c);
    }
    ASSERT_NO_LEAKS();
}

ParameterizedTestParameters(config, rejects_postfix_compat)
{
    static struct err_case cases[] = {
        E("postfix_compat: 3", "1: postfix_compat: \"3\" is not MAJOR.MINOR "
          "(like \"3.10\")"),
        E("postfix_compat: \"3.\"", "1: postfix_compat: \"3.\" is not "
          "MAJOR.MINOR (like \"3.10\")"),
        E("postfix_compat: .9", "1: postfix_compat: \".9\" is not "
          "MAJOR.MINOR (like \"3.10\")"),
        E("postfix_compat: 3.x", "1: postfix_compat: \"3.x\" is not "
          "MAJOR.MINOR (like \"3.10\")"),
        E("postfix_compat: 3.10.1", "1: postfix_compat: \"3.10.1\" is not "
          "MAJOR.MINOR (like \"3.10\")"),
        E("postfix_compat: 1.9", "1: postfix_compat: \"1.9\": not a Postfix "
          "version from 2.0 to 9.99"),
        E("postfix_compat: 10.0", "1: postfix_compat: \"10.0\": not a "
          "Postfix version from 2.0 to 9.99"),
        E("postfix_compat: 3.100", "1: postfix_compat: \"3.100\": not a "
          "Postfix version from 2.0 to 9.99"),
        E("postfix_compat: 3.09", "1: postfix_compat: \"3.09\": not a "
          "Postfix version from 2.0 to 9.99"),
        E("postfix_compat: [3.9]", "1: postfix_compat: expected a single "
          "value, found a list"),
    };

    return CASES(cases);
}

ParameterizedTest(struct err_case *c, config, rejects_postfix_compat)
{
    run_case(c);
}

/* ---- log ---- */

Test(config, log_levels_and_targets)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    static const int levels[] = {TLSPOL_LOG_ERROR, TLSPOL_LOG_WARN,
                                 TLSPOL_LOG_INFO, TLSPOL_LOG_DEBUG};
    struct tp_config c;
    char buf[64];
    size_t i;

    for (i = 0; i < 4; i++) {
        snprintf(buf, sizeof(buf), "log:\n  level: %s\n", names[i]);
        cfg_ok(buf, &c);
        cr_assert_eq(c.log_level, levels[i]);
        cr_assert_eq(c.log_syslog, -1);
        tp_config_free(&c);
    }
    cfg_ok("log: {target: syslog}\n", &c);
    cr_assert_eq(c.log_syslog, 1);
    cr_assert_eq(c.log_level, -1);
    tp_config_free(&c);
    cfg_ok("log: {target: stderr}\n", &c);
    cr_assert_eq(c.log_syslog, 0);
    tp_config_free(&c);
    cfg_ok("log:\n", &c);
    assert_empty(&c);
    tp_config_free(&c);
    ASSERT_NO_LEAKS();
}

ParameterizedTestParameters(config, rejects_log)
{
    static struct err_case cases[] = {
        E("log: info", "1: log: expected a mapping, found a single value"),
        E("log: [info]", "1: log: expected a mapping, found a list"),
        E("log: {level: verbose}", "1: log.level: unknown level \"verbose\" "
          "(one of error, warn, info, debug)"),
        E("log: {level: INFO}", "1: log.level: unknown level \"INFO\" (one "
          "of error, warn, info, debug)"),
        E("log: {level: }", "1: log.level: empty value"),
        E("log: {target: file}", "1: log.target: unknown target \"file\" "
          "(one of stderr, syslog)"),
        E("log:\n  level: info\n  level: warn\n", "3: log.level: duplicate "
          "key (first at line 2)"),
    };

    return CASES(cases);
}

ParameterizedTest(struct err_case *c, config, rejects_log)
{
    run_case(c);
}

/* ---- failure ---- */

Test(config, failure_modes)
{
    struct tp_config c;

    cfg_ok("failure: {mode: defer}\n", &c);
    cr_assert_eq(c.failure.set, 1);
    cr_assert_eq(c.failure.opportunistic, 0);
    cr_assert_eq(c.failure.after, 0);
    tp_config_free(&c);
    cfg_ok("failure:\n  mode: opportunistic\n  after: 31557600\n", &c);
    cr_assert_eq(c.failure.set, 1);
    cr_assert_eq(c.failure.opportunistic, 1);
    cr_assert_eq(c.failure.after, 31557600);
    tp_config_free(&c);
    cfg_ok("failure: {after: 0, mode: opportunistic}\n", &c);
    cr_assert_eq(c.failure.opportunistic, 1);
    cr_assert_eq(c.failure.after, 0);
    tp_config_free(&c);
    ASSERT_NO_LEAKS();
}

#define AFTER_MSG(v) "1: failure.after: \"" v "\" is not a whole number of " \
                     "seconds from 0 to 31557600"

ParameterizedTestParameters(config, rejects_failure)
{
    static struct err_case cases[] = {
        E("failure: {}", "1: failure: mode missing (defer or "
          "opportunistic)"),
        E("failure:", "1: failure: mode missing (defer or opportunistic)"),
        E("failure: {after: 10}", "1: failure: mode missing (defer or "
          "opportunistic)"),
        E("failure: defer", "1: failure: expected a mapping, found a single "
          "value"),
        E("failure: {mode: later}", "1: failure.mode: unknown mode \"later\" "
          "(one of defer, opportunistic)"),
        E("failure:\n  mode: opportunistic\n", "1: failure: mode "
          "opportunistic needs after (seconds)"),
        E("failure:\n  mode: defer\n  after: 10\n", "3: failure.after: only "
          "allowed with mode opportunistic"),
        E("failure: {mode: opportunistic, after: -1}", AFTER_MSG("-1")),
        E("failure: {mode: opportunistic, after: 31557601}",
          AFTER_MSG("31557601")),
        E("failure: {mode: opportunistic, after: 1.5}", AFTER_MSG("1.5")),
        E("failure: {mode: opportunistic, after: 1h}", AFTER_MSG("1h")),
        E("failure: {mode: opportunistic, after: 99999999999}",
          AFTER_MSG("99999999999")),
        E("failure: {mode: opportunistic, after: }", "1: failure.after: "
          "empty value"),
        E("failure: {mode: defer, mode: defer}", "1: failure.mode: duplicate "
          "key (first at line 1)"),
    };

    return CASES(cases);
}

ParameterizedTest(struct err_case *c, config, rejects_failure)
{
    run_case(c);
}

/* ---- domains ---- */

Test(config, domain_levels)
{
    static const enum tp_level lv[] = {
        TP_LEVEL_NONE, TP_LEVEL_MAY, TP_LEVEL_ENCRYPT, TP_LEVEL_DANE,
        TP_LEVEL_DANE_ONLY, TP_LEVEL_SECURE,
    };
    struct tp_config c;
    char buf[128];
    size_t i;

    for (i = 0; i < sizeof(lv) / sizeof(lv[0]); i++) {
        snprintf(buf, sizeof(buf), "domains:\n  a.test:\n    policy: %s\n",
                 tp_level_name(lv[i]));
        cfg_ok(buf, &c);
        cr_assert_eq(c.n_domains, 1);
        cr_assert_eq(c.domains[0].level, lv[i], "%s", buf);
        cr_assert_eq(c.domains[0].n_match, 0);
        cr_assert_eq(c.domains[0].failure.set, 0);
        tp_config_free(&c);
    }
    ASSERT_NO_LEAKS();
}

Test(config, level_names)
{
    cr_assert_str_eq(tp_level_name(TP_LEVEL_UNSET), "");
    cr_assert_str_eq(tp_level_name(TP_LEVEL_NONE), "none");
    cr_assert_str_eq(tp_level_name(TP_LEVEL_MAY), "may");
    cr_assert_str_eq(tp_level_name(TP_LEVEL_ENCRYPT), "encrypt");
    cr_assert_str_eq(tp_level_name(TP_LEVEL_DANE), "dane");
    cr_assert_str_eq(tp_level_name(TP_LEVEL_DANE_ONLY), "dane-only");
    cr_assert_str_eq(tp_level_name(TP_LEVEL_SECURE), "secure");
    cr_assert_str_eq(tp_level_name((enum tp_level)99), "");
}

Test(config, domain_keys_are_normalized)
{
    struct tp_config c;

    cfg_ok("domains:\n  Example.TEST.: {policy: may}\n"
           "  \"b\\u00fccher.test\": {policy: none}\n", &c);
    cr_assert_eq(c.n_domains, 2);
    cr_assert_str_eq(c.domains[0].domain, "example.test");
    cr_assert_str_eq(c.domains[1].domain, "xn--bcher-kva.test");
    cr_assert_not_null(tp_config_domain(&c, "example.test"));
    cr_assert_null(tp_config_domain(&c, "Example.TEST."));
    tp_config_free(&c);
    ASSERT_NO_LEAKS();
}

Test(config, secure_match_single_list_and_default)
{
    struct tp_config c;

    cfg_ok("domains: {a.test: {policy: secure, match: MX.A.test}}\n", &c);
    cr_assert_eq(c.domains[0].n_match, 1);
    cr_assert_str_eq(c.domains[0].match[0], "mx.a.test");
    tp_config_free(&c);
    /* Without match, secure uses the MX host names (tlspol.yaml(5)). */
    cfg_ok("domains: {a.test: {policy: secure}}\n", &c);
    cr_assert_eq(c.domains[0].n_match, 0);
    cr_assert_null(c.domains[0].match);
    tp_config_free(&c);
    ASSERT_NO_LEAKS();
}

Test(config, match_limit_is_sts_mx_max)
{
    char buf[4096];
    struct tp_config c;
    size_t i, o;
    char msg[128];

    o = (size_t)snprintf(buf, sizeof(buf), "domains:\n  a.test:\n"
                         "    policy: secure\n    match:\n");
    for (i = 0; i < TP_STS_MX_MAX; i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o,
                              "    - mx%zu.a.test\n", i);
    cfg_ok(buf, &c);
    cr_assert_eq(c.domains[0].n_match, TP_STS_MX_MAX);
    cr_assert_str_eq(c.domains[0].match[TP_STS_MX_MAX - 1], "mx63.a.test");
    tp_config_free(&c);
    snprintf(buf + o, sizeof(buf) - o, "    - one.more.test\n");
    snprintf(msg, sizeof(msg), "t.yaml: line %d: domains.a.test.match: more "
             "than %d patterns", 4 + TP_STS_MX_MAX + 1, TP_STS_MX_MAX);
    CFG_FAIL(buf, msg);
}

Test(config, reason_up_to_512_bytes)
{
    char buf[700];
    struct tp_config c;
    size_t o;

    o = (size_t)snprintf(buf, sizeof(buf), "domains: {a.test: {policy: "
                         "may, reason: \"");
    memset(buf + o, 'r', TP_REASON_MAX);
    snprintf(buf + o + TP_REASON_MAX, sizeof(buf) - o - TP_REASON_MAX,
             "\"}}\n");
    cfg_ok(buf, &c);
    cr_assert_eq(strlen(c.domains[0].reason), TP_REASON_MAX);
    tp_config_free(&c);
    buf[o + TP_REASON_MAX] = 'r';
    snprintf(buf + o + TP_REASON_MAX + 1, sizeof(buf) - o - TP_REASON_MAX - 1,
             "\"}}\n");
    CFG_FAIL(buf, "t.yaml: line 1: domains.a.test.reason: longer than 512 "
             "bytes");
}

Test(config, per_domain_failure)
{
    struct tp_config c;

    cfg_ok("failure: {mode: defer}\ndomains:\n  a.test:\n    failure:\n"
           "      mode: opportunistic\n      after: 600\n"
           "  b.test: {policy: dane, failure: {mode: defer}}\n", &c);
    cr_assert_eq(c.failure.opportunistic, 0);
    cr_assert_eq(c.domains[0].level, TP_LEVEL_UNSET);
    cr_assert_eq(c.domains[0].failure.set, 1);
    cr_assert_eq(c.domains[0].failure.opportunistic, 1);
    cr_assert_eq(c.domains[0].failure.after, 600);
    cr_assert_eq(c.domains[1].level, TP_LEVEL_DANE);
    cr_assert_eq(c.domains[1].failure.set, 1);
    cr_assert_eq(c.domains[1].failure.opportunistic, 0);
    tp_config_free(&c);
    ASSERT_NO_LEAKS();
}

Test(config, domains_sorted_and_found_by_bsearch)
{
    char *buf = malloc(64 * 1024);
    const struct tp_domain_conf *d;
    struct tp_config c;
    char name[32];
    size_t i, o;

    cr_assert_not_null(buf);
    o = (size_t)snprintf(buf, 64 * 1024, "domains:\n");
    for (i = 1000; i > 0; i--)
        o += (size_t)snprintf(buf + o, 64 * 1024 - o,
                              "  d%zu.test: {policy: encrypt}\n", i);
    cfg_ok(buf, &c);
    free(buf);
    cr_assert_eq(c.n_domains, 1000);
    for (i = 1; i < c.n_domains; i++)
        cr_assert_lt(strcmp(c.domains[i - 1].domain, c.domains[i].domain), 0);
    for (i = 1; i <= 1000; i++) {
        snprintf(name, sizeof(name), "d%zu.test", i);
        d = tp_config_domain(&c, name);
        cr_assert_not_null(d, "%s", name);
        cr_assert_str_eq(d->domain, name);
        cr_assert_eq(d->line, 1 + (1001 - i));
    }
    cr_assert_null(tp_config_domain(&c, "d0.test"));
    cr_assert_null(tp_config_domain(&c, "zzz.test"));
    cr_assert_null(tp_config_domain(&c, ""));
    cr_assert_null(tp_config_domain(&c, NULL));
    cr_assert_null(tp_config_domain(NULL, "d1.test"));
    tp_config_free(&c);
    cr_assert_null(tp_config_domain(&c, "d1.test"));
    ASSERT_NO_LEAKS();
}

Test(config, empty_domains_is_allowed)
{
    struct tp_config c;

    cfg_ok("domains:\n", &c);
    assert_empty(&c);
    tp_config_free(&c);
    cfg_ok("domains: {}\n", &c);
    assert_empty(&c);
    tp_config_free(&c);
    ASSERT_NO_LEAKS();
}

#define LEVEL_MSG(v) "3: domains.a.test.policy: unknown level \"" v "\" " \
                     "(one of none, may, encrypt, dane, dane-only, secure)"

ParameterizedTestParameters(config, rejects_domains)
{
    static struct err_case cases[] = {
        E("domains: [a.test]", "1: domains: expected a mapping, found a "
          "list"),
        E("domains: a.test", "1: domains: expected a mapping, found a "
          "single value"),
        E("domains: {a.test: secure}", "1: domains.a.test: expected a "
          "mapping, found a single value"),
        E("domains: {a.test: }", "1: domains.a.test: nothing to do (set "
          "policy or failure)"),
        E("domains:\n  a.test: {}\n", "2: domains.a.test: nothing to do "
          "(set policy or failure)"),
        E("domains:\n  a.test: {reason: x}\n", "2: domains.a.test: nothing "
          "to do (set policy or failure)"),
        E("domains: {.a.test: {policy: may}}", "1: domains..a.test: not a "
          "valid domain: leading dot (parent-domain lookup key)"),
        E("domains: {192.0.2.1: {policy: may}}", "1: domains.192.0.2.1: not "
          "a valid domain: IP address literal"),
        E("domains: {\"[a.test]\": {policy: may}}", "1: domains.[a.test]: "
          "not a valid domain: bracketed next hop"),
        E("domains: {\"a..test\": {policy: may}}", "1: domains.a..test: not "
          "a valid domain: empty label"),
        E("domains: {\"a_b.test\": {policy: may}}", "1: domains.a_b.test: "
          "not a valid domain: invalid character '_' at offset 1"),
        E("domains: {[a.test]: {policy: may}}", "1: domains: a key must be "
          "a single value, not a list"),
        E("domains:\n  a.test: {policy: may}\n  A.Test.: {policy: none}\n",
          "3: domains.A.Test.: duplicate domain a.test (first at line 2)"),
        E("domains:\n  a.test: {policy: may}\n  a.test: {policy: none}\n",
          "3: domains.a.test: duplicate key (first at line 2)"),
        E("domains:\n  a.test:\n    policy: secur\n", LEVEL_MSG("secur")),
        E("domains:\n  a.test:\n    policy: Secure\n", LEVEL_MSG("Secure")),
        E("domains:\n  a.test:\n    policy: dane_only\n",
          LEVEL_MSG("dane_only")),
        E("domains:\n  a.test:\n    policy: \"\"\n", LEVEL_MSG("")),
        E("domains:\n  a.test:\n    policy:\n", "3: domains.a.test.policy: "
          "empty value"),
        E("domains:\n  a.test:\n    policy: may\n    match: mx.a.test\n",
          "4: domains.a.test.match: only allowed with policy secure"),
        E("domains:\n  a.test:\n    match: mx.a.test\n    failure: {mode: "
          "defer}\n", "3: domains.a.test.match: only allowed with policy "
          "secure"),
        E("domains: {a.test: {policy: secure, match: \"mx..a.test\"}}",
          "1: domains.a.test.match: \"mx..a.test\" is not a valid MX "
          "pattern: empty label"),
        E("domains: {a.test: {policy: secure, match: \"*.\"}}",
          "1: domains.a.test.match: \"*.\" is not a valid MX pattern: "
          "wildcard without a domain"),
        E("domains: {a.test: {policy: secure, match: [a.test.]}}",
          "1: domains.a.test.match: \"a.test.\" is not a valid MX pattern: "
          "trailing dot"),
        E("domains: {a.test: {policy: secure, match: []}}",
          "1: domains.a.test.match: empty list"),
        E("domains: {a.test: {policy: may, reason: \"\"}}",
          "1: domains.a.test.reason: empty value"),
        E("domains: {a.test: {policy: may, reason: \"a\\nb\"}}",
          "1: domains.a.test.reason: control character 0x0a at offset 1"),
        E("domains: {a.test: {policy: may, reason: [a]}}",
          "1: domains.a.test.reason: expected a single value, found a list"),
        E("domains: {a.test: {policy: may, failure: {mode: opportunistic}}}",
          "1: domains.a.test.failure: mode opportunistic needs after "
          "(seconds)"),
        E("domains: {a.test: {failure: {mode: defer, after: 1}}}",
          "1: domains.a.test.failure.after: only allowed with mode "
          "opportunistic"),
        E("domains: {a.test: {policy: may, policy: none}}",
          "1: domains.a.test.policy: duplicate key (first at line 1)"),
    };

    return CASES(cases);
}

ParameterizedTest(struct err_case *c, config, rejects_domains)
{
    run_case(c);
}

Test(config, rejects_overlong_domain_key)
{
    char buf[1200];
    size_t o;

    /* An explicit key: libyaml limits implicit keys to 1024 characters. */
    o = (size_t)snprintf(buf, sizeof(buf), "domains:\n  ? ");
    memset(buf + o, 'a', 1100);
    snprintf(buf + o + 1100, sizeof(buf) - o - 1100, "\n  : {policy: may}\n");
    CFG_FAIL(buf, "t.yaml: line 2: domains.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...: not a valid domain: input "
             "longer than 1024 octets");
}

/* ---- YAML features refused, structure ---- */

ParameterizedTestParameters(config, rejects_yaml_features)
{
    static struct err_case cases[] = {
        E("log: &a {level: info}", "1: log: anchors are not allowed (&a)"),
        E("timeout: &t 30", "1: timeout: anchors are not allowed (&t)"),
        E("&k timeout: 30", "1: anchors are not allowed (&k)"),
        E("resolver: &r [127.0.0.1]", "1: resolver: anchors are not allowed "
          "(&r)"),
        E("failure: *common", "1: failure: aliases are not allowed "
          "(*common)"),
        E("server: {a: *x}", "1: server.a: aliases are not allowed (*x)"),
        E("unknown: [*x]", "1: unknown: aliases are not allowed (*x)"),
        E("log: !!map {level: info}", "1: log: tags are not allowed "
          "(\"tag:yaml.org,2002:map\")"),
        E("timeout: !!int 30", "1: timeout: tags are not allowed "
          "(\"tag:yaml.org,2002:int\")"),
        E("timeout: ! 30", "1: timeout: tags are not allowed (\"!\")"),
        E("resolver: !seq [127.0.0.1]", "1: resolver: tags are not allowed "
          "(\"!seq\")"),
        E("%TAG !e! tag:example.test,2000:\n---\ntimeout: 3\n",
          "1: %TAG directives are not allowed"),
        E("timeout: 5\n---\ntimeout: 6\n", "2: more than one YAML document"),
        E("---\ntimeout: 5\n...\n---\n", "4: more than one YAML document"),
        E("- timeout: 5\n", "1: the top level must be a mapping of keys, "
          "not a list"),
        E("timeout\n", "1: the top level must be a mapping of keys, not a "
          "single value"),
        E("timeout: 5\ntimeout: 6\n", "2: timeout: duplicate key (first at "
          "line 1)"),
        E("server: {x: 1, x: 2}", "1: server.x: duplicate key (first at "
          "line 1)"),
        E("future:\n  - {x: 1}\n  - {y: 1, y: 2}\n", "3: future.y: "
          "duplicate key (first at line 3)"),
        E("? [a]\n: b\n", "1: a key must be a single value, not a list"),
        E("\"\": 1\n", "1: empty key"),
        E("~: 1\n", "1: empty key"),
        E("server: [a]", "1: server: expected a mapping, found a list"),
        E("server: {listen: [unix:/a, {inet: x}]}", "1: server.listen: list "
          "item is a mapping, expected a single value"),
        E("server: {user: [a, b]}", "1: server.user: expected a single "
          "value, found a list"),
        E("server: {user: \"\"}", "1: server.user: empty value"),
        E("server: {listen: [1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7]}",
          "1: server.listen: more than 16 values"),
        E("a: b: c\n", "1: YAML: mapping values are not allowed in this "
          "context"),
        E("log:\n  level: info\n  target syslog\n", "4: log: YAML: could "
          "not find expected ':' while scanning a simple key (line 3)"),
        E("timeout: 1\nlog: \x01\n", "2: YAML: control characters are not "
          "allowed (0x01)"),
        E("timeout: \xff\n", "1: YAML: invalid leading UTF-8 octet (0xff)"),
        E("\xff\xfe" "t", "1: YAML: invalid leading UTF-8 octet "
          "(0xff)"),
    };

    return CASES(cases);
}

ParameterizedTest(struct err_case *c, config, rejects_yaml_features)
{
    run_case(c);
}

Test(config, rejects_nul_byte_in_input)
{
    cfg_fail_n("timeout: 1\0\n", 12, TP_ESYNTAX, "t.yaml: line 1: YAML: "
               "control characters are not allowed (0x00)");
}

Test(config, rejects_input_over_file_max)
{
    size_t n = TP_CONFIG_FILE_MAX + 1;
    char *s = malloc(n);
    struct tp_config c;
    struct tp_err e = {""};

    cr_assert_not_null(s);
    memset(s, '#', n);
    cfg_fail_n(s, n, TP_ETOOBIG, "t.yaml: larger than 1048576 bytes");
    /* Exactly the limit is read (a comment: an empty config). */
    cr_assert_eq(parse_n(s, n - 1, &c, &e), TP_OK, "%s", e.msg);
    tp_config_free(&c);
    free(s);
}

/* nest - "future:" then depth mappings or lists inside it */
static void
nest(char *buf, size_t size, size_t depth, bool lists)
{
    size_t i, o;

    o = (size_t)snprintf(buf, size, "future: ");
    for (i = 0; i < depth; i++)
        o += (size_t)snprintf(buf + o, size - o, lists ? "[" : "{k: ");
    o += (size_t)snprintf(buf + o, size - o, "1");
    for (i = 0; i < depth; i++)
        o += (size_t)snprintf(buf + o, size - o, lists ? "]" : "}");
    snprintf(buf + o, size - o, "\n");
}

Test(config, depth_limit_counts_mappings_and_lists)
{
    struct tp_config c;
    char buf[512], msg[256];

    /* The top-level mapping is level 1. */
    nest(buf, sizeof(buf), TP_YAML_DEPTH_MAX - 1, false);
    cfg_ok(buf, &c);
    cr_assert_eq(c.n_warnings, 1);
    tp_config_free(&c);
    nest(buf, sizeof(buf), TP_YAML_DEPTH_MAX - 1, true);
    cfg_ok(buf, &c);
    tp_config_free(&c);

    nest(buf, sizeof(buf), TP_YAML_DEPTH_MAX, true);
    cfg_fail_n(buf, strlen(buf), TP_ETOOBIG, "t.yaml: line 1: future: "
               "nested deeper than 16 levels");
    nest(buf, sizeof(buf), TP_YAML_DEPTH_MAX, false);
    snprintf(msg, sizeof(msg), "t.yaml: line 1: future.k.k.k.k.k.k.k.k.k.k."
             "k.k.k.k.k: nested deeper than %d levels", TP_YAML_DEPTH_MAX);
    cfg_fail_n(buf, strlen(buf), TP_ETOOBIG, msg);
    nest(buf, sizeof(buf), 100, true);
    cfg_fail_n(buf, strlen(buf), TP_ETOOBIG, "t.yaml: line 1: future: "
               "nested deeper than 16 levels");
}

Test(config, billion_laughs_is_refused_at_the_first_anchor)
{
    static const char lol[] =
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n";

    CFG_FAIL(lol, "t.yaml: line 1: a: anchors are not allowed (&a)");
}

/* ---- unknown keys, server: ---- */

Test(config, unknown_keys_are_warnings)
{
    struct tp_config c;

    cfg_ok("listen: 127.0.0.1:10026\n"
           "log: {level: info, colour: true}\n"
           "failure: {mode: defer, retry: [1, 2, {x: y}]}\n"
           "Timeout: 5\n"
           "domains:\n"
           "  a.test:\n"
           "    policy: may\n"
           "    note: {any: [thing]}\n"
           "    failure: {mode: defer, why: x}\n", &c);
    cr_assert_eq(c.n_warnings, 6);
    cr_assert_str_eq(c.warnings[0], "t.yaml: line 1: listen: unknown key, "
                     "ignored");
    cr_assert_str_eq(c.warnings[1], "t.yaml: line 2: log.colour: unknown "
                     "key, ignored");
    cr_assert_str_eq(c.warnings[2], "t.yaml: line 3: failure.retry: "
                     "unknown key, ignored");
    cr_assert_str_eq(c.warnings[3], "t.yaml: line 4: Timeout: unknown key, "
                     "ignored");
    cr_assert_str_eq(c.warnings[4], "t.yaml: line 8: domains.a.test.note: "
                     "unknown key, ignored");
    cr_assert_str_eq(c.warnings[5], "t.yaml: line 9: domains.a.test.failure."
                     "why: unknown key, ignored");
    cr_assert_eq(c.log_level, TLSPOL_LOG_INFO);
    cr_assert_eq(c.timeout_ms, 0);
    cr_assert_eq(c.n_domains, 1);
    tp_config_free(&c);
    ASSERT_NO_LEAKS();
}

Test(config, unknown_domain_failure_key_is_a_warning)
{
    struct tp_config c;

    cfg_ok("domains:\n  a.test:\n    failure: {mode: defer, why: x}\n", &c);
    cr_assert_eq(c.n_warnings, 1);
    cr_assert_str_eq(c.warnings[0], "t.yaml: line 3: domains.a.test.failure."
                     "why: unknown key, ignored");
    tp_config_free(&c);
    ASSERT_NO_LEAKS();
}

Test(config, warning_keys_are_escaped_and_cut)
{
    struct tp_config c;
    char buf[256];

    cfg_ok("\"a\\tb\\\"c\": 1\n", &c);
    cr_assert_eq(c.n_warnings, 1);
    cr_assert_str_eq(c.warnings[0], "t.yaml: line 1: a\\x09b\\x22c: unknown "
                     "key, ignored");
    tp_config_free(&c);
    memset(buf, 'k', 100);
    snprintf(buf + 100, sizeof(buf) - 100, ": 1\n");
    cfg_ok(buf, &c);
    cr_assert_str_eq(c.warnings[0], "t.yaml: line 1: kkkkkkkkkkkkkkkkkkkkkkk"
                     "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...: unknown "
                     "key, ignored");
    tp_config_free(&c);
    /* A cut never splits a UTF-8 sequence (U+00FC at bytes 63..64). */
    memset(buf, 'k', 63);
    snprintf(buf + 63, sizeof(buf) - 63, "\xc3\xbcxyz: 1\n");
    cfg_ok(buf, &c);
    cr_assert_str_eq(c.warnings[0], "t.yaml: line 1: kkkkkkkkkkkkkkkkkkkkkkk"
                     "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...: unknown "
                     "key, ignored");
    tp_config_free(&c);
    ASSERT_NO_LEAKS();
}

Test(config, warnings_are_capped)
{
    char buf[4096];
    struct tp_config c;
    size_t i, o = 0;

    for (i = 0; i < 100; i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "x%zu: 1\n", i);
    cfg_ok(buf, &c);
    cr_assert_eq(c.n_warnings, 64);
    cr_assert_str_eq(c.warnings[0], "t.yaml: line 1: x0: unknown key, "
                     "ignored");
    cr_assert_str_eq(c.warnings[62], "t.yaml: line 63: x62: unknown key, "
                     "ignored");
    cr_assert_str_eq(c.warnings[63], "t.yaml: line 64: more than 63 "
                     "warnings, the rest are not shown");
    tp_config_free(&c);
    ASSERT_NO_LEAKS();
}

Test(config, server_section_known_keys_kept_others_warned)
{
    struct tp_config c;

    cfg_ok("server:\n  listen: unix:/run/tlspol.sock\n  workers: 4\n"
           "  tls: {a: {b: [c]}}\n  user: tlspol\ntimeout: 3\n", &c);
    cr_assert_eq(c.n_warnings, 2);
    cr_assert_str_eq(c.warnings[0], "t.yaml: line 3: server.workers: "
                     "unknown key, ignored");
    cr_assert_str_eq(c.warnings[1], "t.yaml: line 4: server.tls: unknown "
                     "key, ignored");
    cr_assert_eq(c.n_server, 2);
    cr_assert_str_eq(c.server[0].vals[0], "unix:/run/tlspol.sock");
    cr_assert_str_eq(c.server[1].key, "user");
    cr_assert_eq(c.timeout_ms, 3000);
    tp_config_free(&c);
    cfg_ok("server:\n", &c);
    assert_empty(&c);
    tp_config_free(&c);
    ASSERT_NO_LEAKS();
}

Test(config, error_after_warnings_frees_them)
{
    CFG_FAIL("a: 1\nb: 2\ntimeout: x\n", "t.yaml: line 3: timeout: \"x\" is "
             "not a number of seconds (like 30 or 2.5)");
}

/* ---- ownership ---- */

Test(config, free_is_null_safe_and_idempotent)
{
    struct tp_config c;

    tp_config_free(NULL);
    cfg_ok(full, &c);
    tp_config_free(&c);
    assert_empty(&c);
    tp_config_free(&c);
    assert_empty(&c);
    ASSERT_NO_LEAKS();
}

/* ---- fault injection ---- */

Test(config, every_allocation_failure_is_nomem_and_leaves_out_empty)
{
    struct tp_config c;
    struct tp_err e;
    unsigned long n, nomem = 0;
    int rc = TP_ENOMEM;

    for (n = 1; n < 10000; n++) {
        memset(&e, 0, sizeof(e));
        tp_alloc_fail_at(n);
        rc = parse_n(full, sizeof(full) - 1, &c, &e);
        if (tp_alloc_fail_pending() != 0) {
            /* Fewer than n allocations: the whole parse ran. */
            tp_alloc_fail_at(0);
            cr_assert_eq(rc, TP_OK, "n=%lu: %s", n, e.msg);
            cr_assert_eq(c.n_domains, 4);
            tp_config_free(&c);
            break;
        }
        cr_assert_eq(rc, TP_ENOMEM, "n=%lu rc=%d (%s)", n, rc, e.msg);
        cr_assert_str_eq(e.msg, "t.yaml: out of memory");
        assert_empty(&c);
        nomem++;
    }
    cr_assert_lt(n, 10000);
    cr_assert_gt(nomem, 40, "only %lu allocation points", nomem);
    ASSERT_NO_LEAKS();
}

Test(config, allocation_failures_on_bad_input_keep_the_error_or_nomem)
{
    static const char bad[] =
        "x: {a: 1}\nlog: {level: info}\ndomains:\n  a.test: {policy: may}\n"
        "  b.test: {policy: secure, match: [mx.b.test, \"mx..b.test\"]}\n";
    static const char msg[] = "t.yaml: line 5: domains.b.test.match: "
                              "\"mx..b.test\" is not a valid MX pattern: "
                              "empty label";
    struct tp_config c;
    struct tp_err e;
    unsigned long n;
    int rc;

    for (n = 1; n < 10000; n++) {
        memset(&e, 0, sizeof(e));
        tp_alloc_fail_at(n);
        rc = parse_n(bad, sizeof(bad) - 1, &c, &e);
        assert_empty(&c);
        if (tp_alloc_fail_pending() != 0) {
            tp_alloc_fail_at(0);
            cr_assert_eq(rc, TP_ESYNTAX);
            cr_assert_str_eq(e.msg, msg);
            break;
        }
        cr_assert(rc == TP_ENOMEM || (rc == TP_ESYNTAX &&
                                      strcmp(e.msg, msg) == 0),
                  "n=%lu rc=%d (%s)", n, rc, e.msg);
    }
    cr_assert_lt(n, 10000);
    ASSERT_NO_LEAKS();
}
