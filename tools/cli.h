/*
 * cli.h - option helpers shared by tlspol-query and tlspol-socketmapd.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TLSPOL_CLI_H
#define TLSPOL_CLI_H

/* cli_parse_timeout - "2", "0.5" seconds (0.1 .. 600) -> ms; 0 on error */
unsigned int cli_parse_timeout(const char *s);

/* cli_add_resolver - append addr to the space-separated *list: 0 or -1 */
int cli_add_resolver(char **list, const char *addr);

#endif
