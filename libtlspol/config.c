/*
 * config.c - the YAML configuration file (tlspol.yaml(5)), read with
 * libyaml's event parser into struct tp_config.
 *
 * DESIGN.md §8 (one YAML file; errors name file, line and key; unknown
 * keys are warnings), §5 (local overrides, failure policy), §7
 * (postfix_compat).  Values checked here: resolver addresses with
 * inet_pton(3), domains with tp_domain_normalize (RFC 5321 §4.1.2, IDNA),
 * match patterns with tp_mx_pattern_check (RFC 8461 §3.2, §4.1).
 *
 * Pure: (bytes, length) in, struct tp_config out; no file is opened and
 * no name is resolved.  Limits: TP_CONFIG_FILE_MAX (whole input),
 * TP_YAML_DEPTH_MAX (open mappings and sequences, counted here: libyaml
 * 0.2.5 has no nesting limit of its own), TP_CONFIG_DOMAINS_MAX,
 * TP_STS_MX_MAX (match patterns per domain), TP_REASON_MAX (reason),
 * PATH_MAX (file names), CONFIG_WARNINGS_MAX and FAIL_AFTER_MAX below.
 *
 * Choices (each rejects rather than repairs):
 * - anchors, aliases, tags and %TAG directives are refused: no alias
 *   expansion ("billion laughs"), no typed values;
 * - a second YAML document is refused;
 * - a duplicate key in any mapping is an error, also inside an unknown
 *   key's value and inside the reserved server: section; two domains:
 *   keys that normalize to the same name are duplicates too;
 * - scalars are read as text whatever their YAML style, so both
 *   postfix_compat: 3.10 and "3.10" mean 3.10 (not the float 3.1);
 * - an empty value (`key:`, `~`, `null`) is an error, except for the
 *   mappings log, domains and server, where it means "empty", and for an
 *   empty document, which is an empty configuration;
 * - failure: after is required with mode opportunistic, refused with
 *   mode defer.
 * Error text: "FNAME: line N: key.path: what" (line 1-based, from the
 * event's start mark; libyaml's own errors use its problem mark), or
 * "FNAME: line N: what" where no key is open, or "FNAME: what" for the
 * whole input.  Keys and values quoted in messages are escaped and cut.
 *
 * SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "buf.h"
#include "common.h"
#include "config.h"
#include "domain.h"
#include "shared.h"
#include "tlspol/tlspol.h"

/* Unknown-key warnings kept; the last slot says that more were dropped. */
#define CONFIG_WARNINGS_MAX 64
/* failure: after: at most one year of seconds (as RFC 8461 max_age). */
#define FAIL_AFTER_MAX 31557600u
/* Digits read of a number before it is judged out of range. */
#define NUM_DIGITS_MAX 10
/* The key path kept for messages, and how much of one key or value. */
#define KEYPATH_MAX 200
#define QUOTE_MAX 64
/* Escaped text grows at most 4-fold ("\xHH"), plus "..." and the NUL. */
#define QUOTE_BUF (4 * QUOTE_MAX + 4)

/* One key seen in a mapping. */
struct kslot {
    char *key;   /* owned; NULL: free slot */
    size_t len;
    size_t line;
};

/* The keys of one mapping: an open-addressing hash set, grown at 1/2. */
struct keyset {
    struct kslot *slot; /* owned; cap entries */
    size_t cap;
    size_t n;
};

/* Parser state. */
struct pstate {
    yaml_parser_t parser;     /* valid when parser_init */
    bool parser_init;
    yaml_event_t ev;          /* the current event, when have_ev */
    bool have_ev;
    const uint8_t *in;        /* borrowed; the input, len bytes */
    size_t len;
    const char *fname;        /* borrowed */
    struct tp_err *e;         /* borrowed; may be NULL */
    struct tp_config cfg;     /* being built; owns what it points to */
    size_t dom_cap;           /* entries allocated in cfg.domains */
    size_t warn_cap;          /* entries allocated in cfg.warnings */
    size_t preload_cap;       /* entries allocated in cfg.preload */
    size_t server_cap;        /* entries allocated in cfg.server */
    struct tp_buf resolvers;  /* "a b c" being built */
    struct keyset domset;     /* normalized domain names seen */
    size_t depth;             /* open mappings and sequences */
    char path[KEYPATH_MAX + 1];
    size_t pathlen;
};

/* A scalar of the current event: borrowed until the next event. */
struct sval {
    const char *p;
    size_t len;
    size_t line;
    bool null; /* plain "", "~" or "null": no value */
};

/* A mapping's per-key handler: key borrowed until it reads an event. */
typedef int (*pair_fn)(struct pstate *st, const char *k, size_t klen,
                       size_t kline, void *arg);
/* A list item's handler. */
typedef int (*item_fn)(struct pstate *st, const struct sval *v, void *arg);

static int fail(struct pstate *st, int rc, size_t line, const char *fmt,
                ...) TP_PRINTF(4, 5);

/* empty_config - the state of a configuration with no keys set */
static void
empty_config(struct tp_config *c)
{
    memset(c, 0, sizeof(*c));
    c->dnssec_trust_ad = -1;
    c->log_level = -1;
    c->log_syslog = -1;
}

