/* test_dynscreen: the shared screening map (src/policy/dynscreen.c):
 * window math, dedupe, ban doubling, shadow bans, persistence, sharing
 * across fork(), locking, eviction, keys, file recovery, notification
 * limits and distinct-IP counting. Each test gets its own map file in a
 * temporary directory that the group teardown removes. */
#include <sys/socket.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
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

#include "dynscreen.h"
#include "log.h"
#include "tmpdir.h"

/* A minute-aligned time, so bucket boundaries fall where the tests say. */
#define T0	((time_t)1700000040)

static char tmpdir[] = "/tmp/test_dynscreen.XXXXXX";

static void
map_path(const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s.map", tmpdir, name);

	assert_true(n > 0 && (size_t)n < len);
}

static struct dynscreen *
open_map(const char *name, unsigned ip_cap, unsigned acct_cap)
{
	struct dynscreen *d = NULL;
	const char *error = NULL;
	char path[256];

	map_path(name, path, sizeof(path));
	assert_int_equal(dyn_open(path, ip_cap, acct_cap, true, &d, &error),
	    0);
	assert_non_null(d);
	return d;
}

static struct dyn_ip
ip4(const char *text)
{
	struct dyn_ip k;

	assert_int_equal(dyn_ip_key(text, 32, 128, &k), 0);
	return k;
}

/* 10.a.b.c from an index, distinct for i < 2^24. */
static struct dyn_ip
ip_n(uint8_t first, uint32_t i)
{
	struct dyn_ip k;

	memset(&k, 0, sizeof(k));
	k.family = AF_INET;
	k.prefix = 32;
	k.addr[0] = first;
	k.addr[1] = (uint8_t)(i >> 16);
	k.addr[2] = (uint8_t)(i >> 8);
	k.addr[3] = (uint8_t)i;
	return k;
}

static void
test_window_math(void **state)
{
	struct dynscreen *d = open_map("window", 1024, 64);
	struct dyn_ip k = ip4("192.0.2.1"), other = ip4("192.0.2.2");

	(void)state;
	assert_int_equal(dyn_ip_add(d, &k, DYN_AUTH_FAIL, 10, 60, 0, T0), 10);
	assert_int_equal(dyn_ip_add(d, &k, DYN_AUTH_FAIL, 10, 60, 0, T0 + 30),
	    20);
	/* New bucket, 1 s in: 20 * 59/60 = 19.67 rounds to 20, plus 10. */
	assert_int_equal(dyn_ip_add(d, &k, DYN_AUTH_FAIL, 10, 60, 0, T0 + 61),
	    30);
	assert_int_equal(dyn_ip_peek(d, &k, DYN_AUTH_FAIL, 60, T0 + 61), 30);
	/* Half-way through the next bucket the old 20 weigh 10. */
	assert_int_equal(dyn_ip_peek(d, &k, DYN_AUTH_FAIL, 60, T0 + 90), 20);
	/* T0+121: prev is the 10 of [T0+60, T0+120), 10 * 59/60 -> 10. */
	assert_int_equal(dyn_ip_add(d, &k, DYN_AUTH_FAIL, 10, 60, 0,
	    T0 + 121), 20);
	assert_int_equal(dyn_ip_peek(d, &k, DYN_AUTH_FAIL, 60, T0 + 150), 15);
	assert_int_equal(dyn_ip_peek(d, &k, DYN_AUTH_FAIL, 60, T0 + 180), 10);
	/* Two windows later nothing is left. */
	assert_int_equal(dyn_ip_peek(d, &k, DYN_AUTH_FAIL, 60, T0 + 240), 0);
	/* Metrics and keys are separate; peek never inserts. */
	assert_int_equal(dyn_ip_peek(d, &k, DYN_CONNECT, 60, T0 + 121), 0);
	assert_int_equal(dyn_ip_peek(d, &other, DYN_AUTH_FAIL, 60, T0), 0);
	assert_int_equal(dyn_ip_add(d, &k, DYN_CONNECT, 3, 3600, 0, T0), 3);
	/* An out-of-range metric is refused. */
	assert_int_equal(dyn_ip_add(d, &k, DYN_IP_METRIC_COUNT, 1, 60, 0, T0),
	    0);
	dyn_close(&d);
	assert_null(d);
}

