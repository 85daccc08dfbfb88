/* test_mailbox: the mailbox index over a temporary Maildir: UID
 * assignment and stability, new -> cur, vanished files, rebuild with a
 * new UIDVALIDITY, expunge, flags, and the POP3 lock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "mailbox.h"
#include "maildir.h"

struct fx {
	char	 root[256];
	char	 md[300];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "/tmp/moat-test-mbox-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->md, sizeof(f->md), "%s/Maildir", f->root);
	assert_int_equal(maildir_create(f->md), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void
put(struct fx *f, const char *sub, const char *name, const char *content)
{
	char p[600];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s/%s", f->md, sub, name);
	fp = fopen(p, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(content, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static bool
exists(struct fx *f, const char *sub, const char *name)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/%s/%s", f->md, sub, name);
	return access(p, F_OK) == 0;
}

static struct mailbox *
open_sync(struct fx *f)
{
	struct mailbox *mb = NULL;
	const char *err = NULL;

	assert_int_equal(mailbox_open(f->md, "INBOX", &mb, &err), 0);
	assert_int_equal(mailbox_sync(mb, &err), 0);
	return mb;
}

static void
list(struct mailbox *mb, struct mailbox_msg **m, size_t *n)
{
	const char *err = NULL;

	assert_int_equal(mailbox_list(mb, m, n, &err), 0);
}

static void
test_uids_stable_and_ordered(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb;
	struct mailbox_msg *m;
	struct mailbox_status st, st2;
	const char *err;
	size_t n;

	/* Name time decides the order, not readdir or the name alone. */
	put(f, "new", "1700000300.Qc.host", "Subject: c\r\n\r\nc\r\n");
	put(f, "new", "1700000100.Qb.host", "Subject: b\r\n\r\nb\r\n");
	put(f, "new", "1700000100.Qa.host", "Subject: a\r\n\r\na\r\n");
	mb = open_sync(f);
	list(mb, &m, &n);
	assert_int_equal(n, 3);
	assert_int_equal(m[0].uid, 1);
	assert_string_equal(m[0].base, "1700000100.Qa.host");
	assert_string_equal(m[1].base, "1700000100.Qb.host");
	assert_string_equal(m[2].base, "1700000300.Qc.host");
	assert_int_equal(m[2].uid, 3);
	mailbox_msgs_free(&m, n);
	assert_int_equal(mailbox_status(mb, &st, &err), 0);
	assert_int_equal(st.uidnext, 4);
	assert_int_equal(st.messages, 3);
	mailbox_close(&mb);

	/* A later message gets the next UID; old ones keep theirs, even
	 * from a fresh handle. */
	put(f, "new", "1600000000.Qz.host", "x\r\n");
	mb = open_sync(f);
	list(mb, &m, &n);
	assert_int_equal(n, 4);
	assert_int_equal(m[0].uid, 1);
	assert_string_equal(m[3].base, "1600000000.Qz.host");
	assert_int_equal(m[3].uid, 4);
	mailbox_msgs_free(&m, n);
	assert_int_equal(mailbox_status(mb, &st2, &err), 0);
	assert_int_equal(st2.uidvalidity, st.uidvalidity);
	assert_true(st2.highestmodseq > st.highestmodseq);
	/* A sync with nothing new changes nothing. */
	assert_int_equal(mailbox_sync(mb, &err), 0);
	assert_int_equal(mailbox_status(mb, &st, &err), 0);
	assert_int_equal(st.highestmodseq, st2.highestmodseq);
	mailbox_close(&mb);
}

static void
test_new_moves_to_cur_and_size_counts_crlf(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb;
	struct mailbox_msg *m;
	size_t n;

	put(f, "new", "1700000000.Q1.h", "a\nbb\r\nc\n");	/* 8 octets */
	mb = open_sync(f);
	assert_false(exists(f, "new", "1700000000.Q1.h"));
	assert_true(exists(f, "cur", "1700000000.Q1.h:2,"));
	list(mb, &m, &n);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].size, 10);	/* two bare LFs become CRLF */
	assert_string_equal(m[0].file, "1700000000.Q1.h:2,");
	assert_int_equal(m[0].flags, 0);
	mailbox_msgs_free(&m, n);
	mailbox_close(&mb);
}

