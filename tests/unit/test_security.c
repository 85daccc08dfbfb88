/* test_security: the pieces of screening and hijack detection that are
 * not the matcher or the shared map: session references and traces, the
 * rejected log with its references and retention, account security in
 * the store (known login addresses, first-time recipients, freezes and
 * their single-use tokens), the token in a reply's subject, and the
 * [dynamic]/[hijack] rate syntax of the config file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "hijack.h"
#include "store.h"
#include "store_security.h"
#include "trace.h"
#include "tmpdir.h"

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
		    "%s%s", cols[i], i + 1 < ncols ? "\t" : "\n") > 0);
	}
	r->n++;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *err = NULL;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/moat-test-sec-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(store_open(f->dir, &f->st, &err), 0);
	assert_int_equal(store_domain_add(f->st, "example.test", &err), 0);
	assert_int_equal(store_account_add(f->st, "demo@example.test",
	    "$y$j9T$salt$hash", NULL, &err), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_close(&f->st);
	assert_int_equal(tmpdir_remove(f->dir), 0);
	free(f);
	return 0;
}

static void
test_ref(void **state)
{
	char a[TRACE_REF_LEN + 1], b[TRACE_REF_LEN + 1], c[TRACE_REF_LEN + 1];
	size_t i;

	(void)state;
	trace_ref("96909f7cdd7356ae", a);
	trace_ref("96909f7cdd7356ae", b);
	trace_ref("96909f7cde7356ae", c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);	/* the 10th hex digit counts */
	assert_int_equal(strlen(a), TRACE_REF_LEN);
	for (i = 0; i < TRACE_REF_LEN; i++)
		assert_null(strchr("ILOU", a[i]));
	trace_ref("0000000000000000", a);
	assert_string_equal(a, "00000000");
}

static void
test_trace_bounded(void **state)
{
	struct trace t = { 0 };
	char big[2000];
	int i;

	(void)state;
	assert_string_equal(trace_text(&t), "");
	trace_add(&t, "connect", "ip=%s bad=%s", "192.0.2.1", "a\nb\x01");
	assert_non_null(strstr(trace_text(&t), "connect: ip=192.0.2.1 "
	    "bad=a?b?\n"));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (i = 0; i < 100; i++)
		trace_add(&t, "check", "%s", big);
	assert_true(t.len < TRACE_MAX);
	assert_true(t.dropped > 0);
	trace_free(&t);
	assert_int_equal(t.len, 0);
}

static void
test_reject_log_refs(void **state)
{
	struct fixture *f = *state;
	struct store_reject rej = {
		.time = time(NULL), .session = "96909f7cdd7356ae",
		.service = "smtp", .ip = "192.0.2.9", .rdns = "h.dyn.example",
		.code = 554, .rule = "deny ip 192.0.2.0/24 #3",
		.reason = "5.7.1 access denied [ref AAAA]", .ref = "AAAA0000",
	};
	struct store_reject_query q = { .limit = 10 };
	struct rows r = { .n = 0 };
	bool found;

	assert_int_equal(store_reject_log(f->st, &rej), 0);
	rej.ip = "192.0.2.10";
	rej.rule = "ban auth_fail 21/60s";
	rej.ref = "BBBB0000";
	rej.shadow = true;
	assert_int_equal(store_reject_log(f->st, &rej), 0);
	assert_int_equal(store_trace_put(f->st, "AAAA0000", rej.session,
	    rej.time, "00:00:00.000 connect: ip=192.0.2.9\n"), 0);
	assert_int_equal(store_reject_list(f->st, &q, rows_cb, &r), 0);
	assert_int_equal(r.n, 2);
	/* newest first; 13 columns; shadow marked */
	assert_non_null(strstr(r.text, "\tBBBB0000\tshadow\n"));
	q.rule = "BAN";
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_reject_list(f->st, &q, rows_cb, &r), 0);
	assert_int_equal(r.n, 1);
	assert_non_null(strstr(r.text, "192.0.2.10"));
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_reject_show(f->st, "AAAA0000", rows_cb, &r,
	    &found), 0);
	assert_true(found);
	assert_int_equal(r.n, 2);	/* the trace, then the row */
	assert_non_null(strstr(r.text, "connect: ip=192.0.2.9"));
	assert_non_null(strstr(r.text, "h.dyn.example"));
	assert_int_equal(store_reject_show(f->st, "ZZZZ0000", rows_cb, &r,
	    &found), 0);
	assert_false(found);
	/* retention */
	assert_int_equal(store_reject_prune(f->st, time(NULL) + 10), 0);
	memset(&r, 0, sizeof(r));
	q.rule = NULL;
	assert_int_equal(store_reject_list(f->st, &q, rows_cb, &r), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(store_reject_show(f->st, "AAAA0000", rows_cb, &r,
	    &found), 0);
	assert_false(found);
}

