/* store_list: the SQL of mailing lists: lists, members, tokens, and which
 * list address a recipient is. See store_list.h; the schema is migrations
 * 7 -> 8, 8 -> 9 and 9 -> 10 in store_sql.c (the digest options and
 * posts are store_list_digest.c's). */
#include "store_list.h"
#include "store_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "store_list_digest.h"
#include "log.h"
#include "util.h"

enum {
	LS_LOOKUP = 0,
	LS_GET,
	LS_TAKEN,
	LS_ADD,
	LS_DEL,
	LS_ALL,
	LS_MEMBERS,
	LS_MEMBER_PUT,
	LS_MEMBER_DEL,
	LS_MEMBER_STATE,
	LS_BOUNCE,
	LS_TOKEN_PRUNE,
	LS_TOKEN_COUNT,
	LS_TOKEN_REPLACE,
	LS_TOKEN_ADD,
	LS_TOKEN_TAKE,
	LS_TOKEN_PEEK,
	LS_TOKENS,
	LS_SET_NAME,
	LS_SET_POST,
	LS_SET_PREFIX,
	LS_SET_REPLY_TO,
	LS_SET_MAX_SIZE,
	LS_SET_MODERATOR,
	LS_DOMAIN,
	LS_PRUNE_PENDING,
	LS_VERP_KEY,
	LS_COUNT
};

_Static_assert(LS_COUNT <= 32, "store_list.c has slots 128..159");

#define LIST_COLS "address, local, domain, name, post, prefix, reply_to," \
	" max_size, moderator"
/* What row_info reads: the columns list add writes, then the digest's. */
#define LIST_READ_COLS LIST_COLS ", digest, digest_size, digest_interval"

static const char *const ls_sql[LS_COUNT] = {
	/* The list whose local part is local, or a prefix of it followed
	 * by a role suffix; the longest list name wins ("a" and "a-b"
	 * both exist: "a-b-request" is a-b's). */
	[LS_LOOKUP] =
	    "SELECT " LIST_READ_COLS " FROM lists WHERE domain = ?2 AND"
	    " length(local) <= length(?1) AND"
	    " substr(?1, 1, length(local)) = local"
	    " ORDER BY length(local) DESC",
	[LS_GET] =
	    "SELECT " LIST_READ_COLS " FROM lists WHERE address = ?1",
	[LS_TAKEN] =
	    "SELECT EXISTS (SELECT 1 FROM accounts WHERE address = ?1)"
	    " OR EXISTS (SELECT 1 FROM aliases WHERE domain = ?3"
	    "  AND local = ?2)",
	[LS_ADD] =
	    "INSERT INTO lists (" LIST_COLS ", created)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[LS_DEL] =
	    "DELETE FROM lists WHERE address = ?1",
	[LS_ALL] =
	    "SELECT address, name, post,"
	    " (SELECT count(*) FROM list_members m WHERE m.list = l.address"
	    "  AND m.state = 'active'),"
	    " (SELECT count(*) FROM list_members m WHERE m.list = l.address)"
	    " FROM lists l ORDER BY domain, local",
	[LS_MEMBERS] =
	    "SELECT address, state, bounces, "
	    " strftime('%Y-%m-%dT%H:%M:%SZ', joined, 'unixepoch'), token,"
	    " mode FROM list_members WHERE list = ?1 ORDER BY address",
	[LS_MEMBER_PUT] =
	    "INSERT INTO list_members (list, address, state, bounces, joined,"
	    " token) VALUES (?1, ?2, ?3, 0, ?4, ?5)"
	    " ON CONFLICT (list, address) DO UPDATE SET state = ?3,"
	    " bounces = CASE WHEN ?3 = 'active' THEN 0 ELSE bounces END,"
	    " joined = CASE WHEN state = 'pending' THEN ?4 ELSE joined END",
	[LS_MEMBER_DEL] =
	    "DELETE FROM list_members WHERE list = ?1 AND address = ?2",
	[LS_MEMBER_STATE] =
	    "SELECT state, token FROM list_members"
	    " WHERE list = ?1 AND address = ?2",
	[LS_BOUNCE] =
	    "UPDATE list_members SET bounces = bounces + 1,"
	    " state = CASE WHEN bounces + 1 >= ?3 THEN 'disabled'"
	    "  ELSE state END"
	    " WHERE list = ?1 AND address = ?2 RETURNING bounces, state",
	[LS_TOKEN_PRUNE] =
	    "DELETE FROM list_tokens WHERE expires <= ?1",
	/* Held posts and subscription requests have caps of their own:
	 * a flood of one does not block the other. */
	[LS_TOKEN_COUNT] =
	    "SELECT count(*), coalesce(sum(length(data)), 0) FROM list_tokens"
	    " WHERE list = ?1 AND (action = 'approve') = (?2 = 'approve')",
	[LS_TOKEN_REPLACE] =
	    "DELETE FROM list_tokens WHERE list = ?1 AND address = ?2"
	    " AND action = ?3 AND action <> 'approve'",
	[LS_TOKEN_ADD] =
	    "INSERT INTO list_tokens (token, list, address, action, expires,"
	    " data, meta) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[LS_TOKEN_TAKE] =
	    "DELETE FROM list_tokens WHERE token = ?1 AND expires > ?2"
	    " RETURNING list, address, action, data, meta",
	[LS_TOKEN_PEEK] =
	    "SELECT list, action FROM list_tokens"
	    " WHERE token = ?1 AND expires > ?2",
	[LS_TOKENS] =
	    "SELECT token, address, action,"
	    " strftime('%Y-%m-%dT%H:%M:%SZ', expires, 'unixepoch'),"
	    " coalesce(length(data), 0)"
	    " FROM list_tokens WHERE list = ?1 AND expires > ?2"
	    " ORDER BY expires",
	[LS_SET_NAME] = "UPDATE lists SET name = ?2 WHERE address = ?1",
	[LS_SET_POST] = "UPDATE lists SET post = ?2 WHERE address = ?1",
	[LS_SET_PREFIX] = "UPDATE lists SET prefix = ?2 WHERE address = ?1",
	[LS_SET_REPLY_TO] =
	    "UPDATE lists SET reply_to = ?2 WHERE address = ?1",
	[LS_SET_MAX_SIZE] =
	    "UPDATE lists SET max_size = ?2 WHERE address = ?1",
	[LS_SET_MODERATOR] =
	    "UPDATE lists SET moderator = ?2 WHERE address = ?1",
	[LS_DOMAIN] =
	    "SELECT 1 FROM domains WHERE name = ?1",
	/* A pending member whose subscribe token is gone (expired, or
	 * never made) will never be confirmed. */
	[LS_PRUNE_PENDING] =
	    "DELETE FROM list_members WHERE state = 'pending' AND"
	    " joined <= ?1 AND NOT EXISTS (SELECT 1 FROM list_tokens t"
	    "  WHERE t.list = list_members.list AND"
	    "  t.address = list_members.address AND"
	    "  t.action = 'subscribe' AND t.expires > ?1)",
	[LS_VERP_KEY] =
	    "SELECT key FROM list_secret WHERE id = 1",
};

