/*
 * store.c - persistent MTA-STS policy cache in SQLite.
 *
 * Why SQLite in WAL mode: every write is one transaction, so a process
 * killed at any instant (kill -9) leaves the file either before or after
 * that write, never half-written; WAL lets the writer go on without
 * blocking readers; synchronous=NORMAL keeps that guarantee for process
 * crashes (only a power loss may drop the last commits, which costs a
 * re-fetch, never a wrong policy).  LMDB would do the same with more
 * code of ours for the record format; SQLite is everywhere and its CLI
 * lets an operator look inside.
 *
 * The file is untrusted input on load: every row is checked as a policy
 * from the network would be (id syntax, mode, max_age cap, mx patterns,
 * counts) and dropped with a warning otherwise.  Expired rows are
 * deleted.  Schema version 1; rows carry the version that wrote them.
 *
 * Not pure.  Limits: TP_STS_MX_MAX, TP_STS_MAXAGE_MAX, TP_STS_CACHE_MAX.
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "domain.h"
#include "internal.h"
#include "msgid.h"
#include "store.h"

#define STORE_VERSION 1

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS sts ("
    " domain TEXT PRIMARY KEY, id TEXT NOT NULL, mode INTEGER NOT NULL,"
    " max_age INTEGER NOT NULL, mx TEXT NOT NULL,"
    " fetched_at INTEGER NOT NULL, failed_at INTEGER NOT NULL,"
    " failed_id TEXT NOT NULL, hash BLOB NOT NULL,"
    " version INTEGER NOT NULL);";

/* valid_id - RFC 8461 §3.1: 1*32 ALPHA/DIGIT */
static int
valid_id(const char *s, int allow_empty)
{
    size_t n = strlen(s), i;

    if (n == 0)
        return allow_empty;
    if (n > TP_STS_ID_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= 'A' && s[i] <= 'Z')))
            return 0;
    return 1;
}

/* split_mx - "a\nb" into pol->mx, each checked as an mx pattern */
static int
split_mx(const char *text, struct tp_sts_policy *pol)
{
    const char *p = text;

    while (*p != '\0') {
        size_t n = strcspn(p, "\n");
        char **grown;

        if (n == 0 || pol->n_mx >= TP_STS_MX_MAX ||
            tp_mx_pattern_check(p, n, NULL) != TP_OK)
            return -1;
        grown = tp_realloc(pol->mx, (pol->n_mx + 1) * sizeof(*pol->mx));
        if (grown == NULL)
            return -1;
        pol->mx = grown;
        if ((pol->mx[pol->n_mx] = tp_strndup(p, n)) == NULL)
            return -1;
        pol->n_mx++;
        p += n;
        if (*p == '\n')
            p++;
    }
    return 0;
}

int
tp_sts_entry_check(struct tp_sts_entry *e, const struct tp_sts_fields *f,
                   int64_t now)
{
    char norm[TP_DOMAIN_MAX + 1];

    memset(e, 0, sizeof(*e));
    if (f->domain == NULL || f->id == NULL || f->mx == NULL ||
        f->failed_id == NULL || f->hash == NULL ||
        tp_domain_normalize(f->domain, strlen(f->domain), norm, NULL) !=
            TP_OK ||
        strcmp(norm, f->domain) != 0 || !valid_id(f->id, 0) ||
        !valid_id(f->failed_id, 1) || f->mode < TP_STS_MODE_NONE ||
        f->mode > TP_STS_MODE_ENFORCE || f->max_age < 0 ||
        f->max_age > TP_STS_MAXAGE_MAX || f->fetched_at <= 0 ||
        f->fetched_at > now + 300)
        return -1;
    memcpy(e->domain, norm, strlen(norm) + 1);
    memcpy(e->id, f->id, strlen(f->id) + 1);
    memcpy(e->failed_id, f->failed_id, strlen(f->failed_id) + 1);
    memcpy(e->hash, f->hash, sizeof(e->hash));
    e->pol.mode = (enum tp_sts_mode)f->mode;
    e->pol.max_age = (uint32_t)f->max_age;
    e->pol.max_age_raw = (uint64_t)f->max_age;
    e->fetched_at = f->fetched_at;
    e->failed_at = f->failed_at;
    if (split_mx(f->mx, &e->pol) != 0 ||
        (e->pol.n_mx == 0 && e->pol.mode != TP_STS_MODE_NONE)) {
        tp_sts_policy_free(&e->pol);
        return -1;
    }
    return 0;
}

/* load_row - one row into an entry; 0 ok, -1 invalid */
static int
load_row(sqlite3_stmt *st, struct tp_sts_entry *e, int64_t now)
{
    struct tp_sts_fields f = {
        .domain = (const char *)sqlite3_column_text(st, 0),
        .id = (const char *)sqlite3_column_text(st, 1),
        .mode = sqlite3_column_int64(st, 2),
        .max_age = sqlite3_column_int64(st, 3),
        .mx = (const char *)sqlite3_column_text(st, 4),
        .fetched_at = sqlite3_column_int64(st, 5),
        .failed_at = sqlite3_column_int64(st, 6),
        .failed_id = (const char *)sqlite3_column_text(st, 7),
        .hash = sqlite3_column_bytes(st, 8) == 32
                    ? sqlite3_column_blob(st, 8) : NULL,
    };

    return tp_sts_entry_check(e, &f, now);
}

