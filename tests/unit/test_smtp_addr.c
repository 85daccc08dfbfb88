/* test_smtp_addr: the RFC 5321 path grammar in smtp_addr.c: table-driven
 * valid and invalid paths (each case is its own named test), length limits
 * at their boundaries, formatting and the HELO/EHLO domain check. Every
 * input is copied into an exactly sized heap buffer so that a sanitizer
 * build catches any read past len. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp_addr.h"

#define UTF8_U_UML "\xc3\xbc"			/* U+00FC */
#define UTF8_DELTA "\xce\xb4"			/* U+03B4 */
#define UTF8_EXAMPLE_GR "\xcf\x80\xce\xb1\xcf\x81\xce\xac\xce\xb4" \
	"\xce\xb5\xce\xb9\xce\xb3\xce\xbc\xce\xb1"	/* Greek "example" */

struct valid_path {
	const char	*name;
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	unsigned	 flags;
	const char	*local;
	const char	*domain;
	size_t		 consumed;	/* 0: the whole input */
	bool		 null, quoted, literal, utf8;
};

static const struct valid_path valid_paths[] = {
	{ .name = "path_accepts_simple_mailbox",
	  .in = "<user@example.com>", .local = "user",
	  .domain = "example.com" },
	{ .name = "path_lowercases_domain_keeps_local_case",
	  .in = "<User.Name@EXAMPLE.Com>", .local = "User.Name",
	  .domain = "example.com" },
	{ .name = "path_accepts_single_label_domain",
	  .in = "<a@localhost>", .local = "a", .domain = "localhost" },
	{ .name = "path_accepts_digits_and_hyphens_in_labels",
	  .in = "<a@1-2.x--y.example>", .local = "a",
	  .domain = "1-2.x--y.example" },
	{ .name = "path_accepts_all_atext_specials",
	  .in = "<!#$%&'*+-/=?^_`{|}~@x.example>",
	  .local = "!#$%&'*+-/=?^_`{|}~", .domain = "x.example" },
	{ .name = "path_keeps_quotes_around_local_with_space",
	  .in = "<\"a b\"@x.example>", .local = "\"a b\"",
	  .domain = "x.example", .quoted = true },
	{ .name = "path_keeps_quoted_pair_as_received",
	  .in = "<\"a\\\"b\"@x.example>", .local = "\"a\\\"b\"",
	  .domain = "x.example", .quoted = true },
	{ .name = "path_keeps_quoted_backslash_pair",
	  .in = "<\"a\\\\b\"@x.example>", .local = "\"a\\\\b\"",
	  .domain = "x.example", .quoted = true },
	{ .name = "path_unquotes_quoted_dot_string",
	  .in = "<\"john.doe\"@x.example>", .local = "john.doe",
	  .domain = "x.example" },
	{ .name = "path_keeps_quotes_when_quoted_has_double_dot",
	  .in = "<\"a..b\"@x.example>", .local = "\"a..b\"",
	  .domain = "x.example", .quoted = true },
	{ .name = "path_accepts_empty_quoted_string",
	  .in = "<\"\"@x.example>", .local = "\"\"", .domain = "x.example",
	  .quoted = true },
	{ .name = "path_ignores_source_route",
	  .in = "<@a.example,@b.example:user@c.example>", .local = "user",
	  .domain = "c.example" },
	{ .name = "path_ignores_single_hop_source_route",
	  .in = "<@a.example:user@c.example>", .local = "user",
	  .domain = "c.example" },
	{ .name = "path_accepts_ipv4_literal",
	  .in = "<user@[192.0.2.1]>", .local = "user",
	  .domain = "[192.0.2.1]", .literal = true },
	{ .name = "path_accepts_ipv4_literal_with_leading_zeros",
	  .in = "<user@[010.0.2.001]>", .local = "user",
	  .domain = "[010.0.2.001]", .literal = true },
	{ .name = "path_accepts_ipv6_literal_lowercased",
	  .in = "<user@[IPv6:2001:DB8::1]>", .local = "user",
	  .domain = "[ipv6:2001:db8::1]", .literal = true },
	{ .name = "path_accepts_ipv6v4_literal",
	  .in = "<u@[IPv6:::ffff:192.0.2.1]>", .local = "u",
	  .domain = "[ipv6:::ffff:192.0.2.1]", .literal = true },
	{ .name = "path_accepts_general_address_literal",
	  .in = "<u@[x-tag:Some:Thing]>", .local = "u",
	  .domain = "[x-tag:some:thing]", .literal = true },
	{ .name = "path_reads_untagged_ipv6_as_general_literal",
	  .in = "<u@[2001:DB8::1]>", .local = "u",
	  .domain = "[2001:db8::1]", .literal = true },
	{ .name = "path_accepts_null_with_allow_empty",
	  .in = "<>", .flags = SMTP_ADDR_ALLOW_EMPTY, .local = "",
	  .domain = "", .null = true },
	{ .name = "path_accepts_postmaster_with_flag",
	  .in = "<Postmaster>", .flags = SMTP_ADDR_POSTMASTER,
	  .local = "Postmaster", .domain = "" },
	{ .name = "path_accepts_postmaster_in_any_case",
	  .in = "<pOSTMASTER>", .flags = SMTP_ADDR_POSTMASTER,
	  .local = "pOSTMASTER", .domain = "" },
	{ .name = "path_treats_postmaster_at_domain_as_mailbox",
	  .in = "<Postmaster@Example.COM>", .flags = SMTP_ADDR_POSTMASTER,
	  .local = "Postmaster", .domain = "example.com" },
	{ .name = "path_accepts_utf8_with_flag",
	  .in = "<" UTF8_DELTA "@" UTF8_EXAMPLE_GR ".example>",
	  .flags = SMTP_ADDR_UTF8, .local = UTF8_DELTA,
	  .domain = UTF8_EXAMPLE_GR ".example", .utf8 = true },
	{ .name = "path_accepts_utf8_in_quoted_local_with_flag",
	  .in = "<\"" UTF8_U_UML " x\"@a.example>", .flags = SMTP_ADDR_UTF8,
	  .local = "\"" UTF8_U_UML " x\"", .domain = "a.example",
	  .quoted = true, .utf8 = true },
	{ .name = "path_accepts_four_byte_utf8_with_flag",
	  .in = "<\xf0\x9f\x93\xa7@a.example>", .flags = SMTP_ADDR_UTF8,
	  .local = "\xf0\x9f\x93\xa7", .domain = "a.example", .utf8 = true },
	{ .name = "path_utf8_route_does_not_mark_mailbox_utf8",
	  .in = "<@" UTF8_U_UML ".example:a@b.example>",
	  .flags = SMTP_ADDR_UTF8, .local = "a", .domain = "b.example" },
	{ .name = "path_stops_after_closing_bracket",
	  .in = "<a@b.example> SIZE=1", .local = "a", .domain = "b.example",
	  .consumed = 13 },
	{ .name = "path_stops_before_nul_after_closing_bracket",
	  .in = "<a@b>\0x", .len = 7, .local = "a", .domain = "b",
	  .consumed = 5 },
};

