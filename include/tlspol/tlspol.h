/*
 * tlspol.h - libtlspol public API: outbound SMTP TLS policy resolution.
 *
 * Turn a next-hop destination domain into one verdict: must-TLS (and how
 * the peer is authenticated), may-TLS, or defer.  See tlspol-query(1) and
 * README.md for the model.
 *
 * Conventions:
 *  - Handles are opaque.  Every *_new has a NULL-safe *_free.
 *  - Getters return borrowed pointers, valid until the owner is freed.
 *  - Status codes (tlspol_status) are only ever appended, never renumbered.
 *  - A verdict is not an error: a failed security-relevant lookup is the
 *    verdict TLSPOL_VERDICT_TEMPFAIL, not an error status.
 *  - One context per thread.  Callbacks run only from
 *    tlspol_ctx_dispatch() (or inside tlspol_resolve_sync()).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TLSPOL_H
#define TLSPOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && __GNUC__ >= 4
#define TLSPOL_EXPORT __attribute__((visibility("default")))
#else
#define TLSPOL_EXPORT
#endif

/** Opaque resolver context. */
typedef struct tlspol_ctx tlspol_ctx;
/** Opaque result of one resolution. */
typedef struct tlspol_result tlspol_result;
/** Opaque handle of one outstanding asynchronous resolution. */
typedef struct tlspol_query tlspol_query;

/** API status codes.  Append-only. */
typedef enum tlspol_status {
    TLSPOL_OK = 0,           /**< success */
    TLSPOL_ERR_INVAL = 1,    /**< invalid argument (see tlspol_ctx_errmsg) */
    TLSPOL_ERR_NOMEM = 2,    /**< out of memory */
    TLSPOL_ERR_BUSY = 3,     /**< not allowed now (e.g. sync in callback) */
    TLSPOL_ERR_INTERNAL = 4, /**< internal error (a bug, or OS failure) */
    TLSPOL_ERR_DNS = 5,      /**< DNS resolver could not be set up */
    TLSPOL_ERR_IO = 6,       /**< a file could not be read */
    TLSPOL_ERR_CANCELED = 7, /**< the query was canceled */
    TLSPOL_ERR_DNSSEC = 8,   /**< the resolver path cannot do DNSSEC */
    TLSPOL_ERR_VERIFY = 9    /**< the peer does not satisfy the policy */
} tlspol_status;

/** Counters of tlspol_ctx_stat().  Append-only. */
typedef enum tlspol_stat {
    TLSPOL_STAT_LOOKUPS = 0,          /**< lookups completed */
    TLSPOL_STAT_FAILOPEN = 1,         /**< failure policy delivered
                                           opportunistically */
    TLSPOL_STAT_OVERRIDE_WEAKENS = 2, /**< a local override weakened a
                                           published policy */
    TLSPOL_STAT_CACHE_HITS = 3,       /**< queries answered from the
                                           verdict cache */
    TLSPOL_STAT_REFRESHES = 4,        /**< proactive policy refreshes */
    TLSPOL_STAT_REFRESH_FAILURES = 5, /**< refreshes whose fetch failed
                                           (the cached policy stays) */
    TLSPOL_STAT_EVICTIONS = 6,        /**< cached policies dropped as
                                           unused */
    TLSPOL_STAT_SHARED_HITS = 7,      /**< policies taken from the shared
                                           store instead of a fetch */
    TLSPOL_STAT_SHARED_ERRORS = 8,    /**< shared-store failures: connects,
                                           timeouts, error replies, invalid
                                           entries */
    TLSPOL_STAT_SHARED_UP = 9         /**< a gauge: 1 while the shared store
                                           answers, 0 while it does not or
                                           none is set */
} tlspol_stat;

/**
 * Verdicts, ordered from "defer" through opportunistic to the strongest
 * requirements (Postfix TLS_LEV_* style).  Append-only.
 */
typedef enum tlspol_verdict {
    TLSPOL_VERDICT_TEMPFAIL = 0,        /**< security lookup failed: defer */
    TLSPOL_VERDICT_NO_POLICY = 1,       /**< nothing committed: may-TLS */
    TLSPOL_VERDICT_STS_TESTING = 2,     /**< MTA-STS testing: may-TLS */
    TLSPOL_VERDICT_PRELOAD_TESTING = 3, /**< preload testing: may-TLS */
    TLSPOL_VERDICT_ENCRYPT = 4,         /**< TLSA present, none usable */
    TLSPOL_VERDICT_DANE = 5,            /**< some MX hosts have DANE */
    TLSPOL_VERDICT_DANE_ONLY = 6,       /**< every MX host has DANE */
    TLSPOL_VERDICT_PRELOAD_ENFORCE = 7, /**< preload enforce: PKIX+names */
    TLSPOL_VERDICT_STS_ENFORCE = 8,     /**< MTA-STS enforce: PKIX+names */
    TLSPOL_VERDICT_LOCAL = 9            /**< operator override */
} tlspol_verdict;

