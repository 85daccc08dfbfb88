/* test_store_list: the SQL of mailing lists (store_list) against a
 * temporary data_dir: lists and their options, role addresses, members,
 * single-use expiring tokens, bounce counting and disabling, the RCPT
 * policy, the prune; and who may post (list_may_post, list_data_policy:
 * envelope sender or From: author); digest options, member modes and
 * the waiting posts (store_list_digest). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "config.h"
#include "list_expand.h"
#include "list_request.h"
#include "queue.h"
#include "store.h"
#include "store_list.h"
#include "store_list_digest.h"
#include "tmpdir.h"

#define LIST "team@example.test"
#define HASH "$y$j9T$salt$hashhashhashhashhashhashhashhashhashhashhas"

#define STARTS(s, lit)	(strncmp((s), (lit), sizeof(lit) - 1) == 0)

struct fixture {
	char		 dir[64];
	struct store	*st;
};

struct rows {
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
		    "%s%s", cols[i] ? cols[i] : "NULL",
		    i + 1 < ncols ? "\t" : "\n") > 0);
	}
	r->n++;
}

static void
must(int rc, const char *err)
{
	if (rc != 0)
		fail_msg("unexpected error: %s", err != NULL ? err : "(null)");
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct list_info li;
	const char *err = NULL;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/moat-test-list-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	if (store_open(f->dir, &f->st, &err) < 0)
		fail_msg("store_open: %s", err);
	must(store_domain_add(f->st, "example.test", &err), err);
	memset(&li, 0, sizeof(li));
	snprintf(li.address, sizeof(li.address), "%s", LIST);
	snprintf(li.name, sizeof(li.name), "Team talk");
	must(store_list_add(f->st, &li, &err), err);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_close(&f->st);
	/* The data_dir, with the queue some tests write. */
	assert_int_equal(tmpdir_remove(f->dir), 0);
	free(f);
	return 0;
}

static const char *
state_of(struct store *st, const char *addr)
{
	static char state[16];

	assert_int_equal(store_list_member_state(st, LIST, addr, state, NULL,
	    0), 0);
	return state;
}

/* ---- lists ------------------------------------------------------------ */

static void
test_list_add_get_set_del(void **state)
{
	struct fixture *f = *state;
	struct list_info li, got;
	struct rows r;
	const char *err = NULL;

	must(store_list_get(f->st, LIST, &got, &err), err);
	assert_string_equal(got.local, "team");
	assert_string_equal(got.domain, "example.test");
	assert_string_equal(got.name, "Team talk");
	assert_int_equal(got.post, LIST_POST_MEMBERS);
	assert_int_equal(got.reply_to, LIST_REPLY_LIST);
	assert_int_equal(got.max_size, 0);

	must(store_list_set(f->st, LIST, "post", "moderated", &err), err);
	must(store_list_set(f->st, LIST, "reply_to", "author", &err), err);
	must(store_list_set(f->st, LIST, "max_size", "2K", &err), err);
	must(store_list_set(f->st, LIST, "prefix", "[team]", &err), err);
	must(store_list_set(f->st, LIST, "moderator", "Mod@Example.test",
	    &err), err);
	must(store_list_get(f->st, LIST, &got, &err), err);
	assert_int_equal(got.post, LIST_POST_MODERATED);
	assert_int_equal(got.reply_to, LIST_REPLY_AUTHOR);
	assert_int_equal(got.max_size, 2048);
	assert_string_equal(got.prefix, "[team]");
	assert_string_equal(got.moderator, "mod@example.test");
	must(store_list_set(f->st, LIST, "moderator", "none", &err), err);
	must(store_list_get(f->st, LIST, &got, &err), err);
	assert_string_equal(got.moderator, "");

	/* Bad values and keys are refused with the reason. */
	assert_int_equal(store_list_set(f->st, LIST, "post", "sometimes",
	    &err), -1);
	assert_non_null(strstr(err, "members, anyone or moderated"));
	assert_int_equal(store_list_set(f->st, LIST, "name", "a\r\nBcc: x",
	    &err), -1);
	assert_int_equal(store_list_set(f->st, LIST, "colour", "red", &err),
	    -1);
	assert_non_null(strstr(err, "unknown key"));
	assert_int_equal(store_list_set(f->st, "nope@example.test", "post",
	    "anyone", &err), -1);
	assert_string_equal(err, "no such list");

	/* Duplicates, foreign domains, another list's role address. */
	memset(&li, 0, sizeof(li));
	snprintf(li.address, sizeof(li.address), "%s", LIST);
	assert_int_equal(store_list_add(f->st, &li, &err), -1);
	assert_string_equal(err, "list exists");
	snprintf(li.address, sizeof(li.address), "x@nowhere.test");
	assert_int_equal(store_list_add(f->st, &li, &err), -1);
	assert_non_null(strstr(err, "not one of our domains"));
	snprintf(li.address, sizeof(li.address), "team-request@example.test");
	assert_int_equal(store_list_add(f->st, &li, &err), -1);
	assert_non_null(strstr(err, "another list"));
	must(store_account_add(f->st, "carol@example.test", HASH, NULL, &err),
	    err);
	snprintf(li.address, sizeof(li.address), "carol@example.test");
	assert_int_equal(store_list_add(f->st, &li, &err), -1);
	assert_non_null(strstr(err, "account or alias"));
	snprintf(li.address, sizeof(li.address), "Other@Example.test");
	must(store_list_add(f->st, &li, &err), err);

	memset(&r, 0, sizeof(r));
	must(store_list_all(f->st, rows_cb, &r), NULL);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.text, "other@example.test\tother\tmembers\t0\t0\n"
	    "team@example.test\tTeam talk\tmoderated\t0\t0\n");

	must(store_list_del(f->st, "other@example.test", &err), err);
	assert_int_equal(store_list_del(f->st, "other@example.test", &err),
	    -1);
	assert_string_equal(err, "no such list");
}