static sqlite3_stmt *
stmt(struct store *st, unsigned id)
{
	return store_ext_stmt(st, STORE_EXT_LIST + id, ls_sql[id]);
}

static const char *const post_names[] = { "members", "anyone",
	"moderated" };
static const char *const reply_names[] = { "list", "author", "none" };

const char *
list_post_name(enum list_post p)
{
	return (unsigned)p < 3 ? post_names[p] : "?";
}

const char *
list_reply_to_name(enum list_reply_to r)
{
	return (unsigned)r < 3 ? reply_names[r] : "?";
}

int
list_post_parse(const char *s, enum list_post *r)
{
	unsigned i;

	for (i = 0; i < 3; i++)
		if (strcmp(s, post_names[i]) == 0) {
			*r = (enum list_post)i;
			return 0;
		}
	return -1;
}

int
list_reply_to_parse(const char *s, enum list_reply_to *r)
{
	unsigned i;

	for (i = 0; i < 3; i++)
		if (strcmp(s, reply_names[i]) == 0) {
			*r = (enum list_reply_to)i;
			return 0;
		}
	return -1;
}

/* The role suffixes after the list's local part. */
static const struct {
	const char	*suffix;
	enum list_role	 role;
	bool		 plus;	/* takes "+ARG" */
} roles[] = {
	{ "-request", LIST_ROLE_REQUEST, false },
	{ "-subscribe", LIST_ROLE_SUBSCRIBE, false },
	{ "-unsubscribe", LIST_ROLE_UNSUBSCRIBE, false },
	{ "-owner", LIST_ROLE_OWNER, false },
	{ "-bounces", LIST_ROLE_BOUNCES, true },
	{ "-confirm", LIST_ROLE_CONFIRM, true },
};

/* The role of rest (what follows the list's local part), or NONE. */
static enum list_role
role_of(const char *rest, char *arg, size_t arglen)
{
	size_t i, n;

	arg[0] = '\0';
	if (rest[0] == '\0')
		return LIST_ROLE_POST;
	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		n = strlen(roles[i].suffix);
		if (!ascii_nieq(rest, roles[i].suffix, n))
			continue;
		if (rest[n] == '\0')
			return roles[i].role;
		if (rest[n] == '+' && roles[i].plus && rest[n + 1] != '\0' &&
		    strlen(rest + n + 1) < arglen) {
			moat_strlcpy(arg, rest + n + 1, arglen);
			return roles[i].role;
		}
	}
	return LIST_ROLE_NONE;
}

static void
row_info(sqlite3_stmt *s, struct list_info *li)
{
	const char *v;

	memset(li, 0, sizeof(*li));
#define COL(i, dst) do { v = (const char *)sqlite3_column_text(s, i); \
	moat_strlcpy(dst, v ? v : "", sizeof(dst)); } while (0)
	COL(0, li->address);
	COL(1, li->local);
	COL(2, li->domain);
	COL(3, li->name);
	v = (const char *)sqlite3_column_text(s, 4);
	if (v == NULL || list_post_parse(v, &li->post) < 0)
		li->post = LIST_POST_MEMBERS;
	COL(5, li->prefix);
	v = (const char *)sqlite3_column_text(s, 6);
	if (v == NULL || list_reply_to_parse(v, &li->reply_to) < 0)
		li->reply_to = LIST_REPLY_LIST;
	li->max_size = (uint64_t)sqlite3_column_int64(s, 7);
	COL(8, li->moderator);
	li->digest = sqlite3_column_int(s, 9) != 0;
	li->digest_size = (uint64_t)sqlite3_column_int64(s, 10);
	li->digest_interval = (uint64_t)sqlite3_column_int64(s, 11);
