/*
 * test_preload.c - white-box tests of preload.c: the STARTTLS-Everywhere
 * policy list format 0.1 (standards.md A6), every schema rule and error
 * path with its exact message, RFC 3339 times, the JSON subset of YAML
 * (anchors, aliases, tags, documents, comments, escapes refused), limits,
 * lookup, the sample lists in tests/data/preload/ and the fault-injection
 * hook.
 *
 * SPDX-License-Identifier: MIT
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "common.h"
#include "../leakcheck.h"
#include "preload.h"

/* A realistic list: aliases, suffixes, comments-free JSON, 3 domains. */
static const char realistic[] =
    "{\n"
    "  \"timestamp\": \"2020-05-20T16:47:55.812345+00:00\",\n"
    "  \"author\": \"Mail Security Team <https:\\/\\/example.test\\/>\",\n"
    "  \"expires\": 4102444800,\n"
    "  \"version\": \"0.1\",\n"
    "  \"policy-aliases\": {\n"
    "    \"google\": {\n"
    "      \"mode\": \"enforce\",\n"
    "      \"mxs\": [\".l.google.com\", \"aspmx.l.google.com\"]\n"
    "    }\n"
    "  },\n"
    "  \"policies\": {\n"
    "    \"gmail.com\": {\"policy-alias\": \"google\"},\n"
    "    \"eff.org\": {\n"
    "      \"mode\": \"enforce\",\n"
    "      \"mxs\": [\"mx1.eff.org\", \"MX2.eff.org\", \".eff.org\"]\n"
    "    },\n"
    "    \"example.net\": {\"mxs\": [\"mail.example.net\"], "
    "\"mode\": \"testing\"}\n"
    "  }\n"
    "}\n";

/* The same list with an error on line 16. */
static const char realistic_bad_line16[] =
    "{\n"
    "  \"timestamp\": \"2020-05-20T16:47:55.812345+00:00\",\n"
    "  \"author\": \"Mail Security Team <https:\\/\\/example.test\\/>\",\n"
    "  \"expires\": 4102444800,\n"
    "  \"version\": \"0.1\",\n"
    "  \"policy-aliases\": {\n"
    "    \"google\": {\n"
    "      \"mode\": \"enforce\",\n"
    "      \"mxs\": [\".l.google.com\", \"aspmx.l.google.com\"]\n"
    "    }\n"
    "  },\n"
    "  \"policies\": {\n"
    "    \"gmail.com\": {\"policy-alias\": \"google\"},\n"
    "    \"eff.org\": {\n"
    "      \"mode\": \"enforce\",\n"
    "      \"mxs\": [\"mx1.eff.org\", \"mail..eff.org\", \".eff.org\"]\n"
    "    }\n"
    "  }\n"
    "}\n";

/* Building blocks for one-line documents. */
#define TOP "\"timestamp\": 1590000000, \"expires\": 4070908800, " \
            "\"version\": \"0.1\""
#define DOC(al, pol) "{" TOP ", \"policy-aliases\": {" al "}, " \
                     "\"policies\": {" pol "}}"
#define POL(body) DOC("", "\"eff.org\": " body)
#define MXS(list) POL("{\"mode\": \"enforce\", \"mxs\": [" list "]}")
#define ALIAS(body) DOC("\"a\": " body, "")
#define AUTHOR(v) "{" TOP ", \"policy-aliases\": {}, \"policies\": {}, " \
                  "\"author\": " v "}"
#define TS(v) "{\"timestamp\": " v "}"
#define PATH_EFF "$.policies[\"eff.org\"]"

/* pl_parse - parse n bytes at s */
static int
pl_parse(const char *s, size_t n, struct tp_preload *pl, struct tp_err *e)
{
    return tp_preload_parse((const uint8_t *)s, n, pl, e);
}

/* pl_ok_n - n bytes at s must parse; the caller frees *pl */
static void
pl_ok_n(const char *s, size_t n, struct tp_preload *pl)
{
    struct tp_err e = {""};
    int rc = pl_parse(s, n, pl, &e);

    cr_assert_eq(rc, TP_OK, "rc %d (%s) for \"%.*s\"", rc, e.msg, (int)n, s);
}

#define PL_OK(s, pl) pl_ok_n((s), strlen(s), (pl))

/* pl_fail_n - n bytes at s must fail with want_rc and exactly msg; *out
 * must be left empty and nothing leaked */
static void
pl_fail_n(const char *s, size_t n, int want_rc, const char *msg)
{
    struct tp_preload pl;
    struct tp_err e = {""};
    int rc;

    memset(&pl, 0xa5, sizeof(pl));
    rc = pl_parse(s, n, &pl, &e);
    cr_assert_eq(rc, want_rc, "rc %d (%s) for \"%.*s\"", rc, e.msg,
                 (int)(n > 300 ? 300 : n), s);
    cr_assert_str_eq(e.msg, msg);
    cr_assert_null(pl.e, "*out not left empty");
    cr_assert_eq(pl.n, 0);
    cr_assert_eq(pl.timestamp, 0);
    cr_assert_eq(pl.expires, 0);
    ASSERT_NO_LEAKS();
}

#define PL_FAIL(s, msg) pl_fail_n((s), strlen(s), TP_ESYNTAX, (msg))

/* mx_is - entry x has exactly the patterns given, in order */
static void
mx_is(const struct tp_preload_entry *x, size_t n, const char *const *want)
{
    size_t i;

    cr_assert_eq(x->n_mx, n, "%s: %zu mx", x->domain, x->n_mx);
    for (i = 0; i < n; i++)
        cr_assert_str_eq(x->mx[i], want[i]);
}

/* ---- valid lists ---- */

Test(preload, accepts_realistic_list_with_alias)
{
    static const char *const google[] = {"*.l.google.com",
                                         "aspmx.l.google.com"};
    static const char *const eff[] = {"mx1.eff.org", "mx2.eff.org",
                                      "*.eff.org"};
    static const char *const net[] = {"mail.example.net"};
    struct tp_preload pl;

    PL_OK(realistic, &pl);
    cr_assert_eq(pl.timestamp, 1589993275);
    cr_assert_eq(pl.expires, 4102444800);
    cr_assert_eq(pl.n, 3);
    cr_assert_str_eq(pl.e[0].domain, "eff.org");
    cr_assert_eq(pl.e[0].mode, TP_STS_MODE_ENFORCE);
    mx_is(&pl.e[0], 3, eff);
    cr_assert_str_eq(pl.e[1].domain, "example.net");
    cr_assert_eq(pl.e[1].mode, TP_STS_MODE_TESTING);
    mx_is(&pl.e[1], 1, net);
    cr_assert_str_eq(pl.e[2].domain, "gmail.com");
    cr_assert_eq(pl.e[2].mode, TP_STS_MODE_ENFORCE);
    mx_is(&pl.e[2], 2, google);
    tp_preload_free(&pl);
    cr_assert_eq(pl.n, 0);
    cr_assert_null(pl.e);
    tp_preload_free(&pl);
    tp_preload_free(NULL);
    ASSERT_NO_LEAKS();
}

Test(preload, reports_error_line_and_path_in_multiline_list)
{
    PL_FAIL(realistic_bad_line16,
            "preload: line 16: $.policies[\"eff.org\"].mxs[1]: "
            "\"mail..eff.org\" is not a valid MX name (empty label)");
}

Test(preload, resolves_alias_defined_after_its_use)
{
    struct tp_preload pl;

    PL_OK("{\"policies\": {\"a.test\": {\"policy-alias\": \"x\"}, "
          "\"b.test\": {\"policy-alias\": \"x\"}}, \"version\": \"0.1\", "
          "\"policy-aliases\": {\"x\": {\"mode\": \"testing\", "
          "\"mxs\": [\"mx.c.test\"]}}, \"expires\": 2, \"timestamp\": 1}",
          &pl);
    cr_assert_eq(pl.n, 2);
    cr_assert_eq(pl.timestamp, 1);
    cr_assert_eq(pl.expires, 2);
    cr_assert_eq(pl.e[0].mode, TP_STS_MODE_TESTING);
    cr_assert_str_eq(pl.e[1].mx[0], "mx.c.test");
    /* Each entry owns its own copy of the alias's patterns. */
    cr_assert_neq(pl.e[0].mx, pl.e[1].mx);
    cr_assert_neq(pl.e[0].mx[0], pl.e[1].mx[0]);
    tp_preload_free(&pl);
    ASSERT_NO_LEAKS();
}

