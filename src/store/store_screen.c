/* store_screen: the SQL of the screen_rules table (add, delete, list,
 * import, load) and the syntax of rules: action, kind and service
 * names and the pattern language of each kind, checked here so that
 * nothing the matcher cannot use ever reaches the table. */
#include "store_screen.h"
#include "store_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cidr.h"
#include "log.h"
#include "util.h"

#define SCREEN_DOMAIN_MAX	255	/* RFC 5321 4.5.3.1.2 */
#define SCREEN_LINE_MAX		2048	/* import: bytes per line */
#define SCREEN_ERR_MAX		512

enum {
	SQ_INSERT = 0,
	SQ_DOMAIN_EXISTS,
	SQ_DEL_ID,
	SQ_DEL,
	SQ_LIST,
	SQ_LOAD,
	SQ_COUNT
};

static const char *const sq_sql[SQ_COUNT] = {
	[SQ_INSERT] =
	    "INSERT INTO screen_rules (action, kind, pattern, services,"
	    " domain, mode, comment, created)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[SQ_DOMAIN_EXISTS] =
	    "SELECT 1 FROM domains WHERE name = ?1",
	[SQ_DEL_ID] =
	    "DELETE FROM screen_rules WHERE id = ?1",
	[SQ_DEL] =
	    "DELETE FROM screen_rules WHERE action = ?1 AND kind = ?2"
	    " AND pattern = ?3 AND domain = ?4",
	/* ?1 action or NULL, ?2 kind or NULL */
	[SQ_LIST] =
	    "SELECT id, action, kind, pattern, services, domain, mode,"
	    " comment FROM screen_rules WHERE (?1 IS NULL OR action = ?1)"
	    " AND (?2 IS NULL OR kind = ?2) ORDER BY id",
	[SQ_LOAD] =
	    "SELECT id, action, kind, pattern, services, domain, mode"
	    " FROM screen_rules ORDER BY id",
};

static const char *const action_names[] = {
	[SCREEN_NONE] = "none",
	[SCREEN_ALLOW] = "allow",
	[SCREEN_DENY] = "deny",
};

static const char *const kind_names[SCREEN_KIND_COUNT] = {
	[SCREEN_KIND_IP] = "ip",
	[SCREEN_KIND_HOST] = "host",
	[SCREEN_KIND_HELO] = "helo",
	[SCREEN_KIND_SENDER] = "sender",
	[SCREEN_KIND_RCPT] = "rcpt",
};

/* In bit order of enum screen_service. */
static const char *const service_names[] = {
	"smtp", "submission", "imap", "pop3", "web",
};
#define SERVICE_COUNT (sizeof(service_names) / sizeof(service_names[0]))

static sqlite3_stmt *
sq(struct store *st, unsigned id)
{
	return store_ext_stmt(st, STORE_EXT_SCREEN + id, sq_sql[id]);
}

/*
 * Vocabulary
 */

const char *
screen_action_name(enum screen_action a)
{
	if ((unsigned)a >= sizeof(action_names) / sizeof(action_names[0]))
		return "none";
	return action_names[a];
}

int
screen_action_parse(const char *s, enum screen_action *a_r)
{
	if (ascii_ieq(s, "allow"))
		*a_r = SCREEN_ALLOW;
	else if (ascii_ieq(s, "deny"))
		*a_r = SCREEN_DENY;
	else
		return -1;
	return 0;
}

const char *
screen_kind_name(enum screen_kind k)
{
	if ((unsigned)k >= SCREEN_KIND_COUNT)
		return "?";
	return kind_names[k];
}

int
screen_kind_parse(const char *s, enum screen_kind *k_r)
{
	unsigned i;

	for (i = 0; i < SCREEN_KIND_COUNT; i++)
		if (ascii_ieq(s, kind_names[i])) {
			*k_r = (enum screen_kind)i;
			return 0;
		}
	return -1;
}

int
screen_service_parse(const char *s, enum screen_service *svc_r)
{
	unsigned i;

	for (i = 0; i < SERVICE_COUNT; i++)
		if (ascii_ieq(s, service_names[i])) {
			*svc_r = (enum screen_service)(1u << i);
			return 0;
		}
	return -1;
}

const char *
screen_service_name(enum screen_service svc)
{
	unsigned i;

	for (i = 0; i < SERVICE_COUNT; i++)
		if ((unsigned)svc == 1u << i)
			return service_names[i];
	return "?";
}

