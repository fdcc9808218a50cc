/*
 * smtp_probe.h - connect to an MX host on port 25, EHLO, STARTTLS, and
 * check the peer against a libtlspol result (tlspol-query --connect).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SMTP_PROBE_H
#define SMTP_PROBE_H

#include "tlspol/tlspol.h"

struct smtp_probe {
    char addr[64];          /* address used */
    int connected;          /* TCP and banner ok */
    int starttls;           /* STARTTLS offered */
    int tls;                /* handshake completed */
    char version[32];       /* TLS version */
    char cipher[96];
    char subject[256];      /* leaf subject, one line */
    int satisfied;          /* the verdict's requirements are met */
    char why[512];          /* why (not) */
};

/*
 * smtp_probe - probe host (index hi in res) at addr:port within timeout_ms
 * per step; fills *p.  Returns 0 when a verdict about the peer was
 * reached (p->satisfied says which), -1 when the host could not be
 * reached (p->why says why).
 */
int smtp_probe(tlspol_ctx *ctx, const tlspol_result *res, size_t hi,
               const char *addr, unsigned int port, unsigned int timeout_ms,
               struct smtp_probe *p);

#endif
