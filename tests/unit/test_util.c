/* test_util: number parsing and string helpers (src/core/util.c), the
 * bounded buffer (src/core/buf.c) and log_escape() (src/core/log.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "log.h"
#include "util.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define KIB UINT64_C(1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)

enum num_kind { NUM_U64, NUM_SIZE, NUM_DURATION };

struct num_case {
	enum num_kind	 kind;
	const char	*in;
	uint64_t	 min, max;
	bool		 ok;
	uint64_t	 want;		/* when ok */
	const char	*error;		/* when !ok: expected error text */
};

static const struct num_case num_cases[] = {
	/* parse_u64: digits only, bounds inclusive, overflow caught. */
	{ .kind = NUM_U64, .in = "0", .max = 10, .ok = true, .want = 0 },
	{ .kind = NUM_U64, .in = "007", .max = 10, .ok = true, .want = 7 },
	{ .kind = NUM_U64, .in = "10", .min = 10, .max = 10, .ok = true,
	  .want = 10 },
	{ .kind = NUM_U64, .in = "9", .min = 10, .max = 20,
	  .error = "number too small" },
	{ .kind = NUM_U64, .in = "21", .min = 10, .max = 20,
	  .error = "number too large" },
	{ .kind = NUM_U64, .in = "18446744073709551615", .max = UINT64_MAX,
	  .ok = true, .want = UINT64_MAX },
	{ .kind = NUM_U64, .in = "18446744073709551616", .max = UINT64_MAX,
	  .error = "number too large" },
	{ .kind = NUM_U64, .in = "99999999999999999999999", .max = UINT64_MAX,
	  .error = "number too large" },
	{ .kind = NUM_U64, .in = "", .max = 10, .error = "empty number" },
	{ .kind = NUM_U64, .in = "-1", .max = 10, .error = "not a number" },
	{ .kind = NUM_U64, .in = "+1", .max = 10, .error = "not a number" },
	{ .kind = NUM_U64, .in = " 1", .max = 10, .error = "not a number" },
	{ .kind = NUM_U64, .in = "1 ", .max = 10, .error = "not a number" },
	{ .kind = NUM_U64, .in = "1k", .max = 10000, .error = "not a number" },
	{ .kind = NUM_U64, .in = "0x10", .max = 100, .error = "not a number" },

	/* parse_size: binary k/m/g suffixes; bounds apply after scaling. */
	{ .kind = NUM_SIZE, .in = "512", .max = GIB, .ok = true, .want = 512 },
	{ .kind = NUM_SIZE, .in = "1k", .max = GIB, .ok = true, .want = KIB },
	{ .kind = NUM_SIZE, .in = "1K", .max = GIB, .ok = true, .want = KIB },
	{ .kind = NUM_SIZE, .in = "50m", .max = GIB, .ok = true,
	  .want = 50 * MIB },
	{ .kind = NUM_SIZE, .in = "2G", .max = 4 * GIB, .ok = true,
	  .want = 2 * GIB },
	{ .kind = NUM_SIZE, .in = "0k", .max = GIB, .ok = true, .want = 0 },
	{ .kind = NUM_SIZE, .in = "1k", .min = KIB, .max = KIB, .ok = true,
	  .want = KIB },
	{ .kind = NUM_SIZE, .in = "1023", .min = KIB, .max = GIB,
	  .error = "number too small" },
	{ .kind = NUM_SIZE, .in = "2g", .max = 2 * GIB - 1,
	  .error = "number too large" },
	{ .kind = NUM_SIZE, .in = "17179869184G", .max = UINT64_MAX,
	  .error = "number too large" },	/* 2^64: overflows */
	{ .kind = NUM_SIZE, .in = "17179869183G", .max = UINT64_MAX,
	  .ok = true, .want = UINT64_C(17179869183) * GIB },
	{ .kind = NUM_SIZE, .in = "k", .max = GIB, .error = "not a number" },
	{ .kind = NUM_SIZE, .in = "1kb", .max = GIB, .error = "not a number" },
	{ .kind = NUM_SIZE, .in = "1t", .max = GIB, .error = "not a number" },
	{ .kind = NUM_SIZE, .in = "1 k", .max = GIB, .error = "not a number" },
	{ .kind = NUM_SIZE, .in = "", .max = GIB, .error = "empty number" },
	{ .kind = NUM_SIZE, .in = "000000000000000000000000000000001",
	  .max = GIB, .error = "number too long" },

	/* parse_duration: s/m/h/d, no suffix means seconds. */
	{ .kind = NUM_DURATION, .in = "30", .max = 86400, .ok = true,
	  .want = 30 },
	{ .kind = NUM_DURATION, .in = "30s", .max = 86400, .ok = true,
	  .want = 30 },
	{ .kind = NUM_DURATION, .in = "5m", .max = 86400, .ok = true,
	  .want = 300 },
	{ .kind = NUM_DURATION, .in = "2h", .max = 86400, .ok = true,
	  .want = 7200 },
	{ .kind = NUM_DURATION, .in = "1d", .max = 86400, .ok = true,
	  .want = 86400 },
	{ .kind = NUM_DURATION, .in = "2d", .max = 86400,
	  .error = "number too large" },
	{ .kind = NUM_DURATION, .in = "0s", .min = 1, .max = 86400,
	  .error = "number too small" },
	{ .kind = NUM_DURATION, .in = "1w", .max = 86400,
	  .error = "not a number" },
	{ .kind = NUM_DURATION, .in = "1M", .max = 86400,
	  .error = "not a number" },	/* suffixes are lower case */
	{ .kind = NUM_DURATION, .in = "s", .max = 86400,
	  .error = "not a number" },
	{ .kind = NUM_DURATION, .in = "213503982334602d", .max = UINT64_MAX,
	  .error = "number too large" },	/* * 86400 overflows */
};