static void
test_dedupe_counts_once(void **state)
{
	struct dynscreen *d = open_map("dedupe", 1024, 64);
	struct dyn_ip k = ip4("198.51.100.7");
	unsigned before;
	uint64_t fp;

	(void)state;
	assert_int_equal(dyn_ip_add(d, &k, DYN_AUTH_FAIL, 1, 600, 42, T0), 1);
	assert_int_equal(dyn_ip_add(d, &k, DYN_AUTH_FAIL, 1, 600, 42, T0 + 1),
	    1);
	assert_int_equal(dyn_ip_add(d, &k, DYN_AUTH_FAIL, 1, 600, 42, T0 + 2),
	    1);
	assert_int_equal(dyn_ip_add(d, &k, DYN_AUTH_FAIL, 1, 600, 43, T0 + 3),
	    2);
	assert_int_equal(dyn_ip_add(d, &k, DYN_AUTH_FAIL, 1, 600, 0, T0 + 4),
	    3);
	/* The same fingerprint on another metric is another event. */
	assert_int_equal(dyn_ip_add(d, &k, DYN_PROTO_ERROR, 1, 600, 42,
	    T0 + 5), 1);
	/* Four are remembered: after 44..47, 42 has been forgotten. */
	for (fp = 44; fp < 48; fp++)
		(void)dyn_ip_add(d, &k, DYN_AUTH_FAIL, 1, 600, fp, T0 + 6);
	assert_int_equal(dyn_ip_peek(d, &k, DYN_AUTH_FAIL, 600, T0 + 6), 7);
	assert_int_equal(dyn_ip_add(d, &k, DYN_AUTH_FAIL, 1, 600, 42, T0 + 7),
	    8);
	/* Outside the window the fingerprint counts again. */
	assert_int_equal(dyn_ip_add(d, &k, DYN_AUTH_FAIL, 1, 600, 47,
	    T0 + 8), 8);
	before = dyn_ip_peek(d, &k, DYN_AUTH_FAIL, 600, T0 + 699);
	assert_int_equal(dyn_ip_add(d, &k, DYN_AUTH_FAIL, 1, 600, 47,
	    T0 + 700), before + 1);
	/* Accounts too, and their names ignore ASCII case. */
	assert_int_equal(dyn_acct_add(d, "Bob@Example.ORG", DYN_ACCT_AUTH_FAIL,
	    1, 600, 9, T0), 1);
	assert_int_equal(dyn_acct_add(d, "bob@example.org", DYN_ACCT_AUTH_FAIL,
	    1, 600, 9, T0 + 1), 1);
	assert_int_equal(dyn_acct_peek(d, "BOB@EXAMPLE.ORG",
	    DYN_ACCT_AUTH_FAIL, 600, T0 + 1), 1);
	dyn_close(&d);
}

static void
test_ban_doubles_then_resets(void **state)
{
	struct dynscreen *d = open_map("doubling", 1024, 64);
	struct dyn_ip k = ip4("203.0.113.9");
	struct dyn_ban b;
	time_t now = T0, end;

	(void)state;
	assert_int_equal(dyn_ip_ban(d, &k, "auth-fail", 10, 60, 600, false,
	    now, &b), 1);
	assert_int_equal(b.until, now + 60);
	assert_int_equal(b.start, now);
	assert_int_equal(b.offences, 0);
	assert_int_equal(b.count, 10);
	assert_string_equal(b.reason, "auth-fail");
	assert_false(b.shadow);
	assert_true(dyn_ip_banned(d, &k, now + 59, &b));
	assert_int_equal(b.until, now + 60);
	assert_false(dyn_ip_banned(d, &k, now + 60, &b));
	assert_int_equal(b.until, 0);
	/* An active ban is left alone. */
	assert_int_equal(dyn_ip_ban(d, &k, "again", 11, 60, 600, false,
	    now + 1, &b), 0);
	assert_int_equal(b.until, now + 60);

	/* Each ban within a day of the last one's end doubles... */
	end = now + 60;
	now = end + 40;
	assert_int_equal(dyn_ip_ban(d, &k, "auth-fail", 10, 60, 600, false,
	    now, &b), 1);
	assert_int_equal(b.offences, 1);
	assert_int_equal(b.until, now + 120);
	now = b.until + 80;
	assert_int_equal(dyn_ip_ban(d, &k, "auth-fail", 10, 60, 600, false,
	    now, &b), 1);
	assert_int_equal(b.offences, 2);
	assert_int_equal(b.until, now + 240);
	now = b.until + 3600;
	assert_int_equal(dyn_ip_ban(d, &k, "auth-fail", 10, 60, 600, false,
	    now, &b), 1);
	assert_int_equal(b.until, now + 480);
	/* ...up to the cap. */
	now = b.until + 1;
	assert_int_equal(dyn_ip_ban(d, &k, "auth-fail", 10, 60, 600, false,
	    now, &b), 1);
	assert_int_equal(b.offences, 4);
	assert_int_equal(b.until, now + 600);
	now = b.until + 1;
	assert_int_equal(dyn_ip_ban(d, &k, "auth-fail", 10, 60, 600, false,
	    now, &b), 1);
	assert_int_equal(b.until, now + 600);
	/* After a quiet day it starts again at base. */
	now = b.until + DYN_OFFENCE_MEMORY;
	assert_int_equal(dyn_ip_ban(d, &k, "auth-fail", 10, 60, 600, false,
	    now, &b), 1);
	assert_int_equal(b.offences, 0);
	assert_int_equal(b.until, now + 60);
	/* The admin's ban: a fixed end, or none. */
	assert_int_equal(dyn_ip_ban_until(d, &k, now + 5000, "admin", now), 0);
	assert_true(dyn_ip_banned(d, &k, now + 4999, &b));
	assert_string_equal(b.reason, "admin");
	assert_int_equal(dyn_ip_ban_until(d, &k, DYN_BAN_FOREVER, "admin",
	    now), 0);
	assert_true(dyn_ip_banned(d, &k, now + 10 * 365 * 86400, &b));
	assert_int_equal(b.until, DYN_BAN_FOREVER);
	assert_int_equal(dyn_ip_ban_until(d, &k, now, "past", now), -1);
	dyn_close(&d);
}

