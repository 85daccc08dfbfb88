/* test_imap_parser: framing (literals, continuations, limits,
 * resynchronisation), the argument tree, and every helper grammar of
 * imap_parser*.c. Valid commands run whole, one byte at a time and split
 * at every position; inputs are copied into exactly sized heap buffers so
 * a sanitizer build catches reads past len. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "imap_parser.h"

/* ---- harness ---- */

static void
limits_test(struct imap_limits *l)
{
	imap_limits_auth(l, 1024 * 1024);
}

/* Render the tree canonically: atom as is, #n numbers, NIL, "quoted",
 * {n}data / ~{n}data literals, (lists), name[section]partial. */
static void
dump_args(const struct imap_arg *a, struct buf *b)
{
	for (; a != NULL; a = a->next) {
		switch (a->type) {
		case IMAP_ARG_ATOM:
			buf_append(b, a->str.p, a->str.len);
			if (a->section != NULL) {
				buf_append(b, "[", 1);
				dump_args(a->section->list, b);
				buf_append(b, "]", 1);
				buf_append(b, a->partial.p, a->partial.len);
			}
			break;
		case IMAP_ARG_NUMBER:
			buf_printf(b, "#%llu", (unsigned long long)a->num);
			break;
		case IMAP_ARG_NIL:
			buf_append_str(b, "NIL");
			break;
		case IMAP_ARG_QUOTED:
			buf_append(b, "\"", 1);
			buf_append(b, a->str.p, a->str.len);
			buf_append(b, "\"", 1);
			break;
		case IMAP_ARG_LITERAL:
			buf_printf(b, "%s{%zu%s}", a->literal8 ? "~" : "",
			    a->str.len, a->nonsync ? "+" : "");
			buf_append(b, a->str.p, a->str.len);
			break;
		case IMAP_ARG_LIST:
			buf_append(b, "(", 1);
			dump_args(a->list, b);
			buf_append(b, ")", 1);
			break;
		}
		if (a->next != NULL)
			buf_append(b, " ", 1);
	}
}

static char *
dump(const struct imap_command *cmd)
{
	struct buf b;
	const char *s;
	char *r;

	buf_init(&b, 0);
	dump_args(cmd->args, &b);
	assert_int_equal(buf_cstr(&b, &s), 0);
	r = strdup(s);
	buf_deinit(&b);
	return r;
}

static uint8_t *
dup_exact(const void *s, size_t len)
{
	uint8_t *p = malloc(len > 0 ? len : 1);

	assert_non_null(p);
	if (len > 0)
		memcpy(p, s, len);
	return p;
}

/* Feed in[0..len) growing as listed by cuts (increasing, last = len).
 * Returns the final result; counts continuation requests. The last
 * buffer is kept in *keep_r so that the command's slices stay valid. */
static int
feed(struct imap_parser *p, const char *in, const size_t *cuts,
    size_t ncuts, struct imap_command *cmd, struct imap_parse_result *res,
    unsigned *conts_r, uint8_t **keep_r)
{
	size_t i;
	int r = 0;

	*conts_r = 0;
	*keep_r = NULL;
	for (i = 0; i < ncuts; i++) {
		uint8_t *d = dup_exact(in, cuts[i]);

		r = imap_parser_parse(p, d, cuts[i], cmd, res);
		/* the same buffer again after each continuation request:
		 * the next one comes only with the next literal */
		while (r == 0 && res->need_cont) {
			(*conts_r)++;
			r = imap_parser_parse(p, d, cuts[i], cmd, res);
		}
		if (r != 0 || i + 1 == ncuts) {
			*keep_r = d;
			return r;
		}
		assert_int_equal(res->consumed, 0);
		free(d);
	}
	return r;
}

struct valid_case {
	const char	*name;
	const char	*in;
	size_t		 len;	/* 0: strlen */
	const char	*tag;
	enum imap_cmd	 cmd;
	const char	*args;	/* dump() */
	unsigned	 conts;
};

static const struct valid_case valid_cases[] = {
	{ .name = "noop", .in = "a1 NOOP\r\n", .tag = "a1",
	  .cmd = IMAP_CMD_NOOP, .args = "" },
	{ .name = "lowercase_command", .in = "x capability\r\n", .tag = "x",
	  .cmd = IMAP_CMD_CAPABILITY, .args = "" },
	{ .name = "login_atoms", .in = "a LOGIN fred secret\r\n", .tag = "a",
	  .cmd = IMAP_CMD_LOGIN, .args = "fred secret" },
	{ .name = "login_quoted_escapes",
	  .in = "a LOGIN \"fr\\\"ed\" \"a\\\\b\"\r\n", .tag = "a",
	  .cmd = IMAP_CMD_LOGIN, .args = "\"fr\"ed\" \"a\\b\"" },
	{ .name = "login_sync_literals",
	  .in = "A001 LOGIN {11}\r\nFRED FOOBAR {7}\r\nfat man\r\n",
	  .tag = "A001", .cmd = IMAP_CMD_LOGIN,
	  .args = "{11}FRED FOOBAR {7}fat man", .conts = 2 },
	{ .name = "login_nonsync_literals_rfc7888",
	  .in = "A001 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\nfat man\r\n",
	  .tag = "A001", .cmd = IMAP_CMD_LOGIN,
	  .args = "{11+}FRED FOOBAR {7+}fat man" },
	{ .name = "empty_literal", .in = "a LOGIN {0}\r\n {0+}\r\n\r\n",
	  .tag = "a", .cmd = IMAP_CMD_LOGIN, .args = "{0} {0+}", .conts = 1 },
	{ .name = "literal_data_with_crlf_and_braces",
	  .in = "a LOGIN u {6}\r\n{1}\r\n\"\r\n", .tag = "a",
	  .cmd = IMAP_CMD_LOGIN, .args = "u {6}{1}\r\n\"", .conts = 1 },
	{ .name = "append_literal8_with_nul",
	  .in = "a APPEND INBOX ~{3+}\r\na\0b\r\n", .len = 27, .tag = "a",
	  .cmd = IMAP_CMD_APPEND, .args = "INBOX ~{3+}a\0b" },
	{ .name = "uid_fetch_sections",
	  .in = "a UID FETCH 1:* (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From "
	  "To)]<0.100> BODY[])\r\n", .tag = "a", .cmd = IMAP_CMD_UID_FETCH,
	  .args = "1:* (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From To)]<0.100> "
	  "BODY[])" },
	{ .name = "numbers_and_nil", .in = "t ID (\"a\" NIL \"b\" 12)\r\n",
	  .tag = "t", .cmd = IMAP_CMD_ID, .args = "(\"a\" NIL \"b\" #12)" },
	{ .name = "nested_lists", .in = "t SEARCH ((SEEN) (NOT (DRAFT)))\r\n",
	  .tag = "t", .cmd = IMAP_CMD_SEARCH,
	  .args = "((SEEN) (NOT (DRAFT)))" },
	{ .name = "empty_list", .in = "t STORE 1 FLAGS ()\r\n", .tag = "t",
	  .cmd = IMAP_CMD_STORE, .args = "#1 FLAGS ()" },
	{ .name = "flags_and_wildcards",
	  .in = "t LIST \"\" %/*\r\n", .tag = "t", .cmd = IMAP_CMD_LIST,
	  .args = "\"\" %/*" },
	{ .name = "brackets_outside_fetch_are_atom_chars",
	  .in = "t SELECT foo[bar]\r\n", .tag = "t", .cmd = IMAP_CMD_SELECT,
	  .args = "foo[bar]" },
	{ .name = "utf8_in_quoted", .in = "t SELECT \"Entw\xc3\xbcrfe\"\r\n",
	  .tag = "t", .cmd = IMAP_CMD_SELECT, .args = "\"Entw\xc3\xbcrfe\"" },
	{ .name = "uid_expunge", .in = "t uid expunge 3,5:7\r\n", .tag = "t",
	  .cmd = IMAP_CMD_UID_EXPUNGE, .args = "3,5:7" },
	{ .name = "flag_backslash", .in = "t STORE 1 +FLAGS (\\Seen $x)\r\n",
	  .tag = "t", .cmd = IMAP_CMD_STORE, .args = "#1 +FLAGS (\\Seen $x)" },
	{ .name = "tag_with_odd_chars", .in = "a.b-c]d IDLE\r\n",
	  .tag = "a.b-c]d", .cmd = IMAP_CMD_IDLE, .args = "" },
};