/** Where the deciding policy came from.  Append-only. */
typedef enum tlspol_source {
    TLSPOL_SOURCE_NONE = 0,    /**< no policy */
    TLSPOL_SOURCE_STS = 1,     /**< MTA-STS, fetched now */
    TLSPOL_SOURCE_DANE = 2,    /**< DNSSEC-signed TLSA records */
    TLSPOL_SOURCE_PRELOAD = 3, /**< a preload list */
    TLSPOL_SOURCE_LOCAL = 4,   /**< local configuration */
    TLSPOL_SOURCE_STS_CACHE = 5 /**< MTA-STS, from the cache */
} tlspol_source;

/** MTA-STS policy mode of the result.  Append-only. */
typedef enum tlspol_sts_mode {
    TLSPOL_STS_MODE_ABSENT = 0,  /**< no valid MTA-STS policy */
    TLSPOL_STS_MODE_NONE = 1,    /**< policy says mode: none */
    TLSPOL_STS_MODE_TESTING = 2, /**< mode: testing */
    TLSPOL_STS_MODE_ENFORCE = 3  /**< mode: enforce */
} tlspol_sts_mode;

/** DNSSEC state of an answer (RFC 4035 §4.3).  Append-only. */
typedef enum tlspol_dnssec {
    TLSPOL_DNSSEC_UNVALIDATED = 0,  /**< not validated (or not looked up) */
    TLSPOL_DNSSEC_SECURE = 1,
    TLSPOL_DNSSEC_INSECURE = 2,
    TLSPOL_DNSSEC_BOGUS = 3,
    TLSPOL_DNSSEC_INDETERMINATE = 4
} tlspol_dnssec;

/** What DANE lookups found for one MX host.  Append-only. */
typedef enum tlspol_host_dane {
    TLSPOL_HOST_DANE_NONE = 0,       /**< no DANE (insecure or no TLSA) */
    TLSPOL_HOST_DANE_NO_ADDRESS = 1, /**< the host has no address */
    TLSPOL_HOST_DANE_FAILED = 2,     /**< a lookup failed: never use it
                                          without DANE (RFC 7672 §2.1.2) */
    TLSPOL_HOST_DANE_UNUSABLE = 3,   /**< TLSA present, none usable */
    TLSPOL_HOST_DANE_USABLE = 4      /**< usable TLSA records */
} tlspol_host_dane;

/** Where DNSSEC state comes from.  Append-only. */
typedef enum tlspol_dnssec_mode {
    TLSPOL_DNSSEC_VALIDATE = 0, /**< validate in the library (default) */
    TLSPOL_DNSSEC_TRUST_AD = 1  /**< trust the AD bit of the resolver;
                                     only safe for a validating resolver
                                     on loopback */
} tlspol_dnssec_mode;

/** Log levels for tlspol_ctx_set_log_fn(). */
typedef enum tlspol_log_level {
    TLSPOL_LOG_ERROR = 0,
    TLSPOL_LOG_WARN = 1,
    TLSPOL_LOG_INFO = 2,
    TLSPOL_LOG_DEBUG = 3
} tlspol_log_level;

/**
 * Log callback.  msgid is a stable identifier ("TP1001"), msg one line
 * without a newline.  Both are borrowed for the duration of the call.
 */
typedef void (*tlspol_log_fn)(tlspol_log_level level, const char *msgid,
                              const char *msg, void *userdata);

/**
 * Completion callback of tlspol_resolve().
 * @param status TLSPOL_OK with a result, or an error with res == NULL.
 * @param res    the result; Ownership: the application's, free it with
 *               tlspol_result_free().
 * @param userdata as given to tlspol_resolve().
 * Runs only from tlspol_ctx_dispatch().
 */
typedef void (*tlspol_result_cb)(tlspol_status status, tlspol_result *res,
                                 void *userdata);

/* ------------------------------------------------------------------ */
/* Library                                                            */

/**
 * Version of the library at run time, e.g. "0.1.0".
 * @return a static string.
 * @since 0.1
 */
TLSPOL_EXPORT const char *
tlspol_version(void);

/**
 * Static English text for a status code.
 * @return a static string; "unknown status" for unknown values.
 * @since 0.1
 */
TLSPOL_EXPORT const char *
tlspol_strerror(tlspol_status status);

/**
 * Name of a verdict as used in JSON and logs: "STS_ENFORCE", "NO_POLICY"...
 * @return a static string; "UNKNOWN" for unknown values.
 * @since 0.1
 */
