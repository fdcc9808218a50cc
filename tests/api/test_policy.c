/*
 * test_policy.c - the policy engine end to end against the test network:
 * configuration files, preload lists, local overrides, the failure
 * policy, Postfix replies, and peer verification of the certificates the
 * test MX hosts serve.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../leakcheck.h"
#include "netenv.h"
#include "tlspol/tlspol.h"

#ifndef TEST_DATA
#error "TEST_DATA must name tests/data"
#endif

/* --- Postfix replies ----------------------------------------------- */

struct pf {
    const char *domain;
    unsigned int compat;
    const char *want;       /* exact, or prefix when it ends in '*' */
};

Test(postfix, replies_for_scenarios, .timeout = 60)
{
    static const struct pf g[] = {
        { "dane-ee.test", 309, "OK dane-only" },
        { "dane-mixed.test", 309, "OK dane" },
        { "dane-unusable.test", 309, "OK dane" },
        { "enforce.test", 309,
          "OK secure match=mx1.enforce.test servername=hostname" },
        { "wildcard.test", 309,
          "OK secure match=.wildcard.test servername=hostname" },
        { "enforce.test", 310,
          "OK secure match=mx1.enforce.test servername=hostname "
          "policy_type=sts policy_domain=enforce.test "
          "mx_host_pattern=mx1.enforce.test *" },
        { "testing.test", 310, "NOTFOUND " },
        { "no-txt.test", 309, "NOTFOUND " },
        { "mx-bogus.test", 309, "TEMP MX lookup for mx-bogus.test failed*" },
    };
    tlspol_ctx *ctx = net_ctx(3000);
    size_t i;

    for (i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
        tlspol_result *r = resolve1(ctx, g[i].domain);
        const char *got = tlspol_result_postfix_policy(r, g[i].compat);
        size_t n = strlen(g[i].want);

        cr_assert_not_null(got);
        if (g[i].want[n - 1] == '*')
            cr_expect(strncmp(got, g[i].want, n - 1) == 0, "%s: \"%s\"",
                      g[i].domain, got);
        else
            cr_expect_str_eq(got, g[i].want, "%s", g[i].domain);
        tlspol_result_free(r);
    }
    tlspol_ctx_free(ctx);
    ASSERT_NO_LEAKS();
}

/* --- configuration ------------------------------------------------- */

/* conf_ctx - a context on the test network plus a config file */
static tlspol_ctx *
conf_ctx(const char *file, tlspol_status want)
{
    tlspol_ctx *ctx = net_ctx(3000);
    char path[512];

    snprintf(path, sizeof(path), "%s/config/%s", TEST_DATA, file);
    cr_assert_eq(tlspol_ctx_load_config(ctx, path), want, "%s: %s", path,
                 tlspol_ctx_errmsg(ctx));
    return ctx;
}

Test(config, local_secure_override, .timeout = 60)
{
    tlspol_ctx *ctx = conf_ctx("net.yaml", TLSPOL_OK);
    tlspol_result *r = resolve1(ctx, "local-secure.test");

    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_LOCAL, "%s",
                 tlspol_result_reason(r));
    cr_assert_str_eq(tlspol_result_local_level(r), "secure");
    cr_assert_str_eq(tlspol_result_postfix_policy(r, 309),
                     "OK secure match=mx1.local-secure.test "
                     "servername=hostname");
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
}

Test(config, weakening_override_is_flagged_and_counted, .timeout = 60)
{
    tlspol_ctx *ctx = conf_ctx("net.yaml", TLSPOL_OK);
    tlspol_result *r = resolve1(ctx, "enforce.test");

    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_LOCAL);
    cr_assert_eq(tlspol_result_published_verdict(r),
                 TLSPOL_VERDICT_STS_ENFORCE);
    cr_assert_eq(tlspol_result_override_weakens(r), 1);
    cr_assert(strstr(tlspol_result_reason(r), "WEAKENS") != NULL, "%s",
              tlspol_result_reason(r));
    tlspol_result_free(r);
    r = resolve1(ctx, "enforce.test");
    tlspol_result_free(r);
    cr_assert_eq(tlspol_ctx_stat(ctx, TLSPOL_STAT_OVERRIDE_WEAKENS), 2,
                 "logged and counted each time it is used");
    tlspol_ctx_free(ctx);
}