/* quote - escape n bytes of s for a message, cut after QUOTE_MAX bytes */
static void
quote(char out[QUOTE_BUF], const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, o = 0;
    unsigned char b;

    for (i = 0; i < n && i < QUOTE_MAX; i++) {
        b = (unsigned char)s[i];
        if (b < 0x20 || b == 0x7f || b == '"' || b == '\\') {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[b >> 4];
            out[o++] = hex[b & 0xf];
        } else {
            out[o++] = (char)b;
        }
    }
    if (i < n) {
        /* Do not split a UTF-8 sequence: bytes >= 0x80 were copied as-is,
         * so each continuation byte dropped is one output byte. */
        while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80) {
            i--;
            o--;
        }
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* fail - set "FNAME: line N: path: what" and return rc */
static int
fail(struct pstate *st, int rc, size_t line, const char *fmt, ...)
{
    char what[TP_REASON_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (st->pathlen > 0)
        tp_err_set(st->e, "%s: line %zu: %s: %s", st->fname, line, st->path,
                   what);
    else
        tp_err_set(st->e, "%s: line %zu: %s", st->fname, line, what);
    return rc;
}

/* nomem - the one message for a failed allocation */
static int
nomem(struct pstate *st)
{
    tp_err_set(st->e, "%s: out of memory", st->fname);
    return TP_ENOMEM;
}

/* path_push - append ".key" (escaped, cut) to the path; old length back */
static size_t
path_push(struct pstate *st, const char *k, size_t klen)
{
    size_t old = st->pathlen, room, n;
    char q[QUOTE_BUF];

    quote(q, k, klen);
    room = KEYPATH_MAX - st->pathlen;
    if (old > 0 && room > 0) {
        st->path[st->pathlen++] = '.';
        room--;
    }
    n = strlen(q);
    if (n > room) {
        /* Too deep a path: mark the cut rather than split an escape. */
        memcpy(q, "...", 4);
        n = room < 3 ? room : 3;
    }
    memcpy(st->path + st->pathlen, q, n);
    st->pathlen += n;
    st->path[st->pathlen] = '\0';
    return old;
}

/* path_pop - restore the path to an earlier length */
static void
path_pop(struct pstate *st, size_t old)
{
    st->pathlen = old;
    st->path[old] = '\0';
}

/* grow_array - room for one more element in *arr (n used, *cap slots) */
static int
grow_array(void **arr, size_t *cap, size_t n, size_t elsize)
{
    size_t ncap, bytes;
    void *np;

    if (n < *cap)
        return TP_OK;
    if (*cap == 0)
        ncap = 8;
    else if (__builtin_mul_overflow(*cap, 2, &ncap))
        return TP_ENOMEM;
    if (__builtin_mul_overflow(ncap, elsize, &bytes))
        return TP_ENOMEM;
    np = tp_realloc(*arr, bytes);
    if (np == NULL)
        return TP_ENOMEM;
    *arr = np;
    *cap = ncap;
    return TP_OK;
}

/* hash - FNV-1a over n bytes */
static uint64_t
hash(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* keyset_slot - the slot holding key, or the free slot where it belongs */
static struct kslot *
keyset_slot(struct kslot *slot, size_t cap, const char *k, size_t klen)
{
    size_t i = (size_t)(hash(k, klen) & (cap - 1));

    while (slot[i].key != NULL &&
           (slot[i].len != klen || memcmp(slot[i].key, k, klen) != 0))
        i = (i + 1) & (cap - 1);
    return &slot[i];
}

/* keyset_grow - double the table (cap is a power of two) */
static int
keyset_grow(struct keyset *ks)
{
    size_t ncap = ks->cap ? ks->cap * 2 : 16, i;
    struct kslot *ns, *s;

    if (ncap < ks->cap)
        return TP_ENOMEM;
    ns = tp_calloc(ncap, sizeof(*ns));
    if (ns == NULL)
        return TP_ENOMEM;
    for (i = 0; i < ks->cap; i++) {
        if (ks->slot[i].key == NULL)
            continue;
        s = keyset_slot(ns, ncap, ks->slot[i].key, ks->slot[i].len);
        *s = ks->slot[i];
    }
    tp_free(ks->slot);
    ks->slot = ns;
    ks->cap = ncap;
    return TP_OK;
}

/*
 * keyset_add - remember a key; TP_OK, TP_EMULTI with *first set when it
 * was seen before, or TP_ENOMEM
 */
static int
keyset_add(struct keyset *ks, const char *k, size_t klen, size_t line,
           size_t *first)
{
    struct kslot *s;

    if (ks->cap == 0 || ks->n + 1 > ks->cap / 2) {
        if (keyset_grow(ks) != TP_OK)
            return TP_ENOMEM;
    }
    s = keyset_slot(ks->slot, ks->cap, k, klen);
    if (s->key != NULL) {
        *first = s->line;
        return TP_EMULTI;
    }
    s->key = tp_strndup(k, klen);
    if (s->key == NULL)
        return TP_ENOMEM;
    s->len = klen;
    s->line = line;
    ks->n++;
    return TP_OK;
}

/* keyset_free - release the keys and the table */
static void
keyset_free(struct keyset *ks)
{
    size_t i;

    for (i = 0; i < ks->cap; i++)
        tp_free(ks->slot[i].key);
    tp_free(ks->slot);
    memset(ks, 0, sizeof(*ks));
}

/* warn - collect "FNAME: line N: path: what" in cfg.warnings */
static int
warn(struct pstate *st, size_t line, const char *what)
{
    struct tp_config *c = &st->cfg;
    char msg[TP_REASON_MAX];
    char *s;

    if (c->n_warnings >= CONFIG_WARNINGS_MAX)
        return TP_OK;
    if (c->n_warnings == CONFIG_WARNINGS_MAX - 1)
        snprintf(msg, sizeof(msg), "%s: line %zu: more than %d warnings, "
                 "the rest are not shown", st->fname, line,
                 CONFIG_WARNINGS_MAX - 1);
    else
        snprintf(msg, sizeof(msg), "%s: line %zu: %s: %s", st->fname, line,
                 st->path, what);
    if (grow_array((void **)&c->warnings, &st->warn_cap, c->n_warnings,
                   sizeof(*c->warnings)) != TP_OK)
        return nomem(st);
    s = tp_strndup(msg, strlen(msg));
    if (s == NULL)
        return nomem(st);
    c->warnings[c->n_warnings++] = s;
    return TP_OK;
}

/* ev_line - 1-based line of the current event */
static size_t
ev_line(const struct pstate *st)
{
    return st->ev.start_mark.line + 1;
}

/* node_kind - a word for the current event's node in messages */
static const char *
node_kind(const struct pstate *st)
{
    switch (st->ev.type) {
    case YAML_MAPPING_START_EVENT:
        return "a mapping";
    case YAML_SEQUENCE_START_EVENT:
        return "a list";
    default:
        return "a single value";
    }
}

/* yaml_fail - libyaml's own error, with its problem mark */
static int
yaml_fail(struct pstate *st)
{
    const yaml_parser_t *y = &st->parser;
    size_t line = y->problem_mark.line + 1, i;

    if (y->error == YAML_MEMORY_ERROR)
        return nomem(st);
    if (y->error == YAML_READER_ERROR) {
        /* The reader reports a byte offset, not a mark. */
        for (i = 0, line = 1; i < y->problem_offset && i < st->len; i++)
            if (st->in[i] == '\n')
                line++;
        if (y->problem_value >= 0)
            return fail(st, TP_ESYNTAX, line, "YAML: %s (0x%02x)",
                        y->problem ? y->problem : "error",
                        (unsigned)y->problem_value);
        return fail(st, TP_ESYNTAX, line, "YAML: %s",
                    y->problem ? y->problem : "error");
    }
    if (y->context != NULL)
        return fail(st, TP_ESYNTAX, line, "YAML: %s %s (line %zu)",
                    y->problem ? y->problem : "error", y->context,
                    y->context_mark.line + 1);
    return fail(st, TP_ESYNTAX, line, "YAML: %s",
                y->problem ? y->problem : "error");
}

/* check_props - refuse an anchor or a tag on a node */
static int
check_props(struct pstate *st, const yaml_char_t *anchor,
            const yaml_char_t *tag)
{
    char q[QUOTE_BUF];

    if (anchor != NULL) {
        quote(q, (const char *)anchor, strlen((const char *)anchor));
        return fail(st, TP_ESYNTAX, ev_line(st),
                    "anchors are not allowed (&%s)", q);
    }
    if (tag != NULL) {
        quote(q, (const char *)tag, strlen((const char *)tag));
        return fail(st, TP_ESYNTAX, ev_line(st),
                    "tags are not allowed (\"%s\")", q);
    }
    return TP_OK;
}

/*
 * next_event - replace the current event with the next one; refuse
 * aliases, anchors, tags and %TAG; count nesting against
 * TP_YAML_DEPTH_MAX
 */
static int
next_event(struct pstate *st)
{
    yaml_event_t *ev = &st->ev;
    char q[QUOTE_BUF];

    if (st->have_ev) {
        yaml_event_delete(ev);
        st->have_ev = false;
    }
    if (!yaml_parser_parse(&st->parser, ev))
        return yaml_fail(st);
    st->have_ev = true;
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        quote(q, (const char *)ev->data.alias.anchor,
              strlen((const char *)ev->data.alias.anchor));
        return fail(st, TP_ESYNTAX, ev_line(st),
                    "aliases are not allowed (*%s)", q);
    case YAML_SCALAR_EVENT:
        return check_props(st, ev->data.scalar.anchor, ev->data.scalar.tag);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (++st->depth > TP_YAML_DEPTH_MAX)
            return fail(st, TP_ETOOBIG, ev_line(st),
                        "nested deeper than %d levels", TP_YAML_DEPTH_MAX);
        if (ev->type == YAML_SEQUENCE_START_EVENT)
            return check_props(st, ev->data.sequence_start.anchor,
                               ev->data.sequence_start.tag);
        return check_props(st, ev->data.mapping_start.anchor,
                           ev->data.mapping_start.tag);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        st->depth--;
        return TP_OK;
    case YAML_DOCUMENT_START_EVENT:
        if (ev->data.document_start.tag_directives.start !=
            ev->data.document_start.tag_directives.end)
            return fail(st, TP_ESYNTAX, ev_line(st),
                        "%%TAG directives are not allowed");
        return TP_OK;
    default:
        return TP_OK;
    }
}

/* cur_scalar - view the current (scalar) event */
static void
cur_scalar(const struct pstate *st, struct sval *v)
{
    const yaml_event_t *ev = &st->ev;

    v->p = (const char *)ev->data.scalar.value;
    v->len = ev->data.scalar.length;
    v->line = ev_line(st);
    v->null = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
              (v->len == 0 || (v->len == 1 && v->p[0] == '~') ||
               (v->len == 4 && (memcmp(v->p, "null", 4) == 0 ||
                                memcmp(v->p, "Null", 4) == 0 ||
                                memcmp(v->p, "NULL", 4) == 0)));
}

/* is - does the n bytes at s spell exactly word */
static bool
is(const char *s, size_t n, const char *word)
{
    return n == strlen(word) && memcmp(s, word, n) == 0;
}

/* read_scalar - the next node must be a non-empty single value */
static int
read_scalar(struct pstate *st, struct sval *v)
{
    int rc = next_event(st);

    if (rc != TP_OK)
        return rc;
    if (st->ev.type != YAML_SCALAR_EVENT)
        return fail(st, TP_ESYNTAX, ev_line(st),
                    "expected a single value, found %s", node_kind(st));
    cur_scalar(st, v);
    if (v->null)
        return fail(st, TP_ESYNTAX, v->line, "empty value");
    return TP_OK;
}

/* check_text - a string value: not empty, no NUL or other control */
static int
check_text(struct pstate *st, const struct sval *v, size_t max)
{
    size_t i;

    if (v->len == 0)
        return fail(st, TP_ESYNTAX, v->line, "empty value");
    if (v->len > max)
        return fail(st, TP_ESYNTAX, v->line, "longer than %zu bytes", max);
    for (i = 0; i < v->len; i++) {
        unsigned char b = (unsigned char)v->p[i];

        if (b < 0x20 || b == 0x7f)
            return fail(st, TP_ESYNTAX, v->line,
                        "control character 0x%02x at offset %zu",
                        (unsigned)b, i);
    }
    return TP_OK;
}

/*
 * read_list - a single value or a non-empty list of them; fn is called
 * on each
 */
static int
read_list(struct pstate *st, item_fn fn, void *arg)
{
    struct sval v;
    size_t line, n = 0;
    int rc = next_event(st);

    if (rc != TP_OK)
        return rc;
    if (st->ev.type == YAML_SCALAR_EVENT) {
        cur_scalar(st, &v);
        if (v.null)
            return fail(st, TP_ESYNTAX, v.line, "empty value");
        return fn(st, &v, arg);
    }
    if (st->ev.type != YAML_SEQUENCE_START_EVENT)
        return fail(st, TP_ESYNTAX, ev_line(st),
                    "expected a value or a list, found %s", node_kind(st));
    line = ev_line(st);
    for (;;) {
        rc = next_event(st);
        if (rc != TP_OK)
            return rc;
        if (st->ev.type == YAML_SEQUENCE_END_EVENT)
            break;
        if (st->ev.type != YAML_SCALAR_EVENT)
            return fail(st, TP_ESYNTAX, ev_line(st),
                        "list item is %s, expected a single value",
                        node_kind(st));
        cur_scalar(st, &v);
        if (v.null)
            return fail(st, TP_ESYNTAX, v.line, "empty list item");
        rc = fn(st, &v, arg);
        if (rc != TP_OK)
            return rc;
        n++;
    }
    if (n == 0)
        return fail(st, TP_ESYNTAX, line, "empty list");
    return TP_OK;
}

/* mapping_body - after a mapping start: each key once, fn per pair */
static int
mapping_body(struct pstate *st, pair_fn fn, void *arg)
{
    struct keyset ks = {NULL, 0, 0};
    struct sval k;
    size_t saved, first;
    int rc;

    for (;;) {
        rc = next_event(st);
        if (rc != TP_OK)
            goto out;
        if (st->ev.type == YAML_MAPPING_END_EVENT)
            break;
        if (st->ev.type != YAML_SCALAR_EVENT) {
            rc = fail(st, TP_ESYNTAX, ev_line(st),
                      "a key must be a single value, not %s", node_kind(st));
            goto out;
        }
        cur_scalar(st, &k);
        if (k.null || k.len == 0) {
            rc = fail(st, TP_ESYNTAX, k.line, "empty key");
            goto out;
        }
        saved = path_push(st, k.p, k.len);
        rc = keyset_add(&ks, k.p, k.len, k.line, &first);
        if (rc == TP_EMULTI)
            rc = fail(st, TP_ESYNTAX, k.line,
                      "duplicate key (first at line %zu)", first);
        else if (rc == TP_ENOMEM)
            rc = nomem(st);
        else
            rc = fn(st, k.p, k.len, k.line, arg);
        path_pop(st, saved);
        if (rc != TP_OK)
            goto out;
    }
    rc = TP_OK;
out:
    keyset_free(&ks);
    return rc;
}

/* read_mapping - a mapping (or an empty value, taken as an empty one) */
static int
read_mapping(struct pstate *st, pair_fn fn, void *arg)
{
    struct sval v;
    int rc = next_event(st);

    if (rc != TP_OK)
        return rc;
    if (st->ev.type == YAML_MAPPING_START_EVENT)
        return mapping_body(st, fn, arg);
    if (st->ev.type == YAML_SCALAR_EVENT) {
        cur_scalar(st, &v);
        if (v.null)
            return TP_OK;
    }
    return fail(st, TP_ESYNTAX, ev_line(st), "expected a mapping, found %s",
                node_kind(st));
}

static int skip_pair(struct pstate *st, const char *k, size_t klen,
                     size_t kline, void *arg);

/*
 * skip_node - drop the node that starts at the current event, checking
 * it like any other (depth, duplicates, aliases); recursion is bounded by
 * TP_YAML_DEPTH_MAX, counted in next_event
 */
static int
skip_node(struct pstate *st)
{
    int rc;

    if (st->ev.type == YAML_MAPPING_START_EVENT)
        return mapping_body(st, skip_pair, NULL);
    if (st->ev.type != YAML_SEQUENCE_START_EVENT)
        return TP_OK;
    for (;;) {
        rc = next_event(st);
        if (rc != TP_OK)
            return rc;
        if (st->ev.type == YAML_SEQUENCE_END_EVENT)
            return TP_OK;
        rc = skip_node(st);
        if (rc != TP_OK)
            return rc;
    }
}

/* skip_value - read and drop the next node */
static int
skip_value(struct pstate *st)
{
    int rc = next_event(st);

    if (rc != TP_OK)
        return rc;
    return skip_node(st);
}

/* skip_pair - a pair inside a value that is ignored */
static int
skip_pair(struct pstate *st, const char *k, size_t klen, size_t kline,
          void *arg)
{
    (void)k;
    (void)klen;
    (void)kline;
    (void)arg;
    return skip_value(st);
}

/* unknown_key - warn about a key we do not know and skip its value */
static int
unknown_key(struct pstate *st, size_t kline)
{
    int rc = warn(st, kline, "unknown key, ignored");

    if (rc != TP_OK)
        return rc;
    return skip_value(st);
}

/* parse_digits - 1..max decimal digits and nothing else into *out */
static bool
parse_digits(const char *s, size_t n, size_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (n == 0 || n > max)
        return false;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (__builtin_mul_overflow(v, 10u, &v) ||
            __builtin_add_overflow(v, (unsigned)(s[i] - '0'), &v))
            return false;
    }
    *out = v;
    return true;
}

/*
 * add_resolver - ADDR or ADDR@PORT: an IPv4 or IPv6 address as
 * inet_pton(3) reads it, port 1..65535; appended to the space-separated
 * list as written
 */
static int
add_resolver(struct pstate *st, const struct sval *v, void *arg)
{
    unsigned char bin[sizeof(struct in6_addr)];
    char addr[INET6_ADDRSTRLEN], q[QUOTE_BUF];
    size_t alen = v->len, i;
    uint64_t port;
    int rc;

    (void)arg;
    quote(q, v->p, v->len);
    for (i = v->len; i > 0; i--) {
        if (v->p[i - 1] == '@') {
            alen = i - 1;
            break;
        }
    }
    if (alen == 0 || alen >= sizeof(addr) ||
        memchr(v->p, '\0', alen) != NULL)
        goto bad_addr;
    memcpy(addr, v->p, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET, addr, bin) != 1 &&
        inet_pton(AF_INET6, addr, bin) != 1)
        goto bad_addr;
    if (alen < v->len &&
        (!parse_digits(v->p + alen + 1, v->len - alen - 1, 5, &port) ||
         port < 1 || port > 65535))
        return fail(st, TP_ESYNTAX, v->line,
                    "\"%s\": port is not a number from 1 to 65535", q);
    rc = TP_OK;
    if (st->resolvers.len > 0)
        rc = tp_buf_append(&st->resolvers, " ", 1);
    if (rc == TP_OK)
        rc = tp_buf_append(&st->resolvers, v->p, v->len);
    if (rc == TP_ENOMEM)
        return nomem(st);
    if (rc != TP_OK)
        return fail(st, TP_ETOOBIG, v->line, "list longer than %d bytes",
                    TP_CONFIG_FILE_MAX);
    return TP_OK;
bad_addr:
    return fail(st, TP_ESYNTAX, v->line, "\"%s\" is not an IPv4 or IPv6 "
                "address (ADDR or ADDR@PORT)", q);
}

