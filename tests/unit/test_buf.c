/*
 * test_buf.c - the capped buffer and the JSON string escaper.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <criterion/criterion.h>

#include "../leakcheck.h"
#include "buf.h"

Test(buf, appends_and_stays_nul_terminated)
{
    struct tp_buf b;

    tp_buf_init(&b, 100);
    cr_assert_eq(tp_buf_puts(&b, "abc"), TP_OK);
    cr_assert_eq(tp_buf_printf(&b, "-%d-", 42), TP_OK);
    cr_assert_eq(tp_buf_append(&b, "xyz", 2), TP_OK);
    cr_assert_str_eq(b.p, "abc-42-xy");
    cr_assert_eq(b.len, 9);
    tp_buf_free(&b);
    cr_assert_null(b.p);
    ASSERT_NO_LEAKS();
}

Test(buf, refuses_to_pass_its_cap_and_keeps_content)
{
    struct tp_buf b;

    tp_buf_init(&b, 8);
    cr_assert_eq(tp_buf_puts(&b, "12345678"), TP_OK);
    cr_assert_eq(tp_buf_puts(&b, "9"), TP_ETOOBIG);
    cr_assert_eq(tp_buf_printf(&b, "%s", "x"), TP_ETOOBIG);
    cr_assert_str_eq(b.p, "12345678");
    tp_buf_free(&b);
    ASSERT_NO_LEAKS();
}

Test(buf, huge_length_does_not_overflow)
{
    struct tp_buf b;

    tp_buf_init(&b, 64);
    cr_assert_eq(tp_buf_puts(&b, "a"), TP_OK);
    cr_assert_eq(tp_buf_append(&b, "", (size_t)-1), TP_ETOOBIG);
    cr_assert_eq(tp_buf_append(&b, "", (size_t)-1 - 1), TP_ETOOBIG);
    cr_assert_eq(b.len, 1);
    tp_buf_free(&b);
    ASSERT_NO_LEAKS();
}

Test(buf, allocation_failure_is_reported)
{
    struct tp_buf b;

    tp_buf_init(&b, 1000);
    tp_alloc_fail_at(1);
    cr_assert_eq(tp_buf_puts(&b, "abc"), TP_ENOMEM);
    cr_assert_null(b.p);
    cr_assert_eq(tp_buf_puts(&b, "abc"), TP_OK);
    tp_buf_free(&b);
    ASSERT_NO_LEAKS();
}

Test(buf, json_escapes_quotes_and_controls_keeps_utf8)
{
    static const char in[] = "a\"b\\c\nd\x01\x7f\xc3\xa9 \xc2\xa7 "
                             "\xe2\x82\xac \xf0\x9f\x93\xa7";
    struct tp_buf b;

    tp_buf_init(&b, 200);
    cr_assert_eq(tp_buf_json_str(&b, in, sizeof(in) - 1), TP_OK);
    cr_assert_str_eq(b.p, "\"a\\\"b\\\\c\\nd\\u0001\\u007f\xc3\xa9 "
                     "\xc2\xa7 \xe2\x82\xac \xf0\x9f\x93\xa7\"");
    tp_buf_free(&b);
    ASSERT_NO_LEAKS();
}

Test(buf, json_replaces_what_is_not_utf8)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        { "\xff", "\"\\ufffd\"" },             /* never in UTF-8 */
        { "\x80x", "\"\\ufffdx\"" },           /* lone continuation */
        { "\xc3", "\"\\ufffd\"" },             /* cut short at the end */
        { "\xc3x", "\"\\ufffdx\"" },           /* cut short */
        { "\xc0\xaf", "\"\\ufffd\\ufffd\"" },   /* overlong "/" */
        { "\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"" }, /* overlong */
        { "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" }, /* surrogate */
        { "\xf4\x90\x80\x80",
          "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },  /* beyond U+10FFFF */
    };
    struct tp_buf b;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tp_buf_init(&b, 200);
        cr_assert_eq(tp_buf_json_str(&b, cases[i].in, strlen(cases[i].in)),
                     TP_OK);
        cr_assert_str_eq(b.p, cases[i].out, "case %zu", i);
        tp_buf_free(&b);
    }
    ASSERT_NO_LEAKS();
}

Test(buf, json_escape_respects_the_cap)
{
    struct tp_buf b;

    tp_buf_init(&b, 10);
    cr_assert_eq(tp_buf_json_str(&b, "\x01\x01\x01", 3), TP_ETOOBIG);
    tp_buf_free(&b);
    ASSERT_NO_LEAKS();
}