static void
test_list_lookup_roles(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char	*local;
		enum list_role	 role;
		const char	*arg;
	} cases[] = {
		{ "team", LIST_ROLE_POST, "" },
		{ "team-request", LIST_ROLE_REQUEST, "" },
		{ "TEAM-Subscribe", LIST_ROLE_SUBSCRIBE, "" },
		{ "team-unsubscribe", LIST_ROLE_UNSUBSCRIBE, "" },
		{ "team-owner", LIST_ROLE_OWNER, "" },
		{ "team-bounces", LIST_ROLE_BOUNCES, "" },
		{ "team-bounces+a=b.test", LIST_ROLE_BOUNCES, "a=b.test" },
		{ "team-confirm+00ff", LIST_ROLE_CONFIRM, "00ff" },
		{ "team-confirm+", LIST_ROLE_NONE, "" },
		{ "team-request+x", LIST_ROLE_NONE, "" },
		{ "team-other", LIST_ROLE_NONE, "" },
		{ "tea", LIST_ROLE_NONE, "" },
		{ "teamx", LIST_ROLE_NONE, "" },
	};
	struct list_info li;
	enum list_role role;
	char arg[LIST_ARG_MAX];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(store_list_lookup(f->st, cases[i].local,
		    "example.test", &role, &li, arg, sizeof(arg)), 0);
		if (role != cases[i].role)
			fail_msg("%s: role %d, want %d", cases[i].local, role,
			    cases[i].role);
		if (role != LIST_ROLE_NONE) {
			assert_string_equal(li.address, LIST);
			assert_string_equal(arg, cases[i].arg);
		}
	}
	assert_int_equal(store_list_lookup(f->st, "team", "other.test", &role,
	    &li, arg, sizeof(arg)), 0);
	assert_int_equal(role, LIST_ROLE_NONE);
}

/* ---- members ---------------------------------------------------------- */

