/* Target: ns_parse */
/*
 * fuzz_netstring.c - ns_parse on arbitrary bytes, consuming netstrings
 * one after another as the server does; checks that every parsed one
 * lies inside the input and round-trips through ns_format.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netstring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char out[1100];
    size_t off = 0;

    while (off < size) {
        const uint8_t *pl = NULL;
        const char *err = NULL;
        size_t plen = 0, used = 0;
        enum ns_rc rc = ns_parse(data + off, size - off, 1024, &pl, &plen,
                                 &used, &err);

        if (rc != NS_OK) {
            if (err == NULL || (rc == NS_ERR && err[0] == '\0'))
                abort();
            break;
        }
        if (pl < data + off || plen > 1024 || used > size - off ||
            pl + plen > data + off + used)
            abort();
        if (ns_format(out, sizeof(out), (const char *)pl, plen) != used ||
            memcmp(out, data + off, used) != 0)
            abort(); /* strict parsing: the input was canonical */
        off += used;
    }
    return 0;
}
