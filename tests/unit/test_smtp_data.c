/* test_smtp_data: the DATA/BDAT content reader (src/smtp/smtp_data.c).
 * Every table case runs with the whole input in one feed, one byte per
 * feed, and split into two feeds at every position; all runs must agree
 * with the expected result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "smtp_data.h"

#define TEST_MAX_LINE 1000		/* RFC 5321 4.5.3.1.6 */
#define TEST_MAX_SIZE (1024 * 1024)
#define ALL SIZE_MAX			/* .consumed: the whole input */

struct data_case {
	const char	*name;
	enum smtp_data_mode mode;
	const char	*in;
	size_t		 in_len;
	uint64_t	 max_size;	/* 0: TEST_MAX_SIZE */
	size_t		 max_line;	/* 0: TEST_MAX_LINE */
	size_t		 out_max;	/* 0: no limit on out */
	/* expected */
	enum smtp_data_error error;	/* after finish() in RAW mode */
	bool		 done;
	size_t		 consumed;
	const char	*out;		/* checked when error is OK */
};

/* Input with embedded NULs: the length comes from the literal. */
#define IN(s) .in = (s), .in_len = sizeof(s) - 1

static struct data_case cases[] = {
	/* End of data and dot-unstuffing, RFC 5321 4.1.1.4 and 4.5.2. */
	{ .name = "empty_message", IN(".\r\n"), .done = true, .consumed = 3,
	  .out = "" },
	{ .name = "simple", IN("Subject: x\r\n\r\nhello\r\n.\r\n"),
	  .done = true, .consumed = ALL, .out = "Subject: x\r\n\r\nhello\r\n" },
	{ .name = "empty_lines", IN("\r\n\r\n.\r\n"), .done = true,
	  .consumed = ALL, .out = "\r\n\r\n" },
	{ .name = "dot_stuffed", IN("..x\r\n..\r\n.\r\n"), .done = true,
	  .consumed = ALL, .out = ".x\r\n.\r\n" },
	{ .name = "dot_stuffed_three", IN("a\r\n...\r\n.\r\n"), .done = true,
	  .consumed = ALL, .out = "a\r\n..\r\n" },
	{ .name = "dot_line_start_with_text", IN("a\r\n.b\r\n. \r\n.\r\n"),
	  .done = true, .consumed = ALL, .out = "a\r\nb\r\n \r\n" },
	{ .name = "dot_inside_line_kept", IN("a.\r\nb.c\r\n.\r\n"),
	  .done = true, .consumed = ALL, .out = "a.\r\nb.c\r\n" },
	{ .name = "eight_bit", IN("\xff\xfe\x80\r\n.\r\n"), .done = true,
	  .consumed = ALL, .out = "\xff\xfe\x80\r\n" },
	{ .name = "stops_after_terminator", IN(".\r\nQUIT\r\n"), .done = true,
	  .consumed = 3, .out = "" },
	{ .name = "stops_after_terminator_pipelined",
	  IN("a\r\n.\r\nMAIL FROM:<a@b>\r\n"), .done = true, .consumed = 6,
	  .out = "a\r\n" },
	{ .name = "incomplete_terminator", IN("a\r\n.\r"), .done = false,
	  .consumed = ALL, .out = "a\r\n" },
	{ .name = "incomplete_line", IN("a\r\nbc"), .done = false,
	  .consumed = ALL, .out = "a\r\nbc" },

