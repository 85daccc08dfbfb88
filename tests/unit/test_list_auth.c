/* test_list_auth: what list_auth_transform does to a sample post: the
 * author's DKIM signatures are removed (our Authentication-Results and
 * ARC sets stay), From is rewritten to "Name via List" only for
 * p=quarantine and p=reject with the author in Reply-To (or Cc when the
 * list set Reply-To to itself) and X-Original-From, names are RFC 2047
 * encoded when not ASCII, and the copy carries a DKIM signature and an
 * ARC set of the list domain that verify with the key from the store.
 * Keys are given to the verifiers directly: no DNS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arc.h"
#include "authn_sign.h"
#include "buf.h"
#include "dkim.h"
#include "list_auth.h"
#include "mime.h"
#include "store.h"
#include "util.h"

#define LIST_DOMAIN	"lists.example"
#define HOST		"mx.lists.example"

static const char post[] =
    "Received: from mail.origin.example ([192.0.2.1])\r\n"
    "\tby mx.lists.example with ESMTPS id 1\r\n"
    "Authentication-Results: mx.lists.example;\r\n"
    "\tdkim=pass header.d=origin.example header.s=s1;\r\n"
    "\tspf=pass smtp.mailfrom=origin.example; arc=none;\r\n"
    "\tdmarc=pass header.from=origin.example\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; d=origin.example; s=s1;\r\n"
    "\th=from:to:subject; bh=AAAA; b=BBBB\r\n"
    "From: Alice Author <alice@origin.example>\r\n"
    "To: test@lists.example\r\n"
    "Subject: [Test] hello\r\n"
    "dkim-signature: v=1; a=ed25519-sha256; d=origin.example; s=s2;\r\n"
    "\th=from; bh=CCCC; b=DDDD\r\n"
    "X-Original-From: forged@elsewhere.example\r\n"
    "List-Id: Test List <test.lists.example>\r\n"
    "Message-ID: <post-1@origin.example>\r\n"
    "\r\n"
    "Hello list,\r\n"
    "a body line\r\n";

struct fixture {
	char		 dir[64];
	struct store	*st;
	char		*rec;		/* the list key's record */
};

static struct fixture fx;