int
screen_services_parse(const char *s, unsigned *mask_r)
{
	char name[SCREEN_SERVICES_MAX];
	enum screen_service svc;
	unsigned mask = 0;
	size_t len;

	if (strcmp(s, "*") == 0) {
		*mask_r = SCREEN_SVC_ALL;
		return 0;
	}
	while (*s != '\0') {
		len = strcspn(s, ",");
		if (len == 0 || len >= sizeof(name))
			return -1;
		memcpy(name, s, len);
		name[len] = '\0';
		if (screen_service_parse(name, &svc) < 0)
			return -1;
		mask |= (unsigned)svc;
		s += len;
		if (*s == ',' && *++s == '\0')
			return -1;	/* trailing comma */
	}
	if (mask == 0)
		return -1;
	*mask_r = mask;
	return 0;
}

void
screen_services_format(unsigned mask, char *buf, size_t len)
{
	unsigned i;

	if (len == 0)
		return;
	buf[0] = '\0';
	if ((mask & SCREEN_SVC_ALL) == SCREEN_SVC_ALL) {
		(void)moat_strlcpy(buf, "*", len);
		return;
	}
	/* Truncation would need a buffer below SCREEN_SERVICES_MAX. */
	for (i = 0; i < SERVICE_COUNT; i++) {
		if ((mask & (1u << i)) == 0)
			continue;
		if (buf[0] != '\0')
			(void)moat_strlcat(buf, ",", len);
		(void)moat_strlcat(buf, service_names[i], len);
	}
}

/*
 * Pattern syntax
 */

static bool
is_host_char(char c, bool literal)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	if (c == '-' || c == '.' || c == '_' || c == '*' || c == '?')
		return true;
	/* HELO may be an address literal: "[192.0.2.1]", "[IPv6:...]" */
	return literal && (c == '[' || c == ']' || c == ':');
}

/* A hostname glob, already lower case. */
static int
check_host(const char *s, size_t len, bool literal, const char **error_r)
{
	size_t i;

	if (len == 0) {
		*error_r = "empty name";
		return -1;
	}
	if (len > SCREEN_DOMAIN_MAX) {
		*error_r = "name too long";
		return -1;
	}
	for (i = 0; i < len; i++)
		if (!is_host_char(s[i], literal)) {
			*error_r = "not a hostname pattern";
			return -1;
		}
	return 0;
}

/* An address glob, already lower case: [LOCAL]@DOMAIN or DOMAIN. The
 * local part may hold any atext-like character; quoting, spaces and
 * angle brackets have no place in a pattern. */
static int
check_address(const char *s, const char **error_r)
{
	const char *at, *p;

	at = strchr(s, '@');
	if (at != NULL && strchr(at + 1, '@') != NULL) {
		*error_r = "more than one '@'";
		return -1;
	}
	for (p = s; at != NULL && p < at; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("<>\"(),;:\\[]", *p)) {
			*error_r = "not an address pattern";
			return -1;
		}
	if (at != NULL && at - s > 64) {
		*error_r = "local part too long";
		return -1;
	}
	p = at != NULL ? at + 1 : s;
	if (check_host(p, strlen(p), false, error_r) < 0) {
		if (*p == '\0')
			*error_r = "no domain";
		return -1;
	}
	return 0;
}

static int
canon_ip(const char *pattern, char *out, size_t outlen,
    const char **error_r)
{
	char text[INET6_ADDRSTRLEN];
	struct cidr c;
	unsigned bits;
	int n;

	if (cidr_parse(pattern, &c) < 0) {
		*error_r = "expected ADDR or ADDR/PREFIX";
		return -1;
	}
	if (inet_ntop(c.family, c.addr, text, sizeof(text)) == NULL) {
		*error_r = "expected ADDR or ADDR/PREFIX";
		return -1;
	}
	bits = c.family == AF_INET ? 32 : 128;
	if (c.prefix == bits)
		n = snprintf(out, outlen, "%s", text);
	else
		n = snprintf(out, outlen, "%s/%u", text, c.prefix);
	if (n < 0 || (size_t)n >= outlen) {
		*error_r = "pattern too long";
		return -1;
	}
	return 0;
}

int
screen_pattern_canon(enum screen_kind kind, const char *pattern,
    char *out, size_t outlen, const char **error_r)
{
	size_t len = strlen(pattern);

	if (len == 0) {
		*error_r = "empty pattern";
		return -1;
	}
	if (len > SCREEN_PATTERN_MAX || len >= outlen) {
		*error_r = "pattern too long";
		return -1;
	}
	if (kind == SCREEN_KIND_IP)
		return canon_ip(pattern, out, outlen, error_r);
	memcpy(out, pattern, len + 1);
	ascii_lower(out);
	switch (kind) {
	case SCREEN_KIND_HOST:
		return check_host(out, len, false, error_r);
	case SCREEN_KIND_HELO:
		return check_host(out, len, true, error_r);
	case SCREEN_KIND_SENDER:
	case SCREEN_KIND_RCPT:
		return check_address(out, error_r);
	default:
		*error_r = "unknown kind";
		return -1;
	}
}