/* read_file_name - a file or directory name: text, shorter than PATH_MAX */
static int
read_file_name(struct pstate *st, char **dst)
{
    struct sval v;
    int rc = read_scalar(st, &v);

    if (rc == TP_OK)
        rc = check_text(st, &v, PATH_MAX - 1);
    if (rc != TP_OK)
        return rc;
    *dst = tp_strndup(v.p, v.len);
    if (*dst == NULL)
        return nomem(st);
    return TP_OK;
}

/* add_preload - one preload file name, in order */
static int
add_preload(struct pstate *st, const struct sval *v, void *arg)
{
    struct tp_config *c = &st->cfg;
    int rc;

    (void)arg;
    rc = check_text(st, v, PATH_MAX - 1);
    if (rc != TP_OK)
        return rc;
    if (grow_array((void **)&c->preload, &st->preload_cap, c->n_preload,
                   sizeof(*c->preload)) != TP_OK)
        return nomem(st);
    c->preload[c->n_preload] = tp_strndup(v->p, v->len);
    if (c->preload[c->n_preload] == NULL)
        return nomem(st);
    c->n_preload++;
    return TP_OK;
}

/*
 * read_timeout - SECONDS as DIGITS [ "." 1*3DIGIT ], 0.1 to 600, into
 * milliseconds; parsed here, so no locale can change the decimal point
 */
