/* test_imap_sort: the pure SORT/THREAD helpers: base subject extraction
 * (RFC 5256 2.1), sent dates, sort order with REVERSE and ties, and the
 * ORDEREDSUBJECT and REFERENCES threading algorithms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "imap_sort.h"
#include "imap_view.h"

static void
check_base(const char *in, const char *want, bool want_reply)
{
	struct buf out;
	const char *s;
	bool reply;

	buf_init(&out, 4096);
	assert_int_equal(imap_base_subject(in, &out, &reply), 0);
	assert_int_equal(buf_cstr(&out, &s), 0);
	assert_string_equal(s, want);
	assert_int_equal(reply, want_reply);
	buf_deinit(&out);
}

static void
test_base_subject(void **state)
{
	(void)state;
	check_base("Hello", "Hello", false);
	check_base("Re: Hello", "Hello", true);
	check_base("RE:  re: Fwd: Hello  ", "Hello", true);
	check_base("Re[2]: Hello", "Hello", true);
	check_base("[list] Re: Hello (fwd)", "Hello", true);
	check_base("[Fwd: Re: Hello]", "Hello", true);
	check_base("Hello\t  world", "Hello world", false);
	check_base("[only-a-blob]", "[only-a-blob]", false);
	check_base("", "", false);
	check_base("Re:", "", true);
	check_base("Fw: x", "x", true);
	check_base("Reply to this", "Reply to this", false);
}

static void
test_sort_date(void **state)
{
	(void)state;
	assert_int_equal(imap_sort_date("Thu, 1 Jan 1970 00:00:00 +0000"), 0);
	assert_int_equal(imap_sort_date("1 Jan 1970 01:00:00 +0100"), 0);
	assert_int_equal(imap_sort_date("Mon, 2 Mar 2026 10:00 -0030"),
	    imap_sort_date("Mon, 2 Mar 2026 10:30:00 +0000"));
	assert_int_equal(imap_sort_date("garbage"), -1);
	assert_int_equal(imap_sort_date("32 Jan 2000 00:00:00 +0000"), -1);
}

#define M(nm, sq, dt, sz, subj, rep, fr, id, rf) \
	{ .num = (nm), .seq = (sq), .arrival = (sq), .date = (dt), \
	  .size = (sz), .subject = (subj), .reply = (rep), .from = (fr), \
	  .to = "", .cc = "", .msgid = (id), .refs = (rf) }

static void
test_sort_order(void **state)
{
	struct imap_sort_msg m[] = {
		M(1, 1, 30, 100, "b", false, "zed", NULL, NULL),
		M(2, 2, 10, 300, "A", false, "amy", NULL, NULL),
		M(3, 3, 20, 200, "a", true, "Bob", NULL, NULL),
		M(4, 4, 10, 300, "c", false, "", NULL, NULL),
	};
	struct imap_sort_criterion subj[] = { { IMAP_SORT_SUBJECT, false } };
	struct imap_sort_criterion rsize[] = { { IMAP_SORT_SIZE, true } };
	struct imap_sort_criterion date[] = { { IMAP_SORT_DATE, false } };
	struct imap_sort_criterion from[] = { { IMAP_SORT_FROM, false } };
	uint32_t got[4];
	size_t i;

	(void)state;
	imap_sort_msgs(m, 4, subj, 1);
	for (i = 0; i < 4; i++)
		got[i] = m[i].num;
	assert_memory_equal(got, ((uint32_t[]){ 2, 3, 1, 4 }), sizeof(got));
	imap_sort_msgs(m, 4, rsize, 1);
	for (i = 0; i < 4; i++)
		got[i] = m[i].num;
	/* REVERSE applies to the key only; ties stay in sequence order */
	assert_memory_equal(got, ((uint32_t[]){ 2, 4, 3, 1 }), sizeof(got));
	imap_sort_msgs(m, 4, date, 1);
	for (i = 0; i < 4; i++)
		got[i] = m[i].num;
	assert_memory_equal(got, ((uint32_t[]){ 2, 4, 3, 1 }), sizeof(got));
	imap_sort_msgs(m, 4, from, 1);
	for (i = 0; i < 4; i++)
		got[i] = m[i].num;
	assert_memory_equal(got, ((uint32_t[]){ 4, 2, 3, 1 }), sizeof(got));
}

