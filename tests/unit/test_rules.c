/* test_rules: the content-filter rule parser (rules_parse.h: a good file
 * with every condition and action, each error with its line) and the
 * evaluation and message edits (rules.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "rules_parse.h"

static const char good[] =
    "# every condition and action\n"
    "rule \"r1\"\n"
    "  if direction is inbound and header \"Subject\" matches \"(?i)invo"
    "ice\"\n"
    "     and attachment name like \"*.zip\"\n"
    "  then reject 550 \"5.7.1 No zipped invoices\" ; stop\n"
    "rule \"r2\" if (body contains \"x\" or body matches \"^a+$\") and not "
    "size > 10k then discard\n"
    "rule \"r3\" if attachment type is \"application/zip\" or attachment "
    "size >= 1m then quarantine \"why\" ; quarantine\n"
    "rule \"r4\" if sender like \"*@a.test\" and recipient is \"b@c\" then "
    "add-header \"X-A\" \"1\" ; remove-header \"X-B\" ; replace-header "
    "\"X-C\" \"v\" ; tag-subject \"[T]\"\n"
    "rule \"r5\" if authenticated and auth-user is \"u\" and spf is "
    "softfail and dmarc is fail then copy \"a@b.test\" \"c@d.test\" ; "
    "redirect \"e@f.test\"\n"
    "rule \"r6\" if spam score >= 90 and virus and virus matches \"eicar\" "
    "then strip-attachments ; strip-attachments \"*.exe\"\n"
    "rule \"r7\" if ip in \"10.0.0.0/8, ::1\" and header \"X\" exists "
    "then notify admin \"t\" ; notify sender ; accept ;\n"
    "rule \"r8\" then stop\n"
    "rule \"r9\" if true then reject 421 \"4.3.2 later\"\n";

static struct rules *
parse_ok(const char *text)
{
	struct rules *r = NULL;
	char err[512];

	if (rules_parse(text, strlen(text), "t.rules", &r, err,
	    sizeof(err)) < 0)
		fail_msg("parse: %s", err);
	return r;
}

static void
test_parse_good(void **state)
{
	struct rules *r;

	(void)state;
	r = parse_ok(good);
	assert_int_equal(r->nrules, 9);
	assert_string_equal(r->rules[0].name, "r1");
	assert_int_equal(r->rules[0].line, 2);
	assert_int_equal(r->rules[0].nactions, 2);
	assert_int_equal(r->rules[0].actions[0].type, RA_REJECT);
	assert_int_equal(r->rules[0].actions[0].code, 550);
	assert_int_equal(r->rules[0].actions[1].type, RA_STOP);
	assert_int_equal(r->rules[3].nactions, 4);
	assert_int_equal(r->rules[3].actions[3].type, RA_TAG_SUBJECT);
	assert_int_equal(r->rules[4].actions[0].naddrs, 2);
	assert_int_equal(r->rules[4].actions[1].type, RA_REDIRECT);
	assert_null(r->rules[5].actions[0].text);
	assert_string_equal(r->rules[5].actions[1].text, "*.exe");
	assert_int_equal(r->rules[6].actions[0].type, RA_NOTIFY_ADMIN);
	assert_int_equal(r->rules[6].actions[1].type, RA_NOTIFY_SENDER);
	assert_int_equal(r->rules[6].actions[2].type, RA_ACCEPT);
	assert_int_equal(r->rules[7].root, -1);
	rules_free(r);
}

static const struct {
	const char	*text;
	const char	*error;		/* prefix after "t.rules:" */
} bad[] = {
	{ "rule \"a\" then nonsense", "1: expected an action" },
	{ "\n\nrule \"a\"\n if size > 1 then reject 250 \"2.0.0 x\"",
	  "4: expected a 4xx or 5xx reply code" },
	{ "rule \"a\" then reject 550 \"4.7.1 wrong class\"",
	  "1: the reply text must start" },
	{ "rule \"a\" then reject 550 \"5.7 short\"",
	  "1: the reply text must start" },
	{ "rule \"a\" then reject 550 \"5.7.1\"",
	  "1: the reply text must start" },
	{ "rule \"a\" then stop\nrule \"a\" then stop",
	  "2: rule \"a\" is already defined on line 1" },
	{ "rule \"a\"\n  if header \"S\" matches \"(\"\nthen stop",
	  "2: bad regular expression" },
	{ "rule \"a\" if ip in \"10.0.0.0/33\" then stop",
	  "1: bad network list" },
	{ "rule \"a\" if spf is great then stop", "1: expected an SPF" },
	{ "rule \"a\" if spam score > 101 then stop", "1: expected a number" },
	{ "rule \"a\" if size 5 then stop", "1: expected a comparison" },
	{ "rule \"a\"\nif header \"S\" contains \"x\nthen stop",
	  "2: unterminated string" },
	{ "rule \"a\" if (true then stop", "1: expected \")\"" },
	{ "rule \"a\" if true stop", "1: expected \"then\"" },
	{ "rule \"a\" then stop stop", "1: expected \";\" or the next rule" },
	{ "rule \"a b\" then stop", "1: a rule's name has no blanks" },
	{ "rule \"\" then stop", "1: expected the rule's name" },
	{ "stop", "1: expected \"rule\"" },
	{ "rule \"a\" then add-header \"Bad:Name\" \"v\"",
	  "1: bad header name" },
	{ "rule \"a\" then copy \"nobody\"", "1: bad address" },
	{ "rule \"a\" then notify everyone", "1: expected admin or sender" },
	{ "rule \"a\" then tag-subject \"\"", "1: empty subject tag" },
	{ "rule \"a\" if header \"S\" contains \"\\n\" then stop",
	  "1: bad escape" },
	{ "rule \"a\" if direction is sideways then stop",
	  "1: expected inbound or outbound" },
	{ "rule \"a\" if attachment colour is \"x\" then stop",
	  "1: expected name, type or size" },
	{ "rule \"a\" if $ then stop", "1: unexpected character 0x24" },
	{ "rule \"a\"\nif body matches \"^a****+$\" then stop",
	  "2: regular expression \"^a****+$\" has stacked" },
	{ "rule \"a\" if body matches \"(x(a+)*)\" then stop",
	  "1: regular expression" },
	/* Nested counts multiply in regcomp's expansion (seconds). */
	{ "rule \"a\" if body matches \"((xa{1,100}y){100}z){100}\" "
	  "then stop", "1: regular expression \"((xa{1,100}y){100}z){100}\" "
	  "has stacked" },
	{ "rule \"a\" if body matches \"a{99999999999}\" then stop",
	  "1: regular expression \"a{99999999999}\" has stacked" },
	{ "rule \"a\" if", "1: expected a condition, got the end" },
};