Test(config, failure_policy_delivers_opportunistically, .timeout = 60)
{
    tlspol_ctx *ctx = conf_ctx("net.yaml", TLSPOL_OK);
    tlspol_result *r = resolve1(ctx, "dane-bogus.test");

    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_NO_POLICY, "%s",
                 tlspol_result_reason(r));
    cr_assert_eq(tlspol_result_failopen(r), 1);
    cr_assert_eq(tlspol_result_published_verdict(r), TLSPOL_VERDICT_TEMPFAIL);
    cr_assert_eq(tlspol_ctx_stat(ctx, TLSPOL_STAT_FAILOPEN), 1);
    tlspol_result_free(r);
    /* other domains keep the default: defer */
    r = resolve1(ctx, "dane-expired.test");
    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_TEMPFAIL);
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
}

Test(config, bad_config_keeps_the_old_one, .timeout = 60)
{
    tlspol_ctx *ctx = conf_ctx("net.yaml", TLSPOL_OK);
    char path[512];
    tlspol_result *r;

    snprintf(path, sizeof(path), "%s/config/%s", TEST_DATA,
             "bad-level.yaml");
    cr_assert_eq(tlspol_ctx_load_config(ctx, path), TLSPOL_ERR_INVAL);
    cr_assert(strstr(tlspol_ctx_errmsg(ctx), "bad-level.yaml: line ") !=
              NULL, "%s", tlspol_ctx_errmsg(ctx));
    r = resolve1(ctx, "local-secure.test");
    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_LOCAL,
                 "the previous configuration is still in force");
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
}

/* load_text - load text as a configuration file; the status */
static tlspol_status
load_text(tlspol_ctx *ctx, const char *text)
{
    char path[] = "/tmp/tlspol-logconf-XXXXXX";
    int fd = mkstemp(path);
    FILE *fp;
    tlspol_status st;

    cr_assert_geq(fd, 0);
    fp = fdopen(fd, "w");
    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
    st = tlspol_ctx_load_config(ctx, path);
    unlink(path);
    return st;
}

Test(config, log_settings_for_the_tools)
{
    tlspol_ctx *ctx = NULL;
    int level = 7, target = 7;

    cr_assert_eq(tlspol_ctx_new(&ctx), TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_config_log(ctx, &level, &target), TLSPOL_OK);
    cr_expect(level == -1 && target == -1, "no file: %d %d", level, target);
    cr_assert_eq(load_text(ctx, "log:\n  level: debug\n  target: syslog\n"),
                 TLSPOL_OK, "%s", tlspol_ctx_errmsg(ctx));
    tlspol_ctx_config_log(ctx, &level, &target);
    cr_expect(level == TLSPOL_LOG_DEBUG && target == 1, "%d %d", level,
              target);
    /* a file that fails to load leaves the previous settings */
    cr_assert_eq(load_text(ctx, "log:\n  level: loud\n"), TLSPOL_ERR_INVAL);
    cr_expect(strstr(tlspol_ctx_errmsg(ctx), "loud") != NULL, "%s",
              tlspol_ctx_errmsg(ctx));
    tlspol_ctx_config_log(ctx, &level, &target);
    cr_expect(level == TLSPOL_LOG_DEBUG && target == 1, "%d %d", level,
              target);
    cr_assert_eq(load_text(ctx, "log:\n  level: error\n  target: stderr\n"),
                 TLSPOL_OK, "%s", tlspol_ctx_errmsg(ctx));
    tlspol_ctx_config_log(ctx, &level, NULL);
    tlspol_ctx_config_log(ctx, NULL, &target);
    cr_expect(level == TLSPOL_LOG_ERROR && target == 0, "%d %d", level,
              target);
    /* a reload without log: unsets both */
    cr_assert_eq(load_text(ctx, "postfix_compat: \"3.10\"\n"), TLSPOL_OK,
                 "%s", tlspol_ctx_errmsg(ctx));
    tlspol_ctx_config_log(ctx, &level, &target);
    cr_expect(level == -1 && target == -1, "%d %d", level, target);
    cr_expect_eq(tlspol_ctx_config_log(NULL, &level, &target),
                 TLSPOL_ERR_INVAL);
    tlspol_ctx_free(ctx);
}

static char last_warning[512];