static void
test_unban_resets(void **state)
{
	struct dynscreen *d = open_map("unban", 1024, 64);
	struct dyn_ip k = ip4("203.0.113.10");
	struct dyn_ban b;

	(void)state;
	assert_int_equal(dyn_ip_add(d, &k, DYN_AUTH_FAIL, 25, 600, 0, T0), 25);
	assert_int_equal(dyn_ip_ban(d, &k, "auth-fail", 25, 60, 600, false,
	    T0, &b), 1);
	assert_int_equal(dyn_ip_ban(d, &k, "auth-fail", 25, 60, 600, false,
	    T0 + 61, &b), 1);
	assert_int_equal(b.offences, 1);
	assert_true(dyn_ip_unban(d, &k, T0 + 62));
	assert_false(dyn_ip_banned(d, &k, T0 + 62, &b));
	assert_int_equal(dyn_ip_peek(d, &k, DYN_AUTH_FAIL, 600, T0 + 62), 0);
	/* Forgiven: the next ban is a first one. */
	assert_int_equal(dyn_ip_ban(d, &k, "auth-fail", 25, 60, 600, false,
	    T0 + 63, &b), 1);
	assert_int_equal(b.offences, 0);
	assert_true(dyn_ip_unban(d, &k, T0 + 64));
	assert_false(dyn_ip_unban(d, &k, T0 + 64));

	/* Accounts: block, blocked, unblock. */
	assert_int_equal(dyn_acct_add(d, "carol@example.net",
	    DYN_ACCT_AUTH_FAIL, 4, 600, 0, T0), 4);
	assert_int_equal(dyn_acct_block(d, "Carol@example.net", "spraying",
	    40, 300, 3600, false, T0, &b), 1);
	assert_true(dyn_acct_blocked(d, "carol@EXAMPLE.net", T0 + 1, &b));
	assert_int_equal(b.until, T0 + 300);
	assert_string_equal(b.reason, "spraying");
	assert_false(dyn_acct_blocked(d, "dave@example.net", T0 + 1, &b));
	assert_true(dyn_acct_unblock(d, "carol@example.net", T0 + 2));
	assert_false(dyn_acct_blocked(d, "carol@example.net", T0 + 2, &b));
	assert_int_equal(dyn_acct_peek(d, "carol@example.net",
	    DYN_ACCT_AUTH_FAIL, 600, T0 + 2), 0);
	assert_int_equal(dyn_acct_block_until(d, "carol@example.net",
	    T0 + 100, "admin", T0 + 2), 0);
	assert_true(dyn_acct_blocked(d, "carol@example.net", T0 + 99, NULL));
	assert_false(dyn_acct_blocked(d, "carol@example.net", T0 + 100, NULL));
	dyn_close(&d);
}

struct listed {
	unsigned	 n, shadow;
	char		 keys[8][DYN_KEY_TEXT_MAX];
};

static void
collect_ban(void *ctx, const char *kind, const char *key,
    const struct dyn_ban *ban)
{
	struct listed *l = ctx;

	(void)kind;
	if (l->n < 8)
		(void)snprintf(l->keys[l->n], sizeof(l->keys[0]), "%s", key);
	l->n++;
	if (ban->shadow)
		l->shadow++;
}

