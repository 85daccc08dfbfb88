/* store_sql: the SQLite implementation of store.h. Owns <data_dir>/moat.db:
 * opening it (WAL, busy timeout, foreign keys), the schema and its
 * migrations (PRAGMA user_version), every SQL statement of moat (prepared
 * once at open and cached in struct store, parameters always bound), the
 * validation of addresses before they are stored, and alias expansion.
 * A struct store is used by one thread at a time. */
#include "store.h"
#include "store_int.h"
#include "store_list.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "util.h"
#include "xalloc.h"

#define STORE_DB_NAME		"moat.db"
#define STORE_BUSY_TIMEOUT_MS	5000	/* workers, runner, moatctl share it */
#define STORE_LOCAL_MAX		64	/* RFC 5321 4.5.3.1.1 */
#define STORE_DOMAIN_MAX	255	/* RFC 5321 4.5.3.1.2 */
#define STORE_LABEL_MAX		63	/* RFC 1035 2.3.4 */
#define STORE_ADDR_MAX		(STORE_LOCAL_MAX + 1 + STORE_DOMAIN_MAX)
#define STORE_ERR_MAX		512
#define STORE_SECRET_MAX	1024	/* password hash, SCRAM credential */
#define STORE_SCRAM_PREFIX	"SCRAM-SHA-256$"
#define STORE_DKIM_KEY_MAX	16384	/* private key PEM bytes */

/* Per-account service switches: "on" (the default, no row) or "off". */
static const char *const store_settings[STORE_SETTING_COUNT] = {
	"smtp", "imap", "pop3", "webmail", "relay",
};

/*
 * Schema. store_migrations[i] takes the database from user_version i to
 * i + 1; a later issue appends an entry and never edits an old one.
 * Addresses and domains are stored in lower case; the NOCASE collation
 * makes lookups with received (mixed case) names use the indexes too.
 */
static const char *const store_migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE domains ("
	"  name     TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,"
	"  created  INTEGER NOT NULL"
	");"
	"CREATE TABLE accounts ("
	"  id       INTEGER PRIMARY KEY,"
	"  address  TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  local    TEXT NOT NULL COLLATE NOCASE,"
	"  domain   TEXT NOT NULL COLLATE NOCASE"
	"           REFERENCES domains (name) ON DELETE RESTRICT,"
	"  password TEXT NOT NULL,"
	"  created  INTEGER NOT NULL,"
	"  UNIQUE (domain, local)"
	");"
	/* Room for per-account settings of later issues (quota, ...). */
	"CREATE TABLE account_settings ("
	"  account  INTEGER NOT NULL"
	"           REFERENCES accounts (id) ON DELETE CASCADE,"
	"  name     TEXT NOT NULL,"
	"  value    TEXT,"
	"  PRIMARY KEY (account, name)"
	");"
	"CREATE TABLE aliases ("
	"  address  TEXT NOT NULL COLLATE NOCASE,"	/* l@d or @d */
	"  local    TEXT NOT NULL COLLATE NOCASE,"	/* '' = catch-all */
	"  domain   TEXT NOT NULL COLLATE NOCASE"
	"           REFERENCES domains (name) ON DELETE RESTRICT,"
	"  target   TEXT NOT NULL COLLATE NOCASE,"
	"  created  INTEGER NOT NULL,"
	"  PRIMARY KEY (address, target)"
	");"
	"CREATE INDEX aliases_lookup ON aliases (domain, local);"
	"CREATE INDEX aliases_target ON aliases (target);"
	"CREATE TABLE rejected ("
	"  id        INTEGER PRIMARY KEY,"
	"  time      INTEGER NOT NULL,"
	"  session   TEXT,"
	"  service   TEXT,"
	"  ip        TEXT,"
	"  helo      TEXT,"
	"  mail_from TEXT,"
	"  rcpt_to   TEXT,"
	"  code      INTEGER NOT NULL,"
	"  reason    TEXT"
	");"
	"CREATE INDEX rejected_time ON rejected (time);",
	/* 1 -> 2: the SCRAM-SHA-256 credential (scram.h text form; NULL for
	 * accounts whose password was set before), and per-account service
	 * switches as account_settings rows (STORE_SETTING_*). */
	"ALTER TABLE accounts ADD COLUMN scram TEXT;",
	/* 2 -> 3: the last successful IMAP/POP3 login per client address,
	 * for POP-before-SMTP. */
	"CREATE TABLE logins ("
	"  ip       TEXT NOT NULL PRIMARY KEY,"
	"  time     INTEGER NOT NULL"
	");",
	/* 3 -> 4: DKIM signing keys. The private key PEM lives here: the
	 * database file is 0600, owned by the service user. */
	"CREATE TABLE dkim_keys ("
	"  domain    TEXT NOT NULL COLLATE NOCASE,"
	"  selector  TEXT NOT NULL COLLATE NOCASE,"
	"  algorithm TEXT NOT NULL,"
	"  key_pem   TEXT NOT NULL,"
	"  enabled   INTEGER NOT NULL DEFAULT 1,"
	"  created   INTEGER NOT NULL,"
	"  PRIMARY KEY (domain, selector)"
	");",
	/* 4 -> 5: DMARC aggregate-report rows (RFC 7489 7.2), one per
	 * evaluated message; reports are built from them per policy
	 * domain and period. */
	"CREATE TABLE dmarc_reports ("
	"  id            INTEGER PRIMARY KEY,"
	"  time          INTEGER NOT NULL,"
	"  source_ip     TEXT NOT NULL,"
	"  header_from   TEXT NOT NULL COLLATE NOCASE,"
	"  envelope_from TEXT,"
	"  policy_domain TEXT COLLATE NOCASE,"
	"  policy        TEXT,"
	"  disposition   TEXT NOT NULL,"
	"  dmarc         TEXT NOT NULL,"
	"  dkim          TEXT,"
	"  dkim_domain   TEXT,"
	"  dkim_aligned  INTEGER NOT NULL,"
	"  spf           TEXT,"
	"  spf_domain    TEXT,"
	"  spf_aligned   INTEGER NOT NULL,"
	"  pct           INTEGER NOT NULL"
	");"
	"CREATE INDEX dmarc_reports_domain ON dmarc_reports"
	" (policy_domain, time);",
	/* 5 -> 6: screening and account security (issue 5).
	 * screen_rules: static allow/deny rules (store_screen.c); kind is
	 * ip, host, helo, sender or rcpt; services a comma list or "*";
	 * domain '' = global, else the local domain the rule is for; mode
	 * enforce or shadow. rejected gains the client's rDNS name, the
	 * rule that refused, the reference quoted in the reply and whether
	 * the rule only ran in shadow mode; traces holds the decision
	 * trace of a session that was refused, by reference. account_ips:
	 * addresses an account logged in from successfully (password
	 * spraying: known addresses stay allowed). sent_rcpts: addresses
	 * an account has written to (first-time recipients). Accounts
	 * gain the freeze state of hijack detection. */
	"CREATE TABLE screen_rules ("
	"  id        INTEGER PRIMARY KEY,"
	"  action    TEXT NOT NULL,"
	"  kind      TEXT NOT NULL,"
	"  pattern   TEXT NOT NULL COLLATE NOCASE,"
	"  services  TEXT NOT NULL DEFAULT '*',"
	"  domain    TEXT NOT NULL DEFAULT '' COLLATE NOCASE,"
	"  mode      TEXT NOT NULL DEFAULT 'enforce',"
	"  comment   TEXT,"
	"  created   INTEGER NOT NULL,"
	"  UNIQUE (action, kind, pattern, services, domain)"
	");"
	"ALTER TABLE rejected ADD COLUMN rdns TEXT;"
	"ALTER TABLE rejected ADD COLUMN rule TEXT;"
	"ALTER TABLE rejected ADD COLUMN ref TEXT;"
	"ALTER TABLE rejected ADD COLUMN shadow INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX rejected_ip ON rejected (ip, time);"
	"CREATE INDEX rejected_ref ON rejected (ref);"
	"CREATE TABLE traces ("
	"  ref       TEXT NOT NULL PRIMARY KEY,"
	"  session   TEXT NOT NULL,"
	"  time      INTEGER NOT NULL,"
	"  trace     TEXT NOT NULL"
	");"
	"CREATE INDEX traces_time ON traces (time);"
	"CREATE TABLE account_ips ("
	"  account   TEXT NOT NULL COLLATE NOCASE,"
	"  ip        TEXT NOT NULL,"
	"  last      INTEGER NOT NULL,"
	"  PRIMARY KEY (account, ip)"
	");"
	"CREATE TABLE sent_rcpts ("
	"  account   TEXT NOT NULL COLLATE NOCASE,"
	"  rcpt      TEXT NOT NULL COLLATE NOCASE,"
	"  first     INTEGER NOT NULL,"
	"  PRIMARY KEY (account, rcpt)"
	");"
	"ALTER TABLE accounts ADD COLUMN frozen_at INTEGER;"
	"ALTER TABLE accounts ADD COLUMN frozen_reason TEXT;"
	"ALTER TABLE accounts ADD COLUMN unfreeze_token TEXT;",
	/* 6 -> 7: the Bayesian spam filter (store_spam.c). scope '' is
	 * the global counts, else a user address in lower case. A token
	 * row counts the messages of each class it appeared in; gen is
	 * the scope's generation when the row last changed, so a process
	 * that caches the table reads only the rows newer than its copy.
	 * spam_totals: messages learned per scope, the generation, and an
	 * epoch that changes when the scope is forgotten (caches reload).
	 * spam_learned: a digest of each learned message and its class,
	 * so learning twice is a no-op and a reclassified message (moved
	 * out of Junk) is unlearned first. */
	"CREATE TABLE spam_tokens ("
	"  scope     TEXT NOT NULL,"
	"  token     BLOB NOT NULL,"
	"  spam      INTEGER NOT NULL DEFAULT 0,"
	"  ham       INTEGER NOT NULL DEFAULT 0,"
	"  gen       INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (scope, token)"
	") WITHOUT ROWID;"
	"CREATE INDEX spam_tokens_gen ON spam_tokens (scope, gen);"
	"CREATE TABLE spam_totals ("
	"  scope     TEXT NOT NULL PRIMARY KEY,"
	"  nspam     INTEGER NOT NULL DEFAULT 0,"
	"  nham      INTEGER NOT NULL DEFAULT 0,"
	"  gen       INTEGER NOT NULL DEFAULT 0,"
	"  epoch     INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE spam_learned ("
	"  scope     TEXT NOT NULL,"
	"  digest    BLOB NOT NULL,"
	"  class     INTEGER NOT NULL,"
	"  time      INTEGER NOT NULL,"
	"  PRIMARY KEY (scope, digest)"
	") WITHOUT ROWID;",
	/* 7 -> 8: mailing lists (store_list.c). A list is an address of a
	 * local domain; post is members, anyone or moderated; reply_to is
	 * list, author or none; max_size 0 is no limit. A member's state
	 * is active, disabled (by bounces or the admin) or pending (asked
	 * to join, not confirmed); token is its one-click unsubscribe
	 * secret. list_tokens are single-use confirmation secrets
	 * (subscribe, unsubscribe, approve a held post: data). */
	"CREATE TABLE lists ("
	"  address   TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,"
	"  local     TEXT NOT NULL COLLATE NOCASE,"
	"  domain    TEXT NOT NULL COLLATE NOCASE"
	"            REFERENCES domains (name) ON DELETE RESTRICT,"
	"  name      TEXT NOT NULL,"
	"  post      TEXT NOT NULL DEFAULT 'members',"
	"  prefix    TEXT NOT NULL DEFAULT '',"
	"  reply_to  TEXT NOT NULL DEFAULT 'list',"
	"  max_size  INTEGER NOT NULL DEFAULT 0,"
	"  moderator TEXT NOT NULL DEFAULT '' COLLATE NOCASE,"
	"  created   INTEGER NOT NULL,"
	"  UNIQUE (domain, local)"
	");"
	"CREATE TABLE list_members ("
	"  list      TEXT NOT NULL COLLATE NOCASE"
	"            REFERENCES lists (address) ON DELETE CASCADE,"
	"  address   TEXT NOT NULL COLLATE NOCASE,"
	"  state     TEXT NOT NULL DEFAULT 'active',"
	"  bounces   INTEGER NOT NULL DEFAULT 0,"
	"  joined    INTEGER NOT NULL,"
	"  token     TEXT NOT NULL,"
	"  PRIMARY KEY (list, address)"
	");"
	"CREATE TABLE list_tokens ("
	"  token     TEXT NOT NULL PRIMARY KEY,"
	"  list      TEXT NOT NULL COLLATE NOCASE"
	"            REFERENCES lists (address) ON DELETE CASCADE,"
	"  address   TEXT NOT NULL COLLATE NOCASE,"
	"  action    TEXT NOT NULL,"
	"  expires   INTEGER NOT NULL,"
	"  data      BLOB"
	");"
	"CREATE INDEX list_tokens_list ON list_tokens (list, address);",
	/* 8 -> 9: lists (store_list.c). list_secret keys the VERP
	 * addresses' HMAC (a bounce must name a member we mailed, not one
	 * guessed); made here, once, by SQLite's CSPRNG. list_tokens.meta
	 * keeps a held post's envelope facts (author DMARC policy,
	 * 8BITMIME, SMTPUTF8) for when it is approved. */
	"CREATE TABLE list_secret ("
	"  id        INTEGER PRIMARY KEY CHECK (id = 1),"
	"  key       BLOB NOT NULL"
	");"
	"INSERT INTO list_secret (id, key) VALUES (1, randomblob(32));"
	"ALTER TABLE list_tokens ADD COLUMN meta TEXT NOT NULL DEFAULT '';",
	/* 9 -> 10: digests (store_list_digest.c). A list offers one
	 * (digest 1) sent when its pending posts reach digest_size octets
	 * or the oldest waited digest_interval seconds; digest_issue
	 * counts the digests sent. A member's mode is each or digest.
	 * list_digest holds the posts waiting for the next digest: post is
	 * the queue id of the post, so that a retried expansion stores it
	 * once; batch and claimed mark the rows a digest being sent took
	 * (taken again past an hour: a crash loses nothing). */
	"ALTER TABLE lists ADD COLUMN digest INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE lists ADD COLUMN digest_size INTEGER NOT NULL"
	"  DEFAULT 40960;"
	"ALTER TABLE lists ADD COLUMN digest_interval INTEGER NOT NULL"
	"  DEFAULT 86400;"
	"ALTER TABLE lists ADD COLUMN digest_issue INTEGER NOT NULL"
	"  DEFAULT 0;"
	"ALTER TABLE list_members ADD COLUMN mode TEXT NOT NULL"
	"  DEFAULT 'each';"
	"CREATE TABLE list_digest ("
	"  id        INTEGER PRIMARY KEY,"
	"  list      TEXT NOT NULL COLLATE NOCASE"
	"            REFERENCES lists (address) ON DELETE CASCADE,"
	"  post      TEXT NOT NULL,"
	"  time      INTEGER NOT NULL,"
	"  batch     INTEGER NOT NULL DEFAULT 0,"
	"  claimed   INTEGER NOT NULL DEFAULT 0,"
	"  data      BLOB NOT NULL,"
	"  UNIQUE (list, post)"
	");",
	/* 10 -> 11: the one-click unsubscribe (src/web) finds a member by
	 * its token: an index, not a scan of the list's members. */
	"CREATE INDEX list_members_token ON list_members (token);",
};
#define STORE_SCHEMA_VERSION \
	((int)(sizeof(store_migrations) / sizeof(store_migrations[0])))