TLSPOL_EXPORT const char *
tlspol_verdict_name(tlspol_verdict verdict);

/**
 * Name of a policy source: "none", "mta-sts", "dane", "preload", "local",
 * "mta-sts-cache".
 * @return a static string.
 * @since 0.1
 */
TLSPOL_EXPORT const char *
tlspol_source_name(tlspol_source source);

/**
 * Name of a DNSSEC state: "unvalidated", "secure", "insecure", "bogus",
 * "indeterminate".
 * @return a static string.
 * @since 0.1
 */
TLSPOL_EXPORT const char *
tlspol_dnssec_name(tlspol_dnssec state);

/**
 * Name of a host DANE state: "none", "no-address", "failed", "unusable",
 * "usable".
 * @return a static string.
 * @since 0.1
 */
TLSPOL_EXPORT const char *
tlspol_host_dane_name(tlspol_host_dane state);

/**
 * Name of an MTA-STS mode: "absent", "none", "testing", "enforce".
 * @return a static string.
 * @since 0.1
 */
TLSPOL_EXPORT const char *
tlspol_sts_mode_name(tlspol_sts_mode mode);

/* ------------------------------------------------------------------ */
/* Context                                                            */

/**
 * Create a context with default options: the system's resolvers
 * (/etc/resolv.conf), DNSSEC trust anchor /usr/share/dns/root.key, the
 * system CA store, a 30 second timeout, no logging.
 * @param[out] out the new context.
 * @return TLSPOL_OK; TLSPOL_ERR_INVAL if out is NULL; TLSPOL_ERR_NOMEM;
 *         TLSPOL_ERR_INTERNAL if the OS refused an epoll or timer fd.
 * Ownership: the caller's; free with tlspol_ctx_free().
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_ctx_new(tlspol_ctx **out);

/**
 * Free a context.  Outstanding queries are canceled without callbacks.
 * NULL is a no-op.  Must not be called from a callback of this context.
 * @since 0.1
 */
TLSPOL_EXPORT void
tlspol_ctx_free(tlspol_ctx *ctx);