static void
check_valid(const struct valid_case *c, const size_t *cuts, size_t ncuts)
{
	struct imap_limits l;
	struct imap_parser *p;
	struct imap_command cmd;
	struct imap_parse_result res;
	size_t len = c->len ? c->len : strlen(c->in);
	unsigned conts;
	uint8_t *keep;
	char *d;
	int r;

	limits_test(&l);
	p = imap_parser_new(&l);
	r = feed(p, c->in, cuts, ncuts, &cmd, &res, &conts, &keep);
	if (r != 1)
		fail_msg("%s: r=%d reason=%s", c->name, r,
		    res.err.reason ? res.err.reason : "-");
	assert_int_equal(res.consumed, len);
	assert_int_equal(conts, c->conts);
	assert_int_equal(cmd.cmd, c->cmd);
	assert_int_equal(cmd.tag.len, strlen(c->tag));
	assert_memory_equal(cmd.tag.p, c->tag, cmd.tag.len);
	d = dump(&cmd);
	if (strcmp(d, c->args) != 0)
		fail_msg("%s: args \"%s\" != \"%s\"", c->name, d, c->args);
	free(d);
	free(keep);
	imap_parser_free(&p);
	assert_null(p);
}

static void
test_valid_commands(void **state)
{
	size_t i, k, cuts[2], *bytes;

	(void)state;
	for (i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
		const struct valid_case *c = &valid_cases[i];
		size_t len = c->len ? c->len : strlen(c->in);

		/* whole */
		cuts[0] = len;
		check_valid(c, cuts, 1);
		/* split at every position */
		for (k = 1; k < len; k++) {
			cuts[0] = k;
			cuts[1] = len;
			check_valid(c, cuts, 2);
		}
		/* one byte at a time */
		bytes = malloc(len * sizeof(*bytes));
		assert_non_null(bytes);
		for (k = 0; k < len; k++)
			bytes[k] = k + 1;
		check_valid(c, bytes, len);
		free(bytes);
	}
}

struct invalid_case {
	const char	*name;
	const char	*in;
	enum imap_perr	 code;
	const char	*tag;	/* NULL: unknown */
	size_t		 consumed;	/* 0: all */
	bool		 close;
	size_t		 max_line;	/* 0: default */
	enum imap_literal_mode	mode;
	bool		 set_mode;
};

static const struct invalid_case invalid_cases[] = {
	{ .name = "bare_lf", .in = "a NOOP\n", .code = IMAP_PERR_BAD_EOL,
	  .tag = "a" },
	{ .name = "bare_cr", .in = "a NO\rOP\r\n", .code = IMAP_PERR_BAD_EOL,
	  .tag = "a" },
	{ .name = "no_tag", .in = " NOOP\r\n", .code = IMAP_PERR_BAD_TAG },
	{ .name = "plus_in_tag", .in = "a+ NOOP\r\n",
	  .code = IMAP_PERR_BAD_TAG },
	{ .name = "tag_only", .in = "abc\r\n", .code = IMAP_PERR_BAD_TAG },
	{ .name = "unknown_command", .in = "a FOO\r\n",
	  .code = IMAP_PERR_UNKNOWN_COMMAND, .tag = "a" },
	{ .name = "uid_unknown", .in = "a UID LIST\r\n",
	  .code = IMAP_PERR_UNKNOWN_COMMAND, .tag = "a" },
	{ .name = "double_space", .in = "a LOGIN  x y\r\n",
	  .code = IMAP_PERR_SYNTAX, .tag = "a" },
	{ .name = "trailing_space", .in = "a LOGIN x y \r\n",
	  .code = IMAP_PERR_SYNTAX, .tag = "a" },
	{ .name = "unbalanced_paren", .in = "a SEARCH (SEEN\r\n",
	  .code = IMAP_PERR_SYNTAX, .tag = "a" },
	{ .name = "extra_paren", .in = "a SEARCH SEEN)\r\n",
	  .code = IMAP_PERR_SYNTAX, .tag = "a" },
	{ .name = "unterminated_quote", .in = "a LOGIN \"x {3}\r\n",
	  .code = IMAP_PERR_SYNTAX, .tag = "a" },
	{ .name = "bad_escape", .in = "a LOGIN \"\\x\" y\r\n",
	  .code = IMAP_PERR_SYNTAX, .tag = "a" },
	{ .name = "bad_utf8_quoted", .in = "a LOGIN \"\xc3\x28\" y\r\n",
	  .code = IMAP_PERR_SYNTAX, .tag = "a" },
	{ .name = "eight_bit_atom", .in = "a LOGIN \xc3\xbc y\r\n",
	  .code = IMAP_PERR_SYNTAX, .tag = "a" },
	{ .name = "nul_in_line", .in = "a LOGIN x\0y z\r\n",
	  .code = IMAP_PERR_SYNTAX, .tag = "a" },
	{ .name = "line_too_long", .in = "a LOGIN xxxxxxxxxxxxxxxxxxxxxx\r\n",
	  .code = IMAP_PERR_LINE_TOO_LONG, .tag = "a", .max_line = 16 },
	{ .name = "literal_too_big_sync", .in = "a LOGIN {99999999}\r\n",
	  .code = IMAP_PERR_LITERAL_TOO_BIG, .tag = "a" },
	{ .name = "literal_too_big_nonsync",
	  .in = "a LOGIN {99999999+}\r\nxx", .code = IMAP_PERR_LITERAL_TOO_BIG,
	  .tag = "a", .close = true },
	{ .name = "literal_number64_overflow",
	  .in = "a LOGIN {99999999999999999999}\r\n",
	  .code = IMAP_PERR_LITERAL_TOO_BIG, .tag = "a" },
	{ .name = "literal_minus_over_4096", .in = "a LOGIN {4097+}\r\n",
	  .code = IMAP_PERR_LITERAL_MINUS, .tag = "a", .close = true,
	  .mode = IMAP_LITERAL_MINUS, .set_mode = true },
	{ .name = "nonsync_without_literal_plus", .in = "a LOGIN {1+}\r\n",
	  .code = IMAP_PERR_NONSYNC_REFUSED, .tag = "a", .close = true,
	  .mode = IMAP_LITERAL_SYNC_ONLY, .set_mode = true },
	{ .name = "literal_not_at_item_start",
	  .in = "a LOGIN x{1+}\r\ny\r\n", .code = IMAP_PERR_SYNTAX,
	  .tag = "a" },
	{ .name = "literal8_outside_append_is_tree_ok_but_tilde_alone",
	  .in = "a LOGIN ~x y\r\n", .code = IMAP_PERR_SYNTAX, .tag = "a" },
	{ .name = "nul_in_plain_literal", .in = "a LOGIN {1+}\r\n\0 x\r\n",
	  .code = IMAP_PERR_SYNTAX, .tag = "a" },
};

static void
test_invalid_commands(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]);
	    i++) {
		const struct invalid_case *c = &invalid_cases[i];
		size_t len = strlen(c->in);
		struct imap_limits l;
		struct imap_parser *p;
		struct imap_command cmd;
		struct imap_parse_result res;
		uint8_t *d;
		int r;

		/* strlen stops at an embedded NUL: the NUL cases list it
		 * explicitly */
		if (strcmp(c->name, "nul_in_line") == 0)
			len = 15;
		if (strcmp(c->name, "nul_in_plain_literal") == 0)
			len = 19;
		limits_test(&l);
		if (c->max_line)
			l.max_line = c->max_line;
		if (c->set_mode)
			l.literal_mode = c->mode;
		p = imap_parser_new(&l);
		d = dup_exact(c->in, len);
		r = imap_parser_parse(p, d, len, &cmd, &res);
		if (r == 0 && res.need_cont)
			r = imap_parser_parse(p, d, len, &cmd, &res);
		if (r != -1)
			fail_msg("%s: r=%d", c->name, r);
		if (res.err.code != c->code)
			fail_msg("%s: code %d != %d (%s)", c->name,
			    res.err.code, c->code, res.err.reason);
		assert_non_null(res.err.reason);
		if (c->tag == NULL) {
			assert_int_equal(res.err.tag.len, 0);
		} else {
			assert_int_equal(res.err.tag.len, strlen(c->tag));
			assert_memory_equal(res.err.tag.p, c->tag,
			    res.err.tag.len);
		}
		assert_int_equal(res.consumed, c->consumed ? c->consumed :
		    len);
		assert_int_equal(res.err.close, c->close);
		free(d);
		imap_parser_free(&p);
	}
}