static void
test_members(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = { "no-at-sign", "a@", "@example.test",
	    ".a@example.test", "a.@example.test",
	    ("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "x@example.test") };
	const char *err = NULL;
	char st16[16], token[LIST_TOKEN_LEN + 1];
	struct rows r;
	bool created = false;
	size_t i;

	must(store_list_member_put(f->st, LIST, "Carol@Example.test",
	    "active", &created, &err), err);
	assert_true(created);
	assert_string_equal(state_of(f->st, "carol@example.test"), "active");
	must(store_list_member_put(f->st, LIST, "carol@example.test",
	    "disabled", &created, &err), err);
	assert_false(created);
	assert_string_equal(state_of(f->st, "carol@example.test"),
	    "disabled");
	must(store_list_member_put(f->st, LIST, "dave@example.test",
	    "pending", NULL, &err), err);
	assert_int_equal(store_list_member_state(f->st, LIST,
	    "dave@example.test", st16, token, sizeof(token)), 0);
	assert_string_equal(st16, "pending");
	assert_int_equal(strlen(token), LIST_TOKEN_LEN);
	assert_string_equal(state_of(f->st, "nobody@example.test"), "");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		assert_int_equal(store_list_member_put(f->st, LIST, bad[i],
		    "active", NULL, &err), -1);
		assert_string_equal(err, "invalid member address");
	}
	assert_int_equal(store_list_member_put(f->st, LIST,
	    "team-owner@example.test", "active", NULL, &err), -1);
	assert_non_null(strstr(err, "list address"));
	assert_int_equal(store_list_member_put(f->st, "nope@example.test",
	    "a@b.test", "active", NULL, &err), -1);
	assert_string_equal(err, "no such list");

	memset(&r, 0, sizeof(r));
	must(store_list_members(f->st, LIST, rows_cb, &r), NULL);
	assert_int_equal(r.n, 2);
	assert_true(STARTS(r.text, "carol@example.test\tdisabled\t0\t"));
	assert_non_null(strstr(r.text, "\ndave@example.test\tpending\t0\t"));

	must(store_list_member_del(f->st, LIST, "dave@example.test", &err),
	    err);
	assert_int_equal(store_list_member_del(f->st, LIST,
	    "dave@example.test", &err), -1);
	assert_string_equal(err, "no such member");
}

static void
test_bounces_disable_at_limit(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	unsigned count;
	bool disabled;
	struct rows r;

	must(store_list_member_put(f->st, LIST, "demo@example.test", "active",
	    NULL, &err), err);
	must(store_list_bounce(f->st, LIST, "demo@example.test", 3, &count,
	    &disabled, &err), err);
	assert_int_equal(count, 1);
	assert_false(disabled);
	must(store_list_bounce(f->st, LIST, "demo@example.test", 3, &count,
	    &disabled, &err), err);
	assert_int_equal(count, 2);
	assert_false(disabled);
	assert_string_equal(state_of(f->st, "demo@example.test"), "active");
	must(store_list_bounce(f->st, LIST, "demo@example.test", 3, &count,
	    &disabled, &err), err);
	assert_int_equal(count, 3);
	assert_true(disabled);
	assert_string_equal(state_of(f->st, "demo@example.test"), "disabled");
	/* Disabled already: counted, but this bounce did not disable it. */
	must(store_list_bounce(f->st, LIST, "demo@example.test", 3, &count,
	    &disabled, &err), err);
	assert_int_equal(count, 4);
	assert_false(disabled);
	memset(&r, 0, sizeof(r));
	must(store_list_members(f->st, LIST, rows_cb, &r), NULL);
	assert_true(STARTS(r.text, "demo@example.test\tdisabled\t4\t"));
	/* Enabled again: the count starts over. */
	must(store_list_member_put(f->st, LIST, "demo@example.test", "active",
	    NULL, &err), err);
	memset(&r, 0, sizeof(r));
	must(store_list_members(f->st, LIST, rows_cb, &r), NULL);
	assert_true(STARTS(r.text, "demo@example.test\tactive\t0\t"));
	assert_int_equal(store_list_bounce(f->st, LIST, "x@example.test", 3,
	    &count, &disabled, &err), -1);
	assert_string_equal(err, "no such member");
}

/* ---- tokens ----------------------------------------------------------- */

static void
test_tokens_single_use_and_expiry(void **state)
{
	struct fixture *f = *state;
	char t1[LIST_TOKEN_LEN + 1], t2[LIST_TOKEN_LEN + 1];
	char t3[LIST_TOKEN_LEN + 1], list[LIST_ADDR_MAX + 1];
	char addr[LIST_ADDR_MAX + 1], action[16], meta[LIST_META_MAX + 1];
	const char *err = NULL;
	struct buf data;
	struct rows r;

	must(store_list_token_new(f->st, LIST, "dave@example.test",
	    "subscribe", 3600, NULL, 0, NULL, t1, &err), err);
	assert_int_equal(strlen(t1), LIST_TOKEN_LEN);
	/* A second request replaces the first token. */
	must(store_list_token_new(f->st, LIST, "dave@example.test",
	    "subscribe", 3600, NULL, 0, NULL, t2, &err), err);
	assert_string_not_equal(t1, t2);
	assert_int_equal(store_list_token_take(f->st, t1, list, addr, action,
	    NULL, NULL), 0);
	/* A held post keeps its data. */
	must(store_list_token_new(f->st, LIST, "out@client.test", "approve",
	    3600, (const uint8_t *)"Subject: x\r\n\r\nbody\r\n", 21,
	    "dmarc=reject 8bit=1 utf8=0", t3, &err), err);
	memset(&r, 0, sizeof(r));
	must(store_list_tokens(f->st, LIST, rows_cb, &r), NULL);
	assert_int_equal(r.n, 2);
	assert_non_null(strstr(r.text, "\tout@client.test\tapprove\t"));

	assert_int_equal(store_list_token_take(f->st, t2, list, addr, action,
	    NULL, NULL), 1);
	assert_string_equal(list, LIST);
	assert_string_equal(addr, "dave@example.test");
	assert_string_equal(action, "subscribe");
	/* Single use. */
	assert_int_equal(store_list_token_take(f->st, t2, list, addr, action,
	    NULL, NULL), 0);
	buf_init(&data, 1024);
	assert_int_equal(store_list_token_take(f->st, t3, list, addr, action,
	    &data, meta), 1);
	assert_string_equal(meta, "dmarc=reject 8bit=1 utf8=0");
	assert_string_equal(action, "approve");
	assert_int_equal(data.len, 21);
	assert_memory_equal(data.data, "Subject: x\r\n\r\nbody\r\n", 21);
	buf_deinit(&data);

	/* A token living 0 seconds is expired at once. */
	must(store_list_token_new(f->st, LIST, "erin@example.test",
	    "unsubscribe", 0, NULL, 0, NULL, t1, &err), err);
	assert_int_equal(store_list_token_take(f->st, t1, list, addr, action,
	    NULL, NULL), 0);
	memset(&r, 0, sizeof(r));
	must(store_list_tokens(f->st, LIST, rows_cb, &r), NULL);
	assert_int_equal(r.n, 0);
	assert_int_equal(store_list_token_take(f->st, "nonsense", list, addr,
	    action, NULL, NULL), 0);
}

static void
test_prune(void **state)
{
	struct fixture *f = *state;
	char t[LIST_TOKEN_LEN + 1], list[LIST_ADDR_MAX + 1];
	char addr[LIST_ADDR_MAX + 1], action[16];
	const char *err = NULL;
	unsigned tokens, pending;
	time_t now = time(NULL);

	/* a: pending without a token; b: its token expires in an hour; c:
	 * its token lives a day; d: active, never touched. */
	must(store_list_member_put(f->st, LIST, "a@example.test", "pending",
	    NULL, &err), err);
	must(store_list_member_put(f->st, LIST, "b@example.test", "pending",
	    NULL, &err), err);
	must(store_list_member_put(f->st, LIST, "c@example.test", "pending",
	    NULL, &err), err);
	must(store_list_member_put(f->st, LIST, "d@example.test", "active",
	    NULL, &err), err);
	must(store_list_token_new(f->st, LIST, "b@example.test", "subscribe",
	    3600, NULL, 0, NULL, t, &err), err);
	must(store_list_token_new(f->st, LIST, "c@example.test", "subscribe",
	    86400, NULL, 0, NULL, t, &err), err);
	must(store_list_token_new(f->st, LIST, "d@example.test", "approve",
	    3600, NULL, 0, NULL, t, &err), err);

	/* Now: only a (no token) goes. */
	assert_int_equal(store_list_prune(f->st, now, &tokens, &pending), 0);
	assert_int_equal(tokens, 0);
	assert_int_equal(pending, 1);
	assert_string_equal(state_of(f->st, "a@example.test"), "");
	assert_string_equal(state_of(f->st, "b@example.test"), "pending");

	/* Two hours on: b's and d's tokens are expired, b goes with its. */
	assert_int_equal(store_list_prune(f->st, now + 7200, &tokens,
	    &pending), 0);
	assert_int_equal(tokens, 2);
	assert_int_equal(pending, 1);
	assert_string_equal(state_of(f->st, "b@example.test"), "");
	assert_string_equal(state_of(f->st, "c@example.test"), "pending");
	assert_string_equal(state_of(f->st, "d@example.test"), "active");
	assert_int_equal(store_list_token_take(f->st, t, list, addr, action,
	    NULL, NULL), 0);
	/* Nothing more to do. */
	assert_int_equal(store_list_prune(f->st, now + 7200, &tokens,
	    &pending), 0);
	assert_int_equal(tokens + pending, 0);
}

/* Review finding 1: a confirmation whose action fails (here the queue
 * cannot be written: no queue/ directory yet) keeps its token, and the
 * retry does the action. */
static void
test_confirm_failure_keeps_token(void **state)
{
	struct fixture *f = *state;
	static const char post[] = "Subject: held\r\n\r\nbody\r\n";
	char tok[LIST_TOKEN_LEN + 1], path[256];
	struct config *cfg = calloc(1, sizeof(*cfg));
	const char *err = NULL;
	struct rows r;

	assert_non_null(cfg);
	config_defaults(cfg);
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", f->dir);
	must(store_list_token_new(f->st, LIST, "out@client.test", "approve",
	    3600, (const uint8_t *)post, sizeof(post) - 1, NULL, tok, &err), err);
	must(store_list_token_new(f->st, LIST, "dave@example.test",
	    "subscribe", 3600, NULL, 0, NULL, tok + 0, &err), err);
	/* Both tokens: the subscribe one is in tok, the approve one is
	 * looked up below. */
	assert_int_equal(list_request_confirm(f->st, cfg, NULL, tok, "t"), 1);
	assert_string_equal(state_of(f->st, "dave@example.test"), "active");
	memset(&r, 0, sizeof(r));
	must(store_list_tokens(f->st, LIST, rows_cb, &r), NULL);
	assert_int_equal(r.n, 1);
	memcpy(tok, r.text, LIST_TOKEN_LEN);
	tok[LIST_TOKEN_LEN] = '\0';
	assert_int_equal(list_request_confirm(f->st, cfg, NULL, tok, "t"), -1);
	memset(&r, 0, sizeof(r));
	must(store_list_tokens(f->st, LIST, rows_cb, &r), NULL);
	assert_int_equal(r.n, 1);
	assert_non_null(strstr(r.text, "\tout@client.test\tapprove\t"));
	/* The queue is there now: the retry queues the post. */
	snprintf(path, sizeof(path), "%s/queue", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/queue/tmp", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/queue/msg", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(list_request_confirm(f->st, cfg, NULL, tok, "t"), 1);
	memset(&r, 0, sizeof(r));
	must(store_list_tokens(f->st, LIST, rows_cb, &r), NULL);
	assert_int_equal(r.n, 0);
	assert_int_equal(list_request_confirm(f->st, cfg, NULL, tok, "t"), 0);
	free(cfg);
}

/* Review finding 3: a list's own address (any role, any list) as its
 * moderator would mail the list itself. */
static void
test_moderator_not_a_list_address(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = { "team@example.test",
	    "team-owner@example.test", "TEAM-request@example.test",
	    "team-bounces+a=b.test@example.test", "other@example.test" };
	struct list_info li;
	const char *err = NULL;
	char to[LIST_ADDR_MAX + 16];
	size_t i;

	memset(&li, 0, sizeof(li));
	snprintf(li.address, sizeof(li.address), "other@example.test");
	must(store_list_add(f->st, &li, &err), err);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (store_list_set(f->st, LIST, "moderator", bad[i], &err) != -1)
			fail_msg("%s accepted as moderator", bad[i]);
		assert_non_null(strstr(err, "list address"));
	}
	must(store_list_set(f->st, LIST, "moderator", "later@example.test",
	    &err), err);
	must(store_list_get(f->st, LIST, &li, &err), err);
	assert_int_equal(list_owner_address(f->st, &li, to, sizeof(to)), 0);
	assert_string_equal(to, "later@example.test");
	/* A list made later at the moderator's address: the owner's mail
	 * goes to the postmaster instead of into the loop. */
	memset(&li, 0, sizeof(li));
	snprintf(li.address, sizeof(li.address), "later@example.test");
	must(store_list_add(f->st, &li, &err), err);
	must(store_list_get(f->st, LIST, &li, &err), err);
	assert_int_equal(list_owner_address(f->st, &li, to, sizeof(to)), 0);
	assert_string_equal(to, "postmaster@example.test");
}

/* rename(2) as queue_write calls it: from the test, the n-th call (1:
 * the first) fails with ENOSPC; 0 never. */
static int rename_fail_at;

int
rename(const char *from, const char *to)
{
	if (rename_fail_at > 0 && --rename_fail_at == 0) {
		errno = ENOSPC;
		return -1;
	}
	return renameat(AT_FDCWD, from, AT_FDCWD, to);
}

/* A config whose data_dir is f's, with the queue directories. */
static struct config *
queue_config(const struct fixture *f)
{
	static const char *const subs[] = { "queue", "queue/tmp", "queue/msg",
	    "queue/state" };
	struct config *cfg = calloc(1, sizeof(*cfg));
	char path[256];
	size_t i;

	assert_non_null(cfg);
	config_defaults(cfg);
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", f->dir);
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, subs[i]);
		assert_int_equal(mkdir(path, 0700), 0);
	}
	return cfg;
}