/**
 * Use these DNS resolvers instead of the system's.
 * @param[in] list space- or comma-separated addresses, each IPv4 or IPv6
 *            with an optional "@port" ("127.0.0.1@5353 ::1").
 * @return TLSPOL_OK; TLSPOL_ERR_INVAL for a malformed list (the message
 *         names the entry); TLSPOL_ERR_BUSY after the first resolve.
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_ctx_set_resolvers(tlspol_ctx *ctx, const char *list);

/**
 * DNSSEC trust anchor file (DS or DNSKEY records in zone-file format)
 * used by the library's own validator.
 * @return TLSPOL_OK; TLSPOL_ERR_INVAL (NULL or empty path);
 *         TLSPOL_ERR_BUSY after the first resolve.  The file is read at
 *         the first resolve; errors then are reported as TLSPOL_ERR_IO.
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_ctx_set_trust_anchor_file(tlspol_ctx *ctx, const char *path);

/**
 * CA certificates (PEM bundle) that HTTPS policy hosts must chain to,
 * instead of the system store.  Certificate checks are never disabled.
 * @return TLSPOL_OK; TLSPOL_ERR_INVAL; TLSPOL_ERR_BUSY after first use.
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_ctx_set_ca_file(tlspol_ctx *ctx, const char *path);

/**
 * Keep the MTA-STS policy cache in this file (SQLite, WAL mode) so that
 * policies survive restarts and crashes: at the first resolve the file is
 * opened (created if missing) and its unexpired entries are loaded; each
 * fetched policy is written at once.  Rows are validated on load like
 * network input.  Without this option the cache lives in memory only.
 * @return TLSPOL_OK; TLSPOL_ERR_INVAL; TLSPOL_ERR_BUSY after the first
 *         resolve.  An unusable file makes the first resolve fail with
 *         TLSPOL_ERR_IO (the message names the file).
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_ctx_set_cache_file(tlspol_ctx *ctx, const char *path);

/**
 * Share MTA-STS policies with other MTAs through Redis or Valkey: before
 * fetching a policy (or when discovery fails with nothing cached) the
 * shared store is asked, and its entry is used when valid and newer
 * than the local one; every fetched policy is written there.  The store
 * is advisory: a lookup waits for it at most 500 ms, and while it is
 * unreachable the local layers answer alone (logged, counted in
 * TLSPOL_STAT_SHARED_*; reconnects back off from 1 to 30 s).
 * @param url "redis://[:PASSWORD@]IP[:PORT][/DB]" (an IPv4 or [IPv6]
 *        literal; the password is visible to other local users in a
 *        command line, prefer a UNIX socket) or "unix:/PATH[?db=N]".
 * @return TLSPOL_OK; TLSPOL_ERR_INVAL for a malformed URL (the message
 *         says what); TLSPOL_ERR_BUSY after the first resolve.
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_ctx_set_shared_store(tlspol_ctx *ctx, const char *url);

/**
 * A directory of hashed CA certificates (c_rehash layout), as
 * tlspol_ctx_set_ca_file().
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_ctx_set_ca_path(tlspol_ctx *ctx, const char *path);

/**
 * How DNSSEC state is obtained.  The default validates inside the library
 * (getdns, stub mode) against the trust anchor, whatever the resolver
 * does.  TLSPOL_DNSSEC_TRUST_AD instead believes the resolver's AD bit.
 * @return TLSPOL_OK; TLSPOL_ERR_INVAL for an unknown mode;
 *         TLSPOL_ERR_BUSY after the first resolve.
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_ctx_set_dnssec_mode(tlspol_ctx *ctx, tlspol_dnssec_mode mode);

/**
 * Resolver self-test: checks that the configured resolvers deliver DNSSEC
 * records (RRSIGs are not stripped), answer over TCP when UDP truncates,
 * that the root DNSKEY validates against the trust anchor (or carries the
 * AD bit in TLSPOL_DNSSEC_TRUST_AD mode), and, when bogus_name is given,
 * that this known-bogus name is rejected.  Blocks for up to a few
 * timeouts.  When a check fails the context stops using DNSSEC: later
 * results report DANE as unavailable (never as "no DANE"), and DANE
 * verdicts are not given.
 * @param[in] bogus_name a name whose signatures are known to be broken,
 *            or NULL to skip that check.
 * @param[out] report optional: one line per check ("ok   ..." or
 *            "FAIL ..."); Borrowed until the next check or ctx free.
 * @return TLSPOL_OK when DNSSEC works; TLSPOL_ERR_DNSSEC when it does not
 *         (see the report); TLSPOL_ERR_BUSY from a callback; setup errors
 *         as tlspol_resolve().
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_ctx_check_resolver(tlspol_ctx *ctx, const char *bogus_name,
                          const char **report);

/**
 * Time bound, in milliseconds, for each DNS query and for each policy
 * fetch (connect, TLS and body together).  Range 100..600000.
 * @return TLSPOL_OK; TLSPOL_ERR_INVAL out of range; TLSPOL_ERR_BUSY after
 *         the first resolve.
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_ctx_set_timeout(tlspol_ctx *ctx, unsigned int timeout_ms);

/**
 * Load a YAML configuration file (tlspol.yaml(5)): resolver, trust
 * anchor, CA store, timeout, DNSSEC mode (applied only before the first
 * resolve; later they are logged as needing a restart), preload lists,
 * local overrides, failure policy, Postfix compatibility level.  May be
 * called again to reload: the file's preload lists are read, then those
 * given to tlspol_ctx_add_preload() are read again (later lists win).  A
 * file that fails to parse, or a preload list that is unreadable,
 * invalid or older than the one loaded from the same file, leaves the
 * previous configuration in force.  Unknown keys are logged at WARN.
 * @return TLSPOL_OK; TLSPOL_ERR_IO (unreadable file); TLSPOL_ERR_INVAL
 *         (tlspol_ctx_errmsg() names file, line and key); TLSPOL_ERR_NOMEM.
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_ctx_load_config(tlspol_ctx *ctx, const char *path);

/**
 * Add one preload list (STARTTLS-Everywhere policy 0.1 JSON) after those
 * already loaded; later lists override earlier ones per domain.  The
 * file is read again by every later tlspol_ctx_load_config().  An
 * expired list is not an error: it is ignored with a WARN log line, as
 * the format requires.
 * @return TLSPOL_OK; TLSPOL_ERR_IO; TLSPOL_ERR_INVAL (the message names
 *         the line and JSON path); TLSPOL_ERR_NOMEM.
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_ctx_add_preload(tlspol_ctx *ctx, const char *path);

/**
 * Postfix compatibility level for tlspol_result_postfix_policy() when it
 * is called with 0: major*100+minor (309 = 3.9, the default; 310 and up
 * add the TLSRPT attributes to MTA-STS policies).
 * @return TLSPOL_OK; TLSPOL_ERR_INVAL outside 200..999.
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_ctx_set_postfix_compat(tlspol_ctx *ctx, unsigned int compat);

/**
 * The valid cached MTA-STS policies (enforce and testing) as a
 * STARTTLS-Everywhere policy list (format 0.1), to warm another node with
 * tlspol_ctx_add_preload() / --preload.  With a cache file, the entries
 * loaded from it are included (the context is set up if it was not).
 * The list expires with its longest-lived entry; mode none cannot be
 * expressed in the format and is left out.
 * @return Borrowed JSON text, valid until the next call or ctx free; NULL
 *         on error (see tlspol_ctx_errmsg()).
 * @since 0.1
 */
