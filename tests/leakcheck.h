/*
 * leakcheck.h - fail the current Criterion test when LeakSanitizer finds
 * unreachable memory.  Criterion reports a test as passed before LSan's
 * exit-time check runs in the test's process, so a leak would otherwise
 * only be printed; ASSERT_NO_LEAKS() makes it a failure.  Without ASan it
 * expands to nothing.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_TEST_LEAKCHECK_H
#define TP_TEST_LEAKCHECK_H

#if defined(__SANITIZE_ADDRESS__)
#define TP_TEST_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TP_TEST_LSAN 1
#endif
#endif

#ifdef TP_TEST_LSAN
#include <sanitizer/lsan_interface.h>
#define ASSERT_NO_LEAKS()                                                  \
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0,                    \
                 "LeakSanitizer found leaks (see stderr)")
#else
#define ASSERT_NO_LEAKS() ((void)0)
#endif

#endif
