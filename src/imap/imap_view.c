/* imap_view: pure helpers for the selected-mailbox view (see imap_view.h).
 * No I/O; unit tested in tests/unit/test_imap_view.c. */
#include "imap_view.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

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

int
imap_msg_flags_append(const struct mailbox_msg *m, struct buf *out)
{
	if (imap_flags_append(m->flags, out) < 0)
		return -1;
	if (m->keywords == NULL || m->keywords[0] == '\0')
		return 0;
	if (m->flags != 0 && buf_append(out, " ", 1) < 0)
		return -1;
	return buf_append_str(out, m->keywords);
}

/* The next keyword of a space-separated list at *pos. */
static bool
kw_next(const char *kws, size_t *pos, struct imap_slice *kw)
{
	size_t i = *pos, start;

	if (kws == NULL)
		return false;
	while (kws[i] == ' ')
		i++;
	if (kws[i] == '\0')
		return false;
	start = i;
	while (kws[i] != '\0' && kws[i] != ' ')
		i++;
	kw->p = (const uint8_t *)kws + start;
	kw->len = i - start;
	*pos = i;
	return true;
}

static bool
slice_ieq2(struct imap_slice a, struct imap_slice b)
{
	size_t i;

	if (a.len != b.len)
		return false;
	for (i = 0; i < a.len; i++) {
		uint8_t x = a.p[i], y = b.p[i];

		if (x >= 'A' && x <= 'Z')
			x = (uint8_t)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (uint8_t)(y + 32);
		if (x != y)
			return false;
	}
	return true;
}

bool
imap_keyword_has(const char *kws, struct imap_slice kw)
{
	struct imap_slice k;
	size_t pos = 0;

	while (kw_next(kws, &pos, &k))
		if (slice_ieq2(k, kw))
			return true;
	return false;
}

bool
imap_is_keyword(struct imap_slice f)
{
	return f.len > 0 && f.p[0] != '\\';
}

char *
imap_keywords_apply(const char *cur, int op, const struct imap_flags *fl)
{
	struct buf out;
	struct imap_slice k;
	size_t pos = 0, i;
	char *r;

	buf_init(&out, MAILBOX_KEYWORDS_LEN_MAX + 1);
	/* 0 set, 1 add, 2 remove (enum imap_store_op order). */
	if (op != 0) {
		while (kw_next(cur, &pos, &k)) {
			bool drop = false;

			for (i = 0; op == 2 && i < fl->count; i++)
				if (slice_ieq2(k, fl->flags[i]))
					drop = true;
			if (drop)
				continue;
			if ((out.len > 0 && buf_append(&out, " ", 1) < 0) ||
			    buf_append(&out, k.p, k.len) < 0)
				goto full;
		}
	}
	for (i = 0; op != 2 && i < fl->count; i++) {
		const char *have;

		if (!imap_is_keyword(fl->flags[i]))
			continue;
		if (buf_cstr(&out, &have) < 0)
			goto full;
		if (imap_keyword_has(have, fl->flags[i]))
			continue;
		if ((out.len > 0 && buf_append(&out, " ", 1) < 0) ||
		    buf_append(&out, fl->flags[i].p, fl->flags[i].len) < 0)
			goto full;
	}
	r = xmalloc(out.len + 1);
	if (out.len > 0)
		memcpy(r, out.data, out.len);
	r[out.len] = '\0';
	buf_deinit(&out);
	return r;
full:
	buf_deinit(&out);
	return NULL;
}

int
imap_keywords_union(const struct mailbox_msg *msgs, size_t n,
    struct buf *out)
{
	struct imap_slice k;
	size_t i, pos;
	const char *have;

	for (i = 0; i < n; i++) {
		pos = 0;
		while (kw_next(msgs[i].keywords, &pos, &k)) {
			if (buf_cstr(out, &have) < 0)
				return -1;
			if (imap_keyword_has(have, k))
				continue;
			if ((out->len > 0 && buf_append(out, " ", 1) < 0) ||
			    buf_append(out, k.p, k.len) < 0)
				return -1;
		}
	}
	return 0;
}

static int
fetch_flags(size_t seq, const struct mailbox_msg *m, unsigned opts,
    struct buf *out)
{
	if (buf_printf(out, "* %zu FETCH (", seq) < 0)
		return -1;
	if ((opts & IMAP_VIEW_UID) && buf_printf(out, "UID %u ", m->uid) < 0)
		return -1;
	if ((opts & IMAP_VIEW_MODSEQ) && buf_printf(out, "MODSEQ (%llu) ",
	    (unsigned long long)m->modseq) < 0)
		return -1;
	if (buf_append_str(out, "FLAGS (") < 0 ||
	    imap_msg_flags_append(m, out) < 0 ||
	    buf_append_str(out, "))\r\n") < 0)
		return -1;
	return 0;
}

static bool
msg_changed(const struct mailbox_msg *a, const struct mailbox_msg *b,
    unsigned opts)
{
	if (a->flags != b->flags)
		return true;
	if ((opts & IMAP_VIEW_MODSEQ) && a->modseq != b->modseq)
		return true;
	return strcmp(a->keywords ? a->keywords : "",
	    b->keywords ? b->keywords : "") != 0;
}

int
imap_view_updates(const struct mailbox_msg *old, size_t nold,
    const struct mailbox_msg *cur, size_t ncur, unsigned opts,
    struct buf *out)
{
	size_t i, j, removed = 0, kept = 0, nv = 0;
	uint32_t *vanished = NULL;
	int n = 0;

	if (opts & IMAP_VIEW_VANISHED)
		vanished = xcalloc(nold ? nold : 1, sizeof(*vanished));

	/* Expunges: walk old; a message missing from cur is expunged at
	 * its current position (earlier expunges shifted it down). */
	for (i = 0, j = 0; i < nold; i++) {
		while (j < ncur && cur[j].uid < old[i].uid)
			j++;
		if (j < ncur && cur[j].uid == old[i].uid) {
			kept++;
			continue;
		}
		if (vanished != NULL) {
			vanished[nv++] = old[i].uid;
			continue;
		}
		if (buf_printf(out, "* %zu EXPUNGE\r\n", i + 1 - removed) < 0)
			return -1;
		removed++;
		n++;
	}
	if (nv > 0) {
		/* RFC 7162 3.2.10: one VANISHED for all of them. */
		if (buf_append_str(out, "* VANISHED ") < 0 ||
		    imap_numbers_append(vanished, nv, out) < 0 ||
		    buf_append_str(out, "\r\n") < 0) {
			free(vanished);
			return -1;
		}
		n++;
	}
	free(vanished);
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
		if (msg_changed(&old[i], &cur[j], opts)) {
			if (fetch_flags(j + 1, &cur[j], opts, out) < 0)
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

bool
imap_seqset_has(const struct imap_seqset *set, uint64_t v, uint64_t last)
{
	size_t i;

	for (i = 0; i < set->count; i++) {
		uint64_t lo = set->ranges[i].lo, hi = set->ranges[i].hi;

		if (lo == IMAP_SEQ_STAR)
			lo = last;
		if (hi == IMAP_SEQ_STAR)
			hi = last;
		if (lo > hi) {
			uint64_t t = lo;

			lo = hi;
			hi = t;
		}
		if (v >= lo && v <= hi)
			return true;
	}
	return false;
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