static void
test_account_ips_and_first_rcpts(void **state)
{
	struct fixture *f = *state;
	char *rcpts[] = { "a@x.example", "b@x.example", "A@X.example" };
	unsigned fresh;
	bool known;

	assert_int_equal(store_account_ip_known(f->st, "demo@example.test",
	    "192.0.2.1", &known), 0);
	assert_false(known);
	assert_int_equal(store_account_ip_record(f->st, "demo@example.test",
	    "192.0.2.1", 100), 0);
	assert_int_equal(store_account_ip_record(f->st, "DEMO@example.test",
	    "192.0.2.1", 200), 0);
	assert_int_equal(store_account_ip_known(f->st, "demo@example.test",
	    "192.0.2.1", &known), 0);
	assert_true(known);
	assert_int_equal(store_account_ip_known(f->st, "demo@example.test",
	    "192.0.2.2", &known), 0);
	assert_false(known);
	/* the third is the first in another case: not new */
	assert_int_equal(store_sent_rcpts(f->st, "demo@example.test", rcpts,
	    3, 100, &fresh), 0);
	assert_int_equal(fresh, 2);
	assert_int_equal(store_sent_rcpts(f->st, "demo@example.test", rcpts,
	    2, 101, &fresh), 0);
	assert_int_equal(fresh, 0);
}

static void
test_freeze_token(void **state)
{
	struct fixture *f = *state;
	char token[STORE_TOKEN_LEN + 1], again[STORE_TOKEN_LEN + 1];
	char who[320], reason[64];
	const char *err = NULL;
	struct rows r = { .n = 0 };
	bool was, frozen;

	assert_int_equal(store_account_freeze(f->st, "nobody@example.test",
	    "x", 1, token, &was, &err), -1);
	assert_int_equal(store_account_freeze(f->st, "demo@example.test",
	    "4 messages in 60s", 1, token, &was, &err), 0);
	assert_false(was);
	assert_int_equal(strlen(token), STORE_TOKEN_LEN);
	assert_int_equal(store_account_freeze(f->st, "demo@example.test",
	    "again", 2, again, &was, &err), 0);
	assert_true(was);
	assert_string_equal(token, again);	/* the first one stands */
	assert_int_equal(store_account_frozen(f->st, "demo@example.test",
	    &frozen, reason, sizeof(reason)), 0);
	assert_true(frozen);
	assert_string_equal(reason, "4 messages in 60s");
	assert_int_equal(store_frozen_list(f->st, rows_cb, &r), 0);
	assert_int_equal(r.n, 1);
	/* a wrong token does nothing, the right one works once */
	assert_int_equal(store_unfreeze_by_token(f->st,
	    "00000000000000000000000000000000", who, sizeof(who)), 1);
	assert_int_equal(store_unfreeze_by_token(f->st, "short", who,
	    sizeof(who)), 1);
	assert_int_equal(store_unfreeze_by_token(f->st, token, who,
	    sizeof(who)), 0);
	assert_string_equal(who, "demo@example.test");
	assert_int_equal(store_unfreeze_by_token(f->st, token, who,
	    sizeof(who)), 1);
	assert_int_equal(store_account_frozen(f->st, "demo@example.test",
	    &frozen, NULL, 0), 0);
	assert_false(frozen);
	assert_int_equal(store_account_unfreeze(f->st, "demo@example.test",
	    &err), -1);
}