static void
keep_warning(tlspol_log_level lvl, const char *id, const char *msg, void *ud)
{
    (void)id;
    (void)ud;
    if (lvl == TLSPOL_LOG_WARN)
        snprintf(last_warning, sizeof(last_warning), "%s", msg);
}

Test(config, server_settings_are_kept_as_text)
{
    tlspol_ctx *ctx = NULL;
    unsigned int line = 0;
    const char *v;

    cr_assert_eq(tlspol_ctx_new(&ctx), TLSPOL_OK);
    tlspol_ctx_set_log_fn(ctx, keep_warning, NULL, TLSPOL_LOG_WARN);
    cr_expect_null(tlspol_ctx_config_server(ctx, "listen", 0, NULL));
    cr_assert_eq(load_text(ctx, "server:\n"
                                "  listen:\n"
                                "    - unix:/run/a.sock\n"
                                "    - inet:127.0.0.1:10028\n"
                                "  socket_mode: \"0660\"\n"
                                "  max_clients: 100\n"
                                "  colour: blue\n"), TLSPOL_OK, "%s",
                 tlspol_ctx_errmsg(ctx));
    v = tlspol_ctx_config_server(ctx, "listen", 0, &line);
    cr_expect(v != NULL && strcmp(v, "unix:/run/a.sock") == 0 && line == 3,
              "%s %u", v ? v : "NULL", line);
    v = tlspol_ctx_config_server(ctx, "listen", 1, &line);
    cr_expect(v != NULL && strcmp(v, "inet:127.0.0.1:10028") == 0 &&
              line == 4, "%s %u", v ? v : "NULL", line);
    cr_expect_null(tlspol_ctx_config_server(ctx, "listen", 2, NULL));
    v = tlspol_ctx_config_server(ctx, "socket_mode", 0, NULL);
    cr_expect(v != NULL && strcmp(v, "0660") == 0);
    v = tlspol_ctx_config_server(ctx, "max_clients", 0, NULL);
    cr_expect(v != NULL && strcmp(v, "100") == 0);
    cr_expect_null(tlspol_ctx_config_server(ctx, "colour", 0, NULL));
    cr_expect(strstr(last_warning, "line 7: server.colour: unknown key, "
                                   "ignored") != NULL, "%s", last_warning);
    cr_expect_null(tlspol_ctx_config_server(ctx, "user", 0, NULL));
    cr_expect_null(tlspol_ctx_config_server(ctx, NULL, 0, NULL));
    cr_expect_null(tlspol_ctx_config_server(NULL, "listen", 0, NULL));
    tlspol_ctx_free(ctx);
}

Test(config, server_settings_errors)
{
    static const struct {
        const char *text, *want;
    } bad[] = {
        { "server:\n  socket_mode: [\"0660\"]\n",
          "server.socket_mode: expected a single value, found a list" },
        { "server:\n  listen: {unix: /a}\n",
          "server.listen: expected a value or a list, found a mapping" },
        { "server:\n  listen: []\n", "server.listen: empty list" },
        { "server:\n  user:\n", "server.user: empty value" },
        { "server:\n  user: \"a\\tb\"\n",
          "server.user: control character 0x09 at offset 1" },
        { "server:\n  listen: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]\n",
          "server.listen: more than 16 values" },
        { "server:\n  admin: 1\n  admin: 2\n",
          "server.admin: duplicate key (first at line 2)" },
        { "server: [listen]\n", "server: expected a mapping, found a list" },
    };
    char big[1200];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tlspol_ctx *ctx = NULL;

        cr_assert_eq(tlspol_ctx_new(&ctx), TLSPOL_OK);
        cr_expect_eq(load_text(ctx, bad[i].text), TLSPOL_ERR_INVAL, "%s",
                     bad[i].text);
        cr_expect(strstr(tlspol_ctx_errmsg(ctx), bad[i].want) != NULL,
                  "%s: %s", bad[i].want, tlspol_ctx_errmsg(ctx));
        cr_expect_null(tlspol_ctx_config_server(ctx, "listen", 0, NULL));
        tlspol_ctx_free(ctx);
    }
    {
        tlspol_ctx *ctx = NULL;
        int n = snprintf(big, sizeof(big), "server:\n  user: ");

        memset(big + n, 'u', 1025);
        big[n + 1025] = '\n';
        big[n + 1026] = '\0';
        cr_assert_eq(tlspol_ctx_new(&ctx), TLSPOL_OK);
        cr_expect_eq(load_text(ctx, big), TLSPOL_ERR_INVAL);
        cr_expect(strstr(tlspol_ctx_errmsg(ctx), "server.user: longer than "
                         "1024 bytes") != NULL, "%s", tlspol_ctx_errmsg(ctx));
        tlspol_ctx_free(ctx);
    }
}