/* Line ends across the 64 KiB read chunks: a CRLF split between two
 * chunks is one CRLF, a bare LF opening a chunk counts two. */
static void
test_size_across_read_chunks(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb;
	struct mailbox_msg *m;
	size_t n;
	char *big = malloc(65536 + 3);

	assert_non_null(big);
	memset(big, 'a', 65535);
	memcpy(big + 65535, "\r\nz", 4);	/* CR ends the first chunk */
	put(f, "new", "1700000000.Q1.h", big);
	memset(big, 'a', 65536);
	memcpy(big + 65536, "\nz", 3);	/* bare LF opens the second */
	put(f, "new", "1700000001.Q2.h", big);
	free(big);
	mb = open_sync(f);
	list(mb, &m, &n);
	assert_int_equal(n, 2);
	assert_int_equal(m[0].size, 65538);
	assert_int_equal(m[1].size, 65539);
	mailbox_msgs_free(&m, n);
	mailbox_close(&mb);
}

static void
test_vanished_files_drop_rows(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb;
	struct mailbox_msg *m;
	char p[600];
	size_t n;

	put(f, "cur", "1.Qa.h:2,S", "a\r\n");
	put(f, "cur", "2.Qb.h:2,", "b\r\n");
	mb = open_sync(f);
	mailbox_close(&mb);
	snprintf(p, sizeof(p), "%s/cur/1.Qa.h:2,S", f->md);
	assert_int_equal(unlink(p), 0);
	mb = open_sync(f);
	list(mb, &m, &n);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].uid, 2);
	mailbox_msgs_free(&m, n);
	/* UIDs are not reused. */
	put(f, "new", "0.Qc.h", "c\r\n");
	assert_int_equal(mailbox_sync(mb, &(const char *){ NULL }), 0);
	list(mb, &m, &n);
	assert_int_equal(n, 2);
	assert_int_equal(m[1].uid, 3);
	mailbox_msgs_free(&m, n);
	mailbox_close(&mb);
}

static void
test_rebuild_new_uidvalidity(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb;
	struct mailbox_status a, b;
	const char *err;
	char p[600];

	put(f, "new", "1.Qa.h", "a\r\n");
	mb = open_sync(f);
	assert_int_equal(mailbox_status(mb, &a, &err), 0);
	mailbox_close(&mb);
	/* A missing index is rebuilt with a larger UIDVALIDITY (within the
	 * same second: the stored last value is gone too, so only the clock
	 * helps; an inconsistent index keeps the file and must grow). */
	snprintf(p, sizeof(p), "%s/" MAILBOX_INDEX_NAME, f->md);
	assert_int_equal(unlink(p), 0);
	mb = open_sync(f);
	assert_int_equal(mailbox_status(mb, &b, &err), 0);
	assert_true(b.uidvalidity >= a.uidvalidity);
	assert_int_equal(b.messages, 1);
	mailbox_close(&mb);
	/* A corrupt file is replaced. */
	{
		FILE *fp = fopen(p, "w");

		assert_non_null(fp);
		fputs("this is not a database, not at all, no no no no no "
		    "no no no no no no no no no no no no no no no no no no",
		    fp);
		fclose(fp);
	}
	mb = open_sync(f);
	assert_int_equal(mailbox_status(mb, &b, &err), 0);
	assert_int_equal(b.messages, 1);
	mailbox_close(&mb);
}

static void
test_inconsistent_index_rebuilds(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb;
	struct mailbox_status a, b;
	const char *err;
	char p[600];
	sqlite3 *db;

	put(f, "new", "1.Qa.h", "a\r\n");
	put(f, "new", "2.Qb.h", "b\r\n");
	mb = open_sync(f);
	assert_int_equal(mailbox_status(mb, &a, &err), 0);
	mailbox_close(&mb);
	/* UIDNEXT below an assigned UID: the index cannot be trusted. */
	snprintf(p, sizeof(p), "%s/" MAILBOX_INDEX_NAME, f->md);
	assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE folders SET uidnext = 1",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	mb = open_sync(f);
	assert_int_equal(mailbox_status(mb, &b, &err), 0);
	assert_true(b.uidvalidity > a.uidvalidity);
	assert_int_equal(b.uidnext, 3);
	mailbox_close(&mb);
}

