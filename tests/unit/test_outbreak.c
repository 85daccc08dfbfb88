/* test_outbreak: outbreak protection's fingerprints (src/filter/outbreak.c:
 * normalisation, near-identical texts sharing band keys, unrelated ones
 * not, attachment keys) and the shared table (outbreak_table.c: counting
 * distinct sources and recipients, the trip, window expiry, release,
 * eviction, sharing across fork()). */
#include <sys/wait.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "outbreak.h"
#include "tmpdir.h"

#define T0	((time_t)1700000000)

static char tmpdir[] = "/tmp/test_outbreak.XXXXXX";

static const char *names[] = { "alice", "bob", "carol", "dave", "erin",
	"frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj",
	"olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter",
	"yvonne" };

#define TEMPLATE_TEXT \
	"Dear %s,\r\n\r\nWe noticed unusual activity on your account number " \
	"%u. To keep your mailbox active please confirm your details within " \
	"24 hours by opening the secure form at " \
	"https://example.invalid/verify?id=%08x%08x and entering the code " \
	"%u. If you do not confirm, your account will be suspended and all " \
	"stored messages will be deleted permanently.\r\n\r\nThank you " \
	"for your cooperation,\r\nThe Security Team\r\n"

static size_t
make_message(char *buf, size_t len, unsigned i)
{
	char body[2048];
	int n;

	n = snprintf(body, sizeof(body), TEMPLATE_TEXT,
	    names[i % (sizeof(names) / sizeof(names[0]))], 1000 + i * 7919,
	    i * 2654435761u, i ^ 0xdeadbeef, 100000 + i);
	assert_true(n > 0 && (size_t)n < sizeof(body));
	n = snprintf(buf, len, "From: sec%u@example.net\r\nTo: x@example.test"
	    "\r\nSubject: account %u notice\r\n\r\n%s", i, i, body);
	assert_true(n > 0 && (size_t)n < len);
	return (size_t)n;
}

static unsigned
shared_keys(const struct outbreak_fp *a, const struct outbreak_fp *b)
{
	unsigned n = 0;
	size_t i, k;

	for (i = 0; i < a->nkeys; i++)
		for (k = 0; k < b->nkeys; k++)
			if (a->keys[i] == b->keys[k])
				n++;
	return n;
}

static void
test_normalise(void **state)
{
	const char *in = "Dear ALICE,  your order #12345 ships 2024-01-02.\n"
	    "<b>Track</b>: 9f8e7d6c5b4a3f2e1d0c or deadbeefcafebabe";
	struct buf out;
	const char *s;
	long n;

	(void)state;
	buf_init(&out, 4096);
	n = outbreak_normalise((const uint8_t *)in, strlen(in), &out);
	assert_int_equal(buf_cstr(&out, &s), 0);
	assert_string_equal(s, "dear alice your order # ships # track # or ~");
	assert_int_equal(n, 11);
	buf_deinit(&out);
}

static void
test_near_identical_share_keys(void **state)
{
	char m0[4096], mi[4096];
	struct outbreak_fp f0, fi;
	size_t l0, li;
	unsigned i, matched = 0;

	(void)state;
	l0 = make_message(m0, sizeof(m0), 0);
	outbreak_fingerprint((const uint8_t *)m0, l0, &f0);
	assert_int_equal(f0.nkeys, OUTBREAK_BANDS);
	for (i = 1; i < 100; i++) {
		li = make_message(mi, sizeof(mi), i);
		outbreak_fingerprint((const uint8_t *)mi, li, &fi);
		if (shared_keys(&f0, &fi) > 0)
			matched++;
	}
	/* Only the name differs after normalisation: nearly all match. */
	assert_true(matched >= 95);
}

static void
test_unrelated_share_nothing(void **state)
{
	const char *a = "From: a@example.net\r\n\r\nHi team, the quarterly "
	    "report is attached. Please review the revenue figures and the "
	    "hiring plan before Thursday's meeting so we can finalise the "
	    "budget for next year.\r\n";
	const char *b = "From: b@example.org\r\n\r\nHello grandma, we had a "
	    "lovely weekend at the lake. The kids caught three fish and "
	    "the dog refused to get out of the water until sunset.\r\n";
	const char *tiny = "From: c@example.org\r\n\r\nok thanks\r\n";
	struct outbreak_fp fa, fb, ft;

	(void)state;
	outbreak_fingerprint((const uint8_t *)a, strlen(a), &fa);
	outbreak_fingerprint((const uint8_t *)b, strlen(b), &fb);
	outbreak_fingerprint((const uint8_t *)tiny, strlen(tiny), &ft);
	assert_int_equal(fa.nkeys, OUTBREAK_BANDS);
	assert_int_equal(fb.nkeys, OUTBREAK_BANDS);
	assert_int_equal(shared_keys(&fa, &fb), 0);
	/* Too short to fingerprint: every "ok thanks" would collide. */
	assert_int_equal(ft.nkeys, 0);
}