TLSPOL_EXPORT const char *
tlspol_ctx_export_preload(tlspol_ctx *ctx);

/**
 * Forget everything cached about one domain: its finished result, its
 * MTA-STS policy (also in the cache file and the shared store), and its
 * failure-policy clock.  The next lookup starts afresh.  This is how an
 * operator drops a commitment the domain has withdrawn (RFC 8461 §3.3
 * would otherwise keep an enforce policy until max_age); it is logged.
 * Lookups in flight are not affected.
 * @param found Set to 1 if anything was cached, 0 if not (may be NULL).
 * @return TLSPOL_OK; TLSPOL_ERR_INVAL for an invalid domain name.
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_ctx_purge(tlspol_ctx *ctx, const char *domain, int *found);

/**
 * Refresh cached MTA-STS policies before they expire (RFC 8461 §3.3,
 * §10.2) and drop those nobody asked for.  Every period_ms (plus up to a
 * quarter more, random) the cache is scanned: a policy that expires
 * within ahead_s seconds (less a per-domain spread) is fetched again,
 * at most max_parallel at a time, even when its TXT id is unchanged; a
 * policy not used for evict_idle_s seconds is dropped (0: never).  The
 * work runs from tlspol_ctx_dispatch().  ahead_s 0 turns refresh off
 * (the default; servers should turn it on, e.g. 86400, 4, 60000, 0).
 * @return TLSPOL_OK; TLSPOL_ERR_INVAL (period_ms under 100 or
 *         max_parallel 0 with ahead_s set).
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_ctx_set_refresh(tlspol_ctx *ctx, unsigned int ahead_s,
                       unsigned int max_parallel, unsigned int period_ms,
                       unsigned int evict_idle_s);

/** A counter (see tlspol_stat); 0 for unknown ones.  @since 0.1 */
TLSPOL_EXPORT uint64_t
tlspol_ctx_stat(const tlspol_ctx *ctx, tlspol_stat which);

/**
 * Set the context up now (resolver, trust anchor, HTTPS client, cache
 * file) instead of at the first resolve, so that a server reports setup
 * errors at start and opens its files before dropping privileges.
 * Options are fixed afterwards.
 * @return TLSPOL_OK; the errors of tlspol_resolve() for setup.
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_ctx_open(tlspol_ctx *ctx);

/**
 * Receive log messages up to max_level (inclusive).  fn NULL disables
 * logging (the default).  May be called at any time.
 * @since 0.1
 */
TLSPOL_EXPORT void
tlspol_ctx_set_log_fn(tlspol_ctx *ctx, tlspol_log_fn fn, void *userdata,
                      tlspol_log_level max_level);

/**
 * The "log:" settings of the configuration loaded last
 * (tlspol_ctx_load_config(), tlspol.yaml(5)), for programs that log for
 * themselves and let the file choose: *level gets the tlspol_log_level
 * of "level:", *target 0 for "stderr" and 1 for "syslog"; each is -1
 * when the file does not set it or no file was loaded.  Either pointer
 * may be NULL.  The library applies neither: its messages go to the
 * tlspol_ctx_set_log_fn() callback up to the level given there.
 * @return TLSPOL_OK; TLSPOL_ERR_INVAL when ctx is NULL.
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_ctx_config_log(const tlspol_ctx *ctx, int *level, int *target);

/**
 * A value of the "server:" section of the configuration loaded last:
 * the settings of the socketmap server (tlspol-socketmapd(8),
 * tlspol.yaml(5)), kept as written.  The library checks the key (unknown
 * ones are warned about and dropped), the shape (one value; a list for
 * "listen") and the text (1 to 1024 bytes, no control characters); the
 * server checks the meaning.
 * @param i    0 for the first value; lists give several.
 * @param line if not NULL, gets the value's line in the file.
 * @return The i-th value of key, borrowed until the next
 *         tlspol_ctx_load_config() or tlspol_ctx_free(); NULL when the
 *         key is not set, i is past its last value, or ctx or key is
 *         NULL.
 * @since 0.1
 */
TLSPOL_EXPORT const char *
tlspol_ctx_config_server(const tlspol_ctx *ctx, const char *key, size_t i,
                         unsigned int *line);

/**
 * Detail of the last error returned by a call on this context.
 * @return Borrowed: valid until the next call on ctx; "" if none.
 * @since 0.1
 */
TLSPOL_EXPORT const char *
tlspol_ctx_errmsg(const tlspol_ctx *ctx);

