/* test_smtp_parser: line framing (whole buffer and byte at a time), verb
 * recognition, and the MAIL, RCPT and BDAT argument grammars of
 * smtp_parser.c. Table cases are named tests of their own. Inputs are
 * copied into exactly sized heap buffers so a sanitizer build catches any
 * read past len. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "smtp_parser.h"

#define UTF8_U_UML "\xc3\xbc"	/* U+00FC */

static char *
dup_exact(const char *s, size_t len)
{
	char *p = malloc(len > 0 ? len : 1);

	assert_non_null(p);
	if (len > 0)
		memcpy(p, s, len);
	return p;
}

static void
assert_prefix(const char *error, const char *prefix)
{
	assert_non_null(error);
	if (strncmp(error, prefix, strlen(prefix)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", error,
		    prefix);
}

/* ---- line framing ---- */

struct line_case {
	const char		*name;
	size_t			 fill;	/* 'A' octets before data */
	const char		*data;
	size_t			 len;	/* of data; 0: strlen(data) */
	size_t			 max;	/* 0: SMTP_LINE_MAX */
	enum smtp_line_result	 result;
	size_t			 linelen;
	size_t			 consumed;
};

static const struct line_case line_cases[] = {
	{ .name = "line_accepts_crlf_line", .data = "QUIT\r\n",
	  .result = SMTP_LINE_OK, .linelen = 4, .consumed = 6 },
	{ .name = "line_returns_only_first_of_two_lines",
	  .data = "QUIT\r\nNOOP\r\n", .result = SMTP_LINE_OK, .linelen = 4,
	  .consumed = 6 },
	{ .name = "line_accepts_empty_line", .data = "\r\n",
	  .result = SMTP_LINE_OK, .linelen = 0, .consumed = 2 },
	{ .name = "line_keeps_bare_cr_inside_line", .data = "QU\rIT\r\n",
	  .result = SMTP_LINE_OK, .linelen = 5, .consumed = 7 },
	{ .name = "line_keeps_nul_inside_line", .data = "QU\0IT\r\n",
	  .len = 7, .result = SMTP_LINE_OK, .linelen = 5, .consumed = 7 },
	{ .name = "line_rejects_bare_lf", .data = "QUIT\n",
	  .result = SMTP_LINE_BARE_LF, .consumed = 5 },
	{ .name = "line_rejects_lone_lf", .data = "\nQUIT\r\n",
	  .result = SMTP_LINE_BARE_LF, .consumed = 1 },
	{ .name = "line_rejects_lf_cr", .data = "QUIT\n\r",
	  .result = SMTP_LINE_BARE_LF, .consumed = 5 },
	{ .name = "line_needs_more_without_lf", .data = "QUIT",
	  .result = SMTP_LINE_NEED_MORE },
	{ .name = "line_needs_more_after_cr", .data = "QUIT\r",
	  .result = SMTP_LINE_NEED_MORE },
	{ .name = "line_needs_more_when_empty", .data = "",
	  .result = SMTP_LINE_NEED_MORE },
	{ .name = "line_accepts_exactly_512_with_crlf", .fill = 510,
	  .data = "\r\n", .result = SMTP_LINE_OK, .linelen = 510,
	  .consumed = 512 },
	{ .name = "line_rejects_513_with_crlf", .fill = 511, .data = "\r\n",
	  .result = SMTP_LINE_TOO_LONG, .consumed = 513 },
	{ .name = "line_needs_more_at_511_without_lf", .fill = 511,
	  .data = "", .result = SMTP_LINE_NEED_MORE },
	{ .name = "line_rejects_512_without_lf_consuming_all", .fill = 512,
	  .data = "", .result = SMTP_LINE_TOO_LONG, .consumed = 512 },
	{ .name = "line_rejects_511_plus_cr_without_lf", .fill = 511,
	  .data = "\r", .result = SMTP_LINE_TOO_LONG, .consumed = 512 },
	{ .name = "line_rejects_long_line_consuming_through_lf", .fill = 600,
	  .data = "\r\nNOOP\r\n", .result = SMTP_LINE_TOO_LONG,
	  .consumed = 602 },
	{ .name = "line_rejects_long_bare_lf_line_as_too_long", .fill = 600,
	  .data = "\nNOOP\r\n", .result = SMTP_LINE_TOO_LONG,
	  .consumed = 601 },
	{ .name = "line_rejects_huge_buffer_without_lf", .fill = 4000,
	  .data = "", .result = SMTP_LINE_TOO_LONG, .consumed = 4000 },
	{ .name = "line_honours_small_max", .data = "ABCDEF\r\n", .max = 8,
	  .result = SMTP_LINE_OK, .linelen = 6, .consumed = 8 },
	{ .name = "line_rejects_over_small_max", .data = "ABCDEFG\r\n",
	  .max = 8, .result = SMTP_LINE_TOO_LONG, .consumed = 9 },
	{ .name = "line_rejects_at_small_max_without_lf", .data = "ABCDEFGH",
	  .max = 8, .result = SMTP_LINE_TOO_LONG, .consumed = 8 },
};

#define N_LINE (sizeof(line_cases) / sizeof(line_cases[0]))

static uint8_t *
make_line(const struct line_case *t, size_t *len_r)
{
	size_t dlen = t->len > 0 ? t->len : strlen(t->data);
	size_t len = t->fill + dlen;
	uint8_t *p = malloc(len > 0 ? len : 1);

	assert_non_null(p);
	memset(p, 'A', t->fill);
	memcpy(p + t->fill, t->data, dlen);
	*len_r = len;
	return p;
}

static void
run_line(void **state)
{
	const struct line_case *t = *state;
	size_t max = t->max > 0 ? t->max : SMTP_LINE_MAX;
	size_t len, n, linelen = 99, consumed = 99;
	uint8_t *data = make_line(t, &len);
	enum smtp_line_result r;

	/* whole buffer */
	r = smtp_line_next(data, len, max, &linelen, &consumed);
	assert_int_equal(r, t->result);
	assert_int_equal(consumed, t->consumed);
	if (r == SMTP_LINE_OK)
		assert_int_equal(linelen, t->linelen);

	/* byte at a time: the first decision is the same; a line found too
	 * long before its LF arrived discards what has been seen so far */
	for (n = 0; n <= len; n++) {
		uint8_t *prefix = malloc(n > 0 ? n : 1);

		assert_non_null(prefix);
		memcpy(prefix, data, n);
		r = smtp_line_next(prefix, n, max, &linelen, &consumed);
		free(prefix);
		if (r != SMTP_LINE_NEED_MORE)
			break;
		assert_int_equal(consumed, 0);
	}
	assert_int_equal(r, t->result);
	if (r == SMTP_LINE_TOO_LONG && n < t->consumed) {
		assert_int_equal(n, max);
		assert_int_equal(consumed, n);
	} else {
		assert_int_equal(consumed, t->consumed);
		if (r == SMTP_LINE_OK)
			assert_int_equal(linelen, t->linelen);
	}
	free(data);
}

/* ---- verbs ---- */

struct cmd_case {
	const char	*name;
	const char	*line;
	size_t		 len;	/* 0: strlen(line) */
	enum smtp_cmd	 cmd;
	const char	*args;
};

static const struct cmd_case cmd_cases[] = {
	{ .name = "cmd_recognises_quit", .line = "QUIT",
	  .cmd = SMTP_CMD_QUIT, .args = "" },
	{ .name = "cmd_verb_is_case_insensitive", .line = "qUiT",
	  .cmd = SMTP_CMD_QUIT, .args = "" },
	{ .name = "cmd_splits_mail_arguments", .line = "MAIL FROM:<a@b>",
	  .cmd = SMTP_CMD_MAIL, .args = "FROM:<a@b>" },
	{ .name = "cmd_lowercase_mail", .line = "mail FROM:<a@b>",
	  .cmd = SMTP_CMD_MAIL, .args = "FROM:<a@b>" },
	{ .name = "cmd_skips_several_spaces_after_verb",
	  .line = "RCPT   TO:<a@b>", .cmd = SMTP_CMD_RCPT,
	  .args = "TO:<a@b>" },
	{ .name = "cmd_keeps_trailing_space_in_args",
	  .line = "EHLO example.com ", .cmd = SMTP_CMD_EHLO,
	  .args = "example.com " },
	{ .name = "cmd_verb_with_only_spaces_has_empty_args",
	  .line = "NOOP   ", .cmd = SMTP_CMD_NOOP, .args = "" },
	{ .name = "cmd_recognises_helo", .line = "HELO x.example",
	  .cmd = SMTP_CMD_HELO, .args = "x.example" },
	{ .name = "cmd_recognises_data", .line = "DATA",
	  .cmd = SMTP_CMD_DATA, .args = "" },
	{ .name = "cmd_recognises_bdat", .line = "BDAT 100 LAST",
	  .cmd = SMTP_CMD_BDAT, .args = "100 LAST" },
	{ .name = "cmd_recognises_rset", .line = "RSET",
	  .cmd = SMTP_CMD_RSET, .args = "" },
	{ .name = "cmd_recognises_help", .line = "HELP mail",
	  .cmd = SMTP_CMD_HELP, .args = "mail" },
	{ .name = "cmd_recognises_vrfy", .line = "VRFY bob",
	  .cmd = SMTP_CMD_VRFY, .args = "bob" },
	{ .name = "cmd_recognises_expn", .line = "EXPN list",
	  .cmd = SMTP_CMD_EXPN, .args = "list" },
	{ .name = "cmd_recognises_starttls", .line = "starttls",
	  .cmd = SMTP_CMD_STARTTLS, .args = "" },
	{ .name = "cmd_recognises_auth", .line = "AUTH PLAIN AGEAYg==",
	  .cmd = SMTP_CMD_AUTH, .args = "PLAIN AGEAYg==" },
	{ .name = "cmd_keeps_nonascii_in_args", .line = "HELO \xff",
	  .cmd = SMTP_CMD_HELO, .args = "\xff" },
	{ .name = "cmd_mailx_is_unknown", .line = "MAILX FROM:<a@b>",
	  .cmd = SMTP_CMD_UNKNOWN, .args = "" },
	{ .name = "cmd_starttlsx_is_unknown", .line = "STARTTLSX",
	  .cmd = SMTP_CMD_UNKNOWN, .args = "" },
	{ .name = "cmd_prefix_of_verb_is_unknown", .line = "MAI",
	  .cmd = SMTP_CMD_UNKNOWN, .args = "" },
	{ .name = "cmd_tab_after_verb_is_unknown", .line = "MAIL\tFROM:<>",
	  .cmd = SMTP_CMD_UNKNOWN, .args = "" },
	{ .name = "cmd_colon_after_verb_is_unknown", .line = "MAIL:FROM",
	  .cmd = SMTP_CMD_UNKNOWN, .args = "" },
	{ .name = "cmd_cr_after_verb_is_unknown", .line = "QUIT\r",
	  .cmd = SMTP_CMD_UNKNOWN, .args = "" },
	{ .name = "cmd_leading_space_is_unknown", .line = " QUIT",
	  .cmd = SMTP_CMD_UNKNOWN, .args = "" },
	{ .name = "cmd_empty_line_is_unknown", .line = "",
	  .cmd = SMTP_CMD_UNKNOWN, .args = "" },
	{ .name = "cmd_garbage_is_unknown", .line = "XYZZY plugh",
	  .cmd = SMTP_CMD_UNKNOWN, .args = "" },
	{ .name = "cmd_nul_in_verb_is_unknown", .line = "QU\0IT", .len = 5,
	  .cmd = SMTP_CMD_UNKNOWN, .args = "" },
	{ .name = "cmd_nul_after_verb_is_unknown", .line = "QUIT\0", .len = 5,
	  .cmd = SMTP_CMD_UNKNOWN, .args = "" },
	{ .name = "cmd_nul_in_args_is_unknown", .line = "MAIL FROM:<a\0@b>",
	  .len = 16, .cmd = SMTP_CMD_UNKNOWN, .args = "" },
};

#define N_CMD (sizeof(cmd_cases) / sizeof(cmd_cases[0]))

static void
run_cmd(void **state)
{
	const struct cmd_case *t = *state;
	size_t len = t->len > 0 ? t->len : strlen(t->line);
	char *line = dup_exact(t->line, len);
	struct smtp_command c;

	smtp_parse_command(line, len, &c);
	assert_int_equal(c.cmd, t->cmd);
	assert_int_equal(c.argslen, strlen(t->args));
	assert_memory_equal(c.args, t->args, c.argslen);
	if (c.argslen > 0)	/* args point into the line */
		assert_true(c.args >= line && c.args + c.argslen == line + len);
	free(line);
}

static void
test_cmd_name_maps_every_command(void **state)
{
	static const struct {
		enum smtp_cmd cmd;
		const char *name;
	} names[] = {
		{ SMTP_CMD_UNKNOWN, "UNKNOWN" }, { SMTP_CMD_HELO, "HELO" },
		{ SMTP_CMD_EHLO, "EHLO" }, { SMTP_CMD_MAIL, "MAIL" },
		{ SMTP_CMD_RCPT, "RCPT" }, { SMTP_CMD_DATA, "DATA" },
		{ SMTP_CMD_BDAT, "BDAT" }, { SMTP_CMD_RSET, "RSET" },
		{ SMTP_CMD_NOOP, "NOOP" }, { SMTP_CMD_QUIT, "QUIT" },
		{ SMTP_CMD_HELP, "HELP" }, { SMTP_CMD_VRFY, "VRFY" },
		{ SMTP_CMD_EXPN, "EXPN" }, { SMTP_CMD_STARTTLS, "STARTTLS" },
		{ SMTP_CMD_AUTH, "AUTH" },
	};
	size_t i;

	(void)state;
	assert_int_equal(sizeof(names) / sizeof(names[0]), SMTP_CMD_COUNT);
	for (i = 0; i < SMTP_CMD_COUNT; i++) {
		struct smtp_command c;
		const char *n = names[i].name;

		assert_string_equal(smtp_cmd_name(names[i].cmd), n);
		if (names[i].cmd == SMTP_CMD_UNKNOWN)
			continue;
		/* every name parses back to its command */
		smtp_parse_command(n, strlen(n), &c);
		assert_int_equal(c.cmd, names[i].cmd);
	}
	assert_string_equal(smtp_cmd_name(SMTP_CMD_COUNT), "UNKNOWN");
	assert_string_equal(smtp_cmd_name((enum smtp_cmd)999), "UNKNOWN");
}

/* ---- MAIL ---- */

struct mail_ok {
	const char	*name;
	const char	*args;
	unsigned	 flags;
	const char	*local;
	const char	*domain;
	bool		 null;
	bool		 has_size;
	uint64_t	 size;
	enum smtp_body	 body;
	bool		 smtputf8;
};

static const struct mail_ok mail_ok_cases[] = {
	{ .name = "mail_accepts_plain_path", .args = "FROM:<a@b.example>",
	  .local = "a", .domain = "b.example" },
	{ .name = "mail_from_keyword_is_case_insensitive",
	  .args = "from:<a@B.example>", .local = "a", .domain = "b.example" },
	{ .name = "mail_accepts_null_reverse_path", .args = "FROM:<>",
	  .local = "", .domain = "", .null = true },
	{ .name = "mail_accepts_size", .args = "FROM:<a@b> SIZE=1000",
	  .local = "a", .domain = "b", .has_size = true, .size = 1000 },
	{ .name = "mail_accepts_size_zero", .args = "FROM:<a@b> SIZE=0",
	  .local = "a", .domain = "b", .has_size = true, .size = 0 },
	{ .name = "mail_accepts_size_uint64_max",
	  .args = "FROM:<a@b> SIZE=18446744073709551615", .local = "a",
	  .domain = "b", .has_size = true, .size = UINT64_MAX },
	{ .name = "mail_accepts_size_of_20_digits_with_zeros",
	  .args = "FROM:<a@b> SIZE=00000000000000000042", .local = "a",
	  .domain = "b", .has_size = true, .size = 42 },
	{ .name = "mail_accepts_body_7bit", .args = "FROM:<a@b> BODY=7BIT",
	  .local = "a", .domain = "b", .body = SMTP_BODY_7BIT },
	{ .name = "mail_accepts_body_8bitmime",
	  .args = "FROM:<a@b> BODY=8BITMIME", .local = "a", .domain = "b",
	  .body = SMTP_BODY_8BITMIME },
	{ .name = "mail_accepts_body_binarymime",
	  .args = "FROM:<a@b> BODY=BINARYMIME", .local = "a", .domain = "b",
	  .body = SMTP_BODY_BINARYMIME },
	{ .name = "mail_params_are_case_insensitive",
	  .args = "FROM:<a@b> size=10 body=8bitmime smtputf8", .local = "a",
	  .domain = "b", .has_size = true, .size = 10,
	  .body = SMTP_BODY_8BITMIME, .smtputf8 = true },
	{ .name = "mail_accepts_smtputf8", .args = "FROM:<a@b> SMTPUTF8",
	  .local = "a", .domain = "b", .smtputf8 = true },
	{ .name = "mail_accepts_utf8_path_with_smtputf8",
	  .args = "FROM:<" UTF8_U_UML "@" UTF8_U_UML ".example> SMTPUTF8",
	  .local = UTF8_U_UML, .domain = UTF8_U_UML ".example",
	  .smtputf8 = true },
	{ .name = "mail_accepts_source_route",
	  .args = "FROM:<@x.example,@y.example:a@b> SIZE=5", .local = "a",
	  .domain = "b", .has_size = true, .size = 5 },
	{ .name = "mail_accepts_space_before_path_with_workaround",
	  .args = "FROM: <a@b>", .flags = SMTP_PARSE_WS_BEFORE_PATH,
	  .local = "a", .domain = "b" },
	{ .name = "mail_accepts_spaces_before_path_with_workaround",
	  .args = "FROM:   <a@b> SIZE=1", .flags = SMTP_PARSE_WS_BEFORE_PATH,
	  .local = "a", .domain = "b", .has_size = true, .size = 1 },
	{ .name = "mail_workaround_does_not_require_space",
	  .args = "FROM:<a@b>", .flags = SMTP_PARSE_WS_BEFORE_PATH,
	  .local = "a", .domain = "b" },
};

#define N_MAIL_OK (sizeof(mail_ok_cases) / sizeof(mail_ok_cases[0]))

static void
run_mail_ok(void **state)
{
	const struct mail_ok *t = *state;
	size_t len = strlen(t->args);
	char *args = dup_exact(t->args, len);
	struct smtp_mail_args m;
	int code = 0;
	const char *error = NULL;

	if (smtp_parse_mail(args, len, t->flags, &m, &code, &error) < 0)
		fail_msg("%d %s", code, error);
	assert_string_equal(m.from.local, t->local);
	assert_string_equal(m.from.domain, t->domain);
	assert_int_equal(m.from.null, t->null);
	assert_int_equal(m.has_size, t->has_size);
	assert_int_equal(m.size, t->size);
	assert_int_equal(m.body, t->body);
	assert_int_equal(m.smtputf8, t->smtputf8);
	free(args);
}

struct arg_fail {
	const char	*name;
	const char	*args;
	size_t		 len;	/* 0: strlen(args) */
	unsigned	 flags;
	bool		 smtputf8;	/* RCPT: MAIL had SMTPUTF8 */
	int		 code;
	const char	*error;	/* prefix */
};

static const struct arg_fail mail_fail_cases[] = {
	{ .name = "mail_rejects_space_before_path_by_default",
	  .args = "FROM: <a@b>", .code = 501, .error = "5.5.4" },
	{ .name = "mail_rejects_missing_colon", .args = "FROM<a@b>",
	  .code = 501, .error = "5.5.4" },
	{ .name = "mail_rejects_to_keyword", .args = "TO:<a@b>",
	  .code = 501, .error = "5.5.4" },
	{ .name = "mail_rejects_empty_args", .args = "", .code = 501,
	  .error = "5.5.4" },
	{ .name = "mail_rejects_missing_path", .args = "FROM:", .code = 501,
	  .error = "5.5.4" },
	{ .name = "mail_rejects_path_without_brackets", .args = "FROM:a@b",
	  .code = 501, .error = "5.5.4" },
	{ .name = "mail_rejects_unterminated_path", .args = "FROM:<a@b",
	  .code = 553, .error = "5.1.7" },
	{ .name = "mail_rejects_bad_address_with_sender_code",
	  .args = "FROM:<a@@b>", .code = 553, .error = "5.1.7" },
	{ .name = "mail_rejects_text_after_path", .args = "FROM:<a@b>x",
	  .code = 501, .error = "5.5.4" },
	{ .name = "mail_rejects_trailing_space", .args = "FROM:<a@b> ",
	  .code = 501, .error = "5.5.4" },
	{ .name = "mail_rejects_double_space_between_params",
	  .args = "FROM:<a@b>  SIZE=1", .code = 501, .error = "5.5.4" },
	{ .name = "mail_rejects_tab_before_param",
	  .args = "FROM:<a@b>\tSIZE=1", .code = 501, .error = "5.5.4" },
	{ .name = "mail_rejects_repeated_size",
	  .args = "FROM:<a@b> SIZE=1 SIZE=2", .code = 555,
	  .error = "5.5.4" },
	{ .name = "mail_rejects_repeated_body",
	  .args = "FROM:<a@b> BODY=7BIT body=8BITMIME", .code = 555,
	  .error = "5.5.4" },
	{ .name = "mail_rejects_repeated_smtputf8",
	  .args = "FROM:<a@b> SMTPUTF8 SMTPUTF8", .code = 555,
	  .error = "5.5.4" },
	{ .name = "mail_rejects_unknown_param_with_value",
	  .args = "FROM:<a@b> FOO=bar", .code = 555,
	  .error = "5.5.4 Unknown MAIL parameter" },
	{ .name = "mail_rejects_unknown_param_without_value",
	  .args = "FROM:<a@b> FOO", .code = 555,
	  .error = "5.5.4 Unknown MAIL parameter" },
	{ .name = "mail_rejects_unknown_param_after_known",
	  .args = "FROM:<a@b> SIZE=1 AUTH=<>", .code = 555,
	  .error = "5.5.4 Unknown MAIL parameter" },
	{ .name = "mail_rejects_size_without_value",
	  .args = "FROM:<a@b> SIZE", .code = 501, .error = "5.5.4" },
	{ .name = "mail_rejects_size_with_empty_value",
	  .args = "FROM:<a@b> SIZE=", .code = 501, .error = "5.5.4" },
	{ .name = "mail_rejects_non_numeric_size",
	  .args = "FROM:<a@b> SIZE=abc", .code = 501, .error = "5.5.4" },
	{ .name = "mail_rejects_negative_size",
	  .args = "FROM:<a@b> SIZE=-1", .code = 501, .error = "5.5.4" },
	{ .name = "mail_rejects_size_with_suffix",
	  .args = "FROM:<a@b> SIZE=1k", .code = 501, .error = "5.5.4" },
	{ .name = "mail_rejects_size_over_uint64",
	  .args = "FROM:<a@b> SIZE=18446744073709551616", .code = 501,
	  .error = "5.5.4" },
	{ .name = "mail_rejects_size_of_21_digits",
	  .args = "FROM:<a@b> SIZE=000000000000000000001", .code = 501,
	  .error = "5.5.4" },
	{ .name = "mail_rejects_unknown_body",
	  .args = "FROM:<a@b> BODY=9BIT", .code = 501, .error = "5.5.4" },
	{ .name = "mail_rejects_body_without_value",
	  .args = "FROM:<a@b> BODY", .code = 501, .error = "5.5.4" },
	{ .name = "mail_rejects_smtputf8_with_value",
	  .args = "FROM:<a@b> SMTPUTF8=yes", .code = 501, .error = "5.5.4" },
	{ .name = "mail_rejects_param_without_keyword",
	  .args = "FROM:<a@b> =x", .code = 501, .error = "5.5.4" },
	{ .name = "mail_rejects_keyword_starting_with_hyphen",
	  .args = "FROM:<a@b> -X=1", .code = 501, .error = "5.5.4" },
	{ .name = "mail_rejects_equals_in_value",
	  .args = "FROM:<a@b> X=a=b", .code = 501, .error = "5.5.4" },
	{ .name = "mail_rejects_control_char_in_value",
	  .args = "FROM:<a@b> X=a\x01", .code = 501, .error = "5.5.4" },
	{ .name = "mail_rejects_nul_in_params",
	  .args = "FROM:<a@b> SIZE=1\0", .len = 18, .code = 501,
	  .error = "5.5.4" },
	{ .name = "mail_rejects_utf8_path_without_smtputf8",
	  .args = "FROM:<" UTF8_U_UML "@b>", .code = 550, .error = "5.6.7" },
	{ .name = "mail_rejects_utf8_path_with_smtputf8_misspelt",
	  .args = "FROM:<" UTF8_U_UML "@b> SMTPUTF", .code = 555,
	  .error = "5.5.4" },
	{ .name = "mail_rejects_invalid_utf8_even_with_smtputf8",
	  .args = "FROM:<\xc3@b> SMTPUTF8", .code = 553, .error = "5.1.7" },
};

#define N_MAIL_FAIL (sizeof(mail_fail_cases) / sizeof(mail_fail_cases[0]))

static void
run_mail_fail(void **state)
{
	const struct arg_fail *t = *state;
	size_t len = t->len > 0 ? t->len : strlen(t->args);
	char *args = dup_exact(t->args, len);
	struct smtp_mail_args m;
	int code = 0;
	const char *error = NULL;

	assert_int_equal(smtp_parse_mail(args, len, t->flags, &m, &code,
	    &error), -1);
	assert_int_equal(code, t->code);
	assert_prefix(error, t->error);
	free(args);
}

/* ---- RCPT ---- */

struct rcpt_ok {
	const char	*name;
	const char	*args;
	unsigned	 flags;
	bool		 smtputf8;
	const char	*local;
	const char	*domain;
	bool		 postmaster;
};

static const struct rcpt_ok rcpt_ok_cases[] = {
	{ .name = "rcpt_accepts_plain_path", .args = "TO:<a@b.example>",
	  .local = "a", .domain = "b.example" },
	{ .name = "rcpt_to_keyword_is_case_insensitive",
	  .args = "to:<A@B.EXAMPLE>", .local = "A", .domain = "b.example" },
	{ .name = "rcpt_accepts_bare_postmaster", .args = "TO:<Postmaster>",
	  .local = "Postmaster", .domain = "", .postmaster = true },
	{ .name = "rcpt_accepts_bare_postmaster_any_case",
	  .args = "TO:<postmaster>", .local = "postmaster", .domain = "",
	  .postmaster = true },
	{ .name = "rcpt_postmaster_at_domain_is_a_mailbox",
	  .args = "TO:<Postmaster@b.example>", .local = "Postmaster",
	  .domain = "b.example" },
	{ .name = "rcpt_ignores_source_route",
	  .args = "TO:<@hosta.int,@jkl.org:userc@d.bar.org>",
	  .local = "userc", .domain = "d.bar.org" },
	{ .name = "rcpt_accepts_space_before_path_with_workaround",
	  .args = "TO: <a@b>", .flags = SMTP_PARSE_WS_BEFORE_PATH,
	  .local = "a", .domain = "b" },
	{ .name = "rcpt_accepts_utf8_when_mail_had_smtputf8",
	  .args = "TO:<" UTF8_U_UML "@b>", .smtputf8 = true,
	  .local = UTF8_U_UML, .domain = "b" },
	{ .name = "rcpt_accepts_address_literal",
	  .args = "TO:<a@[IPv6:::1]>", .local = "a",
	  .domain = "[ipv6:::1]" },
};

#define N_RCPT_OK (sizeof(rcpt_ok_cases) / sizeof(rcpt_ok_cases[0]))

static void
run_rcpt_ok(void **state)
{
	const struct rcpt_ok *t = *state;
	size_t len = strlen(t->args);
	char *args = dup_exact(t->args, len);
	struct smtp_rcpt_args r;
	int code = 0;
	const char *error = NULL;

	if (smtp_parse_rcpt(args, len, t->flags, t->smtputf8, &r, &code,
	    &error) < 0)
		fail_msg("%d %s", code, error);
	assert_string_equal(r.to.local, t->local);
	assert_string_equal(r.to.domain, t->domain);
	assert_false(r.to.null);
	assert_int_equal(r.postmaster, t->postmaster);
	free(args);
}

static const struct arg_fail rcpt_fail_cases[] = {
	{ .name = "rcpt_rejects_any_param_with_555",
	  .args = "TO:<a@b> NOTIFY=NEVER", .code = 555,
	  .error = "5.5.4 Unknown RCPT parameter" },
	{ .name = "rcpt_rejects_valueless_param_with_555",
	  .args = "TO:<a@b> FOO", .code = 555, .error = "5.5.4" },
	{ .name = "rcpt_rejects_malformed_param_with_501",
	  .args = "TO:<a@b> =x", .code = 501, .error = "5.5.4" },
	{ .name = "rcpt_rejects_trailing_space", .args = "TO:<a@b> ",
	  .code = 501, .error = "5.5.4" },
	{ .name = "rcpt_rejects_text_after_path", .args = "TO:<a@b>x",
	  .code = 501, .error = "5.5.4" },
	{ .name = "rcpt_rejects_null_path", .args = "TO:<>", .code = 553,
	  .error = "5.1.3" },
	{ .name = "rcpt_rejects_utf8_without_smtputf8",
	  .args = "TO:<" UTF8_U_UML "@b>", .code = 553, .error = "5.6.7" },
	{ .name = "rcpt_rejects_invalid_utf8_even_with_smtputf8",
	  .args = "TO:<\xed\xa0\x80@b>", .smtputf8 = true, .code = 553,
	  .error = "5.1.3" },
	{ .name = "rcpt_rejects_space_before_path_by_default",
	  .args = "TO: <a@b>", .code = 501, .error = "5.5.4" },
	{ .name = "rcpt_rejects_from_keyword", .args = "FROM:<a@b>",
	  .code = 501, .error = "5.5.4" },
	{ .name = "rcpt_rejects_empty_args", .args = "", .code = 501,
	  .error = "5.5.4" },
	{ .name = "rcpt_rejects_unterminated_path", .args = "TO:<a@b",
	  .code = 553, .error = "5.1.3" },
	{ .name = "rcpt_rejects_unterminated_postmaster",
	  .args = "TO:<Postmaster", .code = 553, .error = "5.1.3" },
	{ .name = "rcpt_rejects_routed_postmaster",
	  .args = "TO:<@x:Postmaster>", .code = 553, .error = "5.1.3" },
	{ .name = "rcpt_rejects_nul_in_path", .args = "TO:<a\0@b>",
	  .len = 9, .code = 553, .error = "5.1.3" },
};

#define N_RCPT_FAIL (sizeof(rcpt_fail_cases) / sizeof(rcpt_fail_cases[0]))

static void
run_rcpt_fail(void **state)
{
	const struct arg_fail *t = *state;
	size_t len = t->len > 0 ? t->len : strlen(t->args);
	char *args = dup_exact(t->args, len);
	struct smtp_rcpt_args r;
	int code = 0;
	const char *error = NULL;

	assert_int_equal(smtp_parse_rcpt(args, len, t->flags, t->smtputf8,
	    &r, &code, &error), -1);
	assert_int_equal(code, t->code);
	assert_prefix(error, t->error);
	free(args);
}

/* ---- BDAT ---- */

struct bdat_case {
	const char	*name;
	const char	*args;
	bool		 ok;
	uint64_t	 size;
	bool		 last;
};

static const struct bdat_case bdat_cases[] = {
	{ .name = "bdat_accepts_size", .args = "100", .ok = true,
	  .size = 100 },
	{ .name = "bdat_accepts_size_and_last", .args = "100 LAST",
	  .ok = true, .size = 100, .last = true },
	{ .name = "bdat_last_is_case_insensitive", .args = "100 last",
	  .ok = true, .size = 100, .last = true },
	{ .name = "bdat_accepts_zero_last", .args = "0 LAST", .ok = true,
	  .size = 0, .last = true },
	{ .name = "bdat_accepts_leading_zeros", .args = "007", .ok = true,
	  .size = 7 },
	{ .name = "bdat_accepts_uint64_max", .args = "18446744073709551615",
	  .ok = true, .size = UINT64_MAX },
	{ .name = "bdat_rejects_non_numeric", .args = "x" },
	{ .name = "bdat_rejects_empty", .args = "" },
	{ .name = "bdat_rejects_overflow", .args = "18446744073709551616" },
	{ .name = "bdat_rejects_huge_number",
	  .args = "99999999999999999999999999999999 LAST" },
	{ .name = "bdat_rejects_negative", .args = "-1" },
	{ .name = "bdat_rejects_leading_space", .args = " 100" },
	{ .name = "bdat_rejects_trailing_space", .args = "100 " },
	{ .name = "bdat_rejects_double_space", .args = "100  LAST" },
	{ .name = "bdat_rejects_other_marker", .args = "100 LASTX" },
	{ .name = "bdat_rejects_space_after_last", .args = "100 LAST " },
	{ .name = "bdat_rejects_two_numbers", .args = "1 2" },
	{ .name = "bdat_rejects_tab", .args = "100\tLAST" },
	{ .name = "bdat_rejects_plus_sign", .args = "+100" },
};

#define N_BDAT (sizeof(bdat_cases) / sizeof(bdat_cases[0]))

static void
run_bdat(void **state)
{
	const struct bdat_case *t = *state;
	size_t len = strlen(t->args);
	char *args = dup_exact(t->args, len);
	uint64_t size = 1;
	bool last = true;
	const char *error = NULL;
	int ret;

	ret = smtp_parse_bdat(args, len, &size, &last, &error);
	free(args);
	if (t->ok) {
		if (ret < 0)
			fail_msg("%s", error);
		assert_int_equal(size, t->size);
		assert_int_equal(last, t->last);
	} else {
		assert_int_equal(ret, -1);
		assert_prefix(error, "5.5.4");
	}
}

/* ---- whole pipeline ---- */

static const char pipeline[] =
    "EHLO client.example\r\n"
    "MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME\r\n"
    "RCPT TO:<Postmaster>\r\n"
    "RCPT TO:<c@d.example> NOTIFY=NEVER\r\n"
    "BDAT 5 LAST\r\n"
    "QUIT\r\n";

static const enum smtp_cmd pipeline_cmds[] = {
	SMTP_CMD_EHLO, SMTP_CMD_MAIL, SMTP_CMD_RCPT, SMTP_CMD_RCPT,
	SMTP_CMD_BDAT, SMTP_CMD_QUIT,
};

#define N_PIPELINE (sizeof(pipeline_cmds) / sizeof(pipeline_cmds[0]))

/* Feed the pipeline chunk octets at a time into a bounded buffer and parse
 * every framed line; check each command and its arguments. */
static void
feed_pipeline(size_t chunk)
{
	uint8_t buf[SMTP_LINE_MAX];
	size_t have = 0, off = 0, ncmd = 0, total = sizeof(pipeline) - 1;

	while (off < total || have > 0) {
		size_t n = total - off, linelen, consumed;
		enum smtp_line_result r;

		if (n > chunk)
			n = chunk;
		if (n > sizeof(buf) - have)
			n = sizeof(buf) - have;
		memcpy(buf + have, pipeline + off, n);
		have += n;
		off += n;
		r = smtp_line_next(buf, have, SMTP_LINE_MAX, &linelen,
		    &consumed);
		if (r == SMTP_LINE_NEED_MORE) {
			assert_true(off < total);
			continue;
		}
		assert_int_equal(r, SMTP_LINE_OK);
		{
			char *line = dup_exact((const char *)buf, linelen);
			struct smtp_command c;
			struct smtp_mail_args m;
			struct smtp_rcpt_args rc;
			uint64_t size;
			bool last;
			int code;
			const char *error;

			smtp_parse_command(line, linelen, &c);
			assert_true(ncmd < N_PIPELINE);
			assert_int_equal(c.cmd, pipeline_cmds[ncmd]);
			switch (ncmd) {
			case 1:
				assert_int_equal(smtp_parse_mail(c.args,
				    c.argslen, 0, &m, &code, &error), 0);
				assert_int_equal(m.size, 10);
				assert_int_equal(m.body, SMTP_BODY_8BITMIME);
				break;
			case 2:
				assert_int_equal(smtp_parse_rcpt(c.args,
				    c.argslen, 0, false, &rc, &code, &error),
				    0);
				assert_true(rc.postmaster);
				break;
			case 3:
				assert_int_equal(smtp_parse_rcpt(c.args,
				    c.argslen, 0, false, &rc, &code, &error),
				    -1);
				assert_int_equal(code, 555);
				break;
			case 4:
				assert_int_equal(smtp_parse_bdat(c.args,
				    c.argslen, &size, &last, &error), 0);
				assert_int_equal(size, 5);
				assert_true(last);
				break;
			default:
				break;
			}
			free(line);
		}
		ncmd++;
		memmove(buf, buf + consumed, have - consumed);
		have -= consumed;
	}
	assert_int_equal(ncmd, N_PIPELINE);
}

static void
test_pipeline_whole_buffer(void **state)
{
	(void)state;
	feed_pipeline(sizeof(pipeline));
}

static void
test_pipeline_byte_at_a_time(void **state)
{
	(void)state;
	feed_pipeline(1);
}

static void
test_pipeline_odd_chunks(void **state)
{
	(void)state;
	feed_pipeline(7);
}

static void
test_mail_line_at_the_limit(void **state)
{
	/* "MAIL FROM:<" + local 64 "@" domain 189 ">" + " SIZE=..." is
	 * well under 512; a 256-octet path is the binding limit */
	char line[SMTP_LINE_MAX];
	size_t pos = 0, i;
	struct smtp_command c;
	struct smtp_mail_args m;
	int code;
	const char *error;

	(void)state;
	memcpy(line, "MAIL FROM:<", 11);
	pos = 11;
	for (i = 0; i < SMTP_LOCAL_MAX; i++)
		line[pos++] = 'l';
	line[pos++] = '@';
	for (i = 0; i < SMTP_PATH_MAX - SMTP_LOCAL_MAX - 3; i++)
		line[pos++] = (i % 61 == 60) ? '.' : 'd';
	memcpy(line + pos, "> SIZE=12345678901234567890", 27);
	pos += 27;
	smtp_parse_command(line, pos, &c);
	assert_int_equal(c.cmd, SMTP_CMD_MAIL);
	assert_int_equal(smtp_parse_mail(c.args, c.argslen, 0, &m, &code,
	    &error), 0);
	assert_int_equal(m.size, UINT64_C(12345678901234567890));
}

static void
test_mail_rejects_path_of_257(void **state)
{
	char args[SMTP_LINE_MAX];
	size_t pos, i;
	struct smtp_mail_args m;
	int code = 0;
	const char *error = NULL;

	(void)state;
	memcpy(args, "FROM:<", 6);
	pos = 6;
	for (i = 0; i < SMTP_LOCAL_MAX; i++)
		args[pos++] = 'l';
	args[pos++] = '@';
	for (i = 0; i < SMTP_PATH_MAX - SMTP_LOCAL_MAX - 2; i++)
		args[pos++] = (i % 61 == 60) ? '.' : 'd';
	args[pos++] = '>';
	assert_int_equal(pos - 5, SMTP_PATH_MAX + 1);
	assert_int_equal(smtp_parse_mail(args, pos, 0, &m, &code, &error), -1);
	assert_int_equal(code, 553);
	assert_string_equal(error, "5.1.7 Sender path too long");
}

/* smtp_line_take: lines come out one by one; a too-long line is answered
 * once and its rest, arriving later, is skipped through its LF. */
static void
test_line_take_resynchronises(void **state)
{
	static const char *const chunks[] = {
		"NOOP\r\nQUI", "T\r\n", "0123456789", "0123456789",
		"tail of the long line\r\nRSET\r\n", "bare\nHELP\r\n",
	};
	char line[16];
	const char *got[8];
	char saved[8][16];
	int results[8], nr = 0;
	struct buf in;
	bool discarding = false;
	size_t i, len;

	(void)state;
	buf_init(&in, 0);
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		enum smtp_line_result r;

		assert_int_equal(buf_append_str(&in, chunks[i]), 0);
		while ((r = smtp_line_take(&in, sizeof(line), &discarding,
		    line, &len)) != SMTP_LINE_NEED_MORE) {
			assert_true(nr < 8);
			results[nr] = r;
			memcpy(saved[nr], r == SMTP_LINE_OK ? line : "",
			    r == SMTP_LINE_OK ? len + 1 : 1);
			got[nr] = saved[nr];
			nr++;
		}
	}
	assert_int_equal(nr, 6);
	assert_int_equal(results[0], SMTP_LINE_OK);
	assert_string_equal(got[0], "NOOP");
	assert_int_equal(results[1], SMTP_LINE_OK);
	assert_string_equal(got[1], "QUIT");
	assert_int_equal(results[2], SMTP_LINE_TOO_LONG);
	assert_int_equal(results[3], SMTP_LINE_OK);
	assert_string_equal(got[3], "RSET");
	assert_int_equal(results[4], SMTP_LINE_BARE_LF);
	assert_int_equal(results[5], SMTP_LINE_OK);
	assert_string_equal(got[5], "HELP");
	assert_false(discarding);
	assert_int_equal(in.len, 0);
	buf_deinit(&in);
}