Test(config, missing_file_is_an_io_error)
{
    tlspol_ctx *ctx = NULL;

    cr_assert_eq(tlspol_ctx_new(&ctx), TLSPOL_OK);
    cr_assert_eq(tlspol_ctx_load_config(ctx, "/nonexistent/tlspol.yaml"),
                 TLSPOL_ERR_IO);
    cr_assert(strstr(tlspol_ctx_errmsg(ctx), "/nonexistent/tlspol.yaml") !=
              NULL);
    tlspol_ctx_free(ctx);
}

/* --- preload lists ------------------------------------------------- */

static tlspol_ctx *
preload_ctx(const char *const *files, size_t n)
{
    tlspol_ctx *ctx = net_ctx(3000);
    char path[512];
    size_t i;

    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/preload/%s", TEST_DATA, files[i]);
        cr_assert_eq(tlspol_ctx_add_preload(ctx, path), TLSPOL_OK, "%s: %s",
                     path, tlspol_ctx_errmsg(ctx));
    }
    return ctx;
}

Test(preload, list_entries_decide_without_sts, .timeout = 60)
{
    static const char *const files[] = { "valid.json" };
    tlspol_ctx *ctx = preload_ctx(files, 1);
    tlspol_result *r = resolve1(ctx, "preload-enforce.test");

    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_PRELOAD_ENFORCE,
                 "%s", tlspol_result_reason(r));
    cr_assert_eq(tlspol_result_source(r), TLSPOL_SOURCE_PRELOAD);
    cr_assert_str_eq(tlspol_result_postfix_policy(r, 310),
                     "OK secure match=mx1.preload-enforce.test "
                     "servername=hostname");
    tlspol_result_free(r);
    r = resolve1(ctx, "preload-testing.test");
    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_PRELOAD_TESTING);
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
}

/* copy_file - dst gets src's bytes; 0 or -1 */
static int
copy_file(const char *src, const char *dst)
{
    char buf[4096];
    size_t n;
    FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wb") : NULL;
    int rc = in && out ? 0 : -1;

    while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        rc = -1;
    return rc;
}

static tlspol_verdict
verdict_of(tlspol_ctx *ctx, const char *domain)
{
    tlspol_result *r = resolve1(ctx, domain);
    tlspol_verdict v = tlspol_result_verdict(r);

    tlspol_result_free(r);
    return v;
}

Test(preload, added_lists_are_read_again_on_reload, .timeout = 60)
{
    char list[] = "/tmp/tlspol-added-XXXXXX", valid[512], older[512];
    tlspol_ctx *ctx = net_ctx(3000);
    int fd = mkstemp(list);

    cr_assert_geq(fd, 0);
    close(fd);
    snprintf(valid, sizeof(valid), "%s/preload/valid.json", TEST_DATA);
    snprintf(older, sizeof(older), "%s/preload/older.json", TEST_DATA);
    cr_assert_eq(copy_file(valid, list), 0);
    cr_assert_eq(tlspol_ctx_add_preload(ctx, list), TLSPOL_OK, "%s",
                 tlspol_ctx_errmsg(ctx));
    /* a (re)load of the configuration keeps the list: it used to drop
     * it, turning PRELOAD_ENFORCE into NO_POLICY without a word */
    cr_assert_eq(load_text(ctx, "failure: {mode: defer}\n"), TLSPOL_OK,
                 "%s", tlspol_ctx_errmsg(ctx));
    cr_expect_eq(verdict_of(ctx, "preload-enforce.test"),
                 TLSPOL_VERDICT_PRELOAD_ENFORCE);
    /* read again, with the same checks as the file's own lists */
    cr_assert_eq(copy_file(older, list), 0);
    cr_expect_eq(load_text(ctx, "failure: {mode: defer}\n"),
                 TLSPOL_ERR_INVAL);
    cr_expect(strstr(tlspol_ctx_errmsg(ctx), "older than the list already "
                     "loaded") != NULL, "%s", tlspol_ctx_errmsg(ctx));
    cr_expect_eq(verdict_of(ctx, "preload-enforce.test"),
                 TLSPOL_VERDICT_PRELOAD_ENFORCE, "the old lists stay");
    unlink(list);
    cr_expect_eq(load_text(ctx, "failure: {mode: defer}\n"), TLSPOL_ERR_IO);
    cr_expect(strstr(tlspol_ctx_errmsg(ctx), list) != NULL, "%s",
              tlspol_ctx_errmsg(ctx));
    cr_expect_eq(verdict_of(ctx, "preload-enforce.test"),
                 TLSPOL_VERDICT_PRELOAD_ENFORCE, "the old lists stay");
    tlspol_ctx_free(ctx);
}

