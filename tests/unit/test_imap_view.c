/* test_imap_view: the pure selected-mailbox helpers: untagged updates
 * with EXPUNGE renumbering, flag lists and names, sequence-set
 * resolution, number-set output, dates and substring search. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "imap_view.h"

static void
msgs_set(struct mailbox_msg *m, const uint32_t *uids, const unsigned *fl,
    size_t n)
{
	size_t i;

	memset(m, 0, n * sizeof(*m));
	for (i = 0; i < n; i++) {
		m[i].uid = uids[i];
		m[i].flags = fl ? fl[i] : 0;
	}
}

static void
check_updates(const uint32_t *ou, const unsigned *of, size_t no,
    const uint32_t *nu, const unsigned *nf, size_t nn, const char *want)
{
	struct mailbox_msg o[16], c[16];
	struct buf out;
	const char *s;

	msgs_set(o, ou, of, no);
	msgs_set(c, nu, nf, nn);
	buf_init(&out, 4096);
	assert_true(imap_view_updates(o, no, c, nn, false, &out) >= 0);
	assert_int_equal(buf_cstr(&out, &s), 0);
	assert_string_equal(s, want);
	buf_deinit(&out);
}

static void
test_updates_expunge_renumbers(void **state)
{
	static const uint32_t o[] = { 1, 2, 3, 4, 5 };
	static const uint32_t n[] = { 1, 3, 5 };

	(void)state;
	/* 2 goes at position 2, then 4 (now at position 3). */
	check_updates(o, NULL, 5, n, NULL, 3,
	    "* 2 EXPUNGE\r\n* 3 EXPUNGE\r\n");
}

static void
test_updates_expunge_all_and_arrivals(void **state)
{
	static const uint32_t o[] = { 1, 2 };
	static const uint32_t n[] = { 7 };

	(void)state;
	check_updates(o, NULL, 2, n, NULL, 1,
	    "* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n* 1 EXISTS\r\n");
}

static void
test_updates_flags_and_exists(void **state)
{
	static const uint32_t o[] = { 1, 2, 3 };
	static const unsigned of[] = { 0, 0, MAILBOX_F_SEEN };
	static const uint32_t n[] = { 1, 3, 4 };
	static const unsigned nf[] = { MAILBOX_F_FLAGGED, MAILBOX_F_SEEN, 0 };

	(void)state;
	check_updates(o, of, 3, n, nf, 3,
	    "* 2 EXPUNGE\r\n* 3 EXISTS\r\n* 1 FETCH (FLAGS (\\Flagged))\r\n");
}

static void
test_updates_nothing(void **state)
{
	static const uint32_t o[] = { 4, 9 };

	(void)state;
	check_updates(o, NULL, 2, o, NULL, 2, "");
	check_updates(NULL, NULL, 0, NULL, NULL, 0, "");
}

static void
test_flags_append_and_bits(void **state)
{
	struct buf b;
	const char *s;
	struct imap_slice seen = { (const uint8_t *)"\\sEEn", 5 };
	struct imap_slice kw = { (const uint8_t *)"$Label1", 7 };
	struct imap_slice rec = { (const uint8_t *)"\\Recent", 7 };

	(void)state;
	buf_init(&b, 256);
	assert_int_equal(imap_flags_append(MAILBOX_F_SEEN | MAILBOX_F_DELETED |
	    MAILBOX_F_ANSWERED, &b), 0);
	assert_int_equal(buf_cstr(&b, &s), 0);
	assert_string_equal(s, "\\Answered \\Deleted \\Seen");
	buf_deinit(&b);
	assert_int_equal(imap_flag_bit(seen), MAILBOX_F_SEEN);
	assert_int_equal(imap_flag_bit(kw), 0);
	assert_int_equal(imap_flag_bit(rec), 0);
}

