/*
 * test_netstring.c - the socketmap server's netstring parser: every rule
 * and every error path, and incremental (byte by byte) parsing.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <criterion/criterion.h>

#include "netstring.h"

static enum ns_rc
parse(const char *s, size_t max, const char **pl, size_t *plen,
      size_t *used, const char **err)
{
    return ns_parse((const uint8_t *)s, strlen(s), max,
                    (const uint8_t **)pl, plen, used, err);
}

Test(netstring, parses_one_and_reports_bytes_used)
{
    const char *pl, *err;
    size_t plen, used;

    cr_assert_eq(parse("20:postfix enforce.test,17:x", 100, &pl, &plen,
                       &used, &err), NS_OK);
    cr_assert_eq(plen, 20);
    cr_assert(memcmp(pl, "postfix enforce.test", 20) == 0);
    cr_assert_eq(used, 24);
}

Test(netstring, empty_payload)
{
    const char *pl, *err;
    size_t plen, used;

    cr_assert_eq(parse("0:,", 10, &pl, &plen, &used, &err), NS_OK);
    cr_assert_eq(plen, 0);
    cr_assert_eq(used, 3);
}

Test(netstring, every_prefix_of_a_valid_one_needs_more)
{
    const char *s = "12:hello, world,";
    const char *pl, *err;
    size_t i, plen, used;

    for (i = 0; i < strlen(s); i++)
        cr_assert_eq(ns_parse((const uint8_t *)s, i, 100,
                              (const uint8_t **)&pl, &plen, &used, &err),
                     NS_MORE, "prefix of %zu bytes", i);
    cr_assert_eq(parse(s, 100, &pl, &plen, &used, &err), NS_OK);
    cr_assert_eq(plen, 12);
}

struct bad {
    char in[32];
    char err[64];
};

static const struct bad bads[] = {
    { "x:abc,", "length is not a number" },
    { ":abc,", "length is not a number" },
    { "-1:a,", "length is not a number" },
    { "01:a,", "leading zero" },
    { "00:,", "leading zero" },
    { "1234567890:", "more than 9 digits" },
    { "3;abc,", "missing ':'" },
    { "3 :abc,", "missing ':'" },
    { "3:abcd", "missing ','" },
    { "3:abc;", "missing ','" },
    { "11:hello world,", "exceeds the request size limit" },
};

Test(netstring, rejects_malformed_with_a_reason)
{
    size_t i;

    for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        const char *pl, *err;
        size_t plen, used;

        cr_expect_eq(parse(bads[i].in, 10, &pl, &plen, &used, &err), NS_ERR,
                     "\"%s\"", bads[i].in);
        cr_expect(strstr(err, bads[i].err) != NULL, "\"%s\": \"%s\"",
                  bads[i].in, err);
    }
}

Test(netstring, over_limit_is_refused_before_the_payload_arrives)
{
    const char *pl, *err;
    size_t plen, used;

    cr_assert_eq(parse("20000:", 10240, &pl, &plen, &used, &err), NS_ERR);
    cr_assert(strstr(err, "limit") != NULL);
}

Test(netstring, binary_payload_is_fine)
{
    static const uint8_t in[] = { '3', ':', 0, 0xff, ',', ',' };
    const uint8_t *pl;
    const char *err;
    size_t plen, used;

    cr_assert_eq(ns_parse(in, sizeof(in), 10, &pl, &plen, &used, &err),
                 NS_OK);
    cr_assert_eq(plen, 3);
    cr_assert_eq(pl[1], 0xff);
}

Test(netstring, format_round_trips_and_checks_space)
{
    char out[32];
    const char *pl, *err;
    size_t plen, used;

    cr_assert_eq(ns_format(out, sizeof(out), "OK dane-only", 12), 16);
    cr_assert_str_eq(out, "12:OK dane-only,");
    cr_assert_eq(parse(out, 100, &pl, &plen, &used, &err), NS_OK);
    cr_assert_eq(ns_format(out, 16, "OK dane-only", 12), 0, "needs 17");
    cr_assert_eq(ns_format(out, 17, "OK dane-only", 12), 16);
    cr_assert_eq(ns_format(out, 0, "", 0), 0);
    cr_assert_eq(ns_format(out, 4, "", 0), 3);
    cr_assert_str_eq(out, "0:,");
}