static void
test_parse_numbers(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(num_cases); i++) {
		const struct num_case *c = &num_cases[i];
		uint64_t v = 12345;
		const char *error = NULL;
		int r;

		switch (c->kind) {
		case NUM_U64:
			r = parse_u64(c->in, c->min, c->max, &v, &error);
			break;
		case NUM_SIZE:
			r = parse_size(c->in, c->min, c->max, &v, &error);
			break;
		default:
			r = parse_duration(c->in, c->min, c->max, &v, &error);
			break;
		}
		if ((r == 0) != c->ok)
			print_error("case %zu \"%s\": r=%d error=%s\n", i,
			    c->in, r, error != NULL ? error : "-");
		if (c->ok) {
			assert_int_equal(r, 0);
			assert_int_equal(v, c->want);
		} else {
			assert_int_equal(r, -1);
			assert_non_null(error);
			assert_string_equal(error, c->error);
			assert_int_equal(v, 12345);	/* untouched */
		}
	}
}

static void
test_parse_bool(void **state)
{
	static const char *yes[] = { "yes", "YES", "true", "On", "1" };
	static const char *no[] = { "no", "False", "off", "0" };
	static const char *bad[] = { "", "y", "2", "yes ", "enable" };
	bool v;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(yes); i++) {
		v = false;
		assert_int_equal(parse_bool(yes[i], &v), 0);
		assert_true(v);
	}
	for (i = 0; i < NELEM(no); i++) {
		v = true;
		assert_int_equal(parse_bool(no[i], &v), 0);
		assert_false(v);
	}
	for (i = 0; i < NELEM(bad); i++)
		assert_int_equal(parse_bool(bad[i], &v), -1);
}

static void
test_strlcpy_strlcat(void **state)
{
	char dst[8];

	(void)state;
	assert_int_equal(moat_strlcpy(dst, "abc", sizeof(dst)), 3);
	assert_string_equal(dst, "abc");
	assert_int_equal(moat_strlcpy(dst, "abcdefghij", sizeof(dst)), 10);
	assert_string_equal(dst, "abcdefg");
	assert_int_equal(moat_strlcpy(dst, "x", 0), 1);
	assert_string_equal(dst, "abcdefg");	/* size 0 writes nothing */

	moat_strlcpy(dst, "ab", sizeof(dst));
	assert_int_equal(moat_strlcat(dst, "cd", sizeof(dst)), 4);
	assert_string_equal(dst, "abcd");
	assert_int_equal(moat_strlcat(dst, "efghij", sizeof(dst)), 10);
	assert_string_equal(dst, "abcdefg");
	/* dst not terminated within size: reports size + strlen(src). */
	memset(dst, 'z', sizeof(dst));
	assert_int_equal(moat_strlcat(dst, "abc", 4), 7);
}