static int
group_setup(void **state)
{
	const char *err = NULL, *rec;
	char *pem;
	struct buf b;

	(void)state;
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/moat-test-listauth-XXXXXX");
	if (mkdtemp(fx.dir) == NULL || store_open(fx.dir, &fx.st, &err) < 0)
		return -1;
	if (dkim_keygen(DKIM_KEY_RSA, &pem, &err) < 0 ||
	    store_dkim_key_add(fx.st, LIST_DOMAIN, "lst", "rsa-sha256", pem,
	    &err) < 0)
		return -1;
	buf_init(&b, 0);
	if (dkim_key_record(pem, strlen(pem), &b, &err) < 0 ||
	    buf_cstr(&b, &rec) < 0)
		return -1;
	fx.rec = strdup(rec);
	buf_deinit(&b);
	free(pem);
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	store_close(&fx.st);
	free(fx.rec);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const struct list_auth_params base = {
	.list_addr = "test@lists.example",
	.list_name = "Test List",
	.list_domain = LIST_DOMAIN,
	.author_dmarc = NULL,
	.hostname = HOST,
	.strip_dkim = true,
	.arc_seal = true,
};

/* Run the transform on m; returns the result as a C string. */
static char *
transform(struct store *st, const char *m, const struct list_auth_params *p)
{
	struct buf b;
	const char *err = NULL;
	char *res;

	buf_init(&b, 1024 * 1024);
	assert_int_equal(buf_append_str(&b, m), 0);
	if (list_auth_transform(st, &b, p, &err) < 0)
		fail_msg("transform: %s", err);
	res = strndup((const char *)b.data, b.len);
	assert_non_null(res);
	buf_deinit(&b);
	return res;
}

/* The unfolded value of the nth field called name in m, or NULL. */
static char *
field(const char *m, const char *name, size_t nth)
{
	struct mime_message *mm = mime_parse((const uint8_t *)m, strlen(m));
	const struct mime_header *h = mime_header_find_nth(mm->root, name, nth);
	struct buf b;
	const char *s;
	char *res = NULL;

	if (h != NULL) {
		buf_init(&b, 0);
		assert_int_equal(mime_header_unfold(h->value, h->value_len, &b),
		    0);
		assert_int_equal(buf_cstr(&b, &s), 0);
		res = strdup(s);
		buf_deinit(&b);
	}
	mime_message_free(&mm);
	return res;
}

static size_t
count(const char *m, const char *name)
{
	size_t n = 0;
	char *v;

	while ((v = field(m, name, n)) != NULL) {
		free(v);
		n++;
	}
	return n;
}

/* Every DKIM signature of m verifies with the list key: their d=. */
static void
dkim_check(const char *m, size_t want)
{
	struct dkim_verify *v = dkim_verify_new(NULL);
	char name[300];
	size_t i, n;

	dkim_verify_feed(v, m, strlen(m));
	n = dkim_verify_end(v);
	assert_int_equal(n, want);
	for (i = 0; i < n; i++) {
		const struct dkim_result *r;

		assert_int_equal(dkim_verify_key_name(v, i, name,
		    sizeof(name)), 0);
		assert_string_equal(name, "lst._domainkey." LIST_DOMAIN);
		dkim_verify_set_key(v, i, fx.rec, strlen(fx.rec));
		r = dkim_verify_result(v, i);
		assert_int_equal(r->status, DKIM_PASS);
		assert_string_equal(r->domain, LIST_DOMAIN);
	}
	dkim_verify_free(&v);
}

static void
arc_check(const char *m, unsigned instance)
{
	struct arc_verify *v = arc_verify_new();
	struct arc_result r;
	size_t i, n;

	arc_verify_feed(v, m, strlen(m));
	n = arc_verify_end(v);
	for (i = 0; i < n; i++) {
		assert_string_equal(arc_verify_key_name(v, i),
		    "lst._domainkey." LIST_DOMAIN);
		arc_verify_set_key(v, i, fx.rec, strlen(fx.rec));
	}
	arc_verify_result(v, &r);
	arc_verify_free(&v);
	assert_int_equal(r.status, ARC_PASS);
	assert_int_equal(r.instance, instance);
	assert_string_equal(r.domain, LIST_DOMAIN);
}

/* p=none (and no policy): From stays, the author's signatures go, ours
 * and an ARC set come. */
static void
test_none_keeps_from(void **state)
{
	struct list_auth_params p = base;
	const char *pols[] = { NULL, "none" };
	char *m, *v;
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		p.author_dmarc = pols[i];
		m = transform(fx.st, post, &p);
		v = field(m, "From", 0);
		assert_string_equal(v, "Alice Author <alice@origin.example>");
		free(v);
		assert_null(strstr(m, "; d=origin.example"));
		assert_int_equal(count(m, "DKIM-Signature"), 1);
		assert_non_null(strstr(m, "Authentication-Results: "
		    "mx.lists.example;\r\n\tdkim=pass header.d=origin.example"));
		assert_int_equal(count(m, "Reply-To"), 0);
		/* the forged one stays: it is not ours to judge here */
		v = field(m, "X-Original-From", 0);
		assert_string_equal(v, "forged@elsewhere.example");
		free(v);
		v = field(m, "DKIM-Signature", 0);
		assert_non_null(strstr(v, "d=lists.example;"));
		free(v);
		/* the new fields go on top, in ARC then DKIM order */
		assert_true(strncmp(m, "ARC-Seal: i=1; a=rsa-sha256; cv=none;",
		    37) == 0);
		v = field(m, "ARC-Authentication-Results", 0);
		assert_true(strncmp(v, "i=1; mx.lists.example;", 22) == 0);
		assert_non_null(strstr(v, "dkim=pass header.d=origin.example"));
		free(v);
		dkim_check(m, 1);
		arc_check(m, 1);
		assert_non_null(strstr(m, "\r\n\r\nHello list,\r\na body "
		    "line\r\n"));
		free(m);
	}
}

static void
test_reject_rewrites_from(void **state)
{
	struct list_auth_params p = base;
	const char *pols[] = { "reject", "quarantine", "REJECT" };
	char *m, *v;
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		p.author_dmarc = pols[i];
		m = transform(fx.st, post, &p);
		v = field(m, "From", 0);
		assert_string_equal(v, "\"Alice Author via Test List\" "
		    "<test@lists.example>");
		free(v);
		assert_int_equal(count(m, "From"), 1);
		v = field(m, "Reply-To", 0);
		assert_string_equal(v, "Alice Author <alice@origin.example>");
		free(v);
		/* ours replaces the forged one */
		assert_int_equal(count(m, "X-Original-From"), 1);
		v = field(m, "X-Original-From", 0);
		assert_string_equal(v, "Alice Author <alice@origin.example>");
		free(v);
		assert_int_equal(count(m, "Cc"), 0);
		assert_null(strstr(m, "forged@"));
		assert_null(strstr(m, "; d=origin.example"));
		assert_int_equal(count(m, "DKIM-Signature"), 1);
		dkim_check(m, 1);
		arc_check(m, 1);
		free(m);
	}
}