static void
test_shadow_ban_not_enforced(void **state)
{
	struct dynscreen *d = open_map("shadow", 1024, 64);
	struct dyn_ip k = ip4("192.0.2.50");
	struct listed l;
	struct dyn_ban b;

	(void)state;
	assert_int_equal(dyn_ip_ban(d, &k, "connect-rate", 99, 60, 600, true,
	    T0, &b), 1);
	assert_true(b.shadow);
	assert_false(dyn_ip_banned(d, &k, T0 + 1, &b));
	assert_true(b.shadow);
	assert_int_equal(b.until, T0 + 60);
	memset(&l, 0, sizeof(l));
	dyn_ban_list(d, T0 + 1, collect_ban, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.shadow, 1);
	assert_string_equal(l.keys[0], "192.0.2.50");
	/* Another shadow ban changes nothing; an enforced one takes over. */
	assert_int_equal(dyn_ip_ban(d, &k, "connect-rate", 99, 60, 600, true,
	    T0 + 2, &b), 0);
	assert_int_equal(dyn_ip_ban(d, &k, "connect-rate", 99, 60, 600, false,
	    T0 + 3, &b), 1);
	assert_false(b.shadow);
	assert_true(dyn_ip_banned(d, &k, T0 + 4, &b));
	assert_false(b.shadow);
	/* A shadow account block is not enforced either. */
	assert_int_equal(dyn_acct_block(d, "erin@example.com", "spray", 12,
	    60, 600, true, T0, &b), 1);
	assert_false(dyn_acct_blocked(d, "erin@example.com", T0 + 1, &b));
	assert_true(b.shadow);
	dyn_close(&d);
}

static void
test_bans_survive_reopen(void **state)
{
	struct dynscreen *d = open_map("persist", 1024, 64), *d2 = NULL;
	struct dyn_ip k = ip4("192.0.2.99");
	const char *error = NULL;
	struct dyn_ban b;
	char path[256];

	(void)state;
	map_path("persist", path, sizeof(path));
	assert_int_equal(dyn_ip_add(d, &k, DYN_RELAY, 5, 3600, 0, T0), 5);
	assert_int_equal(dyn_ip_ban(d, &k, "relay", 5, 600, 6000, false, T0,
	    NULL), 1);
	assert_int_equal(dyn_acct_block(d, "frank@example.com", "spray", 9,
	    600, 6000, false, T0, NULL), 1);
	dyn_rules_bump(d);
	assert_int_equal(dyn_sync(d), 0);
	dyn_close(&d);

	/* A restart: the master opens it again with create=true. */
	d = open_map("persist", 1024, 64);
	assert_true(dyn_ip_banned(d, &k, T0 + 10, &b));
	assert_string_equal(b.reason, "relay");
	assert_true(dyn_acct_blocked(d, "frank@example.com", T0 + 10, NULL));
	assert_int_equal(dyn_ip_peek(d, &k, DYN_RELAY, 3600, T0 + 10), 5);
	assert_int_equal(dyn_rules_generation(d), 1);

	/* moatctl: create=false, same data, and writes are shared. */
	assert_int_equal(dyn_open(path, 0, 0, false, &d2, &error), 0);
	assert_true(dyn_ip_banned(d2, &k, T0 + 10, NULL));
	assert_int_equal(dyn_ip_peek(d2, &k, DYN_RELAY, 3600, T0 + 10), 5);
	assert_true(dyn_ip_unban(d2, &k, T0 + 11));
	assert_false(dyn_ip_banned(d, &k, T0 + 11, NULL));
	dyn_rules_bump(d2);
	assert_int_equal(dyn_rules_generation(d), 2);
	dyn_close(&d2);
	dyn_close(&d);

	/* Other capacities: a new, empty file. */
	d = open_map("persist", 2048, 64);
	assert_false(dyn_acct_blocked(d, "frank@example.com", T0 + 10, NULL));
	assert_int_equal(dyn_rules_generation(d), 0);
	dyn_close(&d);

	/* create=false needs the file. */
	map_path("absent", path, sizeof(path));
	assert_int_equal(dyn_open(path, 0, 0, false, &d2, &error), -1);
	assert_non_null(error);
}

static void
test_corrupt_file_recreated(void **state)
{
	struct dynscreen *d = NULL;
	struct dyn_ip k = ip4("192.0.2.123");
	const char *error = NULL;
	char path[256], junk[100];
	uint32_t version = 999;
	int fd;

	(void)state;
	map_path("corrupt", path, sizeof(path));
	memset(junk, 'x', sizeof(junk));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, junk, sizeof(junk)), sizeof(junk));
	assert_int_equal(close(fd), 0);
	assert_int_equal(dyn_open(path, 64, 16, false, &d, &error), -1);
	assert_null(d);

	d = open_map("corrupt", 64, 16);
	assert_int_equal(dyn_ip_ban(d, &k, "x", 1, 60, 60, false, T0, NULL), 1);
	dyn_close(&d);

	/* A right-sized file from another layout version. */
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &version, sizeof(version), 8),
	    sizeof(version));
	assert_int_equal(close(fd), 0);
	assert_int_equal(dyn_open(path, 64, 16, false, &d, &error), -1);
	d = open_map("corrupt", 64, 16);
	assert_false(dyn_ip_banned(d, &k, T0 + 1, NULL));
	assert_int_equal(dyn_ip_add(d, &k, DYN_CONNECT, 1, 60, 0, T0), 1);
	dyn_close(&d);
}