/* ---- literals and resynchronisation ---- */

static void
test_sync_literal_needs_continuation(void **state)
{
	struct imap_limits l;
	struct imap_parser *p;
	struct imap_command cmd;
	struct imap_parse_result res;
	const char *in = "a LOGIN {3}\r\nabc {3+}\r\ndef\r\n";

	(void)state;
	limits_test(&l);
	p = imap_parser_new(&l);
	assert_int_equal(imap_parser_parse(p, (const uint8_t *)in, 13, &cmd,
	    &res), 0);
	assert_true(res.need_cont);
	assert_int_equal(res.consumed, 0);
	/* the non-synchronizing one needs none */
	assert_int_equal(imap_parser_parse(p, (const uint8_t *)in, 24, &cmd,
	    &res), 0);
	assert_false(res.need_cont);
	assert_int_equal(imap_parser_parse(p, (const uint8_t *)in,
	    strlen(in), &cmd, &res), 1);
	assert_int_equal(cmd.literals, 2);
	imap_parser_free(&p);
}

static void
test_literal_minus_allows_4096(void **state)
{
	struct imap_limits l;
	struct imap_parser *p;
	struct imap_command cmd;
	struct imap_parse_result res;
	size_t len = 20 + 4096 + 2;
	char *in = malloc(len);
	struct imap_append ap;
	struct imap_parse_error err;

	(void)state;
	assert_non_null(in);
	imap_limits_preauth(&l);
	assert_int_equal(l.literal_mode, IMAP_LITERAL_MINUS);
	memcpy(in, "a APPEND x {4096+}\r\n", 20);
	memset(in + 20, 'm', 4096);
	memcpy(in + 20 + 4096, "\r\n", 2);
	len = 20 + 4096 + 2;
	l.max_args = 8;
	p = imap_parser_new(&l);
	assert_int_equal(imap_parser_parse(p, (const uint8_t *)in, len, &cmd,
	    &res), 1);
	assert_false(res.need_cont);
	assert_int_equal(imap_parse_append(p, &cmd, &ap, &err), 0);
	assert_int_equal(ap.data.len, 4096);
	imap_parser_free(&p);
	free(in);
}

static void
test_resync_after_errors(void **state)
{
	struct imap_limits l;
	struct imap_parser *p;
	struct imap_command cmd;
	struct imap_parse_result res;
	const char *in = "a LOGIN {99999999}\r\nb NOOP\r\n";
	const char *junk = "xxxxxxxxxxxxxxxxxxxx";
	const char *tail = "xxxx\r\nc NOOP\r\n";
	size_t off;

	(void)state;
	limits_test(&l);
	l.max_literal = 100;
	p = imap_parser_new(&l);
	/* a refused synchronizing literal: skip its header only */
	assert_int_equal(imap_parser_parse(p, (const uint8_t *)in,
	    strlen(in), &cmd, &res), -1);
	off = res.consumed;
	assert_int_equal(off, 20);
	assert_int_equal(imap_parser_parse(p, (const uint8_t *)in + off,
	    strlen(in) - off, &cmd, &res), 1);
	assert_int_equal(cmd.cmd, IMAP_CMD_NOOP);
	assert_memory_equal(cmd.tag.p, "b", 1);
	imap_parser_free(&p);

	/* a too long line without its end: drop it all, then up to LF */
	l.max_line = 10;
	p = imap_parser_new(&l);
	assert_int_equal(imap_parser_parse(p, (const uint8_t *)junk,
	    strlen(junk), &cmd, &res), -1);
	assert_int_equal(res.err.code, IMAP_PERR_LINE_TOO_LONG);
	assert_int_equal(res.err.tag.len, 0);
	assert_int_equal(res.consumed, strlen(junk));
	assert_int_equal(imap_parser_parse(p, (const uint8_t *)tail, 3, &cmd,
	    &res), 0);
	assert_int_equal(res.consumed, 3);
	assert_int_equal(imap_parser_parse(p, (const uint8_t *)tail + 3,
	    strlen(tail) - 3, &cmd, &res), 0);
	assert_int_equal(res.consumed, 3);
	off = 6;
	assert_int_equal(imap_parser_parse(p, (const uint8_t *)tail + off,
	    strlen(tail) - off, &cmd, &res), 1);
	assert_int_equal(cmd.cmd, IMAP_CMD_NOOP);
	imap_parser_free(&p);
}

static void
test_limits(void **state)
{
	struct imap_limits l;
	struct imap_parser *p;
	struct imap_command cmd;
	struct imap_parse_result res;
	struct imap_seqset set;
	struct imap_parse_error err;
	char deep[128];
	size_t i, n = 0;
	int r;

	(void)state;
	limits_test(&l);
	l.max_depth = 3;
	p = imap_parser_new(&l);
	n = (size_t)snprintf(deep, sizeof(deep), "a SEARCH ((((SEEN))))\r\n");
	r = imap_parser_parse(p, (const uint8_t *)deep, n, &cmd, &res);
	assert_int_equal(r, -1);
	assert_int_equal(res.err.code, IMAP_PERR_TOO_DEEP);
	assert_string_equal(imap_perr_resp_code(res.err.code), "LIMIT");
	n = (size_t)snprintf(deep, sizeof(deep), "a SEARCH (((SEEN)))\r\n");
	assert_int_equal(imap_parser_parse(p, (const uint8_t *)deep, n, &cmd,
	    &res), 1);
	/* NOT NOT NOT counts as nesting too */
	n = (size_t)snprintf(deep, sizeof(deep),
	    "a SEARCH NOT NOT NOT NOT SEEN\r\n");
	assert_int_equal(imap_parser_parse(p, (const uint8_t *)deep, n, &cmd,
	    &res), 1);
	{
		struct imap_search s;

		assert_int_equal(imap_parse_search(p, &cmd, &s, &err), -1);
		assert_int_equal(err.code, IMAP_PERR_TOO_DEEP);
	}
	imap_parser_free(&p);

	limits_test(&l);
	l.max_args = 3;
	p = imap_parser_new(&l);
	n = (size_t)snprintf(deep, sizeof(deep), "a ENABLE A B C D\r\n");
	assert_int_equal(imap_parser_parse(p, (const uint8_t *)deep, n, &cmd,
	    &res), -1);
	assert_int_equal(res.err.code, IMAP_PERR_TOO_MANY_ARGS);
	imap_parser_free(&p);

	limits_test(&l);
	l.max_ranges = 3;
	p = imap_parser_new(&l);
	n = (size_t)snprintf(deep, sizeof(deep), "a FETCH 1,2,3,4 FLAGS\r\n");
	assert_int_equal(imap_parser_parse(p, (const uint8_t *)deep, n, &cmd,
	    &res), 1);
	assert_int_equal(imap_parse_seqset(p, cmd.args, false, &set, &err),
	    -1);
	assert_int_equal(err.code, IMAP_PERR_TOO_MANY_RANGES);
	imap_parser_free(&p);

	/* max_command counts literals too */
	limits_test(&l);
	l.max_command = 40;
	p = imap_parser_new(&l);
	n = (size_t)snprintf(deep, sizeof(deep), "a LOGIN {30}\r\n");
	assert_int_equal(imap_parser_parse(p, (const uint8_t *)deep, n, &cmd,
	    &res), -1);
	assert_int_equal(res.err.code, IMAP_PERR_COMMAND_TOO_BIG);
	assert_string_equal(imap_perr_resp_code(res.err.code), "TOOBIG");
	imap_parser_free(&p);

	/* the line limit is inclusive of CRLF */
	limits_test(&l);
	l.max_line = 9;
	p = imap_parser_new(&l);
	assert_int_equal(imap_parser_parse(p, (const uint8_t *)"a NOOP\r\n",
	    8, &cmd, &res), 1);
	assert_int_equal(imap_parser_parse(p, (const uint8_t *)"ab NOOP\r\n",
	    9, &cmd, &res), 1);
	assert_int_equal(imap_parser_parse(p, (const uint8_t *)"abc NOOP\r\n",
	    10, &cmd, &res), -1);
	imap_parser_free(&p);
	for (i = 0; i < IMAP_PERR_COUNT; i++)
		(void)imap_perr_resp_code((enum imap_perr)i);
}

