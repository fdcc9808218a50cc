/*
 * preload.c - the STARTTLS-Everywhere policy list, format 0.1: one JSON
 * document, read with libyaml's event parser, into a table of domains
 * sorted for bsearch, each with a mode and its MX patterns.
 *
 * standards.md A6 (EFF RULES.md, schema/policy-0.1.schema.json,
 * starttls-policy-cli) and A7.5 (exact-match lookup); RFC 8259 §2, §6, §7
 * (JSON syntax, numbers, strings); RFC 3339 §5.6 (date-time); RFC 8461
 * §3.2 (mx patterns, checked by domain.c).
 *
 * Pure on a buffer: (bytes, length) in, struct tp_preload out; no I/O and
 * no global state.  Limits: TP_PRELOAD_FILE_MAX (input), TP_YAML_DEPTH_MAX
 * (nesting, counted here: libyaml has no limit), TP_PRELOAD_DOMAINS_MAX
 * (policies), TP_STS_MX_MAX (mxs per policy: the entry stands in for an
 * MTA-STS policy and feeds the same verdict), and two of our own below:
 * PRELOAD_EXPANDED_MAX (MX bytes after alias expansion) and
 * PRELOAD_TIME_MAX (the latest time).
 *
 * JSON, not YAML: libyaml reads a superset, so every event is held to the
 * JSON subset before the schema sees it: flow collections with braces and
 * brackets, double-quoted strings with JSON escapes only, plain scalars
 * only as JSON numbers, true, false and null; no anchors, aliases, tags,
 * directives, document markers or second document; between tokens only
 * JSON whitespace, and ',' and ':' where JSON has them (no comments, no
 * trailing commas).  libyaml's marks count characters, not bytes, so a
 * raw cursor walks the input alongside the events to see those bytes.
 * A leading UTF-8 byte order mark is ignored (RFC 8259 §8.1); the input
 * must be UTF-8.  \u escapes of UTF-16 surrogates are refused by libyaml,
 * so non-BMP characters must be written as UTF-8.
 *
 * Errors: "preload: line N: <JSON path>: <what>", the path written like
 * $.policies["eff.org"].mxs[1]; "preload: <what>" for the whole input.
 * The first problem in document order is reported; a value of the wrong
 * type is read to its end first, so that nesting and syntax inside it
 * count.  Checks that need the whole document follow in this order:
 * duplicate alias names, alias references (unknown, expansion limit),
 * duplicate domains.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yaml.h>

#include "common.h"
#include "cursor.h"
#include "domain.h"
#include "preload.h"
#include "sts.h"

/* 9999-12-31T23:59:59Z, the latest RFC 3339 time; integers get the same
 * range (the schema's minimum is 0). */
#define PRELOAD_TIME_MAX INT64_C(253402300799)
#define PRELOAD_TIME_DIGITS 12
/* Our cap on RFC 3339 time-secfrac digits (nanoseconds). */
#define PRELOAD_FRAC_MAX 9
/* "YYYY-MM-DDTHH:MM:SS" "." 9 digits "+HH:MM" */
#define PRELOAD_TIME_LEN_MAX (19 + 1 + PRELOAD_FRAC_MAX + 6)
/* Our cap on MX pattern bytes (strings and pointers) after alias
 * expansion: a reference copies the alias, so without it a 16 MiB list
 * naming one large alias from every domain would expand to gigabytes. */
#define PRELOAD_EXPANDED_MAX ((size_t)4 * TP_PRELOAD_FILE_MAX)
/* Bytes of untrusted text quoted in a message, and the room they take. */
#define SHOW_MAX 64
#define SHOW_BUF (SHOW_MAX * 4 + 8)
/* Path steps the schema needs: key, name, key, index. */
#define PATH_SEGS 4

/* timegm() must reach 9999-12-31 without overflow. */
_Static_assert(sizeof(time_t) >= 8, "64-bit time_t required");

static const char shape[] = "expected YYYY-MM-DDTHH:MM:SS[.fraction]"
                            "[Z or +HH:MM]";

/* A policy definition, or a reference to one, as read. */
struct pdef {
    size_t line;           /* line of its '{' */
    enum tp_sts_mode mode; /* UNSET until "mode" is read */
    size_t n_mx;
    char **mx;             /* owned; lowercase, ".x" already as "*.x" */
    size_t bytes;          /* what mx[] counts toward PRELOAD_EXPANDED_MAX */
    char *alias;           /* owned; the "policy-alias" value, or NULL */
    size_t alias_len;
    size_t alias_line;
};

/* One member of "policies". */
struct pent {
    char *domain;          /* owned; normalized */
    char *key;             /* owned; the key as written if it differs */
    size_t key_len;
    size_t line;           /* line of the key */
    size_t seq;            /* document order */
    struct pdef def;
};

/* One member of "policy-aliases". */
struct palias {
    char *name;            /* owned; name_len bytes and a NUL */
    size_t name_len;
    size_t line;           /* line of the key */
    size_t seq;            /* document order */
    struct pdef def;
};

/* Where a node goes in its container. */
enum slot { SLOT_ROOT, SLOT_KEY, SLOT_VALUE, SLOT_ITEM };

/* One open flow collection. */
struct frame {
    bool map;
    bool want_key;         /* map: the next node is a key */
    size_t count;          /* members or items so far */
};

/* What may stand between the previous token and the next. */
struct gap {
    size_t max_commas;
    bool want_colon;       /* exactly one ':' (before an object's value) */
    bool before_end;       /* a ',' here is a trailing comma */
};

/* One step of a JSON path. */
struct seg {
    enum { SEG_NAME, SEG_USER, SEG_INDEX } kind;
    const char *s;         /* NAME: schema key; USER: borrowed bytes */
    size_t len;            /* USER */
    size_t idx;            /* INDEX */
};

/* Everything one parse needs; nothing outlives it. */
struct pstate {
    yaml_parser_t parser;
    bool parser_ok;        /* initialized: yaml_parser_delete() due */
    yaml_event_t ev;       /* the current event, owned while have_ev */
    bool have_ev;
    size_t line;           /* 1-based line of the current event */
    const uint8_t *p;      /* the input, after a byte order mark */
    size_t len;
    size_t ci;             /* raw cursor: characters (libyaml's index) */
    size_t bi;             /* raw cursor: bytes */
    size_t rline;          /* raw cursor: 1-based line */
    bool doc_seen;
    struct frame fr[TP_YAML_DEPTH_MAX];
    size_t depth;
    struct seg path[PATH_SEGS];
    size_t n_path;
    struct pent *ents;     /* owned, n_ents used of cap_ents */
    size_t n_ents, cap_ents;
    struct palias *als;    /* owned, n_als used of cap_als */
    size_t n_als, cap_als;
    int64_t timestamp, expires;
    size_t expanded;       /* bytes counted toward PRELOAD_EXPANDED_MAX */
    struct tp_err *e;
};

static int fail_at(struct pstate *st, int rc, size_t line, const char *fmt,
                   ...) TP_PRINTF(4, 5);

/* ---- messages ---- */

/* show - untrusted bytes for a message: printable ASCII kept, '"' and
 * '\' escaped, others as \xNN; cut after SHOW_MAX bytes with "..." */