static int
queued_count(const struct fixture *f)
{
	char path[256];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/queue/msg", f->dir);
	assert_non_null(d = opendir(path));
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	(void)closedir(d);
	return n;
}

/* Review finding 7: a post whose third copy cannot be queued leaves no
 * copy behind (the retry writes them all again), and the retry queues
 * one per member. */
static void
test_expand_failure_leaves_no_copies(void **state)
{
	struct fixture *f = *state;
	static const char post[] = "From: a@example.test\r\nSubject: hi\r\n"
	    "\r\nbody\r\n";
	static const char *const members[] = { "a@example.test",
	    "b@example.test", "c@example.test", "d@example.test" };
	struct config *cfg = queue_config(f);
	struct queue_envelope env;
	const char *err = NULL;
	char reason[256];
	size_t i;

	must(store_list_set(f->st, LIST, "post", "anyone", &err), err);
	for (i = 0; i < 4; i++)
		must(store_list_member_put(f->st, LIST, members[i], "active",
		    NULL, &err), err);
	memset(&env, 0, sizeof(env));
	snprintf(env.id, sizeof(env.id), "test-expand");
	env.from = "a@example.test";
	env.service = "smtp";
	env.session = "t";
	rename_fail_at = 3;
	assert_int_equal(list_deliver(f->st, cfg, &env,
	    (const uint8_t *)post, sizeof(post) - 1, "team", "example.test",
	    reason, sizeof(reason)), LIST_TEMP);
	assert_true(STARTS(reason, "4.3.0 queue write failed"));
	assert_int_equal(queued_count(f), 0);
	rename_fail_at = 0;
	assert_int_equal(list_deliver(f->st, cfg, &env,
	    (const uint8_t *)post, sizeof(post) - 1, "team", "example.test",
	    reason, sizeof(reason)), LIST_DONE);
	assert_int_equal(queued_count(f), 4);
	free(cfg);
}