static const struct CMUnitTest fixed_tests[] = {
	cmocka_unit_test(test_line_take_resynchronises),
	cmocka_unit_test(test_mail_rejects_path_of_257),
	cmocka_unit_test(test_cmd_name_maps_every_command),
	cmocka_unit_test(test_pipeline_whole_buffer),
	cmocka_unit_test(test_pipeline_byte_at_a_time),
	cmocka_unit_test(test_pipeline_odd_chunks),
	cmocka_unit_test(test_mail_line_at_the_limit),
};

#define N_FIXED (sizeof(fixed_tests) / sizeof(fixed_tests[0]))
#define N_TESTS (N_LINE + N_CMD + N_MAIL_OK + N_MAIL_FAIL + N_RCPT_OK + \
	N_RCPT_FAIL + N_BDAT + N_FIXED)

#define ADD_CASES(table, count, func) do {				\
	for (i = 0; i < (count); i++)					\
		tests[n++] = (struct CMUnitTest){ .name = (table)[i].name, \
		    .test_func = (func),				\
		    .initial_state = (void *)&(table)[i] };		\
} while (0)

int
main(void)
{
	static struct CMUnitTest tests[N_TESTS];
	size_t i, n = 0;

	ADD_CASES(line_cases, N_LINE, run_line);
	ADD_CASES(cmd_cases, N_CMD, run_cmd);
	ADD_CASES(mail_ok_cases, N_MAIL_OK, run_mail_ok);
	ADD_CASES(mail_fail_cases, N_MAIL_FAIL, run_mail_fail);
	ADD_CASES(rcpt_ok_cases, N_RCPT_OK, run_rcpt_ok);
	ADD_CASES(rcpt_fail_cases, N_RCPT_FAIL, run_rcpt_fail);
	ADD_CASES(bdat_cases, N_BDAT, run_bdat);
	for (i = 0; i < N_FIXED; i++)
		tests[n++] = fixed_tests[i];
	return _cmocka_run_group_tests("smtp_parser", tests, n, NULL, NULL);
}
