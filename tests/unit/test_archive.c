/* test_archive: the mail archive: put, dedupe and idempotence, crash
 * repair, verify (deleted, altered, extra files, edited index lines),
 * search by each filter, mboxrd export quoting, expiry, and the index
 * line parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "queue.h"
#include "util.h"

#define T_DAY	86400
#define T0	((time_t)1700000000)	/* 2023-11-14T22:13:20Z */

struct fixture {
	char	dir[64];
};

struct problems {
	char	text[8192];
	size_t	n;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/moat-test-archive-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static const char msg_plain[] =
    "Authentication-Results: mx.example.org; spf=pass\r\n"
    " smtp.mailfrom=alice@example.net\r\n"
    "From: Alice <alice@example.net>\r\n"
    "To: bob@example.org\r\n"
    "Subject: Quarterly report\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "From here on the numbers.\r\n"
    ">From the archive\r\n"
    "bye\r\n";

/* Body "The secret word is zanzibar" in base64. */
static const char msg_b64[] =
    "From: carol@example.com\r\n"
    "To: dave@example.org\r\n"
    "Subject: =?utf-8?q?Caf=C3=A9?=\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "VGhlIHNlY3JldCB3b3JkIGlzIHphbnppYmFy\r\n";

static void
make_env(struct queue_envelope *env, const char *id, const char *from,
    char **rcpts, size_t n)
{
	memset(env, 0, sizeof(*env));
	moat_strlcpy(env->id, id, sizeof(env->id));
	env->time = T0 - 5;
	env->from = (char *)from;
	env->rcpts = rcpts;
	env->nrcpts = n;
	env->client_ip = (char *)"192.0.2.1";
	env->service = (char *)"smtp";
	env->auth = (char *)"alice@example.net";
}

static void
put(const char *dir, const char *domain, enum archive_direction d,
    const char *id, const char *from, const char *rcpt, const char *msg,
    time_t when)
{
	struct queue_envelope env;
	char *rcpts[1] = { (char *)rcpt };
	const char *err = NULL;

	make_env(&env, id, from, rcpts, 1);
	if (archive_put(dir, domain, d, &env, (const uint8_t *)msg,
	    strlen(msg), when, &err) < 0)
		fail_msg("archive_put: %s: %s", err, strerror(errno));
}

static void
collect(void *ctx, const char *path, const char *what)
{
	struct problems *p = ctx;
	size_t o = strlen(p->text);

	snprintf(p->text + o, sizeof(p->text) - o, "%s: %s\n", path, what);
	p->n++;
}

static size_t
verify(const char *dir, struct problems *p, size_t *messages)
{
	struct archive_verify_result res;
	const char *err = NULL;

	memset(p, 0, sizeof(*p));
	assert_int_equal(archive_verify(dir, 0, collect, p, &res, &err), 0);
	assert_int_equal(res.problems, p->n);
	if (messages != NULL)
		*messages = res.messages;
	return p->n;
}

static void
day_path(const char *dir, const char *domain, const char *d, time_t t,
    const char *name, char *dst, size_t len)
{
	char day[16], month[16];
	struct tm tm;

	assert_non_null(gmtime_r(&t, &tm));
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	strftime(month, sizeof(month), "%Y-%m", &tm);
	snprintf(dst, len, "%s/archive/%s/%s/%s/%s/%s", dir, domain, d, month,
	    day, name);
}

static size_t
count_lines(const char *path)
{
	FILE *fp = fopen(path, "r");
	size_t n = 0;
	int c;

	if (fp == NULL)
		return 0;
	while ((c = fgetc(fp)) != EOF)
		if (c == '\n')
			n++;
	fclose(fp);
	return n;
}

static const char id1[] = "00655381a00000100001000a";
static const char id2[] = "00655381a00000200001000b";
static const char id3[] = "00655381a00000300001000c";

static void
test_put_dedupe(void **state)
{
	struct fixture *f = *state;
	struct problems p;
	char path[512], idx[512];
	size_t n;
	FILE *fp;
	char buf[4096];
	size_t len;

	put(f->dir, "example.org", ARCHIVE_IN, id1, "alice@example.net",
	    "bob@example.org", msg_plain, T0);
	/* A retry of the same id is a no-op. */
	put(f->dir, "example.org", ARCHIVE_IN, id1, "alice@example.net",
	    "bob@example.org", msg_plain, T0);
	day_path(f->dir, "example.org", "in", T0, "index", idx, sizeof(idx));
	assert_int_equal(count_lines(idx), 1);
	/* Same id, other direction: its own copy. */
	put(f->dir, "example.org", ARCHIVE_OUT, id1, "alice@example.net",
	    "bob@example.org", msg_plain, T0);
	assert_int_equal(verify(f->dir, &p, &n), 0);
	assert_int_equal(n, 2);

	/* The stored envelope. */
	day_path(f->dir, "example.org", "in", T0, id1, path, sizeof(path));
	assert_non_null(fp = fopen(path, "r"));
	len = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[len] = '\0';
	assert_memory_equal(buf, "MOATA1\n", 7);
	assert_non_null(strstr(buf, "\nauth alice@example.net\n"));
	assert_non_null(strstr(buf, "\nip 192.0.2.1\n"));
	assert_non_null(strstr(buf, "\nrcpt bob@example.org\n"));
	assert_non_null(strstr(buf, "\nauthres mx.example.org; spf=pass "
	    "smtp.mailfrom=alice@example.net\n"));
	assert_non_null(strstr(buf, "\n\nAuthentication-Results:"));

	/* A crash between rename and append: the retry indexes it. */
	assert_int_equal(truncate(idx, 0), 0);
	assert_int_equal(verify(f->dir, &p, NULL), 1);
	assert_non_null(strstr(p.text, "not in index"));
	put(f->dir, "example.org", ARCHIVE_IN, id1, "alice@example.net",
	    "bob@example.org", msg_plain, T0);
	assert_int_equal(count_lines(idx), 1);
	assert_int_equal(verify(f->dir, &p, NULL), 0);

	/* A torn append is cut off by the next one. */
	assert_non_null(fp = fopen(idx, "a"));
	fputs("00655381a00000900001000f\tin\t17", fp);
	fclose(fp);
	put(f->dir, "example.org", ARCHIVE_IN, id2, "x@example.net",
	    "bob@example.org", msg_plain, T0);
	assert_int_equal(count_lines(idx), 2);
	assert_int_equal(verify(f->dir, &p, NULL), 0);
}

static void
test_put_bad_args(void **state)
{
	struct fixture *f = *state;
	struct queue_envelope env;
	char *rcpts[1] = { (char *)"a@b" };
	const char *err = NULL;

	make_env(&env, id1, "a@b", rcpts, 1);
	assert_int_equal(archive_put(f->dir, "../etc", ARCHIVE_IN, &env,
	    (const uint8_t *)"x", 1, T0, &err), -1);
	assert_int_equal(archive_put(f->dir, "a/b", ARCHIVE_IN, &env,
	    (const uint8_t *)"x", 1, T0, &err), -1);
	make_env(&env, "nothex", "a@b", rcpts, 1);
	assert_int_equal(archive_put(f->dir, "example.org", ARCHIVE_IN, &env,
	    (const uint8_t *)"x", 1, T0, &err), -1);
}

static void
three(const struct fixture *f)
{
	put(f->dir, "example.org", ARCHIVE_IN, id1, "alice@example.net",
	    "bob@example.org", msg_plain, T0);
	put(f->dir, "example.org", ARCHIVE_IN, id2, "carol@example.com",
	    "dave@example.org", msg_b64, T0 + 60);
	put(f->dir, "example.org", ARCHIVE_IN, id3, "eve@example.com",
	    "bob@example.org", msg_plain, T0 + 120);
}

static void
test_verify_missing_altered_extra(void **state)
{
	struct fixture *f = *state;
	struct problems p;
	char path[512];
	FILE *fp;

	three(f);
	assert_int_equal(verify(f->dir, &p, NULL), 0);

	day_path(f->dir, "example.org", "in", T0, id2, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(verify(f->dir, &p, NULL), 1);
	assert_non_null(strstr(p.text, id2));
	assert_non_null(strstr(p.text, "missing file"));

	day_path(f->dir, "example.org", "in", T0, id3, path, sizeof(path));
	assert_non_null(fp = fopen(path, "a"));
	fputs("one more line\r\n", fp);
	fclose(fp);
	assert_int_equal(verify(f->dir, &p, NULL), 2);
	assert_non_null(strstr(p.text, "altered file"));

	day_path(f->dir, "example.org", "in", T0, "00655381a0000040000100ff",
	    path, sizeof(path));
	assert_non_null(fp = fopen(path, "w"));
	fputs("planted\n", fp);
	fclose(fp);
	assert_int_equal(verify(f->dir, &p, NULL), 3);
	assert_non_null(strstr(p.text, "00655381a0000040000100ff: not in "
	    "index"));
}

static void
test_verify_chain(void **state)
{
	struct fixture *f = *state;
	struct problems p;
	char idx[512], buf[8192], *s;
	size_t len;
	FILE *fp;

	three(f);
	day_path(f->dir, "example.org", "in", T0, "index", idx, sizeof(idx));
	assert_non_null(fp = fopen(idx, "r"));
	len = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[len] = '\0';
	/* Change the first line's subject: the second line no longer
	 * chains from it. */
	assert_non_null(s = strstr(buf, "Quarterly"));
	s[0] = 'q';
	assert_non_null(fp = fopen(idx, "w"));
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	fclose(fp);
	assert_int_equal(verify(f->dir, &p, NULL), 1);
	assert_non_null(strstr(p.text, "line 2: chain broken"));

	/* Dropping a line breaks the chain too. */
	s[0] = 'Q';
	s = strchr(buf, '\n');
	assert_non_null(fp = fopen(idx, "w"));
	assert_int_equal(fwrite(s + 1, 1, len - (size_t)(s + 1 - buf), fp),
	    len - (size_t)(s + 1 - buf));
	fclose(fp);
	assert_true(verify(f->dir, &p, NULL) >= 2);
	assert_non_null(strstr(p.text, "line 1: chain broken"));
	assert_non_null(strstr(p.text, "not in index"));

	/* Garbage. */
	assert_non_null(fp = fopen(idx, "a"));
	fputs("garbage\n", fp);
	fclose(fp);
	verify(f->dir, &p, NULL);
	assert_non_null(strstr(p.text, "bad index line"));
}

struct hits {
	char	ids[16][QUEUE_ID_LEN + 1];
	size_t	n;
};

static int
hit(void *ctx, const char *domain, const char *path,
    const struct archive_entry *e)
{
	struct hits *h = ctx;

	(void)domain;
	(void)path;
	if (h->n < 16)
		memcpy(h->ids[h->n], e->id, QUEUE_ID_LEN + 1);
	h->n++;
	return 0;
}

static size_t
search(const char *dir, const struct archive_query *q, struct hits *h)
{
	const char *err = NULL;
	long n;

	memset(h, 0, sizeof(*h));
	n = archive_search(dir, q, hit, h, &err);
	assert_true(n >= 0);
	assert_int_equal((size_t)n, h->n);
	return h->n;
}

static void
test_search(void **state)
{
	struct fixture *f = *state;
	struct archive_query q;
	struct hits h;

	three(f);
	put(f->dir, "example.com", ARCHIVE_OUT, id1, "carol@example.com",
	    "zed@example.net", msg_b64, T0 + 2 * T_DAY);

	memset(&q, 0, sizeof(q));
	q.any_direction = true;
	assert_int_equal(search(f->dir, &q, &h), 4);

	q.from = "ALICE";		/* envelope, case-insensitive */
	assert_int_equal(search(f->dir, &q, &h), 2);	/* id1, id3 hdr */
	q.from = "eve@";
	assert_int_equal(search(f->dir, &q, &h), 1);
	assert_string_equal(h.ids[0], id3);
	q.from = NULL;

	q.to = "dave";
	assert_int_equal(search(f->dir, &q, &h), 2);
	q.to = "zed@";
	assert_int_equal(search(f->dir, &q, &h), 1);
	q.to = NULL;

	q.subject = "café";	/* decoded RFC 2047 */
	assert_int_equal(search(f->dir, &q, &h), 2);
	q.subject = "quarterly";
	assert_int_equal(search(f->dir, &q, &h), 2);
	q.subject = NULL;

	q.text = "ZANZIBAR";		/* inside base64 */
	assert_int_equal(search(f->dir, &q, &h), 2);
	q.text = "numbers";
	assert_int_equal(search(f->dir, &q, &h), 2);
	q.text = "nowhere";
	assert_int_equal(search(f->dir, &q, &h), 0);
	q.text = NULL;

	q.domain = "example.com";
	assert_int_equal(search(f->dir, &q, &h), 1);
	q.domain = NULL;

	q.any_direction = false;
	q.direction = ARCHIVE_OUT;
	assert_int_equal(search(f->dir, &q, &h), 1);
	q.direction = ARCHIVE_IN;
	assert_int_equal(search(f->dir, &q, &h), 3);
	q.any_direction = true;

	q.since = T0 + 60;
	assert_int_equal(search(f->dir, &q, &h), 3);
	q.until = T0 + 60;
	assert_int_equal(search(f->dir, &q, &h), 1);
	assert_string_equal(h.ids[0], id2);
	q.since = T0 + T_DAY;
	q.until = 0;
	assert_int_equal(search(f->dir, &q, &h), 1);
}

static void
test_mbox(void **state)
{
	struct fixture *f = *state;
	struct archive_query q;
	const char *err = NULL;
	char *out = NULL;
	size_t outlen = 0;
	FILE *fp;
	static const char quoted[] =
	    "From x\nFrom y\n>From z\n>>From w\nFromage\n From v\nlast";

	assert_non_null(fp = open_memstream(&out, &outlen));
	assert_int_equal(archive_mbox_write(fp, (const uint8_t *)quoted,
	    sizeof(quoted) - 1), 0);
	fclose(fp);
	assert_string_equal(out, ">From x\n>From y\n>>From z\n>>>From w\n"
	    "Fromage\n From v\nlast\n\n");
	free(out);

	put(f->dir, "example.org", ARCHIVE_IN, id1, "", "bob@example.org",
	    msg_plain, T0);
	put(f->dir, "example.org", ARCHIVE_IN, id2, "carol@example.com",
	    "dave@example.org", msg_b64, T0 + 60);
	memset(&q, 0, sizeof(q));
	q.any_direction = true;
	out = NULL;
	assert_non_null(fp = open_memstream(&out, &outlen));
	assert_int_equal(archive_export_mbox(f->dir, &q, fp, &err), 2);
	fclose(fp);
	assert_memory_equal(out, "From MAILER-DAEMON Tue Nov 14 22:13:20 2023"
	    "\n", 44);
	assert_non_null(strstr(out, "\n>From here on the numbers.\n"));
	assert_non_null(strstr(out, "\n>>From the archive\nbye\n\n"
	    "From carol@example.com Tue Nov 14 22:14:20 2023\n"));
	assert_null(strchr(out, '\r'));
	free(out);
}

static void
test_expire(void **state)
{
	struct fixture *f = *state;
	struct problems p;
	const char *err = NULL;
	char path[512], dom[512];
	struct stat sb;
	size_t n;

	put(f->dir, "example.org", ARCHIVE_IN, id1, "a@example.net",
	    "b@example.org", msg_plain, T0 - 40 * T_DAY);
	put(f->dir, "example.org", ARCHIVE_OUT, id2, "b@example.org",
	    "a@example.net", msg_plain, T0 - 35 * T_DAY);
	put(f->dir, "example.org", ARCHIVE_IN, id3, "a@example.net",
	    "b@example.org", msg_plain, T0);
	put(f->dir, "example.com", ARCHIVE_IN, id1, "a@example.net",
	    "b@example.com", msg_plain, T0 - 40 * T_DAY);
	assert_int_equal(archive_expire(f->dir, "example.org", T0 - 30 * T_DAY,
	    &err), 2);
	day_path(f->dir, "example.org", "in", T0 - 40 * T_DAY, "", path,
	    sizeof(path));
	assert_int_equal(stat(path, &sb), -1);
	snprintf(dom, sizeof(dom), "%s/archive/example.org/expired", f->dir);
	assert_int_equal(count_lines(dom), 2);
	assert_int_equal(verify(f->dir, &p, &n), 0);
	assert_int_equal(n, 2);
	/* Nothing more to do. */
	assert_int_equal(archive_expire(f->dir, "example.org", T0 - 30 * T_DAY,
	    &err), 0);

	/* An interrupted expiry: logged, index gone, a file left. */
	assert_int_equal(archive_expire(f->dir, "example.com", T0 - 30 * T_DAY,
	    &err), 1);
	day_path(f->dir, "example.com", "in", T0 - 40 * T_DAY, "", path,
	    sizeof(path));
	assert_int_equal(mkdir_p(path, 0700), 0);
	day_path(f->dir, "example.com", "in", T0 - 40 * T_DAY, id1, path,
	    sizeof(path));
	assert_int_equal(system("true"), 0);
	{
		FILE *fp = fopen(path, "w");

		assert_non_null(fp);
		fputs("MOATA1\n\nleft\n", fp);
		fclose(fp);
	}
	assert_int_equal(verify(f->dir, &p, NULL), 0);
	assert_int_equal(archive_expire(f->dir, "bad/domain", T0, &err), -1);
}

static void
test_index_line(void **state)
{
	struct archive_entry e, e2;
	char line[ARCHIVE_LINE_MAX + 1], big[3000];
	const char *err = NULL;
	int n;

	(void)state;
	memset(&e, 0, sizeof(e));
	memcpy(e.id, id1, sizeof(e.id));
	e.direction = ARCHIVE_OUT;
	e.time = T0;
	e.size = 1234;
	memset(e.file_hash, 'a', ARCHIVE_HASH_HEX);
	archive_seed("example.org", ARCHIVE_OUT, "2023-11-14", e.prev_hash);
	moat_strlcpy(e.from, "a@b\tc", sizeof(e.from));
	moat_strlcpy(e.subject, "line\r\nbreak", sizeof(e.subject));
	n = archive_index_format(&e, line, sizeof(line));
	assert_true(n > 0);
	assert_int_equal(line[n - 1], '\n');
	assert_int_equal(archive_index_parse(line, (size_t)n - 1, &e2, &err),
	    0);
	assert_string_equal(e2.id, id1);
	assert_int_equal(e2.direction, ARCHIVE_OUT);
	assert_int_equal(e2.time, T0);
	assert_int_equal(e2.size, 1234);
	assert_string_equal(e2.from, "a@b c");
	assert_string_equal(e2.subject, "line  break");
	assert_string_equal(e2.prev_hash, e.prev_hash);

	/* Every field at its limit still fits in a line. */
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	moat_strlcpy(e.from, big, sizeof(e.from));
	moat_strlcpy(e.to, big, sizeof(e.to));
	moat_strlcpy(e.hfrom, big, sizeof(e.hfrom));
	moat_strlcpy(e.hto, big, sizeof(e.hto));
	moat_strlcpy(e.subject, big, sizeof(e.subject));
	moat_strlcpy(e.snippet, big, sizeof(e.snippet));
	n = archive_index_format(&e, line, sizeof(line));
	assert_true(n > 0);
	assert_int_equal(archive_index_parse(line, (size_t)n - 1, &e2, &err),
	    0);
	assert_int_equal(strlen(e2.subject), ARCHIVE_SUBJECT_MAX);
	assert_int_equal(strlen(e2.to), ARCHIVE_TO_MAX);

	assert_int_equal(archive_index_parse("", 0, &e2, &err), -1);
	assert_int_equal(archive_index_parse(line, 30, &e2, &err), -1);
	line[0] = 'X';
	assert_int_equal(archive_index_parse(line, (size_t)n - 1, &e2, &err),
	    -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_dedupe, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_put_bad_args, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_verify_missing_altered_extra, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_chain, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_search, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire, setup, teardown),
		cmocka_unit_test(test_index_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
