/*
 * msgid.h - stable log message identifiers.  Never renumber; append.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_MSGID_H
#define TP_MSGID_H

#define TP_MSG_RESOLVE_START   "TP1001"  /* debug: lookup started */
#define TP_MSG_VERDICT         "TP1002"  /* info: verdict reached */
#define TP_MSG_DNS_FAIL        "TP1101"  /* warn: DNS lookup failed */
#define TP_MSG_DNS_DROP        "TP1102"  /* warn: DNS record rejected */
#define TP_MSG_DNS_SETUP       "TP1103"  /* error: resolver setup failed */
#define TP_MSG_STS_TXT_BAD     "TP1201"  /* warn: TXT record rejected */
#define TP_MSG_STS_FETCH_FAIL  "TP1202"  /* warn: policy fetch failed */
#define TP_MSG_STS_POLICY_BAD  "TP1203"  /* warn: policy body rejected */
#define TP_MSG_STS_NO_MATCH    "TP1204"  /* warn: enforce, no MX matches */
#define TP_MSG_STS_CLAMP       "TP1205"  /* info: max_age clamped */
#define TP_MSG_STS_CHANGED     "TP1206"  /* warn: body changed, same id */
#define TP_MSG_DANE_TLSA_BAD   "TP1301"  /* warn: TLSA record unusable */
#define TP_MSG_DANE_HOST_FAIL  "TP1302"  /* warn: host's DANE lookup failed */
#define TP_MSG_DNSSEC_CHECK    "TP1303"  /* error: resolver self-test */
#define TP_MSG_FAILOPEN        "TP1401"  /* warn: failure policy applied */
#define TP_MSG_OVERRIDE_WEAKENS "TP1402" /* warn: override weakens policy */
#define TP_MSG_CONFIG          "TP1403"  /* error/warn: configuration */
#define TP_MSG_PRELOAD         "TP1404"  /* error/warn: preload list */
#define TP_MSG_STORE           "TP1501"  /* info/warn: persistent store */
#define TP_MSG_PURGE           "TP1502"  /* warn: cached state purged */
#define TP_MSG_SHARED          "TP1503"  /* info/warn: shared store (Redis) */
#define TP_MSG_INTERNAL        "TP1901"  /* error: internal error */

#endif