/* Review finding 6: an approved post keeps the envelope it was held
 * with: the author's DMARC policy (From: rewriting), 8BITMIME,
 * SMTPUTF8. */
static void
test_approved_post_keeps_envelope(void **state)
{
	struct fixture *f = *state;
	static const char post[] = "From: a@client.test\r\nSubject: h\r\n"
	    "\r\nbody\r\n";
	struct config *cfg = queue_config(f);
	struct queue_envelope env, got;
	struct list_info li;
	const char *err = NULL;
	char reason[256], tok[LIST_TOKEN_LEN + 1], path[512];
	struct rows r;
	struct buf data;
	struct dirent *e;
	size_t off;
	DIR *d;
	int found = 0;

	must(store_list_set(f->st, LIST, "post", "moderated", &err), err);
	must(store_list_get(f->st, LIST, &li, &err), err);
	memset(&env, 0, sizeof(env));
	snprintf(env.id, sizeof(env.id), "test-held");
	env.from = "a@client.test";
	env.session = "t";
	env.author_dmarc = "reject";
	env.eightbit = true;
	env.smtputf8 = true;
	assert_int_equal(list_request_hold(f->st, cfg, &env, &li,
	    (const uint8_t *)post, sizeof(post) - 1, reason, sizeof(reason)),
	    LIST_DONE);
	memset(&r, 0, sizeof(r));
	must(store_list_tokens(f->st, LIST, rows_cb, &r), NULL);
	memcpy(tok, r.text, LIST_TOKEN_LEN);
	tok[LIST_TOKEN_LEN] = '\0';
	assert_int_equal(list_request_confirm(f->st, cfg, NULL, tok, "t"), 1);
	snprintf(path, sizeof(path), "%s/queue/msg", f->dir);
	assert_non_null(d = opendir(path));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/queue/msg/%s", f->dir,
		    e->d_name);
		buf_init(&data, 1 << 20);
		assert_int_equal(queue_read_file(path, 1 << 20, &data), 0);
		memset(&got, 0, sizeof(got));
		assert_int_equal(queue_envelope_parse(data.data, data.len, &got,
		    &off, &err), 0);
		if (strcmp(got.service, "list-approved") == 0) {
			found++;
			assert_non_null(got.author_dmarc);
			assert_string_equal(got.author_dmarc, "reject");
			assert_true(got.eightbit);
			assert_true(got.smtputf8);
			assert_string_equal(got.from, "a@client.test");
		}
		queue_envelope_free(&got);
		buf_deinit(&data);
	}
	(void)closedir(d);
	assert_int_equal(found, 1);
	free(cfg);
}

/* Review finding 4: subscription requests and held posts have caps of
 * their own: a flood of forged subscribe requests leaves held posts
 * (and the other way round) working. */
static void
test_token_caps_per_action(void **state)
{
	struct fixture *f = *state;
	char tok[LIST_TOKEN_LEN + 1], addr[64];
	const char *err = NULL;
	int i;

	for (i = 0; i < LIST_PENDING_MAX; i++) {
		snprintf(addr, sizeof(addr), "x%d@client.test", i);
		must(store_list_token_new(f->st, LIST, addr, "subscribe",
		    3600, NULL, 0, NULL, tok, &err), err);
	}
	err = NULL;
	assert_int_equal(store_list_token_new(f->st, LIST, "y@client.test",
	    "unsubscribe", 3600, NULL, 0, NULL, tok, &err), -1);
	assert_non_null(strstr(err, "too many pending confirmations"));
	/* A held post still is: its own cap. */
	must(store_list_token_new(f->st, LIST, "y@client.test", "approve",
	    3600, (const uint8_t *)"x", 1, NULL, tok, &err), err);
}

/* Review finding 12: RCPT accepts exactly the role addresses delivery
 * knows (one parser): no empty or over-long "+ARG", and account / alias
 * names of lists are seen as lists. */