#define ISO_TIME(col) "strftime('%Y-%m-%dT%H:%M:%SZ', " col ", 'unixepoch')"

enum stmt_id {
	ST_RCPT_CHECK = 0,
	ST_DOMAIN_EXISTS,
	ST_ACCOUNT_EXISTS,
	ST_ALIAS_TARGETS,
	ST_DOMAIN_ADD,
	ST_DOMAIN_USERS,
	ST_DOMAIN_DEL,
	ST_DOMAIN_LIST,
	ST_ACCOUNT_ADD,
	ST_ACCOUNT_DEL,
	ST_ACCOUNT_PASSWD,
	ST_ACCOUNT_LIST,
	ST_ACCOUNT_GET,
	ST_ACCOUNT_ALIASES,
	ST_ALIAS_ADD,
	ST_ALIAS_DEL_ONE,
	ST_ALIAS_DEL_ALL,
	ST_ALIAS_LIST,
	ST_AUTH_LOOKUP,
	ST_SETTING_SET,
	ST_SETTING_GET,
	ST_LOGIN_RECORD,
	ST_LOGIN_RECENT,
	ST_SENDER_OWNED,
	ST_DKIM_ADD,
	ST_DKIM_ENABLE,
	ST_DKIM_DEL,
	ST_DKIM_LIST,
	ST_DMARC_ADD,
	ST_DMARC_LIST,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
	/* ?1 local, ?2 domain -> is_local, exists */
	[ST_RCPT_CHECK] =
	    "SELECT EXISTS (SELECT 1 FROM domains WHERE name = ?2),"
	    " EXISTS (SELECT 1 FROM accounts WHERE domain = ?2 AND local = ?1)"
	    " OR EXISTS (SELECT 1 FROM aliases WHERE domain = ?2 AND local = ?1)"
	    " OR EXISTS (SELECT 1 FROM aliases WHERE domain = ?2 AND local = '')",
	[ST_DOMAIN_EXISTS] =
	    "SELECT 1 FROM domains WHERE name = ?1",
	[ST_ACCOUNT_EXISTS] =
	    "SELECT 1 FROM accounts WHERE domain = ?2 AND local = ?1",
	[ST_ALIAS_TARGETS] =
	    "SELECT target FROM aliases WHERE domain = ?2 AND local = ?1"
	    " ORDER BY target",
	[ST_DOMAIN_ADD] =
	    "INSERT INTO domains (name, created) VALUES (?1, ?2)",
	[ST_DOMAIN_USERS] =
	    "SELECT (SELECT count(*) FROM accounts WHERE domain = ?1),"
	    " (SELECT count(*) FROM aliases WHERE domain = ?1)",
	[ST_DOMAIN_DEL] =
	    "DELETE FROM domains WHERE name = ?1",
	[ST_DOMAIN_LIST] =
	    "SELECT name,"
	    " (SELECT count(*) FROM accounts a WHERE a.domain = d.name),"
	    " (SELECT count(DISTINCT address) FROM aliases l"
	    "  WHERE l.domain = d.name), "
	    ISO_TIME("created")
	    " FROM domains d ORDER BY name",
	[ST_ACCOUNT_ADD] =
	    "INSERT INTO accounts (address, local, domain, password, created,"
	    " scram) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_ACCOUNT_DEL] =
	    "DELETE FROM accounts WHERE address = ?1",
	[ST_ACCOUNT_PASSWD] =
	    "UPDATE accounts SET password = ?2, scram = ?3 WHERE address = ?1",
	[ST_ACCOUNT_LIST] =
	    "SELECT address, " ISO_TIME("created") " FROM accounts"
	    " WHERE ?1 IS NULL OR domain = ?1 ORDER BY domain, local",
	[ST_ACCOUNT_GET] =
	    "SELECT address, local, domain, password, " ISO_TIME("created")
	    ", scram FROM accounts WHERE address = ?1",
	/* aliases that deliver to ?1 directly */
	[ST_ACCOUNT_ALIASES] =
	    "SELECT address FROM aliases WHERE target = ?1 ORDER BY address",
	[ST_ALIAS_ADD] =
	    "INSERT INTO aliases (address, local, domain, target, created)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_ALIAS_DEL_ONE] =
	    "DELETE FROM aliases WHERE address = ?1 AND target = ?2",
	[ST_ALIAS_DEL_ALL] =
	    "DELETE FROM aliases WHERE address = ?1",
	[ST_ALIAS_LIST] =
	    "SELECT address, target FROM aliases"
	    " WHERE ?1 IS NULL OR domain = ?1 ORDER BY domain, local, target",
	/* ?1 address, ?2 service setting name or NULL */
	[ST_AUTH_LOOKUP] =
	    "SELECT password, scram, (SELECT value FROM account_settings s"
	    "  WHERE s.account = a.id AND s.name = ?2)"
	    " FROM accounts a WHERE address = ?1",
	[ST_SETTING_SET] =
	    "INSERT INTO account_settings (account, name, value)"
	    " SELECT id, ?2, ?3 FROM accounts WHERE address = ?1"
	    " ON CONFLICT (account, name) DO UPDATE SET value = excluded.value",
	/* one row when the account exists; the value may be NULL */
	[ST_SETTING_GET] =
	    "SELECT (SELECT value FROM account_settings s"
	    "  WHERE s.account = a.id AND s.name = ?2)"
	    " FROM accounts a WHERE address = ?1",
	[ST_LOGIN_RECORD] =
	    "INSERT INTO logins (ip, time) VALUES (?1, ?2)"
	    " ON CONFLICT (ip) DO UPDATE SET time = excluded.time",
	[ST_LOGIN_RECENT] =
	    "SELECT 1 FROM logins WHERE ip = ?1 AND time >= ?2",
	/* ?1 account, ?2 address, ?3 its domain: an alias of the account,
	 * or the domain's catch-all pointing at it */
	[ST_SENDER_OWNED] =
	    "SELECT EXISTS (SELECT 1 FROM aliases WHERE address = ?2"
	    "  AND target = ?1)"
	    " OR EXISTS (SELECT 1 FROM aliases WHERE domain = ?3"
	    "  AND local = '' AND target = ?1)",
	[ST_DKIM_ADD] =
	    "INSERT INTO dkim_keys (domain, selector, algorithm, key_pem,"
	    " enabled, created) VALUES (?1, ?2, ?3, ?4, 1, ?5)",
	[ST_DKIM_ENABLE] =
	    "UPDATE dkim_keys SET enabled = ?3 WHERE domain = ?1"
	    " AND selector = ?2",
	[ST_DKIM_DEL] =
	    "DELETE FROM dkim_keys WHERE domain = ?1 AND selector = ?2",
	/* ?1 domain or NULL, ?2 1: enabled keys only */
	[ST_DKIM_LIST] =
	    "SELECT domain, selector, algorithm, enabled, " ISO_TIME("created")
	    ", key_pem FROM dkim_keys WHERE (?1 IS NULL OR domain = ?1)"
	    " AND (?2 = 0 OR enabled = 1) ORDER BY domain, selector",
	[ST_DMARC_ADD] =
	    "INSERT INTO dmarc_reports (time, source_ip, header_from,"
	    " envelope_from, policy_domain, policy, disposition, dmarc, dkim,"
	    " dkim_domain, dkim_aligned, spf, spf_domain, spf_aligned, pct)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
	    " ?14, ?15)",
	/* ?1 policy domain or NULL, ?2 since */
	[ST_DMARC_LIST] =
	    "SELECT " ISO_TIME("time") ", source_ip, header_from,"
	    " envelope_from, policy_domain, policy, disposition, dmarc, dkim,"
	    " dkim_domain, dkim_aligned, spf, spf_domain, spf_aligned, pct"
	    " FROM dmarc_reports WHERE (?1 IS NULL OR policy_domain = ?1)"
	    " AND time >= ?2 ORDER BY time, id",
};