static void
test_client_line(void **state)
{
	struct imap_slice line;
	size_t consumed;

	(void)state;
	assert_int_equal(imap_parse_client_line((const uint8_t *)"DONE\r\n",
	    6, 100, &line, &consumed), 1);
	assert_true(imap_line_is_done(line));
	assert_int_equal(consumed, 6);
	assert_int_equal(imap_parse_client_line((const uint8_t *)"done\r",
	    5, 100, &line, &consumed), 0);
	assert_int_equal(imap_parse_client_line((const uint8_t *)"DO\nNE\r\n",
	    7, 100, &line, &consumed), -1);
	assert_int_equal(consumed, 3);
	assert_int_equal(imap_parse_client_line((const uint8_t *)"abcdef",
	    6, 4, &line, &consumed), -1);
	assert_int_equal(consumed, 6);
	assert_int_equal(imap_parse_client_line((const uint8_t *)"ab\r\n",
	    4, 4, &line, &consumed), 1);
	assert_false(imap_line_is_done(line));
}

/* ---- helpers: a command parsed whole, then a helper ---- */

struct fixture {
	struct imap_parser	*p;
	struct imap_command	 cmd;
	struct imap_parse_error	 err;
	uint8_t			*buf;
};

static void
fx_parse(struct fixture *f, const char *in)
{
	struct imap_limits l;
	struct imap_parse_result res;
	size_t len = strlen(in);
	int r;

	limits_test(&l);
	if (f->p == NULL)
		f->p = imap_parser_new(&l);
	free(f->buf);
	f->buf = dup_exact(in, len);
	r = imap_parser_parse(f->p, f->buf, len, &f->cmd, &res);
	while (r == 0 && res.need_cont)
		r = imap_parser_parse(f->p, f->buf, len, &f->cmd, &res);
	if (r != 1)
		fail_msg("\"%s\": r=%d %s", in, r, res.err.reason);
}

static void
fx_done(struct fixture *f)
{
	imap_parser_free(&f->p);
	free(f->buf);
	f->buf = NULL;
}

