/* test_store: the SQLite store (schema, domains, accounts, aliases,
 * recipient check, alias expansion, rejected log, login lookup, account
 * settings, the v1 -> v2 migration) against a temporary data_dir, and
 * yescrypt password hashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "passwd.h"
#include "store.h"

#define SCRAM_MAX_TEST 256
#define HASH "$y$j9T$salt$hashhashhashhashhashhashhashhashhashhashhas"
#define SCRAM "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" \
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:" \
	"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA="

struct fixture {
	char		 dir[64];
	struct store	*st;
};

/* Rows collected from a list callback, joined as "a\tb\n" lines. */
struct rows {
	char	text[8192];
	int	n;
};

/* Targets from store_resolve, as "A:l@d " / "R:l@d " words. */
struct targets {
	char	text[8192];
	int	n;
};

static void
rows_cb(void *ctx, const char *const *cols, int ncols)
{
	struct rows *r = ctx;
	size_t len;
	int i;

	for (i = 0; i < ncols; i++) {
		len = strlen(r->text);
		assert_true(snprintf(r->text + len, sizeof(r->text) - len,
		    "%s%s", cols[i], i + 1 < ncols ? "\t" : "\n") > 0);
	}
	r->n++;
}

static void
targets_cb(void *ctx, const char *local, const char *domain,
    bool is_account)
{
	struct targets *t = ctx;
	size_t len = strlen(t->text);

	assert_true(snprintf(t->text + len, sizeof(t->text) - len,
	    "%s:%s@%s ", is_account ? "A" : "R", local, domain) > 0);
	t->n++;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *err = NULL;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/moat-test-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	if (store_open(f->dir, &f->st, &err) < 0)
		fail_msg("store_open: %s", err);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	const char *names[] = { "moat.db", "moat.db-wal", "moat.db-shm" };
	char path[128];
	size_t i;

	store_close(&f->st);
	assert_null(f->st);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, names[i]);
		(void)unlink(path);	/* -wal/-shm may be gone already */
	}
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

static void
must(int rc, const char *err)
{
	if (rc != 0)
		fail_msg("unexpected error: %s", err != NULL ? err : "(null)");
}

static void
add_domain(struct store *st, const char *d)
{
	const char *err = NULL;

	must(store_domain_add(st, d, &err), err);
}

static void
add_account(struct store *st, const char *a)
{
	const char *err = NULL;

	must(store_account_add(st, a, HASH, SCRAM, &err), err);
}

static void
add_alias(struct store *st, const char *a, const char *t)
{
	const char *err = NULL;

	must(store_alias_add(st, a, t, &err), err);
}

static int
resolve(struct store *st, const char *local, const char *domain,
    struct targets *t)
{
	memset(t, 0, sizeof(*t));
	return store_resolve(st, local, domain, targets_cb, t);
}

static enum store_rcpt_result
rcpt(struct store *st, const char *local, const char *domain)
{
	enum store_rcpt_result r;

	assert_int_equal(store_rcpt_check(st, local, domain, &r), 0);
	return r;
}