static void
check_thread(const struct imap_sort_msg *m, size_t n, bool refs,
    const char *want)
{
	struct imap_sort_msg copy[16];
	struct buf out;
	const char *s;

	memcpy(copy, m, n * sizeof(*m));
	buf_init(&out, 4096);
	if (refs)
		assert_int_equal(imap_thread_references(copy, n, &out), 0);
	else
		assert_int_equal(imap_thread_orderedsubject(copy, n, &out), 0);
	assert_int_equal(buf_cstr(&out, &s), 0);
	assert_string_equal(s, want);
	buf_deinit(&out);
}

static void
test_thread_references(void **state)
{
	/* 1 <- 2 <- 3, 4 replies to 1; 5 alone; 6 refers to a missing
	 * parent that 7 shares (a dummy root with two children); 8 is a
	 * "Re:" of 5's subject without references */
	struct imap_sort_msg m[] = {
		M(1, 1, 10, 1, "Plan", false, "", "<a@x>", NULL),
		M(2, 2, 20, 1, "Plan", true, "", "<b@x>", "<a@x>"),
		M(3, 3, 30, 1, "Plan", true, "", "<c@x>", "<a@x> <b@x>"),
		M(4, 4, 25, 1, "Plan", true, "", "<d@x>", "<a@x>"),
		M(5, 5, 40, 1, "Lunch", false, "", "<e@x>", NULL),
		M(6, 6, 50, 1, "Other", true, "", "<f@x>", "<gone@x>"),
		M(7, 7, 60, 1, "Other", true, "", "<g@x>", "<gone@x>"),
		M(8, 8, 70, 1, "Lunch", true, "", "<h@x>", NULL),
	};

	(void)state;
	check_thread(m, 3, true, "(1 2 3)");
	check_thread(m, 4, true, "(1 (2 3)(4))");
	check_thread(m, 8, true, "(1 (2 3)(4))(5 8)((6)(7))");
	/* no message IDs at all: one thread per message, by date */
	{
		struct imap_sort_msg z[] = {
			M(1, 1, 20, 1, "x", false, "", NULL, NULL),
			M(2, 2, 10, 1, "y", false, "", NULL, NULL),
		};

		check_thread(z, 2, true, "(2)(1)");
	}
	/* loops in References do not hang or link a message to itself */
	{
		struct imap_sort_msg z[] = {
			M(1, 1, 10, 1, "p", false, "", "<a@x>", "<b@x>"),
			M(2, 2, 20, 1, "q", false, "", "<b@x>", "<a@x>"),
		};
		struct buf out;

		buf_init(&out, 4096);
		assert_int_equal(imap_thread_references(z, 2, &out), 0);
		buf_deinit(&out);
	}
}

static void
test_thread_orderedsubject(void **state)
{
	struct imap_sort_msg m[] = {
		M(1, 1, 10, 1, "Plan", false, "", NULL, NULL),
		M(2, 2, 20, 1, "Lunch", false, "", NULL, NULL),
		M(3, 3, 30, 1, "Plan", true, "", NULL, NULL),
		M(4, 4, 40, 1, "Plan", true, "", NULL, NULL),
		M(5, 5, 50, 1, "Lunch", true, "", NULL, NULL),
	};

	(void)state;
	check_thread(m, 5, false, "(1 (3)(4))(2 5)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_subject),
		cmocka_unit_test(test_sort_date),
		cmocka_unit_test(test_sort_order),
		cmocka_unit_test(test_thread_references),
		cmocka_unit_test(test_thread_orderedsubject),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