struct store {
	sqlite3		*db;
	sqlite3_stmt	*stmt[ST_COUNT];
	sqlite3_stmt	*ext[STORE_EXT_SLOTS];	/* store_int.h */
	char		*data_dir;
	char		 err[STORE_ERR_MAX];
};

/* A validated, lower-cased address: local may be empty (catch-all). */
struct store_addr {
	char	local[STORE_LOCAL_MAX + 1];
	char	domain[STORE_DOMAIN_MAX + 1];
	char	full[STORE_ADDR_MAX + 1];
};

static const char *
store_errf(struct store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static const char *
store_errf(struct store *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* Truncation only shortens the message. */
	(void)vsnprintf(st->err, sizeof(st->err), fmt, ap);
	va_end(ap);
	return st->err;
}

/* A database failure: logged here once, returned as error text. */
static const char *
store_dberr(struct store *st, const char *what)
{
	log_warnx("store: %s: %s (code %d)", what, sqlite3_errmsg(st->db),
	    sqlite3_extended_errcode(st->db));
	return store_errf(st, "database error (%s): %s", what,
	    sqlite3_errmsg(st->db));
}

/*
 * Statements
 */

static sqlite3_stmt *
stmt_get(struct store *st, enum stmt_id id)
{
	return st->stmt[id];
}

/* Reset after use. The return value of sqlite3_reset repeats the error of
 * the last step, which the caller has already handled. */
static void
stmt_done(sqlite3_stmt *s)
{
	(void)sqlite3_reset(s);
	(void)sqlite3_clear_bindings(s);
}

/* Bind a string (NULL binds SQL NULL), at most max bytes of it. */
static int
bind_textn(sqlite3_stmt *s, int idx, const char *v, size_t max)
{
	size_t len;

	if (v == NULL)
		return sqlite3_bind_null(s, idx) == SQLITE_OK ? 0 : -1;
	len = strnlen(v, max);
	return sqlite3_bind_text(s, idx, v, (int)len, SQLITE_STATIC) ==
	    SQLITE_OK ? 0 : -1;
}

static int
bind_text(sqlite3_stmt *s, int idx, const char *v)
{
	return bind_textn(s, idx, v, STORE_ADDR_MAX * 4);
}

static int
bind_int(sqlite3_stmt *s, int idx, int64_t v)
{
	return sqlite3_bind_int64(s, idx, v) == SQLITE_OK ? 0 : -1;
}

/* Step a statement that returns no rows. Returns 0, or the SQLite error
 * code (positive) with the statement reset. */
static int
stmt_exec(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_DONE) {
		stmt_done(s);
		return 0;
	}
	if (rc == SQLITE_ROW)
		rc = SQLITE_MISUSE;	/* a statement here returns no rows */
	return rc;
}

/* Run a statement that yields one row and read an integer column of it
 * (0 when there is no row). Returns 0 or -1. */
static int
stmt_int(sqlite3_stmt *s, int col, int64_t *v_r)
{
	int rc = sqlite3_step(s);

	*v_r = 0;
	if (rc == SQLITE_ROW)
		*v_r = sqlite3_column_int64(s, col);
	else if (rc != SQLITE_DONE)
		return -1;
	return 0;
}

/* Stream every row of a bound statement to cb as strings. */
static int
stmt_rows(struct store *st, sqlite3_stmt *s, store_row_cb *cb, void *ctx)
{
	const char *cols[16];
	int rc, i, n;

	n = sqlite3_column_count(s);
	if (n > (int)(sizeof(cols) / sizeof(cols[0])))
		fatalx("store: statement with %d columns", n);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		for (i = 0; i < n; i++) {
			cols[i] = (const char *)sqlite3_column_text(s, i);
			if (cols[i] == NULL)
				cols[i] = "";
		}
		cb(ctx, cols, n);
	}
	if (rc != SQLITE_DONE) {
		(void)store_dberr(st, "list");
		stmt_done(s);
		return -1;
	}
	stmt_done(s);
	return 0;
}

/*
 * Address syntax (what we store; received addresses are only looked up)
 */