/*
 * Table
 */

static int
domain_check(struct store *st, const char *domain, const char **error_r)
{
	sqlite3_stmt *s;
	int rc;

	if (strlen(domain) > SCREEN_DOMAIN_MAX) {
		*error_r = "no such domain";
		return -1;
	}
	if ((s = sq(st, SQ_DOMAIN_EXISTS)) == NULL) {
		*error_r = store_db_error(st, "prepare");
		return -1;
	}
	if (store_bind_text(s, 1, domain) < 0) {
		*error_r = store_db_error(st, "bind");
		store_stmt_done(s);
		return -1;
	}
	rc = sqlite3_step(s);
	store_stmt_done(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE) {
		*error_r = "no such domain";
		return -1;
	}
	*error_r = store_db_error(st, "domain lookup");
	return -1;
}

/* Validate and insert one rule. *dup_r says the rule was refused only
 * because it is already stored. */
static int
screen_insert(struct store *st, const struct screen_row *row, int64_t *id_r,
    bool *dup_r, const char **error_r)
{
	char pattern[SCREEN_PATTERN_MAX + 1];
	char domain[SCREEN_DOMAIN_MAX + 1];
	char services[SCREEN_SERVICES_MAX];
	sqlite3_stmt *s;
	int rc;

	*dup_r = false;
	if (row->action != SCREEN_ALLOW && row->action != SCREEN_DENY) {
		*error_r = "action must be allow or deny";
		return -1;
	}
	if ((unsigned)row->kind >= SCREEN_KIND_COUNT) {
		*error_r = "unknown kind";
		return -1;
	}
	if (screen_pattern_canon(row->kind, row->pattern, pattern,
	    sizeof(pattern), error_r) < 0)
		return -1;
	if ((row->services & SCREEN_SVC_ALL) == 0 ||
	    (row->services & ~SCREEN_SVC_ALL) != 0) {
		*error_r = "unknown service";
		return -1;
	}
	screen_services_format(row->services, services, sizeof(services));
	domain[0] = '\0';
	if (row->domain != NULL && row->domain[0] != '\0') {
		if (moat_strlcpy(domain, row->domain, sizeof(domain)) >=
		    sizeof(domain)) {
			*error_r = "no such domain";
			return -1;
		}
		ascii_lower(domain);
		if (domain_check(st, domain, error_r) < 0)
			return -1;
	}
	if (row->comment != NULL &&
	    strlen(row->comment) > SCREEN_COMMENT_MAX) {
		*error_r = "comment too long";
		return -1;
	}

	if ((s = sq(st, SQ_INSERT)) == NULL) {
		*error_r = store_db_error(st, "prepare");
		return -1;
	}
	if (store_bind_text(s, 1, screen_action_name(row->action)) < 0 ||
	    store_bind_text(s, 2, screen_kind_name(row->kind)) < 0 ||
	    store_bind_text(s, 3, pattern) < 0 ||
	    store_bind_text(s, 4, services) < 0 ||
	    store_bind_text(s, 5, domain) < 0 ||
	    store_bind_text(s, 6, row->shadow ? "shadow" : "enforce") < 0 ||
	    store_bind_text(s, 7, row->comment) < 0 ||
	    store_bind_int(s, 8, (int64_t)time(NULL)) < 0) {
		*error_r = store_db_error(st, "bind");
		store_stmt_done(s);
		return -1;
	}
	if ((rc = store_stmt_exec(s)) != 0) {
		if ((rc & 0xff) == SQLITE_CONSTRAINT) {
			*dup_r = true;
			*error_r = "rule exists";
		} else
			*error_r = store_db_error(st, "add rule");
		store_stmt_done(s);
		return -1;
	}
	if (id_r != NULL)
		*id_r = sqlite3_last_insert_rowid(store_sqlite(st));
	return 0;
}

int
store_screen_add(struct store *st, const struct screen_row *row,
    int64_t *id_r, const char **error_r)
{
	bool dup;

	return screen_insert(st, row, id_r, &dup, error_r);
}