static void
test_ascii(void **state)
{
	char s[] = "MiXeD-09_Z";

	(void)state;
	ascii_lower(s);
	assert_string_equal(s, "mixed-09_z");
	assert_true(ascii_ieq("EHLO", "ehlo"));
	assert_false(ascii_ieq("EHLO", "ehl"));
	assert_false(ascii_ieq("EHL", "ehlo"));
	assert_true(ascii_ieq("", ""));
	assert_false(ascii_ieq("\xc4", "\xe4"));	/* ASCII only */
	assert_true(ascii_nieq("MAIL FROM:", "mail from:<a@b>", 10));
	assert_false(ascii_nieq("MAIL FROM:", "mail to:", 10));
	assert_true(ascii_nieq("ab", "AB", 5));	/* stops at the NUL */
	assert_false(ascii_nieq("ab", "ABC", 5));
}

static void
test_buf_max(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_append(&b, "12345", 5), 0);
	assert_int_equal(buf_append(&b, "678", 3), 0);	/* exactly max */
	assert_int_equal(b.len, 8);
	assert_int_equal(buf_append(&b, "9", 1), -1);	/* one over */
	assert_int_equal(b.len, 8);
	assert_memory_equal(b.data, "12345678", 8);
	assert_int_equal(buf_append(&b, "", 0), 0);	/* empty is fine */
	assert_int_equal(buf_append_str(&b, "x"), -1);
	buf_consume(&b, 4);
	assert_int_equal(buf_append(&b, "abcde", 5), -1);	/* 9 > 8 */
	assert_int_equal(b.len, 4);
	assert_int_equal(buf_append_str(&b, "abcd"), 0);
	assert_memory_equal(b.data, "5678abcd", 8);
	buf_deinit(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);

	/* A huge n must not wrap around the max check. */
	buf_init(&b, 8);
	assert_int_equal(buf_append(&b, "a", 1), 0);
	assert_int_equal(buf_append(&b, "b", SIZE_MAX), -1);
	assert_int_equal(b.len, 1);
	buf_deinit(&b);
}

static void
test_buf_unlimited_growth(void **state)
{
	enum { CHUNK = 1000, ROUNDS = 300 };
	char chunk[CHUNK];
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, 0);		/* 0 = SIZE_MAX */
	assert_int_equal(b.max, SIZE_MAX);
	for (i = 0; i < ROUNDS; i++) {
		memset(chunk, 'a' + (int)(i % 26), sizeof(chunk));
		assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
	}
	assert_int_equal(b.len, CHUNK * ROUNDS);
	assert_true(b.cap > b.len);
	for (i = 0; i < ROUNDS; i++)
		assert_int_equal(b.data[i * CHUNK], 'a' + (int)(i % 26));
	buf_deinit(&b);
}

static void
test_buf_printf(void **state)
{
	struct buf b;
	const char *s;

	(void)state;
	buf_init(&b, 16);
	assert_int_equal(buf_printf(&b, "%d %s", 250, "OK"), 0);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, "250 OK", 6);
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_int_equal(b.len, 6);
	/* Up to exactly max: the NUL vsnprintf writes is not content. */
	assert_int_equal(buf_printf(&b, "%010u", 7u), 0);
	assert_int_equal(b.len, 16);
	assert_memory_equal(b.data, "250 OK0000000007", 16);
	/* Past max: -1 and nothing appended. */
	assert_int_equal(buf_printf(&b, "%c", 'x'), -1);
	assert_int_equal(b.len, 16);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_printf(&b, "%s", "this is longer than 16"), -1);
	assert_int_equal(b.len, 0);
	/* On a fresh, empty buffer. */
	buf_deinit(&b);
	buf_init(&b, 4);
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_int_equal(buf_cstr(&b, &s), 0);
	assert_string_equal(s, "");
	/* Long output grows the buffer. */
	buf_deinit(&b);
	buf_init(&b, 0);
	assert_int_equal(buf_printf(&b, "%600d|", 1), 0);
	assert_int_equal(b.len, 601);
	assert_int_equal(b.data[599], '1');
	buf_deinit(&b);
}