static bool
is_atext(char c)
{
	/* RFC 5322 3.2.3 atext, without '/' (it would make a path). */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-=?^_`{|}~", c) != NULL;
}

/* dot-atom: 1*atext *("." 1*atext) */
static bool
valid_local(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > STORE_LOCAL_MAX)
		return false;
	if (s[0] == '.' || s[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!is_atext(s[i]))
			return false;
	}
	return true;
}

/* Domain = sub-domain *("." sub-domain), sub-domain = Let-dig [Ldh-str] */
static bool
valid_domain(const char *s, size_t len)
{
	size_t i, label = 0;
	char c;

	if (len == 0 || len > STORE_DOMAIN_MAX)
		return false;
	for (i = 0; i < len; i++) {
		c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (c == '-') {
			if (label == 0)
				return false;
		} else if (!((c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return false;
		if (++label > STORE_LABEL_MAX)
			return false;
	}
	return label > 0 && s[len - 1] != '-';
}

/* Parse and validate "local@domain" (or "@domain" when catchall is
 * allowed) into lower case. Returns 0, or -1 with the error in st->err. */
static int
addr_parse(struct store *st, const char *s, bool catchall,
    struct store_addr *a, const char **error_r)
{
	const char *at = strrchr(s, '@');
	size_t llen, dlen;
	int n;

	if (at == NULL) {
		*error_r = store_errf(st, "invalid address '%.300s': "
		    "expected local@domain", s);
		return -1;
	}
	llen = (size_t)(at - s);	/* UNSAFE: at points into s */
	dlen = strlen(at + 1);
	if (llen == 0 && !catchall) {
		*error_r = store_errf(st, "invalid address '%.300s': "
		    "empty local part", s);
		return -1;
	}
	if (llen > 0 && !valid_local(s, llen)) {
		*error_r = store_errf(st, "invalid address '%.300s': bad local "
		    "part (letters, digits, !#$%%&'*+-=?^_`{|}~ and single "
		    "dots, at most %d characters)", s, STORE_LOCAL_MAX);
		return -1;
	}
	if (!valid_domain(at + 1, dlen)) {
		*error_r = store_errf(st, "invalid address '%.300s': bad "
		    "domain", s);
		return -1;
	}
	memcpy(a->local, s, llen);
	a->local[llen] = '\0';
	memcpy(a->domain, at + 1, dlen + 1);
	ascii_lower(a->local);
	ascii_lower(a->domain);
	n = snprintf(a->full, sizeof(a->full), "%s@%s", a->local, a->domain);
	if (n < 0 || (size_t)n >= sizeof(a->full))
		fatalx("store: address buffer");
	return 0;
}

static int
domain_parse(struct store *st, const char *s, char *out, size_t outlen,
    const char **error_r)
{
	size_t len = strlen(s);

	if (!valid_domain(s, len) || len >= outlen) {
		*error_r = store_errf(st, "invalid domain '%.300s'", s);
		return -1;
	}
	memcpy(out, s, len + 1);
	ascii_lower(out);
	return 0;
}

/* Lower-case copy of received text; false when it cannot be ours. */
static bool
lower_copy(char *dst, size_t dstlen, const char *src)
{
	if (moat_strlcpy(dst, src, dstlen) >= dstlen)
		return false;
	ascii_lower(dst);
	return true;
}

/*
 * Open, schema, close
 */

static int
db_exec(sqlite3 *db, const char *sql, const char **what_r)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		*what_r = sqlite3_errmsg(db);
		return -1;
	}
	return 0;
}

static int
db_user_version(sqlite3 *db, int *v_r)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s,
	    NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*v_r = sqlite3_column_int(s, 0);
	if (sqlite3_finalize(s) != SQLITE_OK || rc != SQLITE_ROW)
		return -1;
	return 0;
}

/* Bring the schema to STORE_SCHEMA_VERSION. Several processes may open
 * the file at once: the version is read again under the write lock. */
static int
db_migrate(sqlite3 *db, char *err, size_t errlen)
{
	const char *what;
	char sql[64];
	int v, n;

	if (db_user_version(db, &v) < 0) {
		snprintf(err, errlen, "reading schema version: %s",
		    sqlite3_errmsg(db));
		return -1;
	}
	if (v == STORE_SCHEMA_VERSION)
		return 0;
	if (db_exec(db, "BEGIN IMMEDIATE", &what) < 0) {
		snprintf(err, errlen, "locking for schema update: %s", what);
		return -1;
	}
	if (db_user_version(db, &v) < 0) {
		snprintf(err, errlen, "reading schema version: %s",
		    sqlite3_errmsg(db));
		goto fail;
	}
	if (v > STORE_SCHEMA_VERSION || v < 0) {
		snprintf(err, errlen, "database schema version %d is newer "
		    "than this moat understands (%d)", v,
		    STORE_SCHEMA_VERSION);
		goto fail;
	}
	for (; v < STORE_SCHEMA_VERSION; v++) {
		if (db_exec(db, store_migrations[v], &what) < 0) {
			snprintf(err, errlen, "schema update %d -> %d: %s", v,
			    v + 1, what);
			goto fail;
		}
	}
	/* PRAGMA takes no parameters; the value is our own constant. */
	n = snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	    STORE_SCHEMA_VERSION);
	if (n < 0 || (size_t)n >= sizeof(sql))
		fatalx("store: pragma buffer");
	if (db_exec(db, sql, &what) < 0 || db_exec(db, "COMMIT", &what) < 0) {
		snprintf(err, errlen, "schema update: %s", what);
		goto fail;
	}
	return 0;
fail:
	(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int
db_pragmas(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	const char *what, *mode;
	bool wal;
	int rc;

	if (sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS) != SQLITE_OK) {
		snprintf(err, errlen, "busy_timeout: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s,
	    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "journal_mode: %s", sqlite3_errmsg(db));
		return -1;
	}
	rc = sqlite3_step(s);
	mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) :
	    NULL;
	wal = mode != NULL && strcmp(mode, "wal") == 0;
	if (sqlite3_finalize(s) != SQLITE_OK || !wal) {
		snprintf(err, errlen, "cannot switch to WAL mode: %s",
		    sqlite3_errmsg(db));
		return -1;
	}
	/* In WAL mode NORMAL keeps the database consistent; a power loss
	 * may lose the last transactions (never the queue: it is files). */
	if (db_exec(db, "PRAGMA synchronous = NORMAL", &what) < 0 ||
	    db_exec(db, "PRAGMA foreign_keys = ON", &what) < 0) {
		snprintf(err, errlen, "pragma: %s", what);
		return -1;
	}
	return 0;
}

int
store_open(const char *data_dir, struct store **st_r, const char **error_r)
{
	static _Thread_local char err[4096 + STORE_ERR_MAX];
	char path[4096];
	struct store *st;
	int fd, i, n;

	*st_r = NULL;
	n = snprintf(path, sizeof(path), "%s/%s", data_dir, STORE_DB_NAME);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		snprintf(err, sizeof(err), "data_dir path too long");
		*error_r = err;
		return -1;
	}
	/* Create it ourselves so that it (and the -wal and -shm files,
	 * which SQLite gives the same mode) holds hashes at 0600. Only
	 * when it is missing: closing any descriptor of the file would drop
	 * the POSIX locks the other connections of this process hold on
	 * it (pool threads each have one), and SQLite then reads pages a
	 * checkpoint has moved away. */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0 && errno != EEXIST) {
		snprintf(err, sizeof(err), "%s: %s", path, strerror(errno));
		*error_r = err;
		return -1;
	}
	if (fd >= 0 && close(fd) < 0) {
		snprintf(err, sizeof(err), "%s: close: %s", path,
		    strerror(errno));
		*error_r = err;
		return -1;
	}

	st = xcalloc(1, sizeof(*st));
	st->data_dir = xstrdup(data_dir);
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE, NULL) != SQLITE_OK) {
		snprintf(err, sizeof(err), "%s: %s", path, st->db == NULL ?
		    "out of memory" : sqlite3_errmsg(st->db));
		goto fail;
	}
	if (db_pragmas(st->db, err, sizeof(err)) < 0 ||
	    db_migrate(st->db, err, sizeof(err)) < 0)
		goto fail;
	for (i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &st->stmt[i], NULL) !=
		    SQLITE_OK) {
			snprintf(err, sizeof(err), "preparing statement %d: "
			    "%s", i, sqlite3_errmsg(st->db));
			goto fail;
		}
	}
	*st_r = st;
	return 0;
fail:
	*error_r = err;
	store_close(&st);
	return -1;
}

struct store *
store_thread(const char *data_dir, const char **error_r)
{
	static __thread struct store *thread_store;

	if (thread_store == NULL &&
	    store_open(data_dir, &thread_store, error_r) < 0)
		return NULL;
	return thread_store;
}

void
store_close(struct store **stp)
{
	struct store *st = *stp;
	int i;

	if (st == NULL)
		return;
	*stp = NULL;
	for (i = 0; i < ST_COUNT; i++)
		(void)sqlite3_finalize(st->stmt[i]);	/* NULL is a no-op */
	for (i = 0; i < STORE_EXT_SLOTS; i++)
		(void)sqlite3_finalize(st->ext[i]);
	if (st->db != NULL && sqlite3_close(st->db) != SQLITE_OK)
		log_warnx("store: close: %s", sqlite3_errmsg(st->db));
	free(st->data_dir);
	free(st);
}

/*
 * Hot path: RCPT and delivery
 */

int
store_rcpt_check(struct store *st, const char *local, const char *domain,
    enum store_rcpt_result *r)
{
	sqlite3_stmt *s = stmt_get(st, ST_RCPT_CHECK);
	int rc;

	*r = STORE_RCPT_NOT_LOCAL;
	/* NOCASE columns: received names are compared case-insensitively
	 * without a copy. */
	if (bind_text(s, 1, local) < 0 || bind_text(s, 2, domain) < 0) {
		(void)store_dberr(st, "rcpt check bind");
		stmt_done(s);
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		(void)store_dberr(st, "rcpt check");
		stmt_done(s);
		return -1;
	}
	if (sqlite3_column_int(s, 0) == 0)
		*r = STORE_RCPT_NOT_LOCAL;
	else if (sqlite3_column_int(s, 1) != 0)
		*r = STORE_RCPT_OK;
	else
		*r = STORE_RCPT_NO_SUCH_USER;
	stmt_done(s);
	/* A list address: store_list_lookup is the one parser of role
	 * suffixes, so RCPT accepts exactly what delivery knows. */
	if (*r == STORE_RCPT_NO_SUCH_USER) {
		char arg[LIST_ARG_MAX];
		struct list_info li;
		enum list_role role;

		if (store_list_lookup(st, local, domain, &role, &li, arg,
		    sizeof(arg)) < 0)
			return -1;
		if (role != LIST_ROLE_NONE)
			*r = STORE_RCPT_OK;
	}
	return 0;
}