static bool
slice_is(struct imap_slice s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

static void
test_seqset(void **state)
{
	struct fixture f = { 0 };
	struct imap_seqset s;
	static const char *const bad_sets[] = { "0", "1:0", "01", "1,", ",1",
		"1::2", "4294967296", "a", "1:*:2", "$,1", "*,", "" };
	char line[64];
	size_t i;

	(void)state;
	fx_parse(&f, "a FETCH 1,3:5,*:7,9:*,4294967295 FLAGS\r\n");
	assert_int_equal(imap_parse_seqset(f.p, f.cmd.args, false, &s,
	    &f.err), 0);
	assert_int_equal(s.count, 5);
	assert_int_equal(s.ranges[0].lo, 1);
	assert_int_equal(s.ranges[0].hi, 1);
	assert_int_equal(s.ranges[1].lo, 3);
	assert_int_equal(s.ranges[1].hi, 5);
	assert_int_equal(s.ranges[2].lo, 7);
	assert_true(s.ranges[2].hi == IMAP_SEQ_STAR);
	assert_true(s.ranges[3].hi == IMAP_SEQ_STAR);
	assert_int_equal(s.ranges[4].lo, 4294967295u);
	fx_parse(&f, "a FETCH $ FLAGS\r\n");
	assert_int_equal(imap_parse_seqset(f.p, f.cmd.args, true, &s,
	    &f.err), 0);
	assert_true(s.saved);
	assert_int_equal(imap_parse_seqset(f.p, f.cmd.args, false, &s,
	    &f.err), -1);
	for (i = 0; i < sizeof(bad_sets) / sizeof(bad_sets[0]); i++) {
		snprintf(line, sizeof(line), "a FETCH %s FLAGS\r\n",
		    bad_sets[i]);
		if (bad_sets[i][0] == '\0')
			snprintf(line, sizeof(line), "a FETCH \"\" FLAGS\r\n");
		fx_parse(&f, line);
		if (imap_parse_seqset(f.p, f.cmd.args, true, &s, &f.err) == 0)
			fail_msg("seqset \"%s\" accepted", bad_sets[i]);
	}
	fx_done(&f);
}

static void
test_fetch(void **state)
{
	struct fixture f = { 0 };
	struct imap_fetch ft;
	static const char *const bad_fetch[] = {
		"a FETCH 1 ()\r\n", "a FETCH 1 BODY[0]\r\n",
		"a FETCH 1 BODY[1.]\r\n", "a FETCH 1 BODY[MIME]\r\n",
		"a FETCH 1 BODY[HEADER.FIELDS]\r\n",
		"a FETCH 1 BODY[HEADER.FIELDS ()]\r\n",
		"a FETCH 1 BODY[TEXT]<1>\r\n", "a FETCH 1 BODY[TEXT]<1.0>\r\n",
		"a FETCH 1 BINARY[1.TEXT]\r\n", "a FETCH 1 BINARY.SIZE[1]<0.1>\r\n",
		"a FETCH 1 FOO\r\n", "a FETCH 1 (FLAGS ALL)\r\n",
		"a FETCH 1 FLAGS (VANISHED)\r\n",
		"a UID FETCH 1 FLAGS (VANISHED)\r\n",
		"a FETCH 1 FLAGS (CHANGEDSINCE 0)\r\n",
		"a FETCH 1 BODY.PEEK\r\n", "a FETCH 1 UID[]\r\n",
	};
	size_t i;

	(void)state;
	fx_parse(&f, "a FETCH 1:3 ALL\r\n");
	assert_int_equal(imap_parse_fetch(f.p, &f.cmd, &ft, &f.err), 0);
	assert_int_equal(ft.count, 4);
	assert_int_equal(ft.items[3].att, IMAP_FETCH_ENVELOPE);
	fx_parse(&f, "a fetch 1 full\r\n");
	assert_int_equal(imap_parse_fetch(f.p, &f.cmd, &ft, &f.err), 0);
	assert_int_equal(ft.count, 5);
	assert_int_equal(ft.items[4].att, IMAP_FETCH_BODY);
	fx_parse(&f, "a FETCH 2 FAST\r\n");
	assert_int_equal(imap_parse_fetch(f.p, &f.cmd, &ft, &f.err), 0);
	assert_int_equal(ft.count, 3);
	fx_parse(&f, "a UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE "
	    "ENVELOPE BODYSTRUCTURE BODY MODSEQ RFC822 RFC822.HEADER "
	    "RFC822.TEXT BODY.PEEK[1.2.HEADER.FIELDS.NOT (From \"To\")]<5.10> "
	    "BODY[] BODY[3.MIME] BODY[TEXT] BINARY.PEEK[1.2]<0.4> "
	    "BINARY.SIZE[2] BINARY[]) (CHANGEDSINCE 12345 VANISHED)\r\n");
	assert_int_equal(imap_parse_fetch(f.p, &f.cmd, &ft, &f.err), 0);
	assert_int_equal(ft.count, 18);
	assert_int_equal(ft.items[0].att, IMAP_FETCH_UID);
	assert_int_equal(ft.items[11].att, IMAP_FETCH_BODY_SECTION);
	assert_true(ft.items[11].peek);
	assert_int_equal(ft.items[11].section.nparts, 2);
	assert_int_equal(ft.items[11].section.parts[1], 2);
	assert_int_equal(ft.items[11].section.text,
	    IMAP_SECTION_HEADER_FIELDS_NOT);
	assert_int_equal(ft.items[11].section.nfields, 2);
	assert_true(slice_is(ft.items[11].section.fields[1], "To"));
	assert_true(ft.items[11].partial);
	assert_int_equal(ft.items[11].offset, 5);
	assert_int_equal(ft.items[11].count, 10);
	assert_int_equal(ft.items[12].section.text, IMAP_SECTION_ALL);
	assert_int_equal(ft.items[13].section.text, IMAP_SECTION_MIME);
	assert_int_equal(ft.items[14].section.text, IMAP_SECTION_TEXT);
	assert_int_equal(ft.items[15].att, IMAP_FETCH_BINARY);
	assert_true(ft.items[15].peek);
	assert_int_equal(ft.items[16].att, IMAP_FETCH_BINARY_SIZE);
	assert_true(ft.has_changedsince);
	assert_int_equal(ft.changedsince, 12345);
	assert_true(ft.vanished);
	for (i = 0; i < sizeof(bad_fetch) / sizeof(bad_fetch[0]); i++) {
		fx_parse(&f, bad_fetch[i]);
		if (imap_parse_fetch(f.p, &f.cmd, &ft, &f.err) == 0)
			fail_msg("accepted: %s", bad_fetch[i]);
		assert_int_equal(f.err.tag.len, 1);
	}
	fx_done(&f);
}

static void
test_store(void **state)
{
	struct fixture f = { 0 };
	struct imap_store st;
	static const char *const bad_store[] = {
		"a STORE 1 FLAGS\r\n", "a STORE 1 *FLAGS (\\Seen)\r\n",
		"a STORE 1 +FLAGS (\\*)\r\n", "a STORE 1 FLAGS (a%)\r\n",
		"a STORE 1 (UNCHANGEDSINCE) FLAGS ()\r\n",
		"a STORE 1 FLAGS () x\r\n", "a STORE 1 FLAGS.LOUD x\r\n",
		"a STORE 1 FLAGS \"x\"\r\n",
	};
	size_t i;

	(void)state;
	fx_parse(&f, "a STORE 2:4 +FLAGS.SILENT (\\Deleted $Junk)\r\n");
	assert_int_equal(imap_parse_store(f.p, &f.cmd, &st, &f.err), 0);
	assert_int_equal(st.op, IMAP_STORE_ADD);
	assert_true(st.silent);
	assert_int_equal(st.flags.count, 2);
	assert_true(slice_is(st.flags.flags[0], "\\Deleted"));
	fx_parse(&f, "a UID STORE 1 (UNCHANGEDSINCE 0) -FLAGS \\Seen x\r\n");
	assert_int_equal(imap_parse_store(f.p, &f.cmd, &st, &f.err), 0);
	assert_int_equal(st.op, IMAP_STORE_REMOVE);
	assert_true(st.has_unchangedsince);
	assert_int_equal(st.unchangedsince, 0);
	assert_int_equal(st.flags.count, 2);
	fx_parse(&f, "a STORE 1 FLAGS ()\r\n");
	assert_int_equal(imap_parse_store(f.p, &f.cmd, &st, &f.err), 0);
	assert_int_equal(st.op, IMAP_STORE_SET);
	assert_int_equal(st.flags.count, 0);
	for (i = 0; i < sizeof(bad_store) / sizeof(bad_store[0]); i++) {
		fx_parse(&f, bad_store[i]);
		if (imap_parse_store(f.p, &f.cmd, &st, &f.err) == 0)
			fail_msg("accepted: %s", bad_store[i]);
	}
	fx_done(&f);
}

/* Search key tree as text: OP(child,child) with values. */
static void
dump_key(const struct imap_search_key *k, struct buf *b)
{
	static const char *const names[] = { "", "AND", "OR", "NOT", "ALL",
		"ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN",
		"UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN",
		"NEW", "OLD", "RECENT", "KEYWORD", "UNKEYWORD", "BCC", "BODY",
		"CC", "FROM", "SUBJECT", "TEXT", "TO", "HEADER", "BEFORE", "ON",
		"SINCE", "SENTBEFORE", "SENTON", "SENTSINCE", "LARGER",
		"SMALLER", "MODSEQ", "UID", "SET" };
	const struct imap_search_key *c;
	size_t i;

	buf_append_str(b, names[k->op]);
	if (k->str.len > 0) {
		buf_append(b, ":", 1);
		buf_append(b, k->str.p, k->str.len);
	}
	if (k->str2.len > 0) {
		buf_append(b, "=", 1);
		buf_append(b, k->str2.p, k->str2.len);
	}
	if (k->op >= IMAP_SEARCH_BEFORE && k->op <= IMAP_SEARCH_SENTSINCE)
		buf_printf(b, ":%04d%02d%02d", k->date.year, k->date.month,
		    k->date.day);
	if (k->op >= IMAP_SEARCH_LARGER && k->op <= IMAP_SEARCH_MODSEQ)
		buf_printf(b, ":%llu", (unsigned long long)k->num);
	if (k->op == IMAP_SEARCH_UID || k->op == IMAP_SEARCH_SEQSET) {
		if (k->set.saved)
			buf_append_str(b, ":$");
		for (i = 0; i < k->set.count; i++)
			buf_printf(b, ":%llu-%lld",
			    (unsigned long long)k->set.ranges[i].lo,
			    k->set.ranges[i].hi == IMAP_SEQ_STAR ? -1LL :
			    (long long)k->set.ranges[i].hi);
	}
	if (k->child != NULL) {
		buf_append(b, "(", 1);
		for (c = k->child; c != NULL; c = c->next) {
			dump_key(c, b);
			if (c->next != NULL)
				buf_append(b, ",", 1);
		}
		buf_append(b, ")", 1);
	}
}

struct search_case {
	const char	*in;
	const char	*tree;	/* NULL: invalid */
	unsigned	 ret;
	const char	*charset;
};

static const struct search_case search_cases[] = {
	{ .in = "a SEARCH ALL\r\n", .tree = "AND(ALL)" },
	{ .in = "a SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
	  .tree = "AND(FLAGGED,SINCE:19940201,NOT(FROM:Smith))" },
	{ .in = "a SEARCH OR (SEEN DRAFT) NOT NOT 2:4,*\r\n",
	  .tree = "AND(OR(AND(SEEN,DRAFT),NOT(NOT(SET:2-4:"
	  "18446744073709551615--1))))" },
	{ .in = "a UID SEARCH CHARSET UTF-8 TEXT {3+}\r\nb\xc3\xbc\r\n",
	  .tree = "AND(TEXT:b\xc3\xbc)", .charset = "UTF-8" },
	{ .in = "a SEARCH RETURN (MIN COUNT SAVE) UID $ LARGER 100\r\n",
	  .tree = "AND(UID:$,LARGER:100)",
	  .ret = IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_COUNT |
	  IMAP_SEARCH_RET_SAVE },
	{ .in = "a SEARCH RETURN () $\r\n", .tree = "AND(SET:$)",
	  .ret = IMAP_SEARCH_RET_ALL },
	{ .in = "a SEARCH HEADER Message-ID \"<x@y>\" ON \"05-Mar-2021\"\r\n",
	  .tree = "AND(HEADER:Message-ID=<x@y>,ON:20210305)" },
	{ .in = "a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n",
	  .tree = "AND(MODSEQ:/flags/\\draft=all:620162338)" },
	{ .in = "a SEARCH MODSEQ 0 KEYWORD $Junk UNKEYWORD foo\r\n",
	  .tree = "AND(MODSEQ:0,KEYWORD:$Junk,UNKEYWORD:foo)" },
	{ .in = "a SEARCH NEW OLD RECENT UNDRAFT SENTBEFORE 1-Jan-2000 "
	  "SMALLER 5\r\n",
	  .tree = "AND(NEW,OLD,RECENT,UNDRAFT,SENTBEFORE:20000101,SMALLER:5)" },
	{ .in = "a SEARCH FOO\r\n" },
	{ .in = "a SEARCH\r\n" },
	{ .in = "a SEARCH ()\r\n" },
	{ .in = "a SEARCH OR SEEN\r\n" },
	{ .in = "a SEARCH NOT\r\n" },
	{ .in = "a SEARCH SINCE 32-Jan-2000\r\n" },
	{ .in = "a SEARCH SINCE 1-Foo-2000\r\n" },
	{ .in = "a SEARCH SINCE 1-Jan-20\r\n" },
	{ .in = "a SEARCH LARGER x\r\n" },
	{ .in = "a SEARCH KEYWORD \\Seen\r\n" },
	{ .in = "a SEARCH RETURN (FOO) ALL\r\n" },
	{ .in = "a SEARCH CHARSET\r\n" },
	{ .in = "a SEARCH MODSEQ \"/flags/x\" bogus 1\r\n" },
	{ .in = "a SEARCH UID 0\r\n" },
	{ .in = "a SEARCH FROM (x)\r\n" },
};

static void
test_search(void **state)
{
	struct fixture f = { 0 };
	struct imap_search s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(search_cases) / sizeof(search_cases[0]); i++) {
		const struct search_case *c = &search_cases[i];
		struct buf b;
		const char *t;
		int r;

		fx_parse(&f, c->in);
		r = imap_parse_search(f.p, &f.cmd, &s, &f.err);
		if (c->tree == NULL) {
			if (r == 0)
				fail_msg("accepted: %s", c->in);
			assert_int_equal(f.err.tag.len, 1);
			continue;
		}
		if (r != 0)
			fail_msg("%s: %s", c->in, f.err.reason);
		buf_init(&b, 0);
		dump_key(s.root, &b);
		assert_int_equal(buf_cstr(&b, &t), 0);
		if (strcmp(t, c->tree) != 0)
			fail_msg("%s: %s != %s", c->in, t, c->tree);
		buf_deinit(&b);
		assert_int_equal(s.ret, c->ret);
		assert_int_equal(s.esearch, c->ret != 0);
		if (c->charset != NULL)
			assert_true(slice_is(s.charset, c->charset));
		else
			assert_false(s.has_charset);
	}
	fx_done(&f);
}