static int
read_timeout(struct pstate *st)
{
    uint64_t whole, frac = 0, ms;
    size_t i, nfrac = 0;
    struct sval v;
    char q[QUOTE_BUF];
    int rc = read_scalar(st, &v);

    if (rc != TP_OK)
        return rc;
    quote(q, v.p, v.len);
    for (i = 0; i < v.len && v.p[i] != '.'; i++)
        ;
    if (!parse_digits(v.p, i, NUM_DIGITS_MAX, &whole))
        goto bad;
    if (i < v.len) {
        nfrac = v.len - i - 1;
        if (nfrac > 3)
            return fail(st, TP_ESYNTAX, v.line,
                        "\"%s\": more than 3 decimals", q);
        if (!parse_digits(v.p + i + 1, nfrac, 3, &frac))
            goto bad;
    }
    for (; nfrac < 3; nfrac++)
        frac *= 10;
    /* whole < 10^10, so whole * 1000 + 999 fits in 64 bits. */
    ms = whole * 1000 + frac;
    if (ms < 100 || ms > 600000)
        return fail(st, TP_ESYNTAX, v.line,
                    "\"%s\": not between 0.1 and 600 seconds", q);
    st->cfg.timeout_ms = (uint32_t)ms;
    return TP_OK;
bad:
    return fail(st, TP_ESYNTAX, v.line,
                "\"%s\" is not a number of seconds (like 30 or 2.5)", q);
}