#undef COL
}

int
store_list_lookup(struct store *st, const char *local, const char *domain,
    enum list_role *role_r, struct list_info *li, char *arg, size_t arglen)
{
	sqlite3_stmt *s = stmt(st, LS_LOOKUP);
	size_t llen = strlen(local);
	int rc;

	*role_r = LIST_ROLE_NONE;
	if (s == NULL)
		return -1;
	if (store_bind_text(s, 1, local) < 0 ||
	    store_bind_text(s, 2, domain) < 0) {
		store_stmt_done(s);
		return -1;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int ll = sqlite3_column_bytes(s, 1);

		if (ll < 0 || (size_t)ll > llen)
			continue;
		*role_r = role_of(local + ll, arg, arglen);
		if (*role_r != LIST_ROLE_NONE) {
			row_info(s, li);
			break;
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		(void)store_db_error(st, "list lookup");
		store_stmt_done(s);
		return -1;
	}
	store_stmt_done(s);
	return 0;
}

int
store_list_get(struct store *st, const char *address, struct list_info *li,
    const char **error_r)
{
	sqlite3_stmt *s = stmt(st, LS_GET);
	int rc;

	if (s == NULL || store_bind_text(s, 1, address) < 0) {
		*error_r = store_db_error(st, "list get");
		if (s != NULL)
			store_stmt_done(s);
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		row_info(s, li);
	store_stmt_done(s);
	if (rc == SQLITE_ROW)
		return 0;
	*error_r = rc == SQLITE_DONE ? store_error_text(st, "no such list") :
	    store_db_error(st, "list get");
	return -1;
}

/* local@domain with a plain local part (atext and single dots) and a
 * host name: what we store. Lower-cases into out. */
static bool
addr_ok(const char *a, char out[LIST_ADDR_MAX + 1])
{
	const char *at = strrchr(a, '@');
	size_t i, llen;

	if (at == NULL || strlen(a) > LIST_ADDR_MAX)
		return false;
	llen = (size_t)(at - a);	/* UNSAFE: at points into a */
	if (llen == 0 || llen > 64 || at[1] == '\0' || strlen(at + 1) > 255 ||
	    a[0] == '.' || at[-1] == '.')
		return false;
	for (i = 0; i < llen; i++)
		if (!(((a[i] | 0x20) >= 'a' && (a[i] | 0x20) <= 'z') ||
		    (a[i] >= '0' && a[i] <= '9') ||
		    strchr(".!#$%&'*+-=?^_`{|}~", a[i]) != NULL) ||
		    a[i] == '\0' || (a[i] == '.' && a[i + 1] == '.'))
			return false;
	for (i = 1; at[i] != '\0'; i++)
		if (!(((at[i] | 0x20) >= 'a' && (at[i] | 0x20) <= 'z') ||
		    (at[i] >= '0' && at[i] <= '9') || at[i] == '-' ||
		    (at[i] == '.' && at[i + 1] != '.' && at[i + 1] != '\0' &&
		    i > 1)))
			return false;
	moat_strlcpy(out, a, LIST_ADDR_MAX + 1);
	ascii_lower(out);
	return true;
}

static int
exec_done(struct store *st, sqlite3_stmt *s, const char *what,
    const char **error_r)
{
	int rc = store_stmt_exec(s);

	if (rc == 0)
		return 0;
	*error_r = store_db_error(st, what);
	store_stmt_done(s);
	return -1;
}

/* A list's display name goes into quoted strings as it is (List-Id,
 * the notices' From:) and through list_auth's checks: printable ASCII
 * without '"', '\\', '<' or '>', at most LIST_NAME_MAX octets. */
#define NAME_RULE	"name: at most 128 printable ASCII characters, " \
	"without \", \\, < or >"

static bool
name_ok(const char *n)
{
	size_t i;

	for (i = 0; n[i] != '\0'; i++)
		if (i >= LIST_NAME_MAX || n[i] < 0x20 || n[i] > 0x7e ||
		    strchr("\"\\<>", n[i]) != NULL)
			return false;
	return true;
}

/* Is addr (lower case, addr_ok) one of any list's addresses? 1 yes, 0
 * no, -1 database error. Such an address can be neither a member nor a
 * moderator: the list would mail itself. */
static int
is_list_address(struct store *st, const char *addr)
{
	char local[65], arg[LIST_ARG_MAX];
	struct list_info li;
	enum list_role role;
	const char *at = strrchr(addr, '@');

	if (at == NULL || (size_t)(at - addr) >= sizeof(local))
		return 0;
	memcpy(local, addr, (size_t)(at - addr));	/* < sizeof(local) */
	local[at - addr] = '\0';
	if (store_list_lookup(st, local, at + 1, &role, &li, arg,
	    sizeof(arg)) < 0)
		return -1;
	return role != LIST_ROLE_NONE;
}

int
store_list_add(struct store *st, const struct list_info *li,
    const char **error_r)
{
	char addr[LIST_ADDR_MAX + 1], local[65], domain[256];
	enum list_role role;
	struct list_info other;
	char arg[LIST_ARG_MAX];
	sqlite3_stmt *s;
	const char *at;
	int rc;

	if (!addr_ok(li->address, addr)) {
		*error_r = store_error_text(st, "invalid list address");
		return -1;
	}
	if (!name_ok(li->name)) {
		*error_r = store_error_text(st, NAME_RULE);
		return -1;
	}
	at = strrchr(addr, '@');
	memcpy(local, addr, (size_t)(at - addr));	/* <= 64: addr_ok */
	local[at - addr] = '\0';
	moat_strlcpy(domain, at + 1, sizeof(domain));
	if ((s = stmt(st, LS_DOMAIN)) == NULL ||
	    store_bind_text(s, 1, domain) < 0) {
		*error_r = store_db_error(st, "list add");
		return -1;
	}
	rc = sqlite3_step(s);
	store_stmt_done(s);
	if (rc != SQLITE_ROW) {
		*error_r = rc == SQLITE_DONE ? store_error_text(st, "not one "
		    "of our domains (moatctl domain add)") :
		    store_db_error(st, "list add");
		return -1;
	}
	if ((s = stmt(st, LS_TAKEN)) == NULL ||
	    store_bind_text(s, 1, addr) < 0 ||
	    store_bind_text(s, 2, local) < 0 ||
	    store_bind_text(s, 3, domain) < 0) {
		*error_r = store_db_error(st, "list add");
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_int(s, 0) != 0) {
		store_stmt_done(s);
		*error_r = store_error_text(st, "an account or alias has that "
		    "address");
		return -1;
	}
	store_stmt_done(s);
	/* "a" and "a-request": a list's role address is not a new list. */
	if (store_list_lookup(st, local, domain, &role, &other, arg,
	    sizeof(arg)) < 0) {
		*error_r = store_db_error(st, "list add");
		return -1;
	}
	if (role != LIST_ROLE_NONE) {
		*error_r = store_error_text(st, role == LIST_ROLE_POST ?
		    "list exists" : "that is an address of another list");
		return -1;
	}
	if ((s = stmt(st, LS_ADD)) == NULL ||
	    store_bind_text(s, 1, addr) < 0 ||
	    store_bind_text(s, 2, local) < 0 ||
	    store_bind_text(s, 3, domain) < 0 ||
	    store_bind_text(s, 4, li->name[0] ? li->name : local) < 0 ||
	    store_bind_text(s, 5, list_post_name(li->post)) < 0 ||
	    store_bind_text(s, 6, li->prefix) < 0 ||
	    store_bind_text(s, 7, list_reply_to_name(li->reply_to)) < 0 ||
	    store_bind_int(s, 8, (int64_t)li->max_size) < 0 ||
	    store_bind_text(s, 9, li->moderator) < 0 ||
	    store_bind_int(s, 10, (int64_t)time(NULL)) < 0) {
		*error_r = store_db_error(st, "list add");
		if (s != NULL)
			store_stmt_done(s);
		return -1;
	}
	return exec_done(st, s, "list add", error_r);
}

int
store_list_set(struct store *st, const char *address, const char *key,
    const char *value, const char **error_r)
{
	char addr[LIST_ADDR_MAX + 1];
	struct list_info li;
	enum list_post p;
	enum list_reply_to rt;
	uint64_t size = 0;
	sqlite3_stmt *s;
	unsigned id;
	int b;

	if (store_list_get(st, address, &li, error_r) < 0)
		return -1;
	if (strcmp(key, "name") == 0) {
		if (!name_ok(value)) {
			*error_r = store_error_text(st, NAME_RULE);
			return -1;
		}
		id = LS_SET_NAME;
	} else if (strcmp(key, "post") == 0) {
		if (list_post_parse(value, &p) < 0) {
			*error_r = store_error_text(st, "post: members, "
			    "anyone or moderated");
			return -1;
		}
		id = LS_SET_POST;
	} else if (strcmp(key, "prefix") == 0) {
		if (strlen(value) > LIST_PREFIX_MAX ||
		    strpbrk(value, "\r\n") != NULL) {
			*error_r = store_error_text(st, "prefix: at most 64 "
			    "octets on one line");
			return -1;
		}
		id = LS_SET_PREFIX;
	} else if (strcmp(key, "reply_to") == 0) {
		if (list_reply_to_parse(value, &rt) < 0) {
			*error_r = store_error_text(st, "reply_to: list, "
			    "author or none");
			return -1;
		}
		id = LS_SET_REPLY_TO;
	} else if (strcmp(key, "max_size") == 0) {
		const char *perr = NULL;

		if (strcmp(value, "none") != 0 && parse_size(value, 0,
		    UINT64_C(1) << 40, &size, &perr) < 0) {
			*error_r = store_error_text(st, "max_size: bytes, "
			    "with K, M or G, or none");
			return -1;
		}
		id = LS_SET_MAX_SIZE;
	} else if (strcmp(key, "moderator") == 0) {
		if (value[0] != '\0' && strcmp(value, "none") != 0) {
			if (!addr_ok(value, addr)) {
				*error_r = store_error_text(st, "moderator: "
				    "an address");
				return -1;
			}
			if ((b = is_list_address(st, addr)) != 0) {
				*error_r = b < 0 ? store_db_error(st, "list "
				    "set") : store_error_text(st, "moderator: "
				    "a list address cannot be the moderator");
				return -1;
			}
			value = addr;
		} else {
			value = "";
		}
		id = LS_SET_MODERATOR;
	} else if ((b = store_list_digest_set(st, li.address, key, value,
	    error_r)) <= 0) {
		return b;
	} else {
		*error_r = store_error_text(st, "unknown key (name, post, "
		    "prefix, reply_to, max_size, moderator, digest, "
		    "digest_size, digest_interval)");
		return -1;
	}
	if ((s = stmt(st, id)) == NULL) {
		*error_r = store_db_error(st, "list set");
		return -1;
	}
	b = store_bind_text(s, 1, li.address);
	if (id == LS_SET_MAX_SIZE)
		b |= store_bind_int(s, 2, (int64_t)size);
	else
		b |= store_bind_text(s, 2, value);
	if (b < 0) {
		store_stmt_done(s);
		*error_r = store_db_error(st, "list set");
		return -1;
	}
	return exec_done(st, s, "list set", error_r);
}

int
store_list_del(struct store *st, const char *address, const char **error_r)
{
	sqlite3_stmt *s;

	if ((s = stmt(st, LS_DEL)) == NULL ||
	    store_bind_text(s, 1, address) < 0) {
		*error_r = store_db_error(st, "list del");
		return -1;
	}
	if (exec_done(st, s, "list del", error_r) < 0)
		return -1;
	if (sqlite3_changes(store_sqlite(st)) == 0) {
		*error_r = store_error_text(st, "no such list");
		return -1;
	}
	return 0;
}

int
store_list_all(struct store *st, store_row_cb *cb, void *ctx)
{
	sqlite3_stmt *s = stmt(st, LS_ALL);

	return s == NULL ? -1 : store_stmt_rows(st, s, cb, ctx);
}

int
store_list_members(struct store *st, const char *list, store_row_cb *cb,
    void *ctx)
{
	sqlite3_stmt *s = stmt(st, LS_MEMBERS);

	if (s == NULL)
		return -1;
	if (store_bind_text(s, 1, list) < 0) {
		store_stmt_done(s);
		return -1;
	}
	return store_stmt_rows(st, s, cb, ctx);
}

/* A random token: LIST_TOKEN_LEN hex digits. */
static int
token_make(char token[LIST_TOKEN_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t rnd[LIST_TOKEN_LEN / 2];
	size_t i;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -1;
	for (i = 0; i < sizeof(rnd); i++) {
		token[2 * i] = hex[rnd[i] >> 4];
		token[2 * i + 1] = hex[rnd[i] & 15];
	}
	token[LIST_TOKEN_LEN] = '\0';
	return 0;
}

int
store_list_member_put(struct store *st, const char *list,
    const char *address, const char *state, bool *created_r,
    const char **error_r)
{
	char addr[LIST_ADDR_MAX + 1], token[LIST_TOKEN_LEN + 1];
	struct list_info li;
	sqlite3_stmt *s;
	int rc;

	if (store_list_get(st, list, &li, error_r) < 0)
		return -1;
	if (!addr_ok(address, addr)) {
		*error_r = store_error_text(st, "invalid member address");
		return -1;
	}
	/* A list address as a member would send the list to itself. */
	if ((rc = is_list_address(st, addr)) != 0) {
		*error_r = rc < 0 ? store_db_error(st, "member add") :
		    store_error_text(st, "a list address cannot be a member");
		return -1;
	}
	if (token_make(token) < 0) {
		*error_r = store_error_text(st, "no randomness");
		return -1;
	}
	if (created_r != NULL) {
		char old[16];

		if (store_list_member_state(st, list, addr, old, NULL, 0) < 0) {
			*error_r = store_db_error(st, "member add");
			return -1;
		}
		*created_r = old[0] == '\0';
	}
	if ((s = stmt(st, LS_MEMBER_PUT)) == NULL ||
	    store_bind_text(s, 1, list) < 0 ||
	    store_bind_text(s, 2, addr) < 0 ||
	    store_bind_text(s, 3, state) < 0 ||
	    store_bind_int(s, 4, (int64_t)time(NULL)) < 0 ||
	    store_bind_text(s, 5, token) < 0) {
		if (s != NULL)
			store_stmt_done(s);
		*error_r = store_db_error(st, "member add");
		return -1;
	}
	return exec_done(st, s, "member add", error_r);
}

int
store_list_member_del(struct store *st, const char *list,
    const char *address, const char **error_r)
{
	sqlite3_stmt *s;

	if ((s = stmt(st, LS_MEMBER_DEL)) == NULL ||
	    store_bind_text(s, 1, list) < 0 ||
	    store_bind_text(s, 2, address) < 0) {
		if (s != NULL)
			store_stmt_done(s);
		*error_r = store_db_error(st, "member del");
		return -1;
	}
	if (exec_done(st, s, "member del", error_r) < 0)
		return -1;
	if (sqlite3_changes(store_sqlite(st)) == 0) {
		*error_r = store_error_text(st, "no such member");
		return -1;
	}
	return 0;
}

int
store_list_member_state(struct store *st, const char *list,
    const char *address, char state[16], char *token, size_t tokenlen)
{
	sqlite3_stmt *s = stmt(st, LS_MEMBER_STATE);
	const char *v;
	int rc;

	state[0] = '\0';
	if (token != NULL && tokenlen > 0)
		token[0] = '\0';
	if (s == NULL)
		return -1;
	if (store_bind_text(s, 1, list) < 0 ||
	    store_bind_text(s, 2, address) < 0) {
		store_stmt_done(s);
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		v = (const char *)sqlite3_column_text(s, 0);
		moat_strlcpy(state, v ? v : "", 16);
		v = (const char *)sqlite3_column_text(s, 1);
		if (token != NULL && tokenlen > 0)
			moat_strlcpy(token, v ? v : "", tokenlen);
	}
	store_stmt_done(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		(void)store_db_error(st, "member state");
		return -1;
	}
	return 0;
}

int
store_list_bounce(struct store *st, const char *list, const char *address,
    unsigned limit, unsigned *count_r, bool *disabled_r,
    const char **error_r)
{
	sqlite3_stmt *s = stmt(st, LS_BOUNCE);
	char before[16];
	const char *v;
	int rc;

	*count_r = 0;
	*disabled_r = false;
	if (s == NULL) {
		*error_r = store_db_error(st, "bounce");
		return -1;
	}
	if (store_list_member_state(st, list, address, before, NULL, 0) < 0) {
		*error_r = store_db_error(st, "bounce");
		return -1;
	}
	if (store_bind_text(s, 1, list) < 0 ||
	    store_bind_text(s, 2, address) < 0 ||
	    store_bind_int(s, 3, limit) < 0) {
		store_stmt_done(s);
		*error_r = store_db_error(st, "bounce");
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*count_r = (unsigned)sqlite3_column_int(s, 0);
		v = (const char *)sqlite3_column_text(s, 1);
		*disabled_r = v != NULL && strcmp(v, "disabled") == 0 &&
		    strcmp(before, "disabled") != 0;
	}
	store_stmt_done(s);
	if (rc == SQLITE_ROW)
		return 0;
	*error_r = rc == SQLITE_DONE ? store_error_text(st, "no such member") :
	    store_db_error(st, "bounce");
	return -1;
}

static int
step_simple(struct store *st, sqlite3_stmt *s, const char *what)
{
	if (store_stmt_exec(s) != 0) {
		(void)store_db_error(st, what);
		store_stmt_done(s);
		return -1;
	}
	return 0;
}

int
store_list_token_new(struct store *st, const char *list,
    const char *address, const char *action, unsigned ttl,
    const uint8_t *data, size_t len, const char *meta,
    char token[LIST_TOKEN_LEN + 1], const char **error_r)
{
	time_t now = time(NULL);
	sqlite3_stmt *s;
	int64_t live = 0, bytes = 0;
	bool held;

	if (token_make(token) < 0) {
		*error_r = store_error_text(st, "no randomness");
		return -1;
	}
	if (store_tx(st, "BEGIN IMMEDIATE") < 0) {
		*error_r = store_db_error(st, "token");
		return -1;
	}
	if ((s = stmt(st, LS_TOKEN_PRUNE)) == NULL ||
	    store_bind_int(s, 1, (int64_t)now) < 0 ||
	    step_simple(st, s, "token prune") < 0)
		goto fail;
	if ((s = stmt(st, LS_TOKEN_REPLACE)) == NULL ||
	    store_bind_text(s, 1, list) < 0 ||
	    store_bind_text(s, 2, address) < 0 ||
	    store_bind_text(s, 3, action) < 0 ||
	    step_simple(st, s, "token replace") < 0)
		goto fail;
	if ((s = stmt(st, LS_TOKEN_COUNT)) == NULL ||
	    store_bind_text(s, 1, list) < 0 ||
	    store_bind_text(s, 2, action) < 0)
		goto fail;
	if (sqlite3_step(s) == SQLITE_ROW) {
		live = sqlite3_column_int64(s, 0);
		bytes = sqlite3_column_int64(s, 1);
	}
	store_stmt_done(s);
	held = strcmp(action, "approve") == 0;
	if (live >= (held ? LIST_HELD_COUNT_MAX : LIST_PENDING_MAX) ||
	    (held && (uint64_t)bytes + len > LIST_HELD_TOTAL_MAX)) {
		(void)store_tx(st, "ROLLBACK");
		*error_r = store_error_text(st, held ? "too many held posts "
		    "for this list" : "too many pending confirmations for "
		    "this list");
		return -1;
	}
	if ((s = stmt(st, LS_TOKEN_ADD)) == NULL ||
	    store_bind_text(s, 1, token) < 0 ||
	    store_bind_text(s, 2, list) < 0 ||
	    store_bind_text(s, 3, address) < 0 ||
	    store_bind_text(s, 4, action) < 0 ||
	    store_bind_int(s, 5, (int64_t)now + ttl) < 0 ||
	    (data != NULL ? sqlite3_bind_blob64(s, 6, data, len,
	    SQLITE_TRANSIENT) : sqlite3_bind_null(s, 6)) != SQLITE_OK ||
	    store_bind_text(s, 7, meta != NULL ? meta : "") < 0 ||
	    step_simple(st, s, "token add") < 0)
		goto fail;
	if (store_tx(st, "COMMIT") < 0)
		goto fail;
	return 0;
fail:
	*error_r = store_db_error(st, "token");
	if (s != NULL)
		store_stmt_done(s);
	(void)store_tx(st, "ROLLBACK");
	return -1;
}

/* Statement which bound to a token that has not expired, or NULL. */
static sqlite3_stmt *
token_stmt(struct store *st, unsigned which, const char *token)
{
	sqlite3_stmt *s = stmt(st, which);

	if (s == NULL)
		return NULL;
	if (store_bind_text(s, 1, token) < 0 ||
	    store_bind_int(s, 2, (int64_t)time(NULL)) < 0) {
		store_stmt_done(s);
		return NULL;
	}
	return s;
}

int
store_list_token_take(struct store *st, const char *token,
    char list[LIST_ADDR_MAX + 1], char address[LIST_ADDR_MAX + 1],
    char action[16], struct buf *data, char meta[LIST_META_MAX + 1])
{
	sqlite3_stmt *s = token_stmt(st, LS_TOKEN_TAKE, token);
	const char *v;
	int rc, r = 0;

	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		v = (const char *)sqlite3_column_text(s, 0);
		moat_strlcpy(list, v ? v : "", LIST_ADDR_MAX + 1);
		v = (const char *)sqlite3_column_text(s, 1);
		moat_strlcpy(address, v ? v : "", LIST_ADDR_MAX + 1);
		v = (const char *)sqlite3_column_text(s, 2);
		moat_strlcpy(action, v ? v : "", 16);
		if (meta != NULL) {
			v = (const char *)sqlite3_column_text(s, 4);
			moat_strlcpy(meta, v ? v : "", LIST_META_MAX + 1);
		}
		if (data != NULL) {
			const void *d = sqlite3_column_blob(s, 3);
			int n = sqlite3_column_bytes(s, 3);

			if (d != NULL && n > 0 &&
			    buf_append(data, d, (size_t)n) < 0)
				r = -1;
		}
		/* RETURNING: the delete is done when the statement ends. */
		rc = sqlite3_step(s);
		if (rc == SQLITE_DONE && r == 0)
			r = 1;
	} else if (rc == SQLITE_DONE) {
		r = 0;
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_OK) {
		(void)store_db_error(st, "token take");
		r = -1;
	}
	store_stmt_done(s);
	return r;
}

int
store_list_token_peek(struct store *st, const char *token,
    char list[LIST_ADDR_MAX + 1], char action[16])
{
	sqlite3_stmt *s = token_stmt(st, LS_TOKEN_PEEK, token);
	const char *v;
	int rc, r = 0;

	if (s == NULL)
		return -1;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		v = (const char *)sqlite3_column_text(s, 0);
		moat_strlcpy(list, v ? v : "", LIST_ADDR_MAX + 1);
		v = (const char *)sqlite3_column_text(s, 1);
		moat_strlcpy(action, v ? v : "", 16);
		r = 1;
	} else if (rc != SQLITE_DONE) {
		(void)store_db_error(st, "token peek");
		r = -1;
	}
	store_stmt_done(s);
	return r;
}

int
store_list_tokens(struct store *st, const char *list, store_row_cb *cb,
    void *ctx)
{
	sqlite3_stmt *s = stmt(st, LS_TOKENS);

	if (s == NULL)
		return -1;
	if (store_bind_text(s, 1, list) < 0 ||
	    store_bind_int(s, 2, (int64_t)time(NULL)) < 0) {
		store_stmt_done(s);
		return -1;
	}
	return store_stmt_rows(st, s, cb, ctx);
}

int
store_list_rcpt_policy(struct store *st, const char *local,
    const char *domain, const char *sender, uint64_t size, int *code_r,
    char *text, size_t textlen)
{
	struct list_info li;
	enum list_role role;
	char arg[LIST_ARG_MAX];

	*code_r = 0;
	if (store_list_lookup(st, local, domain, &role, &li, arg,
	    sizeof(arg)) < 0)
		return -1;
	if (role != LIST_ROLE_POST)
		return 0;
	if (li.max_size > 0 && size > li.max_size) {
		*code_r = 552;
		snprintf(text, textlen, "5.3.4 <%s>: Message too big for the "
		    "list (at most %llu octets)", li.address,
		    (unsigned long long)li.max_size);
		return 1;
	}
	if (li.post != LIST_POST_MEMBERS)
		return 0;
	/* A sender that is not a member may still post as the From: author
	 * (list_data_policy decides at the end of DATA); a bounce (null
	 * sender) never posts. */
	if (sender[0] != '\0')
		return 0;
	*code_r = 550;
	snprintf(text, textlen, "5.7.1 <%s>: Only members may post to this "
	    "list", li.address);
	return 1;
}

int
store_list_prune(struct store *st, time_t now, unsigned *tokens_r,
    unsigned *pending_r)
{
	sqlite3_stmt *s;

	*tokens_r = *pending_r = 0;
	if (store_tx(st, "BEGIN IMMEDIATE") < 0) {
		(void)store_db_error(st, "list prune");
		return -1;
	}
	if ((s = stmt(st, LS_TOKEN_PRUNE)) == NULL ||
	    store_bind_int(s, 1, (int64_t)now) < 0 ||
	    step_simple(st, s, "list prune") < 0)
		goto fail;
	*tokens_r = (unsigned)sqlite3_changes(store_sqlite(st));
	if ((s = stmt(st, LS_PRUNE_PENDING)) == NULL ||
	    store_bind_int(s, 1, (int64_t)now) < 0 ||
	    step_simple(st, s, "list prune") < 0)
		goto fail;
	*pending_r = (unsigned)sqlite3_changes(store_sqlite(st));
	if (store_tx(st, "COMMIT") < 0)
		goto fail;
	return 0;
fail:
	if (s != NULL)
		store_stmt_done(s);
	(void)store_tx(st, "ROLLBACK");
	*tokens_r = *pending_r = 0;
	return -1;
}

int
store_list_tx(struct store *st, const char *verb)
{
	return store_tx(st, verb);
}

int
store_list_verp_key(struct store *st, uint8_t key[LIST_VERP_KEY_LEN])
{
	sqlite3_stmt *s;
	int rc, r = -1, tries;

	for (tries = 0; tries < 2 && r < 0; tries++) {
		if ((s = stmt(st, LS_VERP_KEY)) == NULL)
			return -1;
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) ==
		    LIST_VERP_KEY_LEN && sqlite3_column_blob(s, 0) != NULL) {
			memcpy(key, sqlite3_column_blob(s, 0),
			    LIST_VERP_KEY_LEN);
			r = 0;
		} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			(void)store_db_error(st, "verp key");
			store_stmt_done(s);
			return -1;
		}
		store_stmt_done(s);
		if (r == 0 || tries > 0)
			break;
		/* The key is gone (or unusable): lists must not stop for
		 * it. A new one means bounces to addresses tagged with the
		 * old key no longer count, which the log says. */
		log_warnx("event=list-verp-key-new note=\"the VERP key was "
		    "missing; bounces of earlier posts will not count\"");
		if (store_tx(st, "DELETE FROM list_secret; INSERT INTO "
		    "list_secret (id, key) VALUES (1, randomblob(32))") < 0)
			return -1;
	}
	return r;
}