/* load - every valid unexpired row into the memory cache */
static int
load(struct tlspol_ctx *ctx)
{
    sqlite3_stmt *st = NULL;
    int64_t now = (int64_t)time(NULL);
    size_t loaded = 0, bad = 0;
    int rc;

    if (sqlite3_exec(ctx->db, "DELETE FROM sts WHERE fetched_at + max_age "
                     "<= CAST(strftime('%s','now') AS INTEGER);", NULL, NULL,
                     NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(ctx->db, "SELECT domain, id, mode, max_age, mx, "
                           "fetched_at, failed_at, failed_id, hash FROM sts",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW &&
           loaded < TP_STS_CACHE_MAX) {
        struct tp_sts_entry e;

        if (load_row(st, &e, now) != 0) {
            bad++;
            continue;
        }
        if (tp_sts_cache_adopt(&ctx->sts_cache, &e) == NULL) {
            tp_sts_policy_free(&e.pol);
            sqlite3_finalize(st);
            return -1;
        }
        loaded++;
    }
    sqlite3_finalize(st);
    if (bad > 0)
        tp_log(ctx, TLSPOL_LOG_WARN, TP_MSG_STORE, "%s: %zu invalid "
               "cache rows ignored", ctx->cache_file, bad);
    tp_log(ctx, TLSPOL_LOG_INFO, TP_MSG_STORE, "%s: %zu cached MTA-STS "
           "policies loaded", ctx->cache_file, loaded);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

int
tp_store_open(struct tlspol_ctx *ctx)
{
    if (sqlite3_open_v2(ctx->cache_file, &ctx->db, SQLITE_OPEN_READWRITE |
                        SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_busy_timeout(ctx->db, 2000) != SQLITE_OK ||
        sqlite3_exec(ctx->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
        load(ctx) != 0) {
        tp_ctx_seterr(ctx, "cache file %s: %s", ctx->cache_file,
                      ctx->db ? sqlite3_errmsg(ctx->db) : "cannot open");
        tp_store_close(ctx);
        return -1;
    }
    return 0;
}

void
tp_store_close(struct tlspol_ctx *ctx)
{
    if (ctx->db != NULL)
        sqlite3_close(ctx->db);
    ctx->db = NULL;
}

void
tp_store_put(struct tlspol_ctx *ctx, const struct tp_sts_entry *e)
{
    char mx[TP_STS_MX_MAX * (TP_DOMAIN_MAX + 3)];
    size_t i, used = 0;
    sqlite3_stmt *st = NULL;

    if (ctx->db == NULL)
        return;
    mx[0] = '\0';
    for (i = 0; i < e->pol.n_mx; i++) {
        size_t n = strlen(e->pol.mx[i]);

        if (used + n + 2 > sizeof(mx))
            return;
        if (used > 0)
            mx[used++] = '\n';
        memcpy(mx + used, e->pol.mx[i], n + 1);
        used += n;
    }
    if (sqlite3_prepare_v2(ctx->db, "INSERT OR REPLACE INTO sts VALUES "
                           "(?,?,?,?,?,?,?,?,?,?)", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_bind_text(st, 1, e->domain, -1, SQLITE_STATIC) ||
        sqlite3_bind_text(st, 2, e->id, -1, SQLITE_STATIC) ||
        sqlite3_bind_int64(st, 3, e->pol.mode) ||
        sqlite3_bind_int64(st, 4, e->pol.max_age) ||
        sqlite3_bind_text(st, 5, mx, -1, SQLITE_STATIC) ||
        sqlite3_bind_int64(st, 6, e->fetched_at) ||
        sqlite3_bind_int64(st, 7, e->failed_at) ||
        sqlite3_bind_text(st, 8, e->failed_id, -1, SQLITE_STATIC) ||
        sqlite3_bind_blob(st, 9, e->hash, 32, SQLITE_STATIC) ||
        sqlite3_bind_int64(st, 10, STORE_VERSION) ||
        sqlite3_step(st) != SQLITE_DONE)
        tp_log(ctx, TLSPOL_LOG_WARN, TP_MSG_STORE, "%s: cannot store the "
               "policy of %s: %s", ctx->cache_file, e->domain,
               sqlite3_errmsg(ctx->db));
    sqlite3_finalize(st);
}

void
tp_store_delete(struct tlspol_ctx *ctx, const char *domain)
{
    sqlite3_stmt *st = NULL;

    if (ctx->db == NULL)
        return;
    if (sqlite3_prepare_v2(ctx->db, "DELETE FROM sts WHERE domain = ?", -1,
                           &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_DONE)
        tp_log(ctx, TLSPOL_LOG_WARN, TP_MSG_STORE, "%s: cannot delete %s: "
               "%s", ctx->cache_file, domain, sqlite3_errmsg(ctx->db));
    sqlite3_finalize(st);
}