/* Appends that end exactly at the allocated capacity still leave room
 * for the NUL that buf_printf and buf_cstr write. */
static void
test_buf_nul_room(void **state)
{
	struct buf b;
	const char *s;
	char fill[512];
	size_t n;

	(void)state;
	memset(fill, 'f', sizeof(fill));
	for (n = 250; n <= 260; n++) {
		buf_init(&b, 0);
		assert_int_equal(buf_append(&b, fill, n), 0);
		assert_int_equal(buf_printf(&b, "%s", "xyz"), 0);
		assert_int_equal(b.len, n + 3);
		assert_true(b.cap > b.len);
		assert_int_equal(buf_cstr(&b, &s), 0);
		assert_int_equal(strlen(s), n + 3);
		buf_deinit(&b);
	}
}

static void
test_buf_insert(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 14);
	assert_int_equal(buf_append_str(&b, "Recv\nBody"), 0);
	assert_int_equal(buf_insert(&b, 5, "X: 1\n", 5), 0);
	assert_int_equal(b.len, 14);
	assert_memory_equal(b.data, "Recv\nX: 1\nBody", 14);
	/* At the ends, past the end, past max: nothing changes. */
	buf_reset(&b);
	assert_int_equal(buf_append_str(&b, "bc"), 0);
	assert_int_equal(buf_insert(&b, 0, "a", 1), 0);
	assert_int_equal(buf_insert(&b, 3, "d", 1), 0);
	assert_memory_equal(b.data, "abcd", 4);
	assert_int_equal(buf_insert(&b, 5, "e", 1), -1);
	assert_int_equal(buf_insert(&b, 1, "12345678901", 11), -1);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "abcd", 4);
	buf_deinit(&b);
}

static void
test_buf_consume(void **state)
{
	struct buf b;
	const char *s;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_append_str(&b, "EHLO a\r\nMAIL\r\n"), 0);
	buf_consume(&b, 0);
	assert_int_equal(b.len, 14);
	buf_consume(&b, 8);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, "MAIL\r\n", 6);
	assert_int_equal(buf_cstr(&b, &s), 0);
	assert_string_equal(s, "MAIL\r\n");
	assert_int_equal(b.len, 6);		/* NUL not counted */
	buf_consume(&b, 6);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_append_str(&b, "x"), 0);
	buf_consume(&b, 100);			/* more than len */
	assert_int_equal(b.len, 0);
	buf_deinit(&b);

	/* buf_cstr on a full buffer fails: the NUL would be past max. */
	buf_init(&b, 3);
	assert_int_equal(buf_append_str(&b, "abc"), 0);
	assert_int_equal(buf_cstr(&b, &s), -1);
	buf_consume(&b, 1);
	assert_int_equal(buf_cstr(&b, &s), 0);
	assert_string_equal(s, "bc");
	buf_deinit(&b);
}

struct esc_case {
	const char	*in;
	size_t		 in_len;
	size_t		 dstlen;
	const char	*want;
};

#define ESC(s) .in = (s), .in_len = sizeof(s) - 1

