/* Target: tp_sts_txt_parse, tp_sts_txt_select */
/*
 * fuzz_sts_txt.c - libFuzzer harness for the RFC 8461 §3.1 TXT record
 * parser and record selection.  The whole input is parsed as one record;
 * it is also split at '\n' into RRs for tp_sts_txt_select.  Properties
 * checked beyond "no crash": a parsed id is 1..32 ALPHA/DIGIT and occurs
 * as "id=<id>" in the input; error text is NUL-terminated; select agrees
 * with parse when exactly one piece is an STS record.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "sts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs beyond this are ignored: the parser stops at TP_STS_TXT_MAX. */
#define FUZZ_INPUT_MAX (1024 * 1024)

/* check_ok - invariants of a successfully parsed record */
static void
check_ok(const uint8_t *data, size_t size, const struct tp_sts_txt *t)
{
    size_t n = strnlen(t->id, sizeof(t->id)), i;
    char needle[TP_STS_ID_MAX + 4] = "id=";

    if (n == 0 || n > TP_STS_ID_MAX)
        abort();
    for (i = 0; i < n; i++) {
        char c = t->id[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9')))
            abort();
    }
    if (size < 7 || memcmp(data, "v=STSv1", 7) != 0)
        abort();
    memcpy(needle + 3, t->id, n);
    if (memmem(data, size, needle, n + 3) == NULL)
        abort();
}

/* pieces - split at '\n' into at most max RRs; returns how many */
static size_t
pieces(const uint8_t *data, size_t size, struct tp_txt_rr *rrs, size_t max)
{
    size_t n = 0, start = 0, i;

    for (i = 0; i <= size && n < max; i++) {
        if (i == size || data[i] == '\n') {
            rrs[n].data = data + start;
            rrs[n].len = i - start;
            n++;
            start = i + 1;
        }
    }
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tp_txt_rr rrs[TP_STS_TXT_RRS_MAX + 1];
    struct tp_sts_txt t, t1;
    struct tp_err e, e1;
    size_t n, i, sts = 0, which = 0;
    int rc, rc1;

    if (size > FUZZ_INPUT_MAX)
        return 0;
    rc = tp_sts_txt_parse(data, size, &t, &e);
    if (rc == TP_OK)
        check_ok(data, size, &t);
    else if (strnlen(e.msg, sizeof(e.msg)) == sizeof(e.msg))
        abort();

    n = pieces(data, size, rrs, TP_STS_TXT_RRS_MAX + 1);
    rc = tp_sts_txt_select(rrs, n, &t, &e);
    if (n > TP_STS_TXT_RRS_MAX) {
        if (rc != TP_ETOOBIG)
            abort();
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (tp_sts_txt_parse(rrs[i].data, rrs[i].len, &t1, &e1) !=
            TP_ENOENT) {
            sts++;
            which = i;
        }
    }
    if (sts == 0 && rc != TP_ENOENT)
        abort();
    if (sts > 1 && rc != TP_EMULTI)
        abort();
    if (sts == 1) {
        rc1 = tp_sts_txt_parse(rrs[which].data, rrs[which].len, &t1, &e1);
        if (rc1 != rc || (rc == TP_OK && strcmp(t.id, t1.id) != 0))
            abort();
    }
    return 0;
}