static void
test_expunge(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb;
	struct mailbox_msg *m;
	const char *err;
	uint32_t uids[2] = { 1, 99 };
	size_t n;

	put(f, "new", "1.Qa.h", "a\r\n");
	put(f, "new", "2.Qb.h", "b\r\n");
	mb = open_sync(f);
	assert_int_equal(mailbox_expunge(mb, uids, 2, &err), 1);
	assert_false(exists(f, "cur", "1.Qa.h:2,"));
	assert_true(exists(f, "cur", "2.Qb.h:2,"));
	list(mb, &m, &n);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].uid, 2);
	mailbox_msgs_free(&m, n);
	mailbox_close(&mb);
}

static void
test_flags(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb;
	struct mailbox_msg *m;
	const char *err;
	size_t n, bl;
	unsigned fl;
	int fd;

	mailbox_parse_name("1.Q.h:2,DFRST", &bl, &fl);
	assert_int_equal(bl, 5);
	assert_int_equal(fl, MAILBOX_F_SEEN | MAILBOX_F_ANSWERED |
	    MAILBOX_F_FLAGGED | MAILBOX_F_DELETED | MAILBOX_F_DRAFT);
	mailbox_parse_name("1.Q.h:2,Sa", &bl, &fl);
	assert_int_equal(fl, MAILBOX_F_SEEN);
	mailbox_parse_name("1.Q.h", &bl, &fl);
	assert_int_equal(bl, 5);
	assert_int_equal(fl, 0);
	assert_int_equal(mailbox_name_time("1700000000.Q.h"), 1700000000);
	assert_int_equal(mailbox_name_time("abc.Q"), -1);

	put(f, "cur", "5.Qa.h:2,FS", "a\r\n");
	mb = open_sync(f);
	list(mb, &m, &n);
	assert_int_equal(m[0].flags, MAILBOX_F_SEEN | MAILBOX_F_FLAGGED);
	mailbox_msgs_free(&m, n);
	assert_int_equal(mailbox_set_flags(mb, 1, MAILBOX_F_ANSWERED, &err),
	    1);
	assert_true(exists(f, "cur", "5.Qa.h:2,R"));
	assert_int_equal(mailbox_set_flags(mb, 7, 0, &err), 0);
	/* Another client renames the file: same UID, new flags. */
	{
		char a[600], b[600];

		snprintf(a, sizeof(a), "%s/cur/5.Qa.h:2,R", f->md);
		snprintf(b, sizeof(b), "%s/cur/5.Qa.h:2,ST", f->md);
		assert_int_equal(rename(a, b), 0);
	}
	list(mb, &m, &n);
	fd = mailbox_msg_open(mb, &m[0]);	/* stale name: found by base */
	assert_true(fd >= 0);
	close(fd);
	mailbox_msgs_free(&m, n);
	assert_int_equal(mailbox_sync(mb, &err), 0);
	list(mb, &m, &n);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].uid, 1);
	assert_int_equal(m[0].flags, MAILBOX_F_SEEN | MAILBOX_F_DELETED);
	mailbox_msgs_free(&m, n);
	mailbox_close(&mb);
}

static void
test_unsafe_names_skipped(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb;
	struct mailbox_msg *m;
	const char *err;
	size_t n;

	put(f, "cur", ".hidden", "x");
	put(f, "cur", "1.Qa.h:2,", "a\r\n");
	mb = open_sync(f);
	list(mb, &m, &n);
	assert_int_equal(n, 1);
	mailbox_msgs_free(&m, n);
	mailbox_close(&mb);
	assert_int_equal(mailbox_open(f->md, "../x", &mb, &err), -1);
}