Test(preload, accepts_unused_alias_and_empty_policies)
{
    struct tp_preload pl;

    PL_OK(ALIAS("{\"mode\": \"enforce\", \"mxs\": [\"a.test\"]}"), &pl);
    cr_assert_eq(pl.n, 0);
    cr_assert_null(pl.e);
    cr_assert_null(tp_preload_find(&pl, "a.test"));
    tp_preload_free(&pl);
}

Test(preload, author_is_optional_and_any_string)
{
    struct tp_preload pl;

    PL_OK(DOC("", ""), &pl);
    tp_preload_free(&pl);
    PL_OK(AUTHOR("\"\""), &pl);
    tp_preload_free(&pl);
    PL_OK(AUTHOR("\"Ren\\u00e9 \xc3\xa9 \xf0\x9f\x93\xa7 \\\"q\\\" \\\\ "
                 "\\/ \\b\\f\\n\\r\\t \\u0000\""), &pl);
    tp_preload_free(&pl);
}

Test(preload, normalizes_domain_keys)
{
    struct tp_preload pl;

    PL_OK(DOC("", "\"EFF.Org.\": {\"mode\": \"enforce\", "
              "\"mxs\": [\"a.eff.org\"]}, "
              "\"b\xc3\xbc" "cher.example\": {\"mode\": \"testing\", "
              "\"mxs\": [\"mx.xn--bcher-kva.example\"]}, "
              "\"ex\\u0061mple\\u002ecom\": {\"mode\": \"testing\", "
              "\"mxs\": [\"mx.example.com\"]}"), &pl);
    cr_assert_eq(pl.n, 3);
    cr_assert_str_eq(pl.e[0].domain, "eff.org");
    cr_assert_str_eq(pl.e[1].domain, "example.com");
    cr_assert_str_eq(pl.e[2].domain, "xn--bcher-kva.example");
    tp_preload_free(&pl);
}

Test(preload, converts_leading_dot_and_lowercases_mx)
{
    static const char *const want[] = {"*.eff.org", "mx.eff.org",
                                       "*.mx.eff.org"};
    struct tp_preload pl;

    PL_OK(MXS("\".EFF.org\", \"Mx.Eff.Org\", \".mx.eff.org\""), &pl);
    mx_is(&pl.e[0], 3, want);
    tp_preload_free(&pl);
}

Test(preload, accepts_64_mxs)
{
    char buf[8192], *w = buf;
    struct tp_preload pl;
    int i;

    w += snprintf(w, 200, "{" TOP ", \"policy-aliases\": {}, \"policies\": "
                  "{\"eff.org\": {\"mode\": \"enforce\", \"mxs\": [");
    for (i = 0; i < TP_STS_MX_MAX; i++)
        w += snprintf(w, 32, "%s\"mx%d.eff.org\"", i ? ", " : "", i);
    snprintf(w, 8, "]}}}");
    PL_OK(buf, &pl);
    cr_assert_eq(pl.e[0].n_mx, TP_STS_MX_MAX);
    cr_assert_str_eq(pl.e[0].mx[63], "mx63.eff.org");
    tp_preload_free(&pl);
}

Test(preload, accepts_json_layouts)
{
    static const char bom_crlf_tabs[] =
        "\xef\xbb\xbf\r\n{\t\"timestamp\" :\t0 ,\r\n\"expires\":1,"
        "\"version\":\"0.1\",\"policy-aliases\":{},\"policies\":{\r\n"
        "\"a.test\" : { \"mode\" : \"testing\" , \"mxs\" : [ \"b.test\" ] }"
        "}}\r\n\r\n";
    struct tp_preload pl;

    PL_OK(bom_crlf_tabs, &pl);
    cr_assert_eq(pl.n, 1);
    cr_assert_eq(pl.timestamp, 0);
    tp_preload_free(&pl);
}

Test(preload, reads_only_len_bytes)
{
    char buf[sizeof(realistic) + 8];
    struct tp_preload pl;

    memcpy(buf, realistic, sizeof(realistic) - 1);
    memcpy(buf + sizeof(realistic) - 1, "garbage", 8);
    pl_ok_n(buf, sizeof(realistic) - 1, &pl);
    cr_assert_eq(pl.n, 3);
    tp_preload_free(&pl);
}

/* ---- lookup ---- */

Test(preload, find_is_exact_match_only)
{
    struct tp_preload pl;

    PL_OK(realistic, &pl);
    cr_assert_eq(tp_preload_find(&pl, "eff.org"), &pl.e[0]);
    cr_assert_eq(tp_preload_find(&pl, "example.net"), &pl.e[1]);
    cr_assert_eq(tp_preload_find(&pl, "gmail.com"), &pl.e[2]);
    /* RULES.md: no subdomain inheritance; the key is already normal. */
    cr_assert_null(tp_preload_find(&pl, "lists.eff.org"));
    cr_assert_null(tp_preload_find(&pl, "org"));
    cr_assert_null(tp_preload_find(&pl, "EFF.org"));
    cr_assert_null(tp_preload_find(&pl, "eff.org."));
    cr_assert_null(tp_preload_find(&pl, "a.test"));
    cr_assert_null(tp_preload_find(&pl, "zzz.test"));
    cr_assert_null(tp_preload_find(&pl, ""));
    cr_assert_null(tp_preload_find(&pl, NULL));
    cr_assert_null(tp_preload_find(NULL, "eff.org"));
    tp_preload_free(&pl);
    cr_assert_null(tp_preload_find(&pl, "eff.org"));
}

/* ---- times ---- */

/* One accepted timestamp and its Unix time. */
struct good_time {
    char in[48];
    long long want;
};