int
store_screen_del_id(struct store *st, int64_t id, const char **error_r)
{
	sqlite3_stmt *s;

	if ((s = sq(st, SQ_DEL_ID)) == NULL) {
		*error_r = store_db_error(st, "prepare");
		return -1;
	}
	if (store_bind_int(s, 1, id) < 0) {
		*error_r = store_db_error(st, "bind");
		store_stmt_done(s);
		return -1;
	}
	if (store_stmt_exec(s) != 0) {
		*error_r = store_db_error(st, "delete rule");
		store_stmt_done(s);
		return -1;
	}
	if (sqlite3_changes(store_sqlite(st)) == 0) {
		*error_r = "no such rule";
		return -1;
	}
	return 0;
}

int
store_screen_del(struct store *st, enum screen_action action,
    enum screen_kind kind, const char *pattern, const char *domain,
    unsigned *n_r, const char **error_r)
{
	char canon[SCREEN_PATTERN_MAX + 1];
	char dom[SCREEN_DOMAIN_MAX + 1];
	sqlite3_stmt *s;
	int n;

	if (action != SCREEN_ALLOW && action != SCREEN_DENY) {
		*error_r = "action must be allow or deny";
		return -1;
	}
	if (screen_pattern_canon(kind, pattern, canon, sizeof(canon),
	    error_r) < 0)
		return -1;
	if (domain == NULL)
		domain = "";
	if (moat_strlcpy(dom, domain, sizeof(dom)) >= sizeof(dom)) {
		*error_r = "no such rule";
		return -1;
	}
	ascii_lower(dom);
	if ((s = sq(st, SQ_DEL)) == NULL) {
		*error_r = store_db_error(st, "prepare");
		return -1;
	}
	if (store_bind_text(s, 1, screen_action_name(action)) < 0 ||
	    store_bind_text(s, 2, screen_kind_name(kind)) < 0 ||
	    store_bind_text(s, 3, canon) < 0 ||
	    store_bind_text(s, 4, dom) < 0) {
		*error_r = store_db_error(st, "bind");
		store_stmt_done(s);
		return -1;
	}
	if (store_stmt_exec(s) != 0) {
		*error_r = store_db_error(st, "delete rule");
		store_stmt_done(s);
		return -1;
	}
	n = sqlite3_changes(store_sqlite(st));
	if (n_r != NULL)
		*n_r = (unsigned)n;
	if (n == 0) {
		*error_r = "no such rule";
		return -1;
	}
	return 0;
}

int
store_screen_list(struct store *st, const char *action, const char *kind,
    store_row_cb *cb, void *ctx)
{
	sqlite3_stmt *s;

	if ((s = sq(st, SQ_LIST)) == NULL)
		return -1;
	if (store_bind_text(s, 1, action) < 0 ||
	    store_bind_text(s, 2, kind) < 0) {
		(void)store_db_error(st, "bind");
		store_stmt_done(s);
		return -1;
	}
	return store_stmt_rows(st, s, cb, ctx);
}

/*
 * Import
 */

static const char *
skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* The next blank-separated word of *pp into buf. 0, or -1 when it does
 * not fit. */
static int
next_word(const char **pp, char *buf, size_t len)
{
	const char *p = skip_space(*pp);
	size_t n = strcspn(p, " \t");

	if (n >= len)
		return -1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	*pp = p + n;
	return 0;
}

/* One rule line (no line break) into row; the strings point into the
 * buffers given. 0, or -1 with *error_r. */
static int
parse_line(const char *line, struct screen_row *row, char *pattern,
    char *domain, char *comment, const char **error_r)
{
	char word[SCREEN_PATTERN_MAX + 16];
	const char *p = line, *v;

	memset(row, 0, sizeof(*row));
	row->services = SCREEN_SVC_ALL;
	row->domain = "";
	if (next_word(&p, word, sizeof(word)) < 0 ||
	    screen_action_parse(word, &row->action) < 0) {
		*error_r = "expected allow or deny";
		return -1;
	}
	if (next_word(&p, word, sizeof(word)) < 0 ||
	    screen_kind_parse(word, &row->kind) < 0) {
		*error_r = "expected a kind: ip, host, helo, sender or rcpt";
		return -1;
	}
	if (next_word(&p, pattern, SCREEN_PATTERN_MAX + 1) < 0) {
		*error_r = "pattern too long";
		return -1;
	}
	if (pattern[0] == '\0' || pattern[0] == '#') {
		*error_r = "missing pattern";
		return -1;
	}
	row->pattern = pattern;
	for (;;) {
		p = skip_space(p);
		if (*p == '\0')
			break;
		if (*p == '#') {
			p = skip_space(p + 1);
			if (strlen(p) > SCREEN_COMMENT_MAX) {
				*error_r = "comment too long";
				return -1;
			}
			memcpy(comment, p, strlen(p) + 1);
			row->comment = comment;
			break;
		}
		if (next_word(&p, word, sizeof(word)) < 0) {
			*error_r = "option too long";
			return -1;
		}
		if (strncmp(word, "services=", 9) == 0) {
			if (screen_services_parse(word + 9, &row->services) <
			    0) {
				*error_r = "unknown service";
				return -1;
			}
		} else if (strncmp(word, "domain=", 7) == 0) {
			v = word + 7;
			if (moat_strlcpy(domain, v, SCREEN_DOMAIN_MAX + 1) >
			    SCREEN_DOMAIN_MAX) {
				*error_r = "no such domain";
				return -1;
			}
			row->domain = domain;
		} else if (strcmp(word, "mode=shadow") == 0)
			row->shadow = true;
		else if (strcmp(word, "mode=enforce") == 0)
			row->shadow = false;
		else {
			*error_r = "unknown option (services=, domain=, "
			    "mode=)";
			return -1;
		}
	}
	return 0;
}