	/* SMTP smuggling: only CRLF "." CRLF ends the data. */
	{ .name = "smuggle_lf_dot_lf", IN("a\n.\nMAIL FROM:<x@y>\r\n"),
	  .error = SMTP_DATA_BARE_LF, .done = false, .consumed = ALL },
	{ .name = "smuggle_cr_dot_cr", IN("a\r.\rMAIL FROM:<x@y>\r\n"),
	  .error = SMTP_DATA_BARE_CR, .done = false, .consumed = ALL },
	{ .name = "smuggle_lf_dot_crlf", IN("a\n.\r\nMAIL FROM:<x@y>\r\n"),
	  .error = SMTP_DATA_BARE_LF, .done = false, .consumed = ALL },
	{ .name = "smuggle_crlf_dot_lf", IN("a\r\n.\nMAIL FROM:<x@y>\r\n"),
	  .error = SMTP_DATA_BARE_LF, .done = false, .consumed = ALL },
	{ .name = "smuggle_crlf_dot_cr", IN("a\r\n.\rMAIL FROM:<x@y>\r\n"),
	  .error = SMTP_DATA_BARE_CR, .done = false, .consumed = ALL },
	{ .name = "smuggle_lf_dot_crlf_at_start", IN("\n.\r\nRSET\r\n"),
	  .error = SMTP_DATA_BARE_LF, .done = false, .consumed = ALL },
	{ .name = "smuggle_then_real_end",
	  IN("a\n.\nMAIL FROM:<x@y>\r\n.\r\nQUIT\r\n"),
	  .error = SMTP_DATA_BARE_LF, .done = true, .consumed = 24 },
	{ .name = "end_found_after_error", IN("a\nb\r\n.\r\nQUIT\r\n"),
	  .error = SMTP_DATA_BARE_LF, .done = true, .consumed = 8 },
	{ .name = "end_found_after_bare_cr_dot", IN(".\r\r\n.\r\n"),
	  .error = SMTP_DATA_BARE_CR, .done = true, .consumed = ALL },
	{ .name = "bare_cr", IN("a\rb\r\n.\r\n"), .error = SMTP_DATA_BARE_CR,
	  .done = true, .consumed = ALL },
	{ .name = "bare_lf", IN("a\nb\r\n.\r\n"), .error = SMTP_DATA_BARE_LF,
	  .done = true, .consumed = ALL },
	{ .name = "bare_lf_after_stuffing_dot", IN(".\n.\r\n"),
	  .error = SMTP_DATA_BARE_LF, .done = false, .consumed = ALL },
	{ .name = "cr_cr_lf", IN("a\r\r\n.\r\n"), .error = SMTP_DATA_BARE_CR,
	  .done = true, .consumed = ALL },
	{ .name = "nul", IN("a\0b\r\n.\r\n"), .error = SMTP_DATA_NUL,
	  .done = true, .consumed = ALL },
	{ .name = "nul_after_dot", IN(".\0\r\n.\r\n"), .error = SMTP_DATA_NUL,
	  .done = true, .consumed = ALL },
	{ .name = "first_error_wins", IN("a\nb\rc\0\r\n.\r\n"),
	  .error = SMTP_DATA_BARE_LF, .done = true, .consumed = ALL },

	/* Text line limit incl CRLF, not counting a stuffing dot. */
	{ .name = "line_at_limit", IN("12345678\r\n.\r\n"), .max_line = 10,
	  .done = true, .consumed = ALL, .out = "12345678\r\n" },
	{ .name = "line_over_limit", IN("123456789\r\n.\r\n"), .max_line = 10,
	  .error = SMTP_DATA_LINE_TOO_LONG, .done = true, .consumed = ALL },
	{ .name = "line_over_limit_no_crlf_yet", IN("123456789"),
	  .max_line = 10, .error = SMTP_DATA_LINE_TOO_LONG, .done = false,
	  .consumed = ALL },
	{ .name = "line_at_limit_stuffed", IN("..2345678\r\n.\r\n"),
	  .max_line = 10, .done = true, .consumed = ALL,
	  .out = ".2345678\r\n" },
	{ .name = "line_limit_resets_per_line",
	  IN("12345678\r\n12345678\r\n.\r\n"), .max_line = 10, .done = true,
	  .consumed = ALL, .out = "12345678\r\n12345678\r\n" },

	/* Size: content after unstuffing, CRLFs included. */
	{ .name = "size_at_max", IN("abc\r\n.\r\n"), .max_size = 5,
	  .done = true, .consumed = ALL, .out = "abc\r\n" },
	{ .name = "size_over_max", IN("abcd\r\n.\r\n"), .max_size = 5,
	  .error = SMTP_DATA_TOO_BIG, .done = true, .consumed = ALL },
	{ .name = "size_over_max_at_cr", IN("abcd\r\n.\r\n"), .max_size = 4,
	  .error = SMTP_DATA_TOO_BIG, .done = true, .consumed = ALL },
	{ .name = "size_counts_unstuffed", IN("..b\r\n.\r\n"), .max_size = 4,
	  .done = true, .consumed = ALL, .out = ".b\r\n" },
	{ .name = "size_over_max_then_more", IN("abcdef\r\nxyz\r\n.\r\nQUIT"),
	  .max_size = 3, .error = SMTP_DATA_TOO_BIG, .done = true,
	  .consumed = 16 },
	{ .name = "out_max_at_limit", IN("abc\r\n.\r\n"), .out_max = 5,
	  .done = true, .consumed = ALL, .out = "abc\r\n" },
	{ .name = "out_max_hit", IN("abcd\r\n.\r\n"), .out_max = 5,
	  .error = SMTP_DATA_TOO_BIG, .done = true, .consumed = ALL },