int
store_list_address_used(struct store *st, const char *address)
{
	char addr[LIST_ADDR_MAX + 1];

	/* What addr_ok refuses is no list's address either. */
	if (!addr_ok(address, addr))
		return 0;
	return is_list_address(st, addr);
}

/* ---- one-click unsubscribe (src/web/web_session.c) ------------------- */

/* The two last slots of this file's range, kept out of the enum above
 * so that it can grow without touching this part. */
#define LS_WEB_FIND	(STORE_EXT_LIST + 30)
#define LS_WEB_REMOVE	(STORE_EXT_LIST + 31)
_Static_assert(LS_COUNT <= 30, "store_list.c: slots 158, 159 are taken");

int
store_list_member_by_token(struct store *st, const char *list,
    const char *token, bool remove, char address[LIST_ADDR_MAX + 1],
    const char **error_r)
{
	static const char find_sql[] =
	    "SELECT address FROM list_members WHERE list = ?1 AND token = ?2";
	static const char remove_sql[] =
	    "DELETE FROM list_members WHERE list = ?1 AND token = ?2"
	    " RETURNING address";
	sqlite3_stmt *s;
	const char *v;
	int rc;

	address[0] = '\0';
	s = remove ? store_ext_stmt(st, LS_WEB_REMOVE, remove_sql) :
	    store_ext_stmt(st, LS_WEB_FIND, find_sql);
	if (s == NULL || store_bind_text(s, 1, list) < 0 ||
	    store_bind_text(s, 2, token) < 0) {
		if (s != NULL)
			store_stmt_done(s);
		*error_r = store_db_error(st, "member by token");
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		v = (const char *)sqlite3_column_text(s, 0);
		moat_strlcpy(address, v ? v : "", LIST_ADDR_MAX + 1);
		/* RETURNING: the delete is done only once stepped to the
		 * end. */
		while (rc == SQLITE_ROW)
			rc = sqlite3_step(s);
		rc = rc == SQLITE_DONE ? SQLITE_ROW : rc;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		*error_r = store_db_error(st, "member by token");
		store_stmt_done(s);
		return -1;
	}
	store_stmt_done(s);
	return rc == SQLITE_ROW ? 1 : 0;
}