static void
test_pop3_lock_exclusive(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	int a, b;

	a = mailbox_pop3_lock(f->md, &err);
	assert_true(a >= 0);
	/* A second holder in the same process is refused too. */
	b = mailbox_pop3_lock(f->md, &err);
	assert_int_equal(b, -2);
	/* ...and in another process. */
	{
		pid_t pid = fork();
		int st;

		assert_true(pid >= 0);
		if (pid == 0)
			_exit(mailbox_pop3_lock(f->md, &err) == -2 ? 0 : 1);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	mailbox_pop3_unlock(&a);
	assert_int_equal(a, -1);
	b = mailbox_pop3_lock(f->md, &err);
	assert_true(b >= 0);
	mailbox_pop3_unlock(&b);
}

static void
test_concurrent_syncs_never_share_uids(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb;
	struct mailbox_msg *m;
	char name[64];
	pid_t pids[4];
	size_t n, i;
	int k;

	for (k = 0; k < 200; k++) {
		snprintf(name, sizeof(name), "%d.Q%d.h", 1000 + k, k);
		put(f, "new", name, "x\r\n");
	}
	for (k = 0; k < 4; k++) {
		pids[k] = fork();
		assert_true(pids[k] >= 0);
		if (pids[k] == 0) {
			struct mailbox *c = NULL;
			const char *err = "-";
			int ok = mailbox_open(f->md, "INBOX", &c, &err) == 0 &&
			    mailbox_sync(c, &err) == 0;

			if (!ok)
				fprintf(stderr, "child sync: %s\n", err);
			mailbox_close(&c);
			_exit(ok ? 0 : 1);
		}
	}
	for (k = 0; k < 4; k++) {
		int st;

		assert_int_equal(waitpid(pids[k], &st, 0), pids[k]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	mb = open_sync(f);
	list(mb, &m, &n);
	assert_int_equal(n, 200);
	for (i = 0; i < n; i++)
		assert_int_equal(m[i].uid, i + 1);
	mailbox_msgs_free(&m, n);
	mailbox_close(&mb);
}

static void
test_cache_columns(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb;
	struct mailbox_cache *c = NULL, pc[3];
	size_t n = 0;
	const char *err = NULL;

	put(f, "new", "1.Qa.h", "Subject: a\r\n\r\na\r\n");
	put(f, "new", "2.Qb.h", "Subject: b\r\n\r\nb\r\n");
	put(f, "new", "3.Qc.h", "Subject: c\r\n\r\nc\r\n");
	put(f, "new", "4.Qd.h", "Subject: d\n");
	mb = open_sync(f);
	assert_int_equal(mailbox_cache_get(mb, 1, UINT32_MAX, &c, &n, &err),
	    0);
	assert_int_equal(n, 4);
	assert_int_equal(c[0].uid, 1);
	assert_int_equal(c[2].uid, 3);
	/* A sync fills ENVELOPE from the header (bare LF made CRLF). */
	assert_non_null(c[1].envelope);
	assert_string_equal(c[1].envelope,
	    "(NIL \"b\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	assert_string_equal(c[3].envelope,
	    "(NIL \"d\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	assert_null(c[1].body);
	assert_null(c[1].bodystructure);
	mailbox_cache_free(&c, n);
	assert_null(c);

	memset(pc, 0, sizeof(pc));
	pc[0].uid = 2;
	pc[0].envelope = (char *)"(NIL \"b\")";
	pc[0].body = (char *)"(\"TEXT\")";
	pc[0].bodystructure = (char *)"(\"TEXT\" \"PLAIN\")";
	pc[1].uid = 3;
	pc[1].envelope = (char *)"(NIL \"c\")";
	pc[2].uid = 99;		/* not in the index: ignored */
	pc[2].envelope = (char *)"x";
	assert_int_equal(mailbox_cache_put(mb, pc, 3, &err), 0);
	/* NULL members leave what is stored alone. */
	memset(pc, 0, sizeof(pc));
	pc[0].uid = 2;
	assert_int_equal(mailbox_cache_put(mb, pc, 1, &err), 0);

	assert_int_equal(mailbox_cache_get(mb, 2, 3, &c, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(c[0].uid, 2);
	assert_string_equal(c[0].envelope, "(NIL \"b\")");
	assert_string_equal(c[0].body, "(\"TEXT\")");
	assert_string_equal(c[0].bodystructure, "(\"TEXT\" \"PLAIN\")");
	assert_int_equal(c[1].uid, 3);
	assert_string_equal(c[1].envelope, "(NIL \"c\")");
	assert_null(c[1].body);
	assert_null(c[1].bodystructure);
	mailbox_cache_free(&c, n);

	/* An expunged message takes its strings with it. */
	{
		uint32_t uid = 2;

		assert_int_equal(mailbox_expunge(mb, &uid, 1, &err), 1);
	}
	assert_int_equal(mailbox_cache_get(mb, 1, 3, &c, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(c[0].uid, 1);
	assert_non_null(c[0].envelope);
	assert_int_equal(c[1].uid, 3);
	mailbox_cache_free(&c, n);
	mailbox_close(&mb);
}

static int
user_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1,
	    &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* A version 2 index (no cached strings) is upgraded in place: same
 * UIDVALIDITY, UIDs and keywords; a version 1 one too. */
static void
test_schema_upgrade(void **state)
{
	static const char *const downgrade[] = {
		"ALTER TABLE messages DROP COLUMN envelope;"
		"ALTER TABLE messages DROP COLUMN body;"
		"ALTER TABLE messages DROP COLUMN bodystructure;"
		"UPDATE messages SET keywords = 'kept' WHERE uid = 1;"
		"PRAGMA user_version = 2;",
		"ALTER TABLE messages DROP COLUMN envelope;"
		"ALTER TABLE messages DROP COLUMN body;"
		"ALTER TABLE messages DROP COLUMN bodystructure;"
		"ALTER TABLE messages DROP COLUMN keywords;"
		"DROP TABLE expunged;"
		"PRAGMA user_version = 1;",
	};
	struct fx *f = *state;
	struct mailbox *mb;
	struct mailbox_status a, b;
	struct mailbox_msg *m = NULL;
	struct mailbox_cache *c = NULL, one;
	size_t n = 0, v;
	const char *err = NULL;
	char p[600];
	sqlite3 *db;

	put(f, "new", "1.Qa.h", "a\r\n");
	put(f, "new", "2.Qb.h", "b\r\n");
	mb = open_sync(f);
	assert_int_equal(mailbox_status(mb, &a, &err), 0);
	mailbox_close(&mb);
	snprintf(p, sizeof(p), "%s/" MAILBOX_INDEX_NAME, f->md);
	assert_int_equal(user_version(p), 3);
	for (v = 0; v < 2; v++) {
		assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, downgrade[v], NULL, NULL,
		    NULL), SQLITE_OK);
		sqlite3_close(db);
		assert_int_equal(user_version(p), 2 - (int)v);
		mb = open_sync(f);
		assert_int_equal(user_version(p), 3);
		assert_int_equal(mailbox_status(mb, &b, &err), 0);
		assert_int_equal(b.uidvalidity, a.uidvalidity);
		assert_int_equal(b.uidnext, 3);
		list(mb, &m, &n);
		assert_int_equal(n, 2);
		assert_int_equal(m[0].uid, 1);
		assert_string_equal(m[0].keywords, v == 0 ? "kept" : "");
		mailbox_msgs_free(&m, n);
		memset(&one, 0, sizeof(one));
		one.uid = 1;
		one.envelope = (char *)"(NIL)";
		assert_int_equal(mailbox_cache_put(mb, &one, 1, &err), 0);
		assert_int_equal(mailbox_cache_get(mb, 1, 2, &c, &n, &err),
		    0);
		assert_int_equal(n, 2);
		assert_string_equal(c[0].envelope, "(NIL)");
		assert_null(c[1].envelope);
		mailbox_cache_free(&c, n);
		mailbox_close(&mb);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_uids_stable_and_ordered,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_new_moves_to_cur_and_size_counts_crlf, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_vanished_files_drop_rows,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_new_uidvalidity,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_inconsistent_index_rebuilds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expunge, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_names_skipped,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_pop3_lock_exclusive,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_concurrent_syncs_never_share_uids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_across_read_chunks,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_columns, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_schema_upgrade, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