static void
test_subject_token(void **state)
{
	char t[STORE_TOKEN_LEN + 1];

	(void)state;
	assert_int_equal(hijack_subject_token("Re: Account a@b frozen "
	    "[unfreeze 0123456789abcdef0123456789abcdef] RELEASE", t,
	    sizeof(t)), 0);
	assert_string_equal(t, "0123456789abcdef0123456789abcdef");
	assert_int_equal(hijack_subject_token("Re: UNFREEZE "
	    "0123456789abcdef0123456789abcdef", t, sizeof(t)), 0);
	assert_int_equal(hijack_subject_token("[unfreeze 0123]", t,
	    sizeof(t)), -1);
	assert_int_equal(hijack_subject_token("[unfreeze "
	    "0123456789ABCDEF0123456789abcdef]", t, sizeof(t)), -1);
	assert_int_equal(hijack_subject_token(NULL, t, sizeof(t)), -1);
	assert_int_equal(hijack_subject_token("nothing here", t, sizeof(t)),
	    -1);
}

static int
load(const char *text, struct config *cfg, char *err, size_t errlen)
{
	char path[] = "/tmp/moat-test-sec-conf-XXXXXX";
	int fd = mkstemp(path), r;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	config_defaults(cfg);
	r = config_load(cfg, path, err, errlen);
	unlink(path);
	return r;
}

static void
test_config_rates(void **state)
{
	struct config *cfg = malloc(sizeof(*cfg));
	char err[512];

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(load("[server]\ndata_dir = /tmp/x\n"
	    "[dynamic]\nauth_fail = 5/30s\nunknown_rcpt_mode = shadow\n"
	    "connections = 0/1m\n"
	    "[hijack]\nmessages = 10/1m, 100/1h,1000/1d\nmode = shadow\n",
	    cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->dyn[DYNCFG_AUTH_FAIL].limit, 5);
	assert_int_equal(cfg->dyn[DYNCFG_AUTH_FAIL].window, 30);
	assert_int_equal(cfg->dyn_mode[DYNCFG_UNKNOWN_RCPT], MODE_SHADOW);
	assert_int_equal(cfg->dyn_mode[DYNCFG_AUTH_FAIL], MODE_ENFORCE);
	assert_int_equal(cfg->dyn[DYNCFG_CONNECT].limit, 0);
	assert_int_equal(cfg->nhj_messages, 3);
	assert_int_equal(cfg->hj_messages[1].limit, 100);
	assert_int_equal(cfg->hj_messages[2].window, 86400);
	assert_int_equal(cfg->hj_mode, MODE_SHADOW);
	/* defaults */
	assert_int_equal(cfg->dyn[DYNCFG_UNKNOWN_RCPT].limit, 100);
	assert_int_equal(cfg->ban_time, 600);
	/* errors name the key */
	assert_int_equal(load("[server]\ndata_dir = /tmp/x\n[dynamic]\n"
	    "auth_fail = 20\n", cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "auth_fail"));
	assert_int_equal(load("[server]\ndata_dir = /tmp/x\n[hijack]\n"
	    "messages = 1/1m, 2/1m, 3/1m, 4/1m\n", cfg, err, sizeof(err)), -1);
	assert_int_equal(load("[server]\ndata_dir = /tmp/x\n[dynamic]\n"
	    "auth_fail_mode = maybe\n", cfg, err, sizeof(err)), -1);
	assert_int_equal(load("[server]\ndata_dir = /tmp/x\n[dynamic]\n"
	    "ban_time = 2h\nban_max = 1h\n", cfg, err, sizeof(err)), -1);
	free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref),
		cmocka_unit_test(test_trace_bounded),
		cmocka_unit_test_setup_teardown(test_reject_log_refs, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_account_ips_and_first_rcpts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freeze_token, setup,
		    teardown),
		cmocka_unit_test(test_subject_token),
		cmocka_unit_test(test_config_rates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