static void
test_sort_thread(void **state)
{
	struct fixture f = { 0 };
	struct imap_sort so;
	struct imap_thread th;

	(void)state;
	fx_parse(&f, "a UID SORT (REVERSE ARRIVAL subject) UTF-8 ALL\r\n");
	assert_int_equal(imap_parse_sort(f.p, &f.cmd, &so, &f.err), 0);
	assert_int_equal(so.count, 2);
	assert_true(so.criteria[0].reverse);
	assert_int_equal(so.criteria[0].key, IMAP_SORT_ARRIVAL);
	assert_int_equal(so.criteria[1].key, IMAP_SORT_SUBJECT);
	assert_true(slice_is(so.search.charset, "UTF-8"));
	fx_parse(&f, "a SORT (REVERSE) UTF-8 ALL\r\n");
	assert_int_equal(imap_parse_sort(f.p, &f.cmd, &so, &f.err), -1);
	fx_parse(&f, "a SORT (DATE) ALL\r\n");
	assert_int_equal(imap_parse_sort(f.p, &f.cmd, &so, &f.err), -1);
	fx_parse(&f, "a SORT () UTF-8 ALL\r\n");
	assert_int_equal(imap_parse_sort(f.p, &f.cmd, &so, &f.err), -1);
	assert_false(so.search.esearch);
	/* ESORT (RFC 5267): RETURN before the criteria */
	fx_parse(&f, "a SORT RETURN (MIN max SAVE) (DATE) UTF-8 $\r\n");
	assert_int_equal(imap_parse_sort(f.p, &f.cmd, &so, &f.err), 0);
	assert_true(so.search.esearch);
	assert_int_equal(so.search.ret, IMAP_SEARCH_RET_MIN |
	    IMAP_SEARCH_RET_MAX | IMAP_SEARCH_RET_SAVE);
	assert_int_equal(so.count, 1);
	assert_int_equal(so.criteria[0].key, IMAP_SORT_DATE);
	assert_true(so.search.root->child->set.saved);
	fx_parse(&f, "a UID SORT RETURN () (SIZE) UTF-8 ALL\r\n");
	assert_int_equal(imap_parse_sort(f.p, &f.cmd, &so, &f.err), 0);
	assert_int_equal(so.search.ret, IMAP_SEARCH_RET_ALL);
	fx_parse(&f, "a SORT RETURN (FOO) (SIZE) UTF-8 ALL\r\n");
	assert_int_equal(imap_parse_sort(f.p, &f.cmd, &so, &f.err), -1);
	fx_parse(&f, "a SORT RETURN (ALL) UTF-8 ALL\r\n");
	assert_int_equal(imap_parse_sort(f.p, &f.cmd, &so, &f.err), -1);
	fx_parse(&f, "a THREAD REFERENCES US-ASCII SINCE 1-Jan-2020\r\n");
	assert_int_equal(imap_parse_thread(f.p, &f.cmd, &th, &f.err), 0);
	assert_int_equal(th.alg, IMAP_THREAD_REFERENCES);
	fx_parse(&f, "a UID THREAD orderedsubject UTF-8 ALL\r\n");
	assert_int_equal(imap_parse_thread(f.p, &f.cmd, &th, &f.err), 0);
	assert_int_equal(th.alg, IMAP_THREAD_ORDEREDSUBJECT);
	fx_parse(&f, "a THREAD X-NEW UTF-8 ALL\r\n");
	assert_int_equal(imap_parse_thread(f.p, &f.cmd, &th, &f.err), 0);
	assert_int_equal(th.alg, IMAP_THREAD_OTHER);
	fx_parse(&f, "a THREAD REFERENCES UTF-8\r\n");
	assert_int_equal(imap_parse_thread(f.p, &f.cmd, &th, &f.err), -1);
	fx_done(&f);
}

static void
test_select_status(void **state)
{
	struct fixture f = { 0 };
	struct imap_select se;
	struct imap_status st;

	(void)state;
	fx_parse(&f, "a SELECT inbox\r\n");
	assert_int_equal(imap_parse_select(f.p, &f.cmd, &se, &f.err), 0);
	assert_true(se.mailbox.inbox);
	assert_true(slice_is(se.mailbox.name, "INBOX"));
	fx_parse(&f, "a EXAMINE Drafts (CONDSTORE)\r\n");
	assert_int_equal(imap_parse_select(f.p, &f.cmd, &se, &f.err), 0);
	assert_true(se.condstore);
	fx_parse(&f, "A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 "
	    "41,43:211,214:541 (1,3:5 41,43:45)))\r\n");
	assert_int_equal(imap_parse_select(f.p, &f.cmd, &se, &f.err), 0);
	assert_true(se.qresync);
	assert_int_equal(se.uidvalidity, 67890007);
	assert_true(se.modseq == 20050715194045000ULL);
	assert_true(se.has_known_uids);
	assert_int_equal(se.known_uids.count, 3);
	assert_true(se.has_seq_match);
	assert_int_equal(se.known_seqs.count, 2);
	assert_int_equal(se.known_seq_uids.count, 2);
	fx_parse(&f, "a SELECT x (QRESYNC (1 2))\r\n");
	assert_int_equal(imap_parse_select(f.p, &f.cmd, &se, &f.err), 0);
	assert_false(se.has_known_uids);
	fx_parse(&f, "a SELECT x (QRESYNC (0 2))\r\n");
	assert_int_equal(imap_parse_select(f.p, &f.cmd, &se, &f.err), -1);
	fx_parse(&f, "a SELECT x (QRESYNC (1 2 1:*))\r\n");
	assert_int_equal(imap_parse_select(f.p, &f.cmd, &se, &f.err), -1);
	fx_parse(&f, "a SELECT x ()\r\n");
	assert_int_equal(imap_parse_select(f.p, &f.cmd, &se, &f.err), -1);
	fx_parse(&f, "a SELECT x (FOO)\r\n");
	assert_int_equal(imap_parse_select(f.p, &f.cmd, &se, &f.err), -1);
	fx_parse(&f, "a SELECT a%b\r\n");
	assert_int_equal(imap_parse_select(f.p, &f.cmd, &se, &f.err), -1);

	fx_parse(&f, "a STATUS blurdybloop (UIDNEXT MESSAGES SIZE RECENT "
	    "HIGHESTMODSEQ DELETED UNSEEN UIDVALIDITY APPENDLIMIT)\r\n");
	assert_int_equal(imap_parse_status(&f.cmd, &st, &f.err), 0);
	assert_int_equal(st.items, 0x1ff);
	fx_parse(&f, "a STATUS x ()\r\n");
	assert_int_equal(imap_parse_status(&f.cmd, &st, &f.err), -1);
	fx_parse(&f, "a STATUS x (FOO)\r\n");
	assert_int_equal(imap_parse_status(&f.cmd, &st, &f.err), -1);
	fx_parse(&f, "a STATUS x MESSAGES\r\n");
	assert_int_equal(imap_parse_status(&f.cmd, &st, &f.err), -1);
	fx_done(&f);
}

