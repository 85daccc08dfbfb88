/* test_spam_rules: the rule half of the spam score (src/filter/
 * spam_rules.c): each rule on a message made to trip it and not on a
 * clean one, the session facts, the combination with the Bayesian
 * probability, and the format of the hit list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "dkim.h"
#include "dmarc.h"
#include "spam_rules.h"
#include "spf.h"

#define NOW 1764000000		/* 2025-11-24T16:00:00Z */

static const char clean[] =
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.net\r\n"
    "Date: Mon, 24 Nov 2025 15:30:00 +0000\r\n"
    "Message-ID: <1@example.org>\r\n"
    "Subject: lunch\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "See https://www.example.org/menu for the menu.\r\n";

static bool
has(const struct spam_rules_result *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nhits; i++)
		if (strcmp(r->hits[i].name, name) == 0)
			return true;
	return false;
}

static void
eval(const char *msg, const struct spam_facts *f_in,
    struct spam_rules_result *r)
{
	struct spam_facts f;

	if (f_in != NULL)
		f = *f_in;
	else {
		spam_facts_init(&f);
		f.now = NOW;
	}
	spam_rules_eval(&f, (const uint8_t *)msg, strlen(msg), r);
}

static void
test_clean_message_hits_nothing(void **state)
{
	struct spam_rules_result r;
	char out[SPAM_RULES_FORMAT_MAX];

	(void)state;
	eval(clean, NULL, &r);
	assert_int_equal(r.nhits, 0);
	assert_true(r.sum == 0.0);
	spam_rules_format(&r, out, sizeof(out));
	assert_string_equal(out, "none");
}

static void
test_header_anomalies(void **state)
{
	struct spam_rules_result r;

	(void)state;
	eval("To: b@example.net\r\nSubject: x\r\n\r\nhi\r\n", NULL, &r);
	assert_true(has(&r, "MISSING_FROM"));
	assert_true(has(&r, "MISSING_DATE"));
	assert_true(has(&r, "MISSING_MESSAGE_ID"));
	assert_int_equal(r.nhits, 3);
	assert_true(r.sum > 2.0);

	eval("From: a@example.org\r\nMessage-ID: <x@y>\r\n"
	    "Date: Sat, 24 Nov 2035 10:00:00 +0000\r\n\r\nhi\r\n", NULL, &r);
	assert_true(has(&r, "DATE_IN_FUTURE"));
	assert_int_equal(r.nhits, 1);
	eval("From: a@example.org\r\nMessage-ID: <x@y>\r\n"
	    "Date: 1 Jan 2002 10:00 -0500\r\n\r\nhi\r\n", NULL, &r);
	assert_true(has(&r, "DATE_IN_PAST"));
	eval("From: a@example.org\r\nMessage-ID: <x@y>\r\n"
	    "Date: yesterday\r\n\r\nhi\r\n", NULL, &r);
	assert_true(has(&r, "DATE_INVALID"));
	/* A zone moves the time: 23:30 -0100 the day before is 00:30Z,
	 * 30 minutes after NOW's day began... well in range. */
	eval("From: a@example.org\r\nMessage-ID: <x@y>\r\n"
	    "Date: Sun, 23 Nov 2025 23:30:00 -0100\r\n\r\nhi\r\n", NULL, &r);
	assert_int_equal(r.nhits, 0);
}

static void
test_display_name_address(void **state)
{
	struct spam_rules_result r;

	(void)state;
	eval("From: \"service@paypal.com\" <x@evil.example>\r\n"
	    "Message-ID: <x@y>\r\nDate: Mon, 24 Nov 2025 15:00:00 +0000\r\n"
	    "\r\nhi\r\n", NULL, &r);
	assert_true(has(&r, "FROM_NAME_OTHER_ADDRESS"));
	/* The same address in the name is not a disguise. */
	eval("From: \"x@evil.example\" <x@evil.example>\r\n"
	    "Message-ID: <x@y>\r\nDate: Mon, 24 Nov 2025 15:00:00 +0000\r\n"
	    "\r\nhi\r\n", NULL, &r);
	assert_false(has(&r, "FROM_NAME_OTHER_ADDRESS"));
	/* Encoded words are decoded first. */
	eval("From: =?utf-8?q?service=40bank=2Eexample?= <x@evil.example>\r\n"
	    "Message-ID: <x@y>\r\nDate: Mon, 24 Nov 2025 15:00:00 +0000\r\n"
	    "\r\nhi\r\n", NULL, &r);
	assert_true(has(&r, "FROM_NAME_OTHER_ADDRESS"));
}

static const char html_head[] =
    "From: a@example.org\r\nMessage-ID: <x@y>\r\n"
    "Date: Mon, 24 Nov 2025 15:00:00 +0000\r\n"
    "Content-Type: text/html\r\n\r\n";

static void
html(const char *body, struct spam_rules_result *r)
{
	char msg[4096];

	snprintf(msg, sizeof(msg), "%s%s\r\n", html_head, body);
	eval(msg, NULL, r);
}