/* Does a (local, domain) lookup statement return a row? 1, 0 or -1. */
static int
lookup2(struct store *st, enum stmt_id id, const char *local,
    const char *domain)
{
	sqlite3_stmt *s = stmt_get(st, id);
	int rc;

	if ((local != NULL && bind_text(s, 1, local) < 0) ||
	    bind_text(s, local != NULL ? 2 : 1, domain) < 0) {
		stmt_done(s);
		return -1;
	}
	rc = sqlite3_step(s);
	stmt_done(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
domain_is_local(struct store *st, const char *domain)
{
	return lookup2(st, ST_DOMAIN_EXISTS, NULL, domain);
}

struct resolve {
	struct store	*st;
	store_target_cb	*cb;
	void		*ctx;
	char		**seen;		/* aliases expanded: "l@d", "@d" */
	size_t		 nseen;
	char		**done;		/* targets handed to cb */
	size_t		 ndone;
	bool		 truncated;
};

static bool
list_has(char *const *list, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

static void
list_add(char ***list, size_t *n, const char *s)
{
	*list = xreallocarray(*list, *n + 1, sizeof(**list));
	(*list)[(*n)++] = xstrdup(s);
}

static void
list_free(char ***list, size_t *n)
{
	size_t i;

	for (i = 0; i < *n; i++)
		free((*list)[i]);
	free(*list);
	*list = NULL;
	*n = 0;
}

static void
resolve_emit(struct resolve *r, const char *local, const char *domain,
    bool is_account)
{
	char key[STORE_ADDR_MAX + 1];
	int n;

	n = snprintf(key, sizeof(key), "%s@%s", local, domain);
	if (n < 0 || (size_t)n >= sizeof(key))
		return;		/* cannot be one of ours */
	if (list_has(r->done, r->ndone, key))
		return;
	if (r->ndone >= STORE_RESOLVE_MAX) {
		if (!r->truncated)
			log_warnx("store: alias expansion stopped at %d "
			    "targets", STORE_RESOLVE_MAX);
		r->truncated = true;
		return;
	}
	list_add(&r->done, &r->ndone, key);
	r->cb(r->ctx, local, domain, is_account);
}

static int resolve_addr(struct resolve *r, const char *local,
    const char *domain, unsigned depth);

/* Expand the alias (local may be "" for the catch-all) if it exists.
 * *exists_r tells whether there is such an alias. */
static int
resolve_alias(struct resolve *r, const char *local, const char *domain,
    unsigned depth, bool *exists_r)
{
	sqlite3_stmt *s = stmt_get(r->st, ST_ALIAS_TARGETS);
	char key[STORE_ADDR_MAX + 1], **targets = NULL, *at;
	size_t ntargets = 0, i;
	const char *t;
	int rc, n, ret = 0;

	*exists_r = false;
	n = snprintf(key, sizeof(key), "%s@%s", local, domain);
	if (n < 0 || (size_t)n >= sizeof(key))
		return 0;
	if (list_has(r->seen, r->nseen, key)) {
		*exists_r = true;	/* already expanded: a loop or a dup */
		return 0;
	}
	/* Collect first: the statement is reused by the recursion. */
	if (bind_text(s, 1, local) < 0 || bind_text(s, 2, domain) < 0) {
		stmt_done(s);
		return -1;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		t = (const char *)sqlite3_column_text(s, 0);
		if (t != NULL && ntargets < STORE_RESOLVE_MAX)
			list_add(&targets, &ntargets, t);
	}
	stmt_done(s);
	if (rc != SQLITE_DONE) {
		list_free(&targets, &ntargets);
		return -1;
	}
	if (ntargets == 0)
		return 0;
	*exists_r = true;
	if (r->nseen >= STORE_RESOLVE_MAX) {
		list_free(&targets, &ntargets);
		if (!r->truncated)
			log_warnx("store: alias expansion stopped at %d "
			    "aliases", STORE_RESOLVE_MAX);
		r->truncated = true;
		return 0;
	}
	list_add(&r->seen, &r->nseen, key);
	if (depth >= STORE_ALIAS_DEPTH) {
		log_warnx("store: alias %s: nested deeper than %d, not "
		    "expanded", key, STORE_ALIAS_DEPTH);
		list_free(&targets, &ntargets);
		return 0;
	}
	for (i = 0; i < ntargets && ret == 0; i++) {
		/* Stored targets were validated: "local@domain". */
		at = strrchr(targets[i], '@');
		if (at == NULL || at == targets[i])
			continue;
		*at = '\0';
		ret = resolve_addr(r, targets[i], at + 1, depth + 1);
	}
	list_free(&targets, &ntargets);
	return ret;
}

static int
resolve_addr(struct resolve *r, const char *local, const char *domain,
    unsigned depth)
{
	bool found = false, alias;
	int rc;

	rc = domain_is_local(r->st, domain);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		resolve_emit(r, local, domain, false);
		return 0;
	}
	rc = lookup2(r->st, ST_ACCOUNT_EXISTS, local, domain);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		resolve_emit(r, local, domain, true);
		found = true;
	}
	if (resolve_alias(r, local, domain, depth, &alias) < 0)
		return -1;
	if (!found && !alias) {
		if (resolve_alias(r, "", domain, depth, &alias) < 0)
			return -1;
		if (!alias && depth > 0)
			log_warnx("store: alias target %s@%s: no such user",
			    local, domain);
	}
	return 0;
}

int
store_resolve(struct store *st, const char *local, const char *domain,
    store_target_cb *cb, void *ctx)
{
	char l[STORE_LOCAL_MAX + 1], d[STORE_DOMAIN_MAX + 1];
	struct resolve r = { .st = st, .cb = cb, .ctx = ctx };
	int ret;

	if (!lower_copy(l, sizeof(l), local) ||
	    !lower_copy(d, sizeof(d), domain) || l[0] == '\0')
		return 0;
	ret = resolve_addr(&r, l, d, 0);
	if (ret < 0)
		(void)store_dberr(st, "resolve");
	else
		ret = (int)r.ndone;
	list_free(&r.seen, &r.nseen);
	list_free(&r.done, &r.ndone);
	return ret;
}

/*
 * Administration
 */

static const char *
no_such_domain(struct store *st, const char *domain)
{
	return store_errf(st, "no such domain %s; add it with: moatctl "
	    "domain add %s", domain, domain);
}

/* 1 local, 0 not (error set), -1 database error (error set). */
static int
require_local_domain(struct store *st, const char *domain,
    const char **error_r)
{
	int rc = domain_is_local(st, domain);

	if (rc < 0)
		*error_r = store_dberr(st, "domain lookup");
	else if (rc == 0)
		*error_r = no_such_domain(st, domain);
	return rc;
}

int
store_domain_add(struct store *st, const char *domain, const char **error_r)
{
	sqlite3_stmt *s = stmt_get(st, ST_DOMAIN_ADD);
	char d[STORE_DOMAIN_MAX + 1];
	int rc;

	if (domain_parse(st, domain, d, sizeof(d), error_r) < 0)
		return -1;
	if (bind_text(s, 1, d) < 0 || bind_int(s, 2, time(NULL)) < 0) {
		*error_r = store_dberr(st, "domain add");
		stmt_done(s);
		return -1;
	}
	rc = stmt_exec(s);
	if (rc == 0)
		return 0;
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		*error_r = store_errf(st, "domain %s exists", d);
	else
		*error_r = store_dberr(st, "domain add");
	stmt_done(s);
	return -1;
}

int
store_domain_del(struct store *st, const char *domain, const char **error_r)
{
	sqlite3_stmt *s = stmt_get(st, ST_DOMAIN_USERS);
	char d[STORE_DOMAIN_MAX + 1];
	int64_t naccounts, naliases;
	int rc;

	if (domain_parse(st, domain, d, sizeof(d), error_r) < 0)
		return -1;
	rc = require_local_domain(st, d, error_r);
	if (rc <= 0)
		return -1;
	if (bind_text(s, 1, d) < 0 || stmt_int(s, 0, &naccounts) < 0) {
		*error_r = store_dberr(st, "domain del");
		stmt_done(s);
		return -1;
	}
	naliases = sqlite3_column_int64(s, 1);
	stmt_done(s);
	if (naccounts > 0 || naliases > 0) {
		*error_r = store_errf(st, "domain %s still has %lld "
		    "account(s) and %lld alias target(s); delete them first "
		    "(moatctl account list %s, moatctl alias list %s)", d,
		    (long long)naccounts, (long long)naliases, d, d);
		return -1;
	}
	/* The foreign keys refuse the delete if an account or alias
	 * appeared since the count. */
	s = stmt_get(st, ST_DOMAIN_DEL);
	if (bind_text(s, 1, d) < 0) {
		*error_r = store_dberr(st, "domain del");
		stmt_done(s);
		return -1;
	}
	rc = stmt_exec(s);
	if (rc == 0)
		return 0;
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		*error_r = store_errf(st, "domain %s still has accounts or "
		    "aliases; delete them first", d);
	else
		*error_r = store_dberr(st, "domain del");
	stmt_done(s);
	return -1;
}

int
store_domain_list(struct store *st, store_row_cb *cb, void *ctx)
{
	return stmt_rows(st, stmt_get(st, ST_DOMAIN_LIST), cb, ctx);
}

/* hash: a crypt(3) string; scram: NULL or a SCRAM-SHA-256 credential. */
static int
check_secrets(struct store *st, const char *hash, const char *scram,
    const char **error_r)
{
	if (hash == NULL || hash[0] != '$' ||
	    strlen(hash) > STORE_SECRET_MAX) {
		*error_r = store_errf(st, "invalid password hash");
		return -1;
	}
	if (scram != NULL && (strncmp(scram, STORE_SCRAM_PREFIX,
	    strlen(STORE_SCRAM_PREFIX)) != 0 ||
	    strlen(scram) > STORE_SECRET_MAX)) {
		*error_r = store_errf(st, "invalid SCRAM credential");
		return -1;
	}
	return 0;
}

int
store_account_add(struct store *st, const char *address, const char *hash,
    const char *scram, const char **error_r)
{
	sqlite3_stmt *s = stmt_get(st, ST_ACCOUNT_ADD);
	struct store_addr a;
	int rc;

	if (addr_parse(st, address, false, &a, error_r) < 0)
		return -1;
	if (check_secrets(st, hash, scram, error_r) < 0)
		return -1;
	if (require_local_domain(st, a.domain, error_r) <= 0)
		return -1;
	if (bind_text(s, 1, a.full) < 0 || bind_text(s, 2, a.local) < 0 ||
	    bind_text(s, 3, a.domain) < 0 ||
	    bind_textn(s, 4, hash, STORE_SECRET_MAX) < 0 ||
	    bind_int(s, 5, time(NULL)) < 0 ||
	    bind_textn(s, 6, scram, STORE_SECRET_MAX) < 0) {
		*error_r = store_dberr(st, "account add");
		stmt_done(s);
		return -1;
	}
	rc = stmt_exec(s);
	if (rc == 0)
		return 0;
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		*error_r = no_such_domain(st, a.domain);
	else if ((rc & 0xff) == SQLITE_CONSTRAINT)
		*error_r = store_errf(st, "account %s exists", a.full);
	else
		*error_r = store_dberr(st, "account add");
	stmt_done(s);
	return -1;
}

/* Run a one-address write that must change a row. */
static int
account_write(struct store *st, enum stmt_id id, const char *address,
    const char *hash, const char *scram, const char **error_r)
{
	sqlite3_stmt *s = stmt_get(st, id);
	struct store_addr a;

	if (addr_parse(st, address, false, &a, error_r) < 0)
		return -1;
	if (bind_text(s, 1, a.full) < 0 ||
	    (hash != NULL && (bind_textn(s, 2, hash, STORE_SECRET_MAX) < 0 ||
	    bind_textn(s, 3, scram, STORE_SECRET_MAX) < 0)) ||
	    stmt_exec(s) != 0) {
		*error_r = store_dberr(st, "account update");
		stmt_done(s);
		return -1;
	}
	if (sqlite3_changes(st->db) == 0) {
		*error_r = store_errf(st, "no such account %s", a.full);
		return -1;
	}
	return 0;
}

int
store_account_del(struct store *st, const char *address,
    const char **error_r)
{
	return account_write(st, ST_ACCOUNT_DEL, address, NULL, NULL,
	    error_r);
}

int
store_account_passwd(struct store *st, const char *address,
    const char *hash, const char *scram, const char **error_r)
{
	if (check_secrets(st, hash, scram, error_r) < 0)
		return -1;
	return account_write(st, ST_ACCOUNT_PASSWD, address, hash, scram,
	    error_r);
}

int
store_account_list(struct store *st, const char *domain, store_row_cb *cb,
    void *ctx)
{
	sqlite3_stmt *s = stmt_get(st, ST_ACCOUNT_LIST);

	if (bind_text(s, 1, domain) < 0) {
		(void)store_dberr(st, "account list");
		stmt_done(s);
		return -1;
	}
	return stmt_rows(st, s, cb, ctx);
}

static const char *
hash_scheme(const char *hash)
{
	static const struct {
		const char	*prefix;
		const char	*name;
	} schemes[] = {
		{ "$y$", "yescrypt" },
		{ "$gy$", "gost-yescrypt" },
		{ "$7$", "scrypt" },
		{ "$2b$", "bcrypt" },
		{ "$2y$", "bcrypt" },
		{ "$6$", "sha512-crypt" },
		{ "$5$", "sha256-crypt" },
		{ "$1$", "md5-crypt" },
	};
	size_t i;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(hash, schemes[i].prefix,
		    strlen(schemes[i].prefix)) == 0)
			return schemes[i].name;
	return "unknown";
}

