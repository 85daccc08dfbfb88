/* imap_view: pure helpers for the selected-mailbox view (see imap_view.h).
 * No I/O; unit tested in tests/unit/test_imap_view.c. */
#include "imap_view.h"

#include <string.h>

static const struct {
	unsigned	 bit;
	const char	*name;
} flag_names[] = {
	{ MAILBOX_F_ANSWERED, "\\Answered" },
	{ MAILBOX_F_FLAGGED, "\\Flagged" },
	{ MAILBOX_F_DELETED, "\\Deleted" },
	{ MAILBOX_F_SEEN, "\\Seen" },
	{ MAILBOX_F_DRAFT, "\\Draft" },
};

#define NFLAGS (sizeof(flag_names) / sizeof(flag_names[0]))

int
imap_flags_append(unsigned flags, struct buf *out)
{
	bool first = true;
	size_t i;

	for (i = 0; i < NFLAGS; i++) {
		if ((flags & flag_names[i].bit) == 0)
			continue;
		if ((!first && buf_append(out, " ", 1) < 0) ||
		    buf_append_str(out, flag_names[i].name) < 0)
			return -1;
		first = false;
	}
	return 0;
}

unsigned
imap_flag_bit(struct imap_slice s)
{
	size_t i;

	for (i = 0; i < NFLAGS; i++)
		if (imap_slice_ieq(s, flag_names[i].name))
			return flag_names[i].bit;
	return 0;
}

static int
fetch_flags(size_t seq, const struct mailbox_msg *m, bool with_uid,
    struct buf *out)
{
	if (buf_printf(out, "* %zu FETCH (", seq) < 0)
		return -1;
	if (with_uid && buf_printf(out, "UID %u ", m->uid) < 0)
		return -1;
	if (buf_append_str(out, "FLAGS (") < 0 ||
	    imap_flags_append(m->flags, out) < 0 ||
	    buf_append_str(out, "))\r\n") < 0)
		return -1;
	return 0;
}

int
imap_view_updates(const struct mailbox_msg *old, size_t nold,
    const struct mailbox_msg *cur, size_t ncur, bool with_uid,
    struct buf *out)
{
	size_t i, j, removed = 0, kept = 0;
	int n = 0;

	/* Expunges: walk old; a message missing from cur is expunged at
	 * its current position (earlier expunges shifted it down). */
	for (i = 0, j = 0; i < nold; i++) {
		while (j < ncur && cur[j].uid < old[i].uid)
			j++;
		if (j < ncur && cur[j].uid == old[i].uid) {
			kept++;
			continue;
		}
		if (buf_printf(out, "* %zu EXPUNGE\r\n", i + 1 - removed) < 0)
			return -1;
		removed++;
		n++;
	}
	/* cur = the kept ones (in order) then arrivals. */
	if (ncur != kept) {
		if (buf_printf(out, "* %zu EXISTS\r\n", ncur) < 0)
			return -1;
		n++;
	}
	for (i = 0, j = 0; i < nold && j < ncur; ) {
		if (old[i].uid < cur[j].uid) {
			i++;
			continue;
		}
		if (old[i].uid > cur[j].uid) {
			j++;
			continue;
		}
		if (old[i].flags != cur[j].flags) {
			if (fetch_flags(j + 1, &cur[j], with_uid, out) < 0)
				return -1;
			n++;
		}
		i++;
		j++;
	}
	return n;
}

size_t
imap_seqset_select(const struct imap_seqset *set, bool uid,
    const struct mailbox_msg *msgs, size_t n, bool *sel)
{
	size_t i, r, count = 0;

	memset(sel, 0, n * sizeof(*sel));
	if (n == 0)
		return 0;
	for (r = 0; r < set->count; r++) {
		uint64_t lo = set->ranges[r].lo, hi = set->ranges[r].hi;
		uint64_t last = uid ? msgs[n - 1].uid : n;

		if (lo == IMAP_SEQ_STAR)
			lo = last;
		if (hi == IMAP_SEQ_STAR)
			hi = last;
		if (lo > hi) {
			uint64_t t = lo;

			lo = hi;
			hi = t;
		}
		if (!uid) {
			if (lo > n)
				continue;
			if (hi > n)
				hi = n;
			for (i = (size_t)lo - 1; i < (size_t)hi; i++)
				sel[i] = true;
			continue;
		}
		for (i = 0; i < n; i++)
			if (msgs[i].uid >= lo && msgs[i].uid <= hi)
				sel[i] = true;
	}
	for (i = 0; i < n; i++)
		count += sel[i];
	return count;
}

int
imap_numbers_append(const uint32_t *v, size_t n, struct buf *out)
{
	size_t i = 0, j;
	bool first = true;

	while (i < n) {
		j = i;
		while (j + 1 < n && (v[j + 1] == v[j] || v[j + 1] == v[j] + 1))
			j++;
		if (!first && buf_append(out, ",", 1) < 0)
			return -1;
		first = false;
		if (v[j] != v[i]) {
			if (buf_printf(out, "%u:%u", v[i], v[j]) < 0)
				return -1;
		} else if (buf_printf(out, "%u", v[i]) < 0) {
			return -1;
		}
		i = j + 1;
	}
	return 0;
}

static const char *const months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
	"Nov", "Dec",
};

int
imap_date_append(time_t t, struct buf *out)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	return buf_printf(out, "\"%02d-%s-%04d %02d:%02d:%02d +0000\"",
	    tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

/* Days from civil (H. Hinnant's algorithm), proleptic Gregorian. */
int64_t
imap_days(int year, int month, int day)
{
	int64_t y = year - (month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = (month + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static bool
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* date-time = [ day-of-week "," ] day month year ... (RFC 5322 3.3);
 * only the date is read. */
int64_t
imap_rfc5322_day(const uint8_t *p, size_t len)
{
	size_t i = 0, k;
	int day = 0, month = 0, year = 0, nd;

	while (i < len && !is_digit(p[i]))
		i++;
	for (nd = 0; i < len && is_digit(p[i]) && nd < 2; i++, nd++)
		day = day * 10 + (p[i] - '0');
	if (nd == 0 || day < 1 || day > 31)
		return -1;
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '-'))
		i++;
	if (i + 3 > len)
		return -1;
	for (k = 0; k < 12; k++)
		if (imap_ci_contains(p + i, 3, (const uint8_t *)months[k], 3))
			month = (int)k + 1;
	if (month == 0)
		return -1;
	i += 3;
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '-'))
		i++;
	for (nd = 0; i < len && is_digit(p[i]) && nd < 4; i++, nd++)
		year = year * 10 + (p[i] - '0');
	if (nd == 2)
		year += year < 50 ? 2000 : 1900;	/* RFC 5322 4.3 */
	else if (nd == 3)
		year += 1900;
	else if (nd != 4)
		return -1;
	return imap_days(year, month, day);
}

static uint8_t
lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

bool
imap_ci_contains(const uint8_t *hay, size_t hlen, const uint8_t *needle,
    size_t nlen)
{
	size_t i, k;

	if (nlen == 0)
		return true;
	if (hlen < nlen)
		return false;
	for (i = 0; i + nlen <= hlen; i++) {
		if (lower(hay[i]) != lower(needle[0]))
			continue;
		for (k = 1; k < nlen; k++)
			if (lower(hay[i + k]) != lower(needle[k]))
				break;
		if (k == nlen)
			return true;
	}
	return false;
}