static void
test_fork_child_writes_seen(void **state)
{
	struct dynscreen *d = open_map("fork", 1024, 64);
	struct dyn_ip k = ip4("192.0.2.200"), kb = ip4("192.0.2.201");
	struct dyn_ban b;
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		bool ok = dyn_ip_add(d, &k, DYN_UNKNOWN_RCPT, 7, 600, 0, T0) ==
		    7 && dyn_ip_ban(d, &kb, "child", 3, 60, 60, false, T0,
		    NULL) == 1 && dyn_acct_block(d, "gina@example.com", "c",
		    1, 60, 60, false, T0, NULL) == 1;

		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(dyn_ip_peek(d, &k, DYN_UNKNOWN_RCPT, 600, T0), 7);
	assert_true(dyn_ip_banned(d, &kb, T0 + 1, &b));
	assert_string_equal(b.reason, "child");
	assert_true(dyn_acct_blocked(d, "gina@example.com", T0 + 1, NULL));
	dyn_close(&d);
}

static void
test_two_children_lock(void **state)
{
	struct dynscreen *d = open_map("lock", 1024, 64);
	struct dyn_ip k = ip4("192.0.2.250");
	pid_t pids[2];
	int i, j, status;

	(void)state;
	for (i = 0; i < 2; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			for (j = 0; j < 10000; j++) {
				if (dyn_ip_add(d, &k, DYN_CONNECT, 1, 3600, 0,
				    T0) == 0 ||
				    dyn_acct_add(d, "hank@example.com",
				    DYN_ACCT_MSG_HOUR, 1, 3600, 0, T0) == 0)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(dyn_ip_peek(d, &k, DYN_CONNECT, 3600, T0), 20000);
	assert_int_equal(dyn_acct_peek(d, "hank@example.com",
	    DYN_ACCT_MSG_HOUR, 3600, T0), 20000);
	dyn_close(&d);
}

/* A process killed while it may hold a stripe lock must not wedge the
 * others: the robust mutex hands the lock on. */
static void
test_killed_holder_recovered(void **state)
{
	struct dynscreen *d = open_map("robust", 16, 16);
	struct dyn_ip k = ip4("192.0.2.251");
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (;;)
			(void)dyn_ip_add(d, &k, DYN_CONNECT, 1, 3600, 0, T0);
	}
	(void)nanosleep(&ts, NULL);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(dyn_ip_add(d, &k, DYN_CONNECT, 1, 3600, 0, T0) > 1);
	assert_int_equal(dyn_ip_ban(d, &k, "r", 1, 60, 60, false, T0, NULL),
	    1);
	assert_true(dyn_ip_banned(d, &k, T0 + 1, NULL));
	dyn_close(&d);
}

static void
test_eviction_keeps_bans(void **state)
{
	/* 16 slots: one group, every key competes for it. */
	struct dynscreen *d = open_map("evict", 16, 16);
	struct dyn_ip k;
	uint32_t i;

	(void)state;
	/* Least recently seen goes first. */
	for (i = 0; i < 16; i++) {
		k = ip_n(10, i);
		assert_int_equal(dyn_ip_add(d, &k, DYN_CONNECT, 1, 3600, 0,
		    T0 + i), 1);
	}
	k = ip_n(10, 0);
	(void)dyn_ip_add(d, &k, DYN_CONNECT, 1, 3600, 0, T0 + 20);
	k = ip_n(10, 100);
	assert_int_equal(dyn_ip_add(d, &k, DYN_CONNECT, 1, 3600, 0, T0 + 21),
	    1);
	k = ip_n(10, 1);
	assert_int_equal(dyn_ip_peek(d, &k, DYN_CONNECT, 3600, T0 + 21), 0);
	k = ip_n(10, 0);
	assert_int_equal(dyn_ip_peek(d, &k, DYN_CONNECT, 3600, T0 + 21), 2);

	/* Bans are never evicted by counters. */
	for (i = 0; i < 10; i++) {
		k = ip_n(20, i);
		assert_int_equal(dyn_ip_ban(d, &k, "b", 1, 3600, 3600, false,
		    T0 + 30, NULL), 1);
	}
	for (i = 0; i < 200; i++) {
		k = ip_n(30, i);
		assert_int_equal(dyn_ip_add(d, &k, DYN_CONNECT, 1, 3600, 0,
		    T0 + 31 + i), 1);
	}
	for (i = 10; i < 16; i++) {
		k = ip_n(20, i);
		assert_int_equal(dyn_ip_ban(d, &k, "b", 1, 3600, 3600, i == 15,
		    T0 + 300, NULL), 1);
	}
	/* Full of bans (one of them shadow): nothing else fits. */
	k = ip_n(30, 999);
	assert_int_equal(dyn_ip_add(d, &k, DYN_CONNECT, 1, 3600, 0, T0 + 301),
	    0);
	assert_int_equal(dyn_ip_ban(d, &k, "b", 1, 60, 60, false, T0 + 301,
	    NULL), -1);
	for (i = 0; i < 15; i++) {
		k = ip_n(20, i);
		assert_true(dyn_ip_banned(d, &k, T0 + 302, NULL));
	}
	/* Once the bans are over their slots are reusable. */
	k = ip_n(30, 999);
	assert_int_equal(dyn_ip_add(d, &k, DYN_CONNECT, 1, 3600, 0,
	    T0 + 30 + 3600), 1);
	dyn_close(&d);
}

static void
test_ip_key_masking(void **state)
{
	struct dynscreen *d = open_map("keys", 1024, 64);
	struct dyn_ip k, k2;
	char text[DYN_IP_TEXT_MAX];

	(void)state;
	assert_int_equal(dyn_ip_key("192.0.2.77", 24, 64, &k), 0);
	assert_int_equal(k.family, AF_INET);
	assert_int_equal(k.prefix, 24);
	assert_string_equal(dyn_ip_format(&k, text, sizeof(text)),
	    "192.0.2.0/24");
	assert_int_equal(dyn_ip_key("192.0.2.77", 32, 128, &k), 0);
	assert_string_equal(dyn_ip_format(&k, text, sizeof(text)),
	    "192.0.2.77");
	assert_int_equal(dyn_ip_key("2001:db8:1:2:3:4:5:6", 24, 64, &k), 0);
	assert_int_equal(k.family, AF_INET6);
	assert_string_equal(dyn_ip_format(&k, text, sizeof(text)),
	    "2001:db8:1:2::/64");
	assert_int_equal(dyn_ip_key("2001:db8::1", 24, 128, &k), 0);
	assert_string_equal(dyn_ip_format(&k, text, sizeof(text)),
	    "2001:db8::1");
	assert_int_equal(dyn_ip_key("::ffff:198.51.100.9", 24, 64, &k), 0);
	assert_int_equal(k.family, AF_INET);
	assert_string_equal(dyn_ip_format(&k, text, sizeof(text)),
	    "198.51.100.0/24");
	assert_int_equal(dyn_ip_key("nope", 24, 64, &k), -1);
	assert_int_equal(dyn_ip_key("192.0.2.1/24", 24, 64, &k), -1);
	assert_int_equal(dyn_ip_key("192.0.2.1", 33, 64, &k), -1);
	assert_int_equal(dyn_ip_key("::1", 24, 129, &k), -1);
	/* Truncation keeps a terminated string. */
	assert_int_equal(dyn_ip_key("192.0.2.77", 24, 64, &k), 0);
	assert_string_equal(dyn_ip_format(&k, text, 5), "192.");

	/* Keys of one network are one key; the mapped form is the v4 one. */
	assert_int_equal(dyn_ip_key("198.51.100.200", 24, 64, &k), 0);
	assert_int_equal(dyn_ip_key("::ffff:198.51.100.3", 24, 64, &k2), 0);
	assert_int_equal(dyn_ip_ban(d, &k, "net", 1, 60, 60, false, T0, NULL),
	    1);
	assert_true(dyn_ip_banned(d, &k2, T0 + 1, NULL));
	/* The /32 of an address in it is another key. */
	assert_int_equal(dyn_ip_key("198.51.100.3", 32, 64, &k2), 0);
	assert_false(dyn_ip_banned(d, &k2, T0 + 1, NULL));
	assert_int_equal(dyn_ip_key("2001:db8:1:2:ffff::1", 24, 64, &k), 0);
	assert_int_equal(dyn_ip_key("2001:db8:1:2::9", 24, 64, &k2), 0);
	assert_int_equal(dyn_ip_add(d, &k, DYN_CONNECT, 2, 60, 0, T0), 2);
	assert_int_equal(dyn_ip_add(d, &k2, DYN_CONNECT, 2, 60, 0, T0), 4);
	/* A hand-built key with host bits set still finds its network. */
	k2.addr[15] = 0x55;
	assert_int_equal(dyn_ip_peek(d, &k2, DYN_CONNECT, 60, T0), 4);
	k2.family = 12345;
	assert_int_equal(dyn_ip_peek(d, &k2, DYN_CONNECT, 60, T0), 0);
	assert_string_equal(dyn_ip_metric_name(DYN_AUTH_FAIL), "auth-fail");
	assert_string_equal(dyn_acct_metric_name(DYN_ACCT_FIRST_RCPT_DAY),
	    "first-rcpt-day");
	assert_string_equal(dyn_ip_metric_name(DYN_IP_METRIC_COUNT), "?");
	dyn_close(&d);
}

static void
test_notify_rate_limit(void **state)
{
	struct dynscreen *d = open_map("notify", 64, 16);
	char topic[32];
	unsigned i, allowed = 0;
	time_t later = T0 + 100000;

	(void)state;
	assert_true(dyn_notify_allow(d, "disk-full", 3600, T0));
	assert_false(dyn_notify_allow(d, "disk-full", 3600, T0 + 10));
	assert_false(dyn_notify_allow(d, "disk-full", 3600, T0 + 3599));
	assert_true(dyn_notify_allow(d, "disk-full", 3600, T0 + 3600));
	/* Many topics at once: the global cap holds. */
	for (i = 0; i < 40; i++) {
		(void)snprintf(topic, sizeof(topic), "ban-%u", i);
		if (dyn_notify_allow(d, topic, 60, later))
			allowed++;
	}
	assert_int_equal(allowed, DYN_NOTIFY_MAX_PER_HOUR);
	assert_false(dyn_notify_allow(d, "another", 60, later + 600));
	/* Two hours on, the budget is back. */
	assert_true(dyn_notify_allow(d, "another", 60, later + 7200));
	dyn_close(&d);
}

static void
test_distinct_ips(void **state)
{
	struct dynscreen *d = open_map("distinct", 64, 64);
	struct dyn_ip a = ip4("192.0.2.1"), b = ip4("192.0.2.2"), k;
	const char *acct = "Ivy@Example.com";
	uint32_t i;

	(void)state;
	assert_int_equal(dyn_acct_distinct_ip(d, acct, DYN_DISTINCT_FAIL_IPS,
	    &a, 600, T0), 1);
	assert_int_equal(dyn_acct_distinct_ip(d, acct, DYN_DISTINCT_FAIL_IPS,
	    &a, 600, T0 + 1), 1);
	assert_int_equal(dyn_acct_distinct_ip(d, acct, DYN_DISTINCT_FAIL_IPS,
	    &b, 600, T0 + 2), 2);
	assert_int_equal(dyn_acct_distinct_ip(d, "ivy@example.com",
	    DYN_DISTINCT_FAIL_IPS, NULL, 600, T0 + 3), 2);
	assert_int_equal(dyn_acct_distinct_ip(d, acct, DYN_DISTINCT_LOGIN_IPS,
	    NULL, 600, T0 + 3), 0);
	/* a was last seen at T0+1, b at T0+2. */
	assert_int_equal(dyn_acct_distinct_ip(d, acct, DYN_DISTINCT_FAIL_IPS,
	    NULL, 600, T0 + 601), 1);
	assert_int_equal(dyn_acct_distinct_ip(d, acct, DYN_DISTINCT_FAIL_IPS,
	    &a, 600, T0 + 700), 1);
	/* The count saturates at the cap. */
	for (i = 0; i < 40; i++) {
		k = ip_n(10, i);
		(void)dyn_acct_distinct_ip(d, acct, DYN_DISTINCT_LOGIN_IPS,
		    &k, 600, T0 + 800 + i);
	}
	assert_int_equal(dyn_acct_distinct_ip(d, acct, DYN_DISTINCT_LOGIN_IPS,
	    NULL, 600, T0 + 840), DYN_DISTINCT_MAX);
	/* Reading an unknown account does not create it. */
	assert_int_equal(dyn_acct_distinct_ip(d, "nobody@example.com",
	    DYN_DISTINCT_FAIL_IPS, NULL, 600, T0), 0);
	dyn_close(&d);
}

struct counted {
	unsigned	 n;
	unsigned	 connect;
	unsigned	 acct_msg;
};

static void
collect_counter(void *ctx, const char *kind, const char *key,
    const char *metric, unsigned estimate)
{
	struct counted *c = ctx;

	c->n++;
	if (strcmp(kind, "ip") == 0 && strcmp(key, "192.0.2.0/24") == 0 &&
	    strcmp(metric, "connect") == 0)
		c->connect = estimate;
	if (strcmp(kind, "account") == 0 &&
	    strcmp(key, "jack@example.com") == 0 &&
	    strcmp(metric, "msg-hour") == 0)
		c->acct_msg = estimate;
}

static void
test_lists_and_expire(void **state)
{
	struct dynscreen *d = open_map("lists", 1024, 64);
	unsigned ipw[DYN_IP_METRIC_COUNT] = { 0 };
	unsigned acw[DYN_ACCT_METRIC_COUNT] = { 0 };
	struct dyn_ip net, banned = ip4("203.0.113.1");
	struct counted c;
	struct listed l;
	char longname[300];

	(void)state;
	ipw[DYN_CONNECT] = 60;
	acw[DYN_ACCT_MSG_HOUR] = 3600;
	assert_int_equal(dyn_ip_key("192.0.2.9", 24, 64, &net), 0);
	assert_int_equal(dyn_ip_add(d, &net, DYN_CONNECT, 3, 60, 0, T0), 3);
	assert_int_equal(dyn_acct_add(d, "Jack@example.com", DYN_ACCT_MSG_HOUR,
	    2, 3600, 0, T0), 2);
	assert_int_equal(dyn_ip_ban(d, &banned, "b", 1, 60, 60, false, T0,
	    NULL), 1);
	/* A long name is keyed in full, listed truncated. */
	memset(longname, 'z', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(dyn_acct_block(d, longname, "long", 1, 60, 60, false,
	    T0, NULL), 1);
	longname[sizeof(longname) - 2] = 'y';
	assert_false(dyn_acct_blocked(d, longname, T0 + 1, NULL));

	memset(&c, 0, sizeof(c));
	dyn_counter_list(d, T0 + 1, ipw, acw, collect_counter, &c);
	assert_int_equal(c.connect, 3);
	assert_int_equal(c.acct_msg, 2);
	assert_int_equal(c.n, 2);
	memset(&l, 0, sizeof(l));
	dyn_ban_list(d, T0 + 1, collect_ban, &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(strlen(l.keys[0]) + strlen(l.keys[1]),
	    strlen("203.0.113.1") + DYN_ACCT_NAME_MAX);

	/* Counters last two windows, bans their day of memory. */
	assert_int_equal(dyn_expire(d, T0 + 100), 0);
	assert_int_equal(dyn_ip_peek(d, &net, DYN_CONNECT, 60, T0 + 100), 1);
	assert_int_equal(dyn_expire(d, T0 + 120), 1);
	assert_int_equal(dyn_ip_peek(d, &net, DYN_CONNECT, 60, T0 + 120), 0);
	memset(&l, 0, sizeof(l));
	dyn_ban_list(d, T0 + 120, collect_ban, &l);
	assert_int_equal(l.n, 0);
	assert_int_equal(dyn_expire(d, T0 + 7200), 1);
	assert_int_equal(dyn_expire(d, T0 + 60 + DYN_OFFENCE_MEMORY), 2);
	memset(&c, 0, sizeof(c));
	dyn_counter_list(d, T0 + 1, ipw, acw, collect_counter, &c);
	assert_int_equal(c.n, 0);
	dyn_close(&d);
}

static void
test_absent_lookups_after_100k(void **state)
{
	struct dynscreen *d = open_map("big", DYN_IP_CAPACITY_DEFAULT, 16);
	struct dyn_ip k;
	unsigned present = 0, found = 0;
	uint32_t i;

	(void)state;
	for (i = 0; i < 100000; i++) {
		k = ip_n(10, i);
		assert_int_equal(dyn_ip_add(d, &k, DYN_AUTH_FAIL, 1, 600, 0,
		    T0), 1);
	}
	k = ip_n(10, 77);
	assert_int_equal(dyn_ip_ban(d, &k, "b", 1, 60, 60, false, T0, NULL),
	    1);
	for (i = 0; i < 100000; i++) {
		k = ip_n(11, i);
		if (dyn_ip_banned(d, &k, T0, NULL))
			found++;
		if (dyn_ip_peek(d, &k, DYN_AUTH_FAIL, 600, T0) != 0)
			found++;
	}
	assert_int_equal(found, 0);
	/* Two choices of group keep all 100,000 at 38 % load. */
	for (i = 0; i < 100000; i++) {
		k = ip_n(10, i);
		if (dyn_ip_peek(d, &k, DYN_AUTH_FAIL, 600, T0) == 1)
			present++;
	}
	assert_int_equal(present, 100000);
	k = ip_n(10, 77);
	assert_true(dyn_ip_banned(d, &k, T0, NULL));
	dyn_close(&d);
}

static int
setup(void **state)
{
	(void)state;
	log_init("test_dynscreen", LOG_LEVEL_WARN);
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
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
		cmocka_unit_test(test_window_math),
		cmocka_unit_test(test_dedupe_counts_once),
		cmocka_unit_test(test_ban_doubles_then_resets),
		cmocka_unit_test(test_unban_resets),
		cmocka_unit_test(test_shadow_ban_not_enforced),
		cmocka_unit_test(test_bans_survive_reopen),
		cmocka_unit_test(test_corrupt_file_recreated),
		cmocka_unit_test(test_fork_child_writes_seen),
		cmocka_unit_test(test_two_children_lock),
		cmocka_unit_test(test_killed_holder_recovered),
		cmocka_unit_test(test_eviction_keeps_bans),
		cmocka_unit_test(test_ip_key_masking),
		cmocka_unit_test(test_notify_rate_limit),
		cmocka_unit_test(test_distinct_ips),
		cmocka_unit_test(test_lists_and_expire),
		cmocka_unit_test(test_absent_lookups_after_100k),
	};

	return cmocka_run_group_tests_name("dynscreen", tests, setup,
	    teardown);
}