static const char *
line_error(struct store *st, unsigned lineno, const char *error)
{
	char buf[SCREEN_ERR_MAX];

	/* Truncation only shortens the message. */
	(void)snprintf(buf, sizeof(buf), "line %u: %s", lineno, error);
	return store_error_text(st, buf);
}

int
store_screen_import(struct store *st, FILE *fp, unsigned *added_r,
    unsigned *skipped_r, const char **error_r)
{
	char line[SCREEN_LINE_MAX];
	char pattern[SCREEN_PATTERN_MAX + 1];
	char domain[SCREEN_DOMAIN_MAX + 1];
	char comment[SCREEN_COMMENT_MAX + 1];
	struct screen_row row;
	unsigned lineno = 0, added = 0, skipped = 0;
	const char *error, *p;
	size_t len;
	bool dup;

	if (store_tx(st, "BEGIN IMMEDIATE") < 0) {
		*error_r = store_db_error(st, "begin");
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(fp)) {
			error = "line too long";
			goto fail;
		}
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		p = skip_space(line);
		if (*p == '\0' || *p == '#')
			continue;
		if (parse_line(p, &row, pattern, domain, comment, &error) < 0)
			goto fail;
		if (screen_insert(st, &row, NULL, &dup, &error) < 0) {
			if (!dup)
				goto fail;
			skipped++;
			continue;
		}
		added++;
	}
	if (ferror(fp)) {
		error = "read error";
		goto fail;
	}
	if (store_tx(st, "COMMIT") < 0) {
		*error_r = store_db_error(st, "commit");
		(void)store_tx(st, "ROLLBACK");
		return -1;
	}
	*added_r = added;
	*skipped_r = skipped;
	return 0;

fail:
	*error_r = line_error(st, lineno, error);
	/* A failed rollback leaves nothing committed either: SQLite rolls
	 * the transaction back when the connection closes. */
	(void)store_tx(st, "ROLLBACK");
	return -1;
}

/*
 * Loading (the compiled matcher)
 */

static const char *
col_text(sqlite3_stmt *s, int i)
{
	const char *v = (const char *)sqlite3_column_text(s, i);

	return v != NULL ? v : "";
}

int
store_screen_load(struct store *st, store_screen_cb *cb, void *ctx,
    const char **error_r)
{
	struct screen_row row;
	sqlite3_stmt *s;
	const char *mode;
	int rc;

	if ((s = sq(st, SQ_LOAD)) == NULL) {
		*error_r = store_db_error(st, "prepare");
		return -1;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&row, 0, sizeof(row));
		row.id = sqlite3_column_int64(s, 0);
		row.pattern = col_text(s, 3);
		row.domain = col_text(s, 5);
		mode = col_text(s, 6);
		if (screen_action_parse(col_text(s, 1), &row.action) < 0 ||
		    screen_kind_parse(col_text(s, 2), &row.kind) < 0 ||
		    screen_services_parse(col_text(s, 4), &row.services) < 0 ||
		    (strcmp(mode, "enforce") != 0 &&
		    strcmp(mode, "shadow") != 0)) {
			log_warnx("store: screen rule #%lld does not parse, "
			    "skipped", (long long)row.id);
			continue;
		}
		row.shadow = strcmp(mode, "shadow") == 0;
		if (cb(ctx, &row) < 0) {
			store_stmt_done(s);
			*error_r = store_error_text(st, "screen rules: load "
			    "stopped");
			return -1;
		}
	}
	if (rc != SQLITE_DONE) {
		*error_r = store_db_error(st, "load screen rules");
		store_stmt_done(s);
		return -1;
	}
	store_stmt_done(s);
	return 0;
}
