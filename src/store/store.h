/* store: the SQLite database at <data_dir>/moat.db (WAL). Owns the schema
 * and every SQL statement (all SQL text lives in store_sql.c): domains,
 * accounts (password hash, SCRAM credential, service settings), aliases,
 * and the rejected-session log. One struct store per
 * process; statements are prepared once and reused. */
#ifndef MOAT_STORE_H
#define MOAT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct store;

/* Open (creating the file and schema if needed) <data_dir>/moat.db.
 * Returns 0, or -1 with *error_r. */
int store_open(const char *data_dir, struct store **st_r,
    const char **error_r);
void store_close(struct store **st);
/* The calling thread's own store (libuv pool threads), opened on first
 * use and kept for the thread's life. NULL with *error_r on failure. */
struct store *store_thread(const char *data_dir, const char **error_r);

/* Recipient check at RCPT time. local and domain as received (domain is
 * already lower case); matching is case-insensitive on both. */
enum store_rcpt_result {
	STORE_RCPT_NOT_LOCAL = 0,	/* domain is not one of ours */
	STORE_RCPT_OK,			/* account, alias or catch-all */
	STORE_RCPT_NO_SUCH_USER,	/* local domain, nobody by that name */
};
/* Returns 0, or -1 on a database error (caller tempfails with 451). */
int store_rcpt_check(struct store *st, const char *local, const char *domain,
    enum store_rcpt_result *r);

/* Expand a recipient for delivery: aliases recursively (depth limit
 * STORE_ALIAS_DEPTH, duplicates removed, an address that is both an
 * account and an alias is delivered to the account AND expanded; an alias
 * target may be remote), catch-all "@domain" aliases used only when no
 * account or alias matches. For each final target cb is called with
 * is_account true for a local account (local/domain are its stored,
 * lower-case name) or false for a non-local address. Returns the number
 * of targets (0 = nobody: no such user), or -1 on a database error. */
#define STORE_ALIAS_DEPTH 8
#define STORE_RESOLVE_MAX 1000	/* targets per recipient */
typedef void store_target_cb(void *ctx, const char *local,
    const char *domain, bool is_account);
int store_resolve(struct store *st, const char *local, const char *domain,
    store_target_cb *cb, void *ctx);

/* The rejected-session log (store_reject.c): one row per refused
 * connection, command or message. Any string may be NULL; strings are
 * cut at STORE_REJECT_FIELD_MAX bytes. */
#define STORE_REJECT_FIELD_MAX	512
struct store_reject {
	time_t		 time;
	const char	*session;	/* session id, hex */
	const char	*service;	/* "smtp", "submission", ... */
	const char	*ip;
	const char	*rdns;		/* the client's verified name */
	const char	*helo;
	const char	*mail_from;
	const char	*rcpt_to;
	int		 code;		/* reply code sent (0: none) */
	const char	*rule;		/* "ban", "deny ip 192.0.2.0/24 #4" */
	const char	*reason;	/* reply text sent */
	const char	*ref;		/* the reference in the reply */
	bool		 shadow;	/* logged only: the rule is in shadow
					   mode, nothing was refused */
};
int store_reject_log(struct store *st, const struct store_reject *rej);
/* The decision trace of the session behind ref (replaced when the
 * session is refused again). 0 or -1. */
int store_trace_put(struct store *st, const char *ref, const char *session,
    time_t when, const char *trace);
/* Delete log rows and traces older than before: 0 or -1. */
int store_reject_prune(struct store *st, time_t before);


/* Administration (moatctl). Names are stored in lower case. Each returns
 * 0, or -1 with *error_r ("no such domain", "account exists", ...). */
int store_domain_add(struct store *st, const char *domain,
    const char **error_r);
int store_domain_del(struct store *st, const char *domain,
    const char **error_r);	/* refuses while accounts/aliases exist */