static size_t
attach_message(char *buf, size_t len, const char *text)
{
	char b64[1024];
	size_t i;
	int n;

	/* 600 octets of base64 = 450 decoded octets, over the minimum. */
	for (i = 0; i < 600; i++)
		b64[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"[i % 32];
	b64[i] = '\0';
	n = snprintf(buf, len, "From: x@example.net\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n"
	    "Content-Type: text/plain\r\n\r\n%s\r\n--b1\r\nContent-Type: "
	    "application/octet-stream; name=\"invoice.exe\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--b1--\r\n",
	    text, b64);
	assert_true(n > 0 && (size_t)n < len);
	return (size_t)n;
}

static void
test_attachment_key(void **state)
{
	char m1[4096], m2[4096];
	struct outbreak_fp f1, f2;
	size_t l1, l2;

	(void)state;
	l1 = attach_message(m1, sizeof(m1), "see attached");
	l2 = attach_message(m2, sizeof(m2), "your invoice, please pay");
	outbreak_fingerprint((const uint8_t *)m1, l1, &f1);
	outbreak_fingerprint((const uint8_t *)m2, l2, &f2);
	assert_int_equal(f1.nkeys, 1);
	assert_int_equal(f1.kinds[0], OUTBREAK_ATTACHMENT);
	assert_int_equal(shared_keys(&f1, &f2), 1);
}

static void
test_key_text(void **state)
{
	char buf[OUTBREAK_KEY_TEXT];
	uint64_t k = 0;

	(void)state;
	outbreak_key_format('t', 0x0123456789abcdefULL, buf, sizeof(buf));
	assert_string_equal(buf, "t:0123456789abcdef");
	assert_int_equal(outbreak_key_parse(buf, &k), 0);
	assert_true(k == 0x0123456789abcdefULL);
	assert_int_equal(outbreak_key_parse("xyz", &k), -1);
	assert_int_equal(outbreak_key_parse("11112222333344445", &k), -1);
}

static struct outbreak_table *
open_table(const char *name, unsigned cap)
{
	struct outbreak_table *t = NULL;
	const char *error = NULL;
	char path[256];

	snprintf(path, sizeof(path), "%s/%s.map", tmpdir, name);
	assert_int_equal(outbreak_open(path, cap, true, &t, &error), 0);
	return t;
}

static struct outbreak_fp
one_key(uint64_t key)
{
	struct outbreak_fp fp;

	memset(&fp, 0, sizeof(fp));
	fp.keys[0] = key;
	fp.kinds[0] = OUTBREAK_TEXT;
	fp.nkeys = 1;
	return fp;
}

/* Message i: from client 10.0.0.(i % ips), to rcpt i. */
static int
count_msg(struct outbreak_table *t, uint64_t key, unsigned i, unsigned ips,
    const struct outbreak_limits *lim, time_t now,
    struct outbreak_verdict *v)
{
	struct outbreak_fp fp = one_key(key);
	char ip[32], rcpt[64];
	const char *rcpts[1] = { rcpt };
	struct outbreak_event ev = { ip, "sender@example.net", rcpts, 1 };

	snprintf(ip, sizeof(ip), "10.0.0.%u", i % ips);
	snprintf(rcpt, sizeof(rcpt), "user%u@example.test", i);
	return outbreak_count(t, &fp, &ev, lim, now, v);
}

static void
test_table_trip(void **state)
{
	struct outbreak_limits lim = { 5, 10, 3600 };
	struct outbreak_table *t = open_table("trip", 64);
	struct outbreak_verdict v;
	unsigned i, trips = 0, first_out = 0;

	(void)state;
	/* One source, many recipients: never an outbreak. */
	for (i = 0; i < 30; i++) {
		assert_int_equal(count_msg(t, 42, i, 1, &lim, T0, &v), 0);
		assert_false(v.outbreak);
	}
	assert_int_equal(v.st.sources, 1);
	assert_int_equal(v.st.rcpts, 30);
	/* Many sources: the 10th recipient with 5 sources trips. */
	for (i = 0; i < 40; i++) {
		assert_int_equal(count_msg(t, 77, i, 8, &lim, T0 + 1, &v), 0);
		if (v.tripped)
			trips++;
		if (v.outbreak && first_out == 0)
			first_out = i + 1;
	}
	assert_int_equal(trips, 1);
	assert_int_equal(first_out, 10);
	assert_true(v.outbreak);
	/* Linear counting: 8 addresses in 512 bits, one may collide. */
	assert_in_range(v.st.ips, 7, 8);
	assert_int_equal(v.st.messages, 40);
	/* A window later the counts are gone. */
	assert_int_equal(count_msg(t, 77, 100, 8, &lim, T0 + 3602, &v), 0);
	assert_false(v.outbreak);
	assert_int_equal(v.st.messages, 1);
	outbreak_close(&t);
}

static void
count_cb(void *ctx, const struct outbreak_state *st)
{
	unsigned *n = ctx;

	(void)st;
	(*n)++;
}

static void
test_table_release(void **state)
{
	struct outbreak_limits lim = { 2, 3, 600 };
	struct outbreak_table *t = open_table("release", 64);
	struct outbreak_verdict v;
	unsigned i, n = 0;

	(void)state;
	for (i = 0; i < 5; i++)
		assert_int_equal(count_msg(t, 9, i, 3, &lim, T0, &v), 0);
	assert_true(v.outbreak);
	outbreak_list(t, &lim, T0, false, count_cb, &n);
	assert_int_equal(n, 1);
	assert_int_equal(outbreak_release(t, 8, false, &lim, T0), 0);
	assert_int_equal(outbreak_release(t, 0, true, &lim, T0), 1);
	n = 0;
	outbreak_list(t, &lim, T0, false, count_cb, &n);
	assert_int_equal(n, 0);
	/* Released: it does not trip again within the window. */
	for (i = 0; i < 10; i++) {
		assert_int_equal(count_msg(t, 9, i, 3, &lim, T0 + 1, &v), 0);
		assert_false(v.outbreak);
	}
	/* After it, counting resumes and trips anew. */
	for (i = 0; i < 5; i++)
		assert_int_equal(count_msg(t, 9, i, 3, &lim, T0 + 602, &v), 0);
	assert_true(v.outbreak);
	outbreak_close(&t);
}

static void
test_table_eviction(void **state)
{
	struct outbreak_limits lim = { 2, 2, 3600 };
	struct outbreak_table *t = open_table("evict", 16);	/* one group */
	struct outbreak_verdict v;
	unsigned i, n = 0;

	(void)state;
	/* Key 1 is in outbreak; 100 other keys pass through. */
	for (i = 0; i < 3; i++)
		assert_int_equal(count_msg(t, 1, i, 3, &lim, T0, &v), 0);
	assert_true(v.outbreak);
	for (i = 0; i < 100; i++)
		assert_int_equal(count_msg(t, 1000 + i, 0, 1, &lim,
		    T0 + 1 + i, &v), 0);
	outbreak_list(t, &lim, T0 + 200, true, count_cb, &n);
	assert_int_equal(n, 16);	/* bounded */
	n = 0;
	outbreak_list(t, &lim, T0 + 200, false, count_cb, &n);
	assert_int_equal(n, 1);		/* the outbreak was kept */
	outbreak_close(&t);
}

static void
test_table_shared_by_fork(void **state)
{
	struct outbreak_limits lim = { 3, 3, 3600 };
	struct outbreak_table *t = open_table("fork", 64), *t2 = NULL;
	struct outbreak_verdict v;
	const char *error = NULL;
	char path[256];
	unsigned i;
	pid_t pid;
	int st;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (i = 0; i < 2; i++)
			(void)count_msg(t, 5, i, 4, &lim, T0, &v);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(count_msg(t, 5, 2, 4, &lim, T0, &v), 0);
	assert_true(v.outbreak);
	assert_true(v.tripped);
	/* moatctl's view: opened without create. */
	snprintf(path, sizeof(path), "%s/fork.map", tmpdir);
	assert_int_equal(outbreak_open(path, 0, false, &t2, &error), 0);
	assert_int_equal(outbreak_release(t2, 5, false, &lim, T0), 1);
	outbreak_close(&t2);
	assert_int_equal(count_msg(t, 5, 3, 4, &lim, T0, &v), 0);
	assert_false(v.outbreak);
	outbreak_close(&t);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	return tmpdir_remove(tmpdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_near_identical_share_keys),
		cmocka_unit_test(test_unrelated_share_nothing),
		cmocka_unit_test(test_attachment_key),
		cmocka_unit_test(test_key_text),
		cmocka_unit_test(test_table_trip),
		cmocka_unit_test(test_table_release),
		cmocka_unit_test(test_table_eviction),
		cmocka_unit_test(test_table_shared_by_fork),
	};

	return cmocka_run_group_tests_name("outbreak", tests, setup,
	    teardown);
}