static void
test_rcpt_check_agrees_with_roles(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char		*local;
		enum store_rcpt_result	 want;
	} cases[] = {
		{ "team", STORE_RCPT_OK },
		{ "Team-Owner", STORE_RCPT_OK },
		{ "team-bounces", STORE_RCPT_OK },
		{ "team-bounces+a=b.test+0123456789", STORE_RCPT_OK },
		{ "team-bounces+", STORE_RCPT_NO_SUCH_USER },
		{ "team-confirm+", STORE_RCPT_NO_SUCH_USER },
		{ "team-request+x", STORE_RCPT_NO_SUCH_USER },
		{ "team-nothing", STORE_RCPT_NO_SUCH_USER },
	};
	enum store_rcpt_result r;
	char longarg[LIST_ARG_MAX + 32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(store_rcpt_check(f->st, cases[i].local,
		    "example.test", &r), 0);
		if (r != cases[i].want)
			fail_msg("%s: %d, want %d", cases[i].local, r,
			    cases[i].want);
	}
	snprintf(longarg, sizeof(longarg), "team-confirm+");
	memset(longarg + 13, 'a', LIST_ARG_MAX + 1);
	longarg[13 + LIST_ARG_MAX + 1] = '\0';
	assert_int_equal(store_rcpt_check(f->st, longarg, "example.test", &r),
	    0);
	assert_int_equal(r, STORE_RCPT_NO_SUCH_USER);
	assert_int_equal(store_list_address_used(f->st,
	    "TEAM-unsubscribe@example.test"), 1);
	assert_int_equal(store_list_address_used(f->st,
	    "teammate@example.test"), 0);
}

/* Review finding 11: the display name is printable ASCII without the
 * characters that break its quoting (it is written into List-Id and
 * From: as it is). */
static void
test_list_name_printable(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = { "a\tb", "trailing\\", "x\"y",
	    "\xc3\xa9quipe", "a<b>", "line\r\nbreak" };
	struct list_info li;
	const char *err = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (store_list_set(f->st, LIST, "name", bad[i], &err) != -1)
			fail_msg("name %zu accepted", i);
		assert_non_null(strstr(err, "printable ASCII"));
	}
	memset(&li, 0, sizeof(li));
	snprintf(li.address, sizeof(li.address), "other@example.test");
	snprintf(li.name, sizeof(li.name), "tab\there");
	assert_int_equal(store_list_add(f->st, &li, &err), -1);
	assert_non_null(strstr(err, "printable ASCII"));
	must(store_list_set(f->st, LIST, "name", "Team talk (2026)! #1",
	    &err), err);
	must(store_list_get(f->st, LIST, &li, &err), err);
	assert_string_equal(li.name, "Team talk (2026)! #1");
}

/* ---- who may post ----------------------------------------------------- */

static void
test_rcpt_policy(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	char text[256];
	int code;

	must(store_list_set(f->st, LIST, "max_size", "1K", &err), err);
	/* The null sender: never a post. */
	assert_int_equal(store_list_rcpt_policy(f->st, "team", "example.test",
	    "", 0, &code, text, sizeof(text)), 1);
	assert_int_equal(code, 550);
	assert_non_null(strstr(text, "5.7.1"));
	/* Anyone else: decided at the end of DATA. */
	assert_int_equal(store_list_rcpt_policy(f->st, "team", "example.test",
	    "out@client.test", 0, &code, text, sizeof(text)), 0);
	assert_int_equal(store_list_rcpt_policy(f->st, "team", "example.test",
	    "out@client.test", 5000, &code, text, sizeof(text)), 1);
	assert_int_equal(code, 552);
	/* Not the post address, not a list: nothing to say. */
	assert_int_equal(store_list_rcpt_policy(f->st, "team-request",
	    "example.test", "", 0, &code, text, sizeof(text)), 0);
	assert_int_equal(store_list_rcpt_policy(f->st, "carol",
	    "example.test", "", 0, &code, text, sizeof(text)), 0);
	must(store_list_set(f->st, LIST, "post", "anyone", &err), err);
	assert_int_equal(store_list_rcpt_policy(f->st, "team", "example.test",
	    "", 0, &code, text, sizeof(text)), 0);
}

#define MSG(from) ("Subject: hi\r\nFrom: " from "\r\nTo: team\r\n\r\n" \
	"From: carol@example.test\r\n")

static void
test_may_post_envelope_or_from(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char	*sender;
		const char	*msg;
		int		 want;
	} cases[] = {
		{ "carol@example.test", MSG("out@client.test"), 1 },
		{ "out@client.test", MSG("Carol <CAROL@example.test>"), 1 },
		{ "out@client.test", MSG("x@y.test, carol@example.test"), 1 },
		{ "out@client.test", MSG("mod@example.test"), 1 },
		{ "out@client.test", MSG("out@client.test"), 0 },
		/* A From: in the body is not the author. */
		{ "out@client.test", MSG("nobody@client.test"), 0 },
		{ "out@client.test", MSG("dis@example.test"), 0 },
		{ "out@client.test", MSG("pend@example.test"), 0 },
		{ "out@client.test", MSG("g: carol@example.test;"), 1 },
		{ "out@client.test", MSG("\"carol@example.test\" <o@x.test>"),
		    0 },
		{ "", MSG("carol@example.test"), 0 },
		{ "out@client.test", "no header section at all", 0 },
	};
	struct list_info li;
	const char *err = NULL;
	size_t i;
	int r;

	must(store_list_member_put(f->st, LIST, "carol@example.test",
	    "active", NULL, &err), err);
	must(store_list_member_put(f->st, LIST, "dis@example.test",
	    "disabled", NULL, &err), err);
	must(store_list_member_put(f->st, LIST, "pend@example.test",
	    "pending", NULL, &err), err);
	must(store_list_set(f->st, LIST, "moderator", "mod@example.test",
	    &err), err);
	must(store_list_get(f->st, LIST, &li, &err), err);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = list_may_post(f->st, &li, cases[i].sender,
		    (const uint8_t *)cases[i].msg, strlen(cases[i].msg));
		if (r != cases[i].want)
			fail_msg("case %zu (%s / %s): %d, want %d", i,
			    cases[i].sender, cases[i].msg, r, cases[i].want);
	}
}