struct invalid_path {
	const char	*name;
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	unsigned	 flags;
	const char	*error;		/* expected prefix of *error_r */
};

#define BAD_RCPT "5.1.3"
#define BAD_SENDER "5.1.7"
#define NEED_UTF8 "5.6.7"

static const struct invalid_path invalid_paths[] = {
	{ .name = "path_rejects_empty_input", .in = "", .error = BAD_RCPT },
	{ .name = "path_rejects_missing_open_bracket", .in = "a@b.example",
	  .error = BAD_RCPT },
	{ .name = "path_rejects_leading_space", .in = " <a@b.example>",
	  .error = BAD_RCPT },
	{ .name = "path_rejects_missing_close_bracket", .in = "<a@b.example",
	  .error = BAD_RCPT },
	{ .name = "path_rejects_lone_open_bracket", .in = "<",
	  .error = BAD_RCPT },
	{ .name = "path_rejects_double_brackets", .in = "<<a@b.example>>",
	  .error = BAD_RCPT },
	{ .name = "path_rejects_null_without_allow_empty", .in = "<>",
	  .error = "5.1.3 Null" },
	{ .name = "path_rejects_missing_at", .in = "<ab.example>",
	  .error = BAD_RCPT },
	{ .name = "path_rejects_empty_local_part", .in = "<@b.example>",
	  .error = BAD_RCPT },
	{ .name = "path_rejects_empty_domain", .in = "<a@>",
	  .error = BAD_RCPT },
	{ .name = "path_rejects_two_at_signs", .in = "<a@@b.example>",
	  .error = BAD_RCPT },
	{ .name = "path_rejects_at_in_domain", .in = "<a@b@c.example>",
	  .error = BAD_RCPT },
	{ .name = "path_rejects_trailing_dot_in_domain",
	  .in = "<a@example.com.>", .error = BAD_RCPT },
	{ .name = "path_rejects_leading_dot_in_domain",
	  .in = "<a@.example.com>", .error = BAD_RCPT },
	{ .name = "path_rejects_empty_label", .in = "<a@example..com>",
	  .error = BAD_RCPT },
	{ .name = "path_rejects_label_starting_with_hyphen",
	  .in = "<a@-x.example>", .error = BAD_RCPT },
	{ .name = "path_rejects_label_ending_with_hyphen",
	  .in = "<a@x-.example>", .error = BAD_RCPT },
	{ .name = "path_rejects_underscore_in_domain",
	  .in = "<a@x_y.example>", .error = BAD_RCPT },
	{ .name = "path_rejects_trailing_dot_in_local",
	  .in = "<a.@b.example>", .error = BAD_RCPT },
	{ .name = "path_rejects_leading_dot_in_local",
	  .in = "<.a@b.example>", .error = BAD_RCPT },
	{ .name = "path_rejects_double_dot_in_local",
	  .in = "<a..b@b.example>", .error = BAD_RCPT },
	{ .name = "path_rejects_space_in_local", .in = "<a b@b.example>",
	  .error = BAD_RCPT },
	{ .name = "path_rejects_space_after_open_bracket",
	  .in = "< a@b.example>", .error = BAD_RCPT },
	{ .name = "path_rejects_space_before_close_bracket",
	  .in = "<a@b.example >", .error = BAD_RCPT },
	{ .name = "path_rejects_backslash_outside_quotes",
	  .in = "<a\\b@b.example>", .error = BAD_RCPT },
	{ .name = "path_rejects_unterminated_quote",
	  .in = "<\"abc@b.example>", .error = BAD_RCPT },
	{ .name = "path_rejects_quote_ending_in_backslash",
	  .in = "<\"abc\\", .error = BAD_RCPT },
	{ .name = "path_rejects_text_after_quoted_string",
	  .in = "<\"a\"b@b.example>", .error = BAD_RCPT },
	{ .name = "path_rejects_tab_in_quoted_string",
	  .in = "<\"a\tb\"@b.example>", .error = BAD_RCPT },
	{ .name = "path_rejects_control_char_in_quoted_pair",
	  .in = "<\"a\\\x01\"@b.example>", .error = BAD_RCPT },
	{ .name = "path_rejects_control_char_in_local",
	  .in = "<a\x01@b.example>", .error = BAD_RCPT },
	{ .name = "path_rejects_del_in_domain", .in = "<a@b.example\x7f>",
	  .error = BAD_RCPT },
	{ .name = "path_rejects_cr_in_domain", .in = "<a@b\r.example>",
	  .error = BAD_RCPT },
	{ .name = "path_rejects_nul_in_local", .in = "<a\0b@b.example>",
	  .len = 14, .error = BAD_RCPT },
	{ .name = "path_rejects_nul_in_domain", .in = "<a@b.ex\0ample>",
	  .len = 14, .error = BAD_RCPT },
	{ .name = "path_rejects_nul_in_quoted_string",
	  .in = "<\"a\0b\"@b.example>", .len = 16, .error = BAD_RCPT },
	{ .name = "path_rejects_postmaster_without_flag", .in = "<Postmaster>",
	  .error = BAD_RCPT },
	{ .name = "path_rejects_postmaster_with_source_route",
	  .in = "<@a.example:Postmaster>", .flags = SMTP_ADDR_POSTMASTER,
	  .error = BAD_RCPT },
	{ .name = "path_rejects_unterminated_postmaster",
	  .in = "<Postmaster", .flags = SMTP_ADDR_POSTMASTER,
	  .error = BAD_RCPT },
	{ .name = "path_rejects_route_without_colon",
	  .in = "<@a.example user@c.example>", .error = BAD_RCPT },
	{ .name = "path_rejects_route_comma_without_at",
	  .in = "<@a.example,b.example:user@c.example>", .error = BAD_RCPT },
	{ .name = "path_rejects_route_with_empty_domain",
	  .in = "<@:user@c.example>", .error = BAD_RCPT },
	{ .name = "path_rejects_route_with_empty_label",
	  .in = "<@a..example:user@c.example>", .error = BAD_RCPT },
	{ .name = "path_rejects_route_without_mailbox",
	  .in = "<@a.example:>", .error = BAD_RCPT },
	{ .name = "path_rejects_route_literal",
	  .in = "<@[192.0.2.1]:u@c.example>", .error = BAD_RCPT },
	{ .name = "path_rejects_ipv4_octet_over_255",
	  .in = "<a@[192.0.2.256]>", .error = BAD_RCPT },
	{ .name = "path_rejects_ipv4_with_three_parts",
	  .in = "<a@[192.0.2]>", .error = BAD_RCPT },
	{ .name = "path_rejects_ipv4_with_five_parts",
	  .in = "<a@[1.2.3.4.5]>", .error = BAD_RCPT },
	{ .name = "path_rejects_ipv4_octet_of_four_digits",
	  .in = "<a@[0001.2.3.4]>", .error = BAD_RCPT },
	{ .name = "path_rejects_ipv4_with_empty_part",
	  .in = "<a@[1..3.4]>", .error = BAD_RCPT },
	{ .name = "path_rejects_bad_ipv6_digit",
	  .in = "<a@[IPv6:2001:db8::g]>", .error = BAD_RCPT },
	{ .name = "path_rejects_empty_ipv6", .in = "<a@[IPv6:]>",
	  .error = BAD_RCPT },
	{ .name = "path_rejects_ipv4_under_ipv6_tag",
	  .in = "<a@[IPv6:192.0.2.1]>", .error = BAD_RCPT },
	{ .name = "path_rejects_ipv6_with_two_double_colons",
	  .in = "<a@[IPv6:1::2::3]>", .error = BAD_RCPT },
	{ .name = "path_rejects_ipv6_too_long",
	  .in = "<a@[IPv6:0000:0000:0000:0000:0000:0000:0000:0000:0000]>",
	  .error = BAD_RCPT },
	{ .name = "path_rejects_literal_without_tag", .in = "<a@[abc]>",
	  .error = BAD_RCPT },
	{ .name = "path_rejects_empty_literal", .in = "<a@[]>",
	  .error = BAD_RCPT },
	{ .name = "path_rejects_general_literal_without_content",
	  .in = "<a@[x-tag:]>", .error = BAD_RCPT },
	{ .name = "path_rejects_general_literal_tag_ending_in_hyphen",
	  .in = "<a@[x-:abc]>", .error = BAD_RCPT },
	{ .name = "path_rejects_bracket_inside_literal",
	  .in = "<a@[x:a[b]>", .error = BAD_RCPT },
	{ .name = "path_rejects_unterminated_literal",
	  .in = "<a@[192.0.2.1>", .error = BAD_RCPT },
	{ .name = "path_rejects_text_after_literal",
	  .in = "<a@[192.0.2.1]x>", .error = BAD_RCPT },
	{ .name = "path_rejects_utf8_local_without_flag",
	  .in = "<" UTF8_U_UML "@b.example>", .error = NEED_UTF8 },
	{ .name = "path_rejects_utf8_domain_without_flag",
	  .in = "<a@" UTF8_U_UML ".example>", .error = NEED_UTF8 },
	{ .name = "path_rejects_utf8_quoted_without_flag",
	  .in = "<\"" UTF8_U_UML "\"@b.example>", .error = NEED_UTF8 },
	{ .name = "path_rejects_truncated_utf8_even_with_flag",
	  .in = "<\xc3@b.example>", .flags = SMTP_ADDR_UTF8,
	  .error = BAD_RCPT },
	{ .name = "path_rejects_overlong_utf8_even_with_flag",
	  .in = "<\xc0\xaf@b.example>", .flags = SMTP_ADDR_UTF8,
	  .error = BAD_RCPT },
	{ .name = "path_rejects_overlong_three_byte_utf8",
	  .in = "<\xe0\x80\xaf@b.example>", .flags = SMTP_ADDR_UTF8,
	  .error = BAD_RCPT },
	{ .name = "path_rejects_utf8_surrogate_even_with_flag",
	  .in = "<\xed\xa0\x80@b.example>", .flags = SMTP_ADDR_UTF8,
	  .error = BAD_RCPT },
	{ .name = "path_rejects_utf8_above_10ffff_even_with_flag",
	  .in = "<\xf4\x90\x80\x80@b.example>", .flags = SMTP_ADDR_UTF8,
	  .error = BAD_RCPT },
	{ .name = "path_rejects_lone_continuation_byte_even_with_flag",
	  .in = "<a\x80@b.example>", .flags = SMTP_ADDR_UTF8,
	  .error = BAD_RCPT },
	{ .name = "path_rejects_ff_byte_even_with_flag",
	  .in = "<a@b\xff.example>", .flags = SMTP_ADDR_UTF8,
	  .error = BAD_RCPT },
	{ .name = "path_rejects_invalid_utf8_in_quoted_even_with_flag",
	  .in = "<\"\xc3\"@b.example>", .flags = SMTP_ADDR_UTF8,
	  .error = BAD_RCPT },
	{ .name = "path_rejects_invalid_utf8_without_flag_as_syntax",
	  .in = "<\xff@b.example>", .error = BAD_RCPT },
	{ .name = "path_reverse_path_errors_use_sender_code",
	  .in = "<a@b..example>", .flags = SMTP_ADDR_ALLOW_EMPTY,
	  .error = BAD_SENDER },
	{ .name = "path_reverse_path_utf8_error_uses_6_7",
	  .in = "<" UTF8_U_UML "@b.example>", .flags = SMTP_ADDR_ALLOW_EMPTY,
	  .error = NEED_UTF8 },
};