static void
test_append(void **state)
{
	struct fixture f = { 0 };
	struct imap_append ap;

	(void)state;
	fx_parse(&f, "A003 APPEND saved-messages (\\Seen) "
	    "\" 7-Feb-1994 21:52:25 -0800\" {5+}\r\nHello\r\n");
	assert_int_equal(imap_parse_append(f.p, &f.cmd, &ap, &f.err), 0);
	assert_true(ap.has_flags);
	assert_int_equal(ap.flags.count, 1);
	assert_true(ap.has_date);
	assert_int_equal(ap.date.day, 7);
	assert_int_equal(ap.date.month, 2);
	assert_int_equal(ap.date.year, 1994);
	assert_int_equal(ap.date.hour, 21);
	assert_int_equal(ap.date.zone, -480);
	assert_true(slice_is(ap.data, "Hello"));
	assert_false(ap.binary);
	fx_parse(&f, "a APPEND x ~{2+}\r\nhi\r\n");
	assert_int_equal(imap_parse_append(f.p, &f.cmd, &ap, &f.err), 0);
	assert_true(ap.binary);
	assert_false(ap.has_flags);
	fx_parse(&f, "a APPEND x \"Hello\"\r\n");
	assert_int_equal(imap_parse_append(f.p, &f.cmd, &ap, &f.err), -1);
	fx_parse(&f, "a APPEND x \"7-Feb-1994 21:52:25 -0800\" {1+}\r\nx\r\n");
	assert_int_equal(imap_parse_append(f.p, &f.cmd, &ap, &f.err), -1);
	fx_parse(&f, "a APPEND x \"07-Feb-1994 24:52:25 -0800\" {1+}\r\nx\r\n");
	assert_int_equal(imap_parse_append(f.p, &f.cmd, &ap, &f.err), -1);
	fx_parse(&f, "a APPEND x {1+}\r\nx {1+}\r\ny\r\n");
	assert_int_equal(imap_parse_append(f.p, &f.cmd, &ap, &f.err), -1);
	fx_done(&f);
}

static void
test_list(void **state)
{
	struct fixture f = { 0 };
	struct imap_list li;
	static const char *const bad_list[] = {
		"a LIST x\r\n", "a LIST (RECURSIVEMATCH) \"\" *\r\n",
		"a LIST (REMOTE RECURSIVEMATCH) \"\" *\r\n",
		"a LIST (FOO) \"\" *\r\n", "a LIST \"\" * RETURN (FOO)\r\n",
		"a LIST \"\" * RETURN (STATUS)\r\n", "a LIST \"\" ()\r\n",
		"a LIST \"\" * RETURN\r\n", "a LSUB \"\" (x)\r\n",
		"a LIST \"\" * x\r\n",
	};
	size_t i;

	(void)state;
	fx_parse(&f, "a LIST \"\" %\r\n");
	assert_int_equal(imap_parse_list(f.p, &f.cmd, &li, &f.err), 0);
	assert_false(li.extended);
	assert_int_equal(li.reference.len, 0);
	assert_true(slice_is(li.patterns[0], "%"));
	fx_parse(&f, "a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (INBOX* "
	    "\"foo/%\") RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES "
	    "UNSEEN))\r\n");
	assert_int_equal(imap_parse_list(f.p, &f.cmd, &li, &f.err), 0);
	assert_true(li.extended);
	assert_int_equal(li.select_opts, IMAP_LIST_SUBSCRIBED |
	    IMAP_LIST_RECURSIVEMATCH);
	assert_int_equal(li.return_opts, IMAP_LIST_CHILDREN |
	    IMAP_LIST_SPECIAL_USE | IMAP_LIST_STATUS);
	assert_int_equal(li.status_items, IMAP_STATUS_MESSAGES |
	    IMAP_STATUS_UNSEEN);
	assert_int_equal(li.npatterns, 2);
	assert_true(slice_is(li.patterns[1], "foo/%"));
	fx_parse(&f, "a LIST (SPECIAL-USE) \"\" *\r\n");
	assert_int_equal(imap_parse_list(f.p, &f.cmd, &li, &f.err), 0);
	assert_int_equal(li.select_opts, IMAP_LIST_SPECIAL_USE);
	fx_parse(&f, "a LIST () \"\" *\r\n");
	assert_int_equal(imap_parse_list(f.p, &f.cmd, &li, &f.err), 0);
	fx_parse(&f, "a LSUB \"#news.\" comp.mail.*\r\n");
	assert_int_equal(imap_parse_list(f.p, &f.cmd, &li, &f.err), 0);
	assert_true(slice_is(li.reference, "#news."));
	for (i = 0; i < sizeof(bad_list) / sizeof(bad_list[0]); i++) {
		fx_parse(&f, bad_list[i]);
		if (imap_parse_list(f.p, &f.cmd, &li, &f.err) == 0)
			fail_msg("accepted: %s", bad_list[i]);
	}
	fx_done(&f);
}