/**
 * The one file descriptor to poll for readability.  When it is readable,
 * call tlspol_ctx_dispatch().  Constant for the context's lifetime.
 * @return the fd, or -1 if ctx is NULL.
 * @since 0.1
 */
TLSPOL_EXPORT int
tlspol_ctx_get_fd(const tlspol_ctx *ctx);

/**
 * Do all work that is due (DNS, HTTPS, timers) and run completion
 * callbacks.  Never blocks.
 * @return TLSPOL_OK; TLSPOL_ERR_BUSY if called from a callback;
 *         TLSPOL_ERR_INTERNAL on an OS failure.
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_ctx_dispatch(tlspol_ctx *ctx);

/**
 * Number of queries started and not yet completed or canceled.
 * @since 0.1
 */
TLSPOL_EXPORT size_t
tlspol_ctx_pending(const tlspol_ctx *ctx);

/* ------------------------------------------------------------------ */
/* Resolution                                                         */

/**
 * Start resolving the TLS policy of a next-hop domain.  Concurrent queries
 * for the same (normalised) domain share one lookup.  The callback runs
 * later, from tlspol_ctx_dispatch(), never from inside this call.
 * @param[in] domain a domain name (A-label or U-label, any case, one
 *            trailing dot allowed).  Leading-dot keys, bracketed next hops
 *            and IP literals are rejected with TLSPOL_ERR_INVAL.
 * @param[out] qp optional: the query handle, valid until its callback has
 *            run or tlspol_query_cancel() returned.
 * @return TLSPOL_OK; TLSPOL_ERR_INVAL (message names the problem);
 *         TLSPOL_ERR_NOMEM; TLSPOL_ERR_DNS / TLSPOL_ERR_IO if the resolver
 *         could not be set up (bad trust anchor file, ...).
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_resolve(tlspol_ctx *ctx, const char *domain, tlspol_result_cb cb,
               void *userdata, tlspol_query **qp);

/**
 * Cancel a query.  After this returns its callback is never called.
 * Other queries sharing the same lookup are not affected.
 * @return TLSPOL_OK; TLSPOL_ERR_INVAL if q is NULL.
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_query_cancel(tlspol_query *q);

/**
 * Resolve synchronously: tlspol_resolve() plus a loop on the context's fd
 * until this query completes.  Other queries' callbacks may run meanwhile.
 * @param[out] out the result; Ownership: the caller's.
 * @return as tlspol_resolve(); TLSPOL_ERR_BUSY if called from a callback.
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_resolve_sync(tlspol_ctx *ctx, const char *domain,
                    tlspol_result **out);

/**
 * Answer from the verdict cache only, at once: no lookup starts, no
 * callback runs, nothing waits.  For servers whose hot path is cached
 * answers: try this first, and tlspol_resolve() when *out is NULL.  A
 * hit counts, logs and refreshes the cached policy's use exactly as a
 * cached tlspol_resolve() does.
 * @param[out] out the cached result (Ownership: the caller's), or NULL
 *             when the domain has none.
 * @return TLSPOL_OK (cached or not); TLSPOL_ERR_INVAL for an invalid
 *         domain (see tlspol_ctx_errmsg()).
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_resolve_cached(tlspol_ctx *ctx, const char *domain,
                      tlspol_result **out);

/* ------------------------------------------------------------------ */
/* Results                                                            */

/** Free a result.  NULL is a no-op.  @since 0.1 */
TLSPOL_EXPORT void
tlspol_result_free(tlspol_result *res);

/** The verdict.  @since 0.1 */
TLSPOL_EXPORT tlspol_verdict
tlspol_result_verdict(const tlspol_result *res);

/**
 * 1 if the verdict requires TLS (ENCRYPT, DANE, DANE_ONLY, *_ENFORCE, and
 * LOCAL at encrypt or above),
 * -1 if delivery must be deferred (TEMPFAIL), 0 if TLS is opportunistic.
 * @since 0.1
 */
TLSPOL_EXPORT int
tlspol_result_tls_required(const tlspol_result *res);

/** The normalised (A-label, lowercase) domain.  Borrowed.  @since 0.1 */
TLSPOL_EXPORT const char *
tlspol_result_domain(const tlspol_result *res);

/** Source of the deciding policy.  @since 0.1 */
TLSPOL_EXPORT tlspol_source
tlspol_result_source(const tlspol_result *res);

/** MTA-STS mode of the valid policy, if any.  @since 0.1 */
TLSPOL_EXPORT tlspol_sts_mode
tlspol_result_sts_mode(const tlspol_result *res);

/**
 * MTA-STS policy id from the TXT record of the valid policy.
 * @return Borrowed; NULL when there is no valid policy.  @since 0.1
 */
TLSPOL_EXPORT const char *
tlspol_result_sts_id(const tlspol_result *res);