static char *
with_from(const char *from_line)
{
	const char *a = strstr(post, "From: Alice"), *b = strstr(a, "\r\n");
	size_t n = (size_t)(a - post);
	char *res = malloc(strlen(post) + strlen(from_line) + 1);

	assert_non_null(res);
	memcpy(res, post, n);
	memcpy(res + n, from_line, strlen(from_line));
	memcpy(res + n + strlen(from_line), b, strlen(b) + 1);
	return res;
}

static void
test_names(void **state)
{
	struct list_auth_params p = base;
	char *in, *m, *v, *d;
	struct buf b;
	const char *s;
	size_t len;

	(void)state;
	p.author_dmarc = "reject";
	/* no display name: the local part */
	in = with_from("From: alice@origin.example");
	m = transform(fx.st, in, &p);
	v = field(m, "From", 0);
	assert_string_equal(v, "\"alice via Test List\" <test@lists.example>");
	free(v);
	free(m);
	free(in);
	/* quotes and backslashes in a quoted name */
	in = with_from("From: \"Bob \\\"B\\\\\" <bob@origin.example>");
	m = transform(fx.st, in, &p);
	v = field(m, "From", 0);
	assert_string_equal(v, "\"Bob \\\"B\\\\ via Test List\" "
	    "<test@lists.example>");
	free(v);
	free(m);
	free(in);
	/* an encoded Latin-1 name comes out as UTF-8 encoded-words */
	in = with_from("From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= "
	    "<jorg@origin.example>");
	m = transform(fx.st, in, &p);
	v = field(m, "From", 0);
	assert_string_equal(v, "=?UTF-8?Q?J=C3=B6rg_M=C3=BCller_via_Test_List?="
	    " <test@lists.example>");
	free(v);
	v = field(m, "X-Original-From", 0);
	assert_string_equal(v, "=?ISO-8859-1?Q?J=F6rg_M=FCller?= "
	    "<jorg@origin.example>");
	free(v);
	dkim_check(m, 1);
	free(m);
	free(in);
	/* a long raw UTF-8 name: several encoded-words of at most 75
	 * octets, folded, that decode back to the name */
	in = with_from("From: \"\xc3\x89lodie \xc3\x89l\xc3\xa9onore "
	    "\xc3\x89tienne-\xc3\x89milie de la \xc3\x89" "cole "
	    "Sup\xc3\xa9rieure\" <elodie@origin.example>");
	m = transform(fx.st, in, &p);
	s = strstr(m, "\r\nFrom: ") + 8;
	len = (size_t)(strstr(s, " <test@lists.example>") - s);
	d = strndup(s, len);
	assert_non_null(strstr(d, "?=\r\n =?UTF-8?Q?"));
	for (s = d; (s = strstr(s, "=?UTF-8?Q?")) != NULL; s += 2)
		assert_true((size_t)(strstr(s, "?=") + 2 - s) <= 75);
	buf_init(&b, 0);
	assert_int_equal(mime_header_decode((const uint8_t *)d, strlen(d), &b),
	    0);
	assert_int_equal(buf_cstr(&b, &s), 0);
	assert_string_equal(s, "\xc3\x89lodie \xc3\x89l\xc3\xa9onore "
	    "\xc3\x89tienne-\xc3\x89milie de la \xc3\x89" "cole "
	    "Sup\xc3\xa9rieure via Test List");
	buf_deinit(&b);
	free(d);
	dkim_check(m, 1);
	arc_check(m, 1);
	free(m);
	free(in);
	/* A name over the 200-octet limit whose cut falls inside a two-
	 * octet character ("a" then 150 x U+00E9): cut before it, so the
	 * result is whole characters (99 of them after the "a"). */
	{
		char from[512] = "From: \"a";
		size_t k, n = strlen(from);

		for (k = 0; k < 150; k++) {
			from[n++] = '\xc3';
			from[n++] = '\xa9';
		}
		from[n] = '\0';
		moat_strlcat(from, "\" <long@origin.example>", sizeof(from));
		in = with_from(from);
		m = transform(fx.st, in, &p);
		s = strstr(m, "\r\nFrom: ") + 8;
		len = (size_t)(strstr(s, " <test@lists.example>") - s);
		d = strndup(s, len);
		buf_init(&b, 0);
		assert_int_equal(mime_header_decode((const uint8_t *)d,
		    strlen(d), &b), 0);
		assert_int_equal(buf_cstr(&b, &s), 0);
		assert_int_equal(strlen(s), 1 + 99 * 2 + strlen(" via Test List"));
		assert_int_equal(s[0], 'a');
		for (k = 0; k < 99; k++)
			assert_memory_equal(s + 1 + 2 * k, "\xc3\xa9", 2);
		assert_string_equal(s + 1 + 99 * 2, " via Test List");
		buf_deinit(&b);
		free(d);
		free(m);
		free(in);
	}
}

