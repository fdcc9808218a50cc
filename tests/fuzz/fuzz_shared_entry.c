/* Target: tp_shared_parse_entry, tp_shared_parse_url */
/*
 * fuzz_shared_entry.c - libFuzzer harness for what the shared store
 * (Redis) sends back and for the store's URL.
 *
 * The input is fed to a hiredis RESP reader bounded as the library's
 * connection is (tp_shared_reader_bound), as the bytes of a Redis
 * connection would be; every reply it yields (at most 8) goes to the
 * entry parser.  The input is also read as a URL.  Properties checked
 * beyond "no crash":
 * - an entry is accepted (1) only with a mode of none/testing/enforce,
 *   a max_age within TP_STS_MAXAGE_MAX, a fetch time in (0, now+300], a
 *   valid id, and mx patterns unless the mode is none;
 * - "none" (0) and "invalid" (-1) come with a reason, and leave e's
 *   policy empty;
 * - the URL parser fills its reason exactly when it rejects.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "shared.h"
#include "sts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_INPUT_MAX (64 * 1024)
#define NOW ((int64_t)1800000000)

static void
check_reply(const redisReply *r)
{
    struct tp_sts_entry e;
    const char *why = NULL;
    int rc = tp_shared_parse_entry(r, "enforce.test", &e, &why, NOW);

    if (rc == 1) {
        if (e.pol.mode < TP_STS_MODE_NONE || e.pol.mode > TP_STS_MODE_ENFORCE ||
            e.pol.max_age > TP_STS_MAXAGE_MAX || e.fetched_at <= 0 ||
            e.fetched_at > NOW + 300 || e.id[0] == '\0' ||
            (e.pol.n_mx == 0 && e.pol.mode != TP_STS_MODE_NONE) ||
            strcmp(e.domain, "enforce.test") != 0)
            abort();
        tp_sts_policy_free(&e.pol);
    } else if (rc == 0 || rc == -1) {
        if (why == NULL || why[0] == '\0' || e.pol.mx != NULL)
            abort();
    } else {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    redisReader *rd;
    char url[TP_SHARED_URL_MAX + 8], why[128];
    void *reply = NULL;
    int n;

    if (size > FUZZ_INPUT_MAX)
        return 0;
    if ((rd = redisReaderCreate()) == NULL)
        return 0;
    if (tp_shared_reader_bound(rd) != 0)
        abort();
    if (redisReaderFeed(rd, (const char *)data, size) == REDIS_OK)
        for (n = 0; n < 8 && redisReaderGetReply(rd, &reply) == REDIS_OK &&
                    reply != NULL; n++) {
            check_reply(reply);
            freeReplyObject(reply);
            reply = NULL;
        }
    redisReaderFree(rd);

    n = size < sizeof(url) - 1 ? (int)size : (int)sizeof(url) - 1;
    memcpy(url, data, (size_t)n);
    url[n] = '\0';
    why[0] = '\0';
    if (tp_shared_parse_url(url, why, sizeof(why)) == 0 ? why[0] != '\0'
                                                        : why[0] == '\0')
        abort();
    return 0;
}