static void
test_simple_commands(void **state)
{
	struct fixture f = { 0 };
	struct imap_login lo;
	struct imap_authenticate au;
	struct imap_enable en;
	struct imap_id id;
	struct imap_create cr;
	struct imap_rename rn;
	struct imap_copy cp;
	struct imap_mailbox mb;
	struct imap_setquota sq;
	struct imap_slice root;
	struct imap_seqset set;
	char out[16];

	(void)state;
	fx_parse(&f, "a LOGIN {4+}\r\nuser \"p w\"\r\n");
	assert_int_equal(imap_parse_login(&f.cmd, &lo, &f.err), 0);
	assert_true(slice_is(lo.user, "user"));
	assert_true(slice_is(lo.password, "p w"));
	assert_int_equal(imap_arg_copy(f.cmd.args->next, out, sizeof(out)),
	    0);
	assert_string_equal(out, "p w");
	assert_int_equal(imap_arg_copy(f.cmd.args->next, out, 3), -1);
	fx_parse(&f, "a LOGIN a%b c\r\n");
	assert_int_equal(imap_parse_login(&f.cmd, &lo, &f.err), -1);
	fx_parse(&f, "a LOGIN a\r\n");
	assert_int_equal(imap_parse_login(&f.cmd, &lo, &f.err), -1);

	fx_parse(&f, "a AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0\r\n");
	assert_int_equal(imap_parse_authenticate(&f.cmd, &au, &f.err), 0);
	assert_true(au.has_ir);
	assert_true(slice_is(au.ir, "AGZyZWQAc2VjcmV0"));
	fx_parse(&f, "a AUTHENTICATE EXTERNAL =\r\n");
	assert_int_equal(imap_parse_authenticate(&f.cmd, &au, &f.err), 0);
	assert_true(au.has_ir);
	assert_int_equal(au.ir.len, 0);
	fx_parse(&f, "a AUTHENTICATE SCRAM-SHA-256\r\n");
	assert_int_equal(imap_parse_authenticate(&f.cmd, &au, &f.err), 0);
	assert_false(au.has_ir);
	fx_parse(&f, "a AUTHENTICATE PLAIN abc\r\n");
	assert_int_equal(imap_parse_authenticate(&f.cmd, &au, &f.err), -1);
	fx_parse(&f, "a AUTHENTICATE PLAIN ab=c\r\n");
	assert_int_equal(imap_parse_authenticate(&f.cmd, &au, &f.err), -1);
	fx_parse(&f, "a AUTHENTICATE PLAIN YQ==\r\n");
	assert_int_equal(imap_parse_authenticate(&f.cmd, &au, &f.err), 0);

	fx_parse(&f, "a ENABLE CONDSTORE QRESYNC UTF8=ACCEPT\r\n");
	assert_int_equal(imap_parse_enable(f.p, &f.cmd, &en, &f.err), 0);
	assert_int_equal(en.count, 3);
	assert_true(slice_is(en.caps[2], "UTF8=ACCEPT"));
	fx_parse(&f, "a ENABLE\r\n");
	assert_int_equal(imap_parse_enable(f.p, &f.cmd, &en, &f.err), -1);

	fx_parse(&f, "a ID (\"name\" \"sodr\" \"version\" NIL)\r\n");
	assert_int_equal(imap_parse_id(f.p, &f.cmd, &id, &f.err), 0);
	assert_int_equal(id.count, 2);
	assert_true(id.pairs[1].nil);
	fx_parse(&f, "a ID NIL\r\n");
	assert_int_equal(imap_parse_id(f.p, &f.cmd, &id, &f.err), 0);
	assert_int_equal(id.count, 0);
	fx_parse(&f, "a ID (name \"x\")\r\n");
	assert_int_equal(imap_parse_id(f.p, &f.cmd, &id, &f.err), -1);
	fx_parse(&f, "a ID (\"name\")\r\n");
	assert_int_equal(imap_parse_id(f.p, &f.cmd, &id, &f.err), -1);
	fx_parse(&f, "a ID (\"0123456789012345678901234567890\" NIL)\r\n");
	assert_int_equal(imap_parse_id(f.p, &f.cmd, &id, &f.err), -1);

	fx_parse(&f, "a CREATE Sent (USE (\\Sent))\r\n");
	assert_int_equal(imap_parse_create(f.p, &f.cmd, &cr, &f.err), 0);
	assert_int_equal(cr.nuse, 1);
	assert_true(slice_is(cr.use[0], "\\Sent"));
	fx_parse(&f, "a CREATE x (FOO (\\Sent))\r\n");
	assert_int_equal(imap_parse_create(f.p, &f.cmd, &cr, &f.err), -1);
	fx_parse(&f, "a RENAME a \"b c\"\r\n");
	assert_int_equal(imap_parse_rename(&f.cmd, &rn, &f.err), 0);
	assert_true(slice_is(rn.to.name, "b c"));
	fx_parse(&f, "a UID MOVE 1:3,$ Trash\r\n");
	assert_int_equal(imap_parse_copy(f.p, &f.cmd, &cp, &f.err), -1);
	fx_parse(&f, "a UID MOVE 1:3 Trash\r\n");
	assert_int_equal(imap_parse_copy(f.p, &f.cmd, &cp, &f.err), 0);
	assert_true(slice_is(cp.mailbox.name, "Trash"));
	fx_parse(&f, "a COPY $ Trash\r\n");
	assert_int_equal(imap_parse_copy(f.p, &f.cmd, &cp, &f.err), 0);
	assert_true(cp.set.saved);
	fx_parse(&f, "a DELETE \"\"\r\n");
	assert_int_equal(imap_parse_mailbox_cmd(&f.cmd, &mb, &f.err), 0);
	fx_parse(&f, "a UNSUBSCRIBE a b\r\n");
	assert_int_equal(imap_parse_mailbox_cmd(&f.cmd, &mb, &f.err), -1);
	assert_true(slice_is(f.err.tag, "a"));
	fx_parse(&f, "a UID EXPUNGE 3000:3002\r\n");
	assert_int_equal(imap_parse_uid_expunge(f.p, &f.cmd, &set, &f.err),
	    0);
	fx_parse(&f, "a SETQUOTA \"\" (STORAGE 512 MESSAGE 1000)\r\n");
	assert_int_equal(imap_parse_setquota(f.p, &f.cmd, &sq, &f.err), 0);
	assert_int_equal(sq.count, 2);
	assert_int_equal(sq.res[1].limit, 1000);
	fx_parse(&f, "a SETQUOTA \"\" (STORAGE)\r\n");
	assert_int_equal(imap_parse_setquota(f.p, &f.cmd, &sq, &f.err), -1);
	fx_parse(&f, "a GETQUOTA \"\"\r\n");
	assert_int_equal(imap_parse_getquota(&f.cmd, &root, &f.err), 0);
	fx_parse(&f, "a NOOP\r\n");
	assert_int_equal(imap_parse_no_args(&f.cmd, &f.err), 0);
	fx_parse(&f, "a LOGOUT now\r\n");
	assert_int_equal(imap_parse_no_args(&f.cmd, &f.err), -1);
	fx_done(&f);
}

static void
test_cmd_names(void **state)
{
	int c;

	(void)state;
	for (c = IMAP_CMD_CAPABILITY; c < IMAP_CMD_COUNT; c++)
		assert_non_null(imap_cmd_name((enum imap_cmd)c));
	assert_null(imap_cmd_name(IMAP_CMD_UNKNOWN));
	assert_string_equal(imap_cmd_name(IMAP_CMD_UID_THREAD), "UID THREAD");
	assert_int_equal(imap_cmd_base(IMAP_CMD_UID_SORT), IMAP_CMD_SORT);
	assert_true(imap_cmd_is_uid(IMAP_CMD_UID_EXPUNGE));
	assert_false(imap_cmd_is_uid(IMAP_CMD_EXPUNGE));
}

/* ---- modified UTF-7 (RFC 3501 5.1.3) ---- */

static void
test_mutf7(void **state)
{
	static const struct {
		const char	*utf8, *mutf7;
	} rt[] = {
		{ "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac"
		  "\xe8\xaa\x9e", "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
		{ "Entw\xc3\xbc" "rfe", "Entw&APw-rfe" },
		{ "a&b", "a&-b" },
		{ "&", "&-" },
		{ "", "" },
		{ "\xf0\x9f\x98\x80", "&2D3eAA-" },
		{ "tab\there", "tab&AAk-here" },
		{ "\xc3\xa4\xc3\xb6\xc3\xbc", "&AOQA9gD8-" },
	};
	static const char *const bad[] = { "&", "&U,BTFw", "&AGE-",
		"&Jjo!", "a\x01", "&2D3e-", "&3gA-", "&U,BTFw-&ZeVnLIqe-",
		"\xc3\xa4", "&AOR-", "&-&", "&ZeV-" };
	struct buf b;
	const char *err, *s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rt) / sizeof(rt[0]); i++) {
		buf_init(&b, 256);
		if (imap_utf8_to_mutf7((const uint8_t *)rt[i].utf8,
		    strlen(rt[i].utf8), &b, &err) < 0)
			fail_msg("encode %s: %s", rt[i].mutf7, err);
		assert_int_equal(buf_cstr(&b, &s), 0);
		assert_string_equal(s, rt[i].mutf7);
		buf_reset(&b);
		if (imap_mutf7_to_utf8((const uint8_t *)rt[i].mutf7,
		    strlen(rt[i].mutf7), &b, &err) < 0)
			fail_msg("decode %s: %s", rt[i].mutf7, err);
		assert_int_equal(buf_cstr(&b, &s), 0);
		assert_string_equal(s, rt[i].utf8);
		buf_deinit(&b);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_init(&b, 256);
		err = NULL;
		if (imap_mutf7_to_utf8((const uint8_t *)bad[i], strlen(bad[i]),
		    &b, &err) == 0)
			fail_msg("decoded bad \"%s\"", bad[i]);
		assert_non_null(err);
		buf_deinit(&b);
	}
	/* invalid UTF-8 is not encoded; a full buffer is an error */
	buf_init(&b, 4);
	assert_int_equal(imap_utf8_to_mutf7((const uint8_t *)"\xc3(", 2, &b,
	    &err), -1);
	assert_int_equal(imap_utf8_to_mutf7((const uint8_t *)"\xc3\xa4\xc3"
	    "\xa4", 4, &b, &err), -1);
	buf_deinit(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_commands),
		cmocka_unit_test(test_invalid_commands),
		cmocka_unit_test(test_sync_literal_needs_continuation),
		cmocka_unit_test(test_literal_minus_allows_4096),
		cmocka_unit_test(test_resync_after_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_client_line),
		cmocka_unit_test(test_seqset),
		cmocka_unit_test(test_fetch),
		cmocka_unit_test(test_store),
		cmocka_unit_test(test_search),
		cmocka_unit_test(test_sort_thread),
		cmocka_unit_test(test_select_status),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_simple_commands),
		cmocka_unit_test(test_cmd_names),
		cmocka_unit_test(test_mutf7),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