static void
test_data_policy(void **state)
{
	struct fixture *f = *state;
	char r1[] = "carol@example.test", r2[] = "TEAM@example.test";
	char r3[] = "team-request@example.test";
	char *both[] = { r1, r2 }, *req[] = { r3 };
	const char *err = NULL, *msg = MSG("out@client.test");
	char text[256];

	must(store_list_member_put(f->st, LIST, "carol@example.test",
	    "active", NULL, &err), err);
	text[0] = '\0';
	assert_int_equal(list_data_policy(f->st, both, 2, "out@client.test",
	    (const uint8_t *)msg, strlen(msg), text, sizeof(text)), 1);
	assert_non_null(strstr(text, "5.7.1 <team@example.test>"));
	assert_int_equal(list_data_policy(f->st, both, 2,
	    "carol@example.test", (const uint8_t *)msg, strlen(msg), text,
	    sizeof(text)), 0);
	/* The service addresses take mail from anyone. */
	assert_int_equal(list_data_policy(f->st, req, 1, "out@client.test",
	    (const uint8_t *)msg, strlen(msg), text, sizeof(text)), 0);
	must(store_list_set(f->st, LIST, "post", "anyone", &err), err);
	assert_int_equal(list_data_policy(f->st, both, 2, "out@client.test",
	    (const uint8_t *)msg, strlen(msg), text, sizeof(text)), 0);
}

struct got {
	int	n;
	char	text[256];
};

static void
got_post(void *ctx, int64_t id, time_t t, const uint8_t *data, size_t len)
{
	struct got *g = ctx;
	size_t l = strlen(g->text);

	(void)id;
	(void)t;
	snprintf(g->text + l, sizeof(g->text) - l, "%.*s;", (int)len,
	    (const char *)data);
	g->n++;
}