ParameterizedTestParameters(preload, parses_times)
{
    static struct good_time cases[] = {
        {"0", 0},
        {"-0", 0},
        {"1590000000", 1590000000},
        {"253402300799", 253402300799},
        {"\"1970-01-01T00:00:00Z\"", 0},
        {"\"2020-06-03T00:00:00Z\"", 1591142400},
        {"\"2020-06-03T00:00:00\"", 1591142400},
        {"\"2020-06-03t00:00:00z\"", 1591142400},
        {"\"2020-06-03T00:00:00+00:00\"", 1591142400},
        {"\"2020-06-03T00:00:00-00:00\"", 1591142400},
        {"\"2020-06-03T00:00:00+02:00\"", 1591135200},
        {"\"2020-06-03T00:00:00-02:30\"", 1591151400},
        {"\"2020-06-03T00:00:00.5Z\"", 1591142400},
        {"\"2020-06-03T00:00:00.999999999+00:00\"", 1591142400},
        {"\"2020-05-20T16:47:55.812345\"", 1589993275},
        {"\"2020-02-29T12:00:00Z\"", 1582977600},
        {"\"2000-02-29T00:00:00Z\"", 951782400},
        {"\"1970-01-01T01:00:00+01:00\"", 0},
        {"\"9999-12-31T23:59:59Z\"", 253402300799},
        {"\"9999-12-31T23:59:59+23:59\"", 253402214459},
        {"\"2099-12-31T23:59:59Z\"", 4102444799},
    };

    return cr_make_param_array(struct good_time, cases,
                               sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct good_time *t, preload, parses_times)
{
    char buf[512];
    struct tp_preload pl;

    snprintf(buf, sizeof(buf), "{\"timestamp\": %s, \"expires\": %s, "
             "\"version\": \"0.1\", \"policies\": {}, \"policy-aliases\": "
             "{}}", t->in, t->in);
    PL_OK(buf, &pl);
    cr_assert_eq(pl.timestamp, t->want, "%s: %lld", t->in,
                 (long long)pl.timestamp);
    cr_assert_eq(pl.expires, t->want);
    tp_preload_free(&pl);
}

/* ---- errors, by theme; data inline (STYLE §7) ---- */

/* One rejected input: its bytes (len 0: up to the NUL), rc (0 means
 * TP_ESYNTAX) and the exact message. */
struct bad {
    char in[640];
    size_t len;
    int rc;
    char msg[480];
};

/* check_bad - run one rejected input */
static void
check_bad(const struct bad *b)
{
    pl_fail_n(b->in, b->len ? b->len : strlen(b->in),
              b->rc ? b->rc : TP_ESYNTAX, b->msg);
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

ParameterizedTestParameters(preload, rejects_bad_top_level)
{
    static struct bad cases[] = {
        {.in = "[]", .msg = "preload: line 1: $: expected an object, found "
                            "an array"},
        {.in = "\"x\"", .msg = "preload: line 1: $: expected an object, "
                               "found a string"},
        {.in = "42", .msg = "preload: line 1: $: expected an object, found "
                            "a number"},
        {.in = "null", .msg = "preload: line 1: $: expected an object, "
                              "found null"},
        {.in = "{}", .msg = "preload: line 1: $: missing key \"timestamp\""},
        {.in = "{\"timestamp\": 1, \"version\": \"0.1\", \"policies\": {}, "
               "\"policy-aliases\": {}}",
         .msg = "preload: line 1: $: missing key \"expires\""},
        {.in = "{\"timestamp\": 1, \"expires\": 2, \"policies\": {}, "
               "\"policy-aliases\": {}}",
         .msg = "preload: line 1: $: missing key \"version\""},
        {.in = "{" TOP ", \"policy-aliases\": {}}",
         .msg = "preload: line 1: $: missing key \"policies\""},
        {.in = "{" TOP ", \"policies\": {}}",
         .msg = "preload: line 1: $: missing key \"policy-aliases\""},
        {.in = "{\n" TOP ",\n\"pinsets\": {}}",
         .msg = "preload: line 3: $[\"pinsets\"]: unknown key (schema 0.1 "
                "allows timestamp, expires, version, author, policies, "
                "policy-aliases)"},
        {.in = "{\"Version\": \"0.1\"}",
         .msg = "preload: line 1: $[\"Version\"]: unknown key (schema 0.1 "
                "allows timestamp, expires, version, author, policies, "
                "policy-aliases)"},
        {.in = "{\"version\": \"0.1\", \"version\": \"0.1\"}",
         .msg = "preload: line 1: $.version: duplicate key"},
        {.in = "{\"version\": \"0.2\"}",
         .msg = "preload: line 1: $.version: unsupported version \"0.2\" "
                "(expected \"0.1\")"},
        {.in = "{\"version\": 0.1}",
         .msg = "preload: line 1: $.version: expected the string \"0.1\", "
                "found a number"},
        {.in = AUTHOR("5"),
         .msg = "preload: line 1: $.author: expected a string, found a "
                "number"},
        {.in = AUTHOR("[\"a\"]"),
         .msg = "preload: line 1: $.author: expected a string, found an "
                "array"},
        {.in = "{" TOP ", \"policy-aliases\": {}, \"policies\": []}",
         .msg = "preload: line 1: $.policies: expected an object, found an "
                "array"},
        {.in = "{" TOP ", \"policy-aliases\": [], \"policies\": {}}",
         .msg = "preload: line 1: $[\"policy-aliases\"]: expected an object, "
                "found an array"},
    };

    return cr_make_param_array(struct bad, cases, N_OF(cases));
}

ParameterizedTest(struct bad *b, preload, rejects_bad_top_level)
{
    check_bad(b);
}

ParameterizedTestParameters(preload, rejects_bad_times)
{
    static struct bad cases[] = {
        {.in = TS("-1"), .msg = "preload: line 1: $.timestamp: -1 is "
                                "negative"},
        {.in = TS("1.5"), .msg = "preload: line 1: $.timestamp: 1.5 is not "
                                 "an integer"},
        {.in = TS("1.0"), .msg = "preload: line 1: $.timestamp: 1.0 is not "
                                 "an integer"},
        {.in = TS("1e3"), .msg = "preload: line 1: $.timestamp: 1e3 is not "
                                 "an integer"},
        {.in = TS("253402300800"),
         .msg = "preload: line 1: $.timestamp: 253402300800 is too large "
                "(the latest is 253402300799, 9999-12-31T23:59:59Z)"},
        {.in = TS("18446744073709551617"),
         .msg = "preload: line 1: $.timestamp: 18446744073709551617 is too "
                "large (the latest is 253402300799, 9999-12-31T23:59:59Z)"},
        {.in = TS("true"),
         .msg = "preload: line 1: $.timestamp: expected an integer or an "
                "RFC 3339 date-time string, found a boolean"},
        {.in = TS("null"),
         .msg = "preload: line 1: $.timestamp: expected an integer or an "
                "RFC 3339 date-time string, found null"},
        {.in = TS("{}"),
         .msg = "preload: line 1: $.timestamp: expected an integer or an "
                "RFC 3339 date-time string, found an object"},
        {.in = "{\"timestamp\": 0, \"expires\": [1]}",
         .msg = "preload: line 1: $.expires: expected an integer or an "
                "RFC 3339 date-time string, found an array"},
        {.in = TS("\"1590000000\""),
         .msg = "preload: line 1: $.timestamp: \"1590000000\" is not a "
                "valid RFC 3339 date-time: expected "
                "YYYY-MM-DDTHH:MM:SS[.fraction][Z or +HH:MM]"},
        {.in = TS("\"\""),
         .msg = "preload: line 1: $.timestamp: \"\" is not a valid RFC 3339 "
                "date-time: expected YYYY-MM-DDTHH:MM:SS[.fraction]"
                "[Z or +HH:MM]"},
        {.in = TS("\"2020-06-03\""),
         .msg = "preload: line 1: $.timestamp: \"2020-06-03\" is not a "
                "valid RFC 3339 date-time: expected "
                "YYYY-MM-DDTHH:MM:SS[.fraction][Z or +HH:MM]"},
        {.in = TS("\"2020-06-03 00:00:00Z\""),
         .msg = "preload: line 1: $.timestamp: \"2020-06-03 00:00:00Z\" is "
                "not a valid RFC 3339 date-time: expected "
                "YYYY-MM-DDTHH:MM:SS[.fraction][Z or +HH:MM]"},
        {.in = TS("\"2020-6-03T00:00:00Z\""),
         .msg = "preload: line 1: $.timestamp: \"2020-6-03T00:00:00Z\" is "
                "not a valid RFC 3339 date-time: expected "
                "YYYY-MM-DDTHH:MM:SS[.fraction][Z or +HH:MM]"},
        {.in = "{\"timestamp\": 0, \"expires\": \"2020-06-03T00:00:00+0200\"}",
         .msg = "preload: line 1: $.expires: \"2020-06-03T00:00:00+0200\" is "
                "not a valid RFC 3339 date-time: expected "
                "YYYY-MM-DDTHH:MM:SS[.fraction][Z or +HH:MM]"},
        {.in = TS("\"2020-06-03T00:00:00.Z\""),
         .msg = "preload: line 1: $.timestamp: \"2020-06-03T00:00:00.Z\" is "
                "not a valid RFC 3339 date-time: expected "
                "YYYY-MM-DDTHH:MM:SS[.fraction][Z or +HH:MM]"},
        {.in = TS("\"2020-06-03T00:00:00ZZ\""),
         .msg = "preload: line 1: $.timestamp: \"2020-06-03T00:00:00ZZ\" is "
                "not a valid RFC 3339 date-time: expected "
                "YYYY-MM-DDTHH:MM:SS[.fraction][Z or +HH:MM]"},
        {.in = TS("\"2020-06-03T00:00:00.1234567890Z\""),
         .msg = "preload: line 1: $.timestamp: "
                "\"2020-06-03T00:00:00.1234567890Z\" is not a valid RFC 3339 "
                "date-time: more than 9 fraction digits"},
        {.in = TS("\"2020-02-30T00:00:00Z\""),
         .msg = "preload: line 1: $.timestamp: \"2020-02-30T00:00:00Z\" is "
                "not a valid RFC 3339 date-time: day out of range for the "
                "month"},
        {.in = TS("\"2021-02-29T00:00:00Z\""),
         .msg = "preload: line 1: $.timestamp: \"2021-02-29T00:00:00Z\" is "
                "not a valid RFC 3339 date-time: day out of range for the "
                "month"},
        {.in = TS("\"2100-02-29T00:00:00Z\""),
         .msg = "preload: line 1: $.timestamp: \"2100-02-29T00:00:00Z\" is "
                "not a valid RFC 3339 date-time: day out of range for the "
                "month"},
        {.in = TS("\"2020-04-31T00:00:00Z\""),
         .msg = "preload: line 1: $.timestamp: \"2020-04-31T00:00:00Z\" is "
                "not a valid RFC 3339 date-time: day out of range for the "
                "month"},
        {.in = TS("\"2020-04-00T00:00:00Z\""),
         .msg = "preload: line 1: $.timestamp: \"2020-04-00T00:00:00Z\" is "
                "not a valid RFC 3339 date-time: day out of range for the "
                "month"},
        {.in = TS("\"2020-13-01T00:00:00Z\""),
         .msg = "preload: line 1: $.timestamp: \"2020-13-01T00:00:00Z\" is "
                "not a valid RFC 3339 date-time: month out of range"},
        {.in = TS("\"2020-00-01T00:00:00Z\""),
         .msg = "preload: line 1: $.timestamp: \"2020-00-01T00:00:00Z\" is "
                "not a valid RFC 3339 date-time: month out of range"},
        {.in = TS("\"2020-06-03T24:00:00Z\""),
         .msg = "preload: line 1: $.timestamp: \"2020-06-03T24:00:00Z\" is "
                "not a valid RFC 3339 date-time: hour or minute out of "
                "range"},
        {.in = TS("\"2020-06-03T00:60:00Z\""),
         .msg = "preload: line 1: $.timestamp: \"2020-06-03T00:60:00Z\" is "
                "not a valid RFC 3339 date-time: hour or minute out of "
                "range"},
        {.in = TS("\"2016-12-31T23:59:60Z\""),
         .msg = "preload: line 1: $.timestamp: \"2016-12-31T23:59:60Z\" is "
                "not a valid RFC 3339 date-time: second out of range (no "
                "leap seconds)"},
        {.in = TS("\"2020-06-03T00:00:00+24:00\""),
         .msg = "preload: line 1: $.timestamp: \"2020-06-03T00:00:00+24:00\" "
                "is not a valid RFC 3339 date-time: time zone offset out of "
                "range"},
        {.in = TS("\"2020-06-03T00:00:00-01:60\""),
         .msg = "preload: line 1: $.timestamp: \"2020-06-03T00:00:00-01:60\" "
                "is not a valid RFC 3339 date-time: time zone offset out of "
                "range"},
        {.in = TS("\"1969-12-31T23:59:59Z\""),
         .msg = "preload: line 1: $.timestamp: \"1969-12-31T23:59:59Z\" is "
                "not a valid RFC 3339 date-time: before "
                "1970-01-01T00:00:00Z"},
        {.in = TS("\"1970-01-01T00:00:00+00:01\""),
         .msg = "preload: line 1: $.timestamp: \"1970-01-01T00:00:00+00:01\" "
                "is not a valid RFC 3339 date-time: before "
                "1970-01-01T00:00:00Z"},
        {.in = TS("\"0000-01-01T00:00:00Z\""),
         .msg = "preload: line 1: $.timestamp: \"0000-01-01T00:00:00Z\" is "
                "not a valid RFC 3339 date-time: before "
                "1970-01-01T00:00:00Z"},
        {.in = TS("\"9999-12-31T23:59:59-00:01\""),
         .msg = "preload: line 1: $.timestamp: \"9999-12-31T23:59:59-00:01\" "
                "is not a valid RFC 3339 date-time: after "
                "9999-12-31T23:59:59Z"},
        {.in = TS("\"+2020-06-03T00:00:00Z\""),
         .msg = "preload: line 1: $.timestamp: \"+2020-06-03T00:00:00Z\" is "
                "not a valid RFC 3339 date-time: expected "
                "YYYY-MM-DDTHH:MM:SS[.fraction][Z or +HH:MM]"},
        {.in = TS("\"2020-06-03T00:00:00.000000000000000000000000Z\""),
         .msg = "preload: line 1: $.timestamp: "
                "\"2020-06-03T00:00:00.000000000000000000000000Z\" is not a "
                "valid RFC 3339 date-time: expected "
                "YYYY-MM-DDTHH:MM:SS[.fraction][Z or +HH:MM]"},
    };

    return cr_make_param_array(struct bad, cases, N_OF(cases));
}

ParameterizedTest(struct bad *b, preload, rejects_bad_times)
{
    check_bad(b);
}

ParameterizedTestParameters(preload, rejects_bad_policy)
{
    static struct bad cases[] = {
        {.in = POL("[]"),
         .msg = "preload: line 1: " PATH_EFF ": expected an object, found an "
                "array"},
        {.in = POL("\"enforce\""),
         .msg = "preload: line 1: " PATH_EFF ": expected an object, found a "
                "string"},
        {.in = POL("{}"),
         .msg = "preload: line 1: " PATH_EFF ": empty policy (needs \"mode\" "
                "and \"mxs\", or \"policy-alias\")"},
        {.in = POL("{\"mxs\": [\"a.eff.org\"]}"),
         .msg = "preload: line 1: " PATH_EFF ": missing key \"mode\""},
        {.in = POL("{\"mode\": \"enforce\"}"),
         .msg = "preload: line 1: " PATH_EFF ": missing key \"mxs\""},
        {.in = POL("{\"mode\": \"enforce\", \"mxs\": [\"a.eff.org\"], "
                   "\"pin\": \"eff\"}"),
         .msg = "preload: line 1: " PATH_EFF "[\"pin\"]: unknown key (schema "
                "0.1 allows mode, mxs or policy-alias)"},
        {.in = POL("{\"mta-sts\": true}"),
         .msg = "preload: line 1: " PATH_EFF "[\"mta-sts\"]: unknown key "
                "(schema 0.1 allows mode, mxs or policy-alias)"},
        {.in = POL("{\"min-tls-version\": \"TLSv1.2\"}"),
         .msg = "preload: line 1: " PATH_EFF "[\"min-tls-version\"]: unknown "
                "key (schema 0.1 allows mode, mxs or policy-alias)"},
        {.in = POL("{\"mode\": \"none\", \"mxs\": [\"a.eff.org\"]}"),
         .msg = "preload: line 1: " PATH_EFF ".mode: \"none\" is not "
                "\"testing\" or \"enforce\""},
        {.in = POL("{\"mode\": \"Enforce\"}"),
         .msg = "preload: line 1: " PATH_EFF ".mode: \"Enforce\" is not "
                "\"testing\" or \"enforce\""},
        {.in = POL("{\"mode\": 1}"),
         .msg = "preload: line 1: " PATH_EFF ".mode: expected \"testing\" or "
                "\"enforce\", found a number"},
        {.in = POL("{\"mode\": \"testing\", \"mode\": \"enforce\"}"),
         .msg = "preload: line 1: " PATH_EFF ".mode: duplicate key"},
        {.in = POL("{\"mxs\": [\"a.b\"], \"mxs\": [\"a.b\"]}"),
         .msg = "preload: line 1: " PATH_EFF ".mxs: duplicate key"},
    };

    return cr_make_param_array(struct bad, cases, N_OF(cases));
}

ParameterizedTest(struct bad *b, preload, rejects_bad_policy)
{
    check_bad(b);
}

ParameterizedTestParameters(preload, rejects_bad_mxs)
{
    static struct bad cases[] = {
        {.in = POL("{\"mode\": \"enforce\", \"mxs\": \"a.eff.org\"}"),
         .msg = "preload: line 1: " PATH_EFF ".mxs: expected an array of MX "
                "names, found a string"},
        {.in = MXS(""),
         .msg = "preload: line 1: " PATH_EFF ".mxs: empty array (at least "
                "one MX name is required)"},
        {.in = MXS("1"),
         .msg = "preload: line 1: " PATH_EFF ".mxs[0]: expected a string, "
                "found a number"},
        {.in = MXS("\"a.eff.org\", [\"b.eff.org\"]"),
         .msg = "preload: line 1: " PATH_EFF ".mxs[1]: expected a string, "
                "found an array"},
        {.in = MXS("\"mx1.eff.org\", \"mail..eff.org\""),
         .msg = "preload: line 1: " PATH_EFF ".mxs[1]: \"mail..eff.org\" is "
                "not a valid MX name (empty label)"},
        {.in = MXS("\"\""),
         .msg = "preload: line 1: " PATH_EFF ".mxs[0]: \"\" is not a valid "
                "MX name (empty)"},
        {.in = MXS("\"mx.eff.org.\""),
         .msg = "preload: line 1: " PATH_EFF ".mxs[0]: \"mx.eff.org.\" is "
                "not a valid MX name (trailing dot)"},
        {.in = MXS("\"mx_1.eff.org\""),
         .msg = "preload: line 1: " PATH_EFF ".mxs[0]: \"mx_1.eff.org\" is "
                "not a valid MX name (invalid character '_' at offset 2)"},
        {.in = MXS("\"-mx.eff.org\""),
         .msg = "preload: line 1: " PATH_EFF ".mxs[0]: \"-mx.eff.org\" is "
                "not a valid MX name (label starts with hyphen)"},
        {.in = MXS("\".mx_1.eff.org\""),
         .msg = "preload: line 1: " PATH_EFF ".mxs[0]: \".mx_1.eff.org\" is "
                "not a valid MX name (as \"*.mx_1.eff.org\": invalid "
                "character '_' at offset 4)"},
        {.in = MXS("\".\""),
         .msg = "preload: line 1: " PATH_EFF ".mxs[0]: \".\" is not a valid "
                "MX name (as \"*.\": wildcard without a domain)"},
        {.in = MXS("\"..eff.org\""),
         .msg = "preload: line 1: " PATH_EFF ".mxs[0]: \"..eff.org\" is not "
                "a valid MX name (as \"*..eff.org\": empty label)"},
        {.in = MXS("\"*.eff.org\""),
         .msg = "preload: line 1: " PATH_EFF ".mxs[0]: \"*.eff.org\" is not "
                "a valid MX name (write a suffix as \".example.net\", not "
                "\"*.example.net\")"},
        {.in = MXS("\"b\xc3\xbc" "cher.example\""),
         .msg = "preload: line 1: " PATH_EFF ".mxs[0]: \"b\\xc3\\xbccher."
                "example\" is not a valid MX name (invalid character 0xc3 at "
                "offset 1)"},
        {.in = MXS("\"mx.eff.org\", \"a.eff.org\", \"MX.EFF.ORG\""),
         .msg = "preload: line 1: " PATH_EFF ".mxs[2]: \"MX.EFF.ORG\" "
                "repeats mxs[0] (entries must be unique)"},
        {.in = MXS("\".eff.org\", \".eff.org\""),
         .msg = "preload: line 1: " PATH_EFF ".mxs[1]: \".eff.org\" repeats "
                "mxs[0] (entries must be unique)"},
        {.in = MXS("\"a.eff.org\",\n\"b.eff.org\",\n\"a.eff.org\""),
         .msg = "preload: line 3: " PATH_EFF ".mxs[2]: \"a.eff.org\" repeats "
                "mxs[0] (entries must be unique)"},
    };

    return cr_make_param_array(struct bad, cases, N_OF(cases));
}

ParameterizedTest(struct bad *b, preload, rejects_bad_mxs)
{
    check_bad(b);
}

ParameterizedTestParameters(preload, rejects_bad_aliases)
{
    static struct bad cases[] = {
        {.in = POL("{\"policy-alias\": \"a\", \"mode\": \"enforce\"}"),
         .msg = "preload: line 1: " PATH_EFF ".mode: \"mode\" cannot be "
                "combined with \"policy-alias\""},
        {.in = POL("{\"policy-alias\": \"a\", \"mxs\": [\"a.b\"]}"),
         .msg = "preload: line 1: " PATH_EFF ".mxs: \"mxs\" cannot be "
                "combined with \"policy-alias\""},
        {.in = POL("{\"mode\": \"enforce\", \"policy-alias\": \"a\"}"),
         .msg = "preload: line 1: " PATH_EFF "[\"policy-alias\"]: "
                "\"policy-alias\" cannot be combined with other keys"},
        {.in = POL("{\"policy-alias\": \"a\", \"policy-alias\": \"a\"}"),
         .msg = "preload: line 1: " PATH_EFF "[\"policy-alias\"]: duplicate "
                "key"},
        {.in = POL("{\"policy-alias\": \"nope\"}"),
         .msg = "preload: line 1: " PATH_EFF "[\"policy-alias\"]: unknown "
                "alias \"nope\""},
        {.in = DOC("\"a\": {\"mode\": \"enforce\", \"mxs\": [\"a.b\"]}",
                   "\"eff.org\": {\"policy-alias\": \"A\"}"),
         .msg = "preload: line 1: " PATH_EFF "[\"policy-alias\"]: unknown "
                "alias \"A\""},
        {.in = DOC("\"ab\": {\"mode\": \"enforce\", \"mxs\": [\"a.b\"]}",
                   "\"eff.org\": {\"policy-alias\": \"a\\u0000\"}"),
         .msg = "preload: line 1: " PATH_EFF "[\"policy-alias\"]: unknown "
                "alias \"a\\x00\""},
        {.in = POL("{\"policy-alias\": \"\"}"),
         .msg = "preload: line 1: " PATH_EFF "[\"policy-alias\"]: empty "
                "alias name"},
        {.in = POL("{\"policy-alias\": 1}"),
         .msg = "preload: line 1: " PATH_EFF "[\"policy-alias\"]: expected an "
                "alias name, found a number"},
        {.in = POL("{\"policy-alias\": {\"mode\": \"enforce\"}}"),
         .msg = "preload: line 1: " PATH_EFF "[\"policy-alias\"]: expected an "
                "alias name, found an object"},
        {.in = DOC("\"a\": {\"mode\": \"enforce\", \"mxs\": [\"a.b\"]}, "
                   "\"b\": {\"policy-alias\": \"a\"}", ""),
         .msg = "preload: line 1: $[\"policy-aliases\"][\"b\"]"
                "[\"policy-alias\"]: an alias definition cannot itself refer "
                "to an alias"},
        {.in = ALIAS("{\"mode\": \"enforce\"}"),
         .msg = "preload: line 1: $[\"policy-aliases\"][\"a\"]: missing key "
                "\"mxs\""},
        {.in = ALIAS("{\"mxs\": [\"a.b\"]}"),
         .msg = "preload: line 1: $[\"policy-aliases\"][\"a\"]: missing key "
                "\"mode\""},
        {.in = ALIAS("{}"),
         .msg = "preload: line 1: $[\"policy-aliases\"][\"a\"]: empty policy "
                "(needs \"mode\" and \"mxs\")"},
        {.in = ALIAS("\"google\""),
         .msg = "preload: line 1: $[\"policy-aliases\"][\"a\"]: expected an "
                "object, found a string"},
        {.in = ALIAS("{\"mode\": \"enforce\", \"mxs\": [\"a.b\"], "
                     "\"report\": []}"),
         .msg = "preload: line 1: $[\"policy-aliases\"][\"a\"][\"report\"]: "
                "unknown key (schema 0.1 allows mode, mxs)"},
        {.in = ALIAS("{\"mode\": \"testing\", \"mxs\": [\"a..b\"]}"),
         .msg = "preload: line 1: $[\"policy-aliases\"][\"a\"].mxs[0]: "
                "\"a..b\" is not a valid MX name (empty label)"},
        {.in = DOC("\"\": {\"mode\": \"enforce\", \"mxs\": [\"a.b\"]}", ""),
         .msg = "preload: line 1: $[\"policy-aliases\"]: empty alias name"},
        {.in = "{" TOP ",\n\"policy-aliases\": {\n"
               "\"x\": {\"mode\": \"enforce\", \"mxs\": [\"a.b\"]},\n"
               "\"y\": {\"mode\": \"enforce\", \"mxs\": [\"a.b\"]},\n"
               "\"x\": {\"mode\": \"testing\", \"mxs\": [\"a.b\"]},\n"
               "\"y\": {\"mode\": \"testing\", \"mxs\": [\"a.b\"]}},\n"
               "\"policies\": {}}",
         .msg = "preload: line 5: $[\"policy-aliases\"][\"x\"]: duplicate key "
                "(first at line 3)"},
    };

    return cr_make_param_array(struct bad, cases, N_OF(cases));
}

ParameterizedTest(struct bad *b, preload, rejects_bad_aliases)
{
    check_bad(b);
}

ParameterizedTestParameters(preload, rejects_bad_domains)
{
    static struct bad cases[] = {
        {.in = DOC("", "\"bad..dom\": {}"),
         .msg = "preload: line 1: $.policies[\"bad..dom\"]: not a valid "
                "domain name (empty label)"},
        {.in = DOC("", "\"192.0.2.1\": {}"),
         .msg = "preload: line 1: $.policies[\"192.0.2.1\"]: not a valid "
                "domain name (IP address literal)"},
        {.in = DOC("", "\"[192.0.2.1]\": {}"),
         .msg = "preload: line 1: $.policies[\"[192.0.2.1]\"]: not a valid "
                "domain name (bracketed next hop)"},
        {.in = DOC("", "\".eff.org\": {}"),
         .msg = "preload: line 1: $.policies[\".eff.org\"]: not a valid "
                "domain name (leading dot (parent-domain lookup key))"},
        {.in = DOC("", "\"\": {}"),
         .msg = "preload: line 1: $.policies[\"\"]: not a valid domain name "
                "(empty)"},
        {.in = DOC("", "\"a b.org\": {}"),
         .msg = "preload: line 1: $.policies[\"a b.org\"]: not a valid "
                "domain name (invalid character 0x20 at offset 1)"},
        {.in = DOC("", "\"eff\\u0000.org\": {}"),
         .msg = "preload: line 1: $.policies[\"eff\\x00.org\"]: not a valid "
                "domain name (invalid character 0x00 at offset 3)"},
        {.in = "{" TOP ", \"policy-aliases\": {}, \"policies\": {\n"
               "\"eff.org\": {\"mode\": \"enforce\", \"mxs\": [\"a.b\"]},\n"
               "\"eff.org\": {\"mode\": \"testing\", \"mxs\": [\"a.b\"]}}}",
         .msg = "preload: line 3: $.policies[\"eff.org\"]: duplicate key "
                "(first at line 2)"},
        {.in = "{" TOP ", \"policy-aliases\": {}, \"policies\": {\n"
               "\"eff.org\": {\"mode\": \"enforce\", \"mxs\": [\"a.b\"]},\n"
               "\"b.org\": {\"mode\": \"enforce\", \"mxs\": [\"a.b\"]},\n"
               "\"EFF.org\": {\"mode\": \"testing\", \"mxs\": [\"a.b\"]},\n"
               "\"b.org.\": {\"mode\": \"testing\", \"mxs\": [\"a.b\"]}}}",
         .msg = "preload: line 4: $.policies[\"EFF.org\"]: same domain as "
                "line 2 after normalization (\"eff.org\")"},
        {.in = "{" TOP ", \"policy-aliases\": {}, \"policies\": {\n"
               "\"eff.org.\": {\"mode\": \"enforce\", \"mxs\": [\"a.b\"]},\n"
               "\"eff.org\": {\"mode\": \"testing\", \"mxs\": [\"a.b\"]}}}",
         .msg = "preload: line 3: $.policies[\"eff.org\"]: same domain as "
                "line 2 after normalization (\"eff.org\")"},
    };

    return cr_make_param_array(struct bad, cases, N_OF(cases));
}

ParameterizedTest(struct bad *b, preload, rejects_bad_domains)
{
    check_bad(b);
}

/* A complete valid document, for what may follow it. */
#define VALID DOC("", "")

ParameterizedTestParameters(preload, rejects_yaml_that_is_not_json)
{
    static struct bad cases[] = {
        {.in = AUTHOR("&x \"a\""),
         .msg = "preload: line 1: $.author: anchor &x is not JSON (YAML "
                "anchors and aliases are refused)"},
        {.in = AUTHOR("*x"),
         .msg = "preload: line 1: $.author: alias *x is not JSON (YAML "
                "anchors and aliases are refused)"},
        /* billion laughs: refused at the first anchor */
        {.in = "{\"author\": [&a [\"lol\", \"lol\"], &b [*a, *a, *a], "
               "&c [*b, *b, *b], &d [*c, *c, *c]]}",
         .msg = "preload: line 1: $.author: anchor &a is not JSON (YAML "
                "anchors and aliases are refused)"},
        {.in = DOC("\"lol\": &l {\"mode\": \"enforce\", \"mxs\": "
                   "[\"a.b\"]}", "\"a.org\": *l"),
         .msg = "preload: line 1: $[\"policy-aliases\"][\"lol\"]: anchor &l "
                "is not JSON (YAML anchors and aliases are refused)"},
        {.in = DOC("", "\"a.org\": {\"mode\": \"enforce\", \"mxs\": "
                   "&m [\"a.b\"]}, \"b.org\": {\"mode\": \"enforce\", "
                   "\"mxs\": *m}"),
         .msg = "preload: line 1: $.policies[\"a.org\"].mxs: anchor &m is "
                "not JSON (YAML anchors and aliases are refused)"},
        {.in = AUTHOR("!!str \"a\""),
         .msg = "preload: line 1: $.author: tag tag:yaml.org,2002:str is not "
                "JSON"},
        {.in = AUTHOR("!local {}"),
         .msg = "preload: line 1: $.author: tag !local is not JSON"},
        {.in = AUTHOR("'a'"),
         .msg = "preload: line 1: $.author: single-quoted string is not "
                "JSON"},
        {.in = AUTHOR("a"),
         .msg = "preload: line 1: $.author: unquoted text \"a\" is not JSON "
                "(strings need double quotes)"},
        {.in = AUTHOR("yes"),
         .msg = "preload: line 1: $.author: unquoted text \"yes\" is not "
                "JSON (strings need double quotes)"},
        {.in = AUTHOR("~"),
         .msg = "preload: line 1: $.author: unquoted text \"~\" is not JSON "
                "(strings need double quotes)"},
        {.in = TS("0x10"),
         .msg = "preload: line 1: $.timestamp: unquoted text \"0x10\" is not "
                "JSON (strings need double quotes)"},
        {.in = TS("1_000"),
         .msg = "preload: line 1: $.timestamp: unquoted text \"1_000\" is "
                "not JSON (strings need double quotes)"},
        {.in = TS("01"),
         .msg = "preload: line 1: $.timestamp: unquoted text \"01\" is not "
                "JSON (strings need double quotes)"},
        {.in = TS(".inf"),
         .msg = "preload: line 1: $.timestamp: unquoted text \".inf\" is not "
                "JSON (strings need double quotes)"},
        {.in = TS("+1"),
         .msg = "preload: line 1: $.timestamp: unquoted text \"+1\" is not "
                "JSON (strings need double quotes)"},
        {.in = "{timestamp: 1}",
         .msg = "preload: line 1: $: object key timestamp is not a string"},
        {.in = "{1: 2}",
         .msg = "preload: line 1: $: object key 1 is not a string"},
        {.in = "{: 2}",
         .msg = "preload: line 1: $: syntax error: did not find expected "
                "node content (while parsing a flow node)"},
        {.in = "{[1]: 2}",
         .msg = "preload: line 1: $: object key is not a string"},
        {.in = AUTHOR(""), .msg = "preload: line 1: $.author: missing value"},
        {.in = "{\"author\"}",
         .msg = "preload: line 1: $.author: missing ':' after the key"},
        {.in = "{\"author\" \n # note\n: \"a\"}",
         .msg = "preload: line 2: $.author: comment is not JSON"},
        {.in = "{ # lists\n" TOP "}",
         .msg = "preload: line 1: $: comment is not JSON"},
        {.in = VALID " # end",
         .msg = "preload: line 1: $: comment is not JSON"},
        {.in = "{" TOP ", \"policy-aliases\": {}, \"policies\": {},\n}",
         .msg = "preload: line 1: $: trailing comma is not JSON"},
        {.in = MXS("\"a.eff.org\",\n"),
         .msg = "preload: line 1: " PATH_EFF ".mxs: trailing comma is not "
                "JSON"},
        {.in = "{? \"timestamp\": 1}",
         .msg = "preload: line 1: $: '?' outside a value is not JSON"},
        {.in = "[\"a\": 1]",
         .msg = "preload: line 1: $: object without braces is not JSON"},
        {.in = "timestamp: 1\n",
         .msg = "preload: line 1: $: block-style mapping is not JSON (use "
                "braces and brackets)"},
        {.in = "\"timestamp\": 1\n",
         .msg = "preload: line 1: $: block-style mapping is not JSON (use "
                "braces and brackets)"},
        {.in = "- 1\n",
         .msg = "preload: line 1: $: block-style sequence is not JSON (use "
                "braces and brackets)"},
        {.in = "|\n  {}\n",
         .msg = "preload: line 1: $: block scalar ('|' or '>') is not JSON"},
        {.in = "---\n" VALID,
         .msg = "preload: line 1: $: YAML directives and the '---' marker "
                "are not JSON"},
        {.in = "%YAML 1.1\n---\n" VALID,
         .msg = "preload: line 1: $: YAML directives and the '---' marker "
                "are not JSON"},
        {.in = VALID "\n---\n" VALID,
         .msg = "preload: line 2: $: a second document is not JSON"},
        {.in = VALID "\n...\n",
         .msg = "preload: line 2: $: the '...' document end marker is not "
                "JSON"},
        {.in = VALID " " VALID,
         .msg = "preload: line 1: $: syntax error: did not find expected "
                "<document start>"},
        {.in = AUTHOR("\"\\x41\""),
         .msg = "preload: line 1: $.author: escape \"\\x\" is not JSON"},
        {.in = AUTHOR("\"\\e\""),
         .msg = "preload: line 1: $.author: escape \"\\e\" is not JSON"},
        {.in = AUTHOR("\"\\0\""),
         .msg = "preload: line 1: $.author: escape \"\\0\" is not JSON"},
        {.in = AUTHOR("\"\\N\\_\""),
         .msg = "preload: line 1: $.author: escape \"\\N\" is not JSON"},
        {.in = AUTHOR("\"\\U0001F4E7\""),
         .msg = "preload: line 1: $.author: escape \"\\U\" is not JSON"},
        {.in = AUTHOR("\"a\\ b\""),
         .msg = "preload: line 1: $.author: escape \"\\ \" is not JSON"},
        {.in = AUTHOR("\"a\\\n b\""),
         .msg = "preload: line 1: $.author: escape \"\\\\x0a\" is not JSON"},
        {.in = AUTHOR("\"a\tb\""),
         .msg = "preload: line 1: $.author: control character 0x09 in a "
                "string is not JSON (write it as \\u0009)"},
        {.in = AUTHOR("\"a\n b\""),
         .msg = "preload: line 1: $.author: control character 0x0a in a "
                "string is not JSON (write it as \\u000a)"},
        {.in = AUTHOR("\"a\xe2\x80\xa8" "b\""),
         .msg = "preload: line 1: $.author: raw NEL, LS or PS in a string: "
                "YAML reads it as a line break (write it as a \\u escape)"},
        {.in = AUTHOR("\"a\xc2\x85" "b\""),
         .msg = "preload: line 1: $.author: raw NEL, LS or PS in a string: "
                "YAML reads it as a line break (write it as a \\u escape)"},
        /* libyaml finds these while looking ahead from the key: the
         * line is exact, the path only as far as the parser had got */
        {.in = AUTHOR("\"\\ud83d\\udce7\""),
         .msg = "preload: line 1: $: syntax error: found invalid "
                "Unicode character escape code (while parsing a quoted "
                "scalar); \\u escapes of UTF-16 surrogates are not "
                "supported, write the character as UTF-8"},
        {.in = AUTHOR("\"\\q\""),
         .msg = "preload: line 1: $: syntax error: found unknown "
                "escape character (while parsing a quoted scalar)"},
    };

    return cr_make_param_array(struct bad, cases, N_OF(cases));
}

ParameterizedTest(struct bad *b, preload, rejects_yaml_that_is_not_json)
{
    check_bad(b);
}

ParameterizedTestParameters(preload, rejects_malformed_input)
{
    static struct bad cases[] = {
        {.in = "   \n  ",
         .msg = "preload: line 2: $: expected an object, found nothing"},
        /* YAML reads this as one plain scalar: still no JSON */
        {.in = "{\"timestamp\": 1 \"expires\": 2}",
         .msg = "preload: line 1: $.timestamp: unquoted text \"1 "
                "\\\"expires\\\"\" is not JSON (strings need double "
                "quotes)"},
        {.in = "{\"timestamp\": 1,, \"expires\": 2}",
         .msg = "preload: line 1: $: syntax error: did not find expected "
                "node content (while parsing a flow node)"},
        {.in = "{\n\"timestamp\": 1,\n\"expires\": [2\n}",
         .msg = "preload: line 4: $.expires: syntax error: did not find "
                "expected ',' or ']' (while parsing a flow sequence)"},
        {.in = "{\"timestamp\": \"2020",
         .msg = "preload: line 1: $: syntax error: found unexpected end of "
                "stream (while scanning a quoted scalar)"},
        {.in = "{\"a\": 1}}",
         .msg = "preload: line 1: $[\"a\"]: unknown key (schema 0.1 allows "
                "timestamp, expires, version, author, policies, "
                "policy-aliases)"},
        {.in = VALID "}",
         .msg = "preload: line 1: $: syntax error: did not find expected "
                "<document start>"},
        {.in = "{\xff}",
         .msg = "preload: line 1: $: syntax error: invalid leading UTF-8 "
                "octet (0xff at byte 1)"},
        {.in = "{\n\"author\": \"\xc3\x28\"}",
         .msg = "preload: line 2: $: syntax error: invalid trailing UTF-8 "
                "octet (0x28 at byte 14)"},
        {.in = "{\x01}",
         .msg = "preload: line 1: $: syntax error: control characters are "
                "not allowed (0x1 at byte 1)"},
        {.in = "{\0}", .len = 3,
         .msg = "preload: line 1: $: syntax error: control characters are "
                "not allowed (0x0 at byte 1)"},
        /* RFC 8259 §8.1: UTF-8 only, even with a UTF-16 byte order mark */
        {.in = "\xff\xfe{\0}\0", .len = 6,
         .msg = "preload: line 1: $: syntax error: invalid leading UTF-8 "
                "octet (0xff at byte 0)"},
        {.in = "{\"author\": \xef\xbb\xbf \"x\"}",
         .msg = "preload: line 1: $.author: unquoted text \"\\xef\\xbb"
                "\\xbf \\\"x\\\"\" is not JSON (strings need double "
                "quotes)"},
    };

    return cr_make_param_array(struct bad, cases, N_OF(cases));
}

ParameterizedTest(struct bad *b, preload, rejects_malformed_input)
{
    check_bad(b);
}

Test(preload, rejects_empty_input)
{
    struct tp_preload pl;
    struct tp_err e = {""};

    pl_fail_n("", 0, TP_ESYNTAX, "preload: empty input");
    pl_fail_n("\xef\xbb\xbf", 3, TP_ESYNTAX, "preload: empty input");
    cr_assert_eq(tp_preload_parse(NULL, 0, &pl, &e), TP_ESYNTAX);
    cr_assert_str_eq(e.msg, "preload: empty input");
    cr_assert_eq(tp_preload_parse(NULL, 5, &pl, &e), TP_ESYNTAX);
}

/* ---- limits ---- */

Test(preload, rejects_more_than_64_mxs)
{
    char buf[8192], *w = buf;
    int i;

    w += snprintf(w, 200, "{" TOP ", \"policy-aliases\": {}, \"policies\": "
                  "{\"eff.org\": {\"mode\": \"enforce\", \"mxs\": [");
    for (i = 0; i <= TP_STS_MX_MAX; i++)
        w += snprintf(w, 32, "%s\"mx%d.eff.org\"", i ? ", " : "", i);
    snprintf(w, 8, "]}}}");
    pl_fail_n(buf, strlen(buf), TP_ETOOBIG, "preload: line 1: " PATH_EFF
              ".mxs[64]: more than 64 MX names");
}

Test(preload, accepts_nesting_to_the_limit_and_refuses_deeper)
{
    char buf[256];

    /* The object is level 1; 15 arrays make 16, the limit. */
    snprintf(buf, sizeof(buf), AUTHOR("%.15s%.15s"), "[[[[[[[[[[[[[[[",
             "]]]]]]]]]]]]]]]");
    pl_fail_n(buf, strlen(buf), TP_ESYNTAX, "preload: line 1: $.author: "
              "expected a string, found an array");
    snprintf(buf, sizeof(buf), AUTHOR("%.16s%.16s"), "[[[[[[[[[[[[[[[[",
             "]]]]]]]]]]]]]]]]");
    pl_fail_n(buf, strlen(buf), TP_ETOOBIG, "preload: line 1: $.author: "
              "nested deeper than 16 levels");
    snprintf(buf, sizeof(buf), TS("%.16s%.16s"), "{\"a\":{\"a\":{\"a\":{",
             "}}}}}}}}}}}}}}}}");
    pl_fail_n(buf, strlen(buf), TP_ESYNTAX, "preload: line 1: $.timestamp: "
              "expected an integer or an RFC 3339 date-time string, found an "
              "object");
}

Test(preload, refuses_very_deep_nesting_without_recursion)
{
    size_t n = 1000000, i;
    char *buf = malloc(n + 32);

    cr_assert_not_null(buf);
    memcpy(buf, "{\"author\": ", 11);
    for (i = 0; i < n; i++)
        buf[11 + i] = '[';
    pl_fail_n(buf, 11 + n, TP_ETOOBIG, "preload: line 1: $.author: nested "
              "deeper than 16 levels");
    for (i = 0; i < n; i++)
        buf[i] = '[';
    pl_fail_n(buf, n, TP_ETOOBIG, "preload: line 1: $: nested deeper than 16 "
              "levels");
    free(buf);
}

Test(preload, rejects_input_over_file_max)
{
    size_t n = TP_PRELOAD_FILE_MAX + 1;
    char *buf = malloc(n);
    char msg[64];

    cr_assert_not_null(buf);
    memset(buf, ' ', n);
    snprintf(msg, sizeof(msg), "preload: larger than %d bytes",
             TP_PRELOAD_FILE_MAX);
    pl_fail_n(buf, n, TP_ETOOBIG, msg);
    free(buf);
}

Test(preload, accepts_input_of_exactly_file_max)
{
    size_t n = TP_PRELOAD_FILE_MAX;
    char *buf = malloc(n);
    struct tp_preload pl;

    cr_assert_not_null(buf);
    memset(buf, '\n', n);
    memcpy(buf, realistic, sizeof(realistic) - 1);
    pl_ok_n(buf, n, &pl);
    cr_assert_eq(pl.n, 3);
    tp_preload_free(&pl);
    free(buf);
}

/* An alias of 64 names of 250 octets, referred to by many domains,
 * expands past PRELOAD_EXPANDED_MAX (4 * TP_PRELOAD_FILE_MAX) bytes. */
Test(preload, refuses_alias_expansion_past_limit)
{
    size_t cap = 1024 * 1024, i, j, refs = 4200, per;
    char *buf = malloc(cap), *w = buf, msg[200];

    cr_assert_not_null(buf);
    w += snprintf(w, 200, "{" TOP ", \"policy-aliases\": {\"big\": {\"mode\":"
                  " \"enforce\", \"mxs\": [");
    for (i = 0; i < TP_STS_MX_MAX; i++) {
        w += snprintf(w, 8, "%s\"m%02zu", i ? "," : "", i);
        for (j = 0; j < 4; j++) {
            memset(w, 'a', 60);
            w += 60;
            *w++ = '.';
        }
        w += snprintf(w, 8, "test\"");
    }
    w += snprintf(w, 32, "]}},\n\"policies\": {");
    for (i = 0; i < refs; i++)
        w += snprintf(w, 64, "%s\"d%zu.test\": {\"policy-alias\": \"big\"}",
                      i ? "," : "", i);
    w += snprintf(w, 8, "}}");
    cr_assert_lt((size_t)(w - buf), cap);
    /* Each name is 251 octets: with its NUL and pointer, 260 bytes. */
    per = TP_STS_MX_MAX * (251 + 1 + sizeof(char *));
    snprintf(msg, sizeof(msg), "preload: line 2: $.policies[\"d%zu.test\"]: "
             "MX names after alias expansion exceed %zu bytes",
             (size_t)4 * TP_PRELOAD_FILE_MAX / per,
             (size_t)4 * TP_PRELOAD_FILE_MAX);
    pl_fail_n(buf, (size_t)(w - buf), TP_ETOOBIG, msg);
    free(buf);
}

/* ---- sample lists for integration tests ---- */

/* read_data - tests/data/preload/<name>, found from this source file's
 * path (relative to the build directory, where the binary lives) */
static char *
read_data(const char *name, size_t *len)
{
    char exe[4096], src[sizeof(__FILE__)], path[8192];
    const char *dir;
    ssize_t n;
    FILE *f;
    char *buf;
    long sz;

    memcpy(src, __FILE__, sizeof(src));
    dir = dirname(src);
    if (dir[0] == '/') {
        snprintf(path, sizeof(path), "%s/../data/preload/%s", dir, name);
    } else {
        /* <build>/tests/unit/test-preload */
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        cr_assert_gt(n, 0);
        exe[n] = '\0';
        snprintf(path, sizeof(path), "%s/../../%s/../data/preload/%s",
                 dirname(exe), dir, name);
    }
    f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    sz = ftell(f);
    cr_assert_gt(sz, 0);
    rewind(f);
    buf = malloc((size_t)sz);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *len = (size_t)sz;
    return buf;
}

/* load - parse a sample list, which must be valid */
static void
load(const char *name, struct tp_preload *pl)
{
    size_t len;
    char *buf = read_data(name, &len);

    pl_ok_n(buf, len, pl);
    free(buf);
}

Test(preload, sample_lists_have_the_documented_content)
{
    struct tp_preload valid, older, expired, overlay;
    const struct tp_preload_entry *x;
    struct tp_err e = {""};
    struct tp_preload bad;
    size_t len, i;
    char *buf;

    load("valid.json", &valid);
    cr_assert_eq(valid.n, 3);
    cr_assert_eq(valid.timestamp, 1735689600);
    cr_assert_eq(valid.expires, 4102444799);  /* 2099-12-31T23:59:59Z */
    x = tp_preload_find(&valid, "preload-enforce.test");
    cr_assert_not_null(x);
    cr_assert_eq(x->mode, TP_STS_MODE_ENFORCE);
    cr_assert_eq(x->n_mx, 1);
    cr_assert_str_eq(x->mx[0], "mx1.preload-enforce.test");
    x = tp_preload_find(&valid, "preload-testing.test");
    cr_assert_not_null(x);
    cr_assert_eq(x->mode, TP_STS_MODE_TESTING);
    x = tp_preload_find(&valid, "preload-alias.test");
    cr_assert_not_null(x);
    cr_assert_eq(x->mode, TP_STS_MODE_ENFORCE);
    cr_assert_str_eq(x->mx[0], "*.preload-alias.test");

    load("older.json", &older);
    cr_assert_lt(older.timestamp, valid.timestamp);
    cr_assert_eq(older.n, valid.n);
    for (i = 0; i < valid.n; i++)
        cr_assert_str_eq(older.e[i].domain, valid.e[i].domain);

    load("expired.json", &expired);
    cr_assert_eq(expired.expires, 1591142400);  /* 2020-06-03 */
    cr_assert_eq(expired.n, 3);

    load("overlay.json", &overlay);
    cr_assert_eq(overlay.n, 1);
    cr_assert_str_eq(overlay.e[0].domain, "preload-testing.test");
    cr_assert_eq(overlay.e[0].mode, TP_STS_MODE_ENFORCE);
    cr_assert_str_eq(overlay.e[0].mx[0], "mx1.preload-testing.test");

    buf = read_data("bad-schema.json", &len);
    cr_assert_eq(tp_preload_parse((const uint8_t *)buf, len, &bad, &e),
                 TP_ESYNTAX);
    cr_assert_str_eq(e.msg, "preload: line 5: $[\"pinsets\"]: unknown key "
                     "(schema 0.1 allows timestamp, expires, version, "
                     "author, policies, policy-aliases)");
    free(buf);
    tp_preload_free(&valid);
    tp_preload_free(&older);
    tp_preload_free(&expired);
    tp_preload_free(&overlay);
    ASSERT_NO_LEAKS();
}

/* ---- allocation failures ---- */

/* fail_every_alloc - fail each allocation of parsing s in turn: every
 * failure is TP_ENOMEM with *out empty, else the result is want_rc and
 * want_msg; returns how many allocations there were */
static unsigned long
fail_every_alloc(const char *s, int want_rc, const char *want_msg)
{
    struct tp_preload pl;
    struct tp_err e;
    unsigned long k, pending;
    int rc;

    for (k = 1;; k++) {
        memset(&e, 0, sizeof(e));
        memset(&pl, 0xa5, sizeof(pl));
        tp_alloc_fail_at(k);
        rc = pl_parse(s, strlen(s), &pl, &e);
        pending = tp_alloc_fail_pending();
        tp_alloc_fail_at(0);
        if (pending != 0) {
            /* k is past the last allocation: the normal result */
            cr_assert_eq(rc, want_rc, "k=%lu rc=%d %s", k, rc, e.msg);
            if (want_msg != NULL)
                cr_assert_str_eq(e.msg, want_msg);
            tp_preload_free(&pl);
            break;
        }
        cr_assert_eq(rc, TP_ENOMEM, "k=%lu rc=%d %s", k, rc, e.msg);
        cr_assert_str_eq(e.msg, "preload: out of memory");
        cr_assert_null(pl.e);
        cr_assert_eq(pl.n, 0);
    }
    ASSERT_NO_LEAKS();
    return k - 1;
}

Test(preload, survives_every_allocation_failure)
{
    /*
     * realistic: the policies and aliases arrays (2), the alias name, its
     * 2 patterns and their array (4), 3 domains, the alias reference, 4
     * patterns and 2 arrays of the direct policies (10), the expanded
     * copy of the alias (3), the table (1).
     */
    cr_assert_eq(fail_every_alloc(realistic, TP_OK, NULL), 20);
    cr_assert_eq(fail_every_alloc(POL("{\"policy-alias\": \"nope\"}"),
                                  TP_ESYNTAX, "preload: line 1: " PATH_EFF
                                  "[\"policy-alias\"]: unknown alias "
                                  "\"nope\""), 3);
    cr_assert_eq(fail_every_alloc(DOC("", "\"EFF.org\": {\"mode\": "
                                      "\"testing\", \"mxs\": [\"a.b\"]}"),
                                  TP_OK, NULL), 6);
    cr_assert_eq(fail_every_alloc(DOC("", ""), TP_OK, NULL), 0);
}