static const char *
show(const void *s, size_t len, char buf[SHOW_BUF])
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *u = s;
    size_t i, o = 0;

    for (i = 0; i < len && i < SHOW_MAX; i++) {
        if (u[i] == '"' || u[i] == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)u[i];
        } else if (u[i] >= 0x20 && u[i] < 0x7f) {
            buf[o++] = (char)u[i];
        } else {
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hex[u[i] >> 4];
            buf[o++] = hex[u[i] & 15];
        }
    }
    if (i < len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/* ev_show - the current scalar's value for a message */
static const char *
ev_show(const struct pstate *st, char buf[SHOW_BUF])
{
    return show(st->ev.data.scalar.value, st->ev.data.scalar.length, buf);
}

/* is_ident - may a schema key follow a '.' in a path */
static bool
is_ident(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' ||
              (i > 0 && s[i] >= '0' && s[i] <= '9')))
            return false;
    return i > 0;
}

/* fmt_path - the current JSON path, e.g. $.policies["eff.org"].mxs[1] */
static void
fmt_path(const struct pstate *st, char *out, size_t size)
{
    char sb[SHOW_BUF];
    const struct seg *g;
    size_t i, o;
    int n;

    n = snprintf(out, size, "$");
    for (i = 0; i < st->n_path && n >= 0; i++) {
        o = (size_t)n;
        if (o >= size)
            return;
        g = &st->path[i];
        if (g->kind == SEG_INDEX)
            n = snprintf(out + o, size - o, "[%zu]", g->idx);
        else if (g->kind == SEG_NAME && is_ident(g->s))
            n = snprintf(out + o, size - o, ".%s", g->s);
        else if (g->kind == SEG_NAME)
            n = snprintf(out + o, size - o, "[\"%s\"]", g->s);
        else
            n = snprintf(out + o, size - o, "[\"%s\"]",
                         show(g->s, g->len, sb));
        if (n >= 0)
            n = (int)((size_t)n + o > size ? size : (size_t)n + o);
    }
}

/* fail_at - "preload: line N: <path>: <what>" into *e; returns rc */
static int
fail_at(struct pstate *st, int rc, size_t line, const char *fmt, ...)
{
    char path[TP_REASON_MAX], msg[TP_REASON_MAX];
    va_list ap;

    fmt_path(st, path, sizeof(path));
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    tp_err_set(st->e, "preload: line %zu: %s: %s", line, path, msg);
    return rc;
}

/* internal - libyaml and this parser disagree about the input: a bug,
 * reported as a syntax error without a path ("preload: line N: internal
 * error: ...", which no document text can imitate) */
static int
internal(struct pstate *st, const char *what)
{
    tp_err_set(st->e, "preload: line %zu: internal error: %s", st->line,
               what);
    return TP_ESYNTAX;
}

/* nomem - the one message for a failed allocation */
static int
nomem(struct pstate *st)
{
    tp_err_set(st->e, "preload: out of memory");
    return TP_ENOMEM;
}

/* strip_prefix - s without a leading "pfx: " (domain.c's messages) */
static const char *
strip_prefix(const char *s, const char *pfx)
{
    size_t n = strlen(pfx);

    if (strncmp(s, pfx, n) == 0 && s[n] == ':' && s[n + 1] == ' ')
        return s + n + 2;
    return s;
}

/* path_push - append one step; the schema never needs more than 4 */
static void
path_push(struct pstate *st, int kind, const void *s, size_t len,
          size_t idx)
{
    struct seg *g;

    if (st->n_path == PATH_SEGS)
        return;
    g = &st->path[st->n_path++];
    g->kind = kind;
    g->s = s;
    g->len = len;
    g->idx = idx;
}

/* path_pop - drop the last step */
static void
path_pop(struct pstate *st)
{
    if (st->n_path > 0)
        st->n_path--;
}

/* ---- the JSON subset of YAML ---- */

/* line_at - 1-based line of byte offset off (for libyaml reader errors) */
static size_t
line_at(const struct pstate *st, size_t off)
{
    struct tp_cursor c;
    size_t line = 1;
    uint8_t b, nx;

    tp_cursor_init(&c, st->p, off < st->len ? off : st->len);
    while (tp_cursor_u8(&c, &b))
        if (b == '\n' || (b == '\r' && !(tp_cursor_peek(&c, &nx) &&
                                         nx == '\n')))
            line++;
    return line;
}

/* yaml_fail - libyaml's error as ours: no memory, or a syntax error */
static int
yaml_fail(struct pstate *st)
{
    const yaml_parser_t *yp = &st->parser;
    const char *problem = yp->problem ? yp->problem : "invalid input";
    const char *hint = "";

    if (yp->error == YAML_MEMORY_ERROR)
        return nomem(st);
    if (yp->error == YAML_READER_ERROR) {
        if (yp->problem_value != -1)
            return fail_at(st, TP_ESYNTAX, line_at(st, yp->problem_offset),
                           "syntax error: %s (0x%x at byte %zu)", problem,
                           (unsigned)yp->problem_value, yp->problem_offset);
        return fail_at(st, TP_ESYNTAX, line_at(st, yp->problem_offset),
                       "syntax error: %s (at byte %zu)", problem,
                       yp->problem_offset);
    }
    if (strcmp(problem, "found invalid Unicode character escape code") == 0)
        hint = "; \\u escapes of UTF-16 surrogates are not supported, "
               "write the character as UTF-8";
    if (yp->context != NULL)
        return fail_at(st, TP_ESYNTAX, yp->problem_mark.line + 1,
                       "syntax error: %s (%s)%s", problem, yp->context, hint);
    return fail_at(st, TP_ESYNTAX, yp->problem_mark.line + 1,
                   "syntax error: %s%s", problem, hint);
}

/* utf8_width - octets in the sequence led by b (libyaml checked it) */
static size_t
utf8_width(uint8_t b)
{
    if (b < 0x80)
        return 1;
    if (b < 0xe0)
        return 2;
    return b < 0xf0 ? 3 : 4;
}

/* gap_byte - one byte between tokens (RFC 8259 §2: ws, ',', ':' only) */
static int
gap_byte(struct pstate *st, uint8_t b, const struct gap *g, size_t *commas,
         size_t *colons)
{
    if (b == ' ' || b == '\t' || b == '\n' || b == '\r')
        return TP_OK;
    if (b == ',' && ++*commas <= g->max_commas)
        return TP_OK;
    if (b == ',')
        return fail_at(st, TP_ESYNTAX, st->rline, g->before_end
                       ? "trailing comma is not JSON" : "unexpected ','");
    if (b == ':' && g->want_colon && ++*colons == 1)
        return TP_OK;
    if (b == ':')
        return fail_at(st, TP_ESYNTAX, st->rline, "unexpected ':'");
    if (b == '#')
        return fail_at(st, TP_ESYNTAX, st->rline, "comment is not JSON");
    if (b > 0x20 && b < 0x7f)
        return fail_at(st, TP_ESYNTAX, st->rline, "'%c' outside a value is "
                       "not JSON", (char)b);
    return fail_at(st, TP_ESYNTAX, st->rline, "byte 0x%02x outside a value "
                   "is not JSON", (unsigned)b);
}

/*
 * walk - move the raw cursor to libyaml's character index `to`, counting
 * lines as libyaml does (LF, CR, CRLF); with g, every byte passed is
 * between tokens and checked.
 */
static int
walk(struct pstate *st, size_t to, const struct gap *g)
{
    struct tp_cursor c;
    size_t commas = 0, colons = 0, w;
    uint8_t b, nx;
    int rc;

    tp_cursor_init(&c, st->p, st->len);
    c.pos = st->bi;
    while (st->ci < to) {
        if (!tp_cursor_peek(&c, &b))
            return internal(st, "position past the end of the input");
        if (g != NULL) {
            rc = gap_byte(st, b, g, &commas, &colons);
            if (rc != TP_OK)
                return rc;
        }
        w = utf8_width(b);
        if (tp_cursor_left(&c) < w)
            return internal(st, "truncated character");
        c.pos += w;
        st->ci++;
        if (b == '\n' || (b == '\r' && !(tp_cursor_peek(&c, &nx) &&
                                         nx == '\n')))
            st->rline++;
    }
    st->bi = c.pos;
    if (g != NULL && g->want_colon && colons == 0)
        return fail_at(st, TP_ESYNTAX, st->line, "missing ':' after the key");
    return TP_OK;
}