	/* RAW (BDAT): no terminator, no unstuffing, CRLF still strict. */
	{ .name = "raw_simple", .mode = SMTP_DATA_RAW, IN("abc\r\ndef\r\n"),
	  .consumed = ALL, .out = "abc\r\ndef\r\n" },
	{ .name = "raw_empty", .mode = SMTP_DATA_RAW, IN(""), .consumed = ALL,
	  .out = "" },
	{ .name = "raw_dots_untouched", .mode = SMTP_DATA_RAW,
	  IN(".\r\n..x\r\n.\r\nafter\r\n"), .consumed = ALL,
	  .out = ".\r\n..x\r\n.\r\nafter\r\n" },
	{ .name = "raw_dangling_cr", .mode = SMTP_DATA_RAW, IN("abc\r\n\r"),
	  .error = SMTP_DATA_BARE_CR, .consumed = ALL },
	{ .name = "raw_unterminated", .mode = SMTP_DATA_RAW, IN("abc\r\nx"),
	  .error = SMTP_DATA_BARE_LF, .consumed = ALL },
	{ .name = "raw_bare_lf", .mode = SMTP_DATA_RAW, IN("a\nb\r\n"),
	  .error = SMTP_DATA_BARE_LF, .consumed = ALL },
	{ .name = "raw_bare_cr", .mode = SMTP_DATA_RAW, IN("a\rb\r\n"),
	  .error = SMTP_DATA_BARE_CR, .consumed = ALL },
	{ .name = "raw_cr_cr_lf", .mode = SMTP_DATA_RAW, IN("a\r\r\n"),
	  .error = SMTP_DATA_BARE_CR, .consumed = ALL },
	{ .name = "raw_nul", .mode = SMTP_DATA_RAW, IN("a\0\r\n"),
	  .error = SMTP_DATA_NUL, .consumed = ALL },
	{ .name = "raw_line_at_limit", .mode = SMTP_DATA_RAW,
	  IN(".2345678\r\n"), .max_line = 10, .consumed = ALL,
	  .out = ".2345678\r\n" },
	{ .name = "raw_line_over_limit", .mode = SMTP_DATA_RAW,
	  IN("..2345678\r\n"), .max_line = 10,
	  .error = SMTP_DATA_LINE_TOO_LONG, .consumed = ALL },
	{ .name = "raw_size_at_max", .mode = SMTP_DATA_RAW, IN("ab\r\n"),
	  .max_size = 4, .consumed = ALL, .out = "ab\r\n" },
	{ .name = "raw_size_over_max", .mode = SMTP_DATA_RAW, IN("abc\r\n"),
	  .max_size = 4, .error = SMTP_DATA_TOO_BIG, .consumed = ALL },
};

struct run_result {
	size_t		 consumed;
	bool		 done;
	enum smtp_data_error error;
	struct buf	 out;
};

static void
reader_init(struct smtp_data_reader *r, const struct data_case *c)
{
	smtp_data_init(r, c->mode,
	    c->max_size != 0 ? c->max_size : TEST_MAX_SIZE,
	    c->max_line != 0 ? c->max_line : TEST_MAX_LINE);
}

/* Feed c->in in pieces: cuts[] are the split positions, ascending. */
static void
run_split(const struct data_case *c, const size_t *cuts, size_t ncuts,
    struct run_result *res)
{
	const uint8_t *in = (const uint8_t *)c->in;
	struct smtp_data_reader r;
	size_t from = 0, i, to, n;

	reader_init(&r, c);
	buf_init(&res->out, c->out_max);
	res->consumed = 0;
	for (i = 0; i <= ncuts; i++) {
		to = i < ncuts ? cuts[i] : c->in_len;
		n = smtp_data_feed(&r, in + from, to - from, &res->out);
		assert_true(n <= to - from);
		res->consumed += n;
		if (r.done) {
			assert_true(n > 0 || to == from);
			break;
		}
		assert_int_equal(n, to - from);
		from = to;
	}
	/* Feeding after the end consumes nothing. */
	if (r.done)
		assert_int_equal(smtp_data_feed(&r, in, c->in_len, &res->out),
		    0);
	res->done = r.done;
	res->error = c->mode == SMTP_DATA_RAW ? smtp_data_finish(&r) :
	    r.error;
}