static void
test_links(void **state)
{
	struct spam_rules_result r;

	(void)state;
	html("<a href=\"http://192.0.2.7/login\">log in</a>", &r);
	assert_true(has(&r, "URL_IP_HOST"));
	assert_int_equal(r.nhits, 1);
	html("<a href=\"https://evil.example/x\">https://www.bank.example/"
	    "</a>", &r);
	assert_true(has(&r, "URL_TEXT_OTHER_HOST"));
	/* The same site (or a subdomain of it) is fine. */
	html("<a href=\"https://www.bank.example/x\">https://bank.example/"
	    "</a>", &r);
	assert_int_equal(r.nhits, 0);
	html("<A HREF='http://www.bank.example@evil.example/'>bank</A>", &r);
	assert_true(has(&r, "URL_USERINFO"));
	html("<a href=\"https://bit.ly/3xyz\">click</a>", &r);
	assert_true(has(&r, "URL_SHORTENER"));
	html("<a href=\"https://xn--pypal-4ve.example/\">pay</a>", &r);
	assert_true(has(&r, "URL_PUNYCODE"));
	/* Plain text URLs are checked too, in a base64 part. */
	eval("From: a@example.org\r\nMessage-ID: <x@y>\r\n"
	    "Date: Mon, 24 Nov 2025 15:00:00 +0000\r\n"
	    "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n"
	    "\r\naHR0cDovLzEwLjEuMi4zL3ggaGk=\r\n", NULL, &r);
	assert_true(has(&r, "URL_IP_HOST"));
}

static void
test_facts(void **state)
{
	struct spam_rules_result r;
	struct spam_facts f;

	(void)state;
	spam_facts_init(&f);
	f.now = NOW;
	f.spf = SPF_FAIL;
	f.dmarc = DMARC_FAIL;
	f.dkim = DKIM_FAIL;
	f.rdns_missing = true;
	f.dnsbl_score = 10;
	eval(clean, &f, &r);
	assert_true(has(&r, "SPF_FAIL"));
	assert_true(has(&r, "DMARC_FAIL"));
	assert_true(has(&r, "DKIM_INVALID"));
	assert_true(has(&r, "NO_RDNS"));
	assert_true(has(&r, "DNSBL_LISTED"));
	assert_int_equal(r.nhits, 5);
	/* The DNSBL weight is capped. */
	assert_true(r.sum < 1.2 + 1.5 + 0.5 + 0.8 + 3.0 + 1e-9);

	spam_facts_init(&f);
	f.now = NOW;
	f.spf = SPF_PASS;
	f.dmarc = DMARC_PASS;
	f.dnsbl_score = -5;
	eval(clean, &f, &r);
	assert_true(has(&r, "DNSWL_LISTED"));
	assert_true(r.sum < -1.5);
}

static void
test_combine(void **state)
{
	(void)state;
	/* No evidence leaves p alone; evidence moves it either way. */
	assert_true(spam_rules_combine(0.3, 0.0) > 0.2999 &&
	    spam_rules_combine(0.3, 0.0) < 0.3001);
	assert_true(spam_rules_combine(0.5, 2.0) > 0.88);
	assert_true(spam_rules_combine(0.5, -2.0) < 0.12);
	/* A very sure verdict is not turned by a few rules. */
	assert_true(spam_rules_combine(0.0, 3.0) < 0.05);
	assert_true(spam_rules_combine(1.0, -3.0) > 0.95);
}

static void
test_format(void **state)
{
	struct spam_rules_result r;
	char out[SPAM_RULES_FORMAT_MAX], small[20];

	(void)state;
	eval("To: b@example.net\r\n\r\nhi\r\n", NULL, &r);
	spam_rules_format(&r, out, sizeof(out));
	assert_string_equal(out, "MISSING_FROM=1.0,MISSING_MESSAGE_ID=0.6,"
	    "MISSING_DATE=0.8");
	/* Only whole entries when it does not fit. */
	spam_rules_format(&r, small, sizeof(small));
	assert_string_equal(small, "MISSING_FROM=1.0");
}

static void
test_garbage(void **state)
{
	struct spam_rules_result r;
	static uint8_t junk[70000];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 7919u >> 3);
	spam_rules_eval(&(struct spam_facts){ .spf = -1, .dkim = -1,
	    .dmarc = -1, .now = NOW }, junk, sizeof(junk), &r);
	assert_true(r.nhits <= SPAM_RULES_HITS_MAX);
	spam_rules_eval(&(struct spam_facts){ .spf = -1, .dkim = -1,
	    .dmarc = -1, .now = NOW }, (const uint8_t *)"", 0, &r);
	assert_true(r.nhits <= SPAM_RULES_HITS_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_message_hits_nothing),
		cmocka_unit_test(test_header_anomalies),
		cmocka_unit_test(test_display_name_address),
		cmocka_unit_test(test_links),
		cmocka_unit_test(test_facts),
		cmocka_unit_test(test_combine),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