/* is_hex - one hexadecimal digit */
static bool
is_hex(uint8_t b)
{
    return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') ||
           (b >= 'A' && b <= 'F');
}

/*
 * check_string - the raw text of a double-quoted scalar must be a JSON
 * string (RFC 8259 §7): no raw control characters, only the escapes
 * \" \\ \/ \b \f \n \r \t \uXXXX, and no raw NEL, LS or PS, which YAML
 * would fold as line breaks.
 */
static int
check_string(struct pstate *st, size_t b0, size_t b1)
{
    struct tp_cursor c, d;
    char sb[SHOW_BUF];
    uint8_t b, x, y;
    size_t i;

    tp_cursor_init(&c, st->p + b0, b1 - b0);
    if (!tp_cursor_skip_if(&c, '"'))
        return internal(st, "string without '\"'");
    while (tp_cursor_u8(&c, &b)) {
        if (b == '"')
            return tp_cursor_eof(&c) ? TP_OK
                   : internal(st, "text after a string");
        if (b < 0x20)
            return fail_at(st, TP_ESYNTAX, st->line, "control character "
                           "0x%02x in a string is not JSON (write it as "
                           "\\u00%02x)", (unsigned)b, (unsigned)b);
        d = c;
        if ((b == 0xc2 && tp_cursor_u8(&d, &x) && x == 0x85) ||
            (b == 0xe2 && tp_cursor_u8(&d, &x) && x == 0x80 &&
             tp_cursor_u8(&d, &y) && (y == 0xa8 || y == 0xa9)))
            return fail_at(st, TP_ESYNTAX, st->line, "raw NEL, LS or PS in "
                           "a string: YAML reads it as a line break (write "
                           "it as a \\u escape)");
        if (b != '\\')
            continue;
        if (!tp_cursor_u8(&c, &x))
            break;
        switch (x) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n':
        case 'r': case 't':
            continue;
        case 'u':
            for (i = 0; i < 4; i++)
                if (!tp_cursor_u8(&c, &y) || !is_hex(y))
                    break;
            if (i == 4)
                continue;
            break;
        default:
            break;
        }
        return fail_at(st, TP_ESYNTAX, st->line, "escape \"\\%s\" is not "
                       "JSON", show(&x, 1, sb));
    }
    return internal(st, "unterminated string");
}

/* is_json_number - RFC 8259 §6: -? (0 / [1-9]*DIGIT) [frac] [exp] */
static bool
is_json_number(const uint8_t *s, size_t len)
{
    struct tp_cursor c;
    size_t n;
    uint8_t b;

    tp_cursor_init(&c, s, len);
    (void)tp_cursor_skip_if(&c, '-');
    if (!tp_cursor_peek(&c, &b) || b < '0' || b > '9')
        return false;
    c.pos++;
    if (b != '0')
        while (tp_cursor_peek(&c, &b) && b >= '0' && b <= '9')
            c.pos++;
    if (tp_cursor_skip_if(&c, '.')) {
        for (n = 0; tp_cursor_peek(&c, &b) && b >= '0' && b <= '9'; n++)
            c.pos++;
        if (n == 0)
            return false;
    }
    if (tp_cursor_skip_if(&c, 'e') || tp_cursor_skip_if(&c, 'E')) {
        if (!tp_cursor_skip_if(&c, '+'))
            (void)tp_cursor_skip_if(&c, '-');
        for (n = 0; tp_cursor_peek(&c, &b) && b >= '0' && b <= '9'; n++)
            c.pos++;
        if (n == 0)
            return false;
    }
    return tp_cursor_eof(&c);
}

/* scalar_is - is the current scalar exactly s */
static bool
scalar_is(const struct pstate *st, const char *s)
{
    size_t n = strlen(s);

    return st->ev.data.scalar.length == n &&
           memcmp(st->ev.data.scalar.value, s, n) == 0;
}

/* check_plain - an unquoted scalar must be a JSON number or literal */
static int
check_plain(struct pstate *st)
{
    char sb[SHOW_BUF];

    if (scalar_is(st, "true") || scalar_is(st, "false") ||
        scalar_is(st, "null") ||
        is_json_number(st->ev.data.scalar.value, st->ev.data.scalar.length))
        return TP_OK;
    if (st->ev.data.scalar.length == 0)
        return fail_at(st, TP_ESYNTAX, st->line, "missing value");
    return fail_at(st, TP_ESYNTAX, st->line, "unquoted text \"%s\" is not "
                   "JSON (strings need double quotes)", ev_show(st, sb));
}

/* check_event - refuse what YAML 1.1 has and JSON lacks */
static int
check_event(struct pstate *st, enum slot slot)
{
    const yaml_event_t *ev = &st->ev;
    const yaml_char_t *anchor, *tag;
    char sb[SHOW_BUF];
    bool flow;

    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return fail_at(st, TP_ESYNTAX, st->line, "alias *%s is not JSON "
                       "(YAML anchors and aliases are refused)",
                       show(ev->data.alias.anchor,
                            strlen((const char *)ev->data.alias.anchor),
                            sb));
    case YAML_DOCUMENT_START_EVENT:
        if (st->doc_seen)
            return fail_at(st, TP_ESYNTAX, st->line, "a second document is "
                           "not JSON");
        st->doc_seen = true;
        if (!ev->data.document_start.implicit)
            return fail_at(st, TP_ESYNTAX, st->line, "YAML directives and "
                           "the '---' marker are not JSON");
        return TP_OK;
    case YAML_DOCUMENT_END_EVENT:
        if (!ev->data.document_end.implicit)
            return fail_at(st, TP_ESYNTAX, st->line, "the '...' document "
                           "end marker is not JSON");
        return TP_OK;
    case YAML_SCALAR_EVENT:
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
        flow = true;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
        flow = ev->data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
        flow = ev->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE;
        break;
    default:
        return TP_OK;
    }
    if (anchor != NULL)
        return fail_at(st, TP_ESYNTAX, st->line, "anchor &%s is not JSON "
                       "(YAML anchors and aliases are refused)",
                       show(anchor, strlen((const char *)anchor), sb));
    if (tag != NULL)
        return fail_at(st, TP_ESYNTAX, st->line, "tag %s is not JSON",
                       show(tag, strlen((const char *)tag), sb));
    if (!flow)
        return fail_at(st, TP_ESYNTAX, st->line, "block-style %s is not "
                       "JSON (use braces and brackets)",
                       ev->type == YAML_MAPPING_START_EVENT ? "mapping"
                                                            : "sequence");
    if (ev->type != YAML_SCALAR_EVENT || ev->data.scalar.style ==
        YAML_DOUBLE_QUOTED_SCALAR_STYLE) {
        if (slot == SLOT_KEY && ev->type != YAML_SCALAR_EVENT)
            return fail_at(st, TP_ESYNTAX, st->line, "object key is not a "
                           "string");
        return TP_OK;
    }
    if (ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE)
        return fail_at(st, TP_ESYNTAX, st->line, "single-quoted string is "
                       "not JSON");
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return fail_at(st, TP_ESYNTAX, st->line, "block scalar ('|' or "
                       "'>') is not JSON");
    if (slot == SLOT_KEY && ev->data.scalar.length == 0)
        return fail_at(st, TP_ESYNTAX, st->line, "missing key");
    if (slot == SLOT_KEY)
        return fail_at(st, TP_ESYNTAX, st->line, "object key %s is not a "
                       "string", ev_show(st, sb));
    return check_plain(st);
}