Test(preload, later_list_overrides_earlier, .timeout = 60)
{
    static const char *const files[] = { "valid.json", "overlay.json" };
    tlspol_ctx *ctx = preload_ctx(files, 2);
    tlspol_result *r = resolve1(ctx, "preload-testing.test");

    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_PRELOAD_ENFORCE,
                 "%s", tlspol_result_reason(r));
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
}

Test(preload, expired_list_is_ignored, .timeout = 60)
{
    static const char *const files[] = { "expired.json" };
    tlspol_ctx *ctx = preload_ctx(files, 1);
    tlspol_result *r = resolve1(ctx, "preload-enforce.test");

    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_NO_POLICY, "%s",
                 tlspol_result_reason(r));
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
}

Test(preload, schema_violation_names_the_path)
{
    tlspol_ctx *ctx = NULL;
    char path[512];

    cr_assert_eq(tlspol_ctx_new(&ctx), TLSPOL_OK);
    snprintf(path, sizeof(path), "%s/preload/bad-schema.json", TEST_DATA);
    cr_assert_eq(tlspol_ctx_add_preload(ctx, path), TLSPOL_ERR_INVAL);
    cr_assert(strstr(tlspol_ctx_errmsg(ctx), "line ") != NULL &&
              strstr(tlspol_ctx_errmsg(ctx), "$") != NULL, "%s",
              tlspol_ctx_errmsg(ctx));
    tlspol_ctx_free(ctx);
}

Test(preload, dane_and_sts_beat_the_list, .timeout = 60)
{
    static const char *const files[] = { "valid.json" };
    tlspol_ctx *ctx = preload_ctx(files, 1);
    tlspol_result *r = resolve1(ctx, "dane-ee.test");

    cr_assert_eq(tlspol_result_verdict(r), TLSPOL_VERDICT_DANE_ONLY);
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
}

/* --- peer verification with the test MX hosts' certificates --------- */

/* chain_of - DER certificates of a PEM file (leaf first); returns count */
static size_t
chain_of(const char *host, unsigned char **der, size_t *len, size_t max)
{
    char path[512];
    FILE *fp;
    X509 *x;
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/mx/%s.pem",
             getenv("TLSPOL_TEST_STATEDIR"), host);
    fp = fopen(path, "r");
    cr_assert_not_null(fp, "%s", path);
    while (n < max && (x = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL) {
        int l;

        der[n] = NULL;
        l = i2d_X509(x, &der[n]);
        cr_assert_gt(l, 0);
        len[n++] = (size_t)l;
        X509_free(x);
    }
    fclose(fp);
    cr_assert_gt(n, 0, "%s holds no certificate", path);
    return n;
}

/* verify - resolve domain and check host's certificate file (certfile
 * may name another host's file) */
static tlspol_status
verify(const char *domain, const char *host, const char *certfile,
       char *why, size_t why_size)
{
    tlspol_ctx *ctx = net_ctx(3000);
    tlspol_result *r = resolve1(ctx, domain);
    unsigned char *der[4];
    size_t len[4], n = chain_of(certfile, der, len, 4), i;
    const char *w = "";
    tlspol_status st;

    st = tlspol_verify_chain(ctx, r, host,
                             (const unsigned char *const *)der, len, n, &w);
    snprintf(why, why_size, "%s", w);
    for (i = 0; i < n; i++)
        OPENSSL_free(der[i]);
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
    return st;
}

Test(verify, dane_ee_matches_the_served_key, .timeout = 60)
{
    char why[512];

    cr_assert_eq(verify("dane-ee.test", "mx1.dane-ee.test",
                        "mx1.dane-ee.test", why, sizeof(why)), TLSPOL_OK,
                 "%s", why);
    cr_assert(strstr(why, "DANE-EE") != NULL, "%s", why);
}