static void
test_open_sets_wal_schema_and_mode(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	char path[128];
	struct stat sb;
	sqlite3 *db;
	sqlite3_stmt *s;

	/* Reopening an existing database is fine. */
	store_close(&f->st);
	must(store_open(f->dir, &f->st, &err), err);

	snprintf(path, sizeof(path), "%s/moat.db", f->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1,
	    &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal(sqlite3_column_text(s, 0), "wal");
	assert_int_equal(sqlite3_finalize(s), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1,
	    &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_true(sqlite3_column_int(s, 0) >= 1);
	assert_int_equal(sqlite3_finalize(s), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void
test_open_refuses_newer_schema(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	char path[128];
	sqlite3 *db;

	store_close(&f->st);
	snprintf(path, sizeof(path), "%s/moat.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 999", NULL,
	    NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	assert_int_equal(store_open(f->dir, &f->st, &err), -1);
	assert_null(f->st);
	assert_non_null(strstr(err, "newer"));
}

static void
test_open_missing_dir_fails(void **state)
{
	struct store *st = NULL;
	const char *err = NULL;

	(void)state;
	assert_int_equal(store_open("/nonexistent/moat-test", &st, &err), -1);
	assert_null(st);
	assert_non_null(err);
}

static void
test_domain_add_list_del(void **state)
{
	struct fixture *f = *state;
	struct rows r = { 0 };
	const char *err = NULL;

	add_domain(f->st, "Example.ORG");
	add_domain(f->st, "b.example");
	assert_int_equal(store_domain_add(f->st, "EXAMPLE.org", &err), -1);
	assert_non_null(strstr(err, "exists"));

	assert_int_equal(store_domain_list(f->st, rows_cb, &r), 0);
	assert_int_equal(r.n, 2);
	assert_non_null(strstr(r.text, "b.example\t0\t0\t"));
	assert_non_null(strstr(r.text, "example.org\t0\t0\t"));
	assert_null(strstr(r.text, "Example"));

	must(store_domain_del(f->st, "EXAMPLE.ORG", &err), err);
	assert_int_equal(store_domain_del(f->st, "example.org", &err), -1);
	assert_non_null(strstr(err, "no such domain"));
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_domain_list(f->st, rows_cb, &r), 0);
	assert_int_equal(r.n, 1);
}

static void
test_domain_rejects_bad_syntax(void **state)
{
	struct fixture *f = *state;
	const char *bad[] = { "", ".", "a..b", ".a.b", "a.b.", "-a.b",
	    "a-.b", "a_b.c", "a b.c", "a/b", "user@a.b", "[127.0.0.1]",
	    "a.b\n" };
	char label[80], longname[300];
	const char *err;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		assert_int_equal(store_domain_add(f->st, bad[i], &err), -1);
		assert_non_null(strstr(err, "invalid domain"));
	}
	memset(label, 'a', 64);
	label[64] = '\0';
	assert_int_equal(store_domain_add(f->st, label, &err), -1);
	label[63] = '\0';
	add_domain(f->st, label);
	/* labels of 49 + ".": 5 of them and "abcde" make 255 characters */
	memset(longname, 0, sizeof(longname));
	for (i = 0; i < 5; i++) {
		memset(longname + i * 50, 'a', 49);
		longname[i * 50 + 49] = '.';
	}
	memcpy(longname + 250, "abcde", 5);
	assert_int_equal(strlen(longname), 255);
	add_domain(f->st, longname);
	longname[255] = 'f';	/* 256: too long */
	assert_int_equal(store_domain_add(f->st, longname, &err), -1);
}

static void
test_domain_del_refused_while_used(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;

	add_domain(f->st, "example.org");
	add_account(f->st, "alice@example.org");
	assert_int_equal(store_domain_del(f->st, "example.org", &err), -1);
	assert_non_null(strstr(err, "1 account"));
	must(store_account_del(f->st, "alice@example.org", &err), err);

	add_alias(f->st, "@example.org", "bob@remote.example");
	assert_int_equal(store_domain_del(f->st, "example.org", &err), -1);
	assert_non_null(strstr(err, "delete them first"));
	must(store_alias_del(f->st, "@example.org", NULL, &err), err);
	must(store_domain_del(f->st, "example.org", &err), err);
}

static void
test_account_add_show_passwd_del(void **state)
{
	struct fixture *f = *state;
	struct rows r = { 0 };
	const char *err = NULL;
	char hash[PASSWD_HASH_MAX];

	add_domain(f->st, "example.org");
	add_account(f->st, "Alice@Example.ORG");
	assert_int_equal(store_account_add(f->st, "alice@example.org", HASH,
	    SCRAM, &err), -1);
	assert_non_null(strstr(err, "exists"));
	add_alias(f->st, "info@example.org", "alice@example.org");

	assert_int_equal(store_account_show(f->st, "ALICE@example.org",
	    rows_cb, &r, &err), 0);
	assert_non_null(strstr(r.text, "address\talice@example.org\n"));
	assert_non_null(strstr(r.text, "domain\texample.org\n"));
	assert_non_null(strstr(r.text, "password\tyescrypt\n"));
	assert_non_null(strstr(r.text, "/mail/example.org/alice/Maildir\n"));
	assert_non_null(strstr(r.text, "alias\tinfo@example.org\n"));
	assert_non_null(strstr(r.text, "created\t20"));

	must(store_account_hash(f->st, "alice@EXAMPLE.org", hash,
	    sizeof(hash), &err), err);
	assert_string_equal(hash, HASH);
	must(store_account_passwd(f->st, "alice@example.org", "$y$new",
	    NULL, &err), err);
	must(store_account_hash(f->st, "alice@example.org", hash,
	    sizeof(hash), &err), err);
	assert_string_equal(hash, "$y$new");
	assert_int_equal(store_account_hash(f->st, "alice@example.org", hash,
	    4, &err), -1);
	assert_int_equal(store_account_passwd(f->st, "nobody@example.org",
	    "$y$x", SCRAM, &err), -1);
	assert_non_null(strstr(err, "no such account"));

	memset(&r, 0, sizeof(r));
	add_domain(f->st, "other.example");
	add_account(f->st, "bob@other.example");
	assert_int_equal(store_account_list(f->st, NULL, rows_cb, &r), 0);
	assert_int_equal(r.n, 2);
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_account_list(f->st, "Other.Example", rows_cb,
	    &r), 0);
	assert_int_equal(r.n, 1);
	assert_non_null(strstr(r.text, "bob@other.example\t20"));

	must(store_account_del(f->st, "ALICE@example.org", &err), err);
	assert_int_equal(store_account_del(f->st, "alice@example.org", &err),
	    -1);
	assert_non_null(strstr(err, "no such account"));
	assert_int_equal(store_account_show(f->st, "alice@example.org",
	    rows_cb, &r, &err), -1);
	assert_int_equal(store_account_hash(f->st, "alice@example.org", hash,
	    sizeof(hash), &err), -1);
}

static void
test_account_refuses_unknown_domain(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;

	assert_int_equal(store_account_add(f->st, "alice@example.org", HASH,
	    SCRAM, &err), -1);
	assert_non_null(strstr(err, "no such domain example.org"));
	assert_non_null(strstr(err, "moatctl domain add example.org"));
	assert_int_equal(store_alias_add(f->st, "a@example.org",
	    "b@elsewhere.example", &err), -1);
	assert_non_null(strstr(err, "no such domain"));
}

static void
test_account_rejects_bad_address(void **state)
{
	struct fixture *f = *state;
	const char *bad[] = { "alice", "@example.org", "alice@", "a..b@example.org",
	    ".a@example.org", "a.@example.org", "a b@example.org",
	    "a/b@example.org", "\"a\"@example.org", "a@b@example.org",
	    "a@-example.org", "a(b)@example.org" };
	char local[80], addr[128];
	const char *err;
	size_t i;

	add_domain(f->st, "example.org");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		assert_int_equal(store_account_add(f->st, bad[i], HASH,
		    SCRAM, &err), -1);
		assert_non_null(strstr(err, "invalid"));
	}
	memset(local, 'x', 65);
	local[65] = '\0';
	snprintf(addr, sizeof(addr), "%s@example.org", local);
	assert_int_equal(store_account_add(f->st, addr, HASH, SCRAM, &err),
	    -1);
	snprintf(addr, sizeof(addr), "%s@example.org", local + 1);
	add_account(f->st, addr);
	add_account(f->st, "first.last+tag@example.org");
	assert_int_equal(store_account_add(f->st, "c@example.org", "plain",
	    NULL, &err), -1);
	assert_int_equal(store_account_add(f->st, "c@example.org", HASH,
	    "$y$notscram", &err), -1);
	assert_non_null(strstr(err, "SCRAM"));
}

static void
test_alias_several_targets(void **state)
{
	struct fixture *f = *state;
	struct targets t;
	struct rows r = { 0 };
	const char *err = NULL;

	add_domain(f->st, "example.org");
	add_account(f->st, "alice@example.org");
	add_account(f->st, "bob@example.org");
	add_alias(f->st, "team@example.org", "alice@example.org");
	add_alias(f->st, "Team@example.org", "BOB@example.org");
	add_alias(f->st, "team@example.org", "carol@remote.example");
	assert_int_equal(store_alias_add(f->st, "team@example.org",
	    "bob@example.org", &err), -1);
	assert_non_null(strstr(err, "exists"));
	assert_int_equal(store_alias_add(f->st, "team@example.org",
	    "TEAM@example.org", &err), -1);
	assert_non_null(strstr(err, "itself"));
	assert_int_equal(store_alias_add(f->st, "team@example.org",
	    "@example.org", &err), -1);

	assert_int_equal(resolve(f->st, "team", "example.org", &t), 3);
	assert_string_equal(t.text, "A:alice@example.org A:bob@example.org "
	    "R:carol@remote.example ");

	assert_int_equal(store_alias_list(f->st, "example.org", rows_cb, &r),
	    0);
	assert_int_equal(r.n, 3);
	assert_non_null(strstr(r.text, "team@example.org\tbob@example.org\n"));

	must(store_alias_del(f->st, "team@example.org", "bob@example.org",
	    &err), err);
	assert_int_equal(store_alias_del(f->st, "team@example.org",
	    "bob@example.org", &err), -1);
	assert_non_null(strstr(err, "no such alias"));
	assert_int_equal(resolve(f->st, "team", "example.org", &t), 2);
	must(store_alias_del(f->st, "team@example.org", NULL, &err), err);
	assert_int_equal(store_alias_del(f->st, "team@example.org", NULL,
	    &err), -1);
	assert_int_equal(resolve(f->st, "team", "example.org", &t), 0);
}

static void
test_alias_catch_all(void **state)
{
	struct fixture *f = *state;
	struct targets t;

	add_domain(f->st, "example.org");
	add_account(f->st, "alice@example.org");
	add_account(f->st, "postmaster@example.org");
	add_alias(f->st, "sales@example.org", "alice@example.org");
	add_alias(f->st, "@example.org", "postmaster@example.org");

	/* unknown names go to the catch-all ... */
	assert_int_equal(resolve(f->st, "whoever", "example.org", &t), 1);
	assert_string_equal(t.text, "A:postmaster@example.org ");
	/* ... but accounts and aliases do not */
	assert_int_equal(resolve(f->st, "alice", "example.org", &t), 1);
	assert_string_equal(t.text, "A:alice@example.org ");
	assert_int_equal(resolve(f->st, "sales", "example.org", &t), 1);
	assert_string_equal(t.text, "A:alice@example.org ");
}

static void
test_alias_recursion_and_remote(void **state)
{
	struct fixture *f = *state;
	struct targets t;

	add_domain(f->st, "example.org");
	add_domain(f->st, "example.net");
	add_account(f->st, "carol@example.net");
	add_alias(f->st, "a@example.org", "b@example.org");
	add_alias(f->st, "b@example.org", "c@example.net");
	add_alias(f->st, "c@example.net", "carol@example.net");
	add_alias(f->st, "c@example.net", "dave@Remote.Example");
	assert_int_equal(resolve(f->st, "A", "EXAMPLE.org", &t), 2);
	assert_string_equal(t.text, "A:carol@example.net "
	    "R:dave@remote.example ");
	/* A non-local recipient is itself the (remote) target. */
	assert_int_equal(resolve(f->st, "x", "remote.example", &t), 1);
	assert_string_equal(t.text, "R:x@remote.example ");
	/* unknown local user */
	assert_int_equal(resolve(f->st, "nobody", "example.org", &t), 0);
}

static void
test_alias_loop_terminates(void **state)
{
	struct fixture *f = *state;
	struct targets t;

	add_domain(f->st, "example.org");
	add_alias(f->st, "a@example.org", "b@example.org");
	add_alias(f->st, "b@example.org", "a@example.org");
	assert_int_equal(resolve(f->st, "a", "example.org", &t), 0);

	add_account(f->st, "c@example.org");
	add_alias(f->st, "b@example.org", "c@example.org");
	assert_int_equal(resolve(f->st, "a", "example.org", &t), 1);
	assert_string_equal(t.text, "A:c@example.org ");
	assert_int_equal(resolve(f->st, "b", "example.org", &t), 1);

	/* catch-all pointing at an unknown name of its own domain */
	add_alias(f->st, "@example.org", "ghost@example.org");
	assert_int_equal(resolve(f->st, "zz", "example.org", &t), 0);
}

static void
test_alias_dedup_and_account_plus_alias(void **state)
{
	struct fixture *f = *state;
	struct targets t;

	add_domain(f->st, "example.org");
	add_account(f->st, "c@example.org");
	add_account(f->st, "x@example.org");
	add_account(f->st, "y@example.org");
	add_alias(f->st, "a@example.org", "b@example.org");
	add_alias(f->st, "a@example.org", "c@example.org");
	add_alias(f->st, "b@example.org", "c@example.org");
	add_alias(f->st, "b@example.org", "a@example.org");
	assert_int_equal(resolve(f->st, "a", "example.org", &t), 1);
	assert_string_equal(t.text, "A:c@example.org ");

	/* both an account and an alias: delivered to both */
	add_alias(f->st, "x@example.org", "y@example.org");
	assert_int_equal(resolve(f->st, "x", "example.org", &t), 2);
	assert_string_equal(t.text, "A:x@example.org A:y@example.org ");
}

static void
test_alias_depth_limit(void **state)
{
	struct fixture *f = *state;
	char a[64], b[64];
	struct targets t;
	int i;

	add_domain(f->st, "example.org");
	add_account(f->st, "end@example.org");
	/* hN -> hN+1 -> ... -> h(ALIAS_DEPTH) -> end: from h0 that is
	 * STORE_ALIAS_DEPTH + 1 alias expansions. */
	for (i = 0; i <= STORE_ALIAS_DEPTH; i++) {
		snprintf(a, sizeof(a), "h%d@example.org", i);
		if (i == STORE_ALIAS_DEPTH)
			snprintf(b, sizeof(b), "end@example.org");
		else
			snprintf(b, sizeof(b), "h%d@example.org", i + 1);
		add_alias(f->st, a, b);
	}
	/* exactly STORE_ALIAS_DEPTH expansions reach the account */
	assert_int_equal(resolve(f->st, "h1", "example.org", &t), 1);
	assert_string_equal(t.text, "A:end@example.org ");
	/* one more is cut off */
	assert_int_equal(resolve(f->st, "h0", "example.org", &t), 0);
}

static void
test_rcpt_check(void **state)
{
	struct fixture *f = *state;

	add_domain(f->st, "example.org");
	add_domain(f->st, "catch.example");
	add_account(f->st, "alice@example.org");
	add_alias(f->st, "info@example.org", "alice@example.org");
	add_alias(f->st, "@catch.example", "alice@example.org");

	assert_int_equal(rcpt(f->st, "alice", "example.org"), STORE_RCPT_OK);
	assert_int_equal(rcpt(f->st, "ALICE", "Example.Org"), STORE_RCPT_OK);
	assert_int_equal(rcpt(f->st, "info", "example.org"), STORE_RCPT_OK);
	assert_int_equal(rcpt(f->st, "InFo", "example.org"), STORE_RCPT_OK);
	assert_int_equal(rcpt(f->st, "bob", "example.org"),
	    STORE_RCPT_NO_SUCH_USER);
	assert_int_equal(rcpt(f->st, "", "example.org"),
	    STORE_RCPT_NO_SUCH_USER);
	assert_int_equal(rcpt(f->st, "anyone", "catch.example"),
	    STORE_RCPT_OK);
	assert_int_equal(rcpt(f->st, "alice", "remote.example"),
	    STORE_RCPT_NOT_LOCAL);
	assert_int_equal(rcpt(f->st, "alice", "sub.example.org"),
	    STORE_RCPT_NOT_LOCAL);
	/* SQL metacharacters are just data */
	assert_int_equal(rcpt(f->st, "' OR 1=1 --", "example.org"),
	    STORE_RCPT_NO_SUCH_USER);
}

static void
test_reject_log(void **state)
{
	struct fixture *f = *state;
	struct store_reject rej = {
		.time = 1700000000,
		.session = "00000000deadbeef",
		.service = "smtp",
		.ip = "192.0.2.1",
		.helo = "bad\x01helo",
		.mail_from = "a@b.example",
		.rcpt_to = "x@example.org",
		.code = 550,
		.reason = "5.1.1 no such user",
	};
	struct store_reject empty = { .time = 1700000001, .code = 421 };
	char path[128], big[4096];
	sqlite3 *db;
	sqlite3_stmt *s;

	assert_int_equal(store_reject_log(f->st, &rej), 0);
	assert_int_equal(store_reject_log(f->st, &empty), 0);
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	rej.helo = big;
	assert_int_equal(store_reject_log(f->st, &rej), 0);

	snprintf(path, sizeof(path), "%s/moat.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), "
	    "sum(code), max(length(helo)), "
	    "sum(session IS NULL) FROM rejected WHERE time >= 1700000000",
	    -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 3);
	assert_int_equal(sqlite3_column_int(s, 1), 550 + 421 + 550);
	assert_true(sqlite3_column_int(s, 2) <= 512);
	assert_int_equal(sqlite3_column_int(s, 3), 1);
	assert_int_equal(sqlite3_finalize(s), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void
test_account_settings(void **state)
{
	struct fixture *f = *state;
	struct rows r = { 0 };
	const char *err = NULL;
	bool on = false;

	add_domain(f->st, "example.org");
	add_account(f->st, "alice@example.org");
	/* default on */
	must(store_account_get_setting(f->st, "alice@example.org", "pop3",
	    &on, &err), err);
	assert_true(on);
	must(store_account_set(f->st, "Alice@example.org", "pop3", "off",
	    &err), err);
	must(store_account_set(f->st, "alice@example.org", "relay", "off",
	    &err), err);
	must(store_account_get_setting(f->st, "ALICE@example.org", "pop3",
	    &on, &err), err);
	assert_false(on);
	/* overwrite */
	must(store_account_set(f->st, "alice@example.org", "pop3", "on",
	    &err), err);
	must(store_account_get_setting(f->st, "alice@example.org", "pop3",
	    &on, &err), err);
	assert_true(on);
	must(store_account_get_setting(f->st, "alice@example.org", "relay",
	    &on, &err), err);
	assert_false(on);

	/* bad key, bad value, no such account */
	assert_int_equal(store_account_set(f->st, "alice@example.org",
	    "quota", "on", &err), -1);
	assert_non_null(strstr(err, "invalid setting"));
	assert_int_equal(store_account_set(f->st, "alice@example.org",
	    "smtp", "yes", &err), -1);
	assert_int_equal(store_account_set(f->st, "alice@example.org",
	    "smtp", NULL, &err), -1);
	assert_int_equal(store_account_set(f->st, "bob@example.org", "smtp",
	    "off", &err), -1);
	assert_non_null(strstr(err, "no such account"));
	assert_int_equal(store_account_get_setting(f->st, "bob@example.org",
	    "smtp", &on, &err), -1);
	assert_non_null(strstr(err, "no such account"));
	assert_int_equal(store_account_get_setting(f->st,
	    "alice@example.org", "bogus", &on, &err), -1);
	assert_true(store_setting_valid("webmail", "off"));
	assert_true(store_setting_valid("imap", NULL));
	assert_false(store_setting_valid("imap", "OFF"));
	assert_false(store_setting_valid("", "on"));

	assert_int_equal(store_account_show(f->st, "alice@example.org",
	    rows_cb, &r, &err), 0);
	assert_non_null(strstr(r.text, "smtp\ton\nimap\ton\npop3\ton\n"
	    "webmail\ton\nrelay\toff\n"));
	assert_non_null(strstr(r.text, "scram\tSCRAM-SHA-256\n"));

	/* settings go with the account */
	must(store_account_del(f->st, "alice@example.org", &err), err);
	add_account(f->st, "alice@example.org");
	must(store_account_get_setting(f->st, "alice@example.org", "relay",
	    &on, &err), err);
	assert_true(on);
}

static void
test_auth_lookup(void **state)
{
	struct fixture *f = *state;
	char hash[PASSWD_HASH_MAX], scram[400], small[16];
	enum store_auth_result r;
	const char *err = NULL;
	struct rows rows = { 0 };

	add_domain(f->st, "example.org");
	add_account(f->st, "alice@example.org");
	must(store_auth_lookup(f->st, "ALICE@Example.org", "imap", hash,
	    sizeof(hash), scram, sizeof(scram), &r, &err), err);
	assert_int_equal(r, STORE_AUTH_OK);
	assert_string_equal(hash, HASH);
	assert_string_equal(scram, SCRAM);
	must(store_auth_lookup(f->st, "alice@example.org", NULL, hash,
	    sizeof(hash), scram, sizeof(scram), &r, &err), err);
	assert_int_equal(r, STORE_AUTH_OK);

	/* a service turned off */
	must(store_account_set(f->st, "alice@example.org", "imap", "off",
	    &err), err);
	must(store_auth_lookup(f->st, "alice@example.org", "imap", hash,
	    sizeof(hash), scram, sizeof(scram), &r, &err), err);
	assert_int_equal(r, STORE_AUTH_DISABLED);
	assert_string_equal(hash, HASH);
	must(store_auth_lookup(f->st, "alice@example.org", "smtp", hash,
	    sizeof(hash), scram, sizeof(scram), &r, &err), err);
	assert_int_equal(r, STORE_AUTH_OK);

	/* nobody, and names that cannot be addresses */
	must(store_auth_lookup(f->st, "bob@example.org", "smtp", hash,
	    sizeof(hash), scram, sizeof(scram), &r, &err), err);
	assert_int_equal(r, STORE_AUTH_NO_USER);
	assert_string_equal(hash, "");
	assert_string_equal(scram, "");
	memset(scram, 'x', 399);
	scram[399] = '\0';
	must(store_auth_lookup(f->st, scram, "smtp", hash, sizeof(hash),
	    small, sizeof(small), &r, &err), err);
	assert_int_equal(r, STORE_AUTH_NO_USER);
	assert_int_equal(store_auth_lookup(f->st, "alice@example.org", "ftp",
	    hash, sizeof(hash), scram, sizeof(scram), &r, &err), -1);
	/* buffers too small: an error, nothing half-copied */
	assert_int_equal(store_auth_lookup(f->st, "alice@example.org", NULL,
	    hash, sizeof(hash), small, sizeof(small), &r, &err), -1);
	assert_string_equal(small, "");

	/* a new password without SCRAM clears the old credential */
	must(store_account_passwd(f->st, "alice@example.org", "$y$new",
	    NULL, &err), err);
	must(store_auth_lookup(f->st, "alice@example.org", "smtp", hash,
	    sizeof(hash), scram, sizeof(scram), &r, &err), err);
	assert_string_equal(hash, "$y$new");
	assert_string_equal(scram, "");
	assert_int_equal(store_account_show(f->st, "alice@example.org",
	    rows_cb, &rows, &err), 0);
	assert_non_null(strstr(rows.text, "scram\tnone"));
	must(store_account_passwd(f->st, "alice@example.org", "$y$new2",
	    SCRAM, &err), err);
	must(store_auth_lookup(f->st, "alice@example.org", "smtp", hash,
	    sizeof(hash), scram, sizeof(scram), &r, &err), err);
	assert_string_equal(scram, SCRAM);
	assert_int_equal(store_account_passwd(f->st, "alice@example.org",
	    "$y$x", "SCRAM-SHA-1$x", &err), -1);
}

/* A version 1 database (before SCRAM and settings) is brought to the
 * current schema; its accounts keep working, without SCRAM. */
static void
test_migrate_from_v1(void **state)
{
	static const char v1[] =
	    "CREATE TABLE domains (name TEXT NOT NULL PRIMARY KEY COLLATE"
	    " NOCASE, created INTEGER NOT NULL);"
	    "CREATE TABLE accounts (id INTEGER PRIMARY KEY, address TEXT NOT"
	    " NULL UNIQUE COLLATE NOCASE, local TEXT NOT NULL COLLATE NOCASE,"
	    " domain TEXT NOT NULL COLLATE NOCASE REFERENCES domains (name)"
	    " ON DELETE RESTRICT, password TEXT NOT NULL, created INTEGER NOT"
	    " NULL, UNIQUE (domain, local));"
	    "CREATE TABLE account_settings (account INTEGER NOT NULL"
	    " REFERENCES accounts (id) ON DELETE CASCADE, name TEXT NOT NULL,"
	    " value TEXT, PRIMARY KEY (account, name));"
	    "CREATE TABLE aliases (address TEXT NOT NULL COLLATE NOCASE,"
	    " local TEXT NOT NULL COLLATE NOCASE, domain TEXT NOT NULL"
	    " COLLATE NOCASE REFERENCES domains (name) ON DELETE RESTRICT,"
	    " target TEXT NOT NULL COLLATE NOCASE, created INTEGER NOT NULL,"
	    " PRIMARY KEY (address, target));"
	    "CREATE TABLE rejected (id INTEGER PRIMARY KEY, time INTEGER NOT"
	    " NULL, session TEXT, service TEXT, ip TEXT, helo TEXT, mail_from"
	    " TEXT, rcpt_to TEXT, code INTEGER NOT NULL, reason TEXT);"
	    "INSERT INTO domains VALUES ('example.org', 0);"
	    "INSERT INTO accounts (address, local, domain, password, created)"
	    " VALUES ('old@example.org', 'old', 'example.org', '$y$old', 0);"
	    "PRAGMA user_version = 1;";
	struct fixture *f = *state;
	char hash[PASSWD_HASH_MAX], scram[SCRAM_MAX_TEST], path[128];
	enum store_auth_result r;
	const char *err = NULL;
	sqlite3 *db;
	bool on;

	store_close(&f->st);
	snprintf(path, sizeof(path), "%s/moat.db", f->dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v1, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	must(store_open(f->dir, &f->st, &err), err);
	must(store_auth_lookup(f->st, "old@example.org", "smtp", hash,
	    sizeof(hash), scram, sizeof(scram), &r, &err), err);
	assert_int_equal(r, STORE_AUTH_OK);
	assert_string_equal(hash, "$y$old");
	assert_string_equal(scram, "");
	must(store_account_get_setting(f->st, "old@example.org", "smtp", &on,
	    &err), err);
	assert_true(on);
	must(store_account_passwd(f->st, "old@example.org", HASH, SCRAM,
	    &err), err);
	must(store_auth_lookup(f->st, "old@example.org", "smtp", hash,
	    sizeof(hash), scram, sizeof(scram), &r, &err), err);
	assert_string_equal(scram, SCRAM);
}

static void
test_passwd_hash_verify(void **state)
{
	char h1[PASSWD_HASH_MAX], h2[PASSWD_HASH_MAX], small[16];

	(void)state;
	assert_int_equal(passwd_hash("correct horse", h1, sizeof(h1)), 0);
	assert_int_equal(strncmp(h1, "$y$", 3), 0);
	assert_true(passwd_verify("correct horse", h1));
	assert_false(passwd_verify("correct horsE", h1));
	assert_false(passwd_verify("", h1));
	/* a fresh salt every time */
	assert_int_equal(passwd_hash("correct horse", h2, sizeof(h2)), 0);
	assert_string_not_equal(h1, h2);
	assert_true(passwd_verify("correct horse", h2));

	assert_int_equal(passwd_hash("x", small, sizeof(small)), -1);
	assert_false(passwd_verify("x", ""));
	assert_false(passwd_verify("x", "!locked"));
	assert_false(passwd_verify("x", "*"));
	assert_false(passwd_verify("x", "$y$garbage"));
	assert_false(passwd_verify("x", "$unknown$abc"));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_sets_wal_schema_and_mode),
		T(test_open_refuses_newer_schema),
		cmocka_unit_test(test_open_missing_dir_fails),
		T(test_domain_add_list_del),
		T(test_domain_rejects_bad_syntax),
		T(test_domain_del_refused_while_used),
		T(test_account_add_show_passwd_del),
		T(test_account_refuses_unknown_domain),
		T(test_account_rejects_bad_address),
		T(test_alias_several_targets),
		T(test_alias_catch_all),
		T(test_alias_recursion_and_remote),
		T(test_alias_loop_terminates),
		T(test_alias_dedup_and_account_plus_alias),
		T(test_alias_depth_limit),
		T(test_rcpt_check),
		T(test_reject_log),
		T(test_account_settings),
		T(test_auth_lookup),
		T(test_migrate_from_v1),
		cmocka_unit_test(test_passwd_hash_verify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