/*
 * read_postfix_compat - "MAJOR.MINOR" as Postfix's compatibility_level
 * names releases: MAJOR 2..9, MINOR 0..99 without a leading zero
 */
static int
read_postfix_compat(struct pstate *st)
{
    uint64_t major, minor;
    struct sval v;
    char q[QUOTE_BUF];
    size_t i;
    int rc = read_scalar(st, &v);

    if (rc != TP_OK)
        return rc;
    quote(q, v.p, v.len);
    for (i = 0; i < v.len && v.p[i] != '.'; i++)
        ;
    if (i == v.len || !parse_digits(v.p, i, 3, &major) ||
        !parse_digits(v.p + i + 1, v.len - i - 1, 3, &minor))
        return fail(st, TP_ESYNTAX, v.line,
                    "\"%s\" is not MAJOR.MINOR (like \"3.10\")", q);
    if (major < 2 || major > 9 || minor > 99 ||
        (v.len - i - 1 > 1 && v.p[i + 1] == '0'))
        return fail(st, TP_ESYNTAX, v.line,
                    "\"%s\": not a Postfix version from 2.0 to 9.99", q);
    st->cfg.postfix_compat = (unsigned int)(major * 100 + minor);
    return TP_OK;
}

/* read_dnssec - validate | trust-ad */
static int
read_dnssec(struct pstate *st)
{
    struct sval v;
    char q[QUOTE_BUF];
    int rc = read_scalar(st, &v);

    if (rc != TP_OK)
        return rc;
    if (is(v.p, v.len, "validate")) {
        st->cfg.dnssec_trust_ad = 0;
    } else if (is(v.p, v.len, "trust-ad")) {
        st->cfg.dnssec_trust_ad = 1;
    } else {
        quote(q, v.p, v.len);
        return fail(st, TP_ESYNTAX, v.line,
                    "unknown value \"%s\" (one of validate, trust-ad)", q);
    }
    return TP_OK;
}

/* read_shared_store - the shared store's URL, checked as the setter
 * does (tp_shared_parse_url) */
static int
read_shared_store(struct pstate *st)
{
    struct sval v;
    char why[128];
    int rc = read_scalar(st, &v);

    if (rc == TP_OK)
        rc = check_text(st, &v, TP_SHARED_URL_MAX - 1);
    if (rc != TP_OK)
        return rc;
    if ((st->cfg.shared_store = tp_strndup(v.p, v.len)) == NULL)
        return nomem(st);
    if (tp_shared_parse_url(st->cfg.shared_store, why, sizeof(why)) != 0)
        return fail(st, TP_ESYNTAX, v.line, "%s", why);
    return TP_OK;
}

/* log_pair - log: { level: ..., target: ... } */
static int
log_pair(struct pstate *st, const char *k, size_t klen, size_t kline,
         void *arg)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    struct sval v;
    char q[QUOTE_BUF];
    size_t i;
    int rc;

    (void)arg;
    if (is(k, klen, "level")) {
        rc = read_scalar(st, &v);
        if (rc != TP_OK)
            return rc;
        for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
            if (is(v.p, v.len, levels[i])) {
                /* In the order of enum tlspol_log_level. */
                st->cfg.log_level = (int)(TLSPOL_LOG_ERROR + i);
                return TP_OK;
            }
        }
        quote(q, v.p, v.len);
        return fail(st, TP_ESYNTAX, v.line, "unknown level \"%s\" (one of "
                    "error, warn, info, debug)", q);
    }
    if (is(k, klen, "target")) {
        rc = read_scalar(st, &v);
        if (rc != TP_OK)
            return rc;
        if (is(v.p, v.len, "stderr")) {
            st->cfg.log_syslog = 0;
        } else if (is(v.p, v.len, "syslog")) {
            st->cfg.log_syslog = 1;
        } else {
            quote(q, v.p, v.len);
            return fail(st, TP_ESYNTAX, v.line, "unknown target \"%s\" (one "
                        "of stderr, syslog)", q);
        }
        return TP_OK;
    }
    return unknown_key(st, kline);
}

/* The keys of server:, tlspol-socketmapd's settings (tlspol.yaml(5));
 * only listen takes a list. */
static const char *const server_keys[] = {
    "listen", "socket_mode", "socket_owner", "allow_remote", "max_clients",
    "idle_timeout", "max_request", "metrics", "admin", "admin_mode", "user",
    "cache_file", "refresh_ahead", "evict_idle", "connection_timeout",
};