typedef void store_row_cb(void *ctx, const char *const *cols, int ncols);
/* The rejected-session log, newest first: rows of time (ISO 8601),
 * service, ip, rdns, session, helo, mail_from, rcpt_to, code, rule,
 * reason, ref, shadow ("shadow" or ""); filtered by since (unix time),
 * ip and rule (a substring of the rule; NULL: all), at most limit rows.
 * 0 or -1. */
struct store_reject_query {
	time_t		 since;
	const char	*ip;
	const char	*rule;
	unsigned	 limit;
};
int store_reject_list(struct store *st, const struct store_reject_query *q,
    store_row_cb *cb, void *ctx);
/* What is kept under ref: first a row ("trace", time, session, trace
 * text), then the log rows of that session as store_reject_list gives
 * them. *found_r tells whether there was anything. 0 or -1. */
int store_reject_show(struct store *st, const char *ref, store_row_cb *cb,
    void *ctx, bool *found_r);
int store_domain_list(struct store *st, store_row_cb *cb, void *ctx);

/* hash: a crypt(3) string (yescrypt), made by passwd_hash(); scram: the
 * SCRAM-SHA-256 credential of the same password (scram_derive(), text
 * form "SCRAM-SHA-256$..."), or NULL to store none (SCRAM logins then
 * fail for the account). Every caller that has the password derives
 * both. */
int store_account_add(struct store *st, const char *address,
    const char *hash, const char *scram, const char **error_r);
int store_account_del(struct store *st, const char *address,
    const char **error_r);
int store_account_passwd(struct store *st, const char *address,
    const char *hash, const char *scram, const char **error_r);
/* rows: address, created (ISO 8601) */
int store_account_list(struct store *st, const char *domain /* or NULL */,
    store_row_cb *cb, void *ctx);
/* rows: key, value pairs (address, domain, created, password scheme,
 * scram, the service settings smtp imap pop3 webmail relay (on/off),
 * maildir, aliases pointing at it) */
int store_account_show(struct store *st, const char *address,
    store_row_cb *cb, void *ctx, const char **error_r);
/* Fetch the password hash (moatctl: does the account exist?). */
int store_account_hash(struct store *st, const char *address, char *hash,
    size_t hashlen, const char **error_r);

/* Per-account service settings: keys "smtp", "imap", "pop3", "webmail",
 * "relay"; values "on" or "off"; an account without a row is "on". */
#define STORE_SETTING_COUNT 5
/* Is name a known key (and value, unless NULL, "on" or "off")? */
bool store_setting_valid(const char *name, const char *value);
/* Returns 0, or -1 with *error_r (bad key or value, no such account,
 * database error). */
int store_account_set(struct store *st, const char *address,
    const char *name, const char *value, const char **error_r);
/* The "quota" key takes a size instead ("500M", "2G", bytes; "none" or
 * "0": no limit), stored as bytes: the account's Maildir (all folders)
 * may hold that much; delivery and APPEND check it. */
#define STORE_SETTING_QUOTA	"quota"
#define STORE_QUOTA_MAX		(UINT64_C(1) << 50)	/* 1 PiB */
/* *bytes_r: the account's quota in bytes, 0 when unlimited. Returns 0,
 * or -1 with *error_r (no such account, database error). */
int store_account_quota(struct store *st, const char *address,
    uint64_t *bytes_r, const char **error_r);
/* *on_r: the setting of the account. Returns 0, or -1 with *error_r. */
int store_account_get_setting(struct store *st, const char *address,
    const char *name, bool *on_r, const char **error_r);

/* Login: the credentials of address (as received, any case) in one
 * query. hash gets the crypt(3) string, scram the SCRAM credential (""
 * when none); hashlen PASSWD_HASH_MAX, scramlen SCRAM_CRED_MAX. With
 * service (a setting key: "smtp", "imap", "pop3", "webmail") set to
 * "off", *r is STORE_AUTH_DISABLED (the secrets are still filled: the
 * SASL layer checks the password before it says so). Returns 0 with *r,
 * or -1 on a database error (tempfail: 454 / NO [UNAVAILABLE]). */