#define N_VALID (sizeof(valid_paths) / sizeof(valid_paths[0]))
#define N_INVALID (sizeof(invalid_paths) / sizeof(invalid_paths[0]))

/* An exactly sized heap copy, so ASan sees reads past len. */
static char *
dup_exact(const char *s, size_t len)
{
	char *p = malloc(len > 0 ? len : 1);

	assert_non_null(p);
	if (len > 0)
		memcpy(p, s, len);
	return p;
}

static int
parse(const char *s, size_t len, unsigned flags, struct smtp_addr *a,
    size_t *consumed_r, const char **error_r)
{
	char *copy = dup_exact(s, len);
	int ret;

	ret = smtp_addr_parse_path(copy, len, flags, a, consumed_r, error_r);
	free(copy);
	return ret;
}

static void
run_valid(void **state)
{
	const struct valid_path *t = *state;
	size_t len = t->len > 0 ? t->len : strlen(t->in);
	size_t consumed = 0, n;
	const char *error = NULL;
	struct smtp_addr a;

	assert_int_equal(parse(t->in, len, t->flags, &a, &consumed, &error),
	    0);
	assert_string_equal(a.local, t->local);
	assert_string_equal(a.domain, t->domain);
	assert_int_equal(consumed, t->consumed > 0 ? t->consumed : len);
	assert_int_equal(a.null, t->null);
	assert_int_equal(a.quoted, t->quoted);
	assert_int_equal(a.literal, t->literal);
	assert_int_equal(a.utf8, t->utf8);

	/* Trickle: no proper prefix of a path is a complete path. */
	for (n = 0; n < consumed; n++) {
		error = NULL;
		assert_int_equal(parse(t->in, n, t->flags, &a, &consumed,
		    &error), -1);
		assert_non_null(error);
	}
}