/* The list set Reply-To to itself: the author goes to Cc (merged with
 * the Cc there), Reply-To stays. The author's own Reply-To gets the
 * author added once. */
static void
test_reply_to(void **state)
{
	struct list_auth_params p = base;
	char *in, *m, *v;

	(void)state;
	p.author_dmarc = "reject";
	in = with_from("Reply-To: Test List <test@lists.example>\r\n"
	    "Cc: carol@else.example\r\n"
	    "From: Alice Author <alice@origin.example>");
	m = transform(fx.st, in, &p);
	v = field(m, "Reply-To", 0);
	assert_string_equal(v, "Test List <test@lists.example>");
	free(v);
	v = field(m, "Cc", 0);
	assert_string_equal(v, "carol@else.example, "
	    "Alice Author <alice@origin.example>");
	free(v);
	assert_int_equal(count(m, "Cc"), 1);
	dkim_check(m, 1);
	free(m);
	free(in);

	in = with_from("Reply-To: Test List <test@lists.example>\r\n"
	    "From: Alice Author <alice@origin.example>");
	m = transform(fx.st, in, &p);
	v = field(m, "Cc", 0);
	assert_string_equal(v, "Alice Author <alice@origin.example>");
	free(v);
	free(m);
	free(in);

	in = with_from("Reply-To: alice@origin.example\r\n"
	    "From: Alice Author <alice@origin.example>");
	m = transform(fx.st, in, &p);
	v = field(m, "Reply-To", 0);
	assert_string_equal(v, "alice@origin.example");
	free(v);
	assert_int_equal(count(m, "Reply-To"), 1);
	free(m);
	free(in);

	in = with_from("Reply-To: \r\n"
	    "From: Alice Author <alice@origin.example>");
	m = transform(fx.st, in, &p);
	v = field(m, "Reply-To", 0);
	assert_string_equal(v, "Alice Author <alice@origin.example>");
	free(v);
	free(m);
	free(in);

	in = with_from("Reply-To: desk@origin.example\r\n"
	    "From: Alice Author <alice@origin.example>");
	m = transform(fx.st, in, &p);
	v = field(m, "Reply-To", 0);
	assert_string_equal(v, "desk@origin.example, "
	    "Alice Author <alice@origin.example>");
	free(v);
	free(m);
	free(in);
}

/* strip_dkim off keeps the author's signatures; no key: unsigned, not
 * an error; an existing ARC set is kept and ours is the next one. */
static void
test_options_and_no_key(void **state)
{
	struct list_auth_params p = base;
	char *m, *m2, *v;

	(void)state;
	p.strip_dkim = false;
	p.arc_seal = false;
	m = transform(fx.st, post, &p);
	assert_int_equal(count(m, "DKIM-Signature"), 3);
	assert_int_equal(count(m, "ARC-Seal"), 0);
	free(m);

	p = base;
	p.list_domain = "nokey.example";
	p.author_dmarc = "quarantine";
	m = transform(fx.st, post, &p);
	assert_int_equal(count(m, "DKIM-Signature"), 0);
	assert_int_equal(count(m, "ARC-Seal"), 0);
	v = field(m, "From", 0);
	assert_string_equal(v, "\"Alice Author via Test List\" "
	    "<test@lists.example>");
	free(v);
	free(m);
	m = transform(NULL, post, &p);
	assert_int_equal(count(m, "DKIM-Signature"), 0);
	free(m);

	/* A second list hop: the first copy as it reaches another list of
	 * ours (our A-R says arc=pass) gets ARC instance 2. */
	m = transform(fx.st, post, &base);
	{
		const char *ar = "Authentication-Results: mx.lists.example; "
		    "arc=pass (i=1)\r\n";
		char *in = malloc(strlen(ar) + strlen(m) + 1);

		assert_non_null(in);
		memcpy(in, ar, strlen(ar));
		memcpy(in + strlen(ar), m, strlen(m) + 1);
		m2 = transform(fx.st, in, &base);
		free(in);
	}
	assert_true(strncmp(m2, "ARC-Seal: i=2; a=rsa-sha256; cv=pass;",
	    37) == 0);
	arc_check(m2, 2);
	dkim_check(m2, 1);	/* the first hop's signature was stripped */
	free(m2);
	free(m);
}