static void
test_parse_errors(void **state)
{
	struct rules *r;
	char err[512], want[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = (struct rules *)1;
		if (rules_parse(bad[i].text, strlen(bad[i].text), "t.rules",
		    &r, err, sizeof(err)) == 0)
			fail_msg("case %zu parsed: %s", i, bad[i].text);
		assert_null(r);
		snprintf(want, sizeof(want), "t.rules:%s", bad[i].error);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s...\"", i, err,
			    want);
	}
}

static void
test_parse_limits(void **state)
{
	struct rules *r;
	char err[512], *text;
	size_t i, n = 0, cap = (RULES_MAX + 2) * 32;

	(void)state;
	text = malloc(cap);
	assert_non_null(text);
	for (i = 0; i <= RULES_MAX; i++)
		n += (size_t)snprintf(text + n, cap - n,
		    "rule \"r%zu\" then stop\n", i);
	assert_int_equal(rules_parse(text, n, "t", &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 1000 rules"));
	/* nesting */
	n = (size_t)snprintf(text, cap, "rule \"a\" if ");
	for (i = 0; i < RULES_DEPTH_MAX + 1; i++)
		n += (size_t)snprintf(text + n, cap - n, "not ");
	n += (size_t)snprintf(text + n, cap - n, "true then stop");
	assert_int_equal(rules_parse(text, n, "t", &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nested deeper"));
	free(text);
}

static const char msg[] =
    "From: a@b.test\r\n"
    "Subject: =?utf-8?q?Your_Invoice?= today\r\n"
    "X-Folded: one\r\n two\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "pay the b=\r\nill now\r\n"
    "--b\r\n"
    "Content-Type: application/zip; name=\"x.zip\"\r\n"
    "Content-Disposition: attachment; filename=\"x.zip\"\r\n"
    "\r\n"
    "PK....\r\n"
    "--b--\r\n";

static unsigned
hits_of(const char *text, const struct rules_input *in, unsigned *first)
{
	struct rules *r = parse_ok(text);
	struct rules_hits h;

	rules_eval(r, in, &h);
	if (first != NULL)
		*first = h.n > 0 ? h.idx[0] : 9999;
	rules_free(r);
	return h.n;
}

static void
input(struct rules_input *in, const struct rules_part *parts, size_t n)
{
	static const char *const rcpts[] = { "x@y.test", "Demo@Example.test" };

	memset(in, 0, sizeof(*in));
	in->msg = (const uint8_t *)msg;
	in->len = sizeof(msg) - 1;
	in->size = in->len;
	in->sender = "a@b.test";
	in->rcpts = rcpts;
	in->nrcpts = 2;
	in->inbound = true;
	in->auth_user = "";
	in->spf = "softfail";
	in->dmarc = "";
	in->spam_scored = true;
	in->spam_score = 0.905;
	in->virus = "";
	in->ip = "192.0.2.7";
	in->parts = parts;
	in->nparts = n;
}

static void
test_eval_conditions(void **state)
{
	static const struct rules_part parts[] = {
		{ "x.zip", "application/zip", "zip", 6 },
	};
	static const struct {
		const char	*cond;
		bool		 match;
	} cases[] = {
		{ "header \"subject\" matches \"(?i)^your invoice\"", true },
		{ "header \"Subject\" is \"Your Invoice today\"", true },
		{ "header \"X-Folded\" is \"one two\"", true },
		{ "header \"X-Missing\" exists", false },
		{ "header \"X-Folded\" exists", true },
		{ "body contains \"the bill now\"", true },
		{ "body contains \"PK....\"", false },
		{ "attachment name like \"*.ZIP\"", true },
		{ "attachment type is \"zip\"", true },
		{ "attachment size > 6", false },
		{ "attachment size = 6", true },
		{ "size < 100", false },
		{ "size >= 100", true },
		{ "sender like \"*@B.TEST\"", true },
		{ "recipient is \"demo@example.test\"", true },
		{ "direction is outbound", false },
		{ "not direction is outbound", true },
		{ "authenticated", false },
		{ "spf is softfail", true },
		{ "dmarc is none", false },
		{ "spam score >= 91", true },
		{ "spam score > 91", false },
		{ "virus", false },
		{ "ip in \"192.0.2.0/24\"", true },
		{ "ip in \"2001:db8::/32, 10.0.0.0/8\"", false },
		{ "true and (false_never_parsed or true)", true },
	};
	struct rules_input in;
	char text[512];
	size_t i;

	(void)state;
	input(&in, parts, 1);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (strstr(cases[i].cond, "false_never") != NULL)
			continue;
		snprintf(text, sizeof(text), "rule \"c\" if %s then stop",
		    cases[i].cond);
		if ((hits_of(text, &in, NULL) == 1) != cases[i].match)
			fail_msg("%s: expected %s", cases[i].cond,
			    cases[i].match ? "a match" : "no match");
	}
}

static void
test_eval_order_and_stop(void **state)
{
	struct rules_input in;
	unsigned first;

	(void)state;
	input(&in, NULL, 0);
	assert_int_equal(hits_of("rule \"a\" if size < 1 then stop\n"
	    "rule \"b\" then add-header \"X\" \"1\"\n"
	    "rule \"c\" then tag-subject \"t\"\n", &in, &first), 2);
	assert_int_equal(first, 1);
	assert_int_equal(hits_of("rule \"a\" then add-header \"X\" \"1\" ; "
	    "stop\nrule \"b\" then discard\n", &in, NULL), 1);
	assert_int_equal(hits_of("rule \"a\" then accept\nrule \"b\" then "
	    "discard\n", &in, NULL), 1);
	assert_int_equal(hits_of("rule \"a\" then quarantine\nrule \"b\" "
	    "then discard\nrule \"c\" then stop", &in, NULL), 2);
}

static void
edit_buf(struct buf *b, const char *text)
{
	buf_init(b, 1024 * 1024);
	assert_int_equal(buf_append_str(b, "Received: ours\r\n"), 0);
	assert_int_equal(buf_append_str(b, text), 0);
}

static const char *
cstr(struct buf *b)
{
	const char *s;

	assert_int_equal(buf_cstr(b, &s), 0);
	return s;
}

static void
test_edits(void **state)
{
	struct buf b;
	unsigned n;
	size_t off = strlen("Received: ours\r\n");

	(void)state;
	edit_buf(&b, "Subject: hi\r\nX-B: 1\r\n more\r\nX-C: 2\r\nx-b: 3\r\n"
	    "\r\nX-B: body\r\n");
	assert_int_equal(rules_header_remove(&b, off, "X-B", &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(cstr(&b), "Received: ours\r\nSubject: hi\r\n"
	    "X-C: 2\r\n\r\nX-B: body\r\n");
	assert_int_equal(rules_header_replace(&b, off, "X-C", "new"), 0);
	assert_int_equal(rules_header_add(&b, off, "X-A", "a"), 0);
	assert_int_equal(rules_subject_tag(&b, off, "[T]"), 0);
	assert_int_equal(rules_subject_tag(&b, off, "[T]"), 0);
	assert_string_equal(cstr(&b), "Received: ours\r\nX-A: a\r\n"
	    "Subject: [T] hi\r\nX-C: new\r\n\r\nX-B: body\r\n");
	buf_deinit(&b);

	edit_buf(&b, "From: a\r\n\r\nbody\r\n");
	assert_int_equal(rules_subject_tag(&b, off, "[T]"), 0);
	assert_string_equal(cstr(&b), "Received: ours\r\nSubject: [T]\r\n"
	    "From: a\r\n\r\nbody\r\n");
	buf_deinit(&b);
}

static void
test_strip(void **state)
{
	struct buf b;
	unsigned n;
	size_t off = strlen("Received: ours\r\n");
	const char *s;

	(void)state;
	edit_buf(&b, msg);
	assert_int_equal(rules_strip(&b, off, "*.exe", "r", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(rules_strip(&b, off, NULL, "strip-all", &n), 0);
	assert_int_equal(n, 1);
	s = cstr(&b);
	assert_non_null(strstr(s, "Received: ours\r\nFrom: a@b.test\r\n"));
	assert_null(strstr(s, "PK...."));
	assert_non_null(strstr(s, "pay the b=\r\nill now\r\n--b\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"));
	assert_non_null(strstr(s, "The attachment \"x.zip\" was removed by "
	    "the content filter (rule strip-all).\r\n\r\n--b--\r\n"));
	buf_deinit(&b);

	/* A single-part message that is itself a file: the header stays
	 * but for its Content-* fields, the body becomes the note. */
	edit_buf(&b, "From: a@b.test\r\nContent-Type: application/zip; "
	    "name=\"y.zip\"\r\nSubject: s\r\nContent-Transfer-Encoding: "
	    "base64\r\nMIME-Version: 1.0\r\n\r\nUEsDBA==\r\n");
	assert_int_equal(rules_strip(&b, off, "*.exe", "r", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(rules_strip(&b, off, "*.zip", "zips", &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(cstr(&b), "Received: ours\r\nFrom: a@b.test\r\n"
	    "Subject: s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; "
	    "charset=utf-8\r\nContent-Disposition: inline\r\n\r\nThe "
	    "attachment \"y.zip\" was removed by the content filter (rule "
	    "zips).\r\n");
	buf_deinit(&b);
	/* A plain text message is not a file: nothing to strip. */
	edit_buf(&b, "From: a@b.test\r\nSubject: s\r\n\r\nhello\r\n");
	assert_int_equal(rules_strip(&b, off, NULL, "all", &n), 0);
	assert_int_equal(n, 0);
	buf_deinit(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_eval_conditions),
		cmocka_unit_test(test_eval_order_and_stop),
		cmocka_unit_test(test_edits),
		cmocka_unit_test(test_strip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
