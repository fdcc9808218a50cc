/* Target: tp_config_parse */
/*
 * fuzz_config_yaml.c - libFuzzer harness for the tlspol.yaml(5) parser.
 * Properties checked beyond "no crash, no leak": a parsed configuration
 * has its domains sorted, unique, normalized (tp_domain_normalize gives
 * the name back) and at most TP_CONFIG_DOMAINS_MAX of them; each entry's
 * level is in range and it sets a level or a failure policy; match
 * patterns only with secure, at most TP_STS_MX_MAX, each lowercase and
 * valid (tp_mx_pattern_check); tp_config_domain finds every entry; the
 * scalar settings are in their documented ranges; server: settings are
 * known keys, once each, with bounded text values; every warning and the
 * error start with the file name.  A failed parse leaves *out empty.
 * Each input is parsed a second time with one allocation made to fail:
 * the result must be the same or TP_ENOMEM.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "config.h"
#include "domain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs beyond this are ignored: the parser stops at TP_CONFIG_FILE_MAX. */
#define FUZZ_INPUT_MAX (TP_CONFIG_FILE_MAX + 16)
#define FNAME "f.yaml"

/* check_empty - *c is the configuration of an empty file */
static void
check_empty(const struct tp_config *c)
{
    if (c->resolvers != NULL || c->trust_anchor != NULL ||
        c->ca_file != NULL || c->ca_path != NULL || c->preload != NULL ||
        c->n_preload != 0 || c->domains != NULL || c->n_domains != 0 ||
        c->warnings != NULL || c->n_warnings != 0 || c->timeout_ms != 0 ||
        c->postfix_compat != 0 || c->dnssec_trust_ad != -1 ||
        c->log_level != -1 || c->log_syslog != -1 || c->failure.set != 0 ||
        c->server != NULL || c->n_server != 0)
        abort();
}

/* check_server - a server: setting: a known key once, 1 to 16 values
 * (several for listen only) of 1 to 1024 bytes without control bytes */
static void
check_server(const struct tp_config *c, size_t k)
{
    const struct tp_server_setting *s = &c->server[k];
    size_t i, j;

    if (s->key == NULL || s->n == 0 || s->n > TP_SERVER_VALUES_MAX ||
        (s->n > 1 && strcmp(s->key, "listen") != 0))
        abort();
    for (i = 0; i < k; i++)
        if (strcmp(c->server[i].key, s->key) == 0)
            abort();
    for (i = 0; i < s->n; i++) {
        size_t n = strlen(s->vals[i]);

        if (n == 0 || n > TP_SERVER_VALUE_MAX || s->lines[i] == 0)
            abort();
        for (j = 0; j < n; j++)
            if ((unsigned char)s->vals[i][j] < 0x20 ||
                s->vals[i][j] == 0x7f)
                abort();
    }
}

/* check_fail - a failure policy as read_failure builds it */
static void
check_fail(const struct tp_failpolicy *f)
{
    if (f->set != 0 && f->set != 1)
        abort();
    if (!f->set && (f->opportunistic || f->after))
        abort();
    if (f->opportunistic != 0 && f->opportunistic != 1)
        abort();
    if (!f->opportunistic && f->after != 0)
        abort();
    if (f->after > 31557600u)
        abort();
}

/* check_domain - invariants of one domains: entry */
static void
check_domain(const struct tp_config *c, size_t i)
{
    const struct tp_domain_conf *d = &c->domains[i];
    char norm[TP_DOMAIN_MAX + 1];
    size_t j, k, len;

    if (d->domain == NULL ||
        tp_domain_normalize(d->domain, strlen(d->domain), norm, NULL) !=
            TP_OK ||
        strcmp(norm, d->domain) != 0)
        abort();
    if (i > 0 && strcmp(c->domains[i - 1].domain, d->domain) >= 0)
        abort();
    if (tp_config_domain(c, d->domain) != d)
        abort();
    if ((unsigned)d->level > TP_LEVEL_SECURE)
        abort();
    if (d->level == TP_LEVEL_UNSET && !d->failure.set)
        abort();
    if (d->line == 0)
        abort();
    check_fail(&d->failure);
    if ((d->n_match != 0 || d->match != NULL) &&
        d->level != TP_LEVEL_SECURE)
        abort();
    if (d->n_match > TP_STS_MX_MAX || (d->n_match == 0) != (d->match == NULL))
        abort();
    for (j = 0; j < d->n_match; j++) {
        len = strlen(d->match[j]);
        if (tp_mx_pattern_check(d->match[j], len, NULL) != TP_OK)
            abort();
        for (k = 0; k < len; k++)
            if (d->match[j][k] >= 'A' && d->match[j][k] <= 'Z')
                abort();
    }
    if (d->reason != NULL &&
        (d->reason[0] == '\0' || strlen(d->reason) > TP_REASON_MAX))
        abort();
}

/* check - invariants of one parse result */
static void
check(int rc, const struct tp_config *c, const struct tp_err *e)
{
    size_t i;

    if (rc != TP_OK) {
        check_empty(c);
        if (rc != TP_ESYNTAX && rc != TP_ETOOBIG && rc != TP_ENOMEM)
            abort();
        if (strnlen(e->msg, sizeof(e->msg)) == sizeof(e->msg) ||
            strncmp(e->msg, FNAME ": ", sizeof(FNAME ": ") - 1) != 0)
            abort();
        return;
    }
    if (c->n_domains > TP_CONFIG_DOMAINS_MAX ||
        (c->n_domains == 0) != (c->domains == NULL))
        abort();
    for (i = 0; i < c->n_domains; i++)
        check_domain(c, i);
    if (c->timeout_ms != 0 &&
        (c->timeout_ms < 100 || c->timeout_ms > 600000))
        abort();
    if (c->postfix_compat != 0 &&
        (c->postfix_compat < 200 || c->postfix_compat > 999))
        abort();
    if (c->dnssec_trust_ad < -1 || c->dnssec_trust_ad > 1 ||
        c->log_level < -1 || c->log_level > 3 || c->log_syslog < -1 ||
        c->log_syslog > 1)
        abort();
    check_fail(&c->failure);
    if ((c->n_server == 0) != (c->server == NULL))
        abort();
    for (i = 0; i < c->n_server; i++)
        check_server(c, i);
    if (c->resolvers != NULL &&
        (c->resolvers[0] == '\0' || c->resolvers[0] == ' '))
        abort();
    if ((c->n_preload == 0) != (c->preload == NULL))
        abort();
    for (i = 0; i < c->n_preload; i++)
        if (c->preload[i][0] == '\0')
            abort();
    if (c->n_warnings > 64)
        abort();
    for (i = 0; i < c->n_warnings; i++)
        if (strncmp(c->warnings[i], FNAME ": line ",
                    sizeof(FNAME ": line ") - 1) != 0)
            abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tp_config c;
    struct tp_err e;
    int rc, rc2;

    if (size > FUZZ_INPUT_MAX)
        return 0;
    memset(&e, 0, sizeof(e));
    rc = tp_config_parse(data, size, FNAME, &c, &e);
    check(rc, &c, &e);
    tp_config_free(&c);
    check_empty(&c);

    /* Fault injection: fail one of the first allocations. */
    tp_alloc_fail_at(size % 32 + 1);
    rc2 = tp_config_parse(data, size, FNAME, &c, &e);
    tp_alloc_fail_at(0);
    check(rc2, &c, &e);
    if (rc2 != rc && rc2 != TP_ENOMEM)
        abort();
    tp_config_free(&c);
    return 0;
}