enum store_auth_result {
	STORE_AUTH_OK = 0,
	STORE_AUTH_NO_USER,
	STORE_AUTH_DISABLED,
};
int store_auth_lookup(struct store *st, const char *address,
    const char *service, char *hash, size_t hashlen, char *scram,
    size_t scramlen, enum store_auth_result *r, const char **error_r);

/* address is local@domain or "@domain" (catch-all); target any address */
int store_alias_add(struct store *st, const char *address,
    const char *target, const char **error_r);
/* target NULL: remove every target of the alias */
int store_alias_del(struct store *st, const char *address,
    const char *target, const char **error_r);
/* rows: address, target */
int store_alias_list(struct store *st, const char *domain /* or NULL */,
    store_row_cb *cb, void *ctx);

/* POP-before-SMTP: remember a successful IMAP/POP3 login from ip, and
 * ask whether ip logged in since a time. Return 0 or -1. */
int store_login_record(struct store *st, const char *ip, time_t when);
int store_login_recent(struct store *st, const char *ip, time_t since,
    bool *r);
/* May the authenticated account use address as a sender? Its own
 * address, an alias that delivers to it, or any address of a domain whose
 * catch-all delivers to it. Returns 0 with *r, or -1. */
int store_sender_owned(struct store *st, const char *account,
    const char *address, bool *r);

/* DKIM signing keys (moatctl dkim; the queue runner signs with the enabled
 * ones). domain and selector are stored lower-case; algorithm is
 * "rsa-sha256" or "ed25519-sha256"; key_pem the private key (PKCS#8 PEM).
 * Each returns 0, or -1 with *error_r ("exists", "no DKIM key ..."). */
int store_dkim_key_add(struct store *st, const char *domain,
    const char *selector, const char *algorithm, const char *key_pem,
    const char **error_r);
int store_dkim_key_enable(struct store *st, const char *domain,
    const char *selector, bool enabled, const char **error_r);
int store_dkim_key_del(struct store *st, const char *domain,
    const char *selector, const char **error_r);
/* rows: domain, selector, algorithm, enabled ("1"/"0"), created (ISO
 * 8601), key_pem; for domain (NULL: all), enabled ones only if asked.
 * Returns 0 or -1 (database error, logged; or an invalid domain). */
int store_dkim_key_list(struct store *st, const char *domain,
    bool enabled_only, store_row_cb *cb, void *ctx);

/* DMARC aggregate-report rows (authn/dmarc.h dmarc_report_store): one
 * per evaluated message. Strings may be "" (not NULL except as noted). */
struct store_dmarc_report {
	time_t		 time;
	const char	*source_ip;
	const char	*header_from;
	const char	*envelope_from;
	const char	*policy_domain;	/* where the record was; "" none */
	const char	*policy;	/* "none", "quarantine", "reject" */
	const char	*disposition;
	const char	*dmarc;		/* "pass", "fail", "none", ... */
	const char	*dkim;
	const char	*dkim_domain;
	bool		 dkim_aligned;
	const char	*spf;
	const char	*spf_domain;
	bool		 spf_aligned;
	unsigned	 pct;
};
/* Returns 0, or -1 with *error_r. */
int store_dmarc_report_add(struct store *st,
    const struct store_dmarc_report *r, const char **error_r);
/* rows: time (ISO 8601), source_ip, header_from, envelope_from,
 * policy_domain, policy, disposition, dmarc, dkim, dkim_domain,
 * dkim_aligned ("1"/"0"), spf, spf_domain, spf_aligned, pct; for
 * policy_domain (NULL: all) from since on. Returns 0 or -1. */
int store_dmarc_report_list(struct store *st, const char *policy_domain,
    time_t since, store_row_cb *cb, void *ctx);

#endif