/* cur_slot - where the next node goes */
static enum slot
cur_slot(const struct pstate *st)
{
    const struct frame *f;

    if (st->depth == 0)
        return SLOT_ROOT;
    f = &st->fr[st->depth - 1];
    if (!f->map)
        return SLOT_ITEM;
    return f->want_key ? SLOT_KEY : SLOT_VALUE;
}

/* is_node - does the event start a value */
static bool
is_node(yaml_event_type_t t)
{
    return t == YAML_SCALAR_EVENT || t == YAML_SEQUENCE_START_EVENT ||
           t == YAML_MAPPING_START_EVENT || t == YAML_ALIAS_EVENT;
}

/* is_start - does the event open a collection */
static bool
is_start(yaml_event_type_t t)
{
    return t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT;
}

/* is_end - does the event close a collection */
static bool
is_end(yaml_event_type_t t)
{
    return t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT;
}

/* gap_rules - what may precede the current event (RFC 8259 §2, §4, §5) */
static void
gap_rules(const struct pstate *st, enum slot slot, struct gap *g)
{
    const struct frame *f = st->depth ? &st->fr[st->depth - 1] : NULL;

    memset(g, 0, sizeof(*g));
    if (is_end(st->ev.type)) {
        g->before_end = true;
        return;
    }
    if (!is_node(st->ev.type))
        return;
    if (slot == SLOT_VALUE)
        g->want_colon = true;
    else if (f != NULL && f->count > 0)
        g->max_commas = 1;
}

/* track - the event in the open collections; nesting is capped at
 * TP_YAML_DEPTH_MAX here because libyaml does not cap it */
static int
track(struct pstate *st, enum slot slot)
{
    yaml_event_type_t t = st->ev.type;
    struct frame *f = st->depth ? &st->fr[st->depth - 1] : NULL;

    if (is_node(t) && f != NULL) {
        if (slot == SLOT_KEY) {
            f->want_key = false;
        } else {
            f->want_key = true;
            f->count++;
        }
    }
    if (is_start(t)) {
        if (st->depth == TP_YAML_DEPTH_MAX)
            return fail_at(st, TP_ETOOBIG, st->line, "nested deeper than %d "
                           "levels", TP_YAML_DEPTH_MAX);
        f = &st->fr[st->depth++];
        f->map = t == YAML_MAPPING_START_EVENT;
        f->want_key = true;
        f->count = 0;
    } else if (is_end(t) && st->depth > 0) {
        st->depth--;
    }
    return TP_OK;
}

/* check_bracket - a collection token must be its own '{' '}' '[' ']' */
static int
check_bracket(struct pstate *st, size_t b0)
{
    struct tp_cursor c;
    uint8_t want;

    switch (st->ev.type) {
    case YAML_MAPPING_START_EVENT:
        want = '{';
        break;
    case YAML_MAPPING_END_EVENT:
        want = '}';
        break;
    case YAML_SEQUENCE_START_EVENT:
        want = '[';
        break;
    case YAML_SEQUENCE_END_EVENT:
        want = ']';
        break;
    default:
        return TP_OK;
    }
    tp_cursor_init(&c, st->p + b0, st->bi - b0);
    if (tp_cursor_skip_if(&c, want) && tp_cursor_eof(&c))
        return TP_OK;
    return fail_at(st, TP_ESYNTAX, st->line, "object without braces is not "
                   "JSON");
}

