/*
 * config.h - the YAML configuration file (libyaml), parsed into plain
 * structs.  Pure: a buffer in, a struct out; applying it is ctx.c's job.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TP_CONFIG_H
#define TP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* Local override levels, ordered as Postfix's TLS levels. */
enum tp_level {
    TP_LEVEL_UNSET = 0,
    TP_LEVEL_NONE,
    TP_LEVEL_MAY,
    TP_LEVEL_ENCRYPT,
    TP_LEVEL_DANE,
    TP_LEVEL_DANE_ONLY,
    TP_LEVEL_SECURE,
};

/* What to do when a security-relevant lookup keeps failing. */
struct tp_failpolicy {
    int set;                    /* 0: inherit */
    int opportunistic;          /* 0: defer (TEMPFAIL) */
    uint32_t after;             /* seconds of failure before fallback */
};

/* One domains: entry. */
struct tp_domain_conf {
    char *domain;               /* owned; normalized */
    enum tp_level level;        /* TP_LEVEL_UNSET: no override */
    size_t n_match;
    char **match;               /* owned; MX patterns for secure */
    char *reason;               /* owned; may be NULL */
    struct tp_failpolicy failure;
    size_t line;                /* where it was defined */
};

/* One key of the server: section, the settings of tlspol-socketmapd:
 * its values as written.  The parser checks key, shape and text; the
 * server their meaning. */
struct tp_server_setting {
    char *key;                  /* owned; one of the known keys */
    size_t n;                   /* values; more than one: listen only */
    char **vals;                /* owned */
    size_t *lines;              /* owned: where each value is */
};

struct tp_config {
    char *resolvers;            /* owned; space-separated, or NULL */
    char *trust_anchor;         /* owned, or NULL */
    int dnssec_trust_ad;        /* -1 unset, 0 validate, 1 trust-ad */
    char *ca_file, *ca_path;    /* owned, or NULL */
    char *shared_store;         /* owned URL (Redis), or NULL */
    uint32_t timeout_ms;        /* 0: unset */
    size_t n_preload;
    char **preload;             /* owned file names, in order */
    unsigned int postfix_compat; /* major*100+minor (310 = 3.10); 0 unset */
    int log_level;              /* -1 unset, else tlspol_log_level */
    int log_syslog;             /* -1 unset, 0 stderr, 1 syslog */
    struct tp_failpolicy failure;       /* global */
    size_t n_domains;
    struct tp_domain_conf *domains;     /* owned; sorted, unique */
    size_t n_server;
    struct tp_server_setting *server;   /* owned, in file order */
    size_t n_warnings;
    char **warnings;            /* owned: "tlspol.yaml: line 9: foo:
                                   unknown key, ignored" */
};

/*
 * tp_config_parse - parse a YAML configuration of len bytes; fname is
 * used in messages only.  Keys (all optional), documented in
 * tlspol.yaml(5):
 *   resolver: ADDR[@PORT] or a list of them
 *   trust_anchor: FILE        dnssec: validate | trust-ad
 *   ca_file: FILE             ca_path: DIR
 *   timeout: SECONDS (0.1 .. 600, decimals allowed)
 *   preload: FILE or a list of files (later ones override earlier)
 *   postfix_compat: "3.9", "3.10", ... (MAJOR.MINOR)
 *   log: { level: error|warn|info|debug, target: stderr|syslog }
 *   failure: { mode: defer|opportunistic, after: SECONDS }
 *   server: { listen: SPEC or list, socket_mode: OCTAL, ... } (the
 *            settings of tlspol-socketmapd, kept as text)
 *   domains: { DOMAIN: { policy: none|may|encrypt|dane|dane-only|secure,
 *                        match: PATTERN or list (secure only),
 *                        reason: TEXT, failure: {...} } }
 * Unknown keys are collected as warnings (not errors).  Errors name
 * file, line and key path: "tlspol.yaml: line 12: domains.example.com.
 * policy: unknown level \"secur\" (one of none, may, encrypt, dane,
 * dane-only, secure)".  A policy of secure needs match (or defaults to
 * the MX host names: see tlspol.yaml(5)); match with another level is an
 * error.  Returns TP_OK, TP_ESYNTAX (*e set), TP_ETOOBIG (over
 * TP_CONFIG_FILE_MAX or TP_YAML_DEPTH_MAX), TP_ENOMEM.  On failure *out is
 * empty.
 */
int tp_config_parse(const uint8_t *p, size_t len, const char *fname,
                    struct tp_config *out, struct tp_err *e);

/* tp_config_free - release what tp_config_parse allocated */
void tp_config_free(struct tp_config *c);

/* tp_config_domain - the domains: entry for a normalized name, or NULL */
const struct tp_domain_conf *tp_config_domain(const struct tp_config *c,
                                              const char *domain);

/* tp_level_name - "none", "may", ... "secure"; "" for UNSET */
const char *tp_level_name(enum tp_level l);

#endif