static void
check_result(const struct data_case *c, struct run_result *res,
    const char *how, size_t at)
{
	size_t want = c->consumed == ALL ? c->in_len : c->consumed;

	if (res->error != c->error || res->done != c->done ||
	    res->consumed != want)
		print_error("case %s (%s %zu): error %d/%d done %d/%d "
		    "consumed %zu/%zu\n", c->name, how, at, (int)res->error,
		    (int)c->error, (int)res->done, (int)c->done,
		    res->consumed, want);
	assert_int_equal(res->error, c->error);
	assert_int_equal(res->done, c->done);
	assert_int_equal(res->consumed, want);
	if (c->error == SMTP_DATA_OK) {
		assert_non_null(c->out);
		assert_int_equal(res->out.len, strlen(c->out));
		if (res->out.len > 0)
			assert_memory_equal(res->out.data, c->out,
			    res->out.len);
	}
	if (c->out_max != 0)
		assert_true(res->out.len <= c->out_max);
	buf_deinit(&res->out);
}

static void
test_case(void **state)
{
	const struct data_case *c = *state;
	struct run_result res;
	size_t *cuts, i;

	/* Whole buffer. */
	run_split(c, NULL, 0, &res);
	check_result(c, &res, "whole", 0);

	/* Two feeds, split at every position. */
	for (i = 0; i <= c->in_len; i++) {
		run_split(c, &i, 1, &res);
		check_result(c, &res, "split", i);
	}

	/* One byte at a time. */
	cuts = calloc(c->in_len + 1, sizeof(*cuts));
	assert_non_null(cuts);
	for (i = 0; i < c->in_len; i++)
		cuts[i] = i + 1;
	run_split(c, cuts, c->in_len, &res);
	check_result(c, &res, "bytewise", 0);
	free(cuts);
}

/* The default limit of 1000 octets incl CRLF, with generated lines. */
static void
test_line_limit_default(void **state)
{
	struct smtp_data_reader r;
	struct buf out;
	uint8_t line[TEST_MAX_LINE + 8];
	size_t content, n;

	(void)state;
	for (content = TEST_MAX_LINE - 3; content <= TEST_MAX_LINE - 1;
	    content++) {
		memset(line, 'x', content);
		memcpy(line + content, "\r\n.\r\n", 5);
		smtp_data_init(&r, SMTP_DATA_DOT, TEST_MAX_SIZE,
		    TEST_MAX_LINE);
		buf_init(&out, 0);
		n = smtp_data_feed(&r, line, content + 5, &out);
		assert_int_equal(n, content + 5);
		assert_true(r.done);
		if (content + 2 <= TEST_MAX_LINE) {
			assert_int_equal(r.error, SMTP_DATA_OK);
			assert_int_equal(out.len, content + 2);
		} else {
			assert_int_equal(r.error, SMTP_DATA_LINE_TOO_LONG);
		}
		buf_deinit(&out);
	}
}

/* max_line and max_size 0 mean no limit. */
static void
test_no_limits(void **state)
{
	enum { LONG_LINE = 100000 };
	struct smtp_data_reader r;
	struct buf out;
	uint8_t *in = malloc(LONG_LINE + 5);

	(void)state;
	assert_non_null(in);
	memset(in, 'y', LONG_LINE);
	memcpy(in + LONG_LINE, "\r\n.\r\n", 5);
	smtp_data_init(&r, SMTP_DATA_DOT, 0, 0);
	buf_init(&out, 0);
	assert_int_equal(smtp_data_feed(&r, in, LONG_LINE + 5, &out),
	    LONG_LINE + 5);
	assert_true(r.done);
	assert_int_equal(r.error, SMTP_DATA_OK);
	assert_int_equal(out.len, LONG_LINE + 2);
	buf_deinit(&out);
	free(in);
}