/* next_event - the next event into st->ev, held to the JSON subset */
static int
next_event(struct pstate *st)
{
    struct gap g;
    enum slot slot;
    size_t b0;
    int rc;

    if (st->have_ev) {
        yaml_event_delete(&st->ev);
        st->have_ev = false;
    }
    if (!yaml_parser_parse(&st->parser, &st->ev))
        return yaml_fail(st);
    st->have_ev = true;
    st->line = st->ev.start_mark.line + 1;
    slot = cur_slot(st);
    gap_rules(st, slot, &g);
    rc = walk(st, st->ev.start_mark.index, &g);
    if (rc == TP_OK)
        rc = check_event(st, slot);
    if (rc == TP_OK)
        rc = track(st, slot);
    if (rc != TP_OK)
        return rc;
    b0 = st->bi;
    rc = walk(st, st->ev.end_mark.index, NULL);
    if (rc != TP_OK)
        return rc;
    if (st->ev.type == YAML_SCALAR_EVENT &&
        st->ev.data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
        return check_string(st, b0, st->bi);
    return check_bracket(st, b0);
}

/* ---- values ---- */

/* node_kind - what the current node is, for "expected X, found Y" */
static const char *
node_kind(const struct pstate *st)
{
    switch (st->ev.type) {
    case YAML_MAPPING_START_EVENT:
        return "an object";
    case YAML_SEQUENCE_START_EVENT:
        return "an array";
    case YAML_SCALAR_EVENT:
        break;
    default:
        return "nothing";
    }
    if (st->ev.data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
        return "a string";
    if (scalar_is(st, "true") || scalar_is(st, "false"))
        return "a boolean";
    if (scalar_is(st, "null"))
        return "null";
    return "a number";
}

/* wrong_type - the node is not what the schema wants: read past it (its
 * syntax and depth count), then say what was found */
static int
wrong_type(struct pstate *st, const char *want)
{
    const char *found = node_kind(st);
    size_t line = st->line, depth = st->depth;
    int rc;

    if (is_start(st->ev.type)) {
        while (st->depth >= depth) {
            rc = next_event(st);
            if (rc != TP_OK)
                return rc;
        }
    }
    return fail_at(st, TP_ESYNTAX, line, "expected %s, found %s", want,
                   found);
}

/* is_string - is the current event a JSON string */
static bool
is_string(const struct pstate *st)
{
    return st->ev.type == YAML_SCALAR_EVENT &&
           st->ev.data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
}

/* read_value - the next event, which must be a string (want) or else */
static int
read_string(struct pstate *st, const char *want)
{
    int rc = next_event(st);

    if (rc != TP_OK)
        return rc;
    return is_string(st) ? TP_OK : wrong_type(st, want);
}

/* key_index - position of the current key in names[], or -1 */
static int
key_index(const struct pstate *st, const char *const *names, int n)
{
    int i;

    for (i = 0; i < n; i++)
        if (scalar_is(st, names[i]))
            return i;
    return -1;
}

/* unknown_key - the current key is not in the schema */
static int
unknown_key(struct pstate *st, const char *allowed)
{
    path_push(st, SEG_USER, st->ev.data.scalar.value,
              st->ev.data.scalar.length, 0);
    return fail_at(st, TP_ESYNTAX, st->line, "unknown key (schema 0.1 "
                   "allows %s)", allowed);
}

/* days_in_month - Gregorian calendar (RFC 3339 Appendix C) */
static int
days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

/* take_digits - exactly n decimal digits into *v */
static bool
take_digits(struct tp_cursor *c, size_t n, int *v)
{
    uint8_t b;
    size_t i;

    *v = 0;
    for (i = 0; i < n; i++) {
        if (!tp_cursor_u8(c, &b) || b < '0' || b > '9')
            return false;
        *v = *v * 10 + (b - '0');
    }
    return true;
}

/*
 * parse_rfc3339 - RFC 3339 §5.6 date-time to Unix seconds:
 * YYYY-MM-DD "T" HH:MM:SS ["." 1*9DIGIT] ["Z" / ("+" / "-") HH:MM].
 * "t" and "z" are allowed (§5.6 NOTE); no offset means UTC, as in
 * starttls-policy-cli; the fraction is dropped; 23:59:60 is refused
 * (Unix time has no leap seconds).  Returns NULL, or why not.
 */
static const char *
parse_rfc3339(const uint8_t *s, size_t len, int64_t *out)
{
    struct tp_cursor c;
    int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
    size_t nfrac = 0;
    struct tm tm;
    int64_t t;
    uint8_t b;

    if (len > PRELOAD_TIME_LEN_MAX)
        return shape;
    tp_cursor_init(&c, s, len);
    if (!take_digits(&c, 4, &y) || !tp_cursor_skip_if(&c, '-') ||
        !take_digits(&c, 2, &mo) || !tp_cursor_skip_if(&c, '-') ||
        !take_digits(&c, 2, &d) || !tp_cursor_u8(&c, &b) ||
        (b != 'T' && b != 't') || !take_digits(&c, 2, &h) ||
        !tp_cursor_skip_if(&c, ':') || !take_digits(&c, 2, &mi) ||
        !tp_cursor_skip_if(&c, ':') || !take_digits(&c, 2, &se))
        return shape;
    if (tp_cursor_skip_if(&c, '.')) {
        while (tp_cursor_peek(&c, &b) && b >= '0' && b <= '9') {
            if (++nfrac > PRELOAD_FRAC_MAX)
                return "more than 9 fraction digits";
            c.pos++;
        }
        if (nfrac == 0)
            return shape;
    }
    if (tp_cursor_u8(&c, &b)) {
        if (b == '+' || b == '-') {
            sign = b == '+' ? 1 : -1;
            if (!take_digits(&c, 2, &oh) || !tp_cursor_skip_if(&c, ':') ||
                !take_digits(&c, 2, &om))
                return shape;
        } else if (b != 'Z' && b != 'z') {
            return shape;
        }
    }
    if (!tp_cursor_eof(&c))
        return shape;
    if (mo < 1 || mo > 12)
        return "month out of range";
    if (d < 1 || d > days_in_month(y, mo))
        return "day out of range for the month";
    if (h > 23 || mi > 59)
        return "hour or minute out of range";
    if (se > 59)
        return "second out of range (no leap seconds)";
    if (oh > 23 || om > 59)
        return "time zone offset out of range";
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    /* Fields checked above, so timegm() only does the arithmetic. */
    t = (int64_t)timegm(&tm) - sign * (oh * 3600 + om * 60);
    if (t < 0)
        return "before 1970-01-01T00:00:00Z";
    if (t > PRELOAD_TIME_MAX)
        return "after 9999-12-31T23:59:59Z";
    *out = t;
    return NULL;
}

/* parse_epoch - a JSON number that must be an integer in
 * 0..PRELOAD_TIME_MAX (the schema's "minimum": 0); NULL or why not */
static const char *
parse_epoch(const uint8_t *s, size_t len, int64_t *out)
{
    struct tp_cursor c;
    size_t digits = 0;
    int64_t v = 0;
    bool neg;
    uint8_t b;

    if (memchr(s, '.', len) || memchr(s, 'e', len) || memchr(s, 'E', len))
        return "is not an integer";
    tp_cursor_init(&c, s, len);
    neg = tp_cursor_skip_if(&c, '-');
    /* is_json_number() holds: the rest is 1*DIGIT without leading 0s. */
    while (tp_cursor_u8(&c, &b)) {
        if (++digits > PRELOAD_TIME_DIGITS)
            return "is too large (the latest is 253402300799, "
                   "9999-12-31T23:59:59Z)";
        v = v * 10 + (b - '0');
    }
    if (neg && v != 0)
        return "is negative";
    if (v > PRELOAD_TIME_MAX)
        return "is too large (the latest is 253402300799, "
               "9999-12-31T23:59:59Z)";
    *out = v;
    return NULL;
}

/* parse_time - timestamp or expires: integer seconds or RFC 3339 */
static int
parse_time(struct pstate *st, int64_t *out)
{
    const uint8_t *v;
    char sb[SHOW_BUF];
    const char *why;
    size_t vl;
    int rc;

    rc = next_event(st);
    if (rc != TP_OK)
        return rc;
    v = st->ev.data.scalar.value;
    vl = st->ev.data.scalar.length;
    if (st->ev.type == YAML_SCALAR_EVENT && !is_string(st) &&
        is_json_number(v, vl)) {
        why = parse_epoch(v, vl, out);
        if (why != NULL)
            return fail_at(st, TP_ESYNTAX, st->line, "%s %s",
                           ev_show(st, sb), why);
        return TP_OK;
    }
    if (!is_string(st))
        return wrong_type(st, "an integer or an RFC 3339 date-time string");
    why = parse_rfc3339(v, vl, out);
    if (why != NULL)
        return fail_at(st, TP_ESYNTAX, st->line, "\"%s\" is not a valid RFC "
                       "3339 date-time: %s", ev_show(st, sb), why);
    return TP_OK;
}

/* ---- the schema ---- */

/* add_mx - one mxs item: a name or a leading-dot suffix, stored as an
 * RFC 8461 §3.2 pattern ("*." covers one label, RULES.md) in tmp[n] */
static int
add_mx(struct pstate *st, char **tmp, size_t n)
{
    char buf[TP_DOMAIN_MAX + 1], sb[SHOW_BUF], sc[SHOW_BUF];
    const uint8_t *v = st->ev.data.scalar.value;
    size_t vl = st->ev.data.scalar.length, dot, i, cl;
    struct tp_err sub;

    if (n == TP_STS_MX_MAX)
        return fail_at(st, TP_ETOOBIG, st->line, "more than %d MX names",
                       TP_STS_MX_MAX);
    if (!is_string(st))
        return wrong_type(st, "a string");
    dot = vl > 0 && v[0] == '.';
    if (memchr(v, '*', vl) != NULL)
        return fail_at(st, TP_ESYNTAX, st->line, "\"%s\" is not a valid MX "
                       "name (write a suffix as \".example.net\", not "
                       "\"*.example.net\")", ev_show(st, sb));
    if (vl + dot > TP_DOMAIN_MAX)
        return fail_at(st, TP_ESYNTAX, st->line, "\"%s\" is not a valid MX "
                       "name (longer than %d octets)", ev_show(st, sb),
                       TP_DOMAIN_MAX);
    cl = vl + dot;
    if (dot)
        buf[0] = '*';
    memcpy(buf + dot, v, vl);
    buf[cl] = '\0';
    for (i = 0; i < cl; i++)
        if (buf[i] >= 'A' && buf[i] <= 'Z')
            buf[i] = (char)(buf[i] - 'A' + 'a');
    if (tp_mx_pattern_check(buf, cl, &sub) != TP_OK) {
        if (dot)
            return fail_at(st, TP_ESYNTAX, st->line, "\"%s\" is not a valid "
                           "MX name (as \"%s\": %s)", ev_show(st, sb),
                           show(buf, cl, sc), strip_prefix(sub.msg, "mx"));
        return fail_at(st, TP_ESYNTAX, st->line, "\"%s\" is not a valid MX "
                       "name (%s)", ev_show(st, sb),
                       strip_prefix(sub.msg, "mx"));
    }
    /* schema "uniqueItems": compared after case folding */
    for (i = 0; i < n; i++)
        if (strcmp(tmp[i], buf) == 0)
            return fail_at(st, TP_ESYNTAX, st->line, "\"%s\" repeats "
                           "mxs[%zu] (entries must be unique)",
                           ev_show(st, sb), i);
    tmp[n] = tp_strndup(buf, cl);
    return tmp[n] != NULL ? TP_OK : nomem(st);
}

/* parse_mxs - "mxs": a non-empty array of unique MX names */
static int
parse_mxs(struct pstate *st, struct pdef *d)
{
    char *tmp[TP_STS_MX_MAX];
    size_t n = 0, i, line0;
    int rc;

    rc = next_event(st);
    if (rc != TP_OK)
        return rc;
    if (st->ev.type != YAML_SEQUENCE_START_EVENT)
        return wrong_type(st, "an array of MX names");
    line0 = st->line;
    for (;;) {
        rc = next_event(st);
        if (rc != TP_OK)
            goto out;
        if (st->ev.type == YAML_SEQUENCE_END_EVENT)
            break;
        path_push(st, SEG_INDEX, NULL, 0, n);
        rc = add_mx(st, tmp, n);
        if (rc != TP_OK)
            goto out;
        path_pop(st);
        n++;
    }
    rc = TP_ESYNTAX;
    if (n == 0) {
        fail_at(st, rc, line0, "empty array (at least one MX name is "
                "required)");
        goto out;
    }
    d->mx = tp_malloc(n * sizeof(*d->mx));
    if (d->mx == NULL) {
        rc = nomem(st);
        goto out;
    }
    for (i = 0; i < n; i++)
        d->bytes += strlen(tmp[i]) + 1 + sizeof(char *);
    memcpy(d->mx, tmp, n * sizeof(*d->mx));
    d->n_mx = n;
    n = 0;
    rc = TP_OK;
out:
    for (i = 0; i < n; i++)
        tp_free(tmp[i]);
    return rc;
}

/* parse_mode - "mode": "testing" or "enforce" (no "none" in 0.1) */
static int
parse_mode(struct pstate *st, struct pdef *d)
{
    char sb[SHOW_BUF];
    int rc;

    rc = read_string(st, "\"testing\" or \"enforce\"");
    if (rc != TP_OK)
        return rc;
    if (scalar_is(st, "testing"))
        d->mode = TP_STS_MODE_TESTING;
    else if (scalar_is(st, "enforce"))
        d->mode = TP_STS_MODE_ENFORCE;
    else
        return fail_at(st, TP_ESYNTAX, st->line, "\"%s\" is not \"testing\" "
                       "or \"enforce\"", ev_show(st, sb));
    return TP_OK;
}

/* parse_alias_ref - "policy-alias": the name of a policy-aliases member */
static int
parse_alias_ref(struct pstate *st, struct pdef *d)
{
    int rc;

    rc = read_string(st, "an alias name");
    if (rc != TP_OK)
        return rc;
    if (st->ev.data.scalar.length == 0)
        return fail_at(st, TP_ESYNTAX, st->line, "empty alias name");
    d->alias = tp_strndup((const char *)st->ev.data.scalar.value,
                          st->ev.data.scalar.length);
    if (d->alias == NULL)
        return nomem(st);
    d->alias_len = st->ev.data.scalar.length;
    d->alias_line = st->line;
    return TP_OK;
}

enum { P_MODE, P_MXS, P_ALIAS, P_N };
static const char *const policy_keys[P_N] = {"mode", "mxs", "policy-alias"};

/*
 * parse_policy - one policy object (A6): {"policy-alias": name} and
 * nothing else, or {"mode": ..., "mxs": [...]}, both required; in an
 * alias definition only the latter (the CLI's PolicyNoAlias).
 */
static int
parse_policy(struct pstate *st, struct pdef *d, bool in_alias)
{
    unsigned seen = 0;
    size_t kline;
    int k, rc;

    rc = next_event(st);
    if (rc != TP_OK)
        return rc;
    if (st->ev.type != YAML_MAPPING_START_EVENT)
        return wrong_type(st, "an object");
    d->line = st->line;
    for (;;) {
        rc = next_event(st);
        if (rc != TP_OK)
            return rc;
        if (st->ev.type == YAML_MAPPING_END_EVENT)
            break;
        kline = st->line;
        k = key_index(st, policy_keys, P_N);
        if (k < 0)
            return unknown_key(st, in_alias ? "mode, mxs"
                                            : "mode, mxs or policy-alias");
        path_push(st, SEG_NAME, policy_keys[k], 0, 0);
        if (seen & (1u << k))
            return fail_at(st, TP_ESYNTAX, kline, "duplicate key");
        if (k == P_ALIAS && in_alias)
            return fail_at(st, TP_ESYNTAX, kline, "an alias definition "
                           "cannot itself refer to an alias");
        if (k == P_ALIAS && seen != 0)
            return fail_at(st, TP_ESYNTAX, kline, "\"policy-alias\" cannot "
                           "be combined with other keys");
        if (k != P_ALIAS && (seen & (1u << P_ALIAS)))
            return fail_at(st, TP_ESYNTAX, kline, "\"%s\" cannot be combined "
                           "with \"policy-alias\"", policy_keys[k]);
        seen |= 1u << k;
        if (k == P_MODE)
            rc = parse_mode(st, d);
        else if (k == P_MXS)
            rc = parse_mxs(st, d);
        else
            rc = parse_alias_ref(st, d);
        if (rc != TP_OK)
            return rc;
        path_pop(st);
    }
    if (seen & (1u << P_ALIAS))
        return TP_OK;
    if (seen == 0)
        return fail_at(st, TP_ESYNTAX, d->line, "empty policy (needs %s)",
                       in_alias ? "\"mode\" and \"mxs\""
                                : "\"mode\" and \"mxs\", or \"policy-alias\"");
    if (!(seen & (1u << P_MODE)))
        return fail_at(st, TP_ESYNTAX, d->line, "missing key \"mode\"");
    if (!(seen & (1u << P_MXS)))
        return fail_at(st, TP_ESYNTAX, d->line, "missing key \"mxs\"");
    return TP_OK;
}

/* grow - make room for one more element of size sz in *arr */
static bool
grow(void **arr, size_t n, size_t *cap, size_t sz)
{
    size_t ncap, bytes;
    void *p;

    if (n < *cap)
        return true;
    ncap = *cap ? *cap : 16;
    if (*cap && __builtin_mul_overflow(*cap, 2, &ncap))
        return false;
    if (__builtin_mul_overflow(ncap, sz, &bytes))
        return false;
    p = tp_realloc(*arr, bytes);
    if (p == NULL)
        return false;
    *arr = p;
    *cap = ncap;
    return true;
}

/* add_policy - one member of "policies"; the key is the current event */
static int
add_policy(struct pstate *st)
{
    const char *key = (const char *)st->ev.data.scalar.value;
    size_t klen = st->ev.data.scalar.length, dl;
    char dom[TP_DOMAIN_MAX + 1];
    struct tp_err sub;
    struct pent *pe;
    void *arr;
    int rc;

    if (st->n_ents == TP_PRELOAD_DOMAINS_MAX) {
        path_push(st, SEG_USER, key, klen, 0);
        return fail_at(st, TP_ETOOBIG, st->line, "more than %d domains",
                       TP_PRELOAD_DOMAINS_MAX);
    }
    if (tp_domain_normalize(key, klen, dom, &sub) != TP_OK) {
        path_push(st, SEG_USER, key, klen, 0);
        return fail_at(st, TP_ESYNTAX, st->line, "not a valid domain name "
                       "(%s)", strip_prefix(sub.msg, "domain"));
    }
    arr = st->ents;
    if (!grow(&arr, st->n_ents, &st->cap_ents, sizeof(*st->ents)))
        return nomem(st);
    st->ents = arr;
    pe = &st->ents[st->n_ents];
    memset(pe, 0, sizeof(*pe));
    pe->line = st->line;
    pe->seq = st->n_ents++;
    dl = strlen(dom);
    pe->domain = tp_strndup(dom, dl);
    if (pe->domain == NULL)
        return nomem(st);
    if (klen != dl || memcmp(key, dom, dl) != 0) {
        pe->key = tp_strndup(key, klen);
        if (pe->key == NULL)
            return nomem(st);
        pe->key_len = klen;
    }
    if (pe->key != NULL)
        path_push(st, SEG_USER, pe->key, pe->key_len, 0);
    else
        path_push(st, SEG_USER, pe->domain, dl, 0);
    rc = parse_policy(st, &pe->def, false);
    if (rc == TP_OK)
        path_pop(st);
    return rc;
}

/* add_alias - one member of "policy-aliases"; the key is current */
static int
add_alias(struct pstate *st)
{
    size_t klen = st->ev.data.scalar.length;
    struct palias *pa;
    void *arr;
    int rc;

    if (klen == 0)
        return fail_at(st, TP_ESYNTAX, st->line, "empty alias name");
    arr = st->als;
    if (!grow(&arr, st->n_als, &st->cap_als, sizeof(*st->als)))
        return nomem(st);
    st->als = arr;
    pa = &st->als[st->n_als];
    memset(pa, 0, sizeof(*pa));
    pa->line = st->line;
    pa->seq = st->n_als++;
    pa->name = tp_strndup((const char *)st->ev.data.scalar.value, klen);
    if (pa->name == NULL)
        return nomem(st);
    pa->name_len = klen;
    path_push(st, SEG_USER, pa->name, klen, 0);
    rc = parse_policy(st, &pa->def, true);
    if (rc == TP_OK)
        path_pop(st);
    return rc;
}

/* parse_members - an object whose members add() reads one by one */
static int
parse_members(struct pstate *st, int (*add)(struct pstate *))
{
    int rc;

    rc = next_event(st);
    if (rc != TP_OK)
        return rc;
    if (st->ev.type != YAML_MAPPING_START_EVENT)
        return wrong_type(st, "an object");
    for (;;) {
        rc = next_event(st);
        if (rc != TP_OK)
            return rc;
        if (st->ev.type == YAML_MAPPING_END_EVENT)
            return TP_OK;
        rc = add(st);
        if (rc != TP_OK)
            return rc;
    }
}

enum { K_TIMESTAMP, K_EXPIRES, K_VERSION, K_POLICIES, K_ALIASES, K_AUTHOR,
       K_N };
static const char *const top_keys[K_N] = {
    "timestamp", "expires", "version", "policies", "policy-aliases",
    "author",
};

/* parse_top - the top-level object (A6: additionalProperties false) */
static int
parse_top(struct pstate *st)
{
    char sb[SHOW_BUF];
    unsigned seen = 0;
    size_t line0 = st->line, kline;
    int k, rc;

    for (;;) {
        rc = next_event(st);
        if (rc != TP_OK)
            return rc;
        if (st->ev.type == YAML_MAPPING_END_EVENT)
            break;
        kline = st->line;
        k = key_index(st, top_keys, K_N);
        if (k < 0)
            return unknown_key(st, "timestamp, expires, version, author, "
                               "policies, policy-aliases");
        path_push(st, SEG_NAME, top_keys[k], 0, 0);
        if (seen & (1u << k))
            return fail_at(st, TP_ESYNTAX, kline, "duplicate key");
        seen |= 1u << k;
        switch (k) {
        case K_TIMESTAMP:
            rc = parse_time(st, &st->timestamp);
            break;
        case K_EXPIRES:
            rc = parse_time(st, &st->expires);
            break;
        case K_VERSION:
            rc = read_string(st, "the string \"0.1\"");
            if (rc == TP_OK && !scalar_is(st, "0.1"))
                rc = fail_at(st, TP_ESYNTAX, st->line, "unsupported version "
                             "\"%s\" (expected \"0.1\")", ev_show(st, sb));
            break;
        case K_AUTHOR:
            rc = read_string(st, "a string");
            break;
        case K_POLICIES:
            rc = parse_members(st, add_policy);
            break;
        default:
            rc = parse_members(st, add_alias);
            break;
        }
        if (rc != TP_OK)
            return rc;
        path_pop(st);
    }
    for (k = 0; k < K_AUTHOR; k++)
        if (!(seen & (1u << k)))
            return fail_at(st, TP_ESYNTAX, line0, "missing key \"%s\"",
                           top_keys[k]);
    return TP_OK;
}

/* parse_stream - one document holding one object, nothing else */
static int
parse_stream(struct pstate *st)
{
    int rc;

    rc = next_event(st);                    /* stream start */
    if (rc == TP_OK)
        rc = next_event(st);                /* document start */
    if (rc != TP_OK)
        return rc;
    /* libyaml puts the stream end one line past an unterminated line. */
    if (st->ev.type == YAML_STREAM_END_EVENT)
        return fail_at(st, TP_ESYNTAX, st->rline, "expected an object, "
                       "found nothing");
    rc = next_event(st);                    /* the root */
    if (rc != TP_OK)
        return rc;
    if (st->ev.type != YAML_MAPPING_START_EVENT)
        return wrong_type(st, "an object");
    rc = parse_top(st);
    if (rc == TP_OK)
        rc = next_event(st);                /* document end */
    if (rc == TP_OK)
        rc = next_event(st);                /* stream end */
    if (rc == TP_OK && st->ev.type != YAML_STREAM_END_EVENT)
        rc = internal(st, "expected the end of the input");
    return rc;
}

/* ---- after the document ---- */

/* cmp_name - order aliases by name bytes */
static int
cmp_name(const void *a, const void *b)
{
    const struct palias *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);

    if (c != 0)
        return c;
    return (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

/* cmp_alias - by name, then document order */
static int
cmp_alias(const void *a, const void *b)
{
    const struct palias *x = a, *y = b;
    int c = cmp_name(a, b);

    return c != 0 ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* cmp_ent - by domain, then document order */
static int
cmp_ent(const void *a, const void *b)
{
    const struct pent *x = a, *y = b;
    int c = strcmp(x->domain, y->domain);

    return c != 0 ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* check_alias_dups - sort the aliases; a name defined twice is an error
 * at the second definition (the earliest such, in document order) */
static int
check_alias_dups(struct pstate *st)
{
    const struct palias *dup = NULL, *first = NULL, *g = NULL;
    size_t i;

    if (st->n_als < 2)
        return TP_OK;
    qsort(st->als, st->n_als, sizeof(*st->als), cmp_alias);
    for (i = 1; i < st->n_als; i++) {
        if (cmp_name(&st->als[i - 1], &st->als[i]) != 0) {
            g = NULL;
            continue;
        }
        if (g == NULL)
            g = &st->als[i - 1];
        if (dup == NULL || st->als[i].seq < dup->seq) {
            dup = &st->als[i];
            first = g;
        }
    }
    if (dup == NULL)
        return TP_OK;
    st->n_path = 0;
    path_push(st, SEG_NAME, "policy-aliases", 0, 0);
    path_push(st, SEG_USER, dup->name, dup->name_len, 0);
    return fail_at(st, TP_ESYNTAX, dup->line, "duplicate key (first at line "
                   "%zu)", first->line);
}

/* ent_path - $.policies["<key as written>"] */
static void
ent_path(struct pstate *st, const struct pent *pe)
{
    st->n_path = 0;
    path_push(st, SEG_NAME, "policies", 0, 0);
    if (pe->key != NULL)
        path_push(st, SEG_USER, pe->key, pe->key_len, 0);
    else
        path_push(st, SEG_USER, pe->domain, strlen(pe->domain), 0);
}

/* resolve - give a referring policy its alias's mode and a copy of its
 * mxs; count every entry's MX bytes against PRELOAD_EXPANDED_MAX */
static int
resolve(struct pstate *st, struct pent *pe)
{
    const struct palias *pa = NULL;
    struct palias key;
    char sb[SHOW_BUF];
    size_t i;

    if (pe->def.alias != NULL) {
        memset(&key, 0, sizeof(key));
        key.name = pe->def.alias;
        key.name_len = pe->def.alias_len;
        pa = st->n_als == 0 ? NULL
             : bsearch(&key, st->als, st->n_als, sizeof(*st->als), cmp_name);
        if (pa == NULL) {
            ent_path(st, pe);
            path_push(st, SEG_NAME, "policy-alias", 0, 0);
            return fail_at(st, TP_ESYNTAX, pe->def.alias_line, "unknown alias "
                           "\"%s\"", show(key.name, key.name_len, sb));
        }
        pe->def.mode = pa->def.mode;
        pe->def.bytes = pa->def.bytes;
    }
    if (__builtin_add_overflow(st->expanded, pe->def.bytes, &st->expanded) ||
        st->expanded > PRELOAD_EXPANDED_MAX) {
        ent_path(st, pe);
        return fail_at(st, TP_ETOOBIG, pe->line, "MX names after alias "
                       "expansion exceed %zu bytes", PRELOAD_EXPANDED_MAX);
    }
    if (pe->def.alias == NULL)
        return TP_OK;
    pe->def.mx = tp_calloc(pa->def.n_mx, sizeof(*pe->def.mx));
    if (pe->def.mx == NULL)
        return nomem(st);
    for (i = 0; i < pa->def.n_mx; i++) {
        pe->def.mx[i] = tp_strndup(pa->def.mx[i], strlen(pa->def.mx[i]));
        if (pe->def.mx[i] == NULL)
            return nomem(st);
        pe->def.n_mx = i + 1;
    }
    return TP_OK;
}

/* check_ent_dups - sort the policies; the same domain twice, as written
 * or after normalization, is an error at the second (earliest such) */
static int
check_ent_dups(struct pstate *st)
{
    const struct pent *dup = NULL, *first = NULL, *g = NULL;
    char sb[SHOW_BUF];
    size_t i;

    if (st->n_ents < 2)
        return TP_OK;
    qsort(st->ents, st->n_ents, sizeof(*st->ents), cmp_ent);
    for (i = 1; i < st->n_ents; i++) {
        if (strcmp(st->ents[i - 1].domain, st->ents[i].domain) != 0) {
            g = NULL;
            continue;
        }
        if (g == NULL)
            g = &st->ents[i - 1];
        if (dup == NULL || st->ents[i].seq < dup->seq) {
            dup = &st->ents[i];
            first = g;
        }
    }
    if (dup == NULL)
        return TP_OK;
    ent_path(st, dup);
    if (dup->key == NULL && first->key == NULL)
        return fail_at(st, TP_ESYNTAX, dup->line, "duplicate key (first at "
                       "line %zu)", first->line);
    return fail_at(st, TP_ESYNTAX, dup->line, "same domain as line %zu "
                   "after normalization (\"%s\")", first->line,
                   show(dup->domain, strlen(dup->domain), sb));
}

/* finish - the checks that need the whole document, then the table */
static int
finish(struct pstate *st, struct tp_preload *out)
{
    struct tp_preload_entry *e = NULL;
    size_t i;
    int rc;

    rc = check_alias_dups(st);
    for (i = 0; i < st->n_ents && rc == TP_OK; i++)
        rc = resolve(st, &st->ents[i]);
    if (rc == TP_OK)
        rc = check_ent_dups(st);
    if (rc != TP_OK)
        return rc;
    if (st->n_ents > 0) {
        e = tp_calloc(st->n_ents, sizeof(*e));
        if (e == NULL)
            return nomem(st);
    }
    for (i = 0; i < st->n_ents; i++) {
        e[i].domain = st->ents[i].domain;
        e[i].mode = st->ents[i].def.mode;
        e[i].n_mx = st->ents[i].def.n_mx;
        e[i].mx = st->ents[i].def.mx;
        st->ents[i].domain = NULL;
        st->ents[i].def.mx = NULL;
        st->ents[i].def.n_mx = 0;
    }
    out->timestamp = st->timestamp;
    out->expires = st->expires;
    out->n = st->n_ents;
    out->e = e;
    return TP_OK;
}

/* free_def - release one policy's strings */
static void
free_def(struct pdef *d)
{
    size_t i;

    for (i = 0; i < d->n_mx; i++)
        tp_free(d->mx[i]);
    tp_free(d->mx);
    tp_free(d->alias);
}

/* pstate_free - release everything a parse still holds */
static void
pstate_free(struct pstate *st)
{
    size_t i;

    if (st->have_ev)
        yaml_event_delete(&st->ev);
    if (st->parser_ok)
        yaml_parser_delete(&st->parser);
    for (i = 0; i < st->n_ents; i++) {
        tp_free(st->ents[i].domain);
        tp_free(st->ents[i].key);
        free_def(&st->ents[i].def);
    }
    tp_free(st->ents);
    for (i = 0; i < st->n_als; i++) {
        tp_free(st->als[i].name);
        free_def(&st->als[i].def);
    }
    tp_free(st->als);
}

/* tp_preload_parse - parse one policy list into *out */
int
tp_preload_parse(const uint8_t *p, size_t len, struct tp_preload *out,
                 struct tp_err *e)
{
    struct pstate st;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&st, 0, sizeof(st));
    st.e = e;
    st.rline = 1;
    if (len > TP_PRELOAD_FILE_MAX) {
        tp_err_set(e, "preload: larger than %d bytes", TP_PRELOAD_FILE_MAX);
        return TP_ETOOBIG;
    }
    /* RFC 8259 §8.1: a parser MAY ignore a byte order mark. */
    if (p != NULL && len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
        p += 3;
        len -= 3;
    }
    if (p == NULL || len == 0) {
        tp_err_set(e, "preload: empty input");
        return TP_ESYNTAX;
    }
    st.p = p;
    st.len = len;
    if (!yaml_parser_initialize(&st.parser)) {
        rc = nomem(&st);
        goto out;
    }
    st.parser_ok = true;
    yaml_parser_set_input_string(&st.parser, p, len);
    /* RFC 8259 §8.1: UTF-8 only; no guessing at UTF-16. */
    yaml_parser_set_encoding(&st.parser, YAML_UTF8_ENCODING);
    rc = parse_stream(&st);
    if (rc == TP_OK)
        rc = finish(&st, out);
out:
    pstate_free(&st);
    return rc;
}

/* tp_preload_free - release the table; leaves *pl empty */
void
tp_preload_free(struct tp_preload *pl)
{
    size_t i, j;

    if (pl == NULL)
        return;
    for (i = 0; i < pl->n && pl->e != NULL; i++) {
        for (j = 0; j < pl->e[i].n_mx; j++)
            tp_free(pl->e[i].mx[j]);
        tp_free(pl->e[i].mx);
        tp_free(pl->e[i].domain);
    }
    tp_free(pl->e);
    memset(pl, 0, sizeof(*pl));
}

/* cmp_find - a domain against an entry, for bsearch */
static int
cmp_find(const void *key, const void *el)
{
    const struct tp_preload_entry *x = el;

    return strcmp(key, x->domain);
}

/* tp_preload_find - exact match only (A7.5: no subdomain inheritance) */
const struct tp_preload_entry *
tp_preload_find(const struct tp_preload *pl, const char *domain)
{
    if (pl == NULL || domain == NULL || pl->n == 0 || pl->e == NULL)
        return NULL;
    return bsearch(domain, pl->e, pl->n, sizeof(*pl->e), cmp_find);
}