/* server_value - one value of a server: setting, kept as text */
static int
server_value(struct pstate *st, const struct sval *v, void *arg)
{
    struct tp_server_setting *s = arg;
    char **vals;
    size_t *lines;
    int rc = check_text(st, v, TP_SERVER_VALUE_MAX);

    if (rc != TP_OK)
        return rc;
    if (s->n == TP_SERVER_VALUES_MAX)
        return fail(st, TP_ESYNTAX, v->line, "more than %d values",
                    TP_SERVER_VALUES_MAX);
    vals = tp_realloc(s->vals, (s->n + 1) * sizeof(*vals));
    if (vals == NULL)
        return nomem(st);
    s->vals = vals;
    lines = tp_realloc(s->lines, (s->n + 1) * sizeof(*lines));
    if (lines == NULL)
        return nomem(st);
    s->lines = lines;
    if ((s->vals[s->n] = tp_strndup(v->p, v->len)) == NULL)
        return nomem(st);
    s->lines[s->n++] = v->line;
    return TP_OK;
}

/* server_pair - one key of server: (unknown ones are warned about) */
static int
server_pair(struct pstate *st, const char *k, size_t klen, size_t kline,
            void *arg)
{
    struct tp_config *c = &st->cfg;
    struct tp_server_setting *s;
    struct sval v;
    size_t i;
    int rc;

    (void)arg;
    for (i = 0; i < sizeof(server_keys) / sizeof(server_keys[0]); i++)
        if (is(k, klen, server_keys[i]))
            break;
    if (i == sizeof(server_keys) / sizeof(server_keys[0]))
        return unknown_key(st, kline);
    if (grow_array((void **)&c->server, &st->server_cap, c->n_server,
                   sizeof(*c->server)) != TP_OK)
        return nomem(st);
    s = &c->server[c->n_server];
    memset(s, 0, sizeof(*s));
    if ((s->key = tp_strndup(k, klen)) == NULL)
        return nomem(st);
    c->n_server++; /* from here tp_config_free owns it */
    if (i == 0)
        return read_list(st, server_value, s);
    rc = read_scalar(st, &v);
    if (rc != TP_OK)
        return rc;
    return server_value(st, &v, s);
}

/* A failure: mapping being read. */
struct fstate {
    struct tp_failpolicy fp;
    bool have_mode;
    bool have_after;
    size_t after_line;
};

/* failure_pair - failure: { mode: defer|opportunistic, after: SECONDS } */
static int
failure_pair(struct pstate *st, const char *k, size_t klen, size_t kline,
             void *arg)
{
    struct fstate *fs = arg;
    uint64_t n;
    struct sval v;
    char q[QUOTE_BUF];
    int rc;

    if (is(k, klen, "mode")) {
        rc = read_scalar(st, &v);
        if (rc != TP_OK)
            return rc;
        if (is(v.p, v.len, "defer")) {
            fs->fp.opportunistic = 0;
        } else if (is(v.p, v.len, "opportunistic")) {
            fs->fp.opportunistic = 1;
        } else {
            quote(q, v.p, v.len);
            return fail(st, TP_ESYNTAX, v.line, "unknown mode \"%s\" (one of "
                        "defer, opportunistic)", q);
        }
        fs->have_mode = true;
        return TP_OK;
    }
    if (is(k, klen, "after")) {
        rc = read_scalar(st, &v);
        if (rc != TP_OK)
            return rc;
        quote(q, v.p, v.len);
        if (!parse_digits(v.p, v.len, NUM_DIGITS_MAX, &n) ||
            n > FAIL_AFTER_MAX)
            return fail(st, TP_ESYNTAX, v.line, "\"%s\" is not a whole "
                        "number of seconds from 0 to %u", q, FAIL_AFTER_MAX);
        fs->fp.after = (uint32_t)n;
        fs->have_after = true;
        fs->after_line = kline;
        return TP_OK;
    }
    return unknown_key(st, kline);
}

/*
 * read_failure - a failure: mapping (global or per domain); mode is
 * required, after is required with opportunistic and refused with defer
 */
static int
read_failure(struct pstate *st, struct tp_failpolicy *out, size_t kline)
{
    struct fstate fs;
    size_t saved;
    int rc;

    memset(&fs, 0, sizeof(fs));
    rc = read_mapping(st, failure_pair, &fs);
    if (rc != TP_OK)
        return rc;
    if (!fs.have_mode)
        return fail(st, TP_ESYNTAX, kline,
                    "mode missing (defer or opportunistic)");
    if (fs.fp.opportunistic && !fs.have_after)
        return fail(st, TP_ESYNTAX, kline,
                    "mode opportunistic needs after (seconds)");
    if (!fs.fp.opportunistic && fs.have_after) {
        saved = path_push(st, "after", 5);
        rc = fail(st, TP_ESYNTAX, fs.after_line,
                  "only allowed with mode opportunistic");
        path_pop(st, saved);
        return rc;
    }
    fs.fp.set = 1;
    *out = fs.fp;
    return TP_OK;
}

/* The level names, indexed by enum tp_level. */
static const char *const level_names[] = {
    "", "none", "may", "encrypt", "dane", "dane-only", "secure",
};

/* A domains: entry being read. */
struct dstate {
    struct tp_domain_conf d; /* owns what it points to until added */
    size_t match_cap;
    size_t match_line;       /* 0: no match key */
};