static void
test_bounds(void **state)
{
	struct list_auth_params p = base;
	struct buf b;
	const char *err = NULL;
	size_t i;

	(void)state;
	/* a header block past the bound */
	buf_init(&b, 0);
	for (i = 0; i < 30000; i++)
		assert_int_equal(buf_append_str(&b, "X-Filler: 0123456789\r\n"),
		    0);
	assert_int_equal(buf_append_str(&b, "\r\nbody\r\n"), 0);
	assert_int_equal(list_auth_transform(fx.st, &b, &p, &err), -1);
	assert_non_null(err);
	buf_deinit(&b);
	/* a message without a body, and an empty one, do not crash */
	buf_init(&b, 0);
	assert_int_equal(buf_append_str(&b, "From: a@b.example\r\n"), 0);
	p.author_dmarc = "reject";
	assert_int_equal(list_auth_transform(fx.st, &b, &p, &err), 0);
	buf_deinit(&b);
	buf_init(&b, 0);
	assert_int_equal(list_auth_transform(fx.st, &b, &p, &err), 0);
	buf_deinit(&b);
	/* From without a usable address: left alone */
	buf_init(&b, 0);
	assert_int_equal(buf_append_str(&b, "From: undisclosed:;\r\n\r\nx\r\n"),
	    0);
	assert_int_equal(list_auth_transform(fx.st, &b, &p, &err), 0);
	assert_non_null(memmem(b.data, b.len, "From: undisclosed:;", 19));
	buf_deinit(&b);
}

/* A list copy forwarded on by an alias (authn_sign.c): the list's own
 * set (i=1) came after reception, whose A-R says arc=none, so the next
 * seal checks it with our key and states cv=pass (i=2), not fail; a copy
 * changed after the list sealed it gets cv=fail. */
static void
test_reseal_forwarded_copy(void **state)
{
	struct list_auth_params p = base;
	struct authn_keys k;
	const struct dkim_signer *rsa;
	const char *error = NULL;
	char ar[256], *m, *body;
	enum arc_status cv;
	unsigned instance;
	struct buf out;

	(void)state;
	m = transform(fx.st, post, &p);
	assert_int_equal(authn_keys_load(fx.st, LIST_DOMAIN, &k, "t"), 0);
	assert_non_null(rsa = authn_keys_rsa(&k));
	authn_our_ar((const uint8_t *)m, strlen(m), HOST, ar, sizeof(ar));
	assert_non_null(strstr(ar, "arc=none"));
	buf_init(&out, 0);
	assert_int_equal(authn_arc_seal(fx.st, rsa, (const uint8_t *)m,
	    strlen(m), ar, &out, &instance, &cv, &error), 0);
	assert_int_equal(instance, 2);
	assert_int_equal(cv, ARC_PASS);
	assert_non_null(strstr((const char *)out.data, "cv=pass"));
	buf_deinit(&out);
	/* The body changed since the list's seal: the chain is broken. */
	assert_non_null(body = strstr(m, "a body line"));
	body[0] = 'A';
	buf_init(&out, 0);
	assert_int_equal(authn_arc_seal(fx.st, rsa, (const uint8_t *)m,
	    strlen(m), ar, &out, &instance, &cv, &error), 0);
	assert_int_equal(cv, ARC_FAIL);
	buf_deinit(&out);
	authn_keys_free(&k);
	free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none_keeps_from),
		cmocka_unit_test(test_reject_rewrites_from),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_reply_to),
		cmocka_unit_test(test_options_and_no_key),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_reseal_forwarded_copy),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
