/*
 * cli.c - option helpers shared by the command-line tools: both take
 * untrusted argv and check it fully before use.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

unsigned int
cli_parse_timeout(const char *s)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0.1) || v > 600)
        return 0;
    return (unsigned int)(v * 1000.0 + 0.5);
}

int
cli_add_resolver(char **list, const char *addr)
{
    size_t old = *list ? strlen(*list) : 0, n = strlen(addr);
    char *p;

    if (n > 4096 || old > 65536)
        return -1; /* a resolver list is a few addresses */
    p = realloc(*list, old + n + 2);
    if (p == NULL)
        return -1;
    if (old > 0)
        p[old++] = ' ';
    memcpy(p + old, addr, n + 1);
    *list = p;
    return 0;
}
