/*
 * sts.h - MTA-STS TXT record and policy body parsers (RFC 8461), pure.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_STS_H
#define TP_STS_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* A parsed "v=STSv1; id=..." record (RFC 8461 §3.1). */
struct tp_sts_txt {
    char id[TP_STS_ID_MAX + 1];  /* NUL-terminated, 1..32 ALPHA/DIGIT */
};

/*
 * tp_sts_txt_parse - parse one concatenated TXT RDATA.
 * Returns TP_OK; TP_ENOENT when the text does not begin with "v=STSv1"
 * (not an STS record: callers discard it); TP_ESYNTAX with *e naming the
 * field when it begins with v=STSv1 but breaks the §3.1 ABNF (missing or
 * bad id, malformed extension, non-ASCII, ...); TP_ETOOBIG over
 * TP_STS_TXT_MAX.  The first id wins when repeated (§3.2).
 */
int tp_sts_txt_parse(const uint8_t *p, size_t len, struct tp_sts_txt *out,
                     struct tp_err *e);

/* One TXT RR, its character-strings already concatenated (§3.1 MUST). */
struct tp_txt_rr {
    const uint8_t *data;
    size_t len;
};

/*
 * tp_sts_txt_select - apply §3.1 record selection to all TXT RRs at
 * _mta-sts.<domain>: discard those not starting with "v=STSv1"; exactly one
 * must remain and be valid.  Returns TP_OK with *out; TP_ENOENT (no STS
 * record); TP_EMULTI (more than one); TP_ESYNTAX (the one is invalid);
 * TP_ETOOBIG (n > TP_STS_TXT_RRS_MAX).  *e is set for every non-OK result.
 */
int tp_sts_txt_select(const struct tp_txt_rr *rrs, size_t n,
                      struct tp_sts_txt *out, struct tp_err *e);

enum tp_sts_mode {
    TP_STS_MODE_UNSET = 0,
    TP_STS_MODE_NONE,
    TP_STS_MODE_TESTING,
    TP_STS_MODE_ENFORCE,
};

/* A parsed policy body (RFC 8461 §3.2).  Owns mx[] and its strings. */
struct tp_sts_policy {
    enum tp_sts_mode mode;
    uint32_t max_age;          /* clamped to TP_STS_MAXAGE_MAX */
    uint64_t max_age_raw;      /* as published (<= 10 digits) */
    size_t n_mx;
    char **mx;                 /* owned; lowercase patterns, "*." kept */
    size_t n_ext;              /* unknown keys seen and ignored */
};

/*
 * tp_sts_policy_parse - parse a policy body of len bytes (no NUL needed).
 * Lines end in LF or CRLF (§3.2 ABNF, erratum 6253); the last line may lack
 * a terminator.  Keys are case-sensitive; "version: STSv1", "mode" and
 * "max_age" are required exactly once (a repeat is rejected); "mx" may
 * repeat and is required unless mode is none; unknown keys must be
 * syntactically valid extensions and are ignored.  max_age above
 * TP_STS_MAXAGE_MAX is clamped.  Blank lines are tolerated; anything else
 * off-grammar is rejected.
 * Returns TP_OK; TP_ESYNTAX with *e like "policy: line 3: max_age: not a
 * number"; TP_ETOOBIG (body over TP_STS_BODY_MAX, a line over
 * TP_STS_LINE_MAX, more than TP_STS_MX_MAX mx lines); TP_ENOMEM.
 * On failure *out is left empty (nothing to free).
 */
int tp_sts_policy_parse(const uint8_t *p, size_t len,
                        struct tp_sts_policy *out, struct tp_err *e);

/* tp_sts_policy_free - release what tp_sts_policy_parse allocated */
void tp_sts_policy_free(struct tp_sts_policy *pol);

/* tp_sts_mode_name - "none", "testing", "enforce" or "" */
const char *tp_sts_mode_name(enum tp_sts_mode m);

#endif