/** MTA-STS max_age in seconds (after clamping), 0 if none. @since 0.1 */
TLSPOL_EXPORT uint32_t
tlspol_result_sts_max_age(const tlspol_result *res);

/**
 * Expiry of the policy as seconds since the Unix epoch (fetch time plus
 * max_age), 0 when there is no policy.  @since 0.1
 */
TLSPOL_EXPORT int64_t
tlspol_result_expires(const tlspol_result *res);

/** Number of MX patterns of the policy.  @since 0.1 */
TLSPOL_EXPORT size_t
tlspol_result_mx_pattern_count(const tlspol_result *res);

/**
 * The i-th MX pattern ("mail.example.com", "*.example.net").
 * @return Borrowed; NULL if i is out of range.  @since 0.1
 */
TLSPOL_EXPORT const char *
tlspol_result_mx_pattern(const tlspol_result *res, size_t i);

/** One-line human-readable reason for the verdict.  Borrowed. @since 0.1 */
TLSPOL_EXPORT const char *
tlspol_result_reason(const tlspol_result *res);

/** Number of MX hosts in the per-host detail.  @since 0.1 */
TLSPOL_EXPORT size_t
tlspol_result_host_count(const tlspol_result *res);

/** Name of the i-th MX host; Borrowed; NULL out of range. @since 0.1 */
TLSPOL_EXPORT const char *
tlspol_result_host_name(const tlspol_result *res, size_t i);

/** MX preference of the i-th host (0 for an implicit MX).  @since 0.1 */
TLSPOL_EXPORT unsigned int
tlspol_result_host_preference(const tlspol_result *res, size_t i);

/**
 * Whether the i-th host matches an MTA-STS mx pattern: 1 yes, 0 no,
 * -1 when there is no MTA-STS policy to match against.  @since 0.1
 */
TLSPOL_EXPORT int
tlspol_result_host_sts_match(const tlspol_result *res, size_t i);

/**
 * The verdict the domain's published records (and preload list, and
 * failure policy) give, before a local override.  Equal to
 * tlspol_result_verdict() unless that is TLSPOL_VERDICT_LOCAL.
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_verdict
tlspol_result_published_verdict(const tlspol_result *res);

/**
 * For TLSPOL_VERDICT_LOCAL, the override's level ("none", "may",
 * "encrypt", "dane", "dane-only", "secure"); NULL otherwise.  Static.
 * @since 0.1
 */
TLSPOL_EXPORT const char *
tlspol_result_local_level(const tlspol_result *res);

/** 1 if a local override is weaker than the published policy. @since 0.1 */
TLSPOL_EXPORT int
tlspol_result_override_weakens(const tlspol_result *res);

/**
 * 1 if the failure policy turned a TEMPFAIL into opportunistic delivery.
 * @since 0.1
 */
TLSPOL_EXPORT int
tlspol_result_failopen(const tlspol_result *res);

/**
 * The Postfix smtp_tls_policy_maps socketmap reply for this result:
 * "OK dane-only", "OK dane", "OK secure match=... servername=hostname"
 * (plus TLSRPT attributes for MTA-STS from compat 310), "OK <level>" for
 * local overrides, "NOTFOUND " or "TEMP <reason>".  Never "OK may" for a
 * published policy; at most 100000 bytes.
 * @param compat major*100+minor of the Postfix version, or 0 for the
 *        context's setting.
 * @return Borrowed until the next call or tlspol_result_free(); NULL only
 *         if memory ran out.
 * @since 0.1
 */
TLSPOL_EXPORT const char *
tlspol_result_postfix_policy(tlspol_result *res, unsigned int compat);

/** DNSSEC state of the MX RRset (or of its absence).  @since 0.1 */
TLSPOL_EXPORT tlspol_dnssec
tlspol_result_mx_dnssec(const tlspol_result *res);

/**
 * 1 if DANE could be decided (DNSSEC usable), 0 if DNSSEC was unavailable
 * (resolver self-test failed): then the verdict ignores DANE and the
 * reason says so.  @since 0.1
 */
TLSPOL_EXPORT int
tlspol_result_dane_available(const tlspol_result *res);

/** DANE state of the i-th host.  @since 0.1 */
TLSPOL_EXPORT tlspol_host_dane
tlspol_result_host_dane(const tlspol_result *res, size_t i);

/** DNSSEC state of the i-th host's address records.  @since 0.1 */
TLSPOL_EXPORT tlspol_dnssec
tlspol_result_host_address_dnssec(const tlspol_result *res, size_t i);

/** DNSSEC state of the i-th host's last TLSA answer.  @since 0.1 */
TLSPOL_EXPORT tlspol_dnssec
tlspol_result_host_tlsa_dnssec(const tlspol_result *res, size_t i);