static void
test_seqset_select(void **state)
{
	struct mailbox_msg m[4];
	static const uint32_t uids[] = { 3, 5, 9, 20 };
	struct imap_seq_range r1[] = { { 2, 3 } };
	struct imap_seq_range r2[] = { { 6, IMAP_SEQ_STAR } };
	struct imap_seq_range r3[] = { { 100, IMAP_SEQ_STAR } };
	struct imap_seq_range r4[] = { { 4, 9 } };
	struct imap_seqset set;
	bool sel[4];

	(void)state;
	msgs_set(m, uids, NULL, 4);
	set.saved = false;
	set.ranges = r1;
	set.count = 1;
	assert_int_equal(imap_seqset_select(&set, false, m, 4, sel), 2);
	assert_true(sel[1] && sel[2] && !sel[0] && !sel[3]);
	set.ranges = r2;
	assert_int_equal(imap_seqset_select(&set, true, m, 4, sel), 2);
	assert_true(sel[2] && sel[3]);
	/* UID 100:* with largest UID 20 is 20:100 (RFC 9051 6.4.8) */
	set.ranges = r3;
	assert_int_equal(imap_seqset_select(&set, true, m, 4, sel), 1);
	assert_true(sel[3]);
	set.ranges = r4;
	assert_int_equal(imap_seqset_select(&set, true, m, 4, sel), 2);
	assert_int_equal(imap_seqset_select(&set, true, m, 0, sel), 0);
}

static void
test_numbers_append(void **state)
{
	static const uint32_t v[] = { 1, 2, 3, 5, 7, 8, 8, 10 };
	struct buf b;
	const char *s;

	(void)state;
	buf_init(&b, 256);
	assert_int_equal(imap_numbers_append(v, 8, &b), 0);
	assert_int_equal(buf_cstr(&b, &s), 0);
	assert_string_equal(s, "1:3,5,7:8,10");
	buf_deinit(&b);
}

static void
test_dates(void **state)
{
	struct buf b;
	const char *s;
	static const char d1[] = "Mon, 2 Mar 2026 10:00:00 +0000";
	static const char d2[] = "14 Nov 23 22:13:20 GMT";
	static const char d3[] = "garbage";

	(void)state;
	assert_int_equal(imap_days(1970, 1, 1), 0);
	assert_int_equal(imap_days(2000, 3, 1), 11017);
	buf_init(&b, 256);
	assert_int_equal(imap_date_append(1700000000, &b), 0);
	assert_int_equal(buf_cstr(&b, &s), 0);
	assert_string_equal(s, "\"14-Nov-2023 22:13:20 +0000\"");
	buf_deinit(&b);
	assert_int_equal(imap_rfc5322_day((const uint8_t *)d1, strlen(d1)),
	    imap_days(2026, 3, 2));
	assert_int_equal(imap_rfc5322_day((const uint8_t *)d2, strlen(d2)),
	    imap_days(2023, 11, 14));
	assert_int_equal(imap_rfc5322_day((const uint8_t *)d3, strlen(d3)),
	    -1);
}

static void
test_ci_contains(void **state)
{
	static const char hay[] = "The Quick brown FOX";

	(void)state;
	assert_true(imap_ci_contains((const uint8_t *)hay, strlen(hay),
	    (const uint8_t *)"quick", 5));
	assert_true(imap_ci_contains((const uint8_t *)hay, strlen(hay),
	    (const uint8_t *)"fox", 3));
	assert_false(imap_ci_contains((const uint8_t *)hay, strlen(hay),
	    (const uint8_t *)"foxes", 5));
	assert_true(imap_ci_contains((const uint8_t *)"", 0,
	    (const uint8_t *)"", 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_updates_expunge_renumbers),
		cmocka_unit_test(test_updates_expunge_all_and_arrivals),
		cmocka_unit_test(test_updates_flags_and_exists),
		cmocka_unit_test(test_updates_nothing),
		cmocka_unit_test(test_flags_append_and_bits),
		cmocka_unit_test(test_seqset_select),
		cmocka_unit_test(test_numbers_append),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_ci_contains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