static const struct esc_case esc_cases[] = {
	{ ESC("hello"), .dstlen = 64, .want = "hello" },
	{ ESC(""), .dstlen = 64, .want = "" },
	{ ESC("a\r\nb"), .dstlen = 64, .want = "a\\x0d\\x0ab" },
	{ ESC("nul\0x"), .dstlen = 64, .want = "nul\\x00x" },
	{ ESC("back\\slash"), .dstlen = 64, .want = "back\\x5cslash" },
	{ ESC("\x7f\x80\xff"), .dstlen = 64, .want = "\\x7f\\x80\\xff" },
	{ ESC("%s%n"), .dstlen = 64, .want = "%s%n" },
	/* Fits exactly (11 chars + NUL in 12): no truncation. */
	{ ESC("hello world"), .dstlen = 12, .want = "hello world" },
	{ ESC("a\x01"), .dstlen = 6, .want = "a\\x01" },
	/* Does not fit: truncated with a marker, never past dstlen. */
	{ ESC("hello world"), .dstlen = 11, .want = "hel..." },
	{ ESC("0123456789abcdefghij"), .dstlen = 16, .want = "01234567..." },
	{ ESC("\x01\x02\x03\x04\x05"), .dstlen = 16, .want = "\\x01\\x02..." },
	{ ESC("abcdef"), .dstlen = 4, .want = "..." },
	{ ESC("abcdef"), .dstlen = 3, .want = "" },
	{ ESC("abcdef"), .dstlen = 1, .want = "" },
};

static void
test_log_escape(void **state)
{
	char dst[LOG_ESC_MAX + 8];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(esc_cases); i++) {
		const struct esc_case *c = &esc_cases[i];

		memset(dst, '#', sizeof(dst));
		assert_ptr_equal(log_escape(dst, c->dstlen, c->in, c->in_len),
		    dst);
		if (strcmp(dst, c->want) != 0)
			print_error("case %zu: got \"%s\" want \"%s\"\n", i,
			    dst, c->want);
		assert_string_equal(dst, c->want);
		assert_true(strlen(dst) < c->dstlen);
		assert_int_equal(dst[c->dstlen], '#');	/* no overrun */
	}
	/* dstlen 0 writes nothing. */
	dst[0] = '#';
	log_escape(dst, 0, "abc", 3);
	assert_int_equal(dst[0], '#');
}

/* Every length of hostile input into every small size stays in bounds
 * and is always NUL-terminated. */
static void
test_log_escape_bounds(void **state)
{
	uint8_t in[300];
	char dst[LOG_ESC_MAX + 1];
	size_t i, len, dstlen;

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37);
	for (dstlen = 1; dstlen <= 40; dstlen++) {
		for (len = 0; len <= 64; len++) {
			memset(dst, '#', sizeof(dst));
			log_escape(dst, dstlen, in, len);
			assert_true(strlen(dst) < dstlen);
			assert_int_equal(dst[dstlen], '#');
		}
	}
	log_escape(dst, LOG_ESC_MAX, in, sizeof(in));
	assert_true(strlen(dst) < LOG_ESC_MAX);
	assert_memory_equal(dst + strlen(dst) - 3, "...", 3);
}

static bool
count_item(void *ctx, const char *item, size_t len)
{
	(void)item;
	(void)len;
	(*(int *)ctx)++;
	return false;
}

static void
test_conf_list(void **state)
{
	int n = 0;

	(void)state;
	assert_true(conf_list_has("a@x.example, B@Y.example,c", "b@y.EXAMPLE",
	    false));
	assert_true(conf_list_has("a,\tc ", "c", false));
	assert_false(conf_list_has("ab, c", "a", false));
	assert_false(conf_list_has("", "a", false));
	assert_false(conf_list_has("x, y", "anything", false));
	assert_true(conf_list_has("x, *", "anything", true));
	assert_false(conf_list_has("x, *", "anything", false));
	(void)conf_list_each(" , a,,b ,", count_item, &n);
	assert_int_equal(n, 2);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_list),
		cmocka_unit_test(test_parse_numbers),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_strlcpy_strlcat),
		cmocka_unit_test(test_ascii),
		cmocka_unit_test(test_buf_max),
		cmocka_unit_test(test_buf_unlimited_growth),
		cmocka_unit_test(test_buf_printf),
		cmocka_unit_test(test_buf_nul_room),
		cmocka_unit_test(test_buf_insert),
		cmocka_unit_test(test_buf_consume),
		cmocka_unit_test(test_log_escape),
		cmocka_unit_test(test_log_escape_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
