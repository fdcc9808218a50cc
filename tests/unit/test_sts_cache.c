/*
 * test_sts_cache.c - the MTA-STS policy cache: every row of the decision
 * (RFC 8461 §3.1, §3.3, §5.1) and the store.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <criterion/criterion.h>

#include "../leakcheck.h"
#include "sts_cache.h"

#define S(x) ((char *)(x))

static char *mx1[] = { S("mx1.example.test") };

/* entry - a cached enforce policy fetched at t with max_age 1000 */
static struct tp_sts_entry
entry(int64_t t)
{
    struct tp_sts_entry e;

    memset(&e, 0, sizeof(e));
    memcpy(e.domain, "example.test", 13);
    memcpy(e.id, "id1", 4);
    e.pol.mode = TP_STS_MODE_ENFORCE;
    e.pol.max_age = 1000;
    e.pol.n_mx = 1;
    e.pol.mx = mx1;
    e.fetched_at = t;
    return e;
}

Test(sts_cache, nothing_cached)
{
    cr_assert_eq(tp_sts_cache_decide(NULL, TP_TXT_VALID, "id1", 50),
                 TP_CACHE_FETCH);
    cr_assert_eq(tp_sts_cache_decide(NULL, TP_TXT_NONE, "", 50),
                 TP_CACHE_NONE);
}

Test(sts_cache, same_id_uses_the_cache)
{
    struct tp_sts_entry e = entry(100);

    cr_assert_eq(tp_sts_cache_decide(&e, TP_TXT_VALID, "id1", 500),
                 TP_CACHE_USE);
}

Test(sts_cache, new_id_fetches)
{
    struct tp_sts_entry e = entry(100);

    cr_assert_eq(tp_sts_cache_decide(&e, TP_TXT_VALID, "id2", 500),
                 TP_CACHE_FETCH);
}

Test(sts_cache, missing_txt_keeps_a_valid_policy)
{
    struct tp_sts_entry e = entry(100);

    cr_assert_eq(tp_sts_cache_decide(&e, TP_TXT_NONE, "", 1099),
                 TP_CACHE_USE);
}

Test(sts_cache, expired_policy_is_not_used)
{
    struct tp_sts_entry e = entry(100);

    cr_assert_eq(tp_sts_cache_decide(&e, TP_TXT_NONE, "", 1100),
                 TP_CACHE_NONE, "valid until fetched_at + max_age");
    cr_assert_eq(tp_sts_cache_decide(&e, TP_TXT_VALID, "id1", 1100),
                 TP_CACHE_FETCH);
    cr_assert(!tp_sts_entry_valid(&e, 1100));
    cr_assert(tp_sts_entry_valid(&e, 1099));
}

Test(sts_cache, failed_fetch_backs_off_five_minutes_for_that_id)
{
    struct tp_sts_entry e = entry(100);

    e.failed_at = 200;
    memcpy(e.failed_id, "id2", 4);
    cr_assert_eq(tp_sts_cache_decide(&e, TP_TXT_VALID, "id2", 499),
                 TP_CACHE_USE);
    cr_assert_eq(tp_sts_cache_decide(&e, TP_TXT_VALID, "id2", 500),
                 TP_CACHE_FETCH, "retry after 300 s");
    cr_assert_eq(tp_sts_cache_decide(&e, TP_TXT_VALID, "id3", 300),
                 TP_CACHE_FETCH, "another new id is fetched at once");
}

Test(sts_cache, store_replace_and_detect_silent_change)
{
    struct tp_sts_cache c;
    struct tp_sts_entry e = entry(100);
    struct tp_sts_entry *got;

    cr_assert_eq(tp_sts_cache_init(&c), 0);
    cr_assert_null(tp_sts_cache_get(&c, "example.test"));
    cr_assert_eq(tp_sts_cache_put(&c, "example.test", "id1", &e.pol,
                                  (const uint8_t *)"body A", 6, 100), 0);
    got = tp_sts_cache_get(&c, "example.test");
    cr_assert_not_null(got);
    cr_assert_str_eq(got->id, "id1");
    cr_assert_str_eq(got->pol.mx[0], "mx1.example.test");
    cr_assert_neq(got->pol.mx, mx1, "a deep copy");
    cr_assert_eq(got->fetched_at, 100);
    cr_assert_eq(tp_sts_cache_put(&c, "example.test", "id1", &e.pol,
                                  (const uint8_t *)"body A", 6, 200), 0,
                 "same content, same id");
    cr_assert_eq(tp_sts_cache_put(&c, "example.test", "id1", &e.pol,
                                  (const uint8_t *)"body B", 6, 300), 1,
                 "content changed without a new id");
    cr_assert_eq(tp_sts_cache_put(&c, "example.test", "id2", &e.pol,
                                  (const uint8_t *)"body C", 6, 400), 0,
                 "a new id may change the content");
    cr_assert_eq(tp_sts_cache_get(&c, "example.test")->fetched_at, 400);
    cr_assert_eq(c.n, 1);
    cr_assert_eq(tp_sts_cache_put(&c, "other.test", "x", &e.pol,
                                  (const uint8_t *)"", 0, 400), 0);
    cr_assert_eq(c.n, 2);
    tp_sts_cache_free(&c);
    ASSERT_NO_LEAKS();
}

Test(sts_cache, allocation_failure_keeps_the_old_entry)
{
    struct tp_sts_cache c;
    struct tp_sts_entry e = entry(100);
    unsigned long n;

    cr_assert_eq(tp_sts_cache_init(&c), 0);
    cr_assert_eq(tp_sts_cache_put(&c, "example.test", "id1", &e.pol,
                                  (const uint8_t *)"a", 1, 100), 0);
    for (n = 1; n < 10; n++) {
        tp_alloc_fail_at(n);
        if (tp_sts_cache_put(&c, "example.test", "id2", &e.pol,
                             (const uint8_t *)"b", 1, 200) == -1)
            cr_assert_str_eq(tp_sts_cache_get(&c, "example.test")->id,
                             "id1");
        tp_alloc_fail_at(0);
    }
    tp_sts_cache_free(&c);
    ASSERT_NO_LEAKS();
}