/* add_match - one MX pattern of match: (RFC 8461 §3.2), lowercased */
static int
add_match(struct pstate *st, const struct sval *v, void *arg)
{
    struct tp_domain_conf *d = &((struct dstate *)arg)->d;
    struct tp_err sub;
    const char *why;
    char q[QUOTE_BUF], *s;
    size_t i;

    quote(q, v->p, v->len);
    if (d->n_match == TP_STS_MX_MAX)
        return fail(st, TP_ESYNTAX, v->line, "more than %d patterns",
                    TP_STS_MX_MAX);
    if (tp_mx_pattern_check(v->p, v->len, &sub) != TP_OK) {
        why = sub.msg;
        if (strncmp(why, "mx: ", 4) == 0)
            why += 4;
        return fail(st, TP_ESYNTAX, v->line,
                    "\"%s\" is not a valid MX pattern: %s", q, why);
    }
    if (grow_array((void **)&d->match, &((struct dstate *)arg)->match_cap,
                   d->n_match, sizeof(*d->match)) != TP_OK)
        return nomem(st);
    s = tp_strndup(v->p, v->len);
    if (s == NULL)
        return nomem(st);
    /* Checked above: LDH, '.' and '*' only. */
    for (i = 0; i < v->len; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (char)(s[i] - 'A' + 'a');
    d->match[d->n_match++] = s;
    return TP_OK;
}

/* domain_pair - one key of a domains: entry */
static int
domain_pair(struct pstate *st, const char *k, size_t klen, size_t kline,
            void *arg)
{
    struct dstate *ds = arg;
    struct sval v;
    char q[QUOTE_BUF];
    size_t i;
    int rc;

    if (is(k, klen, "policy")) {
        rc = read_scalar(st, &v);
        if (rc != TP_OK)
            return rc;
        for (i = TP_LEVEL_NONE; i <= TP_LEVEL_SECURE; i++) {
            if (is(v.p, v.len, level_names[i])) {
                ds->d.level = (enum tp_level)i;
                return TP_OK;
            }
        }
        quote(q, v.p, v.len);
        return fail(st, TP_ESYNTAX, v.line, "unknown level \"%s\" (one of "
                    "none, may, encrypt, dane, dane-only, secure)", q);
    }
    if (is(k, klen, "match")) {
        ds->match_line = kline;
        return read_list(st, add_match, ds);
    }
    if (is(k, klen, "reason")) {
        rc = read_scalar(st, &v);
        if (rc == TP_OK)
            rc = check_text(st, &v, TP_REASON_MAX);
        if (rc != TP_OK)
            return rc;
        ds->d.reason = tp_strndup(v.p, v.len);
        if (ds->d.reason == NULL)
            return nomem(st);
        return TP_OK;
    }
    if (is(k, klen, "failure"))
        return read_failure(st, &ds->d.failure, kline);
    return unknown_key(st, kline);
}

/* domain_conf_free - release one entry's strings */
static void
domain_conf_free(struct tp_domain_conf *d)
{
    size_t i;

    tp_free(d->domain);
    for (i = 0; i < d->n_match && d->match != NULL; i++)
        tp_free(d->match[i]);
    tp_free(d->match);
    tp_free(d->reason);
    memset(d, 0, sizeof(*d));
}

/*
 * read_domain - one domains: entry; the key is normalized (lowercase
 * A-label, no trailing dot) and must be new after normalization
 */
static int
read_domain(struct pstate *st, const char *k, size_t klen, size_t kline)
{
    struct tp_config *c = &st->cfg;
    char name[TP_DOMAIN_MAX + 1];
    struct dstate ds;
    struct tp_err sub;
    const char *why;
    size_t first, saved;
    int rc;

    memset(&ds, 0, sizeof(ds));
    rc = tp_domain_normalize(k, klen, name, &sub);
    if (rc == TP_ENOMEM)
        return nomem(st);
    if (rc != TP_OK) {
        why = sub.msg;
        if (strncmp(why, "domain: ", 8) == 0)
            why += 8;
        return fail(st, TP_ESYNTAX, kline, "not a valid domain: %s", why);
    }
    if (c->n_domains == TP_CONFIG_DOMAINS_MAX)
        return fail(st, TP_ETOOBIG, kline, "more than %d domains",
                    TP_CONFIG_DOMAINS_MAX);
    rc = keyset_add(&st->domset, name, strlen(name), kline, &first);
    if (rc == TP_EMULTI)
        return fail(st, TP_ESYNTAX, kline, "duplicate domain %s (first at "
                    "line %zu)", name, first);
    if (rc != TP_OK)
        return nomem(st);
    ds.d.domain = tp_strndup(name, strlen(name));
    if (ds.d.domain == NULL) {
        rc = nomem(st);
        goto out;
    }
    ds.d.line = kline;
    rc = read_mapping(st, domain_pair, &ds);
    if (rc != TP_OK)
        goto out;
    rc = TP_ESYNTAX;
    if (ds.d.level == TP_LEVEL_UNSET && !ds.d.failure.set) {
        fail(st, rc, kline, "nothing to do (set policy or failure)");
        goto out;
    }
    /* match: is the secure level's "match=" (postconf(5) smtp_tls_policy_
     * maps); other levels have no use for it. */
    if (ds.match_line != 0 && ds.d.level != TP_LEVEL_SECURE) {
        saved = path_push(st, "match", 5);
        fail(st, rc, ds.match_line, "only allowed with policy secure");
        path_pop(st, saved);
        goto out;
    }
    if (grow_array((void **)&c->domains, &st->dom_cap, c->n_domains,
                   sizeof(*c->domains)) != TP_OK) {
        rc = nomem(st);
        goto out;
    }
    c->domains[c->n_domains++] = ds.d;
    memset(&ds.d, 0, sizeof(ds.d));
    rc = TP_OK;
out:
    domain_conf_free(&ds.d);
    return rc;
}

/* domains_pair - domains: { DOMAIN: {...}, ... } */
static int
domains_pair(struct pstate *st, const char *k, size_t klen, size_t kline,
             void *arg)
{
    (void)arg;
    return read_domain(st, k, klen, kline);
}

/* top_pair - one top-level key */
static int
top_pair(struct pstate *st, const char *k, size_t klen, size_t kline,
         void *arg)
{
    struct tp_config *c = &st->cfg;
    int rc;

    (void)arg;
    if (is(k, klen, "resolver")) {
        rc = read_list(st, add_resolver, NULL);
        if (rc != TP_OK)
            return rc;
        c->resolvers = st->resolvers.p;
        tp_buf_init(&st->resolvers, TP_CONFIG_FILE_MAX);
        return TP_OK;
    }
    if (is(k, klen, "trust_anchor"))
        return read_file_name(st, &c->trust_anchor);
    if (is(k, klen, "dnssec"))
        return read_dnssec(st);
    if (is(k, klen, "ca_file"))
        return read_file_name(st, &c->ca_file);
    if (is(k, klen, "ca_path"))
        return read_file_name(st, &c->ca_path);
    if (is(k, klen, "timeout"))
        return read_timeout(st);
    if (is(k, klen, "shared_store"))
        return read_shared_store(st);
    if (is(k, klen, "preload"))
        return read_list(st, add_preload, NULL);
    if (is(k, klen, "postfix_compat"))
        return read_postfix_compat(st);
    if (is(k, klen, "log"))
        return read_mapping(st, log_pair, NULL);
    if (is(k, klen, "failure"))
        return read_failure(st, &c->failure, kline);
    if (is(k, klen, "domains"))
        return read_mapping(st, domains_pair, NULL);
    if (is(k, klen, "server"))
        return read_mapping(st, server_pair, NULL);
    return unknown_key(st, kline);
}

/* expect - the current event must be of type t (libyaml guarantees it) */
static int
expect(struct pstate *st, yaml_event_type_t t)
{
    if (st->ev.type != t)
        return fail(st, TP_ESYNTAX, ev_line(st), "unexpected YAML event");
    return TP_OK;
}

/*
 * parse_stream - STREAM-START [DOCUMENT-START node DOCUMENT-END]
 * STREAM-END, where node is the top-level mapping or empty
 */
static int
parse_stream(struct pstate *st)
{
    struct sval v;
    int rc;

    if ((rc = next_event(st)) != TP_OK ||
        (rc = expect(st, YAML_STREAM_START_EVENT)) != TP_OK ||
        (rc = next_event(st)) != TP_OK)
        return rc;
    if (st->ev.type == YAML_STREAM_END_EVENT)
        return TP_OK;
    if ((rc = expect(st, YAML_DOCUMENT_START_EVENT)) != TP_OK ||
        (rc = next_event(st)) != TP_OK)
        return rc;
    if (st->ev.type == YAML_MAPPING_START_EVENT) {
        rc = mapping_body(st, top_pair, NULL);
    } else if (st->ev.type == YAML_SCALAR_EVENT) {
        cur_scalar(st, &v);
        if (!v.null)
            rc = fail(st, TP_ESYNTAX, v.line, "the top level must be a "
                      "mapping of keys, not a single value");
    } else {
        rc = fail(st, TP_ESYNTAX, ev_line(st), "the top level must be a "
                  "mapping of keys, not %s", node_kind(st));
    }
    if (rc != TP_OK ||
        (rc = next_event(st)) != TP_OK ||
        (rc = expect(st, YAML_DOCUMENT_END_EVENT)) != TP_OK ||
        (rc = next_event(st)) != TP_OK)
        return rc;
    if (st->ev.type == YAML_DOCUMENT_START_EVENT)
        return fail(st, TP_ESYNTAX, ev_line(st),
                    "more than one YAML document");
    return expect(st, YAML_STREAM_END_EVENT);
}

/* domain_cmp - qsort/bsearch order of domains: entries, by name */
static int
domain_cmp(const void *a, const void *b)
{
    return strcmp(((const struct tp_domain_conf *)a)->domain,
                  ((const struct tp_domain_conf *)b)->domain);
}

/* tp_config_parse - parse a YAML configuration of len bytes into *out */
int
tp_config_parse(const uint8_t *p, size_t len, const char *fname,
                struct tp_config *out, struct tp_err *e)
{
    static const unsigned char empty[] = "";
    struct pstate *st;
    int rc;

    empty_config(out);
    if (fname == NULL)
        fname = "config";
    if (len > TP_CONFIG_FILE_MAX) {
        tp_err_set(e, "%s: larger than %d bytes", fname, TP_CONFIG_FILE_MAX);
        return TP_ETOOBIG;
    }
    st = tp_calloc(1, sizeof(*st));
    if (st == NULL) {
        tp_err_set(e, "%s: out of memory", fname);
        return TP_ENOMEM;
    }
    st->in = p;
    st->len = len;
    st->fname = fname;
    st->e = e;
    empty_config(&st->cfg);
    tp_buf_init(&st->resolvers, TP_CONFIG_FILE_MAX);
    st->parser_init = yaml_parser_initialize(&st->parser) != 0;
    if (!st->parser_init) {
        rc = nomem(st);
        goto out;
    }
    yaml_parser_set_encoding(&st->parser, YAML_UTF8_ENCODING);
    yaml_parser_set_input_string(&st->parser, p != NULL ? p : empty, len);
    rc = parse_stream(st);
    if (rc != TP_OK)
        goto out;
    if (st->cfg.n_domains > 1)
        qsort(st->cfg.domains, st->cfg.n_domains, sizeof(*st->cfg.domains),
              domain_cmp);
    *out = st->cfg;
    empty_config(&st->cfg);
out:
    if (st->have_ev)
        yaml_event_delete(&st->ev);
    if (st->parser_init)
        yaml_parser_delete(&st->parser);
    tp_buf_free(&st->resolvers);
    keyset_free(&st->domset);
    tp_config_free(&st->cfg);
    tp_free(st);
    return rc;
}

/* tp_config_free - release what tp_config_parse allocated; *c is empty */
void
tp_config_free(struct tp_config *c)
{
    size_t i;

    if (c == NULL)
        return;
    tp_free(c->resolvers);
    tp_free(c->trust_anchor);
    tp_free(c->ca_file);
    tp_free(c->shared_store);
    tp_free(c->ca_path);
    for (i = 0; i < c->n_preload && c->preload != NULL; i++)
        tp_free(c->preload[i]);
    tp_free(c->preload);
    for (i = 0; i < c->n_domains && c->domains != NULL; i++)
        domain_conf_free(&c->domains[i]);
    tp_free(c->domains);
    for (i = 0; i < c->n_server && c->server != NULL; i++) {
        struct tp_server_setting *s = &c->server[i];
        size_t j;

        for (j = 0; j < s->n; j++)
            tp_free(s->vals[j]);
        tp_free(s->vals);
        tp_free(s->lines);
        tp_free(s->key);
    }
    tp_free(c->server);
    for (i = 0; i < c->n_warnings && c->warnings != NULL; i++)
        tp_free(c->warnings[i]);
    tp_free(c->warnings);
    empty_config(c);
}

/* tp_config_domain - the domains: entry for a normalized name, or NULL */
const struct tp_domain_conf *
tp_config_domain(const struct tp_config *c, const char *domain)
{
    struct tp_domain_conf key;

    if (c == NULL || domain == NULL || c->n_domains == 0)
        return NULL;
    memset(&key, 0, sizeof(key));
    key.domain = (char *)(uintptr_t)domain;
    return bsearch(&key, c->domains, c->n_domains, sizeof(*c->domains),
                   domain_cmp);
}

/* tp_level_name - "none", "may", ... "secure"; "" for UNSET */
const char *
tp_level_name(enum tp_level l)
{
    if ((unsigned)l >= sizeof(level_names) / sizeof(level_names[0]))
        return "";
    return level_names[l];
}
