/*
 * postfix.h - render a result as a Postfix smtp_tls_policy_maps socketmap
 * reply (socketmap_table(5), postconf(5), standards.md A5).  Pure.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_POSTFIX_H
#define TP_POSTFIX_H

#include "buf.h"

struct tlspol_result;

/* Reply size limit of Postfix's socketmap client (socketmap_max_reply_size,
 * without the netstring wrapper). */
#define TP_POSTFIX_REPLY_MAX 100000
/* The first Postfix release that accepts the TLSRPT policy attributes. */
#define TP_POSTFIX_TLSRPT 310

/*
 * tp_postfix_render - the socketmap reply for r at Postfix compatibility
 * level compat (major*100+minor): "OK <policy>", "NOTFOUND " or
 * "TEMP <reason>"; never "OK may" for a published policy, never an empty
 * "OK".  Returns TP_OK, TP_ETOOBIG (would exceed TP_POSTFIX_REPLY_MAX:
 * the caller answers TEMP), TP_ENOMEM.
 */
int tp_postfix_render(const struct tlspol_result *r, unsigned int compat,
                      struct tp_buf *out);

#endif