/**
 * Name of the i-th host's last TLSA query ("_25._tcp.mx.example.com", the
 * CNAME-expanded name or the original, RFC 7672 §2.2.3).
 * @return Borrowed; NULL when no TLSA was looked up.  @since 0.1
 */
TLSPOL_EXPORT const char *
tlspol_result_host_tlsa_name(const tlspol_result *res, size_t i);

/** Number of usable TLSA records of the i-th host.  @since 0.1 */
TLSPOL_EXPORT size_t
tlspol_result_host_tlsa_count(const tlspol_result *res, size_t i);

/**
 * The j-th usable TLSA record of the i-th host as text, "3 1 1 <hex>"
 * (long data elided in the middle).
 * @return Borrowed; NULL out of range.  @since 0.1
 */
TLSPOL_EXPORT const char *
tlspol_result_host_tlsa(const tlspol_result *res, size_t i, size_t j);

/**
 * Number of addresses (A and AAAA, as text) found for the i-th host; 0
 * when they were not looked up (DNSSEC unavailable) or none exist.
 * @since 0.1
 */
TLSPOL_EXPORT size_t
tlspol_result_host_address_count(const tlspol_result *res, size_t i);

/** The j-th address of the i-th host; Borrowed; NULL out of range. */
TLSPOL_EXPORT const char *
tlspol_result_host_address(const tlspol_result *res, size_t i, size_t j);

/**
 * The i-th host's TLSA base domain (the CNAME-expanded name or the host
 * name), which a DANE client sends as SNI (RFC 7672 §8.1).
 * @return Borrowed; NULL when no TLSA was looked up.  @since 0.1
 */
TLSPOL_EXPORT const char *
tlspol_result_host_tlsa_base(const tlspol_result *res, size_t i);

/**
 * One line on the i-th host's DANE state ("address lookup bogus", "2
 * usable TLSA records at _25._tcp.mx.example.com").
 * @return Borrowed; NULL out of range.  @since 0.1
 */
TLSPOL_EXPORT const char *
tlspol_result_host_note(const tlspol_result *res, size_t i);

/**
 * Number of trace lines: every lookup made, its outcome, and the rule
 * that decided (what tlspol-query --explain prints).  @since 0.1
 */
TLSPOL_EXPORT size_t
tlspol_result_trace_count(const tlspol_result *res);

/** The i-th trace line; Borrowed; NULL out of range.  @since 0.1 */
TLSPOL_EXPORT const char *
tlspol_result_trace(const tlspol_result *res, size_t i);

/**
 * The whole result as one JSON object (stable keys, documented in
 * tlspol-query(1)).  Built on first call.
 * @return Borrowed, NUL-terminated; NULL only if memory ran out.
 * @since 0.1
 */
TLSPOL_EXPORT const char *
tlspol_result_json(tlspol_result *res);

/* ------------------------------------------------------------------ */
/* Peer verification                                                  */

/**
 * Does the certificate chain an MX host presented satisfy the verdict?
 * DANE-EE and DANE-TA per RFC 7672 §3 against the host's usable TLSA
 * records (reference identifiers: TLSA base domain, MX host name, and the
 * next-hop domain when the MX RRset was secure); MTA-STS, preload and
 * local "secure" per RFC 8461 §4: the host matches a policy pattern, the
 * chain verifies to a trusted root (the context's CA file/dir, else the
 * system store) and a SAN dNSName names the host.  Opportunistic verdicts
 * accept anything (n may be 0: no TLS); ENCRYPT needs TLS; TEMPFAIL and
 * hosts whose DANE lookups failed never pass.
 * @param[in] mx_host the MX host name connected to.
 * @param[in] der, der_len the chain as DER certificates, leaf first.
 * @param[out] why optional: the reason either way; Borrowed until the
 *             next call on ctx.
 * @return TLSPOL_OK (satisfied); TLSPOL_ERR_VERIFY (not satisfied);
 *         TLSPOL_ERR_INVAL (bad arguments, undecodable certificate);
 *         TLSPOL_ERR_NOMEM.
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_verify_chain(tlspol_ctx *ctx, const tlspol_result *res,
                    const char *mx_host, const unsigned char *const *der,
                    const size_t *der_len, size_t n, const char **why);

/**
 * As tlspol_verify_chain(), for an OpenSSL client connection after its
 * handshake: ssl is an SSL * (passed as void * so that this header needs
 * no OpenSSL headers); its peer chain is used.
 * @since 0.1
 */
TLSPOL_EXPORT tlspol_status
tlspol_verify_ssl(tlspol_ctx *ctx, const tlspol_result *res,
                  const char *mx_host, void *ssl, const char **why);

#ifdef __cplusplus
}
#endif

#endif