static void
run_invalid(void **state)
{
	const struct invalid_path *t = *state;
	size_t len = t->len > 0 ? t->len : strlen(t->in);
	size_t consumed = 0;
	const char *error = NULL;
	struct smtp_addr a;

	assert_int_equal(parse(t->in, len, t->flags, &a, &consumed, &error),
	    -1);
	assert_non_null(error);
	if (strncmp(error, t->error, strlen(t->error)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", error,
		    t->error);
	assert_string_equal(a.local, "");
	assert_string_equal(a.domain, "");
}

/* "<" local "@" domain ">" with the given part lengths; domain made of
 * labels of at most 61 octets. Returns the length written. */
static size_t
make_path(char *dst, size_t dstlen, size_t local_len, size_t domain_len)
{
	size_t pos = 0, i, label = 0;

	assert_true(local_len + domain_len + 3 < dstlen);
	dst[pos++] = '<';
	for (i = 0; i < local_len; i++)
		dst[pos++] = 'l';
	dst[pos++] = '@';
	for (i = 0; i < domain_len; i++) {
		/* 60-octet labels; never a dot first or last */
		if (label == 60 && i + 1 < domain_len) {
			dst[pos++] = '.';
			label = 0;
		} else {
			dst[pos++] = 'd';
			label++;
		}
	}
	dst[pos++] = '>';
	dst[pos] = '\0';
	return pos;
}

static void
test_path_accepts_local_part_of_64(void **state)
{
	char buf[512];
	size_t len = make_path(buf, sizeof(buf), SMTP_LOCAL_MAX, 5);
	size_t consumed;
	const char *error;
	struct smtp_addr a;

	(void)state;
	assert_int_equal(parse(buf, len, 0, &a, &consumed, &error), 0);
	assert_int_equal(strlen(a.local), SMTP_LOCAL_MAX);
}

static void
test_path_rejects_local_part_of_65(void **state)
{
	char buf[512];
	size_t len = make_path(buf, sizeof(buf), SMTP_LOCAL_MAX + 1, 5);
	size_t consumed;
	const char *error = NULL;
	struct smtp_addr a;

	(void)state;
	assert_int_equal(parse(buf, len, 0, &a, &consumed, &error), -1);
	assert_non_null(strstr(error, "local part too long"));
}

/* "<" + "\"" + fill + n * 'q' + "\"@x>"; returns the length. */
static size_t
make_quoted(char *dst, const char *fill, size_t n)
{
	size_t pos = 0, flen = strlen(fill);

	dst[pos++] = '<';
	dst[pos++] = '"';
	memcpy(dst + pos, fill, flen);
	pos += flen;
	memset(dst + pos, 'q', n);
	pos += n;
	memcpy(dst + pos, "\"@x>", 4);
	return pos + 4;
}

static void
test_path_quoted_local_of_64_counts_quotes(void **state)
{
	char buf[128];
	size_t consumed, len;
	const char *error = NULL;
	struct smtp_addr a;

	(void)state;
	/* 62 octets inside the quotes: 64 with them, unquoted to 62 */
	len = make_quoted(buf, "", SMTP_LOCAL_MAX - 2);
	assert_int_equal(parse(buf, len, 0, &a, &consumed, &error), 0);
	assert_false(a.quoted);
	assert_int_equal(strlen(a.local), SMTP_LOCAL_MAX - 2);
	/* 64 octets, kept quoted because of the space */
	len = make_quoted(buf, " ", SMTP_LOCAL_MAX - 3);
	assert_int_equal(parse(buf, len, 0, &a, &consumed, &error), 0);
	assert_true(a.quoted);
	assert_int_equal(strlen(a.local), SMTP_LOCAL_MAX);
	/* 65 octets */
	len = make_quoted(buf, " ", SMTP_LOCAL_MAX - 2);
	assert_int_equal(parse(buf, len, 0, &a, &consumed, &error), -1);
	assert_non_null(strstr(error, "local part too long"));
	/* 63 inside the quotes, as it would unquote to a 63-octet atom */
	len = make_quoted(buf, "", SMTP_LOCAL_MAX - 1);
	assert_int_equal(parse(buf, len, 0, &a, &consumed, &error), -1);
	assert_non_null(strstr(error, "local part too long"));
}

static void
test_path_accepts_path_of_256(void **state)
{
	char buf[512];
	/* 1 + 64 + 1 + 189 + 1 = 256 */
	size_t len = make_path(buf, sizeof(buf), SMTP_LOCAL_MAX,
	    SMTP_PATH_MAX - SMTP_LOCAL_MAX - 3);
	size_t consumed;
	const char *error;
	struct smtp_addr a;

	(void)state;
	assert_int_equal(len, SMTP_PATH_MAX);
	assert_int_equal(parse(buf, len, 0, &a, &consumed, &error), 0);
	assert_int_equal(consumed, SMTP_PATH_MAX);
}

static void
test_path_rejects_path_of_257(void **state)
{
	char buf[512];
	size_t len = make_path(buf, sizeof(buf), SMTP_LOCAL_MAX,
	    SMTP_PATH_MAX - SMTP_LOCAL_MAX - 2);
	size_t consumed;
	const char *error = NULL;
	struct smtp_addr a;

	(void)state;
	assert_int_equal(len, SMTP_PATH_MAX + 1);
	assert_int_equal(parse(buf, len, 0, &a, &consumed, &error), -1);
	assert_non_null(strstr(error, "path too long"));
}

static void
test_path_rejects_long_source_route(void **state)
{
	char buf[1024];
	size_t pos = 0;
	size_t consumed;
	const char *error = NULL;
	struct smtp_addr a;

	(void)state;
	buf[pos++] = '<';
	while (pos < 600) {
		memcpy(buf + pos, "@r.example,", 11);
		pos += 11;
	}
	memcpy(buf + pos, "@r.example:a@b>", 15);
	pos += 15;
	assert_int_equal(parse(buf, pos, 0, &a, &consumed, &error), -1);
	assert_non_null(strstr(error, "path too long"));
}

static void
test_path_rejects_domain_of_256(void **state)
{
	char buf[512];
	size_t len = make_path(buf, sizeof(buf), 1, SMTP_DOMAIN_MAX + 1);
	size_t consumed;
	const char *error = NULL;
	struct smtp_addr a;

	(void)state;
	assert_int_equal(parse(buf, len, 0, &a, &consumed, &error), -1);
	assert_non_null(strstr(error, "domain too long"));
}

static void
test_path_rejects_label_of_64(void **state)
{
	char buf[128];
	size_t consumed;
	const char *error = NULL;
	struct smtp_addr a;

	(void)state;
	memcpy(buf, "<a@", 3);
	memset(buf + 3, 'x', 64);
	buf[67] = '>';
	assert_int_equal(parse(buf, 68, 0, &a, &consumed, &error), -1);
	memcpy(buf + 66, ">", 1);	/* 63-octet label */
	assert_int_equal(parse(buf, 67, 0, &a, &consumed, &error), 0);
}

static void
test_format_writes_local_at_domain(void **state)
{
	struct smtp_addr a;
	size_t consumed;
	const char *error;
	char out[SMTP_PATH_MAX];

	(void)state;
	assert_int_equal(smtp_addr_parse_path("<User@EXAMPLE.com>", 18, 0, &a,
	    &consumed, &error), 0);
	assert_int_equal(smtp_addr_format(&a, out, sizeof(out)), 0);
	assert_string_equal(out, "User@example.com");
	/* exact fit, then one octet short */
	assert_int_equal(smtp_addr_format(&a, out, 17), 0);
	assert_int_equal(smtp_addr_format(&a, out, 16), -1);
	assert_int_equal(smtp_addr_format(&a, out, 0), -1);
}

static void
test_format_writes_literal_and_quoted(void **state)
{
	struct smtp_addr a;
	size_t consumed;
	const char *error;
	char out[SMTP_PATH_MAX];

	(void)state;
	assert_int_equal(smtp_addr_parse_path("<\"a b\"@[192.0.2.1]>", 19, 0,
	    &a, &consumed, &error), 0);
	assert_int_equal(smtp_addr_format(&a, out, sizeof(out)), 0);
	assert_string_equal(out, "\"a b\"@[192.0.2.1]");
}

static void
test_format_writes_empty_for_null_path(void **state)
{
	struct smtp_addr a;
	size_t consumed;
	const char *error;
	char out[8] = "junk";

	(void)state;
	assert_int_equal(smtp_addr_parse_path("<>", 2, SMTP_ADDR_ALLOW_EMPTY,
	    &a, &consumed, &error), 0);
	assert_int_equal(smtp_addr_format(&a, out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

static void
test_format_writes_bare_postmaster(void **state)
{
	struct smtp_addr a;
	size_t consumed;
	const char *error;
	char out[32];

	(void)state;
	assert_int_equal(smtp_addr_parse_path("<Postmaster>", 12,
	    SMTP_ADDR_POSTMASTER, &a, &consumed, &error), 0);
	assert_int_equal(smtp_addr_format(&a, out, sizeof(out)), 0);
	assert_string_equal(out, "Postmaster");
}

struct domain_case {
	const char	*in;
	size_t		 len;	/* 0: strlen(in) */
	bool		 utf8;
	bool		 valid;
};

static const struct domain_case domain_cases[] = {
	{ .in = "example.com", .valid = true },
	{ .in = "EXAMPLE.Com", .valid = true },
	{ .in = "localhost", .valid = true },
	{ .in = "1.2.3.4", .valid = true },
	{ .in = "[192.0.2.1]", .valid = true },
	{ .in = "[IPv6:::1]", .valid = true },
	{ .in = "[ipv6:2001:db8::1]", .valid = true },
	{ .in = "[x-tag:stuff]", .valid = true },
	{ .in = UTF8_EXAMPLE_GR ".example", .utf8 = true, .valid = true },
	{ .in = UTF8_EXAMPLE_GR ".example" },
	{ .in = "\xc3.example", .utf8 = true },
	{ .in = "" },
	{ .in = "example.com." },
	{ .in = ".example.com" },
	{ .in = "a..b" },
	{ .in = "-a.example" },
	{ .in = "a-.example" },
	{ .in = "exa mple.com" },
	{ .in = "example.com " },
	{ .in = "a\0b", .len = 3 },
	{ .in = "[192.0.2.1" },
	{ .in = "[192.0.2]" },
	{ .in = "[IPv6:zz]" },
	{ .in = "[192.0.2.1]x" },
	{ .in = "a@b" },
	{ .in = "a_b.example" },
};

static void
test_valid_domain_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(domain_cases) / sizeof(domain_cases[0]); i++) {
		const struct domain_case *t = &domain_cases[i];
		size_t len = t->len > 0 ? t->len : strlen(t->in);
		char *copy = dup_exact(t->in, len);
		bool ok = smtp_addr_valid_domain(copy, len, t->utf8);

		free(copy);
		if (ok != t->valid)
			fail_msg("case %zu \"%s\": got %d", i, t->in, ok);
	}
}

static void
test_valid_domain_rejects_256_octets(void **state)
{
	char buf[SMTP_DOMAIN_MAX + 2];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (i % 61 == 60) ? '.' : 'd';
	assert_true(smtp_addr_valid_domain(buf, SMTP_DOMAIN_MAX, false));
	assert_false(smtp_addr_valid_domain(buf, SMTP_DOMAIN_MAX + 1, false));
}

static const struct CMUnitTest fixed_tests[] = {
	cmocka_unit_test(test_path_accepts_local_part_of_64),
	cmocka_unit_test(test_path_rejects_local_part_of_65),
	cmocka_unit_test(test_path_quoted_local_of_64_counts_quotes),
	cmocka_unit_test(test_path_accepts_path_of_256),
	cmocka_unit_test(test_path_rejects_path_of_257),
	cmocka_unit_test(test_path_rejects_long_source_route),
	cmocka_unit_test(test_path_rejects_domain_of_256),
	cmocka_unit_test(test_path_rejects_label_of_64),
	cmocka_unit_test(test_format_writes_local_at_domain),
	cmocka_unit_test(test_format_writes_literal_and_quoted),
	cmocka_unit_test(test_format_writes_empty_for_null_path),
	cmocka_unit_test(test_format_writes_bare_postmaster),
	cmocka_unit_test(test_valid_domain_table),
	cmocka_unit_test(test_valid_domain_rejects_256_octets),
};

#define N_FIXED (sizeof(fixed_tests) / sizeof(fixed_tests[0]))

int
main(void)
{
	static struct CMUnitTest tests[N_VALID + N_INVALID + N_FIXED];
	size_t i, n = 0;

	for (i = 0; i < N_VALID; i++)
		tests[n++] = (struct CMUnitTest){ .name = valid_paths[i].name,
		    .test_func = run_valid,
		    .initial_state = (void *)&valid_paths[i] };
	for (i = 0; i < N_INVALID; i++)
		tests[n++] = (struct CMUnitTest){
		    .name = invalid_paths[i].name, .test_func = run_invalid,
		    .initial_state = (void *)&invalid_paths[i] };
	for (i = 0; i < N_FIXED; i++)
		tests[n++] = fixed_tests[i];
	return _cmocka_run_group_tests("smtp_addr", tests, n, NULL, NULL);
}