Test(verify, dane_ee_rejects_another_key, .timeout = 60)
{
    char why[512];

    cr_assert_eq(verify("dane-ee.test", "mx1.dane-ee.test",
                        "mx1.dane-sts.test", why, sizeof(why)),
                 TLSPOL_ERR_VERIFY, "%s", why);
    cr_assert(strstr(why, "no usable TLSA record") != NULL, "%s", why);
}

Test(verify, dane_ta_chain_to_the_listed_ca, .timeout = 60)
{
    char why[512];

    cr_assert_eq(verify("dane-ta.test", "mx1.dane-ta.test",
                        "mx1.dane-ta.test.chain", why, sizeof(why)),
                 TLSPOL_OK,
                 "%s", why);
    cr_assert(strstr(why, "DANE-TA") != NULL, "%s", why);
}

Test(verify, sts_enforce_needs_the_mx_name, .timeout = 60)
{
    char why[512];

    cr_assert_eq(verify("multi-mx.test", "mx2.multi-mx.test",
                        "mx2.multi-mx.test", why, sizeof(why)), TLSPOL_OK,
                 "%s", why);
    cr_assert_eq(verify("multi-mx.test", "mx2.multi-mx.test",
                        "mx1.multi-mx.test", why, sizeof(why)),
                 TLSPOL_ERR_VERIFY, "a certificate for mx1 on mx2: %s",
                 why);
}

Test(verify, tempfail_never_passes_and_no_policy_always_does,
     .timeout = 60)
{
    tlspol_ctx *ctx = net_ctx(3000);
    tlspol_result *r = resolve1(ctx, "dane-bogus.test");
    const char *why = NULL;

    cr_assert_eq(tlspol_verify_chain(ctx, r, "mx1.dane-bogus.test", NULL,
                                     NULL, 0, &why), TLSPOL_ERR_VERIFY);
    tlspol_result_free(r);
    r = resolve1(ctx, "no-txt.test");
    cr_assert_eq(tlspol_verify_chain(ctx, r, "mx1.no-txt.test", NULL, NULL,
                                     0, &why), TLSPOL_OK, "%s", why);
    tlspol_result_free(r);
    r = resolve1(ctx, "dane-ee.test");
    cr_assert_eq(tlspol_verify_chain(ctx, r, "mx1.dane-ee.test", NULL, NULL,
                                     0, &why), TLSPOL_ERR_VERIFY,
                 "no TLS to a DANE host");
    tlspol_result_free(r);
    tlspol_ctx_free(ctx);
}

/* --- exporting the MTA-STS cache as a preload list ------------------ */

Test(export, cached_policies_round_trip_as_a_preload_list, .timeout = 60)
{
    static const char *const doms[] = { "enforce.test", "testing.test",
                                        "none.test", "wildcard.test" };
    tlspol_ctx *ctx = net_ctx(3000);
    char path[] = "/tmp/tlspol-export-XXXXXX";
    const char *js;
    size_t i;
    FILE *fp;
    int fd;

    for (i = 0; i < 4; i++)
        tlspol_result_free(resolve1(ctx, doms[i]));
    js = tlspol_ctx_export_preload(ctx);
    cr_assert_not_null(js, "%s", tlspol_ctx_errmsg(ctx));
    cr_assert(strstr(js, "\"enforce.test\": {\"mode\": \"enforce\", "
                         "\"mxs\": [\"mx1.enforce.test\"]}") != NULL, "%s", js);
    cr_assert(strstr(js, "\"mxs\": [\".wildcard.test\"]") != NULL, "%s", js);
    cr_assert(strstr(js, "\"testing.test\": {\"mode\": \"testing\"") != NULL,
              "%s", js);
    cr_assert(strstr(js, "none.test") == NULL, "mode none is left out");
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    fp = fdopen(fd, "w");
    cr_assert_not_null(fp);
    fputs(js, fp);
    fclose(fp);
    tlspol_ctx_free(ctx);
    /* a new node accepts it as a valid, unexpired list */
    ctx = net_ctx(3000);
    cr_assert_eq(tlspol_ctx_add_preload(ctx, path), TLSPOL_OK, "%s",
                 tlspol_ctx_errmsg(ctx));
    tlspol_ctx_free(ctx);
    unlink(path);
}