static void
show_row(store_row_cb *cb, void *ctx, const char *key, const char *value)
{
	const char *cols[2] = { key, value };

	cb(ctx, cols, 2);
}

int
store_account_show(struct store *st, const char *address, store_row_cb *cb,
    void *ctx, const char **error_r)
{
	sqlite3_stmt *s = stmt_get(st, ST_ACCOUNT_GET);
	char *addr = NULL, *local = NULL, *domain = NULL, *created = NULL;
	char maildir[4096];
	const char *hash;
	struct store_addr a;
	int rc, n, ret = -1;
	size_t i;
	bool on;
	uint64_t quota;

	if (addr_parse(st, address, false, &a, error_r) < 0)
		return -1;
	if (bind_text(s, 1, a.full) < 0) {
		*error_r = store_dberr(st, "account show");
		stmt_done(s);
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		*error_r = store_errf(st, "no such account %s", a.full);
		stmt_done(s);
		return -1;
	}
	if (rc != SQLITE_ROW) {
		*error_r = store_dberr(st, "account show");
		stmt_done(s);
		return -1;
	}
	addr = xstrdup((const char *)sqlite3_column_text(s, 0));
	local = xstrdup((const char *)sqlite3_column_text(s, 1));
	domain = xstrdup((const char *)sqlite3_column_text(s, 2));
	hash = (const char *)sqlite3_column_text(s, 3);
	show_row(cb, ctx, "address", addr);
	show_row(cb, ctx, "domain", domain);
	created = xstrdup((const char *)sqlite3_column_text(s, 4));
	show_row(cb, ctx, "created", created);
	show_row(cb, ctx, "password", hash_scheme(hash != NULL ? hash : ""));
	hash = (const char *)sqlite3_column_text(s, 5);
	show_row(cb, ctx, "scram", hash != NULL ? "SCRAM-SHA-256" :
	    "none (set the password again to enable SCRAM)");
	stmt_done(s);

	n = snprintf(maildir, sizeof(maildir), "%s/mail/%s/%s/Maildir",
	    st->data_dir, domain, local);
	if (n > 0 && (size_t)n < sizeof(maildir))
		show_row(cb, ctx, "maildir", maildir);

	for (i = 0; i < STORE_SETTING_COUNT; i++) {
		if (store_account_get_setting(st, addr, store_settings[i],
		    &on, error_r) < 0)
			goto out;
		show_row(cb, ctx, store_settings[i], on ? "on" : "off");
	}
	if (store_account_quota(st, addr, &quota, error_r) < 0)
		goto out;
	if (quota == 0)
		show_row(cb, ctx, STORE_SETTING_QUOTA, "none");
	else {
		char qbuf[24];

		snprintf(qbuf, sizeof(qbuf), "%llu",
		    (unsigned long long)quota);
		show_row(cb, ctx, STORE_SETTING_QUOTA, qbuf);
	}

	s = stmt_get(st, ST_ACCOUNT_ALIASES);
	if (bind_text(s, 1, addr) < 0) {
		*error_r = store_dberr(st, "account show");
		stmt_done(s);
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		show_row(cb, ctx, "alias",
		    (const char *)sqlite3_column_text(s, 0));
	stmt_done(s);
	if (rc != SQLITE_DONE) {
		*error_r = store_dberr(st, "account show");
		goto out;
	}
	ret = 0;
out:
	free(addr);
	free(local);
	free(domain);
	free(created);
	return ret;
}

int
store_account_hash(struct store *st, const char *address, char *hash,
    size_t hashlen, const char **error_r)
{
	sqlite3_stmt *s = stmt_get(st, ST_ACCOUNT_GET);
	char a[STORE_ADDR_MAX + 1];
	const char *h;
	int rc, ret = -1;

	if (!lower_copy(a, sizeof(a), address)) {
		*error_r = store_errf(st, "no such account");
		return -1;
	}
	if (bind_text(s, 1, a) < 0) {
		*error_r = store_dberr(st, "account hash");
		stmt_done(s);
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		h = (const char *)sqlite3_column_text(s, 3);
		if (h != NULL && moat_strlcpy(hash, h, hashlen) < hashlen)
			ret = 0;
		else
			*error_r = store_errf(st, "password hash too long");
	} else if (rc == SQLITE_DONE)
		*error_r = store_errf(st, "no such account %s", a);
	else
		*error_r = store_dberr(st, "account hash");
	stmt_done(s);
	return ret;
}

int
store_alias_add(struct store *st, const char *address, const char *target,
    const char **error_r)
{
	sqlite3_stmt *s = stmt_get(st, ST_ALIAS_ADD);
	struct store_addr a, t;
	int rc;

	if (addr_parse(st, address, true, &a, error_r) < 0 ||
	    addr_parse(st, target, false, &t, error_r) < 0)
		return -1;
	if (strcmp(a.full, t.full) == 0) {
		*error_r = store_errf(st, "alias %s points at itself", a.full);
		return -1;
	}
	if (require_local_domain(st, a.domain, error_r) <= 0)
		return -1;
	if (bind_text(s, 1, a.full) < 0 || bind_text(s, 2, a.local) < 0 ||
	    bind_text(s, 3, a.domain) < 0 || bind_text(s, 4, t.full) < 0 ||
	    bind_int(s, 5, time(NULL)) < 0) {
		*error_r = store_dberr(st, "alias add");
		stmt_done(s);
		return -1;
	}
	rc = stmt_exec(s);
	if (rc == 0)
		return 0;
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		*error_r = no_such_domain(st, a.domain);
	else if ((rc & 0xff) == SQLITE_CONSTRAINT)
		*error_r = store_errf(st, "alias %s -> %s exists", a.full,
		    t.full);
	else
		*error_r = store_dberr(st, "alias add");
	stmt_done(s);
	return -1;
}

int
store_alias_del(struct store *st, const char *address, const char *target,
    const char **error_r)
{
	sqlite3_stmt *s;
	struct store_addr a, t;

	if (addr_parse(st, address, true, &a, error_r) < 0)
		return -1;
	if (target != NULL) {
		if (addr_parse(st, target, false, &t, error_r) < 0)
			return -1;
		s = stmt_get(st, ST_ALIAS_DEL_ONE);
		if (bind_text(s, 2, t.full) < 0) {
			*error_r = store_dberr(st, "alias del");
			stmt_done(s);
			return -1;
		}
	} else
		s = stmt_get(st, ST_ALIAS_DEL_ALL);
	if (bind_text(s, 1, a.full) < 0 || stmt_exec(s) != 0) {
		*error_r = store_dberr(st, "alias del");
		stmt_done(s);
		return -1;
	}
	if (sqlite3_changes(st->db) == 0) {
		if (target != NULL)
			*error_r = store_errf(st, "no such alias %s -> %s",
			    a.full, t.full);
		else
			*error_r = store_errf(st, "no such alias %s", a.full);
		return -1;
	}
	return 0;
}

int
store_alias_list(struct store *st, const char *domain, store_row_cb *cb,
    void *ctx)
{
	sqlite3_stmt *s = stmt_get(st, ST_ALIAS_LIST);

	if (bind_text(s, 1, domain) < 0) {
		(void)store_dberr(st, "alias list");
		stmt_done(s);
		return -1;
	}
	return stmt_rows(st, s, cb, ctx);
}

/*
 * Login and per-account settings
 */

/* "quota": a size ("500M", "2G", bytes) or "none"/"0" for no limit,
 * into bytes (0: none). */
static int
quota_parse(const char *value, uint64_t *bytes_r)
{
	const char *e;

	if (strcmp(value, "none") == 0 || strcmp(value, "off") == 0) {
		*bytes_r = 0;
		return 0;
	}
	return parse_size(value, 0, STORE_QUOTA_MAX, bytes_r, &e);
}

bool
store_setting_valid(const char *name, const char *value)
{
	uint64_t q;
	size_t i;

	if (strcmp(name, STORE_SETTING_QUOTA) == 0)
		return value == NULL || quota_parse(value, &q) == 0;
	if (value != NULL && strcmp(value, "on") != 0 &&
	    strcmp(value, "off") != 0)
		return false;
	for (i = 0; i < STORE_SETTING_COUNT; i++)
		if (strcmp(name, store_settings[i]) == 0)
			return true;
	return false;
}

int
store_account_set(struct store *st, const char *address, const char *name,
    const char *value, const char **error_r)
{
	sqlite3_stmt *s;
	struct store_addr a;
	char qbuf[24];
	uint64_t q;

	if (addr_parse(st, address, false, &a, error_r) < 0)
		return -1;
	if (value == NULL || !store_setting_valid(name, value)) {
		*error_r = store_errf(st, "invalid setting '%.64s=%.64s' "
		    "(keys: smtp imap pop3 webmail relay; values: on off; "
		    "quota=SIZE|none)", name, value != NULL ? value : "");
		return -1;
	}
	if (strcmp(name, STORE_SETTING_QUOTA) == 0) {
		/* stored as bytes; "0" is no limit */
		if (quota_parse(value, &q) < 0)
			return -1;
		snprintf(qbuf, sizeof(qbuf), "%llu", (unsigned long long)q);
		value = qbuf;
	}
	s = stmt_get(st, ST_SETTING_SET);
	if (bind_text(s, 1, a.full) < 0 || bind_text(s, 2, name) < 0 ||
	    bind_text(s, 3, value) < 0 || stmt_exec(s) != 0) {
		*error_r = store_dberr(st, "account set");
		stmt_done(s);
		return -1;
	}
	if (sqlite3_changes(st->db) == 0) {
		*error_r = store_errf(st, "no such account %s", a.full);
		return -1;
	}
	return 0;
}

/* A stored value: only "off" turns a service off. */
static bool
setting_on(const unsigned char *v)
{
	return v == NULL || strcmp((const char *)v, "off") != 0;
}

int
store_account_get_setting(struct store *st, const char *address,
    const char *name, bool *on_r, const char **error_r)
{
	sqlite3_stmt *s = stmt_get(st, ST_SETTING_GET);
	char a[STORE_ADDR_MAX + 1];
	int rc;

	*on_r = true;
	if (!store_setting_valid(name, NULL)) {
		*error_r = store_errf(st, "unknown setting '%.64s'", name);
		return -1;
	}
	if (!lower_copy(a, sizeof(a), address)) {
		*error_r = store_errf(st, "no such account");
		return -1;
	}
	if (bind_text(s, 1, a) < 0 || bind_text(s, 2, name) < 0) {
		*error_r = store_dberr(st, "account setting");
		stmt_done(s);
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*on_r = setting_on(sqlite3_column_text(s, 0));
	else if (rc == SQLITE_DONE)
		*error_r = store_errf(st, "no such account %s", a);
	else
		*error_r = store_dberr(st, "account setting");
	stmt_done(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

int
store_account_quota(struct store *st, const char *address, uint64_t *bytes_r,
    const char **error_r)
{
	sqlite3_stmt *s = stmt_get(st, ST_SETTING_GET);
	char a[STORE_ADDR_MAX + 1];
	const char *v;
	int rc;

	*bytes_r = 0;
	if (!lower_copy(a, sizeof(a), address)) {
		*error_r = store_errf(st, "no such account");
		stmt_done(s);
		return -1;
	}
	if (bind_text(s, 1, a) < 0 ||
	    bind_text(s, 2, STORE_SETTING_QUOTA) < 0) {
		*error_r = store_dberr(st, "account quota");
		stmt_done(s);
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		v = (const char *)sqlite3_column_text(s, 0);
		if (v != NULL && quota_parse(v, bytes_r) < 0)
			*bytes_r = 0;
	} else if (rc == SQLITE_DONE) {
		*error_r = store_errf(st, "no such account %s", a);
	} else {
		*error_r = store_dberr(st, "account quota");
	}
	stmt_done(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Copy a column into out ("" for NULL). False when it does not fit. */
static bool
column_copy(sqlite3_stmt *s, int col, char *out, size_t outlen)
{
	const char *v = (const char *)sqlite3_column_text(s, col);

	if (v == NULL) {
		out[0] = '\0';
		return true;
	}
	return moat_strlcpy(out, v, outlen) < outlen;
}

int
store_auth_lookup(struct store *st, const char *address,
    const char *service, char *hash, size_t hashlen, char *scram,
    size_t scramlen, enum store_auth_result *r, const char **error_r)
{
	sqlite3_stmt *s = stmt_get(st, ST_AUTH_LOOKUP);
	char a[STORE_ADDR_MAX + 1];
	int rc, ret = 0;

	*r = STORE_AUTH_NO_USER;
	hash[0] = '\0';
	scram[0] = '\0';
	if (service != NULL && !store_setting_valid(service, NULL)) {
		*error_r = store_errf(st, "unknown service '%.64s'", service);
		return -1;
	}
	/* Received text: anything that cannot be an address is nobody. */
	if (!lower_copy(a, sizeof(a), address))
		return 0;
	if (bind_text(s, 1, a) < 0 || bind_text(s, 2, service) < 0) {
		*error_r = store_dberr(st, "auth lookup");
		stmt_done(s);
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (!column_copy(s, 0, hash, hashlen) ||
		    !column_copy(s, 1, scram, scramlen)) {
			explicit_bzero(hash, hashlen);
			explicit_bzero(scram, scramlen);
			hash[0] = scram[0] = '\0';
			*error_r = store_errf(st, "credential of %s too long",
			    a);
			ret = -1;
		} else
			*r = setting_on(sqlite3_column_text(s, 2)) ?
			    STORE_AUTH_OK : STORE_AUTH_DISABLED;
	} else if (rc != SQLITE_DONE) {
		*error_r = store_dberr(st, "auth lookup");
		ret = -1;
	}
	stmt_done(s);
	return ret;
}

/*
 * Login records (POP-before-SMTP) and sender ownership
 */

int
store_login_record(struct store *st, const char *ip, time_t when)
{
	sqlite3_stmt *s = stmt_get(st, ST_LOGIN_RECORD);

	if (bind_text(s, 1, ip) < 0 || bind_int(s, 2, (int64_t)when) < 0 ||
	    stmt_exec(s) != 0) {
		(void)store_dberr(st, "login record");
		stmt_done(s);
		return -1;
	}
	return 0;
}

int
store_login_recent(struct store *st, const char *ip, time_t since, bool *r)
{
	sqlite3_stmt *s = stmt_get(st, ST_LOGIN_RECENT);
	int rc;

	*r = false;
	if (bind_text(s, 1, ip) < 0 || bind_int(s, 2, (int64_t)since) < 0) {
		(void)store_dberr(st, "login lookup");
		stmt_done(s);
		return -1;
	}
	rc = sqlite3_step(s);
	*r = rc == SQLITE_ROW;
	stmt_done(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		(void)store_dberr(st, "login lookup");
		return -1;
	}
	return 0;
}

int
store_sender_owned(struct store *st, const char *account,
    const char *address, bool *r)
{
	sqlite3_stmt *s = stmt_get(st, ST_SENDER_OWNED);
	char acc[STORE_ADDR_MAX + 1], a[STORE_ADDR_MAX + 1];
	const char *at;
	int rc;

	*r = false;
	if (!lower_copy(acc, sizeof(acc), account) ||
	    !lower_copy(a, sizeof(a), address))
		return 0;	/* too long to be anybody's */
	if (strcmp(acc, a) == 0) {
		*r = true;
		return 0;
	}
	at = strrchr(a, '@');
	if (at == NULL)
		return 0;
	if (bind_text(s, 1, acc) < 0 || bind_text(s, 2, a) < 0 ||
	    bind_text(s, 3, at + 1) < 0) {
		(void)store_dberr(st, "sender check");
		stmt_done(s);
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*r = sqlite3_column_int(s, 0) != 0;
	stmt_done(s);
	if (rc != SQLITE_ROW) {
		(void)store_dberr(st, "sender check");
		return -1;
	}
	return 0;
}

/*
 * DKIM signing keys
 */

/* A domain or selector: dot-separated labels of letters, digits, '-' and
 * '_' (RFC 6376 3.1 sub-domain, plus '_' seen in the wild), lower-cased
 * into out. Returns 0, or -1 with *error_r. */
static int
dkim_name_parse(struct store *st, const char *what, const char *in,
    char *out, size_t outlen, const char **error_r)
{
	size_t i, label = 0;

	for (i = 0; in[i] != '\0'; i++) {
		char c = in[i];

		if (i + 1 >= outlen || i >= STORE_DOMAIN_MAX)
			goto bad;
		if (c == '.') {
			if (label == 0)
				goto bad;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > STORE_LABEL_MAX)
				goto bad;
		} else
			goto bad;
		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	if (i == 0 || label == 0)
		goto bad;
	out[i] = '\0';
	return 0;
bad:
	*error_r = store_errf(st, "invalid DKIM %s: %.100s", what, in);
	return -1;
}

int
store_dkim_key_add(struct store *st, const char *domain,
    const char *selector, const char *algorithm, const char *key_pem,
    const char **error_r)
{
	sqlite3_stmt *s = stmt_get(st, ST_DKIM_ADD);
	char d[STORE_DOMAIN_MAX + 1], sel[STORE_DOMAIN_MAX + 1];
	int rc;

	if (dkim_name_parse(st, "domain", domain, d, sizeof(d), error_r) < 0 ||
	    dkim_name_parse(st, "selector", selector, sel, sizeof(sel),
	    error_r) < 0)
		return -1;
	if (bind_text(s, 1, d) < 0 || bind_text(s, 2, sel) < 0 ||
	    bind_text(s, 3, algorithm) < 0 ||
	    bind_textn(s, 4, key_pem, STORE_DKIM_KEY_MAX) < 0 ||
	    bind_int(s, 5, time(NULL)) < 0) {
		*error_r = store_dberr(st, "dkim key add");
		stmt_done(s);
		return -1;
	}
	rc = stmt_exec(s);
	if (rc == 0)
		return 0;
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		*error_r = store_errf(st, "DKIM key %s for %s exists", sel, d);
	else
		*error_r = store_dberr(st, "dkim key add");
	stmt_done(s);
	return -1;
}

/* enable: 1 or 0; -1: delete. */
static int
dkim_key_change(struct store *st, const char *domain, const char *selector,
    int enable, const char **error_r)
{
	sqlite3_stmt *s = stmt_get(st, enable < 0 ? ST_DKIM_DEL :
	    ST_DKIM_ENABLE);
	char d[STORE_DOMAIN_MAX + 1], sel[STORE_DOMAIN_MAX + 1];

	if (dkim_name_parse(st, "domain", domain, d, sizeof(d), error_r) < 0 ||
	    dkim_name_parse(st, "selector", selector, sel, sizeof(sel),
	    error_r) < 0)
		return -1;
	if (bind_text(s, 1, d) < 0 || bind_text(s, 2, sel) < 0 ||
	    (enable >= 0 && bind_int(s, 3, enable) < 0) || stmt_exec(s) != 0) {
		*error_r = store_dberr(st, "dkim key update");
		stmt_done(s);
		return -1;
	}
	if (sqlite3_changes(st->db) == 0) {
		*error_r = store_errf(st, "no DKIM key %s for %s", sel, d);
		return -1;
	}
	return 0;
}

int
store_dkim_key_enable(struct store *st, const char *domain,
    const char *selector, bool enabled, const char **error_r)
{
	return dkim_key_change(st, domain, selector, enabled ? 1 : 0,
	    error_r);
}

int
store_dkim_key_del(struct store *st, const char *domain,
    const char *selector, const char **error_r)
{
	return dkim_key_change(st, domain, selector, -1, error_r);
}

int
store_dkim_key_list(struct store *st, const char *domain, bool enabled_only,
    store_row_cb *cb, void *ctx)
{
	sqlite3_stmt *s = stmt_get(st, ST_DKIM_LIST);
	char d[STORE_DOMAIN_MAX + 1];
	const char *error;

	if (domain != NULL && dkim_name_parse(st, "domain", domain, d,
	    sizeof(d), &error) < 0)
		return -1;
	if (bind_text(s, 1, domain != NULL ? d : NULL) < 0 ||
	    bind_int(s, 2, enabled_only ? 1 : 0) < 0) {
		(void)store_dberr(st, "dkim key list");
		stmt_done(s);
		return -1;
	}
	return stmt_rows(st, s, cb, ctx);
}

int
store_dmarc_report_add(struct store *st, const struct store_dmarc_report *r,
    const char **error_r)
{
	sqlite3_stmt *s = stmt_get(st, ST_DMARC_ADD);

	if (bind_int(s, 1, (int64_t)r->time) < 0 ||
	    bind_textn(s, 2, r->source_ip, STORE_DOMAIN_MAX) < 0 ||
	    bind_textn(s, 3, r->header_from, STORE_DOMAIN_MAX) < 0 ||
	    bind_textn(s, 4, r->envelope_from, STORE_DOMAIN_MAX) < 0 ||
	    bind_textn(s, 5, r->policy_domain, STORE_DOMAIN_MAX) < 0 ||
	    bind_text(s, 6, r->policy) < 0 ||
	    bind_text(s, 7, r->disposition) < 0 ||
	    bind_text(s, 8, r->dmarc) < 0 ||
	    bind_text(s, 9, r->dkim) < 0 ||
	    bind_textn(s, 10, r->dkim_domain, STORE_DOMAIN_MAX) < 0 ||
	    bind_int(s, 11, r->dkim_aligned ? 1 : 0) < 0 ||
	    bind_text(s, 12, r->spf) < 0 ||
	    bind_textn(s, 13, r->spf_domain, STORE_DOMAIN_MAX) < 0 ||
	    bind_int(s, 14, r->spf_aligned ? 1 : 0) < 0 ||
	    bind_int(s, 15, r->pct) < 0 || stmt_exec(s) != 0) {
		*error_r = store_dberr(st, "dmarc report add");
		stmt_done(s);
		return -1;
	}
	return 0;
}

int
store_dmarc_report_list(struct store *st, const char *policy_domain,
    time_t since, store_row_cb *cb, void *ctx)
{
	sqlite3_stmt *s = stmt_get(st, ST_DMARC_LIST);

	if (bind_text(s, 1, policy_domain) < 0 ||
	    bind_int(s, 2, (int64_t)since) < 0) {
		(void)store_dberr(st, "dmarc report list");
		stmt_done(s);
		return -1;
	}
	return stmt_rows(st, s, cb, ctx);
}

/*
 * The interface of store_int.h: the store_*.c files that hold the SQL of
 * one subject use the handle, the statement cache and the helpers above.
 */

sqlite3_stmt *
store_ext_stmt(struct store *st, unsigned slot, const char *sql)
{
	if (slot >= STORE_EXT_SLOTS)
		fatalx("store: statement slot %u out of range", slot);
	if (st->ext[slot] == NULL && sqlite3_prepare_v3(st->db, sql, -1,
	    SQLITE_PREPARE_PERSISTENT, &st->ext[slot], NULL) != SQLITE_OK) {
		(void)store_dberr(st, "prepare");
		return NULL;
	}
	return st->ext[slot];
}

sqlite3 *
store_sqlite(struct store *st)
{
	return st->db;
}

const char *
store_db_error(struct store *st, const char *what)
{
	return store_dberr(st, what);
}

const char *
store_error_text(struct store *st, const char *text)
{
	return store_errf(st, "%s", text);
}

void
store_stmt_done(sqlite3_stmt *s)
{
	stmt_done(s);
}

int
store_bind_text(sqlite3_stmt *s, int idx, const char *v)
{
	return bind_text(s, idx, v);
}

int
store_bind_textn(sqlite3_stmt *s, int idx, const char *v, size_t max)
{
	return bind_textn(s, idx, v, max);
}

int
store_bind_int(sqlite3_stmt *s, int idx, int64_t v)
{
	return bind_int(s, idx, v);
}

int
store_stmt_exec(sqlite3_stmt *s)
{
	return stmt_exec(s);
}

int
store_stmt_rows(struct store *st, sqlite3_stmt *s, store_row_cb *cb,
    void *ctx)
{
	return stmt_rows(st, s, cb, ctx);
}

int
store_tx(struct store *st, const char *verb)
{
	const char *what;

	if (db_exec(st->db, verb, &what) < 0) {
		(void)store_dberr(st, verb);
		return -1;
	}
	return 0;
}