/* After an error nothing more is written, however much follows. */
static void
test_no_output_after_error(void **state)
{
	static const char in[] = "ok\r\nbad\nmore text\r\nand more\r\n.\r\n";
	enum { BAD_END = 8 };	/* just past the bare LF */
	struct smtp_data_reader r;
	struct buf out;
	size_t n;

	(void)state;
	smtp_data_init(&r, SMTP_DATA_DOT, TEST_MAX_SIZE, TEST_MAX_LINE);
	buf_init(&out, 0);
	n = smtp_data_feed(&r, (const uint8_t *)in, BAD_END, &out);
	assert_int_equal(n, BAD_END);
	assert_int_equal(r.error, SMTP_DATA_BARE_LF);
	assert_true(out.len < BAD_END);
	n = out.len;
	assert_int_equal(smtp_data_feed(&r, (const uint8_t *)in + BAD_END,
	    sizeof(in) - 1 - BAD_END, &out), sizeof(in) - 1 - BAD_END);
	assert_true(r.done);
	assert_int_equal(out.len, n);
	buf_deinit(&out);
}

/* BDAT chunks with CRLF split across the chunk boundary. */
static void
test_raw_chunks(void **state)
{
	static const char *chunks[] = { "abc\r", "\ndef", "\r", "\n", "" };
	struct smtp_data_reader r;
	struct buf out;
	size_t i;

	(void)state;
	smtp_data_init(&r, SMTP_DATA_RAW, TEST_MAX_SIZE, TEST_MAX_LINE);
	buf_init(&out, 0);
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		assert_int_equal(smtp_data_feed(&r,
		    (const uint8_t *)chunks[i], strlen(chunks[i]), &out),
		    strlen(chunks[i]));
	assert_false(r.done);
	assert_int_equal(smtp_data_finish(&r), SMTP_DATA_OK);
	assert_int_equal(out.len, 10);
	assert_memory_equal(out.data, "abc\r\ndef\r\n", 10);

	/* The last chunk ends in CR: a bare CR at finish. */
	smtp_data_init(&r, SMTP_DATA_RAW, TEST_MAX_SIZE, TEST_MAX_LINE);
	buf_reset(&out);
	assert_int_equal(smtp_data_feed(&r, (const uint8_t *)"x\r\ny\r", 5,
	    &out), 5);
	assert_int_equal(r.error, SMTP_DATA_OK);
	assert_int_equal(smtp_data_finish(&r), SMTP_DATA_BARE_CR);
	assert_int_equal(smtp_data_finish(&r), SMTP_DATA_BARE_CR);
	buf_deinit(&out);
}

static void
test_error_replies(void **state)
{
	static const struct {
		enum smtp_data_error e;
		int code;
		const char *status;
	} want[] = {
		{ SMTP_DATA_OK, 250, "2.0.0" },
		{ SMTP_DATA_BARE_CR, 550, "5.6.0" },
		{ SMTP_DATA_BARE_LF, 550, "5.6.0" },
		{ SMTP_DATA_LINE_TOO_LONG, 550, "5.6.0" },
		{ SMTP_DATA_TOO_BIG, 552, "5.3.4" },
		{ SMTP_DATA_NUL, 550, "5.6.0" },
	};
	char prefix[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *text = smtp_data_error_text(want[i].e);

		assert_int_equal(smtp_data_error_code(want[i].e),
		    want[i].code);
		snprintf(prefix, sizeof(prefix), "%d %s ", want[i].code,
		    want[i].status);
		assert_memory_equal(text, prefix, strlen(prefix));
		assert_true(strlen(text) < 80);
		assert_null(strpbrk(text, "\r\n"));
	}
	assert_string_equal(smtp_data_error_text(SMTP_DATA_TOO_BIG),
	    "552 5.3.4 Message size exceeds fixed maximum message size");
}

int
main(void)
{
	static const struct CMUnitTest extra[] = {
		cmocka_unit_test(test_line_limit_default),
		cmocka_unit_test(test_no_limits),
		cmocka_unit_test(test_no_output_after_error),
		cmocka_unit_test(test_raw_chunks),
		cmocka_unit_test(test_error_replies),
	};
	size_t ncases = sizeof(cases) / sizeof(cases[0]);
	size_t nextra = sizeof(extra) / sizeof(extra[0]);
	struct CMUnitTest *tests = calloc(ncases + nextra, sizeof(*tests));
	size_t i;
	int r;

	if (tests == NULL)
		return 1;
	for (i = 0; i < ncases; i++) {
		tests[i].name = cases[i].name;
		tests[i].test_func = test_case;
		tests[i].initial_state = &cases[i];
	}
	memcpy(tests + ncases, extra, sizeof(extra));
	r = _cmocka_run_group_tests("smtp_data", tests, ncases + nextra,
	    NULL, NULL);
	free(tests);
	return r;
}