/* Options, modes, keeping a post once, claiming, releasing, deleting. */
static void
test_digest_storage(void **state)
{
	struct fixture *f = *state;
	struct list_info li;
	const char *err = NULL;
	struct rows r;
	struct got g;
	uint64_t waiting, issue, posts, octets;
	size_t n;
	unsigned pruned;
	time_t now = time(NULL);

	must(store_list_get(f->st, LIST, &li, &err), err);
	assert_false(li.digest);
	assert_int_equal(li.digest_size, LIST_DIGEST_SIZE_DEFAULT);
	assert_int_equal(li.digest_interval, LIST_DIGEST_INTERVAL_DEFAULT);
	must(store_list_member_put(f->st, LIST, "carol@example.test",
	    "active", NULL, &err), err);
	must(store_list_member_put(f->st, LIST, "dave@example.test",
	    "active", NULL, &err), err);
	/* No digest offered: no digest mode. */
	assert_int_equal(store_list_member_mode(f->st, LIST,
	    "carol@example.test", "digest", &err), -1);
	assert_non_null(strstr(err, "no digest"));
	assert_int_equal(store_list_set(f->st, LIST, "digest", "maybe",
	    &err), -1);
	assert_int_equal(store_list_set(f->st, LIST, "digest_size", "65M",
	    &err), -1);
	assert_int_equal(store_list_set(f->st, LIST, "digest_interval", "5s",
	    &err), -1);
	must(store_list_set(f->st, LIST, "digest", "on", &err), err);
	must(store_list_set(f->st, LIST, "digest_size", "1K", &err), err);
	must(store_list_set(f->st, LIST, "digest_interval", "2h", &err), err);
	must(store_list_get(f->st, LIST, &li, &err), err);
	assert_true(li.digest);
	assert_int_equal(li.digest_size, 1024);
	assert_int_equal(li.digest_interval, 7200);
	must(store_list_member_mode(f->st, LIST, "carol@example.test",
	    "digest", &err), err);
	assert_int_equal(store_list_member_mode(f->st, LIST,
	    "nobody@example.test", "digest", &err), -1);
	assert_string_equal(err, "no such member");
	assert_int_equal(store_list_member_mode(f->st, LIST,
	    "dave@example.test", "weekly", &err), -1);
	memset(&r, 0, sizeof(r));
	must(store_list_members(f->st, LIST, rows_cb, &r), NULL);
	assert_non_null(strstr(r.text, "carol@example.test\tactive"));
	assert_non_null(strstr(r.text, "\tdigest\n"));
	assert_non_null(strstr(r.text, "\teach\n"));
	must(store_list_digest_members(f->st, LIST, &n), NULL);
	assert_int_equal(n, 1);

	/* Kept once per post id; nothing due yet (small, recent). */
	must(store_list_digest_add(f->st, LIST, "q1", now - 10,
	    (const uint8_t *)"AAAA", 4, &waiting, &err), err);
	must(store_list_digest_add(f->st, LIST, "q1", now - 10,
	    (const uint8_t *)"AAAA", 4, &waiting, &err), err);
	assert_int_equal(waiting, 4);
	must(store_list_digest_add(f->st, LIST, "q2", now,
	    (const uint8_t *)"BB", 2, &waiting, &err), err);
	assert_int_equal(waiting, 6);
	must(store_list_digest_pending(f->st, LIST, &posts, &octets), NULL);
	assert_int_equal(posts, 2);
	assert_int_equal(octets, 6);
	memset(&r, 0, sizeof(r));
	must(store_list_digest_due(f->st, now, rows_cb, &r), NULL);
	assert_int_equal(r.n, 0);
	/* Due once the oldest waited digest_interval. */
	memset(&r, 0, sizeof(r));
	must(store_list_digest_due(f->st, now + 7200, rows_cb, &r), NULL);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.text, LIST "\n");

	/* A claim takes both, oldest first; a second claim finds none
	 * and spends no issue number. */
	memset(&g, 0, sizeof(g));
	/* A size bound takes the oldest that fit (always the first);
	 * the rest wait for the next issue. */
	assert_int_equal(store_list_digest_claim(f->st, LIST, now, 5, &issue,
	    got_post, &g), 1);
	assert_int_equal(issue, 1);
	assert_string_equal(g.text, "AAAA;");
	must(store_list_digest_release(f->st, LIST, 1), NULL);
	memset(&g, 0, sizeof(g));
	assert_int_equal(store_list_digest_claim(f->st, LIST, now, 3, &issue,
	    got_post, &g), 1);
	assert_string_equal(g.text, "AAAA;");
	must(store_list_digest_release(f->st, LIST, issue), NULL);
	memset(&g, 0, sizeof(g));
	assert_int_equal(store_list_digest_claim(f->st, LIST, now, 1000,
	    &issue, got_post, &g), 2);
	assert_int_equal(issue, 3);
	assert_string_equal(g.text, "AAAA;BB;");
	memset(&g, 0, sizeof(g));
	assert_int_equal(store_list_digest_claim(f->st, LIST, now, 1000,
	    &issue, got_post, &g), 0);
	/* Released (the send failed): the next claim takes them again,
	 * as the next issue. */
	must(store_list_digest_release(f->st, LIST, 3), NULL);
	memset(&g, 0, sizeof(g));
	assert_int_equal(store_list_digest_claim(f->st, LIST, now, 1000,
	    &issue, got_post, &g), 2);
	assert_int_equal(issue, 4);
	/* A claim a crash left behind is taken again after the TTL. */
	memset(&g, 0, sizeof(g));
	assert_int_equal(store_list_digest_claim(f->st, LIST,
	    now + LIST_DIGEST_CLAIM_TTL, 1000, &issue, got_post, &g), 2);
	assert_int_equal(issue, 5);
	must(store_list_digest_done(f->st, LIST, 5), NULL);
	must(store_list_digest_pending(f->st, LIST, &posts, &octets), NULL);
	assert_int_equal(posts, 0);
	/* A post sent in a digest and added again (its expansion retried)
	 * stays out of the next one, and nothing is due for it ... */
	must(store_list_digest_add(f->st, LIST, "q1", now,
	    (const uint8_t *)"AAAA", 4, &waiting, &err), err);
	assert_int_equal(waiting, 0);
	must(store_list_digest_pending(f->st, LIST, &posts, &octets), NULL);
	assert_int_equal(posts, 0);
	memset(&r, 0, sizeof(r));
	must(store_list_digest_due(f->st, now + 86400, rows_cb, &r), NULL);
	assert_int_equal(r.n, 0);
	memset(&g, 0, sizeof(g));
	assert_int_equal(store_list_digest_claim(f->st, LIST, now, 1000,
	    &issue, got_post, &g), 0);
	/* ... until the marker is pruned (past any retry). */
	must(store_list_digest_prune(f->st, now - 11, &pruned), NULL);
	assert_int_equal(pruned, 0);
	must(store_list_digest_prune(f->st, now + 1, &pruned), NULL);
	assert_int_equal(pruned, 2);
	must(store_list_digest_add(f->st, LIST, "q1", now,
	    (const uint8_t *)"AAAA", 4, &waiting, &err), err);
	assert_int_equal(waiting, 4);
	memset(&g, 0, sizeof(g));
	assert_int_equal(store_list_digest_claim(f->st, LIST, now, 1000,
	    &issue, got_post, &g), 1);
	must(store_list_digest_done(f->st, LIST, issue), NULL);

	/* digest off: what waits is due at once. */
	must(store_list_digest_add(f->st, LIST, "q3", now,
	    (const uint8_t *)"C", 1, &waiting, &err), err);
	must(store_list_set(f->st, LIST, "digest", "off", &err), err);
	memset(&r, 0, sizeof(r));
	must(store_list_digest_due(f->st, now, rows_cb, &r), NULL);
	assert_int_equal(r.n, 1);
	/* Deleting the list deletes its waiting posts. */
	must(store_list_del(f->st, LIST, &err), err);
	memset(&r, 0, sizeof(r));
	must(store_list_digest_due(f->st, now + 86400 * 400, rows_cb, &r),
	    NULL);
	assert_int_equal(r.n, 0);
}

/* The per-list cap: past LIST_DIGEST_TOTAL_MAX octets nothing more is
 * kept. */
static void
test_digest_cap(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	uint64_t waiting;
	uint8_t *big = calloc(1, LIST_DIGEST_TOTAL_MAX);

	assert_non_null(big);
	must(store_list_digest_add(f->st, LIST, "big", time(NULL), big,
	    LIST_DIGEST_TOTAL_MAX, &waiting, &err), err);
	assert_int_equal(waiting, LIST_DIGEST_TOTAL_MAX);
	assert_int_equal(store_list_digest_add(f->st, LIST, "more",
	    time(NULL), big, 1, &waiting, &err), -1);
	assert_non_null(strstr(err, "too many octets"));
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list_add_get_set_del,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_lookup_roles, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_members, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounces_disable_at_limit,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_tokens_single_use_and_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_confirm_failure_keeps_token, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_moderator_not_a_list_address, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_expand_failure_leaves_no_copies, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_approved_post_keeps_envelope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_caps_per_action,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_rcpt_check_agrees_with_roles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_name_printable,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rcpt_policy, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_may_post_envelope_or_from, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_policy, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_digest_storage, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_digest_cap, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
