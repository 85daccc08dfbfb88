/* test_tokenize: the tokenizer's header prefixes, decoded parts, HTML
 * link hosts, special tokens, our own X-Spam headers ignored, limits,
 * and determinism. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tokenize.h"

static bool
has(const struct tokenize *t, const char *tok)
{
	const uint8_t *p;
	size_t i, n;

	for (i = 0; i < tokenize_count(t); i++) {
		p = tokenize_token(t, i, &n);
		if (n == strlen(tok) && memcmp(p, tok, n) == 0)
			return true;
	}
	return false;
}

static void
run(struct tokenize *t, const char *msg)
{
	tokenize_message(t, (const uint8_t *)msg, strlen(msg));
}

static void
test_headers_prefixed(void **state)
{
	struct tokenize *t = tokenize_new();

	(void)state;
	run(t, "Received: from mx.example.net (mx.example.net [192.0.2.7])\r\n"
	    "From: \"Cheap Pills\" <deals@pharma.example>\r\n"
	    "To: a@example.org\r\n"
	    "Subject: FREE VIAGRA NOW!!!\r\n"
	    "Message-ID: <123@mailer.example.com>\r\n"
	    "X-Mailer: SuperMailer 5\r\n"
	    "X-Spam-Status: Yes, score=1.0\r\n"
	    "\r\n"
	    "Hello friend, buy now.\r\n");
	assert_true(has(t, "subject:free"));
	assert_true(has(t, "subject:viagra"));
	assert_true(has(t, "subject:punct:!!!"));
	assert_true(has(t, "special:subject_allcaps"));
	assert_true(has(t, "from:addr:deals@pharma.example"));
	assert_true(has(t, "from:name:cheap"));
	assert_true(has(t, "to:dom:example.org"));
	assert_true(has(t, "rcvd:ip:192.0.2.7"));
	assert_true(has(t, "rcvd:ip:192.0.2"));
	assert_true(has(t, "rcvd:host:mx.example.net"));
	assert_true(has(t, "mid:dom:example.com"));
	assert_true(has(t, "x-mailer:supermailer"));
	assert_true(has(t, "hello"));
	assert_true(has(t, "friend"));	/* trailing comma trimmed */
	assert_true(has(t, "buy"));
	/* Our own verdict is never a clue. */
	assert_false(has(t, "hdr:X-Spam-Status"));
	assert_false(tokenize_truncated(t));
	tokenize_free(&t);
}

static void
test_mime_decoded_and_html(void **state)
{
	struct tokenize *t = tokenize_new();

	(void)state;
	run(t, "Subject: =?utf-8?B?SGVsbG8gV29ybGQ=?=\r\n"
	    "Content-Type: multipart/alternative; boundary=\"b\"\r\n"
	    "\r\n"
	    "--b\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n"
	    "bW9ydGdhZ2UgcmF0ZXM=\r\n"
	    "--b\r\n"
	    "Content-Type: text/html\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "\r\n"
	    "<p>Click <a href=3D\"http://www.Evil.Example.com/buy/now\">here"
	    "</a></p>\r\n"
	    "--b--\r\n");
	assert_true(has(t, "subject:hello"));
	assert_true(has(t, "subject:charset:utf-8"));
	assert_true(has(t, "mortgage"));
	assert_true(has(t, "rates"));
	assert_true(has(t, "ct:text/html"));
	assert_true(has(t, "cte:base64"));
	assert_true(has(t, "url:www.evil.example.com"));
	assert_true(has(t, "url:dom:example.com"));
	assert_true(has(t, "urlpath:buy"));
	assert_true(has(t, "tag:a"));
	assert_true(has(t, "click"));
	assert_false(has(t, "special:html_only"));
	tokenize_free(&t);
}

static void
test_long_words_and_specials(void **state)
{
	struct tokenize *t = tokenize_new();

	(void)state;
	run(t, "Subject: hi\n\nsupercalifragilistic wow!!! !!!\n");
	assert_true(has(t, "skip:s 20"));
	assert_true(has(t, "wow!!!"));
	assert_true(has(t, "special:excl_runs:2"));
	tokenize_free(&t);
}

static void
test_limits_and_determinism(void **state)
{
	struct tokenize *t = tokenize_new();
	char *msg, *p;
	size_t i, n1, len = 20 * TOKENIZE_TOKENS_MAX + 64;
	uint64_t h1;

	(void)state;
	msg = malloc(len);
	assert_non_null(msg);
	p = msg + snprintf(msg, len, "Subject: x\n\n");
	/* Many distinct words: the table fills, nothing overflows. */
	for (i = 0; i < 2 * TOKENIZE_TOKENS_MAX; i++)
		p += snprintf(p, (size_t)(msg + len - p), "w%05zu ", i);
	tokenize_message(t, (uint8_t *)msg, (size_t)(p - msg));
	assert_int_equal(tokenize_count(t), TOKENIZE_TOKENS_MAX);
	assert_true(tokenize_truncated(t));
	n1 = tokenize_count(t);
	h1 = tokenize_token_hash(t, n1 - 1);
	tokenize_message(t, (uint8_t *)msg, (size_t)(p - msg));
	assert_int_equal(tokenize_count(t), n1);
	assert_true(tokenize_token_hash(t, n1 - 1) == h1);
	for (i = 0; i < tokenize_count(t); i++) {
		size_t n;

		(void)tokenize_token(t, i, &n);
		assert_true(n >= 1 && n <= TOKENIZE_TOKEN_MAX);
	}
	/* Empty and garbage input. */
	tokenize_message(t, (const uint8_t *)"", 0);
	tokenize_message(t, (const uint8_t *)"\0\0\r\r\n:::", 9);
	free(msg);
	tokenize_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers_prefixed),
		cmocka_unit_test(test_mime_decoded_and_html),
		cmocka_unit_test(test_long_words_and_specials),
		cmocka_unit_test(test_limits_and_determinism),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
